use crate::helpers::{spawn_app, Backend};

/// The committed spec is exactly what the code generates: regenerate it with
/// `make openapi` after changing a route or a schema.
#[test]
fn committed_spec_is_current() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    let generated = latch::openapi::spec_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    );
}

#[test]
fn spec_documents_every_error_an_operation_answers() {
    let spec: serde_json::Value = serde_json::from_str(&latch::openapi::spec_json()).unwrap();
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/auth/register",
        "/auth/login",
        "/auth/refresh",
        "/auth/logout",
        "/auth/me",
        "/auth/password/change",
        "/auth/sessions",
        "/auth/sessions/{id}",
        "/auth/config",
        "/auth/dev-login",
        "/auth/introspect",
        "/healthz",
        "/readyz",
        "/metrics",
        "/.well-known/jwks.json",
        "/.well-known/openid-configuration",
        "/openapi.json",
        "/docs",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    // Every operation with a JSON body answers the body errors, and every one behind a
    // bearer answers 401.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} lacks {status}"
                    );
                }
            }
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
            }
        }
    }
}

#[tokio::test]
async fn spec_and_docs_are_served() {
    let app = spawn_app(Backend::Sqlite).await;
    let r = app.get("/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let generated: serde_json::Value = serde_json::from_str(&latch::openapi::spec_json()).unwrap();
    assert_eq!(r.body, generated);
    let res = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Served whole from the binary: nothing from another origin, nothing inline.
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<html") && html.contains("Latch"), "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "no inline script: {html}");
    for (asset, kind) in [("viewer.js", "text/javascript"), ("viewer.css", "text/css")] {
        let res = app
            .client
            .get(app.url(&format!("/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
        assert!(
            !res.text().await.unwrap().contains("https://"),
            "{asset} loads nothing remote"
        );
    }
    assert_eq!(app.get("/docs/other.js", None).await.status, 404);
}

/// Every link names an operation that exists and takes the `id` it fills, from a pointer
/// into a schema that has that property; and the links a client needs are there.
#[test]
fn links_lead_to_operations_that_take_the_id() {
    let spec: serde_json::Value = serde_json::from_str(&latch::openapi::spec_json()).unwrap();
    let mut ops = std::collections::HashMap::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                ops.insert(id.to_string(), op.clone());
            }
        }
    }
    let mut links = 0;
    for op in ops.values() {
        for response in op["responses"].as_object().unwrap().values() {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                let target = &ops[link["operationId"].as_str().unwrap()];
                let takes_id = target["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p["name"] == "id" && p["in"] == "path");
                assert!(takes_id, "{name}: its operation takes no `id`");
                let expr = link["parameters"]["id"].as_str().unwrap();
                assert!(expr.starts_with("$response.body#/"), "{name}: {expr}");
                assert!(expr.ends_with("/id"), "{name}: {expr}");
                links += 1;
            }
        }
    }
    let create_user = &ops["createUser"]["responses"]["201"]["links"];
    assert_eq!(create_user["GetUser"]["operationId"], "getUser");
    assert!(links >= 9, "{links} links");
}

/// `/docs` and a generated client show what each operation does: every one has a summary
/// and a description, and its tag is declared with a description of its own.
#[test]
fn every_operation_explains_itself() {
    let spec: serde_json::Value = serde_json::from_str(&latch::openapi::spec_json()).unwrap();
    let tags: std::collections::HashSet<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|t| {
            assert!(
                t["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{t}"
            )
        })
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut missing = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let has = |k: &str| op[k].as_str().is_some_and(|s| !s.trim().is_empty());
            if !has("summary") || !has("description") {
                missing.push(format!("{method} {path}"));
            }
            for tag in op["tags"].as_array().into_iter().flatten() {
                assert!(
                    tags.contains(tag.as_str().unwrap()),
                    "{method} {path}: tag {tag} is not declared"
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations without a summary or description: {missing:#?}"
    );
}
