//! VPN-session accounting (RADIUS): one Accounting Start when a user's tunnel is up
//! (Xauth accepted and a Mode Config address given: the moment its `show uauth` entry
//! appears), an Interim-Update every `interim` (or the Access-Accept's
//! Acct-Interim-Interval), and one Stop when the session ends, with Acct-Session-Time,
//! the octets and packets of every IPsec SA the session had (rekeyed ones included)
//! and an Acct-Terminate-Cause for how it ended. Accounting-On/Off about the whole
//! gateway ([`Gateway::account_nas`]) tell the server that every session it still
//! holds open for this NAS is over, so that its address leases go back to the pool.
//!
//! This sits beside the PIX's per-connection records (`aaa accounting`), which are
//! unchanged. The records go to the `aaa-server` group [`SessionAccounting::tag`]
//! names, with the NAS-IP-Address and NAS-Identifier of the group's configuration.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ike_sm::{DeleteReason, FailReason, SaId};
use rand_core::CryptoRng;
use xauth::radius::{AcctStatus, TerminateCause};

use super::dataplane::Child;
use super::{Gateway, Level, MsgId};

/// Where session records go and how often ([`super::Settings::session_accounting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionAccounting {
    /// The `aaa-server` tag (a RADIUS group).
    pub tag: String,
    /// Interim-Update interval when the Access-Accept names none (`None`: no interims
    /// unless the server asks for them).
    pub interim: Option<Duration>,
}

/// The shortest Interim-Update interval honoured (RFC 2869 5.16 says at least 60 s
/// for a server's Acct-Interim-Interval; the operator's own setting may be shorter,
/// down to this).
pub const MIN_INTERIM: Duration = Duration::from_secs(1);

/// One session's accounting state.
#[derive(Debug, Clone)]
pub struct SessionAcct {
    /// Acct-Session-Id.
    pub id: String,
    /// When the Start was sent.
    pub started: Instant,
    /// Wall time of the Start (seconds since the epoch).
    pub start_epoch: u64,
    /// The address the records name (Framed-IP-Address).
    pub framed: Ipv4Addr,
    /// The next Interim-Update.
    pub next_interim: Option<Instant>,
    /// The interval.
    pub interim: Option<Duration>,
    /// Octets and packets of the session's IPsec SAs that are gone (in, out).
    pub closed: Tally,
    /// The last Interim-Update while the server has not answered it: a newer record
    /// (the next Interim-Update, the Stop) withdraws it, so that a late resend cannot
    /// reach the server after the Stop and make its address lease live again.
    pub pending_interim: Option<xauth::aaa::RequestId>,
}

/// What the client sent (in) and received (out), in octets and packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Octets from the client.
    pub bytes_in: u64,
    /// Octets to the client.
    pub bytes_out: u64,
    /// Packets from the client.
    pub packets_in: u64,
    /// Packets to the client.
    pub packets_out: u64,
}

impl Tally {
    /// Adds one IPsec SA pair's counters.
    pub fn add_child(&mut self, c: &Child) {
        self.bytes_in = self.bytes_in.saturating_add(c.counters.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(c.counters.bytes_out);
        self.packets_in = self.packets_in.saturating_add(c.counters.decaps);
        self.packets_out = self.packets_out.saturating_add(c.counters.encaps);
    }

    fn plus(mut self, o: Tally) -> Tally {
        self.bytes_in = self.bytes_in.saturating_add(o.bytes_in);
        self.bytes_out = self.bytes_out.saturating_add(o.bytes_out);
        self.packets_in = self.packets_in.saturating_add(o.packets_in);
        self.packets_out = self.packets_out.saturating_add(o.packets_out);
        self
    }
}

impl super::Session {
    /// A phase-1 rekey's other SA carries this one's session on: its accounting (the
    /// Start already sent), Class and interim interval, unless it has its own.
    pub(super) fn carry_accounting(
        &mut self,
        acct: Option<SessionAcct>,
        class: Option<Vec<u8>>,
        interim: Option<Duration>,
    ) {
        if self.acct.is_none() && acct.is_some() {
            self.acct = acct;
            self.class = class;
            self.interim_from_server = interim;
        }
    }
}

/// The Acct-Terminate-Cause of an IKE SA the peer or the endpoint ended.
#[must_use]
pub fn cause_of_delete(r: DeleteReason) -> TerminateCause {
    match r {
        DeleteReason::PeerDelete => TerminateCause::UserRequest,
        DeleteReason::Expired => TerminateCause::SessionTimeout,
        DeleteReason::InitialContact => TerminateCause::LostCarrier,
        DeleteReason::Failed => TerminateCause::LostService,
        // Ours (the driver's delete without a cause of its own), a replaced or evicted
        // SA (no session ends with those: the heir carries it on, or it never began).
        _ => TerminateCause::NasRequest,
    }
}

/// The Acct-Terminate-Cause of a failed IKE SA.
#[must_use]
pub fn cause_of_failure(r: &FailReason) -> TerminateCause {
    match r {
        FailReason::DeadPeer | FailReason::Timeout => TerminateCause::LostCarrier,
        _ => TerminateCause::LostService,
    }
}

impl Gateway {
    /// Sends Accounting-On or Accounting-Off for this gateway to the session-accounting
    /// group (the driver calls it once per gateway: at start and when a standby becomes
    /// active, and at a clean stop). `Err` when there is no such group or it refuses.
    ///
    /// # Errors
    /// No `session_accounting` group, or the group refused the record (not RADIUS).
    pub fn account_nas<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        status: AcctStatus,
        rng: &mut R,
    ) -> Result<(), String> {
        let Some(cfg) = self.session_accounting.clone() else {
            return Err("no session accounting group (--session-accounting TAG)".into());
        };
        let Some(a) = self.aaa.get_mut(&cfg.tag) else {
            return Err(format!("session accounting: no aaa-server {}", cfg.tag));
        };
        let id = format!(
            "{:08X}{:08X}FF000000",
            self.epoch_at_start & 0xffff_ffff,
            rng.next_u32()
        );
        let info = xauth::aaa::AcctInfo::nas(status, id.into_bytes(), self.info.outside_addr);
        let request = a
            .client
            .account(now, rng, info)
            .map_err(|e| format!("session accounting: aaa-server {} refused: {e}", cfg.tag))?;
        if status == AcctStatus::AccountingOn {
            // Logins wait for its answer (`accounting_on_done`).
            self.nas_on = Some(request);
            self.logins_held = true;
        }
        self.log(
            Level::Notice,
            MsgId::Accounting,
            format!(
                "accounting {} for NAS {} sent to aaa-server {}",
                status.name(),
                self.info.outside_addr,
                cfg.tag
            ),
        );
        self.process(now, rng);
        Ok(())
    }

    /// Holds every new login's Xauth until [`Gateway::release_logins`]: what the other
    /// cores of a gateway do while the core that sent the Accounting-On
    /// ([`Gateway::account_nas`], which holds its own logins) waits for its answer.
    pub fn hold_logins(&mut self) {
        self.logins_held = true;
    }

    /// Whether the Accounting-On this core sent is still unanswered (a driver of several
    /// cores releases the others' logins once it is not).
    #[must_use]
    pub fn accounting_on_pending(&self) -> bool {
        self.nas_on.is_some()
    }

    /// The Xauth requests held meanwhile go to the AAA server now.
    pub fn release_logins<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        self.release_held(now, rng);
        self.process(now, rng);
    }

    /// Ends the hold: the Xauth credentials held meanwhile go to the AAA server.
    fn release_held<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        self.logins_held = false;
        let held = std::mem::take(&mut self.held_for_on);
        for (sa, user, password) in held {
            if self.sessions.contains_key(&sa) {
                self.on_xauth_credentials(now, sa, user, &password, rng);
            }
        }
    }

    /// The Accounting-On was answered (`ok`) or no server took it: this core's held
    /// logins go on.
    pub(super) fn accounting_on_done<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        ok: bool,
        rng: &mut R,
    ) {
        self.nas_on = None;
        self.log(
            if ok { Level::Info } else { Level::Warning },
            MsgId::Accounting,
            format!(
                "accounting Accounting-On {}: {} held login(s) go on",
                if ok {
                    "acknowledged"
                } else {
                    "unanswered (the server may keep this NAS's old sessions open)"
                },
                self.held_for_on.len()
            ),
        );
        self.release_held(now, rng);
    }

    /// The session of `sa` is in the policy (user and address known): its Start.
    pub(super) fn acct_start<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) {
        let Some(cfg) = self.session_accounting.clone() else {
            return;
        };
        let serial = self.acct_serial;
        self.acct_serial = self.acct_serial.wrapping_add(1);
        let epoch = self.wall(now);
        // The start second, then 32 random bits: a gateway restarted within the same
        // second numbers its sessions from 0 again, and an Acct-Session-Id seen before
        // (with the same user and NAS) would name the old, stopped radacct row.
        let id = format!(
            "{:08X}{:08X}{:02X}{:06X}",
            self.epoch_at_start & 0xffff_ffff,
            rng.next_u32(),
            self.shard,
            serial & 0x00ff_ffff
        );
        let Some(s) = self.sessions.get_mut(&sa) else {
            return;
        };
        let (Some(_), Some(addr)) = (&s.user, s.addr) else {
            return;
        };
        if s.acct.is_some() {
            return;
        }
        let interim = s
            .interim_from_server
            .or(cfg.interim)
            .map(|d| d.max(MIN_INTERIM));
        s.acct = Some(SessionAcct {
            id,
            started: now,
            start_epoch: epoch,
            framed: addr,
            next_interim: interim.and_then(|d| now.checked_add(d)),
            interim,
            closed: Tally::default(),
            pending_interim: None,
        });
        let next = s.acct.as_ref().and_then(|a| a.next_interim);
        self.send_session_record(now, sa, AcctStatus::Start, None, rng);
        if let Some(n) = next {
            super::lower_bound(&mut self.timers_bound, n);
        }
    }

    /// Interim-Updates that are due.
    pub(super) fn acct_interims<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        let due: Vec<SaId> = self
            .sessions
            .values()
            .filter(|s| {
                s.acct
                    .as_ref()
                    .and_then(|a| a.next_interim)
                    .is_some_and(|t| t <= now)
            })
            .map(|s| s.sa)
            .collect();
        for sa in due {
            let mut superseded = None;
            if let Some(a) = self.sessions.get_mut(&sa).and_then(|s| s.acct.as_mut()) {
                a.next_interim = a.interim.and_then(|d| now.checked_add(d));
                superseded = a.pending_interim.take();
            }
            self.withdraw(superseded);
            let sent = self.send_session_record(now, sa, AcctStatus::InterimUpdate, None, rng);
            if let Some(a) = self.sessions.get_mut(&sa).and_then(|s| s.acct.as_mut()) {
                a.pending_interim = sent;
            }
        }
    }

    /// The next Interim-Update of a session.
    pub(super) fn interim_deadline(s: &super::Session) -> Option<Instant> {
        s.acct.as_ref().and_then(|a| a.next_interim)
    }

    /// A session ends: its Stop (the IPsec SAs in `gone` are its last ones).
    pub(super) fn acct_stop<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        session: &super::Session,
        gone: &[Child],
        cause: TerminateCause,
        rng: &mut R,
    ) {
        let Some(acct) = &session.acct else {
            return;
        };
        self.withdraw(acct.pending_interim);
        let mut last = Tally::default();
        for c in gone {
            last.add_child(c);
        }
        if let Some(r) = self.record_of(now, session, AcctStatus::Stop, Some(cause), last) {
            self.send_record(now, r, rng);
        }
    }

    /// An IPsec SA pair of a session went (rekeyed, expired, deleted by the peer): its
    /// counters stay with the session.
    pub(super) fn acct_child_gone(&mut self, c: &Child) {
        if let Some(a) = self
            .sessions
            .get_mut(&c.ike_sa)
            .and_then(|s| s.acct.as_mut())
        {
            a.closed.add_child(c);
        }
    }

    /// Withdraws an Interim-Update the server has not answered (it may have been
    /// answered meanwhile: then there is nothing to withdraw).
    fn withdraw(&mut self, request: Option<xauth::aaa::RequestId>) {
        let (Some(r), Some(cfg)) = (request, &self.session_accounting) else {
            return;
        };
        if let Some(a) = self.aaa.get_mut(&cfg.tag) {
            let _ = a.client.cancel(r);
        }
    }

    fn send_session_record<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        status: AcctStatus,
        cause: Option<TerminateCause>,
        rng: &mut R,
    ) -> Option<xauth::aaa::RequestId> {
        let s = self.sessions.get(&sa)?;
        let r = self.record_of(now, s, status, cause, Tally::default())?;
        self.send_record(now, r, rng)
    }

    /// A session's record: the group's tag, the record and its log line. Its counters
    /// are the session's gone IPsec SAs', its live ones' and `last`'s (the pairs that
    /// went with it).
    fn record_of(
        &self,
        now: Instant,
        s: &super::Session,
        status: AcctStatus,
        cause: Option<TerminateCause>,
        last: Tally,
    ) -> Option<(String, xauth::aaa::AcctInfo, String)> {
        let (Some(cfg), Some(acct), Some(user)) = (&self.session_accounting, &s.acct, &s.user)
        else {
            return None;
        };
        let t = acct
            .closed
            .plus(self.data.tally_of(s.sa, acct.framed))
            .plus(last);
        let counted = status != AcctStatus::Start;
        let elapsed = now.saturating_duration_since(acct.started).as_secs();
        let info = xauth::aaa::AcctInfo {
            status,
            user: user.clone().into_bytes(),
            group: Some(s.identity.clone().into_bytes()),
            client_addr: s.remote.ip(),
            framed_ip: Some(acct.framed),
            service: b"ipsec".to_vec(),
            task_id: 0,
            start_time: acct.start_epoch,
            elapsed_time: counted.then(|| u32::try_from(elapsed).unwrap_or(u32::MAX)),
            bytes_in: counted.then_some(t.bytes_in),
            bytes_out: counted.then_some(t.bytes_out),
            packets_in: counted.then(|| u32::try_from(t.packets_in).unwrap_or(u32::MAX)),
            packets_out: counted.then(|| u32::try_from(t.packets_out).unwrap_or(u32::MAX)),
            class: s.class.clone(),
            terminate_cause: cause,
            session_id: Some(acct.id.clone().into_bytes()),
        };
        let line = format!(
            "accounting {}: session {} user '{}' at {} from {}{}",
            status.name(),
            acct.id,
            super::printable(user),
            acct.framed,
            s.remote.ip(),
            if counted {
                format!(
                    ", {} bytes in, {} bytes out, {} packets in, {} packets out, {elapsed} s{}",
                    t.bytes_in,
                    t.bytes_out,
                    t.packets_in,
                    t.packets_out,
                    cause.map(|c| format!(", {}", c.name())).unwrap_or_default()
                )
            } else {
                String::new()
            }
        );
        Some((cfg.tag.clone(), info, line))
    }

    /// Logs and sends a record from [`Gateway::record_of`]; its request when the group
    /// took it.
    fn send_record<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        (tag, info, line): (String, xauth::aaa::AcctInfo, String),
        rng: &mut R,
    ) -> Option<xauth::aaa::RequestId> {
        self.log(Level::Info, MsgId::Accounting, line);
        let sent = match self.aaa.get_mut(&tag) {
            Some(a) => a.client.account(now, rng, info).map_err(|e| e.to_string()),
            None => Err(format!("no aaa-server {tag}")),
        };
        match sent {
            Ok(id) => {
                super::bump(&mut self.metrics.accounting, "session_records_sent", 1);
                Some(id)
            }
            Err(e) => {
                self.log(
                    Level::Warning,
                    MsgId::AaaProblem,
                    format!("session accounting: aaa-server {tag} refused a record: {e}"),
                );
                None
            }
        }
    }

    /// Seconds since the epoch at `now`.
    fn wall(&self, now: Instant) -> u64 {
        self.epoch_at_start
            .saturating_add(now.saturating_duration_since(self.info.started).as_secs())
    }
}
