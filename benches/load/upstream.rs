//! Request counters of the simulators: `DELETE /_sim/stats` resets them and
//! `GET /_sim/stats` returns `{"total": N, "routes": {"GET /x/{id}": {"count": N, ...}}}`.

use std::{collections::BTreeMap, time::Duration};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::Value;

use crate::target::{NamedUrl, http_client};

/// Requests one simulator served, in total and per route template.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct SimCounts {
    pub total: u64,
    pub routes: BTreeMap<String, u64>,
}

fn stats_url(sim: &NamedUrl) -> anyhow::Result<url::Url> {
    sim.url
        .join("/_sim/stats")
        .with_context(|| format!("could not build the stats URL of {}", sim.url))
}

fn client() -> anyhow::Result<reqwest::Client> {
    http_client(Duration::from_secs(5), 2)
}

/// Resets the counters of every simulator.
pub async fn reset(sims: &[NamedUrl]) -> anyhow::Result<()> {
    let client = client()?;
    for sim in sims {
        let url = stats_url(sim)?;
        let response = client.delete(url.clone()).send().await.with_context(|| {
            format!(
                "could not reset the {} simulator's stats at {url}",
                sim.name
            )
        })?;
        if !response.status().is_success() {
            bail!(
                "resetting the {} simulator's stats at {url} returned HTTP {}",
                sim.name,
                response.status()
            );
        }
    }
    Ok(())
}

/// Reads the counters of every simulator, by simulator name.
pub async fn read(sims: &[NamedUrl]) -> anyhow::Result<BTreeMap<String, SimCounts>> {
    let client = client()?;
    let mut counts = BTreeMap::new();
    for sim in sims {
        let url = stats_url(sim)?;
        let stats: Value = client
            .get(url.clone())
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("could not read the {} simulator's stats at {url}", sim.name))?
            .json()
            .await
            .with_context(|| format!("the {} simulator's stats at {url} are not JSON", sim.name))?;
        counts.insert(sim.name.clone(), parse_stats(&stats)?);
    }
    Ok(counts)
}

fn parse_stats(stats: &Value) -> anyhow::Result<SimCounts> {
    let Some(total) = stats.get("total").and_then(Value::as_u64) else {
        bail!("simulator stats have no numeric \"total\": {stats}");
    };
    let mut routes = BTreeMap::new();
    if let Some(map) = stats.get("routes").and_then(Value::as_object) {
        for (route, entry) in map {
            let count = entry.get("count").and_then(Value::as_u64).unwrap_or(0);
            routes.insert(route.clone(), count);
        }
    }
    Ok(SimCounts { total, routes })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parse_stats_reads_routes() {
        let stats = json!({
            "total": 4,
            "routes": {"GET /contacts/{contactId}": {"count": 3, "statuses": {"200": 3}},
                       "POST /contacts/search": {"count": 1}},
            "headers": {}
        });
        let counts = parse_stats(&stats).unwrap();
        assert_eq!(counts.total, 4);
        assert_eq!(counts.routes["GET /contacts/{contactId}"], 3);
        assert_eq!(counts.routes["POST /contacts/search"], 1);
    }

    #[test]
    fn parse_stats_rejects_missing_total() {
        assert!(parse_stats(&json!({"routes": {}})).is_err());
    }
}
