//! The one error type of both front doors: the JSON API answers it as
//! `{"error": {...}}` with its status, the server functions return it as it is, and the
//! pages read `field` from it to put the message beside the right input.
//!
//! An internal error (a database or storage failure) never shows its detail: the user
//! gets a plain sentence and a request id, and the log has the detail under that id.

use serde::{Deserialize, Serialize};

/// What went wrong, as a program reads it. Each code has one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A field of the request is wrong (400); `field` names it.
    Invalid,
    /// Not signed in, or the session ended (401).
    Unauthorized,
    /// Wrong email or password (401).
    BadCredentials,
    /// Signed in, but the role does not allow it, or the request came from another site (403).
    Forbidden,
    NotFound,
    EmailTaken,
    /// The export is not in a state that allows it (409).
    NotReady,
    /// The request clashes with an earlier one (an `Idempotency-Key` reused) (409).
    Conflict,
    /// The export's file was deleted when it expired (410).
    Expired,
    /// The request body is too large (413).
    PayloadTooLarge,
    /// The body was not sent as JSON: its `Content-Type` is missing or another (415).
    UnsupportedMediaType,
    /// Too many attempts or streams; `retry_after` says when to try again (429).
    RateLimited,
    /// The workspace's limit of running exports (429).
    TooManyExports,
    /// Egress failed; the message carries the request id (500).
    Internal,
    /// Egress is busy or could not be reached; try again (503).
    Unavailable,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::Invalid => 400,
            ErrorCode::Unauthorized | ErrorCode::BadCredentials => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::EmailTaken | ErrorCode::NotReady | ErrorCode::Conflict => 409,
            ErrorCode::Expired => 410,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::RateLimited | ErrorCode::TooManyExports => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, as a path (`filters.status`, `options.bom`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds until a rate-limited request may be tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// The id under which the server logged this request (in every answer of the JSON API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl AppError {
    /// The same error for a request nested under `prefix` (`export` → `export.format`).
    pub fn within(self, prefix: &str) -> AppError {
        match &self.field {
            Some(field) => {
                let message = self
                    .message
                    .strip_prefix(&format!("{field}: "))
                    .unwrap_or(&self.message);
                AppError::invalid(format!("{prefix}.{field}"), message)
            }
            None => self,
        }
    }

    pub fn new(code: ErrorCode, message: impl Into<String>) -> AppError {
        AppError {
            code,
            message: message.into(),
            field: None,
            retry_after: None,
            request_id: None,
        }
    }

    /// A bad field: the message starts with the field's name, so it reads on its own.
    pub fn invalid(field: impl Into<String>, message: impl std::fmt::Display) -> AppError {
        let field = field.into();
        AppError {
            field: Some(field.clone()),
            ..AppError::new(ErrorCode::Invalid, format!("{field}: {message}"))
        }
    }

    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::Forbidden, message)
    }

    pub fn unauthorized() -> AppError {
        AppError::new(ErrorCode::Unauthorized, "You are not signed in.")
    }

    pub fn not_found(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::NotFound, message)
    }

    pub fn rate_limited(message: impl Into<String>, retry_after: u64) -> AppError {
        AppError {
            retry_after: Some(retry_after.max(1)),
            ..AppError::new(ErrorCode::RateLimited, message)
        }
    }

    /// The message without the `field: ` prefix, for showing beside the field itself.
    pub fn field_message(&self) -> &str {
        match &self.field {
            Some(field) => self
                .message
                .strip_prefix(field.as_str())
                .and_then(|m| m.strip_prefix(": "))
                .unwrap_or(&self.message),
            None => &self.message,
        }
    }
}

/// Server functions return `AppError`; what goes wrong on the way (the network, a body
/// that does not parse) becomes one too.
impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Args(m) | E::Deserialization(m) => AppError::new(ErrorCode::Invalid, m),
            E::Request(_) | E::Response(_) => AppError::new(
                ErrorCode::Unavailable,
                "Egress could not be reached. Check your connection and try again.",
            ),
            other => AppError::new(ErrorCode::Internal, other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
pub use ssr::*;

#[cfg(feature = "ssr")]
mod ssr {
    use super::{AppError, ErrorCode};
    use axum::http::{HeaderValue, StatusCode, header};
    use axum::response::{IntoResponse, Response};

    tokio::task_local! {
        /// The id of the request being served (set by the request middleware).
        pub static REQUEST_ID: String;
    }

    /// The current request's id, or a fresh one outside a request.
    pub fn request_id() -> String {
        REQUEST_ID
            .try_with(Clone::clone)
            .unwrap_or_else(|_| uuid::Uuid::new_v4().simple().to_string())
    }

    impl AppError {
        /// Logs the detail under the request id and answers a plain sentence with the id.
        pub fn internal(detail: impl std::fmt::Display) -> AppError {
            let id = request_id();
            tracing::error!(request_id = %id, error = %detail, "request failed");
            AppError {
                request_id: Some(id.clone()),
                ..AppError::new(
                    ErrorCode::Internal,
                    format!(
                        "Something went wrong on our side. If it keeps happening, tell your administrator \
                         the request id {id}."
                    ),
                )
            }
        }

        pub fn status(&self) -> StatusCode {
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        }

        /// Sets this error's status (and `Retry-After`) on the server function's response:
        /// only when the request is the server function's own (`/rpc/…`), not a page whose
        /// render called it, which answers with its own status.
        pub fn set_on_response(&self) {
            let own_request = leptos::prelude::use_context::<axum::http::request::Parts>()
                .is_some_and(|parts| parts.uri.path().starts_with("/rpc/"));
            if !own_request {
                return;
            }
            if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(self.status());
                if let Some(seconds) = self.retry_after {
                    response.insert_header(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
            }
        }
    }

    /// Runs a server function's body; an error also sets the response's status, so the
    /// server functions answer with the same statuses as the JSON API.
    pub async fn server_fn<T>(body: impl Future<Output = Result<T, AppError>>) -> Result<T, AppError> {
        let result = body.await;
        if let Err(e) = &result {
            e.set_on_response();
        }
        result
    }

    impl IntoResponse for AppError {
        /// Every error names the request it answers, so a client's report can be found
        /// in the log.
        fn into_response(mut self) -> Response {
            if self.request_id.is_none() {
                self.request_id = REQUEST_ID.try_with(Clone::clone).ok();
            }
            let status = self.status();
            let retry_after = self.retry_after;
            let mut response = (status, axum::Json(serde_json::json!({ "error": self }))).into_response();
            if let Some(seconds) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            response
        }
    }

    impl From<crate::store::StoreError> for AppError {
        fn from(e: crate::store::StoreError) -> Self {
            AppError::internal(e)
        }
    }

    impl From<crate::source::SourceError> for AppError {
        fn from(e: crate::source::SourceError) -> Self {
            match e {
                crate::source::SourceError::NoTenant => AppError::forbidden(e.to_string()),
                e => AppError::internal(e),
            }
        }
    }

    impl From<crate::storage::StorageError> for AppError {
        fn from(e: crate::storage::StorageError) -> Self {
            AppError::internal(e)
        }
    }

    impl From<tower_sessions::session::Error> for AppError {
        fn from(e: tower_sessions::session::Error) -> Self {
            AppError::internal(e)
        }
    }

    /// A JSON body read with the path of the field at fault in every error: an unknown
    /// key, a missing one or a wrong type each name their field, and a body over the
    /// limit is 413.
    pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let parsed = serde_path_to_error::deserialize(&mut deserializer);
        // Text after the value is a malformed body, not a field.
        if parsed.is_ok()
            && let Err(e) = deserializer.end()
        {
            return Err(AppError::invalid(
                "body",
                e.to_string().split(" at line ").next().unwrap_or_default(),
            ));
        }
        parsed.map_err(|e| {
            let message = e.inner().to_string();
            let path = e.path().to_string();
            let parent = (path != ".").then_some(path);
            // serde names a missing or unknown key in its message; the path is its parent.
            let key = ["missing field `", "unknown field `"]
                .iter()
                .find_map(|prefix| message.strip_prefix(prefix))
                .and_then(|rest| rest.split('`').next());
            let field = match (parent, key) {
                (Some(parent), Some(key)) if !parent.ends_with(key) => format!("{parent}.{key}"),
                (Some(parent), _) => parent,
                (None, Some(key)) => key.to_owned(),
                (None, None) => "body".to_owned(),
            };
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            AppError::invalid(field, message)
        })
    }

    /// The body of a JSON API request, read only when it was declared JSON
    /// (`Content-Type: application/json`, with parameters such as `charset`, or a
    /// `+json` type): the one place the API checks that, so a form or a text body is
    /// refused (415) rather than read as JSON. `parse` gives the value, or the first
    /// problem: the content type, the body's size (413), then its fields (400). The
    /// handler asks it after the caller's scope, so a refused caller learns nothing of it.
    pub struct JsonBody(Result<axum::body::Bytes, AppError>);

    /// Whether `content_type` says JSON: `application/json` or `application/…+json`, in
    /// any case, with any parameters.
    pub fn is_json(content_type: &str) -> bool {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype == "json" || subtype.ends_with("+json"))
    }

    impl<S: Send + Sync> axum::extract::FromRequest<S> for JsonBody {
        type Rejection = std::convert::Infallible;

        async fn from_request(request: axum::extract::Request, state: &S) -> Result<JsonBody, Self::Rejection> {
            let content_type = request
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let body = match content_type {
                Some(t) if is_json(&t) => axum::body::Bytes::from_request(request, state)
                    .await
                    .map_err(AppError::from),
                given => Err(AppError::new(
                    ErrorCode::UnsupportedMediaType,
                    match given {
                        None => "The request has no Content-Type: send the body as application/json.".to_owned(),
                        Some(t) => format!("The body was sent as `{t}`: send the body as application/json."),
                    },
                )),
            };
            Ok(JsonBody(body))
        }
    }

    impl JsonBody {
        /// The body as a `T` (see `parse_json`), or why not.
        pub fn parse<T: serde::de::DeserializeOwned>(self) -> Result<T, AppError> {
            parse_json(&self.0?)
        }
    }

    /// A body axum could not read: 413 when it is over the limit.
    impl From<axum::extract::rejection::BytesRejection> for AppError {
        fn from(e: axum::extract::rejection::BytesRejection) -> Self {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "The request body is larger than {} KiB.",
                        crate::server::BODY_LIMIT / 1024
                    ),
                )
            } else {
                AppError::invalid("body", e.body_text())
            }
        }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        status: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        format: String,
        count: Option<i64>,
        #[serde(default)]
        filters: Option<Inner>,
    }

    fn field_of(body: &str) -> String {
        parse_json::<Outer>(body.as_bytes()).unwrap_err().field.unwrap()
    }

    #[test]
    fn every_json_error_names_its_field() {
        assert_eq!(field_of(r#"{}"#), "format");
        assert_eq!(field_of(r#"{"format": "csv", "colour": 1}"#), "colour");
        assert_eq!(
            field_of(r#"{"format": "csv", "filters": {"stauts": "x"}}"#),
            "filters.stauts"
        );
        assert_eq!(field_of(r#"{"format": 3}"#), "format");
        assert_eq!(field_of(r#"{"format": "csv", "count": "many"}"#), "count");
        assert_eq!(
            field_of(r#"{"format": "csv", "filters": {"status": 1}}"#),
            "filters.status"
        );
        assert_eq!(field_of(r#"not json"#), "body");
        assert_eq!(field_of(r#"{"format": "csv"} trailing"#), "body");
    }

    #[test]
    fn json_is_application_json_or_a_json_suffix() {
        for yes in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON ;charset=UTF-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in [
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
            "text/json",
            "application/jsonp",
        ] {
            assert!(!is_json(no), "{no}");
        }
        assert_eq!(ErrorCode::UnsupportedMediaType.status(), 415);
    }

    #[test]
    fn the_field_message_drops_the_prefix() {
        let e = AppError::invalid("options.bom", "only CSV files can start with a byte order mark");
        assert_eq!(
            e.message,
            "options.bom: only CSV files can start with a byte order mark"
        );
        assert_eq!(e.field_message(), "only CSV files can start with a byte order mark");
        assert_eq!(e.code.status(), 400);
    }
}
