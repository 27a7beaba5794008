//! One conditional GET with a time bound and a body-size cap.
//!
//! The validators of the last good response go out as `If-None-Match` / `If-Modified-Since`, so
//! an unchanged feed costs a 304 and no parsing. The body is read chunk by chunk and reading
//! stops at the cap, so a huge or endless body never sits in memory.

use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Client, StatusCode, Url};

use crate::error::StartError;
use crate::telemetry::USER_AGENT;
use crate::telemetry::labels::label_enum;

/// Redirects followed per request (status.anthropic.com → status.claude.com is one).
pub(super) const MAX_REDIRECTS: usize = 5;

label_enum! {
    /// The outcome of one poll, the `result` label of `claudewatch_status_polls_total`.
    pub(super) enum PollResult {
        /// A body that parsed.
        Ok => "ok",
        /// 304: the page has not changed since the last good body.
        NotModified => "not_modified",
        /// A status other than 2xx or 304, or a redirect loop.
        HttpError => "http_error",
        /// Connecting, TLS, the connection dropping, or the timeout.
        NetworkError => "network_error",
        /// A body that is not a usable feed or summary, or one larger than the cap.
        ParseError => "parse_error",
    }
}

impl PollResult {
    /// Whether the page's state is known to be current after this poll.
    pub(super) const fn is_success(self) -> bool {
        matches!(self, PollResult::Ok | PollResult::NotModified)
    }
}

/// The cache validators of the last good response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Validators {
    pub etag: Option<HeaderValue>,
    pub last_modified: Option<HeaderValue>,
}

impl Validators {
    fn from_headers(headers: &HeaderMap) -> Self {
        Self { etag: headers.get(header::ETAG).cloned(), last_modified: headers.get(header::LAST_MODIFIED).cloned() }
    }

    fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What a successful GET brought.
#[derive(Debug)]
pub(super) enum Fetched {
    /// A 2xx body within the cap, and the validators to send next time (keep them only once the
    /// body has parsed).
    Body {
        body: Vec<u8>,
        validators: Validators,
    },
    NotModified,
}

/// Why a GET brought nothing usable. The reqwest error, when there is one, stays the source:
/// [`crate::error::describe`] names the failure (refused, reset, certificate) from its chain,
/// without any header or body content.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    /// A final status that is neither 2xx nor an expected 304.
    #[error("HTTP status {0}")]
    Status(StatusCode),
    /// More than [`MAX_REDIRECTS`] redirects, or a redirect from https to http.
    #[error("redirect refused")]
    Redirect(#[source] reqwest::Error),
    /// No complete answer within the timeout.
    #[error("no complete response within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    /// Connecting, TLS, or the connection failing mid-body.
    #[error("network error")]
    Network(#[source] reqwest::Error),
    /// The body is larger than the cap.
    #[error("body larger than the {limit}-byte cap")]
    TooLarge { limit: u64 },
}

impl FetchError {
    pub(super) const fn result(&self) -> PollResult {
        match self {
            FetchError::Status(_) | FetchError::Redirect(_) => PollResult::HttpError,
            FetchError::Timeout(_) | FetchError::Network(_) => PollResult::NetworkError,
            FetchError::TooLarge { .. } => PollResult::ParseError,
        }
    }
}

/// The status layer's HTTP client: identifiable User-Agent, bounded redirects that never
/// downgrade from https to http, proxies from the environment as usual.
pub(super) fn client() -> Result<Client, StartError> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let downgrade =
            attempt.previous().last().is_some_and(|prev| prev.scheme() == "https") && attempt.url().scheme() == "http";
        if downgrade {
            attempt.error("refusing a redirect from https to http")
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    });
    Client::builder()
        .user_agent(USER_AGENT)
        .redirect(redirects)
        .build()
        .map_err(|source| StartError::HttpClient { component: "the status pages".into(), source })
}

/// GETs `url`, conditionally on `validators`, within `timeout`, reading at most `limit` bytes.
pub(super) async fn fetch(
    client: &Client,
    url: &Url,
    accept: &'static str,
    validators: &Validators,
    limit: u64,
    timeout: Duration,
) -> Result<Fetched, FetchError> {
    match tokio::time::timeout(timeout, fetch_inner(client, url, accept, validators, limit)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout(timeout)),
    }
}

async fn fetch_inner(
    client: &Client,
    url: &Url,
    accept: &'static str,
    validators: &Validators,
    limit: u64,
) -> Result<Fetched, FetchError> {
    let mut request = client.get(url.clone()).header(header::ACCEPT, accept);
    if let Some(etag) = &validators.etag {
        request = request.header(header::IF_NONE_MATCH, etag.clone());
    }
    if let Some(modified) = &validators.last_modified {
        request = request.header(header::IF_MODIFIED_SINCE, modified.clone());
    }
    let mut response = request.send().await.map_err(classify)?;
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED && !validators.is_empty() {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(FetchError::Status(status));
    }
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge { limit });
    }
    let new_validators = Validators::from_headers(response.headers());
    let capacity = response.content_length().unwrap_or(64 * 1024).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(64 * 1024));
    while let Some(chunk) = response.chunk().await.map_err(classify)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body { body, validators: new_validators })
}

/// reqwest errors to our variants.
fn classify(e: reqwest::Error) -> FetchError {
    if e.is_redirect() { FetchError::Redirect(e) } else { FetchError::Network(e) }
}
