//! Spreadsheet safety (OWASP "CSV injection"): a text cell that a spreadsheet would read
//! as a formula is prefixed with a single quote. Numbers are never touched, and text that
//! is just a number (like `-5` or `+3.5`) stays as it is.

use crate::datasets::Cell;
use std::borrow::Cow;

const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '\n'];

fn is_plain_number(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(digits.contains('.') && fraction.is_empty())
}

/// The text as it is safe to put in a spreadsheet cell.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if text.starts_with(TRIGGERS) && !is_plain_number(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Tags as one cell: `vip,newsletter`.
pub fn join_tags(tags: &[String]) -> String {
    tags.join(",")
}

/// The text of a cell for a CSV file or an XLSX text cell; `None` for NULL.
pub fn cell_text(cell: &Cell) -> Option<Cow<'_, str>> {
    match cell {
        Cell::Null => None,
        Cell::Text(s) => Some(neutralise(s)),
        Cell::Tags(tags) => Some(Cow::Owned(neutralise(&join_tags(tags)).into_owned())),
        Cell::Timestamp(t) => Some(Cow::Owned(rfc3339(t))),
        Cell::Integer(_) | Cell::Money(_) => Some(Cow::Owned(cell.display())),
    }
}

/// RFC 3339 in UTC with `Z`, sub-seconds only when there are some.
pub fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        for risky in [
            "=SUM(A1:A9)",
            "+cmd",
            "-5% discount",
            "@mention",
            "\tTab",
            "\rCR",
            "\nLF",
            "=1+2",
        ] {
            assert_eq!(neutralise(risky), format!("'{risky}"), "{risky:?}");
        }
        for safe in ["-5", "+3.5", "12", "0.25", "hello", "", "a=b", "O'Brien"] {
            assert_eq!(neutralise(safe), safe, "{safe:?}");
        }
        assert_eq!(neutralise("-"), "'-");
        assert_eq!(neutralise("-5."), "'-5.");
        assert_eq!(neutralise("+44 20 7946 0000"), "'+44 20 7946 0000");
    }

    #[test]
    fn money_is_a_number_even_when_negative() {
        assert_eq!(cell_text(&Cell::Money(-1234)).unwrap(), "-12.34");
        assert_eq!(cell_text(&Cell::Null), None);
    }
}
