//! The export worker: claims jobs from the database queue, runs them through the
//! pipeline with a heartbeat on the lease, and settles each one (completed, retried with
//! backoff, failed, or cancelled). Runs as Tokio tasks beside the web server, or alone
//! with `egress worker`.

pub mod archive;
pub mod pipeline;
pub mod retry;
pub mod running;

use crate::exports::Progress;
use crate::progress::Hub;
use crate::storage::DynStorage;
use crate::store::{DynStore, JobRecord, jobs};
use crate::telemetry;
use pipeline::{Pipeline, Signals, Stop};
use retry::RetryPolicy;
use running::{Ended, Lost, RunningJob};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Exports run at the same time by this process.
    pub concurrency: usize,
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How often to look for work when nothing wakes the worker.
    pub poll: Duration,
    /// Rows a second per export at most (0: no limit).
    pub max_rows_per_second: u64,
    /// How long a finished file stays downloadable, unless its workspace says otherwise.
    pub retention: Duration,
    /// The longest a workspace may keep files.
    pub max_retention: Duration,
    pub retry: RetryPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 3,
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            max_rows_per_second: 0,
            retention: Duration::from_secs(24 * 3600),
            max_retention: Duration::from_secs(30 * 24 * 3600),
            retry: RetryPolicy::default(),
        }
    }
}

impl WorkerSettings {
    /// How long a file stays: the workspace's retention (hours) within the maximum, or
    /// the default.
    pub fn retention_for(&self, workspace_hours: Option<f64>) -> Duration {
        match workspace_hours {
            Some(hours) if hours.is_finite() && hours > 0.0 => {
                Duration::from_secs_f64(hours * 3600.0).min(self.max_retention)
            }
            _ => self.retention,
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
    /// Rung when a transition wrote notifications, so they go out at once.
    pub notified: Arc<Notify>,
    /// The app's address, for the links in notifications.
    pub public_url: Arc<str>,
    pub settings: WorkerSettings,
    pub drain: Drain,
}

/// How a worker stops without losing work (a rolling restart): it stops claiming, lets
/// its running exports finish for a while, then hands the rest back to the queue, where
/// another worker takes them at once instead of after their lease.
#[derive(Clone)]
pub struct Drain {
    /// Cancelled when the worker stops claiming.
    stopping: CancellationToken,
    /// Set when the time to finish is up: running exports stop and are handed back.
    hand_back: Arc<AtomicBool>,
    /// One permit per export the worker may run; all of them free means none runs.
    slots: Arc<Semaphore>,
    concurrency: u32,
}

impl Drain {
    pub fn new(concurrency: usize) -> Drain {
        let concurrency = concurrency.max(1);
        Drain {
            stopping: CancellationToken::new(),
            hand_back: Arc::new(AtomicBool::new(false)),
            slots: Arc::new(Semaphore::new(concurrency)),
            concurrency: concurrency as u32,
        }
    }

    /// Stops claiming; waits up to `within` for the running exports to end, then hands
    /// the rest back and waits for that (a few database writes). Returns once no export
    /// of this worker runs.
    pub async fn run(&self, within: Duration) {
        self.stopping.cancel();
        let all = self.slots.acquire_many(self.concurrency);
        if let Ok(Ok(_)) = tokio::time::timeout(within, all).await {
            tracing::info!("drained: every running export finished");
            return;
        }
        tracing::info!(
            seconds = within.as_secs_f64(),
            "drain time is up: handing the running exports back"
        );
        self.hand_back.store(true, Ordering::Relaxed);
        // Each export notices at its next batch, aborts its upload and writes the hand-back.
        if tokio::time::timeout(Duration::from_secs(30), self.slots.acquire_many(self.concurrency))
            .await
            .is_err()
        {
            tracing::warn!("some exports did not stop in 30 s; their leases will run out");
        }
    }
}

impl Worker {
    /// Claims and runs jobs until the process ends or its drain begins.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let (slots, stopping) = (self.drain.slots.clone(), self.drain.stopping.clone());
            loop {
                let slot = tokio::select! {
                    slot = slots.clone().acquire_owned() => slot,
                    _ = stopping.cancelled() => return,
                };
                let Ok(slot) = slot else {
                    return;
                };
                if stopping.is_cancelled() {
                    return;
                }
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
                        tokio::select! {
                            _ = tokio::time::timeout(self.settings.poll, self.wakeup.notified()) => {}
                            _ = stopping.cancelled() => return,
                        }
                    }
                    Err(e) => {
                        drop(slot);
                        tracing::warn!(error = %e, "could not claim a job; will try again");
                        tokio::select! {
                            _ = tokio::time::sleep(self.settings.poll) => {}
                            _ = stopping.cancelled() => return,
                        }
                    }
                }
            }
        })
    }

    fn publish(&self, record: &JobRecord) {
        self.hub.publish(Progress::from(&record.job));
    }

    /// Publishes the job as the database has it now.
    async fn publish_current(&self, id: uuid::Uuid) {
        if let Ok(Some(now)) = jobs::get(self.store.as_ref(), None, id).await {
            self.publish(&now);
        }
    }

    async fn run(&self, record: JobRecord) {
        let id = record.uuid;
        // Everything this attempt logs, on any node, carries which export it is.
        let span = tracing::info_span!(
            "export",
            job = %id,
            workspace = record.workspace_id,
            dataset = %record.job.dataset,
            format = record.job.format.id(),
            attempt = record.job.attempts,
        );
        let job = Arc::new(RunningJob::new(self.store.clone(), record, self.public_url.clone()));
        match self.attempt(&job).instrument(span.clone()).await {
            Ok(()) => {}
            Err(Lost::Fence) => {
                tracing::warn!(job = %id, "the job is no longer this attempt's; this attempt changed nothing more")
            }
            Err(e @ Lost::Store(_)) => {
                span.in_scope(|| tracing::error!(job = %id, error = %e, "could not record the job's new state"))
            }
        }
        self.publish_current(id).await;
    }

    /// One attempt, from its start to its end (each step through the running job).
    async fn attempt(&self, job: &Arc<RunningJob>) -> Result<(), Lost> {
        let record = job.record();
        if record.cancel_requested {
            return job.cancel().await;
        }
        if record.job.attempts > record.max_attempts {
            let message = format!("Egress gave up after {} attempts.", record.max_attempts);
            job.fail(&message, &message).await?;
            self.notified.notify_one();
            return Ok(());
        }
        job.start(&self.id).await?;
        let started = std::time::Instant::now();
        self.publish(record);
        let attempt = record.job.attempts;
        let (dataset, format) = (record.job.dataset.as_str(), record.job.format.id());
        tracing::info!(job = %record.uuid, dataset = %record.job.dataset, format = ?record.job.format, attempt, "export started");

        let signals = Signals {
            hand_back: self.drain.hand_back.clone(),
            ..Signals::default()
        };
        let heartbeat = self.heartbeat(job.clone(), signals.clone());
        let pipeline = Pipeline {
            catalog: self.catalog.clone(),
            source: self.source.clone(),
            storage: self.storage.clone(),
            hub: self.hub.clone(),
            max_rows_per_second: self.settings.max_rows_per_second,
        };
        let result = pipeline.run(job, &signals).await;
        heartbeat.abort();

        match result {
            Ok(done) => {
                let expires = chrono::Utc::now() + self.settings.retention_for(record.retention_hours);
                let also: Vec<_> = done
                    .increment
                    .as_ref()
                    .zip(record.increment_of)
                    .map(|(state, schedule)| {
                        let state = serde_json::to_string(state).expect("a state serialises");
                        let now = chrono::Utc::now().timestamp();
                        crate::store::schedules::save_increment(self.store.as_ref(), record.uuid, schedule, &state, now)
                    })
                    .into_iter()
                    .collect();
                match job.complete(&done.outcome, expires, also).await {
                    Ok(Ended::Completed) => {
                        tracing::info!(job = %record.uuid, rows = done.outcome.rows, bytes = done.outcome.bytes, "export completed");
                        let (rows, bytes) = (done.outcome.rows, done.outcome.bytes);
                        telemetry::export_completed(dataset, format, started.elapsed(), rows, bytes);
                        self.notified.notify_one();
                        Ok(())
                    }
                    ended => {
                        // Cancelled at the last moment, or taken over: the file this attempt
                        // wrote is nobody's (each attempt writes its own key).
                        if let Err(e) = self.storage.delete(&done.key).await {
                            tracing::warn!(job = %record.uuid, error = %e, "could not delete this attempt's file; cleanup will");
                        }
                        ended.map(|_| ())
                    }
                }
            }
            Err(Stop::Cancelled) => {
                telemetry::export_ended(dataset, format, "cancelled");
                job.cancel().await
            }
            Err(Stop::LeaseLost) => Err(Lost::Fence),
            Err(Stop::HandedBack) => {
                tracing::info!(job = %record.uuid, attempt, "export handed back to the queue");
                telemetry::export_ended(dataset, format, "handed_back");
                job.hand_back().await?;
                // Other workers wait for work: they take the job at once (Postgres NOTIFY;
                // without it they find it at their next poll).
                if let Err(e) = self.store.notify(crate::progress::JOBS_CHANNEL, "").await {
                    tracing::debug!(error = %e, "could not wake other workers; they will poll");
                }
                Ok(())
            }
            Err(Stop::Failed(failure)) => {
                tracing::warn!(job = %record.uuid, attempt, error = %failure.detail, "export attempt failed");
                telemetry::export_failed(failure.reason);
                // The job says the sentence; the detail stays in the log and the audit trail.
                if attempt < record.max_attempts {
                    telemetry::export_ended(dataset, format, "retried");
                    let delay = self.settings.retry.delay(attempt, rand::random::<f64>());
                    job.retry(failure.reason, &failure.detail, chrono::Utc::now() + delay)
                        .await
                } else {
                    telemetry::export_ended(dataset, format, "failed");
                    job.fail(failure.reason, &failure.detail).await?;
                    self.notified.notify_one();
                    Ok(())
                }
            }
        }
    }

    /// Extends the lease a few times per lease period; flags a lost lease or a cancel.
    fn heartbeat(&self, job: Arc<RunningJob>, signals: Signals) -> tokio::task::JoinHandle<()> {
        let period = self.settings.lease;
        tokio::spawn(
            async move {
                let mut tick = tokio::time::interval(period / 3);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match job.heartbeat(chrono::Utc::now() + period).await {
                        Ok(cancel) => {
                            if cancel {
                                signals.cancel.store(true, Ordering::Relaxed);
                            }
                        }
                        Err(Lost::Fence) => {
                            signals.lease_lost.store(true, Ordering::Relaxed);
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed; will try again"),
                    }
                }
            }
            .in_current_span(),
        )
    }
}
