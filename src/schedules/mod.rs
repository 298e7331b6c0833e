//! Schedules: a saved export (dataset, filters, columns, format, options) that runs on a
//! cadence in a time zone. Each run is an ordinary export job, with the same progress,
//! limits, audit trail and notifications; the schedule keeps a history of what each due
//! time did. The cadence arithmetic is in `cadence.rs`, who may do what in `rules.rs`,
//! and firing due schedules (once per due time, however many nodes) in `runner.rs`.

#[cfg(feature = "ssr")]
pub mod cadence;
mod page;
#[cfg(feature = "ssr")]
pub mod rules;
#[cfg(feature = "ssr")]
pub mod runner;

pub use page::SchedulesPage;

use crate::error::AppError;
use crate::exports::{JobStatus, NewExport};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The days of the week, as the API names them.
pub const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// When a schedule runs, read in its time zone. Times of day are `HH:MM` (24-hour).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "every", rename_all = "lowercase", deny_unknown_fields)]
pub enum Cadence {
    /// Every hour at this minute.
    Hourly {
        minute: u8,
    },
    Daily {
        at: String,
    },
    Weekly {
        weekday: String,
        at: String,
    },
    /// On this day of the month (1–28, or `last`).
    Monthly {
        day: MonthDay,
        at: String,
    },
    /// A five-field cron expression (minute hour day-of-month month day-of-week).
    Cron {
        expression: String,
    },
}

/// A day of the month a monthly schedule runs: 1 to 28 (every month has them), or the
/// month's last day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MonthDay {
    Day(u8),
    Last(Last),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Last {
    Last,
}

impl Cadence {
    /// "Every Monday at 09:00", for people.
    pub fn describe(&self) -> String {
        match self {
            Cadence::Hourly { minute } => format!("Every hour at :{minute:02}"),
            Cadence::Daily { at } => format!("Every day at {at}"),
            Cadence::Weekly { weekday, at } => {
                let mut day = weekday.clone();
                if let Some(first) = day.get_mut(0..1) {
                    first.make_ascii_uppercase();
                }
                format!("Every {day} at {at}")
            }
            Cadence::Monthly {
                day: MonthDay::Day(d),
                at,
            } => format!("Monthly on day {d} at {at}"),
            Cadence::Monthly {
                day: MonthDay::Last(_),
                at,
            } => format!("Monthly on the last day at {at}"),
            Cadence::Cron { expression } => format!("Cron `{expression}`"),
        }
    }
}

/// A schedule as the API takes it (create and replace).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    pub name: String,
    /// The export each run makes: the body of `POST /api/exports`.
    pub export: NewExport,
    pub cadence: Cadence,
    /// An IANA time zone name (`Europe/Berlin`); the cadence's times are read in it.
    pub time_zone: String,
    #[serde(default)]
    pub paused: bool,
    /// Each run exports only the rows changed since the previous completed run (the
    /// first run: all of them). The dataset must declare its change column.
    #[serde(default)]
    pub incremental: bool,
}

/// What one due time (or "run now") did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    /// The due time it was for (for "run now", when it was asked for).
    pub due_at: DateTime<Utc>,
    /// `started` (an export was made), or `skipped` (see `note`).
    pub outcome: String,
    pub note: Option<String>,
    /// The export it made.
    pub export_id: Option<String>,
    pub status: Option<JobStatus>,
    pub rows: Option<i64>,
    pub error: Option<String>,
}

/// A schedule as the page and the API show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleView {
    pub id: i64,
    pub name: String,
    pub export: NewExport,
    pub cadence: Cadence,
    /// "Every Monday at 09:00", for people.
    pub description: String,
    pub time_zone: String,
    pub paused: bool,
    pub incremental: bool,
    /// When it runs next (none while paused).
    pub next_run_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_by_id: i64,
    pub created_at: DateTime<Utc>,
    /// The latest runs, newest first.
    pub runs: Vec<RunView>,
}

#[leptos::server(prefix = "/rpc", endpoint = "list_schedules")]
pub async fn list_schedules() -> Result<Vec<ScheduleView>, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        rules::list(&crate::accounts::ssr::state(), &member).await
    })
    .await
}

#[leptos::server(prefix = "/rpc", endpoint = "save_schedule", input = leptos::server_fn::codec::Json)]
pub async fn save_schedule(id: Option<i64>, request: ScheduleRequest) -> Result<ScheduleView, AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        let state = crate::accounts::ssr::state();
        match id {
            Some(id) => rules::replace(&state, &member, id, request).await,
            None => rules::create(&state, &member, request).await,
        }
    })
    .await
}

/// Pause, resume, run now or delete.
#[leptos::server(prefix = "/rpc", endpoint = "act_on_schedule")]
pub async fn act_on_schedule(id: i64, action: String) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        let member = crate::accounts::ssr::require_member().await?;
        let state = crate::accounts::ssr::state();
        match action.as_str() {
            "pause" => rules::set_paused(&state, &member, id, true).await.map(drop),
            "resume" => rules::set_paused(&state, &member, id, false).await.map(drop),
            "run" => rules::run_now(&state, &member, id).await.map(drop),
            "delete" => rules::delete(&state, &member, id).await,
            other => Err(AppError::invalid("action", format!("unknown action `{other}`"))),
        }
    })
    .await
}
