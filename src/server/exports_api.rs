//! Exports over HTTP: the JSON API, the progress stream (SSE), the download redirect,
//! and the signed `/files` route of the local disk storage.

use super::caller::Caller;
use super::{AppState, Shutdown};
use crate::accounts::api_tokens::Scope;
use crate::accounts::roles::ExportAction;
use crate::error::{AppError, JsonBody};
use crate::exports::service;
use crate::exports::{ExportJob, JobStatus, NewExport, Progress};
use crate::store::jobs;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/exports", get(list).post(create))
        .route("/api/archives", axum::routing::post(archive))
        .route("/api/exports/events", get(workspace_events))
        .route("/api/exports/{id}", get(show).delete(cancel_or_delete))
        .route("/api/exports/{id}/events", get(events))
        .route("/exports/{id}/download", get(download))
        .route("/api/datasets", get(datasets))
        .route("/api/openapi.json", get(super::openapi::document))
}

/// `GET /api/datasets`: the datasets the caller's role may see, with their columns and
/// filters (what `POST /api/exports` takes).
async fn datasets(State(state): State<AppState>, caller: Caller) -> Result<Json<crate::catalog::Catalog>, AppError> {
    let member = caller.may(Scope::ExportsRead)?;
    Ok(Json(crate::catalog::Catalog {
        datasets: state.catalog.visible_to(member.role).cloned().collect(),
    }))
}

/// `POST /api/archives`: 202 with the archive's export job.
async fn archive(State(state): State<AppState>, caller: Caller, body: JsonBody) -> Result<Response, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    let request: crate::exports::ArchiveRequest = body.parse()?;
    let job = crate::exports::archives::request(&state, member, request).await?;
    let location = format!("/api/exports/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)).into_response())
}

/// `POST /api/exports`: 202 with the new job. With an `Idempotency-Key`, a retried
/// request gets the job the first one made (200) instead of a second export.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: JsonBody,
) -> Result<Response, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    let request: NewExport = body.parse()?;
    let key = super::idempotency::key(&headers)?;
    let job = match key {
        None => service::create(&state, member, request).await?,
        Some(key) => match super::idempotency::create_once(&state, member, &key, request).await? {
            super::idempotency::Outcome::Made(job) => job,
            super::idempotency::Outcome::Again(job) => return Ok((StatusCode::OK, Json(job)).into_response()),
        },
    };
    let location = format!("/api/exports/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)).into_response())
}

/// A paging value of the query string; a bad one names its field.
fn number(field: &str, value: Option<&str>, default: i64) -> Result<i64, AppError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| AppError::invalid(field, format!("`{v}` is not a whole number"))),
    }
}

/// `GET /api/exports?page=1&per_page=20`: newest first.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<serde_json::Value>, AppError> {
    let member = caller.may(Scope::ExportsRead)?;
    if let Some((unknown, _)) = query.iter().find(|(k, _)| k != "page" && k != "per_page") {
        return Err(AppError::invalid(
            unknown.clone(),
            "unknown query parameter (page and per_page are known)",
        ));
    }
    let get = |k: &str| query.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let page = number("page", get("page"), 1)?;
    let per_page = number("per_page", get("per_page"), 20)?;
    let (exports, total) = service::list(&state, member, page, per_page).await?;
    Ok(Json(
        json!({ "exports": exports, "total": total, "page": page, "per_page": per_page }),
    ))
}

/// `GET /api/exports/{id}`.
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ExportJob>, AppError> {
    let member = caller.may(Scope::ExportsRead)?;
    Ok(Json(service::get(&state, member, &id, ExportAction::View).await?.job))
}

/// `DELETE /api/exports/{id}`: cancels a running export (200 with the job) or deletes an
/// ended one and its file (204).
async fn cancel_or_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
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

/// Sent before a stream ends because the session may no longer see it.
fn ended_event() -> Event {
    Event::default().event("end").data("signed_out")
}

/// The stream of `rx`'s events, which ends when the node closes (its clients reconnect,
/// to another node).
fn sse(rx: tokio::sync::mpsc::Receiver<Result<Event, Infallible>>, shutdown: &Shutdown) -> Response {
    use futures::StreamExt;
    let events = tokio_stream::wrappers::ReceiverStream::new(rx).take_until(shutdown.closing.clone().cancelled_owned());
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // nginx buffers proxied responses by default, which would hold progress back until a
    // buffer fills; this header turns that off for the stream alone, whatever its config.
    response
        .headers_mut()
        .insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    response
}

/// What a draining node answers a new progress stream: an empty stream that asks the
/// client to reconnect in a second, by when the load balancer sends it to another node.
/// (A browser's EventSource gives up on an error status, so this is not a 503.)
fn elsewhere(shutdown: &Shutdown) -> Option<Response> {
    let reconnect = Event::default().retry(Duration::from_secs(1)).comment("draining");
    shutdown
        .draining
        .is_cancelled()
        .then(|| Sse::new(futures::stream::once(async move { Ok::<_, Infallible>(reconnect) })).into_response())
}

/// Whether `next` should replace `last` on the stream: a change, and not an older count
/// of the same run (a re-read and a notification can cross).
fn is_news(last: &Progress, next: &Progress) -> bool {
    next != last
        && !(next.status == JobStatus::Processing
            && last.status == JobStatus::Processing
            && next.processed_rows < last.processed_rows)
}

/// `GET /api/exports/{id}/events`: the job's state now, then every change, ending after
/// a terminal state. A reconnect starts again from the database.
async fn events(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, AppError> {
    let member = caller.may(Scope::ExportsRead)?;
    let record = service::get(&state, member, &id, ExportAction::View).await?;
    if let Some(elsewhere) = elsewhere(&state.shutdown) {
        return Ok(elsewhere);
    }
    let role = member.role_in(state.store.as_ref(), record.workspace_id).await?;
    let mut ticket = state.streams.open(
        caller.holder,
        member.user_id,
        record.workspace_id,
        role.unwrap_or(member.role),
    )?;
    // Listening before reading the state, so nothing published in between is missed.
    let mut updates = state.hub.subscribe();
    let mut rereads = state.streams.job(record.uuid);
    let own = record.user_id == member.user_id;
    let first = jobs::get(state.store.as_ref(), None, record.uuid)
        .await?
        .map_or_else(|| Progress::from(&record.job), |r| Progress::from(&r.job));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(async move {
        let mut last = first;
        if tx.send(Ok(progress_event(&last))).await.is_err() || last.status.is_terminal() {
            return;
        }
        let mut rereading = true;
        loop {
            let next = tokio::select! {
                update = updates.recv() => match update {
                    Ok(p) if p.id == last.id => Some(p),
                    Ok(_) | Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return,
                },
                changed = rereads.changed(), if rereading => match changed {
                    Ok(()) => rereads.borrow_and_update().clone(),
                    Err(_) => { rereading = false; None }
                },
                allowed = ticket.role.changed() => {
                    // Gone, or demoted below what following this export takes.
                    let role = *ticket.role.borrow();
                    let may = role.is_some_and(|r| crate::accounts::roles::may_act_on_export(r, own, ExportAction::View).is_ok());
                    if allowed.is_err() || !may {
                        let _ = tx.send(Ok(ended_event())).await;
                        return;
                    }
                    None
                },
                _ = tx.closed() => return,
            };
            if let Some(progress) = next
                && is_news(&last, &progress)
            {
                last = progress;
                if tx.send(Ok(progress_event(&last))).await.is_err() || last.status.is_terminal() {
                    return;
                }
            }
        }
    });
    Ok(sse(rx, &state.shutdown))
}

/// `GET /api/exports/events`: every progress update of the caller's workspace that they
/// may see (members: their own exports), for the "your export is ready" notices in other
/// tabs. A change of the caller's role is sent as a `role` event, from when the stream
/// carries what the new role sees. Runs until the client goes or the session ends.
async fn workspace_events(State(state): State<AppState>, caller: Caller) -> Result<Response, AppError> {
    let member = caller.may(Scope::ExportsRead)?.clone();
    if let Some(elsewhere) = elsewhere(&state.shutdown) {
        return Ok(elsewhere);
    }
    let mut ticket = state
        .streams
        .open(caller.holder, member.user_id, member.workspace_id, member.role)?;
    let mut updates = state.hub.subscribe();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    // Re-read at each access check: an admin demoted to member stops seeing others' exports.
    let mut sees_all = member.role.manages_all_exports();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                update = updates.recv() => match update {
                    Ok(p) if p.workspace_id == member.workspace_id && (sees_all || p.user_id == member.user_id) => {
                        if tx.send(Ok(progress_event(&p))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                allowed = ticket.role.changed() => {
                    // No more checks (their task is gone) ends the stream too.
                    let role = *ticket.role.borrow();
                    match role {
                        Some(role) if allowed.is_ok() => {
                            sees_all = role.manages_all_exports();
                            // Said on the stream, so a page (or a test) knows from when.
                            if tx.send(Ok(Event::default().event("role").data(role.id()))).await.is_err() {
                                return;
                            }
                        }
                        _ => {
                            let _ = tx.send(Ok(ended_event())).await;
                            return;
                        }
                    }
                },
                _ = tx.closed() => return,
            }
        }
    });
    Ok(sse(rx, &state.shutdown))
}

/// A page for a person (a refused download or sign-in link, or a question about one), in
/// the app's style, with the request's id to quote to whoever runs Egress. `form` is
/// markup the caller built with every value escaped.
pub(super) fn page(status: StatusCode, title: &str, message: &str, form: Option<&str>) -> Response {
    let (title, message) = (crate::text::html_escape(title), crate::text::html_escape(message));
    let id = crate::text::html_escape(&crate::error::request_id());
    let form = form.unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · Egress</title>\
         <link rel=\"stylesheet\" href=\"/pkg/egress.css\"></head><body><main><section class=\"narrow\">\
         <h1>{title}</h1><p>{message}</p>{form}<p><a href=\"/\">Back to your data</a></p>\
         <p class=\"hint\">Request id <code>{id}</code></p></section></main></body></html>"
    );
    (status, Html(html)).into_response()
}

/// `GET /exports/{id}/download`: checks who asks, records the download, and hands the
/// file over as storage does it (a redirect to a URL that works for a few minutes, or the
/// bytes). A person gets a page, not JSON.
async fn download(
    State(state): State<AppState>,
    caller: Result<Caller, AppError>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Response {
    let caller = match caller {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    let member = match caller.may(Scope::ExportsRead) {
        Ok(member) => member,
        Err(e) => return e.into_response(),
    };
    use crate::error::ErrorCode;
    match service::download(&state, member, &id, &headers).await {
        Ok(crate::storage::Handout::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(crate::storage::Handout::Response(response)) => response,
        Err(e) => {
            let title = match e.code {
                ErrorCode::Expired => "This export has expired",
                ErrorCode::NotFound => "Export not found",
                ErrorCode::NotReady => "Not ready yet",
                ErrorCode::Forbidden => "Not yours to download",
                _ => "The download failed",
            };
            page(e.status(), title, &e.message, None)
        }
    }
}
