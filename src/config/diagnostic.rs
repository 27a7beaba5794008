//! One located problem in a config or scenario file, printed as compilers print theirs
//! (`file:line:column: error: message`), so editors and people find the line at once.

use std::fmt;

/// How bad a [`Diagnostic`] is: errors refuse the file, warnings are printed and accepted.
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
    /// An error about the file as a whole (it cannot be read, for example).
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

/// Diagnostics shown one per line, for errors that carry several (an invalid scenario).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}
