//! Webhook endpoints over the JSON API (the `webhooks:manage` scope, or an admin's
//! session): the same rules as the webhooks page (`webhooks::rules`).

use super::AppState;
use super::caller::Caller;
use crate::accounts::api_tokens::Scope;
use crate::error::{AppError, JsonBody};
use crate::webhooks::{EndpointView, EndpointWithSecret, rules};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route("/api/webhooks/{id}", get(show).delete(delete))
        .route("/api/webhooks/{id}/rotate", post(rotate))
        .route("/api/webhooks/{id}/test", post(test))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    description: String,
}

/// An endpoint id in the path; a bad one names itself.
fn endpoint_id(raw: &str) -> Result<i64, AppError> {
    raw.parse()
        .map_err(|_| AppError::invalid("id", format!("`{raw}` is not an endpoint id")))
}

async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<EndpointView>>, AppError> {
    Ok(Json(rules::list(&state, caller.may(Scope::WebhooksManage)?).await?))
}

async fn create(State(state): State<AppState>, caller: Caller, body: JsonBody) -> Result<Response, AppError> {
    let member = caller.may(Scope::WebhooksManage)?;
    let new: NewEndpoint = body.parse()?;
    let (endpoint, secret) = rules::create(&state, member, &new.url, &new.events, &new.description).await?;
    Ok((StatusCode::CREATED, Json(EndpointWithSecret { endpoint, secret })).into_response())
}

async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, AppError> {
    let member = caller.may(Scope::WebhooksManage)?;
    Ok(Json(rules::get(&state, member, endpoint_id(&id)?).await?))
}

async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let member = caller.may(Scope::WebhooksManage)?;
    rules::delete(&state, member, endpoint_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EndpointWithSecret>, AppError> {
    let member = caller.may(Scope::WebhooksManage)?;
    let (endpoint, secret) = rules::rotate(&state, member, endpoint_id(&id)?).await?;
    Ok(Json(EndpointWithSecret { endpoint, secret }))
}

async fn test(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<StatusCode, AppError> {
    let member = caller.may(Scope::WebhooksManage)?;
    rules::send_test(&state, member, endpoint_id(&id)?).await?;
    Ok(StatusCode::ACCEPTED)
}
