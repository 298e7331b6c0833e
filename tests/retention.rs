//! How long files stay (issue 12): each workspace's retention within the operator's
//! maximum, and single-use downloads. Both databases.

mod common;

use chrono::{DateTime, Utc};
use common::{Backend, TestApp, download, error_of, says, spawn_app, start_export, wait_until_done};
use egress::accounts::Role;
use serde_json::{Value, json};

both_backends!(single_use_files_download_once, a_workspace_chooses_how_long_files_stay,);

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
    assert!(r.text().await.unwrap().contains("single-use"));
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
