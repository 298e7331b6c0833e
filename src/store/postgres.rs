//! The Postgres store: what only Postgres does. The statements both backends share are in
//! `shared.rs` and `jobs.rs`.

use super::jobs::Flavour;
use super::query::{Param, Query};
use super::*;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
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

/// A cell as a field of COPY's CSV format, where `\N` (unquoted) is NULL. The demo's
/// seed writes only these kinds of cells.
fn copy_field(cell: &Cell) -> String {
    match cell {
        Cell::Null => "\\N".to_owned(),
        Cell::Integer(v) | Cell::Money { minor: v, .. } => v.to_string(),
        Cell::Timestamp(t) => t.to_rfc3339(),
        Cell::List(tags) => {
            let quoted: Vec<String> = tags
                .iter()
                .map(|t| format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            format!("{{{}}}", quoted.join(","))
        }
        other => other.display(),
    }
}

impl PgStore {
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Self::connect_sized(url, super::DEFAULT_POOL_SIZE).await
    }

    pub async fn connect_sized(url: &str, max_connections: u32) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
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
}

impl_store!(PgStore, {
    #[tracing::instrument(level = "debug", skip_all)]
    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn notify(&self, channel: &str, payload: &str) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip_all)]
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

    #[tracing::instrument(level = "debug", skip_all)]
    async fn insert_rows(
        &self,
        table: &str,
        workspace_id: i64,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> StoreResult<()> {
        // COPY is the fastest way into Postgres: a million rows in seconds.
        let statement = format!(
            "COPY {table} (workspace_id, {}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",
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
