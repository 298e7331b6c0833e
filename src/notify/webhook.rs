//! The webhook channel: signed HTTP calls to a workspace's endpoints, following the
//! Standard Webhooks conventions (standardwebhooks.com): `webhook-id` (the same on every
//! retry), `webhook-timestamp` (Unix seconds) and `webhook-signature` (`v1,` and the
//! base64 HMAC-SHA256 of `id.timestamp.body` under the endpoint's `whsec_` secret; during
//! a rotation the previous secret signs too, space-separated).
//!
//! Egress never calls an address its policy refuses (`crate::outbound`: loopback, private,
//! link-local and every other special-purpose block) unless the operator allows it
//! (`--allow-private-targets`): the host is resolved before each call and the call goes to
//! the addresses that were checked (no second lookup a DNS trick could change, no proxy),
//! without following redirects.

use super::{Channel, Delivery};
use crate::store::outbox::OutboxItem;
use crate::store::{DynStore, WebhookRecord};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: 24 random bytes.
pub fn new_secret() -> String {
    format!("{SECRET_PREFIX}{}", BASE64.encode(rand::random::<[u8; 24]>()))
}

/// `v1,<signature>` of one message under one secret.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> String {
    let key = BASE64
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: the current secret's, and the previous one's while
/// it still signs.
pub fn signatures(endpoint: &WebhookRecord, msg_id: &str, timestamp: i64, body: &str) -> String {
    let mut out = sign(&endpoint.secret, msg_id, timestamp, body);
    if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until)
        && until > timestamp
    {
        out.push(' ');
        out.push_str(&sign(previous, msg_id, timestamp, body));
    }
    out
}

/// Why a URL cannot be an endpoint, in a sentence; `None` when it can.
pub fn check_url(url: &str) -> Option<String> {
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("is not a URL ({e})")),
    };
    if url.len() > 2000 {
        return Some("is longer than 2,000 characters".into());
    }
    if !matches!(parsed.scheme(), "https" | "http") {
        return Some("must start with https:// (or http://)".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("must not carry a user name or password; use the signature to trust calls".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Some("has no host".into());
    }
    None
}

/// Calls workspaces' endpoints.
pub struct WebhookChannel {
    pub store: DynStore,
    pub allow_private: bool,
    /// The waits between tries (`BACKOFF` unless the operator sets others).
    pub backoff: Vec<Duration>,
}

/// Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — over a day.
pub const BACKOFF: &[Duration] = &[
    Duration::from_secs(5),
    Duration::from_secs(300),
    Duration::from_secs(1800),
    Duration::from_secs(7200),
    Duration::from_secs(18000),
    Duration::from_secs(36000),
    Duration::from_secs(36000),
];

impl WebhookChannel {
    /// One signed POST of `body` to `endpoint`.
    pub async fn call(&self, endpoint: &WebhookRecord, msg_id: &str, body: &str) -> Delivery {
        let url = match url::Url::parse(&endpoint.url) {
            Ok(url) => url,
            Err(e) => return Delivery::refused(format!("bad URL: {e}")),
        };
        let addrs = match crate::outbound::resolve(&url, self.allow_private).await {
            Ok(addrs) => addrs,
            Err(e) if e.contains(crate::outbound::NOT_PUBLIC) => return Delivery::refused(e),
            Err(e) => return Delivery::failed(None, e),
        };
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .resolve_to_addrs(&host, &addrs)
            // HTTP(S)_PROXY is not honoured: a proxy would resolve the host again itself,
            // and reach what the address policy refuses.
            .no_proxy()
            .user_agent(concat!("Egress-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(e) => return Delivery::failed(None, e.to_string()),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures(endpoint, msg_id, timestamp, body))
            .body(body.to_owned())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Delivery::ok(Some(r.status().as_u16().into())),
            // 410: the receiver says the endpoint is gone for good.
            Ok(r) if r.status() == reqwest::StatusCode::GONE => Delivery {
                permanent: true,
                ..Delivery::failed(Some(410), "the endpoint answered 410 Gone")
            },
            Ok(r) => Delivery::failed(
                Some(r.status().as_u16().into()),
                format!("the endpoint answered {}", r.status()),
            ),
            Err(e) if e.is_timeout() => Delivery::failed(None, "no answer within 10 seconds"),
            Err(e) => Delivery::failed(None, format!("could not connect: {e}")),
        }
    }
}

#[async_trait::async_trait]
impl Channel for WebhookChannel {
    fn id(&self) -> &'static str {
        "webhook"
    }

    fn backoff(&self) -> &[Duration] {
        &self.backoff
    }

    async fn deliver(&self, item: &OutboxItem) -> Delivery {
        let endpoint = match item.target.parse::<i64>() {
            Ok(id) => self.store.webhook(id).await,
            Err(_) => return Delivery::refused("not an endpoint id"),
        };
        match endpoint {
            Ok(Some(endpoint)) if endpoint.workspace_id == item.workspace_id => {
                self.call(&endpoint, &format!("msg_{}", item.id), &item.payload).await
            }
            Ok(_) => Delivery::refused("the endpoint was deleted"),
            Err(e) => Delivery::failed(None, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signs_as_the_specification_says() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(check_url("https://hooks.example.com/egress"), None);
        assert!(check_url("ftp://x.example/").unwrap().contains("https://"));
        assert!(check_url("https://user:pw@x.example/").unwrap().contains("user name"));
        assert!(check_url("not a url").unwrap().contains("not a URL"));
    }
}
