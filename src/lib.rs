//! Egress: an "Export my data" centre for multi-tenant SaaS products.
//!
//! One crate, two halves: with `ssr` it is the server (axum, the database, the worker);
//! with `hydrate` it is the browser side of the same Leptos components.
//!
//! - `app`: the page shell, routes and layout.
//! - `accounts`: sign-up, log-in, sessions, roles, workspaces.
//! - `error`: the one error type of the server functions and the JSON API.
//! - `catalog`: the declared datasets; one file per column kind and per filter kind.
//! - `source` (server): reading datasets from the operator's database, in one snapshot.
//! - `datasets`: the data pages.
//! - `store` (server): the database, one interface over Postgres and SQLite.
//! - `seed` (server): deterministic demo data.
//! - `outbound` (server): which addresses webhooks and delivery destinations may reach.
//! - `server` (server): configuration, start-up, HTTP routes and middleware.

// The OpenAPI document is one `json!` literal, deeper than the default limit.
#![recursion_limit = "256"]

pub mod accounts;
pub mod app;
pub mod catalog;
#[cfg(feature = "ssr")]
pub mod cleanup;
pub mod datasets;
pub mod destinations;
pub mod error;
pub mod exports;
pub mod formats;
#[cfg(feature = "ssr")]
pub mod notify;
#[cfg(feature = "ssr")]
pub mod outbound;
#[cfg(feature = "ssr")]
pub mod progress;
pub mod schedules;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod source;
#[cfg(feature = "ssr")]
pub mod storage;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod telemetry;
pub mod text;
pub mod webhooks;
#[cfg(feature = "ssr")]
pub mod worker;
pub mod workspace;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // A marker for tests and styles: from here on, the page is interactive.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "");
    }
}
