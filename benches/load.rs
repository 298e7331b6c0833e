//! `make bench` (load): one `egress serve` process (release build) on Postgres and s3s-fs,
//! driven over loopback by an open-loop load generator: requests leave on a fixed
//! schedule whatever the answers' speed, so a slow server cannot hide its queue.
//! - create-export and list-exports at 200 requests/s, latency p50/p90/p99/max;
//! - 1,000 concurrent SSE subscribers on the node, its memory per subscriber, and
//!   whether an update reaches every one of them.
//!
//! The table is printed and written to `docs/load.md`.

mod support;

use anyhow::{Context, bail};
use egress::store::{NewUser, PgStore};
use futures::StreamExt;
use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKSPACES: usize = 200;
const RATE: u64 = 200;
const SECONDS: u64 = 10;
const SUBSCRIBERS: usize = 1000;
const PASSWORD: &str = "load test password";
const RESULTS_FILE: &str = "docs/load.md";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Latencies {
    name: &'static str,
    statuses: std::collections::BTreeMap<u16, usize>,
    sorted: Vec<Duration>,
    achieved_rate: f64,
}

impl Latencies {
    fn percentile(&self, p: f64) -> f64 {
        let i = ((self.sorted.len() as f64 * p).ceil() as usize).clamp(1, self.sorted.len()) - 1;
        self.sorted[i].as_secs_f64() * 1000.0
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let admin_url = support::admin_url();
    let s3 = support::S3::from_env()?;

    // A fresh database each run, so list pages and queues start the same.
    let admin = PgStore::connect(&admin_url).await?;
    sqlx::query("DROP DATABASE IF EXISTS egress_load WITH (FORCE)")
        .execute(admin.pool())
        .await?;
    sqlx::query("CREATE DATABASE egress_load").execute(admin.pool()).await?;
    let url = support::database_url(&admin_url, "egress_load")?;
    let store = egress::store::connect(&url).await?;
    store.migrate().await?;
    let hash = egress::accounts::ssr::hash_password(PASSWORD);
    let mut emails = Vec::new();
    for w in 0..WORKSPACES {
        let owner = NewUser {
            email: format!("load{w}@egress.test"),
            name: format!("Load {w}"),
            password_hash: hash.clone(),
        };
        let (_, workspace_id) = store.create_account(&format!("Load {w}"), &owner).await?;
        egress::seed::seed_dataset(&store, &egress::seed::GENERATORS[0], workspace_id, 100, w as u64).await?;
        emails.push(owner.email);
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let data = tempfile::tempdir()?;
    let server = Server {
        child: Command::new(env!("CARGO_BIN_EXE_egress"))
            .args(["--database-url", &url, "--data-dir"])
            .arg(data.path())
            .args([
                "--log",
                "warn",
                "serve",
                "--demo",
                "off",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(s3.flags())
            .stdout(Stdio::null())
            .spawn()?,
        base: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while reqwest::get(format!("{}/healthz", server.base)).await.is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            bail!("egress serve did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut clients = Vec::new();
    for email in &emails {
        let client = reqwest::Client::builder().cookie_store(true).build()?;
        let r = client
            .post(format!("{}/api/session", server.base))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("login of {email}: {}", r.status());
        }
        clients.push(client);
    }
    println!("{WORKSPACES} workspaces logged in; driving {RATE} requests/s for {SECONDS} s each");

    let create = drive(
        "create export (POST /api/exports)",
        &clients,
        |c, base| {
            c.post(format!("{base}/api/exports"))
                .json(&serde_json::json!({"dataset": "contacts", "format": "csv"}))
        },
        &server.base,
    )
    .await;
    let list = drive(
        "list exports (GET /api/exports)",
        &clients,
        |c, base| c.get(format!("{base}/api/exports")),
        &server.base,
    )
    .await;
    let sse = subscribers(&server, &clients).await?;

    let mut out = String::new();
    let _ = writeln!(out, "# Load benchmark\n");
    let _ = writeln!(
        out,
        "`make bench` on {} cores, {}: one `egress serve` (release build, worker included) on \
         Postgres and s3s-fs, {WORKSPACES} workspaces, open-loop load from a second process on loopback.\n",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        out,
        "| Requests | Target rate | Achieved | p50 ms | p90 ms | p99 ms | max ms | Statuses |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|");
    for l in [&create, &list] {
        let statuses: Vec<String> = l.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        let _ = writeln!(
            out,
            "| {} | {RATE}/s | {:.0}/s | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            l.name,
            l.achieved_rate,
            l.percentile(0.5),
            l.percentile(0.9),
            l.percentile(0.99),
            l.percentile(1.0),
            statuses.join(", ")
        );
    }
    let _ = writeln!(out, "\n{sse}");
    println!("\n{out}");
    std::fs::create_dir_all("docs")?;
    std::fs::write(RESULTS_FILE, &out)?;
    println!("written to {RESULTS_FILE}");
    Ok(())
}

/// Sends RATE requests a second for SECONDS, round-robin over the workspaces' clients.
async fn drive(
    name: &'static str,
    clients: &[reqwest::Client],
    request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    base: &str,
) -> Latencies {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    let mut running = Vec::new();
    let started = Instant::now();
    for i in 0..(RATE * SECONDS) as usize {
        tick.tick().await;
        let send = request(&clients[i % clients.len()], base).send();
        running.push(tokio::spawn(async move {
            let at = Instant::now();
            let status = match send.await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let _ = r.bytes().await;
                    status
                }
                Err(_) => 0,
            };
            (status, at.elapsed())
        }));
    }
    let sent_in = started.elapsed().as_secs_f64();
    let mut statuses = std::collections::BTreeMap::new();
    let mut sorted = Vec::new();
    for r in running {
        let (status, took) = r.await.unwrap();
        *statuses.entry(status).or_default() += 1;
        sorted.push(took);
    }
    sorted.sort();
    let latencies = Latencies {
        name,
        statuses,
        sorted,
        achieved_rate: (RATE * SECONDS) as f64 / sent_in,
    };
    println!(
        "{name}: p50 {:.1} ms, p99 {:.1} ms, {:?}",
        latencies.percentile(0.5),
        latencies.percentile(0.99),
        latencies.statuses
    );
    latencies
}

/// Opens SUBSCRIBERS workspace event streams, measures the node's memory per stream, then
/// starts an export in one workspace and counts the streams that hear of its completion.
async fn subscribers(server: &Server, clients: &[reqwest::Client]) -> anyhow::Result<String> {
    // Let the export queue from the create run drain first, so its work does not count.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = server.child.id();
    let before = support::status_kib(pid, "VmRSS")?;
    let (heard_tx, mut heard_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String)>();
    let mut streams = Vec::new();
    for i in 0..SUBSCRIBERS {
        let r = clients[i % clients.len()]
            .get(format!("{}/api/exports/events", server.base))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("subscriber {i}: {}", r.status());
        }
        let heard = heard_tx.clone();
        streams.push(tokio::spawn(async move {
            let mut body = r.bytes_stream();
            while let Some(Ok(chunk)) = body.next().await {
                let _ = heard.send((i, String::from_utf8_lossy(&chunk).into_owned()));
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = support::status_kib(pid, "VmRSS")?;
    let per_subscriber = (after.saturating_sub(before)) as f64 / SUBSCRIBERS as f64;
    println!("{SUBSCRIBERS} subscribers: RSS {before} KiB → {after} KiB, {per_subscriber:.1} KiB each");

    // Workspace 0 has every WORKSPACES-th subscriber.
    let listeners: Vec<usize> = (0..SUBSCRIBERS).filter(|i| i % clients.len() == 0).collect();
    let r = clients[0]
        .post(format!("{}/api/exports", server.base))
        .json(&serde_json::json!({"dataset": "contacts", "format": "json"}))
        .send()
        .await?;
    let id = r.json::<serde_json::Value>().await?["id"]
        .as_str()
        .context("the export was not created")?
        .to_owned();
    let mut completed = std::collections::HashSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while completed.len() < listeners.len() {
        match tokio::time::timeout_at(deadline, heard_rx.recv()).await {
            Ok(Some((i, text))) if text.contains(&id) && text.contains("\"completed\"") => {
                completed.insert(i);
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    let still_open = streams.iter().filter(|s| !s.is_finished()).count();
    for s in &streams {
        s.abort();
    }
    Ok(format!(
        "| SSE subscribers | Node RSS before | with subscribers | per subscriber | still connected | completion heard |\n\
         |---:|---:|---:|---:|---:|---:|\n\
         | {SUBSCRIBERS} | {:.1} MiB | {:.1} MiB | {per_subscriber:.1} KiB | {still_open} | {}/{} |",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        completed.len(),
        listeners.len()
    ))
}
