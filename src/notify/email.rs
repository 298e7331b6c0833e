//! The email channel: one enum over lettre's transports — SMTP (plain, STARTTLS or TLS)
//! or `.eml` files in a folder (the default) — and the emails an export sends: ready, or
//! failed. A failed send is tried again later; it never changes the export.

use super::{Channel, Delivery};
use crate::catalog::Catalog;
use crate::store::outbox::{Next, OutboxItem};
use crate::store::query::Query;
use crate::store::{DynStore, JobRecord, Store, jobs};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("bad SMTP URL: {0}")]
    Config(String),
    #[error("could not build the email: {0}")]
    Build(String),
    #[error("sending failed: {0}")]
    Send(String),
}

impl Mailer {
    /// `smtp://[user:pass@]host[:port]` (no TLS), `smtp+starttls://…` or `smtps://…`;
    /// without a URL, emails are written to `mail_dir`.
    pub fn new(smtp_url: Option<&str>, mail_dir: PathBuf) -> Result<Mailer, MailError> {
        let Some(url) = smtp_url else {
            std::fs::create_dir_all(&mail_dir).map_err(|e| MailError::Config(e.to_string()))?;
            return Ok(Mailer::Files(AsyncFileTransport::new(mail_dir)));
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| MailError::Config("expected scheme://host".into()))?;
        let (userinfo, hostport) = match rest.trim_end_matches('/').rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest.trim_end_matches('/')),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| MailError::Config(format!("bad port `{p}`")))?,
                ),
            ),
            None => (hostport, None),
        };
        let builder = match scheme {
            "smtp" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            "smtp+starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| MailError::Config(e.to_string()))?,
            "smtps" => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(|e| MailError::Config(e.to_string()))?
            }
            other => {
                return Err(MailError::Config(format!(
                    "unknown scheme `{other}` (smtp, smtp+starttls, smtps)"
                )));
            }
        };
        let mut builder = builder.timeout(Some(Duration::from_secs(10)));
        if let Some(port) = port {
            builder = builder.port(port);
        }
        if let Some((user, pass)) = userinfo.and_then(|u| u.split_once(':')) {
            builder = builder.credentials(Credentials::new(user.to_owned(), pass.to_owned()));
        }
        Ok(Mailer::Smtp(builder.build()))
    }

    pub async fn send(&self, message: Message) -> Result<(), MailError> {
        match self {
            Mailer::Smtp(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Send(e.to_string())),
            Mailer::Files(t) => t
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Send(e.to_string())),
        }
    }
}

use crate::text::html_escape as escape;

/// The dataset's name as people read it (its id, when the catalog no longer has it).
fn dataset_label(catalog: &Catalog, record: &JobRecord) -> String {
    crate::exports::dataset_label(catalog, &record.job.dataset, record.job.archive_subject().is_some())
}

/// The "your export is ready" email for a completed job.
pub fn ready_email(
    catalog: &Catalog,
    record: &JobRecord,
    from: &Mailbox,
    public_url: &str,
) -> Result<Message, MailError> {
    let job = &record.job;
    let label = dataset_label(catalog, record);
    let link = format!("{}/exports/{}/download", public_url.trim_end_matches('/'), job.id);
    let rows = job.total_rows.unwrap_or(job.processed_rows);
    let size = crate::text::human_size(job.bytes.unwrap_or(0));
    let expires = job
        .expires_at
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let name = job.file_name.clone().unwrap_or_default();
    let text = format!(
        "Your export of {label} is ready.\n\nFile: {name}\nRows: {rows}\nSize: {size}\nAvailable until: {expires}\n\n\
         Download it here (you may be asked to log in):\n{link}\n"
    );
    let html = format!(
        "<p>Your export of <strong>{}</strong> is ready.</p>\
         <table><tr><td>File</td><td>{}</td></tr><tr><td>Rows</td><td>{rows}</td></tr>\
         <tr><td>Size</td><td>{size}</td></tr><tr><td>Available until</td><td>{expires}</td></tr></table>\
         <p><a href=\"{}\">Download the file</a> (you may be asked to log in).</p>",
        escape(&label),
        escape(&name),
        escape(&link)
    );
    message(record, from, format!("Your {label} export is ready"), text, html)
}

/// The "export failed" email.
pub fn failed_email(
    catalog: &Catalog,
    record: &JobRecord,
    from: &Mailbox,
    public_url: &str,
) -> Result<Message, MailError> {
    let job = &record.job;
    let label = dataset_label(catalog, record);
    let link = super::export_page(public_url, &job.id);
    let reason = job.error.clone().unwrap_or_else(|| "It stopped.".to_owned());
    let text = format!(
        "Your export of {label} failed.\n\n{reason}\n\nSee it, and run it again, here (you may be asked to log in):\n{link}\n"
    );
    let html = format!(
        "<p>Your export of <strong>{}</strong> failed.</p><p>{}</p>\
         <p><a href=\"{}\">See it, and run it again</a> (you may be asked to log in).</p>",
        escape(&label),
        escape(&reason),
        escape(&link)
    );
    message(record, from, format!("Your {label} export failed"), text, html)
}

fn message(
    record: &JobRecord,
    from: &Mailbox,
    subject: String,
    text: String,
    html: String,
) -> Result<Message, MailError> {
    let to: Mailbox = record
        .user_email
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| MailError::Build(e.to_string()))
}

/// Emails to the person who started an export: ready, or failed.
pub struct EmailChannel {
    pub store: DynStore,
    pub catalog: Arc<Catalog>,
    pub mailer: Arc<Mailer>,
    pub from: Mailbox,
    pub public_url: String,
}

/// 30 s, then doubling to about eight hours: ten tries over about 17 hours.
const BACKOFF: &[Duration] = &[
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(120),
    Duration::from_secs(240),
    Duration::from_secs(480),
    Duration::from_secs(960),
    Duration::from_secs(1920),
    Duration::from_secs(3840),
    Duration::from_secs(7680),
    Duration::from_secs(30720),
];

#[async_trait::async_trait]
impl Channel for EmailChannel {
    fn id(&self) -> &'static str {
        "email"
    }

    fn backoff(&self) -> &[Duration] {
        BACKOFF
    }

    async fn deliver(&self, item: &OutboxItem) -> Delivery {
        let Some(job) = item.job_id else {
            return Delivery::refused("an export email without an export");
        };
        let record = match jobs::get(self.store.as_ref(), None, job).await {
            Ok(Some(record)) => record,
            Ok(None) => return Delivery::refused("the export is gone"),
            Err(e) => return Delivery::failed(None, e.to_string()),
        };
        let built = match super::Event::parse(&item.event) {
            Some(super::Event::Completed) => ready_email(&self.catalog, &record, &self.from, &self.public_url),
            Some(super::Event::Failed) => failed_email(&self.catalog, &record, &self.from, &self.public_url),
            _ => return Delivery::refused(format!("no email for {}", item.event)),
        };
        match built {
            Ok(message) => match self.mailer.send(message).await {
                Ok(()) => Delivery::ok(None),
                Err(e) => Delivery::failed(None, e.to_string()),
            },
            Err(e) => Delivery::refused(e.to_string()),
        }
    }

    fn audit(&self, store: &dyn Store, item: &OutboxItem, delivery: &Delivery, _next: Next) -> Vec<Query> {
        let Some(job) = item.job_id else {
            return Vec::new();
        };
        let kind = if delivery.ok { "emailed" } else { "email_failed" };
        vec![jobs::event(store, job, kind, None, delivery.error.as_deref())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The SMTP transport's pool needs a runtime, even unused.
    #[tokio::test]
    async fn smtp_urls_are_understood() {
        assert!(matches!(
            Mailer::new(Some("smtp://127.0.0.1:2525"), "/tmp".into()),
            Ok(Mailer::Smtp(_))
        ));
        assert!(matches!(
            Mailer::new(Some("smtp+starttls://u:p@mail.example:587"), "/tmp".into()),
            Ok(Mailer::Smtp(_))
        ));
        assert!(Mailer::new(Some("http://x"), "/tmp".into()).is_err());
        assert!(Mailer::new(Some("smtp://host:notaport"), "/tmp".into()).is_err());
    }
}
