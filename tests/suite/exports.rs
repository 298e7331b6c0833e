//! Exports end to end over HTTP, on SQLite and Postgres with local-disk storage: create,
//! follow, download through the signed URL, and compare the file with the database.

use crate::common;

use common::{
    Backend, client, csv_text, download, rows_via_pages, spawn_app, spawn_app_with, start_export, wait_until_done,
};
use serde_json::{Value, json};
use std::io::Read;
use std::time::Duration;

both_backends!(
    csv_round_trip_matches_the_database,
    json_ndjson_and_gzip_round_trip,
    xlsx_is_a_workbook_with_every_row,
    bad_requests_name_the_field_and_write_nothing,
    three_exports_at_most_even_when_racing,
    other_workspaces_get_404_everywhere,
    cancel_a_pending_export_then_delete_it,
    progress_stream_ends_on_completion,
    email_arrives_and_expiry_cleans_up,
);

const ROWS: u64 = 180;

async fn csv_round_trip_matches_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    app.workspace_with_data("Globex", "b@globex.test", 40, 2).await;
    let c = app.logged_in("a@acme.test").await;
    let filters = [("status", "paid"), ("created_from", "2024-03-01")];
    let job = start_export(
        &app,
        &c,
        json!({"dataset": "orders", "format": "csv", "filters": {"status": "paid", "created_from": "2024-03-01"}, "options": {"bom": true}}),
    )
    .await;
    assert_eq!(job["status"], "pending");
    let done = wait_until_done(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");

    let expected = rows_via_pages(&app, &c, "orders", &filters).await;
    assert!(!expected.is_empty());
    assert_eq!(done["total_rows"], expected.len());
    assert_eq!(done["processed_rows"], expected.len());

    let (bytes, headers) = download(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(done["bytes"], bytes.len());
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"orders-") && disposition.contains(".csv"),
        "{disposition}"
    );
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "BOM first");

    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let catalog = egress::catalog::Catalog::load(None).unwrap();
    let labels: Vec<&str> = catalog
        .find("orders")
        .unwrap()
        .columns
        .iter()
        .map(|c| c.label.as_str())
        .collect();
    assert_eq!(header, labels);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), expected.len());
    for (record, row) in records.iter().zip(&expected) {
        let want: Vec<String> = row.as_array().unwrap().iter().map(csv_text).collect();
        let got: Vec<&str> = record.iter().collect();
        assert_eq!(got, want);
    }
    // The hard cases made it through: quotes, line breaks, neutralised formulas.
    let all = String::from_utf8(bytes).unwrap();
    assert!(all.contains("\r\n"));
    assert!(
        !all.contains(",=") && !all.contains(",\"="),
        "a formula was not neutralised"
    );
}

async fn json_ndjson_and_gzip_round_trip(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let expected = rows_via_pages(&app, &c, "transactions", &[("tag", "manual")]).await;

    let job = start_export(
        &app,
        &c,
        json!({"dataset": "transactions", "format": "json", "filters": {"tag": "manual"}}),
    )
    .await;
    wait_until_done(&app, &c, job["id"].as_str().unwrap()).await;
    let (bytes, _) = download(&app, &c, job["id"].as_str().unwrap()).await;
    let array: Vec<Value> = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(array.len(), expected.len());
    for (object, row) in array.iter().zip(&expected) {
        assert_eq!(object["id"], row[0]["Integer"]);
        assert_eq!(object["reference"], row[1]["Text"]);
        let money = &row[5]["Money"];
        assert_eq!(
            object["amount_cents"].as_str().unwrap(),
            egress::catalog::format_minor(money["minor"].as_i64().unwrap(), money["scale"].as_u64().unwrap() as u8)
        );
        assert!(object["tags"].as_array().unwrap().iter().any(|t| t == "manual"));
    }

    let job = start_export(
        &app,
        &c,
        json!({"dataset": "transactions", "format": "ndjson", "filters": {"tag": "manual"}, "options": {"gzip": true}}),
    )
    .await;
    let done = wait_until_done(&app, &c, job["id"].as_str().unwrap()).await;
    assert!(done["file_name"].as_str().unwrap().ends_with(".ndjson.gz"));
    let (gz, headers) = download(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(headers["content-type"], "application/gzip");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, array);

    // Local-disk downloads answer Range requests (resumable downloads).
    let part = c
        .get(app.url(&format!("/exports/{}/download", job["id"].as_str().unwrap())))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap().to_vec(), gz[10..20].to_vec());

    // An export that matches nothing is still a valid file.
    let job = start_export(
        &app,
        &c,
        json!({"dataset": "transactions", "format": "json", "filters": {"created_to": "2000-01-01"}}),
    )
    .await;
    let done = wait_until_done(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(done["total_rows"], 0);
    let (bytes, _) = download(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(serde_json::from_slice::<Value>(&bytes).unwrap(), json!([]));
}

async fn xlsx_is_a_workbook_with_every_row(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "contacts", "format": "xlsx"})).await;
    let done = wait_until_done(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (bytes, headers) = download(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(
        headers["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert_eq!(sheet.matches("<row ").count() as u64, ROWS + 1, "header and every row");
    assert!(sheet.contains("First name"));
    assert!(!sheet.contains("<f>"), "no formulas in the sheet");
}

async fn bad_requests_name_the_field_and_write_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", 5, 1).await;
    let c = app.logged_in("a@acme.test").await;
    for (body, message) in [
        (
            json!({"dataset": "invoices", "format": "csv"}),
            "dataset: unknown dataset `invoices`",
        ),
        (
            json!({"dataset": "orders", "format": "pdf"}),
            "format: unknown format `pdf`",
        ),
        (
            json!({"dataset": "orders", "format": "csv", "filters": {"created_from": "soon"}}),
            "created_from: `soon` is not a date",
        ),
        (
            json!({"dataset": "orders", "format": "csv", "filters": {"created_from": "2025-02-01", "created_to": "2025-01-01"}}),
            "created_to: the range ends before it starts",
        ),
        (
            json!({"dataset": "orders", "format": "csv", "filters": {"status": "lost"}}),
            "status: `lost` is not one of: pending, paid",
        ),
        (
            json!({"dataset": "orders", "format": "json", "options": {"bom": true}}),
            "options.bom: only CSV files",
        ),
        (
            json!({"dataset": "orders", "format": "csv", "colour": "red"}),
            "unknown field `colour`",
        ),
        (
            json!({"dataset": "orders", "format": "csv", "filters": {"stauts": "paid"}}),
            "filters.stauts: unknown filter",
        ),
    ] {
        let r = c.post(app.url("/api/exports")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let error: Value = r.json().await.unwrap();
        let text = error["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text} should contain {message}");
    }
    let list: Value = c
        .get(app.url("/api/exports"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0, "nothing was created");
    let r = client()
        .post(app.url("/api/exports"))
        .json(&json!({"dataset": "orders", "format": "csv"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

async fn three_exports_at_most_even_when_racing(backend: Backend) {
    // No worker: the jobs stay pending, so the limit is what decides.
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    app.workspace_with_data("Acme", "a@acme.test", 5, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let requests = (0..10).map(|_| {
        let c = c.clone();
        let url = app.url("/api/exports");
        tokio::spawn(async move {
            let r = c
                .post(url)
                .json(&json!({"dataset": "contacts", "format": "csv"}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    });
    let answers: Vec<(u16, String)> = futures::future::join_all(requests)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(answers.iter().filter(|(s, _)| *s == 202).count(), 3, "{answers:?}");
    let refused: Vec<&String> = answers.iter().filter(|(s, _)| *s == 429).map(|(_, b)| b).collect();
    assert_eq!(refused.len(), 7, "{answers:?}");
    assert!(refused[0].contains("already has 3 exports running"), "{}", refused[0]);
    let list: Value = c
        .get(app.url("/api/exports"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 3);
}

async fn other_workspaces_get_404_everywhere(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", 20, 1).await;
    app.workspace_with_data("Globex", "b@globex.test", 20, 2).await;
    let a = app.logged_in("a@acme.test").await;
    let b = app.logged_in("b@globex.test").await;
    let job = start_export(&app, &a, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    wait_until_done(&app, &a, id).await;
    for (method, path) in [
        ("GET", format!("/api/exports/{id}")),
        ("GET", format!("/api/exports/{id}/events")),
        ("GET", format!("/exports/{id}/download")),
        ("DELETE", format!("/api/exports/{id}")),
    ] {
        let r = b.request(method.parse().unwrap(), app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    let list: Value = b
        .get(app.url("/api/exports"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);
    // Still there for its owner.
    let r = a.get(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = a.get(app.url("/api/exports/not-a-uuid")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

async fn cancel_a_pending_export_then_delete_it(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.no_worker = true).await;
    app.workspace_with_data("Acme", "a@acme.test", 5, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    let r = c.delete(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cancelled: Value = r.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    let r = c.get(app.url(&format!("/exports/{id}/download"))).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let r = c.delete(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = c.get(app.url(&format!("/api/exports/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(app.url("/api/exports")).send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["total"],
        0,
        "a deleted export is not listed"
    );
    // Its audit trail outlives it, with who did what.
    let events = egress::store::jobs::events(app.store.as_ref(), uuid::Uuid::parse_str(id).unwrap())
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["created", "cancelled", "deleted"],
        "a pending export is cancelled at once"
    );
    assert!(events.iter().all(|(_, user, _)| user.is_some()), "{events:?}");
}

async fn progress_stream_ends_on_completion(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "orders", "format": "ndjson"})).await;
    let id = job["id"].as_str().unwrap();
    let r = c
        .get(app.url(&format!("/api/exports/{id}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    // A proxy in front (nginx) must pass each event on as it comes, not buffer them.
    assert_eq!(r.headers()["x-accel-buffering"], "no");
    // The stream ends by itself after the terminal state.
    let body = tokio::time::timeout(Duration::from_secs(30), r.text())
        .await
        .expect("stream ended")
        .unwrap();
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(body.contains("event: progress"));
    let last = events.last().unwrap();
    assert_eq!(last["status"], "completed");
    assert_eq!(last["processed_rows"], ROWS);
    assert!(events.iter().all(|e| e["id"] == id));
    // After the end, a new connection gets the final state at once and ends.
    let again = c
        .get(app.url(&format!("/api/exports/{id}/events")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(again.matches("event: progress").count(), 1);
}

async fn email_arrives_and_expiry_cleans_up(backend: Backend) {
    let app = spawn_app_with(backend, |a| a.pipeline.retention_hours = 3.0 / 3600.0).await;
    app.workspace_with_data("Acme", "a@acme.test", 30, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let done = wait_until_done(&app, &c, &id).await;
    assert_eq!(done["status"], "completed");

    // The email is written to DATA_DIR/mail (the file transport).
    let mail_dir = app.data.path().join("mail");
    let mut email = None;
    for _ in 0..100 {
        if let Some(entry) = std::fs::read_dir(&mail_dir).ok().and_then(|mut d| d.next()) {
            email = Some(std::fs::read_to_string(entry.unwrap().path()).unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let email = email.expect("an email was written");
    assert!(email.contains("To: a@acme.test"), "{email}");
    assert!(email.contains("Subject: Your Contacts export is ready"), "{email}");
    assert!(
        email.contains(&format!("{}/exports/{id}/download", app.base)),
        "{email}"
    );
    assert!(email.contains("Rows: 30"), "{email}");

    // Three seconds later the export expires: the file goes and the link says so.
    let key = format!("exports/{}", id);
    for _ in 0..100 {
        let job: Value = c
            .get(app.url(&format!("/api/exports/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["status"] == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let job: Value = c
        .get(app.url(&format!("/api/exports/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "expired");
    let r = c.get(app.url(&format!("/exports/{id}/download"))).send().await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("This export has expired"));
    let leftovers: Vec<_> = walk(&app.data.path().join("objects"))
        .into_iter()
        .filter(|p| p.contains(&key) || p.contains(&id))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let kinds: Vec<String> = common::event_kinds(&app, &id).await;
    for kind in ["created", "started", "completed", "emailed", "expired"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing from {kinds:?}");
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// On Postgres, progress published in one process reaches subscribers in another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_crosses_processes_over_postgres_notify() {
    let (url, _database) = common::database(Backend::Postgres).await;
    let a = egress::store::connect(&url).await.unwrap();
    let b = egress::store::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let wake_a = std::sync::Arc::new(tokio::sync::Notify::new());
    let wake_b = std::sync::Arc::new(tokio::sync::Notify::new());
    let hub_a = egress::progress::Hub::connect(&a, wake_a).await;
    let hub_b = egress::progress::Hub::connect(&b, wake_b.clone()).await;
    let mut on_b = hub_b.subscribe();
    let progress = egress::exports::Progress {
        id: "0c1d".into(),
        workspace_id: 1,
        user_id: 7,
        dataset: "orders".into(),
        status: egress::exports::JobStatus::Processing,
        processed_rows: 42,
        total_rows: Some(100),
        bytes: None,
        error: None,
    };
    hub_a.publish(progress.clone());
    let got = tokio::time::timeout(Duration::from_secs(5), on_b.recv())
        .await
        .expect("delivered")
        .unwrap();
    assert_eq!(got, progress);
    // A job created anywhere wakes the workers everywhere.
    a.notify(egress::progress::JOBS_CHANNEL, "").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), wake_b.notified())
        .await
        .expect("woken");
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let app = spawn_app(Backend::Sqlite).await;
    let doc: Value = client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, methods) in [
        ("/api/session", vec!["get", "post", "delete"]),
        ("/api/exports", vec!["get", "post"]),
        ("/api/exports/{id}", vec!["get", "delete"]),
        ("/api/exports/{id}/events", vec!["get"]),
        ("/api/exports/events", vec!["get"]),
        ("/exports/{id}/download", vec!["get"]),
        ("/api/datasets", vec!["get"]),
        ("/auth/jwt", vec!["get"]),
        ("/api/webhooks", vec!["get", "post"]),
        ("/api/webhooks/{id}", vec!["get", "delete"]),
        ("/api/webhooks/{id}/rotate", vec!["post"]),
        ("/api/webhooks/{id}/test", vec!["post"]),
        ("/api/schedules", vec!["get", "post"]),
        ("/api/schedules/{id}", vec!["get", "put", "delete"]),
        ("/api/schedules/{id}/pause", vec!["post"]),
        ("/api/schedules/{id}/resume", vec!["post"]),
        ("/api/schedules/{id}/run", vec!["post"]),
        ("/api/workspace", vec!["get", "put"]),
        ("/api/destinations", vec!["get", "post"]),
        ("/api/destinations/{id}", vec!["get", "delete"]),
        ("/api/destinations/{id}/test", vec!["post"]),
        ("/api/archives", vec!["post"]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} is not documented");
        }
    }
    // Both ways in, and the header that makes a create safe to retry.
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["token"]["scheme"], "bearer");
    assert_eq!(schemes["session"]["name"], "egress_session");
    assert_eq!(
        doc["paths"]["/api/exports"]["post"]["parameters"][0]["name"],
        "Idempotency-Key"
    );
    assert!(doc["paths"]["/api/exports"]["post"]["responses"]["409"].is_object());

    // What GET /api/datasets answers has exactly the documented shape.
    app.workspace_with_data("Acme", "a@acme.test", 1, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let catalog = app.get_json(&c, "/api/datasets").await;
    let documented = &doc["paths"]["/api/datasets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&catalog), keys(&documented["properties"]));
    let dataset = &doc["components"]["schemas"]["Dataset"]["properties"];
    for d in catalog["dataset"].as_array().unwrap() {
        for key in keys(d) {
            assert!(dataset[&key].is_object(), "dataset field {key} is not documented");
        }
        for column in d["column"].as_array().unwrap() {
            for key in keys(column) {
                assert!(
                    dataset["column"]["items"]["properties"][&key].is_object(),
                    "column field {key} is not documented"
                );
            }
        }
    }
    assert_eq!(
        doc["components"]["schemas"]["NewExport"]["properties"]["dataset"]["enum"],
        json!(["contacts", "orders", "transactions", "members"])
    );
}

#[tokio::test]
async fn the_ui_server_functions_create_list_and_cancel() {
    let app = spawn_app_with(Backend::Sqlite, |a| a.no_worker = true).await;
    app.workspace_with_data("Acme", "a@acme.test", 5, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let body = json!({"request": {"dataset": "orders", "format": "xlsx", "filters": {"status": "paid"}}});
    let job: Value = c
        .post(app.url("/rpc/create_export"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "pending");
    let bad = json!({"request": {"dataset": "orders", "format": "xlsx", "filters": {"status": "lost"}}});
    let r = c.post(app.url("/rpc/create_export")).json(&bad).send().await.unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("status: `lost` is not one of: pending, paid")
    );
    let (list, total): (Vec<Value>, i64) = c
        .post(app.url("/rpc/list_exports"))
        .form(&[("page", "1")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((list.len(), total), (1, 1));
    let cancelled: Value = c
        .post(app.url("/rpc/cancel_export"))
        .form(&[("id", job["id"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["status"], "cancelled");
}
