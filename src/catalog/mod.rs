//! The catalog: what can be browsed and exported, declared in a TOML file the operator
//! writes (`--catalog PATH`; the demo's four datasets, `catalog/demo.toml`, are the
//! shipped example and the default).
//!
//! A dataset is one entry: its source table or view, the tenant column, a unique ordered
//! key, the columns in export order with labels and kinds, the filters it offers, and the
//! least role that may see it. A column kind is one module in `kinds/` (its SQL, decoding
//! and its text, JSON and spreadsheet forms); a filter kind is one module in `filters/`
//! (its parameters, parsing and SQL). Nothing else names a dataset, a kind or a filter.
//!
//! The declarations travel to the browser too (the pages are built from them), without
//! what only the server needs to know (source, tenant, key).

mod cell;
pub mod filters;
pub mod kinds;
#[cfg(feature = "ssr")]
mod load;
#[cfg(feature = "ssr")]
pub mod query;

pub use cell::{Cell, currency_scale, format_cents, format_minor};
pub use filters::{FilterKind, FilterValues, Filters, SearchMode};
pub use kinds::Kind;
#[cfg(feature = "ssr")]
pub use load::CatalogError;

use crate::accounts::Role;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The demo's catalog, over the tables Egress's own migrations make.
pub const DEMO: &str = include_str!("../../catalog/demo.toml");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(rename = "dataset", default)]
    pub datasets: Vec<Arc<Dataset>>,
}

/// The column that says which tenant a row belongs to, and the type of its values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    pub column: String,
    #[serde(rename = "type", default)]
    pub kind: TenantKind,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantKind {
    #[default]
    Integer,
    Text,
    Uuid,
}

#[cfg(feature = "ssr")]
impl TenantKind {
    /// Whether a tenant column of this kind can hold `key`.
    pub fn accepts(self, key: &str) -> bool {
        self.canonical(key).is_some()
    }

    /// `key` in the one spelling of its tenant, so that `7`, `07` and `+7` are one tenant:
    /// an integer in decimal without sign or leading zeros (within 64 bits); a UUID in
    /// lower case with hyphens (from any case, braces, no hyphens or `urn:uuid:`); text
    /// as given, trimmed. `None` when a column of this kind cannot hold it.
    pub fn canonical(self, key: &str) -> Option<String> {
        let key = key.trim();
        match self {
            TenantKind::Integer => key.parse::<i64>().ok().map(|n| n.to_string()),
            TenantKind::Uuid => uuid::Uuid::parse_str(key).ok().map(|u| u.hyphenated().to_string()),
            TenantKind::Text => Some(key.to_owned()),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            TenantKind::Integer => "integer",
            TenantKind::Text => "text",
            TenantKind::Uuid => "uuid",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// The identifier in URLs and the API (`contacts`).
    pub id: String,
    /// The name shown to people (`Contacts`).
    pub label: String,
    #[serde(default)]
    pub description: String,
    /// The table or view rows come from (`public.contacts`). Server only.
    #[serde(default, skip_serializing)]
    pub source: String,
    #[serde(default, skip_serializing)]
    pub tenant: Tenant,
    /// Columns that order the rows uniquely (`["created_at", "id"]`). Server only.
    #[serde(default, skip_serializing)]
    pub key: Vec<String>,
    /// How to find the rows that changed since a time, for incremental runs. Server only.
    #[serde(default, skip_serializing)]
    pub changes: Option<Changes>,
    /// The column naming the person a row is about (an email address), for "everything
    /// about me" archives: a personal archive holds only the rows whose subject is the
    /// requester's email. Datasets without one are left out of personal archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(rename = "column")]
    pub columns: Vec<Column>,
    #[serde(rename = "filter", default)]
    pub filters: Vec<Filter>,
    /// The least role that may see the dataset.
    #[serde(default = "member")]
    pub role: Role,
}

/// A dataset's change column: a timestamp set whenever a row is written (`updated_at`;
/// `created_at` for rows that never change). An incremental run reads the rows whose
/// change time is at or after the previous run's snapshot less `overlap_seconds`, so a
/// row whose transaction committed up to that long after its timestamp is still found,
/// and leaves out the ones the previous run already delivered (same key, same time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    pub column: String,
    #[serde(default = "default_overlap")]
    pub overlap_seconds: u32,
    /// Where deleted rows are recorded, so incremental runs can report them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tombstones: Option<Tombstones>,
}

/// A table (or view) with a row per deleted row of the dataset: the dataset's tenant and
/// key columns, under the same names, and the time of the deletion. An incremental run
/// reports the rows deleted since the previous run (with the same overlap, matched the
/// same way) as rows with only their key and `_deleted_at` set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tombstones {
    pub source: String,
    /// Its timestamp column: when the row was deleted.
    pub deleted_at: String,
}

/// The name and label of the column incremental files of datasets with tombstones end
/// with: empty for rows that exist, the deletion time for deleted ones.
pub const DELETED_AT: (&str, &str) = ("_deleted_at", "Deleted at");

fn default_overlap() -> u32 {
    300
}

fn member() -> Role {
    Role::Member
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// The column (or expression alias) in the source.
    pub name: String,
    /// The header in the pages and in exported files.
    pub label: String,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// For money: the column holding the ISO 4217 currency code, which decides the
    /// number of decimals. Without it, amounts have two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_column: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The filter's name; its parameters are named after it (`created` → `created_from`).
    pub id: String,
    pub label: String,
    pub column: String,
    pub kind: FilterKind,
    /// `one_of`: the values offered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// `one_of`: offer the values found in the data instead of a list.
    #[serde(default)]
    pub values_from_data: bool,
    /// `text_search`: `prefix` (the default) or `contains`.
    #[serde(default)]
    pub mode: filters::SearchMode,
}

impl Catalog {
    /// A tenant key as it enters Egress (a sign-in hand-off's `tenant.id`, `egress
    /// workspace add --tenant-key`) in the one spelling its tenant has in this catalog's
    /// source (`TenantKind::canonical`: `07` is `7`), so every spelling finds the same
    /// workspace; or why no dataset's tenant column could hold it. The datasets' first
    /// integer or UUID tenant column decides the spelling, and every column must hold it.
    #[cfg(feature = "ssr")]
    pub fn canonical_tenant_key(&self, key: &str) -> Result<String, String> {
        let refusal = |d: &Dataset| {
            format!(
                "`{}` cannot be a tenant key here: the tenant column `{}` of `{}` holds {} values",
                key.trim(),
                d.tenant.column,
                d.id,
                d.tenant.kind.id()
            )
        };
        let canonical = match self.datasets.iter().find(|d| d.tenant.kind != TenantKind::Text) {
            Some(d) => d.tenant.kind.canonical(key).ok_or_else(|| refusal(d))?,
            None => TenantKind::Text.canonical(key).unwrap_or_default(),
        };
        match self.datasets.iter().find(|d| !d.tenant.kind.accepts(&canonical)) {
            Some(d) => Err(refusal(d)),
            None => Ok(canonical),
        }
    }

    pub fn find(&self, id: &str) -> Option<&Arc<Dataset>> {
        self.datasets.iter().find(|d| d.id == id)
    }

    /// The datasets `role` may see, in catalog order.
    pub fn visible_to(&self, role: Role) -> impl Iterator<Item = &Arc<Dataset>> {
        self.datasets.iter().filter(move |d| role.may_see(d.role))
    }
}

impl Dataset {
    /// The dataset's deleted rows as a dataset of their own (key columns and the deletion
    /// time, which is its change column), so they are read by the same queries.
    pub fn tombstones(&self) -> Option<Dataset> {
        let changes = self.changes.as_ref()?;
        let tombstones = changes.tombstones.as_ref()?;
        let mut columns: Vec<Column> = self
            .key
            .iter()
            .filter_map(|k| self.column(k).cloned())
            .map(|c| Column {
                currency_column: None,
                ..c
            })
            .collect();
        columns.push(Column {
            name: tombstones.deleted_at.clone(),
            label: DELETED_AT.1.to_owned(),
            kind: Kind::Timestamp,
            description: String::new(),
            currency_column: None,
        });
        Some(Dataset {
            id: format!("{}:deleted", self.id),
            label: format!("{} (deleted)", self.label),
            description: String::new(),
            source: tombstones.source.clone(),
            tenant: self.tenant.clone(),
            key: self.key.clone(),
            changes: Some(Changes {
                column: tombstones.deleted_at.clone(),
                overlap_seconds: changes.overlap_seconds,
                tombstones: None,
            }),
            subject: None,
            columns,
            filters: Vec::new(),
            role: self.role,
        })
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn filter(&self, id: &str) -> Option<&Filter> {
        self.filters.iter().find(|f| f.id == id)
    }

    /// Every filter parameter the dataset accepts (`created_from`, `status`, …).
    pub fn filter_params(&self) -> Vec<String> {
        self.filters.iter().flat_map(|f| f.kind.params(&f.id)).collect()
    }
}

/// One page of a dataset, as the data page shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataPage {
    pub dataset: String,
    pub labels: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Rows matching the filters, over all pages.
    pub total: i64,
    /// Cursor for the next (older) page, when there is one.
    pub next_after: Option<String>,
    /// Cursor for the previous (newer) page, when there is one.
    pub prev_before: Option<String>,
}

/// A page cursor: the key of the row at a page's edge. A key of one column is its value
/// (`after=1200`); a longer one, a JSON array of the values.
pub fn cursor_token(key: &[String]) -> String {
    match key {
        [one] => one.clone(),
        many => serde_json::to_string(many).expect("texts serialise"),
    }
}

/// The key a cursor names, for a key of `len` columns; `None` when it is malformed.
pub fn parse_cursor(token: &str, len: usize) -> Option<Vec<String>> {
    let key = if len == 1 {
        vec![token.to_owned()]
    } else {
        serde_json::from_str::<Vec<String>>(token).ok()?
    };
    (key.len() == len && key.iter().all(|v| v.len() <= 200)).then_some(key)
}

/// The catalog the browser got from `visible_catalog()`, for the components under the layout.
#[derive(Clone, Copy)]
pub struct CatalogResource(pub leptos::prelude::Resource<Result<Catalog, crate::error::AppError>>);

/// The datasets the caller's role may see, as the pages show them (none when signed out).
#[leptos::server(prefix = "/rpc", endpoint = "catalog")]
pub async fn visible_catalog() -> Result<Catalog, crate::error::AppError> {
    crate::error::server_fn(async move {
        // The session first: while the router lists its routes it renders the app with no
        // request, and this answers an error then instead of asking for the state.
        let session = crate::accounts::ssr::session().await?;
        let state = crate::accounts::ssr::state();
        let datasets = match crate::accounts::ssr::member_of_session(&state, &session).await? {
            Some((member, _)) => state.catalog.visible_to(member.role).cloned().collect(),
            None => Vec::new(),
        };
        Ok(Catalog { datasets })
    })
    .await
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_key_has_one_spelling_per_kind() {
        for (kind, spellings, canonical) in [
            (TenantKind::Integer, &["7", "07", "+7", " 007 ", "+0007"][..], "7"),
            (TenantKind::Integer, &["-12", "-012"][..], "-12"),
            (TenantKind::Integer, &["0", "-0", "+0", "000"][..], "0"),
            (
                TenantKind::Integer,
                &["9223372036854775807", "+09223372036854775807"][..],
                "9223372036854775807",
            ),
            (
                TenantKind::Uuid,
                &[
                    "67e55044-10b1-426f-9247-bb680e5fe0c8",
                    "67E55044-10B1-426F-9247-BB680E5FE0C8",
                    "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
                    "{67E55044-10B1-426F-9247-BB680E5FE0C8}",
                    "67e5504410b1426f9247bb680e5fe0c8",
                    "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
                    " 67e55044-10b1-426f-9247-bb680e5fe0c8 ",
                ][..],
                "67e55044-10b1-426f-9247-bb680e5fe0c8",
            ),
            (TenantKind::Text, &["acme", " acme "][..], "acme"),
            (TenantKind::Text, &["07"][..], "07"),
            (TenantKind::Text, &["Acme"][..], "Acme"),
        ] {
            for spelling in spellings {
                assert_eq!(
                    kind.canonical(spelling).as_deref(),
                    Some(canonical),
                    "{kind:?} {spelling:?}"
                );
            }
        }
        for (kind, refused) in [
            (TenantKind::Integer, "acme"),
            (TenantKind::Integer, "9223372036854775808"),
            (TenantKind::Integer, "7.0"),
            (TenantKind::Integer, "1e3"),
            (TenantKind::Integer, "0x7"),
            (TenantKind::Integer, "+-7"),
            (TenantKind::Integer, ""),
            (TenantKind::Uuid, "67e55044-10b1-426f-9247"),
            (TenantKind::Uuid, "{67e55044-10b1-426f-9247-bb680e5fe0c8"),
            (TenantKind::Uuid, "7"),
        ] {
            assert_eq!(kind.canonical(refused), None, "{kind:?} {refused:?}");
        }
    }

    fn catalog(kinds: &[TenantKind]) -> Catalog {
        let demo = Catalog::load(None).unwrap();
        let datasets = kinds
            .iter()
            .zip(demo.datasets.iter().cycle())
            .map(|(kind, d)| {
                let mut d = Dataset::clone(d);
                d.tenant.kind = *kind;
                Arc::new(d)
            })
            .collect();
        Catalog { datasets }
    }

    #[test]
    fn the_catalog_spells_a_key_as_its_tenant_columns_hold_it() {
        use TenantKind::{Integer, Text, Uuid};
        assert_eq!(catalog(&[Integer, Integer]).canonical_tenant_key("07"), Ok("7".into()));
        // A text column beside an integer one holds the integer's spelling.
        assert_eq!(catalog(&[Text, Integer]).canonical_tenant_key("+7"), Ok("7".into()));
        assert_eq!(catalog(&[Text, Text]).canonical_tenant_key(" 07 "), Ok("07".into()));
        assert_eq!(
            catalog(&[Uuid]).canonical_tenant_key("{67E55044-10B1-426F-9247-BB680E5FE0C8}"),
            Ok("67e55044-10b1-426f-9247-bb680e5fe0c8".into())
        );
        let why = catalog(&[Integer, Integer]).canonical_tenant_key("acme").unwrap_err();
        assert!(why.contains("`acme` cannot be a tenant key here"), "{why}");
        assert!(why.contains("holds integer values"), "{why}");
        // No key suits an integer column and a UUID column at once.
        let why = catalog(&[Integer, Uuid]).canonical_tenant_key("7").unwrap_err();
        assert!(why.contains("holds uuid values"), "{why}");
    }
}
