//! The server side of accounts: password hashing, credentials, and the session.

use super::{BAD_CREDENTIALS, Membership, Viewer};
use crate::server::AppState;
use crate::store::{NewUser, StoreError, UserRecord};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use leptos::prelude::*;
use std::sync::LazyLock;
use tower_sessions::Session;

const USER_KEY: &str = "user_id";
const WORKSPACE_KEY: &str = "workspace_id";

pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any input")
        .to_string()
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Checked against when the email is unknown, so both cases take the same time.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash_password("not a real password"));

/// Hashing is deliberately slow: keep it off the async threads.
pub async fn hash_password_blocking(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing does not panic")
}

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The user for these credentials, or `BAD_CREDENTIALS` whichever part is wrong.
pub async fn check_credentials(state: &AppState, email: &str, password: &str) -> Result<UserRecord, AuthError> {
    let user = state.store.user_by_email(&normalise_email(email)).await?;
    let hash = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || password_matches(&password, &hash))
        .await
        .unwrap_or(false);
    match user {
        Some(user) if matches => Ok(user),
        _ => Err(AuthError::BadCredentials),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{}", BAD_CREDENTIALS)]
    BadCredentials,
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("an account with that email already exists")]
    EmailTaken,
    #[error("you are not signed in")]
    SignedOut,
    #[error("you are not a member of that workspace")]
    NotAMember,
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
    #[error("session error: {0}")]
    Session(#[from] tower_sessions::session::Error),
}

fn invalid(field: &'static str, message: &str) -> AuthError {
    AuthError::Invalid {
        field,
        message: message.to_owned(),
    }
}

/// Checks a sign-up form; the first problem found names its field.
pub fn validate_signup(workspace: &str, name: &str, email: &str, password: &str) -> Result<(), AuthError> {
    if workspace.trim().is_empty() || workspace.len() > 100 {
        return Err(invalid("workspace", "give the workspace a name of 1 to 100 characters"));
    }
    if name.trim().is_empty() || name.len() > 100 {
        return Err(invalid("name", "give your name, 1 to 100 characters"));
    }
    let email = email.trim();
    let well_formed = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace);
    if !well_formed {
        return Err(invalid("email", "enter an email address like name@example.com"));
    }
    if password.chars().count() < 10 {
        return Err(invalid("password", "use at least 10 characters"));
    }
    if password.len() > 512 {
        return Err(invalid("password", "use at most 512 characters"));
    }
    Ok(())
}

pub async fn create_account(
    state: &AppState,
    workspace: &str,
    name: &str,
    email: &str,
    password: &str,
) -> Result<(i64, i64), AuthError> {
    validate_signup(workspace, name, email, password)?;
    let user = NewUser {
        email: normalise_email(email),
        name: name.trim().to_owned(),
        password_hash: hash_password_blocking(password.to_owned()).await,
    };
    state
        .store
        .create_account(workspace.trim(), &user)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => AuthError::EmailTaken,
            other => other.into(),
        })
}

/// `egress user add`: creates the user (or takes the one with this email) and makes them
/// `role` of the workspace with this name, creating the workspace when there is none.
pub async fn add_user(
    store: &crate::store::DynStore,
    email: &str,
    name: &str,
    password: &str,
    workspace: &str,
    role: &str,
) -> Result<(i64, i64), AuthError> {
    validate_signup(workspace, name, email, password)?;
    let email = normalise_email(email);
    let user_id = match store.user_by_email(&email).await? {
        Some(user) => user.id,
        None => {
            let password_hash = hash_password_blocking(password.to_owned()).await;
            store
                .create_user(&NewUser {
                    email,
                    name: name.trim().to_owned(),
                    password_hash,
                })
                .await?
        }
    };
    let workspace_id = match store.find_workspace_by_name(workspace.trim()).await? {
        Some(id) => id,
        None => store.create_workspace(workspace.trim()).await?,
    };
    store.add_membership(workspace_id, user_id, role).await?;
    Ok((user_id, workspace_id))
}

/// Who is signed in, and in which workspace. A membership that was removed since the
/// session began ends the access at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub workspace_id: i64,
}

pub async fn member_of_session(state: &AppState, session: &Session) -> Result<Option<(Member, Viewer)>, AuthError> {
    let Some(user_id) = session.get::<i64>(USER_KEY).await? else {
        return Ok(None);
    };
    let Some(user) = state.store.user_by_id(user_id).await? else {
        return Ok(None);
    };
    let workspaces = state.store.memberships(user_id).await?;
    let chosen = session.get::<i64>(WORKSPACE_KEY).await?;
    let current = workspaces
        .iter()
        .find(|m| Some(m.workspace_id) == chosen)
        .or(workspaces.first())
        .cloned();
    let Some(workspace) = current else {
        return Ok(None);
    };
    let member = Member {
        user_id,
        workspace_id: workspace.workspace_id,
    };
    Ok(Some((
        member,
        Viewer {
            user_id,
            name: user.name,
            email: user.email,
            workspace,
            workspaces,
        },
    )))
}

/// Starts a signed-in session with a fresh id (so a planted session id is worthless).
pub async fn log_in(session: &Session, user_id: i64, workspace_id: Option<i64>) -> Result<(), AuthError> {
    session.cycle_id().await?;
    session.insert(USER_KEY, user_id).await?;
    if let Some(workspace_id) = workspace_id {
        session.insert(WORKSPACE_KEY, workspace_id).await?;
    }
    Ok(())
}

pub async fn choose_workspace(state: &AppState, session: &Session, workspace_id: i64) -> Result<(), AuthError> {
    let Some((member, _)) = member_of_session(state, session).await? else {
        return Err(AuthError::SignedOut);
    };
    let workspaces: Vec<Membership> = state.store.memberships(member.user_id).await?;
    if !workspaces.iter().any(|m| m.workspace_id == workspace_id) {
        return Err(AuthError::NotAMember);
    }
    session.insert(WORKSPACE_KEY, workspace_id).await?;
    Ok(())
}

/// Only local paths are followed after login, so `next` cannot send anyone elsewhere.
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') => p.to_owned(),
        _ => "/".to_owned(),
    }
}

// --- The same, from inside a Leptos server function ---------------------------------------

async fn session() -> Result<Session, ServerFnError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| ServerFnError::new(format!("no session: {e}")))
}

pub async fn verify_credentials(email: &str, password: &str) -> Result<UserRecord, ServerFnError> {
    Ok(check_credentials(&expect_context::<AppState>(), email, password).await?)
}

pub async fn start_session(user_id: i64, workspace_id: Option<i64>) -> Result<(), ServerFnError> {
    Ok(log_in(&session().await?, user_id, workspace_id).await?)
}

pub async fn end_session() -> Result<(), ServerFnError> {
    session().await?.flush().await.map_err(AuthError::from)?;
    Ok(())
}

pub async fn viewer() -> Result<Option<Viewer>, ServerFnError> {
    let state = expect_context::<AppState>();
    Ok(member_of_session(&state, &session().await?)
        .await?
        .map(|(_, viewer)| viewer))
}

/// The caller's membership, or an error that says they are signed out.
pub async fn require_member() -> Result<Member, ServerFnError> {
    let state = expect_context::<AppState>();
    match member_of_session(&state, &session().await?).await? {
        Some((member, _)) => Ok(member),
        None => Err(AuthError::SignedOut.into()),
    }
}

pub async fn switch_workspace(workspace_id: i64) -> Result<(), ServerFnError> {
    Ok(choose_workspace(&expect_context::<AppState>(), &session().await?, workspace_id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("correct horse battery");
        assert!(a.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery", &a));
        assert!(!password_matches("wrong", &a));
        assert_ne!(a, hash_password("correct horse battery"));
    }

    #[test]
    fn signup_errors_name_the_field() {
        let field = |r: Result<(), AuthError>| match r {
            Err(AuthError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(validate_signup("", "Ann", "a@b.co", "long enough pw")),
            "workspace"
        );
        assert_eq!(field(validate_signup("W", " ", "a@b.co", "long enough pw")), "name");
        assert_eq!(field(validate_signup("W", "Ann", "a@b", "long enough pw")), "email");
        assert_eq!(field(validate_signup("W", "Ann", "a@b.co", "short")), "password");
        assert!(validate_signup("W", "Ann", "a@b.co", "long enough pw").is_ok());
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/data/orders?status=paid")), "/data/orders?status=paid");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }
}
