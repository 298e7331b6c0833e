//! Exports: what a user asks for, the job that runs it, and the states it goes through.
//!
//! pending → processing → completed → expired; processing → pending again (retry with
//! backoff) while attempts remain, else failed; pending/processing → cancelled.

mod archive_panel;
#[cfg(feature = "ssr")]
pub mod archives;
mod dialog;
mod page;
#[cfg(feature = "ssr")]
pub mod service;
mod toasts;

pub use dialog::ExportDialog;
pub use page::ExportsPage;
pub use toasts::{ExportToasts, FollowedExports};

use crate::catalog::FilterValues;
use crate::error::AppError;
use crate::formats::Format;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Pending,
    Processing,
    Completed,
    Failed,
    Cancelled,
    Expired,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Pending,
        JobStatus::Processing,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Expired,
    ];

    pub fn id(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Processing => "processing",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|status| status.id() == s)
    }

    /// Counts against the workspace's limit of running exports.
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Processing)
    }

    /// Nothing more will happen to the job (but a completed one can still expire).
    pub fn is_terminal(self) -> bool {
        !self.is_active()
    }
}

/// Options that change the file but not its rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportOptions {
    /// Compress the file with gzip (`.gz` is added to its name).
    #[serde(default)]
    pub gzip: bool,
    /// Start a CSV file with a UTF-8 byte order mark, for Excel.
    #[serde(default)]
    pub bom: bool,
    /// The file can be downloaded once; then it is deleted.
    #[serde(default)]
    pub single_use: bool,
    /// Deliver the file to this destination of the workspace (its own S3 bucket), with a
    /// manifest beside it.
    #[serde(default)]
    pub deliver_to: Option<i64>,
    /// With `deliver_to`: keep no copy in Egress once the file is delivered.
    #[serde(default)]
    pub delivery_only: bool,
}

/// A request to export, as the API and the dialog send it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExport {
    pub dataset: String,
    pub format: String,
    /// The dataset's filter parameters (`created_from`, `status`, …), as text.
    #[serde(default)]
    pub filters: FilterValues,
    /// The columns to include, in order (default: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    #[serde(default)]
    pub options: ExportOptions,
}

/// An export job as users and integrations see it. There is no download URL here: one is
/// minted per click by `/exports/{id}/download`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportJob {
    pub id: String,
    pub workspace_id: i64,
    pub dataset: String,
    pub format: Format,
    pub filters: crate::catalog::Filters,
    /// The columns in the file, in order (`None`: all).
    pub columns: Option<Vec<String>>,
    pub options: ExportOptions,
    pub status: JobStatus,
    pub total_rows: Option<i64>,
    pub processed_rows: i64,
    pub bytes: Option<i64>,
    pub file_name: Option<String>,
    pub error: Option<String>,
    pub created_by: String,
    /// The user who started the export.
    pub created_by_id: i64,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Text cells cut to the format's limit (XLSX: 32,767 characters); 0 for most files.
    #[serde(default)]
    pub shortened_cells: i64,
}

/// The `dataset` of an "all my data" archive: one zip of every dataset the requester may
/// see (`worker::archive`). Catalog ids cannot start with `@`.
pub const ARCHIVE: &str = "@archive";

/// Whose data an archive holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveScope {
    /// Every dataset of the workspace the requester may see (admins and owners).
    Workspace,
    /// The requester's own records: the datasets that declare a subject column, only
    /// the rows about them.
    Me,
}

/// A request for an "all my data" archive, as the API and the exports page send it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveRequest {
    pub scope: ArchiveScope,
    /// The format of each dataset's file in the zip.
    pub format: String,
    /// CSV files start with a UTF-8 byte order mark (for Excel).
    #[serde(default)]
    pub bom: bool,
}

/// The label of an export's dataset for people: the catalog's, or what an archive holds.
pub fn dataset_label(catalog: &crate::catalog::Catalog, job_dataset: &str, personal: bool) -> String {
    if job_dataset == ARCHIVE {
        return if personal {
            "All my data"
        } else {
            "All the workspace's data"
        }
        .to_owned();
    }
    catalog
        .find(job_dataset)
        .map_or_else(|| job_dataset.to_owned(), |d| d.label.clone())
}

impl ExportJob {
    pub fn is_archive(&self) -> bool {
        self.dataset == ARCHIVE
    }

    /// For a personal archive: the email whose records it holds.
    pub fn archive_subject(&self) -> Option<&str> {
        self.filters.get(crate::catalog::filters::SUBJECT)
    }

    /// The request that would run this export again.
    pub fn as_request(&self) -> NewExport {
        NewExport {
            dataset: self.dataset.clone(),
            format: self.format.id().to_owned(),
            filters: self.filters.0.clone(),
            columns: self.columns.clone(),
            options: self.options,
        }
    }
}

/// What the progress stream sends: the job's state at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub id: String,
    pub workspace_id: i64,
    /// Who started the export (members hear only of their own).
    pub user_id: i64,
    pub dataset: String,
    pub status: JobStatus,
    pub processed_rows: i64,
    pub total_rows: Option<i64>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
}

impl From<&ExportJob> for Progress {
    fn from(job: &ExportJob) -> Self {
        Progress {
            id: job.id.clone(),
            workspace_id: job.workspace_id,
            user_id: job.created_by_id,
            dataset: job.dataset.clone(),
            status: job.status,
            processed_rows: job.processed_rows,
            total_rows: job.total_rows,
            bytes: job.bytes,
            error: job.error.clone(),
        }
    }
}

/// At most this many pending or processing exports per workspace.
pub const ACTIVE_LIMIT: i64 = 3;

// --- Server functions for the UI (the JSON API in server/exports_api.rs does the same). --

#[cfg(feature = "ssr")]
async fn caller() -> Result<(crate::server::AppState, crate::accounts::ssr::Member), AppError> {
    let member = crate::accounts::ssr::require_member().await?;
    Ok((crate::accounts::ssr::state(), member))
}

/// Starts an "all my data" archive.
#[leptos::server(prefix = "/rpc", endpoint = "request_archive", input = leptos::server_fn::codec::Json)]
pub async fn request_archive(request: ArchiveRequest) -> Result<ExportJob, AppError> {
    crate::error::server_fn(async move {
        let (state, member) = caller().await?;
        archives::request(&state, &member, request).await
    })
    .await
}

/// Starts an export; a bad field comes back with `field` set.
#[leptos::server(prefix = "/rpc", endpoint = "create_export", input = leptos::server_fn::codec::Json)]
pub async fn create_export(request: NewExport) -> Result<ExportJob, AppError> {
    crate::error::server_fn(async move {
        let (state, member) = caller().await?;
        service::create(&state, &member, request).await
    })
    .await
}

/// One page of the exports the caller may see, newest first, and how many there are.
#[leptos::server(prefix = "/rpc", endpoint = "list_exports")]
pub async fn list_exports(page: i64) -> Result<(Vec<ExportJob>, i64), AppError> {
    crate::error::server_fn(async move {
        let (state, member) = caller().await?;
        service::list(&state, &member, page, 20).await
    })
    .await
}

/// Cancels a running export (returning it) or deletes an ended one (returning nothing).
#[leptos::server(prefix = "/rpc", endpoint = "cancel_export")]
pub async fn cancel_export(id: String) -> Result<Option<ExportJob>, AppError> {
    crate::error::server_fn(async move {
        let (state, member) = caller().await?;
        service::cancel_or_delete(&state, &member, &id).await
    })
    .await
}

/// One export of the caller's workspaces.
#[leptos::server(prefix = "/rpc", endpoint = "get_export")]
pub async fn get_export(id: String) -> Result<ExportJob, AppError> {
    crate::error::server_fn(async move {
        let (state, member) = caller().await?;
        Ok(
            service::get(&state, &member, &id, crate::accounts::roles::ExportAction::View)
                .await?
                .job,
        )
    })
    .await
}
