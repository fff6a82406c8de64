//! A real SMTP server process (aiosmtpd) for the mail tests, and reading what it got.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    None,
    Starttls,
    Implicit,
}

pub struct SmtpSink {
    pub port: u16,
    tls: Tls,
    /// Seconds each message is held before the server accepts it.
    delay: f64,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// A received message, decoded.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// The token in the message's link.
    pub fn token(&self) -> String {
        let at = self
            .text
            .find("token=")
            .unwrap_or_else(|| panic!("no link in {}", self.text));
        self.text[at + 6..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }
}

/// The Python with aiosmtpd: `LATCH_TEST_PYTHON`, else the venv `make test` makes.
pub fn python() -> String {
    std::env::var("LATCH_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/test-venv/bin/python");
        if Path::new(venv).exists() {
            venv.into()
        } else {
            "python3".into()
        }
    })
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written to `dir`.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509NameBuilder, X509};

    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "localhost").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(san).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let (cert, pkey) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, b.build().to_pem().unwrap()).unwrap();
    std::fs::write(&pkey, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, pkey)
}

impl SmtpSink {
    pub fn start(tls: Tls) -> SmtpSink {
        SmtpSink::start_slow(tls, 0.0)
    }

    /// A server that takes `delay` seconds to accept each message.
    pub fn start_slow(tls: Tls, delay: f64) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = SmtpSink {
            port: 0,
            tls,
            delay,
            dir,
            child: None,
        };
        sink.spawn();
        sink
    }

    fn spawn(&mut self) {
        let mail_dir = self.dir.path().join("mail");
        std::fs::create_dir_all(&mail_dir).unwrap();
        let mut cmd = Command::new(python());
        cmd.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/smtp_sink.py"
        ))
        .arg("--dir")
        .arg(&mail_dir)
        .arg("--port")
        .arg(self.port.to_string())
        .arg("--delay")
        .arg(self.delay.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        if self.tls != Tls::None {
            let (cert, key) = self_signed(self.dir.path());
            cmd.arg("--tls")
                .arg(if self.tls == Tls::Starttls {
                    "starttls"
                } else {
                    "implicit"
                })
                .arg("--cert")
                .arg(cert)
                .arg("--key")
                .arg(key);
        }
        let mut child = cmd
            .spawn()
            .expect("start the SMTP server (python3 with aiosmtpd: run `make test`)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("ready ")
            .unwrap_or_else(|| {
                panic!(
                    "the SMTP server did not start (aiosmtpd missing? run `make test`): {line:?}"
                )
            })
            .trim()
            .parse()
            .unwrap();
        self.port = port;
        self.child = Some(child);
    }

    /// Stops the server, as an outage would; `resume` brings it back on the same port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn resume(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }

    /// Settings that send mail to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("EMAIL_HOST", "127.0.0.1".to_string()),
            ("EMAIL_PORT", self.port.to_string()),
            ("EMAIL_FROM", "no-reply@latch.test".to_string()),
            ("EMAIL_RETRY_DELAY", "200".to_string()),
        ];
        match self.tls {
            Tls::None => env.push(("EMAIL_ENCRYPTION", "none".into())),
            Tls::Starttls => env.push(("EMAIL_ENCRYPTION", "starttls".into())),
            Tls::Implicit => env.push(("EMAIL_ENCRYPTION", "tls".into())),
        }
        if self.tls != Tls::None {
            env.push(("EMAIL_ENCRYPTION_HOSTNAME", "localhost".into()));
        }
        env
    }

    /// Where the server writes what it receives, one `.eml` file per message.
    pub fn mail_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("mail")
    }

    pub fn messages(&self) -> Vec<Mail> {
        let mut names: Vec<_> = std::fs::read_dir(self.dir.path().join("mail"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            // `.NAME.eml` is a message still being written (then renamed to `NAME.eml`).
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| parse(&std::fs::read(p).unwrap()))
            .collect()
    }

    /// Waits until at least `n` messages match `pred`, and returns those.
    pub async fn wait_for(&self, n: usize, pred: impl Fn(&Mail) -> bool) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found: Vec<Mail> = self.messages().into_iter().filter(|m| pred(m)).collect();
            if found.len() >= n {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {n} messages, have {found:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The one message to `to` whose subject contains `subject`.
    pub async fn one(&self, to: &str, subject: &str) -> Mail {
        let found = self
            .wait_for(1, |m| m.to == to && m.subject.contains(subject))
            .await;
        assert_eq!(found.len(), 1, "{found:?}");
        found.into_iter().next().unwrap()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

fn parse(raw: &[u8]) -> Mail {
    use mailparse::MailHeaderMap;
    let parsed = mailparse::parse_mail(raw).unwrap();
    let header = |n: &str| parsed.headers.get_first_value(n).unwrap_or_default();
    let mut text = String::new();
    let mut html = String::new();
    for part in parsed.subparts.iter().chain(std::iter::once(&parsed)) {
        match part.ctype.mimetype.as_str() {
            "text/plain" => text = part.get_body().unwrap(),
            "text/html" => html = part.get_body().unwrap(),
            _ => {}
        }
    }
    Mail {
        to: header("X-Envelope-To"),
        subject: header("Subject"),
        text,
        html,
    }
}
