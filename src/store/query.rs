//! Dataset queries shared by both backends. Identifiers come only from the static
//! catalog; every value is a bound parameter.

use crate::datasets::{Dataset, Filters, PageRequest};
use chrono::{DateTime, Utc};

/// The parts of SQL that differ between backends.
pub trait Dialect {
    /// The placeholder for the n-th parameter, counting from 1.
    fn placeholder(n: usize) -> String;
    /// A condition that is true when the row's `tags` contain the parameter.
    fn has_tag(placeholder: &str) -> String;
}

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

impl Query {
    fn bind<D: Dialect>(&mut self, param: Param) -> String {
        self.params.push(param);
        D::placeholder(self.params.len())
    }

    /// `WHERE` for the workspace and the filters.
    fn push_where<D: Dialect>(&mut self, ds: &Dataset, workspace_id: i64, filters: &Filters) {
        let p = self.bind::<D>(Param::Int(workspace_id));
        self.sql.push_str(&format!(" WHERE {} = {p}", ds.tenant_column));
        if let Some(from) = filters.created_from {
            let p = self.bind::<D>(Param::Time(from));
            self.sql.push_str(&format!(" AND created_at >= {p}"));
        }
        if let Some(to) = filters.created_to {
            let p = self.bind::<D>(Param::Time(to));
            self.sql.push_str(&format!(" AND created_at < {p}"));
        }
        if let Some(status) = &filters.status {
            let p = self.bind::<D>(Param::Text(status.clone()));
            self.sql.push_str(&format!(" AND status = {p}"));
        }
        if let Some(tag) = &filters.tag {
            let p = self.bind::<D>(Param::Text(tag.clone()));
            self.sql.push_str(&format!(" AND {}", D::has_tag(&p)));
        }
    }
}

pub fn count<D: Dialect>(ds: &Dataset, workspace_id: i64, filters: &Filters) -> Query {
    let mut q = Query {
        sql: format!("SELECT COUNT(*) FROM {}", ds.table),
        params: vec![],
    };
    q.push_where::<D>(ds, workspace_id, filters);
    q
}

/// Every matching row in cursor order, for an export.
pub fn export<D: Dialect>(ds: &Dataset, workspace_id: i64, filters: &Filters) -> Query {
    let columns: Vec<&str> = ds.columns.iter().map(|c| c.name).collect();
    export_of::<D>(ds, workspace_id, filters, &columns.join(", "))
}

/// Like `export`, selecting `select_list` (expressions over the dataset's columns).
pub fn export_of<D: Dialect>(ds: &Dataset, workspace_id: i64, filters: &Filters, select_list: &str) -> Query {
    let mut q = Query {
        sql: format!("SELECT {select_list} FROM {}", ds.table),
        params: vec![],
    };
    q.push_where::<D>(ds, workspace_id, filters);
    q.sql.push_str(&format!(" ORDER BY {} ASC", ds.cursor_column));
    q
}

/// One page, newest (highest cursor) first, with one row more than `limit` as a look-ahead.
/// `Before` pages are fetched in ascending order; the caller reverses them.
pub fn page<D: Dialect>(ds: &Dataset, workspace_id: i64, filters: &Filters, page: PageRequest, limit: i64) -> Query {
    let columns: Vec<&str> = ds.columns.iter().map(|c| c.name).collect();
    let mut q = Query {
        sql: format!("SELECT {} FROM {}", columns.join(", "), ds.table),
        params: vec![],
    };
    q.push_where::<D>(ds, workspace_id, filters);
    let cursor = ds.cursor_column;
    let order = match page {
        PageRequest::First => "DESC",
        PageRequest::After(c) => {
            let p = q.bind::<D>(Param::Int(c));
            q.sql.push_str(&format!(" AND {cursor} < {p}"));
            "DESC"
        }
        PageRequest::Before(c) => {
            let p = q.bind::<D>(Param::Int(c));
            q.sql.push_str(&format!(" AND {cursor} > {p}"));
            "ASC"
        }
    };
    let p = q.bind::<D>(Param::Int(limit + 1));
    q.sql.push_str(&format!(" ORDER BY {cursor} {order} LIMIT {p}"));
    q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datasets::find;

    struct Numbered;
    impl Dialect for Numbered {
        fn placeholder(n: usize) -> String {
            format!("${n}")
        }
        fn has_tag(p: &str) -> String {
            format!("{p} = ANY(tags)")
        }
    }

    #[test]
    fn filters_become_bound_parameters() {
        let filters = Filters {
            status: Some("paid".into()),
            tag: Some("x'; DROP TABLE orders; --".into()),
            ..Default::default()
        };
        let q = page::<Numbered>(find("orders").unwrap(), 7, &filters, PageRequest::After(100), 50);
        assert!(q.sql.ends_with(
            "FROM orders WHERE workspace_id = $1 AND status = $2 AND $3 = ANY(tags) AND id < $4 ORDER BY id DESC LIMIT $5"
        ), "{}", q.sql);
        assert_eq!(q.params[0], Param::Int(7));
        assert_eq!(q.params[2], Param::Text("x'; DROP TABLE orders; --".into()));
        assert_eq!(q.params[4], Param::Int(51));
    }
}
