//! The one metrics registry and the daemon's own telemetry: build info, logging, rendering
//! `/metrics` in the format the scraper asked for, and the rule the layers' events follow
//! (`event::InternalEvent`).

pub(crate) mod event;
pub(crate) mod labels;
pub mod logging;
pub(crate) mod render;
pub(crate) mod throttle;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The version this binary was built from.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git revision this binary was built from (set by `build.rs`, or by the
/// `CLAUDEWATCH_REVISION` variable where the build has no `.git`, as in a container build).
pub(crate) const REVISION: &str = env!("CLAUDEWATCH_REVISION");

/// What outbound requests call themselves, so vendors and proxies can tell probes apart.
pub const USER_AGENT: &str =
    concat!("claudewatch/", env!("CARGO_PKG_VERSION"), " (+https://github.com/claudewatch/claudewatch)");

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
}

/// A fresh registry holding `claudewatch_build_info{version,revision} 1`. Each layer then
/// registers its own families into it.
pub(crate) fn new_registry() -> Registry {
    let mut registry = Registry::default();
    let build_info = Family::<BuildLabels, Gauge>::default();
    build_info.get_or_create(&BuildLabels { version: VERSION, revision: REVISION }).set(1);
    registry.register(
        "claudewatch_build_info",
        "A metric with a constant '1' value labeled by the version and git revision claudewatch was built from",
        build_info,
    );
    registry
}
