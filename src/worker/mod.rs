//! The export worker: claims jobs from the database queue, runs them through the
//! pipeline with a heartbeat on the lease, and settles each one (completed, retried with
//! backoff, failed, or cancelled). Runs as Tokio tasks beside the web server, or alone
//! with `egress worker`.

pub mod pipeline;
pub mod retry;

use crate::exports::Progress;
use crate::progress::Hub;
use crate::storage::DynStorage;
use crate::store::{DynStore, JobRecord, jobs};
use pipeline::{Pipeline, Signals, Stop};
use retry::RetryPolicy;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Exports run at the same time by this process.
    pub concurrency: usize,
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How often to look for work when nothing wakes the worker.
    pub poll: Duration,
    pub part_size: usize,
    /// Rows a second per export at most (0: no limit).
    pub max_rows_per_second: u64,
    /// How long a finished file stays downloadable.
    pub retention: Duration,
    pub retry: RetryPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 3,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            part_size: pipeline::MIN_PART_SIZE,
            max_rows_per_second: 0,
            retention: Duration::from_secs(24 * 3600),
            retry: RetryPolicy::default(),
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    pub id: String,
    pub store: DynStore,
    pub catalog: Arc<crate::catalog::Catalog>,
    pub source: crate::source::Source,
    pub storage: DynStorage,
    pub hub: Hub,
    pub wakeup: Arc<Notify>,
    /// Rung when an export completes, so its email goes out soon.
    pub completed: Arc<Notify>,
    pub settings: WorkerSettings,
}

impl Worker {
    /// Claims and runs jobs until the process ends.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let lease_until = chrono::Utc::now() + self.settings.lease;
                match self.store.claim_job(&self.id, lease_until).await {
                    Ok(Some(record)) => {
                        let worker = self.clone();
                        tokio::spawn(async move {
                            worker.run(record).await;
                            drop(slot);
                        });
                    }
                    Ok(None) => {
                        drop(slot);
                        let _ = tokio::time::timeout(self.settings.poll, self.wakeup.notified()).await;
                    }
                    Err(e) => {
                        drop(slot);
                        tracing::warn!(error = %e, "could not claim a job; will try again");
                        tokio::time::sleep(self.settings.poll).await;
                    }
                }
            }
        })
    }

    fn publish(&self, record: &JobRecord) {
        self.hub.publish(Progress::from(&record.job));
    }

    async fn event(&self, record: &JobRecord, kind: &str, detail: Option<&str>) {
        if let Err(e) = jobs::add_event(self.store.as_ref(), record.uuid, kind, None, detail).await {
            tracing::warn!(job = %record.uuid, error = %e, "audit event not saved");
        }
    }

    /// Whether a fenced transition was made; a failure or a lost fence is logged, never
    /// swallowed.
    fn settled(&self, record: &JobRecord, transition: &str, result: crate::store::StoreResult<bool>) -> bool {
        match result {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(job = %record.uuid, transition, "the job is no longer this attempt's; nothing changed");
                false
            }
            Err(e) => {
                tracing::error!(job = %record.uuid, transition, error = %e, "could not record the job's new state");
                false
            }
        }
    }

    /// Publishes the job as the database has it now.
    async fn publish_current(&self, record: &JobRecord) {
        if let Ok(Some(now)) = jobs::get(self.store.as_ref(), None, record.uuid).await {
            self.publish(&now);
        }
    }

    async fn run(&self, record: JobRecord) {
        let lease = record.lease();
        let store = self.store.as_ref();
        if record.cancel_requested {
            if self.settled(&record, "cancelled", jobs::finish_cancelled(store, lease).await) {
                self.event(&record, "cancelled", None).await;
            }
            return self.publish_current(&record).await;
        }
        if record.job.attempts > record.max_attempts {
            let message = format!("Egress gave up after {} attempts.", record.max_attempts);
            if self.settled(
                &record,
                "failed",
                jobs::retry_or_fail(store, lease, &message, None).await,
            ) {
                self.event(&record, "failed", Some(&message)).await;
            }
            return self.publish_current(&record).await;
        }
        let attempt = record.job.attempts;
        self.event(
            &record,
            if attempt > 1 { "retried" } else { "started" },
            Some(&format!("attempt {attempt} on {}", self.id)),
        )
        .await;
        self.publish(&record);
        tracing::info!(job = %record.uuid, dataset = %record.job.dataset, format = ?record.job.format, attempt, "export started");

        let signals = Signals::default();
        let heartbeat = self.heartbeat(&record, signals.clone());
        let pipeline = Pipeline {
            store: self.store.clone(),
            catalog: self.catalog.clone(),
            source: self.source.clone(),
            storage: self.storage.clone(),
            hub: self.hub.clone(),
            part_size: self.settings.part_size,
            max_rows_per_second: self.settings.max_rows_per_second,
        };
        let result = pipeline.run(&record, &signals).await;
        heartbeat.abort();

        match result {
            Ok(outcome) => {
                let expires = chrono::Utc::now() + self.settings.retention;
                if self.settled(
                    &record,
                    "completed",
                    jobs::complete(store, lease, &outcome, expires).await,
                ) {
                    let mut detail = format!("{} rows, {} bytes", outcome.rows, outcome.bytes);
                    if outcome.shortened_cells > 0 {
                        detail.push_str(&format!(", {} cells shortened", outcome.shortened_cells));
                    }
                    self.event(&record, "completed", Some(&detail)).await;
                    tracing::info!(job = %record.uuid, rows = outcome.rows, bytes = outcome.bytes, "export completed");
                    self.completed.notify_one();
                }
            }
            Err(Stop::Cancelled) => {
                if self.settled(&record, "cancelled", jobs::finish_cancelled(store, lease).await) {
                    self.event(&record, "cancelled", None).await;
                }
            }
            Err(Stop::LeaseLost) => {
                tracing::warn!(job = %record.uuid, "lease lost; another worker owns the job now");
            }
            Err(Stop::Failed(failure)) => {
                let retry_at = (attempt < record.max_attempts).then(|| {
                    let delay = self.settings.retry.delay(attempt, rand::random::<f64>());
                    chrono::Utc::now() + delay
                });
                tracing::warn!(job = %record.uuid, attempt, error = %failure.detail, retry = retry_at.is_some(), "export attempt failed");
                // The job says the sentence; the detail stays in the log and the audit trail.
                let result = jobs::retry_or_fail(store, lease, failure.reason, retry_at).await;
                if self.settled(&record, "retry_or_fail", result) {
                    let kind = if retry_at.is_some() {
                        "retry_scheduled"
                    } else {
                        "failed"
                    };
                    self.event(&record, kind, Some(&failure.detail)).await;
                }
            }
        }
        self.publish_current(&record).await;
    }

    /// Extends the lease a few times per lease period; flags a lost lease or a cancel.
    fn heartbeat(&self, record: &JobRecord, signals: Signals) -> tokio::task::JoinHandle<()> {
        let (store, lease, period) = (self.store.clone(), record.lease(), self.settings.lease);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                match jobs::heartbeat(store.as_ref(), lease, chrono::Utc::now() + period).await {
                    Ok(Some(cancel)) => {
                        if cancel {
                            signals.cancel.store(true, Ordering::Relaxed);
                        }
                    }
                    Ok(None) => {
                        signals.lease_lost.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed; will try again"),
                }
            }
        })
    }
}
