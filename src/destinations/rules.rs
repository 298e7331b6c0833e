//! What admins may do with a workspace's destinations — add one (its credentials sealed
//! under the operator's `--secrets-key`), list, delete, and test the connection by writing
//! and deleting a probe object — and what every export that delivers needs: the check of
//! its choice, the S3 target with opened credentials, the key a file is delivered under,
//! and a plain sentence for each way a bucket can refuse. The page's server functions and
//! the JSON API share these rules.

use super::{DestinationRequest, DestinationView, TestReport};
use crate::accounts::ssr::Member;
use crate::error::AppError;
use crate::exports::ExportOptions;
use crate::server::AppState;
use crate::storage::sealed::SealKey;
use crate::storage::{Encryption, S3Storage, S3Target, StorageError};
use crate::store::{DestinationRecord, NewDestination, destinations};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Deliveries shown per destination.
const HISTORY: i64 = 20;

/// The names a prefix template may use, with what each becomes.
pub const PLACEHOLDERS: [(&str, &str); 8] = [
    ("dataset", "the dataset's id (contacts)"),
    ("format", "the format's id (csv)"),
    ("date", "the export's UTC date (2026-11-30)"),
    ("year", "its year (2026)"),
    ("month", "its month (11)"),
    ("day", "its day (30)"),
    ("hour", "its hour (09)"),
    ("export", "the export's id"),
];

/// What a prefix's placeholders become for one file.
pub struct PrefixValues<'a> {
    pub dataset: &'a str,
    pub format: &'a str,
    pub at: DateTime<Utc>,
    pub export: &'a str,
}

/// The prefix `template` names for these values, or why it cannot be a key prefix.
pub fn render_prefix(template: &str, values: &PrefixValues) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        if rest[open..].starts_with('}') {
            return Err("has a `}` without its `{`".into());
        }
        let close = rest[open..].find('}').ok_or("has a `{` without its `}`")?;
        let name = &rest[open + 1..open + close];
        out.push_str(&match name {
            "dataset" => values.dataset.to_owned(),
            "format" => values.format.to_owned(),
            "date" => values.at.format("%Y-%m-%d").to_string(),
            "year" => values.at.format("%Y").to_string(),
            "month" => values.at.format("%m").to_string(),
            "day" => values.at.format("%d").to_string(),
            "hour" => values.at.format("%H").to_string(),
            "export" => values.export.to_owned(),
            other => {
                let known: Vec<String> = PLACEHOLDERS.iter().map(|(p, _)| format!("{{{p}}}")).collect();
                return Err(format!("uses `{{{other}}}`, which is not one of {}", known.join(", ")));
            }
        });
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    if out.starts_with('/') {
        return Err("starts with `/` (keys are relative to the bucket)".into());
    }
    if out.split('/').any(|segment| segment == "." || segment == "..") {
        return Err("has a `.` or `..` segment".into());
    }
    if out.chars().any(|c| c.is_control() || c == '\\') {
        return Err("has a control character or a backslash".into());
    }
    if out.len() > 512 {
        return Err("is longer than 512 bytes".into());
    }
    Ok(out)
}

/// The credentials, as sealed in the database.
#[derive(Serialize, Deserialize)]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
}

/// What a sealed value is bound to: its workspace (a row copied into another workspace
/// does not open).
fn seal_context(workspace_id: i64) -> String {
    format!("egress destination credentials, workspace {workspace_id}")
}

/// Where and as whom a destination is written.
fn target(secrets: &SealKey, d: &DestinationRecord, allow_private: bool) -> Result<S3Target, String> {
    let opened = secrets
        .open_value(&seal_context(d.workspace_id), &d.credentials)
        .map_err(|e| format!("the destination's credentials do not open ({e}); was --secrets-key changed?"))?;
    let credentials: Credentials =
        serde_json::from_str(&opened).map_err(|_| "the destination's credentials are damaged".to_owned())?;
    Ok(S3Target {
        endpoint: d.endpoint.clone(),
        region: d.region.clone(),
        bucket: d.bucket.clone(),
        access_key: credentials.access_key_id,
        secret_key: credentials.secret_access_key,
        encryption: Encryption::parse(&d.sse, d.kms_key_id.clone()).map_err(|e| e.to_string())?,
        public_only: !allow_private,
    })
}

/// Whether the address policy (`crate::outbound`, as for webhooks) lets Egress connect to
/// the destination's server; said when one is added, and before each use.
async fn reachable(endpoint: Option<&str>, allow_private: bool) -> Result<(), String> {
    let Some(endpoint) = endpoint else {
        return Ok(()); // Amazon S3 itself (its names still go through the policy's resolver)
    };
    let url = url::Url::parse(endpoint).map_err(|e| format!("the endpoint `{endpoint}` is not a URL: {e}"))?;
    crate::outbound::resolve(&url, allow_private).await.map(|_| ())
}

/// A client for the destination, with opened credentials, or why there is none. The
/// endpoint is judged first (the only check an address literal gets, and it cannot
/// change); the client then resolves names through the policy itself at each
/// connection, so what it reaches is what was judged.
pub async fn open(secrets: &SealKey, d: &DestinationRecord, allow_private: bool) -> Result<S3Storage, String> {
    reachable(d.endpoint.as_deref(), allow_private)
        .await
        .map_err(|why| format!("Egress may not connect there: {why}"))?;
    Ok(S3Storage::connect(&target(secrets, d, allow_private)?))
}

/// `s3://bucket/key`, as reports and the audit trail name an object.
pub fn location(d: &DestinationRecord, key: &str) -> String {
    format!("s3://{}/{key}", d.bucket)
}

/// A plain sentence for a failed request to a destination.
pub fn explain(e: &StorageError, d: &DestinationRecord) -> String {
    let server = d.endpoint.as_deref().unwrap_or("Amazon S3");
    match e {
        StorageError::Unreachable(detail) => format!("{server} could not be reached ({detail})"),
        StorageError::Refused { code, .. } => match code.as_str() {
            // Amazon says InvalidAccessKeyId; some S3-compatible servers NotSignedUp.
            "InvalidAccessKeyId" | "NotSignedUp" => format!(
                "the server does not know the access key ending in `{}` ({code}): check the access key",
                d.key_hint
            ),
            "SignatureDoesNotMatch" => {
                "the secret key does not match the access key (SignatureDoesNotMatch): check the secret key".into()
            }
            "AccessDenied" => format!(
                "the credentials may not write to bucket `{}` (AccessDenied): allow s3:PutObject and s3:DeleteObject on it",
                d.bucket
            ),
            "NoSuchBucket" => format!("there is no bucket `{}` at {server} (NoSuchBucket)", d.bucket),
            "PermanentRedirect" | "AuthorizationHeaderMalformed" => format!(
                "bucket `{}` is not in region `{}` ({code}): check the region",
                d.bucket, d.region
            ),
            "KMS.NotFoundException" | "KMS.DisabledException" | "KMS.AccessDeniedException" => {
                format!("the KMS key cannot be used ({code}): check the key id and its policy")
            }
            _ => format!("the server refused: {e}"),
        },
        other => format!("the server refused: {other}"),
    }
}

use crate::store::from_unix as time;

fn may_manage(member: &Member) -> Result<(), AppError> {
    crate::accounts::roles::may_manage(member.role, "destinations").map_err(AppError::forbidden)
}

async fn view(state: &AppState, d: &DestinationRecord) -> Result<DestinationView, AppError> {
    let history = state
        .store
        .outbox_attempts("delivery", &d.id.to_string(), HISTORY)
        .await?;
    Ok(DestinationView {
        id: d.id,
        name: d.name.clone(),
        endpoint: d.endpoint.clone(),
        bucket: d.bucket.clone(),
        region: d.region.clone(),
        prefix: d.prefix.clone(),
        access_key_hint: format!("…{}", d.key_hint),
        sse: d.sse.clone(),
        kms_key_id: d.kms_key_id.clone(),
        created_at: time(d.created_at),
        deliveries: history.iter().map(crate::webhooks::rules::delivery_view).collect(),
    })
}

/// The workspace's destination `id`, if it has one.
pub async fn find(state: &AppState, workspace_id: i64, id: i64) -> Result<Option<DestinationRecord>, AppError> {
    Ok(state
        .store
        .fetch_destinations(&destinations::get(workspace_id, id))
        .await?
        .pop())
}

async fn destination(state: &AppState, member: &Member, id: i64) -> Result<DestinationRecord, AppError> {
    find(state, member.workspace_id, id)
        .await?
        .ok_or_else(|| AppError::not_found("There is no such destination in this workspace."))
}

pub async fn list(state: &AppState, member: &Member) -> Result<Vec<DestinationView>, AppError> {
    may_manage(member)?;
    let mut out = Vec::new();
    for d in state
        .store
        .fetch_destinations(&destinations::list(member.workspace_id))
        .await?
    {
        out.push(view(state, &d).await?);
    }
    Ok(out)
}

/// The destinations an export may be delivered to (any member chooses among them).
pub async fn choices(state: &AppState, member: &Member) -> Result<Vec<(i64, String)>, AppError> {
    Ok(state
        .store
        .fetch_destinations(&destinations::list(member.workspace_id))
        .await?
        .into_iter()
        .map(|d| (d.id, d.name))
        .collect())
}

pub async fn get(state: &AppState, member: &Member, id: i64) -> Result<DestinationView, AppError> {
    may_manage(member)?;
    view(state, &destination(state, member, id).await?).await
}

fn check_endpoint(raw: &str) -> Result<Option<String>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = |why: &str| AppError::invalid("endpoint", format!("the endpoint {why}"));
    let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(bad("must start with https:// (or http://)"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold credentials (use the access key fields)"));
    }
    if url.query().is_some() || url.fragment().is_some() || !matches!(url.path(), "" | "/") {
        return Err(bad("must be just the server's address, without a path or query"));
    }
    Ok(Some(raw.trim_end_matches('/').to_owned()))
}

/// S3's bucket naming rules.
fn check_bucket(bucket: &str) -> Result<(), AppError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..");
    if ok {
        Ok(())
    } else {
        Err(AppError::invalid(
            "bucket",
            format!("`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, dots and hyphens)"),
        ))
    }
}

/// Adds a destination after checking every field; nothing is written when one is wrong.
pub async fn create(
    state: &AppState,
    member: &Member,
    request: DestinationRequest,
) -> Result<DestinationView, AppError> {
    may_manage(member)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            "name",
            "give the destination a name of 1 to 100 characters, on one line",
        ));
    }
    let endpoint = check_endpoint(&request.endpoint)?;
    let bucket = request.bucket.trim();
    check_bucket(bucket)?;
    let region = request.region.trim();
    if region.is_empty()
        || region.len() > 64
        || !region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(AppError::invalid(
            "region",
            format!("`{region}` is not a region (like us-east-1)"),
        ));
    }
    let sample = PrefixValues {
        dataset: "contacts",
        format: "csv",
        at: Utc::now(),
        export: "00000000-0000-0000-0000-000000000000",
    };
    render_prefix(&request.prefix, &sample).map_err(|why| AppError::invalid("prefix", format!("the prefix {why}")))?;
    let access_key = request.access_key_id.trim();
    if access_key.is_empty() || access_key.len() > 256 || access_key.chars().any(char::is_whitespace) {
        return Err(AppError::invalid("access_key_id", "give the access key id"));
    }
    if request.secret_access_key.is_empty() || request.secret_access_key.len() > 1024 {
        return Err(AppError::invalid("secret_access_key", "give the secret access key"));
    }
    let kms_key_id = request.kms_key_id.as_deref().map(str::trim).filter(|k| !k.is_empty());
    let encryption = Encryption::parse(&request.sse, kms_key_id.map(str::to_owned))
        .map_err(|e| AppError::invalid("sse", e.to_string().replace("bad storage configuration: ", "")))?;
    if kms_key_id.is_some() && !matches!(encryption, Encryption::Kms(_)) {
        return Err(AppError::invalid("kms_key_id", "a KMS key goes with sse `aws:kms`"));
    }
    if let Err(why) = reachable(endpoint.as_deref(), state.settings.pipeline.allow_private_targets).await {
        return Err(AppError::invalid(
            "endpoint",
            format!("the endpoint cannot be used: {why}"),
        ));
    }
    let sealed = state.secrets.seal_value(
        &seal_context(member.workspace_id),
        &serde_json::to_string(&Credentials {
            access_key_id: access_key.to_owned(),
            secret_access_key: request.secret_access_key.clone(),
        })
        .expect("credentials serialise"),
    );
    let hint: String = access_key
        .chars()
        .skip(access_key.chars().count().saturating_sub(4))
        .collect();
    let new = NewDestination {
        workspace_id: member.workspace_id,
        name: name.to_owned(),
        endpoint,
        bucket: bucket.to_owned(),
        region: region.to_owned(),
        prefix: request.prefix.clone(),
        credentials: sealed,
        key_hint: hint,
        sse: encryption.id().to_owned(),
        kms_key_id: kms_key_id.map(str::to_owned),
        created_at: Utc::now().timestamp(),
    };
    let id = state
        .store
        .fetch_i64(&destinations::insert(&new))
        .await?
        .ok_or_else(|| AppError::internal("the destination was not saved"))?;
    get(state, member, id).await
}

pub async fn delete(state: &AppState, member: &Member, id: i64) -> Result<(), AppError> {
    may_manage(member)?;
    destination(state, member, id).await?;
    state
        .store
        .execute(&destinations::delete(member.workspace_id, id, Utc::now().timestamp()))
        .await?;
    Ok(())
}

/// Writes a small probe object where files would go, then deletes it.
pub async fn test(state: &AppState, member: &Member, id: i64) -> Result<TestReport, AppError> {
    may_manage(member)?;
    let d = destination(state, member, id).await?;
    let prefix = render_prefix(
        &d.prefix,
        &PrefixValues {
            dataset: "egress-test",
            format: "txt",
            at: Utc::now(),
            export: "connection-test",
        },
    )
    .unwrap_or_default();
    let key = format!("{prefix}egress-connection-test-{}.txt", uuid::Uuid::new_v4());
    let object = location(&d, &key);
    let failed = |message: String| TestReport {
        ok: false,
        object: object.clone(),
        message,
    };
    let storage = match open(&state.secrets, &d, state.settings.pipeline.allow_private_targets).await {
        Ok(storage) => storage,
        Err(why) => return Ok(failed(format!("{why}."))),
    };
    if let Err(e) = put_small(
        &storage,
        &key,
        "text/plain",
        b"Egress connection test: safe to delete.\n",
    )
    .await
    {
        return Ok(failed(format!("Could not write {object}: {}.", explain(&e, &d))));
    }
    if let Err(e) = crate::storage::Storage::delete(&storage, &key).await {
        return Ok(failed(format!(
            "Wrote {object}, but could not delete it: {}. Exports can be delivered; delete the probe by hand.",
            explain(&e, &d)
        )));
    }
    Ok(TestReport {
        ok: true,
        object: object.clone(),
        message: format!("Wrote and deleted {object}: exports can be delivered here."),
    })
}

/// Writes a small object whole.
pub async fn put_small(storage: &S3Storage, key: &str, content_type: &str, bytes: &[u8]) -> Result<u64, StorageError> {
    use crate::storage::Storage;
    let mut writer = storage.create(key, content_type).await?;
    if let Err(e) = writer.write(bytes::Bytes::copy_from_slice(bytes)).await {
        let _ = writer.abort().await;
        return Err(e);
    }
    writer.finish().await
}

/// Checks an export's delivery choice: a destination of the workspace, and options that
/// go together.
pub async fn check_choice(state: &AppState, workspace_id: i64, options: &ExportOptions) -> Result<(), AppError> {
    match options.deliver_to {
        None if options.delivery_only => Err(AppError::invalid(
            "options.delivery_only",
            "a file kept only at its destination needs a destination (options.deliver_to)",
        )),
        None => Ok(()),
        Some(_) if options.delivery_only && options.single_use => Err(AppError::invalid(
            "options.single_use",
            "a file kept only at its destination cannot also be downloaded once from Egress",
        )),
        Some(id) => match find(state, workspace_id, id).await? {
            Some(_) => Ok(()),
            None => Err(AppError::invalid(
                "options.deliver_to",
                format!("there is no destination {id} in this workspace"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_filled_in_and_checked() {
        let values = PrefixValues {
            dataset: "orders",
            format: "csv",
            at: "2026-11-30T09:05:00Z".parse().unwrap(),
            export: "7f0c",
        };
        let render = |t: &str| render_prefix(t, &values);
        assert_eq!(render("{dataset}/{date}/").unwrap(), "orders/2026-11-30/");
        assert_eq!(
            render("x/{year}/{month}/{day}/{hour}/{format}-{export}-").unwrap(),
            "x/2026/11/30/09/csv-7f0c-"
        );
        assert_eq!(render("").unwrap(), "");
        assert!(render("{nope}/").unwrap_err().contains("`{nope}`"));
        assert!(render("{dataset").unwrap_err().contains("without its `}`"));
        assert!(render("dataset}").unwrap_err().contains("without its `{`"));
        assert!(render("/abs/").unwrap_err().contains("starts with `/`"));
        assert!(render("a/../b").unwrap_err().contains("`..`"));
        assert!(render("a\\b").unwrap_err().contains("backslash"));
    }
}
