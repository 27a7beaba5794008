//! What the simulator can do to one request: the [`Fault`] it serves, the added [`Latency`], and
//! the [`Step`] that combines them (one entry of a scripted queue, or one scenario draw).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config;

/// The longest latency a distribution may draw: a long tail must not turn into a hang.
const MAX_SAMPLED_LATENCY: Duration = Duration::from_secs(300);

/// The z-score of the 99th percentile of a standard normal distribution.
const Z_P99: f64 = 2.326_347_874;

/// One way to answer (or not answer) a `POST /v1/messages` request.
///
/// Names are snake_case (`reset`, `rate_limited`, …) in the header, the script endpoint, the
/// scenario files and `/_sim/stats`; parsing also accepts kebab-case and the status code of the
/// HTTP faults (`"529"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// A normal answer (the scenario's reply text, "OK" by default).
    Ok,
    /// The request is read, then the TCP connection is reset (SO_LINGER 0): the client sees
    /// ECONNRESET.
    Reset,
    /// A 200 with part of the body, then the connection closes (FIN) before the body is complete.
    CloseMidBody,
    /// 529 `overloaded_error`.
    Overloaded,
    /// 503 `api_error` "Service Unavailable".
    Unavailable,
    /// 429 `rate_limit_error` with `retry-after` (1 s unless the step says otherwise).
    RateLimited,
    /// 429 `rate_limit_error` without `retry-after`.
    RateLimitedNoRetryAfter,
    /// 429 with `error.details.error_code: "enforced_spend_limit_reached"` and no `retry-after`.
    SpendLimit,
    /// 500 `api_error`.
    ServerError,
    /// 502 with an HTML body from the edge (no JSON, no `request-id`).
    BadGateway,
    /// 504 `timeout_error`.
    GatewayTimeout,
    /// 400 `invalid_request_error`.
    BadRequest,
    /// 401 `authentication_error`.
    Unauthorized,
    /// 403 `permission_error`.
    Forbidden,
    /// No answer at all until the simulator stops (or [`MAX_HANG`](crate::sim::MAX_HANG) passes),
    /// then the connection closes.
    Hang,
    /// A 200 whose body is not valid JSON (for a stream: a `data:` line that is not JSON).
    InvalidJson,
    /// A well-formed 200 whose reply text is not the expected one.
    WrongText,
    /// A 200 stream that carries `event: error` (`overloaded_error`) after the first events.
    /// A non-streaming request gets the same error as a 529 before any byte of the body.
    StreamError,
}

impl Fault {
    /// Every fault, in a stable order (stats pre-create a zero for each).
    pub const ALL: [Fault; 18] = [
        Fault::Ok,
        Fault::Reset,
        Fault::CloseMidBody,
        Fault::Overloaded,
        Fault::Unavailable,
        Fault::RateLimited,
        Fault::RateLimitedNoRetryAfter,
        Fault::SpendLimit,
        Fault::ServerError,
        Fault::BadGateway,
        Fault::GatewayTimeout,
        Fault::BadRequest,
        Fault::Unauthorized,
        Fault::Forbidden,
        Fault::Hang,
        Fault::InvalidJson,
        Fault::WrongText,
        Fault::StreamError,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Fault::Ok => "ok",
            Fault::Reset => "reset",
            Fault::CloseMidBody => "close_mid_body",
            Fault::Overloaded => "overloaded",
            Fault::Unavailable => "unavailable",
            Fault::RateLimited => "rate_limited",
            Fault::RateLimitedNoRetryAfter => "rate_limited_no_retry_after",
            Fault::SpendLimit => "spend_limit",
            Fault::ServerError => "server_error",
            Fault::BadGateway => "bad_gateway",
            Fault::GatewayTimeout => "gateway_timeout",
            Fault::BadRequest => "bad_request",
            Fault::Unauthorized => "unauthorized",
            Fault::Forbidden => "forbidden",
            Fault::Hang => "hang",
            Fault::InvalidJson => "invalid_json",
            Fault::WrongText => "wrong_text",
            Fault::StreamError => "stream_error",
        }
    }

    /// How the API, or the edge in front of it, answers this fault: the per-fault table of
    /// statuses, error types and messages.
    pub const fn answer(self) -> Answer {
        const fn error(status: u16, error_type: &'static str, message: &'static str) -> Answer {
            Answer::Error(ErrorAnswer { status, error_type, message, error_code: None })
        }
        match self {
            Fault::Reset | Fault::Hang => Answer::Connection,
            Fault::Overloaded => Answer::Error(OVERLOADED),
            Fault::Unavailable => error(503, "api_error", "Service Unavailable"),
            Fault::RateLimited | Fault::RateLimitedNoRetryAfter => error(
                429,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 4,000 requests per minute. Please retry later.",
            ),
            Fault::SpendLimit => Answer::Error(ErrorAnswer {
                status: 429,
                error_type: "rate_limit_error",
                message: "You have reached your specified API usage limits. You will regain access on the first of next month.",
                error_code: Some("enforced_spend_limit_reached"),
            }),
            Fault::ServerError => error(500, "api_error", "Internal server error"),
            Fault::BadGateway => Answer::EdgePage { status: 502 },
            Fault::GatewayTimeout => error(504, "timeout_error", "Request timed out"),
            Fault::BadRequest => error(400, "invalid_request_error", "messages: simulated invalid request"),
            Fault::Unauthorized => error(401, "authentication_error", "invalid x-api-key"),
            Fault::Forbidden => {
                error(403, "permission_error", "Your API key does not have permission to use the specified resource.")
            }
            Fault::Ok | Fault::CloseMidBody | Fault::InvalidJson | Fault::WrongText | Fault::StreamError => {
                Answer::AfterChecks
            }
        }
    }

    /// The names, for error messages.
    pub fn names() -> String {
        Fault::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown fault name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown fault {name:?}; known faults: {}", Fault::names())]
pub struct UnknownFault {
    /// The name as given.
    pub name: String,
}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase().replace('-', "_");
        if let Some(f) = Fault::ALL.iter().find(|f| f.as_str() == name) {
            return Ok(*f);
        }
        let by_status = match name.as_str() {
            "529" => Fault::Overloaded,
            "503" => Fault::Unavailable,
            "429" => Fault::RateLimited,
            "500" => Fault::ServerError,
            "502" => Fault::BadGateway,
            "504" => Fault::GatewayTimeout,
            "400" => Fault::BadRequest,
            "401" => Fault::Unauthorized,
            "403" => Fault::Forbidden,
            _ => return Err(UnknownFault { name: s.to_owned() }),
        };
        Ok(by_status)
    }
}

config::serde_as_text!(Fault);

/// How a fault is answered, before any byte of a reply ([`Fault::answer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// No answer: the connection is reset, or hangs.
    Connection,
    /// An error from the API or the edge that pre-empts every check of the request, as an
    /// overloaded edge or a rate limiter does.
    Error(ErrorAnswer),
    /// The edge's own HTML page, without a `request-id`.
    EdgePage { status: u16 },
    /// The request is checked like the API checks it (key, version, body), then answered with
    /// a 200 that the fault may break afterwards.
    AfterChecks,
}

/// What `overloaded` answers (and a `stream_error` on a request that did not ask for a stream).
pub(super) const OVERLOADED: ErrorAnswer =
    ErrorAnswer { status: 529, error_type: "overloaded_error", message: "Overloaded", error_code: None };

/// The API's error answer for a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub status: u16,
    /// `error.type`.
    pub error_type: &'static str,
    pub message: &'static str,
    /// `error.details.error_code`, when the API sends one.
    pub error_code: Option<&'static str>,
}

/// Added latency before the answer (before the status line, so it is also the time to first
/// byte and, for a stream, to first token).
///
/// In TOML and JSON: a duration string (`"250ms"`, fixed), `{ min = "100ms", max = "400ms" }`
/// (uniform), or `{ median = "300ms", p99 = "2s" }` (log-normal: the long tail real APIs have).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    Fixed(Duration),
    Uniform { min: Duration, max: Duration },
    LogNormal { median: Duration, p99: Duration },
}

impl Latency {
    /// Draws one latency.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        match *self {
            Latency::Fixed(d) => d,
            Latency::Uniform { min, max } => {
                let (lo, hi) = (min.as_secs_f64(), max.as_secs_f64());
                Duration::from_secs_f64(lo + (hi - lo) * rng.f64())
            }
            Latency::LogNormal { median, p99 } => {
                let m = median.as_secs_f64().max(1e-6);
                let sigma = (p99.as_secs_f64().max(m) / m).ln() / Z_P99;
                // Box–Muller; 1 - f64() lies in (0, 1], so ln() is finite.
                let z = (-2.0 * (1.0 - rng.f64()).ln()).sqrt() * (std::f64::consts::TAU * rng.f64()).cos();
                let secs = (m.ln() + sigma * z).exp();
                Duration::from_secs_f64(secs.min(MAX_SAMPLED_LATENCY.as_secs_f64()))
            }
        }
    }

    /// Why this latency is unusable, if it is.
    pub fn check(&self) -> Result<(), String> {
        match *self {
            Latency::Fixed(d) if d > MAX_SAMPLED_LATENCY => {
                Err(format!("latency above {MAX_SAMPLED_LATENCY:?}; use the hang fault"))
            }
            Latency::Uniform { min, max } if min > max => Err("latency: min is above max".into()),
            Latency::Uniform { max, .. } if max > MAX_SAMPLED_LATENCY => {
                Err(format!("latency above {MAX_SAMPLED_LATENCY:?}"))
            }
            Latency::LogNormal { median, p99 } if p99 < median => Err("latency: p99 is below the median".into()),
            Latency::LogNormal { median, .. } if median.is_zero() => {
                Err("latency: the median must be above zero".into())
            }
            _ => Ok(()),
        }
    }
}

impl FromStr for Latency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d: config::Duration = s.parse()?;
        let latency = Latency::Fixed(d.get());
        latency.check()?;
        Ok(latency)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LatencyRepr {
    Fixed(config::Duration),
    Uniform { min: config::Duration, max: config::Duration },
    LogNormal { median: config::Duration, p99: config::Duration },
}

impl<'de> Deserialize<'de> for Latency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let latency = match LatencyRepr::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(
                "latency must be a duration (\"250ms\"), { min = \"…\", max = \"…\" } or { median = \"…\", p99 = \"…\" }",
            )
        })? {
            LatencyRepr::Fixed(d) => Latency::Fixed(d.get()),
            LatencyRepr::Uniform { min, max } => Latency::Uniform { min: min.get(), max: max.get() },
            LatencyRepr::LogNormal { median, p99 } => Latency::LogNormal { median: median.get(), p99: p99.get() },
        };
        latency.check().map_err(serde::de::Error::custom)?;
        Ok(latency)
    }
}

impl Serialize for Latency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let h = |d: Duration| humantime::format_duration(d).to_string();
        match *self {
            Latency::Fixed(d) => serializer.serialize_str(&h(d)),
            Latency::Uniform { min, max } => {
                let mut m = serializer.serialize_map(Some(2))?;
                m.serialize_entry("min", &h(min))?;
                m.serialize_entry("max", &h(max))?;
                m.end()
            }
            Latency::LogNormal { median, p99 } => {
                let mut m = serializer.serialize_map(Some(2))?;
                m.serialize_entry("median", &h(median))?;
                m.serialize_entry("p99", &h(p99))?;
                m.end()
            }
        }
    }
}

/// What to do with one request: a fault, with optional added latency and `retry-after`.
///
/// `From<Fault>` makes a step without latency; in JSON a step is a fault name (`"reset"`) or an
/// object `{"fault": "rate_limited", "retry_after": 2, "latency": "100ms"}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Step {
    pub fault: Fault,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    /// `retry-after` in seconds: added to any fault's response (the API sometimes sends it on
    /// 529 and 503 too); for `rate_limited` it replaces the default of 1 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Step {
    pub const fn new(fault: Fault) -> Self {
        Step { fault, latency: None, retry_after: None }
    }

    /// This step with a fixed added latency.
    pub const fn latency(mut self, latency: Duration) -> Self {
        self.latency = Some(Latency::Fixed(latency));
        self
    }

    /// This step with a `retry-after` header of `secs`.
    pub const fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// The `retry-after` the response carries, if any.
    pub fn effective_retry_after(&self) -> Option<u64> {
        match self.fault {
            Fault::RateLimited => Some(self.retry_after.unwrap_or(1)),
            Fault::RateLimitedNoRetryAfter | Fault::SpendLimit => None,
            _ => self.retry_after,
        }
    }
}

impl From<Fault> for Step {
    fn from(fault: Fault) -> Self {
        Step::new(fault)
    }
}

/// One entry of a script posted to `/_sim/script`: a step, served `count` times (default 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScriptEntry {
    pub step: Step,
    pub count: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FullEntry {
    fault: Fault,
    #[serde(default)]
    latency: Option<Latency>,
    #[serde(default)]
    retry_after: Option<u64>,
    #[serde(default = "one")]
    count: u64,
}

fn one() -> u64 {
    1
}

impl<'de> Deserialize<'de> for ScriptEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Parse through a JSON value first so a bad object gets its own precise error rather
        // than serde's "did not match any variant".
        let value = serde_json::Value::deserialize(deserializer)?;
        match value {
            serde_json::Value::String(name) => {
                let fault = name.parse().map_err(serde::de::Error::custom)?;
                Ok(ScriptEntry { step: Step::new(fault), count: 1 })
            }
            serde_json::Value::Object(_) => {
                let full: FullEntry = serde_json::from_value(value).map_err(serde::de::Error::custom)?;
                Ok(ScriptEntry {
                    step: Step { fault: full.fault, latency: full.latency, retry_after: full.retry_after },
                    count: full.count,
                })
            }
            other => Err(serde::de::Error::custom(format!(
                "a script entry is a fault name or an object with \"fault\", not {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for f in Fault::ALL {
            assert_eq!(f.as_str().parse::<Fault>().unwrap(), f);
            assert_eq!(f.as_str().replace('_', "-").parse::<Fault>().unwrap(), f);
        }
        assert_eq!("529".parse::<Fault>().unwrap(), Fault::Overloaded);
        assert_eq!(" Reset ".parse::<Fault>().unwrap(), Fault::Reset);
        let err = "explode".parse::<Fault>().unwrap_err().to_string();
        assert!(err.contains("\"explode\"") && err.contains("close_mid_body"), "{err}");
    }

    #[test]
    fn script_entries_parse_both_shapes_and_reject_garbage() {
        let entries: Vec<ScriptEntry> = serde_json::from_str(
            r#"["reset", {"fault": "rate_limited", "retry_after": 3, "latency": "20ms", "count": 4}]"#,
        )
        .unwrap();
        assert_eq!(entries[0], ScriptEntry { step: Step::new(Fault::Reset), count: 1 });
        assert_eq!(
            entries[1],
            ScriptEntry {
                step: Step::new(Fault::RateLimited).retry_after(3).latency(Duration::from_millis(20)),
                count: 4
            }
        );
        for bad in [r#"["nope"]"#, r#"[{"fault": "reset", "colour": 1}]"#, r#"[7]"#, r#"[{"latency": "1s"}]"#] {
            assert!(serde_json::from_str::<Vec<ScriptEntry>>(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn latency_shapes_parse_and_sample_within_bounds() {
        let fixed: Latency = serde_json::from_str(r#""250ms""#).unwrap();
        assert_eq!(fixed, Latency::Fixed(Duration::from_millis(250)));
        let uniform: Latency = serde_json::from_str(r#"{"min": "10ms", "max": "20ms"}"#).unwrap();
        let lognormal: Latency = serde_json::from_str(r#"{"median": "100ms", "p99": "1s"}"#).unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let mut below_median = 0;
        for _ in 0..2000 {
            let u = uniform.sample(&mut rng);
            assert!(u >= Duration::from_millis(10) && u <= Duration::from_millis(20), "{u:?}");
            if lognormal.sample(&mut rng) < Duration::from_millis(100) {
                below_median += 1;
            }
        }
        // The median of a log-normal draw: about half the samples fall below it.
        assert!((800..1200).contains(&below_median), "{below_median} of 2000 below the median");
        assert!(serde_json::from_str::<Latency>(r#"{"min": "2s", "max": "1s"}"#).is_err());
        assert!(serde_json::from_str::<Latency>(r#""fast""#).is_err());
    }

    #[test]
    fn retry_after_defaults_per_fault() {
        assert_eq!(Step::new(Fault::RateLimited).effective_retry_after(), Some(1));
        assert_eq!(Step::new(Fault::RateLimited).retry_after(5).effective_retry_after(), Some(5));
        assert_eq!(Step::new(Fault::SpendLimit).retry_after(5).effective_retry_after(), None);
        assert_eq!(Step::new(Fault::Overloaded).effective_retry_after(), None);
        assert_eq!(Step::new(Fault::Overloaded).retry_after(2).effective_retry_after(), Some(2));
    }
}
