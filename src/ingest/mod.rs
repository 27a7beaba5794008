//! Layer 3: the ingest endpoint where applications report their retried and exhausted calls.
//!
//! (Foundation stub: the ingest issue fills in the endpoint, validation and the metrics.)

use axum::Router;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};

use crate::StartError;
use crate::config::{Findings, Section};
use crate::readiness::Readiness;

/// The `[ingest]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_enabled() -> bool {
    true
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self { enabled: default_enabled() }
    }
}

impl Section for IngestConfig {
    fn validate(&self, findings: &mut Findings) {
        let _ = findings;
    }
}

/// The ingest layer: its metrics and its route.
pub struct IngestLayer {}

impl IngestLayer {
    pub fn new(config: &IngestConfig, registry: &mut Registry, readiness: &Readiness) -> Result<Self, StartError> {
        let _ = (config, registry, readiness);
        Ok(Self {})
    }

    /// `POST /v1/events`.
    pub fn router(&self) -> Router {
        Router::new()
    }
}
