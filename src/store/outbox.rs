//! The notification outbox's SQL, for both backends: rows written in a job's transition
//! (see `worker::running`), claimed by any node's sender, settled with a record of each
//! attempt. A settle is fenced on the claim, so a sender that took too long and lost its
//! claim changes nothing. Times are Unix seconds.

use super::Store;
use super::query::{Param, Query};

/// A notification to send.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    /// `email`, `webhook` or `delivery`: which channel sends it.
    pub channel: String,
    /// `export.completed`, `export.failed`, `export.expired` or `webhook.test`.
    pub event: String,
    pub workspace_id: i64,
    pub job_id: Option<uuid::Uuid>,
    /// The address (email), the endpoint's id (webhook) or the destination's (delivery).
    pub target: String,
    /// The webhook body, as JSON (`{}` for an email, which is written when it is sent).
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: i32,
    pub created_at: i64,
    /// The claim this sender holds (the settle's fence).
    pub claimed_until: i64,
}

/// One try at delivering an item, as the history shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptRecord {
    pub outbox_id: i64,
    pub event: String,
    pub attempt: i32,
    pub at: i64,
    pub ok: bool,
    pub status_code: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// What becomes of an item after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    Delivered,
    /// Try again at this time.
    RetryAt(i64),
    GiveUp,
}

fn job_param(job: Option<uuid::Uuid>) -> Param {
    Param::MaybeText(job.map(|j| j.to_string()))
}

/// An email about `job` to `address`.
pub fn email(store: &dyn Store, workspace_id: i64, job: uuid::Uuid, event: &str, address: &str, now: i64) -> Query {
    Query {
        sql: format!(
            "INSERT INTO outbox (channel, event, workspace_id, job_id, target, payload, next_attempt_at, created_at) \
             VALUES ('email', $1, $2, $3{}, $4, '{{}}', $5, $5)",
            store.flavour().uuid
        ),
        params: vec![
            Param::Text(event.into()),
            Param::Int(workspace_id),
            job_param(Some(job)),
            Param::Text(address.into()),
            Param::Int(now),
        ],
    }
}

/// A call of `event` with `payload` to every live endpoint of the workspace that takes it.
pub fn webhooks(
    store: &dyn Store,
    workspace_id: i64,
    job: Option<uuid::Uuid>,
    event: &str,
    payload: &str,
    now: i64,
) -> Query {
    Query {
        sql: format!(
            "INSERT INTO outbox (channel, event, workspace_id, job_id, target, payload, next_attempt_at, created_at) \
             SELECT 'webhook', $1, workspace_id, $2{}, CAST(id AS TEXT), $3, $4, $4 FROM webhook_endpoints \
             WHERE workspace_id = $5 AND deleted_at IS NULL AND (',' || events || ',') LIKE $6",
            store.flavour().uuid
        ),
        params: vec![
            Param::Text(event.into()),
            job_param(job),
            Param::Text(payload.into()),
            Param::Int(now),
            Param::Int(workspace_id),
            Param::Text(format!("%,{event},%")),
        ],
    }
}

/// A copy of `job`'s file to the workspace's destination `destination`; `payload` says
/// whether Egress keeps its own copy afterwards.
pub fn delivery(
    store: &dyn Store,
    workspace_id: i64,
    job: uuid::Uuid,
    destination: i64,
    payload: &str,
    now: i64,
) -> Query {
    Query {
        sql: format!(
            "INSERT INTO outbox (channel, event, workspace_id, job_id, target, payload, next_attempt_at, created_at) \
             VALUES ('delivery', 'export.completed', $1, $2{}, $3, $4, $5, $5)",
            store.flavour().uuid
        ),
        params: vec![
            Param::Int(workspace_id),
            job_param(Some(job)),
            Param::Text(destination.to_string()),
            Param::Text(payload.into()),
            Param::Int(now),
        ],
    }
}

/// A test call to one endpoint.
pub fn webhook_test(workspace_id: i64, endpoint_id: i64, payload: &str, now: i64) -> Query {
    Query {
        sql: "INSERT INTO outbox (channel, event, workspace_id, target, payload, next_attempt_at, created_at) \
              VALUES ('webhook', 'webhook.test', $1, $2, $3, $4, $4)"
            .into(),
        params: vec![
            Param::Int(workspace_id),
            Param::Text(endpoint_id.to_string()),
            Param::Text(payload.into()),
            Param::Int(now),
        ],
    }
}

/// Due items not held by another sender, taken until `until` (on Postgres locked
/// `SKIP LOCKED`, so senders on many nodes never take the same row; the condition is in the
/// outer WHERE too, so a row claimed while this statement waited is not taken twice).
pub fn claim(store: &dyn Store, now: i64, until: i64, limit: i64) -> Query {
    let due = "delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $1 \
               AND (claimed_until IS NULL OR claimed_until < $1)";
    Query {
        sql: format!(
            "UPDATE outbox SET claimed_until = $2 WHERE {due} AND id IN \
             (SELECT id FROM outbox WHERE {due} ORDER BY next_attempt_at, id LIMIT $3{}) \
             RETURNING id, channel, event, workspace_id, {}, target, payload, attempts, created_at, claimed_until",
            store.flavour().skip_locked,
            store.flavour().uuid_text.replace("{}", "job_id"),
        ),
        params: vec![Param::Int(now), Param::Int(until), Param::Int(limit)],
    }
}

/// The steps that settle an attempt: the item's new state (fenced on the claim), then the
/// attempt's record.
pub fn settle(item: &OutboxItem, attempt: &AttemptRecord, next: Next) -> Vec<Query> {
    let (set, when) = match next {
        Next::Delivered => ("delivered_at = $1", attempt.at),
        Next::RetryAt(at) => ("next_attempt_at = $1", at),
        Next::GiveUp => ("given_up_at = $1", attempt.at),
    };
    vec![
        Query {
            sql: format!(
                "UPDATE outbox SET {set}, attempts = attempts + 1, claimed_until = NULL, last_error = $2 \
                 WHERE id = $3 AND claimed_until = $4"
            ),
            params: vec![
                Param::Int(when),
                Param::MaybeText(attempt.error.clone()),
                Param::Int(item.id),
                Param::Int(item.claimed_until),
            ],
        },
        Query {
            sql: "INSERT INTO outbox_attempts (outbox_id, attempt, at, ok, status_code, latency_ms, error) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7)"
                .into(),
            params: vec![
                Param::Int(item.id),
                Param::Int(attempt.attempt.into()),
                Param::Int(attempt.at),
                Param::Bool(attempt.ok),
                Param::MaybeInt(attempt.status_code.map(i64::from)),
                Param::Int(attempt.latency_ms),
                Param::MaybeText(attempt.error.clone()),
            ],
        },
    ]
}

/// A new webhook endpoint.
#[derive(Clone, Debug)]
pub struct NewWebhook {
    pub workspace_id: i64,
    pub url: String,
    /// The events it takes, comma-separated.
    pub events: String,
    pub description: String,
    pub secret: String,
    pub created_by: i64,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WebhookRecord {
    pub id: i64,
    pub workspace_id: i64,
    pub url: String,
    pub events: String,
    pub description: String,
    pub secret: String,
    /// The secret before the last rotation, which signs too until `previous_until`.
    pub previous_secret: Option<String>,
    pub previous_until: Option<i64>,
    pub created_at: i64,
}

pub const SELECT_WEBHOOKS: &str = "SELECT id, workspace_id, url, events, description, secret, previous_secret, \
     previous_until, created_at FROM webhook_endpoints";

pub fn webhook_record<R>(r: &R) -> Result<WebhookRecord, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
{
    Ok(WebhookRecord {
        id: r.try_get(0)?,
        workspace_id: r.try_get(1)?,
        url: r.try_get(2)?,
        events: r.try_get(3)?,
        description: r.try_get(4)?,
        secret: r.try_get(5)?,
        previous_secret: r.try_get(6)?,
        previous_until: r.try_get(7)?,
        created_at: r.try_get(8)?,
    })
}

/// Reads a row of `claim`'s RETURNING list.
pub fn outbox_item<R>(r: &R) -> Result<OutboxItem, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
{
    let job: Option<String> = r.try_get(4)?;
    let job_id = job
        .map(|j| uuid::Uuid::parse_str(&j).map_err(|e| sqlx::Error::Decode(format!("bad job id `{j}`: {e}").into())))
        .transpose()?;
    Ok(OutboxItem {
        id: r.try_get(0)?,
        channel: r.try_get(1)?,
        event: r.try_get(2)?,
        workspace_id: r.try_get(3)?,
        job_id,
        target: r.try_get(5)?,
        payload: r.try_get(6)?,
        attempts: r.try_get(7)?,
        created_at: r.try_get(8)?,
        claimed_until: r.try_get(9)?,
    })
}

/// The latest attempts at one target, newest first.
pub const SELECT_ATTEMPTS: &str = "SELECT a.outbox_id, o.event, a.attempt, a.at, a.ok, a.status_code, a.latency_ms, a.error \
     FROM outbox_attempts a JOIN outbox o ON o.id = a.outbox_id \
     WHERE o.channel = $1 AND o.target = $2 ORDER BY a.id DESC LIMIT $3";

pub fn attempt_record<R>(r: &R) -> Result<AttemptRecord, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database>,
{
    Ok(AttemptRecord {
        outbox_id: r.try_get(0)?,
        event: r.try_get(1)?,
        attempt: r.try_get(2)?,
        at: r.try_get(3)?,
        ok: r.try_get(4)?,
        status_code: r.try_get(5)?,
        latency_ms: r.try_get(6)?,
        error: r.try_get(7)?,
    })
}
