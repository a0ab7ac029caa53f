//! `vpngroup NAME ...` (Cisco VPN Client group policy) and `ip local pool`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::error::ConfigError;
use crate::lexer::{parse_ip, Cur, PErr};
use crate::secret::SecretValue;

/// One `vpngroup NAME ATTR ...` line.
#[derive(Debug, PartialEq, Eq)]
pub enum VpngroupAttr {
    /// `address-pool POOL`
    AddressPool(String),
    /// `dns-server A [B]`
    DnsServer(Vec<Ipv4Addr>),
    /// `wins-server A [B]`
    WinsServer(Vec<Ipv4Addr>),
    /// `default-domain NAME`
    DefaultDomain(String),
    /// `split-tunnel ACL`
    SplitTunnel(String),
    /// `split-dns NAME ...`
    SplitDns(Vec<String>),
    /// `idle-time SECS`
    IdleTime(u32),
    /// `max-time SECS`
    MaxTime(u32),
    /// `password PW` (the group pre-shared key; `********` in `show run`)
    Password(SecretValue),
    /// `pfs`
    Pfs,
    /// `backup-server A ...` (empty list: `clear-client-cfg`)
    BackupServer(Vec<Ipv4Addr>),
    /// `authentication-server TAG`
    AuthenticationServer(String),
    /// `device-pass-through`
    DevicePassThrough,
    /// `secure-unit-authentication`
    SecureUnitAuthentication,
    /// `user-authentication`
    UserAuthentication,
    /// `user-idle-timeout SECS`
    UserIdleTimeout(u32),
}

/// `vpngroup NAME ATTR`
#[derive(Debug, PartialEq, Eq)]
pub struct Vpngroup {
    /// Group name (the VPN Client's group, its KEY_ID identity).
    pub group: String,
    /// The attribute.
    pub attr: VpngroupAttr,
}

fn ip_list(cur: &mut Cur<'_, '_>, max: usize) -> Result<Vec<Ipv4Addr>, PErr> {
    let mut v = Vec::new();
    while !cur.done() {
        if v.len() >= max {
            return Err(cur.err(ConfigError::Trailing {
                command: "vpngroup",
                found: cur.peek().unwrap_or("").to_owned(),
            }));
        }
        v.push(cur.ip("an IP address")?);
    }
    if v.is_empty() {
        return Err(cur.expected("an IP address"));
    }
    Ok(v)
}

pub(crate) fn parse_vpngroup(cur: &mut Cur<'_, '_>) -> Result<Vpngroup, PErr> {
    let group = cur.name("a group name")?;
    let kw = cur.word("a vpngroup attribute")?.to_ascii_lowercase();
    let attr = match kw.as_str() {
        "address-pool" => VpngroupAttr::AddressPool(cur.name("a pool name")?),
        "dns-server" => VpngroupAttr::DnsServer(ip_list(cur, 2)?),
        "wins-server" => VpngroupAttr::WinsServer(ip_list(cur, 2)?),
        "default-domain" => VpngroupAttr::DefaultDomain(cur.name("a domain name")?),
        "split-tunnel" => VpngroupAttr::SplitTunnel(cur.name("an access-list id")?),
        "split-dns" => {
            let v = cur.rest_tokens();
            if v.is_empty() || v.len() > 8 {
                return Err(cur.expected("one to eight domain names"));
            }
            VpngroupAttr::SplitDns(v)
        }
        "idle-time" => VpngroupAttr::IdleTime(cur.u32("an idle time in seconds", 60, 86400)?),
        "max-time" => VpngroupAttr::MaxTime(cur.u32("a maximum time in seconds", 0, 31_536_000)?),
        "password" => VpngroupAttr::Password(SecretValue::from_token(cur.word("a group password")?)),
        "pfs" => VpngroupAttr::Pfs,
        "backup-server" => {
            if cur.eat("clear-client-cfg") {
                VpngroupAttr::BackupServer(Vec::new())
            } else {
                VpngroupAttr::BackupServer(ip_list(cur, 10)?)
            }
        }
        "authentication-server" => VpngroupAttr::AuthenticationServer(cur.name("an AAA server group tag")?),
        "device-pass-through" => VpngroupAttr::DevicePassThrough,
        "secure-unit-authentication" => VpngroupAttr::SecureUnitAuthentication,
        "user-authentication" => VpngroupAttr::UserAuthentication,
        "user-idle-timeout" => VpngroupAttr::UserIdleTimeout(cur.u32("an idle timeout in seconds", 0, 86400)?),
        _ => {
            return Err(cur.err_prev(ConfigError::Expected {
                expected: "a vpngroup attribute (address-pool, dns-server, wins-server, default-domain, split-tunnel, split-dns, idle-time, max-time, password, pfs, backup-server, authentication-server, ...)".into(),
                found: Some(kw),
            }))
        }
    };
    cur.finish("vpngroup")?;
    Ok(Vpngroup { group, attr })
}

fn join_ips(v: &[Ipv4Addr]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Vpngroup {
    pub(crate) fn write(&self, out: &mut String, mask: bool) {
        let _ = write!(out, "vpngroup {} ", self.group);
        let _ = match &self.attr {
            VpngroupAttr::AddressPool(p) => write!(out, "address-pool {p}"),
            VpngroupAttr::DnsServer(v) => write!(out, "dns-server {}", join_ips(v)),
            VpngroupAttr::WinsServer(v) => write!(out, "wins-server {}", join_ips(v)),
            VpngroupAttr::DefaultDomain(d) => write!(out, "default-domain {d}"),
            VpngroupAttr::SplitTunnel(a) => write!(out, "split-tunnel {a}"),
            VpngroupAttr::SplitDns(v) => write!(out, "split-dns {}", v.join(" ")),
            VpngroupAttr::IdleTime(t) => write!(out, "idle-time {t}"),
            VpngroupAttr::MaxTime(t) => write!(out, "max-time {t}"),
            VpngroupAttr::Password(p) => write!(out, "password {}", p.token(mask)),
            VpngroupAttr::Pfs => write!(out, "pfs"),
            VpngroupAttr::BackupServer(v) if v.is_empty() => {
                write!(out, "backup-server clear-client-cfg")
            }
            VpngroupAttr::BackupServer(v) => write!(out, "backup-server {}", join_ips(v)),
            VpngroupAttr::AuthenticationServer(t) => write!(out, "authentication-server {t}"),
            VpngroupAttr::DevicePassThrough => write!(out, "device-pass-through"),
            VpngroupAttr::SecureUnitAuthentication => write!(out, "secure-unit-authentication"),
            VpngroupAttr::UserAuthentication => write!(out, "user-authentication"),
            VpngroupAttr::UserIdleTimeout(t) => write!(out, "user-idle-timeout {t}"),
        };
    }
}

/// `ip local pool NAME FIRST[-LAST] [mask M]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpLocalPool {
    /// Pool name.
    pub name: String,
    /// First address.
    pub first: Ipv4Addr,
    /// Last address (equal to `first` for a one-address pool).
    pub last: Ipv4Addr,
    /// `mask M`, if written.
    pub mask: Option<Ipv4Addr>,
}

impl IpLocalPool {
    /// Does the pool contain `ip`?
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&ip)
    }

    /// Number of addresses.
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.last))
            .saturating_sub(u64::from(u32::from(self.first)))
            .saturating_add(1)
    }

    /// Never empty (parsing rejects `first > last`); provided for API symmetry.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "ip local pool {} {}", self.name, self.first);
        if self.last != self.first {
            let _ = write!(out, "-{}", self.last);
        }
        if let Some(m) = self.mask {
            let _ = write!(out, " mask {m}");
        }
    }
}

pub(crate) fn parse_ip_local_pool(cur: &mut Cur<'_, '_>) -> Result<IpLocalPool, PErr> {
    let name = cur.name("a pool name")?;
    let Some(t) = cur.peek() else {
        return Err(cur.expected("an address range FIRST-LAST"));
    };
    let (a, b) = t.split_once('-').unwrap_or((t, t));
    let (Some(first), Some(last)) = (parse_ip(a), parse_ip(b)) else {
        return Err(cur.expected("an address range FIRST-LAST"));
    };
    if first > last {
        return Err(cur.err(ConfigError::EmptyRange {
            first: a.to_owned(),
            last: b.to_owned(),
        }));
    }
    cur.bump();
    let mask = if cur.eat("mask") {
        Some(cur.mask(&"`mask`")?)
    } else {
        None
    };
    cur.finish("ip local pool")?;
    Ok(IpLocalPool {
        name,
        first,
        last,
        mask,
    })
}
