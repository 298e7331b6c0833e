//! `text_list`: a list of short texts (tags). Read as a JSON array from either database
//! (Postgres `text[]`, SQLite JSON text); CSV and XLSX write one cell joined by commas,
//! JSON an array.

use super::{Db, JsonForm, KindSpec, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct TextList;

impl KindSpec for TextList {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("array_to_json({col})::text"),
            Db::Sqlite => format!("CAST({col} AS TEXT)"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        serde_json::from_str::<Vec<Option<String>>>(text)
            .map(|items| Cell::List(items.into_iter().flatten().collect()))
            .map_err(|e| format!("not a JSON array of texts: {e}"))
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        match cell {
            Cell::List(items) => Cow::Owned(items.join(",")),
            other => Cow::Owned(other.display()),
        }
    }
    fn free_text(&self) -> bool {
        true
    }
    fn json<'a>(&self, cell: &'a Cell) -> JsonForm<'a> {
        match cell {
            Cell::List(items) => JsonForm::List(items),
            _ => JsonForm::Null,
        }
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => matches!(sql_type, "_text" | "_varchar" | "array" | "text[]"),
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "text" | "numeric" | "any"),
        }
    }
}
