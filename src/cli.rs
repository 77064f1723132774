//! The `renkei` command line: `serve` (default), `migrate`, `clients …`, `openapi`.

use clap::{Args, Parser, Subcommand};

use crate::{
    auth::{ScopeSet, clients},
    config::Config,
    http::openapi,
    startup::Application,
    store, telemetry,
};

#[derive(Parser)]
#[command(
    name = "renkei",
    version,
    about = "Integration accounts, payment methods and O-PLUX fraud screening"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API (the default).
    Serve,
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Manage API clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Print the OpenAPI document (the source of openapi/openapi.json).
    Openapi,
    /// Run a local O-PLUX stand-in (v3 event registration): answers by the buyer's
    /// phone number's last digit (0 OK, 1 HOLD, 2 REVIEW, 3 NG, 8 slow, 9 HTTP 500).
    OpluxMock(OpluxMockArgs),
    /// Manage the master keys that seal stored secrets.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print a new random key, ready to put first in RENKEI_MASTER_KEY.
    Generate {
        /// The key id (letters, digits, '-', '_').
        #[arg(long, default_value_t = format!("k{}", chrono::Utc::now().format("%Y%m%d")))]
        id: String,
    },
    /// Re-seal every stored secret under the first key of RENKEI_MASTER_KEY. Servers keep
    /// serving: configure them with the new key first and the old key after it, rotate,
    /// then drop the old key.
    Rotate,
}

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Create a client; prints its id and secret once.
    Create(CreateClient),
    /// List clients (never their secrets).
    List {
        /// Only this shop's clients.
        #[arg(long)]
        shop: Option<String>,
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client: its tokens stop working at once.
    Revoke { client_id: String },
}

#[derive(Args)]
pub struct OpluxMockArgs {
    /// Address:port to listen on.
    #[arg(long, env = "RENKEI_OPLUX_MOCK_LISTEN", default_value = "127.0.0.1:18090")]
    listen: String,
    /// Accepted credentials, merchant_id:source_id:secret_key (repeatable); default: the
    /// demo shop's (demo-merchant:demo-source:demo-secret-key).
    #[arg(long = "credential")]
    credentials: Vec<String>,
    /// Milliseconds added to every answer (O-PLUX's round trip; benchmarks use 50).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of answers (0-1) that fail: half HTTP 500, half a timeout.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
}

#[derive(Args)]
pub struct CreateClient {
    /// The shop the client acts for (created when new).
    #[arg(long)]
    shop: String,
    /// Comma-separated scopes, e.g. accounts:read,screenings:write; `all` for every scope.
    #[arg(long)]
    scopes: String,
    /// A name to recognise the client by.
    #[arg(long, default_value = "api client")]
    name: String,
    /// One JSON object on stdout: {client_id, client_secret, shop, scopes}.
    #[arg(long)]
    json: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::OpluxMock(args)) = cli.command {
        // The stand-in needs no database or keys: no configuration to load.
        telemetry::init(crate::config::LogFormat::Json);
        return oplux_mock(args).await;
    }
    if let Some(Command::Keys(KeysCommand::Generate { id })) = &cli.command {
        // Neither does a new key (production refuses to load a configuration without one).
        use base64::Engine;
        let key = base64::engine::general_purpose::STANDARD.encode(crate::crypto::random_bytes::<32>());
        println!("{id}:{key}");
        return Ok(());
    }
    let config = Config::load()?;
    telemetry::init(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = store::connect(&config.database).await?;
            store::migrate(&db).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Clients(command) => run_clients(config, command).await,
        Command::OpluxMock(_) => unreachable!("handled before loading the configuration"),
        Command::Keys(KeysCommand::Generate { .. }) => unreachable!("handled before loading the configuration"),
        Command::Keys(KeysCommand::Rotate) => {
            let db = store::connect(&config.database).await?;
            store::migrate(&db).await?;
            let keys = crate::dev_keys::master_keys(&config)?;
            let report = crate::accounts::rotation::rotate(&db, &keys).await?;
            println!(
                "re-sealed {} secret(s) under key '{}' ({} changed meanwhile and were already current)",
                report.resealed,
                keys.current_id(),
                report.skipped
            );
            Ok(())
        }
        Command::Openapi => {
            print!("{}", openapi::document_json(&crate::http::document()));
            Ok(())
        }
    }
}

async fn oplux_mock(args: OpluxMockArgs) -> anyhow::Result<()> {
    use crate::standin::{MockConfig, MockCredential, MockServer};
    if !(0.0..=1.0).contains(&args.fault_rate) {
        anyhow::bail!("--fault-rate must be from 0 to 1");
    }
    let credentials = if args.credentials.is_empty() {
        vec![MockCredential::demo()]
    } else {
        args.credentials
            .iter()
            .map(|c| MockCredential::parse(c).map_err(|e| anyhow::anyhow!("--credential: {e}")))
            .collect::<anyhow::Result<_>>()?
    };
    let (mock, server) = MockServer::start(MockConfig {
        listen: args.listen,
        credentials,
        latency: std::time::Duration::from_millis(args.latency_ms),
        fault_rate: args.fault_rate,
        workers: args.workers,
    })?;
    tracing::info!(url = %mock.url(), "O-PLUX stand-in listening (POST /v3/event, GET /stats)");
    println!("renkei oplux-mock listening on {}", mock.url());
    tokio::select! {
        result = server => result?,
        _ = tokio::signal::ctrl_c() => mock.stop().await,
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    if let Some(credentials) = &app.demo_credentials {
        // Shown once, on the terminal only: never through the log.
        println!(
            "\nFirst start: created shop '{}' and an API client with every scope.\n\
             Keep these now, the secret is not shown again:\n\n  \
             client_id:     {}\n  client_secret: {}\n\n\
             Get a token:\n  curl -s -X POST http://127.0.0.1:{}/api/v1/auth/token \\\n    \
             -H 'Content-Type: application/json' \\\n    \
             -d '{{\"grant_type\":\"client_credentials\",\"client_id\":\"{}\",\"client_secret\":\"{}\"}}'\n",
            credentials.shop_id,
            credentials.client_id,
            credentials.client_secret.expose(),
            app.port(),
            credentials.client_id,
            credentials.client_secret.expose(),
        );
    }
    app.run_until_stopped().await?;
    Ok(())
}

async fn run_clients(config: Config, command: ClientsCommand) -> anyhow::Result<()> {
    let db = store::connect(&config.database).await?;
    store::migrate(&db).await?;
    match command {
        ClientsCommand::Create(args) => {
            let scopes = if args.scopes.trim() == "all" {
                ScopeSet::all()
            } else {
                ScopeSet::parse(&args.scopes).map_err(|name| {
                    anyhow::anyhow!(
                        "--scopes: '{name}' is not a scope; expected some of: {}",
                        ScopeSet::all()
                    )
                })?
            };
            let peppers = crate::startup::peppers(&config)?;
            let created = clients::create(&db, &args.shop, &args.name, scopes, clients::CLI_ACTOR, &peppers).await?;
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "client_id": created.client_id,
                        "client_secret": created.client_secret.expose(),
                        "shop": created.shop_id,
                        "scopes": created.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                    })
                );
            } else {
                println!(
                    "client_id:     {}\nclient_secret: {}\nshop:          {}\nscopes:        {}\n\nThe secret is shown only now.",
                    created.client_id,
                    created.client_secret.expose(),
                    created.shop_id,
                    created.scopes
                );
            }
        }
        ClientsCommand::List { shop, json } => {
            let list = store::clients::list(&db, shop.as_deref()).await?;
            if json {
                let items: Vec<_> = list
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "client_id": c.id, "shop": c.shop_id, "name": c.name,
                            "scopes": c.scopes.split(' ').collect::<Vec<_>>(),
                            "created_at": c.created_at, "revoked_at": c.revoked_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(items));
            } else {
                for c in list {
                    let status = c
                        .revoked_at
                        .map_or("active".to_string(), |at| format!("revoked {}", at.to_rfc3339()));
                    println!("{}\t{}\t{}\t{}\t{}", c.id, c.shop_id, status, c.scopes, c.name);
                }
            }
        }
        ClientsCommand::Revoke { client_id } => match clients::revoke(&db, &client_id, clients::CLI_ACTOR).await? {
            Some(_) => println!("client {client_id} is revoked"),
            None => anyhow::bail!("no client with id {client_id}"),
        },
    }
    Ok(())
}
