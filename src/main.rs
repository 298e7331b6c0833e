//! The `egress` binary: `serve` (default), `worker`, `migrate`, `seed`, `user add`,
//! `workspace add`, `catalog check`.

use clap::Parser;
use egress::accounts::Role;
use egress::accounts::ssr::{WorkspaceChoice, hash_password};
use egress::server::config::{
    CatalogCommand, Cli, Command, Config, Demo, EMBEDDED_DATABASE, LogFormat, MemberCommand, SeedArgs, ServeArgs,
    UserCommand, WorkerArgs, WorkspaceCommand,
};
use egress::server::runtime::Data;
use egress::store::StoreError;
use egress::{seed, store};
use std::time::Instant;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    if cli.command.is_none() {
        // A bare `egress` is `egress serve`, with every serve flag and variable read.
        let args: Vec<std::ffi::OsString> = std::env::args_os().chain(["serve".into()]).collect();
        cli = Cli::parse_from(args);
    }
    // A span's end is logged with its time: an export attempt's at info level, and with
    // `--log info,egress::store=debug` each store call's inside the request or export
    // that made it.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&cli.config.log)?)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_target(false);
    match cli.config.log_format {
        LogFormat::Text => logs.init(),
        // The current span's fields flattened beside the event's own, so a shipper can
        // search every line of one export or request by its id.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match cli.command.expect("a command, `serve` by default") {
        Command::Serve(args) => serve(&cli.config, *args).await,
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
            workspace_id,
            role,
        }) => {
            let store = open_store(&cli.config).await?;
            let choice = match (&workspace, workspace_id) {
                (_, Some(id)) => WorkspaceChoice::Id(id),
                (Some(name), None) => WorkspaceChoice::Named(name),
                (None, None) => anyhow::bail!("give --workspace NAME or --workspace-id ID"),
            };
            let role = Role::parse(&role).expect("clap allows only known roles");
            let (user_id, workspace_id) =
                egress::accounts::ssr::add_user(&store, &email, &name, &password, choice, role).await?;
            println!(
                "user {email} (id {user_id}) is {} of workspace {workspace_id}",
                role.id()
            );
            Ok(())
        }
        Command::Member(MemberCommand::Remove { workspace_id, email }) => {
            let store = open_store(&cli.config).await?;
            let email = egress::accounts::ssr::normalise_email(&email);
            let user = store
                .user_by_email(&email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("--email: no user has the email {email}"))?;
            let now = chrono::Utc::now().timestamp();
            match store.remove_membership(workspace_id, user.id, now).await? {
                store::Removal::Removed => {}
                store::Removal::NotAMember => anyhow::bail!("{email} is not a member of workspace {workspace_id}"),
                store::Removal::LastOwner => anyhow::bail!(
                    "{email} is the last owner of workspace {workspace_id}: make someone else an owner first"
                ),
            }
            println!("{email} (id {}) no longer belongs to workspace {workspace_id}", user.id);
            Ok(())
        }
        Command::Workspace(WorkspaceCommand::Add { name, tenant_key }) => {
            let store = open_store(&cli.config).await?;
            anyhow::ensure!(!name.trim().is_empty(), "--name: give the workspace a name");
            anyhow::ensure!(
                !tenant_key.trim().is_empty() && tenant_key.len() <= 200,
                "--tenant-key: give the tenant's id in the source (1 to 200 characters)"
            );
            // One spelling per tenant (`07` is `7`), as the sign-in hand-off writes it.
            let catalog = egress::catalog::Catalog::load(cli.config.catalog.as_deref())?;
            let tenant_key = match catalog.canonical_tenant_key(&tenant_key) {
                Ok(key) => key,
                Err(_) if cli.config.source_url.is_none() => tenant_key.trim().to_owned(),
                Err(why) => anyhow::bail!("--tenant-key: {why}"),
            };
            let id = match store.create_tenant_workspace(name.trim(), &tenant_key).await {
                Ok(id) => id,
                Err(store::StoreError::Conflict(_)) => {
                    anyhow::bail!("another workspace already has the tenant key `{tenant_key}`")
                }
                Err(e) => return Err(e.into()),
            };
            println!("workspace `{}` (id {id}) reads the tenant `{tenant_key}`", name.trim());
            Ok(())
        }
        Command::Catalog(CatalogCommand::Check) => check_catalog(&cli.config).await,
    }
}

/// `egress catalog check`: the catalog against the live source, every problem with its fix.
async fn check_catalog(config: &Config) -> anyhow::Result<()> {
    let catalog = match egress::catalog::Catalog::load(config.catalog.as_deref()) {
        Ok(catalog) => catalog,
        Err(e) => {
            println!("{e}");
            std::process::exit(1);
        }
    };
    let url = config.source_url.as_deref().unwrap_or(&config.database_url);
    println!(
        "Checking {} dataset{} against {}",
        catalog.datasets.len(),
        if catalog.datasets.len() == 1 { "" } else { "s" },
        store::redact(url)
    );
    let source = egress::source::Source::connect(url)
        .await?
        .own(config.source_url.is_none());
    let report = egress::source::check_catalog(&source, &catalog, config.source_url.is_none()).await?;
    println!("{report}");
    if !report.is_ok() {
        std::process::exit(1);
    }
    Ok(())
}

async fn open_store(config: &Config) -> anyhow::Result<store::DynStore> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = store::connect_sized(&config.database_url, config.db_max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

async fn serve(config: &Config, mut args: ServeArgs) -> anyhow::Result<()> {
    tracing::info!(database = %store::redact(&config.database_url), "starting");
    let store = open_store(config).await?;
    // The demo (its workspaces, its printed logins, open sign-up) belongs to the embedded
    // defaults: an Egress on a real database starts empty unless asked.
    if args.demo == Demo::Auto {
        args.demo = if config.database_url == EMBEDDED_DATABASE {
            Demo::On
        } else {
            Demo::Off
        };
    }
    if store.count_workspaces().await? == 0 && args.demo == Demo::On {
        let started = Instant::now();
        println!(
            "First start: creating demo workspaces with {} rows per dataset…",
            args.demo_rows
        );
        match seed::seed_demo(&store, args.demo_rows, hash_password).await {
            Ok(()) => println!("Demo data ready in {:.1}s.", started.elapsed().as_secs_f64()),
            // Nodes of a new deployment can start together on one empty database: the first
            // to create the demo's first account seeds it (its transaction holds the email),
            // and the others find the email taken before they have written anything.
            Err(e) if matches!(e.downcast_ref(), Some(StoreError::Conflict("email"))) => {
                println!("Another node is creating the demo data.")
            }
            Err(e) => return Err(e),
        }
    }
    let args_demo = args.demo == Demo::On;
    if args.signup_open() {
        println!("Sign-up is open: anyone who reaches this server can create a workspace.");
    }
    let data = Data::open(config).await?;
    let server = egress::server::start(store.clone(), data, &config.data_dir, args).await?;
    println!();
    println!("Egress is listening on http://{}", server.addr);
    if args_demo && store.user_by_email(seed::DEMO_LOGINS[0].email).await?.is_some() {
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
    let data = Data::open(config).await?;
    let runtime =
        egress::server::runtime::build(&store, data, &args.pipeline, &config.data_dir, &args.public_url).await?;
    let drain = runtime.spawn_background(&store, &args.pipeline, true);
    if let Some(listen) = args.pipeline.metrics_listen {
        let addr = egress::server::scrape::serve_alone(listen, store.clone()).await?;
        println!("Metrics at http://{addr}/metrics");
    }
    println!(
        "Egress worker running ({} at a time); stop it with Ctrl-C or SIGTERM.",
        args.pipeline.worker_concurrency
    );
    egress::server::shutdown_signal().await;
    println!(
        "Stopping: no new exports; running ones get {} s to finish, then go back to the queue.",
        args.pipeline.drain_seconds
    );
    drain
        .run(std::time::Duration::from_secs(args.pipeline.drain_seconds))
        .await;
    Ok(())
}

async fn seed_rows(config: &Config, args: SeedArgs) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    let workspace_id = match store.workspaces_named(&args.workspace).await?.first() {
        Some(id) => *id,
        None if store.count_workspaces().await? == 0 && args.workspace == "Acme Corp" => {
            seed::seed_demo(&store, 0, hash_password).await?;
            *store
                .workspaces_named(&args.workspace)
                .await?
                .first()
                .expect("demo creates Acme Corp")
        }
        None => store.create_workspace(&args.workspace).await?,
    };
    for generator in seed::GENERATORS {
        if !args.datasets.is_empty() && !args.datasets.iter().any(|d| d == generator.table) {
            continue;
        }
        let started = Instant::now();
        seed::seed_dataset(&store, generator, workspace_id, args.rows, args.seed).await?;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "seeded {} {} in {secs:.1}s ({:.0} rows/s)",
            args.rows,
            generator.table,
            args.rows as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}
