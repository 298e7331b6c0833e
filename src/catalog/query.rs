//! SQL over a catalog's dataset, for either database: identifiers come only from the
//! checked catalog (and are quoted); every value — the tenant, each filter, a page
//! cursor — is a bound text parameter, cast to its column's type by the column's kind.

use super::filters::{Condition, Op, conditions};
use super::kinds::{Db, spec};
use super::{Dataset, Filters, TenantKind};

/// A statement and its parameters, all bound as text (`$1`, `$2`, … in both databases).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceQuery {
    pub sql: String,
    pub params: Vec<String>,
}

/// The rows an incremental run reads: changed at or after `since` (RFC 3339), less those
/// the previous run delivered — `delivered` is a JSON array of their `row_token`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub since: String,
    pub delivered: String,
}

/// Where a page starts: the first (newest) page, after a key (older rows) or before one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageRequest {
    First,
    After(Vec<String>),
    Before(Vec<String>),
}

/// `"name"`: a checked identifier, quoted so that names like `order` work too.
pub fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

/// `"schema"."table"`.
pub fn quote_source(source: &str) -> String {
    source.split('.').map(quote).collect::<Vec<_>>().join(".")
}

impl SourceQuery {
    fn bind(&mut self, value: impl Into<String>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// `FROM source WHERE tenant AND filters`.
    fn push_from_where(&mut self, db: Db, dataset: &Dataset, tenant: &str, filters: &Filters) {
        let Some(tenant) = dataset.tenant.kind.canonical(tenant) else {
            // A key the tenant column cannot hold has no rows (and must not be cast: in
            // SQLite, `CAST('acme' AS INTEGER)` is 0, someone else's key).
            self.sql
                .push_str(&format!(" FROM {} WHERE 1 = 0", quote_source(&dataset.source)));
            return;
        };
        let p = self.bind(tenant);
        let column = quote(&dataset.tenant.column);
        let (column, value) = match (dataset.tenant.kind, db) {
            (TenantKind::Integer, Db::Postgres) => (column, format!("{p}::bigint")),
            (TenantKind::Integer, Db::Sqlite) => (column, format!("CAST({p} AS INTEGER)")),
            (TenantKind::Uuid, Db::Postgres) => (column, format!("{p}::uuid")),
            (TenantKind::Uuid, Db::Sqlite) => (format!("lower({column})"), format!("lower({p})")),
            (TenantKind::Text, _) => (column, p),
        };
        self.sql.push_str(&format!(
            " FROM {} WHERE {column} = {value}",
            quote_source(&dataset.source)
        ));
        for condition in conditions(dataset, filters) {
            let sql = self.condition(db, &condition);
            self.sql.push_str(" AND ");
            self.sql.push_str(&sql);
        }
    }

    fn condition(&mut self, db: Db, c: &Condition) -> String {
        let kind = spec(c.kind);
        let column = quote(&c.column);
        let p = self.bind(c.value.clone());
        let compare = |op: &str| format!("{} {op} {}", kind.compared(db, &column), kind.param(db, &p));
        match c.op {
            Op::Eq => compare("="),
            Op::AtLeast => compare(">="),
            Op::Below => compare("<"),
            Op::AtMost => compare("<="),
            Op::Contains => match db {
                Db::Postgres => format!("{p} = ANY({column})"),
                Db::Sqlite => format!("EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {p})"),
            },
            Op::Like => match db {
                Db::Postgres => format!("{column}::text ILIKE {p} ESCAPE '\\'"),
                Db::Sqlite => format!("{column} LIKE {p} ESCAPE '\\'"),
            },
        }
    }

    /// ` AND changed >= since AND token NOT IN delivered` (see `Window`).
    fn push_window(&mut self, db: Db, dataset: &Dataset, window: &Window) {
        self.push_changed_since(db, dataset, &window.since);
        let p = self.bind(window.delivered.clone());
        let delivered = match db {
            Db::Postgres => format!("SELECT json_array_elements_text({p}::json)"),
            Db::Sqlite => format!("SELECT value FROM json_each({p})"),
        };
        self.sql
            .push_str(&format!(" AND {} NOT IN ({delivered})", row_token(db, dataset)));
    }

    /// ` AND changed >= since`.
    fn push_changed_since(&mut self, db: Db, dataset: &Dataset, since: &str) {
        let changes = dataset.changes.as_ref().expect("incremental datasets declare changes");
        let kind = spec(dataset.column(&changes.column).expect("a declared column").kind);
        let p = self.bind(since);
        self.sql.push_str(&format!(
            " AND {} >= {}",
            kind.compared(db, &quote(&changes.column)),
            kind.param(db, &p)
        ));
    }

    /// ` AND (k1, k2) < (v1, v2)`: the rows past a page's edge, by the dataset's key.
    fn beyond(&mut self, db: Db, dataset: &Dataset, key: &[String], op: &str) {
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for (name, value) in dataset.key.iter().zip(key) {
            let kind = spec(dataset.column(name).expect("key columns are declared").kind);
            let p = self.bind(value.clone());
            columns.push(kind.compared(db, &quote(name)));
            values.push(kind.param(db, &p));
        }
        self.sql
            .push_str(&format!(" AND ({}) {op} ({})", columns.join(", "), values.join(", ")));
    }

    fn order_by(&mut self, dataset: &Dataset, direction: &str) {
        let keys: Vec<String> = dataset
            .key
            .iter()
            .map(|k| format!("{} {direction}", quote(k)))
            .collect();
        self.sql.push_str(&format!(" ORDER BY {}", keys.join(", ")));
    }
}

/// Every column as the text its kind decodes, in catalog order. Each is aliased, so
/// that `ORDER BY "id"` still means the table's column, not this text of it.
pub fn select_list(db: Db, dataset: &Dataset) -> String {
    dataset
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} AS egress_c{i}", spec(c.kind).read(db, &quote(&c.name))))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row's identity at a change: its key and its change time, as one text (a JSON array
/// written by the database, so it compares with what the same database wrote before).
pub fn row_token(db: Db, dataset: &Dataset) -> String {
    let changes = dataset.changes.as_ref().expect("incremental datasets declare changes");
    let parts: Vec<String> = dataset
        .key
        .iter()
        .chain(std::iter::once(&changes.column))
        .map(|name| spec(dataset.column(name).expect("a declared column").kind).read(db, &quote(name)))
        .collect();
    match db {
        Db::Postgres => format!("json_build_array({})::text", parts.join(", ")),
        Db::Sqlite => format!("json_array({})", parts.join(", ")),
    }
}

/// The tokens of the rows changed at or after `since`: what a run delivered, or would
/// have, near its snapshot (the next run leaves them out).
pub fn tokens_since(db: Db, dataset: &Dataset, tenant: &str, filters: &Filters, since: &str) -> SourceQuery {
    let mut q = SourceQuery {
        sql: format!("SELECT {}", row_token(db, dataset)),
        params: vec![],
    };
    q.push_from_where(db, dataset, tenant, filters);
    q.push_changed_since(db, dataset, since);
    q
}

pub fn count(db: Db, dataset: &Dataset, tenant: &str, filters: &Filters, window: Option<&Window>) -> SourceQuery {
    let mut q = SourceQuery {
        sql: "SELECT COUNT(*)".into(),
        params: vec![],
    };
    q.push_from_where(db, dataset, tenant, filters);
    if let Some(window) = window {
        q.push_window(db, dataset, window);
    }
    q
}

/// Every matching row in key order, for an export.
pub fn export(db: Db, dataset: &Dataset, tenant: &str, filters: &Filters, window: Option<&Window>) -> SourceQuery {
    export_of(
        db,
        dataset,
        tenant,
        filters,
        window,
        &KeyRange::default(),
        &select_list(db, dataset),
    )
}

/// Like `export`, for the rows of a key range (a parallel read reads several), selecting
/// `select` (expressions over the dataset's columns).
pub fn export_of(
    db: Db,
    dataset: &Dataset,
    tenant: &str,
    filters: &Filters,
    window: Option<&Window>,
    range: &KeyRange,
    select: &str,
) -> SourceQuery {
    let mut q = SourceQuery {
        sql: format!("SELECT {select}"),
        params: vec![],
    };
    q.push_from_where(db, dataset, tenant, filters);
    if let Some(window) = window {
        q.push_window(db, dataset, window);
    }
    if let Some(after) = &range.after {
        q.beyond(db, dataset, after, ">");
    }
    if let Some(through) = &range.through {
        q.beyond(db, dataset, through, "<=");
    }
    q.order_by(dataset, "ASC");
    q
}

/// A contiguous part of a dataset's rows in key order: those after one key, up to and
/// including another (`None`: from the first row, to the last). The keys are texts as
/// `key_at` reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyRange {
    pub after: Option<Vec<String>>,
    pub through: Option<Vec<String>>,
}

/// The key of the matching row at `offset` (from 0) in key order, as texts: where a
/// parallel read splits the rows.
pub fn key_at(db: Db, dataset: &Dataset, tenant: &str, filters: &Filters, offset: i64) -> SourceQuery {
    let mut q = SourceQuery {
        sql: format!("SELECT {}", key_list(db, dataset)),
        params: vec![],
    };
    q.push_from_where(db, dataset, tenant, filters);
    q.order_by(dataset, "ASC");
    q.sql.push_str(&format!(" OFFSET {offset} LIMIT 1"));
    q
}

/// The key's columns as the texts a cursor carries (`egress_k0`, …).
fn key_list(db: Db, dataset: &Dataset) -> String {
    dataset
        .key
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let kind = spec(dataset.column(k).expect("key columns are declared").kind);
            format!("{} AS egress_k{i}", kind.read(db, &quote(k)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One page, newest (highest key) first, with one row more than `limit` as a look-ahead.
/// `Before` pages are read in ascending order; the caller reverses them. The key's
/// values come after the columns.
pub fn page(db: Db, dataset: &Dataset, tenant: &str, filters: &Filters, page: &PageRequest, limit: i64) -> SourceQuery {
    let mut q = SourceQuery {
        sql: format!("SELECT {}, {}", select_list(db, dataset), key_list(db, dataset)),
        params: vec![],
    };
    q.push_from_where(db, dataset, tenant, filters);
    let direction = match page {
        PageRequest::First => "DESC",
        PageRequest::After(key) => {
            q.beyond(db, dataset, key, "<");
            "DESC"
        }
        PageRequest::Before(key) => {
            q.beyond(db, dataset, key, ">");
            "ASC"
        }
    };
    q.order_by(dataset, direction);
    q.sql.push_str(&format!(" LIMIT {}", limit + 1));
    q
}

/// The distinct values of a column in the tenant's rows (for `values_from_data`).
pub fn distinct(db: Db, dataset: &Dataset, tenant: &str, column: &str, limit: i64) -> SourceQuery {
    let kind = spec(dataset.column(column).expect("a declared column").kind);
    let mut q = SourceQuery {
        sql: format!("SELECT DISTINCT {} AS egress_v", kind.read(db, &quote(column))),
        params: vec![],
    };
    q.push_from_where(db, dataset, tenant, &Filters::default());
    q.sql
        .push_str(&format!(" AND {} IS NOT NULL ORDER BY 1 LIMIT {limit}", quote(column)));
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn filters_and_cursors_become_bound_parameters() {
        let catalog = Catalog::load(None).unwrap();
        let orders = catalog.find("orders").unwrap();
        let mut values = crate::catalog::FilterValues::new();
        values.insert("status".into(), "paid".into());
        values.insert("tag".into(), "x'; DROP TABLE orders; --".into());
        let filters = crate::catalog::filters::check(orders, &values).unwrap();
        let q = page(
            Db::Postgres,
            orders,
            "7",
            &filters,
            &PageRequest::After(vec!["100".into()]),
            50,
        );
        assert!(
            q.sql.ends_with(
                "FROM \"orders\" WHERE \"workspace_id\" = $1::bigint AND \"status\" = $2 AND $3 = ANY(\"tags\") \
                 AND (\"id\") < ($4::bigint) ORDER BY \"id\" DESC LIMIT 51"
            ),
            "{}",
            q.sql
        );
        assert_eq!(q.params, ["7", "paid", "x'; DROP TABLE orders; --", "100"]);
        let q = count(Db::Sqlite, orders, "7", &filters, None);
        assert!(q.sql.contains("EXISTS (SELECT 1 FROM json_each(\"tags\")"), "{}", q.sql);
    }
}
