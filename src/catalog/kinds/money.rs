//! `money`: an amount in minor units (an integer column), written as an exact decimal
//! with as many decimals as its currency has (`currency_column`; two without one). JSON
//! writes it as a string, so no parser rounds it; XLSX as a number while Excel can hold
//! it exactly.

use super::{Db, EXACT_IN_A_SHEET, JsonForm, KindSpec, SheetForm, number_format, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Money;

impl KindSpec for Money {
    fn read(&self, db: Db, col: &str) -> String {
        super::integer::Integer.read(db, col)
    }
    /// Two decimals; the source sets the currency's (`Cell::Money::scale`) per row.
    fn decode(&self, text: &str) -> Result<Cell, String> {
        text.trim()
            .parse()
            .map(Cell::cents)
            .map_err(|_| format!("`{text}` is not an amount in minor units"))
    }
    fn param(&self, db: Db, p: &str) -> String {
        super::integer::Integer.param(db, p)
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        Cow::Owned(cell.display())
    }
    fn json<'a>(&self, cell: &'a Cell) -> JsonForm<'a> {
        JsonForm::Str(self.text(cell))
    }
    fn sheet<'a>(&self, cell: &'a Cell) -> SheetForm<'a> {
        match cell {
            // minor / 10^scale is the f64 nearest the decimal, and at 15 digits or fewer
            // that f64 is written back as exactly the decimal.
            Cell::Money { minor, scale } if minor.unsigned_abs() < EXACT_IN_A_SHEET => {
                SheetForm::Number(*minor as f64 / 10f64.powi(*scale as i32), number_format(*scale))
            }
            other => SheetForm::Text(Cow::Owned(other.display())),
        }
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        super::integer::Integer.accepts(db, sql_type) || (db == Db::Sqlite && sqlite_affinity(sql_type) == "any")
    }
}
