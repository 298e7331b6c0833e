//! The process: configuration, start-up, the HTTP router and its middleware.

pub mod access;
pub mod api;
pub mod caller;
pub mod config;
mod destinations_api;
mod exports_api;
mod idempotency;
pub mod middleware;
mod openapi;
pub mod runtime;
mod schedules_api;
pub mod scrape;
pub mod sessions;
pub mod streams;
mod webhooks_api;

use crate::accounts::throttle::{Throttle, ThrottleSettings};
use crate::app::{App, shell};
use crate::store::DynStore;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use config::ServeArgs;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

/// What every request handler and server function can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: DynStore,
    pub catalog: Arc<crate::catalog::Catalog>,
    pub source: crate::source::Source,
    pub settings: Arc<ServeArgs>,
    pub storage: crate::storage::DynStorage,
    /// Seals and opens secrets kept in the database (destinations' credentials).
    pub secrets: crate::storage::sealed::SealKey,
    pub hub: crate::progress::Hub,
    pub wakeup: Arc<tokio::sync::Notify>,
    /// Rung when notifications were queued, so this process's sender sends them at once.
    #[from_ref(skip)]
    pub notify_wakeup: Arc<tokio::sync::Notify>,
    pub sessions: sessions::Sessions,
    pub throttle: Arc<Throttle>,
    pub streams: Arc<streams::Streams>,
    /// How sign-in tokens from the host product are checked (when set up).
    pub jwt: Option<Arc<crate::accounts::jwt::JwtSettings>>,
    #[from_ref(skip)]
    pub shutdown: Shutdown,
}

/// A node's way down (SIGTERM, Ctrl-C). First it drains: `/readyz` turns unready so the
/// load balancer sends requests elsewhere, new progress streams are told to reconnect
/// (elsewhere), and the worker finishes or hands back its exports, while requests are
/// still answered. Then it closes: the open progress streams end, so their clients
/// reconnect to another node and resume from the job's state there.
#[derive(Clone, Default)]
pub struct Shutdown {
    pub draining: tokio_util::sync::CancellationToken,
    pub closing: tokio_util::sync::CancellationToken,
}

pub const SESSION_COOKIE: &str = "egress_session";

/// The largest request body Egress reads (JSON requests and form posts are small).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The client's address (see `middleware::request_context`), a request extension.
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

fn leptos_options(args: &ServeArgs, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("egress")
        .site_root(args.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .build()
}

/// The whole HTTP surface: pages, server functions, the JSON API, health checks.
/// Layers run outside in: the request id and address, the security headers, the
/// same-origin rule, the time and size limits, the session, the login redirect.
pub fn router(state: AppState) -> Router {
    use axum::middleware::from_fn_with_state;
    let routes = generate_route_list(App);
    // Sessions are saved only when changed: a signed-in session is touched once a minute
    // (`accounts::ssr::member_of_session`), which slides the inactivity timeout.
    let sessions = SessionManagerLayer::new(state.sessions.clone())
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.settings.secure_cookies)
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(
            state.settings.session_idle_minutes,
        )));
    let options = state.leptos_options.clone();
    let timeout = Duration::from_secs(state.settings.limits.request_timeout_seconds.max(1));
    Router::new()
        .merge(api::routes())
        .merge(exports_api::routes())
        .merge(webhooks_api::routes())
        .merge(schedules_api::routes())
        .merge(destinations_api::routes())
        .merge(scrape::routes())
        .leptos_routes_with_context(&state, routes, || (), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(from_fn_with_state(state.clone(), middleware::require_login))
        .layer(sessions)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(middleware::body_limit))
        .layer(axum::middleware::from_fn(middleware::page_stall_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(from_fn_with_state(state.clone(), middleware::same_origin_changes))
        .layer(from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(from_fn_with_state(state.clone(), middleware::request_context))
        .with_state(state)
}

/// A server that is listening; dropping it does not stop it, `shutdown` does.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `args.listen` (port 0 picks one), starts the background tasks, and serves
/// until the task is aborted.
pub async fn start(
    store: DynStore,
    data: runtime::Data,
    data_dir: &std::path::Path,
    args: ServeArgs,
) -> anyhow::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let runtime = runtime::build(&store, data, &args.pipeline, data_dir, &public_url).await?;
    let drain = runtime.spawn_background(&store, &args.pipeline, !args.no_worker);
    if args.metrics_token.is_some() {
        crate::telemetry::install();
    }
    if let Some(listen) = args.pipeline.metrics_listen {
        let addr = scrape::serve_alone(listen, store.clone()).await?;
        tracing::info!(%addr, "metrics on their own address");
    }
    let drain_time = Duration::from_secs(args.pipeline.drain_seconds);
    crate::accounts::ssr::prepare().await;
    let limits = &args.limits;
    let throttle = Arc::new(Throttle::new(ThrottleSettings {
        per_account: limits.login_failures_per_account.max(1),
        per_address: limits.login_failures_per_address.max(1),
        window: Duration::from_secs(limits.login_window_minutes.max(1) * 60),
        hash_concurrency: limits
            .hash_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        hash_queue: limits.hash_queue,
    }));
    let sessions = sessions::Sessions::new(store.clone());
    let streams = Arc::new(streams::Streams::new(
        store.clone(),
        sessions.clone(),
        limits.max_streams_per_session.max(1),
        limits.max_streams.max(1),
    ));
    let header_timeout = Duration::from_secs(limits.header_timeout_seconds.max(1));
    let jwt = crate::accounts::jwt::JwtSettings::from_args(&args)?.map(Arc::new);
    anyhow::ensure!(
        jwt.is_some() || args.auth.password(),
        "--auth jwt needs --jwt-secret or --jwt-public-key: without them nobody could sign in"
    );
    let state = AppState {
        leptos_options: leptos_options(&args, addr),
        store: store.clone(),
        catalog: runtime.catalog.clone(),
        source: runtime.source.clone(),
        settings: Arc::new(args),
        storage: runtime.storage.clone(),
        secrets: runtime.secrets.clone(),
        hub: runtime.hub.clone(),
        wakeup: runtime.wakeup.clone(),
        notify_wakeup: runtime.notify_wakeup.clone(),
        sessions: sessions.clone(),
        throttle: throttle.clone(),
        streams,
        jwt,
        shutdown: Shutdown::default(),
    };
    tokio::spawn(async move {
        // Expired sessions and old sign-in failures go every ten minutes.
        use tower_sessions::ExpiredDeletion;
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = sessions.delete_expired().await {
                tracing::warn!(error = %e, "expired sessions not deleted; will try again");
            }
            if let Err(e) = throttle.prune(&store).await {
                tracing::warn!(error = %e, "old sign-in failures not deleted; will try again");
            }
            let now = chrono::Utc::now().timestamp();
            if let Err(e) = store.prune_token_ids(now).await {
                tracing::warn!(error = %e, "used sign-in token ids not deleted; will try again");
            }
            if let Err(e) = store.prune_idempotency_keys(now - 24 * 3600).await {
                tracing::warn!(error = %e, "old idempotency keys not deleted; will try again");
            }
        }
    });
    let shutdown = state.shutdown.clone();
    let stop = async move {
        shutdown_signal().await;
        tracing::info!(seconds = drain_time.as_secs(), "stopping: draining");
        shutdown.draining.cancel();
        drain.run(drain_time).await;
        shutdown.closing.cancel();
    };
    let app = router(state);
    let task = tokio::spawn(serve(listener, app, header_timeout, stop));
    Ok(RunningServer { addr, task })
}

/// Serves `app` on `listener` until `stop` is done (the drain after SIGTERM or Ctrl-C),
/// then lets open requests finish (up to ten seconds). Its own accept loop, rather than
/// `axum::serve`, for what that cannot set: a client must send its request headers within
/// `header_timeout`, so slow or idle connections cannot pile up (slowloris).
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use axum::extract::connect_info::ConnectInfo;
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tower::ServiceExt;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => {}
    }
    Ok(())
}

/// SIGTERM (what a deployment sends to stop a node) or Ctrl-C.
pub async fn shutdown_signal() {
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
