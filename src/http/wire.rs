//! Shared pieces of the wire types: the documented constraints of ids, names and callback
//! URLs (so that a schema-valid request is never refused), and number decoding.

use serde::{Deserialize, Deserializer};

use crate::domain::patterns;

/// What the documents promise about a request field or header of this name, so that a
/// schema-valid request is never refused: (minLength, maxLength, pattern).
pub fn constraint(name: &str) -> Option<(usize, usize, &'static str)> {
    match name {
        "dataSourceId" | "segmentId" | "measureId" => Some((1, 200, patterns::ITEM_ID)),
        "name" => Some((1, 100, patterns::NAME)),
        // One less than the service's limit: parsing may add the `/` of an empty path.
        "notificationUrl" => Some((1, 4095, patterns::CALLBACK_URL)),
        "Idempotency-Key" => Some((1, 255, patterns::IDEMPOTENCY_KEY)),
        _ => None,
    }
}

/// A whole number that JSON may write as `12` or `12.0`: JSON Schema counts both as integers.
/// At most `i64::MAX`, the maximum the documents declare for 64-bit integers.
fn whole(value: serde_json::Number) -> Result<u64, String> {
    if let Some(n) = value.as_u64() {
        return if i64::try_from(n).is_ok() {
            Ok(n)
        } else {
            Err(format!("{value} is larger than {}", i64::MAX))
        };
    }
    match value.as_f64() {
        Some(f) if f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&f) => Ok(f as u64),
        _ => Err(format!("{value} is not a whole number from 0 up")),
    }
}

pub fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    whole(serde_json::Number::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

pub fn optional_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    Option::<serde_json::Number>::deserialize(deserializer)?
        .map(whole)
        .transpose()
        .map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_may_be_written_as_floats() {
        let cases = [("12", Ok(12)), ("12.0", Ok(12)), ("0", Ok(0))];
        for (raw, expected) in cases {
            assert_eq!(whole(serde_json::from_str(raw).unwrap()), expected, "{raw}");
        }
        for bad in ["-1", "1.5", "1e300", "9223372036854775808"] {
            assert!(whole(serde_json::from_str(bad).unwrap()).is_err(), "{bad}");
        }
    }
}
