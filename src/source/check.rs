//! `egress catalog check`: the catalog against the live source. For each dataset: the
//! table or view exists, each declared column exists with a type its kind reads, the
//! tenant column's type matches, the export query runs, and an index serves the tenant
//! and key order; and whether the source's role can write (it should not need to).
//! Problems stop `serve`; warnings are printed.

use super::{Pool, Source, SourceResult};
use crate::catalog::kinds::Db;
use crate::catalog::query::{self, quote_source};
use crate::catalog::{Catalog, Dataset, Filters, TenantKind};
use sqlx::Row;
use std::fmt;

#[derive(Debug, Default)]
pub struct CheckReport {
    /// What makes a dataset unusable, each with its fix.
    pub problems: Vec<String>,
    /// What works but should be better (a missing index, a role that can write).
    pub warnings: Vec<String>,
    /// Datasets that passed.
    pub sound: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for id in &self.sound {
            writeln!(f, "ok       {id}")?;
        }
        for problem in &self.problems {
            writeln!(f, "PROBLEM  {problem}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning  {warning}")?;
        }
        write!(
            f,
            "{} problem{}, {} warning{}",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" },
            self.warnings.len(),
            if self.warnings.len() == 1 { "" } else { "s" }
        )
    }
}

/// The columns of a table or view and their types, `None` when it does not exist.
pub async fn describe(source: &Source, name: &str) -> SourceResult<Option<Vec<(String, String)>>> {
    match &source.pool {
        Pool::Postgres(pool) => {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(quote_source(name))
                .fetch_one(pool)
                .await?;
            if !exists {
                return Ok(None);
            }
            let rows = sqlx::query(
                "SELECT a.attname::text, t.typname::text FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            )
            .bind(quote_source(name))
            .fetch_all(pool)
            .await?;
            Ok(Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect()))
        }
        Pool::Sqlite(pool) => {
            let table = name.strip_prefix("main.").unwrap_or(name);
            let exists: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = $1 AND type IN ('table', 'view')")
                    .bind(table)
                    .fetch_one(pool)
                    .await?;
            if exists == 0 {
                return Ok(None);
            }
            let rows = sqlx::query("SELECT name, type FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(pool)
                .await?;
            Ok(Some(
                rows.iter()
                    .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1).to_lowercase()))
                    .collect(),
            ))
        }
    }
}

/// The column lists of the indexes on a table (none for a view).
async fn indexes(source: &Source, name: &str) -> SourceResult<Vec<Vec<String>>> {
    match &source.pool {
        Pool::Postgres(pool) => {
            let rows = sqlx::query(
                "SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i \
                 CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                 WHERE i.indrelid = to_regclass($1) GROUP BY i.indexrelid",
            )
            .bind(quote_source(name))
            .fetch_all(pool)
            .await?;
            Ok(rows.iter().map(|r| r.get::<Vec<String>, _>(0)).collect())
        }
        Pool::Sqlite(pool) => {
            let table = name.strip_prefix("main.").unwrap_or(name);
            let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_list($1)")
                .bind(table)
                .fetch_all(pool)
                .await?;
            let mut out = Vec::new();
            for index in names {
                let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(pool)
                    .await?;
                out.push(columns);
            }
            Ok(out)
        }
    }
}

async fn is_view(source: &Source, name: &str) -> SourceResult<bool> {
    match &source.pool {
        Pool::Postgres(pool) => Ok(sqlx::query_scalar(
            "SELECT relkind IN ('v', 'm') FROM pg_class WHERE oid = to_regclass($1)",
        )
        .bind(quote_source(name))
        .fetch_optional(pool)
        .await?
        .unwrap_or(false)),
        Pool::Sqlite(pool) => Ok(sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = $1 AND type = 'view'",
        )
        .bind(name.strip_prefix("main.").unwrap_or(name))
        .fetch_one(pool)
        .await?
            > 0),
    }
}

/// Whether the source's role may change the table (Postgres; SQLite is opened read-only).
async fn can_write(source: &Source, name: &str) -> SourceResult<Option<String>> {
    match &source.pool {
        Pool::Postgres(pool) => {
            let row = sqlx::query(
                "SELECT current_user::text, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
                 has_table_privilege(current_user, to_regclass($1), 'INSERT, UPDATE, DELETE, TRUNCATE')",
            )
            .bind(quote_source(name))
            .fetch_one(pool)
            .await?;
            let (role, superuser, writes): (String, bool, bool) = (row.get(0), row.get(1), row.get(2));
            Ok((superuser || writes).then_some(role))
        }
        Pool::Sqlite(_) => Ok(None),
    }
}

fn tenant_types(db: Db, kind: TenantKind) -> &'static [&'static str] {
    match (db, kind) {
        (Db::Postgres, TenantKind::Integer) => &["int2", "int4", "int8"],
        (Db::Postgres, TenantKind::Text) => &["text", "varchar", "bpchar", "citext"],
        (Db::Postgres, TenantKind::Uuid) => &["uuid"],
        (Db::Sqlite, _) => &[],
    }
}

/// A tenant value of the right type, for a query that only has to run.
fn sample_tenant(kind: TenantKind) -> &'static str {
    match kind {
        TenantKind::Integer => "0",
        TenantKind::Text => "",
        TenantKind::Uuid => "00000000-0000-0000-0000-000000000000",
    }
}

async fn check_dataset(source: &Source, d: &Dataset, own: bool, report: &mut CheckReport) -> SourceResult<()> {
    let db = source.db();
    let at = format!("dataset `{}` ({})", d.id, d.source);
    let before = report.problems.len();
    let Some(columns) = describe(source, &d.source).await? else {
        report.problems.push(format!(
            "{at}: there is no table or view `{}` in the source; fix `source`, or create it",
            d.source
        ));
        return Ok(());
    };
    let type_of = |name: &str| columns.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str());
    let names = || columns.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ");
    match type_of(&d.tenant.column) {
        None => report.problems.push(format!(
            "{at}: tenant column `{}` does not exist (its columns: {})",
            d.tenant.column,
            names()
        )),
        Some(t) => {
            let expected = tenant_types(db, d.tenant.kind);
            if !expected.is_empty() && !expected.contains(&t) {
                report.problems.push(format!(
                    "{at}: tenant column `{}` is {t}, not {}; set tenant.type to match it",
                    d.tenant.column,
                    d.tenant.kind.id()
                ));
            }
        }
    }
    for c in &d.columns {
        match type_of(&c.name) {
            None => report.problems.push(format!(
                "{at}: column `{}` does not exist (its columns: {})",
                c.name,
                names()
            )),
            Some(t) if !super::accepts(db, c.kind, t) => report.problems.push(format!(
                "{at}: column `{}` is {t}, which the `{}` kind does not read; declare the kind that matches",
                c.name,
                c.kind.id()
            )),
            Some(_) => {}
        }
    }
    if report.problems.len() > before {
        return Ok(());
    }
    // The export query itself, on no rows: every expression and cast must work.
    let q = query::export(db, d, sample_tenant(d.tenant.kind), &Filters::default(), None);
    let probe = format!("{} LIMIT 0", q.sql);
    let ran = with_pool!(source, pool => {
        q.params.iter().fold(sqlx::query(&probe), |s, p| s.bind(p)).fetch_all(pool).await.map(|_| ())
    });
    if let Err(e) = ran {
        report.problems.push(format!("{at}: the export query fails: {e}"));
        return Ok(());
    }
    let wanted: Vec<String> = std::iter::once(d.tenant.column.clone())
        .chain(d.key.iter().cloned())
        .collect();
    if is_view(source, &d.source).await? {
        report.warnings.push(format!(
            "{at}: a view; make sure an index on its table serves ({}), or exports read the whole table",
            wanted.join(", ")
        ));
    } else if !indexes(source, &d.source)
        .await?
        .iter()
        .any(|idx| idx.starts_with(&wanted))
    {
        report.warnings.push(format!(
            "{at}: no index serves the tenant and key order; exports and pages will scan the table. \
             Create one: CREATE INDEX ON {} ({});",
            d.source,
            wanted.join(", ")
        ));
    }
    // On Egress's own database the role writes Egress's state, so it can write there.
    if !own && let Some(role) = can_write(source, &d.source).await? {
        report.warnings.push(format!(
            "{at}: the source's role `{role}` can write to it; Egress only reads (its sessions are read-only), \
             so give it a role with SELECT only"
        ));
    }
    report.sound.push(d.id.clone());
    Ok(())
}

/// Checks every dataset of the catalog against the source; `own` when the source is
/// Egress's own database.
pub async fn check_catalog(source: &Source, catalog: &Catalog, own: bool) -> SourceResult<CheckReport> {
    let mut report = CheckReport::default();
    for d in &catalog.datasets {
        check_dataset(source, d, own, &mut report).await?;
        // Its tombstones are read as a dataset of their own, so they are checked as one.
        if let Some(tombstones) = d.tombstones() {
            check_dataset(source, &tombstones, own, &mut report).await?;
        }
    }
    Ok(report)
}
