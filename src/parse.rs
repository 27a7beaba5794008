//! Every parser of untrusted input, in one small public surface for callers outside the crate:
//! fuzz targets, and the tests that read the simulator's output through the daemon's parsers.
//!
//! Each item is the parser its layer uses, re-exported unchanged; the layers' other internals
//! stay private to the crate. Every parser takes any bytes (or text) and returns a value or an
//! error, never panics, and bounds what it keeps (see each one's caps).
//!
//! | input | parser |
//! | --- | --- |
//! | a Statuspage history feed (RSS or Atom) | [`feed`] |
//! | the HTML of one feed entry (its updates) | [`entry_html`], [`update_stamp`] |
//! | the Statuspage JSON summary | [`summary`] |
//! | a Messages API reply, an error body | [`message_reply`], [`error_body`] |
//! | an SSE stream, chunk by chunk, and its events | [`SseParser`], [`StreamReply`] |
//! | the API's response headers (request id, retry-after, rate limits) | [`ResponseHeaders::parse`] |
//! | an ingest request body (one event or a batch) | [`ingest_body`] |
//! | the daemon's config file | [`config`] |
//! | a simulator scenario | [`scenario`] |

pub use crate::ingest::event::{
    Event as IngestEvent, Events as IngestEvents, Invalid as InvalidIngestEvent, Outcome as IngestOutcome,
    Rejected as RejectedIngestBody, parse as ingest_body,
};
pub use crate::probe::headers::{RateLimit, ResponseHeaders};
pub use crate::probe::reply::{
    ApiErrorDetail, Reply, SseEvent, SseParser, StreamReply, Usage, parse_error as error_body,
    parse_message as message_reply,
};
pub use crate::sim::{Scenario, ScenarioError};
pub use crate::status::feed::{
    EntryHtml, EntryKind, Feed, FeedError, Incident, IncidentState, Lifecycle, Update, parse as feed,
    parse_stamp as update_stamp, read_updates as entry_html,
};
pub use crate::status::summary::{
    Component, ComponentStatus, Impact, Indicator, Summary, SummaryError, SummaryIncident, parse as summary,
};

use crate::app::Config;
use crate::config::Diagnostic;

/// The daemon's config file: the config and its warnings, or every error (and warning), each
/// located by line and column. `source` names the text in the diagnostics.
pub fn config(source: &str, text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    Config::parse(source, text)
}

/// A simulator scenario; `source` names the text in the diagnostics.
pub fn scenario(source: &str, text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::from_toml(source, text)
}
