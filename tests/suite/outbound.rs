//! The address policy of outbound calls (issue 23, item 4): one table of IANA's
//! special-purpose blocks (`egress::outbound::BLOCKS`) judges webhook endpoints and
//! delivery destinations alike. Every block is refused on both channels with a sentence
//! that names it; a destination whose name points inside by the time it is used is not
//! reached, and the connection test says only that it was refused. Both databases.

use crate::common;
use crate::destinations::{add, test_connection};

use common::own_services::{BUCKET, OwnS3};
use common::{Backend, TestApp, error_of, says, spawn_app_with};
use egress::outbound::{BLOCKS, NOT_PUBLIC};
use egress::store::query::{Param, Sql};
use serde_json::{Value, json};
use std::net::IpAddr;

both_backends!(
    every_special_purpose_block_is_refused_on_both_channels,
    a_destination_that_points_inside_is_not_reached,
);

/// The issue's four addresses, accepted before this policy.
const ISSUE: [&str; 4] = [
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[::127.0.0.1]:9999/",
    "http://[2002:7f00:1::]/",
    "http://[fec0::1]/",
];

fn destination(endpoint: &str) -> Value {
    json!({
        "name": "Warehouse",
        "endpoint": endpoint,
        "bucket": BUCKET,
        "region": "us-east-1",
        "prefix": "egress/",
        "access_key_id": "own-test-key",
        "secret_access_key": "own-test-secret",
    })
}

fn base(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("http://{v4}"),
        IpAddr::V6(v6) => format!("http://[{v6}]"),
    }
}

/// Both channels refuse `base` with a 400 that says `part`.
async fn refused_on_both(app: &TestApp, c: &reqwest::Client, base: &str, part: &str) {
    let webhook = json!({"url": format!("{base}/hook"), "events": ["export.completed"]});
    for (path, body, field) in [
        ("/api/webhooks", webhook, "url"),
        ("/api/destinations", destination(base), "endpoint"),
    ] {
        let r = c.post(app.url(path)).json(&body).send().await.unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(
            (status.as_u16(), error["field"].as_str()),
            (400, Some(field)),
            "{base}: {error}"
        );
        says(&error, part);
        says(&error, NOT_PUBLIC);
    }
}

async fn every_special_purpose_block_is_refused_on_both_channels(backend: Backend) {
    let app = spawn_app_with(backend, |_| {}).await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    for block in BLOCKS {
        let ip = block.host();
        // The row that holds it first is the one named (a narrower one may come first).
        let named = BLOCKS.iter().find(|b| b.contains(ip)).unwrap();
        refused_on_both(&app, &c, &base(ip), &format!("is in {named}")).await;
    }
    let issue = [
        "64:ff9b::/96 (NAT64, RFC 6052), whose 169.254.169.254 is in 169.254.0.0/16 (link-local, RFC 3927)",
        "::/96 (IPv4-compatible, deprecated, RFC 4291)",
        "2002::/16 (6to4, RFC 3056)",
        "fec0::/10 (site-local, deprecated, RFC 3879)",
    ];
    for (url, part) in ISSUE.into_iter().zip(issue) {
        refused_on_both(&app, &c, url.trim_end_matches('/'), part).await;
    }
    // A name is judged by what it resolves to.
    refused_on_both(&app, &c, "http://localhost:9", "localhost resolves to ").await;
    assert_eq!(app.get_json(&c, "/api/webhooks").await, json!([]));
    assert_eq!(app.get_json(&c, "/api/destinations").await, json!([]));

    // The operator may allow them (`--allow-private-targets`), for both channels.
    let open = spawn_app_with(backend, |a| a.pipeline.allow_private_targets = true).await;
    open.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let c = open.logged_in("owner@acme.test").await;
    let r = c
        .post(open.url("/api/webhooks"))
        .json(&json!({"url": ISSUE[1], "events": ["export.completed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    add(&open, &c, &destination(ISSUE[1].trim_end_matches('/'))).await;
}

async fn a_destination_that_points_inside_is_not_reached(backend: Backend) {
    let s3 = OwnS3::start();
    let app = spawn_app_with(backend, |_| {}).await;
    app.workspace_with_data("Acme", "owner@acme.test", 1, 1).await;
    let c = app.logged_in("owner@acme.test").await;
    // Added while its server was a public address…
    let id = add(&app, &c, &destination("http://93.184.216.34")).await["id"]
        .as_i64()
        .unwrap();
    // …it now names a working bucket server on loopback (as a rebound name would).
    let moved = Sql::new("UPDATE destinations SET ")
        .push(
            "endpoint = ? WHERE id = ?",
            [Param::Text(format!("http://localhost:{}", s3.port)), Param::Int(id)],
        )
        .done();
    app.store.execute(&moved).await.unwrap();
    let report = test_connection(&app, &c, id).await;
    assert_eq!(report["ok"], false, "{report}");
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("Egress may not connect there: localhost resolves to ") && message.contains(NOT_PUBLIC),
        "{message}"
    );
    // Nothing answered, so nothing of an answer is told; nothing was written.
    assert!(
        !message.contains("Wrote") && !message.contains("NoSuchBucket"),
        "{message}"
    );
    let written = std::fs::read_dir(s3.root.path().join(BUCKET)).unwrap().count();
    assert_eq!(written, 0, "the probe reached the bucket");
}
