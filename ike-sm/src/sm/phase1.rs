//! Phase 1: Main Mode and Aggressive Mode, responder and initiator, pre-shared keys
//! (1) and XAUTH-PSK (65001).
//!
//! One function per message: each takes the [`Step`] the SA is at (what is known so far)
//! and gives the next one ([`Next`]); `responder.rs` and `initiator.rs` hold the steps
//! of each side, this file what they share (the final HASH, key derivation, the move
//! to [`Established`]).

mod initiator;
mod responder;

use super::msg::{self, p, Parsed};
use super::phase::{Derived, Established, HashVerified, Keyed, Material, Negotiation, Phase, Step};
use super::policy::Suite;
use super::sa::{IkeSa, PeerCaps, Role};
use super::Endpoint;
use crate::crypto::cipher::{CipherAlg, IkeCipher};
use crate::crypto::dh::DhGroup;
use crate::crypto::hash::HashAlg;
use crate::crypto::iv::{Iv, IvChain};
use crate::crypto::phase1::{skeyid_psk, Skeyids};
use crate::event::{DebugEvent, Event, FailReason};
use crate::SmError;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use isakmp_wire::attr::phase1::Phase1Transform;
use isakmp_wire::payload::id::{IdPayload, OwnedId};
use isakmp_wire::payload::notify::{NotifyType, OwnedNotify};
use isakmp_wire::payload::proposal::OwnedProposal;
use isakmp_wire::payload::sa::{OwnedSa, SaPayload};
use isakmp_wire::payload::transform::OwnedTransform;
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::vendor::{identify, Vendor, VENDOR_IDS};
use isakmp_wire::{Body, Doi, ExchangeType, Message, OwnedAttribute, ProtocolId};
use rand_core::CryptoRng;
use std::time::Instant;

fn need<T>(v: Option<T>, exchange: &'static str, what: &'static str) -> Result<T, SmError> {
    v.ok_or(SmError::Protocol { exchange, what })
}

/// The vendor ID bytes we send for a capability.
pub(crate) fn vid(v: Vendor) -> Vec<u8> {
    let mut b = VENDOR_IDS
        .iter()
        .find(|e| e.vendor == v)
        .map(|e| e.bytes.to_vec())
        .unwrap_or_default();
    if v == Vendor::CiscoUnity {
        b.extend_from_slice(&[1, 0]);
    }
    b
}

fn sa_body(sa: &SaPayload<'_>) -> Vec<u8> {
    let mut v = Vec::with_capacity(sa.wire_len());
    sa.emit(&mut v);
    v
}

fn id_body(id: &OwnedId) -> Vec<u8> {
    let mut v = Vec::with_capacity(id.wire_len());
    id.emit(&mut v);
    v
}

fn id_body_ref(id: &IdPayload<'_>) -> Vec<u8> {
    let mut v = Vec::with_capacity(id.wire_len());
    id.emit(&mut v);
    v
}

fn our_id(local: SocketAddr) -> OwnedId {
    let a = match local.ip() {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    OwnedId::ipv4(a, 17, local.port())
}

fn phase1_sa(offers: &[crate::config::P1Offer]) -> OwnedSa {
    let transforms = offers
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut attrs = vec![OwnedAttribute::basic(1, o.encryption.attribute())];
            attrs.push(OwnedAttribute::basic(2, o.hash.attribute()));
            attrs.push(OwnedAttribute::basic(4, o.group.attribute()));
            attrs.push(OwnedAttribute::basic(3, o.auth_method));
            if let Some(k) = o.encryption.key_length_attribute() {
                attrs.push(OwnedAttribute::basic(14, k));
            }
            if let Some(l) = o.life_secs {
                attrs.push(OwnedAttribute::basic(11, 1));
                let v = u32::try_from(l).unwrap_or(u32::MAX);
                attrs.push(OwnedAttribute::variable(12, v.to_be_bytes().to_vec()));
            }
            let n = u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX);
            OwnedTransform::new(n, 1, attrs)
        })
        .collect();
    OwnedSa {
        doi: Doi::Ipsec,
        situation: 1,
        proposals: vec![OwnedProposal::new(
            1,
            ProtocolId::Isakmp,
            Vec::new(),
            transforms,
        )],
    }
}

fn reply_sa(suite: &Suite) -> OwnedSa {
    OwnedSa {
        doi: Doi::Ipsec,
        situation: 1,
        proposals: vec![OwnedProposal::new(
            suite.proposal_number,
            ProtocolId::Isakmp,
            Vec::new(),
            vec![suite.transform.clone()],
        )],
    }
}

/// The suite named by the responder's single transform (initiator side).
fn suite_from_reply(sa: &SaPayload<'_>) -> Result<Suite, SmError> {
    const EX: &str = "phase 1";
    let prop = need(
        sa.proposals().next().transpose()?,
        EX,
        "SA without proposal",
    )?;
    let t = need(
        prop.transforms().next().transpose()?,
        EX,
        "proposal without transform",
    )?;
    let typed = Phase1Transform::from_attributes(t.attributes())?;
    let enc = need(typed.encryption, EX, "no encryption attribute")?;
    let key = typed.key_length.and_then(|k| u16::try_from(k).ok());
    Ok(Suite {
        cipher: CipherAlg::from_attributes(enc.into(), key)?,
        hash: HashAlg::from_attribute(need(typed.hash, EX, "no hash attribute")?.into())?,
        group: DhGroup::from_attribute(need(typed.group, EX, "no group attribute")?.into())?,
        auth_method: typed.auth_method.map_or(1, u16::from),
        life_secs: typed.life_seconds.unwrap_or(86_400),
        transform: t.to_owned_transform()?,
        proposal_number: prop.number,
    })
}

/// Where a phase-1 step leaves the SA.
// A return value, moved once into the negotiation's box: boxing the step here would be an
// allocation per phase-1 message.
#[allow(clippy::large_enum_variant)]
pub(super) enum Next {
    /// Still negotiating: the next step, or the same one when the message was dropped.
    Step(Step),
    /// The step set the SA's phase itself: established, or ended (the SA failed).
    Done,
}

/// The message a step takes (phase 1, Quick Mode): when it came, its bytes (replies are
/// stored under their digest), and its parse.
#[derive(Clone, Copy)]
pub(super) struct Received<'a> {
    /// When it came.
    pub now: Instant,
    /// The datagram.
    pub bytes: &'a [u8],
    /// Its parse.
    pub m: &'a Message<'a>,
}

/// A step's outcome: where the SA goes, and whether the message was processed.
pub(super) type Stepped = (Next, Result<(), SmError>);

/// Which message authenticates the peer ([`Endpoint::phase1_final`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Final {
    /// Responder: MM5 (IDii, HASH_I; we answer MM6).
    Mm5,
    /// Responder: AM3 (HASH_I, maybe in the clear).
    Am3,
    /// Initiator: MM6 (IDir, HASH_R).
    Mm6,
}

impl Final {
    /// The step that waits for this message again when it is dropped.
    fn stay(self, keyed: Keyed) -> Step {
        match self {
            Final::Mm5 => Step::RWaitMm5(keyed),
            Final::Am3 => Step::RWaitAm3Keyed(keyed),
            Final::Mm6 => Step::IWaitMm6(keyed),
        }
    }
}

/// The payloads of a plaintext phase-1 message (`what` names it for the error).
fn plain_payloads<'a>(
    m: &Message<'a>,
    exchange: &'static str,
    what: &'static str,
) -> Result<Parsed<'a>, SmError> {
    Parsed::collect(m.payloads().ok_or(SmError::Protocol { exchange, what })?)
}

/// A nonce of a length RFC 2409 allows (8 to 256 bytes).
fn nonce<'a>(n: Option<&'a [u8]>, exchange: &'static str) -> Result<&'a [u8], SmError> {
    let n = need(n, exchange, "no NONCE payload")?;
    if !(8..=256).contains(&n.len()) {
        return Err(SmError::Protocol {
            exchange,
            what: "nonce length outside 8..=256",
        });
    }
    Ok(n)
}

impl Endpoint {
    fn peer_vids(&mut self, peer: &mut PeerCaps, vids: &[&[u8]]) {
        for v in vids {
            self.debug(DebugEvent::VendorId);
            match identify(v).map(|m| m.vendor()) {
                Some(Vendor::Dpd) => {
                    peer.dpd = true;
                    self.debug(DebugEvent::PeerSupportsDpd);
                }
                Some(Vendor::CiscoUnity) => {
                    peer.unity = true;
                    self.debug(DebugEvent::UnityClient);
                }
                Some(Vendor::Xauth) => peer.xauth = true,
                Some(Vendor::CiscoFragmentation) => peer.frag = true,
                Some(v) if super::natt::preference(v).is_some() => {
                    if peer.natt.is_none() {
                        self.debug(DebugEvent::PeerNatT);
                    }
                    if peer.natt.and_then(super::natt::preference) < super::natt::preference(v) {
                        peer.natt = Some(v);
                    }
                }
                _ => {}
            }
        }
    }

    fn our_vids(sa: &IkeSa, initiator: bool) -> Vec<isakmp_wire::OwnedPayload> {
        let mut v = Vec::new();
        if initiator || sa.peer.xauth {
            v.push(p(OwnedBody::VendorId(vid(Vendor::Xauth))));
        }
        if initiator || sa.peer.dpd {
            v.push(p(OwnedBody::VendorId(vid(Vendor::Dpd))));
        }
        if initiator || sa.peer.unity {
            v.push(p(OwnedBody::VendorId(vid(Vendor::CiscoUnity))));
        }
        if let (false, Some(n)) = (initiator, sa.natt) {
            v.push(p(OwnedBody::VendorId(vid(n))));
        }
        v
    }

    /// A plaintext notify about a phase 1 that failed (or NO-PROPOSAL-CHOSEN).
    pub(crate) fn send_plain_notify<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &IkeSa,
        notify: NotifyType,
        rng: &mut R,
    ) {
        self.debug(DebugEvent::SendingNotify {
            notify: notify.into(),
        });
        let n = OwnedNotify {
            doi: Doi::Ipsec,
            protocol: ProtocolId::Isakmp,
            notify_type: notify,
            spi: sa.cookies().to_vec(),
            data: Vec::new(),
        };
        let mid = super::random_u32(rng);
        let h = msg::header(sa.cky_i, sa.cky_r, ExchangeType::Informational, mid);
        if let Ok(b) = msg::plain(h, vec![p(OwnedBody::Notification(n))]) {
            self.send(sa, b);
        }
    }

    /// Every phase-1 message after the first one: the step the SA is at takes it and
    /// gives the next.
    pub(crate) fn handle_phase1<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        bytes: &[u8],
        m: &Message<'_>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        if !matches!(sa.phase, Phase::Negotiating(_)) {
            return Err(SmError::Protocol {
                exchange: "phase 1",
                what: "message in the wrong state",
            });
        }
        let Phase::Negotiating(neg) = core::mem::replace(&mut sa.phase, Phase::Ended) else {
            return Ok(());
        };
        let Negotiation { sa_i_b, step } = *neg;
        let rx = Received { now, bytes, m };
        let x = &sa_i_b[..];
        let (next, r) = match step {
            Step::RWaitMm3 { suite } => self.rwait_mm3(sa, suite, rx, rng),
            Step::RWaitMm5(k) => self.phase1_final(sa, x, k, Final::Mm5, rx, rng),
            Step::RWaitAm3Keyed(k) => self.phase1_final(sa, x, k, Final::Am3, rx, rng),
            Step::RWaitAm3(mat) => self.rwait_am3(sa, x, mat, rx, rng),
            Step::IWaitMm2 { psk } => self.iwait_mm2(sa, psk, rx, rng),
            Step::IWaitMm4(mat) => self.iwait_mm4(sa, x, mat, rx),
            Step::IWaitMm6(k) => self.phase1_final(sa, x, k, Final::Mm6, rx, rng),
            Step::IWaitAm2(offered) => self.iwait_am2(sa, x, offered, rx, rng),
        };
        if let Next::Step(step) = next {
            sa.phase = Phase::Negotiating(Box::new(Negotiation { sa_i_b, step }));
        }
        r
    }

    /// Aggressive Mode responder, AM3: g^xy and the keys only now, when AM3 came back
    /// with our responder cookie (see `responder_start`), then the final HASH.
    fn rwait_am3<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        sa_i_b: &[u8],
        mat: Material,
        rx: Received<'_>,
        rng: &mut R,
    ) -> Stepped {
        match self.derive_keys(sa, &mat) {
            Ok(d) => self.phase1_final(sa, sa_i_b, Keyed::new(mat, d), Final::Am3, rx, rng),
            Err(e) => (Next::Step(Step::RWaitAm3(mat)), Err(e)),
        }
    }

    fn encrypt_p1(
        sa: &IkeSa,
        keyed: &mut Keyed,
        exchange: ExchangeType,
        payloads: &[isakmp_wire::OwnedPayload],
    ) -> Result<Vec<u8>, SmError> {
        msg::encrypted(
            msg::header(sa.cky_i, sa.cky_r, exchange, 0),
            payloads,
            &keyed.cipher,
            &mut keyed.chain,
        )
    }

    /// AM3 (responder), MM5 (responder) or MM6 (initiator): the HASH that authenticates.
    fn phase1_final<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        sa_i_b: &[u8],
        mut keyed: Keyed,
        which: Final,
        rx: Received<'_>,
        rng: &mut R,
    ) -> Stepped {
        let Received { now, bytes, m } = rx;
        match self.verify_final(sa, sa_i_b, &mut keyed, which, m, rng) {
            Ok(Some(proof)) => {
                let r = self.answer_final(sa, sa_i_b, &mut keyed, which, bytes);
                if let Err(e) = r {
                    return (Next::Step(which.stay(keyed)), Err(e));
                }
                sa.timers.retx.remove(&0);
                self.established(sa, keyed, proof, now, rng);
                (Next::Done, Ok(()))
            }
            // The HASH did not verify.
            Ok(None) => match self.auth_failed(sa, rng) {
                Ok(()) => (Next::Done, Ok(())),
                Err(e) => (Next::Step(which.stay(keyed)), Err(e)),
            },
            Err(e) => (Next::Step(which.stay(keyed)), Err(e)),
        }
    }

    /// Decrypts and checks the final message: `None` when its HASH (or its decryption)
    /// is wrong. On success the IV chain moved on, the peer's identity is known and its
    /// notifies are taken.
    fn verify_final<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        sa_i_b: &[u8],
        keyed: &mut Keyed,
        which: Final,
        m: &Message<'_>,
        _rng: &mut R,
    ) -> Result<Option<HashVerified>, SmError> {
        let (pt, decrypted) = match m.body {
            Body::Encrypted(ct) => {
                let (pt, d) = msg::decrypt(&keyed.cipher, &keyed.chain, ct)?;
                (pt, Some(d))
            }
            Body::Payloads(c) => (zeroize::Zeroizing::new(c.bytes.to_vec()), None),
        };
        if decrypted.is_none() && which != Final::Am3 {
            return Err(SmError::Protocol {
                exchange: "Main Mode",
                what: "MM5/MM6 not encrypted",
            });
        }
        let limits = isakmp_wire::Limits::DEFAULT;
        let chain = match isakmp_wire::parse_decrypted(m.header.next_payload, &pt, 28, &limits) {
            Ok(c) => c,
            // Garbage after decryption: a wrong key (MM5 is encrypted with it), or a
            // message damaged on the way. Handled like a HASH mismatch.
            Err(_) => return Ok(None),
        };
        let parsed = Parsed::collect(chain.iter())?;
        let ex = "phase 1";
        if which == Final::Am3 {
            self.check_natd(sa, keyed.suite.hash, &parsed.natd);
        } else {
            self.debug(DebugEvent::Processing {
                what: "ID",
                message_id: 0,
            });
            let id = need(parsed.ids.first(), ex, "no ID payload")?;
            if which == Final::Mm5 {
                keyed.id_i_b = id_body_ref(id);
                sa.identity = id.value().to_string();
            } else {
                keyed.id_r_b = id_body_ref(id);
            }
        }
        self.debug(DebugEvent::Processing {
            what: "HASH",
            message_id: 0,
        });
        let got = need(parsed.hash, ex, "no HASH payload")?;
        let want = match sa.role {
            Role::Responder => keyed.hash_i(sa_i_b, &sa.cky_i, &sa.cky_r),
            Role::Initiator => keyed.hash_r(sa_i_b, &sa.cky_i, &sa.cky_r),
        };
        let Some(proof) = super::phase::verify(&want, got) else {
            return Ok(None);
        };
        if let Some(d) = decrypted {
            d.accept(&mut keyed.chain);
        }
        self.take_final_notifies(sa, &parsed);
        Ok(Some(proof))
    }

    /// The notifies of the final phase-1 message (INITIAL-CONTACT is acted on later).
    fn take_final_notifies(&mut self, sa: &mut IkeSa, parsed: &Parsed<'_>) {
        let mut initial_contact = false;
        for n in &parsed.notifies {
            self.debug(DebugEvent::ProcessingNotify {
                notify: n.notify_type.into(),
                protocol: n.protocol.into(),
                message_id: 0,
            });
            if n.notify_type == NotifyType::InitialContact {
                initial_contact = true;
            }
        }
        if initial_contact {
            // Acted on after Xauth, for this user only (transaction.rs).
            self.note_initial_contact(sa);
        }
    }

    /// After the final HASH verified: the peer has our earlier phase-1 messages; the
    /// Main Mode responder answers MM6.
    fn answer_final(
        &mut self,
        sa: &mut IkeSa,
        sa_i_b: &[u8],
        keyed: &mut Keyed,
        which: Final,
        bytes: &[u8],
    ) -> Result<(), SmError> {
        sa.answered(0);
        if which == Final::Mm5 {
            let idr = our_id(sa.local);
            keyed.id_r_b = id_body(&idr);
            let hash_r = keyed.hash_r(sa_i_b, &sa.cky_i, &sa.cky_r);
            let out = [
                p(OwnedBody::Identification(idr)),
                p(OwnedBody::Hash(hash_r)),
            ];
            let b = Self::encrypt_p1(sa, keyed, ExchangeType::IdentityProtection, &out)?;
            self.reply(sa, bytes, b);
        }
        Ok(())
    }

    /// A phase-1 HASH that does not verify. The first time, the message is dropped (it may
    /// have been damaged or forged on the way; the IV chain did not move, and the peer's
    /// retransmission repairs it); the second time it is a wrong key: the peer hears
    /// AUTHENTICATION-FAILED and the SA goes. An unknown group ends the same way.
    fn auth_failed<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        rng: &mut R,
    ) -> Result<(), SmError> {
        self.debug(DebugEvent::HashFailed);
        sa.auth_failures = sa.auth_failures.saturating_add(1);
        if sa.auth_failures < 2 {
            return Err(SmError::HashMismatch {
                what: "phase-1 HASH (waiting for a retransmission)",
            });
        }
        self.send_plain_notify(sa, NotifyType::AuthenticationFailed, rng);
        self.fail(sa, FailReason::AuthenticationFailed);
        Ok(())
    }

    /// SKEYID, SKEYID_d/a/e, the cipher and the phase-1 IV chain, from g^xy.
    fn derive_keys(&mut self, sa: &IkeSa, m: &Material) -> Result<Derived, SmError> {
        let (s_cipher, s_hash) = (m.suite.cipher, m.suite.hash);
        let g_xy = match (sa.role, &m.dh) {
            (Role::Responder, dh) => {
                let g_xy = dh.key_pair().agree(&m.g_xi)?;
                self.half_open.modexps = self.half_open.modexps.saturating_add(1);
                g_xy
            }
            (Role::Initiator, super::phase::Dh::Own(kp)) => {
                let g_xy = kp.agree(&m.g_xr)?;
                self.half_open.initiator_modexps =
                    self.half_open.initiator_modexps.saturating_add(1);
                g_xy
            }
            // A reused key pair (`Limits::initiator_dh_reuse`): its agreements may be
            // cached (`Limits::initiator_dh_agreement_cache`, load testing only).
            (Role::Initiator, super::phase::Dh::Shared(kp)) => self.half_open.initiator_agree(
                kp,
                &m.g_xr,
                self.config.limits.initiator_dh_agreement_cache,
            )?,
        };
        let skeyid = skeyid_psk(s_hash, m.psk.expose_secret(), &m.ni, &m.nr);
        let keys = Skeyids::derive(s_hash, skeyid, g_xy.expose_secret(), &sa.cky_i, &sa.cky_r);
        let cipher = IkeCipher::new(s_cipher, keys.encryption_key(s_cipher))?;
        let iv = Iv::phase1(s_hash, &m.g_xi, &m.g_xr, s_cipher.block_size())?;
        Ok(Derived {
            keys: Box::new(keys),
            cipher,
            chain: IvChain::new(iv),
        })
    }

    /// Phase 1 is up: the SA keeps the keys (the negotiation's material goes), reports
    /// it and starts what follows (Xauth, Mode Config).
    fn established<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        keyed: Keyed,
        proof: HashVerified,
        now: Instant,
        rng: &mut R,
    ) {
        let life = keyed.suite.life_secs;
        let est = Established::new(keyed, proof);
        self.debug(DebugEvent::Authenticated);
        sa.timers.expires = now.checked_add(std::time::Duration::from_secs(life));
        if sa.role == Role::Initiator {
            if let (Some(margin), Some(exp)) =
                (self.config.limits.phase1_rekey_margin, sa.timers.expires)
            {
                let margin = margin.min(std::time::Duration::from_secs(life / 10));
                sa.timers.rekey = exp.checked_sub(margin);
            }
        }
        if let Some(d) = self.config.limits.dpd_idle {
            if sa.peer.dpd || sa.role == Role::Initiator {
                sa.timers.dpd = now.checked_add(d);
            }
        }
        self.event(Event::Phase1Established {
            sa: sa.id,
            remote: sa.remote,
            identity: sa.identity.clone(),
        });
        sa.establish(est, |sa, est| self.after_phase1(sa, est, now, rng));
    }
}

pub(crate) fn initial_contact(sa: &IkeSa) -> OwnedNotify {
    OwnedNotify {
        doi: Doi::Ipsec,
        protocol: ProtocolId::Isakmp,
        notify_type: NotifyType::InitialContact,
        spi: sa.cookies().to_vec(),
        data: Vec::new(),
    }
}
