//! Export file formats. Each encoder is one small file; all share `Encoder` and the
//! spreadsheet-safety rules in `safety.rs`.
//!
//! Encoders are synchronous writers: the export pipeline runs them on a blocking thread
//! and hands their output to storage in parts, so memory stays bounded.

#[cfg(feature = "ssr")]
pub mod csv;
#[cfg(feature = "ssr")]
mod json;
#[cfg(feature = "ssr")]
pub mod safety;
#[cfg(feature = "ssr")]
mod xlsx;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Json,
    Ndjson,
    Xlsx,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Csv, Format::Json, Format::Ndjson, Format::Xlsx];

    pub fn id(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Xlsx => "xlsx",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Format::Csv => "CSV",
            Format::Json => "JSON",
            Format::Ndjson => "NDJSON",
            Format::Xlsx => "Excel (XLSX)",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.id() == s)
    }

    pub fn extension(self) -> &'static str {
        self.id()
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

#[cfg(feature = "ssr")]
pub use encoder::*;

#[cfg(feature = "ssr")]
mod encoder {
    use super::Format;
    use crate::catalog::{Cell, Dataset, Kind};
    use std::io::{self, Write};
    use std::sync::Arc;

    /// Options that change the bytes of a file.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct EncodeOptions {
        /// Start CSV files with a UTF-8 byte order mark (Excel needs it to read UTF-8).
        pub bom: bool,
    }

    /// A column of a file: which cell of a row it is, its name (JSON keys), its label
    /// (headers) and its kind (how each form writes it).
    #[derive(Clone, Debug, PartialEq)]
    pub struct FileColumn {
        pub index: usize,
        pub name: String,
        pub label: String,
        pub kind: Kind,
    }

    pub type FileColumns = Arc<[FileColumn]>;

    /// The dataset's columns a file holds: the chosen ones in the chosen order, or all.
    /// The names are checked beforehand (`exports::service::validate`).
    pub fn file_columns(dataset: &Dataset, chosen: Option<&[String]>) -> FileColumns {
        let column = |index: usize| {
            let c = &dataset.columns[index];
            FileColumn {
                index,
                name: c.name.clone(),
                label: c.label.clone(),
                kind: c.kind,
            }
        };
        match chosen {
            Some(names) => names
                .iter()
                .filter_map(|n| dataset.columns.iter().position(|c| &c.name == n))
                .map(column)
                .collect(),
            None => (0..dataset.columns.len()).map(column).collect(),
        }
    }

    /// Writes rows of one dataset into `W`, in one format.
    pub trait Encoder<W: Write>: Send {
        /// A whole row of the dataset; the encoder writes the file's columns of it.
        fn row(&mut self, cells: &[Cell]) -> io::Result<()>;
        /// Records the database already encoded in this format (the CSV fast path).
        fn encoded(&mut self, _records: &[u8]) -> io::Result<()> {
            Err(io::Error::other("this format does not take pre-encoded records"))
        }
        /// Text cells cut to fit the format so far (XLSX: 32,767 characters a cell).
        fn shortened_cells(&self) -> u64 {
            0
        }
        /// Writes what closes the file and gives the writer back.
        fn finish(self: Box<Self>) -> io::Result<W>;
    }

    /// An encoder for `format` that has written the file's header, if it has one.
    pub fn encoder<W: Write + Send + 'static>(
        format: Format,
        columns: FileColumns,
        options: EncodeOptions,
        out: W,
    ) -> io::Result<Box<dyn Encoder<W>>> {
        Ok(match format {
            Format::Csv => Box::new(super::csv::CsvEncoder::new(columns, options, out)?),
            Format::Json => Box::new(super::json::JsonEncoder::array(columns, out)?),
            Format::Ndjson => Box::new(super::json::JsonEncoder::lines(columns, out)),
            Format::Xlsx => Box::new(super::xlsx::XlsxEncoder::new(columns, out)?),
        })
    }

    #[cfg(test)]
    pub mod testing {
        use super::*;

        /// File columns for tests: (name, kind) in order.
        pub fn columns(spec: &[(&str, Kind)]) -> FileColumns {
            spec.iter()
                .enumerate()
                .map(|(index, (name, kind))| FileColumn {
                    index,
                    name: name.to_string(),
                    label: name.to_uppercase(),
                    kind: *kind,
                })
                .collect()
        }
    }
}
