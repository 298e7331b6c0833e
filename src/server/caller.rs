//! Who is calling the JSON API: a signed-in session (every scope), or an API token
//! (`Authorization: Bearer …`, its workspace and its scopes; see `accounts::member`).
//! One extractor for every route, so each handler says only which scope it needs.

use super::AppState;
use super::streams::Holder;
use crate::accounts::api_tokens::Scope;
use crate::accounts::ssr::{Member, member_of_session};
use crate::accounts::tokens;
use crate::error::{AppError, ErrorCode};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use tower_sessions::Session;

pub struct Caller {
    pub member: Member,
    /// What streams opened by this caller belong to.
    pub holder: Holder,
}

impl Caller {
    /// The member, when the caller has `scope`; a token without it is refused (403).
    pub fn may(&self, scope: Scope) -> Result<&Member, AppError> {
        self.member.may(scope)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, AppError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let secret = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(|| {
                    AppError::new(
                        ErrorCode::Unauthorized,
                        "Send an API token as `Authorization: Bearer <token>`.",
                    )
                })?;
            let token = tokens::authenticate(state, secret.trim()).await?;
            return Ok(Caller {
                member: token.member,
                holder: Holder::Token(token.token_id),
            });
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, e)| AppError::internal(e))?;
        match member_of_session(state, &session).await? {
            Some((member, _)) => Ok(Caller {
                member,
                holder: Holder::Session(session.id().ok_or_else(AppError::unauthorized)?),
            }),
            None => Err(AppError::unauthorized()),
        }
    }
}
