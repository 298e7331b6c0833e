//! Tenant boundaries (issue 23): the host's hand-off signs in the host's person and no
//! one else, a session or token reaches only the workspaces it may, people can be taken
//! out at once, and one tenant's ids mean nothing to another tenant. Every story runs
//! against SQLite and Postgres, and each was written to fail on the code before the fix.

use crate::common;
use crate::identity::{bearer, claims, make_token, open_link, sign, viewer, with_jwt};

use common::{Backend, TestApp, client, error_of, read_to_end, says, spawn_app_with, start_export, wait_until_done};
use egress::accounts::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

both_backends!(
    a_hand_off_never_takes_over_an_account_by_its_email,
    people_from_the_host_are_their_issuer_and_subject,
    a_hand_off_session_reaches_only_the_workspaces_it_named,
    a_link_opened_while_someone_else_is_signed_in_asks_first,
    a_token_acts_only_in_its_own_workspace,
    removed_people_lose_access_at_once,
    a_demoted_admins_stream_stops_carrying_others_exports,
    an_account_without_a_password_answers_as_slowly_as_any,
    one_tenants_ids_are_not_found_for_another,
    tenant_keys_stored_before_take_their_one_spelling,
);

/// The issue's own story: the demo's password account ada@acme.example (owner of Acme,
/// member of Globex), and a host token for another person of another tenant that names
/// her email in another case.
async fn ada_with_two_workspaces(app: &TestApp) -> (i64, i64) {
    let acme = app.workspace_with_data("Acme Corp", "ada@acme.example", 2, 1).await;
    let globex = app.workspace_with_data("Globex", "owner@globex.example", 2, 2).await;
    let ada = app.store.user_by_email("ada@acme.example").await.unwrap().unwrap();
    app.store.add_membership(globex, ada.id, "member").await.unwrap();
    (acme, globex)
}

fn evil_claims() -> Value {
    let mut evil = claims("ADA@acme.example", "evilco", "owner");
    evil["sub"] = json!("tenantB-user-99");
    evil
}

fn workspace_names(me: &Value) -> Vec<String> {
    me["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workspace_name"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_hand_off_never_takes_over_an_account_by_its_email(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    ada_with_two_workspaces(&app).await;
    let c = client();
    let r = open_link(&app, &c, &sign(&evil_claims()), "/").await;
    assert_eq!(r.status(), 409);
    let page = r.text().await.unwrap();
    assert!(page.contains("not linked to your sign-in"), "{page}");
    assert!(viewer(&app, &c).await.is_none(), "nobody is signed in");

    // The operator may opt in to linking by email: then the hand-off gets the account,
    // but its session reaches only the tenant the hand-off named, never Acme or Globex.
    let linking = spawn_app_with(backend, |a| {
        with_jwt(a);
        a.jwt_link_by_email = true;
    })
    .await;
    ada_with_two_workspaces(&linking).await;
    let c = client();
    assert_eq!(open_link(&linking, &c, &sign(&evil_claims()), "/").await.status(), 303);
    let me = viewer(&linking, &c).await.unwrap();
    assert_eq!(me["email"], "ada@acme.example");
    assert_eq!(workspace_names(&me), ["Tenant evilco"]);

    // A second `sub` with the same email does not take the link over.
    let mut other = evil_claims();
    other["sub"] = json!("tenantC-user-7");
    let c2 = client();
    assert_eq!(open_link(&linking, &c2, &sign(&other), "/").await.status(), 409);
    let again = client();
    assert_eq!(
        open_link(&linking, &again, &sign(&evil_claims()), "/").await.status(),
        303
    );
    assert_eq!(viewer(&linking, &again).await.unwrap()["user_id"], me["user_id"]);
}

async fn people_from_the_host_are_their_issuer_and_subject(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    let from = |issuer: &str, email: &str| {
        let mut c = claims(email, "42", "member");
        c["sub"] = json!("same-sub");
        c["iss"] = json!(issuer);
        sign(&c)
    };
    let (a, b) = (client(), client());
    assert_eq!(
        open_link(&app, &a, &from("https://one.example", "p1@one.example"), "/")
            .await
            .status(),
        303
    );
    assert_eq!(
        open_link(&app, &b, &from("https://two.example", "p2@two.example"), "/")
            .await
            .status(),
        303
    );
    let (one, two) = (viewer(&app, &a).await.unwrap(), viewer(&app, &b).await.unwrap());
    assert_ne!(one["user_id"], two["user_id"], "one sub of two issuers is two people");
    // The same (issuer, sub) with a new email is the same person, whose email follows.
    let c = client();
    assert_eq!(
        open_link(&app, &c, &from("https://one.example", "p1-new@one.example"), "/")
            .await
            .status(),
        303
    );
    let moved = viewer(&app, &c).await.unwrap();
    assert_eq!(moved["user_id"], one["user_id"]);
    assert_eq!(moved["email"], "p1-new@one.example");
}

async fn a_hand_off_session_reaches_only_the_workspaces_it_named(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    let c = client();
    assert_eq!(
        open_link(&app, &c, &sign(&claims("kim@host.example", "42", "admin")), "/")
            .await
            .status(),
        303
    );
    let me = viewer(&app, &c).await.unwrap();
    let kim = me["user_id"].as_i64().unwrap();
    // Kim is also a member of another workspace (by a password sign-up, or an old link).
    let other = app
        .workspace_with_data("Elsewhere", "owner@elsewhere.example", 2, 3)
        .await;
    app.store.add_membership(other, kim, "admin").await.unwrap();
    let owner = app.logged_in("owner@elsewhere.example").await;
    let job = start_export(&app, &owner, json!({"dataset": "orders", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    wait_until_done(&app, &owner, &id).await;

    let me = viewer(&app, &c).await.unwrap();
    assert_eq!(workspace_names(&me), ["Tenant 42"], "the hand-off named one tenant");
    for path in [format!("/api/exports/{id}"), format!("/exports/{id}/download")] {
        assert_eq!(c.get(app.url(&path)).send().await.unwrap().status(), 404, "{path}");
    }
    let r = c
        .post(app.url("/rpc/switch_workspace"))
        .form(&[("workspace_id", other.to_string())])
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_client_error(),
        "switching out of the hand-off's tenants is refused"
    );
    assert_eq!(
        viewer(&app, &c).await.unwrap()["workspace"]["workspace_name"],
        "Tenant 42"
    );

    // A hand-off for another tenant adds that tenant to the same session.
    assert_eq!(
        open_link(&app, &c, &sign(&claims("kim@host.example", "43", "member")), "/")
            .await
            .status(),
        303
    );
    let mut names = workspace_names(&viewer(&app, &c).await.unwrap());
    names.sort();
    assert_eq!(names, ["Tenant 42", "Tenant 43"]);

    // A password sign-in reaches all the person's workspaces (Kim has none: no password).
    let elsewhere = app.logged_in("owner@elsewhere.example").await;
    assert_eq!(
        elsewhere
            .get(app.url(&format!("/api/exports/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn a_link_opened_while_someone_else_is_signed_in_asks_first(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    app.workspace_with_data("Acme", "bob@acme.example", 0, 1).await;
    let c = app.logged_in("bob@acme.example").await;
    let token = sign(&claims("mallory@host.example", "666", "owner"));
    let r = open_link(&app, &c, &token, "/exports").await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Switch account?") && page.contains("bob@acme.example"),
        "{page}"
    );
    assert!(page.contains("Continue as mallory@host.example"), "{page}");
    assert!(page.contains("method=\"post\" action=\"/auth/jwt\""), "{page}");
    assert_eq!(
        viewer(&app, &c).await.unwrap()["email"],
        "bob@acme.example",
        "still Bob"
    );

    // Another site cannot post the confirmation for Bob's browser.
    let r = c
        .post(app.url("/auth/jwt"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[("token", token.as_str()), ("return_to", "/exports")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(viewer(&app, &c).await.unwrap()["email"], "bob@acme.example");

    // Bob's own choice on the page switches (the link was not used up by asking).
    let r = c
        .post(app.url("/auth/jwt"))
        .header("origin", app.base.clone())
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", token.as_str()), ("return_to", "/exports")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/exports");
    assert_eq!(viewer(&app, &c).await.unwrap()["email"], "mallory@host.example");

    // The same person's next link does not ask.
    let r = open_link(&app, &c, &sign(&claims("mallory@host.example", "666", "owner")), "/").await;
    assert_eq!(r.status(), 303);
}

async fn a_token_acts_only_in_its_own_workspace(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let (_, globex) = ada_with_two_workspaces(&app).await;
    // Ada is an admin in Globex too; her Globex export is hers to see, in a session.
    app.store
        .add_membership(globex, ada_id(&app).await, "admin")
        .await
        .unwrap();
    let ada = app.logged_in("ada@acme.example").await;
    assert!(app.switch_workspace(&ada, globex).await.status().is_success());
    let job = start_export(&app, &ada, json!({"dataset": "orders", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    wait_until_done(&app, &ada, &id).await;
    let acme = app.store.memberships(ada_id(&app).await).await.unwrap()[0].workspace_id;
    assert!(app.switch_workspace(&ada, acme).await.status().is_success());
    assert_eq!(
        ada.get(app.url(&format!("/api/exports/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A token she made in Acme reaches nothing of Globex's.
    let (token, _) = make_token(&app, &ada, &["exports:read", "exports:write"], None).await;
    let program = client();
    let call = |method: reqwest::Method, path: String| {
        program
            .request(method, app.url(&path))
            .header("authorization", bearer(&token))
    };
    for (method, path) in [
        (reqwest::Method::GET, format!("/api/exports/{id}")),
        (reqwest::Method::GET, format!("/api/exports/{id}/events")),
        (reqwest::Method::GET, format!("/exports/{id}/download")),
        (reqwest::Method::DELETE, format!("/api/exports/{id}")),
    ] {
        let r = call(method.clone(), path.clone()).send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    let listed: Value = call(reqwest::Method::GET, "/api/exports".into())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 0, "Acme has no exports: {listed}");
    let still = ada.get(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    let still: Value = still.json().await.unwrap();
    assert_eq!(still["status"], "completed", "the DELETE changed nothing");
}

async fn ada_id(app: &TestApp) -> i64 {
    app.store.user_by_email("ada@acme.example").await.unwrap().unwrap().id
}

async fn removed_people_lose_access_at_once(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 2, 1).await;
    let mia_id = app.add_user(ws, "mia@acme.test", Role::Admin).await;
    let owner = app.logged_in("owner@acme.test").await;
    let mia = app.logged_in("mia@acme.test").await;
    let (token, _) = make_token(&app, &mia, &["exports:read"], None).await;
    let stream = mia.get(app.url("/api/exports/events")).send().await.unwrap();
    assert_eq!(stream.status(), 200);

    // Members may not remove anyone; admins may; the last owner stays.
    let members: Value = app.get_json(&owner, "/api/members").await;
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");
    let owner_id = app.store.user_by_email("owner@acme.test").await.unwrap().unwrap().id;
    let r = mia
        .delete(app.url(&format!("/api/members/{owner_id}")))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    says(&error, "Only an owner can remove an owner");
    let r = owner
        .delete(app.url(&format!("/api/members/{owner_id}")))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 409);
    says(&error, "last owner");

    let removed_at = Instant::now();
    let r = owner
        .delete(app.url(&format!("/api/members/{mia_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let said = read_to_end(stream, Duration::from_secs(3)).await;
    assert!(said.contains("event: end"), "{said}");
    assert!(
        removed_at.elapsed() < Duration::from_secs(3),
        "the stream ended at once"
    );
    assert_eq!(mia.get(app.url("/api/exports")).send().await.unwrap().status(), 401);
    let r = client()
        .get(app.url("/api/exports"))
        .header("authorization", bearer(&token))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 401);
    says(&error, "was revoked");
    let r = owner
        .delete(app.url(&format!("/api/members/{mia_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "gone already");

    // The host says a person left: a hand-off with role `none` ends their access there.
    let kim = client();
    assert_eq!(
        open_link(&app, &kim, &sign(&claims("kim@host.example", "42", "member")), "/")
            .await
            .status(),
        303
    );
    assert!(viewer(&app, &kim).await.is_some());
    let left = sign(&claims("kim@host.example", "42", "none"));
    let r = client()
        .post(app.url("/auth/jwt"))
        .form(&[("token", left.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("no longer have access to Tenant 42"));
    assert!(
        viewer(&app, &kim).await.is_none(),
        "Kim's session ended with her last workspace"
    );

    // The operator's command does the same.
    let zoe = app.add_user(ws, "zoe@acme.test", Role::Member).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress"))
        .args([
            "--database-url",
            &app.database_url,
            "member",
            "remove",
            "--workspace-id",
        ])
        .arg(ws.to_string())
        .args(["--email", "ZOE@acme.test"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no longer belongs"));
    assert!(app.store.memberships(zoe).await.unwrap().is_empty());
}

async fn a_demoted_admins_stream_stops_carrying_others_exports(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 2, 1).await;
    let mia_id = app.add_user(ws, "mia@acme.test", Role::Admin).await;
    let owner = app.logged_in("owner@acme.test").await;
    let mia = app.logged_in("mia@acme.test").await;
    let stream = mia.get(app.url("/api/exports/events")).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    app.store.add_membership(ws, mia_id, "member").await.unwrap();
    // The next access check (every 5 seconds) sees the demotion, and says so on the stream.
    use futures::StreamExt;
    let mut body = stream.bytes_stream();
    let mut said = String::new();
    let demoted = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(chunk)) = body.next().await {
            said.push_str(&String::from_utf8_lossy(&chunk));
            if said.contains("event: role\ndata: member") {
                return;
            }
        }
    })
    .await;
    assert!(demoted.is_ok(), "the stream never said Mia is a member now: {said}");
    let theirs = start_export(&app, &owner, json!({"dataset": "orders", "format": "csv"})).await;
    let theirs = theirs["id"].as_str().unwrap().to_owned();
    wait_until_done(&app, &owner, &theirs).await;
    let mine = start_export(&app, &mia, json!({"dataset": "orders", "format": "csv"})).await;
    let mine = mine["id"].as_str().unwrap().to_owned();
    wait_until_done(&app, &mia, &mine).await;
    // Read until Mia's own export completes on the stream.
    let done = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(Ok(chunk)) = body.next().await {
            said.push_str(&String::from_utf8_lossy(&chunk));
            if said.contains(&mine) && said.contains("\"completed\"") {
                return;
            }
        }
    })
    .await;
    assert!(done.is_ok(), "Mia's own export never showed: {said}");
    assert!(
        !said.contains(&theirs),
        "a member's stream carried someone else's export: {said}"
    );
}

async fn an_account_without_a_password_answers_as_slowly_as_any(backend: Backend) {
    let app = spawn_app_with(backend, |a| {
        with_jwt(a);
        a.limits.login_failures_per_address = 1000;
    })
    .await;
    assert_eq!(
        open_link(&app, &client(), &sign(&claims("kim@host.example", "42", "member")), "/")
            .await
            .status(),
        303
    );
    let c = client();
    let passwordless = app.median_refusal(&c, "kim@host.example").await;
    let unknown = app.median_refusal(&c, "nobody@host.example").await;
    let ratio = passwordless.as_secs_f64() / unknown.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "an account without a password took {passwordless:?}, an unknown email {unknown:?}: both must hash"
    );
}

/// Every route that takes an id, called with another workspace's ids: 404 and nothing
/// changed. The callers are that workspace's neighbours: its owner's session, and — the
/// ones that fail on the code before issue 23 — a token made next door by a person who is
/// an admin of both workspaces, and a hand-off session (naming only its own tenant) of a
/// person who is an admin of both too.
async fn one_tenants_ids_are_not_found_for_another(backend: Backend) {
    let app = spawn_app_with(backend, |a| {
        with_jwt(a);
        a.pipeline.allow_private_targets = true;
    })
    .await;
    let mut tenants = Vec::new();
    for (name, email) in [("Acme", "owner@acme.test"), ("Globex", "owner@globex.test")] {
        let ws = app.workspace_with_data(name, email, 2, 1).await;
        let c = app.logged_in(email).await;
        tenants.push((ws, c, objects(&app, email).await));
    }
    let (acme, globex) = (tenants[0].0, tenants[1].0);
    // Cora consults for both, with a password; Kim comes from the host for tenant 42 and
    // was made an admin of both by hand.
    let cora = app.add_user(acme, "cora@consult.test", Role::Admin).await;
    app.store.add_membership(globex, cora, "admin").await.unwrap();
    let kim = client();
    assert_eq!(
        open_link(&app, &kim, &sign(&claims("kim@host.example", "42", "admin")), "/")
            .await
            .status(),
        303
    );
    let kim_id = viewer(&app, &kim).await.unwrap()["user_id"].as_i64().unwrap();
    for ws in [acme, globex] {
        app.store.add_membership(ws, kim_id, "admin").await.unwrap();
    }
    let everything = [
        "exports:read",
        "exports:write",
        "webhooks:manage",
        "destinations:manage",
        "workspace:manage",
    ];
    let cora_session = app.logged_in("cora@consult.test").await;
    for (me, theirs) in [(0, 1), (1, 0)] {
        assert!(
            app.switch_workspace(&cora_session, tenants[me].0)
                .await
                .status()
                .is_success()
        );
        let (token, _) = make_token(&app, &cora_session, &everything, None).await;
        let (_, owner, ids) = &tenants[theirs];
        let neighbour = &tenants[me].1;
        let before = snapshot(&app, owner, ids).await;
        for (method, path) in id_routes(ids) {
            let callers: [(&str, reqwest::RequestBuilder); 3] = [
                (
                    "the neighbour's owner",
                    neighbour.request(method.clone(), app.url(&path)),
                ),
                (
                    "a token made next door",
                    client()
                        .request(method.clone(), app.url(&path))
                        .header("authorization", bearer(&token)),
                ),
                ("a hand-off for tenant 42", kim.request(method.clone(), app.url(&path))),
            ];
            for (who, mut r) in callers {
                if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
                    r = r.json(&put_body(&path));
                }
                let status = r.send().await.unwrap().status();
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path} as {who}");
            }
        }
        assert_eq!(
            snapshot(&app, owner, ids).await,
            before,
            "nothing of the other tenant changed"
        );
    }
}

/// The ids of one workspace's objects of every kind that a route takes.
struct Ids {
    export: String,
    schedule: i64,
    webhook: i64,
    destination: i64,
    member: i64,
}

async fn objects(app: &TestApp, email: &str) -> Ids {
    let c = app.logged_in(email).await;
    let job = start_export(app, &c, json!({"dataset": "orders", "format": "csv"})).await;
    let export = job["id"].as_str().unwrap().to_owned();
    wait_until_done(app, &c, &export).await;
    let made = |path: &'static str, body: Value| {
        let c = c.clone();
        async move {
            let r = c.post(app.url(path)).json(&body).send().await.unwrap();
            assert_eq!(r.status(), 201, "{path}: {}", r.text().await.unwrap());
            let made: Value = r.json().await.unwrap();
            // A webhook answers its endpoint beside the secret.
            made["id"].as_i64().or(made["endpoint"]["id"].as_i64()).unwrap()
        }
    };
    let schedule = made(
        "/api/schedules",
        json!({"name": "Nightly", "export": {"dataset": "orders", "format": "csv"},
               "cadence": {"every": "daily", "at": "09:00"}, "time_zone": "UTC"}),
    )
    .await;
    let webhook = made(
        "/api/webhooks",
        json!({"url": "http://127.0.0.1:9/hook", "events": ["export.completed"]}),
    )
    .await;
    let destination = made(
        "/api/destinations",
        json!({"name": "Warehouse", "endpoint": "http://127.0.0.1:9", "bucket": "warehouse",
               "region": "us-east-1", "prefix": "egress/", "access_key_id": "key",
               "secret_access_key": "a secret key of some length"}),
    )
    .await;
    let domain = email.split('@').nth(1).unwrap();
    let ws = app
        .store
        .memberships(app.store.user_by_email(email).await.unwrap().unwrap().id)
        .await
        .unwrap()[0]
        .workspace_id;
    let member = app.add_user(ws, &format!("member@{domain}"), Role::Member).await;
    Ids {
        export,
        schedule,
        webhook,
        destination,
        member,
    }
}

fn id_routes(ids: &Ids) -> Vec<(reqwest::Method, String)> {
    use reqwest::Method;
    let Ids {
        export,
        schedule,
        webhook,
        destination,
        member,
    } = ids;
    vec![
        (Method::GET, format!("/api/exports/{export}")),
        (Method::GET, format!("/api/exports/{export}/events")),
        (Method::GET, format!("/exports/{export}/download")),
        (Method::DELETE, format!("/api/exports/{export}")),
        (Method::GET, format!("/api/schedules/{schedule}")),
        (Method::PUT, format!("/api/schedules/{schedule}")),
        (Method::POST, format!("/api/schedules/{schedule}/pause")),
        (Method::POST, format!("/api/schedules/{schedule}/resume")),
        (Method::POST, format!("/api/schedules/{schedule}/run")),
        (Method::DELETE, format!("/api/schedules/{schedule}")),
        (Method::GET, format!("/api/webhooks/{webhook}")),
        (Method::POST, format!("/api/webhooks/{webhook}/rotate")),
        (Method::POST, format!("/api/webhooks/{webhook}/test")),
        (Method::DELETE, format!("/api/webhooks/{webhook}")),
        (Method::GET, format!("/api/destinations/{destination}")),
        (Method::POST, format!("/api/destinations/{destination}/test")),
        (Method::DELETE, format!("/api/destinations/{destination}")),
        (Method::DELETE, format!("/api/members/{member}")),
    ]
}

/// A body a route would accept, so only the id can be what is refused.
fn put_body(path: &str) -> Value {
    if path.starts_with("/api/schedules/") && !path.contains("/p") && !path.ends_with("/run") {
        json!({"name": "Hijacked", "export": {"dataset": "orders", "format": "csv"},
               "cadence": {"every": "daily", "at": "10:00"}, "time_zone": "UTC"})
    } else {
        json!({})
    }
}

/// What the owner sees of their objects (to tell that nothing changed).
async fn snapshot(app: &TestApp, owner: &reqwest::Client, ids: &Ids) -> Vec<Value> {
    let mut seen = Vec::new();
    for path in [
        format!("/api/exports/{}", ids.export),
        format!("/api/schedules/{}", ids.schedule),
        format!("/api/webhooks/{}", ids.webhook),
        format!("/api/destinations/{}", ids.destination),
        "/api/members".to_owned(),
    ] {
        let mut value = app.get_json(owner, &path).await;
        // Times of reading change nothing; drop what moves on its own.
        if let Some(o) = value.as_object_mut() {
            o.remove("next_run_at");
            o.remove("updated_at");
        }
        seen.push(value);
    }
    seen
}

async fn tenant_keys_stored_before_take_their_one_spelling(backend: Backend) {
    let app = spawn_app_with(backend, with_jwt).await;
    let old = app.store.create_tenant_workspace("Old spelling", "07").await.unwrap();
    // The next start (a restart, or another node) respells it.
    let loaded = egress::server::runtime::Data::load(None, &app.database_url, true)
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let args = egress::server::config::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        demo: egress::server::config::Demo::Off,
        pipeline: common::quick_pipeline(),
        ..Default::default()
    };
    let second = egress::server::start(app.store.clone(), loaded, data.path(), args)
        .await
        .unwrap();
    second.task.abort();
    assert!(
        app.store.tenant_keys().await.unwrap().contains(&(old, "7".to_owned())),
        "{:?}",
        app.store.tenant_keys().await
    );
    // A hand-off for tenant 7 finds that workspace instead of making a second one.
    let c = client();
    assert_eq!(
        open_link(&app, &c, &sign(&claims("ana@host.example", "7", "member")), "/")
            .await
            .status(),
        303
    );
    assert_eq!(viewer(&app, &c).await.unwrap()["workspace"]["workspace_id"], old);
}
