//! The `trace` command: `input IFNAME PROTO SRC SPORT DST DPORT [--vpn-user USER]
//! [--format text|json]` (ASA `packet-tracer` word order; for ICMP
//! `input IFNAME icmp SRC TYPE CODE DST`).

use std::net::Ipv4Addr;
use std::time::Instant;

use pix_config::literal_names::{lookup_icmp, lookup_port, lookup_protocol, PortLookup};

use crate::engine::State;
use crate::error::{TraceArgsError, TraceError};
use crate::model::Firewall;
use crate::packet::Packet;
use crate::trace::Trace;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// packet-tracer text.
    #[default]
    Text,
    /// JSON (the `serde` feature).
    Json,
}

/// A parsed `trace` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRequest {
    /// The packet (decrypted for `--vpn-user`).
    pub packet: Packet,
    /// Output format.
    pub format: Format,
}

fn next<'a>(
    w: &mut std::slice::Iter<'a, &'a str>,
    what: &'static str,
) -> Result<&'a str, TraceArgsError> {
    w.next().copied().ok_or(TraceArgsError::Missing { what })
}

fn addr(s: &str, what: &'static str) -> Result<Ipv4Addr, TraceArgsError> {
    s.parse().map_err(|_| TraceArgsError::Invalid {
        what,
        found: s.to_owned(),
    })
}

fn port(s: &str, what: &'static str) -> Result<u16, TraceArgsError> {
    match lookup_port(s) {
        Some(PortLookup::Exact(p)) => Ok(p),
        Some(PortLookup::Abbreviation { port, .. }) => Ok(port),
        None => Err(TraceArgsError::Invalid {
            what,
            found: s.to_owned(),
        }),
    }
}

impl TraceRequest {
    /// Parse the words after the config file name.
    pub fn parse(words: &[&str]) -> Result<TraceRequest, TraceArgsError> {
        let mut plain = Vec::new();
        let mut user = None;
        let mut format = Format::Text;
        let mut it = words.iter();
        while let Some(w) = it.next() {
            match *w {
                "--vpn-user" => {
                    user = Some(next(&mut it, "a user name after --vpn-user")?.to_owned())
                }
                "--format" => {
                    format = match next(&mut it, "text or json after --format")? {
                        "text" => Format::Text,
                        "json" => Format::Json,
                        other => {
                            return Err(TraceArgsError::Invalid {
                                what: "text or json",
                                found: other.to_owned(),
                            })
                        }
                    }
                }
                other => plain.push(other),
            }
        }
        let mut w = plain.iter();
        let kw = next(&mut w, "`input`")?;
        if !kw.eq_ignore_ascii_case("input") {
            return Err(TraceArgsError::Invalid {
                what: "`input`",
                found: kw.to_owned(),
            });
        }
        let ifname = next(&mut w, "an interface name")?;
        let proto_w = next(&mut w, "a protocol (tcp, udp, icmp or a number)")?;
        let proto = lookup_protocol(proto_w).ok_or_else(|| TraceArgsError::Invalid {
            what: "a protocol (tcp, udp, icmp or a number)",
            found: proto_w.to_owned(),
        })?;
        let src = addr(next(&mut w, "a source address")?, "a source address")?;
        let mut packet = match proto {
            1 => {
                let ty_w = next(&mut w, "an ICMP type")?;
                let ty = lookup_icmp(ty_w).ok_or_else(|| TraceArgsError::Invalid {
                    what: "an ICMP type",
                    found: ty_w.to_owned(),
                })?;
                let code_w = next(&mut w, "an ICMP code")?;
                let code = code_w.parse::<u8>().map_err(|_| TraceArgsError::Invalid {
                    what: "an ICMP code 0-255",
                    found: code_w.to_owned(),
                })?;
                let dst = addr(
                    next(&mut w, "a destination address")?,
                    "a destination address",
                )?;
                Packet::icmp(ifname, src, ty, code, dst)
            }
            6 | 17 => {
                let sport = port(next(&mut w, "a source port")?, "a source port")?;
                let dst = addr(
                    next(&mut w, "a destination address")?,
                    "a destination address",
                )?;
                let dport = port(next(&mut w, "a destination port")?, "a destination port")?;
                if proto == 6 {
                    Packet::tcp(ifname, src, sport, dst, dport)
                } else {
                    Packet::udp(ifname, src, sport, dst, dport)
                }
            }
            n => {
                let dst = addr(
                    next(&mut w, "a destination address")?,
                    "a destination address",
                )?;
                Packet::other(ifname, n, src, dst)
            }
        };
        if let Some(extra) = w.next() {
            return Err(TraceArgsError::Trailing {
                found: (*extra).to_owned(),
            });
        }
        if let Some(u) = user {
            packet = packet.decrypted_for(&u);
        }
        Ok(TraceRequest { packet, format })
    }
}

/// Trace one packet through a fresh PIX running `config_text`. With a VPN user,
/// the client is first connected (Xauth user in uauth, its address routed to the
/// input interface), as it would be before its first decrypted packet.
pub fn trace(config_text: &str, req: &TraceRequest, now: Instant) -> Result<Trace, TraceError> {
    let fw = Firewall::from_text(config_text)?;
    let p = &req.packet;
    if fw.interface_index(&p.input).is_none() {
        return Err(TraceError::UnknownInterface(p.input.clone()));
    }
    let mut st = State::new();
    if let Some(u) = &p.vpn_user {
        st.vpn_connect(&fw, u, p.src, &p.input, now);
    }
    Ok(fw.trace(&st, p, now))
}

/// The whole command: parse `words`, trace, render in the requested format.
pub fn run_trace_command(
    config_text: &str,
    words: &[&str],
    now: Instant,
) -> Result<String, TraceError> {
    let req = TraceRequest::parse(words)?;
    let t = trace(config_text, &req, now)?;
    match req.format {
        Format::Text => Ok(t.render()),
        #[cfg(feature = "serde")]
        Format::Json => Ok(t.to_json()),
        #[cfg(not(feature = "serde"))]
        Format::Json => Err(TraceError::JsonUnavailable),
    }
}
