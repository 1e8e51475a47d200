//! HTTP clients for the two upstream systems and the error type they share.
//!
//! Each client owns its base URL, bearer token, timeouts and tracing spans. Errors are
//! classified by HTTP status or transport cause so that the GraphQL layer can map them to
//! stable `extensions.code` values without seeing upstream bodies.

pub mod casebook;
pub mod ghl;
mod http;
pub mod limits;
pub mod resilience;
#[cfg(test)]
mod test_support;

use std::{fmt, time::Duration};

pub use http::HttpSettings;

/// One of the two upstream systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, async_graphql::Enum)]
#[graphql(name = "Source")]
pub enum System {
    /// Casebook, the case-management system (JSON:API).
    Casebook,
    /// GoHighLevel, the CRM (REST API v2).
    Ghl,
}

impl System {
    /// The name used in error extensions and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Casebook => "CASEBOOK",
            System::Ghl => "GHL",
        }
    }
}

impl fmt::Display for System {
    /// Writes the system's name as people write it: `Casebook` or `GHL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            System::Casebook => "Casebook",
            System::Ghl => "GHL",
        })
    }
}

/// The rate limit that a 429 or a paused call refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitScope {
    /// Requests per window (GHL: 100 per 10 s per location).
    Burst,
    /// Requests per day (GHL: 200 000 per day per location).
    Daily,
}

impl RateLimitScope {
    /// Returns the name used in error extensions: `BURST` or `DAILY`.
    pub fn as_str(self) -> &'static str {
        match self {
            RateLimitScope::Burst => "BURST",
            RateLimitScope::Daily => "DAILY",
        }
    }
}

impl fmt::Display for RateLimitScope {
    /// Writes `burst` or `daily`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RateLimitScope::Burst => "burst",
            RateLimitScope::Daily => "daily",
        })
    }
}

/// A failed upstream call, classified by status code or transport cause.
///
/// Every variant is cheap to clone so that DataLoader results can be shared. The
/// `detail` and `messages` fields may contain upstream text: they are for logs only and
/// never reach a GraphQL client.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// 401: the token is missing, expired or lacks a scope, or a required header is missing.
    #[error("{system} rejected the credentials (HTTP 401): {detail}")]
    Unauthorized { system: System, detail: String },
    /// 403: the credentials are valid but not allowed to reach this record.
    #[error("{system} denied access (HTTP 403): {detail}")]
    Forbidden { system: System, detail: String },
    /// The record does not exist (404, or GHL's 400 "not found" body).
    #[error("{system} has no {resource} with id {id}")]
    NotFound {
        system: System,
        resource: &'static str,
        id: String,
    },
    /// 429, or a GHL call the gateway did not send because the location's daily quota is
    /// at or below `upstream.ghl_limits.daily_reserve`.
    #[error("{system} {scope} rate limit reached{}", if *sent { " (HTTP 429)" } else { "; the request was not sent" })]
    RateLimited {
        system: System,
        /// The limit that was reached.
        scope: RateLimitScope,
        /// The time until a call may succeed: `Retry-After` when the upstream sent it,
        /// the time until the daily reset for the daily limit, otherwise `None`.
        retry_after: Option<Duration>,
        /// Whether the request reached the upstream. False when the gateway did not send it.
        sent: bool,
    },
    /// 5xx from the upstream.
    #[error("{system} failed with HTTP {status}")]
    Unavailable { system: System, status: u16 },
    /// The request did not complete within the configured timeout.
    #[error("{system} did not answer within the timeout")]
    Timeout { system: System },
    /// The connection could not be made or was dropped.
    #[error("{system} connection failed: {detail}")]
    Connect { system: System, detail: String },
    /// The response was not the JSON document the contract describes.
    #[error("{system} sent a response that could not be read: {detail}")]
    BadResponse { system: System, detail: String },
    /// 400 or 422: the upstream rejected the request itself.
    #[error("{system} rejected the request (HTTP {status}): {}", messages.join("; "))]
    Rejected {
        system: System,
        status: u16,
        messages: Vec<String>,
    },
    /// The circuit breaker of this upstream is open after repeated failures.
    #[error("{system} is failing; calls are paused for {} ms", retry_after.as_millis())]
    CircuitOpen {
        system: System,
        retry_after: Duration,
    },
    /// The OAuth app must be installed again for this account, because its refresh token
    /// was rejected or it was never installed.
    #[error("{system} account {account} must be installed again ({reason}); open {install_path}")]
    ReinstallRequired {
        system: System,
        /// The GHL location id.
        account: String,
        /// The gateway path that starts the install, such as `/oauth/ghl/install?tenant=acme`.
        install_path: String,
        reason: String,
    },
    /// The gateway's own token storage failed.
    #[error("the stored {system} credentials could not be read or written: {detail}")]
    CredentialStore { system: System, detail: String },
    /// 400: a create would duplicate a record that already exists upstream, such as
    /// GHL's "This location does not allow duplicated contacts.".
    #[error("{system} already has this record{}: {detail}", existing_id.as_ref().map(|id| format!(" (id {id})")).unwrap_or_default())]
    Duplicate {
        system: System,
        /// Id of the existing record, when the upstream names it.
        existing_id: Option<String>,
        detail: String,
    },
}

impl UpstreamError {
    /// The system that failed.
    pub fn system(&self) -> System {
        match self {
            UpstreamError::Unauthorized { system, .. }
            | UpstreamError::Forbidden { system, .. }
            | UpstreamError::NotFound { system, .. }
            | UpstreamError::RateLimited { system, .. }
            | UpstreamError::Unavailable { system, .. }
            | UpstreamError::Timeout { system }
            | UpstreamError::Connect { system, .. }
            | UpstreamError::BadResponse { system, .. }
            | UpstreamError::Rejected { system, .. }
            | UpstreamError::Duplicate { system, .. }
            | UpstreamError::ReinstallRequired { system, .. }
            | UpstreamError::CredentialStore { system, .. }
            | UpstreamError::CircuitOpen { system, .. } => *system,
        }
    }

    /// The stable GraphQL `extensions.code` for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            UpstreamError::Unauthorized { .. } | UpstreamError::ReinstallRequired { .. } => {
                "UPSTREAM_UNAUTHORIZED"
            }
            UpstreamError::CredentialStore { .. } => "INTERNAL_SERVER_ERROR",
            UpstreamError::Forbidden { .. } => "UPSTREAM_FORBIDDEN",
            UpstreamError::NotFound { .. } => "NOT_FOUND",
            UpstreamError::RateLimited { .. } => "UPSTREAM_RATE_LIMITED",
            UpstreamError::Unavailable { .. }
            | UpstreamError::Connect { .. }
            | UpstreamError::CircuitOpen { .. } => "UPSTREAM_UNAVAILABLE",
            UpstreamError::Timeout { .. } => "UPSTREAM_TIMEOUT",
            UpstreamError::BadResponse { .. } => "UPSTREAM_BAD_RESPONSE",
            UpstreamError::Rejected { .. } => "UPSTREAM_REJECTED",
            UpstreamError::Duplicate { .. } => "UPSTREAM_DUPLICATE",
        }
    }

    /// Whether the request may have taken effect upstream although no success came back.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            UpstreamError::Timeout { .. }
                | UpstreamError::Connect { .. }
                | UpstreamError::BadResponse { .. }
        )
    }

    /// Whether trying the same request again later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            UpstreamError::RateLimited { .. }
                | UpstreamError::Unavailable { .. }
                | UpstreamError::CredentialStore { .. }
                | UpstreamError::CircuitOpen { .. }
                | UpstreamError::Timeout { .. }
                | UpstreamError::Connect { .. }
                | UpstreamError::BadResponse { .. }
        )
    }

    /// Returns the wait after which trying again may succeed, when the failure states one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            UpstreamError::RateLimited { retry_after, .. } => *retry_after,
            UpstreamError::CircuitOpen { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The upstream HTTP status, where the failure had one.
    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Unauthorized { .. } => Some(401),
            UpstreamError::Forbidden { .. } => Some(403),
            UpstreamError::Duplicate { .. } => Some(400),
            UpstreamError::RateLimited { sent: true, .. } => Some(429),
            UpstreamError::RateLimited { sent: false, .. } => None,
            UpstreamError::Unavailable { status, .. } | UpstreamError::Rejected { status, .. } => {
                Some(*status)
            }
            UpstreamError::NotFound { .. }
            | UpstreamError::ReinstallRequired { .. }
            | UpstreamError::CredentialStore { .. }
            | UpstreamError::CircuitOpen { .. }
            | UpstreamError::Timeout { .. }
            | UpstreamError::Connect { .. }
            | UpstreamError::BadResponse { .. } => None,
        }
    }
}
