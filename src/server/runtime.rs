//! The parts every Egress process builds at start: storage, mail, the progress hub, and
//! the background tasks (worker, cleanup, notification sender).

use super::config::PipelineArgs;
use crate::notify::email::{EmailChannel, Mailer};
use crate::notify::webhook::WebhookChannel;
use crate::progress::Hub;
use crate::storage::{self, DynStorage, LocalStorage, StorageSettings};
use crate::store::DynStore;
use crate::worker::{Worker, WorkerSettings, retry::RetryPolicy};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct Runtime {
    pub catalog: Arc<crate::catalog::Catalog>,
    pub source: crate::source::Source,
    pub storage: DynStorage,
    /// The same storage when it is the local disk, for the `/files` route.
    pub local_files: Option<Arc<LocalStorage>>,
    pub hub: Hub,
    /// Rung when a job is created, so a worker in this process starts at once.
    pub wakeup: Arc<Notify>,
    /// Rung when notifications were written (an export ended, a test call), so this
    /// process's sender sends them at once.
    pub notify_wakeup: Arc<Notify>,
    pub mailer: Arc<Mailer>,
    pub mail_from: lettre::message::Mailbox,
    pub public_url: String,
}

/// Signing keys shorter than this are refused: an HMAC key should be at least as long as
/// its hash's output.
pub const MIN_SIGNING_KEY: usize = 32;

/// The local-disk signing secret: from the flag, else made once and kept in the data dir
/// (readable by its owner only, written whole or not at all).
pub fn signing_key(args: &PipelineArgs, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = &args.signing_secret {
        anyhow::ensure!(
            secret.len() >= MIN_SIGNING_KEY,
            "--signing-secret is {} bytes; use at least {MIN_SIGNING_KEY} random bytes (e.g. `openssl rand -hex 32`)",
            secret.len()
        );
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("signing.key");
    match std::fs::read_to_string(&path) {
        Ok(existing) => {
            let key = existing.trim();
            anyhow::ensure!(
                key.len() >= MIN_SIGNING_KEY,
                "{} holds a {}-byte key; a signing key needs at least {MIN_SIGNING_KEY} bytes. Delete the file to make a new one \
                 (download links signed with the old key stop working).",
                path.display(),
                key.len()
            );
            restrict_to_owner(&path)?;
            Ok(key.as_bytes().to_vec())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
            std::fs::create_dir_all(data_dir)?;
            // A temporary file of the owner's only, renamed into place: no other user can
            // read it, and no process sees half a key.
            let mut file = tempfile::Builder::new()
                .prefix(".signing.key.")
                .permissions(owner_only())
                .tempfile_in(data_dir)?;
            std::io::Write::write_all(&mut file, secret.as_bytes())?;
            file.as_file().sync_all()?;
            match file.persist_noclobber(&path) {
                Ok(_) => Ok(secret.into_bytes()),
                // Another process made it first: use theirs.
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => signing_key(args, data_dir),
                Err(e) => Err(e.error.into()),
            }
        }
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

#[cfg(unix)]
fn owner_only() -> std::fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(0o600)
}

#[cfg(not(unix))]
fn owner_only() -> std::fs::Permissions {
    std::fs::metadata(".")
        .map(|m| m.permissions())
        .expect("the current folder")
}

/// Takes away group and other access from a key file made by an older Egress.
fn restrict_to_owner(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "the signing key was readable by others; made it owner-only");
            std::fs::set_permissions(path, owner_only())?;
        }
    }
    Ok(())
}

/// What every process reads datasets through: the catalog and the source.
#[derive(Clone)]
pub struct Data {
    pub catalog: Arc<crate::catalog::Catalog>,
    pub source: crate::source::Source,
}

impl Data {
    /// Loads the catalog (`--catalog`, else the demo's) and connects to the source
    /// (`--source-url`, else Egress's own database); refuses a catalog the source does
    /// not match, naming the first problem, and logs the warnings.
    pub async fn open(config: &super::config::Config) -> anyhow::Result<Data> {
        let url = config.source_url.as_deref().unwrap_or(&config.database_url);
        Data::load(config.catalog.as_deref(), url, config.source_url.is_none()).await
    }

    /// The catalog at `catalog` (the demo's without one) over the source at `source_url`
    /// (`own`: Egress's own database).
    pub async fn load(catalog: Option<&Path>, source_url: &str, own: bool) -> anyhow::Result<Data> {
        let catalog = crate::catalog::Catalog::load(catalog)?;
        let source = crate::source::Source::connect(source_url).await?.own(own);
        let report = crate::source::check_catalog(&source, &catalog, own).await?;
        for warning in &report.warnings {
            tracing::warn!("catalog: {warning}");
        }
        if let Some(first) = report.problems.first() {
            anyhow::bail!(
                "the catalog does not match the source: {first}{}\nRun `egress catalog check` for the whole report.",
                match report.problems.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                }
            );
        }
        Ok(Data {
            catalog: Arc::new(catalog),
            source,
        })
    }
}

pub async fn build(
    store: &DynStore,
    data: Data,
    args: &PipelineArgs,
    data_dir: &Path,
    public_url: &str,
) -> anyhow::Result<Runtime> {
    let url = args
        .storage
        .clone()
        .unwrap_or_else(|| format!("file://{}", data_dir.join("objects").display()));
    let settings = StorageSettings {
        url: url.clone(),
        access_key: args.s3_access_key.clone(),
        secret_key: args.s3_secret_key.clone(),
        signing_key: signing_key(args, data_dir)?,
        public_url: public_url.to_owned(),
    };
    let (storage, local_files): (DynStorage, _) = match url.strip_prefix("file://") {
        Some(path) => {
            let local = Arc::new(
                LocalStorage::new(PathBuf::from(path), settings.signing_key.clone(), public_url.to_owned()).await?,
            );
            (local.clone(), Some(local))
        }
        None => (storage::open(&settings).await?, None),
    };
    let mailer = Mailer::new(args.smtp_url.as_deref(), data_dir.join("mail"))?;
    let mail_from = args
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("--mail-from `{}`: {e}", args.mail_from))?;
    let wakeup = Arc::new(Notify::new());
    Ok(Runtime {
        catalog: data.catalog,
        source: data.source,
        storage,
        local_files,
        hub: Hub::connect(store, wakeup.clone()).await,
        wakeup,
        notify_wakeup: Arc::new(Notify::new()),
        mailer: Arc::new(mailer),
        mail_from,
        public_url: public_url.to_owned(),
    })
}

impl Runtime {
    /// Starts the worker (unless `with_worker` is false), cleanup and the notification
    /// sender.
    pub fn spawn_background(&self, store: &DynStore, args: &PipelineArgs, with_worker: bool) {
        if with_worker {
            let settings = WorkerSettings {
                concurrency: args.worker_concurrency,
                lease: Duration::from_secs(args.lease_seconds.max(3)),
                poll: Duration::from_secs(2),
                part_size: args.part_size_mib.max(5) * 1024 * 1024,
                max_rows_per_second: args.max_rows_per_second,
                retention: Duration::from_secs_f64(args.retention_hours.max(0.0) * 3600.0),
                retry: RetryPolicy {
                    base: Duration::from_secs_f64(args.retry_base_seconds.max(0.01)),
                    ..RetryPolicy::default()
                },
            };
            Worker {
                id: format!("{}-{}", hostname(), std::process::id()),
                store: store.clone(),
                catalog: self.catalog.clone(),
                source: self.source.clone(),
                storage: self.storage.clone(),
                hub: self.hub.clone(),
                wakeup: self.wakeup.clone(),
                notified: self.notify_wakeup.clone(),
                public_url: self.public_url.as_str().into(),
                settings,
            }
            .spawn();
        }
        crate::cleanup::spawn(
            store.clone(),
            self.storage.clone(),
            self.public_url.clone(),
            Duration::from_secs(args.cleanup_seconds.max(1)),
        );
        let backoff: Vec<Duration> = args
            .webhook_backoff_seconds
            .iter()
            .map(|s| Duration::from_secs_f64(s.max(0.0)))
            .collect();
        // The sender looks for due notifications at least as often as the first retry.
        let interval = backoff
            .first()
            .copied()
            .unwrap_or(Duration::from_secs(5))
            .clamp(Duration::from_millis(100), Duration::from_secs(5));
        let channels: Vec<Arc<dyn crate::notify::Channel>> = vec![
            Arc::new(EmailChannel {
                store: store.clone(),
                catalog: self.catalog.clone(),
                mailer: self.mailer.clone(),
                from: self.mail_from.clone(),
                public_url: self.public_url.clone(),
            }),
            Arc::new(WebhookChannel {
                store: store.clone(),
                allow_private: args.webhook_allow_private,
                backoff,
            }),
        ];
        crate::notify::spawn_sender(store.clone(), channels, self.notify_wakeup.clone(), interval);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "egress".into())
}
