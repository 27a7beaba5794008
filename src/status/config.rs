//! `[[status_page]]`: which Statuspage feeds to watch and how.

use serde::{Deserialize, Serialize};

use crate::config::{Duration, Findings, HttpUrl, Section};

/// Real history feeds are 20–100 KB; the summary JSON of a big page a few hundred KB.
pub(super) const DEFAULT_MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// Below this, a real feed may not fit.
const MAX_BODY_WARNING_FLOOR: u64 = 64 * 1024;

/// One `[[status_page]]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPageConfig {
    /// The `page` label value.
    pub name: String,
    /// The history feed, RSS or Atom (`https://status.anthropic.com/history.atom`).
    pub feed_url: HttpUrl,
    /// The Statuspage JSON summary (`…/api/v2/summary.json`), for component states and the
    /// page indicator. Optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary_url: Option<HttpUrl>,
    /// Time between polls (each URL is polled on its own timer).
    #[serde(default = "defaults::interval")]
    pub interval: Duration,
    /// Bound on one request, from connecting to the last byte of the body.
    #[serde(default = "defaults::timeout")]
    pub timeout: Duration,
    /// Bodies larger than this are not read beyond it and count as `parse_error`.
    #[serde(default = "defaults::max_body_bytes")]
    pub max_body_bytes: u64,
}

/// The defaults of the keys a file leaves out.
mod defaults {
    use crate::config::Duration;

    pub(super) fn interval() -> Duration {
        Duration::from_secs(60)
    }

    pub(super) fn timeout() -> Duration {
        Duration::from_secs(10)
    }

    pub(super) fn max_body_bytes() -> u64 {
        super::DEFAULT_MAX_BODY_BYTES
    }
}

impl StatusPageConfig {
    /// A page with the defaults for everything but the name and the feed.
    pub fn new(name: impl Into<String>, feed_url: HttpUrl) -> Self {
        Self {
            name: name.into(),
            feed_url,
            summary_url: None,
            interval: defaults::interval(),
            timeout: defaults::timeout(),
            max_body_bytes: defaults::max_body_bytes(),
        }
    }
}

impl Section for StatusPageConfig {
    fn validate(&self, findings: &mut Findings) {
        findings.check_label_name("name", &self.name);
        findings.check_period("interval", self.interval, Duration::from_secs(30));
        findings.check_period("timeout", self.timeout, Duration::from_secs(1));
        findings.check_timeout_within(self.timeout, self.interval, "a slow page delays the next poll");
        if self.max_body_bytes == 0 {
            findings.error("max_body_bytes", "must be greater than zero");
        } else if self.max_body_bytes < MAX_BODY_WARNING_FLOOR {
            findings.warning(
                "max_body_bytes",
                format!("{} bytes may not hold a real feed (they run to 100 KB); fine for tests", self.max_body_bytes),
            );
        }
    }

    fn name(&self) -> Option<&str> {
        Some(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::StatusPageConfig;
    use crate::config::{Diagnostic, SectionReader, Sections, Severity, parse_sections};

    /// A file of this layer's section alone, read as the daemon reads its config.
    #[derive(Debug, Default, Serialize)]
    struct File {
        status_page: Vec<StatusPageConfig>,
    }

    impl Sections for File {
        const SECTIONS: &'static [&'static str] = &["status_page"];

        fn read(&mut self, name: &str, reader: SectionReader<'_, '_>) -> bool {
            let known = name == "status_page";
            if known {
                self.status_page = reader.many();
            }
            known
        }
    }

    fn parse(text: &str) -> Result<(File, Vec<Diagnostic>), Vec<Diagnostic>> {
        parse_sections("t.toml", text)
    }

    fn diagnostics(toml: &str) -> Vec<(Severity, usize, String)> {
        match parse(toml) {
            Ok((_, warnings)) => warnings.into_iter().map(|d| (d.severity, d.line, d.message)).collect(),
            Err(errors) => errors.into_iter().map(|d| (d.severity, d.line, d.message)).collect(),
        }
    }

    #[test]
    fn defaults_fill_in_and_round_trip() {
        let (config, warnings) =
            parse("[[status_page]]\nname = \"a\"\nfeed_url = \"http://127.0.0.1:1/history.atom\"\n").unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let page = &config.status_page[0];
        assert_eq!(*page, StatusPageConfig::new("a", "http://127.0.0.1:1/history.atom".parse().unwrap()));
        assert_eq!(page.interval.get().as_secs(), 60);
        assert_eq!(page.timeout.get().as_secs(), 10);
        let again = parse(&toml::to_string_pretty(&config).unwrap()).unwrap().0;
        assert_eq!(again.status_page, config.status_page);
    }

    /// Each invalid table with the error it must produce, on the offending line.
    #[test]
    fn invalid_tables_are_located_errors() {
        let head = "[[status_page]]\nname = \"a\"\n";
        let cases: &[(&str, usize, &str)] = &[
            ("feed_url = \"ftp://x/history.atom\"\n", 3, "http:// or https://"),
            ("feed_url = \"not a url\"\n", 3, "not a valid URL"),
            ("feed_url = \"http://127.0.0.1:1/\"\nsummary_url = \"file:///etc/passwd\"\n", 4, "http:// or https://"),
            ("feed_url = \"http://u:hunter2@127.0.0.1:1/\"\n", 3, "credentials"),
            (
                "feed_url = \"http://127.0.0.1:1/\"\nsummary_url = \"https://token@127.0.0.1:1/s.json\"\n",
                4,
                "credentials",
            ),
            ("feed_url = \"http://127.0.0.1:1/\"\ninterval = \"0s\"\n", 4, "greater than zero"),
            ("feed_url = \"http://127.0.0.1:1/\"\ntimeout = \"0s\"\n", 4, "greater than zero"),
            ("feed_url = \"http://127.0.0.1:1/\"\nmax_body_bytes = 0\n", 4, "greater than zero"),
            ("feed_url = \"http://127.0.0.1:1/\"\nfeed = \"x\"\n", 4, "unknown field `feed`"),
            ("feed_url = \"http://127.0.0.1:1/\"\ninterval = \"soon\"\n", 4, "invalid duration"),
        ];
        for (rest, line, needle) in cases {
            let found = diagnostics(&format!("{head}{rest}"));
            assert!(
                found.iter().any(|(s, l, m)| *s == Severity::Error && l == line && m.contains(needle)),
                "{rest:?}: expected an error on line {line} containing {needle:?}, got {found:?}"
            );
            assert!(found.iter().all(|(_, _, m)| !m.contains("hunter2")), "a password repeated: {found:?}");
        }
        let bad_name = diagnostics("[[status_page]]\nname = \"a b\"\nfeed_url = \"http://127.0.0.1:1/\"\n");
        assert!(
            bad_name.iter().any(|(s, l, m)| *s == Severity::Error && *l == 2 && m.contains("label value")),
            "{bad_name:?}"
        );
        let missing = diagnostics("[[status_page]]\nname = \"a\"\n");
        assert!(missing.iter().any(|(s, _, m)| *s == Severity::Error && m.contains("feed_url")), "{missing:?}");
        let duplicate = diagnostics(
            "[[status_page]]\nname = \"a\"\nfeed_url = \"http://127.0.0.1:1/\"\n[[status_page]]\nname = \"a\"\nfeed_url = \"http://127.0.0.1:2/\"\n",
        );
        assert!(duplicate.iter().any(|(_, l, m)| *l == 5 && m.contains("duplicate")), "{duplicate:?}");
    }

    #[test]
    fn fast_timers_and_small_caps_are_warnings() {
        let found = diagnostics(
            "[[status_page]]\nname = \"a\"\nfeed_url = \"http://127.0.0.1:1/\"\ninterval = \"200ms\"\ntimeout = \"1s\"\nmax_body_bytes = 1000\n",
        );
        assert!(found.iter().all(|(s, _, _)| *s == Severity::Warning), "{found:?}");
        assert!(found.iter().any(|(_, l, m)| *l == 4 && m.contains("below the recommended minimum")), "{found:?}");
        assert!(found.iter().any(|(_, l, m)| *l == 5 && m.contains("longer than the interval")), "{found:?}");
        assert!(found.iter().any(|(_, l, m)| *l == 6 && m.contains("real feed")), "{found:?}");
    }
}
