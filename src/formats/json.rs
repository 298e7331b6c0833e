//! JSON (one array of objects, valid also when empty) and NDJSON (one object a line).
//! Keys are the column names in file order; each value is written by its column's kind
//! (money and decimals as strings, so no parser rounds them; JSON columns embedded).

#[cfg(feature = "ssr")]
use super::{Encoder, FileColumns, RecordWriter, Value};
#[cfg(feature = "ssr")]
use crate::catalog::kinds::{JsonForm, spec};
#[cfg(feature = "ssr")]
use crate::catalog::{Cell, Kind};
#[cfg(feature = "ssr")]
use std::io::{self, BufWriter, Write};

use super::FormatSpec;

pub static JSON: FormatSpec = FormatSpec {
    id: "json",
    label: "JSON",
    extension: "json",
    content_type: "application/json",
    bom: false,
    compressed: false,
    #[cfg(feature = "ssr")]
    records: Some(|columns| Box::new(JsonRecords::new(columns))),
    #[cfg(feature = "ssr")]
    encoder: |columns, _, out| Ok(Box::new(JsonEncoder::array(columns, out)?)),
};

pub static NDJSON: FormatSpec = FormatSpec {
    id: "ndjson",
    label: "NDJSON",
    extension: "ndjson",
    content_type: "application/x-ndjson",
    bom: false,
    compressed: false,
    #[cfg(feature = "ssr")]
    records: Some(|columns| Box::new(JsonRecords::new(columns))),
    #[cfg(feature = "ssr")]
    encoder: |columns, _, out| Ok(Box::new(JsonEncoder::lines(columns, out))),
};

#[cfg(feature = "ssr")]
pub struct JsonEncoder<W: Write> {
    columns: FileColumns,
    out: BufWriter<W>,
    /// `Some(rows written)` for an array, `None` for NDJSON.
    array: Option<u64>,
}

#[cfg(feature = "ssr")]
impl<W: Write> JsonEncoder<W> {
    pub fn array(columns: FileColumns, out: W) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(64 * 1024, out);
        out.write_all(b"[")?;
        Ok(JsonEncoder {
            columns,
            out,
            array: Some(0),
        })
    }

    pub fn lines(columns: FileColumns, out: W) -> Self {
        JsonEncoder {
            columns,
            out: BufWriter::with_capacity(64 * 1024, out),
            array: None,
        }
    }
}

#[cfg(feature = "ssr")]
impl<W: Write> JsonEncoder<W> {
    /// What goes before a record: in an array, a line end, after the first a comma too.
    fn separate(&mut self) -> io::Result<()> {
        if let Some(written) = &mut self.array {
            self.out.write_all(if *written == 0 { b"\n" } else { b",\n" })?;
            *written += 1;
        }
        Ok(())
    }
}

/// A cell as its kind writes it in JSON.
#[cfg(feature = "ssr")]
fn write_cell(out: &mut impl Write, kind: Kind, cell: &Cell) -> io::Result<()> {
    match cell {
        Cell::Null => out.write_all(b"null"),
        _ => match spec(kind).json(cell) {
            JsonForm::Null => out.write_all(b"null"),
            JsonForm::Raw(raw) => out.write_all(raw.as_bytes()),
            JsonForm::Str(text) => Ok(serde_json::to_writer(out, text.as_ref())?),
            JsonForm::List(items) => Ok(serde_json::to_writer(out, items)?),
        },
    }
}

/// JSON objects, one a line, from values read in bulk: what `JsonEncoder::row` writes
/// for the same row (`encoded` makes an array's separators of the line ends).
#[cfg(feature = "ssr")]
struct JsonRecords {
    /// `{"name":` for the first column, `,"name":` for the others.
    keys: Vec<Vec<u8>>,
}

#[cfg(feature = "ssr")]
impl JsonRecords {
    fn new(columns: &FileColumns) -> Self {
        let keys = columns
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let mut key = if i == 0 { b"{".to_vec() } else { b",".to_vec() };
                serde_json::to_writer(&mut key, &column.name).expect("writing to memory");
                key.push(b':');
                key
            })
            .collect();
        JsonRecords { keys }
    }
}

#[cfg(feature = "ssr")]
impl RecordWriter for JsonRecords {
    fn value(&self, out: &mut Vec<u8>, column: usize, value: Value<'_>) -> io::Result<()> {
        out.extend_from_slice(&self.keys[column]);
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Digits(digits) => out.extend_from_slice(digits),
            // Money and times are strings (no parser rounds money) with nothing to escape.
            Value::Money(decimal) => {
                out.push(b'"');
                out.extend_from_slice(decimal.as_bytes());
                out.push(b'"');
            }
            Value::Time(time) => {
                out.push(b'"');
                out.extend_from_slice(time);
                out.push(b'"');
            }
            Value::Text(text) => serde_json::to_writer(&mut *out, text)?,
            Value::Cell(kind, cell) => write_cell(out, kind, cell)?,
        }
        Ok(())
    }

    fn end(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(feature = "ssr")]
impl<W: Write + Send> Encoder<W> for JsonEncoder<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        self.separate()?;
        self.out.write_all(b"{")?;
        for (i, column) in self.columns.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            serde_json::to_writer(&mut self.out, &column.name)?;
            self.out.write_all(b":")?;
            write_cell(&mut self.out, column.kind, &cells[column.index])?;
        }
        self.out.write_all(b"}")?;
        if self.array.is_none() {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Records of `JsonRecords`: one object a line, which NDJSON is already. An array
    /// puts its separators between them instead of the line ends (a JSON text holds no
    /// raw line break: strings escape theirs).
    fn encoded(&mut self, records: &[u8]) -> io::Result<()> {
        if self.array.is_none() {
            return self.out.write_all(records);
        }
        for record in records.split_inclusive(|&b| b == b'\n') {
            self.separate()?;
            self.out.write_all(record.strip_suffix(b"\n").unwrap_or(record))?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<W> {
        match self.array {
            Some(0) => self.out.write_all(b"]\n")?,
            Some(_) => self.out.write_all(b"\n]\n")?,
            None => {}
        }
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(feature = "ssr")]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Kind;
    use crate::formats::testing::columns;
    use serde_json::Value;

    fn cols() -> FileColumns {
        columns(&[
            ("id", Kind::Integer),
            ("name", Kind::Text),
            ("total", Kind::Money),
            ("tags", Kind::TextList),
            ("paid", Kind::Boolean),
            ("extra", Kind::Json),
            ("rate", Kind::Decimal),
        ])
    }

    fn rows() -> Vec<Vec<Cell>> {
        vec![
            vec![
                Cell::Integer(1),
                Cell::Text("=Zoë \"x\"\n".into()),
                Cell::cents(-199),
                Cell::List(vec!["a".into()]),
                Cell::Bool(true),
                Cell::Json(r#"{"k":[1,2]}"#.into()),
                Cell::Decimal("0.10".into()),
            ],
            vec![
                Cell::Integer(2),
                Cell::Null,
                Cell::Money {
                    minor: 12_345_678_901,
                    scale: 0,
                },
                Cell::List(vec![]),
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
        ]
    }

    fn encode(mut e: Box<dyn Encoder<Vec<u8>>>, rows: &[Vec<Cell>]) -> String {
        for r in rows {
            e.row(r).unwrap();
        }
        String::from_utf8(e.finish().unwrap()).unwrap()
    }

    #[test]
    fn arrays_are_valid_json_even_when_empty() {
        let empty = encode(Box::new(JsonEncoder::array(cols(), Vec::new()).unwrap()), &[]);
        assert_eq!(serde_json::from_str::<Value>(&empty).unwrap(), serde_json::json!([]));
        let full = encode(Box::new(JsonEncoder::array(cols(), Vec::new()).unwrap()), &rows());
        let parsed: Value = serde_json::from_str(&full).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([
                {"id": 1, "name": "=Zoë \"x\"\n", "total": "-1.99", "tags": ["a"], "paid": true, "extra": {"k": [1, 2]}, "rate": "0.10"},
                {"id": 2, "name": null, "total": "12345678901", "tags": [], "paid": null, "extra": null, "rate": null}
            ])
        );
        assert!(
            full.starts_with("[\n{\"id\":1,\"name\""),
            "keys in column order: {full}"
        );
    }

    #[test]
    fn ndjson_is_one_object_a_line() {
        let out = encode(Box::new(JsonEncoder::lines(cols(), Vec::new())), &rows());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(serde_json::from_str::<Value>(lines[1]).unwrap()["total"], "12345678901");
        assert!(out.ends_with('\n'));
    }
}
