//! CSV: RFC 4180 (the `csv` crate quotes what needs quoting), a header row of column
//! labels, optional UTF-8 BOM, CRLF line ends, and neutralised formula triggers.

use super::safety::cell_text;
use super::{EncodeOptions, Encoder};
use crate::datasets::{Cell, Column};
use std::io::{self, Write};

pub struct CsvEncoder<W: Write> {
    /// `None` only for a moment, while pre-encoded records go past the CSV writer.
    writer: Option<csv::Writer<W>>,
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

fn unwrap<W: Write>(writer: csv::Writer<W>) -> io::Result<W> {
    writer.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

impl<W: Write> CsvEncoder<W> {
    pub fn new(columns: &[Column], options: EncodeOptions, mut out: W) -> io::Result<Self> {
        if options.bom {
            out.write_all("\u{feff}".as_bytes())?;
        }
        let mut writer = csv_writer(out);
        writer
            .write_record(columns.iter().map(|c| c.label))
            .map_err(io::Error::other)?;
        Ok(CsvEncoder { writer: Some(writer) })
    }

    fn writer(&mut self) -> &mut csv::Writer<W> {
        self.writer.as_mut().expect("the CSV writer is back after each batch")
    }
}

impl<W: Write + Send> Encoder<W> for CsvEncoder<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        let writer = self.writer();
        // Field by field, so text cells are written straight from the row, not copied.
        for cell in cells {
            let text = cell_text(cell).unwrap_or_default();
            writer.write_field(text.as_bytes()).map_err(io::Error::other)?;
        }
        writer.write_record(None::<&[u8]>).map_err(io::Error::other)
    }

    fn encoded(&mut self, records: &[u8]) -> io::Result<()> {
        let writer = self.writer.take().expect("the CSV writer is back after each batch");
        let mut out = unwrap(writer)?;
        let written = out.write_all(records);
        self.writer = Some(csv_writer(out));
        written
    }

    fn finish(mut self: Box<Self>) -> io::Result<W> {
        unwrap(self.writer.take().expect("the CSV writer is back after each batch"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::{Column, ColumnKind};

    static COLUMNS: &[Column] = &[
        Column {
            name: "id",
            label: "ID",
            kind: ColumnKind::Integer,
        },
        Column {
            name: "note",
            label: "Note",
            kind: ColumnKind::Text,
        },
        Column {
            name: "amount",
            label: "Amount",
            kind: ColumnKind::Money,
        },
    ];

    fn encode(rows: &[Vec<Cell>], bom: bool) -> String {
        let mut e: Box<dyn Encoder<Vec<u8>>> =
            Box::new(CsvEncoder::new(COLUMNS, EncodeOptions { bom }, Vec::new()).unwrap());
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
                    Cell::Money(-1050),
                ],
                vec![Cell::Integer(2), Cell::Null, Cell::Money(5)],
                vec![Cell::Integer(3), Cell::Text(String::new()), Cell::Money(0)],
                vec![
                    Cell::Integer(4),
                    Cell::Text("=HYPERLINK(\"x\")".into()),
                    Cell::Money(100),
                ],
            ],
            false,
        );
        assert_eq!(
            out,
            "ID,Note,Amount\r\n1,\"a,b \"\"c\"\"\nd\r\ne\",-10.50\r\n2,,0.05\r\n3,,0.00\r\n4,\"'=HYPERLINK(\"\"x\"\")\",1.00\r\n"
        );
    }

    #[test]
    fn bom_comes_first() {
        assert!(encode(&[], true).starts_with("\u{feff}ID,Note,Amount\r\n"));
        assert_eq!(encode(&[], false), "ID,Note,Amount\r\n");
    }
}
