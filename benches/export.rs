//! `make bench` (export throughput): contacts exported Postgres → S3 (s3s-fs) in every
//! format through the real worker path, one fresh `egress worker` process per export so
//! its peak RSS belongs to that export alone, compared with the fastest Postgres can hand
//! the same rows out: `psql \copy (<the same SELECT>) to '/dev/null'`.
//!
//! The data is seeded once into the database `egress_bench` and reused. The table is
//! printed and written to `docs/benchmark.md`.

mod support;

use anyhow::{Context, bail};
use egress::catalog::kinds::Db;
use egress::catalog::{Catalog, Filters};
use egress::exports::{ExportOptions, JobStatus, Progress};
use egress::formats::Format;
use egress::progress::PROGRESS_CHANNEL;
use egress::storage::{S3Storage, Storage};
use egress::store::{self, DynStore, NewJob, NewUser, PgStore, jobs};
use futures::StreamExt;
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::S3;

const SIZES: [u64; 2] = [100_000, 1_000_000];
/// What one line of the table exports.
#[derive(Clone, Copy)]
struct Variant {
    format: &'static str,
    gzip: bool,
    /// `--read-parallelism` (1 by default).
    readers: usize,
}

/// In the order of the table. CSV also with two readers: what parallel reads add.
const VARIANTS: [Variant; 7] = [
    Variant {
        format: "csv",
        gzip: false,
        readers: 1,
    },
    Variant {
        format: "csv",
        gzip: false,
        readers: 2,
    },
    Variant {
        format: "csv",
        gzip: true,
        readers: 1,
    },
    Variant {
        format: "ndjson",
        gzip: false,
        readers: 1,
    },
    Variant {
        format: "json",
        gzip: false,
        readers: 1,
    },
    Variant {
        format: "xlsx",
        gzip: false,
        readers: 1,
    },
    Variant {
        format: "parquet",
        gzip: false,
        readers: 1,
    },
];
const RESULTS_FILE: &str = "docs/benchmark.md";
const RUNS: usize = 3;

struct Measured {
    rows: i64,
    label: String,
    wall: f64,
    bytes: i64,
    peak_rss_kib: u64,
    /// CPU time of the worker process (user + system).
    cpu: f64,
    /// CPU time the Postgres server's processes spent meanwhile (its backends).
    db_cpu: f64,
    /// CPU time the storage server (s3s-fs) spent meanwhile.
    storage_cpu: f64,
    /// From the claim to the first progress event that counts rows.
    first_progress: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let admin_url = support::admin_url();
    let s3 = S3::from_env()?;
    // `cargo bench --bench export -- xlsx` runs one format (as labelled in the table).
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let url = bench_database(&admin_url).await?;
    let pg = PgStore::connect(&url).await?;
    let store: DynStore = store::connect(&url).await?;
    store.migrate().await?;

    let mut results = Vec::new();
    let mut copy_rates = Vec::new();
    for rows in SIZES {
        let (user_id, workspace_id) = seeded_workspace(&pg, &store, rows).await?;
        // The general road's SELECT, with the tenant written in (psql takes no parameters).
        let catalog = Catalog::load(None)?;
        let contacts = catalog.find("contacts").context("the demo catalog has contacts")?;
        let select = egress::catalog::query::export(
            Db::Postgres,
            contacts,
            &workspace_id.to_string(),
            &Filters::default(),
            None,
        );
        let select = select.sql.replace("$1", &format!("'{workspace_id}'"));
        let copies = (0..3)
            .map(|_| copy_to_null(&url, &select))
            .collect::<anyhow::Result<Vec<(f64, f64)>>>()?;
        let (copy_seconds, copy_db_cpu) = copies
            .into_iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .context("three runs")?;
        let copy_rate = rows as f64 / copy_seconds;
        println!("{rows} rows: psql \\copy to /dev/null at {copy_rate:.0} rows/s (best of 3)");
        copy_rates.push(Baseline {
            rows,
            rate: copy_rate,
            db_cpu: copy_db_cpu,
        });
        for variant in VARIANTS {
            if !only.as_ref().is_none_or(|o| variant.label().eq_ignore_ascii_case(o)) {
                continue;
            }
            // Best of three, as for COPY; memory and first progress are the worst of the three.
            let mut runs = Vec::new();
            for _ in 0..RUNS {
                runs.push(export_once(&url, &store, &s3, user_id, workspace_id, variant).await?);
            }
            let peak_rss_kib = runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0);
            let first_progress = runs.iter().map(|r| r.first_progress).fold(0.0, f64::max);
            let mut measured = runs
                .into_iter()
                .min_by(|a, b| a.wall.total_cmp(&b.wall))
                .context("three runs")?;
            (measured.peak_rss_kib, measured.first_progress) = (peak_rss_kib, first_progress);
            println!(
                "  {:<8} {:>6.2} s  {:>9.0} rows/s  {:>6.1} MiB peak RSS",
                measured.label,
                measured.wall,
                measured.rows as f64 / measured.wall,
                measured.peak_rss_kib as f64 / 1024.0
            );
            results.push(measured);
        }
    }
    let table = report(&results, &copy_rates);
    println!("\n{table}");
    if only.is_none() {
        std::fs::create_dir_all("docs")?;
        std::fs::write(RESULTS_FILE, &table)?;
        println!("written to {RESULTS_FILE}");
    }
    Ok(())
}

/// The bench database, created on first use.
async fn bench_database(admin_url: &str) -> anyhow::Result<String> {
    let admin = PgStore::connect(admin_url).await.context("Postgres for the bench")?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = 'egress_bench'")
        .fetch_optional(admin.pool())
        .await?;
    if exists.is_none() {
        sqlx::query("CREATE DATABASE egress_bench")
            .execute(admin.pool())
            .await?;
    }
    admin.pool().close().await;
    support::database_url(admin_url, "egress_bench")
}

/// A workspace with exactly `rows` contacts and its owner, seeded on first use.
async fn seeded_workspace(pg: &PgStore, store: &DynStore, rows: u64) -> anyhow::Result<(i64, i64)> {
    let email = format!("bench-{rows}@egress.test");
    if let Some(user) = store.user_by_email(&email).await? {
        let workspace_id = store.memberships(user.id).await?[0].workspace_id;
        let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(pg.pool())
            .await?;
        if have as u64 == rows {
            return Ok((user.id, workspace_id));
        }
        bail!("workspace of {email} has {have} contacts, not {rows}: DROP DATABASE egress_bench and run again");
    }
    let owner = NewUser {
        email,
        name: "Bench".into(),
        password_hash: "not used".into(),
    };
    let (user_id, workspace_id) = store.create_account(&format!("Bench {rows}"), &owner).await?;
    let started = Instant::now();
    egress::seed::seed_dataset(store, &egress::seed::GENERATORS[0], workspace_id, rows, 42).await?;
    sqlx::query("ANALYZE contacts").execute(pg.pool()).await?;
    println!("seeded {rows} contacts in {:.1} s", started.elapsed().as_secs_f64());
    Ok((user_id, workspace_id))
}

/// Seconds `psql \copy` takes to write the rows of `select` as CSV to /dev/null, and the
/// CPU seconds of Postgres meanwhile.
fn copy_to_null(url: &str, select: &str) -> anyhow::Result<(f64, f64)> {
    let db_before = support::cpu_of("postgres");
    let started = Instant::now();
    let status = Command::new("psql")
        .args([url, "-q", "-c"])
        .arg(format!("\\copy ({select}) to '/dev/null' with (format csv, header)"))
        .status()
        .context("psql")?;
    if !status.success() {
        bail!("psql \\copy failed");
    }
    Ok((started.elapsed().as_secs_f64(), support::cpu_of("postgres") - db_before))
}

#[allow(clippy::too_many_arguments)]
async fn export_once(
    url: &str,
    store: &DynStore,
    s3: &S3,
    user_id: i64,
    workspace_id: i64,
    variant: Variant,
) -> anyhow::Result<Measured> {
    let format = Format::parse(variant.format).expect("a format of the registry");
    let id = uuid::Uuid::new_v4();
    // Progress events for this job, as any web node would see them.
    let first_progress = Arc::new(Mutex::new(None::<chrono::DateTime<chrono::Utc>>));
    let mut events = store.listen(&[PROGRESS_CHANNEL]).await?.context("Postgres LISTEN")?;
    let listener = {
        let (first, id) = (first_progress.clone(), id.to_string());
        tokio::spawn(async move {
            while let Some((_, payload)) = events.next().await {
                let Ok(p) = serde_json::from_str::<Progress>(&payload) else {
                    continue;
                };
                if p.id == id && p.processed_rows > 0 {
                    first.lock().unwrap().get_or_insert_with(chrono::Utc::now);
                }
            }
        })
    };
    let new = NewJob {
        id,
        workspace_id,
        user_id,
        dataset: "contacts".into(),
        format,
        filters: Filters::default(),
        columns: None,
        options: ExportOptions {
            gzip: variant.gzip,
            ..ExportOptions::default()
        },
        max_attempts: 1,
        increment_of: None,
    };
    let created = store.create_job(&new, 100, &Default::default()).await?;
    anyhow::ensure!(matches!(created, egress::store::Created::Job(_)), "job not created");

    let data = tempfile::tempdir()?;
    let (db_before, storage_before) = (support::cpu_of("postgres"), support::cpu_of("s3s-fs"));
    let mut worker = Command::new(env!("CARGO_BIN_EXE_egress"))
        .args(["--database-url", url, "--data-dir"])
        .arg(data.path())
        .args(["--log", "warn", "--read-parallelism", &variant.readers.to_string()])
        .args(["worker", "--worker-concurrency", "1"])
        .args(s3.flags())
        .stdout(Stdio::null())
        .spawn()?;
    let pid = worker.id();
    let done = loop {
        let record = jobs::get(store.as_ref(), None, id).await?.context("job exists")?;
        if record.job.status.is_terminal() {
            break record;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let peak_rss_kib = support::status_kib(pid, "VmHWM")?;
    let cpu = cpu_seconds(pid)?;
    // Read before the worker stops: its connections' backends are still there.
    let (db_cpu, storage_cpu) = (
        support::cpu_of("postgres") - db_before,
        support::cpu_of("s3s-fs") - storage_before,
    );
    Command::new("kill").args(["-INT", &pid.to_string()]).status()?;
    worker.wait()?;
    listener.abort();
    let job = &done.job;
    if job.status != JobStatus::Completed {
        bail!("{id} ended {:?}: {:?}", job.status, job.error);
    }
    let (started, completed) = (job.started_at.unwrap(), job.completed_at.unwrap());
    let first = first_progress.lock().unwrap().context("no progress event arrived")?;
    let storage = S3Storage::from_url(&s3.url, Some(s3.access_key.clone()), Some(s3.secret_key.clone()))?;
    storage.delete(done.object_key.as_deref().unwrap()).await?;
    Ok(Measured {
        rows: job.processed_rows,
        label: variant.label(),
        wall: (completed - started).as_seconds_f64(),
        bytes: job.bytes.unwrap_or(0),
        peak_rss_kib,
        cpu,
        db_cpu,
        storage_cpu,
        first_progress: (first - started).as_seconds_f64(),
    })
}

impl Variant {
    /// As in the table, and as `cargo bench --bench export -- <label>` picks it.
    fn label(self) -> String {
        format!(
            "{}{}{}",
            self.format.to_uppercase(),
            if self.gzip { "+gzip" } else { "" },
            if self.readers == 1 {
                String::new()
            } else {
                format!("/{}-readers", self.readers)
            }
        )
    }
}

/// User plus system CPU time of a process so far.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    support::stat_cpu(&stat, false).context("/proc stat")
}

/// The COPY baseline of one size.
struct Baseline {
    rows: u64,
    rate: f64,
    db_cpu: f64,
}

fn report(results: &[Measured], copy_rates: &[Baseline]) -> String {
    let mib = |b: f64| b / (1024.0 * 1024.0);
    let mut out = String::new();
    let _ = writeln!(out, "# Export benchmark\n");
    let _ = writeln!(
        out,
        "`make bench` on {} ({} cores), {}. Contacts (12 columns) from Postgres to s3s-fs, \
         each export in a fresh `egress worker` process (release build), best of {RUNS} runs \
         (peak RSS and first progress: the worst of them). CSV, NDJSON and JSON are read with \
         COPY (the bulk-read fast path), by one connection (`/2-readers`: two, in one snapshot). \
         CPU seconds: of the Egress worker process, of all Postgres processes (its backends) \
         and of the s3s-fs storage server, during the export.\n",
        hostname(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        out,
        "| Rows | Format | Wall s | Rows/s | MB/s | × COPY | Peak RSS MiB | RSS × 100k | Bytes | First progress s | Egress CPU s | Postgres CPU s | Storage CPU s |"
    );
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for Baseline { rows, rate, db_cpu } in copy_rates {
        let _ = writeln!(
            out,
            "| {rows} | psql \\copy → /dev/null | {:.2} | {rate:.0} | | 1.00 | | | | | | {db_cpu:.2} | |",
            *rows as f64 / rate
        );
        for m in results.iter().filter(|m| m.rows as u64 == *rows) {
            let rows_per_s = m.rows as f64 / m.wall;
            let small = results
                .iter()
                .find(|s| s.label == m.label && s.rows as u64 == SIZES[0])
                .map_or(1, |s| s.peak_rss_kib);
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {rows_per_s:.0} | {:.1} | {:.2} | {:.1} | {:.2} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                m.rows,
                m.label,
                m.wall,
                m.bytes as f64 / 1e6 / m.wall,
                rows_per_s / rate,
                mib(m.peak_rss_kib as f64 * 1024.0),
                m.peak_rss_kib as f64 / small as f64,
                m.bytes,
                m.first_progress,
                m.cpu,
                m.db_cpu,
                m.storage_cpu
            );
        }
    }
    out
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map_or_else(|_| "this machine".into(), |h| h.trim().to_owned())
}
