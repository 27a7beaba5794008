//! What a feed says, as the daemon reads it: entries ([`Incident`]) with their kind, state and
//! lifecycle, and each entry's updates.

use chrono::{DateTime, Utc};

use crate::telemetry::labels::label_enum;

label_enum! {
    /// What an entry is about.
    pub enum EntryKind {
        Incident => "incident",
        Maintenance => "maintenance",
    }
}

label_enum! {
    /// The state an update announces, as Statuspage labels it in the feed.
    pub enum IncidentState {
        Investigating => "investigating",
        Identified => "identified",
        Monitoring => "monitoring",
        /// An update that did not change the status ("Update" in the feed).
        Update => "update",
        Resolved => "resolved",
        Postmortem => "postmortem",
        Scheduled => "scheduled",
        InProgress => "in_progress",
        Verifying => "verifying",
        Completed => "completed",
        /// Anything else: kept, never an error.
        Unknown => "unknown",
    }
}

impl IncidentState {
    /// The state a feed label names: case and spacing do not matter ("In progress",
    /// "in  progress", "In_Progress" are one state); anything unrecognised is `Unknown`.
    pub fn from_label(label: &str) -> IncidentState {
        let words: Vec<String> = label
            .split(|c: char| c.is_whitespace() || c == '_')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        match words.join(" ").as_str() {
            "investigating" => IncidentState::Investigating,
            "identified" => IncidentState::Identified,
            "monitoring" => IncidentState::Monitoring,
            "update" => IncidentState::Update,
            "resolved" => IncidentState::Resolved,
            "postmortem" => IncidentState::Postmortem,
            "scheduled" => IncidentState::Scheduled,
            "in progress" => IncidentState::InProgress,
            "verifying" => IncidentState::Verifying,
            "completed" => IncidentState::Completed,
            _ => IncidentState::Unknown,
        }
    }

    /// States only a maintenance goes through.
    pub(super) const fn is_maintenance_state(self) -> bool {
        matches!(
            self,
            IncidentState::Scheduled | IncidentState::InProgress | IncidentState::Verifying | IncidentState::Completed
        )
    }
}

/// Where an entry is in its lifecycle, which decides what the metrics count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// An incident being worked on, or a maintenance in progress or verifying.
    Active,
    /// A maintenance that is scheduled and has not started.
    Upcoming,
    /// Resolved, postmortem published, or maintenance completed.
    Ended,
    /// No update says anything we understand.
    Unknown,
}

/// One update of an incident, as the feed's HTML lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// When it was posted, if the stamp could be read (it has no year and is in the page's
    /// time zone; the year comes from the entry's own dates).
    pub at: Option<DateTime<Utc>>,
    pub state: IncidentState,
    /// The state label as written ("In progress"), whitespace collapsed.
    pub label: String,
    /// The update's text, entities decoded, tags dropped, `<br>` as line breaks.
    pub text: String,
}

/// One feed entry: an incident or a maintenance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// The incident code from its link (`/incidents/cmsz976yn1km` → `cmsz976yn1km`), the same
    /// in the RSS and the Atom feed and in the JSON API; else the tail of the entry id.
    pub id: String,
    pub title: String,
    pub link: Option<String>,
    pub kind: EntryKind,
    /// The newest update's state (`Unknown` when the entry has no update at all).
    pub state: IncidentState,
    pub phase: Lifecycle,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// Newest first, as in the feed.
    pub updates: Vec<Update>,
}

impl Incident {
    pub fn is_active(&self) -> bool {
        self.phase == Lifecycle::Active
    }

    /// The newest time this entry says something happened: its newest readable update stamp,
    /// else the entry's `updated`, else its `published`.
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        self.updates.iter().filter_map(|u| u.at).max().or(self.updated).or(self.published)
    }
}

/// A parsed feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Feed {
    /// In feed order (newest first on Statuspage).
    pub incidents: Vec<Incident>,
}

impl Feed {
    /// Active incidents (maintenance excluded).
    pub fn active_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| i.kind == EntryKind::Incident && i.is_active())
    }

    /// Maintenances in progress or verifying.
    pub fn active_maintenances(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| i.kind == EntryKind::Maintenance && i.is_active())
    }

    /// Maintenances scheduled and not yet started.
    pub fn upcoming_maintenances(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.iter().filter(|i| i.kind == EntryKind::Maintenance && i.phase == Lifecycle::Upcoming)
    }

    /// The newest update anywhere in the feed.
    pub fn newest_update(&self) -> Option<DateTime<Utc>> {
        self.incidents.iter().filter_map(Incident::last_activity).max()
    }
}

/// What the HTML of one entry says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntryHtml {
    /// Newest first, as written; at most `MAX_UPDATES_PER_ENTRY`.
    pub updates: Vec<Update>,
    /// The `THIS IS A SCHEDULED EVENT` header opens the entry.
    pub scheduled_header: bool,
}
