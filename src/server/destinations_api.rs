//! Delivery destinations over the JSON API (the `destinations:manage` scope, or an
//! admin's session): the same rules as the destinations page (`destinations::rules`).

use super::AppState;
use super::caller::Caller;
use crate::accounts::api_tokens::Scope;
use crate::destinations::{DestinationRequest, DestinationView, TestReport, rules};
use crate::error::{AppError, JsonBody};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/destinations", get(list).post(create))
        .route("/api/destinations/{id}", get(show).delete(delete))
        .route("/api/destinations/{id}/test", post(test))
}

/// A destination id in the path; a bad one names itself.
fn destination_id(raw: &str) -> Result<i64, AppError> {
    raw.parse()
        .map_err(|_| AppError::invalid("id", format!("`{raw}` is not a destination id")))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<DestinationView>>, AppError> {
    Ok(Json(rules::list(&state, caller.may(Scope::DestinationsManage)?).await?))
}

async fn create(State(state): State<AppState>, caller: Caller, body: JsonBody) -> Result<Response, AppError> {
    let member = caller.may(Scope::DestinationsManage)?;
    let request: DestinationRequest = body.parse()?;
    let made = rules::create(&state, member, request).await?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DestinationView>, AppError> {
    let member = caller.may(Scope::DestinationsManage)?;
    Ok(Json(rules::get(&state, member, destination_id(&id)?).await?))
}

async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let member = caller.may(Scope::DestinationsManage)?;
    rules::delete(&state, member, destination_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TestReport>, AppError> {
    let member = caller.may(Scope::DestinationsManage)?;
    Ok(Json(rules::test(&state, member, destination_id(&id)?).await?))
}
