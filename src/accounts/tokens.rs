//! API tokens, for the host's back end and for integrations: `Authorization: Bearer …`
//! works on the whole JSON API, without a cookie (so without cross-site risk).
//!
//! An admin or owner makes a token for their workspace with scopes (`exports:read`,
//! `exports:write`) and an optional expiry; its secret is shown once and only a SHA-256
//! of it is kept. A token acts for its workspace with the role its maker has there now:
//! a maker who leaves the workspace takes the token's power with them.

use super::ssr::Member;
use crate::error::{AppError, ErrorCode};
use crate::server::AppState;
use crate::store::{ApiTokenRecord, NewApiToken};
use chrono::Utc;
use sha2::{Digest, Sha256};

pub use super::api_tokens::{Scope, TokenView};

/// What every secret starts with, so one pasted in a wrong place is recognisable.
pub const PREFIX: &str = "egress_";

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

use crate::store::from_unix as time;

fn now() -> i64 {
    Utc::now().timestamp()
}

impl TokenView {
    fn of(record: &ApiTokenRecord) -> TokenView {
        let status = if record.revoked_at.is_some() {
            "revoked"
        } else if record.expires_at.is_some_and(|at| at <= now()) {
            "expired"
        } else {
            "active"
        };
        TokenView {
            id: record.id,
            name: record.name.clone(),
            prefix: record.prefix.clone(),
            scopes: record
                .scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            created_by: record.created_by_name.clone(),
            created_at: time(record.created_at),
            expires_at: record.expires_at.map(time),
            last_used_at: record.last_used_at.map(time),
            status: status.to_owned(),
        }
    }
}

fn may_manage(member: &Member) -> Result<(), AppError> {
    if member.role.manages_all_exports() {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "Only the workspace's admins and owners manage API tokens.",
        ))
    }
}

/// Makes a token; its secret, shown once, and how it is listed.
pub async fn create(
    state: &AppState,
    member: &Member,
    name: &str,
    scopes: &[String],
    expires_in_days: Option<u32>,
) -> Result<(TokenView, String), AppError> {
    may_manage(member)?;
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(AppError::invalid(
            "name",
            "give the token a name of 1 to 100 characters",
        ));
    }
    if scopes.is_empty() {
        return Err(AppError::invalid("scopes", "choose at least one scope"));
    }
    let mut checked = Vec::new();
    for (i, scope) in scopes.iter().enumerate() {
        let scope = Scope::parse(scope).ok_or_else(|| {
            AppError::invalid(
                format!("scopes.{i}"),
                format!("`{scope}` is not a scope ({})", Scope::ALL.map(Scope::id).join(", ")),
            )
        })?;
        if !checked.contains(&scope) {
            checked.push(scope);
        }
    }
    if expires_in_days.is_some_and(|d| d == 0 || d > 3650) {
        return Err(AppError::invalid("expires_in_days", "from 1 to 3650 days, or none"));
    }
    let secret = format!("{PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()));
    let created_at = now();
    let new = NewApiToken {
        workspace_id: member.workspace_id,
        created_by: member.user_id,
        name: name.to_owned(),
        prefix: secret[..PREFIX.len() + 6].to_owned(),
        token_hash: hash(&secret),
        scopes: checked.iter().map(|s| s.id()).collect::<Vec<_>>().join(","),
        created_at,
        expires_at: expires_in_days.map(|d| created_at + i64::from(d) * 86_400),
    };
    let id = state.store.create_api_token(&new).await?;
    let record = state
        .store
        .api_tokens(member.workspace_id)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| AppError::internal("a token just made is missing"))?;
    Ok((TokenView::of(&record), secret))
}

pub async fn list(state: &AppState, member: &Member) -> Result<Vec<TokenView>, AppError> {
    may_manage(member)?;
    Ok(state
        .store
        .api_tokens(member.workspace_id)
        .await?
        .iter()
        .map(TokenView::of)
        .collect())
}

pub async fn revoke(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    may_manage(member)?;
    if state.store.revoke_api_token(member.workspace_id, id, now()).await? {
        Ok(())
    } else {
        Err(AppError::not_found("There is no such active token in this workspace."))
    }
}

/// Who a bearer token speaks for: its workspace only, with its maker's role there now
/// (at most admin) and its scopes.
pub struct TokenCaller {
    pub token_id: i64,
    pub member: Member,
}

fn unauthorized(why: &str) -> AppError {
    AppError::new(ErrorCode::Unauthorized, format!("This API token {why}."))
}

/// The caller of a request with `Authorization: Bearer <secret>`.
pub async fn authenticate(state: &AppState, secret: &str) -> Result<TokenCaller, AppError> {
    if !secret.starts_with(PREFIX) || secret.len() > 200 {
        return Err(unauthorized("is not one of Egress's"));
    }
    let record = state
        .store
        .api_token_by_hash(&hash(secret))
        .await?
        .ok_or_else(|| unauthorized("is not known here"))?;
    let at = now();
    if record.revoked_at.is_some() {
        return Err(unauthorized("was revoked"));
    }
    if record.expires_at.is_some_and(|e| e <= at) {
        return Err(unauthorized("has expired"));
    }
    let membership = state
        .store
        .memberships(record.created_by)
        .await?
        .into_iter()
        .find(|m| m.workspace_id == record.workspace_id)
        .ok_or_else(|| unauthorized("belongs to someone who has left the workspace"))?;
    // Last use is kept to the minute: one write a minute per busy token at most.
    if record.last_used_at.is_none_or(|used| at - used >= 60) {
        state.store.touch_api_token(record.id, at).await?;
    }
    let scopes = record.scopes.split(',').filter_map(Scope::parse).collect();
    Ok(TokenCaller {
        token_id: record.id,
        member: Member::new(
            record.created_by,
            &membership,
            super::member::Via::Token { id: record.id, scopes },
        ),
    })
}

/// Whether a token is still good (streams opened with it end when it is not).
pub async fn is_live(state_store: &crate::store::DynStore, id: i64) -> bool {
    matches!(
        state_store.api_token_by_id(id).await,
        Ok(Some(t)) if t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now())
    )
}
