//! The schedule of full refreshes: a cron pattern of 5 fields (minute precision) or 6
//! (seconds first) read in an IANA time zone, the next run after an instant, and what to do
//! at start for runs that fell due while the service was down. Pure: time is always given.
//!
//! Daylight saving time follows the zone's wall clock, as cron does: a run set at a time the
//! clock skips (02:30 when clocks go from 02:00 to 03:00) runs at the first instant after the
//! gap; a run set at a time the clock repeats (02:30 when clocks go back from 03:00 to 02:00)
//! runs once, at its first occurrence; patterns that repeat within the hour (`*/30 * * * *`)
//! keep running through both passes of the repeated hour, by the elapsed time.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The schedule's body (`PUT .../schedule`), kept as given so that `GET` answers it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleDefinition {
    /// A cron pattern of 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first).
    pub cron: String,
    /// The IANA time zone the pattern is read in, such as Europe/Paris.
    pub time_zone: String,
}

/// Why a schedule was refused; the message starts with the field (`cron`, `timeZone`).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), found {found}"
    )]
    FieldCount { found: usize },
    #[error("cron: the {field} field \"{text}\" is not valid ({source})")]
    Field {
        field: &'static str,
        text: String,
        #[source]
        source: CronError,
    },
    #[error("cron: not a valid pattern ({0})")]
    Pattern(#[source] CronError),
    #[error("cron: the pattern matches no date (such as 30 February)")]
    NeverDue,
    #[error("timeZone: unknown time zone \"{name}\"; use an IANA name such as Europe/Paris")]
    UnknownTimeZone { name: String },
}

const FIVE_FIELDS: [&str; 5] = ["minute", "hour", "day-of-month", "month", "day-of-week"];
const SIX_FIELDS: [&str; 6] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
];

/// A checked schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: Tz,
}

/// What the refresh runner does when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtStart {
    /// At least one run fell due while the service was down (`missed` is the first of them):
    /// run once now, however many were missed, then wait for the next one after now.
    RunNow { missed: DateTime<Utc> },
    /// Nothing was missed: the next run is at this instant.
    WaitUntil(DateTime<Utc>),
    /// The pattern matches no later time.
    Never,
}

impl Schedule {
    /// Checks the pattern (5 or 6 fields, each valid, matching some date) and the time zone.
    pub fn parse(definition: &ScheduleDefinition) -> Result<Schedule, ScheduleError> {
        let fields: Vec<&str> = definition.cron.split_whitespace().collect();
        let names: &[&'static str] = match fields.len() {
            5 => &FIVE_FIELDS,
            6 => &SIX_FIELDS,
            found => return Err(ScheduleError::FieldCount { found }),
        };
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = match parser.parse(&definition.cron) {
            Ok(cron) => cron,
            Err(error) => return Err(name_the_field(&parser, &fields, names, error)),
        };
        let zone: Tz =
            definition
                .time_zone
                .parse()
                .map_err(|_| ScheduleError::UnknownTimeZone {
                    name: definition.time_zone.clone(),
                })?;
        let schedule = Schedule { cron, zone };
        // Any instant will do: a pattern that matches some date matches one in every year
        // or every four (29 February).
        let reference = Utc.timestamp_opt(946_684_800, 0).single();
        if reference.and_then(|at| schedule.next_after(at)).is_none() {
            return Err(ScheduleError::NeverDue);
        }
        Ok(schedule)
    }

    pub fn time_zone(&self) -> Tz {
        self.zone
    }

    /// The first run strictly after `after`, or `None` when the pattern matches no later time.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|next| next.with_timezone(&Utc))
    }

    /// What to do at start, given `since` (the due time of the last run the schedule
    /// started, or when the schedule was set if none ran yet) and `now`. A run that fell due
    /// in between was missed: run once now, never more than once, since each run refreshes
    /// everything and a burst of catch-up runs would only repeat the same work. The runner
    /// then records `now` as `since`, so a restart right after does not run it again.
    pub fn at_start(&self, since: DateTime<Utc>, now: DateTime<Utc>) -> AtStart {
        match self.next_after(since) {
            Some(missed) if missed <= now => AtStart::RunNow { missed },
            Some(next) => AtStart::WaitUntil(next),
            None => AtStart::Never,
        }
    }
}

/// Finds which field makes the pattern invalid: the first one whose replacement by `*`
/// makes it parse. Falls back to the whole pattern's error when none does alone.
fn name_the_field(
    parser: &CronParser,
    fields: &[&str],
    names: &[&'static str],
    error: CronError,
) -> ScheduleError {
    for (n, text) in fields.iter().enumerate() {
        let mut trial: Vec<&str> = fields.to_vec();
        trial[n] = "*";
        if parser.parse(&trial.join(" ")).is_ok() {
            return ScheduleError::Field {
                field: names[n],
                text: (*text).to_owned(),
                source: error,
            };
        }
    }
    ScheduleError::Pattern(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .with_timezone(&Utc)
    }

    fn schedule(cron: &str, zone: &str) -> Schedule {
        Schedule::parse(&ScheduleDefinition {
            cron: cron.to_owned(),
            time_zone: zone.to_owned(),
        })
        .unwrap_or_else(|e| panic!("{cron} in {zone}: {e}"))
    }

    /// The first `n` runs after `from`, as RFC 3339 UTC text.
    fn runs(schedule: &Schedule, from: &str, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut after = at(from);
        for _ in 0..n {
            let Some(next) = schedule.next_after(after) else {
                break;
            };
            out.push(next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            after = next;
        }
        out
    }

    #[test]
    fn five_fields_run_on_the_minute_and_six_on_the_second() {
        let hourly = schedule("15 * * * *", "UTC");
        assert_eq!(
            runs(&hourly, "2025-01-01T10:15:00Z", 2),
            ["2025-01-01T11:15:00Z", "2025-01-01T12:15:00Z"],
            "strictly after: a run due at the instant itself is not next"
        );
        let seconds = schedule("*/20 * * * * *", "UTC");
        assert_eq!(
            runs(&seconds, "2025-01-01T10:00:05Z", 3),
            [
                "2025-01-01T10:00:20Z",
                "2025-01-01T10:00:40Z",
                "2025-01-01T10:01:00Z"
            ]
        );
        let weekdays = schedule("0 30 8 * * MON-FRI", "UTC");
        assert_eq!(
            runs(&weekdays, "2025-01-03T09:00:00Z", 2),
            ["2025-01-06T08:30:00Z", "2025-01-07T08:30:00Z"],
            "Friday 3 January, then Monday"
        );
    }

    #[test]
    fn the_pattern_reads_in_its_time_zone() {
        let paris = schedule("0 9 * * *", "Europe/Paris");
        let new_york = schedule("0 9 * * *", "America/New_York");
        let kolkata = schedule("0 9 * * *", "Asia/Kolkata");
        assert_eq!(
            runs(&paris, "2025-01-15T00:00:00Z", 1),
            ["2025-01-15T08:00:00Z"]
        );
        assert_eq!(
            runs(&paris, "2025-07-15T00:00:00Z", 1),
            ["2025-07-15T07:00:00Z"]
        );
        assert_eq!(
            runs(&new_york, "2025-01-15T00:00:00Z", 1),
            ["2025-01-15T14:00:00Z"]
        );
        assert_eq!(
            runs(&kolkata, "2025-01-15T00:00:00Z", 1),
            ["2025-01-15T03:30:00Z"]
        );
        assert_eq!(paris.time_zone(), chrono_tz::Europe::Paris);
    }

    #[test]
    fn a_run_in_the_spring_gap_runs_when_the_clock_resumes() {
        // Berlin, 30 March 2025: 02:00 CET becomes 03:00 CEST (01:00 UTC).
        let daily = schedule("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            runs(&daily, "2025-03-29T12:00:00Z", 3),
            [
                "2025-03-30T01:00:00Z",
                "2025-03-31T00:30:00Z",
                "2025-04-01T00:30:00Z"
            ]
        );
        // New York, 9 March 2025: 02:00 EST becomes 03:00 EDT (07:00 UTC).
        let daily = schedule("0 30 2 * * *", "America/New_York");
        assert_eq!(
            runs(&daily, "2025-03-08T12:00:00Z", 2),
            ["2025-03-09T07:00:00Z", "2025-03-10T06:30:00Z"]
        );
        // Every 30 minutes: the skipped hour has no runs, nothing runs twice.
        let often = schedule("*/30 * * * *", "Europe/Berlin");
        assert_eq!(
            runs(&often, "2025-03-30T00:15:00Z", 3),
            [
                "2025-03-30T00:30:00Z",
                "2025-03-30T01:00:00Z",
                "2025-03-30T01:30:00Z"
            ]
        );
    }

    #[test]
    fn a_run_in_the_autumn_overlap_runs_once_and_interval_runs_keep_their_pace() {
        // Berlin, 26 October 2025: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
        let daily = schedule("30 2 * * *", "Europe/Berlin");
        assert_eq!(
            runs(&daily, "2025-10-25T12:00:00Z", 2),
            ["2025-10-26T00:30:00Z", "2025-10-27T01:30:00Z"],
            "once, at the first 02:30"
        );
        let often = schedule("*/30 * * * *", "Europe/Berlin");
        assert_eq!(
            runs(&often, "2025-10-25T23:45:00Z", 4),
            [
                "2025-10-26T00:00:00Z",
                "2025-10-26T00:30:00Z",
                "2025-10-26T01:00:00Z",
                "2025-10-26T01:30:00Z"
            ],
            "02:00 and 02:30 of both passes"
        );
    }

    #[test]
    fn bad_schedules_are_refused_with_the_reason() {
        let table = [
            (
                "* * * *",
                "UTC",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), found 4",
                "four fields",
            ),
            (
                "* * * * * * *",
                "UTC",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), found 7",
                "a year field",
            ),
            (
                "",
                "UTC",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), found 0",
                "empty",
            ),
            (
                "@daily",
                "UTC",
                "cron: expected 5 fields (minute hour day-of-month month day-of-week) or 6 (second first), found 1",
                "nicknames are not fields",
            ),
            (
                "61 * * * *",
                "UTC",
                "cron: the minute field \"61\" is not valid (",
                "minute 61",
            ),
            (
                "0 61 * * * *",
                "UTC",
                "cron: the minute field \"61\" is not valid (",
                "six fields: minute is second",
            ),
            (
                "* * * * 8",
                "UTC",
                "cron: the day-of-week field \"8\" is not valid (",
                "no day 8",
            ),
            (
                "* 24 * * *",
                "UTC",
                "cron: the hour field \"24\" is not valid (",
                "no hour 24",
            ),
            (
                "* * * 13 *",
                "UTC",
                "cron: the month field \"13\" is not valid (",
                "no month 13",
            ),
            (
                "x * * * *",
                "UTC",
                "cron: the minute field \"x\" is not valid (",
                "not a number",
            ),
            (
                "0 0 30 2 *",
                "UTC",
                "cron: the pattern matches no date (such as 30 February)",
                "30 February",
            ),
            (
                "0 0 * * *",
                "Europe/Pariss",
                "timeZone: unknown time zone \"Europe/Pariss\"; use an IANA name such as Europe/Paris",
                "a misspelt zone",
            ),
            (
                "0 0 * * *",
                "+02:00",
                "timeZone: unknown time zone \"+02:00\"; use an IANA name such as Europe/Paris",
                "an offset is no zone",
            ),
            (
                "0 0 * * *",
                "",
                "timeZone: unknown time zone \"\"; use an IANA name such as Europe/Paris",
                "no zone",
            ),
        ];
        for (cron, zone, message, reason) in table {
            let error = Schedule::parse(&ScheduleDefinition {
                cron: cron.to_owned(),
                time_zone: zone.to_owned(),
            })
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| panic!("{reason}: accepted"));
            // Where the reason is the cron crate's, the message goes on with its words.
            assert!(error.starts_with(message), "{reason}: {error}");
            assert!(!error.ends_with('('), "{reason}: {error}");
        }
    }

    #[test]
    fn at_start_a_missed_run_runs_once_and_otherwise_the_runner_waits() {
        let hourly = schedule("0 * * * *", "UTC");
        assert_eq!(
            hourly.at_start(at("2025-01-01T10:00:00Z"), at("2025-01-01T10:20:00Z")),
            AtStart::WaitUntil(at("2025-01-01T11:00:00Z")),
            "nothing fell due while down"
        );
        assert_eq!(
            hourly.at_start(at("2025-01-01T10:00:00Z"), at("2025-01-01T11:00:00Z")),
            AtStart::RunNow {
                missed: at("2025-01-01T11:00:00Z")
            },
            "due at the very instant of the start"
        );
        assert_eq!(
            hourly.at_start(at("2025-01-01T10:00:00Z"), at("2025-01-03T07:42:00Z")),
            AtStart::RunNow {
                missed: at("2025-01-01T11:00:00Z")
            },
            "45 missed runs are one run now"
        );
        let now = at("2025-01-03T07:42:00Z");
        assert_eq!(
            hourly.at_start(now, now),
            AtStart::WaitUntil(at("2025-01-03T08:00:00Z")),
            "once recorded, a restart does not run it again"
        );
    }

    #[test]
    fn definitions_round_trip() {
        let body = serde_json::json!({"cron": "0 6 * * 1", "timeZone": "Europe/Oslo"});
        let definition: ScheduleDefinition =
            serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(serde_json::to_value(&definition).ok(), Some(body));
    }
}
