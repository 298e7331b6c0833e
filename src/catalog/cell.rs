//! One value of a row, typed by its column's kind. Both halves use it: the data pages
//! show cells, the encoders write them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    Null,
    Integer(i64),
    /// An exact decimal as the database wrote it (`-12.50`): never a float.
    Decimal(String),
    /// An amount in minor units, and how many of its digits are decimals (2 for cents,
    /// 0 for yen, 3 for fils).
    Money {
        minor: i64,
        scale: u8,
    },
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    Timestamp(DateTime<Utc>),
    /// A UUID, lower-case and hyphenated.
    Uuid(String),
    /// A JSON value, as compact JSON text.
    Json(String),
    List(Vec<String>),
}

impl Cell {
    /// An amount in cents.
    pub fn cents(minor: i64) -> Cell {
        Cell::Money { minor, scale: 2 }
    }

    /// The value as a person reads it: money as an exact decimal, times in RFC 3339 UTC.
    pub fn display(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Integer(n) => n.to_string(),
            Cell::Decimal(d) | Cell::Uuid(d) | Cell::Json(d) | Cell::Text(d) => d.clone(),
            Cell::Money { minor, scale } => format_minor(*minor, *scale),
            Cell::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
            Cell::Date(d) => d.format("%Y-%m-%d").to_string(),
            Cell::Timestamp(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Cell::List(items) => items.join(", "),
        }
    }

    /// Whether the value is a number a table should align to the right.
    pub fn is_numeric(&self) -> bool {
        matches!(self, Cell::Integer(_) | Cell::Decimal(_) | Cell::Money { .. })
    }
}

/// `-1234` with scale 2 → `-12.34`, exactly (no floating point on the way).
pub fn format_minor(minor: i64, scale: u8) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let digits = minor.unsigned_abs().to_string();
    let scale = scale as usize;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

/// `-1234` → `-12.34`.
pub fn format_cents(cents: i64) -> String {
    format_minor(cents, 2)
}

/// The number of decimals of a currency's minor unit (ISO 4217): 0 for yen and won,
/// 3 for the dinars of Bahrain, Iraq, Jordan, Kuwait, Libya and Tunisia and the rial of
/// Oman, 2 for every other.
pub fn currency_scale(code: &str) -> u8 {
    const NONE: &[&str] = &[
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
        "XPF",
    ];
    const THREE: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    let code = code.trim().to_ascii_uppercase();
    if NONE.contains(&code.as_str()) {
        0
    } else if THREE.contains(&code.as_str()) {
        3
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_formatted_exactly_in_their_currency() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(123_456), "1234.56");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
        assert_eq!(format_minor(1234, 0), "1234");
        assert_eq!(format_minor(-1234, 3), "-1.234");
        assert_eq!(format_minor(5, 3), "0.005");
        assert_eq!(currency_scale("jpy"), 0);
        assert_eq!(currency_scale("KWD"), 3);
        assert_eq!(currency_scale("EUR"), 2);
    }
}
