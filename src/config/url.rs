//! The one check of every URL the daemon fetches (status feeds, probe targets): absolute
//! http(s), a host, and no credentials. A `user:password@` in a URL would reach the warn logs,
//! reqwest's error text and `check-config` output; secrets come from the environment instead.
//!
//! [`HttpUrl`] is checked once, as the config loads, and kept parsed: the layers use the value
//! the loader checked rather than parsing the text again at start-up.

use std::fmt;
use std::str::FromStr;

use super::text_serde::serde_as_text;
use reqwest::Url;

/// An absolute http(s) URL with a host and without credentials. It keeps the text it was
/// written as and (de)serializes as that text, so config files and `check-config` output read
/// alike (the parsed form may differ: `https://x` parses as `https://x/`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpUrl {
    raw: String,
    url: Url,
}

impl HttpUrl {
    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the host is a loopback address or `localhost` (where a cleartext key or a
    /// proxy bypass is harmless).
    pub fn is_loopback(&self) -> bool {
        let Some(host) = self.url.host_str() else { return false };
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

impl FromStr for HttpUrl {
    type Err = String;

    /// The URL, or what is wrong with it. The message repeats the value only when it holds no
    /// `@`, so it never echoes a password.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(raw).map_err(|e| format!("{} is not a valid URL: {e}", shown(raw)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{} must be an http:// or https:// URL, not {}:", shown(raw), url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry credentials (user:password@): they would show in logs and error messages; \
                 secrets come from the environment"
                .into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{} has no host", shown(raw)));
        }
        Ok(HttpUrl { raw: raw.to_owned(), url })
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

serde_as_text!(HttpUrl);

/// `raw` quoted for a message, unless it may hold credentials.
fn shown(raw: &str) -> String {
    if raw.contains('@') { "the URL (not repeated: it contains '@')".to_owned() } else { format!("{raw:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_http_url(raw: &str) -> Result<HttpUrl, String> {
        raw.parse()
    }

    #[test]
    fn http_and_https_with_a_host_pass() {
        for ok in ["http://127.0.0.1:1/history.atom", "https://status.anthropic.com/history.atom", "http://[::1]:8/"] {
            assert_eq!(parse_http_url(ok).unwrap().as_str(), ok);
        }
        // A path may hold an `@`; only the authority's user info counts as credentials.
        assert!(parse_http_url("https://example.com/@user/feed.atom").is_ok());
    }

    /// Each refused URL, the words its message must carry, and a secret it must not repeat.
    #[test]
    fn refusals_say_why_and_never_repeat_a_password() {
        let cases: &[(&str, &str)] = &[
            ("not a url", "not a valid URL"),
            ("ftp://x/feed", "http:// or https://"),
            ("file:///etc/passwd", "http:// or https://"),
            ("https://user:hunter2@status.example/history.atom", "credentials"),
            ("https://hunter2@status.example/", "credentials"),
            ("https://:hunter2@status.example/", "credentials"),
            ("ftp://u:hunter2@x/", "http:// or https://"),
            ("https://u:hunter2@[::1/", "not a valid URL"),
            ("u:hunter2@status.example", "http:// or https://"),
        ];
        for (raw, words) in cases {
            let message = parse_http_url(raw).unwrap_err();
            assert!(message.contains(words), "{raw}: {message}");
            assert!(!message.contains("hunter2"), "{raw}: {message}");
        }
        assert!(parse_http_url("ftp://x/feed").unwrap_err().contains("\"ftp://x/feed\""), "repeated when safe");
    }

    #[test]
    fn loopback_hosts() {
        for (raw, loopback) in [
            ("http://127.0.0.1:1/", true),
            ("http://[::1]:8/", true),
            ("http://LOCALHOST/", true),
            ("https://api.anthropic.com", false),
            ("http://10.0.0.1/", false),
        ] {
            assert_eq!(parse_http_url(raw).unwrap().is_loopback(), loopback, "{raw}");
        }
    }
}
