//! Phase 1 as responder: MM1/AM1 from an unknown peer (admission first), MM3. MM5 and
//! AM3 are the shared final step (`phase1_final`).

use super::super::phase::{Dh, Material, Negotiation, Phase, Step};
use super::super::random_bytes;
use super::{
    id_body, id_body_ref, need, nonce, our_id, plain_payloads, reply_sa, sa_body, Next, Received,
    Stepped,
};
use crate::config::Phase1Mode;
use crate::crypto::dh::{DhGroup, KeyPair};
use crate::event::{DebugEvent, Event, FailReason, SaId};
use crate::sm::msg::{self, p, Parsed};
use crate::sm::policy::{select_phase1, Suite};
use crate::sm::sa::{IkeSa, Role};
use crate::sm::Endpoint;
use crate::SmError;
use core::net::{IpAddr, SocketAddr};
use isakmp_wire::payload::id::{IdPayload, IdValue};
use isakmp_wire::payload::notify::NotifyType;
use isakmp_wire::payload::sa::SaPayload;
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::{ExchangeType, IdType, Message};
use pix_primitives::Secret;
use rand_core::CryptoRng;
use std::time::Instant;

/// What AM1 carries besides the SA payload, checked before any accounting.
struct Am1<'p, 'a> {
    ke: &'a [u8],
    ni: &'a [u8],
    idi: &'p IdPayload<'a>,
}

impl<'p, 'a> Am1<'p, 'a> {
    fn check(parsed: &'p Parsed<'a>, group: DhGroup) -> Result<Self, SmError> {
        let ke = need(parsed.ke, "Aggressive Mode", "no KE payload")?;
        group.validate_public_value(ke)?;
        let ni = nonce(parsed.nonce, "Aggressive Mode")?;
        let idi = need(parsed.ids.first(), "Aggressive Mode", "no ID payload")?;
        Ok(Self { ke, ni, idi })
    }
}

impl Endpoint {
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
        let parsed = plain_payloads(m, "phase 1", "first message encrypted")?;
        let sa_p = need(parsed.sa.as_ref(), "phase 1", "no SA payload")?;
        let h = m.header;
        let mode = if h.exchange_type == ExchangeType::Aggressive {
            Phase1Mode::Aggressive
        } else {
            Phase1Mode::Main
        };
        let rx = Received { now, bytes, m };
        let id = self.next_sa_id();
        let cky_r = self.fresh_cookie(Some(h.initiator_cookie), rng);
        let cookies = (h.initiator_cookie, cky_r);
        // `Ended` until the first step is made below.
        let mut sa = IkeSa::new(
            id,
            Role::Responder,
            mode,
            (local, remote),
            cookies,
            now,
            Phase::Ended,
        );
        let sa_i_b = sa_body(sa_p);
        self.debug(DebugEvent::ProcessingSa { message_id: 0 });
        let Some(suite) = self.choose_phase1(sa_p)? else {
            self.refuse(crate::counters::Refusal::NoProposalChosen);
            self.send_plain_notify(&sa, NotifyType::NoProposalChosen, rng);
            self.event(Event::Failed {
                sa: id,
                reason: FailReason::NoProposalChosen,
            });
            return Ok(());
        };
        // Aggressive Mode: the rest of AM1 is checked before any accounting too.
        let am1 = match mode {
            Phase1Mode::Aggressive => Some(Am1::check(&parsed, suite.group)?),
            Phase1Mode::Main => None,
        };
        let pressure = self.admit(&mut sa, now, rng)?;
        let step = match am1 {
            None => self.mm1_reply(&mut sa, suite, &parsed, rx)?,
            Some(am1) => {
                let vids = &parsed.vids;
                self.am1_reply(&mut sa, &sa_i_b, suite, am1, vids, pressure, rx, rng)?
            }
        };
        sa.phase = Phase::Negotiating(Box::new(Negotiation { sa_i_b, step }));
        let l = self.config.limits;
        // The peer's address is unproven until its next message: the first reply is
        // resent at most `first_reply_retransmits` times (no amplification toward a
        // spoofed source).
        if let Some(r) = sa.timers.retx.get_mut(&0) {
            let sends = l.first_reply_retransmits.saturating_add(1);
            r.timer.limit_sends(u8::try_from(sends).unwrap_or(u8::MAX));
        }
        let protected = l.max_half_open.checked_div(4).unwrap_or(0);
        self.half_open.insert(id, (sa.cky_i, remote), protected);
        sa.in_half_open = true;
        self.insert_sa(sa);
        Ok(())
    }

    /// The gateway's choice among the initiator's proposals (`None`: nothing acceptable).
    fn choose_phase1(&mut self, sa_p: &SaPayload<'_>) -> Result<Option<Suite>, SmError> {
        let mut dbg = Vec::new();
        let chosen = {
            let debugging = self.debugging();
            let gw = self
                .config
                .gateway
                .as_ref()
                .ok_or(SmError::Config("no gateway"))?;
            select_phase1(gw, sa_p, &mut dbg, debugging)
        };
        for d in dbg {
            self.debug(d);
        }
        chosen
    }

    /// Admission of a new negotiation from the SA's peer: the per-source rate, room in
    /// the half-open table, and how long it may stay half-open. Returns whether the
    /// responder is under pressure.
    fn admit<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        rng: &mut R,
    ) -> Result<bool, SmError> {
        let l = self.config.limits;
        let remote = sa.remote;
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
        sa.timers.half_open = now.checked_add(if pressure {
            l.half_open_timeout_under_pressure.min(l.half_open_timeout)
        } else {
            l.half_open_timeout
        });
        Ok(pressure)
    }

    /// MM1 -> MM2 (the chosen transform); next MM3.
    fn mm1_reply(
        &mut self,
        sa: &mut IkeSa,
        suite: Suite,
        parsed: &Parsed<'_>,
        rx: Received<'_>,
    ) -> Result<Step, SmError> {
        let Received { now, bytes, .. } = rx;
        self.debug(DebugEvent::DoingPsk);
        self.peer_vids(&mut sa.peer, &parsed.vids);
        self.choose_natt(sa);
        let mut out = vec![p(OwnedBody::Sa(reply_sa(&suite)))];
        out.extend(Self::our_vids(sa, false));
        let b = msg::plain(
            msg::header(sa.cky_i, sa.cky_r, ExchangeType::IdentityProtection, 0),
            out,
        )?;
        self.send_awaiting(sa, now, 0, Some(bytes), b);
        Ok(Step::RWaitMm3 { suite })
    }

    /// AM1 -> AM2 (SA, KE, Nr, IDir, HASH_R); next AM3.
    ///
    /// HASH_R with pre-shared keys needs only SKEYID = prf(PSK, Ni | Nr), not g^xy: the
    /// shared secret (and SKEYID_d/a/e, the cipher, the IV) waits until AM3 comes back
    /// with our responder cookie, so a spoofed AM1 costs no agreement (`rwait_am3`).
    #[allow(clippy::too_many_arguments)]
    fn am1_reply<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        sa_i_b: &[u8],
        suite: Suite,
        am1: Am1<'_, '_>,
        vids: &[&[u8]],
        pressure: bool,
        rx: Received<'_>,
        rng: &mut R,
    ) -> Result<Step, SmError> {
        let Received { now, bytes, .. } = rx;
        for what in ["KE", "NONCE", "ID"] {
            self.debug(DebugEvent::Processing {
                what,
                message_id: 0,
            });
        }
        self.peer_vids(&mut sa.peer, vids);
        self.choose_natt(sa);
        let id_i_b = id_body_ref(am1.idi);
        let psk = self.select_psk_by_id(sa, am1.idi, rng);
        let dh = self.responder_key_pair(now, suite.group, pressure, rng)?;
        let nr = random_bytes::<R, 20>(rng).to_vec();
        let idr = our_id(sa.local);
        let mat = Material {
            g_xr: dh.key_pair().public_value().to_vec(),
            g_xi: am1.ke.to_vec(),
            ni: am1.ni.to_vec(),
            nr,
            id_i_b,
            id_r_b: id_body(&idr),
            suite,
            psk,
            dh,
        };
        let skeyid = crate::crypto::phase1::skeyid_psk(
            mat.suite.hash,
            mat.psk.expose_secret(),
            &mat.ni,
            &mat.nr,
        );
        let hash_r = crate::crypto::phase1::hash_r_with(
            &crate::crypto::hash::PrfKey::new(mat.suite.hash, skeyid.expose_secret()),
            &mat.g_xr,
            &mat.g_xi,
            &sa.cky_r,
            &sa.cky_i,
            sa_i_b,
            &mat.id_r_b,
        );
        let mut out = vec![
            p(OwnedBody::Sa(reply_sa(&mat.suite))),
            p(OwnedBody::KeyExchange(mat.g_xr.clone())),
            p(OwnedBody::Nonce(mat.nr.clone())),
            p(OwnedBody::Identification(idr)),
            p(OwnedBody::Hash(hash_r)),
        ];
        out.extend(Self::our_vids(sa, false));
        out.extend(Self::natd_payloads(sa, mat.suite.hash));
        let b = msg::plain(
            msg::header(sa.cky_i, sa.cky_r, ExchangeType::Aggressive, 0),
            out,
        )?;
        self.send_awaiting(sa, now, 0, Some(bytes), b);
        Ok(Step::RWaitAm3(mat))
    }

    /// Main Mode responder, MM3 (KE, Ni) -> MM4 (KE, Nr): the keys are derived; next MM5.
    pub(super) fn rwait_mm3<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        suite: Suite,
        rx: Received<'_>,
        rng: &mut R,
    ) -> Stepped {
        let Received { now, bytes, m } = rx;
        let (psk, dh, g_xi, ni) = match self.mm3_parts(sa, &suite, now, m, rng) {
            Ok(parts) => parts,
            Err(e) => return (Next::Step(Step::RWaitMm3 { suite }), Err(e)),
        };
        let mat = Material {
            g_xr: dh.key_pair().public_value().to_vec(),
            nr: random_bytes::<R, 20>(rng).to_vec(),
            g_xi,
            ni,
            id_i_b: Vec::new(),
            id_r_b: Vec::new(),
            suite,
            psk,
            dh,
        };
        let d = match self.derive_keys(sa, &mat) {
            Ok(d) => d,
            Err(e) => return (Next::Step(Step::RWaitMm3 { suite: mat.suite }), Err(e)),
        };
        let mut out = vec![
            p(OwnedBody::KeyExchange(mat.g_xr.clone())),
            p(OwnedBody::Nonce(mat.nr.clone())),
        ];
        out.extend(Self::our_vids(sa, false));
        out.extend(Self::natd_payloads(sa, mat.suite.hash));
        let h = msg::header(sa.cky_i, sa.cky_r, ExchangeType::IdentityProtection, 0);
        let b = match msg::plain(h, out) {
            Ok(b) => b,
            Err(e) => return (Next::Step(Step::RWaitMm3 { suite: mat.suite }), Err(e)),
        };
        self.send_awaiting(sa, now, 0, Some(bytes), b);
        let max_protected = self.config.limits.max_half_open.checked_div(4);
        self.half_open.promote(sa.id, max_protected.unwrap_or(0));
        let keyed = super::Keyed::new(mat, d);
        (Next::Step(Step::RWaitMm5(keyed)), Ok(()))
    }

    /// MM3's KE and Ni checked, the key of the peer's address, our key pair.
    fn mm3_parts<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        suite: &Suite,
        now: Instant,
        m: &Message<'_>,
        rng: &mut R,
    ) -> Result<(Secret, Dh, Vec<u8>, Vec<u8>), SmError> {
        let parsed = plain_payloads(m, "Main Mode", "MM3 encrypted")?;
        self.debug(DebugEvent::Processing {
            what: "KE",
            message_id: 0,
        });
        let ke = need(parsed.ke, "Main Mode", "no KE payload")?;
        suite.group.validate_public_value(ke)?;
        self.debug(DebugEvent::Processing {
            what: "NONCE",
            message_id: 0,
        });
        let ni = nonce(parsed.nonce, "Main Mode")?;
        self.peer_vids(&mut sa.peer, &parsed.vids);
        self.check_natd(sa, suite.hash, &parsed.natd);
        let psk = match self.key_by_address(sa) {
            Some(k) => k,
            None => {
                self.debug(DebugEvent::NoKeyForPeer);
                Secret::new(random_bytes::<R, 32>(rng).to_vec())
            }
        };
        // The peer proved its address (our cookie came back); under pressure the
        // group's shared key pair still saves one exponentiation.
        let pressure = self.half_open.len() >= self.config.limits.pressure_half_open;
        let dh = self.responder_key_pair(now, suite.group, pressure, rng)?;
        Ok((psk, dh, ke.to_vec(), ni.to_vec()))
    }

    /// Room for one more half-open SA from `remote`: over the per-address cap, that
    /// address's oldest half-open SA goes; with the table (or the SA table) full, the
    /// victim of [`super::super::admission::Admission::victim`] goes. Refuses only when
    /// the SA table is full of established SAs (nothing half-open to evict).
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
                sa.dead = true;
                sa.end = Some(crate::event::DeleteReason::Evicted);
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
    /// (`Limits::dh_reuse_window`), otherwise a fresh one.
    fn responder_key_pair<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        group: DhGroup,
        pressure: bool,
        rng: &mut R,
    ) -> Result<Dh, SmError> {
        let l = self.config.limits;
        if pressure && !l.dh_reuse_window.is_zero() {
            let kp = self.half_open.shared_key_pair(
                now,
                group,
                self.config.exponent,
                l.dh_reuse_window,
                rng,
            )?;
            Ok(Dh::Shared(kp))
        } else {
            if !l.dh_reuse_window.is_zero() {
                self.half_open.expire_key_pairs(now, l.dh_reuse_window);
            }
            let kp = KeyPair::generate(group, self.config.exponent, rng)?;
            self.half_open.modexps = self.half_open.modexps.saturating_add(1);
            Ok(Dh::Own(Box::new(kp)))
        }
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
    ) -> Secret {
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
        if let Some((i, key)) = found {
            sa.group_idx = Some(i);
            return key;
        }
        let allowed = self
            .config
            .gateway
            .as_ref()
            .is_some_and(|g| g.aggressive_address_keys);
        if allowed && idi.id_type != IdType::KeyId {
            // Not a group name, and the operator allowed it: the address keys.
            if let Some(k) = self.key_by_address(sa) {
                return k;
            }
        }
        self.debug(DebugEvent::NoKeyForPeer);
        Secret::new(random_bytes::<R, 32>(rng).to_vec())
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

    /// Responder: use NAT-T when configured and the peer announced a version.
    fn choose_natt(&mut self, sa: &mut IkeSa) {
        let on = self
            .config
            .gateway
            .as_ref()
            .is_some_and(|g| g.nat_traversal.is_some());
        sa.natt = if on { sa.peer.natt } else { None };
    }
}
