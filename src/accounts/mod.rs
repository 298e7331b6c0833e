//! Accounts: sign-up, log-in, log-out, who is signed in, roles, and switching workspace.

pub mod api_tokens;
#[cfg(feature = "ssr")]
pub mod jwt;
#[cfg(feature = "ssr")]
pub mod member;
mod pages;
pub mod people;
pub mod roles;
#[cfg(feature = "ssr")]
pub mod ssr;
#[cfg(feature = "ssr")]
pub mod throttle;
#[cfg(feature = "ssr")]
pub mod tokens;

pub use pages::{LoginPage, LogoutButton, SignupPage, WorkspaceSwitcher};
pub use roles::Role;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A workspace a user belongs to, and their role in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub workspace_id: i64,
    pub workspace_name: String,
    pub role: Role,
    /// The key the workspace's rows carry in the source, when it was given one (see
    /// `Source::tenant`). Server only.
    #[serde(skip_serializing, default)]
    pub tenant_key: Option<String>,
}

/// The signed-in user as the pages see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: i64,
    pub name: String,
    pub email: String,
    /// The workspace the user is working in now.
    pub workspace: Membership,
    /// Every workspace the user can switch to, the current one included.
    pub workspaces: Vec<Membership>,
}

/// The message for a wrong email or password. It never says which one was wrong.
pub const BAD_CREDENTIALS: &str = "That email and password do not match an account.";

/// Logs in; answers where to go next (`next` when it is a path of this site, else the
/// home page). The page goes there with a full load: the signed-in state changed
/// everywhere, and the target may be a server route such as an export's download link.
#[server(prefix = "/rpc", endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<String, AppError> {
    crate::error::server_fn(async move {
        let state = ssr::state();
        let user = ssr::check_credentials(&state, &email, &password, ssr::client_ip().await?).await?;
        ssr::log_in(&ssr::session().await?, user.id, None).await?;
        Ok(ssr::local_path(next.as_deref()))
    })
    .await
}

/// How people may sign in here, for the login and sign-up pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInWays {
    /// With an Egress password.
    pub password: bool,
    /// Creating their own workspace.
    pub signup: bool,
}

#[server(prefix = "/rpc", endpoint = "sign_in_options")]
pub async fn sign_in_options() -> Result<SignInWays, AppError> {
    let settings = &ssr::state().settings;
    Ok(SignInWays {
        password: settings.auth.password(),
        signup: settings.signup_open(),
    })
}

/// Creates a workspace and its owner, then logs the owner in.
#[server(prefix = "/rpc", endpoint = "signup")]
pub async fn signup(workspace: String, name: String, email: String, password: String) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        let state = ssr::state();
        let (user_id, workspace_id) = ssr::create_account(&state, &workspace, &name, &email, &password).await?;
        ssr::log_in(&ssr::session().await?, user_id, Some(workspace_id)).await?;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}

#[server(prefix = "/rpc", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::error::server_fn(async move {
        ssr::session().await?.flush().await?;
        leptos_axum::redirect("/login");
        Ok(())
    })
    .await
}

/// The signed-in user, or `None` when nobody is.
#[server(prefix = "/rpc", endpoint = "viewer")]
pub async fn current_viewer() -> Result<Option<Viewer>, AppError> {
    crate::error::server_fn(async move {
        let session = ssr::session().await?;
        Ok(ssr::member_of_session(&ssr::state(), &session)
            .await?
            .map(|(_, viewer)| viewer))
    })
    .await
}

/// Makes another of the user's workspaces the current one.
#[server(prefix = "/rpc", endpoint = "switch_workspace")]
pub async fn switch_workspace(workspace_id: i64) -> Result<(), AppError> {
    crate::error::server_fn(async move {
        ssr::choose_workspace(&ssr::state(), &ssr::session().await?, workspace_id).await?;
        leptos_axum::redirect("/");
        Ok(())
    })
    .await
}
