//! The simulated page itself: its incidents (each with its updates), components, validators,
//! the fault in force and what it has served; the [`StatusPage`] handle that code and the
//! routes share; and the bounds that keep the control routes from growing it without limit.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::json;

/// `POST /_sim/status/incidents` refuses to hold more incidents and maintenances than this.
pub const MAX_INCIDENTS: usize = 1000;

/// `POST /_sim/status/incidents/{id}/updates` refuses to give one incident more updates than
/// this (the opening one included).
pub const MAX_UPDATES: usize = 100;

/// `PUT /_sim/status/components/{name}` refuses to add components beyond this many.
pub const MAX_COMPONENTS: usize = 500;

/// A simulated page. Clones share it: drive one from code (a running simulator's is
/// [`SimHandle::status_page`](crate::sim::SimHandle::status_page)) while the router serves it. The
/// control routes' limits ([`MAX_INCIDENTS`], [`MAX_UPDATES`], [`MAX_COMPONENTS`]) bound what
/// the network can add; calls from code are trusted and not limited.
#[derive(Clone, Default)]
pub struct StatusPage {
    inner: Arc<Mutex<Page>>,
}

/// The page's incidents and components are its state, read through the control routes.
impl std::fmt::Debug for StatusPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let page = self.lock();
        f.debug_struct("StatusPage")
            .field("incidents", &page.incidents.len())
            .field("components", &page.components.len())
            .finish_non_exhaustive()
    }
}

/// An incident's or maintenance's state, as the control routes name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimState {
    Investigating,
    Identified,
    Monitoring,
    Update,
    Resolved,
    Postmortem,
    Scheduled,
    InProgress,
    Verifying,
    Completed,
}

impl SimState {
    pub(super) const ALL: [SimState; 10] = [
        SimState::Investigating,
        SimState::Identified,
        SimState::Monitoring,
        SimState::Update,
        SimState::Resolved,
        SimState::Postmortem,
        SimState::Scheduled,
        SimState::InProgress,
        SimState::Verifying,
        SimState::Completed,
    ];

    /// The JSON API's spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            SimState::Investigating => "investigating",
            SimState::Identified => "identified",
            SimState::Monitoring => "monitoring",
            SimState::Update => "update",
            SimState::Resolved => "resolved",
            SimState::Postmortem => "postmortem",
            SimState::Scheduled => "scheduled",
            SimState::InProgress => "in_progress",
            SimState::Verifying => "verifying",
            SimState::Completed => "completed",
        }
    }

    /// The feed's spelling.
    pub const fn label(self) -> &'static str {
        match self {
            SimState::Investigating => "Investigating",
            SimState::Identified => "Identified",
            SimState::Monitoring => "Monitoring",
            SimState::Update => "Update",
            SimState::Resolved => "Resolved",
            SimState::Postmortem => "Postmortem",
            SimState::Scheduled => "Scheduled",
            SimState::InProgress => "In progress",
            SimState::Verifying => "Verifying",
            SimState::Completed => "Completed",
        }
    }

    /// `in_progress`, `In progress` and `in-progress` alike.
    pub fn parse(raw: &str) -> Option<SimState> {
        let key = raw.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        SimState::ALL.into_iter().find(|s| s.as_str() == key)
    }

    pub(super) const fn is_open(self) -> bool {
        !matches!(self, SimState::Resolved | SimState::Postmortem | SimState::Completed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum IncidentImpact {
    None,
    Minor,
    Major,
    Critical,
}

impl IncidentImpact {
    pub(super) const fn as_str(self) -> &'static str {
        match self {
            IncidentImpact::None => "none",
            IncidentImpact::Minor => "minor",
            IncidentImpact::Major => "major",
            IncidentImpact::Critical => "critical",
        }
    }

    pub(super) fn parse(raw: &str) -> Option<IncidentImpact> {
        [IncidentImpact::None, IncidentImpact::Minor, IncidentImpact::Major, IncidentImpact::Critical]
            .into_iter()
            .find(|i| i.as_str() == raw.trim())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IncidentKind {
    Incident,
    Maintenance,
}

pub(super) struct SimUpdate {
    pub(super) at: DateTime<Utc>,
    pub(super) state: SimState,
    /// Printed instead of the state's label (to make unknown states).
    pub(super) label: Option<String>,
    pub(super) text: String,
}

pub(super) struct SimIncident {
    /// The 12-character code in links and the JSON API.
    pub(super) code: String,
    /// The number in the Atom entry id.
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) kind: IncidentKind,
    pub(super) impact: IncidentImpact,
    pub(super) created: DateTime<Utc>,
    /// The maintenance window (maintenances only).
    pub(super) window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Oldest first.
    pub(super) updates: Vec<SimUpdate>,
}

impl SimIncident {
    pub(super) fn state(&self) -> SimState {
        self.updates.last().map_or(SimState::Investigating, |u| u.state)
    }

    /// The status as the JSON API reports it: an `Update` keeps the one before it.
    pub(super) fn json_status(&self) -> SimState {
        self.updates.iter().rev().map(|u| u.state).find(|s| *s != SimState::Update).unwrap_or(self.state())
    }

    pub(super) fn updated(&self) -> DateTime<Utc> {
        self.updates.last().map_or(self.created, |u| u.at)
    }
}

/// What opening an incident takes.
pub(super) struct Opening<'a> {
    pub(super) title: &'a str,
    pub(super) kind: IncidentKind,
    pub(super) state: SimState,
    pub(super) impact: IncidentImpact,
    pub(super) text: &'a str,
    /// The code asked for; a random one when `None`.
    pub(super) code: Option<String>,
}

pub(super) struct SimComponent {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) status: String,
    pub(super) group: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum FaultKind {
    Status,
    Truncated,
    Invalid,
    Oversized,
    Slow,
    Stall,
    RedirectLoop,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum FaultTarget {
    Feed,
    Summary,
    #[default]
    All,
}

impl FaultTarget {
    pub(super) fn covers(self, resource: PageDocument) -> bool {
        match self {
            FaultTarget::All => true,
            FaultTarget::Feed => matches!(resource, PageDocument::Atom | PageDocument::Rss),
            FaultTarget::Summary => resource == PageDocument::Summary,
        }
    }
}

#[derive(Clone, Debug)]
pub(super) struct PageFault {
    pub(super) kind: FaultKind,
    pub(super) target: FaultTarget,
    pub(super) remaining: Option<u64>,
    pub(super) status: StatusCode,
    pub(super) delay: Duration,
    pub(super) bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PageDocument {
    Atom,
    Rss,
    Summary,
}

/// What the page has served.
#[derive(Clone, Debug, Default)]
pub(super) struct Requests {
    pub(super) feed: u64,
    pub(super) summary: u64,
    pub(super) not_modified: u64,
    pub(super) faults: u64,
    pub(super) last_user_agent: Option<String>,
    pub(super) last_if_none_match: Option<String>,
    pub(super) last_if_modified_since: Option<String>,
}

pub(super) struct Page {
    pub(super) incidents: Vec<SimIncident>,
    pub(super) components: Vec<SimComponent>,
    pub(super) raw_feed: Option<(Option<HeaderValue>, Bytes)>,
    pub(super) raw_summary: Option<(Option<HeaderValue>, Bytes)>,
    pub(super) fault: Option<PageFault>,
    pub(super) send_etag: bool,
    pub(super) send_last_modified: bool,
    /// When anything last changed (`Last-Modified`).
    pub(super) changed: DateTime<Utc>,
    pub(super) next_number: u64,
    pub(super) requests: Requests,
}

impl Default for Page {
    fn default() -> Self {
        let component = |id: &str, name: &str, group: Option<&str>| SimComponent {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "operational".to_owned(),
            group: group.map(str::to_owned),
        };
        Page {
            incidents: Vec::new(),
            components: vec![
                component("simgroup0001", "Claude apps", None),
                component("simcomp00001", "claude.ai", Some("simgroup0001")),
                component("simcomp00002", "Claude Code", Some("simgroup0001")),
                component("simcomp00003", "platform.claude.com", None),
                component("simcomp00004", "Claude API (api.anthropic.com)", None),
            ],
            raw_feed: None,
            raw_summary: None,
            fault: None,
            send_etag: true,
            send_last_modified: true,
            changed: now(),
            next_number: 1000,
            requests: Requests::default(),
        }
    }
}

/// Whole seconds, as HTTP dates and feed stamps carry them.
pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A control route's 400 or 404, in the daemon's error shape.
pub(super) struct ControlError(pub(super) StatusCode, pub(super) String);

impl ControlError {
    pub(super) fn bad(message: impl Into<String>) -> Self {
        ControlError(StatusCode::BAD_REQUEST, message.into())
    }

    pub(super) fn not_found(message: impl Into<String>) -> Self {
        ControlError(StatusCode::NOT_FOUND, message.into())
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let code = if self.0 == StatusCode::NOT_FOUND { "not_found" } else { "invalid_request" };
        (self.0, axum::Json(json!({"error": {"code": code, "message": self.1}}))).into_response()
    }
}

pub(super) type ControlResult = Result<Response, ControlError>;

impl StatusPage {
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Page> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens an incident (or a maintenance) and returns its code.
    pub fn open(&self, title: &str, state: SimState, text: &str) -> String {
        let kind = if matches!(
            state,
            SimState::Scheduled | SimState::InProgress | SimState::Verifying | SimState::Completed
        ) {
            IncidentKind::Maintenance
        } else {
            IncidentKind::Incident
        };
        // Cannot be refused: no limit, and a fresh code is not checked against the others.
        let opening = Opening { title, kind, state, impact: IncidentImpact::Minor, text, code: None };
        self.open_with(opening, usize::MAX).unwrap_or_default()
    }

    /// Opens an incident; refused when the page holds `limit` incidents already, or `code` is
    /// taken.
    pub(super) fn open_with(&self, opening: Opening<'_>, limit: usize) -> Result<String, ControlError> {
        let Opening { title, kind, state, impact, text, code } = opening;
        let mut page = self.lock();
        if page.incidents.len() >= limit {
            return Err(ControlError::bad(format!(
                "the page holds {limit} incidents, its limit: DELETE one or POST /_sim/status/reset first"
            )));
        }
        if code.as_ref().is_some_and(|c| page.incidents.iter().any(|i| &i.code == c)) {
            return Err(ControlError::bad("an incident with this id exists"));
        }
        let at = now();
        let code = code.unwrap_or_else(|| {
            (0..12)
                .map(|_| fastrand::choice(b"0123456789abcdefghijklmnopqrstuvwxyz").map_or('0', |b| *b as char))
                .collect()
        });
        let number = page.next_number;
        page.next_number += 1;
        let window = (kind == IncidentKind::Maintenance).then(|| (at + TimeDelta::hours(1), at + TimeDelta::hours(3)));
        page.incidents.push(SimIncident {
            code: code.clone(),
            number,
            title: title.to_owned(),
            kind,
            impact,
            created: at,
            window,
            updates: vec![SimUpdate { at, state, label: None, text: text.to_owned() }],
        });
        page.changed = at;
        Ok(code)
    }

    /// Posts an update; false if there is no such incident.
    pub fn update(&self, code: &str, state: SimState, text: &str) -> bool {
        self.update_with(code, state, None, text, usize::MAX).is_ok()
    }

    /// Posts an update; refused (404) without such an incident, or (400) when it has `limit`
    /// updates already.
    pub(super) fn update_with(
        &self,
        code: &str,
        state: SimState,
        label: Option<String>,
        text: &str,
        limit: usize,
    ) -> Result<(), ControlError> {
        let mut page = self.lock();
        let at = now();
        let Some(incident) = page.incidents.iter_mut().find(|i| i.code == code) else {
            return Err(ControlError::not_found(format!("no incident {code:?}")));
        };
        if incident.updates.len() >= limit {
            return Err(ControlError::bad(format!(
                "incident {code:?} has {limit} updates, the limit for one incident: open another"
            )));
        }
        incident.updates.push(SimUpdate { at, state, label, text: text.to_owned() });
        page.changed = at;
        Ok(())
    }

    /// Back to an empty, healthy page.
    pub fn reset(&self) {
        *self.lock() = Page::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_parse_in_every_spelling() {
        assert_eq!(SimState::parse("In progress"), Some(SimState::InProgress));
        assert_eq!(SimState::parse("in-progress"), Some(SimState::InProgress));
        assert_eq!(SimState::parse(" Resolved "), Some(SimState::Resolved));
        assert_eq!(SimState::parse("fixed"), None);
    }
}
