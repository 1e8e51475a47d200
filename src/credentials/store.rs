//! OAuth tokens and install states in the gateway's database.
//!
//! Tokens are encrypted before they are written. A refresh is claimed with a lease on the
//! row (`refresh_owner`, `refresh_lease_until`) through a conditional `UPDATE`, so only
//! one gateway process that shares the database refreshes a location at a time.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sqlx::{AnyPool, Row};

use super::cipher::{DecryptError, TokenCipher};
use crate::store::StoreError;

/// Status of a stored token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    /// The refresh token was rejected; the app must be installed again.
    ReinstallRequired {
        reason: String,
    },
}

/// A decrypted token pair with its row metadata.
#[derive(Clone)]
pub struct StoredTokens {
    pub account_id: String,
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub scope: String,
    pub generation: i64,
    pub status: TokenStatus,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("account_id", &self.account_id)
            .field("expires_at", &self.expires_at)
            .field("generation", &self.generation)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// New tokens from the token endpoint.
#[derive(Clone)]
pub struct NewTokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
    pub expires_at: DateTime<Utc>,
    pub scope: String,
}

/// A stored-token failure.
#[derive(Debug, thiserror::Error)]
pub enum TokenStoreError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
}

impl From<sqlx::Error> for TokenStoreError {
    fn from(error: sqlx::Error) -> Self {
        TokenStoreError::Store(StoreError::Database(error))
    }
}

/// Encrypted OAuth tokens of one system, keyed by tenant.
#[derive(Clone, Debug)]
pub struct TokenStore {
    pool: AnyPool,
    cipher: TokenCipher,
    system: &'static str,
    /// Identifies this process in refresh claims.
    owner: String,
}

fn context(tenant: &str, system: &str, field: &str) -> String {
    format!("{tenant}/{system}/{field}")
}

impl TokenStore {
    /// Creates a store for the tokens of `system` (such as `ghl`) that claims refreshes
    /// under a new random owner id.
    pub fn new(pool: AnyPool, cipher: TokenCipher, system: &'static str) -> TokenStore {
        TokenStore {
            pool,
            cipher,
            system,
            owner: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Loads the tenant's token pair, or `None` before the first install.
    pub async fn load(&self, tenant: &str) -> Result<Option<StoredTokens>, TokenStoreError> {
        let row = sqlx::query(
            "SELECT account_id, access_token, refresh_token, expires_at, scope, generation,
                    status, status_reason
             FROM oauth_tokens WHERE tenant = $1 AND system = $2",
        )
        .bind(tenant)
        .bind(self.system)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let access: Vec<u8> = row.get("access_token");
        let refresh: Vec<u8> = row.get("refresh_token");
        let status = match row.get::<String, _>("status").as_str() {
            "active" => TokenStatus::Active,
            _ => TokenStatus::ReinstallRequired {
                reason: row
                    .get::<Option<String>, _>("status_reason")
                    .unwrap_or_default(),
            },
        };
        Ok(Some(StoredTokens {
            account_id: row.get("account_id"),
            access_token: self
                .cipher
                .decrypt(&context(tenant, self.system, "access_token"), &access)?,
            refresh_token: self
                .cipher
                .decrypt(&context(tenant, self.system, "refresh_token"), &refresh)?,
            expires_at: DateTime::from_timestamp_millis(row.get("expires_at")).unwrap_or_default(),
            scope: row.get("scope"),
            generation: row.get("generation"),
            status,
        }))
    }

    /// Stores the tokens of a new install, replacing any earlier pair, and returns the
    /// new generation.
    pub async fn install(
        &self,
        tenant: &str,
        account_id: &str,
        tokens: &NewTokens,
    ) -> Result<i64, TokenStoreError> {
        let (access, refresh) = self.seal(tenant, tokens);
        let row = sqlx::query(
            "INSERT INTO oauth_tokens (tenant, system, account_id, access_token, refresh_token,
                 expires_at, scope, generation, status, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 'active', $8)
             ON CONFLICT (tenant, system) DO UPDATE SET
                 account_id = excluded.account_id, access_token = excluded.access_token,
                 refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
                 scope = excluded.scope, generation = oauth_tokens.generation + 1,
                 refresh_owner = NULL, refresh_lease_until = NULL, status = 'active',
                 status_reason = NULL, updated_at = excluded.updated_at
             RETURNING generation",
        )
        .bind(tenant)
        .bind(self.system)
        .bind(account_id)
        .bind(access)
        .bind(refresh)
        .bind(tokens.expires_at.timestamp_millis())
        .bind(&tokens.scope)
        .bind(Utc::now().to_rfc3339())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get("generation"))
    }

    /// Claims the refresh of `generation` for this process until `lease_until`. Returns false
    /// when the row has moved on to another generation or another owner has a live claim.
    pub async fn claim_refresh(
        &self,
        tenant: &str,
        generation: i64,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, TokenStoreError> {
        let now = Utc::now().timestamp_millis();
        let result = sqlx::query(
            "UPDATE oauth_tokens SET refresh_owner = $1, refresh_lease_until = $2
             WHERE tenant = $3 AND system = $4 AND generation = $5 AND status = 'active'
               AND (refresh_lease_until IS NULL OR refresh_lease_until < $6 OR refresh_owner = $7)",
        )
        .bind(&self.owner)
        .bind(lease_until.timestamp_millis())
        .bind(tenant)
        .bind(self.system)
        .bind(generation)
        .bind(now)
        .bind(&self.owner)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Stores the refreshed pair under this process's claim and returns the new
    /// generation, or `None` when the claim was lost (its lease lapsed and another
    /// process took over).
    pub async fn complete_refresh(
        &self,
        tenant: &str,
        tokens: &NewTokens,
    ) -> Result<Option<i64>, TokenStoreError> {
        let (access, refresh) = self.seal(tenant, tokens);
        let row = sqlx::query(
            "UPDATE oauth_tokens SET access_token = $1, refresh_token = $2, expires_at = $3,
                 scope = $4, generation = generation + 1, refresh_owner = NULL,
                 refresh_lease_until = NULL, updated_at = $5
             WHERE tenant = $6 AND system = $7 AND refresh_owner = $8
             RETURNING generation",
        )
        .bind(access)
        .bind(refresh)
        .bind(tokens.expires_at.timestamp_millis())
        .bind(&tokens.scope)
        .bind(Utc::now().to_rfc3339())
        .bind(tenant)
        .bind(self.system)
        .bind(&self.owner)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.get("generation")))
    }

    /// Gives up this process's claim without changing the tokens.
    pub async fn release_refresh(&self, tenant: &str) -> Result<(), TokenStoreError> {
        sqlx::query(
            "UPDATE oauth_tokens SET refresh_owner = NULL, refresh_lease_until = NULL
             WHERE tenant = $1 AND system = $2 AND refresh_owner = $3",
        )
        .bind(tenant)
        .bind(self.system)
        .bind(&self.owner)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the tenant's tokens as unusable until the app is installed again.
    pub async fn require_reinstall(
        &self,
        tenant: &str,
        reason: &str,
    ) -> Result<(), TokenStoreError> {
        sqlx::query(
            "UPDATE oauth_tokens SET status = 'reinstall_required', status_reason = $1,
                 refresh_owner = NULL, refresh_lease_until = NULL, updated_at = $2
             WHERE tenant = $3 AND system = $4",
        )
        .bind(reason)
        .bind(Utc::now().to_rfc3339())
        .bind(tenant)
        .bind(self.system)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the `state` of an install flow for `tenant` until `expires_at`, and drops
    /// states that have lapsed.
    pub async fn save_state(
        &self,
        state: &str,
        tenant: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), TokenStoreError> {
        sqlx::query("DELETE FROM oauth_states WHERE expires_at < $1")
            .bind(Utc::now().timestamp_millis())
            .execute(&self.pool)
            .await?;
        sqlx::query("INSERT INTO oauth_states (state, tenant, expires_at) VALUES ($1, $2, $3)")
            .bind(state)
            .bind(tenant)
            .bind(expires_at.timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes `state` and returns its tenant when it exists and has not lapsed; each
    /// state is accepted once.
    pub async fn take_state(&self, state: &str) -> Result<Option<String>, TokenStoreError> {
        let row =
            sqlx::query("DELETE FROM oauth_states WHERE state = $1 RETURNING tenant, expires_at")
                .bind(state)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|row| {
            let expires_at: i64 = row.get("expires_at");
            (expires_at >= Utc::now().timestamp_millis()).then(|| row.get("tenant"))
        }))
    }

    fn seal(&self, tenant: &str, tokens: &NewTokens) -> (Vec<u8>, Vec<u8>) {
        (
            self.cipher.encrypt(
                &context(tenant, self.system, "access_token"),
                &tokens.access_token,
            ),
            self.cipher.encrypt(
                &context(tenant, self.system, "refresh_token"),
                &tokens.refresh_token,
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use secrecy::ExposeSecret;

    use super::*;
    use crate::store::{
        LinkStore,
        testing::{backend_tests, replica_tests},
    };

    backend_tests!(
        install_then_load_decrypts,
        one_process_claims_a_refresh,
        lapsed_claim_can_be_taken_over,
        reinstall_status_blocks_claims_until_install,
        states_are_single_use_and_expire,
    );

    replica_tests!(refresh_is_claimed_once_per_generation_across_replicas);

    fn cipher() -> TokenCipher {
        let key = SecretString::from(base64::engine::general_purpose::STANDARD.encode([3u8; 32]));
        TokenCipher::from_base64(&key).unwrap()
    }

    /// Two stores with their own owner ids on one pool.
    async fn two_stores(url: &str) -> (TokenStore, TokenStore) {
        let links = LinkStore::connect(url).await.unwrap();
        let cipher = cipher();
        (
            TokenStore::new(links.pool().clone(), cipher.clone(), "ghl"),
            TokenStore::new(links.pool().clone(), cipher, "ghl"),
        )
    }

    fn tokens(name: &str) -> NewTokens {
        NewTokens {
            access_token: SecretString::from(format!("access-{name}")),
            refresh_token: SecretString::from(format!("refresh-{name}")),
            expires_at: Utc::now() + chrono::Duration::hours(1),
            scope: "contacts.readonly".to_string(),
        }
    }

    async fn install_then_load_decrypts(url: &str) {
        let (store, _) = two_stores(url).await;
        assert!(store.load("acme").await.unwrap().is_none());
        assert_eq!(store.install("acme", "loc", &tokens("a")).await.unwrap(), 1);
        let loaded = store.load("acme").await.unwrap().unwrap();
        assert_eq!(loaded.refresh_token.expose_secret(), "refresh-a");
        assert_eq!(loaded.account_id, "loc");
        assert_eq!(loaded.status, TokenStatus::Active);
        assert_eq!(store.install("acme", "loc", &tokens("b")).await.unwrap(), 2);
    }

    async fn one_process_claims_a_refresh(url: &str) {
        let (first, second) = two_stores(url).await;
        first.install("acme", "loc", &tokens("a")).await.unwrap();
        let lease = Utc::now() + chrono::Duration::seconds(30);
        assert!(first.claim_refresh("acme", 1, lease).await.unwrap());
        assert!(!second.claim_refresh("acme", 1, lease).await.unwrap());

        assert_eq!(
            first.complete_refresh("acme", &tokens("b")).await.unwrap(),
            Some(2)
        );
        assert!(
            !second.claim_refresh("acme", 1, lease).await.unwrap(),
            "generation 1 is gone"
        );
        assert!(second.claim_refresh("acme", 2, lease).await.unwrap());
        assert_eq!(
            first.complete_refresh("acme", &tokens("c")).await.unwrap(),
            None,
            "a process without the claim cannot store"
        );
    }

    async fn lapsed_claim_can_be_taken_over(url: &str) {
        let (first, second) = two_stores(url).await;
        first.install("acme", "loc", &tokens("a")).await.unwrap();
        let lapsed = Utc::now() - chrono::Duration::seconds(1);
        assert!(first.claim_refresh("acme", 1, lapsed).await.unwrap());
        let lease = Utc::now() + chrono::Duration::seconds(30);
        assert!(second.claim_refresh("acme", 1, lease).await.unwrap());
    }

    async fn reinstall_status_blocks_claims_until_install(url: &str) {
        let (store, _) = two_stores(url).await;
        store.install("acme", "loc", &tokens("a")).await.unwrap();
        store
            .require_reinstall("acme", "refresh token used")
            .await
            .unwrap();
        let loaded = store.load("acme").await.unwrap().unwrap();
        assert_eq!(
            loaded.status,
            TokenStatus::ReinstallRequired {
                reason: "refresh token used".to_string()
            }
        );
        let lease = Utc::now() + chrono::Duration::seconds(30);
        assert!(!store.claim_refresh("acme", 1, lease).await.unwrap());
        store.install("acme", "loc", &tokens("b")).await.unwrap();
        let loaded = store.load("acme").await.unwrap().unwrap();
        assert_eq!(loaded.status, TokenStatus::Active);
    }

    async fn states_are_single_use_and_expire(url: &str) {
        let (store, _) = two_stores(url).await;
        let later = Utc::now() + chrono::Duration::minutes(10);
        store.save_state("s1", "acme", later).await.unwrap();
        assert_eq!(
            store.take_state("s1").await.unwrap().as_deref(),
            Some("acme")
        );
        assert_eq!(store.take_state("s1").await.unwrap(), None);
        let past = Utc::now() - chrono::Duration::seconds(1);
        store.save_state("s2", "acme", past).await.unwrap();
        assert_eq!(store.take_state("s2").await.unwrap(), None);
    }

    /// Two replicas with eight stores each race for the refresh of each generation, and
    /// exactly one store wins each time. Each store has its own owner id, like a process.
    async fn refresh_is_claimed_once_per_generation_across_replicas(url: &str) {
        let pools = [
            LinkStore::connect(url).await.unwrap().pool().clone(),
            LinkStore::connect(url).await.unwrap().pool().clone(),
        ];
        let stores: Vec<TokenStore> = (0..16)
            .map(|n| TokenStore::new(pools[n % 2].clone(), cipher(), "ghl"))
            .collect();
        let mut generation = stores[0]
            .install("acme", "loc", &tokens("a"))
            .await
            .unwrap();

        for round in 0..5 {
            let lease = Utc::now() + chrono::Duration::seconds(30);
            let mut claims = Vec::new();
            for store in &stores {
                let store = store.clone();
                claims.push(tokio::spawn(async move {
                    store
                        .claim_refresh("acme", generation, lease)
                        .await
                        .unwrap()
                }));
            }
            let mut winners = Vec::new();
            for (index, claim) in claims.into_iter().enumerate() {
                if claim.await.unwrap() {
                    winners.push(index);
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");

            let winner = &stores[winners[0]];
            let next = winner
                .complete_refresh("acme", &tokens(&format!("round-{round}")))
                .await
                .unwrap();
            assert_eq!(next, Some(generation + 1), "round {round}");
            generation += 1;
        }
        let loaded = stores[1].load("acme").await.unwrap().unwrap();
        assert_eq!(loaded.generation, generation);
        assert_eq!(loaded.refresh_token.expose_secret(), "refresh-round-4");
    }
}
