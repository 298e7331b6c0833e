//! "All my data" archives (issue 12): one zip of every dataset the requester may see,
//! each file byte for byte what a separate export of that dataset gives, with a README
//! data dictionary and a manifest; and the personal archive, which holds only the rows
//! about the person asking. Both databases.

use crate::common;

use common::{Backend, TestApp, download, error_of, says, spawn_app, start_export, wait_until_done};
use egress::accounts::Role;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::BTreeMap;
use std::io::Read;

both_backends!(
    the_workspace_archive_matches_separate_exports,
    a_personal_archive_holds_only_that_persons_rows,
    archive_requests_are_checked,
);

async fn request(app: &TestApp, c: &reqwest::Client, body: Value) -> Value {
    let r = c.post(app.url("/api/archives")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202, "{}", r.text().await.unwrap());
    let job: Value = r.json().await.unwrap();
    let done = wait_until_done(app, c, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    done
}

/// The zip's entries by name, in order.
fn entries(bytes: Vec<u8>) -> (Vec<String>, BTreeMap<String, Vec<u8>>) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut names = Vec::new();
    let mut files = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let name = entry.name().unwrap().to_string();
        names.push(name.clone());
        files.insert(name, data);
    }
    (names, files)
}

async fn the_workspace_archive_matches_separate_exports(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", 60, 7).await;
    let c = app.logged_in("a@acme.test").await;
    let done = request(&app, &c, json!({"scope": "workspace", "format": "csv"})).await;
    assert_eq!(done["dataset"], "@archive");
    let (bytes, headers) = download(&app, &c, done["id"].as_str().unwrap()).await;
    assert_eq!(headers["content-type"], "application/zip");
    assert!(done["file_name"].as_str().unwrap().starts_with("workspace-data-"));
    let (names, files) = entries(bytes);
    assert_eq!(
        names,
        [
            "contacts.csv",
            "orders.csv",
            "transactions.csv",
            "members.csv",
            "README.md",
            "manifest.json"
        ]
    );
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let readme = String::from_utf8(files["README.md"].clone()).unwrap();
    let mut total = 0;
    for (i, dataset) in ["contacts", "orders", "transactions", "members"].iter().enumerate() {
        // Each file is exactly what a separate export of the dataset gives.
        let job = start_export(&app, &c, json!({"dataset": dataset, "format": "csv"})).await;
        let alone = wait_until_done(&app, &c, job["id"].as_str().unwrap()).await;
        let (separate, _) = download(&app, &c, job["id"].as_str().unwrap()).await;
        let file = format!("{dataset}.csv");
        assert_eq!(files[&file], separate, "{file} differs from its own export");
        let listed = &manifest["files"][i];
        assert_eq!(listed["file"], file.as_str());
        assert_eq!(listed["rows"], alone["total_rows"]);
        assert_eq!(listed["bytes"], separate.len());
        assert_eq!(listed["sha256"], hex::encode(sha2::Sha256::digest(&separate)));
        total += alone["total_rows"].as_i64().unwrap();
        // The README explains every column, with its kind.
        let d = app.catalog.find(dataset).unwrap();
        assert!(readme.contains(&format!("## {} (`{file}`)", d.label)), "{readme}");
        for column in &d.columns {
            assert!(
                readme.contains(&format!(
                    "| {} | `{}` | {} |",
                    column.label,
                    column.name,
                    column.kind.id()
                )),
                "{} missing from the README",
                column.name
            );
        }
    }
    assert_eq!(done["total_rows"], total, "progress counts across datasets");
}

async fn a_personal_archive_holds_only_that_persons_rows(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme = app.workspace_with_data("Acme", "a@acme.test", 40, 3).await;
    let globex = app.workspace_with_data("Globex", "g@globex.test", 40, 4).await;
    app.add_user(acme, "m_1@acme.test", Role::Member).await;
    // Some of Acme's contacts and orders are about m_1@acme.test (one written in other
    // letter cases); a contact of Globex is too, which m's archive of Acme must not hold;
    // and `mx1@acme.test` is someone else (the `_` is no wildcard).
    let rows = |table: &str, workspace: i64, skip: i64, take: i64| {
        format!("SELECT id FROM {table} WHERE workspace_id = {workspace} ORDER BY id LIMIT {take} OFFSET {skip}")
    };
    for (table, column, email, ids) in [
        ("contacts", "email", "m_1@acme.test", rows("contacts", acme, 0, 2)),
        ("contacts", "email", "M_1@ACME.test", rows("contacts", acme, 2, 1)),
        ("contacts", "email", "mx1@acme.test", rows("contacts", acme, 3, 1)),
        ("orders", "customer_email", "m_1@acme.test", rows("orders", acme, 0, 2)),
        ("contacts", "email", "m_1@acme.test", rows("contacts", globex, 0, 1)),
    ] {
        app.sql(format!("UPDATE {table} SET {column} = '{email}' WHERE id IN ({ids})"))
            .await;
    }
    let m = app.logged_in("m_1@acme.test").await;
    let done = request(&app, &m, json!({"scope": "me", "format": "ndjson"})).await;
    assert_eq!(done["filters"], json!({"@subject": "m_1@acme.test"}));
    let (bytes, _) = download(&app, &m, done["id"].as_str().unwrap()).await;
    let (names, files) = entries(bytes);
    // Only the datasets that declare a subject and a member may see (not members).
    assert_eq!(
        names,
        ["contacts.ndjson", "orders.ndjson", "README.md", "manifest.json"]
    );
    for (file, column, expected) in [("contacts.ndjson", "email", 3), ("orders.ndjson", "customer_email", 2)] {
        let rows: Vec<Value> = String::from_utf8(files[file].clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), expected, "{file}: {rows:?}");
        assert!(
            rows.iter()
                .all(|r| r[column].as_str().unwrap().to_lowercase() == "m_1@acme.test"),
            "{file}: {rows:?}"
        );
    }
    assert_eq!(done["total_rows"], 5);
    let readme = String::from_utf8(files["README.md"].clone()).unwrap();
    assert!(readme.starts_with("# Everything about m_1@acme.test"), "{readme}");
    // The owner, not an admin of the member's data, still cannot see it: a member's
    // export is theirs; and a member cannot ask for the whole workspace.
    let r = m
        .post(app.url("/api/archives"))
        .json(&json!({"scope": "workspace", "format": "csv"}))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    says(
        &error,
        "Only the workspace's admins and owners can archive the whole workspace",
    );
}

async fn archive_requests_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", 5, 1).await;
    let c = app.logged_in("a@acme.test").await;
    for (body, field, message) in [
        (
            json!({"scope": "me", "format": "pdf"}),
            "format",
            "unknown format `pdf`",
        ),
        (
            json!({"scope": "me", "format": "json", "bom": true}),
            "bom",
            "only CSV files",
        ),
        (
            json!({"scope": "everyone", "format": "csv"}),
            "scope",
            "unknown variant `everyone`",
        ),
    ] {
        let r = c.post(app.url("/api/archives")).json(&body).send().await.unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["field"], field, "{error}");
        says(&error, message);
    }
    // The archive's made-up dataset cannot be asked for as an export, nor its subject
    // parameter as a filter.
    for body in [
        json!({"dataset": "@archive", "format": "csv"}),
        json!({"dataset": "contacts", "format": "csv", "filters": {"@subject": "a@acme.test"}}),
    ] {
        let r = c.post(app.url("/api/exports")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 400);
    }
    let exports = app.get_json(&c, "/api/exports").await;
    assert_eq!(exports["exports"].as_array().unwrap().len(), 0, "nothing was written");
}
