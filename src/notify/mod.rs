//! Notifications: what a job's transitions tell people and systems, through an outbox.
//!
//! A transition writes its notifications as outbox rows in its own transaction
//! (`on_event`), so a notification exists exactly when its transition happened. Any node's
//! sender claims due rows (`store::outbox::claim`), hands each to its channel — one file
//! per channel: `email.rs`, `webhook.rs` — records the attempt, and settles the row:
//! delivered, retried after the channel's next delay, or given up after the last.

pub mod delivery;
pub mod email;
pub mod webhook;

use crate::store::outbox::{self, AttemptRecord, Next, OutboxItem};
use crate::store::query::Query;
use crate::store::{DynStore, JobRecord, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};

/// What happened to an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Completed,
    Failed,
    Expired,
}

impl Event {
    pub const ALL: [Event; 3] = [Event::Completed, Event::Failed, Event::Expired];

    pub fn id(self) -> &'static str {
        match self {
            Event::Completed => "export.completed",
            Event::Failed => "export.failed",
            Event::Expired => "export.expired",
        }
    }

    pub fn parse(s: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.id() == s)
    }

    /// Whether the person who started the export gets an email.
    fn emails(self) -> bool {
        matches!(self, Event::Completed | Event::Failed)
    }
}

/// The app's page of an export: what notifications link to (never a file URL, which
/// would skip the check of who asks).
pub fn export_page(public_url: &str, job_id: &str) -> String {
    format!("{}/exports?export={job_id}", public_url.trim_end_matches('/'))
}

/// A webhook body in the Standard Webhooks shape: `type`, `timestamp`, `data`.
pub fn payload(event: &str, record: &JobRecord, public_url: &str) -> String {
    let job = &record.job;
    serde_json::json!({
        "type": event,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": {
            "id": job.id,
            "workspace_id": job.workspace_id,
            "dataset": job.dataset,
            "format": job.format.id(),
            "status": job.status.id(),
            "rows": job.total_rows,
            "bytes": job.bytes,
            "file_name": job.file_name,
            "error": job.error,
            "created_by": job.created_by,
            "created_at": job.created_at,
            "completed_at": job.completed_at,
            "expires_at": job.expires_at,
            "url": export_page(public_url, &job.id),
        }
    })
    .to_string()
}

/// The outbox rows of `event` for `record` (as it is after the transition): its email
/// and its webhook calls, to write in the transition's transaction.
pub fn on_event(store: &dyn Store, event: Event, record: &JobRecord, public_url: &str) -> Vec<Query> {
    let now = chrono::Utc::now().timestamp();
    let mut rows = Vec::new();
    if event.emails() {
        rows.push(outbox::email(
            store,
            record.workspace_id,
            record.uuid,
            event.id(),
            &record.user_email,
            now,
        ));
    }
    if let (Event::Completed, Some(destination)) = (event, record.job.options.deliver_to) {
        let payload = serde_json::json!({ "delivery_only": record.job.options.delivery_only }).to_string();
        rows.push(outbox::delivery(
            store,
            record.workspace_id,
            record.uuid,
            destination,
            &payload,
            now,
        ));
    }
    rows.push(outbox::webhooks(
        store,
        record.workspace_id,
        Some(record.uuid),
        event.id(),
        &payload(event.id(), record, public_url),
        now,
    ));
    rows
}

/// The result of one try.
#[derive(Debug)]
pub struct Delivery {
    pub ok: bool,
    /// The receiver's answer (webhooks).
    pub status_code: Option<i32>,
    pub error: Option<String>,
    /// Trying again cannot help (the endpoint was deleted, the address is refused).
    pub permanent: bool,
    /// What was done, for the audit trail (where a file was delivered).
    pub detail: Option<String>,
}

impl Delivery {
    pub fn ok(status_code: Option<i32>) -> Delivery {
        Delivery {
            ok: true,
            status_code,
            error: None,
            permanent: false,
            detail: None,
        }
    }

    pub fn failed(status_code: Option<i32>, error: impl Into<String>) -> Delivery {
        Delivery {
            ok: false,
            status_code,
            error: Some(error.into()),
            permanent: false,
            detail: None,
        }
    }

    pub fn refused(error: impl Into<String>) -> Delivery {
        Delivery {
            permanent: true,
            ..Delivery::failed(None, error)
        }
    }
}

/// A way to deliver a notification.
#[async_trait::async_trait]
pub trait Channel: Send + Sync {
    /// The `channel` of its outbox rows.
    fn id(&self) -> &'static str;
    /// The waits after each failed try; after the last, the row is given up.
    fn backoff(&self) -> &[Duration];
    async fn deliver(&self, item: &OutboxItem) -> Delivery;
    /// Audit-trail steps for the job after a try (the email says `emailed`).
    fn audit(&self, _store: &dyn Store, _item: &OutboxItem, _delivery: &Delivery, _next: Next) -> Vec<Query> {
        Vec::new()
    }
}

/// How long a claimed row is its sender's: longer than any try takes (10 s timeouts).
const CLAIM: Duration = Duration::from_secs(120);

/// Sends due notifications, when woken and every `interval`, up to eight at once.
pub fn spawn_sender(
    store: DynStore,
    channels: Vec<Arc<dyn Channel>>,
    wakeup: Arc<Notify>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(8));
        loop {
            let _ = tokio::time::timeout(interval, wakeup.notified()).await;
            loop {
                let now = chrono::Utc::now().timestamp();
                let until = now + CLAIM.as_secs() as i64;
                let claimed = match store.claim_outbox(now, until, 20).await {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim notifications; will try again");
                        break;
                    }
                };
                let full = claimed.len() == 20;
                let mut running = Vec::new();
                for item in claimed {
                    let Some(channel) = channels.iter().find(|c| c.id() == item.channel).cloned() else {
                        tracing::error!(channel = %item.channel, id = item.id, "no such notification channel");
                        continue;
                    };
                    let (store, slot) = (store.clone(), slots.clone().acquire_owned().await);
                    running.push(tokio::spawn(async move {
                        send(store.as_ref(), channel.as_ref(), &item).await;
                        drop(slot);
                    }));
                }
                for task in running {
                    let _ = task.await;
                }
                if !full {
                    break;
                }
            }
        }
    })
}

/// One try at one row, and its settlement.
pub async fn send(store: &dyn Store, channel: &dyn Channel, item: &OutboxItem) {
    let started = Instant::now();
    let delivery = channel.deliver(item).await;
    let at = chrono::Utc::now().timestamp();
    let tries = item.attempts + 1;
    let next = if delivery.ok {
        Next::Delivered
    } else {
        match channel.backoff().get(item.attempts.max(0) as usize) {
            Some(wait) if !delivery.permanent => Next::RetryAt(at + wait.as_secs() as i64),
            _ => Next::GiveUp,
        }
    };
    if let Some(error) = &delivery.error {
        tracing::warn!(channel = channel.id(), id = item.id, attempt = tries, error = %error, ?next, "notification not delivered");
    }
    let outcome = match next {
        Next::Delivered => "delivered",
        Next::RetryAt(_) => "retry",
        Next::GiveUp => "given_up",
    };
    crate::telemetry::notification(channel.id(), outcome);
    let attempt = AttemptRecord {
        outbox_id: item.id,
        event: item.event.clone(),
        attempt: tries,
        at,
        ok: delivery.ok,
        status_code: delivery.status_code,
        latency_ms: started.elapsed().as_millis() as i64,
        error: delivery.error.clone(),
    };
    let mut steps = outbox::settle(item, &attempt, next);
    steps.extend(channel.audit(store, item, &delivery, next));
    match store.transition(&steps).await {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            id = item.id,
            "the notification's claim ran out before it was settled; it is sent again"
        ),
        Err(e) => tracing::error!(id = item.id, error = %e, "could not record the notification's delivery"),
    }
}
