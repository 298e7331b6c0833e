//! On Postgres a CSV, JSON, NDJSON or Parquet export is read in bulk (COPY) and made into the
//! format's records, instead of decoded row by row. Both roads must give the same bytes,
//! in every such format: every demo dataset, with and without filters and with chosen
//! columns, and a table with a column of every kind, over seeded
//! data plus rows made of the hard cases (formula triggers, numbers that look like
//! them, formulas after white space or after a `;`, tab or line break inside the text,
//! quotes, commas, semicolons, line breaks, empty text, NULLs, non-ASCII, cents across the
//! whole i64 range, sub-second times, tags with commas).

use crate::common;

use chrono::Duration;
use common::{Backend, database};
use egress::catalog::{Catalog, Cell, Dataset, FilterValues, Filters, Kind, filters};
use egress::formats::{self, EncodeOptions, Format};
use egress::seed::{GENERATORS, span_start};
use egress::source::{Parallelism, RowBatch, RowSink, Source};
use egress::store::{self, NewUser};
use std::sync::Arc;

const TEXTS: &[&str] = &[
    "",
    "\\.",
    "-5",
    "+3.5",
    "5.",
    "-",
    "=1+1",
    "@x",
    "\tTab",
    "\rCR",
    "\nLF",
    "a,b \"c\"\nd\r\ne",
    "Zoë 🙂",
    " spaced ",
    "'quoted",
    "+",
    "-0.50",
    "=",
    "x;=1+1;",
    " =1+1",
    "\u{a0}@x",
    "a\n=2+2",
    "a\r\n+3",
    "x\t=4",
    "x;-5;y",
    "\"q\";=a,\"b\"",
    "a;b",
    "tab\tonly",
];
const CENTS: &[i64] = &[
    -50,
    -1,
    0,
    5,
    -100,
    12_345_678_901,
    -12_345_678_901,
    99,
    i64::MIN,
    i64::MAX,
];
const MICROS: &[i64] = &[0, 500_000, 123_456, 1_000, 999_999, 10];

fn tags(j: usize) -> Vec<String> {
    let sets: &[&[&str]] = &[
        &[],
        &["=a"],
        &["b,c", "d\"e"],
        &["-1"],
        &["x y", "vip"],
        &["a;=b", "c\td"],
    ];
    sets[j % sets.len()].iter().map(|t| t.to_string()).collect()
}

/// Generated rows with every text, money, time and tag cell swapped for a hard case.
fn hard_rows(generator: &egress::seed::Generator, dataset: &Dataset, count: usize) -> Vec<Vec<Cell>> {
    generator
        .rows(count as u64, 99)
        .enumerate()
        .map(|(j, row)| {
            row.into_iter()
                .zip(generator.columns)
                .enumerate()
                .map(|(c, (cell, name))| {
                    let kind = dataset.column(name).unwrap().kind;
                    let k = j + c;
                    match (kind, cell) {
                        (_, Cell::Null) if j % 2 == 0 => Cell::Null,
                        (Kind::Text, _) if *name == "currency" => {
                            Cell::Text(["EUR", "JPY", "KWD", "usd"][k % 4].into())
                        }
                        (Kind::Text, _) => Cell::Text(TEXTS[k % TEXTS.len()].into()),
                        (Kind::Money, _) => Cell::cents(CENTS[k % CENTS.len()]),
                        (Kind::Timestamp, _) => Cell::Timestamp(
                            span_start() + Duration::days(k as i64) + Duration::microseconds(MICROS[k % MICROS.len()]),
                        ),
                        (Kind::TextList, _) => Cell::List(tags(k)),
                        (_, cell) => cell,
                    }
                })
                .collect()
        })
        .collect()
}

/// The formats that are read in bulk.
const FORMATS: [&str; 4] = ["csv", "json", "ndjson", "parquet"];

/// The whole file in `format` by one road: records read in bulk (COPY, by `readers`
/// connections), or the encoder's rows (`readers` 0); or why it could not be written (a
/// value the format cannot hold, such as an amount past Parquet's DECIMAL(18,3)).
async fn file_of(
    source: &Source,
    dataset: &Arc<Dataset>,
    tenant: &str,
    filters: &Filters,
    columns: Option<&[String]>,
    format: &str,
    readers: usize,
) -> Result<Vec<u8>, String> {
    file_while(source, dataset, tenant, filters, columns, format, readers, async {}).await
}

/// `file_of`, running `during` once the count has come (the snapshot is taken) and
/// before the first batch is taken in.
#[allow(clippy::too_many_arguments)]
async fn file_while(
    source: &Source,
    dataset: &Arc<Dataset>,
    tenant: &str,
    filters: &Filters,
    columns: Option<&[String]>,
    format: &str,
    readers: usize,
    during: impl std::future::Future<Output = ()>,
) -> Result<Vec<u8>, String> {
    let format = Format::parse(format).unwrap();
    let (sink, mut rx, counted) = RowSink::new(4);
    let file_columns = formats::file_columns(dataset, columns);
    let reading = {
        let (source, dataset, filters, tenant) = (source.clone(), dataset.clone(), filters.clone(), tenant.to_owned());
        let file_columns = file_columns.clone();
        tokio::spawn(async move {
            if readers > 0 {
                assert!(source.reads_in_bulk());
                let writer = (format.records.unwrap())(&file_columns).into();
                source
                    .read_parallelism(Parallelism::Fixed(readers))
                    .export_records(dataset, &tenant, &filters, &file_columns, writer, 100, sink)
                    .await
                    .map_err(|e| e.to_string())
            } else {
                source
                    .export_rows(dataset, &tenant, &filters, None, 100, sink)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
        })
    };
    let file = formats::Memory::default();
    let mut encoder = formats::encoder(format, file_columns, EncodeOptions::default(), file.output()).unwrap();
    let count = counted.await.ok();
    during.await;
    let mut rows_seen = 0;
    while let Some(batch) = rx.recv().await {
        let encoded = match batch {
            RowBatch::Rows(rows) => {
                rows_seen += rows.len();
                rows.iter().try_for_each(|row| encoder.row(row))
            }
            RowBatch::Next => panic!("one dataset's read has no parts"),
            RowBatch::Encoded { bytes, rows } => {
                rows_seen += rows;
                encoder.encoded(&bytes)
            }
        };
        if let Err(e) = encoded {
            drop(rx);
            let _ = reading.await.unwrap();
            return Err(e.to_string());
        }
    }
    reading.await.unwrap()?;
    assert_eq!(
        count,
        Some(rows_seen as i64),
        "{}: the count and the rows agree",
        dataset.id
    );
    encoder.finish().unwrap().close().unwrap();
    Ok(file.bytes())
}

/// Both roads wrote the same bytes, or both failed for the same reason.
fn same_bytes(what: &str, by_copy: &Result<Vec<u8>, String>, by_rows: &Result<Vec<u8>, String>) {
    let (by_copy, by_rows) = match (by_copy, by_rows) {
        (Ok(by_copy), Ok(by_rows)) => (by_copy, by_rows),
        (Err(copy), Err(rows)) => {
            assert!(
                copy.contains(rows.as_str()),
                "{what}: COPY failed with {copy:?}, rows with {rows:?}"
            );
            return;
        }
        (by_copy, by_rows) => panic!(
            "{what}: COPY gave {:?}, rows {:?}",
            by_copy.as_ref().map(Vec::len),
            by_rows.as_ref().map(Vec::len)
        ),
    };
    if by_copy != by_rows {
        let (a, b) = (String::from_utf8_lossy(by_copy), String::from_utf8_lossy(by_rows));
        let (line, (x, y)) = a
            .split('\n')
            .zip(b.split('\n'))
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .unwrap_or((0, ("(lengths differ)", "")));
        panic!("{what}, line {line}:\n  COPY:    {x:?}\n  encoder: {y:?}");
    }
}

fn values(pairs: &[(&str, &str)]) -> FilterValues {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_writes_the_same_bytes_as_the_encoder() {
    let (url, _database) = database(Backend::Postgres).await;
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let catalog = Catalog::load(None).unwrap();
    let owner = NewUser {
        email: "owner@csv.test".into(),
        name: "=HYPERLINK(\"http://x\")".into(),
        password_hash: "x".into(),
    };
    let (_, workspace) = store.create_account("CSV", &owner).await.unwrap();
    for (i, name) in ["Zoë, \"Z\"", "-2", "\nNew line", ""].iter().enumerate() {
        let user = NewUser {
            email: format!("member{i}@csv.test"),
            name: name.to_string(),
            password_hash: "x".into(),
        };
        let id = store.create_user(&user).await.unwrap();
        store.add_membership(workspace, id, "member").await.unwrap();
    }
    for generator in GENERATORS {
        egress::seed::seed_dataset(&store, generator, workspace, 1_500, 5)
            .await
            .unwrap();
        let dataset = catalog.find(generator.table).unwrap();
        store
            .insert_rows(
                generator.table,
                workspace,
                generator.columns,
                &hard_rows(generator, dataset, 60),
            )
            .await
            .unwrap();
    }
    let source = Source::connect(&url).await.unwrap();
    let tenant = workspace.to_string();
    for dataset in &catalog.datasets {
        let mut cases = vec![
            values(&[]),
            values(&[("created_from", "2024-01-21"), ("created_to", "2025-02-04")]),
        ];
        if let Some(status) = dataset.filter("status") {
            cases.push(values(&[("status", &status.values[0])]));
        }
        if dataset.filter("tag").is_some() {
            for tag in ["=a", "b,c", "x'; DROP TABLE contacts; --"] {
                cases.push(values(&[("tag", tag)]));
            }
        }
        for case in cases {
            let checked = filters::check(dataset, &case).unwrap();
            for format in FORMATS {
                let by_rows = file_of(&source, dataset, &tenant, &checked, None, format, 0).await;
                // One reader, and three splitting the rows (ranges of about 520 rows).
                for readers in [1, 3] {
                    let by_copy = file_of(&source, dataset, &tenant, &checked, None, format, readers).await;
                    same_bytes(
                        &format!("{} {format} {case:?} ×{readers}", dataset.id),
                        &by_copy,
                        &by_rows,
                    );
                }
            }
        }
        // Chosen columns, reversed: money without its currency column, which COPY still reads.
        let chosen: Vec<String> = dataset
            .columns
            .iter()
            .rev()
            .step_by(2)
            .map(|c| c.name.clone())
            .collect();
        for format in FORMATS {
            let by_copy = file_of(&source, dataset, &tenant, &Filters::default(), Some(&chosen), format, 2).await;
            let by_rows = file_of(&source, dataset, &tenant, &Filters::default(), Some(&chosen), format, 0).await;
            same_bytes(
                &format!("{} {format} columns {chosen:?}", dataset.id),
                &by_copy,
                &by_rows,
            );
        }
    }
}

/// A table with a column of every kind, read through a catalog of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_written_the_same_by_both_roads() {
    let (url, _database) = database(Backend::Postgres).await;
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let admin = egress::store::PgStore::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE every_kind (
            tenant uuid NOT NULL, created timestamp NOT NULL, id uuid NOT NULL,
            n bigint, d numeric(20, 4), m bigint, cur text, t text, b boolean, day date,
            at timestamptz, u uuid, j jsonb, l text[]);
         INSERT INTO every_kind
         SELECT '7d4f1c2e-0000-4000-8000-000000000001', '2025-01-01 00:00:00', gen_random_uuid(),
                CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1000003 - 500 END,
                CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 12.3457 - 90)::numeric(20, 4) END,
                (i * 1234567) - 9000000,
                (ARRAY['EUR', 'JPY', 'KWD', NULL])[1 + i % 4],
                (ARRAY['=1+1', 'x;=2', 'a,b \"c\"', '', NULL, 'Zoë', ' @x', 'a\n=3'])[1 + i % 8],
                CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END,
                DATE '2024-02-28' + i,
                TIMESTAMPTZ '2024-01-01 00:00:00.5+00' + i * INTERVAL '1 hour 1.25 second',
                CASE WHEN i % 4 = 0 THEN NULL ELSE gen_random_uuid() END,
                (ARRAY['{\"a\": 1}', '[1, \"=x\", null]', '\"=HYPERLINK()\"', '-5', NULL])[1 + i % 5]::jsonb,
                CASE i % 4 WHEN 0 THEN ARRAY['x', '=y'] WHEN 1 THEN ARRAY['a;b', 'c'] WHEN 2 THEN ARRAY[]::text[] END
         FROM generate_series(1, 400) AS i;",
    )
    .execute(admin.pool())
    .await
    .unwrap();
    let catalog = Catalog::from_toml(
        r#"
        [[dataset]]
        id = "every-kind"
        label = "Every kind"
        source = "public.every_kind"
        tenant = { column = "tenant", type = "uuid" }
        key = ["created", "id"]
        column = [
            { name = "created", label = "Created", kind = "timestamp" },
            { name = "id", label = "ID", kind = "uuid" },
            { name = "n", label = "N", kind = "integer" },
            { name = "d", label = "D", kind = "decimal" },
            { name = "m", label = "M", kind = "money", currency_column = "cur" },
            { name = "cur", label = "Currency", kind = "text" },
            { name = "t", label = "T", kind = "text" },
            { name = "b", label = "B", kind = "boolean" },
            { name = "day", label = "Day", kind = "date" },
            { name = "at", label = "At", kind = "timestamp" },
            { name = "u", label = "U", kind = "uuid" },
            { name = "j", label = "J", kind = "json" },
            { name = "l", label = "L", kind = "text_list" },
        ]
        "#,
        "every kind",
    )
    .unwrap();
    let source = Source::connect(&url).await.unwrap();
    let dataset = &catalog.datasets[0];
    let tenant = "7D4F1C2E-0000-4000-8000-000000000001";
    for format in FORMATS {
        let by_copy = file_of(&source, dataset, tenant, &Filters::default(), None, format, 1).await;
        let by_rows = file_of(&source, dataset, tenant, &Filters::default(), None, format, 0).await;
        same_bytes(&format!("every kind, {format}"), &by_copy, &by_rows);
    }
    let by_rows = file_of(&source, dataset, tenant, &Filters::default(), None, "csv", 0).await;
    let text = String::from_utf8(by_rows.unwrap()).unwrap();
    assert_eq!(text.matches("\r\n").count(), 401, "a header and every row");
    for written in ["'=1+1", "\"x;'=2\"", "true", "false", "2024-02-29", ".500Z"] {
        assert!(text.contains(written), "{written} missing");
    }
    let chosen = vec!["m".to_owned(), "j".to_owned(), "created".to_owned()];
    for format in FORMATS {
        let by_copy = file_of(&source, dataset, tenant, &Filters::default(), Some(&chosen), format, 4).await;
        let by_rows = file_of(&source, dataset, tenant, &Filters::default(), Some(&chosen), format, 0).await;
        same_bytes(&format!("every kind, {format}, chosen columns"), &by_copy, &by_rows);
    }
}

/// A migrated database with a workspace of `rows` seeded contacts.
async fn with_contacts(url: &str, rows: u64) -> (store::DynStore, i64) {
    let store = store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let owner = NewUser {
        email: "owner@copy.test".into(),
        name: "Owner".into(),
        password_hash: "x".into(),
    };
    let (_, workspace) = store.create_account("Copy", &owner).await.unwrap();
    egress::seed::seed_dataset(&store, &GENERATORS[0], workspace, rows, 1)
        .await
        .unwrap();
    (store, workspace)
}

/// Several readers split the rows into key ranges, each on its own connection: they
/// must read the one snapshot of the count, so rows inserted and deleted while they run
/// (here: the moment the count is known, before the ranges' connections begin) are in
/// none of them, and the file equals one reader's, row for row in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parallel_read_keeps_its_snapshot_and_order() {
    let (url, _database) = database(Backend::Postgres).await;
    let (store, workspace) = with_contacts(&url, 30_000).await;
    let generator = &GENERATORS[0];
    let catalog = Catalog::load(None).unwrap();
    let contacts = Arc::new(catalog.find("contacts").unwrap().clone());
    let source = Source::connect(&url).await.unwrap();
    let tenant = workspace.to_string();
    let none = Filters::default();
    let before = file_of(&source, &contacts, &tenant, &none, None, "csv", 1).await;
    let admin = egress::store::PgStore::connect(&url).await.unwrap();
    let changes = async {
        // Rows gone from every part of the key range, and new ones across it.
        let deleted = sqlx::query("DELETE FROM contacts WHERE workspace_id = $1 AND id % 97 = 0")
            .bind(workspace)
            .execute(admin.pool())
            .await
            .unwrap()
            .rows_affected();
        assert!(deleted > 200, "{deleted} rows deleted");
        store
            .insert_rows(
                generator.table,
                workspace,
                generator.columns,
                &hard_rows(generator, &contacts, 500),
            )
            .await
            .unwrap();
    };
    let during = file_while(&source, &contacts, &tenant, &none, None, "csv", 4, changes).await;
    same_bytes("4 readers while rows change", &during, &before);
    // The changes are there for the next read, by either road.
    let after = file_of(&source, &contacts, &tenant, &none, None, "csv", 4).await;
    let after_rows = file_of(&source, &contacts, &tenant, &none, None, "csv", 0).await;
    assert_ne!(after, before);
    same_bytes("4 readers after the change", &after, &after_rows);
}

/// A reader that stops mid-COPY (a cancel, a failed upload) must not leave a broken
/// connection in the pool: sqlx leaves the rest of the COPY unread on the socket, and the
/// next query on it failed ("expected ParseComplete, got ReadyForQuery").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_leaves_the_pool_healthy() {
    let (url, _database) = database(Backend::Postgres).await;
    let (_store, workspace) = with_contacts(&url, 20_000).await;
    let catalog = Catalog::load(None).unwrap();
    let contacts = catalog.find("contacts").unwrap().clone();
    let source = Source::connect(&url).await.unwrap();
    let columns = formats::file_columns(&contacts, None);
    let csv = Format::parse("csv").unwrap().records.unwrap();
    for readers in [1, 1, 1, 2, 3] {
        let (sink, mut rows, _count) = RowSink::new(1);
        let reading = {
            let (source, contacts, columns) = (source.clone(), contacts.clone(), columns.clone());
            let tenant = workspace.to_string();
            tokio::spawn(async move {
                source
                    .read_parallelism(Parallelism::Fixed(readers))
                    .export_records(
                        contacts,
                        &tenant,
                        &Filters::default(),
                        &columns,
                        csv(&columns).into(),
                        100,
                        sink,
                    )
                    .await
            })
        };
        rows.recv().await.expect("a first batch");
        drop(rows); // the consumer goes mid-COPY
        reading.await.unwrap().unwrap();
    }
    for i in 0..30 {
        source
            .ping()
            .await
            .unwrap_or_else(|e| panic!("query {i} after interrupted COPYs: {e}"));
    }
}
