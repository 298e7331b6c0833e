//! The running job: a claimed job's methods are the only way to change its state (the
//! model of underway's in-progress task). Each change is one transaction whose first
//! statement is fenced on this attempt: the new state, its audit event and its outbox rows
//! (the email, the webhook calls) are written together, or — when another worker has
//! taken the job over, or it ended — nothing is, and the method answers `Lost::Fence`.
//! Callers log that; it is never swallowed.

use crate::notify;
use crate::store::query::Query;
use crate::store::{DynStore, JobRecord, Lease, Outcome, StoreError, jobs};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum Lost {
    #[error("the job is no longer this attempt's: another worker took it over, or it ended")]
    Fence,
    #[error("the job's new state could not be written: {0}")]
    Store(#[from] StoreError),
}

/// How a run that finished its file ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Completed,
    /// A cancel was asked for before the completion was written: it wins.
    Cancelled,
}

pub struct RunningJob {
    store: DynStore,
    record: JobRecord,
    /// The app's address, for the links in notifications.
    public_url: std::sync::Arc<str>,
}

impl RunningJob {
    pub fn new(store: DynStore, record: JobRecord, public_url: std::sync::Arc<str>) -> RunningJob {
        RunningJob {
            store,
            record,
            public_url,
        }
    }

    pub fn store(&self) -> &DynStore {
        &self.store
    }

    /// The role the job's maker has in its workspace today (none: they left).
    pub async fn maker_role(&self) -> crate::store::StoreResult<Option<crate::accounts::Role>> {
        let record = &self.record;
        Ok(self
            .store
            .memberships(record.user_id)
            .await?
            .into_iter()
            .find(|m| m.workspace_id == record.workspace_id)
            .map(|m| m.role))
    }

    pub fn record(&self) -> &JobRecord {
        &self.record
    }

    fn lease(&self) -> Lease {
        self.record.lease()
    }

    fn event(&self, kind: &str, detail: Option<&str>) -> Query {
        jobs::event(self.store.as_ref(), self.record.uuid, kind, None, detail)
    }

    async fn apply(&self, steps: &[Query]) -> Result<(), Lost> {
        if self.store.transition(steps).await? {
            Ok(())
        } else {
            Err(Lost::Fence)
        }
    }

    /// Records that this attempt began (`started`, or `retried` after the first).
    pub async fn start(&self, worker: &str) -> Result<(), Lost> {
        let attempt = self.record.job.attempts;
        let kind = if attempt > 1 { "retried" } else { "started" };
        let detail = format!("attempt {attempt} on {worker}");
        let store = self.store.as_ref();
        self.apply(&[jobs::owned(store, self.lease()), self.event(kind, Some(&detail))])
            .await
    }

    /// Extends the lease to `until`; whether a cancel was asked for.
    pub async fn heartbeat(&self, until: DateTime<Utc>) -> Result<bool, Lost> {
        jobs::heartbeat(self.store.as_ref(), self.lease(), until)
            .await?
            .ok_or(Lost::Fence)
    }

    /// Saves the rows written so far; whether a cancel was asked for.
    pub async fn progress(&self, processed: i64, total: Option<i64>) -> Result<bool, Lost> {
        jobs::record_progress(self.store.as_ref(), self.lease(), processed, total)
            .await?
            .ok_or(Lost::Fence)
    }

    /// Records this attempt's object (and its open upload, while there is one).
    pub async fn upload_opened(
        &self,
        bucket: &str,
        key: &str,
        upload_id: Option<&str>,
        content_type: &str,
        file_name: &str,
    ) -> Result<(), Lost> {
        let q = jobs::upload_opened(
            self.store.as_ref(),
            self.lease(),
            bucket,
            key,
            upload_id,
            content_type,
            file_name,
        );
        self.apply(&[q]).await
    }

    /// The file is written: completed (with its event, email and webhook calls), unless
    /// a cancel was asked for meanwhile — the completion checks for one in the same
    /// statement, so an acknowledged cancel is never overtaken.
    /// The export is done; `also` goes in the same transaction (an incremental run's
    /// state for the next run).
    pub async fn complete(
        &self,
        outcome: &Outcome,
        expires: DateTime<Utc>,
        also: Vec<crate::store::query::Query>,
    ) -> Result<Ended, Lost> {
        let store = self.store.as_ref();
        let mut detail = format!("{} rows, {} bytes", outcome.rows, outcome.bytes);
        if outcome.shortened_cells > 0 {
            detail.push_str(&format!(", {} cells shortened", outcome.shortened_cells));
        }
        // The job as it is once completed, for the notifications.
        let mut after = self.record.clone();
        let job = &mut after.job;
        job.status = crate::exports::JobStatus::Completed;
        job.processed_rows = outcome.rows;
        job.total_rows = Some(outcome.rows);
        job.bytes = Some(outcome.bytes);
        job.shortened_cells = outcome.shortened_cells;
        job.expires_at = Some(expires);
        job.completed_at = Some(Utc::now());
        let mut steps = vec![
            jobs::completed(store, self.lease(), outcome, expires),
            self.event("completed", Some(&detail)),
        ];
        steps.extend(also);
        steps.extend(notify::on_event(
            store,
            notify::Event::Completed,
            &after,
            &self.public_url,
        ));
        match self.apply(&steps).await {
            Ok(()) => Ok(Ended::Completed),
            // Either the fence is gone, or a cancel came first: the cancel says which.
            Err(Lost::Fence) => self.cancel().await.map(|()| Ended::Cancelled),
            Err(e) => Err(e),
        }
    }

    /// The attempt failed; it runs again at `at`. `reason` is the sentence people see,
    /// `detail` goes to the audit trail.
    pub async fn retry(&self, reason: &str, detail: &str, at: DateTime<Utc>) -> Result<(), Lost> {
        let store = self.store.as_ref();
        self.apply(&[
            jobs::retry(store, self.lease(), reason, at),
            self.event("retry_scheduled", Some(detail)),
        ])
        .await
    }

    /// Failed for good, with its event and notifications.
    pub async fn fail(&self, reason: &str, detail: &str) -> Result<(), Lost> {
        let store = self.store.as_ref();
        let mut after = self.record.clone();
        after.job.status = crate::exports::JobStatus::Failed;
        after.job.error = Some(reason.to_owned());
        after.job.completed_at = Some(Utc::now());
        let mut steps = vec![
            jobs::failed(store, self.lease(), reason),
            self.event("failed", Some(detail)),
        ];
        steps.extend(notify::on_event(store, notify::Event::Failed, &after, &self.public_url));
        self.apply(&steps).await
    }

    /// Cancelled, as someone asked.
    /// Puts the job back in the queue at once, for another worker: this one is stopping.
    /// The attempt does not count against the job's attempts.
    pub async fn hand_back(&self) -> Result<(), Lost> {
        let store = self.store.as_ref();
        let detail = "the worker stopped (a restart); another worker takes the job";
        self.apply(&[
            jobs::handed_back(store, self.lease()),
            self.event("handed_back", Some(detail)),
        ])
        .await
    }

    pub async fn cancel(&self) -> Result<(), Lost> {
        let store = self.store.as_ref();
        self.apply(&[jobs::cancelled(store, self.lease()), self.event("cancelled", None)])
            .await
    }
}
