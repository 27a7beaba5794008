//! The control routes under `/_sim/status/`: open and update incidents, set components,
//! serve raw documents, inject faults, choose validators, read the page's state.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{
    ControlError, ControlResult, FaultKind, FaultTarget, IncidentImpact, IncidentKind, MAX_COMPONENTS, MAX_INCIDENTS,
    MAX_UPDATES, Opening, Page, PageFault, SimComponent, SimState, StatusPage, now,
};
use super::render::newest_first;

/// No fault waits longer than this.
const MAX_DELAY: Duration = Duration::from_secs(600);

/// The default size of an `oversized` body.
const DEFAULT_OVERSIZED_BYTES: usize = 8 * 1024 * 1024;

/// The largest `oversized` body the simulator agrees to produce.
const MAX_OVERSIZED_BYTES: usize = 256 * 1024 * 1024;

fn state_json(page: &Page) -> Value {
    let incidents: Vec<Value> = newest_first(page)
        .into_iter()
        .map(|i| {
            json!({
                "id": i.code, "title": i.title, "kind": if i.kind == IncidentKind::Maintenance { "maintenance" } else { "incident" },
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

pub(super) async fn control_state(State(page): State<StatusPage>) -> Response {
    axum::Json(state_json(&page.lock())).into_response()
}

pub(super) async fn control_reset(State(page): State<StatusPage>) -> Response {
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

pub(super) async fn control_open(State(page): State<StatusPage>, body: Bytes) -> ControlResult {
    let shape = "{\"title\", \"state\"?, \"kind\"?: \"incident\"|\"maintenance\", \"impact\"?, \"text\"?, \"id\"?}";
    let open: OpenBody = parse_body(&body, shape)?;
    let kind = match open.kind.as_deref() {
        None | Some("incident") => IncidentKind::Incident,
        Some("maintenance") => IncidentKind::Maintenance,
        Some(other) => {
            return Err(ControlError::bad(format!("unknown kind {other:?}: incident or maintenance")));
        }
    };
    let default_state = if kind == IncidentKind::Maintenance { SimState::Scheduled } else { SimState::Investigating };
    let state = open.state.as_deref().map(parse_state).transpose()?.unwrap_or(default_state);
    let impact = match open.impact.as_deref() {
        None => IncidentImpact::Minor,
        Some(raw) => match IncidentImpact::parse(raw) {
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
    let default_text = if kind == IncidentKind::Maintenance {
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

pub(super) async fn control_update(
    State(page): State<StatusPage>,
    Path(id): Path<String>,
    body: Bytes,
) -> ControlResult {
    let update: UpdateBody = parse_body(&body, "{\"state\", \"text\"?, \"label\"?}")?;
    let state = parse_state(&update.state)?;
    let text = update.text.unwrap_or_else(|| format!("This incident is now {}.", state.label().to_lowercase()));
    page.update_with(&id, state, update.label, &text, MAX_UPDATES)?;
    Ok(control_state(State(page)).await)
}

pub(super) async fn control_delete(State(page): State<StatusPage>, Path(id): Path<String>) -> ControlResult {
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

pub(super) async fn control_component(
    State(page): State<StatusPage>,
    Path(name): Path<String>,
    body: Bytes,
) -> ControlResult {
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

pub(super) async fn control_raw_feed(State(page): State<StatusPage>, headers: HeaderMap, body: Bytes) -> Response {
    set_raw(&page, Raw::Feed, Some((headers.get(header::CONTENT_TYPE).cloned(), body)));
    control_state(State(page)).await
}

pub(super) async fn control_raw_feed_clear(State(page): State<StatusPage>) -> Response {
    set_raw(&page, Raw::Feed, None);
    control_state(State(page)).await
}

pub(super) async fn control_raw_summary(State(page): State<StatusPage>, headers: HeaderMap, body: Bytes) -> Response {
    set_raw(&page, Raw::Summary, Some((headers.get(header::CONTENT_TYPE).cloned(), body)));
    control_state(State(page)).await
}

pub(super) async fn control_raw_summary_clear(State(page): State<StatusPage>) -> Response {
    set_raw(&page, Raw::Summary, None);
    control_state(State(page)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultBody {
    kind: FaultKind,
    #[serde(default)]
    target: FaultTarget,
    count: Option<u64>,
    status: Option<u16>,
    /// A human duration (`"2s"`).
    delay: Option<String>,
    bytes: Option<usize>,
}

pub(super) async fn control_fault(State(page): State<StatusPage>, body: Bytes) -> ControlResult {
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
    page.lock().fault = Some(PageFault { kind: f.kind, target: f.target, remaining: f.count, status, delay, bytes });
    Ok(control_state(State(page)).await)
}

pub(super) async fn control_fault_clear(State(page): State<StatusPage>) -> Response {
    page.lock().fault = None;
    control_state(State(page)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidatorsBody {
    etag: bool,
    last_modified: bool,
}

pub(super) async fn control_validators(State(page): State<StatusPage>, body: Bytes) -> ControlResult {
    let v: ValidatorsBody = parse_body(&body, "{\"etag\": bool, \"last_modified\": bool}")?;
    {
        let mut p = page.lock();
        p.send_etag = v.etag;
        p.send_last_modified = v.last_modified;
    }
    Ok(control_state(State(page)).await)
}
