//! `decimal`: an exact decimal number (`numeric`). It stays text from the database to the
//! file, so no digit is lost; JSON writes it as a string, as it does money.

use super::{Db, JsonForm, KindSpec, SheetForm, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Decimal;

/// `-12.50`, `3`, `0.001`: an optional sign, digits, an optional fraction.
pub fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && fraction.is_empty())
}

impl KindSpec for Decimal {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("{col}::text"),
            Db::Sqlite => format!("CAST({col} AS TEXT)"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        let text = text.trim();
        if is_decimal(text) {
            Ok(Cell::Decimal(text.to_owned()))
        } else {
            Err(format!("`{text}` is not a decimal number"))
        }
    }
    fn param(&self, db: Db, p: &str) -> String {
        match db {
            Db::Postgres => format!("{p}::numeric"),
            Db::Sqlite => format!("CAST({p} AS REAL)"),
        }
    }
    fn compared(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => col.to_owned(),
            // SQLite may keep decimals as text; compare them as numbers.
            Db::Sqlite => format!("CAST({col} AS REAL)"),
        }
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        match cell {
            Cell::Decimal(d) => Cow::Borrowed(d),
            other => Cow::Owned(other.display()),
        }
    }
    fn json<'a>(&self, cell: &'a Cell) -> JsonForm<'a> {
        JsonForm::Str(self.text(cell))
    }
    fn sheet<'a>(&self, cell: &'a Cell) -> SheetForm<'a> {
        let text = self.text(cell);
        let significant = text.bytes().filter(u8::is_ascii_digit).count();
        let scale = text.split_once('.').map_or(0, |(_, f)| f.len());
        // Up to 15 digits the nearest f64 is written back as exactly this decimal.
        match text.parse::<f64>() {
            Ok(n) if significant <= 15 => SheetForm::Number(n, super::number_format(scale.min(7) as u8)),
            _ => SheetForm::Text(text),
        }
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => matches!(
                sql_type,
                "numeric" | "decimal" | "int2" | "int4" | "int8" | "smallint" | "integer" | "bigint"
            ),
            Db::Sqlite => sqlite_affinity(sql_type) != "blob",
        }
    }
}
