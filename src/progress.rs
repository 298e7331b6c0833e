//! The in-process progress hub: workers publish, SSE streams subscribe. A subscriber
//! that falls behind is told so and re-reads the job from the database.

use crate::exports::Progress;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Hub {
    sender: broadcast::Sender<Progress>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            sender: broadcast::channel(1024).0,
        }
    }
}

impl Hub {
    /// Sends to whoever listens now; nobody listening is fine.
    pub fn publish(&self, progress: Progress) {
        let _ = self.sender.send(progress);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Progress> {
        self.sender.subscribe()
    }
}
