//! JSON (one array of objects, valid also when empty) and NDJSON (one object a line).
//! Keys are the column names; money is a decimal string so no parser rounds it.

use super::Encoder;
use super::safety::rfc3339;
use crate::datasets::{Cell, Column, format_cents};
use serde_json::{Map, Value};
use std::io::{self, Write};

pub struct JsonEncoder<W: Write> {
    columns: &'static [Column],
    out: W,
    /// `Some(rows written)` for an array, `None` for NDJSON.
    array: Option<u64>,
}

fn value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Integer(n) => Value::from(*n),
        Cell::Text(s) => Value::String(s.clone()),
        Cell::Money(cents) => Value::String(format_cents(*cents)),
        Cell::Timestamp(t) => Value::String(rfc3339(t)),
        Cell::Tags(tags) => Value::Array(tags.iter().cloned().map(Value::String).collect()),
    }
}

impl<W: Write> JsonEncoder<W> {
    pub fn array(columns: &'static [Column], mut out: W) -> io::Result<Self> {
        out.write_all(b"[")?;
        Ok(JsonEncoder {
            columns,
            out,
            array: Some(0),
        })
    }

    pub fn lines(columns: &'static [Column], out: W) -> Self {
        JsonEncoder {
            columns,
            out,
            array: None,
        }
    }

    fn object(&self, cells: &[Cell]) -> Value {
        let map: Map<String, Value> = self
            .columns
            .iter()
            .zip(cells)
            .map(|(c, cell)| (c.name.to_owned(), value(cell)))
            .collect();
        Value::Object(map)
    }
}

impl<W: Write + Send> Encoder<W> for JsonEncoder<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        let object = self.object(cells);
        if let Some(written) = &mut self.array {
            self.out.write_all(if *written == 0 { b"\n" } else { b",\n" })?;
            *written += 1;
        }
        serde_json::to_writer(&mut self.out, &object)?;
        if self.array.is_none() {
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<W> {
        match self.array {
            Some(0) => self.out.write_all(b"]\n")?,
            Some(_) => self.out.write_all(b"\n]\n")?,
            None => {}
        }
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::ColumnKind;

    static COLUMNS: &[Column] = &[
        Column {
            name: "id",
            label: "ID",
            kind: ColumnKind::Integer,
        },
        Column {
            name: "name",
            label: "Name",
            kind: ColumnKind::Text,
        },
        Column {
            name: "total",
            label: "Total",
            kind: ColumnKind::Money,
        },
        Column {
            name: "tags",
            label: "Tags",
            kind: ColumnKind::Tags,
        },
    ];

    fn rows() -> Vec<Vec<Cell>> {
        vec![
            vec![
                Cell::Integer(1),
                Cell::Text("=Zoë \"x\"\n".into()),
                Cell::Money(-199),
                Cell::Tags(vec!["a".into()]),
            ],
            vec![
                Cell::Integer(2),
                Cell::Null,
                Cell::Money(12_345_678_901),
                Cell::Tags(vec![]),
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
        let empty = encode(Box::new(JsonEncoder::array(COLUMNS, Vec::new()).unwrap()), &[]);
        assert_eq!(serde_json::from_str::<Value>(&empty).unwrap(), serde_json::json!([]));
        let full = encode(Box::new(JsonEncoder::array(COLUMNS, Vec::new()).unwrap()), &rows());
        let parsed: Value = serde_json::from_str(&full).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!([
                {"id": 1, "name": "=Zoë \"x\"\n", "total": "-1.99", "tags": ["a"]},
                {"id": 2, "name": null, "total": "123456789.01", "tags": []}
            ])
        );
    }

    #[test]
    fn ndjson_is_one_object_a_line() {
        let out = encode(Box::new(JsonEncoder::lines(COLUMNS, Vec::new())), &rows());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            serde_json::from_str::<Value>(lines[1]).unwrap()["total"],
            "123456789.01"
        );
        assert!(out.ends_with('\n'));
    }
}
