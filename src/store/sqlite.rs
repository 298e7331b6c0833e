//! The SQLite store: every SQLite-specific statement lives here.
//!
//! Timestamps are TEXT in one fixed-width RFC 3339 form (see `time_text`) so that text
//! order is time order; tags are a JSON array in TEXT.

use super::jobs::{self, Flavour, decode_job};
use super::query::{self, Dialect, Param, Query};
use super::*;
use crate::datasets::{ColumnKind, PAGE_SIZE};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{ConnectOptions, Row, Sqlite, SqlitePool, query::Query as SqlxQuery};
use std::str::FromStr;
use std::time::Duration;

static FLAVOUR: Flavour = Flavour {
    now: "strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')",
    uuid: "",
    time: "",
    json: "",
    uuid_text: "{}",
    json_text: "{}",
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

struct Lite;

impl Dialect for Lite {
    fn placeholder(n: usize) -> String {
        format!("?{n}")
    }
    fn has_tag(p: &str) -> String {
        format!("EXISTS (SELECT 1 FROM json_each(tags) WHERE json_each.value = {p})")
    }
}

/// The one way a timestamp is written to SQLite: `2025-01-31T09:05:00.000000Z`.
pub fn time_text(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(format!("bad timestamp `{text}`: {e}").into()))
}

fn bind_value<'q>(
    sql: SqlxQuery<'q, Sqlite, SqliteArguments<'q>>,
    cell: &'q Cell,
) -> SqlxQuery<'q, Sqlite, SqliteArguments<'q>> {
    match cell {
        Cell::Null => sql.bind(None::<String>),
        Cell::Integer(v) | Cell::Money(v) => sql.bind(*v),
        Cell::Text(s) => sql.bind(s.as_str()),
        Cell::Timestamp(t) => sql.bind(time_text(t)),
        Cell::Tags(tags) => sql.bind(serde_json::to_string(tags).expect("strings serialise")),
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

fn decode_row(row: &SqliteRow, dataset: &Dataset) -> Result<Vec<Cell>, sqlx::Error> {
    dataset
        .columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            Ok(match column.kind {
                ColumnKind::Integer => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Integer),
                ColumnKind::Money => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Money),
                ColumnKind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text),
                ColumnKind::Timestamp => match row.try_get::<Option<String>, _>(i)? {
                    Some(text) => Cell::Timestamp(parse_time(&text)?),
                    None => Cell::Null,
                },
                ColumnKind::Tags => match row.try_get::<Option<String>, _>(i)? {
                    Some(json) => {
                        Cell::Tags(serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)))?)
                    }
                    None => Cell::Null,
                },
            })
        })
        .collect()
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

fn user_record(r: &SqliteRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        password_hash: r.try_get(3)?,
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
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn sessions(&self) -> SessionBackend {
        SessionBackend::Sqlite(tower_sessions_sqlx_store::SqliteStore::new(self.pool.clone()))
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_workspace(&self, name: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("INSERT INTO workspaces (name) VALUES (?1) RETURNING id")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn find_workspace_by_name(&self, name: &str) -> StoreResult<Option<i64>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM workspaces WHERE name = ?1 ORDER BY id LIMIT 1")
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
        sqlx::query_scalar("INSERT INTO users (email, name, password_hash) VALUES (?1, ?2, ?3) RETURNING id")
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
        let workspace_id: i64 = sqlx::query_scalar("INSERT INTO workspaces (name) VALUES (?1) RETURNING id")
            .bind(workspace_name)
            .fetch_one(&mut *tx)
            .await?;
        let user_id: i64 =
            sqlx::query_scalar("INSERT INTO users (email, name, password_hash) VALUES (?1, ?2, ?3) RETURNING id")
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
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role) VALUES (?1, ?2, 'owner')")
            .bind(workspace_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((user_id, workspace_id))
    }

    async fn add_membership(&self, workspace_id: i64, user_id: i64, role: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO memberships (workspace_id, user_id, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(workspace_id)
        .bind(user_id)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE email = ?1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| user_record(&r)).transpose()?)
    }

    async fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRecord>> {
        let row = sqlx::query("SELECT id, email, name, password_hash FROM users WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| user_record(&r)).transpose()?)
    }

    async fn memberships(&self, user_id: i64) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT w.id, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
             WHERE m.user_id = ?1 AND m.status = 'active' ORDER BY m.id",
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
        let count = query::count::<Lite>(dataset, workspace_id, filters);
        let total: i64 = bind_all(&count).fetch_one(&self.pool).await?.try_get(0)?;
        let select = query::page::<Lite>(dataset, workspace_id, filters, page, PAGE_SIZE);
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
        // Take the write lock now, so that the count below and the insert are one step.
        sqlx::query("UPDATE workspaces SET id = id WHERE id = $1")
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
        // A read transaction in WAL mode sees one snapshot throughout.
        let count = query::count::<Lite>(dataset, workspace_id, filters);
        let total: i64 = bind_all(&count).fetch_one(&mut *tx).await?.try_get(0)?;
        if sender.send(RowBatch::Total(total)).await.is_err() {
            return Ok(());
        }
        let select = query::export::<Lite>(dataset, workspace_id, filters);
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

    async fn notify(&self, _channel: &str, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    async fn listen(
        &self,
        _channels: &[&str],
    ) -> StoreResult<Option<futures::stream::BoxStream<'static, (String, String)>>> {
        Ok(None)
    }

    async fn insert_rows(
        &self,
        dataset: &Dataset,
        workspace_id: i64,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> StoreResult<()> {
        // Multi-row INSERTs of a fixed size in one transaction: the statement is prepared
        // once and reused (huge statements are slow to prepare and bind).
        let per_row = columns.len() + 1;
        let chunk_rows = 64;
        let mut tx = self.pool.begin().await?;
        let workspace = Cell::Integer(workspace_id);
        for chunk in rows.chunks(chunk_rows) {
            let mut sql = format!(
                "INSERT INTO {} ({}, {}) VALUES ",
                dataset.table,
                dataset.tenant_column,
                columns.join(", ")
            );
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                let placeholders: Vec<String> = (0..per_row)
                    .map(|_| {
                        n += 1;
                        format!("?{n}")
                    })
                    .collect();
                sql.push_str(&format!("({})", placeholders.join(",")));
            }
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
}
