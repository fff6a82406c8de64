//! scrypt password hashing (PHC strings) on a bounded pool: at most `concurrency` hashes
//! run at once, on their own lower-priority threads (`hash_threads`), and at most `queue`
//! requests wait for one; a flood beyond that is answered `503 overloaded` at once
//! instead of piling up (one hash at the default cost takes 128 MiB).
//!
//! bcrypt hashes brought over from LibreChat (`latch import librechat`) are checked on the
//! same pool; a right password is rehashed with scrypt (`Verified::rehash`), and a wrong one
//! takes as long as a scrypt check would, so the answer's time tells nothing about the
//! account.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use rand::rngs::OsRng;
use scrypt::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use scrypt::{Params, Scrypt};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::hash_threads::HashThreads;
use crate::error::{ApiError, ApiResult};
use crate::settings::ScryptSettings;

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    threads: HashThreads,
    permits: Arc<Semaphore>,
    /// Places for requests that will hash (see `admit`).
    admission: Arc<Semaphore>,
    /// Requests waiting for a permit, and how many may.
    waiting: Arc<AtomicUsize>,
    queue: usize,
    /// A hash of a random password at the current cost, verified when the account is
    /// unknown so that both failures take the same time.
    dummy: Arc<str>,
    /// How long checking a password against a scrypt hash at the current cost takes here.
    scrypt_time: std::time::Duration,
}

/// The outcome of checking a password.
pub struct Verified {
    pub ok: bool,
    /// A new hash at the current cost, when the stored one used another.
    pub rehash: Option<String>,
}

impl PasswordHasher {
    /// Builds the hasher, computing the dummy hash on the blocking pool.
    pub async fn new(s: &ScryptSettings) -> anyhow::Result<PasswordHasher> {
        let params = Params::new(s.log_n, s.r, s.p, Params::RECOMMENDED_LEN)
            .context("invalid scrypt parameters")?;
        let threads = HashThreads::start(s.concurrency).context("starting the hashing threads")?;
        let (dummy, scrypt_time) = threads
            .run(move || {
                let random: String =
                    rand::distributions::Alphanumeric.sample_string(&mut OsRng, 32);
                let started = std::time::Instant::now();
                let dummy = hash_with(&params, &random)?;
                Ok((dummy, started.elapsed()))
            })
            .await?;
        Ok(PasswordHasher {
            params,
            threads,
            permits: Arc::new(Semaphore::new(s.concurrency)),
            admission: Arc::new(Semaphore::new(s.concurrency + s.queue)),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue: s.queue,
            dummy: dummy.into(),
            scrypt_time,
        })
    }

    async fn on_pool<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> ApiResult<T> {
        let _permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let _waiting = Waiting::enter(&self.waiting, self.queue)?;
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|e| ApiError::Unexpected(e.into()))?
            }
        };
        self.threads.run(f).await.map_err(ApiError::Unexpected)
    }

    /// A place for a sign-in or registration that will hash: at most as many as may hash
    /// or wait for a hash at once, held to the end of the request. Without one the request
    /// is answered `503` before any other work (a flood costs no database write).
    pub fn admit(&self) -> ApiResult<OwnedSemaphorePermit> {
        self.admission
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::Overloaded)
    }

    pub async fn hash(&self, password: SecretString) -> ApiResult<String> {
        let params = self.params;
        self.on_pool(move || hash_with(&params, password.expose_secret()))
            .await
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no
    /// stored hash, so an unknown account costs the same time as a wrong password.
    pub async fn verify(
        &self,
        password: SecretString,
        stored: Option<String>,
    ) -> ApiResult<Verified> {
        if let Some(bcrypt) = stored.as_deref().filter(|h| is_bcrypt(h)) {
            return self.verify_bcrypt(password, bcrypt.to_string()).await;
        }
        let params = self.params;
        let dummy = self.dummy.clone();
        self.on_pool(move || {
            let real = stored.is_some();
            let phc = stored.as_deref().unwrap_or(&dummy);
            let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            let ok = Scrypt
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
                && real;
            let rehash = if ok && !uses_params(&parsed, &params) {
                Some(hash_with(&params, password.expose_secret())?)
            } else {
                None
            };
            Ok(Verified { ok, rehash })
        })
        .await
    }
}

impl PasswordHasher {
    /// A bcrypt hash (LibreChat's): a right password gets a scrypt hash to replace it; a
    /// wrong one is answered no sooner than a scrypt check would be.
    async fn verify_bcrypt(&self, password: SecretString, stored: String) -> ApiResult<Verified> {
        let started = tokio::time::Instant::now();
        let params = self.params;
        let verified = self
            .on_pool(move || {
                // Like LibreChat's bcryptjs: `$2a$`, `$2b$` and `$2y$`, the first 72 bytes.
                let ok = bcrypt::verify(password.expose_secret(), &stored).unwrap_or(false);
                let rehash = match ok {
                    true => Some(hash_with(&params, password.expose_secret())?),
                    false => None,
                };
                Ok(Verified { ok, rehash })
            })
            .await?;
        if !verified.ok {
            tokio::time::sleep_until(started + self.scrypt_time).await;
        }
        Ok(verified)
    }
}

/// Whether a stored hash is bcrypt's (`$2a$`, `$2b$`, `$2y$`, `$2x$`).
pub fn is_bcrypt(hash: &str) -> bool {
    let b = hash.as_bytes();
    b.len() == 60
        && hash.starts_with("$2")
        && matches!(b[2], b'a' | b'b' | b'y' | b'x')
        && b[3] == b'$'
}

/// A request counted as waiting for a hash until dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize, max: usize) -> ApiResult<Waiting<'a>> {
        let guard = Waiting(count);
        if count.fetch_add(1, Ordering::AcqRel) >= max {
            return Err(ApiError::Overloaded);
        }
        Ok(guard)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Hashes on the calling thread, for the command line (never call it on the executor).
pub fn hash_blocking(s: &ScryptSettings, password: &str) -> anyhow::Result<String> {
    let params = Params::new(s.log_n, s.r, s.p, Params::RECOMMENDED_LEN)
        .context("invalid scrypt parameters")?;
    hash_with(&params, password)
}

fn hash_with(params: &Params, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Scrypt
        .hash_password_customized(password.as_bytes(), None, None, *params, &salt)
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// True when a PHC string was made with exactly these parameters.
fn uses_params(hash: &PasswordHash<'_>, params: &Params) -> bool {
    match Params::try_from(hash) {
        Ok(p) => p.log_n() == params.log_n() && p.r() == params.r() && p.p() == params.p(),
        Err(_) => false,
    }
}

use rand::distributions::DistString as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(log_n: u8) -> ScryptSettings {
        ScryptSettings {
            log_n,
            r: 8,
            p: 1,
            concurrency: 2,
            queue: 32,
        }
    }

    #[tokio::test]
    async fn verifies_and_upgrades_the_cost() {
        let old = PasswordHasher::new(&settings(4)).await.unwrap();
        let hash = old
            .hash(SecretString::from("a long passphrase"))
            .await
            .unwrap();
        assert!(hash.starts_with("$scrypt$ln=4,r=8,p=1$"), "{hash}");

        let v = old
            .verify(SecretString::from("a long passphrase"), Some(hash.clone()))
            .await
            .unwrap();
        assert!(v.ok && v.rehash.is_none());
        let v = old
            .verify(SecretString::from("wrong"), Some(hash.clone()))
            .await
            .unwrap();
        assert!(!v.ok && v.rehash.is_none());

        let new = PasswordHasher::new(&settings(5)).await.unwrap();
        let v = new
            .verify(SecretString::from("a long passphrase"), Some(hash))
            .await
            .unwrap();
        assert!(v.ok);
        assert!(v.rehash.unwrap().starts_with("$scrypt$ln=5,"));
    }

    #[tokio::test]
    async fn librechat_bcrypt_hashes_are_accepted_and_replaced() {
        let h = PasswordHasher::new(&settings(4)).await.unwrap();
        // As bcryptjs writes them ($2a$, cost 10), and the other prefixes.
        for prefix in ["2a", "2b", "2y"] {
            let hash = bcrypt::hash_with_result("a long passphrase", 4)
                .unwrap()
                .format_for_version(match prefix {
                    "2a" => bcrypt::Version::TwoA,
                    "2y" => bcrypt::Version::TwoY,
                    _ => bcrypt::Version::TwoB,
                });
            assert!(is_bcrypt(&hash), "{hash}");
            let v = h
                .verify(SecretString::from("a long passphrase"), Some(hash.clone()))
                .await
                .unwrap();
            assert!(v.ok);
            assert!(v.rehash.unwrap().starts_with("$scrypt$ln=4,"));
            let v = h
                .verify(SecretString::from("wrong"), Some(hash))
                .await
                .unwrap();
            assert!(!v.ok && v.rehash.is_none());
        }
        assert!(!is_bcrypt("$scrypt$ln=4,r=8,p=1$abc$def"));
    }

    #[tokio::test]
    async fn a_full_queue_is_refused_at_once() {
        let mut s = settings(4);
        (s.concurrency, s.queue) = (1, 1);
        let h = PasswordHasher::new(&s).await.unwrap();
        // Hold the only permit, so the next request waits and the one after is refused.
        let held = h.permits.clone().acquire_owned().await.unwrap();
        let waiter = tokio::spawn({
            let h = h.clone();
            async move { h.hash(SecretString::from("a long passphrase")).await }
        });
        while h.waiting.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = h.hash(SecretString::from("a long passphrase")).await;
        assert!(matches!(refused, Err(ApiError::Overloaded)));
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
        assert_eq!(h.waiting.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn unknown_accounts_never_verify() {
        let h = PasswordHasher::new(&settings(4)).await.unwrap();
        let v = h
            .verify(SecretString::from("anything"), None)
            .await
            .unwrap();
        assert!(!v.ok);
    }
}
