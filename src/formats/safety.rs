//! Spreadsheet safety (OWASP "CSV injection"): a text cell that a spreadsheet would read
//! as a formula is prefixed with a single quote. That is a cell that starts with one of
//! `= + - @`, a tab, CR or LF, or with `= + - @` after leading white space (spreadsheets
//! skip it). Numbers are never touched, and text that is just a number (like `-5` or
//! `+3.5`) stays as it is.
//!
//! A CSV file is also opened with other separators than ours: Excel and LibreOffice in
//! many locales split lines on `;`, tab-separated imports on tabs, and neither honours a
//! quote that does not open its field, so `1,"x;=1+1"` read with `;` gives a cell
//! `=1+1"`, and a line break inside a quoted cell starts a new line. So in CSV every
//! place that would start a cell under any separator — after a `;`, a tab, CR or LF
//! inside a text — gets the same rule (`neutralise_csv`), and the encoder quotes every
//! cell that holds a separator of any locale (`csv.rs`).
//!
//! The CSV fast path on Postgres applies these rules to the database's records
//! (`store/postgres.rs`); `tests/csv_fast_path.rs` holds the two to identical bytes.

use crate::datasets::Cell;
use std::borrow::Cow;

const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '\n'];
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@'];
/// White space a spreadsheet may skip before a formula: ASCII space, tab, CR, LF, VT and
/// FF, the no-break space and the ideographic space.
pub const LEADING_SPACE: &[char] = &[' ', '\t', '\r', '\n', '\u{b}', '\u{c}', '\u{a0}', '\u{3000}'];

/// Where a spreadsheet reading with another separator (or a line break) starts a cell.
const CELL_BREAKS: &[char] = &[';', '\t', '\r', '\n'];
/// White space before a formula inside a text (the breaks themselves split the text).
const INNER_SPACE: &[char] = &[' ', '\u{b}', '\u{c}', '\u{a0}', '\u{3000}'];

fn is_risky(text: &str) -> bool {
    text.starts_with(TRIGGERS) || text.trim_start_matches(LEADING_SPACE).starts_with(FORMULA_STARTS)
}

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
    if is_risky(text) && !is_plain_number(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The text as it is safe to put in a CSV file: `neutralise`, and a quote before every
/// formula that a `;`, a tab or a line break in the text would start.
pub fn neutralise_csv(text: &str) -> Cow<'_, str> {
    let whole = neutralise(text);
    if !whole.contains(CELL_BREAKS) {
        return whole;
    }
    let mut out = String::with_capacity(whole.len() + 4);
    let mut rest: &str = &whole;
    while let Some(at) = rest.find(CELL_BREAKS) {
        // The breaks are ASCII: one byte each.
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let segment = rest.split(CELL_BREAKS).next().unwrap_or_default();
        if segment.trim_start_matches(INNER_SPACE).starts_with(FORMULA_STARTS) && !is_plain_number(segment) {
            out.push('\'');
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Tags as one cell: `vip,newsletter`.
pub fn join_tags(tags: &[String]) -> String {
    tags.join(",")
}

/// The text of a cell for an XLSX text cell; `None` for NULL.
pub fn cell_text(cell: &Cell) -> Option<Cow<'_, str>> {
    text_with(cell, neutralise)
}

/// The text of a cell for a CSV file; `None` for NULL.
pub fn csv_text(cell: &Cell) -> Option<Cow<'_, str>> {
    text_with(cell, neutralise_csv)
}

fn text_with(cell: &Cell, rule: fn(&str) -> Cow<'_, str>) -> Option<Cow<'_, str>> {
    match cell {
        Cell::Null => None,
        Cell::Text(s) => Some(rule(s)),
        Cell::Tags(tags) => Some(Cow::Owned(rule(&join_tags(tags)).into_owned())),
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
    fn formulas_after_leading_space_are_neutralised() {
        for risky in [" =1+1", "  @SUM(A1)", "\u{a0}=cmd", "\u{3000}+x", " \t-2+3", "\u{b}=1"] {
            assert_eq!(neutralise(risky), format!("'{risky}"), "{risky:?}");
        }
        for safe in [" spaced ", " 5", "x =1", " a=b"] {
            assert_eq!(neutralise(safe), safe, "{safe:?}");
        }
        // A number after a space is still text to us, so it is marked: it reads the same.
        assert_eq!(neutralise(" -5"), "' -5");
    }

    #[test]
    fn every_cell_another_separator_would_start_is_neutralised() {
        assert_eq!(neutralise_csv("x;=1+1;"), "x;'=1+1;");
        assert_eq!(neutralise_csv("a\n=2+2"), "a\n'=2+2");
        assert_eq!(neutralise_csv("a\r\n@SUM(1)"), "a\r\n'@SUM(1)");
        assert_eq!(neutralise_csv("a\t =cmd|x"), "a\t' =cmd|x");
        assert_eq!(neutralise_csv("=x;+y"), "'=x;'+y");
        assert_eq!(neutralise_csv("\t=x"), "'\t'=x");
        // Numbers and harmless text stay as they are.
        for safe in ["x;-5;y", "a;b", "1;2.5", "line\nbreak", "a=b;c=d", ""] {
            assert_eq!(neutralise_csv(safe), safe, "{safe:?}");
        }
    }

    #[test]
    fn money_is_a_number_even_when_negative() {
        assert_eq!(cell_text(&Cell::Money(-1234)).unwrap(), "-12.34");
        assert_eq!(cell_text(&Cell::Null), None);
    }
}
