//! The daemon's start-up error, and the one walker of error source chains that every layer uses
//! to describe or inspect a failure (reqwest, hyper and io errors nest the cause several deep).

use std::error::Error as StdError;
use std::io;

/// A layer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP client of a component could not be built (TLS roots, proxy settings).
    #[error("cannot build the HTTP client of {component}")]
    HttpClient {
        /// What the client was for: `status pages`, `probe NAME`, `control NAME`.
        component: String,
        #[source]
        source: reqwest::Error,
    },
}

/// `error` and every error under it, outermost first.
///
/// `io::Error::source()` skips the error an `io::Error` wraps and returns that error's source,
/// so the walk steps into the wrapped error itself (where tokio-rustls puts `rustls::Error`,
/// for example) instead.
pub fn chain<'a>(error: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn StdError + 'static)| next(*e))
}

/// The error under `e`: the one an `io::Error` wraps, else its source.
fn next<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
        return Some(inner);
    }
    e.source()
}

/// Every distinct message of the chain, joined: "error sending request: connection reset by
/// peer". A message already contained in the text so far is left out, since many wrappers
/// repeat their cause. For people only: code matches on types (with [`chain`]), never on text.
pub fn describe(error: &(dyn StdError + 'static)) -> String {
    let mut text = String::new();
    for e in chain(error) {
        let part = e.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Outer(io::Error);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("error sending request")
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chains_read_as_one_line() {
        let e = Outer(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(describe(&e), "error sending request: connection reset");
    }

    /// The error an io::Error wraps is visited, and its message is not repeated.
    #[test]
    fn the_walk_steps_into_wrapped_io_errors() {
        let inner = Outer(io::Error::from(io::ErrorKind::BrokenPipe));
        let e = Outer(io::Error::other(inner));
        let kinds: Vec<Option<io::ErrorKind>> =
            chain(&e).map(|e| e.downcast_ref::<io::Error>().map(io::Error::kind)).collect();
        assert_eq!(kinds, [None, Some(io::ErrorKind::Other), None, Some(io::ErrorKind::BrokenPipe)]);
        assert_eq!(describe(&e), "error sending request: broken pipe");
    }
}
