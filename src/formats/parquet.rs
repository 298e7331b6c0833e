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

#[cfg(feature = "ssr")]
use super::FileColumn;
use super::FormatSpec;
#[cfg(feature = "ssr")]
use super::{Encoder, FileColumns, RecordWriter, Value};
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
    records: Some(|columns| {
        Box::new(ParquetRecords {
            columns: columns.clone(),
        })
    }),
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

    /// Adds one value of a row; `bytes` counts the row group's text.
    fn push(&mut self, value: Packed<'_>, bytes: &mut usize, column: &FileColumn) -> io::Result<()> {
        if let Some(reps) = &mut self.reps {
            // A list: one entry per element (rep 1 after the first), or one entry for an
            // empty (def 1) or null (def 0) list.
            match (&mut self.values, value) {
                (Values::Bytes(values), Packed::List(items)) if !items.is_empty() => {
                    for (i, item) in items.iter().enumerate() {
                        reps.push(if i == 0 { 0 } else { 1 });
                        self.defs.push(3);
                        *bytes += item.len();
                        values.push(ByteArray::from(*item));
                    }
                }
                (_, Packed::List(_)) => {
                    reps.push(0);
                    self.defs.push(1);
                }
                (_, Packed::Null) => {
                    reps.push(0);
                    self.defs.push(0);
                }
                (_, other) => return Err(mismatch(column, &other)),
            }
            return Ok(());
        }
        let present = match (&mut self.values, value) {
            (_, Packed::Null) => false,
            (Values::Int64(v), Packed::Int64(n)) => {
                v.push(n);
                true
            }
            (Values::Int32(v), Packed::Int32(n)) => {
                v.push(n);
                true
            }
            (Values::Bool(v), Packed::Bool(b)) => {
                v.push(b);
                true
            }
            (Values::Fixed(v), Packed::Uuid(id)) => {
                v.push(FixedLenByteArray::from(id.to_vec()));
                true
            }
            (Values::Bytes(v), Packed::Bytes(text)) => {
                *bytes += text.len();
                v.push(ByteArray::from(text));
                true
            }
            (_, other) => return Err(mismatch(column, &other)),
        };
        self.defs.push(i16::from(present));
        Ok(())
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

/// A value as its column stores it: what both roads, rows and records, come to.
#[cfg(feature = "ssr")]
#[derive(Debug)]
enum Packed<'a> {
    Null,
    Int64(i64),
    Int32(i32),
    Bool(bool),
    Uuid([u8; 16]),
    Bytes(&'a [u8]),
    List(Vec<&'a [u8]>),
}

#[cfg(feature = "ssr")]
fn mismatch(column: &FileColumn, value: &Packed<'_>) -> io::Error {
    io::Error::other(format!(
        "column `{}`: a {value:?} value in a {} column",
        column.name,
        column.kind.id()
    ))
}

/// A cell as its column stores it.
#[cfg(feature = "ssr")]
fn packed(cell: &Cell) -> io::Result<Packed<'_>> {
    Ok(match cell {
        Cell::Null => Packed::Null,
        Cell::Integer(n) => Packed::Int64(*n),
        Cell::Money { minor, scale } => Packed::Int64(money(*minor, *scale)?),
        Cell::Timestamp(t) => Packed::Int64(t.timestamp_micros()),
        Cell::Date(d) => {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
            Packed::Int32((*d - epoch).num_days() as i32)
        }
        Cell::Bool(b) => Packed::Bool(*b),
        Cell::Uuid(u) => Packed::Uuid(
            *uuid::Uuid::parse_str(u)
                .map_err(|e| io::Error::other(format!("`{u}`: {e}")))?
                .as_bytes(),
        ),
        Cell::Text(t) | Cell::Decimal(t) | Cell::Json(t) => Packed::Bytes(t.as_bytes()),
        Cell::List(items) => Packed::List(items.iter().map(|i| i.as_bytes()).collect()),
    })
}

/// Records of Parquet for the bulk-read road: each value parsed on the reading thread
/// into what its column stores, and packed as a tag byte and its payload, which the
/// encoder only copies into its columns (`ParquetEncoder::encoded`).
#[cfg(feature = "ssr")]
struct ParquetRecords {
    columns: FileColumns,
}

#[cfg(feature = "ssr")]
mod tag {
    pub const NULL: u8 = 0;
    pub const INT64: u8 = 1;
    pub const INT32: u8 = 2;
    pub const BOOL: u8 = 3;
    pub const UUID: u8 = 4;
    pub const BYTES: u8 = 5;
    pub const LIST: u8 = 6;
}

#[cfg(feature = "ssr")]
fn pack(out: &mut Vec<u8>, value: &Packed<'_>) {
    let bytes = |out: &mut Vec<u8>, b: &[u8]| {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b);
    };
    match value {
        Packed::Null => out.push(tag::NULL),
        Packed::Int64(n) => {
            out.push(tag::INT64);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Packed::Int32(n) => {
            out.push(tag::INT32);
            out.extend_from_slice(&n.to_le_bytes());
        }
        Packed::Bool(b) => out.extend_from_slice(&[tag::BOOL, u8::from(*b)]),
        Packed::Uuid(id) => {
            out.push(tag::UUID);
            out.extend_from_slice(id);
        }
        Packed::Bytes(b) => {
            out.push(tag::BYTES);
            bytes(out, b);
        }
        Packed::List(items) => {
            out.push(tag::LIST);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for item in items {
                bytes(out, item);
            }
        }
    }
}

/// The first packed value of `records`, and the rest.
#[cfg(feature = "ssr")]
fn unpack(records: &[u8]) -> io::Result<(Packed<'_>, &[u8])> {
    fn take(rest: &[u8], n: usize) -> io::Result<(&[u8], &[u8])> {
        (rest.len() >= n)
            .then(|| rest.split_at(n))
            .ok_or_else(|| io::Error::other("a packed Parquet record is cut short"))
    }
    fn bytes(rest: &[u8]) -> io::Result<(&[u8], &[u8])> {
        let (len, rest) = take(rest, 4)?;
        take(rest, u32::from_le_bytes(len.try_into().expect("4 bytes")) as usize)
    }
    let (tag, rest) = take(records, 1)?;
    Ok(match tag[0] {
        tag::NULL => (Packed::Null, rest),
        tag::INT64 => {
            let (n, rest) = take(rest, 8)?;
            (Packed::Int64(i64::from_le_bytes(n.try_into().expect("8 bytes"))), rest)
        }
        tag::INT32 => {
            let (n, rest) = take(rest, 4)?;
            (Packed::Int32(i32::from_le_bytes(n.try_into().expect("4 bytes"))), rest)
        }
        tag::BOOL => {
            let (b, rest) = take(rest, 1)?;
            (Packed::Bool(b[0] != 0), rest)
        }
        tag::UUID => {
            let (id, rest) = take(rest, 16)?;
            (Packed::Uuid(id.try_into().expect("16 bytes")), rest)
        }
        tag::BYTES => {
            let (b, rest) = bytes(rest)?;
            (Packed::Bytes(b), rest)
        }
        tag::LIST => {
            let (count, mut rest) = take(rest, 4)?;
            let count = u32::from_le_bytes(count.try_into().expect("4 bytes"));
            let mut items = Vec::new();
            for _ in 0..count {
                let (item, after) = bytes(rest)?;
                items.push(item);
                rest = after;
            }
            (Packed::List(items), rest)
        }
        other => return Err(io::Error::other(format!("a packed Parquet value with tag {other}"))),
    })
}

/// `-12.34` → `-12340`, DECIMAL(18,3)'s unscaled integer.
#[cfg(feature = "ssr")]
fn money_of_decimal(decimal: &str) -> io::Result<i64> {
    let bad = || io::Error::other(format!("`{decimal}` is not an amount"));
    let (negative, digits) = match decimal.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, decimal),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || fraction.len() > usize::from(MONEY_SCALE) {
        return Err(bad());
    }
    // In i128, so that the most negative amount, one past i64::MAX, reads too.
    let mut minor: i128 = 0;
    for digit in whole.bytes().chain(fraction.bytes()) {
        if !digit.is_ascii_digit() || minor > i128::from(i64::MAX) {
            return Err(bad());
        }
        minor = minor * 10 + i128::from(digit - b'0');
    }
    let minor = i64::try_from(if negative { -minor } else { minor }).map_err(|_| bad())?;
    money(minor, fraction.len() as u8)
}

#[cfg(feature = "ssr")]
impl RecordWriter for ParquetRecords {
    fn value(&self, out: &mut Vec<u8>, column: usize, value: Value<'_>) -> io::Result<()> {
        let bad = |what: &[u8]| {
            io::Error::other(format!(
                "column `{}`: `{}` is not a {}",
                self.columns[column].name,
                String::from_utf8_lossy(what),
                self.columns[column].kind.id()
            ))
        };
        let value = match value {
            Value::Null => Packed::Null,
            Value::Digits(digits) => Packed::Int64(
                std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| bad(digits))?,
            ),
            Value::Money(decimal) => Packed::Int64(money_of_decimal(decimal)?),
            Value::Time(time) => Packed::Int64(
                std::str::from_utf8(time)
                    .ok()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .ok_or_else(|| bad(time))?
                    .timestamp_micros(),
            ),
            Value::Text(text) => Packed::Bytes(text.as_bytes()),
            Value::Cell(_, cell) => {
                pack(out, &packed(cell)?);
                return Ok(());
            }
        };
        pack(out, &value);
        Ok(())
    }

    /// A record is its columns' values: its end needs no mark.
    fn end(&self, _: &mut Vec<u8>) {}
}

#[cfg(feature = "ssr")]
impl<W: Write + Send> ParquetEncoder<W> {
    /// Counts a row, and writes the row group when it is full.
    fn row_done(&mut self) -> io::Result<()> {
        self.rows += 1;
        if self.rows >= ROWS_PER_GROUP || self.bytes >= BYTES_PER_GROUP {
            self.flush()?;
        }
        Ok(())
    }
}

#[cfg(feature = "ssr")]
impl<W: Write + Send> Encoder<W> for ParquetEncoder<W> {
    fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        for (column, buffer) in self.columns.iter().zip(&mut self.buffers) {
            buffer.push(packed(&cells[column.index])?, &mut self.bytes, column)?;
        }
        self.row_done()
    }

    fn encoded(&mut self, mut records: &[u8]) -> io::Result<()> {
        while !records.is_empty() {
            for (column, buffer) in self.columns.iter().zip(&mut self.buffers) {
                let (value, rest) = unpack(records)?;
                buffer.push(value, &mut self.bytes, column)?;
                records = rest;
            }
            self.row_done()?;
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

#[cfg(feature = "ssr")]
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_values_read_back_as_written() {
        let values = [
            Packed::Null,
            Packed::Int64(-5),
            Packed::Int32(19_000),
            Packed::Bool(true),
            Packed::Uuid([7; 16]),
            Packed::Bytes("é;=1".as_bytes()),
            Packed::List(vec![b"a", b""]),
            Packed::List(vec![]),
        ];
        let mut out = Vec::new();
        for value in &values {
            pack(&mut out, value);
        }
        let mut rest = &out[..];
        for value in &values {
            let (read, after) = unpack(rest).unwrap();
            assert_eq!(format!("{read:?}"), format!("{value:?}"));
            rest = after;
        }
        assert!(rest.is_empty());
        let mut text = Vec::new();
        pack(&mut text, &Packed::Bytes(b"cut"));
        assert!(
            unpack(&text[..text.len() - 1]).is_err(),
            "a value cut short is an error"
        );
    }

    #[test]
    fn amounts_read_back_at_three_decimals() {
        assert_eq!(money_of_decimal("-12.34").unwrap(), -12_340);
        assert_eq!(money_of_decimal("7").unwrap(), 7_000);
        assert_eq!(money_of_decimal("0.005").unwrap(), 5);
        assert!(money_of_decimal("1.0005").is_err(), "four decimals do not fit");
        let least = money_of_decimal(&i64::MIN.to_string()).unwrap_err().to_string();
        assert_eq!(
            least,
            "the amount -9223372036854775808 (scale 0) does not fit DECIMAL(18,3)"
        );
        assert!(money_of_decimal("x").is_err());
    }
}
