//! Command line and environment. Every flag is also an `EGRESS_*` variable.

use clap::{Args, Parser, Subcommand, ValueEnum};
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
    Serve(Box<ServeArgs>),
    /// Run only the export worker and the cleanup schedule (to scale workers apart).
    Worker(WorkerArgs),
    /// Apply the database migrations and exit.
    Migrate,
    /// Add demo data: workspaces, users, and rows in every dataset.
    Seed(SeedArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Manage the people of a workspace.
    #[command(subcommand)]
    Member(MemberCommand),
    /// The catalog of datasets.
    #[command(subcommand)]
    Catalog(CatalogCommand),
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace whose rows carry `tenant_key` in the source.
    Add {
        #[arg(long)]
        name: String,
        /// The tenant's id in the source (the value of the datasets' tenant column).
        #[arg(long)]
        tenant_key: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Take a person out of a workspace: their membership goes, the API tokens they made
    /// there are revoked, and their sessions and progress streams lose the workspace
    /// within seconds (signed out when no workspace is left to them).
    Remove {
        /// The workspace's id.
        #[arg(long)]
        workspace_id: i64,
        /// The person's email.
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Check the catalog against the live source and print what to fix.
    Check,
}

/// The database URL of the embedded defaults.
pub const EMBEDDED_DATABASE: &str = "sqlite://data/egress.db";

/// Debug output never shows a secret: the database URL's password is masked.
#[derive(Clone, Args)]
pub struct Config {
    /// Database: `sqlite://PATH` (created when missing) or `postgres://USER:PASSWORD@HOST/DB`.
    #[arg(
        long,
        env = "EGRESS_DATABASE_URL",
        default_value = EMBEDDED_DATABASE,
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,
    /// Folder for the embedded defaults (SQLite file, stored objects, mail files).
    #[arg(long, env = "EGRESS_DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
    /// The catalog of datasets (TOML). Default: the demo's, over Egress's own demo tables.
    #[arg(long, env = "EGRESS_CATALOG", global = true)]
    pub catalog: Option<PathBuf>,
    /// The database datasets are read from (`postgres://…` with a read-only role, a
    /// replica is fine; or `sqlite://PATH`). Default: the database URL.
    #[arg(long, env = "EGRESS_SOURCE_URL", global = true, hide_env_values = true)]
    pub source_url: Option<String>,
    /// How many connections read one export at once on Postgres, each a contiguous part
    /// of the rows in the same snapshot (CSV, JSON, NDJSON, Parquet). 0 picks by the export's size
    /// (a second reader from 500,000 rows). More pays only where the database host has
    /// cores to spare; where Egress, the database and storage share two cores (the bench),
    /// one reader measured faster, so one is the default.
    #[arg(long, env = "EGRESS_READ_PARALLELISM", default_value_t = 1, global = true)]
    pub read_parallelism: usize,
    /// Connections each pool of this process may open on Postgres (one for Egress's
    /// database, one for the source): keep processes × 2 × this under the server's
    /// `max_connections`.
    #[arg(long, env = "EGRESS_DB_MAX_CONNECTIONS", default_value_t = crate::store::DEFAULT_POOL_SIZE, global = true)]
    pub db_max_connections: u32,
    /// Log filter, in tracing's `EnvFilter` syntax.
    #[arg(
        long,
        env = "EGRESS_LOG",
        default_value = "info,sqlx=warn,tower_sessions=warn",
        global = true
    )]
    pub log: String,
    /// `text` for people, `json` (one object a line, with the spans' fields: the request
    /// id, the export's job, workspace, dataset, format and attempt) for log shippers.
    #[arg(long, env = "EGRESS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (it is printed).
    #[arg(long, env = "EGRESS_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// The address people use to reach Egress, for links in emails.
    #[arg(long, env = "EGRESS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Mark the session cookie `Secure` and send HSTS (set this when serving over HTTPS).
    #[arg(long, env = "EGRESS_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
    /// Sign a user out after this many minutes without a request.
    #[arg(long, env = "EGRESS_SESSION_IDLE_MINUTES", default_value_t = 720)]
    pub session_idle_minutes: i64,
    /// Sign a user out this many hours after they signed in, however active.
    #[arg(long, env = "EGRESS_SESSION_MAX_HOURS", default_value_t = 168)]
    pub session_max_hours: i64,
    /// Demo workspaces, users and rows on first start: `auto` makes them only on the
    /// embedded defaults (no --database-url).
    #[arg(long, env = "EGRESS_DEMO", value_enum, default_value_t = Demo::Auto)]
    pub demo: Demo,
    /// Whether visitors may create their own workspace. Default: open on the demo,
    /// closed otherwise.
    #[arg(long, env = "EGRESS_SIGNUP", value_enum)]
    pub signup: Option<Signup>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// How people sign in: with an Egress password, from the host product (JWT), or both.
    #[arg(long, env = "EGRESS_AUTH", value_enum, default_value_t = AuthMode::Both)]
    pub auth: AuthMode,
    /// The HS256 secret the host product signs sign-in tokens with (32+ bytes).
    #[arg(long, env = "EGRESS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Serve Prometheus metrics at `/metrics` on the main port to requests that carry
    /// `Authorization: Bearer <this>` (without it, `/metrics` is not there; see also
    /// `--metrics-listen`).
    #[arg(long, env = "EGRESS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Or the host's public key (PEM, RSA for RS256 or Ed25519 for EdDSA).
    #[arg(long, env = "EGRESS_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Option<PathBuf>,
    /// The audience (`aud`) sign-in tokens must name.
    #[arg(long, env = "EGRESS_JWT_AUDIENCE", default_value = "egress")]
    pub jwt_audience: String,
    /// The issuer (`iss`) sign-in tokens must name, if any.
    #[arg(long, env = "EGRESS_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The longest a sign-in token may be valid for, in seconds.
    #[arg(long, env = "EGRESS_JWT_MAX_AGE_SECONDS", default_value_t = 300)]
    pub jwt_max_age_seconds: u64,
    /// Let a hand-off for a person Egress does not know yet take over the Egress account
    /// that has the token's email (one made with a password, not yet linked to the host).
    /// RISK: whoever can make the host sign a token with an email — in many products any
    /// tenant's admin can invite a user under an unverified address — then becomes that
    /// Egress user, in every workspace the hand-offs name. Turn it on only when the host
    /// verifies every email it signs. Off, such a hand-off is refused (409).
    #[arg(long, env = "EGRESS_JWT_LINK_BY_EMAIL")]
    pub jwt_link_by_email: bool,
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

/// What the web front door allows before it refuses: sign-in attempts, streams,
/// slow clients. Every limit answers with a clear message (and `Retry-After` where a
/// wait helps).
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Failed sign-ins per account in the window before it must wait.
    #[arg(long, env = "EGRESS_LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10)]
    pub login_failures_per_account: i64,
    /// Failed sign-ins per client address in the window before it must wait.
    #[arg(long, env = "EGRESS_LOGIN_FAILURES_PER_ADDRESS", default_value_t = 50)]
    pub login_failures_per_address: i64,
    /// The sign-in throttle's window, in minutes.
    #[arg(long, env = "EGRESS_LOGIN_WINDOW_MINUTES", default_value_t = 15)]
    pub login_window_minutes: u64,
    /// Password hashes computed at once (default: one per CPU). Each takes ~19 MiB.
    #[arg(long, env = "EGRESS_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
    /// Sign-ins that may wait for a hashing slot; more are told to come back.
    #[arg(long, env = "EGRESS_HASH_QUEUE", default_value_t = 32)]
    pub hash_queue: usize,
    /// Progress streams (SSE) one session may hold open.
    #[arg(long, env = "EGRESS_MAX_STREAMS_PER_SESSION", default_value_t = 8)]
    pub max_streams_per_session: usize,
    /// Progress streams one node holds open in all.
    #[arg(long, env = "EGRESS_MAX_STREAMS", default_value_t = 5000)]
    pub max_streams: usize,
    /// Seconds a client has to send a request's headers.
    #[arg(long, env = "EGRESS_HEADER_TIMEOUT_SECONDS", default_value_t = 10)]
    pub header_timeout_seconds: u64,
    /// Seconds a request may take to be answered (streams excepted once they start).
    #[arg(long, env = "EGRESS_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,
    /// Proxies in front of Egress whose `X-Forwarded-For` entry to trust (0: use the
    /// connection's address; 1: the address the nearest proxy saw).
    #[arg(long, env = "EGRESS_TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: usize,
}

impl Default for LimitArgs {
    fn default() -> Self {
        LimitArgs {
            login_failures_per_account: 10,
            login_failures_per_address: 50,
            login_window_minutes: 15,
            hash_concurrency: None,
            hash_queue: 32,
            max_streams_per_session: 8,
            max_streams: 5000,
            header_timeout_seconds: 10,
            request_timeout_seconds: 30,
            trusted_proxy_hops: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Demo {
    Auto,
    On,
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    Password,
    Jwt,
    Both,
}

impl AuthMode {
    pub fn password(self) -> bool {
        self != AuthMode::Jwt
    }
    pub fn jwt(self) -> bool {
        self != AuthMode::Password
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Signup {
    Open,
    Closed,
}

impl ServeArgs {
    /// Sign-up is open when asked for, else on the demo only; never without passwords.
    pub fn signup_open(&self) -> bool {
        self.auth.password()
            && match self.signup {
                Some(mode) => mode == Signup::Open,
                None => self.demo == Demo::On,
            }
    }
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The address people use to reach Egress, for links in emails and local downloads.
    #[arg(long, env = "EGRESS_PUBLIC_URL", default_value = "http://127.0.0.1:3000")]
    pub public_url: String,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &crate::store::redact(&self.database_url))
            .field("source_url", &self.source_url.as_deref().map(crate::store::redact))
            .field("read_parallelism", &self.read_parallelism)
            .field("db_max_connections", &self.db_max_connections)
            .field("data_dir", &self.data_dir)
            .field("catalog", &self.catalog)
            .field("log", &self.log)
            .field("log_format", &self.log_format)
            .finish()
    }
}

/// Where exports go and how they run; shared by `serve` and `worker`. Its Debug output
/// masks the keys and the SMTP password.
#[derive(Clone, Args)]
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
    /// The key that seals files at rest on the local disk: base64 of 32 random bytes
    /// (`openssl rand -base64 32`). Default: one made once and kept in DATA_DIR/storage.key.
    #[arg(long, env = "EGRESS_STORAGE_KEY", hide_env_values = true)]
    pub storage_key: Option<String>,
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
    /// The most hours a workspace's admins may keep files (their retention setting).
    #[arg(long, env = "EGRESS_MAX_RETENTION_HOURS", default_value_t = 720.0)]
    pub max_retention_hours: f64,
    /// Attempts before an export is marked failed.
    #[arg(long, env = "EGRESS_MAX_ATTEMPTS", default_value_t = 3)]
    pub max_attempts: i32,
    /// Seconds a claimed job is held without a heartbeat.
    #[arg(long, env = "EGRESS_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u64,
    /// Seconds before the first retry (doubling each time, with jitter).
    #[arg(long, env = "EGRESS_RETRY_BASE_SECONDS", default_value_t = 5.0)]
    pub retry_base_seconds: f64,
    /// On SIGTERM or Ctrl-C: seconds the running exports get to finish, after the node
    /// stops claiming; those still running then go back to the queue at once (the
    /// attempt not counted) for another node.
    #[arg(long, env = "EGRESS_DRAIN_SECONDS", default_value_t = 20)]
    pub drain_seconds: u64,
    /// Serve Prometheus metrics at `/metrics` on this address too, without a token (an
    /// address only the scraper reaches); the way to scrape an `egress worker`.
    #[arg(long, env = "EGRESS_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Size of an upload part in MiB (at least 5). Two parts' worth is the export's buffer.
    #[arg(long, env = "EGRESS_PART_SIZE_MIB", default_value_t = 5)]
    pub part_size_mib: usize,
    /// Read at most this many rows a second per export, to spare a busy database (0: no limit).
    #[arg(long, env = "EGRESS_MAX_ROWS_PER_SECOND", default_value_t = 0)]
    pub max_rows_per_second: u64,
    /// Seconds between cleanup passes.
    #[arg(long, env = "EGRESS_CLEANUP_SECONDS", default_value_t = 60)]
    pub cleanup_seconds: u64,
    /// Seconds between looks for due schedules (0: this process fires none).
    #[arg(long, env = "EGRESS_SCHEDULE_SECONDS", default_value_t = 15)]
    pub schedule_seconds: u64,
    /// Let webhooks and delivery destinations reach loopback and private addresses
    /// (endpoints and buckets inside your network).
    #[arg(long, alias = "webhook-allow-private", env = "EGRESS_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,
    /// The key that seals secrets kept in the database (destinations' credentials): base64
    /// of 32 random bytes. Default: one made once and kept in DATA_DIR/secrets.key; give
    /// every node the same key when there are several.
    #[arg(long, env = "EGRESS_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,
    /// The waits between tries of a webhook call, in seconds; after the last it is given
    /// up. The default is Standard Webhooks' schedule, about 27 hours in all.
    #[arg(
        long,
        env = "EGRESS_WEBHOOK_BACKOFF_SECONDS",
        value_delimiter = ',',
        default_value = "5,300,1800,7200,18000,36000,36000"
    )]
    pub webhook_backoff_seconds: Vec<f64>,
}

impl std::fmt::Debug for PipelineArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |v: &Option<String>| v.as_ref().map(|_| "***");
        f.debug_struct("PipelineArgs")
            .field("storage", &self.storage.as_deref().map(crate::store::redact))
            .field("s3_access_key", &masked(&self.s3_access_key))
            .field("s3_secret_key", &masked(&self.s3_secret_key))
            .field("storage_key", &masked(&self.storage_key))
            .field("secrets_key", &masked(&self.secrets_key))
            .field("smtp_url", &self.smtp_url.as_deref().map(crate::store::redact))
            .field("mail_from", &self.mail_from)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("retention_hours", &self.retention_hours)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl Default for PipelineArgs {
    fn default() -> Self {
        PipelineArgs {
            storage: None,
            s3_access_key: None,
            s3_secret_key: None,
            storage_key: None,
            smtp_url: None,
            mail_from: "Egress <egress@localhost>".into(),
            worker_concurrency: 3,
            retention_hours: 24.0,
            max_retention_hours: 720.0,
            max_attempts: 3,
            lease_seconds: 30,
            retry_base_seconds: 5.0,
            drain_seconds: 20,
            metrics_listen: None,
            part_size_mib: 5,
            max_rows_per_second: 0,
            cleanup_seconds: 60,
            schedule_seconds: 15,
            allow_private_targets: false,
            secrets_key: None,
            webhook_backoff_seconds: crate::notify::webhook::BACKOFF
                .iter()
                .map(|d| d.as_secs_f64())
                .collect(),
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
            session_max_hours: 168,
            demo: Demo::Auto,
            signup: None,
            limits: LimitArgs::default(),
            auth: AuthMode::Both,
            jwt_secret: None,
            metrics_token: None,
            jwt_public_key: None,
            jwt_audience: "egress".into(),
            jwt_issuer: None,
            jwt_max_age_seconds: 300,
            jwt_link_by_email: false,
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
        /// Workspace name; created when no workspace has this name, refused when several do.
        #[arg(long, required_unless_present = "workspace_id", conflicts_with = "workspace_id")]
        workspace: Option<String>,
        /// Workspace id, for a name that several workspaces share.
        #[arg(long)]
        workspace_id: Option<i64>,
        #[arg(long, default_value = "member", value_parser = ["owner", "admin", "member"])]
        role: String,
    },
}

/// The container image and the example deployment (`Dockerfile`, `deploy/`) name flags and
/// variables of this file: they are checked here, so a renamed flag cannot leave them
/// behind.
#[cfg(test)]
mod deploy_files {
    use super::Cli;
    use clap::{CommandFactory, Parser};

    const COMPOSE: &str = include_str!("../../deploy/compose.yaml");
    const EXAMPLE_ENV: &str = include_str!("../../deploy/example.env");
    const DOCKERFILE: &str = include_str!("../../Dockerfile");

    /// Every variable any command reads.
    fn variables(command: &clap::Command, into: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(env) = arg.get_env() {
                into.push(env.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            variables(sub, into);
        }
    }

    #[test]
    fn every_variable_they_set_is_one_egress_reads() {
        let mut known = Vec::new();
        variables(&Cli::command(), &mut known);
        // The image's own stage; the build stage sets the bootstrap's variables.
        let runtime = DOCKERFILE.rsplit("\nFROM ").next().unwrap();
        for (file, text) in [
            ("compose.yaml", COMPOSE),
            ("example.env", EXAMPLE_ENV),
            ("Dockerfile", runtime),
        ] {
            let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            for name in words.filter(|w| w.starts_with("EGRESS_") || w.starts_with("LEPTOS_")) {
                assert!(
                    known.iter().any(|k| k == name),
                    "{file} names {name}, which no flag reads"
                );
            }
        }
    }

    /// `command: [...]` of the services built from the image (`<<: *egress`).
    fn egress_commands() -> Vec<Vec<String>> {
        let services = COMPOSE.split("\nservices:\n").nth(1).expect("a services section");
        let mut blocks: Vec<String> = Vec::new();
        for line in services.lines() {
            let top_level = line.starts_with("  ") && !line.starts_with("   ") && !line.trim_start().starts_with('#');
            if top_level || blocks.is_empty() {
                blocks.push(String::new());
            }
            if !line.is_empty() && !line.starts_with(' ') {
                break; // the next top-level section
            }
            blocks.last_mut().unwrap().push_str(line);
            blocks.last_mut().unwrap().push('\n');
        }
        blocks
            .iter()
            .filter(|b| b.contains("<<: *egress\n"))
            .filter_map(|b| b.lines().find_map(|l| l.trim().strip_prefix("command: ")))
            .map(|array| serde_json::from_str(array).expect("a command is a JSON-style array"))
            .collect()
    }

    #[test]
    fn every_command_they_run_parses() {
        let commands = egress_commands();
        assert_eq!(commands.len(), 4, "migrate, two web nodes, the worker: {commands:?}");
        let cmd = DOCKERFILE
            .lines()
            .find_map(|l| l.strip_prefix("CMD "))
            .expect("the Dockerfile has a CMD");
        let default: Vec<String> = serde_json::from_str(cmd).unwrap();
        for args in commands.iter().chain([&default]) {
            let argv = std::iter::once("egress".to_owned()).chain(args.iter().cloned());
            if let Err(e) = Cli::try_parse_from(argv) {
                panic!("{args:?} does not parse: {e}");
            }
        }
        assert!(
            DOCKERFILE.contains("ENTRYPOINT [\"egress\"]"),
            "the commands above are the binary's arguments"
        );
    }
}
