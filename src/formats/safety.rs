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
//! (`source/postgres.rs`); `tests/suite/copy_fast_path.rs` holds the two to identical bytes.

use crate::catalog::{Cell, Kind, kinds};
use std::borrow::Cow;

const TRIGGERS: &[char] = &['=', '+', '-', '@', '\t', '\r', '\n'];
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@'];
/// White space a spreadsheet may skip before a formula: ASCII space, tab, CR, LF, VT and
/// FF, the no-break space and the ideographic space.
pub const LEADING_SPACE: &[char] = &[' ', '\t', '\r', '\n', '\u{b}', '\u{c}', '\u{a0}', '\u{3000}'];

/// Where a spreadsheet reading with another separator (or a line break) starts a cell.
/// Bytes, not chars: all are ASCII, and a byte scan is several times faster than a char
/// pattern over every text cell (it was the CSV path's largest cost).
fn is_cell_break(b: u8) -> bool {
    matches!(b, b';' | b'\t' | b'\r' | b'\n')
}

/// Where the first cell break in `text` is (a byte index; the breaks are one byte each).
fn cell_break(text: &str) -> Option<usize> {
    text.bytes().position(is_cell_break)
}
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
    if cell_break(&whole).is_none() {
        return whole;
    }
    let mut out = String::with_capacity(whole.len() + 4);
    let mut rest: &str = &whole;
    while let Some(at) = cell_break(rest) {
        // The breaks are ASCII: one byte each.
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let segment = &rest[..cell_break(rest).unwrap_or(rest.len())];
        if segment.trim_start_matches(INNER_SPACE).starts_with(FORMULA_STARTS) && !is_plain_number(segment) {
            out.push('\'');
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The text of a cell in a CSV file: its kind's text, through the CSV rules where the
/// kind is free text. Empty for NULL.
pub fn csv_text_of(kind: Kind, cell: &Cell) -> Cow<'_, str> {
    if matches!(cell, Cell::Null) {
        return Cow::Borrowed("");
    }
    let spec = kinds::spec(kind);
    let text = spec.text(cell);
    if !spec.free_text() {
        return text;
    }
    match neutralise_csv(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(safe) => Cow::Owned(safe),
    }
}

/// The text of a free-text value in an XLSX text cell (no separators there, so only the
/// start of the cell matters).
pub fn sheet_text(text: Cow<'_, str>) -> Cow<'_, str> {
    match neutralise(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(safe) => Cow::Owned(safe),
    }
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
    fn a_cell_is_written_by_its_kind() {
        assert_eq!(csv_text_of(Kind::Money, &Cell::cents(-1234)), "-12.34");
        assert_eq!(csv_text_of(Kind::Text, &Cell::Null), "");
        assert_eq!(csv_text_of(Kind::Text, &Cell::Text("=x".into())), "'=x");
        assert_eq!(
            csv_text_of(Kind::TextList, &Cell::List(vec!["=a".into(), "b".into()])),
            "'=a,b"
        );
        assert_eq!(csv_text_of(Kind::Integer, &Cell::Integer(-5)), "-5");
    }
}
