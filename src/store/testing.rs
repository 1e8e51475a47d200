//! Scratch PostgreSQL schemas for tests, so that tests can share one server and run in
//! parallel.

use url::Url;

/// Environment variable with the URL of a PostgreSQL database for tests, such as
/// `postgres://postgres@127.0.0.1:5432/test`. The user needs the right to create schemas.
/// When it is not set, tests that need PostgreSQL return early and pass.
pub const POSTGRES_URL_VAR: &str = "CBG_TEST_POSTGRES_URL";

/// A schema of its own on the PostgreSQL server named by [`POSTGRES_URL_VAR`].
///
/// [`PostgresSchema::remove`] drops the schema and every table in it. Dropping this value
/// without `remove`, as a failing test does, drops the schema too, but it cannot wait for
/// the test's pools to roll back open transactions, so it may give up and leave the schema.
pub struct PostgresSchema {
    server_url: String,
    name: String,
    url: String,
    removed: bool,
}

impl PostgresSchema {
    /// Creates a schema with a unique name, or prints a skip note naming `test` and returns
    /// `None` when [`POSTGRES_URL_VAR`] is not set.
    ///
    /// # Panics
    ///
    /// When the variable is set but the server cannot be reached or the schema cannot be
    /// created, because a test run that sets it expects the PostgreSQL tests to run.
    pub async fn create(test: &str) -> Option<PostgresSchema> {
        let Ok(server_url) = std::env::var(POSTGRES_URL_VAR) else {
            eprintln!("skipped {test}: set {POSTGRES_URL_VAR} to run it against PostgreSQL");
            return None;
        };
        let name = format!("cbg_test_{}", uuid::Uuid::new_v4().simple());
        let redacted_url = super::redact_url(&server_url);
        let mut connection = connect(&server_url).await.unwrap_or_else(|error| {
            panic!("{POSTGRES_URL_VAR}={redacted_url} is unreachable: {error}")
        });
        sqlx::Executor::execute(
            &mut connection,
            format!("CREATE SCHEMA \"{name}\"").as_str(),
        )
        .await
        .unwrap_or_else(|error| {
            panic!("could not create schema {name} on {redacted_url}: {error}")
        });

        let mut url = Url::parse(&server_url).unwrap_or_else(|error| {
            panic!("{POSTGRES_URL_VAR}={redacted_url} is not a URL: {error}")
        });
        url.query_pairs_mut()
            .append_pair("options", &format!("-c search_path={name}"));
        Some(PostgresSchema {
            server_url,
            name,
            url: url.to_string(),
            removed: false,
        })
    }

    /// Returns the database URL whose connections create and find tables in this schema
    /// only.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the schema and every table in it.
    ///
    /// # Panics
    ///
    /// When the drop fails, such as when a connection of the test still holds a lock after
    /// 10 seconds.
    pub async fn remove(mut self) {
        self.removed = true;
        drop_schema(&self.server_url, &self.name)
            .await
            .unwrap_or_else(|error| panic!("could not drop test schema {}: {error}", self.name));
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        if self.removed {
            return;
        }
        // Drop runs inside the test's runtime, which cannot block on its own futures, so the
        // schema is dropped from a runtime on a thread of its own.
        let server_url = self.server_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_schema(&server_url, &name))?;
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test schema {}: {error}", self.name),
            Err(_) => eprintln!(
                "could not drop test schema {}: the thread panicked",
                self.name
            ),
        }
    }
}

async fn drop_schema(server_url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut connection = connect(server_url).await?;
    // A connection of the test that is still inside a transaction holds locks on the
    // schema's tables. Its pool rolls the transaction back in a background task, so the
    // drop waits for that, but not forever.
    sqlx::Executor::execute(&mut connection, "SET lock_timeout = '10s'").await?;
    sqlx::Executor::execute(
        &mut connection,
        format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE").as_str(),
    )
    .await?;
    Ok(())
}

async fn connect(url: &str) -> Result<sqlx::PgConnection, sqlx::Error> {
    sqlx::Connection::connect(url).await
}

/// Defines each listed test twice: as `sqlite::<name>` on an in-memory SQLite database and
/// as `postgres::<name>` in a fresh PostgreSQL schema (see [`PostgresSchema`]). Each name
/// is an `async fn <name>(url: &str)` in the calling module that opens the database at `url`.
#[cfg(test)]
macro_rules! backend_tests {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name("sqlite::memory:").await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(schema) =
                        $crate::store::testing::PostgresSchema::create(stringify!($name)).await
                    else {
                        return;
                    };
                    super::$name(schema.url()).await;
                    schema.remove().await;
                }
            )+
        }
    };
}

#[cfg(test)]
pub(crate) use backend_tests;

/// Defines each listed test twice, for databases that several pools open at once like
/// gateway replicas do: as `replicas::sqlite_file::<name>` on a SQLite file in a temporary
/// directory and as `replicas::postgres::<name>` in a fresh PostgreSQL schema. Each name is
/// an `async fn <name>(url: &str)` in the calling module. The tests run on four worker
/// threads, so their tasks run in parallel.
#[cfg(test)]
macro_rules! replica_tests {
    ($($name:ident),+ $(,)?) => {
        mod replicas {
            mod sqlite_file {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        let directory = tempfile::tempdir().unwrap();
                        let url = format!(
                            "sqlite://{}",
                            directory.path().join("gateway.db").display()
                        );
                        super::super::$name(&url).await;
                    }
                )+
            }

            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    async fn $name() {
                        let Some(schema) =
                            $crate::store::testing::PostgresSchema::create(stringify!($name))
                                .await
                        else {
                            return;
                        };
                        super::super::$name(schema.url()).await;
                        schema.remove().await;
                    }
                )+
            }
        }
    };
}

#[cfg(test)]
pub(crate) use replica_tests;
