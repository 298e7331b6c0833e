//! Delivery to the customer's bucket (issue 12): an admin adds an S3-compatible
//! destination (a second s3s-fs server with credentials of its own), tests the connection,
//! and exports and schedules deliver there with a manifest beside each file; wrong
//! credentials fail with a sentence that says which; credentials are sealed at rest; a
//! private address is refused unless the operator allows it. Both databases.

use crate::common;

use common::own_services::{BUCKET, OwnS3};
use common::{Backend, TestApp, download, error_of, event_kinds, says, spawn_app_with, start_export, wait_until_done};
use egress::accounts::Role;
use serde_json::{Value, json};
use sha2::Digest;
use std::time::{Duration, Instant};

both_backends!(
    exports_and_schedules_deliver_with_a_manifest,
    wrong_credentials_fail_with_a_clear_message,
    destinations_are_checked_and_kept_sealed,
);

async fn app(backend: Backend, allow_private: bool) -> TestApp {
    spawn_app_with(backend, move |a| a.pipeline.allow_private_targets = allow_private).await
}

fn destination(s3: &OwnS3, secret: &str) -> Value {
    json!({
        "name": "Acme warehouse",
        "endpoint": format!("http://127.0.0.1:{}", s3.port),
        "bucket": BUCKET,
        "region": "us-east-1",
        "prefix": "egress/{dataset}/{date}/",
        "access_key_id": "own-test-key",
        "secret_access_key": secret,
    })
}

pub(crate) async fn add(app: &TestApp, c: &reqwest::Client, body: &Value) -> Value {
    let r = c.post(app.url("/api/destinations")).json(body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

pub(crate) async fn test_connection(app: &TestApp, c: &reqwest::Client, id: i64) -> Value {
    let r = c
        .post(app.url(&format!("/api/destinations/{id}/test")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// Waits until the job's audit trail has `kind`.
async fn wait_for_event(app: &TestApp, id: &str, kind: &str) -> Vec<String> {
    let started = Instant::now();
    loop {
        let kinds = event_kinds(app, id).await;
        if kinds.iter().any(|k| k == kind) {
            return kinds;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {kind} event: {kinds:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The files under the destination bucket's folder, as keys.
fn keys(s3: &OwnS3) -> Vec<String> {
    fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else {
                let key = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                if !key.split('/').any(|part| part.starts_with('.')) {
                    out.push(key);
                }
            }
        }
    }
    let base = s3.root.path().join(BUCKET);
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

fn object(s3: &OwnS3, key: &str) -> Vec<u8> {
    std::fs::read(s3.root.path().join(BUCKET).join(key)).unwrap()
}

/// Checks the delivered file of `job` and its manifest against the file Egress holds
/// (`bytes`), and answers its key.
fn check_delivery(app: &TestApp, s3: &OwnS3, job: &Value, bytes: &[u8]) -> String {
    let date = job["created_at"].as_str().unwrap()[..10].to_owned();
    let key = format!("egress/orders/{date}/{}", job["file_name"].as_str().unwrap());
    assert_eq!(object(s3, &key), bytes, "the delivered file is the export's file");
    let manifest: Value = serde_json::from_slice(&object(s3, &format!("{key}.manifest.json"))).unwrap();
    assert_eq!(manifest["export"], job["id"]);
    assert_eq!(manifest["dataset"], "orders");
    assert_eq!(manifest["format"], "csv");
    assert_eq!(manifest["key"], key.as_str());
    assert_eq!(manifest["rows"], job["total_rows"]);
    assert_eq!(manifest["bytes"], bytes.len());
    assert_eq!(manifest["sha256"], hex::encode(sha2::Sha256::digest(bytes)));
    let dataset = app.catalog.find("orders").unwrap();
    let names: Vec<&str> = manifest["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = match job["columns"].as_array() {
        Some(chosen) => chosen.iter().map(|c| c.as_str().unwrap()).collect(),
        None => dataset.columns.iter().map(|c| c.name.as_str()).collect(),
    };
    assert_eq!(names, expected);
    assert!(manifest["columns"][0]["kind"].is_string() && manifest["columns"][0]["label"].is_string());
    let snapshot = chrono::DateTime::parse_from_rfc3339(manifest["snapshot_at"].as_str().unwrap()).unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(job["created_at"].as_str().unwrap()).unwrap();
    assert!(
        snapshot >= created,
        "the snapshot {snapshot} is after the request {created}"
    );
    key
}

async fn exports_and_schedules_deliver_with_a_manifest(backend: Backend) {
    let s3 = OwnS3::start();
    let app = app(backend, true).await;
    let ws = app.workspace_with_data("Acme", "a@acme.test", 80, 1).await;
    app.add_user(ws, "m@acme.test", Role::Member).await;
    let (owner, member) = (app.logged_in("a@acme.test").await, app.logged_in("m@acme.test").await);
    // Members deliver to destinations but do not manage them.
    let r = member
        .post(app.url("/api/destinations"))
        .json(&destination(&s3, "own-test-secret"))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    says(&error, "admins and owners manage destinations");
    let made = add(&app, &owner, &destination(&s3, "own-test-secret")).await;
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["access_key_hint"], "…-key");
    assert_eq!(made["sse"], "AES256");
    assert!(
        !made.to_string().contains("own-test-secret"),
        "the secret is never shown: {made}"
    );

    // Test connection: a probe written and deleted, nothing left behind.
    let report = test_connection(&app, &owner, id).await;
    assert_eq!(report["ok"], true, "{report}");
    assert!(
        report["message"]
            .as_str()
            .unwrap()
            .starts_with("Wrote and deleted s3://egress-own/egress/egress-test/")
    );
    assert_eq!(keys(&s3), Vec::<String>::new());

    // An export that delivers, with chosen columns: the same bytes there, and a manifest.
    let job = start_export(
        &app,
        &member,
        json!({"dataset": "orders", "format": "csv", "columns": ["id", "status", "total_cents"],
               "options": {"deliver_to": id}}),
    )
    .await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    let done = wait_until_done(&app, &member, &job_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    wait_for_event(&app, &job_id, "delivered").await;
    let (bytes, _) = download(&app, &member, &job_id).await;
    let key = check_delivery(&app, &s3, &done, &bytes);
    assert_eq!(keys(&s3), [key.clone(), format!("{key}.manifest.json")]);
    let shown = app.get_json(&owner, &format!("/api/destinations/{id}")).await;
    assert_eq!(shown["deliveries"][0]["ok"], true, "{shown}");

    // Delivery only: once delivered, Egress's copy goes (the job expires).
    let only = start_export(
        &app,
        &member,
        json!({"dataset": "orders", "format": "csv", "options": {"deliver_to": id, "delivery_only": true}}),
    )
    .await;
    let only_id = only["id"].as_str().unwrap().to_owned();
    let done = wait_until_done(&app, &member, &only_id).await;
    wait_for_event(&app, &only_id, "delivered").await;
    let started = Instant::now();
    loop {
        let job = app.get_json(&member, &format!("/api/exports/{only_id}")).await;
        if job["status"] == "expired" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Egress kept its copy: {job}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let r = member
        .get(app.url(&format!("/exports/{only_id}/download")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let date = done["created_at"].as_str().unwrap()[..10].to_owned();
    let delivered = object(
        &s3,
        &format!("egress/orders/{date}/{}", done["file_name"].as_str().unwrap()),
    );
    assert_eq!(delivered.len() as i64, done["bytes"].as_i64().unwrap());

    // A schedule delivers each run the same way.
    let r = owner
        .post(app.url("/api/schedules"))
        .json(&json!({
            "name": "Weekly orders to the warehouse",
            "export": {"dataset": "orders", "format": "csv", "options": {"deliver_to": id}},
            "cadence": {"every": "weekly", "weekday": "monday", "at": "06:00"},
            "time_zone": "Europe/Berlin",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let schedule: Value = r.json().await.unwrap();
    let r = owner
        .post(app.url(&format!("/api/schedules/{}/run", schedule["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let run: Value = r.json().await.unwrap();
    let run_id = run["id"].as_str().unwrap().to_owned();
    let done = wait_until_done(&app, &owner, &run_id).await;
    wait_for_event(&app, &run_id, "delivered").await;
    let (bytes, _) = download(&app, &owner, &run_id).await;
    check_delivery(&app, &s3, &done, &bytes);
}

async fn wrong_credentials_fail_with_a_clear_message(backend: Backend) {
    let s3 = OwnS3::start();
    let app = app(backend, true).await;
    app.workspace_with_data("Acme", "a@acme.test", 20, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let wrong_secret = add(&app, &c, &destination(&s3, "not-the-secret")).await;
    let report = test_connection(&app, &c, wrong_secret["id"].as_i64().unwrap()).await;
    assert_eq!(report["ok"], false);
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("the secret key does not match the access key (SignatureDoesNotMatch)"),
        "{message}"
    );
    let mut body = destination(&s3, "own-test-secret");
    body["access_key_id"] = json!("nobody-knows-this-key");
    let wrong_key = add(&app, &c, &body).await;
    let report = test_connection(&app, &c, wrong_key["id"].as_i64().unwrap()).await;
    assert_eq!(report["ok"], false);
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("does not know the access key ending in `-key`"),
        "{message}"
    );
    // An export to the wrong credentials still completes in Egress; the delivery's
    // failure is on record with the same sentence, and nothing is left half-written.
    let id = wrong_secret["id"].as_i64().unwrap();
    let job = start_export(
        &app,
        &c,
        json!({"dataset": "orders", "format": "csv", "options": {"deliver_to": id}}),
    )
    .await;
    let job_id = job["id"].as_str().unwrap().to_owned();
    let done = wait_until_done(&app, &c, &job_id).await;
    assert_eq!(done["status"], "completed");
    wait_for_event(&app, &job_id, "delivery_retry").await;
    let shown = app.get_json(&c, &format!("/api/destinations/{id}")).await;
    let error = shown["deliveries"][0]["error"].as_str().unwrap();
    assert!(error.contains("secret key does not match"), "{error}");
    assert_eq!(keys(&s3), Vec::<String>::new());
    download(&app, &c, &job_id).await;
}

async fn destinations_are_checked_and_kept_sealed(backend: Backend) {
    let s3 = OwnS3::start();
    // Without --allow-private-targets, a bucket on loopback is refused (as webhooks are).
    let strict = app(backend, false).await;
    strict.workspace_with_data("Acme", "a@acme.test", 10, 1).await;
    let c = strict.logged_in("a@acme.test").await;
    let r = c
        .post(strict.url("/api/destinations"))
        .json(&destination(&s3, "own-test-secret"))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "endpoint");
    says(&error, "not a public address");

    let app = app(backend, true).await;
    let ws2 = app.workspace_with_data("Acme", "a@acme.test", 10, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let cases = [
        ("name", json!("Ware\nhouse"), "name", "on one line"),
        ("bucket", json!("Bad_Bucket"), "bucket", "not a bucket name"),
        (
            "prefix",
            json!("{dataset}/{nope}/"),
            "prefix",
            "`{nope}`, which is not one of",
        ),
        ("prefix", json!("/{dataset}/"), "prefix", "starts with `/`"),
        ("prefix", json!("a/../b/"), "prefix", "`..` segment"),
        (
            "endpoint",
            json!("ftp://127.0.0.1/"),
            "endpoint",
            "must start with https://",
        ),
        (
            "endpoint",
            json!("http://user:pw@127.0.0.1:9/"),
            "endpoint",
            "must not hold credentials",
        ),
        ("sse", json!("rot13"), "sse", "unknown server-side encryption `rot13`"),
        (
            "secret_access_key",
            json!(""),
            "secret_access_key",
            "give the secret access key",
        ),
    ];
    for (name, value, field, message) in cases {
        let mut body = destination(&s3, "own-test-secret");
        body[name] = value;
        let r = c.post(app.url("/api/destinations")).json(&body).send().await.unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 400, "{name}: {error}");
        assert_eq!(error["field"], field, "{error}");
        says(&error, message);
    }
    let made = add(&app, &c, &destination(&s3, "own-test-secret")).await;
    assert_eq!(app.get_json(&c, "/api/destinations").await.as_array().unwrap().len(), 1);
    // Sealed at rest: the database holds neither the secret nor the access key.
    let stored = app
        .store
        .fetch_destinations(&egress::store::destinations::list(ws2))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].credentials.contains("own-test-secret") && !stored[0].credentials.contains("own-test-key"));
    // Exports choose a destination of their own workspace, with options that agree.
    let bad = [
        (
            json!({"deliver_to": 999_999}),
            "options.deliver_to",
            "there is no destination 999999",
        ),
        (
            json!({"delivery_only": true}),
            "options.delivery_only",
            "needs a destination",
        ),
        (
            json!({"deliver_to": made["id"], "delivery_only": true, "single_use": true}),
            "options.single_use",
            "cannot also be downloaded once",
        ),
    ];
    for (options, field, message) in bad {
        let r = c
            .post(app.url("/api/exports"))
            .json(&json!({"dataset": "orders", "format": "csv", "options": options}))
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["field"], field, "{error}");
        says(&error, message);
    }
    // Another workspace's destination is not there for its people.
    let id = made["id"].as_i64().unwrap();
    app.workspace_with_data("Globex", "g@globex.test", 5, 2).await;
    let globex = app.logged_in("g@globex.test").await;
    let r = globex
        .get(app.url(&format!("/api/destinations/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = globex
        .post(app.url("/api/exports"))
        .json(&json!({"dataset": "orders", "format": "csv", "options": {"deliver_to": id}}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(
        (status.as_u16(), error["field"].as_str()),
        (400, Some("options.deliver_to"))
    );
    // A deleted one is gone.
    let r = c
        .delete(app.url(&format!("/api/destinations/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c.get(app.url(&format!("/api/destinations/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // The documented shape is the answered one.
    let doc = app.get_json(&c, "/api/openapi.json").await;
    let mut documented: Vec<&String> = doc["components"]["schemas"]["Destination"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let mut answered: Vec<&String> = made.as_object().unwrap().keys().collect();
    documented.sort();
    answered.sort();
    assert_eq!(documented, answered);
}
