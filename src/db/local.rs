//! What one database handle shares with the code `Db::run` runs for it, on that thread:
//!
//! - a count of this process's changes to whether a session may be used and what it says
//!   of its user (revocation, role, verification, standing, deletion), so caches of that
//!   answer drop what they hold at once. Model functions count through
//!   `standing_changed`; `write_tx` counts again after its commit, so an answer read
//!   between a change and its commit is never trusted;
//! - SQLite's writer lock: write transactions queue for it in the process instead of
//!   polling SQLite's busy handler (which sleeps up to tens of milliseconds a try).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use diesel::QueryResult;

#[derive(Clone, Default)]
pub struct Local {
    changes: Arc<AtomicU64>,
    writer: Arc<Mutex<()>>,
}

thread_local! {
    static CURRENT: RefCell<Option<Local>> = const { RefCell::new(None) };
}

impl Local {
    pub fn standing_epoch(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    fn count_change(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `f` with this handle's state current on this thread.
    pub fn scope<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                CURRENT.with(|c| c.borrow_mut().take());
            }
        }
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
        let _reset = Reset;
        f()
    }
}

fn current() -> Option<Local> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Passes `r` through after counting a standing change.
pub fn standing_changed<T>(r: QueryResult<T>) -> QueryResult<T> {
    if let Some(local) = current() {
        local.count_change();
    }
    r
}

/// What a write transaction holds: the count before it, and (SQLite) the writer lock.
pub(super) struct Writing {
    local: Option<Local>,
    before: u64,
}

impl Writing {
    pub(super) fn begin() -> Writing {
        let local = current();
        let before = local.as_ref().map_or(0, Local::standing_epoch);
        Writing { local, before }
    }

    /// The in-process writer lock of this handle, if `Db::run` set one.
    pub(super) fn with_writer_lock<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard: Option<MutexGuard<'_, ()>> = self
            .local
            .as_ref()
            .map(|l| l.writer.lock().unwrap_or_else(|e| e.into_inner()));
        f()
    }

    /// After the commit (or rollback): counts once more if anything was counted.
    pub(super) fn end(self) {
        if let Some(local) = self.local {
            if local.standing_epoch() != self.before {
                local.count_change();
            }
        }
    }
}
