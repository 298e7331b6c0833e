//! The dataset catalog: what can be browsed and exported.
//!
//! A dataset is data, not code: one declaration (a file in this folder) names its source
//! table, tenant and cursor columns, its columns with labels and kinds, and the filters it
//! accepts. The store, the data pages and the exporters read these declarations and never
//! name a dataset themselves.

mod contacts;
mod filters;
mod members;
mod orders;
mod page;
mod transactions;

pub use contacts::CONTACTS;
pub use filters::{FilterError, FilterQuery, Filters, PageRequest};
pub use members::MEMBERS;
pub use orders::ORDERS;
pub use page::DatasetPage;
pub use transactions::TRANSACTIONS;

use serde::{Deserialize, Serialize};

/// How a column's values are stored, shown and exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ColumnKind {
    /// A whole number (ids, counts).
    Integer,
    /// Free text; may be NULL.
    Text,
    /// An amount in minor units (cents), shown and exported as an exact decimal.
    Money,
    /// A point in time, exported as RFC 3339 UTC.
    Timestamp,
    /// A list of short labels, exported as one cell.
    Tags,
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The SQL column name in the source table.
    pub name: &'static str,
    /// The header shown in the UI and written to exported files.
    pub label: &'static str,
    pub kind: ColumnKind,
}

const fn col(name: &'static str, label: &'static str, kind: ColumnKind) -> Column {
    Column { name, label, kind }
}

#[derive(Debug)]
pub struct Dataset {
    /// The identifier used in URLs and the API (`contacts`).
    pub id: &'static str,
    /// The name shown to people (`Contacts`).
    pub label: &'static str,
    /// Table (or view) the rows come from.
    pub table: &'static str,
    /// The column that says which workspace a row belongs to.
    pub tenant_column: &'static str,
    /// A unique, never-changing integer column: the keyset cursor for paging and exports.
    pub cursor_column: &'static str,
    /// The columns in export order; the first is the cursor column.
    pub columns: &'static [Column],
    /// The values the `status` filter accepts.
    pub statuses: &'static [&'static str],
    /// Whether the `tags` filter applies.
    pub has_tags: bool,
    /// The least role that may see (browse and export) the dataset.
    pub role: crate::accounts::Role,
}

/// Every dataset, in the order the navigation shows them.
pub static CATALOG: &[&Dataset] = &[&CONTACTS, &ORDERS, &TRANSACTIONS, &MEMBERS];

pub fn find(id: &str) -> Option<&'static Dataset> {
    CATALOG.iter().copied().find(|d| d.id == id)
}

/// One value of a row, typed by its column's kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cell {
    Null,
    Integer(i64),
    Text(String),
    /// Minor units (cents).
    Money(i64),
    Timestamp(chrono::DateTime<chrono::Utc>),
    Tags(Vec<String>),
}

impl Cell {
    /// The value as a person reads it: money as an exact decimal, times in RFC 3339 UTC.
    pub fn display(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Integer(n) => n.to_string(),
            Cell::Text(s) => s.clone(),
            Cell::Money(cents) => format_cents(*cents),
            Cell::Timestamp(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            Cell::Tags(tags) => tags.join(", "),
        }
    }
}

/// `-1234` → `-12.34`, exactly (no floating point on the way).
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// One page of a dataset, as the data page shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DataPage {
    pub dataset: String,
    pub labels: Vec<String>,
    pub kinds: Vec<ColumnKind>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows matching the filters, over all pages.
    pub total: i64,
    /// Cursor for the next page, when there is one.
    pub next_after: Option<i64>,
    /// Cursor for the previous page, when there is one.
    pub prev_before: Option<i64>,
}

pub const PAGE_SIZE: i64 = 50;

/// The datasets `role` may see, in catalog order.
pub fn visible_to(role: crate::accounts::Role) -> impl Iterator<Item = &'static Dataset> {
    CATALOG.iter().copied().filter(move |d| role.may_see(d.role))
}

#[cfg(feature = "ssr")]
async fn browse(dataset: String, query: FilterQuery) -> Result<DataPage, crate::error::AppError> {
    use crate::error::AppError;
    let member = crate::accounts::ssr::require_member().await?;
    let ds = crate::exports::service::visible_dataset(&dataset, member.role)?;
    let filters = Filters::parse(ds, &query).map_err(|e| AppError::invalid(e.field, e.message))?;
    let state = crate::accounts::ssr::state();
    Ok(state
        .store
        .page(ds, member.workspace_id, &filters, query.page_request())
        .await?)
}

/// A page of `dataset` in the caller's workspace, filtered and keyset-paginated.
#[leptos::server(prefix = "/rpc", endpoint = "browse_dataset", input = leptos::server_fn::codec::Json)]
pub async fn browse_dataset(dataset: String, query: FilterQuery) -> Result<DataPage, crate::error::AppError> {
    crate::error::server_fn(browse(dataset, query)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_formatted_exactly() {
        assert_eq!(format_cents(0), "0.00");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(123_456), "1234.56");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn every_dataset_starts_with_its_cursor_and_has_unique_ids() {
        for ds in CATALOG {
            assert_eq!(ds.columns[0].name, ds.cursor_column, "{}", ds.id);
            assert_eq!(CATALOG.iter().filter(|d| d.id == ds.id).count(), 1);
            assert!(ds.columns.iter().any(|c| c.name == "created_at"), "{}", ds.id);
        }
    }
}
