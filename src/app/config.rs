//! The daemon's configuration file: one TOML document composed of each layer's own section.
//!
//! This is the one place that lists the sections. Each layer owns the type of its section
//! (`http::ServerConfig`, `status::StatusPageConfig`, …) and its rules; [`crate::config`]
//! reads the file section by section and locates every problem.

use std::path::Path;

use serde::Serialize;

use crate::config::{Diagnostic, SectionReader, Sections, parse_sections};
use crate::http::ServerConfig;
use crate::ingest::IngestConfig;
use crate::probe::{ControlConfig, ProbeConfig};
use crate::status::StatusPageConfig;

/// The built-in default config, served when no `--config` is given, so that
/// `cargo run --release` alone starts a useful daemon. The same file ships in `config/`.
pub(crate) const DEFAULT_CONFIG: &str = include_str!("../../config/claudewatch.toml");

/// Where the built-in config says it came from in diagnostics.
pub(crate) const DEFAULT_CONFIG_NAME: &str = "<built-in config/claudewatch.toml>";

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

impl Sections for Config {
    const SECTIONS: &'static [&'static str] = &["server", "status_page", "probe", "control", "ingest"];

    fn read(&mut self, name: &str, reader: SectionReader<'_, '_>) -> bool {
        match name {
            "server" => {
                if let Some(server) = reader.one() {
                    self.server = server;
                }
            }
            "status_page" => self.status_page = reader.many(),
            "probe" => self.probe = reader.many(),
            "control" => self.control = reader.many(),
            "ingest" => {
                if let Some(ingest) = reader.one() {
                    self.ingest = ingest;
                }
            }
            _ => return false,
        }
        true
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
        parse_sections(source, text)
    }

    /// The effective config as TOML, for `check-config`. Secrets cannot appear: the config only
    /// ever holds the names of the environment variables that carry them.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}
