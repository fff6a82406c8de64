//! The threads passwords are hashed on. A hash holds a core for tens of milliseconds, so
//! under a sign-in flood the hashes would share the cores evenly with everything else and
//! a refresh or `/auth/me` would wait behind them. These threads run at a lower CPU
//! priority (nice 10): whatever else is ready runs first, and the cores it leaves idle
//! still go to hashing, so sign-ins lose nothing while the rest of the service is quiet.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// How much lower than the rest of the process hashing runs (see `nice(2)`).
const NICENESS: libc::c_int = 10;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct HashThreads {
    jobs: SyncSender<Job>,
}

impl HashThreads {
    /// Starts `count` threads. They end when the last handle is dropped.
    pub fn start(count: usize) -> std::io::Result<HashThreads> {
        let (jobs, queue) = sync_channel::<Job>(count);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("latch-hash-{n}"))
                .spawn(move || work(&queue))?;
        }
        Ok(HashThreads { jobs })
    }

    /// Runs `f` on a hashing thread. Callers bound how many run at once (the hasher's
    /// permits), so a job never waits long for a thread.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = catch_unwind(AssertUnwindSafe(f))
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a hashing job panicked")));
            let _ = tx.send(outcome);
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            // Only when callers run more jobs at once than there are threads.
            Err(TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                tokio::task::spawn_blocking(move || jobs.send(job))
                    .await?
                    .map_err(|_| stopped())?;
            }
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        rx.await
            .map_err(|_| anyhow::anyhow!("a hashing job was dropped"))?
    }
}

fn stopped() -> anyhow::Error {
    anyhow::anyhow!("the hashing threads have stopped")
}

fn work(queue: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only while waiting for the next job, never while running one.
        let next = queue.lock().map(|q| q.recv());
        match next {
            Ok(Ok(job)) => job(),
            _ => return,
        }
    }
}

/// Lowers the calling thread's priority (on Linux `nice` changes only the calling
/// thread). Raising the nice value needs no privilege; a failure is only logged, and
/// hashing then runs at the process's priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: `nice` changes the calling thread only; errno is cleared first because
    // -1 is also a valid result.
    unsafe {
        *libc::__errno_location() = 0;
        if libc::nice(NICENESS) == -1 && *libc::__errno_location() != 0 {
            tracing::warn!(
                error = %std::io::Error::last_os_error(),
                "could not lower the priority of a hashing thread"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_at_a_lower_priority_and_survives_a_panic() {
        fn own_nice() -> libc::c_int {
            // SAFETY: reads the calling thread's own nice value.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        }
        let threads = HashThreads::start(2).unwrap();
        let here = own_nice();
        let there = threads.run(|| Ok(own_nice())).await.unwrap();
        assert_eq!(there, (here + NICENESS).min(19));

        let panicked = threads
            .run(|| -> anyhow::Result<()> { panic!("boom") })
            .await;
        assert!(panicked.is_err());
        // Both threads are still there to take work.
        for _ in 0..4 {
            assert_eq!(threads.run(|| Ok(7)).await.unwrap(), 7);
        }
    }
}
