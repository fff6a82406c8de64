use crate::both_backends;
use crate::helpers::{spawn_app, Backend};
use serde_json::{json, Value};

both_backends!(
    unknown_routes_and_methods_are_problems,
    a_body_must_be_an_object,
    nul_bytes_in_any_string_are_refused_not_stored,
    head_answers_wherever_get_does,
    a_body_sent_in_pieces_is_read_whole
);

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get("/nope", None)
        .await
        .assert_problem(404, "not_found");
    app.get("/auth/sessions/extra/segments", None)
        .await
        .assert_problem(404, "not_found");
    let r = app.get("/auth/register", None).await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = app.send(reqwest::Method::PUT, "/auth/me", None, None).await;
    r.assert_problem(405, "method_not_allowed");
    let allow = r.header("allow").unwrap();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    // A path two templates match allows what the document lists for the more specific
    // one (`/auth/passkeys/login`, not `/auth/passkeys/{id}`).
    let r = app.get("/auth/passkeys/login", None).await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    // Also where the less specific route answers the method but not with that segment.
    let token = app.register("ada@example.com").await.access_token();
    let r = app
        .send(
            reqwest::Method::DELETE,
            "/auth/sessions/report",
            None,
            Some(&token),
        )
        .await;
    r.assert_problem(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    // Security headers on every answer.
    let r = app.get("/healthz", None).await;
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
}

/// Found by Schemathesis: serde fills a struct from an array by position, so `[null, null]`
/// signed out as `{}` would. Every body must be an object.
async fn a_body_must_be_an_object(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let token = app.register("ada@example.com").await.access_token();
    // Whitespace is not "no body" either (a form feed is not even JSON's whitespace).
    for body in [
        "[null, null]",
        "[\"ada@example.com\", \"x\"]",
        "null",
        "7",
        "\x0c",
        "\n",
    ] {
        let r = app
            .client
            .post(app.url("/auth/logout"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        crate::helpers::Reply::from(r)
            .await
            .assert_problem(400, "invalid_request");
        app.post_raw(
            "/auth/login",
            Some("application/json"),
            body.as_bytes().to_vec(),
        )
        .await
        .assert_problem(400, "invalid_request");
    }
    // The session is still there.
    assert_eq!(app.get("/auth/me", Some(&token)).await.status, 200);
}

/// Found by Schemathesis on PostgreSQL, whose text cannot hold a NUL: a ceremony id with
/// one was looked up as it came and failed with a 500. Every string field of every body,
/// with a NUL in it, gets a problem.
async fn nul_bytes_in_any_string_are_refused_not_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("ada@example.com").await.access_token();
    let nul = "a\u{0}b";
    let mfa = json!({"mfa_token": nul, "code": nul, "backup_code": nul, "challenge_id": nul,
        "credential": {"id": nul, "rawId": nul, "type": "public-key", "response": {}}});
    let reauth = json!({"password": nul, "code": nul, "backup_code": nul, "challenge_id": nul});
    let anonymous: Vec<(&str, Value)> = vec![
        (
            "/auth/register",
            json!({"email": "b@example.com", "password": nul, "name": "B"}),
        ),
        ("/auth/login", json!({"email": nul, "password": nul})),
        ("/auth/login", json!({"username": nul, "password": nul})),
        ("/auth/refresh", json!({"refresh_token": nul})),
        ("/auth/logout", json!({"refresh_token": nul})),
        ("/auth/password/forgot", json!({"email": nul})),
        (
            "/auth/password/reset",
            json!({"token": nul, "password": nul}),
        ),
        ("/auth/magic-link", json!({"email": nul})),
        ("/auth/magic-link/verify", json!({"token": nul})),
        ("/auth/email/verify", json!({"token": nul})),
        ("/auth/email/verify/resend", json!({"email": nul})),
        (
            "/auth/invite/accept",
            json!({"token": nul, "password": nul}),
        ),
        ("/auth/introspect", json!({"token": nul})),
        ("/auth/mfa/verify", mfa),
        (
            "/auth/passkeys/login",
            json!({"challenge_id": nul, "credential": {"id": nul}}),
        ),
    ];
    for (path, body) in &anonymous {
        let r = app.post(path, body, None).await;
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.text
        );
    }
    // An address that is not one is ignored here, as any unknown address is.
    let r = app
        .post("/auth/passkeys/login/options", &json!({"email": nul}), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["publicKey"]["allowCredentials"], json!([]));
    let signed_in: Vec<(&str, Value)> = vec![
        ("/auth/reauthenticate", reauth),
        (
            "/auth/password/change",
            json!({"current_password": nul, "new_password": nul}),
        ),
        ("/auth/mfa/totp/enable", json!({"code": nul})),
        (
            "/auth/mfa/totp/disable",
            json!({"password": nul, "code": nul}),
        ),
        ("/auth/mfa/backup-codes", json!({"code": nul})),
        (
            "/auth/passkeys/register",
            json!({"challenge_id": nul, "name": nul, "credential": {}}),
        ),
        (
            "/admin/users",
            json!({"email": nul, "name": nul, "password": nul}),
        ),
        ("/admin/bans", json!({"user_id": nul, "reason": nul})),
        ("/admin/bans", json!({"ip": nul, "reason": nul})),
        ("/admin/violations", json!({"user_id": nul, "kind": nul})),
    ];
    for (path, body) in &signed_in {
        let r = app.post(path, body, Some(&admin)).await;
        assert!(
            (400..500).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.text
        );
    }
    let r = app
        .send(
            reqwest::Method::PATCH,
            "/auth/me",
            Some(&json!({"name": nul})),
            Some(&admin),
        )
        .await;
    r.assert_problem(422, "validation_failed");
    // Nothing was stored, and the service answers as before.
    assert_eq!(app.get("/auth/me", Some(&admin)).await.status, 200);
}

/// RFC 9110: a general-purpose server answers `HEAD` wherever it answers `GET`, with the
/// same status and headers and no body. Every `GET` of the document, signed in as admin.
/// (A served provider's sign-in start and callback refuse `HEAD` with `405`: their `GET`
/// spends a sign-in's state; see `social::a_head_request_spends_no_sign_in`.)
async fn head_answers_wherever_get_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.register("ada@example.com").await.access_token();
    let spec = app.get("/openapi.json", None).await.body;
    let mut checked = 0;
    for (template, item) in spec["paths"].as_object().unwrap() {
        if item.get("get").is_none() {
            continue;
        }
        let path = template
            .replace("{provider}", "google")
            .replace("{id}", "0190a8c4-0000-7000-8000-000000000000")
            .replace("{asset}", "viewer.js");
        let get = app.get(&path, Some(&admin)).await;
        let head = app
            .client
            .head(app.url(&path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status().as_u16(), get.status, "HEAD {path}");
        assert_eq!(
            head.headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string()),
            get.header("content-type").map(str::to_string),
            "HEAD {path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has a body"
        );
        checked += 1;
    }
    assert!(checked >= 15, "{checked} GET routes");
    // A route without GET answers HEAD as it answers GET: 405, naming what it takes.
    let r = app
        .client
        .head(app.url("/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST");
    let r = app
        .send(reqwest::Method::DELETE, "/healthz", None, None)
        .await;
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

/// Sends `pieces` as a chunked body, a pause between each, and answers the status and body.
async fn post_in_pieces(address: &str, path: &str, pieces: &[Vec<u8>]) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in pieces {
        let chunk = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
        // The server may answer (and close) before the last piece of a body too large.
        if stream.write_all(&chunk).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    // The answer itself may come chunked: its JSON is between the size lines.
    let json = body
        .find('{')
        .map_or("null", |i| &body[i..=body.rfind('}').unwrap()]);
    (status, serde_json::from_str(json).unwrap())
}

/// A body that arrives in several pieces, as a slow client or a proxy sends it, is read
/// whole; one over the limit is refused however it arrives.
async fn a_body_sent_in_pieces_is_read_whole(backend: Backend) {
    let app = spawn_app(backend).await;
    app.register("ada@example.com").await;
    let body = json!({"email": "ada@example.com", "password": crate::helpers::PASSWORD});
    let body = serde_json::to_vec(&body).unwrap();
    let pieces: Vec<Vec<u8>> = body.chunks(9).map(<[u8]>::to_vec).collect();
    let (status, answer) = post_in_pieces(&app.address, "/auth/login", &pieces).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer["access_token"].is_string(), "{answer}");

    let mut big = br#"{"email": "ada@example.com", "name": ""#.to_vec();
    big.extend(vec![b'x'; 70_000]);
    big.extend(br#""}"#);
    let pieces: Vec<Vec<u8>> = big.chunks(8_000).map(<[u8]>::to_vec).collect();
    let (status, answer) = post_in_pieces(&app.address, "/auth/login", &pieces).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "payload_too_large", "{answer}");
}
