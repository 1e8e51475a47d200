//! Command line of casebook-ghl-gateway.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use casebook_ghl_gateway::{
    config::Config,
    demo::{self, DemoOptions},
    graphql, server,
    sim::{self, seed::Dataset},
};

// glibc's allocator showed up as lock contention across the runtime's worker threads under
// load; mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// GraphQL gateway over Casebook and GoHighLevel: one contact history from both systems.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Start both upstream simulators with seeded data, then the gateway in front of them.
    Demo {
        /// Address of the gateway, written IP:PORT.
        #[arg(long, default_value = "127.0.0.1:4000")]
        listen: SocketAddr,
        /// API key that clients (and the preconfigured GraphiQL) send as a bearer token.
        #[arg(long, default_value = "demo")]
        api_key: String,
        /// Address of the GHL simulator; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        ghl_listen: SocketAddr,
        /// Address of the Casebook simulator; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        casebook_listen: SocketAddr,
        /// Seed of the generated data set.
        #[arg(long, default_value_t = sim::seed::DEFAULT_SEED)]
        seed: u64,
        /// Number of generated people.
        #[arg(long, default_value_t = sim::seed::DEFAULT_PEOPLE)]
        people: usize,
        /// URL of the gateway's database (sqlite://<file> or postgres://<user>@<host>/<database>);
        /// the default keeps it in memory.
        #[arg(long, default_value = "sqlite::memory:")]
        database: String,
    },
    /// Serve the gateway against the upstreams in a configuration file.
    Serve {
        /// TOML configuration file; CBG_-prefixed environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Run one upstream simulator on its own.
    Simulate {
        /// Which system to simulate.
        #[arg(value_enum)]
        system: SimulatedSystem,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Seed of the generated data set.
        #[arg(long, default_value_t = sim::seed::DEFAULT_SEED)]
        seed: u64,
        /// Number of generated people.
        #[arg(long, default_value_t = sim::seed::DEFAULT_PEOPLE)]
        people: usize,
        /// Delay added to every request, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SimulatedSystem {
    Ghl,
    Casebook,
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only go to a terminal, so log files stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Schema) {
        init_tracing(cli.log_format);
    }
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Serve { config } => {
            let config = Config::load(config.as_deref()).map_err(|e| e.to_string())?;
            let gateway = server::Gateway::build(&config)
                .await
                .map_err(|e| e.to_string())?;
            let running = server::start(gateway, config.listen)
                .await
                .map_err(|error| match error {
                    server::StartError::Listen { .. } => format!(
                        "{error}; set listen in the configuration file (or CBG_LISTEN) to choose another address"
                    ),
                    other => other.to_string(),
                })?;
            println!(
                "casebook-ghl-gateway listening on {}/graphql",
                running.base_url()
            );
            running.wait().await;
            Ok(())
        }
        Command::Demo {
            listen,
            api_key,
            ghl_listen,
            casebook_listen,
            seed,
            people,
            database,
        } => {
            if api_key.trim().is_empty() {
                return Err("--api-key is empty: pass a non-empty key".to_string());
            }
            let options = DemoOptions {
                listen,
                api_key: api_key.clone(),
                ghl_listen,
                casebook_listen,
                seed,
                people,
                database_url: database,
            };
            let running = demo::start(&options).await.map_err(|e| e.to_string())?;
            let url = running.gateway.base_url();
            println!("casebook-ghl-gateway demo is running.");
            println!("  GraphiQL:           {url}/graphql  (sends the API key for you)");
            println!("  API key:            {api_key}");
            println!("  GHL simulator:      {}", running.ghl.base_url);
            println!("  Casebook simulator: {}", running.casebook.base_url);
            println!(
                "  GHL calendars:      {} (the default for createAppointment), {}",
                sim::seed::GHL_CALENDAR_IDS[0],
                sim::seed::GHL_CALENDAR_IDS[1]
            );
            println!("Try:");
            println!(
                "  curl -s {url}/graphql -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' \\\n    -d '{{\"query\":\"{{ contacts(first: 3) {{ totalCount edges {{ node {{ displayName casebook {{ id }} ghl {{ id }} }} }} }} }}\"}}'"
            );
            println!("Press Ctrl-C to stop.");
            running.gateway.wait().await;
            running.ghl.shutdown().await;
            running.casebook.shutdown().await;
            Ok(())
        }
        Command::Simulate {
            system,
            listen,
            seed,
            people,
            latency_ms,
        } => {
            let dataset = Dataset::generate(seed, people);
            let running = match system {
                SimulatedSystem::Ghl => {
                    sim::ghl::start(listen, &dataset, sim::ghl::GhlSimOptions::default()).await
                }
                SimulatedSystem::Casebook => {
                    sim::casebook::start(
                        listen,
                        &dataset,
                        sim::casebook::CasebookSimOptions::default(),
                    )
                    .await
                }
            }
            .map_err(|e| format!("could not start the simulator on {listen}: {e}"))?;
            running
                .control
                .set_latency(std::time::Duration::from_millis(latency_ms));
            let (token, client_id, client_secret, token_path) = match system {
                SimulatedSystem::Ghl => (
                    sim::ghl::DEFAULT_TOKEN,
                    sim::ghl::OAUTH_CLIENT_ID,
                    sim::ghl::OAUTH_CLIENT_SECRET,
                    sim::ghl::oauth::TOKEN_PATH,
                ),
                SimulatedSystem::Casebook => (
                    sim::casebook::DEFAULT_TOKEN,
                    sim::casebook::OAUTH_CLIENT_ID,
                    sim::casebook::OAUTH_CLIENT_SECRET,
                    sim::casebook::oauth::TOKEN_PATH,
                ),
            };
            println!("simulator listening on {}", running.base_url);
            println!("  bearer token: {token}");
            println!("  OAuth client: {client_id} (secret {client_secret})");
            println!("  token URL:    {}{token_path}", running.base_url);
            if matches!(system, SimulatedSystem::Ghl) {
                println!("  location id:  {}", sim::seed::GHL_LOCATION_ID);
                println!(
                    "  chooser URL:  {}{}?response_type=code&client_id={}&redirect_uri=<callback URL>",
                    running.base_url,
                    sim::ghl::oauth::CHOOSER_PATH,
                    sim::ghl::OAUTH_CLIENT_ID
                );
            }
            println!("  stats:        {}/_sim/stats", running.base_url);
            let _ = tokio::signal::ctrl_c().await;
            running.shutdown().await;
            Ok(())
        }
    }
}
