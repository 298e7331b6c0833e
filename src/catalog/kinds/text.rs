//! `text`: free text. It is what a person typed, so spreadsheets get it through the
//! safety rules (`formats::safety`).

use super::{Db, KindSpec, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Text;

impl KindSpec for Text {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("{col}::text"),
            Db::Sqlite => format!("CAST({col} AS TEXT)"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        Ok(Cell::Text(text.to_owned()))
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        match cell {
            Cell::Text(t) => Cow::Borrowed(t),
            other => Cow::Owned(other.display()),
        }
    }
    fn free_text(&self) -> bool {
        true
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => matches!(
                sql_type,
                "text" | "varchar" | "character varying" | "bpchar" | "character" | "citext" | "name"
            ),
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "text" | "any" | "numeric"),
        }
    }
}
