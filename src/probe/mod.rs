//! Layer 2: synthetic probes of the Messages API, and control targets that tell a local network
//! fault from an API fault.
//!
//! (Foundation stub: the probes issue fills in the probe loop, the classifier and the metrics.)

use axum::Router;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::StartError;
use crate::config::{Findings, Section};
use crate::readiness::Readiness;

/// One `[[probe]]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    pub name: String,
}

impl Section for ProbeConfig {
    fn validate(&self, findings: &mut Findings) {
        let _ = findings;
    }

    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// One `[[control]]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    pub name: String,
    pub url: String,
}

impl Section for ControlConfig {
    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// The probe layer, built (and its metrics registered) before the server starts.
pub struct ProbeLayer {}

impl ProbeLayer {
    pub fn new(
        probes: &[ProbeConfig],
        controls: &[ControlConfig],
        registry: &mut Registry,
        readiness: &Readiness,
    ) -> Result<Self, StartError> {
        let _ = (probes, controls, registry, readiness);
        Ok(Self {})
    }

    /// The layer's own routes (`/probe?name=…`).
    pub fn router(&self) -> Router {
        Router::new()
    }

    /// Starts one loop per probe and control target; each stops when `shutdown` is cancelled.
    pub fn spawn(self, tasks: &mut JoinSet<()>, shutdown: CancellationToken) {
        let _ = (tasks, shutdown);
    }
}
