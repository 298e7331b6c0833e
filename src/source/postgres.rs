//! The CSV fast path on Postgres: `COPY (SELECT …) TO STDOUT` writes the records, the
//! count runs beside it on a second connection that shares the snapshot, and each record
//! is made into exactly what the CSV encoder writes (`append_record`): the spreadsheet
//! rules, money in its currency, times in RFC 3339 and the encoder's quoting are applied
//! here, off the database's one core. `tests/csv_fast_path.rs` holds the two roads to
//! identical bytes.

use super::{RowBatch, RowSink, SourceError, SourceResult};
use crate::catalog::kinds::{Db, spec};
use crate::catalog::query::{self, SourceQuery, quote};
use crate::catalog::{Dataset, Filters, Kind, currency_scale, format_minor};
use crate::formats::FileColumns;
use crate::formats::csv::write_field;
use crate::formats::safety::{csv_text_of, neutralise_csv};
use futures::TryStreamExt;
use sqlx::{PgPool, Postgres, Row};
use std::borrow::Cow;

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
        // COPY quotes an empty string (`""`) where the encoder writes nothing: as NULL,
        // both are empty.
        Kind::Text => format!("NULLIF({col}::text, '')"),
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

/// Appends one record of COPY's CSV as the CSV encoder writes it, ending in CRLF: the
/// first `fields.len()` fields (any after them are only read, as currencies).
fn append_record(out: &mut Vec<u8>, record: &[u8], fields: &[CopyField]) -> Result<(), String> {
    let record = record.strip_suffix(b"\n").unwrap_or(record);
    let malformed = || format!("unexpected COPY record: {}", String::from_utf8_lossy(record));
    let raw = split_record(record).ok_or_else(malformed)?;
    if raw.len() < fields.len() {
        return Err(malformed());
    }
    let text = |bytes: &[u8]| std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| malformed());
    for (i, rule) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let Some(value) = field(raw[i]) else { continue };
        match *rule {
            CopyField::Plain => out.extend_from_slice(&value),
            CopyField::Time => append_rfc3339(out, &value).ok_or_else(malformed)?,
            CopyField::Money(currency) => {
                let minor: i64 = text(&value)?.parse().map_err(|_| malformed())?;
                let scale = currency
                    .and_then(|at| field(raw[at]))
                    .map_or(2, |code| currency_scale(&String::from_utf8_lossy(&code)));
                out.extend_from_slice(format_minor(minor, scale).as_bytes());
            }
            CopyField::Text => {
                let value = text(&value)?;
                write_field(out, neutralise_csv(&value).as_bytes()).map_err(|e| e.to_string())?;
            }
            CopyField::Other(kind) => {
                let cell = spec(kind).decode(&text(&value)?)?;
                let written = csv_text_of(kind, &cell);
                write_field(out, written.as_bytes()).map_err(|e| e.to_string())?;
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
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

/// The file's columns as COPY reads them, and what `append_record` does with each: the
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

pub async fn export_csv(
    pool: &PgPool,
    dataset: &Dataset,
    tenant: &str,
    filters: &Filters,
    columns: &FileColumns,
    batch: usize,
    sink: RowSink,
) -> SourceResult<()> {
    let RowSink { rows: sender, total } = sink;
    let mut copy = CopyConnection {
        conn: Some(pool.acquire().await?),
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
        let pool = pool.clone();
        let count_query = query::count(Db::Postgres, dataset, tenant, filters, None);
        async move {
            let mut tx = pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            // A snapshot id is Postgres's own (hex digits and dashes), not user input.
            sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
                .execute(&mut *tx)
                .await?;
            let count: i64 = count_query
                .params
                .iter()
                .fold(sqlx::query(&count_query.sql), |s, p| s.bind(p))
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            tx.commit().await?;
            let _ = total.send(count);
            Ok::<_, SourceError>(())
        }
    };
    let (select, fields) = copy_plan(dataset, columns);
    let statement = query::export_of(Db::Postgres, dataset, tenant, filters, None, &select.join(", "));
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
    // `Ok(true)` when COPY ran to its end; `Ok(false)` when the reader went first.
    let copying = async {
        let mut records = conn.copy_out_raw(&copy_statement(&statement)).await?;
        let mut bytes = Vec::with_capacity(64 * 1024);
        let mut rows = 0;
        while let Some(record) = records.try_next().await? {
            // COPY sends each row as one message.
            append_record(&mut bytes, &record, &fields).map_err(|message| SourceError::Decode {
                dataset: dataset.id.clone(),
                column: "(a COPY record)".into(),
                message,
            })?;
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
        Ok::<_, SourceError>(true)
    };
    let ((), finished) = tokio::try_join!(counting, copying)?;
    if finished {
        let conn = copy.conn.as_deref_mut().expect("held until dropped");
        sqlx::query("COMMIT").execute(conn).await?;
        copy.finished = true;
    }
    Ok(())
}

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
    fn a_surprising_record_is_an_error_not_a_wrong_file() {
        let mut out = Vec::new();
        assert!(append_record(&mut out, b"2024-01-05 14:22:46+01\n", &[Time]).is_err());
        assert!(append_record(&mut out, b"\"open\n", &[Text]).is_err());
        assert!(append_record(&mut out, b"12.5\n", &[Money(None)]).is_err());
    }
}
