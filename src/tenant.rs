//! A tenant at run time: its upstream clients and matching settings.

use std::{sync::Arc, time::Duration};

use secrecy::SecretString;

use crate::{
    config::{Config, ConfigError, TenantConfig},
    credentials::{
        Credentials, client_credentials::ClientCredentials, endpoint::TokenEndpoint,
        ghl_oauth::GhlOAuth, store::TokenStore,
    },
    identity::PhoneRegion,
    metrics::Metrics,
    upstream::limits::LimitsRegistry,
    upstream::{System, UpstreamError, casebook::CasebookClient, ghl::GhlClient},
};

/// One GHL location plus one Casebook organisation, reached with the tenant's own clients.
pub struct Tenant {
    pub id: String,
    pub casebook: CasebookClient,
    pub ghl: GhlClient,
    pub region: PhoneRegion,
    pub(crate) api_keys: Vec<SecretString>,
    /// The GHL OAuth tokens, when the tenant has no private integration token.
    pub ghl_oauth: Option<Arc<GhlOAuth>>,
    /// Whether linking scans run on their own: at start, on an interval or both
    /// (`linking.reconcile_on_start`, `linking.reconcile_interval_s`).
    pub links_automatically: bool,
    /// Process counters, in which `linking::reconcile` counts its scans.
    pub(crate) metrics: Metrics,
}

impl std::fmt::Debug for Tenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tenant")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Tenant {
    /// Builds the clients of one configured tenant.
    ///
    /// Every upstream call is counted in `metrics`, and GHL calls wait for the limits of
    /// their location in `limits` unless `upstream.ghl_limits.enabled` is false.
    pub fn from_config(
        id: &str,
        tenant: &TenantConfig,
        config: &Config,
        metrics: &Metrics,
        limits: &LimitsRegistry,
        token_store: Option<&TokenStore>,
    ) -> Result<Tenant, ConfigError> {
        let mut settings = config.upstream.http_settings();
        settings.metrics = Some(metrics.clone());
        let casebook_settings = settings.clone();
        settings.limits = config
            .upstream
            .ghl_limits
            .enabled
            .then(|| limits.for_location(&tenant.ghl.location_id, config.upstream.ghl_limits));
        let client_error = |system: &str, error: UpstreamError| {
            ConfigError::Invalid(format!(
                "tenants.{id}.{system}: could not build the HTTP client: {error}"
            ))
        };
        let invalid = |message: String| ConfigError::Invalid(format!("tenants.{id}: {message}"));
        let token_timeout = Duration::from_millis(config.upstream.request_timeout_ms);

        let casebook_credentials =
            match (&tenant.casebook.token, &tenant.casebook.client_credentials) {
                (Some(token), _) => Credentials::fixed(System::Casebook, token.clone())
                    .map_err(|e| client_error("casebook", e))?,
                (None, Some(client)) => {
                    let endpoint = TokenEndpoint::new(
                        System::Casebook,
                        client.token_url.clone(),
                        token_timeout,
                        Some(metrics.clone()),
                    )
                    .map_err(invalid)?;
                    Credentials::ClientCredentials(Arc::new(ClientCredentials::new(
                        id,
                        endpoint,
                        client.client_id.clone(),
                        client.client_secret.clone(),
                        Duration::from_secs(client.refresh_margin_s),
                    )))
                }
                (None, None) => {
                    return Err(invalid(
                        "casebook has neither token nor client_credentials".to_string(),
                    ));
                }
            };
        let mut ghl_oauth = None;
        let ghl_credentials = match (&tenant.ghl.token, &config.ghl_oauth, token_store) {
            (Some(token), _, _) => Credentials::fixed(System::Ghl, token.clone())
                .map_err(|e| client_error("ghl", e))?,
            (None, Some(app), Some(store)) => {
                let mut token_url = tenant.ghl.base_url.clone();
                let prefix = token_url.path().trim_end_matches('/').to_string();
                token_url.set_path(&format!("{prefix}/oauth/token"));
                let endpoint = TokenEndpoint::new(
                    System::Ghl,
                    token_url,
                    token_timeout,
                    Some(metrics.clone()),
                )
                .map_err(invalid)?;
                let oauth = Arc::new(GhlOAuth::new(
                    id,
                    &tenant.ghl.location_id,
                    Arc::new(app.clone()),
                    endpoint,
                    store.clone(),
                ));
                ghl_oauth = Some(oauth.clone());
                Credentials::GhlOAuth(oauth)
            }
            (None, _, _) => {
                return Err(invalid(
                    "ghl has no token, and GHL OAuth needs [ghl_oauth] and token_encryption_key"
                        .to_string(),
                ));
            }
        };

        let casebook = CasebookClient::with_credentials(
            tenant.casebook.base_url.clone(),
            casebook_credentials,
            &casebook_settings,
        )
        .map_err(|e| client_error("casebook", e))?
        .with_max_url_length(config.upstream.casebook_max_url_length)
        .with_max_ids_per_request(config.upstream.casebook_max_ids_per_request);
        let ghl = GhlClient::with_credentials(
            tenant.ghl.base_url.clone(),
            tenant.ghl.location_id.clone(),
            ghl_credentials,
            &settings,
        )
        .map_err(|e| client_error("ghl", e))?;
        Ok(Tenant {
            id: id.to_string(),
            casebook,
            ghl,
            region: config.linking.region()?,
            api_keys: tenant.api_keys.clone(),
            ghl_oauth,
            links_automatically: config.linking.reconcile_on_start
                || config.linking.reconcile_interval_s > 0,
            metrics: metrics.clone(),
        })
    }
}
