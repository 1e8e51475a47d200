//! Settings and helpers shared by both upstream clients.

use std::time::Duration;

/// Timeouts and identification shared by both upstream clients.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Time allowed to open a TCP connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, from sending to the last byte of the body.
    pub request_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(10),
        }
    }
}
