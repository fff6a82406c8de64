//! Sessions with their users as introspection and `GET /auth/me` last read them, kept
//! briefly so a chat backend can check every request. An answer is reused for at most
//! `SESSION_CACHE` (default 1 s), and never after this instance changed a session or user
//! (see `db::changes`); a change made by another instance shows within that time. Routes
//! that change anything read the session afresh. Concurrent misses for one session share
//! one read: when an answer expires under load, one query refills it instead of one per
//! request in flight.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::web::Bytes;

use crate::auth::tokens::Claims;
use crate::db::models::{Session, User};
use crate::db::Db;
use crate::error::ApiResult;

/// A session with its user, as one read found them.
pub struct Kept {
    pub session: Session,
    pub user: User,
    /// The user's JSON view, rendered at most once per read: every `GET /auth/me` the
    /// answer serves sends the same bytes.
    view: OnceLock<Bytes>,
    /// The last introspection answer rendered from this read, and the token's claims it
    /// is for: a backend introspects the same token again and again until it is replaced.
    introspection: Mutex<Option<(Arc<Claims>, Bytes)>>,
}

impl Kept {
    pub fn new((session, user): (Session, User)) -> Kept {
        Kept {
            session,
            user,
            view: OnceLock::new(),
            introspection: Mutex::new(None),
        }
    }

    /// `render(claims, &self.user)`, reused while the same token is introspected.
    pub fn introspection<E>(
        &self,
        claims: &Arc<Claims>,
        render: impl FnOnce(&Claims, &User) -> Result<Bytes, E>,
    ) -> Result<Bytes, E> {
        let kept = |slot: &Option<(Arc<Claims>, Bytes)>| match slot {
            Some((c, answer)) if Arc::ptr_eq(c, claims) || **c == **claims => Some(answer.clone()),
            _ => None,
        };
        let lock = || self.introspection.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(answer) = kept(&lock()) {
            return Ok(answer);
        }
        let answer = render(claims, &self.user)?;
        *lock() = Some((claims.clone(), answer.clone()));
        Ok(answer)
    }

    /// `render(&self.user)`, computed until it first succeeds.
    pub fn view<E>(&self, render: impl FnOnce(&User) -> Result<Bytes, E>) -> Result<Bytes, E> {
        if let Some(view) = self.view.get() {
            return Ok(view.clone());
        }
        let view = render(&self.user)?;
        Ok(self.view.get_or_init(|| view).clone())
    }
}

/// A session with its user, or nothing when the session does not exist.
pub type Found = Option<Arc<Kept>>;

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
            .map(|found| Arc::new(Kept::new(found))))
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

    fn sqlite_db(name: &str) -> Db {
        let dir = std::env::temp_dir().join(format!("latch-sessions-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.db"));
        let _ = std::fs::remove_file(&path);
        let url =
            crate::settings::database::DatabaseUrl::new(format!("sqlite://{}", path.display()));
        let db = Db::new(&url, 4).unwrap();
        db.migrate_and(|_| Ok(())).unwrap();
        db
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_read() {
        let db = sqlite_db("misses");
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

    /// A session and its user as the database gives them.
    fn kept(db: &Db) -> Kept {
        use crate::db::models::session::NewSession;
        use crate::db::models::user::NewUser;
        use crate::db::schema::users;
        use diesel::prelude::*;
        let now = crate::db::models::now();
        let mut conn = db.conn().unwrap();
        let user = NewUser {
            id: "u1",
            email: "ada@example.com",
            name: "Ada",
            password_hash: None,
            role: "user",
            email_verified: true,
            disabled: false,
            created_at: now,
            updated_at: now,
            username: None,
            legacy_id: None,
        };
        diesel::insert_into(users::table)
            .values(&user)
            .execute(&mut conn)
            .unwrap();
        let session = NewSession {
            id: "s1",
            user_id: "u1",
            created_at: now,
            last_used_at: now,
            expires_at: now + chrono::Duration::days(1),
            user_agent: None,
            ip: None,
            auth_time: now,
            amr: "pwd",
            provider: None,
        };
        Session::insert(&mut conn, &session).unwrap();
        Kept::new(Session::find_with_user(&mut conn, "s1").unwrap().unwrap())
    }

    #[test]
    fn an_answer_rendered_for_one_token_is_not_given_for_another() {
        let kept = kept(&sqlite_db("rendered"));
        let claims = |jti: &str| {
            Arc::new(Claims {
                iss: "latch".into(),
                aud: "latch".into(),
                sub: "u1".into(),
                sid: "s1".into(),
                iat: 0,
                nbf: 0,
                exp: 60,
                jti: jti.into(),
                email: "ada@example.com".into(),
                email_verified: true,
                role: crate::db::models::user::Role::User,
                auth_time: 0,
                amr: vec!["pwd".into()],
            })
        };
        let renders = std::cell::Cell::new(0);
        let render = |c: &Claims, u: &User| {
            renders.set(renders.get() + 1);
            Ok::<_, ()>(Bytes::from(format!("{} {}", c.jti, u.email)))
        };
        let (first, second) = (claims("t1"), claims("t2"));
        assert_eq!(
            kept.introspection(&first, render).unwrap(),
            "t1 ada@example.com"
        );
        assert_eq!(
            kept.introspection(&first, render).unwrap(),
            "t1 ada@example.com"
        );
        // Equal claims in another allocation are the same token.
        assert_eq!(
            kept.introspection(&claims("t1"), render).unwrap(),
            "t1 ada@example.com"
        );
        assert_eq!(renders.get(), 1, "rendered once for one token");
        assert_eq!(
            kept.introspection(&second, render).unwrap(),
            "t2 ada@example.com"
        );
        assert_eq!(renders.get(), 2);
        assert_eq!(
            kept.view(|u| Ok::<_, ()>(Bytes::from(u.name.clone())))
                .unwrap(),
            "Ada"
        );
        assert_eq!(kept.view(|_| Err(())).unwrap(), "Ada", "rendered once");
    }
}
