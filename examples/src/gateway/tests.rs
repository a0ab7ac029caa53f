//! The gateway core without IO: the demo configuration mapped, a client of ours (the
//! seed's VPN Client 4.x preset) through Xauth, Mode Config and Quick Mode, and packets
//! through the ESP data plane, with a seeded RNG and a virtual clock.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use super::dataplane::{DataPlane, Drop, EspDest};
use super::*;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, Selector, TrafficSelector};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::SocketAddr;

const GW: &str = "192.168.1.1:500";
const CLIENT: &str = "198.51.100.7:500";

fn demo_plan(extra_users: &[(&str, &str)], edit: impl Fn(String) -> String) -> setup::Plan {
    super::test_support::demo_plan_with(edit, extra_users, &[]).unwrap()
}

struct Rig {
    now: Instant,
    rng: StdRng,
    gw: Gateway,
    client: ike_sm::Endpoint,
    #[allow(clippy::vec_box)] // as `Event::ChildSa` delivers them
    client_children: Vec<Box<ike_sm::ChildSa>>,
}

impl Rig {
    fn new(plan: setup::Plan) -> Rig {
        #[allow(clippy::disallowed_methods)] // the one clock reading: the virtual clock's base
        let now = Instant::now();
        Rig {
            now,
            rng: StdRng::seed_from_u64(7),
            gw: Gateway::new(plan, "192.168.1.1".parse().unwrap(), now, "demo".into()),
            client: ike_sm::Endpoint::new(presets::client(), modecfg::Pools::new()),
            client_children: Vec::new(),
        }
    }

    /// Moves datagrams both ways until quiet.
    fn pump(&mut self) {
        for _ in 0..50 {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                self.gw
                    .ike
                    .handle_datagram(self.now, t.remote, t.local, &t.bytes, &mut self.rng);
            }
            self.gw.process(self.now, &mut self.rng);
            while let Some(t) = self.gw.ike.poll_transmit() {
                moved = true;
                self.client
                    .handle_datagram(self.now, t.remote, t.local, &t.bytes, &mut self.rng);
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
        esp_transform: c.esp_transform,
        key_bits: c.key_bits,
        auth_alg: c.auth_alg,
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
    assert_eq!(gw.transform_sets[0].cipher, ike_sm::EspCipher::Des);
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
    let text = std::fs::read_to_string(super::serve::DEMO_CONFIG)
        .unwrap()
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
    rig.gw.keylog_on = true;
    let sa = rig.connect("cisco_customer", "cisco123");
    assert!(rig.client.ready_for_quick_mode(sa));
    assert_eq!(
        rig.client.assigned_address(sa),
        Some("10.89.129.200".parse().unwrap())
    );
    rig.quick_mode(sa);
    assert_eq!(rig.client_children.len(), 1);
    assert_eq!(rig.gw.data.len(), 1);
    // keylog: one IKE row and two ESP rows, and nothing of it in the operator log
    assert_eq!(rig.gw.keylog.len(), 3, "{:?}", rig.gw.keylog);
    assert!(rig.gw.keylog[0].starts_with("ikev1_decryption_table:"));
    let (cky, key) = rig.client.phase1_keylog(sa).unwrap();
    assert_eq!(
        rig.gw.keylog[0],
        keylog::ike_line(&cky, key.expose_secret())
    );
    for l in &rig.gw.log {
        assert!(!l.contains("cisco123"), "{l}");
    }

    // client -> gateway: an ICMP echo from its pool address to the inside host
    let mut client_dp = DataPlane::new();
    client_dp.install(&rig.client_children[0], rig.now).unwrap();
    let ping = icmp("10.89.129.200", "10.89.129.131");
    let mut buf = vec![0u8; 2048];
    let (n, dest, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &ping, &mut buf)
        .unwrap();
    assert_eq!(dest, EspDest::Raw("192.168.1.1".parse().unwrap()));
    let from: SocketAddr = CLIENT.parse().unwrap();
    let (range, ike, src, dst) = rig
        .gw
        .data
        .inbound(rig.now, from.ip(), &mut buf[..n])
        .unwrap();
    assert_eq!(&buf[range], &ping[..]);
    assert_eq!(
        (src.to_string(), dst.to_string()),
        ("10.89.129.200".into(), "10.89.129.131".into())
    );
    assert!(rig.gw.sessions.contains_key(&ike));
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
    assert_eq!(
        rig.gw.data.inbound(rig.now, from.ip(), &mut buf[..n]),
        Err(Drop::Esp("replayed"))
    );
    let spoof = icmp("10.89.129.201", "10.89.129.131");
    let (n, _, _) = forger
        .outbound(rig.now, &mut rig.rng, &spoof, &mut buf)
        .unwrap();
    assert!(matches!(
        rig.gw.data.inbound(rig.now, from.ip(), &mut buf[..n]),
        Err(Drop::Selector { .. })
    ));

    // gateway -> client: the reply from the inside host is routed to the client's SA
    let reply = icmp("10.89.129.131", "10.89.129.200");
    let (n, dest, _) = rig
        .gw
        .data
        .outbound(rig.now, &mut rig.rng, &reply, &mut buf)
        .unwrap();
    assert_eq!(dest, EspDest::Raw(from.ip().to_string().parse().unwrap()));
    let (range, _, _, _) = client_dp
        .inbound(rig.now, "192.168.1.1".parse().unwrap(), &mut buf[..n])
        .unwrap();
    assert_eq!(&buf[range], &reply[..]);
    // nobody has 10.89.129.202
    let r = rig.gw.data.outbound(
        rig.now,
        &mut rig.rng,
        &icmp("10.89.129.131", "10.89.129.202"),
        &mut buf,
    );
    assert!(
        matches!(r, Err(Drop::NoSa(a)) if a.to_string() == "10.89.129.202"),
        "{r:?}"
    );

    // show commands in the PIX's layout
    let s = rig
        .gw
        .command(rig.now, "show crypto isakmp sa", &mut rig.rng);
    assert!(s.starts_with("Total     : 1\nEmbryonic : 0\n"), "{s}");
    assert!(s.contains("192.168.1.1     198.51.100.7    QM_IDLE"), "{s}");
    let s = rig
        .gw
        .command(rig.now, "show crypto ipsec sa", &mut rig.rng);
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
    let s = rig.gw.command(rig.now, "show uauth", &mut rig.rng);
    assert!(
        s.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{s}"
    );
    let s = rig
        .gw
        .command(rig.now, "show ip local pool VPNpool", &mut rig.rng);
    assert!(s.contains("In use addresses:\n10.89.129.200\n"), "{s}");
    let s = rig.gw.command(rig.now, "show nonsense", &mut rig.rng);
    assert!(s.starts_with("% Unknown command"), "{s}");

    // clear crypto isakmp sa: DELETEs out, the session and the lease gone
    let s = rig
        .gw
        .command(rig.now, "clear crypto isakmp sa 198.51.100.7", &mut rig.rng);
    assert_eq!(s, "1 IKE SA(s) with 198.51.100.7 cleared\n");
    assert!(rig.gw.sessions.is_empty());
    assert!(rig.gw.data.is_empty());
    assert_eq!(rig.gw.ike.pools().total_in_use(), 0);
    // the client gets the ISAKMP DELETE, then the IPsec one, and drops everything
    let mut deletes = 0;
    while let Some(t) = rig.gw.ike.poll_transmit() {
        assert_eq!(t.bytes[18], 5, "Informational");
        deletes += 1;
        rig.client
            .handle_datagram(rig.now, t.remote, t.local, &t.bytes, &mut rig.rng);
    }
    assert_eq!(deletes, 2);
    assert_eq!(rig.client.sa_count(), 0, "the client kept its SA");
}

#[test]
fn wrong_password_is_refused_by_local_and_leaves_nothing() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    let sa = rig.connect("cisco_customer", "wrong");
    assert!(!rig.client.ready_for_quick_mode(sa));
    assert!(
        rig.gw
            .log
            .iter()
            .any(|l| l == "xauth: user 'cisco_customer' rejected by aaa-server LOCAL"),
        "{:?}",
        rig.gw.log
    );
    // the retries run out on the SA's timers
    for _ in 0..20 {
        rig.now += Duration::from_secs(10);
        let now = rig.now;
        rig.gw.handle_timeout(now, &mut rig.rng);
        rig.client.handle_timeout(now, &mut rig.rng);
        rig.pump();
    }
    assert_eq!(rig.gw.ike.pools().total_in_use(), 0);
    assert!(rig.gw.sessions.is_empty(), "{:?}", rig.gw.sessions);
    assert_eq!(rig.gw.ike.sa_count(), 0);
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
    assert_eq!(rig.gw.ike.pools().total_in_use(), 1);
    let deadline = rig.gw.poll_timeout().unwrap();
    assert!(deadline <= rig.now + Duration::from_secs(60));
    rig.now += Duration::from_secs(61);
    let now = rig.now;
    rig.gw.handle_timeout(now, &mut rig.rng);
    assert!(rig.gw.sessions.is_empty());
    assert!(rig.gw.data.is_empty());
    assert_eq!(rig.gw.ike.pools().total_in_use(), 0);
    assert!(rig
        .gw
        .log
        .iter()
        .any(|l| l.contains("vpngroup idle-time reached")));
}

#[test]
fn debug_lines_are_sorted_by_debug_kind() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    let sa = rig.connect("cisco_customer", "cisco123");
    rig.quick_mode(sa);
    let isakmp: Vec<&String> = rig
        .gw
        .debug
        .iter()
        .filter(|(k, _)| *k == DebugKind::Isakmp)
        .map(|(_, l)| l)
        .collect();
    let ipsec: Vec<&String> = rig
        .gw
        .debug
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
    assert!(ipsec.iter().all(|l| l.starts_with("IPSEC(")));
    assert!(
        ipsec.iter().any(|l| l.starts_with("IPSEC(spi_response)")),
        "{ipsec:?}"
    );
}

#[test]
fn pool_cover_prefixes() {
    let v = super::serve::cover(
        "10.89.129.200".parse().unwrap(),
        "10.89.129.204".parse().unwrap(),
    );
    let s: Vec<String> = v.iter().map(ToString::to_string).collect();
    assert_eq!(s, ["10.89.129.200/30", "10.89.129.204/32"]);
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
    let from: IpAddr = "198.51.100.7".parse().unwrap();
    let now = rig.now;
    let r = rig
        .gw
        .packet_from_client(now, from, &mut buf[..n], &mut rig.rng);
    assert!(r.is_some(), "{:?}", rig.gw.debug);
    assert_eq!(&buf[r.unwrap()], &ping[..]);
    let mut reply = icmp("10.89.129.131", "10.89.129.200");
    reply[20] = 0; // echo reply
    let mut out = vec![0u8; 2048];
    let r = rig
        .gw
        .packet_to_client(now, &mut reply, &mut out, &mut rig.rng);
    assert!(r.is_some(), "{:?}", rig.gw.debug);
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
    let sa = rig.connect("cisco_customer", "cisco123");
    rig.quick_mode(sa);
    let mut client_dp = DataPlane::new();
    client_dp.install(&rig.client_children[0], rig.now).unwrap();
    let from: IpAddr = "198.51.100.7".parse().unwrap();
    let mut buf = vec![0u8; 2048];
    // a telnet connection through the tunnel: SYN from the client, SYN-ACK back
    let syn = tcp("10.89.129.200", 40000, "10.89.129.131", 23, 0x02, b"");
    let (n, _, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &syn, &mut buf)
        .unwrap();
    let now = rig.now;
    assert!(
        rig.gw
            .packet_from_client(now, from, &mut buf[..n], &mut rig.rng)
            .is_some(),
        "{:?}",
        rig.gw.debug
    );
    let mut synack = tcp("10.89.129.131", 23, "10.89.129.200", 40000, 0x12, b"");
    let mut out = vec![0u8; 2048];
    assert!(rig
        .gw
        .packet_to_client(now, &mut synack, &mut out, &mut rig.rng)
        .is_some());
    assert!(
        rig.gw.log.iter().any(|l| l.starts_with(
            "accounting start: user 'cisco_customer' at 10.89.129.200 telnet to 10.89.129.131"
        )),
        "{:?}",
        rig.gw.log
    );
    let conn = rig.gw.command(now, "show conn", &mut rig.rng);
    assert!(
        conn.contains("10.89.129.131") && conn.contains("10.89.129.200"),
        "{conn}"
    );
    // the IKE SA's lifetime runs out on the gateway
    rig.now += Duration::from_secs(121);
    let now = rig.now;
    rig.gw.handle_timeout(now, &mut rig.rng);
    assert!(rig.gw.sessions.is_empty(), "{:?}", rig.gw.log);
    assert!(rig.gw.data.is_empty());
    assert_eq!(rig.gw.ike.pools().total_in_use(), 0);
    assert!(
        rig.gw.log.iter().any(|l| l.starts_with(
            "accounting stop: user 'cisco_customer' at 10.89.129.200 telnet to 10.89.129.131"
        )),
        "{:?}",
        rig.gw.log
    );
    let uauth = rig.gw.command(now, "show uauth", &mut rig.rng);
    assert!(uauth.contains("Authenticated Users         0"), "{uauth}");
    let conn = rig.gw.command(now, "show conn", &mut rig.rng);
    assert!(!conn.contains("10.89.129.200"), "{conn}");
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
            if self.gw.guard().held() == 0 {
                break;
            }
            let Some(t) = self.gw.poll_timeout() else {
                break;
            };
            self.now = self.now.max(t);
            self.gw.handle_timeout(self.now, &mut self.rng);
            self.pump();
        }
        sa
    }

    /// AAA verdicts given so far (LOCAL: each one is a password check).
    fn aaa_checks(&self) -> u64 {
        self.gw.metrics.xauth.values().sum()
    }
}

#[test]
fn xauth_guessing_is_throttled_across_ike_sas_per_user_and_source() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    // The defaults, with a lockout longer than the whole guessing loop (40 SAs, each
    // with the client's Xauth retries, each refusal held up to `delay_max`).
    let cfg = xauth::ThrottleConfig {
        lockout: Duration::from_secs(3600),
        ..xauth::ThrottleConfig::default()
    };
    rig.gw.set_guard_limits(guard::GuardLimits {
        xauth: cfg.clone(),
        ..guard::GuardLimits::default()
    });
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
    let stats = rig.gw.guard().throttle().stats();
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
    let m = rig.gw.metrics_text();
    assert!(
        m.contains("pix_xauth_throttle_total{event=\"lockout_user_source\"} 1"),
        "{m}"
    );
    let show = rig
        .gw
        .command(rig.now, "show crypto isakmp stats", &mut rig.rng);
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
    rig.gw.handle_timeout(rig.now, &mut rig.rng);
    let sa = rig.connect_from(guesser, "cisco_customer", "cisco123");
    assert!(rig.client.ready_for_quick_mode(sa));
    // The log summarised the refusals in a bounded number of lines, and no password.
    let lines: Vec<&String> = rig
        .gw
        .log
        .iter()
        .filter(|l| l.starts_with("xauth: ") && l.contains("dropped or refused"))
        .collect();
    // At most one line per reason per interval (two xauth reasons here).
    let intervals = rig.now.saturating_duration_since(t0).as_secs() / 10 + 1;
    assert!(
        !lines.is_empty() && lines.len() as u64 <= 2 * intervals,
        "{} lines in {intervals} intervals",
        lines.len()
    );
    for l in &rig.gw.log {
        assert!(!l.contains("guess") && !l.contains("cisco123"), "{l}");
    }
}

#[test]
fn a_flood_shows_in_stats_and_metrics_without_debug() {
    let mut rig = Rig::new(demo_plan(&[], |t| t));
    rig.gw.ike.set_debug_events(false);
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
    for n in 0..300u32 {
        mm1[..4].copy_from_slice(&n.to_be_bytes());
        let from = SocketAddr::new(Ipv4Addr::from(0x0a63_0000 | n).into(), 500);
        rig.gw
            .ike
            .handle_datagram(rig.now, GW.parse().unwrap(), from, &mm1, &mut rig.rng);
        rig.gw.process(rig.now, &mut rig.rng);
    }
    let pressure = rig.gw.ike.limits().pressure_half_open;
    assert!(300 >= pressure, "the test floods past the pressure mark");
    let show = rig
        .gw
        .command(rig.now, "show crypto isakmp stats", &mut rig.rng);
    assert!(
        show.contains("Half-open SAs:   300 of 2048 (under pressure"),
        "{show}"
    );
    let m = rig.gw.metrics_text();
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
    rig.gw.truncated_esp(rig.now);
    rig.gw.truncated_esp(rig.now);
    assert!(rig
        .gw
        .metrics_text()
        .contains("pix_drops_total{stage=\"esp\",reason=\"truncated\"} 2\n"));
    let show = rig.gw.command(rig.now, "show drops", &mut rig.rng);
    assert!(show.contains("truncated"), "{show}");
}
