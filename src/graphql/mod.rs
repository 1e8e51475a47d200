//! The GraphQL schema: thin resolvers over request-scoped loaders.

pub mod contact;
pub mod errors;
pub mod ids;
pub mod items;
pub mod loaders;
mod query;

use std::sync::Arc;

use async_graphql::{Context, EmptyMutation, EmptySubscription, Schema};

pub use query::Query;

use crate::{cache::RecordCache, store::LinkStore, tenant::Tenant};

/// The executable schema.
pub type GatewaySchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// What every resolver of one request can reach.
pub struct RequestContext {
    pub tenant: Arc<Tenant>,
    pub store: LinkStore,
    pub cache: RecordCache,
    /// Read through the cache and refresh it (`Cache-Control: no-cache`).
    pub refresh: bool,
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
    ) -> RequestContext {
        let loaders = loaders::Loaders::new(&tenant, cache.clone(), refresh, loader_config);
        RequestContext {
            tenant,
            store,
            cache,
            refresh,
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
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(16)
        .limit_complexity(5_000)
        .finish()
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    build_schema().sdl()
}
