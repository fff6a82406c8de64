//! The well-known mail services `EMAIL_SERVICE` may name: the ones LibreChat's mailer
//! (nodemailer) knows, by name, alias or email domain, with host, port and TLS mode.
//! Generated from nodemailer's `well-known/services.json` (MIT).

use super::mail::Encryption::{self, *};

/// Host, port, TLS mode, and the names that select it.
pub const SERVICES: &[(&str, u16, Encryption, &[&str])] = &[
    ("smtp.1und1.de", 465, Implicit, &["1und1"]),
    ("smtp.126.com", 465, Implicit, &["126"]),
    ("smtp.163.com", 465, Implicit, &["163"]),
    ("smtp.aliyun.com", 465, Implicit, &["Aliyun", "aliyun.com"]),
    ("smtp.qiye.aliyun.com", 465, Implicit, &["AliyunQiye"]),
    ("smtp.aol.com", 587, Opportunistic, &["AOL", "aol.com"]),
    (
        "smtps.aruba.it",
        465,
        Implicit,
        &["Aruba", "Aruba PEC", "aruba.it", "pec.aruba.it"],
    ),
    (
        "smtpauths.bluewin.ch",
        465,
        Implicit,
        &["Bluewin", "bluewin.ch"],
    ),
    ("smtp.bol.com.br", 587, StartTls, &["BOL", "bol.com.br"]),
    ("debugmail.io", 25, Opportunistic, &["DebugMail"]),
    (
        "disroot.org",
        587,
        Opportunistic,
        &["Disroot", "disroot.org"],
    ),
    (
        "smtp.dynect.net",
        25,
        Opportunistic,
        &["DynectEmail", "Dynect"],
    ),
    (
        "smtp.elasticemail.com",
        465,
        Implicit,
        &["ElasticEmail", "Elastic Email"],
    ),
    (
        "smtp.ethereal.email",
        587,
        Opportunistic,
        &["Ethereal", "ethereal.email"],
    ),
    (
        "smtp.fastmail.com",
        465,
        Implicit,
        &["FastMail", "fastmail.fm"],
    ),
    (
        "smtp.feishu.cn",
        465,
        Implicit,
        &["Feishu Mail", "Feishu", "FeishuMail", "www.feishu.cn"],
    ),
    (
        "smtp.forwardemail.net",
        465,
        Implicit,
        &["Forward Email", "FE", "ForwardEmail", "forwardemail.net"],
    ),
    (
        "mail.gandi.net",
        587,
        Opportunistic,
        &["GandiMail", "Gandi", "Gandi Mail"],
    ),
    (
        "smtp.gmail.com",
        465,
        Implicit,
        &["Gmail", "Google Mail", "gmail.com", "googlemail.com"],
    ),
    (
        "smtp-relay.gmail.com",
        465,
        Implicit,
        &["GmailWorkspace", "Google Workspace Mail"],
    ),
    (
        "mail.gmx.com",
        587,
        Opportunistic,
        &["GMX", "gmx.com", "gmx.net", "gmx.de"],
    ),
    ("smtpout.secureserver.net", 25, Opportunistic, &["Godaddy"]),
    (
        "smtp.asia.secureserver.net",
        25,
        Opportunistic,
        &["GodaddyAsia"],
    ),
    (
        "smtp.europe.secureserver.net",
        25,
        Opportunistic,
        &["GodaddyEurope"],
    ),
    ("mail.hot.ee", 587, Opportunistic, &["hot.ee"]),
    (
        "smtp-mail.outlook.com",
        587,
        Opportunistic,
        &[
            "Hotmail",
            "Outlook",
            "Outlook.com",
            "Hotmail.com",
            "hotmail.com",
            "outlook.com",
        ],
    ),
    (
        "smtp.mail.me.com",
        587,
        Opportunistic,
        &["iCloud", "Me", "Mac", "me.com", "mac.com"],
    ),
    (
        "mail.infomaniak.com",
        587,
        Opportunistic,
        &["Infomaniak", "ik.me", "ikmail.com", "etik.com"],
    ),
    (
        "smtp.kolabnow.com",
        465,
        Implicit,
        &["KolabNow", "Kolab", "kolabnow.com"],
    ),
    ("mailcluster.loopia.se", 465, Implicit, &["Loopia"]),
    ("smtp.loops.so", 587, Opportunistic, &["Loops"]),
    ("smtp.mail.ee", 587, Opportunistic, &["mail.ee"]),
    ("smtp.mail.ru", 465, Implicit, &["Mail.ru"]),
    (
        "sandbox-smtp.mailcatch.app",
        2525,
        Opportunistic,
        &["Mailcatch.app"],
    ),
    ("localhost", 1025, Plain, &["Maildev"]),
    ("smtp.mailersend.net", 587, Opportunistic, &["MailerSend"]),
    ("smtp.mailgun.org", 465, Implicit, &["Mailgun"]),
    ("in.mailjet.com", 587, Opportunistic, &["Mailjet"]),
    ("mailosaur.io", 25, Opportunistic, &["Mailosaur"]),
    ("live.smtp.mailtrap.io", 587, Opportunistic, &["Mailtrap"]),
    ("smtp.mandrillapp.com", 587, Opportunistic, &["Mandrill"]),
    ("smtp.naver.com", 587, Opportunistic, &["Naver"]),
    ("smtp.ohmysmtp.com", 587, Opportunistic, &["OhMySMTP"]),
    ("send.one.com", 465, Implicit, &["One"]),
    (
        "smtp.openmailbox.org",
        465,
        Implicit,
        &["OpenMailBox", "OMB", "openmailbox.org"],
    ),
    ("smtp.office365.com", 587, Opportunistic, &["Outlook365"]),
    (
        "smtp.postmarkapp.com",
        2525,
        Opportunistic,
        &["Postmark", "PostmarkApp"],
    ),
    (
        "smtp.protonmail.ch",
        587,
        StartTls,
        &[
            "Proton",
            "ProtonMail",
            "Proton.me",
            "Protonmail.com",
            "Protonmail.ch",
            "proton.me",
            "protonmail.com",
            "pm.me",
            "protonmail.ch",
        ],
    ),
    ("smtp.mxhichina.com", 465, Implicit, &["qiye.aliyun"]),
    ("smtp.qq.com", 465, Implicit, &["QQ", "qq.com"]),
    (
        "smtp.exmail.qq.com",
        465,
        Implicit,
        &["QQex", "QQ Enterprise", "exmail.qq.com"],
    ),
    ("smtp.resend.com", 465, Implicit, &["Resend"]),
    ("smtp.runbox.com", 465, Implicit, &["Runbox", "runbox.com"]),
    ("smtp.sendcloud.net", 2525, Opportunistic, &["SendCloud"]),
    ("smtp.sendgrid.net", 587, Opportunistic, &["SendGrid"]),
    (
        "smtp-relay.brevo.com",
        587,
        Opportunistic,
        &["SendinBlue", "Brevo"],
    ),
    ("smtp-pulse.com", 465, Implicit, &["SendPulse"]),
    (
        "email-smtp.us-east-1.amazonaws.com",
        465,
        Implicit,
        &["SES"],
    ),
    (
        "email-smtp.ap-northeast-1.amazonaws.com",
        465,
        Implicit,
        &["SES-AP-NORTHEAST-1"],
    ),
    (
        "email-smtp.ap-northeast-2.amazonaws.com",
        465,
        Implicit,
        &["SES-AP-NORTHEAST-2"],
    ),
    (
        "email-smtp.ap-northeast-3.amazonaws.com",
        465,
        Implicit,
        &["SES-AP-NORTHEAST-3"],
    ),
    (
        "email-smtp.ap-south-1.amazonaws.com",
        465,
        Implicit,
        &["SES-AP-SOUTH-1"],
    ),
    (
        "email-smtp.ap-southeast-1.amazonaws.com",
        465,
        Implicit,
        &["SES-AP-SOUTHEAST-1"],
    ),
    (
        "email-smtp.ap-southeast-2.amazonaws.com",
        465,
        Implicit,
        &["SES-AP-SOUTHEAST-2"],
    ),
    (
        "email-smtp.ca-central-1.amazonaws.com",
        465,
        Implicit,
        &["SES-CA-CENTRAL-1"],
    ),
    (
        "email-smtp.eu-central-1.amazonaws.com",
        465,
        Implicit,
        &["SES-EU-CENTRAL-1"],
    ),
    (
        "email-smtp.eu-north-1.amazonaws.com",
        465,
        Implicit,
        &["SES-EU-NORTH-1"],
    ),
    (
        "email-smtp.eu-west-1.amazonaws.com",
        465,
        Implicit,
        &["SES-EU-WEST-1"],
    ),
    (
        "email-smtp.eu-west-2.amazonaws.com",
        465,
        Implicit,
        &["SES-EU-WEST-2"],
    ),
    (
        "email-smtp.eu-west-3.amazonaws.com",
        465,
        Implicit,
        &["SES-EU-WEST-3"],
    ),
    (
        "email-smtp.sa-east-1.amazonaws.com",
        465,
        Implicit,
        &["SES-SA-EAST-1"],
    ),
    (
        "email-smtp.us-east-1.amazonaws.com",
        465,
        Implicit,
        &["SES-US-EAST-1"],
    ),
    (
        "email-smtp.us-east-2.amazonaws.com",
        465,
        Implicit,
        &["SES-US-EAST-2"],
    ),
    (
        "email-smtp.us-gov-east-1.amazonaws.com",
        465,
        Implicit,
        &["SES-US-GOV-EAST-1"],
    ),
    (
        "email-smtp.us-gov-west-1.amazonaws.com",
        465,
        Implicit,
        &["SES-US-GOV-WEST-1"],
    ),
    (
        "email-smtp.us-west-1.amazonaws.com",
        465,
        Implicit,
        &["SES-US-WEST-1"],
    ),
    (
        "email-smtp.us-west-2.amazonaws.com",
        465,
        Implicit,
        &["SES-US-WEST-2"],
    ),
    (
        "smtp.seznam.cz",
        465,
        Implicit,
        &[
            "Seznam",
            "Seznam Email",
            "seznam.cz",
            "email.cz",
            "post.cz",
            "spoluzaci.cz",
        ],
    ),
    ("mail.smtp2go.com", 2525, Opportunistic, &["SMTP2GO"]),
    (
        "smtp.sparkpostmail.com",
        587,
        Opportunistic,
        &["Sparkpost", "SparkPost", "SparkPost Mail", "sparkpost.com"],
    ),
    ("smtp.tipimail.com", 587, Opportunistic, &["Tipimail"]),
    ("pro.turbo-smtp.com", 465, Implicit, &["TurboSMTP"]),
    ("pro.eu.turbo-smtp.com", 465, Implicit, &["TurboSMTP-EU"]),
    (
        "smtp.tutanota.com",
        465,
        Implicit,
        &[
            "Tutanota",
            "tutanota.com",
            "tuta.com",
            "tutanota.de",
            "tuta.io",
        ],
    ),
    (
        "smtp.mail.yahoo.com",
        465,
        Implicit,
        &["Yahoo", "yahoo.com"],
    ),
    ("smtp.yandex.ru", 465, Implicit, &["Yandex", "yandex.ru"]),
    (
        "smtp.zimbra.com",
        587,
        StartTls,
        &["Zimbra", "Zimbra Collaboration"],
    ),
    ("smtp.zoho.com", 465, Implicit, &["Zoho"]),
];

/// A service name as nodemailer compares it: letters, digits, `.` and `-`, lower case.
fn normalise(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The service `name` (or an email address at one of its domains) selects.
pub fn lookup(name: &str) -> Option<(&'static str, u16, Encryption)> {
    let name = name.rsplit('@').next().unwrap_or(name);
    let wanted = normalise(name);
    SERVICES
        .iter()
        .find(|(_, _, _, keys)| keys.iter().any(|k| normalise(k) == wanted))
        .map(|&(host, port, enc, _)| (host, port, enc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_domains_select_a_service() {
        assert_eq!(lookup("Gmail"), Some(("smtp.gmail.com", 465, Implicit)));
        assert_eq!(lookup("gmail"), lookup("Google Mail"));
        assert_eq!(lookup("googlemail.com"), lookup("Gmail"));
        assert!(
            lookup("Mailjet").is_some(),
            "LibreChat's mailer knows Mailjet"
        );
        assert!(lookup("SendGrid").is_some() && lookup("Outlook365").is_some());
        assert_eq!(lookup("carrier-pigeon"), None);
        assert!(SERVICES.len() > 80);
    }
}
