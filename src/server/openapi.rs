//! `GET /api/openapi.json`: the JSON API described in OpenAPI 3.1, written by hand next
//! to the routes it describes (tests check that every route is in it).

use crate::catalog::{Catalog, FilterKind};
use crate::exports::ACTIVE_LIMIT;
use axum::Json;
use serde_json::{Value, json};

fn error_response(description: &str, code: &str, message: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"},
            "example": {"error": {"code": code, "message": message}}
        }}
    })
}

/// A 400 whose example names the field.
fn invalid_response(description: &str, field: &str, message: &str) -> Value {
    let mut response = error_response(description, "invalid", &format!("{field}: {message}"));
    response["content"]["application/json"]["example"]["error"]["field"] = json!(field);
    response
}

/// A 429 or 503 that says when to come back.
fn retry_response(description: &str, code: &str, message: &str) -> Value {
    let mut response = error_response(description, code, message);
    response["headers"] =
        json!({"Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}});
    response
}

/// Every operation that reads a body answers 415 to one not sent as JSON
/// (`error::JsonBody`, the one check of all of them).
fn not_json_responses(doc: &mut Value) {
    let refused = error_response(
        "The body was not sent as JSON: the Content-Type is missing or another (text/plain, a form); nothing is done",
        "unsupported_media_type",
        "The body was sent as `text/plain`: send the body as application/json.",
    );
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|p| p.values_mut())
    {
        if operation.get("requestBody").is_some()
            && let Some(responses) = operation["responses"].as_object_mut()
        {
            responses.insert("415".to_owned(), refused.clone());
        }
    }
}

/// Each filter parameter of the catalog's datasets, with what it takes.
fn filter_parameters(catalog: &Catalog) -> Value {
    let mut properties = serde_json::Map::new();
    for dataset in &catalog.datasets {
        for filter in &dataset.filters {
            let column = dataset.column(&filter.column).map_or("", |c| c.label.as_str());
            for (i, param) in filter.kind.params(&filter.id).into_iter().enumerate() {
                let what = match filter.kind {
                    FilterKind::TimeRange if i == 0 => {
                        format!("{column} from: a date (YYYY-MM-DD) or an RFC 3339 time, inclusive")
                    }
                    FilterKind::TimeRange => {
                        format!("{column} to: a date (that whole day) or an RFC 3339 time (exclusive)")
                    }
                    FilterKind::NumberRange if i == 0 => format!("{column} at least"),
                    FilterKind::NumberRange => format!("{column} at most"),
                    FilterKind::OneOf if filter.values.is_empty() => format!("{column} equals (a value in the data)"),
                    FilterKind::OneOf => format!("{column} is one of: {}", filter.values.join(", ")),
                    FilterKind::ListContains => format!("{column} contains"),
                    FilterKind::TextEquals => format!("{column} equals"),
                    FilterKind::TextSearch => format!("{column} starts with or contains, ignoring case"),
                };
                let entry = properties
                    .entry(param)
                    .or_insert_with(|| json!({"type": "string", "description": ""}));
                let described = entry["description"].as_str().unwrap_or_default();
                let line = format!("{}: {what}", dataset.id);
                entry["description"] = json!(if described.is_empty() {
                    line
                } else {
                    format!("{described}; {line}")
                });
            }
        }
    }
    json!({"type": "object", "additionalProperties": false, "description": "The dataset's filter parameters, as text (GET /api/datasets lists each dataset's). A parameter another dataset has is an error naming it.", "properties": properties})
}

pub async fn document(axum::extract::State(state): axum::extract::State<crate::server::AppState>) -> Json<Value> {
    let datasets: Vec<&str> = state.catalog.datasets.iter().map(|d| d.id.as_str()).collect();
    let filters = filter_parameters(&state.catalog);
    let unauthorized = error_response(
        "Not signed in, or the API token is unknown, revoked or expired",
        "unauthorized",
        "You are not signed in.",
    );
    let not_found = error_response(
        "No such export in any of your workspaces (or it was deleted)",
        "not_found",
        "There is no such export in your workspaces.",
    );
    let forbidden_role = error_response(
        "Your role does not allow it: members act on their own exports only",
        "forbidden",
        "Only the person who started this export, or an admin of the workspace, can cancel it.",
    );
    let too_large = error_response(
        "The body is over 64 KiB",
        "payload_too_large",
        "The request body is larger than 64 KiB.",
    );
    let internal = error_response(
        "Egress failed; the detail is in its log under the request id (also in the X-Request-Id header)",
        "internal",
        "Something went wrong on our side. If it keeps happening, tell your administrator the request id 0f3c….",
    );
    let forbidden_manage = error_response(
        "Only admins and owners manage webhooks (a token needs webhooks:manage)",
        "forbidden",
        "Only the workspace's admins and owners manage webhooks.",
    );
    let webhook_not_found = error_response(
        "No such endpoint in this workspace",
        "not_found",
        "There is no such webhook endpoint in this workspace.",
    );
    let webhook_id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}});
    let formats: Vec<&str> = crate::formats::Format::all().iter().map(|f| f.id()).collect();
    let webhook_events: Vec<&str> = crate::notify::Event::ALL.iter().map(|e| e.id()).collect();
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Egress API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Export a workspace's data as CSV, JSON, NDJSON, XLSX or Parquet. Authenticate with an API token (`Authorization: Bearer egress_…`, made by an admin on the API tokens page, with some of the scopes exports:read, exports:write, webhooks:manage, destinations:manage and workspace:manage), or log in with POST /api/session and send the session cookie with every request. A token acts only in the workspace it was made in, with its maker's role there (at most admin). New exports are made in the caller's current workspace; a session signed in with a password can read an export of any workspace the person belongs to by its id (a session from the host product's hand-off only of the workspaces its hand-offs named); any other workspace's objects are 404. Members see and manage their own exports, admins and owners all of the workspace's; a dataset may require a role. Changes (POST, DELETE) sent by a browser must come from Egress's own pages. Every answer carries an X-Request-Id header (a valid one sent by the client is kept)."
        },
        "security": [{"token": []}, {"session": []}],
        "paths": {
            "/auth/jwt": {
                "get": {
                    "summary": "Sign in from the host product (for browsers)",
                    "description": "The host product sends a person here with a short-lived signed token (HS256, RS256 or EdDSA; claims sub, email, name, tenant {id, name}, role, aud, exp, nbf, iat, iss, jti). Egress checks it, finds the person by (iss, sub) — never by email unless the operator opts in — creates or updates the tenant's workspace and the membership, starts a session that reaches only the workspaces hand-offs named, and redirects to return_to. When another person is signed in in this browser it answers a page that asks first (the token is not spent). Role `none` ends the person's access to the tenant. Each token works once. Refusals are HTML pages for people.",
                    "security": [],
                    "parameters": [
                        {"name": "token", "in": "query", "required": true, "schema": {"type": "string"}},
                        {"name": "return_to", "in": "query", "schema": {"type": "string", "default": "/"}, "description": "A path of this site; anything else is refused"}
                    ],
                    "responses": {
                        "200": {"description": "A page: someone else is signed in here (asks before switching), or the person's access ended (role none)"},
                        "303": {"description": "Signed in; redirect to return_to"},
                        "400": {"description": "No token, a claim missing or wrong, or return_to off this site"},
                        "401": {"description": "Expired, not valid yet, used before, signed by another key, for another audience or issuer, or valid for too long"},
                        "404": {"description": "Sign-in from another product is not set up"},
                        "409": {"description": "An Egress account already has this email and is not linked to this person"}
                    }
                },
                "post": {
                    "summary": "The same sign-in link, confirmed (a form); or a host's back end ending a person's access (role none)",
                    "security": [],
                    "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["token"], "properties": {
                        "token": {"type": "string"}, "return_to": {"type": "string", "default": "/"}}}}}},
                    "responses": {
                        "200": {"description": "The person's access ended (role none)"},
                        "303": {"description": "Signed in; redirect to return_to"},
                        "400": {"description": "No token, a claim missing or wrong, or return_to off this site"},
                        "401": {"description": "Expired, not valid yet, used before, signed by another key, for another audience or issuer, or valid for too long"},
                        "403": {"description": "Posted by a page of another site"},
                        "404": {"description": "Sign-in from another product is not set up"},
                        "409": {"description": "An Egress account already has this email and is not linked to this person"}
                    }
                }
            },
            "/api/members": {
                "get": {"summary": "The workspace's people (admins and owners; workspace:manage)",
                    "responses": {"200": {"description": "Its people, by name", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}}}},
                        "401": unauthorized.clone(),
                        "403": error_response("Not an admin or owner, or the token lacks workspace:manage", "forbidden", "Only the workspace's admins and owners manage its people.")}}
            },
            "/api/members/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}, "description": "The person's user id (GET /api/members)"}],
                "delete": {"summary": "Take a person out of the workspace (admins and owners; workspace:manage)",
                    "description": "Their membership goes, the API tokens they made here are revoked, their progress streams end, and their sessions no longer reach the workspace (signed out when none is left). Only owners remove owners; the last owner stays.",
                    "responses": {"204": {"description": "Removed"},
                        "400": invalid_response("The id is not a number", "id", "`x` is not a user id"),
                        "401": unauthorized.clone(),
                        "403": error_response("Not an admin or owner, an admin removing an owner, or the token lacks workspace:manage", "forbidden", "Only an owner can remove an owner."),
                        "404": error_response("No such person in this workspace", "not_found", "There is no such person in this workspace."),
                        "409": error_response("The workspace's last owner", "conflict", "This is the workspace's last owner: make someone else an owner first.")}}
            },
            "/api/session": {
                "post": {
                    "summary": "Log in",
                    "security": [],
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"type": "object", "additionalProperties": false, "required": ["email", "password"],
                                   "properties": {"email": {"type": "string"}, "password": {"type": "string"}}},
                        "example": {"email": "ada@acme.example", "password": "egress-demo-2024"}}}},
                    "responses": {
                        "200": {"description": "Logged in; the `egress_session` cookie is set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Viewer"}}}},
                        "400": invalid_response("Malformed body; `error.field` names the field", "password", "missing field `password`"),
                        "401": error_response("Wrong email or password (the same answer for both)", "bad_credentials", "That email and password do not match an account."),
                        "403": error_response("Sent by a page of another site, or password sign-in is off (--auth jwt)", "forbidden", "Password sign-in is off on this Egress: open it from the product you use."),
                        "429": retry_response("Too many failed sign-ins for this account or from this address in the last 15 minutes", "rate_limited", "Too many failed sign-ins. Try again in 12 minutes."),
                        "503": retry_response("Too many sign-ins being checked at once", "unavailable", "Egress is busy checking other sign-ins. Try again in a few seconds.")
                    }
                },
                "get": {"summary": "Who is signed in", "responses": {"200": {"description": "The signed-in user", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Viewer"}}}}, "401": unauthorized}},
                "delete": {"summary": "Log out", "responses": {"204": {"description": "Logged out"}}}
            },
            "/api/exports": {
                "post": {
                    "summary": "Start an export",
                    "description": "Needs the exports:write scope. With an Idempotency-Key, a retry of the same request (same key, same body) answers 200 with the export the first one made, for a day.",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        "description": "Printable ASCII, unique per export you mean to start (a UUID is a good key); keys are per user"}],
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewExport"},
                        "example": {"dataset": "orders", "format": "csv", "filters": {"status": "paid", "created_from": "2025-01-01", "created_to": "2025-03-31T23:59:59Z", "tag": "priority"}, "options": {"gzip": false, "bom": true}}}}},
                    "responses": {
                        "202": {"description": "Queued; `Location` names the job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                        "200": {"description": "The same request was made before with this Idempotency-Key: its export", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                        "400": invalid_response("A field is wrong (unknown, missing, of the wrong type, or a bad value); `error.field` names it as a path, and nothing is created", "filters.created_to", "the range ends before it starts"),
                        "401": unauthorized,
                        "403": error_response("The dataset requires a role the caller does not have, the token lacks exports:write, the workspace is linked to no tenant of the data, or the request came from another site", "forbidden", "Members can only be seen by the workspace's admins and owners."),
                        "409": error_response("The Idempotency-Key was used for a different request, or its first request is still being handled", "conflict", "This Idempotency-Key was already used for a different request. Use a new key for a new export."),
                        "413": too_large,
                        "429": error_response(&format!("The workspace already has {ACTIVE_LIMIT} pending or running exports"), "too_many_exports", "This workspace already has 3 exports running. Wait for one to finish or cancel one, then try again."),
                        "500": internal
                    }
                },
                "get": {
                    "summary": "List exports, newest first",
                    "description": "Admins and owners see every export of the current workspace; members their own. Deleted exports are not listed.",
                    "parameters": [
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000, "default": 1}},
                        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}
                    ],
                    "responses": {"200": {"description": "A page of exports", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"exports": {"type": "array", "items": {"$ref": "#/components/schemas/Export"}}, "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}}}}},
                        "400": invalid_response("A paging value out of range or not a number, or an unknown parameter", "per_page", "must be a whole number from 1 to 100"), "401": unauthorized}
                }
            },
            "/api/exports/events": {
                "get": {"summary": "Progress of every export of the workspace, as server-sent events",
                    "description": "Each update as `event: progress` with a Progress object (members: of their own exports); runs until the client disconnects. When the caller's role in the workspace changes, an `event: role` carries the new role (`member`, `admin` or `owner`), and from then on the stream carries what that role sees. When the session ends (logout, expiry) or the user leaves the workspace or is removed from it, an `event: end` is sent and the stream closes. When the node stops (a rolling restart), the stream closes without `event: end`: reconnect, and another node carries on; a node that is stopping answers a new stream with only `retry: 1000` and closes it. The pages use it for \"your export is ready\" notices.",
                    "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/Progress"}}}}, "401": unauthorized,
                        "429": retry_response("The session already holds its limit of streams (8 by default), or the node its total", "rate_limited", "You have 8 progress streams open already (the limit is 8). Close a tab, then try again.")}}
            },
            "/api/exports/{id}": {
                "parameters": [id_param],
                "get": {"summary": "One export", "responses": {"200": {"description": "The export", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}}, "401": unauthorized, "403": forbidden_role, "404": not_found}},
                "delete": {"summary": "Cancel a pending or running export, or delete an ended one with its file",
                    "description": "A deleted export is no longer listed or readable, but its audit trail is kept.",
                    "responses": {"200": {"description": "Cancelled (or cancel requested: the worker stops between batches)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                                  "204": {"description": "Deleted with its file"}, "401": unauthorized, "403": forbidden_role, "404": not_found}}
            },
            "/api/exports/{id}/events": {
                "parameters": [id_param],
                "get": {"summary": "Progress as server-sent events",
                    "description": "First the current state, then every change as `event: progress` with a Progress object as data; keep-alive comments every 15 s; the stream ends after a terminal state (completed, failed, cancelled, expired), or with `event: end` when the session ends. When the node stops (a rolling restart), the stream closes without an end: reconnect, and another node carries on; a node that is stopping answers a new stream with only `retry: 1000` and closes it. Reconnecting starts again from the database.",
                    "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/Progress"}}}}, "401": unauthorized, "403": forbidden_role, "404": not_found,
                        "429": retry_response("Too many streams for this session or node", "rate_limited", "You have 8 progress streams open already (the limit is 8). Close a tab, then try again.")}}
            },
            "/exports/{id}/download": {
                "parameters": [id_param],
                "get": {"summary": "Download a completed export",
                    "description": "Checks the session or token (exports:read), the workspace (any of the caller's) and the role, records the download, and hands the file over as storage does it: with S3, a redirect to a URL presigned for 5 minutes; on the local disk, the file itself (Range requests answered with 206). Refusals are HTML pages for people.",
                    "parameters": [{"name": "Range", "in": "header", "schema": {"type": "string"}, "description": "Local disk: a byte range, to resume a download"}],
                    "responses": {"303": {"description": "S3: redirect to the presigned file URL"},
                                  "200": {"description": "Local disk: the file, with Content-Disposition", "content": {"application/octet-stream": {}}},
                                  "206": {"description": "Local disk: the requested range of the file"}, "401": unauthorized, "403": {"description": "Another member's export, or a dataset the role may not see"}, "404": {"description": "No such export"}, "409": {"description": "Not completed (yet)"}, "410": {"description": "Expired: the file was deleted"}}}
            },
            "/api/datasets": {"get": {"summary": "The datasets the caller may export: their columns and filters",
                "responses": {"200": {"description": "The catalog", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "dataset": {"type": "array", "items": {"$ref": "#/components/schemas/Dataset"}}}}}}}, "401": unauthorized}}},
            "/api/webhooks": {
                "get": {"summary": "The workspace's webhook endpoints, each with its latest deliveries",
                    "description": "Needs the webhooks:manage scope, or an admin's or owner's session.",
                    "responses": {"200": {"description": "The endpoints, newest first", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookEndpoint"}}}}},
                        "401": unauthorized, "403": forbidden_manage}},
                "post": {"summary": "Add an endpoint; its signing secret is in the answer, only this once",
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"type": "object", "additionalProperties": false, "required": ["url", "events"], "properties": {
                            "url": {"type": "string", "description": "https:// (or http://) on a public address, unless the operator allows private ones"},
                            "events": {"type": "array", "items": {"type": "string", "enum": webhook_events}},
                            "description": {"type": "string", "maxLength": 200}}},
                        "example": {"url": "https://crm.example.com/hooks/egress", "events": ["export.completed"], "description": "CRM sync"}}}},
                    "responses": {"201": {"description": "Added", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEndpointWithSecret"}}}},
                        "400": invalid_response("A field is wrong: a URL that is not https/http, carries credentials, or resolves to a private address; no events; an unknown event", "url", "127.0.0.1 is 127.0.0.1 — not a public address; Egress only calls public addresses unless the operator allows others"),
                        "401": unauthorized, "403": forbidden_manage}}
            },
            "/api/webhooks/{id}": {
                "parameters": [webhook_id],
                "get": {"summary": "One endpoint with its latest deliveries", "responses": {"200": {"description": "The endpoint", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEndpoint"}}}}, "401": unauthorized, "403": forbidden_manage, "404": webhook_not_found}},
                "delete": {"summary": "Delete an endpoint: nothing more is sent to it", "responses": {"204": {"description": "Deleted"}, "401": unauthorized, "403": forbidden_manage, "404": webhook_not_found}}
            },
            "/api/webhooks/{id}/rotate": {
                "parameters": [webhook_id],
                "post": {"summary": "A new signing secret; the previous one signs too for 24 hours", "responses": {"200": {"description": "Rotated; the new secret, only this once", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookEndpointWithSecret"}}}}, "401": unauthorized, "403": forbidden_manage, "404": webhook_not_found}}
            },
            "/api/webhooks/{id}/test": {
                "parameters": [webhook_id],
                "post": {"summary": "Send a webhook.test call to the endpoint (it shows in its deliveries)", "responses": {"202": {"description": "Queued"}, "401": unauthorized, "403": forbidden_manage, "404": webhook_not_found}}
            },
            "/api/openapi.json": {"get": {"summary": "This document", "security": [], "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        },
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "An API token (`egress_` and 64 hex digits). Reading exports (GET) needs exports:read; starting, cancelling and deleting them exports:write; webhook endpoints webhooks:manage; delivery destinations destinations:manage; changing the workspace's settings workspace:manage; a token without the scope gets 403 naming it. Revoked, expired and unknown tokens get 401 saying which."},
                "session": {"type": "apiKey", "in": "cookie", "name": "egress_session", "description": "The cookie POST /api/session or /auth/jwt sets"}
            },
            "schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string", "enum": ["invalid", "unauthorized", "bad_credentials", "forbidden", "not_found", "email_taken", "not_ready", "conflict", "expired", "payload_too_large", "unsupported_media_type", "rate_limited", "too_many_exports", "internal", "unavailable"]},
                "message": {"type": "string", "description": "A sentence for people; for a 400 it starts with the field"},
                "field": {"type": "string", "description": "The request field at fault, as a path (`filters.status`, `options.bom`, `page`), for 400s"},
                "retry_after": {"type": "integer", "description": "Seconds to wait (429, 503); also the Retry-After header"},
                "request_id": {"type": "string", "description": "The id the server logged this request under, as in the X-Request-Id header (for a 500, the message names it too)"}}}}},
            "Viewer": {"type": "object", "properties": {"user_id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
                "workspace": {"$ref": "#/components/schemas/Membership"}, "workspaces": {"type": "array", "items": {"$ref": "#/components/schemas/Membership"}}}},
            "Membership": {"type": "object", "properties": {"workspace_id": {"type": "integer"}, "workspace_name": {"type": "string"}, "role": {"type": "string", "enum": ["owner", "admin", "member"]}}},
            "Filters": filters,
            "Dataset": {"type": "object", "properties": {
                "id": {"type": "string"}, "label": {"type": "string"}, "description": {"type": "string"},
                "role": {"type": "string", "enum": ["member", "admin", "owner"], "description": "The least role that may see it"},
                "subject": {"type": "string", "description": "The column naming the person a row is about (an email): the dataset is in \"everything about me\" archives (absent: it is not)"},
                "column": {"type": "array", "description": "The columns in export order", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "label": {"type": "string"},
                    "kind": {"type": "string", "enum": ["integer", "decimal", "money", "text", "boolean", "date", "timestamp", "uuid", "json", "text_list"]},
                    "description": {"type": "string"}, "currency_column": {"type": "string"}}}},
                "filter": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "label": {"type": "string"}, "column": {"type": "string"},
                    "kind": {"type": "string", "enum": ["one_of", "time_range", "number_range", "list_contains", "text_equals", "text_search"]},
                    "values": {"type": "array", "items": {"type": "string"}}, "values_from_data": {"type": "boolean"},
                    "mode": {"type": "string", "enum": ["prefix", "contains"]}}}}}},
            "NewExport": {"type": "object", "additionalProperties": false, "required": ["dataset", "format"], "properties": {
                "dataset": {"type": "string", "enum": datasets},
                "format": {"type": "string", "enum": formats, "description": "Parquet and XLSX are compressed already: `options.gzip` is refused for them"},
                "filters": {"$ref": "#/components/schemas/Filters"},
                "columns": {"type": "array", "items": {"type": "string"}, "description": "The columns to include, in order (default: all of the dataset's, in catalog order); a file's header follows it"},
                "options": {"type": "object", "additionalProperties": false, "properties": {
                    "gzip": {"type": "boolean", "default": false}, "bom": {"type": "boolean", "default": false, "description": "CSV only: start with a UTF-8 byte order mark for Excel"},
                    "single_use": {"type": "boolean", "default": false, "description": "The file can be downloaded once (a second try is 410); it is deleted ten minutes after"},
                    "deliver_to": {"type": ["integer", "null"], "description": "Deliver the file to this destination of the workspace (GET /api/destinations), with `<file>.manifest.json` beside it"},
                    "delivery_only": {"type": "boolean", "default": false, "description": "With deliver_to: once delivered, Egress keeps no copy (the export expires)"}}}}},
            "Export": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"}, "workspace_id": {"type": "integer"}, "dataset": {"type": "string"}, "format": {"type": "string"},
                "filters": {"type": "object", "additionalProperties": {"type": "string"}}, "options": {"type": "object"},
                "columns": {"type": ["array", "null"], "items": {"type": "string"}},
                "status": {"type": "string", "enum": ["pending", "processing", "completed", "failed", "cancelled", "expired"]},
                "total_rows": {"type": ["integer", "null"]}, "processed_rows": {"type": "integer"}, "bytes": {"type": ["integer", "null"]},
                "file_name": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}, "created_by": {"type": "string"}, "created_by_id": {"type": "integer"},
                "shortened_cells": {"type": "integer", "description": "Text cells cut to the format's limit (XLSX: 32,767 characters); CSV and JSON keep them whole"},
                "attempts": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
                "started_at": {"type": ["string", "null"], "format": "date-time"}, "completed_at": {"type": ["string", "null"], "format": "date-time"},
                "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
            "WebhookEndpoint": {"type": "object", "properties": {
                "id": {"type": "integer"}, "url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}},
                "description": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                "previous_secret_until": {"type": ["string", "null"], "format": "date-time", "description": "After a rotation: until when the previous secret signs too"},
                "deliveries": {"type": "array", "description": "The latest tries, newest first", "items": {"type": "object", "properties": {
                    "message": {"type": "string", "description": "The call's webhook-id"}, "event": {"type": "string"}, "attempt": {"type": "integer"},
                    "at": {"type": "string", "format": "date-time"}, "ok": {"type": "boolean"}, "status_code": {"type": ["integer", "null"]},
                    "latency_ms": {"type": "integer"}, "error": {"type": ["string", "null"]}}}}}},
            "WebhookEndpointWithSecret": {"type": "object", "properties": {
                "endpoint": {"$ref": "#/components/schemas/WebhookEndpoint"},
                "secret": {"type": "string", "description": "whsec_ and base64: the key of the HMAC-SHA256 signatures (base64-decoded)"}}},
            "Progress": {"type": "object", "properties": {"id": {"type": "string"}, "workspace_id": {"type": "integer"}, "user_id": {"type": "integer"}, "dataset": {"type": "string"}, "status": {"type": "string"}, "processed_rows": {"type": "integer"},
                "total_rows": {"type": ["integer", "null"]}, "bytes": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}}}
            }
        }
    });
    let (paths, schemas) = schedules(unauthorized.clone(), internal);
    let (more_paths, more_schemas) = destinations(unauthorized);
    for (into, from) in [
        ("paths", paths),
        ("components", schemas),
        ("paths", more_paths),
        ("components", more_schemas),
    ] {
        let target = if into == "components" {
            &mut doc[into]["schemas"]
        } else {
            &mut doc[into]
        };
        if let (Some(target), Value::Object(from)) = (target.as_object_mut(), from) {
            target.extend(from);
        }
    }
    not_json_responses(&mut doc);
    Json(doc)
}

/// The schedules' routes and schemas (kept apart: one `json!` literal has a depth limit).
fn schedules(unauthorized: Value, internal: Value) -> (Value, Value) {
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}});
    let not_found = error_response(
        "No such schedule in this workspace (or it was deleted)",
        "not_found",
        "There is no such schedule in this workspace.",
    );
    let forbidden = error_response(
        "A member's schedule can be seen and changed by them and by admins and owners; or the token lacks the scope",
        "forbidden",
        "Only the person who made this schedule, or an admin of the workspace, can see or change it.",
    );
    let invalid = invalid_response(
        "A field is wrong; `error.field` names it as a path (`name`, `time_zone`, `cadence.at`, `cadence.expression`, `export.filters.status`, …) and nothing is written",
        "cadence.at",
        "`9am` is not a time of day (write it as HH:MM, 24-hour, such as 09:00)",
    );
    let view = json!({"200": {"description": "The schedule", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Schedule"}}}},
        "401": unauthorized, "403": forbidden, "404": not_found});
    let body = json!({"required": true, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ScheduleRequest"},
        "example": {"name": "Paid orders for finance", "export": {"dataset": "orders", "format": "csv", "filters": {"status": "paid"}},
                    "cadence": {"every": "weekly", "weekday": "monday", "at": "09:00"}, "time_zone": "Europe/Berlin"}}}});
    let paths = json!({
        "/api/schedules": {
            "get": {"summary": "The workspace's schedules, newest first, each with its latest runs",
                "description": "Needs exports:read. Admins and owners see all of the workspace's; members their own.",
                "responses": {"200": {"description": "The schedules", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Schedule"}}}}}, "401": unauthorized}},
            "post": {"summary": "Make a schedule",
                "description": "Needs exports:write. Each run is an export of the saved request, made by the schedule's maker, with the same limits and notifications as any export.",
                "requestBody": body,
                "responses": {"201": {"description": "Made; `Location` names it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Schedule"}}}},
                    "400": invalid, "401": unauthorized,
                    "403": error_response("The dataset requires a role the caller does not have, or the token lacks exports:write", "forbidden", "Members can only be seen by the workspace's admins and owners."),
                    "500": internal}}
        },
        "/api/schedules/{id}": {
            "parameters": [id],
            "get": {"summary": "One schedule with its latest runs", "responses": view},
            "put": {"summary": "Replace a schedule's name, export, cadence and time zone; its next run is worked out afresh", "requestBody": body,
                "responses": {"200": view["200"], "400": invalid_response("A field is wrong; nothing is changed", "time_zone", "unknown time zone `Mars/Olympus` (use an IANA name such as Europe/Berlin or America/New_York)"),
                    "401": unauthorized, "403": view["403"], "404": view["404"]}},
            "delete": {"summary": "Delete a schedule: it runs no more; its exports stay", "responses": {"204": {"description": "Deleted"}, "401": unauthorized, "403": view["403"], "404": view["404"]}}
        },
        "/api/workspace": {
            "get": {"summary": "The current workspace's settings (exports:read)",
                "responses": {"200": {"description": "The settings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WorkspaceSettings"}}}}, "401": unauthorized}},
            "put": {"summary": "Set how long finished files stay downloadable (admins and owners; workspace:manage)",
                "description": "Files finished from then on keep the new time.",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"type": "object", "additionalProperties": false, "required": ["retention_hours"], "properties": {
                        "retention_hours": {"type": ["number", "null"], "minimum": 1, "description": "Hours, at most max_retention_hours; null for the operator's default"}}},
                    "example": {"retention_hours": 72}}}},
                "responses": {"200": {"description": "The settings", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WorkspaceSettings"}}}},
                    "400": invalid_response("Out of range, not a number, or an unknown field", "retention_hours", "keep files from 1 to 720 hours (this Egress's maximum), or null for the default"),
                    "401": unauthorized,
                    "403": error_response("Not an admin or owner, or the token lacks workspace:manage", "forbidden", "Only the workspace's admins and owners change its settings.")}}
        },
        "/api/schedules/{id}/pause": {"parameters": [id], "post": {"summary": "Pause: due times pass without runs", "responses": view}},
        "/api/schedules/{id}/resume": {"parameters": [id], "post": {"summary": "Resume at the next due time from now (the paused ones are not caught up)", "responses": view}},
        "/api/schedules/{id}/run": {"parameters": [id], "post": {"summary": "Run now, as the caller; the due times stay as they are",
            "responses": {"202": {"description": "The run's export, queued; `Location` names it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                "401": unauthorized, "403": view["403"], "404": view["404"],
                "409": error_response("The previous run is still going, or the saved export can no longer run (a dataset gone or out of the caller's role)", "conflict", "This schedule's previous run is still going; wait for it to finish, then run it again."),
                "429": error_response(&format!("The workspace already has {ACTIVE_LIMIT} pending or running exports"), "too_many_exports", "This workspace already has 3 exports running. Wait for one to finish or cancel one, then try again.")}}}
    });
    let time = json!({"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$", "description": "HH:MM, 24-hour, in the schedule's time zone"});
    let schemas = json!({
        "Cadence": {"description": "When it runs, in the schedule's time zone. Across daylight-saving changes a time the clock skips runs just after the change and a time that happens twice runs once; hourly cadences keep every real hour.",
            "oneOf": [
                {"type": "object", "additionalProperties": false, "required": ["every", "minute"], "properties": {"every": {"const": "hourly"}, "minute": {"type": "integer", "minimum": 0, "maximum": 59}}},
                {"type": "object", "additionalProperties": false, "required": ["every", "at"], "properties": {"every": {"const": "daily"}, "at": time}},
                {"type": "object", "additionalProperties": false, "required": ["every", "weekday", "at"], "properties": {"every": {"const": "weekly"}, "weekday": {"type": "string", "enum": crate::schedules::WEEKDAYS}, "at": time}},
                {"type": "object", "additionalProperties": false, "required": ["every", "day", "at"], "properties": {"every": {"const": "monthly"}, "day": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 28}, {"const": "last"}]}, "at": time}},
                {"type": "object", "additionalProperties": false, "required": ["every", "expression"], "properties": {"every": {"const": "cron"}, "expression": {"type": "string", "description": "Five fields: minute hour day-of-month month day-of-week (names, ranges, steps, L, W and # allowed)"}}}
            ]},
        "Person": {"type": "object", "properties": {
            "user_id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
            "role": {"type": "string", "enum": ["member", "admin", "owner"]}}},
        "WorkspaceSettings": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"},
            "retention_hours": {"type": ["number", "null"], "description": "Hours a finished file stays downloadable; null: the default"},
            "default_retention_hours": {"type": "number"}, "max_retention_hours": {"type": "number"}}},
        "ScheduleRequest": {"type": "object", "additionalProperties": false, "required": ["name", "export", "cadence", "time_zone"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "export": {"$ref": "#/components/schemas/NewExport"},
            "cadence": {"$ref": "#/components/schemas/Cadence"},
            "time_zone": {"type": "string", "description": "An IANA time zone name (Europe/Berlin, America/New_York, UTC)"},
            "paused": {"type": "boolean", "default": false},
            "incremental": {"type": "boolean", "default": false, "description": "Each run exports only the rows changed since the previous completed run (the first: all); the dataset must declare its change column, else 400 naming `incremental`"}}},
        "Schedule": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "export": {"$ref": "#/components/schemas/NewExport"},
            "cadence": {"$ref": "#/components/schemas/Cadence"}, "description": {"type": "string", "description": "The cadence for people: \"Every Monday at 09:00\""},
            "time_zone": {"type": "string"}, "paused": {"type": "boolean"}, "incremental": {"type": "boolean"},
            "next_run_at": {"type": ["string", "null"], "format": "date-time", "description": "When it runs next (null while paused)"},
            "created_by": {"type": "string"}, "created_by_id": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
            "runs": {"type": "array", "description": "The latest 20 runs, newest first", "items": {"type": "object", "properties": {
                "due_at": {"type": "string", "format": "date-time", "description": "The due time it was for (run now: when it was asked for)"},
                "outcome": {"type": "string", "enum": ["started", "skipped"]},
                "note": {"type": ["string", "null"], "description": "Why it was skipped, or \"Run now.\""},
                "export_id": {"type": ["string", "null"], "format": "uuid"},
                "status": {"type": ["string", "null"], "enum": ["pending", "processing", "completed", "failed", "cancelled", "expired", null]},
                "rows": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}}}}}}
    });
    (paths, schemas)
}

/// The delivery destinations' routes and schemas.
fn destinations(unauthorized: Value) -> (Value, Value) {
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}});
    let forbidden = error_response(
        "Only admins and owners manage destinations (a token needs destinations:manage)",
        "forbidden",
        "Only the workspace's admins and owners manage destinations.",
    );
    let not_found = error_response(
        "No such destination in this workspace (or it was deleted)",
        "not_found",
        "There is no such destination in this workspace.",
    );
    let one = json!({"200": {"description": "The destination", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Destination"}}}},
        "401": unauthorized, "403": forbidden, "404": not_found});
    let placeholders: Vec<String> = crate::destinations::rules::PLACEHOLDERS
        .iter()
        .map(|(name, what)| format!("{{{name}}}: {what}"))
        .collect();
    let formats: Vec<&str> = crate::formats::Format::all().iter().map(|f| f.id()).collect();
    let paths = json!({
        "/api/archives": {
            "post": {"summary": "Ask for all my data in one archive: a zip of every dataset, with a README data dictionary and a manifest",
                "description": "Needs exports:write. `workspace`: every dataset the caller may see, whole (admins and owners). `me`: the caller's own records — the datasets that declare a subject column, only the rows whose subject is the caller's email. The archive is an export like any other (dataset `@archive`; a personal one has the filter `@subject`): follow it, download it and get its email the same way. The zip holds `<dataset>.<ext>` per dataset, `README.md` (each dataset's columns, kinds and meanings, and its rows) and `manifest.json` (each file's rows, bytes and SHA-256).",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["scope", "format"], "properties": {
                    "scope": {"type": "string", "enum": ["workspace", "me"]},
                    "format": {"type": "string", "enum": formats, "description": "The format of each dataset's file"},
                    "bom": {"type": "boolean", "default": false, "description": "CSV only: each file starts with a UTF-8 byte order mark"}}},
                    "example": {"scope": "me", "format": "csv"}}}},
                "responses": {"202": {"description": "The archive's export, queued; `Location` names it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                    "400": invalid_response("A field is wrong: an unknown format or scope, a BOM for a format other than CSV, or no dataset declares a subject (scope me)", "format", "unknown format `pdf` (one of: csv, json, ndjson, xlsx, parquet)"),
                    "401": unauthorized,
                    "403": error_response("The whole workspace was asked for by a member, or the token lacks exports:write", "forbidden", "Only the workspace's admins and owners can archive the whole workspace; ask for your own data instead."),
                    "429": error_response("The workspace already has 3 pending or running exports", "too_many_exports", "This workspace already has 3 exports running. Wait for one to finish or cancel one, then try again.")}}
        },
        "/api/destinations": {
            "get": {"summary": "The workspace's destinations, each with its latest deliveries",
                "description": "Needs the destinations:manage scope, or an admin's or owner's session.",
                "responses": {"200": {"description": "The destinations, oldest first", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Destination"}}}}},
                    "401": unauthorized, "403": one["403"]}},
            "post": {"summary": "Add a destination: an S3-compatible bucket that exports can deliver to",
                "description": "The credentials are kept sealed (AES-256-GCM under the operator's key) and never shown again. Nothing is written when a field is wrong.",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DestinationRequest"},
                    "example": {"name": "Warehouse", "endpoint": "https://s3.eu-central-1.amazonaws.com", "bucket": "acme-exports", "region": "eu-central-1",
                        "prefix": "egress/{dataset}/{date}/", "access_key_id": "AKIA…", "secret_access_key": "…", "sse": "aws:kms", "kms_key_id": "arn:aws:kms:…"}}}},
                "responses": {"201": {"description": "Added", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Destination"}}}},
                    "400": invalid_response("A field is wrong: a bucket name S3 would refuse, an unknown placeholder in the prefix, an endpoint that is not http(s) or is on a private address, an unknown encryption", "prefix", "the prefix uses `{nope}`, which is not one of {dataset}, {format}, {date}, {year}, {month}, {day}, {hour}, {export}"),
                    "401": unauthorized, "403": one["403"]}}
        },
        "/api/destinations/{id}": {"parameters": [id],
            "get": {"summary": "One destination with its latest deliveries", "responses": one},
            "delete": {"summary": "Delete a destination: nothing more is delivered to it (deliveries still queued are given up)",
                "responses": {"204": {"description": "Deleted"}, "401": unauthorized, "403": one["403"], "404": one["404"]}}},
        "/api/destinations/{id}/test": {"parameters": [id],
            "post": {"summary": "Test the connection: write a small probe object under the prefix, then delete it",
                "responses": {"200": {"description": "What happened, in a sentence (a refusal says which: unknown access key, wrong secret, no such bucket, access denied, wrong region, unreachable)",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DestinationTest"},
                        "example": {"ok": false, "object": "s3://acme-exports/egress/egress-test/2026-11-30/egress-connection-test-….txt",
                            "message": "Could not write s3://acme-exports/…: the secret key does not match the access key (SignatureDoesNotMatch): check the secret key."}}}},
                    "401": unauthorized, "403": one["403"], "404": one["404"]}}}
    });
    let schemas = json!({
        "DestinationRequest": {"type": "object", "additionalProperties": false, "required": ["name", "bucket", "access_key_id", "secret_access_key"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "endpoint": {"type": "string", "default": "", "description": "An S3-compatible server (https://…, path-style addressing); empty for Amazon S3"},
            "bucket": {"type": "string", "description": "3 to 63 lowercase letters, digits, dots and hyphens"},
            "region": {"type": "string", "default": "us-east-1"},
            "prefix": {"type": "string", "default": "", "description": format!("Where files go in the bucket, a template; the file's name follows it. Placeholders: {}", placeholders.join("; "))},
            "access_key_id": {"type": "string"}, "secret_access_key": {"type": "string", "writeOnly": true},
            "sse": {"type": "string", "enum": ["AES256", "aws:kms", "none"], "default": "AES256", "description": "Server-side encryption of delivered objects"},
            "kms_key_id": {"type": ["string", "null"], "description": "With aws:kms: the KMS key (else the bucket's default)"}}},
        "Destination": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "endpoint": {"type": ["string", "null"], "description": "null: Amazon S3"},
            "bucket": {"type": "string"}, "region": {"type": "string"}, "prefix": {"type": "string"},
            "access_key_hint": {"type": "string", "description": "The access key's last four characters"},
            "sse": {"type": "string"}, "kms_key_id": {"type": ["string", "null"]}, "created_at": {"type": "string", "format": "date-time"},
            "deliveries": {"type": "array", "description": "The latest tries, newest first", "items": {"type": "object", "properties": {
                "message": {"type": "string"}, "event": {"type": "string"}, "attempt": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"}, "ok": {"type": "boolean"}, "status_code": {"type": ["integer", "null"]},
                "latency_ms": {"type": "integer"}, "error": {"type": ["string", "null"], "description": "Why the try failed, in a sentence"}}}}}},
        "DestinationTest": {"type": "object", "properties": {
            "ok": {"type": "boolean"}, "object": {"type": "string", "description": "The probe object, s3://bucket/key"}, "message": {"type": "string"}}}
    });
    (paths, schemas)
}
