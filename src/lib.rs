//! casebook-ghl-gateway: one GraphQL schema over Casebook people and GoHighLevel contacts.
//!
//! The binary in `main.rs` only parses the command line; everything else lives here so that
//! integration tests can start the gateway and both simulators in-process.

pub mod cache;
pub mod config;
pub mod credentials;
pub mod demo;
pub mod graphql;
pub mod identity;
pub mod linking;
pub mod metrics;
pub mod oauth_install;
pub mod server;
pub mod sim;
pub mod store;
pub mod tenant;
pub mod upstream;
pub mod writes;
