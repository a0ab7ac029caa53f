//! `crypto ipsec ...`, `crypto map ...` and `crypto dynamic-map ...`.

use std::fmt::Write as _;

use crate::error::ConfigError;
use crate::lexer::{Cur, PErr};
use crate::model::AddrTok;

crate::interface::keyword_enum! {
    /// An IPsec transform of a transform-set.
    pub enum Transform {
        /// `esp-des` (56-bit DES: weak)
        EspDes = "esp-des",
        /// `esp-3des`
        Esp3des = "esp-3des",
        /// `esp-aes` (128-bit)
        EspAes = "esp-aes",
        /// `esp-aes-192`
        EspAes192 = "esp-aes-192",
        /// `esp-aes-256`
        EspAes256 = "esp-aes-256",
        /// `esp-null` (no encryption)
        EspNull = "esp-null",
        /// `esp-md5-hmac` (HMAC-MD5-96: weak)
        EspMd5Hmac = "esp-md5-hmac",
        /// `esp-sha-hmac` (HMAC-SHA1-96)
        EspShaHmac = "esp-sha-hmac",
        /// `ah-md5-hmac`
        AhMd5Hmac = "ah-md5-hmac",
        /// `ah-sha-hmac`
        AhShaHmac = "ah-sha-hmac",
    }
}

crate::interface::keyword_enum! {
    /// A Diffie-Hellman group as `set pfs` writes it.
    pub enum PfsGroup {
        /// `group1` (768-bit MODP: weak)
        Group1 = "group1",
        /// `group2` (1024-bit MODP)
        Group2 = "group2",
        /// `group5` (1536-bit MODP)
        Group5 = "group5",
    }
}

/// What a `crypto ipsec transform-set NAME` line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformSetLine {
    /// The transforms (one to three).
    Transforms(Vec<Transform>),
    /// `mode transport`
    ModeTransport,
}

/// `crypto ipsec transform-set NAME ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSet {
    /// Name.
    pub name: String,
    /// Transforms or mode.
    pub line: TransformSetLine,
}

/// A security-association lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaLifetime {
    /// `seconds N`
    Seconds(u32),
    /// `kilobytes N`
    Kilobytes(u32),
}

fn parse_lifetime(cur: &mut Cur<'_, '_>) -> Result<SaLifetime, PErr> {
    cur.expect_kw("lifetime")?;
    if cur.eat("seconds") {
        Ok(SaLifetime::Seconds(cur.u32(
            "a lifetime in seconds",
            120,
            2_147_483_647,
        )?))
    } else if cur.eat("kilobytes") {
        Ok(SaLifetime::Kilobytes(cur.u32(
            "a lifetime in kilobytes",
            2560,
            2_147_483_647,
        )?))
    } else {
        Err(cur.expected("`seconds` or `kilobytes`"))
    }
}

fn write_lifetime(out: &mut String, l: SaLifetime) {
    let _ = match l {
        SaLifetime::Seconds(s) => write!(out, "lifetime seconds {s}"),
        SaLifetime::Kilobytes(k) => write!(out, "lifetime kilobytes {k}"),
    };
}

/// `crypto ipsec security-association lifetime ...` (the global default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpsecGlobal {
    /// The lifetime.
    pub lifetime: SaLifetime,
}

/// Parse after `crypto ipsec`.
pub(crate) fn parse_crypto_ipsec(cur: &mut Cur<'_, '_>) -> Result<crate::Command, PErr> {
    if cur.eat("transform-set") {
        let name = cur.name("a transform-set name")?;
        let line = if cur.eat("mode") {
            cur.expect_kw("transport")?;
            TransformSetLine::ModeTransport
        } else {
            let mut v = Vec::new();
            while let Some(t) = cur.peek() {
                match Transform::from_keyword(t) {
                    Some(x) if v.len() < 3 => {
                        v.push(x);
                        cur.bump();
                    }
                    _ => return Err(cur.expected("a transform (esp-des, esp-3des, esp-aes, esp-aes-192, esp-aes-256, esp-null, esp-md5-hmac, esp-sha-hmac, ah-md5-hmac, ah-sha-hmac)")),
                }
            }
            if v.is_empty() {
                return Err(cur.expected("a transform"));
            }
            TransformSetLine::Transforms(v)
        };
        cur.finish("crypto ipsec transform-set")?;
        Ok(crate::Command::TransformSet(TransformSet { name, line }))
    } else if cur.eat("security-association") {
        let lifetime = parse_lifetime(cur)?;
        cur.finish("crypto ipsec security-association")?;
        Ok(crate::Command::IpsecGlobal(IpsecGlobal { lifetime }))
    } else {
        Err(cur.expected("`transform-set` or `security-association`"))
    }
}

impl TransformSet {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "crypto ipsec transform-set {}", self.name);
        match &self.line {
            TransformSetLine::Transforms(v) => {
                for t in v {
                    let _ = write!(out, " {}", t.as_str());
                }
            }
            TransformSetLine::ModeTransport => out.push_str(" mode transport"),
        }
    }
}

impl IpsecGlobal {
    pub(crate) fn write(&self, out: &mut String) {
        out.push_str("crypto ipsec security-association ");
        write_lifetime(out, self.lifetime);
    }
}

/// A `match`/`set` entry of a crypto map or dynamic map sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapSet {
    /// `match address ACL`
    MatchAddress(String),
    /// `set peer A`
    Peer(AddrTok),
    /// `set transform-set T1 [T2 ...]`
    TransformSets(Vec<String>),
    /// `set pfs [groupN]` (`None`: the default, group1).
    Pfs(Option<PfsGroup>),
    /// `set security-association lifetime ...`
    Lifetime(SaLifetime),
    /// Any other `set ...` (manual keying: `set session-key ...`), words verbatim.
    Other(Vec<String>),
}

fn parse_map_set(cur: &mut Cur<'_, '_>) -> Result<MapSet, PErr> {
    if cur.eat("match") {
        cur.expect_kw("address")?;
        return Ok(MapSet::MatchAddress(cur.name("an access-list id")?));
    }
    cur.expect_kw("set")?;
    if cur.eat("peer") {
        Ok(MapSet::Peer(cur.addr("a peer address")?))
    } else if cur.eat("transform-set") {
        let mut v = Vec::new();
        while let Some(t) = cur.peek() {
            if v.len() >= 6 {
                return Err(cur.err(ConfigError::Trailing {
                    command: "set transform-set",
                    found: t.to_owned(),
                }));
            }
            v.push(t.to_owned());
            cur.bump();
        }
        if v.is_empty() {
            return Err(cur.expected("a transform-set name"));
        }
        Ok(MapSet::TransformSets(v))
    } else if cur.eat("pfs") {
        match cur.peek() {
            None => Ok(MapSet::Pfs(None)),
            Some(t) => match PfsGroup::from_keyword(t) {
                Some(g) => {
                    cur.bump();
                    Ok(MapSet::Pfs(Some(g)))
                }
                None => Err(cur.expected("`group1`, `group2` or `group5`")),
            },
        }
    } else if cur.eat("security-association") {
        Ok(MapSet::Lifetime(parse_lifetime(cur)?))
    } else if cur.done() {
        Err(cur.expected("`peer`, `transform-set`, `pfs`, `security-association` or `session-key`"))
    } else {
        Ok(MapSet::Other(cur.rest_tokens()))
    }
}

fn write_map_set(out: &mut String, s: &MapSet) {
    let _ = match s {
        MapSet::MatchAddress(a) => write!(out, "match address {a}"),
        MapSet::Peer(p) => write!(out, "set peer {p}"),
        MapSet::TransformSets(v) => write!(out, "set transform-set {}", v.join(" ")),
        MapSet::Pfs(None) => write!(out, "set pfs"),
        MapSet::Pfs(Some(g)) => write!(out, "set pfs {}", g.as_str()),
        MapSet::Lifetime(l) => {
            out.push_str("set security-association ");
            write_lifetime(out, *l);
            Ok(())
        }
        MapSet::Other(w) => write!(out, "set {}", w.join(" ")),
    };
}

/// What a `crypto map NAME ...` line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoMapLine {
    /// `SEQ ipsec-isakmp [dynamic DYN]`
    IpsecIsakmp {
        /// Dynamic map name for `dynamic`.
        dynamic: Option<String>,
    },
    /// `SEQ ipsec-manual`
    IpsecManual,
    /// `SEQ match ...` / `SEQ set ...`
    Set(MapSet),
    /// `interface IF`
    Interface(String),
    /// `client authentication TAG` (Xauth against this AAA server group)
    ClientAuthentication(String),
    /// `client configuration address initiate|respond` (Mode Config push/pull)
    ClientConfiguration {
        /// `initiate` (true) or `respond`.
        initiate: bool,
    },
}

/// `crypto map NAME [SEQ] ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoMap {
    /// Map name.
    pub name: String,
    /// Sequence number (absent on `interface` and `client` lines).
    pub seq: Option<u32>,
    /// The line.
    pub line: CryptoMapLine,
}

/// Parse after `crypto map`.
pub(crate) fn parse_crypto_map(cur: &mut Cur<'_, '_>) -> Result<CryptoMap, PErr> {
    let name = cur.name("a crypto map name")?;
    let (seq, line) = if cur.eat("interface") {
        (
            None,
            CryptoMapLine::Interface(cur.name("an interface name")?),
        )
    } else if cur.eat("client") {
        if cur.eat("authentication") {
            (
                None,
                CryptoMapLine::ClientAuthentication(cur.name("an AAA server group tag")?),
            )
        } else if cur.eat("configuration") {
            cur.expect_kw("address")?;
            let initiate = if cur.eat("initiate") {
                true
            } else if cur.eat("respond") {
                false
            } else {
                return Err(cur.expected("`initiate` or `respond`"));
            };
            (None, CryptoMapLine::ClientConfiguration { initiate })
        } else {
            return Err(cur.expected("`authentication` or `configuration`"));
        }
    } else {
        let seq = cur.u32("a sequence number, `interface` or `client`", 1, 65535)?;
        let line = if cur.eat("ipsec-isakmp") {
            let dynamic = if cur.eat("dynamic") {
                Some(cur.name("a dynamic-map name")?)
            } else {
                None
            };
            CryptoMapLine::IpsecIsakmp { dynamic }
        } else if cur.eat("ipsec-manual") {
            CryptoMapLine::IpsecManual
        } else {
            CryptoMapLine::Set(parse_map_set(cur)?)
        };
        (Some(seq), line)
    };
    cur.finish("crypto map")?;
    Ok(CryptoMap { name, seq, line })
}

impl CryptoMap {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "crypto map {}", self.name);
        if let Some(s) = self.seq {
            let _ = write!(out, " {s}");
        }
        out.push(' ');
        let _ = match &self.line {
            CryptoMapLine::IpsecIsakmp { dynamic: None } => write!(out, "ipsec-isakmp"),
            CryptoMapLine::IpsecIsakmp { dynamic: Some(d) } => {
                write!(out, "ipsec-isakmp dynamic {d}")
            }
            CryptoMapLine::IpsecManual => write!(out, "ipsec-manual"),
            CryptoMapLine::Set(s) => {
                write_map_set(out, s);
                Ok(())
            }
            CryptoMapLine::Interface(i) => write!(out, "interface {i}"),
            CryptoMapLine::ClientAuthentication(t) => write!(out, "client authentication {t}"),
            CryptoMapLine::ClientConfiguration { initiate } => write!(
                out,
                "client configuration address {}",
                if *initiate { "initiate" } else { "respond" }
            ),
        };
    }
}

/// `crypto dynamic-map NAME SEQ match|set ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicMap {
    /// Dynamic map name.
    pub name: String,
    /// Sequence number.
    pub seq: u32,
    /// The entry.
    pub set: MapSet,
}

/// Parse after `crypto dynamic-map`.
pub(crate) fn parse_dynamic_map(cur: &mut Cur<'_, '_>) -> Result<DynamicMap, PErr> {
    let name = cur.name("a dynamic-map name")?;
    let seq = cur.u32("a sequence number", 1, 65535)?;
    let set = parse_map_set(cur)?;
    cur.finish("crypto dynamic-map")?;
    Ok(DynamicMap { name, seq, set })
}

impl DynamicMap {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "crypto dynamic-map {} {} ", self.name, self.seq);
        write_map_set(out, &self.set);
    }
}
