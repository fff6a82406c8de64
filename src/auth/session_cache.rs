//! Sessions with their users as introspection and `GET /auth/me` last read them, kept
//! briefly so a chat backend can check every request. An answer is reused for at most
//! `SESSION_CACHE` (default 1 s), and never after this instance changed a session or user
//! (see `db::changes`); a change made by another instance shows within that time. Routes
//! that change anything read the session afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::models::{Session, User};
use crate::db::Db;
use crate::error::ApiResult;

/// A session with its user, or nothing when the session does not exist.
pub type Found = Option<Arc<(Session, User)>>;

/// Entries kept at most; a full cache first drops what has gone stale, then everything.
const CAPACITY: usize = 50_000;

struct Entry {
    at: Instant,
    epoch: u64,
    found: Found,
}

pub struct SessionCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl SessionCache {
    /// `ttl` zero turns the cache off.
    pub fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The answer kept for `sid`, if still fresh and no change happened since.
    pub fn get(&self, sid: &str, epoch: u64) -> Option<Found> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(sid)
            .filter(|e| e.epoch == epoch && e.at.elapsed() < self.ttl)
            .map(|e| e.found.clone())
    }

    /// Keeps `found`, read after `epoch` was taken.
    pub fn put(&self, sid: &str, epoch: u64, found: Found) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            let ttl = self.ttl;
            entries.retain(|_, e| e.at.elapsed() < ttl);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            sid.to_string(),
            Entry {
                at: Instant::now(),
                epoch,
                found,
            },
        );
    }
}

impl SessionCache {
    /// The session `sid` and its user, read within the cache's bounded staleness.
    pub async fn session(&self, db: &Db, sid: &str) -> ApiResult<Found> {
        // Taken before the read, so a change during it ends the answer's reuse.
        let epoch = db.standing_epoch();
        if let Some(found) = self.get(sid, epoch) {
            return Ok(found);
        }
        let id = sid.to_string();
        let found = db
            .run(move |conn| Ok(Session::find_with_user(conn, &id)?))
            .await?
            .map(Arc::new);
        self.put(sid, epoch, found.clone());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_or_time_ends_an_answer() {
        let cache = SessionCache::new(Duration::from_millis(50));
        cache.put("s", 7, None);
        assert!(cache.get("s", 7).is_some(), "fresh and unchanged");
        assert!(cache.get("s", 8).is_none(), "a change since");
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("s", 7).is_none(), "too old");
        let off = SessionCache::new(Duration::ZERO);
        off.put("s", 1, None);
        assert!(off.get("s", 1).is_none());
    }
}
