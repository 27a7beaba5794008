//! The status layer's occurrences, each logging and counting together (see
//! [`crate::telemetry::event`]). The page's name is not in them: every line is written inside
//! its page's `status_page{page}` span.

use std::time::{Duration, SystemTime};

use reqwest::Url;

use super::feed::{Incident, IncidentState};
use super::fetch::PollResult;
use super::metrics::PageMetrics;
use crate::telemetry::event::InternalEvent;

/// What a poll fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Document {
    Feed,
    Summary,
}

impl Document {
    const fn as_str(self) -> &'static str {
        match self {
            Document::Feed => "feed",
            Document::Summary => "summary",
        }
    }
}

/// One poll of a page's feed or summary ended. Counted by result; a failure is logged when
/// failures start or change kind (repeats at debug, so a long outage of the vendor's page does
/// not flood the log), and the first success after failures is logged as a recovery.
pub(super) struct PollEnded<'a> {
    pub(super) document: Document,
    pub(super) url: &'a Url,
    pub(super) result: PollResult,
    /// From sending the request to having read the body.
    pub(super) elapsed: Duration,
    /// When it ended, by the wall clock.
    pub(super) at: SystemTime,
    /// Why it failed; `None` for a success.
    pub(super) error: Option<&'a str>,
    /// The result of the poll before, while polls were failing.
    pub(super) failing_before: Option<PollResult>,
}

impl InternalEvent for PollEnded<'_> {
    type Sink = PageMetrics;

    fn emit(self, metrics: &PageMetrics) {
        match self.document {
            Document::Feed => metrics.feed_polled(self.result, self.elapsed, self.at),
            Document::Summary => metrics.summary_polled(self.result),
        }
        let (what, url, result) = (self.document.as_str(), self.url.as_str(), self.result);
        if result.is_success() {
            if self.failing_before.is_some() {
                tracing::info!(url, "status page {what} poll recovered");
            }
            return;
        }
        let error = self.error.unwrap_or("");
        if self.failing_before == Some(result) {
            tracing::debug!(url, result = %result, error, "status page {what} poll failed again");
        } else {
            tracing::warn!(url, result = %result, error, "status page {what} poll failed; keeping the last known state");
        }
    }
}

/// What one poll changed, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Change {
    /// Active or upcoming when the daemon started.
    AtStartup {
        id: String,
    },
    /// New since the last poll.
    Appeared {
        id: String,
        counted: bool,
    },
    StateChanged {
        id: String,
        from: IncidentState,
        to: IncidentState,
    },
    /// Resolved, postmortem or completed.
    Ended {
        id: String,
        state: IncidentState,
    },
    /// Was active and is no longer in the feed.
    LeftFeed {
        id: String,
    },
}

/// An incident (or maintenance) appeared, changed state, ended or left the feed: one log line
/// with its title and link, and the seen counter for an incident new since start-up. The
/// message is fixed per kind of change (`kind` tells incidents from maintenances), so log
/// queries can match on it; the end of an open entry also says how long it was watched.
pub(super) struct IncidentChanged<'a> {
    pub(super) change: &'a Change,
    pub(super) incident: &'a Incident,
    /// How long this daemon has watched it, in human form (`"42m 5s"`).
    pub(super) seen_for: &'a str,
}

impl InternalEvent for IncidentChanged<'_> {
    type Sink = PageMetrics;

    fn emit(self, metrics: &PageMetrics) {
        let incident = self.incident;
        let id = incident.id.as_str();
        let title = incident.title.as_str();
        let link = incident.link.as_deref().unwrap_or("");
        let kind = incident.kind.as_str();
        let state = incident.state.as_str();
        let seen_for = self.seen_for;
        match self.change {
            Change::AtStartup { .. } => {
                tracing::info!(id, title, link, kind, state, "status page incident open at start-up");
            }
            Change::Appeared { counted, .. } => {
                if *counted {
                    metrics.incident_seen();
                }
                tracing::info!(id, title, link, kind, state, "status page incident appeared");
            }
            Change::StateChanged { from, .. } => {
                let from = from.as_str();
                tracing::info!(id, title, link, kind, from, state, "status page incident changed state");
            }
            Change::Ended { .. } => {
                tracing::info!(id, title, link, kind, state, seen_for, "status page incident ended");
            }
            Change::LeftFeed { .. } => {
                tracing::info!(id, title, link, kind, state, seen_for, "status page incident left the feed while open");
            }
        }
    }
}
