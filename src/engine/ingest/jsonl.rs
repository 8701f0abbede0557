//! JSON Lines sources: one flat JSON object per line (blank lines skipped, a BOM skipped),
//! read line by line with serde_json. Fields are the keys in the order first seen; a key
//! absent from a line is null there.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use super::infer::Guess;
use super::{Inferred, IngestError, MAX_FIELDS};
use crate::engine::schema::{Field, Schema};
use crate::engine::value::{Datetime, FieldType, Finite, Value, ValueRef};

const BUFFER: usize = 256 * 1024;

/// Reads each non-blank line as a flat object and gives it, with its line number, to `visit`.
fn for_each_object(
    source: impl Read,
    mut visit: impl FnMut(u64, serde_json::Map<String, serde_json::Value>) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let mut reader = BufReader::with_capacity(BUFFER, source);
    let mut bytes = Vec::new();
    let mut line = 0u64;
    loop {
        bytes.clear();
        if reader
            .read_until(b'\n', &mut bytes)
            .map_err(IngestError::Read)?
            == 0
        {
            return Ok(());
        }
        line += 1;
        let mut text =
            std::str::from_utf8(&bytes).map_err(|_| IngestError::BadEncoding { line })?;
        if line == 1 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        if text.trim().is_empty() {
            continue;
        }
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)
            .map_err(|source| IngestError::BadJsonLine { line, source })?;
        if object.contains_key("") {
            return Err(IngestError::EmptyKey { line });
        }
        if let Some((key, _)) = object.iter().find(|(_, v)| v.is_array() || v.is_object()) {
            return Err(IngestError::NestedValue {
                line,
                key: key.clone(),
            });
        }
        visit(line, object)?;
    }
}

fn key_present(object: &serde_json::Map<String, serde_json::Value>, key: &str) -> bool {
    match object.get(key) {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

pub fn infer(primary_key: &str, source: impl Read) -> Result<Inferred, IngestError> {
    let mut names: Vec<String> = vec![primary_key.to_owned()];
    let mut positions: HashMap<String, usize> = HashMap::from([(primary_key.to_owned(), 0)]);
    let mut guesses = vec![Guess::default()];
    let mut row_count = 0;
    for_each_object(source, |line, object| {
        if !key_present(&object, primary_key) {
            return Err(IngestError::MissingPrimaryKey {
                line,
                field: primary_key.to_owned(),
            });
        }
        for (key, value) in &object {
            let position = match positions.get(key) {
                Some(position) => *position,
                None => {
                    if names.len() == MAX_FIELDS {
                        return Err(IngestError::TooManyFields { line });
                    }
                    positions.insert(key.clone(), names.len());
                    names.push(key.clone());
                    guesses.push(Guess::default());
                    names.len() - 1
                }
            };
            if !value.is_null() {
                guesses[position].json(value);
            }
        }
        row_count += 1;
        Ok(())
    })?;
    let fields = names
        .into_iter()
        .zip(&guesses)
        .map(|(name, guess)| Field::new(name, guess.field_type()))
        .collect();
    let schema = Schema::new(fields, primary_key)?;
    Ok(Inferred { schema, row_count })
}

/// A JSON scalar as a value of `ty`, or `None` when it does not fit (the source changed).
fn typed(value: &serde_json::Value, ty: FieldType) -> Option<Value> {
    use serde_json::Value as J;
    Some(match (ty, value) {
        (_, J::Null) => Value::Null,
        (FieldType::Integer, J::Number(n)) => Value::Integer(n.as_i64()?),
        (FieldType::Number, J::Number(n)) => Value::Number(Finite::new(n.as_f64()?)?),
        (FieldType::Boolean, J::Bool(b)) => Value::Boolean(*b),
        (FieldType::Datetime, J::String(s)) => Value::Datetime(Datetime::parse(s)?),
        (FieldType::String, J::String(s)) => Value::String(s.clone()),
        (FieldType::String, J::Number(n)) => Value::String(n.to_string()),
        (FieldType::String, J::Bool(b)) => Value::String(b.to_string()),
        _ => return None,
    })
}

pub fn read_rows(
    schema: &Schema,
    source: impl Read,
    sink: &mut impl FnMut(u64, &[ValueRef<'_>]) -> Result<(), IngestError>,
) -> Result<u64, IngestError> {
    let mut rows = 0;
    let key = &schema.primary_key_field().name;
    let mut values: Vec<Value> = Vec::with_capacity(schema.len());
    for_each_object(source, |line, object| {
        if !key_present(&object, key) {
            return Err(IngestError::SourceChanged { line });
        }
        values.clear();
        for field in schema.fields() {
            let value = match object.get(&field.name) {
                None => Value::Null,
                Some(json) => typed(json, field.ty).ok_or(IngestError::SourceChanged { line })?,
            };
            values.push(value);
        }
        if object.keys().any(|k| schema.position(k).is_none()) {
            return Err(IngestError::SourceChanged { line });
        }
        let refs: Vec<ValueRef<'_>> = values.iter().map(Value::as_ref).collect();
        sink(line, &refs)?;
        rows += 1;
        Ok(())
    })?;
    Ok(rows)
}
