//! The parser driver: lines in, [`Config`] and [`Diagnostic`]s out.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::diagnostic::{Diagnostic, Severity};
use crate::error::ConfigError;
use rustc_hash::FxHashMap;

use crate::ident::{Ident, RawKey};
use crate::lexer::{
    is_blank, tokenize, tokenize_piece, trim_blank, trim_blank_end, trim_blank_start, Cur, PErr,
    Tok,
};
use crate::model::{Command, Config, Located};
use crate::object_group::{is_member_keyword, parse_member, GroupKind};
use crate::overlay::SecretsOverlay;
use crate::verbatim::Family;

/// Parser options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseOptions<'o> {
    /// Unknown commands are errors instead of warnings (`--strict`).
    pub strict: bool,
    /// Fill masked secrets (`********`) from this overlay.
    pub secrets: Option<&'o SecretsOverlay>,
}

/// The result of parsing: the model (always, even with errors) and every diagnostic.
#[derive(Debug)]
pub struct ParseOutcome {
    /// The configuration (lines with errors are kept verbatim as [`Command::Unknown`]).
    pub config: Config,
    /// All errors, warnings and notes, in line order.
    pub diagnostics: Vec<Diagnostic>,
}

impl ParseOutcome {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// State carried from line to line.
pub(crate) struct ParseState<'t> {
    /// The kind of every object-group defined on the lines read so far (first
    /// definition wins).
    kinds: FxHashMap<RawKey, GroupKind>,
    /// The kind of every object-group defined anywhere in the text (first definition
    /// wins), scanned only when a name is not among `kinds` (a group used above its
    /// definition, or not defined at all): the kind tells a service group from a
    /// network group after an ACL source address, and is taken from the whole text,
    /// not only the lines above, so that the parse does not depend on line order (the
    /// printer reorders). A `show run` defines groups above their uses, so the whole
    /// text is normally never scanned twice.
    all_kinds: OnceCell<FxHashMap<String, GroupKind>>,
    text: &'t str,
    /// Index in `commands` of the object-group whose members may follow.
    open_group: Option<usize>,
}

impl ParseState<'_> {
    pub(crate) fn group_kind(&self, name: &str) -> Option<GroupKind> {
        match self.kinds.get(&RawKey::new(name)) {
            Some(k) => Some(*k),
            None => self
                .all_kinds
                .get_or_init(|| prescan_groups(self.text))
                .get(name)
                .copied(),
        }
    }

    /// Note an `object-group KIND NAME` line (tokens as [`prescan_groups`] reads them).
    fn note_group(&mut self, toks: &[Tok<'_>]) {
        let [_, kind, name, ..] = toks else { return };
        let Some(kind) = group_kind_keyword(kind.text) else {
            return;
        };
        self.kinds.entry(RawKey::new(name.text)).or_insert(kind);
    }
}

fn group_kind_keyword(w: &str) -> Option<GroupKind> {
    if w.eq_ignore_ascii_case("network") {
        Some(GroupKind::Network)
    } else if w.eq_ignore_ascii_case("service") {
        Some(GroupKind::Service)
    } else if w.eq_ignore_ascii_case("protocol") {
        Some(GroupKind::Protocol)
    } else if w.eq_ignore_ascii_case("icmp-type") {
        Some(GroupKind::IcmpType)
    } else {
        None
    }
}

/// Decode bytes: UTF-8 when valid, otherwise Latin-1 (every byte is one character).
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// Parse bytes (UTF-8, or Latin-1 when not valid UTF-8). Diagnostics' columns are
/// counted in characters of the decoded text, which [`decode`] reproduces.
pub fn parse_bytes(bytes: &[u8], opts: &ParseOptions<'_>) -> ParseOutcome {
    parse_with(&decode(bytes), opts)
}

/// Parse with default options (lenient, no secrets overlay).
pub fn parse(text: &str) -> ParseOutcome {
    parse_with(text, &ParseOptions::default())
}

pub(crate) fn diag_from(line_no: u32, line: &str, e: PErr, severity: Severity) -> Diagnostic {
    let start = floor_char_boundary(line, e.start);
    let end = floor_char_boundary(line, e.start.saturating_add(e.len));
    let col = line.get(..start).map_or(0, |s| s.chars().count());
    let width = line.get(start..end).map_or(0, |s| s.chars().count());
    Diagnostic::new(
        severity,
        line_no,
        u32::try_from(col).unwrap_or(u32::MAX).saturating_add(1),
        u32::try_from(width).unwrap_or(u32::MAX),
        *e.error,
    )
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while i > 0 && !s.is_char_boundary(i) {
        i = i.saturating_sub(1);
    }
    i
}

/// Strip the CR of CRLF and the `<--- More --->` prompts the PIX pager leaves in front
/// of a line (as many as there are: a line of prompts alone is noise, so what is left
/// after them never starts with one, and printing it cannot turn it into noise).
fn clean_line(raw: &str) -> &str {
    let mut line = raw.strip_suffix('\r').unwrap_or(raw);
    while let Some(rest) = trim_blank_start(line).strip_prefix("<--- More --->") {
        line = rest;
    }
    line
}

/// Every `object-group KIND NAME` definition in the text, first one per name.
fn prescan_groups(text: &str) -> FxHashMap<String, GroupKind> {
    let mut kinds = FxHashMap::default();
    for raw in text.split('\n') {
        let line = trim_blank_start(clean_line(raw));
        let Some(head) = line.get(..12) else { continue };
        if !head.eq_ignore_ascii_case("object-group") {
            continue;
        }
        let mut words = line.split(is_blank).filter(|w| !w.is_empty());
        if !words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("object-group"))
        {
            continue;
        }
        let Some(kind) = words.next().and_then(group_kind_keyword) else {
            continue;
        };
        if let Some(name) = words.next() {
            kinds.entry(name.to_owned()).or_insert(kind);
        }
    }
    kinds
}

/// True for lines a terminal capture adds around a `show run`.
fn is_noise(first: &str, line: &str) -> bool {
    // fast path: configuration lines start with a lowercase keyword or `:`
    if first
        .as_bytes()
        .first()
        .is_some_and(|b| b.is_ascii_lowercase())
        && !first.ends_with('#')
        && !first.ends_with('>')
    {
        return false;
    }
    let t = trim_blank(line);
    t == "[OK]"
        || t.starts_with("Building configuration")
        || t.starts_with("Current configuration")
        || t.starts_with("--More--")
        || is_prompt(first)
}

/// `host#`, `host>`, `host(config)#`, `host(config-if)#`: a CLI prompt.
fn is_prompt(first: &str) -> bool {
    let Some(body) = first.strip_suffix('#').or_else(|| first.strip_suffix('>')) else {
        return false;
    };
    let host = match body.split_once('(') {
        Some((h, mode)) if mode.ends_with(')') => h,
        Some(_) => return false,
        None => body,
    };
    host.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The number of `\n` in `text`: chunks short enough for a byte counter, which the
/// compiler vectorizes (a `usize` per byte did not: it was 5% of a parse).
fn count_newlines(text: &str) -> usize {
    text.as_bytes()
        .chunks(255)
        .map(|c| {
            usize::from(
                c.iter()
                    .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n'))),
            )
        })
        .fold(0usize, usize::saturating_add)
}

/// Parse with options.
pub fn parse_with(text: &str, opts: &ParseOptions<'_>) -> ParseOutcome {
    let estimate = count_newlines(text).saturating_add(1);
    let mut commands = Commands::with_capacity(estimate);
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut st = ParseState {
        kinds: FxHashMap::default(),
        all_kinds: OnceCell::new(),
        text,
        open_group: None,
    };
    let mut toks: Vec<Tok<'_>> = Vec::with_capacity(32);
    let mut line_no: u32 = 0;
    let mut seen_groups: FxHashMap<Ident, u32> = FxHashMap::default();
    // The lines are the pieces of `text.split('\n')`, found while their tokens are
    // (one pass over the bytes instead of a newline search and then a token scan).
    let mut next: Option<usize> = Some(0);
    while let Some(from) = next {
        let newline = tokenize_piece(text, from, &mut toks);
        next = newline.map(|i| i.saturating_add(1));
        let raw = text.get(from..newline.unwrap_or(text.len())).unwrap_or("");
        line_no = line_no.saturating_add(1);
        let line = clean_line(raw);
        if !core::ptr::eq(line.as_ptr(), raw.as_ptr()) {
            // (a pager prompt in front: tokens are relative to the line after it)
            tokenize(line, &mut toks);
        }
        let Some(first) = toks.first().map(|t| t.text) else {
            continue;
        };
        if first.len() == 12 && first.eq_ignore_ascii_case("object-group") {
            st.note_group(&toks);
        }
        if is_noise(first, line) {
            diags.push(Diagnostic::new(
                Severity::Note,
                line_no,
                1,
                u32::try_from(trim_blank_end(line).chars().count()).unwrap_or(1),
                ConfigError::NoiseSkipped {
                    text: trim_blank(line).to_owned(),
                },
            ));
            st.open_group = None;
            continue;
        }
        let mut cur = Cur::new(line, &toks);
        // object-group members attach to the open group
        if is_member_keyword(first) {
            let group = st.open_group.and_then(|i| commands.list.get_mut(i));
            match group {
                Some(Located {
                    value: Command::ObjectGroup(g),
                    ..
                }) => match parse_member(&mut cur, g) {
                    Ok(m) => g.members.push(Located::new(line_no, m)),
                    Err(e) => {
                        // kept verbatim after the group (the group stays open, as
                        // on a PIX after a rejected member line)
                        let sev = severity_of(&e, Severity::Error, opts.strict);
                        diags.push(diag_from(line_no, line, e, sev));
                        commands.push(line_no, Command::Unknown(trim_blank(line).to_owned()));
                    }
                },
                _ => {
                    let e = cur.err(ConfigError::OutsideObjectGroup {
                        command: first.to_ascii_lowercase(),
                    });
                    diags.push(diag_from(line_no, line, e, Severity::Error));
                    commands.push(line_no, Command::Unknown(trim_blank(line).to_owned()));
                }
            }
            for w in cur.warnings.drain(..) {
                let sev = severity_of(&w, Severity::Warning, opts.strict);
                diags.push(diag_from(line_no, line, w, sev));
            }
            continue;
        }
        st.open_group = None;
        let result = dispatch(&mut cur, &st, opts.strict);
        for w in cur.warnings.drain(..) {
            let sev = severity_of(&w, Severity::Warning, opts.strict);
            diags.push(diag_from(line_no, line, w, sev));
        }
        match result {
            Ok(cmd) => {
                if let Command::ObjectGroup(g) = &cmd {
                    if let Some(first_line) = seen_groups.get(&g.name) {
                        diags.push(
                            diag_from(
                                line_no,
                                line,
                                PErr {
                                    start: toks.get(2).map_or(0, |t| t.start),
                                    len: g.name.len(),
                                    error: Box::new(ConfigError::Duplicate {
                                        kind: "object-group",
                                        name: g.name.to_string(),
                                        first_line: *first_line,
                                    }),
                                    soft: false,
                                },
                                Severity::Error,
                            )
                            .with_related(*first_line, "first defined here"),
                        );
                    } else {
                        seen_groups.insert(g.name.clone(), line_no);
                    }
                    st.open_group = Some(commands.list.len());
                }
                commands.push(line_no, cmd);
            }
            Err((e, severity)) => {
                let severity = severity_of(&e, severity, opts.strict);
                diags.push(diag_from(line_no, line, e, severity));
                commands.push(line_no, Command::Unknown(trim_blank(line).to_owned()));
            }
        }
    }
    let Commands {
        list,
        ranks,
        in_order,
        secrets,
        interfaces,
        ..
    } = commands;
    let mut config = Config {
        commands: if in_order {
            list
        } else {
            crate::printer::sort_show_run(list, &ranks)
        },
    };
    match opts.secrets {
        Some(ov) => diags.extend(config.apply_secrets(ov)),
        // (only these commands carry secrets that a dump masks)
        None if secrets => diags.extend(config.masked_secret_notes()),
        None => {}
    }
    diags.extend(crate::resolve::resolve(&config, text, interfaces));
    diags.sort_by_key(|d| (d.line, d.column));
    ParseOutcome {
        config,
        diagnostics: diags,
    }
}

/// The severity of a diagnostic: a soft one ([`PErr::soft`]: something a real dump
/// says that the model cannot represent) is an error only under `--strict`.
fn severity_of(e: &PErr, severity: Severity, strict: bool) -> Severity {
    match (e.soft, strict) {
        (true, true) => Severity::Error,
        (true, false) => Severity::Warning,
        (false, _) => severity,
    }
}

/// The commands as parsed, with what the passes after the parse need to know about
/// them, gathered while they are pushed (each pass over 200,000 commands costs
/// milliseconds).
struct Commands {
    list: Vec<Located<Command>>,
    /// `show run` rank of each command ([`crate::printer::rank`]).
    ranks: Vec<u8>,
    prev_rank: u8,
    /// The ranks never decrease: the list is in `show run` order already.
    in_order: bool,
    /// Some command can carry a masked secret (isakmp, vpngroup, aaa-server).
    secrets: bool,
    /// Some `interface` command (hardware ids are checked only then).
    interfaces: bool,
}

impl Commands {
    fn with_capacity(n: usize) -> Self {
        Commands {
            list: Vec::with_capacity(n),
            ranks: Vec::with_capacity(n),
            prev_rank: crate::printer::FIRST_RANK,
            in_order: true,
            secrets: false,
            interfaces: false,
        }
    }

    fn push(&mut self, line: u32, c: Command) {
        let r = crate::printer::rank(&c).unwrap_or(self.prev_rank);
        if r < self.prev_rank {
            self.in_order = false;
        }
        self.prev_rank = r;
        match &c {
            Command::Isakmp(_) | Command::Vpngroup(_) | Command::AaaServer(_) => {
                self.secrets = true
            }
            Command::Interface(_) => self.interfaces = true,
            _ => {}
        }
        self.ranks.push(r);
        self.list.push(Located::new(line, c));
    }
}

type DResult = Result<Command, (PErr, Severity)>;

fn hard<T>(r: Result<T, PErr>) -> Result<T, (PErr, Severity)> {
    r.map_err(|e| (e, Severity::Error))
}

/// Parse one command line (not a member line).
fn dispatch(cur: &mut Cur<'_, '_>, st: &ParseState, strict: bool) -> DResult {
    let Some(first) = cur.peek() else {
        return Ok(Command::Comment(String::new()));
    };
    // framing lines
    if let Some(rest) = first.strip_prefix(':') {
        let text = format!("{rest} {}", {
            cur.bump();
            cur.rest()
        });
        let text = trim_blank(&text);
        return Ok(match text {
            "Saved" => Command::Saved,
            "end" => Command::End,
            _ => Command::Comment(text.to_owned()),
        });
    }
    if let Some(rest) = first.strip_prefix("Cryptochecksum:") {
        cur.bump();
        let more = cur.rest_tokens().join(" ");
        let sum = format!("{rest} {more}");
        return Ok(Command::Cryptochecksum(trim_blank(&sum).to_owned()));
    }
    let kw_owned;
    let kw: &str = if first.bytes().any(|b| b.is_ascii_uppercase()) {
        kw_owned = first.to_ascii_lowercase();
        &kw_owned
    } else {
        first
    };
    if kw == "pix"
        && cur
            .peek_at(1)
            .is_some_and(|t| t.eq_ignore_ascii_case("version"))
    {
        cur.bump();
        cur.bump();
        return Ok(Command::Version(cur.rest().to_owned()));
    }
    cur.bump();
    let cmd = match kw {
        "access-list" => Command::AccessList(hard(crate::acl::parse_access_list(cur, st))?),
        "name" => Command::Name(hard(crate::name_command::parse_name(cur))?),
        "static" => Command::Static(Box::new(hard(crate::nat::parse_static(cur))?)),
        "route" => Command::Route(hard(crate::nat::parse_route(cur))?),
        "object-group" => Command::ObjectGroup(hard(crate::object_group::parse_object_group(cur))?),
        "interface" => Command::Interface(hard(crate::interface::parse_interface(cur))?),
        "nameif" => Command::Nameif(hard(crate::interface::parse_nameif(cur))?),
        "mtu" => Command::Mtu(hard(crate::interface::parse_mtu(cur))?),
        "hostname" => {
            let n = hard(cur.name("a host name"))?;
            hard(cur.finish("hostname"))?;
            Command::Hostname(n)
        }
        "domain-name" => {
            let n = hard(cur.name("a domain name"))?;
            hard(cur.finish("domain-name"))?;
            Command::DomainName(n)
        }
        "enable" => Command::EnablePassword(hard(crate::passwords::parse_enable(cur))?),
        "passwd" => Command::Passwd(hard(crate::passwords::parse_passwd(cur))?),
        "names" => {
            hard(cur.finish("names"))?;
            Command::Names(true)
        }
        "access-group" => Command::AccessGroup(hard(crate::acl::parse_access_group(cur))?),
        "conduit" => Command::Conduit(hard(crate::acl::parse_conduit(cur, st))?),
        "outbound" => Command::Outbound(hard(crate::acl::parse_outbound(cur))?),
        "apply" => Command::Apply(hard(crate::acl::parse_apply(cur))?),
        "global" => Command::Global(hard(crate::nat::parse_global(cur))?),
        "nat" => Command::Nat(Box::new(hard(crate::nat::parse_nat(cur))?)),
        "timeout" => Command::Timeout(hard(crate::timeout::parse_timeout(cur))?),
        "aaa-server" => Command::AaaServer(Box::new(hard(crate::aaa::parse_aaa_server(cur))?)),
        "aaa" if !cur.at("proxy-limit") => {
            Command::Aaa(Box::new(hard(crate::aaa::parse_aaa(cur))?))
        }
        "username" => Command::Username(hard(crate::aaa::parse_username(cur))?),
        "fixup" => Command::Fixup(hard(crate::fixup::parse_fixup(cur, true))?),
        "sysopt" => Command::Sysopt(hard(crate::fixup::parse_sysopt(cur, true))?),
        "logging" => Command::Logging(hard(crate::logging::parse_logging(cur, false))?),
        "fragment" => Command::Fragment(hard(crate::fragment::parse_fragment(cur, false))?),
        "isakmp" => Command::Isakmp(hard(crate::isakmp::parse_isakmp(cur))?),
        "vpngroup" => Command::Vpngroup(hard(crate::vpngroup::parse_vpngroup(cur))?),
        "crypto" => {
            if cur.eat("ipsec") {
                hard(crate::crypto::parse_crypto_ipsec(cur))?
            } else if cur.eat("map") {
                Command::CryptoMap(hard(crate::crypto::parse_crypto_map(cur))?)
            } else if cur.eat("dynamic-map") {
                Command::DynamicMap(hard(crate::crypto::parse_dynamic_map(cur))?)
            } else if cur.at("ca") {
                cur.bump();
                return Ok(Command::Known(crate::verbatim::parse_known(
                    cur,
                    false,
                    Family::CryptoCa,
                )));
            } else {
                return unknown(cur, "crypto", strict);
            }
        }
        "ip" => {
            if cur.eat("address") {
                Command::IpAddress(hard(crate::interface::parse_ip_address(cur))?)
            } else if cur.at("local")
                && cur
                    .peek_at(1)
                    .is_some_and(|t| t.eq_ignore_ascii_case("pool"))
            {
                cur.bump();
                cur.bump();
                Command::IpLocalPool(hard(crate::vpngroup::parse_ip_local_pool(cur))?)
            } else if cur.eat("audit") {
                Command::Known(crate::verbatim::parse_known(cur, false, Family::IpAudit))
            } else if cur.eat("verify") {
                Command::Known(crate::verbatim::parse_known(cur, false, Family::IpVerify))
            } else {
                return unknown(cur, "ip", strict);
            }
        }
        "no" => return dispatch_no(cur, strict),
        other => match Family::from_keyword(other) {
            Some(f) if !matches!(f, Family::IpAudit | Family::IpVerify) => {
                Command::Known(crate::verbatim::parse_known(cur, false, f))
            }
            _ => return unknown(cur, other, strict),
        },
    };
    Ok(cmd)
}

fn dispatch_no(cur: &mut Cur<'_, '_>, strict: bool) -> DResult {
    let Some(t) = cur.peek() else {
        return hard(Err(cur.expected("a command after `no`")));
    };
    let kw = t.to_ascii_lowercase();
    cur.bump();
    match kw.as_str() {
        "names" => {
            hard(cur.finish("no names"))?;
            Ok(Command::Names(false))
        }
        "fixup" => Ok(Command::Fixup(hard(crate::fixup::parse_fixup(cur, false))?)),
        "sysopt" => Ok(Command::Sysopt(hard(crate::fixup::parse_sysopt(
            cur, false,
        ))?)),
        "logging" => Ok(Command::Logging(hard(crate::logging::parse_logging(
            cur, true,
        ))?)),
        "fragment" => Ok(Command::Fragment(hard(crate::fragment::parse_fragment(
            cur, true,
        ))?)),
        "ip" if cur.eat("audit") => Ok(Command::Known(crate::verbatim::parse_known(
            cur,
            true,
            Family::IpAudit,
        ))),
        "ip" if cur.eat("verify") => Ok(Command::Known(crate::verbatim::parse_known(
            cur,
            true,
            Family::IpVerify,
        ))),
        _ => match Family::from_keyword(&kw) {
            Some(f) if !matches!(f, Family::IpAudit | Family::IpVerify) => {
                Ok(Command::Known(crate::verbatim::parse_known(cur, true, f)))
            }
            _ => unknown(cur, &format!("no {kw}"), strict),
        },
    }
}

fn unknown(cur: &mut Cur<'_, '_>, command: &str, strict: bool) -> DResult {
    let severity = if strict {
        Severity::Error
    } else {
        Severity::Warning
    };
    let line = cur.line;
    let start = line.len().saturating_sub(trim_blank_start(line).len());
    let first_len = line
        .split(is_blank)
        .find(|w| !w.is_empty())
        .map_or(0, str::len);
    let e = PErr {
        start,
        len: first_len,
        error: Box::new(ConfigError::UnknownCommand {
            command: command.to_owned(),
        }),
        soft: false,
    };
    // The caller keeps the line verbatim as `Command::Unknown` either way; the
    // severity decides whether it counts as an error.
    Err((e, severity))
}
