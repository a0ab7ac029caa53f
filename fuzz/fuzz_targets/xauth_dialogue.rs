//! The Xauth server machine fed an arbitrary sequence of attribute payloads,
//! verdicts and timeouts: it must never panic and must stay bounded.
#![no_main]

use std::time::{Duration, Instant};

use isakmp_wire::ConfigPayload;
use libfuzzer_sys::fuzz_target;
use xauth::{ServerConfig, ServerEvent, Verdict, XauthServer};

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
    let t0 = Instant::now();
    let mut s = XauthServer::start(ServerConfig::default(), t0, &mut Counter(0));
    let mut last_id: Option<u16> = None;
    let mut now = t0;
    // Each chunk: 1 control byte, 1 length byte, then that many bytes of payload.
    let mut rest = data;
    let mut steps = 0;
    while let [ctl, len, tail @ ..] = rest {
        steps += 1;
        if steps > 64 {
            break;
        }
        let n = usize::from(*len).min(tail.len());
        let (body, next) = tail.split_at(n);
        rest = next;
        while let Some(p) = s.poll_transmit() {
            last_id = Some(p.identifier);
        }
        match ctl % 4 {
            0 => {
                if let Ok(p) = ConfigPayload::parse(body, 0) {
                    let _ = s.handle(now, &p);
                }
            }
            1 => {
                // The body with the identifier of our last message patched in.
                let mut b = body.to_vec();
                if let (Some(id), Some(slot)) = (last_id, b.get_mut(2..4)) {
                    slot.copy_from_slice(&id.to_be_bytes());
                }
                if let Ok(p) = ConfigPayload::parse(&b, 0) {
                    let _ = s.handle(now, &p);
                }
            }
            2 => {
                while let Some(ev) = s.poll_event() {
                    if let ServerEvent::Credentials(c) = ev {
                        let v = match body.first().copied().unwrap_or(0) % 4 {
                            0 => Verdict::Accept,
                            1 => Verdict::Reject,
                            2 => Verdict::Challenge {
                                message: body.to_vec(),
                                challenge: None,
                            },
                            _ => Verdict::NextPin { message: vec![] },
                        };
                        let _ = s.verdict(now, c.id, v);
                    }
                }
            }
            _ => {
                now += Duration::from_secs(u64::from(body.first().copied().unwrap_or(1)));
                s.handle_timeout(now);
            }
        }
    }
});
