//! Which [`Step`] a messages request gets: the request's own headers first, then the scripted
//! queue, then a draw from the scenario's current phase.

use axum::http::HeaderMap;

use crate::sim::fault::{Fault, Latency, Step};
use crate::sim::state::{Shared, Source};

/// Request header that picks the fault of one request (`reset`, `overloaded`, …).
pub const FAULT_HEADER: &str = "x-claudewatch-sim-fault";
/// Request header that adds latency to one request (`"250ms"`).
pub const LATENCY_HEADER: &str = "x-claudewatch-sim-latency";
/// Request header that sets the `retry-after` seconds of one request's answer.
pub const RETRY_AFTER_HEADER: &str = "x-claudewatch-sim-retry-after";

/// Picks the step for a messages request: header, then script, then scenario.
pub(super) fn choose(shared: &Shared, headers: &HeaderMap) -> Result<(Step, Source), String> {
    let text = |name: &str| -> Result<Option<String>, String> {
        match headers.get(name) {
            None => Ok(None),
            Some(v) => v.to_str().map(|s| Some(s.trim().to_owned())).map_err(|_| format!("{name}: not ASCII")),
        }
    };
    let fault = text(FAULT_HEADER)?;
    let latency = text(LATENCY_HEADER)?;
    let retry_after = text(RETRY_AFTER_HEADER)?;
    if fault.is_none() && latency.is_none() && retry_after.is_none() {
        if let Some(step) = shared.next_scripted() {
            return Ok((step, Source::Script));
        }
        return Ok((shared.draw_from_scenario().0, Source::Scenario));
    }
    let fault = match fault {
        Some(f) => f.parse::<Fault>().map_err(|e| format!("{FAULT_HEADER}: {e}"))?,
        None => Fault::Ok,
    };
    let latency = match latency {
        Some(l) => Some(l.parse::<Latency>().map_err(|e| format!("{LATENCY_HEADER}: {e}"))?),
        None => None,
    };
    let retry_after = match retry_after {
        Some(r) => Some(
            r.parse::<u64>().map_err(|_| format!("{RETRY_AFTER_HEADER}: {r:?} is not a whole number of seconds"))?,
        ),
        None => None,
    };
    Ok((Step { fault, latency, retry_after }, Source::Header))
}
