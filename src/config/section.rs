//! What a config section says about itself beyond what serde checks ([`Section`]), the problems
//! it reports ([`Findings`]), and the rules more than one section states, written once here.

use super::diagnostic::Severity;
use super::duration::Duration;

/// The longest name of a configured thing whose name becomes a label value (a status page, a
/// probe, a control target).
pub const MAX_LABEL_NAME_LEN: usize = 64;

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

/// One step of the way from a section to the value a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A key of a table.
    Key(&'static str),
    /// An element of an array (`[[phase]]` number `i`, from 0).
    Index(usize),
}

/// One problem a section found in itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) severity: Severity,
    /// Where in the section: never empty, the first segment a key.
    pub(crate) path: Vec<Segment>,
    pub(crate) message: String,
}

/// Problems one section reports about itself, each tied to a field (or a path into the section)
/// so that the loader can point at its line.
#[derive(Debug, Default)]
pub struct Findings {
    items: Vec<Finding>,
}

impl Findings {
    /// An error about `field`; the message is shown as "`field`: message".
    pub fn error(&mut self, field: &'static str, message: impl Into<String>) {
        self.push(Severity::Error, &[Segment::Key(field)], format!("`{field}`: {}", message.into()));
    }

    /// A warning about `field`; the message is shown as "`field`: message".
    pub fn warning(&mut self, field: &'static str, message: impl Into<String>) {
        self.push(Severity::Warning, &[Segment::Key(field)], format!("`{field}`: {}", message.into()));
    }

    /// An error about the value at `path` (which should start with a key); the message is
    /// shown as written, so it should say where it is.
    pub fn error_at(&mut self, path: &[Segment], message: impl Into<String>) {
        self.push(Severity::Error, path, message.into());
    }

    fn push(&mut self, severity: Severity, path: &[Segment], message: String) {
        self.items.push(Finding { severity, path: path.to_vec(), message });
    }

    /// The first error's message, for callers without a file to locate it in.
    pub fn first_error(&self) -> Option<&str> {
        self.items.iter().find(|f| f.severity == Severity::Error).map(|f| f.message.as_str())
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

    /// The name of a configured thing that becomes a label value and a readiness component:
    /// 1 to [`MAX_LABEL_NAME_LEN`] characters of `A-Z a-z 0-9 _ - .`.
    pub fn check_label_name(&mut self, field: &'static str, name: &str) {
        let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if name.is_empty() {
            self.error(field, "must not be empty");
        } else if name.len() > MAX_LABEL_NAME_LEN || !valid_chars {
            self.error(
                field,
                format!(
                    "{name:?} may only contain ASCII letters, digits, '_', '-' and '.', at most \
                     {MAX_LABEL_NAME_LEN} of them (it becomes a label value)"
                ),
            );
        }
    }

    /// A timeout as long as its interval (or longer) is accepted with a warning on `timeout`
    /// that names `consequence`: the next tick comes before a hanging request has given up.
    pub fn check_timeout_within(&mut self, timeout: Duration, interval: Duration, consequence: &str) {
        if !timeout.get().is_zero() && !interval.get().is_zero() && timeout >= interval {
            self.warning(
                "timeout",
                format!(
                    "{timeout} is not shorter than the interval {interval}; with a timeout as long as or longer \
                     than the interval, {consequence}"
                ),
            );
        }
    }

    pub(crate) fn into_items(self) -> Vec<Finding> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Severity, first key and message of each finding.
    fn items(findings: Findings) -> Vec<(Severity, &'static str, String)> {
        let key = |f: &Finding| match f.path[0] {
            Segment::Key(k) => k,
            Segment::Index(_) => "",
        };
        findings.into_items().into_iter().map(|f| (f.severity, key(&f), f.message)).collect()
    }

    #[test]
    fn periods_refuse_zero_and_warn_below_the_floor() {
        let mut findings = Findings::default();
        findings.check_period("interval", Duration::from_millis(0), Duration::from_secs(10));
        findings.check_period("timeout", Duration::from_millis(100), Duration::from_secs(1));
        findings.check_period("ok", Duration::from_secs(60), Duration::from_secs(10));
        let items = items(findings);
        assert_eq!(items.len(), 2);
        assert_eq!((items[0].0, items[0].1), (Severity::Error, "interval"));
        assert_eq!((items[1].0, items[1].1), (Severity::Warning, "timeout"));
    }

    #[test]
    fn one_timeout_rule_equal_counts_as_not_shorter() {
        let warns = |timeout: u64, interval: u64| {
            let mut findings = Findings::default();
            findings.check_timeout_within(Duration::from_secs(timeout), Duration::from_secs(interval), "x");
            findings.into_items().len()
        };
        assert_eq!((warns(5, 10), warns(10, 10), warns(11, 10)), (0, 1, 1));
        assert_eq!((warns(0, 10), warns(10, 0)), (0, 0), "zero is the period check's business");
    }

    #[test]
    fn one_label_name_rule() {
        let problems = |name: &str| {
            let mut findings = Findings::default();
            findings.check_label_name("name", name);
            findings.into_items().into_iter().map(|f| f.message).collect::<Vec<_>>()
        };
        assert!(problems("anthropic.eu-1_a").is_empty());
        assert!(problems(&"n".repeat(MAX_LABEL_NAME_LEN)).is_empty());
        assert_eq!(problems(""), ["`name`: must not be empty"]);
        for bad in ["a b", "é", &"n".repeat(MAX_LABEL_NAME_LEN + 1)] {
            let found = problems(bad);
            assert!(found[0].contains("may only contain") && found[0].contains("label value"), "{found:?}");
        }
    }
}
