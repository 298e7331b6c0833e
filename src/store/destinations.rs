//! The delivery destinations' SQL, for both backends (see `destinations`). A deleted
//! destination keeps its row (its deliveries' history names it) but is never used again.

use super::query::{Param, Query, Sql};
use sqlx::{ColumnIndex, Decode, Row, Type};

/// A destination as stored (its credentials sealed).
#[derive(Clone, Debug, PartialEq)]
pub struct DestinationRecord {
    pub id: i64,
    pub workspace_id: i64,
    pub name: String,
    /// `None`: Amazon S3 itself.
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    /// The access key and secret, sealed (`destinations::rules::Credentials`).
    pub credentials: String,
    pub key_hint: String,
    pub sse: String,
    pub kms_key_id: Option<String>,
    pub created_at: i64,
}

/// A destination's fields as written on create.
#[derive(Clone, Debug)]
pub struct NewDestination {
    pub workspace_id: i64,
    pub name: String,
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub prefix: String,
    pub credentials: String,
    pub key_hint: String,
    pub sse: String,
    pub kms_key_id: Option<String>,
    pub created_at: i64,
}

const SELECT: &str = "SELECT id, workspace_id, name, endpoint, bucket, region, prefix, credentials, key_hint, sse, \
     kms_key_id, created_at FROM destinations WHERE deleted_at IS NULL";

pub fn decode<'r, R>(r: &'r R) -> Result<DestinationRecord, sqlx::Error>
where
    R: Row,
    usize: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(DestinationRecord {
        id: r.try_get(0)?,
        workspace_id: r.try_get(1)?,
        name: r.try_get(2)?,
        endpoint: r.try_get(3)?,
        bucket: r.try_get(4)?,
        region: r.try_get(5)?,
        prefix: r.try_get(6)?,
        credentials: r.try_get(7)?,
        key_hint: r.try_get(8)?,
        sse: r.try_get(9)?,
        kms_key_id: r.try_get(10)?,
        created_at: r.try_get(11)?,
    })
}

pub fn list(workspace_id: i64) -> Query {
    Sql::new(SELECT)
        .push(" AND workspace_id = ? ORDER BY id", [Param::Int(workspace_id)])
        .done()
}

pub fn get(workspace_id: i64, id: i64) -> Query {
    Sql::new(SELECT)
        .push(
            " AND workspace_id = ? AND id = ?",
            [Param::Int(workspace_id), Param::Int(id)],
        )
        .done()
}

pub fn insert(new: &NewDestination) -> Query {
    Sql::new(
        "INSERT INTO destinations (workspace_id, name, endpoint, bucket, region, prefix, credentials, key_hint, sse, \
         kms_key_id, created_at) ",
    )
    .push(
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            Param::Int(new.workspace_id),
            Param::Text(new.name.clone()),
            Param::MaybeText(new.endpoint.clone()),
            Param::Text(new.bucket.clone()),
            Param::Text(new.region.clone()),
            Param::Text(new.prefix.clone()),
            Param::Text(new.credentials.clone()),
            Param::Text(new.key_hint.clone()),
            Param::Text(new.sse.clone()),
            Param::MaybeText(new.kms_key_id.clone()),
            Param::Int(new.created_at),
        ],
    )
    .done()
}

pub fn delete(workspace_id: i64, id: i64, now: i64) -> Query {
    Sql::new("UPDATE destinations SET ")
        .push(
            "deleted_at = ? WHERE workspace_id = ? AND id = ? AND deleted_at IS NULL",
            [Param::Int(now), Param::Int(workspace_id), Param::Int(id)],
        )
        .done()
}
