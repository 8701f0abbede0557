//! Ingest: what each format accepts, every refusal with its code and line, type inference,
//! and a load into the item store.

use super::*;
use crate::engine::items::Query;
use crate::engine::value::{FieldType, Value};

/// [`load`] of `bytes` into a fresh store; the schema and the stored rows.
fn ingest(
    format: Format,
    key: &str,
    bytes: &[u8],
) -> Result<(Schema, Vec<Vec<Value>>), IngestError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let name = EntityName::parse("e").expect("name");
    let entity = load(&store, InstanceId::new(), &name, format, key, &[], || {
        Ok(bytes)
    })?;
    let mut rows = Vec::new();
    entity
        .scan(None, |row| {
            rows.push(row.iter().map(|v| v.to_owned_value()).collect())
        })
        .expect("scan");
    Ok((entity.schema().clone(), rows))
}

fn s(text: &str) -> Value {
    Value::String(text.to_owned())
}

#[test]
fn csv_reads_rfc4180_quoting_crlf_a_bom_and_empty_cells() {
    let csv = b"\xEF\xBB\xBFid,name,note\r\n1,\"Smith, Ann\",\"two\r\nlines\"\r\n2,,\"say \"\"hi\"\"\"\r\n";
    let (schema, rows) = ingest(Format::Csv, "id", csv).expect("valid");
    let names: Vec<_> = schema.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["id", "name", "note"],
        "the BOM is not part of the first name"
    );
    assert_eq!(
        rows,
        [
            vec![Value::Integer(1), s("Smith, Ann"), s("two\r\nlines")],
            vec![Value::Integer(2), Value::Null, s("say \"hi\"")],
        ]
    );
}

#[test]
fn a_header_only_file_is_an_empty_entity() {
    for (format, bytes) in [
        (Format::Csv, &b"id,name\n"[..]),
        (Format::Csv, b"id,name"),
        (Format::JsonLines, b""),
    ] {
        let (schema, rows) = ingest(format, "id", bytes).expect("valid");
        assert!(rows.is_empty());
        assert_eq!(schema.primary_key_field().name, "id");
    }
}

#[test]
fn bad_sources_fail_with_a_code_and_the_line() {
    use Format::{Csv, JsonLines as Jsonl};
    /// Format, content, code, line, why it must fail.
    type Case<'a> = (Format, &'a [u8], &'a str, Option<u64>, &'a str);
    let table: &[Case<'_>] = &[
        (Csv, b"", "missing_header", None, "an empty file"),
        (
            Csv,
            b"name\nx\n",
            "missing_primary_key_column",
            None,
            "no key column",
        ),
        (
            Csv,
            b"id,id\n1,2\n",
            "duplicate_column",
            Some(1),
            "two columns named id",
        ),
        (
            Csv,
            b"id,\n1,2\n",
            "empty_column_name",
            Some(1),
            "an unnamed column",
        ),
        (
            Csv,
            b"id,name\n1,a\n2\n",
            "ragged_row",
            Some(3),
            "a row with too few cells",
        ),
        (
            Csv,
            b"id,name\n1,a,b\n",
            "ragged_row",
            Some(2),
            "a row with too many cells",
        ),
        (
            Csv,
            b"id,name\n1,\"a\nb\"\n2\n",
            "ragged_row",
            Some(4),
            "lines count inside quotes",
        ),
        (
            Csv,
            b"id,name\n1,a\n,b\n",
            "missing_primary_key",
            Some(3),
            "an empty key cell",
        ),
        (
            Csv,
            b"id,name\n1,a\n1,b\n",
            "duplicate_primary_key",
            Some(3),
            "the same key twice",
        ),
        (
            Csv,
            b"id\n1.0\n1\n",
            "duplicate_primary_key",
            Some(3),
            "1.0 and 1 are one number key",
        ),
        (
            Csv,
            b"id,name\n1,\xff\n",
            "bad_encoding",
            Some(2),
            "Latin-1, not UTF-8",
        ),
        (
            Csv,
            b"i\xe9,name\n1,a\n",
            "bad_encoding",
            Some(1),
            "a header that is not UTF-8",
        ),
        (
            Jsonl,
            b"{\"id\":1,\"a\":[1]}\n",
            "nested_value",
            Some(1),
            "an array",
        ),
        (
            Jsonl,
            b"{\"id\":1}\n{\"id\":2,\"a\":{\"b\":1}}\n",
            "nested_value",
            Some(2),
            "an object",
        ),
        (
            Jsonl,
            b"{\"id\":1}\n{bad\n",
            "bad_json_line",
            Some(2),
            "not JSON",
        ),
        (Jsonl, b"[1,2]\n", "bad_json_line", Some(1), "not an object"),
        (
            Jsonl,
            b"{\"a\":1}\n",
            "missing_primary_key",
            Some(1),
            "no key",
        ),
        (
            Jsonl,
            b"{\"id\":\"\"}\n",
            "missing_primary_key",
            Some(1),
            "an empty key",
        ),
        (
            Jsonl,
            b"{\"id\":null}\n",
            "missing_primary_key",
            Some(1),
            "a null key",
        ),
        (
            Jsonl,
            b"{\"id\":\"a\"}\n\n{\"id\":\"a\"}\n",
            "duplicate_primary_key",
            Some(3),
            "blank lines count",
        ),
        (
            Jsonl,
            b"{\"id\":1}\n{\"id\":\"\xff\"}\n",
            "bad_encoding",
            Some(2),
            "not UTF-8",
        ),
        (
            Jsonl,
            b"{\"id\":1,\"\":2}\n",
            "empty_key",
            Some(1),
            "an empty key",
        ),
    ];
    for (format, bytes, code, line, reason) in table {
        let error = ingest(*format, "id", bytes).expect_err(reason);
        assert_eq!(
            (error.code(), error.line()),
            (*code, *line),
            "{reason}: {error}"
        );
    }
    let error = ingest(Csv, "id", b"id,name\n7,a\n8,b\n7,c\n").expect_err("duplicate");
    assert_eq!(
        error.to_string(),
        "Line 4: the primary key '7' appears again (first on line 2)."
    );
}

#[test]
fn csv_fields_are_typed_only_when_every_value_fits() {
    use FieldType::*;
    let table: &[(&[&str], FieldType, &str)] = &[
        (&["1", "-2"], Integer, "integers"),
        (&["1", "2.5"], Number, "an integer widens to number"),
        (&["1e3", "2"], Number, "an exponent makes a number"),
        (
            &["99999999999999999999", "1"],
            Number,
            "past i64 is a number",
        ),
        (&["1", "007"], String, "a leading zero is a code"),
        (&["1", "x"], String, "one text value"),
        (&["true", "FALSE"], Boolean, "booleans in any case"),
        (&["1", "true"], String, "numbers and booleans do not mix"),
        (
            &["2024-01-01", "2024-01-01T10:00:00Z"],
            Datetime,
            "dates and datetimes",
        ),
        (&["2024-01-01", "1"], String, "a datetime and a number"),
        (&["1", ""], Integer, "an empty cell is null"),
        (&["", ""], String, "no value at all"),
    ];
    for (cells, expected, reason) in table {
        let mut csv = std::string::String::from("id,f\n");
        for (n, cell) in cells.iter().enumerate() {
            csv.push_str(&format!("{n},{cell}\n"));
        }
        let (schema, _) = ingest(Format::Csv, "id", csv.as_bytes()).expect(reason);
        assert_eq!(schema.fields()[1].ty, *expected, "{reason}");
    }
}

#[test]
fn json_lines_fields_are_typed_from_json_types() {
    use FieldType::*;
    let table: &[(&[&str], FieldType, &str)] = &[
        (&["1", "-2"], Integer, "integers"),
        (&["1", "2.5"], Number, "an integer widens to number"),
        (&["\"1\""], String, "a JSON string is text, even of digits"),
        (&["true", "false"], Boolean, "booleans"),
        (
            &["\"2024-01-01\"", "\"2024-01-01T10:00:00+02:00\""],
            Datetime,
            "datetimes are strings",
        ),
        (&["1", "\"a\""], String, "a number and text"),
        (&["1", "null"], Integer, "null is no value"),
        (&["null"], String, "no value at all"),
    ];
    for (values, expected, reason) in table {
        let mut lines = std::string::String::new();
        for (n, value) in values.iter().enumerate() {
            lines.push_str(&format!("{{\"id\": {n}, \"f\": {value}}}\n"));
        }
        let (schema, _) = ingest(Format::JsonLines, "id", lines.as_bytes()).expect(reason);
        assert_eq!(schema.fields()[1].ty, *expected, "{reason}");
    }
}

#[test]
fn json_lines_fields_are_the_keys_in_first_seen_order_and_absent_keys_are_null() {
    let lines = b"\xEF\xBB\xBF{\"name\": \"Ann\", \"id\": \"a\", \"n\": 1}\r\n\n{\"id\": \"b\", \"n\": \"x\", \"extra\": true}\n";
    let (schema, rows) = ingest(Format::JsonLines, "id", lines).expect("valid");
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| (f.name.as_str(), f.ty))
        .collect();
    assert_eq!(
        fields,
        [
            ("id", FieldType::String),
            ("name", FieldType::String),
            ("n", FieldType::String),
            ("extra", FieldType::Boolean)
        ]
    );
    assert_eq!(
        rows,
        [
            vec![s("a"), s("Ann"), s("1"), Value::Null],
            vec![s("b"), Value::Null, s("x"), Value::Boolean(true)],
        ]
    );
}

#[test]
fn a_load_replaces_an_entity_only_when_the_whole_source_is_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ItemStore::open(dir.path()).expect("open");
    let instance = InstanceId::new();
    let name = EntityName::parse("customers").expect("name");
    let good = b"id,email,joined,vip\r\n1,ann@example.com,2024-01-05,true\r\n2,,2024-02-01T10:00:00+01:00,false\r\n";
    let entity = load(
        &store,
        instance,
        &name,
        Format::Csv,
        "id",
        &["email"],
        || Ok(&good[..]),
    )
    .expect("load");
    let page = entity
        .query(&Query {
            top: 10,
            ..Query::default()
        })
        .expect("query");
    let items: Vec<_> = page
        .items
        .into_iter()
        .map(serde_json::Value::Object)
        .collect();
    assert_eq!(
        items,
        [
            serde_json::json!({"id": 1, "email": "ann@example.com", "joined": "2024-01-05", "vip": true}),
            serde_json::json!({"id": 2, "email": null, "joined": "2024-02-01T10:00:00+01:00", "vip": false}),
        ]
    );
    assert_eq!(
        entity
            .lookup("email", &s("ann@example.com"))
            .expect("lookup")
            .len(),
        1
    );

    let bad = b"id,email\n3,x\n3,y\n";
    let error = load(&store, instance, &name, Format::Csv, "id", &[], || {
        Ok(&bad[..])
    })
    .expect_err("duplicate");
    assert_eq!(error.code(), "duplicate_primary_key");
    let current = store
        .entity(instance, &name)
        .expect("read")
        .expect("exists");
    assert_eq!(
        current.generation(),
        entity.generation(),
        "the previous items stay"
    );
    assert_eq!(current.item_count(), 2);
}
