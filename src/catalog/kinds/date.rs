//! `date`: a calendar date, written `2025-03-31`.

use super::{Db, KindSpec, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Date;

impl KindSpec for Date {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("to_char({col}, 'YYYY-MM-DD')"),
            Db::Sqlite => format!("substr(CAST({col} AS TEXT), 1, 10)"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(Cell::Date)
            .map_err(|_| format!("`{text}` is not a date (YYYY-MM-DD)"))
    }
    fn param(&self, db: Db, p: &str) -> String {
        match db {
            Db::Postgres => format!("{p}::date"),
            Db::Sqlite => p.to_owned(),
        }
    }
    fn compared(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => col.to_owned(),
            Db::Sqlite => format!("substr(CAST({col} AS TEXT), 1, 10)"),
        }
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        Cow::Owned(cell.display())
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => sql_type == "date",
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "text" | "numeric" | "any"),
        }
    }
}
