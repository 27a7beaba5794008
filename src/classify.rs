//! The error taxonomy of the retry playbook, shared by the whole project: the probes label their
//! outcomes with it and the ingest endpoint validates reported classes against the same list.
//!
//! | class | what | playbook |
//! | --- | --- | --- |
//! | `overloaded` | 529, 503, an `overloaded_error` event mid-stream | backoff 1 s doubling to 60 s, ±20 % jitter |
//! | `connection` | reset, refused, closed early, DNS, TLS | as overloaded |
//! | `rate_limited` | 429 | honour `retry-after` |
//! | `server_error` | 500, 502, 504, other 5xx | retry once after 5 s |
//! | `timeout` | no answer within the timeout | as overloaded |
//! | `client_error` | other 4xx | never retry |
//! | `auth` | 401, 403 | never retry; check the key |
//! | `unexpected` | 2xx whose body fails the check | counted, not retried |

use std::fmt;
use std::str::FromStr;

use prometheus_client::encoding::{EncodeLabelValue, LabelValueEncoder};

/// The outcome class of one call to the API. `Ok` is only ever a probe outcome; apps report
/// successes through the `success` outcome instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    Ok,
    Overloaded,
    Connection,
    RateLimited,
    ServerError,
    Timeout,
    ClientError,
    Auth,
    Unexpected,
}

impl ErrorClass {
    /// Every class, in a stable order, for pre-creating label sets at zero.
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::Ok,
        ErrorClass::Overloaded,
        ErrorClass::Connection,
        ErrorClass::RateLimited,
        ErrorClass::ServerError,
        ErrorClass::Timeout,
        ErrorClass::ClientError,
        ErrorClass::Auth,
        ErrorClass::Unexpected,
    ];

    /// The failure classes only (everything but `ok`).
    pub const FAILURES: [ErrorClass; 8] = [
        ErrorClass::Overloaded,
        ErrorClass::Connection,
        ErrorClass::RateLimited,
        ErrorClass::ServerError,
        ErrorClass::Timeout,
        ErrorClass::ClientError,
        ErrorClass::Auth,
        ErrorClass::Unexpected,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Ok => "ok",
            ErrorClass::Overloaded => "overloaded",
            ErrorClass::Connection => "connection",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::ServerError => "server_error",
            ErrorClass::Timeout => "timeout",
            ErrorClass::ClientError => "client_error",
            ErrorClass::Auth => "auth",
            ErrorClass::Unexpected => "unexpected",
        }
    }

    /// The class of an HTTP status that arrived with a complete response. 2xx is `Ok` here; the
    /// caller decides whether the body passes its check (else `Unexpected`).
    pub const fn from_status(status: u16) -> ErrorClass {
        match status {
            200..=299 => ErrorClass::Ok,
            401 | 403 => ErrorClass::Auth,
            429 => ErrorClass::RateLimited,
            503 | 529 => ErrorClass::Overloaded,
            500..=599 => ErrorClass::ServerError,
            400..=499 => ErrorClass::ClientError,
            // 1xx and 3xx are not final answers from the Messages API: something in between
            // (a proxy, a redirect loop) answered instead of it.
            _ => ErrorClass::Unexpected,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a class name that is not in the taxonomy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownClass;

impl fmt::Display for UnknownClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        write!(f, "unknown error class, expected one of: {}", names.join(", "))
    }
}

impl FromStr for ErrorClass {
    type Err = UnknownClass;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorClass::ALL.into_iter().find(|c| c.as_str() == s).ok_or(UnknownClass)
    }
}

impl EncodeLabelValue for ErrorClass {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> fmt::Result {
        fmt::Write::write_str(encoder, self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping_follows_the_playbook() {
        let table = [
            (200, ErrorClass::Ok),
            (400, ErrorClass::ClientError),
            (401, ErrorClass::Auth),
            (403, ErrorClass::Auth),
            (404, ErrorClass::ClientError),
            (413, ErrorClass::ClientError),
            (429, ErrorClass::RateLimited),
            (500, ErrorClass::ServerError),
            (502, ErrorClass::ServerError),
            (503, ErrorClass::Overloaded),
            (504, ErrorClass::ServerError),
            (529, ErrorClass::Overloaded),
            (302, ErrorClass::Unexpected),
        ];
        for (status, class) in table {
            assert_eq!(ErrorClass::from_status(status), class, "status {status}");
        }
    }

    #[test]
    fn names_round_trip_and_unknown_names_fail() {
        for class in ErrorClass::ALL {
            assert_eq!(class.as_str().parse::<ErrorClass>(), Ok(class));
        }
        assert_eq!("Overloaded".parse::<ErrorClass>(), Err(UnknownClass));
        assert!(UnknownClass.to_string().contains("rate_limited"));
    }
}
