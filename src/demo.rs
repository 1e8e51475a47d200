//! Demo mode: both simulators and the gateway in one process, with the seeded data set.

use std::{collections::BTreeMap, net::SocketAddr};

use secrecy::SecretString;
use url::Url;

use crate::{
    cache::CacheConfig,
    config::{
        CasebookConfig, ClientCredentialsConfig, Config, DatabaseConfig, GhlConfig, LinkingConfig,
        TenantConfig, UpstreamConfig,
    },
    graphql::loaders::LoaderConfig,
    server::{self, RunningGateway, StartError},
    sim::{
        casebook::{self, CasebookSimOptions},
        common::RunningSim,
        ghl::{self, GhlSimOptions},
        seed::{Dataset, GHL_LOCATION_ID},
    },
    store::{Backend, StoreError, redact_url},
    upstream::casebook::names::person::PREFERRED_LANGUAGE,
    writes::{WriteConfig, fields::FieldMapping},
};

/// The tenant id the demo configures.
pub const DEMO_TENANT: &str = "demo";

/// What `demo` starts.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    pub api_key: String,
    pub ghl_listen: SocketAddr,
    pub casebook_listen: SocketAddr,
    pub seed: u64,
    pub people: usize,
    pub database_url: String,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            api_key: "demo".to_string(),
            ghl_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            casebook_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed: crate::sim::seed::DEFAULT_SEED,
            people: crate::sim::seed::DEFAULT_PEOPLE,
            database_url: "sqlite::memory:".to_string(),
        }
    }
}

/// A running demo: the gateway and both simulators.
pub struct RunningDemo {
    pub gateway: RunningGateway,
    pub casebook: RunningSim,
    pub ghl: RunningSim,
    pub dataset: Dataset,
}

/// A failed demo start. The messages name the command-line options to change.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "could not start the {system} simulator on {addr}: {source}; use {option} to choose another address"
    )]
    Simulator {
        system: &'static str,
        addr: SocketAddr,
        /// The option that sets the simulator's address.
        option: &'static str,
        source: std::io::Error,
    },
    #[error("{0}; use --listen to choose another address")]
    Listen(StartError),
    /// `url` is shown without its password.
    #[error(
        "--database {url} is not a SQLite or PostgreSQL URL: use sqlite://<file>, \
         sqlite::memory: (the default) or postgres://<user>@<host>/<database>"
    )]
    InvalidDatabase { url: String },
    /// `url` is shown without its password.
    #[error(
        "could not open the database {url} given with --database: {source} (check that the \
         file's directory exists or that the database server accepts connections)"
    )]
    Database { url: String, source: sqlx::Error },
    #[error(transparent)]
    Gateway(StartError),
}

impl From<StartError> for DemoError {
    fn from(error: StartError) -> Self {
        match error {
            StartError::Listen { .. } => DemoError::Listen(error),
            StartError::Store(StoreError::Connect { url, source }) => {
                DemoError::Database { url, source }
            }
            other => DemoError::Gateway(other),
        }
    }
}

/// A one-tenant configuration against simulators at these base URLs.
pub fn config_for(casebook_url: &str, ghl_url: &str, api_key: &str, database_url: &str) -> Config {
    let tenant = TenantConfig {
        api_keys: vec![SecretString::from(api_key.to_string())],
        casebook: CasebookConfig {
            base_url: Url::parse(casebook_url).expect("simulator URL is valid"),
            token: Some(SecretString::from(casebook::DEFAULT_TOKEN.to_string())),
            client_credentials: None,
        },
        ghl: GhlConfig {
            base_url: Url::parse(ghl_url).expect("simulator URL is valid"),
            location_id: GHL_LOCATION_ID.to_string(),
            token: Some(SecretString::from(ghl::DEFAULT_TOKEN.to_string())),
        },
    };
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        graphiql: true,
        query_timeout_s: crate::config::DEFAULT_QUERY_TIMEOUT_S,
        database: DatabaseConfig {
            url: database_url.to_string(),
            ..DatabaseConfig::default()
        },
        upstream: UpstreamConfig::default(),
        linking: LinkingConfig {
            reconcile_interval_s: 0,
            ..LinkingConfig::default()
        },
        cache: CacheConfig::default(),
        loaders: LoaderConfig::default(),
        writes: WriteConfig {
            field_mapping: vec![FieldMapping {
                casebook: PREFERRED_LANGUAGE.to_string(),
                ghl_custom_field_id: ghl::LANGUAGE_FIELD_ID.to_string(),
                ghl_custom_field_key: Some(ghl::LANGUAGE_FIELD_KEY.to_string()),
            }],
            // The seeded GHL calendar, so appointments can be created without naming one.
            default_calendar_id: Some(crate::sim::seed::GHL_CALENDAR_IDS[0].to_string()),
            ..WriteConfig::default()
        },
        tenants: BTreeMap::from([(DEMO_TENANT.to_string(), tenant)]),
        ghl_oauth: None,
        token_encryption_key: None,
    }
}

/// Starts both simulators with the seeded data set, then the gateway in front of them.
pub async fn start(options: &DemoOptions) -> Result<RunningDemo, DemoError> {
    // Checked here so that the message names --database rather than database.url.
    if Backend::from_url(&options.database_url).is_err() {
        return Err(DemoError::InvalidDatabase {
            url: redact_url(&options.database_url),
        });
    }
    let dataset = Dataset::generate(options.seed, options.people);
    let casebook = casebook::start(
        options.casebook_listen,
        &dataset,
        CasebookSimOptions::default(),
    )
    .await
    .map_err(|source| DemoError::Simulator {
        system: "Casebook",
        addr: options.casebook_listen,
        option: "--casebook-listen",
        source,
    })?;
    let ghl = ghl::start(options.ghl_listen, &dataset, GhlSimOptions::default())
        .await
        .map_err(|source| DemoError::Simulator {
            system: "GHL",
            addr: options.ghl_listen,
            option: "--ghl-listen",
            source,
        })?;
    let mut config = config_for(
        &casebook.base_url,
        &ghl.base_url,
        &options.api_key,
        &options.database_url,
    );
    config.listen = options.listen;
    // The demo reaches Casebook the way a real tenant does: with an incoming application's
    // client credentials, exchanged for one-hour tokens at the simulator's token URL.
    for tenant in config.tenants.values_mut() {
        tenant.casebook.token = None;
        tenant.casebook.client_credentials = Some(ClientCredentialsConfig {
            token_url: Url::parse(&format!(
                "{}{}",
                casebook.base_url,
                casebook::oauth::TOKEN_PATH
            ))
            .expect("simulator URL is valid"),
            client_id: casebook::OAUTH_CLIENT_ID.to_string(),
            client_secret: SecretString::from(casebook::OAUTH_CLIENT_SECRET.to_string()),
            refresh_margin_s: 60,
        });
    }
    let gateway = server::Gateway::build_with_graphiql_key(&config, Some(&options.api_key)).await?;
    let gateway = server::start(gateway, config.listen).await?;
    Ok(RunningDemo {
        gateway,
        casebook,
        ghl,
        dataset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_demo() -> DemoOptions {
        DemoOptions {
            people: 10,
            ..DemoOptions::default()
        }
    }

    async fn start_error(options: &DemoOptions) -> String {
        match start(options).await {
            Ok(_) => panic!("the demo started"),
            Err(error) => error.to_string(),
        }
    }

    #[tokio::test]
    async fn busy_address_names_the_listen_option() {
        let occupied = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let options = DemoOptions {
            listen: occupied.local_addr().unwrap(),
            ..small_demo()
        };

        let error = start_error(&options).await;

        assert!(error.contains("could not listen on"), "{error}");
        assert!(
            error.contains("use --listen to choose another address"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn unsupported_database_names_the_option() {
        let options = DemoOptions {
            database_url: "mysql://gw:hunter2@127.0.0.1/gw".to_string(),
            ..small_demo()
        };

        let error = start_error(&options).await;

        assert!(error.contains("--database mysql://gw:***@"), "{error}");
        assert!(!error.contains("database.url"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[tokio::test]
    async fn unopenable_database_names_the_option() {
        let directory = tempfile::tempdir().unwrap();
        let missing = directory.path().join("missing").join("demo.db");
        let options = DemoOptions {
            database_url: format!("sqlite://{}", missing.display()),
            ..small_demo()
        };

        let error = start_error(&options).await;

        assert!(error.contains("given with --database"), "{error}");
        assert!(!error.contains("database.url"), "{error}");
    }
}
