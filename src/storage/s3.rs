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
    /// Signs download URLs: `client`, or one for the `public_endpoint` browsers reach.
    /// Presigning is local arithmetic, so a second client costs no connection.
    presigner: Client,
    bucket: String,
    encryption: Encryption,
    part_size: usize,
}

/// Server-side encryption of the objects Egress writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encryption {
    None,
    /// SSE-S3: keys the bucket manages.
    Aes256,
    /// SSE-KMS, under this key (or the bucket's default KMS key).
    Kms(Option<String>),
}

impl Encryption {
    /// `AES256`, `aws:kms` or `none` (S3's own names), with an optional KMS key id.
    pub fn parse(sse: &str, kms_key_id: Option<String>) -> StorageResult<Encryption> {
        match sse {
            "none" => Ok(Encryption::None),
            "AES256" => Ok(Encryption::Aes256),
            "aws:kms" => Ok(Encryption::Kms(kms_key_id.filter(|k| !k.is_empty()))),
            other => Err(StorageError::Config(format!(
                "unknown server-side encryption `{other}` (AES256, aws:kms or none)"
            ))),
        }
    }

    pub fn id(&self) -> &'static str {
        match self {
            Encryption::None => "none",
            Encryption::Aes256 => "AES256",
            Encryption::Kms(_) => "aws:kms",
        }
    }
}

/// Where and as whom to write: Egress's own bucket, or a customer's destination.
#[derive(Clone, Debug)]
pub struct S3Target {
    /// An S3-compatible server's URL (path-style addressing); `None`: Amazon S3 itself.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub encryption: Encryption,
    /// Connect only to addresses `crate::outbound` allows: a workspace's destination,
    /// unless the operator allows private targets. Egress's own bucket is not judged.
    pub public_only: bool,
}

fn remote<E>(e: aws_sdk_s3::error::SdkError<E>) -> StorageError
where
    E: std::error::Error + aws_sdk_s3::error::ProvideErrorMetadata + 'static,
{
    if let Some(service) = e.as_service_error()
        && let Some(code) = service.code()
    {
        return StorageError::Refused {
            code: code.to_owned(),
            detail: service.message().unwrap_or("no detail").to_owned(),
        };
    }
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

/// The parameters an `s3://` URL may carry: a misspelt one is an error that names it,
/// not a setting silently left at its default.
const URL_PARAMS: [&str; 5] = ["endpoint", "public_endpoint", "region", "sse", "kms_key_id"];

/// The URL's parameters, percent-decoded (`url`'s form_urlencoded: an endpoint or KMS key
/// written encoded, `endpoint=http%3A%2F%2Fminio%3A9000`, means what it says).
fn query_params(query: &str) -> StorageResult<Vec<(String, String)>> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if !URL_PARAMS.contains(&name.as_ref()) {
            return Err(StorageError::Config(format!(
                "the s3:// URL has an unknown parameter {name:?} (known: {})",
                URL_PARAMS.join(", ")
            )));
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(StorageError::Config(format!("the s3:// URL gives {name:?} twice")));
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    Ok(params)
}

/// An endpoint must be an http(s) URL with a host: the SDK would otherwise fail at the
/// first upload, or sign links no browser can follow.
fn endpoint_param(params: &[(String, String)], name: &str) -> StorageResult<Option<String>> {
    let Some((_, value)) = params.iter().find(|(n, _)| n == name) else {
        return Ok(None);
    };
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(Some(value.clone())),
        _ => Err(StorageError::Config(format!(
            "the s3:// URL's {name} {value:?} is not an http:// or https:// URL"
        ))),
    }
}

/// Resolves host names for a destination's S3 client through the address policy: one
/// refused address fails the connection, and the client connects to exactly the
/// addresses judged here (no second lookup a DNS trick could change between a check and
/// the connection). Address literals never reach a resolver (hyper connects to them
/// as they are): `destinations::rules::open` judges the endpoint before any client is
/// built.
#[derive(Clone, Debug)]
struct PublicOnly;

impl aws_smithy_runtime_api::client::dns::ResolveDns for PublicOnly {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDnsError};
        DnsFuture::new(async move { crate::outbound::lookup(name, false).await.map_err(ResolveDnsError::new) })
    }
}

/// The HTTP client of an S3 client: hyper with rustls on ring. One per client, not one
/// for the process: its pooled connections belong to the runtime that opened them. It
/// never goes through a proxy (this version of aws-smithy-http-client uses one only when
/// given a `ProxyConfig`, and HTTP(S)_PROXY is not read): a proxy would resolve the host
/// again itself.
fn http_client(public_only: bool) -> aws_sdk_s3::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let builder = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
    if public_only {
        builder.build_with_resolver(PublicOnly)
    } else {
        builder.build_https()
    }
}

/// An S3 client for `target`'s server, region and credentials.
fn client(target: &S3Target) -> Client {
    let mut config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client(target.public_only))
        .region(Region::new(target.region.clone()))
        .credentials_provider(Credentials::new(
            target.access_key.clone(),
            target.secret_key.clone(),
            None,
            None,
            "egress",
        ))
        // A server that does not connect, or stops answering, is reported as
        // unreachable instead of holding the export (or delivery) forever. There is no
        // limit on a whole request: a large part on a slow link takes what it takes.
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(120))
                .build(),
        );
    if let Some(endpoint) = &target.endpoint {
        config = config.endpoint_url(endpoint).force_path_style(true);
    }
    Client::from_conf(config.build())
}

impl S3Storage {
    /// `s3://BUCKET?endpoint=http://127.0.0.1:9000&region=us-east-1&sse=AES256|aws:kms|none&kms_key_id=K`,
    /// and `public_endpoint=URL` where browsers reach the server at another address than
    /// Egress does (a container network's `http://minio:9000` behind
    /// `https://files.example.com`): download links are signed for that address.
    /// Credentials come from the arguments, else AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    pub fn from_url(url: &str, access_key: Option<String>, secret_key: Option<String>) -> StorageResult<Self> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| StorageError::Config("not an s3:// URL".into()))?;
        let (bucket, query) = rest.split_once('?').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StorageError::Config("the s3:// URL names no bucket".into()));
        }
        let params = query_params(query)?;
        let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        let access_key = access_key.or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok());
        let secret_key = secret_key.or_else(|| std::env::var("AWS_SECRET_ACCESS_KEY").ok());
        let (Some(access_key), Some(secret_key)) = (access_key, secret_key) else {
            return Err(StorageError::Config("S3 needs an access key and a secret key".into()));
        };
        let target = S3Target {
            endpoint: endpoint_param(&params, "endpoint")?,
            region: param("region").unwrap_or("us-east-1").to_owned(),
            bucket: bucket.to_owned(),
            access_key,
            secret_key,
            encryption: Encryption::parse(param("sse").unwrap_or("AES256"), param("kms_key_id").map(str::to_owned))?,
            public_only: false, // the operator's own bucket
        };
        let mut storage = S3Storage::connect(&target);
        if let Some(public) = endpoint_param(&params, "public_endpoint")? {
            storage.presigner = client(&S3Target {
                endpoint: Some(public),
                ..target
            });
        }
        Ok(storage)
    }

    /// A client for `target`. It only says whether the bucket answers when it is used.
    pub fn connect(target: &S3Target) -> Self {
        let client = client(target);
        S3Storage {
            presigner: client.clone(),
            client,
            bucket: target.bucket.clone(),
            encryption: target.encryption.clone(),
            part_size: MIN_PART_SIZE,
        }
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
            .presigner
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
            .set_server_side_encryption(match &self.encryption {
                Encryption::None => None,
                Encryption::Aes256 => Some(ServerSideEncryption::Aes256),
                Encryption::Kms(_) => Some(ServerSideEncryption::AwsKms),
            })
            .set_ssekms_key_id(match &self.encryption {
                Encryption::Kms(key) => key.clone(),
                _ => None,
            })
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

    async fn read(&self, key: &str) -> StorageResult<super::ObjectStream> {
        use futures::StreamExt;
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Err(StorageError::Missing),
            Err(e) => return Err(remote(e)),
        };
        let body = out.body;
        Ok(futures::stream::try_unfold(body, |mut body| async move {
            match body.try_next().await {
                Ok(Some(chunk)) => Ok(Some((chunk, body))),
                Ok(None) => Ok(None),
                Err(e) => Err(StorageError::Unreachable(format!("reading the object broke off: {e}"))),
            }
        })
        .boxed())
    }

    async fn hand_out(&self, object: Download<'_>, _request: &axum::http::HeaderMap) -> StorageResult<Handout> {
        let url = self
            .signed_url(object.key, object.file_name, object.content_type, DOWNLOAD_URL_TTL)
            .await?;
        Ok(Handout::Redirect(url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(url: &str) -> Result<S3Storage, String> {
        S3Storage::from_url(url, Some("key".into()), Some("secret".into())).map_err(|e| e.to_string())
    }

    /// A destination's client resolves through the address policy itself: a name that
    /// points at loopback is never connected to, whatever was checked before (a name
    /// rebound after its check). Allowed (the operator's bucket, or private targets
    /// allowed), the same client does connect.
    #[tokio::test]
    async fn a_public_only_client_never_connects_inside() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = |public_only| S3Target {
            endpoint: Some(format!("http://localhost:{port}")),
            region: "us-east-1".into(),
            bucket: "bucket".into(),
            access_key: "key".into(),
            secret_key: "secret".into(),
            encryption: Encryption::None,
            public_only,
        };
        let e = S3Storage::connect(&target(true))
            .delete("probe")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("localhost resolves to") && e.contains(crate::outbound::NOT_PUBLIC),
            "{e}"
        );
        let knocked = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
        assert!(knocked.is_err(), "the refused client connected");
        let storage = S3Storage::connect(&target(false));
        let call = tokio::spawn(async move { storage.delete("probe").await });
        let knocked = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
        call.abort();
        assert!(knocked.is_ok(), "the allowed client did not connect");
    }

    #[test]
    fn a_misspelt_or_repeated_parameter_is_named() {
        let e = parsed("s3://b?endpiont=http://127.0.0.1:9000").err().unwrap();
        assert!(e.contains(r#"unknown parameter "endpiont""#), "{e}");
        assert!(e.contains("public_endpoint"), "{e}");
        let e = parsed("s3://b?region=a&region=b").err().unwrap();
        assert!(e.contains(r#""region" twice"#), "{e}");
    }

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        for bad in ["minio:9000", "ftp://minio", "http://", ""] {
            let e = parsed(&format!("s3://b?endpoint=http://minio:9000&public_endpoint={bad}"))
                .err()
                .unwrap();
            assert!(e.contains("public_endpoint"), "{bad}: {e}");
        }
        assert!(parsed("s3://b?endpoint=http://minio:9000&public_endpoint=https://files.example.com").is_ok());
        assert!(parsed("s3://b").is_ok(), "Amazon S3 itself needs no endpoint");
    }

    #[tokio::test]
    async fn parameters_are_percent_decoded() {
        let storage =
            parsed("s3://b?endpoint=http%3A%2F%2Fminio%3A9000&sse=aws%3Akms&kms_key_id=alias%2Fexports").unwrap();
        let url = storage
            .signed_url("k/x.csv", "x.csv", "text/csv", DOWNLOAD_URL_TTL)
            .await
            .unwrap();
        assert!(url.starts_with("http://minio:9000/b/k/x.csv?"), "{url}");
        assert!(
            matches!(&storage.encryption, Encryption::Kms(Some(key)) if key == "alias/exports"),
            "{:?}",
            storage.encryption
        );
    }

    #[tokio::test]
    async fn download_links_are_signed_for_the_public_endpoint() {
        let storage = parsed("s3://b?endpoint=http://minio:9000&public_endpoint=https://files.example.com").unwrap();
        let url = storage
            .signed_url("k/x.csv", "x.csv", "text/csv", DOWNLOAD_URL_TTL)
            .await
            .unwrap();
        assert!(url.starts_with("https://files.example.com/b/k/x.csv?"), "{url}");
        let storage = parsed("s3://b?endpoint=http://minio:9000").unwrap();
        let url = storage
            .signed_url("k/x.csv", "x.csv", "text/csv", DOWNLOAD_URL_TTL)
            .await
            .unwrap();
        assert!(url.starts_with("http://minio:9000/b/k/x.csv?"), "{url}");
    }
}
