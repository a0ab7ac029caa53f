//! RADIUS responses as a client receives them: packet parsing, authenticator
//! verification and Access-Accept interpretation, plus the AAA client fed the
//! datagram as the reply to a pending request.
#![no_main]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use xauth::aaa::{AaaClient, AaaConfig, AuthRequest, Protocol, ServerSpec};
use xauth::radius::{self, Packet};
use xauth::{LocalUsers, Secret};

struct Counter(u64);
impl rand_core::TryRng for Counter {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1);
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}
impl rand_core::TryCryptoRng for Counter {}

fuzz_target!(|data: &[u8]| {
    let key = Secret::from("secretkey");
    let _ = Packet::parse(data);
    if let Ok(p) = radius::verify_response(data, 0, &[0; 16], &key) {
        let _ = radius::access_result(&p);
    }
    let server = SocketAddr::from(([127, 0, 0, 1], 1812));
    let mut cfg = AaaConfig::new(Protocol::Radius, Ipv4Addr::LOCALHOST);
    cfg.servers.push(ServerSpec {
        addr: server,
        acct_addr: None,
        key,
        timeout: Duration::from_secs(1),
    });
    let mut c = AaaClient::new(cfg, LocalUsers::new());
    let mut rng = Counter(1);
    let now = Instant::now();
    let _ = c.authenticate(
        now,
        &mut rng,
        AuthRequest {
            user: b"u".to_vec(),
            password: Secret::from("p"),
            client_addr: None,
            radius_state: None,
        },
    );
    let _ = c.handle_datagram(now, &mut rng, server, data);
    while c.poll_transmit().is_some() {}
    while c.poll_event().is_some() {}
});
