//! Automatic linking of Casebook people to GHL contacts.
//!
//! Casebook filters are exact and case-sensitive, so a phone written `(555) 010-2345`
//! cannot be found upstream by `+15550102345`. The gateway therefore scans both systems,
//! normalises every e-mail and phone (see `identity`), stores the keys, and links two
//! records when each is the only candidate of the other:
//! 1. the Casebook person's keys match exactly one GHL contact;
//! 2. that contact's keys match exactly one Casebook person, the same one;
//! 3. neither record is already linked to a different record (manual links win).
//!
//! Anything else is ambiguous and stays unlinked for a person to decide.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use serde_json::Value;
use tracing::{error, info, warn};

use crate::{
    identity::{KeyKind, MatchKey, match_keys},
    metrics::LINKING_SCANS,
    store::{LinkMethod, LinkStore, StoreError},
    tenant::Tenant,
    upstream::{
        System, UpstreamError,
        casebook::names::MAX_PAGE_SIZE,
        ghl::{SearchContactsRequest, SearchSort},
    },
};

/// GHL's largest search page.
const GHL_SEARCH_PAGE: u32 = 500;

/// What one scan found and changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReconcileReport {
    pub casebook_people: usize,
    pub ghl_contacts: usize,
    /// Pairs linked by this scan or earlier.
    pub linked: usize,
    /// Records with more than one candidate on the other side.
    pub ambiguous: usize,
}

/// A scan that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Scans both systems of `tenant`, stores every record's keys and links unambiguous pairs.
/// Each scan is counted in `gateway_linking_scans_total`.
pub async fn reconcile(
    tenant: &Tenant,
    store: &LinkStore,
) -> Result<ReconcileReport, ReconcileError> {
    let result = scan_and_link(tenant, store).await;
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    tenant.metrics.increment(
        LINKING_SCANS,
        &[("tenant", tenant.id.as_str()), ("outcome", outcome)],
    );
    result
}

/// Runs [`reconcile`] on a spawned task and logs its failure, without waiting for it.
pub fn spawn_reconcile(tenant: Arc<Tenant>, store: LinkStore) {
    tokio::spawn(async move {
        if let Err(error) = reconcile(&tenant, &store).await {
            error!(tenant = %tenant.id, error = %error, "reconcile failed");
        }
    });
}

async fn scan_and_link(
    tenant: &Tenant,
    store: &LinkStore,
) -> Result<ReconcileReport, ReconcileError> {
    let casebook = scan_casebook(tenant).await?;
    let ghl = scan_ghl(tenant).await?;

    store
        .replace_keys(&tenant.id, System::Casebook, &casebook)
        .await?;
    store.replace_keys(&tenant.id, System::Ghl, &ghl).await?;
    let casebook_ids: Vec<String> = casebook.iter().map(|(id, _)| id.clone()).collect();
    let ghl_ids: Vec<String> = ghl.iter().map(|(id, _)| id.clone()).collect();
    store
        .ensure_native_ids(&tenant.id, System::Casebook, &casebook_ids)
        .await?;
    store
        .ensure_native_ids(&tenant.id, System::Ghl, &ghl_ids)
        .await?;

    let pairs = unambiguous_pairs(&casebook, &ghl);
    let mut report = ReconcileReport {
        casebook_people: casebook.len(),
        ghl_contacts: ghl.len(),
        linked: 0,
        ambiguous: pairs.ambiguous,
    };
    for (casebook_id, ghl_id, method) in pairs.pairs {
        match store
            .link_pair(&tenant.id, &casebook_id, &ghl_id, method)
            .await
        {
            Ok(_) => report.linked += 1,
            Err(StoreError::Conflict(reason)) => {
                report.ambiguous += 1;
                warn!(tenant = %tenant.id, reason = %reason, "automatic link skipped");
            }
            Err(error) => return Err(error.into()),
        }
    }
    info!(
        tenant = %tenant.id,
        casebook_people = report.casebook_people,
        ghl_contacts = report.ghl_contacts,
        linked = report.linked,
        ambiguous = report.ambiguous,
        "reconcile finished"
    );
    Ok(report)
}

/// Every Casebook person with its keys.
async fn scan_casebook(tenant: &Tenant) -> Result<Vec<(String, Vec<MatchKey>)>, UpstreamError> {
    let mut records = Vec::new();
    let mut offset = 0u64;
    loop {
        let page = tenant
            .casebook
            .search_people(None, offset, MAX_PAGE_SIZE)
            .await?;
        let count = page.items.len() as u64;
        records.extend(page.items.into_iter().map(|person| {
            let keys = match_keys(
                person.email.as_deref(),
                person.phone.as_deref(),
                tenant.region,
            );
            (person.id, keys)
        }));
        offset += count;
        let done =
            count < u64::from(MAX_PAGE_SIZE) || page.total.is_some_and(|total| offset >= total);
        if done || count == 0 {
            return Ok(records);
        }
    }
}

/// Every GHL contact of the location with its keys, walked with `searchAfter`.
async fn scan_ghl(tenant: &Tenant) -> Result<Vec<(String, Vec<MatchKey>)>, UpstreamError> {
    let mut records = Vec::new();
    let mut search_after: Option<Vec<Value>> = None;
    loop {
        let request = SearchContactsRequest {
            page_limit: GHL_SEARCH_PAGE,
            search_after: search_after.clone(),
            sort: vec![SearchSort::asc("dateAdded")],
            ..SearchContactsRequest::new(GHL_SEARCH_PAGE)
        };
        let response = tenant.ghl.search_contacts(&request).await?;
        let count = response.contacts.len();
        search_after = response
            .contacts
            .last()
            .and_then(|c| c.search_after.clone());
        records.extend(response.contacts.into_iter().map(|contact| {
            let keys = match_keys(
                contact.email.as_deref(),
                contact.phone.as_deref(),
                tenant.region,
            );
            (contact.id, keys)
        }));
        if count < GHL_SEARCH_PAGE as usize || search_after.is_none() {
            return Ok(records);
        }
    }
}

struct Pairs {
    pairs: Vec<(String, String, LinkMethod)>,
    ambiguous: usize,
}

/// Applies the mutual-single-candidate rule to two scanned sides.
fn unambiguous_pairs(
    casebook: &[(String, Vec<MatchKey>)],
    ghl: &[(String, Vec<MatchKey>)],
) -> Pairs {
    let index = |records: &[(String, Vec<MatchKey>)]| {
        let mut by_key: HashMap<MatchKey, BTreeSet<String>> = HashMap::new();
        for (id, keys) in records {
            for key in keys {
                by_key.entry(key.clone()).or_default().insert(id.clone());
            }
        }
        by_key
    };
    let casebook_by_key = index(casebook);
    let ghl_by_key = index(ghl);
    let candidates = |keys: &[MatchKey], other: &HashMap<MatchKey, BTreeSet<String>>| {
        keys.iter()
            .filter_map(|key| other.get(key))
            .flatten()
            .cloned()
            .collect::<BTreeSet<String>>()
    };
    let ghl_keys: HashMap<&String, &Vec<MatchKey>> =
        ghl.iter().map(|(id, keys)| (id, keys)).collect();

    let mut pairs = Pairs {
        pairs: Vec::new(),
        ambiguous: 0,
    };
    for (casebook_id, keys) in casebook {
        let forward = candidates(keys, &ghl_by_key);
        if forward.is_empty() {
            continue;
        }
        if forward.len() > 1 {
            pairs.ambiguous += 1;
            continue;
        }
        let ghl_id = forward.into_iter().next().unwrap_or_default();
        let reverse_keys = ghl_keys.get(&ghl_id).copied().cloned().unwrap_or_default();
        let reverse = candidates(&reverse_keys, &casebook_by_key);
        if reverse.len() != 1 || !reverse.contains(casebook_id) {
            pairs.ambiguous += 1;
            continue;
        }
        let shared_email = keys
            .iter()
            .any(|key| key.kind == KeyKind::Email && reverse_keys.contains(key));
        let method = if shared_email {
            LinkMethod::Email
        } else {
            LinkMethod::Phone
        };
        pairs.pairs.push((casebook_id.clone(), ghl_id, method));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(value: &str) -> MatchKey {
        MatchKey {
            kind: KeyKind::Email,
            value: value.to_string(),
        }
    }

    fn phone(value: &str) -> MatchKey {
        MatchKey {
            kind: KeyKind::Phone,
            value: value.to_string(),
        }
    }

    fn record(id: &str, keys: Vec<MatchKey>) -> (String, Vec<MatchKey>) {
        (id.to_string(), keys)
    }

    #[test]
    fn single_candidates_are_paired_with_their_method() {
        let casebook = [
            record("p1", vec![email("a@x.org")]),
            record("p2", vec![phone("+15550100001")]),
        ];
        let ghl = [
            record("g1", vec![email("a@x.org"), phone("+15550100009")]),
            record("g2", vec![email("other@x.org"), phone("+15550100001")]),
        ];
        let pairs = unambiguous_pairs(&casebook, &ghl);
        assert_eq!(
            pairs.pairs,
            vec![
                ("p1".to_string(), "g1".to_string(), LinkMethod::Email),
                ("p2".to_string(), "g2".to_string(), LinkMethod::Phone),
            ]
        );
        assert_eq!(pairs.ambiguous, 0);
    }

    #[test]
    fn two_casebook_people_with_one_email_stay_unlinked() {
        let casebook = [
            record("p1", vec![email("family@x.org")]),
            record("p2", vec![email("family@x.org")]),
        ];
        let ghl = [record("g1", vec![email("family@x.org")])];
        let pairs = unambiguous_pairs(&casebook, &ghl);
        assert!(pairs.pairs.is_empty());
        assert_eq!(pairs.ambiguous, 2);
    }

    #[test]
    fn email_and_phone_pointing_to_different_contacts_stay_unlinked() {
        let casebook = [record("p1", vec![email("a@x.org"), phone("+15550100001")])];
        let ghl = [
            record("g1", vec![email("a@x.org")]),
            record("g2", vec![phone("+15550100001")]),
        ];
        let pairs = unambiguous_pairs(&casebook, &ghl);
        assert!(pairs.pairs.is_empty());
        assert_eq!(pairs.ambiguous, 1);
    }
}
