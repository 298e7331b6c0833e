//! Amazon S3 and S3-compatible servers (path-style addressing, custom endpoint).
//!
//! A file is a multipart upload: bytes collect into a part (5 MiB at first, doubling every
//! 1,000 parts, so S3's 10,000-part limit is never met), each full part is uploaded in
//! turn, and the parts are joined at the end. A download is a redirect to a URL presigned
//! for a few minutes.

use super::{Download, Handout, ObjectWriter, Storage, StorageError, StorageResult, content_disposition};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::{Bytes, BytesMut};
use std::time::Duration;

/// S3's least part size (but for the last part).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// How long a download URL works.
pub const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(300);

pub struct S3Storage {
    client: Client,
    bucket: String,
    encryption: Option<ServerSideEncryption>,
    part_size: usize,
}

fn remote<E: std::error::Error + 'static>(e: aws_sdk_s3::error::SdkError<E>) -> StorageError {
    // The display of an SdkError is terse; its source chain says what went wrong.
    let mut message = e.to_string();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    use aws_sdk_s3::error::SdkError;
    if matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
        StorageError::Unreachable(message)
    } else {
        StorageError::Remote(message)
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl S3Storage {
    /// `s3://BUCKET?endpoint=http://127.0.0.1:9000&region=us-east-1&sse=AES256|none`.
    /// Credentials come from the arguments, else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    pub fn from_url(url: &str, access_key: Option<String>, secret_key: Option<String>) -> StorageResult<Self> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| StorageError::Config("not an s3:// URL".into()))?;
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::Config("the s3:// URL names no bucket".into()));
        }
        let region = query_param(query, "region").unwrap_or("us-east-1").to_owned();
        let access_key = access_key.or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok());
        let secret_key = secret_key.or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok());
        let (Some(access_key), Some(secret_key)) = (access_key, secret_key) else {
            return Err(StorageError::Config("S3 needs an access key and a secret key".into()));
        };
        let mut config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(Credentials::new(access_key, secret_key, None, None, "egress"))
            .force_path_style(true);
        if let Some(endpoint) = query_param(query, "endpoint") {
            config = config.endpoint_url(endpoint);
        }
        let encryption = match query_param(query, "sse").unwrap_or("AES256") {
            "none" => None,
            "AES256" => Some(ServerSideEncryption::Aes256),
            "aws:kms" => Some(ServerSideEncryption::AwsKms),
            other => {
                return Err(StorageError::Config(format!(
                    "unknown sse `{other}` (AES256, aws:kms or none)"
                )));
            }
        };
        Ok(S3Storage {
            client: Client::from_conf(config.build()),
            bucket: bucket.to_owned(),
            encryption,
            part_size: MIN_PART_SIZE,
        })
    }

    /// Parts of `bytes` at first (at least S3's 5 MiB).
    pub fn with_part_size(self, bytes: usize) -> Self {
        S3Storage {
            part_size: bytes.max(MIN_PART_SIZE),
            ..self
        }
    }

    /// A URL that downloads the object as `file_name` until `ttl` has passed.
    pub async fn signed_url(
        &self,
        key: &str,
        file_name: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StorageResult<String> {
        let presigning = PresigningConfig::expires_in(ttl).map_err(|e| StorageError::Config(e.to_string()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(content_disposition(file_name))
            .response_content_type(content_type)
            .presigned(presigning)
            .await
            .map_err(remote)?;
        Ok(request.uri().to_string())
    }
}

/// Drops an unfinished upload and its parts; one that is gone already is not an error.
async fn abort_upload(client: &Client, bucket: &str, key: &str, upload_id: &str) -> StorageResult<()> {
    match client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_upload()) => Ok(()),
        Err(e) => Err(remote(e)),
    }
}

/// A multipart upload being written.
struct S3Writer {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    part_size: usize,
    /// Bytes of the part being filled.
    buffer: BytesMut,
    parts: Vec<CompletedPart>,
    bytes: u64,
}

impl S3Writer {
    async fn upload(&mut self, data: Bytes) -> StorageResult<()> {
        let number = self.parts.len() as i32 + 1;
        self.bytes += data.len() as u64;
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(remote)?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(out.e_tag().unwrap_or_default())
                .build(),
        );
        if self.parts.len().is_multiple_of(1000) {
            self.part_size *= 2;
        }
        Ok(())
    }
}

#[async_trait]
impl ObjectWriter for S3Writer {
    fn handle(&self) -> &str {
        &self.upload_id
    }

    async fn write(&mut self, data: Bytes) -> StorageResult<()> {
        self.buffer.extend_from_slice(&data);
        // Parts are cut exactly: a part is never larger than its size.
        while self.buffer.len() >= self.part_size {
            let part = self.buffer.split_to(self.part_size).freeze();
            self.upload(part).await?;
            self.buffer.reserve(self.part_size);
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> StorageResult<u64> {
        // The last part may be short; an empty file is one empty part.
        if !self.buffer.is_empty() || self.parts.is_empty() {
            let last = std::mem::take(&mut self.buffer).freeze();
            self.upload(last).await?;
        }
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(remote)?;
        Ok(self.bytes)
    }

    async fn abort(self: Box<Self>) -> StorageResult<()> {
        abort_upload(&self.client, &self.bucket, &self.key, &self.upload_id).await
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn create(&self, key: &str, content_type: &str) -> StorageResult<Box<dyn ObjectWriter>> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .set_server_side_encryption(self.encryption.clone())
            .send()
            .await
            .map_err(remote)?;
        let upload_id = out
            .upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StorageError::Remote("no upload id in the answer".into()))?;
        Ok(Box::new(S3Writer {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            upload_id,
            part_size: self.part_size,
            buffer: BytesMut::with_capacity(self.part_size),
            parts: Vec::new(),
            bytes: 0,
        }))
    }

    async fn abandon(&self, key: &str, handle: &str) -> StorageResult<()> {
        abort_upload(&self.client, &self.bucket, key, handle).await
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(remote)?;
        Ok(())
    }

    async fn hand_out(&self, object: Download<'_>, _request: &axum::http::HeaderMap) -> StorageResult<Handout> {
        let url = self
            .signed_url(object.key, object.file_name, object.content_type, DOWNLOAD_URL_TTL)
            .await?;
        Ok(Handout::Redirect(url))
    }
}
