//! Scenarios: a small TOML timeline of phases, each with a duration, a failure mix and a
//! latency, that decides what every request not chosen by a header or a script gets.
//!
//! ```toml
//! name = "econnreset-wave"
//! description = "…"
//! reply = "OK"            # the reply text of a normal answer (default "OK")
//! repeat = false          # after the last phase: start over (true) or stay in it (false)
//!
//! [[phase]]
//! name = "baseline"
//! duration = "1m"
//! latency = { median = "400ms", p99 = "1.5s" }
//!
//! [[phase]]
//! name = "onset"
//! duration = "2m"
//! ramp = true             # the mix moves linearly from the previous phase's to this one
//! faults = { reset = 0.8, overloaded = 0.05 }   # fractions of requests; the rest are ok
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::fault::{Fault, Latency, Step};
use crate::config::{self, Diagnostics, Findings, Section, Segment};

/// The scenarios compiled into the binary: name → TOML.
pub const BUILTIN: &[(&str, &str)] = &[
    ("healthy", include_str!("scenarios/healthy.toml")),
    ("econnreset-wave", include_str!("scenarios/econnreset-wave.toml")),
    ("overload-storm", include_str!("scenarios/overload-storm.toml")),
    ("rehearsal", include_str!("scenarios/rehearsal.toml")),
];

/// The longest phase: keeps the timeline's arithmetic far from overflow.
const MAX_PHASE: Duration = Duration::from_secs(365 * 24 * 3600);

/// A timeline of phases. Build one with [`Scenario::builtin`], [`Scenario::load`],
/// [`Scenario::from_toml`], or in code (the fields are public).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The text of a normal answer.
    #[serde(default = "default_reply")]
    pub reply: String,
    /// Start over after the last phase (true), or stay in the last phase (false).
    #[serde(default)]
    pub repeat: bool,
    /// The rate limits the `anthropic-ratelimit-*` headers report.
    #[serde(default)]
    pub rate_limits: RateLimits,
    #[serde(rename = "phase")]
    pub phases: Vec<Phase>,
}

/// One phase of a scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    /// How long the phase lasts (scaled by the simulator's time scale).
    pub duration: config::Duration,
    /// Fraction of requests per fault, each in 0..=1, summing to at most 1; the rest are `ok`.
    #[serde(default)]
    pub faults: BTreeMap<Fault, f64>,
    /// Move the mix linearly from the previous phase's mix (none for the first phase) to this
    /// phase's over its duration, rather than switching at its start.
    #[serde(default)]
    pub ramp: bool,
    /// Latency added to every request of the phase.
    #[serde(default)]
    pub latency: Option<Latency>,
    /// `retry-after` seconds on the faults of this phase (see [`Step::retry_after`]).
    #[serde(default)]
    pub retry_after: Option<u64>,
}

/// The largest rate limit a scenario may set, per resource and minute: far above any real
/// organisation's, and small enough that the headers' arithmetic stays exact.
pub const MAX_RATE_LIMIT: u64 = 1_000_000_000;

/// Limits reported in the `anthropic-ratelimit-*` headers, per minute. The simulator reports
/// them; it does not enforce them (script `rate_limited` for that). Each is 1 to
/// [`MAX_RATE_LIMIT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

impl RateLimits {
    /// Each limit in 1..=[`MAX_RATE_LIMIT`], reported at `rate_limits.NAME`.
    fn validate(&self, findings: &mut Findings) {
        for (name, value) in
            [("requests", self.requests), ("input_tokens", self.input_tokens), ("output_tokens", self.output_tokens)]
        {
            if !(1..=MAX_RATE_LIMIT).contains(&value) {
                findings.error_at(
                    &[Segment::Key("rate_limits"), Segment::Key(name)],
                    format!("rate_limits.{name} = {value} is not between 1 and {MAX_RATE_LIMIT} (per minute)"),
                );
            }
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        // Roughly a tier-4 organisation.
        RateLimits { requests: 4000, input_tokens: 2_000_000, output_tokens: 400_000 }
    }
}

fn default_reply() -> String {
    "OK".to_owned()
}

/// A scenario that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Neither a built-in name nor a file.
    #[error("no built-in scenario {name:?} ({builtins}) and no such file")]
    NotFound { name: String, builtins: String },
    /// The file exists but cannot be read.
    #[error("cannot read scenario {path}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    /// Invalid TOML or content in a file: every problem, located by line and column.
    #[error("{0}")]
    Invalid(Diagnostics),
    /// A scenario built in code breaks a rule.
    #[error("{0}")]
    Rule(String),
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario::healthy()
    }
}

impl Scenario {
    /// The built-in `healthy` scenario: every request answered "OK".
    pub fn healthy() -> Scenario {
        Scenario::builtin("healthy").expect("the built-in healthy scenario parses")
    }

    /// A built-in scenario by name (see [`BUILTIN`]).
    pub fn builtin(name: &str) -> Option<Scenario> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        match Scenario::from_toml(&format!("built-in scenario {name}"), text) {
            Ok(s) => Some(s),
            // A test (`builtins_parse`) keeps this unreachable.
            Err(e) => {
                tracing::error!(error = %e, "built-in scenario does not parse");
                None
            }
        }
    }

    /// The names of the built-in scenarios.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// A built-in name, else a TOML file.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some(s) = Scenario::builtin(name_or_path) {
            return Ok(s);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(ScenarioError::NotFound {
                name: name_or_path.to_owned(),
                builtins: Scenario::builtin_names().join(", "),
            });
        }
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        Scenario::from_toml(&path.display().to_string(), &text)
    }

    /// Parses and checks a scenario; `source` names it in the diagnostics, which locate every
    /// problem by line and column as the daemon's config does.
    pub fn from_toml(source: &str, text: &str) -> Result<Scenario, ScenarioError> {
        config::parse_whole::<Scenario>(source, text)
            .map(|(scenario, _warnings)| scenario)
            .map_err(|diagnostics| ScenarioError::Invalid(Diagnostics(diagnostics)))
    }

    /// A one-phase scenario serving `mix` forever, for tests and rehearsals written in code.
    pub fn steady(name: &str, mix: &[(Fault, f64)], latency: Option<Latency>) -> Result<Scenario, ScenarioError> {
        let scenario = Scenario {
            name: name.to_owned(),
            description: String::new(),
            reply: default_reply(),
            repeat: false,
            rate_limits: RateLimits::default(),
            phases: vec![Phase {
                name: "steady".into(),
                duration: config::Duration::from_secs(60),
                faults: mix.iter().copied().collect(),
                ramp: false,
                latency,
                retry_after: None,
            }],
        };
        scenario.check().map_err(ScenarioError::Rule)?;
        Ok(scenario)
    }

    /// The rules of the scenario's [`Section::validate`], for a scenario built in code: the
    /// first problem, if any.
    pub fn check(&self) -> Result<(), String> {
        let mut findings = Findings::default();
        self.validate(&mut findings);
        findings.first_error().map_or(Ok(()), |e| Err(e.to_owned()))
    }

    /// The total length of the timeline (unscaled).
    pub fn length(&self) -> Duration {
        self.phases.iter().map(|p| p.duration.get()).sum()
    }

    /// Where the timeline is after `elapsed` (scenario time): the phase index and the
    /// fraction of it that has passed.
    pub fn position(&self, elapsed: Duration) -> (usize, f64) {
        let total = self.length();
        let mut t = elapsed;
        if t >= total {
            if !self.repeat || total.is_zero() {
                return (self.phases.len() - 1, 1.0);
            }
            t = Duration::from_nanos((t.as_nanos() % total.as_nanos()) as u64);
        }
        for (i, p) in self.phases.iter().enumerate() {
            let d = p.duration.get();
            if t < d {
                return (i, t.as_secs_f64() / d.as_secs_f64());
            }
            t -= d;
        }
        (self.phases.len() - 1, 1.0)
    }

    /// The failure mix in force at `elapsed`, with ramps interpolated.
    pub fn mix_at(&self, elapsed: Duration) -> BTreeMap<Fault, f64> {
        let (i, frac) = self.position(elapsed);
        let phase = &self.phases[i];
        if !phase.ramp {
            return phase.faults.clone();
        }
        let empty = BTreeMap::new();
        let prev = if i == 0 { &empty } else { &self.phases[i - 1].faults };
        let mut mix = BTreeMap::new();
        for fault in prev.keys().chain(phase.faults.keys()) {
            let a = prev.get(fault).copied().unwrap_or(0.0);
            let b = phase.faults.get(fault).copied().unwrap_or(0.0);
            mix.insert(*fault, a + (b - a) * frac);
        }
        mix
    }

    /// Draws the step for one request at `elapsed`.
    pub fn draw(&self, elapsed: Duration, rng: &mut fastrand::Rng) -> (Step, &str) {
        let (i, _) = self.position(elapsed);
        let phase = &self.phases[i];
        let mix = self.mix_at(elapsed);
        let r = rng.f64();
        let mut acc = 0.0;
        let mut fault = Fault::Ok;
        for (f, w) in &mix {
            acc += w;
            if r < acc {
                fault = *f;
                break;
            }
        }
        let step = Step { fault, latency: phase.latency, retry_after: phase.retry_after };
        (step, &phase.name)
    }
}

/// Cross-field rules: at least one phase, fractions in range, durations positive, rate limits
/// in range. Each problem points at its line.
impl Section for Scenario {
    fn validate(&self, findings: &mut Findings) {
        self.rate_limits.validate(findings);
        if self.phases.is_empty() {
            findings.error_at(&[Segment::Key("phase")], "a scenario needs at least one [[phase]]");
        }
        for (i, p) in self.phases.iter().enumerate() {
            let at = format!("phase {} ({:?})", i + 1, p.name);
            let field = |key| [Segment::Key("phase"), Segment::Index(i), Segment::Key(key)];
            if p.duration.get().is_zero() {
                findings.error_at(&field("duration"), format!("{at}: duration must be above zero"));
            }
            if p.duration.get() > MAX_PHASE {
                findings.error_at(&field("duration"), format!("{at}: duration is above the limit of 365 days"));
            }
            if p.faults.contains_key(&Fault::Ok) {
                findings
                    .error_at(&field("faults"), format!("{at}: `ok` is not listed; it is whatever the faults leave"));
            }
            let mut sum = 0.0;
            let mut fractions = true;
            for (fault, w) in &p.faults {
                if !w.is_finite() || !(0.0..=1.0).contains(w) {
                    findings.error_at(
                        &field("faults"),
                        format!("{at}: faults.{fault} = {w} is not a fraction between 0 and 1"),
                    );
                    fractions = false;
                }
                sum += w;
            }
            if fractions && sum > 1.0 + 1e-9 {
                findings.error_at(&field("faults"), format!("{at}: the fault fractions sum to {sum}, above 1"));
            }
            if let Some(Err(e)) = p.latency.as_ref().map(Latency::check) {
                findings.error_at(&field("latency"), format!("{at}: {e}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let s = Scenario::builtin(name).unwrap_or_else(|| panic!("{name} does not parse"));
            assert_eq!(s.name, *name);
        }
    }

    #[test]
    fn econnreset_wave_rises_to_eighty_percent_and_recovers() {
        let s = Scenario::builtin("econnreset-wave").unwrap();
        let total = s.length();
        let mut peak: f64 = 0.0;
        let mut samples = Vec::new();
        for step in 0..=100 {
            let at = total.mul_f64(step as f64 / 100.0);
            let resets = s.mix_at(at).get(&Fault::Reset).copied().unwrap_or(0.0);
            peak = peak.max(resets);
            samples.push(resets);
        }
        assert!((0.75..=0.85).contains(&peak), "peak {peak}");
        assert!(samples[0] < 0.05, "starts healthy: {samples:?}");
        assert!(*samples.last().unwrap() < 0.01, "recovers: {samples:?}");
        // After the end it stays recovered.
        assert!(s.mix_at(total * 3).get(&Fault::Reset).copied().unwrap_or(0.0) < 0.01);
    }

    #[test]
    fn ramps_interpolate_and_draws_follow_the_mix() {
        let s = Scenario::from_toml(
            "t",
            r#"
            name = "t"
            [[phase]]
            name = "a"
            duration = "10s"
            [[phase]]
            name = "b"
            duration = "10s"
            ramp = true
            faults = { overloaded = 0.5 }
            "#,
        )
        .unwrap();
        let at = |secs: f64| s.mix_at(Duration::from_secs_f64(secs)).get(&Fault::Overloaded).copied().unwrap_or(0.0);
        assert_eq!(at(5.0), 0.0);
        assert!((at(15.0) - 0.25).abs() < 1e-9);
        assert!((at(100.0) - 0.5).abs() < 1e-9);
        let mut rng = fastrand::Rng::with_seed(1);
        let n = (0..4000).filter(|_| s.draw(Duration::from_secs(100), &mut rng).0.fault == Fault::Overloaded).count();
        assert!((1800..2200).contains(&n), "{n} of 4000");
    }

    #[test]
    fn repeat_wraps_the_timeline() {
        let mut s = Scenario::steady("x", &[], None).unwrap();
        s.phases.push(Phase { name: "second".into(), ..s.phases[0].clone() });
        s.repeat = true;
        assert_eq!(s.position(Duration::from_secs(130)).0, 0);
        assert_eq!(s.position(Duration::from_secs(70)).0, 1);
        s.repeat = false;
        assert_eq!(s.position(Duration::from_secs(1000)), (1, 1.0));
    }

    #[test]
    fn invalid_scenarios_say_what_is_wrong() {
        let cases = [
            ("name = \"x\"\nphase = []", "at least one"),
            (
                "name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nfaults = { reset = 0.7, overloaded = 0.5 }",
                "sum to",
            ),
            ("name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nfaults = { reset = 1.5 }", "fraction"),
            ("name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nfaults = { ok = 0.5 }", "`ok`"),
            ("name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\nfaults = { explode = 0.5 }", "unknown fault"),
            ("name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"0s\"", "above zero"),
            ("name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"500years\"", "365 days"),
            ("name = \"x\"\ncolour = 1\n[[phase]]\nname = \"a\"\nduration = \"1s\"", "colour"),
            (
                "name = \"x\"\nrate_limits = { input_tokens = 10000000000, output_tokens = 10000000000 }\n[[phase]]\nname = \"a\"\nduration = \"1s\"",
                "rate_limits.input_tokens = 10000000000 is not between 1 and 1000000000",
            ),
            (
                "name = \"x\"\nrate_limits = { requests = 0 }\n[[phase]]\nname = \"a\"\nduration = \"1s\"",
                "rate_limits.requests = 0",
            ),
        ];
        for (text, want) in cases {
            let err = Scenario::from_toml("f.toml", text).unwrap_err().to_string();
            assert!(err.contains(want) && err.starts_with("f.toml"), "{text:?}: {err}");
        }
        let err = Scenario::load("no-such-scenario").unwrap_err().to_string();
        assert!(err.contains("econnreset-wave"), "{err}");
    }

    /// Like the daemon's config: every problem, each on the line of the value it is about.
    #[test]
    fn scenario_errors_are_located_like_config_errors() {
        let text = "name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"1s\"\n\
                    [[phase]]\nname = \"b\"\nduration = \"0s\"\nfaults = { reset = 1.5 }\n";
        let Err(ScenarioError::Invalid(diagnostics)) = Scenario::from_toml("f.toml", text) else {
            panic!("an invalid scenario was accepted");
        };
        let found: Vec<String> = diagnostics.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            found,
            [
                "f.toml:7:12: error: phase 2 (\"b\"): duration must be above zero",
                "f.toml:8:10: error: phase 2 (\"b\"): faults.reset = 1.5 is not a fraction between 0 and 1",
            ]
        );
        let Err(ScenarioError::Invalid(diagnostics)) =
            Scenario::from_toml("f.toml", "name = \"x\"\n[[phase]]\nname = \"a\"\nduration = \"soon\"\n")
        else {
            panic!("an invalid duration was accepted");
        };
        assert_eq!((diagnostics.0[0].line, diagnostics.0[0].column), (4, 12), "{diagnostics}");
    }
}
