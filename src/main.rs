//! The `egress` binary: `serve` (default), `migrate`, `seed`, `user add`.

use clap::Parser;
use egress::server::config::{Cli, Command, Config, SeedArgs, ServeArgs, UserCommand, WorkerArgs};
use egress::{accounts::ssr::hash_password, seed, store};
use std::time::Instant;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.config.log)?)
        .with_target(false)
        .init();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(&cli.config, args).await,
        Command::Worker(args) => work(&cli.config, args).await,
        Command::Migrate => {
            open_store(&cli.config).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed(args) => seed_rows(&cli.config, args).await,
        Command::User(UserCommand::Add {
            email,
            name,
            password,
            workspace,
            role,
        }) => {
            let store = open_store(&cli.config).await?;
            let (user_id, workspace_id) =
                egress::accounts::ssr::add_user(&store, &email, &name, &password, &workspace, &role).await?;
            println!("user {email} (id {user_id}) is {role} of workspace `{workspace}` (id {workspace_id})");
            Ok(())
        }
    }
}

async fn open_store(config: &Config) -> anyhow::Result<store::DynStore> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

async fn serve(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    tracing::info!(database = %store::redact(&config.database_url), "starting");
    let store = open_store(config).await?;
    if store.count_workspaces().await? == 0 && !args.no_demo {
        let started = Instant::now();
        println!(
            "First start: creating demo workspaces with {} rows per dataset…",
            args.demo_rows
        );
        seed::seed_demo(&store, args.demo_rows, hash_password).await?;
        println!("Demo data ready in {:.1}s.", started.elapsed().as_secs_f64());
    }
    let server = egress::server::start(store.clone(), &config.data_dir, args).await?;
    println!();
    println!("Egress is listening on http://{}", server.addr);
    if store.user_by_email(seed::DEMO_LOGINS[0].email).await?.is_some() {
        for login in seed::DEMO_LOGINS {
            println!(
                "  demo login: {} / {}   ({})",
                login.email, login.password, login.workspaces
            );
        }
    }
    println!();
    server.task.await??;
    Ok(())
}

/// `egress worker`: exports and cleanup, no web server.
async fn work(config: &Config, args: WorkerArgs) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let runtime = egress::server::runtime::build(&store, &args.pipeline, &config.data_dir, &args.public_url).await?;
    runtime.spawn_background(&store, &args.pipeline, true);
    println!(
        "Egress worker running ({} at a time); stop it with Ctrl-C.",
        args.pipeline.worker_concurrency
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

async fn seed_rows(config: &Config, args: SeedArgs) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let workspace_id = match store.find_workspace_by_name(&args.workspace).await? {
        Some(id) => id,
        None if store.count_workspaces().await? == 0 && args.workspace == "Acme Corp" => {
            seed::seed_demo(&store, 0, hash_password).await?;
            store
                .find_workspace_by_name(&args.workspace)
                .await?
                .expect("demo creates Acme Corp")
        }
        None => store.create_workspace(&args.workspace).await?,
    };
    for generator in seed::GENERATORS {
        if !args.datasets.is_empty() && !args.datasets.iter().any(|d| d == generator.dataset.id) {
            continue;
        }
        let started = Instant::now();
        seed::seed_dataset(&store, generator, workspace_id, args.rows, args.seed).await?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "seeded {} {} in {secs:.1}s ({:.0} rows/s)",
            args.rows,
            generator.dataset.id,
            args.rows as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}
