//! One request, no retries: the Messages API probe and the control target GET. Each returns a
//! [`ProbeResult`] classified by [`crate::classify::classify`].
//!
//! Timing: the clock starts just before the request is handed to the client and stops after
//! the last byte of the body (or the failure). Every probe opens a fresh connection (no idle
//! pool), so the duration includes DNS, connect and TLS, as a first call from a restarted
//! client would; those phases are not reported separately because reqwest does not expose
//! them without a custom connector, and estimating them would be dishonest. The time to the
//! response headers (`first_byte`) and to the first streamed token are measured.

use std::error::Error as StdError;
use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Response, Url};

use super::config::{ControlConfig, ProbeConfig};
use super::headers::ResponseHeaders;
use super::outcome::{MAX_ERROR_LEN, MAX_REPLY_LEN, ProbeResult, Trigger};
use super::reply::{self, ApiErrorDetail, SseParser, StreamReply, Usage};
use crate::classify::{ErrorClass, Observation, classify};
use crate::config::{Env, HttpUrl};
use crate::telemetry::USER_AGENT;
use crate::text::truncate;

/// The API version every request names.
pub(super) const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Replies beyond this are not a probe reply; reading stops there.
const MAX_REPLY_BYTES: usize = 1024 * 1024;

/// The API key, kept out of every `Debug` and `Display`.
#[derive(Clone)]
pub(super) struct ApiKey {
    header: HeaderValue,
    raw: String,
}

impl ApiKey {
    /// Reads the key from `var` of `env`. `Err` says why there is none, without any part of a
    /// value.
    pub(super) fn from_env(env: &Env, var: &str) -> Result<ApiKey, String> {
        match env.var(var) {
            Ok(raw) if raw.trim().is_empty() => Err(format!("environment variable {var} is empty")),
            Ok(raw) => ApiKey::new(raw.trim().to_owned())
                .ok_or_else(|| format!("environment variable {var} holds characters not allowed in a header")),
            Err(std::env::VarError::NotPresent) => Err(format!("environment variable {var} is unset")),
            Err(std::env::VarError::NotUnicode(_)) => Err(format!("environment variable {var} is not valid UTF-8")),
        }
    }

    fn new(raw: String) -> Option<ApiKey> {
        let mut header = HeaderValue::from_str(&raw).ok()?;
        header.set_sensitive(true);
        Some(ApiKey { header, raw })
    }

    /// For redacting free text, never for output.
    pub(super) fn expose_for_redaction(&self) -> &str {
        &self.raw
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// An HTTP client for one target: no idle connections kept (each probe measures a fresh
/// connection), no redirects followed (a redirect is an answer, not the API), the system
/// proxy settings honoured except for loopback targets.
fn client_for(url: &HttpUrl) -> Result<Client, reqwest::Error> {
    crate::tls::install_crypto_provider();
    let mut builder =
        Client::builder().user_agent(USER_AGENT).pool_max_idle_per_host(0).redirect(reqwest::redirect::Policy::none());
    if url.is_loopback() {
        builder = builder.no_proxy();
    }
    builder.build()
}

/// `base` with `/v1/messages` appended to its path (a path prefix, as on a gateway, is kept).
fn messages_url(base: &Url) -> Url {
    let mut url = base.clone();
    let path = format!("{}/v1/messages", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// The Messages API probe.
pub(super) struct MessagesProber {
    name: String,
    url: Url,
    client: Client,
    key: ApiKey,
    /// The request body, serialized once.
    body: Bytes,
    expect_lower: String,
    stream: bool,
    timeout: Duration,
}

/// What one exchange got to see before it ended, however it ended (the timeout drops the
/// exchange future; this survives it).
#[derive(Default)]
struct Seen {
    status: Option<u16>,
    headers: ResponseHeaders,
    first_byte: Option<Duration>,
    ttft: Option<Duration>,
    usage: Usage,
    text: Option<String>,
}

/// How an exchange ended, before classification.
enum Verdict {
    Response { status: u16, content_ok: bool, problem: Option<String> },
    StreamError(ApiErrorDetail),
    Transport(reqwest::Error),
    TimedOut,
}

impl MessagesProber {
    pub(super) fn new(config: &ProbeConfig, key: ApiKey) -> Result<MessagesProber, reqwest::Error> {
        let body = serde_json::json!({
            "model": config.model,
            "max_tokens": config.max_tokens,
            "messages": [{"role": "user", "content": config.prompt}],
            "stream": config.stream,
        });
        Ok(MessagesProber {
            name: config.name.clone(),
            client: client_for(&config.base_url)?,
            url: messages_url(config.base_url.url()),
            key,
            body: Bytes::from(body.to_string()),
            expect_lower: config.expect.to_lowercase(),
            stream: config.stream,
            timeout: config.timeout.get(),
        })
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(super) fn key(&self) -> &ApiKey {
        &self.key
    }

    /// Sends one request and reads the whole reply.
    pub(super) async fn run(&self, trigger: Trigger) -> ProbeResult {
        let mut result = ProbeResult::new(&self.name, trigger);
        let request = self
            .client
            .post(self.url.clone())
            .header("x-api-key", self.key.header.clone())
            .header("anthropic-version", ANTHROPIC_VERSION)
            .header(CONTENT_TYPE, "application/json")
            .header("accept", if self.stream { "text/event-stream" } else { "application/json" })
            .body(self.body.clone())
            .build();
        let request = match request {
            Ok(r) => r,
            Err(e) => {
                fill(&mut result, Verdict::Transport(e), Seen::default(), Duration::ZERO, self.timeout);
                return result;
            }
        };
        let mut seen = Seen::default();
        let started = Instant::now();
        let verdict = match tokio::time::timeout(self.timeout, self.exchange(request, started, &mut seen)).await {
            Ok(v) => v,
            Err(_) => timed_out(&seen, 200..300),
        };
        let elapsed = started.elapsed();
        fill(&mut result, verdict, seen, elapsed, self.timeout);
        result
    }

    async fn exchange(&self, request: reqwest::Request, started: Instant, seen: &mut Seen) -> Verdict {
        let mut response = match self.client.execute(request).await {
            Ok(r) => r,
            Err(e) => return Verdict::Transport(e),
        };
        seen.first_byte = Some(started.elapsed());
        let status = response.status().as_u16();
        seen.status = Some(status);
        seen.headers = ResponseHeaders::parse(response.headers());

        if !response.status().is_success() {
            // The status decides; the body only explains. A body that fails to arrive does
            // not change what the status said.
            let body = read_body(&mut response).await.unwrap_or_default();
            let problem = match reply::parse_error(&body) {
                Some(e) => format!("HTTP {status}: {}: {}", e.kind, e.message),
                None => format!("HTTP {status}"),
            };
            return Verdict::Response { status, content_ok: false, problem: Some(problem) };
        }
        if self.stream {
            self.read_stream(response, status, started, seen).await
        } else {
            self.read_json(response, status, seen).await
        }
    }

    async fn read_json(&self, mut response: Response, status: u16, seen: &mut Seen) -> Verdict {
        let body = match read_body(&mut response).await {
            Ok(b) => b,
            Err(BodyError::Transport(e)) => return Verdict::Transport(e),
            Err(BodyError::TooLarge) => return too_large(status),
        };
        match reply::parse_message(&body) {
            Ok(reply) => {
                seen.usage = reply.usage;
                let problem = self.check_text(&reply.text);
                seen.text = Some(reply.text);
                Verdict::Response { status, content_ok: problem.is_none(), problem }
            }
            Err(problem) => Verdict::Response { status, content_ok: false, problem: Some(problem) },
        }
    }

    async fn read_stream(&self, mut response: Response, status: u16, started: Instant, seen: &mut Seen) -> Verdict {
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.starts_with("text/event-stream") {
            let problem =
                truncate(&format!("expected an event stream, got content-type {content_type:?}"), MAX_ERROR_LEN)
                    .into_owned();
            return Verdict::Response { status, content_ok: false, problem: Some(problem) };
        }
        let mut parser = SseParser::default();
        let mut stream = StreamReply::default();
        let mut events = Vec::new();
        let mut read = 0usize;
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    seen.usage = stream.usage;
                    return Verdict::Transport(e);
                }
            };
            read += chunk.len();
            if read > MAX_REPLY_BYTES {
                return too_large(status);
            }
            parser.push(&chunk, &mut events);
            for event in events.drain(..) {
                if stream.on_event(&event) {
                    seen.ttft = Some(started.elapsed());
                }
                if let Some(error) = stream.error.take() {
                    seen.usage = stream.usage;
                    return Verdict::StreamError(error);
                }
            }
        }
        seen.usage = stream.usage;
        let problem = stream.incomplete().or_else(|| self.check_text(&stream.text));
        seen.text = Some(stream.text);
        Verdict::Response { status, content_ok: problem.is_none(), problem }
    }

    fn check_text(&self, text: &str) -> Option<String> {
        (!reply::text_matches(text, &self.expect_lower)).then(|| {
            truncate(&format!("reply {text:?} does not contain {:?}", self.expect_lower), MAX_ERROR_LEN).into_owned()
        })
    }
}

/// The verdict when the deadline passed. A status outside `ok` that had already arrived decides
/// (a 529 whose body then stalls is still overloaded); otherwise the call timed out.
fn timed_out(seen: &Seen, ok: std::ops::Range<u16>) -> Verdict {
    match seen.status {
        Some(status) if !ok.contains(&status) => Verdict::Response {
            status,
            content_ok: false,
            problem: Some(format!("HTTP {status} (its body did not arrive within the timeout)")),
        },
        _ => Verdict::TimedOut,
    }
}

fn too_large(status: u16) -> Verdict {
    Verdict::Response { status, content_ok: false, problem: Some(format!("reply larger than {MAX_REPLY_BYTES} bytes")) }
}

/// Turns the verdict and what was seen into the result.
fn fill(result: &mut ProbeResult, verdict: Verdict, seen: Seen, elapsed: Duration, timeout: Duration) {
    let (classification, error) = match &verdict {
        Verdict::Response { status, content_ok, problem } => {
            (classify(Observation::Response { status: *status, content_ok: *content_ok }), problem.clone())
        }
        Verdict::StreamError(e) => (
            classify(Observation::StreamError { error_type: &e.kind }),
            Some(
                truncate(&format!("error event after HTTP 200: {}: {}", e.kind, e.message), MAX_ERROR_LEN).into_owned(),
            ),
        ),
        Verdict::Transport(e) => (classify(Observation::Transport(e)), Some(error_chain(e))),
        Verdict::TimedOut => (
            classify(Observation::TimedOut),
            Some(format!("no complete response within {}", humantime::format_duration(timeout))),
        ),
    };
    result.class = classification.class;
    result.success = classification.class == ErrorClass::Ok;
    result.reason = classification.reason;
    result.error = if classification.class == ErrorClass::Ok { None } else { error };
    result.status = seen.status;
    result.duration_seconds = elapsed.as_secs_f64();
    result.first_byte_seconds = seen.first_byte.map(|d| d.as_secs_f64());
    result.ttft_seconds = seen.ttft.map(|d| d.as_secs_f64());
    result.request_id = seen.headers.request_id;
    result.retry_after_seconds = seen.headers.retry_after;
    result.rate_limits = seen.headers.rate_limits;
    result.input_tokens = seen.usage.input_tokens;
    result.output_tokens = seen.usage.output_tokens;
    result.reply = seen.text.map(|t| truncate(&t, MAX_REPLY_LEN).into_owned());
    result.finish();
}

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// The body, up to [`MAX_REPLY_BYTES`] bytes.
async fn read_body(response: &mut Response) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error's whole source chain as one line, bounded for logs and JSON. For humans only;
/// classification never reads it.
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    truncate(&crate::error::describe(error), MAX_ERROR_LEN).into_owned()
}

/// The control target: a plain GET. Any 2xx or 3xx answer is `ok` (a redirect still proves the
/// network path works); other statuses are classified like the API's.
pub(super) struct ControlProber {
    name: String,
    url: Url,
    client: Client,
    timeout: Duration,
}

impl ControlProber {
    pub(super) fn new(config: &ControlConfig) -> Result<ControlProber, reqwest::Error> {
        Ok(ControlProber {
            name: config.name.clone(),
            client: client_for(&config.url)?,
            url: config.url.url().clone(),
            timeout: config.timeout.get(),
        })
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(super) async fn run(&self, trigger: Trigger) -> ProbeResult {
        let mut result = ProbeResult::new(&self.name, trigger);
        let mut seen = Seen::default();
        let started = Instant::now();
        let exchange = async {
            let mut response = self.client.get(self.url.clone()).send().await.map_err(Verdict::Transport)?;
            seen.first_byte = Some(started.elapsed());
            let status = response.status().as_u16();
            seen.status = Some(status);
            match read_body(&mut response).await {
                Ok(_) | Err(BodyError::TooLarge) => {}
                Err(BodyError::Transport(e)) => return Err(Verdict::Transport(e)),
            }
            let ok = (200..400).contains(&status);
            // A 3xx is an answer here, so it is classified as the 200 it stands for.
            let status_for_class = if ok { 200 } else { status };
            Ok(Verdict::Response {
                status: status_for_class,
                content_ok: true,
                problem: (!ok).then(|| format!("HTTP {status}")),
            })
        };
        let verdict = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(v) | Err(v)) => v,
            Err(_) => timed_out(&seen, 200..400),
        };
        let elapsed = started.elapsed();
        fill(&mut result, verdict, seen, elapsed, self.timeout);
        // Only the real status is reported.
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let key = ApiKey::new("sk-ant-SECRET".into()).unwrap();
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert!(key.header.is_sensitive());
        assert!(!format!("{:?}", key.header).contains("SECRET"));
        assert!(ApiKey::new("bad\nkey".into()).is_none());
    }

    /// One `[[probe]]` table's keys.
    fn probe_config(keys: &str) -> ProbeConfig {
        toml::from_str(keys).unwrap()
    }

    #[test]
    fn missing_keys_are_explained_without_values() {
        let env = Env::from_pairs([("OTHER", "sk-x")]);
        let err = ApiKey::from_env(&env, "CLAUDEWATCH_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert_eq!(err, "environment variable CLAUDEWATCH_TEST_SURELY_UNSET_VARIABLE is unset");
    }

    #[test]
    fn the_request_body_is_the_documented_shape() {
        let config =
            probe_config("name = \"p\"\nmodel = \"claude-haiku-5-5\"\nbase_url = \"https://gw.example/anthropic/\"\n");
        let prober = MessagesProber::new(&config, ApiKey::new("k".into()).unwrap()).unwrap();
        assert_eq!(prober.url.as_str(), "https://gw.example/anthropic/v1/messages", "a path prefix is kept");
        let body: serde_json::Value = serde_json::from_slice(&prober.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "model": "claude-haiku-5-5",
                "max_tokens": 32,
                "messages": [{"role": "user", "content": "Reply with the word OK"}],
                "stream": false,
            })
        );
    }

    /// Answers every connection with `head` and then stalls.
    async fn stalling_server(head: &'static str) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = stream.read(&mut buf).await;
                    let _ = stream.write_all(head.as_bytes()).await;
                    tokio::time::sleep(Duration::from_secs(5)).await;
                });
            }
        });
        addr
    }

    fn probe_of(addr: std::net::SocketAddr) -> MessagesProber {
        let config =
            probe_config(&format!("name = \"p\"\nmodel = \"m\"\nbase_url = \"http://{addr}\"\ntimeout = \"200ms\"\n"));
        MessagesProber::new(&config, ApiKey::new("k".into()).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn a_status_that_arrived_decides_even_if_the_body_stalls() {
        let addr = stalling_server("HTTP/1.1 529 Overloaded\r\ncontent-length: 100\r\n\r\n{\"type\"").await;
        let result = probe_of(addr).run(Trigger::Schedule).await;
        assert_eq!((result.class, result.status), (ErrorClass::Overloaded, Some(529)), "{result:?}");
        assert!(result.error.as_deref().unwrap().contains("did not arrive"), "{result:?}");

        // A 200 whose body stalls is a timeout: the reply never came.
        let addr = stalling_server("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"type\"").await;
        let result = probe_of(addr).run(Trigger::Schedule).await;
        assert_eq!((result.class, result.status), (ErrorClass::Timeout, Some(200)), "{result:?}");
        assert!(result.first_byte_seconds.is_some() && result.duration_seconds >= 0.2, "{result:?}");
    }
}
