//! The parts every Egress process builds at start: storage, mail, the progress hub, and
//! the background tasks (worker, cleanup, notification sender).

use super::config::PipelineArgs;
use crate::notify::email::{EmailChannel, Mailer};
use crate::notify::webhook::WebhookChannel;
use crate::progress::Hub;
use crate::storage::{self, DynStorage, StorageSettings};
use crate::store::DynStore;
use crate::worker::{Drain, Worker, WorkerSettings, retry::RetryPolicy};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Clone)]
pub struct Runtime {
    pub catalog: Arc<crate::catalog::Catalog>,
    pub source: crate::source::Source,
    pub storage: DynStorage,
    /// Seals and opens secrets kept in the database (`--secrets-key`).
    pub secrets: crate::storage::sealed::SealKey,
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
        let mut data = Data::load_sized(
            config.catalog.as_deref(),
            url,
            config.source_url.is_none(),
            config.db_max_connections,
        )
        .await?;
        data.source = data
            .source
            .read_parallelism(crate::source::Parallelism::from_flag(config.read_parallelism));
        Ok(data)
    }

    /// The catalog at `catalog` (the demo's without one) over the source at `source_url`
    /// (`own`: Egress's own database).
    pub async fn load(catalog: Option<&Path>, source_url: &str, own: bool) -> anyhow::Result<Data> {
        Data::load_sized(catalog, source_url, own, crate::store::DEFAULT_POOL_SIZE).await
    }

    /// `load`, with the source's pool of at most `max_connections` on Postgres.
    pub async fn load_sized(
        catalog: Option<&Path>,
        source_url: &str,
        own: bool,
        max_connections: u32,
    ) -> anyhow::Result<Data> {
        let catalog = crate::catalog::Catalog::load(catalog)?;
        let source = crate::source::Source::connect_sized(source_url, max_connections)
            .await?
            .own(own);
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

/// Tenant keys stored before they had one spelling (`07`, an upper-case UUID) take the
/// catalog's (`Catalog::canonical_tenant_key`), so a hand-off for `7` finds the workspace
/// made for `07` instead of making a second one for the same tenant. Two workspaces that
/// turn out to be one tenant are left as they are and named in the log: which one to keep
/// is the operator's call.
async fn respell_tenant_keys(store: &DynStore, catalog: &crate::catalog::Catalog) -> anyhow::Result<()> {
    for (workspace, key) in store.tenant_keys().await? {
        let Ok(canonical) = catalog.canonical_tenant_key(&key) else {
            continue;
        };
        if canonical == key {
            continue;
        }
        match store.tenant_workspace(&canonical).await? {
            Some(other) => tracing::error!(
                workspace,
                other,
                key,
                canonical,
                "two workspaces hold one tenant under two spellings of its key; keep one (egress member remove, then delete the other)"
            ),
            // Another node starting now may have respelled it first.
            None => match store.set_tenant_key(workspace, &canonical).await {
                Ok(()) => tracing::info!(workspace, key, canonical, "tenant key respelled"),
                Err(e) => tracing::warn!(workspace, key, error = %e, "tenant key not respelled"),
            },
        }
    }
    Ok(())
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
    let storage = storage::open(&StorageSettings {
        url,
        access_key: args.s3_access_key.clone(),
        secret_key: args.s3_secret_key.clone(),
        part_size: args.part_size_mib.max(5) * 1024 * 1024,
        key: args.storage_key.clone(),
        key_file: data_dir.join("storage.key"),
    })
    .await?;
    let secrets = crate::storage::sealed::load_key(
        args.secrets_key.as_deref(),
        "--secrets-key",
        &data_dir.join("secrets.key"),
    )
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    let mailer = Mailer::new(args.smtp_url.as_deref(), data_dir.join("mail"))?;
    let mail_from = args
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("--mail-from `{}`: {e}", args.mail_from))?;
    respell_tenant_keys(store, &data.catalog).await?;
    let wakeup = Arc::new(Notify::new());
    Ok(Runtime {
        catalog: data.catalog,
        source: data.source,
        storage,
        secrets,
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
    /// sender. The worker stops by the drain this returns (which has nothing to wait
    /// for without a worker).
    pub fn spawn_background(&self, store: &DynStore, args: &PipelineArgs, with_worker: bool) -> Drain {
        let drain = Drain::new(args.worker_concurrency);
        if with_worker {
            let settings = WorkerSettings {
                concurrency: args.worker_concurrency,
                lease: Duration::from_secs(args.lease_seconds.max(3)),
                poll: Duration::from_secs(2),
                max_rows_per_second: args.max_rows_per_second,
                retention: Duration::from_secs_f64(args.retention_hours.max(0.0) * 3600.0),
                max_retention: Duration::from_secs_f64(args.max_retention_hours.max(0.0) * 3600.0),
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
                drain: drain.clone(),
            }
            .spawn();
        }
        if args.schedule_seconds > 0 {
            crate::schedules::runner::Scheduler {
                store: store.clone(),
                catalog: self.catalog.clone(),
                max_attempts: args.max_attempts,
                wakeup: self.wakeup.clone(),
            }
            .spawn(Duration::from_secs(args.schedule_seconds));
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
                allow_private: args.allow_private_targets,
                backoff,
            }),
            Arc::new(crate::notify::delivery::DeliveryChannel {
                store: store.clone(),
                catalog: self.catalog.clone(),
                storage: self.storage.clone(),
                secrets: self.secrets.clone(),
                allow_private: args.allow_private_targets,
            }),
        ];
        crate::notify::spawn_sender(store.clone(), channels, self.notify_wakeup.clone(), interval);
        drain
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "egress".into())
}
