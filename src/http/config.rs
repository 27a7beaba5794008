//! `[server]`: where the HTTP endpoint listens, and the limits that keep a slow or greedy client
//! from tying it up.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::config::{Duration, Findings, Section};

/// The `[server]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of `/metrics`, `/healthz`, `/readyz` and the ingest endpoint.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// Longest a request may take from its first header byte to its answer, body included;
    /// past it the client gets a 408 and the connection is closed.
    #[serde(default = "defaults::request_timeout")]
    pub request_timeout: Duration,
    /// Open connections beyond this wait in the kernel's accept queue, so memory held by
    /// in-flight bodies stays bounded.
    #[serde(default = "defaults::max_connections")]
    pub max_connections: usize,
}

/// The defaults of the keys a file leaves out.
mod defaults {
    use std::net::SocketAddr;

    use crate::config::Duration;

    pub(super) fn listen() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 9464))
    }

    /// Long enough for an on-demand `/probe` at the default probe timeout (30 s).
    pub(super) fn request_timeout() -> Duration {
        Duration::from_secs(60)
    }

    pub(super) fn max_connections() -> usize {
        512
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: defaults::listen(),
            request_timeout: defaults::request_timeout(),
            max_connections: defaults::max_connections(),
        }
    }
}

impl Section for ServerConfig {
    fn validate(&self, findings: &mut Findings) {
        findings.check_period("request_timeout", self.request_timeout, Duration::from_secs(5));
        if !(1..=65_536).contains(&self.max_connections) {
            findings.error("max_connections", "must be between 1 and 65536");
        }
    }
}
