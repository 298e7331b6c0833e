//! Bookkeeping for the progress streams (SSE) a node holds open.
//!
//! - **Limits**: at most `per_session` streams per session and `total` per node; the next
//!   one is refused with 429 and a message, so a script cannot pile up connections.
//! - **Who is still allowed, and as what**: one task per (session, workspace) checks every
//!   few seconds (and at once when this node removes someone) that the session is live
//!   and the user still a member, with which role: a logout, an expiry or a removal from
//!   the workspace ends that session's streams, however many there are, and a demotion
//!   narrows what a workspace stream carries, at the cost of one check.
//! - **Shared re-reads**: a stream hears progress from the hub as it happens; to catch
//!   what the hub cannot carry (an update lost between nodes) it also needs the job as
//!   the database has it. One task per job re-reads it for all of the job's streams.

use crate::accounts::Role;
use crate::error::AppError;
use crate::exports::Progress;
use crate::server::sessions::Sessions;
use crate::store::{DynStore, jobs};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tower_sessions::session::Id;

/// How often a session's right to its streams is checked.
pub const ACCESS_CHECK: Duration = Duration::from_secs(5);
/// How often a job's state is re-read for its streams.
pub const REREAD: Duration = Duration::from_secs(2);

/// What a stream belongs to: a session, or an API token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Holder {
    Session(Id),
    Token(i64),
}

type Access = (Holder, i64);

#[derive(Default)]
struct Open {
    total: usize,
    /// Streams per holder, and the "still allowed" flag of each (holder, workspace).
    sessions: HashMap<Holder, usize>,
    access: HashMap<Access, Arc<watch::Sender<Option<Role>>>>,
    jobs: HashMap<uuid::Uuid, Arc<watch::Sender<Option<Progress>>>>,
}

pub struct Streams {
    per_session: usize,
    total: usize,
    store: DynStore,
    sessions: Sessions,
    open: Arc<Mutex<Open>>,
    /// Bumped to make every access check run now (someone was removed on this node).
    recheck: Arc<watch::Sender<u64>>,
}

/// A stream's place: held while the stream runs, given back when dropped.
pub struct Ticket {
    session: Holder,
    open: Arc<Mutex<Open>>,
    /// The holder's role in the workspace now; `None` once they may no longer stream it.
    pub role: watch::Receiver<Option<Role>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        crate::telemetry::streams(-1.0);
        let mut open = self.open.lock().expect("stream bookkeeping");
        open.total -= 1;
        if let Some(n) = open.sessions.get_mut(&self.session) {
            *n -= 1;
            if *n == 0 {
                open.sessions.remove(&self.session);
            }
        }
    }
}

impl Streams {
    pub fn new(store: DynStore, sessions: Sessions, per_session: usize, total: usize) -> Streams {
        Streams {
            per_session,
            total,
            store,
            sessions,
            open: Arc::default(),
            recheck: Arc::new(watch::channel(0).0),
        }
    }

    /// Runs every access check now (after a removal, so the removed person's streams on
    /// this node end at once; other nodes' checks find it within `ACCESS_CHECK`).
    pub fn recheck(&self) {
        self.recheck.send_modify(|n| *n += 1);
    }

    /// Takes a place for one more stream of `session` on `workspace_id` (where it has
    /// `role` now), or says why not.
    pub fn open(&self, session: Holder, user_id: i64, workspace_id: i64, role: Role) -> Result<Ticket, AppError> {
        let mut open = self.open.lock().expect("stream bookkeeping");
        if open.total >= self.total {
            return Err(AppError::rate_limited(
                "This server holds as many progress streams as it can. Try again in a minute.",
                30,
            ));
        }
        let mine = open.sessions.get(&session).copied().unwrap_or(0);
        if mine >= self.per_session {
            return Err(AppError::rate_limited(
                format!(
                    "You have {mine} progress streams open already (the limit is {}). Close a tab, then try again.",
                    self.per_session
                ),
                10,
            ));
        }
        let key = (session, workspace_id);
        let allowed = match open.access.get(&key) {
            Some(tx) => tx.subscribe(),
            None => {
                let tx = Arc::new(watch::channel(Some(role)).0);
                open.access.insert(key, tx.clone());
                let rx = tx.subscribe();
                tokio::spawn(check_access(
                    self.store.clone(),
                    self.sessions.clone(),
                    self.open.clone(),
                    key,
                    user_id,
                    tx,
                    self.recheck.subscribe(),
                ));
                rx
            }
        };
        open.total += 1;
        *open.sessions.entry(session).or_default() += 1;
        crate::telemetry::streams(1.0);
        Ok(Ticket {
            session,
            open: self.open.clone(),
            role: allowed,
        })
    }

    /// The job's state as re-read from the database every `REREAD`, shared by all its
    /// streams on this node (`None` until the first read).
    pub fn job(&self, id: uuid::Uuid) -> watch::Receiver<Option<Progress>> {
        let mut open = self.open.lock().expect("stream bookkeeping");
        if let Some(tx) = open.jobs.get(&id) {
            return tx.subscribe();
        }
        let tx = Arc::new(watch::channel(None).0);
        open.jobs.insert(id, tx.clone());
        let rx = tx.subscribe();
        tokio::spawn(reread_job(self.store.clone(), self.open.clone(), id, tx));
        rx
    }

    /// Streams open now (for tests and metrics).
    pub fn count(&self) -> usize {
        self.open.lock().expect("stream bookkeeping").total
    }
}

/// The holder's role in the workspace now: `None` when the session (or token) is not
/// live or its user no longer a member. A token acts at most as an admin (as
/// `accounts::member` says); a database hiccup keeps the role it had.
async fn current_role(
    store: &DynStore,
    sessions: &Sessions,
    (holder, workspace_id): Access,
    user_id: i64,
    had: Option<Role>,
) -> Option<Role> {
    let (live, cap) = match holder {
        Holder::Session(id) => (sessions.is_live(&id).await, Role::Owner),
        Holder::Token(id) => (crate::accounts::tokens::is_live(store, id).await, Role::Admin),
    };
    if !live {
        return None;
    }
    match store.memberships(user_id).await {
        Ok(memberships) => memberships
            .iter()
            .find(|m| m.workspace_id == workspace_id)
            .map(|m| m.role.min(cap)),
        // Not a reason to cut everyone off; the next check decides.
        Err(e) => {
            tracing::warn!(error = %e, "could not check a stream's membership");
            had
        }
    }
}

/// Whether nobody listens to `tx` any more; then it leaves the map (under the lock, so
/// no stream can subscribe to it meanwhile) and its task ends.
fn abandoned<K: std::hash::Hash + Eq, T>(
    open: &Mutex<Open>,
    map: impl Fn(&mut Open) -> &mut HashMap<K, Arc<watch::Sender<T>>>,
    key: &K,
    tx: &Arc<watch::Sender<T>>,
    force: bool,
) -> bool {
    let mut open = open.lock().expect("stream bookkeeping");
    if force || tx.receiver_count() == 0 {
        let map = map(&mut open);
        if map.get(key).is_some_and(|t| Arc::ptr_eq(t, tx)) {
            map.remove(key);
        }
        return true;
    }
    false
}

async fn check_access(
    store: DynStore,
    sessions: Sessions,
    open: Arc<Mutex<Open>>,
    key: Access,
    user_id: i64,
    tx: Arc<watch::Sender<Option<Role>>>,
    mut recheck: watch::Receiver<u64>,
) {
    let mut tick = tokio::time::interval(ACCESS_CHECK);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = recheck.changed() => if changed.is_err() { return },
        }
        if abandoned(&open, |o| &mut o.access, &key, &tx, false) {
            return;
        }
        let had = *tx.borrow();
        let role = current_role(&store, &sessions, key, user_id, had).await;
        if role.is_none() {
            // Off the map first: a stream opened from now on gets a fresh check.
            abandoned(&open, |o| &mut o.access, &key, &tx, true);
            let _ = tx.send(None);
            return;
        }
        tx.send_if_modified(|now| std::mem::replace(now, role) != role);
    }
}

async fn reread_job(store: DynStore, open: Arc<Mutex<Open>>, id: uuid::Uuid, tx: Arc<watch::Sender<Option<Progress>>>) {
    let mut tick = tokio::time::interval(REREAD);
    loop {
        tick.tick().await;
        if abandoned(&open, |o| &mut o.jobs, &id, &tx, false) {
            return;
        }
        match jobs::get(store.as_ref(), None, id).await {
            Ok(Some(record)) => {
                let progress = Progress::from(&record.job);
                let terminal = progress.status.is_terminal();
                tx.send_if_modified(|now| {
                    let changed = now.as_ref() != Some(&progress);
                    *now = Some(progress);
                    changed
                });
                if terminal {
                    abandoned(&open, |o| &mut o.jobs, &id, &tx, true);
                    return;
                }
            }
            Ok(None) => {
                abandoned(&open, |o| &mut o.jobs, &id, &tx, true);
                return;
            }
            Err(e) => tracing::debug!(job = %id, error = %e, "could not re-read a job for its streams"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_jobs_streams_share_one_reread() {
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        let streams = Streams::new(store.clone(), Sessions::new(store), 8, 100);
        let job = uuid::Uuid::new_v4();
        let (a, b) = (streams.job(job), streams.job(job));
        assert!(a.same_channel(&b), "two streams of one job, one re-reader");
        assert!(!a.same_channel(&streams.job(uuid::Uuid::new_v4())));
        let session = Holder::Session(Id::default());
        let first = streams.open(session, 1, 1, Role::Member).unwrap();
        let second = streams.open(session, 1, 1, Role::Member).unwrap();
        assert!(first.role.same_channel(&second.role), "one access check per session");
        assert_eq!(streams.count(), 2);
        drop((first, second));
        assert_eq!(streams.count(), 0);
    }
}
