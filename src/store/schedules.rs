//! The schedules' SQL, for both backends. A due time fires through `fire`: the fence that
//! moves `next_run_at` on from the due time it read, in the transaction that creates the
//! run's job (`Store::create_job`), so each due time makes at most one job however many
//! schedulers read it. Neither a due time nor "run now" starts a run while the schedule's
//! previous run is still pending or processing. Times are Unix seconds.

use super::Store;
use super::query::{Param, Query, Sql};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// A schedule as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleRecord {
    pub id: i64,
    pub workspace_id: i64,
    pub created_by: i64,
    pub created_by_name: String,
    pub name: String,
    /// The export each run makes (`NewExport`), as JSON.
    pub request: String,
    /// `schedules::Cadence`, as JSON.
    pub cadence: String,
    pub time_zone: String,
    pub paused: bool,
    pub next_run_at: i64,
    pub created_at: i64,
    /// Each run exports only what changed since the previous completed one.
    pub incremental: bool,
}

/// One run of a schedule, with its export's state.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub due_at: i64,
    pub outcome: String,
    pub note: Option<String>,
    pub job_id: Option<String>,
    pub status: Option<String>,
    pub rows: Option<i64>,
    pub error: Option<String>,
}

/// A schedule's fields as written on create and replace.
#[derive(Clone, Debug)]
pub struct ScheduleFields {
    pub name: String,
    pub request: String,
    pub cadence: String,
    pub time_zone: String,
    pub paused: bool,
    pub next_run_at: i64,
    pub incremental: bool,
}

const SELECT: &str = "SELECT s.id, s.workspace_id, s.created_by, u.name, s.name, s.request, s.cadence, s.time_zone, \
     s.paused, s.next_run_at, s.created_at, s.incremental FROM schedules s JOIN users u ON u.id = s.created_by \
     WHERE s.deleted_at IS NULL";

/// No run of the schedule (`s`) is pending or processing.
const IDLE: &str = "NOT EXISTS (SELECT 1 FROM schedule_runs r JOIN export_jobs j ON j.id = r.job_id \
     WHERE r.schedule_id = schedules.id AND j.status IN ('pending', 'processing'))";

pub fn decode<'r, R>(r: &'r R) -> Result<ScheduleRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    bool: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(ScheduleRecord {
        id: r.try_get(0)?,
        workspace_id: r.try_get(1)?,
        created_by: r.try_get(2)?,
        created_by_name: r.try_get(3)?,
        name: r.try_get(4)?,
        request: r.try_get(5)?,
        cadence: r.try_get(6)?,
        time_zone: r.try_get(7)?,
        paused: r.try_get(8)?,
        next_run_at: r.try_get(9)?,
        created_at: r.try_get(10)?,
        incremental: r.try_get(11)?,
    })
}

pub fn decode_run<'r, R>(r: &'r R) -> Result<RunRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database>,
{
    Ok(RunRecord {
        due_at: r.try_get(0)?,
        outcome: r.try_get(1)?,
        note: r.try_get(2)?,
        job_id: r.try_get(3)?,
        status: r.try_get(4)?,
        rows: r.try_get(5)?,
        error: r.try_get(6)?,
    })
}

/// The workspace's schedules (only `created_by`'s when given), newest first.
pub fn list(workspace_id: i64, created_by: Option<i64>) -> Query {
    Sql::new(SELECT)
        .push(
            " AND s.workspace_id = ? AND (CAST(? AS BIGINT) IS NULL OR s.created_by = ?) ORDER BY s.id DESC",
            [
                Param::Int(workspace_id),
                Param::MaybeInt(created_by),
                Param::MaybeInt(created_by),
            ],
        )
        .done()
}

pub fn get(id: i64) -> Query {
    Sql::new(SELECT).push(" AND s.id = ?", [Param::Int(id)]).done()
}

/// Live, unpaused schedules due at `now`, the longest overdue first.
pub fn due(now: i64, limit: i64) -> Query {
    Sql::new(SELECT)
        .push(
            " AND NOT s.paused AND s.next_run_at <= ? ORDER BY s.next_run_at LIMIT ?",
            [Param::Int(now), Param::Int(limit)],
        )
        .done()
}

/// The latest runs of a schedule, newest first.
pub fn runs(store: &dyn Store, schedule_id: i64, limit: i64) -> Query {
    let f = store.flavour();
    Sql::new(format!(
        "SELECT r.due_at, r.outcome, r.note, {}, j.status, j.processed_rows, j.error_message \
         FROM schedule_runs r LEFT JOIN export_jobs j ON j.id = r.job_id",
        f.uuid_text.replace("{}", "r.job_id")
    ))
    .push(
        " WHERE r.schedule_id = ? ORDER BY r.id DESC LIMIT ?",
        [Param::Int(schedule_id), Param::Int(limit)],
    )
    .done()
}

/// The stored fields, in the order `insert` and `replace` name them.
fn field_params(fields: &ScheduleFields) -> [Param; 7] {
    [
        Param::Text(fields.name.clone()),
        Param::Text(fields.request.clone()),
        Param::Text(fields.cadence.clone()),
        Param::Text(fields.time_zone.clone()),
        Param::Bool(fields.paused),
        Param::Int(fields.next_run_at),
        Param::Bool(fields.incremental),
    ]
}

pub fn insert(workspace_id: i64, created_by: i64, fields: &ScheduleFields, now: i64) -> Query {
    Sql::new(
        "INSERT INTO schedules (workspace_id, created_by, name, request, cadence, time_zone, paused, next_run_at, incremental, \
         created_at, updated_at) ",
    )
    .push("VALUES (?, ?", [Param::Int(workspace_id), Param::Int(created_by)])
    .push(", ?, ?, ?, ?, ?, ?, ?", field_params(fields))
    .push(", ?, ?) RETURNING id", [Param::Int(now), Param::Int(now)])
    .done()
}

pub fn replace(id: i64, fields: &ScheduleFields, now: i64) -> Query {
    Sql::new("UPDATE schedules SET ")
        .push(
            "name = ?, request = ?, cadence = ?, time_zone = ?, paused = ?, next_run_at = ?, incremental = ?",
            field_params(fields),
        )
        .push(
            ", updated_at = ? WHERE id = ? AND deleted_at IS NULL",
            [Param::Int(now), Param::Int(id)],
        )
        .done()
}

pub fn set_paused(id: i64, paused: bool, next_run_at: i64, now: i64) -> Query {
    Sql::new("UPDATE schedules SET ")
        .push(
            "paused = ?, next_run_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
            [
                Param::Bool(paused),
                Param::Int(next_run_at),
                Param::Int(now),
                Param::Int(id),
            ],
        )
        .done()
}

pub fn delete(id: i64, now: i64) -> Query {
    Sql::new("UPDATE schedules SET ")
        .push(
            "deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
            [Param::Int(now), Param::Int(now), Param::Int(id)],
        )
        .done()
}

/// The fence of a run: for a due time, moves `next_run_at` from `due` to `next`; for
/// "run now" (`due` is `None`), only requires the schedule to be live. Either way it
/// changes no row while a run of the schedule is pending or processing.
pub fn fire(id: i64, due: Option<(i64, i64)>, now: i64) -> Query {
    let sql = Sql::new("UPDATE schedules SET ");
    let sql = match due {
        Some((due, next)) => sql.push(
            "next_run_at = ?, updated_at = ? WHERE id = ? AND next_run_at = ? AND NOT paused",
            [Param::Int(next), Param::Int(now), Param::Int(id), Param::Int(due)],
        ),
        None => sql.push("updated_at = ? WHERE id = ?", [Param::Int(now), Param::Int(id)]),
    };
    sql.push(&format!(" AND deleted_at IS NULL AND {IDLE}"), []).done()
}

/// Moves a due time on without a run (its previous run was still going, or it cannot
/// run), fenced like `fire`.
pub fn pass(id: i64, due: i64, next: i64, now: i64) -> Query {
    Sql::new("UPDATE schedules SET ")
        .push(
            "next_run_at = ?, updated_at = ? WHERE id = ? AND next_run_at = ? AND NOT paused AND deleted_at IS NULL",
            [Param::Int(next), Param::Int(now), Param::Int(id), Param::Int(due)],
        )
        .done()
}

/// Pauses a schedule that cannot run any more (its maker left, or lost the dataset),
/// fenced on the due time like `pass`.
pub fn pause_broken(id: i64, due: i64, now: i64) -> Query {
    Sql::new("UPDATE schedules SET ")
        .push(
            "paused = ?, updated_at = ? WHERE id = ? AND next_run_at = ? AND NOT paused AND deleted_at IS NULL",
            [Param::Bool(true), Param::Int(now), Param::Int(id), Param::Int(due)],
        )
        .done()
}

/// Records what a due time did.
pub fn record_run(
    store: &dyn Store,
    schedule_id: i64,
    due_at: i64,
    job: Option<uuid::Uuid>,
    outcome: &str,
    note: Option<&str>,
    now: i64,
) -> Query {
    Sql::new("INSERT INTO schedule_runs (schedule_id, due_at, job_id, outcome, note, created_at) ")
        .push(
            &format!("VALUES (?, ?, ?{}, ?, ?, ?)", store.flavour().uuid),
            [
                Param::Int(schedule_id),
                Param::Int(due_at),
                Param::MaybeText(job.map(|j| j.to_string())),
                Param::Text(outcome.into()),
                Param::MaybeText(note.map(str::to_owned)),
                Param::Int(now),
            ],
        )
        .done()
}

/// Where an incremental run's successor starts (`state`, JSON), saved as its job completes.
pub fn save_increment(store: &dyn Store, job: uuid::Uuid, schedule_id: i64, state: &str, now: i64) -> Query {
    Sql::new("INSERT INTO increments (job_id, schedule_id, state, created_at) ")
        .push(
            &format!("VALUES (?{}, ?, ?, ?)", store.flavour().uuid),
            [
                Param::Text(job.to_string()),
                Param::Int(schedule_id),
                Param::Text(state.into()),
                Param::Int(now),
            ],
        )
        .done()
}

/// The state the latest completed run of the schedule left (none before the first).
pub fn latest_increment(schedule_id: i64) -> Query {
    Sql::new(
        "SELECT i.state FROM increments i JOIN export_jobs j ON j.id = i.job_id \
         WHERE j.status IN ('completed', 'expired') AND ",
    )
    .push(
        "i.schedule_id = ? ORDER BY j.completed_at DESC LIMIT 1",
        [Param::Int(schedule_id)],
    )
    .done()
}

/// Forgets where an incremental schedule is: its next run exports everything again.
pub fn forget_increments(schedule_id: i64) -> Query {
    Sql::new("DELETE FROM increments WHERE ")
        .push("schedule_id = ?", [Param::Int(schedule_id)])
        .done()
}
