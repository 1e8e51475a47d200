//! A tenant at run time: its upstream clients and matching settings.

use secrecy::SecretString;

use crate::{
    config::{Config, ConfigError, TenantConfig},
    identity::PhoneRegion,
    metrics::Metrics,
    upstream::limits::LimitsRegistry,
    upstream::{UpstreamError, casebook::CasebookClient, ghl::GhlClient},
};

/// One GHL location plus one Casebook organisation, reached with the tenant's own clients.
pub struct Tenant {
    pub id: String,
    pub casebook: CasebookClient,
    pub ghl: GhlClient,
    pub region: PhoneRegion,
    pub(crate) api_keys: Vec<SecretString>,
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
        let casebook = CasebookClient::new(
            tenant.casebook.base_url.clone(),
            tenant.casebook.token.clone(),
            &casebook_settings,
        )
        .map_err(|e| client_error("casebook", e))?
        .with_max_url_length(config.upstream.casebook_max_url_length)
        .with_max_ids_per_request(config.upstream.casebook_max_ids_per_request);
        let ghl = GhlClient::new(
            tenant.ghl.base_url.clone(),
            tenant.ghl.location_id.clone(),
            tenant.ghl.token.clone(),
            &settings,
        )
        .map_err(|e| client_error("ghl", e))?;
        Ok(Tenant {
            id: id.to_string(),
            casebook,
            ghl,
            region: config.linking.region()?,
            api_keys: tenant.api_keys.clone(),
        })
    }
}
