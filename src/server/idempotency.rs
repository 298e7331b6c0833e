//! `Idempotency-Key` on `POST /api/exports`: a client that retries after a timeout or
//! a dropped connection gets the export its first request made, not a second one.
//!
//! A key belongs to the user who sent it (two people in a workspace cannot collide) and
//! is kept for a day. The same key with a different body is refused (409), as is a
//! retry while the first request is still being handled.

use super::AppState;
use crate::accounts::roles::ExportAction;
use crate::accounts::ssr::Member;
use crate::error::{AppError, ErrorCode};
use crate::exports::{ExportJob, NewExport, service};
use crate::store::IdempotencyClaim;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "Idempotency-Key";

/// The request's key, if it sent one: 1–255 printable ASCII characters.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let bad = || {
        AppError::invalid(
            HEADER,
            "must be 1 to 255 printable ASCII characters (a UUID is a good key)",
        )
    };
    let text = value.to_str().map_err(|_| bad())?;
    if text.is_empty() || text.len() > 255 || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(text.to_owned()))
}

pub enum Outcome {
    /// This request made the export.
    Made(ExportJob),
    /// An earlier request with the same key and body made it.
    Again(ExportJob),
}

/// Makes the export once per key: the first request creates it, a repeat gets it back.
pub async fn create_once(
    state: &AppState,
    member: &Member,
    key: &str,
    request: NewExport,
) -> Result<Outcome, AppError> {
    // The struct's serialisation is canonical (fields in declaration order, filters in a
    // BTreeMap), so equal requests hash equally however the client ordered its JSON.
    let body = serde_json::to_vec(&request).map_err(AppError::internal)?;
    let hash = hex::encode(Sha256::digest(body));
    let scoped = format!("{}:{key}", member.user_id);
    let now = chrono::Utc::now().timestamp();
    let store = state.store.as_ref();
    match store
        .claim_idempotency_key(member.workspace_id, &scoped, &hash, now)
        .await?
    {
        IdempotencyClaim::Claimed => match service::create(state, member, request).await {
            Ok(job) => {
                store
                    .settle_idempotency_key(member.workspace_id, &scoped, Some(&job.id))
                    .await?;
                Ok(Outcome::Made(job))
            }
            Err(e) => {
                // A refused request made nothing: the key is free for a corrected retry.
                if let Err(release) = store.settle_idempotency_key(member.workspace_id, &scoped, None).await {
                    tracing::warn!(error = %release, "idempotency key not released; it expires in a minute");
                }
                Err(e)
            }
        },
        IdempotencyClaim::Taken { request_hash, .. } if request_hash != hash => Err(AppError::new(
            ErrorCode::Conflict,
            "This Idempotency-Key was already used for a different request. Use a new key for a new export.",
        )),
        IdempotencyClaim::Taken { job_id: None, .. } => Err(AppError::new(
            ErrorCode::Conflict,
            "A request with this Idempotency-Key is still being handled. Try again in a moment.",
        )),
        IdempotencyClaim::Taken { job_id: Some(id), .. } => {
            let record = service::get(state, member, &id, ExportAction::View).await?;
            Ok(Outcome::Again(record.job))
        }
    }
}
