//! `boolean`: true or false; SQLite keeps it as 1 or 0.

use super::{Db, JsonForm, KindSpec, SheetForm, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Boolean;

impl KindSpec for Boolean {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("{col}::text"),
            Db::Sqlite => format!("CASE WHEN {col} IS NULL THEN NULL WHEN {col} THEN 'true' ELSE 'false' END"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        match text.trim() {
            "true" | "t" | "1" => Ok(Cell::Bool(true)),
            "false" | "f" | "0" => Ok(Cell::Bool(false)),
            other => Err(format!("`{other}` is not true or false")),
        }
    }
    fn param(&self, db: Db, p: &str) -> String {
        match db {
            Db::Postgres => format!("{p}::boolean"),
            Db::Sqlite => format!("(CASE {p} WHEN 'true' THEN 1 ELSE 0 END)"),
        }
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        Cow::Borrowed(match cell {
            Cell::Bool(true) => "true",
            Cell::Bool(false) => "false",
            _ => "",
        })
    }
    fn json<'a>(&self, cell: &'a Cell) -> JsonForm<'a> {
        JsonForm::Raw(self.text(cell))
    }
    fn sheet<'a>(&self, cell: &'a Cell) -> SheetForm<'a> {
        match cell {
            Cell::Bool(b) => SheetForm::Bool(*b),
            _ => SheetForm::Empty,
        }
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => sql_type == "bool" || sql_type == "boolean",
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "integer" | "numeric" | "any"),
        }
    }
}
