//! Where secrets come from. Config files only name environment variables (`api_key_env`,
//! `tokens_env`); the layers read them through an [`Env`] handed to `run`, so that the daemon
//! reads the process environment and a test hands in a map of its own, without touching the
//! process-wide environment (which is not safe to change while other threads read it).

use std::collections::HashMap;
use std::env::VarError;
use std::fmt;
use std::sync::Arc;

/// A read-only view of environment variables.
#[derive(Clone)]
pub struct Env(Lookup);

#[derive(Clone)]
enum Lookup {
    Process,
    Map(Arc<HashMap<String, String>>),
}

impl Env {
    /// The process environment, as the daemon reads it.
    pub fn process() -> Env {
        Env(Lookup::Process)
    }

    /// Exactly these variables and no others.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env(Lookup::Map(Arc::new(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())))
    }

    /// The value of `name`, as [`std::env::var`] gives it.
    pub fn var(&self, name: &str) -> Result<String, VarError> {
        match &self.0 {
            Lookup::Process => std::env::var(name),
            Lookup::Map(map) => map.get(name).cloned().ok_or(VarError::NotPresent),
        }
    }
}

impl Default for Env {
    fn default() -> Self {
        Env::process()
    }
}

/// Never prints values: they are secrets.
impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Lookup::Process => f.write_str("Env(process)"),
            Lookup::Map(map) => write!(f, "Env({} variables, values redacted)", map.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_holds_exactly_its_pairs_and_never_prints_them() {
        let env = Env::from_pairs([("KEY", "s3cret")]);
        assert_eq!(env.var("KEY").as_deref(), Ok("s3cret"));
        assert_eq!(env.var("OTHER"), Err(VarError::NotPresent));
        assert!(!format!("{env:?}").contains("s3cret"));
    }
}
