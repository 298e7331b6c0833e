//! Filters as they arrive (strings from a URL or a JSON body) and as the store uses them.
//! `Filters::parse` is the only way to get a `Filters`, so the store never sees bad input.

use super::Dataset;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Filters and paging exactly as the URL query string carries them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FilterQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<i64>,
}

/// Where a page starts: the first page, after a cursor, or before one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageRequest {
    First,
    After(i64),
    Before(i64),
}

impl FilterQuery {
    pub fn page_request(&self) -> PageRequest {
        match (self.after, self.before) {
            (Some(after), _) => PageRequest::After(after),
            (None, Some(before)) => PageRequest::Before(before),
            (None, None) => PageRequest::First,
        }
    }
}

/// Validated filters: a half-open created-at range, a known status, a tag.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Filters {
    /// Inclusive lower bound.
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub created_to: Option<DateTime<Utc>>,
    pub status: Option<String>,
    pub tag: Option<String>,
}

/// A filter that cannot be applied; the message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FilterError {
    pub field: &'static str,
    pub message: String,
}

fn error(field: &'static str, message: impl Into<String>) -> FilterError {
    FilterError {
        field,
        message: message.into(),
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An RFC 3339 timestamp, or a calendar date meaning midnight UTC of that day.
/// `end_of_day` turns a date into the next midnight, so `to=2025-03-31` includes that day.
fn parse_time(field: &'static str, raw: &str, end_of_day: bool) -> Result<DateTime<Utc>, FilterError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
        error(
            field,
            format!("`{raw}` is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"),
        )
    })?;
    let date = if end_of_day {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
}

impl Filters {
    pub fn parse(dataset: &Dataset, query: &FilterQuery) -> Result<Filters, FilterError> {
        let created_from = non_empty(&query.created_from)
            .map(|raw| parse_time("created_from", raw, false))
            .transpose()?;
        let created_to = non_empty(&query.created_to)
            .map(|raw| parse_time("created_to", raw, true))
            .transpose()?;
        if let (Some(from), Some(to)) = (created_from, created_to)
            && to <= from
        {
            return Err(error("created_to", "the range ends before it starts"));
        }
        let status = match non_empty(&query.status) {
            None => None,
            Some(s) if dataset.statuses.contains(&s) => Some(s.to_owned()),
            Some(s) => {
                return Err(error(
                    "status",
                    format!(
                        "`{s}` is not a status of {} (one of: {})",
                        dataset.id,
                        dataset.statuses.join(", ")
                    ),
                ));
            }
        };
        let tag = match non_empty(&query.tag) {
            Some(_) if !dataset.has_tags => {
                return Err(error("tag", format!("{} have no tags", dataset.id)));
            }
            Some(t) if t.len() > 64 => return Err(error("tag", "longer than 64 characters")),
            other => other.map(str::to_owned),
        };
        Ok(Filters {
            created_from,
            created_to,
            status,
            tag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::find;

    fn q(from: &str, to: &str, status: &str, tag: &str) -> FilterQuery {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        FilterQuery {
            created_from: opt(from),
            created_to: opt(to),
            status: opt(status),
            tag: opt(tag),
            ..Default::default()
        }
    }

    #[test]
    fn dates_and_timestamps_make_a_half_open_range() {
        let f = Filters::parse(find("contacts").unwrap(), &q("2025-01-01", "2025-01-31", "", "")).unwrap();
        assert_eq!(f.created_from.unwrap().to_rfc3339(), "2025-01-01T00:00:00+00:00");
        assert_eq!(f.created_to.unwrap().to_rfc3339(), "2025-02-01T00:00:00+00:00");
        let f = Filters::parse(
            find("orders").unwrap(),
            &q("2025-01-01T10:00:00+02:00", "", "paid", "vip"),
        )
        .unwrap();
        assert_eq!(f.created_from.unwrap().to_rfc3339(), "2025-01-01T08:00:00+00:00");
        assert_eq!(f.status.as_deref(), Some("paid"));
        assert_eq!(f.tag.as_deref(), Some("vip"));
    }

    #[test]
    fn bad_input_names_the_field() {
        let contacts = find("contacts").unwrap();
        let e = Filters::parse(contacts, &q("yesterday", "", "", "")).unwrap_err();
        assert_eq!(e.field, "created_from");
        assert!(e.to_string().contains("`yesterday`"), "{e}");
        let e = Filters::parse(contacts, &q("2025-02-01", "2025-01-01", "", "")).unwrap_err();
        assert_eq!(e.to_string(), "created_to: the range ends before it starts");
        let e = Filters::parse(contacts, &q("", "", "paid", "")).unwrap_err();
        assert_eq!(e.field, "status");
        assert!(e.message.contains("lead, active"), "{e}");
        let e = Filters::parse(find("members").unwrap(), &q("", "", "", "vip")).unwrap_err();
        assert_eq!(e.to_string(), "tag: members have no tags");
    }

    #[test]
    fn blank_values_mean_no_filter() {
        let f = Filters::parse(find("contacts").unwrap(), &q(" ", "", "", "")).unwrap();
        assert_eq!(f, Filters::default());
    }
}
