//! Casebook client (JSON:API).

pub mod names;
