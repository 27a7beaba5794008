//! `[ingest]`: whether the endpoint runs, who may post, and the limits that bound its memory.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::event;
use crate::config::{Findings, Section};

/// The `[ingest]` table.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Serve `POST /v1/events` (and register the ingest metrics).
    #[serde(default = "defaults::enabled")]
    pub enabled: bool,
    /// Environment variable holding comma-separated bearer tokens. Unset: no authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_env: Option<String>,
    /// Distinct services counted under their own name; later ones count as `other`.
    #[serde(default = "defaults::max_services")]
    pub max_services: usize,
    /// Distinct models counted under their own name; later ones count as `other`.
    #[serde(default = "defaults::max_models")]
    pub max_models: usize,
    /// Services whose series exist at 0 from start-up, so that `increase()` sees their first
    /// events after a restart. They count toward `max_services`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Most events in one `{"events": [...]}` body.
    #[serde(default = "defaults::max_batch")]
    pub max_batch: usize,
    /// Largest request body, in bytes.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: usize,
}

/// The defaults of the keys a file leaves out.
mod defaults {
    pub(super) fn enabled() -> bool {
        true
    }

    pub(super) fn max_services() -> usize {
        100
    }

    pub(super) fn max_models() -> usize {
        50
    }

    pub(super) fn max_batch() -> usize {
        1000
    }

    pub(super) fn max_body_bytes() -> usize {
        1024 * 1024
    }
}

/// Ceilings that keep a typo (an extra zero or three) from becoming a memory problem.
const MAX_DISTINCT_VALUES: usize = 10_000;
const MAX_BATCH_CEILING: usize = 100_000;
const MAX_BODY_CEILING: usize = 64 * 1024 * 1024;
const MIN_BODY_BYTES: usize = 1024;

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            enabled: defaults::enabled(),
            tokens_env: None,
            max_services: defaults::max_services(),
            max_models: defaults::max_models(),
            services: Vec::new(),
            max_batch: defaults::max_batch(),
            max_body_bytes: defaults::max_body_bytes(),
        }
    }
}

impl Section for IngestConfig {
    fn validate(&self, findings: &mut Findings) {
        if let Some(name) = &self.tokens_env
            && (name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            findings.error("tokens_env", "must name an environment variable (letters, digits and _), not hold a token");
        }
        for (field, value) in [("max_services", self.max_services), ("max_models", self.max_models)] {
            if value == 0 {
                findings.error(field, "must be at least 1");
            } else if value > MAX_DISTINCT_VALUES {
                findings.error(
                    field,
                    format!("{value} is above {MAX_DISTINCT_VALUES}: each value costs about 30 series in /metrics"),
                );
            }
        }
        self.validate_services(findings);
        if self.max_batch == 0 || self.max_batch > MAX_BATCH_CEILING {
            findings.error("max_batch", format!("must be from 1 to {MAX_BATCH_CEILING}"));
        }
        if !(MIN_BODY_BYTES..=MAX_BODY_CEILING).contains(&self.max_body_bytes) {
            findings.error("max_body_bytes", format!("must be from {MIN_BODY_BYTES} to {MAX_BODY_CEILING} bytes"));
        }
    }
}

impl IngestConfig {
    /// `services`: names as events must spell them, each once, and no more than fit under
    /// `max_services` (the rest of the cap is left for services that are not listed).
    fn validate_services(&self, findings: &mut Findings) {
        let mut seen = HashSet::new();
        for name in &self.services {
            if let Err(problem) = event::check_name(name, "service") {
                findings.error("services", format!("service name {problem}"));
            } else if !seen.insert(name.as_str()) {
                findings.error("services", format!("{name:?} is listed twice"));
            }
        }
        if self.max_services > 0 && self.services.len() > self.max_services {
            findings.error(
                "services",
                format!(
                    "lists {} services but max_services is {}: raise max_services or shorten the list",
                    self.services.len(),
                    self.max_services
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IngestConfig;
    use crate::config::{Diagnostic, SectionReader, Sections, parse_sections};

    /// A file of this layer's section alone, read as the daemon reads its config.
    #[derive(Debug, Default, serde::Serialize)]
    struct Config {
        ingest: IngestConfig,
    }

    impl Sections for Config {
        const SECTIONS: &'static [&'static str] = &["ingest"];

        fn read(&mut self, name: &str, reader: SectionReader<'_, '_>) -> bool {
            if name != "ingest" {
                return false;
            }
            if let Some(ingest) = reader.one() {
                self.ingest = ingest;
            }
            true
        }
    }

    impl Config {
        fn to_toml(&self) -> String {
            toml::to_string_pretty(self).unwrap()
        }
    }

    fn parse(source: &str, text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        parse_sections(source, text)
    }

    #[test]
    fn config_limits_are_checked_with_their_lines() {
        let text = "[ingest]\ntokens_env = \"sk-secret value\"\nmax_services = 0\nmax_models = 1000000\n\
                    max_batch = 0\nmax_body_bytes = 10\n";
        let errors = parse("t.toml", text).expect_err("invalid limits");
        let lines: Vec<usize> = errors.iter().map(|d| d.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6], "{errors:?}");
        assert!(errors.iter().all(|d| d.is_error()));
        assert!(!errors.iter().any(|d| d.message.contains("sk-secret")), "{errors:?}");

        let (config, warnings) = parse("t.toml", "[ingest]\n").unwrap();
        assert!(config.ingest.services.is_empty());
        assert!(warnings.is_empty());
        assert_eq!(config.ingest.max_body_bytes, 1024 * 1024);
        assert_eq!((config.ingest.max_services, config.ingest.max_models, config.ingest.max_batch), (100, 50, 1000));
    }

    #[test]
    fn listed_services_follow_the_event_rules_and_fit_under_the_cap() {
        let parse = |services: &str, max: usize| {
            let text = format!("[ingest]\nmax_services = {max}\nservices = {services}\n");
            parse("t.toml", &text)
        };
        let (config, warnings) = parse(r#"["checkout-api", "search.v2", "batch:nightly"]"#, 3).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(config.ingest.services, ["checkout-api", "search.v2", "batch:nightly"]);
        assert!(config.to_toml().contains("services = ["), "{}", config.to_toml());

        for (services, max, expect) in [
            (r#"["check out"]"#, 10, "characters of A-Za-z0-9_.:-"),
            (r#"[""]"#, 10, "characters of A-Za-z0-9_.:-"),
            (r#"["other"]"#, 10, "\"other\" is reserved"),
            (r#"["a", "b", "a"]"#, 10, "\"a\" is listed twice"),
            (r#"["a", "b", "c"]"#, 2, "lists 3 services but max_services is 2"),
        ] {
            let errors = parse(services, max).expect_err(services);
            assert_eq!(errors.len(), 1, "{services}: {errors:?}");
            assert_eq!(errors[0].line, 3, "{errors:?}");
            assert!(errors[0].message.contains("`services`"), "{errors:?}");
            assert!(errors[0].message.contains(expect), "{services}: {errors:?}");
        }
        let long = format!(r#"["{}"]"#, "s".repeat(65));
        assert!(parse(&long, 10).is_err());
        assert!(parse("[1]", 10).is_err(), "names are strings");
    }
}
