//! Many nodes on one Postgres and one bucket: two `egress serve` processes and one
//! `egress worker` process share the queue. Twenty exports from seven workspaces are
//! submitted to both web nodes; each runs exactly once, the work spreads over all three
//! processes, a progress stream on node A follows jobs that other processes run, every
//! state change has its audit event, and each export sends exactly one email and makes
//! exactly one webhook call.

use crate::common;

use common::nodes::{Node, service_flags};
use common::{Backend, PASSWORD, database, log_in, wait_until_terminal};
use egress::store::{self, NewUser, jobs};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const WORKSPACES: u64 = 7;
const EXPORTS: usize = 20;
/// Slow enough that every export spans several progress reports.
const ROWS_PER_SECOND: &str = "3000";

/// The events of one progress stream, read until it ends.
async fn follow(client: reqwest::Client, url: String) -> Vec<Value> {
    let body = client.get(url).send().await.unwrap().text().await.unwrap();
    body.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_exports_on_three_processes() {
    let (url, _database) = database(Backend::Postgres).await;
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    // Each workspace has its own number of contacts, so a file's row count says whose it is.
    let mut owners = Vec::new();
    for w in 0..WORKSPACES {
        let rows = 4_000 + 500 * w;
        let owner = NewUser {
            email: format!("owner{w}@nodes.test"),
            name: format!("Owner {w}"),
            password_hash: egress::accounts::ssr::hash_password(PASSWORD),
        };
        let (_, workspace_id) = store.create_account(&format!("Workspace {w}"), &owner).await.unwrap();
        egress::seed::seed_dataset(&store, &egress::seed::GENERATORS[0], workspace_id, rows, w)
            .await
            .unwrap();
        owners.push((owner.email, rows));
    }

    let data = tempfile::tempdir().unwrap();
    let mut flags = service_flags();
    flags.extend(
        [
            "--worker-concurrency",
            "2",
            "--max-rows-per-second",
            ROWS_PER_SECOND,
            "--webhook-allow-private",
        ]
        .map(String::from),
    );
    let a = Node::serve(&url, data.path(), &flags).await;
    let b = Node::serve(&url, data.path(), &flags).await;
    let c = Node::worker(&url, data.path(), &flags);
    let names = HashMap::from([(a.pid(), "serve A"), (b.pid(), "serve B"), (c.pid(), "worker C")]);

    // Submitted in turn to A and B; every one is followed on A.
    let mut sessions = HashMap::new();
    for (email, _) in &owners {
        sessions.insert(
            email.clone(),
            (log_in(&a.base, email).await, log_in(&b.base, email).await),
        );
    }
    // Every workspace has an endpoint on one receiver.
    let receiver = common::receiver::Receiver::start(common::receiver::Answer::Ok).await;
    for (on_a, _) in sessions.values() {
        let r = on_a
            .post(a.url("/api/webhooks"))
            .json(&json!({"url": receiver.url, "events": ["export.completed"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let mut submitted = Vec::new();
    let mut streams = Vec::new();
    for i in 0..EXPORTS {
        let (email, rows) = &owners[i % owners.len()];
        let (on_a, on_b) = &sessions[email];
        let (node, client) = if i % 2 == 0 { (&a, on_a) } else { (&b, on_b) };
        let format = if i % 3 == 0 { "ndjson" } else { "csv" };
        let r = client
            .post(node.url("/api/exports"))
            .json(&json!({"dataset": "contacts", "format": format}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
        let job: Value = r.json().await.unwrap();
        let id = job["id"].as_str().unwrap().to_owned();
        streams.push(tokio::spawn(follow(
            on_a.clone(),
            a.url(&format!("/api/exports/{id}/events")),
        )));
        submitted.push((id, email.clone(), *rows, format));
    }

    let mut ran_on = HashMap::<&str, usize>::new();
    for ((id, email, rows, format), stream) in submitted.iter().zip(streams) {
        let uuid = uuid::Uuid::parse_str(id).unwrap();
        let record = wait_until_terminal(&store, uuid).await;

        // Exactly once: one attempt, one start, one completion, the workspace's row count.
        assert_eq!(record.job.status.id(), "completed", "{id}: {:?}", record.job.error);
        assert_eq!(record.job.attempts, 1, "{id}");
        assert_eq!(record.job.processed_rows, *rows as i64);
        // Every state change has its event, written with it: created, started, completed.
        let events = jobs::events(store.as_ref(), uuid).await.unwrap();
        let changes: Vec<&str> = events
            .iter()
            .map(|e| e.0.as_str())
            .filter(|k| ["created", "started", "retried", "completed", "failed", "cancelled"].contains(k))
            .collect();
        assert_eq!(changes, ["created", "started", "completed"], "{id}: {events:?}");
        let detail = events.iter().find(|e| e.0 == "started").unwrap().2.clone().unwrap();
        let pid: u32 = detail.rsplit('-').next().unwrap().parse().unwrap();
        let runner = names[&pid];
        *ran_on.entry(runner).or_default() += 1;

        // The file, fetched through the other web node, has every row once.
        let (_, on_b) = &sessions[email];
        let r = on_b
            .get(b.url(&format!("/exports/{id}/download")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let signed = r.headers()["location"].to_str().unwrap().to_owned();
        let file = reqwest::get(&signed).await.unwrap().bytes().await.unwrap();
        let records = if *format == "csv" {
            csv::Reader::from_reader(&file[..]).records().count() // text has line breaks in it
        } else {
            file.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count()
        };
        assert_eq!(records, *rows as usize, "{id} ({format})");

        // Node A's stream followed the job wherever it ran: several counts, then the end.
        let seen = tokio::time::timeout(Duration::from_secs(10), stream)
            .await
            .expect("the stream ends after the job")
            .unwrap();
        let last = seen.last().unwrap();
        assert_eq!(last["status"], "completed");
        assert_eq!(last["processed_rows"], *rows);
        let counts: Vec<i64> = seen
            .iter()
            .filter(|e| e["status"] == "processing")
            .map(|e| e["processed_rows"].as_i64().unwrap())
            .filter(|n| *n > 0 && *n < *rows as i64)
            .collect();
        // Never backwards; a count may repeat when the total arrives after it.
        let distinct: std::collections::BTreeSet<i64> = counts.iter().copied().collect();
        assert!(
            distinct.len() >= 2 && counts.windows(2).all(|w| w[0] <= w[1]),
            "{id} ran on {runner}; A saw {counts:?}"
        );
    }
    println!("jobs per process: {ran_on:?}");
    assert_eq!(ran_on.len(), 3, "every process ran exports: {ran_on:?}");

    // Exactly one email per export, though three processes send email: each is claimed
    // before it is sent. Counted in the SMTP server's mailbox, then once more after every
    // sender has had another pass, so a late duplicate would be seen.
    let maildir = common::services().maildir;
    let emails_for = |id: &str| {
        std::fs::read_dir(maildir.join("new"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| std::fs::read_to_string(e.path()).is_ok_and(|m| m.contains(id)))
            .count()
    };
    let started = std::time::Instant::now();
    while submitted.iter().any(|(id, ..)| emails_for(id) == 0) {
        assert!(started.elapsed() < Duration::from_secs(60), "not every export emailed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    let calls = receiver.wait_for(submitted.len()).await;
    for (id, ..) in &submitted {
        assert_eq!(emails_for(id), 1, "export {id} sent {} emails", emails_for(id));
        let hooks = calls.iter().filter(|c| c.json()["data"]["id"] == id.as_str()).count();
        assert_eq!(hooks, 1, "export {id} made {hooks} webhook calls");
        let events = jobs::events(store.as_ref(), uuid::Uuid::parse_str(id).unwrap())
            .await
            .unwrap();
        assert_eq!(
            events.iter().filter(|e| e.0 == "emailed").count(),
            1,
            "{id}: {events:?}"
        );
    }
}
