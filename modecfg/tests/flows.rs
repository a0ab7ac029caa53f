//! Our server and our client talking to each other in memory, in both modes, with loss,
//! retransmission, timeouts and misbehaving peers.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use isakmp_wire::attr::OwnedAttribute;
use isakmp_wire::cfg::{CfgType, ConfigPayload, OwnedConfigPayload};
use modecfg::{
    to_bytes, AaaAddress, Assign, AttrSet, AttrType, ClientEvent, GroupPolicy, LeaseSource,
    ModeCfgAttr, ModeCfgError, Pools, PullClient, PullServer, PushClient, PushServer,
    RetransmitConfig, ServerConfig, ServerEvent, Transmit,
};

#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn pools() -> Pools {
    let mut p = Pools::new();
    p.add("VPNpool", ip("10.89.129.200"), ip("10.89.129.204"))
        .unwrap();
    p
}

fn policy() -> GroupPolicy {
    GroupPolicy {
        address_pools: vec!["VPNpool".into()],
        dns_servers: vec![ip("10.89.129.134")],
        ..GroupPolicy::named("vpn3000")
    }
}

/// Serialises and re-parses, as the wire would.
fn wire(p: &OwnedConfigPayload) -> Vec<u8> {
    to_bytes(p).unwrap()
}

fn parse(b: &[u8]) -> ConfigPayload<'_> {
    ConfigPayload::parse(b, 0).unwrap()
}

fn rt() -> RetransmitConfig {
    RetransmitConfig {
        initial: Duration::from_secs(2),
        max_sends: 3, // two resends
        max_interval: Duration::from_secs(8),
    }
}

#[test]
fn pull_round_trip_with_policy() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let request = [
        ModeCfgAttr::Request(AttrType::Ip4Address),
        ModeCfgAttr::Request(AttrType::Ip4Netmask),
        ModeCfgAttr::Request(AttrType::Ip4Dns),
        ModeCfgAttr::DdnsHostname("laptop".into()),
    ];
    let mut client = PullClient::new(now, 0x4242, &request, rt()).unwrap();
    let mut server = PullServer::new(ServerConfig::full(), now);
    let req = wire(&client.poll_transmit().unwrap().payload);
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "alice",
        aaa: None,
    };
    server.handle_payload(now, &parse(&req), &mut cx).unwrap();
    assert!(server.is_done());
    let reply = server.poll_transmit().unwrap().payload;
    assert_eq!(reply.cfg_type, CfgType::Reply);
    assert_eq!(reply.identifier, 0x4242);
    client.handle_payload(now, &parse(&wire(&reply))).unwrap();
    let cfg = client.config().unwrap().clone();
    assert_eq!(cfg.address, Some(ip("10.89.129.200")));
    assert_eq!(cfg.netmask, Some(ip("255.0.0.0")));
    assert_eq!(cfg.dns, vec![ip("10.89.129.134")]);
    assert_eq!(cfg.ddns_hostname, Some("laptop".into()));
    assert!(
        matches!(client.poll_event(), Some(ClientEvent::Configured(c)) if c.address == cfg.address)
    );
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(
        server.lease().unwrap().source(),
        &LeaseSource::Pool("VPNpool".into())
    );
}

#[test]
fn retransmitted_request_gets_same_reply() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let mut client = PullClient::vpn_client_4x(now, 9, "v", rt()).unwrap();
    let mut server = PullServer::new(ServerConfig::pix63(), now);
    let req = wire(&client.poll_transmit().unwrap().payload);
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "alice",
        aaa: None,
    };
    server.handle_payload(now, &parse(&req), &mut cx).unwrap();
    let first = server.poll_transmit().unwrap();
    assert!(!first.retransmission);
    let first = first.payload;
    // The reply is lost; the client resends at its deadline.
    assert_eq!(client.poll_timeout(), Some(now + Duration::from_secs(2)));
    client.handle_timeout(now + Duration::from_secs(2));
    assert_eq!(
        client.poll_event(),
        Some(ClientEvent::Retransmitted { identifier: 9 })
    );
    let again = client.poll_transmit().unwrap();
    assert!(again.retransmission, "a resend says so");
    let again = wire(&again.payload);
    assert_eq!(again, req);
    while server.poll_event().is_some() {}
    server.handle_payload(now, &parse(&again), &mut cx).unwrap();
    assert_eq!(
        server.poll_event(),
        Some(ServerEvent::Retransmitted { identifier: 9 })
    );
    assert_eq!(server.poll_transmit(), Some(Transmit::again(first.clone())));
    assert_eq!(pools.total_in_use(), 1, "no second address");
    client.handle_payload(now, &parse(&wire(&first))).unwrap();
    assert!(client.config().is_some());
    // A late duplicate reply is refused without harm.
    assert!(matches!(
        client.handle_payload(now, &parse(&wire(&first))),
        Err(ModeCfgError::Finished { state: "done", .. })
    ));
}

#[test]
fn pull_client_gives_up_after_retries() {
    let now = t0();
    let mut client = PullClient::vpn_client_4x(now, 1, "v", rt()).unwrap();
    assert!(client.poll_transmit().is_some());
    let mut t = now;
    let mut resends = 0;
    while let Some(d) = client.poll_timeout() {
        assert!(d > t);
        t = d;
        client.handle_timeout(t);
        if client.poll_transmit().is_some() {
            resends += 1;
        }
    }
    assert_eq!(resends, 2);
    assert!(client.is_failed());
    let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    assert_eq!(
        events.last(),
        Some(&ClientEvent::TimedOut {
            waiting_for: "CFG_REPLY"
        })
    );
    // 2 s, then 4 s, then 8 s.
    assert_eq!(t, now + Duration::from_secs(14));
}

#[test]
fn pull_server_request_timeout() {
    let now = t0();
    let mut server = PullServer::new(ServerConfig::pix63(), now);
    let d = server.poll_timeout().unwrap();
    assert_eq!(d, now + Duration::from_secs(60));
    server.handle_timeout(now + Duration::from_secs(59));
    assert!(!server.is_failed());
    server.handle_timeout(d);
    assert!(server.is_failed());
    assert_eq!(
        server.poll_event(),
        Some(ServerEvent::TimedOut {
            waiting_for: "CFG_REQUEST"
        })
    );
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn pull_server_refuses_wrong_messages_without_changing_state() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let mut server = PullServer::new(ServerConfig::pix63(), now);
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "u",
        aaa: None,
    };
    let set = wire(&OwnedConfigPayload {
        cfg_type: CfgType::Set,
        identifier: 1,
        attributes: vec![],
    });
    assert_eq!(
        server.handle_payload(now, &parse(&set), &mut cx),
        Err(ModeCfgError::UnexpectedType {
            state: "waiting for the client's request",
            expected: "CFG_REQUEST",
            got: "CFG_SET"
        })
    );
    // A malformed attribute (3-byte address) is located and dropped.
    let bad = [1u8, 0, 0, 1, 0, 1, 0, 3, 1, 2, 3];
    assert_eq!(
        server.handle_payload(now, &ConfigPayload::parse(&bad, 28).unwrap(), &mut cx),
        Err(ModeCfgError::BadLength {
            attr: AttrType::Ip4Address,
            offset: 32,
            length: 3,
            expected: "0 or 4 bytes"
        })
    );
    assert!(!server.is_done() && !server.is_failed());
    assert_eq!(cx.pools.total_in_use(), 0);
    // The good request still works afterwards.
    let req = wire(&OwnedConfigPayload {
        cfg_type: CfgType::Request,
        identifier: 5,
        attributes: vec![OwnedAttribute::variable(1, vec![])],
    });
    server.handle_payload(now, &parse(&req), &mut cx).unwrap();
    assert!(server.is_done());
    // A new request with another identifier after the reply is refused.
    let other = wire(&OwnedConfigPayload {
        cfg_type: CfgType::Request,
        identifier: 6,
        attributes: vec![],
    });
    assert!(matches!(
        server.handle_payload(now, &parse(&other), &mut cx),
        Err(ModeCfgError::Finished { .. })
    ));
}

#[test]
fn pull_aaa_address_wins_over_pool() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let mut client = PullClient::vpn_client_4x(now, 3, "v", rt()).unwrap();
    let mut server = PullServer::new(ServerConfig::pix63(), now);
    let req = wire(&client.poll_transmit().unwrap().payload);
    let aaa = Some(AaaAddress {
        addr: ip("172.16.9.9"),
        netmask: Some(ip("255.255.255.0")),
    });
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "radius-user",
        aaa,
    };
    server.handle_payload(now, &parse(&req), &mut cx).unwrap();
    client
        .handle_payload(now, &parse(&wire(&server.poll_transmit().unwrap().payload)))
        .unwrap();
    assert_eq!(client.config().unwrap().address, Some(ip("172.16.9.9")));
    assert_eq!(client.config().unwrap().netmask, Some(ip("255.255.255.0")));
    assert_eq!(pools.pool("VPNpool").unwrap().in_use(), 0);
    assert!(pools.is_in_use(ip("172.16.9.9")));
    pools.release(server.take_lease().unwrap()).unwrap();
    assert_eq!(pools.total_in_use(), 0);
}

#[test]
fn pull_client_ignores_unrequested_and_requires_address() {
    let now = t0();
    let req = [ModeCfgAttr::Request(AttrType::Ip4Address)];
    // A gateway that pushes a banner and split tunnel the client never asked for.
    let mut client = PullClient::new(now, 1, &req, rt()).unwrap();
    let reply = OwnedConfigPayload {
        cfg_type: CfgType::Reply,
        identifier: 1,
        attributes: modecfg::attrs::encode_list(&[
            ModeCfgAttr::Ip4Address(ip("10.0.0.1")),
            ModeCfgAttr::Banner("ignore me".into()),
        ])
        .unwrap(),
    };
    client.handle_payload(now, &parse(&wire(&reply))).unwrap();
    assert_eq!(
        client.poll_event(),
        Some(ClientEvent::Unrequested {
            attr: AttrType::Banner
        })
    );
    assert_eq!(client.config().unwrap().banner, None);
    // Wrong identifier, then a reply lacking the address.
    let mut client = PullClient::new(now, 2, &req, rt()).unwrap();
    let empty = OwnedConfigPayload {
        cfg_type: CfgType::Reply,
        identifier: 3,
        attributes: vec![],
    };
    assert_eq!(
        client.handle_payload(now, &parse(&wire(&empty))),
        Err(ModeCfgError::IdentifierMismatch {
            expected: 2,
            got: 3
        })
    );
    let empty = OwnedConfigPayload {
        identifier: 2,
        ..empty
    };
    assert_eq!(
        client.handle_payload(now, &parse(&wire(&empty))),
        Err(ModeCfgError::MissingAttribute {
            cfg_type: "CFG_REPLY",
            attr: AttrType::Ip4Address
        })
    );
    assert!(client.is_failed());
}

#[test]
fn push_round_trip_like_vpn_client_1_1() {
    let now = t0();
    let mut pools = pools();
    let policy = GroupPolicy {
        address_pools: vec!["VPNpool".into()],
        ..GroupPolicy::named("")
    };
    let cfg = ServerConfig::pix63();
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "vpn11",
        aaa: None,
    };
    let mut server = PushServer::start(&cfg, now, 0xbe8d, &mut cx).unwrap();
    let mut client = PushClient::new(now, Some(Duration::from_secs(30)));
    let set = server.poll_transmit().unwrap().payload;
    // CFG_SET carries the address alone, as the PIX gives the 1.1 client.
    assert_eq!(wire(&set), [3, 0, 0xbe, 0x8d, 0, 1, 0, 4, 10, 89, 129, 200]);
    client.handle_payload(now, &parse(&wire(&set))).unwrap();
    let ack = client.poll_transmit().unwrap().payload;
    assert_eq!(wire(&ack), [4, 0, 0xbe, 0x8d, 0, 1, 0, 0]);
    server.handle_payload(now, &parse(&wire(&ack))).unwrap();
    assert!(server.is_done());
    let lines: Vec<String> = std::iter::from_fn(|| server.poll_event())
        .filter_map(|e| e.pix_line())
        .collect();
    assert_eq!(lines, ["ISAKMP (0:0): peer accepted the address!"]);
    assert_eq!(client.config().unwrap().address, Some(ip("10.89.129.200")));
    assert_eq!(server.poll_timeout(), None);
    // A duplicate ACK is harmless.
    server.handle_payload(now, &parse(&wire(&ack))).unwrap();
    assert!(server.poll_event().is_none());
    pools.release(server.take_lease().unwrap()).unwrap();
}

#[test]
fn push_set_lost_then_ack_lost() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let mut cfg = ServerConfig::pix63();
    cfg.retransmit = rt();
    cfg.push_extra = AttrSet::of(&[AttrType::Ip4Netmask, AttrType::Ip4Dns, AttrType::Banner]);
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "u",
        aaa: None,
    };
    let mut server = PushServer::start(&cfg, now, 77, &mut cx).unwrap();
    let mut client = PushClient::new(now, None);
    let lost = server.poll_transmit().unwrap();
    assert!(!lost.retransmission);
    assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(2)));
    server.handle_timeout(now + Duration::from_secs(1));
    assert!(server.poll_transmit().is_none());
    let t1 = now + Duration::from_secs(2);
    server.handle_timeout(t1);
    let set = server.poll_transmit().expect("resent");
    assert!(set.retransmission);
    let set = set.payload;
    // Extra pushed types the policy fills (no banner configured: left out).
    let kinds: Vec<u16> = set.attributes.iter().map(|a| a.kind).collect();
    assert_eq!(kinds, [1, 2, 3]);
    client.handle_payload(t1, &parse(&wire(&set))).unwrap();
    let _ack_lost = client.poll_transmit().unwrap().payload;
    let t2 = server.poll_timeout().unwrap();
    assert_eq!(t2, t1 + Duration::from_secs(4));
    server.handle_timeout(t2);
    let set2 = server.poll_transmit().unwrap();
    assert_eq!(set2, Transmit::again(set.clone()));
    let set2 = set2.payload;
    client.handle_payload(t2, &parse(&wire(&set2))).unwrap();
    let ack = client.poll_transmit().unwrap().payload;
    assert_eq!(ack.attributes.len(), 3);
    server.handle_payload(t2, &parse(&wire(&ack))).unwrap();
    assert!(server.is_done());
    let cfg = client.config().unwrap();
    assert_eq!(cfg.dns, vec![ip("10.89.129.134")]);
}

#[test]
fn push_times_out_and_lease_goes_back() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let mut cfg = ServerConfig::pix63();
    cfg.retransmit = rt();
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "u",
        aaa: None,
    };
    let mut server = PushServer::start(&cfg, now, 1, &mut cx).unwrap();
    let mut sent = 0;
    while server.poll_transmit().is_some() {
        sent += 1;
    }
    while let Some(d) = server.poll_timeout() {
        server.handle_timeout(d);
        while server.poll_transmit().is_some() {
            sent += 1;
        }
    }
    assert_eq!(sent, 3, "one SET and two resends");
    assert!(server.is_failed());
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(
        events.last(),
        Some(&ServerEvent::TimedOut {
            waiting_for: "CFG_ACK"
        })
    );
    pools.release(server.take_lease().unwrap()).unwrap();
    assert_eq!(pools.total_in_use(), 0);
}

#[test]
fn push_ack_checks() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let cfg = ServerConfig::pix63();
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "u",
        aaa: None,
    };
    let mut server = PushServer::start(&cfg, now, 10, &mut cx).unwrap();
    let wrong_id = wire(&OwnedConfigPayload {
        cfg_type: CfgType::Ack,
        identifier: 11,
        attributes: vec![OwnedAttribute::variable(1, vec![])],
    });
    assert_eq!(
        server.handle_payload(now, &parse(&wrong_id)),
        Err(ModeCfgError::IdentifierMismatch {
            expected: 10,
            got: 11
        })
    );
    let reply = wire(&OwnedConfigPayload {
        cfg_type: CfgType::Reply,
        identifier: 10,
        attributes: vec![],
    });
    assert!(matches!(
        server.handle_payload(now, &parse(&reply)),
        Err(ModeCfgError::UnexpectedType { .. })
    ));
    assert!(!server.is_done() && !server.is_failed());
    // An ACK that does not list the address: the client refused it. Identifier 0 stands
    // for the outstanding SET (strongSwan 5.9 acknowledges with 0).
    let no_addr = wire(&OwnedConfigPayload {
        cfg_type: CfgType::Ack,
        identifier: 0,
        attributes: vec![],
    });
    server.handle_payload(now, &parse(&no_addr)).unwrap();
    assert!(server.is_failed());
    let events: Vec<_> = std::iter::from_fn(|| server.poll_event()).collect();
    assert_eq!(
        events.last(),
        Some(&ServerEvent::PeerRejectedAddress {
            addr: ip("10.89.129.200")
        })
    );
}

#[test]
fn push_start_on_empty_pool_holds_nothing() {
    let now = t0();
    let mut pools = Pools::new();
    pools.add("One", ip("10.1.1.1"), ip("10.1.1.1")).unwrap();
    let policy = GroupPolicy {
        address_pools: vec!["One".into()],
        ..GroupPolicy::named("g")
    };
    let cfg = ServerConfig::pix63();
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "a",
        aaa: None,
    };
    let _first = PushServer::start(&cfg, now, 1, &mut cx).unwrap();
    let err = PushServer::start(&cfg, now, 2, &mut cx).unwrap_err();
    assert_eq!(
        err,
        ModeCfgError::PoolExhausted {
            pool: "One".into(),
            size: 1
        }
    );
    assert_eq!(pools.total_in_use(), 1);
}

#[test]
fn push_client_acks_known_types_only_and_resends_ack() {
    let now = t0();
    let mut client = PushClient::new(now, None);
    let set = OwnedConfigPayload {
        cfg_type: CfgType::Set,
        identifier: 0x6231,
        attributes: vec![
            ModeCfgAttr::Ip4Address(ip("10.89.129.201"))
                .encode()
                .unwrap(),
            OwnedAttribute::variable(30000, vec![1, 2]),
            ModeCfgAttr::Ip4Dns(ip("1.1.1.1")).encode().unwrap(),
            ModeCfgAttr::Ip4Dns(ip("1.0.0.1")).encode().unwrap(),
        ],
    };
    client.handle_payload(now, &parse(&wire(&set))).unwrap();
    let ack = client.poll_transmit().unwrap();
    assert!(!ack.retransmission);
    let ack = ack.payload;
    assert_eq!(
        ack,
        OwnedConfigPayload {
            cfg_type: CfgType::Ack,
            identifier: 0x6231,
            attributes: vec![
                OwnedAttribute::variable(1, vec![]),
                OwnedAttribute::variable(3, vec![])
            ],
        }
    );
    assert_eq!(client.config().unwrap().dns.len(), 2);
    assert_eq!(client.config().unwrap().unknown.len(), 1);
    // The SET again (our ACK was lost): the same ACK again.
    let _ = client.poll_event();
    client.handle_payload(now, &parse(&wire(&set))).unwrap();
    assert_eq!(client.poll_transmit(), Some(Transmit::again(ack.clone())));
    assert_eq!(
        client.poll_event(),
        Some(ClientEvent::Retransmitted { identifier: 0x6231 })
    );
    // A REQUEST is not what a push client takes.
    let mut fresh = PushClient::new(now, Some(Duration::from_secs(5)));
    let req = wire(&OwnedConfigPayload {
        cfg_type: CfgType::Request,
        identifier: 1,
        attributes: vec![],
    });
    assert!(matches!(
        fresh.handle_payload(now, &parse(&req)),
        Err(ModeCfgError::UnexpectedType { .. })
    ));
    fresh.handle_timeout(now + Duration::from_secs(5));
    assert!(fresh.is_failed());
    assert_eq!(
        fresh.poll_event(),
        Some(ClientEvent::TimedOut {
            waiting_for: "CFG_SET"
        })
    );
}

#[test]
fn invalid_policy_is_refused_before_any_address_is_taken() {
    let now = t0();
    let mut pools = pools();
    let policy = GroupPolicy {
        dns_servers: vec![ip("1.1.1.1"), ip("1.1.1.2"), ip("1.1.1.3")],
        ..policy()
    };
    let bad = ModeCfgError::BadPolicy {
        group: "vpn3000".into(),
        what: "more than two dns-server addresses",
    };
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "u",
        aaa: None,
    };
    assert_eq!(
        PushServer::start(&ServerConfig::pix63(), now, 1, &mut cx).unwrap_err(),
        bad
    );
    let mut server = PullServer::new(ServerConfig::pix63(), now);
    let mut client = PullClient::vpn_client_4x(now, 1, "v", rt()).unwrap();
    let req = wire(&client.poll_transmit().unwrap().payload);
    assert_eq!(server.handle_payload(now, &parse(&req), &mut cx), Err(bad));
    assert!(server.lease().is_none());
    assert_eq!(pools.total_in_use(), 0);
}

#[test]
fn retransmit_flood_without_draining_is_bounded() {
    let now = t0();
    let mut pools = pools();
    let policy = policy();
    let mut server = PullServer::new(ServerConfig::pix63(), now);
    let mut client = PullClient::vpn_client_4x(now, 1, "v", rt()).unwrap();
    let req = wire(&client.poll_transmit().unwrap().payload);
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "u",
        aaa: None,
    };
    for _ in 0..10_000 {
        server.handle_payload(now, &parse(&req), &mut cx).unwrap();
    }
    let queued = std::iter::from_fn(|| server.poll_transmit()).count();
    assert!(queued <= 64, "{queued} replies queued");
    assert_eq!(pools.total_in_use(), 1);
}
