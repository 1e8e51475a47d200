//! The GraphQL schema: thin resolvers over request-scoped loaders.

pub mod contact;
pub mod errors;
pub mod ids;
pub mod items;
pub mod loaders;
mod mutation;
pub mod nulls;
mod query;

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, Schema};

pub use mutation::Mutation;

/// The root query: reads plus the outbox views.
#[derive(async_graphql::MergedObject, Default)]
pub struct QueryRoot(query::Query, mutation::SyncQuery);

use crate::{cache::RecordCache, store::LinkStore, tenant::Tenant, writes::Writes};

/// The executable schema.
pub type GatewaySchema = Schema<QueryRoot, Mutation, EmptySubscription>;

/// What every resolver of one request can reach.
pub struct RequestContext {
    pub tenant: Arc<Tenant>,
    pub store: LinkStore,
    pub cache: RecordCache,
    /// Read through the cache and refresh it (`Cache-Control: no-cache`).
    pub refresh: bool,
    pub writes: Arc<Writes>,
    /// The request's `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    pub loaders: loaders::Loaders,
}

impl RequestContext {
    /// Builds the context of one request for `tenant`. With `refresh`, loaders ignore
    /// cached entries and replace them with fresh upstream reads.
    pub fn new(
        tenant: Arc<Tenant>,
        store: LinkStore,
        cache: RecordCache,
        refresh: bool,
        loader_config: &loaders::LoaderConfig,
        writes: Arc<Writes>,
        idempotency_key: Option<String>,
    ) -> RequestContext {
        let loaders = loaders::Loaders::new(
            &tenant,
            cache.clone(),
            refresh,
            loader_config,
            writes.records().clone(),
        );
        RequestContext {
            tenant,
            store,
            cache,
            refresh,
            writes,
            idempotency_key,
            loaders,
        }
    }

    /// The context of the running request.
    pub fn get<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a RequestContext> {
        ctx.data::<RequestContext>()
    }
}

/// Builds the schema. Request data (`RequestContext`) is added per request.
pub fn build_schema() -> GatewaySchema {
    Schema::build(QueryRoot::default(), Mutation, EmptySubscription)
        .extension(nulls::NullOnError)
        .limit_depth(16)
        .limit_complexity(5_000)
        .finish()
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    build_schema().sdl()
}
