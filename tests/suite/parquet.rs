//! Parquet (issue 11): every dataset exported as Parquet and read back by an independent
//! reader (pyarrow) holds the same rows as its NDJSON export, with typed columns; large
//! files are cut into row groups. (`tests/catalog.rs` reads back every column kind over an
//! operator's schema.)

use crate::common;

use common::{Backend, TestApp, download, spawn_app, start_export, wait_until_done};
use egress::catalog::Cell;
use egress::formats::{self, EncodeOptions, FileColumn, Format};
use serde_json::{Value, json};

both_backends!(every_dataset_reads_back_the_same);

async fn export(app: &TestApp, c: &reqwest::Client, dataset: &str, format: &str) -> Vec<u8> {
    let job = start_export(app, c, json!({"dataset": dataset, "format": format})).await;
    let id = job["id"].as_str().unwrap();
    let done = wait_until_done(app, c, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (bytes, headers) = download(app, c, id).await;
    if format == "parquet" {
        assert_eq!(headers["content-type"], "application/vnd.apache.parquet");
    }
    bytes
}

/// Whether pyarrow's value and the NDJSON value are the same, for a column of `kind`.
fn same(kind: &str, parquet: &Value, ndjson: &Value) -> bool {
    match (kind, parquet, ndjson) {
        (_, Value::Null, Value::Null) => true,
        ("money" | "decimal", Value::String(p), Value::String(n)) => {
            common::parquet::decimal(p) == common::parquet::decimal(n)
        }
        ("timestamp", Value::String(p), Value::String(n)) => {
            chrono::DateTime::parse_from_rfc3339(p).unwrap() == chrono::DateTime::parse_from_rfc3339(n).unwrap()
        }
        _ => parquet == ndjson,
    }
}

async fn every_dataset_reads_back_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "owner@acme.test", 300, 7).await;
    let owner = app.logged_in("owner@acme.test").await;
    // Compressed already: gzip on top is refused, naming the option.
    for (format, label) in [("parquet", "Parquet"), ("xlsx", "Excel (XLSX)")] {
        let r = owner
            .post(app.url("/api/exports"))
            .json(&json!({"dataset": "contacts", "format": format, "options": {"gzip": true}}))
            .send()
            .await
            .unwrap();
        let (status, error) = common::error_of(r).await;
        assert_eq!(
            (status.as_u16(), error["field"].as_str().unwrap()),
            (400, "options.gzip")
        );
        common::says(&error, &format!("{label} files are compressed already"));
    }
    let catalog = app.get_json(&owner, "/api/datasets").await;
    for dataset in catalog["dataset"].as_array().unwrap() {
        let id = dataset["id"].as_str().unwrap();
        let columns: Vec<(&str, &str)> = dataset["column"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["kind"].as_str().unwrap()))
            .collect();
        let read = common::parquet::read(&export(&app, &owner, id, "parquet").await);
        let ndjson = export(&app, &owner, id, "ndjson").await;
        let objects: Vec<Value> = std::str::from_utf8(&ndjson)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();

        // Typed columns, named as in the catalog.
        let names: Vec<&str> = read.schema.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, columns.iter().map(|(n, _)| *n).collect::<Vec<_>>(), "{id}");
        for ((name, kind), (_, arrow)) in columns.iter().zip(&read.schema) {
            let expected = match *kind {
                "integer" => "int64",
                "money" => "decimal128(18, 3)",
                "timestamp" => "timestamp[us, tz=UTC]",
                "text_list" => "list<element: string>",
                "boolean" => "bool",
                "date" => "date32[day]",
                _ => "string",
            };
            assert_eq!(arrow, expected, "{id}.{name}");
        }

        // Row for row, value for value.
        assert_eq!(read.rows.len(), objects.len(), "{id}");
        assert!(!objects.is_empty(), "{id}");
        for (i, (row, object)) in read.rows.iter().zip(&objects).enumerate() {
            for ((name, kind), value) in columns.iter().zip(row) {
                assert!(
                    same(kind, value, &object[*name]),
                    "{id} row {i} column {name}: Parquet {value}, NDJSON {}",
                    object[*name]
                );
            }
        }
    }
}

/// A large file is cut into row groups of 32,768 rows (memory stays bounded), and an
/// empty one is still a file the reader opens.
#[test]
fn row_groups_bound_memory() {
    let parquet = Format::parse("parquet").unwrap();
    let columns: formats::FileColumns = vec![
        FileColumn {
            index: 0,
            name: "id".into(),
            label: "ID".into(),
            kind: egress::catalog::Kind::Integer,
        },
        FileColumn {
            index: 1,
            name: "note".into(),
            label: "Note".into(),
            kind: egress::catalog::Kind::Text,
        },
    ]
    .into();
    let write = |rows: i64| {
        let file = formats::Memory::default();
        let mut encoder = formats::encoder(parquet, columns.clone(), EncodeOptions::default(), file.output()).unwrap();
        for i in 0..rows {
            let note = if i % 3 == 0 {
                Cell::Null
            } else {
                Cell::Text(format!("row {i}"))
            };
            encoder.row(&[Cell::Integer(i), note]).unwrap();
        }
        encoder.finish().unwrap().close().unwrap();
        file.bytes()
    };
    let read = common::parquet::read(&write(250_001));
    assert_eq!(read.row_groups, 8, "250,001 rows in groups of 32,768");
    assert_eq!(read.rows.len(), 250_001);
    assert_eq!(read.rows[250_000], [json!(250_000), json!("row 250000")]);
    assert_eq!(read.rows[3], [json!(3), Value::Null]);
    let empty = common::parquet::read(&write(0));
    assert_eq!((empty.row_groups, empty.rows.len()), (0, 0));
}
