//! A worker process killed with SIGKILL in the middle of an export loses nothing: its
//! lease runs out, another worker process runs the job again from the start, and the
//! file has exactly the right rows. Real processes, real S3 (s3s-fs).

mod common;

use common::{Backend, database, services};
use egress::datasets::{CONTACTS, Filters};
use egress::exports::{ExportOptions, JobStatus};
use egress::formats::Format;
use egress::storage::Storage;
use egress::store::{self, NewJob, NewUser, jobs};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

both_backends!(killed_worker_loses_nothing);

const ROWS: u64 = 150_000;

fn worker(url: &str, data: &std::path::Path) -> Child {
    let s = services();
    Command::new(env!("CARGO_BIN_EXE_egress"))
        .args(["--database-url", url, "--data-dir"])
        .arg(data)
        .args([
            "--log",
            "warn",
            "worker",
            "--lease-seconds",
            "3",
            "--worker-concurrency",
            "1",
            "--part-size-mib",
            "5",
        ])
        .args([
            "--storage",
            &s.storage_url(),
            "--s3-access-key",
            &s.s3_access_key,
            "--s3-secret-key",
            &s.s3_secret_key,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the egress binary starts")
}

async fn killed_worker_loses_nothing(backend: Backend) {
    let s = services();
    let (url, _database) = database(backend).await;
    let data = tempfile::tempdir().unwrap();
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let owner = NewUser {
        email: "crash@acme.test".into(),
        name: "Crash".into(),
        password_hash: "x".into(),
    };
    let (user_id, workspace_id) = store.create_account("Acme", &owner).await.unwrap();
    egress::seed::seed_dataset(&store, &egress::seed::GENERATORS[0], workspace_id, ROWS, 3)
        .await
        .unwrap();
    let id = uuid::Uuid::new_v4();
    let new = NewJob {
        id,
        workspace_id,
        user_id,
        dataset: CONTACTS.id.into(),
        format: Format::Csv,
        filters: Filters::default(),
        options: ExportOptions::default(),
        max_attempts: 3,
    };
    store.create_job(&new, 3).await.unwrap().unwrap();

    // The first worker gets going...
    let mut first = worker(&url, data.path());
    let started = Instant::now();
    loop {
        let job = jobs::get(store.as_ref(), None, id).await.unwrap().unwrap();
        if job.job.processed_rows > 0 {
            assert!(
                job.job.processed_rows < ROWS as i64,
                "the export finished before the kill; make it bigger"
            );
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first worker never made progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...and dies without a word.
    first.kill().unwrap();
    first.wait().unwrap();
    let orphan = jobs::get(store.as_ref(), None, id).await.unwrap().unwrap();
    assert_eq!(orphan.job.status, JobStatus::Processing);
    assert!(orphan.upload_id.is_some(), "the open upload is on record");

    // A second worker takes over when the lease runs out and finishes the job.
    let mut second = worker(&url, data.path());
    let started = Instant::now();
    let done = loop {
        let job = jobs::get(store.as_ref(), None, id).await.unwrap().unwrap();
        if job.job.status.is_terminal() {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the job never completed: {:?}",
            job.job
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(done.job.status, JobStatus::Completed, "{:?}", done.job.error);
    assert_eq!(done.job.attempts, 2);
    assert_eq!(done.job.total_rows, Some(ROWS as i64));
    assert_eq!(done.job.processed_rows, ROWS as i64);

    // The file has the header and every row exactly once.
    let storage = egress::storage::S3Storage::from_url(
        &s.storage_url(),
        Some(s.s3_access_key.clone()),
        Some(s.s3_secret_key.clone()),
    )
    .unwrap();
    let url = storage
        .signed_url(
            done.object_key.as_deref().unwrap(),
            "c.csv",
            "text/csv",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(&body[..]);
    let ids: Vec<i64> = reader.records().map(|r| r.unwrap()[0].parse().unwrap()).collect();
    assert_eq!(ids.len() as u64, ROWS);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "every row once, in order");
    assert_eq!(done.job.bytes, Some(body.len() as i64));
    // The crashed attempt's upload was aborted by the attempt that took over.
    assert!(
        s.open_uploads().iter().all(|u| !u.contains(&id.to_string())),
        "{:?}",
        s.open_uploads()
    );
    let kinds: Vec<String> = jobs::events(store.as_ref(), id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(kinds[..3], ["started", "retried", "completed"], "{kinds:?}");
}
