//! Where two JSON documents differ, as JSON pointers with both values: what a test comparing a
//! committed document with a generated one prints instead of "not equal".

use std::fmt::Write;

use serde_json::Value;

/// One place where the documents differ; `None` is a value absent on that side.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// JSON pointer to the place.
    pub pointer: String,
    /// The left document's value there.
    pub left: Option<Value>,
    /// The right document's value there.
    pub right: Option<Value>,
}

/// Every difference, depth first, objects compared by key (their order does not matter) and
/// arrays by index.
pub fn diff(left: &Value, right: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(left, right, String::new(), &mut out);
    out
}

fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn walk(left: &Value, right: &Value, pointer: String, out: &mut Vec<Difference>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for (key, lv) in l {
                let at = format!("{pointer}/{}", token(key));
                match r.get(key) {
                    Some(rv) => walk(lv, rv, at, out),
                    None => out.push(Difference {
                        pointer: at,
                        left: Some(lv.clone()),
                        right: None,
                    }),
                }
            }
            for (key, rv) in r.iter().filter(|(key, _)| !l.contains_key(*key)) {
                out.push(Difference {
                    pointer: format!("{pointer}/{}", token(key)),
                    left: None,
                    right: Some(rv.clone()),
                });
            }
        }
        (Value::Array(l), Value::Array(r)) => {
            for i in 0..l.len().max(r.len()) {
                let at = format!("{pointer}/{i}");
                match (l.get(i), r.get(i)) {
                    (Some(lv), Some(rv)) => walk(lv, rv, at, out),
                    (lv, rv) => out.push(Difference {
                        pointer: at,
                        left: lv.cloned(),
                        right: rv.cloned(),
                    }),
                }
            }
        }
        _ if left == right => {}
        _ => out.push(Difference {
            pointer,
            left: Some(left.clone()),
            right: Some(right.clone()),
        }),
    }
}

/// Values longer than this are cut in a report.
const VALUE_CHARS: usize = 240;

fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_owned();
    };
    let text = value.to_string();
    if text.chars().count() <= VALUE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(VALUE_CHARS).collect();
    format!("{cut}... ({} characters)", text.chars().count())
}

/// The first `limit` differences, three lines each: the pointer, then each side's value under
/// its name.
pub fn report(
    differences: &[Difference],
    left_name: &str,
    right_name: &str,
    limit: usize,
) -> String {
    let width = left_name.len().max(right_name.len());
    let mut out = String::new();
    for difference in differences.iter().take(limit) {
        let pointer = if difference.pointer.is_empty() {
            "(the whole document)"
        } else {
            &difference.pointer
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{pointer}");
        let _ = writeln!(
            out,
            "  {left_name:width$}: {}",
            shown(difference.left.as_ref())
        );
        let _ = writeln!(
            out,
            "  {right_name:width$}: {}",
            shown(difference.right.as_ref())
        );
    }
    if differences.len() > limit {
        let _ = writeln!(
            out,
            "... and {} more differences",
            differences.len() - limit
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_documents_differ_nowhere_whatever_their_key_order() {
        let left = json!({ "a": 1, "b": [1, { "c": null }] });
        let right = json!({ "b": [1, { "c": null }], "a": 1 });
        assert_eq!(diff(&left, &right), vec![]);
    }

    #[test]
    fn each_difference_is_a_pointer_with_both_values() {
        let left =
            json!({ "paths": { "/a/b": { "summary": "Old" } }, "gone": true, "list": [1, 2] });
        let right = json!({ "paths": { "/a/b": { "summary": "New" } }, "new~key": 1, "list": [1] });
        let expected = vec![
            Difference {
                pointer: "/paths/~1a~1b/summary".into(),
                left: Some(json!("Old")),
                right: Some(json!("New")),
            },
            Difference {
                pointer: "/gone".into(),
                left: Some(json!(true)),
                right: None,
            },
            Difference {
                pointer: "/list/1".into(),
                left: Some(json!(2)),
                right: None,
            },
            Difference {
                pointer: "/new~0key".into(),
                left: None,
                right: Some(json!(1)),
            },
        ];
        assert_eq!(diff(&left, &right), expected);
    }

    #[test]
    fn a_value_of_another_type_is_one_difference() {
        let found = diff(&json!({ "a": { "b": 1 } }), &json!({ "a": [1] }));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pointer, "/a");
    }

    #[test]
    fn the_report_names_both_sides_and_cuts_what_is_long() {
        let differences = diff(
            &json!({ "a": "x".repeat(500), "b": 1, "c": 1 }),
            &json!({ "a": "y", "b": 2, "c": 2 }),
        );
        let text = report(&differences, "committed", "generated", 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "/a");
        assert!(lines[1].starts_with("  committed: \"xxx"));
        assert!(lines[1].ends_with("... (502 characters)"));
        assert_eq!(lines[2], "  generated: \"y\"");
        assert_eq!(lines[3], "/b");
        assert_eq!(lines[6], "... and 1 more differences");
    }
}
