//! What admins may do with a workspace's webhook endpoints: add one (its secret shown
//! once), list them with their latest deliveries, rotate a secret (the old one keeps
//! signing for a day), delete one, and send a test event. The same rules serve the page's
//! server functions and the JSON API.

use super::{DeliveryView, EndpointView};
use crate::accounts::ssr::Member;
use crate::error::AppError;
use crate::notify::Event;
use crate::notify::webhook::{check_url, new_secret};
use crate::server::AppState;
use crate::store::{AttemptRecord, NewWebhook, WebhookRecord, outbox};
use chrono::Utc;

/// How long a rotated-out secret still signs.
pub const ROTATION_OVERLAP_SECONDS: i64 = 24 * 3600;
/// Deliveries shown per endpoint.
const HISTORY: i64 = 20;

use crate::store::from_unix as time;

fn may_manage(member: &Member) -> Result<(), AppError> {
    crate::accounts::roles::may_manage(member.role, "webhooks").map_err(AppError::forbidden)
}

/// One try, as the pages show it (webhook calls and deliveries alike).
pub fn delivery_view(a: &AttemptRecord) -> DeliveryView {
    DeliveryView {
        message: format!("msg_{}", a.outbox_id),
        event: a.event.clone(),
        attempt: a.attempt,
        at: time(a.at),
        ok: a.ok,
        status_code: a.status_code,
        latency_ms: a.latency_ms,
        error: a.error.clone(),
    }
}

async fn view(state: &AppState, w: &WebhookRecord) -> Result<EndpointView, AppError> {
    let now = Utc::now().timestamp();
    let history = state
        .store
        .outbox_attempts("webhook", &w.id.to_string(), HISTORY)
        .await?;
    Ok(EndpointView {
        id: w.id,
        url: w.url.clone(),
        events: w
            .events
            .split(',')
            .filter(|e| !e.is_empty())
            .map(str::to_owned)
            .collect(),
        description: w.description.clone(),
        created_at: time(w.created_at),
        previous_secret_until: w.previous_until.filter(|until| *until > now).map(time),
        deliveries: history.iter().map(delivery_view).collect(),
    })
}

/// The workspace's endpoint `id`, or 404.
async fn endpoint(state: &AppState, member: &Member, id: i64) -> Result<WebhookRecord, AppError> {
    match state.store.webhook(id).await? {
        Some(w) if w.workspace_id == member.workspace_id => Ok(w),
        _ => Err(AppError::not_found(
            "There is no such webhook endpoint in this workspace.",
        )),
    }
}

pub async fn list(state: &AppState, member: &Member) -> Result<Vec<EndpointView>, AppError> {
    may_manage(member)?;
    let mut out = Vec::new();
    for w in state.store.webhooks(member.workspace_id).await? {
        out.push(view(state, &w).await?);
    }
    Ok(out)
}

pub async fn get(state: &AppState, member: &Member, id: i64) -> Result<EndpointView, AppError> {
    may_manage(member)?;
    view(state, &endpoint(state, member, id).await?).await
}

/// Adds an endpoint; how it is listed, and its secret (shown this once).
pub async fn create(
    state: &AppState,
    member: &Member,
    url: &str,
    events: &[String],
    description: &str,
) -> Result<(EndpointView, String), AppError> {
    may_manage(member)?;
    let url = url.trim();
    if let Some(why) = check_url(url) {
        return Err(AppError::invalid("url", format!("the URL {why}")));
    }
    if events.is_empty() {
        return Err(AppError::invalid("events", "choose at least one event"));
    }
    let mut chosen: Vec<&str> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let event = Event::parse(e).ok_or_else(|| {
            AppError::invalid(
                format!("events.{i}"),
                format!("`{e}` is not an event (export.completed, export.failed, export.expired)"),
            )
        })?;
        if !chosen.contains(&event.id()) {
            chosen.push(event.id());
        }
    }
    let description = description.trim();
    if description.chars().count() > 200 {
        return Err(AppError::invalid("description", "at most 200 characters"));
    }
    // Said now rather than at the first delivery: a private or unknown host (last, as it
    // asks the resolver).
    let parsed = url::Url::parse(url).map_err(|e| AppError::invalid("url", e.to_string()))?;
    if let Err(why) = crate::outbound::resolve(&parsed, state.settings.pipeline.allow_private_targets).await {
        return Err(AppError::invalid("url", why));
    }
    let secret = new_secret();
    let id = state
        .store
        .create_webhook(&NewWebhook {
            workspace_id: member.workspace_id,
            url: url.to_owned(),
            events: chosen.join(","),
            description: description.to_owned(),
            secret: secret.clone(),
            created_by: member.user_id,
            created_at: Utc::now().timestamp(),
        })
        .await?;
    Ok((get(state, member, id).await?, secret))
}

/// A new secret for an endpoint; the old one keeps signing for a day.
pub async fn rotate(state: &AppState, member: &Member, id: i64) -> Result<(EndpointView, String), AppError> {
    may_manage(member)?;
    endpoint(state, member, id).await?;
    let secret = new_secret();
    let until = Utc::now().timestamp() + ROTATION_OVERLAP_SECONDS;
    state
        .store
        .rotate_webhook_secret(member.workspace_id, id, &secret, until)
        .await?;
    Ok((get(state, member, id).await?, secret))
}

pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    may_manage(member)?;
    endpoint(state, member, id).await?;
    state
        .store
        .delete_webhook(member.workspace_id, id, Utc::now().timestamp())
        .await?;
    Ok(())
}

/// Queues a `webhook.test` call to the endpoint; it shows in the history when sent.
pub async fn send_test(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    may_manage(member)?;
    let w = endpoint(state, member, id).await?;
    let payload = serde_json::json!({
        "type": "webhook.test",
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {"endpoint_id": w.id, "workspace_id": w.workspace_id, "message": "A test call from Egress."}
    })
    .to_string();
    state
        .store
        .execute(&outbox::webhook_test(
            w.workspace_id,
            w.id,
            &payload,
            Utc::now().timestamp(),
        ))
        .await?;
    state.notify_wakeup.notify_one();
    Ok(())
}
