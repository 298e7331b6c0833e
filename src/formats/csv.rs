//! CSV: RFC 4180 with a header row of column labels, optional UTF-8 BOM, CRLF line ends,
//! and neutralised formula triggers (`safety.rs`).
//!
//! A field is quoted when it holds a comma, a semicolon, a tab, a line break or a quote.
//! Commas alone are not enough: Excel and LibreOffice in many locales split on `;`
//! (and tab-separated imports on tabs), and an unquoted `x;=1+1` would be split into a
//! cell that runs `=1+1`. The `csv` crate quotes only what its own separator needs, so the
//! few lines of quoting are written here.

#[cfg(feature = "ssr")]
use super::safety::{csv_text_of, neutralise_csv};
#[cfg(feature = "ssr")]
use super::{EncodeOptions, Encoder, FileColumns, RecordWriter, Value};
#[cfg(feature = "ssr")]
use crate::catalog::Cell;
#[cfg(feature = "ssr")]
use std::io::{self, BufWriter, Write};

use super::FormatSpec;

pub static FORMAT: FormatSpec = FormatSpec {
    id: "csv",
    label: "CSV",
    extension: "csv",
    content_type: "text/csv; charset=utf-8",
    bom: true,
    compressed: false,
    #[cfg(feature = "ssr")]
    records: Some(|_| Box::new(CsvRecords)),
    #[cfg(feature = "ssr")]
    encoder: |columns, options, out| Ok(Box::new(CsvEncoder::new(columns, options, out)?)),
};

/// Bytes that make a field quoted.
#[cfg(feature = "ssr")]
pub fn needs_quotes(field: &[u8]) -> bool {
    field
        .iter()
        .any(|b| matches!(b, b',' | b';' | b'\t' | b'\r' | b'\n' | b'"'))
}

/// Writes one field, quoted (with its quotes doubled) when `needs_quotes`.
#[cfg(feature = "ssr")]
pub fn write_field(out: &mut impl Write, field: &[u8]) -> io::Result<()> {
    if !needs_quotes(field) {
        return out.write_all(field);
    }
    out.write_all(b"\"")?;
    for (i, part) in field.split(|&b| b == b'"').enumerate() {
        if i > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(part)?;
    }
    out.write_all(b"\"")
}

/// CSV records from values read in bulk: what `CsvEncoder::row` writes for the same row.
#[cfg(feature = "ssr")]
struct CsvRecords;

#[cfg(feature = "ssr")]
impl RecordWriter for CsvRecords {
    fn value(&self, out: &mut Vec<u8>, column: usize, value: Value<'_>) -> io::Result<()> {
        if column > 0 {
            out.push(b',');
        }
        match value {
            Value::Null => Ok(()),
            // Digits, decimals and RFC 3339 times hold nothing to quote or neutralise.
            Value::Digits(raw) | Value::Time(raw) => out.write_all(raw),
            Value::Money(decimal) => out.write_all(decimal.as_bytes()),
            Value::Text(text) => write_field(out, neutralise_csv(text).as_bytes()),
            Value::Cell(kind, cell) => write_field(out, csv_text_of(kind, cell).as_bytes()),
        }
    }

    fn end(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(feature = "ssr")]
pub struct CsvEncoder<W: Write> {
    columns: FileColumns,
    out: BufWriter<W>,
}

#[cfg(feature = "ssr")]
impl<W: Write> CsvEncoder<W> {
    pub fn new(columns: FileColumns, options: EncodeOptions, out: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(64 * 1024, out);
        if options.bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write_field(&mut out, column.label.as_bytes())?;
        }
        out.write_all(b"\r\n")?;
        Ok(CsvEncoder { columns, out })
    }
}

#[cfg(feature = "ssr")]
impl<W: Write + Send> Encoder<W> for CsvEncoder<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            // Written straight from the row: a text cell is not copied.
            let text = csv_text_of(column.kind, &cells[column.index]);
            write_field(&mut self.out, text.as_bytes())?;
        }
        self.out.write_all(b"\r\n")
    }

    fn encoded(&mut self, records: &[u8]) -> io::Result<()> {
        self.out.write_all(records)
    }

    fn finish(self: Box<Self>) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(feature = "ssr")]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;
    use crate::formats::testing::columns;

    fn encode(rows: &[Vec<Cell>], bom: bool) -> String {
        let cols = columns(&[("id", Kind::Integer), ("note", Kind::Text), ("amount", Kind::Money)]);
        let mut e: Box<dyn Encoder<Vec<u8>>> =
            Box::new(CsvEncoder::new(cols, EncodeOptions { bom }, Vec::new()).unwrap());
        for r in rows {
            e.row(r).unwrap();
        }
        String::from_utf8(e.finish().unwrap()).unwrap()
    }

    #[test]
    fn quotes_commas_quotes_and_line_breaks() {
        let out = encode(
            &[
                vec![
                    Cell::Integer(1),
                    Cell::Text("a,b \"c\"\nd\r\ne".into()),
                    Cell::cents(-1050),
                ],
                vec![Cell::Integer(2), Cell::Null, Cell::cents(5)],
                vec![Cell::Integer(3), Cell::Text(String::new()), Cell::cents(0)],
                vec![
                    Cell::Integer(4),
                    Cell::Text("=HYPERLINK(\"x\")".into()),
                    Cell::cents(100),
                ],
            ],
            false,
        );
        assert_eq!(
            out,
            "ID,NOTE,AMOUNT\r\n1,\"a,b \"\"c\"\"\nd\r\ne\",-10.50\r\n2,,0.05\r\n3,,0.00\r\n4,\"'=HYPERLINK(\"\"x\"\")\",1.00\r\n"
        );
    }

    #[test]
    fn separators_of_every_locale_are_quoted() {
        let out = encode(
            &[
                vec![Cell::Integer(1), Cell::Text("x;=1+1;".into()), Cell::cents(1)],
                vec![Cell::Integer(2), Cell::Text("a\tb".into()), Cell::cents(2)],
                vec![Cell::Integer(3), Cell::Text(" =1+1".into()), Cell::cents(3)],
            ],
            false,
        );
        assert_eq!(
            out,
            "ID,NOTE,AMOUNT\r\n1,\"x;'=1+1;\",0.01\r\n2,\"a\tb\",0.02\r\n3,' =1+1,0.03\r\n"
        );
    }

    #[test]
    fn bom_comes_first() {
        assert!(encode(&[], true).starts_with("\u{feff}ID,NOTE,AMOUNT\r\n"));
        assert_eq!(encode(&[], false), "ID,NOTE,AMOUNT\r\n");
    }
}
