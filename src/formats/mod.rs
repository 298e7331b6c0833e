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
    use crate::datasets::{Cell, Column};
    use std::io::{self, Write};

    /// Options that change the bytes of a file.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct EncodeOptions {
        /// Start CSV files with a UTF-8 byte order mark (Excel needs it to read UTF-8).
        pub bom: bool,
    }

    /// Writes rows of one dataset into `W`, in one format.
    pub trait Encoder<W: Write>: Send {
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
        columns: &'static [Column],
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
}
