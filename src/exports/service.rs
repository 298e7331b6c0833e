//! What the UI's server functions and the JSON API do with exports, in one place:
//! validate and create, list, look up, cancel or delete, and mint download URLs. Every
//! check of who may do what is made here, through `accounts::roles`.

use super::{ACTIVE_LIMIT, ExportJob, NewExport};
use crate::accounts::Role;
use crate::accounts::roles::{ExportAction, may_act_on_export};
use crate::accounts::ssr::Member;
use crate::catalog::{Catalog, Dataset, Filters, filters};
use crate::error::{AppError, ErrorCode};
use crate::formats::Format;
use crate::server::AppState;
use crate::store::{Alongside, Created, NewJob, jobs};

/// The dataset, refused (403) when the role may not see it.
pub fn visible_dataset<'c>(
    catalog: &'c Catalog,
    id: &str,
    role: Role,
) -> Result<&'c std::sync::Arc<Dataset>, AppError> {
    let dataset = catalog.find(id).ok_or_else(|| {
        let known: Vec<&str> = catalog.visible_to(role).map(|d| d.id.as_str()).collect();
        AppError::invalid(
            "dataset",
            format!("unknown dataset `{id}` (one of: {})", known.join(", ")),
        )
    })?;
    if !role.may_see(dataset.role) {
        return Err(AppError::forbidden(format!(
            "{} can only be seen by the workspace's {}s and owners.",
            dataset.label,
            dataset.role.id()
        )));
    }
    Ok(dataset)
}

/// The chosen columns, checked: each a column of the dataset, none twice, at least one.
fn check_columns(dataset: &Dataset, columns: &[String]) -> Result<(), AppError> {
    if columns.is_empty() {
        return Err(AppError::invalid("columns", "choose at least one column"));
    }
    for (i, name) in columns.iter().enumerate() {
        if dataset.column(name).is_none() {
            let known: Vec<&str> = dataset.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(AppError::invalid(
                format!("columns.{i}"),
                format!(
                    "`{name}` is not a column of {} (its columns: {})",
                    dataset.id,
                    known.join(", ")
                ),
            ));
        }
        if columns[..i].contains(name) {
            return Err(AppError::invalid(
                format!("columns.{i}"),
                format!("`{name}` is chosen twice"),
            ));
        }
    }
    Ok(())
}

/// The format named `id`, checked with the byte order mark asked for (`bom`, named
/// `bom_field` in the error).
pub fn parse_format(id: &str, bom: bool, bom_field: &str) -> Result<Format, AppError> {
    let format = Format::parse(id).ok_or_else(|| {
        AppError::invalid(
            "format",
            format!(
                "unknown format `{id}` (one of: {})",
                Format::all().iter().map(|f| f.id()).collect::<Vec<_>>().join(", ")
            ),
        )
    })?;
    if bom && !format.bom {
        return Err(AppError::invalid(
            bom_field,
            format!(
                "only CSV files can start with a byte order mark, not {}",
                format.label()
            ),
        ));
    }
    Ok(format)
}

/// Checks a request completely before anything is written.
pub fn validate<'c>(
    catalog: &'c Catalog,
    request: &NewExport,
    role: Role,
) -> Result<(&'c std::sync::Arc<Dataset>, Format, Filters), AppError> {
    let dataset = visible_dataset(catalog, &request.dataset, role)?;
    let format = parse_format(&request.format, request.options.bom, "options.bom")?;
    if request.options.gzip && format.compressed {
        return Err(AppError::invalid(
            "options.gzip",
            format!("{} files are compressed already", format.label()),
        ));
    }
    let filters = filters::check(dataset, &request.filters)
        .map_err(|e| AppError::invalid(format!("filters.{}", e.param), e.message))?;
    if let Some(columns) = &request.columns {
        check_columns(dataset, columns)?;
    }
    Ok((dataset, format, filters))
}

/// The job a checked request makes, started by `user_id` in `workspace_id`.
pub fn new_job(
    workspace_id: i64,
    user_id: i64,
    checked: (&Dataset, Format, Filters),
    request: NewExport,
    max_attempts: i32,
) -> NewJob {
    let (dataset, format, filters) = checked;
    NewJob {
        id: uuid::Uuid::new_v4(),
        workspace_id,
        user_id,
        dataset: dataset.id.clone(),
        format,
        filters,
        columns: request.columns,
        options: request.options,
        max_attempts,
        increment_of: None,
    }
}

/// How long a single-use file stays after it was handed out: enough to use the 5-minute
/// presigned URL S3 hands out, then cleanup deletes it.
pub const SINGLE_USE_GRACE: chrono::Duration = chrono::Duration::minutes(10);

/// The answer when a workspace is at its limit of running exports.
pub fn too_many() -> AppError {
    AppError::new(
        ErrorCode::TooManyExports,
        format!(
            "This workspace already has {ACTIVE_LIMIT} exports running. Wait for one to finish or cancel one, then try again."
        ),
    )
}

/// Wakes this process's worker, and the others' (Postgres NOTIFY), for a new job.
pub async fn wake_workers(store: &dyn crate::store::Store, wakeup: &tokio::sync::Notify) {
    wakeup.notify_one();
    if let Err(e) = store.notify(crate::progress::JOBS_CHANNEL, "").await {
        tracing::debug!(error = %e, "could not wake other workers; they will poll");
    }
}

pub async fn create(state: &AppState, member: &Member, request: NewExport) -> Result<ExportJob, AppError> {
    let (dataset, format, filters) = validate(&state.catalog, &request, member.role)?;
    crate::destinations::rules::check_choice(state, member.workspace_id, &request.options).await?;
    // A workspace that reads nothing is told so now, not by a failed export.
    state.source.tenant(member.workspace_id, member.tenant_key.as_deref())?;
    let new = new_job(
        member.workspace_id,
        member.user_id,
        (dataset, format, filters),
        request,
        state.settings.pipeline.max_attempts,
    );
    insert(state, &new).await
}

/// Queues a checked job within the workspace's limit of running exports, and wakes the
/// workers.
pub async fn insert(state: &AppState, new: &NewJob) -> Result<ExportJob, AppError> {
    let record = match state.store.create_job(new, ACTIVE_LIMIT, &Alongside::default()).await? {
        Created::Job(record) => record,
        Created::AtLimit | Created::Fenced => return Err(too_many()),
    };
    wake_workers(state.store.as_ref(), &state.wakeup).await;
    Ok(record.job)
}

fn not_found() -> AppError {
    AppError::not_found("There is no such export in your workspaces.")
}

/// A job of a workspace the caller reaches (the current one or, for a session, another
/// of the person's: a link from an email works whichever workspace the session is in;
/// a token or a hand-off reaches no further than `Member::role_in` says), if their role there allows
/// `action`. A job elsewhere, or deleted, is "not found"; one they may not touch is 403.
pub async fn get(
    state: &AppState,
    member: &Member,
    id: &str,
    action: ExportAction,
) -> Result<jobs::JobRecord, AppError> {
    let id = uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
    let record = jobs::get(state.store.as_ref(), member.only_workspace(), id)
        .await?
        .filter(|r| !r.deleted)
        .ok_or_else(not_found)?;
    let role = member
        .role_in(state.store.as_ref(), record.workspace_id)
        .await?
        .ok_or_else(not_found)?;
    may_act_on_export(role, record.user_id == member.user_id, action).map_err(AppError::forbidden)?;
    if matches!(action, ExportAction::Download) {
        if !record.job.is_archive() {
            visible_dataset(&state.catalog, &record.job.dataset, role)?;
        } else if record.job.archive_subject().is_none() && !role.manages_all_exports() {
            return Err(AppError::forbidden(
                "An archive of the whole workspace can only be downloaded by its admins and owners.",
            ));
        }
    }
    Ok(record)
}

/// Checked paging: 400 naming the field, never an overflow.
pub fn paging(page: i64, per_page: i64) -> Result<(i64, i64), AppError> {
    if !(1..=1_000_000).contains(&page) {
        return Err(AppError::invalid("page", "must be a whole number from 1 to 1000000"));
    }
    if !(1..=100).contains(&per_page) {
        return Err(AppError::invalid("per_page", "must be a whole number from 1 to 100"));
    }
    Ok((page, per_page))
}

/// One page of the exports the caller may see: all of the workspace's for admins, their
/// own for members. Newest first, with how many there are.
pub async fn list(
    state: &AppState,
    member: &Member,
    page: i64,
    per_page: i64,
) -> Result<(Vec<ExportJob>, i64), AppError> {
    let (page, per_page) = paging(page, per_page)?;
    let only_user = (!member.role.manages_all_exports()).then_some(member.user_id);
    let offset = (page - 1) * per_page;
    let (records, total) = jobs::list(state.store.as_ref(), member.workspace_id, only_user, per_page, offset).await?;
    Ok((records.into_iter().map(|r| r.job).collect(), total))
}

/// Cancels a running export (answering the job as it is now), or deletes an ended one
/// (answering `None`): its file goes, the job is hidden, and its audit trail stays.
pub async fn cancel_or_delete(state: &AppState, member: &Member, id: &str) -> Result<Option<ExportJob>, AppError> {
    let peek = get(state, member, id, ExportAction::View).await?;
    let action = if peek.job.status.is_active() {
        ExportAction::Cancel
    } else {
        ExportAction::Delete
    };
    let record = get(state, member, id, action).await?;
    let store = state.store.as_ref();
    if record.job.status.is_active() {
        jobs::request_cancel(store, record.uuid, member.user_id).await?;
        let now = jobs::get(store, None, record.uuid).await?.ok_or_else(not_found)?;
        if now.job.status == super::JobStatus::Cancelled {
            state.hub.publish((&now.job).into());
        }
        return Ok(Some(now.job));
    }
    if let Some(key) = &record.object_key {
        state.storage.delete(key).await?;
    }
    if let (Some(key), Some(upload)) = (&record.object_key, &record.upload_id) {
        state.storage.abandon(key, upload).await?;
    }
    jobs::mark_deleted(store, record.uuid, member.user_id).await?;
    Ok(None)
}

/// A completed export's file for this user, recorded as a download: a redirect to a URL
/// that works for a few minutes (S3), or the bytes (local disk). `request` holds the
/// Range and conditional headers a resumed download sends.
pub async fn download(
    state: &AppState,
    member: &Member,
    id: &str,
    request: &axum::http::HeaderMap,
) -> Result<crate::storage::Handout, AppError> {
    let record = get(state, member, id, ExportAction::Download).await?;
    let job = &record.job;
    let expired = || {
        AppError::new(
            ErrorCode::Expired,
            "This export has expired and its file was deleted; run it again for a fresh file.",
        )
    };
    match job.status {
        super::JobStatus::Completed => {}
        super::JobStatus::Expired => return Err(expired()),
        other => {
            return Err(AppError::new(
                ErrorCode::NotReady,
                format!("This export has no file to download (it is {}).", other.id()),
            ));
        }
    }
    if job.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(expired());
    }
    let (Some(key), Some(name)) = (&record.object_key, &job.file_name) else {
        return Err(AppError::new(
            ErrorCode::NotReady,
            "This export has no file to download.",
        ));
    };
    if job.options.single_use {
        // The first to get here takes the file; it expires soon after.
        let once = jobs::hand_out_once(state.store.as_ref(), record.uuid, chrono::Utc::now(), SINGLE_USE_GRACE);
        if state.store.execute(&once).await? == 0 {
            return Err(AppError::new(
                ErrorCode::Expired,
                "This export's link was single-use and its file has been downloaded; run the export again for a new file.",
            ));
        }
    }
    let object = crate::storage::Download {
        key,
        file_name: name,
        content_type: record.content_type.as_deref().unwrap_or("application/octet-stream"),
    };
    let handout = match state.storage.hand_out(object, request).await {
        Err(crate::storage::StorageError::Missing) => return Err(expired()),
        other => other?,
    };
    jobs::add_event(
        state.store.as_ref(),
        record.uuid,
        "downloaded",
        Some(member.user_id),
        None,
    )
    .await?;
    Ok(handout)
}
