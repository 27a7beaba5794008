//! The status layer's metric families and, per page, the intent methods the poller calls, so
//! no call site builds a label set by hand.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::feed::{EntryKind, IncidentState};
use super::fetch::PollResult;
use super::summary::{Component, ComponentStatus, Impact, Indicator};

/// Poll durations: from a fast 304 to a timeout.
const DURATION_BUCKETS: [f64; 11] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PageLabels {
    pub page: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct PollLabels {
    pub page: String,
    pub result: PollResult,
}

/// One active incident or maintenance.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct InfoLabels {
    pub page: String,
    pub id: String,
    pub title: String,
    pub state: IncidentState,
    pub kind: EntryKind,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ComponentLabels {
    pub page: String,
    pub component: String,
    pub state: ComponentStatus,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct IndicatorLabels {
    pub page: String,
    pub indicator: Indicator,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ImpactLabels {
    pub page: String,
    pub impact: Impact,
}

type Timestamp = Gauge<f64, AtomicU64>;
type DurationHistogram = Family<PageLabels, Histogram, fn() -> Histogram>;

/// Every family of the layer, registered once and shared by the pages.
pub(super) struct StatusMetrics {
    incidents_active: Family<PageLabels, Gauge>,
    maintenances_active: Family<PageLabels, Gauge>,
    maintenances_upcoming: Family<PageLabels, Gauge>,
    incident_info: Family<InfoLabels, Gauge>,
    incidents_seen: Family<PageLabels, Counter>,
    last_update: Family<PageLabels, Timestamp>,
    component: Family<ComponentLabels, Gauge>,
    indicator: Family<IndicatorLabels, Gauge>,
    unresolved: Family<ImpactLabels, Gauge>,
    polls: Family<PollLabels, Counter>,
    poll_duration: DurationHistogram,
    last_success: Family<PageLabels, Timestamp>,
    up: Family<PageLabels, Gauge>,
    summary_polls: Family<PollLabels, Counter>,
    summary_up: Family<PageLabels, Gauge>,
}

impl StatusMetrics {
    pub(super) fn register(registry: &mut Registry) -> Arc<Self> {
        let m = StatusMetrics {
            incidents_active: Family::default(),
            maintenances_active: Family::default(),
            maintenances_upcoming: Family::default(),
            incident_info: Family::default(),
            incidents_seen: Family::default(),
            last_update: Family::default(),
            component: Family::default(),
            indicator: Family::default(),
            unresolved: Family::default(),
            polls: Family::default(),
            poll_duration: Family::new_with_constructor(|| Histogram::new(DURATION_BUCKETS)),
            last_success: Family::default(),
            up: Family::default(),
            summary_polls: Family::default(),
            summary_up: Family::default(),
        };
        m.register_feed_state(registry);
        m.register_summary_state(registry);
        m.register_polls(registry);
        Arc::new(m)
    }

    /// What the history feed says: open entries, their info series, the seen counter, the newest update.
    fn register_feed_state(&self, registry: &mut Registry) {
        registry.register(
            "claudewatch_status_incidents_active",
            "Incidents on the status page that are open: their newest update naming a status is investigating, identified or monitoring, or all their updates are `update` (an `update` or unknown state keeps the status before it; maintenance excluded)",
            self.incidents_active.clone(),
        );
        registry.register(
            "claudewatch_status_maintenances_active",
            "Scheduled maintenances on the status page that are in progress or verifying",
            self.maintenances_active.clone(),
        );
        registry.register(
            "claudewatch_status_maintenances_upcoming",
            "Scheduled maintenances on the status page that have not started",
            self.maintenances_upcoming.clone(),
        );
        registry.register(
            "claudewatch_status_incident_info",
            "Always 1: one series per active incident or maintenance, removed when it ends (title cut to 100 characters)",
            self.incident_info.clone(),
        );
        registry.register(
            "claudewatch_status_incidents_seen",
            "Incidents that appeared on the status page since start-up (the first poll sets the baseline)",
            self.incidents_seen.clone(),
        );
        registry.register_with_unit(
            "claudewatch_status_last_update_timestamp",
            "Time of the newest update in the feed, as Unix time; absent until a feed with a dated update has been read",
            Unit::Seconds,
            self.last_update.clone(),
        );
    }

    /// What the JSON summary says: component states, the indicator, unresolved incidents by impact.
    fn register_summary_state(&self, registry: &mut Registry) {
        registry.register(
            "claudewatch_status_component",
            "1 for the component's current state on the status page, 0 for the others (from the JSON summary)",
            self.component.clone(),
        );
        registry.register(
            "claudewatch_status_indicator",
            "1 for the status page's current overall indicator, 0 for the others (from the JSON summary)",
            self.indicator.clone(),
        );
        registry.register(
            "claudewatch_status_unresolved_incidents",
            "Unresolved incidents in the JSON summary, by impact",
            self.unresolved.clone(),
        );
    }

    /// How the polls go: results, durations, the last success, `up`, for the feed and the summary.
    fn register_polls(&self, registry: &mut Registry) {
        registry.register("claudewatch_status_polls", "Polls of the status page feed, by result", self.polls.clone());
        registry.register_with_unit(
            "claudewatch_status_poll_duration",
            "Time to fetch and read the status page feed",
            Unit::Seconds,
            self.poll_duration.clone(),
        );
        registry.register_with_unit(
            "claudewatch_status_last_success_timestamp",
            "When a feed poll last returned usable data (a new body or a 304), as Unix time; absent until the first",
            Unit::Seconds,
            self.last_success.clone(),
        );
        registry.register(
            "claudewatch_status_up",
            "1 if the last feed poll returned usable data, 0 if it failed and the state shown is stale",
            self.up.clone(),
        );
        registry.register(
            "claudewatch_status_json_polls",
            "Polls of the status page JSON summary, by result",
            self.summary_polls.clone(),
        );
        registry.register(
            "claudewatch_status_json_up",
            "1 if the last JSON summary poll returned usable data, 0 if it failed and the component states are stale",
            self.summary_up.clone(),
        );
    }
}

/// One page's view of the families.
#[derive(Clone)]
pub(super) struct PageMetrics {
    page: String,
    labels: PageLabels,
    m: Arc<StatusMetrics>,
}

impl PageMetrics {
    /// Binds `page` and pre-creates its bounded series at zero, so rates and alerts work before
    /// the first poll. The summary's series exist only for pages that have a summary URL. The
    /// timestamps are not pre-created: a 0 would read as "56 years ago" in `time() - x`; they
    /// appear with their first value, as the probe layer's do.
    pub(super) fn new(m: Arc<StatusMetrics>, page: &str, with_summary: bool) -> Self {
        let labels = PageLabels { page: page.to_owned() };
        let pm = Self { page: page.to_owned(), labels, m };
        let l = &pm.labels;
        let _ = pm.m.incidents_active.get_or_create(l);
        let _ = pm.m.maintenances_active.get_or_create(l);
        let _ = pm.m.maintenances_upcoming.get_or_create(l);
        let _ = pm.m.incidents_seen.get_or_create(l);
        let _ = pm.m.poll_duration.get_or_create(l);
        let _ = pm.m.up.get_or_create(l);
        for result in PollResult::ALL {
            let _ = pm.m.polls.get_or_create(&pm.poll_labels(result));
        }
        if with_summary {
            let _ = pm.m.summary_up.get_or_create(l);
            for result in PollResult::ALL {
                let _ = pm.m.summary_polls.get_or_create(&pm.poll_labels(result));
            }
            for indicator in Indicator::ALL {
                let _ = pm.m.indicator.get_or_create(&IndicatorLabels { page: pm.page.clone(), indicator });
            }
            for impact in Impact::ALL {
                let _ = pm.m.unresolved.get_or_create(&ImpactLabels { page: pm.page.clone(), impact });
            }
        }
        pm
    }

    fn poll_labels(&self, result: PollResult) -> PollLabels {
        PollLabels { page: self.page.clone(), result }
    }

    /// A feed poll ended with `result` after `elapsed`; `now` is the wall-clock time.
    pub(super) fn feed_polled(&self, result: PollResult, elapsed: Duration, now: SystemTime) {
        self.m.polls.get_or_create(&self.poll_labels(result)).inc();
        self.m.poll_duration.get_or_create(&self.labels).observe(elapsed.as_secs_f64());
        self.m.up.get_or_create(&self.labels).set(i64::from(result.is_success()));
        if result.is_success() {
            self.m.last_success.get_or_create(&self.labels).set(unix_seconds(now));
        }
    }

    /// A summary poll ended with `result`.
    pub(super) fn summary_polled(&self, result: PollResult) {
        self.m.summary_polls.get_or_create(&self.poll_labels(result)).inc();
        self.m.summary_up.get_or_create(&self.labels).set(i64::from(result.is_success()));
    }

    pub(super) fn set_counts(&self, incidents: usize, maintenances: usize, upcoming: usize) {
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.m.incidents_active.get_or_create(&self.labels).set(as_i64(incidents));
        self.m.maintenances_active.get_or_create(&self.labels).set(as_i64(maintenances));
        self.m.maintenances_upcoming.get_or_create(&self.labels).set(as_i64(upcoming));
    }

    pub(super) fn set_last_update(&self, at: SystemTime) {
        self.m.last_update.get_or_create(&self.labels).set(unix_seconds(at));
    }

    pub(super) fn incident_seen(&self) {
        self.m.incidents_seen.get_or_create(&self.labels).inc();
    }

    /// The info series for one active entry; the caller keeps the labels to remove it later.
    pub(super) fn info_labels(&self, id: &str, title: &str, state: IncidentState, kind: EntryKind) -> InfoLabels {
        InfoLabels { page: self.page.clone(), id: id.to_owned(), title: title.to_owned(), state, kind }
    }

    pub(super) fn info_show(&self, labels: &InfoLabels) {
        self.m.incident_info.get_or_create(labels).set(1);
    }

    pub(super) fn info_remove(&self, labels: &InfoLabels) {
        self.m.incident_info.remove(labels);
    }

    /// Sets each component's state series (1 for the current state, 0 for the others) and
    /// removes every series of components in `gone`.
    pub(super) fn set_components(&self, components: &[Component], gone: &[String]) {
        for name in gone {
            for state in ComponentStatus::ALL {
                self.m.component.remove(&ComponentLabels { page: self.page.clone(), component: name.clone(), state });
            }
        }
        for c in components {
            for state in ComponentStatus::ALL {
                let labels = ComponentLabels { page: self.page.clone(), component: c.name.clone(), state };
                self.m.component.get_or_create(&labels).set(i64::from(state == c.status));
            }
        }
    }

    pub(super) fn set_indicator(&self, current: Indicator) {
        for indicator in Indicator::ALL {
            let labels = IndicatorLabels { page: self.page.clone(), indicator };
            self.m.indicator.get_or_create(&labels).set(i64::from(indicator == current));
        }
    }

    pub(super) fn set_unresolved(&self, impacts: impl Iterator<Item = Impact>) {
        let mut counts = vec![0_i64; Impact::ALL.len()];
        for impact in impacts {
            if let Some(i) = Impact::ALL.iter().position(|x| *x == impact) {
                counts[i] += 1;
            }
        }
        for (&impact, count) in Impact::ALL.iter().zip(counts) {
            self.m.unresolved.get_or_create(&ImpactLabels { page: self.page.clone(), impact }).set(count);
        }
    }
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    /// A timestamp of 0 would read as 56 years old; the series appear with their first value.
    #[test]
    fn timestamps_are_absent_until_there_is_data() {
        let mut registry = Registry::default();
        let page = PageMetrics::new(StatusMetrics::register(&mut registry), "p", false);
        page.feed_polled(PollResult::NetworkError, Duration::from_millis(5), SystemTime::now());
        let before = text(&registry);
        assert!(before.contains("claudewatch_status_up{page=\"p\"} 0"), "{before}");
        assert!(!before.contains("timestamp_seconds{"), "{before}");

        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        page.feed_polled(PollResult::NotModified, Duration::from_millis(5), at);
        page.set_last_update(at - Duration::from_secs(60));
        let after = text(&registry);
        assert!(
            after.contains("claudewatch_status_last_success_timestamp_seconds{page=\"p\"} 1700000000.0"),
            "{after}"
        );
        assert!(after.contains("claudewatch_status_last_update_timestamp_seconds{page=\"p\"} 1699999940.0"), "{after}");
    }
}
