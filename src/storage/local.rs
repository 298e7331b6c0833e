//! Objects on the local disk, for the zero-config default. A write appends to a hidden
//! file under `.uploads/` and is renamed into place when finished, so an object is whole
//! or absent. A download is answered with the file itself (Range and conditional requests
//! included), after the download route checked who asks: no URL grants access on its own.

use super::{Download, Handout, ObjectWriter, Storage, StorageError, StorageResult, content_disposition};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, header};
use bytes::Bytes;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tower::ServiceExt;

pub struct LocalStorage {
    root: PathBuf,
}

/// Keys are made by Egress (`exports/<workspace>/<job>/<attempt>.<ext>`); anything else
/// is refused.
fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != ".." && !part.starts_with('.'))
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
}

impl LocalStorage {
    pub async fn new(root: PathBuf) -> StorageResult<Self> {
        tokio::fs::create_dir_all(root.join(".uploads")).await?;
        Ok(LocalStorage { root })
    }

    fn path(&self, key: &str) -> StorageResult<PathBuf> {
        if valid_key(key) {
            Ok(self.root.join(key))
        } else {
            Err(StorageError::Config(format!("bad object key `{key}`")))
        }
    }

    fn upload_path(&self, handle: &str) -> StorageResult<PathBuf> {
        if handle.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !handle.is_empty() {
            Ok(self.root.join(".uploads").join(handle))
        } else {
            Err(StorageError::Config(format!("bad upload handle `{handle}`")))
        }
    }
}

/// A file being written under `.uploads/`.
struct LocalWriter {
    handle: String,
    file: tokio::fs::File,
    partial: PathBuf,
    target: PathBuf,
    bytes: u64,
}

#[async_trait]
impl ObjectWriter for LocalWriter {
    fn handle(&self) -> &str {
        &self.handle
    }

    async fn write(&mut self, data: Bytes) -> StorageResult<()> {
        self.file.write_all(&data).await?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StorageResult<u64> {
        self.file.flush().await?;
        self.file.sync_data().await?;
        if let Some(parent) = self.target.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::rename(&self.partial, &self.target).await?;
        Ok(self.bytes)
    }

    async fn abort(self: Box<Self>) -> StorageResult<()> {
        drop(self.file);
        remove_if_present(&self.partial).await
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn bucket(&self) -> &str {
        "local"
    }

    async fn create(&self, key: &str, _content_type: &str) -> StorageResult<Box<dyn ObjectWriter>> {
        let target = self.path(key)?;
        let handle = uuid::Uuid::new_v4().to_string();
        let partial = self.upload_path(&handle)?;
        let file = tokio::fs::File::create(&partial).await?;
        Ok(Box::new(LocalWriter {
            handle,
            file,
            partial,
            target,
            bytes: 0,
        }))
    }

    async fn abandon(&self, _key: &str, handle: &str) -> StorageResult<()> {
        remove_if_present(&self.upload_path(handle)?).await
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        remove_if_present(&self.path(key)?).await
    }

    async fn hand_out(&self, object: Download<'_>, request: &HeaderMap) -> StorageResult<Handout> {
        let path = self.path(object.key)?;
        if !tokio::fs::try_exists(&path).await? {
            return Err(StorageError::Missing);
        }
        let mime = object
            .content_type
            .parse()
            .map_err(|_| StorageError::Config(format!("bad content type `{}`", object.content_type)))?;
        // Only the headers that shape a file answer (ranges, validators) are passed on.
        let mut ask = Request::new(Body::empty());
        for name in [
            header::RANGE,
            header::IF_RANGE,
            header::IF_MODIFIED_SINCE,
            header::IF_UNMODIFIED_SINCE,
            header::IF_NONE_MATCH,
            header::IF_MATCH,
        ] {
            if let Some(value) = request.get(&name) {
                ask.headers_mut().insert(name, value.clone());
            }
        }
        let Ok(response) = tower_http::services::ServeFile::new_with_mime(&path, &mime)
            .oneshot(ask)
            .await;
        let mut response = response.map(Body::new);
        if let Ok(value) = HeaderValue::from_str(&content_disposition(object.file_name)) {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        Ok(Handout::Response(response))
    }
}

async fn remove_if_present(path: &Path) -> StorageResult<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_root() {
        assert!(valid_key("exports/1/0b6c/1.csv"));
        for bad in ["../etc/passwd", "/abs", "a/../b", ".uploads/x", "a//b", "a b", ""] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_object_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path().to_owned()).await.unwrap();
        let mut w = storage.create("exports/1/a/1.csv", "text/csv").await.unwrap();
        w.write(Bytes::from_static(b"id\r\n")).await.unwrap();
        assert!(
            !dir.path().join("exports/1/a/1.csv").exists(),
            "not there before it is finished"
        );
        assert_eq!(w.finish().await.unwrap(), 4);
        assert_eq!(std::fs::read(dir.path().join("exports/1/a/1.csv")).unwrap(), b"id\r\n");

        let mut w = storage.create("exports/1/b/1.csv", "text/csv").await.unwrap();
        w.write(Bytes::from_static(b"half")).await.unwrap();
        let handle = w.handle().to_owned();
        drop(w); // a crash: the handle on record is all that is left
        storage.abandon("exports/1/b/1.csv", &handle).await.unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join(".uploads")).unwrap().count(), 0);
    }
}
