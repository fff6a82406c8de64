//! Test harness: each test gets a fresh database (a SQLite file in a temp dir, or a new
//! PostgreSQL database) and its own server on a free port, spoken to over real HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Once};

use diesel::{Connection, PgConnection, RunQueryDsl};
use latch::settings::{Settings, Sources};
use latch::startup::Application;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test function once per backend, as `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        )*
    };
}

/// Runs each listed test function on SQLite, on PostgreSQL, and on PostgreSQL with the
/// counters in Redis: `name::sqlite`, `name::postgres`, `name::redis`.
#[macro_export]
macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Store::Database($crate::helpers::Backend::Sqlite)).await
                }
                #[tokio::test]
                async fn postgres() {
                    super::$name($crate::helpers::Store::Database($crate::helpers::Backend::Postgres)).await
                }
                #[tokio::test]
                async fn redis() {
                    super::$name($crate::helpers::Store::Redis).await
                }
            }
        )*
    };
}

/// Where limits are counted: in the database, or in Redis (beside PostgreSQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Database(Backend),
    Redis,
}

impl Store {
    pub fn backend(self) -> Backend {
        match self {
            Store::Database(b) => b,
            Store::Redis => Backend::Postgres,
        }
    }

    /// The settings that put the counters in Redis, under a prefix of this test's own.
    pub fn env(self) -> Vec<(&'static str, String)> {
        match self {
            Store::Database(_) => Vec::new(),
            Store::Redis => vec![
                ("USE_REDIS", "true".into()),
                ("REDIS_URI", redis_url()),
                (
                    "REDIS_KEY_PREFIX",
                    format!("latch-test-{}", uuid::Uuid::new_v4().simple()),
                ),
            ],
        }
    }
}

/// The Redis the tests use: `TEST_REDIS_URL` (set by `make test`), else the local default.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

pub const PASSWORD: &str = "correct horse battery staple";
pub const REFRESH_SECRET: &str = "test-refresh-secret-0123456789abcdef";

/// The PostgreSQL server the tests create their databases on. `make test` sets
/// `TEST_DATABASE_URL`; without it the local default is tried, and a missing server
/// fails the PostgreSQL tests loudly rather than skipping them.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database owned by one test (and any restarts of its server); dropped with it.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: tempfile::TempDir,
}

impl TestDb {
    pub fn new_for(backend: Backend) -> TestDb {
        latch::init_process();
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.path().join("latch.db").display()),
                pg_name: None,
                _dir: dir,
            },
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("latch_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!(
                        "cannot reach PostgreSQL at {admin} ({e}); set TEST_DATABASE_URL or run `make test`, \
                         which finds or starts one"
                    )
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    pg_name: Some(name),
                    _dir: dir,
                }
            }
        }
    }

    /// Work directory beside the database (secrets files, CLI runs).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            if let Ok(mut conn) = PgConnection::establish(&postgres_admin_url()) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub state: actix_web::web::Data<latch::state::AppState>,
    pub db: Arc<TestDb>,
    /// A client with a cookie store, like a browser tab.
    pub client: reqwest::Client,
}

fn init_logs() {
    static LOGS: Once = Once::new();
    LOGS.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            latch::telemetry::init("info");
        }
    });
}

pub fn base_env(db_url: &str) -> HashMap<String, String> {
    [
        ("HOST", "127.0.0.1"),
        ("PORT", "0"),
        ("DATABASE_URL", db_url),
        ("JWT_REFRESH_SECRET", REFRESH_SECRET),
        // Cheap hashing keeps the suite fast; the cost rules are the same at any cost.
        ("SCRYPT_LOG_N", "10"),
        // reqwest's cookie store keeps Secure cookies off plain HTTP, as browsers do.
        ("COOKIE_SECURE", "false"),
        ("APP_URL", "http://app.test"),
        ("DATABASE_POOL_SIZE", "4"),
        // Every test talks from one address; the limit tests set their own.
        ("LOGIN_MAX", "10000"),
        ("REGISTER_MAX", "10000"),
        ("RESET_PASSWORD_MAX", "10000"),
        ("VERIFY_EMAIL_MAX", "10000"),
        ("EMAIL_ADDRESS_MAX", "10000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, overrides: &[(&str, &str)]) -> TestApp {
    let db = Arc::new(TestDb::new_for(backend));
    start(db, overrides).await
}

/// A server that mails through `sink`, with `extra` settings.
pub async fn app_with_mail(
    backend: Backend,
    sink: &crate::smtp::SmtpSink,
    extra: &[(&str, &str)],
) -> TestApp {
    let env = sink.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    spawn_app_with(backend, &all).await
}

/// Starts a server on an existing test database, as a restart or a second instance would.
pub async fn start(db: Arc<TestDb>, overrides: &[(&str, &str)]) -> TestApp {
    start_with_file(db, overrides, None).await
}

/// Starts a server with a config file (`--config FILE`) besides the settings.
pub async fn start_with_file(
    db: Arc<TestDb>,
    overrides: &[(&str, &str)],
    config_file: Option<&str>,
) -> TestApp {
    init_logs();
    let mut env = base_env(&db.url);
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    let config_file = config_file.map(|text| {
        let path = db.dir().join("latch.toml");
        std::fs::write(&path, text).unwrap();
        path
    });
    let settings = Settings::load(&Sources {
        env,
        config_file,
        ..Default::default()
    })
    .expect("test settings");
    let app = Application::build(settings)
        .await
        .expect("application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        state,
        db,
        client: new_client(),
    }
}

pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn from(res: reqwest::Response) -> Reply {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// All `Set-Cookie` headers for the refresh token.
    pub fn refresh_cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("refresh_token="))
            .map(str::to_string)
    }

    /// The refresh token value from `Set-Cookie`.
    pub fn refresh_cookie_value(&self) -> Option<String> {
        self.refresh_cookie().map(|c| {
            c.trim_start_matches("refresh_token=")
                .split(';')
                .next()
                .unwrap_or("")
                .to_string()
        })
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn access_token(&self) -> String {
        self.body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token in {}", self.text))
            .to_string()
    }

    /// Asserts a problem document with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.code(), code, "body: {}", self.text);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/problem+json")),
            "content type {:?}",
            self.header("content-type")
        );
        assert_eq!(self.body["status"], status);
        assert!(self.body["type"].is_string() && self.body["title"].is_string());
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Reply::from(req.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body), token)
            .await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = self.client.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Reply::from(req.send().await.unwrap()).await
    }

    /// Sends a raw body with the given content type.
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: Vec<u8>) -> Reply {
        let mut req = self.client.post(self.url(path)).body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        Reply::from(req.send().await.unwrap()).await
    }

    pub async fn register(&self, email: &str) -> Reply {
        let r = self
            .post(
                "/auth/register",
                &json!({"email": email, "password": PASSWORD}),
                None,
            )
            .await;
        assert_eq!(r.status, 201, "register {email}: {}", r.text);
        r
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/auth/login",
            &json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    /// Signs in from a separate client (another device), returning that client too.
    pub async fn login_as_device(&self, email: &str) -> (reqwest::Client, Reply) {
        let client = new_client();
        let res = client
            .post(self.url("/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        let reply = Reply::from(res).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        (client, reply)
    }

    /// Refreshes with this app's cookie jar.
    pub async fn refresh(&self) -> Reply {
        self.post_raw("/auth/refresh", None, Vec::new()).await
    }

    /// Refreshes with an explicit token in the body.
    pub async fn refresh_with(&self, token: &str) -> Reply {
        Reply::from(
            new_client()
                .post(self.url("/auth/refresh"))
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Refreshes by presenting `token` as the cookie (as a browser or a thief would).
    pub async fn refresh_with_cookie(&self, token: &str, origin: Option<&str>) -> Reply {
        let mut req = new_client()
            .post(self.url("/auth/refresh"))
            .header("cookie", format!("refresh_token={token}"));
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        Reply::from(req.send().await.unwrap()).await
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let res = self.client.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }

    /// A synchronous connection to this test's database, for looking behind the API.
    pub fn db_conn(&self) -> latch::db::DbConn {
        use r2d2::ManageConnection;
        latch::db::Manager::new(latch::settings::DatabaseUrl::new(self.db.url.clone()))
            .connect()
            .expect("connect to test database")
    }
}

/// Runs the `latch` binary with a clean environment plus `env`, in `dir`.
pub fn run_cli(
    dir: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> std::process::Output {
    use std::io::Write;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latch"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run latch");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// A `latch serve` process of its own (not in the test's process), on a free port.
pub struct ServerProcess {
    child: std::process::Child,
    pub address: String,
    log: std::path::PathBuf,
}

impl ServerProcess {
    pub async fn start(db: &TestDb, overrides: &[(&str, &str)]) -> ServerProcess {
        Self::start_with(db, base_env(&db.url), overrides).await
    }

    /// A server whose environment holds only its database, address and `overrides`: the
    /// rest comes from the `.env` in its directory, as on an operator's host.
    pub async fn start_bare(db: &TestDb, overrides: &[(&str, &str)]) -> ServerProcess {
        let env = [("DATABASE_URL", db.url.as_str()), ("HOST", "127.0.0.1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Self::start_with(db, env, overrides).await
    }

    async fn start_with(
        db: &TestDb,
        mut env: HashMap<String, String>,
        overrides: &[(&str, &str)],
    ) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        env.insert("PORT".into(), port.to_string());
        for (k, v) in overrides {
            env.insert(k.to_string(), v.to_string());
        }
        env.entry("RUST_LOG".into())
            .or_insert_with(|| "error".into());
        // Standard error goes to a file beside the database, for tests that read the log.
        let log = db.dir().join(format!("server-{port}.log"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_latch"))
            .arg("serve")
            .current_dir(db.dir())
            .env_clear()
            .envs(&env)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let address = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while client
            .get(format!("{address}/readyz"))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not start"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ServerProcess {
            child,
            address,
            log,
        }
    }

    /// What the server has written to standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends SIGTERM and waits for the process to exit; its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }

    /// Kills the process outright (as a crash would).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
