//! Durations as settings write them (`500ms`, `5s`, `5m`, `2h`, `1d`): parsed, checked against
//! a setting's bounds with a message naming the setting, and shown back the same way.

use std::time::Duration;

/// Parses `500ms`, `5s`, `5m`, `2h` or `1d`, with no bound: settings use
/// [`parse_duration_within`].
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let millis = duration_millis(raw)?;
    u64::try_from(millis)
        .map(Duration::from_millis)
        .map_err(|_| format!("'{}' is too long", raw.trim()))
}

/// Parses a duration like [`parse_duration`] and refuses one outside `least..=most`.
pub fn parse_duration_within(
    raw: &str,
    least: Duration,
    most: Duration,
) -> Result<Duration, String> {
    let raw = raw.trim();
    let millis = duration_millis(raw)?;
    if millis > most.as_millis() {
        return Err(format!(
            "'{raw}' is longer than {}, the most it may be",
            show_duration(most)
        ));
    }
    if millis < least.as_millis() {
        return Err(format!(
            "'{raw}' is shorter than {}, the least it may be",
            show_duration(least)
        ));
    }
    u64::try_from(millis)
        .map(Duration::from_millis)
        .map_err(|_| format!("'{raw}' is too long"))
}

/// Milliseconds of `500ms`, `5s`, `5m`, `2h` or `1d`; wide enough that no number of days
/// overflows.
fn duration_millis(raw: &str) -> Result<u128, String> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("'{raw}' needs a unit: ms, s, m, h or d"))?;
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{raw}' does not start with a whole number"))?;
    let millis: u128 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("'{raw}' has an unknown unit; use ms, s, m, h or d")),
    };
    Ok(u128::from(number) * millis)
}

/// A duration in the largest unit that shows it exactly: `3650d`, `5m`, `1500ms`.
pub fn show_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let units = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ];
    for (unit, size) in units {
        if millis >= size && millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// The parser of a duration setting: `least..=most`, with errors naming `setting`.
pub fn duration_setting(
    setting: &'static str,
    least: Duration,
    most: Duration,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |raw| parse_duration_within(raw, least, most).map_err(|err| format!("{setting}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        let cases = [
            ("500ms", Ok(Duration::from_millis(500))),
            ("5s", Ok(Duration::from_secs(5))),
            ("5m", Ok(Duration::from_secs(300))),
            ("2h", Ok(Duration::from_secs(7200))),
            ("1d", Ok(Duration::from_secs(86400))),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_duration(raw), expected, "{raw}");
        }
        for bad in ["", "5", "s", "-5s", "5x", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn bounds_are_inclusive_and_named_in_the_refusal() {
        let (least, most) = (Duration::from_millis(1), Duration::from_secs(300));
        assert_eq!(parse_duration_within("5m", least, most), Ok(most));
        assert_eq!(parse_duration_within("1ms", least, most), Ok(least));
        let cases = [
            ("301s", "longer than 5m", "one second past the bound"),
            ("0s", "shorter than 1ms", "below the least"),
            (
                "18446744073709551615d",
                "longer than 5m",
                "more milliseconds than u64 holds",
            ),
        ];
        for (raw, message, why) in cases {
            let err = parse_duration_within(raw, least, most).unwrap_err();
            assert!(err.contains(message) && err.contains(raw), "{why}: {err}");
        }
        let named = duration_setting("INSIGHTS_X", least, most);
        assert!(named("6m").unwrap_err().starts_with("INSIGHTS_X: "));
    }

    #[test]
    fn durations_show_in_their_largest_exact_unit() {
        let cases = [
            (Duration::from_secs(3650 * 86_400), "3650d"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(36_000), "10h"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::ZERO, "0ms"),
        ];
        for (duration, shown) in cases {
            assert_eq!(show_duration(duration), shown);
        }
    }
}
