//! JSON (one array of objects, valid also when empty) and NDJSON (one object a line).
//! Keys are the column names; money is a decimal string so no parser rounds it.

use super::Encoder;
use super::safety::rfc3339;
use crate::datasets::{Cell, Column, format_cents};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::io::{self, Write};

pub struct JsonEncoder<W: Write> {
    columns: &'static [Column],
    out: W,
    /// `Some(rows written)` for an array, `None` for NDJSON.
    array: Option<u64>,
}

/// One row as a JSON object, keys in column order, serialised straight from the cells.
struct Row<'a> {
    columns: &'static [Column],
    cells: &'a [Cell],
}

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, cell) in self.columns.iter().zip(self.cells) {
            map.serialize_entry(column.name, &CellValue(cell))?;
        }
        map.end()
    }
}

struct CellValue<'a>(&'a Cell);

impl Serialize for CellValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Cell::Null => serializer.serialize_unit(),
            Cell::Integer(n) => serializer.serialize_i64(*n),
            Cell::Text(s) => serializer.serialize_str(s),
            Cell::Money(cents) => serializer.serialize_str(&format_cents(*cents)),
            Cell::Timestamp(t) => serializer.serialize_str(&rfc3339(t)),
            Cell::Tags(tags) => tags.serialize(serializer),
        }
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
}

impl<W: Write + Send> Encoder<W> for JsonEncoder<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        let object = Row {
            columns: self.columns,
            cells,
        };
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
    use serde_json::Value;

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
