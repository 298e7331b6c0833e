//! Command line and environment. Every flag is also an `EGRESS_*` variable.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "egress",
    version,
    about = "Egress: the \"Export my data\" centre for multi-tenant SaaS products"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web UI and the JSON API, and run the worker (the default).
    Serve(ServeArgs),
    /// Run only the export worker and the cleanup schedule (to scale workers apart).
    Worker(WorkerArgs),
    /// Apply the database migrations and exit.
    Migrate,
    /// Add demo data: workspaces, users, and rows in every dataset.
    Seed(SeedArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database: `sqlite://PATH` (created when missing) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "EGRESS_DATABASE_URL",
        default_value = "sqlite://data/egress.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,
    /// Folder for the embedded defaults (SQLite file, stored objects, mail files).
    #[arg(long, env = "EGRESS_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// Log filter, in tracing's `EnvFilter` syntax.
    #[arg(
        long,
        env = "EGRESS_LOG",
        default_value = "info,sqlx=warn,tower_sessions=warn",
        global = true
    )]
    pub log: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (it is printed).
    #[arg(long, env = "EGRESS_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// The address people use to reach Egress, for links in emails.
    #[arg(long, env = "EGRESS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Mark the session cookie `Secure` (set this when serving over HTTPS).
    #[arg(long, env = "EGRESS_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
    /// Sign a user out after this many minutes without a request.
    #[arg(long, env = "EGRESS_SESSION_IDLE_MINUTES", default_value_t = 720)]
    pub session_idle_minutes: i64,
    /// Do not create the demo workspaces on first start.
    #[arg(long, env = "EGRESS_NO_DEMO", default_value_t = false)]
    pub no_demo: bool,
    /// Rows per dataset and workspace in the demo data made on first start.
    #[arg(long, env = "EGRESS_DEMO_ROWS", default_value_t = 20_000)]
    pub demo_rows: u64,
    /// Folder with the compiled site (the `pkg` folder with the wasm, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
    /// Serve only; leave the exports to `egress worker` processes.
    #[arg(long, env = "EGRESS_NO_WORKER", default_value_t = false)]
    pub no_worker: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The address people use to reach Egress, for links in emails and local downloads.
    #[arg(long, env = "EGRESS_PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub public_url: String,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

/// Where exports go and how they run; shared by `serve` and `worker`.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Object storage: `file://PATH` (default: DATA_DIR/objects) or
    /// `s3://BUCKET?endpoint=URL&region=REGION&sse=AES256|aws:kms|none`.
    #[arg(long, env = "EGRESS_STORAGE")]
    pub storage: Option<String>,
    /// S3 access key (else AWS_ACCESS_KEY_ID).
    #[arg(long, env = "EGRESS_S3_ACCESS_KEY", hide_env_values = true)]
    pub s3_access_key: Option<String>,
    /// S3 secret key (else AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "EGRESS_S3_SECRET_KEY", hide_env_values = true)]
    pub s3_secret_key: Option<String>,
    /// Secret for signing local-disk download links (default: made once, kept in DATA_DIR).
    #[arg(long, env = "EGRESS_SIGNING_SECRET", hide_env_values = true)]
    pub signing_secret: Option<String>,
    /// SMTP server: `smtp://host:port`, `smtp+starttls://user:pass@host:587` or
    /// `smtps://user:pass@host`. Without it, emails are written to DATA_DIR/mail.
    #[arg(long, env = "EGRESS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of the emails.
    #[arg(long, env = "EGRESS_MAIL_FROM", default_value = "Egress <egress@localhost>")]
    pub mail_from: String,
    /// Exports run at the same time by one process.
    #[arg(long, env = "EGRESS_WORKER_CONCURRENCY", default_value_t = 3)]
    pub worker_concurrency: usize,
    /// Hours a finished export stays downloadable.
    #[arg(long, env = "EGRESS_RETENTION_HOURS", default_value_t = 24.0)]
    pub retention_hours: f64,
    /// Attempts before an export is marked failed.
    #[arg(long, env = "EGRESS_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: i32,
    /// Seconds a claimed job is held without a heartbeat.
    #[arg(long, env = "EGRESS_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u64,
    /// Seconds before the first retry (doubling each time, with jitter).
    #[arg(long, env = "EGRESS_RETRY_BASE_SECONDS", default_value_t = 5.0)]
    pub retry_base_seconds: f64,
    /// Size of an upload part in MiB (at least 5). Two parts' worth is the export's buffer.
    #[arg(long, env = "EGRESS_PART_SIZE_MIB", default_value_t = 5)]
    pub part_size_mib: usize,
    /// Read at most this many rows a second per export, to spare a busy database (0: no limit).
    #[arg(long, env = "EGRESS_MAX_ROWS_PER_SECOND", default_value_t = 0)]
    pub max_rows_per_second: u64,
    /// Seconds between cleanup passes.
    #[arg(long, env = "EGRESS_CLEANUP_SECONDS", default_value_t = 60)]
    pub cleanup_seconds: u64,
}

impl Default for PipelineArgs {
    fn default() -> Self {
        PipelineArgs {
            storage: None,
            s3_access_key: None,
            s3_secret_key: None,
            signing_secret: None,
            smtp_url: None,
            mail_from: "Egress <egress@localhost>".into(),
            worker_concurrency: 3,
            retention_hours: 24.0,
            max_attempts: 3,
            lease_seconds: 30,
            retry_base_seconds: 5.0,
            part_size_mib: 5,
            max_rows_per_second: 0,
            cleanup_seconds: 60,
        }
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            listen: "127.0.0.1:3000".parse().expect("valid address"),
            public_url: None,
            secure_cookies: false,
            session_idle_minutes: 720,
            no_demo: false,
            demo_rows: 20_000,
            site_root: "target/site".into(),
            no_worker: false,
            pipeline: PipelineArgs::default(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Rows to add to each seeded dataset.
    #[arg(long, default_value_t = 20_000)]
    pub rows: u64,
    /// The workspace to add rows to (by name); created with an owner when missing.
    #[arg(long, default_value = "Acme Corp")]
    pub workspace: String,
    /// Datasets to seed; all of them when not given. Repeat or separate with commas.
    #[arg(long = "dataset", value_delimiter = ',')]
    pub datasets: Vec<String>,
    /// Seed for the generator: the same seed gives the same rows.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (or take an existing one) and add them to a workspace.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// The password; read from EGRESS_USER_PASSWORD when not given.
        #[arg(long, env = "EGRESS_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// Workspace name; created when no workspace has this name.
        #[arg(long)]
        workspace: String,
        #[arg(long, default_value = "member", value_parser = ["owner", "admin", "member"])]
        role: String,
    },
}
