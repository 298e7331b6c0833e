//! How long files stay and how they are kept (issue 12): each workspace's retention
//! within the operator's maximum, single-use downloads, and files sealed at rest on the
//! local disk. Both databases.

use crate::common;

use chrono::{DateTime, Utc};
use common::{Backend, TestApp, download, error_of, says, spawn_app, start_export, wait_until_done};
use egress::accounts::Role;
use serde_json::{Value, json};

both_backends!(
    single_use_files_download_once,
    a_workspace_chooses_how_long_files_stay,
    local_files_are_sealed_at_rest,
);

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

async fn export(app: &TestApp, c: &reqwest::Client, options: Value) -> Value {
    let job = start_export(
        app,
        c,
        json!({"dataset": "contacts", "format": "csv", "options": options}),
    )
    .await;
    let done = wait_until_done(app, c, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    done
}

async fn single_use_files_download_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", 30, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let done = export(&app, &c, json!({"single_use": true})).await;
    assert_eq!(done["options"]["single_use"], true);
    let id = done["id"].as_str().unwrap();
    let first_expiry = time(&done["expires_at"]);
    let (bytes, _) = download(&app, &c, id).await;
    assert_eq!(bytes.len() as i64, done["bytes"].as_i64().unwrap());
    // Once: the second try is gone, saying why, and the file goes soon after.
    let r = c.get(app.url(&format!("/exports/{id}/download"))).send().await.unwrap();
    assert_eq!(r.status(), 410);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let page = r.text().await.unwrap();
    assert!(page.contains("single-use"));
    // The page names its request, to quote to whoever runs Egress.
    assert!(
        page.contains(&format!("Request id <code>{request_id}</code>")),
        "{page}"
    );
    let after = app.get_json(&c, &format!("/api/exports/{id}")).await;
    let expires = time(&after["expires_at"]);
    assert!(expires < first_expiry, "{expires} should be before {first_expiry}");
    assert!(expires <= Utc::now() + chrono::Duration::minutes(10));
    // An ordinary export downloads again and again.
    let plain = export(&app, &c, json!({})).await;
    for _ in 0..2 {
        download(&app, &c, plain["id"].as_str().unwrap()).await;
    }
}

async fn a_workspace_chooses_how_long_files_stay(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "a@acme.test", 30, 1).await;
    app.add_user(ws, "m@acme.test", Role::Member).await;
    let (owner, member) = (app.logged_in("a@acme.test").await, app.logged_in("m@acme.test").await);
    let settings = app.get_json(&member, "/api/workspace").await;
    assert_eq!(
        settings,
        json!({"id": ws, "name": "Acme", "retention_hours": null, "default_retention_hours": 24.0, "max_retention_hours": 720.0})
    );
    // The settings have exactly the documented shape.
    let doc = app.get_json(&member, "/api/openapi.json").await;
    let mut documented: Vec<&String> = doc["components"]["schemas"]["WorkspaceSettings"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let mut answered: Vec<&String> = settings.as_object().unwrap().keys().collect();
    documented.sort();
    answered.sort();
    assert_eq!(documented, answered);
    // The default: a day.
    let done = export(&app, &owner, json!({})).await;
    let kept = time(&done["expires_at"]) - time(&done["completed_at"]);
    assert_eq!((kept.num_seconds() + 30) / 60, 24 * 60);

    let put = |c: &reqwest::Client, body: Value| {
        let (c, url) = (c.clone(), app.url("/api/workspace"));
        async move { c.put(url).json(&body).send().await.unwrap() }
    };
    let (status, error) = error_of(put(&member, json!({"retention_hours": 2})).await).await;
    assert_eq!(status, 403);
    says(&error, "admins and owners");
    for bad in [json!(1000), json!(0), json!(-1), json!("soon")] {
        let (status, error) = error_of(put(&owner, json!({"retention_hours": bad})).await).await;
        assert_eq!(
            (status.as_u16(), error["field"].as_str()),
            (400, Some("retention_hours")),
            "{bad}: {error}"
        );
    }
    let (status, error) = error_of(put(&owner, json!({"keep": 2})).await).await;
    assert_eq!(status, 400);
    says(&error, "unknown field `keep`");

    let r = put(&owner, json!({"retention_hours": 2})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["retention_hours"], 2.0);
    let done = export(&app, &owner, json!({})).await;
    let kept = time(&done["expires_at"]) - time(&done["completed_at"]);
    assert_eq!((kept.num_seconds() + 30) / 60, 120);

    // Back to the default.
    let r = put(&owner, json!({"retention_hours": null})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["retention_hours"], Value::Null);
    let done = export(&app, &owner, json!({})).await;
    let kept = time(&done["expires_at"]) - time(&done["completed_at"]);
    assert_eq!((kept.num_seconds() + 30) / 60, 24 * 60);
}

/// Every file under `dir`.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

async fn local_files_are_sealed_at_rest(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", 1500, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let done = export(&app, &c, json!({})).await;
    let id = done["id"].as_str().unwrap();
    let (plain, _) = download(&app, &c, id).await;
    assert_eq!(plain.len() as i64, done["bytes"].as_i64().unwrap());
    assert!(plain.len() > 3 * 64 * 1024, "a file of several chunks: {}", plain.len());

    // On the disk: sealed, with none of its text, under a key only the owner can read.
    let objects = files(&app.data.path().join("objects").join("exports"));
    assert_eq!(objects.len(), 1, "{objects:?}");
    let at_rest = std::fs::read(&objects[0]).unwrap();
    assert!(at_rest.starts_with(b"EGX1"));
    let header = &plain[..plain.iter().position(|b| *b == b'\r').unwrap()];
    assert!(
        !at_rest.windows(header.len()).any(|w| w == header),
        "the CSV header is readable on disk"
    );
    let key = app.data.path().join("storage.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // Ranges are opened from the chunks they touch, across a chunk's edge too.
    let url = app.url(&format!("/exports/{id}/download"));
    let size = plain.len();
    for (range, from, to) in [
        ("bytes=65530-65545".to_owned(), 65530, 65546),
        ("bytes=0-0".to_owned(), 0, 1),
        (format!("bytes={}-", size - 5), size - 5, size),
        ("bytes=-7".to_owned(), size - 7, size),
        ("bytes=131000-".to_owned(), 131000, size),
    ] {
        let r = c.get(&url).header("range", &range).send().await.unwrap();
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes {from}-{}/{size}", to - 1).as_str()
        );
        assert_eq!(&r.bytes().await.unwrap()[..], &plain[from..to], "{range}");
    }
    let r = c
        .get(&url)
        .header("range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], format!("bytes */{size}").as_str());

    // A changed byte on the disk is never served as data: the download breaks off.
    let mut changed = at_rest.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x55;
    std::fs::write(&objects[0], &changed).unwrap();
    // (The connection may even close before the answer's head, when the bad chunk is
    // reached first.)
    let served = match c.get(&url).send().await {
        Err(_) => None,
        Ok(r) => r.bytes().await.ok(),
    };
    assert!(
        served.is_none_or(|body| body.len() < size),
        "a tampered file was served whole"
    );
}
