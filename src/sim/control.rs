//! The simulator's control routes under `/_sim/` (which the API never uses): the scripted
//! queue, the stats and the request log, the scenario, a health check. Code drives the same
//! state through [`SimHandle`](super::SimHandle).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;

use super::fault::ScriptEntry;
use super::scenario::Scenario;
use super::state::{self, MAX_SCRIPTED, Shared};

/// The routes, on the simulator's shared state.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/script", post(push_script).get(get_script).delete(delete_script))
        .route("/_sim/stats", get(get_stats))
        .route("/_sim/requests", get(get_requests))
        .route("/_sim/reset", post(post_reset))
        .route("/_sim/scenario", get(get_scenario).put(put_scenario))
        .route("/_sim/health", get(health))
}

/// A control route's 400, in the API's error shape.
fn control_error(message: &str) -> Response {
    let body = json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptObject {
    steps: Vec<ScriptEntry>,
    #[serde(default)]
    replace: bool,
}

async fn push_script(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    // The list form first, for its precise error; then the object form.
    let parsed = match serde_json::from_slice::<Vec<ScriptEntry>>(&body) {
        Ok(steps) => Ok((steps, false)),
        Err(list_err) => match serde_json::from_slice::<ScriptObject>(&body) {
            Ok(o) => Ok((o.steps, o.replace)),
            Err(obj_err) => {
                let starts_with_list = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
                Err(if starts_with_list { list_err } else { obj_err })
            }
        },
    };
    let (steps, replace) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            return control_error(&format!(
                "the script is a JSON list of steps (\"reset\" or {{\"fault\": …, \"latency\": …, \"retry_after\": …, \"count\": …}}), or {{\"steps\": [...], \"replace\": bool}}: {e}"
            ));
        }
    };
    match shared.push_script(steps, replace, MAX_SCRIPTED) {
        Ok(queued) => axum::Json(json!({"queued": queued})).into_response(),
        Err((queued, asked)) => control_error(&format!(
            "the script may hold at most {MAX_SCRIPTED} steps (counting each repetition of a count): \
             {queued} are queued and this asks for {asked} more; nothing was added \
             (DELETE /_sim/script or send {{\"steps\": [...], \"replace\": true}} to start over)"
        )),
    }
}

fn script_json(shared: &Shared) -> serde_json::Value {
    let entries = shared.script();
    let remaining = state::queued(&entries);
    let steps: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(e.step).unwrap_or_default();
            v["count"] = json!(e.count);
            v
        })
        .collect();
    json!({"queued": remaining, "steps": steps})
}

async fn get_script(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(script_json(&shared)).into_response()
}

async fn delete_script(State(shared): State<Arc<Shared>>) -> Response {
    shared.clear_script();
    axum::Json(script_json(&shared)).into_response()
}

async fn get_stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats()).into_response()
}

async fn get_requests(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(json!({"requests": shared.requests()})).into_response()
}

async fn post_reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset_stats();
    shared.clear_script();
    axum::Json(shared.stats()).into_response()
}

async fn get_scenario(State(shared): State<Arc<Shared>>) -> Response {
    let stats = shared.stats();
    axum::Json(json!({"scenario": shared.scenario(), "phase": stats.phase})).into_response()
}

async fn put_scenario(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return control_error("the scenario must be UTF-8 text: a built-in name or a TOML document");
    };
    let trimmed = text.trim();
    let scenario = match Scenario::builtin(trimmed) {
        Some(s) => s,
        None if !trimmed.contains('\n') && !trimmed.contains('=') => {
            return control_error(&format!(
                "no built-in scenario {trimmed:?} ({}); send a name or a TOML document",
                Scenario::builtin_names().join(", ")
            ));
        }
        None => match Scenario::from_toml("scenario", text) {
            Ok(s) => s,
            Err(e) => return control_error(&e.to_string()),
        },
    };
    tracing::info!(scenario = %scenario.name, "simulator scenario switched");
    shared.set_scenario(scenario);
    get_scenario(State(shared)).await
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}
