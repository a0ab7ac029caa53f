//! `aaa-server`, `aaa` and `username`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::acl::parse_paren_if;
use crate::lexer::{Cur, PErr};
use crate::model::AddrTok;
use crate::passwords::Password;
use crate::secret::SecretValue;

crate::interface::keyword_enum! {
    /// The protocol of an AAA server group.
    pub enum AaaProtocol {
        /// `tacacs+`
        Tacacs = "tacacs+",
        /// `radius`
        Radius = "radius",
        /// `local`
        Local = "local",
    }
}

/// What an `aaa-server` line says.
#[derive(Debug, PartialEq, Eq)]
pub enum AaaServerLine {
    /// `aaa-server TAG protocol P`
    Protocol(AaaProtocol),
    /// `aaa-server TAG (IF) host A [KEY] [timeout S]`
    Host {
        /// Interface the server is reached through.
        interface: String,
        /// Server address (literal or name).
        address: AddrTok,
        /// Shared key, if written (masked in `show run` output of later releases).
        key: Option<SecretValue>,
        /// Timeout in seconds, if written.
        timeout: Option<u32>,
    },
    /// `aaa-server TAG max-failed-attempts N`
    MaxFailedAttempts(u8),
    /// `aaa-server TAG deadtime N`
    Deadtime(u16),
    /// `aaa-server radius-acctport N` / `radius-authport N` (the tag field holds the keyword).
    RadiusPort(u16),
}

/// `aaa-server ...`
#[derive(Debug, PartialEq, Eq)]
pub struct AaaServer {
    /// Server group tag (or `radius-acctport` / `radius-authport`).
    pub tag: String,
    /// The line.
    pub line: AaaServerLine,
}

pub(crate) fn parse_aaa_server(cur: &mut Cur<'_, '_>) -> Result<AaaServer, PErr> {
    let tag = cur.name("a server group tag")?;
    if tag.eq_ignore_ascii_case("radius-acctport") || tag.eq_ignore_ascii_case("radius-authport") {
        let port = cur.u16("a port", 1, 65535)?;
        cur.finish("aaa-server")?;
        return Ok(AaaServer {
            tag: tag.to_ascii_lowercase(),
            line: AaaServerLine::RadiusPort(port),
        });
    }
    let line = if cur.eat("protocol") {
        match cur.peek().and_then(AaaProtocol::from_keyword) {
            Some(p) => {
                cur.bump();
                AaaServerLine::Protocol(p)
            }
            None => return Err(cur.expected("`tacacs+`, `radius` or `local`")),
        }
    } else if cur.eat("max-failed-attempts") {
        AaaServerLine::MaxFailedAttempts(cur.u8("a number of attempts", 1, 5)?)
    } else if cur.eat("deadtime") {
        AaaServerLine::Deadtime(cur.u16("a dead time in minutes", 0, 1440)?)
    } else {
        let interface = parse_paren_if(cur)?;
        cur.expect_kw("host")?;
        let address = cur.addr("a server address")?;
        let key = match cur.peek() {
            Some(t) if !t.eq_ignore_ascii_case("timeout") => {
                cur.bump();
                Some(SecretValue::from_token(t))
            }
            _ => None,
        };
        let timeout = if cur.eat("timeout") {
            Some(cur.u32("a timeout in seconds", 1, 30)?)
        } else {
            None
        };
        AaaServerLine::Host {
            interface,
            address,
            key,
            timeout,
        }
    };
    cur.finish("aaa-server")?;
    Ok(AaaServer { tag, line })
}

impl AaaServer {
    pub(crate) fn write(&self, out: &mut String, mask: bool) {
        let _ = write!(out, "aaa-server {}", self.tag);
        match &self.line {
            AaaServerLine::Protocol(p) => {
                let _ = write!(out, " protocol {}", p.as_str());
            }
            AaaServerLine::Host {
                interface,
                address,
                key,
                timeout,
            } => {
                let _ = write!(out, " ({interface}) host {address}");
                if let Some(k) = key {
                    let _ = write!(out, " {}", k.token(mask));
                }
                if let Some(t) = timeout {
                    let _ = write!(out, " timeout {t}");
                }
            }
            AaaServerLine::MaxFailedAttempts(n) => {
                let _ = write!(out, " max-failed-attempts {n}");
            }
            AaaServerLine::Deadtime(n) => {
                let _ = write!(out, " deadtime {n}");
            }
            AaaServerLine::RadiusPort(p) => {
                let _ = write!(out, " {p}");
            }
        }
    }
}

crate::interface::keyword_enum! {
    /// The first word after `aaa`.
    pub enum AaaKind {
        /// `authentication`
        Authentication = "authentication",
        /// `authorization`
        Authorization = "authorization",
        /// `accounting`
        Accounting = "accounting",
    }
}

/// What an `aaa` line applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AaaRule {
    /// `include|exclude SERVICE IF LOCAL LMASK FOREIGN FMASK [TAG]`
    Traffic {
        /// `include` (true) or `exclude`.
        include: bool,
        /// Service: `any`, `ftp`, `http`, `telnet`, `tcp/0`, `udp/53`, `icmp/8`, ...
        service: String,
        /// Interface name (or the old `inbound` / `outbound` keywords).
        interface: String,
        /// Local (higher-security side) address.
        local: Ipv4Addr,
        /// Its mask.
        local_mask: Ipv4Addr,
        /// Foreign address.
        foreign: Ipv4Addr,
        /// Its mask.
        foreign_mask: Ipv4Addr,
        /// Server group tag.
        tag: Option<String>,
    },
    /// `match ACL IF TAG`
    Match {
        /// Access-list id.
        acl: String,
        /// Interface name.
        interface: String,
        /// Server group tag.
        tag: String,
    },
    /// `serial|enable|telnet|ssh|http console TAG`
    Console {
        /// The console kind.
        console: String,
        /// Server group tag.
        tag: String,
    },
    /// Any other form (`secure-http-client`, `command LOCAL`, ...), words verbatim.
    Other(Vec<String>),
}

/// `aaa authentication|authorization|accounting ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aaa {
    /// Which AAA function.
    pub kind: AaaKind,
    /// The rule.
    pub rule: AaaRule,
}

/// `0` for `0.0.0.0`, as the PIX accepts it.
fn zip(cur: &mut Cur<'_, '_>, what: &str) -> Result<Ipv4Addr, PErr> {
    if cur.eat("0") {
        return Ok(Ipv4Addr::UNSPECIFIED);
    }
    cur.ip(what)
}

fn zmask(cur: &mut Cur<'_, '_>, after: Ipv4Addr) -> Result<Ipv4Addr, PErr> {
    if cur.eat("0") {
        return Ok(Ipv4Addr::UNSPECIFIED);
    }
    cur.mask(&after)
}

pub(crate) fn parse_aaa(cur: &mut Cur<'_, '_>) -> Result<Aaa, PErr> {
    if cur.at("proxy-limit") {
        // `aaa proxy-limit N` has no kind; keep it as authentication/Other? No: model it
        // as Other under Authentication would be wrong, so reject into the verbatim path.
        return Err(cur.expected("`authentication`, `authorization` or `accounting`"));
    }
    let Some(kind) = cur.peek().and_then(AaaKind::from_keyword) else {
        return Err(cur.expected("`authentication`, `authorization` or `accounting`"));
    };
    cur.bump();
    let rule = if cur.at("include") || cur.at("exclude") {
        let include = cur.eat("include");
        if !include {
            cur.bump();
        }
        let service = cur
            .name("a service (any, ftp, http, telnet, tcp/0, ...)")?
            .to_ascii_lowercase();
        let interface = cur.name("an interface name")?;
        let local = zip(cur, "a local address")?;
        let local_mask = zmask(cur, local)?;
        let foreign = zip(cur, "a foreign address")?;
        let foreign_mask = zmask(cur, foreign)?;
        let tag = if cur.done() {
            None
        } else {
            Some(cur.name("a server group tag")?)
        };
        AaaRule::Traffic {
            include,
            service,
            interface,
            local,
            local_mask,
            foreign,
            foreign_mask,
            tag,
        }
    } else if cur.eat("match") {
        let acl = cur.name("an access-list id")?;
        let interface = cur.name("an interface name")?;
        let tag = cur.name("a server group tag")?;
        AaaRule::Match {
            acl,
            interface,
            tag,
        }
    } else if cur
        .peek_at(1)
        .is_some_and(|t| t.eq_ignore_ascii_case("console"))
    {
        let console = cur.name("a console kind")?.to_ascii_lowercase();
        cur.bump();
        let tag = cur.name("a server group tag")?;
        AaaRule::Console { console, tag }
    } else {
        let words = cur.rest_tokens();
        if words.is_empty() {
            return Err(cur.expected("`include`, `exclude`, `match` or a console"));
        }
        AaaRule::Other(words)
    };
    cur.finish("aaa")?;
    Ok(Aaa { kind, rule })
}

impl Aaa {
    /// The server group tag this line uses, if any.
    pub fn tag(&self) -> Option<&str> {
        match &self.rule {
            AaaRule::Traffic { tag, .. } => tag.as_deref(),
            AaaRule::Match { tag, .. } | AaaRule::Console { tag, .. } => Some(tag),
            AaaRule::Other(_) => None,
        }
    }

    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "aaa {}", self.kind.as_str());
        let _ = match &self.rule {
            AaaRule::Traffic {
                include,
                service,
                interface,
                local,
                local_mask,
                foreign,
                foreign_mask,
                tag,
            } => {
                let ie = if *include { "include" } else { "exclude" };
                let _ = write!(
                    out,
                    " {ie} {service} {interface} {local} {local_mask} {foreign} {foreign_mask}"
                );
                match tag {
                    Some(t) => write!(out, " {t}"),
                    None => Ok(()),
                }
            }
            AaaRule::Match {
                acl,
                interface,
                tag,
            } => write!(out, " match {acl} {interface} {tag}"),
            AaaRule::Console { console, tag } => write!(out, " {console} console {tag}"),
            AaaRule::Other(w) => write!(out, " {}", w.join(" ")),
        };
    }
}

/// `username NAME password PW [encrypted] [privilege N]` / `username NAME nopassword [privilege N]`
#[derive(Debug, PartialEq, Eq)]
pub struct Username {
    /// User name.
    pub name: String,
    /// Password (`None` for `nopassword`). For `encrypted` the hash is kept as
    /// written; 6.3 user hashes are not verified here.
    pub password: Option<Password>,
    /// Privilege level, if written.
    pub privilege: Option<u8>,
}

pub(crate) fn parse_username(cur: &mut Cur<'_, '_>) -> Result<Username, PErr> {
    let name = cur.name("a user name")?;
    let password = if cur.eat("nopassword") {
        None
    } else {
        cur.expect_kw("password")?;
        let v = cur.word("a password")?;
        let enc = cur.eat("encrypted");
        Some(Password::parse_with_flag(
            cur,
            v,
            enc,
            &format!("the password hash of user {name}"),
        )?)
    };
    let privilege = if cur.eat("privilege") {
        Some(cur.u8("a privilege level", 0, 15)?)
    } else {
        None
    };
    cur.finish("username")?;
    Ok(Username {
        name,
        password,
        privilege,
    })
}

impl Username {
    pub(crate) fn write(&self, out: &mut String, mask: bool) {
        let _ = write!(out, "username {}", self.name);
        match &self.password {
            None => out.push_str(" nopassword"),
            Some(p) => {
                out.push_str(" password ");
                p.write_value(out, mask);
                if p.encrypted() {
                    out.push_str(" encrypted");
                }
            }
        }
        if let Some(l) = self.privilege {
            let _ = write!(out, " privilege {l}");
        }
    }
}
