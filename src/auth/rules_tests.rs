//! The account and session rules, on an in-memory SQLite database: no HTTP, no pool.

use chrono::Duration;

use crate::auth::accounts::{
    create_user_in, keep_an_admin_in, prove_address_in, replace_password_in,
};
use crate::auth::client::ClientInfo;
use crate::auth::sessions::{logout_in, refresh_in, LogoutBy, LogoutOutcome, RefreshOutcome};
use crate::auth::signin::gate::Refusal;
use crate::auth::signin::session::open_in;
use crate::db::models::session::reason;
use crate::db::models::{new_id, now, OneTimeToken, Session, User};
use crate::db::{memory, DbConn};
use crate::domain::{Email, UserName};
use crate::error::ApiError;
use crate::mail::templates::Kind;
use crate::settings::SessionPolicy;

const POLICY: SessionPolicy = SessionPolicy {
    max_active: 3,
    lifetime: std::time::Duration::from_secs(3600),
    max_age: std::time::Duration::from_secs(30 * 24 * 3600),
    reuse_grace: std::time::Duration::from_secs(10),
};

fn user(conn: &mut DbConn, email: &str, hash: Option<&str>, verified: bool) -> User {
    let email = Email::parse("email", email).unwrap();
    create_user_in(conn, &email, &UserName::from_email(&email), hash, verified).unwrap()
}

fn session(conn: &mut DbConn, user: &User, token_hash: &str) -> String {
    let client = ClientInfo::default();
    let opening = crate::auth::signin::session::Opening {
        user_id: &user.id,
        token_hash,
        method: "test",
        amr: "pwd",
        provider: None,
    };
    open_in(conn, &POLICY, opening, &client, now()).unwrap().id
}

fn link(conn: &mut DbConn, user: &User, kind: Kind, password_hash: Option<&str>) -> String {
    let id = new_id();
    let now = now();
    OneTimeToken::insert(
        conn,
        &OneTimeToken {
            id: id.clone(),
            kind: kind.name().into(),
            user_id: Some(user.id.clone()),
            email: user.email.clone(),
            token_hash: new_id(),
            created_at: now,
            expires_at: now + Duration::minutes(15),
            used_at: None,
            password_hash: password_hash.map(str::to_string),
            session_id: None,
        },
    )
    .unwrap();
    id
}

fn live(conn: &mut DbConn, id: &str) -> bool {
    use crate::db::schema::one_time_tokens::dsl;
    use diesel::prelude::*;
    dsl::one_time_tokens
        .find(id)
        .select(dsl::used_at)
        .first::<Option<chrono::NaiveDateTime>>(conn)
        .unwrap()
        .is_none()
}

fn active_sessions(conn: &mut DbConn, user: &User) -> usize {
    Session::list_active(conn, &user.id, now()).unwrap().len()
}

#[test]
fn proving_a_never_verified_address_keeps_only_the_vouched_password() {
    let conn = &mut memory();
    let mut u = user(conn, "a@example.com", Some("attacker-hash"), false);
    session(conn, &u, "t1");
    prove_address_in(conn, &mut u, Some("victim-hash"), now()).unwrap();
    let stored = User::find(conn, &u.id).unwrap().unwrap();
    assert!(stored.email_verified);
    assert_eq!(stored.password_hash.as_deref(), Some("victim-hash"));
    assert_eq!(active_sessions(conn, &u), 0, "the unproven sessions end");

    // What an unproven registrant attached goes with the proof: identities included.
    let mut x = user(conn, "x@example.com", Some("attacker-hash"), false);
    let at = now();
    crate::db::models::Identity::insert(
        conn,
        &crate::db::models::Identity {
            id: new_id(),
            user_id: x.id.clone(),
            provider: "openid".into(),
            subject: "attacker".into(),
            email: None,
            created_at: at,
            last_used_at: at,
        },
    )
    .unwrap();
    prove_address_in(conn, &mut x, None, at).unwrap();
    assert!(crate::db::models::Identity::for_user(conn, &x.id)
        .unwrap()
        .is_empty());

    // A magic link vouches for no password at all.
    let mut v = user(conn, "b@example.com", Some("attacker-hash"), false);
    prove_address_in(conn, &mut v, None, now()).unwrap();
    assert_eq!(
        User::find(conn, &v.id).unwrap().unwrap().password_hash,
        None
    );

    // A verified account is left alone.
    let mut w = user(conn, "c@example.com", Some("own-hash"), true);
    session(conn, &w, "t2");
    prove_address_in(conn, &mut w, None, now()).unwrap();
    let stored = User::find(conn, &w.id).unwrap().unwrap();
    assert_eq!(stored.password_hash.as_deref(), Some("own-hash"));
    assert_eq!(active_sessions(conn, &w), 1);
}

#[test]
fn a_new_password_voids_links_and_rebinds_verification() {
    let conn = &mut memory();
    let u = user(conn, "a@example.com", Some("old-hash"), false);
    let (keep, other) = (session(conn, &u, "t1"), session(conn, &u, "t2"));
    let reset = link(conn, &u, Kind::PasswordReset, None);
    let magic = link(conn, &u, Kind::MagicLink, None);
    let invite = link(conn, &u, Kind::Invite, None);
    let verify = link(conn, &u, Kind::VerifyEmail, Some("old-hash"));
    let foreign = link(conn, &u, Kind::VerifyEmail, Some("someone-else"));
    let why = reason::PASSWORD_CHANGED;
    replace_password_in(conn, &u, "new-hash", Some(&keep), why, now()).unwrap();
    for id in [&reset, &magic, &invite] {
        assert!(!live(conn, id));
    }
    assert!(live(conn, &verify) && live(conn, &foreign));
    let carried = |conn: &mut DbConn, id: &str| {
        use crate::db::schema::one_time_tokens::dsl;
        use diesel::prelude::*;
        dsl::one_time_tokens
            .find(id)
            .select(dsl::password_hash)
            .first::<Option<String>>(conn)
            .unwrap()
    };
    assert_eq!(carried(conn, &verify).as_deref(), Some("new-hash"));
    assert_eq!(carried(conn, &foreign).as_deref(), Some("someone-else"));
    assert!(Session::find(conn, &keep)
        .unwrap()
        .unwrap()
        .is_active(now()));
    assert!(!Session::find(conn, &other)
        .unwrap()
        .unwrap()
        .is_active(now()));
}

#[test]
fn the_last_enabled_admin_stays() {
    let conn = &mut memory();
    let first = user(conn, "a@example.com", None, true);
    assert!(first.is_admin(), "the first account is an admin");
    assert!(matches!(
        keep_an_admin_in(conn, &first),
        Err(ApiError::LastAdmin)
    ));
    let second = user(conn, "b@example.com", None, true);
    assert!(keep_an_admin_in(conn, &second).is_ok(), "not an admin");
    User::set_role(conn, &second.id, crate::db::models::user::Role::Admin).unwrap();
    assert!(keep_an_admin_in(conn, &first).is_ok());
}

#[test]
fn refresh_rotates_forgives_the_grace_window_and_punishes_reuse() {
    let conn = &mut memory();
    let u = user(conn, "a@example.com", None, true);
    let sid = session(conn, &u, "h1");
    let t0 = now();
    let out = refresh_in(conn, "h1", "h2", &POLICY, t0).unwrap();
    assert!(matches!(out, RefreshOutcome::Rotated { .. }));
    let out = refresh_in(conn, "h1", "h3", &POLICY, t0 + Duration::seconds(5)).unwrap();
    assert!(matches!(out, RefreshOutcome::Grace { .. }));
    let out = refresh_in(conn, "h1", "h4", &POLICY, t0 + Duration::seconds(11)).unwrap();
    assert!(matches!(out, RefreshOutcome::Reused { .. }));
    assert!(!Session::find(conn, &sid).unwrap().unwrap().is_active(now()));
    let out = refresh_in(conn, "h2", "h5", &POLICY, t0 + Duration::seconds(12)).unwrap();
    assert!(
        matches!(out, RefreshOutcome::Invalid),
        "the whole session is gone"
    );
    let out = refresh_in(conn, "unknown", "h6", &POLICY, t0).unwrap();
    assert!(matches!(out, RefreshOutcome::Invalid));
}

#[test]
fn refresh_repeats_the_standing_check() {
    let conn = &mut memory();
    let u = user(conn, "a@example.com", None, true);
    session(conn, &u, "h1");
    User::update_admin_fields(conn, &u.id, None, None, Some(true), now()).unwrap();
    let out = refresh_in(conn, "h1", "h2", &POLICY, now()).unwrap();
    assert!(matches!(out, RefreshOutcome::Refused(Refusal::Disabled)));
}

#[test]
fn a_spent_refresh_token_signs_no_one_out() {
    let conn = &mut memory();
    let u = user(conn, "a@example.com", None, true);
    let stolen = session(conn, &u, "h1");
    let other = session(conn, &u, "o1");
    let t0 = now();
    refresh_in(conn, "h1", "h2", &POLICY, t0).unwrap();
    let later = t0 + Duration::seconds(11);
    let by = LogoutBy::RefreshToken { hash: "h1".into() };
    let client = ClientInfo::default();
    let out = logout_in(conn, by, true, &POLICY, &client, later).unwrap();
    assert!(matches!(out, LogoutOutcome::Reused { .. }));
    assert!(!Session::find(conn, &stolen)
        .unwrap()
        .unwrap()
        .is_active(later));
    assert!(Session::find(conn, &other)
        .unwrap()
        .unwrap()
        .is_active(later));
    // The current token signs everyone out, as asked.
    let by = LogoutBy::RefreshToken { hash: "o1".into() };
    let out = logout_in(conn, by, true, &POLICY, &client, later).unwrap();
    assert!(matches!(out, LogoutOutcome::Done { .. }));
    assert_eq!(active_sessions(conn, &u), 0);
}

#[test]
fn an_opened_session_is_what_was_stored() {
    let conn = &mut memory();
    let u = user(conn, "a@example.com", None, true);
    let client = ClientInfo {
        ip: Some("192.0.2.1".into()),
        user_agent: Some("Firefox".into()),
    };
    let opening = crate::auth::signin::session::Opening {
        user_id: &u.id,
        token_hash: "h1",
        method: "password",
        amr: "pwd,otp",
        provider: Some("ldap"),
    };
    let opened = open_in(conn, &POLICY, opening, &client, now()).unwrap();
    let stored = Session::find(conn, &opened.id).unwrap().unwrap();
    assert_eq!(format!("{opened:?}"), format!("{stored:?}"));
}

#[test]
fn an_identity_records_its_use_at_most_once_a_day() {
    use crate::db::models::Identity;
    let conn = &mut memory();
    let u = user(conn, "a@example.com", None, true);
    let t0 = now();
    let identity = Identity {
        id: new_id(),
        user_id: u.id.clone(),
        provider: "ldap".into(),
        subject: "s-1".into(),
        email: None,
        created_at: t0,
        last_used_at: t0,
    };
    Identity::insert(conn, &identity).unwrap();
    let found = |conn: &mut DbConn| Identity::find_with_user(conn, "ldap", "s-1").unwrap();
    let (known, owner) = found(conn).unwrap();
    assert_eq!(owner.id, u.id);
    assert!(Identity::find_with_user(conn, "ldap", "s-2")
        .unwrap()
        .is_none());
    Identity::touch(conn, &known, t0 + Duration::hours(23)).unwrap();
    assert_eq!(found(conn).unwrap().0.last_used_at, t0);
    Identity::touch(conn, &known, t0 + Duration::hours(25)).unwrap();
    assert_eq!(
        found(conn).unwrap().0.last_used_at,
        t0 + Duration::hours(25)
    );
}

#[test]
fn the_gate_learns_address_bans_and_second_factors_in_one_query() {
    use crate::auth::signin::gate_facts_in;
    use crate::db::models::second_factor::{PasskeyRow, TotpSecret};
    use crate::db::models::Ban;
    let conn = &mut memory();
    let u = user(conn, "a@example.com", None, true);
    let t0 = now();
    let ip = Some("2001:db8::1");
    assert_eq!(gate_facts_in(conn, &u.id, ip, t0).unwrap(), (None, false));
    // A ban of the address's /64 names it; no ban names a request without an address.
    let until = t0 + Duration::hours(1);
    let ban = Ban {
        id: new_id(),
        user_id: None,
        ip: Some("2001:db8::/64".into()),
        reason: None,
        created_by: None,
        created_at: t0,
        expires_at: until,
        lifted_at: None,
    };
    Ban::insert(conn, &ban).unwrap();
    assert_eq!(
        gate_facts_in(conn, &u.id, ip, t0).unwrap(),
        (Some(until), false)
    );
    assert_eq!(gate_facts_in(conn, &u.id, None, t0).unwrap(), (None, false));
    // A TOTP secret counts once confirmed.
    let totp = TotpSecret {
        user_id: u.id.clone(),
        secret: "sealed".into(),
        confirmed_at: None,
        last_used_step: None,
        created_at: t0,
    };
    TotpSecret::replace_unconfirmed(conn, &totp).unwrap();
    assert!(!gate_facts_in(conn, &u.id, None, t0).unwrap().1);
    TotpSecret::confirm(conn, &u.id, t0).unwrap();
    assert!(gate_facts_in(conn, &u.id, None, t0).unwrap().1);
    // So does a passkey, alone.
    let other = user(conn, "b@example.com", None, true);
    let passkey = PasskeyRow {
        id: new_id(),
        user_id: other.id.clone(),
        credential_id: "c".into(),
        passkey: "{}".into(),
        sign_count: 0,
        name: "key".into(),
        created_at: t0,
        last_used_at: None,
    };
    assert!(!gate_facts_in(conn, &other.id, None, t0).unwrap().1);
    PasskeyRow::insert(conn, &passkey).unwrap();
    assert!(gate_facts_in(conn, &other.id, None, t0).unwrap().1);
}
