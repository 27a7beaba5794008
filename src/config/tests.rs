//! Config parsing: the built-in config, located errors, durations, floors.

use super::*;

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
fn periods_refuse_zero_and_warn_below_the_floor() {
    let mut findings = Findings::default();
    findings.check_period("interval", Duration::from_millis(0), Duration::from_secs(10));
    findings.check_period("timeout", Duration::from_millis(100), Duration::from_secs(1));
    findings.check_period("ok", Duration::from_secs(60), Duration::from_secs(10));
    let items = findings.into_items();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0].0, items[0].1), (Severity::Error, "interval"));
    assert_eq!((items[1].0, items[1].1), (Severity::Warning, "timeout"));
}

#[test]
fn effective_config_round_trips() {
    let (config, _) = Config::parse(DEFAULT_CONFIG_NAME, DEFAULT_CONFIG).unwrap();
    let printed = config.to_toml();
    let (again, _) = Config::parse("printed.toml", &printed).expect("printed config parses");
    assert_eq!(again.to_toml(), printed);
}
