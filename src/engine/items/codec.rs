//! The on-disk row encoding: compact and decoded without allocating. A row is a `u32`
//! little-endian length, then a null bitmap (one bit per field, in schema order), then each
//! non-null value by its field's type: integer `i64` LE, number `f64` LE, boolean one byte,
//! datetime `i64` LE microseconds and `i32` LE offset seconds (`i32::MIN` for a date), text a
//! LEB128 length and UTF-8 bytes.

use crate::engine::value::{Datetime, FieldType, Finite, Row, ValueRef};

/// A stored row that does not decode: the files were damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a stored row does not decode")]
pub struct CorruptRow;

const DATE_ONLY: i32 = i32::MIN;

/// Why a value could not be written for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType {
    pub field: usize,
    pub expected: FieldType,
    pub found: FieldType,
}

/// Appends one row (length prefix included) to `out`. An integer is widened into a number
/// field; any other value of the wrong type is refused.
pub fn encode_row<R: Row + ?Sized>(
    types: &[FieldType],
    row: &R,
    out: &mut Vec<u8>,
) -> Result<(), WrongType> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    let bitmap = out.len();
    out.resize(bitmap + types.len().div_ceil(8), 0);
    for (field, ty) in types.iter().enumerate() {
        let value = row.value(field);
        let wrong = |found| WrongType {
            field,
            expected: *ty,
            found,
        };
        match (ty, value) {
            (_, ValueRef::Null) => out[bitmap + field / 8] |= 1 << (field % 8),
            (FieldType::Integer, ValueRef::Integer(v)) => out.extend_from_slice(&v.to_le_bytes()),
            (FieldType::Number, ValueRef::Number(v)) => {
                out.extend_from_slice(&v.get().to_le_bytes())
            }
            (FieldType::Number, ValueRef::Integer(v)) => {
                out.extend_from_slice(&(v as f64).to_le_bytes())
            }
            (FieldType::Boolean, ValueRef::Boolean(v)) => out.push(u8::from(v)),
            (FieldType::Datetime, ValueRef::Datetime(v)) => {
                out.extend_from_slice(&v.micros().to_le_bytes());
                let offset = v.offset_seconds().unwrap_or(DATE_ONLY);
                out.extend_from_slice(&offset.to_le_bytes());
            }
            (FieldType::String, ValueRef::String(v)) => {
                write_varint(out, v.len() as u64);
                out.extend_from_slice(v.as_bytes());
            }
            (_, other) => {
                out.truncate(start);
                return Err(wrong(other.field_type().unwrap_or(*ty)));
            }
        }
    }
    let len = (out.len() - bitmap) as u32;
    out[start..bitmap].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Decodes the payload of one row (without its length prefix) into `values`, which it clears
/// first; strings borrow from `payload`.
pub fn decode_row<'a>(
    types: &[FieldType],
    payload: &'a [u8],
    values: &mut Vec<ValueRef<'a>>,
) -> Result<(), CorruptRow> {
    values.clear();
    let bitmap_len = types.len().div_ceil(8);
    let bitmap = payload.get(..bitmap_len).ok_or(CorruptRow)?;
    let mut at = bitmap_len;
    for (field, ty) in types.iter().enumerate() {
        if bitmap[field / 8] & (1 << (field % 8)) != 0 {
            values.push(ValueRef::Null);
            continue;
        }
        let value = match ty {
            FieldType::Integer => ValueRef::Integer(i64::from_le_bytes(take(payload, &mut at)?)),
            FieldType::Number => {
                let v = f64::from_le_bytes(take(payload, &mut at)?);
                ValueRef::Number(Finite::new(v).ok_or(CorruptRow)?)
            }
            FieldType::Boolean => {
                let [b] = take::<1>(payload, &mut at)?;
                ValueRef::Boolean(b != 0)
            }
            FieldType::Datetime => {
                let micros = i64::from_le_bytes(take(payload, &mut at)?);
                let offset = i32::from_le_bytes(take(payload, &mut at)?);
                let offset = (offset != DATE_ONLY).then_some(offset);
                ValueRef::Datetime(Datetime::from_parts(micros, offset).ok_or(CorruptRow)?)
            }
            FieldType::String => {
                let len =
                    usize::try_from(read_varint(payload, &mut at)?).map_err(|_| CorruptRow)?;
                let end = at.checked_add(len).ok_or(CorruptRow)?;
                let bytes = payload.get(at..end).ok_or(CorruptRow)?;
                at = end;
                ValueRef::String(std::str::from_utf8(bytes).map_err(|_| CorruptRow)?)
            }
        };
        values.push(value);
    }
    if at == payload.len() {
        Ok(())
    } else {
        Err(CorruptRow)
    }
}

fn take<const N: usize>(payload: &[u8], at: &mut usize) -> Result<[u8; N], CorruptRow> {
    let end = at.checked_add(N).ok_or(CorruptRow)?;
    let bytes = payload.get(*at..end).ok_or(CorruptRow)?;
    *at = end;
    bytes.try_into().map_err(|_| CorruptRow)
}

fn read_varint(payload: &[u8], at: &mut usize) -> Result<u64, CorruptRow> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *payload.get(*at).ok_or(CorruptRow)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(CorruptRow)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::value::Value;

    #[test]
    fn rows_round_trip_with_nulls_and_every_type() {
        use FieldType::*;
        let types = [
            Integer, Number, Boolean, Datetime, String, String, Integer, Number, Boolean,
        ];
        let dt = |t: &str| Value::Datetime(crate::engine::value::Datetime::parse(t).expect("dt"));
        let row = vec![
            Value::Integer(-5),
            Value::Number(Finite::new(2.5).expect("finite")),
            Value::Boolean(true),
            dt("2024-05-01T10:00:00.25-03:00"),
            Value::String("é".repeat(100)),
            Value::Null,
            Value::Null,
            Value::Integer(3),
            Value::Null,
        ];
        let mut out = Vec::new();
        encode_row(&types, &row, &mut out).expect("types fit");
        let mut values = Vec::new();
        decode_row(&types, &out[4..], &mut values).expect("decodes");
        let mut expected: Vec<_> = row.iter().map(Value::as_ref).collect();
        expected[7] = ValueRef::Number(Finite::new(3.0).expect("finite"));
        assert_eq!(values, expected);
        assert_eq!(
            u32::from_le_bytes(out[..4].try_into().expect("4")) as usize,
            out.len() - 4
        );
        let date = vec![dt("2024-05-01")];
        let mut out = Vec::new();
        encode_row(&[Datetime], &date, &mut out).expect("fits");
        let mut values = Vec::new();
        decode_row(&[Datetime], &out[4..], &mut values).expect("decodes");
        assert_eq!(values, [date[0].as_ref()]);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_and_nothing_is_written() {
        let mut out = vec![1, 2, 3];
        let row = vec![Value::String("x".into())];
        let error = encode_row(&[FieldType::Integer], &row, &mut out);
        assert_eq!(
            error,
            Err(WrongType {
                field: 0,
                expected: FieldType::Integer,
                found: FieldType::String
            })
        );
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn damaged_payloads_are_errors_not_panics() {
        use FieldType::*;
        let types = [String, Integer];
        let row = vec![Value::String("hello".into()), Value::Integer(1)];
        let mut out = Vec::new();
        encode_row(&types, &row, &mut out).expect("fits");
        let payload = &out[4..];
        let mut values = Vec::new();
        for cut in 0..payload.len() {
            assert_eq!(
                decode_row(&types, &payload[..cut], &mut values),
                Err(CorruptRow),
                "cut at {cut}"
            );
        }
        let mut bad_utf8 = payload.to_vec();
        bad_utf8[2] = 0xff;
        assert_eq!(decode_row(&types, &bad_utf8, &mut values), Err(CorruptRow));
    }
}
