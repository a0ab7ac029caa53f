//! The secrets overlay: clear values for the secrets `show run` prints as `********`.
//!
//! A `show running-config` masks the ISAKMP pre-shared keys and the vpngroup
//! passwords. The overlay is a small text file kept apart from the configuration
//! (mode 0600, not in version control) that supplies them. Format, one entry a line:
//!
//! ```text
//! # comment lines and blank lines are ignored
//! isakmp key <address> [netmask <mask>] <secret>
//! vpngroup <group> password <secret>
//! aaa-server <tag> <host-address> key <secret>
//! username <name> password <secret>
//! ```
//!
//! `isakmp key` matches the `isakmp key ******** address <address> [netmask <mask>]`
//! line with the same address and netmask (a missing netmask matches a missing one).
//! Secrets are single tokens (the PIX does not allow blanks in them). An entry that
//! matches no masked secret is reported as a warning; a masked secret that no entry
//! fills is reported as a note by [`Config::apply_secrets`].
//!
//! `username` entries are LOCAL users for Xauth (`aaa-server LOCAL protocol local`): a
//! `show run` prints user passwords hashed (`encrypted`), and a hash cannot be checked
//! against the clear password a VPN client sends, so the gateway takes the clear one from
//! here ([`SecretsOverlay::users`]). They never change the model (its `username` line
//! keeps printing as written) and are never reported as unmatched.

use std::net::Ipv4Addr;

use crate::aaa::AaaServerLine;
use crate::diagnostic::{Diagnostic, Severity};
use crate::error::ConfigError;
use crate::isakmp::Isakmp;
use crate::lexer::{tokenize, Cur};
use crate::model::{AddrTok, Command, Config};
use crate::secret::{Secret, SecretValue};
use crate::vpngroup::VpngroupAttr;

/// What an overlay entry fills.
#[derive(Debug, PartialEq, Eq)]
pub enum OverlayTarget {
    /// `isakmp key ADDRESS [netmask MASK]`
    IsakmpKey {
        /// Peer address.
        address: Ipv4Addr,
        /// Netmask, if written.
        netmask: Option<Ipv4Addr>,
    },
    /// `vpngroup GROUP password`
    VpngroupPassword(String),
    /// `aaa-server TAG HOST key`
    AaaServerKey {
        /// Server group tag.
        tag: String,
        /// Server address.
        host: Ipv4Addr,
    },
    /// `username NAME password`: a LOCAL user's clear password.
    Username(String),
}

/// One overlay entry.
#[derive(Debug, PartialEq, Eq)]
pub struct OverlayEntry {
    /// Line in the overlay file.
    pub line: u32,
    /// What it fills.
    pub target: OverlayTarget,
    /// The clear value.
    pub secret: Secret,
}

/// A parsed secrets overlay.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SecretsOverlay {
    /// The entries.
    pub entries: Vec<OverlayEntry>,
}

impl SecretsOverlay {
    /// The LOCAL users (`username NAME password SECRET` entries), in file order; a later
    /// entry for the same name replaces an earlier one.
    pub fn users(&self) -> Vec<(&str, &Secret)> {
        let mut v: Vec<(&str, &Secret)> = Vec::new();
        for e in &self.entries {
            if let OverlayTarget::Username(n) = &e.target {
                v.retain(|(m, _)| *m != n.as_str());
                v.push((n.as_str(), &e.secret));
            }
        }
        v
    }

    /// Parse the overlay text. Errors are returned as diagnostics on the overlay's
    /// own lines (render them with the overlay's file name); good lines are kept.
    pub fn parse(text: &str) -> (SecretsOverlay, Vec<Diagnostic>) {
        let mut ov = SecretsOverlay::default();
        let mut diags = Vec::new();
        let mut toks = Vec::new();
        for (i, raw) in text.split('\n').enumerate() {
            let line_no = u32::try_from(i).unwrap_or(u32::MAX).saturating_add(1);
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if crate::lexer::trim_blank_start(line).starts_with('#') {
                continue;
            }
            tokenize(line, &mut toks);
            if toks.is_empty() {
                continue;
            }
            let mut cur = Cur::new(line, &toks);
            match parse_entry(&mut cur) {
                Ok((target, secret)) => ov.entries.push(OverlayEntry {
                    line: line_no,
                    target,
                    secret,
                }),
                Err(e) => diags.push(crate::parser::diag_from(line_no, line, e, Severity::Error)),
            }
        }
        (ov, diags)
    }
}

fn parse_entry(cur: &mut Cur<'_, '_>) -> Result<(OverlayTarget, Secret), crate::lexer::PErr> {
    let target = if cur.eat("isakmp") {
        cur.expect_kw("key")?;
        let address = cur.ip("a peer address")?;
        let netmask = if cur.eat("netmask") {
            Some(cur.mask(&address)?)
        } else {
            None
        };
        OverlayTarget::IsakmpKey { address, netmask }
    } else if cur.eat("vpngroup") {
        let g = cur.name("a group name")?;
        cur.expect_kw("password")?;
        OverlayTarget::VpngroupPassword(g)
    } else if cur.eat("aaa-server") {
        let tag = cur.name("a server group tag")?;
        let host = cur.ip("a server address")?;
        cur.expect_kw("key")?;
        OverlayTarget::AaaServerKey { tag, host }
    } else if cur.eat("username") {
        let n = cur.name("a user name")?;
        cur.expect_kw("password")?;
        OverlayTarget::Username(n)
    } else {
        return Err(cur.expected("`isakmp key`, `vpngroup`, `aaa-server` or `username`"));
    };
    let secret = cur.word("the secret")?;
    if matches!(target, OverlayTarget::AaaServerKey { .. })
        && secret.eq_ignore_ascii_case("timeout")
    {
        // `aaa-server T (if) host A timeout timeout N` cannot be read back
        return Err(cur.err_prev(ConfigError::Expected {
            expected: "an AAA key other than the keyword `timeout`".into(),
            found: Some(secret.to_owned()),
        }));
    }
    if secret == crate::secret::MASK {
        return Err(cur.err_prev(ConfigError::Expected {
            expected: "a clear secret, not the mask".into(),
            found: Some(secret.to_owned()),
        }));
    }
    cur.finish("overlay entry")?;
    Ok((target, Secret::from(secret)))
}

/// Does an overlay entry's target name this secret slot?
type Matcher<'a> = Box<dyn Fn(&OverlayTarget) -> bool + 'a>;

fn describe(t: &OverlayTarget) -> String {
    match t {
        OverlayTarget::IsakmpKey { address, netmask } => match netmask {
            Some(m) => format!("isakmp key {address} netmask {m}"),
            None => format!("isakmp key {address}"),
        },
        OverlayTarget::VpngroupPassword(g) => format!("vpngroup {g} password"),
        OverlayTarget::AaaServerKey { tag, host } => format!("aaa-server {tag} {host} key"),
        OverlayTarget::Username(n) => format!("username {n} password"),
    }
}

impl Config {
    /// Fill masked secrets from `overlay`. Returns a warning for each overlay entry
    /// that matched nothing masked (line 0: they are about the overlay) and a note for
    /// each masked secret still unfilled. Clear secrets in the configuration are never
    /// overwritten.
    pub fn apply_secrets(&mut self, overlay: &SecretsOverlay) -> Vec<Diagnostic> {
        let mut used = vec![false; overlay.entries.len()];
        for c in &mut self.commands {
            let slot: Option<(&mut SecretValue, Matcher<'_>)> = match &mut c.value {
                Command::Isakmp(Isakmp::Key {
                    key,
                    address: AddrTok::Ip(a),
                    netmask,
                    ..
                }) => {
                    let (a, m) = (*a, *netmask);
                    Some((
                        key,
                        Box::new(
                            move |t| matches!(t, OverlayTarget::IsakmpKey { address, netmask } if *address == a && *netmask == m),
                        ),
                    ))
                }
                Command::Vpngroup(v) => {
                    let g = v.group.clone();
                    match &mut v.attr {
                        VpngroupAttr::Password(p) => Some((
                            p,
                            Box::new(
                                move |t| matches!(t, OverlayTarget::VpngroupPassword(n) if *n == g),
                            ),
                        )),
                        _ => None,
                    }
                }
                Command::AaaServer(s) => {
                    let tag = s.tag.clone();
                    match &mut s.line {
                        AaaServerLine::Host {
                            address: AddrTok::Ip(h),
                            key: Some(k),
                            ..
                        } => {
                            let h = *h;
                            Some((
                                k,
                                Box::new(
                                    move |t| matches!(t, OverlayTarget::AaaServerKey { tag: tt, host } if *tt == tag && *host == h),
                                ),
                            ))
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some((value, matches)) = slot else {
                continue;
            };
            if !value.is_masked() {
                continue;
            }
            if let Some((i, e)) = overlay
                .entries
                .iter()
                .enumerate()
                .find(|(_, e)| matches(&e.target))
            {
                *value = SecretValue::Clear(Box::new(e.secret.duplicate()));
                if let Some(u) = used.get_mut(i) {
                    *u = true;
                }
            }
        }
        let mut diags: Vec<Diagnostic> = overlay
            .entries
            .iter()
            .zip(&used)
            .filter(|(e, u)| !**u && !matches!(e.target, OverlayTarget::Username(_)))
            .map(|(e, _)| {
                Diagnostic::new(
                    Severity::Warning,
                    0,
                    1,
                    1,
                    ConfigError::OverlayUnmatched {
                        entry: describe(&e.target),
                    },
                )
                .with_related(e.line, "overlay entry (line in the secrets file)")
            })
            .collect();
        diags.extend(self.masked_secret_notes());
        diags
    }

    /// A note for every secret still masked.
    pub fn masked_secret_notes(&self) -> Vec<Diagnostic> {
        let mut v = Vec::new();
        for (line, c) in self.iter() {
            let what = match c {
                Command::Isakmp(Isakmp::Key {
                    key: SecretValue::Masked,
                    address,
                    netmask,
                    ..
                }) => match netmask {
                    Some(m) => format!("isakmp key for {address} netmask {m}"),
                    None => format!("isakmp key for {address}"),
                },
                Command::Vpngroup(g)
                    if matches!(g.attr, VpngroupAttr::Password(SecretValue::Masked)) =>
                {
                    format!("vpngroup {} password", g.group)
                }
                Command::AaaServer(s)
                    if matches!(
                        s.line,
                        AaaServerLine::Host {
                            key: Some(SecretValue::Masked),
                            ..
                        }
                    ) =>
                {
                    format!("aaa-server {} key", s.tag)
                }
                _ => continue,
            };
            v.push(Diagnostic::new(
                Severity::Note,
                line,
                1,
                1,
                ConfigError::MaskedSecret { what },
            ));
        }
        v
    }
}
