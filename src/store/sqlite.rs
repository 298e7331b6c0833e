//! The SQLite store: what only SQLite does. The statements both backends share are in
//! `shared.rs` and `jobs.rs`.
//!
//! Timestamps are TEXT in one fixed-width RFC 3339 form (`jobs::time_text`) so that text
//! order is time order; tags are a JSON array in TEXT; uuids and JSON are TEXT.

use super::jobs::{Flavour, time_text};
use super::query::{Param, Query};
use super::*;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{ConnectOptions, Row, Sqlite, SqlitePool, Transaction, query::Query as SqlxQuery};
use std::str::FromStr;
use std::time::Duration;

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')";

static FLAVOUR: Flavour = Flavour {
    now: NOW,
    uuid: "",
    time: "",
    json: "",
    uuid_text: "{}",
    json_text: "{}",
    skip_locked: "",
    time_text: "{}",
};

/// The oldest runnable job, in one statement (SQLite has one writer at a time).
const CLAIM: &str = "UPDATE export_jobs SET status = 'processing', attempts = attempts + 1, \
    lease_until = $1, locked_by = $2, \
    started_at = COALESCE(started_at, strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')), \
    updated_at = strftime('%Y-%m-%dT%H:%M:%f000Z', 'now') \
    WHERE id = (SELECT id FROM export_jobs \
        WHERE (status = 'pending' AND run_after <= strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) \
           OR (status = 'processing' AND lease_until < strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) \
        ORDER BY run_after, created_at LIMIT 1) \
    RETURNING id";

pub struct SqliteStore {
    pool: SqlitePool,
}

fn bind_value<'q>(
    sql: SqlxQuery<'q, Sqlite, SqliteArguments<'q>>,
    cell: &'q Cell,
) -> SqlxQuery<'q, Sqlite, SqliteArguments<'q>> {
    match cell {
        Cell::Null => sql.bind(None::<String>),
        Cell::Integer(v) | Cell::Money { minor: v, .. } => sql.bind(*v),
        Cell::Timestamp(t) => sql.bind(time_text(t)),
        Cell::List(tags) => sql.bind(serde_json::to_string(tags).expect("strings serialise")),
        Cell::Bool(b) => sql.bind(*b),
        other => sql.bind(other.display()),
    }
}

fn bind_all(q: &Query) -> SqlxQuery<'_, Sqlite, SqliteArguments<'_>> {
    q.params.iter().fold(sqlx::query(&q.sql), |sql, param| match param {
        Param::Int(v) => sql.bind(*v),
        Param::Text(v) => sql.bind(v.as_str()),
        Param::Bool(v) => sql.bind(*v),
        Param::MaybeInt(v) => sql.bind(*v),
        Param::MaybeText(v) => sql.bind(v.as_deref()),
        Param::Time(v) => sql.bind(time_text(v)),
    })
}

impl SqliteStore {
    /// Opens `sqlite://path` (or `sqlite::memory:`), creating the file and its folder.
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .disable_statement_logging();
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Takes the write lock first, so the job count and the insert are one step.
    async fn begin_create(&self, workspace_id: i64) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE workspaces SET id = id WHERE id = $1")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

impl_store!(SqliteStore, {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn notify(&self, _channel: &str, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn listen(
        &self,
        _channels: &[&str],
    ) -> StoreResult<Option<futures::stream::BoxStream<'static, (String, String)>>> {
        Ok(None)
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_rows(
        &self,
        table: &str,
        workspace_id: i64,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> StoreResult<()> {
        // Multi-row INSERTs of a fixed size in one transaction: the statement is prepared
        // once and reused (huge statements are slow to prepare and bind).
        let per_row = columns.len() + 1;
        let mut tx = self.pool.begin().await?;
        let workspace = Cell::Integer(workspace_id);
        for chunk in rows.chunks(64) {
            let tuples: Vec<String> = (0..chunk.len())
                .map(|r| {
                    format!(
                        "({})",
                        (1..=per_row)
                            .map(|c| format!("${}", r * per_row + c))
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO {table} (workspace_id, {}) VALUES {}",
                columns.join(", "),
                tuples.join(",")
            );
            let mut statement = sqlx::query(&sql);
            for row in chunk {
                statement = bind_value(statement, &workspace);
                for cell in row {
                    statement = bind_value(statement, cell);
                }
            }
            statement.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
});
