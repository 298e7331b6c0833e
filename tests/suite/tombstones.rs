//! Deleted rows in incremental runs (issue 12): a dataset of an operator's database
//! declares a tombstone table; each incremental run after the first reports the rows
//! deleted since the previous one — with their key and `_deleted_at` — once, alongside
//! the rows that changed. Source and Egress on SQLite, and on Postgres.

use crate::common;

use chrono::{Duration, Utc};
use common::{Backend, DataSetup, TestApp, download, error_of, spawn_app_with, wait_until_done};
use egress::accounts::Role;
use serde_json::{Value, json};
use sqlx::Executor;

both_backends!(deleted_rows_are_reported_once_by_key,);

const CATALOG: &str = r#"
[[dataset]]
id = "people"
label = "People"
source = "people"
tenant = { column = "account", type = "integer" }
key = ["id"]
changes = { column = "updated_at", overlap_seconds = 300, tombstones = { source = "people_deleted", deleted_at = "deleted_at" } }

[[dataset.column]]
name = "id"
label = "Id"
kind = "integer"
[[dataset.column]]
name = "name"
label = "Name"
kind = "text"
[[dataset.column]]
name = "updated_at"
label = "Updated"
kind = "timestamp"
"#;

/// The operator's database: people, and a row per deleted person.
struct Source {
    url: String,
    _database: common::Database,
}

fn time(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl Source {
    async fn make(backend: Backend) -> Source {
        let (url, database) = common::database(backend).await;
        let source = Source {
            url,
            _database: database,
        };
        let (time_type, big) = match backend {
            Backend::Postgres => ("timestamptz", "bigint"),
            Backend::Sqlite => ("TEXT", "INTEGER"),
        };
        source
            .run(&format!(
                "CREATE TABLE people (account {big} NOT NULL, id {big} NOT NULL, name TEXT, updated_at {time_type} NOT NULL, \
                 PRIMARY KEY (account, id)); \
                 CREATE TABLE people_deleted (account {big} NOT NULL, id {big} NOT NULL, deleted_at {time_type} NOT NULL)"
            ))
            .await;
        let day_ago = time(Utc::now() - Duration::days(1));
        for id in 1..=5 {
            source
                .run(&format!(
                    "INSERT INTO people VALUES (7, {id}, 'Person {id}', '{day_ago}')"
                ))
                .await;
        }
        // Another tenant's person, and its deletion, never show.
        source
            .run(&format!("INSERT INTO people VALUES (8, 1, 'Other', '{day_ago}')"))
            .await;
        source
    }

    async fn run(&self, sql: &str) {
        if self.url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            pool.execute(sql).await.unwrap();
            pool.close().await;
        } else {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&self.url)
                .unwrap()
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            pool.execute(sql).await.unwrap();
            pool.close().await;
        }
    }

    /// Deletes a person the way the operator's application does: the row goes, its
    /// tombstone comes.
    async fn delete(&self, account: i64, id: i64) {
        let now = time(Utc::now());
        self.run(&format!("DELETE FROM people WHERE account = {account} AND id = {id}"))
            .await;
        self.run(&format!("INSERT INTO people_deleted VALUES ({account}, {id}, '{now}')"))
            .await;
    }
}

/// Runs the schedule now and answers its file's rows.
async fn run(app: &TestApp, c: &reqwest::Client, schedule: i64) -> Vec<Value> {
    let r = c
        .post(app.url(&format!("/api/schedules/{schedule}/run")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    let done = wait_until_done(app, c, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (bytes, _) = download(app, c, id).await;
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn deleted_rows_are_reported_once_by_key(backend: Backend) {
    let source = Source::make(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.toml");
    std::fs::write(&path, CATALOG).unwrap();
    let setup = DataSetup {
        path: Some(path),
        source_url: Some(source.url.clone()),
    };
    // A tombstone table the source does not have is found before Egress starts.
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(&wrong, CATALOG.replace("\"people_deleted\"", "\"people_gone\"")).unwrap();
    let refused = egress::server::runtime::Data::load(Some(&wrong), &source.url, false)
        .await
        .err()
        .expect("a catalog naming a missing tombstone table is refused")
        .to_string();
    assert!(refused.contains("people_gone"), "{refused}");
    let app = setup.scope(spawn_app_with(backend, |_| {})).await;
    let ws = app.store.create_tenant_workspace("Seven", "7").await.unwrap();
    app.add_user(ws, "o@seven.test", Role::Owner).await;
    let c = app.logged_in("o@seven.test").await;

    // Without the key among the chosen columns, deletions could not be told apart.
    let body = |columns: Value| {
        json!({
            "name": "People changes",
            "export": {"dataset": "people", "format": "ndjson", "columns": columns},
            "cadence": {"every": "daily", "at": "06:00"},
            "time_zone": "UTC",
            "incremental": true,
        })
    };
    let r = c
        .post(app.url("/api/schedules"))
        .json(&body(json!(["name"])))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "export.columns");
    common::says(&error, "report deleted rows by their key: include the column `id`");
    let r = c
        .post(app.url("/api/schedules"))
        .json(&body(json!(["id", "name"])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let schedule = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    // The first run has every row, none deleted.
    let first = run(&app, &c, schedule).await;
    assert_eq!(first.len(), 5);
    assert!(
        first
            .iter()
            .all(|r| r["_deleted_at"].is_null() && r["name"].is_string()),
        "{first:?}"
    );

    // Two are deleted, one changes, one is added (and the other tenant loses its person).
    source.delete(7, 2).await;
    source.delete(7, 3).await;
    source.delete(8, 1).await;
    let now = time(Utc::now());
    source
        .run(&format!(
            "UPDATE people SET name = 'Renamed', updated_at = '{now}' WHERE account = 7 AND id = 4"
        ))
        .await;
    source
        .run(&format!("INSERT INTO people VALUES (7, 6, 'Person 6', '{now}')"))
        .await;

    let second = run(&app, &c, schedule).await;
    let live: Vec<(i64, &str)> = second
        .iter()
        .filter(|r| r["_deleted_at"].is_null())
        .map(|r| (r["id"].as_i64().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(live, [(4, "Renamed"), (6, "Person 6")]);
    let gone: Vec<i64> = second
        .iter()
        .filter(|r| r["_deleted_at"].is_string())
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(gone, [2, 3], "{second:?}");
    assert!(
        second
            .iter()
            .filter(|r| r["_deleted_at"].is_string())
            .all(|r| r["name"].is_null()),
        "a deleted row carries only its key"
    );

    // Nothing new: the next run is empty — no deletion is reported twice.
    assert_eq!(run(&app, &c, schedule).await, Vec::<Value>::new());
}
