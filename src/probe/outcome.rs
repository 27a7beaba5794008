//! The result of one probe or control request: what the metrics record, what the log line says
//! (both in `internal_events`), and what `GET /probe` returns, all from the one value so they
//! never disagree.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::headers::{RateLimit, is_safe_id};
use crate::classify::{ConnectionReason, ErrorClass};

/// Error texts in logs and JSON are cut to this many characters (see [`crate::text::truncate`]).
pub(super) const MAX_ERROR_LEN: usize = 300;
/// Reply texts in JSON are cut to this many characters.
pub(super) const MAX_REPLY_LEN: usize = 200;

/// Why a run happened, for the log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Trigger {
    Schedule,
    OnDemand,
}

impl Trigger {
    pub(super) const fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::OnDemand => "on_demand",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub(super) struct ProbeResult {
    /// The probe's (or control target's) name.
    #[serde(rename = "probe")]
    pub name: String,
    pub trigger: Trigger,
    #[serde(serialize_with = "as_str")]
    pub class: ErrorClass,
    /// `class == ok`, spelled out for blackbox-exporter habits.
    pub success: bool,
    /// Set for `connection` failures.
    #[serde(serialize_with = "opt_as_str")]
    pub reason: Option<ConnectionReason>,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    /// From just before the request was sent to the end of the body (or the failure).
    pub duration_seconds: f64,
    /// To the response status line and headers.
    pub first_byte_seconds: Option<f64>,
    /// To the first `content_block_delta` (streaming probes).
    pub ttft_seconds: Option<f64>,
    pub request_id: Option<String>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub retry_after_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rate_limits: Vec<RateLimit>,
    /// A short description of what went wrong; `None` on success.
    pub error: Option<String>,
    /// The start of the reply text, when there was one.
    pub reply: Option<String>,
    /// Unix time at which the result was known.
    pub timestamp: f64,
}

fn as_str<S: serde::Serializer>(class: &ErrorClass, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(class.as_str())
}

#[allow(clippy::ref_option)] // serde's `serialize_with` hands the field by reference.
fn opt_as_str<S: serde::Serializer>(reason: &Option<ConnectionReason>, s: S) -> Result<S::Ok, S::Error> {
    match reason {
        Some(r) => s.serialize_str(r.as_str()),
        None => s.serialize_none(),
    }
}

impl ProbeResult {
    /// An empty result for `name`, filled in by the prober.
    pub(super) fn new(name: &str, trigger: Trigger) -> ProbeResult {
        ProbeResult {
            name: name.to_owned(),
            trigger,
            class: ErrorClass::Unexpected,
            success: false,
            reason: None,
            status: None,
            duration_seconds: 0.0,
            first_byte_seconds: None,
            ttft_seconds: None,
            request_id: None,
            input_tokens: None,
            output_tokens: None,
            retry_after_seconds: None,
            rate_limits: Vec::new(),
            error: None,
            reply: None,
            timestamp: 0.0,
        }
    }

    pub(super) fn success(&self) -> bool {
        self.success
    }

    /// Stamps the finish time.
    pub(super) fn finish(&mut self) {
        self.timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    }

    /// Makes the network-supplied texts safe to log and return: every occurrence of `secret`
    /// in the free-text fields is replaced (the texts come from the network and from error
    /// chains, none of which should hold the key; this makes sure), and a request id is kept
    /// only if it is a short token of `[A-Za-z0-9_-]` that does not contain the secret.
    pub(super) fn redact(&mut self, secret: &str) {
        if self.request_id.as_deref().is_some_and(|id| !is_safe_id(id) || (!secret.is_empty() && id.contains(secret))) {
            self.request_id = None;
        }
        if secret.is_empty() {
            return;
        }
        for text in [&mut self.error, &mut self.reply].into_iter().flatten() {
            if text.contains(secret) {
                *text = text.replace(secret, "[redacted]");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_covers_every_free_text_field() {
        let mut r = ProbeResult::new("p", Trigger::Schedule);
        r.error = Some("bad key sk-SECRET in header".into());
        r.reply = Some("sk-SECRET".into());
        r.redact("sk-SECRET");
        assert_eq!(r.error.as_deref(), Some("bad key [redacted] in header"));
        assert_eq!(r.reply.as_deref(), Some("[redacted]"));
    }

    #[test]
    fn redaction_drops_a_request_id_that_is_unsafe_or_holds_the_key() {
        let with_id = |id: &str| {
            let mut r = ProbeResult::new("p", Trigger::Schedule);
            r.request_id = Some(id.to_owned());
            r.redact("sk-SECRET");
            r.request_id
        };
        assert_eq!(with_id("req_011CSHoEeqs5C35K2UUqR7Fy").as_deref(), Some("req_011CSHoEeqs5C35K2UUqR7Fy"));
        assert_eq!(with_id("echo-sk-SECRET-back"), None);
        assert_eq!(with_id(&"r".repeat(65)), None);
        assert_eq!(with_id("id\"} injected=\"1"), None);
        assert_eq!(with_id("line\nbreak"), None);
        // Controls have no key: the id is still checked.
        let mut r = ProbeResult::new("c", Trigger::Schedule);
        r.request_id = Some("a b".into());
        r.redact("");
        assert_eq!(r.request_id, None);
    }

    #[test]
    fn json_uses_the_label_spellings() {
        let mut r = ProbeResult::new("p", Trigger::OnDemand);
        r.class = ErrorClass::Connection;
        r.reason = Some(ConnectionReason::Reset);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["class"], "connection");
        assert_eq!(v["reason"], "reset");
        assert_eq!(v["trigger"], "on_demand");
    }
}
