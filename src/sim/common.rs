//! TEMPORARY STUB (replaced by the simulator branch).
#![allow(dead_code, unused_variables)]
use std::net::SocketAddr;
#[derive(Clone)]
pub struct SimControl;
impl SimControl {
    pub fn new() -> Self {
        SimControl
    }
    pub fn set_latency(&self, l: std::time::Duration) {}
    pub fn count(&self, r: &str) -> u64 {
        0
    }
    pub fn total(&self) -> u64 {
        0
    }
    pub fn stats(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    pub fn reset_stats(&self) {}
}
pub struct RunningSim {
    pub addr: SocketAddr,
    pub base_url: String,
    pub control: SimControl,
}
impl RunningSim {
    pub async fn shutdown(self) {}
}
