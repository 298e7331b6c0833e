//! `GET /api/openapi.json`: the JSON API described in OpenAPI 3.1, written by hand next
//! to the routes it describes (tests check that every route is in it).

use crate::datasets::CATALOG;
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

pub async fn document() -> Json<Value> {
    let datasets: Vec<&str> = CATALOG.iter().map(|d| d.id).collect();
    let unauthorized = error_response("Not signed in", "unauthorized", "you are not signed in");
    let not_found = error_response("No such export in your workspace", "not_found", "export not found");
    let id_param =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    Json(json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Egress API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Export a workspace's data as CSV, JSON, NDJSON or XLSX. Log in with POST /api/session and send the session cookie with every request. Everything is scoped to the caller's current workspace; another workspace's export is 404."
        },
        "paths": {
            "/api/session": {
                "post": {
                    "summary": "Log in",
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"type": "object", "additionalProperties": false, "required": ["email", "password"],
                                   "properties": {"email": {"type": "string"}, "password": {"type": "string"}}},
                        "example": {"email": "ada@acme.example", "password": "egress-demo-2024"}}}},
                    "responses": {
                        "200": {"description": "Logged in; the `egress_session` cookie is set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Viewer"}}}},
                        "400": error_response("Malformed body", "invalid", "missing field `password`"),
                        "401": error_response("Wrong email or password (the same answer for both)", "bad_credentials", "That email and password do not match an account.")
                    }
                },
                "get": {"summary": "Who is signed in", "responses": {"200": {"description": "The signed-in user", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Viewer"}}}}, "401": unauthorized}},
                "delete": {"summary": "Log out", "responses": {"204": {"description": "Logged out"}}}
            },
            "/api/exports": {
                "post": {
                    "summary": "Start an export",
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/NewExport"},
                        "example": {"dataset": "orders", "format": "csv", "filters": {"status": "paid", "created_from": "2025-01-01", "created_to": "2025-03-31T23:59:59Z", "tag": "priority"}, "options": {"gzip": false, "bom": true}}}}},
                    "responses": {
                        "202": {"description": "Queued; `Location` names the job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                        "400": error_response("A field is wrong; `error.field` names it and nothing is created", "invalid", "created_to: the range ends before it starts"),
                        "401": unauthorized,
                        "429": error_response(&format!("The workspace already has {ACTIVE_LIMIT} pending or running exports"), "too_many_exports", "This workspace already has 3 exports running. Wait for one to finish or cancel one, then try again.")
                    }
                },
                "get": {
                    "summary": "List exports, newest first",
                    "parameters": [
                        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}}
                    ],
                    "responses": {"200": {"description": "A page of exports", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"exports": {"type": "array", "items": {"$ref": "#/components/schemas/Export"}}, "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"}}}}}},
                        "400": error_response("Bad paging", "invalid", "Failed to deserialize query string"), "401": unauthorized}
                }
            },
            "/api/exports/events": {
                "get": {"summary": "Progress of every export of the workspace, as server-sent events",
                    "description": "Each update as `event: progress` with a Progress object; runs until the client disconnects. The pages use it for \"your export is ready\" notices.",
                    "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/Progress"}}}}, "401": unauthorized}}
            },
            "/api/exports/{id}": {
                "parameters": [id_param],
                "get": {"summary": "One export", "responses": {"200": {"description": "The export", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}}, "401": unauthorized, "404": not_found}},
                "delete": {"summary": "Cancel a pending or running export, or delete an ended one with its file",
                    "responses": {"200": {"description": "Cancelled (or cancel requested: the worker stops between batches)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Export"}}}},
                                  "204": {"description": "Deleted with its file"}, "401": unauthorized, "404": not_found}}
            },
            "/api/exports/{id}/events": {
                "parameters": [id_param],
                "get": {"summary": "Progress as server-sent events",
                    "description": "First the current state, then every change as `event: progress` with a Progress object as data; keep-alive comments every 15 s; the stream ends after a terminal state (completed, failed, cancelled, expired). Reconnecting starts again from the database.",
                    "responses": {"200": {"description": "An event stream", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/Progress"}}}}, "401": unauthorized, "404": not_found}}
            },
            "/exports/{id}/download": {
                "parameters": [id_param],
                "get": {"summary": "Download a completed export",
                    "description": "Checks the session and workspace, records the download, and redirects to a freshly signed URL that works for 5 minutes.",
                    "responses": {"303": {"description": "Redirect to the signed file URL"}, "401": unauthorized, "404": {"description": "No such export"}, "409": {"description": "Not completed (yet)"}, "410": {"description": "Expired: the file was deleted"}}}
            },
            "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string", "description": "The request field at fault, for 400s"}}}}},
            "Viewer": {"type": "object", "properties": {"user_id": {"type": "integer"}, "name": {"type": "string"}, "email": {"type": "string"},
                "workspace": {"$ref": "#/components/schemas/Membership"}, "workspaces": {"type": "array", "items": {"$ref": "#/components/schemas/Membership"}}}},
            "Membership": {"type": "object", "properties": {"workspace_id": {"type": "integer"}, "workspace_name": {"type": "string"}, "role": {"type": "string", "enum": ["owner", "admin", "member"]}}},
            "Filters": {"type": "object", "additionalProperties": false, "properties": {
                "created_from": {"type": "string", "description": "RFC 3339 timestamp, or a date (YYYY-MM-DD) meaning its start, UTC; inclusive"},
                "created_to": {"type": "string", "description": "RFC 3339 timestamp (exclusive), or a date (YYYY-MM-DD) meaning up to the end of that day"},
                "status": {"type": "string", "description": "One of the dataset's statuses"},
                "tag": {"type": "string", "description": "Rows that carry this tag (datasets with tags only)"}}},
            "NewExport": {"type": "object", "additionalProperties": false, "required": ["dataset", "format"], "properties": {
                "dataset": {"type": "string", "enum": datasets},
                "format": {"type": "string", "enum": ["csv", "json", "ndjson", "xlsx"]},
                "filters": {"$ref": "#/components/schemas/Filters"},
                "options": {"type": "object", "additionalProperties": false, "properties": {
                    "gzip": {"type": "boolean", "default": false}, "bom": {"type": "boolean", "default": false, "description": "CSV only: start with a UTF-8 byte order mark for Excel"}}}}},
            "Export": {"type": "object", "properties": {
                "id": {"type": "string", "format": "uuid"}, "workspace_id": {"type": "integer"}, "dataset": {"type": "string"}, "format": {"type": "string"},
                "filters": {"type": "object"}, "options": {"type": "object"},
                "status": {"type": "string", "enum": ["pending", "processing", "completed", "failed", "cancelled", "expired"]},
                "total_rows": {"type": ["integer", "null"]}, "processed_rows": {"type": "integer"}, "bytes": {"type": ["integer", "null"]},
                "file_name": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}, "created_by": {"type": "string"},
                "attempts": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"},
                "started_at": {"type": ["string", "null"], "format": "date-time"}, "completed_at": {"type": ["string", "null"], "format": "date-time"},
                "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
            "Progress": {"type": "object", "properties": {"id": {"type": "string"}, "workspace_id": {"type": "integer"}, "dataset": {"type": "string"}, "status": {"type": "string"}, "processed_rows": {"type": "integer"},
                "total_rows": {"type": ["integer", "null"]}, "bytes": {"type": ["integer", "null"]}, "error": {"type": ["string", "null"]}}}
        }}
    }))
}
