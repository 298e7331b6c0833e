//! Exports over HTTP: the JSON API, the progress stream (SSE), the download redirect,
//! and the signed `/files` route of the local disk storage.

use super::AppState;
use super::api::ApiError;
use crate::accounts::ssr::{Member, member_of_session};
use crate::exports::service::{self, ExportError};
use crate::exports::{ExportJob, NewExport, Progress};
use crate::store::jobs;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/exports", get(list).post(create))
        .route("/api/exports/events", get(workspace_events))
        .route("/api/exports/{id}", get(show).delete(cancel_or_delete))
        .route("/api/exports/{id}/events", get(events))
        .route("/exports/{id}/download", get(download))
        .route("/files/{*key}", get(files))
        .route("/api/openapi.json", get(super::openapi::document))
}

impl From<ExportError> for ApiError {
    fn from(e: ExportError) -> Self {
        match e {
            ExportError::Invalid { field, message } => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid",
                message: format!("{field}: {message}"),
                field: Some(field),
            },
            ExportError::TooMany => ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_exports", e.to_string()),
            ExportError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            ExportError::Expired => ApiError::new(StatusCode::GONE, "expired", e.to_string()),
            ExportError::NotReady(_) => ApiError::new(StatusCode::CONFLICT, "not_ready", e.to_string()),
            ExportError::Store(_) | ExportError::Storage(_) => ApiError::internal(e),
        }
    }
}

async fn member(state: &AppState, session: &Session) -> Result<Member, ApiError> {
    match member_of_session(state, session).await? {
        Some((member, _)) => Ok(member),
        None => Err(ApiError::unauthorized()),
    }
}

/// `POST /api/exports`: 202 with the new job.
async fn create(
    State(state): State<AppState>,
    session: Session,
    body: Result<Json<NewExport>, JsonRejection>,
) -> Result<Response, ApiError> {
    let member = member(&state, &session).await?;
    let Json(request) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.body_text()))?;
    let job = service::create(&state, member, request).await?;
    let location = format!("/api/exports/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Paging {
    #[serde(default = "first_page")]
    page: i64,
    #[serde(default = "default_per_page")]
    per_page: i64,
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    20
}

/// `GET /api/exports?page=1&per_page=20`: newest first.
async fn list(
    State(state): State<AppState>,
    session: Session,
    paging: Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let member = member(&state, &session).await?;
    let Query(paging) = paging.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.body_text()))?;
    let (exports, total) = service::list(&state, member, paging.page, paging.per_page).await?;
    Ok(Json(
        json!({ "exports": exports, "total": total, "page": paging.page.max(1), "per_page": paging.per_page.clamp(1, 100) }),
    ))
}

/// `GET /api/exports/{id}`.
async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<ExportJob>, ApiError> {
    let member = member(&state, &session).await?;
    Ok(Json(service::get(&state, member, &id).await?.job))
}

/// `DELETE /api/exports/{id}`: cancels a running export (200 with the job) or deletes an
/// ended one and its file (204).
async fn cancel_or_delete(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let member = member(&state, &session).await?;
    Ok(match service::cancel_or_delete(&state, member, &id).await? {
        Some(job) => Json(job).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

fn progress_event(progress: &Progress) -> Event {
    Event::default()
        .event("progress")
        .json_data(progress)
        .unwrap_or_else(|_| Event::default().comment("unserialisable"))
}

/// How often the stream re-reads the job, for progress made on other nodes.
const POLL: Duration = Duration::from_secs(2);

/// `GET /api/exports/{id}/events`: the job's state now, then every change, ending after
/// a terminal state. A reconnect starts again from the database.
async fn events(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Result<Response, ApiError> {
    let member = member(&state, &session).await?;
    let record = service::get(&state, member, &id).await?;
    let mut updates = state.hub.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        let mut last = Progress::from(&record.job);
        if tx.send(Ok(progress_event(&last))).await.is_err() || last.status.is_terminal() {
            return;
        }
        let mut poll = tokio::time::interval(POLL);
        loop {
            let next = tokio::select! {
                update = updates.recv() => match update {
                    Ok(p) if p.id == last.id => Some(p),
                    Ok(_) => None,
                    Err(RecvError::Lagged(_)) => reread(&state, record.uuid).await,
                    Err(RecvError::Closed) => return,
                },
                _ = poll.tick() => reread(&state, record.uuid).await,
                _ = tx.closed() => return,
            };
            if let Some(progress) = next
                && progress != last
            {
                last = progress;
                if tx.send(Ok(progress_event(&last))).await.is_err() || last.status.is_terminal() {
                    return;
                }
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// `GET /api/exports/events`: every progress update of the caller's workspace, for the
/// "your export is ready" notices in other tabs. Runs until the client goes.
async fn workspace_events(State(state): State<AppState>, session: Session) -> Result<Response, ApiError> {
    let member = member(&state, &session).await?;
    let mut updates = state.hub.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                update = updates.recv() => match update {
                    Ok(p) if p.workspace_id == member.workspace_id => {
                        if tx.send(Ok(progress_event(&p))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

async fn reread(state: &AppState, id: uuid::Uuid) -> Option<Progress> {
    jobs::get(state.store.as_ref(), None, id)
        .await
        .ok()
        .flatten()
        .map(|r| Progress::from(&r.job))
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Egress</title>\
         <link rel=\"stylesheet\" href=\"/pkg/egress.css\"></head><body><main><section class=\"narrow\">\
         <h1>{title}</h1><p>{message}</p><p><a href=\"/\">Back to your data</a></p></section></main></body></html>"
    );
    (status, Html(html)).into_response()
}

/// `GET /exports/{id}/download`: checks who asks, records the download, and redirects to
/// a freshly signed URL that works for a few minutes.
async fn download(State(state): State<AppState>, session: Session, Path(id): Path<String>) -> Response {
    let member = match member(&state, &session).await {
        Ok(m) => m,
        Err(e) => return e.into_response(),
    };
    match service::download_url(&state, member, &id).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(ExportError::Expired) => page(
            StatusCode::GONE,
            "This export has expired",
            "Its file was deleted when the export expired. Run the export again to get a fresh file.",
        ),
        Err(ExportError::NotFound) => page(
            StatusCode::NOT_FOUND,
            "Export not found",
            "There is no such export in this workspace.",
        ),
        Err(e @ ExportError::NotReady(_)) => page(StatusCode::CONFLICT, "Not ready yet", &e.to_string()),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /files/{*key}`: local-disk objects behind a signed URL.
async fn files(
    State(state): State<AppState>,
    key: Path<String>,
    query: Query<crate::storage::local::SignedQuery>,
    request: Request,
) -> Response {
    match &state.local_files {
        Some(local) => crate::storage::serve_signed_file(local, key, query, request).await,
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
