//! The driver's commands: start phase 1 or Quick Mode, give an Xauth verdict, delete
//! or close an SA or a child SA, send a DPD probe.

use super::sa::IkeSa;
use super::{phase, Endpoint};
use crate::config::{ClientProfile, QuickModeRequest};
use crate::event::{Event, SaId};
use crate::SmError;
use core::net::SocketAddr;
use rand_core::CryptoRng;
use std::time::Instant;

impl Endpoint {
    /// Starts phase 1 as a client towards `remote`.
    ///
    /// # Errors
    /// [`SmError::Config`] when the profile offers nothing, [`SmError::Limit`] at the SA
    /// bound.
    pub fn initiate<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        profile: ClientProfile,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        if self.sas.len() >= self.config.limits.max_sas {
            return Err(SmError::Limit {
                what: "IKE SAs",
                max: self.config.limits.max_sas,
            });
        }
        let id = self.next_sa_id();
        self.initiator_start(id, now, local, remote, profile, rng)?;
        Ok(id)
    }

    /// [`Endpoint::initiate`] in Aggressive Mode (the profile's mode is overridden).
    ///
    /// # Errors
    /// As [`Endpoint::initiate`].
    pub fn initiate_aggressive<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        mut profile: ClientProfile,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        profile.mode = crate::config::Phase1Mode::Aggressive;
        self.initiate(now, local, remote, profile, rng)
    }

    /// [`Endpoint::initiate`] in Main Mode (the profile's mode is overridden).
    ///
    /// # Errors
    /// As [`Endpoint::initiate`].
    pub fn initiate_main<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        mut profile: ClientProfile,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        profile.mode = crate::config::Phase1Mode::Main;
        self.initiate(now, local, remote, profile, rng)
    }

    /// Starts a Quick Mode on an established SA (client side). Returns its message ID.
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], [`SmError::NotEstablished`], [`SmError::Limit`].
    pub fn initiate_quick_mode<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        request: QuickModeRequest,
        rng: &mut R,
    ) -> Result<u32, SmError> {
        // After a phase-1 rekey the new SA carries the Quick Modes of the old one.
        let sa = self.current_sa(sa);
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        let r = match s.dead {
            false => s.with_established(|s, est| self.quick_initiate(s, est, now, request, rng)),
            true => None,
        };
        let r = r.unwrap_or(Err(SmError::NotEstablished(sa.0)));
        self.put_back(s, now);
        r
    }

    /// The AAA verdict for the credentials of [`Event::XauthCredentials`].
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], or [`SmError::Xauth`] when no verdict is awaited.
    pub fn xauth_verdict<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        accept: bool,
        rng: &mut R,
    ) -> Result<(), SmError> {
        self.xauth_verdict_with_address(now, sa, accept, None, rng)
    }

    /// The AAA verdict, with the address the AAA server assigned (RADIUS
    /// Framed-IP-Address / Framed-IP-Netmask): Mode Config then hands out that address
    /// instead of one from the group's pool (inside a local pool it is taken from the
    /// pool; outside any pool it is leased as an external address).
    ///
    /// # Errors
    /// As [`Endpoint::xauth_verdict`].
    pub fn xauth_verdict_with_address<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        accept: bool,
        address: Option<modecfg::AaaAddress>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        if accept {
            s.aaa_address = address;
        }
        // Only an established SA runs an Xauth dialogue.
        let r = s
            .with_established(|s, est| self.verdict(s, est, now, accept, rng))
            .unwrap_or_else(|| Err(SmError::Xauth("no verdict is awaited".into())));
        self.put_back(s, now);
        self.finish_rekeys(now, rng);
        r
    }

    /// Deletes an IKE SA (and tells the peer with a Delete when phase 1 is up).
    ///
    /// # Errors
    /// [`SmError::UnknownSa`].
    pub fn delete<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        if !s.dead {
            let _ = s.with_established(|s, est| self.send_delete(s, est, rng));
        }
        s.dead = true;
        s.end.get_or_insert(crate::event::DeleteReason::Local);
        self.put_back(s, now);
        Ok(())
    }

    /// Closes an IKE SA: the same as [`Endpoint::delete`].
    ///
    /// # Errors
    /// [`SmError::UnknownSa`].
    pub fn close<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) -> Result<(), SmError> {
        self.delete(now, sa, rng)
    }

    /// Deletes one child SA pair (by our inbound SPI) and tells the peer (IPsec Delete).
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], [`SmError::NotEstablished`], [`SmError::Config`] when the
    /// SA has no such child.
    pub fn delete_child<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        spi_in: u32,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        let delete = |s: &mut IkeSa, est: &phase::Established| {
            let Some(pos) = s.children.iter().position(|(i, _, _)| *i == spi_in) else {
                return Err(SmError::Config("no child SA with that inbound SPI"));
            };
            s.children.remove(pos);
            self.event(Event::ChildDeleted { sa, spi_in });
            let d = isakmp_wire::payload::delete::OwnedDelete::ipsec(
                isakmp_wire::ProtocolId::Esp,
                &[spi_in],
            )?;
            let d = isakmp_wire::OwnedPayload::new(isakmp_wire::OwnedBody::Delete(d));
            self.send_info(s, est, vec![d], rng)
        };
        let r = match s.dead {
            false => s.with_established(delete),
            true => None,
        };
        let r = r.unwrap_or(Err(SmError::NotEstablished(sa.0)));
        self.put_back(s, now);
        r
    }

    /// Sends a DPD R-U-THERE now.
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], [`SmError::NotEstablished`].
    pub fn send_dpd<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        let r = match s.dead {
            false => s.with_established(|s, est| self.dpd_send(s, est, now, rng)),
            true => None,
        };
        let r = r.unwrap_or(Err(SmError::NotEstablished(sa.0)));
        self.put_back(s, now);
        r
    }
}
