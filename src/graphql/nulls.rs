//! Sets a failed nullable field to `null` instead of leaving it out of the response.
//!
//! async-graphql 7.2 drops the key of a field whose resolver returned an error, while the
//! GraphQL specification requires the key with `null` and the error in `errors`. This
//! extension turns such an error into `null` and hands the error to the response.

use std::sync::{Arc, Mutex};

use async_graphql::{
    Response, ServerError, ServerResult, Value,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
    },
};

/// Errors of nullable fields collected during one request.
#[derive(Default)]
pub struct FieldErrors(Mutex<Vec<ServerError>>);

/// The extension factory to register on the schema.
pub struct NullOnError;

impl ExtensionFactory for NullOnError {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NullOnErrorExtension)
    }
}

struct NullOnErrorExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for NullOnErrorExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        match next.run(ctx, info).await {
            Err(error) if nullable => match ctx.data_opt::<FieldErrors>() {
                Some(errors) => {
                    errors
                        .0
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(error);
                    Ok(Some(Value::Null))
                }
                None => Err(error),
            },
            other => other,
        }
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        if let Some(errors) = ctx.data_opt::<FieldErrors>() {
            let collected = std::mem::take(
                &mut *errors
                    .0
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            );
            response.errors.extend(collected);
        }
        response
    }
}
