//! The login throttle, and the cap on password hashing.
//!
//! Failed sign-ins are counted per account (the email as typed, known or not, so the
//! answer says nothing about which emails exist) and per client address, in the
//! database, so every node sees the same counts. Past a limit within the window the
//! request is refused with 429 and `Retry-After` before any hash is computed. Argon2 is
//! run at most `hash_concurrency` at a time; a burst beyond a short queue is told to come
//! back (503), so logins cannot exhaust the memory or the CPUs.

use crate::error::{AppError, ErrorCode};
use crate::store::DynStore;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    /// Failed sign-ins per account within `window` before it is refused.
    pub per_account: i64,
    /// Failed sign-ins per client address within `window`.
    pub per_address: i64,
    pub window: Duration,
    /// Password hashes computed at once.
    pub hash_concurrency: usize,
    /// Requests that may wait for a hashing slot; more are refused at once.
    pub hash_queue: usize,
}

pub struct Throttle {
    settings: ThrottleSettings,
    slots: Semaphore,
    waiting: AtomicUsize,
}

/// How long a request waits for a hashing slot before it is told to come back.
const HASH_WAIT: Duration = Duration::from_secs(10);

pub const TOO_MANY_FAILURES: &str = "Too many failed sign-ins. Wait a while, then try again.";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn account_key(email: &str) -> String {
    let email: String = super::ssr::normalise_email(email).chars().take(320).collect();
    format!("account:{email}")
}

fn address_key(address: IpAddr) -> String {
    format!("address:{address}")
}

impl Throttle {
    pub fn new(settings: ThrottleSettings) -> Throttle {
        Throttle {
            slots: Semaphore::new(settings.hash_concurrency.max(1)),
            waiting: AtomicUsize::new(0),
            settings,
        }
    }

    fn window(&self) -> i64 {
        self.settings.window.as_secs() as i64
    }

    /// Refuses the attempt (429) when its account or address has failed too often.
    pub async fn check(&self, store: &DynStore, email: &str, address: IpAddr) -> Result<(), AppError> {
        let since = now() - self.window();
        let mut wait = 0;
        for (key, limit) in [
            (account_key(email), self.settings.per_account),
            (address_key(address), self.settings.per_address),
        ] {
            let (failures, oldest) = store.login_failures(&key, since).await?;
            if failures >= limit {
                let until = oldest.unwrap_or(since) + self.window();
                wait = wait.max(until - now());
            }
        }
        if wait > 0 {
            let minutes = (wait + 59) / 60;
            let message = format!(
                "Too many failed sign-ins. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            );
            return Err(AppError::rate_limited(message, wait as u64));
        }
        Ok(())
    }

    pub async fn failed(&self, store: &DynStore, email: &str, address: IpAddr) -> Result<(), AppError> {
        let keys = [account_key(email), address_key(address)];
        store.add_login_failure(&[&keys[0], &keys[1]], now()).await?;
        Ok(())
    }

    /// A correct password clears its account's failures (not the address's).
    pub async fn succeeded(&self, store: &DynStore, email: &str) -> Result<(), AppError> {
        store.clear_login_failures(&account_key(email)).await?;
        Ok(())
    }

    /// Forgets failures older than the window (run by the cleanup schedule).
    pub async fn prune(&self, store: &DynStore) -> Result<u64, AppError> {
        Ok(store.prune_login_failures(now() - self.window()).await?)
    }

    /// A slot to compute one password hash in; 503 when too many are waiting already.
    pub async fn hash_slot(&self) -> Result<SemaphorePermit<'_>, AppError> {
        let busy = || AppError {
            retry_after: Some(5),
            ..AppError::new(
                ErrorCode::Unavailable,
                "Egress is busy checking other sign-ins. Try again in a few seconds.",
            )
        };
        if let Ok(slot) = self.slots.try_acquire() {
            return Ok(slot);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.settings.hash_queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let slot = tokio::time::timeout(HASH_WAIT, self.slots.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        match slot {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(busy()),
        }
    }
}
