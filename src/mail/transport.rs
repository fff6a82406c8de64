//! How a message leaves: the SMTP connection configured from `EMAIL_*`, or Mailgun's HTTP
//! API (`MAILGUN_*`). Sending is synchronous: the worker calls it on a blocking thread,
//! inside the database transaction that holds the message, so either way a message is
//! sent once by one worker and retried by the outbox.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use secrecy::ExposeSecret;

use crate::db::models::OutboxMessage;
use crate::settings::mail::{Encryption, MailSettings, Via};

pub struct Mailer {
    sender: Sender,
    from: Mailbox,
}

enum Sender {
    Smtp(SmtpTransport),
    Mailgun {
        url: String,
        api_key: secrecy::SecretString,
    },
}

/// The HTTP client for Mailgun: made on a sending (blocking) thread at the first send and
/// kept for the life of the process, since a blocking client may be neither made nor
/// dropped on the async executor.
fn mailgun_client() -> Result<&'static reqwest::blocking::Client, String> {
    static CLIENT: std::sync::OnceLock<reqwest::blocking::Client> = std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("mailgun client: {e}"))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// Why a send failed, and whether trying again could help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

impl Mailer {
    pub fn new(s: &MailSettings) -> anyhow::Result<Mailer> {
        let from = Mailbox::new(
            Some(s.from_name.clone()),
            s.from
                .parse()
                .context("setting EMAIL_FROM: not an address")?,
        );
        let sender = match &s.via {
            Via::Smtp(smtp) => Sender::Smtp(smtp_transport(smtp)?),
            Via::Mailgun(g) => Sender::Mailgun {
                url: format!("{}/v3/{}/messages", g.host, g.domain),
                api_key: g.api_key.clone(),
            },
        };
        Ok(Mailer { sender, from })
    }

    pub fn send(&self, m: &OutboxMessage) -> Result<(), SendError> {
        let permanent = |message: String| SendError {
            message,
            permanent: true,
        };
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| permanent(format!("bad recipient: {e}")))?;
        let (url, api_key) = match &self.sender {
            Sender::Smtp(smtp) => {
                let email = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(m.subject.clone())
                    .multipart(MultiPart::alternative_plain_html(
                        m.body_text.clone().unwrap_or_default(),
                        m.body_html.clone().unwrap_or_default(),
                    ))
                    .map_err(|e| permanent(format!("building the message: {e}")))?;
                return smtp.send(&email).map(|_| ()).map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    message: e.to_string(),
                });
            }
            Sender::Mailgun { url, api_key } => (url, api_key),
        };
        let client = mailgun_client().map_err(|message| SendError {
            permanent: false,
            message,
        })?;
        let form = [
            ("from", self.from.to_string()),
            ("to", to.to_string()),
            ("subject", m.subject.clone()),
            ("text", m.body_text.clone().unwrap_or_default()),
            ("html", m.body_html.clone().unwrap_or_default()),
            ("o:tracking-clicks", "no".to_string()),
        ];
        let res = client
            .post(url)
            .basic_auth("api", Some(api_key.expose_secret()))
            .form(&form)
            .send()
            .map_err(|e| SendError {
                permanent: false,
                message: format!("mailgun: {}", without_url(&e)),
            })?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        // A refusal of the message itself will not change; throttling and outages will.
        let permanent = status.is_client_error() && status.as_u16() != 429;
        Err(SendError {
            permanent,
            message: format!("mailgun answered {status}"),
        })
    }
}

/// A request error without the URL (it names the Mailgun domain, nothing secret, but the
/// error text is kept short and the same whatever the host).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    kind.to_string()
}

fn smtp_transport(s: &crate::settings::mail::Smtp) -> anyhow::Result<SmtpTransport> {
    let tls = TlsParameters::builder(s.tls_hostname.clone())
        .dangerous_accept_invalid_certs(s.allow_self_signed)
        .build_native()
        .context("setting up TLS for mail")?;
    let tls = match s.encryption {
        Encryption::Implicit => Tls::Wrapper(tls),
        Encryption::StartTls => Tls::Required(tls),
        Encryption::Opportunistic => Tls::Opportunistic(tls),
        Encryption::Plain => Tls::None,
    };
    let mut builder = SmtpTransport::builder_dangerous(&s.host)
        .port(s.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(30)));
    if let (Some(user), Some(password)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose_secret().to_string(),
        ));
    }
    Ok(builder.build())
}
