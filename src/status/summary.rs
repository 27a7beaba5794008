//! Reading the Statuspage JSON summary (`/api/v2/summary.json`): component states, the page
//! indicator, and the unresolved incidents with their impact. Missing and extra fields are
//! tolerated field by field; only a body that is not a JSON object with at least one of those
//! parts is an error.

use serde_json::Value;

use crate::telemetry::labels::label_enum;
use crate::text::truncate;

/// More components than this are ignored (they are label values).
pub(crate) const MAX_SUMMARY_COMPONENTS: usize = 200;

/// Component names are cut to this many characters.
pub(crate) const MAX_COMPONENT_NAME_CHARS: usize = 100;

label_enum! {
    /// A component's status.
    pub enum ComponentStatus {
        Operational => "operational",
        DegradedPerformance => "degraded_performance",
        PartialOutage => "partial_outage",
        MajorOutage => "major_outage",
        UnderMaintenance => "under_maintenance",
        Unknown => "unknown",
    }
}

label_enum! {
    /// The page's overall indicator (`status.indicator`).
    pub enum Indicator {
        None => "none",
        Minor => "minor",
        Major => "major",
        Critical => "critical",
        Unknown => "unknown",
    }
}

label_enum! {
    /// An incident's impact.
    pub enum Impact {
        None => "none",
        Minor => "minor",
        Major => "major",
        Critical => "critical",
        Unknown => "unknown",
    }
}

/// The value a summary field names, surrounding whitespace ignored; absent or unrecognised text
/// is `unknown` (the list may grow, and a new value must not lose the component).
fn lenient<T>(raw: Option<&str>, from_value: fn(&str) -> Option<T>, unknown: T) -> T {
    raw.and_then(|r| from_value(r.trim())).unwrap_or(unknown)
}

/// One non-group component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub status: ComponentStatus,
}

/// One unresolved incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryIncident {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: Impact,
}

/// What the summary says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Leaf components in page order, unique by name, group components skipped.
    pub components: Vec<Component>,
    pub indicator: Indicator,
    pub incidents: Vec<SummaryIncident>,
}

/// Why a body is not a usable summary.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("invalid JSON")]
    Json(#[from] serde_json::Error),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("no components, status or incidents: not a Statuspage summary")]
    NotASummary,
}

/// Reads a summary; missing and extra fields are tolerated, a body that is no summary is not.
pub fn parse(body: &[u8]) -> Result<Summary, SummaryError> {
    let value: Value = serde_json::from_slice(body)?;
    let Some(root) = value.as_object() else {
        return Err(SummaryError::NotAnObject);
    };
    if !["components", "status", "incidents"].iter().any(|k| root.contains_key(*k)) {
        return Err(SummaryError::NotASummary);
    }

    let mut components: Vec<Component> = Vec::new();
    for item in root.get("components").and_then(Value::as_array).into_iter().flatten() {
        if components.len() >= MAX_SUMMARY_COMPONENTS {
            break;
        }
        if item.get("group").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        let Some(name) = item.get("name").and_then(Value::as_str).map(clean_name).filter(|n| !n.is_empty()) else {
            continue;
        };
        // The same name twice (in two groups) would be one series: the first one wins.
        if components.iter().any(|c| c.name == name) {
            continue;
        }
        let status =
            lenient(item.get("status").and_then(Value::as_str), ComponentStatus::from_value, ComponentStatus::Unknown);
        components.push(Component { name, status });
    }

    let indicator = lenient(
        root.get("status").and_then(|s| s.get("indicator")).and_then(Value::as_str),
        Indicator::from_value,
        Indicator::Unknown,
    );

    let incidents = root
        .get("incidents")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|i| {
            let text = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let status = text("status");
            // The summary lists unresolved incidents only; be sure.
            if matches!(status.as_str(), "resolved" | "postmortem" | "completed") {
                return None;
            }
            let impact = lenient(i.get("impact").and_then(Value::as_str), Impact::from_value, Impact::Unknown);
            Some(SummaryIncident { id: text("id"), name: text("name"), status, impact })
        })
        .collect();

    Ok(Summary { components, indicator, incidents })
}

fn clean_name(raw: &str) -> String {
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&collapsed, MAX_COMPONENT_NAME_CHARS).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape status.claude.com serves, trimmed to what matters plus fields we ignore.
    const SUMMARY: &str = r#"{
      "page": {"id": "tymt9n04zgry", "name": "Claude", "url": "https://status.claude.com", "time_zone": "Etc/UTC"},
      "components": [
        {"id": "g1", "name": "Claude Platform", "status": "major_outage", "group": true, "components": ["c1", "c2"]},
        {"id": "c1", "name": "claude.ai", "status": "operational", "group": false, "group_id": "g1", "position": 1},
        {"id": "c2", "name": "Claude API (api.anthropic.com)", "status": "partial_outage", "group_id": "g1"},
        {"id": "c3", "name": "  Claude   Code ", "status": "degraded_performance", "only_show_if_degraded": false},
        {"id": "c4", "name": "Console", "status": "under_maintenance"},
        {"id": "c5", "name": "Brand new", "status": "on_fire"},
        {"id": "c6", "status": "operational"},
        {"id": "c7", "name": "claude.ai", "status": "major_outage"},
        "not an object"
      ],
      "incidents": [
        {"id": "abc123", "name": "Elevated errors on Claude Opus", "status": "investigating", "impact": "major", "incident_updates": []},
        {"id": "def456", "name": "Old", "status": "resolved", "impact": "minor"},
        {"id": "ghi789", "name": "No impact field", "status": "identified"}
      ],
      "scheduled_maintenances": [],
      "status": {"indicator": "major", "description": "Partial System Outage"},
      "something_new": {"x": 1}
    }"#;

    #[test]
    fn components_indicator_and_incidents() {
        let s = parse(SUMMARY.as_bytes()).unwrap();
        let comps: Vec<(&str, ComponentStatus)> = s.components.iter().map(|c| (c.name.as_str(), c.status)).collect();
        assert_eq!(
            comps,
            [
                ("claude.ai", ComponentStatus::Operational),
                ("Claude API (api.anthropic.com)", ComponentStatus::PartialOutage),
                ("Claude Code", ComponentStatus::DegradedPerformance),
                ("Console", ComponentStatus::UnderMaintenance),
                ("Brand new", ComponentStatus::Unknown),
            ]
        );
        assert_eq!(s.indicator, Indicator::Major);
        let incidents: Vec<(&str, Impact)> = s.incidents.iter().map(|i| (i.id.as_str(), i.impact)).collect();
        assert_eq!(incidents, [("abc123", Impact::Major), ("ghi789", Impact::Unknown)]);
    }

    #[test]
    fn missing_parts_are_tolerated_and_non_summaries_refused() {
        let s = parse(br#"{"status": {"indicator": "none"}}"#).unwrap();
        assert_eq!((s.components.len(), s.indicator, s.incidents.len()), (0, Indicator::None, 0));
        let s = parse(br#"{"components": [], "status": {"indicator": "maintenance"}}"#).unwrap();
        assert_eq!(s.indicator, Indicator::Unknown);
        let s = parse(br#"{"components": null, "status": null, "incidents": 3}"#).unwrap();
        assert_eq!((s.components.len(), s.indicator, s.incidents.len()), (0, Indicator::Unknown, 0));
        for bad in [&b"[]"[..], b"{}", b"{\"page\": {}}", b"<html>", b"", b"{\"components\": [", b"null"] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn component_names_and_counts_are_bounded() {
        let long = "x".repeat(500);
        let many: Vec<String> =
            (0..300).map(|i| format!(r#"{{"name": "c{i}{long}", "status": "operational"}}"#)).collect();
        let s = parse(format!(r#"{{"components": [{}]}}"#, many.join(",")).as_bytes()).unwrap();
        assert_eq!(s.components.len(), MAX_SUMMARY_COMPONENTS);
        assert!(s.components.iter().all(|c| c.name.chars().count() == MAX_COMPONENT_NAME_CHARS));
    }
}
