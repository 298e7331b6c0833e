//! Exported files judged by a real spreadsheet engine (LibreOffice Calc): hostile cells
//! never become formulas, whatever separator the CSV is opened with, and data at Excel's
//! limits (a 40,000-character note, amounts of every size) still exports, exactly or
//! with what was cut reported. On Postgres the CSV comes from the COPY fast path.

use crate::common;

use common::spreadsheet::{Open, cell_texts, formulas, libreoffice};
use common::{Backend, TestApp, download, spawn_app, start_export, wait_until_done};
use egress::catalog::Cell;
use egress::seed::GENERATORS;
use serde_json::json;

both_backends!(
    no_cell_becomes_a_formula_in_libreoffice,
    long_text_and_extreme_amounts_still_export,
);

/// Texts that a spreadsheet would run, straight or after splitting on another separator.
const HOSTILE: &[&str] = &[
    "=1+1",
    "x;=2+2;",
    "a\n=3+3",
    "a\r\n=4+4",
    " =5+5",
    "\t=6+6",
    "x\t=7+7",
    "+1+1",
    "-1+1",
    "@SUM(1)",
    "=HYPERLINK(\"http://evil.example\";\"click\")",
    "a;b\n=8+8;c",
    "\u{a0}=9+9",
    "\"=10+10\"",
    "x;\"=11+11",
    "ok, fine; =12+12",
];

/// Rows of `dataset` made by the seed generator, with every text cell hostile.
async fn hostile_rows(app: &TestApp, workspace: i64, dataset: &str) -> usize {
    let generator = GENERATORS.iter().find(|g| g.table == dataset).unwrap();
    let rows: Vec<Vec<Cell>> = generator
        .rows(HOSTILE.len() as u64, 3)
        .enumerate()
        .map(|(i, row)| {
            row.into_iter()
                .map(|cell| match cell {
                    Cell::Text(_) => Cell::Text(HOSTILE[i % HOSTILE.len()].into()),
                    Cell::List(_) => Cell::List(vec!["=tag".into(), HOSTILE[(i + 1) % HOSTILE.len()].into()]),
                    other => other,
                })
                .collect()
        })
        .collect();
    app.store
        .insert_rows(generator.table, workspace, generator.columns, &rows)
        .await
        .unwrap();
    rows.len()
}

async fn export(app: &TestApp, c: &reqwest::Client, dataset: &str, format: &str) -> (serde_json::Value, Vec<u8>) {
    let job = start_export(app, c, json!({"dataset": dataset, "format": format})).await;
    let id = job["id"].as_str().unwrap();
    let done = wait_until_done(app, c, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (bytes, _) = download(app, c, id).await;
    (done, bytes)
}

async fn no_cell_becomes_a_formula_in_libreoffice(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let rows = hostile_rows(&app, ws, "contacts").await;
    let c = app.logged_in("owner@acme.test").await;

    let (_, csv) = export(&app, &c, "contacts", "csv").await;
    for separator in [',', ';', '\t'] {
        let document = libreoffice(&csv, Open::Csv(separator));
        assert_eq!(
            formulas(&document),
            Vec::<String>::new(),
            "opened with {separator:?}, cells became formulas"
        );
    }
    // Read with its own separator, the hostile texts are there, as text.
    let cells = cell_texts(&libreoffice(&csv, Open::Csv(',')));
    for text in [
        "'=1+1",
        "'@SUM(1)",
        "'=HYPERLINK(\"http://evil.example\";\"click\")",
        "x;'=2+2;",
    ] {
        assert!(cells.iter().any(|c| c == text), "{text:?} is not a cell of the sheet");
    }
    assert!(cells.len() > rows, "every row was read");

    let (_, xlsx) = export(&app, &c, "contacts", "xlsx").await;
    let document = libreoffice(&xlsx, Open::Xlsx);
    assert_eq!(formulas(&document), Vec::<String>::new(), "XLSX cells became formulas");
    assert!(cell_texts(&document).iter().any(|c| c.contains("=HYPERLINK")));
}

async fn long_text_and_extreme_amounts_still_export(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 0, 1).await;
    let contacts = GENERATORS.iter().find(|g| g.table == "contacts").unwrap();
    let orders = GENERATORS.iter().find(|g| g.table == "orders").unwrap();
    let note = contacts.columns.iter().position(|c| *c == "notes").unwrap();
    let total = orders.columns.iter().position(|c| *c == "total_cents").unwrap();
    let currency = orders.columns.iter().position(|c| *c == "currency").unwrap();

    let mut row = contacts.rows(1, 4).next().unwrap();
    row[note] = Cell::Text(format!("{}END", "Zoë ".repeat(10_000)));
    app.store
        .insert_rows(contacts.table, ws, contacts.columns, &[row])
        .await
        .unwrap();
    let amounts = [i64::MIN, i64::MAX, 9_007_199_254_740_993, 123_456_789_012_345, -5];
    let rows: Vec<Vec<Cell>> = orders
        .rows(amounts.len() as u64, 5)
        .zip(amounts)
        .map(|(mut row, cents)| {
            row[total] = Cell::cents(cents);
            row[currency] = Cell::Text("EUR".into());
            row
        })
        .collect();
    app.store
        .insert_rows(orders.table, ws, orders.columns, &rows)
        .await
        .unwrap();
    let c = app.logged_in("owner@acme.test").await;

    // XLSX: the note is cut to Excel's limit and the job says so.
    let (done, xlsx) = export(&app, &c, "contacts", "xlsx").await;
    assert_eq!(done["shortened_cells"], 1, "{done}");
    let document = libreoffice(&xlsx, Open::Xlsx);
    let longest = cell_texts(&document).iter().map(|c| c.chars().count()).max().unwrap();
    assert_eq!(longest, 32_767);
    // Other formats keep it whole.
    let (done, csv) = export(&app, &c, "contacts", "csv").await;
    assert_eq!(done["shortened_cells"], 0);
    assert!(String::from_utf8(csv).unwrap().contains("Zoë END"));

    // Every amount exports: exactly, as a number where Excel keeps every digit, else as text.
    let (_, csv) = export(&app, &c, "orders", "csv").await;
    let csv = String::from_utf8(csv).unwrap();
    for shown in [
        "-92233720368547758.08",
        "92233720368547758.07",
        "90071992547409.93",
        "1234567890123.45",
        "-0.05",
    ] {
        assert!(csv.contains(shown), "{shown} missing from the CSV");
    }
    let (_, xlsx) = export(&app, &c, "orders", "xlsx").await;
    let sheet = sheet_xml(&xlsx);
    assert!(sheet.contains("<v>1234567890123.45</v>"), "a number cell, exact");
    assert!(sheet.contains("<v>-0.05</v>"));
    for text in ["-92233720368547758.08", "90071992547409.93"] {
        assert!(sheet.contains(&format!(">{text}<")), "{text} as exact text");
    }
}

/// The first sheet's XML of an XLSX file.
fn sheet_xml(xlsx: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut sheet = zip.by_name("xl/worksheets/sheet1.xml").unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(&mut sheet, &mut xml).unwrap();
    xml
}
