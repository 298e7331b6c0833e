//! Exports against the real services: s3s-fs (which checks signatures, so presigned URLs
//! are really verified) and an SMTP server the test reads back.

use crate::common;

use common::{
    Backend, PASSWORD, client, csv_text, download, rows_via_pages, services, spawn_app_with, start_export,
    wait_until_done,
};
use serde_json::{Value, json};
use std::time::Duration;

both_backends!(
    s3_round_trip_presigned_urls_and_email,
    s3_unreachable_is_retried_then_fails_cleanly,
    smtp_down_does_not_fail_the_export
);

async fn s3_round_trip_presigned_urls_and_email(backend: Backend) {
    let s = services();
    let app = spawn_app_with(backend, |a| s.configure(a)).await;
    let email = format!("s3-{}-{:?}@acme.test", std::process::id(), backend).to_lowercase();
    app.workspace_with_data("Acme", &email, 150, 1).await;
    let c = app.logged_in(&email).await;
    let job = start_export(
        &app,
        &c,
        json!({"dataset": "contacts", "format": "csv", "filters": {"status": "lead"}}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    let done = wait_until_done(&app, &c, &id).await;
    assert_eq!(done["status"], "completed", "{done}");

    // The download route redirects to a presigned S3 URL, which s3s-fs verifies.
    let r = c.get(app.url(&format!("/exports/{id}/download"))).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let signed = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(signed.starts_with(&s.s3_endpoint), "{signed}");
    assert!(signed.contains("X-Amz-Signature="));
    let (bytes, headers) = download(&app, &c, &id).await;
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"contacts-"),
        "{disposition}"
    );
    let expected = rows_via_pages(&app, &c, "contacts", &[("status", "lead")]).await;
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let want: Vec<Vec<String>> = expected
        .iter()
        .map(|row| row.as_array().unwrap().iter().map(csv_text).collect())
        .collect();
    assert_eq!(records, want);

    // A tampered signature and an expired URL are refused by the storage itself.
    let tampered = match signed.find("X-Amz-Signature=") {
        Some(at) => {
            let i = at + "X-Amz-Signature=".len();
            let flipped = if &signed[i..i + 1] == "0" { "1" } else { "0" };
            format!("{}{flipped}{}", &signed[..i], &signed[i + 1..])
        }
        None => unreachable!(),
    };
    assert_eq!(client().get(&tampered).send().await.unwrap().status(), 403);
    let storage = egress::storage::S3Storage::from_url(
        &s.storage_url(),
        Some(s.s3_access_key.clone()),
        Some(s.s3_secret_key.clone()),
    )
    .unwrap();
    // Each attempt writes its own key: the first attempt's.
    let key = format!(
        "exports/{}/{id}/1.csv",
        app.store.workspaces_named("Acme").await.unwrap()[0]
    );
    let short = storage
        .signed_url(&key, "x.csv", "text/csv", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(client().get(&short).send().await.unwrap().status(), 200);
    // Links signed for the address browsers use (`public_endpoint`) where it is not the one
    // Egress writes to: s3s-fs checks the signature against the host the client sends.
    let public = s.s3_endpoint.replace("127.0.0.1", "localhost");
    let behind = egress::storage::S3Storage::from_url(
        &format!("{}&public_endpoint={public}", s.storage_url()),
        Some(s.s3_access_key.clone()),
        Some(s.s3_secret_key.clone()),
    )
    .unwrap();
    let link = behind
        .signed_url(&key, "x.csv", "text/csv", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(link.starts_with(&format!("{public}/")), "{link}");
    let r = client().get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), bytes);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = client().get(&short).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));
    assert!(
        s.open_uploads().iter().all(|u| !u.contains(&id)),
        "no upload is left open"
    );

    // The email reaches the SMTP server; its link downloads the same file after login.
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = s.emails_to(&email);
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mail = mails.last().expect("the email arrived");
    assert!(mail.contains("Subject: Your Contacts export is ready"), "{mail}");
    assert!(mail.contains("multipart/alternative"), "{mail}");
    let link = format!("{}/exports/{id}/download", app.base);
    assert!(mail.contains(&link), "{mail}");
    let fresh = client();
    let r = fresh.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login?next="));
    let r = fresh
        .post(app.url("/api/session"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = fresh.get(&link).send().await.unwrap();
    let again = client()
        .get(r.headers()["location"].to_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(again.to_vec(), bytes);
    let kinds: Vec<String> = common::event_kinds(&app, &id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "downloaded").count(), 3, "{kinds:?}");

    // The other formats through S3 too, each compared with the same rows.
    let body = |format: &str| json!({"dataset": "contacts", "format": format, "filters": {"status": "lead"}, "options": {"gzip": format == "ndjson"}});
    let mut files = std::collections::HashMap::new();
    for format in ["json", "ndjson", "xlsx"] {
        let job = start_export(&app, &c, body(format)).await;
        let id = job["id"].as_str().unwrap().to_owned();
        assert_eq!(wait_until_done(&app, &c, &id).await["status"], "completed");
        files.insert(format, download(&app, &c, &id).await.0);
    }
    let array: Vec<Value> = serde_json::from_slice(&files["json"]).unwrap();
    let ids: Vec<&Value> = expected.iter().map(|row| &row[0]["Integer"]).collect();
    assert_eq!(array.iter().map(|o| &o["id"]).collect::<Vec<_>>(), ids);
    for (object, row) in array.iter().zip(&expected) {
        assert_eq!(object["first_name"], row[1]["Text"]);
        assert_eq!(
            object["notes"],
            if row[8].is_object() && row[8].get("Text").is_some() {
                row[8]["Text"].clone()
            } else {
                Value::Null
            }
        );
    }
    let mut ndjson = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&files["ndjson"][..]), &mut ndjson).unwrap();
    let lines: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines, array);
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(files["xlsx"].clone())).unwrap();
    let mut sheet = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(), &mut sheet).unwrap();
    assert_eq!(sheet.matches("<row ").count(), expected.len() + 1);
    assert!(
        s.open_uploads().is_empty() || s.open_uploads().iter().all(|u| !u.contains("/exports/")),
        "{:?}",
        s.open_uploads()
    );
}

async fn s3_unreachable_is_retried_then_fails_cleanly(backend: Backend) {
    let s = services();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = spawn_app_with(backend, |a| {
        s.configure(a);
        a.pipeline.storage = Some(format!(
            "s3://{}?endpoint=http://{closed}&region=us-east-1",
            s.s3_bucket
        ));
    })
    .await;
    app.workspace_with_data("Acme", "a@acme.test", 20, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "contacts", "format": "csv"})).await;
    let id = job["id"].as_str().unwrap();
    let done = wait_until_done(&app, &c, id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["attempts"], 3);
    // The person sees a sentence; the endpoint and the client error stay in the log and
    // the audit trail.
    assert_eq!(done["error"], "Egress could not reach its file storage.");
    let events = egress::store::jobs::events(app.store.as_ref(), uuid::Uuid::parse_str(id).unwrap())
        .await
        .unwrap();
    let detail = events
        .iter()
        .find(|e| e.0 == "failed")
        .and_then(|e| e.2.clone())
        .unwrap_or_default();
    assert!(
        detail.contains("object storage is unreachable: dispatch failure"),
        "{detail}"
    );
    let kinds: Vec<String> = common::event_kinds(&app, id).await;
    assert_eq!(kinds.iter().filter(|k| *k == "retry_scheduled").count(), 2, "{kinds:?}");
    // The failure is the last change of state; its email follows it.
    let changes: Vec<&String> = kinds.iter().filter(|k| !k.starts_with("email")).collect();
    assert_eq!(changes.last().map(|k| k.as_str()), Some("failed"), "{kinds:?}");
    let r = c.get(app.url(&format!("/exports/{id}/download"))).send().await.unwrap();
    assert_eq!(r.status(), 409);
}

async fn smtp_down_does_not_fail_the_export(backend: Backend) {
    let s = services();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = spawn_app_with(backend, |a| {
        s.configure(a);
        a.pipeline.smtp_url = Some(format!("smtp://{closed}"));
    })
    .await;
    app.workspace_with_data("Acme", "a@acme.test", 20, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let job = start_export(&app, &c, json!({"dataset": "orders", "format": "json"})).await;
    let id = job["id"].as_str().unwrap();
    let done = wait_until_done(&app, &c, id).await;
    assert_eq!(done["status"], "completed");
    let mut kinds: Vec<String> = Vec::new();
    for _ in 0..100 {
        kinds = common::event_kinds(&app, id).await;
        if kinds.iter().any(|k| k == "email_failed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(kinds.iter().any(|k| k == "email_failed"), "{kinds:?}");
    let job: Value = c
        .get(app.url(&format!("/api/exports/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["status"], "completed", "an email failure never fails the export");
    let (bytes, _) = download(&app, &c, id).await;
    assert!(serde_json::from_slice::<Vec<Value>>(&bytes).unwrap().len() == 20);
}
