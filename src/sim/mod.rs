//! The simulator of the Claude API and of a Statuspage feed: a product feature (teams rehearse
//! their dashboards and alerts against it) and the test double every integration test uses.
//!
//! (Foundation stub: the probes issue fills in the Messages API simulator, its faults and
//! scenarios; the status-page issue fills in `statuspage`.)

pub mod statuspage;
