//! Black-box test harness: each test gets its own database (a SQLite file in a temporary
//! folder, or a fresh Postgres database that is dropped afterwards) and an Egress server
//! on a free port, and talks to it over HTTP like any client.
#![allow(dead_code)]

pub mod nodes;
pub mod own_services;
pub mod parquet;
pub mod prometheus;
pub mod receiver;
pub mod spreadsheet;

use egress::seed::{self, GENERATORS};
use egress::server::config::{PipelineArgs, ServeArgs};
use egress::store::{self, DynStore, NewUser};
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the tests' Postgres is; they create and drop their own databases there.
pub fn postgres_admin_url() -> String {
    std::env::var("EGRESS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub enum Database {
    Sqlite(tempfile::TempDir),
    Postgres { name: String },
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Database::Postgres { name } = self {
            // Drop runs outside any runtime here, so use psql rather than sqlx.
            let _ = std::process::Command::new("psql")
                .args([
                    &postgres_admin_url(),
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub store: DynStore,
    /// Egress's database, for a second connection (another process's view of it).
    pub database_url: String,
    pub catalog: std::sync::Arc<egress::catalog::Catalog>,
    pub backend: Backend,
    /// The data folder: `objects/` (local storage) and `mail/` (emails as files).
    pub data: tempfile::TempDir,
    _database: Database,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub async fn database(backend: Backend) -> (String, Database) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("egress.db").display());
            (url, Database::Sqlite(dir))
        }
        Backend::Postgres => {
            let name = format!(
                "egress_test_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos()
            );
            let admin = egress::store::PgStore::connect(&postgres_admin_url())
                .await
                .expect("Postgres for the tests (set EGRESS_TEST_POSTGRES_URL)");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin.pool())
                .await
                .expect("create test db");
            admin.pool().close().await;
            let base = postgres_admin_url();
            let url = match base.rfind('/') {
                Some(slash) if slash > "postgres://".len() => format!("{}/{name}", &base[..slash]),
                _ => format!("{base}/{name}"),
            };
            (url, Database::Postgres { name })
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Which catalog and source a test's app reads (the demo's over its own database unless
/// a test sets them).
#[derive(Clone, Default)]
pub struct DataSetup {
    pub path: Option<std::path::PathBuf>,
    pub source_url: Option<String>,
}

tokio::task_local! {
    static DATA_SETUP: DataSetup;
}

impl DataSetup {
    fn get() -> DataSetup {
        DATA_SETUP.try_with(Clone::clone).unwrap_or_default()
    }

    /// Runs `body` with apps spawned in it reading this catalog and source.
    pub async fn scope<F: std::future::Future>(self, body: F) -> F::Output {
        DATA_SETUP.scope(self, body).await
    }
}

/// Fast retries and cleanup, so failure stories finish quickly.
pub fn quick_pipeline() -> PipelineArgs {
    PipelineArgs {
        retry_base_seconds: 0.2,
        cleanup_seconds: 1,
        lease_seconds: 6,
        // Tests fire schedules themselves, on a clock they set (`TestApp::scheduler`).
        schedule_seconds: 0,
        ..PipelineArgs::default()
    }
}

pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let (url, database) = database(backend).await;
    let store = store::connect(&url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let data = tempfile::tempdir().unwrap();
    let mut args = ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        demo: egress::server::config::Demo::Off,
        pipeline: quick_pipeline(),
        ..ServeArgs::default()
    };
    configure(&mut args);
    let catalog = DataSetup::get();
    let source_url = catalog.source_url.clone().unwrap_or_else(|| url.clone());
    let loaded =
        egress::server::runtime::Data::load(catalog.path.as_deref(), &source_url, catalog.source_url.is_none())
            .await
            .expect("the catalog matches the source");
    let catalog = loaded.catalog.clone();
    let server = egress::server::start(store.clone(), loaded, data.path(), args)
        .await
        .expect("server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        store,
        database_url: url,
        catalog,
        backend,
        data,
        _database: database,
        server: server.task,
    }
}

/// A client with its own cookie jar that does not follow redirects (tests look at them).
/// An answer that stalls for a minute fails the test rather than hang it (progress
/// streams send a keep-alive every 15 seconds).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .read_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub const PASSWORD: &str = "a long test password";

/// A client logged in to the server at `base` through `POST /api/session`.
pub async fn log_in(base: &str, email: &str) -> reqwest::Client {
    let client = client();
    let response = client
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "login of {email}: {}",
        response.text().await.unwrap()
    );
    client
}

impl TestApp {
    /// A scheduler over this app's database; `own_connection` gives it a pool of its own,
    /// as another process would have.
    pub async fn scheduler(&self, own_connection: bool) -> egress::schedules::runner::Scheduler {
        let store = if own_connection {
            store::connect(&self.database_url).await.expect("connect")
        } else {
            self.store.clone()
        };
        egress::schedules::runner::Scheduler {
            store,
            catalog: self.catalog.clone(),
            max_attempts: 3,
            wakeup: std::sync::Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A workspace with an owner (`email`) and `rows` rows in each seeded dataset.
    pub async fn workspace_with_data(&self, name: &str, email: &str, rows: u64, seed: u64) -> i64 {
        let owner = NewUser {
            email: email.into(),
            name: format!("Owner of {name}"),
            password_hash: egress::accounts::ssr::hash_password(PASSWORD),
        };
        let (_, workspace_id) = self.store.create_account(name, &owner).await.unwrap();
        for generator in GENERATORS {
            seed::seed_dataset(&self.store, generator, workspace_id, rows, seed)
                .await
                .unwrap();
        }
        workspace_id
    }

    /// A user with `role` in `workspace`, who can sign in with `PASSWORD`.
    pub async fn add_user(&self, workspace: i64, email: &str, role: egress::accounts::Role) -> i64 {
        let id = self
            .store
            .create_user(&NewUser {
                email: email.into(),
                name: email.split('@').next().unwrap().into(),
                password_hash: egress::accounts::ssr::hash_password(PASSWORD),
            })
            .await
            .unwrap();
        self.store.add_membership(workspace, id, role.id()).await.unwrap();
        id
    }

    /// Runs a statement on Egress's database (for states a test cannot wait for).
    pub async fn sql(&self, sql: String) {
        let q = egress::store::query::Query { sql, params: vec![] };
        self.store.execute(&q).await.unwrap();
    }

    pub async fn remove_membership(&self, workspace: i64, user: i64) {
        self.sql(format!(
            "DELETE FROM memberships WHERE workspace_id = {workspace} AND user_id = {user}"
        ))
        .await;
    }

    /// Makes another of the user's workspaces the current one, as the switcher does.
    pub async fn switch_workspace(&self, c: &reqwest::Client, workspace: i64) -> reqwest::Response {
        c.post(self.url("/rpc/switch_workspace"))
            .form(&[("workspace_id", workspace.to_string())])
            .send()
            .await
            .unwrap()
    }

    /// The middle of five times a wrong-password sign-in as `email` took (each 401).
    pub async fn median_refusal(&self, c: &reqwest::Client, email: &str) -> Duration {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let r = c
                .post(self.url("/api/session"))
                .json(&serde_json::json!({ "email": email, "password": "wrong password" }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
            times.push(started.elapsed());
        }
        times.sort();
        times[2]
    }

    /// A client logged in through `POST /api/session`.
    pub async fn logged_in(&self, email: &str) -> reqwest::Client {
        log_in(&self.base, email).await
    }

    /// `GET path` as JSON.
    pub async fn get_json(&self, c: &reqwest::Client, path: &str) -> Value {
        c.get(self.url(path)).send().await.unwrap().json().await.unwrap()
    }

    /// Calls the data page's server function, as the browser does.
    pub async fn browse(&self, client: &reqwest::Client, dataset: &str, query: &[(&str, &str)]) -> reqwest::Response {
        let mut filters = serde_json::Map::new();
        for (k, v) in query {
            filters.insert(k.to_string(), serde_json::json!(v));
        }
        client
            .post(self.url("/rpc/browse_dataset"))
            .json(&serde_json::json!({ "dataset": dataset, "query": filters }))
            .send()
            .await
            .unwrap()
    }
}

/// The status and the `error` object of a JSON error answer.
pub async fn error_of(r: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    (status, body["error"].clone())
}

/// The error's message, which must contain `part`.
pub fn says(error: &Value, part: &str) {
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(part), "{error} should say {part:?}");
}

/// Reads a stream until it ends; what it said. Fails when it is still open after `within`.
pub async fn read_to_end(r: reqwest::Response, within: Duration) -> String {
    use futures::StreamExt;
    let mut body = r.bytes_stream();
    let mut text = String::new();
    let ended = tokio::time::timeout(within, async {
        while let Some(Ok(chunk)) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream was still open after {within:?}: {text}");
    text
}

/// The rows the generator makes for a dataset, to compare the database's answers with.
pub fn generated(dataset: &str, rows: u64, seed: u64) -> Vec<Vec<egress::catalog::Cell>> {
    GENERATORS
        .iter()
        .find(|g| g.table == dataset)
        .unwrap()
        .rows(rows, seed)
        .collect()
}

pub async fn start_export(app: &TestApp, c: &reqwest::Client, body: Value) -> Value {
    let r = c.post(app.url("/api/exports")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

pub async fn wait_until_done(app: &TestApp, c: &reqwest::Client, id: &str) -> Value {
    for _ in 0..300 {
        let job: Value = c
            .get(app.url(&format!("/api/exports/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match job["status"].as_str().unwrap() {
            "pending" | "processing" => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => return job,
        }
    }
    panic!("export {id} did not finish in 30 s");
}

/// Downloads an export's file through `/exports/{id}/download`: the bytes themselves
/// (local disk), or a redirect to a presigned URL that works without the session (S3).
pub async fn download(app: &TestApp, c: &reqwest::Client, id: &str) -> (Vec<u8>, reqwest::header::HeaderMap) {
    let r = c.get(app.url(&format!("/exports/{id}/download"))).send().await.unwrap();
    let file = match r.status().as_u16() {
        200 => r,
        303 => {
            let signed = r.headers()["location"].to_str().unwrap().to_owned();
            client().get(&signed).send().await.unwrap()
        }
        status => panic!("download answered {status}: {}", r.text().await.unwrap()),
    };
    assert_eq!(file.status(), 200);
    let headers = file.headers().clone();
    (file.bytes().await.unwrap().to_vec(), headers)
}

/// Every row of a dataset that the data pages show for these filters, oldest first.
pub async fn rows_via_pages(app: &TestApp, c: &reqwest::Client, dataset: &str, filters: &[(&str, &str)]) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = filters.to_vec();
        if let Some(a) = &after {
            query.push(("after", a));
        }
        let page: Value = app.browse(c, dataset, &query).await.json().await.unwrap();
        rows.extend(page["rows"].as_array().unwrap().iter().cloned());
        match page["next_after"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    rows.reverse();
    rows
}

/// A cell of the data page's JSON as the CSV file should carry it.
pub fn csv_text(cell: &Value) -> String {
    let (kind, value) = cell
        .as_object()
        .map(|o| o.iter().next().unwrap())
        .map_or(("Null", &Value::Null), |(k, v)| (k.as_str(), v));
    let neutral = |s: &str| egress::formats::safety::neutralise_csv(s).into_owned();
    match kind {
        "Integer" => value.to_string(),
        "Text" => neutral(value.as_str().unwrap()),
        "Money" => {
            egress::catalog::format_minor(value["minor"].as_i64().unwrap(), value["scale"].as_u64().unwrap() as u8)
        }
        "Timestamp" => value.as_str().unwrap().to_owned(),
        "List" => neutral(
            &value
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => String::new(),
    }
}

/// Defines one `#[tokio::test]` per backend for a test story `async fn(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $story() { super::$story(super::common::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $story() { super::$story(super::common::Backend::Postgres).await } )*
        }
    };
}

/// The test S3 server (s3s-fs) and SMTP server that `scripts/services.sh` started.
pub struct Services {
    pub s3_endpoint: String,
    pub s3_bucket: String,
    pub s3_root: std::path::PathBuf,
    pub s3_access_key: String,
    pub s3_secret_key: String,
    pub smtp_url: String,
    pub maildir: std::path::PathBuf,
}

pub fn services() -> Services {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!(
                "{k} is not set: run the tests with `make test` (scripts/services.sh starts s3s-fs and an SMTP server)"
            )
        })
    };
    Services {
        s3_endpoint: var("EGRESS_TEST_S3_ENDPOINT"),
        s3_bucket: var("EGRESS_TEST_S3_BUCKET"),
        s3_root: var("EGRESS_TEST_S3_ROOT").into(),
        s3_access_key: var("EGRESS_TEST_S3_ACCESS_KEY"),
        s3_secret_key: var("EGRESS_TEST_S3_SECRET_KEY"),
        smtp_url: var("EGRESS_TEST_SMTP_URL"),
        maildir: var("EGRESS_TEST_MAILDIR").into(),
    }
}

impl Services {
    pub fn storage_url(&self) -> String {
        format!("s3://{}?endpoint={}&region=us-east-1", self.s3_bucket, self.s3_endpoint)
    }

    /// Points an app at the test S3 and SMTP servers.
    pub fn configure(&self, args: &mut ServeArgs) {
        args.pipeline.storage = Some(self.storage_url());
        args.pipeline.s3_access_key = Some(self.s3_access_key.clone());
        args.pipeline.s3_secret_key = Some(self.s3_secret_key.clone());
        args.pipeline.smtp_url = Some(self.smtp_url.clone());
    }

    /// Files of multipart uploads that are still open.
    pub fn open_uploads(&self) -> Vec<String> {
        open_uploads(&self.s3_root)
    }

    /// The emails the SMTP server received for `to` (its Maildir), oldest first.
    pub fn emails_to(&self, to: &str) -> Vec<String> {
        let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(self.maildir.join("new"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let text = std::fs::read_to_string(e.path()).ok()?;
                let modified = e.metadata().ok()?.modified().ok()?;
                text.contains(&format!("To: {to}")).then_some((modified, text))
            })
            .collect();
        mails.sort();
        mails.into_iter().map(|(_, t)| t).collect()
    }
}

/// Files of multipart uploads still open under an s3s-fs root (it keeps them as `.upload-*`).
pub fn open_uploads(root: &std::path::Path) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if entry.file_name().to_string_lossy().starts_with(".upload") {
                out.push(path.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, &mut out);
    out
}

/// A loopback port that nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The kinds of a job's audit events, oldest first.
pub async fn event_kinds(app: &TestApp, id: &str) -> Vec<String> {
    job_event_kinds(&app.store, uuid::Uuid::parse_str(id).unwrap()).await
}

pub async fn job_event_kinds(store: &DynStore, id: uuid::Uuid) -> Vec<String> {
    egress::store::jobs::events(store.as_ref(), id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect()
}

/// Waits (up to five minutes) until the job has ended. A database that is restarting may
/// refuse for a moment; this keeps asking.
pub async fn wait_until_terminal(store: &DynStore, id: uuid::Uuid) -> egress::store::JobRecord {
    let started = std::time::Instant::now();
    loop {
        if let Ok(Some(job)) = egress::store::jobs::get(store.as_ref(), None, id).await
            && job.job.status.is_terminal()
        {
            return job;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "job {id} never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
