//! GHL OAuth 2.0 for one location: install, stored tokens and rotating refresh.
//!
//! GHL returns a new refresh token on each refresh, and the one sent stops working. So a
//! refresh runs once at a time per location: within the process behind a mutex, and
//! across processes that share the database behind a lease on the token row. The new
//! pair is written to the database before the new access token is used. A rejected
//! refresh token marks the location as needing a new install, and later calls fail at
//! once instead of asking the token endpoint again.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use chrono::Utc;
use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::{
    Bearer,
    endpoint::{TokenEndpoint, TokenError, TokenResponse, form_value},
    store::{NewTokens, StoredTokens, TokenStatus, TokenStore, TokenStoreError},
};
use crate::upstream::{System, UpstreamError};

/// How long a process may hold the refresh claim of a location.
const REFRESH_LEASE: Duration = Duration::from_secs(30);
/// Interval at which a process waiting for another one's refresh checks the database.
const LEASE_POLL: Duration = Duration::from_millis(200);
/// Pause after the token endpoint rejected the app's client id or secret.
const PAUSE_AFTER_CLIENT_REJECTION: Duration = Duration::from_secs(30);
/// Pause after any other failure of the token endpoint.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// Lifetime assumed when a token response has no `expires_in` (GHL documents about a day).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(86_399);

/// The marketplace app: `[ghl_oauth]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GhlOAuthConfig {
    /// The app's client id.
    pub client_id: String,
    /// The app's client secret. Set it through `CBG_GHL_OAUTH__CLIENT_SECRET`.
    pub client_secret: SecretString,
    /// This gateway's public callback URL, ending in `/oauth/ghl/callback`. It must be
    /// registered as a redirect URL of the app.
    pub redirect_uri: Url,
    /// GHL's location chooser, such as
    /// `https://marketplace.gohighlevel.com/v2/oauth/chooselocation`.
    pub authorize_url: Url,
    /// Scopes requested at install.
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// Seconds before expiry at which an access token is refreshed. Default 300.
    #[serde(default = "default_refresh_margin_s")]
    pub refresh_margin_s: u64,
}

fn default_scopes() -> Vec<String> {
    [
        "contacts.readonly",
        "contacts.write",
        "calendars/events.readonly",
        "calendars/events.write",
    ]
    .map(str::to_string)
    .to_vec()
}

fn default_refresh_margin_s() -> u64 {
    300
}

impl GhlOAuthConfig {
    /// Checks the values, naming the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.trim().is_empty() {
            return Err("ghl_oauth.client_id is empty".to_string());
        }
        if secrecy::ExposeSecret::expose_secret(&self.client_secret)
            .trim()
            .is_empty()
        {
            return Err(
                "ghl_oauth.client_secret is empty: set CBG_GHL_OAUTH__CLIENT_SECRET".to_string(),
            );
        }
        for (key, url) in [
            ("redirect_uri", &self.redirect_uri),
            ("authorize_url", &self.authorize_url),
        ] {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!(
                    "ghl_oauth.{key} has scheme {:?}: use http or https",
                    url.scheme()
                ));
            }
        }
        if self
            .scopes
            .iter()
            .any(|scope| scope.trim().is_empty() || scope.contains(' '))
        {
            return Err(
                "ghl_oauth.scopes contains an empty scope or one with a space: list one scope per entry"
                    .to_string(),
            );
        }
        Ok(())
    }
}

/// A failed install callback.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "GHL returned tokens for a company, not a location: install the app into a sub-account"
    )]
    NotALocation,
    #[error(
        "GHL installed location {installed}, but tenant {tenant} is configured for location {expected}: choose location {expected} in GHL"
    )]
    WrongLocation {
        tenant: String,
        expected: String,
        installed: String,
    },
    #[error("GHL did not accept the authorization code ({0}); start the install again")]
    CodeRejected(String),
    #[error(
        "GHL rejected the app's client id or secret ({0}); check ghl_oauth.client_id and ghl_oauth.client_secret"
    )]
    ClientRejected(String),
    #[error("the GHL token request failed: {0}")]
    Upstream(UpstreamError),
    #[error("the tokens could not be stored: {0}")]
    Store(#[from] TokenStoreError),
}

struct Current {
    bearer: Bearer,
    /// The time the access token is replaced, `refresh_margin_s` before it expires.
    renew_at: chrono::DateTime<Utc>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    /// The last failure and the time until which it is returned without a new attempt.
    paused: Option<(UpstreamError, Instant)>,
    /// A refreshed pair that could not be written to the database yet. It is the only
    /// pair GHL still accepts, so it is kept and written first on the next attempt.
    unsaved: Option<NewTokens>,
}

/// The OAuth tokens of one tenant's GHL location.
pub struct GhlOAuth {
    tenant: String,
    location_id: String,
    app: Arc<GhlOAuthConfig>,
    endpoint: TokenEndpoint,
    store: TokenStore,
    state: Mutex<State>,
    refresh: tokio::sync::Mutex<()>,
}

impl GhlOAuth {
    /// Creates the token source of `location_id`, which refreshes at `endpoint` (GHL's `/oauth/token`).
    pub fn new(
        tenant: &str,
        location_id: &str,
        app: Arc<GhlOAuthConfig>,
        endpoint: TokenEndpoint,
        store: TokenStore,
    ) -> GhlOAuth {
        GhlOAuth {
            tenant: tenant.to_string(),
            location_id: location_id.to_string(),
            app,
            endpoint,
            store,
            state: Mutex::new(State::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the tenant id.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Builds the URL of GHL's location chooser for an install with `state`.
    pub fn authorize_url(&self, state: &str) -> Url {
        let mut url = self.app.authorize_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.app.client_id)
            .append_pair("redirect_uri", self.app.redirect_uri.as_str())
            .append_pair("scope", &self.app.scopes.join(" "))
            .append_pair("state", state);
        url
    }

    /// Path a person opens to install the app for this tenant.
    pub fn install_path(&self) -> String {
        let tenant: String = url::form_urlencoded::byte_serialize(self.tenant.as_bytes()).collect();
        format!("/oauth/ghl/install?tenant={tenant}")
    }

    /// Exchanges an authorization code from the install callback and stores the tokens.
    pub async fn complete_install(&self, code: &str) -> Result<(), InstallError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", form_value(&self.app.client_secret)),
            ("code", code),
            ("user_type", "Location"),
            ("redirect_uri", self.app.redirect_uri.as_str()),
        ];
        let response = match self.endpoint.request(&form).await {
            Ok(response) => response,
            Err(TokenError::InvalidGrant(detail)) => {
                return Err(InstallError::CodeRejected(detail));
            }
            Err(TokenError::InvalidClient(detail)) => {
                return Err(InstallError::ClientRejected(detail));
            }
            Err(TokenError::Upstream(error)) => return Err(InstallError::Upstream(error)),
        };
        let installed = match (&response.location_id, response.user_type.as_deref()) {
            (Some(location), _) => location.clone(),
            (None, _) => return Err(InstallError::NotALocation),
        };
        if installed != self.location_id {
            return Err(InstallError::WrongLocation {
                tenant: self.tenant.clone(),
                expected: self.location_id.clone(),
                installed,
            });
        }
        let tokens = new_tokens(response).map_err(InstallError::Upstream)?;

        let _single_flight = self.refresh.lock().await;
        let generation = self
            .store
            .install(&self.tenant, &self.location_id, &tokens)
            .await?;
        self.adopt(&tokens, generation)
            .map_err(InstallError::Upstream)?;
        let mut state = self.state();
        state.paused = None;
        state.unsaved = None;
        tracing::info!(tenant = %self.tenant, location_id = %self.location_id, generation, "GHL app installed");
        Ok(())
    }

    /// Returns the current access token while it is fresh, else refreshes it first.
    pub async fn bearer(&self) -> Result<Bearer, UpstreamError> {
        if let Some(bearer) = self.fresh(None) {
            return Ok(bearer);
        }
        self.refresh(None).await
    }

    /// Returns a token newer than generation `rejected`, refreshing once if needed.
    pub async fn renew(&self, rejected: i64) -> Result<Bearer, UpstreamError> {
        self.refresh(Some(rejected)).await
    }

    fn fresh(&self, rejected: Option<i64>) -> Option<Bearer> {
        let state = self.state();
        let current = state.current.as_ref()?;
        let newer = rejected.is_none_or(|rejected| current.bearer.generation > rejected);
        (newer && Utc::now() < current.renew_at).then(|| current.bearer.clone())
    }

    /// Checks whether `stored` can be used instead of refreshing.
    fn usable(&self, stored: &StoredTokens, rejected: Option<i64>) -> bool {
        let newer = rejected.is_none_or(|rejected| stored.generation > rejected);
        newer && Utc::now() < stored.expires_at - self.margin()
    }

    fn margin(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.app.refresh_margin_s as i64)
    }

    fn adopt(&self, tokens: &NewTokens, generation: i64) -> Result<Bearer, UpstreamError> {
        let bearer = Bearer::new(System::Ghl, tokens.access_token.clone(), generation)?;
        self.state().current = Some(Current {
            bearer: bearer.clone(),
            renew_at: tokens.expires_at - self.margin(),
        });
        Ok(bearer)
    }

    async fn refresh(&self, rejected: Option<i64>) -> Result<Bearer, UpstreamError> {
        let _single_flight = self.refresh.lock().await;
        // Another task may have refreshed while this one waited.
        if let Some(bearer) = self.fresh(rejected) {
            return Ok(bearer);
        }
        if let Some((error, until)) = &self.state().paused
            && Instant::now() < *until
        {
            return Err(error.clone());
        }
        let result = self.refresh_locked(rejected).await;
        // A location that needs an install is not paused: the check costs one read of the
        // token row and no token request, and another replica may install it any moment.
        let pause = match &result {
            Ok(_) | Err(UpstreamError::ReinstallRequired { .. }) => None,
            Err(UpstreamError::Unauthorized { .. }) => Some(PAUSE_AFTER_CLIENT_REJECTION),
            Err(_) => Some(PAUSE_AFTER_FAILURE),
        };
        if let (Some(pause), Err(error)) = (pause, &result) {
            self.state().paused = Some((error.clone(), Instant::now() + pause));
        }
        result
    }

    async fn refresh_locked(&self, rejected: Option<i64>) -> Result<Bearer, UpstreamError> {
        self.save_unsaved().await?;
        let deadline = Instant::now() + REFRESH_LEASE + Duration::from_secs(5);
        loop {
            let stored = self
                .store
                .load(&self.tenant)
                .await
                .map_err(|error| self.store_error(&error))?;
            let Some(stored) = stored else {
                return Err(
                    self.reinstall_error("the app has not been installed for this location yet")
                );
            };
            if let TokenStatus::ReinstallRequired { reason } = &stored.status {
                return Err(self.reinstall_error(reason));
            }
            if self.usable(&stored, rejected) {
                let tokens = NewTokens {
                    access_token: stored.access_token.clone(),
                    refresh_token: stored.refresh_token.clone(),
                    expires_at: stored.expires_at,
                    scope: stored.scope.clone(),
                };
                return self.adopt(&tokens, stored.generation);
            }

            let lease_until = Utc::now()
                + chrono::Duration::from_std(REFRESH_LEASE)
                    .unwrap_or(chrono::Duration::seconds(30));
            let claimed = self
                .store
                .claim_refresh(&self.tenant, stored.generation, lease_until)
                .await
                .map_err(|error| self.store_error(&error))?;
            if claimed {
                return self.refresh_claimed(&stored).await;
            }
            if Instant::now() >= deadline {
                return Err(UpstreamError::Unavailable {
                    system: System::Ghl,
                    status: 503,
                });
            }
            // Another process has the claim, and its result appears as a newer generation.
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    /// Sends the refresh that this process claimed and stores the result.
    async fn refresh_claimed(&self, stored: &StoredTokens) -> Result<Bearer, UpstreamError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", self.app.client_id.as_str()),
            ("client_secret", form_value(&self.app.client_secret)),
            ("refresh_token", form_value(&stored.refresh_token)),
            ("user_type", "Location"),
        ];
        let response = match self.endpoint.request(&form).await {
            Ok(response) => response,
            Err(TokenError::InvalidGrant(detail)) => {
                let reason = format!(
                    "GHL rejected the stored refresh token ({detail}); it was revoked or already used"
                );
                tracing::error!(tenant = %self.tenant, location_id = %self.location_id, "GHL refresh token rejected; the app must be installed again");
                self.store
                    .require_reinstall(&self.tenant, &reason)
                    .await
                    .map_err(|error| self.store_error(&error))?;
                self.state().current = None;
                return Err(self.reinstall_error(&reason));
            }
            Err(other) => {
                self.release().await;
                return Err(match other {
                    TokenError::InvalidClient(detail) => UpstreamError::Unauthorized {
                        system: System::Ghl,
                        detail: format!(
                            "GHL rejected the app's client id or secret ({detail}); check ghl_oauth.client_id and ghl_oauth.client_secret"
                        ),
                    },
                    TokenError::Upstream(error) => error,
                    TokenError::InvalidGrant(_) => unreachable!("handled above"),
                });
            }
        };
        let tokens = new_tokens(response)?;
        match self.store.complete_refresh(&self.tenant, &tokens).await {
            Ok(Some(generation)) => {
                tracing::info!(tenant = %self.tenant, location_id = %self.location_id, generation, "refreshed the GHL access token");
                self.adopt(&tokens, generation)
            }
            Ok(None) => {
                // The claim lapsed while the request ran. The pair in hand is the only one
                // GHL accepts now, so it replaces whatever the row holds.
                tracing::warn!(tenant = %self.tenant, "GHL refresh outlived its claim; storing the new tokens anyway");
                let generation = self
                    .store
                    .install(&self.tenant, &self.location_id, &tokens)
                    .await
                    .map_err(|error| {
                        self.state().unsaved = Some(tokens.clone());
                        self.store_error(&error)
                    })?;
                self.adopt(&tokens, generation)
            }
            Err(error) => {
                self.state().unsaved = Some(tokens);
                Err(self.store_error(&error))
            }
        }
    }

    /// Writes a refreshed pair that an earlier attempt could not store.
    async fn save_unsaved(&self) -> Result<(), UpstreamError> {
        let Some(tokens) = self.state().unsaved.clone() else {
            return Ok(());
        };
        let generation = self
            .store
            .install(&self.tenant, &self.location_id, &tokens)
            .await
            .map_err(|error| self.store_error(&error))?;
        self.state().unsaved = None;
        self.adopt(&tokens, generation)?;
        Ok(())
    }

    async fn release(&self) {
        if let Err(error) = self.store.release_refresh(&self.tenant).await {
            tracing::error!(tenant = %self.tenant, error = %error, "could not release the GHL refresh claim; it lapses by itself");
        }
    }

    fn reinstall_error(&self, reason: &str) -> UpstreamError {
        UpstreamError::ReinstallRequired {
            system: System::Ghl,
            account: self.location_id.clone(),
            install_path: self.install_path(),
            reason: reason.to_string(),
        }
    }

    fn store_error(&self, error: &TokenStoreError) -> UpstreamError {
        tracing::error!(tenant = %self.tenant, error = %error, "GHL token storage failed");
        UpstreamError::CredentialStore {
            system: System::Ghl,
            detail: error.to_string(),
        }
    }
}

fn new_tokens(response: TokenResponse) -> Result<NewTokens, UpstreamError> {
    let Some(refresh_token) = response.refresh_token else {
        return Err(UpstreamError::BadResponse {
            system: System::Ghl,
            detail: "the token response has no refresh_token".to_string(),
        });
    };
    let lifetime = response
        .expires_in
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_LIFETIME);
    Ok(NewTokens {
        access_token: response.access_token,
        refresh_token,
        expires_at: Utc::now()
            + chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::days(1)),
        scope: response.scope.unwrap_or_default(),
    })
}
