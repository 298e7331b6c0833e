//! The database: one `Store` interface with a Postgres and a SQLite implementation.
//!
//! Everything that differs between the two backends (SQL syntax, how a timestamp or a tag
//! list is stored, bulk loading) lives in `postgres.rs` and `sqlite.rs`; `query.rs` builds
//! the dataset queries that both share, asking the backend's `Dialect` for the parts that
//! differ.

#[macro_use]
mod shared;
pub mod destinations;
pub mod jobs;
pub mod outbox;
mod postgres;
pub mod query;
pub mod schedules;
mod sqlite;

use crate::catalog::Cell;
use async_trait::async_trait;
use std::sync::Arc;

pub use destinations::{DestinationRecord, NewDestination};
pub use jobs::{Alongside, Created, JobRecord, Lease, NewJob, Outcome};
pub use outbox::{AttemptRecord, NewWebhook, Next, OutboxItem, WebhookRecord};
pub use postgres::PgStore;
pub use schedules::{RunRecord, ScheduleFields, ScheduleRecord};
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A time the store keeps as Unix seconds.
pub fn from_unix(at: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(at, 0).unwrap_or_default()
}

#[derive(Clone, Debug)]
pub struct UserRecord {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

pub use crate::accounts::Membership;

/// A new API token: only the hash of its secret is stored.
#[derive(Clone, Debug)]
pub struct NewApiToken {
    pub workspace_id: i64,
    pub created_by: i64,
    pub name: String,
    pub prefix: String,
    pub token_hash: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct ApiTokenRecord {
    pub id: i64,
    pub workspace_id: i64,
    pub created_by: i64,
    pub created_by_name: String,
    pub name: String,
    pub prefix: String,
    pub scopes: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What became of an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyClaim {
    /// This request has it now.
    Claimed,
    /// An earlier request has it: with this body hash, and its job once made.
    Taken {
        request_hash: String,
        job_id: Option<String>,
    },
}

/// Connections of a pool: busy, idle, and the most it may open.
#[derive(Clone, Copy, Debug)]
pub struct PoolUse {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

/// Who signs in from the host product (`accounts::jwt`).
#[derive(Clone, Copy, Debug)]
pub struct NewIdentity<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub link_by_email: bool,
    pub now: i64,
}

pub use crate::accounts::people::Person;

/// What became of a removal (`Store::remove_membership`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NotAMember,
    /// Refused: they are the workspace's last owner.
    LastOwner,
}

/// A new user and the workspace they own (sign-up, demo data, `egress user add`).
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies the migrations under `migrations/<backend>`.
    async fn migrate(&self) -> StoreResult<()>;
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// Export jobs by status (deleted ones too: they still ran), for `/metrics`.
    async fn count_jobs_by_status(&self) -> StoreResult<Vec<(crate::exports::JobStatus, i64)>>;
    /// How this process's pool is used now, for `/metrics`.
    fn pool_use(&self) -> PoolUse;

    /// Creates a workspace; returns its id.
    async fn create_workspace(&self, name: &str) -> StoreResult<i64>;
    /// Creates a workspace whose rows carry `tenant_key` in the source;
    /// `Conflict("tenant key")` when another workspace has it.
    async fn create_tenant_workspace(&self, name: &str, tenant_key: &str) -> StoreResult<i64>;
    /// Gives a workspace its tenant key (the demo's, so sign-in links can name them).
    async fn set_tenant_key(&self, workspace_id: i64, tenant_key: &str) -> StoreResult<()>;
    async fn count_workspaces(&self) -> StoreResult<i64>;
    /// Creates a user; `Conflict("email")` when the email is taken. Returns the user id.
    async fn create_user(&self, user: &NewUser) -> StoreResult<i64>;
    /// Creates a workspace and its owner in one transaction (sign-up).
    async fn create_account(&self, workspace_name: &str, owner: &NewUser) -> StoreResult<(i64, i64)>;
    async fn add_membership(&self, workspace_id: i64, user_id: i64, role: &str) -> StoreResult<()>;
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    async fn user_by_id(&self, id: i64) -> StoreResult<Option<UserRecord>>;
    /// The workspaces a user belongs to, oldest membership first.
    async fn memberships(&self, user_id: i64) -> StoreResult<Vec<Membership>>;
    async fn workspace_name(&self, id: i64) -> StoreResult<Option<String>>;
    /// How many hours the workspace keeps files (`None`: the operator's default).
    async fn workspace_retention(&self, id: i64) -> StoreResult<Option<f64>>;
    async fn set_workspace_retention(&self, id: i64, hours: Option<f64>) -> StoreResult<()>;
    /// The ids of workspaces with this name (names need not be unique).
    async fn workspaces_named(&self, name: &str) -> StoreResult<Vec<i64>>;

    // --- Sessions (see `server::sessions`): times are Unix seconds. ---------------------
    /// Inserts a session; `false` when the id is taken.
    async fn insert_session(&self, id: &str, user_id: Option<i64>, data: &str, expires_at: i64) -> StoreResult<bool>;
    /// Updates a session that still exists; `false` when it is gone (logged out).
    async fn update_session(&self, id: &str, user_id: Option<i64>, data: &str, expires_at: i64) -> StoreResult<bool>;
    /// A live session's data and expiry.
    async fn load_session(&self, id: &str, now: i64) -> StoreResult<Option<(String, i64)>>;
    async fn delete_session(&self, id: &str) -> StoreResult<()>;
    async fn delete_expired_sessions(&self, now: i64) -> StoreResult<u64>;

    // --- Sign-in from the host product (see `accounts::jwt`). ---------------------------
    /// Records a sign-in token's id; `false` when it was used before.
    async fn use_token_id(&self, jti: &str, expires_at: i64) -> StoreResult<bool>;
    async fn prune_token_ids(&self, now: i64) -> StoreResult<u64>;
    /// The user the host knows as (issuer, subject), if any (a link kept before issuers
    /// were, issuer '', counts).
    async fn identity_user(&self, issuer: &str, subject: &str) -> StoreResult<Option<i64>>;
    /// The user the host knows as (issuer, subject), their email and name updated; an
    /// unknown identity is a new user without a password. An unknown identity whose
    /// email an account has already is `Conflict("email")`, unless `link_by_email` and
    /// that account is linked to no identity yet.
    async fn sign_in_identity(&self, identity: &NewIdentity<'_>) -> StoreResult<i64>;
    /// Takes a person out of a workspace: the membership goes, the tokens they made there
    /// are revoked, and their sessions end when no workspace is left to them. The last
    /// owner stays (a workspace nobody can manage helps no one).
    async fn remove_membership(&self, workspace_id: i64, user_id: i64, now: i64) -> StoreResult<Removal>;
    /// The workspace's people, by name.
    async fn workspace_people(&self, workspace_id: i64) -> StoreResult<Vec<Person>>;
    /// Every workspace's tenant key, by workspace id.
    async fn tenant_keys(&self) -> StoreResult<Vec<(i64, String)>>;
    /// The workspace whose rows carry `tenant_key`, if there is one.
    async fn tenant_workspace(&self, tenant_key: &str) -> StoreResult<Option<i64>>;
    /// The workspace whose rows carry `tenant_key`, created (or renamed) as `name`.
    async fn upsert_tenant_workspace(&self, tenant_key: &str, name: &str) -> StoreResult<i64>;

    // --- API tokens and idempotency keys (see `accounts::tokens`). ------------------
    async fn create_api_token(&self, token: &NewApiToken) -> StoreResult<i64>;
    async fn api_tokens(&self, workspace_id: i64) -> StoreResult<Vec<ApiTokenRecord>>;
    async fn api_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiTokenRecord>>;
    async fn api_token_by_id(&self, id: i64) -> StoreResult<Option<ApiTokenRecord>>;
    async fn touch_api_token(&self, id: i64, now: i64) -> StoreResult<()>;
    /// Revokes a token of the workspace; `false` when there is no such live token.
    async fn revoke_api_token(&self, workspace_id: i64, id: i64, now: i64) -> StoreResult<bool>;
    /// Takes an idempotency key for a request, or says what it was taken for.
    async fn claim_idempotency_key(
        &self,
        workspace_id: i64,
        key: &str,
        request_hash: &str,
        now: i64,
    ) -> StoreResult<IdempotencyClaim>;
    /// The job a claimed key's request made (`None`: give the key back, it made none).
    async fn settle_idempotency_key(&self, workspace_id: i64, key: &str, job_id: Option<&str>) -> StoreResult<()>;
    async fn prune_idempotency_keys(&self, before: i64) -> StoreResult<u64>;

    // --- The notification outbox (see `notify`) and webhook endpoints. ------------------
    /// Claims up to `limit` due notifications until `until` (see `outbox::claim`).
    async fn claim_outbox(&self, now: i64, until: i64, limit: i64) -> StoreResult<Vec<OutboxItem>>;
    /// The latest attempts at a channel's target (a webhook endpoint's history).
    async fn outbox_attempts(&self, channel: &str, target: &str, limit: i64) -> StoreResult<Vec<AttemptRecord>>;
    async fn create_webhook(&self, new: &NewWebhook) -> StoreResult<i64>;
    /// A workspace's live endpoints, newest first.
    async fn webhooks(&self, workspace_id: i64) -> StoreResult<Vec<WebhookRecord>>;
    /// A live endpoint.
    async fn webhook(&self, id: i64) -> StoreResult<Option<WebhookRecord>>;
    /// A new secret; the old one signs too until `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        workspace_id: i64,
        id: i64,
        secret: &str,
        previous_until: i64,
    ) -> StoreResult<bool>;
    async fn delete_webhook(&self, workspace_id: i64, id: i64, now: i64) -> StoreResult<bool>;

    // --- The login throttle (see `accounts::throttle`). ---------------------------------
    /// How many failures `key` has had since `since`, and when the oldest of them was.
    async fn login_failures(&self, key: &str, since: i64) -> StoreResult<(i64, Option<i64>)>;
    async fn add_login_failure(&self, keys: &[&str], at: i64) -> StoreResult<()>;
    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;
    async fn prune_login_failures(&self, before: i64) -> StoreResult<u64>;

    // --- Export jobs: the SQL lives in `jobs.rs`; these run it. ---------------------------
    fn flavour(&self) -> &'static jobs::Flavour;
    async fn execute(&self, query: &query::Query) -> StoreResult<u64>;
    /// Runs `steps` in one transaction when the first changes a row (the fence of a
    /// transition); when it changes none, changes nothing and answers `false`.
    async fn transition(&self, steps: &[query::Query]) -> StoreResult<bool>;
    async fn fetch_jobs(&self, query: &query::Query) -> StoreResult<Vec<JobRecord>>;
    async fn fetch_i64(&self, query: &query::Query) -> StoreResult<Option<i64>>;
    async fn fetch_bool(&self, query: &query::Query) -> StoreResult<Option<bool>>;
    async fn fetch_texts(&self, query: &query::Query) -> StoreResult<Vec<String>>;
    async fn fetch_events(&self, query: &query::Query) -> StoreResult<Vec<(String, Option<i64>, Option<String>)>>;
    async fn fetch_schedules(&self, query: &query::Query) -> StoreResult<Vec<ScheduleRecord>>;
    async fn fetch_runs(&self, query: &query::Query) -> StoreResult<Vec<RunRecord>>;
    async fn fetch_destinations(&self, query: &query::Query) -> StoreResult<Vec<DestinationRecord>>;
    /// Inserts the job unless the workspace already has `active_limit` pending or
    /// processing jobs; atomic, however many requests race. `alongside` goes in the same
    /// transaction: its fence first (when it changes no row, nothing is written), its
    /// other statements after the job.
    async fn create_job(&self, new: &NewJob, active_limit: i64, alongside: &Alongside) -> StoreResult<Created>;
    /// Takes the oldest runnable job (pending and due, or processing with a lapsed lease),
    /// marks it processing with a lease until `lease_until`, and counts the attempt.
    async fn claim_job(
        &self,
        worker: &str,
        lease_until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<JobRecord>>;
    /// Sends `payload` to every process listening on `channel` (Postgres NOTIFY).
    async fn notify(&self, channel: &str, payload: &str) -> StoreResult<()>;
    /// Notifications on `channels`, as (channel, payload); `None` where the database has
    /// no such thing (SQLite: one process, so nothing to hear).
    async fn listen(
        &self,
        channels: &[&str],
    ) -> StoreResult<Option<futures::stream::BoxStream<'static, (String, String)>>>;

    /// Bulk-loads rows into one of the demo's tables (`egress seed`). `columns` are the
    /// table's columns in the order of each row's cells; `workspace_id` goes into
    /// `workspace_id` of every row.
    async fn insert_rows(
        &self,
        table: &str,
        workspace_id: i64,
        columns: &[&str],
        rows: &[Vec<Cell>],
    ) -> StoreResult<()>;
}

pub type DynStore = Arc<dyn Store>;

/// Opens (and for SQLite creates) the database named by `url`.
pub async fn connect(url: &str) -> anyhow::Result<DynStore> {
    connect_sized(url, DEFAULT_POOL_SIZE).await
}

/// Connections a pool of a process may open to Postgres unless told (`--db-max-connections`).
pub const DEFAULT_POOL_SIZE: u32 = 16;

/// `connect`, with a pool of at most `max_connections` on Postgres.
pub async fn connect_sized(url: &str, max_connections: u32) -> anyhow::Result<DynStore> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect_sized(url, max_connections).await?))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url).await?))
    } else {
        anyhow::bail!(
            "database URL must start with postgres:// or sqlite: (got `{}`)",
            redact(url)
        )
    }
}

/// A URL with every secret replaced, fit for logs and error messages: the password of
/// the user info, and query parameters that carry one (`password`, `sslpassword`,
/// `secret`, `key`, `token`). Text that does not parse as a URL is masked after its scheme.
pub fn redact(url: &str) -> String {
    const MASK: &str = "***";
    let Ok(mut parsed) = url::Url::parse(url) else {
        return match url.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{MASK}"),
            None => MASK.to_owned(),
        };
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    let secret = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["password", "secret", "key", "token"].iter().any(|s| key.contains(s))
    };
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) { MASK.to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // The mask itself is written percent-encoded; show it plainly.
    parsed.to_string().replace("%2A%2A%2A", MASK)
}

const INSERT_USER: &str = "INSERT INTO users (email, name, password_hash) VALUES ($1, $2, $3) RETURNING id";

/// A unique-index violation on insert means the email is taken.
fn email_conflict(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict("email"),
        _ => e.into(),
    }
}

const SELECT_TOKENS: &str = "SELECT t.id, t.workspace_id, t.created_by, u.name, t.name, t.prefix, t.scopes, t.created_at, \
     t.expires_at, t.last_used_at, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.created_by";

fn token_record<R>(r: &R) -> Result<ApiTokenRecord, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database>,
{
    Ok(ApiTokenRecord {
        id: r.try_get(0)?,
        workspace_id: r.try_get(1)?,
        created_by: r.try_get(2)?,
        created_by_name: r.try_get(3)?,
        name: r.try_get(4)?,
        prefix: r.try_get(5)?,
        scopes: r.try_get(6)?,
        created_at: r.try_get(7)?,
        expires_at: r.try_get(8)?,
        last_used_at: r.try_get(9)?,
        revoked_at: r.try_get(10)?,
    })
}

fn user_record<'r, R>(r: &'r R) -> Result<UserRecord, sqlx::Error>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(UserRecord {
        id: r.try_get(0)?,
        email: r.try_get(1)?,
        name: r.try_get(2)?,
        password_hash: r.try_get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/egress.db"), "sqlite://data/egress.db");
        for hidden in [
            "postgresql://u:secret@h/db",
            "postgres://:secret@h/db",
            "postgres://u:p%40ss@secret@h/db",
            "postgres://u:secret@h1:5432,h2:5433/db",
            "postgres://u@h/db?password=secret",
            "postgres://u@h/db?sslmode=require&sslpassword=secret",
            "smtp+starttls://user:secret@mail.example:587",
            "s3://bucket?endpoint=http://h&secret_key=secret",
            "postgres://u:secret@[::1/db",
        ] {
            let shown = redact(hidden);
            assert!(
                !shown.contains("secret") || shown.contains("secret_key=***"),
                "{hidden} → {shown}"
            );
            assert!(!shown.contains("p%40ss"), "{hidden} → {shown}");
        }
    }
}
