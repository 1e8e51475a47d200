//! TEMPORARY STUB (replaced by the simulator branch).
#![allow(dead_code, unused_variables)]
use super::{common::RunningSim, seed::Dataset};
use std::net::SocketAddr;
pub const DEFAULT_TOKEN: &str = "casebook-sim-token";
#[derive(Default)]
pub struct CasebookSimOptions;
pub async fn start(
    listen: SocketAddr,
    dataset: &Dataset,
    options: CasebookSimOptions,
) -> std::io::Result<RunningSim> {
    unimplemented!()
}
