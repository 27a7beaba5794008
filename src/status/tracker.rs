//! What one page's feed said last time, and what changed since: the incidents that appeared,
//! changed state, ended or left the feed. Each change is one [`IncidentChanged`] event (its log
//! line and the seen counter together); the page's gauges and info series follow the feed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use super::feed::{EntryKind, Feed, Incident, Lifecycle};
pub(super) use super::internal_events::Change;
use super::internal_events::IncidentChanged;
use super::metrics::{InfoLabels, PageMetrics};
use crate::telemetry::event::InternalEvent;
use crate::text::truncate;

/// Titles in the info series are cut to this many characters (the log line has them whole).
pub(super) const MAX_TITLE_CHARS: usize = 100;

/// Incident ids are cut to this many characters.
const MAX_ID_CHARS: usize = 64;

/// How many incident ids are remembered for the seen counter, so an incident that drops out of
/// the feed and comes back is not counted twice; the oldest are forgotten first.
const MAX_REMEMBERED: usize = 10_000;

/// One entry of the latest feed.
#[derive(Clone, Debug)]
struct Tracked {
    incident: Incident,
    /// When this daemon first saw it (the first poll's time for those already there); the log
    /// line of its end says how long it was watched.
    first_seen: SystemTime,
    /// Its info series while it is active.
    info: Option<InfoLabels>,
}

/// One page's knowledge of its feed.
#[derive(Default)]
pub(super) struct Tracker {
    /// Whether a feed has been read since start-up (the first one is the seen baseline).
    has_baseline: bool,
    /// The entries of the latest feed, by id.
    current: HashMap<String, Tracked>,
    /// Ids seen since start-up, oldest first, bounded.
    remembered: HashSet<String>,
    remembered_order: VecDeque<String>,
}

impl Tracker {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// Takes in a freshly parsed feed: updates every status metric of the page and emits each
    /// change. Returns the changes (for tests).
    pub(super) fn apply(&mut self, feed: &Feed, now: SystemTime, metrics: &PageMetrics) -> Vec<Change> {
        let baseline = !self.has_baseline;
        let mut changes = Vec::new();
        let mut next: HashMap<String, Tracked> = HashMap::with_capacity(feed.incidents.len());
        for incident in &feed.incidents {
            let mut incident = incident.clone();
            incident.id = truncate(&incident.id, MAX_ID_CHARS).into_owned();
            if next.contains_key(&incident.id) {
                continue; // The same id twice: the first (newest) entry wins.
            }
            let previous = self.current.remove(&incident.id);
            let tracked = self.track(incident, previous, baseline, now, metrics, &mut changes);
            next.insert(tracked.incident.id.clone(), tracked);
        }
        self.forget_gone(now, metrics, &mut changes);
        self.current = next;
        self.has_baseline = true;
        self.set_counts(metrics);
        if let Some(newest) = feed.newest_update() {
            metrics.set_last_update(newest.into());
        }
        changes
    }

    /// One entry of the new feed: its change (emitted), and its info series brought up to date.
    fn track(
        &mut self,
        incident: Incident,
        previous: Option<Tracked>,
        baseline: bool,
        now: SystemTime,
        metrics: &PageMetrics,
        changes: &mut Vec<Change>,
    ) -> Tracked {
        let new_to_us = self.remember(&incident.id);
        let first_seen = previous.as_ref().map_or(now, |p| p.first_seen);
        if let Some(change) = change_of(&incident, previous.as_ref().map(|p| &p.incident), baseline, new_to_us) {
            let seen_for = seen_for(first_seen, now);
            IncidentChanged { change: &change, incident: &incident, seen_for: &seen_for }.emit(metrics);
            changes.push(change);
        }
        let wanted = incident.is_active().then(|| {
            metrics.info_labels(
                &incident.id,
                &truncate(&incident.title, MAX_TITLE_CHARS),
                incident.state,
                incident.kind,
            )
        });
        let shown = previous.and_then(|p| p.info);
        if shown != wanted {
            if let Some(old) = &shown {
                metrics.info_remove(old);
            }
            if let Some(new) = &wanted {
                metrics.info_show(new);
            }
        }
        Tracked { incident, first_seen, info: wanted }
    }

    /// Whatever is left of the last feed is not in this one: an active entry's series goes.
    fn forget_gone(&mut self, now: SystemTime, metrics: &PageMetrics, changes: &mut Vec<Change>) {
        for (id, gone) in self.current.drain() {
            if let Some(info) = &gone.info {
                metrics.info_remove(info);
                let change = Change::LeftFeed { id };
                let seen_for = seen_for(gone.first_seen, now);
                IncidentChanged { change: &change, incident: &gone.incident, seen_for: &seen_for }.emit(metrics);
                changes.push(change);
            }
        }
    }

    /// The page's counts, over the deduplicated entries so that they agree with the info series.
    fn set_counts(&self, metrics: &PageMetrics) {
        let count = |kind: EntryKind, phase: Lifecycle| {
            self.current.values().filter(|t| t.incident.kind == kind && t.incident.phase == phase).count()
        };
        metrics.set_counts(
            count(EntryKind::Incident, Lifecycle::Active),
            count(EntryKind::Maintenance, Lifecycle::Active),
            count(EntryKind::Maintenance, Lifecycle::Upcoming),
        );
    }

    /// Remembers `id`; true if it was not remembered yet.
    fn remember(&mut self, id: &str) -> bool {
        if self.remembered.contains(id) {
            return false;
        }
        // Never forget an id that is in the current feed, or it would count again next poll.
        while self.remembered_order.len() >= MAX_REMEMBERED {
            let Some(oldest) = self.remembered_order.pop_front() else { break };
            if self.current.contains_key(&oldest) {
                self.remembered_order.push_back(oldest);
                break;
            }
            self.remembered.remove(&oldest);
        }
        self.remembered.insert(id.to_owned());
        self.remembered_order.push_back(id.to_owned());
        true
    }
}

/// How long this daemon has watched an entry, whole seconds in human form (`"42m 5s"`); for
/// entries open at start-up this counts from the first poll.
fn seen_for(first_seen: SystemTime, now: SystemTime) -> String {
    let secs = now.duration_since(first_seen).unwrap_or_default().as_secs();
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

/// What changed for one entry since the last poll: at the baseline only what is open; a new
/// entry (counted when it is an incident the daemon never saw); an end; a change of state.
fn change_of(incident: &Incident, before: Option<&Incident>, baseline: bool, new_to_us: bool) -> Option<Change> {
    let id = incident.id.clone();
    if baseline {
        return matches!(incident.phase, Lifecycle::Active | Lifecycle::Upcoming).then_some(Change::AtStartup { id });
    }
    let Some(before) = before else {
        let counted = new_to_us && incident.kind == EntryKind::Incident;
        return Some(Change::Appeared { id, counted });
    };
    let was_open = before.phase != Lifecycle::Ended;
    if was_open && incident.phase == Lifecycle::Ended {
        Some(Change::Ended { id, state: incident.state })
    } else if before.state != incident.state {
        Some(Change::StateChanged { id, from: before.state, to: incident.state })
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use prometheus_client::registry::Registry;

    use super::*;
    use crate::status::feed::{self, IncidentState};
    use crate::status::metrics::StatusMetrics;

    fn entry(id: &str, title: &str, states: &[&str]) -> String {
        let updates: String = states
            .iter()
            .map(|s| format!("&lt;p&gt;&lt;small&gt;Mar 1, 10:00 UTC&lt;/small&gt;&lt;br&gt;&lt;strong&gt;{s}&lt;/strong&gt; - x&lt;/p&gt;"))
            .collect();
        format!(
            "<entry><id>tag:x,2005:Incident/{id}</id><updated>2024-03-01T10:00:00Z</updated>\
             <link rel=\"alternate\" href=\"https://s.example/incidents/{id}\"/><title>{title}</title>\
             <content type=\"html\">{updates}</content></entry>"
        )
    }

    fn feed_of(entries: &[String]) -> Feed {
        let xml = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><id>x</id><title>t</title><updated>2024-03-01T00:00:00Z</updated>{}</feed>",
            entries.concat()
        );
        feed::parse(xml.as_bytes()).unwrap()
    }

    struct Fixture {
        registry: Registry,
        metrics: PageMetrics,
        tracker: Tracker,
    }

    impl Fixture {
        fn new() -> Self {
            let mut registry = Registry::default();
            let m = StatusMetrics::register(&mut registry);
            Self { registry, metrics: PageMetrics::new(m, "p", false), tracker: Tracker::new() }
        }

        fn apply(&mut self, entries: &[String]) -> Vec<Change> {
            self.apply_at(entries, SystemTime::now())
        }

        fn apply_at(&mut self, entries: &[String], now: SystemTime) -> Vec<Change> {
            self.tracker.apply(&feed_of(entries), now, &self.metrics)
        }

        fn text(&self) -> String {
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, &self.registry).unwrap();
            out
        }

        fn lines(&self, prefix: &str) -> Vec<String> {
            self.text().lines().filter(|l| l.starts_with(prefix)).map(str::to_owned).collect()
        }
    }

    #[test]
    fn lifecycle_baseline_seen_and_info_series() {
        let mut f = Fixture::new();
        let old = entry("old", "Old one", &["Resolved", "Investigating"]);
        let open = entry("open", "Open at start", &["Identified"]);
        assert_eq!(f.apply(&[open.clone(), old.clone()]), [Change::AtStartup { id: "open".into() }]);
        assert_eq!(
            f.lines("claudewatch_status_incidents_seen_total"),
            ["claudewatch_status_incidents_seen_total{page=\"p\"} 0"]
        );
        assert_eq!(
            f.lines("claudewatch_status_incident_info"),
            [
                "claudewatch_status_incident_info{page=\"p\",id=\"open\",title=\"Open at start\",state=\"identified\",kind=\"incident\"} 1"
            ]
        );

        let new = |states: &[&str]| entry("new", "Errors \"quoted\"", states);
        let changes = f.apply(&[new(&["Investigating"]), open.clone(), old.clone()]);
        assert_eq!(changes, [Change::Appeared { id: "new".into(), counted: true }]);
        assert_eq!(
            f.lines("claudewatch_status_incidents_active"),
            ["claudewatch_status_incidents_active{page=\"p\"} 2"]
        );
        let changes = f.apply(&[new(&["Monitoring", "Investigating"]), open.clone(), old.clone()]);
        assert_eq!(
            changes,
            [Change::StateChanged {
                id: "new".into(),
                from: IncidentState::Investigating,
                to: IncidentState::Monitoring
            }]
        );
        let info = f.lines("claudewatch_status_incident_info{page=\"p\",id=\"new\"");
        assert_eq!(
            info,
            [
                "claudewatch_status_incident_info{page=\"p\",id=\"new\",title=\"Errors \\\"quoted\\\"\",state=\"monitoring\",kind=\"incident\"} 1"
            ]
        );
        // Nothing new: no change, nothing counted.
        assert!(f.apply(&[new(&["Monitoring", "Investigating"]), open.clone(), old.clone()]).is_empty());
        let changes = f.apply(&[new(&["Resolved", "Monitoring", "Investigating"]), open.clone(), old.clone()]);
        assert_eq!(changes, [Change::Ended { id: "new".into(), state: IncidentState::Resolved }]);
        assert!(f.lines("claudewatch_status_incident_info{page=\"p\",id=\"new\"").is_empty());
        assert_eq!(
            f.lines("claudewatch_status_incidents_seen_total"),
            ["claudewatch_status_incidents_seen_total{page=\"p\"} 1"]
        );
        assert_eq!(
            f.lines("claudewatch_status_incidents_active"),
            ["claudewatch_status_incidents_active{page=\"p\"} 1"]
        );

        // The open one drops out of the feed: its series goes; coming back does not count again.
        assert_eq!(f.apply(std::slice::from_ref(&old)), [Change::LeftFeed { id: "open".into() }]);
        assert!(f.lines("claudewatch_status_incident_info").is_empty());
        assert_eq!(f.apply(&[open, old]), [Change::Appeared { id: "open".into(), counted: false }]);
        assert_eq!(
            f.lines("claudewatch_status_incidents_seen_total"),
            ["claudewatch_status_incidents_seen_total{page=\"p\"} 1"]
        );
    }

    #[test]
    fn maintenances_are_kept_apart_and_titles_capped() {
        let mut f = Fixture::new();
        f.apply(&[]);
        let long_title = "M".repeat(300);
        let m = |states: &[&str]| entry("m1", &long_title, states);
        let changes = f.apply(&[m(&["Scheduled"])]);
        assert_eq!(changes, [Change::Appeared { id: "m1".into(), counted: false }]);
        assert_eq!(
            f.lines("claudewatch_status_maintenances_upcoming"),
            ["claudewatch_status_maintenances_upcoming{page=\"p\"} 1"]
        );
        assert!(f.lines("claudewatch_status_incident_info").is_empty(), "upcoming is not active");
        f.apply(&[m(&["In progress", "Scheduled"])]);
        let info = f.lines("claudewatch_status_incident_info");
        let expected_title = format!("{}…", "M".repeat(MAX_TITLE_CHARS - 1));
        assert_eq!(
            info,
            [format!(
                "claudewatch_status_incident_info{{page=\"p\",id=\"m1\",title=\"{expected_title}\",state=\"in_progress\",kind=\"maintenance\"}} 1"
            )]
        );
        assert_eq!(
            f.lines("claudewatch_status_maintenances_active"),
            ["claudewatch_status_maintenances_active{page=\"p\"} 1"]
        );
        assert_eq!(
            f.lines("claudewatch_status_incidents_active"),
            ["claudewatch_status_incidents_active{page=\"p\"} 0"]
        );
        let changes = f.apply(&[m(&["Completed", "In progress", "Scheduled"])]);
        assert_eq!(changes, [Change::Ended { id: "m1".into(), state: IncidentState::Completed }]);
        assert!(f.lines("claudewatch_status_incident_info").is_empty());
        assert_eq!(
            f.lines("claudewatch_status_incidents_seen_total"),
            ["claudewatch_status_incidents_seen_total{page=\"p\"} 0"]
        );
    }

    /// A feed that lists the same entry twice: one info series, and the counts agree with it.
    #[test]
    fn a_duplicate_entry_is_counted_once() {
        let mut f = Fixture::new();
        f.apply(&[]);
        let twice = entry("dup", "Listed twice", &["Investigating"]);
        let m = entry("m", "Maintenance twice", &["In progress"]);
        let later = entry("up", "Later", &["Scheduled"]);
        let changes = f.apply(&[twice.clone(), twice, m.clone(), m, later.clone(), later]);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert_eq!(f.lines("claudewatch_status_incident_info").len(), 2);
        for family in [
            "claudewatch_status_incidents_active",
            "claudewatch_status_maintenances_active",
            "claudewatch_status_maintenances_upcoming",
        ] {
            assert_eq!(f.lines(family), [format!("{family}{{page=\"p\"}} 1")]);
        }
    }

    /// First-seen survives the polls after it, so the end can say how long it was watched.
    #[test]
    fn first_seen_is_kept_from_the_first_poll_that_saw_it() {
        let mut f = Fixture::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        f.apply_at(&[], t0);
        let open = |states: &[&str]| entry("i", "Slow", states);
        let t1 = t0 + Duration::from_secs(60);
        f.apply_at(&[open(&["Investigating"])], t1);
        let t2 = t1 + Duration::from_secs(42 * 60 + 5);
        f.apply_at(&[open(&["Identified", "Investigating"])], t2);
        assert_eq!(f.tracker.current["i"].first_seen, t1);
        assert_eq!(seen_for(f.tracker.current["i"].first_seen, t2), "42m 5s");
        // A clock that stepped back says 0s rather than failing.
        assert_eq!(seen_for(t2, t1), "0s");
    }
}
