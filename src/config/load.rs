//! Turns config text into a [`Config`], collecting every problem instead of stopping at the
//! first: each top-level section (and each entry of a repeated section) is deserialized on its
//! own, then validated, and every diagnostic carries a position in the file.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::{Config, Findings, Section};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a config file, located by line and column (both 1-based; 0 when the problem
/// concerns the file as a whole, such as a missing file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Diagnostic {
    pub fn whole_file(file: &str, message: String) -> Self {
        Self { severity: Severity::Error, file: file.to_owned(), line: 0, column: 0, message }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{}: {level}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}:{}: {level}: {}", self.file, self.line, self.column, self.message)
        }
    }
}

/// The top-level sections we know; anything else is an error that names the key.
const SECTIONS: &[&str] = &["server", "status_page", "probe", "control", "ingest"];

struct Loader<'a> {
    source: &'a str,
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

pub(super) fn parse(source: &str, text: &str) -> Result<(Config, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut loader = Loader { source, text, diagnostics: Vec::new() };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    for e in &syntax_errors {
        loader.push(Severity::Error, e.span(), toml_message(e));
    }
    if !syntax_errors.is_empty() {
        return Err(loader.diagnostics);
    }

    let mut config = Config::default();
    for (key, value) in root.get_ref().iter() {
        match key.get_ref().as_ref() {
            "server" => {
                if let Some(s) = loader.one(value) {
                    config.server = s;
                }
            }
            "status_page" => config.status_page = loader.many(value, "status_page"),
            "probe" => config.probe = loader.many(value, "probe"),
            "control" => config.control = loader.many(value, "control"),
            "ingest" => {
                if let Some(s) = loader.one(value) {
                    config.ingest = s;
                }
            }
            other => loader.push(
                Severity::Error,
                Some(key.span()),
                format!("unknown section `{other}`, expected one of: {}", SECTIONS.join(", ")),
            ),
        }
    }

    // Report in file order, whatever order the sections were visited in.
    loader.diagnostics.sort_by_key(|d| (d.line, d.column));
    if loader.diagnostics.iter().any(Diagnostic::is_error) {
        Err(loader.diagnostics)
    } else {
        Ok((config, loader.diagnostics))
    }
}

impl Loader<'_> {
    /// A single table such as `[server]`.
    fn one<T: DeserializeOwned + Section>(&mut self, value: &Spanned<DeValue<'_>>) -> Option<T> {
        let parsed = self.deserialize::<T>(value)?;
        self.validate(&parsed, value);
        Some(parsed)
    }

    /// An array of tables such as `[[probe]]`, each entry checked on its own; names must be
    /// unique within the section because they become label values.
    fn many<T: DeserializeOwned + Section>(&mut self, value: &Spanned<DeValue<'_>>, section: &str) -> Vec<T> {
        let DeValue::Array(items) = value.get_ref() else {
            self.push(
                Severity::Error,
                Some(value.span()),
                format!("`{section}` must be an array of tables: write [[{section}]]"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut names = HashSet::new();
        for item in items.iter() {
            let Some(parsed) = self.deserialize::<T>(item) else { continue };
            self.validate(&parsed, item);
            if let Some(name) = parsed.name()
                && !names.insert(name.to_owned())
            {
                let span = field_span(item, "name").unwrap_or_else(|| item.span());
                self.push(Severity::Error, Some(span), format!("duplicate {section} name `{name}`"));
            }
            out.push(parsed);
        }
        out
    }

    fn deserialize<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'_>>) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().or_else(|| Some(value.span()));
                self.push(Severity::Error, span, toml_message(&e));
                None
            }
        }
    }

    fn validate<T: Section>(&mut self, parsed: &T, value: &Spanned<DeValue<'_>>) {
        let mut findings = Findings::default();
        parsed.validate(&mut findings);
        for (severity, field, message) in findings.into_items() {
            let span = field_span(value, field).unwrap_or_else(|| value.span());
            self.push(severity, Some(span), format!("`{field}`: {message}"));
        }
    }

    fn push(&mut self, severity: Severity, span: Option<Range<usize>>, message: String) {
        let (line, column) = span.map(|s| line_col(self.text, s.start)).unwrap_or((0, 0));
        self.diagnostics.push(Diagnostic { severity, file: self.source.to_owned(), line, column, message });
    }
}

/// The span of `field` inside a table value, to point at the offending key's line.
fn field_span(value: &Spanned<DeValue<'_>>, field: &str) -> Option<Range<usize>> {
    let DeValue::Table(table) = value.get_ref() else { return None };
    table.iter().find(|(k, _)| k.get_ref().as_ref() == field).map(|(_, v)| v.span())
}

/// toml's messages are multi-line with a source excerpt when it has the input; we print our own
/// position, so keep its first line only.
fn toml_message(e: &toml::de::Error) -> String {
    e.message().lines().next().unwrap_or("invalid config").trim().to_owned()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_col;

    #[test]
    fn line_col_is_one_based_and_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3), "é is two bytes, one column");
        assert_eq!(line_col(text, 999), (3, 1));
    }
}
