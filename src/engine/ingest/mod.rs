//! Streaming ingest of a data source (CSV or JSON Lines) from any `Read`: the first pass
//! checks every row and infers each field's type, the second converts rows to typed values
//! for a sink (the item store). Memory does not grow with the file; the item store keeps 16
//! bytes a row of index entries (a key's hash and the row's offset), which is also how
//! duplicate primary keys are found.
//!
//! A field is typed `integer`, `number`, `boolean` or `datetime` only when every non-null
//! value fits (integers widen to number); otherwise, and when it has no value at all, it is
//! `string`.

mod csv;
mod infer;
mod jsonl;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::io::{self, Read};
use std::sync::Arc;

use crate::domain::InstanceId;
use crate::engine::items::{Entity, EntityName, EntityWriter, ItemStore, ItemsError};
use crate::engine::schema::Schema;
use crate::engine::value::{Row, Value, ValueRef};

/// The most fields a source may have: a guard against a file whose every line has new keys.
pub const MAX_FIELDS: usize = 1000;

/// The formats of a data source (`"csv"`, `"jsonl"` in `SetDataSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180, UTF-8 (a BOM is skipped), a header row; an empty cell is null.
    Csv,
    /// One flat JSON object per line; blank lines are skipped.
    JsonLines,
}

/// Why a source was refused. Each case has a stable [`IngestError::code`] (a refresh's
/// `errorCode`); the message names the line and, where it helps, the key or field.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("The source could not be read.")]
    Read(#[source] io::Error),
    #[error("The source could not be read as CSV.")]
    Csv(#[source] ::csv::Error),
    #[error("The file has no header row.")]
    MissingHeader,
    #[error("The header has no column '{field}' for the primary key.")]
    MissingKeyColumn { field: String },
    #[error("Line 1: column {position} of the header has no name.")]
    EmptyColumnName { position: usize },
    #[error("Line 1: the column '{name}' appears twice in the header.")]
    DuplicateColumn { name: String },
    #[error("Line {line}: the source has more than {MAX_FIELDS} fields.")]
    TooManyFields { line: u64 },
    #[error("Line {line}: the row has {found} cells, but the header has {expected}.")]
    RaggedRow {
        line: u64,
        found: usize,
        expected: usize,
    },
    #[error("Line {line}: the text is not valid UTF-8; save the file as UTF-8.")]
    BadEncoding { line: u64 },
    #[error("Line {line}: the primary key '{field}' is missing or empty.")]
    MissingPrimaryKey { line: u64, field: String },
    #[error("Line {line}: the primary key '{key}' appears again (first on line {first_line}).")]
    DuplicatePrimaryKey {
        line: u64,
        key: String,
        first_line: u64,
    },
    #[error(
        "Line {line}: the value of '{key}' is an array or an object; each line must be a flat object."
    )]
    NestedValue { line: u64, key: String },
    #[error("Line {line} is not a JSON object: {source}.")]
    BadJsonLine {
        line: u64,
        #[source]
        source: serde_json::Error,
    },
    #[error("Line {line}: an object has an empty key.")]
    EmptyKey { line: u64 },
    #[error("The fields do not make a valid schema.")]
    Schema(#[from] crate::engine::schema::SchemaError),
    #[error("Line {line}: the source changed while it was read; refresh again.")]
    SourceChanged { line: u64 },
    #[error("The items could not be stored.")]
    Store(#[from] ItemsError),
}

impl IngestError {
    /// The stable snake_case code of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Read(_) | IngestError::Csv(_) => "source_unreadable",
            IngestError::MissingHeader => "missing_header",
            IngestError::MissingKeyColumn { .. } => "missing_primary_key_column",
            IngestError::EmptyColumnName { .. } => "empty_column_name",
            IngestError::DuplicateColumn { .. } => "duplicate_column",
            IngestError::TooManyFields { .. } => "too_many_fields",
            IngestError::RaggedRow { .. } => "ragged_row",
            IngestError::BadEncoding { .. } => "bad_encoding",
            IngestError::MissingPrimaryKey { .. } => "missing_primary_key",
            IngestError::DuplicatePrimaryKey { .. } => "duplicate_primary_key",
            IngestError::NestedValue { .. } => "nested_value",
            IngestError::BadJsonLine { .. } => "bad_json_line",
            IngestError::EmptyKey { .. } => "empty_key",
            IngestError::Schema(_) => "invalid_schema",
            IngestError::SourceChanged { .. } => "source_changed",
            IngestError::Store(_) => "storage_failure",
        }
    }

    /// The 1-based line the failure is on, when it is about one.
    pub fn line(&self) -> Option<u64> {
        match self {
            IngestError::EmptyColumnName { .. } | IngestError::DuplicateColumn { .. } => Some(1),
            IngestError::TooManyFields { line }
            | IngestError::RaggedRow { line, .. }
            | IngestError::BadEncoding { line }
            | IngestError::MissingPrimaryKey { line, .. }
            | IngestError::DuplicatePrimaryKey { line, .. }
            | IngestError::NestedValue { line, .. }
            | IngestError::BadJsonLine { line, .. }
            | IngestError::EmptyKey { line }
            | IngestError::SourceChanged { line } => Some(*line),
            IngestError::Read(_)
            | IngestError::Csv(_)
            | IngestError::MissingHeader
            | IngestError::MissingKeyColumn { .. }
            | IngestError::Schema(_)
            | IngestError::Store(_) => None,
        }
    }
}

/// What the first pass learned.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    pub schema: Schema,
    pub row_count: u64,
}

/// The first pass: reads the whole source, checks every row (shape, encoding, primary key
/// present) and infers the schema. Duplicate keys are found by the item store when the
/// generation is committed (see [`load`]), once the key's type is known (so that `1` and
/// `1.0` of a number key are one key).
pub fn infer(
    format: Format,
    primary_key: &str,
    source: impl Read + Send,
) -> Result<Inferred, IngestError> {
    match format {
        Format::Csv => csv::infer(primary_key, source),
        Format::JsonLines => jsonl::infer(primary_key, source),
    }
}

/// The second pass: reads the source again and gives each row, with its 1-based line and
/// typed by `schema` (from [`infer`] on the same content), to `sink`. Answers the number of
/// rows.
pub fn read_rows(
    format: Format,
    schema: &Schema,
    source: impl Read + Send,
    mut sink: impl FnMut(u64, &[ValueRef<'_>]) -> Result<(), IngestError>,
) -> Result<u64, IngestError> {
    match format {
        Format::Csv => csv::read_rows(schema, source, &mut sink),
        Format::JsonLines => jsonl::read_rows(schema, source, &mut sink),
    }
}

/// Both passes into a new generation of `entity`, switched in only when every row was good:
/// what a data source refresh does. `open` is called twice and must give the same content.
pub fn load<R: Read + Send>(
    store: &ItemStore,
    instance: InstanceId,
    entity: &EntityName,
    format: Format,
    primary_key: &str,
    indexes: &[&str],
    mut open: impl FnMut() -> io::Result<R>,
) -> Result<Arc<Entity>, IngestError> {
    let inferred = infer(format, primary_key, open().map_err(IngestError::Read)?)?;
    let mut writer: EntityWriter =
        store.write(instance, entity, inferred.schema.clone(), indexes)?;
    let source = open().map_err(IngestError::Read)?;
    let rows = read_rows(format, &inferred.schema, source, |_, row| {
        Ok(writer.push(row)?)
    })?;
    if rows != inferred.row_count {
        return Err(IngestError::SourceChanged { line: rows + 1 });
    }
    match writer.commit() {
        Ok(entity) => Ok(entity),
        Err(ItemsError::DuplicateKey { key }) => {
            // Only on failure: one more pass to name the lines of the key.
            let source = open().map_err(IngestError::Read)?;
            Err(duplicate_lines(format, &inferred.schema, source, key)?)
        }
        Err(other) => Err(other.into()),
    }
}

/// The error naming the first two lines whose primary key equals `key`.
fn duplicate_lines(
    format: Format,
    schema: &Schema,
    source: impl Read + Send,
    key: Value,
) -> Result<IngestError, IngestError> {
    let mut lines = Vec::with_capacity(2);
    read_rows(format, schema, source, |line, row| {
        let equal = row.value(schema.primary_key()).compare(key.as_ref()) == Some(Ordering::Equal);
        if equal && lines.len() < 2 {
            lines.push(line);
        }
        Ok(())
    })?;
    let text = key
        .as_ref()
        .key_text()
        .map_or_else(String::new, |k| k.into_owned());
    match lines[..] {
        [first_line, line] => Ok(IngestError::DuplicatePrimaryKey {
            line,
            key: text,
            first_line,
        }),
        _ => Ok(IngestError::SourceChanged { line: 0 }),
    }
}
