//! The PIX 6.3 `show` commands of the gateway, in the PIX's own layout.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ike_sm::{Selector, TrafficSelector};

use super::view::{IpsecSaView, PoolView};
use super::Session;

/// `H:MM:SS` as the PIX prints durations.
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// `show crypto isakmp sa`.
pub fn isakmp_sa(sessions: &[&Session], total: usize, dp: &[&IpsecSaView]) -> String {
    let mut out = String::new();
    let established = sessions.iter().filter(|s| s.established).count();
    let _ = writeln!(out, "Total     : {total}");
    let _ = writeln!(out, "Embryonic : {}", total.saturating_sub(established));
    let _ = writeln!(
        out,
        "        dst               src        state     pending     created"
    );
    for s in sessions.iter().filter(|s| s.established) {
        let created = dp.iter().filter(|c| c.ike_sa == s.sa).count();
        let _ = writeln!(
            out,
            "{:>15}  {:>15}    {:<8}  {:>6}      {:>6}",
            ip(s.local),
            ip(s.remote),
            "QM_IDLE",
            0,
            created
        );
    }
    out
}

fn ip(a: SocketAddr) -> IpAddr {
    a.ip()
}

fn ident(t: &TrafficSelector) -> String {
    let (a, m) = match t.addr {
        Selector::Addr(a) => (a, Ipv4Addr::BROADCAST),
        Selector::Subnet(a, m) => (a, m),
        Selector::Range(a, b) => return format!("({a}-{b}/{}/{})", t.protocol, t.port),
    };
    format!("({a}/{m}/{}/{})", t.protocol, t.port)
}

/// `show crypto ipsec sa`.
pub fn ipsec_sa(
    interface: &str,
    map: &str,
    local: Option<Ipv4Addr>,
    children: &[&IpsecSaView],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n\ninterface: {interface}");
    let _ = writeln!(
        out,
        "    Crypto map tag: {map}, local addr. {}\n",
        local.map_or_else(|| "0.0.0.0".to_string(), |a| a.to_string())
    );
    for c in children {
        let k = &c.counters;
        let _ = writeln!(
            out,
            "   local  ident (addr/mask/prot/port): {}",
            ident(&c.local_selector)
        );
        let _ = writeln!(
            out,
            "   remote ident (addr/mask/prot/port): {}",
            ident(&c.remote_selector)
        );
        let _ = writeln!(
            out,
            "   current_peer: {}:{}",
            c.remote.ip(),
            c.remote.port()
        );
        let _ = writeln!(out, "     dynamic allocated peer ip: {}\n", c.remote.ip());
        let _ = writeln!(out, "     PERMIT, flags={{}}");
        let _ = writeln!(
            out,
            "    #pkts encaps: {e}, #pkts encrypt: {e}, #pkts digest {e}",
            e = k.encaps
        );
        let _ = writeln!(
            out,
            "    #pkts decaps: {d}, #pkts decrypt: {d}, #pkts verify {d}",
            d = k.decaps
        );
        let _ = writeln!(out, "    #pkts compressed: 0, #pkts decompressed: 0");
        let _ = writeln!(
            out,
            "    #pkts not compressed: 0, #pkts compr. failed: 0, #pkts decompress failed: 0"
        );
        let _ = writeln!(
            out,
            "    #send errors {}, #recv errors {}",
            k.send_errors,
            k.recv_error_total()
        );
        for (kind, n) in &k.recv_errors {
            let _ = writeln!(out, "      recv errors ({kind}): {n}");
        }
        let _ = writeln!(
            out,
            "\n     local crypto endpt.: {}, remote crypto endpt.: {}",
            c.local.ip(),
            c.remote.ip()
        );
        let _ = writeln!(
            out,
            "     path mtu 1500, ipsec overhead {}, media mtu 1500",
            c.overhead
        );
        let _ = writeln!(out, "     current outbound spi: {:x}\n", c.spi_out);
        let transform = format!("{} {} ", c.cipher, c.integrity.unwrap_or(""));
        let age = c.age.as_secs();
        for (dir, spi, bytes) in [
            ("inbound", c.spi_in, c.bytes_in_sa),
            ("outbound", c.spi_out, c.bytes_out_sa),
        ] {
            let _ = writeln!(out, "     {dir} esp sas:");
            let _ = writeln!(out, "      spi: {spi:#x}({spi})");
            let _ = writeln!(out, "        transform: {transform},");
            let _ = writeln!(out, "        in use settings ={{{}, }}", c.mode);
            let _ = writeln!(
                out,
                "        slot: 0, conn id: {}, crypto map: {map}",
                c.ike_sa.0
            );
            let _ = writeln!(
                out,
                "        sa timing: remaining key lifetime (k/sec): ({}/{})",
                c.life_kb.saturating_sub(bytes / 1024),
                c.life_secs.saturating_sub(age)
            );
            let _ = writeln!(out, "        IV size: {} bytes", c.iv_len);
            let _ = writeln!(out, "        replay detection support: Y\n");
            let _ = writeln!(out, "     {dir} ah sas:\n");
            let _ = writeln!(out, "     {dir} pcp sas:\n");
        }
        out.push('\n');
    }
    out
}

/// `show uauth`.
pub fn uauth(
    now: Instant,
    sessions: &[&Session],
    most_seen: usize,
    in_progress_most: usize,
    uauth_timeout: Duration,
) -> String {
    let authed: Vec<&&Session> = sessions.iter().filter(|s| s.user.is_some()).collect();
    let in_progress = sessions
        .iter()
        .filter(|s| s.user.is_none() && s.xauth_pending)
        .count();
    let mut out = String::new();
    let _ = writeln!(out, "                        Current    Most Seen");
    let _ = writeln!(
        out,
        "Authenticated Users     {:>5}      {:>5}",
        authed.len(),
        most_seen
    );
    let _ = writeln!(
        out,
        "Authen In Progress      {:>5}      {:>5}",
        in_progress, in_progress_most
    );
    for s in authed {
        let user = s.user.as_deref().unwrap_or("");
        let at = s
            .addr
            .map_or_else(|| s.remote.ip().to_string(), |a| a.to_string());
        let _ = writeln!(out, "ipsec user '{user}' at {at}, authenticated");
        let _ = writeln!(out, "   absolute   timeout: {}", hms(uauth_timeout));
        let idle = now.saturating_duration_since(s.last_activity);
        let _ = writeln!(out, "   inactivity timeout: {}", hms(idle));
    }
    out
}

/// `show ip local pool [NAME]`.
pub fn local_pool(pools: &[PoolView], name: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Pool                         Begin           End             Free  In use"
    );
    for p in pools {
        if name.is_some_and(|n| n != p.name) {
            continue;
        }
        let _ = writeln!(
            out,
            "{:<28} {:<15} {:<15} {:<5} {}",
            p.name, p.first, p.last, p.available, p.in_use
        );
    }
    if let Some(p) = name.and_then(|n| pools.iter().find(|p| p.name == n)) {
        let _ = writeln!(out, "\nAvailable Addresses:");
        for (ip, _) in p.addresses.iter().filter(|(_, leased)| !leased) {
            let _ = writeln!(out, "{ip}");
        }
        let _ = writeln!(out, "\nIn use addresses:");
        for (ip, _) in p.addresses.iter().filter(|(_, leased)| *leased) {
            let _ = writeln!(out, "{ip}");
        }
    }
    out
}

/// `show version`.
pub fn version(hostname: &str, up: Duration, config: &str, workers: usize) -> String {
    let s = up.as_secs();
    format!(
        "pix-gateway Version {} (PIX Version 6.3 compatible)\n\
         Compiled from the pix-ipsec workspace (Rust, Sans-IO crates)\n\n\
         {hostname} up {} days {} hours {} mins {} secs\n\n\
         Configuration: {config}\n\
         Workers: {workers}\n\
         VPN-DES: Enabled\nVPN-3DES-AES: Enabled\n",
        env!("CARGO_PKG_VERSION"),
        s / 86_400,
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60
    )
}
