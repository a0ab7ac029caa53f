//! The ike-sm gateway (the seed's PIX configuration) fed arbitrary datagram sequences,
//! interleaved with a real client's messages (unmodified or with one byte flipped), clock
//! jumps and AAA verdicts, so the fuzzer reaches the encrypted exchanges: no panic, no
//! unbounded growth. fuzz/Cargo.toml builds ike-sm with its `fuzzing` feature (a
//! no-security Diffie-Hellman stand-in), so a run costs no modular exponentiation.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, Endpoint, Event, QuickModeRequest, Selector, TrafficSelector};
use libfuzzer_sys::fuzz_target;

/// A deterministic xorshift generator (fuzzing needs reproducibility, not secrecy).
struct Xorshift(u64);
impl rand_core::TryRng for Xorshift {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> {
        for b in d {
            *b = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Xorshift {}

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let (cfg, pools) = presets::seed_gateway(
        b"cisco1234",
        "10.89.129.200".parse().unwrap(),
        "10.89.129.201".parse().unwrap(),
    )
    .unwrap();
    let mut gw = Endpoint::new(cfg, pools);
    let mut client = Endpoint::new(presets::client(), modecfg::Pools::new());
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let g: SocketAddr = "192.168.1.1:500".parse().unwrap();
    let c: SocketAddr = "192.168.1.2:500".parse().unwrap();
    let profile = presets::vpn_client_4x(DhGroup::Modp768, b"cisco1234", "u", b"p");
    let sa = client.initiate(now, c, g, profile, &mut rng).unwrap();
    let mut it = data.iter().copied();
    let mut steps = 0;
    while let Some(op) = it.next() {
        steps += 1;
        if steps > 200 {
            break;
        }
        match op % 6 {
            0 => {
                if let Some(t) = client.poll_transmit() {
                    gw.handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
                }
                if let Some(t) = gw.poll_transmit() {
                    client.handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
                }
            }
            1 => {
                let (i, v) = (usize::from(it.next().unwrap_or(0)), it.next().unwrap_or(1));
                if let Some(mut t) = client.poll_transmit() {
                    if let Some(b) = t.bytes.get_mut(i) {
                        *b ^= v;
                    }
                    gw.handle_datagram(now, t.remote, t.local, &t.bytes, &mut rng);
                }
            }
            2 => {
                // Raw bytes from one of four peer addresses, on port 500 or 4500 (several
                // peers' SAs, NAT-T floats: the timer and peer indexes' debug checks).
                let from = it.next().unwrap_or(0);
                let port = if from & 0x10 == 0 { 500 } else { 4500 };
                let src = SocketAddr::new(
                    std::net::Ipv4Addr::new(192, 168, 1, 2 + (from & 3)).into(),
                    port,
                );
                let dst = SocketAddr::new(g.ip(), port);
                let n = usize::from(it.next().unwrap_or(0));
                let bytes: Vec<u8> = it.by_ref().take(n).collect();
                gw.handle_datagram(now, dst, src, &bytes, &mut rng);
            }
            3 => {
                now += Duration::from_secs(u64::from(it.next().unwrap_or(1)));
                gw.handle_timeout(now, &mut rng);
                client.handle_timeout(now, &mut rng);
            }
            4 => {
                let ok = it.next().unwrap_or(0) & 1 == 0;
                while let Some(e) = gw.poll_event() {
                    if let Event::XauthCredentials { sa, .. } = e {
                        let _ = gw.xauth_verdict(now, sa, ok, &mut rng);
                    }
                }
            }
            _ => {
                if client.ready_for_quick_mode(sa) {
                    let req = QuickModeRequest {
                        local: TrafficSelector::new(Selector::Addr(
                            "10.89.129.200".parse().unwrap(),
                        )),
                        remote: TrafficSelector::new(Selector::Addr(
                            "192.168.1.1".parse().unwrap(),
                        )),
                        offers: presets::seed_qm_offers(),
                        pfs: None,
                        life_secs: 28_800,
                        life_kb: 0,
                    };
                    let _ = client.initiate_quick_mode(now, sa, req, &mut rng);
                }
            }
        }
        while gw.poll_event().is_some() {}
        while client.poll_event().is_some() {}
        // A peer that is never drained still cannot grow the gateway without bound.
        assert!(gw.sa_count() <= 64);
    }
});
