//! Identity (issue 10): people signing in from the host product with a signed token,
//! programs calling the API with tokens, and retried creates that make one export.
//! Every story runs against SQLite and Postgres.

use crate::common;

use common::{Backend, TestApp, client, error_of, says, spawn_app_with, start_export};
use egress::accounts::Role;
use egress::server::config::{AuthMode, ServeArgs};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

both_backends!(
    a_sign_in_link_makes_the_user_the_workspace_and_the_role,
    every_spelling_of_a_tenant_key_is_one_workspace,
    sign_in_links_are_refused_with_a_reason,
    public_keys_check_their_own_algorithm_only,
    password_sign_in_can_be_turned_off,
    api_tokens_act_with_their_scopes,
    api_tokens_stop_working_when_revoked_expired_or_orphaned,
    only_admins_manage_api_tokens,
    a_retried_create_makes_one_export,
);

pub const SECRET: &str = "a shared secret of at least thirty-two bytes";

pub fn with_jwt(a: &mut ServeArgs) {
    a.jwt_secret = Some(SECRET.into());
    a.auth = AuthMode::Both;
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The claims a host product would sign for `email` in tenant `tenant`.
pub fn claims(email: &str, tenant: &str, role: &str) -> Value {
    json!({
        "sub": format!("user-{email}"),
        "email": email,
        "name": format!("Person {email}"),
        "tenant": { "id": tenant, "name": format!("Tenant {tenant}") },
        "role": role,
        "aud": "egress",
        "iat": now(),
        "exp": now() + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
    })
}

pub fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// Follows a sign-in link with `client`; the response (a redirect or a refusal page).
pub async fn open_link(app: &TestApp, c: &reqwest::Client, token: &str, return_to: &str) -> reqwest::Response {
    c.get(app.url("/auth/jwt"))
        .query(&[("token", token), ("return_to", return_to)])
        .send()
        .await
        .unwrap()
}

pub async fn viewer(app: &TestApp, c: &reqwest::Client) -> Option<Value> {
    let r = c.get(app.url("/api/session")).send().await.unwrap();
    (r.status() == 200).then_some(r.json().await.unwrap())
}

async fn a_sign_in_link_makes_the_user_the_workspace_and_the_role(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    let c = client();
    let r = open_link(
        &app,
        &c,
        &sign(&claims("ada@acme.test", "42", "admin")),
        "/exports?tab=mine",
    )
    .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], "/exports?tab=mine");
    let me = viewer(&app, &c).await.expect("signed in");
    assert_eq!(me["email"], "ada@acme.test");
    assert_eq!(me["name"], "Person ada@acme.test");
    assert_eq!(me["workspace"]["workspace_name"], "Tenant 42");
    assert_eq!(me["workspace"]["role"], "admin");
    let workspace = me["workspace"]["workspace_id"].as_i64().unwrap();
    assert!(
        me["workspace"].get("tenant_key").is_none(),
        "the tenant key stays on the server"
    );

    // The host is the source of truth: the next link sets the role and the names again,
    // and lands in the same workspace and the same user.
    let mut next = claims("ada@acme.test", "42", "member");
    next["tenant"]["name"] = json!("Acme Corp");
    let c2 = client();
    assert_eq!(open_link(&app, &c2, &sign(&next), "/").await.status(), 303);
    let me2 = viewer(&app, &c2).await.unwrap();
    assert_eq!(me2["user_id"], me["user_id"]);
    assert_eq!(me2["workspace"]["workspace_id"], workspace);
    assert_eq!(me2["workspace"]["workspace_name"], "Acme Corp");
    assert_eq!(me2["workspace"]["role"], "member");

    // Another tenant is another workspace, and the user can switch between the two.
    assert_eq!(
        open_link(&app, &c2, &sign(&claims("ada@acme.test", "43", "owner")), "/")
            .await
            .status(),
        303
    );
    let me3 = viewer(&app, &c2).await.unwrap();
    assert_ne!(me3["workspace"]["workspace_id"], workspace);
    assert_eq!(me3["workspace"]["role"], "owner");
    assert_eq!(me3["workspaces"].as_array().unwrap().len(), 2);

    // The signed-in person uses the app like anyone else.
    let job = start_export(&app, &c2, json!({"dataset": "contacts", "format": "csv"})).await;
    assert_eq!(job["status"], "pending");
}

/// The demo catalog's tenants are integers: `7`, `07` and `+7` are tenant 7 (issue 23).
async fn every_spelling_of_a_tenant_key_is_one_workspace(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    let mut workspaces = Vec::new();
    for (email, tenant) in [
        ("ada@acme.test", "7"),
        ("bob@acme.test", "07"),
        ("cy@acme.test", " +7 "),
    ] {
        let c = client();
        let r = open_link(&app, &c, &sign(&claims(email, tenant, "member")), "/").await;
        assert_eq!(r.status(), 303, "{tenant:?}: {}", r.text().await.unwrap());
        let me = viewer(&app, &c).await.expect("signed in");
        let memberships = app.store.memberships(me["user_id"].as_i64().unwrap()).await.unwrap();
        assert_eq!(memberships.len(), 1);
        assert_eq!(
            memberships[0].tenant_key.as_deref(),
            Some("7"),
            "kept in its one spelling"
        );
        workspaces.push(memberships[0].workspace_id);
    }
    assert!(workspaces.iter().all(|w| *w == workspaces[0]), "{workspaces:?}");
    // Another number is another tenant.
    let c = client();
    open_link(&app, &c, &sign(&claims("dee@acme.test", "70", "member")), "/").await;
    assert_ne!(
        viewer(&app, &c).await.unwrap()["workspace"]["workspace_id"],
        workspaces[0]
    );
}

async fn sign_in_links_are_refused_with_a_reason(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    let good = || claims("ada@acme.test", "42", "admin");
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut c = good();
        f(&mut c);
        sign(&c)
    };
    let used = sign(&good());
    assert_eq!(open_link(&app, &client(), &used, "/").await.status(), 303);
    let foreign_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good(),
        &EncodingKey::from_secret(b"somebody else's secret of 32+ bytes!!"),
    )
    .unwrap();
    let cases: Vec<(&str, String, &str, StatusCode, &str)> = vec![
        (
            "expired",
            edit(&|c| {
                c["iat"] = json!(now() - 600);
                c["exp"] = json!(now() - 300);
            }),
            "/",
            StatusCode::UNAUTHORIZED,
            "has expired",
        ),
        (
            "another audience",
            edit(&|c| c["aud"] = json!("metabase")),
            "/",
            StatusCode::UNAUTHORIZED,
            "made for another application",
        ),
        (
            "another key",
            foreign_key,
            "/",
            StatusCode::UNAUTHORIZED,
            "signature does not check out",
        ),
        ("used before", used, "/", StatusCode::UNAUTHORIZED, "was used already"),
        (
            "lives too long",
            edit(&|c| c["exp"] = json!(now() + 3600)),
            "/",
            StatusCode::UNAUTHORIZED,
            "within 300 seconds",
        ),
        (
            "no tenant",
            edit(&|c| {
                c.as_object_mut().unwrap().remove("tenant");
            }),
            "/",
            StatusCode::BAD_REQUEST,
            "tenant.id",
        ),
        (
            "no id",
            edit(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            "/",
            StatusCode::BAD_REQUEST,
            "jti",
        ),
        (
            "unknown role",
            edit(&|c| c["role"] = json!("superuser")),
            "/",
            StatusCode::BAD_REQUEST,
            "must be owner, admin, member or none",
        ),
        (
            "not an email",
            edit(&|c| c["email"] = json!("ada")),
            "/",
            StatusCode::BAD_REQUEST,
            "is not an email address",
        ),
        (
            "another site",
            sign(&good()),
            "https://evil.example/",
            StatusCode::BAD_REQUEST,
            "not a page of this Egress",
        ),
        (
            "scheme-relative",
            sign(&good()),
            "//evil.example/x",
            StatusCode::BAD_REQUEST,
            "not a page of this Egress",
        ),
        (
            "backslash",
            sign(&good()),
            "/\\evil.example",
            StatusCode::BAD_REQUEST,
            "not a page of this Egress",
        ),
        (
            "not valid before a time to come",
            edit(&|c| c["nbf"] = json!(now() + 120)),
            "/",
            StatusCode::UNAUTHORIZED,
            "not valid yet",
        ),
        ("no token", String::new(), "/", StatusCode::BAD_REQUEST, "has no token"),
        (
            "not a token",
            "not.a.token".into(),
            "/",
            StatusCode::UNAUTHORIZED,
            "not valid",
        ),
    ];
    for (what, token, return_to, status, text) in cases {
        let c = client();
        let r = open_link(&app, &c, &token, return_to).await;
        assert_eq!(r.status(), status, "{what}");
        let page = r.text().await.unwrap();
        assert!(page.contains(text), "{what}: the page should say {text:?}: {page}");
        assert!(page.contains("<h1>"), "{what}: a page for a person, not JSON");
        assert!(viewer(&app, &c).await.is_none(), "{what}: no session was made");
    }
    // The refused off-site link did not spend its token: a corrected link still works.
    let token = sign(&good());
    assert_eq!(
        open_link(&app, &client(), &token, "https://evil.example/")
            .await
            .status(),
        400
    );
    assert_eq!(open_link(&app, &client(), &token, "/").await.status(), 303);
}

async fn public_keys_check_their_own_algorithm_only(backend: Backend) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let public = fixtures.join("jwt_ed25519_public.pem");
    let app = spawn_app_with(backend, |a| {
        a.jwt_public_key = Some(public.clone());
        a.auth = AuthMode::Jwt;
    })
    .await;
    let private = std::fs::read(fixtures.join("jwt_ed25519_private.pem")).unwrap();
    let claims = claims("ada@acme.test", "42", "owner");
    let signed = jsonwebtoken::encode(
        &Header::new(Algorithm::EdDSA),
        &claims,
        &EncodingKey::from_ed_pem(&private).unwrap(),
    )
    .unwrap();
    let c = client();
    assert_eq!(open_link(&app, &c, &signed, "/").await.status(), 303);
    assert!(viewer(&app, &c).await.is_some());

    // The old trick: an HS256 token "signed" with the public key as the shared secret.
    let public_pem = std::fs::read(&public).unwrap();
    let mut again = claims.clone();
    again["jti"] = json!("another id");
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &again,
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    let c = client();
    assert_eq!(open_link(&app, &c, &forged, "/").await.status(), 401);
    assert!(viewer(&app, &c).await.is_none());
}

async fn password_sign_in_can_be_turned_off(backend: Backend) {
    // Only the product signs people in: the password form and API refuse, saying why.
    let app = spawn_app_with(backend, |a| {
        with_jwt(a);
        a.auth = AuthMode::Jwt;
    })
    .await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let r = client()
        .post(app.url("/api/session"))
        .json(&json!({"email": "owner@acme.test", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    says(&error, "Password sign-in is off");
    let ways: Value = client()
        .post(app.url("/rpc/sign_in_options"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ways, json!({"password": false, "signup": false}));

    // Without a key, sign-in links are not set up at all.
    let plain = spawn_app_with(backend, |_| {}).await;
    let r = open_link(&plain, &client(), &sign(&claims("ada@acme.test", "42", "admin")), "/").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("not set up"));
}

// --- API tokens ------------------------------------------------------------------------

/// Makes a token through the tokens page's server function; its secret and id.
pub async fn make_token(app: &TestApp, c: &reqwest::Client, scopes: &[&str], days: Option<u32>) -> (String, i64) {
    let r = c
        .post(app.url("/rpc/create_api_token"))
        .json(&json!({"name": "Nightly sync", "scopes": scopes, "expires_in_days": days}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let made: Value = r.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("egress_") && secret.len() == 7 + 64, "{secret}");
    (secret, made["token"]["id"].as_i64().unwrap())
}

async fn list_tokens(app: &TestApp, c: &reqwest::Client) -> Value {
    c.post(app.url("/rpc/list_api_tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn bearer(secret: &str) -> String {
    format!("Bearer {secret}")
}

async fn api_tokens_act_with_their_scopes(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    app.workspace_with_data("Acme", "owner@acme.test", 5, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let (reader, _) = make_token(&app, &owner, &["exports:read"], Some(30)).await;
    let (writer, _) = make_token(&app, &owner, &["exports:read", "exports:write"], None).await;
    let program = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let body = json!({"dataset": "contacts", "format": "csv"});

    // Reading works without a cookie; writing needs the scope, and says which.
    let r = program
        .get(app.url("/api/exports"))
        .header("authorization", bearer(&reader))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = program
        .post(app.url("/api/exports"))
        .header("authorization", bearer(&reader))
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    says(&error, "does not have the `exports:write` scope");

    // A program is not a browser: no Origin rule applies to a token (it carries no
    // cookie a foreign page could borrow).
    let r = program
        .post(app.url("/api/exports"))
        .header("authorization", bearer(&writer))
        .header("origin", "https://elsewhere.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let done = common::wait_until_done(&app, &owner, &id).await;
    assert_eq!(done["status"], "completed");

    // The token follows and downloads it like a person would.
    let r = program
        .get(app.url(&format!("/api/exports/{id}/events")))
        .header("authorization", bearer(&reader))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("\"status\":\"completed\""));
    let r = program
        .get(app.url(&format!("/exports/{id}/download")))
        .header("authorization", bearer(&reader))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the local disk's file comes through the checked route");
    let text = r.text().await.unwrap();
    assert_eq!(
        csv::Reader::from_reader(text.as_bytes()).records().count(),
        5,
        "five contacts: {text}"
    );

    // The list shows each token's use, never its secret.
    let listed = list_tokens(&app, &owner).await;
    let listed_text = listed.to_string();
    assert!(!listed_text.contains(&reader[7..]) && !listed_text.contains(&writer[7..]));
    let tokens = listed.as_array().unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(
        tokens
            .iter()
            .all(|t| t["status"] == "active" && !t["last_used_at"].is_null())
    );

    // A cookie cannot ride along with a token: server functions keep the Origin rule.
    let r = owner
        .post(app.url("/rpc/list_api_tokens"))
        .header("authorization", bearer(&writer))
        .header("origin", "https://elsewhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Malformed credentials say what is expected.
    for (header, text) in [
        ("Basic b3duZXI6cGFzcw==", "Authorization: Bearer <token>"),
        ("Bearer egress_0000", "is not known here"),
        ("Bearer sk_live_123", "is not one of Egress's"),
    ] {
        let r = program
            .get(app.url("/api/exports"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 401, "{header}");
        says(&error, text);
    }
}

async fn api_tokens_stop_working_when_revoked_expired_or_orphaned(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let ada = app.add_user(ws, "ada@acme.test", Role::Admin).await;
    let owner = app.logged_in("owner@acme.test").await;
    let admin = app.logged_in("ada@acme.test").await;
    let program = client();
    let works = |secret: String| {
        let (program, url) = (program.clone(), app.url("/api/exports"));
        async move {
            let r = program
                .get(url)
                .header("authorization", bearer(&secret))
                .send()
                .await
                .unwrap();
            match r.status() {
                StatusCode::OK => Ok(()),
                _ => Err(error_of(r).await.1["message"].as_str().unwrap().to_owned()),
            }
        }
    };

    let (revoked, id) = make_token(&app, &owner, &["exports:read"], None).await;
    assert_eq!(works(revoked.clone()).await, Ok(()));
    let r = owner
        .post(app.url("/rpc/revoke_api_token"))
        .form(&[("id", id.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(works(revoked).await, Err("This API token was revoked.".into()));
    let listed = list_tokens(&app, &owner).await;
    assert_eq!(listed[0]["status"], "revoked");

    // A token made to expire (as the database would hold it a day later).
    let (expiring, id) = make_token(&app, &owner, &["exports:read"], Some(1)).await;
    assert_eq!(works(expiring.clone()).await, Ok(()));
    app.sql(format!(
        "UPDATE api_tokens SET expires_at = {} WHERE id = {id}",
        now() - 1
    ))
    .await;
    assert_eq!(works(expiring).await, Err("This API token has expired.".into()));

    // A token acts with its maker's role: when the maker leaves, it stops.
    let (orphan, _) = make_token(&app, &admin, &["exports:read"], None).await;
    assert_eq!(works(orphan.clone()).await, Ok(()));
    app.remove_membership(ws, ada).await;
    assert_eq!(
        works(orphan).await,
        Err("This API token belongs to someone who has left the workspace.".into())
    );
}

async fn only_admins_manage_api_tokens(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    app.add_user(ws, "mia@acme.test", Role::Member).await;
    let mia = app.logged_in("mia@acme.test").await;
    let r = mia
        .post(app.url("/rpc/create_api_token"))
        .json(&json!({"name": "mine", "scopes": ["exports:read"], "expires_in_days": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Only the workspace's admins and owners manage API tokens.")
    );

    // Each bad field is named.
    let owner = app.logged_in("owner@acme.test").await;
    for (body, field) in [
        (
            json!({"name": " ", "scopes": ["exports:read"], "expires_in_days": 30}),
            "name",
        ),
        (json!({"name": "x", "scopes": [], "expires_in_days": 30}), "scopes"),
        (
            json!({"name": "x", "scopes": ["exports:read", "admin"], "expires_in_days": 30}),
            "scopes.1",
        ),
        (
            json!({"name": "x", "scopes": ["exports:read"], "expires_in_days": 0}),
            "expires_in_days",
        ),
    ] {
        let r = owner
            .post(app.url("/rpc/create_api_token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let error: Value = r.json().await.unwrap();
        assert_eq!(error["field"], field, "{error}");
    }
}

// --- Idempotency-Key -----------------------------------------------------------------

async fn a_retried_create_makes_one_export(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    app.add_user(ws, "ada@acme.test", Role::Admin).await;
    let owner = app.logged_in("owner@acme.test").await;
    let post = |c: &reqwest::Client, key: &str, body: &str| {
        c.post(app.url("/api/exports"))
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let body = r#"{"dataset": "contacts", "format": "csv", "filters": {"name": "a", "created_from": "2024-01-01"}}"#;
    let same = r#"{"filters": {"created_from": "2024-01-01", "name": "a"}, "format": "csv", "dataset": "contacts"}"#;

    let first = post(&owner, "retry-1", body).await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again = post(&owner, "retry-1", same).await.unwrap();
    assert_eq!(again.status(), 200, "the same request again gets the first export");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(app.get_json(&owner, "/api/exports").await["total"], 1);

    // The key with another request is a mistake, said as one.
    let (status, error) = error_of(
        post(&owner, "retry-1", r#"{"dataset": "orders", "format": "csv"}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(error["code"], "conflict");
    says(&error, "already used for a different request");

    // Keys are per person: another user's "retry-1" is theirs.
    let ada = app.logged_in("ada@acme.test").await;
    let theirs = post(&ada, "retry-1", body).await.unwrap();
    assert_eq!(theirs.status(), 202);
    assert_ne!(theirs.json::<Value>().await.unwrap()["id"], first["id"]);

    // A refused request spends no key: corrected, it goes through.
    let (status, error) = error_of(
        post(&owner, "retry-2", r#"{"dataset": "nope", "format": "csv"}"#)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "dataset");
    assert_eq!(post(&owner, "retry-2", body).await.unwrap().status(), 202);

    // A key must be printable ASCII of sensible length.
    for bad in ["x".repeat(256), "two words".into(), String::new()] {
        let (status, error) = error_of(post(&owner, &bad, body).await.unwrap()).await;
        assert_eq!(status, 400, "{bad:?}");
        assert_eq!(error["field"], "Idempotency-Key");
    }
}
