//! Email: one enum over lettre's transports — SMTP (plain, STARTTLS or TLS) or `.eml`
//! files in a folder (the default). A task sends the "your export is ready" email for
//! completed jobs; a failure is recorded and tried again later, never failing the export.

use crate::catalog::Catalog;
use crate::store::{DynStore, JobRecord, jobs};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

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

/// The "your export is ready" email for a completed job.
pub fn ready_email(
    catalog: &Catalog,
    record: &JobRecord,
    from: &Mailbox,
    public_url: &str,
) -> Result<Message, MailError> {
    let job = &record.job;
    let label = catalog
        .find(&job.dataset)
        .map_or(job.dataset.as_str(), |d| d.label.as_str());
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
        escape(label),
        escape(&name),
        escape(&link)
    );
    let to: Mailbox = record
        .user_email
        .parse()
        .map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(format!("Your {label} export is ready"))
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| MailError::Build(e.to_string()))
}

/// How long a claimed email is the claiming sender's: far longer than a send can take
/// (the SMTP transport gives up after 10 s), so no other sender takes it meanwhile.
const CLAIM: Duration = Duration::from_secs(300);

/// Sends the emails of completed exports, when woken and every `interval`. Each email is
/// claimed before it is sent (`jobs::claim_emails`), so with many nodes every export
/// sends one; a failed send is tried again after a back-off that doubles.
pub fn spawn_sender(
    store: DynStore,
    catalog: Arc<Catalog>,
    mailer: Arc<Mailer>,
    from: Mailbox,
    public_url: String,
    wakeup: Arc<Notify>,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let _ = tokio::time::timeout(interval, wakeup.notified()).await;
            let claimed = match jobs::claim_emails(store.as_ref(), chrono::Utc::now() + CLAIM, 20).await {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim export emails; will try again");
                    continue;
                }
            };
            for record in claimed {
                let sent = match ready_email(&catalog, &record, &from, &public_url) {
                    Ok(message) => mailer.send(message).await,
                    Err(e) => Err(e),
                };
                let retry_at = sent.as_ref().err().map(|e| {
                    let wait = 30u64 << record.email_attempts.clamp(0, 10);
                    tracing::warn!(job = %record.uuid, error = %e, retry_in_s = wait, "export email not sent; will try again");
                    chrono::Utc::now() + Duration::from_secs(wait)
                });
                if let Err(e) = jobs::mark_emailed(store.as_ref(), record.uuid, retry_at).await {
                    tracing::warn!(job = %record.uuid, error = %e, "could not record the email");
                }
                let detail = sent.err().map(|e| e.to_string());
                let kind = if retry_at.is_none() { "emailed" } else { "email_failed" };
                let _ = jobs::add_event(store.as_ref(), record.uuid, kind, None, detail.as_deref()).await;
            }
        }
    })
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
