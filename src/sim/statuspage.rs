//! The simulated Statuspage: the history feeds (`/history.atom`, `/history.rss`) and the JSON
//! summary (`/api/v2/summary.json`) of a page whose incidents are driven through their
//! lifecycle over HTTP, with the faults a real page (or the CDN in front of it) produces.
//!
//! The feeds follow the layout of real Statuspage feeds (see `tests/fixtures/statuspage/`):
//! updates newest first as `<p> <small>Feb <var data-var='date'> 8</var>, <var
//! data-var='time'>03:55</var> UTC</small><br> <strong>Identified</strong> - text </p>`, a
//! `THIS IS A SCHEDULED EVENT …` header above a maintenance, `ETag` and `Last-Modified` with
//! 304 answers to conditional requests.
//!
//! # Control routes (under `/_sim/status/`)
//!
//! | route | body | effect |
//! | --- | --- | --- |
//! | `POST /_sim/status/incidents` | `{"title", "state"?, "kind"?, "impact"?, "text"?, "id"?}` | opens an incident (state defaults to `investigating`) or a maintenance (`"kind": "maintenance"`, state `scheduled`); answers `{"id", "link"}` |
//! | `POST /_sim/status/incidents/{id}/updates` | `{"state", "text"?, "label"?}` | posts an update; `label` overrides the state's printed label (`"Mitigated"` makes an unknown state) |
//! | `DELETE /_sim/status/incidents/{id}` | | removes it from the feed |
//! | `PUT /_sim/status/components/{name}` | `{"status"}` | sets (or adds) a component's status |
//! | `PUT`/`DELETE /_sim/status/feed` | any bytes | serves this body verbatim as both feeds (a fixture), or stops |
//! | `PUT`/`DELETE /_sim/status/summary` | any bytes | the same for the summary |
//! | `PUT`/`DELETE /_sim/status/fault` | `{"kind", "target"?, "count"?, "status"?, "delay"?, "bytes"?}` | the next `count` answers (default: until deleted) of `target` (`feed`, `summary`, `all`) get the fault |
//! | `PUT /_sim/status/validators` | `{"etag": bool, "last_modified": bool}` | which validators the page sends (and honours) |
//! | `GET /_sim/status` | | the page: incidents, components, fault, request counts |
//! | `POST /_sim/status/reset` | | back to an empty, healthy page |
//!
//! The routes hold at most [`MAX_INCIDENTS`] incidents, [`MAX_UPDATES`] updates per incident
//! and [`MAX_COMPONENTS`] components; beyond that they answer 400.
//!
//! Faults: `status` (answers `status`, 400-599, default 500, with a CDN-style HTML page), `truncated`
//! (the body cut in half), `invalid` (malformed XML, or HTML where JSON belongs), `oversized`
//! (the page's document padded to `bytes`, default 8 MiB, chunked without `Content-Length`, so
//! that only a size cap stops a reader), `slow` (waits `delay`
//! before answering), `stall` (sends half the body, waits `delay`, sends the rest),
//! `redirect_loop` (redirects to itself). `GET /redirect/{path}` answers 301 to `/{path}`, like
//! status.anthropic.com in front of status.claude.com.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use bytes::Bytes;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// No fault waits longer than this.
const MAX_DELAY: Duration = Duration::from_secs(600);

/// The default size of an `oversized` body.
const DEFAULT_OVERSIZED_BYTES: usize = 8 * 1024 * 1024;

/// The largest `oversized` body the simulator agrees to produce.
const MAX_OVERSIZED_BYTES: usize = 256 * 1024 * 1024;

/// The page's own name in its feeds.
const PAGE_NAME: &str = "Claude (simulated)";

/// `POST /_sim/status/incidents` refuses to hold more incidents and maintenances than this.
pub const MAX_INCIDENTS: usize = 1000;

/// `POST /_sim/status/incidents/{id}/updates` refuses to give one incident more updates than
/// this (the opening one included).
pub const MAX_UPDATES: usize = 100;

/// `PUT /_sim/status/components/{name}` refuses to add components beyond this many.
pub const MAX_COMPONENTS: usize = 500;

/// The status page's routes, merged into the simulator's router; each call is a fresh page.
pub fn router() -> Router {
    StatusPage::new().router()
}

/// A simulated page. Clones share it: drive one from code (a running simulator's is
/// [`SimHandle::status_page`](super::SimHandle::status_page)) while the router serves it. The
/// control routes' limits ([`MAX_INCIDENTS`], [`MAX_UPDATES`], [`MAX_COMPONENTS`]) bound what
/// the network can add; calls from code are trusted and not limited.
#[derive(Clone, Default)]
pub struct StatusPage {
    inner: Arc<Mutex<Page>>,
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
    const ALL: [SimState; 10] = [
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

    const fn is_open(self) -> bool {
        !matches!(self, SimState::Resolved | SimState::Postmortem | SimState::Completed)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Impact {
    None,
    Minor,
    Major,
    Critical,
}

impl Impact {
    const fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }

    fn parse(raw: &str) -> Option<Impact> {
        [Impact::None, Impact::Minor, Impact::Major, Impact::Critical].into_iter().find(|i| i.as_str() == raw.trim())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Incident,
    Maintenance,
}

struct SimUpdate {
    at: DateTime<Utc>,
    state: SimState,
    /// Printed instead of the state's label (to make unknown states).
    label: Option<String>,
    text: String,
}

struct SimIncident {
    /// The 12-character code in links and the JSON API.
    code: String,
    /// The number in the Atom entry id.
    number: u64,
    title: String,
    kind: Kind,
    impact: Impact,
    created: DateTime<Utc>,
    /// The maintenance window (maintenances only).
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Oldest first.
    updates: Vec<SimUpdate>,
}

impl SimIncident {
    fn state(&self) -> SimState {
        self.updates.last().map_or(SimState::Investigating, |u| u.state)
    }

    /// The status as the JSON API reports it: an `Update` keeps the one before it.
    fn json_status(&self) -> SimState {
        self.updates.iter().rev().map(|u| u.state).find(|s| *s != SimState::Update).unwrap_or(self.state())
    }

    fn updated(&self) -> DateTime<Utc> {
        self.updates.last().map_or(self.created, |u| u.at)
    }
}

/// What opening an incident takes.
struct Opening<'a> {
    title: &'a str,
    kind: Kind,
    state: SimState,
    impact: Impact,
    text: &'a str,
    /// The code asked for; a random one when `None`.
    code: Option<String>,
}

struct SimComponent {
    id: String,
    name: String,
    status: String,
    group: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum FaultKind {
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
enum Target {
    Feed,
    Summary,
    #[default]
    All,
}

impl Target {
    fn covers(self, resource: Resource) -> bool {
        match self {
            Target::All => true,
            Target::Feed => matches!(resource, Resource::Atom | Resource::Rss),
            Target::Summary => resource == Resource::Summary,
        }
    }
}

#[derive(Clone, Debug)]
struct Fault {
    kind: FaultKind,
    target: Target,
    remaining: Option<u64>,
    status: StatusCode,
    delay: Duration,
    bytes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resource {
    Atom,
    Rss,
    Summary,
}

/// What the page has served.
#[derive(Clone, Debug, Default)]
struct Requests {
    feed: u64,
    summary: u64,
    not_modified: u64,
    faults: u64,
    last_user_agent: Option<String>,
    last_if_none_match: Option<String>,
    last_if_modified_since: Option<String>,
}

struct Page {
    incidents: Vec<SimIncident>,
    components: Vec<SimComponent>,
    raw_feed: Option<(Option<HeaderValue>, Bytes)>,
    raw_summary: Option<(Option<HeaderValue>, Bytes)>,
    fault: Option<Fault>,
    send_etag: bool,
    send_last_modified: bool,
    /// When anything last changed (`Last-Modified`).
    changed: DateTime<Utc>,
    next_number: u64,
    requests: Requests,
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
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// A control route's 400 or 404, in the daemon's error shape.
struct ControlError(StatusCode, String);

impl ControlError {
    fn bad(message: impl Into<String>) -> Self {
        ControlError(StatusCode::BAD_REQUEST, message.into())
    }

    fn not_found(message: impl Into<String>) -> Self {
        ControlError(StatusCode::NOT_FOUND, message.into())
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let code = if self.0 == StatusCode::NOT_FOUND { "not_found" } else { "invalid_request" };
        (self.0, axum::Json(json!({"error": {"code": code, "message": self.1}}))).into_response()
    }
}

type ControlResult = Result<Response, ControlError>;

impl StatusPage {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Page> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/history.atom", get(atom))
            .route("/history.rss", get(rss))
            .route("/api/v2/summary.json", get(summary))
            .route("/redirect/{*path}", get(redirect))
            .route("/_sim/status", get(control_state))
            .route("/_sim/status/reset", post(control_reset))
            .route("/_sim/status/incidents", post(control_open))
            .route("/_sim/status/incidents/{id}", axum::routing::delete(control_delete))
            .route("/_sim/status/incidents/{id}/updates", post(control_update))
            .route("/_sim/status/components/{name}", put(control_component))
            .route("/_sim/status/feed", put(control_raw_feed).delete(control_raw_feed_clear))
            .route("/_sim/status/summary", put(control_raw_summary).delete(control_raw_summary_clear))
            .route("/_sim/status/fault", put(control_fault).delete(control_fault_clear))
            .route("/_sim/status/validators", put(control_validators))
            .with_state(self.clone())
    }

    /// Opens an incident (or a maintenance) and returns its code.
    pub fn open(&self, title: &str, state: SimState, text: &str) -> String {
        let kind = if matches!(
            state,
            SimState::Scheduled | SimState::InProgress | SimState::Verifying | SimState::Completed
        ) {
            Kind::Maintenance
        } else {
            Kind::Incident
        };
        // Cannot be refused: no limit, and a fresh code is not checked against the others.
        let opening = Opening { title, kind, state, impact: Impact::Minor, text, code: None };
        self.open_with(opening, usize::MAX).unwrap_or_default()
    }

    /// Opens an incident; refused when the page holds `limit` incidents already, or `code` is
    /// taken.
    fn open_with(&self, opening: Opening<'_>, limit: usize) -> Result<String, ControlError> {
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
        let window = (kind == Kind::Maintenance).then(|| (at + TimeDelta::hours(1), at + TimeDelta::hours(3)));
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
    fn update_with(
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

// --- serving -------------------------------------------------------------------------------

async fn atom(State(page): State<StatusPage>, headers: HeaderMap) -> Response {
    serve(page, Resource::Atom, headers).await
}

async fn rss(State(page): State<StatusPage>, headers: HeaderMap) -> Response {
    serve(page, Resource::Rss, headers).await
}

async fn summary(State(page): State<StatusPage>, headers: HeaderMap) -> Response {
    serve(page, Resource::Summary, headers).await
}

async fn redirect(Path(path): Path<String>) -> Response {
    let location = format!("/{}", path.trim_start_matches('/'));
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, v)]).into_response(),
        Err(_) => ControlError::bad("bad redirect path").into_response(),
    }
}

/// One rendered answer, taken under the lock.
struct Prepared {
    content_type: HeaderValue,
    body: Bytes,
    etag: Option<String>,
    last_modified: Option<DateTime<Utc>>,
    fault: Option<Fault>,
}

async fn serve(page: StatusPage, resource: Resource, headers: HeaderMap) -> Response {
    let prepared = prepare(&page, resource, &headers);
    let Some(fault) = prepared.fault.clone() else { return answer(&page, prepared, &headers) };
    match fault.kind {
        FaultKind::Status => {
            let text = format!(
                "<html><head><title>{0}</title></head><body><h1>{0}</h1><p>simulated</p></body></html>",
                fault.status
            );
            (fault.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], text).into_response()
        }
        FaultKind::Truncated => {
            let cut = prepared.body.len() / 2;
            ([(header::CONTENT_TYPE, prepared.content_type)], prepared.body.slice(..cut)).into_response()
        }
        FaultKind::Invalid => {
            let body: &'static str = if resource == Resource::Summary {
                "<html><body><h1>Service Unavailable</h1></body></html>"
            } else {
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><title>broken</entry></feed>"
            };
            ([(header::CONTENT_TYPE, prepared.content_type)], body).into_response()
        }
        FaultKind::Oversized => {
            // The page's own document padded to size (inside an XML comment, or JSON
            // whitespace) so that it would parse if read whole: only the size cap stops it.
            let full = prepared.body.clone();
            let split = full.iter().rposition(|b| *b == b'<' || *b == b'}').unwrap_or(full.len());
            let xml = full.get(split) == Some(&b'<');
            let (open, close): (&'static [u8], &'static [u8]) = if xml { (b"<!--", b"-->") } else { (b"", b"") };
            let padding = fault.bytes.saturating_sub(full.len());
            let (tx, body) = super::body::channel();
            tokio::spawn(async move {
                if !tx.send(full.slice(..split)).await || !tx.send(Bytes::from_static(open)).await {
                    return;
                }
                let chunk = Bytes::from(vec![b' '; 64 * 1024]);
                let mut sent = 0;
                while sent < padding {
                    let n = chunk.len().min(padding - sent);
                    if !tx.send(chunk.slice(..n)).await {
                        return; // The client stopped reading.
                    }
                    sent += n;
                }
                let _ = tx.send(Bytes::from_static(close)).await && tx.send(full.slice(split..)).await;
            });
            ([(header::CONTENT_TYPE, prepared.content_type)], Body::new(body)).into_response()
        }
        FaultKind::Slow => {
            tokio::time::sleep(fault.delay).await;
            answer(&page, prepared, &headers)
        }
        FaultKind::Stall => {
            let (tx, body) = super::body::channel();
            let full = prepared.body.clone();
            let delay = fault.delay;
            tokio::spawn(async move {
                let half = full.len() / 2;
                if tx.send(full.slice(..half)).await {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(full.slice(half..)).await;
                }
            });
            ([(header::CONTENT_TYPE, prepared.content_type)], Body::new(body)).into_response()
        }
        FaultKind::RedirectLoop => {
            let path = match resource {
                Resource::Atom => "/history.atom",
                Resource::Rss => "/history.rss",
                Resource::Summary => "/api/v2/summary.json",
            };
            (StatusCode::FOUND, [(header::LOCATION, path)]).into_response()
        }
    }
}

/// Renders the resource and takes the fault (if any) under one lock.
fn prepare(page: &StatusPage, resource: Resource, headers: &HeaderMap) -> Prepared {
    let mut p = page.lock();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let r = &mut p.requests;
    match resource {
        Resource::Atom | Resource::Rss => r.feed += 1,
        Resource::Summary => r.summary += 1,
    }
    r.last_user_agent = text(header::USER_AGENT);
    r.last_if_none_match = text(header::IF_NONE_MATCH);
    r.last_if_modified_since = text(header::IF_MODIFIED_SINCE);

    let fault = match &mut p.fault {
        Some(f) if f.target.covers(resource) => {
            let taken = f.clone();
            if let Some(n) = f.remaining.as_mut() {
                *n = n.saturating_sub(1);
            }
            Some(taken)
        }
        _ => None,
    };
    if p.fault.as_ref().is_some_and(|f| f.remaining == Some(0)) {
        p.fault = None;
    }
    if fault.is_some() {
        p.requests.faults += 1;
    }

    let host = text(header::HOST).unwrap_or_else(|| "127.0.0.1".to_owned());
    let base = format!("http://{host}");
    let (content_type, body) = match resource {
        Resource::Atom | Resource::Rss if p.raw_feed.is_some() => {
            let (ct, body) = p.raw_feed.clone().unwrap_or_default();
            (ct.unwrap_or(HeaderValue::from_static("application/xml")), body)
        }
        Resource::Summary if p.raw_summary.is_some() => {
            let (ct, body) = p.raw_summary.clone().unwrap_or_default();
            (ct.unwrap_or(HeaderValue::from_static("application/json")), body)
        }
        Resource::Atom => {
            (HeaderValue::from_static("application/atom+xml; charset=utf-8"), Bytes::from(render_atom(&p, &base)))
        }
        Resource::Rss => {
            (HeaderValue::from_static("application/rss+xml; charset=utf-8"), Bytes::from(render_rss(&p, &base)))
        }
        Resource::Summary => {
            (HeaderValue::from_static("application/json; charset=utf-8"), Bytes::from(render_summary(&p, &base)))
        }
    };
    let etag = p.send_etag.then(|| {
        let mut h = DefaultHasher::new();
        body.hash(&mut h);
        format!("\"{:016x}\"", h.finish())
    });
    let last_modified = p.send_last_modified.then_some(p.changed);
    Prepared { content_type, body, etag, last_modified, fault }
}

/// The normal answer: 304 when the request's validators match, else the body.
fn answer(page: &StatusPage, prepared: Prepared, headers: &HeaderMap) -> Response {
    let if_none_match = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let if_modified_since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v).ok());
    // RFC 9110: If-None-Match, when present, decides; If-Modified-Since only without it.
    let not_modified = match (if_none_match, &prepared.etag) {
        (Some(inm), Some(etag)) => inm.split(',').any(|t| t.trim() == etag || t.trim() == "*"),
        (Some(_), None) => false,
        (None, _) => match (if_modified_since, prepared.last_modified) {
            (Some(since), Some(modified)) => modified <= since,
            _ => false,
        },
    };
    let mut validators = HeaderMap::new();
    if let Some(etag) = prepared.etag.as_deref().and_then(|e| HeaderValue::from_str(e).ok()) {
        validators.insert(header::ETAG, etag);
    }
    if let Some(modified) = prepared.last_modified.and_then(|m| HeaderValue::from_str(&http_date(m)).ok()) {
        validators.insert(header::LAST_MODIFIED, modified);
    }
    if not_modified {
        page.lock().requests.not_modified += 1;
        return (StatusCode::NOT_MODIFIED, validators).into_response();
    }
    validators.insert(header::CONTENT_TYPE, prepared.content_type);
    (validators, prepared.body).into_response()
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

// --- rendering -----------------------------------------------------------------------------

/// Escapes text for XML content and attributes (and for HTML, which needs the same).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `Feb <var data-var='date'> 8</var>, <var data-var='time'>03:55</var> UTC`
fn stamp(t: DateTime<Utc>) -> String {
    format!(
        "{} <var data-var='date'>{}</var>, <var data-var='time'>{}</var> UTC",
        t.format("%b"),
        t.format("%e"),
        t.format("%H:%M")
    )
}

/// An entry's HTML, newest update first, in the newer (spaced) Statuspage layout.
fn entry_html(incident: &SimIncident) -> String {
    let mut html = String::new();
    if let Some((start, end)) = incident.window {
        html.push_str(&format!(
            "<p><strong>THIS IS A SCHEDULED EVENT {} &nbsp;-&nbsp; {}</strong></p>",
            stamp(start),
            stamp(end)
        ));
    }
    for update in incident.updates.iter().rev() {
        let label = update.label.as_deref().unwrap_or(update.state.label());
        html.push_str(&format!(
            "<p> <small>{}</small><br> <strong>{}</strong> - {} </p>",
            stamp(update.at),
            escape(label),
            escape(&update.text).replace('\n', "<br />")
        ));
    }
    html
}

/// Newest first, as Statuspage lists them.
fn newest_first(page: &Page) -> Vec<&SimIncident> {
    let mut list: Vec<&SimIncident> = page.incidents.iter().collect();
    list.sort_by(|a, b| b.created.cmp(&a.created).then(b.number.cmp(&a.number)));
    list
}

fn render_atom(page: &Page, base: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xml:lang=\"en-US\" xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    out.push_str(&format!(
        "  <id>tag:sim.claudewatch,2005:/history</id>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{b}\"/>\n  <link rel=\"self\" type=\"application/atom+xml\" href=\"{b}/history.atom\"/>\n  <title>{name} - Incident History</title>\n  <updated>{updated}</updated>\n  <author>\n    <name>{name}</name>\n  </author>\n",
        b = escape(base),
        name = escape(PAGE_NAME),
        updated = page.changed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ));
    for incident in newest_first(page) {
        let published = incident.window.map_or(incident.created, |w| w.0);
        out.push_str(&format!(
            "  <entry>\n    <id>tag:sim.claudewatch,2005:Incident/{number}</id>\n    <published>{published}</published>\n    <updated>{updated}</updated>\n    <link rel=\"alternate\" type=\"text/html\" href=\"{b}/incidents/{code}\"/>\n    <title>{title}</title>\n    <content type=\"html\">{content}</content>\n  </entry>\n",
            number = incident.number,
            published = published.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            updated = incident.updated().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            b = escape(base),
            code = escape(&incident.code),
            title = escape(&incident.title),
            content = escape(&entry_html(incident)),
        ));
    }
    out.push_str("</feed>\n");
    out
}

fn render_rss(page: &Page, base: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n  <channel>\n",
    );
    out.push_str(&format!(
        "    <title>{name} - Incident History</title>\n    <link>{b}</link>\n    <description>Statuspage</description>\n    <pubDate>{date}</pubDate>\n",
        name = escape(PAGE_NAME),
        b = escape(base),
        date = page.changed.to_rfc2822(),
    ));
    for incident in newest_first(page) {
        let link = format!("{base}/incidents/{}", incident.code);
        out.push_str(&format!(
            "    <item>\n      <title>{title}</title>\n      <description>\n{content}      </description>\n      <pubDate>{date}</pubDate>\n      <link>{link}</link>\n      <guid>{link}</guid>\n    </item>\n",
            title = escape(&incident.title),
            content = escape(&entry_html(incident)),
            date = incident.updated().to_rfc2822(),
            link = escape(&link),
        ));
    }
    out.push_str("  </channel>\n</rss>\n");
    out
}

fn render_summary(page: &Page, base: &str) -> String {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let components: Vec<Value> = page
        .components
        .iter()
        .enumerate()
        .map(|(position, c)| {
            let children: Vec<&str> = page
                .components
                .iter()
                .filter(|x| x.group.as_deref() == Some(c.id.as_str()))
                .map(|x| x.id.as_str())
                .collect();
            let mut v = json!({
                "id": c.id, "name": c.name, "status": c.status, "created_at": time(page.changed),
                "updated_at": time(page.changed), "position": position + 1, "description": null, "showcase": true,
                "start_date": null, "group_id": c.group, "page_id": "simpage00001", "group": !children.is_empty(),
                "only_show_if_degraded": false,
            });
            if !children.is_empty() {
                v["components"] = json!(children);
            }
            v
        })
        .collect();
    let entry = |i: &SimIncident| {
        let updates: Vec<Value> = i
            .updates
            .iter()
            .rev()
            .enumerate()
            .map(|(n, u)| json!({"id": format!("{}u{n}", i.code), "status": u.state.as_str(), "body": u.text, "incident_id": i.code, "created_at": time(u.at), "updated_at": time(u.at), "display_at": time(u.at)}))
            .collect();
        json!({
            "id": i.code, "name": i.title, "status": i.json_status().as_str(), "created_at": time(i.created),
            "updated_at": time(i.updated()), "monitoring_at": null, "resolved_at": null,
            "impact": if i.kind == Kind::Maintenance { "maintenance" } else { i.impact.as_str() },
            "shortlink": format!("{base}/incidents/{}", i.code), "started_at": time(i.created), "page_id": "simpage00001",
            "incident_updates": updates, "components": [],
        })
    };
    let open = |kind: Kind| -> Vec<Value> {
        newest_first(page).into_iter().filter(|i| i.kind == kind && i.json_status().is_open()).map(entry).collect()
    };
    let worst_incident =
        page.incidents.iter().filter(|i| i.kind == Kind::Incident && i.json_status().is_open()).map(|i| i.impact).max();
    let worst_component = page
        .components
        .iter()
        .map(|c| match c.status.as_str() {
            "major_outage" => Impact::Major,
            "partial_outage" | "degraded_performance" => Impact::Minor,
            _ => Impact::None,
        })
        .max()
        .unwrap_or(Impact::None);
    let in_maintenance = page
        .incidents
        .iter()
        .any(|i| i.kind == Kind::Maintenance && matches!(i.json_status(), SimState::InProgress | SimState::Verifying));
    let indicator = worst_incident.unwrap_or(Impact::None).max(worst_component);
    let (indicator, description) = match indicator {
        Impact::None if in_maintenance => ("maintenance", "Service Under Maintenance"),
        Impact::None => ("none", "All Systems Operational"),
        Impact::Minor => ("minor", "Partially Degraded Service"),
        Impact::Major => ("major", "Partial System Outage"),
        Impact::Critical => ("critical", "Major System Outage"),
    };
    json!({
        "page": {"id": "simpage00001", "name": PAGE_NAME, "url": base, "time_zone": "Etc/UTC", "updated_at": time(page.changed)},
        "components": components,
        "incidents": open(Kind::Incident),
        "scheduled_maintenances": open(Kind::Maintenance),
        "status": {"indicator": indicator, "description": description},
    })
    .to_string()
}

// --- control routes ------------------------------------------------------------------------

fn state_json(page: &Page) -> Value {
    let incidents: Vec<Value> = newest_first(page)
        .into_iter()
        .map(|i| {
            json!({
                "id": i.code, "title": i.title, "kind": if i.kind == Kind::Maintenance { "maintenance" } else { "incident" },
                "state": i.state().as_str(), "impact": i.impact.as_str(), "updates": i.updates.len(),
            })
        })
        .collect();
    let components: Vec<Value> = page.components.iter().map(|c| json!({"name": c.name, "status": c.status})).collect();
    let r = &page.requests;
    json!({
        "incidents": incidents,
        "components": components,
        "raw_feed": page.raw_feed.is_some(),
        "raw_summary": page.raw_summary.is_some(),
        "fault": page.fault.as_ref().map(|f| format!("{:?}", f.kind)),
        "validators": {"etag": page.send_etag, "last_modified": page.send_last_modified},
        "requests": {
            "feed": r.feed, "summary": r.summary, "not_modified": r.not_modified, "faults": r.faults,
            "last_user_agent": r.last_user_agent, "last_if_none_match": r.last_if_none_match,
            "last_if_modified_since": r.last_if_modified_since,
        },
    })
}

async fn control_state(State(page): State<StatusPage>) -> Response {
    axum::Json(state_json(&page.lock())).into_response()
}

async fn control_reset(State(page): State<StatusPage>) -> Response {
    page.reset();
    control_state(State(page)).await
}

/// Parses a JSON control body, or the 400 that says what is wrong.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ControlError> {
    serde_json::from_slice(body).map_err(|e| ControlError::bad(format!("expected {shape}: {e}")))
}

fn parse_state(raw: &str) -> Result<SimState, ControlError> {
    SimState::parse(raw).ok_or_else(|| {
        let names: Vec<&str> = SimState::ALL.iter().map(|s| s.as_str()).collect();
        ControlError::bad(format!("unknown state {raw:?}, expected one of: {}", names.join(", ")))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    title: String,
    state: Option<String>,
    kind: Option<String>,
    impact: Option<String>,
    text: Option<String>,
    id: Option<String>,
}

async fn control_open(State(page): State<StatusPage>, body: Bytes) -> ControlResult {
    let shape = "{\"title\", \"state\"?, \"kind\"?: \"incident\"|\"maintenance\", \"impact\"?, \"text\"?, \"id\"?}";
    let open: OpenBody = parse_body(&body, shape)?;
    let kind = match open.kind.as_deref() {
        None | Some("incident") => Kind::Incident,
        Some("maintenance") => Kind::Maintenance,
        Some(other) => {
            return Err(ControlError::bad(format!("unknown kind {other:?}: incident or maintenance")));
        }
    };
    let default_state = if kind == Kind::Maintenance { SimState::Scheduled } else { SimState::Investigating };
    let state = open.state.as_deref().map(parse_state).transpose()?.unwrap_or(default_state);
    let impact = match open.impact.as_deref() {
        None => Impact::Minor,
        Some(raw) => match Impact::parse(raw) {
            Some(i) => i,
            None => {
                return Err(ControlError::bad(format!("unknown impact {raw:?}: none, minor, major or critical")));
            }
        },
    };
    if let Some(id) = &open.id
        && (id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        return Err(ControlError::bad("id must be 1 to 64 ASCII letters and digits"));
    }
    let default_text = if kind == Kind::Maintenance {
        "We will be undergoing scheduled maintenance during this time."
    } else {
        "We are currently investigating this issue."
    };
    let text = open.text.unwrap_or_else(|| default_text.to_owned());
    let opening = Opening { title: &open.title, kind, state, impact, text: &text, code: open.id };
    let code = page.open_with(opening, MAX_INCIDENTS)?;
    let host_free_link = format!("/incidents/{code}");
    Ok((StatusCode::CREATED, axum::Json(json!({"id": code, "link": host_free_link}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    state: String,
    text: Option<String>,
    label: Option<String>,
}

async fn control_update(State(page): State<StatusPage>, Path(id): Path<String>, body: Bytes) -> ControlResult {
    let update: UpdateBody = parse_body(&body, "{\"state\", \"text\"?, \"label\"?}")?;
    let state = parse_state(&update.state)?;
    let text = update.text.unwrap_or_else(|| format!("This incident is now {}.", state.label().to_lowercase()));
    page.update_with(&id, state, update.label, &text, MAX_UPDATES)?;
    Ok(control_state(State(page)).await)
}

async fn control_delete(State(page): State<StatusPage>, Path(id): Path<String>) -> ControlResult {
    {
        let mut p = page.lock();
        let before = p.incidents.len();
        p.incidents.retain(|i| i.code != id);
        if p.incidents.len() == before {
            return Err(ControlError::not_found(format!("no incident {id:?}")));
        }
        p.changed = now();
    }
    Ok(control_state(State(page)).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentBody {
    status: String,
}

async fn control_component(State(page): State<StatusPage>, Path(name): Path<String>, body: Bytes) -> ControlResult {
    let c: ComponentBody = parse_body(&body, "{\"status\"}")?;
    {
        let mut p = page.lock();
        let count = p.components.len();
        match p.components.iter_mut().find(|x| x.name == name) {
            Some(existing) => existing.status = c.status,
            None if count >= MAX_COMPONENTS => {
                return Err(ControlError::bad(format!(
                    "the page has {MAX_COMPONENTS} components, its limit: set an existing one's status, or POST /_sim/status/reset"
                )));
            }
            None => {
                let id = format!("simcomp{:05}", p.components.len() + 1);
                p.components.push(SimComponent { id, name, status: c.status, group: None });
            }
        }
        p.changed = now();
    }
    Ok(control_state(State(page)).await)
}

/// Which document a raw override replaces.
#[derive(Clone, Copy)]
enum Raw {
    Feed,
    Summary,
}

fn set_raw(page: &StatusPage, which: Raw, value: Option<(Option<HeaderValue>, Bytes)>) {
    let mut p = page.lock();
    match which {
        Raw::Feed => p.raw_feed = value,
        Raw::Summary => p.raw_summary = value,
    }
    p.changed = now();
}

async fn control_raw_feed(State(page): State<StatusPage>, headers: HeaderMap, body: Bytes) -> Response {
    set_raw(&page, Raw::Feed, Some((headers.get(header::CONTENT_TYPE).cloned(), body)));
    control_state(State(page)).await
}

async fn control_raw_feed_clear(State(page): State<StatusPage>) -> Response {
    set_raw(&page, Raw::Feed, None);
    control_state(State(page)).await
}

async fn control_raw_summary(State(page): State<StatusPage>, headers: HeaderMap, body: Bytes) -> Response {
    set_raw(&page, Raw::Summary, Some((headers.get(header::CONTENT_TYPE).cloned(), body)));
    control_state(State(page)).await
}

async fn control_raw_summary_clear(State(page): State<StatusPage>) -> Response {
    set_raw(&page, Raw::Summary, None);
    control_state(State(page)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    kind: FaultKind,
    #[serde(default)]
    target: Target,
    count: Option<u64>,
    status: Option<u16>,
    /// A human duration (`"2s"`).
    delay: Option<String>,
    bytes: Option<usize>,
}

async fn control_fault(State(page): State<StatusPage>, body: Bytes) -> ControlResult {
    let shape = "{\"kind\": \"status\"|\"truncated\"|\"invalid\"|\"oversized\"|\"slow\"|\"stall\"|\"redirect_loop\", \"target\"?: \"feed\"|\"summary\"|\"all\", \"count\"?, \"status\"?, \"delay\"?: \"2s\", \"bytes\"?}";
    let f: FaultBody = parse_body(&body, shape)?;
    let status = match StatusCode::from_u16(f.status.unwrap_or(500)) {
        Ok(s) if (400..=599).contains(&s.as_u16()) => s,
        _ => return Err(ControlError::bad("status must be an HTTP error status (400-599)")),
    };
    let delay = match f.delay.as_deref().map(humantime::parse_duration).transpose() {
        Ok(d) => d.unwrap_or(Duration::from_secs(30)).min(MAX_DELAY),
        Err(e) => return Err(ControlError::bad(format!("invalid delay: {e} (write e.g. \"2s\")"))),
    };
    let bytes = f.bytes.unwrap_or(DEFAULT_OVERSIZED_BYTES);
    if bytes > MAX_OVERSIZED_BYTES {
        return Err(ControlError::bad(format!("bytes must be at most {MAX_OVERSIZED_BYTES}")));
    }
    if f.count == Some(0) {
        return Err(ControlError::bad("count must be at least 1 (omit it for until deleted)"));
    }
    page.lock().fault = Some(Fault { kind: f.kind, target: f.target, remaining: f.count, status, delay, bytes });
    Ok(control_state(State(page)).await)
}

async fn control_fault_clear(State(page): State<StatusPage>) -> Response {
    page.lock().fault = None;
    control_state(State(page)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidatorsBody {
    etag: bool,
    last_modified: bool,
}

async fn control_validators(State(page): State<StatusPage>, body: Bytes) -> ControlResult {
    let v: ValidatorsBody = parse_body(&body, "{\"etag\": bool, \"last_modified\": bool}")?;
    {
        let mut p = page.lock();
        p.send_etag = v.etag;
        p.send_last_modified = v.last_modified;
    }
    Ok(control_state(State(page)).await)
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
