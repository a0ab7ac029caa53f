//! Scenario tests of the whole gateway core in memory, through its public API only
//! (`pix_gateway::{Gateway, Input, Output, Handled}`), on a virtual clock with seeded
//! randomness: `ike-sm` initiators play the VPN clients, `testkit::aaa` plays the
//! RADIUS and TACACS+ servers, the `esp` crate plays the clients' ESP stacks. Nothing
//! here opens a socket or sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use esp::{
    Encapsulation, EncryptionAlgorithm, EspKeys, EspSaParams, InboundSa, IntegrityAlgorithm,
    LifetimeConfig, OutboundSa,
};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, ChildSa, ClientProfile, Endpoint, SaId};
use pix_gateway::gateway::setup::Plan;
use pix_gateway::{
    demo, DebugKind, EspDest, Gateway, Handled, Input, LogRecord, MsgId, Output, Settings,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use testkit::aaa::{AaaReply, MemAaa, MemRadius, MemTacacs, TacacsLoginOutcome};
use xauth::aaa::{AaaTransmit, RequestId};

#[path = "../examples/embed.rs"]
#[allow(dead_code)] // its `main` is the example's, not the test's
mod embed;

const GW_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
const GW: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(GW_IP), 500);
/// The RADIUS server of the edited demo (`aaa-server RADIUS (inside) host ...`).
const RADIUS_IP: &str = "10.89.129.135";
/// The TACACS+ server of the edited demo.
const TACACS_IP: &str = "10.89.129.136";

fn radius_auth() -> SocketAddr {
    format!("{RADIUS_IP}:1645").parse().unwrap()
}

fn radius_acct() -> SocketAddr {
    format!("{RADIUS_IP}:1646").parse().unwrap()
}

fn tacacs() -> SocketAddr {
    format!("{TACACS_IP}:49").parse().unwrap()
}

/// The demo with Xauth against the RADIUS group (a host with key `radkey`), `timeout`
/// seconds per try; `edit` changes the text further.
fn radius_plan(timeout: u32, edit: impl Fn(String) -> String) -> Plan {
    demo::plan_with(
        |t| {
            let t = t
                .replace(
                    "crypto map mymap client authentication LOCAL",
                    "crypto map mymap client authentication RADIUS",
                )
                .replace(
                    "aaa-server RADIUS protocol radius\n",
                    &format!(
                        "aaa-server RADIUS protocol radius\n\
                         aaa-server RADIUS (inside) host {RADIUS_IP} radkey timeout {timeout}\n"
                    ),
                );
            assert!(t.contains("host 10.89.129.135"), "the demo changed");
            edit(t)
        },
        &[],
        &[],
    )
    .unwrap()
}

/// The demo with Xauth against a TACACS+ group `TACS` (key `tackey`).
fn tacacs_plan() -> Plan {
    demo::plan_with(
        |t| {
            let t = t
                .replace(
                    "crypto map mymap client authentication LOCAL",
                    "crypto map mymap client authentication TACS",
                )
                .replace(
                    "aaa-server LOCAL protocol local\n",
                    &format!(
                        "aaa-server LOCAL protocol local\n\
                         aaa-server TACS protocol tacacs+\n\
                         aaa-server TACS (inside) host {TACACS_IP} tackey timeout 5\n"
                    ),
                );
            assert!(t.contains("TACS (inside)"), "the demo changed");
            t
        },
        &[],
        &[],
    )
    .unwrap()
}

fn radius_server() -> MemRadius {
    MemRadius::new("radkey").user("cisco_customer", "cisco123")
}

/// A VPN client's ESP, built from its Quick Mode result with the `esp` crate alone.
struct ClientEsp {
    out: OutboundSa,
    inb: InboundSa,
}

impl ClientEsp {
    fn new(c: &ChildSa, now: Instant) -> ClientEsp {
        let enc = EncryptionAlgorithm::from_transform(c.esp_transform, c.key_bits).unwrap();
        let integ = IntegrityAlgorithm::from_attribute(Some(c.auth_alg)).unwrap();
        let encap = Encapsulation::from_attribute(c.encapsulation).unwrap();
        let params = |spi: u32, ek: &[u8], ak: &[u8]| {
            let mut p = EspSaParams::new(spi, enc, integ, encap, EspKeys::new(ek, ak));
            p.lifetime = LifetimeConfig::from_hard(Some(c.life_secs), None);
            p
        };
        ClientEsp {
            out: OutboundSa::new(
                &params(
                    c.spi_out,
                    c.enc_key_out.expose_secret(),
                    c.auth_key_out.expose_secret(),
                ),
                now,
            )
            .unwrap(),
            inb: InboundSa::new(
                &params(
                    c.spi_in,
                    c.enc_key_in.expose_secret(),
                    c.auth_key_in.expose_secret(),
                ),
                now,
            )
            .unwrap(),
        }
    }
}

/// One VPN client: an `ike-sm` initiator at `addr`.
struct Client {
    addr: SocketAddr,
    ep: Endpoint,
    #[allow(clippy::vec_box)] // as `Event::ChildSa` delivers them
    children: Vec<Box<ChildSa>>,
    esp: Option<ClientEsp>,
    /// Informational exchanges (DELETEs) it received.
    informational: usize,
    /// A NAT in front of it: its public address and the port offset of the mappings
    /// (private port p is public port p + offset).
    nat: Option<(Ipv4Addr, u16)>,
}

impl Client {
    /// Where the gateway sees a datagram from the client's `local` address.
    fn public(&self, local: SocketAddr) -> SocketAddr {
        match self.nat {
            Some((ip, offset)) => SocketAddr::new(ip.into(), local.port() + offset),
            None => local,
        }
    }

    /// The client's own address for a datagram the gateway sends to `public`.
    fn private(&self, public: SocketAddr) -> Option<SocketAddr> {
        match self.nat {
            Some((ip, offset)) if public.ip() == std::net::IpAddr::V4(ip) => Some(SocketAddr::new(
                self.addr.ip(),
                public.port().checked_sub(offset)?,
            )),
            Some(_) => None,
            None => (public.ip() == self.addr.ip()).then_some(public),
        }
    }
}

/// The gateway, its clients and AAA servers, on a virtual clock.
struct Net {
    now: Instant,
    rng: StdRng,
    gw: Gateway,
    clients: Vec<Client>,
    aaa: MemAaa,
    log: Vec<LogRecord>,
    debug: Vec<(DebugKind, String)>,
    /// Every IKE datagram the core sent and every ESP packet it encapsulated, in order.
    wire: Vec<Vec<u8>>,
    /// NAT keepalives the core sent (port 4500, one 0xFF byte), by destination.
    keepalives: Vec<SocketAddr>,
    /// NAT keepalives the clients sent.
    keepalives_in: usize,
    /// IKE datagrams the clients sent to our port 4500, and the core sent from it.
    ike_in_4500: usize,
    ike_out_4500: usize,
}

impl Net {
    fn new(plan: Plan, aaa: MemAaa, seed: u64, base: Instant) -> Net {
        let mut gw = Gateway::new(plan, Settings::new(GW_IP), base);
        gw.set_debug(&[DebugKind::Isakmp, DebugKind::Ipsec]);
        Net {
            now: base,
            rng: StdRng::seed_from_u64(seed),
            gw,
            clients: Vec::new(),
            aaa,
            log: Vec::new(),
            debug: Vec::new(),
            wire: Vec::new(),
            keepalives: Vec::new(),
            keepalives_in: 0,
            ike_in_4500: 0,
            ike_out_4500: 0,
        }
    }

    fn add_client(&mut self, addr: &str) -> usize {
        self.clients.push(Client {
            addr: addr.parse().unwrap(),
            ep: Endpoint::new(presets::client(), modecfg::Pools::new()),
            children: Vec::new(),
            esp: None,
            informational: 0,
            nat: None,
        });
        self.clients.len() - 1
    }

    /// A client at `addr` behind a NAT whose public address is `public` (ports + 30000).
    fn add_client_behind_nat(&mut self, addr: &str, public: &str) -> usize {
        let i = self.add_client(addr);
        self.clients[i].nat = Some((public.parse().unwrap(), 30000));
        i
    }

    /// Drains the core: IKE to the clients, AAA to the servers and back, the rest kept.
    /// Whether anything went to a client.
    fn drain(&mut self) -> bool {
        let mut moved = false;
        for _ in 0..100_000 {
            let Some(out) = self.gw.poll_output() else {
                return moved;
            };
            match out {
                Output::Udp {
                    local,
                    remote,
                    payload,
                } => {
                    self.wire.push(payload.clone());
                    let ike = if local.port() == 4500 {
                        match esp::udp_encap::classify(&payload).unwrap() {
                            esp::udp_encap::Port4500::Ike(ike) => {
                                self.ike_out_4500 += 1;
                                ike.to_vec()
                            }
                            esp::udp_encap::Port4500::Keepalive => {
                                self.keepalives.push(remote);
                                continue;
                            }
                            esp::udp_encap::Port4500::Esp(_) => panic!("ESP as an Output"),
                        }
                    } else {
                        payload
                    };
                    let to = self
                        .clients
                        .iter_mut()
                        .find_map(|c| c.private(remote).map(|p| (c, p)));
                    if let Some((c, private)) = to {
                        moved = true;
                        if ike.get(18) == Some(&5) {
                            c.informational += 1;
                        }
                        c.ep.handle_datagram(self.now, private, local, &ike, &mut self.rng);
                    }
                }
                Output::AaaDatagram { to, payload } => {
                    let t = AaaTransmit::Datagram {
                        request: RequestId(0),
                        to,
                        payload,
                    };
                    for r in self.aaa.handle(&t) {
                        if let AaaReply::Datagram { from, payload } = r {
                            self.gw.handle(
                                self.now,
                                Input::AaaDatagram {
                                    from,
                                    payload: &payload,
                                },
                                &mut self.rng,
                            );
                        }
                    }
                }
                Output::AaaStream {
                    group,
                    conn,
                    to,
                    payload,
                } => {
                    for r in self.aaa.handle(&AaaTransmit::Stream { conn, to, payload }) {
                        let input = match &r {
                            AaaReply::Stream { conn, payload } => Input::AaaStream {
                                group: &group,
                                conn: *conn,
                                bytes: payload,
                            },
                            AaaReply::Closed { conn } => Input::AaaStreamClosed {
                                group: &group,
                                conn: *conn,
                            },
                            AaaReply::Datagram { .. } => continue,
                        };
                        self.gw.handle(self.now, input, &mut self.rng);
                    }
                }
                Output::AaaClose { conn, .. } => {
                    self.aaa.handle(&AaaTransmit::Close { conn });
                }
                Output::Log(r) => self.log.push(r),
                Output::Debug(k, l) => self.debug.push((k, l)),
                Output::Keylog(_) => {}
            }
        }
        panic!("the core never went quiet");
    }

    /// Moves IKE both ways until quiet.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            for c in &mut self.clients {
                while let Some(t) = c.ep.poll_transmit() {
                    moved = true;
                    let mut payload = Vec::new();
                    // RFC 3948: IKE on 4500 behind the non-ESP marker; a NAT keepalive
                    // (one 0xFF byte) as it is.
                    if t.bytes == [0xff] {
                        self.keepalives_in += 1;
                    } else if t.remote.port() == 4500 {
                        payload.extend_from_slice(&esp::udp_encap::NON_ESP_MARKER);
                        self.ike_in_4500 += 1;
                    }
                    payload.extend_from_slice(&t.bytes);
                    self.gw.handle(
                        self.now,
                        Input::Udp {
                            local: t.remote,
                            remote: c.public(t.local),
                            payload: &mut payload,
                        },
                        &mut self.rng,
                    );
                }
            }
            moved |= self.drain();
            for c in &mut self.clients {
                while let Some(e) = c.ep.poll_event() {
                    if let ike_sm::Event::ChildSa(ch) = e {
                        c.esp = Some(ClientEsp::new(&ch, self.now));
                        c.children.push(ch);
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("IKE never went quiet");
    }

    /// Runs the virtual clock from deadline to deadline (the core's and the clients')
    /// until `done` or `limit` of virtual time passed.
    fn run_until(&mut self, limit: Duration, done: impl Fn(&Net) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            let next = self
                .clients
                .iter()
                .filter_map(|c| c.ep.poll_timeout())
                .chain(self.gw.poll_timeout())
                .min();
            let Some(next) = next.filter(|t| *t <= end) else {
                return;
            };
            self.now = self.now.max(next);
            let now = self.now;
            self.gw.handle_timeout(now, &mut self.rng);
            for c in &mut self.clients {
                c.ep.handle_timeout(now, &mut self.rng);
            }
            self.pump();
        }
    }

    /// Client `i` logs in with `profile`; IKE runs until quiet.
    fn login(&mut self, i: usize, profile: ClientProfile) -> SaId {
        let c = &mut self.clients[i];
        let sa =
            c.ep.initiate(self.now, c.addr, GW, profile, &mut self.rng)
                .unwrap();
        self.pump();
        sa
    }

    /// Quick Mode of client `i` for its Mode Config address (the 4.x and 1.1 request).
    fn quick_mode(&mut self, i: usize, sa: SaId) -> Ipv4Addr {
        let addr = self.clients[i].ep.assigned_address(sa).unwrap();
        let before = self.clients[i].children.len();
        self.clients[i]
            .ep
            .initiate_quick_mode(
                self.now,
                sa,
                presets::vpn_client_quick_mode(addr),
                &mut self.rng,
            )
            .unwrap();
        self.pump();
        assert_eq!(
            self.clients[i].children.len(),
            before + 1,
            "Quick Mode done"
        );
        addr
    }

    fn cmd(&mut self, line: &str) -> String {
        let a = match self
            .gw
            .handle(self.now, Input::Command { line }, &mut self.rng)
        {
            Handled::Answer(a) => a,
            other => panic!("{line}: {other:?}"),
        };
        self.pump();
        a
    }

    /// Client `i` sends `packet` through its tunnel; the inner packet the core passes
    /// to the inside, if any.
    fn client_sends(&mut self, i: usize, packet: &[u8]) -> Option<Vec<u8>> {
        let c = &mut self.clients[i];
        let esp = c.esp.as_mut().unwrap();
        let mut buf = vec![0u8; packet.len() + 128];
        let n = esp
            .out
            .encapsulate_ip(self.now, &mut self.rng, packet, &mut buf)
            .unwrap();
        buf.truncate(n);
        if let Some(ports) = c.children.last().and_then(|ch| ch.natt_ports) {
            // ESP in UDP from the client's 4500, through its NAT, to our 4500.
            assert_eq!(ports.0, 4500);
            let remote = c.public(SocketAddr::new(c.addr.ip(), 4500));
            let inner = match self.gw.handle(
                self.now,
                Input::Udp {
                    local: SocketAddr::new(GW_IP.into(), 4500),
                    remote,
                    payload: &mut buf,
                },
                &mut self.rng,
            ) {
                Handled::ToInside(r) => Some(buf[r].to_vec()),
                Handled::Done => None,
                other => panic!("{other:?}"),
            };
            self.pump();
            return inner;
        }
        let src = match c.addr.ip() {
            std::net::IpAddr::V4(a) => a,
            std::net::IpAddr::V6(_) => unreachable!(),
        };
        let mut raw = vec![0x45, 0];
        raw.extend_from_slice(&u16::try_from(n + 20).unwrap().to_be_bytes());
        raw.extend_from_slice(&[0, 1, 0, 0, 64, 50, 0, 0]);
        raw.extend_from_slice(&src.octets());
        raw.extend_from_slice(&GW_IP.octets());
        raw.extend_from_slice(&buf);
        let inner =
            match self
                .gw
                .handle(self.now, Input::RawEsp { packet: &mut raw }, &mut self.rng)
            {
                Handled::ToInside(r) => Some(raw[r].to_vec()),
                Handled::Done => None,
                other => panic!("{other:?}"),
            };
        self.pump();
        inner
    }

    /// A packet from the inside: the datagram the core encapsulated, decrypted by the
    /// client it went to (which client, and the inner packet).
    fn inside_sends(&mut self, packet: &[u8]) -> Option<(usize, Vec<u8>)> {
        let mut p = packet.to_vec();
        let (dest, mut datagram, sa) =
            match self
                .gw
                .handle(self.now, Input::Inside { packet: &mut p }, &mut self.rng)
            {
                Handled::ToOutside { dest, datagram, sa } => (dest, datagram.to_vec(), sa),
                Handled::Done => {
                    self.pump();
                    return None;
                }
                other => panic!("{other:?}"),
            };
        self.wire.push(datagram.clone());
        self.pump();
        assert!(self.gw.sessions().any(|s| s.sa == sa));
        let i = self
            .clients
            .iter()
            .position(|c| match dest {
                EspDest::Raw(to) => c.nat.is_none() && c.addr.ip() == std::net::IpAddr::V4(to),
                // ESP in UDP from our 4500 to the client's 4500 through its NAT.
                EspDest::Udp(to) => c.private(to).is_some_and(|p| p.port() == 4500),
            })
            .unwrap_or_else(|| panic!("{dest:?} reaches no client"));
        let esp = self.clients[i].esp.as_mut().unwrap();
        let d = esp.inb.decapsulate(self.now, &mut datagram).unwrap();
        assert_eq!(d.next_header, 4, "IPv4 in tunnel mode");
        Some((i, datagram[d.payload].to_vec()))
    }

    fn logged(&self, id: MsgId, text: &str) -> bool {
        self.log.iter().any(|r| r.id == id && r.text.contains(text))
    }

    fn texts(&self) -> Vec<&str> {
        self.log.iter().map(|r| r.text.as_str()).collect()
    }
}

/// An IPv4 ICMP echo request (`reply`: an echo reply) with a valid header checksum.
fn icmp(src: &str, dst: &str, reply: bool) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0x12, 0x34, 0,
        1,
    ];
    p[12..16].copy_from_slice(&src.parse::<Ipv4Addr>().unwrap().octets());
    p[16..20].copy_from_slice(&dst.parse::<Ipv4Addr>().unwrap().octets());
    if reply {
        p[20] = 0;
    }
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    let sum = checksum(&p[20..]);
    p[22..24].copy_from_slice(&sum.to_be_bytes());
    p
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// A TCP segment (no options) with `flags`.
fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.parse::<Ipv4Addr>().unwrap().octets());
    p[16..20].copy_from_slice(&dst.parse::<Ipv4Addr>().unwrap().octets());
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&dport.to_be_bytes());
    p[32] = 0x50;
    p[33] = flags;
    let sum = checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p
}

fn vpn_4x(user: &str, password: &str) -> ClientProfile {
    presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", user, password.as_bytes())
}

#[allow(clippy::disallowed_methods)] // the one clock reading: the virtual clock's base
fn base() -> Instant {
    Instant::now()
}

/// Scenario (a): the seed's VPN Client 4.x flow with Xauth against RADIUS, then
/// packets both ways. Returns the net for further checks.
fn vpn_client_4x_flow(seed: u64, base: Instant, plan: Plan) -> Net {
    let aaa = MemAaa::new().with_radius(radius_auth(), radius_acct(), radius_server());
    let mut net = Net::new(plan, aaa, seed, base);
    let c = net.add_client("198.51.100.7:500");
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    let addr = net.quick_mode(c, sa);
    assert_eq!(addr, "10.89.129.200".parse::<Ipv4Addr>().unwrap());
    // ICMP and TCP from the client arrive on the inside as sent; the replies come back.
    let ping = icmp("10.89.129.200", "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping), Some(ping.clone()));
    let pong = icmp("10.89.129.131", "10.89.129.200", true);
    assert_eq!(net.inside_sends(&pong), Some((c, pong.clone())));
    let syn = tcp("10.89.129.200", 40000, "10.89.129.131", 23, 0x02);
    assert_eq!(net.client_sends(c, &syn), Some(syn.clone()));
    let synack = tcp("10.89.129.131", 23, "10.89.129.200", 40000, 0x12);
    assert_eq!(net.inside_sends(&synack), Some((c, synack.clone())));
    net
}

/// (a) The seed's 4.x flow end to end: Aggressive Mode with the group key, Xauth
/// checked by an in-memory RADIUS server, Mode Config from the pool, Quick Mode, ESP
/// both ways with inner bytes intact.
#[test]
fn vpn_client_4x_with_radius_end_to_end() {
    let net = vpn_client_4x_flow(1, base(), radius_plan(2, |t| t));
    let server = net.aaa.radius(radius_auth()).unwrap();
    let tries: Vec<(String, bool)> = server
        .attempts()
        .iter()
        .map(|a| (String::from_utf8_lossy(&a.user).into_owned(), a.accepted))
        .collect();
    assert_eq!(tries, [("cisco_customer".to_string(), true)]);
    assert!(
        net.logged(
            MsgId::AuthSucceeded,
            "xauth: user 'cisco_customer' accepted by aaa-server RADIUS"
        ),
        "{:?}",
        net.texts()
    );
    for id in [
        MsgId::Phase1Completed,
        MsgId::AddressAssigned,
        MsgId::IpsecSaCreated,
    ] {
        assert!(net.log.iter().any(|r| r.id == id), "{id:?}");
    }
    let stats = net.gw.stats();
    assert_eq!((stats.packets_in, stats.packets_out), (2, 2));
    assert_eq!(stats.users, 1);
    assert_eq!(stats.xauth.get("accepted"), Some(&1));
    let s = net.gw.whole(net.now, None).metrics_text();
    assert!(s.contains("pix_ike_half_open 0\n"), "{s}");
    // The session as the API shows it.
    let sess: Vec<_> = net.gw.sessions().collect();
    assert_eq!(sess.len(), 1);
    assert_eq!(sess[0].user.as_deref(), Some("cisco_customer"));
    assert_eq!(sess[0].identity, "vpn3000");
    assert_eq!(sess[0].addr, Some("10.89.129.200".parse().unwrap()));
}

/// (a) Policy verdicts: without `sysopt connection permit-ipsec`, access-list 120
/// decides what the client reaches (10.89.129.131 only); a denied packet is dropped,
/// shown in `show drops` and counted.
#[test]
fn without_permit_ipsec_the_access_list_decides() {
    let plan = radius_plan(2, |t| {
        let t2 = t.replace("sysopt connection permit-ipsec\n", "");
        assert_ne!(t, t2);
        t2
    });
    let mut net = vpn_client_4x_flow(2, base(), plan);
    let denied = icmp("10.89.129.200", "10.89.129.140", false);
    assert_eq!(net.client_sends(0, &denied), None);
    assert!(
        net.debug
            .iter()
            .any(|(k, l)| *k == DebugKind::Ipsec && l.contains("dropped by policy")),
        "{:?}",
        net.debug
    );
    let drops = net.cmd("show drops");
    assert!(drops.contains("dropped by policy"), "{drops}");
    assert!(!net.gw.stats().policy_drops.is_empty());
    // The permitted host still works.
    let ping = icmp("10.89.129.200", "10.89.129.131", false);
    assert_eq!(net.client_sends(0, &ping), Some(ping));
}

/// (b) The 1.1 client: Main Mode with the wildcard key, Xauth (RADIUS), Mode Config
/// pushed by the gateway (`client configuration address initiate`), Quick Mode, ESP.
#[test]
fn vpn_client_11_main_mode_with_pushed_mode_config() {
    let aaa = MemAaa::new().with_radius(radius_auth(), radius_acct(), radius_server());
    let mut net = Net::new(radius_plan(2, |t| t), aaa, 11, base());
    let c = net.add_client("198.51.100.11:500");
    let sa = net.login(
        c,
        presets::vpn_client_11(b"cisco1234", "cisco_customer", b"cisco123"),
    );
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    // Main Mode, identified by address (no group name).
    let s = net.gw.sessions().next().unwrap().clone();
    assert_eq!(s.identity, "198.51.100.11");
    assert_eq!(s.user.as_deref(), Some("cisco_customer"));
    let isakmp: Vec<&str> = net
        .debug
        .iter()
        .filter(|(k, _)| *k == DebugKind::Isakmp)
        .map(|(_, l)| l.as_str())
        .collect();
    // The gateway pushes Mode Config (SET) and the client acknowledges (ACK).
    assert!(
        isakmp.contains(&"ISAKMP: Config payload CFG_ACK")
            && isakmp.contains(&"ISAKMP (0:0): peer accepted the address!")
            && !isakmp.iter().any(|l| l.contains("CFG_REQUEST")),
        "{isakmp:?}"
    );
    let addr = net.quick_mode(c, sa);
    assert_eq!(s.addr, Some(addr));
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping), Some(ping.clone()));
    let pong = icmp("10.89.129.131", &addr.to_string(), true);
    assert_eq!(net.inside_sends(&pong), Some((c, pong)));
    assert_eq!(net.aaa.radius(radius_auth()).unwrap().attempts().len(), 1);
}

/// (c) `clear crypto isakmp sa` through `Input::Command` ends every session: DELETEs
/// to each client, the addresses back in the pool, `show uauth` empty; a new login
/// works afterwards on the same core.
#[test]
fn clear_ends_every_session_and_a_new_login_works_without_a_restart() {
    let aaa = MemAaa::new().with_radius(radius_auth(), radius_acct(), radius_server());
    let mut net = Net::new(radius_plan(2, |t| t), aaa, 3, base());
    let mut addrs = Vec::new();
    for at in ["198.51.100.7:500", "198.51.100.8:500"] {
        let c = net.add_client(at);
        let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
        addrs.push(net.quick_mode(c, sa));
    }
    assert_ne!(addrs[0], addrs[1]);
    assert_eq!(net.gw.endpoint().pools().total_in_use(), 2);
    let uauth = net.cmd("show uauth");
    assert!(uauth.contains(&format!("at {}", addrs[1])), "{uauth}");

    let answer = net.cmd("clear crypto isakmp sa");
    assert!(answer.starts_with("2 IKE SA(s)"), "{answer}");
    for c in &net.clients {
        assert_eq!(c.informational, 2, "ISAKMP and IPsec DELETE to {}", c.addr);
        assert_eq!(c.ep.sa_count(), 0, "{} kept its SA", c.addr);
    }
    assert_eq!(net.gw.sessions().count(), 0);
    assert!(net.gw.data_plane().is_empty());
    assert_eq!(net.gw.endpoint().pools().total_in_use(), 0);
    let uauth = net.cmd("show uauth");
    assert!(uauth.contains("Authenticated Users         0"), "{uauth}");
    assert!(!uauth.contains("cisco_customer"), "{uauth}");
    let s = net.cmd("show crypto isakmp sa");
    assert!(s.starts_with("Total     : 0\n"), "{s}");
    assert_eq!(
        net.log
            .iter()
            .filter(|r| r.id == MsgId::Phase1Deleted)
            .count(),
        2
    );
    // The old tunnel is gone: the inside cannot reach the old address.
    let pong = icmp("10.89.129.131", &addrs[0].to_string(), true);
    assert_eq!(net.inside_sends(&pong), None);

    // A new login on the same core.
    net.now += Duration::from_secs(1);
    let sa = net.login(0, vpn_4x("cisco_customer", "cisco123"));
    assert!(net.clients[0].ep.ready_for_quick_mode(sa));
    let addr = net.quick_mode(0, sa);
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(0, &ping), Some(ping));
    let pong = icmp("10.89.129.131", &addr.to_string(), true);
    assert_eq!(net.inside_sends(&pong), Some((0, pong)));
    assert_eq!(net.gw.endpoint().pools().total_in_use(), 1);
}

/// (d) A silent RADIUS server: the AAA client's retries run out on the virtual clock,
/// the login is refused and logged; with the server answering again, the next login
/// works.
#[test]
fn aaa_timeout_refuses_the_login_and_the_next_one_works() {
    let aaa = MemAaa::new().with_radius(radius_auth(), radius_acct(), radius_server().silent(true));
    let t0 = base();
    let mut net = Net::new(radius_plan(1, |t| t), aaa, 4, t0);
    let c = net.add_client("198.51.100.7:500");
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(!net.clients[c].ep.ready_for_quick_mode(sa));
    assert_eq!(net.gw.stats().in_progress, 1, "Xauth waits for the server");
    net.run_until(Duration::from_secs(120), |n| {
        n.log.iter().any(|r| r.id == MsgId::AuthFailed)
    });
    let refused = net
        .log
        .iter()
        .find(|r| r.id == MsgId::AuthFailed)
        .unwrap_or_else(|| panic!("no refusal: {:?}", net.texts()));
    assert_eq!(
        refused.text,
        "xauth: user 'cisco_customer' no AAA server answered: rejected by aaa-server RADIUS"
    );
    let waited = net.now.saturating_duration_since(t0);
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(60),
        "{waited:?}"
    );
    let server = net.aaa.radius(radius_auth()).unwrap();
    assert!(server.received() >= 2, "the request was retried");
    // Let the client give up too.
    net.run_until(Duration::from_secs(120), |n| n.gw.sessions().count() == 0);
    assert!(!net.clients[c].ep.ready_for_quick_mode(sa));
    assert_eq!(net.gw.endpoint().pools().total_in_use(), 0);
    assert_eq!(net.gw.stats().in_progress, 0);

    // The server is back: the next login works.
    net.aaa.radius_mut(radius_auth()).unwrap().set_silent(false);
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    net.quick_mode(c, sa);
    assert!(net.logged(
        MsgId::AuthSucceeded,
        "xauth: user 'cisco_customer' accepted by aaa-server RADIUS"
    ));
}

/// (e) Xauth against an in-memory TACACS+ server: accepted, and a wrong password is
/// rejected by the same server.
#[test]
fn tacacs_login_is_accepted_and_a_wrong_password_rejected() {
    let aaa = MemAaa::new().with_tacacs(
        tacacs(),
        MemTacacs::new("tackey").user("cisco_customer", "cisco123"),
    );
    let mut net = Net::new(tacacs_plan(), aaa, 5, base());
    let c = net.add_client("198.51.100.7:500");
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    assert!(
        net.logged(
            MsgId::AuthSucceeded,
            "xauth: user 'cisco_customer' accepted by aaa-server TACS"
        ),
        "{:?}",
        net.texts()
    );
    let addr = net.quick_mode(c, sa);
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping), Some(ping));
    let server = net.aaa.tacacs(tacacs()).unwrap();
    assert_eq!(server.logins().len(), 1, "{:?}", server.logins());
    assert!(server.errors().is_empty(), "{:?}", server.errors());

    let d = net.add_client("198.51.100.8:500");
    let sa = net.login(d, vpn_4x("cisco_customer", "nope"));
    assert!(!net.clients[d].ep.ready_for_quick_mode(sa));
    assert!(
        net.logged(
            MsgId::AuthFailed,
            "xauth: user 'cisco_customer' rejected by aaa-server TACS"
        ),
        "{:?}",
        net.texts()
    );
    // The first login passed; every later one (the client's Xauth retries) failed, and
    // each carried the client's address.
    let logins = net.aaa.tacacs(tacacs()).unwrap().logins();
    assert!(logins.len() >= 2, "{logins:?}");
    assert_eq!(logins[0].outcome, TacacsLoginOutcome::Pass);
    assert!(logins[1..]
        .iter()
        .all(|l| l.outcome == TacacsLoginOutcome::Fail && l.user == b"cisco_customer"));
    assert_eq!(logins[0].rem_addr, b"198.51.100.7");
    assert_eq!(logins[1].rem_addr, b"198.51.100.8");
}

/// NAT traversal: a 4.x client behind a NAT floats to port 4500 (IKE behind the non-ESP
/// marker both ways), its IPsec SA is UDP-encapsulated, ESP in UDP goes both ways
/// through `Input::Udp` and `EspDest::Udp` to the NAT's mapping, and the client's
/// keepalives are taken without a drop.
#[test]
fn nat_t_client_floats_to_4500_and_esp_goes_in_udp() {
    let aaa = MemAaa::new().with_radius(radius_auth(), radius_acct(), radius_server());
    let plan = radius_plan(2, |t| {
        t.replace(
            "isakmp enable outside\n",
            "isakmp enable outside\nisakmp nat-traversal 20\n",
        )
    });
    let mut net = Net::new(plan, aaa, 6, base());
    let c = net.add_client_behind_nat("10.0.0.2:500", "203.0.113.50");
    let mut profile = vpn_4x("cisco_customer", "cisco123");
    profile.nat_t = true;
    let sa = net.login(c, profile);
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    assert!(
        net.ike_in_4500 > 0 && net.ike_out_4500 > 0,
        "floated to 4500"
    );
    let s = net.gw.sessions().next().unwrap().clone();
    assert_eq!(
        s.remote,
        "203.0.113.50:34500".parse().unwrap(),
        "the NAT's mapping"
    );
    let addr = net.quick_mode(c, sa);
    assert_eq!(
        net.clients[c].children[0].natt_ports,
        Some((4500, 4500)),
        "UDP-encapsulated on the client"
    );
    let show = net.cmd("show crypto ipsec sa");
    assert!(show.contains("UDP-Encaps"), "{show}");
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping), Some(ping.clone()));
    let pong = icmp("10.89.129.131", &addr.to_string(), true);
    let mut p = pong.clone();
    match net
        .gw
        .handle(net.now, Input::Inside { packet: &mut p }, &mut net.rng)
    {
        Handled::ToOutside { dest, .. } => assert_eq!(
            dest,
            EspDest::Udp("203.0.113.50:34500".parse().unwrap()),
            "to the NAT's mapping of the client's 4500"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.inside_sends(&pong), Some((c, pong)));
    // The client keeps its NAT mapping open; the core takes the keepalives silently.
    let t = net.now;
    net.run_until(Duration::from_secs(45), |n| {
        n.now.saturating_duration_since(t) >= Duration::from_secs(41)
    });
    assert!(net.keepalives_in >= 2, "{}", net.keepalives_in);
    assert_eq!(net.gw.stats().esp_drops.get("truncated"), None);
    assert_eq!(net.gw.sessions().count(), 1);
}

/// (f) The same seed and clock give the same bytes: every IKE datagram and every ESP
/// packet the core sent in scenario (a), byte for byte; another seed differs.
#[test]
fn same_seed_same_bytes() {
    let t0 = base();
    let a = vpn_client_4x_flow(42, t0, radius_plan(2, |t| t));
    let b = vpn_client_4x_flow(42, t0, radius_plan(2, |t| t));
    // IKE (Aggressive Mode, Xauth, Mode Config, Quick Mode) and two ESP packets.
    assert!(a.wire.len() >= 6, "{} datagrams", a.wire.len());
    assert_eq!(a.wire.len(), b.wire.len());
    for (i, (x, y)) in a.wire.iter().zip(&b.wire).enumerate() {
        assert_eq!(x, y, "datagram {i} differs");
    }
    assert_eq!(a.texts(), b.texts(), "the same log");
    assert_eq!(a.debug, b.debug, "the same debug lines");
    let c = vpn_client_4x_flow(43, t0, radius_plan(2, |t| t));
    assert_eq!(a.wire.len(), c.wire.len());
    assert_ne!(
        a.wire[0], c.wire[0],
        "another seed, other cookies and nonces"
    );
    assert!(a.wire.iter().zip(&c.wire).all(|(x, y)| x != y));
}

/// The embedding example runs and prints what it promises.
#[test]
fn the_embedding_example_brings_a_tunnel_up() {
    let out = embed::run().unwrap();
    assert!(out.contains("QM_IDLE"), "{out}");
    assert!(
        out.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{out}"
    );
    assert!(
        out.contains("ping 10.89.129.200 -> 10.89.129.131: through"),
        "{out}"
    );
    assert!(
        out.contains("reply 10.89.129.131 -> 10.89.129.200: through"),
        "{out}"
    );
}
