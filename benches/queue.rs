//! `make bench` (queue capacity): how many exports a second one Postgres can claim,
//! fence, progress and complete. Eight `egress worker` processes (release build, three
//! exports at a time each) share one Postgres and one s3s-fs, and run a backlog of tiny
//! exports (ten contacts as CSV each), so what is measured is the queue's work per export
//! — the claim, lease, heartbeat, progress, completion, audit events, outbox and the
//! upload — not the rows.
//!
//! The table is printed and written to `docs/queue.md`.

mod support;

use anyhow::{Context, bail};
use egress::catalog::Filters;
use egress::exports::ExportOptions;
use egress::formats::Format;
use egress::store::{self, DynStore, NewJob, NewUser, PgStore};
use std::fmt::Write as _;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const WORKSPACES: usize = 40;
const JOBS: usize = 2_000;
const WORKERS: usize = 8;
const CONCURRENCY: usize = 3;
const ROWS: u64 = 10;
const RESULTS_FILE: &str = "docs/queue.md";

/// The worker processes, stopped (SIGINT) and reaped however the bench ends.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let admin_url = support::admin_url();
    let s3 = support::S3::from_env()?;
    let admin = PgStore::connect(&admin_url).await?;
    sqlx::query("DROP DATABASE IF EXISTS egress_queue WITH (FORCE)")
        .execute(admin.pool())
        .await?;
    sqlx::query("CREATE DATABASE egress_queue")
        .execute(admin.pool())
        .await?;
    admin.pool().close().await;
    let url = support::database_url(&admin_url, "egress_queue")?;
    let store: DynStore = store::connect(&url).await?;
    store.migrate().await?;
    let pg = PgStore::connect(&url).await?;

    let mut owners = Vec::new();
    for w in 0..WORKSPACES {
        let owner = NewUser {
            email: format!("queue-{w}@egress.test"),
            name: format!("Queue {w}"),
            password_hash: "not used".into(),
        };
        let (user_id, workspace_id) = store.create_account(&format!("Queue {w}"), &owner).await?;
        egress::seed::seed_dataset(&store, &egress::seed::GENERATORS[0], workspace_id, ROWS, w as u64).await?;
        owners.push((user_id, workspace_id));
    }
    let csv = Format::parse("csv").context("csv")?;
    for i in 0..JOBS {
        let (user_id, workspace_id) = owners[i % WORKSPACES];
        let new = NewJob {
            id: uuid::Uuid::new_v4(),
            workspace_id,
            user_id,
            dataset: "contacts".into(),
            format: csv,
            filters: Filters::default(),
            columns: None,
            options: ExportOptions::default(),
            max_attempts: 1,
            increment_of: None,
        };
        store.create_job(&new, i64::MAX, &Default::default()).await?;
    }
    println!("{JOBS} exports queued in {WORKSPACES} workspaces");

    let (db_before, storage_before) = (support::cpu_of("postgres"), support::cpu_of("s3s-fs"));
    let data = tempfile::tempdir()?;
    let mut workers = Workers(Vec::new());
    for n in 0..WORKERS {
        workers.0.push(
            Command::new(env!("CARGO_BIN_EXE_egress"))
                .args(["--database-url", &url, "--data-dir"])
                .arg(data.path().join(n.to_string()))
                // 8 processes × 2 pools × 6 stay under Postgres's default 100 connections.
                .args(["--log", "warn", "--db-max-connections", "6"])
                .args(["worker", "--worker-concurrency", &CONCURRENCY.to_string()])
                .args(s3.flags())
                .stdout(std::fs::File::create(data.path().join(format!("{n}.log")))?)
                .spawn()?,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    let (completed, failed) = loop {
        let (completed, failed): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE status = 'completed'), COUNT(*) FILTER (WHERE status = 'failed') FROM export_jobs",
        )
        .fetch_one(pg.pool())
        .await?;
        if (completed + failed) as usize == JOBS {
            break (completed, failed);
        }
        if Instant::now() > deadline {
            bail!("{completed} of {JOBS} exports completed in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let egress_cpu: f64 = workers
        .0
        .iter()
        .map(|w| std::fs::read_to_string(format!("/proc/{}/stat", w.id())))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .map(|stat| support::stat_cpu(stat, false).unwrap_or(0.0))
        .sum();
    let (db_cpu, storage_cpu) = (
        support::cpu_of("postgres") - db_before,
        support::cpu_of("s3s-fs") - storage_before,
    );
    drop(workers);
    // From the first claim to the last completion, as the database saw them.
    let (wall, p50, p99): (f64, f64, f64) = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM MAX(completed_at) - MIN(started_at))::float8,
                (percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM completed_at - started_at)))::float8,
                (percentile_cont(0.99) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM completed_at - started_at)))::float8
         FROM export_jobs WHERE status = 'completed'",
    )
    .fetch_one(pg.pool())
    .await?;
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM export_events")
        .fetch_one(pg.pool())
        .await?;
    let rate = completed as f64 / wall;
    let mut out = String::new();
    let _ = writeln!(out, "# Queue capacity\n");
    let _ = writeln!(
        out,
        "`make bench` on {} ({} cores), {}. {JOBS} exports of {ROWS} contacts as CSV, queued at once in \
         {WORKSPACES} workspaces, run by {WORKERS} `egress worker` processes ({CONCURRENCY} exports at a time \
         each, release build) on one Postgres and one s3s-fs, all on this machine. Wall: from the first \
         claim to the last completion. CPU seconds: of the workers, of all Postgres processes and of s3s-fs \
         during the run.\n",
        std::fs::read_to_string("/etc/hostname").map_or_else(|_| "this machine".into(), |h| h.trim().to_owned()),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        out,
        "| Exports | Failed | Wall s | Exports/s | Exports/hour | Claim→done p50 ms | p99 ms | Events | Egress CPU ms/export | Postgres CPU ms/export | Storage CPU ms/export |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let per = |cpu: f64| cpu * 1000.0 / completed as f64;
    let _ = writeln!(
        out,
        "| {completed} | {failed} | {wall:.2} | {rate:.1} | {:.0} | {:.0} | {:.0} | {events} | {:.2} | {:.2} | {:.2} |",
        rate * 3600.0,
        p50 * 1000.0,
        p99 * 1000.0,
        per(egress_cpu),
        per(db_cpu),
        per(storage_cpu)
    );
    println!("\n{out}");
    std::fs::create_dir_all("docs")?;
    std::fs::write(RESULTS_FILE, &out)?;
    println!("written to {RESULTS_FILE}");
    if failed > 0 {
        // What the workers said about it.
        for n in 0..WORKERS {
            let log = std::fs::read_to_string(data.path().join(format!("{n}.log")))?;
            for line in log
                .lines()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                .take(5)
            {
                eprintln!("worker {n}: {line}");
            }
        }
        bail!("{failed} exports failed");
    }
    Ok(())
}
