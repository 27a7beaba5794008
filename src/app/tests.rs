//! The daemon's config file: the built-in config, located errors, every section reported.

use std::path::Path;

use super::config::*;
use super::{DEFAULT_CONFIG, DEFAULT_CONFIG_NAME};
use crate::config::Diagnostic;
use crate::http::ServerConfig;

fn errors(text: &str) -> Vec<Diagnostic> {
    match Config::parse("test.toml", text) {
        Ok((c, _)) => panic!("expected errors, got {c:?}"),
        Err(d) => d.into_iter().filter(Diagnostic::is_error).collect(),
    }
}

#[test]
fn builtin_config_is_valid() {
    let (config, warnings) = Config::parse(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG).expect("built-in config");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.server.listen.port(), 9464);
}

#[test]
fn empty_file_means_defaults() {
    let (config, _) = Config::parse("empty.toml", "").unwrap();
    assert_eq!(config.server.listen, ServerConfig::default().listen);
    assert!(config.probe.is_empty() && config.status_page.is_empty());
}

#[test]
fn unknown_top_level_key_names_key_and_line() {
    let errs = errors("[server]\nlisten = \"127.0.0.1:1\"\n\n[servre]\nx = 1\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].line, errs[0].column), (4, 2));
    assert!(errs[0].message.contains("unknown section `servre`"), "{}", errs[0].message);
    assert_eq!(errs[0].to_string(), format!("test.toml:4:2: error: {}", errs[0].message));
}

#[test]
fn unknown_nested_key_names_key_and_line() {
    let errs = errors("[server]\nlisten = \"127.0.0.1:1\"\nlisten_port = 3\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].line, 3);
    assert!(errs[0].message.contains("listen_port"), "{}", errs[0].message);
}

#[test]
fn every_bad_section_is_reported_not_just_the_first() {
    let errs = errors("[server]\nlisten = \"nope\"\n\n[ingest]\nenabled = \"yes\"\n\n[bogus]\n");
    let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![2, 5, 7], "{errs:?}");
}

#[test]
fn syntax_errors_are_located() {
    let errs = errors("[server]\nlisten = \n");
    assert!(!errs.is_empty());
    assert_eq!(errs[0].line, 2, "{errs:?}");
}

#[test]
fn repeated_sections_must_be_arrays_of_tables() {
    let errs = errors("[probe]\nname = \"x\"\n");
    assert!(errs[0].message.contains("[[probe]]"), "{errs:?}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let errs = Config::load(Path::new("/nonexistent/claudewatch.toml")).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].to_string().starts_with("/nonexistent/claudewatch.toml: error: cannot read config file"),
        "{}",
        errs[0]
    );
}

#[test]
fn effective_config_round_trips() {
    let (config, _) = Config::parse(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG).unwrap();
    let printed = config.to_toml();
    let (again, _) = Config::parse("printed.toml", &printed).expect("printed config parses");
    assert_eq!(again.to_toml(), printed);
}

#[test]
fn the_builtin_config_watches_anthropic() {
    let (config, warnings) = Config::builtin();
    assert!(warnings.is_empty(), "{warnings:?}");
    let page = &config.status_page[..];
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].name, "anthropic");
    assert_eq!(page[0].feed_url.as_str(), "https://status.anthropic.com/history.atom");
    assert_eq!(
        page[0].summary_url.as_ref().map(crate::config::HttpUrl::as_str),
        Some("https://status.claude.com/api/v2/summary.json")
    );
}
