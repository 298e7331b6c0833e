//! The server side of accounts: password hashing, credentials, and the session.

use super::{BAD_CREDENTIALS, Membership, Role, Viewer};
use crate::error::{AppError, ErrorCode};
use crate::server::AppState;
use crate::server::sessions::USER_KEY;
use crate::store::{DynStore, NewUser, StoreError, UserRecord};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use std::net::IpAddr;
use std::sync::LazyLock;
use tower_sessions::Session;

const WORKSPACE_KEY: &str = "workspace_id";
/// For a session the host product signed in: the workspaces its hand-offs named, the only
/// ones it reaches (absent for a password sign-in, which reaches all the person's).
const HANDOFF_KEY: &str = "handoff_workspaces";
/// When the user signed in (Unix seconds), for the absolute session lifetime.
const SIGNED_IN_KEY: &str = "signed_in_at";
/// The minute of the last request: saving it is what slides the idle timeout.
const SEEN_KEY: &str = "seen_minute";

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

/// Makes the stand-in hash at start, so not even the first unknown email takes longer.
pub async fn prepare() {
    let _ = tokio::task::spawn_blocking(|| LazyLock::force(&DUMMY_HASH).len()).await;
}

/// Hashes off the async threads, in one of the throttle's hashing slots.
pub async fn hash_password_limited(state: &AppState, password: String) -> Result<String, AppError> {
    let _slot = state.throttle.hash_slot().await?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(AppError::internal)
}

/// For `egress user add`: no web requests to share the CPUs with.
pub async fn hash_password_blocking(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing does not panic")
}

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn bad_credentials() -> AppError {
    AppError::new(ErrorCode::BadCredentials, BAD_CREDENTIALS)
}

/// The user for these credentials, or `BAD_CREDENTIALS` whichever part is wrong. A known
/// and an unknown email cost the same: the same throttle lookups, one hash check.
pub async fn check_credentials(
    state: &AppState,
    email: &str,
    password: &str,
    address: IpAddr,
) -> Result<UserRecord, AppError> {
    if !state.settings.auth.password() {
        return Err(AppError::forbidden(
            "Password sign-in is off on this Egress: open it from the product you use.",
        ));
    }
    state.throttle.check(&state.store, email, address).await?;
    if password.len() > 1024 {
        return Err(bad_credentials());
    }
    // An account without a password (signed up through the host product: its hash is
    // `!`) is checked against the stand-in like an unknown email, so neither answers
    // sooner, and neither can match.
    let user = state
        .store
        .user_by_email(&normalise_email(email))
        .await?
        .filter(|u| PasswordHash::new(&u.password_hash).is_ok());
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = {
        let _slot = state.throttle.hash_slot().await?;
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || password_matches(&password, hash.as_deref().unwrap_or(&DUMMY_HASH)))
            .await
            .unwrap_or(false)
    };
    match user {
        Some(user) if matches => {
            state.throttle.succeeded(&state.store, email).await?;
            Ok(user)
        }
        _ => {
            state.throttle.failed(&state.store, email, address).await?;
            Err(bad_credentials())
        }
    }
}

/// Checks a sign-up form; the first problem found names its field.
/// Whether `email` looks like an address: something, `@`, a dotted domain; no spaces.
pub fn is_email(email: &str) -> bool {
    let email = email.trim();
    email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.contains(|c: char| c.is_whitespace() || c.is_control())
}

pub fn validate_signup(workspace: &str, name: &str, email: &str, password: &str) -> Result<(), AppError> {
    if workspace.trim().is_empty() || workspace.len() > 100 {
        return Err(AppError::invalid(
            "workspace",
            "give the workspace a name of 1 to 100 characters",
        ));
    }
    if name.trim().is_empty() || name.len() > 100 {
        return Err(AppError::invalid("name", "give your name, 1 to 100 characters"));
    }
    if !is_email(email) {
        return Err(AppError::invalid(
            "email",
            "enter an email address like name@example.com",
        ));
    }
    if password.chars().count() < 10 {
        return Err(AppError::invalid("password", "use at least 10 characters"));
    }
    if password.len() > 512 {
        return Err(AppError::invalid("password", "use at most 512 characters"));
    }
    Ok(())
}

pub async fn create_account(
    state: &AppState,
    workspace: &str,
    name: &str,
    email: &str,
    password: &str,
) -> Result<(i64, i64), AppError> {
    if !state.settings.signup_open() {
        return Err(AppError::forbidden(
            "Sign-up is closed on this Egress. Ask an administrator of your workspace to add you.",
        ));
    }
    validate_signup(workspace, name, email, password)?;
    let user = NewUser {
        email: normalise_email(email),
        name: name.trim().to_owned(),
        password_hash: hash_password_limited(state, password.to_owned()).await?,
    };
    state
        .store
        .create_account(workspace.trim(), &user)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                AppError::new(ErrorCode::EmailTaken, "An account with that email already exists.")
            }
            other => other.into(),
        })
}

/// Which workspace `egress user add` means.
pub enum WorkspaceChoice<'a> {
    /// By name: created when no workspace has it, refused when several do.
    Named(&'a str),
    Id(i64),
}

/// `egress user add`: creates the user (or takes the one with this email) and makes them
/// `role` of the workspace, creating it when no workspace has that name.
pub async fn add_user(
    store: &DynStore,
    email: &str,
    name: &str,
    password: &str,
    workspace: WorkspaceChoice<'_>,
    role: Role,
) -> anyhow::Result<(i64, i64)> {
    let workspace_name = match workspace {
        WorkspaceChoice::Named(n) => n,
        WorkspaceChoice::Id(_) => "workspace",
    };
    validate_signup(workspace_name, name, email, password).map_err(|e| anyhow::anyhow!(e.message))?;
    let workspace_id = match workspace {
        WorkspaceChoice::Id(id) => {
            anyhow::ensure!(
                store.workspace_name(id).await?.is_some(),
                "there is no workspace with id {id}"
            );
            id
        }
        WorkspaceChoice::Named(name) => match store.workspaces_named(name.trim()).await?.as_slice() {
            [] => store.create_workspace(name.trim()).await?,
            [id] => *id,
            ids => anyhow::bail!(
                "{} workspaces are named `{}` (ids {}); choose one with --workspace-id",
                ids.len(),
                name.trim(),
                ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            ),
        },
    };
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
    store.add_membership(workspace_id, user_id, role.id()).await?;
    Ok((user_id, workspace_id))
}

pub use super::member::{Member, Via};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The signed-in member, or `None`. A session past its absolute lifetime is ended here;
/// a live one is marked seen once a minute, which slides its idle timeout.
pub async fn member_of_session(state: &AppState, session: &Session) -> Result<Option<(Member, Viewer)>, AppError> {
    let Some(user_id) = session.get::<i64>(USER_KEY).await? else {
        return Ok(None);
    };
    let signed_in = session.get::<i64>(SIGNED_IN_KEY).await?.unwrap_or(0);
    if now() - signed_in > state.settings.session_max_hours * 3600 {
        session.flush().await?;
        return Ok(None);
    }
    let Some(user) = state.store.user_by_id(user_id).await? else {
        return Ok(None);
    };
    let handoff = session.get::<Vec<i64>>(HANDOFF_KEY).await?;
    let via = handoff.map_or(Via::Password, Via::HandOff);
    let workspaces: Vec<Membership> = state
        .store
        .memberships(user_id)
        .await?
        .into_iter()
        .filter(|m| match &via {
            Via::HandOff(named) => named.contains(&m.workspace_id),
            _ => true,
        })
        .collect();
    let chosen = session.get::<i64>(WORKSPACE_KEY).await?;
    let current = workspaces
        .iter()
        .find(|m| Some(m.workspace_id) == chosen)
        .or(workspaces.first())
        .cloned();
    let Some(workspace) = current else {
        return Ok(None);
    };
    let minute = now() / 60;
    if session.get::<i64>(SEEN_KEY).await? != Some(minute) {
        session.insert(SEEN_KEY, minute).await?;
    }
    let member = Member::new(user_id, &workspace, via);
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

/// Starts a signed-in session with a fresh id (so a planted session id is worthless),
/// reaching every workspace of the person's (a password sign-in).
pub async fn log_in(session: &Session, user_id: i64, workspace_id: Option<i64>) -> Result<(), AppError> {
    session.cycle_id().await?;
    // Nothing of an earlier sign-in in this browser carries over.
    session.remove::<Vec<i64>>(HANDOFF_KEY).await?;
    session.remove::<i64>(WORKSPACE_KEY).await?;
    session.insert(USER_KEY, user_id).await?;
    session.insert(SIGNED_IN_KEY, now()).await?;
    if let Some(workspace_id) = workspace_id {
        session.insert(WORKSPACE_KEY, workspace_id).await?;
    }
    Ok(())
}

/// Signs in the person the host product handed off, in `workspace_id`. The same person
/// handed off again (another tenant) keeps the session and reaches that workspace too;
/// anyone else starts a new session (a fresh id) that reaches only this workspace.
pub async fn hand_off(session: &Session, user_id: i64, workspace_id: i64) -> Result<(), AppError> {
    let same_person = session.get::<i64>(USER_KEY).await? == Some(user_id);
    // The same person signed in by hand-off already: the session is theirs, so it keeps
    // its id (a new id would end the streams of their other open tabs).
    let mut named = match session.get::<Vec<i64>>(HANDOFF_KEY).await? {
        Some(named) if same_person => named,
        _ => {
            log_in(session, user_id, None).await?;
            Vec::new()
        }
    };
    if !named.contains(&workspace_id) {
        named.push(workspace_id);
    }
    session.insert(HANDOFF_KEY, named).await?;
    session.insert(WORKSPACE_KEY, workspace_id).await?;
    Ok(())
}

/// The person signed in to this session, if any (whatever their workspaces).
pub async fn signed_in_user(session: &Session) -> Result<Option<i64>, AppError> {
    Ok(session.get::<i64>(USER_KEY).await?)
}

pub async fn choose_workspace(state: &AppState, session: &Session, workspace_id: i64) -> Result<(), AppError> {
    let Some((member, _)) = member_of_session(state, session).await? else {
        return Err(AppError::unauthorized());
    };
    if member.role_in(state.store.as_ref(), workspace_id).await?.is_none() {
        return Err(AppError::not_found("You are not a member of that workspace."));
    }
    session.insert(WORKSPACE_KEY, workspace_id).await?;
    Ok(())
}

/// Where to go after signing in: `next` when it is a path on this site, else the home
/// page. Browsers drop tabs and line breaks from URLs and read `\` as `/`, so
/// `/\t/evil.example` would become `//evil.example`: such input is refused outright, and
/// what is left must parse as a path of this origin that does not start with `//`.
pub fn local_path(next: Option<&str>) -> String {
    const HOME: &str = "/";
    let Some(next) = next else {
        return HOME.into();
    };
    if !next.starts_with('/') || next.chars().any(|c| c.is_control() || c == '\\' || c.is_whitespace()) {
        return HOME.into();
    }
    let base = url::Url::parse("http://egress.invalid/").expect("a valid base");
    let Ok(url) = base.join(next) else {
        return HOME.into();
    };
    if url.origin() != base.origin() {
        return HOME.into();
    }
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    if let Some(fragment) = url.fragment() {
        path.push('#');
        path.push_str(fragment);
    }
    if path.starts_with("//") {
        return HOME.into();
    }
    path
}

// --- The same, from inside a Leptos server function ---------------------------------------

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(AppError::internal)
}

/// The client's address, as the request middleware found it.
pub async fn client_ip() -> Result<IpAddr, AppError> {
    let axum::Extension(crate::server::ClientIp(ip)) = leptos_axum::extract().await.map_err(AppError::internal)?;
    Ok(ip)
}

pub fn state() -> AppState {
    leptos::prelude::expect_context::<AppState>()
}

/// The caller's membership, or an error that says they are signed out.
pub async fn require_member() -> Result<Member, AppError> {
    match member_of_session(&state(), &session().await?).await? {
        Some((member, _)) => Ok(member),
        None => Err(AppError::unauthorized()),
    }
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
        let field = |r: Result<(), AppError>| r.unwrap_err().field.unwrap();
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
    fn only_paths_of_this_site_are_followed() {
        assert_eq!(local_path(Some("/data/orders?status=paid")), "/data/orders?status=paid");
        assert_eq!(local_path(Some("/exports/1/download")), "/exports/1/download");
        assert_eq!(local_path(None), "/");
        for hostile in [
            "//evil.example",
            "https://evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\\/evil.example",
            "/.//evil.example",
            "/..//evil.example",
            "/%2e//evil.example",
            " /evil",
            "javascript:alert(1)",
            "http:evil.example",
            "evil.example",
            "/\u{0}//evil.example",
            "/\u{2028}/evil.example",
        ] {
            let followed = local_path(Some(hostile));
            assert!(
                followed == "/" || (followed.starts_with('/') && !followed.starts_with("//")),
                "{hostile:?} → {followed:?}"
            );
            assert!(
                !followed.contains("evil.example") || !followed.starts_with("//"),
                "{hostile:?}"
            );
        }
        assert_eq!(local_path(Some("/.//evil.example")), "/");
    }
}
