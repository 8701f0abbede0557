//! Datetimes as the engine keeps them: an instant in microseconds since the Unix epoch, and
//! how it was written (a date, or a date-time with its UTC offset). Comparing, storing and
//! hashing read the microseconds; chrono is used only for unusual text and for printing.

use std::fmt;

use chrono::{DateTime, FixedOffset, SecondsFormat};

/// `0000-01-01T00:00:00Z` and `9999-12-31T23:59:59.999999Z` in microseconds: the years
/// RFC 3339 can write. Every instant in between prints (see
/// `the_first_and_last_instants_print`).
const MIN_MICROS: i64 = -62_167_219_200_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;
/// Offsets are less than a day either way.
const MAX_OFFSET: i32 = 86_399;
const MICROS_PER_SECOND: i64 = 1_000_000;

/// An instant as it was written: a calendar date (`YYYY-MM-DD`, read as midnight UTC) or an
/// RFC 3339 date-time with its UTC offset, kept to the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datetime {
    micros: i64,
    /// `None` for a date.
    offset: Option<i32>,
}

impl Datetime {
    /// Reads `YYYY-MM-DD` or an RFC 3339 date-time (`2024-05-01T10:00:00Z`,
    /// `2024-05-01T12:00:00.5+02:00`). Anything else is not a datetime.
    pub fn parse(text: &str) -> Option<Datetime> {
        let b = text.as_bytes();
        // Cheap rejection first: ingest tries every text cell.
        if b.len() < 10 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
            return None;
        }
        if b.len() == 10 {
            let days = date_days(b)?;
            return Datetime::from_parts(days * 86_400 * MICROS_PER_SECOND, None);
        }
        if let Some(parsed) = fast_datetime(b) {
            return Some(parsed);
        }
        let at = DateTime::parse_from_rfc3339(text).ok()?;
        Datetime::from_parts(at.timestamp_micros(), Some(at.offset().local_minus_utc()))
    }

    /// A datetime from its stored parts ([`Datetime::micros`], [`Datetime::offset_seconds`]);
    /// `None` when they are out of range (a corrupt record, or a year past 9999).
    pub fn from_parts(micros: i64, offset_seconds: Option<i32>) -> Option<Datetime> {
        let in_range = (MIN_MICROS..=MAX_MICROS).contains(&micros)
            && offset_seconds.is_none_or(|o| (-MAX_OFFSET..=MAX_OFFSET).contains(&o));
        in_range.then_some(Datetime {
            micros,
            offset: offset_seconds,
        })
    }

    /// Microseconds since the Unix epoch: the instant that comparisons use.
    pub fn micros(&self) -> i64 {
        self.micros
    }

    /// The UTC offset it was written with, in seconds; `None` for a date.
    pub fn offset_seconds(&self) -> Option<i32> {
        self.offset
    }

    pub fn is_date(&self) -> bool {
        self.offset.is_none()
    }
}

/// Days since 1970-01-01 of the `YYYY-MM-DD` at the start of `b`, when it is a real date.
fn date_days(b: &[u8]) -> Option<i64> {
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let last = *month_days.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    if day == 0 || day > last {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Days from 1970-01-01 to a proleptic Gregorian date (the well-known era arithmetic: a
/// 400-year era has 146,097 days; years start in March so the leap day comes last).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12;
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The shapes most files hold, `YYYY-MM-DDThh:mm:ssZ` and `YYYY-MM-DDThh:mm:ss+hh:mm`,
/// read without chrono because ingest reads millions; `None` sends anything else
/// (fractions, leap seconds, a lowercase `t`, invalid values) to chrono's parser.
fn fast_datetime(b: &[u8]) -> Option<Datetime> {
    let offset = match (b.len(), b.get(19)) {
        (20, Some(b'Z')) => 0,
        (25, Some(sign @ (b'+' | b'-'))) if b[22] == b':' => {
            let (hours, minutes) = (digits(&b[20..22])?, digits(&b[23..25])?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let days = date_days(b)?;
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Datetime::from_parts(
        seconds * MICROS_PER_SECOND,
        Some(i32::try_from(offset).ok()?),
    )
}

fn digits(b: &[u8]) -> Option<i64> {
    b.iter().try_fold(0i64, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
    })
}

impl fmt::Display for Datetime {
    /// A date as `YYYY-MM-DD`; a date-time as RFC 3339 in its own offset (`Z` for UTC).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = DateTime::from_timestamp_micros(self.micros)
            .expect("micros are within years 0000-9999 (the_first_and_last_instants_print)");
        match self.offset {
            None => write!(f, "{}", utc.date_naive().format("%Y-%m-%d")),
            Some(seconds) => {
                let offset = FixedOffset::east_opt(seconds)
                    .expect("offsets are within a day (the_first_and_last_instants_print)");
                let at = utc.with_timezone(&offset);
                f.write_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_read_dates_and_rfc3339_and_print_them_back() {
        let cases = [
            ("2024-05-01", "2024-05-01"),
            ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),
            ("2024-05-01T10:00:00+00:00", "2024-05-01T10:00:00Z"),
            (
                "2024-05-01T12:00:00.5+02:00",
                "2024-05-01T12:00:00.500+02:00",
            ),
            (
                "2024-05-01T12:00:00.123456789-05:30",
                "2024-05-01T12:00:00.123456-05:30",
            ),
            ("2024-05-01t12:00:00z", "2024-05-01T12:00:00Z"),
        ];
        for (text, printed) in cases {
            let value = Datetime::parse(text).unwrap_or_else(|| panic!("{text} is a datetime"));
            assert_eq!(value.to_string(), printed, "{text}");
            let back = Datetime::from_parts(value.micros(), value.offset_seconds());
            assert_eq!(back, Some(value), "{text} survives its stored parts");
        }
    }

    #[test]
    fn hand_reading_agrees_with_chrono() {
        let cases = [
            "2024-05-01T10:00:00Z",
            "2024-05-01T10:00:00+02:00",
            "2024-05-01T10:00:00-05:30",
            "1969-12-31T23:59:59Z",
            "1900-03-01T00:00:00Z",
            "2000-02-29T00:00:00Z",
            "2024-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T10:60:00Z",
            "2024-05-01T10:00:00+24:00",
            "2024-05-01 10:00:00Z",
            "2024-05-01T10:0a:00Z",
        ];
        for text in cases {
            let chrono = DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|at| (at.timestamp_micros(), at.offset().local_minus_utc()));
            let ours = Datetime::parse(text).map(|d| (d.micros(), d.offset_seconds().unwrap_or(0)));
            assert_eq!(ours, chrono, "{text}");
        }
        for date in ["1970-01-01", "2000-02-29", "1600-12-31", "2024-03-01"] {
            let chrono = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc().timestamp_micros());
            assert_eq!(Datetime::parse(date).map(|d| d.micros()), chrono, "{date}");
        }
    }

    #[test]
    fn texts_that_are_not_datetimes_are_refused() {
        let cases = [
            ("2024-13-01", "no month 13"),
            ("2024-02-30", "no 30 February"),
            ("2023-02-29", "not a leap year"),
            ("24-05-01", "two-digit year"),
            ("2024-05-01T10:00:00", "a date-time needs an offset"),
            ("2024/05/01", "slashes"),
            ("20240501", "no separators"),
            ("2024-05-01 trailing", "trailing text"),
            ("", "empty"),
        ];
        for (text, reason) in cases {
            assert_eq!(Datetime::parse(text), None, "{text}: {reason}");
        }
    }

    #[test]
    fn the_first_and_last_instants_print() {
        let cases = [
            (MIN_MICROS, Some(-MAX_OFFSET)),
            (MIN_MICROS, Some(MAX_OFFSET)),
            (MAX_MICROS, Some(MAX_OFFSET)),
            (MAX_MICROS, Some(-MAX_OFFSET)),
            (MIN_MICROS, None),
            (MAX_MICROS, None),
        ];
        for (micros, offset) in cases {
            let value = Datetime::from_parts(micros, offset).expect("in range");
            assert!(!value.to_string().is_empty());
        }
        assert_eq!(Datetime::from_parts(MAX_MICROS + 1, None), None);
        assert_eq!(Datetime::from_parts(0, Some(86_400)), None);
    }
}
