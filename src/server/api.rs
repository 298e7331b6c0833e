//! The session endpoints of the JSON API, and the health checks.

use super::{AppState, ClientIp};
use crate::accounts::api_tokens::Scope;
use crate::accounts::ssr::{check_credentials, log_in, member_of_session};
use crate::error::{AppError, JsonBody};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Form, Json, Router};
use serde::Deserialize;
use tower_sessions::Session;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/session", get(whoami).post(create_session).delete(delete_session))
        .route("/auth/jwt", get(jwt_sign_in).post(jwt_confirmed))
        .route("/api/workspace", get(workspace).put(set_workspace))
        .route("/api/members", get(members))
        .route("/api/members/{id}", axum::routing::delete(remove_member))
}

/// `GET /api/workspace`: the current workspace's settings.
async fn workspace(
    State(state): State<AppState>,
    caller: super::caller::Caller,
) -> Result<Json<crate::workspace::WorkspaceSettings>, AppError> {
    let member = caller.may(Scope::ExportsRead)?;
    Ok(Json(crate::workspace::rules::get(&state, member).await?))
}

/// `GET /api/members`: the workspace's people (admins and owners).
async fn members(
    State(state): State<AppState>,
    caller: super::caller::Caller,
) -> Result<Json<Vec<crate::accounts::people::Person>>, AppError> {
    let member = caller.may(Scope::WorkspaceManage)?;
    Ok(Json(crate::accounts::people::ssr::list(&state, member).await?))
}

/// `DELETE /api/members/{id}` (a user id): takes a person out of the workspace (204).
async fn remove_member(
    State(state): State<AppState>,
    caller: super::caller::Caller,
    axum::extract::Path(user_id): axum::extract::Path<String>,
) -> Result<StatusCode, AppError> {
    let member = caller.may(Scope::WorkspaceManage)?;
    let user_id = user_id
        .parse()
        .map_err(|_| AppError::invalid("user_id", format!("`{user_id}` is not a user id")))?;
    crate::accounts::people::ssr::remove_by(&state, member, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
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
    let member = caller.may(Scope::WorkspaceManage)?;
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
/// `return_to`, a page that asks first when someone else is signed in here, or a page
/// that says why not.
async fn jwt_sign_in(State(state): State<AppState>, session: Session, Query(link): Query<JwtLink>) -> Response {
    hand_off(&state, &session, link, false).await
}

/// `POST /auth/jwt` (a form: `token`, `return_to`): the same link, confirmed on the page
/// that asked (the same-origin rule keeps other sites from posting it). The host's back
/// end can post a token with role `none` here too, to end a person's access.
async fn jwt_confirmed(
    State(state): State<AppState>,
    session: Session,
    link: Result<Form<JwtLink>, axum::extract::rejection::FormRejection>,
) -> Response {
    // A post that is no form carries no token: the page says so, as for a bare link.
    let link = link.map_or(
        JwtLink {
            token: None,
            return_to: None,
        },
        |Form(link)| link,
    );
    hand_off(&state, &session, link, true).await
}

async fn hand_off(state: &AppState, session: &Session, link: JwtLink, confirmed: bool) -> Response {
    use crate::accounts::jwt::{HandOff, sign_in};
    use crate::text::html_escape;
    let page = super::exports_api::page;
    match sign_in(
        state,
        session,
        link.token.as_deref(),
        link.return_to.as_deref(),
        confirmed,
    )
    .await
    {
        Ok(HandOff::SignedIn(target)) => axum::response::Redirect::to(&target).into_response(),
        Ok(HandOff::Ended { tenant }) => page(
            StatusCode::OK,
            "Access ended",
            &format!("You no longer have access to {tenant} in Egress."),
            None,
        ),
        Ok(HandOff::Confirm { signed_in_as, arriving }) => {
            let hidden = |name: &str, value: Option<&str>| {
                format!(
                    "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                    html_escape(value.unwrap_or_default())
                )
            };
            let form = format!(
                "<form method=\"post\" action=\"/auth/jwt\">{}{}<button type=\"submit\" class=\"primary\">Continue as {}</button></form>",
                hidden("token", link.token.as_deref()),
                hidden("return_to", link.return_to.as_deref()),
                html_escape(&arriving),
            );
            page(
                StatusCode::OK,
                "Switch account?",
                &format!(
                    "You are signed in to Egress as {signed_in_as}. This link signs you in as {arriving} instead. Continue only if you opened it yourself, from your product."
                ),
                Some(&form),
            )
        }
        Err(refusal) => page(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
            refusal.title,
            &refusal.message,
            None,
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
