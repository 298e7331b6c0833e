//! Request logging and the signed-out redirect.

use super::AppState;
use crate::accounts::ssr::member_of_session;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;
use tower_sessions::Session;

/// One line per request: method, path, status, time taken.
pub async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    tracing::info!(
        target: "egress::http",
        "{method} {path} {} {:.1}ms",
        response.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// Paths anyone may fetch. Server functions and the JSON API check the session
/// themselves and answer 401, which suits a program better than a redirect.
fn is_public(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/pkg/", "/rpc/", "/api/", "/files/", "/login", "/signup", "/healthz", "/readyz",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || path == "/favicon.ico" || path.ends_with(".png")
}

/// Sends a signed-out visitor of any page to the login page, and back afterwards.
pub async fn require_login(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let signed_in = match req.extensions().get::<Session>() {
        Some(session) => match member_of_session(&state, session).await {
            Ok(member) => member.is_some(),
            Err(e) => {
                tracing::error!(error = %e, "session lookup failed");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
        None => false,
    };
    if signed_in {
        return next.run(req).await;
    }
    let wanted = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let location = if wanted == "/" {
        "/login".to_owned()
    } else {
        format!("/login?next={}", crate::text::percent_encode(wanted, b"/"))
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_encoded() {
        assert_eq!(
            crate::text::percent_encode("/data/orders?status=paid&tag=a b", b"/"),
            "/data/orders%3Fstatus%3Dpaid%26tag%3Da%20b"
        );
    }

    #[test]
    fn pages_are_private_and_assets_public() {
        assert!(!is_public("/"));
        assert!(!is_public("/data/contacts"));
        assert!(is_public("/login"));
        assert!(is_public("/pkg/egress.wasm"));
        assert!(is_public("/api/session"));
    }
}
