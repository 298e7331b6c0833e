//! `integer`: a whole number (any of Postgres's integer types, SQLite INTEGER).

use super::{Db, EXACT_IN_A_SHEET, JsonForm, KindSpec, SheetForm, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Integer;

impl KindSpec for Integer {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("{col}::text"),
            Db::Sqlite => format!("CAST({col} AS TEXT)"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        text.trim()
            .parse()
            .map(Cell::Integer)
            .map_err(|_| format!("`{text}` is not a whole number"))
    }
    fn param(&self, db: Db, p: &str) -> String {
        match db {
            Db::Postgres => format!("{p}::bigint"),
            Db::Sqlite => format!("CAST({p} AS INTEGER)"),
        }
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        Cow::Owned(cell.display())
    }
    fn json<'a>(&self, cell: &'a Cell) -> JsonForm<'a> {
        JsonForm::Raw(Cow::Owned(cell.display()))
    }
    fn sheet<'a>(&self, cell: &'a Cell) -> SheetForm<'a> {
        match cell {
            // Exact in an f64 and within the 15 digits a sheet keeps.
            Cell::Integer(n) if n.unsigned_abs() < EXACT_IN_A_SHEET => SheetForm::Number(*n as f64, "0"),
            other => SheetForm::Text(Cow::Owned(other.display())),
        }
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => matches!(sql_type, "int2" | "int4" | "int8" | "smallint" | "integer" | "bigint"),
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "integer" | "numeric" | "any"),
        }
    }
}
