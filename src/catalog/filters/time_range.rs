//! `time_range`: from `{id}_from` (inclusive) to `{id}_to`, over a date or a timestamp
//! column. A value is an RFC 3339 time or a date; for a timestamp a date means its
//! midnight UTC, and `_to` a date includes that whole day.

use super::{Condition, FilterError, FilterSpec, Filters, Op, condition, error};
use crate::catalog::{Column, Filter, Kind};
use chrono::{DateTime, NaiveDate, Utc};

pub struct TimeRange;

/// The one way a timestamp parameter is written: fixed width, so SQLite's text order is
/// time order (`2025-01-31T09:05:00.000000Z`).
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse(param: &str, raw: &str, kind: Kind, end: bool) -> Result<String, FilterError> {
    let not_a_time = || {
        error(
            param,
            format!("`{raw}` is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"),
        )
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        let t = t.with_timezone(&Utc);
        return Ok(match kind {
            Kind::Date => t.date_naive().format("%Y-%m-%d").to_string(),
            _ => time_text(&t),
        });
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| not_a_time())?;
    Ok(match kind {
        Kind::Date => date.format("%Y-%m-%d").to_string(),
        // The end of a day is the next midnight, so `to=2025-03-31` includes the 31st.
        _ => {
            let day = if end {
                date.succ_opt().ok_or_else(not_a_time)?
            } else {
                date
            };
            time_text(&day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        }
    })
}

impl FilterSpec for TimeRange {
    fn applies_to(&self, k: Kind) -> bool {
        k.is_time()
    }
    fn check(&self, filter: &Filter, column: &Column, param: &str, value: &str) -> Result<Option<String>, FilterError> {
        let end = param == filter.kind.params(&filter.id)[1];
        parse(param, value, column.kind, end).map(Some)
    }
    fn conditions(&self, filter: &Filter, column: &Column, filters: &Filters) -> Vec<Condition> {
        let params = filter.kind.params(&filter.id);
        // A date column includes its `to` day; a time's end is exclusive.
        let until = if column.kind == Kind::Date {
            Op::AtMost
        } else {
            Op::Below
        };
        [
            condition(column, filters, &params[0], Op::AtLeast),
            condition(column, filters, &params[1], until),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
    fn check_together(&self, filter: &Filter, filters: &Filters) -> Result<(), FilterError> {
        let params = filter.kind.params(&filter.id);
        if let (Some(from), Some(to)) = (filters.get(&params[0]), filters.get(&params[1]))
            && to <= from
            && !(to == from && to.len() == 10)
        {
            return Err(error(&params[1], "the range ends before it starts"));
        }
        Ok(())
    }
}
