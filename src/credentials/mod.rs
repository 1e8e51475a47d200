//! Upstream credentials: static tokens, GHL OAuth and Casebook client credentials.
//!
//! Every upstream call takes its `Authorization` header from [`Credentials::bearer`]. OAuth
//! kinds fetch or refresh their token on demand, one request at a time per tenant, and
//! [`Credentials::renew`] replaces a token that the upstream rejected with a 401.

pub mod cipher;
pub mod client_credentials;
pub mod endpoint;
pub mod ghl_oauth;
pub mod store;

use std::sync::Arc;

use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::upstream::{System, UpstreamError};

/// The `Authorization` header of one call and the token generation it came from.
#[derive(Clone)]
pub struct Bearer {
    pub header: HeaderValue,
    /// Increases each time the token is replaced; 0 for static tokens.
    pub generation: i64,
    token: SecretString,
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bearer")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Bearer {
    /// Builds the header for `token`, marked sensitive so that HTTP logging skips it.
    pub fn new(
        system: System,
        token: SecretString,
        generation: i64,
    ) -> Result<Bearer, UpstreamError> {
        let secret = token.expose_secret();
        if secret.trim().is_empty() {
            return Err(UpstreamError::Unauthorized {
                system,
                detail: format!("the {system} token is empty; configure a bearer token"),
            });
        }
        let mut header = HeaderValue::from_str(&format!("Bearer {secret}")).map_err(|_| {
            UpstreamError::Unauthorized {
                system,
                detail: format!(
                    "the {system} token contains characters that cannot be sent in an HTTP header; check it for line breaks or non-ASCII text"
                ),
            }
        })?;
        header.set_sensitive(true);
        Ok(Bearer {
            header,
            generation,
            token,
        })
    }

    /// Replaces this token in `text` with `[redacted]`.
    pub fn scrub(&self, text: &str) -> String {
        let token = self.token.expose_secret();
        if token.len() >= 4 {
            text.replace(token, "[redacted]")
        } else {
            text.to_string()
        }
    }
}

/// The source of an upstream client's bearer token.
#[derive(Clone)]
pub enum Credentials {
    /// A fixed token: a GHL private integration token or a Casebook token from the config.
    Static(Bearer),
    /// GHL OAuth tokens of one location, refreshed before they expire.
    GhlOAuth(Arc<ghl_oauth::GhlOAuth>),
    /// Casebook client credentials, exchanged for one-hour tokens.
    ClientCredentials(Arc<client_credentials::ClientCredentials>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Credentials::Static(_) => "Credentials::Static",
            Credentials::GhlOAuth(_) => "Credentials::GhlOAuth",
            Credentials::ClientCredentials(_) => "Credentials::ClientCredentials",
        })
    }
}

impl Credentials {
    /// Wraps a fixed token after checking that it can be sent in a header.
    pub fn fixed(system: System, token: SecretString) -> Result<Credentials, UpstreamError> {
        Ok(Credentials::Static(Bearer::new(system, token, 0)?))
    }

    /// Returns the bearer token for the next call, fetching or refreshing it when needed.
    pub async fn bearer(&self) -> Result<Bearer, UpstreamError> {
        match self {
            Credentials::Static(bearer) => Ok(bearer.clone()),
            Credentials::GhlOAuth(oauth) => oauth.bearer().await,
            Credentials::ClientCredentials(client) => client.bearer().await,
        }
    }

    /// Returns whether a rejected token can be replaced through the token endpoint.
    pub fn renewable(&self) -> bool {
        !matches!(self, Credentials::Static(_))
    }

    /// Replaces the token `used` after the upstream rejected it. When another task already
    /// replaced it, this returns at once.
    pub async fn renew(&self, used: &Bearer) -> Result<(), UpstreamError> {
        match self {
            Credentials::Static(_) => Ok(()),
            Credentials::GhlOAuth(oauth) => oauth.renew(used.generation).await.map(|_| ()),
            Credentials::ClientCredentials(client) => {
                client.renew(used.generation).await.map(|_| ())
            }
        }
    }
}
