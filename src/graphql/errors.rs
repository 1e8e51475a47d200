//! The one place where failures become GraphQL errors.
//!
//! Each error carries a stable `extensions.code`. Upstream errors also name the system and
//! the upstream HTTP status. Upstream bodies, URLs and tokens stay in the server log and
//! never reach the client.

use std::time::Duration;

use async_graphql::{Context, Error, ErrorExtensions};
use tracing::warn;

use crate::{
    store::StoreError,
    upstream::{RateLimitScope, UpstreamError},
};

/// Client-facing error for an upstream failure.
pub fn upstream(error: &UpstreamError) -> Error {
    warn!(system = %error.system(), code = error.code(), error = %error, "upstream call failed");
    let message = match error {
        UpstreamError::Unauthorized { system, detail } => {
            format!(
                "{system} rejected the gateway's credentials ({}); check the tenant's {} credentials",
                client_safe_reason(detail),
                system.as_str().to_lowercase()
            )
        }
        UpstreamError::ReinstallRequired {
            system,
            account,
            install_path,
            reason,
        } => format!(
            "{system} location {account} must be installed again: {reason}. Open {install_path} on the gateway to install the app"
        ),
        UpstreamError::CredentialStore { system, .. } => {
            format!("the gateway could not read or store its {system} credentials; try again")
        }
        UpstreamError::Forbidden { system, .. } => {
            format!("{system} denied access to this record for the tenant's credentials")
        }
        UpstreamError::NotFound {
            system,
            resource,
            id,
        } => {
            format!("{system} has no {resource} with id {id}")
        }
        UpstreamError::RateLimited {
            system,
            scope: RateLimitScope::Daily,
            retry_after,
            ..
        } => match retry_after {
            Some(wait) => format!(
                "{system} rate limit reached for today: calls to {system} are paused until the daily limit resets; retry after {} s",
                whole_seconds(*wait)
            ),
            None => format!(
                "{system} rate limit reached for today: calls to {system} are paused until the daily limit resets"
            ),
        },
        UpstreamError::RateLimited {
            system,
            scope: RateLimitScope::Burst,
            retry_after,
            ..
        } => match retry_after {
            Some(wait) => format!(
                "{system} rate limit reached; retry after {} s",
                whole_seconds(*wait)
            ),
            None => format!("{system} rate limit reached; retry later"),
        },
        UpstreamError::Unavailable { system, .. } | UpstreamError::Connect { system, .. } => {
            format!("{system} is unavailable; data from it is missing from this response")
        }
        UpstreamError::CircuitOpen {
            system,
            retry_after,
        } => format!(
            "{system} is failing and calls to it are paused; retry after {} s",
            whole_seconds(*retry_after)
        ),
        UpstreamError::Timeout { system } => {
            format!("{system} did not answer in time; data from it is missing from this response")
        }
        UpstreamError::BadResponse { system, .. } => {
            format!("{system} sent a response the gateway could not read")
        }
        UpstreamError::Duplicate { system, .. } => {
            format!("{system} already has a record with this e-mail address or phone number")
        }
        UpstreamError::Rejected { system, status, .. } => {
            format!("{system} rejected the gateway's request (HTTP {status})")
        }
    };
    Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", error.code());
        extensions.set("system", error.system().as_str());
        if let Some(status) = error.status() {
            extensions.set("upstreamStatus", status);
        }
        if let UpstreamError::ReinstallRequired { install_path, .. } = error {
            extensions.set("reason", "REINSTALL_REQUIRED");
            extensions.set("installPath", install_path.as_str());
        }
        if let Some(wait) = error.retry_after() {
            extensions.set("retryAfter", whole_seconds(wait));
        }
        if let UpstreamError::RateLimited { scope, .. } = error {
            extensions.set("rateLimit", scope.as_str());
            // The earlier name of `retryAfter`, kept for existing clients.
            if let Some(wait) = error.retry_after() {
                extensions.set("retryAfterSeconds", whole_seconds(wait));
            }
        }
    })
}

/// Returns the part of a 401 detail that may reach a client. GHL's fixed reasons (scope,
/// `Version` header, private integration token) are passed on, and anything else is summarised.
fn client_safe_reason(detail: &str) -> &'static str {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("scope") {
        "the token is not authorized for this scope"
    } else if lower.contains("version header") {
        "the Version header was missing or invalid"
    } else if lower.contains("private integration") {
        "the private integration token is invalid"
    } else if lower.contains("client id or secret") || lower.contains("client credentials") {
        "the OAuth client id or secret was rejected"
    } else {
        "the token is invalid or expired"
    }
}

/// Rounds a wait up to whole seconds, at least 1, so that a client retrying after it is
/// never early.
fn whole_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// Client-facing error for a failure of the gateway's own database.
pub fn store(error: &StoreError) -> Error {
    tracing::error!(error = %error, "database call failed");
    Error::new("the gateway's database failed; try again").extend_with(|_, extensions| {
        extensions.set("code", "INTERNAL_SERVER_ERROR");
    })
}

/// Client-facing error for invalid input, naming the argument and the expected form.
pub fn bad_input(argument: &str, message: impl Into<String>) -> Error {
    let message = message.into();
    Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", "BAD_USER_INPUT");
        extensions.set("argument", argument);
    })
}

/// Client-facing error for a record that one system does not have.
pub fn not_found_in(system: crate::upstream::System, message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, extensions| {
        extensions.set("code", "NOT_FOUND");
        extensions.set("system", system.as_str());
    })
}

/// Client-facing error for a record the gateway does not know.
pub fn not_found(message: impl Into<String>) -> Error {
    Error::new(message.into()).extend_with(|_, extensions| extensions.set("code", "NOT_FOUND"))
}

/// Reports `error` at the current field's path while the field still returns data.
pub fn report(ctx: &Context<'_>, error: Error) {
    let error = ctx.set_error_path(error.into_server_error(ctx.item.pos));
    ctx.add_error(error);
}

/// Maps a database result to the client-facing error.
pub trait StoreResultExt<T> {
    fn or_internal(self) -> Result<T, Error>;
}

impl<T> StoreResultExt<T> for Result<T, StoreError> {
    fn or_internal(self) -> Result<T, Error> {
        self.map_err(|error| store(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::System;

    fn extensions(error: &UpstreamError) -> serde_json::Value {
        let error = upstream(error).into_server_error(async_graphql::Pos::default());
        serde_json::to_value(&error).unwrap()["extensions"].clone()
    }

    #[test]
    fn rate_limit_extensions() {
        let daily = UpstreamError::RateLimited {
            system: System::Ghl,
            scope: RateLimitScope::Daily,
            retry_after: Some(Duration::from_millis(3_600_001)),
            sent: false,
        };
        let message = upstream(&daily).message;
        assert!(message.starts_with("GHL rate limit reached"), "{message}");
        assert!(message.contains("retry after 3601 s"), "{message}");
        let daily = extensions(&daily);
        assert_eq!(daily["code"], "UPSTREAM_RATE_LIMITED");
        assert_eq!(daily["system"], "GHL");
        assert_eq!(daily["retryAfter"], 3_601, "rounded up");
        assert_eq!(daily["retryAfterSeconds"], 3_601);
        assert_eq!(daily["rateLimit"], "DAILY");
        assert!(
            daily.get("upstreamStatus").is_none(),
            "the held-back call had no upstream status"
        );

        let burst = extensions(&UpstreamError::RateLimited {
            system: System::Ghl,
            scope: RateLimitScope::Burst,
            retry_after: None,
            sent: true,
        });
        assert_eq!(burst["upstreamStatus"], 429);
        assert_eq!(burst["rateLimit"], "BURST");
        assert!(burst.get("retryAfter").is_none(), "no wait was known");
    }

    #[test]
    fn circuit_open_has_retry_after() {
        let open = extensions(&UpstreamError::CircuitOpen {
            system: System::Casebook,
            retry_after: Duration::from_millis(200),
        });
        assert_eq!(open["code"], "UPSTREAM_UNAVAILABLE");
        assert_eq!(open["retryAfter"], 1);
    }
}
