//! `uuid`: written lower-case and hyphenated, whatever the source's case.

use super::{Db, KindSpec, sqlite_affinity};
use crate::catalog::Cell;
use std::borrow::Cow;

pub struct Uuid;

impl KindSpec for Uuid {
    fn read(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => format!("{col}::text"),
            Db::Sqlite => format!("lower(CAST({col} AS TEXT))"),
        }
    }
    fn decode(&self, text: &str) -> Result<Cell, String> {
        ::uuid::Uuid::parse_str(text.trim())
            .map(|u| Cell::Uuid(u.hyphenated().to_string()))
            .map_err(|_| format!("`{text}` is not a UUID"))
    }
    fn param(&self, db: Db, p: &str) -> String {
        match db {
            Db::Postgres => format!("{p}::uuid"),
            Db::Sqlite => format!("lower({p})"),
        }
    }
    fn compared(&self, db: Db, col: &str) -> String {
        match db {
            Db::Postgres => col.to_owned(),
            Db::Sqlite => format!("lower({col})"),
        }
    }
    fn text<'a>(&self, cell: &'a Cell) -> Cow<'a, str> {
        match cell {
            Cell::Uuid(u) => Cow::Borrowed(u),
            other => Cow::Owned(other.display()),
        }
    }
    fn accepts(&self, db: Db, sql_type: &str) -> bool {
        match db {
            Db::Postgres => sql_type == "uuid",
            Db::Sqlite => matches!(sqlite_affinity(sql_type), "text" | "numeric" | "any"),
        }
    }
}
