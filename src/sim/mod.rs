//! In-process HTTP simulators of Casebook and GHL, seeded with a deterministic data set.

pub mod casebook;
pub mod common;
pub mod ghl;
pub mod oauth;
pub mod seed;
