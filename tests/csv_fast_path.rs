//! On Postgres a CSV export is written by the database itself (COPY) instead of row by
//! row. Both roads must give the same bytes: every dataset, with and without filters, over
//! seeded data plus rows made of the hard cases (formula triggers, numbers that look like
//! them, formulas after white space or after a `;`, tab or line break inside the text,
//! quotes, commas, semicolons, line breaks, empty text, NULLs, non-ASCII, cents across the
//! whole i64 range, sub-second times, tags with commas).

mod common;

use chrono::Duration;
use common::{Backend, database};
use egress::datasets::{CATALOG, Cell, ColumnKind, Dataset, Filters};
use egress::formats::{self, EncodeOptions, Format};
use egress::seed::{GENERATORS, span_start};
use egress::store::{self, DynStore, NewUser, RowBatch, RowSink};

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
fn hard_rows(generator: &egress::seed::Generator, count: usize) -> Vec<Vec<Cell>> {
    let dataset = generator.dataset;
    generator
        .rows(count as u64, 99)
        .enumerate()
        .map(|(j, row)| {
            row.into_iter()
                .zip(generator.columns)
                .enumerate()
                .map(|(c, (cell, name))| {
                    let kind = dataset.columns.iter().find(|col| col.name == *name).unwrap().kind;
                    let k = j + c;
                    match (kind, cell) {
                        (_, Cell::Null) if j % 2 == 0 => Cell::Null,
                        (ColumnKind::Text, _) => Cell::Text(TEXTS[k % TEXTS.len()].into()),
                        (ColumnKind::Money, _) => Cell::Money(CENTS[k % CENTS.len()]),
                        (ColumnKind::Timestamp, _) => Cell::Timestamp(
                            span_start() + Duration::days(k as i64) + Duration::microseconds(MICROS[k % MICROS.len()]),
                        ),
                        (ColumnKind::Tags, _) => Cell::Tags(tags(k)),
                        (_, cell) => cell,
                    }
                })
                .collect()
        })
        .collect()
}

/// The whole CSV file by one road: the database's records, or the encoder's rows.
async fn csv_file(
    store: &DynStore,
    dataset: &'static Dataset,
    workspace: i64,
    filters: &Filters,
    copy: bool,
) -> Vec<u8> {
    let (sink, mut rx, counted) = RowSink::new(4);
    let reading = {
        let (store, filters) = (store.clone(), filters.clone());
        tokio::spawn(async move {
            if copy {
                assert!(store.writes_csv());
                store.export_csv(dataset, workspace, &filters, 100, sink).await.unwrap();
            } else {
                store
                    .export_rows(dataset, workspace, &filters, 100, sink)
                    .await
                    .unwrap();
            }
        })
    };
    let mut encoder = formats::encoder(Format::Csv, dataset.columns, EncodeOptions::default(), Vec::new()).unwrap();
    let mut rows_seen = 0;
    while let Some(batch) = rx.recv().await {
        match batch {
            RowBatch::Rows(rows) => {
                rows_seen += rows.len();
                for row in &rows {
                    encoder.row(row).unwrap();
                }
            }
            RowBatch::Csv { bytes, rows } => {
                rows_seen += rows;
                encoder.encoded(&bytes).unwrap();
            }
        }
    }
    reading.await.unwrap();
    assert_eq!(
        counted.await.ok(),
        Some(rows_seen as i64),
        "{}: the count and the rows agree",
        dataset.id
    );
    encoder.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_writes_the_same_bytes_as_the_encoder() {
    let (url, _database) = database(Backend::Postgres).await;
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
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
        store
            .insert_rows(
                generator.dataset,
                workspace,
                generator.columns,
                &hard_rows(generator, 60),
            )
            .await
            .unwrap();
    }

    for dataset in CATALOG {
        let mut cases = vec![
            Filters::default(),
            Filters {
                status: dataset.statuses.first().map(|s| s.to_string()),
                ..Default::default()
            },
            Filters {
                created_from: Some(span_start() + Duration::days(20)),
                created_to: Some(span_start() + Duration::days(400)),
                ..Default::default()
            },
        ];
        if dataset.has_tags {
            for tag in ["=a", "b,c", "x'; DROP TABLE contacts; --"] {
                cases.push(Filters {
                    tag: Some(tag.into()),
                    ..Default::default()
                });
            }
        }
        for filters in cases {
            let by_copy = csv_file(&store, dataset, workspace, &filters, true).await;
            let by_rows = csv_file(&store, dataset, workspace, &filters, false).await;
            if by_copy != by_rows {
                let (a, b) = (String::from_utf8_lossy(&by_copy), String::from_utf8_lossy(&by_rows));
                let (line, (x, y)) = a
                    .split("\r\n")
                    .zip(b.split("\r\n"))
                    .enumerate()
                    .find(|(_, (x, y))| x != y)
                    .unwrap_or((0, ("(lengths differ)", "")));
                panic!(
                    "{} {filters:?}, line {line}:\n  COPY:    {x:?}\n  encoder: {y:?}",
                    dataset.id
                );
            }
        }
    }
}

/// A reader that stops mid-COPY (a cancel, a failed upload) must not leave a broken
/// connection in the pool: sqlx leaves the rest of the COPY unread on the socket, and the
/// next query on it failed ("expected ParseComplete, got ReadyForQuery").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_leaves_the_pool_healthy() {
    let (url, _database) = database(Backend::Postgres).await;
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let owner = NewUser {
        email: "owner@copy.test".into(),
        name: "Owner".into(),
        password_hash: "x".into(),
    };
    let (_, workspace) = store.create_account("Copy", &owner).await.unwrap();
    let contacts = &GENERATORS[0];
    egress::seed::seed_dataset(&store, contacts, workspace, 20_000, 1)
        .await
        .unwrap();
    for _ in 0..3 {
        let (sink, mut rows, _count) = RowSink::new(1);
        let reading = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .export_csv(contacts.dataset, workspace, &Filters::default(), 100, sink)
                    .await
            })
        };
        rows.recv().await.expect("a first batch");
        drop(rows); // the consumer goes mid-COPY
        reading.await.unwrap().unwrap();
    }
    for i in 0..30 {
        store
            .ping()
            .await
            .unwrap_or_else(|e| panic!("query {i} after interrupted COPYs: {e}"));
    }
}
