//! The security suite: one story per hole found in review (issue 9) and per defence a
//! deployment is expected to have, each written to fail on the code before its fix.
//! Every story runs against SQLite and Postgres.

use crate::common;

use common::{
    Backend, PASSWORD, TestApp, client, error_of, read_to_end, says, spawn_app, spawn_app_with, start_export,
    wait_until_done,
};
use egress::accounts::Role;
use egress::server::config::{ServeArgs, Signup};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

both_backends!(
    wrong_passwords_are_throttled_per_account_and_per_address,
    password_hashing_is_capped,
    known_and_unknown_emails_take_the_same_time,
    login_follows_only_paths_of_this_site,
    members_manage_their_own_exports_and_admins_all,
    datasets_can_require_a_role,
    deleting_an_export_keeps_its_audit_trail,
    changes_from_other_sites_are_refused,
    progress_streams_are_capped_per_session,
    streams_end_when_the_session_or_membership_ends,
    logout_sticks_and_unknown_cookies_make_no_sessions,
    sessions_end_after_their_absolute_lifetime,
    paging_that_overflows_is_a_bad_request,
    every_bad_field_is_named,
    oversized_bodies_are_refused_with_413,
    internal_errors_show_a_sentence_and_a_request_id,
    links_work_from_another_of_the_users_workspaces,
    security_headers_are_on_every_response,
    slow_clients_are_cut_off,
    signup_is_closed_unless_opened,
    files_on_the_local_disk_go_only_to_who_may_have_them,
);

/// A client whose requests come from `ip` (any 127.x.y.z is this machine).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(ip.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn sign_in(app: &TestApp, c: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
    c.post(app.url("/api/session"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

// --- 1. Login throttling ---------------------------------------------------------------

fn throttled(a: &mut ServeArgs) {
    a.limits.login_failures_per_account = 3;
    a.limits.login_failures_per_address = 6;
}

async fn wrong_passwords_are_throttled_per_account_and_per_address(backend: Backend) {
    let app = spawn_app_with(backend, throttled).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let attacker = client_from("127.0.0.2");
    for _ in 0..3 {
        let r = sign_in(&app, &attacker, "owner@acme.test", "guess").await;
        assert_eq!(r.status(), 401);
    }
    // The account now waits, whoever asks and even with the right password.
    for c in [&attacker, &client_from("127.0.0.3")] {
        let r = sign_in(&app, c, "owner@acme.test", PASSWORD).await;
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&wait), "Retry-After {wait}");
        let (_, error) = error_of(r).await;
        assert_eq!(error["code"], "rate_limited");
        says(&error, "Too many failed sign-ins.");
    }
    // The login form (a server function) says the same, with the same status.
    let r = attacker
        .post(app.url("/rpc/login"))
        .form(&[("email", "owner@acme.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("Too many failed sign-ins"),
        "{body}"
    );

    // One address trying many accounts is stopped too: it has 3 failures so far.
    for i in 0..3 {
        let r = sign_in(&app, &attacker, &format!("nobody{i}@acme.test"), "guess").await;
        assert_eq!(r.status(), 401);
    }
    let r = sign_in(&app, &attacker, "someone.else@acme.test", "guess").await;
    assert_eq!(r.status(), 429, "the address is throttled");
    // Another address is not.
    let r = sign_in(&app, &client_from("127.0.0.4"), "someone.else@acme.test", "guess").await;
    assert_eq!(r.status(), 401);
}

async fn password_hashing_is_capped(backend: Backend) {
    let app = spawn_app_with(backend, |a| {
        a.limits.hash_concurrency = Some(1);
        a.limits.hash_queue = 1;
    })
    .await;
    // A burst of sign-ins, each from its own address so that no throttle stops them.
    let attempts: Vec<_> = (0..12)
        .map(|i| {
            let (c, url) = (client_from(&format!("127.0.1.{}", i + 1)), app.url("/api/session"));
            tokio::spawn(async move {
                let r = c
                    .post(url)
                    .json(&json!({ "email": format!("n{i}@x.test"), "password": "guess" }))
                    .send()
                    .await
                    .unwrap();
                (r.status().as_u16(), r.headers().get("retry-after").is_some())
            })
        })
        .collect();
    let mut busy = 0;
    for attempt in attempts {
        let (status, retry_after) = attempt.await.unwrap();
        assert!(status == 401 || status == 503, "{status}");
        if status == 503 {
            busy += 1;
            assert!(retry_after, "a busy answer says when to come back");
        }
    }
    assert!(
        busy > 0,
        "one hash at a time, one waiting: the rest are told to come back"
    );
}

async fn known_and_unknown_emails_take_the_same_time(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.limits.login_failures_per_address = 1000).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = client();
    let known = app.median_refusal(&c, "owner@acme.test").await;
    let unknown = app.median_refusal(&c, "nobody@acme.test").await;
    let ratio = known.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "a known email took {known:?}, an unknown one {unknown:?}: both must hash"
    );
}

// --- 2. Open redirect after login ------------------------------------------------------

async fn login_follows_only_paths_of_this_site(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let target = |next: &'static str| {
        let url = app.url("/rpc/login");
        async move {
            let r = client()
                .post(url)
                .form(&[("email", "owner@acme.test"), ("password", PASSWORD), ("next", next)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<String>().await.unwrap()
        }
    };
    assert_eq!(target("/data/orders?status=paid").await, "/data/orders?status=paid");
    for hostile in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "/.//evil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "/%09/evil.example",
    ] {
        let followed = target(hostile).await;
        assert!(
            followed.starts_with('/') && !followed.starts_with("//") && !followed.contains(['\t', '\n', '\r', '\\']),
            "{hostile:?} led to {followed:?}"
        );
        assert!(
            !followed.contains("evil") || followed.starts_with("/%09"),
            "{hostile:?} → {followed:?}"
        );
    }
}

// --- 4. Roles ----------------------------------------------------------------------------

async fn members_manage_their_own_exports_and_admins_all(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 3, 1).await;
    app.add_user(ws, "mia@acme.test", Role::Member).await;
    app.add_user(ws, "max@acme.test", Role::Member).await;
    app.add_user(ws, "ada@acme.test", Role::Admin).await;
    let (mia, max, admin) = (
        app.logged_in("mia@acme.test").await,
        app.logged_in("max@acme.test").await,
        app.logged_in("ada@acme.test").await,
    );
    let job = start_export(&app, &mia, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();

    // Another member: refused with a reason (not a 404 that hides it), and it is not listed.
    for (method, path) in [
        ("GET", format!("/api/exports/{id}")),
        ("DELETE", format!("/api/exports/{id}")),
    ] {
        let r = max
            .request(method.parse().unwrap(), app.url(&path))
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(error["code"], "forbidden");
        says(&error, "or an admin of the workspace");
    }
    let r = max
        .post(app.url("/rpc/cancel_export"))
        .form(&[("id", id)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "the server function refuses the same way");
    let listed: Value = app.get_json(&max, "/api/exports").await;
    assert_eq!(listed["total"], 0, "members see their own exports only");
    let listed: Value = app.get_json(&mia, "/api/exports").await;
    assert_eq!(listed["total"], 1);

    // An admin sees it and may cancel it; so may its owner.
    let listed: Value = app.get_json(&admin, "/api/exports").await;
    assert_eq!(listed["total"], 1);
    let r = admin
        .delete(app.url(&format!("/api/exports/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = mia.delete(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 204, "its owner deletes the cancelled export");
}

async fn datasets_can_require_a_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 3, 1).await;
    app.add_user(ws, "mia@acme.test", Role::Member).await;
    let mia = app.logged_in("mia@acme.test").await;
    let r = mia
        .post(app.url("/api/exports"))
        .json(&json!({"dataset": "members", "format": "csv"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    assert_eq!(
        error["message"],
        "Members can only be seen by the workspace's admins and owners."
    );
    let r = app.browse(&mia, "members", &[]).await;
    assert_eq!(r.status(), 403);
    let r = app.browse(&mia, "contacts", &[]).await;
    assert_eq!(r.status(), 200);
    let owner = app.logged_in("owner@acme.test").await;
    let job = start_export(&app, &owner, json!({"dataset": "members", "format": "csv"})).await;
    let done = wait_until_done(&app, &owner, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["total_rows"], 2);
}

async fn deleting_an_export_keeps_its_audit_trail(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 3, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "orders", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(wait_until_done(&app, &c, id).await["status"], "completed");
    assert_eq!(
        c.delete(app.url(&format!("/api/exports/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.get(app.url(&format!("/api/exports/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let kinds = common::event_kinds(&app, id).await;
    assert_eq!(kinds.first().map(String::as_str), Some("created"));
    assert!(kinds.contains(&"completed".to_owned()), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("deleted"));
}

// --- 5. Cross-site requests --------------------------------------------------------------

async fn changes_from_other_sites_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    app.workspace_with_data("Acme", "owner@acme.test", 3, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "orders", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    let host = app.base.trim_start_matches("http://").to_owned();

    // A form on another site posting to a server function, as text/plain or a form.
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let r = c
            .post(app.url("/rpc/cancel_export"))
            .header(name, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("id={id}"))
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 403, "{name}: {value}");
        says(&error, "came from another site");
        let r = c
            .post(app.url("/api/exports"))
            .header(name, value)
            .json(&json!({"dataset": "orders", "format": "csv"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
    let now: Value = app.get_json(&c, &format!("/api/exports/{id}")).await;
    assert_eq!(now["status"], "pending", "nothing was cancelled");
    let listed: Value = app.get_json(&c, "/api/exports").await;
    assert_eq!(listed["total"], 1, "nothing was created");

    // Login CSRF: another site cannot sign the browser in to an account of its choosing.
    let victim = client();
    let r = victim
        .post(app.url("/rpc/login"))
        .header("origin", "https://evil.example")
        .form(&[("email", "owner@acme.test"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none());

    // The app's own pages are welcome.
    let r = c
        .delete(app.url(&format!("/api/exports/{id}")))
        .header("origin", format!("http://{host}"))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// --- 6. Progress streams -----------------------------------------------------------------

async fn progress_streams_are_capped_per_session(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.limits.max_streams_per_session = 2).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    let first = c.get(app.url("/api/exports/events")).send().await.unwrap();
    let second = c.get(app.url("/api/exports/events")).send().await.unwrap();
    assert_eq!((first.status(), second.status()), (StatusCode::OK, StatusCode::OK));
    let third = c.get(app.url("/api/exports/events")).send().await.unwrap();
    assert!(third.headers().contains_key("retry-after"));
    let (status, error) = error_of(third).await;
    assert_eq!(status, 429);
    says(&error, "progress streams open");
    // Another session has its own.
    let other = app.logged_in("owner@acme.test").await;
    assert_eq!(
        other.get(app.url("/api/exports/events")).send().await.unwrap().status(),
        200
    );
    // A closed stream gives its place back.
    drop(first);
    let mut reopened = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..50 {
        reopened = c.get(app.url("/api/exports/events")).send().await.unwrap().status();
        if reopened == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reopened, 200);

    // A node holds so many streams in all.
    let full = spawn_app_with(backend, |a| a.limits.max_streams = 1).await;
    full.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let (one, two) = (
        full.logged_in("owner@acme.test").await,
        full.logged_in("owner@acme.test").await,
    );
    let _open = one.get(full.url("/api/exports/events")).send().await.unwrap();
    let (status, error) = error_of(two.get(full.url("/api/exports/events")).send().await.unwrap()).await;
    assert_eq!(status, 429);
    says(&error, "as many progress streams as it can");
}

async fn streams_end_when_the_session_or_membership_ends(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let mia_id = app.add_user(ws, "mia@acme.test", Role::Member).await;
    // Logging out ends the session's streams.
    let c = app.logged_in("owner@acme.test").await;
    let stream = c.get(app.url("/api/exports/events")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(c.delete(app.url("/api/session")).send().await.unwrap().status(), 204);
    let said = read_to_end(stream, Duration::from_secs(15)).await;
    assert!(said.contains("event: end"), "{said}");

    // Removal from the workspace ends a member's streams.
    let mia = app.logged_in("mia@acme.test").await;
    let stream = mia.get(app.url("/api/exports/events")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    app.remove_membership(ws, mia_id).await;
    read_to_end(stream, Duration::from_secs(15)).await;
}

// --- 7. Sessions -------------------------------------------------------------------------

async fn count_sessions(app: &TestApp) -> i64 {
    let q = egress::store::query::Query {
        sql: "SELECT COUNT(*) FROM sessions".into(),
        params: vec![],
    };
    app.store.fetch_i64(&q).await.unwrap().unwrap()
}

async fn logout_sticks_and_unknown_cookies_make_no_sessions(backend: Backend) {
    use tower_sessions::SessionStore;
    use tower_sessions::session::{Id, Record};
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;

    // A request with a cookie that names no session writes nothing.
    for path in ["/healthz", "/login", "/api/openapi.json"] {
        let r = client()
            .get(app.url(path))
            .header("cookie", format!("egress_session={}", Id::default()))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
    }
    assert_eq!(count_sessions(&app).await, 0, "unknown cookies made session rows");

    // A request still running when its session is logged out cannot save it back.
    let sessions = egress::server::sessions::Sessions::new(app.store.clone());
    let mut record = Record {
        id: Id::default(),
        data: [("user_id".to_owned(), json!(1))].into(),
        expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
    };
    sessions.create(&mut record).await.unwrap();
    assert!(sessions.load(&record.id).await.unwrap().is_some());
    sessions.delete(&record.id).await.unwrap(); // the logout
    sessions.save(&record).await.unwrap(); // the request in flight
    assert!(sessions.load(&record.id).await.unwrap().is_none(), "logout was undone");

    // Over HTTP: logged out, the cookie is worthless.
    let c = app.logged_in("owner@acme.test").await;
    assert_eq!(count_sessions(&app).await, 1);
    assert_eq!(c.delete(app.url("/api/session")).send().await.unwrap().status(), 204);
    assert_eq!(c.get(app.url("/api/session")).send().await.unwrap().status(), 401);
    assert_eq!(count_sessions(&app).await, 0);
}

async fn sessions_end_after_their_absolute_lifetime(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.session_max_hours = 0).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = c.get(app.url("/api/session")).send().await.unwrap();
    assert_eq!(r.status(), 401, "a session past its lifetime is over, however active");
}

// --- 9. Small ones ---------------------------------------------------------------------

async fn paging_that_overflows_is_a_bad_request(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    for (query, field) in [
        ("page=9223372036854775807", "page"),
        ("page=0", "page"),
        ("page=-3", "page"),
        ("page=99999999999999999999", "page"),
        ("page=two", "page"),
        ("per_page=9223372036854775807", "per_page"),
        ("per_page=0", "per_page"),
        ("page=2&per_page=101", "per_page"),
        ("colour=red", "colour"),
    ] {
        let r = c.get(app.url(&format!("/api/exports?{query}"))).send().await.unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(error["field"], field, "{query}: {error}");
    }
    let r = c
        .post(app.url("/rpc/list_exports"))
        .form(&[("page", "9223372036854775807")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the server function too");
}

async fn every_bad_field_is_named(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    for (body, field) in [
        (
            json!({"dataset": "orders", "format": "csv", "filters": {"colour": "red"}}),
            "filters.colour",
        ),
        (
            json!({"dataset": "orders", "format": "csv", "options": {"zip": true}}),
            "options.zip",
        ),
        (json!({"dataset": "orders"}), "format"),
        (json!({"dataset": "orders", "format": "csv", "extra": 1}), "extra"),
        (json!({"dataset": "orders", "format": 7}), "format"),
        (
            json!({"dataset": "orders", "format": "csv", "options": {"gzip": "yes"}}),
            "options.gzip",
        ),
        (
            json!({"dataset": "orders", "format": "csv", "filters": {"status": "lost"}}),
            "filters.status",
        ),
        (json!({"dataset": "orders", "format": "pdf"}), "format"),
        (json!(["orders"]), "body"),
    ] {
        let r = c.post(app.url("/api/exports")).json(&body).send().await.unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["code"], "invalid");
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    let r = c
        .post(app.url("/api/session"))
        .json(&json!({"email": "owner@acme.test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1["field"], "password");
}

async fn oversized_bodies_are_refused_with_413(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    let huge = json!({"dataset": "orders", "format": "csv", "filters": {"tag": "x".repeat(200_000)}});
    let r = c.post(app.url("/api/exports")).json(&huge).send().await.unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 413);
    assert_eq!(error["code"], "payload_too_large");
    let r = c
        .post(app.url("/rpc/create_export"))
        .json(&json!({ "request": huge }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "server functions too");
}

async fn internal_errors_show_a_sentence_and_a_request_id(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    // Break the database under Egress: the audit table goes.
    let q = egress::store::query::Query {
        sql: "DROP TABLE export_events".into(),
        params: vec![],
    };
    app.store.execute(&q).await.unwrap();
    let r = c
        .post(app.url("/api/exports"))
        .header("x-request-id", "trace-me-42")
        .json(&json!({"dataset": "orders", "format": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    let (status, error) = error_of(r).await;
    assert_eq!(status, 500);
    assert_eq!(error["code"], "internal");
    assert_eq!(error["request_id"], "trace-me-42");
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("Something went wrong on our side."), "{message}");
    assert!(message.contains("trace-me-42"));
    for leak in ["export_events", "relation", "table", "sqlx", "SQL"] {
        assert!(!message.contains(leak), "{message} names {leak}");
    }
    // Every API error names its request, not only a 500.
    let r = c
        .post(app.url("/api/exports"))
        .header("x-request-id", "bad-request-7")
        .json(&json!({"dataset": "invoices", "format": "csv"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(error["request_id"], "bad-request-7");
    // A request without an id gets one, in the answer.
    let r = c.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 32);
}

async fn links_work_from_another_of_the_users_workspaces(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.workspace_with_data("Acme", "owner@acme.test", 3, 1).await;
    let globex = app.workspace_with_data("Globex", "owner@globex.test", 3, 2).await;
    let owner = app.store.user_by_email("owner@acme.test").await.unwrap().unwrap();
    app.store.add_membership(globex, owner.id, "member").await.unwrap();
    let c = app.logged_in("owner@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "orders", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["workspace_id"], acme);
    wait_until_done(&app, &c, &id).await;
    let r = c
        .post(app.url("/rpc/switch_workspace"))
        .form(&[("workspace_id", globex.to_string())])
        .send()
        .await
        .unwrap();
    assert!(r.status().as_u16() < 400);
    // The session is in Globex now; the Acme export's link still works.
    let r = c.get(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(app.url(&format!("/exports/{id}/download"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Someone of Globex only does not get it.
    let grace = app.logged_in("owner@globex.test").await;
    let r = grace.get(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

async fn security_headers_are_on_every_response(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.secure_cookies = true).await;
    for path in ["/login", "/healthz", "/api/openapi.json", "/nowhere"] {
        let r = client().get(app.url(path)).send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        assert!(
            h["strict-transport-security"].to_str().unwrap().starts_with("max-age="),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    }
    // A page's scripts carry the nonce its policy names.
    let r = client().get(app.url("/login")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the page's policy")
        .to_owned();
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the scripts carry the nonce"
    );
    // Without HTTPS, no HSTS.
    let plain = spawn_app(backend).await;
    let r = client().get(plain.url("/login")).send().await.unwrap();
    assert!(!r.headers().contains_key("strict-transport-security"));
}

async fn slow_clients_are_cut_off(backend: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(backend, |a| a.limits.header_timeout_seconds = 1).await;
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // The headers never end: the server hangs up after the timeout.
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection was still open after 5 s");

    // A body that never arrives: the request is answered 408 after its time.
    let app = spawn_app_with(backend, |a| a.limits.request_timeout_seconds = 1).await;
    let mut socket = tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    socket
        .write_all(
            b"POST /api/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut answer = vec![0; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer[..read.expect("answered in time").unwrap()]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

async fn signup_is_closed_unless_opened(backend: Backend) {
    let form = [
        ("workspace", "New Co"),
        ("name", "Nia"),
        ("email", "nia@new.test"),
        ("password", PASSWORD),
    ];
    let closed = spawn_app(backend).await;
    let r = client()
        .post(closed.url("/rpc/signup"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().starts_with("Sign-up is closed"),
        "{body}"
    );
    assert_eq!(closed.store.count_workspaces().await.unwrap(), 0);
    let page = client()
        .get(closed.url("/signup"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Sign-up is closed"));

    let open = spawn_app_with(backend, |a| a.signup = Some(Signup::Open)).await;
    let r = client().post(open.url("/rpc/signup")).form(&form).send().await.unwrap();
    assert!(r.status().as_u16() < 400, "{}", r.status());
    assert_eq!(open.store.count_workspaces().await.unwrap(), 1);
}

// --- 9. The small ones that need no server of the test's own -----------------------------

fn egress() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_egress"));
    for (key, _) in std::env::vars() {
        if key.starts_with("EGRESS_") {
            command.env_remove(key);
        }
    }
    command
}

#[tokio::test]
async fn the_demo_is_made_only_on_the_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/own.db", dir.path().display());
    let out = egress()
        .args(["--database-url", &url, "--data-dir"])
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut child = out;
    let mut said = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    while !said.contains("listening") {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() == 0 {
            break;
        }
        said.push_str(&line);
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(said.contains("Egress is listening"), "{said}");
    assert!(!said.contains("demo login"), "{said}");
    assert!(!said.contains("Sign-up is open"), "{said}");
    let store = egress::store::connect(&url).await.unwrap();
    assert_eq!(
        store.count_workspaces().await.unwrap(),
        0,
        "no demo data off the embedded defaults"
    );
}

#[tokio::test]
async fn a_bare_egress_serves_with_the_serve_settings() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let mut child = egress()
        .env("EGRESS_LISTEN", format!("127.0.0.1:{port}"))
        .env("EGRESS_DATABASE_URL", format!("sqlite://{}/e.db", dir.path().display()))
        .env("EGRESS_DATA_DIR", dir.path())
        .env("EGRESS_DEMO", "off")
        .env("EGRESS_SIGNUP", "open")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut answered = false;
    while started.elapsed() < Duration::from_secs(30) {
        let asked = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/rpc/sign_in_options"))
            .send()
            .await;
        if let Ok(r) = asked {
            // EGRESS_SIGNUP, a serve setting, was read too.
            let ways: Value = r.json().await.unwrap();
            answered = ways["signup"] == true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered, "`egress` with EGRESS_LISTEN set did not listen there");
}

#[test]
fn database_passwords_are_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = egress()
        .args([
            "--database-url",
            "postgres://egress:s3cr3t-pw@127.0.0.1:1/nowhere",
            "--data-dir",
        ])
        .arg(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("s3cr3t-pw"), "{printed}");
    let cli = <egress::server::config::Cli as clap::Parser>::parse_from([
        "egress",
        "--database-url",
        "postgres://egress:s3cr3t-pw@db/egress?sslpassword=k3y",
        "serve",
        "--smtp-url",
        "smtp://mail:m4il-pw@mail.example:587",
        "--s3-secret-key",
        "s3-s3cr3t",
    ]);
    let shown = format!("{cli:?}");
    for secret in ["s3cr3t-pw", "k3y", "m4il-pw", "s3-s3cr3t"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[tokio::test]
async fn user_add_refuses_a_workspace_name_that_is_not_unique() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/e.db", dir.path().display());
    let store = egress::store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let first = store.create_workspace("Twin").await.unwrap();
    let second = store.create_workspace("Twin").await.unwrap();
    let add = |workspace: &[&str]| {
        egress()
            .args(["--database-url", &url, "--data-dir"])
            .arg(dir.path())
            .args([
                "user",
                "add",
                "--email",
                "eve@x.test",
                "--name",
                "Eve",
                "--password",
                PASSWORD,
            ])
            .args(workspace)
            .output()
            .unwrap()
    };
    let out = add(&["--workspace", "Twin"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("2 workspaces are named `Twin`"), "{said}");
    assert!(
        said.contains(&format!("{first}, {second}")) && said.contains("--workspace-id"),
        "{said}"
    );
    let out = add(&["--workspace-id", &second.to_string(), "--role", "admin"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let user = store.user_by_email("eve@x.test").await.unwrap().unwrap();
    let memberships = store.memberships(user.id).await.unwrap();
    assert_eq!(
        memberships.iter().map(|m| (m.workspace_id, m.role)).collect::<Vec<_>>(),
        [(second, Role::Admin)]
    );
}

/// On the local disk there is no URL that grants a file by itself: the download route,
/// which checks who asks, answers with the bytes (resumable with Range).
async fn files_on_the_local_disk_go_only_to_who_may_have_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 5, 1).await;
    app.add_user(ws, "mia@acme.test", Role::Member).await;
    let owner = app.logged_in("owner@acme.test").await;
    let job = start_export(&app, &owner, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    wait_until_done(&app, &owner, id).await;
    let url = app.url(&format!("/exports/{id}/download"));

    let r = owner.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-store");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"contacts-")
    );
    let whole = r.bytes().await.unwrap();
    assert!(whole.starts_with(b"ID,First name"));
    let r = owner.get(&url).header("range", "bytes=0-1").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], b"ID");

    // Signed out: the login page. Another member: refused. Nobody reaches the file store.
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login?next="));
    let mia = app.logged_in("mia@acme.test").await;
    assert_eq!(mia.get(&url).send().await.unwrap().status(), 403);
    let key = format!("/files/exports/{ws}/{id}/1.csv");
    assert_eq!(owner.get(app.url(&key)).send().await.unwrap().status(), 404);
}
