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

/// A statement with `$N` placeholders, built from parts and parameters.
pub struct Sql {
    query: Query,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql {
            query: Query {
                sql: text.into(),
                params: vec![],
            },
        }
    }
    /// Appends `text`, where each `?` takes the next of `params`.
    pub fn push(mut self, text: &str, params: impl IntoIterator<Item = Param>) -> Sql {
        let mut params = params.into_iter();
        for (i, piece) in text.split('?').enumerate() {
            if i > 0 {
                self.query.params.push(params.next().expect("a parameter for every ?"));
                self.query.sql.push_str(&format!("${}", self.query.params.len()));
            }
            self.query.sql.push_str(piece);
        }
        self
    }
    pub fn done(self) -> Query {
        self.query
    }
}
