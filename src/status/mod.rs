//! Layer 1: the vendor's status page. Polls Statuspage RSS/Atom feeds (and optionally the
//! JSON summary) and turns incidents and component states into metrics.
//!
//! (Foundation stub: the status-page issue fills in the poller, the parser and the metrics.)

use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::StartError;
use crate::config::{Findings, Section};
use crate::readiness::Readiness;

/// One `[[status_page]]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageConfig {
    pub name: String,
    pub feed_url: String,
}

impl Section for StatusPageConfig {
    fn validate(&self, findings: &mut Findings) {
        let _ = findings;
    }

    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// The status layer, built (and its metrics registered) before the server starts.
pub struct StatusLayer {}

impl StatusLayer {
    pub fn new(pages: &[StatusPageConfig], registry: &mut Registry, readiness: &Readiness) -> Result<Self, StartError> {
        let _ = (pages, registry, readiness);
        Ok(Self {})
    }

    /// Starts one poll loop per page; each stops when `shutdown` is cancelled.
    pub fn spawn(self, tasks: &mut JoinSet<()>, shutdown: CancellationToken) {
        let _ = (tasks, shutdown);
    }
}
