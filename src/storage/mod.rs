//! Where export files live: a small trait with an S3 and a local-disk implementation.
//!
//! Files are written as multipart uploads (parts arrive in order while the export runs)
//! and read through short-lived signed URLs: S3 presigned GETs, or HMAC-signed
//! `/files/...` URLs that Egress serves itself for the local disk.

pub mod local;
mod s3;

pub use local::{LocalStorage, serve_signed_file};
pub use s3::S3Storage;

use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage request failed: {0}")]
    Remote(String),
    /// No answer at all (refused, reset, timed out): worth trying again later.
    #[error("object storage is unreachable: {0}")]
    Unreachable(String),
    #[error("bad storage configuration: {0}")]
    Config(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// One uploaded part: its number (from 1) and the tag the store gave it.
#[derive(Clone, Debug)]
pub struct UploadedPart {
    pub number: i32,
    pub etag: String,
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The bucket name recorded on jobs (`local` for the disk).
    fn bucket(&self) -> &str;
    /// Starts a multipart upload; the id is recorded on the job so a crash can be cleaned up.
    async fn begin_upload(&self, key: &str, content_type: &str) -> StorageResult<String>;
    /// Uploads part `number` (parts come in order, numbered from 1).
    async fn upload_part(&self, key: &str, upload_id: &str, number: i32, data: Bytes) -> StorageResult<UploadedPart>;
    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[UploadedPart]) -> StorageResult<()>;
    /// Drops an unfinished upload and its parts. Aborting one that is gone is not an error.
    async fn abort_upload(&self, key: &str, upload_id: &str) -> StorageResult<()>;
    /// Deletes an object. Deleting one that is gone is not an error.
    async fn delete(&self, key: &str) -> StorageResult<()>;
    /// A URL that downloads the object as `file_name` until `ttl` has passed.
    async fn signed_url(&self, key: &str, file_name: &str, content_type: &str, ttl: Duration) -> StorageResult<String>;
}

pub type DynStorage = Arc<dyn Storage>;

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
    /// Secret for signing local-disk download URLs.
    pub signing_key: Vec<u8>,
    /// Base URL of this Egress, for local-disk download URLs.
    pub public_url: String,
}

pub async fn open(settings: &StorageSettings) -> StorageResult<DynStorage> {
    if let Some(path) = settings.url.strip_prefix("file://") {
        Ok(Arc::new(
            LocalStorage::new(path.into(), settings.signing_key.clone(), settings.public_url.clone()).await?,
        ))
    } else if settings.url.starts_with("s3://") {
        Ok(Arc::new(S3Storage::from_url(
            &settings.url,
            settings.access_key.clone(),
            settings.secret_key.clone(),
        )?))
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
