//! `GET /metrics` (Prometheus text, `telemetry.rs`): on the main port behind
//! `--metrics-token`, and alone on `--metrics-listen` (any process, the worker too).

use super::AppState;
use crate::store::DynStore;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, extract::FromRef};

/// Metrics as Prometheus reads them.
fn text(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

/// On the main port: only with `Authorization: Bearer <--metrics-token>`; not there at
/// all without the flag.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = state.settings.metrics_token.as_deref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared by their hashes, so the time a comparison takes tells nothing of the token.
    let matches = given.is_some_and(|given| {
        use sha2::Digest;
        sha2::Sha256::digest(given.as_bytes()) == sha2::Sha256::digest(token.as_bytes())
    });
    if !matches {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "/metrics needs Authorization: Bearer <the --metrics-token>",
        )
            .into_response();
    }
    text(crate::telemetry::render(DynStore::from_ref(&state).as_ref()).await)
}

/// Serves `/metrics` alone on `listen`, without a token (for an address only the scraper
/// reaches), until the process ends. Returns the address bound.
pub async fn serve_alone(listen: std::net::SocketAddr, store: DynStore) -> std::io::Result<std::net::SocketAddr> {
    crate::telemetry::install();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let store = store.clone();
            async move { text(crate::telemetry::render(store.as_ref()).await) }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(addr)
}
