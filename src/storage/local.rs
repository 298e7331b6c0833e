//! Objects on the local disk, for the zero-config default. An upload is appended to a
//! hidden file and renamed into place when complete. Downloads go through
//! `/files/{key}?expires=…&name=…&sig=…`, signed with HMAC-SHA256 and served with Range
//! support.

use super::{Storage, StorageError, StorageResult, UploadedPart, content_disposition};
use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

pub struct LocalStorage {
    root: PathBuf,
    key: Vec<u8>,
    public_url: String,
}

/// Keys are made by Egress (`exports/<workspace>/<uuid>.<ext>`); anything else is refused.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.starts_with('.'))
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

fn signature(secret: &[u8], key: &str, expires: i64, name: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{key}\n{expires}\n{name}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl LocalStorage {
    pub async fn new(root: PathBuf, key: Vec<u8>, public_url: String) -> StorageResult<Self> {
        tokio::fs::create_dir_all(root.join(".uploads")).await?;
        Ok(LocalStorage {
            root,
            key,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    fn path(&self, key: &str) -> StorageResult<PathBuf> {
        if valid_key(key) {
            Ok(self.root.join(key))
        } else {
            Err(StorageError::Config(format!("bad object key `{key}`")))
        }
    }

    fn upload_path(&self, upload_id: &str) -> StorageResult<PathBuf> {
        if upload_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !upload_id.is_empty() {
            Ok(self.root.join(".uploads").join(upload_id))
        } else {
            Err(StorageError::Config(format!("bad upload id `{upload_id}`")))
        }
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn bucket(&self) -> &str {
        "local"
    }

    async fn begin_upload(&self, key: &str, _content_type: &str) -> StorageResult<String> {
        self.path(key)?;
        let id = uuid::Uuid::new_v4().to_string();
        tokio::fs::File::create(self.upload_path(&id)?).await?;
        Ok(id)
    }

    async fn upload_part(&self, _key: &str, upload_id: &str, number: i32, data: Bytes) -> StorageResult<UploadedPart> {
        let mut file = tokio::fs::OpenOptions::new()
            .append(true)
            .open(self.upload_path(upload_id)?)
            .await?;
        file.write_all(&data).await?;
        file.sync_data().await?;
        Ok(UploadedPart {
            number,
            etag: format!("{number}:{}", data.len()),
        })
    }

    async fn complete_upload(&self, key: &str, upload_id: &str, _parts: &[UploadedPart]) -> StorageResult<()> {
        let target = self.path(key)?;
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(self.upload_path(upload_id)?, target).await?;
        Ok(())
    }

    async fn abort_upload(&self, _key: &str, upload_id: &str) -> StorageResult<()> {
        remove_if_present(&self.upload_path(upload_id)?).await
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        remove_if_present(&self.path(key)?).await
    }

    async fn signed_url(
        &self,
        key: &str,
        file_name: &str,
        _content_type: &str,
        ttl: Duration,
    ) -> StorageResult<String> {
        self.path(key)?;
        let expires = chrono::Utc::now().timestamp() + ttl.as_secs() as i64;
        let sig = signature(&self.key, key, expires, file_name);
        Ok(format!(
            "{}/files/{key}?expires={expires}&name={}&sig={sig}",
            self.public_url,
            crate::text::percent_encode(file_name, b"")
        ))
    }
}

async fn remove_if_present(path: &Path) -> StorageResult<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct SignedQuery {
    expires: i64,
    name: String,
    sig: String,
}

fn refuse(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

/// `GET /files/{*key}`: serves a local object to whoever holds a valid, unexpired URL.
pub async fn serve_signed_file(
    storage: &LocalStorage,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<SignedQuery>,
    request: Request,
) -> Response {
    let expected = signature(&storage.key, &key, q.expires, &q.name);
    let valid = expected.len() == q.sig.len()
        && expected
            .bytes()
            .zip(q.sig.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !valid {
        return refuse(StatusCode::FORBIDDEN, "This download link is not valid.");
    }
    if chrono::Utc::now().timestamp() > q.expires {
        return refuse(StatusCode::FORBIDDEN, "This download link has expired.");
    }
    let Ok(path) = storage.path(&key) else {
        return refuse(StatusCode::NOT_FOUND, "No such file.");
    };
    if !path.exists() {
        return refuse(StatusCode::NOT_FOUND, "This file no longer exists.");
    }
    let content_type = content_type_of(&key);
    match tower_http::services::ServeFile::new_with_mime(&path, &content_type.parse().expect("valid mime"))
        .oneshot(request)
        .await
    {
        Ok(response) => {
            let mut response = response.map(Body::new);
            if let Ok(value) = HeaderValue::from_str(&content_disposition(&q.name)) {
                response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
            }
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            response
        }
        Err(e) => match e {},
    }
}

fn content_type_of(key: &str) -> String {
    let format = key
        .trim_end_matches(".gz")
        .rsplit('.')
        .next()
        .and_then(|ext| crate::formats::Format::all().iter().find(|f| f.extension() == ext));
    match (key.ends_with(".gz"), format) {
        (true, _) => "application/gzip".to_owned(),
        (false, Some(f)) => f.content_type().to_owned(),
        (false, None) => "application/octet-stream".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_root() {
        assert!(valid_key("exports/1/0b6c.csv"));
        for bad in ["../etc/passwd", "/abs", "a/../b", ".uploads/x", "a//b", "a b", ""] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn signatures_bind_key_expiry_and_name() {
        let s = signature(b"k", "a.csv", 10, "a.csv");
        assert_ne!(s, signature(b"k", "a.csv", 11, "a.csv"));
        assert_ne!(s, signature(b"k", "b.csv", 10, "a.csv"));
        assert_ne!(s, signature(b"k", "a.csv", 10, "b.csv"));
        assert_ne!(s, signature(b"x", "a.csv", 10, "a.csv"));
    }
}
