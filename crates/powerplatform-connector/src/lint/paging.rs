//! The lint's paging rules: a pageable operation names its next link `nextLink` or
//! `@odata.nextLink`, answers it (hidden from flow makers), and is named by an `updatenextlink`
//! policy of `apiProperties.json`, without which the gateway hands flows the backend's own link.

use serde_json::{Map, Value};

use super::{Document, Linter, Op, Rule, child, is_internal, str_of};

/// The next-link names the certification validator accepts.
const NEXT_LINK_NAMES: [&str; 2] = ["nextLink", "@odata.nextLink"];

/// The policy template that rewrites a backend's next link into one through the gateway.
pub(crate) const UPDATE_NEXT_LINK: &str = "updatenextlink";
/// The `updatenextlink` parameter naming the next-link property.
pub(crate) const NEXT_LINK_PROPERTY: &str = "x-ms-apimTemplateParameter.nextLinkPropertyName";
/// The policy template parameter listing the operations a policy applies to.
pub(crate) const OPERATION_NAMES: &str = "x-ms-apimTemplate-operationName";

/// An operation's `x-ms-pageable.nextLinkName`, when it is pageable.
fn next_link_name<'v>(op: &Op<'v>) -> Option<&'v Value> {
    op.obj.get("x-ms-pageable").map(|p| &p["nextLinkName"])
}

impl<'a> Linter<'a> {
    /// A pageable operation's next link: an accepted name, present in its 2xx answer, internal.
    pub(super) fn pageable(&mut self, op: &Op<'a>) {
        let Some(name) = next_link_name(op) else {
            return;
        };
        let loc = child(&child(&op.loc, "x-ms-pageable"), "nextLinkName");
        let Some(name) = name.as_str() else {
            self.report(
                loc,
                Rule::PageableNextLinkName,
                "x-ms-pageable needs a nextLinkName: nextLink or @odata.nextLink",
            );
            return;
        };
        if !NEXT_LINK_NAMES.contains(&name) {
            self.report(
                &loc,
                Rule::PageableNextLinkName,
                format!("nextLinkName `{name}` is refused; use nextLink or @odata.nextLink"),
            );
        }
        let Some(answer) = self.answer(op) else {
            self.report(
                child(&op.loc, "responses"),
                Rule::PageableNextLinkMissing,
                format!("a pageable operation needs a 2xx response whose schema has `{name}`"),
            );
            return;
        };
        // A name, not a path: `@odata.nextLink` is one property.
        let (answer, at) = self.deref_schema(answer, child(&op.loc, "responses"));
        let found = self.property(answer, &at, name);
        match found {
            None => self.report(
                at,
                Rule::PageableNextLinkMissing,
                format!("the 2xx answer of a pageable operation has no `{name}` property"),
            ),
            Some((property, at)) => {
                if !property.as_object().is_some_and(is_internal) {
                    self.report(
                        at,
                        Rule::PageableNextLinkInternal,
                        format!("`{name}` is for the gateway, not flow makers: mark it `x-ms-visibility: internal`"),
                    );
                }
            }
        }
    }

    /// The property `name` of an object schema (or of one of its `allOf` parts), with its
    /// location.
    fn property(&self, schema: &'a Value, loc: &str, name: &str) -> Option<(&'a Value, String)> {
        if let Some(property) = schema.get("properties").and_then(|p| p.get(name)) {
            return Some((property, child(&child(loc, "properties"), name)));
        }
        let parts = schema.get("allOf").and_then(Value::as_array)?;
        parts.iter().enumerate().find_map(|(i, part)| {
            let (part, at) = self.deref_schema(part, child(&child(loc, "allOf"), &i.to_string()));
            self.property(part, &at, name)
        })
    }

    /// The policy templates of `apiProperties.json` name existing operations, and every
    /// pageable operation is named by an `updatenextlink` policy with its next-link name.
    pub(super) fn policies(&mut self, properties: &'a Map<String, Value>, ops: &[Op<'a>]) {
        let loc = "/properties/policyTemplateInstances";
        let policies: &[Value] = properties
            .get("properties")
            .and_then(|p| p.get("policyTemplateInstances"))
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice);
        let known = |id: &str| {
            ops.iter()
                .any(|op| str_of(op.obj, "operationId") == Some(id))
        };
        for (i, policy) in policies.iter().enumerate() {
            let names = policy["parameters"][OPERATION_NAMES].as_array();
            for (j, name) in names.into_iter().flatten().enumerate() {
                if !name.as_str().is_some_and(known) {
                    let at = format!("{loc}/{i}/parameters/{OPERATION_NAMES}/{j}");
                    self.report_in(
                        Document::ApiProperties,
                        at,
                        Rule::PolicyOperation,
                        format!("names {name}, which is not an operation of the definition"),
                    );
                }
            }
        }
        for op in ops {
            let Some(name) = next_link_name(op).and_then(Value::as_str) else {
                continue;
            };
            let id = str_of(op.obj, "operationId").unwrap_or_default();
            let covered = policies.iter().any(|policy| {
                let parameters = &policy["parameters"];
                // A policy without operation names applies to every operation.
                let applies = match parameters[OPERATION_NAMES].as_array() {
                    None => true,
                    Some(names) => names.iter().any(|n| n == id),
                };
                policy["templateId"] == UPDATE_NEXT_LINK
                    && parameters[NEXT_LINK_PROPERTY] == name
                    && applies
            });
            if !covered {
                self.report(
                    child(&op.loc, "x-ms-pageable"),
                    Rule::PageablePolicy,
                    format!(
                        "no `{UPDATE_NEXT_LINK}` policy in apiProperties.json names `{id}` with nextLinkPropertyName `{name}`"
                    ),
                );
            }
        }
    }
}
