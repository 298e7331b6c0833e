//! Amazon S3 and S3-compatible servers (path-style addressing, custom endpoint).

use super::{Storage, StorageError, StorageResult, UploadedPart, content_disposition};
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::Bytes;
use std::time::Duration;

pub struct S3Storage {
    client: Client,
    bucket: String,
    encryption: Option<ServerSideEncryption>,
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
        })
    }
}

#[async_trait]
impl Storage for S3Storage {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn begin_upload(&self, key: &str, content_type: &str) -> StorageResult<String> {
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
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StorageError::Remote("no upload id in the answer".into()))
    }

    async fn upload_part(&self, key: &str, upload_id: &str, number: i32, data: Bytes) -> StorageResult<UploadedPart> {
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(ByteStream::from(data))
            .send()
            .await
            .map_err(remote)?;
        Ok(UploadedPart {
            number,
            etag: out.e_tag().unwrap_or_default().to_owned(),
        })
    }

    async fn complete_upload(&self, key: &str, upload_id: &str, parts: &[UploadedPart]) -> StorageResult<()> {
        let parts = parts
            .iter()
            .map(|p| CompletedPart::builder().part_number(p.number).e_tag(&p.etag).build())
            .collect();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .map_err(remote)?;
        Ok(())
    }

    async fn abort_upload(&self, key: &str, upload_id: &str) -> StorageResult<()> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
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

    async fn signed_url(&self, key: &str, file_name: &str, content_type: &str, ttl: Duration) -> StorageResult<String> {
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
