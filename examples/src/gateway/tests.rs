//! The gateway core without IO: the demo configuration mapped, a client of ours (the
//! seed's VPN Client 4.x preset) through Xauth, Mode Config and Quick Mode, and packets
//! through the ESP data plane, with a seeded RNG and a virtual clock. The rig drives the
//! core only as a driver does: [`Gateway::handle`], [`Gateway::poll_output`],
//! [`Gateway::poll_timeout`] and [`Gateway::handle_timeout`].
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use super::dataplane::{DataPlane, Drop, EspDest};
use super::test_support::{drain, frame, raw_esp, Datagram, Seen};
use super::*;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, Selector, TrafficSelector};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::SocketAddr;
use testkit::aaa::MemAaa;

const GW: &str = "192.168.1.1:500";
const CLIENT: &str = "198.51.100.7:500";

fn demo_plan(extra_users: &[(&str, &str)], edit: impl Fn(String) -> String) -> setup::Plan {
    super::test_support::demo_plan_with(edit, extra_users, &[]).unwrap()
}

fn gw_ip() -> Ipv4Addr {
    "192.168.1.1".parse().unwrap()
}

fn client_ip() -> Ipv4Addr {
    "198.51.100.7".parse().unwrap()
}

struct Rig {
    now: Instant,
    rng: StdRng,
    gw: Gateway,
    client: ike_sm::Endpoint,
    #[allow(clippy::vec_box)] // as `Event::ChildSa` delivers them
    client_children: Vec<Box<ike_sm::ChildSa>>,
    /// The AAA servers the core's requests reach (none: a TACACS+ connection is
    /// refused, a RADIUS request is lost).
    aaa: MemAaa,
    /// Log records, debug lines and key log rows the core gave.
    seen: Seen,
}

impl Rig {
    fn new(plan: setup::Plan) -> Rig {
        Rig::with_settings(plan, Settings::new(gw_ip()))
    }

    fn with_settings(plan: setup::Plan, mut settings: Settings) -> Rig {
        #[allow(clippy::disallowed_methods)] // the one clock reading: the virtual clock's base
        let now = Instant::now();
        settings.config_name = "demo".into();
        let mut gw = Gateway::new(plan, settings, now);
        gw.set_debug(&[DebugKind::Isakmp, DebugKind::Ipsec]);
        Rig {
            now,
            rng: StdRng::seed_from_u64(7),
            gw,
            client: ike_sm::Endpoint::new(presets::client(), modecfg::Pools::new()),
            client_children: Vec::new(),
            aaa: MemAaa::new(),
            seen: Seen::default(),
        }
    }

    /// Everything the core wants done, until it is quiet; the IKE datagrams for peers.
    fn drain(&mut self) -> Vec<Datagram> {
        drain(
            &mut self.gw,
            self.now,
            &mut self.rng,
            &mut self.aaa,
            &mut self.seen,
        )
    }

    /// Moves datagrams both ways until quiet.
    fn pump(&mut self) {
        for _ in 0..50 {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                let mut payload = frame(t.remote, &t.bytes);
                self.gw.handle(
                    self.now,
                    Input::Udp {
                        local: t.remote,
                        remote: t.local,
                        payload: &mut payload,
                    },
                    &mut self.rng,
                );
            }
            for (local, remote, bytes) in self.drain() {
                moved = true;
                self.client
                    .handle_datagram(self.now, remote, local, &bytes, &mut self.rng);
            }
            while let Some(e) = self.client.poll_event() {
                if let ike_sm::Event::ChildSa(c) = e {
                    self.client_children.push(c);
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The core's timers at the rig's clock, then the datagrams they caused.
    fn timeout(&mut self) {
        let now = self.now;
        self.gw.handle_timeout(now, &mut self.rng);
        self.pump();
    }

    /// An operator's command line.
    fn cmd(&mut self, line: &str) -> String {
        let answer = match self
            .gw
            .handle(self.now, Input::Command { line }, &mut self.rng)
        {
            Handled::Answer(a) => a,
            other => panic!("{line}: {other:?}"),
        };
        self.pump();
        answer
    }

    /// Raw ESP from `from` (its IP header added): the inner packet when the core passes
    /// it to the inside.
    fn esp_in(&mut self, from: Ipv4Addr, esp: &[u8]) -> Option<Vec<u8>> {
        let mut packet = raw_esp(from, gw_ip(), esp);
        let inner = match self.gw.handle(
            self.now,
            Input::RawEsp {
                packet: &mut packet,
            },
            &mut self.rng,
        ) {
            Handled::ToInside(r) => Some(packet[r].to_vec()),
            Handled::Done => None,
            other => panic!("{other:?}"),
        };
        self.pump();
        inner
    }

    /// A packet from the inside: where the core sends it, the datagram and its IKE SA.
    fn inside(&mut self, packet: &[u8]) -> Option<(EspDest, Vec<u8>, ike_sm::SaId)> {
        let mut p = packet.to_vec();
        let out = match self
            .gw
            .handle(self.now, Input::Inside { packet: &mut p }, &mut self.rng)
        {
            Handled::ToOutside { dest, datagram, sa } => Some((dest, datagram.to_vec(), sa)),
            Handled::Done => None,
            other => panic!("{other:?}"),
        };
        self.pump();
        out
    }

    /// The debug lines since `from` (an index into them).
    fn debug_since(&self, from: usize) -> Vec<&str> {
        self.seen.debug[from..]
            .iter()
            .map(|(_, l)| l.as_str())
            .collect()
    }

    fn connect(&mut self, user: &str, password: &str) -> ike_sm::SaId {
        let profile =
            presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", user, password.as_bytes());
        let sa = self
            .client
            .initiate(
                self.now,
                CLIENT.parse().unwrap(),
                GW.parse().unwrap(),
                profile,
                &mut self.rng,
            )
            .unwrap();
        self.pump();
        sa
    }

    fn quick_mode(&mut self, sa: ike_sm::SaId) {
        let addr = self.client.assigned_address(sa).unwrap();
        self.client
            .initiate_quick_mode(
                self.now,
                sa,
                presets::vpn_client_quick_mode(addr),
                &mut self.rng,
            )
            .unwrap();
        self.pump();
    }
}

/// The same child SA with its local selector widened to any address.
fn loosen(c: &ike_sm::ChildSa) -> ike_sm::ChildSa {
    ike_sm::ChildSa {
        ike_sa: c.ike_sa,
        message_id: c.message_id,
        spi_in: c.spi_in,
        spi_out: c.spi_out,
        protocol: c.protocol,
        encryption: c.encryption,
        integrity: c.integrity,
        encapsulation: c.encapsulation,
        enc_key_in: c.enc_key_in.duplicate(),
        auth_key_in: c.auth_key_in.duplicate(),
        enc_key_out: c.enc_key_out.duplicate(),
        auth_key_out: c.auth_key_out.duplicate(),
        local_selector: TrafficSelector::new(Selector::Subnet(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
        )),
        remote_selector: c.remote_selector,
        life_secs: c.life_secs,
        life_kb: c.life_kb,
        local: c.local,
        remote: c.remote,
        natt_ports: c.natt_ports,
        peer_original_addr: c.peer_original_addr,
        assigned_address: c.assigned_address,
    }
}

fn icmp(src: &str, dst: &str) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1, 0, 1,
    ];
    let s: Ipv4Addr = src.parse().unwrap();
    let d: Ipv4Addr = dst.parse().unwrap();
    p[12..16].copy_from_slice(&s.octets());
    p[16..20].copy_from_slice(&d.octets());
    p
}

/// An ICMP echo reply.
fn icmp_reply(src: &str, dst: &str) -> Vec<u8> {
    let mut p = icmp(src, dst);
    p[20] = 0;
    p
}

#[test]
fn demo_config_maps_onto_the_crates() {
    let plan = demo_plan(&[], |t| t);
    assert_eq!(plan.outside_if, "outside");
    assert_eq!(plan.outside_addr, Some("192.168.1.1".parse().unwrap()));
    assert_eq!(plan.crypto_map, "mymap");
    assert_eq!(plan.xauth_tag.as_deref(), Some("LOCAL"));
    assert!(plan.permit_ipsec);
    let gw = plan.ike.gateway.as_ref().unwrap();
    let prios: Vec<u32> = gw.policies.iter().map(|p| p.priority).collect();
    assert_eq!(prios, [10, 20]);
    assert_eq!(gw.policies[0].group, DhGroup::Modp1024);
    assert_eq!(gw.policies[1].group, DhGroup::Modp768);
    assert_eq!(gw.groups.len(), 1);
    assert_eq!(gw.groups[0].name, "vpn3000");
    assert!(gw.groups[0].password.ct_eq(b"cisco1234"));
    assert_eq!(gw.groups[0].policy.address_pools, ["VPNpool"]);
    assert_eq!(
        gw.groups[0].policy.idle_time,
        Some(Duration::from_secs(1800))
    );
    assert_eq!(gw.keys.len(), 1);
    assert_eq!(gw.transform_sets.len(), 1);
    assert_eq!(
        gw.transform_sets[0].cipher,
        ike_sm::EncryptionAlgorithm::Des
    );
    assert!(gw.client_authentication);
    assert!(gw.mode_config.initiate && gw.mode_config.respond);
    assert_eq!(gw.nat_traversal, None);
    assert_eq!(gw.default_policy.address_pools, ["VPNpool"]);
    assert_eq!(plan.pools.pool("VPNpool").unwrap().size(), 5);
    assert_eq!(plan.local_users.len(), 1);
}

#[test]
fn config_mistakes_are_one_clear_line_each() {
    // masked group password without a secrets entry, a missing transform set, and an
    // unknown AAA tag: all reported, each naming the command and the fix
    let text = crate::demo::CONFIG
        .replace(
            "crypto dynamic-map dynmap 10 set transform-set myset",
            "crypto dynamic-map dynmap 10 set transform-set nosuchset",
        )
        .replace("client authentication LOCAL", "client authentication NOPE");
    let out = pix_config::parse(&text);
    let errs = setup::plan(&out.config, Vec::new()).unwrap_err();
    let all = errs.join("\n");
    assert!(
        all.contains("vpngroup vpn3000 password is masked (********)")
            && all.contains("`vpngroup vpn3000 password <secret>`"),
        "{all}"
    );
    assert!(all.contains("isakmp key for 0.0.0.0 is masked"), "{all}");
    assert!(
        all.contains("transform-set nosuchset is not defined"),
        "{all}"
    );
    assert!(
        all.contains("client authentication NOPE: no `aaa-server NOPE protocol ...`"),
        "{all}"
    );
    for e in &errs {
        assert!(!e.contains('\n'), "one line each: {e:?}");
    }
}

#[test]
fn seed_flow_through_the_gateway_core_and_the_data_plane() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    rig.gw.set_keylog(true);
    let sa = rig.connect("cisco_customer", "cisco123");
    assert!(rig.client.ready_for_quick_mode(sa));
    assert_eq!(
        rig.client.assigned_address(sa),
        Some("10.89.129.200".parse().unwrap())
    );
    rig.quick_mode(sa);
    assert_eq!(rig.client_children.len(), 1);
    assert_eq!(rig.gw.data_plane().len(), 1);
    // keylog: one IKE row and two ESP rows, and nothing of it in the operator log
    assert_eq!(rig.seen.keylog.len(), 3, "{:?}", rig.seen.keylog);
    assert!(rig.seen.keylog[0].starts_with("ikev1_decryption_table:"));
    let (cky, key) = rig.client.phase1_keylog(sa).unwrap();
    assert_eq!(
        rig.seen.keylog[0],
        keylog::ike_line(&cky, key.expose_secret())
    );
    let ike_key = rig.seen.keylog[0].rsplit(',').next().unwrap().to_string();
    for r in &rig.seen.log {
        let fields: Vec<&str> = r.fields.iter().map(|(_, v)| v.as_str()).collect();
        for t in std::iter::once(r.text.as_str()).chain(fields) {
            assert!(!t.contains("cisco123") && !t.contains(&ike_key), "{r:?}");
        }
    }
    for (_, l) in &rig.seen.debug {
        assert!(!l.contains("cisco123"), "{l}");
    }
    // typed records: phase 1, the address, Xauth, the IPsec SA, each with its PIX id
    let ids: Vec<MsgId> = rig.seen.log.iter().map(|r| r.id).collect();
    for id in [
        MsgId::Phase1Completed,
        MsgId::AuthSucceeded,
        MsgId::AddressAssigned,
        MsgId::IpsecSaCreated,
    ] {
        assert!(ids.contains(&id), "{id:?} not in {:?}", rig.seen.log);
    }
    let auth = rig
        .seen
        .log
        .iter()
        .find(|r| r.id == MsgId::AuthSucceeded)
        .unwrap();
    assert_eq!(
        auth.pix_line(),
        "%PIX-6-109005: xauth: user 'cisco_customer' accepted by aaa-server LOCAL"
    );
    assert!(auth
        .fields
        .contains(&("user", "cisco_customer".to_string())));

    // client -> gateway: an ICMP echo from its pool address to the inside host
    let mut client_dp = DataPlane::new();
    client_dp.install(&rig.client_children[0], rig.now).unwrap();
    let ping = icmp("10.89.129.200", "10.89.129.131");
    let mut buf = vec![0u8; 2048];
    let (n, dest, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &ping, &mut buf)
        .unwrap();
    assert_eq!(dest, EspDest::Raw(gw_ip()));
    let inner = rig.esp_in(client_ip(), &buf[..n]).unwrap();
    assert_eq!(inner, ping);
    let ike = rig.gw.data_plane().children().next().unwrap().1.ike_sa;
    assert!(rig.gw.sessions().any(|s| s.sa == ike));
    // A client that forges: a second sender with the same keys and no source check of
    // its own. Its first packet reuses sequence number 1 (a replay, counted by kind);
    // its second claims another user's pool address (dropped by the selector check).
    let mut forger = DataPlane::new();
    forger
        .install(&loosen(&rig.client_children[0]), rig.now)
        .unwrap();
    let (n, _, _) = forger
        .outbound(rig.now, &mut rig.rng, &ping, &mut buf)
        .unwrap();
    let at = rig.seen.debug.len();
    assert_eq!(rig.esp_in(client_ip(), &buf[..n]), None);
    let replayed = format!(
        "IPSEC(inbound): packet from 198.51.100.7 dropped: {}",
        Drop::Esp("replayed").word()
    );
    assert_eq!(rig.debug_since(at), [replayed.as_str()]);
    let spoof = icmp("10.89.129.201", "10.89.129.131");
    let (n, _, _) = forger
        .outbound(rig.now, &mut rig.rng, &spoof, &mut buf)
        .unwrap();
    let at = rig.seen.debug.len();
    assert_eq!(rig.esp_in(client_ip(), &buf[..n]), None);
    let selector = Drop::Selector {
        src: "10.89.129.201".parse().unwrap(),
        dst: "10.89.129.131".parse().unwrap(),
    };
    assert!(
        rig.debug_since(at)
            .iter()
            .any(|l| l.ends_with(&format!("dropped: {}", selector.word()))),
        "{:?}",
        rig.debug_since(at)
    );

    // gateway -> client: the reply from the inside host is routed to the client's SA
    let reply = icmp_reply("10.89.129.131", "10.89.129.200");
    let (dest, mut esp, sa_out) = rig.inside(&reply).unwrap();
    assert_eq!(dest, EspDest::Raw(client_ip()));
    assert_eq!(sa_out, ike);
    let (range, _, _, _) = client_dp
        .inbound(rig.now, gw_ip().into(), &mut esp)
        .unwrap();
    assert_eq!(&esp[range], &reply[..]);
    // nobody has 10.89.129.202
    let at = rig.seen.debug.len();
    assert!(rig
        .inside(&icmp_reply("10.89.129.131", "10.89.129.202"))
        .is_none());
    let dropped = rig.debug_since(at);
    assert!(
        dropped.iter().any(|l| l.contains("dropped")),
        "the drop is told: {dropped:?}"
    );

    // show commands in the PIX's layout
    let s = rig.cmd("show crypto isakmp sa");
    assert!(s.starts_with("Total     : 1\nEmbryonic : 0\n"), "{s}");
    assert!(s.contains("192.168.1.1     198.51.100.7    QM_IDLE"), "{s}");
    let s = rig.cmd("show crypto ipsec sa");
    assert!(
        s.contains("#pkts decaps: 1, #pkts decrypt: 1, #pkts verify 1"),
        "{s}"
    );
    assert!(
        s.contains("#pkts encaps: 1, #pkts encrypt: 1, #pkts digest 1"),
        "{s}"
    );
    assert!(s.contains("recv errors (replayed): 1"), "{s}");
    assert!(
        s.contains("recv errors (outside the SA's proxy identities): 1"),
        "{s}"
    );
    assert!(
        s.contains("remote ident (addr/mask/prot/port): (10.89.129.200/255.255.255.255/0/0)"),
        "{s}"
    );
    let s = rig.cmd("show uauth");
    assert!(
        s.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{s}"
    );
    let s = rig.cmd("show ip local pool VPNpool");
    assert!(s.contains("In use addresses:\n10.89.129.200\n"), "{s}");
    let s = rig.cmd("show nonsense");
    assert!(s.starts_with("% Unknown command"), "{s}");

    // clear crypto isakmp sa: DELETEs out, the session and the lease gone
    let s = match rig.gw.handle(
        rig.now,
        Input::Command {
            line: "clear crypto isakmp sa 198.51.100.7",
        },
        &mut rig.rng,
    ) {
        Handled::Answer(a) => a,
        other => panic!("{other:?}"),
    };
    assert_eq!(s, "1 IKE SA(s) with 198.51.100.7 cleared\n");
    assert_eq!(rig.gw.sessions().count(), 0);
    assert!(rig.gw.data_plane().is_empty());
    assert_eq!(rig.gw.endpoint().pools().total_in_use(), 0);
    // the client gets the ISAKMP DELETE, then the IPsec one, and drops everything
    let mut deletes = 0;
    for (local, remote, bytes) in rig.drain() {
        assert_eq!(bytes[18], 5, "Informational");
        assert_eq!(
            (local, remote),
            (GW.parse().unwrap(), CLIENT.parse().unwrap())
        );
        deletes += 1;
        rig.client
            .handle_datagram(rig.now, remote, local, &bytes, &mut rig.rng);
    }
    assert_eq!(deletes, 2);
    assert_eq!(rig.client.sa_count(), 0, "the client kept its SA");
    assert!(
        rig.seen
            .log
            .iter()
            .any(|r| r.id == MsgId::Phase1Deleted
                && r.text.contains("10.89.129.200 back to the pool"))
    );
}

#[test]
fn wrong_password_is_refused_by_local_and_leaves_nothing() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    let sa = rig.connect("cisco_customer", "wrong");
    assert!(!rig.client.ready_for_quick_mode(sa));
    let refused = rig
        .seen
        .log
        .iter()
        .find(|r| r.text == "xauth: user 'cisco_customer' rejected by aaa-server LOCAL");
    assert!(refused.is_some(), "{:?}", rig.seen.texts());
    assert_eq!(refused.unwrap().id, MsgId::AuthFailed);
    // the retries run out on the SA's timers
    for _ in 0..20 {
        rig.now += Duration::from_secs(10);
        let now = rig.now;
        rig.client.handle_timeout(now, &mut rig.rng);
        rig.timeout();
    }
    assert_eq!(rig.gw.endpoint().pools().total_in_use(), 0);
    assert_eq!(
        rig.gw.sessions().count(),
        0,
        "{:?}",
        rig.gw.sessions().collect::<Vec<_>>()
    );
    assert_eq!(rig.gw.endpoint().sa_count(), 0);
    assert!(!rig.seen.logged(|t| t.contains("wrong")));
}

#[test]
fn idle_time_disconnects_and_returns_the_address() {
    let mut rig = Rig::new(demo_plan(&[], |t| {
        t.replace(
            "vpngroup vpn3000 idle-time 1800",
            "vpngroup vpn3000 idle-time 60",
        )
    }));
    let sa = rig.connect("cisco_customer", "cisco123");
    rig.quick_mode(sa);
    assert_eq!(rig.gw.endpoint().pools().total_in_use(), 1);
    let deadline = rig.gw.poll_timeout().unwrap();
    assert!(deadline <= rig.now + Duration::from_secs(60));
    rig.now += Duration::from_secs(61);
    rig.timeout();
    assert_eq!(rig.gw.sessions().count(), 0);
    assert!(rig.gw.data_plane().is_empty());
    assert_eq!(rig.gw.endpoint().pools().total_in_use(), 0);
    assert!(rig
        .seen
        .log
        .iter()
        .any(|r| r.id == MsgId::SessionLimit && r.text.contains("vpngroup idle-time reached")));
}

/// The seed flow with only `kinds` of debug wanted: the debug lines that came out.
fn debug_of_seed_flow(kinds: &[DebugKind]) -> Vec<(DebugKind, String)> {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    rig.gw.set_debug(kinds);
    let sa = rig.connect("cisco_customer", "cisco123");
    rig.quick_mode(sa);
    assert_eq!(rig.client_children.len(), 1, "the flow ran");
    // an inbound drop (unknown SPI): an IPSEC( line
    rig.esp_in(
        client_ip(),
        &[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0],
    );
    std::mem::take(&mut rig.seen.debug)
}

#[test]
fn debug_lines_are_sorted_by_debug_kind() {
    let both = debug_of_seed_flow(&[DebugKind::Isakmp, DebugKind::Ipsec]);
    let isakmp: Vec<&String> = both
        .iter()
        .filter(|(k, _)| *k == DebugKind::Isakmp)
        .map(|(_, l)| l)
        .collect();
    let ipsec: Vec<&String> = both
        .iter()
        .filter(|(k, _)| *k == DebugKind::Ipsec)
        .map(|(_, l)| l)
        .collect();
    assert!(
        isakmp
            .iter()
            .any(|l| l.as_str() == "ISAKMP (0): atts are acceptable. Next payload is 3"),
        "{isakmp:?}"
    );
    assert!(
        isakmp.iter().all(|l| !l.starts_with("IPSEC(")),
        "{isakmp:?}"
    );
    assert!(ipsec.iter().all(|l| l.starts_with("IPSEC(")));
    assert!(
        ipsec.iter().any(|l| l.starts_with("IPSEC(spi_response)")),
        "{ipsec:?}"
    );
    assert!(
        ipsec.iter().any(|l| l.starts_with("IPSEC(inbound)")),
        "{ipsec:?}"
    );
    // Routing: with one kind wanted, exactly that kind's lines come out, the same ones.
    let only_ipsec = debug_of_seed_flow(&[DebugKind::Ipsec]);
    assert!(!only_ipsec.is_empty());
    assert!(
        only_ipsec
            .iter()
            .all(|(k, l)| *k == DebugKind::Ipsec && l.starts_with("IPSEC(")),
        "{only_ipsec:?}"
    );
    let got: Vec<&String> = only_ipsec.iter().map(|(_, l)| l).collect();
    assert_eq!(got, ipsec);
    let only_isakmp = debug_of_seed_flow(&[DebugKind::Isakmp]);
    assert!(!only_isakmp.is_empty());
    assert!(
        only_isakmp
            .iter()
            .all(|(k, l)| *k == DebugKind::Isakmp && !l.starts_with("IPSEC(")),
        "{only_isakmp:?}"
    );
    let got: Vec<&String> = only_isakmp.iter().map(|(_, l)| l).collect();
    assert_eq!(got, isakmp);
    // `no debug`: nothing at all.
    assert_eq!(debug_of_seed_flow(&[]), []);
}

#[test]
fn limits_from_the_command_line() {
    let mut l = ike_sm::Limits::default();
    setup::apply_limit(&mut l, "half-open-timeout=5").unwrap();
    setup::apply_limit(&mut l, "dpd-idle=10").unwrap();
    setup::apply_limit(&mut l, "retransmit-initial-ms=500").unwrap();
    assert_eq!(l.half_open_timeout, Duration::from_secs(5));
    assert_eq!(l.dpd_idle, Some(Duration::from_secs(10)));
    assert_eq!(l.retransmit_initial, Duration::from_millis(500));
    setup::apply_limit(&mut l, "dpd-idle=0").unwrap();
    assert_eq!(l.dpd_idle, None);
    let e = setup::apply_limit(&mut l, "bogus=1").unwrap_err();
    assert!(
        e.contains("unknown name") && e.contains("half-open-timeout"),
        "{e}"
    );
    let e = setup::apply_limit(&mut l, "max-sas=lots").unwrap_err();
    assert!(e.contains("not a whole number"), "{e}");
    assert!(setup::apply_limit(&mut l, "max-sas").is_err());
}

#[test]
fn tunnelled_packets_pass_the_policy_both_ways() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    let sa = rig.connect("cisco_customer", "cisco123");
    rig.quick_mode(sa);
    let mut client_dp = DataPlane::new();
    client_dp.install(&rig.client_children[0], rig.now).unwrap();
    let ping = icmp("10.89.129.200", "10.89.129.131");
    let mut buf = vec![0u8; 2048];
    let (n, _, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &ping, &mut buf)
        .unwrap();
    let r = rig.esp_in(client_ip(), &buf[..n]);
    assert!(r.is_some(), "{:?}", rig.seen.debug);
    assert_eq!(r.unwrap(), ping);
    let reply = icmp_reply("10.89.129.131", "10.89.129.200");
    let r = rig.inside(&reply);
    assert!(r.is_some(), "{:?}", rig.seen.debug);
    let (_, mut esp, _) = r.unwrap();
    let (range, _, _, _) = client_dp
        .inbound(rig.now, gw_ip().into(), &mut esp)
        .unwrap();
    assert_eq!(&esp[range], &reply[..]);
    let stats = rig.gw.stats();
    assert_eq!((stats.packets_in, stats.packets_out), (1, 1));
}

fn tcp(src: &str, sport: u16, dst: &str, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let total = 40 + payload.len();
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&src.parse::<Ipv4Addr>().unwrap().octets());
    p[16..20].copy_from_slice(&dst.parse::<Ipv4Addr>().unwrap().octets());
    p[20..22].copy_from_slice(&sport.to_be_bytes());
    p[22..24].copy_from_slice(&dport.to_be_bytes());
    p[32] = 0x50;
    p[33] = flags;
    p[40..].copy_from_slice(payload);
    p
}

/// Phase-1 expiry ends a user like any other teardown: the SAs go, the uauth entry
/// goes, the open TCP connection gets its accounting stop, the address returns.
#[test]
fn phase1_expiry_ends_the_user_with_an_accounting_stop() {
    let mut rig = Rig::new(demo_plan(&[], |t| {
        t.replace(
            "isakmp policy 10 lifetime 86400",
            "isakmp policy 10 lifetime 120",
        )
    }));
    // The demo's `aaa accounting ... AuthInbound`: TACACS+ at 10.89.129.134, key
    // secretkey, in memory.
    let acct: SocketAddr = "10.89.129.134:49".parse().unwrap();
    rig.aaa = MemAaa::new().with_tacacs(acct, testkit::aaa::MemTacacs::new("secretkey"));
    let sa = rig.connect("cisco_customer", "cisco123");
    rig.quick_mode(sa);
    let mut client_dp = DataPlane::new();
    client_dp.install(&rig.client_children[0], rig.now).unwrap();
    let mut buf = vec![0u8; 2048];
    // a telnet connection through the tunnel: SYN from the client, SYN-ACK back
    let syn = tcp("10.89.129.200", 40000, "10.89.129.131", 23, 0x02, b"");
    let (n, _, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &syn, &mut buf)
        .unwrap();
    assert!(
        rig.esp_in(client_ip(), &buf[..n]).is_some(),
        "{:?}",
        rig.seen.debug
    );
    let synack = tcp("10.89.129.131", 23, "10.89.129.200", 40000, 0x12, b"");
    assert!(rig.inside(&synack).is_some());
    let start = rig.seen.log.iter().find(|r| {
        r.text.starts_with(
            "accounting start: user 'cisco_customer' at 10.89.129.200 telnet to 10.89.129.131",
        )
    });
    assert!(start.is_some(), "{:?}", rig.seen.texts());
    assert_eq!(start.unwrap().id, MsgId::Accounting);
    let conn = rig.cmd("show conn");
    assert!(
        conn.contains("10.89.129.131") && conn.contains("10.89.129.200"),
        "{conn}"
    );
    // the IKE SA's lifetime runs out on the gateway
    rig.now += Duration::from_secs(121);
    rig.timeout();
    assert_eq!(rig.gw.sessions().count(), 0, "{:?}", rig.seen.texts());
    assert!(rig.gw.data_plane().is_empty());
    assert_eq!(rig.gw.endpoint().pools().total_in_use(), 0);
    assert!(
        rig.seen.logged(|t| t.starts_with(
            "accounting stop: user 'cisco_customer' at 10.89.129.200 telnet to 10.89.129.131"
        )),
        "{:?}",
        rig.seen.texts()
    );
    let uauth = rig.cmd("show uauth");
    assert!(uauth.contains("Authenticated Users         0"), "{uauth}");
    let conn = rig.cmd("show conn");
    assert!(!conn.contains("10.89.129.200"), "{conn}");
    // Both records reached the accounting server, over the core's AAA outputs: a start
    // and a stop of the same task for the user at its address.
    let server = rig.aaa.tacacs(acct).unwrap();
    assert!(server.errors().is_empty(), "{:?}", server.errors());
    let seen = server.accounting();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let flags: Vec<u8> = seen.iter().map(|r| r.request.flags).collect();
    assert_eq!(
        flags,
        [
            xauth::tacacs::acct_flag::START,
            xauth::tacacs::acct_flag::STOP
        ]
    );
    assert_eq!(seen[0].arg_u64("task_id"), seen[1].arg_u64("task_id"));
    assert!(seen.iter().all(|r| r.request.user == b"cisco_customer"));
    assert!(!rig.seen.log.iter().any(|r| r.id == MsgId::AaaProblem));
}

impl Rig {
    /// A login of the 4.x client from `from` (another address than [`CLIENT`]); the
    /// exchange runs until quiet, held Xauth refusals included (the clock moves on).
    fn connect_from(&mut self, from: &str, user: &str, password: &str) -> ike_sm::SaId {
        let mut profile =
            presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", user, password.as_bytes());
        profile.initial_contact = false;
        let sa = self
            .client
            .initiate(
                self.now,
                from.parse().unwrap(),
                GW.parse().unwrap(),
                profile,
                &mut self.rng,
            )
            .unwrap();
        self.pump();
        // Held refusals come due: let the clock run until nothing is held.
        for _ in 0..20 {
            if self.gw.stats().held == 0 {
                break;
            }
            let Some(t) = self.gw.poll_timeout() else {
                break;
            };
            self.now = self.now.max(t);
            self.timeout();
        }
        sa
    }

    /// AAA verdicts given so far (LOCAL: each one is a password check).
    fn aaa_checks(&self) -> u64 {
        self.gw.stats().xauth.values().sum()
    }
}

#[test]
fn xauth_guessing_is_throttled_across_ike_sas_per_user_and_source() {
    // The defaults, with a lockout longer than the whole guessing loop (40 SAs, each
    // with the client's Xauth retries, each refusal held up to `delay_max`).
    let cfg = xauth::ThrottleConfig {
        lockout: Duration::from_secs(3600),
        ..xauth::ThrottleConfig::default()
    };
    let mut settings = Settings::new(gw_ip());
    settings.guard = guard::GuardLimits {
        xauth: cfg.clone(),
        ..guard::GuardLimits::default()
    };
    let mut rig = Rig::with_settings(demo_plan(&[], |t| t), settings);
    let guesser = "198.51.100.66:500";
    let t0 = rig.now;
    // A guesser in a loop: a new IKE SA per try (and the client's own Xauth retries
    // inside each SA), 40 SAs.
    let mut refused_at = Vec::new();
    for _ in 0..40 {
        let before = rig.now;
        let sa = rig.connect_from(guesser, "cisco_customer", "guess");
        assert!(!rig.client.ready_for_quick_mode(sa));
        refused_at.push(rig.now.saturating_duration_since(before));
        rig.now += Duration::from_millis(100);
    }
    // Only `max_failures` guesses reached the password check; every later one was
    // refused by the throttle without asking.
    assert_eq!(rig.aaa_checks(), u64::from(cfg.max_failures));
    let stats = rig.gw.stats().throttle;
    assert_eq!(stats.lockouts_user_source, 1);
    assert!(stats.refused_user_source >= 30, "{stats:?}");
    assert_eq!(
        stats.lockouts_user, 0,
        "one address cannot lock the user out"
    );
    // The refusals were held back: the guesser waited for them.
    assert!(
        refused_at.iter().skip(5).all(|d| *d >= cfg.delay_start),
        "{refused_at:?}"
    );
    // Visible without debug: metrics and show.
    let m = rig.gw.metrics_text(rig.now);
    assert!(
        m.contains("pix_xauth_throttle_total{event=\"lockout_user_source\"} 1"),
        "{m}"
    );
    let show = rig.cmd("show crypto isakmp stats");
    assert!(
        show.contains("lockouts of a user from one address"),
        "{show}"
    );
    // The right password from the guesser's address is refused while locked...
    let sa = rig.connect_from(guesser, "cisco_customer", "cisco123");
    assert!(!rig.client.ready_for_quick_mode(sa));
    assert_eq!(rig.aaa_checks(), u64::from(cfg.max_failures));
    // ... while the same user from another address gets in.
    let sa = rig.connect_from("203.0.113.9:500", "cisco_customer", "cisco123");
    assert!(rig.client.ready_for_quick_mode(sa));
    // Once the lockout passed, the right password works from the guesser's address.
    rig.now = t0 + cfg.lockout + cfg.window + Duration::from_secs(60);
    rig.timeout();
    let sa = rig.connect_from(guesser, "cisco_customer", "cisco123");
    assert!(rig.client.ready_for_quick_mode(sa));
    // The log summarised the refusals in a bounded number of lines, and no password.
    let lines: Vec<&LogRecord> = rig
        .seen
        .log
        .iter()
        .filter(|r| r.text.starts_with("xauth: ") && r.text.contains("dropped or refused"))
        .collect();
    // At most one line per reason per interval (two xauth reasons here).
    let intervals = rig.now.saturating_duration_since(t0).as_secs() / 10 + 1;
    assert!(
        !lines.is_empty() && lines.len() as u64 <= 2 * intervals,
        "{} lines in {intervals} intervals",
        lines.len()
    );
    assert!(lines.iter().all(|r| r.id == MsgId::Summary), "{lines:?}");
    for r in &rig.seen.log {
        assert!(
            !r.text.contains("guess") && !r.text.contains("cisco123"),
            "{r:?}"
        );
    }
}

#[test]
fn a_flood_shows_in_stats_and_metrics_without_debug() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    rig.gw.set_debug(&[]);
    // A Main Mode first message of our client, sent from 300 spoofed addresses.
    let mut spoofer = ike_sm::Endpoint::new(presets::client(), modecfg::Pools::new());
    let profile = presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "u", b"p");
    spoofer
        .initiate_main(
            rig.now,
            "10.99.0.1:500".parse().unwrap(),
            GW.parse().unwrap(),
            profile,
            &mut rig.rng,
        )
        .unwrap();
    let mut mm1 = spoofer.poll_transmit().unwrap().bytes;
    let mut answered = 0;
    for n in 0..300u32 {
        mm1[..4].copy_from_slice(&n.to_be_bytes());
        let from = SocketAddr::new(Ipv4Addr::from(0x0a63_0000 | n).into(), 500);
        let mut payload = mm1.clone();
        rig.gw.handle(
            rig.now,
            Input::Udp {
                local: GW.parse().unwrap(),
                remote: from,
                payload: &mut payload,
            },
            &mut rig.rng,
        );
        answered += rig.drain().iter().filter(|(_, to, _)| *to == from).count();
    }
    assert!(answered > 0, "the gateway answered some first messages");
    assert!(rig.seen.debug.is_empty(), "{:?}", rig.seen.debug);
    let pressure = rig.gw.endpoint().limits().pressure_half_open;
    assert!(300 >= pressure, "the test floods past the pressure mark");
    let show = rig.cmd("show crypto isakmp stats");
    assert!(
        show.contains("Half-open SAs:   300 of 2048 (under pressure"),
        "{show}"
    );
    let m = rig.gw.metrics_text(rig.now);
    assert!(m.contains("pix_ike_half_open 300\n"), "{m}");
    assert!(m.contains("pix_ike_under_pressure 1\n"), "{m}");
    assert!(m.contains("pix_ike_phase1_modexps_total 0\n"), "{m}");
    // And a real user still gets in.
    let sa = rig.connect("cisco_customer", "cisco123");
    assert!(rig.client.ready_for_quick_mode(sa));
}

#[test]
fn truncated_esp_datagrams_are_counted() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    // A port-4500 payload of 3 bytes (no keepalive, too short for ESP or IKE) and a raw
    // packet without its whole IP header.
    let mut short = [1u8, 2, 3];
    rig.gw.handle(
        rig.now,
        Input::Udp {
            local: "192.168.1.1:4500".parse().unwrap(),
            remote: "198.51.100.7:4500".parse().unwrap(),
            payload: &mut short,
        },
        &mut rig.rng,
    );
    let mut headless = [0x45u8, 0, 0, 10, 0, 0, 0, 0, 64, 50];
    rig.gw.handle(
        rig.now,
        Input::RawEsp {
            packet: &mut headless,
        },
        &mut rig.rng,
    );
    // A keepalive is no drop.
    let mut keepalive = [0xffu8];
    rig.gw.handle(
        rig.now,
        Input::Udp {
            local: "192.168.1.1:4500".parse().unwrap(),
            remote: "198.51.100.7:4500".parse().unwrap(),
            payload: &mut keepalive,
        },
        &mut rig.rng,
    );
    assert!(rig.drain().is_empty());
    let m = rig.gw.metrics_text(rig.now);
    assert!(
        m.contains("pix_drops_total{stage=\"esp\",reason=\"truncated\"} 2\n"),
        "{m}"
    );
    let show = rig.cmd("show drops");
    assert!(show.contains("truncated"), "{show}");
}
