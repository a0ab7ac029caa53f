//! Reading the configuration (at start and for `pix-gateway reload` / SIGHUP), what
//! changed between two configurations, and `show running-config`.
//!
//! A reload is validate-then-apply: the file and its secrets are read, parsed, linted
//! and mapped for every worker exactly as at start, and the result is checked against
//! what a running gateway cannot change (the outside interface and its address, which
//! the sockets are bound to; the session-accounting group). Only a configuration that
//! passes all of it reaches the workers ([`pix_gateway::gateway::Gateway::reload`]); a
//! broken one changes nothing and the answer says why.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use pix_gateway::gateway::{guard, setup};

use super::serve::{RunArgs, DEMO_CONFIG, DEMO_SECRETS};

/// A configuration read, validated and mapped for every worker.
pub struct Loaded {
    /// One plan per worker.
    pub plans: Vec<setup::Plan>,
    /// The parsed configuration (`show running-config`, the next reload's diff).
    pub config: pix_config::Config,
    /// Where it came from.
    pub name: String,
    /// The bundled demo.
    pub demo: bool,
    /// The `--limit`s of the Xauth throttle and the summaries.
    pub guard: guard::GuardLimits,
    /// Lines for the log: lint findings, mapping warnings, what the options changed.
    pub notes: Vec<String>,
}

/// Why a configuration was not taken.
#[derive(Debug, Default)]
pub struct Refused {
    /// The parser's diagnostics rendered compiler-style (errors and the warnings around
    /// them), if the parse failed.
    pub rendered: Option<String>,
    /// One line each: what and where.
    pub lines: Vec<String>,
}

impl Refused {
    fn line(l: String) -> Self {
        Refused {
            rendered: None,
            lines: vec![l],
        }
    }

    /// Everything, one string.
    pub fn text(&self) -> String {
        let mut s = self.rendered.clone().unwrap_or_default();
        for l in &self.lines {
            s.push_str(l);
            s.push('\n');
        }
        s
    }
}

/// Reads the configuration `args` names (and its secrets), parses, lints and maps it for
/// `count` workers, then applies the command line's options to the plans. Nothing is
/// logged: the caller says what it got.
pub fn load(args: &RunArgs, count: u8) -> Result<Loaded, Refused> {
    let demo = args.config.is_none();
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEMO_CONFIG));
    let secrets_path = args
        .secrets
        .clone()
        .or_else(|| demo.then(|| PathBuf::from(DEMO_SECRETS)));
    let bytes = std::fs::read(&config_path)
        .map_err(|e| Refused::line(format!("cannot read {}: {e}", config_path.display())))?;
    let mut notes = Vec::new();
    let overlay = match &secrets_path {
        Some(p) => {
            let raw = std::fs::read(p)
                .map_err(|e| Refused::line(format!("cannot read {}: {e}", p.display())))?;
            let text = String::from_utf8(raw).map_err(|_| {
                Refused::line(format!(
                    "{}: the secrets file must be UTF-8 text",
                    p.display()
                ))
            })?;
            let (ov, d) = pix_config::SecretsOverlay::parse(&text);
            let lines: Vec<String> = d
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}: {}: {}",
                        p.display(),
                        d.line,
                        format!("{:?}", d.severity).to_ascii_lowercase(),
                        d.error
                    )
                })
                .collect();
            if d.iter().any(|d| d.severity == pix_config::Severity::Error) {
                return Err(Refused {
                    rendered: None,
                    lines,
                });
            }
            notes.extend(lines);
            Some(ov)
        }
        None => None,
    };
    let outcome = pix_config::parse_bytes(
        &bytes,
        &pix_config::ParseOptions {
            strict: false,
            secrets: overlay.as_ref(),
        },
    );
    let errors = outcome
        .diagnostics
        .iter()
        .filter(|d| d.severity == pix_config::Severity::Error)
        .count();
    if errors > 0 {
        let text = pix_config::decode(&bytes);
        return Err(Refused {
            rendered: Some(pix_config::render_diagnostics(
                &config_path.display().to_string(),
                &text,
                &outcome.diagnostics,
            )),
            lines: vec![format!(
                "{}: {errors} error(s) in the configuration; `pix-gateway check` shows them all",
                config_path.display()
            )],
        });
    }
    for f in pix_config::lint(&outcome.config) {
        notes.push(format!(
            "lint: {}:{}: {}",
            config_path.display(),
            f.line,
            f.message
        ));
    }
    // One plan per shard: each core owns its IKE endpoint, policy and AAA clients (the
    // address pools and the Xauth throttle are then shared between them).
    let mut plans = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        let users: Vec<(String, ike_sm::Secret)> = overlay
            .as_ref()
            .map(|o| {
                o.users()
                    .into_iter()
                    .map(|(n, s)| (n.to_string(), ike_sm::Secret::from_slice(s.expose_secret())))
                    .collect()
            })
            .unwrap_or_default();
        match setup::plan_with(&outcome.config, users, &args.allow_keyless_aaa) {
            Ok(p) => {
                if i == 0 {
                    notes.extend(p.warnings.iter().map(|w| format!("warning: {w}")));
                }
                plans.push(p);
            }
            Err(errs) => {
                return Err(Refused {
                    rendered: None,
                    lines: errs
                        .iter()
                        .map(|e| format!("{}: {e}", config_path.display()))
                        .collect(),
                })
            }
        }
    }
    let guard = options(args, &mut plans, &mut notes).map_err(Refused::line)?;
    Ok(Loaded {
        plans,
        config: outcome.config,
        name: config_path.display().to_string(),
        demo,
        guard,
        notes,
    })
}

/// Applies the command line's options to the plans: `--allow-aggressive-address-keys`,
/// `--radius-without-message-authenticator`, `--limit`.
fn options(
    args: &RunArgs,
    plans: &mut [setup::Plan],
    notes: &mut Vec<String>,
) -> Result<guard::GuardLimits, String> {
    if args.allow_aggressive_address_keys {
        for plan in plans.iter_mut() {
            if let Some(g) = plan.ike.gateway.as_mut() {
                g.aggressive_address_keys = true;
            }
        }
        notes.push("WARNING: --allow-aggressive-address-keys: an Aggressive Mode initiator with an address identity is answered with the isakmp key of its address, in a HASH anyone can fetch and crack offline (ike-scan + psk-crack)".into());
    }
    for tag in &args.radius_without_message_authenticator {
        let groups: Vec<_> = plans
            .iter_mut()
            .filter_map(|p| p.aaa.get_mut(tag))
            .collect();
        match groups.first() {
            Some(g) if g.protocol == xauth::aaa::Protocol::Radius => {
                for g in groups {
                    g.require_message_authenticator = false;
                }
                notes.push(format!(
                    "WARNING: aaa-server {tag}: RADIUS replies without Message-Authenticator are believed (--radius-without-message-authenticator): a man in the middle can forge an Access-Accept (Blast-RADIUS, CVE-2024-3596); make the server send Message-Authenticator instead"
                ));
            }
            _ => {
                return Err(format!(
                    "--radius-without-message-authenticator {tag}: no `aaa-server {tag} protocol radius`"
                ))
            }
        }
    }
    let mut guard_limits = guard::GuardLimits::default();
    for spec in &args.limits {
        match guard::apply_limit(&mut guard_limits, spec)? {
            true => {}
            false => plans
                .iter_mut()
                .try_for_each(|plan| setup::apply_limit(&mut plan.ike.limits, spec))
                .map_err(|e| {
                    if e.contains("unknown name") {
                        format!("{e}; and {}", guard::LIMIT_NAMES)
                    } else {
                        e
                    }
                })?,
        }
    }
    Ok(guard_limits)
}

/// What a running gateway cannot take from a new configuration: the outside interface
/// and address its sockets are bound to, and the session-accounting group.
pub fn runnable(
    new: &setup::Plan,
    running: &RunningConfig,
    outside: Ipv4Addr,
    pinned_outside: bool,
    session_accounting: Option<&str>,
) -> Result<(), String> {
    if new.outside_if != running.outside_if {
        return Err(format!(
            "the crypto map is now bound to interface {} (was {}): the sockets are bound to the outside address; restart the gateway to move it",
            new.outside_if, running.outside_if
        ));
    }
    if !pinned_outside && new.outside_addr != Some(outside) {
        return Err(format!(
            "ip address {} is now {} (the gateway listens on {outside}): restart the gateway to move it",
            new.outside_if,
            new.outside_addr
                .map_or_else(|| "not set".to_string(), |a| a.to_string())
        ));
    }
    if let Some(tag) = session_accounting {
        match new.aaa.get(tag) {
            Some(g) if g.protocol == xauth::aaa::Protocol::Radius => {}
            _ => {
                return Err(format!(
                    "--session-accounting {tag}: the new configuration has no `aaa-server {tag} protocol radius`"
                ))
            }
        }
    }
    Ok(())
}

/// The running configuration as the driver keeps it.
pub struct RunningConfig {
    /// Parsed.
    pub config: pix_config::Config,
    /// The crypto map's interface.
    pub outside_if: String,
}

/// `show running-config` (also `show run`, `write terminal`): the running configuration
/// in PIX order with every key and password masked (the framing lines, `: Saved` and
/// `Cryptochecksum:`, as the file had them).
pub fn show_running_config(c: &pix_config::Config) -> String {
    c.to_show_run_string()
}

/// Whether a control line asks for the running configuration (`show running-config`,
/// `show run`, `sh run`, `write terminal`, `wr t`).
pub fn is_show_running(line: &str) -> bool {
    let w: Vec<String> = line
        .split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    match w.as_slice() {
        [a, b] => {
            (a.len() >= 2
                && "show".starts_with(a.as_str())
                && b.len() >= 3
                && "running-config".starts_with(b.as_str()))
                || (a.len() >= 2
                    && "write".starts_with(a.as_str())
                    && !b.is_empty()
                    && "terminal".starts_with(b.as_str()))
        }
        _ => false,
    }
}

/// Whether a control line asks for a reload.
pub fn is_reload(line: &str) -> bool {
    line.trim().eq_ignore_ascii_case("reload")
}

/// The lines of the `show running-config` of `old` that `new` no longer has (`- `) and
/// those it adds (`+ `), in PIX order, keys and passwords masked (a line written twice
/// counts twice; the framing lines are left out).
pub fn diff(old: &pix_config::Config, new: &pix_config::Config) -> Vec<String> {
    use std::collections::HashMap;
    fn counts(text: &str) -> HashMap<&str, usize> {
        let mut m: HashMap<&str, usize> = HashMap::new();
        for l in text.lines() {
            let n = m.entry(l).or_insert(0);
            *n = n.saturating_add(1);
        }
        m
    }
    /// The lines of `text` beyond what `other` has of each, marked `mark`.
    fn beyond(text: &str, other: &HashMap<&str, usize>, mark: &str, out: &mut Vec<String>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for l in text
            .lines()
            .filter(|l| !l.starts_with("Cryptochecksum:") && !l.starts_with(':'))
        {
            let n = seen.entry(l).or_insert(0);
            *n = n.saturating_add(1);
            if *n > other.get(l).copied().unwrap_or(0) {
                out.push(format!("{mark}{l}"));
            }
        }
    }
    let a = old.to_show_run_string();
    let b = new.to_show_run_string();
    let mut out = Vec::new();
    beyond(&a, &counts(&b), "- ", &mut out);
    beyond(&b, &counts(&a), "+ ", &mut out);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(t: &str) -> pix_config::Config {
        pix_config::parse(t).config
    }

    #[test]
    fn diff_names_removed_and_added_lines_with_secrets_masked() {
        let a =
            parse("hostname pix\nvpngroup g password s3cret\nip local pool P 10.0.0.1-10.0.0.9\n");
        let b =
            parse("hostname pix2\nvpngroup g password other\nip local pool P 10.0.0.1-10.0.0.9\n");
        let d = diff(&a, &b);
        assert_eq!(
            d,
            vec!["- hostname pix", "+ hostname pix2"],
            "masked keys compare equal"
        );
        assert!(diff(&a, &a).is_empty());
        let s = show_running_config(&a);
        assert!(
            s.contains("vpngroup g password ********") && !s.contains("s3cret"),
            "{s}"
        );
    }

    #[test]
    fn command_words() {
        for l in [
            "show running-config",
            "sh run",
            "show run",
            "write terminal",
            "wr t",
            "SHOW RUN",
        ] {
            assert!(is_show_running(l), "{l}");
        }
        for l in [
            "show version",
            "show",
            "run",
            "write memory",
            "s run",
            "show running-config x",
        ] {
            assert!(!is_show_running(l), "{l}");
        }
        assert!(is_reload("reload") && is_reload(" RELOAD ") && !is_reload("reload now"));
    }
}
