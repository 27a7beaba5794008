//! claudewatch watches the Claude API from three sides and exports what it sees as Prometheus
//! metrics.
//!
//! Module map (the README's "Architecture" section says what each may import):
//! - [`app`]: the composition root: the daemon's [`Config`] (the list of sections) and [`run`].
//! - [`config`]: building blocks of config files (durations, URLs, located diagnostics, the
//!   generic loader, the environment lookup); imports nothing else of the crate.
//! - [`status`] (layer 1): the vendor's Statuspage feeds.
//! - [`probe`] (layer 2): synthetic requests to the Messages API and control targets.
//! - [`ingest`] (layer 3): `POST /v1/events`, where apps report retries and exhaustions.
//! - [`classify`]: the retry playbook's error classes, shared by probes and ingest.
//! - [`telemetry`]: the one registry, build info, label-value enums, logging, `/metrics`
//!   rendering.
//! - [`http`]: the `[server]` section, the router, the accept loop, the JSON error type.
//! - `readiness`, `shutdown`: start-up and stop signalling across layers.
//! - `error`, `tls`, `text`: the start-up error and the one source-chain walker, the TLS
//!   provider, bounding untrusted text.
//! - [`sim`]: the simulator of the API and of a status page, used by `claudewatch simulate`
//!   and by the tests; it depends on no layer.
//! - [`parse`]: every parser of untrusted input, re-exported for fuzz targets and tests.
//! - [`cli`], [`healthcheck`]: the command line and `claudewatch healthcheck`.
//!
//! Each layer owns its config section, its metric families, its events and its loop, and
//! registers its metrics into the one registry in its constructor; layers share no mutable
//! state and import nothing from each other. [`run`] wires them: the caller binds the socket
//! and owns the stop trigger, so tests bind `127.0.0.1:0` and decide when to stop.
//!
//! No unsafe code: the simulator's real resets set `SO_LINGER` through a duplicate of the
//! socket (`socket2`, safe), and secrets are read through [`config::Env`], never by changing
//! the process environment.

#![forbid(unsafe_code)]

pub mod app;
pub mod classify;
pub mod cli;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod http;
pub mod ingest;
pub mod parse;
pub mod probe;
pub(crate) mod readiness;
pub mod shutdown;
pub mod sim;
pub mod status;
pub mod telemetry;
pub(crate) mod text;
pub mod tls;

pub use app::{Config, run};

#[cfg(test)]
mod architecture_tests;
pub use error::StartError;
pub use tls::install_crypto_provider;
