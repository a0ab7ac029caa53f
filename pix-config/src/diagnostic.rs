//! Diagnostics (errors, warnings, notes) and their compiler-style rendering.

use crate::error::ConfigError;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
pub enum Severity {
    /// Informational: something was skipped or needs attention, nothing is wrong.
    Note,
    /// Kept, but not fully understood (unknown command in lenient mode, odd spelling).
    Warning,
    /// The line is wrong; a PIX would reject it (or a reference dangles).
    Error,
}

impl Severity {
    /// The lowercase word used in rendered diagnostics (`error`, `warning`, `note`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Another line a diagnostic points at (the definition a reference collides with, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Related {
    /// 1-based line number.
    pub line: u32,
    /// What is on that line.
    pub message: String,
}

/// One error, warning or note, with its position in the source.
///
/// Plain data with public fields; with the `serde` feature it serializes to JSON
/// (the typed [`ConfigError`] is skipped there, `message` carries its text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Diagnostic {
    /// Error, warning or note.
    pub severity: Severity,
    /// 1-based line number (0 when the diagnostic is about the whole input).
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// Width of the offending token in characters (at least 1), for the caret.
    pub width: u32,
    /// The rendered message (`error.to_string()`).
    pub message: String,
    /// Other lines involved (definitions, earlier duplicates).
    pub related: Vec<Related>,
    /// The typed error.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub error: ConfigError,
}

impl Diagnostic {
    /// Build a diagnostic; the message is taken from the error's `Display`.
    pub fn new(severity: Severity, line: u32, column: u32, width: u32, error: ConfigError) -> Self {
        Diagnostic {
            severity,
            line,
            column: column.max(1),
            width: width.max(1),
            message: error.to_string(),
            related: Vec::new(),
            error,
        }
    }

    /// Add a related line.
    pub fn with_related(mut self, line: u32, message: impl Into<String>) -> Self {
        self.related.push(Related {
            line,
            message: message.into(),
        });
        self
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Render a diagnostic like a compiler does:
///
/// ```text
/// FILE:LINE:COL: error: message
///    12 | access-list 101 permit ip 10.0.0.0 255.255.255.3x any
///       |                                    ^^^^^^^^^^^^^^
/// FILE:3: note: related message
/// ```
///
/// `source` is the whole configuration text the diagnostic came from (as passed
/// to [`parse`](crate::parse)); if the line is not in it, only the header is printed.
pub fn render_diagnostic(file_name: &str, source: &str, diag: &Diagnostic) -> String {
    let line_text = diag
        .line
        .checked_sub(1)
        .and_then(|i| source.split('\n').nth(i as usize));
    render_with_line(file_name, line_text, diag)
}

/// Render many diagnostics of one source, indexing its lines once (use this for a
/// whole [`ParseOutcome`](crate::ParseOutcome): calling [`render_diagnostic`] per
/// diagnostic rescans the source each time).
pub fn render_diagnostics(file_name: &str, source: &str, diags: &[Diagnostic]) -> String {
    let lines: Vec<&str> = source.split('\n').collect();
    diags
        .iter()
        .map(|d| {
            let text = d
                .line
                .checked_sub(1)
                .and_then(|i| lines.get(i as usize))
                .copied();
            render_with_line(file_name, text, d)
        })
        .collect()
}

fn render_with_line(file_name: &str, line_text: Option<&str>, diag: &Diagnostic) -> String {
    let mut out = format!(
        "{file_name}:{}:{}: {}: {}\n",
        diag.line,
        diag.column,
        diag.severity.as_str(),
        diag.message
    );
    if let Some(text) = line_text {
        let text = text.trim_end_matches(['\r', '\n']);
        let number = diag.line.to_string();
        let pad = " ".repeat(number.len());
        out.push_str(&format!("{number} | {text}\n"));
        let lead: String = text
            .chars()
            .take(diag.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(diag.width.max(1) as usize);
        out.push_str(&format!("{pad} | {lead}{carets}\n"));
    }
    for rel in &diag.related {
        out.push_str(&format!(
            "{file_name}:{}: note: {}\n",
            rel.line, rel.message
        ));
    }
    out
}
