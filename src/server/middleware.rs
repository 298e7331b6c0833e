//! What every request goes through: an id and the client's address, one log line, the
//! security headers, the same-origin rule for changes, and the signed-out redirect.

use super::{AppState, ClientIp};
use crate::accounts::ssr::member_of_session;
use crate::error::{AppError, REQUEST_ID};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use tower_sessions::Session;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's `X-Request-Id` is kept when it is short and plain, so a request can be
/// followed from a proxy's log to Egress's; anything else gets a fresh id.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_owned)
}

/// The client's address: the connection's, or with `hops` trusted proxies in front, the
/// entry of `X-Forwarded-For` that the nearest of them added (entries further left were
/// written by the client and prove nothing).
fn client_ip(headers: &HeaderMap, peer: Option<IpAddr>, hops: usize) -> IpAddr {
    let fallback = peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
    if hops == 0 {
        return fallback;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    forwarded
        .len()
        .checked_sub(hops)
        .and_then(|i| forwarded[i].parse().ok())
        .unwrap_or(fallback)
}

/// Gives the request its id and client address, runs it with the id in scope (errors
/// and logs carry it), answers with the id, and logs one line.
pub async fn request_context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id(req.headers());
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = client_ip(req.headers(), peer, state.settings.limits.trusted_proxy_hops);
    req.extensions_mut().insert(ClientIp(ip));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    // The router's pattern (`/api/exports/{id}`), never the path: metrics' labels stay few.
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let mut response = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    let status = response.status().as_u16().to_string();
    let verb = metric_method(&method);
    metrics::counter!("egress_http_requests_total", "method" => verb, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("egress_http_request_duration_seconds", "method" => verb, "route" => route)
        .record(start.elapsed().as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::info!(
        target: "egress::http",
        request_id = %id,
        client = %ip,
        "{method} {path} {} {:.1}ms",
        response.status().as_u16(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    response
}

/// A request's method as a metrics label: a client may send any token as its method,
/// and each would be a new series kept for the process's life.
fn metric_method(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The policy for responses that are not app pages (those set their own, with the
/// nonce of their scripts): nothing runs, nothing frames them.
const DEFAULT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// The policy of an app page: its scripts carry `nonce`; the WebAssembly module needs
/// `wasm-unsafe-eval` to be compiled; there are no inline styles.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// How long a page's body may stall between two pieces before the connection is closed.
pub const PAGE_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Closes a page whose streamed body stalls: server-side rendering streams a page as its
/// data arrives, and a piece that never comes (a rare race in the renderer's Suspense)
/// must not hold a browser's connection open forever. Only HTML pages: event streams and
/// downloads have their own rhythm.
pub async fn page_stall_limit(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return response;
    }
    response.map(|body| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(PAGE_STALL, body)))
}

/// Security headers on every response; private answers are not cached.
pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let cacheable = req.uri().path().starts_with("/pkg/") || req.uri().path() == "/favicon.png";
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, DEFAULT_CSP);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    set(HeaderName::from_static("cross-origin-opener-policy"), "same-origin");
    set(
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=()",
    );
    if !cacheable {
        set(header::CACHE_CONTROL, "no-store");
    }
    if state.settings.secure_cookies {
        set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains");
    }
    response
}

/// Whether `origin` (`scheme://host[:port]`) is this app: the public URL's origin when one
/// is configured, else the host the request was sent to.
fn is_own_origin(origin: &str, headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    if let Some(public) = public_url {
        return url::Url::parse(public).is_ok_and(|p| p.origin() == origin.origin());
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let origin_host = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => return false,
    };
    origin_host.eq_ignore_ascii_case(host)
}

/// Changes (anything but GET/HEAD/OPTIONS) are accepted only from this app's own pages:
/// a browser says where a request comes from in `Sec-Fetch-Site` and `Origin`, and a
/// request another site made it send says so. That covers the server functions (which
/// take form bodies a foreign page can post without asking), the JSON API, and login
/// (so nobody can sign a victim in to an account of theirs). Programs that send neither
/// header carry no browser's cookies, so they are not a cross-site risk.
pub async fn same_origin_changes(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    // An API call with a token carries no cookie authority: the API never falls back to
    // the session when an `Authorization` header is present (`server::caller`), and a
    // page on another site cannot know the token.
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if bearer && req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let headers = req.headers();
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let foreign_site = site.is_some_and(|s| s != "same-origin" && s != "none");
    let foreign_origin = origin.is_some_and(|o| !is_own_origin(o, headers, state.settings.public_url.as_deref()));
    if foreign_site || foreign_origin {
        let from = origin.or(site).unwrap_or("another site");
        tracing::warn!(from, path = %req.uri().path(), "cross-site change refused");
        return AppError::forbidden(format!(
            "This request came from another site ({from}), so it was refused. Changes are only accepted from Egress's own pages."
        ))
        .into_response();
    }
    next.run(req).await
}

/// A body declared larger than Egress reads is refused before it is sent, with the same
/// JSON error as any other (a body that turns out larger as it streams is cut off by the
/// limit layer inside).
pub async fn body_limit(req: Request, next: Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > super::BODY_LIMIT as u64) {
        return AppError::new(
            crate::error::ErrorCode::PayloadTooLarge,
            format!("The request body is larger than {} KiB.", super::BODY_LIMIT / 1024),
        )
        .into_response();
    }
    next.run(req).await
}

/// Paths anyone may fetch. Server functions and the JSON API check the session
/// themselves and answer 401, which suits a program better than a redirect.
fn is_public(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/pkg/", "/rpc/", "/api/", "/auth/", "/login", "/signup", "/healthz", "/readyz", "/metrics",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || path == "/favicon.ico" || path.ends_with(".png")
}

/// Sends a signed-out visitor of any page to the login page, and back afterwards.
/// A request with an `Authorization` header is a program's (an API token on the download
/// link): it gets the handler's own 401, not a login page.
pub async fn require_login(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) || req.headers().contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let signed_in = match req.extensions().get::<Session>() {
        Some(session) => match member_of_session(&state, session).await {
            Ok(member) => member.is_some(),
            Err(e) => return e.into_response(),
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

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn origins_are_compared_by_host_or_public_url() {
        let h = headers(&[("host", "egress.example:8080")]);
        assert!(is_own_origin("http://egress.example:8080", &h, None));
        assert!(is_own_origin("https://egress.example:8080", &h, None));
        assert!(!is_own_origin("http://evil.example", &h, None));
        assert!(!is_own_origin("null", &h, None));
        assert!(is_own_origin(
            "https://egress.example",
            &h,
            Some("https://egress.example/")
        ));
        assert!(!is_own_origin(
            "http://egress.example",
            &h,
            Some("https://egress.example/")
        ));
    }

    #[test]
    fn forwarded_for_is_read_from_the_trusted_end() {
        let ip = IpAddr::from([10, 0, 0, 1]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]);
        assert_eq!(client_ip(&h, Some(ip), 0), ip);
        assert_eq!(client_ip(&h, Some(ip), 1).to_string(), "203.0.113.9");
        assert_eq!(client_ip(&h, Some(ip), 2).to_string(), "6.6.6.6");
        assert_eq!(client_ip(&h, Some(ip), 3), ip);
        assert_eq!(client_ip(&headers(&[("x-forwarded-for", "junk")]), Some(ip), 1), ip);
    }

    #[test]
    fn request_ids_are_kept_only_when_plain() {
        assert_eq!(request_id(&headers(&[("x-request-id", "abc-123_x.y")])), "abc-123_x.y");
        assert_ne!(request_id(&headers(&[("x-request-id", "a b")])), "a b");
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }

    fn never_ending(content_type: &'static str) -> axum::Router {
        axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || async move {
                    let body = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
                    (
                        [(header::CONTENT_TYPE, content_type)],
                        axum::body::Body::from_stream(body),
                    )
                }),
            )
            .layer(axum::middleware::from_fn(page_stall_limit))
    }

    async fn body_of(app: axum::Router) -> Result<Result<axum::body::Bytes, axum::Error>, tokio::time::error::Elapsed> {
        use tower::ServiceExt;
        let request = axum::http::Request::get("/").body(axum::body::Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(3600),
            axum::body::to_bytes(response.into_body(), usize::MAX),
        )
        .await
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_page_is_closed_but_streams_are_not() {
        // The page's body ends in an error once it stalls for PAGE_STALL.
        assert!(matches!(
            body_of(never_ending("text/html; charset=utf-8")).await,
            Ok(Err(_))
        ));
        // An event stream may stay quiet: only the test's own hour runs out.
        assert!(body_of(never_ending("text/event-stream")).await.is_err());
    }
}
