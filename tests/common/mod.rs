//! Black-box test harness: each test gets its own database (a SQLite file in a temporary
//! folder, or a fresh Postgres database that is dropped afterwards) and an Egress server
//! on a free port, and talks to it over HTTP like any client.
#![allow(dead_code)]

use egress::seed::{self, GENERATORS};
use egress::server::config::{PipelineArgs, ServeArgs};
use egress::store::{self, DynStore, NewUser};
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the tests' Postgres is; they create and drop their own databases there.
pub fn postgres_admin_url() -> String {
    std::env::var("EGRESS_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

enum Database {
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

async fn database(backend: Backend) -> (String, Database) {
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

/// Fast retries and cleanup, so failure stories finish quickly.
pub fn quick_pipeline() -> PipelineArgs {
    PipelineArgs {
        retry_base_seconds: 0.2,
        cleanup_seconds: 1,
        lease_seconds: 6,
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
        no_demo: true,
        pipeline: quick_pipeline(),
        ..ServeArgs::default()
    };
    configure(&mut args);
    let server = egress::server::start(store.clone(), data.path(), args)
        .await
        .expect("server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        store,
        backend,
        data,
        _database: database,
        server: server.task,
    }
}

/// A client with its own cookie jar that does not follow redirects (tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub const PASSWORD: &str = "a long test password";

impl TestApp {
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

    /// A client logged in through `POST /api/session`.
    pub async fn logged_in(&self, email: &str) -> reqwest::Client {
        let client = client();
        let response = client
            .post(self.url("/api/session"))
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

    /// Calls the data page's server function, as the browser does.
    pub async fn browse(&self, client: &reqwest::Client, dataset: &str, query: &[(&str, &str)]) -> reqwest::Response {
        let mut filters = serde_json::Map::new();
        for (k, v) in query {
            let value = match *k {
                "after" | "before" => serde_json::json!(v.parse::<i64>().unwrap()),
                _ => serde_json::json!(v),
            };
            filters.insert(k.to_string(), value);
        }
        client
            .post(self.url("/rpc/browse_dataset"))
            .json(&serde_json::json!({ "dataset": dataset, "query": filters }))
            .send()
            .await
            .unwrap()
    }
}

/// The rows the generator makes for a dataset, to compare the database's answers with.
pub fn generated(dataset: &str, rows: u64, seed: u64) -> Vec<Vec<egress::datasets::Cell>> {
    GENERATORS
        .iter()
        .find(|g| g.dataset.id == dataset)
        .unwrap()
        .rows(rows, seed)
        .collect()
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
