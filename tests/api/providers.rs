//! Real identity-provider processes on loopback for the social sign-in tests: an OpenID
//! Connect provider (`oauth2-mock-server` behind `tests/providers/oidc_provider.mjs`), a
//! GitHub-like OAuth2 provider (`tests/providers/github_provider.mjs`) and a SAML 2.0
//! identity provider signing with `xml-crypto` (`tests/providers/saml_idp.mjs`). `make test`
//! installs their packages; a missing Node.js or package fails loudly.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/providers");

pub struct ProviderProcess {
    child: Child,
    _out: BufReader<ChildStdout>,
    /// The issuer (OpenID Connect), base URL (GitHub-like) or sign-in URL (SAML).
    pub url: String,
    /// Everything the provider said when it was ready.
    pub ready: Value,
}

impl ProviderProcess {
    fn start(script: &str, url_key: &str, extra: &[&str]) -> ProviderProcess {
        assert!(
            std::path::Path::new(&format!("{DIR}/node_modules")).exists(),
            "{DIR}/node_modules is missing: run `make test` (it runs `npm ci` there)"
        );
        let mut child = Command::new("node")
            .arg(format!("{DIR}/{script}"))
            .args(["--port", "0", "--exit-on-stdin-close"])
            .args(extra)
            .env("OIDC_MOCK_DIR", DIR)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node for {script} ({e}): install Node.js"));
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).expect("the provider's READY line");
        let ready = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{script} did not start: {line}"));
        let v: Value = serde_json::from_str(ready).unwrap();
        ProviderProcess {
            child,
            _out: out,
            url: v[url_key].as_str().unwrap().to_string(),
            ready: v,
        }
    }

    /// An OpenID Connect provider that checks `client_id` and `client_secret`.
    pub fn oidc(client_id: &str, client_secret: &str) -> ProviderProcess {
        Self::start(
            "oidc_provider.mjs",
            "issuer",
            &["--client-id", client_id, "--client-secret", client_secret],
        )
    }

    pub fn github(client_id: &str, client_secret: &str) -> ProviderProcess {
        Self::start(
            "github_provider.mjs",
            "base_url",
            &["--client-id", client_id, "--client-secret", client_secret],
        )
    }

    /// A SAML identity provider; `ready["cert"]` is its signing certificate (PEM) and
    /// `ready["base_url"]` where `control` and `seen` reach it.
    pub fn saml() -> ProviderProcess {
        let mut p = Self::start("saml_idp.mjs", "entry_point", &[]);
        p.url = p.ready["base_url"].as_str().unwrap().to_string();
        p
    }

    /// Tells the provider how to behave next (see the scripts for the settings).
    pub async fn control(&self, settings: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/__control", self.url))
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "control: {}", r.status());
    }

    /// What the provider saw last.
    pub async fn seen(&self) -> Value {
        reqwest::get(format!("{}/__control", self.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
