//! The progress hub: workers publish, SSE streams subscribe. On Postgres every update
//! goes through NOTIFY, and every process listens, so a stream on any web node sees a
//! job run by any worker; on SQLite (one process) it stays in memory. A subscriber that
//! falls behind re-reads the job from the database.

use crate::exports::Progress;
use crate::store::DynStore;
use std::sync::Arc;
use tokio::sync::{Notify, broadcast, mpsc};

pub const PROGRESS_CHANNEL: &str = "egress_progress";
/// Rung when a job is created, so an idle worker anywhere starts at once.
pub const JOBS_CHANNEL: &str = "egress_jobs";

#[derive(Clone)]
pub struct Hub {
    local: broadcast::Sender<Progress>,
    /// Updates to send with NOTIFY, in order, by one task.
    remote: Option<mpsc::Sender<Progress>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            local: broadcast::channel(1024).0,
            remote: None,
        }
    }
}

impl Hub {
    /// A hub that publishes through the database when it can notify other processes,
    /// and a task that passes what they publish (and job wake-ups) to this process.
    pub async fn connect(store: &DynStore, wakeup: Arc<Notify>) -> Hub {
        let mut hub = Hub::default();
        let listening = match store.listen(&[PROGRESS_CHANNEL, JOBS_CHANNEL]).await {
            Ok(Some(stream)) => stream,
            Ok(None) => return hub,
            Err(e) => {
                tracing::warn!(error = %e, "cannot LISTEN; progress stays within this process");
                return hub;
            }
        };
        let (tx, mut rx) = mpsc::channel::<Progress>(1024);
        hub.remote = Some(tx);
        let sender = store.clone();
        let fallback = hub.local.clone();
        tokio::spawn(async move {
            while let Some(progress) = rx.recv().await {
                let payload = serde_json::to_string(&progress).expect("progress serialises");
                if let Err(e) = sender.notify(PROGRESS_CHANNEL, &payload).await {
                    tracing::debug!(error = %e, "NOTIFY failed; delivering locally");
                    let _ = fallback.send(progress);
                }
            }
        });
        let local = hub.local.clone();
        tokio::spawn(async move {
            use futures::StreamExt;
            let mut listening = listening;
            while let Some((channel, payload)) = listening.next().await {
                if channel == JOBS_CHANNEL {
                    wakeup.notify_one();
                } else if let Ok(progress) = serde_json::from_str::<Progress>(&payload) {
                    let _ = local.send(progress);
                }
            }
        });
        hub
    }

    /// Sends to whoever listens; nobody listening is fine.
    pub fn publish(&self, mut progress: Progress) {
        match &self.remote {
            Some(remote) => {
                // NOTIFY payloads are limited to 8,000 bytes.
                if let Some(error) = &mut progress.error {
                    error.truncate(error.floor_char_boundary(2000));
                }
                if let Err(mpsc::error::TrySendError::Full(p) | mpsc::error::TrySendError::Closed(p)) =
                    remote.try_send(progress)
                {
                    let _ = self.local.send(p);
                }
            }
            None => {
                let _ = self.local.send(progress);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Progress> {
        self.local.subscribe()
    }
}
