//! Faults: the database going away and coming back, processes killed mid-flight, a
//! graceful stop. Each runs against processes of its own: a throwaway PostgreSQL cluster,
//! `latch serve` processes.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{spawn_app_with, Backend, Reply, PASSWORD};

/// A PostgreSQL cluster of the test's own, which it may stop and start.
struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PgCluster {
    fn start() -> PgCluster {
        let bin = pg_bin().expect(
            "the PostgreSQL server binaries (initdb, pg_ctl) are needed for the fault tests",
        );
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres", dir.path().to_str().unwrap()])
                .status()
                .unwrap();
            assert!(ok.success(), "chown the cluster directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = PgCluster { dir, bin, port };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync"],
        );
        cluster.start_again();
        cluster
    }

    fn data(&self) -> String {
        format!("{}/data", self.dir.path().display())
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start_again(&self) {
        let (data, dir) = (self.data(), self.dir.path().display().to_string());
        let options = format!(
            "-p {} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port
        );
        let log = format!("{dir}/server.log");
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-w", "-t", "30", "-o", &options, "start",
            ],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let _ = cmd.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The directory of `initdb` and `pg_ctl`: on the PATH, else Debian's versioned one.
fn pg_bin() -> Option<PathBuf> {
    let on_path = std::env::var("PATH").ok()?.split(':').find_map(|d| {
        let p = PathBuf::from(d);
        p.join("initdb").exists().then_some(p)
    });
    on_path.or_else(|| {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    })
}

/// PostgreSQL stopped under load: refresh chains running throughout see only `200` and
/// `503` (never another error), readiness, sign-in and refresh answer `503` with
/// `Retry-After` at once (not after a connection timeout), nothing is half-written, and
/// once it is back the same server recovers without a restart and every chain goes on.
#[tokio::test]
async fn a_stopped_database_fails_fast_and_recovers() {
    let pg = tokio::task::spawn_blocking(PgCluster::start).await.unwrap();
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("DATABASE_URL", &pg.url()),
            ("REFRESH_TOKEN_DELIVERY", "both"),
            ("LOGIN_MAX", "100"),
            ("MAX_ACTIVE_SESSIONS", "100"),
        ],
    )
    .await;
    let registered = app.register("ada@example.com").await;
    let refresh = registered.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let access = registered.access_token();

    // Load: refresh chains that keep going through the outage.
    let mut chain_tokens = Vec::new();
    for _ in 0..CHAINS {
        let r = app.login("ada@example.com", PASSWORD).await;
        chain_tokens.push(r.body["refresh_token"].as_str().unwrap().to_string());
    }
    let recovered = Arc::new(AtomicBool::new(false));
    let chains: Vec<_> = chain_tokens
        .into_iter()
        .map(|token| {
            tokio::spawn(refresh_chain(
                app.url("/auth/refresh"),
                token,
                recovered.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();

    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    for (what, reply) in [
        ("readiness", timed(app.get("/readyz", None)).await),
        (
            "sign-in",
            timed(app.post("/auth/login", &login, None)).await,
        ),
        ("refresh", timed(app.refresh_with(&refresh)).await),
        (
            "signed-in route",
            timed(app.get("/auth/sessions", Some(&access))).await,
        ),
    ] {
        let (reply, took) = reply;
        reply.assert_problem(503, "service_unavailable");
        assert_eq!(reply.header("retry-after"), Some("1"), "{what}");
        assert!(took < Duration::from_secs(3), "{what} took {took:?}");
    }

    let pg = tokio::task::spawn_blocking(move || {
        pg.start_again();
        pg
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/readyz", None).await.status != 200 {
        assert!(Instant::now() < deadline, "not ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    recovered.store(true, Ordering::SeqCst);
    for chain in chains {
        let seen = chain.await.unwrap();
        assert!(
            seen.contains(&503),
            "the chain ran through the outage: {seen:?}"
        );
        assert!(
            seen.iter().all(|s| [200, 503].contains(s)),
            "only 200 or 503 under an outage: {seen:?}"
        );
        assert_eq!(seen.last(), Some(&200), "the chain goes on: {seen:?}");
    }
    // The refresh tried while it was down changed nothing: the same token rotates now.
    let r = app.refresh_with(&refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.login("ada@example.com", PASSWORD).await.status, 200);
    drop(pg);
}

const CHAINS: usize = 4;

/// Rotates a refresh token again and again until `recovered` is set and one more rotation
/// succeeded; returns every status seen. A `503` keeps the token; an answer without a
/// new token (the rotation's first answer was lost with the connection) ends the chain.
async fn refresh_chain(url: String, mut token: String, recovered: Arc<AtomicBool>) -> Vec<u16> {
    let client = reqwest::Client::new();
    let mut seen = Vec::new();
    loop {
        let done = recovered.load(Ordering::SeqCst);
        let r = client
            .post(&url)
            .json(&json!({"refresh_token": token}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        seen.push(status);
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        if status != 503 && status != 200 {
            return seen;
        }
        if status == 200 {
            match body["refresh_token"].as_str() {
                Some(next) => token = next.to_string(),
                None => return seen,
            }
            if done {
                return seen;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn timed(f: impl std::future::Future<Output = Reply>) -> (Reply, Duration) {
    let start = Instant::now();
    let r = f.await;
    (r, start.elapsed())
}
