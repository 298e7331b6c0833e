//! `timestamp`: a point in time, read in UTC and written in RFC 3339 with sub-seconds
//! only when there are some (`2025-03-31T09:05:00Z`, `…:00.500Z`). SQLite keeps it as
//! RFC 3339 text.

use super::{Db, KindSpec, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Timestamp;

/// RFC 3339 in UTC with `Z`, sub-seconds only when there are some.
pub fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl KindSpec for Timestamp {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            // A `timestamp` without a zone is read as UTC: the source's sessions run in UTC.
            Db::Postgres => {
                format!("to_char(({col})::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            Db::Sqlite => format!("CAST({col} AS TEXT)"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        chrono::DateTime::parse_from_rfc3339(text.trim())
            .map(|t| Cell::Timestamp(t.with_timezone(&chrono::Utc)))
            .map_err(|_| format!("`{text}` is not an RFC 3339 timestamp"))
    }
    fn param(&self, db: Db, p: &str) -> String {
        match db {
            Db::Postgres => format!("{p}::timestamptz"),
            Db::Sqlite => p.to_owned(),
        }
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        match cell {
            Cell::Timestamp(t) => Cow::Owned(rfc3339(t)),
            other => Cow::Owned(other.display()),
        }
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => matches!(
                sql_type,
                "timestamptz" | "timestamp" | "timestamp with time zone" | "timestamp without time zone"
            ),
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "text" | "numeric" | "any"),
        }
    }
}
