//! The Postgres store: what only Postgres does. The statements both backends share are in
//! `shared.rs` and `jobs.rs`.

use super::jobs::Flavour;
use super::query::{self, Dialect, Param, Query};
use super::*;
use crate::datasets::{Column, ColumnKind, PAGE_SIZE};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, PgPool, Postgres, Row, Transaction, query::Query as SqlxQuery};
use std::str::FromStr;
use std::time::Duration;

static FLAVOUR: Flavour = Flavour {
    now: "now()",
    uuid: "::uuid",
    time: "::timestamptz",
    json: "::jsonb",
    uuid_text: "{}::text",
    json_text: "{}::text",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    time_text: "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
};

/// The oldest runnable job, locked so that concurrent workers skip it, in one statement.
const CLAIM: &str = "UPDATE export_jobs SET status = 'processing', attempts = attempts + 1, \
    lease_until = $1::timestamptz, locked_by = $2, started_at = COALESCE(started_at, now()), updated_at = now() \
    WHERE id = (SELECT id FROM export_jobs \
        WHERE (status = 'pending' AND run_after <= now()) OR (status = 'processing' AND lease_until < now()) \
        ORDER BY run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
    RETURNING id::text";

pub struct PgStore {
    pool: PgPool,
}

/// Postgres SQL for the shared queries (public so the benchmark can print the exact SELECT).
pub struct PgDialect;

impl Dialect for PgDialect {
    fn placeholder(n: usize) -> String {
        format!("${n}")
    }
    fn has_tag(p: &str) -> String {
        format!("{p} = ANY(tags)")
    }
}

fn bind_all(q: &Query) -> SqlxQuery<'_, Postgres, PgArguments> {
    q.params.iter().fold(sqlx::query(&q.sql), |sql, param| match param {
        Param::Int(v) => sql.bind(*v),
        Param::Text(v) => sql.bind(v.as_str()),
        Param::Bool(v) => sql.bind(*v),
        Param::MaybeInt(v) => sql.bind(*v),
        Param::MaybeText(v) => sql.bind(v.as_deref()),
        Param::Time(v) => sql.bind(*v),
    })
}

fn decode_row(row: &PgRow, dataset: &Dataset) -> Result<Vec<Cell>, sqlx::Error> {
    dataset
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            Ok(match column.kind {
                ColumnKind::Integer => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Integer),
                ColumnKind::Money => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Money),
                ColumnKind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text),
                ColumnKind::Timestamp => row
                    .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(i)?
                    .map_or(Cell::Null, Cell::Timestamp),
                ColumnKind::Tags => row.try_get::<Option<Vec<String>>, _>(i)?.map_or(Cell::Null, Cell::Tags),
            })
        })
        .collect()
}

/// A cell as a field of COPY's CSV format, where `\N` (unquoted) is NULL.
fn copy_field(cell: &Cell) -> String {
    match cell {
        Cell::Null => "\\N".to_owned(),
        Cell::Integer(v) | Cell::Money(v) => v.to_string(),
        Cell::Text(s) => s.clone(),
        Cell::Timestamp(t) => t.to_rfc3339(),
        Cell::Tags(tags) => {
            let quoted: Vec<String> = tags
                .iter()
                .map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            format!("{{{}}}", quoted.join(","))
        }
    }
}

/// A column as COPY should send it for the CSV fast path: the values themselves, tags
/// joined by commas, and empty text as NULL (COPY quotes an empty string, `""`, where the
/// encoder writes nothing; both read back as empty). Everything else the encoder does
/// (`formats::safety`, money, times, quoting) is done to the records in `append_record`,
/// off the database's one core.
fn csv_expression(column: &Column) -> String {
    let c = column.name;
    match column.kind {
        ColumnKind::Integer | ColumnKind::Money | ColumnKind::Timestamp => c.to_owned(),
        ColumnKind::Text => format!("NULLIF({c}, '')"),
        ColumnKind::Tags => format!("NULLIF(array_to_string({c}, ','), '')"),
    }
}

/// What `append_record` does to a field of a COPY record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CopyField {
    /// Copied as it is (integers).
    Plain,
    /// Made safe for spreadsheets (`safety::neutralise_csv`) and quoted as the encoder quotes.
    Text,
    /// Minor units → an exact decimal (`datasets::format_cents`).
    Money,
    /// `2024-01-05 14:22:46.5+00` → RFC 3339.
    Time,
}

impl CopyField {
    fn of(kind: ColumnKind) -> CopyField {
        match kind {
            ColumnKind::Integer => CopyField::Plain,
            ColumnKind::Text | ColumnKind::Tags => CopyField::Text,
            ColumnKind::Money => CopyField::Money,
            ColumnKind::Timestamp => CopyField::Time,
        }
    }
}

/// Appends one record of COPY's CSV (one row, ending in LF) as the CSV encoder writes it:
/// ending in CRLF; timestamps, which Postgres prints in UTC as `2024-01-05 14:22:46.5+00`,
/// in RFC 3339 with sub-seconds only when there are some (`2024-01-05T14:22:46.500Z`);
/// money as a decimal; text through the spreadsheet rules; and a text field that holds a
/// `;` or a tab quoted, as the encoder quotes it (COPY quotes only for its own
/// separator). The rules apply to a quoted field's escaped content as they do to the text:
/// escaping doubles quotes, and a quote neither starts a formula nor makes a number.
fn append_record(out: &mut Vec<u8>, record: &[u8], fields: &[CopyField]) -> Result<(), sqlx::Error> {
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    let malformed = || sqlx::Error::Protocol(format!("unexpected COPY record: {}", String::from_utf8_lossy(record)));
    let (mut field, mut start) = (0, 0);
    loop {
        let quoted = record.get(start) == Some(&b'"');
        let end = if quoted {
            // A quoted field ends at a quote that is not doubled.
            let mut at = start + 1;
            loop {
                at += record[at..].iter().position(|&b| b == b'"').ok_or_else(malformed)? + 1;
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
        let value = record.get(start..end).ok_or_else(malformed)?;
        match fields.get(field).copied().unwrap_or(CopyField::Plain) {
            _ if value.is_empty() => {}
            CopyField::Plain => out.extend_from_slice(value),
            CopyField::Time => append_rfc3339(out, value).ok_or_else(malformed)?,
            CopyField::Money => {
                let cents: i64 = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(malformed)?;
                out.extend_from_slice(crate::datasets::format_cents(cents).as_bytes());
            }
            CopyField::Text => {
                let inner = if quoted { &value[1..value.len() - 1] } else { value };
                let text = std::str::from_utf8(inner).map_err(|_| malformed())?;
                let safe = crate::formats::safety::neutralise_csv(text);
                let quote = quoted || crate::formats::csv::needs_quotes(safe.as_bytes());
                if quote {
                    out.push(b'"');
                }
                out.extend_from_slice(safe.as_bytes());
                if quote {
                    out.push(b'"');
                }
            }
        }
        if end >= record.len() {
            break;
        }
        if record[end] != b',' {
            return Err(malformed());
        }
        out.push(b',');
        field += 1;
        start = end + 1;
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `2024-01-05 14:22:46.5+00` → `2024-01-05T14:22:46.500Z` (`formats::safety::rfc3339`).
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

/// COPY takes no bind parameters, so the export query reads its filter values from
/// transaction-local settings (`set_config`), typed back here: values never become SQL.
fn copy_statement(q: &Query) -> String {
    let mut sql = q.sql.clone();
    // From the highest number down, so `$1` does not match the start of `$10`.
    for (i, param) in q.params.iter().enumerate().rev() {
        let cast = match param {
            Param::Int(_) | Param::MaybeInt(_) => "::bigint",
            Param::Time(_) => "::timestamptz",
            Param::Bool(_) => "::boolean",
            Param::Text(_) | Param::MaybeText(_) => "",
        };
        sql = sql.replace(
            &format!("${}", i + 1),
            &format!("current_setting('egress.p{}'){cast}", i + 1),
        );
    }
    format!("COPY ({sql}) TO STDOUT WITH (FORMAT csv)")
}

fn setting_text(param: &Param) -> Option<String> {
    match param {
        Param::Int(v) => Some(v.to_string()),
        Param::Text(v) => Some(v.clone()),
        Param::Time(v) => Some(v.to_rfc3339()),
        Param::Bool(v) => Some(v.to_string()),
        Param::MaybeInt(v) => v.map(|v| v.to_string()),
        Param::MaybeText(v) => v.clone(),
    }
}

/// The connection of a COPY: back to the pool only when the COPY ran to its end. sqlx
/// leaves the rest of an interrupted COPY's messages unread on the socket (a cancel, a
/// reader that went, an error), and the next query on that connection would read them
/// and fail ("expected ParseComplete, got ReadyForQuery"); such a connection is closed.
struct CopyConnection {
    conn: Option<sqlx::pool::PoolConnection<Postgres>>,
    finished: bool,
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

/// CSV bytes per batch sent to the encoder at most (batches also end at `batch` rows).
const CSV_BATCH_BYTES: usize = 256 * 1024;

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(PgConnectOptions::from_str(url)?.disable_statement_logging())
            .await?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Concurrent job requests for one workspace queue on this lock, so their count is exact.
    async fn begin_create(&self, workspace_id: i64) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn begin_snapshot(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

impl_store!(PgStore, PgDialect, {
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    async fn notify(&self, channel: &str, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn listen(
        &self,
        channels: &[&str],
    ) -> StoreResult<Option<futures::stream::BoxStream<'static, (String, String)>>> {
        use futures::StreamExt;
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen_all(channels.iter().copied()).await?;
        // The listener reconnects by itself when its connection drops.
        let stream = listener
            .into_stream()
            .filter_map(|n| async move { n.ok().map(|n| (n.channel().to_owned(), n.payload().to_owned())) })
            .boxed();
        Ok(Some(stream))
    }

    fn writes_csv(&self) -> bool {
        true
    }

    async fn export_csv(
        &self,
        dataset: &'static Dataset,
        workspace_id: i64,
        filters: &Filters,
        batch: usize,
        sink: RowSink,
    ) -> StoreResult<()> {
        let RowSink { rows: sender, total } = sink;
        use futures::TryStreamExt;
        let mut copy = CopyConnection {
            conn: Some(self.pool.acquire().await?),
            finished: false,
        };
        let conn = copy.conn.as_deref_mut().expect("held until dropped");
        sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *conn)
            .await?;
        // The count runs beside the COPY on a second connection that shares the snapshot,
        // so the two agree and the rows start at once.
        let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut *conn)
            .await?;
        let counting = {
            let pool = self.pool.clone();
            let count_query = query::count::<PgDialect>(dataset, workspace_id, filters);
            async move {
                let mut tx = pool.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await?;
                // A snapshot id is Postgres's own (hex digits and dashes), not user input.
                sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
                    .execute(&mut *tx)
                    .await?;
                let count: i64 = bind_all(&count_query).fetch_one(&mut *tx).await?.try_get(0)?;
                tx.commit().await?;
                let _ = total.send(count);
                Ok::<_, StoreError>(())
            }
        };
        // Aliased, so that ORDER BY still means the table's cursor column, not its text.
        let expressions: Vec<String> = dataset
            .columns
            .iter()
            .map(|c| format!("{} AS csv_{}", csv_expression(c), c.name))
            .collect();
        let select = query::export_of::<PgDialect>(dataset, workspace_id, filters, &expressions.join(", "));
        for (i, param) in select.params.iter().enumerate() {
            sqlx::query("SELECT set_config($1, $2, true)")
                .bind(format!("egress.p{}", i + 1))
                .bind(setting_text(param))
                .execute(&mut *conn)
                .await?;
        }
        let fields: Vec<CopyField> = dataset.columns.iter().map(|c| CopyField::of(c.kind)).collect();
        for setting in ["SET LOCAL TimeZone = 'UTC'", "SET LOCAL DateStyle = 'ISO'"] {
            sqlx::query(setting).execute(&mut *conn).await?;
        }
        // `Ok(true)` when COPY ran to its end; `Ok(false)` when the reader went first.
        let copying = async {
            let mut records = conn.copy_out_raw(&copy_statement(&select)).await?;
            let mut bytes = Vec::with_capacity(64 * 1024);
            let mut rows = 0;
            while let Some(record) = records.try_next().await? {
                // COPY sends each row as one message.
                append_record(&mut bytes, &record, &fields)?;
                rows += 1;
                if rows == batch || bytes.len() >= CSV_BATCH_BYTES {
                    let full = std::mem::replace(&mut bytes, Vec::with_capacity(64 * 1024));
                    if sender.send(RowBatch::Csv { bytes: full, rows }).await.is_err() {
                        return Ok(false);
                    }
                    rows = 0;
                }
            }
            if rows > 0 {
                let _ = sender.send(RowBatch::Csv { bytes, rows }).await;
            }
            Ok::<_, StoreError>(true)
        };
        let ((), finished) = tokio::try_join!(counting, copying)?;
        if finished {
            let conn = copy.conn.as_deref_mut().expect("held until dropped");
            sqlx::query("COMMIT").execute(conn).await?;
            copy.finished = true;
        }
        Ok(())
    }

    async fn insert_rows(
        &self,
        dataset: &Dataset,
        workspace_id: i64,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> StoreResult<()> {
        // COPY is the fastest way into Postgres: a million rows in seconds.
        let statement = format!(
            "COPY {} ({}, {}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
            dataset.table,
            dataset.tenant_column,
            columns.join(", ")
        );
        let mut conn = self.pool.acquire().await?;
        let mut copy = conn.copy_in_raw(&statement).await?;
        let mut csv = csv::Writer::from_writer(Vec::with_capacity(1 << 20));
        let workspace = workspace_id.to_string();
        for row in rows {
            let fields = std::iter::once(workspace.clone()).chain(row.iter().map(copy_field));
            csv.write_record(fields)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        }
        let data = csv.into_inner().map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        copy.send(data).await?;
        copy.finish().await?;
        Ok(())
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    use CopyField::{Money, Plain, Text, Time};

    fn converted(record: &str, fields: &[CopyField]) -> String {
        let mut out = Vec::new();
        append_record(&mut out, record.as_bytes(), fields).unwrap();
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
        assert_eq!(
            converted("x,2024-01-05 14:22:46.1234+00\n", &[Text, Time]),
            "x,2024-01-05T14:22:46.123400Z\r\n"
        );
    }

    #[test]
    fn money_covers_every_i64() {
        assert_eq!(
            converted("-9223372036854775808,5,-5,9223372036854775807,\n", &[Money; 5]),
            "-92233720368547758.08,0.05,-0.05,92233720368547758.07,\r\n"
        );
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
    fn a_surprising_time_is_an_error_not_a_wrong_file() {
        let mut out = Vec::new();
        assert!(append_record(&mut out, b"2024-01-05 14:22:46+01\n", &[Time]).is_err());
        assert!(append_record(&mut out, b"\"open\n", &[Text]).is_err());
        assert!(append_record(&mut out, b"12.5\n", &[Money]).is_err());
    }
}
