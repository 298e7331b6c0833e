//! Filter kinds. Each kind is one file that owns its parameters (named after the filter:
//! a `created` time range takes `created_from` and `created_to`), how their values are
//! checked, and the conditions they add to a query. `spec` is the registry.
//!
//! Values arrive as text (a URL's query, a JSON body) and leave as `Filters`: the same
//! parameters, checked and normalised. That is what a job stores, and what the query
//! builder (`catalog::query`) turns into bound conditions.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// One of the listed values (or of the values in the data).
    OneOf,
    /// From / to a date or a time.
    TimeRange,
    /// At least / at most a number.
    NumberRange,
    /// A list column that contains the value.
    ListContains,
    /// A text equal to the value.
    TextEquals,
    /// A text that starts with (or contains) the value, ignoring case.
    TextSearch,
}

/// How a `text_search` filter matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    #[default]
    Prefix,
    Contains,
}

impl FilterKind {
    /// The parameters a filter of this kind with this id takes.
    pub fn params(self, id: &str) -> Vec<String> {
        match self {
            FilterKind::TimeRange => vec![format!("{id}_from"), format!("{id}_to")],
            FilterKind::NumberRange => vec![format!("{id}_min"), format!("{id}_max")],
            _ => vec![id.to_owned()],
        }
    }
}

/// Filter parameters as they arrive: name → text.
pub type FilterValues = BTreeMap<String, String>;

/// Checked filter parameters, normalised (times in RFC 3339 UTC, blanks gone): the only
/// way to a query's conditions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Filters(pub FilterValues);

impl Filters {
    pub fn get(&self, param: &str) -> Option<&str> {
        self.0.get(param).map(String::as_str)
    }
}

/// The parameter that limits a dataset to one person's rows (its `subject` column equals
/// the value). Egress sets it for personal archives; `check` refuses it from requests, as
/// it refuses any parameter the catalog does not declare.
pub const SUBJECT: &str = "@subject";

#[cfg(feature = "ssr")]
mod list_contains;
#[cfg(feature = "ssr")]
mod number_range;
#[cfg(feature = "ssr")]
mod one_of;
#[cfg(feature = "ssr")]
mod text_equals;
#[cfg(feature = "ssr")]
mod text_search;
#[cfg(feature = "ssr")]
mod time_range;
#[cfg(feature = "ssr")]
pub use time_range::time_text;

#[cfg(feature = "ssr")]
pub use server::*;

#[cfg(feature = "ssr")]
mod server {
    use super::{FilterKind, FilterValues, Filters};
    use crate::catalog::{Column, Dataset, Filter, Kind};

    /// A parameter that cannot be applied; the message names it.
    #[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
    #[error("{param}: {message}")]
    pub struct FilterError {
        pub param: String,
        pub message: String,
    }

    pub fn error(param: &str, message: impl Into<String>) -> FilterError {
        FilterError {
            param: param.to_owned(),
            message: message.into(),
        }
    }

    /// How a condition compares the column with its value.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Op {
        Eq,
        AtLeast,
        Below,
        AtMost,
        /// The list column holds the value.
        Contains,
        /// `LIKE` with this pattern (`%` and `_` in the value escaped with `\`).
        Like,
    }

    /// One condition of a query: `column op value`, the value bound as a parameter and
    /// cast to the column's kind.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Condition {
        pub column: String,
        pub kind: Kind,
        pub op: Op,
        pub value: String,
    }

    pub trait FilterSpec: Sync {
        /// Whether a column of `kind` can be filtered this way.
        fn applies_to(&self, kind: Kind) -> bool;
        /// The parameter's value, checked and normalised (`None` for no filter).
        fn check(
            &self,
            filter: &Filter,
            column: &Column,
            param: &str,
            value: &str,
        ) -> Result<Option<String>, FilterError>;
        /// The conditions of checked parameters (`filters` holds only checked ones).
        fn conditions(&self, filter: &Filter, column: &Column, filters: &Filters) -> Vec<Condition>;
        /// Checks across parameters (a range that ends before it starts).
        fn check_together(&self, _filter: &Filter, _filters: &Filters) -> Result<(), FilterError> {
            Ok(())
        }
    }

    pub fn spec(kind: FilterKind) -> &'static dyn FilterSpec {
        match kind {
            FilterKind::OneOf => &super::one_of::OneOf,
            FilterKind::TimeRange => &super::time_range::TimeRange,
            FilterKind::NumberRange => &super::number_range::NumberRange,
            FilterKind::ListContains => &super::list_contains::ListContains,
            FilterKind::TextEquals => &super::text_equals::TextEquals,
            FilterKind::TextSearch => &super::text_search::TextSearch,
        }
    }

    /// Longest value a text filter takes.
    pub const MAX_VALUE: usize = 200;

    /// Checks every parameter against the dataset's filters: an unknown one, or a bad
    /// value, is an error that names it; blanks mean no filter.
    pub fn check(dataset: &Dataset, values: &FilterValues) -> Result<Filters, FilterError> {
        let mut checked = FilterValues::new();
        for (param, value) in values {
            let filter = dataset
                .filters
                .iter()
                .find(|f| f.kind.params(&f.id).contains(param))
                .ok_or_else(|| {
                    let known = dataset.filter_params();
                    let list = if known.is_empty() {
                        format!("{} has no filters", dataset.id)
                    } else {
                        format!("the filters of {} are: {}", dataset.id, known.join(", "))
                    };
                    error(param, format!("unknown filter ({list})"))
                })?;
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            if value.len() > MAX_VALUE {
                return Err(error(param, format!("longer than {MAX_VALUE} characters")));
            }
            let column = dataset
                .column(&filter.column)
                .expect("the catalog checked its filters' columns");
            if let Some(value) = spec(filter.kind).check(filter, column, param, value)? {
                checked.insert(param.clone(), value);
            }
        }
        let filters = Filters(checked);
        for filter in &dataset.filters {
            spec(filter.kind).check_together(filter, &filters)?;
        }
        Ok(filters)
    }

    /// The conditions of checked filters, in the dataset's filter order, then the subject.
    pub fn conditions(dataset: &Dataset, filters: &Filters) -> Vec<Condition> {
        // Emails are compared ignoring case (`Ana@X.com` is ana@x.com), as a pattern
        // with no wildcard: the value's `%` and `_` are escaped.
        let subject = dataset
            .subject
            .as_deref()
            .and_then(|name| dataset.column(name))
            .and_then(|column| {
                filters.get(super::SUBJECT).map(|email| Condition {
                    column: column.name.clone(),
                    kind: column.kind,
                    op: Op::Like,
                    value: super::text_search::escape_like(email),
                })
            });
        dataset
            .filters
            .iter()
            .flat_map(|filter| {
                let column = dataset
                    .column(&filter.column)
                    .expect("the catalog checked its filters' columns");
                spec(filter.kind).conditions(filter, column, filters)
            })
            .chain(subject)
            .collect()
    }

    /// `column op value` for a checked parameter, when it is there.
    pub fn condition(column: &Column, filters: &Filters, param: &str, op: Op) -> Option<Condition> {
        filters.get(param).map(|value| Condition {
            column: column.name.clone(),
            kind: column.kind,
            op,
            value: value.to_owned(),
        })
    }
}
