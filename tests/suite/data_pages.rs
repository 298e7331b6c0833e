//! Data pages over HTTP: filters, counts, keyset paging and tenant isolation, the same
//! story against SQLite and Postgres.

use crate::common;

use common::{Backend, generated, spawn_app};
use egress::catalog::Cell;
use serde_json::Value;

both_backends!(
    each_workspace_sees_only_its_own_rows,
    filters_match_the_generated_data,
    keyset_paging_visits_every_row_once,
    bad_filters_name_the_field,
    the_page_renders_on_the_server,
);

const ROWS: u64 = 240;

fn ids(page: &Value) -> Vec<i64> {
    page["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0]["Integer"].as_i64().unwrap())
        .collect()
}

async fn each_workspace_sees_only_its_own_rows(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    app.workspace_with_data("Globex", "b@globex.test", 90, 2).await;
    let a = app.logged_in("a@acme.test").await;
    let b = app.logged_in("b@globex.test").await;
    for dataset in ["contacts", "orders", "transactions"] {
        let page_a: Value = app.browse(&a, dataset, &[]).await.json().await.unwrap();
        let page_b: Value = app.browse(&b, dataset, &[]).await.json().await.unwrap();
        assert_eq!(page_a["total"], ROWS, "{dataset}");
        assert_eq!(page_b["total"], 90, "{dataset}");
        let (ids_a, ids_b) = (ids(&page_a), ids(&page_b));
        assert!(
            ids_a.iter().all(|id| !ids_b.contains(id)),
            "{dataset}: a row of A showed up for B"
        );
        // A cursor taken from the other workspace leads nowhere.
        let cursor = (ids_a[0] + 1).to_string();
        let foreign: Value = app
            .browse(&b, dataset, &[("before", &cursor)])
            .await
            .json()
            .await
            .unwrap();
        assert!(ids(&foreign).iter().all(|id| !ids_a.contains(id)));
    }
    let members: Value = app.browse(&b, "members", &[]).await.json().await.unwrap();
    assert_eq!(members["total"], 1);
    assert_eq!(members["rows"][0][2]["Text"], "b@globex.test");
}

async fn filters_match_the_generated_data(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let rows = generated("orders", ROWS, 1);
    let status_col = 8; // in the generator's columns (no id)
    let tags_col = 9;
    let time_col = 10;
    let expect = |status: Option<&str>, tag: Option<&str>, from: Option<&str>| {
        rows.iter()
            .filter(|r| status.is_none_or(|s| r[status_col] == Cell::Text(s.into())))
            .filter(|r| tag.is_none_or(|t| matches!(&r[tags_col], Cell::List(ts) if ts.iter().any(|x| x == t))))
            .filter(|r| {
                from.is_none_or(
                    |f| matches!(&r[time_col], Cell::Timestamp(ts) if ts.format("%Y-%m-%d").to_string().as_str() >= f),
                )
            })
            .count() as i64
    };
    for (query, expected) in [
        (vec![("status", "paid")], expect(Some("paid"), None, None)),
        (vec![("tag", "gift")], expect(None, Some("gift"), None)),
        (
            vec![("status", "shipped"), ("tag", "promo")],
            expect(Some("shipped"), Some("promo"), None),
        ),
        (
            vec![("created_from", "2025-01-01")],
            expect(None, None, Some("2025-01-01")),
        ),
        (
            vec![("created_from", "2025-01-01T00:00:00Z"), ("status", "paid")],
            expect(Some("paid"), None, Some("2025-01-01")),
        ),
    ] {
        let page: Value = app.browse(&c, "orders", &query).await.json().await.unwrap();
        assert_eq!(page["total"].as_i64().unwrap(), expected, "{query:?}");
        assert!(expected > 0, "the test data should match {query:?}");
    }
    // The hard cases come back exactly as they went in.
    let page: Value = app.browse(&c, "orders", &[]).await.json().await.unwrap();
    let newest = &page["rows"][0];
    let last = rows.last().unwrap();
    assert_eq!(newest[1]["Text"].as_str(), Some(last[0].display().as_str()));
    let Cell::Money { minor, .. } = last[4] else {
        panic!("total is money")
    };
    assert_eq!(newest[5]["Money"]["minor"], minor);
}

async fn keyset_paging_visits_every_row_once(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let mut seen = Vec::new();
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let query: Vec<(&str, &str)> = after.as_deref().map(|a| vec![("after", a)]).unwrap_or_default();
        let page: Value = app.browse(&c, "contacts", &query).await.json().await.unwrap();
        let page_ids = ids(&page);
        assert!(page_ids.windows(2).all(|w| w[0] > w[1]), "newest first");
        seen.extend(page_ids);
        pages.push(page.clone());
        match page["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len() as u64, ROWS);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len() as u64, ROWS);
    assert_eq!(pages.len(), ROWS.div_ceil(50) as usize);

    // Going back from the second page gives the first page again.
    let before = pages[1]["prev_before"].as_str().unwrap().to_owned();
    let back: Value = app
        .browse(&c, "contacts", &[("before", &before)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&back), ids(&pages[0]));
    assert!(back["prev_before"].is_null());
}

async fn bad_filters_name_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", 10, 1).await;
    let c = app.logged_in("a@acme.test").await;
    for (dataset, query, message) in [
        (
            "orders",
            vec![("status", "lost")],
            "status: `lost` is not one of: pending, paid, shipped, delivered, refunded, cancelled",
        ),
        (
            "orders",
            vec![("created_from", "last tuesday")],
            "created_from: `last tuesday` is not a date",
        ),
        (
            "orders",
            vec![("created_from", "2025-02-01"), ("created_to", "2025-01-01")],
            "created_to: the range ends before it starts",
        ),
        (
            "members",
            vec![("tag", "vip")],
            "tag: unknown filter (the filters of members are: created_from, created_to, status, role)",
        ),
        ("orders", vec![("after", "[1,2]")], "after: not a page of this dataset"),
        ("invoices", vec![], "unknown dataset `invoices`"),
    ] {
        let r = app.browse(&c, dataset, &query).await;
        assert!(r.status().as_u16() >= 400);
        let body = r.text().await.unwrap();
        assert!(body.contains(message), "{body} should contain {message}");
    }
}

async fn the_page_renders_on_the_server(backend: Backend) {
    let app = spawn_app(backend).await;
    app.workspace_with_data("Acme", "a@acme.test", ROWS, 1).await;
    let c = app.logged_in("a@acme.test").await;
    let html = c
        .get(app.url("/data/orders?status=paid"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = generated("orders", ROWS, 1)
        .iter()
        .filter(|r| r[8] == Cell::Text("paid".into()))
        .count();
    assert!(
        html.contains(&format!("data-count=\"{expected}\"")),
        "count {expected} not in the page"
    );
    assert!(html.contains("<h1>Orders</h1>"));
    let r = c.get(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}
