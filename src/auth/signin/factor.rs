//! First factors: what a person presents to show who they are. Each is proven in two
//! steps: `prove` does the slow part outside any transaction (checking or hashing a
//! password, after checking that a link is live), then `identify_in` finds or creates
//! the account inside the sign-in's transaction.
//!
//! What a first factor may change before the second factor is given: it spends its link,
//! and when it proves a never-verified address (a link, a vouched identity), that proof
//! happens at once (`prove_in`): it removes whatever an unproven registrant attached,
//! second factors included, so the owner is not stopped by an attacker's passkey.
//! Everything else the sign-in changes (a new password, an identity linked, a role, a
//! rehash) waits for the gate's last word: applied when the session opens (`apply_in`),
//! or kept with the `mfa_token` and applied when the second factor is given.

use chrono::NaiveDateTime;
use secrecy::SecretString;

use super::gate::FirstFactorFacts;
use super::{Refused, SignIn};
use crate::auth::accounts::{
    create_user_in, keep_an_admin_in, prove_address_in, replace_password_in,
};
use crate::auth::audit;
use crate::auth::client::ClientInfo;
use crate::auth::fresh::{amr, with_method};
use crate::auth::links::{self, Link};
use crate::db::models::session::reason;
use crate::db::models::user::Role;
use crate::db::models::{new_id, now, Identity, User};
use crate::db::{write_tx, DbConn};
use crate::directory::Unreachable;
use crate::domain::{Email, Password, UserName};
use crate::error::{ApiError, ApiResult};
use crate::mail::templates::Kind;
use crate::mfa::Code;
use crate::social::ExternalIdentity;

/// Everything that can prove who someone is.
pub enum FirstFactor {
    Password {
        email: String,
        password: SecretString,
    },
    MagicLink {
        token: String,
    },
    /// A password-reset link and the new password.
    Reset {
        token: String,
        password: Password,
    },
    /// An invitation and the password the invitee chose.
    Invite {
        token: String,
        password: Password,
    },
    /// `DEV_LOGIN`: an address alone.
    Dev {
        email: Email,
    },
    /// A registration that signs in at once (no verification required).
    Registration {
        email: Email,
        name: UserName,
        password: Password,
    },
    /// A person a social provider vouches for, after every protocol check.
    Social(ExternalIdentity),
    /// The second step of a sign-in: its `mfa_token` and a TOTP code, a backup code or
    /// a passkey assertion.
    SecondFactor {
        mfa_token: String,
        code: Code,
    },
    /// A WebAuthn assertion for a ceremony begun by `/auth/passkeys/login/options`.
    Passkey {
        challenge_id: String,
        credential: serde_json::Value,
    },
}

/// How someone signed in, as audit rows and metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Password,
    MagicLink,
    PasswordReset,
    Invite,
    Dev,
    Register,
    Social,
    SecondFactor,
    Passkey,
}

/// The `amr` value of the first factor a method names (a stored challenge's method).
pub fn amr_of(method: &str) -> &'static str {
    match method {
        "password" | "register" => amr::PWD,
        "magic_link" | "password_reset" | "invite" | "dev" => amr::EMAIL,
        "social" => amr::FED,
        "passkey" => amr::HWK,
        _ => "",
    }
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Password => "password",
            Method::MagicLink => "magic_link",
            Method::PasswordReset => "password_reset",
            Method::Invite => "invite",
            Method::Dev => "dev",
            Method::Register => "register",
            Method::Social => "social",
            Method::SecondFactor => "second_factor",
            Method::Passkey => "passkey",
        }
    }
}

impl FirstFactor {
    pub fn method(&self) -> Method {
        match self {
            FirstFactor::Password { .. } => Method::Password,
            FirstFactor::MagicLink { .. } => Method::MagicLink,
            FirstFactor::Reset { .. } => Method::PasswordReset,
            FirstFactor::Invite { .. } => Method::Invite,
            FirstFactor::Dev { .. } => Method::Dev,
            FirstFactor::Registration { .. } => Method::Register,
            FirstFactor::Social(_) => Method::Social,
            FirstFactor::SecondFactor { .. } => Method::SecondFactor,
            FirstFactor::Passkey { .. } => Method::Passkey,
        }
    }
}

/// A first factor after its slow part.
pub enum Proof {
    /// The password matched this account's hash; `rehash` is `(old, new)` when the stored
    /// hash used another cost.
    Password {
        user_id: String,
        rehash: Option<(String, String)>,
    },
    /// A link to spend, with the new password's hash for resets and invitations.
    Link {
        kind: Kind,
        token: String,
        new_password: Option<String>,
    },
    Dev {
        email: Email,
    },
    Registration {
        email: Email,
        name: UserName,
        password_hash: String,
    },
    Social(ExternalIdentity),
    /// A person the directory knows, whose password it accepted.
    Directory(ExternalIdentity),
    /// Both factors proven for this user (a completed `mfa_token`, or a passkey): with
    /// the methods proven, and what the sign-in left to change on the account.
    BothFactors {
        user_id: String,
        amr: String,
        provider: Option<String>,
        pending: Option<String>,
    },
}

/// Proves the first factor. A password is checked against the account's hash (or a dummy
/// one, so that an unknown address costs the same); a link is checked to be live before
/// any new password is hashed.
pub async fn prove(ctx: &SignIn, factor: FirstFactor) -> Result<Proof, Refused> {
    match factor {
        FirstFactor::Password { email, password } => prove_password(ctx, email, password).await,
        FirstFactor::MagicLink { token } => Ok(Proof::Link {
            kind: Kind::MagicLink,
            token,
            new_password: None,
        }),
        FirstFactor::Reset { token, password } => {
            prove_link_with_password(ctx, Kind::PasswordReset, token, password).await
        }
        FirstFactor::Invite { token, password } => {
            prove_link_with_password(ctx, Kind::Invite, token, password).await
        }
        FirstFactor::Dev { email } => Ok(Proof::Dev { email }),
        FirstFactor::Registration {
            email,
            name,
            password,
        } => Ok(Proof::Registration {
            email,
            name,
            password_hash: ctx.hasher.hash(password.into_secret()).await?,
        }),
        FirstFactor::Social(identity) => Ok(Proof::Social(identity)),
        FirstFactor::SecondFactor { mfa_token, code } => {
            prove_second_factor(ctx, mfa_token, code).await
        }
        FirstFactor::Passkey {
            challenge_id,
            credential,
        } => {
            let passkeys = ctx
                .passkeys
                .clone()
                .ok_or(ApiError::FeatureDisabled("Passkeys (WEBAUTHN_RP_ID)"))?;
            let user_id = ctx
                .db
                .run(move |conn| {
                    write_tx(conn, |conn| {
                        passkeys.login_in(conn, &challenge_id, credential, now())
                    })
                })
                .await??;
            Ok(Proof::BothFactors {
                user_id,
                amr: amr::HWK.to_string(),
                provider: None,
                pending: None,
            })
        }
    }
}

/// The second step: the token's account first (a void token is `400 invalid_token`
/// before the account's pause is looked at), then its code, counted per account whatever
/// token or address it comes from (see `SignIn::guarded`).
async fn prove_second_factor(
    ctx: &SignIn,
    mfa_token: String,
    code: Code,
) -> Result<Proof, Refused> {
    let second = ctx.second.clone();
    let token = mfa_token.clone();
    let user_id = ctx
        .db
        .run(move |conn| second.challenged_in(conn, &token, now()))
        .await?;
    let second = ctx.second.clone();
    let completed = ctx
        .guarded(&user_id, async {
            ctx.db
                .run(move |conn| {
                    write_tx(conn, |conn| {
                        second.complete_in(conn, &mfa_token, &code, now())
                    })
                })
                .await?
        })
        .await
        .map_err(|error| Refused {
            error,
            user_id: Some(user_id.clone()),
        })?;
    let (method, provider) = match completed.method.split_once(':') {
        Some((method, provider)) => (method, Some(provider.to_string())),
        None => (completed.method.as_str(), None),
    };
    Ok(Proof::BothFactors {
        user_id: completed.user_id,
        amr: with_method(amr_of(method), completed.second),
        provider,
        pending: completed.pending,
    })
}

/// A login and password. With a directory (LDAP) the directory is asked first; when it
/// does not know the pair, an account's local password is tried, except for an account
/// the directory signs in (its password is the directory's) and unless
/// `ALLOW_EMAIL_LOGIN=false`. So every failure costs the same: the directory, then a hash.
/// A directory that cannot be asked leaves accounts with a local password signing in
/// locally; everyone else gets `503`, never a `401` and never a local password instead.
async fn prove_password(
    ctx: &SignIn,
    login: String,
    password: SecretString,
) -> Result<Proof, Refused> {
    let Some(directory) = &ctx.directory else {
        return prove_local_password(ctx, login, password).await;
    };
    let local = ctx.policy.allow_email_login;
    match directory.authenticate(&login, &password).await {
        Ok(Some(identity)) => Ok(Proof::Directory(identity)),
        Ok(None) if local => prove_local_password(ctx, login, password).await,
        Ok(None) => Err(ApiError::InvalidCredentials.into()),
        Err(Unreachable(why)) => {
            let lookup = lookup_address(&login);
            let has_local = local
                && ctx
                    .db
                    .run(move |conn| local_password_of(conn, &lookup))
                    .await?
                    .is_some_and(|(_, hash)| hash.is_some());
            if has_local {
                tracing::warn!(%why, "directory unreachable; an account with a local password signs in locally");
                return prove_local_password(ctx, login, password).await;
            }
            Err(ApiError::Unavailable(format!("directory: {why}")).into())
        }
    }
}

/// The address a login is looked up as: a malformed one as a placeholder no stored (valid)
/// address can equal, so the raw text is never sent to the database.
fn lookup_address(login: &str) -> String {
    match Email::parse("email", login) {
        Ok(email) => email.as_str().to_string(),
        Err(_) => "malformed@invalid".to_string(),
    }
}

/// The account with `address` and the local password hash it may sign in with here, if
/// any: with a directory on, an account linked to a directory identity has none.
fn local_password_of(
    conn: &mut DbConn,
    address: &str,
) -> ApiResult<Option<(User, Option<String>)>> {
    let Some(user) = User::find_by_email(conn, address)? else {
        return Ok(None);
    };
    let signs_in_elsewhere = Identity::for_user(conn, &user.id)?
        .iter()
        .any(|i| i.provider == crate::directory::PROVIDER);
    let hash = user.password_hash.clone().filter(|_| !signs_in_elsewhere);
    Ok(Some((user, hash)))
}

async fn prove_local_password(
    ctx: &SignIn,
    login: String,
    password: SecretString,
) -> Result<Proof, Refused> {
    // All failures (unknown address, wrong password, malformed address, an account that
    // signs in elsewhere) do the same work, a look-up and a hash, and give the same answer.
    let lookup = lookup_address(&login);
    let directory = ctx.directory.is_some();
    let found = ctx
        .db
        .run(move |conn| {
            if directory {
                return local_password_of(conn, &lookup);
            }
            let user = User::find_by_email(conn, &lookup)?;
            Ok(user.map(|u| {
                let hash = u.password_hash.clone();
                (u, hash)
            }))
        })
        .await?;
    let stored = found.as_ref().and_then(|(_, hash)| hash.clone());
    let verified = ctx.hasher.verify(password, stored.clone()).await?;
    match found {
        Some((user, _)) if verified.ok => Ok(Proof::Password {
            user_id: user.id,
            rehash: stored.zip(verified.rehash),
        }),
        other => Err(Refused {
            error: ApiError::InvalidCredentials,
            user_id: other.map(|(u, _)| u.id),
        }),
    }
}

async fn prove_link_with_password(
    ctx: &SignIn,
    kind: Kind,
    token: String,
    password: Password,
) -> Result<Proof, Refused> {
    let key = ctx.key.clone();
    let checked = token.clone();
    ctx.db
        .run(move |conn| links::live_in(conn, &key, kind, &checked, now()).map(|_| ()))
        .await?;
    Ok(Proof::Link {
        kind,
        token,
        new_password: Some(ctx.hasher.hash(password.into_secret()).await?),
    })
}

/// The account a proof leads to, and what is left to apply once the gate agrees.
pub struct Identified {
    pub user: User,
    pub facts: FirstFactorFacts,
    /// The methods proven (`amr`).
    pub amr: String,
    /// The provider of a social or SAML sign-in.
    pub provider: Option<String>,
    /// The sign-in proves the account's address (a link, a vouched identity).
    proves_address: bool,
    effect: Effect,
}

/// What a sign-in changes on the account once it is allowed to finish: kept with the
/// `mfa_token` (as JSON) while the second factor is asked for.
#[derive(serde::Serialize, serde::Deserialize)]
enum Effect {
    None,
    UpgradeHash {
        old: String,
        new: String,
    },
    /// A reset or an invitation: a new password.
    SetPassword {
        invite: bool,
        hash: String,
    },
    /// A social identity seen before: the admin role as the provider says now.
    SocialAgain {
        admin: Option<bool>,
    },
    /// A social identity seen for the first time: it is linked.
    Link(ExternalIdentity),
}

impl Identified {
    /// What is left to apply, as kept with an `mfa_token`.
    pub fn pending(&self) -> ApiResult<Option<String>> {
        match &self.effect {
            // A rehash can wait for the next sign-in.
            Effect::None | Effect::UpgradeHash { .. } => Ok(None),
            effect => serde_json::to_string(effect)
                .map(Some)
                .map_err(|e| ApiError::Unexpected(e.into())),
        }
    }
}

/// Finds (or, where allowed, creates) the account a proof leads to, spending any link.
pub fn identify_in(
    conn: &mut DbConn,
    ctx: &SignIn,
    proof: Proof,
    now: NaiveDateTime,
) -> ApiResult<Identified> {
    let by_password = FirstFactorFacts {
        proves_email: false,
        second_factor_done: false,
    };
    let by_link = FirstFactorFacts {
        proves_email: true,
        second_factor_done: false,
    };
    let identified = |user, facts, method: &str, proves_address, effect| Identified {
        user,
        facts,
        amr: method.to_string(),
        provider: None,
        proves_address,
        effect,
    };
    match proof {
        Proof::Password { user_id, rehash } => {
            // Deleted since the password was checked: as if it never matched.
            let user = User::find(conn, &user_id)?.ok_or(ApiError::InvalidCredentials)?;
            let effect = match rehash {
                Some((old, new)) => Effect::UpgradeHash { old, new },
                None => Effect::None,
            };
            Ok(identified(user, by_password, amr::PWD, false, effect))
        }
        Proof::Link {
            kind,
            token,
            new_password,
        } => {
            let used = links::consume_in(conn, &ctx.key, kind, &token, now)?;
            let user = match links::account_of(conn, &used)? {
                Some(user) => user,
                // A magic link to a new address makes the account where registration is on.
                None if kind == Kind::MagicLink
                    && used.user_id.is_none()
                    && ctx.policy.may_register() =>
                {
                    let email =
                        Email::parse("email", &used.email).map_err(|_| ApiError::InvalidToken)?;
                    create_user_in(conn, &email, &UserName::from_email(&email), None, true)?
                }
                None => return Err(ApiError::InvalidToken),
            };
            let effect = match new_password {
                Some(hash) => Effect::SetPassword {
                    invite: kind == Kind::Invite,
                    hash,
                },
                None => Effect::None,
            };
            Ok(identified(user, by_link, amr::EMAIL, true, effect))
        }
        Proof::Dev { email } => {
            let user = match User::find_by_email(conn, email.as_str())? {
                Some(user) => user,
                None if ctx.policy.invite_required => {
                    return Err(ApiError::FeatureDisabled(
                        "Creating accounts (INVITE_REQUIRED)",
                    ))
                }
                None => create_user_in(conn, &email, &UserName::from_email(&email), None, true)?,
            };
            // A development shortcut: it stands in for having read the inbox.
            Ok(identified(user, by_link, amr::EMAIL, false, Effect::None))
        }
        Proof::Registration {
            email,
            name,
            password_hash,
        } => {
            let user = create_user_in(conn, &email, &name, Some(&password_hash), false)?;
            if let Some(mail) = &ctx.mail {
                let link = Link {
                    kind: Kind::VerifyEmail,
                    user_id: Some(&user.id),
                    name: &user.name,
                    email: &user.email,
                    password_hash: Some(&password_hash),
                };
                links::send_in(conn, mail, &ctx.key, link, now)?;
            }
            audit::registered_in(conn, &user.id)?;
            Ok(identified(user, by_password, amr::PWD, false, Effect::None))
        }
        Proof::Social(external) => identify_external_in(conn, ctx, external, Source::Social),
        Proof::Directory(external) => identify_external_in(conn, ctx, external, Source::Directory),
        Proof::BothFactors {
            user_id,
            amr,
            provider,
            pending,
        } => {
            // Deleted meanwhile: as if the factor never matched.
            let user = User::find(conn, &user_id)?.ok_or(ApiError::InvalidCredentials)?;
            let effect = match pending {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("pending effect: {e}")))?,
                None => Effect::None,
            };
            let both = FirstFactorFacts {
                proves_email: true,
                second_factor_done: true,
            };
            Ok(Identified {
                user,
                facts: both,
                amr,
                provider,
                proves_address: false,
                effect,
            })
        }
    }
}

/// Where an external identity comes from, for the few rules that differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A social provider (OAuth2, OpenID Connect, SAML): creates accounts where social
    /// registration is allowed, and needs an address.
    Social,
    /// The directory (LDAP): it decides who has an account, so its people get one at their
    /// first sign-in whatever the registration settings; an entry without an address gets
    /// a placeholder.
    Directory,
}

/// A known identity signs in to its user. Otherwise the address decides, and only a
/// vouched one may reach an existing account: it links to the account with that address
/// (proving it), or makes one where the source may. An address nobody vouched for makes
/// an account of its own (unverified, never used to link), and is refused as
/// `email_taken` when another account has it: the owner links it from there.
fn identify_external_in(
    conn: &mut DbConn,
    ctx: &SignIn,
    external: ExternalIdentity,
    source: Source,
) -> ApiResult<Identified> {
    // An external sign-in proves the person, not an address: the verification rule for
    // password sign-ins does not apply.
    let facts = FirstFactorFacts {
        proves_email: true,
        second_factor_done: false,
    };
    let provider = Some(external.provider.clone());
    let method = match source {
        Source::Social => amr::FED,
        // The directory checked a password.
        Source::Directory => amr::PWD,
    };
    let identified = |user, proves_address, effect| Identified {
        user,
        facts,
        amr: method.to_string(),
        provider,
        proves_address,
        effect,
    };
    if let Some((known, user)) =
        Identity::find_with_user(conn, &external.provider, &external.subject)?
    {
        Identity::touch(conn, &known, now())?;
        let effect = Effect::SocialAgain {
            admin: external.admin,
        };
        return Ok(identified(user, false, effect));
    }
    let email = match (&external.email, source) {
        (Some(email), _) => email.clone(),
        (None, Source::Directory) => free_placeholder_in(conn, &external)?,
        (None, Source::Social) => return Err(ApiError::EmailNotVerified),
    };
    let may_create = match source {
        Source::Social => ctx.policy.allow_social_registration && !ctx.policy.invite_required,
        Source::Directory => true,
    };
    let name = || {
        external
            .name
            .as_deref()
            .and_then(|n| UserName::parse("name", n).ok())
            .unwrap_or_else(|| UserName::from_email(&email))
    };
    let user = match User::find_by_email(conn, email.as_str())? {
        Some(_) if !external.vouched => return Err(ApiError::EmailTaken),
        Some(user) => user,
        None if may_create => {
            let user = create_user_in(conn, &email, &name(), None, external.vouched)?;
            match &external.username {
                Some(username) => User::set_username(conn, user.id.clone(), username)?,
                None => user,
            }
        }
        None => return Err(ApiError::FeatureDisabled("Social registration")),
    };
    let vouched = external.vouched;
    Ok(identified(user, vouched, Effect::Link(external)))
}

/// A placeholder address no account has, for a directory entry without one: from its
/// username (or key), tagged with a digest of the key when another entry has that name.
fn free_placeholder_in(conn: &mut DbConn, external: &ExternalIdentity) -> ApiResult<Email> {
    use sha2::Digest as _;
    let name = external.username.as_deref().unwrap_or(&external.subject);
    let plain = Email::placeholder(name, None);
    if User::find_by_email(conn, plain.as_str())?.is_none() {
        return Ok(plain);
    }
    let digest = sha2::Sha256::digest(external.subject.as_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Email::placeholder(name, Some(&tag)))
}

/// The provider's admin role: holding it makes an admin, losing it a user (unless that
/// would leave no enabled admin).
fn apply_admin_role_in(conn: &mut DbConn, user: &mut User, admin: Option<bool>) -> ApiResult<()> {
    let wanted = match admin {
        Some(true) => Role::Admin,
        Some(false) => Role::User,
        None => return Ok(()),
    };
    if wanted == user.role {
        return Ok(());
    }
    if wanted == Role::User {
        if let Err(ApiError::LastAdmin) = keep_an_admin_in(conn, user) {
            tracing::warn!(user_id = %user.id, "kept the last admin's role though the provider no longer grants it");
            return Ok(());
        }
    }
    User::set_role(conn, &user.id, wanted)?;
    user.role = wanted;
    Ok(())
}

/// What the sign-in proves before the second factor is asked for: the first proof of a
/// never-verified address (see `prove_address_in`). Run once the gate has checked the
/// account's standing, and before it looks for a second factor.
/// Returns whether it changed the account.
pub fn prove_in(conn: &mut DbConn, id: &mut Identified, now: NaiveDateTime) -> ApiResult<bool> {
    let proven = id.proves_address && prove_address_in(conn, &mut id.user, None, now)?;
    if proven {
        tracing::info!(user_id = %id.user.id, "a never-verified address was proven");
    }
    Ok(proven)
}

/// What the sign-in changes on the account, once it may finish: the session opens next.
pub fn apply_in(
    conn: &mut DbConn,
    ctx: &SignIn,
    id: &mut Identified,
    client: &ClientInfo,
    now: NaiveDateTime,
) -> ApiResult<()> {
    match std::mem::replace(&mut id.effect, Effect::None) {
        Effect::None => Ok(()),
        Effect::UpgradeHash { old, new } => {
            if User::upgrade_password_hash(conn, &id.user.id, &old, &new)? == 1 {
                tracing::info!(user_id = %id.user.id, "password hash upgraded to the current cost");
            }
            Ok(())
        }
        Effect::SetPassword { invite, hash } => {
            let user = &mut id.user;
            let why = if invite {
                reason::INVITE_ACCEPTED
            } else {
                reason::PASSWORD_RESET
            };
            replace_password_in(conn, user, &hash, None, why, now)?;
            user.password_hash = Some(hash);
            if !invite {
                links::notice_in(conn, ctx.mail.as_ref(), Kind::PasswordChanged, user)?;
                let event = audit::Event::by_self(audit::kind::PASSWORD_RESET, &user.id, client);
                audit::record_in(conn, event)?;
            }
            Ok(())
        }
        Effect::SocialAgain { admin } => apply_admin_role_in(conn, &mut id.user, admin),
        Effect::Link(external) => {
            let user = &mut id.user;
            link_identity_in(conn, user, &external, now)?;
            let event = audit::Event::by_self(audit::kind::IDENTITY_LINKED, &user.id, client);
            audit::record_in(conn, event.detail(external.provider.clone()))?;
            apply_admin_role_in(conn, user, external.admin)
        }
    }
}

/// Adds `external` to `user`'s identities.
pub fn link_identity_in(
    conn: &mut DbConn,
    user: &User,
    external: &ExternalIdentity,
    now: NaiveDateTime,
) -> ApiResult<()> {
    Identity::insert(
        conn,
        &Identity {
            id: new_id(),
            user_id: user.id.clone(),
            provider: external.provider.clone(),
            subject: external.subject.clone(),
            email: external.email.as_ref().map(|e| e.as_str().to_string()),
            created_at: now,
            last_used_at: now,
        },
    )
}
