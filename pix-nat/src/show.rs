//! `show xlate`, `show conn`, `show uauth` and `show local-host` in PIX 6.3 format
//! over a given state.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Instant;

use crate::conn::{Conn, TcpState};
use crate::engine::State;
use crate::model::Firewall;
use crate::nat::{ip, StaticReal};
use crate::packet::Proto;
use crate::uauth::UauthVia;
use crate::xlate::{Xlate, XlateKind};

fn hms(secs: u64) -> String {
    format!("{}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
}

fn xlate_line(x: &Xlate) -> String {
    match (x.kind, x.pat) {
        (XlateKind::Pat, Some((_, lp, gp))) => {
            format!("PAT Global {}({gp}) Local {}({lp})", x.global, x.local)
        }
        _ => format!("Global {} Local {}", x.global, x.local),
    }
}

/// Static translations (permanent xlates) as `show xlate` lists them.
fn static_lines(fw: &Firewall) -> Vec<(Ipv4Addr, String)> {
    fw.statics
        .rules()
        .iter()
        .filter_map(|s| match s.real {
            StaticReal::Address(real) => Some((ip(real), s)),
            StaticReal::Policy(_) => None,
        })
        .map(|(real, s)| {
            let line = match s.proto {
                Some(p) => format!(
                    "PAT Global {}({}) Local {}({}) static{}",
                    ip(s.mapped),
                    s.mapped_port,
                    real,
                    s.real_port,
                    if p == 17 { " udp" } else { "" }
                ),
                None if s.mask != u32::MAX => format!(
                    "Global {} Local {} static netmask {}",
                    ip(s.mapped),
                    real,
                    ip(s.mask)
                ),
                None => format!("Global {} Local {} static", ip(s.mapped), real),
            };
            (real, line)
        })
        .collect()
}

/// `show xlate`: statics first (permanent), then dynamic slots in creation order.
pub fn show_xlate(fw: &Firewall, st: &State) -> String {
    let statics = static_lines(fw);
    let n = statics.len().saturating_add(st.xlates.len());
    let most = statics.len().saturating_add(st.xlates.most_used());
    let mut out = format!("{n} in use, {most} most used\n");
    for (_, l) in &statics {
        let _ = writeln!(out, "{l}");
    }
    for x in st.xlates.iter() {
        let _ = writeln!(out, "{}", xlate_line(x));
    }
    out
}

fn conn_flags(c: &Conn) -> String {
    match c.proto {
        Proto::Tcp => {
            let mut f = String::new();
            if c.inbound {
                f.push('B');
            }
            match c.tcp {
                TcpState::Embryonic => f.push_str("saA"),
                TcpState::Established | TcpState::HalfClosed(..) => {
                    f.push('U');
                    if c.bytes_fwd > 0 || c.bytes_rev > 0 {
                        if (c.inbound && c.bytes_fwd > 0) || (!c.inbound && c.bytes_rev > 0) {
                            f.push('I');
                        }
                        if (c.inbound && c.bytes_rev > 0) || (!c.inbound && c.bytes_fwd > 0) {
                            f.push('O');
                        }
                    }
                    if let TcpState::HalfClosed(a, b) = c.tcp {
                        // f: FIN from the foreign side, r: from the local side
                        let (from_local, from_foreign) = if c.inbound { (b, a) } else { (a, b) };
                        if from_foreign {
                            f.push('f');
                        }
                        if from_local {
                            f.push('r');
                        }
                    }
                }
            }
            f
        }
        _ => "-".to_owned(),
    }
}

fn conn_line(c: &Conn, now: Instant) -> String {
    let ((l, lp), (f, fp)) = c.local_foreign();
    let idle = now.saturating_duration_since(c.last).as_secs();
    let proto = match c.proto {
        Proto::Tcp => "TCP".to_owned(),
        Proto::Udp => "UDP".to_owned(),
        other => format!("{}", other.number()),
    };
    let bytes = c.bytes_fwd.saturating_add(c.bytes_rev);
    match c.proto {
        Proto::Tcp => format!(
            "{proto} out {f}:{fp} in {l}:{lp} idle {} Bytes {bytes} flags {}",
            hms(idle),
            conn_flags(c)
        ),
        Proto::Udp => format!(
            "{proto} out {f}:{fp} in {l}:{lp} idle {} flags {}",
            hms(idle),
            conn_flags(c)
        ),
        _ => format!(
            "{proto} out {f} in {l} idle {} flags {}",
            hms(idle),
            conn_flags(c)
        ),
    }
}

/// `show conn`.
pub fn show_conn(st: &State, now: Instant) -> String {
    let mut out = format!(
        "{} in use, {} most used\n",
        st.conns.len(),
        st.conns.most_used()
    );
    for c in st.conns.iter() {
        let _ = writeln!(out, "{}", conn_line(c, now));
    }
    out
}

fn uauth_lines(
    fw: &Firewall,
    st: &State,
    addr: Option<Ipv4Addr>,
    now: Instant,
    indent: &str,
) -> String {
    let mut out = String::new();
    let t = fw.uauth_timeout();
    for e in st
        .uauth
        .entries()
        .iter()
        .filter(|e| addr.is_none_or(|a| a == e.addr))
    {
        match e.via {
            UauthVia::Ipsec => {
                let _ = writeln!(
                    out,
                    "{indent}ipsec user '{}' at {}, authenticated",
                    e.user, e.addr
                );
            }
            UauthVia::CutThrough => {
                let _ = writeln!(
                    out,
                    "{indent}user '{}' at {}, authenticated",
                    e.user, e.addr
                );
                let left = |base: Instant| {
                    base.checked_add(t.duration)
                        .map_or(0, |d| d.saturating_duration_since(now).as_secs())
                };
                let (abs, ina) = if t.inactivity {
                    (0, left(e.last_used))
                } else {
                    (left(e.since), 0)
                };
                let _ = writeln!(out, "{indent}   absolute   timeout: {}", hms(abs));
                let _ = writeln!(out, "{indent}   inactivity timeout: {}", hms(ina));
            }
        }
    }
    out
}

/// `show uauth` (the seed's output for one Xauth user:
/// `ipsec user 'cisco_customer' at 10.89.129.200, authenticated`).
pub fn show_uauth(fw: &Firewall, st: &State, now: Instant) -> String {
    let (cur, most) = st.uauth.users();
    let (ip_cur, ip_most) = st.uauth.in_progress();
    let mut out = String::new();
    out.push_str("                        Current    Most Seen\n");
    let _ = writeln!(out, "{:<26}{:<11}{}", "Authenticated Users", cur, most);
    let _ = writeln!(out, "{:<26}{:<11}{}", "Authen In Progress", ip_cur, ip_most);
    out.push_str(&uauth_lines(fw, st, None, now, ""));
    out
}

/// `show local-host`: per higher-security interface, each local host with an xlate
/// or connection, its counts, uauth entry, xlates and connections.
pub fn show_local_host(fw: &Firewall, st: &State, now: Instant) -> String {
    let mut out = String::new();
    let statics = fw.statics.rules();
    for (i, iface) in fw.interfaces.iter().enumerate() {
        let mut hosts: BTreeSet<Ipv4Addr> = BTreeSet::new();
        for x in st.xlates.iter().filter(|x| x.real_if == i) {
            hosts.insert(x.local);
        }
        for c in st.conns.iter() {
            let local_if = if c.inbound { c.output_if } else { c.input_if };
            if local_if == i {
                hosts.insert(c.local_foreign().0 .0);
            }
        }
        let _ = writeln!(
            out,
            "Interface {}: {} active, {} maximum active, 0 denied",
            iface.name,
            hosts.len(),
            hosts.len()
        );
        for h in hosts {
            let _ = writeln!(out, "local host: <{h}>,");
            let conns: Vec<&Conn> = st
                .conns
                .iter()
                .filter(|c| {
                    c.local_foreign().0 .0 == h
                        && (if c.inbound { c.output_if } else { c.input_if }) == i
                })
                .collect();
            let tcp = conns.iter().filter(|c| c.proto == Proto::Tcp).count();
            let emb = conns
                .iter()
                .filter(|c| c.proto == Proto::Tcp && c.tcp == TcpState::Embryonic)
                .count();
            let udp = conns.iter().filter(|c| c.proto == Proto::Udp).count();
            let _ = writeln!(out, "    TCP connection count/limit = {tcp}/unlimited");
            let _ = writeln!(out, "    TCP embryonic count = {emb}");
            let _ = writeln!(out, "    UDP connection count/limit = {udp}/unlimited");
            let aaa = uauth_lines(fw, st, Some(h), now, "        ");
            if !aaa.is_empty() {
                out.push_str("    AAA:\n");
                out.push_str(&aaa);
            }
            let mut xl: Vec<String> = Vec::new();
            for s in statics.iter().filter(|s| s.real_if == i) {
                if let StaticReal::Address(r) = s.real {
                    if ip(r) == h && s.proto.is_none() {
                        xl.push(format!("Global {} Local {h} static", ip(s.mapped)));
                    }
                }
            }
            xl.extend(
                st.xlates
                    .iter()
                    .filter(|x| x.real_if == i && x.local == h)
                    .map(xlate_line),
            );
            if !xl.is_empty() {
                out.push_str("  Xlate(s):\n");
                for l in xl {
                    let _ = writeln!(out, "    {l}");
                }
            }
            if !conns.is_empty() {
                out.push_str("  Conn(s):\n");
                for c in conns {
                    let _ = writeln!(out, "    {}", conn_line(c, now));
                }
            }
        }
    }
    out
}
