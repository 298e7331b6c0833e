//! A statement of Egress's own state (jobs, events) and its parameters, bound by each
//! backend in its own types. (Dataset queries are the catalog's: `catalog::query`.)

use chrono::{DateTime, Utc};

/// A value to bind; each backend binds these in its own types.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
    Bool(bool),
    /// A typed NULL (Postgres wants to know which).
    MaybeInt(Option<i64>),
    MaybeText(Option<String>),
}

#[derive(Debug, Default)]
pub struct Query {
    pub sql: String,
    pub params: Vec<Param>,
}
