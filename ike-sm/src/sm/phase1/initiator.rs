//! Phase 1 as initiator: MM1/AM1, MM2, MM4 and AM2. MM6 is the shared final step
//! (`phase1_final`).

use super::super::phase::{Derived, Dh, Keyed, Material, Negotiation, Offered, Phase, Step};
use super::super::random_bytes;
use super::{
    id_body, id_body_ref, initial_contact, need, our_id, phase1_sa, plain_payloads,
    suite_from_reply, Next, Received, Stepped,
};
use crate::config::{ClientProfile, Phase1Mode};
use crate::crypto::dh::{DhGroup, KeyPair};
use crate::event::SaId;
use crate::sm::msg::{self, p};
use crate::sm::sa::{IkeSa, Role};
use crate::sm::Endpoint;
use crate::SmError;
use core::net::SocketAddr;
use isakmp_wire::payload::id::OwnedId;
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::vendor::Vendor;
use isakmp_wire::{ExchangeType, Message};
use pix_primitives::Secret;
use rand_core::CryptoRng;
use std::time::Instant;

impl Material {
    /// Back to what an Aggressive Mode initiator had before AM2 (AM2 was dropped).
    fn into_offered(self) -> Offered {
        Offered {
            psk: self.psk,
            dh: self.dh,
            g_xi: self.g_xi,
            ni: self.ni,
            id_i_b: self.id_i_b,
        }
    }
}

impl Endpoint {
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
        let addrs = (local, remote);
        // `Ended` until the first step is made below.
        let mut sa = IkeSa::new(
            id,
            Role::Initiator,
            profile.mode,
            addrs,
            (cky_i, [0; 8]),
            now,
            Phase::Ended,
        );
        let offer = phase1_sa(&profile.offers);
        let mut sa_i_b = Vec::new();
        offer.emit(&mut sa_i_b)?;
        let psk = profile.psk.duplicate();
        sa.identity = profile.group_name.clone().unwrap_or_default();
        let mode = profile.mode;
        let group_name = profile.group_name.clone();
        sa.profile = Some(Box::new(profile));
        sa.timers.half_open = now.checked_add(self.config.limits.half_open_timeout);
        let (b, step) = match mode {
            Phase1Mode::Main => {
                let mut out = vec![p(OwnedBody::Sa(offer))];
                out.extend(self.client_vids(&sa));
                let h = msg::header(cky_i, [0; 8], ExchangeType::IdentityProtection, 0);
                (msg::plain(h, out)?, Step::IWaitMm2 { psk })
            }
            Phase1Mode::Aggressive => {
                let dh = self.initiator_key_pair(now, first.group, rng)?;
                let g_xi = dh.key_pair().public_value().to_vec();
                let ni = random_bytes::<R, 20>(rng).to_vec();
                let mut idi = OwnedId::key_id(group_name.unwrap_or_default().into_bytes());
                idi.protocol = 17;
                idi.port = 500;
                let id_i_b = id_body(&idi);
                let mut out = vec![
                    p(OwnedBody::Sa(offer)),
                    p(OwnedBody::KeyExchange(g_xi.clone())),
                    p(OwnedBody::Nonce(ni.clone())),
                    p(OwnedBody::Identification(idi)),
                ];
                out.extend(self.client_vids(&sa));
                let h = msg::header(cky_i, [0; 8], ExchangeType::Aggressive, 0);
                let offered = Offered {
                    psk,
                    dh,
                    g_xi,
                    ni,
                    id_i_b,
                };
                (msg::plain(h, out)?, Step::IWaitAm2(offered))
            }
        };
        sa.phase = Phase::Negotiating(Box::new(Negotiation { sa_i_b, step }));
        self.send_awaiting(&mut sa, now, 0, None, b);
        self.insert_sa(sa);
        Ok(())
    }

    fn client_vids(&self, sa: &IkeSa) -> Vec<isakmp_wire::OwnedPayload> {
        let mut v = Vec::new();
        if let Some(prof) = sa.profile.as_ref() {
            if prof.vendor_ids {
                v.extend(Self::our_vids(sa, true));
            }
            if prof.fragmentation {
                v.push(p(OwnedBody::VendorId(super::vid(
                    Vendor::CiscoFragmentation,
                ))));
            }
            if prof.nat_t {
                for n in [
                    Vendor::NatTRfc3947,
                    Vendor::NatTDraft03,
                    Vendor::NatTDraft02N,
                    Vendor::NatTDraft02,
                ] {
                    v.push(p(OwnedBody::VendorId(super::vid(n))));
                }
            }
        }
        v
    }

    /// Initiator: NAT-T when we offered it and the responder answered with a version.
    fn client_natt(&mut self, sa: &mut IkeSa) {
        let offered = sa.profile.as_ref().is_some_and(|p| p.nat_t);
        sa.natt = if offered { sa.peer.natt } else { None };
    }

    /// The initiator's DH key pair for an SA: a fresh one, or with
    /// `Limits::initiator_dh_reuse` (load testing only) the group's shared one.
    fn initiator_key_pair<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        group: DhGroup,
        rng: &mut R,
    ) -> Result<Dh, SmError> {
        let window = self.config.limits.initiator_dh_reuse;
        if window.is_zero() {
            let kp = KeyPair::generate(group, self.config.exponent, rng)?;
            self.half_open.initiator_modexps = self.half_open.initiator_modexps.saturating_add(1);
            Ok(Dh::Own(Box::new(kp)))
        } else {
            let size = self.config.exponent;
            let kp = self
                .half_open
                .initiator_key_pair(now, group, size, window, rng)?;
            Ok(Dh::Shared(kp))
        }
    }

    /// Main Mode initiator, MM2 (the chosen transform) -> MM3 (KE, Ni); next MM4.
    pub(super) fn iwait_mm2<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        psk: Secret,
        rx: Received<'_>,
        rng: &mut R,
    ) -> Stepped {
        let Received { now, bytes, m } = rx;
        let r = (|| {
            let parsed = plain_payloads(m, "Main Mode", "MM2 encrypted")?;
            let sa_p = need(parsed.sa, "Main Mode", "no SA payload")?;
            let suite = suite_from_reply(&sa_p)?;
            self.peer_vids(&mut sa.peer, &parsed.vids);
            self.client_natt(sa);
            let dh = self.initiator_key_pair(now, suite.group, rng)?;
            Ok((suite, dh))
        })();
        let (suite, dh) = match r {
            Ok(x) => x,
            Err(e) => return (Next::Step(Step::IWaitMm2 { psk }), Err(e)),
        };
        let mat = Material {
            g_xi: dh.key_pair().public_value().to_vec(),
            ni: random_bytes::<R, 20>(rng).to_vec(),
            g_xr: Vec::new(),
            nr: Vec::new(),
            id_i_b: Vec::new(),
            id_r_b: Vec::new(),
            suite,
            psk,
            dh,
        };
        let mut out = vec![
            p(OwnedBody::KeyExchange(mat.g_xi.clone())),
            p(OwnedBody::Nonce(mat.ni.clone())),
        ];
        out.extend(Self::natd_payloads(sa, mat.suite.hash));
        let h = msg::header(sa.cky_i, sa.cky_r, ExchangeType::IdentityProtection, 0);
        match msg::plain(h, out) {
            Ok(b) => {
                self.send_awaiting(sa, now, 0, Some(bytes), b);
                (Next::Step(Step::IWaitMm4(mat)), Ok(()))
            }
            Err(e) => (Next::Step(Step::IWaitMm2 { psk: mat.psk }), Err(e)),
        }
    }

    /// Main Mode initiator, MM4 (KE, Nr) -> MM5 (IDii, HASH_I): the keys are derived;
    /// next MM6.
    pub(super) fn iwait_mm4(
        &mut self,
        sa: &mut IkeSa,
        sa_i_b: &[u8],
        mut mat: Material,
        rx: Received<'_>,
    ) -> Stepped {
        let Received { now, bytes, m } = rx;
        let r = (|| {
            let parsed = plain_payloads(m, "Main Mode", "MM4 encrypted")?;
            let ke = need(parsed.ke, "Main Mode", "no KE payload")?;
            mat.suite.group.validate_public_value(ke)?;
            let nr = need(parsed.nonce, "Main Mode", "no NONCE payload")?;
            self.peer_vids(&mut sa.peer, &parsed.vids);
            self.check_natd(sa, mat.suite.hash, &parsed.natd);
            self.maybe_float(sa, now);
            mat.g_xr = ke.to_vec();
            mat.nr = nr.to_vec();
            self.derive_keys(sa, &mat)
        })();
        let d = match r {
            Ok(d) => d,
            Err(e) => return (Next::Step(Step::IWaitMm4(mat)), Err(e)),
        };
        let idi = our_id(sa.local);
        mat.id_i_b = id_body(&idi);
        let mut keyed = Keyed::new(mat, d);
        let hash_i = keyed.hash_i(sa_i_b, &sa.cky_i, &sa.cky_r);
        let mut out = vec![
            p(OwnedBody::Identification(idi)),
            p(OwnedBody::Hash(hash_i)),
        ];
        if sa.profile.as_ref().is_some_and(|p| p.initial_contact) {
            out.push(p(OwnedBody::Notification(initial_contact(sa))));
        }
        let r = Self::encrypt_p1(sa, &mut keyed, ExchangeType::IdentityProtection, &out);
        if let Ok(b) = &r {
            self.send_awaiting(sa, now, 0, Some(bytes), b.clone());
        }
        (Next::Step(Step::IWaitMm6(keyed)), r.map(drop))
    }

    /// Aggressive Mode initiator, AM2 (SA, KE, Nr, IDir, HASH_R) -> AM3 (HASH_I): phase 1
    /// is up.
    pub(super) fn iwait_am2<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        sa_i_b: &[u8],
        offered: Offered,
        rx: Received<'_>,
        rng: &mut R,
    ) -> Stepped {
        let Received { now, bytes, m } = rx;
        let (mat, mut d, hash_r) = match self.am2_keys(sa, offered, m) {
            Ok(k) => k,
            Err((offered, e)) => return (Next::Step(Step::IWaitAm2(offered)), Err(e)),
        };
        let (cky_i, cky_r) = (&sa.cky_i, &sa.cky_r);
        let want = d
            .keys
            .hash_r(&mat.g_xr, &mat.g_xi, cky_r, cky_i, sa_i_b, &mat.id_r_b);
        let Some(proof) = super::super::phase::verify(&want, hash_r) else {
            // The next AM2 derives again: the material is kept, the keys are not.
            return match self.auth_failed(sa, rng) {
                Ok(()) => (Next::Done, Ok(())),
                Err(e) => (Next::Step(Step::IWaitAm2(mat.into_offered())), Err(e)),
            };
        };
        let hash_i = d
            .keys
            .hash_i(&mat.g_xi, &mat.g_xr, cky_i, cky_r, sa_i_b, &mat.id_i_b);
        let mut out = vec![p(OwnedBody::Hash(hash_i))];
        if sa.profile.as_ref().is_some_and(|p| p.initial_contact) {
            out.push(p(OwnedBody::Notification(initial_contact(sa))));
        }
        // NAT-D hashes the addresses of this exchange, before the float.
        out.extend(Self::natd_payloads(sa, mat.suite.hash));
        self.maybe_float(sa, now);
        let h = msg::header(sa.cky_i, sa.cky_r, ExchangeType::Aggressive, 0);
        let b = match msg::encrypted(h, &out, &d.cipher, &mut d.chain) {
            Ok(b) => b,
            Err(e) => return (Next::Step(Step::IWaitAm2(mat.into_offered())), Err(e)),
        };
        sa.timers.retx.remove(&0);
        self.reply(sa, bytes, b);
        self.established(sa, Keyed::new(mat, d), proof, now, rng);
        (Next::Done, Ok(()))
    }

    /// AM2 checked, the chosen suite taken and the keys derived; with the peer's HASH_R.
    /// On error, what we had before AM2 (moved back, not boxed: once per AM2).
    #[allow(clippy::type_complexity, clippy::result_large_err)]
    fn am2_keys<'m>(
        &mut self,
        sa: &mut IkeSa,
        offered: Offered,
        m: &Message<'m>,
    ) -> Result<(Material, Derived, &'m [u8]), (Offered, SmError)> {
        let r = (|| {
            let parsed = plain_payloads(m, "Aggressive Mode", "AM2 encrypted")?;
            let sa_p = need(parsed.sa, "Aggressive Mode", "no SA payload")?;
            let suite = suite_from_reply(&sa_p)?;
            let ke = need(parsed.ke, "Aggressive Mode", "no KE payload")?;
            suite.group.validate_public_value(ke)?;
            let nr = need(parsed.nonce, "Aggressive Mode", "no NONCE payload")?;
            let idr = need(parsed.ids.first(), "Aggressive Mode", "no ID payload")?;
            let hash_r = need(parsed.hash, "Aggressive Mode", "no HASH payload")?;
            if offered.dh.key_pair().group() != suite.group {
                return Err(SmError::Protocol {
                    exchange: "Aggressive Mode",
                    what: "responder chose another group than our KE",
                });
            }
            self.peer_vids(&mut sa.peer, &parsed.vids);
            self.client_natt(sa);
            self.check_natd(sa, suite.hash, &parsed.natd);
            Ok((suite, ke.to_vec(), nr.to_vec(), id_body_ref(idr), hash_r))
        })();
        let (suite, g_xr, nr, id_r_b, hash_r) = match r {
            Ok(x) => x,
            Err(e) => return Err((offered, e)),
        };
        let mat = Material {
            suite,
            psk: offered.psk,
            dh: offered.dh,
            g_xi: offered.g_xi,
            g_xr,
            ni: offered.ni,
            nr,
            id_i_b: offered.id_i_b,
            id_r_b,
        };
        match self.derive_keys(sa, &mat) {
            Ok(d) => Ok((mat, d, hash_r)),
            Err(e) => Err((mat.into_offered(), e)),
        }
    }
}
