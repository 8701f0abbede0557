//! Byte sizes as settings write them (`512KiB`, `100MiB`, `2GiB`, or a number of bytes),
//! checked against a setting's bounds with a message naming the setting.

/// The most `INSIGHTS_UPLOAD_LIMIT` may be: past it a single upload could fill most disks.
pub const MAX_UPLOAD_LIMIT: u64 = 64 << 30;

/// Parses `100MiB`, `512KiB`, `2GiB`, `10MB` (powers of ten) or a plain number of bytes, and
/// refuses zero and anything past `most`.
pub fn parse_size_within(raw: &str, most: u64) -> Result<u64, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{raw}' does not start with a whole number"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => {
            return Err(format!(
                "'{raw}' has an unknown unit; use B, KiB, MiB, GiB, KB, MB or GB"
            ));
        }
    };
    let bytes = number
        .checked_mul(scale)
        .filter(|bytes| *bytes <= most)
        .ok_or_else(|| format!("'{raw}' is more than {}GiB, the most it may be", most >> 30))?;
    if bytes == 0 {
        return Err(format!("'{raw}' is zero: nothing could be uploaded"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        let good = [
            ("100MiB", 100 << 20),
            ("512KiB", 512 << 10),
            ("2GiB", 2 << 30),
            ("10MB", 10_000_000),
            ("4096", 4096),
            ("1B", 1),
        ];
        for (raw, bytes) in good {
            assert_eq!(parse_size_within(raw, MAX_UPLOAD_LIMIT), Ok(bytes), "{raw}");
        }
        let bad = [
            ("", "no number"),
            ("MiB", "no number"),
            ("0MiB", "nothing could be uploaded"),
            ("1.5MiB", "not a whole number"),
            ("10mb", "units are case-sensitive: mb reads as millibits"),
            ("65GiB", "past the bound"),
            ("99999999999999999999", "overflows"),
        ];
        for (raw, why) in bad {
            assert!(
                parse_size_within(raw, MAX_UPLOAD_LIMIT).is_err(),
                "{raw:?}: {why}"
            );
        }
    }
}
