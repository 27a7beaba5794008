//! Layer 1: the vendor's status page. Polls Statuspage history feeds (RSS or Atom) and,
//! optionally, the Statuspage JSON summary, and turns incidents, maintenances and component
//! states into metrics.
//!
//! - `config`: the `[[status_page]]` table.
//! - `fetch`: one conditional, bounded GET; the poll outcomes.
//! - `feed`: the feed and its update HTML read into incidents (pure; tested on real feeds).
//! - `summary`: the JSON summary read into components, indicator and open incidents (pure).
//! - `tracker`: what changed since the last poll; moves the metrics and emits each change.
//! - `metrics`: the families and the per-page intent methods.
//! - `internal_events`: each occurrence (a poll ended, an incident changed) logged and counted
//!   together.
//! - `poller`: the fixed-rate loops with backoff, each in its page's `status_page{page}` span.

mod config;
pub(crate) mod feed;
mod fetch;
mod internal_events;
mod metrics;
mod poller;
pub(crate) mod summary;
mod tracker;

pub use config::StatusPageConfig;

use prometheus_client::registry::Registry;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::StartError;
use crate::readiness::{Readiness, ReadyHandle};
use metrics::{PageMetrics, StatusMetrics};
use poller::{FeedPoller, PollTarget, SummaryPoller};
use tracing::Instrument;

/// One configured page, ready to poll.
struct PolledPage {
    /// The `page` field of the loops' span (and of every line they log).
    name: String,
    feed: FeedPoller,
    summary: Option<SummaryPoller>,
    interval: std::time::Duration,
    /// `status:NAME` in `/readyz`; ready once the loops run.
    ready: ReadyHandle,
}

/// The status layer, built (and its metrics registered) before the server starts.
pub(crate) struct StatusLayer {
    pages: Vec<PolledPage>,
}

impl StatusLayer {
    pub(crate) fn new(
        pages: &[StatusPageConfig],
        registry: &mut Registry,
        readiness: &Readiness,
    ) -> Result<Self, StartError> {
        let families = StatusMetrics::register(registry);
        let client = fetch::client()?;
        let mut built = Vec::with_capacity(pages.len());
        for page in pages {
            let metrics = PageMetrics::new(families.clone(), &page.name, page.summary_url.is_some());
            let target = |url: &crate::config::HttpUrl| PollTarget {
                client: client.clone(),
                url: url.url().clone(),
                timeout: page.timeout.get(),
                max_body_bytes: page.max_body_bytes,
            };
            let feed = FeedPoller::new(target(&page.feed_url), metrics.clone());
            let summary = page.summary_url.as_ref().map(|url| SummaryPoller::new(target(url), metrics));
            let ready = readiness.register(format!("status:{}", page.name));
            built.push(PolledPage { name: page.name.clone(), feed, summary, interval: page.interval.get(), ready });
        }
        Ok(Self { pages: built })
    }

    /// Starts the poll loops (one per URL), in the page's `status_page{page}` span; each stops
    /// when `shutdown` is cancelled.
    pub(crate) fn spawn(self, tasks: &mut JoinSet<()>, shutdown: &CancellationToken) {
        for page in self.pages {
            let span = tracing::info_span!("status_page", page = %page.name);
            if let Some(summary) = page.summary {
                tasks.spawn(poller::run(summary, page.interval, shutdown.clone()).instrument(span.clone()));
            }
            tasks.spawn(poller::run(page.feed, page.interval, shutdown.clone()).instrument(span));
            page.ready.ready();
        }
    }
}
