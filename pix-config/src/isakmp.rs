//! `isakmp ...`: IKE (phase 1) settings.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::lexer::{Cur, PErr};
use crate::model::AddrTok;
use crate::secret::SecretValue;

crate::interface::keyword_enum! {
    /// `isakmp policy P authentication ...`
    pub enum IkeAuth {
        /// `pre-share`
        PreShare = "pre-share",
        /// `rsa-sig`
        RsaSig = "rsa-sig",
    }
}

crate::interface::keyword_enum! {
    /// `isakmp policy P encryption ...`
    pub enum IkeEncryption {
        /// `des` (weak)
        Des = "des",
        /// `3des`
        TripleDes = "3des",
        /// `aes`
        Aes = "aes",
        /// `aes-192`
        Aes192 = "aes-192",
        /// `aes-256`
        Aes256 = "aes-256",
    }
}

crate::interface::keyword_enum! {
    /// `isakmp policy P hash ...`
    pub enum IkeHash {
        /// `md5` (weak)
        Md5 = "md5",
        /// `sha`
        Sha = "sha",
    }
}

/// One attribute of an `isakmp policy P` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyAttr {
    /// `authentication`
    Authentication(IkeAuth),
    /// `encryption`
    Encryption(IkeEncryption),
    /// `hash`
    Hash(IkeHash),
    /// `group 1|2|5` (DH group; 1 is weak)
    Group(u8),
    /// `lifetime SECONDS`
    Lifetime(u32),
}

/// An `isakmp` line.
#[derive(Debug, PartialEq, Eq)]
pub enum Isakmp {
    /// `isakmp enable IF`
    Enable(String),
    /// `isakmp key KEY address A [netmask M] [no-xauth] [no-config-mode]`
    Key {
        /// The pre-shared key (masked as `********` in `show run`).
        key: SecretValue,
        /// Peer address (`0.0.0.0` with netmask `0.0.0.0` is the wildcard key).
        address: AddrTok,
        /// Netmask, if written.
        netmask: Option<Ipv4Addr>,
        /// `no-xauth`
        no_xauth: bool,
        /// `no-config-mode`
        no_config_mode: bool,
    },
    /// `isakmp identity address|hostname|key-id ID`
    Identity(String),
    /// `isakmp policy P ...`
    Policy {
        /// Priority 1-65534.
        priority: u16,
        /// The attribute.
        attr: PolicyAttr,
    },
    /// `isakmp client configuration address-pool local POOL [IF]`
    ClientAddressPool {
        /// Pool name.
        pool: String,
        /// Interface, if written.
        interface: Option<String>,
    },
    /// `isakmp keepalive SECS [RETRY]`
    Keepalive {
        /// Seconds.
        seconds: u16,
        /// Retry seconds.
        retry: Option<u16>,
    },
    /// `isakmp nat-traversal [SECS]`
    NatTraversal(Option<u16>),
    /// Other `isakmp` forms (`am-disable`, `log N`, `peer ...`), words verbatim.
    Other(Vec<String>),
}

pub(crate) fn parse_isakmp(cur: &mut Cur<'_, '_>) -> Result<Isakmp, PErr> {
    let r = if cur.eat("enable") {
        Isakmp::Enable(cur.name("an interface name")?)
    } else if cur.eat("key") {
        let key = SecretValue::from_token(cur.word("a pre-shared key")?);
        cur.expect_kw("address")?;
        let address = cur.addr("a peer address")?;
        let netmask = if cur.eat("netmask") {
            Some(cur.mask(&address)?)
        } else {
            None
        };
        let mut no_xauth = false;
        let mut no_config_mode = false;
        loop {
            if cur.eat("no-xauth") {
                no_xauth = true;
            } else if cur.eat("no-config-mode") {
                no_config_mode = true;
            } else {
                break;
            }
        }
        Isakmp::Key {
            key,
            address,
            netmask,
            no_xauth,
            no_config_mode,
        }
    } else if cur.eat("identity") {
        let kind = cur
            .word("`address`, `hostname` or `key-id`")?
            .to_ascii_lowercase();
        match kind.as_str() {
            "address" | "hostname" => Isakmp::Identity(kind),
            "key-id" => Isakmp::Identity(format!("key-id {}", cur.word("a key id")?)),
            _ => {
                return Err(cur.err_prev(crate::ConfigError::Expected {
                    expected: "`address`, `hostname` or `key-id`".into(),
                    found: Some(kind),
                }))
            }
        }
    } else if cur.eat("policy") {
        let priority = cur.u16("a policy priority", 1, 65534)?;
        let attr = if cur.eat("authentication") {
            match cur.peek().and_then(IkeAuth::from_keyword) {
                Some(a) => {
                    cur.bump();
                    PolicyAttr::Authentication(a)
                }
                None => return Err(cur.expected("`pre-share` or `rsa-sig`")),
            }
        } else if cur.eat("encryption") {
            match cur.peek().and_then(IkeEncryption::from_keyword) {
                Some(a) => {
                    cur.bump();
                    PolicyAttr::Encryption(a)
                }
                None => return Err(cur.expected("`des`, `3des`, `aes`, `aes-192` or `aes-256`")),
            }
        } else if cur.eat("hash") {
            match cur.peek().and_then(IkeHash::from_keyword) {
                Some(a) => {
                    cur.bump();
                    PolicyAttr::Hash(a)
                }
                None => return Err(cur.expected("`md5` or `sha`")),
            }
        } else if cur.eat("group") {
            match cur.peek() {
                Some("1") => PolicyAttr::Group(1),
                Some("2") => PolicyAttr::Group(2),
                Some("5") => PolicyAttr::Group(5),
                _ => return Err(cur.expected("DH group 1, 2 or 5")),
            }
        } else if cur.eat("lifetime") {
            PolicyAttr::Lifetime(cur.u32("a lifetime in seconds", 60, 86400)?)
        } else {
            return Err(
                cur.expected("`authentication`, `encryption`, `hash`, `group` or `lifetime`")
            );
        };
        if matches!(attr, PolicyAttr::Group(_)) {
            cur.bump();
        }
        Isakmp::Policy { priority, attr }
    } else if cur.eat("client") {
        cur.expect_kw("configuration")?;
        cur.expect_kw("address-pool")?;
        cur.expect_kw("local")?;
        let pool = cur.name("a pool name")?;
        let interface = if cur.done() {
            None
        } else {
            Some(cur.name("an interface name")?)
        };
        Isakmp::ClientAddressPool { pool, interface }
    } else if cur.eat("keepalive") {
        let seconds = cur.u16("a keepalive interval", 10, 3600)?;
        let retry = if cur.done() {
            None
        } else {
            Some(cur.u16("a retry interval", 2, 10)?)
        };
        Isakmp::Keepalive { seconds, retry }
    } else if cur.eat("nat-traversal") {
        if cur.done() {
            Isakmp::NatTraversal(None)
        } else {
            Isakmp::NatTraversal(Some(cur.u16("a NAT keepalive interval", 10, 3600)?))
        }
    } else if cur.done() {
        return Err(cur.expected("an isakmp option"));
    } else {
        Isakmp::Other(cur.rest_tokens())
    };
    cur.finish("isakmp")?;
    Ok(r)
}

impl Isakmp {
    pub(crate) fn write(&self, out: &mut String, mask: bool) {
        out.push_str("isakmp ");
        let _ = match self {
            Isakmp::Enable(i) => write!(out, "enable {i}"),
            Isakmp::Key {
                key,
                address,
                netmask,
                no_xauth,
                no_config_mode,
            } => {
                let _ = write!(out, "key {} address {address}", key.token(mask));
                if let Some(m) = netmask {
                    let _ = write!(out, " netmask {m}");
                }
                if *no_xauth {
                    out.push_str(" no-xauth");
                }
                if *no_config_mode {
                    out.push_str(" no-config-mode");
                }
                Ok(())
            }
            Isakmp::Identity(i) => write!(out, "identity {i}"),
            Isakmp::Policy { priority, attr } => {
                let _ = write!(out, "policy {priority} ");
                match attr {
                    PolicyAttr::Authentication(a) => write!(out, "authentication {}", a.as_str()),
                    PolicyAttr::Encryption(e) => write!(out, "encryption {}", e.as_str()),
                    PolicyAttr::Hash(h) => write!(out, "hash {}", h.as_str()),
                    PolicyAttr::Group(g) => write!(out, "group {g}"),
                    PolicyAttr::Lifetime(l) => write!(out, "lifetime {l}"),
                }
            }
            Isakmp::ClientAddressPool { pool, interface } => {
                let _ = write!(out, "client configuration address-pool local {pool}");
                match interface {
                    Some(i) => write!(out, " {i}"),
                    None => Ok(()),
                }
            }
            Isakmp::Keepalive { seconds, retry } => {
                let _ = write!(out, "keepalive {seconds}");
                match retry {
                    Some(r) => write!(out, " {r}"),
                    None => Ok(()),
                }
            }
            Isakmp::NatTraversal(None) => write!(out, "nat-traversal"),
            Isakmp::NatTraversal(Some(s)) => write!(out, "nat-traversal {s}"),
            Isakmp::Other(w) => write!(out, "{}", w.join(" ")),
        };
    }
}
