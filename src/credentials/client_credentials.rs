//! OAuth 2.0 client credentials for Casebook.
//!
//! Casebook issues tokens for one hour at the application's token URL, which is not the API
//! base URL. A token is reused until shortly before it expires. One token request runs at a
//! time per tenant. A failed request pauses the next one briefly, so a burst of queries
//! cannot flood the token endpoint.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use secrecy::SecretString;

use super::{
    Bearer,
    endpoint::{TokenEndpoint, TokenError, form_value},
};
use crate::upstream::{System, UpstreamError};

/// Lifetime assumed when the token response has no `expires_in`, as Casebook documents.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Pause after the token endpoint rejected the client id or secret.
const PAUSE_AFTER_REJECTION: Duration = Duration::from_secs(30);
/// Pause after any other token failure.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// A cached token and the time it stops being used.
struct Current {
    bearer: Bearer,
    renew_at: Instant,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    generation: i64,
    /// The last failure and the time until which it is returned without a new request.
    paused: Option<(UpstreamError, Instant)>,
}

/// Client credentials of one tenant and the token they were last exchanged for.
pub struct ClientCredentials {
    tenant: String,
    endpoint: TokenEndpoint,
    client_id: String,
    client_secret: SecretString,
    /// How long before expiry a token is replaced.
    margin: Duration,
    state: Mutex<State>,
    fetch: tokio::sync::Mutex<()>,
}

impl ClientCredentials {
    /// Credentials that fetch tokens from `endpoint`, replacing each `margin` before expiry.
    pub fn new(
        tenant: &str,
        endpoint: TokenEndpoint,
        client_id: String,
        client_secret: SecretString,
        margin: Duration,
    ) -> ClientCredentials {
        ClientCredentials {
            tenant: tenant.to_string(),
            endpoint,
            client_id,
            client_secret,
            margin,
            state: Mutex::new(State::default()),
            fetch: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the cached token while it is fresh, else fetches a new one.
    pub async fn bearer(&self) -> Result<Bearer, UpstreamError> {
        if let Some(bearer) = self.fresh(None) {
            return Ok(bearer);
        }
        self.fetch(None).await
    }

    /// Returns a token newer than generation `rejected`, fetching one if needed.
    pub async fn renew(&self, rejected: i64) -> Result<Bearer, UpstreamError> {
        self.fetch(Some(rejected)).await
    }

    fn fresh(&self, rejected: Option<i64>) -> Option<Bearer> {
        let state = self.state();
        let current = state.current.as_ref()?;
        let newer = rejected.is_none_or(|rejected| current.bearer.generation > rejected);
        (newer && Instant::now() < current.renew_at).then(|| current.bearer.clone())
    }

    async fn fetch(&self, rejected: Option<i64>) -> Result<Bearer, UpstreamError> {
        let _single_flight = self.fetch.lock().await;
        // Another task may have fetched a token while this one waited.
        if let Some(bearer) = self.fresh(rejected) {
            return Ok(bearer);
        }
        if let Some((error, until)) = &self.state().paused
            && Instant::now() < *until
        {
            return Err(error.clone());
        }

        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", form_value(&self.client_secret)),
        ];
        let started = Instant::now();
        match self.endpoint.request(&form).await {
            Ok(response) => {
                let lifetime = response
                    .expires_in
                    .map(Duration::from_secs)
                    .unwrap_or(DEFAULT_LIFETIME);
                let mut state = self.state();
                state.generation += 1;
                let bearer =
                    Bearer::new(System::Casebook, response.access_token, state.generation)?;
                // A token shorter-lived than twice the margin is used for half its life.
                let usable = lifetime
                    .checked_sub(self.margin)
                    .filter(|usable| *usable >= lifetime / 2)
                    .unwrap_or(lifetime / 2);
                state.current = Some(Current {
                    bearer: bearer.clone(),
                    renew_at: started + usable,
                });
                state.paused = None;
                tracing::info!(
                    tenant = %self.tenant,
                    generation = state.generation,
                    expires_in_s = lifetime.as_secs(),
                    "obtained a Casebook access token"
                );
                Ok(bearer)
            }
            Err(error) => {
                let (error, pause) = match error {
                    TokenError::InvalidClient(detail) | TokenError::InvalidGrant(detail) => (
                        UpstreamError::Unauthorized {
                            system: System::Casebook,
                            detail: format!(
                                "the token URL rejected the client credentials ({detail}); check tenants.{}.casebook.client_credentials",
                                self.tenant
                            ),
                        },
                        PAUSE_AFTER_REJECTION,
                    ),
                    TokenError::Upstream(error) => (error, PAUSE_AFTER_FAILURE),
                };
                tracing::warn!(tenant = %self.tenant, code = error.code(), error = %error, "Casebook token request failed");
                let mut state = self.state();
                state.current = None;
                state.paused = Some((error.clone(), Instant::now() + pause));
                Err(error)
            }
        }
    }
}
