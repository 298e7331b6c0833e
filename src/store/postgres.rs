//! The Postgres store: every Postgres-specific statement lives here.

use super::jobs::{self, Flavour, decode_job};
use super::query::{self, Dialect, Param, Query};
use super::*;
use crate::datasets::{ColumnKind, PAGE_SIZE};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row, postgres::Postgres, query::Query as SqlxQuery};
use std::str::FromStr;
use std::time::Duration;

static FLAVOUR: Flavour = Flavour {
    now: "now()",
    uuid: "::uuid",
    time: "::timestamptz",
    json: "::jsonb",
    uuid_text: "{}::text",
    json_text: "{}::text",
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

struct Pg;

impl Dialect for Pg {
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

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

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
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn sessions(&self) -> SessionBackend {
        SessionBackend::Postgres(tower_sessions_sqlx_store::PostgresStore::new(self.pool.clone()))
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("migrations/postgres").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("INSERT INTO workspaces (name) VALUES ($1) RETURNING id")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn find_workspace_by_name(&self, name: &str) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM workspaces WHERE name = $1 ORDER BY id LIMIT 1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn count_workspaces(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM workspaces")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn create_user(&self, user: &NewUser) -> StoreResult<i64> {
        sqlx::query_scalar("INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id")
            .bind(&user.email)
            .bind(&user.name)
            .bind(&user.password_hash)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict("email")
                } else {
                    e.into()
                }
            })
    }

    async fn create_account(&self, workspace_name: &str, owner: &NewUser) -> StoreResult<(i64, i64)> {
        let mut tx = self.pool.begin().await?;
        let workspace_id: i64 = sqlx::query_scalar("INSERT INTO workspaces (name) VALUES ($1) RETURNING id")
            .bind(workspace_name)
            .fetch_one(&mut *tx)
            .await?;
        let user_id: i64 =
            sqlx::query_scalar("INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id")
                .bind(&owner.email)
                .bind(&owner.name)
                .bind(&owner.password_hash)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict("email")
                    } else {
                        e.into()
                    }
                })?;
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')")
            .bind(workspace_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((user_id, workspace_id))
    }

    async fn add_membership(&self, workspace_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| user_record(&r)).transpose()?)
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| user_record(&r)).transpose()?)
    }

    async fn memberships(&self, user_id: i64) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
             WHERE m.user_id = $1 AND m.status = 'active' ORDER BY m.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    workspace_id: r.try_get(0)?,
                    workspace_name: r.try_get(1)?,
                    role: r.try_get(2)?,
                })
            })
            .collect()
    }

    async fn page(
        &self,
        dataset: &Dataset,
        workspace_id: i64,
        filters: &Filters,
        page: PageRequest,
    ) -> StoreResult<DataPage> {
        let count = query::count::<Pg>(dataset, workspace_id, filters);
        let total: i64 = bind_all(&count).fetch_one(&self.pool).await?.try_get(0)?;
        let select = query::page::<Pg>(dataset, workspace_id, filters, page, PAGE_SIZE);
        let rows = bind_all(&select).fetch_all(&self.pool).await?;
        let rows = rows.iter().map(|r| decode_row(r, dataset)).collect::<Result<_, _>>()?;
        Ok(assemble_page(dataset, rows, total, page, PAGE_SIZE))
    }

    fn flavour(&self) -> &'static Flavour {
        &FLAVOUR
    }

    async fn execute(&self, query: &Query) -> StoreResult<u64> {
        Ok(bind_all(query).execute(&self.pool).await?.rows_affected())
    }

    async fn fetch_jobs(&self, query: &Query) -> StoreResult<Vec<JobRecord>> {
        let rows = bind_all(query).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(decode_job).collect::<Result<_, _>>()?)
    }

    async fn fetch_i64(&self, query: &Query) -> StoreResult<Option<i64>> {
        let row = bind_all(query).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn fetch_bool(&self, query: &Query) -> StoreResult<Option<bool>> {
        let row = bind_all(query).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn fetch_events(&self, query: &Query) -> StoreResult<Vec<(String, Option<i64>, Option<String>)>> {
        let rows = bind_all(query).fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn create_job(&self, new: &NewJob, active_limit: i64) -> StoreResult<Option<JobRecord>> {
        let mut tx = self.pool.begin().await?;
        // Concurrent requests for one workspace queue here, so the count below is exact.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(new.workspace_id)
            .execute(&mut *tx)
            .await?;
        let active: i64 = bind_all(&jobs::count_active(new.workspace_id))
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if active >= active_limit {
            return Ok(None);
        }
        bind_all(&jobs::insert_job(self, new, chrono::Utc::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        jobs::get(self, None, new.id).await
    }

    async fn claim_job(
        &self,
        worker: &str,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<JobRecord>> {
        let claimed: Option<String> = sqlx::query_scalar(CLAIM)
            .bind(jobs::time_text(&lease_until))
            .bind(worker)
            .fetch_optional(&self.pool)
            .await?;
        match claimed.and_then(|id| uuid::Uuid::parse_str(&id).ok()) {
            Some(id) => jobs::get(self, None, id).await,
            None => Ok(None),
        }
    }

    async fn export_rows(
        &self,
        dataset: &'static Dataset,
        workspace_id: i64,
        filters: &Filters,
        batch: usize,
        sender: tokio::sync::mpsc::Sender<RowBatch>,
    ) -> StoreResult<()> {
        use futures::TryStreamExt;
        // The count and the rows come from one snapshot, so they agree.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let count = query::count::<Pg>(dataset, workspace_id, filters);
        let total: i64 = bind_all(&count).fetch_one(&mut *tx).await?.try_get(0)?;
        if sender.send(RowBatch::Total(total)).await.is_err() {
            return Ok(());
        }
        let select = query::export::<Pg>(dataset, workspace_id, filters);
        let mut rows = bind_all(&select).fetch(&mut *tx);
        let mut chunk = Vec::with_capacity(batch);
        while let Some(row) = rows.try_next().await? {
            chunk.push(decode_row(&row, dataset)?);
            if chunk.len() == batch
                && sender
                    .send(RowBatch::Rows(std::mem::replace(&mut chunk, Vec::with_capacity(batch))))
                    .await
                    .is_err()
            {
                return Ok(());
            }
        }
        if !chunk.is_empty() {
            let _ = sender.send(RowBatch::Rows(chunk)).await;
        }
        drop(rows);
        tx.commit().await?;
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
}

fn user_record(r: &PgRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        password_hash: r.try_get(3)?,
    })
}
