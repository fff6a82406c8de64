//! Counts, per database handle, the changes this process makes to whether a session may be
//! used and what it says of its user (revocation, role, verification, standing, deletion),
//! so caches of that answer drop what they hold at once. Model functions count through
//! `standing_changed` on whatever handle `Db::run` is running them for; `write_tx` counts
//! again after its commit, so an answer read between a change and its commit is never
//! trusted.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use diesel::QueryResult;

#[derive(Clone, Default)]
pub struct StandingChanges(Arc<AtomicU64>);

thread_local! {
    static CURRENT: RefCell<Option<StandingChanges>> = const { RefCell::new(None) };
}

impl StandingChanges {
    pub fn epoch(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// Runs `f` with changes on this thread counted here.
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

fn current() -> Option<StandingChanges> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Passes `r` through after counting a standing change.
pub fn standing_changed<T>(r: QueryResult<T>) -> QueryResult<T> {
    if let Some(changes) = current() {
        changes.bump();
    }
    r
}

/// The count before a transaction; see `count_again_if_changed`.
pub(super) fn epoch_now() -> Option<u64> {
    current().map(|c| c.epoch())
}

/// After a commit: counts once more if anything was counted since `before`.
pub(super) fn count_again_if_changed(before: Option<u64>) {
    if let (Some(changes), Some(before)) = (current(), before) {
        if changes.epoch() != before {
            changes.bump();
        }
    }
}
