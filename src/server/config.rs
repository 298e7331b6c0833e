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
    /// Serve the web UI and the JSON API (the default).
    Serve(ServeArgs),
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
