//! `/metrics` as Prometheus scrapes it: behind its token on the main port, every line
//! parses as the text format, and the counters move with a real export (its own test
//! binary, so no other test's exports move them meanwhile; not named metrics.rs, whose
//! artifacts' names `cargo clean -p egress` shares with the metrics crate's and removes).

#[path = "suite/common/mod.rs"]
mod common;

use common::prometheus::{Series, parse, series};
use common::{Backend, services, spawn_app_with, start_export, wait_until_done};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TOKEN: &str = "scrape-me-0123456789abcdef";

async fn scrape(base: &str) -> BTreeMap<Series, f64> {
    let answer = reqwest::Client::new()
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    parse(&answer.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_their_token_and_move_with_an_export() {
    let s = services();
    let app = spawn_app_with(Backend::Postgres, |args| {
        s.configure(args);
        args.metrics_token = Some(TOKEN.into());
    })
    .await;
    let email = format!("metrics-{}@acme.test", uuid::Uuid::new_v4());
    app.workspace_with_data("Acme", &email, 1_500, 1).await;

    // The token, and nothing else, opens /metrics.
    let client = reqwest::Client::new();
    let url = app.url("/metrics");
    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.text().await.unwrap().contains("Bearer"));
    let wrong = client.get(&url).bearer_auth("scrape-me").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let session = app.logged_in(&email).await;
    assert_eq!(
        session.get(&url).send().await.unwrap().status(),
        401,
        "a session is not the token"
    );

    let before = scrape(&app.base).await;
    let at = |m: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]| {
        m.get(&series(name, labels)).copied().unwrap_or(0.0)
    };
    let job = start_export(&app, &session, json!({"dataset": "contacts", "format": "csv"})).await;
    let done = wait_until_done(&app, &session, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let waited = Instant::now();
    while s.emails_to(&email).is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(20), "no email arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = scrape(&app.base).await;

    let export = [("dataset", "contacts"), ("format", "csv")];
    let moved = |name: &str, labels: &[(&str, &str)]| at(&after, name, labels) - at(&before, name, labels);
    let completed = [("dataset", "contacts"), ("format", "csv"), ("outcome", "completed")];
    assert_eq!(moved("egress_export_attempts_total", &completed), 1.0);
    assert_eq!(moved("egress_export_rows_total", &export), 1_500.0);
    assert_eq!(
        moved("egress_export_bytes_total", &export),
        done["bytes"].as_f64().unwrap()
    );
    assert_eq!(moved("egress_export_duration_seconds_count", &export), 1.0);
    assert_eq!(moved("egress_export_rows_per_second_count", &export), 1.0);
    let created = [("method", "POST"), ("route", "/api/exports"), ("status", "202")];
    assert_eq!(moved("egress_http_requests_total", &created), 1.0);
    assert!(
        moved(
            "egress_http_request_duration_seconds_count",
            &[("method", "POST"), ("route", "/api/exports")]
        ) >= 1.0
    );
    // A path with an id is counted under its route, never under the path.
    assert!(
        at(
            &after,
            "egress_http_requests_total",
            &[("method", "GET"), ("route", "/api/exports/{id}"), ("status", "200")]
        ) >= 1.0
    );
    assert!(
        !after
            .keys()
            .any(|(_, labels)| labels.values().any(|v| v.contains(job["id"].as_str().unwrap())))
    );
    assert_eq!(
        moved(
            "egress_notifications_total",
            &[("channel", "email"), ("outcome", "delivered")]
        ),
        1.0
    );
    // A method of the client's invention is counted, but never becomes a label of its own.
    let invented = reqwest::Method::from_bytes(b"EXFILTRATE123").unwrap();
    client.request(invented, app.url("/healthz")).send().await.unwrap();
    let later = scrape(&app.base).await;
    assert!(
        !later
            .keys()
            .any(|(_, labels)| labels.values().any(|v| v.contains("EXFILTRATE")))
    );
    assert!(
        later
            .iter()
            .any(|((name, labels), n)| name == "egress_http_requests_total"
                && labels.get("method").is_some_and(|m| m == "other")
                && *n >= 1.0)
    );
    // State read at the scrape: the queue by status, the pool.
    assert!(at(&after, "egress_export_jobs", &[("status", "completed")]) >= 1.0);
    assert!(after.contains_key(&series("egress_export_jobs", &[("status", "pending")])));
    assert!(at(&after, "egress_db_connections_max", &[]) >= 1.0);
}

#[test]
fn the_parser_refuses_what_is_not_the_text_format() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\\\"2\",y=\"z\"} 3\nb 4.5e3\n";
    let parsed = parse(good);
    assert_eq!(parsed[&series("a_total", &[("x", "1\"2"), ("y", "z")])], 3.0);
    assert_eq!(parsed[&series("b", &[])], 4500.0);
    for bad in ["a{x=1} 2", "a 2 3 4 x", "# NOTE x", "9a 1", "a{x=\"1\"} two"] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad:?} parsed");
    }
}
