//! The Mode Config machines fed arbitrary payload bodies and timeouts: no panic, and no
//! address is ever leaked or held twice.
#![no_main]

use std::time::{Duration, Instant};

use isakmp_wire::cfg::ConfigPayload;
use libfuzzer_sys::fuzz_target;
use modecfg::{
    Assign, GroupPolicy, Pools, PullClient, PullServer, PushClient, PushServer, RetransmitConfig,
    ServerConfig,
};

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)]
    let start = Instant::now();
    let mut pools = Pools::new();
    pools
        .add(
            "P",
            "10.0.0.1".parse().unwrap(),
            "10.0.0.2".parse().unwrap(),
        )
        .unwrap();
    let policy = GroupPolicy {
        address_pools: vec!["P".into()],
        dns_servers: vec!["10.0.0.53".parse().unwrap()],
        ..GroupPolicy::named("g")
    };
    let mut pull = PullServer::new(ServerConfig::full(), start);
    let mut cx = Assign {
        pools: &mut pools,
        policy: &policy,
        user: "u",
        aaa: None,
    };
    let mut push = PushServer::start(&ServerConfig::pix63(), start, 1, &mut cx).ok();
    let mut pull_client =
        PullClient::vpn_client_4x(start, 1, "v", RetransmitConfig::default()).unwrap();
    let mut push_client = PushClient::new(start, Some(Duration::from_secs(5)));
    // Messages are length-prefixed chunks of the input; a zero length is a timeout tick.
    let mut rest = data;
    let mut now = start;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (msg, tail) = tail.split_at(len);
        rest = tail;
        if len == 0 {
            now += Duration::from_secs(3);
            pull.handle_timeout(now);
            if let Some(p) = push.as_mut() {
                p.handle_timeout(now);
            }
            pull_client.handle_timeout(now);
            push_client.handle_timeout(now);
            continue;
        }
        if let Ok(p) = ConfigPayload::parse(msg, 0) {
            let mut cx = Assign {
                pools: &mut pools,
                policy: &policy,
                user: "u",
                aaa: None,
            };
            let _ = pull.handle_payload(now, &p, &mut cx);
            if let Some(s) = push.as_mut() {
                let _ = s.handle_payload(now, &p);
            }
            let _ = pull_client.handle_payload(now, &p);
            let _ = push_client.handle_payload(now, &p);
        }
        while pull.poll_event().is_some() || pull.poll_transmit().is_some() {}
        while pull_client.poll_event().is_some() || pull_client.poll_transmit().is_some() {}
        while push_client.poll_event().is_some() || push_client.poll_transmit().is_some() {}
    }
    // Exactly the leases the machines hold are in use; giving them back empties the pool.
    let held = usize::from(pull.lease().is_some())
        + usize::from(push.as_ref().is_some_and(|p| p.lease().is_some()));
    assert_eq!(pools.total_in_use(), held);
    if let Some(l) = pull.take_lease() {
        pools.release(l).unwrap();
    }
    if let Some(l) = push.as_mut().and_then(|p| p.take_lease()) {
        pools.release(l).unwrap();
    }
    assert_eq!(pools.total_in_use(), 0);
});
