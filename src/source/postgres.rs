//! The bulk-read fast path on Postgres: `COPY (SELECT …) TO STDOUT` hands out the rows
//! as plain CSV (the database does the least work), and each record is made into exactly
//! what the format's encoder writes for the same row (`Converter` feeding the format's
//! `RecordWriter`): the spreadsheet rules, money in its currency, times in RFC 3339 and
//! the format's quoting or escaping are applied here, in Egress, not by the database's
//! backend. Large exports can be read by several connections at once in one snapshot
//! (`export_records`). `tests/suite/copy_fast_path.rs` holds the two roads to identical bytes.

use super::{Parallelism, RowBatch, RowSink, SourceError, SourceResult};
use crate::catalog::kinds::{Db, spec};
use crate::catalog::query::{self, KeyRange, SourceQuery, quote};
use crate::catalog::{Dataset, Filters, Kind, currency_scale, format_minor};
use crate::formats::{FileColumns, RecordWriter, Value};
use futures::TryStreamExt;
use sqlx::{PgConnection, PgPool, Postgres, Row};
use std::borrow::Cow;
use std::io::{Read, Seek, Write};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What `append_record` does with a field of a COPY record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CopyField {
    /// Written as it is (integers).
    Plain,
    /// The spreadsheet rules and the encoder's quoting.
    Text,
    /// Minor units → an exact decimal; the currency is the field at this index, if any.
    Money(Option<usize>),
    /// `2024-01-05 14:22:46.5+00` → RFC 3339.
    Time,
    /// Read by its kind as the general road does, then written as the encoder writes it.
    Other(Kind),
}

/// The SQL COPY writes for a column: the value itself where Rust formats it fastest,
/// else the kind's text form.
fn copy_expression(kind: Kind, col: &str) -> String {
    match kind {
        Kind::Integer | Kind::Money => col.to_owned(),
        // COPY quotes an empty string (`""`), which `field` tells from NULL (empty).
        Kind::Text => format!("{col}::text"),
        // The sessions run in UTC, so this prints `… +00` for both timestamp types.
        Kind::Timestamp => format!("({col})::timestamptz"),
        other => spec(other).read(Db::Postgres, col),
    }
}

/// A field of a COPY CSV record: the value, unquoted and unescaped; `None` for NULL (an
/// unquoted empty field).
fn field(raw: &[u8]) -> Option<Cow<'_, [u8]>> {
    match raw {
        [] => None,
        [b'"', inner @ .., b'"'] => Some(if inner.contains(&b'"') {
            let mut out = Vec::with_capacity(inner.len());
            let mut quote = false;
            for &b in inner {
                // A quote inside is doubled: keep one of each pair.
                if b == b'"' && quote {
                    quote = false;
                    continue;
                }
                quote = b == b'"';
                out.push(b);
            }
            Cow::Owned(out)
        } else {
            Cow::Borrowed(inner)
        }),
        other => Some(Cow::Borrowed(other)),
    }
}

/// Splits a COPY CSV record (without its line end) into its raw fields.
fn split_record(record: &[u8]) -> Option<Vec<&[u8]>> {
    let mut fields = Vec::new();
    let mut start = 0;
    loop {
        let end = if record.get(start) == Some(&b'"') {
            // A quoted field ends at a quote that is not doubled.
            let mut at = start + 1;
            loop {
                at += record[at..].iter().position(|&b| b == b'"')? + 1;
                if record.get(at) != Some(&b'"') {
                    break at;
                }
                at += 1;
            }
        } else {
            start
                + record[start..]
                    .iter()
                    .position(|&b| b == b',')
                    .unwrap_or(record.len() - start)
        };
        fields.push(record.get(start..end)?);
        if end >= record.len() {
            return Some(fields);
        }
        if record[end] != b',' {
            return None;
        }
        start = end + 1;
    }
}

/// Turns COPY records into a format's records (`RecordWriter`): each of the file's
/// columns read by its `CopyField` into a `Value`.
struct Converter {
    fields: Vec<CopyField>,
    writer: Arc<dyn RecordWriter>,
    /// A time's RFC 3339 text, reused from field to field.
    time: Vec<u8>,
}

impl Converter {
    /// Appends one record of COPY's CSV as the format writes it: the first
    /// `fields.len()` fields (any after them are only read, as currencies).
    fn append(&mut self, out: &mut Vec<u8>, record: &[u8]) -> Result<(), String> {
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        let malformed = || format!("unexpected COPY record: {}", String::from_utf8_lossy(record));
        let raw = split_record(record).ok_or_else(malformed)?;
        if raw.len() < self.fields.len() {
            return Err(malformed());
        }
        let text = |bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| malformed());
        let written = |e: std::io::Error| e.to_string();
        for (i, rule) in self.fields.iter().enumerate() {
            let Some(value) = field(raw[i]) else {
                self.writer.value(out, i, Value::Null).map_err(written)?;
                continue;
            };
            match *rule {
                CopyField::Plain => self.writer.value(out, i, Value::Digits(&value)),
                CopyField::Time => {
                    self.time.clear();
                    append_rfc3339(&mut self.time, &value).ok_or_else(malformed)?;
                    self.writer.value(out, i, Value::Time(&self.time))
                }
                CopyField::Money(currency) => {
                    let minor: i64 = text(&value)?.parse().map_err(|_| malformed())?;
                    let scale = currency
                        .and_then(|at| field(raw[at]))
                        .map_or(2, |code| currency_scale(&String::from_utf8_lossy(&code)));
                    self.writer.value(out, i, Value::Money(&format_minor(minor, scale)))
                }
                CopyField::Text => {
                    let text = std::str::from_utf8(&value).map_err(|_| malformed())?;
                    self.writer.value(out, i, Value::Text(text))
                }
                CopyField::Other(kind) => {
                    let cell = spec(kind).decode(&text(&value)?)?;
                    self.writer.value(out, i, Value::Cell(kind, &cell))
                }
            }
            .map_err(written)?;
        }
        self.writer.end(out);
        Ok(())
    }
}

/// `2024-01-05 14:22:46.5+00` → `2024-01-05T14:22:46.500Z` (as `kinds::timestamp` writes
/// it: sub-seconds only when there are some, in threes).
fn append_rfc3339(out: &mut Vec<u8>, text: &[u8]) -> Option<()> {
    let body = text.strip_suffix(b"+00")?;
    if body.len() < 19 || body[10] != b' ' {
        return None;
    }
    out.extend_from_slice(&body[..10]);
    out.push(b'T');
    out.extend_from_slice(&body[11..19]);
    if let Some(digits) = body[19..].strip_prefix(b".") {
        out.push(b'.');
        out.extend_from_slice(digits);
        let width: usize = if digits.len() <= 3 { 3 } else { 6 };
        out.extend(std::iter::repeat_n(b'0', width.checked_sub(digits.len())?));
    } else if body.len() > 19 {
        return None;
    }
    out.push(b'Z');
    Some(())
}

/// COPY takes no bind parameters, so the statement reads its values from
/// transaction-local settings (`set_config`), cast as the query casts its parameters:
/// values never become SQL.
fn copy_statement(q: &SourceQuery) -> String {
    let mut sql = q.sql.clone();
    // From the highest number down, so `$1` does not match the start of `$10`.
    for i in (1..=q.params.len()).rev() {
        sql = sql.replace(&format!("${i}"), &format!("current_setting('egress.p{i}')"));
    }
    format!("COPY ({sql}) TO STDOUT WITH (FORMAT csv)")
}

/// The connection of a COPY, in its snapshot's transaction: back to the pool only when
/// the COPY ran to its end. sqlx leaves the rest of an interrupted COPY's messages
/// unread on the socket (a cancel, a reader that went, an error), and the next query on
/// that connection would read them and fail ("expected ParseComplete, got
/// ReadyForQuery"); such a connection is closed.
struct CopyConnection {
    conn: Option<sqlx::pool::PoolConnection<Postgres>>,
    finished: bool,
}

impl CopyConnection {
    /// A connection in a read-only REPEATABLE READ transaction: a snapshot of its own, or
    /// the one another connection exported (`pg_export_snapshot`), so both read the same.
    async fn begin(pool: &PgPool, snapshot: Option<&str>) -> SourceResult<CopyConnection> {
        let mut copy = CopyConnection {
            conn: Some(pool.acquire().await?),
            finished: false,
        };
        let conn = copy.conn();
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *conn)
            .await?;
        if let Some(snapshot) = snapshot {
            // A snapshot id is Postgres's own (hex digits and dashes), not user input.
            sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
                .execute(&mut *conn)
                .await?;
        }
        Ok(copy)
    }

    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_deref_mut().expect("held until dropped")
    }

    async fn commit(mut self) -> SourceResult<()> {
        sqlx::query("COMMIT").execute(self.conn()).await?;
        self.finished = true;
        Ok(())
    }
}

impl Drop for CopyConnection {
    fn drop(&mut self) {
        if !self.finished
            && let Some(conn) = self.conn.take()
        {
            // Out of the pool; dropped, its socket closes and Postgres ends the session.
            drop(conn.detach());
        }
    }
}

/// Bytes of records per batch sent to the encoder at most (batches also end at `batch` rows).
const BATCH_BYTES: usize = 256 * 1024;

/// With `Parallelism::Auto`, one reader per this many rows (at most `AUTO_READERS`):
/// below it, splitting costs more than a second backend gives.
const AUTO_ROWS_PER_READER: i64 = 500_000;
/// With `Parallelism::Auto`, readers at most: a database host's spare cores are not
/// known here; `--read-parallelism` says how many to use on a larger one.
const AUTO_READERS: usize = 2;

/// The file's columns as COPY reads them, and what `Converter` does with each: the
/// file's columns in order, then the currency columns their money needs.
fn copy_plan(dataset: &Dataset, columns: &FileColumns) -> (Vec<String>, Vec<CopyField>) {
    let mut select: Vec<String> = Vec::new();
    let mut fields = Vec::new();
    let mut extra: Vec<String> = Vec::new();
    for file_column in columns.iter() {
        let column = &dataset.columns[file_column.index];
        select.push(copy_expression(column.kind, &quote(&column.name)));
        fields.push(match column.kind {
            Kind::Integer => CopyField::Plain,
            Kind::Text => CopyField::Text,
            Kind::Timestamp => CopyField::Time,
            Kind::Money => CopyField::Money(column.currency_column.as_ref().map(|currency| {
                // The currency's own field when the file has it, else one read after.
                match columns.iter().position(|c| &c.name == currency) {
                    Some(at) => at,
                    None => {
                        if !extra.contains(currency) {
                            extra.push(currency.clone());
                        }
                        columns.len() + extra.iter().position(|e| e == currency).expect("just added")
                    }
                }
            })),
            other => CopyField::Other(other),
        });
    }
    select.extend(extra.iter().map(|c| format!("{}::text", quote(c))));
    // Aliased, so that ORDER BY still means the table's key columns, not these.
    let select = select
        .into_iter()
        .enumerate()
        .map(|(i, s)| format!("{s} AS egress_c{i}"))
        .collect();
    (select, fields)
}

/// A key range's records written to a file while the ranges before it are sent, so the
/// file's rows keep their order and memory its bound: frames of (rows, length, bytes).
struct Spool(std::io::BufWriter<std::fs::File>);

impl Spool {
    fn new() -> SourceResult<Spool> {
        let file = tempfile::tempfile().map_err(spool_error)?;
        Ok(Spool(std::io::BufWriter::with_capacity(BATCH_BYTES, file)))
    }

    fn put(&mut self, bytes: &[u8], rows: usize) -> SourceResult<()> {
        let frame = [(rows as u64).to_le_bytes(), (bytes.len() as u64).to_le_bytes()];
        self.0.write_all(frame.as_flattened()).map_err(spool_error)?;
        self.0.write_all(bytes).map_err(spool_error)
    }

    /// Sends the spooled batches in order; `false` when the receiver went first.
    async fn send(self, sender: &mpsc::Sender<RowBatch>) -> SourceResult<bool> {
        let mut file = self.0.into_inner().map_err(|e| spool_error(e.into_error()))?;
        file.seek(std::io::SeekFrom::Start(0)).map_err(spool_error)?;
        let mut file = std::io::BufReader::with_capacity(BATCH_BYTES, file);
        let mut frame = [0u8; 16];
        loop {
            match file.read_exact(&mut frame) {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(true),
                other => other.map_err(spool_error)?,
            }
            let rows = u64::from_le_bytes(frame[..8].try_into().expect("8 bytes")) as usize;
            let mut bytes = vec![0; u64::from_le_bytes(frame[8..].try_into().expect("8 bytes")) as usize];
            file.read_exact(&mut bytes).map_err(spool_error)?;
            if sender.send(RowBatch::Encoded { bytes, rows }).await.is_err() {
                return Ok(false);
            }
        }
    }
}

fn spool_error(e: std::io::Error) -> SourceError {
    SourceError::Inconsistent(format!("spooling a parallel read to a temporary file: {e}"))
}

/// Where a range's batches go: to the encoder, or to a spool until its turn.
enum Target<'a> {
    Send(&'a mpsc::Sender<RowBatch>),
    Spool(&'a mut Spool),
}

/// What every COPY of an export shares: the statement's parts and the record writer.
struct Copier {
    dataset: Arc<Dataset>,
    tenant: String,
    filters: Filters,
    select: String,
    fields: Vec<CopyField>,
    writer: Arc<dyn RecordWriter>,
    batch: usize,
}

impl Copier {
    /// COPYs one key range on `conn` (in the snapshot's transaction) to `target`, as
    /// batches of the format's records. `Ok(false)` when the receiver went first.
    async fn copy(&self, conn: &mut PgConnection, range: &KeyRange, mut target: Target<'_>) -> SourceResult<bool> {
        let statement = query::export_of(
            Db::Postgres,
            &self.dataset,
            &self.tenant,
            &self.filters,
            None,
            range,
            &self.select,
        );
        for (i, param) in statement.params.iter().enumerate() {
            sqlx::query("SELECT set_config($1, $2, true)")
                .bind(format!("egress.p{}", i + 1))
                .bind(param)
                .execute(&mut *conn)
                .await?;
        }
        for setting in ["SET LOCAL TimeZone = 'UTC'", "SET LOCAL DateStyle = 'ISO'"] {
            sqlx::query(setting).execute(&mut *conn).await?;
        }
        let mut converter = Converter {
            fields: self.fields.clone(),
            writer: self.writer.clone(),
            time: Vec::with_capacity(32),
        };
        let mut records = conn.copy_out_raw(&copy_statement(&statement)).await?;
        let mut bytes = Vec::with_capacity(64 * 1024);
        let mut rows = 0;
        loop {
            let record = records.try_next().await?;
            if let Some(record) = &record {
                // COPY sends each row as one message.
                converter
                    .append(&mut bytes, record)
                    .map_err(|message| SourceError::Decode {
                        dataset: self.dataset.id.clone(),
                        column: "(a COPY record)".into(),
                        message,
                    })?;
                rows += 1;
            }
            let last = record.is_none();
            if rows == self.batch || bytes.len() >= BATCH_BYTES || (last && rows > 0) {
                let full = std::mem::replace(&mut bytes, Vec::with_capacity(64 * 1024));
                match &mut target {
                    Target::Send(sender) => {
                        if sender.send(RowBatch::Encoded { bytes: full, rows }).await.is_err() {
                            return Ok(false);
                        }
                    }
                    Target::Spool(spool) => spool.put(&full, rows)?,
                }
                rows = 0;
            }
            if last {
                return Ok(true);
            }
        }
    }

    /// The row count in the snapshot.
    async fn count(&self, conn: &mut PgConnection) -> SourceResult<i64> {
        let q = query::count(Db::Postgres, &self.dataset, &self.tenant, &self.filters, None);
        Ok(q.params
            .iter()
            .fold(sqlx::query(&q.sql), |s, p| s.bind(p))
            .fetch_one(conn)
            .await?
            .try_get(0)?)
    }

    /// The key ranges of `readers` parallel reads, each about as many rows: split at
    /// the keys of the rows at offsets count·i/readers.
    async fn ranges(&self, conn: &mut PgConnection, count: i64, readers: usize) -> SourceResult<Vec<KeyRange>> {
        let mut bounds = Vec::new();
        for i in 1..readers {
            let q = query::key_at(
                Db::Postgres,
                &self.dataset,
                &self.tenant,
                &self.filters,
                count * i as i64 / readers as i64 - 1,
            );
            let row = q
                .params
                .iter()
                .fold(sqlx::query(&q.sql), |s, p| s.bind(p))
                .fetch_one(&mut *conn)
                .await?;
            let key = (0..row.len())
                .map(|i| row.try_get::<String, _>(i))
                .collect::<Result<Vec<_>, _>>()?;
            bounds.push(key);
        }
        let mut ranges = Vec::new();
        let mut after = None;
        for through in bounds.into_iter().map(Some).chain(std::iter::once(None)) {
            ranges.push(KeyRange {
                after: after.take(),
                through: through.clone(),
            });
            after = through;
        }
        Ok(ranges)
    }
}

/// Streams a dataset's matching rows as a format's records (`writer`), read with COPY
/// in one snapshot: the count to `sink.total`, the records in key order to `sink.rows`.
///
/// One reader runs the count beside the COPY on a second connection that shares the
/// snapshot. More readers (`parallelism`) split the rows into contiguous key ranges, each
/// COPYed on its own connection in the same snapshot, so the database works on as many
/// cores; the first range is sent as it comes, the others are spooled to temporary files
/// and sent in order after it.
#[allow(clippy::too_many_arguments)]
pub async fn export_records(
    pool: &PgPool,
    dataset: Arc<Dataset>,
    tenant: &str,
    filters: &Filters,
    columns: &FileColumns,
    writer: Arc<dyn RecordWriter>,
    parallelism: Parallelism,
    batch: usize,
    sink: RowSink,
) -> SourceResult<()> {
    let RowSink { rows: sender, total } = sink;
    let (select, fields) = copy_plan(&dataset, columns);
    let copier = Arc::new(Copier {
        dataset,
        tenant: tenant.to_owned(),
        filters: filters.clone(),
        select: select.join(", "),
        fields,
        writer,
        batch,
    });
    let mut main = CopyConnection::begin(pool, None).await?;
    let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(main.conn())
        .await?;
    let everything = KeyRange::default();
    if parallelism == Parallelism::Fixed(1) {
        // The count beside the COPY, so the rows start at once.
        let counting = async {
            let mut other = CopyConnection::begin(pool, Some(&snapshot)).await?;
            let count = copier.count(other.conn()).await?;
            other.commit().await?;
            let _ = total.send(count);
            Ok::<_, SourceError>(())
        };
        let copying = copier.copy(main.conn(), &everything, Target::Send(&sender));
        let ((), finished) = tokio::try_join!(counting, copying)?;
        if finished {
            main.commit().await?;
        }
        return Ok(());
    }
    let count = copier.count(main.conn()).await?;
    if total.send(count).is_err() {
        return Ok(());
    }
    let readers = match parallelism {
        Parallelism::Fixed(n) => n,
        Parallelism::Auto => ((count / AUTO_ROWS_PER_READER) as usize).clamp(1, AUTO_READERS),
    }
    .clamp(1, count.max(1) as usize);
    let mut ranges = copier.ranges(main.conn(), count, readers).await?.into_iter();
    let first = ranges.next().expect("at least one range");
    // The other ranges each on a task of its own, so their records are made on other
    // cores than the first's. Dropped (the receiver went, or an error), they stop: their
    // connections are closed mid-COPY.
    let mut spooling = Spooling(
        ranges
            .map(|range| {
                let (copier, pool, snapshot) = (copier.clone(), pool.clone(), snapshot.clone());
                tokio::spawn(async move {
                    let mut conn = CopyConnection::begin(&pool, Some(&snapshot)).await?;
                    let mut spool = Spool::new()?;
                    copier.copy(conn.conn(), &range, Target::Spool(&mut spool)).await?;
                    conn.commit().await?;
                    Ok::<_, SourceError>(spool)
                })
            })
            .collect(),
    );
    if !copier.copy(main.conn(), &first, Target::Send(&sender)).await? {
        return Ok(());
    }
    for task in spooling.0.iter_mut() {
        let spool = task
            .await
            .map_err(|e| SourceError::Inconsistent(format!("a parallel read stopped: {e}")))??;
        if !spool.send(&sender).await? {
            return Ok(());
        }
    }
    // Only now: a snapshot can be imported only while the transaction that exported it
    // is open, and a small first range can end before the other tasks begin.
    main.commit().await
}

/// The tasks of a parallel read's later ranges, stopped when dropped.
struct Spooling(Vec<tokio::task::JoinHandle<SourceResult<Spool>>>);

impl Drop for Spooling {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CopyField::{Money, Plain, Text, Time};

    fn converter(fields: &[CopyField], format: &str) -> Converter {
        let columns = crate::formats::testing::columns(&vec![("c", Kind::Text); fields.len()]);
        let records = crate::formats::Format::parse(format).unwrap().records.unwrap();
        Converter {
            fields: fields.to_vec(),
            writer: records(&columns).into(),
            time: Vec::new(),
        }
    }

    fn converted(record: &str, fields: &[CopyField]) -> String {
        let mut out = Vec::new();
        converter(fields, "csv").append(&mut out, record.as_bytes()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_end_in_crlf_and_times_become_rfc3339() {
        assert_eq!(converted("1,a\n", &[Plain, Text]), "1,a\r\n");
        assert_eq!(
            converted(
                "1,\"x,\"\"y\"\"\n\",2024-01-05 14:22:46+00,,2024-01-05 14:22:46.5+00\n",
                &[Plain, Text, Time, Time, Time]
            ),
            "1,\"x,\"\"y\"\"\n\",2024-01-05T14:22:46Z,,2024-01-05T14:22:46.500Z\r\n"
        );
        assert_eq!(
            converted("2024-01-05 14:22:46.00001+00\n", &[Time]),
            "2024-01-05T14:22:46.000010Z\r\n"
        );
    }

    #[test]
    fn money_covers_every_i64_in_its_currency() {
        assert_eq!(
            converted("-9223372036854775808,5,-5,9223372036854775807,\n", &[Money(None); 5]),
            "-92233720368547758.08,0.05,-0.05,92233720368547758.07,\r\n"
        );
        assert_eq!(converted("1234,JPY\n", &[Money(Some(1))]), "1234\r\n");
        assert_eq!(converted("1234,KWD,x\n", &[Money(Some(1)), Text]), "1.234,KWD\r\n");
    }

    #[test]
    fn text_gets_the_spreadsheet_rules_and_the_encoders_quoting() {
        let text = [Plain, Text, Text];
        assert_eq!(
            converted("1,x;=1+1;,\"a,b;c\"\n", &text),
            "1,\"x;'=1+1;\",\"a,b;c\"\r\n"
        );
        assert_eq!(
            converted("1,=1+1,\"=a,\"\"b\"\"\"\n", &text),
            "1,'=1+1,\"'=a,\"\"b\"\"\"\r\n"
        );
        assert_eq!(converted("1,a\tb,-5\n", &text), "1,\"a\tb\",-5\r\n");
        assert_eq!(converted("1,\"a\n=2\",\n", &text), "1,\"a\n'=2\",\r\n");
        assert_eq!(converted(",\n", &[Text, Text]), ",\r\n");
    }

    #[test]
    fn other_kinds_are_read_and_written_as_the_encoder_writes_them() {
        let fields = [
            CopyField::Other(Kind::Json),
            CopyField::Other(Kind::TextList),
            CopyField::Other(Kind::Boolean),
        ];
        assert_eq!(
            converted("\"{\"\"a\"\": \"\"=1\"\"}\",\"[\"\"x\"\",\"\"=y\"\"]\",true\n", &fields),
            "\"{\"\"a\"\":\"\"=1\"\"}\",\"x,=y\",true\r\n"
        );
    }

    #[test]
    fn json_records_are_objects_a_line_with_strings_escaped_and_nulls_kept() {
        let mut out = Vec::new();
        let mut json = converter(&[Plain, Text, Money(Some(3)), Text, Time], "ndjson");
        json.append(&mut out, b"7,\"=a \"\"q\"\"\nb\",-1234,KWD,\n").unwrap();
        json.append(&mut out, b",\"\",5,,2024-01-05 14:22:46.5+00\n").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"c\":7,\"c\":\"=a \\\"q\\\"\\nb\",\"c\":\"-1.234\",\"c\":\"KWD\",\"c\":null}\n\
             {\"c\":null,\"c\":\"\",\"c\":\"0.05\",\"c\":null,\"c\":\"2024-01-05T14:22:46.500Z\"}\n"
        );
    }

    #[test]
    fn a_surprising_record_is_an_error_not_a_wrong_file() {
        let mut out = Vec::new();
        assert!(
            converter(&[Time], "csv")
                .append(&mut out, b"2024-01-05 14:22:46+01\n")
                .is_err()
        );
        assert!(converter(&[Text], "csv").append(&mut out, b"\"open\n").is_err());
        assert!(converter(&[Money(None)], "ndjson").append(&mut out, b"12.5\n").is_err());
    }
}
