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
use super::test_support::rig::{base, vpn_4x, Net};
use super::*;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, Selector, TrafficSelector};
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

/// The demo core alone (seed 7), both debugs on, and the client of ours (the seed's VPN
/// Client 4.x) at [`CLIENT`] as client 0.
fn demo_rig(plan: setup::Plan) -> Net {
    demo_rig_with(plan, Settings::new(gw_ip()))
}

fn demo_rig_with(plan: setup::Plan, mut settings: Settings) -> Net {
    settings.config_name = "demo".into();
    let mut rig = Net::one(plan, settings, MemAaa::new(), 7, base());
    rig.add_client(CLIENT.parse().unwrap());
    rig
}

/// Client 0 logs in as `user`; IKE runs until quiet.
fn connect(rig: &mut Net, user: &str, password: &str) -> ike_sm::SaId {
    rig.login(0, vpn_4x(user, password))
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
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    rig.shards[0].set_keylog(true);
    let sa = connect(&mut rig, "cisco_customer", "cisco123");
    assert!(rig.clients[0].ep.ready_for_quick_mode(sa));
    assert_eq!(
        rig.clients[0].ep.assigned_address(sa),
        Some("10.89.129.200".parse().unwrap())
    );
    rig.quick_mode(0, sa);
    assert_eq!(rig.clients[0].children.len(), 1);
    assert_eq!(rig.shards[0].data_plane().len(), 1);
    // keylog: one IKE row and two ESP rows, and nothing of it in the operator log
    assert_eq!(rig.keylog.len(), 3, "{:?}", rig.keylog);
    assert!(rig.keylog[0].1.starts_with("ikev1_decryption_table:"));
    let (cky, key) = rig.clients[0].ep.phase1_keylog(sa).unwrap();
    assert_eq!(rig.keylog[0].1, keylog::ike_line(&cky, key.expose_secret()));
    let ike_key = rig.keylog[0].1.rsplit(',').next().unwrap().to_string();
    for r in rig.records() {
        let fields: Vec<&str> = r.fields.iter().map(|(_, v)| v.as_str()).collect();
        for t in std::iter::once(r.text.as_str()).chain(fields) {
            assert!(!t.contains("cisco123") && !t.contains(&ike_key), "{r:?}");
        }
    }
    for (_, _, l) in &rig.debug {
        assert!(!l.contains("cisco123"), "{l}");
    }
    // typed records: phase 1, the address, Xauth, the IPsec SA, each with its PIX id
    let ids: Vec<MsgId> = rig.records().map(|r| r.id).collect();
    for id in [
        MsgId::Phase1Completed,
        MsgId::AuthSucceeded,
        MsgId::AddressAssigned,
        MsgId::IpsecSaCreated,
    ] {
        assert!(ids.contains(&id), "{id:?} not in {:?}", rig.log);
    }
    let auth = rig
        .records()
        .find(|r| r.id == MsgId::AuthSucceeded)
        .unwrap();
    // 109005 in the PIX 6.3 guide's words: from the client's IKE address to ours
    let line = auth.pix_line();
    assert!(
        line.starts_with("%PIX-6-109005: Authentication succeeded for user 'cisco_customer' from ")
            && line.ends_with(
                "/500 on interface outside; xauth: user 'cisco_customer' accepted by aaa-server LOCAL"
            ),
        "{line}"
    );
    // 602301 for each SA of the pair (inbound to us, outbound to the client), at the
    // PIX's level 6, with the SPI as the PIX prints it: hex(decimal)
    let created: Vec<&LogRecord> = rig
        .records()
        .filter(|r| r.id == MsgId::IpsecSaCreated)
        .collect();
    assert_eq!(created.len(), 2, "{:?}", rig.log);
    for r in &created {
        let l = r.pix_line();
        assert!(
            l.starts_with("%PIX-6-602301: sa created, (sa) sa_dest= ")
                && l.contains(", sa_prot= 50, sa_spi= 0x")
                && l.contains(" esp-"),
            "{l}"
        );
        let spi = &r.fields.iter().find(|(k, _)| *k == "spi").unwrap().1;
        let n = u32::from_str_radix(spi.trim_start_matches("0x"), 16).unwrap();
        assert!(l.contains(&format!("sa_spi= {spi}({n})")), "{l}");
    }
    assert!(auth
        .fields
        .contains(&("user", "cisco_customer".to_string())));

    // client -> gateway: an ICMP echo from its pool address to the inside host
    let mut client_dp = DataPlane::new();
    client_dp
        .install(&rig.clients[0].children[0], rig.now)
        .unwrap();
    let ping = icmp("10.89.129.200", "10.89.129.131");
    let mut buf = vec![0u8; 2048];
    let (n, dest, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &ping, &mut buf)
        .unwrap();
    assert_eq!(dest, EspDest::Raw(gw_ip()));
    let inner = rig.raw_esp_in(client_ip(), &buf[..n]).1.unwrap();
    assert_eq!(inner, ping);
    let ike = rig.shards[0]
        .data_plane()
        .children()
        .next()
        .unwrap()
        .1
        .ike_sa;
    assert!(rig.shards[0].sessions().any(|s| s.sa == ike));
    // A client that forges: a second sender with the same keys and no source check of
    // its own. Its first packet reuses sequence number 1 (a replay, counted by kind);
    // its second claims another user's pool address (dropped by the selector check).
    let mut forger = DataPlane::new();
    forger
        .install(&loosen(&rig.clients[0].children[0]), rig.now)
        .unwrap();
    let (n, _, _) = forger
        .outbound(rig.now, &mut rig.rng, &ping, &mut buf)
        .unwrap();
    let at = rig.debug.len();
    assert_eq!(rig.raw_esp_in(client_ip(), &buf[..n]).1, None);
    let replayed = format!(
        "IPSEC(inbound): packet from 198.51.100.7 dropped: {}",
        Drop::Esp("replayed").word()
    );
    assert_eq!(rig.debug_since(at), [replayed.as_str()]);
    let spoof = icmp("10.89.129.201", "10.89.129.131");
    let (n, _, _) = forger
        .outbound(rig.now, &mut rig.rng, &spoof, &mut buf)
        .unwrap();
    let at = rig.debug.len();
    assert_eq!(rig.raw_esp_in(client_ip(), &buf[..n]).1, None);
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
    let (dest, mut esp, sa_out) = rig.encapsulate_at(0, &reply).unwrap();
    assert_eq!(dest, EspDest::Raw(client_ip()));
    assert_eq!(sa_out, ike);
    let (range, _, _, _) = client_dp
        .inbound(rig.now, gw_ip().into(), &mut esp)
        .unwrap();
    assert_eq!(&esp[range], &reply[..]);
    // nobody has 10.89.129.202
    let at = rig.debug.len();
    assert!(rig
        .encapsulate_at(0, &icmp_reply("10.89.129.131", "10.89.129.202"))
        .is_none());
    let dropped = rig.debug_since(at);
    assert!(
        dropped.iter().any(|l| l.contains("dropped")),
        "the drop is told: {dropped:?}"
    );

    // show commands in the PIX's layout
    let s = rig.command(0, "show crypto isakmp sa");
    assert!(s.starts_with("Total     : 1\nEmbryonic : 0\n"), "{s}");
    assert!(s.contains("192.168.1.1     198.51.100.7    QM_IDLE"), "{s}");
    let s = rig.command(0, "show crypto ipsec sa");
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
    let s = rig.command(0, "show uauth");
    assert!(
        s.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{s}"
    );
    let s = rig.command(0, "show ip local pool VPNpool");
    assert!(s.contains("In use addresses:\n10.89.129.200\n"), "{s}");
    let s = rig.command(0, "show nonsense");
    assert!(s.starts_with("% Unknown command"), "{s}");

    // clear crypto isakmp sa: DELETEs out, the session and the lease gone
    let s = match rig.shards[0].handle(
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
    assert_eq!(rig.shards[0].sessions().count(), 0);
    assert!(rig.shards[0].data_plane().is_empty());
    assert_eq!(rig.shards[0].endpoint().pools().total_in_use(), 0);
    // the client gets the ISAKMP DELETE, then the IPsec one, and drops everything
    let mut deletes = 0;
    for d in rig.drain_datagrams(0) {
        assert_eq!(d.ike[18], 5, "Informational");
        assert_eq!(
            (d.local, d.remote),
            (GW.parse().unwrap(), CLIENT.parse().unwrap())
        );
        deletes += 1;
        rig.deliver(&d);
    }
    assert_eq!(deletes, 2);
    assert_eq!(rig.clients[0].ep.sa_count(), 0, "the client kept its SA");
    assert!(
        rig.records()
            .any(|r| r.id == MsgId::Phase1Deleted
                && r.text.contains("10.89.129.200 back to the pool"))
    );
    // the logout as the PIX logs it: 109012 for the user, 602302 for both SAs
    let end = rig
        .records()
        .find(|r| r.id == MsgId::AuthSessionEnd)
        .expect("no 109012");
    assert!(
        end.pix_line()
            .starts_with("%PIX-5-109012: Authen Session End: user 'cisco_customer', sid "),
        "{}",
        end.pix_line()
    );
    assert!(end.fields.contains(&("addr", "10.89.129.200".to_string())));
    let deleted = rig
        .records()
        .filter(|r| r.id == MsgId::IpsecSaDeleted)
        .map(LogRecord::pix_line)
        .collect::<Vec<_>>();
    assert_eq!(deleted.len(), 2, "{deleted:?}");
    assert!(deleted
        .iter()
        .all(|l| l.starts_with("%PIX-6-602302: deleting SA, (sa) sa_dest= ")));
}

#[test]
fn wrong_password_is_refused_by_local_and_leaves_nothing() {
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    let sa = connect(&mut rig, "cisco_customer", "wrong");
    assert!(!rig.clients[0].ep.ready_for_quick_mode(sa));
    let refused = rig.records().find(|r| {
        r.text
            .starts_with("Authentication failed for user 'cisco_customer' from ")
            && r.text
                .ends_with("; xauth: user 'cisco_customer' rejected by aaa-server LOCAL")
    });
    assert!(refused.is_some(), "{:?}", rig.texts());
    assert_eq!(refused.unwrap().id, MsgId::AuthFailed);
    // the retries run out on the SA's timers
    for _ in 0..20 {
        rig.now += Duration::from_secs(10);
        let now = rig.now;
        rig.clients[0].ep.handle_timeout(now, &mut rig.rng);
        rig.core_timeouts();
    }
    assert_eq!(rig.shards[0].endpoint().pools().total_in_use(), 0);
    assert_eq!(
        rig.shards[0].sessions().count(),
        0,
        "{:?}",
        rig.shards[0].sessions().collect::<Vec<_>>()
    );
    assert_eq!(rig.shards[0].endpoint().sa_count(), 0);
    assert!(!rig.records().any(|r| r.text.contains("wrong")));
}

#[test]
fn idle_time_disconnects_and_returns_the_address() {
    let mut rig = demo_rig(demo_plan(&[], |t| {
        t.replace(
            "vpngroup vpn3000 idle-time 1800",
            "vpngroup vpn3000 idle-time 60",
        )
    }));
    let sa = connect(&mut rig, "cisco_customer", "cisco123");
    rig.quick_mode(0, sa);
    assert_eq!(rig.shards[0].endpoint().pools().total_in_use(), 1);
    let deadline = rig.shards[0].poll_timeout().unwrap();
    assert!(deadline <= rig.now + Duration::from_secs(60));
    rig.now += Duration::from_secs(61);
    rig.core_timeouts();
    assert_eq!(rig.shards[0].sessions().count(), 0);
    assert!(rig.shards[0].data_plane().is_empty());
    assert_eq!(rig.shards[0].endpoint().pools().total_in_use(), 0);
    assert!(rig
        .records()
        .any(|r| r.id == MsgId::SessionLimit && r.text.contains("vpngroup idle-time reached")));
}

/// The seed flow with only `kinds` of debug wanted: the debug lines that came out, and
/// the gateway's inbound SPI of the tunnel.
fn debug_of_seed_flow(kinds: &[DebugKind]) -> (Vec<(DebugKind, String)>, u32) {
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    rig.shards[0].set_debug(kinds);
    let sa = connect(&mut rig, "cisco_customer", "cisco123");
    rig.quick_mode(0, sa);
    assert_eq!(rig.clients[0].children.len(), 1, "the flow ran");
    // an inbound drop (unknown SPI): an IPSEC( line
    rig.raw_esp_in(
        client_ip(),
        &[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1, 0, 0, 0, 0],
    );
    let lines = std::mem::take(&mut rig.debug)
        .into_iter()
        .map(|(_, kind, line)| (kind, line))
        .collect();
    (lines, rig.clients[0].children[0].spi_out)
}

/// The `debug crypto ipsec` lines of the seed flow, in order, as the PIX prints them
/// (the seed's trace): the 4.x client's Quick Mode proposals the transform set refuses
/// (ESP-3DES and ESP-DES with the other HMAC), the SPI the gateway takes for the one it
/// accepts, and the drop of the ESP packet with an unknown SPI.
fn seed_flow_ipsec_lines(spi: u32) -> Vec<String> {
    let refused = |trans: u8, hmac: u8| {
        format!(
            "IPSEC(validate_proposal): transform proposal (prot 3, trans {trans}, hmac_alg {hmac}) not supported"
        )
    };
    vec![
        refused(3, 1),
        refused(3, 2),
        refused(3, 1),
        refused(3, 2),
        refused(2, 2),
        format!("IPSEC(spi_response): getting spi {spi:#x}({spi}) for SA"),
        "IPSEC(inbound): packet from 198.51.100.7 dropped: unknown SPI".to_string(),
    ]
}

/// Lines of the seed flow that the PIX prints under `debug crypto isakmp`, among them
/// ones that name IPsec SAs or do not start with `ISAKMP`.
fn seed_flow_isakmp_lines(spi: u32) -> Vec<String> {
    [
        "crypto_isakmp_process_block: src 198.51.100.7, dest 192.168.1.1",
        "OAK_AG exchange",
        "ISAKMP (0): atts are acceptable. Next payload is 3",
        "ISAKMP (0): speaking to a Unity client",
        "ISAKMP/xauth: request attribute XAUTH_TYPE",
        "ISAKMP_TRANSACTION exchange",
        "ISAKMP: Config payload CFG_REQUEST",
        "Unsupported Attr: 5",
        "OAK_QM exchange",
        "ISAKMP : Checking IPsec proposal 1",
        "ISAKMP: transform 1, ESP_3DES",
    ]
    .into_iter()
    .map(String::from)
    .chain([format!("        inbound SA has spi {spi:#x}")])
    .collect()
}

#[test]
fn debug_lines_are_sorted_by_debug_kind() {
    let (both, spi) = debug_of_seed_flow(&[DebugKind::Isakmp, DebugKind::Ipsec]);
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
    // Against what the PIX's own trace files under each debug: exactly the expected
    // IPsec lines, in order, and the known ISAKMP lines among the ISAKMP ones.
    assert_eq!(ipsec, seed_flow_ipsec_lines(spi).iter().collect::<Vec<_>>());
    for want in seed_flow_isakmp_lines(spi) {
        assert!(isakmp.contains(&&want), "{want:?} not in {isakmp:#?}");
    }
    assert_eq!(isakmp.len() + ipsec.len(), both.len());
    // Routing: with one kind wanted, exactly that kind's lines come out, the same ones.
    let (only_ipsec, spi2) = debug_of_seed_flow(&[DebugKind::Ipsec]);
    assert_eq!(spi2, spi, "the same seed, the same flow");
    assert!(!only_ipsec.is_empty());
    assert!(
        only_ipsec.iter().all(|(k, _)| *k == DebugKind::Ipsec),
        "{only_ipsec:?}"
    );
    let got: Vec<&String> = only_ipsec.iter().map(|(_, l)| l).collect();
    assert_eq!(got, ipsec);
    let (only_isakmp, _) = debug_of_seed_flow(&[DebugKind::Isakmp]);
    assert!(!only_isakmp.is_empty());
    assert!(
        only_isakmp.iter().all(|(k, _)| *k == DebugKind::Isakmp),
        "{only_isakmp:?}"
    );
    let got: Vec<&String> = only_isakmp.iter().map(|(_, l)| l).collect();
    assert_eq!(got, isakmp);
    // `no debug`: nothing at all.
    assert_eq!(debug_of_seed_flow(&[]).0, []);
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
    setup::apply_limit(&mut l, "retransmit-max-interval-ms=4000").unwrap();
    assert_eq!(l.retransmit_max_interval, Duration::from_secs(4));
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
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    let sa = connect(&mut rig, "cisco_customer", "cisco123");
    rig.quick_mode(0, sa);
    let mut client_dp = DataPlane::new();
    client_dp
        .install(&rig.clients[0].children[0], rig.now)
        .unwrap();
    let ping = icmp("10.89.129.200", "10.89.129.131");
    let mut buf = vec![0u8; 2048];
    let (n, _, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &ping, &mut buf)
        .unwrap();
    let r = rig.raw_esp_in(client_ip(), &buf[..n]).1;
    assert!(r.is_some(), "{:?}", rig.debug);
    assert_eq!(r.unwrap(), ping);
    let reply = icmp_reply("10.89.129.131", "10.89.129.200");
    let r = rig.encapsulate_at(0, &reply);
    assert!(r.is_some(), "{:?}", rig.debug);
    let (_, mut esp, _) = r.unwrap();
    let (range, _, _, _) = client_dp
        .inbound(rig.now, gw_ip().into(), &mut esp)
        .unwrap();
    assert_eq!(&esp[range], &reply[..]);
    let stats = rig.shards[0].stats();
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
    let mut rig = demo_rig(demo_plan(&[], |t| {
        t.replace(
            "isakmp policy 10 lifetime 86400",
            "isakmp policy 10 lifetime 120",
        )
    }));
    // The demo's `aaa accounting ... AuthInbound`: TACACS+ at 10.89.129.134, key
    // secretkey, in memory.
    let acct: SocketAddr = "10.89.129.134:49".parse().unwrap();
    rig.aaa = MemAaa::new().with_tacacs(acct, testkit::aaa::MemTacacs::new("secretkey"));
    let sa = connect(&mut rig, "cisco_customer", "cisco123");
    rig.quick_mode(0, sa);
    let mut client_dp = DataPlane::new();
    client_dp
        .install(&rig.clients[0].children[0], rig.now)
        .unwrap();
    let mut buf = vec![0u8; 2048];
    // a telnet connection through the tunnel: SYN from the client, SYN-ACK back
    let syn = tcp("10.89.129.200", 40000, "10.89.129.131", 23, 0x02, b"");
    let (n, _, _) = client_dp
        .outbound(rig.now, &mut rig.rng, &syn, &mut buf)
        .unwrap();
    assert!(
        rig.raw_esp_in(client_ip(), &buf[..n]).1.is_some(),
        "{:?}",
        rig.debug
    );
    let synack = tcp("10.89.129.131", 23, "10.89.129.200", 40000, 0x12, b"");
    assert!(rig.encapsulate_at(0, &synack).is_some());
    let start = rig.records().find(|r| {
        r.text.starts_with(
            "accounting start: user 'cisco_customer' at 10.89.129.200 telnet to 10.89.129.131",
        )
    });
    assert!(start.is_some(), "{:?}", rig.texts());
    assert_eq!(start.unwrap().id, MsgId::Accounting);
    let conn = rig.command(0, "show conn");
    assert!(
        conn.contains("10.89.129.131") && conn.contains("10.89.129.200"),
        "{conn}"
    );
    // the IKE SA's lifetime runs out on the gateway
    rig.now += Duration::from_secs(121);
    rig.core_timeouts();
    assert_eq!(rig.shards[0].sessions().count(), 0, "{:?}", rig.texts());
    assert!(rig.shards[0].data_plane().is_empty());
    assert_eq!(rig.shards[0].endpoint().pools().total_in_use(), 0);
    assert!(
        rig.records().any(|r| r.text.starts_with(
            "accounting stop: user 'cisco_customer' at 10.89.129.200 telnet to 10.89.129.131"
        )),
        "{:?}",
        rig.texts()
    );
    let uauth = rig.command(0, "show uauth");
    assert!(uauth.contains("Authenticated Users         0"), "{uauth}");
    let conn = rig.command(0, "show conn");
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
    assert!(!rig.records().any(|r| r.id == MsgId::AaaProblem));
}

/// A login of the 4.x client from `from` (a client of its own there, made if new);
/// the exchange runs until quiet, held Xauth refusals included (the clock moves on).
/// The client and its SA.
fn connect_from(rig: &mut Net, from: &str, user: &str, password: &str) -> (usize, ike_sm::SaId) {
    let at: SocketAddr = from.parse().unwrap();
    let i = match rig.clients.iter().position(|c| c.addr == at) {
        Some(i) => i,
        None => rig.add_client(at),
    };
    let mut profile = vpn_4x(user, password);
    profile.initial_contact = false;
    let sa = rig.login(i, profile);
    // Held refusals come due: let the clock run until nothing is held.
    for _ in 0..20 {
        if rig.shards[0].stats().held == 0 {
            break;
        }
        let Some(t) = rig.shards[0].poll_timeout() else {
            break;
        };
        rig.now = rig.now.max(t);
        rig.core_timeouts();
    }
    (i, sa)
}

/// AAA verdicts given so far (LOCAL: each one is a password check).
fn aaa_checks(rig: &Net) -> u64 {
    rig.shards[0].stats().xauth.values().sum()
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
    let mut rig = demo_rig_with(demo_plan(&[], |t| t), settings);
    let guesser = "198.51.100.66:500";
    let t0 = rig.now;
    // A guesser in a loop: a new IKE SA per try (and the client's own Xauth retries
    // inside each SA), 40 SAs.
    let mut refused_at = Vec::new();
    for _ in 0..40 {
        let before = rig.now;
        let (i, sa) = connect_from(&mut rig, guesser, "cisco_customer", "guess");
        assert!(!rig.clients[i].ep.ready_for_quick_mode(sa));
        refused_at.push(rig.now.saturating_duration_since(before));
        rig.now += Duration::from_millis(100);
    }
    // Only `max_failures` guesses reached the password check; every later one was
    // refused by the throttle without asking.
    assert_eq!(aaa_checks(&rig), u64::from(cfg.max_failures));
    let stats = rig.shards[0].stats().throttle;
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
    let m = rig.shards[0].metrics_text(rig.now);
    assert!(
        m.contains("pix_xauth_throttle_total{event=\"lockout_user_source\"} 1"),
        "{m}"
    );
    let show = rig.command(0, "show crypto isakmp stats");
    assert!(
        show.contains("lockouts of a user from one address"),
        "{show}"
    );
    // The right password from the guesser's address is refused while locked...
    let (i, sa) = connect_from(&mut rig, guesser, "cisco_customer", "cisco123");
    assert!(!rig.clients[i].ep.ready_for_quick_mode(sa));
    assert_eq!(aaa_checks(&rig), u64::from(cfg.max_failures));
    // ... while the same user from another address gets in.
    let (i, sa) = connect_from(&mut rig, "203.0.113.9:500", "cisco_customer", "cisco123");
    assert!(rig.clients[i].ep.ready_for_quick_mode(sa));
    // Once the lockout passed, the right password works from the guesser's address.
    rig.now = t0 + cfg.lockout + cfg.window + Duration::from_secs(60);
    rig.core_timeouts();
    let (i, sa) = connect_from(&mut rig, guesser, "cisco_customer", "cisco123");
    assert!(rig.clients[i].ep.ready_for_quick_mode(sa));
    // The log summarised the refusals in a bounded number of lines, and no password.
    let lines: Vec<&LogRecord> = rig
        .records()
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
    for r in rig.records() {
        assert!(
            !r.text.contains("guess") && !r.text.contains("cisco123"),
            "{r:?}"
        );
    }
}

/// IKE datagrams the endpoint drops show in the metrics by reason with debug off (a
/// malformed one, one with cookies of no SA), and every reason has its line.
#[test]
fn dropped_ike_datagrams_show_in_metrics_by_reason_without_debug() {
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    rig.shards[0].set_debug(&[]);
    let remote: SocketAddr = "10.99.0.1:500".parse().unwrap();
    // An ISAKMP header alone: both cookies set, Identity Protection, length 28.
    let mut unknown = vec![0u8; 28];
    unknown[..16].fill(7);
    unknown[17] = 0x10;
    unknown[18] = 2;
    unknown[27] = 28;
    for mut payload in [vec![0u8; 10], unknown] {
        rig.shards[0].handle(
            rig.now,
            Input::Udp {
                local: GW.parse().unwrap(),
                remote,
                payload: &mut payload,
            },
            &mut rig.rng,
        );
    }
    assert!(rig.drain_datagrams(0).is_empty(), "no answer to either");
    assert!(rig.debug.is_empty(), "{:?}", rig.debug);
    let m = rig.shards[0].metrics_text(rig.now);
    for (reason, n) in [
        ("malformed", 1),
        ("unknown_cookies", 1),
        ("backpressure", 0),
    ] {
        let line = format!("pix_ike_refusals_total{{reason=\"{reason}\"}} {n}\n");
        assert!(m.contains(&line), "{line} in {m}");
    }
    for r in ike_sm::Refusal::ALL {
        assert!(m.contains(&format!("reason=\"{}\"}}", r.label())), "{r:?}");
    }
}

#[test]
fn a_flood_shows_in_stats_and_metrics_without_debug() {
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    rig.shards[0].set_debug(&[]);
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
        rig.shards[0].handle(
            rig.now,
            Input::Udp {
                local: GW.parse().unwrap(),
                remote: from,
                payload: &mut payload,
            },
            &mut rig.rng,
        );
        answered += rig
            .drain_datagrams(0)
            .iter()
            .filter(|d| d.remote == from)
            .count();
    }
    assert!(answered > 0, "the gateway answered some first messages");
    assert!(rig.debug.is_empty(), "{:?}", rig.debug);
    let pressure = rig.shards[0].endpoint().limits().pressure_half_open;
    assert!(300 >= pressure, "the test floods past the pressure mark");
    let show = rig.command(0, "show crypto isakmp stats");
    assert!(
        show.contains("Half-open SAs:   300 of 2048 (under pressure"),
        "{show}"
    );
    let m = rig.shards[0].metrics_text(rig.now);
    assert!(m.contains("pix_ike_half_open 300\n"), "{m}");
    assert!(m.contains("pix_ike_under_pressure 1\n"), "{m}");
    assert!(m.contains("pix_ike_phase1_modexps_total 0\n"), "{m}");
    // And a real user still gets in.
    let sa = connect(&mut rig, "cisco_customer", "cisco123");
    assert!(rig.clients[0].ep.ready_for_quick_mode(sa));
}

#[test]
fn truncated_esp_datagrams_are_counted() {
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    // A port-4500 payload of 3 bytes (no keepalive, too short for ESP or IKE) and a raw
    // packet without its whole IP header.
    let mut short = [1u8, 2, 3];
    rig.shards[0].handle(
        rig.now,
        Input::Udp {
            local: "192.168.1.1:4500".parse().unwrap(),
            remote: "198.51.100.7:4500".parse().unwrap(),
            payload: &mut short,
        },
        &mut rig.rng,
    );
    let mut headless = [0x45u8, 0, 0, 10, 0, 0, 0, 0, 64, 50];
    rig.shards[0].handle(
        rig.now,
        Input::RawEsp {
            packet: &mut headless,
        },
        &mut rig.rng,
    );
    // A keepalive is no drop.
    let mut keepalive = [0xffu8];
    rig.shards[0].handle(
        rig.now,
        Input::Udp {
            local: "192.168.1.1:4500".parse().unwrap(),
            remote: "198.51.100.7:4500".parse().unwrap(),
            payload: &mut keepalive,
        },
        &mut rig.rng,
    );
    assert!(rig.drain_datagrams(0).is_empty());
    let m = rig.shards[0].metrics_text(rig.now);
    assert!(
        m.contains("pix_drops_total{stage=\"esp\",reason=\"truncated\"} 2\n"),
        "{m}"
    );
    let show = rig.command(0, "show drops");
    assert!(show.contains("truncated"), "{show}");
}

/// A flood of ESP with an unknown SPI: one 402101 (the PIX's level 4) per second, the
/// next one with the count of those in between; no message for the others.
#[test]
fn a_bad_spi_flood_is_logged_once_per_second_with_a_count() {
    let mut rig = demo_rig(demo_plan(&[], |t| t));
    let send = |rig: &mut Net| {
        let mut esp = vec![0u8; 64];
        esp[..4].copy_from_slice(&0xdead_beef_u32.to_be_bytes());
        esp[7] = 1;
        rig.shards[0].handle(
            rig.now,
            Input::Udp {
                local: "192.168.1.1:4500".parse().unwrap(),
                remote: "198.51.100.7:4500".parse().unwrap(),
                payload: &mut esp,
            },
            &mut rig.rng,
        );
        rig.drain_datagrams(0);
    };
    for _ in 0..100 {
        send(&mut rig);
    }
    let bad = |rig: &Net| -> Vec<String> {
        rig.records()
            .filter(|r| r.id == MsgId::BadSpi)
            .map(LogRecord::pix_line)
            .collect()
    };
    let first = "%PIX-4-402101: decaps: rec'd IPSEC packet has invalid spi for destaddr=192.168.1.1, prot=esp, spi=0xdeadbeef (from 198.51.100.7)";
    assert_eq!(bad(&rig), [first]);
    rig.now += Duration::from_millis(1500);
    send(&mut rig);
    assert_eq!(
        bad(&rig),
        [
            first.to_string(),
            format!("{first} (99 more since the last message)")
        ]
    );
    let m = rig.shards[0].metrics_text(rig.now);
    assert!(
        m.contains("pix_drops_total{stage=\"esp\",reason=\"unknown SPI\"} 101\n"),
        "{m}"
    );
}

/// An exhausted `ip local pool`: the PIX's 404101 (warnings) names the pool.
#[test]
fn an_exhausted_pool_is_logged_as_404101() {
    let plan = demo_plan(&[], |t| {
        t.replace(
            "ip local pool VPNpool 10.89.129.200-10.89.129.204",
            "ip local pool VPNpool 10.89.129.200-10.89.129.200",
        )
    });
    let mut rig = demo_rig(plan);
    let (i, sa) = connect_from(&mut rig, CLIENT, "cisco_customer", "cisco123");
    assert!(rig.clients[i].ep.ready_for_quick_mode(sa));
    let (j, sa) = connect_from(&mut rig, "203.0.113.9:500", "cisco_customer", "cisco123");
    assert!(!rig.clients[j].ep.ready_for_quick_mode(sa));
    for _ in 0..20 {
        rig.now += Duration::from_secs(5);
        rig.core_timeouts();
        rig.drain();
    }
    let lines: Vec<String> = rig
        .records()
        .filter(|r| r.id == MsgId::PoolExhausted)
        .map(LogRecord::pix_line)
        .collect();
    assert_eq!(lines.len(), 1, "{:?}", rig.texts());
    assert!(
        lines[0].starts_with(
            "%PIX-4-404101: ISAKMP: Failed to allocate address for client from pool VPNpool (SA "
        ) && lines[0].contains("with 203.0.113.9:500"),
        "{lines:?}"
    );
}
