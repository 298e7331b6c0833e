//! Who may call each HTTP route, in one table beside the router: every route the router
//! registers (the JSON API, the download link, sign-in, health checks, metrics), what it
//! takes — no credentials, a session, or a session or an API token with a scope — the
//! least role that may use it, and what an allowed caller gets for the table's sample
//! request. The status any caller must get follows from the entry (`RouteRule::expected`).
//!
//! `tests/suite/route_access.rs` walks the table against a live server for every caller
//! (nobody; a member's, an admin's and an owner's session; their tokens with each scope
//! alone and with all of them), and fails on a route the router has that the table lacks,
//! or an entry no longer routed. Pages and server functions (`/rpc/…`, among them the
//! API tokens' own) are not here: the same-origin rule and the pages' roles cover them.

use crate::accounts::Role;
use crate::accounts::api_tokens::Scope;

/// What a route asks of its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: no credentials are asked for or looked at.
    Public,
    /// A signed-in session, whatever its role; a token or nobody gets 401.
    Session,
    /// A session whose role is at least `role`, or a token with `scope` whose maker's
    /// role is at least `role`. Nobody gets 401; a token without the scope, or a role
    /// below `role`, 403.
    Api { scope: Scope, role: Role },
    /// As `Api`, for a link a person opens (the download): signed out, they are sent to
    /// the log-in page (303) instead of a 401.
    Link { scope: Scope, role: Role },
    /// Only `Authorization: Bearer <--metrics-token>` (and 404 without that flag); the
    /// API's credentials are not it (401).
    MetricsToken,
}

/// One route: `method path`, as the router registers it (`GET /api/exports/{id}`).
#[derive(Clone, Copy, Debug)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    /// The sample request's JSON body, for a route that reads one: the cheapest request
    /// that would do what the route is for.
    pub body: Option<&'static str>,
    /// What an allowed caller gets for the sample request.
    pub allowed: u16,
}

/// Who calls, as the table tells them apart.
#[derive(Clone, Copy, Debug)]
pub enum Who<'a> {
    /// No cookie, no `Authorization`.
    Nobody,
    /// A signed-in session of a user with this role.
    Session(Role),
    /// An API token with these scopes, made by a user who has this role now.
    Token { role: Role, scopes: &'a [Scope] },
}

impl RouteRule {
    /// The status `who` must get for the sample request.
    pub fn expected(&self, who: Who) -> u16 {
        let (scope, least, signed_out) = match self.access {
            Access::Public => return self.allowed,
            Access::Session => {
                return match who {
                    Who::Session(_) => self.allowed,
                    _ => 401,
                };
            }
            Access::MetricsToken => return 401,
            Access::Api { scope, role } => (scope, role, 401),
            Access::Link { scope, role } => (scope, role, 303),
        };
        match who {
            Who::Nobody => signed_out,
            Who::Session(role) if role >= least => self.allowed,
            Who::Session(_) => 403,
            // A token acts with its maker's role, at most admin (`accounts::tokens`).
            Who::Token { role, scopes } if scopes.contains(&scope) && role.min(Role::Admin) >= least => self.allowed,
            Who::Token { .. } => 403,
        }
    }
}

const fn api(method: &'static str, path: &'static str, scope: Scope, role: Role, allowed: u16) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Api { scope, role },
        body: None,
        allowed,
    }
}

const fn with_body(rule: RouteRule, body: &'static str) -> RouteRule {
    RouteRule {
        body: Some(body),
        ..rule
    }
}

const fn open(method: &'static str, path: &'static str, access: Access, allowed: u16) -> RouteRule {
    RouteRule {
        method,
        path,
        access,
        body: None,
        allowed,
    }
}

use Role::{Admin, Member};
use Scope::{DestinationsManage, ExportsRead, ExportsWrite, WebhooksManage, WorkspaceManage};

const SCHEDULE: &str = r#"{"name": "Nightly contacts", "export": {"dataset": "contacts", "format": "csv"},
    "cadence": {"every": "daily", "at": "09:00"}, "time_zone": "UTC"}"#;

/// Every route of the router. Ids in paths are the sample objects' (an export the member
/// started and that completed, their schedule, the workspace's webhook endpoint and
/// destination), so an answer tells the caller's rights, not a missing object.
pub const ROUTES: &[RouteRule] = &[
    // Health, the description, sign-in and the session (api.rs).
    open("GET", "/healthz", Access::Public, 200),
    open("GET", "/readyz", Access::Public, 200),
    open("GET", "/api/openapi.json", Access::Public, 200),
    open("GET", "/metrics", Access::MetricsToken, 200),
    // Without a token, the sign-in link says what is missing (400), to anyone; posted
    // (the confirmation, or the host ending someone's access) the same.
    open("GET", "/auth/jwt", Access::Public, 400),
    open("POST", "/auth/jwt", Access::Public, 400),
    open("GET", "/api/session", Access::Session, 200),
    // Credentials without a password: the field is named (400), whoever asks.
    with_body(
        open("POST", "/api/session", Access::Public, 400),
        r#"{"email": "nobody@example.test"}"#,
    ),
    open("DELETE", "/api/session", Access::Public, 204),
    // The workspace's settings (api.rs).
    api("GET", "/api/workspace", ExportsRead, Member, 200),
    with_body(
        api("PUT", "/api/workspace", WorkspaceManage, Admin, 200),
        r#"{"retention_hours": null}"#,
    ),
    // The workspace's people (api.rs); the id is a sample member's, made for each removal.
    api("GET", "/api/members", WorkspaceManage, Admin, 200),
    api("DELETE", "/api/members/{id}", WorkspaceManage, Admin, 204),
    // Exports (exports_api.rs).
    api("GET", "/api/datasets", ExportsRead, Member, 200),
    api("GET", "/api/exports", ExportsRead, Member, 200),
    with_body(
        api("POST", "/api/exports", ExportsWrite, Member, 202),
        r#"{"dataset": "contacts", "format": "csv"}"#,
    ),
    with_body(
        api("POST", "/api/archives", ExportsWrite, Member, 202),
        r#"{"scope": "me", "format": "csv"}"#,
    ),
    api("GET", "/api/exports/events", ExportsRead, Member, 200),
    api("GET", "/api/exports/{id}", ExportsRead, Member, 200),
    api("DELETE", "/api/exports/{id}", ExportsWrite, Member, 204),
    api("GET", "/api/exports/{id}/events", ExportsRead, Member, 200),
    open(
        "GET",
        "/exports/{id}/download",
        Access::Link {
            scope: ExportsRead,
            role: Member,
        },
        200,
    ),
    // Schedules (schedules_api.rs).
    api("GET", "/api/schedules", ExportsRead, Member, 200),
    with_body(api("POST", "/api/schedules", ExportsWrite, Member, 201), SCHEDULE),
    api("GET", "/api/schedules/{id}", ExportsRead, Member, 200),
    with_body(api("PUT", "/api/schedules/{id}", ExportsWrite, Member, 200), SCHEDULE),
    api("DELETE", "/api/schedules/{id}", ExportsWrite, Member, 204),
    api("POST", "/api/schedules/{id}/pause", ExportsWrite, Member, 200),
    api("POST", "/api/schedules/{id}/resume", ExportsWrite, Member, 200),
    api("POST", "/api/schedules/{id}/run", ExportsWrite, Member, 202),
    // Webhook endpoints (webhooks_api.rs).
    api("GET", "/api/webhooks", WebhooksManage, Admin, 200),
    with_body(
        api("POST", "/api/webhooks", WebhooksManage, Admin, 201),
        r#"{"url": "http://127.0.0.1:9/hooks/egress", "events": ["export.completed"]}"#,
    ),
    api("GET", "/api/webhooks/{id}", WebhooksManage, Admin, 200),
    api("DELETE", "/api/webhooks/{id}", WebhooksManage, Admin, 204),
    api("POST", "/api/webhooks/{id}/rotate", WebhooksManage, Admin, 200),
    api("POST", "/api/webhooks/{id}/test", WebhooksManage, Admin, 202),
    // Delivery destinations (destinations_api.rs).
    api("GET", "/api/destinations", DestinationsManage, Admin, 200),
    with_body(
        api("POST", "/api/destinations", DestinationsManage, Admin, 201),
        r#"{"name": "Warehouse", "endpoint": "http://127.0.0.1:9", "bucket": "acme-exports",
            "access_key_id": "AKIDEXAMPLE", "secret_access_key": "not a real secret"}"#,
    ),
    api("GET", "/api/destinations/{id}", DestinationsManage, Admin, 200),
    api("DELETE", "/api/destinations/{id}", DestinationsManage, Admin, 204),
    api("POST", "/api/destinations/{id}/test", DestinationsManage, Admin, 200),
];

/// The table's entry for `method path`.
pub fn rule(method: &str, path: &str) -> Option<&'static RouteRule> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_is_in_the_table_once() {
        for (i, r) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[..i].iter().any(|o| o.method == r.method && o.path == r.path),
                "{} {} twice",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn the_status_follows_from_the_entry() {
        let hooks = rule("GET", "/api/webhooks").unwrap();
        let all = Scope::ALL;
        let exports = [Scope::ExportsRead, Scope::ExportsWrite];
        assert_eq!(hooks.expected(Who::Nobody), 401);
        assert_eq!(hooks.expected(Who::Session(Role::Member)), 403);
        assert_eq!(hooks.expected(Who::Session(Role::Admin)), 200);
        let token = |role, scopes| Who::Token { role, scopes };
        assert_eq!(hooks.expected(token(Role::Owner, &all)), 200);
        assert_eq!(hooks.expected(token(Role::Owner, &exports)), 403, "no scope");
        assert_eq!(hooks.expected(token(Role::Member, &all)), 403, "the maker's role");

        let settings = rule("PUT", "/api/workspace").unwrap();
        assert_eq!(settings.expected(token(Role::Admin, &exports)), 403);
        assert_eq!(settings.expected(token(Role::Admin, &[Scope::WorkspaceManage])), 200);

        let download = rule("GET", "/exports/{id}/download").unwrap();
        assert_eq!(download.expected(Who::Nobody), 303, "to the log-in page");
        assert_eq!(download.expected(token(Role::Member, &exports)), 200);

        let me = rule("GET", "/api/session").unwrap();
        assert_eq!(me.expected(Who::Session(Role::Member)), 200);
        assert_eq!(me.expected(token(Role::Admin, &all)), 401);
        assert_eq!(rule("GET", "/metrics").unwrap().expected(token(Role::Admin, &all)), 401);
        assert_eq!(rule("GET", "/healthz").unwrap().expected(Who::Nobody), 200);
    }
}
