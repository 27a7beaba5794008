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
//!
//! `classify` is the one function that turns what a caller observed of a call (a complete
//! response, an error event inside a stream, a transport error, its own deadline) into an
//! [`ErrorClass`], plus a [`ConnectionReason`] for connection failures. Transport errors are
//! read by walking their `source()` chain down to the typed errors underneath (`io::ErrorKind`,
//! `hyper::Error`, `rustls::Error`, reqwest's DNS error); no message text is ever matched.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::str::FromStr;

use crate::telemetry::labels::label_enum;

label_enum! {
    /// The outcome class of one call to the API. `Ok` is only ever a probe outcome; apps report
    /// successes through the `success` outcome instead.
    pub enum ErrorClass {
        Ok => "ok",
        Overloaded => "overloaded",
        Connection => "connection",
        RateLimited => "rate_limited",
        ServerError => "server_error",
        Timeout => "timeout",
        ClientError => "client_error",
        Auth => "auth",
        Unexpected => "unexpected",
    }
}

impl ErrorClass {
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

impl ErrorClass {
    /// The class of an `error.type` from an API error body or a mid-stream `error` event, for
    /// the types the API documents. Unknown types return `None`: the list may grow, and the
    /// caller falls back to the HTTP status.
    pub fn from_api_error_type(error_type: &str) -> Option<ErrorClass> {
        Some(match error_type {
            "overloaded_error" => ErrorClass::Overloaded,
            "rate_limit_error" => ErrorClass::RateLimited,
            "api_error" | "timeout_error" => ErrorClass::ServerError,
            "authentication_error" | "permission_error" => ErrorClass::Auth,
            "invalid_request_error" | "billing_error" | "not_found_error" | "conflict_error" | "request_too_large" => {
                ErrorClass::ClientError
            }
            _ => return None,
        })
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
        ErrorClass::from_value(s).ok_or(UnknownClass)
    }
}

label_enum! {
    /// Why a connection failed, for `claudewatch_probe_connection_errors_total{reason}`: an
    /// ECONNRESET wave must be visible as such, apart from refusals and DNS trouble.
    pub enum ConnectionReason {
        /// The peer reset the connection (ECONNRESET).
        Reset => "reset",
        /// Nothing listens there (ECONNREFUSED).
        Refused => "refused",
        /// The peer closed the connection before the response was complete.
        Closed => "closed",
        /// The host name did not resolve.
        Dns => "dns",
        /// The TLS handshake or a TLS record failed (certificates, protocol errors, alerts).
        Tls => "tls",
        /// Any other transport failure (unreachable network, malformed HTTP, …).
        Other => "other",
    }
}

/// What a caller observed of one call, as much as it got.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Observation<'a> {
    /// A response with this status. For 2xx, `content_ok` says whether the body passed the
    /// caller's check (it parsed, and its text matched); for other statuses it is ignored,
    /// since the status alone decides (a 529 is overloaded whatever its body says).
    Response { status: u16, content_ok: bool },
    /// A stream that began with 200 and then carried an `error` event of this `error.type`.
    StreamError { error_type: &'a str },
    /// No complete response: sending the request or reading the body failed.
    Transport(&'a (dyn StdError + 'static)),
    /// The caller's own deadline passed before the call completed.
    TimedOut,
}

/// The verdict on one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Classification {
    pub(crate) class: ErrorClass,
    /// Set exactly when `class` is [`ErrorClass::Connection`].
    pub(crate) reason: Option<ConnectionReason>,
}

impl Classification {
    const fn of(class: ErrorClass) -> Self {
        Self { class, reason: None }
    }

    const fn connection(reason: ConnectionReason) -> Self {
        Self { class: ErrorClass::Connection, reason: Some(reason) }
    }
}

/// The one classification function of the project (see the module docs for the table).
pub(crate) fn classify(observation: Observation<'_>) -> Classification {
    match observation {
        Observation::Response { status, content_ok } => match ErrorClass::from_status(status) {
            ErrorClass::Ok if !content_ok => Classification::of(ErrorClass::Unexpected),
            class => Classification::of(class),
        },
        // After a 200 the status says nothing; an error type the API has not documented is
        // still the server reporting a failure.
        Observation::StreamError { error_type } => {
            Classification::of(ErrorClass::from_api_error_type(error_type).unwrap_or(ErrorClass::ServerError))
        }
        Observation::Transport(error) => classify_transport(error),
        Observation::TimedOut => Classification::of(ErrorClass::Timeout),
    }
}

/// Walks `error`'s source chain for the first typed error that says what happened. The
/// innermost `io::Error` is the most specific witness, but the wrappers above it carry facts of
/// their own (reqwest knows a failure came from its DNS resolver; hyper knows a message ended
/// early), so every link is looked at.
fn classify_transport(error: &(dyn StdError + 'static)) -> Classification {
    let mut closed_early = false;
    for e in crate::error::chain(error) {
        if let Some(r) = e.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return Classification::of(ErrorClass::Timeout);
            }
            if r.is_dns() {
                return Classification::connection(ConnectionReason::Dns);
            }
        }
        if e.is::<rustls::Error>() {
            return Classification::connection(ConnectionReason::Tls);
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_timeout() {
                return Classification::of(ErrorClass::Timeout);
            }
            // The peer's EOF, as hyper saw it: keep walking, an io::Error below may be more
            // precise (a reset reads as an incomplete message on some paths).
            closed_early |= h.is_incomplete_message() || h.is_canceled() || h.is_closed();
        }
        // The walk also steps into the error an io::Error wraps (where tokio-rustls puts
        // `rustls::Error`), which `io::Error::source()` would skip.
        if let Some(classification) = e.downcast_ref::<io::Error>().and_then(classify_io) {
            return classification;
        }
    }
    Classification::connection(if closed_early { ConnectionReason::Closed } else { ConnectionReason::Other })
}

fn classify_io(io: &io::Error) -> Option<Classification> {
    use io::ErrorKind as K;
    Some(match io.kind() {
        K::TimedOut => Classification::of(ErrorClass::Timeout),
        K::ConnectionReset => Classification::connection(ConnectionReason::Reset),
        K::ConnectionRefused => Classification::connection(ConnectionReason::Refused),
        K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof | K::NotConnected => {
            Classification::connection(ConnectionReason::Closed)
        }
        _ => return None,
    })
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

#[cfg(test)]
mod observation_tests {
    use super::*;

    /// A wrapper with a source, like the layers reqwest and hyper put around an io::Error.
    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn StdError + Send + Sync>);

    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Wrap {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.1)
        }
    }

    fn transport(e: &(dyn StdError + 'static)) -> Classification {
        classify(Observation::Transport(e))
    }

    #[test]
    fn responses_are_classified_by_status_and_content() {
        let ok = |status, content_ok| classify(Observation::Response { status, content_ok }).class;
        assert_eq!(ok(200, true), ErrorClass::Ok);
        assert_eq!(ok(200, false), ErrorClass::Unexpected);
        assert_eq!(ok(529, false), ErrorClass::Overloaded, "the status decides for errors");
        assert_eq!(ok(529, true), ErrorClass::Overloaded);
        assert_eq!(ok(401, true), ErrorClass::Auth);
        assert_eq!(classify(Observation::Response { status: 503, content_ok: true }).reason, None);
    }

    #[test]
    fn stream_errors_use_the_error_type() {
        let class = |t| classify(Observation::StreamError { error_type: t }).class;
        assert_eq!(class("overloaded_error"), ErrorClass::Overloaded);
        assert_eq!(class("api_error"), ErrorClass::ServerError);
        assert_eq!(class("rate_limit_error"), ErrorClass::RateLimited);
        assert_eq!(class("some_future_error"), ErrorClass::ServerError);
        assert_eq!(classify(Observation::TimedOut), Classification::of(ErrorClass::Timeout));
    }

    #[test]
    fn documented_error_types_agree_with_their_statuses() {
        let table = [
            ("invalid_request_error", 400),
            ("authentication_error", 401),
            ("billing_error", 402),
            ("permission_error", 403),
            ("not_found_error", 404),
            ("conflict_error", 409),
            ("request_too_large", 413),
            ("rate_limit_error", 429),
            ("api_error", 500),
            ("timeout_error", 504),
            ("overloaded_error", 529),
        ];
        for (error_type, status) in table {
            assert_eq!(
                ErrorClass::from_api_error_type(error_type),
                Some(ErrorClass::from_status(status)),
                "{error_type}"
            );
        }
        assert_eq!(ErrorClass::from_api_error_type("nope"), None);
    }

    #[test]
    fn io_kinds_deep_in_the_chain_give_the_reason() {
        use io::ErrorKind as K;
        let table = [
            (K::ConnectionReset, Classification::connection(ConnectionReason::Reset)),
            (K::ConnectionRefused, Classification::connection(ConnectionReason::Refused)),
            (K::UnexpectedEof, Classification::connection(ConnectionReason::Closed)),
            (K::BrokenPipe, Classification::connection(ConnectionReason::Closed)),
            (K::ConnectionAborted, Classification::connection(ConnectionReason::Closed)),
            (K::TimedOut, Classification::of(ErrorClass::Timeout)),
            (K::PermissionDenied, Classification::connection(ConnectionReason::Other)),
        ];
        for (kind, expected) in table {
            let bare = io::Error::from(kind);
            assert_eq!(transport(&bare), expected, "{kind:?} bare");
            let nested = Wrap("client", Box::new(Wrap("connect", Box::new(io::Error::from(kind)))));
            assert_eq!(transport(&nested), expected, "{kind:?} nested");
        }
    }

    #[test]
    fn rustls_errors_are_tls_even_inside_an_io_error() {
        let cert = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let in_io = io::Error::new(io::ErrorKind::InvalidData, cert.clone());
        assert_eq!(transport(&in_io), Classification::connection(ConnectionReason::Tls));
        let nested = Wrap("send", Box::new(in_io));
        assert_eq!(transport(&nested), Classification::connection(ConnectionReason::Tls));
        assert_eq!(transport(&cert), Classification::connection(ConnectionReason::Tls));
    }

    #[test]
    fn messages_are_never_read() {
        // A message that says "reset" on an error of another kind stays `other`.
        let liar = io::Error::other("connection reset by peer");
        assert_eq!(transport(&liar), Classification::connection(ConnectionReason::Other));
    }

    #[test]
    fn reasons_have_stable_names() {
        let names: Vec<_> = ConnectionReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["reset", "refused", "closed", "dns", "tls", "other"]);
    }
}

/// Real transport errors from reqwest against small local servers, one per reason: the chain
/// walk must work on what the client actually produces, not only on hand-built chains.
#[cfg(test)]
mod socket_tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    #[derive(Clone, Copy)]
    enum Act {
        /// Read the request, then reset (SO_LINGER 0).
        Reset,
        /// Read the request, then close cleanly before answering.
        Close,
        /// Send headers promising 100 bytes, send 10, close.
        CloseMidBody,
        /// Answer anything with plain text (a TLS client sees garbage).
        Garbage,
        /// Accept and say nothing.
        Silent,
    }

    async fn server(act: Act) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            match act {
                Act::Reset => {
                    socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO)).unwrap();
                    drop(stream);
                }
                Act::Close => drop(stream),
                Act::CloseMidBody => {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789").await;
                    let _ = stream.flush().await;
                    drop(stream);
                }
                Act::Garbage => {
                    let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Act::Silent => tokio::time::sleep(Duration::from_secs(5)).await,
            }
        });
        addr
    }

    fn client() -> reqwest::Client {
        crate::tls::install_crypto_provider();
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// Sends one GET and reads the body; returns the error.
    async fn fail(client: &reqwest::Client, url: &str) -> reqwest::Error {
        match client.get(url).send().await {
            Err(e) => e,
            Ok(r) => r.bytes().await.expect_err("the body should fail"),
        }
    }

    fn of(e: &reqwest::Error) -> Classification {
        classify(Observation::Transport(e))
    }

    #[tokio::test]
    async fn refused() {
        // Bound but never listening: the kernel refuses the connection, and the port stays
        // ours until the end of the test (a listener bound and dropped frees it for reuse).
        use socket2::{Domain, Protocol, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        let e = fail(&client(), &format!("http://{addr}/")).await;
        assert_eq!(of(&e), Classification::connection(ConnectionReason::Refused), "{e:?}");
    }

    #[tokio::test]
    async fn reset() {
        let addr = server(Act::Reset).await;
        let e = fail(&client(), &format!("http://{addr}/")).await;
        assert_eq!(of(&e), Classification::connection(ConnectionReason::Reset), "{e:?}");
    }

    #[tokio::test]
    async fn closed_before_the_response() {
        let addr = server(Act::Close).await;
        let e = fail(&client(), &format!("http://{addr}/")).await;
        assert_eq!(of(&e), Classification::connection(ConnectionReason::Closed), "{e:?}");
    }

    #[tokio::test]
    async fn closed_mid_body() {
        let addr = server(Act::CloseMidBody).await;
        let e = fail(&client(), &format!("http://{addr}/")).await;
        assert_eq!(of(&e), Classification::connection(ConnectionReason::Closed), "{e:?}");
    }

    #[tokio::test]
    async fn tls_garbage() {
        let addr = server(Act::Garbage).await;
        let e = fail(&client(), &format!("https://127.0.0.1:{}/", addr.port())).await;
        assert_eq!(of(&e), Classification::connection(ConnectionReason::Tls), "{e:?}");
    }

    #[tokio::test]
    async fn client_timeout() {
        let addr = server(Act::Silent).await;
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_millis(100)).build().unwrap();
        let e = fail(&client, &format!("http://{addr}/")).await;
        assert_eq!(of(&e).class, ErrorClass::Timeout, "{e:?}");
    }

    /// A resolver that fails, so the DNS path runs without sending a query anywhere.
    struct NoDns;

    impl reqwest::dns::Resolve for NoDns {
        fn resolve(&self, _name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            Box::pin(async { Err::<reqwest::dns::Addrs, _>(io::Error::from(io::ErrorKind::NotFound).into()) })
        }
    }

    #[tokio::test]
    async fn dns() {
        crate::tls::install_crypto_provider();
        let client = reqwest::Client::builder().no_proxy().dns_resolver(Arc::new(NoDns)).build().unwrap();
        let e = fail(&client, "http://probe-target.invalid/").await;
        assert_eq!(of(&e), Classification::connection(ConnectionReason::Dns), "{e:?}");
    }
}
