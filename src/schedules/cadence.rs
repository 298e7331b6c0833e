//! When a schedule runs next. Every cadence becomes a five-field cron pattern, and croner
//! finds its next time in the schedule's time zone (chrono-tz's IANA rules). Croner
//! follows Vixie cron across daylight-saving changes: a fixed time the clock skips runs
//! at the first minute after the change, a fixed time that happens twice runs once (the
//! first time), and hourly patterns keep every real hour.

use super::{Cadence, Last, MonthDay, WEEKDAYS};
use crate::error::AppError;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// An IANA time zone name, checked.
pub fn time_zone(name: &str) -> Result<Tz, AppError> {
    name.parse::<Tz>().map_err(|_| {
        AppError::invalid(
            "time_zone",
            format!("unknown time zone `{name}` (use an IANA name such as Europe/Berlin or America/New_York)"),
        )
    })
}

/// `HH:MM`, 24-hour, as (hour, minute).
fn time_of_day(at: &str) -> Result<(u32, u32), AppError> {
    let bad = || {
        AppError::invalid(
            "cadence.at",
            format!("`{at}` is not a time of day (write it as HH:MM, 24-hour, such as 09:00)"),
        )
    };
    let (h, m) = at.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok((h, m))
}

/// The cron pattern of a cadence, checked.
fn pattern(cadence: &Cadence) -> Result<String, AppError> {
    Ok(match cadence {
        Cadence::Hourly { minute } if *minute <= 59 => format!("{minute} * * * *"),
        Cadence::Hourly { minute } => {
            return Err(AppError::invalid(
                "cadence.minute",
                format!("{minute} is not a minute of the hour (0 to 59)"),
            ));
        }
        Cadence::Daily { at } => {
            let (h, m) = time_of_day(at)?;
            format!("{m} {h} * * *")
        }
        Cadence::Weekly { weekday, at } => {
            let (h, m) = time_of_day(at)?;
            let day = WEEKDAYS.iter().position(|d| d == weekday).ok_or_else(|| {
                AppError::invalid(
                    "cadence.weekday",
                    format!("`{weekday}` is not a day of the week (one of: {})", WEEKDAYS.join(", ")),
                )
            })?;
            // Cron counts from Sunday (0); WEEKDAYS from Monday.
            format!("{m} {h} * * {}", (day + 1) % 7)
        }
        Cadence::Monthly { day, at } => {
            let (h, m) = time_of_day(at)?;
            match day {
                MonthDay::Day(d) if (1..=28).contains(d) => format!("{m} {h} {d} * *"),
                MonthDay::Last(Last::Last) => format!("{m} {h} L * *"),
                MonthDay::Day(d) => {
                    return Err(AppError::invalid(
                        "cadence.day",
                        format!("{d} is not a day every month has (1 to 28, or \"last\" for the month's last day)"),
                    ));
                }
            }
        }
        Cadence::Cron { expression } => {
            let fields = expression.split_whitespace().count();
            if fields != 5 {
                return Err(AppError::invalid(
                    "cadence.expression",
                    format!(
                        "`{expression}` has {fields} fields; write five: minute hour day-of-month month day-of-week (such as `0 9 * * 1-5`)"
                    ),
                ));
            }
            expression.clone()
        }
    })
}

fn compile(cadence: &Cadence) -> Result<Cron, AppError> {
    let pattern = pattern(cadence)?;
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(&pattern)
        .map_err(|e| {
            AppError::invalid(
                "cadence.expression",
                format!("`{pattern}` is not a cron expression: {e}"),
            )
        })
}

/// Checks a cadence and its time zone, and answers when it runs first after `after`.
pub fn next_after(cadence: &Cadence, time_zone_name: &str, after: DateTime<Utc>) -> Result<DateTime<Utc>, AppError> {
    let tz = time_zone(time_zone_name)?;
    let cron = compile(cadence)?;
    let next = cron
        .find_next_occurrence(&after.with_timezone(&tz), false)
        .map_err(|e| AppError::invalid("cadence", format!("this schedule never runs: {e}")))?;
    Ok(next.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn runs(cadence: &Cadence, tz: &str, from: &str, n: usize) -> Vec<String> {
        let mut t = at(from);
        (0..n)
            .map(|_| {
                t = next_after(cadence, tz, t).unwrap();
                t.format("%Y-%m-%dT%H:%MZ").to_string()
            })
            .collect()
    }

    fn daily(at: &str) -> Cadence {
        Cadence::Daily { at: at.into() }
    }

    #[test]
    fn a_daily_time_the_clock_skips_runs_once_just_after_the_change() {
        // Berlin springs forward on 2027-03-28 from 02:00 CET to 03:00 CEST.
        assert_eq!(
            runs(&daily("02:30"), "Europe/Berlin", "2027-03-26T12:00:00Z", 3),
            ["2027-03-27T01:30Z", "2027-03-28T01:00Z", "2027-03-29T00:30Z"]
        );
    }

    #[test]
    fn a_daily_time_that_happens_twice_runs_once() {
        // Berlin falls back on 2027-10-31 from 03:00 CEST to 02:00 CET.
        assert_eq!(
            runs(&daily("02:30"), "Europe/Berlin", "2027-10-30T12:00:00Z", 3),
            ["2027-10-31T00:30Z", "2027-11-01T01:30Z", "2027-11-02T01:30Z"]
        );
    }

    #[test]
    fn local_times_follow_the_zone_across_a_change() {
        // 09:00 in New York is 13:00 UTC in summer and 14:00 UTC in winter.
        let weekly = Cadence::Weekly {
            weekday: "monday".into(),
            at: "09:00".into(),
        };
        assert_eq!(
            runs(&weekly, "America/New_York", "2027-10-30T00:00:00Z", 2),
            ["2027-11-01T13:00Z", "2027-11-08T14:00Z"]
        );
    }

    #[test]
    fn hourly_and_monthly_and_cron() {
        assert_eq!(
            runs(&Cadence::Hourly { minute: 15 }, "UTC", "2027-01-01T10:20:00Z", 2),
            ["2027-01-01T11:15Z", "2027-01-01T12:15Z"]
        );
        let last = Cadence::Monthly {
            day: MonthDay::Last(Last::Last),
            at: "18:00".into(),
        };
        assert_eq!(
            runs(&last, "UTC", "2027-01-31T19:00:00Z", 2),
            ["2027-02-28T18:00Z", "2027-03-31T18:00Z"]
        );
        let weekdays = Cadence::Cron {
            expression: "0 9 * * 1-5".into(),
        };
        // 2027-01-01 is a Friday.
        assert_eq!(
            runs(&weekdays, "UTC", "2027-01-01T10:00:00Z", 2),
            ["2027-01-04T09:00Z", "2027-01-05T09:00Z"]
        );
    }

    #[test]
    fn bad_cadences_name_their_field() {
        let field = |c: Cadence, tz: &str| next_after(&c, tz, Utc::now()).unwrap_err().field.unwrap();
        assert_eq!(field(daily("9:00"), "UTC"), "cadence.at");
        assert_eq!(field(daily("24:00"), "UTC"), "cadence.at");
        assert_eq!(field(daily("09:00"), "Mars/Olympus"), "time_zone");
        assert_eq!(field(Cadence::Hourly { minute: 60 }, "UTC"), "cadence.minute");
        let weekly = Cadence::Weekly {
            weekday: "funday".into(),
            at: "09:00".into(),
        };
        assert_eq!(field(weekly, "UTC"), "cadence.weekday");
        let monthly = Cadence::Monthly {
            day: MonthDay::Day(31),
            at: "09:00".into(),
        };
        assert_eq!(field(monthly, "UTC"), "cadence.day");
        for expression in ["0 0 9 * * 1", "not cron at all", "61 * * * *"] {
            let cron = Cadence::Cron {
                expression: expression.into(),
            };
            assert_eq!(field(cron, "UTC"), "cadence.expression", "{expression}");
        }
    }
}
