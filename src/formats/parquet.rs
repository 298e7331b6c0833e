//! Parquet, with the `parquet` crate of Apache Arrow's Rust project (its column-writer API;
//! no Arrow arrays in between). Each column is typed by its kind: integers INT64, money
//! DECIMAL(18,3) (every currency's amount exactly, whatever its number of decimals),
//! decimals exact UTF-8 text (their scale is not declared), text and JSON as UTF-8 (JSON
//! annotated), booleans, dates (DATE), timestamps (INT64 microseconds, UTC), UUIDs
//! (16 bytes, UUID) and text lists (LIST of UTF-8). Every column may be null.
//!
//! Rows are buffered by column and written as a row group every 32,768 rows or 8 MiB of
//! values, whichever comes first, so memory stays bounded (the writer holds a whole row
//! group's pages until it closes: 100,000-row groups cost 120 MiB in `make bench`);
//! pages are Snappy-compressed.

use super::FormatSpec;
#[cfg(feature = "ssr")]
use super::{Encoder, FileColumns};
#[cfg(feature = "ssr")]
use crate::catalog::{Cell, Kind};
#[cfg(feature = "ssr")]
use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as PhysicalType};
#[cfg(feature = "ssr")]
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType, Int32Type, Int64Type,
};
#[cfg(feature = "ssr")]
use parquet::file::properties::WriterProperties;
#[cfg(feature = "ssr")]
use parquet::file::writer::SerializedFileWriter;
#[cfg(feature = "ssr")]
use parquet::schema::types::Type;
#[cfg(feature = "ssr")]
use std::io::{self, Write};
#[cfg(feature = "ssr")]
use std::sync::Arc;

pub static FORMAT: FormatSpec = FormatSpec {
    id: "parquet",
    label: "Parquet",
    extension: "parquet",
    content_type: "application/vnd.apache.parquet",
    bom: false,
    compressed: true,
    #[cfg(feature = "ssr")]
    records: None,
    #[cfg(feature = "ssr")]
    encoder: |columns, _, out| Ok(Box::new(ParquetEncoder::new(columns, out)?)),
};

/// A row group is written at this many rows…
#[cfg(feature = "ssr")]
const ROWS_PER_GROUP: usize = 32_768;
/// …or this many bytes of buffered values, whichever comes first.
#[cfg(feature = "ssr")]
const BYTES_PER_GROUP: usize = 8 * 1024 * 1024;
/// Money is written with three decimals: the most any currency has.
#[cfg(feature = "ssr")]
const MONEY_SCALE: u8 = 3;

#[cfg(feature = "ssr")]
fn parquet_error(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e.to_string())
}

/// One column's values of the row group being built, with their definition levels (and
/// repetition levels for lists).
#[cfg(feature = "ssr")]
enum Values {
    Int64(Vec<i64>),
    Int32(Vec<i32>),
    Bool(Vec<bool>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

#[cfg(feature = "ssr")]
struct Buffer {
    values: Values,
    defs: Vec<i16>,
    reps: Option<Vec<i16>>,
}

#[cfg(feature = "ssr")]
impl Buffer {
    fn new(kind: Kind) -> Buffer {
        let values = match kind {
            Kind::Integer | Kind::Money | Kind::Timestamp => Values::Int64(Vec::new()),
            Kind::Date => Values::Int32(Vec::new()),
            Kind::Boolean => Values::Bool(Vec::new()),
            Kind::Uuid => Values::Fixed(Vec::new()),
            Kind::Decimal | Kind::Text | Kind::Json | Kind::TextList => Values::Bytes(Vec::new()),
        };
        Buffer {
            values,
            defs: Vec::new(),
            reps: (kind == Kind::TextList).then(Vec::new),
        }
    }

    fn clear(&mut self) {
        match &mut self.values {
            Values::Int64(v) => v.clear(),
            Values::Int32(v) => v.clear(),
            Values::Bool(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
            Values::Fixed(v) => v.clear(),
        }
        self.defs.clear();
        if let Some(reps) = &mut self.reps {
            reps.clear();
        }
    }
}

/// The schema field of a column of `kind`.
#[cfg(feature = "ssr")]
fn field(name: &str, kind: Kind) -> parquet::errors::Result<Type> {
    let primitive = |physical: PhysicalType, logical: Option<LogicalType>| {
        Type::primitive_type_builder(name, physical)
            .with_repetition(Repetition::OPTIONAL)
            .with_logical_type(logical)
    };
    let string = || Some(LogicalType::String);
    match kind {
        Kind::Integer => primitive(PhysicalType::INT64, None).build(),
        Kind::Money => primitive(
            PhysicalType::INT64,
            Some(LogicalType::Decimal {
                scale: MONEY_SCALE.into(),
                precision: 18,
            }),
        )
        .with_precision(18)
        .with_scale(MONEY_SCALE.into())
        .build(),
        Kind::Timestamp => primitive(
            PhysicalType::INT64,
            Some(LogicalType::Timestamp {
                is_adjusted_to_u_t_c: true,
                unit: TimeUnit::MICROS,
            }),
        )
        .build(),
        Kind::Date => primitive(PhysicalType::INT32, Some(LogicalType::Date)).build(),
        Kind::Boolean => primitive(PhysicalType::BOOLEAN, None).build(),
        Kind::Uuid => primitive(PhysicalType::FIXED_LEN_BYTE_ARRAY, Some(LogicalType::Uuid))
            .with_length(16)
            .build(),
        Kind::Json => primitive(PhysicalType::BYTE_ARRAY, Some(LogicalType::Json)).build(),
        Kind::Decimal | Kind::Text => primitive(PhysicalType::BYTE_ARRAY, string()).build(),
        Kind::TextList => {
            let element = Type::primitive_type_builder("element", PhysicalType::BYTE_ARRAY)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(string())
                .build()?;
            let list = Type::group_type_builder("list")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![Arc::new(element)])
                .build()?;
            Type::group_type_builder(name)
                .with_repetition(Repetition::OPTIONAL)
                .with_logical_type(Some(LogicalType::List))
                .with_fields(vec![Arc::new(list)])
                .build()
        }
    }
}

#[cfg(feature = "ssr")]
pub struct ParquetEncoder<W: Write + Send> {
    columns: FileColumns,
    writer: Option<SerializedFileWriter<W>>,
    buffers: Vec<Buffer>,
    rows: usize,
    bytes: usize,
}

#[cfg(feature = "ssr")]
impl<W: Write + Send> ParquetEncoder<W> {
    pub fn new(columns: FileColumns, out: W) -> io::Result<Self> {
        let fields = columns
            .iter()
            .map(|c| field(&c.name, c.kind).map(Arc::new))
            .collect::<parquet::errors::Result<Vec<_>>>()
            .map_err(parquet_error)?;
        let schema = Type::group_type_builder("export")
            .with_fields(fields)
            .build()
            .map_err(parquet_error)?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(concat!("Egress ", env!("CARGO_PKG_VERSION")).to_owned())
            .build();
        let writer = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(properties)).map_err(parquet_error)?;
        Ok(ParquetEncoder {
            buffers: columns.iter().map(|c| Buffer::new(c.kind)).collect(),
            columns,
            writer: Some(writer),
            rows: 0,
            bytes: 0,
        })
    }

    /// Writes the buffered rows as one row group.
    fn flush(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::other("the file is closed"))?;
        let mut group = writer.next_row_group().map_err(parquet_error)?;
        for buffer in &mut self.buffers {
            let mut column = group
                .next_column()
                .map_err(parquet_error)?
                .ok_or_else(|| io::Error::other("the schema has fewer columns than the file"))?;
            let (defs, reps) = (Some(&buffer.defs[..]), buffer.reps.as_deref());
            let written = match &buffer.values {
                Values::Int64(v) => column.typed::<Int64Type>().write_batch(v, defs, reps),
                Values::Int32(v) => column.typed::<Int32Type>().write_batch(v, defs, reps),
                Values::Bool(v) => column.typed::<BoolType>().write_batch(v, defs, reps),
                Values::Bytes(v) => column.typed::<ByteArrayType>().write_batch(v, defs, reps),
                Values::Fixed(v) => column.typed::<FixedLenByteArrayType>().write_batch(v, defs, reps),
            };
            written.map_err(parquet_error)?;
            column.close().map_err(parquet_error)?;
            buffer.clear();
        }
        group.close().map_err(parquet_error)?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }
}

/// A money amount as DECIMAL(18,3)'s unscaled integer: `-12.50` (scale 2) → `-12500`.
#[cfg(feature = "ssr")]
fn money(minor: i64, scale: u8) -> io::Result<i64> {
    MONEY_SCALE
        .checked_sub(scale)
        .and_then(|up| 10i64.checked_pow(up.into()))
        .and_then(|factor| minor.checked_mul(factor))
        .ok_or_else(|| io::Error::other(format!("the amount {minor} (scale {scale}) does not fit DECIMAL(18,3)")))
}

#[cfg(feature = "ssr")]
impl<W: Write + Send> Encoder<W> for ParquetEncoder<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        for (column, buffer) in self.columns.iter().zip(&mut self.buffers) {
            let cell = &cells[column.index];
            if let Some(reps) = &mut buffer.reps {
                // A list: one entry per element (rep 1 after the first), or one entry
                // for an empty (def 1) or null (def 0) list.
                match cell {
                    Cell::List(items) if !items.is_empty() => {
                        if let Values::Bytes(values) = &mut buffer.values {
                            for (i, item) in items.iter().enumerate() {
                                reps.push(if i == 0 { 0 } else { 1 });
                                buffer.defs.push(3);
                                self.bytes += item.len();
                                values.push(ByteArray::from(item.as_str()));
                            }
                        }
                    }
                    Cell::List(_) => {
                        reps.push(0);
                        buffer.defs.push(1);
                    }
                    _ => {
                        reps.push(0);
                        buffer.defs.push(0);
                    }
                }
                continue;
            }
            let present = match (&mut buffer.values, cell) {
                (_, Cell::Null) => false,
                (Values::Int64(v), Cell::Integer(n)) => {
                    v.push(*n);
                    true
                }
                (Values::Int64(v), Cell::Money { minor, scale }) => {
                    v.push(money(*minor, *scale)?);
                    true
                }
                (Values::Int64(v), Cell::Timestamp(t)) => {
                    v.push(t.timestamp_micros());
                    true
                }
                (Values::Int32(v), Cell::Date(d)) => {
                    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
                    v.push((*d - epoch).num_days() as i32);
                    true
                }
                (Values::Bool(v), Cell::Bool(b)) => {
                    v.push(*b);
                    true
                }
                (Values::Fixed(v), Cell::Uuid(u)) => {
                    let id = uuid::Uuid::parse_str(u).map_err(|e| io::Error::other(format!("`{u}`: {e}")))?;
                    v.push(FixedLenByteArray::from(id.as_bytes().to_vec()));
                    true
                }
                (Values::Bytes(v), Cell::Text(t) | Cell::Decimal(t) | Cell::Json(t)) => {
                    self.bytes += t.len();
                    v.push(ByteArray::from(t.as_str()));
                    true
                }
                (_, other) => {
                    return Err(io::Error::other(format!(
                        "column `{}`: a {:?} value in a {} column",
                        column.name,
                        other,
                        column.kind.id()
                    )));
                }
            };
            buffer.defs.push(i16::from(present));
        }
        self.rows += 1;
        if self.rows >= ROWS_PER_GROUP || self.bytes >= BYTES_PER_GROUP {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<W> {
        self.flush()?;
        let writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("the file is closed"))?;
        writer.into_inner().map_err(parquet_error)
    }
}
