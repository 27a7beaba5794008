//! Which layers have started, for `/readyz`. Each layer component registers itself before the
//! server starts and reports once it is running, so a scrape never races an empty registry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// The start-up state of one component (`status:anthropic`, `probe:default`, `ingest`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum ComponentState {
    Starting,
    Ready,
    /// Started but cannot do its work as configured (for example a probe whose API key
    /// variable is unset). Counts as started, so one missing key does not take a pod out of
    /// service, but `/readyz` names it.
    NotConfigured {
        reason: String,
    },
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Readiness {
    components: Arc<Mutex<BTreeMap<String, ComponentState>>>,
}

/// A component's handle on its own entry.
#[derive(Clone, Debug)]
pub(crate) struct ReadyHandle {
    name: String,
    readiness: Readiness,
}

impl Readiness {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Registers a component in the `Starting` state.
    pub(crate) fn register(&self, name: impl Into<String>) -> ReadyHandle {
        let name = name.into();
        self.set(&name, ComponentState::Starting);
        ReadyHandle { name, readiness: self.clone() }
    }

    fn set(&self, name: &str, state: ComponentState) {
        let mut components = self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        components.insert(name.to_owned(), state);
    }

    /// Whether every component has started, and each one's state.
    pub(crate) fn snapshot(&self) -> (bool, BTreeMap<String, ComponentState>) {
        let components = self.components.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let ready = components.values().all(|s| *s != ComponentState::Starting);
        (ready, components)
    }
}

impl ReadyHandle {
    pub(crate) fn ready(&self) {
        self.readiness.set(&self.name, ComponentState::Ready);
    }

    pub(crate) fn not_configured(&self, reason: impl Into<String>) {
        self.readiness.set(&self.name, ComponentState::NotConfigured { reason: reason.into() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_nothing_is_starting() {
        let readiness = Readiness::new();
        assert!(readiness.snapshot().0, "no components: nothing to wait for");
        let a = readiness.register("a");
        let b = readiness.register("b");
        assert!(!readiness.snapshot().0);
        a.ready();
        assert!(!readiness.snapshot().0);
        b.not_configured("key unset");
        let (ready, states) = readiness.snapshot();
        assert!(ready);
        assert_eq!(states["b"], ComponentState::NotConfigured { reason: "key unset".into() });
    }
}
