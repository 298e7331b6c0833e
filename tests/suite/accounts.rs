//! Accounts over HTTP, the same story against SQLite and Postgres.

use crate::common;

use common::{Backend, PASSWORD, client, spawn_app, spawn_app_with};
use egress::server::config::Signup;
use serde_json::Value;

both_backends!(
    json_login_sets_a_safe_cookie_and_logout_ends_it,
    wrong_password_and_unknown_email_get_the_same_answer,
    signed_out_pages_redirect_to_login,
    signup_creates_a_workspace_and_validates_fields,
    switching_to_a_foreign_workspace_is_refused,
    health_checks_answer,
);

async fn json_login_sets_a_safe_cookie_and_logout_ends_it(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = client();
    let response = c
        .post(app.url("/api/session"))
        .json(&serde_json::json!({ "email": "Owner@Acme.test ", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("egress_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "Secure is off unless configured: {cookie}");
    let viewer: Value = response.json().await.unwrap();
    assert_eq!(viewer["email"], "owner@acme.test");
    assert_eq!(viewer["workspace"]["workspace_name"], "Acme");
    assert_eq!(viewer["workspace"]["role"], "owner");

    let me: Value = c
        .get(app.url("/api/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "owner@acme.test");

    assert_eq!(c.delete(app.url("/api/session")).send().await.unwrap().status(), 204);
    let after = c.get(app.url("/api/session")).send().await.unwrap();
    assert_eq!(after.status(), 401);
    let body: Value = after.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
}

async fn wrong_password_and_unknown_email_get_the_same_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let attempt = |email: &'static str, password: &'static str| {
        let url = app.url("/api/session");
        async move {
            let r = client()
                .post(url)
                .json(&serde_json::json!({ "email": email, "password": password }))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            // Each answer names its own request: the rest must not differ.
            let mut body: serde_json::Value = r.json().await.unwrap();
            let request_id = body["error"].as_object_mut().unwrap().remove("request_id");
            assert!(request_id.is_some_and(|id| id.as_str().is_some_and(|id| id.len() == 32)));
            (status, body.to_string())
        }
    };
    let wrong_password = attempt("owner@acme.test", "not the password").await;
    let unknown_email = attempt("nobody@acme.test", PASSWORD).await;
    assert_eq!(wrong_password.0, 401);
    assert_eq!(wrong_password, unknown_email);
    assert!(
        wrong_password
            .1
            .contains("That email and password do not match an account.")
    );

    // Malformed bodies are 400 and say what is wrong.
    let r = client()
        .post(app.url("/api/session"))
        .json(&serde_json::json!({ "email": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("password"));
}

async fn signed_out_pages_redirect_to_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = client().get(app.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let r = client().get(app.url("/data/orders?status=paid")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login?next=/data/orders%3Fstatus%3Dpaid");
    let r = client().get(app.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Log in to Egress"));
    // Server functions answer signed-out callers with an error, not a page.
    let r = app.browse(&client(), "contacts", &[]).await;
    assert!(r.status().is_server_error() || r.status().is_client_error());
    let body = r.text().await.unwrap();
    assert!(body.contains("You are not signed in."), "{body}");
}

async fn signup_creates_a_workspace_and_validates_fields(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.signup = Some(Signup::Open)).await;
    let signup = |form: &'static [(&'static str, &'static str)]| {
        let url = app.url("/rpc/signup");
        async move {
            let c = client();
            let r = c.post(url).form(form).send().await.unwrap();
            (c, r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (_, status, body) = signup(&[
        ("workspace", "New Co"),
        ("name", "Nia"),
        ("email", "nia@new.test"),
        ("password", "short"),
    ])
    .await;
    assert!(status >= 400, "{status}");
    assert!(body.contains("password: use at least 10 characters"), "{body}");
    let (_, _, body) = signup(&[
        ("workspace", "New Co"),
        ("name", "Nia"),
        ("email", "not-an-email"),
        ("password", PASSWORD),
    ])
    .await;
    assert!(body.contains("email: enter an email address"), "{body}");
    assert_eq!(
        app.store.count_workspaces().await.unwrap(),
        0,
        "nothing is written for bad input"
    );

    let (c, status, _) = signup(&[
        ("workspace", "New Co"),
        ("name", "Nia"),
        ("email", "nia@new.test"),
        ("password", PASSWORD),
    ])
    .await;
    assert!(status < 400, "{status}");
    let me: Value = c
        .get(app.url("/api/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["workspace"]["workspace_name"], "New Co");
    assert_eq!(me["workspace"]["role"], "owner");

    let (_, status, body) = signup(&[
        ("workspace", "Other"),
        ("name", "Nia"),
        ("email", "NIA@new.test"),
        ("password", PASSWORD),
    ])
    .await;
    assert!(status >= 400);
    assert!(body.contains("An account with that email already exists."), "{body}");
    assert_eq!(
        app.store.count_workspaces().await.unwrap(),
        1,
        "the failed sign-up left no workspace behind"
    );
}

async fn switching_to_a_foreign_workspace_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let globex = app.workspace_with_data("Globex", "owner@globex.test", 0, 2).await;
    let c = app.logged_in("owner@acme.test").await;
    let r = c
        .post(app.url("/rpc/switch_workspace"))
        .form(&[("workspace_id", globex.to_string())])
        .send()
        .await
        .unwrap();
    assert!(r.status().as_u16() >= 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("You are not a member of that workspace.")
    );
    let me: Value = c
        .get(app.url("/api/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["workspace"]["workspace_name"], "Acme");

    // Once a member, the switch works.
    let acme_owner = app.store.user_by_email("owner@acme.test").await.unwrap().unwrap();
    app.store.add_membership(globex, acme_owner.id, "member").await.unwrap();
    let r = c
        .post(app.url("/rpc/switch_workspace"))
        .form(&[("workspace_id", globex.to_string())])
        .send()
        .await
        .unwrap();
    assert!(r.status().as_u16() < 400, "{}", r.status());
    let me: Value = c
        .get(app.url("/api/session"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["workspace"]["workspace_name"], "Globex");
    assert_eq!(me["workspaces"].as_array().unwrap().len(), 2);
}

async fn health_checks_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let r = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.text().await.unwrap()), (200, "ok".to_owned()));
    let r = client().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.text().await.unwrap()),
        (200, "ready".to_owned())
    );
}
