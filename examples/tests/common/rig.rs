//! The one in-memory scenario harness of the gateway: the integration tests (`core.rs`
//! with one core, `shards.rs` with N shards, `zero_alloc.rs`) include it as
//! `common::rig`, and the gateway's unit tests (`src/gateway/tests.rs`,
//! `ownership_tests.rs`, which also reach the core's private parts) include this same
//! file through `src/gateway/test_support.rs`. It names the gateway crate `super::pix`
//! (`pix_gateway` there, `crate` here).
//!
//! It holds the gateway's cores, `ike-sm` initiators playing the VPN clients (maybe
//! behind a NAT), `testkit::aaa` playing the RADIUS and TACACS+ servers and the `esp`
//! crate the clients' ESP stacks, on a virtual clock with seeded randomness. Nothing
//! opens a socket or sleeps.
//!
//! [`Net`] drives its cores the way the binary drives its worker threads
//! (`shell/serve.rs`, fn `shard` and `first_to_peer`): every datagram from a client goes
//! to the shard that `route::udp` names (the responder cookie, or the SPI of ESP in
//! UDP), a first message (`Route::Any`) to `route::of_peer` of the client's address with
//! a fixed key; raw ESP to `route::raw` (its SPI). Each core's outputs are drained after
//! every input: IKE to the clients, AAA to the servers, whose replies go back to the core
//! that asked (each worker has its own AAA sockets and connections). With one core every
//! route names it, so [`Net::one`] is an embedder's single core driven directly.
//!
//! Each test file adds the methods only it needs in its own `impl Net` block.
//! [`Net::drain_datagrams`] drains a core without delivering its IKE datagrams, for a
//! test that looks at them (or at datagrams to addresses no client has) itself.
#![allow(
    dead_code, // each test file uses its own part
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use super::pix::gateway::route::{self, Route};
use super::pix::gateway::setup::Plan;
use super::pix::{
    demo, DebugKind, EspDest, Gateway, Handled, Input, LogRecord, MsgId, Output, Settings,
};
use esp::{Encapsulation, EspKeys, EspSaParams, InboundSa, LifetimeConfig, OutboundSa};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, ChildSa, ClientProfile, Endpoint, SaId};
use rand::rngs::StdRng;
use rand::SeedableRng;
use testkit::aaa::{AaaReply, MemAaa, MemRadius};
use xauth::aaa::{AaaTransmit, ConnId, RequestId};

pub const GW_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
pub const GW: SocketAddr = SocketAddr::new(IpAddr::V4(GW_IP), 500);
/// The key of `route::of_peer` (the binary draws one per process; fixed here so that
/// the tests can choose client addresses that spread).
pub const PEER_KEY: u64 = 0x5eed_0fc0_ffee_0042;
/// The RADIUS server of the edited demo (`aaa-server RADIUS (inside) host ...`).
pub const RADIUS_IP: &str = "10.89.129.135";
/// A NAT maps a client's private port p to public port p + this.
pub const NAT_PORT_OFFSET: u16 = 30000;

pub fn radius_auth() -> SocketAddr {
    format!("{RADIUS_IP}:1645").parse().unwrap()
}

pub fn radius_acct() -> SocketAddr {
    format!("{RADIUS_IP}:1646").parse().unwrap()
}

/// The demo with Xauth against the RADIUS group (a host with key `radkey`), `timeout`
/// seconds per try; `edit` changes the text further.
pub fn radius_plan(timeout: u32, edit: impl Fn(String) -> String) -> Plan {
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

/// An edit for [`radius_plan`]: NAT traversal on (`isakmp nat-traversal 20`).
pub fn with_nat_t(t: String) -> String {
    let t2 = t.replace(
        "isakmp enable outside\n",
        "isakmp enable outside\nisakmp nat-traversal 20\n",
    );
    assert_ne!(t, t2, "the demo changed");
    t2
}

/// The demo's user `cisco_customer` (`cisco123`), and users `user0` .. `user7`
/// (password `pass0` ..).
pub fn radius_server() -> MemRadius {
    let mut r = MemRadius::new("radkey").user("cisco_customer", "cisco123");
    for i in 0..8 {
        r = r.user(&format!("user{i}"), &format!("pass{i}"));
    }
    r
}

/// The AAA servers: [`radius_server`] at [`radius_auth`] and [`radius_acct`].
pub fn radius_aaa() -> MemAaa {
    MemAaa::new().with_radius(radius_auth(), radius_acct(), radius_server())
}

/// The VPN Client 4.x with the demo's group `vpn3000` (key `cisco1234`).
pub fn vpn_4x(user: &str, password: &str) -> ClientProfile {
    presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", user, password.as_bytes())
}

#[allow(clippy::disallowed_methods)] // the one clock reading: the virtual clock's base
pub fn base() -> Instant {
    Instant::now()
}

/// An IPv4 ICMP echo request (`reply`: an echo reply) with a valid header checksum.
pub fn icmp(src: &str, dst: &str, reply: bool) -> Vec<u8> {
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

/// A TCP segment (no options) with `flags`.
pub fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8) -> Vec<u8> {
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

/// The Internet checksum (RFC 1071) of `b`.
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

/// A raw ESP packet as the raw socket delivers it: an IPv4 header (protocol 50) from
/// `src` to `dst`, then `esp`.
pub fn raw_esp(src: Ipv4Addr, dst: Ipv4Addr, esp: &[u8]) -> Vec<u8> {
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&u16::try_from(esp.len() + 20).unwrap().to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, 50, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(esp);
    p
}

/// The connection id the AAA servers see for core `s`'s connection `conn` (each worker
/// opens its own connections; their ids are its own).
fn wire_conn(s: u8, conn: ConnId) -> ConnId {
    ConnId(conn.0.wrapping_mul(16).wrapping_add(u64::from(s)))
}

/// A VPN client's ESP, built from its Quick Mode result with the `esp` crate alone.
pub struct ClientEsp {
    pub out: OutboundSa,
    pub inb: InboundSa,
}

impl ClientEsp {
    fn new(c: &ChildSa, now: Instant) -> ClientEsp {
        let (enc, integ) = (c.encryption, c.integrity);
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

/// One VPN client: an `ike-sm` initiator at `addr`, maybe behind a NAT.
pub struct Client {
    pub addr: SocketAddr,
    pub ep: Endpoint,
    #[allow(clippy::vec_box)] // as `Event::ChildSa` delivers them
    pub children: Vec<Box<ChildSa>>,
    pub esp: Option<ClientEsp>,
    /// Informational exchanges (DELETEs) it received.
    pub informational: usize,
    /// A NAT in front of it: its public address (ports moved by [`NAT_PORT_OFFSET`]).
    pub nat: Option<Ipv4Addr>,
}

impl Client {
    /// Where the gateway sees a datagram from the client's `local` address.
    pub fn public(&self, local: SocketAddr) -> SocketAddr {
        match self.nat {
            Some(ip) => SocketAddr::new(ip.into(), local.port() + NAT_PORT_OFFSET),
            None => local,
        }
    }

    /// The client's own address for a datagram the gateway sends to `public`.
    pub fn private(&self, public: SocketAddr) -> Option<SocketAddr> {
        match self.nat {
            Some(ip) if public.ip() == IpAddr::V4(ip) => Some(SocketAddr::new(
                self.addr.ip(),
                public.port().checked_sub(NAT_PORT_OFFSET)?,
            )),
            Some(_) => None,
            None => (public.ip() == self.addr.ip()).then_some(public),
        }
    }

    /// The address the gateway sees, which `route::of_peer` hashes.
    pub fn public_ip(&self) -> IpAddr {
        self.public(self.addr).ip()
    }
}

/// An IKE datagram a core sent: the core, its address, the peer's, and the IKE message
/// (without the port-4500 non-ESP marker).
#[derive(Debug, Clone)]
pub struct Datagram {
    pub shard: u8,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub ike: Vec<u8>,
}

/// What was routed to a core, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Routed {
    /// IKE datagrams without a responder cookie (to the peer's shard).
    pub first: u64,
    /// IKE datagrams with a responder cookie (to the cookie's shard).
    pub ike: u64,
    /// ESP, raw or in UDP (to the SPI's shard).
    pub esp: u64,
    /// Packets from the inside (to the owner of the destination).
    pub inside: u64,
}

/// The gateway's cores (shard `s` at index `s`), their clients and AAA servers, on a
/// virtual clock. Everything recorded carries the core it came from.
pub struct Net {
    pub now: Instant,
    pub rng: StdRng,
    pub shards: Vec<Gateway>,
    pub clients: Vec<Client>,
    pub aaa: MemAaa,
    pub log: Vec<(u8, LogRecord)>,
    pub debug: Vec<(u8, DebugKind, String)>,
    /// Key log rows (`Gateway::set_keylog`), copied out of their zeroizing strings
    /// (test keys only).
    pub keylog: Vec<(u8, String)>,
    /// Client routes the cores asked for: (shard, address, up).
    pub routes: Vec<(u8, std::net::Ipv4Addr, bool)>,
    /// Every IKE datagram a core sent and every ESP packet it encapsulated, in order.
    pub wire: Vec<(u8, Vec<u8>)>,
    /// The responder cookie of every IKE message a core sent.
    pub cookies: Vec<(u8, [u8; 8])>,
    pub routed: Vec<Routed>,
    /// NAT keepalives the clients sent.
    pub keepalives_in: usize,
    /// IKE datagrams the clients sent to our port 4500, and the cores sent from it.
    pub ike_in_4500: usize,
    pub ike_out_4500: usize,
}

impl Net {
    /// One core (`Gateway::new`), as an embedder runs it.
    pub fn one(plan: Plan, settings: Settings, aaa: MemAaa, seed: u64, base: Instant) -> Net {
        Net::with(vec![Gateway::new(plan, settings, base)], aaa, seed, base)
    }

    /// One shard per plan (`Gateway::shards`), as the binary runs its workers.
    pub fn sharded(
        plans: Vec<Plan>,
        settings: &Settings,
        aaa: MemAaa,
        seed: u64,
        base: Instant,
    ) -> Net {
        let n = plans.len();
        let shards = Gateway::shards(plans, settings, base);
        assert_eq!(shards.len(), n);
        Net::with(shards, aaa, seed, base)
    }

    fn with(mut shards: Vec<Gateway>, aaa: MemAaa, seed: u64, base: Instant) -> Net {
        for (i, g) in shards.iter_mut().enumerate() {
            assert_eq!(usize::from(g.shard()), i);
            g.set_debug(&[DebugKind::Isakmp, DebugKind::Ipsec]);
        }
        Net {
            now: base,
            rng: StdRng::seed_from_u64(seed),
            routed: vec![Routed::default(); shards.len()],
            shards,
            clients: Vec::new(),
            aaa,
            log: Vec::new(),
            debug: Vec::new(),
            keylog: Vec::new(),
            routes: Vec::new(),
            wire: Vec::new(),
            cookies: Vec::new(),
            keepalives_in: 0,
            ike_in_4500: 0,
            ike_out_4500: 0,
        }
    }

    /// How many cores.
    pub fn n(&self) -> u8 {
        u8::try_from(self.shards.len()).unwrap()
    }

    pub fn add_client(&mut self, addr: SocketAddr) -> usize {
        self.clients.push(Client {
            addr,
            ep: Endpoint::new(presets::client(), modecfg::Pools::new()),
            children: Vec::new(),
            esp: None,
            informational: 0,
            nat: None,
        });
        self.clients.len() - 1
    }

    /// A client at `addr` behind a NAT whose public address is `public`.
    pub fn add_client_behind_nat(&mut self, addr: SocketAddr, public: Ipv4Addr) -> usize {
        let i = self.add_client(addr);
        self.clients[i].nat = Some(public);
        i
    }

    /// A datagram to our UDP port `local` from `remote`, routed as the binary routes it
    /// (`first_to_peer(route::udp(..))`); the core that took it and the inner packet it
    /// passed to the inside, if any.
    pub fn udp_in(
        &mut self,
        local: SocketAddr,
        remote: SocketAddr,
        payload: &mut [u8],
    ) -> (u8, Option<Vec<u8>>) {
        let n = self.n();
        let routed = route::udp(n, local.port(), payload);
        let s = match routed {
            Route::Shard(s) => s,
            Route::Any => route::of_peer(n, PEER_KEY, remote.ip()),
        };
        assert!(s < n, "{routed:?} of {n}");
        let esp = local.port() == 4500
            && matches!(
                esp::udp_encap::classify(payload),
                Ok(esp::udp_encap::Port4500::Esp(_))
            );
        let r = &mut self.routed[usize::from(s)];
        match (esp, routed) {
            (true, _) => r.esp += 1,
            (false, Route::Shard(_)) => r.ike += 1,
            (false, Route::Any) => r.first += 1,
        }
        let inner = match self.shards[usize::from(s)].handle(
            self.now,
            Input::Udp {
                local,
                remote,
                payload,
            },
            &mut self.rng,
        ) {
            Handled::ToInside(r) => Some(payload[r].to_vec()),
            Handled::Done => None,
            other => panic!("{other:?}"),
        };
        (s, inner)
    }

    /// Drains every core: IKE to the clients, AAA to the servers and back to the core
    /// that asked, the rest kept. Whether anything went to a client.
    pub fn drain(&mut self) -> bool {
        let mut moved = false;
        for s in 0..self.n() {
            for d in self.drain_datagrams(s) {
                moved |= self.deliver(&d);
            }
        }
        moved
    }

    /// Drains core `s` until it is quiet as [`Net::drain`] does, but returns its IKE
    /// datagrams (unframed) instead of delivering them.
    pub fn drain_datagrams(&mut self, s: u8) -> Vec<Datagram> {
        let mut out = Vec::new();
        // Bounded: a core that never goes quiet is a failure, not a hang.
        for _ in 0..100_000 {
            let Some(o) = self.shards[usize::from(s)].poll_output() else {
                return out;
            };
            out.extend(self.take(s, o));
        }
        panic!("core {s} never went quiet");
    }

    /// A datagram of a core to the client it is for (through the client's NAT); whether
    /// one was.
    pub fn deliver(&mut self, d: &Datagram) -> bool {
        let to = self
            .clients
            .iter_mut()
            .find_map(|c| c.private(d.remote).map(|p| (c, p)));
        let Some((c, private)) = to else {
            return false;
        };
        if d.ike.get(18) == Some(&5) {
            c.informational += 1;
        }
        c.ep.handle_datagram(self.now, private, d.local, &d.ike, &mut self.rng);
        true
    }

    /// One output of core `s`: its IKE datagram, if it is one.
    fn take(&mut self, s: u8, out: Output) -> Option<Datagram> {
        let gw = usize::from(s);
        match out {
            Output::Udp {
                local,
                remote,
                payload,
            } => {
                self.wire.push((s, payload.clone()));
                let ike = if local.port() == 4500 {
                    match esp::udp_encap::classify(&payload).unwrap() {
                        esp::udp_encap::Port4500::Ike(ike) => {
                            self.ike_out_4500 += 1;
                            ike.to_vec()
                        }
                        esp::udp_encap::Port4500::Keepalive => return None,
                        esp::udp_encap::Port4500::Esp(_) => panic!("ESP as an Output"),
                    }
                } else {
                    payload
                };
                let rcookie: [u8; 8] = ike[8..16].try_into().unwrap();
                self.cookies.push((s, rcookie));
                Some(Datagram {
                    shard: s,
                    local,
                    remote,
                    ike,
                })
            }
            Output::AaaDatagram { to, payload } => {
                let t = AaaTransmit::Datagram {
                    request: RequestId(0),
                    to,
                    payload,
                };
                for r in self.aaa.handle(&t) {
                    if let AaaReply::Datagram { from, payload } = r {
                        self.shards[gw].handle(
                            self.now,
                            Input::AaaDatagram {
                                from,
                                payload: &payload,
                            },
                            &mut self.rng,
                        );
                    }
                }
                None
            }
            Output::AaaStream {
                group,
                conn,
                to,
                payload,
            } => {
                // Each worker opens its own TCP connections: the server sees them apart.
                let t = AaaTransmit::Stream {
                    conn: wire_conn(s, conn),
                    to,
                    payload,
                };
                for r in self.aaa.handle(&t) {
                    let input = match &r {
                        AaaReply::Stream { payload, .. } => Input::AaaStream {
                            group: &group,
                            conn,
                            bytes: payload,
                        },
                        AaaReply::Closed { .. } => Input::AaaStreamClosed {
                            group: &group,
                            conn,
                        },
                        AaaReply::Datagram { .. } => continue,
                    };
                    self.shards[gw].handle(self.now, input, &mut self.rng);
                }
                None
            }
            Output::AaaClose { conn, .. } => {
                self.aaa.handle(&AaaTransmit::Close {
                    conn: wire_conn(s, conn),
                });
                None
            }
            Output::Log(r) => {
                self.log.push((s, r));
                None
            }
            Output::Debug(k, l) => {
                self.debug.push((s, k, l));
                None
            }
            Output::Keylog(k) => {
                self.keylog.push((s, k.as_str().to_string()));
                None
            }
            Output::ClientRoute { addr, up } => {
                self.routes.push((s, addr, up));
                None
            }
            // Reassembled datagrams, ICMP fragmentation-needed: not used by the rig.
            Output::ToInside(_) | Output::Esp { .. } => None,
        }
    }

    /// Moves IKE both ways until quiet.
    pub fn pump(&mut self) {
        for _ in 0..200 {
            let mut moved = false;
            for i in 0..self.clients.len() {
                while let Some(t) = self.clients[i].ep.poll_transmit() {
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
                    let remote = self.clients[i].public(t.local);
                    self.udp_in(t.remote, remote, &mut payload);
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

    /// Runs the virtual clock from deadline to deadline (every core's and client's)
    /// until `done` or `limit` of virtual time passed.
    pub fn run_until(&mut self, limit: Duration, done: impl Fn(&Net) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            let next = self
                .clients
                .iter()
                .filter_map(|c| c.ep.poll_timeout())
                .chain(self.shards.iter().filter_map(Gateway::poll_timeout))
                .min();
            let Some(next) = next.filter(|t| *t <= end) else {
                return;
            };
            self.now = self.now.max(next);
            let now = self.now;
            for g in &mut self.shards {
                g.handle_timeout(now, &mut self.rng);
            }
            for c in &mut self.clients {
                c.ep.handle_timeout(now, &mut self.rng);
            }
            self.pump();
        }
    }

    /// Client `i` logs in with `profile`; IKE runs until quiet.
    pub fn login(&mut self, i: usize, profile: ClientProfile) -> SaId {
        let c = &mut self.clients[i];
        let sa =
            c.ep.initiate(self.now, c.addr, GW, profile, &mut self.rng)
                .unwrap();
        self.pump();
        sa
    }

    /// Quick Mode of client `i` for its Mode Config address (the 4.x and 1.1 request).
    pub fn quick_mode(&mut self, i: usize, sa: SaId) -> Ipv4Addr {
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

    /// Client `i` logs in as `user` with the 4.x profile and runs Quick Mode: its
    /// address.
    pub fn connect(&mut self, i: usize, user: &str, password: &str) -> Ipv4Addr {
        let sa = self.login(i, vpn_4x(user, password));
        assert!(
            self.clients[i].ep.ready_for_quick_mode(sa),
            "client {i} ({}): {:?}",
            self.clients[i].addr,
            self.texts()
        );
        self.quick_mode(i, sa)
    }

    /// An operator's command to core `s` through `Input::Command` (what that core alone
    /// knows and does); then IKE runs until quiet.
    pub fn command(&mut self, s: u8, line: &str) -> String {
        let a = match self.shards[usize::from(s)].handle(
            self.now,
            Input::Command { line },
            &mut self.rng,
        ) {
            Handled::Answer(a) => a,
            other => panic!("{line}: {other:?}"),
        };
        self.pump();
        a
    }

    /// Client `i` sends `packet` through its tunnel (raw ESP, or ESP in UDP from its
    /// 4500 through its NAT after a NAT-T float): the core the SPI routed it to and the
    /// inner packet that core passed to the inside, if any.
    pub fn client_sends(&mut self, i: usize, packet: &[u8]) -> (u8, Option<Vec<u8>>) {
        let c = &mut self.clients[i];
        let esp = c.esp.as_mut().unwrap();
        let mut buf = vec![0u8; packet.len() + 128];
        let n = esp
            .out
            .encapsulate_ip(self.now, &mut self.rng, packet, &mut buf)
            .unwrap();
        buf.truncate(n);
        if let Some(ports) = c.children.last().and_then(|ch| ch.natt_ports) {
            assert_eq!(ports.0, 4500);
            let remote = c.public(SocketAddr::new(c.addr.ip(), 4500));
            let r = self.udp_in(SocketAddr::new(GW_IP.into(), 4500), remote, &mut buf);
            self.pump();
            return r;
        }
        let IpAddr::V4(src) = c.addr.ip() else {
            unreachable!()
        };
        self.raw_esp_in(src, &buf)
    }

    /// Raw ESP from `src` (its IPv4 header added) as the raw socket of core 0 reads it
    /// and hands it to the SPI's shard: that core, and the inner packet it passed to the
    /// inside, if any; then IKE runs until quiet.
    pub fn raw_esp_in(&mut self, src: Ipv4Addr, esp: &[u8]) -> (u8, Option<Vec<u8>>) {
        let mut raw = raw_esp(src, GW_IP, esp);
        let s = match route::raw(self.n(), &raw) {
            Route::Shard(s) => s,
            Route::Any => 0,
        };
        self.routed[usize::from(s)].esp += 1;
        let inner = match self.shards[usize::from(s)].handle(
            self.now,
            Input::RawEsp { packet: &mut raw },
            &mut self.rng,
        ) {
            Handled::ToInside(r) => Some(raw[r].to_vec()),
            Handled::Done => None,
            other => panic!("{other:?}"),
        };
        self.pump();
        (s, inner)
    }

    /// A packet from the inside read by core `reader` (its TUN queue), handed to the
    /// owner of its destination as the binary does: the core that took it, and (the
    /// client that decrypted it, the inner packet) if it went through a tunnel.
    pub fn inside_sends(&mut self, reader: u8, packet: &[u8]) -> (u8, Option<(usize, Vec<u8>)>) {
        let s = route::inside_destination(packet)
            .and_then(|d| self.shards[usize::from(reader)].owner_shard(d))
            .unwrap_or(reader);
        self.routed[usize::from(s)].inside += 1;
        (s, self.inside_at(s, packet))
    }

    /// A packet from the inside taken by core `s` itself (no hand-off): the datagram it
    /// encapsulated, decrypted by the client it went to (which client, and the inner
    /// packet).
    pub fn inside_at(&mut self, s: u8, packet: &[u8]) -> Option<(usize, Vec<u8>)> {
        let (dest, mut datagram, sa) = self.encapsulate_at(s, packet)?;
        assert!(self.shards[usize::from(s)].sessions().any(|x| x.sa == sa));
        let i = self
            .clients
            .iter()
            .position(|c| match dest {
                EspDest::Raw(to) => c.nat.is_none() && c.addr.ip() == IpAddr::V4(to),
                // ESP in UDP from our 4500 to the client's 4500 through its NAT.
                EspDest::Udp(to) => c.private(to).is_some_and(|p| p.port() == 4500),
            })
            .unwrap_or_else(|| panic!("{dest:?} reaches no client"));
        let esp = self.clients[i].esp.as_mut().unwrap();
        let d = esp.inb.decapsulate(self.now, &mut datagram).unwrap();
        assert_eq!(d.next_header, 4, "IPv4 in tunnel mode");
        Some((i, datagram[d.payload].to_vec()))
    }

    /// A packet from the inside taken by core `s`: where the core sends it, the ESP
    /// datagram and its IKE SA, if it went into a tunnel; then IKE runs until quiet.
    pub fn encapsulate_at(&mut self, s: u8, packet: &[u8]) -> Option<(EspDest, Vec<u8>, SaId)> {
        let mut p = packet.to_vec();
        let out = match self.shards[usize::from(s)].handle(
            self.now,
            Input::Inside { packet: &mut p },
            &mut self.rng,
        ) {
            Handled::ToOutside { dest, datagram, sa } => Some((dest, datagram.to_vec(), sa)),
            Handled::Done => None,
            other => panic!("{other:?}"),
        };
        if let Some((_, d, _)) = &out {
            self.wire.push((s, d.clone()));
        }
        self.pump();
        out
    }

    /// Every core's timers at the current time (the clients' are not run), then IKE
    /// runs until quiet.
    pub fn core_timeouts(&mut self) {
        let now = self.now;
        for g in &mut self.shards {
            g.handle_timeout(now, &mut self.rng);
        }
        self.pump();
    }

    /// The log records, of every core, in order.
    pub fn records(&self) -> impl Iterator<Item = &LogRecord> {
        self.log.iter().map(|(_, r)| r)
    }

    /// The debug lines since index `from` of [`Net::debug`].
    pub fn debug_since(&self, from: usize) -> Vec<&str> {
        self.debug[from..]
            .iter()
            .map(|(_, _, l)| l.as_str())
            .collect()
    }

    /// The log texts, each behind the core that logged it (`[0] ...`).
    pub fn texts(&self) -> Vec<String> {
        self.log
            .iter()
            .map(|(s, r)| format!("[{s}] {}", r.text))
            .collect()
    }

    /// How many log records have `id` and a text that contains `text`.
    pub fn logged(&self, id: MsgId, text: &str) -> usize {
        self.log
            .iter()
            .filter(|(_, r)| r.id == id && r.text.contains(text))
            .count()
    }
}
