//! Outbound and inbound ESP security associations (RFC 4303 3.3 and 3.4).

use crate::cipher::EspCipher;
use crate::error::EspError;
use crate::hmac96::{HmacKey, Integrity};
use crate::lifetime::{LifetimeEvent, LifetimeTracker};
use crate::packet::{EspPacket, HEADER_LEN};
use crate::params::{Encapsulation, EncryptionAlgorithm, EspSaParams, IntegrityAlgorithm, Mode};
use crate::replay::{ReplayVerdict, ReplayWindow};
use core::ops::Range;
use rand_core::CryptoRng;
use std::time::Instant;

/// Next Header for an IPv4 packet (tunnel mode).
pub const NEXT_HEADER_IPV4: u8 = 4;
/// Next Header for an IPv6 packet (tunnel mode).
pub const NEXT_HEADER_IPV6: u8 = 41;
/// Next Header of a dummy packet (RFC 4303 2.6), to be dropped by the receiver.
pub const NEXT_HEADER_DUMMY: u8 = 59;
/// Largest ESP packet this crate builds or accepts (an IPv4 datagram's maximum).
pub const MAX_PACKET: usize = 65535;

fn integrity_from(alg: IntegrityAlgorithm, key: &[u8]) -> Integrity {
    match alg {
        IntegrityAlgorithm::None => Integrity::None,
        IntegrityAlgorithm::HmacMd5_96 => Integrity::Md5(HmacKey::new(key)),
        IntegrityAlgorithm::HmacSha1_96 => Integrity::Sha1(HmacKey::new(key)),
    }
}

/// Fields common to both directions.
#[derive(Debug)]
struct SaCore {
    spi: u32,
    encryption: EncryptionAlgorithm,
    integrity_alg: IntegrityAlgorithm,
    encapsulation: Encapsulation,
    cipher: EspCipher,
    integrity: Integrity,
    lifetime: LifetimeTracker,
}

impl SaCore {
    fn new(params: &EspSaParams, now: Instant) -> Result<Self, EspError> {
        params.validate()?;
        Ok(SaCore {
            spi: params.spi,
            encryption: params.encryption,
            integrity_alg: params.integrity,
            encapsulation: params.encapsulation,
            cipher: EspCipher::new(params.encryption, params.keys.encryption.expose_secret())?,
            integrity: integrity_from(params.integrity, params.keys.integrity.expose_secret()),
            lifetime: LifetimeTracker::new(params.lifetime, now),
        })
    }

    fn iv_len(&self) -> usize {
        self.encryption.iv_len()
    }

    fn icv_len(&self) -> usize {
        self.integrity_alg.icv_len()
    }
}

/// The sending half of an ESP SA.
#[derive(Debug)]
pub struct OutboundSa {
    /// Boxed (656 bytes, most of it the cipher's key schedule): a table of SAs keeps
    /// one pointer per SA in its slots, not the whole state times the table's slack.
    core: Box<SaCore>,
    /// Last sequence number sent (0 before the first packet).
    seq: u32,
}

impl OutboundSa {
    /// Installs the SA at `now`.
    pub fn new(params: &EspSaParams, now: Instant) -> Result<Self, EspError> {
        Ok(OutboundSa {
            core: Box::new(SaCore::new(params, now)?),
            seq: 0,
        })
    }

    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.core.spi
    }

    /// The encapsulation mode.
    pub fn encapsulation(&self) -> Encapsulation {
        self.core.encapsulation
    }

    /// The last sequence number sent.
    pub fn last_seq(&self) -> u32 {
        self.seq
    }

    /// Sets the last sequence number sent (for tests of exhaustion, or to resume).
    pub fn set_last_seq(&mut self, seq: u32) {
        self.seq = seq;
    }

    /// Payload bytes protected so far.
    pub fn bytes(&self) -> u64 {
        self.core.lifetime.bytes()
    }

    /// Where the payload starts in the buffer given to
    /// [`encapsulate_in_place`](Self::encapsulate_in_place): SPI, sequence number, IV.
    pub fn payload_offset(&self) -> usize {
        HEADER_LEN.saturating_add(self.core.iv_len())
    }

    /// Total ESP packet length for a payload of `payload_len` bytes.
    pub fn encapsulated_len(&self, payload_len: usize) -> Result<usize, EspError> {
        let align = self.core.encryption.alignment();
        let body = payload_len
            .checked_add(2)
            .and_then(|n| n.checked_next_multiple_of(align))
            .ok_or(EspError::PayloadTooLarge { len: payload_len })?;
        let total = self
            .payload_offset()
            .checked_add(body)
            .and_then(|n| n.checked_add(self.core.icv_len()))
            .ok_or(EspError::PayloadTooLarge { len: payload_len })?;
        if total > MAX_PACKET {
            return Err(EspError::PayloadTooLarge { len: payload_len });
        }
        Ok(total)
    }

    /// Encapsulates the payload already placed at `buf[payload_offset()..][..payload_len]`.
    /// Writes the header, a fresh IV from `rng`, padding, trailer and ICV around it, in
    /// place, and returns the ESP packet length (`buf[..len]`).
    ///
    /// `next_header` is 4 (IPv4) or 41 (IPv6) in tunnel mode, the transport protocol
    /// in transport mode.
    pub fn encapsulate_in_place<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        next_header: u8,
        buf: &mut [u8],
        payload_len: usize,
    ) -> Result<usize, EspError> {
        let spi = self.core.spi;
        self.core.lifetime.check(spi, now)?;
        let total = self.encapsulated_len(payload_len)?;
        if buf.len() < total {
            return Err(EspError::BufferTooSmall {
                needed: total,
                available: buf.len(),
            });
        }
        let seq = self
            .seq
            .checked_add(1)
            .ok_or(EspError::SequenceExhausted { spi })?;
        let icv_len = self.core.icv_len();
        let iv_start = HEADER_LEN;
        let ct_start = self.payload_offset();
        let ct_end = total.saturating_sub(icv_len);
        let payload_end = ct_start.saturating_add(payload_len);
        let pad_len = ct_end.saturating_sub(payload_end).saturating_sub(2);
        if let Some(h) = buf.get_mut(..4) {
            h.copy_from_slice(&spi.to_be_bytes());
        }
        if let Some(h) = buf.get_mut(4..HEADER_LEN) {
            h.copy_from_slice(&seq.to_be_bytes());
        }
        if let Some(iv) = buf.get_mut(iv_start..ct_start) {
            rng.fill_bytes(iv);
        }
        if let Some(pad) = buf.get_mut(payload_end..ct_end) {
            // Monotonic padding 1, 2, 3, .. (RFC 4303 2.4), then Pad Length, Next Header.
            let mut v: u8 = 0;
            for b in pad.iter_mut() {
                v = v.wrapping_add(1);
                *b = v;
            }
            let n = pad.len();
            if let Some([pl, nh]) = pad.get_mut(n.saturating_sub(2)..) {
                *pl = pad_len as u8;
                *nh = next_header;
            }
        }
        let icv = self
            .core
            .cipher
            .encrypt_and_mac(&self.core.integrity, buf, ct_start, ct_end);
        if let Some(dst) = buf.get_mut(ct_end..total) {
            if let Some(src) = icv.get(..icv_len) {
                dst.copy_from_slice(src);
            }
        }
        self.seq = seq;
        self.core.lifetime.add_bytes(payload_len);
        Ok(total)
    }

    /// Copies `payload` into `out` and encapsulates it there; returns the ESP length.
    pub fn encapsulate<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        next_header: u8,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, EspError> {
        let total = self.encapsulated_len(payload.len())?;
        let off = self.payload_offset();
        if out.len() < total {
            return Err(EspError::BufferTooSmall {
                needed: total,
                available: out.len(),
            });
        }
        if let Some(dst) = out.get_mut(off..off.saturating_add(payload.len())) {
            dst.copy_from_slice(payload);
        }
        self.encapsulate_in_place(now, rng, next_header, out, payload.len())
    }

    /// Tunnel mode: encapsulates a whole IP packet, taking Next Header (4 or 41) from
    /// its version nibble.
    pub fn encapsulate_ip<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        ip_packet: &[u8],
        out: &mut [u8],
    ) -> Result<usize, EspError> {
        let nh = match ip_packet.first().map(|b| b >> 4) {
            Some(6) => NEXT_HEADER_IPV6,
            _ => NEXT_HEADER_IPV4,
        };
        self.encapsulate(now, rng, nh, ip_packet, out)
    }

    /// The next lifetime event at `now` (soft: rekey; hard: the SA is dead).
    pub fn poll_event(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.core.lifetime.poll_event(now)
    }

    /// The next lifetime deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.lifetime.poll_timeout()
    }
}

/// A decapsulated packet: where the payload sits in the caller's buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decapsulated {
    /// The SPI.
    pub spi: u32,
    /// The authenticated sequence number.
    pub seq: u32,
    /// Next Header from the trailer (4/41 in tunnel mode, 59 for a dummy packet).
    pub next_header: u8,
    /// The payload's range in the buffer that was decapsulated.
    pub payload: Range<usize>,
}

impl Decapsulated {
    /// Whether this is a dummy packet (Next Header 59) that must be dropped.
    pub fn is_dummy(&self) -> bool {
        self.next_header == NEXT_HEADER_DUMMY
    }
}

/// The receiving half of an ESP SA.
#[derive(Debug)]
pub struct InboundSa {
    /// Boxed, as in [`OutboundSa`].
    core: Box<SaCore>,
    replay: ReplayWindow,
}

impl InboundSa {
    /// Installs the SA at `now`.
    pub fn new(params: &EspSaParams, now: Instant) -> Result<Self, EspError> {
        Ok(InboundSa {
            core: Box::new(SaCore::new(params, now)?),
            replay: ReplayWindow::new(params.replay_window),
        })
    }

    /// The SPI.
    pub fn spi(&self) -> u32 {
        self.core.spi
    }

    /// The encapsulation mode.
    pub fn encapsulation(&self) -> Encapsulation {
        self.core.encapsulation
    }

    /// The replay window.
    pub fn replay_window(&self) -> &ReplayWindow {
        &self.replay
    }

    /// Payload bytes received so far.
    pub fn bytes(&self) -> u64 {
        self.core.lifetime.bytes()
    }

    /// Smallest valid packet length for this SA.
    pub fn min_len(&self) -> usize {
        let align = self.core.encryption.alignment();
        HEADER_LEN
            .saturating_add(self.core.iv_len())
            .saturating_add(align)
            .saturating_add(self.core.icv_len())
    }

    /// Checks and decrypts the ESP packet in `packet`, in place. On success the
    /// payload is `packet[result.payload]`. On error the buffer's content is
    /// unspecified; nothing in it may be used.
    ///
    /// Order (RFC 4303 3.4): length, SPI, replay check, ICV, replay update, decrypt,
    /// padding and Next Header.
    pub fn decapsulate(
        &mut self,
        now: Instant,
        packet: &mut [u8],
    ) -> Result<Decapsulated, EspError> {
        let spi = self.core.spi;
        let len = packet.len();
        let min = self.min_len();
        let view = EspPacket::new_checked(&*packet)?;
        if view.spi() != spi {
            return Err(EspError::SpiMismatch {
                expected: spi,
                got: view.spi(),
            });
        }
        let seq = view.seq();
        if len < min {
            return Err(EspError::Truncated {
                what: "ESP packet",
                len,
                needed: min,
            });
        }
        let icv_len = self.core.icv_len();
        let ct_start = HEADER_LEN.saturating_add(self.core.iv_len());
        let ct_end = len.saturating_sub(icv_len);
        let ct_len = ct_end.saturating_sub(ct_start);
        let align = self.core.encryption.alignment();
        if ct_len.checked_rem(align) != Some(0) {
            return Err(EspError::Misaligned {
                spi,
                len: ct_len,
                block: align,
            });
        }
        self.check_replay(seq)?;
        self.core.lifetime.check(spi, now)?;
        if icv_len > 0 {
            if !self
                .core
                .cipher
                .verify_decrypt(&self.core.integrity, packet, ct_start, ct_end)
            {
                return Err(EspError::BadIcv { spi, seq });
            }
            // Authenticated: only now may the window move (RFC 4303 3.4.3).
            self.replay.update(seq);
        } else {
            self.core.cipher.decrypt(packet, ct_start, ct_end);
        }
        let (payload_end, next_header) = check_trailer(spi, packet, ct_start, ct_end)?;
        let mode = self.core.encapsulation.mode();
        if mode == Mode::Tunnel
            && !matches!(
                next_header,
                NEXT_HEADER_IPV4 | NEXT_HEADER_IPV6 | NEXT_HEADER_DUMMY
            )
        {
            return Err(EspError::BadNextHeader {
                spi,
                next_header,
                mode,
            });
        }
        if icv_len == 0 {
            // No ICV: the trailer checks are the only evidence the packet is ours.
            self.replay.update(seq);
        }
        let payload_len = payload_end.saturating_sub(ct_start);
        self.core.lifetime.add_bytes(payload_len);
        Ok(Decapsulated {
            spi,
            seq,
            next_header,
            payload: ct_start..payload_end,
        })
    }

    fn check_replay(&self, seq: u32) -> Result<(), EspError> {
        let spi = self.core.spi;
        self.replay.check(seq).map_err(|v| match v {
            ReplayVerdict::Replayed => EspError::Replayed { spi, seq },
            ReplayVerdict::OutsideWindow => EspError::OutsideWindow {
                spi,
                seq,
                highest: self.replay.highest(),
                window: self.replay.size(),
            },
        })
    }

    /// The next lifetime event at `now`.
    pub fn poll_event(&mut self, now: Instant) -> Option<LifetimeEvent> {
        self.core.lifetime.poll_event(now)
    }

    /// The next lifetime deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.lifetime.poll_timeout()
    }
}

/// Checks Pad Length, the pad bytes and reads Next Header from decrypted
/// `packet[ct_start..ct_end]`. Returns (end of payload, next header).
pub(crate) fn check_trailer(
    spi: u32,
    packet: &[u8],
    ct_start: usize,
    ct_end: usize,
) -> Result<(usize, u8), EspError> {
    let plain = packet.get(ct_start..ct_end).unwrap_or_default();
    let n = plain.len();
    let (body, trailer) = plain.split_at(n.saturating_sub(2));
    let [pad_len, next_header] = match trailer {
        &[a, b] => [a, b],
        _ => {
            return Err(EspError::Truncated {
                what: "ESP trailer",
                len: n,
                needed: 2,
            })
        }
    };
    let pad = usize::from(pad_len);
    let Some(payload_len) = body.len().checked_sub(pad) else {
        return Err(EspError::BadPadLength {
            spi,
            pad_len,
            available: body.len(),
        });
    };
    let pad_bytes = body.get(payload_len..).unwrap_or_default();
    for (index, (&got, expected)) in pad_bytes.iter().zip(1u8..=255).enumerate() {
        if got != expected {
            return Err(EspError::BadPadding {
                spi,
                index,
                got,
                expected,
            });
        }
    }
    Ok((ct_start.saturating_add(payload_len), next_header))
}
