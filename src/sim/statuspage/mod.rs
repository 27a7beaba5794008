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

mod control;
mod model;
mod render;
mod serve;

pub use model::{MAX_COMPONENTS, MAX_INCIDENTS, MAX_UPDATES, SimState, StatusPage};

use axum::Router;
use axum::routing::{delete, get, post, put};

use self::control::{
    control_component, control_delete, control_fault, control_fault_clear, control_open, control_raw_feed,
    control_raw_feed_clear, control_raw_summary, control_raw_summary_clear, control_reset, control_state,
    control_update, control_validators,
};
use self::serve::{atom, redirect, rss, summary};

impl StatusPage {
    pub fn router(&self) -> Router {
        Router::new()
            .route("/history.atom", get(atom))
            .route("/history.rss", get(rss))
            .route("/api/v2/summary.json", get(summary))
            .route("/redirect/{*path}", get(redirect))
            .route("/_sim/status", get(control_state))
            .route("/_sim/status/reset", post(control_reset))
            .route("/_sim/status/incidents", post(control_open))
            .route("/_sim/status/incidents/{id}", delete(control_delete))
            .route("/_sim/status/incidents/{id}/updates", post(control_update))
            .route("/_sim/status/components/{name}", put(control_component))
            .route("/_sim/status/feed", put(control_raw_feed).delete(control_raw_feed_clear))
            .route("/_sim/status/summary", put(control_raw_summary).delete(control_raw_summary_clear))
            .route("/_sim/status/fault", put(control_fault).delete(control_fault_clear))
            .route("/_sim/status/validators", put(control_validators))
            .with_state(self.clone())
    }
}
