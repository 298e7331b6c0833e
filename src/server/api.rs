//! The session endpoints of the JSON API, and the health checks.

use super::{AppState, ClientIp};
use crate::accounts::ssr::{check_credentials, log_in, member_of_session};
use crate::error::{AppError, JsonBody};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/session", get(whoami).post(create_session).delete(delete_session))
        .route("/auth/jwt", get(jwt_sign_in))
        .route("/api/workspace", get(workspace).put(set_workspace))
}

/// `GET /api/workspace`: the current workspace's settings.
async fn workspace(
    State(state): State<AppState>,
    caller: super::caller::Caller,
) -> Result<Json<crate::workspace::WorkspaceSettings>, AppError> {
    let member = caller.may(crate::accounts::api_tokens::Scope::ExportsRead)?;
    Ok(Json(crate::workspace::rules::get(&state, member).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSettings {
    retention_hours: Option<f64>,
}

/// `PUT /api/workspace`: an admin sets how long finished files stay (`null`: default); a
/// token needs `workspace:manage`.
async fn set_workspace(
    State(state): State<AppState>,
    caller: super::caller::Caller,
    body: JsonBody,
) -> Result<Json<crate::workspace::WorkspaceSettings>, AppError> {
    let member = caller.may(crate::accounts::api_tokens::Scope::WorkspaceManage)?;
    let new: NewSettings = body.parse()?;
    Ok(Json(
        crate::workspace::rules::set_retention(&state, member, new.retention_hours).await?,
    ))
}

#[derive(Deserialize)]
struct JwtLink {
    token: Option<String>,
    return_to: Option<String>,
}

/// `GET /auth/jwt?token=…&return_to=…`: sign-in from the host product; a redirect to
/// `return_to`, or a page that says why not.
async fn jwt_sign_in(
    State(state): State<AppState>,
    session: Session,
    axum::extract::Query(link): axum::extract::Query<JwtLink>,
) -> Response {
    match crate::accounts::jwt::sign_in(&state, &session, link.token.as_deref(), link.return_to.as_deref()).await {
        Ok(target) => axum::response::Redirect::to(&target).into_response(),
        Err(refusal) => super::exports_api::page(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
            refusal.title,
            &refusal.message,
        ),
    }
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can reach its database.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.shutdown.draining.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    match state.store.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response()
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    email: String,
    password: String,
}

/// `POST /api/session`: log in with JSON credentials; the answer sets the session cookie.
async fn create_session(
    State(state): State<AppState>,
    Extension(ClientIp(address)): Extension<ClientIp>,
    session: Session,
    body: JsonBody,
) -> Result<Response, AppError> {
    let credentials: Credentials = body.parse()?;
    let user = check_credentials(&state, &credentials.email, &credentials.password, address).await?;
    log_in(&session, user.id, None).await?;
    let (_, viewer) = member_of_session(&state, &session)
        .await?
        .ok_or_else(|| AppError::forbidden("Your account does not belong to any workspace yet."))?;
    Ok((StatusCode::OK, Json(viewer)).into_response())
}

/// `GET /api/session`: who is signed in.
async fn whoami(State(state): State<AppState>, session: Session) -> Result<Response, AppError> {
    match member_of_session(&state, &session).await? {
        Some((_, viewer)) => Ok(Json(viewer).into_response()),
        None => Err(AppError::unauthorized()),
    }
}

/// `DELETE /api/session`: log out.
async fn delete_session(session: Session) -> Result<StatusCode, AppError> {
    session.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}
