//! `pix-gateway check`: parse and lint a PIX 6.3 configuration, compiler style.

use std::path::Path;

use pix_config::{
    lint, parse_bytes, render_diagnostics, ConfigError, Diagnostic, Finding, ParseOptions,
    SecretsOverlay, Severity,
};
use serde::Serialize;

/// What `check` found.
#[derive(Serialize)]
pub struct Report {
    /// The configuration file.
    pub file: String,
    /// Errors (parse and reference errors, in the config and the secrets file).
    pub errors: usize,
    /// Warnings (unknown commands, suspicious forms).
    pub warnings: usize,
    /// Lint findings.
    pub findings: Vec<Finding>,
    /// Parser diagnostics for the configuration.
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics for the secrets file (never with its text: it holds secrets).
    pub secrets_diagnostics: Vec<Diagnostic>,
    /// Commands in the model.
    pub commands: usize,
}

/// Parses, resolves and lints `config` (with an optional secrets overlay).
pub fn check(
    config: &Path,
    secrets: Option<&Path>,
    strict: bool,
) -> anyhow::Result<(Report, String)> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    let bytes = read(config)?;
    let (overlay, mut secrets_diagnostics) = match secrets {
        Some(p) => {
            let raw = read(p)?;
            let text = String::from_utf8(raw).map_err(|_| {
                anyhow::anyhow!("{}: the secrets file must be UTF-8 text", p.display())
            })?;
            let (ov, diags) = SecretsOverlay::parse(&text);
            (Some(ov), diags)
        }
        None => (None, Vec::new()),
    };
    let opts = ParseOptions {
        strict,
        secrets: overlay.as_ref(),
    };
    let mut outcome = parse_bytes(&bytes, &opts);
    // An overlay entry that fills nothing is about the secrets file's own line:
    // report it there, not at "line 0" of the configuration.
    let (about_overlay, diagnostics): (Vec<_>, Vec<_>) = std::mem::take(&mut outcome.diagnostics)
        .into_iter()
        .partition(|d| matches!(d.error, ConfigError::OverlayUnmatched { .. }));
    outcome.diagnostics = diagnostics;
    for mut d in about_overlay {
        if let Some(r) = d.related.first() {
            d.line = r.line;
        }
        d.related.clear();
        secrets_diagnostics.push(d);
    }
    secrets_diagnostics.sort_by_key(|d| d.line);
    let findings = lint(&outcome.config);
    let count = |d: &[Diagnostic], s: Severity| d.iter().filter(|x| x.severity == s).count();
    let report = Report {
        file: config.display().to_string(),
        errors: count(&outcome.diagnostics, Severity::Error)
            .saturating_add(count(&secrets_diagnostics, Severity::Error)),
        warnings: count(&outcome.diagnostics, Severity::Warning)
            .saturating_add(count(&secrets_diagnostics, Severity::Warning)),
        commands: outcome.config.iter().count(),
        findings,
        diagnostics: outcome.diagnostics,
        secrets_diagnostics,
    };
    // The source as the parser saw it (Latin-1 tolerant) for the caret lines.
    let source = String::from_utf8(bytes)
        .unwrap_or_else(|e| e.into_bytes().iter().map(|b| char::from(*b)).collect());
    Ok((report, source))
}

/// Renders the report as text: diagnostics, findings, then a one-line summary.
pub fn render_text(report: &Report, source: &str, secrets_name: Option<&str>) -> String {
    let mut out = String::new();
    for d in &report.secrets_diagnostics {
        // No source line: the secrets file's lines are secrets.
        out.push_str(&format!(
            "{}:{}:{}: {}: {}\n",
            secrets_name.unwrap_or("secrets"),
            d.line,
            d.column,
            d.severity.as_str(),
            d.message
        ));
    }
    out.push_str(&render_diagnostics(
        &report.file,
        source,
        &report.diagnostics,
    ));
    for f in &report.findings {
        out.push_str(&f.render(&report.file));
    }
    out.push_str(&format!(
        "{}: {} error{}, {} warning{}, {} lint finding{} ({} commands)\n",
        report.file,
        report.errors,
        plural(report.errors),
        report.warnings,
        plural(report.warnings),
        report.findings.len(),
        plural(report.findings.len()),
        report.commands
    ));
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
