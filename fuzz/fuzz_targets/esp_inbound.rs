//! Inbound ESP packets from a hostile peer: arbitrary bytes into inbound SAs of every
//! algorithm pair and mode (including no-integrity SAs, so decryption, padding and
//! next-header checks see arbitrary plaintext), genuine packets with fuzzer-chosen
//! truncation and bit flips, the port-4500 classifier, and the SA table.
#![no_main]

use esp::*;
use libfuzzer_sys::fuzz_target;
use rand_core::{Infallible, TryCryptoRng, TryRng};
use std::sync::OnceLock;
use std::time::Instant;

/// A deterministic byte stream as the IV source.
struct Counter(u8);
impl TryRng for Counter {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(u32::from(self.0))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(u64::from(self.0))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            self.0 = self.0.wrapping_add(37);
            *b = self.0;
        }
        Ok(())
    }
}
impl TryCryptoRng for Counter {}

const ENCS: [EncryptionAlgorithm; 6] = [
    EncryptionAlgorithm::Des,
    EncryptionAlgorithm::TripleDes,
    EncryptionAlgorithm::Aes128,
    EncryptionAlgorithm::Aes192,
    EncryptionAlgorithm::Aes256,
    EncryptionAlgorithm::Null,
];
const AUTHS: [IntegrityAlgorithm; 3] = [
    IntegrityAlgorithm::None,
    IntegrityAlgorithm::HmacMd5_96,
    IntegrityAlgorithm::HmacSha1_96,
];

fn epoch() -> Instant {
    static T: OnceLock<Instant> = OnceLock::new();
    *T.get_or_init(Instant::now)
}

fn params(sel: u8, window: u32) -> EspSaParams {
    let enc = ENCS[usize::from(sel % 6)];
    let mut auth = AUTHS[usize::from((sel / 6) % 3)];
    if enc == EncryptionAlgorithm::Null && auth == IntegrityAlgorithm::None {
        auth = IntegrityAlgorithm::HmacSha1_96;
    }
    let mode = if sel & 0x80 != 0 {
        Encapsulation::Transport
    } else {
        Encapsulation::Tunnel
    };
    let keymat = [0x5au8; 64];
    let mut p = EspSaParams::new(
        0x0102_0304,
        enc,
        auth,
        mode,
        EspKeys::from_keymat(&keymat, enc, auth).unwrap(),
    );
    p.replay_window = window;
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&op, rest)) = rest.split_first() else {
        return;
    };
    let now = epoch();
    let window = [0u32, 32, 64, 1024][usize::from(op & 3)];
    let p = params(sel, window);
    let _ = udp_encap::classify(rest);
    let _ = peek_spi(rest);

    // 1. Raw bytes, as a sequence of packets split on a marker, with the SPI forced
    //    to the SA's so the checks behind the SPI are reached.
    let mut inb = InboundSa::new(&p, now).unwrap();
    let mut table = InboundSaTable::new();
    table.insert(InboundSa::new(&p, now).unwrap());
    for chunk in rest.split(|&b| b == 0xA5).take(64) {
        let mut pkt = chunk.to_vec();
        if op & 4 != 0 && pkt.len() >= 4 {
            pkt[..4].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        }
        let mut copy = pkt.clone();
        match inb.decapsulate(now, &mut pkt) {
            Ok(d) => {
                assert!(d.payload.end <= pkt.len() && d.payload.start <= d.payload.end);
            }
            Err(e) => {
                let _ = e.kind();
                let _ = e.to_string();
            }
        }
        let _ = table.decapsulate(now, &mut copy);
        let mut insp = chunk.to_vec();
        let _ = inspect::decrypt_unauthenticated(
            p.encryption,
            p.keys.encryption.expose_secret(),
            usize::from(op >> 4),
            &mut insp,
        );
    }

    // 2. A genuine packet carrying `rest`, then fuzzer-chosen damage.
    let mut out = OutboundSa::new(&p, now).unwrap();
    let mut inb = InboundSa::new(&p, now).unwrap();
    let mut buf = vec![0u8; rest.len() + 64];
    let nh = if p.encapsulation.mode() == Mode::Tunnel {
        4
    } else {
        17
    };
    let Ok(n) = out.encapsulate(now, &mut Counter(sel), nh, rest, &mut buf) else {
        return;
    };
    let mut good = buf[..n].to_vec();
    let d = inb
        .decapsulate(now, &mut good)
        .expect("genuine packet must open");
    assert_eq!(&good[d.payload.clone()], rest);
    let cut = usize::from(op) % (n + 1);
    let mut bad = buf[..n].to_vec();
    if op & 8 != 0 {
        bad.truncate(cut);
    } else if let Some(b) = bad.get_mut(cut) {
        *b ^= sel | 1;
    }
    let _ = inb.decapsulate(now, &mut bad);
});
