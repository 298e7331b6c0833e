//! Faults in the middle of an export lose nothing. Real processes, real Postgres, real S3:
//! - a worker process killed with SIGKILL: its lease runs out, another worker runs the job
//!   again from the start, and the file has exactly the right rows (a million on Postgres);
//! - Postgres restarted: the worker reconnects and the job completes;
//! - the S3 server down for ten seconds: the attempts are retried and the job completes;
//! - a rolling restart: a node sent SIGTERM mid-export turns unready, hands the job back
//!   when its drain time is up (the attempt not counted), and another node completes it
//!   well before a lease would have run out, with one email;
//! - two nodes starting at once on an empty database: both migrate and come up.
//!
//! After each, no multipart upload is left open.

use crate::common;

use common::nodes::{Node, service_flags};
use common::own_services::{OwnPostgres, OwnS3};
use common::{Backend, database, free_port, job_event_kinds, open_uploads, prometheus, services, wait_until_terminal};
use egress::catalog::Filters;
use egress::exports::{ExportOptions, JobStatus};
use egress::formats::Format;
use egress::storage::S3Storage;
use egress::store::{self, DynStore, JobRecord, NewJob, NewUser, jobs};
use std::time::{Duration, Instant};

both_backends!(killed_worker_loses_nothing, sigterm_hands_the_export_to_another_node);

/// A store with one workspace of `rows` contacts and one CSV export of them queued.
async fn queued_export(url: &str, rows: u64) -> (DynStore, uuid::Uuid) {
    queued_export_of(url, rows, "crash@acme.test").await
}

/// `queued_export`, made by `email`.
async fn queued_export_of(url: &str, rows: u64, email: &str) -> (DynStore, uuid::Uuid) {
    let store = store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let owner = NewUser {
        email: email.into(),
        name: "Crash".into(),
        password_hash: "x".into(),
    };
    let (user_id, workspace_id) = store.create_account("Acme", &owner).await.unwrap();
    egress::seed::seed_dataset(&store, &egress::seed::GENERATORS[0], workspace_id, rows, 3)
        .await
        .unwrap();
    let id = uuid::Uuid::new_v4();
    let new = NewJob {
        id,
        workspace_id,
        user_id,
        dataset: "contacts".into(),
        format: Format::parse("csv").unwrap(),
        filters: Filters::default(),
        columns: None,
        options: ExportOptions::default(),
        max_attempts: 6,
        increment_of: None,
    };
    let created = store.create_job(&new, 3, &Default::default()).await.unwrap();
    assert!(matches!(created, egress::store::Created::Job(_)));
    (store, id)
}

/// Flags for a worker that notices a dead peer quickly.
fn worker_flags(storage: Vec<String>, extra: &[&str]) -> Vec<String> {
    let mut flags = storage;
    flags.extend(
        [
            "--lease-seconds",
            "3",
            "--worker-concurrency",
            "1",
            "--retry-base-seconds",
            "1",
        ]
        .iter()
        .chain(extra)
        .map(|s| s.to_string()),
    );
    flags
}

/// Waits until the job has written some rows, but not all.
async fn wait_for_progress(store: &DynStore, id: uuid::Uuid, rows: u64) {
    let started = Instant::now();
    loop {
        // A restarting database may refuse for a moment; the test keeps asking.
        if let Ok(Some(job)) = jobs::get(store.as_ref(), None, id).await
            && job.job.processed_rows > 0
        {
            assert!(
                job.job.processed_rows < rows as i64,
                "the export finished before the fault; make it bigger"
            );
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the export never made progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The job completed with every row once, in order, in the file in S3.
async fn assert_complete_file(done: &JobRecord, rows: u64, storage: &S3Storage) {
    assert_eq!(done.job.status, JobStatus::Completed, "{:?}", done.job.error);
    assert_eq!(done.job.total_rows, Some(rows as i64));
    assert_eq!(done.job.processed_rows, rows as i64);
    let key = done.object_key.as_deref().unwrap();
    let url = storage
        .signed_url(key, "c.csv", "text/csv", Duration::from_secs(60))
        .await
        .unwrap();
    let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_eq!(done.job.bytes, Some(body.len() as i64));
    let mut reader = csv::Reader::from_reader(&body[..]);
    let mut count = 0u64;
    let mut last = 0i64;
    for record in reader.records() {
        let id: i64 = record.unwrap()[0].parse().unwrap();
        assert!(id > last, "every row once, in order");
        (last, count) = (id, count + 1);
    }
    assert_eq!(count, rows);
}

/// `assert_complete_file` in the test services' S3, where no upload of the job is left open.
async fn assert_complete_in_test_s3(done: &JobRecord, rows: u64) {
    let s = services();
    let storage = egress::storage::S3Storage::from_url(
        &s.storage_url(),
        Some(s.s3_access_key.clone()),
        Some(s.s3_secret_key.clone()),
    )
    .unwrap();
    assert_complete_file(done, rows, &storage).await;
    let open: Vec<String> = s
        .open_uploads()
        .into_iter()
        .filter(|u| u.contains(&done.uuid.to_string()))
        .collect();
    assert!(open.is_empty(), "uploads left open: {open:?}");
}

async fn killed_worker_loses_nothing(backend: Backend) {
    // A million rows on Postgres; SQLite (one process, small deployments) proves it smaller.
    let rows = match backend {
        Backend::Postgres => 1_000_000,
        Backend::Sqlite => 150_000,
    };
    let (url, _database) = database(backend).await;
    let (store, id) = queued_export(&url, rows).await;
    let data = tempfile::tempdir().unwrap();
    let flags = worker_flags(service_flags(), &["--part-size-mib", "5"]);

    // The first worker gets going, and dies without a word.
    let mut first = Node::worker(&url, data.path(), &flags);
    wait_for_progress(&store, id, rows).await;
    first.kill();
    let orphan = jobs::get(store.as_ref(), None, id).await.unwrap().unwrap();
    assert_eq!(orphan.job.status, JobStatus::Processing);
    assert!(orphan.upload_id.is_some(), "the open upload is on record");

    // A second worker takes over when the lease runs out and finishes the job.
    let _second = Node::worker(&url, data.path(), &flags);
    let done = wait_until_terminal(&store, id).await;
    assert_eq!(done.job.attempts, 2);
    // The crashed attempt's upload was aborted by the attempt that took over.
    assert_complete_in_test_s3(&done, rows).await;
    assert_eq!(
        job_event_kinds(&store, id).await[..4],
        ["created", "started", "retried", "completed"]
    );
}

async fn sigterm_hands_the_export_to_another_node(backend: Backend) {
    let rows = match backend {
        Backend::Postgres => 300_000,
        Backend::Sqlite => 150_000,
    };
    let s = services();
    let (url, _database) = database(backend).await;
    let owner = format!("restart-{}@acme.test", uuid::Uuid::new_v4());
    let (store, id) = queued_export_of(&url, rows, &owner).await;
    let data = tempfile::tempdir().unwrap();
    // The default 30 s lease: the takeover must not wait for it.
    let mut flags = service_flags();
    flags.extend(
        [
            "--worker-concurrency",
            "1",
            "--drain-seconds",
            "2",
            "--max-rows-per-second",
            "30000",
            "--log-format",
            "json",
        ]
        .map(String::from),
    );
    let mut first = Node::serve(&url, data.path(), &flags).await;
    wait_for_progress(&store, id, rows).await;
    // A client follows the export's progress on that node.
    let token = api_token(&store, id).await;
    let events = first.url(&format!("/api/exports/{id}/events"));
    let client = reqwest::Client::new();
    let following = client.get(&events).bearer_auth(&token).send().await.unwrap();
    assert_eq!(following.status(), reqwest::StatusCode::OK);
    let followed = tokio::spawn(following.text());

    // A deploy stops the node: it turns unready at once, then hands the job back.
    let stopped = Instant::now();
    first.terminate();
    let mut unready = None;
    while let Ok(answer) = reqwest::get(first.url("/readyz")).await {
        if answer.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            unready = Some(answer.text().await.unwrap());
            break;
        }
        assert!(stopped.elapsed() < Duration::from_secs(2), "/readyz stayed ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(unready.as_deref(), Some("draining"), "/readyz while draining");
    // A new progress stream is told to come back in a second (to another node).
    let refused = client.get(&events).bearer_auth(&token).send().await.unwrap();
    assert_eq!(
        refused.status(),
        reqwest::StatusCode::OK,
        "an EventSource gives up on errors"
    );
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("retry: 1000") && !refused.contains("event:"),
        "{refused:?}"
    );
    let status = first.wait_for_exit(Duration::from_secs(20));
    assert!(status.success(), "the node exits cleanly after its drain: {status}");
    // The open stream ended without `event: end`, so its client reconnects.
    let followed = followed.await.unwrap().expect("the stream ends cleanly");
    assert!(
        followed.contains("event: progress") && !followed.contains("event: end"),
        "{followed:?}"
    );
    let handed = jobs::get(store.as_ref(), None, id).await.unwrap().unwrap();
    assert_eq!(handed.job.status, JobStatus::Pending, "back in the queue");
    assert_eq!(
        (handed.job.attempts, handed.max_attempts),
        (1, 7),
        "the attempt does not count"
    );
    assert!(handed.job.processed_rows == 0);

    // Another node takes it at once and completes it; its metrics, on their own address,
    // count that one export.
    let metrics = format!("127.0.0.1:{}", free_port());
    flags.extend(["--metrics-listen".to_owned(), metrics.clone()]);
    let _second = Node::worker(&url, data.path(), &flags);
    let done = wait_until_terminal(&store, id).await;
    assert!(
        stopped.elapsed() < Duration::from_secs(30),
        "completed {:?} after SIGTERM: less than the lease",
        stopped.elapsed()
    );
    // The handed-back attempt's upload was aborted by the attempt that took over.
    assert_complete_in_test_s3(&done, rows).await;
    assert_eq!(
        job_event_kinds(&store, id).await[..5],
        ["created", "started", "handed_back", "retried", "completed"]
    );
    let scraped = reqwest::get(format!("http://{metrics}/metrics")).await.unwrap();
    let scraped = prometheus::parse(&scraped.text().await.unwrap());
    let completed = [("dataset", "contacts"), ("format", "csv"), ("outcome", "completed")];
    assert_eq!(
        scraped[&prometheus::series("egress_export_attempts_total", &completed)],
        1.0
    );
    let rows_total = prometheus::series(
        "egress_export_rows_total",
        &[("dataset", "contacts"), ("format", "csv")],
    );
    assert_eq!(scraped[&rows_total], rows as f64);
    // Both nodes' JSON logs follow the export by its id, and each request by its own.
    let lines =
        |log: String| -> Vec<serde_json::Value> { log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect() };
    let (a, b) = (lines(first.log_text()), lines(_second.log_text()));
    let said = |log: &[serde_json::Value], message: &str| {
        log.iter()
            .find(|l| l["message"].as_str().is_some_and(|m| m.starts_with(message)))
            .cloned()
            .unwrap_or_else(|| panic!("no {message:?} in {log:?}"))
    };
    let handed_back = said(&a, "export handed back to the queue");
    let completed = said(&b, "export completed");
    for (line, attempt) in [(&handed_back, 1), (&completed, 2)] {
        let span = &line["span"];
        assert_eq!(span["job"], id.to_string(), "{line}");
        assert_eq!(
            (&span["dataset"], &span["format"], &span["attempt"]),
            (&"contacts".into(), &"csv".into(), &attempt.into())
        );
        assert_eq!(span["workspace"], done.workspace_id);
    }
    let unready = said(&a, "GET /readyz 503");
    let request_id = unready["request_id"].as_str().unwrap_or_default();
    assert!(
        request_id.len() == 32 && request_id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{unready}"
    );
    // One email, from the node that completed it.
    let waited = Instant::now();
    while s.emails_to(&owner).is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(20), "no email arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(s.emails_to(&owner).len(), 1, "one email");
}

/// An API token (exports:read) of the maker of export `id`.
async fn api_token(store: &DynStore, id: uuid::Uuid) -> String {
    use sha2::Digest;
    let job = jobs::get(store.as_ref(), None, id).await.unwrap().unwrap();
    let secret = format!("egress_{}", uuid::Uuid::new_v4().simple());
    store
        .create_api_token(&egress::store::NewApiToken {
            workspace_id: job.workspace_id,
            created_by: job.user_id,
            name: "progress".into(),
            prefix: secret[..13].to_owned(),
            token_hash: hex::encode(sha2::Sha256::digest(secret.as_bytes())),
            scopes: "exports:read".into(),
            created_at: chrono::Utc::now().timestamp(),
            expires_at: None,
        })
        .await
        .unwrap();
    secret
}

/// Many nodes of a new deployment start together: the migrations run once (under
/// Postgres's advisory lock) and every node comes up, the demo asked of both seeded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_starting_at_once_both_come_up() {
    let (url, _database) = database(Backend::Postgres).await;
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut flags = service_flags();
    flags.extend(["--demo", "on", "--demo-rows", "50"].map(String::from));
    let (a, b) = tokio::join!(
        Node::serve(&url, one.path(), &flags),
        Node::serve(&url, two.path(), &flags)
    );
    for node in [&a, &b] {
        let ready = reqwest::get(node.url("/readyz")).await.unwrap();
        assert_eq!(ready.status(), reqwest::StatusCode::OK);
    }
    let store = store::connect(&url).await.unwrap();
    assert_eq!(
        store.workspaces_named("Acme Corp").await.unwrap().len(),
        1,
        "the demo once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_export() {
    const ROWS: u64 = 300_000;
    let cluster = OwnPostgres::start();
    let url = cluster.url();
    let (store, id) = queued_export(&url, ROWS).await;
    let data = tempfile::tempdir().unwrap();
    let s3 = OwnS3::start();
    let _worker = Node::worker(
        &url,
        data.path(),
        &worker_flags(s3.flags(), &["--max-rows-per-second", "50000"]),
    );

    wait_for_progress(&store, id, ROWS).await;
    cluster.restart();
    let done = wait_until_terminal(&store, id).await;
    assert!(done.job.attempts >= 2, "the attempt the restart broke was retried");
    assert_complete_file(&done, ROWS, &s3.storage()).await;
    assert!(
        open_uploads(s3.root.path()).is_empty(),
        "{:?}",
        open_uploads(s3.root.path())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_down_for_ten_seconds_mid_export() {
    const ROWS: u64 = 300_000;
    let (url, _database) = database(Backend::Postgres).await;
    let (store, id) = queued_export(&url, ROWS).await;
    let data = tempfile::tempdir().unwrap();
    let mut s3 = OwnS3::start();
    // Small parts, so the upload is under way when the server goes.
    let flags = worker_flags(s3.flags(), &["--max-rows-per-second", "50000", "--part-size-mib", "5"]);
    let _worker = Node::worker(&url, data.path(), &flags);

    wait_for_progress(&store, id, ROWS).await;
    s3.stop();
    tokio::time::sleep(Duration::from_secs(10)).await;
    s3.resume();
    let done = wait_until_terminal(&store, id).await;
    assert!(
        done.job.attempts >= 2,
        "the attempts during the outage failed and were retried"
    );
    assert_complete_file(&done, ROWS, &s3.storage()).await;
    assert!(
        open_uploads(s3.root.path()).is_empty(),
        "{:?}",
        open_uploads(s3.root.path())
    );
    let kinds = job_event_kinds(&store, id).await;
    let at = |kind: &str| kinds.iter().position(|k| k == kind);
    assert!(
        matches!((at("retry_scheduled"), at("completed")), (Some(r), Some(c)) if r < c),
        "retried, then completed: {kinds:?}"
    );
}
