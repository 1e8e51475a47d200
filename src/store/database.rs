//! The connection pool of the gateway's database: SQLite or PostgreSQL through sqlx's `Any`
//! driver.
//!
//! The stores write each query once for both backends. They use `$1`-style parameters,
//! which sqlx's SQLite driver binds by number as PostgreSQL does, so a parameter may appear
//! more than once and in any order. They also keep to SQL both backends accept
//! (`ON CONFLICT`, `RETURNING`, `CASE`) and bind only `i64`, text and byte values. `Backend`
//! marks the few places where the dialects differ. Each backend has its own migrations with
//! the same versions, `migrations/sqlite/` and `migrations/postgres/`.

use std::str::FromStr;

use sqlx::{
    AnyPool, ConnectOptions,
    any::{AnyConnectOptions, AnyPoolOptions},
};
use url::Url;

use super::StoreError;

/// Pool size for a SQLite file or PostgreSQL when `database.max_connections` is not set.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 8;

/// The database server behind a `database.url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Selects the backend by the scheme of `url`: `sqlite:`, `postgres:` or `postgresql:`.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        Backend::from_scheme(scheme).ok_or_else(|| {
            StoreError::InvalidUrl(format!(
                "database.url {} is not a SQLite or PostgreSQL URL: use sqlite://<file>, \
                 sqlite::memory: or postgres://<user>@<host>/<database>",
                redact_url(url)
            ))
        })
    }

    /// Returns the backend that a pool opened by [`open`] connects to.
    pub fn of_pool(pool: &AnyPool) -> Backend {
        let options = pool.connect_options();
        Backend::from_scheme(options.database_url.scheme())
            .expect("open() accepts only URLs with a SQLite or PostgreSQL scheme")
    }

    fn from_scheme(scheme: &str) -> Option<Backend> {
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }
}

/// Checks whether `url` names an in-memory SQLite database, which lives only as long as
/// its connection.
pub fn is_sqlite_in_memory(url: &str) -> bool {
    Backend::from_url(url).is_ok_and(|backend| backend == Backend::Sqlite)
        && (url.contains(":memory:") || url.contains("mode=memory"))
}

/// Returns the pool size for `url`: `max_connections` when set, else 1 for an in-memory
/// SQLite database and [`DEFAULT_MAX_CONNECTIONS`] otherwise.
pub fn pool_size(url: &str, max_connections: Option<u32>) -> u32 {
    match max_connections {
        Some(size) => size,
        None if is_sqlite_in_memory(url) => 1,
        None => DEFAULT_MAX_CONNECTIONS,
    }
}

/// Opens a pool of up to `pool_size(url, max_connections)` connections and runs the
/// migrations of the backend that `url` selects. A SQLite file is created if it is missing
/// and switched to write-ahead logging.
pub(crate) async fn open(url: &str, max_connections: Option<u32>) -> Result<AnyPool, StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    let redacted_url = redact_url(url);
    let connect_error = |source: sqlx::Error| StoreError::Connect {
        url: redacted_url.clone(),
        source,
    };

    let in_memory = is_sqlite_in_memory(url);
    let connect_url = match backend {
        Backend::Sqlite if !in_memory => with_create_mode(url),
        _ => url.to_string(),
    };
    let options = AnyConnectOptions::from_str(&connect_url).map_err(connect_error)?;
    let mut pool_options = AnyPoolOptions::new().max_connections(pool_size(url, max_connections));
    if in_memory {
        // An in-memory database disappears with its last connection, so the pool keeps
        // its one connection open instead of closing it when idle or old.
        pool_options = pool_options.idle_timeout(None).max_lifetime(None);
    }
    let pool = match pool_options.connect_with(options.clone()).await {
        Ok(pool) => pool,
        // The pool retries a refused connection until its acquire timeout (30 s by
        // default) and then reports only the timeout, so one more attempt names the cause.
        Err(sqlx::Error::PoolTimedOut) => {
            let cause = match options.connect().await {
                Ok(_) => sqlx::Error::PoolTimedOut,
                Err(error) => error,
            };
            return Err(connect_error(cause));
        }
        Err(error) => return Err(connect_error(error)),
    };

    let migrator = match backend {
        Backend::Sqlite => {
            if !in_memory {
                // The journal mode is stored in the file, so every later connection, in
                // this process or another, uses write-ahead logging too.
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&pool)
                    .await
                    .map_err(connect_error)?;
            }
            sqlx::migrate!("./migrations/sqlite")
        }
        // Several replicas may start at once: sqlx holds a PostgreSQL advisory lock while
        // it migrates, so one of them migrates and the others wait.
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    migrator
        .run(&pool)
        .await
        .map_err(|source| StoreError::Migration {
            url: redacted_url.clone(),
            source,
        })?;
    Ok(pool)
}

/// Adds `mode=rwc` (read, write and create) to a SQLite URL that sets no mode, because
/// sqlx opens only existing files by default.
fn with_create_mode(url: &str) -> String {
    let query = url.split_once('?').map(|(_, query)| query);
    let has_mode = query.is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair == "mode" || pair.starts_with("mode="))
    });
    match (query, has_mode) {
        (_, true) => url.to_string(),
        (Some(_), false) => format!("{url}&mode=rwc"),
        (None, false) => format!("{url}?mode=rwc"),
    }
}

/// `url` with its password (in the user part or a `password` query parameter) replaced by
/// `***`, for errors and logs.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        // The password's position in a URL that does not parse is unknown, so only the
        // scheme is shown.
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        return format!("{scheme}:<not a valid URL, rest hidden>");
    };
    if parsed.password().is_some() {
        // Fails only for URLs without a host, which cannot carry a password.
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if pairs.iter().any(|(key, _)| key == "password") {
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (key, value) in &pairs {
            let value = if key == "password" { "***" } else { value };
            query.append_pair(key, value);
        }
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_follows_the_scheme() {
        assert_eq!(
            Backend::from_url("sqlite::memory:").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("sqlite://gateway.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://gw@127.0.0.1/gw").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://gw@127.0.0.1/gw").unwrap(),
            Backend::Postgres
        );
    }

    #[test]
    fn unsupported_scheme_names_the_url_without_password() {
        let error = Backend::from_url("mysql://gw:hunter2@127.0.0.1/gw")
            .unwrap_err()
            .to_string();
        assert!(error.contains("mysql://gw:***@127.0.0.1/gw"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("postgres://"), "the fix is named: {error}");
    }

    #[test]
    fn redaction_hides_passwords() {
        assert_eq!(
            redact_url("postgres://gw:hunter2@127.0.0.1:5432/gw"),
            "postgres://gw:***@127.0.0.1:5432/gw"
        );
        let query = redact_url("postgres://127.0.0.1/gw?user=gw&password=hunter2&sslmode=require");
        assert!(!query.contains("hunter2"), "{query}");
        assert!(query.contains("password=***") || query.contains("password=%2A%2A%2A"));
        assert!(query.contains("sslmode=require"), "{query}");
        assert_eq!(
            redact_url("postgres://gw@127.0.0.1/gw"),
            "postgres://gw@127.0.0.1/gw"
        );
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        let broken = redact_url("postgres://gw:hunter2@host:notaport/gw");
        assert!(!broken.contains("hunter2"), "{broken}");
        assert!(broken.starts_with("postgres:"), "{broken}");
    }

    #[test]
    fn create_mode_added_unless_set() {
        assert_eq!(with_create_mode("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            with_create_mode("sqlite://a.db?cache=shared"),
            "sqlite://a.db?cache=shared&mode=rwc"
        );
        assert_eq!(
            with_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
    }

    #[test]
    fn pool_size_defaults() {
        assert_eq!(pool_size("sqlite::memory:", None), 1);
        assert_eq!(pool_size("sqlite://a.db?mode=memory", None), 1);
        assert_eq!(pool_size("sqlite://a.db", None), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(
            pool_size("postgres://gw@127.0.0.1/gw", None),
            DEFAULT_MAX_CONNECTIONS
        );
        assert_eq!(pool_size("postgres://gw@127.0.0.1/gw", Some(20)), 20);
    }

    #[tokio::test]
    async fn refused_connection_names_the_url_without_password() {
        // The invalid port fails while the URL is parsed, before any connection attempt.
        let error = open("postgres://gw:hunter2@127.0.0.1:notaport/gw", None)
            .await
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
        assert!(error.contains("postgres:"), "{error}");
        assert!(error.contains("database.url"), "the fix is named: {error}");
    }
}
