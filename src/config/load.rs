//! Turns TOML text into a typed document, collecting every problem instead of stopping at the
//! first, each located by line and column.
//!
//! Two shapes of document are read:
//! - [`parse_sections`]: a file of sections (the daemon's config). Each top-level section (and
//!   each entry of a repeated section) is deserialized and validated on its own, so one bad
//!   table does not hide the errors in the next. The [`Sections`] type that owns the file lists
//!   its sections and says where each goes.
//! - [`parse_whole`]: a file that is one value (a simulator scenario), deserialized at once and
//!   then validated.
//!
//! In both, [`Section::validate`] reports through [`Findings`], and each finding is placed on
//! the line of the field (or the path into the section) it names.

use std::collections::HashSet;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diagnostic::{Diagnostic, Severity};
use super::section::{Findings, Section, Segment};

/// A file made of sections, as the daemon's config is: it lists the sections it knows and
/// takes each one from a [`SectionReader`].
pub trait Sections: Default {
    /// Every top-level section, for the error that names an unknown one.
    const SECTIONS: &'static [&'static str];

    /// Reads section `name` from `reader` into `self`; false when there is no such section.
    fn read(&mut self, name: &str, reader: SectionReader<'_, '_>) -> bool;
}

/// Parses a file of sections; `source` names it in diagnostics. On success the value and its
/// warnings; on failure every error found (and the warnings), in file order.
pub fn parse_sections<S: Sections>(source: &str, text: &str) -> Result<(S, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut loader = Loader { source, text, diagnostics: Vec::new() };
    let root = loader.syntax(text)?;
    let mut document = S::default();
    for (key, value) in root.get_ref() {
        let name = key.get_ref().as_ref();
        let reader = SectionReader { loader: &mut loader, value, name };
        if !document.read(name, reader) {
            loader.push(
                Severity::Error,
                Some(key.span()),
                format!("unknown section `{name}`, expected one of: {}", S::SECTIONS.join(", ")),
            );
        }
    }
    loader.finish(document)
}

/// Parses a file that is one value of `T`, then validates it; `source` names it in diagnostics.
pub fn parse_whole<T: DeserializeOwned + Section>(
    source: &str,
    text: &str,
) -> Result<(T, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut loader = Loader { source, text, diagnostics: Vec::new() };
    let root = loader.syntax(text)?;
    let (span, table) = (root.span(), root.into_inner());
    let value = Spanned::new(span, DeValue::Table(table));
    match loader.deserialize::<T>(&value) {
        Some(parsed) => {
            loader.validate(&parsed, &value);
            loader.finish(parsed)
        }
        None => Err(loader.diagnostics),
    }
}

/// One top-level section of a file, handed to [`Sections::read`].
pub struct SectionReader<'l, 'a> {
    loader: &'l mut Loader<'a>,
    value: &'l Spanned<DeValue<'a>>,
    name: &'l str,
}

impl std::fmt::Debug for SectionReader<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SectionReader").field("section", &self.name).finish_non_exhaustive()
    }
}

impl SectionReader<'_, '_> {
    /// A single table such as `[server]`; `None` when it is invalid (the errors are recorded).
    pub fn one<T: DeserializeOwned + Section>(self) -> Option<T> {
        let parsed = self.loader.deserialize::<T>(self.value)?;
        self.loader.validate(&parsed, self.value);
        Some(parsed)
    }

    /// An array of tables such as `[[probe]]`, each entry checked on its own; names must be
    /// unique within the section because they become label values. Invalid entries are left
    /// out (their errors are recorded).
    pub fn many<T: DeserializeOwned + Section>(self) -> Vec<T> {
        let section = self.name;
        let DeValue::Array(items) = self.value.get_ref() else {
            self.loader.push(
                Severity::Error,
                Some(self.value.span()),
                format!("`{section}` must be an array of tables: write [[{section}]]"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut names = HashSet::new();
        for item in items {
            let Some(parsed) = self.loader.deserialize::<T>(item) else { continue };
            self.loader.validate(&parsed, item);
            if let Some(name) = parsed.name()
                && !names.insert(name.to_owned())
            {
                let span = span_at(item, &[Segment::Key("name")]).unwrap_or_else(|| item.span());
                self.loader.push(Severity::Error, Some(span), format!("duplicate {section} name `{name}`"));
            }
            out.push(parsed);
        }
        out
    }
}

/// The diagnostics of one file being read.
struct Loader<'a> {
    source: &'a str,
    text: &'a str,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Loader<'a> {
    /// The document's tables, or every syntax error in it.
    fn syntax(&mut self, text: &'a str) -> Result<Spanned<DeTable<'a>>, Vec<Diagnostic>> {
        let (root, syntax_errors) = DeTable::parse_recoverable(text);
        for e in &syntax_errors {
            self.push(Severity::Error, e.span(), toml_message(e));
        }
        if syntax_errors.is_empty() { Ok(root) } else { Err(std::mem::take(&mut self.diagnostics)) }
    }

    fn deserialize<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue<'_>>) -> Option<T> {
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(v),
            Err(e) => {
                // A bad value of a field (a URL, a duration) is named like the findings are.
                let message = match e.span().and_then(|span| key_of(value, &span)) {
                    Some(key) => format!("`{key}`: {}", toml_message(&e)),
                    None => toml_message(&e),
                };
                let span = e.span().or_else(|| Some(value.span()));
                self.push(Severity::Error, span, message);
                None
            }
        }
    }

    fn validate<T: Section>(&mut self, parsed: &T, value: &Spanned<DeValue<'_>>) {
        let mut findings = Findings::default();
        parsed.validate(&mut findings);
        for finding in findings.into_items() {
            let span = span_at(value, &finding.path).unwrap_or_else(|| value.span());
            self.push(finding.severity, Some(span), finding.message);
        }
    }

    fn push(&mut self, severity: Severity, span: Option<Range<usize>>, message: String) {
        let (line, column) = span.map(|s| line_col(self.text, s.start)).unwrap_or((0, 0));
        self.diagnostics.push(Diagnostic { severity, file: self.source.to_owned(), line, column, message });
    }

    /// The value and its warnings, or every diagnostic when one is an error; in file order,
    /// whatever order the sections were visited in.
    fn finish<T>(mut self, value: T) -> Result<(T, Vec<Diagnostic>), Vec<Diagnostic>> {
        self.diagnostics.sort_by_key(|d| (d.line, d.column));
        if self.diagnostics.iter().any(Diagnostic::is_error) {
            Err(self.diagnostics)
        } else {
            Ok((value, self.diagnostics))
        }
    }
}

/// The span of the value at `path` inside a table value, to point at the offending line; the
/// deepest value found when the path ends early (a key that is absent).
fn span_at(value: &Spanned<DeValue<'_>>, path: &[Segment]) -> Option<Range<usize>> {
    let mut current = value;
    let mut found = None;
    for segment in path {
        let next = match (segment, current.get_ref()) {
            (Segment::Key(key), DeValue::Table(table)) => {
                table.iter().find(|(k, _)| k.get_ref().as_ref() == *key).map(|(_, v)| v)
            }
            (Segment::Index(i), DeValue::Array(items)) => items.get(*i),
            _ => None,
        };
        let Some(next) = next else { break };
        current = next;
        found = Some(next.span());
    }
    found
}

/// The key of the table `value` whose value is exactly at `span`.
fn key_of<'v>(value: &'v Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<&'v str> {
    let DeValue::Table(table) = value.get_ref() else { return None };
    table.iter().find(|(_, v)| v.span() == *span).map(|(k, _)| k.get_ref().as_ref())
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
    use serde::Deserialize;

    use super::*;

    #[test]
    fn line_col_is_one_based_and_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3), "é is two bytes, one column");
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[derive(Debug, Deserialize)]
    struct Doc {
        #[allow(dead_code)]
        name: String,
        item: Vec<Item>,
    }

    #[derive(Debug, Deserialize)]
    struct Item {
        size: u32,
    }

    impl Section for Doc {
        fn validate(&self, findings: &mut Findings) {
            for (i, item) in self.item.iter().enumerate() {
                if item.size == 0 {
                    let path = [Segment::Key("item"), Segment::Index(i), Segment::Key("size")];
                    findings.error_at(&path, format!("item {}: size must be above zero", i + 1));
                }
            }
        }
    }

    /// A whole-file document: serde's errors and the findings deep inside it are both located.
    #[test]
    fn whole_documents_are_located_down_to_nested_fields() {
        let text = "name = \"x\"\n[[item]]\nsize = 1\n[[item]]\nsize = 0\n";
        let errors = parse_whole::<Doc>("d.toml", text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].to_string(), "d.toml:5:8: error: item 2: size must be above zero");

        let errors = parse_whole::<Doc>("d.toml", "name = \"x\"\n[[item]]\nsize = \"big\"\n").unwrap_err();
        assert_eq!((errors[0].line, errors[0].column), (3, 8), "{errors:?}");
        let errors = parse_whole::<Doc>("d.toml", "name = 7\nitem = []\n").unwrap_err();
        assert!(errors[0].message.starts_with("`name`: invalid type"), "a bad value is named: {errors:?}");
        let errors = parse_whole::<Doc>("d.toml", "name = \n").unwrap_err();
        assert_eq!(errors[0].line, 1, "{errors:?}");
        assert!(parse_whole::<Doc>("d.toml", "name = \"x\"\nitem = []\n").is_ok());
    }
}
