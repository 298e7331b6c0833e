//! Schedules over the JSON API: reading them takes the `exports:read` scope, changing or
//! running them `exports:write`; the rules are the schedules page's (`schedules::rules`).

use super::AppState;
use super::caller::Caller;
use crate::accounts::api_tokens::Scope;
use crate::error::{AppError, JsonBody};
use crate::exports::ExportJob;
use crate::schedules::{ScheduleRequest, ScheduleView, rules};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/schedules", get(list).post(create))
        .route("/api/schedules/{id}", get(show).put(replace).delete(delete))
        .route("/api/schedules/{id}/pause", post(pause))
        .route("/api/schedules/{id}/resume", post(resume))
        .route("/api/schedules/{id}/run", post(run))
}

/// A schedule id in the path; a bad one names itself.
fn schedule_id(raw: &str) -> Result<i64, AppError> {
    raw.parse()
        .map_err(|_| AppError::invalid("id", format!("`{raw}` is not a schedule id")))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<ScheduleView>>, AppError> {
    Ok(Json(rules::list(&state, caller.may(Scope::ExportsRead)?).await?))
}

async fn create(State(state): State<AppState>, caller: Caller, body: JsonBody) -> Result<Response, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    let request: ScheduleRequest = body.parse()?;
    let view = rules::create(&state, member, request).await?;
    let location = format!("/api/schedules/{}", view.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view)).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, AppError> {
    let member = caller.may(Scope::ExportsRead)?;
    Ok(Json(rules::get(&state, member, schedule_id(&id)?).await?))
}

async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<ScheduleView>, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    let id = schedule_id(&id)?;
    let request: ScheduleRequest = body.parse()?;
    Ok(Json(rules::replace(&state, member, id, request).await?))
}

async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    rules::delete(&state, member, schedule_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn pause(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    Ok(Json(rules::set_paused(&state, member, schedule_id(&id)?, true).await?))
}

async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ScheduleView>, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    Ok(Json(rules::set_paused(&state, member, schedule_id(&id)?, false).await?))
}

/// Starts a run now: 202 with the run's export, like `POST /api/exports`.
async fn run(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Response, AppError> {
    let member = caller.may(Scope::ExportsWrite)?;
    let job: ExportJob = rules::run_now(&state, member, schedule_id(&id)?).await?;
    let location = format!("/api/exports/{}", job.id);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(job)).into_response())
}
