//! The JSON API for integrations, and the health checks.

use super::AppState;
use crate::accounts::ssr::{AuthError, check_credentials, log_in, member_of_session};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/session", get(whoami).post(create_session).delete(delete_session))
}

/// An error as the API returns it: a status and `{"error": {"code", "message", "field"?}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "you are not signed in")
    }
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "something went wrong on our side",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::BadCredentials => ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", e.to_string()),
            AuthError::SignedOut => ApiError::unauthorized(),
            AuthError::NotAMember => ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            AuthError::EmailTaken => ApiError::new(StatusCode::CONFLICT, "email_taken", e.to_string()),
            AuthError::Invalid { field, message } => ApiError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid",
                message: format!("{field}: {message}"),
                field: Some(field),
            },
            AuthError::Store(_) | AuthError::Session(_) => ApiError::internal(e),
        }
    }
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The process can reach its database.
async fn readyz(State(state): State<AppState>) -> Response {
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
    session: Session,
    body: Result<Json<Credentials>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(credentials) = body.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid", e.body_text()))?;
    let user = check_credentials(&state, &credentials.email, &credentials.password).await?;
    log_in(&session, user.id, None).await?;
    let (_, viewer) = member_of_session(&state, &session)
        .await?
        .ok_or(AuthError::NotAMember)?;
    Ok((StatusCode::OK, Json(viewer)).into_response())
}

/// `GET /api/session`: who is signed in.
async fn whoami(State(state): State<AppState>, session: Session) -> Result<Response, ApiError> {
    match member_of_session(&state, &session).await? {
        Some((_, viewer)) => Ok(Json(viewer).into_response()),
        None => Err(ApiError::unauthorized()),
    }
}

/// `DELETE /api/session`: log out.
async fn delete_session(session: Session) -> Result<StatusCode, ApiError> {
    session.flush().await.map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}
