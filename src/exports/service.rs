//! What the UI's server functions and the JSON API do with exports, in one place:
//! validate and create, list, look up, cancel or delete, and mint download URLs.

use super::{ACTIVE_LIMIT, ExportJob, NewExport};
use crate::accounts::ssr::Member;
use crate::datasets::{self, Filters};
use crate::formats::Format;
use crate::server::AppState;
use crate::storage::StorageError;
use crate::store::{NewJob, StoreError, jobs};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error(
        "This workspace already has {ACTIVE_LIMIT} exports running. Wait for one to finish or cancel one, then try again."
    )]
    TooMany,
    #[error("export not found")]
    NotFound,
    #[error("this export has expired and its file was deleted; run it again for a fresh file")]
    Expired,
    #[error("this export has no file to download (it is {0})")]
    NotReady(&'static str),
    #[error("database error: {0}")]
    Store(#[from] StoreError),
    #[error("storage error: {0}")]
    Storage(#[from] StorageError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ExportError {
    ExportError::Invalid {
        field,
        message: message.into(),
    }
}

/// Checks a request completely before anything is written.
pub fn validate(request: &NewExport) -> Result<(&'static datasets::Dataset, Format, Filters), ExportError> {
    let dataset = datasets::find(&request.dataset).ok_or_else(|| {
        let known: Vec<&str> = datasets::CATALOG.iter().map(|d| d.id).collect();
        invalid(
            "dataset",
            format!("unknown dataset `{}` (one of: {})", request.dataset, known.join(", ")),
        )
    })?;
    let format = Format::parse(&request.format).ok_or_else(|| {
        invalid(
            "format",
            format!("unknown format `{}` (one of: csv, json, ndjson, xlsx)", request.format),
        )
    })?;
    if request.options.bom && format != Format::Csv {
        return Err(invalid(
            "options.bom",
            "only CSV files can start with a byte order mark",
        ));
    }
    let filters = Filters::parse(dataset, &request.filters.as_query()).map_err(|e| ExportError::Invalid {
        field: e.field,
        message: e.message,
    })?;
    Ok((dataset, format, filters))
}

pub async fn create(state: &AppState, member: Member, request: NewExport) -> Result<ExportJob, ExportError> {
    let (dataset, format, filters) = validate(&request)?;
    let new = NewJob {
        id: uuid::Uuid::new_v4(),
        workspace_id: member.workspace_id,
        user_id: member.user_id,
        dataset: dataset.id.to_owned(),
        format,
        filters,
        options: request.options,
        max_attempts: state.settings.pipeline.max_attempts,
    };
    let record = state
        .store
        .create_job(&new, ACTIVE_LIMIT)
        .await?
        .ok_or(ExportError::TooMany)?;
    jobs::add_event(state.store.as_ref(), new.id, "created", Some(member.user_id), None).await?;
    state.wakeup.notify_one();
    if let Err(e) = state.store.notify(crate::progress::JOBS_CHANNEL, "").await {
        tracing::debug!(error = %e, "could not wake other workers; they will poll");
    }
    Ok(record.job)
}

fn parse_id(id: &str) -> Result<uuid::Uuid, ExportError> {
    uuid::Uuid::parse_str(id).map_err(|_| ExportError::NotFound)
}

/// A job of the caller's workspace; another workspace's job is "not found".
pub async fn get(state: &AppState, member: Member, id: &str) -> Result<jobs::JobRecord, ExportError> {
    jobs::get(state.store.as_ref(), Some(member.workspace_id), parse_id(id)?)
        .await?
        .ok_or(ExportError::NotFound)
}

pub async fn list(
    state: &AppState,
    member: Member,
    page: i64,
    per_page: i64,
) -> Result<(Vec<ExportJob>, i64), ExportError> {
    let per_page = per_page.clamp(1, 100);
    let offset = (page.max(1) - 1) * per_page;
    let (records, total) = jobs::list(state.store.as_ref(), member.workspace_id, per_page, offset).await?;
    Ok((records.into_iter().map(|r| r.job).collect(), total))
}

/// Cancels a running export (answering the job as it is now), or deletes an ended one
/// and its file (answering `None`).
pub async fn cancel_or_delete(state: &AppState, member: Member, id: &str) -> Result<Option<ExportJob>, ExportError> {
    let record = get(state, member, id).await?;
    let store = state.store.as_ref();
    if record.job.status.is_active() {
        jobs::request_cancel(store, record.uuid).await?;
        jobs::add_event(store, record.uuid, "cancel_requested", Some(member.user_id), None).await?;
        let now = get(state, member, id).await?;
        if now.job.status == super::JobStatus::Cancelled {
            jobs::add_event(store, record.uuid, "cancelled", Some(member.user_id), None).await?;
            state.hub.publish((&now.job).into());
        }
        return Ok(Some(now.job));
    }
    if let Some(key) = &record.object_key {
        state.storage.delete(key).await?;
    }
    if let (Some(key), Some(upload)) = (&record.object_key, &record.upload_id) {
        state.storage.abort_upload(key, upload).await?;
    }
    jobs::delete(store, record.uuid).await?;
    Ok(None)
}

/// How long a minted download URL works.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(300);

/// A fresh signed URL for a completed export, recorded as a download by this user.
pub async fn download_url(state: &AppState, member: Member, id: &str) -> Result<String, ExportError> {
    let record = get(state, member, id).await?;
    let job = &record.job;
    match job.status {
        super::JobStatus::Completed => {}
        super::JobStatus::Expired => return Err(ExportError::Expired),
        other => return Err(ExportError::NotReady(other.id())),
    }
    if job.expires_at.is_some_and(|at| at <= chrono::Utc::now()) {
        return Err(ExportError::Expired);
    }
    let (Some(key), Some(name)) = (&record.object_key, &job.file_name) else {
        return Err(ExportError::NotReady("missing its file"));
    };
    let content_type = record.content_type.as_deref().unwrap_or("application/octet-stream");
    let url = state
        .storage
        .signed_url(key, name, content_type, DOWNLOAD_URL_TTL)
        .await?;
    jobs::add_event(
        state.store.as_ref(),
        record.uuid,
        "downloaded",
        Some(member.user_id),
        None,
    )
    .await?;
    Ok(url)
}
