//! HTTP simulator of the Casebook JSON:API service: people, notes and tasks.

pub mod document;
pub mod query;
pub mod schema;
pub mod store;
