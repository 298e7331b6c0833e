//! The route access table (issue 23): `egress::server::access::ROUTES` says, for every
//! route the router has, what each caller must get. These stories hold it to the router
//! (a route without an entry, or an entry without a route, fails) and walk it against a
//! live server for every caller — nobody; a member's, an admin's and an owner's session;
//! their API tokens with each scope alone and with all of them — with real objects in the
//! paths. And a body the JSON API reads must be sent as JSON (415 otherwise).

use crate::common;

use common::{Backend, TestApp, client, error_of, says, spawn_app_with, wait_until_done, wait_until_terminal};
use egress::accounts::Role;
use egress::accounts::api_tokens::Scope;
use egress::server::access::{Access, ROUTES, RouteRule, Who, rule};
use egress::server::config::{AuthMode, ServeArgs};
use serde_json::Value;
use std::collections::BTreeSet;

both_backends!(
    every_route_answers_every_caller_as_the_table_says,
    bodies_not_sent_as_json_are_refused,
);

const METRICS_TOKEN: &str = "a metrics token for the scraper";

fn configure(a: &mut ServeArgs) {
    // Sign-in links and /metrics set up, so their routes answer as themselves (not 404);
    // webhooks and destinations may point at loopback, so nothing leaves the machine.
    a.jwt_secret = Some("a shared secret of at least thirty-two bytes".into());
    a.auth = AuthMode::Both;
    a.metrics_token = Some(METRICS_TOKEN.into());
    a.pipeline.allow_private_targets = true;
}

// --- The table against the router ------------------------------------------------------

/// Every `METHOD path` the router registers: each `.route("path", get(…).post(…))` in the
/// crate's source, read from the files.
fn routed() -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let mut todo = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(path) = todo.pop() {
        if path.is_dir() {
            todo.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            // A file's unit tests (last, by the crate's habit) build routers of their own.
            routes_in(text.split("\nmod tests {").next().unwrap(), &mut found);
        }
    }
    found
}

fn routes_in(text: &str, found: &mut BTreeSet<(String, String)>) {
    for (at, call) in text.match_indices(".route(") {
        // The call's arguments, up to its closing parenthesis.
        let rest = &text[at + call.len()..];
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map_or(rest.len(), |(i, _)| i);
        let args = &rest[..end];
        let path = args.split('"').nth(1).expect("a route's path is a string literal");
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            let called = args
                .match_indices(&format!("{method}("))
                .any(|(i, _)| !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
            if called {
                found.insert((method.to_uppercase(), path.to_owned()));
            }
        }
    }
}

/// A route without an entry, or an entry of no route, named.
fn table_matches_router() -> Result<(), String> {
    let routed = routed();
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .collect();
    assert!(routed.len() > 30, "the scan found the router's routes: {routed:?}");
    let unlisted: Vec<String> = routed.difference(&table).map(|(m, p)| format!("{m} {p}")).collect();
    let gone: Vec<String> = table.difference(&routed).map(|(m, p)| format!("{m} {p}")).collect();
    if unlisted.is_empty() && gone.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "routes without an entry in src/server/access.rs: {unlisted:?}; entries no longer routed: {gone:?}"
        ))
    }
}

#[test]
fn the_table_lists_every_route_and_only_routes() {
    table_matches_router().unwrap();
    let mut found = BTreeSet::new();
    routes_in(
        r#"Router::new().route("/a/{id}", get(show).delete(gone)).route("/b", axum::routing::post(make))"#,
        &mut found,
    );
    let found: Vec<_> = found.iter().map(|(m, p)| format!("{m} {p}")).collect();
    assert_eq!(found, ["DELETE /a/{id}", "GET /a/{id}", "POST /b"]);
}

// --- Callers and sample objects ------------------------------------------------------------

/// One caller of the walk.
struct Caller {
    name: String,
    client: reqwest::Client,
    bearer: Option<String>,
    /// The session's user, to sign in again after `DELETE /api/session`.
    email: Option<String>,
    role: Option<Role>,
    scopes: Vec<Scope>,
}

impl Caller {
    fn who(&self) -> Who<'_> {
        match (self.role, &self.bearer) {
            (None, _) => Who::Nobody,
            (Some(role), None) => Who::Session(role),
            (Some(role), Some(_)) => Who::Token {
                role,
                scopes: &self.scopes,
            },
        }
    }
}

/// A token of `user` in `workspace` with `scopes`, made in the store (a member's too,
/// which the tokens page would not make: a token acts with its maker's role now).
async fn token(app: &TestApp, workspace: i64, user: i64, scopes: &[Scope]) -> String {
    use sha2::Digest;
    let secret = format!("egress_{}", uuid::Uuid::new_v4().simple());
    app.store
        .create_api_token(&egress::store::NewApiToken {
            workspace_id: workspace,
            created_by: user,
            name: "route access".into(),
            prefix: secret[..13].to_owned(),
            token_hash: hex::encode(sha2::Sha256::digest(secret.as_bytes())),
            scopes: scopes.iter().map(|s| s.id()).collect::<Vec<_>>().join(","),
            created_at: chrono::Utc::now().timestamp(),
            expires_at: None,
        })
        .await
        .unwrap();
    secret
}

/// The objects the paths' ids name, made when first needed and again after a delete:
/// the member's completed export and schedule, the workspace's webhook endpoint and
/// destination (the owner's).
struct Samples {
    member: reqwest::Client,
    owner: reqwest::Client,
    made: std::collections::HashMap<&'static str, String>,
}

/// Which object a path's `{id}` names: the segment before it (`exports`, `schedules`, …).
fn kind_of(path: &str) -> Option<&'static str> {
    let before = path.split("/{id}").next().filter(|_| path.contains("{id}"))?;
    let kind = before.rsplit('/').next().unwrap();
    Some(match kind {
        "exports" => "exports",
        "schedules" => "schedules",
        "webhooks" => "webhooks",
        "destinations" => "destinations",
        "members" => "members",
        other => panic!("{path}: route_access.rs has no sample object for `{other}`; add one"),
    })
}

/// The sample request's body of `POST path`.
fn body_of(method: &str, path: &str) -> &'static str {
    rule(method, path).and_then(|r| r.body).unwrap()
}

impl Samples {
    async fn make(&self, app: &TestApp, kind: &str) -> String {
        if kind == "members" {
            // A person of the workspace who is none of the callers (removing one of them
            // would revoke the walk's tokens).
            let owner = app.store.user_by_email("owner@acme.test").await.unwrap().unwrap();
            let ws = app.store.memberships(owner.id).await.unwrap()[0].workspace_id;
            let email = format!("sample-{}@acme.test", uuid::Uuid::new_v4());
            return app.add_user(ws, &email, Role::Member).await.to_string();
        }
        let (c, path) = match kind {
            "exports" | "schedules" => (&self.member, format!("/api/{kind}")),
            _ => (&self.owner, format!("/api/{kind}")),
        };
        let r = c
            .post(app.url(&path))
            .header("content-type", "application/json")
            .body(body_of("POST", &path))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "making a sample of {kind}: {}",
            r.text().await.unwrap()
        );
        let made: Value = r.json().await.unwrap();
        let id = match kind {
            "webhooks" => made["endpoint"]["id"].clone(),
            _ => made["id"].clone(),
        };
        let id = id.as_str().map_or_else(|| id.to_string(), str::to_owned);
        if kind == "exports" {
            assert_eq!(wait_until_done(app, c, &id).await["status"], "completed");
        }
        id
    }

    /// The path with its `{id}` filled in.
    async fn path(&mut self, app: &TestApp, path: &str) -> String {
        let Some(kind) = kind_of(path) else {
            return path.to_owned();
        };
        if !self.made.contains_key(kind) {
            let id = self.make(app, kind).await;
            self.made.insert(kind, id);
        }
        path.replace("{id}", &self.made[kind])
    }

    /// After an answer: a deleted object is made again when next needed, and an export
    /// the request started is waited for (so the workspace's limit of running exports,
    /// and a schedule's one run at a time, do not change later answers).
    async fn after(&mut self, app: &TestApp, rule: &RouteRule, status: u16, body: &Value) {
        if rule.method == "DELETE"
            && (200..300).contains(&status)
            && let Some(kind) = kind_of(rule.path)
        {
            self.made.remove(kind);
        }
        if status == 202
            && body["status"].is_string()
            && let Some(id) = body["id"].as_str().and_then(|id| uuid::Uuid::parse_str(id).ok())
        {
            wait_until_terminal(&app.store, id).await;
        }
    }
}

async fn send(app: &TestApp, c: &Caller, rule: &RouteRule, path: &str) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(rule.method.as_bytes()).unwrap();
    let mut request = c.client.request(method, app.url(path));
    if let Some(bearer) = &c.bearer {
        request = request.header("authorization", format!("Bearer {bearer}"));
    }
    if let Some(body) = rule.body {
        request = request.header("content-type", "application/json").body(body);
    }
    request.send().await.unwrap()
}

/// The answer's body as JSON (`null` for an event stream, which does not end, or text).
async fn json_of(r: reqwest::Response) -> (u16, Value, String) {
    let status = r.status().as_u16();
    let stream = r
        .headers()
        .get("content-type")
        .is_some_and(|t| t.to_str().unwrap_or_default().starts_with("text/event-stream"));
    if stream {
        return (status, Value::Null, "(an event stream)".into());
    }
    let text = r.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), text)
}

/// The app, its workspace's member, admin and owner, and every caller of the walk.
async fn callers(app: &TestApp) -> Vec<Caller> {
    let ws = app.workspace_with_data("Acme", "founder@acme.test", 5, 1).await;
    let mut callers = vec![Caller {
        name: "nobody".into(),
        client: client(),
        bearer: None,
        email: None,
        role: None,
        scopes: vec![],
    }];
    for role in Role::ALL {
        let email = format!("{}@acme.test", role.id());
        let user = app.add_user(ws, &email, role).await;
        callers.push(Caller {
            name: format!("{}'s session", role.id()),
            client: app.logged_in(&email).await,
            bearer: None,
            email: Some(email),
            role: Some(role),
            scopes: vec![],
        });
        let mut sets: Vec<Vec<Scope>> = Scope::ALL.iter().map(|s| vec![*s]).collect();
        sets.push(Scope::ALL.to_vec());
        for scopes in sets {
            let ids: Vec<&str> = scopes.iter().map(|s| s.id()).collect();
            callers.push(Caller {
                name: format!("{}'s token [{}]", role.id(), ids.join(" ")),
                client: client(),
                bearer: Some(token(app, ws, user, &scopes).await),
                email: None,
                role: Some(role),
                scopes,
            });
        }
    }
    callers
}

async fn samples(app: &TestApp) -> Samples {
    Samples {
        member: app.logged_in("member@acme.test").await,
        owner: app.logged_in("owner@acme.test").await,
        made: Default::default(),
    }
}

// --- The walk ----------------------------------------------------------------------------

async fn every_route_answers_every_caller_as_the_table_says(backend: Backend) {
    table_matches_router().unwrap();
    let app = spawn_app_with(backend, configure).await;
    let mut callers = callers(&app).await;
    let mut samples = samples(&app).await;
    let mut wrong = Vec::new();
    for rule in ROUTES {
        for caller in &mut callers {
            let path = samples.path(&app, rule.path).await;
            let expected = rule.expected(caller.who());
            let (status, body, text) = json_of(send(&app, caller, rule, &path).await).await;
            if status != expected {
                wrong.push(format!(
                    "{} {} as {}: {status}, the table says {expected} ({})",
                    rule.method,
                    rule.path,
                    caller.name,
                    text.chars().take(200).collect::<String>()
                ));
            }
            samples.after(&app, rule, status, &body).await;
            if let (Some(email), "DELETE", "/api/session") = (&caller.email, rule.method, rule.path) {
                caller.client = app.logged_in(email).await;
            }
        }
        if rule.access == Access::MetricsToken {
            // The one credential the metrics route takes.
            let r = client()
                .get(app.url(rule.path))
                .header("authorization", format!("Bearer {METRICS_TOKEN}"))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.status().as_u16(),
                rule.allowed,
                "{} with the metrics token",
                rule.path
            );
        }
    }
    assert!(
        wrong.is_empty(),
        "{} answers differ from src/server/access.rs:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

// --- Bodies must be JSON ---------------------------------------------------------------------

async fn bodies_not_sent_as_json_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, configure).await;
    let ws = app.workspace_with_data("Acme", "founder@acme.test", 5, 1).await;
    app.add_user(ws, "member@acme.test", Role::Member).await;
    app.add_user(ws, "owner@acme.test", Role::Owner).await;
    let mut samples = samples(&app).await;
    let owner = samples.owner.clone();
    let doc = app.get_json(&owner, "/api/openapi.json").await;
    let reading: Vec<&RouteRule> = ROUTES.iter().filter(|r| r.body.is_some()).collect();
    assert!(reading.len() >= 8, "the table has the routes that read a body");
    for rule in reading {
        let path = samples.path(&app, rule.path).await;
        let method = reqwest::Method::from_bytes(rule.method.as_bytes()).unwrap();
        let body = rule.body.unwrap();
        for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
            let mut request = owner.request(method.clone(), app.url(&path)).body(body);
            if let Some(t) = content_type {
                request = request.header("content-type", t);
            }
            let (status, error) = error_of(request.send().await.unwrap()).await;
            let what = format!("{} {} as {content_type:?}", rule.method, rule.path);
            assert_eq!(status, 415, "{what}: {error}");
            assert_eq!(error["code"], "unsupported_media_type", "{what}");
            says(&error, "send the body as application/json");
        }
        let described = &doc["paths"][rule.path][rule.method.to_lowercase()]["responses"]["415"];
        assert_eq!(
            described["content"]["application/json"]["example"]["error"]["code"], "unsupported_media_type",
            "the API description has the 415 of {} {}",
            rule.method, rule.path
        );
    }
    assert_eq!(
        app.get_json(&owner, "/api/exports").await["total"],
        0,
        "no body sent as text or a form made an export"
    );

    // JSON with a charset, or in capitals, is JSON.
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let r = owner
            .post(app.url("/api/exports"))
            .header("content-type", content_type)
            .body(body_of("POST", "/api/exports"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{content_type}");
        let job: Value = r.json().await.unwrap();
        wait_until_done(&app, &owner, job["id"].as_str().unwrap()).await;
    }
    assert_eq!(app.get_json(&owner, "/api/exports").await["total"], 2);
}
