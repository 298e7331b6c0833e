//! Column kinds. Each kind is one file that owns how its values are read from either
//! database (as text, so one decoder serves both), decoded, compared with a parameter,
//! and written as CSV text, JSON and an XLSX cell. `spec` is the registry.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A whole number.
    Integer,
    /// An exact decimal number (`numeric`).
    Decimal,
    /// An amount in minor units (cents), written as an exact decimal in its currency.
    Money,
    /// Free text.
    Text,
    Boolean,
    /// A calendar date.
    Date,
    /// A point in time, written in RFC 3339 UTC.
    Timestamp,
    Uuid,
    /// A JSON value.
    Json,
    /// A list of short texts (tags).
    TextList,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::Integer,
        Kind::Decimal,
        Kind::Money,
        Kind::Text,
        Kind::Boolean,
        Kind::Date,
        Kind::Timestamp,
        Kind::Uuid,
        Kind::Json,
        Kind::TextList,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Kind::Integer => "integer",
            Kind::Decimal => "decimal",
            Kind::Money => "money",
            Kind::Text => "text",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp",
            Kind::Uuid => "uuid",
            Kind::Json => "json",
            Kind::TextList => "text_list",
        }
    }

    /// Kinds whose values can be ordered and compared with `<` (ranges, keys).
    pub fn is_ordered(self) -> bool {
        !matches!(self, Kind::Json | Kind::TextList | Kind::Boolean)
    }

    pub fn is_number(self) -> bool {
        matches!(self, Kind::Integer | Kind::Decimal | Kind::Money)
    }

    pub fn is_time(self) -> bool {
        matches!(self, Kind::Date | Kind::Timestamp)
    }
}

#[cfg(feature = "ssr")]
pub use server::*;

#[cfg(feature = "ssr")]
mod boolean;
#[cfg(feature = "ssr")]
mod date;
#[cfg(feature = "ssr")]
pub mod decimal;
#[cfg(feature = "ssr")]
mod integer;
#[cfg(feature = "ssr")]
mod json;
#[cfg(feature = "ssr")]
mod money;
#[cfg(feature = "ssr")]
mod text;
#[cfg(feature = "ssr")]
mod text_list;
#[cfg(feature = "ssr")]
mod timestamp;
#[cfg(feature = "ssr")]
mod uuid;

#[cfg(feature = "ssr")]
mod server {
    use super::Kind;
    use crate::catalog::Cell;
    use std::borrow::Cow;

    /// Which database a piece of SQL is for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Db {
        Postgres,
        Sqlite,
    }

    /// A value as JSON shows it.
    pub enum JsonForm<'a> {
        Null,
        /// A JSON literal written as it is: a number, `true`, an object.
        Raw(Cow<'a, str>),
        Str(Cow<'a, str>),
        List(&'a [String]),
    }

    /// A value as an XLSX cell holds it.
    pub enum SheetForm<'a> {
        Empty,
        /// A number cell shown with the Excel number format.
        Number(f64, &'static str),
        Bool(bool),
        Text(Cow<'a, str>),
    }

    pub trait KindSpec: Sync {
        /// SQL that reads the column `col` (quoted) as the text `decode` reads.
        fn read(&self, db: Db, col: &str) -> String;
        /// The value from that text.
        fn decode(&self, text: &str) -> Result<Cell, String>;
        /// SQL for a text parameter compared with the column: cast to its type.
        fn param(&self, db: Db, placeholder: &str) -> String {
            let _ = db;
            placeholder.to_owned()
        }
        /// SQL for the column in such a comparison.
        fn compared(&self, db: Db, col: &str) -> String {
            let _ = db;
            col.to_owned()
        }
        /// Whether a parameter's text is a value of this kind (filters check before SQL).
        fn valid_param(&self, text: &str) -> bool {
            self.decode(text).is_ok()
        }
        /// The text of a value for CSV and for XLSX text cells (before the spreadsheet
        /// rules, which apply when `free_text`).
        fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str>;
        /// Whether the text can be anything a person typed (so spreadsheet rules apply).
        fn free_text(&self) -> bool {
            false
        }
        fn json<'a>(&self, cell: &'a Cell) -> JsonForm<'a> {
            JsonForm::Str(self.text(cell))
        }
        fn sheet<'a>(&self, cell: &'a Cell) -> SheetForm<'a> {
            SheetForm::Text(self.text(cell))
        }
        /// Whether a column of the database type `sql_type` (lower case, as the
        /// database's catalog names it) can be read as this kind.
        fn accepts(&self, db: Db, sql_type: &str) -> bool;
    }

    /// The module of a kind.
    pub fn spec(kind: Kind) -> &'static dyn KindSpec {
        match kind {
            Kind::Integer => &super::integer::Integer,
            Kind::Decimal => &super::decimal::Decimal,
            Kind::Money => &super::money::Money,
            Kind::Text => &super::text::Text,
            Kind::Boolean => &super::boolean::Boolean,
            Kind::Date => &super::date::Date,
            Kind::Timestamp => &super::timestamp::Timestamp,
            Kind::Uuid => &super::uuid::Uuid,
            Kind::Json => &super::json::Json,
            Kind::TextList => &super::text_list::TextList,
        }
    }

    /// SQLite's type affinity rules, for `accepts`: the declared type as SQLite reads it.
    pub fn sqlite_affinity(declared: &str) -> &'static str {
        let t = declared.to_ascii_uppercase();
        if t.is_empty() {
            "any" // views and expressions: nothing declared
        } else if t.contains("INT") {
            "integer"
        } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
            "text"
        } else if t.contains("BLOB") {
            "blob"
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            "real"
        } else {
            "numeric"
        }
    }

    /// Numbers beyond this (in absolute value, in their least unit) have more than the 15
    /// significant digits an XLSX number keeps exactly; they are written as text.
    pub const EXACT_IN_A_SHEET: u64 = 1_000_000_000_000_000;

    /// The Excel number format for `scale` decimals.
    pub fn number_format(scale: u8) -> &'static str {
        match scale {
            0 => "0",
            1 => "0.0",
            2 => "0.00",
            3 => "0.000",
            4 => "0.0000",
            5 => "0.00000",
            6 => "0.000000",
            // Past six places a sheet's 15 digits run short anyway.
            _ => "General",
        }
    }
}
