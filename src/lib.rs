//! casebook-ghl-gateway: one GraphQL schema over Casebook people and GoHighLevel contacts.
//!
//! The binary in `main.rs` only parses the command line; everything else lives here so that
//! integration tests can start the gateway and both simulators in-process.

pub mod sim;
pub mod upstream;
