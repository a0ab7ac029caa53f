//! Phase 1: Main Mode and Aggressive Mode, responder and initiator, pre-shared keys
//! (1) and XAUTH-PSK (65001).

use super::msg::{self, p};
use super::policy::{select_phase1, Suite};
use super::sa::{IkeSa, P1State, Role};
use super::{random_bytes, Endpoint};
use crate::config::{ClientProfile, Phase1Mode};
use crate::crypto::cipher::{CipherAlg, IkeCipher};
use crate::crypto::dh::{DhGroup, KeyPair};
use crate::crypto::hash::HashAlg;
use crate::crypto::iv::{Iv, IvChain};
use crate::crypto::phase1::{skeyid_psk, Skeyids};
use crate::crypto::phase2::hashes_equal;
use crate::event::{DebugEvent, Event, FailReason, SaId};
use crate::SmError;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use isakmp_wire::attr::phase1::Phase1Transform;
use isakmp_wire::cfg::ConfigPayload;
use isakmp_wire::payload::delete::DeletePayload;
use isakmp_wire::payload::id::{IdPayload, IdValue, OwnedId};
use isakmp_wire::payload::notify::{NotifyPayload, NotifyType, OwnedNotify};
use isakmp_wire::payload::proposal::OwnedProposal;
use isakmp_wire::payload::sa::{OwnedSa, SaPayload};
use isakmp_wire::payload::transform::OwnedTransform;
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::vendor::{identify, Vendor, VENDOR_IDS};
use isakmp_wire::{
    Body, Doi, ExchangeType, IdType, Message, OwnedAttribute, Payload, PayloadRef, ProtocolId,
};
use pix_primitives::Secret;
use rand_core::CryptoRng;
use smallvec::SmallVec;
use std::time::Instant;

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

impl Endpoint {
    fn peer_vids(&mut self, sa: &mut IkeSa, vids: &[&[u8]]) {
        for v in vids {
            self.debug(DebugEvent::VendorId);
            match identify(v).map(|m| m.vendor()) {
                Some(Vendor::Dpd) => {
                    sa.peer_dpd = true;
                    self.debug(DebugEvent::PeerSupportsDpd);
                }
                Some(Vendor::CiscoUnity) => {
                    sa.peer_unity = true;
                    self.debug(DebugEvent::UnityClient);
                }
                Some(Vendor::Xauth) => sa.peer_xauth = true,
                Some(Vendor::CiscoFragmentation) => sa.peer_frag = true,
                Some(v) if super::natt::preference(v).is_some() => {
                    if sa.peer_natt.is_none() {
                        self.debug(DebugEvent::PeerNatT);
                    }
                    if sa.peer_natt.and_then(super::natt::preference) < super::natt::preference(v) {
                        sa.peer_natt = Some(v);
                    }
                }
                _ => {}
            }
        }
    }

    fn our_vids(sa: &IkeSa, initiator: bool) -> Vec<isakmp_wire::OwnedPayload> {
        let mut v = Vec::new();
        if initiator || sa.peer_xauth {
            v.push(p(OwnedBody::VendorId(vid(Vendor::Xauth))));
        }
        if initiator || sa.peer_dpd {
            v.push(p(OwnedBody::VendorId(vid(Vendor::Dpd))));
        }
        if initiator || sa.peer_unity {
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

    /// AM1 or MM1 from an unknown peer.
    ///
    /// The order is the admission rules' (`admission.rs`): parse and choose a proposal
    /// first (a header-only or unusable message costs no state and no accounting), then
    /// the per-source rate, then room in the half-open table (made by evicting, never by
    /// refusing), and only then any Diffie-Hellman.
    pub(crate) fn responder_start<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        m: &Message<'_>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        if self.config.gateway.is_none() {
            return Err(SmError::Config("no gateway configuration"));
        }
        let l = self.config.limits;
        let payloads = m.payloads().ok_or(SmError::Protocol {
            exchange: "phase 1",
            what: "first message encrypted",
        })?;
        let parsed = Parsed::collect(payloads)?;
        let sa_p = need(parsed.sa, "phase 1", "no SA payload")?;
        let h = m.header;
        let mode = if h.exchange_type == ExchangeType::Aggressive {
            Phase1Mode::Aggressive
        } else {
            Phase1Mode::Main
        };
        let id = super::SaId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        let cky_r = self.fresh_cookie(Some(h.initiator_cookie), rng);
        let mut sa = IkeSa::new(
            id,
            Role::Responder,
            mode,
            (local, remote),
            (h.initiator_cookie, cky_r),
            now,
            P1State::Dead,
        );
        sa.sa_i_b = sa_body(&sa_p);
        self.debug(DebugEvent::ProcessingSa { message_id: 0 });
        let mut dbg = Vec::new();
        let chosen = {
            let debugging = self.debugging();
            let gw = self
                .config
                .gateway
                .as_ref()
                .ok_or(SmError::Config("no gateway"))?;
            select_phase1(gw, &sa_p, &mut dbg, debugging)
        };
        for d in dbg {
            self.debug(d);
        }
        let Some(suite) = chosen? else {
            self.refuse(crate::counters::Refusal::NoProposalChosen);
            self.send_plain_notify(&sa, NotifyType::NoProposalChosen, rng);
            self.event(Event::Failed {
                sa: id,
                reason: FailReason::NoProposalChosen,
            });
            return Ok(());
        };
        // Aggressive Mode: the rest of AM1 is checked before any accounting too.
        let am = if mode == Phase1Mode::Aggressive {
            let ke = need(parsed.ke, "Aggressive Mode", "no KE payload")?;
            suite.group.validate_public_value(ke)?;
            let ni = need(parsed.nonce, "Aggressive Mode", "no NONCE payload")?;
            if !(8..=256).contains(&ni.len()) {
                return Err(SmError::Protocol {
                    exchange: "Aggressive Mode",
                    what: "nonce length outside 8..=256",
                });
            }
            let idi = need(parsed.ids.first(), "Aggressive Mode", "no ID payload")?;
            Some((ke, ni, idi))
        } else {
            None
        };
        if !self
            .half_open
            .rate_ok(now, remote.ip(), l.new_sas_per_peer_per_sec, rng)
        {
            self.refuse(crate::counters::Refusal::RateLimited);
            return Err(SmError::Limit {
                what: "new negotiations per peer and second",
                max: usize::try_from(l.new_sas_per_peer_per_sec).unwrap_or(usize::MAX),
            });
        }
        self.make_room(remote, rng)?;
        let pressure = self.half_open.len() >= l.pressure_half_open;
        sa.half_open_deadline = now.checked_add(if pressure {
            l.half_open_timeout_under_pressure.min(l.half_open_timeout)
        } else {
            l.half_open_timeout
        });
        sa.suite = Some(suite.clone());
        match am {
            None => {
                self.debug(DebugEvent::DoingPsk);
                self.peer_vids(&mut sa, &parsed.vids);
                self.choose_natt(&mut sa);
                let mut out = vec![p(OwnedBody::Sa(reply_sa(&suite)))];
                out.extend(Self::our_vids(&sa, false));
                let b = msg::plain(
                    msg::header(sa.cky_i, sa.cky_r, ExchangeType::IdentityProtection, 0),
                    out,
                )?;
                sa.state = P1State::RWaitMm3;
                self.send_awaiting(&mut sa, now, 0, Some(bytes), b);
            }
            Some((ke, ni, idi)) => {
                for what in ["KE", "NONCE", "ID"] {
                    self.debug(DebugEvent::Processing {
                        what,
                        message_id: 0,
                    });
                }
                self.peer_vids(&mut sa, &parsed.vids);
                self.choose_natt(&mut sa);
                sa.id_i_b = id_body_ref(idi);
                sa.g_xi = ke.to_vec();
                sa.ni = ni.to_vec();
                self.select_psk_by_id(&mut sa, idi, rng);
                self.responder_key_pair(&mut sa, now, suite.group, pressure, rng)?;
                sa.nr = random_bytes::<R, 20>(rng).to_vec();
                let idr = our_id(local);
                sa.id_r_b = id_body(&idr);
                // HASH_R with pre-shared keys needs only SKEYID = prf(PSK, Ni | Nr), not
                // g^xy: the shared secret (and SKEYID_d/a/e, the cipher, the IV) waits
                // until AM3 comes back with our responder cookie, so a spoofed AM1 costs
                // no agreement (`phase1_final`).
                let psk = sa.psk.as_ref().ok_or(SmError::Config("pre-shared key"))?;
                let skeyid = skeyid_psk(suite.hash, psk.expose_secret(), &sa.ni, &sa.nr);
                let hash_r = crate::crypto::phase1::hash_r_with(
                    &crate::crypto::hash::PrfKey::new(suite.hash, skeyid.expose_secret()),
                    &sa.g_xr,
                    &sa.g_xi,
                    &sa.cky_r,
                    &sa.cky_i,
                    &sa.sa_i_b,
                    &sa.id_r_b,
                );
                let mut out = vec![
                    p(OwnedBody::Sa(reply_sa(&suite))),
                    p(OwnedBody::KeyExchange(sa.g_xr.clone())),
                    p(OwnedBody::Nonce(sa.nr.clone())),
                    p(OwnedBody::Identification(idr)),
                    p(OwnedBody::Hash(hash_r)),
                ];
                out.extend(Self::our_vids(&sa, false));
                out.extend(Self::natd_payloads(&sa));
                let b = msg::plain(
                    msg::header(sa.cky_i, sa.cky_r, ExchangeType::Aggressive, 0),
                    out,
                )?;
                sa.state = P1State::RWaitAm3;
                self.send_awaiting(&mut sa, now, 0, Some(bytes), b);
            }
        }
        // The peer's address is unproven until its next message: the first reply is
        // resent at most `first_reply_retransmits` times (no amplification toward a
        // spoofed source).
        if let Some(r) = sa.retx.get_mut(&0) {
            let sends = l.first_reply_retransmits.saturating_add(1);
            r.timer.limit_sends(u8::try_from(sends).unwrap_or(u8::MAX));
        }
        self.half_open.insert(
            id,
            (sa.cky_i, remote),
            l.max_half_open.checked_div(4).unwrap_or(0),
        );
        sa.in_half_open = true;
        self.insert_sa(sa);
        Ok(())
    }

    /// Room for one more half-open SA from `remote`: over the per-address cap, that
    /// address's oldest half-open SA goes; with the table (or the SA table) full, the
    /// victim of [`super::admission::Admission::victim`] goes. Refuses only when the SA
    /// table is full of established SAs (nothing half-open to evict).
    fn make_room<R: CryptoRng + ?Sized>(
        &mut self,
        remote: SocketAddr,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let l = self.config.limits;
        let per_peer = l.max_half_open_per_peer.max(1);
        while self.half_open.of_address(remote.ip()) >= per_peer {
            let Some(v) = self.half_open.oldest_of(remote.ip()) else {
                break;
            };
            self.evict(v);
        }
        while self.half_open.len() >= l.max_half_open.max(1) || self.sas.len() >= l.max_sas {
            match self.half_open.victim(rng) {
                Some(v) => self.evict(v),
                None => {
                    self.refuse(crate::counters::Refusal::SaLimit);
                    return Err(SmError::Limit {
                        what: "IKE SAs",
                        max: l.max_sas,
                    });
                }
            }
        }
        Ok(())
    }

    /// Drops a half-open SA to make room (counted as `half_open_evicted`).
    fn evict(&mut self, id: SaId) {
        self.refuse(crate::counters::Refusal::HalfOpenEvicted);
        match self.sas.remove(&id) {
            Some(mut sa) => {
                sa.state = P1State::Dead;
                self.cleanup(&mut sa);
            }
            // Not in `sas` (cannot happen: an SA is out of it only while it is being
            // processed, and then no first message is): unfile it anyway.
            None => {
                self.half_open.remove(id);
            }
        }
    }

    /// The responder's DH key pair for an SA: under pressure the group's shared one
    /// (`Limits::dh_reuse_window`), otherwise a fresh one. Sets `g_xr`.
    fn responder_key_pair<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        group: DhGroup,
        pressure: bool,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let l = self.config.limits;
        if pressure && !l.dh_reuse_window.is_zero() {
            let kp = self.half_open.shared_key_pair(
                now,
                group,
                self.config.exponent,
                l.dh_reuse_window,
                rng,
            )?;
            sa.g_xr = kp.public_value().to_vec();
            sa.shared_kp = Some(kp);
        } else {
            if !l.dh_reuse_window.is_zero() {
                self.half_open.expire_key_pairs(now, l.dh_reuse_window);
            }
            let kp = KeyPair::generate(group, self.config.exponent, rng)?;
            self.half_open.modexps = self.half_open.modexps.saturating_add(1);
            sa.g_xr = kp.public_value().to_vec();
            sa.kp = Some(Box::new(kp));
        }
        Ok(())
    }

    /// The initiator's DH key pair for an SA: a fresh one, or with
    /// `Limits::initiator_dh_reuse` (load testing only) the group's shared one. Sets
    /// `g_xi`.
    fn initiator_key_pair<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        group: DhGroup,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let window = self.config.limits.initiator_dh_reuse;
        if window.is_zero() {
            let kp = KeyPair::generate(group, self.config.exponent, rng)?;
            self.half_open.initiator_modexps = self.half_open.initiator_modexps.saturating_add(1);
            sa.g_xi = kp.public_value().to_vec();
            sa.kp = Some(Box::new(kp));
        } else {
            let kp =
                self.half_open
                    .initiator_key_pair(now, group, self.config.exponent, window, rng)?;
            sa.g_xi = kp.public_value().to_vec();
            sa.shared_kp = Some(kp);
        }
        Ok(())
    }

    /// Aggressive Mode: the PSK of the `vpngroup` named by the initiator's identity. An
    /// identity that names no group, of any ID type (ID_KEY_ID, FQDN, USER_FQDN,
    /// IPV4_ADDR, ...), gets a random key, so that it fails exactly like a wrong key: the
    /// same payloads, sizes and work (no enumeration of groups). The Main Mode key of the
    /// peer's address (`isakmp key ... address`) answers only when the operator allowed
    /// it (`GatewayConfig::aggressive_address_keys`): HASH_R goes out in the clear, so an
    /// address key (often the wildcard) would be open to an offline dictionary attack by
    /// anyone who sends one AM1.
    fn select_psk_by_id<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        idi: &IdPayload<'_>,
        rng: &mut R,
    ) {
        let name = match idi.value() {
            IdValue::KeyId(k) | IdValue::Fqdn(k) | IdValue::UserFqdn(k) => {
                String::from_utf8_lossy(k).into_owned()
            }
            other => other.to_string(),
        };
        sa.identity = name.clone();
        let found = self.config.gateway.as_ref().and_then(|gw| {
            gw.groups
                .iter()
                .position(|g| g.name == name)
                .and_then(|i| gw.groups.get(i).map(|g| (i, g.password.duplicate())))
        });
        match found {
            Some((i, key)) => {
                sa.group_idx = Some(i);
                sa.psk = Some(Box::new(key));
            }
            None => {
                let allowed = self
                    .config
                    .gateway
                    .as_ref()
                    .is_some_and(|g| g.aggressive_address_keys);
                if allowed && idi.id_type != IdType::KeyId {
                    // Not a group name, and the operator allowed it: the address keys.
                    if let Some(k) = self.key_by_address(sa) {
                        sa.psk = Some(Box::new(k));
                        return;
                    }
                }
                self.debug(DebugEvent::NoKeyForPeer);
                sa.psk = Some(Box::new(Secret::new(random_bytes::<R, 32>(rng).to_vec())));
            }
        }
    }

    /// Main Mode: `isakmp key` by peer address, the most specific entry first.
    fn key_by_address(&self, sa: &mut IkeSa) -> Option<Secret> {
        let IpAddr::V4(peer) = sa.remote.ip() else {
            return None;
        };
        let gw = self.config.gateway.as_ref()?;
        let k = gw
            .keys
            .iter()
            .filter(|k| k.matches(peer))
            .max_by_key(|k| u32::from(k.netmask).count_ones())?;
        sa.no_xauth = k.no_xauth;
        sa.no_config_mode = k.no_config_mode;
        Some(k.key.duplicate())
    }

    /// SKEYID, SKEYID_d/a/e, the cipher and the phase-1 IV chain.
    fn derive_keys(&mut self, sa: &mut IkeSa) -> Result<(), SmError> {
        let (s_cipher, s_hash) = sa
            .suite
            .as_ref()
            .map(|s| (s.cipher, s.hash))
            .ok_or(SmError::Config("suite"))?;
        let g_xy = match (sa.role, &sa.kp, &sa.shared_kp) {
            (Role::Responder, kp, shared) => {
                let kp = kp
                    .as_deref()
                    .or(shared.as_deref())
                    .ok_or(SmError::Config("key pair"))?;
                let g_xy = kp.agree(&sa.g_xi)?;
                self.half_open.modexps = self.half_open.modexps.saturating_add(1);
                g_xy
            }
            (Role::Initiator, Some(kp), _) => {
                let g_xy = kp.agree(&sa.g_xr)?;
                self.half_open.initiator_modexps =
                    self.half_open.initiator_modexps.saturating_add(1);
                g_xy
            }
            // A reused key pair (`Limits::initiator_dh_reuse`): its agreements may be
            // cached (`Limits::initiator_dh_agreement_cache`, load testing only).
            (Role::Initiator, None, Some(kp)) => self.half_open.initiator_agree(
                kp,
                &sa.g_xr,
                self.config.limits.initiator_dh_agreement_cache,
            )?,
            (Role::Initiator, None, None) => return Err(SmError::Config("key pair")),
        };
        let psk = sa.psk.as_ref().ok_or(SmError::Config("pre-shared key"))?;
        let skeyid = skeyid_psk(s_hash, psk.expose_secret(), &sa.ni, &sa.nr);
        let keys = Skeyids::derive(s_hash, skeyid, g_xy.expose_secret(), &sa.cky_i, &sa.cky_r);
        let cipher = IkeCipher::new(s_cipher, keys.encryption_key(s_cipher))?;
        let iv = Iv::phase1(s_hash, &sa.g_xi, &sa.g_xr, s_cipher.block_size())?;
        sa.p1_chain = Some(Box::new(IvChain::new(iv)));
        sa.cipher = Some(cipher);
        sa.keys = Some(Box::new(keys));
        Ok(())
    }

    /// Every phase-1 message after the first one.
    pub(crate) fn handle_phase1<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        bytes: &[u8],
        m: &Message<'_>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        match sa.state {
            P1State::RWaitAm3 | P1State::RWaitMm5 | P1State::IWaitMm6 => {
                self.phase1_final(sa, now, bytes, m, rng)
            }
            P1State::RWaitMm3 => {
                let parsed = Parsed::collect(m.payloads().ok_or(SmError::Protocol {
                    exchange: "Main Mode",
                    what: "MM3 encrypted",
                })?)?;
                let group = sa
                    .suite
                    .as_ref()
                    .map(|s| s.group)
                    .ok_or(SmError::Config("suite"))?;
                self.debug(DebugEvent::Processing {
                    what: "KE",
                    message_id: 0,
                });
                let ke = need(parsed.ke, "Main Mode", "no KE payload")?;
                group.validate_public_value(ke)?;
                self.debug(DebugEvent::Processing {
                    what: "NONCE",
                    message_id: 0,
                });
                let ni = need(parsed.nonce, "Main Mode", "no NONCE payload")?;
                if !(8..=256).contains(&ni.len()) {
                    return Err(SmError::Protocol {
                        exchange: "Main Mode",
                        what: "nonce length outside 8..=256",
                    });
                }
                self.peer_vids(sa, &parsed.vids);
                self.check_natd(sa, &parsed.natd);
                sa.g_xi = ke.to_vec();
                sa.ni = ni.to_vec();
                sa.psk = Some(Box::new(match self.key_by_address(sa) {
                    Some(k) => k,
                    None => {
                        self.debug(DebugEvent::NoKeyForPeer);
                        Secret::new(random_bytes::<R, 32>(rng).to_vec())
                    }
                }));
                // The peer proved its address (our cookie came back); under pressure the
                // group's shared key pair still saves one exponentiation.
                let pressure = self.half_open.len() >= self.config.limits.pressure_half_open;
                self.responder_key_pair(sa, now, group, pressure, rng)?;
                sa.nr = random_bytes::<R, 20>(rng).to_vec();
                self.derive_keys(sa)?;
                let mut out = vec![
                    p(OwnedBody::KeyExchange(sa.g_xr.clone())),
                    p(OwnedBody::Nonce(sa.nr.clone())),
                ];
                out.extend(Self::our_vids(sa, false));
                out.extend(Self::natd_payloads(sa));
                let b = msg::plain(
                    msg::header(sa.cky_i, sa.cky_r, ExchangeType::IdentityProtection, 0),
                    out,
                )?;
                sa.state = P1State::RWaitMm5;
                self.send_awaiting(sa, now, 0, Some(bytes), b);
                let max_protected = self.config.limits.max_half_open.checked_div(4);
                self.half_open.promote(sa.id, max_protected.unwrap_or(0));
                Ok(())
            }
            P1State::IWaitMm2 => {
                let parsed = Parsed::collect(m.payloads().ok_or(SmError::Protocol {
                    exchange: "Main Mode",
                    what: "MM2 encrypted",
                })?)?;
                let sa_p = need(parsed.sa, "Main Mode", "no SA payload")?;
                let suite = suite_from_reply(&sa_p)?;
                self.peer_vids(sa, &parsed.vids);
                self.client_natt(sa);
                self.initiator_key_pair(sa, now, suite.group, rng)?;
                sa.suite = Some(suite);
                sa.ni = random_bytes::<R, 20>(rng).to_vec();
                let mut out = vec![
                    p(OwnedBody::KeyExchange(sa.g_xi.clone())),
                    p(OwnedBody::Nonce(sa.ni.clone())),
                ];
                out.extend(Self::natd_payloads(sa));
                let b = msg::plain(
                    msg::header(sa.cky_i, sa.cky_r, ExchangeType::IdentityProtection, 0),
                    out,
                )?;
                sa.state = P1State::IWaitMm4;
                self.send_awaiting(sa, now, 0, Some(bytes), b);
                Ok(())
            }
            P1State::IWaitMm4 => {
                let parsed = Parsed::collect(m.payloads().ok_or(SmError::Protocol {
                    exchange: "Main Mode",
                    what: "MM4 encrypted",
                })?)?;
                let group = sa
                    .suite
                    .as_ref()
                    .map(|s| s.group)
                    .ok_or(SmError::Config("suite"))?;
                let ke = need(parsed.ke, "Main Mode", "no KE payload")?;
                group.validate_public_value(ke)?;
                let nr = need(parsed.nonce, "Main Mode", "no NONCE payload")?;
                self.peer_vids(sa, &parsed.vids);
                self.check_natd(sa, &parsed.natd);
                self.maybe_float(sa, now);
                sa.g_xr = ke.to_vec();
                sa.nr = nr.to_vec();
                self.derive_keys(sa)?;
                let idi = our_id(sa.local);
                sa.id_i_b = id_body(&idi);
                let keys = sa.keys.as_ref().ok_or(SmError::Config("keys"))?;
                let hash_i = keys.hash_i(
                    &sa.g_xi, &sa.g_xr, &sa.cky_i, &sa.cky_r, &sa.sa_i_b, &sa.id_i_b,
                );
                let mut out = vec![
                    p(OwnedBody::Identification(idi)),
                    p(OwnedBody::Hash(hash_i)),
                ];
                if sa.profile.as_ref().is_some_and(|p| p.initial_contact) {
                    out.push(p(OwnedBody::Notification(initial_contact(sa))));
                }
                let b = self.encrypt_p1(sa, ExchangeType::IdentityProtection, &out)?;
                sa.state = P1State::IWaitMm6;
                self.send_awaiting(sa, now, 0, Some(bytes), b);
                Ok(())
            }
            P1State::IWaitAm2 => {
                let parsed = Parsed::collect(m.payloads().ok_or(SmError::Protocol {
                    exchange: "Aggressive Mode",
                    what: "AM2 encrypted",
                })?)?;
                let sa_p = need(parsed.sa, "Aggressive Mode", "no SA payload")?;
                let suite = suite_from_reply(&sa_p)?;
                let ke = need(parsed.ke, "Aggressive Mode", "no KE payload")?;
                suite.group.validate_public_value(ke)?;
                let nr = need(parsed.nonce, "Aggressive Mode", "no NONCE payload")?;
                let idr = need(parsed.ids.first(), "Aggressive Mode", "no ID payload")?;
                let hash_r = need(parsed.hash, "Aggressive Mode", "no HASH payload")?;
                if sa
                    .kp
                    .as_deref()
                    .or(sa.shared_kp.as_deref())
                    .map(KeyPair::group)
                    != Some(suite.group)
                {
                    return Err(SmError::Protocol {
                        exchange: "Aggressive Mode",
                        what: "responder chose another group than our KE",
                    });
                }
                self.peer_vids(sa, &parsed.vids);
                sa.suite = Some(suite);
                self.client_natt(sa);
                self.check_natd(sa, &parsed.natd);
                sa.g_xr = ke.to_vec();
                sa.nr = nr.to_vec();
                sa.id_r_b = id_body_ref(idr);
                self.derive_keys(sa)?;
                let keys = sa.keys.as_ref().ok_or(SmError::Config("keys"))?;
                let want = keys.hash_r(
                    &sa.g_xr, &sa.g_xi, &sa.cky_r, &sa.cky_i, &sa.sa_i_b, &sa.id_r_b,
                );
                if !hashes_equal(&want, hash_r) {
                    return self.auth_failed(sa, rng);
                }
                let hash_i = keys.hash_i(
                    &sa.g_xi, &sa.g_xr, &sa.cky_i, &sa.cky_r, &sa.sa_i_b, &sa.id_i_b,
                );
                let mut out = vec![p(OwnedBody::Hash(hash_i))];
                if sa.profile.as_ref().is_some_and(|p| p.initial_contact) {
                    out.push(p(OwnedBody::Notification(initial_contact(sa))));
                }
                // NAT-D hashes the addresses of this exchange, before the float.
                out.extend(Self::natd_payloads(sa));
                self.maybe_float(sa, now);
                let b = self.encrypt_p1(sa, ExchangeType::Aggressive, &out)?;
                sa.retx.remove(&0);
                self.reply(sa, bytes, b);
                self.established(sa, now, rng);
                Ok(())
            }
            _ => Err(SmError::Protocol {
                exchange: "phase 1",
                what: "message in the wrong state",
            }),
        }
    }

    fn encrypt_p1(
        &mut self,
        sa: &mut IkeSa,
        exchange: ExchangeType,
        payloads: &[isakmp_wire::OwnedPayload],
    ) -> Result<Vec<u8>, SmError> {
        let cipher = sa.cipher.as_ref().ok_or(SmError::Config("cipher"))?;
        let chain = sa.p1_chain.as_mut().ok_or(SmError::Config("IV chain"))?;
        msg::encrypted(
            msg::header(sa.cky_i, sa.cky_r, exchange, 0),
            payloads,
            cipher,
            chain,
        )
    }

    /// AM3 (responder), MM5 (responder) or MM6 (initiator): the HASH that authenticates.
    fn phase1_final<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        bytes: &[u8],
        m: &Message<'_>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        if sa.state == P1State::RWaitAm3 && sa.keys.is_none() {
            // Aggressive Mode: g^xy and the keys only now, when AM3 came back with our
            // responder cookie (see `responder_start`).
            self.derive_keys(sa)?;
        }
        let (pt, decrypted) = match m.body {
            Body::Encrypted(ct) => {
                let cipher = sa.cipher.as_ref().ok_or(SmError::Config("cipher"))?;
                let chain = sa.p1_chain.as_ref().ok_or(SmError::Config("IV chain"))?;
                let (pt, d) = msg::decrypt(cipher, chain, ct)?;
                (pt, Some(d))
            }
            Body::Payloads(c) => (zeroize::Zeroizing::new(c.bytes.to_vec()), None),
        };
        if decrypted.is_none() && sa.state != P1State::RWaitAm3 {
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
            Err(_) => return self.auth_failed(sa, rng),
        };
        let parsed = Parsed::collect(chain.iter())?;
        let ex = "phase 1";
        if sa.state == P1State::RWaitAm3 {
            self.check_natd(sa, &parsed.natd);
        }
        if sa.state == P1State::RWaitMm5 || sa.state == P1State::IWaitMm6 {
            self.debug(DebugEvent::Processing {
                what: "ID",
                message_id: 0,
            });
            let id = need(parsed.ids.first(), ex, "no ID payload")?;
            if sa.state == P1State::RWaitMm5 {
                sa.id_i_b = id_body_ref(id);
                sa.identity = id.value().to_string();
            } else {
                sa.id_r_b = id_body_ref(id);
            }
        }
        self.debug(DebugEvent::Processing {
            what: "HASH",
            message_id: 0,
        });
        let got = need(parsed.hash, ex, "no HASH payload")?;
        let keys = sa.keys.as_ref().ok_or(SmError::Config("keys"))?;
        let want = if sa.role == Role::Responder {
            keys.hash_i(
                &sa.g_xi, &sa.g_xr, &sa.cky_i, &sa.cky_r, &sa.sa_i_b, &sa.id_i_b,
            )
        } else {
            keys.hash_r(
                &sa.g_xr, &sa.g_xi, &sa.cky_r, &sa.cky_i, &sa.sa_i_b, &sa.id_r_b,
            )
        };
        if !hashes_equal(&want, got) {
            return self.auth_failed(sa, rng);
        }
        if let (Some(d), Some(c)) = (decrypted, sa.p1_chain.as_mut()) {
            d.accept(c);
        }
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
        // The peer has our earlier phase-1 messages (MM2 and MM4, or AM2).
        sa.answered(0);
        if sa.state == P1State::RWaitMm5 {
            let idr = our_id(sa.local);
            sa.id_r_b = id_body(&idr);
            let keys = sa.keys.as_ref().ok_or(SmError::Config("keys"))?;
            let hash_r = keys.hash_r(
                &sa.g_xr, &sa.g_xi, &sa.cky_r, &sa.cky_i, &sa.sa_i_b, &sa.id_r_b,
            );
            let out = [
                p(OwnedBody::Identification(idr)),
                p(OwnedBody::Hash(hash_r)),
            ];
            let b = self.encrypt_p1(sa, ExchangeType::IdentityProtection, &out)?;
            self.reply(sa, bytes, b);
        }
        sa.retx.remove(&0);
        self.established(sa, now, rng);
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

    /// Phase 1 is up: report it and start what follows (Xauth, Mode Config).
    fn established<R: CryptoRng + ?Sized>(&mut self, sa: &mut IkeSa, now: Instant, rng: &mut R) {
        sa.state = P1State::Established;
        sa.p2_base = sa.p1_chain.as_ref().map(|c| *c.current());
        self.debug(DebugEvent::Authenticated);
        let life = sa.suite.as_ref().map_or(86_400, |s| s.life_secs);
        sa.expires = now.checked_add(std::time::Duration::from_secs(life));
        if sa.role == Role::Initiator {
            if let (Some(margin), Some(exp)) = (self.config.limits.phase1_rekey_margin, sa.expires)
            {
                let margin = margin.min(std::time::Duration::from_secs(life / 10));
                sa.rekey_at = exp.checked_sub(margin);
            }
        }
        if let Some(d) = self.config.limits.dpd_idle {
            if sa.peer_dpd || sa.role == Role::Initiator {
                sa.dpd_deadline = now.checked_add(d);
            }
        }
        self.event(Event::Phase1Established {
            sa: sa.id,
            remote: sa.remote,
            identity: sa.identity.clone(),
        });
        self.after_phase1(sa, now, rng);
        sa.drop_phase1_material();
    }

    /// Responder: use NAT-T when configured and the peer announced a version.
    fn choose_natt(&mut self, sa: &mut IkeSa) {
        let on = self
            .config
            .gateway
            .as_ref()
            .is_some_and(|g| g.nat_traversal.is_some());
        sa.natt = if on { sa.peer_natt } else { None };
    }

    /// Initiator: NAT-T when we offered it and the responder answered with a version.
    fn client_natt(&mut self, sa: &mut IkeSa) {
        let offered = sa.profile.as_ref().is_some_and(|p| p.nat_t);
        sa.natt = if offered { sa.peer_natt } else { None };
    }

    fn client_vids(&self, sa: &IkeSa) -> Vec<isakmp_wire::OwnedPayload> {
        let mut v = Vec::new();
        if let Some(prof) = sa.profile.as_ref() {
            if prof.vendor_ids {
                v.extend(Self::our_vids(sa, true));
            }
            if prof.fragmentation {
                v.push(p(OwnedBody::VendorId(vid(Vendor::CiscoFragmentation))));
            }
            if prof.nat_t {
                for n in [
                    Vendor::NatTRfc3947,
                    Vendor::NatTDraft03,
                    Vendor::NatTDraft02N,
                    Vendor::NatTDraft02,
                ] {
                    v.push(p(OwnedBody::VendorId(vid(n))));
                }
            }
        }
        v
    }

    /// AM1 or MM1.
    pub(crate) fn initiator_start<R: CryptoRng + ?Sized>(
        &mut self,
        id: SaId,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        profile: ClientProfile,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let first = *profile
            .offers
            .first()
            .ok_or(SmError::Config("the client profile offers no transform"))?;
        let cky_i = self.fresh_cookie(None, rng);
        let mut sa = IkeSa::new(
            id,
            Role::Initiator,
            profile.mode,
            (local, remote),
            (cky_i, [0; 8]),
            now,
            P1State::Dead,
        );
        let offer = phase1_sa(&profile.offers);
        let mut body = Vec::new();
        offer.emit(&mut body)?;
        sa.sa_i_b = body;
        sa.psk = Some(Box::new(profile.psk.duplicate()));
        sa.identity = profile.group_name.clone().unwrap_or_default();
        let mode = profile.mode;
        let group_name = profile.group_name.clone();
        sa.profile = Some(Box::new(profile));
        sa.half_open_deadline = now.checked_add(self.config.limits.half_open_timeout);
        let b = match mode {
            Phase1Mode::Main => {
                let mut out = vec![p(OwnedBody::Sa(offer))];
                out.extend(self.client_vids(&sa));
                sa.state = P1State::IWaitMm2;
                msg::plain(
                    msg::header(cky_i, [0; 8], ExchangeType::IdentityProtection, 0),
                    out,
                )?
            }
            Phase1Mode::Aggressive => {
                self.initiator_key_pair(&mut sa, now, first.group, rng)?;
                sa.ni = random_bytes::<R, 20>(rng).to_vec();
                let mut idi = OwnedId::key_id(group_name.unwrap_or_default().into_bytes());
                idi.protocol = 17;
                idi.port = 500;
                sa.id_i_b = id_body(&idi);
                let mut out = vec![
                    p(OwnedBody::Sa(offer)),
                    p(OwnedBody::KeyExchange(sa.g_xi.clone())),
                    p(OwnedBody::Nonce(sa.ni.clone())),
                    p(OwnedBody::Identification(idi)),
                ];
                out.extend(self.client_vids(&sa));
                sa.state = P1State::IWaitAm2;
                msg::plain(msg::header(cky_i, [0; 8], ExchangeType::Aggressive, 0), out)?
            }
        };
        self.send_awaiting(&mut sa, now, 0, None, b);
        self.insert_sa(sa);
        Ok(())
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
