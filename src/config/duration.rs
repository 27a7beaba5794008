//! Human durations in config files (`"60s"`, `"2m"`, `"500ms"`), read and written the same way.

use std::fmt;
use std::time::Duration as StdDuration;

use super::text_serde::serde_as_text;

/// A `std::time::Duration` that (de)serializes as a human string, so config files and the
/// effective config printed by `check-config` read alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub StdDuration);

impl Duration {
    pub const fn from_secs(secs: u64) -> Self {
        Self(StdDuration::from_secs(secs))
    }

    pub const fn from_millis(millis: u64) -> Self {
        Self(StdDuration::from_millis(millis))
    }

    pub const fn get(self) -> StdDuration {
        self.0
    }
}

impl From<Duration> for StdDuration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl std::str::FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        humantime::parse_duration(s.trim())
            .map(Duration)
            .map_err(|e| format!("invalid duration {s:?}: {e} (write e.g. \"500ms\", \"60s\", \"2m\")"))
    }
}

serde_as_text!(Duration);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spellings_the_docs_promise() {
        assert_eq!("60s".parse::<Duration>().unwrap(), Duration::from_secs(60));
        assert_eq!("2m".parse::<Duration>().unwrap(), Duration::from_secs(120));
        assert_eq!("500ms".parse::<Duration>().unwrap(), Duration::from_millis(500));
        assert_eq!("1m 30s".parse::<Duration>().unwrap(), Duration::from_secs(90));
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        let err = "sixty".parse::<Duration>().unwrap_err();
        assert!(err.contains("\"sixty\""), "{err}");
        assert!(err.contains("60s"), "{err}");
        assert!("60".parse::<Duration>().is_err(), "a bare number has no unit");
    }

    #[test]
    fn round_trips_through_display() {
        for s in ["500ms", "1m", "1h 1s"] {
            let d: Duration = s.parse().unwrap();
            assert_eq!(d.to_string().parse::<Duration>().unwrap(), d);
        }
    }
}
