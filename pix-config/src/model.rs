//! The typed configuration model: [`Config`], one [`Command`] per configuration
//! command (object-groups carry their member lines), each [`Located`] at its line.

use core::fmt;
use std::net::Ipv4Addr;

use crate::aaa::{Aaa, AaaServer, Username};
use crate::acl::{AccessGroup, AccessList, Apply, Conduit, Outbound};
use crate::crypto::{CryptoMap, DynamicMap, IpsecGlobal, TransformSet};
use crate::fixup::{Fixup, Sysopt};
use crate::ident::Ident;
use crate::interface::{Interface, IpAddress, Mtu, Nameif};
use crate::isakmp::Isakmp;
use crate::name_command::Name;
use crate::nat::{Global, Nat, Route, Static};
use crate::object_group::ObjectGroup;
use crate::passwords::{EnablePassword, Passwd};
use crate::timeout::Timeout;
use crate::verbatim::Known;
use crate::vpngroup::{IpLocalPool, Vpngroup};

/// A value and the 1-based source line it came from.
///
/// Equality ignores the line: two configurations are equal when they say the same
/// thing, wherever it was written (this is what makes `parse(print(m)) == m` hold
/// even though printing renumbers lines).
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// 1-based line number in the parsed text (0 for values built in code).
    pub line: u32,
    /// The value.
    pub value: T,
}

impl<T> Located<T> {
    /// Wrap a value at a line.
    pub fn new(line: u32, value: T) -> Self {
        Located { line, value }
    }
}

impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Located<T> {}

/// An address where a PIX accepts either a literal or a `name`.
///
/// The token is kept as written so output round-trips; [`Config::resolve_addr`]
/// turns a name into its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AddrTok {
    /// A dotted-quad literal.
    Ip(Ipv4Addr),
    /// A name defined by a `name` command.
    Name(Ident),
}

impl fmt::Display for AddrTok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrTok::Ip(ip) => write!(f, "{ip}"),
            AddrTok::Name(n) => f.write_str(n),
        }
    }
}

/// A PIX duration written `h:mm:ss`, kept in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hms(pub u32);

impl fmt::Display for Hms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.0 / 3600;
        let m = (self.0 / 60) % 60;
        let s = self.0 % 60;
        write!(f, "{h}:{m:02}:{s:02}")
    }
}

impl Hms {
    /// Parse `h:mm:ss` (or `h:mm`).
    pub fn parse(t: &str) -> Option<Hms> {
        let mut parts = t.split(':');
        let h: u32 = parts.next()?.parse().ok()?;
        let m: u32 = parts.next()?.parse().ok()?;
        let s: u32 = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() || m > 59 || s > 59 || h > 1193 {
            return None;
        }
        h.checked_mul(3600)?
            .checked_add(m.checked_mul(60)?)?
            .checked_add(s)
            .map(Hms)
    }
}

/// One configuration command.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// `: Saved`
    Saved,
    /// A `:` comment line (text after the colon, trimmed).
    Comment(String),
    /// `PIX Version 6.3(3)` (the version string as written).
    Version(String),
    /// `Cryptochecksum:...`
    Cryptochecksum(String),
    /// `: end`
    End,
    /// `interface ...`
    Interface(Interface),
    /// `nameif ...`
    Nameif(Nameif),
    /// `ip address ...`
    IpAddress(IpAddress),
    /// `mtu ...`
    Mtu(Mtu),
    /// `hostname ...`
    Hostname(String),
    /// `domain-name ...`
    DomainName(String),
    /// `enable password ...`
    EnablePassword(EnablePassword),
    /// `passwd ...`
    Passwd(Passwd),
    /// `names` (true) / `no names` (false).
    Names(bool),
    /// `name ...`
    Name(Name),
    /// `object-group ...` with its member lines.
    ObjectGroup(ObjectGroup),
    /// `access-list ...`
    AccessList(AccessList),
    /// `access-group ...`
    AccessGroup(AccessGroup),
    /// `conduit ...`
    Conduit(Conduit),
    /// `outbound ...`
    Outbound(Outbound),
    /// `apply ...`
    Apply(Apply),
    /// `route ...`
    Route(Route),
    /// `global ...`
    Global(Global),
    /// `nat ...` (boxed, as are the other large variants: every command is as
    /// large as the largest variant, and a parse moves and stores hundreds of
    /// thousands of them)
    Nat(Box<Nat>),
    /// `static ...` (boxed)
    Static(Box<Static>),
    /// `timeout ...`
    Timeout(Timeout),
    /// `aaa-server ...` (boxed)
    AaaServer(Box<AaaServer>),
    /// `aaa ...` (boxed)
    Aaa(Box<Aaa>),
    /// `username ...`
    Username(Username),
    /// `[no] fixup protocol ...`
    Fixup(Fixup),
    /// `[no] sysopt ...`
    Sysopt(Sysopt),
    /// `crypto ipsec transform-set ...`
    TransformSet(TransformSet),
    /// `crypto ipsec security-association ...`
    IpsecGlobal(IpsecGlobal),
    /// `crypto map ...`
    CryptoMap(CryptoMap),
    /// `crypto dynamic-map ...`
    DynamicMap(DynamicMap),
    /// `isakmp ...`
    Isakmp(Isakmp),
    /// `vpngroup ...`
    Vpngroup(Vpngroup),
    /// `ip local pool ...`
    IpLocalPool(IpLocalPool),
    /// `[no] logging ...`
    Logging(crate::logging::Logging),
    /// `[no] fragment size|chain|timeout ...`
    Fragment(crate::fragment::Fragment),
    /// A command family the model keeps verbatim on purpose (snmp-server, ssh, ...).
    Known(Known),
    /// A command this parser does not know, verbatim (reported as a warning).
    Unknown(String),
}

/// A parsed configuration.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The commands in PIX `show run` order (stable within a family).
    pub commands: Vec<Located<Command>>,
}

impl Config {
    /// Iterate over the commands.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &Command)> {
        self.commands.iter().map(|c| (c.line, &c.value))
    }

    /// True when `names` is in effect (a `names` line and no later `no names`).
    pub fn names_enabled(&self) -> bool {
        let mut on = false;
        for (_, c) in self.iter() {
            if let Command::Names(b) = c {
                on = *b;
            }
        }
        on
    }

    /// Resolve an address token: a literal, or the address of a `name`.
    pub fn resolve_addr(&self, a: &AddrTok) -> Option<Ipv4Addr> {
        match a {
            AddrTok::Ip(ip) => Some(*ip),
            AddrTok::Name(n) => self.iter().find_map(|(_, c)| match c {
                Command::Name(name) if name.name == *n => Some(name.address),
                _ => None,
            }),
        }
    }

    /// The commands of one kind, as (line, value): `config.of(|c| match c {
    /// Command::Static(s) => Some(s), _ => None })`. The typed iterators below
    /// are this with the match written out.
    pub fn of<'a, T: 'a>(
        &'a self,
        pick: impl Fn(&'a Command) -> Option<&'a T> + 'a,
    ) -> impl Iterator<Item = (u32, &'a T)> + 'a {
        self.commands
            .iter()
            .filter_map(move |c| pick(&c.value).map(|v| (c.line, v)))
    }

    /// `static` commands.
    pub fn statics(&self) -> impl Iterator<Item = (u32, &Static)> {
        self.of(|c| match c {
            Command::Static(x) => Some(&**x),
            _ => None,
        })
    }

    /// `nat` commands.
    pub fn nats(&self) -> impl Iterator<Item = (u32, &Nat)> {
        self.of(|c| match c {
            Command::Nat(x) => Some(&**x),
            _ => None,
        })
    }

    /// `global` commands.
    pub fn globals(&self) -> impl Iterator<Item = (u32, &Global)> {
        self.of(|c| match c {
            Command::Global(x) => Some(x),
            _ => None,
        })
    }

    /// `route` commands.
    pub fn routes(&self) -> impl Iterator<Item = (u32, &Route)> {
        self.of(|c| match c {
            Command::Route(x) => Some(x),
            _ => None,
        })
    }

    /// `access-group` commands.
    pub fn access_groups(&self) -> impl Iterator<Item = (u32, &AccessGroup)> {
        self.of(|c| match c {
            Command::AccessGroup(x) => Some(x),
            _ => None,
        })
    }

    /// `ip local pool` commands.
    pub fn pools(&self) -> impl Iterator<Item = (u32, &IpLocalPool)> {
        self.of(|c| match c {
            Command::IpLocalPool(x) => Some(x),
            _ => None,
        })
    }

    /// `isakmp` commands.
    pub fn isakmp(&self) -> impl Iterator<Item = (u32, &Isakmp)> {
        self.of(|c| match c {
            Command::Isakmp(x) => Some(x),
            _ => None,
        })
    }

    /// `vpngroup` commands.
    pub fn vpngroups(&self) -> impl Iterator<Item = (u32, &Vpngroup)> {
        self.of(|c| match c {
            Command::Vpngroup(x) => Some(x),
            _ => None,
        })
    }

    /// `crypto map` commands.
    pub fn crypto_maps(&self) -> impl Iterator<Item = (u32, &CryptoMap)> {
        self.of(|c| match c {
            Command::CryptoMap(x) => Some(x),
            _ => None,
        })
    }

    /// `crypto dynamic-map` commands.
    pub fn dynamic_maps(&self) -> impl Iterator<Item = (u32, &DynamicMap)> {
        self.of(|c| match c {
            Command::DynamicMap(x) => Some(x),
            _ => None,
        })
    }

    /// `crypto ipsec transform-set` commands.
    pub fn transform_sets(&self) -> impl Iterator<Item = (u32, &TransformSet)> {
        self.of(|c| match c {
            Command::TransformSet(x) => Some(x),
            _ => None,
        })
    }

    /// `aaa-server` commands.
    pub fn aaa_servers(&self) -> impl Iterator<Item = (u32, &AaaServer)> {
        self.of(|c| match c {
            Command::AaaServer(x) => Some(&**x),
            _ => None,
        })
    }

    /// `aaa` commands.
    pub fn aaa(&self) -> impl Iterator<Item = (u32, &Aaa)> {
        self.of(|c| match c {
            Command::Aaa(x) => Some(&**x),
            _ => None,
        })
    }

    /// `sysopt connection permit-ipsec` is on.
    pub fn permit_ipsec(&self) -> bool {
        self.iter()
            .any(|(_, c)| matches!(c, Command::Sysopt(s) if s.is_permit_ipsec()))
    }

    /// The `nameif` entries, as (line, nameif).
    pub fn nameifs(&self) -> impl Iterator<Item = (u32, &Nameif)> {
        self.iter().filter_map(|(l, c)| match c {
            Command::Nameif(n) => Some((l, n)),
            _ => None,
        })
    }

    /// The security level of a named interface.
    pub fn security_level(&self, ifname: &str) -> Option<u8> {
        self.nameifs()
            .find(|(_, n)| n.name == ifname)
            .map(|(_, n)| n.security)
    }

    /// The static address and netmask of a named interface.
    pub fn interface_address(&self, ifname: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
        self.iter().find_map(|(_, c)| match c {
            Command::IpAddress(IpAddress {
                interface,
                kind: crate::interface::IpAddressKind::Static { address, mask },
            }) if interface == ifname => Some((*address, *mask)),
            _ => None,
        })
    }

    /// Lines of the access-list `id`, in order.
    pub fn access_list(&self, id: &str) -> impl Iterator<Item = (u32, &AccessList)> {
        let id = id.to_owned();
        self.iter().filter_map(move |(l, c)| match c {
            Command::AccessList(a) if a.id == id => Some((l, a)),
            _ => None,
        })
    }

    /// The object-group called `name`.
    pub fn object_group(&self, name: &str) -> Option<&ObjectGroup> {
        self.iter().find_map(|(_, c)| match c {
            Command::ObjectGroup(g) if g.name == name => Some(g),
            _ => None,
        })
    }

    /// Print the configuration in PIX `show run` order, secrets in clear
    /// (masked secrets stay `********`). `parse(to_pix_string())` gives back `self`.
    pub fn to_pix_string(&self) -> String {
        crate::printer::print(self, false)
    }

    /// Print as `show running-config` does: every secret shown as `********`.
    pub fn to_show_run_string(&self) -> String {
        crate::printer::print(self, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_stays_small() {
        // moved on every push and stored for every line (a 200,000-line config is
        // 200,000 of them): the large, rare variants are boxed
        let size = std::mem::size_of::<Command>();
        assert!(size <= 72, "Command is {size} bytes");
    }

    #[test]
    fn hms_round_trip() {
        for t in ["0:00:00", "3:00:00", "0:05:00", "1193:02:47"] {
            assert_eq!(Hms::parse(t).unwrap().to_string(), t);
        }
        assert_eq!(Hms::parse("1:00").unwrap(), Hms(3600));
        assert!(Hms::parse("1:60:00").is_none());
        assert!(Hms::parse("x:00:00").is_none());
        assert!(Hms::parse("1:00:00:00").is_none());
    }
}
