//! The process: configuration, start-up, the HTTP router and its middleware.

pub mod api;
pub mod config;
mod exports_api;
mod middleware;
mod openapi;
pub mod runtime;
pub mod sessions;

use crate::app::{App, shell};
use crate::store::DynStore;
use axum::Router;
use axum::extract::FromRef;
use config::ServeArgs;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::SocketAddr;
use std::sync::Arc;
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

/// What every request handler and server function can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: DynStore,
    pub settings: Arc<ServeArgs>,
    pub storage: crate::storage::DynStorage,
    pub local_files: Option<Arc<crate::storage::LocalStorage>>,
    pub hub: crate::progress::Hub,
    pub wakeup: Arc<tokio::sync::Notify>,
}

pub const SESSION_COOKIE: &str = "egress_session";

fn leptos_options(args: &ServeArgs, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("egress")
        .site_root(args.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// The whole HTTP surface: pages, server functions, the JSON API, health checks.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let sessions = SessionManagerLayer::new(state.store.sessions())
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.settings.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            state.settings.session_idle_minutes,
        )))
        // Saving on every request is what makes the inactivity timeout slide.
        .with_always_save(true);
    let options = state.leptos_options.clone();
    Router::new()
        .merge(api::routes())
        .merge(exports_api::routes())
        .leptos_routes_with_context(&state, routes, || (), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::require_login,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn(middleware::log_request))
        .with_state(state)
}

/// A server that is listening; dropping it does not stop it, `shutdown` does.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `args.listen` (port 0 picks one), starts the background tasks, and serves
/// until the task is aborted.
pub async fn start(store: DynStore, data_dir: &std::path::Path, args: ServeArgs) -> anyhow::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let runtime = runtime::build(&store, &args.pipeline, data_dir, &public_url).await?;
    runtime.spawn_background(&store, &args.pipeline, !args.no_worker);
    let state = AppState {
        leptos_options: leptos_options(&args, addr),
        store: store.clone(),
        settings: Arc::new(args),
        storage: runtime.storage.clone(),
        local_files: runtime.local_files.clone(),
        hub: runtime.hub.clone(),
        wakeup: runtime.wakeup.clone(),
    };
    let sessions = store.sessions();
    sessions.migrate().await?;
    tokio::spawn(async move {
        use tower_sessions::ExpiredDeletion;
        if let Err(e) = sessions
            .continuously_delete_expired(tokio::time::Duration::from_secs(600))
            .await
        {
            tracing::warn!(error = %e, "expired-session cleanup stopped");
        }
    });
    let app = router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(shutdown_signal())
            .await
    });
    Ok(RunningServer { addr, task })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
