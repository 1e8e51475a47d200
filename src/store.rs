//! The gateway's own state in SQLite or PostgreSQL through sqlx: contact links and matching
//! keys.
//!
//! Migrations under `migrations/sqlite/` and `migrations/postgres/` are embedded in the
//! binary, and those of the configured backend run at start.

mod database;
pub mod testing;

use std::{collections::HashMap, fmt::Write};

use chrono::Utc;
use sqlx::{AnyPool, Row, any::AnyRow};
use uuid::Uuid;

use crate::{identity::MatchKey, upstream::System};

pub use database::{Backend, is_sqlite_in_memory, redact_url};

/// Largest number of bound values in one statement. The limits are 32766 on SQLite (by
/// default) and 65535 on PostgreSQL.
pub(crate) const MAX_BIND: usize = 500;

/// How the two sides of a contact were joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum LinkMethod {
    /// The contact exists on one side only.
    Single,
    /// Joined automatically by a normalised e-mail address.
    Email,
    /// Joined automatically by an E.164 phone number.
    Phone,
    /// Joined by a person.
    Manual,
    /// Created through the gateway on both sides.
    Gateway,
}

impl LinkMethod {
    fn as_str(self) -> &'static str {
        match self {
            LinkMethod::Single => "single",
            LinkMethod::Email => "email",
            LinkMethod::Phone => "phone",
            LinkMethod::Manual => "manual",
            LinkMethod::Gateway => "gateway",
        }
    }

    fn from_db(value: &str) -> LinkMethod {
        match value {
            "email" => LinkMethod::Email,
            "phone" => LinkMethod::Phone,
            "manual" => LinkMethod::Manual,
            "gateway" => LinkMethod::Gateway,
            _ => LinkMethod::Single,
        }
    }
}

/// A unified contact: the gateway's id and the native id on each side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactLink {
    pub id: String,
    pub casebook_id: Option<String>,
    pub ghl_id: Option<String>,
    pub method: LinkMethod,
}

/// A failure of the gateway's database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// `database.url` names no supported database.
    #[error("{0}")]
    InvalidUrl(String),
    /// The database at `url` (shown without its password) could not be reached.
    #[error(
        "{url}: {source} (check database.url and that the database server accepts connections)"
    )]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed on {url}: {source}")]
    Migration {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("{0}")]
    Conflict(String),
}

/// Contact links and matching keys.
#[derive(Clone)]
pub struct LinkStore {
    pool: AnyPool,
}

impl LinkStore {
    /// Opens the database at `url` (a `sqlite:`, `postgres:` or `postgresql:` URL) with the
    /// default pool size and runs the migrations. A SQLite file is created if it is missing.
    pub async fn connect(url: &str) -> Result<LinkStore, StoreError> {
        LinkStore::connect_with(url, None).await
    }

    /// Like `connect`, with up to `max_connections` connections when it is set. The default
    /// is 8, or 1 for an in-memory SQLite database.
    pub async fn connect_with(
        url: &str,
        max_connections: Option<u32>,
    ) -> Result<LinkStore, StoreError> {
        let pool = database::open(url, max_connections).await?;
        Ok(LinkStore { pool })
    }

    /// The connection pool, for the other tables of the gateway's state.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Returns the backend this store's database runs on.
    pub fn backend(&self) -> Backend {
        Backend::of_pool(&self.pool)
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The active contact with this id, following merges.
    pub async fn get(&self, tenant: &str, id: &str) -> Result<Option<ContactLink>, StoreError> {
        let mut current = id.to_string();
        // Merges form short chains; the bound stops a cycle written by hand.
        for _ in 0..8 {
            let row = sqlx::query(
                "SELECT id, casebook_id, ghl_id, link_method, merged_into FROM contact_links
                 WHERE tenant = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(&current)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            match row.get::<Option<String>, _>("merged_into") {
                Some(next) => current = next,
                None => return Ok(Some(link_from_row(&row))),
            }
        }
        Ok(None)
    }

    /// Active contacts by native id on `system`, keyed by that native id.
    pub async fn by_native_ids(
        &self,
        tenant: &str,
        system: System,
        ids: &[String],
    ) -> Result<HashMap<String, ContactLink>, StoreError> {
        let column = native_column(system);
        let mut found = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BIND) {
            let sql = format!(
                "SELECT id, casebook_id, ghl_id, link_method FROM contact_links
                 WHERE merged_into IS NULL AND tenant = $1 AND {column} IN ({})",
                numbered_placeholders(2, chunk.len())
            );
            let mut query = sqlx::query(&sql).bind(tenant);
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&self.pool).await? {
                let link = link_from_row(&row);
                let native = match system {
                    System::Casebook => link.casebook_id.clone(),
                    System::Ghl => link.ghl_id.clone(),
                };
                if let Some(native) = native {
                    found.insert(native, link);
                }
            }
        }
        Ok(found)
    }

    /// Active contacts for native ids on `system`, creating a one-sided contact for each
    /// id that has none yet.
    pub async fn ensure_native_ids(
        &self,
        tenant: &str,
        system: System,
        ids: &[String],
    ) -> Result<HashMap<String, ContactLink>, StoreError> {
        let mut found = self.by_native_ids(tenant, system, ids).await?;
        let missing: Vec<&String> = ids.iter().filter(|id| !found.contains_key(*id)).collect();
        if missing.is_empty() {
            return Ok(found);
        }
        let column = native_column(system);
        let now = Utc::now().to_rfc3339();
        let mut transaction = self.pool.begin().await?;
        for id in &missing {
            // A concurrent request may have created the row; the unique index keeps one.
            sqlx::query(&format!(
                "INSERT INTO contact_links (id, tenant, {column}, link_method, created_at, updated_at)
                 VALUES ($1, $2, $3, 'single', $4, $5) ON CONFLICT DO NOTHING"
            ))
            .bind(Uuid::new_v4().to_string())
            .bind(tenant)
            .bind(id)
            .bind(&now)
            .bind(&now)
            .execute(&mut *transaction)
            .await?;
        }
        transaction.commit().await?;
        let missing: Vec<String> = missing.into_iter().cloned().collect();
        found.extend(self.by_native_ids(tenant, system, &missing).await?);
        Ok(found)
    }

    /// Joins a Casebook person and a GHL contact into one contact.
    ///
    /// When each side already has a one-sided contact, the GHL one is merged into the
    /// Casebook one and keeps resolving to it. Fails with `Conflict` when either side is
    /// already joined to a different record.
    pub async fn link_pair(
        &self,
        tenant: &str,
        casebook_id: &str,
        ghl_id: &str,
        method: LinkMethod,
    ) -> Result<ContactLink, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let select = "SELECT id, casebook_id, ghl_id, link_method FROM contact_links
                      WHERE tenant = $1 AND merged_into IS NULL AND ";
        let casebook_row = sqlx::query(&format!("{select} casebook_id = $2"))
            .bind(tenant)
            .bind(casebook_id)
            .fetch_optional(&mut *transaction)
            .await?
            .map(|row| link_from_row(&row));
        let ghl_row = sqlx::query(&format!("{select} ghl_id = $2"))
            .bind(tenant)
            .bind(ghl_id)
            .fetch_optional(&mut *transaction)
            .await?
            .map(|row| link_from_row(&row));
        let now = Utc::now().to_rfc3339();

        let id = match (casebook_row, ghl_row) {
            (Some(a), Some(b)) if a.id == b.id => {
                transaction.commit().await?;
                return Ok(a);
            }
            (Some(a), _) if a.ghl_id.is_some() => {
                return Err(StoreError::Conflict(format!(
                    "Casebook person {casebook_id} is already linked to GHL contact {}",
                    a.ghl_id.unwrap_or_default()
                )));
            }
            (_, Some(b)) if b.casebook_id.is_some() => {
                return Err(StoreError::Conflict(format!(
                    "GHL contact {ghl_id} is already linked to Casebook person {}",
                    b.casebook_id.unwrap_or_default()
                )));
            }
            (Some(a), ghl_row) => {
                if let Some(b) = ghl_row {
                    sqlx::query(
                        "UPDATE contact_links SET merged_into = $1, updated_at = $2 WHERE id = $3",
                    )
                    .bind(&a.id)
                    .bind(&now)
                    .bind(&b.id)
                    .execute(&mut *transaction)
                    .await?;
                }
                sqlx::query(
                    "UPDATE contact_links SET ghl_id = $1, link_method = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(ghl_id)
                .bind(method.as_str())
                .bind(&now)
                .bind(&a.id)
                .execute(&mut *transaction)
                .await?;
                a.id
            }
            (None, Some(b)) => {
                sqlx::query(
                    "UPDATE contact_links SET casebook_id = $1, link_method = $2, updated_at = $3 WHERE id = $4",
                )
                .bind(casebook_id)
                .bind(method.as_str())
                .bind(&now)
                .bind(&b.id)
                .execute(&mut *transaction)
                .await?;
                b.id
            }
            (None, None) => {
                let id = Uuid::new_v4().to_string();
                sqlx::query(
                    "INSERT INTO contact_links (id, tenant, casebook_id, ghl_id, link_method, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&id)
                .bind(tenant)
                .bind(casebook_id)
                .bind(ghl_id)
                .bind(method.as_str())
                .bind(&now)
                .bind(&now)
                .execute(&mut *transaction)
                .await?;
                id
            }
        };
        transaction.commit().await?;
        Ok(ContactLink {
            id,
            casebook_id: Some(casebook_id.to_string()),
            ghl_id: Some(ghl_id.to_string()),
            method,
        })
    }

    /// Creates a contact with no native id yet; the writes fill them in.
    pub async fn create_contact(
        &self,
        tenant: &str,
        method: LinkMethod,
    ) -> Result<ContactLink, StoreError> {
        let id = Uuid::new_v4().to_string();
        let now = Utc::now().to_rfc3339();
        sqlx::query(
            "INSERT INTO contact_links (id, tenant, link_method, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(method.as_str())
        .bind(&now)
        .bind(&now)
        .execute(&self.pool)
        .await?;
        Ok(ContactLink {
            id,
            casebook_id: None,
            ghl_id: None,
            method,
        })
    }

    /// Records the native id of one side of a contact.
    ///
    /// Fails with `Conflict` when another active contact already has that native id.
    pub async fn set_native_id(
        &self,
        tenant: &str,
        id: &str,
        system: System,
        native_id: &str,
    ) -> Result<(), StoreError> {
        let column = native_column(system);
        let result = sqlx::query(&format!(
            "UPDATE contact_links SET {column} = $1, updated_at = $2 WHERE tenant = $3 AND id = $4"
        ))
        .bind(native_id)
        .bind(Utc::now().to_rfc3339())
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                Err(StoreError::Conflict(format!(
                    "{system} record {native_id} already belongs to another contact"
                )))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Splits a linked contact into two one-sided contacts; the Casebook side keeps the id.
    pub async fn unlink(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<(ContactLink, ContactLink), StoreError> {
        let Some(link) = self.get(tenant, id).await? else {
            return Err(StoreError::Conflict(format!("no contact has id {id}")));
        };
        let (Some(casebook_id), Some(ghl_id)) = (link.casebook_id.clone(), link.ghl_id.clone())
        else {
            return Err(StoreError::Conflict(
                "the contact is not linked: it has one side only".to_string(),
            ));
        };
        let now = Utc::now().to_rfc3339();
        let ghl_row = Uuid::new_v4().to_string();
        let mut transaction = self.pool.begin().await?;
        sqlx::query("UPDATE contact_links SET ghl_id = NULL, link_method = 'single', updated_at = $1 WHERE id = $2")
            .bind(&now)
            .bind(&link.id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query(
            "INSERT INTO contact_links (id, tenant, ghl_id, link_method, created_at, updated_at)
             VALUES ($1, $2, $3, 'single', $4, $5)",
        )
        .bind(&ghl_row)
        .bind(tenant)
        .bind(&ghl_id)
        .bind(&now)
        .bind(&now)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok((
            ContactLink {
                id: link.id,
                casebook_id: Some(casebook_id),
                ghl_id: None,
                method: LinkMethod::Single,
            },
            ContactLink {
                id: ghl_row,
                casebook_id: None,
                ghl_id: Some(ghl_id),
                method: LinkMethod::Single,
            },
        ))
    }

    /// Removes a contact and the rows merged into it.
    pub async fn delete_contact(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        sqlx::query("DELETE FROM contact_links WHERE tenant = $1 AND merged_into = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM contact_links WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Number of active contacts that have both a Casebook and a GHL record.
    pub async fn count_joined(&self, tenant: &str) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM contact_links WHERE tenant = $1 AND merged_into IS NULL
             AND casebook_id IS NOT NULL AND ghl_id IS NOT NULL",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
        Ok(count.max(0) as u64)
    }

    /// Replaces the stored matching keys of these records.
    pub async fn replace_keys(
        &self,
        tenant: &str,
        system: System,
        records: &[(String, Vec<MatchKey>)],
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        for (record_id, keys) in records {
            sqlx::query(
                "DELETE FROM identity_keys WHERE tenant = $1 AND system = $2 AND record_id = $3",
            )
            .bind(tenant)
            .bind(system.as_str())
            .bind(record_id)
            .execute(&mut *transaction)
            .await?;
            for key in keys {
                sqlx::query(
                    "INSERT INTO identity_keys (tenant, system, record_id, kind, value)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(tenant)
                .bind(system.as_str())
                .bind(record_id)
                .bind(key.kind.as_str())
                .bind(&key.value)
                .execute(&mut *transaction)
                .await?;
            }
        }
        transaction.commit().await?;
        Ok(())
    }

    /// Records on `system` that carry any of these keys, with the key that matched.
    pub async fn records_with_keys(
        &self,
        tenant: &str,
        system: System,
        keys: &[MatchKey],
    ) -> Result<Vec<(String, MatchKey)>, StoreError> {
        let mut found = Vec::new();
        for key in keys {
            let rows = sqlx::query(
                "SELECT record_id FROM identity_keys WHERE tenant = $1 AND system = $2 AND kind = $3 AND value = $4",
            )
            .bind(tenant)
            .bind(system.as_str())
            .bind(key.kind.as_str())
            .bind(&key.value)
            .fetch_all(&self.pool)
            .await?;
            found.extend(
                rows.iter()
                    .map(|row| (row.get::<String, _>("record_id"), key.clone())),
            );
        }
        Ok(found)
    }
}

/// Writes `count` numbered placeholders from `$first` on, separated by commas. sqlx's
/// QueryBuilder writes `?` placeholders for the `Any` driver, which PostgreSQL rejects.
pub(crate) fn numbered_placeholders(first: usize, count: usize) -> String {
    let mut list = String::with_capacity(count * 5);
    for position in first..first + count {
        let separator = if position == first { "" } else { ", " };
        write!(list, "{separator}${position}").expect("writing to a String");
    }
    list
}

fn native_column(system: System) -> &'static str {
    match system {
        System::Casebook => "casebook_id",
        System::Ghl => "ghl_id",
    }
}

fn link_from_row(row: &AnyRow) -> ContactLink {
    ContactLink {
        id: row.get("id"),
        casebook_id: row.get("casebook_id"),
        ghl_id: row.get("ghl_id"),
        method: LinkMethod::from_db(row.get::<&str, _>("link_method")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{identity::KeyKind, store::testing::backend_tests};

    backend_tests!(
        one_sided_contacts_are_created_once,
        linking_merges_two_one_sided_contacts,
        linking_a_joined_record_elsewhere_is_a_conflict,
        tenants_do_not_share_links,
        keys_are_replaced_per_record,
        native_ids_are_found_in_large_batches,
        taken_native_id_is_a_conflict,
        unlink_then_delete_removes_merged_rows,
    );

    async fn store(url: &str) -> LinkStore {
        LinkStore::connect(url).await.unwrap()
    }

    async fn one_sided_contacts_are_created_once(url: &str) {
        let store = store(url).await;
        let ids = vec!["p1".to_string(), "p2".to_string()];
        let first = store
            .ensure_native_ids("t", System::Casebook, &ids)
            .await
            .unwrap();
        let second = store
            .ensure_native_ids("t", System::Casebook, &ids)
            .await
            .unwrap();
        assert_eq!(first, second);
        assert_eq!(first["p1"].method, LinkMethod::Single);
    }

    async fn linking_merges_two_one_sided_contacts(url: &str) {
        let store = store(url).await;
        let casebook = store
            .ensure_native_ids("t", System::Casebook, &["p1".to_string()])
            .await
            .unwrap()["p1"]
            .clone();
        let ghl = store
            .ensure_native_ids("t", System::Ghl, &["g1".to_string()])
            .await
            .unwrap()["g1"]
            .clone();

        let joined = store
            .link_pair("t", "p1", "g1", LinkMethod::Email)
            .await
            .unwrap();

        assert_eq!(joined.id, casebook.id);
        let via_old_id = store.get("t", &ghl.id).await.unwrap().unwrap();
        assert_eq!(via_old_id.id, casebook.id);
        assert_eq!(via_old_id.ghl_id.as_deref(), Some("g1"));
        assert_eq!(store.count_joined("t").await.unwrap(), 1);
    }

    async fn linking_a_joined_record_elsewhere_is_a_conflict(url: &str) {
        let store = store(url).await;
        store
            .link_pair("t", "p1", "g1", LinkMethod::Email)
            .await
            .unwrap();
        let error = store
            .link_pair("t", "p1", "g2", LinkMethod::Phone)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::Conflict(_)), "{error}");
    }

    async fn tenants_do_not_share_links(url: &str) {
        let store = store(url).await;
        store
            .link_pair("a", "p1", "g1", LinkMethod::Email)
            .await
            .unwrap();
        let other = store
            .by_native_ids("b", System::Casebook, &["p1".to_string()])
            .await
            .unwrap();
        assert!(other.is_empty());
    }

    async fn keys_are_replaced_per_record(url: &str) {
        let store = store(url).await;
        let key = |value: &str| MatchKey {
            kind: KeyKind::Email,
            value: value.to_string(),
        };
        store
            .replace_keys(
                "t",
                System::Ghl,
                &[("g1".to_string(), vec![key("a@x.org")])],
            )
            .await
            .unwrap();
        store
            .replace_keys(
                "t",
                System::Ghl,
                &[("g1".to_string(), vec![key("b@x.org")])],
            )
            .await
            .unwrap();
        assert!(
            store
                .records_with_keys("t", System::Ghl, &[key("a@x.org")])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .records_with_keys("t", System::Ghl, &[key("b@x.org")])
                .await
                .unwrap()
                .len(),
            1
        );
    }

    async fn native_ids_are_found_in_large_batches(url: &str) {
        let store = store(url).await;
        // More ids than one statement binds, so the lookups run in several chunks.
        let ids: Vec<String> = (0..MAX_BIND * 2 + 7).map(|n| format!("p{n}")).collect();

        let created = store
            .ensure_native_ids("t", System::Casebook, &ids)
            .await
            .unwrap();
        let found = store
            .by_native_ids("t", System::Casebook, &ids)
            .await
            .unwrap();

        assert_eq!(created.len(), ids.len());
        assert_eq!(found, created);
        assert_eq!(found["p1000"].casebook_id.as_deref(), Some("p1000"));
    }

    async fn taken_native_id_is_a_conflict(url: &str) {
        let store = store(url).await;
        let first = store
            .create_contact("t", LinkMethod::Gateway)
            .await
            .unwrap();
        let second = store
            .create_contact("t", LinkMethod::Gateway)
            .await
            .unwrap();
        store
            .set_native_id("t", &first.id, System::Ghl, "g1")
            .await
            .unwrap();

        let error = store
            .set_native_id("t", &second.id, System::Ghl, "g1")
            .await
            .unwrap_err();

        assert!(matches!(error, StoreError::Conflict(_)), "{error}");
        let second = store.get("t", &second.id).await.unwrap().unwrap();
        assert_eq!(second.ghl_id, None);
    }

    async fn unlink_then_delete_removes_merged_rows(url: &str) {
        let store = store(url).await;
        let casebook = store
            .ensure_native_ids("t", System::Casebook, &["p1".to_string()])
            .await
            .unwrap()["p1"]
            .clone();
        let ghl = store
            .ensure_native_ids("t", System::Ghl, &["g1".to_string()])
            .await
            .unwrap()["g1"]
            .clone();
        store
            .link_pair("t", "p1", "g1", LinkMethod::Manual)
            .await
            .unwrap();

        let (kept, split) = store.unlink("t", &casebook.id).await.unwrap();
        assert_eq!(kept.id, casebook.id);
        assert_eq!(kept.ghl_id, None);
        assert_eq!(split.ghl_id.as_deref(), Some("g1"));
        assert_eq!(store.count_joined("t").await.unwrap(), 0);

        // The merged GHL row refers to the Casebook row, so both go together.
        store.delete_contact("t", &casebook.id).await.unwrap();
        assert_eq!(store.get("t", &casebook.id).await.unwrap(), None);
        assert_eq!(store.get("t", &ghl.id).await.unwrap(), None);
        assert_eq!(
            store
                .get("t", &split.id)
                .await
                .unwrap()
                .unwrap()
                .ghl_id
                .as_deref(),
            Some("g1")
        );
    }
}
