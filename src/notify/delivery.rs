//! The delivery channel: copies a completed export's file from Egress's storage into the
//! workspace's destination bucket, hashing it (SHA-256) on the way, then writes
//! `<file>.manifest.json` beside it: the export, its rows, bytes, hash, columns and the
//! moment its data is as of. A receiver that sees the manifest knows the file is whole.
//!
//! The copy streams chunk by chunk (the destination's multipart upload holds one part),
//! so memory stays bounded whatever the file's size. A failed copy is aborted (nothing
//! half-written stays) and tried again on the channel's schedule; a copy that cannot
//! succeed (the destination or the file is gone) is given up at once. With
//! `delivery_only`, a delivered file's time in Egress ends: cleanup deletes Egress's copy.

use super::{Channel, Delivery};
use crate::catalog::Catalog;
use crate::destinations::rules::{self, PrefixValues};
use crate::exports::JobStatus;
use crate::storage::sealed::SealKey;
use crate::storage::{DynStorage, Storage};
use crate::store::outbox::{Next, OutboxItem};
use crate::store::query::Query;
use crate::store::{DestinationRecord, DynStore, JobRecord, Store, destinations, jobs};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

pub struct DeliveryChannel {
    pub store: DynStore,
    pub catalog: Arc<Catalog>,
    /// Egress's own storage, where the file is read from.
    pub storage: DynStorage,
    pub secrets: SealKey,
    pub allow_private: bool,
}

/// Tries over about a day: a customer's bucket can be down for a while.
pub const BACKOFF: &[Duration] = &[
    Duration::from_secs(30),
    Duration::from_secs(300),
    Duration::from_secs(1800),
    Duration::from_secs(7200),
    Duration::from_secs(21600),
    Duration::from_secs(43200),
];

/// The key a job's file is delivered under: the destination's prefix, then its name.
pub fn file_key(d: &DestinationRecord, record: &JobRecord) -> Result<String, String> {
    let job = &record.job;
    let prefix = rules::render_prefix(
        &d.prefix,
        &PrefixValues {
            dataset: &job.dataset,
            format: job.format.id(),
            at: job.created_at,
            export: &job.id,
        },
    )
    .map_err(|why| format!("the destination's prefix {why}"))?;
    let name = job.file_name.as_deref().ok_or("the export has no file")?;
    Ok(format!("{prefix}{name}"))
}

/// The manifest written beside a delivered file.
pub fn manifest(catalog: &Catalog, record: &JobRecord, key: &str, bytes: u64, sha256: &str) -> serde_json::Value {
    let job = &record.job;
    let columns: Vec<serde_json::Value> = catalog
        .find(&job.dataset)
        .map(|dataset| {
            let chosen = job.columns.as_deref();
            match record.increment_of {
                Some(_) => crate::formats::increment_columns(dataset, chosen),
                None => crate::formats::file_columns(dataset, chosen),
            }
            .iter()
            .map(|c| serde_json::json!({ "name": c.name, "label": c.label, "kind": c.kind.id() }))
            .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "export": job.id,
        "dataset": job.dataset,
        "format": job.format.id(),
        "file": key.rsplit('/').next().unwrap_or(key),
        "key": key,
        "content_type": record.content_type,
        "rows": job.total_rows,
        "bytes": bytes,
        "sha256": sha256,
        "columns": columns,
        "filters": job.filters,
        "incremental": record.increment_of.is_some(),
        "snapshot_at": record.snapshot_at,
        "completed_at": job.completed_at,
    })
}

impl DeliveryChannel {
    async fn copy(&self, item: &OutboxItem) -> Delivery {
        let Some(job) = item.job_id else {
            return Delivery::refused("a delivery without an export");
        };
        let record = match jobs::get(self.store.as_ref(), None, job).await {
            Ok(Some(record)) => record,
            Ok(None) => return Delivery::refused("the export is gone"),
            Err(e) => return Delivery::failed(None, e.to_string()),
        };
        let (JobStatus::Completed, Some(object)) = (record.job.status, record.object_key.as_deref()) else {
            return Delivery::refused("the export's file is no longer kept (it expired or was deleted)");
        };
        let Ok(destination) = item.target.parse::<i64>() else {
            return Delivery::refused(format!("`{}` is not a destination", item.target));
        };
        let d = match self
            .store
            .fetch_destinations(&destinations::get(item.workspace_id, destination))
            .await
        {
            Ok(mut found) => match found.pop() {
                Some(d) => d,
                None => return Delivery::refused("the destination was deleted"),
            },
            Err(e) => return Delivery::failed(None, e.to_string()),
        };
        let key = match file_key(&d, &record) {
            Ok(key) => key,
            Err(why) => return Delivery::refused(why),
        };
        let target = match rules::open(&self.secrets, &d, self.allow_private).await {
            Ok(target) => target,
            Err(why) => return Delivery::refused(why),
        };
        let content_type = record.content_type.as_deref().unwrap_or("application/octet-stream");
        let mut source = match self.storage.read(object).await {
            Ok(stream) => stream,
            Err(crate::storage::StorageError::Missing) => return Delivery::refused("the export's file is gone"),
            Err(e) => return Delivery::failed(None, format!("reading the export's file: {e}")),
        };
        let mut writer = match target.create(&key, content_type).await {
            Ok(writer) => writer,
            Err(e) => {
                return Delivery::failed(
                    None,
                    format!(
                        "could not write {}: {}",
                        rules::location(&d, &key),
                        rules::explain(&e, &d)
                    ),
                );
            }
        };
        let mut hash = Sha256::new();
        while let Some(chunk) = source.next().await {
            let written = match chunk {
                Ok(chunk) => {
                    hash.update(&chunk);
                    writer.write(chunk).await.map_err(|e| rules::explain(&e, &d))
                }
                Err(e) => Err(format!("reading the export's file: {e}")),
            };
            if let Err(why) = written {
                let _ = writer.abort().await;
                return Delivery::failed(
                    None,
                    format!("copying to {} broke off: {why}", rules::location(&d, &key)),
                );
            }
        }
        let bytes = match writer.finish().await {
            Ok(bytes) => bytes,
            Err(e) => {
                return Delivery::failed(
                    None,
                    format!(
                        "could not finish {}: {}",
                        rules::location(&d, &key),
                        rules::explain(&e, &d)
                    ),
                );
            }
        };
        let sha256 = hex::encode(hash.finalize());
        let manifest = manifest(&self.catalog, &record, &key, bytes, &sha256);
        let manifest_key = format!("{key}.manifest.json");
        let body = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        if let Err(e) = rules::put_small(&target, &manifest_key, "application/json", &body).await {
            return Delivery::failed(
                None,
                format!(
                    "could not write {}: {}",
                    rules::location(&d, &manifest_key),
                    rules::explain(&e, &d)
                ),
            );
        }
        Delivery {
            detail: Some(rules::location(&d, &key)),
            ..Delivery::ok(None)
        }
    }
}

#[async_trait::async_trait]
impl Channel for DeliveryChannel {
    fn id(&self) -> &'static str {
        "delivery"
    }

    fn backoff(&self) -> &[Duration] {
        BACKOFF
    }

    async fn deliver(&self, item: &OutboxItem) -> Delivery {
        self.copy(item).await
    }

    fn audit(&self, store: &dyn Store, item: &OutboxItem, delivery: &Delivery, next: Next) -> Vec<Query> {
        let Some(job) = item.job_id else {
            return Vec::new();
        };
        if delivery.ok {
            let mut steps = vec![jobs::event(store, job, "delivered", None, delivery.detail.as_deref())];
            let only = serde_json::from_str::<serde_json::Value>(&item.payload)
                .ok()
                .and_then(|p| p["delivery_only"].as_bool())
                .unwrap_or(false);
            if only {
                steps.push(jobs::expire_now(store, job, chrono::Utc::now()));
            }
            steps
        } else {
            let kind = if next == Next::GiveUp {
                "delivery_failed"
            } else {
                "delivery_retry"
            };
            vec![jobs::event(store, job, kind, None, delivery.error.as_deref())]
        }
    }
}
