//! The daemon's configuration: one TOML file composed of each layer's own section.
//!
//! Each layer owns the type of its section (`status::StatusPageConfig`, `probe::ProbeConfig`, …);
//! this module only reads the file, hands each section to serde separately so that one bad table
//! does not hide the errors in the next, and turns every problem into a [`Diagnostic`] that names
//! the file, line and column. Secrets are never in the file: sections name the environment
//! variable that holds them.

mod duration;
mod load;
pub mod url;

pub use duration::Duration;
pub use load::{Diagnostic, Severity};

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ingest::IngestConfig;
use crate::probe::{ControlConfig, ProbeConfig};
use crate::status::StatusPageConfig;

/// The built-in default config, served when no `--config` is given, so that
/// `cargo run --release` alone starts a useful daemon. The same file ships in `config/`.
pub const DEFAULT_CONFIG: &str = include_str!("../../config/claudewatch.toml");

/// Where the built-in config says it came from in diagnostics.
pub const DEFAULT_CONFIG_NAME: &str = "<built-in config/claudewatch.toml>";

/// The whole effective configuration.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Config {
    pub server: ServerConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_page: Vec<StatusPageConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probe: Vec<ProbeConfig>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub control: Vec<ControlConfig>,
    pub ingest: IngestConfig,
}

/// `[server]`: where the HTTP endpoint listens, and the limits that keep a slow or greedy
/// client from tying it up.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of `/metrics`, `/healthz`, `/readyz` and the ingest endpoint.
    #[serde(default = "ServerConfig::default_listen")]
    pub listen: SocketAddr,
    /// Longest a request may take from its first header byte to its answer, body included;
    /// past it the client gets a 408 and the connection is closed.
    #[serde(default = "ServerConfig::default_request_timeout")]
    pub request_timeout: Duration,
    /// Open connections beyond this wait in the kernel's accept queue, so memory held by
    /// in-flight bodies stays bounded.
    #[serde(default = "ServerConfig::default_max_connections")]
    pub max_connections: usize,
}

impl ServerConfig {
    fn default_listen() -> SocketAddr {
        SocketAddr::from(([0, 0, 0, 0], 9464))
    }

    /// Long enough for an on-demand `/probe` at the default probe timeout (30 s).
    fn default_request_timeout() -> Duration {
        Duration::from_secs(60)
    }

    fn default_max_connections() -> usize {
        512
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: Self::default_listen(),
            request_timeout: Self::default_request_timeout(),
            max_connections: Self::default_max_connections(),
        }
    }
}

impl Section for ServerConfig {
    fn validate(&self, findings: &mut Findings) {
        findings.check_period("request_timeout", self.request_timeout, Duration::from_secs(5));
        if !(1..=65_536).contains(&self.max_connections) {
            findings.error("max_connections", "must be between 1 and 65536");
        }
    }
}

/// What every config section can say about itself beyond what serde checks.
pub trait Section {
    /// Cross-field rules and floors. Report problems through `findings`; serde has already
    /// checked types and unknown keys.
    fn validate(&self, findings: &mut Findings) {
        let _ = findings;
    }

    /// The entry's `name`, for sections that may repeat and must not repeat a name.
    fn name(&self) -> Option<&str> {
        None
    }
}

/// Problems one section reports about itself, each tied to a field so that the loader can
/// point at the field's line.
#[derive(Debug, Default)]
pub struct Findings {
    items: Vec<(Severity, &'static str, String)>,
}

impl Findings {
    pub fn error(&mut self, field: &'static str, message: impl Into<String>) {
        self.items.push((Severity::Error, field, message.into()));
    }

    pub fn warning(&mut self, field: &'static str, message: impl Into<String>) {
        self.items.push((Severity::Warning, field, message.into()));
    }

    /// Zero intervals are refused (a timer cannot tick every 0 s); anything under `floor` is
    /// accepted with a warning, because tests and rehearsals legitimately run fast.
    pub fn check_period(&mut self, field: &'static str, value: Duration, floor: Duration) {
        if value.get().is_zero() {
            self.error(field, "must be greater than zero");
        } else if value < floor {
            self.warning(
                field,
                format!("{value} is below the recommended minimum of {floor}; fine for tests, costly in production"),
            );
        }
    }

    fn into_items(self) -> Vec<(Severity, &'static str, String)> {
        self.items
    }
}

impl Config {
    /// Reads and checks a config file. On success returns the config and its warnings; on
    /// failure every error found (and the warnings), each with file, line and column.
    pub fn load(path: &Path) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&name, &text),
            Err(e) => Err(vec![Diagnostic::whole_file(&name, format!("cannot read config file: {e}"))]),
        }
    }

    /// The built-in default config.
    pub fn builtin() -> (Config, Vec<Diagnostic>) {
        Self::parse(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG).expect("the built-in config is checked by a unit test")
    }

    /// Parses config text; `source` names it in diagnostics.
    pub fn parse(source: &str, text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        load::parse(source, text)
    }

    /// The effective config as TOML, for `check-config`. Secrets cannot appear: the config only
    /// ever holds the names of the environment variables that carry them.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

#[cfg(test)]
mod tests;
