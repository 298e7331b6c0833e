//! `json`: a JSON value. JSON and NDJSON embed it as it is; CSV and XLSX write its
//! compact text (which could be anything a person typed, so the spreadsheet rules apply).

use super::{Db, JsonForm, KindSpec, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Json;

impl KindSpec for Json {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("{col}::text"),
            Db::Sqlite => format!("CAST({col} AS TEXT)"),
        }
    }
    /// Compact JSON, so `json` and `jsonb` columns (and SQLite's text) read the same.
    fn decode(&self, text: &str) -> Result<Cell, String> {
        serde_json::from_str::<serde_json::Value>(text)
            .map(|v| Cell::Json(v.to_string()))
            .map_err(|e| format!("not JSON: {e}"))
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        match cell {
            Cell::Json(j) => Cow::Borrowed(j),
            other => Cow::Owned(other.display()),
        }
    }
    fn free_text(&self) -> bool {
        true
    }
    fn json<'a>(&self, cell: &'a Cell) -> JsonForm<'a> {
        JsonForm::Raw(self.text(cell))
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => sql_type == "json" || sql_type == "jsonb",
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "text" | "numeric" | "any"),
        }
    }
}
