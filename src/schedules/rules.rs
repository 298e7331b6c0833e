//! What people may do with schedules, for the page's server functions and the JSON API
//! alike. Anyone in the workspace may schedule an export of a dataset they may see; a
//! member sees and changes their own schedules, admins and owners all of the workspace's.
//! A schedule's runs are exports of its maker ("run now": of whoever asked).

use super::runner::{next_run, prepare};
use super::{Cadence, RunView, ScheduleRequest, ScheduleView, cadence};
use crate::accounts::ssr::Member;
use crate::error::{AppError, ErrorCode};
use crate::exports::service::{too_many, validate, wake_workers};
use crate::exports::{ACTIVE_LIMIT, ExportJob, JobStatus, NewExport};
use crate::server::AppState;
use crate::store::{Alongside, Created, ScheduleFields, ScheduleRecord, schedules};
use chrono::Utc;

/// Runs shown with each schedule.
const HISTORY: i64 = 20;
const NAME_LIMIT: usize = 100;

use crate::store::from_unix as time;

fn not_found() -> AppError {
    AppError::not_found("There is no such schedule in this workspace.")
}

async fn view(state: &AppState, s: &ScheduleRecord) -> Result<ScheduleView, AppError> {
    let export: NewExport = serde_json::from_str(&s.request)
        .map_err(|e| AppError::internal(format!("schedule {} has an unreadable request: {e}", s.id)))?;
    let cadence: Cadence = serde_json::from_str(&s.cadence)
        .map_err(|e| AppError::internal(format!("schedule {} has an unreadable cadence: {e}", s.id)))?;
    let runs = state
        .store
        .fetch_runs(&schedules::runs(state.store.as_ref(), s.id, HISTORY))
        .await?;
    Ok(ScheduleView {
        id: s.id,
        name: s.name.clone(),
        export,
        description: cadence.describe(),
        cadence,
        time_zone: s.time_zone.clone(),
        paused: s.paused,
        incremental: s.incremental,
        next_run_at: (!s.paused).then(|| time(s.next_run_at)),
        created_by: s.created_by_name.clone(),
        created_by_id: s.created_by,
        created_at: time(s.created_at),
        runs: runs
            .into_iter()
            .map(|r| RunView {
                due_at: time(r.due_at),
                outcome: r.outcome,
                note: r.note,
                export_id: r.job_id,
                status: r.status.as_deref().and_then(JobStatus::parse),
                rows: r.rows,
                error: r.error,
            })
            .collect(),
    })
}

/// The workspace's schedule `id`, if the member may see and change it.
async fn schedule(state: &AppState, member: &Member, id: i64) -> Result<ScheduleRecord, AppError> {
    let found = state.store.fetch_schedules(&schedules::get(id)).await?;
    let s = found
        .into_iter()
        .find(|s| s.workspace_id == member.workspace_id)
        .ok_or_else(not_found)?;
    if s.created_by != member.user_id && !member.role.manages_all_exports() {
        return Err(AppError::forbidden(
            "Only the person who made this schedule, or an admin of the workspace, can see or change it.",
        ));
    }
    Ok(s)
}

/// Checks a request completely; answers what to store.
fn fields(state: &AppState, member: &Member, request: &ScheduleRequest) -> Result<ScheduleFields, AppError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > NAME_LIMIT || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            format!("give the schedule a name of 1 to {NAME_LIMIT} characters, on one line"),
        ));
    }
    let (dataset, ..) = validate(&state.catalog, &request.export, member.role).map_err(|e| e.within("export"))?;
    if request.incremental && dataset.changes.is_none() {
        return Err(AppError::invalid(
            "incremental",
            format!(
                "{} does not say which rows changed (no changes column in the catalog), so it can only be exported whole",
                dataset.label
            ),
        ));
    }
    // Deleted rows are reported by their key: a file of them without it says nothing.
    if request.incremental
        && dataset.tombstones().is_some()
        && let Some(chosen) = &request.export.columns
        && let Some(missing) = dataset.key.iter().find(|k| !chosen.contains(k))
    {
        return Err(AppError::invalid(
            "export.columns",
            format!(
                "incremental runs of {} report deleted rows by their key: include the column `{missing}`",
                dataset.label
            ),
        ));
    }
    state.source.tenant(member.workspace_id, member.tenant_key.as_deref())?;
    let next = cadence::next_after(&request.cadence, &request.time_zone, Utc::now())?;
    Ok(ScheduleFields {
        name: name.to_owned(),
        request: serde_json::to_string(&request.export).expect("a request serialises"),
        cadence: serde_json::to_string(&request.cadence).expect("a cadence serialises"),
        time_zone: request.time_zone.clone(),
        paused: request.paused,
        next_run_at: next.timestamp(),
        incremental: request.incremental,
    })
}

pub async fn list(state: &AppState, member: &Member) -> Result<Vec<ScheduleView>, AppError> {
    let only = (!member.role.manages_all_exports()).then_some(member.user_id);
    let found = state
        .store
        .fetch_schedules(&schedules::list(member.workspace_id, only))
        .await?;
    let mut views = Vec::with_capacity(found.len());
    for s in &found {
        views.push(view(state, s).await?);
    }
    Ok(views)
}

pub async fn get(state: &AppState, member: &Member, id: i64) -> Result<ScheduleView, AppError> {
    view(state, &schedule(state, member, id).await?).await
}

pub async fn create(state: &AppState, member: &Member, request: ScheduleRequest) -> Result<ScheduleView, AppError> {
    let fields = fields(state, member, &request)?;
    crate::destinations::rules::check_choice(state, member.workspace_id, &request.export.options)
        .await
        .map_err(|e| e.within("export"))?;
    let now = Utc::now().timestamp();
    let query = schedules::insert(member.workspace_id, member.user_id, &fields, now);
    let id = state
        .store
        .fetch_i64(&query)
        .await?
        .ok_or_else(|| AppError::internal("the new schedule has no id"))?;
    get(state, member, id).await
}

/// Replaces a schedule's export, cadence and name; its next run is worked out afresh.
pub async fn replace(
    state: &AppState,
    member: &Member,
    id: i64,
    request: ScheduleRequest,
) -> Result<ScheduleView, AppError> {
    let before = schedule(state, member, id).await?;
    let fields = fields(state, member, &request)?;
    crate::destinations::rules::check_choice(state, member.workspace_id, &request.export.options)
        .await
        .map_err(|e| e.within("export"))?;
    // Another export (dataset, filters, columns…) starts its increments afresh: what the
    // old one delivered says nothing about the new one's rows.
    let mut steps = vec![schedules::replace(id, &fields, Utc::now().timestamp())];
    if before.request != fields.request {
        steps.push(schedules::forget_increments(id));
    }
    state.store.transition(&steps).await?;
    get(state, member, id).await
}

/// Pauses or resumes; a resumed schedule runs at its next due time from now (the paused
/// time is not caught up).
pub async fn set_paused(state: &AppState, member: &Member, id: i64, paused: bool) -> Result<ScheduleView, AppError> {
    let s = schedule(state, member, id).await?;
    let now = Utc::now();
    let next = next_run(&s, now).map_err(|why| AppError::new(ErrorCode::Conflict, why))?;
    state
        .store
        .execute(&schedules::set_paused(id, paused, next.timestamp(), now.timestamp()))
        .await?;
    get(state, member, id).await
}

/// Starts a run at once (its due times stay as they are), unless one is still going.
pub async fn run_now(state: &AppState, member: &Member, id: i64) -> Result<ExportJob, AppError> {
    let s = schedule(state, member, id).await?;
    let job = prepare(
        &state.catalog,
        &s,
        member.user_id,
        member.role,
        state.settings.pipeline.max_attempts,
    )
    .map_err(|why| AppError::new(ErrorCode::Conflict, format!("This schedule cannot run: {why}")))?;
    let store = state.store.as_ref();
    let now = Utc::now().timestamp();
    let alongside = Alongside {
        fence: Some(schedules::fire(id, None, now)),
        then: vec![schedules::record_run(
            store,
            id,
            now,
            Some(job.id),
            "started",
            Some("Run now."),
            now,
        )],
    };
    match store.create_job(&job, ACTIVE_LIMIT, &alongside).await? {
        Created::Job(record) => {
            wake_workers(store, &state.wakeup).await;
            Ok(record.job)
        }
        Created::AtLimit => Err(too_many()),
        Created::Fenced => Err(AppError::new(
            ErrorCode::Conflict,
            "This schedule's previous run is still going; wait for it to finish, then run it again.",
        )),
    }
}

/// Deletes a schedule: it runs no more; its exports stay.
pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    schedule(state, member, id).await?;
    state
        .store
        .execute(&schedules::delete(id, Utc::now().timestamp()))
        .await?;
    Ok(())
}
