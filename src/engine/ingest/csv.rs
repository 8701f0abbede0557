//! CSV sources through the `csv` crate (RFC 4180: quoted commas, quotes and newlines, CRLF;
//! records are checked as UTF-8 by it), with our checks: a BOM skipped, the header's names,
//! the cell count of every row, the primary key of every row. Parsing runs on its own thread,
//! a few batches of records ahead of the checks and conversions (see [`each_record`]).

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::infer::Guess;
use super::{Inferred, IngestError, MAX_FIELDS};
use crate::engine::schema::{Field, Schema, SchemaError};
use crate::engine::value::{FieldType, Value, ValueRef, parse_text};

const BUFFER: usize = 256 * 1024;
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Records handed from the parsing thread at a time.
const BATCH: usize = 1024;
/// Batches parsed ahead: what bounds the memory of the pipeline.
const BATCHES_AHEAD: usize = 4;

fn reader<R: Read + Send>(source: R) -> Result<csv::Reader<BufReader<R>>, IngestError> {
    let mut buffered = BufReader::with_capacity(BUFFER, source);
    let head = buffered.fill_buf().map_err(IngestError::Read)?;
    if head.starts_with(BOM) {
        buffered.consume(BOM.len());
    }
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(BUFFER)
        .from_reader(buffered))
}

fn read_error(error: csv::Error) -> IngestError {
    match error.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => IngestError::BadEncoding {
            line: pos.as_ref().map_or(0, |p| p.line()),
        },
        _ => IngestError::Csv(error),
    }
}

fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, |p| p.line())
}

/// The header's names, checked, and the position of the primary key.
fn header(
    reader: &mut csv::Reader<impl Read>,
    record: &mut csv::StringRecord,
    primary_key: &str,
) -> Result<(Vec<String>, usize), IngestError> {
    if !reader.read_record(record).map_err(read_error)? {
        return Err(IngestError::MissingHeader);
    }
    if record.len() > MAX_FIELDS {
        return Err(IngestError::TooManyFields { line: 1 });
    }
    let names: Vec<String> = record.iter().map(str::to_owned).collect();
    let key = names.iter().position(|n| n == primary_key).ok_or_else(|| {
        IngestError::MissingKeyColumn {
            field: primary_key.to_owned(),
        }
    })?;
    Ok((names, key))
}

fn check_row(
    record: &csv::StringRecord,
    expected: usize,
    key: usize,
    line: u64,
    names: &[String],
) -> Result<(), IngestError> {
    if record.len() != expected {
        return Err(IngestError::RaggedRow {
            line,
            found: record.len(),
            expected,
        });
    }
    if record.get(key).is_none_or(str::is_empty) {
        return Err(IngestError::MissingPrimaryKey {
            line,
            field: names[key].clone(),
        });
    }
    Ok(())
}

pub fn infer(primary_key: &str, source: impl Read + Send) -> Result<Inferred, IngestError> {
    let mut reader = reader(source)?;
    let mut record = csv::StringRecord::new();
    let (names, key) = header(&mut reader, &mut record, primary_key)?;
    let mut guesses = vec![Guess::default(); names.len()];
    let mut row_count = 0;
    each_record(reader, |record| {
        let line = line_of(record);
        check_row(record, names.len(), key, line, &names)?;
        for (guess, text) in guesses.iter_mut().zip(record) {
            if !text.is_empty() {
                guess.text(text);
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
    let schema = Schema::new(fields, primary_key).map_err(|e| match e {
        SchemaError::EmptyFieldName { position } => IngestError::EmptyColumnName {
            position: position + 1,
        },
        SchemaError::DuplicateField { name } => IngestError::DuplicateColumn { name },
        SchemaError::NoFields => IngestError::MissingHeader,
        SchemaError::MissingPrimaryKey { name } => IngestError::MissingKeyColumn { field: name },
    })?;
    Ok(Inferred { schema, row_count })
}

pub fn read_rows(
    schema: &Schema,
    source: impl Read + Send,
    sink: &mut impl FnMut(u64, &[ValueRef<'_>]) -> Result<(), IngestError>,
) -> Result<u64, IngestError> {
    let mut reader = reader(source)?;
    let mut record = csv::StringRecord::new();
    let key_name = &schema.primary_key_field().name;
    let (names, key) = header(&mut reader, &mut record, key_name)?;
    let same_header =
        names.len() == schema.len() && names.iter().zip(schema.fields()).all(|(n, f)| *n == f.name);
    if !same_header {
        return Err(IngestError::SourceChanged { line: 1 });
    }
    let types: Vec<_> = schema.fields().iter().map(|f| f.ty).collect();
    let mut rows = 0;
    // Numbers, booleans and datetimes are parsed into `parsed`; text is borrowed.
    let mut parsed: Vec<Value> = Vec::with_capacity(names.len());
    // The allocation of each row's values, kept between rows (see `recycle`).
    let mut spare: Vec<ValueRef<'static>> = Vec::with_capacity(names.len());
    each_record(reader, |record| {
        let line = line_of(record);
        check_row(record, names.len(), key, line, &names)?;
        parsed.clear();
        for (text, ty) in record.iter().zip(&types) {
            let value = if text.is_empty() || *ty == FieldType::String {
                Value::Null
            } else {
                match parse_text(text, *ty) {
                    Some(value) => value,
                    None => return Err(IngestError::SourceChanged { line }),
                }
            };
            parsed.push(value);
        }
        let mut values = recycle(std::mem::take(&mut spare));
        values.extend(
            record
                .iter()
                .zip(&parsed)
                .zip(&types)
                .map(|((text, value), ty)| match (ty, text.is_empty()) {
                    (_, true) => ValueRef::Null,
                    (FieldType::String, false) => ValueRef::String(text),
                    _ => value.as_ref(),
                }),
        );
        sink(line, &values)?;
        spare = recycle(values);
        rows += 1;
        Ok(())
    })?;
    Ok(rows)
}

/// A batch of parsed records; `len` of them are filled.
struct Batch {
    records: Vec<csv::StringRecord>,
    len: usize,
}

/// Gives every record after the header to `visit`, in order, until it fails. A scoped
/// thread parses (the csv crate and UTF-8 checks) up to [`BATCHES_AHEAD`] batches ahead
/// while this thread visits, so the two overlap on two cores. A parse error is answered
/// after every record before it was visited, as a single-threaded reader would.
fn each_record<R: Read + Send>(
    mut reader: csv::Reader<R>,
    mut visit: impl FnMut(&csv::StringRecord) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    std::thread::scope(|scope| {
        let (full, parsed): (SyncSender<Batch>, Receiver<Batch>) = sync_channel(BATCHES_AHEAD);
        let (recycled, empty): (SyncSender<Batch>, Receiver<Batch>) =
            sync_channel(BATCHES_AHEAD + 2);
        let parser = scope.spawn(move || -> Result<(), IngestError> {
            loop {
                let mut batch = empty.try_recv().unwrap_or_else(|_| Batch {
                    records: Vec::with_capacity(BATCH),
                    len: 0,
                });
                batch.len = 0;
                let mut outcome = Ok(true);
                while batch.len < BATCH {
                    if batch.records.len() == batch.len {
                        batch.records.push(csv::StringRecord::new());
                    }
                    match reader.read_record(&mut batch.records[batch.len]) {
                        Ok(true) => batch.len += 1,
                        Ok(false) => {
                            outcome = Ok(false);
                            break;
                        }
                        Err(error) => {
                            outcome = Err(read_error(error));
                            break;
                        }
                    }
                }
                // The visitor stopped (it failed): nothing more to parse.
                if full.send(batch).is_err() {
                    return Ok(());
                }
                if !outcome? {
                    return Ok(());
                }
            }
        });
        for batch in parsed.iter() {
            for record in &batch.records[..batch.len] {
                visit(record)?;
            }
            // The parser makes a new batch when none is ready to reuse.
            let _ = recycled.try_send(batch);
        }
        parser
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// An empty vector of values of any lifetime, in the allocation of `values` (the standard
/// library collects in place between types of one layout), so that rows borrowing from
/// successive records share one allocation.
fn recycle<'b>(mut values: Vec<ValueRef<'_>>) -> Vec<ValueRef<'b>> {
    values.clear();
    values.into_iter().map(|_| ValueRef::Null).collect()
}
