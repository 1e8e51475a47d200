//! Integration tests: the gateway and both simulators on loopback, over real HTTP.

mod auth;
mod batching;
mod credentials_support;
mod failures;
mod oauth;
mod postgres;
mod ratelimits;
mod reads;
mod resilience;
mod restart;
mod schema;
mod support;
mod writes;
