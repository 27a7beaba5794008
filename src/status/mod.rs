//! Layer 1: the vendor's status page. Polls Statuspage history feeds (RSS or Atom) and,
//! optionally, the Statuspage JSON summary, and turns incidents, maintenances and component
//! states into metrics.
//!
//! - [`config`]: the `[[status_page]]` table.
//! - [`fetch`]: one conditional, bounded GET; the poll outcomes.
//! - [`feed`]: the feed and its update HTML read into incidents (pure; tested on real feeds).
//! - [`summary`]: the JSON summary read into components, indicator and open incidents (pure).
//! - [`tracker`]: what changed since the last poll; moves the metrics and logs each change.
//! - [`metrics`]: the families and the per-page intent methods.
//! - [`poller`]: the fixed-rate loops with backoff.

pub mod config;
pub mod feed;
pub mod fetch;
pub mod metrics;
pub mod poller;
pub mod summary;
pub mod tracker;

pub use config::StatusPageConfig;

use prometheus_client::registry::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::StartError;
use crate::readiness::{Readiness, ReadyHandle};
use metrics::{PageMetrics, StatusMetrics};
use poller::{FeedPoller, SummaryPoller, Target};

/// One configured page, ready to poll.
struct Page {
    feed: FeedPoller,
    summary: Option<SummaryPoller>,
    interval: std::time::Duration,
    /// `status:NAME` in `/readyz`; ready once the loops run.
    ready: ReadyHandle,
}

/// The status layer, built (and its metrics registered) before the server starts.
pub struct StatusLayer {
    pages: Vec<Page>,
}

impl StatusLayer {
    pub fn new(pages: &[StatusPageConfig], registry: &mut Registry, readiness: &Readiness) -> Result<Self, StartError> {
        let families = StatusMetrics::register(registry);
        let client = fetch::client()?;
        let mut built = Vec::with_capacity(pages.len());
        for page in pages {
            let metrics = PageMetrics::new(families.clone(), &page.name, page.summary_url.is_some());
            let target = |url: &crate::config::HttpUrl| Target {
                page: page.name.clone(),
                client: client.clone(),
                url: url.url().clone(),
                timeout: page.timeout.get(),
                max_body_bytes: page.max_body_bytes,
            };
            let feed = FeedPoller::new(target(&page.feed_url), metrics.clone());
            let summary = page.summary_url.as_ref().map(|url| SummaryPoller::new(target(url), metrics));
            let ready = readiness.register(format!("status:{}", page.name));
            built.push(Page { feed, summary, interval: page.interval.get(), ready });
        }
        Ok(Self { pages: built })
    }

    /// Starts the poll loops (one per URL); each stops when `shutdown` is cancelled.
    pub fn spawn(self, tasks: &mut JoinSet<()>, shutdown: &CancellationToken) {
        for page in self.pages {
            if let Some(summary) = page.summary {
                tasks.spawn(poller::run(summary, page.interval, shutdown.clone()));
            }
            tasks.spawn(poller::run(page.feed, page.interval, shutdown.clone()));
            page.ready.ready();
        }
    }
}
