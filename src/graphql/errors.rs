//! The one place where failures become GraphQL errors.
//!
//! Each error carries a stable `extensions.code`. Upstream errors also name the system and
//! the upstream HTTP status. Upstream bodies, URLs and tokens stay in the server log and
//! never reach the client.

use async_graphql::{Context, Error, ErrorExtensions};
use tracing::warn;

use crate::{store::StoreError, upstream::UpstreamError};

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
            retry_after,
        } => match retry_after {
            Some(wait) => format!(
                "{system} rate limit reached; retry after {} s",
                wait.as_secs().max(1)
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
            retry_after.as_secs().max(1)
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
        if let UpstreamError::RateLimited {
            retry_after: Some(wait),
            ..
        } = error
        {
            extensions.set("retryAfterSeconds", wait.as_secs().max(1));
        }
    })
}

/// The part of a 401 detail that may reach a client: GHL's fixed reasons (scope, `Version`
/// header, private integration token) are passed on, anything else is summarised.
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
