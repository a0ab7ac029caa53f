//! Quick Mode (RFC 2409 section 5.5), responder and initiator: proposals against the
//! crypto map's transform sets, IDs, optional PFS, RESPONDER-LIFETIME, KEYMAT for both SPIs.

use super::msg::Parsed;
use super::msg::{self, p};
use super::phase::Established;
use super::phase1::Received;
use super::policy::{select_ipsec, IpsecChoice};
use super::sa::{IkeSa, Role};
use super::{random_bytes, random_u32, Endpoint};
use crate::config::{
    EncryptionAlgorithm, IntegrityAlgorithm, QuickModeRequest, Selector, TrafficSelector,
};
use crate::crypto::dh::{DhGroup, KeyPair};
use crate::crypto::phase2::hashes_equal;
use crate::event::{ChildSa, DebugEvent, Event};
use crate::SmError;
use isakmp_wire::attr::ipsec::IpsecTransform;
use isakmp_wire::payload::id::{IdPayload, IdValue, OwnedId};
use isakmp_wire::payload::notify::{NotifyType, OwnedNotify};
use isakmp_wire::payload::proposal::OwnedProposal;
use isakmp_wire::payload::sa::OwnedSa;
use isakmp_wire::payload::transform::OwnedTransform;
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::{Doi, ExchangeType, IdType, Message, OwnedAttribute, ProtocolId};
use pix_primitives::Secret;
use rand_core::CryptoRng;
use std::time::Instant;

/// One Quick Mode in flight, by where it stands. (A finished one is not kept: the
/// stored reply answers a retransmission of its last message.)
pub(crate) enum QuickMode {
    /// Initiator: HASH(1) sent (SA, Ni, \[KE\], IDs); HASH(2) awaited.
    Offered(Offer),
    /// Responder: HASH(2) sent; HASH(3) awaited.
    Answered(Agreed),
}

impl QuickMode {
    /// Our inbound SPI.
    pub fn spi_in(&self) -> u32 {
        match self {
            QuickMode::Offered(o) => o.spi_in,
            QuickMode::Answered(a) => a.spi_in,
        }
    }
}

/// What a Quick Mode initiator sent.
pub(crate) struct Offer {
    pub ni: Vec<u8>,
    /// PFS: our key pair.
    pub kp: Option<KeyPair>,
    pub spi_in: u32,
    pub local_sel: TrafficSelector,
    pub remote_sel: TrafficSelector,
    pub life_secs: u64,
    pub life_kb: u64,
}

/// What both sides agreed: everything the child SAs are made from.
pub(crate) struct Agreed {
    pub ni: Vec<u8>,
    pub nr: Vec<u8>,
    /// PFS: our key pair and the peer's public value.
    pub pfs: Option<(KeyPair, Vec<u8>)>,
    pub spi_in: u32,
    pub spi_out: u32,
    pub choice: IpsecChoice,
    pub local_sel: TrafficSelector,
    pub remote_sel: TrafficSelector,
    pub life_secs: u64,
    pub life_kb: u64,
    /// The initiator set the commit bit (RFC 2408 section 3.1): as responder we answer
    /// its HASH(3) with a CONNECTED notify once the SAs are installed.
    pub commit: bool,
    /// The peer's original address from its NAT-OA payload, if it sent one.
    pub peer_oa: Option<core::net::IpAddr>,
}

const EX: &str = "Quick Mode";

/// The initiator's proxy identities (IDci, IDcr) as selectors, when it sent them.
struct ProxyIds(Option<(TrafficSelector, TrafficSelector)>);

impl ProxyIds {
    /// (remote, local) selectors: the IDs, or the IKE SA's own addresses without them.
    fn selectors(&self, sa: &IkeSa) -> (TrafficSelector, TrafficSelector) {
        let host = |a: core::net::SocketAddr| match a.ip() {
            core::net::IpAddr::V4(v) => TrafficSelector::new(Selector::Addr(v)),
            core::net::IpAddr::V6(_) => {
                TrafficSelector::new(Selector::Addr(core::net::Ipv4Addr::UNSPECIFIED))
            }
        };
        match self.0 {
            Some((src, dst)) => (src, dst),
            None => (host(sa.remote), host(sa.local)),
        }
    }
}

fn selector(id: &IdPayload<'_>) -> Result<TrafficSelector, SmError> {
    let addr = match id.value() {
        IdValue::Ipv4(a) => Selector::Addr(a),
        IdValue::Ipv4Subnet(a, m) => Selector::Subnet(a, m),
        IdValue::Ipv4Range(a, b) => Selector::Range(a, b),
        _ => {
            return Err(SmError::Protocol {
                exchange: EX,
                what: "ID type other than IPV4_ADDR, IPV4_ADDR_SUBNET, IPV4_ADDR_RANGE",
            })
        }
    };
    Ok(TrafficSelector {
        addr,
        protocol: id.protocol,
        port: id.port,
    })
}

/// The first and last address `sel` covers (a subnet with a non-contiguous mask: the
/// span from its lowest to its highest address).
fn span(sel: &Selector) -> (core::net::Ipv4Addr, core::net::Ipv4Addr) {
    match *sel {
        Selector::Addr(a) => (a, a),
        Selector::Subnet(a, m) => {
            let (a, m) = (u32::from(a), u32::from(m));
            ((a & m).into(), (a | !m).into())
        }
        Selector::Range(x, y) => (x.min(y), x.max(y)),
    }
}

/// Whether `sel` covers exactly the one address `a` (IPV4_ADDR, a /32 subnet, or a
/// one-address range).
fn selects_only(sel: &Selector, a: core::net::Ipv4Addr) -> bool {
    match *sel {
        Selector::Addr(x) => x == a,
        Selector::Subnet(x, m) => x == a && m == core::net::Ipv4Addr::BROADCAST,
        Selector::Range(x, y) => x == a && y == a,
    }
}

pub(crate) fn owned_id(s: &TrafficSelector) -> OwnedId {
    let mut id = match s.addr {
        Selector::Addr(a) => OwnedId::ipv4(a, 0, 0),
        Selector::Subnet(a, m) => OwnedId::ipv4_subnet(a, m),
        Selector::Range(a, b) => OwnedId {
            id_type: IdType::Ipv4AddrRange,
            protocol: 0,
            port: 0,
            data: [a.octets(), b.octets()].concat(),
        },
    };
    id.protocol = s.protocol;
    id.port = s.port;
    id
}

fn life_attrs(secs: u64, kb: u64) -> Vec<OwnedAttribute> {
    let mut v = vec![
        OwnedAttribute::basic(1, 1),
        OwnedAttribute::variable(
            2,
            u32::try_from(secs)
                .unwrap_or(u32::MAX)
                .to_be_bytes()
                .to_vec(),
        ),
    ];
    if kb > 0 {
        v.push(OwnedAttribute::basic(1, 2));
        v.push(OwnedAttribute::variable(
            2,
            u32::try_from(kb).unwrap_or(u32::MAX).to_be_bytes().to_vec(),
        ));
    }
    v
}

/// `got` is the HASH we computed (constant time), else [`SmError::HashMismatch`] naming
/// which.
fn check_hash(want: &[u8], got: &[u8], what: &'static str) -> Result<(), SmError> {
    if hashes_equal(want, got) {
        Ok(())
    } else {
        Err(SmError::HashMismatch { what })
    }
}

/// KEYMAT for `spi` (RFC 2409 section 5.5): the ESP encryption and authentication keys.
fn keys_for(
    est: &Established,
    pfs: Option<&[u8]>,
    spi: u32,
    qm: &Agreed,
    choice: &IpsecChoice,
) -> Result<(Secret, Secret), SmError> {
    let keys = &est.keys;
    let enc_len = choice.cipher.key_len();
    let total = enc_len.saturating_add(choice.auth.key_len());
    let km = keys.keymat(pfs, 3, &spi.to_be_bytes(), &qm.ni, &qm.nr, total)?;
    let (e, a) = km.expose_secret().split_at(enc_len.min(km.len()));
    Ok((Secret::from_slice(e), Secret::from_slice(a)))
}

impl Endpoint {
    /// Whether a peer without a Mode Config address may not claim `sel`: `Some(None)`
    /// when it covers every address, `Some(Some(a))` when it covers `a`, an address of a
    /// local pool or one AAA assigned to another SA; `None` when it may.
    fn not_owned(&self, sel: &Selector) -> Option<Option<core::net::Ipv4Addr>> {
        let (first, last) = span(sel);
        if first == core::net::Ipv4Addr::UNSPECIFIED && last == core::net::Ipv4Addr::BROADCAST {
            return Some(None);
        }
        self.pools.overlaps(first, last).map(Some)
    }

    fn child_event(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        msgid: u32,
        qm: &Agreed,
    ) -> Result<(), SmError> {
        let choice = &qm.choice;
        let g_xy = match &qm.pfs {
            Some((kp, g_peer)) => Some(kp.agree(g_peer)?),
            None => None,
        };
        let pfs = g_xy.as_ref().map(Secret::expose_secret);
        let (ein, ain) = keys_for(est, pfs, qm.spi_in, qm, choice)?;
        let (eout, aout) = keys_for(est, pfs, qm.spi_out, qm, choice)?;
        self.debug(DebugEvent::CreatingIpsecSas {
            spi_in: qm.spi_in,
            spi_out: qm.spi_out,
        });
        let expires = now.checked_add(std::time::Duration::from_secs(qm.life_secs));
        sa.children.push((qm.spi_in, qm.spi_out, expires));
        self.event(Event::ChildSa(Box::new(ChildSa {
            ike_sa: sa.id,
            message_id: msgid,
            spi_in: qm.spi_in,
            spi_out: qm.spi_out,
            protocol: 3,
            encryption: choice.cipher,
            integrity: choice.auth,
            encapsulation: choice.encapsulation,
            enc_key_in: ein,
            auth_key_in: ain,
            enc_key_out: eout,
            auth_key_out: aout,
            local_selector: qm.local_sel,
            remote_selector: qm.remote_sel,
            life_secs: qm.life_secs,
            life_kb: qm.life_kb,
            local: sa.local,
            remote: sa.remote,
            natt_ports: sa.floated.then(|| (sa.local.port(), sa.remote.port())),
            peer_original_addr: qm.peer_oa,
            assigned_address: sa.assigned.filter(|_| sa.role == Role::Responder),
        })));
        Ok(())
    }

    pub(crate) fn handle_quick<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        bytes: &[u8],
        m: &Message<'_>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let msgid = m.header.message_id;
        if !self.quick_admit(sa, msgid, bytes)? {
            return Ok(());
        }
        let (pt, decrypted) = Self::decrypt_exchange(sa, est, m)?;
        let limits = isakmp_wire::Limits::DEFAULT;
        let c = isakmp_wire::parse_decrypted(m.header.next_payload, &pt, 28, &limits)?;
        let rest = msg::after_first(&c)?;
        let parsed = Parsed::collect(c.iter())?;
        let got = parsed.hash.ok_or(SmError::Protocol {
            exchange: EX,
            what: "no HASH payload",
        })?;
        let keys = &est.keys;
        match sa.quick.remove(&msgid).map(|b| *b) {
            None if sa.role == Role::Responder => {
                check_hash(&keys.qm_hash1_out(msgid, rest), got, "HASH(1)")?;
                Self::accept_iv(sa, msgid, decrypted);
                self.quick_respond(sa, est, &Received { now, bytes, m }, &parsed, rng)
            }
            Some(QuickMode::Answered(qm)) => {
                let want = keys.qm_hash3_out(msgid, &qm.ni, &qm.nr);
                if let Err(e) = check_hash(&want, got, "HASH(3)") {
                    sa.quick.insert(msgid, Box::new(QuickMode::Answered(qm)));
                    return Err(e);
                }
                Self::accept_iv(sa, msgid, decrypted);
                self.quick_installed(sa, est, now, bytes, msgid, &qm)
            }
            Some(QuickMode::Offered(offer)) => {
                let want = keys.qm_hash2_out(msgid, &offer.ni, rest);
                if let Err(e) = check_hash(&want, got, "HASH(2)") {
                    sa.quick.insert(msgid, Box::new(QuickMode::Offered(offer)));
                    return Err(e);
                }
                Self::accept_iv(sa, msgid, decrypted);
                let r = self.quick_finish(sa, est, &Received { now, bytes, m }, offer, &parsed);
                if r.is_err() {
                    sa.timers.retx.remove(&msgid);
                }
                r
            }
            None if m.header.flags.commit()
                && parsed
                    .notifies
                    .iter()
                    .any(|n| n.notify_type == NotifyType::Connected) =>
            {
                // The responder's fourth message after we set the commit bit: HASH as in
                // an Informational exchange (prf(SKEYID_a, M-ID | N)), on this QM's IVs.
                check_hash(
                    &keys.informational_hash_out(msgid, rest),
                    got,
                    "HASH(CONNECTED)",
                )?;
                Self::accept_iv(sa, msgid, decrypted);
                self.debug(DebugEvent::Processing {
                    what: "NOTIFY CONNECTED",
                    message_id: msgid,
                });
                Ok(())
            }
            None => Err(SmError::Protocol {
                exchange: EX,
                what: "unknown Quick Mode message ID",
            }),
        }
    }

    /// Responder, HASH(3) verified: the child SAs are made (and CONNECTED sent when the
    /// initiator set the commit bit).
    fn quick_installed(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        bytes: &[u8],
        msgid: u32,
        qm: &Agreed,
    ) -> Result<(), SmError> {
        sa.answered(msgid);
        self.child_event(sa, est, now, msgid, qm)?;
        if qm.commit {
            self.send_connected(sa, est, bytes, msgid, qm.spi_out)?;
        }
        Ok(())
    }

    /// The message's HASH verified: exchange `msgid`'s IV chain moves past it.
    fn accept_iv(sa: &mut IkeSa, msgid: u32, decrypted: crate::crypto::cipher::Decrypted) {
        if let Some(ch) = sa.exchanges.get_mut(&msgid) {
            decrypted.accept(ch);
        }
    }

    /// Whether Quick Mode `msgid` is taken now: not message ID 0; a gateway holds it
    /// until Xauth and Mode Config are done (`false`); a new one within the bounds on
    /// child SAs and on concurrent Quick Modes of one IKE SA.
    fn quick_admit(&mut self, sa: &mut IkeSa, msgid: u32, bytes: &[u8]) -> Result<bool, SmError> {
        if msgid == 0 {
            return Err(SmError::Protocol {
                exchange: EX,
                what: "message ID 0",
            });
        }
        if sa.role == Role::Responder && !(sa.xauth_done && sa.cfg_done) {
            self.hold_quick(sa, bytes);
            return Ok(false);
        }
        let l = &self.config.limits;
        if !sa.quick.contains_key(&msgid) && sa.children.len() >= l.max_child_sas {
            return Err(SmError::Limit {
                what: "child SAs of one IKE SA",
                max: l.max_child_sas,
            });
        }
        if !sa.quick.contains_key(&msgid) && sa.quick.len() >= l.max_quick_modes {
            return Err(SmError::Limit {
                what: "concurrent Quick Modes",
                max: l.max_quick_modes,
            });
        }
        Ok(true)
    }

    /// RFC 2408 section 3.1 / RFC 2409 section 5.5: with the commit bit set, the responder
    /// sends a fourth Quick Mode message, HASH and a CONNECTED (16384) notify with the
    /// commit bit, after the SAs are installed. It is the stored answer to HASH(3), so a
    /// retransmitted HASH(3) gets it again.
    fn send_connected(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        incoming: &[u8],
        msgid: u32,
        peer_spi: u32,
    ) -> Result<(), SmError> {
        let n = p(OwnedBody::Notification(OwnedNotify {
            doi: Doi::Ipsec,
            protocol: ProtocolId::Esp,
            notify_type: NotifyType::Connected,
            spi: peer_spi.to_be_bytes().to_vec(),
            data: Vec::new(),
        }));
        let rest = msg::chain_bytes(core::slice::from_ref(&n))?;
        let keys = &est.keys;
        let h = keys.informational_hash_out(msgid, &rest);
        self.debug(DebugEvent::SendingNotify {
            notify: NotifyType::Connected.into(),
        });
        let mut b = self.encrypt_on(
            sa,
            est,
            ExchangeType::QuickMode,
            msgid,
            &[p(OwnedBody::Hash(h.to_vec())), n],
        )?;
        // The flags byte is outside the encryption and the HASH.
        if let Some(f) = b.get_mut(19) {
            *f |= isakmp_wire::Flags::COMMIT;
        }
        sa.exchanges.remove(&msgid);
        self.reply(sa, incoming, b);
        Ok(())
    }

    /// HASH(1) verified: choose a proposal, check the peer's proxy identities and PFS,
    /// answer with HASH(2) and wait for HASH(3) (and remember the commit bit of `h`:
    /// CONNECTED follows HASH(3) then). A refusal is told to the peer (a notify
    /// inside the IKE SA) and is not an error.
    fn quick_respond<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        rx: &Received<'_>,
        parsed: &Parsed<'_>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let Received { now, bytes, m } = *rx;
        let h = m.header;
        let msgid = h.message_id;
        let Some(choice) = self.quick_choose(sa, msgid, parsed)? else {
            self.send_info_notify(sa, est, NotifyType::NoProposalChosen, ProtocolId::Esp, rng)?;
            return Ok(());
        };
        self.debug(DebugEvent::Processing {
            what: "NONCE",
            message_id: msgid,
        });
        let ni = parsed.nonce.ok_or(SmError::Protocol {
            exchange: EX,
            what: "no NONCE payload",
        })?;
        let Some(ids) = self.quick_ids(msgid, parsed) else {
            self.send_info_notify(
                sa,
                est,
                NotifyType::InvalidIdInformation,
                ProtocolId::Esp,
                rng,
            )?;
            return Ok(());
        };
        let (remote_sel, local_sel) = ids.selectors(sa);
        if !self.may_claim(sa, &remote_sel) {
            self.send_info_notify(
                sa,
                est,
                NotifyType::InvalidIdInformation,
                ProtocolId::Esp,
                rng,
            )?;
            return Ok(());
        }
        let Some(pfs) = self.quick_pfs(parsed, &choice, rng)? else {
            self.send_info_notify(sa, est, NotifyType::NoProposalChosen, ProtocolId::Esp, rng)?;
            return Ok(());
        };
        let spi_in = self.fresh_spi(sa, rng);
        self.debug(DebugEvent::GettingSpi { spi: spi_in });
        let mut qm = Agreed {
            ni: ni.to_vec(),
            nr: random_bytes::<R, 20>(rng).to_vec(),
            pfs,
            spi_in,
            spi_out: choice.peer_spi,
            choice,
            local_sel,
            remote_sel,
            life_secs: 0,
            life_kb: 0,
            commit: h.flags.commit(),
            peer_oa: None,
        };
        let out = self.quick_reply(sa, &mut qm, &ids, parsed)?;
        let rest = msg::chain_bytes(&out)?;
        let keys = &est.keys;
        let h2 = keys.qm_hash2_out(msgid, ni, &rest);
        let kind = out
            .first()
            .map_or(isakmp_wire::PayloadType::None, |p| p.kind);
        drop(out);
        let b = Self::encrypt_on_hashed(sa, est, ExchangeType::QuickMode, msgid, &h2, kind, &rest)?;
        sa.quick.insert(msgid, Box::new(QuickMode::Answered(qm)));
        self.send_awaiting(sa, now, msgid, Some(bytes), b);
        Ok(())
    }

    /// The proposal chosen against the crypto map's transform sets (`None`: nothing
    /// acceptable).
    fn quick_choose(
        &mut self,
        sa: &IkeSa,
        msgid: u32,
        parsed: &Parsed<'_>,
    ) -> Result<Option<IpsecChoice>, SmError> {
        let gw = self
            .config
            .gateway
            .as_ref()
            .ok_or(SmError::Config("gateway"))?;
        let transport_ok = gw.transport_mode;
        self.debug(DebugEvent::ProcessingSa { message_id: msgid });
        let sa_p = parsed.sa.ok_or(SmError::Protocol {
            exchange: EX,
            what: "no SA payload",
        })?;
        let mut dbg = Vec::new();
        let tunnel = super::natt::encapsulation(sa.floated, sa.natt, false);
        let transport = super::natt::encapsulation(sa.floated, sa.natt, true);
        let modes: &[u16] = if transport_ok {
            &[tunnel, transport]
        } else {
            &[tunnel]
        };
        let debugging = self.debugging();
        // The crypto map's transform sets, borrowed (not cloned) for the selection.
        let sets = self
            .config
            .gateway
            .as_ref()
            .map_or(&[][..], |gw| &gw.transform_sets[..]);
        let choice = select_ipsec(sets, modes, &sa_p, &mut dbg, debugging);
        for d in dbg {
            self.debug(d);
        }
        choice
    }

    /// The initiator's proxy identities (IDci, IDcr), if it sent them; `None` when they
    /// are not IPv4 selectors (INVALID-ID-INFORMATION).
    fn quick_ids(&mut self, msgid: u32, parsed: &Parsed<'_>) -> Option<ProxyIds> {
        let (Some(a), Some(b)) = (parsed.ids.first(), parsed.ids.get(1)) else {
            return Some(ProxyIds(None));
        };
        self.debug(DebugEvent::Processing {
            what: "ID",
            message_id: msgid,
        });
        let (Ok(src), Ok(dst)) = (selector(a), selector(b)) else {
            return None;
        };
        self.debug(DebugEvent::QmId {
            side: "src",
            selector: src,
        });
        self.debug(DebugEvent::Processing {
            what: "ID",
            message_id: msgid,
        });
        self.debug(DebugEvent::QmId {
            side: "dst",
            selector: dst,
        });
        Some(ProxyIds(Some((src, dst))))
    }

    /// Whether the peer may claim `remote_sel` as its proxy identity (counted and shown
    /// when not).
    fn may_claim(&mut self, sa: &IkeSa, remote_sel: &TrafficSelector) -> bool {
        // A client we gave an address with Mode Config may only build tunnels for that
        // address: otherwise one authenticated user could claim another user's (or an
        // inside host's) address as its proxy and receive its traffic.
        if let Some(a) = sa.assigned.filter(|_| sa.role == Role::Responder) {
            if !selects_only(&remote_sel.addr, a) {
                self.refuse(crate::counters::Refusal::SelectorNotOwned);
                self.debug(DebugEvent::Dropped(
                    "Quick Mode initiator ID is not the Mode Config address",
                ));
                return false;
            }
        } else if let Some(covers) = self.not_owned(&remote_sel.addr) {
            // An SA without a Mode Config address (an `isakmp key ... no-config-mode` peer,
            // or Mode Config off) names its own networks, but never every address, a
            // local pool's addresses or an address assigned to another SA: with one, it
            // would take that user's inbound traffic and send with its address. The PIX
            // refuses proxy identities it does not allow with INVALID-ID-INFORMATION,
            // as for the check above; the IKE SA stays.
            self.refuse(crate::counters::Refusal::SelectorNotOwned);
            self.debug(DebugEvent::SelectorNotOwned {
                selector: *remote_sel,
                covers,
            });
            return false;
        }
        true
    }

    /// PFS: the peer's KE decides when we have no `set pfs`; with one, KE is required
    /// (`None`: refused). `Some(None)`: no PFS.
    #[allow(clippy::type_complexity)]
    fn quick_pfs<R: CryptoRng + ?Sized>(
        &mut self,
        parsed: &Parsed<'_>,
        choice: &IpsecChoice,
        rng: &mut R,
    ) -> Result<Option<Option<(KeyPair, Vec<u8>)>>, SmError> {
        let pfs_cfg = self.config.gateway.as_ref().and_then(|gw| gw.pfs);
        let group = match (parsed.ke, pfs_cfg) {
            (Some(_), Some(g)) => Some(g),
            (Some(_), None) => choice
                .transform
                .attributes
                .iter()
                .find(|a| a.kind == 3)
                .and_then(|a| a.as_attr().as_u64())
                .and_then(|g| u16::try_from(g).ok())
                .and_then(|g| DhGroup::from_attribute(g).ok()),
            (None, Some(_)) => return Ok(None),
            (None, None) => None,
        };
        match (group, parsed.ke) {
            (Some(g), Some(ke)) => {
                g.validate_public_value(ke)?;
                let kp = KeyPair::generate(g, self.config.exponent, rng)?;
                Ok(Some(Some((kp, ke.to_vec()))))
            }
            _ => Ok(Some(None)),
        }
    }

    /// HASH(2)'s payloads (SA, Nr, \[KE\], \[IDs\], \[NAT-OA\], \[RESPONDER-LIFETIME\]); sets
    /// the lifetimes and the peer's NAT-OA of `qm`.
    fn quick_reply(
        &mut self,
        sa: &IkeSa,
        qm: &mut Agreed,
        ids: &ProxyIds,
        parsed: &Parsed<'_>,
    ) -> Result<Vec<isakmp_wire::OwnedPayload>, SmError> {
        let (our_secs, our_kb) = self.config.gateway.as_ref().map_or((28_800, 0), |gw| {
            (gw.ipsec_lifetime_secs, gw.ipsec_lifetime_kb)
        });
        let choice = &qm.choice;
        let offered_secs = choice.life_secs.unwrap_or(28_800);
        qm.life_secs = offered_secs.min(our_secs);
        let offered_kb = choice.life_kb.unwrap_or(0);
        qm.life_kb = if offered_kb == 0 {
            our_kb
        } else {
            offered_kb.min(our_kb)
        };
        let mut out = vec![
            p(OwnedBody::Sa(OwnedSa::ipsec(vec![OwnedProposal::new(
                choice.proposal_number,
                ProtocolId::Esp,
                qm.spi_in.to_be_bytes().to_vec(),
                vec![choice.transform.clone()],
            )]))),
            p(OwnedBody::Nonce(qm.nr.clone())),
        ];
        if let Some((kp, _)) = qm.pfs.as_ref() {
            out.push(p(OwnedBody::KeyExchange(kp.public_value().to_vec())));
        }
        if let ProxyIds(Some((a, b))) = ids {
            out.push(p(OwnedBody::Identification(owned_id(a))));
            out.push(p(OwnedBody::Identification(owned_id(b))));
        }
        // RFC 3947 section 5.2: the responder sends NAT-OA only when it selected
        // UDP-Encapsulated-Transport mode; the initiator's NAT-OAi is its original address.
        let udp_transport = matches!(choice.encapsulation, 4 | 61444);
        if udp_transport {
            out.extend(Self::nat_oa_payloads(sa, false));
        }
        qm.peer_oa = parsed
            .nat_oa
            .first()
            .copied()
            .flatten()
            .filter(|_| udp_transport);
        // RESPONDER-LIFETIME when either of ours is shorter than the offer (an offer
        // without a kilobyte lifetime is unbounded in volume, so any limit of ours is
        // shorter); it carries the seconds and, when that is what we shortened, kilobytes.
        let kb_shorter = our_kb > 0 && (offered_kb == 0 || offered_kb > our_kb);
        if offered_secs > our_secs || kb_shorter {
            let mut data = Vec::new();
            for a in life_attrs(qm.life_secs, if kb_shorter { qm.life_kb } else { 0 }) {
                a.emit(&mut data)?;
            }
            out.push(p(OwnedBody::Notification(OwnedNotify {
                doi: Doi::Ipsec,
                protocol: ProtocolId::Esp,
                notify_type: NotifyType::ResponderLifetime,
                spi: choice.peer_spi.to_be_bytes().to_vec(),
                data,
            })));
        }
        Ok(out)
    }

    /// Child SAs past their lifetime are deleted, and the peer is told (IPsec Delete).
    pub(crate) fn child_expiry<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        rng: &mut R,
    ) {
        let expired: Vec<u32> = sa
            .children
            .iter()
            .filter(|(_, _, e)| e.is_some_and(|e| e <= now))
            .map(|(i, _, _)| *i)
            .collect();
        if expired.is_empty() {
            return;
        }
        sa.children.retain(|(_, _, e)| !e.is_some_and(|e| e <= now));
        for spi_in in &expired {
            self.event(Event::ChildDeleted {
                sa: sa.id,
                spi_in: *spi_in,
            });
        }
        let sent = isakmp_wire::payload::delete::OwnedDelete::ipsec(ProtocolId::Esp, &expired)
            .map_err(SmError::from)
            .map(|d| {
                // Child SAs are made, and handed over, only on an established SA.
                sa.with_established(|sa, est| {
                    self.send_info(sa, est, vec![p(OwnedBody::Delete(d))], rng)
                })
            });
        if let Err(e) | Ok(Some(Err(e))) = sent {
            self.follow_up_failed(&e);
        }
    }

    /// [`Self::encrypt_on`] for HASH + an already encoded chain `rest` (the bytes the HASH
    /// covers), without encoding that chain again.
    pub(crate) fn encrypt_on_hashed(
        sa: &mut IkeSa,
        est: &Established,
        exchange: ExchangeType,
        msgid: u32,
        hash: &[u8],
        rest_kind: isakmp_wire::PayloadType,
        rest: &[u8],
    ) -> Result<Vec<u8>, SmError> {
        let (ci, cr) = (sa.cky_i, sa.cky_r);
        let (cipher, chain) = Self::cipher_and_chain(sa, est, msgid)?;
        msg::encrypted_hashed(
            msg::header(ci, cr, exchange, msgid),
            hash,
            rest_kind,
            rest,
            cipher,
            chain,
        )
    }

    /// Encrypts payloads on exchange `msgid`.
    pub(crate) fn encrypt_on(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        exchange: ExchangeType,
        msgid: u32,
        payloads: &[isakmp_wire::OwnedPayload],
    ) -> Result<Vec<u8>, SmError> {
        let (ci, cr) = (sa.cky_i, sa.cky_r);
        let (cipher, chain) = Self::cipher_and_chain(sa, est, msgid)?;
        msg::encrypted(
            msg::header(ci, cr, exchange, msgid),
            payloads,
            cipher,
            chain,
        )
    }

    pub(crate) fn quick_initiate<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        req: QuickModeRequest,
        rng: &mut R,
    ) -> Result<u32, SmError> {
        if sa.quick.len() >= self.config.limits.max_quick_modes {
            return Err(SmError::Limit {
                what: "concurrent Quick Modes",
                max: self.config.limits.max_quick_modes,
            });
        }
        if req.offers.is_empty() {
            return Err(SmError::Config("Quick Mode request without proposals"));
        }
        let mut msgid = random_u32(rng);
        while msgid == 0 || sa.exchanges.contains_key(&msgid) {
            msgid = random_u32(rng);
        }
        let spi_in = self.fresh_spi(sa, rng);
        let ni = random_bytes::<R, 20>(rng).to_vec();
        let kp = match req.pfs {
            Some(g) => Some(KeyPair::generate(g, self.config.exponent, rng)?),
            None => None,
        };
        let proposals = quick_proposals(sa, &req, spi_in, rng);
        let mut out = vec![
            p(OwnedBody::Sa(OwnedSa::ipsec(proposals))),
            p(OwnedBody::Nonce(ni.clone())),
        ];
        if let Some(kp) = kp.as_ref() {
            out.push(p(OwnedBody::KeyExchange(kp.public_value().to_vec())));
        }
        out.push(p(OwnedBody::Identification(owned_id(&req.local))));
        out.push(p(OwnedBody::Identification(owned_id(&req.remote))));
        // RFC 3947 section 5.2: NAT-OA when proposing UDP-Encapsulated-Transport.
        if req.offers.iter().any(|o| o.transport) {
            out.extend(Self::nat_oa_payloads(sa, true));
        }
        let rest = msg::chain_bytes(&out)?;
        let keys = &est.keys;
        let h1 = keys.qm_hash1_out(msgid, &rest);
        let kind = out
            .first()
            .map_or(isakmp_wire::PayloadType::None, |p| p.kind);
        drop(out);
        let b = Self::encrypt_on_hashed(sa, est, ExchangeType::QuickMode, msgid, &h1, kind, &rest)?;
        let offer = Offer {
            ni,
            kp,
            spi_in,
            local_sel: req.local,
            remote_sel: req.remote,
            life_secs: req.life_secs,
            life_kb: req.life_kb,
        };
        sa.quick.insert(msgid, Box::new(QuickMode::Offered(offer)));
        self.send_awaiting(sa, now, msgid, None, b);
        Ok(msgid)
    }

    /// Initiator, HASH(2) verified: the responder's choice taken, HASH(3) sent, the
    /// child SAs made.
    fn quick_finish(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        rx: &Received<'_>,
        offer: Offer,
        parsed: &Parsed<'_>,
    ) -> Result<(), SmError> {
        let Received { now, bytes, m } = *rx;
        let msgid = m.header.message_id;
        let qm = agreed(offer, parsed)?;
        let keys = &est.keys;
        let h3 = keys.qm_hash3_out(msgid, &qm.ni, &qm.nr);
        let b = self.encrypt_on(
            sa,
            est,
            ExchangeType::QuickMode,
            msgid,
            &[p(OwnedBody::Hash(h3.to_vec()))],
        )?;
        sa.timers.retx.remove(&msgid);
        self.reply(sa, bytes, b);
        self.child_event(sa, est, now, msgid, &qm)
    }
}

/// What the responder's HASH(2) message makes of our offer: its proposal, SPI, nonce,
/// KE (with PFS), RESPONDER-LIFETIME and NAT-OAr.
fn agreed(offer: Offer, parsed: &Parsed<'_>) -> Result<Agreed, SmError> {
    let choice = responder_choice(parsed)?;
    let nr = parsed.nonce.ok_or(SmError::Protocol {
        exchange: EX,
        what: "no NONCE payload",
    })?;
    let pfs = match offer.kp {
        Some(kp) => {
            let ke = parsed.ke.ok_or(SmError::Protocol {
                exchange: EX,
                what: "PFS without the responder's KE",
            })?;
            kp.group().validate_public_value(ke)?;
            Some((kp, ke.to_vec()))
        }
        None => None,
    };
    let (life_secs, life_kb) = responder_lifetime(parsed, offer.life_secs, offer.life_kb);
    Ok(Agreed {
        ni: offer.ni,
        nr: nr.to_vec(),
        pfs,
        spi_in: offer.spi_in,
        spi_out: choice.peer_spi,
        choice,
        local_sel: offer.local_sel,
        remote_sel: offer.remote_sel,
        life_secs,
        life_kb,
        commit: false,
        // The responder's NAT-OAr, with UDP-Encapsulated-Transport.
        peer_oa: parsed.nat_oa.get(1).copied().flatten(),
    })
}

/// The proposal the responder chose (its single transform) and its SPI.
fn responder_choice(parsed: &Parsed<'_>) -> Result<IpsecChoice, SmError> {
    let sa_p = parsed.sa.ok_or(SmError::Protocol {
        exchange: EX,
        what: "no SA payload",
    })?;
    let prop = sa_p
        .proposals()
        .next()
        .transpose()?
        .ok_or(SmError::Protocol {
            exchange: EX,
            what: "SA without proposal",
        })?;
    let t = prop
        .transforms()
        .next()
        .transpose()?
        .ok_or(SmError::Protocol {
            exchange: EX,
            what: "proposal without transform",
        })?;
    let typed = IpsecTransform::from_attributes(t.attributes())?;
    let cipher = EncryptionAlgorithm::from_ike_transform(t.transform_id, typed.key_length).ok_or(
        SmError::Protocol {
            exchange: EX,
            what: "responder chose an unknown ESP transform",
        },
    )?;
    let auth = typed
        .auth
        .map(|a| u64::from(u16::from(a)))
        .and_then(IntegrityAlgorithm::from_ike_attribute)
        .ok_or(SmError::Protocol {
            exchange: EX,
            what: "responder chose an unknown authentication algorithm",
        })?;
    let spi = <[u8; 4]>::try_from(prop.spi).map_err(|_| SmError::Protocol {
        exchange: EX,
        what: "responder SPI is not 4 bytes",
    })?;
    Ok(IpsecChoice {
        proposal_number: prop.number,
        peer_spi: u32::from_be_bytes(spi),
        cipher,
        auth,
        encapsulation: typed.encapsulation.map_or(1, u16::from),
        life_secs: typed.life_seconds,
        life_kb: typed.life_kilobytes,
        transform: t.to_owned_transform()?,
    })
}

/// Our lifetimes as the responder's RESPONDER-LIFETIME notify shortens them.
fn responder_lifetime(parsed: &Parsed<'_>, mut secs: u64, mut kb: u64) -> (u64, u64) {
    for n in &parsed.notifies {
        if n.notify_type == NotifyType::ResponderLifetime {
            let attrs = isakmp_wire::AttributeIter::new(n.data, 0);
            let mut kind = 0u64;
            for a in attrs.flatten() {
                match a.kind {
                    1 => kind = a.as_u64().unwrap_or(0),
                    2 if kind == 1 => secs = a.as_u64().unwrap_or(secs),
                    2 if kind == 2 => kb = a.as_u64().unwrap_or(kb),
                    _ => {}
                }
            }
        }
    }
    (secs, kb)
}

/// The proposals of a Quick Mode request: one ESP proposal per offer (with an IPComp
/// one beside it when asked), each with our inbound SPI.
fn quick_proposals<R: CryptoRng + ?Sized>(
    sa: &IkeSa,
    req: &QuickModeRequest,
    spi_in: u32,
    rng: &mut R,
) -> Vec<OwnedProposal> {
    let mut proposals = Vec::new();
    for (i, o) in req.offers.iter().enumerate() {
        let encaps = super::natt::encapsulation(sa.floated, sa.natt, o.transport);
        let n = u8::try_from(i.saturating_add(1)).unwrap_or(u8::MAX);
        let mut attrs = life_attrs(req.life_secs, req.life_kb);
        attrs.push(OwnedAttribute::basic(4, encaps));
        if let Some(a) = o.auth.attribute() {
            attrs.push(OwnedAttribute::basic(5, a));
        }
        if let Some(k) = o.cipher.key_length_attribute() {
            attrs.push(OwnedAttribute::basic(6, k));
        }
        if let Some(g) = req.pfs {
            attrs.push(OwnedAttribute::basic(3, g.attribute()));
        }
        proposals.push(OwnedProposal::new(
            n,
            ProtocolId::Esp,
            spi_in.to_be_bytes().to_vec(),
            vec![OwnedTransform::new(1, o.cipher.transform_id(), attrs)],
        ));
        if o.with_ipcomp {
            let cpi = u16::try_from(random_u32(rng) & 0xffff).unwrap_or(0x1000);
            let mut a = life_attrs(req.life_secs, req.life_kb);
            a.push(OwnedAttribute::basic(4, encaps));
            proposals.push(OwnedProposal::new(
                n,
                ProtocolId::Ipcomp,
                cpi.to_be_bytes().to_vec(),
                vec![OwnedTransform::new(1, 3, a)],
            ));
        }
    }
    proposals
}
