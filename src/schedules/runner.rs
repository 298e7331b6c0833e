//! Fires due schedules. Any number of processes tick at once: each due time is fenced on
//! the `next_run_at` they read (`store::schedules::fire`), in the transaction that creates
//! the run's job, so it makes one job. The next due time is the first after *now*, so a
//! schedule that missed several while Egress was down runs once, not once per slot.
//! A due time whose previous run is still going is skipped and recorded as such; one
//! whose workspace is at its limit of running exports waits for the next tick.

use super::{Cadence, cadence};
use crate::accounts::Role;
use crate::catalog::Catalog;
use crate::exports::service::{new_job, validate, wake_workers};
use crate::exports::{ACTIVE_LIMIT, NewExport};
use crate::store::{Alongside, Created, DynStore, NewJob, ScheduleRecord, StoreResult, schedules};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// What a tick did, due time by due time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Runs started.
    pub started: usize,
    /// Due times skipped: the previous run was still going, or the schedule cannot run.
    pub skipped: usize,
    /// Due times left for the next tick: the workspace was at its limit.
    pub waiting: usize,
    /// Due times another process fired first.
    pub taken: usize,
}

#[derive(Clone)]
pub struct Scheduler {
    pub store: DynStore,
    pub catalog: Arc<Catalog>,
    pub max_attempts: i32,
    /// This process's worker, woken for a new run.
    pub wakeup: Arc<Notify>,
}

/// The job a schedule's run makes, for `user_id` with `role`; or why it cannot run.
pub fn prepare(
    catalog: &Catalog,
    schedule: &ScheduleRecord,
    user_id: i64,
    role: Role,
    max_attempts: i32,
) -> Result<NewJob, String> {
    let request: NewExport =
        serde_json::from_str(&schedule.request).map_err(|e| format!("its saved export cannot be read: {e}"))?;
    let (dataset, format, filters) = validate(catalog, &request, role).map_err(|e| e.message)?;
    let mut job = new_job(
        schedule.workspace_id,
        user_id,
        (dataset, format, filters),
        request,
        max_attempts,
    );
    job.increment_of = schedule.incremental.then_some(schedule.id);
    Ok(job)
}

/// When the schedule runs first after `now`.
pub fn next_run(schedule: &ScheduleRecord, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let cadence: Cadence =
        serde_json::from_str(&schedule.cadence).map_err(|e| format!("its cadence cannot be read: {e}"))?;
    cadence::next_after(&cadence, &schedule.time_zone, now).map_err(|e| e.message)
}

impl Scheduler {
    /// Fires every schedule due at `now` (the clock is a parameter, so tests can move it).
    pub async fn tick(&self, now: DateTime<Utc>) -> StoreResult<Tick> {
        let mut tick = Tick::default();
        let due = self
            .store
            .fetch_schedules(&schedules::due(now.timestamp(), 100))
            .await?;
        for schedule in due {
            match self.fire(&schedule, now).await {
                Ok(Fired::Started) => tick.started += 1,
                Ok(Fired::Skipped) => tick.skipped += 1,
                Ok(Fired::Waiting) => tick.waiting += 1,
                Ok(Fired::Taken) => tick.taken += 1,
                Err(e) => tracing::warn!(schedule = schedule.id, error = %e, "schedule not fired; will try again"),
            }
        }
        Ok(tick)
    }

    async fn fire(&self, schedule: &ScheduleRecord, now: DateTime<Utc>) -> StoreResult<Fired> {
        let store = self.store.as_ref();
        let due = schedule.next_run_at;
        let ts = now.timestamp();
        let job = match next_run(schedule, now) {
            Ok(next) => self.job_for(schedule).await?.map(|job| (job, next.timestamp())),
            Err(why) => Err(why),
        };
        let (job, next) = match job {
            Ok(found) => found,
            Err(why) => {
                // It cannot run again until someone fixes it: pause it and say why.
                let note = format!("Paused: {why}");
                let steps = [
                    schedules::pause_broken(schedule.id, due, ts),
                    schedules::record_run(store, schedule.id, due, None, "skipped", Some(&note), ts),
                ];
                tracing::warn!(schedule = schedule.id, reason = %why, "schedule paused");
                return Ok(if store.transition(&steps).await? {
                    Fired::Skipped
                } else {
                    Fired::Taken
                });
            }
        };
        let alongside = Alongside {
            fence: Some(schedules::fire(schedule.id, Some((due, next)), ts)),
            then: vec![schedules::record_run(
                store,
                schedule.id,
                due,
                Some(job.id),
                "started",
                None,
                ts,
            )],
        };
        match store.create_job(&job, ACTIVE_LIMIT, &alongside).await? {
            Created::Job(record) => {
                tracing::info!(schedule = schedule.id, job = %record.uuid, "scheduled export started");
                wake_workers(store, &self.wakeup).await;
                Ok(Fired::Started)
            }
            Created::AtLimit => Ok(Fired::Waiting),
            Created::Fenced => {
                // Another process fired this due time (then this changes nothing too), or
                // the previous run is still going: then the due time passes, on record.
                let note = "Skipped: the previous run was still going.";
                let steps = [
                    schedules::pass(schedule.id, due, next, ts),
                    schedules::record_run(store, schedule.id, due, None, "skipped", Some(note), ts),
                ];
                Ok(if store.transition(&steps).await? {
                    Fired::Skipped
                } else {
                    Fired::Taken
                })
            }
        }
    }

    /// The job the schedule's maker gets, if they may still run it.
    async fn job_for(&self, schedule: &ScheduleRecord) -> StoreResult<Result<NewJob, String>> {
        let memberships = self.store.memberships(schedule.created_by).await?;
        let Some(role) = memberships
            .iter()
            .find(|m| m.workspace_id == schedule.workspace_id)
            .map(|m| m.role)
        else {
            return Ok(Err(format!(
                "{} is no longer a member of this workspace.",
                schedule.created_by_name
            )));
        };
        Ok(prepare(
            &self.catalog,
            schedule,
            schedule.created_by,
            role,
            self.max_attempts,
        ))
    }

    /// Ticks every `interval` until the process ends.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match self.tick(Utc::now()).await {
                    Ok(t) if t != Tick::default() => tracing::info!(?t, "schedules fired"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "schedules not read; will try again"),
                }
            }
        })
    }
}

enum Fired {
    Started,
    Skipped,
    Waiting,
    Taken,
}
