//! Bearer tokens for the ingest endpoint. Tokens come from the environment variable that
//! `[ingest] tokens_env` names, are compared in constant time, and are never logged.

use std::fmt;

use axum::http::HeaderValue;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// Which client an authorized request came from: the position of its token in `tokens_env`,
/// or the same value for everyone when authentication is off. It tells clients apart (the
/// idempotency keys are scoped by it) without holding anything secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct ClientId(pub(super) u32);

impl ClientId {
    /// Every client of an endpoint without tokens.
    pub(super) const ANYONE: ClientId = ClientId(0);
}

/// Who may post events.
pub(super) enum Auth {
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
    pub(super) fn from_config(tokens_env: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Auth {
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

    /// Who sent a request with this `Authorization` header, or `None` when it may not post.
    pub(super) fn authorize(&self, authorization: Option<&HeaderValue>) -> Option<ClientId> {
        let tokens = match self {
            Auth::Open => return Some(ClientId::ANYONE),
            Auth::Misconfigured => return None,
            Auth::Tokens(tokens) => tokens,
        };
        let presented = authorization.and_then(|v| bearer(v.as_bytes()))?;
        // Compare against every token without stopping at a match, and pick the matching
        // index without a branch, so the time taken does not tell which token (or how much of
        // one) matched. Only the lengths can leak.
        let mut ok = Choice::from(0);
        let mut index = 0u32;
        for (i, token) in tokens.iter().enumerate() {
            let equal = token.as_ref().ct_eq(presented);
            index.conditional_assign(&(i as u32), equal);
            ok |= equal;
        }
        bool::from(ok).then_some(ClientId(index))
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

    impl Auth {
        fn allows(&self, authorization: Option<&HeaderValue>) -> bool {
            self.authorize(authorization).is_some()
        }
    }

    #[test]
    fn each_token_is_its_own_client() {
        let a = auth(Some("alpha,beta,gamma"));
        let ids: Vec<_> = ["alpha", "beta", "gamma"].map(|t| a.authorize(Some(&header(&format!("Bearer {t}"))))).into();
        assert_eq!(ids, [Some(ClientId(0)), Some(ClientId(1)), Some(ClientId(2))]);
        assert_eq!(a.authorize(Some(&header("Bearer delta"))), None);
        let open = Auth::from_config(None, |_| None);
        assert_eq!(open.authorize(None), Some(ClientId::ANYONE));
        assert_eq!(open.authorize(Some(&header("Bearer alpha"))), Some(ClientId::ANYONE));
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
