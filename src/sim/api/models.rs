//! The models `GET /v1/models` lists and `GET /v1/models/{id}` finds.

use serde_json::{Value, json};

/// The models `GET /v1/models` lists, newest first as the API lists them: id, alias, display
/// name, release. Ids from the 4.6 generation on are undated (`claude-haiku-5-5`), so there
/// id and alias are the same; older ids carry their snapshot date. `GET /v1/models/{id}` also resolves the alias; `POST /v1/messages` accepts
/// any model name.
const MODELS: [(&str, &str, &str, &str); 4] = [
    ("claude-haiku-5-5", "claude-haiku-5-5", "Claude Haiku 5.5", "2026-10-07T00:00:00Z"),
    ("claude-opus-4-5-20251101", "claude-opus-4-5", "Claude Opus 4.5", "2025-11-01T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "claude-haiku-4-5", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
];

fn model_json(id: &str, name: &str, created: &str) -> Value {
    json!({"type": "model", "id": id, "display_name": name, "created_at": created})
}

/// `GET /v1/models`: every model, newest first, in one page.
pub(super) fn list() -> Value {
    let data: Vec<Value> = MODELS.iter().map(|(id, _, name, created)| model_json(id, name, created)).collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": MODELS[0].0,
        "last_id": MODELS[MODELS.len() - 1].0,
    })
}

/// `GET /v1/models/{id}`: the model with this id or alias.
pub(super) fn find(id: &str) -> Option<Value> {
    MODELS
        .iter()
        .find(|(m, alias, _, _)| *m == id || *alias == id)
        .map(|(id, _, name, created)| model_json(id, name, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_newest_first() {
        assert!(MODELS.windows(2).all(|w| w[0].3 > w[1].3), "{MODELS:?}");
        for (id, alias, _, created) in MODELS {
            humantime::parse_rfc3339(created).unwrap();
            // From the 4.6 generation on, ids carry no snapshot date; before it they do.
            if id == alias {
                continue;
            }
            assert!(id.starts_with(alias) && id.len() == alias.len() + 9, "{id} is {alias}-YYYYMMDD");
            assert_eq!(id[alias.len() + 1..], created[..10].replace('-', ""), "{id} matches {created}");
        }
    }
}
