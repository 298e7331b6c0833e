//! Requests for "all my data" archives (`worker::archive` writes them): checked, then made
//! an export job like any other — the same limit of running exports, progress, email,
//! webhooks, retention and download checks.

use super::{ARCHIVE, ArchiveRequest, ArchiveScope, ExportJob};
use crate::accounts::ssr::Member;
use crate::catalog::{FilterValues, Filters, filters};
use crate::error::AppError;
use crate::server::AppState;
use crate::store::NewJob;

pub async fn request(state: &AppState, member: &Member, request: ArchiveRequest) -> Result<ExportJob, AppError> {
    let format = super::service::parse_format(&request.format, request.bom, "bom")?;
    let mut values = FilterValues::new();
    match request.scope {
        ArchiveScope::Workspace if !member.role.manages_all_exports() => {
            return Err(AppError::forbidden(
                "Only the workspace's admins and owners can archive the whole workspace; ask for your own data instead.",
            ));
        }
        ArchiveScope::Workspace => {}
        ArchiveScope::Me => {
            let user = state
                .store
                .user_by_id(member.user_id)
                .await?
                .ok_or_else(AppError::unauthorized)?;
            values.insert(filters::SUBJECT.to_owned(), user.email);
        }
    }
    let subject = values.get(filters::SUBJECT).map(String::as_str);
    if crate::worker::archive::parts(&state.catalog, member.role, subject, format).is_empty() {
        return Err(AppError::invalid(
            "scope",
            "no dataset here holds records of a person (none declares a subject column)",
        ));
    }
    state.source.tenant(member.workspace_id, member.tenant_key.as_deref())?;
    let new = NewJob {
        id: uuid::Uuid::new_v4(),
        workspace_id: member.workspace_id,
        user_id: member.user_id,
        dataset: ARCHIVE.to_owned(),
        format,
        filters: Filters(values),
        columns: None,
        options: super::ExportOptions {
            bom: request.bom,
            ..Default::default()
        },
        max_attempts: state.settings.pipeline.max_attempts,
        increment_of: None,
    };
    super::service::insert(state, &new).await
}
