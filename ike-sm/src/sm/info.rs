//! Informational exchanges: Notify and Delete (HASH-protected after phase 1), DPD
//! (RFC 3706 R-U-THERE / R-U-THERE-ACK with sequence numbers, both directions).

use super::msg::p;
use super::msg::Parsed;
use super::phase::{Established, Phase};
use super::sa::IkeSa;
use super::{random_u32, Endpoint};
use crate::event::{DebugEvent, Event, FailReason};
use crate::SmError;
use isakmp_wire::payload::delete::OwnedDelete;
use isakmp_wire::payload::notify::{NotifyType, OwnedNotify};
use isakmp_wire::payload::OwnedBody;
use isakmp_wire::{Body, Doi, ExchangeType, Message, OwnedPayload, ProtocolId};
use rand_core::CryptoRng;
use std::time::Instant;

impl Endpoint {
    /// Sends an encrypted, HASH-protected Informational with `payloads` on a new message ID.
    pub(crate) fn send_info<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        payloads: Vec<OwnedPayload>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut msgid = random_u32(rng);
        while msgid == 0 || sa.exchanges.contains_key(&msgid) {
            msgid = random_u32(rng);
        }
        let rest = super::msg::chain_bytes(&payloads)?;
        let h = est.keys.informational_hash_out(msgid, &rest);
        let kind = payloads
            .first()
            .map_or(isakmp_wire::PayloadType::None, |p| p.kind);
        drop(payloads);
        let b =
            Self::encrypt_on_hashed(sa, est, ExchangeType::Informational, msgid, &h, kind, &rest)?;
        sa.exchanges.remove(&msgid);
        self.send(sa, b);
        Ok(())
    }

    /// An error notify inside the ISAKMP SA.
    pub(crate) fn send_info_notify<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        notify: NotifyType,
        protocol: ProtocolId,
        rng: &mut R,
    ) -> Result<(), SmError> {
        self.debug(DebugEvent::SendingNotify {
            notify: notify.into(),
        });
        let n = OwnedNotify {
            doi: Doi::Ipsec,
            protocol,
            notify_type: notify,
            spi: Vec::new(),
            data: Vec::new(),
        };
        self.send_info(sa, est, vec![p(OwnedBody::Notification(n))], rng)
    }

    /// Delete of the ISAKMP SA (and of its child SAs first).
    pub(crate) fn send_delete<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        rng: &mut R,
    ) -> Result<(), SmError> {
        // The ISAKMP DELETE goes first. A peer that gets an IPsec DELETE first may start
        // a new Quick Mode to replace the SA (vpnc 0.5.3 does) and then take the ISAKMP
        // DELETE for a broken Quick Mode reply; told first that the IKE SA is gone, it
        // drops everything. The IPsec DELETEs follow for peers that keep IPsec SAs
        // alive without their IKE SA.
        let d = OwnedDelete::isakmp(sa.cky_i, sa.cky_r);
        self.send_info(sa, est, vec![p(OwnedBody::Delete(d))], rng)?;
        let spis: Vec<u32> = sa.children.iter().map(|(i, _, _)| *i).collect();
        if !spis.is_empty() {
            let d = OwnedDelete::ipsec(ProtocolId::Esp, &spis)?;
            self.send_info(sa, est, vec![p(OwnedBody::Delete(d))], rng)?;
        }
        Ok(())
    }

    /// An Informational: encrypted (after phase 1, with its keys) or plain (before it).
    pub(crate) fn handle_informational(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        _bytes: &[u8],
        m: &Message<'_>,
    ) -> Result<(), SmError> {
        let msgid = m.header.message_id;
        let Body::Payloads(c) = m.body else {
            return sa
                .with_established(|sa, est| self.informational_protected(sa, est, now, m))
                .unwrap_or(Err(SmError::Protocol {
                    exchange: "Informational",
                    what: "encrypted before phase 1 finished",
                }));
        };
        // Before phase 1 is authenticated a peer can only tell us it failed.
        let parsed = Parsed::collect(c.iter())?;
        match sa.phase {
            Phase::Established(_) if !sa.dead => {
                return Err(SmError::Protocol {
                    exchange: "Informational",
                    what: "unprotected notify after phase 1",
                })
            }
            Phase::Established(_) | Phase::Negotiating(_) | Phase::Ended => {}
        }
        for n in &parsed.notifies {
            self.debug(DebugEvent::ProcessingNotify {
                notify: n.notify_type.into(),
                protocol: n.protocol.into(),
                message_id: msgid,
            });
            if n.notify_type.is_error() {
                self.fail(sa, FailReason::PeerNotify(n.notify_type.into()));
            }
        }
        Ok(())
    }

    /// An encrypted, HASH-protected Informational: DPD, notifies, deletes.
    fn informational_protected(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        m: &Message<'_>,
    ) -> Result<(), SmError> {
        let msgid = m.header.message_id;
        let pt = Self::open_encrypted(sa, est, m)?;
        sa.exchanges.remove(&msgid);
        let limits = isakmp_wire::Limits::DEFAULT;
        let c = isakmp_wire::parse_decrypted(m.header.next_payload, &pt, 28, &limits)?;
        let parsed = Parsed::collect(c.iter())?;
        let ack = self.protected_notifies(sa, now, msgid, &parsed);
        self.protected_deletes(sa, &parsed);
        if let Some(seq) = ack {
            self.pending_dpd_ack = Some((sa.id, seq));
        }
        Ok(())
    }

    /// The notifies of a protected Informational; returns the sequence of an R-U-THERE
    /// to acknowledge.
    fn protected_notifies(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        msgid: u32,
        parsed: &Parsed<'_>,
    ) -> Option<u32> {
        let mut ack = None;
        for n in &parsed.notifies {
            let t: u16 = n.notify_type.into();
            match n.notify_type {
                NotifyType::RUThere => {
                    let seq = n.dpd_sequence().unwrap_or(0);
                    self.debug(DebugEvent::Dpd {
                        request: true,
                        sequence: seq,
                    });
                    ack = Some(seq);
                }
                NotifyType::RUThereAck => {
                    let seq = n.dpd_sequence().unwrap_or(0);
                    self.debug(DebugEvent::Dpd {
                        request: false,
                        sequence: seq,
                    });
                    if seq == sa.dpd_seq {
                        sa.dpd_outstanding = 0;
                        sa.timers.dpd =
                            self.config.limits.dpd_idle.and_then(|d| now.checked_add(d));
                    }
                }
                _ => {
                    self.debug(DebugEvent::ProcessingNotify {
                        notify: t,
                        protocol: n.protocol.into(),
                        message_id: msgid,
                    });
                }
            }
        }
        ack
    }

    /// The deletes of a protected Informational: the IKE SA itself, or child SAs by the
    /// peer's inbound SPI (our outbound one).
    fn protected_deletes(&mut self, sa: &mut IkeSa, parsed: &Parsed<'_>) {
        for d in &parsed.deletes {
            self.debug(DebugEvent::ProcessingDelete {
                protocol: d.protocol.into(),
            });
            match d.protocol {
                ProtocolId::Isakmp => {
                    sa.dead = true;
                    sa.end.get_or_insert(crate::event::DeleteReason::PeerDelete);
                }
                ProtocolId::Esp | ProtocolId::Ah => {
                    for spi in d.spis() {
                        let Ok(s) = <[u8; 4]>::try_from(spi) else {
                            continue;
                        };
                        let s = u32::from_be_bytes(s);
                        if let Some(pos) = sa.children.iter().position(|(_, out, _)| *out == s) {
                            let (spi_in, _, _) = sa.children.remove(pos);
                            self.event(Event::ChildDeleted { sa: sa.id, spi_in });
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn dpd_notify(sa: &IkeSa, t: NotifyType, seq: u32) -> OwnedPayload {
        p(OwnedBody::Notification(OwnedNotify {
            doi: Doi::Ipsec,
            protocol: ProtocolId::Isakmp,
            notify_type: t,
            spi: sa.cookies().to_vec(),
            data: seq.to_be_bytes().to_vec(),
        }))
    }

    pub(crate) fn dpd_ack<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        seq: u32,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let n = Self::dpd_notify(sa, NotifyType::RUThereAck, seq);
        self.send_info(sa, est, vec![n], rng)
    }

    pub(crate) fn dpd_send<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) -> Result<(), SmError> {
        if sa.dpd_seq == 0 {
            sa.dpd_seq = random_u32(rng) & 0x7fff_ffff;
        }
        sa.dpd_seq = sa.dpd_seq.wrapping_add(1);
        sa.dpd_outstanding = sa.dpd_outstanding.saturating_add(1);
        sa.timers.dpd = now.checked_add(self.config.limits.dpd_retry_interval);
        let n = Self::dpd_notify(sa, NotifyType::RUThere, sa.dpd_seq);
        self.debug(DebugEvent::Dpd {
            request: true,
            sequence: sa.dpd_seq,
        });
        self.send_info(sa, est, vec![n], rng)
    }

    /// The DPD timer of an established SA.
    pub(crate) fn dpd_timeout<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) {
        if sa.dead || sa.timers.dpd.is_none_or(|d| d > now) {
            return;
        }
        let l = self.config.limits;
        if sa.dpd_outstanding > l.dpd_retries {
            self.fail(sa, FailReason::DeadPeer);
            return;
        }
        let idle_until = l.dpd_idle.and_then(|d| sa.last_activity.checked_add(d));
        if sa.dpd_outstanding == 0 && idle_until.is_some_and(|t| t > now) {
            sa.timers.dpd = idle_until;
            return;
        }
        if let Err(e) = self.dpd_send(sa, est, now, rng) {
            self.follow_up_failed(&e);
        }
    }
}
