//! Email templates: subject, plain text and HTML for each kind. The defaults are built in
//! (the files under `config/templates/`); a file of the same name in
//! `EMAIL_TEMPLATES_DIR` replaces one. HTML templates escape every value.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use minijinja::{AutoEscape, Environment};
use serde::Serialize;

/// What an email is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    VerifyEmail,
    PasswordReset,
    MagicLink,
    Invite,
    PasswordChanged,
    AccountExists,
    /// A second factor was added, removed or reset.
    SecondFactorChanged,
    /// Something the owner should know about their account's safety (its checks paused
    /// after wrong codes or passwords).
    SecurityNotice,
    /// A link that confirms a new address for the account.
    EmailChange,
    /// A notice to the old address that a change was asked for.
    EmailChangeRequested,
    /// A sign-in from a device the account has not used lately, with a link to report it.
    NewDevice,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::VerifyEmail,
        Kind::PasswordReset,
        Kind::MagicLink,
        Kind::Invite,
        Kind::PasswordChanged,
        Kind::AccountExists,
        Kind::SecondFactorChanged,
        Kind::SecurityNotice,
        Kind::EmailChange,
        Kind::EmailChangeRequested,
        Kind::NewDevice,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::VerifyEmail => "verify_email",
            Kind::PasswordReset => "password_reset",
            Kind::MagicLink => "magic_link",
            Kind::Invite => "invite",
            Kind::PasswordChanged => "password_changed",
            Kind::AccountExists => "account_exists",
            Kind::SecondFactorChanged => "second_factor_changed",
            Kind::SecurityNotice => "security_notice",
            Kind::EmailChange => "email_change",
            Kind::EmailChangeRequested => "email_change_requested",
            Kind::NewDevice => "new_device",
        }
    }
}

macro_rules! builtin {
    ($($file:literal),* $(,)?) => {
        &[$(($file, include_str!(concat!("../../config/templates/", $file)))),*]
    };
}

const BUILTIN: &[(&str, &str)] = builtin!(
    "verify_email.subject.txt",
    "verify_email.txt",
    "verify_email.html",
    "password_reset.subject.txt",
    "password_reset.txt",
    "password_reset.html",
    "magic_link.subject.txt",
    "magic_link.txt",
    "magic_link.html",
    "invite.subject.txt",
    "invite.txt",
    "invite.html",
    "password_changed.subject.txt",
    "password_changed.txt",
    "password_changed.html",
    "account_exists.subject.txt",
    "account_exists.txt",
    "account_exists.html",
    "second_factor_changed.subject.txt",
    "second_factor_changed.txt",
    "second_factor_changed.html",
    "security_notice.subject.txt",
    "security_notice.txt",
    "security_notice.html",
    "email_change.subject.txt",
    "email_change.txt",
    "email_change.html",
    "email_change_requested.subject.txt",
    "email_change_requested.txt",
    "email_change_requested.html",
    "new_device.subject.txt",
    "new_device.txt",
    "new_device.html",
);

/// The values a template may use.
#[derive(Serialize)]
pub struct Context<'a> {
    pub app_title: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    /// The link to open, for the kinds that carry one.
    pub link: Option<&'a str>,
    /// "15 minutes", "7 days".
    pub expires_in: Option<String>,
    /// What happened, for the notices that say (a second factor added or removed).
    pub detail: Option<&'a str>,
}

/// A rendered message.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Loads the built-in templates and the overrides in `dir`, and renders each once so
    /// that a broken custom template stops the start rather than a send.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Templates> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, builtin) in BUILTIN {
            let source = match dir.map(|d| d.join(name)) {
                Some(path) if path.exists() => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading template {}", path.display()))?,
                _ => builtin.to_string(),
            };
            env.add_template_owned(name.to_string(), source)
                .with_context(|| format!("template {name}"))?;
        }
        let templates = Templates { env };
        for kind in Kind::ALL {
            templates
                .render(
                    kind,
                    &Context {
                        app_title: "Latch",
                        name: "Ada",
                        email: "ada@example.com",
                        link: Some("https://example.com/?token=x"),
                        expires_in: Some("15 minutes".into()),
                        detail: Some("A second factor was added"),
                    },
                )
                .with_context(|| format!("rendering the {} templates", kind.name()))?;
        }
        Ok(templates)
    }

    pub fn render(&self, kind: Kind, ctx: &Context<'_>) -> anyhow::Result<Rendered> {
        let get = |suffix: &str| -> anyhow::Result<String> {
            let name = format!("{}.{suffix}", kind.name());
            Ok(self.env.get_template(&name)?.render(ctx)?)
        };
        Ok(Rendered {
            // A subject is one line, whatever the template's whitespace.
            subject: get("subject.txt")?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            text: get("txt")?,
            html: get("html")?,
        })
    }
}

/// "15 minutes", "1 hour", "7 days": how long a link lasts, for the text.
pub fn human_duration(d: Duration) -> String {
    let minutes = d.as_secs().div_ceil(60).max(1);
    let (n, unit) = if minutes.is_multiple_of(60 * 24) {
        (minutes / (60 * 24), "day")
    } else if minutes.is_multiple_of(60) {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_kind_and_escapes_html() {
        let t = Templates::load(None).unwrap();
        let ctx = Context {
            app_title: "Chat",
            name: "<script>alert(1)</script>",
            email: "ada@example.com",
            link: Some("https://chat.example.com/reset-password?token=abc&x=1"),
            expires_in: Some(human_duration(Duration::from_secs(900))),
            detail: Some("A <b>passkey</b> was added"),
        };
        let r = t.render(Kind::PasswordReset, &ctx).unwrap();
        assert_eq!(r.subject, "Reset your Chat password");
        assert!(r
            .text
            .contains("https://chat.example.com/reset-password?token=abc&x=1"));
        assert!(r.text.contains("15 minutes"));
        assert!(!r.html.contains("<script>"), "{}", r.html);
        assert!(r.html.contains("&lt;script&gt;"));
        for kind in Kind::ALL {
            assert!(!t.render(kind, &ctx).unwrap().subject.is_empty());
        }
        let r = t.render(Kind::SecondFactorChanged, &ctx).unwrap();
        assert!(r.text.contains("A <b>passkey</b> was added"));
        assert!(r.text.contains("your Chat account (ada@example.com)"));
        assert!(
            r.html
                .contains("A &lt;b&gt;passkey&lt;&#x2f;b&gt; was added"),
            "{}",
            r.html
        );
    }

    #[test]
    fn a_directory_overrides_single_files() {
        let dir = std::env::temp_dir().join(format!("latch-templates-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("magic_link.subject.txt"),
            "Sign in to {{ app_title }} now",
        )
        .unwrap();
        let t = Templates::load(Some(&dir)).unwrap();
        std::fs::write(dir.join("invite.txt"), "{{ broken").unwrap();
        assert!(
            Templates::load(Some(&dir)).is_err(),
            "a broken template stops the start"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let ctx = Context {
            app_title: "Chat",
            name: "Ada",
            email: "a@example.com",
            link: Some("l"),
            expires_in: None,
            detail: None,
        };
        assert_eq!(
            t.render(Kind::MagicLink, &ctx).unwrap().subject,
            "Sign in to Chat now"
        );
        assert_eq!(
            t.render(Kind::Invite, &ctx).unwrap().subject,
            "You're invited to Chat"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(Duration::from_secs(900)), "15 minutes");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 hour");
        assert_eq!(human_duration(Duration::from_secs(7 * 24 * 3600)), "7 days");
        assert_eq!(human_duration(Duration::from_secs(30)), "1 minute");
    }
}
