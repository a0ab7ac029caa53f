//! Random small configurations and packet sequences from a byte string (shared by
//! the `random_configs` test and, verbatim, the `pix_nat_packets` fuzz target).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::disallowed_methods,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // test code
#![allow(dead_code)]

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pix_nat::{Action, Firewall, Packet, PhaseResult, State, TcpFlags};

pub struct Bytes<'a>(pub &'a [u8]);
impl Bytes<'_> {
    pub fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn pick<'s>(&mut self, items: &[&'s str]) -> &'s str {
        items[usize::from(self.u8()) % items.len()]
    }
    pub fn done(&self) -> bool {
        self.0.is_empty()
    }
}

const IFS: [&str; 3] = ["outside", "inside", "dmz"];
const NETS: [[u8; 3]; 3] = [[192, 168, 1], [10, 0, 0], [172, 16, 0]];

fn host(b: &mut Bytes<'_>) -> Ipv4Addr {
    let n = NETS[usize::from(b.u8()) % 3];
    Ipv4Addr::new(n[0], n[1], n[2], b.u8() % 8)
}

fn addr_spec(b: &mut Bytes<'_>) -> String {
    match b.u8() % 4 {
        0 => "any".into(),
        1 => format!("host {}", host(b)),
        2 => {
            let o = host(b).octets();
            format!("{}.{}.{}.0 255.255.255.0", o[0], o[1], o[2])
        }
        _ => {
            let o = host(b).octets();
            format!("{}.{}.{}.{} 255.255.255.252", o[0], o[1], o[2], o[3] & 0xFC)
        }
    }
}

/// A small configuration: three interfaces, then up to 24 random lines.
pub fn config(b: &mut Bytes<'_>) -> String {
    let mut s = String::new();
    let levels = [0u8, 100, [0u8, 50, 100][usize::from(b.u8()) % 3]];
    for (i, name) in IFS.iter().enumerate() {
        let n = NETS[i];
        writeln!(s, "interface ethernet{i} auto").unwrap();
        writeln!(s, "nameif ethernet{i} {name} security{}", levels[i]).unwrap();
        writeln!(
            s,
            "ip address {name} {}.{}.{}.254 255.255.255.0",
            n[0], n[1], n[2]
        )
        .unwrap();
    }
    let lines = b.u8() % 24;
    for _ in 0..lines {
        let l = match b.u8() % 14 {
            0 | 1 => {
                let proto = b.pick(&["ip", "tcp", "udp", "icmp"]);
                let port = if proto == "tcp" || proto == "udp" {
                    b.pick(&["", " eq www", " eq telnet", " range 20 25"])
                } else {
                    ""
                };
                format!(
                    "access-list {} {} {proto} {} {}{port}",
                    b.pick(&["101", "120"]),
                    b.pick(&["permit", "deny"]),
                    addr_spec(b),
                    addr_spec(b),
                )
            }
            2 => format!(
                "access-group {} in interface {}",
                b.pick(&["101", "120"]),
                b.pick(&IFS)
            ),
            3 => format!(
                "static ({},{}) {} {} netmask 255.255.255.255 0 0",
                b.pick(&IFS),
                b.pick(&IFS),
                host(b),
                host(b)
            ),
            4 => format!(
                "static ({},{}) tcp {} www {} 8080 netmask 255.255.255.255 0 0",
                b.pick(&IFS),
                b.pick(&IFS),
                host(b),
                host(b)
            ),
            5 => format!("nat ({}) {} 0.0.0.0 0.0.0.0 0 0", b.pick(&IFS), b.u8() % 3),
            6 => format!(
                "nat ({}) {} access-list {}",
                b.pick(&IFS),
                b.u8() % 3,
                b.pick(&["101", "120"])
            ),
            7 => {
                let a = host(b);
                let o = a.octets();
                let last = o[3].saturating_add(b.u8() % 3);
                format!(
                    "global ({}) {} {a}-{}.{}.{}.{last}",
                    b.pick(&IFS),
                    1 + b.u8() % 2,
                    o[0],
                    o[1],
                    o[2]
                )
            }
            8 => format!(
                "global ({}) {} {}",
                b.pick(&IFS),
                1 + b.u8() % 2,
                b.pick(&["interface", "192.168.1.200"])
            ),
            9 => format!("route {} 0.0.0.0 0.0.0.0 {} 1", b.pick(&IFS), host(b)),
            10 => format!(
                "conduit {} tcp {} {}",
                b.pick(&["permit", "deny"]),
                addr_spec(b),
                addr_spec(b)
            ),
            11 => format!(
                "aaa {} include {} {} 0 0 0 0 TACACS+",
                b.pick(&["authentication", "accounting"]),
                b.pick(&["any", "telnet", "http", "udp/53", "tcp/0"]),
                b.pick(&["outside", "inside", "inbound", "outbound"])
            ),
            12 => "sysopt connection permit-ipsec".into(),
            _ => format!(
                "timeout xlate 0:0{}:00 conn 0:0{}:00 uauth 0:01:00 {}",
                1 + b.u8() % 5,
                1 + b.u8() % 5,
                b.pick(&["absolute", "inactivity"])
            ),
        };
        s.push_str(&l);
        s.push('\n');
    }
    s
}

/// Run packets from the rest of `b` against `fw`, checking every verdict is explained.
pub fn run(fw: &Firewall, b: &mut Bytes<'_>, start: Instant) {
    let mut st = State::new();
    let mut now = start;
    let mut n = 0;
    while !b.done() && n < 64 {
        n += 1;
        now += Duration::from_secs(u64::from(b.u8()) * u64::from(b.u8() % 4) * 10);
        let input = b.pick(&["outside", "inside", "dmz", "nowhere"]);
        let src = host(b);
        let dst = host(b);
        let sport = [1025u16, 23, 80, 8080, 53, 0][usize::from(b.u8()) % 6];
        let dport = [1025u16, 23, 80, 8080, 53, 0][usize::from(b.u8()) % 6];
        let mut p = match b.u8() % 4 {
            0 => Packet::tcp(input, src, sport, dst, dport),
            1 => Packet::udp(input, src, sport, dst, dport),
            2 => Packet::icmp(input, src, b.u8() % 9, 0, dst),
            _ => Packet::other(input, 47, src, dst),
        };
        if p.proto == pix_nat::Proto::Tcp {
            p.flags = [
                TcpFlags::SYN,
                TcpFlags::SYN_ACK,
                TcpFlags::ACK,
                TcpFlags::FIN,
                TcpFlags::RST,
            ][usize::from(b.u8()) % 5];
        }
        p.len = u32::from(b.u8());
        match b.u8() % 8 {
            0 => p = p.decrypted_for("vpnuser"),
            1 => {
                st.vpn_connect(fw, "vpnuser", src, input, now);
            }
            2 => st.authenticate(fw, "user", src, now),
            3 => {
                fw.expire(&mut st, now);
            }
            _ => {}
        }
        let v = fw.process(&mut st, &p, now);
        let t = &v.trace;
        assert!(!t.phases.is_empty(), "unexplained verdict");
        match &t.action {
            Action::Allow => assert!(
                t.phases.iter().all(|ph| ph.result == PhaseResult::Allow),
                "{}",
                t.render()
            ),
            Action::Drop(_) => assert_eq!(
                t.phases.last().map(|ph| ph.result),
                Some(PhaseResult::Drop),
                "{}",
                t.render()
            ),
            Action::Authenticate { .. } => {
                assert_eq!(
                    t.phases.last().map(|ph| ph.result),
                    Some(PhaseResult::AuthRequired)
                )
            }
        }
        for ph in &t.phases {
            for c in &ph.config {
                assert!(
                    c.line == 0 || !c.text.is_empty(),
                    "config line {} without text",
                    c.line
                );
            }
        }
        let _ = t.render();
    }
    let _ = pix_nat::show_xlate(fw, &st);
    let _ = pix_nat::show_conn(&st, now);
    let _ = pix_nat::show_uauth(fw, &st, now);
    let _ = pix_nat::show_local_host(fw, &st, now);
    let _ = fw.expire(&mut st, now + Duration::from_secs(100_000));
    assert!(st.conns.is_empty());
}
