//! Calls to an OAuth 2.0 token endpoint (RFC 6749 section 4), form-encoded.
//!
//! Client secrets, codes and tokens travel only in the request body, never in the URL,
//! and no error or log line built here contains them.

use std::time::Duration;

use reqwest::header;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use crate::{
    metrics::{Metrics, UPSTREAM_REQUESTS},
    upstream::{RateLimitScope, System, UpstreamError},
};

/// Largest token response read, in bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// A successful token response. GHL adds `locationId`, `userType` and more.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: SecretString,
    #[serde(default)]
    pub refresh_token: Option<SecretString>,
    /// Lifetime of the access token, in seconds.
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default, rename = "locationId")]
    pub location_id: Option<String>,
    #[serde(default, rename = "userType")]
    pub user_type: Option<String>,
}

/// A failed token request.
#[derive(Debug)]
pub enum TokenError {
    /// `invalid_grant`: the code or refresh token is expired, revoked or already used.
    InvalidGrant(String),
    /// `invalid_client` or `unauthorized_client`: the client id or secret is wrong.
    InvalidClient(String),
    /// Any other failure, classified like an API call.
    Upstream(UpstreamError),
}

/// One token URL and the HTTP client that reaches it.
#[derive(Clone, Debug)]
pub struct TokenEndpoint {
    system: System,
    url: Url,
    http: reqwest::Client,
    metrics: Option<Metrics>,
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenEndpoint {
    /// Creates an endpoint at `url` whose requests time out after `timeout`.
    pub fn new(
        system: System,
        url: Url,
        timeout: Duration,
        metrics: Option<Metrics>,
    ) -> Result<TokenEndpoint, String> {
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!(
                "the {system} token URL must be an http or https URL with a host"
            ));
        }
        if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "the {system} token URL must not carry a query string or user credentials; the client id and secret are sent in the request body"
            ));
        }
        // Redirects are not followed, so the form with the secret reaches only this host.
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|error| format!("the {system} token client could not be built: {error}"))?;
        Ok(TokenEndpoint {
            system,
            url,
            http,
            metrics,
        })
    }

    /// Posts `form` and reads the token response.
    pub async fn request(&self, form: &[(&str, &str)]) -> Result<TokenResponse, TokenError> {
        let system = self.system;
        let grant = form
            .iter()
            .find(|(name, _)| *name == "grant_type")
            .map(|(_, value)| *value)
            .unwrap_or("unknown");
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let result = self
            .http
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await;
        let mut response = match result {
            Ok(response) => response,
            Err(error) => {
                self.count("none");
                let error = if error.is_timeout() {
                    UpstreamError::Timeout { system }
                } else {
                    UpstreamError::Connect {
                        system,
                        detail: "the token endpoint could not be reached".to_string(),
                    }
                };
                tracing::warn!(
                    system = system.as_str(),
                    grant,
                    code = error.code(),
                    "token request failed"
                );
                return Err(TokenError::Upstream(error));
            }
        };
        let status = response.status();
        self.count(status.as_str());
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() <= MAX_BODY_BYTES => {
                    bytes.extend_from_slice(&chunk)
                }
                Ok(None) => break,
                Ok(Some(_)) | Err(_) => {
                    return Err(TokenError::Upstream(UpstreamError::BadResponse {
                        system,
                        detail: "the token response could not be read".to_string(),
                    }));
                }
            }
        }

        if status.is_success() {
            return serde_json::from_slice::<TokenResponse>(&bytes).map_err(|_| {
                TokenError::Upstream(UpstreamError::BadResponse {
                    system,
                    detail: "the token response is not the expected JSON (access_token missing?)"
                        .to_string(),
                })
            });
        }

        let oauth = serde_json::from_slice::<OAuthErrorBody>(&bytes).ok();
        let described = oauth.as_ref().map(|body| match &body.error_description {
            Some(description) => format!("{}: {}", body.error, truncate(description)),
            None => body.error.clone(),
        });
        tracing::warn!(
            system = system.as_str(),
            grant,
            status = status.as_u16(),
            error = described.as_deref().unwrap_or("no OAuth error body"),
            "token request rejected"
        );
        let code = oauth.as_ref().map(|body| body.error.as_str()).unwrap_or("");
        // Errors reach clients, so they carry the OAuth error code but not the upstream's
        // free-text description, which is logged above.
        let detail = match code {
            "" => format!("HTTP {}", status.as_u16()),
            code => truncate(code),
        };
        match (status.as_u16(), code) {
            (_, "invalid_grant") => Err(TokenError::InvalidGrant(detail)),
            (_, "invalid_client" | "unauthorized_client") => Err(TokenError::InvalidClient(detail)),
            (429, _) => Err(TokenError::Upstream(UpstreamError::RateLimited {
                system,
                scope: RateLimitScope::Burst,
                retry_after: None,
                sent: true,
            })),
            (500..=599, _) => Err(TokenError::Upstream(UpstreamError::Unavailable {
                system,
                status: status.as_u16(),
            })),
            (401, _) => Err(TokenError::InvalidClient(detail)),
            (status, _) => Err(TokenError::Upstream(UpstreamError::Rejected {
                system,
                status,
                messages: vec![format!("token endpoint: {detail}")],
            })),
        }
    }

    fn count(&self, status: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.increment(
                UPSTREAM_REQUESTS,
                &[
                    ("system", self.system.as_str()),
                    ("method", "POST"),
                    ("route", "token"),
                    ("status", status),
                ],
            );
        }
    }
}

/// Shortens upstream text for logs and errors.
fn truncate(text: &str) -> String {
    match text.char_indices().nth(200) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_string(),
    }
}

/// Exposes a secret for a form field; kept in one place so every use is easy to find.
pub fn form_value(secret: &SecretString) -> &str {
    secret.expose_secret()
}
