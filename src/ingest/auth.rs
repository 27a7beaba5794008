//! Bearer tokens for the ingest endpoint. Tokens come from the environment variable that
//! `[ingest] tokens_env` names, are compared in constant time, and are never logged.

use std::fmt;

use axum::http::HeaderValue;
use subtle::{Choice, ConstantTimeEq};

/// Who may post events.
pub enum Auth {
    /// No `tokens_env`: anyone who can reach the port.
    Open,
    /// `Authorization: Bearer T` for one of these tokens.
    Tokens(Vec<Box<[u8]>>),
    /// `tokens_env` names a variable that is unset or holds no token: refuse everything rather
    /// than silently run open.
    Misconfigured,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Open => f.write_str("Open"),
            Auth::Tokens(t) => write!(f, "Tokens({} redacted)", t.len()),
            Auth::Misconfigured => f.write_str("Misconfigured"),
        }
    }
}

impl Auth {
    /// From the config's `tokens_env` and a way to read the environment: comma-separated
    /// tokens, surrounding whitespace trimmed, empty entries ignored.
    pub fn from_config(tokens_env: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Auth {
        let Some(var) = tokens_env else { return Auth::Open };
        let tokens: Vec<Box<[u8]>> = env(var)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.as_bytes().into())
            .collect();
        if tokens.is_empty() { Auth::Misconfigured } else { Auth::Tokens(tokens) }
    }

    /// Whether a request with this `Authorization` header may post.
    pub fn allows(&self, authorization: Option<&HeaderValue>) -> bool {
        let tokens = match self {
            Auth::Open => return true,
            Auth::Misconfigured => return false,
            Auth::Tokens(tokens) => tokens,
        };
        let Some(presented) = authorization.and_then(|v| bearer(v.as_bytes())) else { return false };
        // Compare against every token without stopping at a match, so the time taken does not
        // tell which token (or how much of one) matched. Only the lengths can leak.
        let mut ok = Choice::from(0);
        for token in tokens {
            ok |= token.as_ref().ct_eq(presented);
        }
        ok.into()
    }
}

/// The credentials of `Bearer <token>` (scheme case-insensitive).
fn bearer(header: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = header.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(value: Option<&str>) -> Auth {
        let value = value.map(str::to_owned);
        Auth::from_config(Some("TOKENS"), move |name| {
            assert_eq!(name, "TOKENS");
            value.clone()
        })
    }

    fn header(v: &str) -> HeaderValue {
        HeaderValue::from_str(v).unwrap()
    }

    #[test]
    fn tokens_are_read_trimmed_and_matched() {
        let a = auth(Some(" alpha , beta,,"));
        assert!(matches!(&a, Auth::Tokens(t) if t.len() == 2));
        assert!(a.allows(Some(&header("Bearer alpha"))));
        assert!(a.allows(Some(&header("bearer beta"))));
        assert!(!a.allows(Some(&header("Bearer alph"))));
        assert!(!a.allows(Some(&header("Bearer alphaa"))));
        assert!(!a.allows(Some(&header("Basic alpha"))));
        assert!(!a.allows(Some(&header("Bearer "))));
        assert!(!a.allows(None));
    }

    #[test]
    fn an_empty_or_unset_variable_refuses_everything() {
        for value in [None, Some(""), Some(" , ")] {
            let a = auth(value);
            assert!(matches!(a, Auth::Misconfigured), "{value:?}");
            assert!(!a.allows(Some(&header("Bearer x"))));
        }
    }

    #[test]
    fn no_tokens_env_means_open() {
        let a = Auth::from_config(None, |_| panic!("must not read the environment"));
        assert!(a.allows(None));
    }

    #[test]
    fn debug_never_shows_tokens() {
        assert_eq!(format!("{:?}", auth(Some("s3cret"))), "Tokens(1 redacted)");
    }
}
