//! The SMTP connection, configured from `EMAIL_*`. Sending is synchronous: the worker
//! calls it on a blocking thread, inside the database transaction that holds the message.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use secrecy::ExposeSecret;

use crate::db::models::OutboxMessage;
use crate::settings::mail::{Encryption, MailSettings};

pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
}

/// Why a send failed, and whether trying again could help.
#[derive(Debug)]
pub struct SendError {
    pub message: String,
    pub permanent: bool,
}

impl Mailer {
    pub fn new(s: &MailSettings) -> anyhow::Result<Mailer> {
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
        let from = Mailbox::new(
            Some(s.from_name.clone()),
            s.from
                .parse()
                .context("setting EMAIL_FROM: not an address")?,
        );
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    pub fn send(&self, m: &OutboxMessage) -> Result<(), SendError> {
        let permanent = |message: String| SendError {
            message,
            permanent: true,
        };
        let to = m
            .recipient
            .parse()
            .map_err(|e| permanent(format!("bad recipient: {e}")))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                m.body_text.clone().unwrap_or_default(),
                m.body_html.clone().unwrap_or_default(),
            ))
            .map_err(|e| permanent(format!("building the message: {e}")))?;
        self.transport
            .send(&email)
            .map(|_| ())
            .map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            })
    }
}
