//! The catalog over an operator's own database (issue 10): a schema Egress did not make —
//! UUID tenant keys, rows ordered by `(created_at, id)` with many equal timestamps,
//! decimals, booleans, dates, JSON, UUIDs, text arrays, and a view — declared in a
//! catalog file with two datasets. Every format's file is compared row by row with the
//! rows the source holds. Runs with the source and Egress's own database on SQLite and
//! on Postgres.

use crate::common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use common::spreadsheet::{Open, libreoffice_csv};
use common::{Backend, DataSetup, TestApp, download, error_of, says, spawn_app_with, start_export, wait_until_done};
use egress::accounts::Role;
use serde_json::{Value, json};
use sqlx::Executor;
use uuid::Uuid;

both_backends!(
    every_format_carries_the_sources_rows,
    a_workspace_without_a_tenant_key_reads_nothing,
    catalog_check_names_each_problem_and_serve_refuses,
);

const CATALOG: &str = r#"
[[dataset]]
id = "invoices"
label = "Invoices"
description = "Every invoice, paid or not."
source = "SCHEMA.invoices"
tenant = { column = "tenant_id", type = "uuid" }
key = ["created_at", "id"]

[[dataset.column]]
name = "id"
label = "Invoice id"
kind = "integer"
[[dataset.column]]
name = "number"
label = "Number"
kind = "text"
[[dataset.column]]
name = "created_at"
label = "Issued"
kind = "timestamp"
[[dataset.column]]
name = "amount"
label = "Amount"
kind = "decimal"
[[dataset.column]]
name = "paid"
label = "Paid"
kind = "boolean"
[[dataset.column]]
name = "due_on"
label = "Due"
kind = "date"
[[dataset.column]]
name = "details"
label = "Details"
kind = "json"
[[dataset.column]]
name = "external_ref"
label = "Reference"
kind = "uuid"
[[dataset.column]]
name = "labels"
label = "Labels"
kind = "text_list"

[[dataset.filter]]
id = "issued"
label = "Issued"
column = "created_at"
kind = "time_range"
[[dataset.filter]]
id = "amount"
label = "Amount"
column = "amount"
kind = "number_range"
[[dataset.filter]]
id = "label"
label = "Label"
column = "labels"
kind = "list_contains"

[[dataset]]
id = "unpaid"
label = "Unpaid invoices"
source = "SCHEMA.unpaid_invoices"
tenant = { column = "tenant_id", type = "uuid" }
key = ["created_at", "id"]
role = "admin"

[[dataset.column]]
name = "id"
label = "Invoice id"
kind = "integer"
[[dataset.column]]
name = "number"
label = "Number"
kind = "text"
[[dataset.column]]
name = "created_at"
label = "Issued"
kind = "timestamp"
[[dataset.column]]
name = "amount"
label = "Amount"
kind = "decimal"
"#;

/// One invoice as the operator's database holds it.
#[derive(Clone, Debug)]
struct Invoice {
    tenant: Uuid,
    id: i64,
    created_at: DateTime<Utc>,
    number: String,
    amount: Option<String>,
    paid: bool,
    due_on: Option<NaiveDate>,
    details: Option<Value>,
    external_ref: Option<Uuid>,
    labels: Vec<String>,
}

fn tenant_a() -> Uuid {
    Uuid::parse_str("9f1c2f0e-5a8b-4c1d-9e2f-3a4b5c6d7e8f").unwrap()
}

fn tenant_b() -> Uuid {
    Uuid::parse_str("0b7e4a52-1d3c-4f6e-8a9b-c0d1e2f3a4b5").unwrap()
}

/// 240 invoices per tenant on only six distinct times, with ids out of time order and
/// the same ids in both tenants: only the key `(created_at, id)` orders them.
fn invoices() -> Vec<Invoice> {
    let base = Utc.with_ymd_and_hms(2025, 3, 1, 9, 30, 0).unwrap();
    let mut out = Vec::new();
    for tenant in [tenant_a(), tenant_b()] {
        for i in 0..240i64 {
            let number = match i {
                3 => "=HYPERLINK(\"http://x\")".to_owned(),
                4 => "Smith, \"Jr\"\nsecond line".to_owned(),
                _ => format!("INV-{i:05}"),
            };
            let amount = match i {
                _ if i % 11 == 0 => None,
                5 => Some("9999999999.9999".to_owned()),
                _ => Some(format!(
                    "{}{}.{:04}",
                    if i % 7 == 0 { "-" } else { "" },
                    (i * 37) % 100_000,
                    (i * 13) % 10_000
                )),
            };
            out.push(Invoice {
                tenant,
                id: (i * 97) % 240 + 1,
                created_at: base + Duration::milliseconds(1250 * (i % 6)),
                number,
                amount,
                paid: i % 3 == 0,
                due_on: (i % 13 != 0).then(|| NaiveDate::from_ymd_opt(2025, 4, 1).unwrap() + Duration::days(i % 40)),
                details: (i % 17 != 0).then(|| json!({"lines": i % 4, "note": "ü ✓ \"q\"", "nested": {"a": [1, i]}})),
                external_ref: (i % 19 != 0).then(|| Uuid::from_u128(0x1234_5678_9abc_def0_u128 * (i as u128 + 1))),
                labels: ["vip", "net-30", "eu"]
                    .iter()
                    .take((i % 4) as usize)
                    .map(|s| s.to_string())
                    .collect(),
            });
        }
    }
    out
}

/// The operator's database, and on Postgres the read-only role Egress reads it with
/// (both dropped at the end).
struct OperatorSource {
    /// What `--source-url` gets.
    url: String,
    /// The owner's URL (Postgres's superuser on Postgres).
    admin_url: String,
    schema: &'static str,
    role: Option<String>,
    database: common::Database,
}

impl Drop for OperatorSource {
    fn drop(&mut self) {
        if let (Some(role), common::Database::Postgres { name }) = (&self.role, &self.database) {
            let _ = std::process::Command::new("psql")
                .args([&common::postgres_admin_url(), "-q"])
                .args(["-c", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")])
                .args(["-c", &format!("DROP ROLE IF EXISTS {role}")])
                .output();
        }
    }
}

/// Creates the operator's database: a table in a schema of its own, a view over it, an
/// index for the tenant and the key; on Postgres, a role that may only read them.
async fn make_source(backend: Backend) -> OperatorSource {
    let (admin_url, database) = make_tables(backend).await;
    let common::Database::Postgres { name } = &database else {
        return OperatorSource {
            url: admin_url.clone(),
            admin_url,
            schema: "main",
            role: None,
            database,
        };
    };
    let role = format!("reader_{name}");
    let pool = sqlx::PgPool::connect(&admin_url).await.unwrap();
    pool.execute(
        format!(
            "CREATE ROLE {role} LOGIN; GRANT CONNECT ON DATABASE {name} TO {role}; \
             GRANT USAGE ON SCHEMA billing TO {role}; GRANT SELECT ON ALL TABLES IN SCHEMA billing TO {role};"
        )
        .as_str(),
    )
    .await
    .unwrap();
    pool.close().await;
    let url = admin_url.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    assert_ne!(url, admin_url, "the test Postgres URL names the user postgres");
    OperatorSource {
        url,
        admin_url,
        schema: "billing",
        role: Some(role),
        database,
    }
}

/// The tables, rows and view; the owner's URL.
async fn make_tables(backend: Backend) -> (String, common::Database) {
    let (url, database) = common::database(backend).await;
    let rows = invoices();
    match backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            pool.execute(
                "CREATE SCHEMA billing;
                 CREATE TABLE billing.invoices (
                    tenant_id uuid NOT NULL, id bigint NOT NULL, created_at timestamptz NOT NULL,
                    number text NOT NULL, amount numeric(14,4), paid boolean NOT NULL, due_on date,
                    details jsonb, external_ref uuid, labels text[] NOT NULL,
                    PRIMARY KEY (tenant_id, id));
                 CREATE INDEX invoices_order ON billing.invoices (tenant_id, created_at, id);
                 CREATE VIEW billing.unpaid_invoices AS
                    SELECT tenant_id, id, created_at, number, amount FROM billing.invoices WHERE NOT paid;",
            )
            .await
            .unwrap();
            for r in &rows {
                sqlx::query("INSERT INTO billing.invoices VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10)")
                    .bind(r.tenant)
                    .bind(r.id)
                    .bind(r.created_at)
                    .bind(&r.number)
                    .bind(&r.amount)
                    .bind(r.paid)
                    .bind(r.due_on)
                    .bind(&r.details)
                    .bind(r.external_ref)
                    .bind(&r.labels)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
        Backend::Sqlite => {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            pool.execute(
                "CREATE TABLE invoices (
                    tenant_id TEXT NOT NULL, id INTEGER NOT NULL, created_at TEXT NOT NULL,
                    number TEXT NOT NULL, amount TEXT, paid INTEGER NOT NULL, due_on TEXT,
                    details TEXT, external_ref TEXT, labels TEXT NOT NULL,
                    PRIMARY KEY (tenant_id, id));
                 CREATE INDEX invoices_order ON invoices (tenant_id, created_at, id);
                 CREATE VIEW unpaid_invoices AS
                    SELECT tenant_id, id, created_at, number, amount FROM invoices WHERE NOT paid;",
            )
            .await
            .unwrap();
            for r in &rows {
                // Upper-case UUIDs, as some applications write them; fixed-width times.
                sqlx::query("INSERT INTO invoices VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(r.tenant.to_string().to_uppercase())
                    .bind(r.id)
                    .bind(r.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                    .bind(&r.number)
                    .bind(&r.amount)
                    .bind(r.paid)
                    .bind(r.due_on.map(|d| d.to_string()))
                    .bind(r.details.as_ref().map(Value::to_string))
                    .bind(r.external_ref.map(|u| u.to_string().to_uppercase()))
                    .bind(serde_json::to_string(&r.labels).unwrap())
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
        }
    }
    (url, database)
}

/// The catalog above for `source`, written to a file in `dir`.
fn catalog_file(dir: &tempfile::TempDir, source: &OperatorSource, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("catalog.toml");
    std::fs::write(&path, text.replace("SCHEMA.", &format!("{}.", source.schema))).unwrap();
    path
}

/// Egress over the operator's source with the catalog above; the source's guard.
async fn operator_app(backend: Backend) -> (TestApp, OperatorSource, tempfile::TempDir) {
    let source = make_source(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let setup = DataSetup {
        path: Some(catalog_file(&dir, &source, CATALOG)),
        source_url: Some(source.url.clone()),
    };
    let app = setup.scope(spawn_app_with(backend, |_| {})).await;
    (app, source, dir)
}

/// A workspace for `tenant` with an owner who can sign in.
async fn tenant_workspace(app: &TestApp, tenant: Uuid, email: &str) -> reqwest::Client {
    let ws = app
        .store
        .create_tenant_workspace("Tenant", &tenant.to_string())
        .await
        .unwrap();
    app.add_user(ws, email, Role::Owner).await;
    app.logged_in(email).await
}

/// The rows of `tenant` that match, in key order, as the cells a CSV holds.
fn expected(tenant: Uuid, keep: impl Fn(&Invoice) -> bool, columns: &[&str]) -> Vec<Vec<String>> {
    let mut rows: Vec<Invoice> = invoices()
        .into_iter()
        .filter(|r| r.tenant == tenant && keep(r))
        .collect();
    rows.sort_by_key(|r| (r.created_at, r.id));
    rows.iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| match *c {
                    "id" => r.id.to_string(),
                    "number" => egress::formats::safety::neutralise_csv(&r.number).into_owned(),
                    "created_at" => r.created_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    "amount" => r.amount.clone().unwrap_or_default(),
                    "paid" => r.paid.to_string(),
                    "due_on" => r.due_on.map(|d| d.to_string()).unwrap_or_default(),
                    "details" => r.details.as_ref().map(Value::to_string).unwrap_or_default(),
                    "external_ref" => r.external_ref.map(|u| u.to_string()).unwrap_or_default(),
                    "labels" => r.labels.join(","),
                    other => panic!("no column {other}"),
                })
                .collect()
        })
        .collect()
}

const ALL: [&str; 9] = [
    "id",
    "number",
    "created_at",
    "amount",
    "paid",
    "due_on",
    "details",
    "external_ref",
    "labels",
];

fn csv_rows(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// A JSON value of an exported object as the CSV cell of the same value.
fn json_cell(column: &str, v: &Value) -> String {
    match (column, v) {
        (_, Value::Null) => String::new(),
        ("details", v) => v.to_string(),
        ("labels", Value::Array(items)) => items.iter().map(|i| i.as_str().unwrap()).collect::<Vec<_>>().join(","),
        ("number", Value::String(s)) => egress::formats::safety::neutralise_csv(s).into_owned(),
        (_, Value::String(s)) => s.clone(),
        (_, v) => v.to_string(),
    }
}

async fn export(app: &TestApp, c: &reqwest::Client, body: Value) -> Vec<u8> {
    let job = start_export(app, c, body).await;
    let id = job["id"].as_str().unwrap();
    let done = wait_until_done(app, c, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    download(app, c, id).await.0
}

/// An exported file's rows as the cells a CSV of them holds.
fn file_rows(format: &str, columns: &[&str], bytes: &[u8]) -> Vec<Vec<String>> {
    let objects = |values: Vec<Value>| -> Vec<Vec<String>> {
        values
            .iter()
            .map(|o| {
                assert_eq!(o.as_object().unwrap().len(), columns.len(), "{o}");
                columns.iter().map(|c| json_cell(c, &o[*c])).collect()
            })
            .collect()
    };
    match format {
        "csv" => csv_rows(bytes).1,
        "json" => objects(serde_json::from_slice(bytes).unwrap()),
        "ndjson" => objects(
            std::str::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        ),
        // As pyarrow reads the typed columns back.
        "parquet" => common::parquet::read(bytes)
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(columns)
                    .map(|(v, c)| match (*c, v) {
                        (_, Value::Null) => String::new(),
                        ("created_at", Value::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
                            .unwrap()
                            .with_timezone(&Utc)
                            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                        ("details", Value::String(text)) => text.clone(),
                        (c, v) => json_cell(c, v),
                    })
                    .collect()
            })
            .collect(),
        // As LibreOffice shows the cells: booleans as TRUE and FALSE, decimals with the
        // places of their number format.
        "xlsx" => {
            let shown = libreoffice_csv(bytes, Open::Xlsx);
            csv_rows(shown.as_bytes())
                .1
                .into_iter()
                .map(|row| {
                    row.into_iter()
                        .zip(columns)
                        .map(|(v, c)| if *c == "paid" { v.to_lowercase() } else { v })
                        .collect()
                })
                .collect()
        }
        other => panic!("no format {other}"),
    }
}

/// A file's rows, each as the cells of a CSV.
type Rows = Vec<Vec<String>>;

const UNPAID: [&str; 4] = ["id", "number", "created_at", "amount"];

async fn every_format_carries_the_sources_rows(backend: Backend) {
    let (app, _source, _dir) = operator_app(backend).await;
    let alice = tenant_workspace(&app, tenant_a(), "alice@a.test").await;
    let all = expected(tenant_a(), |_| true, &ALL);
    assert_eq!(all.len(), 240);

    // Both datasets (a table and a view) in every format: every row of the tenant, in
    // key order, each cell as the source holds it.
    let datasets: [(&str, &[&str], Rows); 2] = [
        ("invoices", &ALL, all.clone()),
        ("unpaid", &UNPAID, expected(tenant_a(), |r| !r.paid, &UNPAID)),
    ];
    for (dataset, columns, want) in &datasets {
        for format in ["csv", "json", "ndjson", "xlsx", "parquet"] {
            let bytes = export(&app, &alice, json!({"dataset": dataset, "format": format})).await;
            let got = file_rows(format, columns, &bytes);
            assert_eq!(got.len(), want.len(), "{dataset} as {format}");
            for (i, (got, want)) in got.iter().zip(want).enumerate() {
                assert_eq!(got, want, "{dataset} as {format}, row {i}");
            }
        }
    }
    let bytes = export(&app, &alice, json!({"dataset": "invoices", "format": "csv"})).await;
    let (header, _) = csv_rows(&bytes);
    assert_eq!(
        header,
        [
            "Invoice id",
            "Number",
            "Issued",
            "Amount",
            "Paid",
            "Due",
            "Details",
            "Reference",
            "Labels"
        ]
    );
    // JSON keeps the types: numbers, booleans, objects; decimals as exact strings.
    let bytes = export(&app, &alice, json!({"dataset": "invoices", "format": "json"})).await;
    let objects: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    let sample = objects
        .iter()
        .find(|o| o["paid"] == json!(true) && !o["details"].is_null() && !o["amount"].is_null())
        .unwrap();
    assert!(
        sample["id"].is_i64() && sample["details"].is_object() && sample["amount"].is_string(),
        "{sample}"
    );
    assert!(sample["labels"].is_array(), "{sample}");

    // Chosen columns, and filters over a time, a decimal and a list.
    let from = Utc.with_ymd_and_hms(2025, 3, 1, 9, 30, 2).unwrap();
    let bytes = export(
        &app,
        &alice,
        json!({"dataset": "invoices", "format": "csv", "columns": ["labels", "amount", "id"],
               "filters": {"issued_from": from.to_rfc3339(), "amount_min": "-100", "amount_max": "5000.5", "label": "net-30"}}),
    )
    .await;
    let want = expected(
        tenant_a(),
        |r| {
            let amount = r.amount.as_deref().map(|a| a.parse::<f64>().unwrap());
            r.created_at >= from
                && amount.is_some_and(|a| (-100.0..=5000.5).contains(&a))
                && r.labels.iter().any(|l| l == "net-30")
        },
        &["labels", "amount", "id"],
    );
    let (header, rows) = csv_rows(&bytes);
    assert_eq!(header, ["Labels", "Amount", "Invoice id"]);
    assert!(!want.is_empty());
    assert_eq!(rows, want);

    // The data pages page through the same rows (newest first) with a cursor of the key.
    let pages = common::rows_via_pages(&app, &alice, "invoices", &[]).await;
    let ids: Vec<i64> = pages.iter().map(|r| r[0]["Integer"].as_i64().unwrap()).collect();
    let want: Vec<i64> = all.iter().map(|r| r[0].parse().unwrap()).collect();
    assert_eq!(ids, want);

    // The other tenant's rows, under the same ids, are theirs alone.
    let bob = tenant_workspace(&app, tenant_b(), "bob@b.test").await;
    let bytes = export(&app, &bob, json!({"dataset": "invoices", "format": "csv"})).await;
    assert_eq!(csv_rows(&bytes).1, expected(tenant_b(), |_| true, &ALL));
}

async fn a_workspace_without_a_tenant_key_reads_nothing(backend: Backend) {
    // A workspace made by sign-up has no tenant key. Over the operator's database it must
    // not fall back to reading its own id as one (workspace 1 would read tenant 1).
    let (app, _source, _dir) = operator_app(backend).await;
    app.workspace_with_data("Sign-up Co", "eve@signup.test", 0, 1).await;
    let eve = app.logged_in("eve@signup.test").await;
    let r = app.browse(&eve, "invoices", &[]).await;
    assert_eq!(r.status(), 403);
    says(&r.json().await.unwrap(), "not linked to any tenant");
    let r = eve
        .post(app.url("/api/exports"))
        .json(&json!({"dataset": "invoices", "format": "csv"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403, "refused before a job is made");
    says(&error, "not linked to any tenant");
    assert_eq!(app.get_json(&eve, "/api/exports").await["total"], 0);
}

/// Runs `egress` with these arguments; its exit code and everything it printed.
fn egress(args: &[&str]) -> (Option<i32>, String) {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_egress"))
        .arg("--data-dir")
        .arg(data.path())
        .args(args)
        .output()
        .expect("the egress binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

async fn catalog_check_names_each_problem_and_serve_refuses(backend: Backend) {
    let source = make_source(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (own_url, _own) = common::database(backend).await;
    let check = |catalog: &std::path::Path, source_url: &str| {
        egress(&[
            "--database-url",
            &own_url,
            "--catalog",
            catalog.to_str().unwrap(),
            "--source-url",
            source_url,
            "catalog",
            "check",
        ])
    };

    // A sound catalog: each dataset ok, the view's index to look after.
    let good = catalog_file(&dir, &source, CATALOG);
    let (code, report) = check(&good, &source.url);
    assert_eq!(code, Some(0), "{report}");
    assert!(
        report.contains("ok       invoices") && report.contains("ok       unpaid"),
        "{report}"
    );
    assert!(
        report.contains("a view; make sure an index on its table serves (tenant_id, created_at, id)"),
        "{report}"
    );
    assert!(!report.contains("can write"), "the reader role only reads: {report}");
    if backend == Backend::Postgres {
        // Read as the database's owner, the check says to use a role that only reads.
        let (code, report) = check(&good, &source.admin_url);
        assert_eq!(code, Some(0), "{report}");
        assert!(
            report.contains("the source's role `postgres` can write to it"),
            "{report}"
        );
    }

    // A catalog the source does not match: every problem named, with what to do.
    let broken = CATALOG
        .replace("SCHEMA.unpaid_invoices", "SCHEMA.unpaid_invoice")
        .replacen("tenant = { column = \"tenant_id\"", "tenant = { column = \"tenant\"", 1)
        .replacen("name = \"number\"\nlabel = \"Number\"\nkind = \"text\"", "name = \"number\"\nlabel = \"Number\"\nkind = \"integer\"", 1)
        .replacen(
            "[[dataset.column]]\nname = \"paid\"",
            "[[dataset.column]]\nname = \"customer\"\nlabel = \"Customer\"\nkind = \"text\"\n[[dataset.column]]\nname = \"paid\"",
            1,
        );
    let broken = catalog_file(&dir, &source, &broken);
    let (code, report) = check(&broken, &source.url);
    assert_eq!(code, Some(1), "{report}");
    let table = format!("dataset `invoices` ({}.invoices)", source.schema);
    for problem in [
        format!("PROBLEM  {table}: tenant column `tenant` does not exist (its columns: tenant_id, id, created_at,"),
        format!(
            "PROBLEM  {table}: column `number` is text, which the `integer` kind does not read; declare the kind that matches"
        ),
        format!("PROBLEM  {table}: column `customer` does not exist"),
        format!(
            "PROBLEM  dataset `unpaid` ({0}.unpaid_invoice): there is no table or view `{0}.unpaid_invoice` in the source",
            source.schema
        ),
        "4 problems".to_owned(),
    ] {
        assert!(
            report.contains(&problem),
            "the report should say {problem:?}:\n{report}"
        );
    }

    // `serve` refuses it, naming the first problem and how many more there are.
    let (code, said) = egress(&[
        "--database-url",
        &own_url,
        "--catalog",
        broken.to_str().unwrap(),
        "--source-url",
        &source.url,
        "serve",
        "--demo",
        "off",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_ne!(code, Some(0));
    assert!(said.contains("the catalog does not match the source: "), "{said}");
    assert!(said.contains("tenant column `tenant` does not exist"), "{said}");
    assert!(
        said.contains("(and 3 more)") && said.contains("egress catalog check"),
        "{said}"
    );

    // Mistakes in the declarations themselves are all named before the source is read.
    let declared = CATALOG
        .replace("id = \"unpaid\"", "id = \"invoices\"")
        .replace("column = \"labels\"", "column = \"label_list\"");
    let declared = catalog_file(&dir, &source, &declared);
    let (code, report) = check(&declared, &source.url);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report.contains("filter `label`: column `label_list` is not declared"),
        "{report}"
    );
    assert!(
        report.contains("has 2 problems")
            && report.contains("dataset #1 has this id too; give each dataset its own id"),
        "{report}"
    );
}

/// The README's worked catalog (`catalog/example-saas.toml`) checks out against the
/// schema its header declares.
#[tokio::test]
async fn the_worked_example_matches_its_schema() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog/example-saas.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let schema: String = text
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter_map(|l| l.strip_prefix("#   "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(schema.contains("CREATE TABLE app.invoices"), "{schema}");
    let (url, _database) = common::database(Backend::Postgres).await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    pool.execute(format!("CREATE SCHEMA app; {schema}").as_str())
        .await
        .unwrap();
    pool.close().await;
    let (code, report) = egress(&[
        "--database-url",
        &url,
        "--catalog",
        path.to_str().unwrap(),
        "--source-url",
        &url,
        "catalog",
        "check",
    ]);
    assert_eq!(code, Some(0), "{report}");
    assert!(report.contains("0 problems"), "{report}");
}
