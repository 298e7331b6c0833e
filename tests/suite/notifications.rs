//! The job lifecycle and its notifications (issue 11): the running job is the only way to
//! change a job's state and a lost fence changes nothing; an acknowledged cancel is never
//! overtaken; every ending writes its event and outbox rows together; webhooks are signed
//! (checked by a real receiver on loopback), retried with backoff, given up, rotated,
//! tested, and never sent to private addresses unless allowed. Both databases.

use crate::common;

use common::receiver::{Answer, Receiver};
use common::{Backend, TestApp, error_of, says, spawn_app_with, start_export, wait_until_done};
use egress::accounts::Role;
use egress::server::config::ServeArgs;
use egress::store::Outcome;
use egress::worker::running::{Ended, Lost, RunningJob};
use serde_json::{Value, json};
use std::time::Duration;

both_backends!(
    a_completed_export_calls_its_webhooks_signed,
    failing_receivers_are_retried_then_given_up,
    private_addresses_are_refused_unless_allowed,
    a_rotated_secret_signs_alongside_the_new_one,
    test_events_and_deleted_endpoints,
    only_admins_manage_webhooks,
    failed_and_expired_exports_notify,
    a_lost_fence_changes_nothing,
    an_acknowledged_cancel_is_never_overtaken,
);

/// Webhooks may call loopback (the receiver), and retry quickly.
fn hooks(a: &mut ServeArgs) {
    a.pipeline.allow_private_targets = true;
    a.pipeline.webhook_backoff_seconds = vec![0.2, 0.2, 0.2];
}

async fn add_endpoint(app: &TestApp, c: &reqwest::Client, url: &str, events: &[&str]) -> (i64, String) {
    let r = c
        .post(app.url("/api/webhooks"))
        .json(&json!({"url": url, "events": events, "description": "CRM sync"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let made: Value = r.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (made["endpoint"]["id"].as_i64().unwrap(), secret)
}

async fn deliveries(app: &TestApp, c: &reqwest::Client, id: i64) -> Vec<Value> {
    let endpoint = app.get_json(c, &format!("/api/webhooks/{id}")).await;
    endpoint["deliveries"].as_array().unwrap().clone()
}

/// Waits until the endpoint's history has `n` attempts (newest first).
async fn wait_for_deliveries(app: &TestApp, c: &reqwest::Client, id: i64, n: usize) -> Vec<Value> {
    for _ in 0..300 {
        let seen = deliveries(app, c, id).await;
        if seen.len() >= n {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "endpoint {id} never had {n} deliveries: {:?}",
        deliveries(app, c, id).await
    );
}

async fn a_completed_export_calls_its_webhooks_signed(backend: Backend) {
    let app = spawn_app_with(backend, hooks).await;
    app.workspace_with_data("Acme", "owner@acme.test", 5, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let receiver = Receiver::start(Answer::Ok).await;
    let (endpoint, secret) = add_endpoint(&app, &owner, &receiver.url, &["export.completed", "export.failed"]).await;

    let job = start_export(&app, &owner, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    wait_until_done(&app, &owner, id).await;
    let calls = receiver.wait_for(1).await;
    let call = &calls[0];
    assert!(call.signed_by(&secret), "the signature checks out: {call:?}");
    assert!(call.id.starts_with("msg_"), "{call:?}");
    assert!((chrono::Utc::now().timestamp() - call.timestamp).abs() < 60);
    let body = call.json();
    assert_eq!(body["type"], "export.completed");
    assert_eq!(body["data"]["id"], id);
    assert_eq!(body["data"]["status"], "completed");
    assert_eq!(body["data"]["rows"], 5);
    assert_eq!(body["data"]["url"], app.url(&format!("/exports?export={id}")));
    assert!(
        !call.body.contains("/files/") && !call.body.contains("Signature"),
        "never a file URL: {}",
        call.body
    );

    // The history shows it, and nothing else is sent for this export.
    let history = wait_for_deliveries(&app, &owner, endpoint, 1).await;
    assert_eq!(history[0]["ok"], true);
    assert_eq!(history[0]["status_code"], 200);
    assert_eq!(history[0]["event"], "export.completed");
    assert_eq!(history[0]["message"], call.id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.calls().len(), 1);

    // The transition, its event and its outbox rows were written together.
    let kinds = common::event_kinds(&app, id).await;
    let completed = kinds.iter().position(|k| k == "completed").unwrap();
    assert_eq!(
        &kinds[..completed + 1],
        ["created", "started", "completed"],
        "{kinds:?}"
    );
}

async fn failing_receivers_are_retried_then_given_up(backend: Backend) {
    let app = spawn_app_with(backend, hooks).await;
    app.workspace_with_data("Acme", "owner@acme.test", 2, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let flaky = Receiver::start(Answer::FailFirst(2)).await;
    let (flaky_id, secret) = add_endpoint(&app, &owner, &flaky.url, &["export.completed"]).await;
    let down = format!("http://127.0.0.1:{}/hook", common::free_port());
    let (down_id, _) = add_endpoint(&app, &owner, &down, &["export.completed"]).await;

    let job = start_export(&app, &owner, json!({"dataset": "orders", "format": "json"})).await;
    wait_until_done(&app, &owner, job["id"].as_str().unwrap()).await;

    // Twice refused, then taken: three tries of one message, each signed.
    let calls = flaky.wait_for(3).await;
    assert_eq!(calls.iter().map(|c| c.status).collect::<Vec<_>>(), [500, 500, 200]);
    assert!(calls.iter().all(|c| c.id == calls[0].id && c.signed_by(&secret)));
    let history = wait_for_deliveries(&app, &owner, flaky_id, 3).await;
    assert_eq!(
        history
            .iter()
            .map(|d| (d["attempt"].as_i64().unwrap(), d["ok"].as_bool().unwrap()))
            .collect::<Vec<_>>(),
        [(3, true), (2, false), (1, false)]
    );
    assert_eq!(history[1]["status_code"], 500);

    // Down for good: the first try and the three retries, then it is given up.
    let history = wait_for_deliveries(&app, &owner, down_id, 4).await;
    assert!(history.iter().all(|d| d["ok"] == false && d["status_code"].is_null()));
    assert!(
        history[0]["error"].as_str().unwrap().contains("could not connect"),
        "{history:?}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        deliveries(&app, &owner, down_id).await.len(),
        4,
        "no try after the last"
    );
}

async fn private_addresses_are_refused_unless_allowed(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "https://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data",
    ] {
        let r = owner
            .post(app.url("/api/webhooks"))
            .json(&json!({"url": url, "events": ["export.completed"]}))
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 400, "{url}");
        assert_eq!(error["field"], "url");
        says(&error, "not a public address");
    }
    for (body, field, text) in [
        (
            json!({"url": "ftp://example.com/x", "events": ["export.completed"]}),
            "url",
            "https://",
        ),
        (
            json!({"url": "https://u:p@example.com/x", "events": ["export.completed"]}),
            "url",
            "user name",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "events": []}),
            "events",
            "at least one",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "events": ["export.completed", "export.deleted"]}),
            "events.1",
            "not an event",
        ),
        (
            json!({"url": "https://93.184.216.34/x", "events": ["export.completed"], "secret": "mine"}),
            "secret",
            "unknown field",
        ),
    ] {
        let r = owner.post(app.url("/api/webhooks")).json(&body).send().await.unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(
            (status.as_u16(), error["field"].as_str().unwrap()),
            (400, field),
            "{body}"
        );
        says(&error, text);
    }
    assert_eq!(app.get_json(&owner, "/api/webhooks").await, json!([]));
}

async fn a_rotated_secret_signs_alongside_the_new_one(backend: Backend) {
    let app = spawn_app_with(backend, hooks).await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let receiver = Receiver::start(Answer::Ok).await;
    let (id, old) = add_endpoint(&app, &owner, &receiver.url, &["export.completed"]).await;
    let r = owner
        .post(app.url(&format!("/api/webhooks/{id}/rotate")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rotated: Value = r.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(rotated["endpoint"]["previous_secret_until"].is_string());

    let r = owner
        .post(app.url(&format!("/api/webhooks/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let call = &receiver.wait_for(1).await[0];
    assert_eq!(call.signature.split(' ').count(), 2, "{call:?}");
    assert!(call.signed_by(&new) && call.signed_by(&old));
    assert!(!call.signed_by("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
}

async fn test_events_and_deleted_endpoints(backend: Backend) {
    let app = spawn_app_with(backend, hooks).await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let receiver = Receiver::start(Answer::Ok).await;
    let (id, secret) = add_endpoint(&app, &owner, &receiver.url, &["export.completed"]).await;
    owner
        .post(app.url(&format!("/api/webhooks/{id}/test")))
        .send()
        .await
        .unwrap();
    let call = &receiver.wait_for(1).await[0];
    assert!(call.signed_by(&secret));
    assert_eq!(call.json()["type"], "webhook.test");
    assert_eq!(call.json()["data"]["endpoint_id"], id);

    let r = owner
        .delete(app.url(&format!("/api/webhooks/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = owner.get(app.url(&format!("/api/webhooks/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let job = start_export(&app, &owner, json!({"dataset": "contacts", "format": "csv"})).await;
    wait_until_done(&app, &owner, job["id"].as_str().unwrap()).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.calls().len(), 1, "a deleted endpoint gets nothing more");
}

async fn only_admins_manage_webhooks(backend: Backend) {
    let app = spawn_app_with(backend, hooks).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    app.add_user(ws, "mia@acme.test", Role::Member).await;
    let mia = app.logged_in("mia@acme.test").await;
    let r = mia.get(app.url("/api/webhooks")).send().await.unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    says(&error, "Only the workspace's admins and owners manage webhooks.");

    // Another workspace's endpoint is not found, not touched.
    let other = app.workspace_with_data("Globex", "owner@globex.test", 1, 2).await;
    let _ = other;
    let globex = app.logged_in("owner@globex.test").await;
    let receiver = Receiver::start(Answer::Ok).await;
    let (id, _) = add_endpoint(&app, &globex, &receiver.url, &["export.completed"]).await;
    let owner = app.logged_in("owner@acme.test").await;
    for r in [
        owner
            .delete(app.url(&format!("/api/webhooks/{id}")))
            .send()
            .await
            .unwrap(),
        owner
            .post(app.url(&format!("/api/webhooks/{id}/test")))
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(r.status(), 404);
    }
    assert_eq!(
        app.get_json(&globex, "/api/webhooks").await.as_array().unwrap().len(),
        1
    );
}

async fn failed_and_expired_exports_notify(backend: Backend) {
    let app = spawn_app_with(backend, |a| {
        hooks(a);
        a.pipeline.max_attempts = 1;
    })
    .await;
    app.workspace_with_data("Acme", "owner@acme.test", 3, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let receiver = Receiver::start(Answer::Ok).await;
    add_endpoint(&app, &owner, &receiver.url, &["export.failed", "export.expired"]).await;

    // A job for a dataset the catalog no longer offers fails on its one attempt.
    let job = start_export(&app, &owner, json!({"dataset": "orders", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    let done = wait_until_done(&app, &owner, id).await;
    assert_eq!(done["status"], "completed");
    let broken = start_export(&app, &owner, json!({"dataset": "contacts", "format": "csv"})).await;
    let broken_id = broken["id"].as_str().unwrap();
    wait_until_done(&app, &owner, broken_id).await;
    app.sql(format!(
        "UPDATE export_jobs SET entity_type = 'gone', status = 'pending', attempts = 0, run_after = created_at WHERE id = '{broken_id}'"
    ))
    .await;
    app.sql(format!("DELETE FROM outbox WHERE job_id = '{broken_id}'"))
        .await;
    let failed = wait_until_done(&app, &owner, broken_id).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"], "This dataset is no longer offered.");

    // The completed one expires.
    app.sql(format!(
        "UPDATE export_jobs SET expires_at = created_at WHERE id = '{id}'"
    ))
    .await;
    let calls = receiver.wait_for(2).await;
    let mut seen: Vec<(String, String)> = calls
        .iter()
        .map(|c| {
            (
                c.json()["type"].as_str().unwrap().to_owned(),
                c.json()["data"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("export.expired".to_owned(), id.to_owned()),
            ("export.failed".to_owned(), broken_id.to_owned())
        ]
    );
    let failed_call = calls.iter().find(|c| c.json()["type"] == "export.failed").unwrap();
    assert_eq!(
        failed_call.json()["data"]["error"],
        "This dataset is no longer offered."
    );

    // The person who started it is told too: the email went out (to the mail folder).
    let started = std::time::Instant::now();
    let sql = format!(
        "SELECT COUNT(*) FROM outbox WHERE job_id = '{broken_id}' AND channel = 'email' \
         AND event = 'export.failed' AND delivered_at IS NOT NULL"
    );
    while app
        .store
        .fetch_i64(&egress::store::query::Query {
            sql: sql.clone(),
            params: vec![],
        })
        .await
        .unwrap()
        != Some(1)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the failure email was not sent"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mails: Vec<String> = std::fs::read_dir(app.data.path().join("mail"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    // (Its dataset is gone, so the email names it by its id.)
    assert!(
        mails.iter().any(|m| m.contains("Subject: Your gone export failed")),
        "{mails:?}"
    );
    assert!(common::event_kinds(&app, id).await.contains(&"expired".to_owned()));
}

/// A job claimed by this test, as a worker would hold it.
async fn claimed(app: &TestApp, lease: chrono::Duration) -> RunningJob {
    let record = app
        .store
        .claim_job("test-worker", chrono::Utc::now() + lease)
        .await
        .unwrap()
        .expect("a runnable job");
    RunningJob::new(app.store.clone(), record, app.base.as_str().into())
}

fn outcome() -> Outcome {
    Outcome {
        rows: 1,
        bytes: 10,
        shortened_cells: 0,
        snapshot_at: chrono::Utc::now(),
    }
}

async fn a_lost_fence_changes_nothing(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let job = start_export(&app, &owner, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = uuid::Uuid::parse_str(job["id"].as_str().unwrap()).unwrap();

    // The first holder's lease runs out; a second worker takes the job over.
    let first = claimed(&app, chrono::Duration::milliseconds(-1)).await;
    first.start("test-worker").await.unwrap();
    let second = claimed(&app, chrono::Duration::seconds(60)).await;
    assert_eq!(second.record().job.attempts, 2);

    // Every write of the first is refused, loudly, and changes nothing.
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    assert!(matches!(
        first.complete(&outcome(), expires, vec![]).await,
        Err(Lost::Fence)
    ));
    assert!(matches!(first.progress(1, Some(1)).await, Err(Lost::Fence)));
    assert!(matches!(first.fail("x", "x").await, Err(Lost::Fence)));
    assert!(matches!(first.cancel().await, Err(Lost::Fence)));
    assert!(matches!(first.heartbeat(expires).await, Err(Lost::Fence)));
    let now = egress::store::jobs::get(app.store.as_ref(), None, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((now.job.status.id(), now.job.attempts), ("processing", 2));
    let kinds = common::event_kinds(&app, &id.to_string()).await;
    assert_eq!(kinds, ["created", "started"], "nothing written by the stale attempt");

    // The owner's writes go through.
    assert_eq!(
        second.complete(&outcome(), expires, vec![]).await.unwrap(),
        Ended::Completed
    );
    let kinds = common::event_kinds(&app, &id.to_string()).await;
    assert_eq!(kinds.last().unwrap(), "completed");
}

async fn an_acknowledged_cancel_is_never_overtaken(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let owner = app.logged_in("owner@acme.test").await;
    let job = start_export(&app, &owner, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    let running = claimed(&app, chrono::Duration::seconds(60)).await;
    running.start("test-worker").await.unwrap();

    // DELETE answers that the export is being cancelled…
    let r = owner
        .delete(app.url(&format!("/api/exports/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // …so the worker's completion, arriving after, ends it cancelled.
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(
        running.complete(&outcome(), expires, vec![]).await.unwrap(),
        Ended::Cancelled
    );
    let now = app.get_json(&owner, &format!("/api/exports/{id}")).await;
    assert_eq!(now["status"], "cancelled");
    let kinds = common::event_kinds(&app, id).await;
    assert_eq!(kinds, ["created", "started", "cancel_requested", "cancelled"]);
    let emails: i64 = {
        let sql = format!("SELECT COUNT(*) FROM outbox WHERE job_id = '{id}'");
        app.store
            .fetch_i64(&egress::store::query::Query { sql, params: vec![] })
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(emails, 0, "a cancelled export sends nothing");
}
