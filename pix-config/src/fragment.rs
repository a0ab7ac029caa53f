//! `[no] fragment size|chain|timeout N [IF]` and the data-plane settings a gateway
//! reads from a configuration: [`Config::fragment`], [`Config::tcp_mss`],
//! [`Config::mtu`].
//!
//! PIX 6.3 command reference, `fragment`: `size` is the number of packets the
//! reassembly database holds (default 200, at most 1,000,000), `chain` the number of
//! fragments one packet may have (default 24, at most 8200), `timeout` the seconds a
//! packet may wait for its fragments after the first arrives (default 5, at most 30).
//! Without an interface a line applies to every interface. `no fragment ...` puts the
//! default back.

use std::fmt::Write as _;

use crate::lexer::{Cur, PErr};
use crate::model::{Command, Config};

crate::interface::keyword_enum! {
    /// Which limit a `fragment` line sets.
    pub enum FragmentKind {
        /// `size`: packets in the reassembly database.
        Size = "size",
        /// `chain`: fragments per packet.
        Chain = "chain",
        /// `timeout`: seconds to wait for the rest of a packet.
        Timeout = "timeout",
    }
}

impl FragmentKind {
    /// The PIX 6.3 default.
    pub fn default_value(self) -> u32 {
        match self {
            FragmentKind::Size => DEFAULT_FRAGMENT_SIZE,
            FragmentKind::Chain => DEFAULT_FRAGMENT_CHAIN,
            FragmentKind::Timeout => DEFAULT_FRAGMENT_TIMEOUT,
        }
    }

    /// The largest value a PIX 6.3 accepts.
    pub fn max(self) -> u32 {
        match self {
            FragmentKind::Size => 1_000_000,
            FragmentKind::Chain => 8200,
            FragmentKind::Timeout => 30,
        }
    }

    fn what(self) -> &'static str {
        match self {
            FragmentKind::Size => "a fragment database size (packets)",
            FragmentKind::Chain => "a fragment chain limit (fragments per packet)",
            FragmentKind::Timeout => "a fragment timeout (seconds)",
        }
    }
}

/// Default `fragment size` (packets awaiting reassembly).
pub const DEFAULT_FRAGMENT_SIZE: u32 = 200;
/// Default `fragment chain` (fragments per packet).
pub const DEFAULT_FRAGMENT_CHAIN: u32 = 24;
/// Default `fragment timeout` in seconds.
pub const DEFAULT_FRAGMENT_TIMEOUT: u32 = 5;
/// Default `sysopt connection tcpmss` (bytes).
pub const DEFAULT_TCP_MSS: u16 = 1380;
/// Default interface MTU.
pub const DEFAULT_MTU: u16 = 1500;

/// `[no] fragment KIND [N] [IF]` (the value is optional only after `no`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Written with a leading `no` (back to the default).
    pub no: bool,
    /// Which limit.
    pub kind: FragmentKind,
    /// The value (1..=max of the kind).
    pub value: Option<u32>,
    /// The interface, when the line names one (otherwise: every interface).
    pub interface: Option<String>,
}

pub(crate) fn parse_fragment(cur: &mut Cur<'_, '_>, no: bool) -> Result<Fragment, PErr> {
    let Some(kind) = cur.peek().and_then(FragmentKind::from_keyword) else {
        return Err(cur.expected("`size`, `chain` or `timeout`"));
    };
    cur.bump();
    let value = match cur.peek() {
        Some(t) if t.bytes().all(|b| b.is_ascii_digit()) => {
            Some(cur.u32(kind.what(), 1, kind.max())?)
        }
        _ if no => None,
        _ => return Err(cur.expected(kind.what())),
    };
    let interface = match cur.peek() {
        Some(_) => Some(cur.name("an interface name")?),
        None => None,
    };
    cur.finish("fragment")?;
    Ok(Fragment {
        no,
        kind,
        value,
        interface,
    })
}

impl Fragment {
    pub(crate) fn write(&self, out: &mut String) {
        if self.no {
            out.push_str("no ");
        }
        let _ = write!(out, "fragment {}", self.kind.as_str());
        if let Some(v) = self.value {
            let _ = write!(out, " {v}");
        }
        if let Some(i) = &self.interface {
            let _ = write!(out, " {i}");
        }
    }
}

/// The reassembly limits of one interface ([`Config::fragment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentSettings {
    /// `fragment size`: packets awaiting reassembly (default 200).
    pub size: u32,
    /// `fragment chain`: fragments per packet (default 24).
    pub chain: u32,
    /// `fragment timeout`: seconds (default 5).
    pub timeout_secs: u32,
}

impl Default for FragmentSettings {
    fn default() -> Self {
        FragmentSettings {
            size: DEFAULT_FRAGMENT_SIZE,
            chain: DEFAULT_FRAGMENT_CHAIN,
            timeout_secs: DEFAULT_FRAGMENT_TIMEOUT,
        }
    }
}

/// `sysopt connection tcpmss [minimum] N` ([`Config::tcp_mss`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpMss {
    /// The largest MSS a TCP SYN may carry through the PIX: `None` when clamping is off
    /// (`sysopt connection tcpmss 0`); 1380 when no line sets it.
    pub maximum: Option<u16>,
    /// `sysopt connection tcpmss minimum N`: the smallest MSS (raised to it); `None`
    /// (the default) when off or 0.
    pub minimum: Option<u16>,
}

impl Default for TcpMss {
    fn default() -> Self {
        TcpMss {
            maximum: Some(DEFAULT_TCP_MSS),
            minimum: None,
        }
    }
}

impl Config {
    /// The `fragment` lines, as (line, value).
    pub fn fragment_lines(&self) -> impl Iterator<Item = (u32, &Fragment)> {
        self.of(|c| match c {
            Command::Fragment(x) => Some(x),
            _ => None,
        })
    }

    /// The reassembly limits of interface `ifname`: every `fragment` line without an
    /// interface or naming `ifname`, in order, later lines overriding earlier ones;
    /// a `no` line puts the default back. Defaults: size 200, chain 24, timeout 5 s.
    pub fn fragment(&self, ifname: &str) -> FragmentSettings {
        let mut s = FragmentSettings::default();
        for (_, f) in self.fragment_lines() {
            if f.interface.as_deref().is_some_and(|i| i != ifname) {
                continue;
            }
            let v = match (f.no, f.value) {
                (false, Some(v)) => v,
                _ => f.kind.default_value(),
            };
            match f.kind {
                FragmentKind::Size => s.size = v,
                FragmentKind::Chain => s.chain = v,
                FragmentKind::Timeout => s.timeout_secs = v,
            }
        }
        s
    }

    /// `sysopt connection tcpmss [minimum] N`, the last line of each form winning.
    /// Default: maximum 1380 bytes, no minimum. `N = 0` turns the form off; a `no`
    /// line puts its default back.
    pub fn tcp_mss(&self) -> TcpMss {
        let mut m = TcpMss::default();
        for (_, c) in self.iter() {
            let Command::Sysopt(s) = c else { continue };
            let w: Vec<&str> = s.words.iter().map(String::as_str).collect();
            match (s.enabled, w.as_slice()) {
                (true, ["connection", "tcpmss", "minimum", n]) => {
                    m.minimum = n.parse::<u16>().ok().filter(|&n| n > 0);
                }
                (true, ["connection", "tcpmss", n]) => {
                    m.maximum = n.parse::<u16>().ok().filter(|&n| n > 0);
                }
                (false, ["connection", "tcpmss", "minimum", ..]) => m.minimum = None,
                (false, ["connection", "tcpmss", ..]) => m.maximum = Some(DEFAULT_TCP_MSS),
                _ => {}
            }
        }
        m
    }

    /// The MTU of interface `ifname` (its last `mtu` line; default 1500).
    pub fn mtu(&self, ifname: &str) -> u16 {
        self.iter()
            .filter_map(|(_, c)| match c {
                Command::Mtu(m) if m.interface == ifname => Some(m.bytes),
                _ => None,
            })
            .last()
            .unwrap_or(DEFAULT_MTU)
    }
}
