//! Prometheus metrics: the numbers operators alert on. Recorded through the `metrics`
//! facade where things happen (the worker, the notification sender, the HTTP layer,
//! progress streams) and rendered by metrics-exporter-prometheus. What is a state rather
//! than an event (the queue by status, the database pool) is read when scraped.
//!
//! Nothing is recorded until `install` runs, which a process does only when it exposes
//! its metrics (`serve --metrics-token`, or `--metrics-listen` on any process). Labels
//! are bounded: datasets and formats come from the catalog and the registry, routes are
//! the router's patterns, never paths or ids.

use crate::store::Store;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Seconds: HTTP requests and notification deliveries, from 5 ms.
const SECONDS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Seconds an export takes: from a second to six hours.
const EXPORT_SECONDS: &[f64] = &[
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 10800.0, 21600.0,
];
/// Rows a second of a completed export.
const ROWS_PER_SECOND: &[f64] = &[
    1_000.0, 5_000.0, 10_000.0, 25_000.0, 50_000.0, 100_000.0, 200_000.0, 400_000.0, 800_000.0,
];

/// Installs the process's recorder once (tests start many apps in one process) and keeps
/// its histograms drained; the handle renders the text Prometheus scrapes.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        // Exact names are matched before suffixes (the exporter sorts its matchers), so
        // the two export histograms keep their own buckets.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("egress_export_duration_seconds".into()), EXPORT_SECONDS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("egress_export_rows_per_second".into()), ROWS_PER_SECOND)
            })
            .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS))
            .expect("the buckets are valid");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; Egress's metrics go there");
        }
        describe();
        // Histogram samples wait in the recorder until drained: drain them even when
        // nobody scrapes.
        let upkeep = handle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
        }
        handle
    })
}

fn describe() {
    describe_counter!(
        "egress_http_requests_total",
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        "egress_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request (to its headers, for streams), by method and route pattern"
    );
    describe_gauge!("egress_export_jobs", "Export jobs in the queue's database, by status");
    describe_counter!(
        "egress_export_attempts_total",
        "Export attempts ended by this process, by dataset, format and outcome (completed, retried, failed, cancelled, handed_back)"
    );
    describe_counter!(
        "egress_export_failures_total",
        "Failed export attempts, by reason (retried or not)"
    );
    describe_histogram!(
        "egress_export_duration_seconds",
        Unit::Seconds,
        "Time from an export's start to its completion, by dataset and format"
    );
    describe_histogram!(
        "egress_export_rows_per_second",
        "Rows a second of completed exports, by dataset and format"
    );
    describe_counter!(
        "egress_export_rows_total",
        "Rows written into completed exports' files, by dataset and format"
    );
    describe_counter!(
        "egress_export_bytes_total",
        Unit::Bytes,
        "Bytes of completed exports' files, by dataset and format"
    );
    describe_counter!(
        "egress_notifications_total",
        "Notification tries (email, webhook, delivery), by channel and outcome (delivered, retry, given_up)"
    );
    describe_gauge!(
        "egress_sse_streams",
        "Progress streams (server-sent events) open on this node"
    );
    describe_gauge!(
        "egress_db_connections",
        "Connections of this process's pool to Egress's database, by state (in_use, idle)"
    );
    describe_gauge!("egress_db_connections_max", "The most connections that pool may open");
}

/// The text of a scrape: the state read now, then everything recorded.
pub async fn render(store: &dyn Store) -> String {
    let handle = install();
    match store.count_jobs_by_status().await {
        Ok(counts) => {
            for status in crate::exports::JobStatus::ALL {
                let n = counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
                metrics::gauge!("egress_export_jobs", "status" => status.id()).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "the queue could not be counted for /metrics"),
    }
    let pool = store.pool_use();
    metrics::gauge!("egress_db_connections", "state" => "in_use").set(pool.in_use as f64);
    metrics::gauge!("egress_db_connections", "state" => "idle").set(pool.idle as f64);
    metrics::gauge!("egress_db_connections_max").set(pool.max as f64);
    handle.run_upkeep();
    handle.render()
}

/// An export attempt ended in this process: `completed`, `retried`, `failed`, `cancelled`
/// or `handed_back`.
pub fn export_ended(dataset: &str, format: &'static str, outcome: &'static str) {
    metrics::counter!("egress_export_attempts_total", "dataset" => dataset.to_owned(), "format" => format, "outcome" => outcome)
        .increment(1);
}

/// A completed export's figures.
pub fn export_completed(dataset: &str, format: &'static str, took: Duration, rows: i64, bytes: i64) {
    export_ended(dataset, format, "completed");
    let labels = [("dataset", dataset.to_owned()), ("format", format.to_owned())];
    let seconds = took.as_secs_f64();
    metrics::histogram!("egress_export_duration_seconds", &labels).record(seconds);
    metrics::histogram!("egress_export_rows_per_second", &labels).record(rows as f64 / seconds.max(0.001));
    metrics::counter!("egress_export_rows_total", &labels).increment(rows.max(0) as u64);
    metrics::counter!("egress_export_bytes_total", &labels).increment(bytes.max(0) as u64);
}

/// A failed attempt, by the sentence its people see (a fixed set, one per cause).
pub fn export_failed(reason: &'static str) {
    metrics::counter!("egress_export_failures_total", "reason" => reason).increment(1);
}

/// One try of a notification: `delivered`, `retry` or `given_up`.
pub fn notification(channel: &str, outcome: &'static str) {
    metrics::counter!("egress_notifications_total", "channel" => channel.to_owned(), "outcome" => outcome).increment(1);
}

/// A progress stream opened (`1.0`) or closed (`-1.0`) on this node.
pub fn streams(change: f64) {
    metrics::gauge!("egress_sse_streams").increment(change);
}
