//! The export-job queue and its audit trail, written once for both backends.
//!
//! Every statement uses `$N` placeholders (SQLite accepts them too); what differs is in
//! `Flavour`: casts for Postgres's typed columns, how "now" and a timestamp read as text
//! are written. Timestamps travel as fixed-width RFC 3339 text both ways, so one decoder
//! serves both databases. Every write by a worker is fenced on (id, attempts): a worker
//! that lost its lease changes nothing.

use super::query::{Param, Query, Sql};
use super::{Store, StoreResult};
use crate::catalog::Filters;
use crate::exports::{ExportJob, ExportOptions, JobStatus};
use crate::formats::Format;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// The SQL snippets that differ between Postgres and SQLite.
pub struct Flavour {
    /// The current time as fixed-width text.
    pub now: &'static str,
    /// Suffix that turns a text parameter into a uuid / timestamp / JSON value.
    pub uuid: &'static str,
    pub time: &'static str,
    pub json: &'static str,
    /// Reads a uuid / JSON column as text.
    pub uuid_text: &'static str,
    pub json_text: &'static str,
    /// Reads a timestamp column as fixed-width text: `{}` is the column.
    pub time_text: &'static str,
    /// Ends a SELECT whose rows are being claimed: concurrent claimers skip them.
    pub skip_locked: &'static str,
}

/// The one way a timestamp is written as text: `2025-01-31T09:05:00.000000Z` (the same
/// form the catalog's filters bind, so both compare as text in SQLite).
pub use crate::catalog::filters::time_text;

/// Reads a timestamp written as text (`time_text`, or any RFC 3339).
pub fn parse_time_text(text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| sqlx::Error::Decode(format!("bad timestamp `{text}`: {e}").into()))
}

fn parse_time(text: Option<String>) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    text.as_deref().map(parse_time_text).transpose()
}

/// An export job with what only the server needs.
#[derive(Clone, Debug)]
pub struct JobRecord {
    pub job: ExportJob,
    pub uuid: uuid::Uuid,
    pub workspace_id: i64,
    pub user_id: i64,
    pub user_email: String,
    pub object_key: Option<String>,
    pub upload_id: Option<String>,
    pub content_type: Option<String>,
    pub max_attempts: i32,
    pub cancel_requested: bool,
    /// Deleted by a user: hidden, kept for its audit trail.
    pub deleted: bool,
    /// The key the job's workspace has in the source, when it has one (see
    /// `Source::tenant`).
    pub tenant_key: Option<String>,
    /// The incremental schedule whose run this is.
    pub increment_of: Option<i64>,
    /// How long the workspace keeps files, when it says (hours).
    pub retention_hours: Option<f64>,
    /// When a single-use download was handed out.
    pub handed_out_at: Option<i64>,
    /// What moment the completed file's data is as of.
    pub snapshot_at: Option<DateTime<Utc>>,
}

/// The `options` column: the file's options and the chosen columns.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredOptions {
    #[serde(flatten)]
    options: ExportOptions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<String>>,
    /// The incremental schedule whose run this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    increment_of: Option<i64>,
}

impl JobRecord {
    /// The fence for a worker's writes: this job at this attempt.
    pub fn lease(&self) -> Lease {
        Lease {
            id: self.uuid,
            attempt: self.job.attempts,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub id: uuid::Uuid,
    pub attempt: i32,
}

/// What a finished export wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub rows: i64,
    pub bytes: i64,
    /// Text cells the format had to cut (XLSX's cell limit).
    pub shortened_cells: i64,
    /// The data is as of this moment: the read's snapshot opened right after it.
    pub snapshot_at: DateTime<Utc>,
}

/// A job to insert.
#[derive(Clone, Debug)]
pub struct NewJob {
    pub id: uuid::Uuid,
    pub workspace_id: i64,
    pub user_id: i64,
    pub dataset: String,
    pub format: Format,
    pub filters: Filters,
    pub columns: Option<Vec<String>>,
    pub options: ExportOptions,
    pub max_attempts: i32,
    /// A run of this incremental schedule: only the rows changed since its last one.
    pub increment_of: Option<i64>,
}

/// Statements that go with a new job in its transaction (see `Store::create_job`).
#[derive(Debug, Default)]
pub struct Alongside {
    /// Must change a row first, else nothing is written.
    pub fence: Option<Query>,
    /// Run after the job's insert.
    pub then: Vec<Query>,
}

/// What `Store::create_job` did.
#[derive(Debug)]
pub enum Created {
    Job(Box<JobRecord>),
    /// The workspace has as many exports running as it may.
    AtLimit,
    /// The fence changed no row: nothing was written.
    Fenced,
}

/// The columns of a job, in the order `decode_job` reads them.
pub fn job_columns(f: &Flavour) -> String {
    let t = |c: &str| f.time_text.replace("{}", c);
    format!(
        "{} , j.workspace_id, j.user_id, u.name, u.email, j.entity_type, j.format, {}, {}, j.status, \
         j.total_rows, j.processed_rows, j.bytes, j.s3_key, j.upload_id, j.content_type, j.file_name, \
         j.attempts, j.max_attempts, j.cancel_requested, j.error_message, {}, {}, {}, {}, {}, j.shortened_cells, w.tenant_key, w.retention_hours, j.handed_out_at, {}",
        f.uuid_text.replace("{}", "j.id"),
        f.json_text.replace("{}", "j.filters"),
        f.json_text.replace("{}", "j.options"),
        t("j.expires_at"),
        t("j.started_at"),
        t("j.completed_at"),
        t("j.created_at"),
        t("j.deleted_at"),
        t("j.snapshot_at"),
    )
}

pub fn select_jobs(f: &Flavour) -> String {
    format!(
        "SELECT {} FROM export_jobs j JOIN users u ON u.id = j.user_id JOIN workspaces w ON w.id = j.workspace_id",
        job_columns(f)
    )
}

/// Reads a row of `job_columns`; the same code for both databases.
pub fn decode_job<'r, R>(r: &'r R) -> Result<JobRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
    f64: Decode<'r, R::Database> + Type<R::Database>,
{
    let bad = |what: &str, value: &str| sqlx::Error::Decode(format!("bad {what} `{value}` in export_jobs").into());
    let id: String = r.try_get(0)?;
    let format: String = r.try_get(6)?;
    let filters: String = r.try_get(7)?;
    let options: String = r.try_get(8)?;
    let status: String = r.try_get(9)?;
    let uuid = uuid::Uuid::parse_str(&id).map_err(|_| bad("id", &id))?;
    let stored: StoredOptions = serde_json::from_str(&options).map_err(|_| bad("options", &options))?;
    // Jobs from before the catalog kept every filter, the absent ones as null.
    let filters: std::collections::BTreeMap<String, Option<String>> =
        serde_json::from_str(&filters).map_err(|_| bad("filters", &filters))?;
    let filters = Filters(filters.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect());
    let job = ExportJob {
        id: uuid.to_string(),
        workspace_id: r.try_get(1)?,
        dataset: r.try_get(5)?,
        format: Format::parse(&format).ok_or_else(|| bad("format", &format))?,
        filters,
        columns: stored.columns,
        options: stored.options,
        status: JobStatus::parse(&status).ok_or_else(|| bad("status", &status))?,
        total_rows: r.try_get(10)?,
        processed_rows: r.try_get(11)?,
        bytes: r.try_get(12)?,
        file_name: r.try_get(16)?,
        error: r.try_get(20)?,
        created_by: r.try_get(3)?,
        created_by_id: r.try_get(2)?,
        attempts: r.try_get(17)?,
        created_at: parse_time(r.try_get(24)?)?.unwrap_or_default(),
        started_at: parse_time(r.try_get(22)?)?,
        completed_at: parse_time(r.try_get(23)?)?,
        expires_at: parse_time(r.try_get(21)?)?,
        shortened_cells: r.try_get(26)?,
    };
    Ok(JobRecord {
        job,
        uuid,
        workspace_id: r.try_get(1)?,
        user_id: r.try_get(2)?,
        user_email: r.try_get(4)?,
        object_key: r.try_get(13)?,
        upload_id: r.try_get(14)?,
        content_type: r.try_get(15)?,
        max_attempts: r.try_get(18)?,
        cancel_requested: r.try_get(19)?,
        deleted: r.try_get::<Option<String>, _>(25)?.is_some(),
        tenant_key: r.try_get(27)?,
        increment_of: stored.increment_of,
        retention_hours: r.try_get(28)?,
        handed_out_at: r.try_get(29)?,
        snapshot_at: parse_time(r.try_get(30)?)?,
    })
}

fn uuid(id: uuid::Uuid) -> Param {
    Param::Text(id.to_string())
}

fn text(s: impl Into<String>) -> Param {
    Param::Text(s.into())
}

fn opt_text(s: Option<impl Into<String>>) -> Param {
    Param::MaybeText(s.map(Into::into))
}

fn time(t: DateTime<Utc>) -> Param {
    Param::Text(time_text(&t))
}

/// `WHERE j.id = $ AND j.attempts = $ AND j.status = 'processing'`: the worker's fence.
fn fenced(store: &dyn Store, sql: Sql, lease: Lease) -> Sql {
    let f = store.flavour();
    sql.push(
        &format!(" WHERE id = ?{} AND attempts = ? AND status = 'processing'", f.uuid),
        [uuid(lease.id), Param::Int(lease.attempt as i64)],
    )
}

pub fn insert_job(store: &dyn Store, new: &NewJob, now: DateTime<Utc>) -> Query {
    let f = store.flavour();
    Sql::new("INSERT INTO export_jobs (id, workspace_id, user_id, entity_type, format, filters, options, status, max_attempts, run_after, created_at, updated_at) ")
        .push(
            &format!("VALUES (?{}, ?, ?, ?, ?, ?{}, ?{}, 'pending', ?, ?{t}, ?{t}, ?{t})", f.uuid, f.json, f.json, t = f.time),
            [
                uuid(new.id),
                Param::Int(new.workspace_id),
                Param::Int(new.user_id),
                text(&new.dataset),
                text(new.format.id()),
                text(serde_json::to_string(&new.filters).expect("filters serialise")),
                text(
                    serde_json::to_string(&StoredOptions {
                        options: new.options,
                        columns: new.columns.clone(),
                        increment_of: new.increment_of,
                    })
                    .expect("options serialise"),
                ),
                Param::Int(new.max_attempts as i64),
                time(now),
                time(now),
                time(now),
            ],
        )
        .done()
}

pub fn count_active(workspace_id: i64) -> Query {
    Sql::new("SELECT COUNT(*) FROM export_jobs WHERE status IN ('pending', 'processing') AND ")
        .push("workspace_id = ?", [Param::Int(workspace_id)])
        .done()
}

/// A job by id, only if it belongs to `workspace_id` (when given).
pub async fn get(store: &dyn Store, workspace_id: Option<i64>, id: uuid::Uuid) -> StoreResult<Option<JobRecord>> {
    let f = store.flavour();
    let mut sql = Sql::new(select_jobs(f)).push(&format!(" WHERE j.id = ?{}", f.uuid), [uuid(id)]);
    if let Some(ws) = workspace_id {
        sql = sql.push(" AND j.workspace_id = ?", [Param::Int(ws)]);
    }
    Ok(store.fetch_jobs(&sql.done()).await?.pop())
}

/// The statement that reads one job by id (what `get` runs without a workspace).
pub fn get_query(f: &Flavour, id: uuid::Uuid) -> Query {
    Sql::new(select_jobs(f))
        .push(&format!(" WHERE j.id = ?{}", f.uuid), [uuid(id)])
        .done()
}

/// A workspace's jobs that are not deleted (only `user_id`'s when given), newest first,
/// and how many there are in all.
pub async fn list(
    store: &dyn Store,
    workspace_id: i64,
    user_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> StoreResult<(Vec<JobRecord>, i64)> {
    let f = store.flavour();
    let scope = |sql: Sql, prefix: &str| {
        let sql = sql.push(
            &format!(" WHERE {prefix}workspace_id = ? AND {prefix}deleted_at IS NULL"),
            [Param::Int(workspace_id)],
        );
        match user_id {
            Some(user) => sql.push(&format!(" AND {prefix}user_id = ?"), [Param::Int(user)]),
            None => sql,
        }
    };
    let jobs = scope(Sql::new(select_jobs(f)), "j.")
        .push(
            " ORDER BY j.created_at DESC, j.id DESC LIMIT ? OFFSET ?",
            [Param::Int(limit), Param::Int(offset)],
        )
        .done();
    let count = scope(Sql::new("SELECT COUNT(*) FROM export_jobs"), "").done();
    Ok((
        store.fetch_jobs(&jobs).await?,
        store.fetch_i64(&count).await?.unwrap_or(0),
    ))
}

/// Cancels a pending job at once, and asks a running one to stop (the worker checks
/// between batches and before it completes). Each with its audit event, in the same
/// transaction.
pub async fn request_cancel(store: &dyn Store, id: uuid::Uuid, by: i64) -> StoreResult<()> {
    let f = store.flavour();
    let now = Utc::now();
    let cancel_pending = Sql::new("UPDATE export_jobs")
        .push(
            &format!(
                " SET status = 'cancelled', completed_at = ?{t}, updated_at = ?{t}",
                t = f.time
            ),
            [time(now), time(now)],
        )
        .push(&format!(" WHERE id = ?{} AND status = 'pending'", f.uuid), [uuid(id)])
        .done();
    if store
        .transition(&[cancel_pending, event(store, id, "cancelled", Some(by), None)])
        .await?
    {
        return Ok(());
    }
    let ask_running = Sql::new("UPDATE export_jobs")
        .push(
            &format!(" SET cancel_requested = ?, updated_at = ?{}", f.time),
            [Param::Bool(true), time(now)],
        )
        .push(
            &format!(
                " WHERE id = ?{} AND status = 'processing' AND cancel_requested = ?",
                f.uuid
            ),
            [uuid(id), Param::Bool(false)],
        )
        .done();
    store
        .transition(&[ask_running, event(store, id, "cancel_requested", Some(by), None)])
        .await?;
    Ok(())
}

/// Hides an ended job whose file is gone; the row and its events stay for the audit trail.
pub async fn mark_deleted(store: &dyn Store, id: uuid::Uuid, by: i64) -> StoreResult<()> {
    let f = store.flavour();
    let q = Sql::new(format!(
        "UPDATE export_jobs SET deleted_at = {now}, s3_key = NULL, upload_id = NULL, updated_at = {now}",
        now = f.now
    ))
    .push(&format!(" WHERE id = ?{} AND deleted_at IS NULL", f.uuid), [uuid(id)])
    .done();
    store
        .transition(&[q, event(store, id, "deleted", Some(by), None)])
        .await?;
    Ok(())
}

/// Extends the lease. `None` when the lease was lost; else whether a cancel was asked for.
pub async fn heartbeat(store: &dyn Store, lease: Lease, until: DateTime<Utc>) -> StoreResult<Option<bool>> {
    let f = store.flavour();
    let q = fenced(
        store,
        Sql::new("UPDATE export_jobs").push(
            &format!(" SET lease_until = ?{t}, updated_at = ?{t}", t = f.time),
            [time(until), time(Utc::now())],
        ),
        lease,
    )
    .push(" RETURNING cancel_requested", [])
    .done();
    store.fetch_bool(&q).await
}

/// Persists progress. `None` when the lease was lost; else whether a cancel was asked for.
pub async fn record_progress(
    store: &dyn Store,
    lease: Lease,
    processed: i64,
    total: Option<i64>,
) -> StoreResult<Option<bool>> {
    let f = store.flavour();
    let q = fenced(
        store,
        Sql::new("UPDATE export_jobs").push(
            &format!(
                " SET processed_rows = ?, total_rows = COALESCE(?, total_rows), updated_at = ?{}",
                f.time
            ),
            [Param::Int(processed), Param::MaybeInt(total), time(Utc::now())],
        ),
        lease,
    )
    .push(" RETURNING cancel_requested", [])
    .done();
    store.fetch_bool(&q).await
}

// --- The steps of a running job's transitions (run by `worker::running`, each list in
// one transaction whose first statement is the fenced update). ---------------------------

/// The fence alone: touches the job if this attempt still owns it.
pub fn owned(store: &dyn Store, lease: Lease) -> Query {
    let f = store.flavour();
    fenced(
        store,
        Sql::new("UPDATE export_jobs").push(&format!(" SET updated_at = ?{}", f.time), [time(Utc::now())]),
        lease,
    )
    .done()
}

/// Records the attempt's object and open upload, so cleanup can abort it after a crash.
pub fn upload_opened(
    store: &dyn Store,
    lease: Lease,
    bucket: &str,
    key: &str,
    upload_id: Option<&str>,
    content_type: &str,
    file_name: &str,
) -> Query {
    let f = store.flavour();
    fenced(
        store,
        Sql::new("UPDATE export_jobs").push(
            &format!(
                " SET s3_bucket = ?, s3_key = ?, upload_id = ?, content_type = ?, file_name = ?, updated_at = ?{}",
                f.time
            ),
            [
                text(bucket),
                text(key),
                opt_text(upload_id),
                text(content_type),
                text(file_name),
                time(Utc::now()),
            ],
        ),
        lease,
    )
    .done()
}

/// Completed, unless a cancel was asked for (then nothing changes: the caller cancels).
pub fn completed(store: &dyn Store, lease: Lease, outcome: &Outcome, expires_at: DateTime<Utc>) -> Query {
    let f = store.flavour();
    let now = Utc::now();
    fenced(
        store,
        Sql::new("UPDATE export_jobs").push(
            &format!(
                " SET status = 'completed', processed_rows = ?, total_rows = ?, bytes = ?, shortened_cells = ?, \
                 upload_id = NULL, lease_until = NULL, error_message = NULL, expires_at = ?{t}, completed_at = ?{t}, \
                 updated_at = ?{t}, snapshot_at = ?{t}",
                t = f.time
            ),
            [
                Param::Int(outcome.rows),
                Param::Int(outcome.rows),
                Param::Int(outcome.bytes),
                Param::Int(outcome.shortened_cells),
                time(expires_at),
                time(now),
                time(now),
                time(outcome.snapshot_at),
            ],
        ),
        lease,
    )
    .push(" AND cancel_requested = ?", [Param::Bool(false)])
    .done()
}

/// Back to pending, to run again at `at`. The upload id stays on the job: the next
/// attempt or cleanup aborts it if it is still open.
pub fn retry(store: &dyn Store, lease: Lease, error: &str, at: DateTime<Utc>) -> Query {
    let f = store.flavour();
    let sql = Sql::new("UPDATE export_jobs").push(
        &format!(
            " SET status = 'pending', run_after = ?{t}, lease_until = NULL, locked_by = NULL, \
             processed_rows = 0, error_message = ?, updated_at = ?{t}",
            t = f.time
        ),
        [time(at), text(error), time(Utc::now())],
    );
    fenced(store, sql, lease).done()
}

pub fn failed(store: &dyn Store, lease: Lease, error: &str) -> Query {
    let f = store.flavour();
    let now = Utc::now();
    let sql = Sql::new("UPDATE export_jobs").push(
        &format!(
            " SET status = 'failed', lease_until = NULL, error_message = ?, completed_at = ?{t}, updated_at = ?{t}",
            t = f.time
        ),
        [text(error), time(now), time(now)],
    );
    fenced(store, sql, lease).done()
}

/// Back to the queue, to run now on another worker. `attempts` is the fence and so only
/// grows; the job gets one more attempt instead, so the handed-back one does not count.
pub fn handed_back(store: &dyn Store, lease: Lease) -> Query {
    let f = store.flavour();
    let now = Utc::now();
    let sql = Sql::new("UPDATE export_jobs").push(
        &format!(
            " SET status = 'pending', run_after = ?{t}, lease_until = NULL, locked_by = NULL, \
             processed_rows = 0, max_attempts = max_attempts + 1, updated_at = ?{t}",
            t = f.time
        ),
        [time(now), time(now)],
    );
    fenced(store, sql, lease).done()
}

pub fn cancelled(store: &dyn Store, lease: Lease) -> Query {
    let f = store.flavour();
    let now = Utc::now();
    let sql = Sql::new("UPDATE export_jobs").push(
        &format!(
            " SET status = 'cancelled', lease_until = NULL, completed_at = ?{t}, updated_at = ?{t}",
            t = f.time
        ),
        [time(now), time(now)],
    );
    fenced(store, sql, lease).done()
}

/// An entry of the job's audit trail.
pub fn event(store: &dyn Store, job: uuid::Uuid, kind: &str, user_id: Option<i64>, detail: Option<&str>) -> Query {
    let f = store.flavour();
    Sql::new("INSERT INTO export_events (job_id, kind, user_id, detail, created_at) ")
        .push(
            &format!("VALUES (?{}, ?, ?, ?, ?{})", f.uuid, f.time),
            [
                uuid(job),
                text(kind),
                Param::MaybeInt(user_id),
                opt_text(detail),
                time(Utc::now()),
            ],
        )
        .done()
}

/// Appends to the job's audit trail (what is not a change of state: a download).
pub async fn add_event(
    store: &dyn Store,
    job: uuid::Uuid,
    kind: &str,
    user_id: Option<i64>,
    detail: Option<&str>,
) -> StoreResult<()> {
    store.execute(&event(store, job, kind, user_id, detail)).await?;
    Ok(())
}

/// The kinds of a job's events, oldest first, with who and what.
pub async fn events(store: &dyn Store, job: uuid::Uuid) -> StoreResult<Vec<(String, Option<i64>, Option<String>)>> {
    let f = store.flavour();
    let q = Sql::new("SELECT kind, user_id, detail FROM export_events")
        .push(&format!(" WHERE job_id = ?{} ORDER BY id", f.uuid), [uuid(job)])
        .done();
    store.fetch_events(&q).await
}

/// Jobs whose object should go: completed ones past expiry, failed and cancelled ones that
/// still have one, and uploads left open by a crash (no live lease, older than `stale`).
pub async fn due_for_cleanup(store: &dyn Store, stale: DateTime<Utc>, limit: i64) -> StoreResult<Vec<JobRecord>> {
    let f = store.flavour();
    let q = Sql::new(select_jobs(f))
        .push(
            &format!(
                " WHERE (j.status = 'completed' AND j.expires_at < {now}) \
                 OR (j.status IN ('failed', 'cancelled') AND (j.s3_key IS NOT NULL OR j.upload_id IS NOT NULL)) \
                 OR (j.upload_id IS NOT NULL AND j.status = 'pending' AND j.updated_at < ?{t}) \
                 ORDER BY j.updated_at LIMIT ?",
                now = f.now,
                t = f.time,
            ),
            [time(stale), Param::Int(limit)],
        )
        .done();
    store.fetch_jobs(&q).await
}

/// After cleanup removed a job's object: forgets it; a completed job becomes expired,
/// with its event and `then` (its notifications) in the same transaction.
pub async fn forget_object(store: &dyn Store, record: &JobRecord, then: Vec<Query>) -> StoreResult<bool> {
    let f = store.flavour();
    let expire = record.job.status == JobStatus::Completed;
    let set_status = if expire { "status = 'expired', " } else { "" };
    let q = Sql::new(format!(
        "UPDATE export_jobs SET {set_status}s3_key = NULL, upload_id = NULL, updated_at = {}",
        f.now
    ))
    .push(
        &format!(" WHERE id = ?{} AND status = ?", f.uuid),
        [uuid(record.uuid), text(record.job.status.id())],
    )
    .done();
    let mut steps = vec![q];
    if expire {
        steps.push(event(store, record.uuid, "expired", None, None));
        steps.extend(then);
    }
    store.transition(&steps).await
}

/// Hands out a single-use download: the first caller changes the row and gets the file;
/// the file then expires within `grace` (long enough for a presigned URL to be used once).
pub fn hand_out_once(store: &dyn Store, id: uuid::Uuid, now: DateTime<Utc>, grace: chrono::Duration) -> Query {
    let f = store.flavour();
    Sql::new("UPDATE export_jobs SET ")
        .push(
            &format!(
                "handed_out_at = ?, expires_at = ?{t}, updated_at = ?{t} WHERE id = ?{u} AND handed_out_at IS NULL \
                 AND status = 'completed'",
                t = f.time,
                u = f.uuid
            ),
            [Param::Int(now.timestamp()), time(now + grace), time(now), uuid(id)],
        )
        .done()
}

/// Ends a completed job's stay in Egress's storage now (its file was delivered to the
/// workspace's own bucket and no copy is kept): cleanup deletes the file and marks the
/// job expired, as for any file past its time.
pub fn expire_now(store: &dyn Store, id: uuid::Uuid, now: DateTime<Utc>) -> Query {
    let f = store.flavour();
    Sql::new("UPDATE export_jobs SET ")
        .push(
            &format!(
                "expires_at = ?{t}, updated_at = ?{t} WHERE id = ?{u} AND status = 'completed'",
                t = f.time,
                u = f.uuid
            ),
            [time(now), time(now), uuid(id)],
        )
        .done()
}
