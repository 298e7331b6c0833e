//! The session store: tower-sessions' interface over Egress's own `sessions` table.
//!
//! Why not tower-sessions-sqlx-store: its `save` is an upsert, so a request that was in
//! flight while the user logged out wrote the session back, and with "always save" a
//! request carrying an unknown cookie created a row. Here `create` inserts a new id and
//! `save` only updates a session that still exists: a logout sticks, and nothing but a
//! sign-in creates a session row.

use crate::store::DynStore;
use async_trait::async_trait;
use tower_sessions::SessionStore;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};

/// The session key that holds the signed-in user's id (also kept in its own column, so
/// a user's sessions can be found).
pub const USER_KEY: &str = "user_id";

#[derive(Clone)]
pub struct Sessions {
    store: DynStore,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions")
    }
}

fn backend(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What a record is stored as: its data as JSON, the user it belongs to, its expiry.
fn encode(record: &Record) -> session_store::Result<(String, Option<i64>, i64)> {
    let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
    let user = record.data.get(USER_KEY).and_then(serde_json::Value::as_i64);
    Ok((data, user, record.expiry_date.unix_timestamp()))
}

impl Sessions {
    pub fn new(store: DynStore) -> Sessions {
        Sessions { store }
    }

    /// Whether a session is still live (not logged out, not expired), without the
    /// session machinery of a request: the progress streams ask this as they run.
    pub async fn is_live(&self, id: &Id) -> bool {
        matches!(self.store.load_session(&id.to_string(), now()).await, Ok(Some(_)))
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let (data, user, expires) = encode(record)?;
            if self
                .store
                .insert_session(&record.id.to_string(), user, &data, expires)
                .await
                .map_err(backend)?
            {
                return Ok(());
            }
            // 128 random bits collided: take another id.
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let (data, user, expires) = encode(record)?;
        // Nothing to do when the session is gone: it was logged out meanwhile.
        self.store
            .update_session(&record.id.to_string(), user, &data, expires)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let Some((data, expires)) = self.store.load_session(&id.to_string(), now()).await.map_err(backend)? else {
            return Ok(None);
        };
        let data = serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp(expires).map_err(backend)?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete_session(&id.to_string()).await.map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for Sessions {
    async fn delete_expired(&self) -> session_store::Result<()> {
        self.store.delete_expired_sessions(now()).await.map_err(backend)?;
        Ok(())
    }
}
