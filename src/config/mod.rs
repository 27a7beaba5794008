//! Building blocks of configuration files, and nothing else: this module imports no other module
//! of the crate, and every module may import it.
//!
//! - [`Duration`], [`HttpUrl`]: typed values that are checked as the file loads and stay parsed.
//! - [`Section`], [`Findings`]: what a section checks about itself beyond what serde checks, and
//!   the rules more than one section states (periods, label names, timeouts within intervals).
//! - [`Diagnostic`]: one problem, located by file, line and column.
//! - [`parse_sections`], [`parse_whole`]: the generic loader that reads a file section by
//!   section (the daemon's config) or whole (a simulator scenario) and reports every problem.
//! - [`Env`]: where secrets come from. Sections never hold secrets; they name the environment
//!   variable that does.
//!
//! Each layer owns the type of its section (`status::StatusPageConfig`, `probe::ProbeConfig`, …),
//! and the composition root (`crate::app::Config`) lists the sections of the daemon's file.

mod diagnostic;
mod duration;
mod env;
mod load;
mod section;
mod text_serde;
mod url;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use duration::Duration;
pub use env::Env;
pub use load::{SectionReader, Sections, parse_sections, parse_whole};
pub use section::{Findings, MAX_LABEL_NAME_LEN, Section, Segment};
pub(crate) use text_serde::serde_as_text;
pub use url::HttpUrl;
