//! A real webhook receiver (`tests/support/webhook_receiver.py`), verifying every delivery
//! with the official `standardwebhooks` library.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct Receiver {
    pub port: u16,
    pub secret: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// A delivery as the receiver got it.
#[derive(Debug, Clone)]
pub struct Got {
    pub id: String,
    pub verified: bool,
    pub event: Value,
    pub mode: String,
}

impl Got {
    pub fn kind(&self) -> &str {
        self.event["type"].as_str().unwrap_or("")
    }
}

impl Receiver {
    pub fn start() -> Receiver {
        let mut r = Receiver {
            port: crate::social::free_port(),
            secret: latch::settings::webhooks::new_secret(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        r.resume();
        r
    }

    /// Starts again on the same port, with what it received so far.
    pub fn resume(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new(crate::smtp::python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/support/webhook_receiver.py"
            ))
            .arg(self.port.to_string())
            .arg(self.dir.path().join("events.jsonl"))
            .env("WEBHOOK_SECRET", &self.secret)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the webhook receiver (python with standardwebhooks: run `make test`)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the webhook receiver did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Settings that send every event here, retrying after `retry_base` seconds.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WEBHOOK_URL", self.url()),
            ("WEBHOOK_SECRET", self.secret.clone()),
            ("WEBHOOK_RETRY_BASE", "1".into()),
            ("WEBHOOK_TIMEOUT", "2".into()),
        ]
    }

    /// `ok` (204), `fail` (500), `slow` (answers after `seconds`), `redirect` (307), `big`
    /// (200 with 8 MiB).
    pub async fn set_mode(&self, mode: &str, seconds: u64) {
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/mode", self.port))
            .json(&json!({"mode": mode, "seconds": seconds}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }

    /// Everything received so far, in order of arrival.
    pub async fn got(&self) -> Vec<Got> {
        let all: Vec<Value> = reqwest::get(format!("http://127.0.0.1:{}/events", self.port))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        all.into_iter()
            .map(|g| Got {
                id: g["id"].as_str().unwrap_or_default().to_string(),
                verified: g["verified"].as_bool().unwrap(),
                event: g["event"].clone(),
                mode: g["mode"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// Waits (up to 20 s) until what was received satisfies `done`; then returns it.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Got]) -> bool) -> Vec<Got> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.got().await;
            if done(&got) {
                for g in &got {
                    assert!(g.verified, "a delivery the library refused: {g:?}");
                }
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "waited 20 s for {what}; received: {:#?}",
                got.iter()
                    .map(|g| (g.kind(), &g.id, &g.mode))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an event of `kind` matching `pred` arrived (verified): its body.
    pub async fn one(&self, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let got = self
            .wait_until(kind, |got| {
                got.iter().any(|g| g.kind() == kind && pred(&g.event))
            })
            .await;
        got.into_iter()
            .find(|g| g.kind() == kind && pred(&g.event))
            .unwrap()
            .event
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}
