//! Schedules (issue 12) on both databases, with the clock in the test's hands: the
//! scheduler is ticked at chosen times (`Scheduler::tick(now)`), two schedulers with
//! their own connections stand for two processes, and the runs are real exports that the
//! app's worker completes.

use crate::common;

use chrono::{DateTime, Duration as Span, Utc};
use common::{Backend, TestApp, download, error_of, says, spawn_app, spawn_app_with, wait_until_done};
use egress::accounts::Role;
use egress::schedules::runner::Tick;
use serde_json::{Value, json};

both_backends!(
    each_due_time_runs_once_across_two_processes,
    missed_due_times_run_once_after_downtime,
    a_run_still_going_skips_the_next_due_time,
    daylight_saving_changes_move_the_runs_correctly,
    paused_schedules_wait_and_resume_without_catching_up,
    bad_schedules_are_refused_naming_the_field,
    members_see_their_own_schedules_and_admins_all,
    a_schedule_whose_maker_left_pauses_and_says_why,
    incremental_runs_lose_and_repeat_nothing,
);

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

fn schedule_body(name: &str, cadence: Value, time_zone: &str) -> Value {
    json!({
        "name": name,
        "export": {"dataset": "orders", "format": "csv", "filters": {"status": "paid"}},
        "cadence": cadence,
        "time_zone": time_zone,
    })
}

/// An app whose workspace Acme has `rows` rows per dataset, and its signed-in owner.
async fn acme(app: TestApp, rows: u64) -> (TestApp, reqwest::Client) {
    app.workspace_with_data("Acme", "a@acme.test", rows, 1).await;
    let c = app.logged_in("a@acme.test").await;
    (app, c)
}

/// An Acme app with one schedule of orders: its id and how the API first answered.
async fn scheduled(
    app: TestApp,
    rows: u64,
    name: &str,
    cadence: Value,
    time_zone: &str,
) -> (TestApp, reqwest::Client, i64, Value) {
    let (app, c) = acme(app, rows).await;
    let made = create(&app, &c, schedule_body(name, cadence, time_zone)).await;
    let id = made["id"].as_i64().unwrap();
    (app, c, id, made)
}

async fn create(app: &TestApp, c: &reqwest::Client, body: Value) -> Value {
    let r = c.post(app.url("/api/schedules")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

async fn show(app: &TestApp, c: &reqwest::Client, id: i64) -> Value {
    app.get_json(c, &format!("/api/schedules/{id}")).await
}

fn next_run(schedule: &Value) -> DateTime<Utc> {
    at(schedule["next_run_at"].as_str().expect("a next run"))
}

/// The runs' outcomes, oldest first.
fn outcomes(schedule: &Value) -> Vec<String> {
    let mut runs: Vec<String> = schedule["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    runs.reverse();
    runs
}

/// Waits until every run of the schedule has ended; answers the schedule.
async fn runs_done(app: &TestApp, c: &reqwest::Client, id: i64) -> Value {
    let schedule = show(app, c, id).await;
    for run in schedule["runs"].as_array().unwrap() {
        if let Some(export) = run["export_id"].as_str() {
            let done = wait_until_done(app, c, export).await;
            assert_eq!(done["status"], "completed", "{done}");
        }
    }
    show(app, c, id).await
}

async fn each_due_time_runs_once_across_two_processes(backend: Backend) {
    let (app, c, id, made) = scheduled(
        spawn_app(backend).await,
        120,
        "Hourly paid orders",
        json!({"every": "hourly", "minute": 5}),
        "UTC",
    )
    .await;
    assert_eq!(made["description"], "Every hour at :05");
    assert_eq!(next_run(&made).format("%M:%S").to_string(), "05:00");
    let (one, two) = (app.scheduler(true).await, app.scheduler(true).await);
    let mut due = next_run(&made);
    for round in 0..4 {
        // Both processes tick at once, a moment after the due time.
        let now = due + Span::seconds(3);
        let (a, b) = tokio::join!(one.tick(now), two.tick(now));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.started + b.started, 1, "round {round}: {a:?} {b:?}");
        assert_eq!(a.skipped + b.skipped, 0, "round {round}: {a:?} {b:?}");
        let schedule = runs_done(&app, &c, id).await;
        assert_eq!(next_run(&schedule), due + Span::hours(1));
        due = next_run(&schedule);
        // A late tick for the same time finds nothing due.
        assert_eq!(one.tick(now).await.unwrap(), Tick::default());
    }
    let schedule = show(&app, &c, id).await;
    assert_eq!(outcomes(&schedule), ["started"; 4]);
    // Each run is an ordinary export of the saved request, with its file.
    let exports = app.get_json(&c, "/api/exports").await;
    let runs: Vec<&Value> = exports["exports"].as_array().unwrap().iter().collect();
    assert_eq!(runs.len(), 4);
    let first = schedule["runs"][0]["export_id"].as_str().unwrap();
    let done = wait_until_done(&app, &c, first).await;
    assert_eq!(done["filters"], json!({"status": "paid"}));
    let (bytes, _) = download(&app, &c, first).await;
    let records = csv::Reader::from_reader(&bytes[..]).records().count() as i64;
    assert_eq!(records, done["total_rows"].as_i64().unwrap());
    assert_eq!(schedule["runs"][0]["rows"], done["total_rows"]);
    // What the API answers has exactly the documented shape.
    let doc = app.get_json(&c, "/api/openapi.json").await;
    let documented = &doc["components"]["schemas"]["Schedule"]["properties"];
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&schedule), keys(documented));
    assert_eq!(
        keys(&schedule["runs"][0]),
        keys(&documented["runs"]["items"]["properties"])
    );
}

async fn missed_due_times_run_once_after_downtime(backend: Backend) {
    let (app, c, id, made) = scheduled(
        spawn_app(backend).await,
        30,
        "Daily",
        json!({"every": "daily", "at": "06:00"}),
        "UTC",
    )
    .await;
    let first = next_run(&made);
    // Egress was down for ten days: one run, and the next due time is after now.
    let now = first + Span::days(10) + Span::hours(1);
    let tick = app.scheduler(false).await.tick(now).await.unwrap();
    assert_eq!(tick.started, 1, "{tick:?}");
    let schedule = runs_done(&app, &c, id).await;
    assert_eq!(outcomes(&schedule), ["started"]);
    assert_eq!(next_run(&schedule), first + Span::days(11));
    assert_eq!(app.scheduler(false).await.tick(now).await.unwrap(), Tick::default());
}

async fn a_run_still_going_skips_the_next_due_time(backend: Backend) {
    // Slow exports: 400 rows at 100 a second take four seconds.
    let (app, c) = acme(
        spawn_app_with(backend, |a| a.pipeline.max_rows_per_second = 100).await,
        400,
    )
    .await;
    let mut body = schedule_body(
        "Every minute",
        json!({"every": "cron", "expression": "* * * * *"}),
        "UTC",
    );
    body["export"]["filters"] = json!({});
    let made = create(&app, &c, body).await;
    let id = made["id"].as_i64().unwrap();
    let scheduler = app.scheduler(false).await;
    let due = next_run(&made);
    assert_eq!(scheduler.tick(due).await.unwrap().started, 1);
    // The next minute comes while the first run is still going: skipped, on record.
    let tick = scheduler.tick(due + Span::minutes(1)).await.unwrap();
    assert_eq!((tick.started, tick.skipped), (0, 1), "{tick:?}");
    // Run now is refused too, saying why.
    let r = c
        .post(app.url(&format!("/api/schedules/{id}/run")))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 409);
    says(&error, "previous run is still going");
    let schedule = runs_done(&app, &c, id).await;
    assert_eq!(outcomes(&schedule), ["started", "skipped"]);
    assert_eq!(
        schedule["runs"][0]["note"],
        "Skipped: the previous run was still going."
    );
    assert_eq!(next_run(&schedule), due + Span::minutes(2));
    // Once it has ended, run now starts one at once (an ordinary export, 202).
    let r = c
        .post(app.url(&format!("/api/schedules/{id}/run")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let job: Value = r.json().await.unwrap();
    let done = wait_until_done(&app, &c, job["id"].as_str().unwrap()).await;
    assert_eq!(done["total_rows"], 400);
    let schedule = show(&app, &c, id).await;
    assert_eq!(outcomes(&schedule), ["started", "skipped", "started"]);
    assert_eq!(schedule["runs"][0]["note"], "Run now.");
    // Run now leaves the due times alone.
    assert_eq!(next_run(&schedule), due + Span::minutes(2));
}

async fn daylight_saving_changes_move_the_runs_correctly(backend: Backend) {
    let (app, c, id, _) = scheduled(
        spawn_app(backend).await,
        20,
        "Night",
        json!({"every": "daily", "at": "02:30"}),
        "Europe/Berlin",
    )
    .await;
    let scheduler = app.scheduler(false).await;
    let fire = |now: &str, next: &str| {
        let (app, c, scheduler) = (&app, &c, &scheduler);
        let (now, next) = (at(now), at(next));
        async move {
            let tick = scheduler.tick(now).await.unwrap();
            assert_eq!(tick.started, 1, "at {now}: {tick:?}");
            let schedule = runs_done(app, c, id).await;
            assert_eq!(next_run(&schedule), next, "after {now}");
        }
    };
    // Spring forward (2027-03-28, 02:00 → 03:00): 02:30 does not exist; it runs at 03:00.
    fire("2027-03-27T12:00:00Z", "2027-03-28T01:00:00Z").await;
    fire("2027-03-28T01:00:00Z", "2027-03-29T00:30:00Z").await;
    // Fall back (2027-10-31, 03:00 → 02:00): 02:30 happens twice; it runs once.
    fire("2027-10-30T12:00:00Z", "2027-10-31T00:30:00Z").await;
    fire("2027-10-31T00:30:00Z", "2027-11-01T01:30:00Z").await;
    let second_half_past_two = at("2027-10-31T01:30:00Z");
    assert_eq!(scheduler.tick(second_half_past_two).await.unwrap(), Tick::default());
    assert_eq!(outcomes(&show(&app, &c, id).await).len(), 4);
}

async fn paused_schedules_wait_and_resume_without_catching_up(backend: Backend) {
    let (app, c, id, made) = scheduled(
        spawn_app(backend).await,
        20,
        "Weekly",
        json!({"every": "weekly", "weekday": "monday", "at": "09:00"}),
        "America/New_York",
    )
    .await;
    assert_eq!(made["description"], "Every Monday at 09:00");
    let due = next_run(&made);
    let r = c
        .post(app.url(&format!("/api/schedules/{id}/pause")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let paused: Value = r.json().await.unwrap();
    assert_eq!(paused["paused"], true);
    assert!(paused["next_run_at"].is_null());
    let scheduler = app.scheduler(false).await;
    assert_eq!(scheduler.tick(due + Span::days(30)).await.unwrap(), Tick::default());
    let r = c
        .post(app.url(&format!("/api/schedules/{id}/resume")))
        .send()
        .await
        .unwrap();
    let resumed: Value = r.json().await.unwrap();
    assert_eq!(resumed["paused"], false);
    // Resumed: the next Monday 09:00 in New York from now, nothing caught up.
    assert_eq!(next_run(&resumed), due);
    assert!(show(&app, &c, id).await["runs"].as_array().unwrap().is_empty());
    // A replaced schedule works its next run out afresh.
    let r = c
        .put(app.url(&format!("/api/schedules/{id}")))
        .json(&schedule_body(
            "Monthly",
            json!({"every": "monthly", "day": "last", "at": "18:00"}),
            "UTC",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let replaced: Value = r.json().await.unwrap();
    assert_eq!(replaced["description"], "Monthly on the last day at 18:00");
    let next = next_run(&replaced);
    assert_eq!(next.format("%H:%M").to_string(), "18:00");
    assert_eq!((next + Span::days(1)).format("%d").to_string(), "01");
    // Deleted: gone from the list, never fires.
    let r = c.delete(app.url(&format!("/api/schedules/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(app.get_json(&c, "/api/schedules").await, json!([]));
    assert_eq!(scheduler.tick(next + Span::days(1)).await.unwrap(), Tick::default());
    let r = c.get(app.url(&format!("/api/schedules/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

async fn bad_schedules_are_refused_naming_the_field(backend: Backend) {
    let (app, c) = acme(spawn_app(backend).await, 20).await;
    let good = schedule_body("Good", json!({"every": "daily", "at": "09:00"}), "UTC");
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        ("/name", json!("  "), "name", "give the schedule a name"),
        (
            "/time_zone",
            json!("Mars/Olympus"),
            "time_zone",
            "unknown time zone `Mars/Olympus`",
        ),
        (
            "/cadence",
            json!({"every": "daily", "at": "25:00"}),
            "cadence.at",
            "not a time of day",
        ),
        (
            "/cadence",
            json!({"every": "weekly", "weekday": "funday", "at": "09:00"}),
            "cadence.weekday",
            "not a day of the week",
        ),
        (
            "/cadence",
            json!({"every": "monthly", "day": 31, "at": "09:00"}),
            "cadence.day",
            "1 to 28",
        ),
        (
            "/cadence",
            json!({"every": "cron", "expression": "0 0 9 * * 1"}),
            "cadence.expression",
            "has 6 fields",
        ),
        (
            "/cadence",
            json!({"every": "cron", "expression": "99 * * * *"}),
            "cadence.expression",
            "not a cron expression",
        ),
        (
            "/cadence",
            json!({"every": "fortnightly"}),
            "cadence.every",
            "unknown variant `fortnightly`",
        ),
        (
            "/export/dataset",
            json!("payroll"),
            "export.dataset",
            "unknown dataset `payroll`",
        ),
        ("/export/format", json!("pdf"), "export.format", "unknown format `pdf`"),
        (
            "/export/filters",
            json!({"status": "lost"}),
            "export.filters.status",
            "lost",
        ),
        (
            "/export/columns",
            json!(["id", "nope"]),
            "export.columns.1",
            "`nope` is not a column of orders",
        ),
    ];
    for (pointer, value, field, message) in cases {
        let mut body = good.clone();
        let mut target = &mut body;
        for key in pointer.trim_start_matches('/').split('/') {
            target = &mut target[key];
        }
        *target = value;
        let r = c.post(app.url("/api/schedules")).json(&body).send().await.unwrap();
        let (status, error) = error_of(r).await;
        assert_eq!(status, 400, "{pointer}: {error}");
        assert_eq!(error["field"], field, "{pointer}: {error}");
        says(&error, message);
    }
    let mut unknown = good.clone();
    unknown["every"] = json!("day");
    let r = c.post(app.url("/api/schedules")).json(&unknown).send().await.unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 400);
    says(&error, "unknown field `every`");
    // Nothing was written.
    assert_eq!(app.get_json(&c, "/api/schedules").await, json!([]));
    let r = c.post(app.url("/api/schedules/abc/run")).send().await.unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!((status.as_u16(), error["field"].as_str()), (400, Some("id")));
}

async fn members_see_their_own_schedules_and_admins_all(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 20, 1).await;
    app.add_user(ws, "m1@acme.test", Role::Member).await;
    app.add_user(ws, "m2@acme.test", Role::Member).await;
    app.workspace_with_data("Globex", "g@globex.test", 20, 2).await;
    let (owner, m1, m2, other) = (
        app.logged_in("owner@acme.test").await,
        app.logged_in("m1@acme.test").await,
        app.logged_in("m2@acme.test").await,
        app.logged_in("g@globex.test").await,
    );
    let mine = create(
        &app,
        &m1,
        schedule_body("Mine", json!({"every": "daily", "at": "09:00"}), "UTC"),
    )
    .await;
    let id = mine["id"].as_i64().unwrap();
    assert_eq!(mine["created_by"], app.get_json(&m1, "/api/session").await["name"]);
    // Another member: not in their list, 403 on it. Another workspace: 404.
    assert_eq!(app.get_json(&m2, "/api/schedules").await, json!([]));
    for (client, status) in [(&m2, 403), (&other, 404)] {
        for (method, path) in [("GET", ""), ("POST", "/run"), ("POST", "/pause"), ("DELETE", "")] {
            let url = app.url(&format!("/api/schedules/{id}{path}"));
            let r = client.request(method.parse().unwrap(), url).send().await.unwrap();
            assert_eq!(r.status(), status, "{method} {path}");
        }
    }
    // The owner sees and runs it.
    assert_eq!(
        app.get_json(&owner, "/api/schedules").await.as_array().unwrap().len(),
        1
    );
    let r = owner
        .post(app.url(&format!("/api/schedules/{id}/run")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // A dataset only admins may see cannot be scheduled by a member.
    let mut members = schedule_body("Members", json!({"every": "daily", "at": "09:00"}), "UTC");
    members["export"] = json!({"dataset": "members", "format": "csv"});
    let r = m1.post(app.url("/api/schedules")).json(&members).send().await.unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403, "{error}");
    // An API token with only exports:read lists schedules but cannot make one.
    let r = owner
        .post(app.url("/rpc/create_api_token"))
        .json(&json!({"name": "reader", "scopes": ["exports:read"], "expires_in_days": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let token: Value = r.json().await.unwrap();
    let bearer = format!("Bearer {}", token["secret"].as_str().unwrap());
    let api = common::client();
    let r = api
        .get(app.url("/api/schedules"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .post(app.url("/api/schedules"))
        .header("authorization", &bearer)
        .json(&schedule_body("Token", json!({"every": "daily", "at": "09:00"}), "UTC"))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!(status, 403);
    says(&error, "exports:write");
}

async fn a_schedule_whose_maker_left_pauses_and_says_why(backend: Backend) {
    let app = spawn_app(backend).await;
    let ws = app.workspace_with_data("Acme", "owner@acme.test", 20, 1).await;
    let leaver = app.add_user(ws, "leaver@acme.test", Role::Member).await;
    let c = app.logged_in("leaver@acme.test").await;
    let made = create(
        &app,
        &c,
        schedule_body("Left behind", json!({"every": "daily", "at": "09:00"}), "UTC"),
    )
    .await;
    let id = made["id"].as_i64().unwrap();
    app.remove_membership(ws, leaver).await;
    let tick = app
        .scheduler(false)
        .await
        .tick(next_run(&made) + Span::minutes(1))
        .await
        .unwrap();
    assert_eq!((tick.started, tick.skipped), (0, 1), "{tick:?}");
    let owner = app.logged_in("owner@acme.test").await;
    let schedule = show(&app, &owner, id).await;
    assert_eq!(schedule["paused"], true);
    assert_eq!(outcomes(&schedule), ["skipped"]);
    says(
        &json!({"message": schedule["runs"][0]["note"]}),
        "is no longer a member of this workspace",
    );
}

/// The ids (first column) of a CSV export.
async fn exported_ids(app: &TestApp, c: &reqwest::Client, export: &str) -> Vec<i64> {
    let (bytes, _) = download(app, c, export).await;
    csv::Reader::from_reader(&bytes[..])
        .records()
        .map(|r| r.unwrap()[0].parse().unwrap())
        .collect()
}

/// The ids of the workspace's orders that meet `condition`.
async fn source_ids(app: &TestApp, workspace: i64, condition: &str) -> Vec<i64> {
    let q = egress::store::query::Query {
        sql: format!(
            "SELECT CAST(id AS TEXT) FROM orders WHERE workspace_id = {workspace} AND {condition} ORDER BY id"
        ),
        params: vec![],
    };
    let ids = app.store.fetch_texts(&q).await.unwrap();
    let mut ids: Vec<i64> = ids.iter().map(|id| id.parse().unwrap()).collect();
    ids.sort();
    ids
}

/// Adds `n` orders to the workspace (copies of its first ones) changed at `at`.
async fn add_orders(app: &TestApp, workspace: i64, n: i64, at: DateTime<Utc>) {
    let text = at.format("%Y-%m-%dT%H:%M:%S%.6fZ");
    let at = match app.backend {
        Backend::Postgres => format!("CAST('{text}' AS TIMESTAMPTZ)"),
        Backend::Sqlite => format!("'{text}'"),
    };
    app.sql(format!(
        "INSERT INTO orders (workspace_id, order_number, customer_name, customer_email, item_count, total_cents, \
         currency, shipping_address, note, status, tags, created_at) \
         SELECT workspace_id, 'NEW-' || CAST(id AS TEXT), customer_name, customer_email, item_count, total_cents, \
         currency, shipping_address, note, status, tags, {at} FROM orders WHERE workspace_id = {workspace} \
         ORDER BY id LIMIT {n}"
    ))
    .await;
}

/// Runs the schedule's next due time and answers the ids its export holds.
async fn next_increment(app: &TestApp, c: &reqwest::Client, id: i64) -> Vec<i64> {
    let due = next_run(&show(app, c, id).await);
    let tick = app.scheduler(false).await.tick(due).await.unwrap();
    assert_eq!(tick.started, 1, "{tick:?}");
    let schedule = runs_done(app, c, id).await;
    let export = schedule["runs"][0]["export_id"].as_str().unwrap().to_owned();
    exported_ids(app, c, &export).await
}

async fn incremental_runs_lose_and_repeat_nothing(backend: Backend) {
    let (app, c) = acme(spawn_app(backend).await, 40).await;
    let workspace = app.get_json(&c, "/api/session").await["workspace"]["workspace_id"]
        .as_i64()
        .unwrap();
    let mut body = schedule_body("Changes", json!({"every": "hourly", "minute": 0}), "UTC");
    body["export"]["filters"] = json!({});
    body["incremental"] = json!(true);
    let made = create(&app, &c, body).await;
    assert_eq!(made["incremental"], true);
    let id = made["id"].as_i64().unwrap();

    // The first run is a full export.
    let first = next_increment(&app, &c, id).await;
    assert_eq!(first, source_ids(&app, workspace, "1 = 1").await);
    assert_eq!(first.len(), 40);

    // Rows whose transactions committed after the first run's snapshot though their
    // change time is before it (within the overlap), and rows sharing one timestamp.
    let shared = Utc::now() - Span::seconds(5);
    add_orders(&app, workspace, 3, Utc::now() - Span::seconds(60)).await;
    add_orders(&app, workspace, 4, shared).await;
    let second = next_increment(&app, &c, id).await;
    assert_eq!(second.len(), 7, "{second:?}");

    // More rows at the very timestamp the second run delivered, and another late one.
    add_orders(&app, workspace, 2, shared).await;
    add_orders(&app, workspace, 1, Utc::now() - Span::seconds(30)).await;
    let third = next_increment(&app, &c, id).await;
    assert_eq!(third.len(), 3, "{third:?}");

    // Nothing changed: an empty increment.
    assert!(next_increment(&app, &c, id).await.is_empty());

    // Together the runs are the source: nothing lost, nothing twice.
    let mut union: Vec<i64> = [first, second, third].concat();
    union.sort();
    assert_eq!(union, source_ids(&app, workspace, "1 = 1").await);

    // Another export starts afresh: its first run has every matching row.
    let mut paid = schedule_body("Paid changes", json!({"every": "hourly", "minute": 0}), "UTC");
    paid["incremental"] = json!(true);
    let r = c
        .put(app.url(&format!("/api/schedules/{id}")))
        .json(&paid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut fresh = next_increment(&app, &c, id).await;
    fresh.sort();
    assert_eq!(fresh, source_ids(&app, workspace, "status = 'paid'").await);
    assert!(!fresh.is_empty());

    // A dataset that does not say which rows changed cannot be scheduled incrementally.
    let mut members = schedule_body("Members", json!({"every": "daily", "at": "09:00"}), "UTC");
    members["export"] = json!({"dataset": "members", "format": "csv"});
    members["incremental"] = json!(true);
    let r = c.post(app.url("/api/schedules")).json(&members).send().await.unwrap();
    let (status, error) = error_of(r).await;
    assert_eq!((status.as_u16(), error["field"].as_str()), (400, Some("incremental")));
    says(&error, "can only be exported whole");
}
