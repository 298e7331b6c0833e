//! Export file formats. Each format is one file: its declaration (`FormatSpec`) and its
//! encoder; all share `Encoder` and the spreadsheet-safety rules in `safety.rs`.
//!
//! Encoders are synchronous writers: the export pipeline runs them on a blocking thread
//! and hands their output to storage in parts, so memory stays bounded.

pub mod csv;
mod json;
mod parquet;
#[cfg(feature = "ssr")]
pub mod safety;
mod xlsx;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A file format: all the rest of Egress knows of it. Each format's file declares its own
/// (`csv.rs`, `json.rs` for JSON and NDJSON, `xlsx.rs`, `parquet.rs`) and `FORMATS` lists
/// them; the API's validation, the OpenAPI document, the dialog and the pipeline read it.
pub struct FormatSpec {
    /// In the API and in stored jobs (`csv`).
    pub id: &'static str,
    /// What people read (`Excel (XLSX)`).
    pub label: &'static str,
    pub extension: &'static str,
    pub content_type: &'static str,
    /// A UTF-8 byte order mark may start the file (Excel needs one to read UTF-8 CSV).
    pub bom: bool,
    /// The bytes are compressed already: gzip on top would only cost time.
    pub compressed: bool,
    /// Writes whole records from values read in bulk (Postgres `COPY`), byte for byte
    /// as the encoder writes the same rows; `None` where the format takes only rows.
    #[cfg(feature = "ssr")]
    pub records: Option<NewRecordWriter>,
    /// Makes the encoder, which writes the file's header (if it has one) at once.
    #[cfg(feature = "ssr")]
    pub encoder: NewEncoder,
}

/// The registry: one line per format.
pub static FORMATS: [Format; 5] = [
    Format(&csv::FORMAT),
    Format(&json::JSON),
    Format(&json::NDJSON),
    Format(&xlsx::FORMAT),
    Format(&parquet::FORMAT),
];

/// A format of the registry (compared, hashed and stored by its id).
#[derive(Clone, Copy)]
pub struct Format(&'static FormatSpec);

impl std::ops::Deref for Format {
    type Target = FormatSpec;
    fn deref(&self) -> &FormatSpec {
        self.0
    }
}

impl PartialEq for Format {
    fn eq(&self, other: &Format) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Format {}

impl std::hash::Hash for Format {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl std::fmt::Debug for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.id)
    }
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.id)
    }
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Format, D::Error> {
        let id = String::deserialize(d)?;
        Format::parse(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown format `{id}`")))
    }
}

impl Format {
    pub fn all() -> &'static [Format] {
        &FORMATS
    }

    pub fn parse(s: &str) -> Option<Format> {
        FORMATS.iter().copied().find(|f| f.id == s)
    }

    pub fn id(self) -> &'static str {
        self.0.id
    }

    pub fn label(self) -> &'static str {
        self.0.label
    }

    pub fn extension(self) -> &'static str {
        self.0.extension
    }

    pub fn content_type(self) -> &'static str {
        self.0.content_type
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

    /// The columns of an incremental run's file: the chosen ones, then `_deleted_at` when
    /// the dataset declares tombstones (the source puts it after the dataset's columns).
    pub fn increment_columns(dataset: &Dataset, chosen: Option<&[String]>) -> FileColumns {
        let mut columns = file_columns(dataset, chosen).to_vec();
        if dataset.tombstones().is_some() {
            let (name, label) = crate::catalog::DELETED_AT;
            columns.push(FileColumn {
                index: dataset.columns.len(),
                name: name.to_owned(),
                label: label.to_owned(),
                kind: crate::catalog::Kind::Timestamp,
            });
        }
        columns.into()
    }

    /// Writes rows of one dataset into `W`, in one format.
    pub trait Encoder<W: Write>: Send {
        /// A whole row of the dataset; the encoder writes the file's columns of it.
        fn row(&mut self, cells: &[Cell]) -> io::Result<()>;
        /// Records a `RecordWriter` of this format wrote (the bulk-read fast path).
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

    /// A value of a record read in bulk (Postgres `COPY`), in the form a format writes
    /// fastest. Each format writes it exactly as its encoder writes the same cell, which
    /// `tests/suite/copy_fast_path.rs` holds both roads to.
    #[derive(Clone, Copy, Debug)]
    pub enum Value<'a> {
        Null,
        /// An integer's digits (and sign).
        Digits(&'a [u8]),
        Text(&'a str),
        /// Money as its exact decimal (`-12.34`).
        Money(&'a str),
        /// A time in RFC 3339, as `kinds::timestamp` writes it.
        Time(&'a [u8]),
        /// Any other kind, read as a cell.
        Cell(Kind, &'a Cell),
    }

    /// Writes records (rows) of a format from `Value`s: a record is the file's columns'
    /// values in order, then `end`. What it writes goes to the format's `Encoder::encoded`.
    pub trait RecordWriter: Send + Sync {
        /// The value of the file's `column`-th column (its position in the file).
        fn value(&self, out: &mut Vec<u8>, column: usize, value: Value<'_>) -> io::Result<()>;
        fn end(&self, out: &mut Vec<u8>);
    }

    /// The signature of a format's `records`.
    pub type NewRecordWriter = fn(&FileColumns) -> Box<dyn RecordWriter>;

    /// Where an encoder writes: a stream that is closed when the file is done (the
    /// pipeline's parts, through gzip or not), or bytes in memory.
    pub trait Output: Write + Send {
        /// Writes what ends the stream (gzip's trailer, the last part).
        fn close(self: Box<Self>) -> io::Result<()>;
    }

    pub type Out = Box<dyn Output>;

    /// The signature of a format's `encoder`.
    pub type NewEncoder = fn(FileColumns, EncodeOptions, Out) -> io::Result<Box<dyn Encoder<Out>>>;

    /// Bytes in memory as an `Output`, and a handle to read them (tests, small files).
    #[derive(Clone, Default)]
    pub struct Memory(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Memory {
        pub fn output(&self) -> Out {
            Box::new(self.clone())
        }
        pub fn bytes(&self) -> Vec<u8> {
            self.0.lock().expect("not poisoned").clone()
        }
    }

    impl Write for Memory {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Output for Memory {
        fn close(self: Box<Self>) -> io::Result<()> {
            Ok(())
        }
    }

    /// An encoder for `format` that has written the file's header, if it has one.
    pub fn encoder(
        format: Format,
        columns: FileColumns,
        options: EncodeOptions,
        out: Out,
    ) -> io::Result<Box<dyn Encoder<Out>>> {
        (format.encoder)(columns, options, out)
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
