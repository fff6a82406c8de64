//! Sessions with their users as introspection and `GET /auth/me` last read them, kept
//! briefly so a chat backend can check every request. An answer is reused for at most
//! `SESSION_CACHE` (default 1 s), and never after this instance changed a session or user
//! (see `db::changes`); a change made by another instance shows within that time. Routes
//! that change anything read the session afresh. Concurrent misses for one session share
//! one read: when an answer expires under load, one query refills it instead of one per
//! request in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// A read under way, keyed by session and epoch: a request that started after a change
/// never joins a read that started before it.
type Reads = HashMap<(String, u64), Arc<tokio::sync::OnceCell<Found>>>;

pub struct SessionCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    reads: Mutex<Reads>,
    /// Reads that went to the database.
    database_reads: AtomicU64,
}

impl SessionCache {
    /// `ttl` zero turns the cache off.
    pub fn new(ttl: Duration) -> SessionCache {
        SessionCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
            reads: Mutex::new(HashMap::new()),
            database_reads: AtomicU64::new(0),
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
        if self.ttl.is_zero() {
            return self.read(db, sid).await;
        }
        let key = (sid.to_string(), epoch);
        let shared = self
            .reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let _leave = Leave {
            reads: &self.reads,
            key,
            shared: shared.clone(),
        };
        // One caller reads; the others wait for its answer. A failed read is not shared:
        // the next caller in line tries again.
        shared
            .get_or_try_init(|| async {
                let found = self.read(db, sid).await?;
                self.put(sid, epoch, found.clone());
                ApiResult::Ok(found)
            })
            .await
            .cloned()
    }

    async fn read(&self, db: &Db, sid: &str) -> ApiResult<Found> {
        self.database_reads.fetch_add(1, Ordering::Relaxed);
        let id = sid.to_string();
        Ok(db
            .run(move |conn| Ok(Session::find_with_user(conn, &id)?))
            .await?
            .map(Arc::new))
    }

    /// How many reads went to the database.
    pub fn database_reads(&self) -> u64 {
        self.database_reads.load(Ordering::Relaxed)
    }
}

/// Takes a finished (or abandoned) read off the list, so that nobody joins it later.
struct Leave<'a> {
    reads: &'a Mutex<Reads>,
    key: (String, u64),
    shared: Arc<tokio::sync::OnceCell<Found>>,
}

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let mut reads = self.reads.lock().unwrap_or_else(|e| e.into_inner());
        if reads
            .get(&self.key)
            .is_some_and(|r| Arc::ptr_eq(r, &self.shared))
        {
            reads.remove(&self.key);
        }
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

    fn sqlite_db() -> Db {
        let dir = std::env::temp_dir().join(format!("latch-sessions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("cache.db");
        let _ = std::fs::remove_file(&path);
        let url =
            crate::settings::database::DatabaseUrl::new(format!("sqlite://{}", path.display()));
        let db = Db::new(&url, 4).unwrap();
        db.migrate_and(|_| Ok(())).unwrap();
        db
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_read() {
        let db = sqlite_db();
        let cache = Arc::new(SessionCache::new(Duration::from_secs(60)));
        let mut misses = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (cache, db) = (cache.clone(), db.clone());
            misses.spawn(async move { cache.session(&db, "no-such-session").await });
        }
        while let Some(answer) = misses.join_next().await {
            assert!(matches!(answer.unwrap(), Ok(None)));
        }
        assert_eq!(cache.database_reads(), 1, "one read for fifty misses");
        cache.session(&db, "no-such-session").await.unwrap();
        assert_eq!(cache.database_reads(), 1, "then the cache answers");
        // Off: every call reads.
        let off = SessionCache::new(Duration::ZERO);
        for _ in 0..3 {
            off.session(&db, "no-such-session").await.unwrap();
        }
        assert_eq!(off.database_reads(), 3);
    }
}
