//! Gateway configuration: an optional TOML file, then `CBG_`-prefixed environment variables.
//!
//! Nested keys are separated by a double underscore in the environment, so
//! `CBG_TENANTS__ACME__GHL__TOKEN` sets `tenants.acme.ghl.token`. Secrets (tokens and API
//! keys) are best given that way rather than in the file. After loading, `validate`
//! checks every value and names the key to fix.

use std::{collections::BTreeMap, net::SocketAddr, path::Path, time::Duration};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::{
    cache::CacheConfig,
    credentials::{cipher::TokenCipher, ghl_oauth::GhlOAuthConfig},
    graphql::loaders::LoaderConfig,
    identity::PhoneRegion,
    store::{Backend, is_sqlite_in_memory, testing::POSTGRES_URL_VAR},
    upstream::{
        HttpSettings,
        limits::GhlLimitsConfig,
        resilience::{BreakerConfig, RetryConfig},
    },
    writes::WriteConfig,
};

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "CBG_";

/// The whole gateway configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the GraphQL server listens on. Default `127.0.0.1:4000`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Serve GraphiQL at `GET /graphql` (the page itself; queries still need a key). Default false.
    #[serde(default)]
    pub graphiql: bool,
    /// Maximum run time of a query, in seconds. A longer query gets HTTP 504 with a
    /// `GATEWAY_TIMEOUT` error. Mutations run to the end. Default 30.
    #[serde(default = "default_query_timeout_s")]
    pub query_timeout_s: u64,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub upstream: UpstreamConfig,
    #[serde(default)]
    pub linking: LinkingConfig,
    #[serde(default)]
    pub cache: CacheConfig,
    #[serde(default)]
    pub loaders: LoaderConfig,
    #[serde(default)]
    pub writes: WriteConfig,
    /// Tenants by id: each is one GHL location plus one Casebook organisation.
    #[serde(default)]
    pub tenants: BTreeMap<String, TenantConfig>,
    /// The GHL marketplace app that tenants without a private integration token use.
    #[serde(default)]
    pub ghl_oauth: Option<GhlOAuthConfig>,
    /// Base64 of a 32-byte key that encrypts stored OAuth tokens. Set it through
    /// `CBG_TOKEN_ENCRYPTION_KEY`; it is required when a tenant uses GHL OAuth.
    #[serde(default)]
    pub token_encryption_key: Option<SecretString>,
}

/// The gateway's own database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// sqlx connection URL: `sqlite://<file>` (created if missing), `sqlite::memory:`, or
    /// `postgres://<user>:<password>@<host>/<database>` (also `postgresql://`). Default
    /// `sqlite://casebook-ghl-gateway.db`.
    pub url: String,
    /// Largest number of open connections. Default 8, or 1 for an in-memory SQLite
    /// database, which allows only 1.
    pub max_connections: Option<u32>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://casebook-ghl-gateway.db".to_string(),
            max_connections: None,
        }
    }
}

impl DatabaseConfig {
    fn validate(&self) -> Result<(), String> {
        Backend::from_url(&self.url).map_err(|error| error.to_string())?;
        match self.max_connections {
            Some(0) => Err("database.max_connections is 0: use at least 1".to_string()),
            Some(size) if size > 1 && is_sqlite_in_memory(&self.url) => Err(format!(
                "database.max_connections is {size}, but an in-memory SQLite database allows 1 \
                 connection: remove max_connections or use a SQLite file or PostgreSQL"
            )),
            _ => Ok(()),
        }
    }
}

/// Settings shared by both upstream clients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamConfig {
    /// Time allowed to open a connection, in milliseconds. Default 2000.
    pub connect_timeout_ms: u64,
    /// Time allowed for a whole upstream request, in milliseconds. Default 10000.
    pub request_timeout_ms: u64,
    /// Longest URL of a Casebook id-batch request, in characters. Default 2000.
    pub casebook_max_url_length: usize,
    /// Largest number of ids in one Casebook id-batch request. Default 100.
    pub casebook_max_ids_per_request: usize,
    /// Rate and concurrency limits of each GHL location.
    pub ghl_limits: GhlLimitsConfig,
    /// Retries of idempotent upstream requests.
    pub retry: RetryConfig,
    /// Circuit breaker per upstream and tenant.
    pub breaker: BreakerConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            connect_timeout_ms: 2_000,
            request_timeout_ms: 10_000,
            casebook_max_url_length: 2_000,
            casebook_max_ids_per_request: 100,
            ghl_limits: GhlLimitsConfig::default(),
            retry: RetryConfig::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

impl UpstreamConfig {
    /// The HTTP settings both clients are built with.
    pub fn http_settings(&self) -> HttpSettings {
        HttpSettings {
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            retry: self.retry,
            breaker: self.breaker,
            ..HttpSettings::default()
        }
    }
}

/// Automatic linking of Casebook people to GHL contacts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkingConfig {
    /// ISO 3166-1 alpha-2 region for phone numbers written without a country code. Default `US`.
    pub default_region: String,
    /// Scan both systems and link matching records before serving. Default true.
    pub reconcile_on_start: bool,
    /// Seconds between background scans; 0 turns them off. Default 900.
    pub reconcile_interval_s: u64,
}

impl Default for LinkingConfig {
    fn default() -> Self {
        LinkingConfig {
            default_region: "US".to_string(),
            reconcile_on_start: true,
            reconcile_interval_s: 900,
        }
    }
}

impl LinkingConfig {
    /// The parsed default region.
    pub fn region(&self) -> Result<PhoneRegion, ConfigError> {
        PhoneRegion::parse(&self.default_region)
            .map_err(|message| ConfigError::Invalid(format!("linking.default_region: {message}")))
    }
}

/// One tenant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// API keys that clients send as `Authorization: Bearer <key>` to act for this tenant.
    pub api_keys: Vec<SecretString>,
    pub casebook: CasebookConfig,
    pub ghl: GhlConfig,
}

/// A tenant's Casebook organisation. It authenticates with either `token` or
/// `client_credentials`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasebookConfig {
    /// API base URL, such as `https://api.casebook.net`.
    pub base_url: Url,
    /// A fixed bearer token for the API.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// OAuth 2.0 client credentials of a Casebook incoming application.
    #[serde(default)]
    pub client_credentials: Option<ClientCredentialsConfig>,
}

/// Client credentials and the token URL they are exchanged at.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientCredentialsConfig {
    /// The token URL: the application's callback URL followed by `/oauth2/token`. It is
    /// not the API base URL.
    pub token_url: Url,
    pub client_id: String,
    /// Set it through `CBG_TENANTS__<ID>__CASEBOOK__CLIENT_CREDENTIALS__CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// Seconds before expiry at which a token is replaced. Default 60.
    #[serde(default = "default_token_margin_s")]
    pub refresh_margin_s: u64,
}

fn default_token_margin_s() -> u64 {
    60
}

/// A tenant's GHL sub-account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GhlConfig {
    /// API base URL, such as `https://services.leadconnectorhq.com`. GHL's token endpoint
    /// is `/oauth/token` under it.
    pub base_url: Url,
    /// The sub-account (location) id.
    pub location_id: String,
    /// A private integration token of the location. Without it, the tenant uses the OAuth
    /// app in `[ghl_oauth]`, installed through `/oauth/ghl/install?tenant=<id>`.
    #[serde(default)]
    pub token: Option<SecretString>,
}

/// A configuration that could not be loaded or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file or environment that could not be parsed into a [`Config`], described by
    /// [`describe_load_error`].
    #[error("could not read the configuration: {0}")]
    Load(String),
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Last keys of the secrets, whose environment variable a "missing field" message names.
const SECRET_KEYS: [&str; 4] = ["client_secret", "token", "api_keys", "token_encryption_key"];

impl ConfigError {
    fn load(error: figment::Error) -> ConfigError {
        ConfigError::Load(describe_load_error(error))
    }
}

/// Formats every error of a failed extraction, one per line, as figment does, but with
/// key paths as they are written in the file: `tenants.acme`, without figment's profile
/// prefix `default.`. A missing secret also gets the environment variable that sets it.
fn describe_load_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|error| describe_one_load_error(&error))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe_one_load_error(error: &figment::Error) -> String {
    let mut text = error.kind.to_string();
    if !error.path.is_empty() {
        text.push_str(&format!(" for key \"{}\"", error.path.join(".")));
    }
    if let Some(metadata) = &error.metadata {
        match &metadata.source {
            Some(source) => text.push_str(&format!(" in {source} {}", metadata.name)),
            None => text.push_str(&format!(" in {}", metadata.name)),
        }
    }
    if let figment::error::Kind::MissingField(field) = &error.kind
        && SECRET_KEYS.contains(&field.as_ref())
    {
        let mut path: Vec<&str> = error.path.iter().map(String::as_str).collect();
        path.push(field);
        text.push_str(&format!(
            "; set it with the environment variable {}",
            environment_variable(&path)
        ));
    }
    text
}

/// Builds the name of the environment variable that sets the key at `path`, such as
/// `CBG_GHL_OAUTH__CLIENT_SECRET` for `["ghl_oauth", "client_secret"]`.
fn environment_variable(path: &[&str]) -> String {
    format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase())
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4000))
}

/// Default of `query_timeout_s`.
pub const DEFAULT_QUERY_TIMEOUT_S: u64 = 30;

fn default_query_timeout_s() -> u64 {
    DEFAULT_QUERY_TIMEOUT_S
}

impl Config {
    /// Loads `file` (when given), then the `CBG_` environment variables, then validates.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "configuration file {} does not exist: pass an existing TOML file to --config",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file(path));
        }
        // The test suites' PostgreSQL URL shares the prefix but is no configuration key.
        let test_variable = POSTGRES_URL_VAR
            .strip_prefix(ENV_PREFIX)
            .expect("the test variable starts with the prefix");
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .ignore(&[test_variable])
                .split("__"),
        );
        let config: Config = figment.extract().map_err(ConfigError::load)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values that serde cannot, naming the key to fix.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if self.tenants.is_empty() {
            return invalid(
                "no tenant is configured: add a [tenants.<id>] table with api_keys, casebook and ghl"
                    .to_string(),
            );
        }
        self.database.validate().map_err(ConfigError::Invalid)?;
        self.linking.region()?;
        self.cache.validate().map_err(ConfigError::Invalid)?;
        self.upstream
            .ghl_limits
            .validate()
            .map_err(ConfigError::Invalid)?;
        self.writes.validate().map_err(ConfigError::Invalid)?;
        if self.query_timeout_s == 0 {
            return invalid("query_timeout_s is 0: use at least 1 second".to_string());
        }
        if self.upstream.retry.max_attempts == 0 {
            return invalid(
                "upstream.retry.max_attempts is 0: use 1 to turn retries off".to_string(),
            );
        }
        if self.loaders.ghl_concurrency == 0 {
            return invalid("loaders.ghl_concurrency is 0: use at least 1".to_string());
        }
        if self.upstream.request_timeout_ms == 0 || self.upstream.connect_timeout_ms == 0 {
            return invalid("upstream timeouts must be greater than 0 ms".to_string());
        }
        if self.upstream.casebook_max_ids_per_request == 0 {
            return invalid(
                "upstream.casebook_max_ids_per_request is 0: use at least 1".to_string(),
            );
        }
        if self.upstream.casebook_max_url_length < 256 {
            return invalid(format!(
                "upstream.casebook_max_url_length is {}: use at least 256 characters",
                self.upstream.casebook_max_url_length
            ));
        }

        let mut seen_keys: Vec<(&str, &str)> = Vec::new();
        for (id, tenant) in &self.tenants {
            if tenant.api_keys.is_empty() {
                return invalid(format!(
                    "tenants.{id}.api_keys is empty: add at least one key"
                ));
            }
            for key in &tenant.api_keys {
                let key = key.expose_secret();
                if key.trim().is_empty() {
                    return invalid(format!("tenants.{id}.api_keys contains an empty key"));
                }
                if let Some((other, _)) = seen_keys.iter().find(|(_, k)| *k == key) {
                    return invalid(format!(
                        "tenants.{id}.api_keys repeats a key of tenant {other}: every key must belong to one tenant"
                    ));
                }
                seen_keys.push((id, key));
            }
            for (name, url) in [
                ("casebook", &tenant.casebook.base_url),
                ("ghl", &tenant.ghl.base_url),
            ] {
                if !matches!(url.scheme(), "http" | "https") {
                    return invalid(format!(
                        "tenants.{id}.{name}.base_url has scheme {:?}: use http or https",
                        url.scheme()
                    ));
                }
            }
            if tenant.ghl.location_id.trim().is_empty() {
                return invalid(format!("tenants.{id}.ghl.location_id is empty"));
            }
            validate_casebook_auth(id, &tenant.casebook)?;
            match &tenant.ghl.token {
                Some(token) if token.expose_secret().trim().is_empty() => {
                    return invalid(format!("tenants.{id}.ghl.token is empty"));
                }
                Some(_) => {}
                None if self.ghl_oauth.is_none() => {
                    return invalid(format!(
                        "tenants.{id}.ghl has no token and [ghl_oauth] is not configured: set tenants.{id}.ghl.token to a private integration token, or configure the OAuth app in [ghl_oauth]"
                    ));
                }
                None => {}
            }
        }
        if let Some(oauth) = &self.ghl_oauth {
            oauth.validate().map_err(ConfigError::Invalid)?;
        }
        self.token_cipher()?;
        Ok(())
    }

    /// Ids of the tenants that use GHL OAuth.
    pub fn ghl_oauth_tenants(&self) -> Vec<&str> {
        self.tenants
            .iter()
            .filter(|(_, tenant)| tenant.ghl.token.is_none())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Builds the cipher for stored tokens. It is required when a tenant uses GHL OAuth,
    /// whose tokens are stored, and `None` when nothing is stored.
    pub fn token_cipher(&self) -> Result<Option<TokenCipher>, ConfigError> {
        let oauth_tenants = self.ghl_oauth_tenants();
        let cipher = match &self.token_encryption_key {
            Some(key) => Some(TokenCipher::from_base64(key).map_err(ConfigError::Invalid)?),
            None => None,
        };
        if cipher.is_none() && !oauth_tenants.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "token_encryption_key is not set, but tenant {} uses GHL OAuth, whose tokens are stored encrypted: set CBG_TOKEN_ENCRYPTION_KEY to a base64 32-byte key (generate one with `openssl rand -base64 32`)",
                oauth_tenants.join(", ")
            )));
        }
        Ok(cipher)
    }
}

/// Checks that a Casebook organisation has exactly one way to authenticate.
fn validate_casebook_auth(id: &str, casebook: &CasebookConfig) -> Result<(), ConfigError> {
    let invalid = |message: String| Err(ConfigError::Invalid(message));
    match (&casebook.token, &casebook.client_credentials) {
        (Some(_), Some(_)) => invalid(format!(
            "tenants.{id}.casebook has both token and client_credentials: keep one"
        )),
        (None, None) => invalid(format!(
            "tenants.{id}.casebook has neither token nor client_credentials: configure the incoming application's client_credentials (or a fixed token)"
        )),
        (Some(token), None) if token.expose_secret().trim().is_empty() => {
            invalid(format!("tenants.{id}.casebook.token is empty"))
        }
        (Some(_), None) => Ok(()),
        (None, Some(credentials)) => {
            let key = format!("tenants.{id}.casebook.client_credentials");
            if !matches!(credentials.token_url.scheme(), "http" | "https") {
                return invalid(format!("{key}.token_url must be an http or https URL"));
            }
            if credentials.token_url.query().is_some() {
                return invalid(format!(
                    "{key}.token_url has a query string: remove it, the client id and secret are sent in the request body"
                ));
            }
            if credentials.client_id.trim().is_empty() {
                return invalid(format!("{key}.client_id is empty"));
            }
            if credentials.client_secret.expose_secret().trim().is_empty() {
                return invalid(format!(
                    "{key}.client_secret is empty: set CBG_TENANTS__{}__CASEBOOK__CLIENT_CREDENTIALS__CLIENT_SECRET",
                    id.to_ascii_uppercase()
                ));
            }
            if credentials.refresh_margin_s >= 1800 {
                return invalid(format!(
                    "{key}.refresh_margin_s is {}: use less than 1800 seconds (Casebook tokens last one hour)",
                    credentials.refresh_margin_s
                ));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [tenants.acme]
        api_keys = ["key-one"]
        [tenants.acme.casebook]
        base_url = "http://127.0.0.1:9001"
        token = "cb"
        [tenants.acme.ghl]
        base_url = "http://127.0.0.1:9002"
        location_id = "loc"
        token = "ghl"
    "#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = Figment::new()
            .merge(Toml::string(text))
            .extract()
            .map_err(ConfigError::load)?;
        config.validate()?;
        Ok(config)
    }

    #[test]
    fn database_settings_are_checked() {
        let with_database = |database: &str| format!("{MINIMAL}\n[database]\n{database}\n");

        let postgres = parse(&with_database(
            "url = \"postgres://gw@127.0.0.1/gw\"\nmax_connections = 20",
        ))
        .unwrap();
        assert_eq!(postgres.database.max_connections, Some(20));
        parse(&with_database("url = \"postgresql://gw@127.0.0.1/gw\"")).unwrap();
        parse(&with_database(
            "url = \"sqlite::memory:\"\nmax_connections = 1",
        ))
        .unwrap();

        let scheme = parse(&with_database("url = \"mysql://gw:hunter2@127.0.0.1/gw\""))
            .unwrap_err()
            .to_string();
        assert!(scheme.contains("database.url mysql://gw:***@"), "{scheme}");
        assert!(!scheme.contains("hunter2"), "{scheme}");

        let zero = parse(&with_database("max_connections = 0"))
            .unwrap_err()
            .to_string();
        assert!(zero.contains("database.max_connections is 0"), "{zero}");

        let memory = parse(&with_database(
            "url = \"sqlite::memory:\"\nmax_connections = 4",
        ))
        .unwrap_err()
        .to_string();
        assert!(memory.contains("in-memory SQLite"), "{memory}");
    }

    #[test]
    fn minimal_file_gets_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.listen, default_listen());
        assert_eq!(config.upstream.casebook_max_url_length, 2000);
        assert_eq!(config.linking.default_region, "US");
    }

    #[test]
    fn unknown_key_is_rejected() {
        let error = parse(&format!("{MINIMAL}\nlisen = \"0.0.0.0:1\"")).unwrap_err();
        assert!(error.to_string().contains("lisen"), "{error}");
    }

    #[test]
    fn unknown_key_message_has_no_profile_prefix() {
        let error = parse(&format!("grapiql = true\n{MINIMAL}"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown field: found `grapiql`"), "{error}");
        assert!(error.contains("for key \"grapiql\""), "{error}");
        assert!(!error.contains("default."), "{error}");
    }

    #[test]
    fn missing_secret_names_its_variable() {
        let without_secret = OAUTH_APP.replace("client_secret = \"secret\"\n", "");
        let error = parse(&format!("{MINIMAL}\n{without_secret}"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing field `client_secret`"), "{error}");
        assert!(error.contains("for key \"ghl_oauth\""), "{error}");
        assert!(!error.contains("default."), "{error}");
        assert!(
            error.contains("set it with the environment variable CBG_GHL_OAUTH__CLIENT_SECRET"),
            "{error}"
        );

        let without_keys = MINIMAL.replace("api_keys = [\"key-one\"]", "");
        let error = parse(&without_keys).unwrap_err().to_string();
        assert!(error.contains("for key \"tenants.acme\""), "{error}");
        assert!(error.contains("CBG_TENANTS__ACME__API_KEYS"), "{error}");
    }

    #[test]
    fn missing_plain_field_names_no_variable() {
        let without_id = OAUTH_APP.replace("client_id = \"app\"\n", "");
        let error = parse(&format!("{MINIMAL}\n{without_id}"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("missing field `client_id`"), "{error}");
        assert!(!error.contains("environment variable"), "{error}");
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn environment_error_names_the_key() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gateway.toml", MINIMAL)?;
            jail.set_env("CBG_GRAPIQL", "true");
            let error = Config::load(Some(Path::new("gateway.toml")))
                .unwrap_err()
                .to_string();
            assert!(error.contains("for key \"grapiql\""), "{error}");
            assert!(error.contains("`CBG_` environment variable"), "{error}");
            assert!(!error.contains("default."), "{error}");
            Ok(())
        });
    }

    #[test]
    fn missing_tenants_are_rejected() {
        let error = parse("").unwrap_err();
        assert!(error.to_string().contains("no tenant"), "{error}");
    }

    #[test]
    fn shared_api_key_is_rejected() {
        let text = format!(
            "{MINIMAL}\n{}",
            MINIMAL.replace("tenants.acme", "tenants.other")
        );
        let error = parse(&text).unwrap_err();
        assert!(error.to_string().contains("repeats a key"), "{error}");
    }

    #[test]
    fn bad_region_names_the_key() {
        let error = parse(&format!("{MINIMAL}\n[linking]\ndefault_region = \"XX1\"")).unwrap_err();
        assert!(
            error.to_string().contains("linking.default_region"),
            "{error}"
        );
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn test_database_variable_is_ignored() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gateway.toml", MINIMAL)?;
            jail.set_env(POSTGRES_URL_VAR, "postgres://postgres@127.0.0.1:5432/test");
            let config =
                Config::load(Some(Path::new("gateway.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.database.url, DatabaseConfig::default().url);
            Ok(())
        });
    }

    #[test]
    fn example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let config = parse(&text).unwrap();
        assert_eq!(config.tenants.len(), 1);
        assert_eq!(config.linking.reconcile_interval_s, 900);

        // CBG_DATABASE__URL=sqlite::memory: works with the file's database settings.
        let in_memory = text.replace(
            "url = \"sqlite://casebook-ghl-gateway.db\"",
            "url = \"sqlite::memory:\"",
        );
        let config = parse(&in_memory).unwrap();
        assert_eq!(config.database.url, "sqlite::memory:");
    }

    /// The example file promises every key with its default, so its values are compared
    /// with the defaults in code. Keys without a default (tenants, `[ghl_oauth]`) are
    /// skipped, and so is `database.max_connections`, which the file leaves commented out.
    #[test]
    fn example_file_shows_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let example = parse(&text).unwrap();

        assert_eq!(example.listen, default_listen());
        assert!(!example.graphiql);
        assert_eq!(example.query_timeout_s, DEFAULT_QUERY_TIMEOUT_S);
        let sections = [
            (
                "database",
                format!("{:?}", example.database),
                format!("{:?}", DatabaseConfig::default()),
            ),
            (
                "upstream",
                format!("{:?}", example.upstream),
                format!("{:?}", UpstreamConfig::default()),
            ),
            (
                "linking",
                format!("{:?}", example.linking),
                format!("{:?}", LinkingConfig::default()),
            ),
            (
                "cache",
                format!("{:?}", example.cache),
                format!("{:?}", CacheConfig::default()),
            ),
            (
                "loaders",
                format!("{:?}", example.loaders),
                format!("{:?}", LoaderConfig::default()),
            ),
            (
                "writes",
                format!("{:?}", example.writes),
                format!("{:?}", WriteConfig::default()),
            ),
        ];
        for (section, in_file, in_code) in sections {
            assert_eq!(in_file, in_code, "[{section}] of gateway.example.toml");
        }
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment's Jail fixes the closure's error type"
    )]
    fn environment_overrides_the_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("gateway.toml", MINIMAL)?;
            jail.set_env("CBG_LISTEN", "127.0.0.1:4100");
            jail.set_env("CBG_TENANTS__ACME__GHL__TOKEN", "from-env");
            jail.set_env("CBG_TENANTS__ACME__API_KEYS", "[\"env-key\"]");
            let config =
                Config::load(Some(Path::new("gateway.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(config.listen.port(), 4100);
            let tenant = &config.tenants["acme"];
            assert_eq!(
                tenant.ghl.token.as_ref().unwrap().expose_secret(),
                "from-env"
            );
            assert_eq!(tenant.api_keys[0].expose_secret(), "env-key");
            Ok(())
        });
    }

    const OAUTH_APP: &str = r#"
        [ghl_oauth]
        client_id = "app"
        client_secret = "secret"
        redirect_uri = "http://127.0.0.1:4000/oauth/ghl/callback"
        authorize_url = "http://127.0.0.1:9002/oauth/chooselocation"
    "#;

    #[test]
    fn ghl_oauth_needs_the_encryption_key() {
        let text = format!("{}\n{OAUTH_APP}", MINIMAL.replace("token = \"ghl\"", ""));
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("CBG_TOKEN_ENCRYPTION_KEY"), "{error}");
        assert!(error.contains("acme"), "{error}");

        let key = "token_encryption_key = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"";
        let config = parse(&format!("{key}\n{text}")).unwrap();
        assert_eq!(config.ghl_oauth_tenants(), vec!["acme"]);
        assert!(config.token_cipher().unwrap().is_some());
    }

    #[test]
    fn ghl_without_token_or_app_is_rejected() {
        let error = parse(&MINIMAL.replace("token = \"ghl\"", ""))
            .unwrap_err()
            .to_string();
        assert!(error.contains("tenants.acme.ghl has no token"), "{error}");
    }

    #[test]
    fn short_encryption_key_is_rejected() {
        let text = format!("token_encryption_key = \"c2hvcnQ=\"\n{MINIMAL}");
        let error = parse(&text).unwrap_err().to_string();
        assert!(error.contains("32 bytes"), "{error}");
        assert!(!error.contains("c2hvcnQ"), "{error}");
    }

    #[test]
    fn casebook_needs_exactly_one_credential() {
        let both = MINIMAL.replace(
            "token = \"cb\"",
            "token = \"cb\"\n[tenants.acme.casebook.client_credentials]\ntoken_url = \"http://127.0.0.1:9003/oauth2/token\"\nclient_id = \"c\"\nclient_secret = \"s\"",
        );
        let error = parse(&both).unwrap_err().to_string();
        assert!(
            error.contains("both token and client_credentials"),
            "{error}"
        );

        let client_only = both.replace("token = \"cb\"\n", "");
        let config = parse(&client_only).unwrap();
        let client = config.tenants["acme"]
            .casebook
            .client_credentials
            .as_ref()
            .unwrap();
        assert_eq!(client.refresh_margin_s, 60);

        let in_query = client_only.replace("/oauth2/token", "/oauth2/token?client_secret=s");
        let error = parse(&in_query).unwrap_err().to_string();
        assert!(error.contains("query string"), "{error}");

        let neither = MINIMAL.replace("token = \"cb\"", "");
        let error = parse(&neither).unwrap_err().to_string();
        assert!(
            error.contains("neither token nor client_credentials"),
            "{error}"
        );
    }

    #[test]
    fn missing_file_names_the_path() {
        let error = Config::load(Some(Path::new("/nonexistent/gateway.toml"))).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/gateway.toml"),
            "{error}"
        );
    }
}
