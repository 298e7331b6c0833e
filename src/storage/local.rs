//! Objects on the local disk, for the zero-config default. A write appends to a hidden
//! file under `.uploads/` and is renamed into place when finished, so an object is whole
//! or absent. Files are sealed at rest with the operator's key (`sealed.rs`) and opened
//! while they stream to the person downloading them, after the download route checked
//! who asks: no URL grants access on its own. Single byte ranges are answered (resumable
//! downloads) by opening only the chunks they touch.

use super::sealed::{self, SealKey};
use super::{Download, Handout, ObjectWriter, Storage, StorageError, StorageResult, content_disposition};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use bytes::Bytes;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tower::ServiceExt;

pub struct LocalStorage {
    root: PathBuf,
    key: SealKey,
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
    pub async fn new(root: PathBuf, key: SealKey) -> StorageResult<Self> {
        tokio::fs::create_dir_all(root.join(".uploads")).await?;
        Ok(LocalStorage { root, key })
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

/// A file being written under `.uploads/`, sealed chunk by chunk.
struct LocalWriter {
    handle: String,
    file: tokio::fs::File,
    partial: PathBuf,
    target: PathBuf,
    key: SealKey,
    header: [u8; sealed::HEADER as usize],
    /// Plain bytes not sealed yet (less than a chunk).
    pending: Vec<u8>,
    chunks: u64,
    bytes: u64,
}

impl LocalWriter {
    /// Seals `pending[from..to]` as the next chunk.
    async fn seal(&mut self, from: usize, to: usize, last: bool) -> StorageResult<()> {
        let sealed = self
            .key
            .seal(&self.header[4..], self.chunks, last, &self.pending[from..to])
            .map_err(|e| StorageError::Remote(e.to_string()))?;
        self.file.write_all(&sealed).await?;
        self.chunks += 1;
        Ok(())
    }
}

#[async_trait]
impl ObjectWriter for LocalWriter {
    fn handle(&self) -> &str {
        &self.handle
    }

    async fn write(&mut self, data: Bytes) -> StorageResult<()> {
        self.pending.extend_from_slice(&data);
        self.bytes += data.len() as u64;
        // A full chunk is sealed once more bytes follow it: the last one is marked so.
        // The sealed chunks leave the buffer in one move, not one move each.
        let mut from = 0;
        while self.pending.len() - from > sealed::CHUNK {
            self.seal(from, from + sealed::CHUNK, false).await?;
            from += sealed::CHUNK;
        }
        self.pending.drain(..from);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StorageResult<u64> {
        let full = self.pending.len() == sealed::CHUNK;
        if full {
            self.seal(0, sealed::CHUNK, false).await?;
        }
        let from = if full { sealed::CHUNK } else { 0 };
        self.seal(from, self.pending.len(), true).await?;
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

/// The plain bytes `[start, end]` a request's `Range` asks for, of a file of `size`:
/// `Ok(None)` for the whole file (no range, several ranges, or an `If-Range`, which
/// Egress does not track), `Err` when it cannot be satisfied.
fn byte_range(request: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(range) = request.get(header::RANGE) else {
        return Ok(None);
    };
    if request.contains_key(header::IF_RANGE) {
        return Ok(None);
    }
    let Some(spec) = range.to_str().ok().and_then(|r| r.strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (from, to) = spec.trim().split_once('-').ok_or(())?;
    let (start, end) = match (from.parse::<u64>().ok(), to.parse::<u64>().ok()) {
        (Some(start), Some(end)) => (start, end.min(size.saturating_sub(1))),
        (Some(start), None) if to.is_empty() => (start, size.saturating_sub(1)),
        (None, Some(last)) if from.is_empty() && last > 0 => (size.saturating_sub(last), size.saturating_sub(1)),
        _ => return Err(()),
    };
    if size == 0 || start > end || start >= size {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// Streams plain bytes `[start, end]` of the sealed file at `path`, opening each chunk.
fn opened_stream(
    path: PathBuf,
    key: SealKey,
    size: u64,
    (start, end): (u64, u64),
) -> impl futures::Stream<Item = std::io::Result<Bytes>> {
    let (first, last) = sealed::chunks_of(start, end);
    let state = (None::<(tokio::fs::File, [u8; 8])>, first);
    futures::stream::try_unfold(state, move |(file, index)| {
        let (path, key) = (path.clone(), key.clone());
        async move {
            if index > last {
                return Ok(None);
            }
            let (mut file, prefix) = match file {
                Some(open) => open,
                None => {
                    let mut file = tokio::fs::File::open(&path).await?;
                    let mut header = [0u8; sealed::HEADER as usize];
                    file.read_exact(&mut header).await?;
                    let prefix: [u8; 8] = header[4..].try_into().expect("8 bytes");
                    (file, prefix)
                }
            };
            file.seek(std::io::SeekFrom::Start(sealed::chunk_offset(index))).await?;
            let mut chunk = vec![0u8; sealed::sealed_len(index, size) as usize];
            file.read_exact(&mut chunk).await?;
            let plain = key
                .open(&prefix, index, index == sealed::last_chunk(size), &chunk)
                .map_err(std::io::Error::other)?;
            let chunk_start = index * sealed::CHUNK as u64;
            let from = start.saturating_sub(chunk_start) as usize;
            let to = ((end + 1 - chunk_start) as usize).min(plain.len());
            Ok(Some((
                Bytes::copy_from_slice(&plain[from..to]),
                (Some((file, prefix)), index + 1),
            )))
        }
    })
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
        let mut file = tokio::fs::File::create(&partial).await?;
        let header = SealKey::header();
        file.write_all(&header).await?;
        Ok(Box::new(LocalWriter {
            handle,
            file,
            partial,
            target,
            key: self.key.clone(),
            header,
            pending: Vec::with_capacity(2 * sealed::CHUNK),
            chunks: 0,
            bytes: 0,
        }))
    }

    async fn abandon(&self, _key: &str, handle: &str) -> StorageResult<()> {
        remove_if_present(&self.upload_path(handle)?).await
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        remove_if_present(&self.path(key)?).await
    }

    async fn read(&self, key: &str) -> StorageResult<super::ObjectStream> {
        use futures::{StreamExt, TryStreamExt};
        let path = self.path(key)?;
        if !is_sealed(&path).await? {
            // A file from before files were sealed: read as it is.
            let file = tokio::fs::File::open(&path).await?;
            return Ok(tokio_util::io::ReaderStream::new(file)
                .map_err(StorageError::from)
                .boxed());
        }
        let size = sealed::plain_size(tokio::fs::metadata(&path).await?.len())
            .map_err(|e| StorageError::Remote(e.to_string()))?;
        if size == 0 {
            return Ok(futures::stream::empty().boxed());
        }
        Ok(opened_stream(path, self.key.clone(), size, (0, size - 1))
            .map_err(StorageError::from)
            .boxed())
    }

    async fn hand_out(&self, object: Download<'_>, request: &HeaderMap) -> StorageResult<Handout> {
        let path = self.path(object.key)?;
        let sealed_file = is_sealed(&path).await?;
        let mime: HeaderValue = object
            .content_type
            .parse()
            .map_err(|_| StorageError::Config(format!("bad content type `{}`", object.content_type)))?;
        let mut response = if sealed_file {
            self.opened(&path, mime, request).await?
        } else {
            // A file from before files were sealed: served as it is.
            plain_file(&path, &object, request).await?
        };
        if let Ok(value) = HeaderValue::from_str(&content_disposition(object.file_name)) {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
        Ok(Handout::Response(response))
    }
}

impl LocalStorage {
    /// The answer for a sealed file: all of it (200) or the range asked for (206).
    async fn opened(&self, path: &Path, mime: HeaderValue, request: &HeaderMap) -> StorageResult<Response<Body>> {
        let sealed_size = tokio::fs::metadata(path).await?.len();
        let size = sealed::plain_size(sealed_size).map_err(|e| StorageError::Remote(e.to_string()))?;
        let mut response = Response::new(Body::empty());
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, mime);
        headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        let range = match byte_range(request, size) {
            Ok(range) => range,
            Err(()) => {
                *response.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(response);
            }
        };
        let (start, end) = match range {
            Some(range) => {
                *response.status_mut() = StatusCode::PARTIAL_CONTENT;
                if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", range.0, range.1)) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                range
            }
            None if size == 0 => {
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
                return Ok(response);
            }
            None => (0, size - 1),
        };
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(end - start + 1));
        let stream = opened_stream(path.to_owned(), self.key.clone(), size, (start, end));
        *response.body_mut() = Body::from_stream(stream);
        Ok(response)
    }
}

/// Whether the file at `path` is sealed (it starts with the magic), or `Missing`.
async fn is_sealed(path: &Path) -> StorageResult<bool> {
    let mut file = match tokio::fs::File::open(path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StorageError::Missing),
        Err(e) => return Err(e.into()),
    };
    let mut magic = [0u8; 4];
    Ok(file.read_exact(&mut magic).await.is_ok() && &magic == sealed::MAGIC)
}

/// An unsealed file, answered by tower-http (ranges and validators included).
async fn plain_file(path: &Path, object: &Download<'_>, request: &HeaderMap) -> StorageResult<Response<Body>> {
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
    let Ok(response) = tower_http::services::ServeFile::new_with_mime(path, &mime)
        .oneshot(ask)
        .await;
    Ok(response.map(Body::new))
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
        let storage = LocalStorage::new(dir.path().to_owned(), SealKey::new(&[3; 32]))
            .await
            .unwrap();
        let mut w = storage.create("exports/1/a/1.csv", "text/csv").await.unwrap();
        w.write(Bytes::from_static(b"id\r\n")).await.unwrap();
        assert!(
            !dir.path().join("exports/1/a/1.csv").exists(),
            "not there before it is finished"
        );
        assert_eq!(w.finish().await.unwrap(), 4);
        let at_rest = std::fs::read(dir.path().join("exports/1/a/1.csv")).unwrap();
        assert!(at_rest.starts_with(sealed::MAGIC) && !at_rest.windows(2).any(|w| w == b"id"));
        assert_eq!(sealed::plain_size(at_rest.len() as u64).unwrap(), 4);

        let mut w = storage.create("exports/1/b/1.csv", "text/csv").await.unwrap();
        w.write(Bytes::from_static(b"half")).await.unwrap();
        let handle = w.handle().to_owned();
        drop(w); // a crash: the handle on record is all that is left
        storage.abandon("exports/1/b/1.csv", &handle).await.unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join(".uploads")).unwrap().count(), 0);
    }
}
