//! The one check of every URL the daemon fetches (status feeds, probe targets): absolute
//! http(s), a host, and no credentials. A `user:password@` in a URL would reach the warn logs,
//! reqwest's error text and `check-config` output; secrets come from the environment instead.

use reqwest::Url;

use super::Findings;

/// An absolute http(s) URL with a host and without credentials, or what is wrong with it. The
/// message repeats the value only when it holds no `@`, so it never echoes a password.
pub fn parse_http_url(raw: &str) -> Result<Url, String> {
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
    Ok(url)
}

/// Checks the URL in `field`: on a problem reports an error there and returns `None`.
pub fn check_http_url(findings: &mut Findings, field: &'static str, raw: &str) -> Option<Url> {
    parse_http_url(raw).map_err(|message| findings.error(field, message)).ok()
}

/// `raw` quoted for a message, unless it may hold credentials.
fn shown(raw: &str) -> String {
    if raw.contains('@') { "the URL (not repeated: it contains '@')".to_owned() } else { format!("{raw:?}") }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn check_reports_on_the_field() {
        let mut findings = Findings::default();
        assert!(check_http_url(&mut findings, "feed_url", "https://a:b@x/").is_none());
        assert!(check_http_url(&mut findings, "summary_url", "https://x/").is_some());
        let items = findings.into_items();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].1, "feed_url");
    }
}
