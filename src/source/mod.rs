//! The source: the operator's database that datasets are read from (`--source-url`, by
//! default Egress's own). Egress only reads here, in one snapshot per export, and only
//! through the catalog's declarations (`catalog::query`). Postgres or SQLite.
//!
//! Every column is read as the text its kind decodes (`catalog::kinds`), so one decoder
//! serves both databases. On Postgres an export in a format that takes records (CSV,
//! JSON, NDJSON) is read in bulk (`COPY`), made byte for byte into what the encoder
//! writes (`postgres.rs`), by one connection or several in one snapshot.

/// Runs `$body` with `$pool` bound to whichever pool this is: the code is the same for
/// both databases, only sqlx's types differ.
macro_rules! with_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.pool {
            Pool::Postgres($pool) => $body,
            Pool::Sqlite($pool) => $body,
        }
    };
}

mod check;
mod postgres;

pub use check::{CheckReport, check_catalog};

use crate::catalog::kinds::{Db, spec};
use crate::catalog::query::{self, PageRequest, SourceQuery};
use crate::catalog::{Cell, Column, Dataset, Filters, Kind, currency_scale};
use futures::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A value the catalog's kind does not read: the catalog does not match the source.
    #[error("{dataset}.{column}: {message}")]
    Decode {
        dataset: String,
        column: String,
        message: String,
    },
    #[error("this source does not support {0}")]
    Unsupported(&'static str),
    /// What was read does not agree with itself (a count and its rows).
    #[error("{0}")]
    Inconsistent(String),
    /// The workspace has no tenant key, and the source is not Egress's own database.
    #[error(
        "This workspace is not linked to any tenant of the data. It gets one when someone signs in from your product, or from `egress workspace add --tenant-key`."
    )]
    NoTenant,
}

pub type SourceResult<T> = Result<T, SourceError>;

#[derive(Clone, Debug)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

#[derive(Clone, Debug)]
pub struct Source {
    pool: Pool,
    /// Egress's own database (the demo's tables), whose rows carry workspace ids.
    own: bool,
    /// How many connections read one export in bulk (`--read-parallelism`).
    parallelism: Parallelism,
}

/// How many connections read one export in bulk, each a contiguous key range in the
/// same snapshot: `Auto` picks by the export's row count (one per 500,000 rows, at most
/// two); `Fixed(n)` always `n` (1: one COPY, its count beside it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parallelism {
    Auto,
    Fixed(usize),
}

impl Parallelism {
    /// `--read-parallelism`: 0 is `Auto`.
    pub fn from_flag(n: usize) -> Parallelism {
        match n {
            0 => Parallelism::Auto,
            n => Parallelism::Fixed(n),
        }
    }
}

/// One page of a dataset, as the data page shows it.
pub use crate::catalog::DataPage;

/// Where a run of an incremental schedule starts: the previous completed run's state
/// (none for the first run, which reads everything) and the dataset's overlap.
#[derive(Clone, Debug)]
pub struct Increment {
    pub previous: Option<IncrementState>,
    pub overlap: chrono::Duration,
}

/// What a run of an incremental schedule leaves for the next: its snapshot's time, and
/// the tokens (`query::row_token`) of the rows changed within the overlap before it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IncrementState {
    pub snapshot_at: chrono::DateTime<chrono::Utc>,
    pub tail: Vec<String>,
    /// The same for the dataset's tombstones (deleted rows), when it declares them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted_tail: Vec<String>,
}

impl Increment {
    /// The rows to read: changed since the previous snapshot less the overlap, less the
    /// ones the previous run saw there. `None` for the first run: every row.
    fn window(&self) -> Option<query::Window> {
        self.window_over(|previous| &previous.tail)
    }

    /// The deleted rows to report: the same window over the tombstones. `None` for the
    /// first run, which reports none (it has every row that exists).
    fn deleted_window(&self) -> Option<query::Window> {
        self.window_over(|previous| &previous.deleted_tail)
    }

    fn window_over(&self, tail: fn(&IncrementState) -> &Vec<String>) -> Option<query::Window> {
        let previous = self.previous.as_ref()?;
        Some(query::Window {
            since: crate::catalog::filters::time_text(&(previous.snapshot_at - self.overlap)),
            delivered: serde_json::to_string(tail(previous)).expect("texts serialise"),
        })
    }
}

/// Where `export_rows` sends. The count has a channel of its own: behind rows that wait
/// for a slow consumer it would arrive last, and the progress would show no percentage
/// for the whole export.
pub struct RowSink {
    pub rows: tokio::sync::mpsc::Sender<RowBatch>,
    pub total: tokio::sync::oneshot::Sender<i64>,
}

impl RowSink {
    /// A sink, its rows' receiver (holding `capacity` batches) and its count's receiver.
    pub fn new(
        capacity: usize,
    ) -> (
        RowSink,
        tokio::sync::mpsc::Receiver<RowBatch>,
        tokio::sync::oneshot::Receiver<i64>,
    ) {
        let (rows, rows_rx) = tokio::sync::mpsc::channel(capacity);
        let (total, total_rx) = tokio::sync::oneshot::channel();
        (RowSink { rows, total }, rows_rx, total_rx)
    }
}

/// A batch of rows that `export_rows` sends.
#[derive(Debug)]
pub enum RowBatch {
    Rows(Vec<Vec<Cell>>),
    /// Rows read in bulk, as the format's `RecordWriter` wrote them: exactly what its
    /// encoder writes for them (see `Source::export_records`).
    Encoded {
        bytes: Vec<u8>,
        rows: usize,
    },
    /// The next dataset of an archive starts (see `worker::archive`).
    Next,
}

impl RowBatch {
    /// The rows this batch carries.
    pub fn rows(&self) -> usize {
        match self {
            RowBatch::Rows(rows) => rows.len(),
            RowBatch::Encoded { rows, .. } => *rows,
            RowBatch::Next => 0,
        }
    }
}

/// A deleted row as the dataset's files hold it: its key (read from the tombstones,
/// `tombstone`), every other column empty, and the deletion time last.
fn deleted_row(dataset: &Dataset, tombstones: &Dataset, cells: Vec<Cell>, width: usize) -> Vec<Cell> {
    let mut row = vec![Cell::Null; width + 1];
    let last = cells.len().saturating_sub(1);
    for (i, cell) in cells.into_iter().enumerate() {
        let at = if i == last {
            Some(width)
        } else {
            dataset
                .columns
                .iter()
                .position(|c| c.name == tombstones.columns[i].name)
        };
        if let Some(at) = at {
            row[at] = cell;
        }
    }
    row
}

/// A row read as text, one value per column, decoded by the columns' kinds. Money takes
/// its currency's decimals from the row's currency column.
pub fn decode_row(dataset: &Dataset, texts: Vec<Option<String>>) -> SourceResult<Vec<Cell>> {
    let bad = |column: &Column, message: String| SourceError::Decode {
        dataset: dataset.id.clone(),
        column: column.name.clone(),
        message,
    };
    let mut cells = Vec::with_capacity(texts.len());
    for (column, text) in dataset.columns.iter().zip(&texts) {
        cells.push(match text {
            None => Cell::Null,
            Some(text) => spec(column.kind).decode(text).map_err(|m| bad(column, m))?,
        });
    }
    for (i, column) in dataset.columns.iter().enumerate() {
        if let (Some(currency), Cell::Money { scale, .. }) = (&column.currency_column, &mut cells[i]) {
            let at = dataset.columns.iter().position(|c| &c.name == currency);
            if let Some(Some(code)) = at.map(|at| &texts[at]) {
                *scale = currency_scale(code);
            }
        }
    }
    Ok(cells)
}

/// How many rows a data page shows.
pub const PAGE_SIZE: i64 = 50;

impl Source {
    /// Opens the source at `url`: `postgres://…` (its sessions run in UTC and read only)
    /// or `sqlite://PATH` (which must exist; opened read-only).
    pub async fn connect(url: &str) -> anyhow::Result<Source> {
        Source::connect_sized(url, crate::store::DEFAULT_POOL_SIZE).await
    }

    /// `connect`, with a pool of at most `max_connections` on Postgres.
    pub async fn connect_sized(url: &str, max_connections: u32) -> anyhow::Result<Source> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?
                .options([("TimeZone", "UTC"), ("default_transaction_read_only", "on")])
                .disable_statement_logging();
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await?,
            )
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .read_only(true)
                .busy_timeout(Duration::from_secs(10))
                .disable_statement_logging();
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options)
                    .await?,
            )
        } else {
            anyhow::bail!(
                "the source URL must start with postgres:// or sqlite: (got `{}`)",
                crate::store::redact(url)
            )
        };
        Ok(Source {
            pool,
            own: false,
            parallelism: Parallelism::Auto,
        })
    }

    /// How many connections read one export in bulk.
    pub fn read_parallelism(self, parallelism: Parallelism) -> Source {
        Source { parallelism, ..self }
    }

    /// Marks the source as Egress's own database: its rows carry workspace ids.
    pub fn own(self, own: bool) -> Source {
        Source { own, ..self }
    }

    pub fn is_own(&self) -> bool {
        self.own
    }

    /// The key a workspace's rows carry here. In Egress's own database that is the
    /// workspace's id; in an operator's source it is the tenant key the workspace was
    /// given, and a workspace without one reads nothing. (Falling back to the id there
    /// would show a self-signed-up workspace 7 the rows of the operator's tenant 7.)
    pub fn tenant(&self, workspace_id: i64, key: Option<&str>) -> SourceResult<String> {
        match (self.own, key) {
            (true, _) => Ok(workspace_id.to_string()),
            (false, Some(key)) => Ok(key.to_owned()),
            (false, None) => Err(SourceError::NoTenant),
        }
    }

    pub fn db(&self) -> Db {
        match self.pool {
            Pool::Postgres(_) => Db::Postgres,
            Pool::Sqlite(_) => Db::Sqlite,
        }
    }

    pub async fn ping(&self) -> SourceResult<()> {
        with_pool!(self, pool => { sqlx::query("SELECT 1").execute(pool).await?; });
        Ok(())
    }

    async fn texts(&self, q: &SourceQuery) -> SourceResult<Vec<Vec<Option<String>>>> {
        with_pool!(self, pool => {
            let rows = q.params.iter().fold(sqlx::query(&q.sql), |s, p| s.bind(p)).fetch_all(pool).await?;
            rows.iter()
                .map(|r| (0..r.len()).map(|i| r.try_get::<Option<String>, _>(i)).collect::<Result<Vec<_>, _>>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(SourceError::from)
        })
    }

    async fn count_of(&self, q: &SourceQuery) -> SourceResult<i64> {
        with_pool!(self, pool => {
            let row = q.params.iter().fold(sqlx::query(&q.sql), |s, p| s.bind(p)).fetch_one(pool).await?;
            Ok(row.try_get::<i64, _>(0)?)
        })
    }

    /// How many of a tenant's rows match the filters.
    pub async fn count(&self, dataset: &Dataset, tenant: &str, filters: &Filters) -> SourceResult<i64> {
        self.count_of(&query::count(self.db(), dataset, tenant, filters, None))
            .await
    }

    /// One page of a dataset for a tenant, with the count of all matching rows.
    pub async fn page(
        &self,
        dataset: &Dataset,
        tenant: &str,
        filters: &Filters,
        page: &PageRequest,
    ) -> SourceResult<DataPage> {
        let db = self.db();
        let total = self.count_of(&query::count(db, dataset, tenant, filters, None)).await?;
        let mut texts = self
            .texts(&query::page(db, dataset, tenant, filters, page, PAGE_SIZE))
            .await?;
        let has_more = texts.len() as i64 > PAGE_SIZE;
        texts.truncate(PAGE_SIZE as usize);
        if let PageRequest::Before(_) = page {
            // Read oldest-first to find the page before the cursor; shown newest first.
            texts.reverse();
        }
        let width = dataset.columns.len();
        let mut rows = Vec::with_capacity(texts.len());
        let mut keys = Vec::with_capacity(texts.len());
        for mut row in texts {
            // The key's values, as text, come after the columns: what a cursor carries.
            let key = row.split_off(width);
            keys.push(key.into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>());
            rows.push(decode_row(dataset, row)?);
        }
        let cursor = |key: Option<&Vec<String>>| key.map(|k| crate::catalog::cursor_token(k));
        let (next_after, prev_before) = match page {
            PageRequest::First => (has_more.then(|| cursor(keys.last())).flatten(), None),
            PageRequest::After(_) => (has_more.then(|| cursor(keys.last())).flatten(), cursor(keys.first())),
            PageRequest::Before(_) => (cursor(keys.last()), has_more.then(|| cursor(keys.first())).flatten()),
        };
        Ok(DataPage {
            dataset: dataset.id.clone(),
            labels: dataset.columns.iter().map(|c| c.label.clone()).collect(),
            rows,
            total,
            next_after,
            prev_before,
        })
    }

    /// The distinct values of a column in the tenant's rows, for a `values_from_data` filter.
    pub async fn distinct(&self, dataset: &Dataset, tenant: &str, column: &str) -> SourceResult<Vec<String>> {
        let q = query::distinct(self.db(), dataset, tenant, column, 200);
        Ok(self
            .texts(&q)
            .await?
            .into_iter()
            .filter_map(|mut r| r.pop().flatten())
            .collect())
    }

    /// Streams a dataset's matching rows in one consistent snapshot: the count to
    /// `sink.total`, the rows in key order to `sink.rows`, `batch` at a time. Stops early
    /// when the receiver is gone. For a run of an incremental schedule (`increment`), only
    /// the rows changed since the previous run, less those it delivered; the answer is
    /// where the next run starts.
    pub async fn export_rows(
        &self,
        dataset: Arc<Dataset>,
        tenant: &str,
        filters: &Filters,
        increment: Option<&Increment>,
        batch: usize,
        sink: RowSink,
    ) -> SourceResult<Option<IncrementState>> {
        let db = self.db();
        let window = increment.and_then(|i| i.window());
        let count = query::count(db, &dataset, tenant, filters, window.as_ref());
        let select = query::export(db, &dataset, tenant, filters, window.as_ref());
        // An incremental run of a dataset with tombstones: its rows end with an empty
        // `_deleted_at`, and the rows deleted since the previous run follow, with only their
        // key and deletion time (the export's filters cannot apply to rows that are gone).
        let deleted = match (increment, dataset.tombstones()) {
            (Some(increment), Some(tombstones)) => Some((increment, tombstones)),
            _ => None,
        };
        let none = Filters::default();
        let deleted_window = deleted.as_ref().and_then(|(i, _)| i.deleted_window());
        let deleted_queries = deleted.as_ref().and_then(|(_, t)| {
            let window = deleted_window.as_ref()?;
            Some((
                query::count(db, t, tenant, &none, Some(window)),
                query::export(db, t, tenant, &none, Some(window)),
            ))
        });
        let width = dataset.columns.len();
        with_pool!(self, pool => {
            // The count and the rows come from one snapshot, so they agree.
            let mut tx = pool.begin().await?;
            if db == Db::Postgres {
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
            }
            let mut state = None;
            if let Some(increment) = increment {
                // The snapshot's time (no later than the snapshot: on Postgres the
                // transaction's start, on SQLite read before its first read), and the rows
                // the next run must not deliver again: those changed within the overlap.
                let snapshot_at = match db {
                    Db::Postgres => {
                        let micros: i64 = sqlx::query("SELECT CAST(EXTRACT(EPOCH FROM now()) * 1000000 AS BIGINT)")
                            .fetch_one(&mut *tx)
                            .await?
                            .try_get(0)?;
                        chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
                    }
                    Db::Sqlite => chrono::Utc::now(),
                };
                let near = crate::catalog::filters::time_text(&(snapshot_at - increment.overlap));
                let rows = query::tokens_since(db, &dataset, tenant, filters, &near);
                let gone = deleted.as_ref().map(|(_, t)| query::tokens_since(db, t, tenant, &none, &near));
                let mut tails = Vec::new();
                for tokens in std::iter::once(rows).chain(gone) {
                    let tail: Vec<String> = tokens
                        .params
                        .iter()
                        .fold(sqlx::query(&tokens.sql), |s, p| s.bind(p))
                        .fetch_all(&mut *tx)
                        .await?
                        .iter()
                        .map(|r| r.try_get(0))
                        .collect::<Result<_, _>>()?;
                    tails.push(tail);
                }
                let mut tails = tails.into_iter();
                state = Some(IncrementState {
                    snapshot_at,
                    tail: tails.next().unwrap_or_default(),
                    deleted_tail: tails.next().unwrap_or_default(),
                });
            }
            let mut total: i64 = 0;
            for count in std::iter::once(&count).chain(deleted_queries.as_ref().map(|(c, _)| c)) {
                let n: i64 = count
                    .params
                    .iter()
                    .fold(sqlx::query(&count.sql), |s, p| s.bind(p))
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
                total += n;
            }
            if sink.total.send(total).is_err() {
                return Ok(state);
            }
            let mut chunk = Vec::with_capacity(batch);
            // The dataset's rows, then (`Some`) its tombstones.
            let selects = std::iter::once((&select, None))
                .chain(deleted_queries.as_ref().zip(deleted.as_ref()).map(|((_, q), (_, t))| (q, Some(t))));
            for (select, tombstones) in selects {
                let read = tombstones.unwrap_or(&dataset);
                let mut rows = select.params.iter().fold(sqlx::query(&select.sql), |s, p| s.bind(p)).fetch(&mut *tx);
                while let Some(row) = rows.try_next().await? {
                    let texts = (0..row.len())
                        .map(|i| row.try_get::<Option<String>, _>(i))
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut cells = decode_row(read, texts)?;
                    match tombstones {
                        Some(t) => cells = deleted_row(&dataset, t, cells, width),
                        // Rows that exist: an empty `_deleted_at`.
                        None if deleted.is_some() => cells.push(Cell::Null),
                        None => {}
                    }
                    chunk.push(cells);
                    if chunk.len() == batch {
                        let full = std::mem::replace(&mut chunk, Vec::with_capacity(batch));
                        if sink.rows.send(RowBatch::Rows(full)).await.is_err() {
                            return Ok(state);
                        }
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = sink.rows.send(RowBatch::Rows(chunk)).await;
            }
            tx.commit().await?;
            Ok(state)
        })
    }

    /// Whether exports are read in bulk here (`export_records`).
    pub fn reads_in_bulk(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// Like `export_rows` (without increments), but read in bulk (Postgres `COPY`) and
    /// made into the records `writer` writes, exactly what the format's encoder writes for
    /// the same rows, so they come as `RowBatch::Encoded`.
    #[allow(clippy::too_many_arguments)]
    pub async fn export_records(
        &self,
        dataset: Arc<Dataset>,
        tenant: &str,
        filters: &Filters,
        columns: &crate::formats::FileColumns,
        writer: Arc<dyn crate::formats::RecordWriter>,
        batch: usize,
        sink: RowSink,
    ) -> SourceResult<()> {
        match &self.pool {
            Pool::Postgres(pool) => {
                postgres::export_records(
                    pool,
                    dataset,
                    tenant,
                    filters,
                    columns,
                    writer,
                    self.parallelism,
                    batch,
                    sink,
                )
                .await
            }
            Pool::Sqlite(_) => Err(SourceError::Unsupported("reading in bulk")),
        }
    }

    /// The columns of a table or view and their types (lower case), `None` when it does
    /// not exist: for `catalog check`.
    pub async fn describe(&self, source: &str) -> SourceResult<Option<Vec<(String, String)>>> {
        check::describe(self, source).await
    }
}

/// Whether a kind reads a column of this database type (for `catalog check`).
pub fn accepts(db: Db, kind: Kind, sql_type: &str) -> bool {
    spec(kind).accepts(db, sql_type)
}
