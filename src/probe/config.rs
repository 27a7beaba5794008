//! The `[[probe]]` and `[[control]]` tables: defaults, and the rules serde cannot check.

use serde::{Deserialize, Serialize};

use crate::config::{Duration, Findings, HttpUrl, Section};

/// One `[[probe]]` table: a tiny fixed request to the Messages API on a fixed-rate timer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// The `probe` label value and the `/probe?name=` argument.
    pub name: String,
    /// Where the API lives; `/v1/messages` is appended (a path prefix is kept, as the SDKs do).
    #[serde(default = "defaults::base_url")]
    pub base_url: HttpUrl,
    /// The model to ask, e.g. `claude-haiku-4-5`. Required: model ids retire, and a probe of
    /// an unnamed model would measure whatever the default happened to be.
    pub model: String,
    #[serde(default = "defaults::prompt")]
    pub prompt: String,
    /// Matched case-insensitively as a substring of the reply text; empty accepts any reply.
    #[serde(default = "defaults::expect")]
    pub expect: String,
    #[serde(default = "defaults::max_tokens")]
    pub max_tokens: u32,
    #[serde(default = "defaults::interval")]
    pub interval: Duration,
    #[serde(default = "defaults::timeout")]
    pub timeout: Duration,
    /// Stream the reply (SSE), which also gives the time to first token.
    #[serde(default)]
    pub stream: bool,
    /// The environment variable that holds the API key. The key itself never enters the
    /// config, so `check-config` cannot print it.
    #[serde(default = "defaults::api_key_env")]
    pub api_key_env: String,
    /// `GET /probe?name=` runs at most once per this period for this probe (each run costs
    /// tokens); more often is answered 429 with `retry-after`.
    #[serde(default = "defaults::on_demand_min_interval")]
    pub on_demand_min_interval: Duration,
}

/// One `[[control]]` table: a plain GET of a URL that is not the API, to tell a local network
/// fault from an API fault.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    /// The `control` label value.
    pub name: String,
    pub url: HttpUrl,
    #[serde(default = "defaults::interval")]
    pub interval: Duration,
    #[serde(default = "defaults::control_timeout")]
    pub timeout: Duration,
}

/// The defaults of the keys a file leaves out.
mod defaults {
    use crate::config::{Duration, HttpUrl};

    pub(super) fn base_url() -> HttpUrl {
        "https://api.anthropic.com".parse().expect("a valid URL")
    }
    pub(super) fn prompt() -> String {
        "Reply with the word OK".into()
    }
    pub(super) fn expect() -> String {
        "OK".into()
    }
    pub(super) fn max_tokens() -> u32 {
        32
    }
    pub(super) fn interval() -> Duration {
        Duration::from_secs(60)
    }
    pub(super) fn timeout() -> Duration {
        Duration::from_secs(30)
    }
    pub(super) fn control_timeout() -> Duration {
        Duration::from_secs(10)
    }
    pub(super) fn api_key_env() -> String {
        "ANTHROPIC_API_KEY".into()
    }
    pub(super) fn on_demand_min_interval() -> Duration {
        Duration::from_secs(10)
    }
}

/// Intervals below this cost real money for little signal; accepted with a warning.
const INTERVAL_FLOOR: Duration = Duration::from_secs(10);
/// Timeouts below this misreport a healthy API as timing out.
const TIMEOUT_FLOOR: Duration = Duration::from_secs(1);
/// Replies beyond this are not what a health probe needs.
const MAX_TOKENS_WARN: u32 = 1024;

impl Section for ProbeConfig {
    fn validate(&self, findings: &mut Findings) {
        findings.check_label_name("name", &self.name);
        let base = self.base_url.url();
        if base.query().is_some() || base.fragment().is_some() {
            findings.error(
                "base_url",
                format!(
                    "{:?} must not have a query or fragment: /v1/messages is appended to it",
                    self.base_url.as_str()
                ),
            );
        } else if base.scheme() == "http" && !self.base_url.is_loopback() {
            // The key travels in a header: over plain http it is readable on the wire, which is
            // fine only on loopback (the simulator).
            findings.warning(
                "base_url",
                format!(
                    "{:?} is plain http to a non-loopback host: the API key would cross the network unencrypted",
                    self.base_url.as_str()
                ),
            );
        }
        if self.model.trim().is_empty() {
            findings.error("model", "must name a model, e.g. \"claude-haiku-4-5\"");
        }
        if self.prompt.trim().is_empty() {
            findings.error("prompt", "must not be empty (the API rejects empty messages)");
        }
        if self.max_tokens == 0 {
            findings.error("max_tokens", "must be at least 1");
        } else if self.max_tokens > MAX_TOKENS_WARN {
            findings.warning(
                "max_tokens",
                format!("{} is more than a health probe needs; every probe pays for it", self.max_tokens),
            );
        }
        findings.check_period("interval", self.interval, INTERVAL_FLOOR);
        findings.check_period("timeout", self.timeout, TIMEOUT_FLOOR);
        findings.check_timeout_within(self.timeout, self.interval, HANGING_TARGET);
        if self.on_demand_min_interval.get().is_zero() {
            findings.error("on_demand_min_interval", "must be greater than zero (every on-demand probe costs tokens)");
        }
        check_env_name(&self.api_key_env, findings);
    }

    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

impl Section for ControlConfig {
    fn validate(&self, findings: &mut Findings) {
        findings.check_label_name("name", &self.name);
        findings.check_period("interval", self.interval, INTERVAL_FLOOR);
        findings.check_period("timeout", self.timeout, TIMEOUT_FLOOR);
        findings.check_timeout_within(self.timeout, self.interval, HANGING_TARGET);
    }

    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

/// What a timeout as long as the interval does to a target's schedule.
const HANGING_TARGET: &str = "a hanging target makes the probe skip ticks";

/// A variable name, not a value. The value is never echoed: if someone pasted a key here, the
/// message must not repeat it.
fn check_env_name(name: &str, findings: &mut Findings) {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if name.starts_with("sk-") {
        findings.error(
            "api_key_env",
            "looks like an API key: put the key in an environment variable and name the variable here",
        );
    } else if !valid {
        findings.error("api_key_env", "must be an environment variable name (letters, digits and '_')");
    }
}

#[cfg(test)]
mod tests {
    use super::{ControlConfig, ProbeConfig};
    use crate::config::{Diagnostic, SectionReader, Sections, parse_sections};

    /// A file of this layer's sections alone, read as the daemon reads its config.
    #[derive(Debug, Default)]
    struct Config {
        probe: Vec<ProbeConfig>,
        control: Vec<ControlConfig>,
    }

    impl Sections for Config {
        const SECTIONS: &'static [&'static str] = &["probe", "control"];

        fn read(&mut self, name: &str, reader: SectionReader<'_, '_>) -> bool {
            match name {
                "probe" => self.probe = reader.many(),
                "control" => self.control = reader.many(),
                _ => return false,
            }
            true
        }
    }

    fn parse(text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
        parse_sections("t.toml", text)
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Ok((c, _)) => panic!("expected errors, got {c:?}"),
            Err(d) => d.iter().filter(|d| d.is_error()).map(|d| d.to_string()).collect(),
        }
    }

    fn warnings(text: &str) -> Vec<String> {
        let (_, w) = parse(text).unwrap_or_else(|d| panic!("expected success: {d:?}"));
        w.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let (config, warnings) = parse("[[probe]]\nname = \"p\"\nmodel = \"m\"\n").unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let p = &config.probe[0];
        assert_eq!(p.base_url.as_str(), "https://api.anthropic.com");
        assert_eq!(p.prompt, "Reply with the word OK");
        assert_eq!(p.expect, "OK");
        assert_eq!(p.max_tokens, 32);
        assert_eq!(p.interval.get().as_secs(), 60);
        assert_eq!(p.timeout.get().as_secs(), 30);
        assert!(!p.stream);
        assert_eq!(p.api_key_env, "ANTHROPIC_API_KEY");
        assert_eq!(p.on_demand_min_interval.get().as_secs(), 10);
        let (config, _) = parse("[[control]]\nname = \"c\"\nurl = \"https://example.com/\"\n").unwrap();
        assert_eq!(config.control[0].interval.get().as_secs(), 60);
        assert_eq!(config.control[0].timeout.get().as_secs(), 10);
    }

    /// A table of invalid configs, each with the line and the words its error must carry.
    #[test]
    fn invalid_probe_configs_are_located_and_explained() {
        let table: &[(&str, usize, &str)] = &[
            ("name = \"a b\"\nmodel = \"m\"", 2, "may only contain"),
            ("name = \"\"\nmodel = \"m\"", 2, "must not be empty"),
            ("name = \"p\"", 1, "missing field `model`"),
            ("name = \"p\"\nmodel = \" \"", 3, "must name a model"),
            ("name = \"p\"\nmodel = \"m\"\nbase_url = \"api.anthropic.com\"", 4, "not a valid URL"),
            ("name = \"p\"\nmodel = \"m\"\nbase_url = \"ftp://x\"", 4, "http:// or https://"),
            ("name = \"p\"\nmodel = \"m\"\nbase_url = \"https://u:pw@x\"", 4, "credentials"),
            ("name = \"p\"\nmodel = \"m\"\nbase_url = \"https://x/?a=1\"", 4, "query"),
            ("name = \"p\"\nmodel = \"m\"\nprompt = \"\"", 4, "must not be empty"),
            ("name = \"p\"\nmodel = \"m\"\nmax_tokens = 0", 4, "at least 1"),
            ("name = \"p\"\nmodel = \"m\"\ninterval = \"0s\"", 4, "greater than zero"),
            ("name = \"p\"\nmodel = \"m\"\ntimeout = \"soon\"", 4, "invalid duration"),
            ("name = \"p\"\nmodel = \"m\"\napi_key_env = \"MY-KEY\"", 4, "environment variable name"),
            ("name = \"p\"\nmodel = \"m\"\napi_key = \"x\"", 4, "unknown field `api_key`"),
            ("name = \"p\"\nmodel = \"m\"\non_demand_min_interval = \"0s\"", 4, "greater than zero"),
        ];
        for (body, line, words) in table {
            let errs = errors(&format!("[[probe]]\n{body}\n"));
            assert_eq!(errs.len(), 1, "{body}: {errs:?}");
            assert!(errs[0].starts_with(&format!("t.toml:{line}:")), "{body}: {errs:?}");
            assert!(errs[0].contains(words), "{body}: {errs:?}");
        }
    }

    #[test]
    fn a_pasted_key_is_refused_without_being_repeated() {
        let errs = errors("[[probe]]\nname = \"p\"\nmodel = \"m\"\napi_key_env = \"sk-ant-api03-SECRETSECRET\"\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("looks like an API key"), "{errs:?}");
        assert!(!errs[0].contains("SECRETSECRET"), "{errs:?}");
    }

    #[test]
    fn warnings_for_costly_or_risky_settings() {
        let w = warnings("[[probe]]\nname = \"p\"\nmodel = \"m\"\ninterval = \"1s\"\ntimeout = \"2s\"\n");
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("`interval`") && w[0].contains("below the recommended minimum"), "{w:?}");
        assert!(w[1].contains("`timeout`") && w[1].contains("not shorter than the interval"), "{w:?}");
        let w = warnings("[[probe]]\nname = \"p\"\nmodel = \"m\"\nbase_url = \"http://gateway.internal\"\n");
        assert!(w[0].contains("unencrypted"), "{w:?}");
        assert!(warnings("[[probe]]\nname = \"p\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:1\"\n").is_empty());
        let w = warnings("[[probe]]\nname = \"p\"\nmodel = \"m\"\nmax_tokens = 4096\n");
        assert!(w[0].contains("more than a health probe needs"), "{w:?}");
    }

    #[test]
    fn invalid_control_configs() {
        let errs = errors("[[control]]\nname = \"c\"\nurl = \"not a url\"\n");
        assert!(errs[0].starts_with("t.toml:3:") && errs[0].contains("not a valid URL"), "{errs:?}");
        let errs = errors("[[control]]\nname = \"c\"\n");
        assert!(errs[0].contains("missing field `url`"), "{errs:?}");
        let errs =
            errors("[[control]]\nname = \"c\"\nurl = \"https://x\"\n[[control]]\nname = \"c\"\nurl = \"https://y\"\n");
        assert!(errs[0].contains("duplicate control name `c`"), "{errs:?}");
    }
}
