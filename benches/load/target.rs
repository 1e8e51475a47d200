//! Endpoints the generator may talk to: loopback URLs only, and named process ids.

use std::{net::IpAddr, str::FromStr, time::Duration};

use anyhow::{Context, bail};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use url::{Host, Url};

/// Parses `text` as an http URL whose host is a loopback address.
///
/// `localhost` is rejected as well, because a resolver could map it elsewhere.
pub fn loopback_url(text: &str) -> anyhow::Result<Url> {
    let url = Url::parse(text)
        .with_context(|| format!("invalid URL {text:?}: use http://127.0.0.1:PORT/..."))?;
    if url.scheme() != "http" {
        bail!(
            "URL {text:?} has scheme {:?}: the benchmark only speaks plain http to loopback",
            url.scheme()
        );
    }
    let is_loopback = match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    };
    if !is_loopback {
        bail!("URL {text:?} is not on a loopback address: use 127.0.0.1 or [::1]");
    }
    Ok(url)
}

/// Builds the HTTP client every subcommand uses: no proxy, so nothing leaves the machine.
pub fn http_client(timeout: Duration, pool_size: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(pool_size)
        .build()
        .context("could not build the HTTP client")
}

/// A GraphQL endpoint with the Authorization header to send.
#[derive(Clone)]
pub struct GraphqlTarget {
    pub url: Url,
    pub client: reqwest::Client,
    authorization: HeaderValue,
}

impl GraphqlTarget {
    /// Checks the URL and builds a client with a pool large enough for `--max-in-flight`.
    pub fn new(url: &str, authorization: &str, timeout: Duration) -> anyhow::Result<Self> {
        let url = loopback_url(url)?;
        let mut authorization = HeaderValue::from_str(authorization)
            .context("invalid --auth value: it must be a printable header value")?;
        authorization.set_sensitive(true);
        Ok(GraphqlTarget {
            url,
            client: http_client(timeout, 1024)?,
            authorization,
        })
    }

    /// Sends one serialised GraphQL request and returns the status and the body bytes.
    pub async fn post(&self, body: String) -> reqwest::Result<(u16, Vec<u8>)> {
        let response = self
            .client
            .post(self.url.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((status, bytes.to_vec()))
    }
}

/// A simulator given as NAME=URL.
#[derive(Clone, Debug)]
pub struct NamedUrl {
    pub name: String,
    pub url: Url,
}

impl NamedUrl {
    pub fn new(name: &str, url: &str) -> anyhow::Result<Self> {
        if name.is_empty() {
            bail!(
                "empty simulator name in {name}={url}: use NAME=URL, such as ghl=http://127.0.0.1:PORT"
            );
        }
        Ok(NamedUrl {
            name: name.to_string(),
            url: loopback_url(url)?,
        })
    }
}

impl FromStr for NamedUrl {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        let Some((name, url)) = text.split_once('=') else {
            bail!("invalid --sim value {text:?}: use NAME=URL, such as ghl=http://127.0.0.1:PORT");
        };
        NamedUrl::new(name, url)
    }
}

/// A process given as NAME=PID.
#[derive(Clone, Debug)]
pub struct NamedPid {
    pub name: String,
    pub pid: u32,
}

impl FromStr for NamedPid {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> anyhow::Result<Self> {
        let parsed = text
            .split_once('=')
            .and_then(|(name, pid)| Some((name, pid.parse::<u32>().ok()?)));
        match parsed {
            Some((name, pid)) if !name.is_empty() && pid > 0 => Ok(NamedPid {
                name: name.to_string(),
                pid,
            }),
            _ => bail!("invalid --pid value {text:?}: use NAME=PID, such as gateway=12345"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_url_accepts_loopback() {
        assert!(loopback_url("http://127.0.0.1:4000/graphql").is_ok());
        assert!(loopback_url("http://[::1]:4000/graphql").is_ok());
    }

    #[test]
    fn loopback_url_rejects_other_hosts() {
        for url in [
            "http://localhost:4000/",
            "http://10.0.0.1/",
            "http://example.org/",
            "https://127.0.0.1/",
            "not a url",
        ] {
            assert!(loopback_url(url).is_err(), "{url} was accepted");
        }
    }

    #[test]
    fn named_pid_rejects_bad_input() {
        assert!("gateway=12".parse::<NamedPid>().is_ok());
        assert!("gateway".parse::<NamedPid>().is_err());
        assert!("=12".parse::<NamedPid>().is_err());
        assert!("gateway=0".parse::<NamedPid>().is_err());
        assert!("gateway=x".parse::<NamedPid>().is_err());
    }
}
