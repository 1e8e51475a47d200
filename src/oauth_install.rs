//! The GHL app install flow: `GET /oauth/ghl/install` and `GET /oauth/ghl/callback`.
//!
//! The install route sends the browser to GHL's location chooser with a random `state`,
//! which is stored for ten minutes and accepted once. The callback exchanges the code for
//! the tenant that `state` names, checks that GHL installed the tenant's own location and
//! stores the tokens. Pages never show the code or a token.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::{
    credentials::{ghl_oauth::InstallError, store::TokenStore},
    linking,
    server::Gateway,
};

/// How long an install may take from the chooser back to the callback.
const STATE_LIFETIME: Duration = Duration::from_secs(600);

#[derive(Deserialize)]
pub struct InstallQuery {
    tenant: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<SecretString>,
    state: Option<String>,
    error: Option<String>,
}

/// Starts an install for `?tenant=<id>` by redirecting to GHL's location chooser.
// NOTE: the route needs no API key, because a person opens it in a browser. Each visit
// stores one short-lived state row; lapsed rows are removed on the next visit.
pub async fn install(
    State(gateway): State<Arc<Gateway>>,
    Query(query): Query<InstallQuery>,
) -> Response {
    let Some(tenant_id) = query.tenant.filter(|id| !id.trim().is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "The tenant is missing: open /oauth/ghl/install?tenant=<tenant id>.".to_string(),
        );
    };
    let oauth = match gateway.tenant(&tenant_id) {
        None => {
            return page(
                StatusCode::NOT_FOUND,
                format!(
                    "No tenant {tenant_id:?} is configured: use an id from the [tenants] tables."
                ),
            );
        }
        Some(tenant) => match &tenant.ghl_oauth {
            Some(oauth) => oauth.clone(),
            None if gateway.token_store().is_none() => return app_not_configured(),
            None => {
                return page(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "Tenant {tenant_id:?} uses a private integration token, so there is nothing to install: remove tenants.{tenant_id}.ghl.token to use the OAuth app instead."
                    ),
                );
            }
        },
    };
    let Some(store) = gateway.token_store() else {
        return app_not_configured();
    };

    let state = random_state();
    let expires_at = Utc::now()
        + chrono::Duration::from_std(STATE_LIFETIME).unwrap_or(chrono::Duration::minutes(10));
    if let Err(error) = store.save_state(&state, &tenant_id, expires_at).await {
        tracing::error!(tenant = %tenant_id, error = %error, "could not store the OAuth state");
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The gateway's database failed; try again.".to_string(),
        );
    }
    tracing::info!(tenant = %tenant_id, "GHL install started");
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, oauth.authorize_url(&state).to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// Completes an install: exchanges the code and stores the tokens.
pub async fn callback(
    State(gateway): State<Arc<Gateway>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    if let Some(error) = query.error {
        tracing::warn!(error = %error, "GHL install was not completed");
        return page(
            StatusCode::BAD_REQUEST,
            format!(
                "GHL did not install the app ({error}). Start again from /oauth/ghl/install?tenant=<tenant id>."
            ),
        );
    }
    let (Some(code), Some(state)) = (query.code, query.state) else {
        return page(
            StatusCode::BAD_REQUEST,
            "The callback needs both code and state; start the install from /oauth/ghl/install?tenant=<tenant id>.".to_string(),
        );
    };
    let Some(store) = gateway.token_store() else {
        return app_not_configured();
    };
    let tenant_id = match take_state(store, &state).await {
        Ok(Some(tenant_id)) => tenant_id,
        Ok(None) => {
            return page(
                StatusCode::BAD_REQUEST,
                "This install link has expired or was already used: start again from /oauth/ghl/install?tenant=<tenant id>.".to_string(),
            );
        }
        Err(response) => return response,
    };
    let Some(oauth) = gateway
        .tenant(&tenant_id)
        .and_then(|tenant| tenant.ghl_oauth.clone())
    else {
        return page(
            StatusCode::NOT_FOUND,
            format!("Tenant {tenant_id:?} no longer uses the OAuth app."),
        );
    };

    match oauth.complete_install(code.expose_secret()).await {
        Ok(()) => {
            // Scans that ran while the app was not installed could not read GHL, so the
            // tenant's contacts may be unlinked. This scan links them now rather than at
            // the next interval.
            if let Some(tenant) = gateway.tenant(&tenant_id)
                && tenant.links_automatically
            {
                linking::spawn_reconcile(tenant.clone(), gateway.store().clone());
            }
            page(
                StatusCode::OK,
                format!(
                    "The GHL app is installed for tenant {tenant_id:?}. You can close this page."
                ),
            )
        }
        Err(error) => {
            tracing::warn!(tenant = %tenant_id, error = %error, "GHL install failed");
            let status = match &error {
                InstallError::Upstream(_) => StatusCode::BAD_GATEWAY,
                InstallError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            page(status, format!("The install failed: {error}."))
        }
    }
}

async fn take_state(store: &TokenStore, state: &str) -> Result<Option<String>, Response> {
    store.take_state(state).await.map_err(|error| {
        tracing::error!(error = %error, "could not read the OAuth state");
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The gateway's database failed; try again.".to_string(),
        )
    })
}

/// Builds the 404 page of a gateway on which no tenant uses the GHL app, such as the demo.
///
/// Configuration validation requires `token_encryption_key` for any tenant that uses the
/// app, so a gateway without token storage has no such tenant.
fn app_not_configured() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "The GHL app is not configured on this gateway: no tenant uses [ghl_oauth], so there is \
         nothing to install. To try the install flow, run `casebook-ghl-gateway simulate ghl` and \
         `casebook-ghl-gateway serve` with a tenant without ghl.token and a [ghl_oauth] table \
         whose authorize_url is the simulator's /oauth/chooselocation (README, \"Simulators\")."
            .to_string(),
    )
}

/// 32 random bytes, base64url-encoded.
fn random_state() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn page(status: StatusCode, text: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}
