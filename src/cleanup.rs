//! The cleanup schedule: expires completed exports past their time (object deleted,
//! status expired, with its event and webhook calls in one transaction), deletes the
//! objects of failed and cancelled jobs, and aborts uploads left open by crashed attempts.
//! Every step is idempotent, so any number of processes can run it at once.

use crate::exports::JobStatus;
use crate::notify;
use crate::storage::DynStorage;
use crate::store::{DynStore, jobs};
use std::time::Duration;

/// Uploads of pending jobs idle this long are abandoned.
pub const STALE_UPLOAD: Duration = Duration::from_secs(24 * 3600);

/// One pass; returns how many jobs it tidied.
pub async fn run_once(store: &DynStore, storage: &DynStorage, public_url: &str) -> usize {
    let stale = chrono::Utc::now() - STALE_UPLOAD;
    let due = match jobs::due_for_cleanup(store.as_ref(), stale, 200).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "cleanup could not list jobs");
            return 0;
        }
    };
    let mut tidied = 0;
    for record in due {
        let key = record.object_key.as_deref();
        let mut ok = true;
        if let (Some(key), Some(upload)) = (key, record.upload_id.as_deref()) {
            ok &= storage
                .abandon(key, upload)
                .await
                .inspect_err(|e| tracing::warn!(error = %e, "abort failed"))
                .is_ok();
        }
        if let Some(key) = key {
            ok &= storage
                .delete(key)
                .await
                .inspect_err(|e| tracing::warn!(error = %e, "delete failed"))
                .is_ok();
        }
        if !ok {
            continue;
        }
        let mut expired = record.clone();
        expired.job.status = JobStatus::Expired;
        let then = notify::on_event(store.as_ref(), notify::Event::Expired, &expired, public_url);
        match jobs::forget_object(store.as_ref(), &record, then).await {
            Ok(true) => tidied += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(job = %record.uuid, error = %e, "cleanup could not record the job"),
        }
    }
    tidied
}

pub fn spawn(
    store: DynStore,
    storage: DynStorage,
    public_url: String,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            let n = run_once(&store, &storage, &public_url).await;
            if n > 0 {
                tracing::info!(jobs = n, "cleanup pass");
            }
        }
    })
}
