//! The seed scenario: Cisco VPN Client 4.0.5 pulls its configuration from the PIX 6.3 of
//! `fixtures/pix63-vpnclient.cfg` (`ip local pool VPNpool 10.89.129.200-10.89.129.204`,
//! `vpngroup vpn3000 address-pool VPNpool`, `vpngroup vpn3000 idle-time 1800`), and the PIX
//! answers and logs as its `debug crypto isakmp` trace shows.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // IO in a test: reads the seed's configuration fixture
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use isakmp_wire::cfg::{CfgType, ConfigPayload};
use modecfg::attrs::decode_payload;
use modecfg::{
    to_bytes, Assign, AttrType, GroupPolicy, ModeCfgAttr, Pools, PullClient, PullServer,
    RetransmitConfig, ServerConfig, ServerEvent, SplitEntry, Text, VPN_CLIENT_4X_REQUEST,
};

/// The seed trace's lines for the 4.x client's CFG_REQUEST (whitespace normalised).
const SEED_TRACE: &str = "ISAKMP (0:0): checking request: \
ISAKMP: attribute IP4_ADDRESS (1) ISAKMP: attribute IP4_NETMASK (2) ISAKMP: attribute IP4_DNS (3) \
ISAKMP: attribute IP4_NBNS (4) ISAKMP: attribute ADDRESS_EXPIRY (5) Unsupported Attr: 5 \
ISAKMP: attribute APPLICATION_VERSION (7) Unsupported Attr: 7 ISAKMP: attribute UNKNOWN (28672) \
Unsupported Attr: 28672 ISAKMP: attribute UNKNOWN (28673) Unsupported Attr: 28673 ISAKMP: \
attribute UNKNOWN (28674) ISAKMP: attribute UNKNOWN (28676) ISAKMP: attribute UNKNOWN (28679) \
Unsupported Attr: 28679 ISAKMP: attribute UNKNOWN (28680) Unsupported Attr: 28680 ISAKMP: \
attribute UNKNOWN (28677) Unsupported Attr: 28677";

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

fn seed_pools() -> Pools {
    let mut p = Pools::new();
    p.add(
        "VPNpool",
        "10.89.129.200".parse().unwrap(),
        "10.89.129.204".parse().unwrap(),
    )
    .unwrap();
    p
}

fn seed_policy() -> GroupPolicy {
    GroupPolicy {
        address_pools: vec!["VPNpool".into()],
        idle_time: Some(Duration::from_secs(1800)),
        ..GroupPolicy::named("vpn3000")
    }
}

/// Runs one 4.x client against a PIX; returns the reply bytes, the PIX log lines and all events.
fn run_4x(
    pools: &mut Pools,
    policy: &GroupPolicy,
    config: ServerConfig,
    user: &str,
    id: u16,
) -> (
    Vec<u8>,
    Vec<String>,
    Vec<ServerEvent>,
    PullServer,
    PullClient,
) {
    let now = t0();
    let mut client = PullClient::vpn_client_4x(
        now,
        id,
        "Cisco Systems VPN Client 4.0.5 (Rel):WinNT",
        RetransmitConfig::default(),
    )
    .unwrap();
    let mut server = PullServer::new(config, now);
    let req = to_bytes(&client.poll_transmit().unwrap().payload).unwrap();
    let mut cx = Assign {
        pools,
        policy,
        user,
        aaa: None,
    };
    server
        .handle_payload(now, &ConfigPayload::parse(&req, 0).unwrap(), &mut cx)
        .unwrap();
    let reply = to_bytes(&server.poll_transmit().unwrap().payload).unwrap();
    client
        .handle_payload(now, &ConfigPayload::parse(&reply, 0).unwrap())
        .unwrap();
    let events: Vec<ServerEvent> = std::iter::from_fn(|| server.poll_event()).collect();
    let lines = events.iter().filter_map(ServerEvent::pix_line).collect();
    (reply, lines, events, server, client)
}

#[test]
fn request_is_the_seed_list_in_order() {
    let numbers: Vec<u16> = VPN_CLIENT_4X_REQUEST.iter().map(|t| t.number()).collect();
    assert_eq!(
        numbers,
        [1, 2, 3, 4, 5, 7, 28672, 28673, 28674, 28676, 28679, 28680, 28677]
    );
    let mut c = PullClient::vpn_client_4x(t0(), 7, "v", RetransmitConfig::default()).unwrap();
    let req = c.poll_transmit().unwrap().payload;
    assert_eq!(req.cfg_type, CfgType::Request);
    let kinds: Vec<u16> = req.attributes.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, numbers);
}

#[test]
fn pix_answers_the_seed_request_as_logged() {
    let mut pools = seed_pools();
    let (reply, lines, events, mut server, client) = run_4x(
        &mut pools,
        &seed_policy(),
        ServerConfig::pix63(),
        "vpnuser",
        0x9c34,
    );
    // The debug lines match the seed trace word for word.
    assert_eq!(squash(&lines.join(" ")), squash(SEED_TRACE));
    // When the seed file is at hand, check the constant above against it.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/seed/000_0608b75d84f51a80.txt"
    );
    if let Ok(seed) = std::fs::read_to_string(path) {
        assert!(
            squash(&seed).contains(&squash(SEED_TRACE)),
            "seed trace text differs"
        );
    }
    // Exactly the unsupported seven are reported, in request order.
    let unsupported: Vec<u16> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Unsupported { attr } => Some(attr.number()),
            _ => None,
        })
        .collect();
    assert_eq!(unsupported, [5, 7, 28672, 28673, 28679, 28680, 28677]);
    // Supported but not configured in the seed's vpngroup: left out silently.
    let quiet: Vec<AttrType> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::NotConfigured { attr } => Some(*attr),
            _ => None,
        })
        .collect();
    assert_eq!(
        quiet,
        [
            AttrType::Ip4Dns,
            AttrType::Ip4Nbns,
            AttrType::DefDomain,
            AttrType::SplitInclude
        ]
    );
    // The reply: CFG_REPLY, identifier echoed, the first pool address and the classful mask.
    assert_eq!(
        reply,
        [
            2, 0, 0x9c, 0x34, // CFG_REPLY, reserved, identifier
            0, 1, 0, 4, 10, 89, 129, 200, // INTERNAL_IP4_ADDRESS 10.89.129.200
            0, 2, 0, 4, 255, 0, 0, 0, // INTERNAL_IP4_NETMASK 255.0.0.0
        ]
    );
    let cfg = client.config().unwrap();
    assert_eq!(cfg.address, Some(Ipv4Addr::new(10, 89, 129, 200)));
    assert_eq!(cfg.netmask, Some(Ipv4Addr::new(255, 0, 0, 0)));
    assert!(cfg.banner.is_none() && cfg.split_include.is_empty());
    // The lease is held by the SA until teardown.
    assert_eq!(pools.pool("VPNpool").unwrap().in_use(), 1);
    pools.release(server.take_lease().unwrap()).unwrap();
    assert_eq!(pools.pool("VPNpool").unwrap().in_use(), 0);
}

#[test]
fn second_seed_client_gets_the_next_address_and_sixth_is_refused() {
    let mut pools = seed_pools();
    let policy = seed_policy();
    let mut servers = Vec::new();
    for (i, last) in (200u8..=204).enumerate() {
        let (_, _, _, server, client) = run_4x(
            &mut pools,
            &policy,
            ServerConfig::pix63(),
            &format!("user{i}"),
            i as u16,
        );
        assert_eq!(
            client.config().unwrap().address,
            Some(Ipv4Addr::new(10, 89, 129, last))
        );
        servers.push(server);
    }
    // The sixth: the PIX has nothing left; the dialogue fails and holds nothing.
    let now = t0();
    let mut client = PullClient::vpn_client_4x(now, 6, "v", RetransmitConfig::default()).unwrap();
    let mut server = PullServer::new(ServerConfig::pix63(), now);
    let req = to_bytes(&client.poll_transmit().unwrap().payload).unwrap();
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "user5",
        aaa: None,
    };
    let err = server
        .handle_payload(now, &ConfigPayload::parse(&req, 0).unwrap(), &mut cx)
        .unwrap_err();
    assert_eq!(
        err,
        modecfg::ModeCfgError::PoolExhausted {
            pool: "VPNpool".into(),
            size: 5
        }
    );
    assert!(server.is_failed());
    assert!(server.lease().is_none());
    assert!(server.poll_transmit().is_none());
    assert_eq!(
        server.poll_event(),
        Some(ServerEvent::AddressUnavailable { error: err.clone() })
    );
    assert_eq!(pools.total_in_use(), 5);
    for mut s in servers {
        pools.release(s.take_lease().unwrap()).unwrap();
    }
    assert_eq!(pools.total_in_use(), 0);
}

#[test]
fn configured_vpngroup_fills_what_the_pix_supports_and_nothing_unrequested() {
    let mut pools = seed_pools();
    let policy = GroupPolicy {
        dns_servers: vec![
            Ipv4Addr::new(10, 89, 129, 134),
            Ipv4Addr::new(10, 89, 129, 135),
        ],
        wins_servers: vec![Ipv4Addr::new(10, 89, 129, 136)],
        default_domain: Some("example.co.kr".into()),
        // access-list 101 permit ip 10.89.129.128 255.255.255.240 10.89.129.192 255.255.255.240
        split_tunnel: vec![SplitEntry::network(
            Ipv4Addr::new(10, 89, 129, 128),
            Ipv4Addr::new(255, 255, 255, 240),
        )],
        split_dns: vec!["corp.example".into()],
        banner: Some("Authorized users only".into()),
        pfs: true,
        password_storage: true,
        backup_servers: vec!["192.168.1.5".into()],
        ..seed_policy()
    };
    let (reply, _, _, _, client) = run_4x(&mut pools, &policy, ServerConfig::pix63(), "u", 1);
    let attrs = decode_payload(&ConfigPayload::parse(&reply, 0).unwrap()).unwrap();
    assert_eq!(
        attrs,
        vec![
            ModeCfgAttr::Ip4Address(Ipv4Addr::new(10, 89, 129, 200)),
            ModeCfgAttr::Ip4Netmask(Ipv4Addr::new(255, 0, 0, 0)),
            ModeCfgAttr::Ip4Dns(Ipv4Addr::new(10, 89, 129, 134)),
            ModeCfgAttr::Ip4Dns(Ipv4Addr::new(10, 89, 129, 135)),
            ModeCfgAttr::Ip4Nbns(Ipv4Addr::new(10, 89, 129, 136)),
            ModeCfgAttr::DefDomain(Text::from("example.co.kr")),
            ModeCfgAttr::SplitInclude(policy.split_tunnel.clone()),
        ]
    );
    let cfg = client.config().unwrap();
    assert_eq!(cfg.dns.len(), 2);
    assert_eq!(cfg.split_include, policy.split_tunnel);

    // A gateway supporting everything also answers BANNER, SAVE_PASSWD and PFS, which the
    // client asked for, but still not SPLIT_DNS or BACKUP_SERVERS, which it did not.
    let mut pools = seed_pools();
    let (reply, lines, _, _, client) = run_4x(&mut pools, &policy, ServerConfig::full(), "u", 2);
    let kinds: Vec<u16> = decode_payload(&ConfigPayload::parse(&reply, 0).unwrap())
        .unwrap()
        .iter()
        .map(|a| a.attr_type().number())
        .collect();
    assert_eq!(kinds, [1, 2, 3, 3, 4, 28672, 28673, 28674, 28676, 28679]);
    assert!(!kinds.contains(&28675) && !kinds.contains(&28681));
    // Every type the 4.x client asks for is known to such a gateway: nothing is "Unsupported".
    assert!(
        lines.iter().all(|l| !l.starts_with("Unsupported")),
        "{lines:?}"
    );
    let cfg = client.config().unwrap();
    assert_eq!(cfg.banner, Some(Text::from("Authorized users only")));
    assert_eq!(cfg.save_password, Some(true));
    assert_eq!(cfg.pfs, Some(true));
}
