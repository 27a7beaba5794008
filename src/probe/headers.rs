//! What the API's response headers say beyond the status: the request id, the server-requested
//! wait, and the `anthropic-ratelimit-*` headroom.

use std::time::UNIX_EPOCH;

use reqwest::header::HeaderMap;
use serde::Serialize;

use crate::telemetry::labels::label_enum;

/// Request ids longer than this, or with characters other than ASCII letters, digits, `_` and
/// `-`, are dropped: they go into logs and JSON, and a hostile peer must neither fill those nor
/// put quotes, escapes or markup in them. The API's own ids (`req_011C…`, 28 characters) pass.
pub(crate) const MAX_REQUEST_ID_LEN: usize = 64;

/// Waits beyond this are not believed (a day covers every documented limit window).
const MAX_RETRY_AFTER_SECS: f64 = 86_400.0;

label_enum! {
    /// The resource a rate-limit header pair describes (the `resource` label).
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    pub enum Resource {
        Requests => "requests",
        /// The most restrictive token limit currently in effect.
        Tokens => "tokens",
        InputTokens => "input_tokens",
        OutputTokens => "output_tokens",
    }
}

impl Resource {
    /// The middle part of `anthropic-ratelimit-{…}-limit`.
    const fn header_part(self) -> &'static str {
        match self {
            Resource::Requests => "requests",
            Resource::Tokens => "tokens",
            Resource::InputTokens => "input-tokens",
            Resource::OutputTokens => "output-tokens",
        }
    }
}

/// One resource's headroom, as far as the headers gave it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateLimit {
    pub resource: Resource,
    pub limit: Option<i64>,
    pub remaining: Option<i64>,
    /// When the bucket refills completely, as Unix seconds.
    pub reset_timestamp: Option<f64>,
}

/// The headers of one response that claudewatch exports or logs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResponseHeaders {
    pub request_id: Option<String>,
    /// Seconds, from `retry-after-ms` or else `retry-after` (delta-seconds; the HTTP-date form
    /// is not used by the API and is ignored).
    pub retry_after: Option<f64>,
    /// Only the resources for which at least one header was present and valid.
    pub rate_limits: Vec<RateLimit>,
}

impl ResponseHeaders {
    pub fn parse(headers: &HeaderMap) -> ResponseHeaders {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let request_id = text("request-id").filter(|id| is_safe_id(id)).map(str::to_owned);
        let retry_after = text("retry-after-ms")
            .and_then(parse_seconds)
            .map(|ms| ms / 1000.0)
            .or_else(|| text("retry-after").and_then(parse_seconds));
        let rate_limits = Resource::ALL
            .into_iter()
            .filter_map(|resource| {
                let header = |suffix: &str| text(&format!("anthropic-ratelimit-{}-{suffix}", resource.header_part()));
                let limit = header("limit").and_then(|v| v.parse::<i64>().ok()).filter(|v| *v >= 0);
                let remaining = header("remaining").and_then(|v| v.parse::<i64>().ok()).filter(|v| *v >= 0);
                let reset_timestamp = header("reset").and_then(parse_timestamp);
                (limit.is_some() || remaining.is_some() || reset_timestamp.is_some()).then_some(RateLimit {
                    resource,
                    limit,
                    remaining,
                    reset_timestamp,
                })
            })
            .collect();
        ResponseHeaders { request_id, retry_after, rate_limits }
    }
}

/// Whether a request id may be logged and returned as is (see [`MAX_REQUEST_ID_LEN`]).
pub(crate) fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// A non-negative, finite number of seconds (or milliseconds), within reason.
fn parse_seconds(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|s| s.is_finite() && (0.0..=MAX_RETRY_AFTER_SECS * 1000.0).contains(s))
}

/// RFC 3339 (`2026-03-30T12:00:00Z`, fractional seconds allowed) to Unix seconds.
fn parse_timestamp(v: &str) -> Option<f64> {
    let at = humantime::parse_rfc3339_weak(v).ok()?;
    at.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn reads_the_documented_headers() {
        let parsed = ResponseHeaders::parse(&headers(&[
            ("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy"),
            ("retry-after", "7"),
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-reset", "2026-03-30T12:00:01Z"),
            ("anthropic-ratelimit-input-tokens-limit", "30000"),
            ("anthropic-ratelimit-input-tokens-remaining", "29000"),
            ("anthropic-ratelimit-tokens-remaining", "38000"),
        ]));
        assert_eq!(parsed.request_id.as_deref(), Some("req_011CSHoEeqs5C35K2UUqR7Fy"));
        assert_eq!(parsed.retry_after, Some(7.0));
        assert_eq!(parsed.rate_limits.len(), 3, "{parsed:?}");
        let requests = &parsed.rate_limits[0];
        assert_eq!((requests.resource, requests.limit, requests.remaining), (Resource::Requests, Some(50), Some(49)));
        assert_eq!(requests.reset_timestamp, Some(1_774_872_001.0));
        assert_eq!(
            parsed.rate_limits[1],
            RateLimit { resource: Resource::Tokens, limit: None, remaining: Some(38000), reset_timestamp: None }
        );
        assert_eq!(parsed.rate_limits[2].resource, Resource::InputTokens);
    }

    #[test]
    fn retry_after_ms_wins_and_garbage_is_ignored() {
        let parsed = ResponseHeaders::parse(&headers(&[("retry-after-ms", "1500"), ("retry-after", "2")]));
        assert_eq!(parsed.retry_after, Some(1.5));
        for bad in ["-1", "NaN", "inf", "Wed, 21 Oct 2026 07:28:00 GMT", "", "1e12"] {
            let parsed = ResponseHeaders::parse(&headers(&[("retry-after", bad)]));
            assert_eq!(parsed.retry_after, None, "{bad:?}");
        }
        let parsed = ResponseHeaders::parse(&headers(&[
            ("anthropic-ratelimit-requests-limit", "lots"),
            ("anthropic-ratelimit-requests-remaining", "-3"),
            ("anthropic-ratelimit-requests-reset", "tomorrow"),
        ]));
        assert!(parsed.rate_limits.is_empty(), "{parsed:?}");
    }

    #[test]
    fn hostile_request_ids_are_dropped() {
        let long = "r".repeat(MAX_REQUEST_ID_LEN + 1);
        let bad = [long.as_str(), "req with spaces", "", "req\"quoted\"", "req\\x1b[31m", "<script>", "a=b", "ré"];
        for bad in bad {
            let mut map = HeaderMap::new();
            map.insert("request-id", reqwest::header::HeaderValue::from_bytes(bad.as_bytes()).unwrap());
            assert_eq!(ResponseHeaders::parse(&map).request_id, None, "{bad:?}");
        }
        // Bytes that are not UTF-8 at all.
        let mut map = HeaderMap::new();
        map.insert("request-id", reqwest::header::HeaderValue::from_bytes(b"req_\xff\xfe").unwrap());
        assert_eq!(ResponseHeaders::parse(&map).request_id, None);
        // The longest id allowed, and the characters ids are made of, pass.
        let longest = "r".repeat(MAX_REQUEST_ID_LEN);
        for good in [longest.as_str(), "req_011CSHoEeqs5C35K2UUqR7Fy", "req-abc_DEF-123"] {
            assert_eq!(ResponseHeaders::parse(&headers(&[("request-id", good)])).request_id.as_deref(), Some(good));
        }
    }
}
