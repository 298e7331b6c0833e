//! Where export files live: a small trait with an S3 and a local-disk implementation.
//!
//! A file is written through an `ObjectWriter` (bytes in order; S3 turns them into a
//! multipart upload with parts of its own sizing, the disk appends to a hidden file), and
//! given to a person who may have it by `hand_out`: S3 answers a redirect to a URL
//! presigned for a few minutes, the local disk answers the bytes themselves. The web layer
//! knows neither's details.

pub mod local;
mod s3;
pub mod sealed;

pub use local::LocalStorage;
pub use s3::{Encryption, S3Storage, S3Target};

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage request failed: {0}")]
    Remote(String),
    /// The server answered with an S3 error code (`SignatureDoesNotMatch`, `NoSuchBucket`).
    #[error("{code}: {detail}")]
    Refused { code: String, detail: String },
    /// No answer at all (refused, reset, timed out): worth trying again later.
    #[error("object storage is unreachable: {0}")]
    Unreachable(String),
    #[error("bad storage configuration: {0}")]
    Config(String),
    #[error("no such object")]
    Missing,
}

pub type StorageResult<T> = Result<T, StorageError>;

/// An object being written: bytes arrive in order; `finish` makes the object, `abort`
/// leaves nothing behind.
#[async_trait]
pub trait ObjectWriter: Send {
    /// What to record on the job, so a write a crash left open can be abandoned later.
    fn handle(&self) -> &str;
    async fn write(&mut self, data: Bytes) -> StorageResult<()>;
    /// Makes the object; its size in bytes.
    async fn finish(self: Box<Self>) -> StorageResult<u64>;
    async fn abort(self: Box<Self>) -> StorageResult<()>;
}

/// How a person gets an object (who may have it was checked before).
pub enum Handout {
    /// Send them here: a URL that works for a few minutes.
    Redirect(String),
    /// The object itself, as a whole HTTP answer (ranges and conditional requests too).
    Response(axum::response::Response),
}

/// What `hand_out` serves: the object, the name it is saved as, its type.
pub struct Download<'a> {
    pub key: &'a str,
    pub file_name: &'a str,
    pub content_type: &'a str,
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The bucket name recorded on jobs (`local` for the disk).
    fn bucket(&self) -> &str;
    /// Opens `key` for writing.
    async fn create(&self, key: &str, content_type: &str) -> StorageResult<Box<dyn ObjectWriter>>;
    /// Drops a write that was left open (by a crash), by the handle it recorded. One that
    /// is gone already is not an error.
    async fn abandon(&self, key: &str, handle: &str) -> StorageResult<()>;
    /// Reads a whole object (what a delivery copies elsewhere).
    async fn read(&self, key: &str) -> StorageResult<ObjectStream>;
    /// Deletes an object. Deleting one that is gone is not an error.
    async fn delete(&self, key: &str) -> StorageResult<()>;
    /// Gives the object to the person asking (`request` holds their Range and
    /// conditional headers).
    async fn hand_out(&self, object: Download<'_>, request: &axum::http::HeaderMap) -> StorageResult<Handout>;
}

pub type DynStorage = Arc<dyn Storage>;

/// An object's bytes, in order.
pub type ObjectStream = futures::stream::BoxStream<'static, StorageResult<Bytes>>;

/// `Content-Disposition` for a download named `file_name` (RFC 6266, with a UTF-8 form).
pub fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = crate::text::percent_encode(file_name, b"");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Settings from `--storage` and its companions.
#[derive(Clone, Debug)]
pub struct StorageSettings {
    /// `file://PATH` or `s3://BUCKET?endpoint=URL&region=R&sse=AES256|none`.
    pub url: String,
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    /// Bytes per part of an S3 upload at first (doubling every 1,000 parts).
    pub part_size: usize,
    /// The key that seals files on the local disk (`--storage-key`, base64 of 32 bytes);
    /// without it, one made once and kept in `key_file`.
    pub key: Option<String>,
    pub key_file: std::path::PathBuf,
}

pub async fn open(settings: &StorageSettings) -> StorageResult<DynStorage> {
    if let Some(path) = settings.url.strip_prefix("file://") {
        Ok(Arc::new(
            LocalStorage::new(
                path.into(),
                sealed::load_key(settings.key.as_deref(), "--storage-key", &settings.key_file)
                    .await
                    .map_err(StorageError::Config)?,
            )
            .await?,
        ))
    } else if settings.url.starts_with("s3://") {
        Ok(Arc::new(
            S3Storage::from_url(&settings.url, settings.access_key.clone(), settings.secret_key.clone())?
                .with_part_size(settings.part_size),
        ))
    } else {
        Err(StorageError::Config(format!(
            "storage must be file://PATH or s3://BUCKET (got `{}`)",
            settings.url
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn disposition_has_an_ascii_and_a_utf8_name() {
        assert_eq!(
            content_disposition("contacts 2025.csv"),
            "attachment; filename=\"contacts 2025.csv\"; filename*=UTF-8''contacts%202025.csv"
        );
        assert_eq!(
            content_disposition("zoë\"x.csv"),
            "attachment; filename=\"zo__x.csv\"; filename*=UTF-8''zo%C3%AB%22x.csv"
        );
    }
}
