//! Building, encrypting and decrypting ISAKMP messages for the machines.

use crate::crypto::cipher::{Decrypted, IkeCipher};
use crate::crypto::iv::IvChain;
use crate::SmError;
use isakmp_wire::cfg::ConfigPayload;
use isakmp_wire::header::{ExchangeType, Flags, Header, VERSION_1_0};
use isakmp_wire::message::OwnedBodyKind;
use isakmp_wire::payload::delete::DeletePayload;
use isakmp_wire::payload::id::IdPayload;
use isakmp_wire::payload::notify::NotifyPayload;
use isakmp_wire::payload::sa::SaPayload;
use isakmp_wire::payload::{chain_wire_len, emit_chain, OwnedBody, OwnedPayload};
use isakmp_wire::{OwnedMessage, PayloadType, HEADER_LEN};
use isakmp_wire::{Payload, PayloadRef};
use smallvec::SmallVec;

/// A header template (length and next payload are derived on emit).
pub(crate) fn header(
    cky_i: [u8; 8],
    cky_r: [u8; 8],
    exchange: ExchangeType,
    message_id: u32,
) -> Header {
    Header {
        initiator_cookie: cky_i,
        responder_cookie: cky_r,
        next_payload: PayloadType::None,
        version: VERSION_1_0,
        exchange_type: exchange,
        flags: Flags(0),
        message_id,
        length: 0,
    }
}

/// The payload chain as bytes.
pub(crate) fn chain_bytes(payloads: &[OwnedPayload]) -> Result<Vec<u8>, SmError> {
    let mut v = Vec::with_capacity(chain_wire_len(payloads));
    emit_chain(payloads, &mut v)?;
    Ok(v)
}

/// A plaintext message.
pub(crate) fn plain(header: Header, payloads: Vec<OwnedPayload>) -> Result<Vec<u8>, SmError> {
    Ok(OwnedMessage {
        header,
        body: OwnedBodyKind::Payloads(payloads),
    }
    .to_bytes()?)
}

/// An encrypted message: the chain is padded, encrypted with the chain's IV, and the
/// chain advances past it.
pub(crate) fn encrypted(
    header: Header,
    payloads: &[OwnedPayload],
    cipher: &IkeCipher,
    chain: &mut IvChain,
) -> Result<Vec<u8>, SmError> {
    let kind = payloads.first().map_or(PayloadType::None, |p| p.kind);
    let plain_len = chain_wire_len(payloads);
    seal(header, kind, plain_len, cipher, chain, |out| {
        emit_chain(payloads, out)?;
        Ok(())
    })
}

/// [`encrypted`] for a HASH payload followed by a chain already encoded (`rest`, whose
/// first payload is `rest_kind`): the chain the HASH was computed over is not encoded a
/// second time.
pub(crate) fn encrypted_hashed(
    header: Header,
    hash: &[u8],
    rest_kind: PayloadType,
    rest: &[u8],
    cipher: &IkeCipher,
    chain: &mut IvChain,
) -> Result<Vec<u8>, SmError> {
    // The HASH payload: generic header (next payload, reserved, length) and the digest.
    let hash_len = hash.len().saturating_add(4);
    let len = u16::try_from(hash_len).map_err(|_| SmError::Limit {
        what: "HASH payload length",
        max: usize::from(u16::MAX),
    })?;
    let plain_len = hash_len.saturating_add(rest.len());
    seal(header, PayloadType::Hash, plain_len, cipher, chain, |out| {
        out.push(rest_kind.into());
        out.push(0);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(hash);
        out.extend_from_slice(rest);
        Ok(())
    })
}

/// Builds header + body in one buffer sized once, then encrypts the body in place.
fn seal(
    mut header: Header,
    first: PayloadType,
    plain_len: usize,
    cipher: &IkeCipher,
    chain: &mut IvChain,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), SmError>,
) -> Result<Vec<u8>, SmError> {
    let padded = cipher.alg().padded_len(plain_len.max(1));
    let total = HEADER_LEN.saturating_add(padded);
    header.next_payload = first;
    header.flags = Flags(header.flags.0 | Flags::ENCRYPTION);
    header.length = u32::try_from(total).map_err(|_| SmError::Limit {
        what: "message length",
        max: u32::MAX as usize,
    })?;
    let mut out = Vec::with_capacity(total);
    header.emit(&mut out);
    body(&mut out)?;
    if out.len() != HEADER_LEN.saturating_add(plain_len) {
        // The payloads wrote another length than their `wire_len` said: never with the
        // isakmp-wire emitters, refused rather than sent with a wrong length.
        return Err(SmError::Limit {
            what: "encrypted payloads (encoded length differs from the computed one)",
            max: plain_len,
        });
    }
    out.resize(total, 0);
    let n = cipher.encrypt_next(
        chain,
        out.get_mut(HEADER_LEN..).unwrap_or_default(),
        plain_len,
    )?;
    out.truncate(HEADER_LEN.saturating_add(n));
    Ok(out)
}

/// The plaintext is wiped when dropped: after phase 1 it carries Xauth passwords, Mode
/// Config answers and Quick Mode nonces.
pub(crate) fn decrypt(
    cipher: &IkeCipher,
    chain: &IvChain,
    body: &[u8],
) -> Result<(zeroize::Zeroizing<Vec<u8>>, Decrypted), SmError> {
    let mut pt = zeroize::Zeroizing::new(body.to_vec());
    let d = cipher.decrypt_next(chain, &mut pt)?;
    Ok((pt, d))
}

/// A payload from its body.
pub(crate) fn p(body: OwnedBody) -> OwnedPayload {
    OwnedPayload::new(body)
}

/// The bytes of a decrypted chain after its first payload (the HASH), without padding:
/// what HASH(1), HASH(2) and the Informational HASH cover.
pub(crate) fn after_first<'a>(chain: &isakmp_wire::PayloadChain<'a>) -> Result<&'a [u8], SmError> {
    let mut raw = chain.raw();
    let first = raw.next().transpose()?.ok_or(SmError::Protocol {
        exchange: "encrypted exchange",
        what: "empty payload chain",
    })?;
    if first.kind != PayloadType::Hash {
        return Err(SmError::Protocol {
            exchange: "encrypted exchange",
            what: "the first payload is not HASH",
        });
    }
    Ok(chain
        .bytes
        .get(usize::from(first.length)..)
        .unwrap_or_default())
}

/// The payloads of one message, sorted by kind.
#[derive(Default)]
pub(crate) struct Parsed<'a> {
    pub sa: Option<SaPayload<'a>>,
    pub ke: Option<&'a [u8]>,
    pub nonce: Option<&'a [u8]>,
    pub ids: SmallVec<[IdPayload<'a>; 2]>,
    pub hash: Option<&'a [u8]>,
    pub notifies: SmallVec<[NotifyPayload<'a>; 4]>,
    pub deletes: SmallVec<[DeletePayload<'a>; 2]>,
    pub vids: SmallVec<[&'a [u8]; 16]>,
    pub attrs: Option<ConfigPayload<'a>>,
    pub natd: SmallVec<[&'a [u8]; 4]>,
    /// NAT-OA payloads (Quick Mode), in order: NAT-OAi then NAT-OAr.
    pub nat_oa: SmallVec<[Option<core::net::IpAddr>; 2]>,
}

/// At most this many payloads of one kind are kept (the wire limits bound the rest).
const MAX_OF_A_KIND: usize = 32;

impl<'a> Parsed<'a> {
    pub(crate) fn collect(
        it: impl Iterator<Item = Result<PayloadRef<'a>, isakmp_wire::WireError>>,
    ) -> Result<Self, SmError> {
        let mut out = Parsed::default();
        for pl in it {
            match pl?.body {
                Payload::Sa(s) if out.sa.is_none() => out.sa = Some(s),
                Payload::KeyExchange(k) if out.ke.is_none() => out.ke = Some(k),
                Payload::Nonce(n) if out.nonce.is_none() => out.nonce = Some(n),
                Payload::Identification(i) if out.ids.len() < 2 => out.ids.push(i),
                Payload::Hash(h) if out.hash.is_none() => out.hash = Some(h),
                Payload::Notification(n) if out.notifies.len() < MAX_OF_A_KIND => {
                    out.notifies.push(n);
                }
                Payload::Delete(d) if out.deletes.len() < MAX_OF_A_KIND => out.deletes.push(d),
                Payload::VendorId(v) if out.vids.len() < MAX_OF_A_KIND => out.vids.push(v.0),
                Payload::Attributes(a) if out.attrs.is_none() => out.attrs = Some(a),
                Payload::NatD(n) if out.natd.len() < MAX_OF_A_KIND => out.natd.push(n),
                Payload::NatOa(n) if out.nat_oa.len() < 2 => out.nat_oa.push(n.addr()),
                _ => {}
            }
        }
        Ok(out)
    }
}
