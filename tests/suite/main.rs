//! Egress's integration tests as one binary (zero-to-production's layout): the harness in
//! `common` is compiled and linked once instead of once per file, and cargo runs every
//! story in one pool of test threads instead of one binary after another. Each module is
//! one story; `cargo test --test suite exports::` runs one of them. `/metrics` counts the
//! whole process's exports, so its story is a binary of its own (tests/prometheus_scrape.rs).

#[macro_use]
mod common;

mod accounts;
mod archives;
mod boundaries;
mod catalog;
mod copy_fast_path;
mod data_pages;
mod destinations;
mod exports;
mod identity;
mod many_nodes;
mod notifications;
mod outbound;
mod parquet;
mod real_services;
mod recovery;
mod retention;
mod route_access;
mod schedules;
mod security;
mod spreadsheets;
mod tombstones;
