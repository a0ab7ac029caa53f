//! After phase 1, in PIX order: Xauth (from the `xauth` crate), then Mode Config pull or
//! push (from `modecfg`), each message inside an encrypted Transaction exchange
//! (exchange 6): IV = hash(last phase-1 block | M-ID), HASH = prf(SKEYID_a, M-ID | payloads).

use super::dialogue::CfgServer;
use super::msg;
use super::msg::Parsed;
use super::phase::Established;
use super::sa::{IkeSa, Role};
use super::{random_u32, Endpoint};
use crate::config::ClientModeCfg;
use crate::crypto::cipher::IkeCipher;
use crate::crypto::iv::{Iv, IvChain};
use crate::crypto::phase2::hashes_equal;
use crate::event::{DebugEvent, Event, FailReason, SaId};
use crate::SmError;
use core::net::Ipv4Addr;
use core::ops::ControlFlow;
use isakmp_wire::cfg::{CfgType, ConfigPayload};
use isakmp_wire::{Body, ExchangeType, Message};
use modecfg::{AaaAddress, Lease, LeaseStore, ModeCfgError};
use pix_primitives::Secret;
use rand_core::CryptoRng;
use std::time::{Duration, Instant};

/// Transaction exchanges remembered per SA (older ones are forgotten).
const MAX_EXCHANGES: usize = 16;
/// Quick Modes held until Xauth and Mode Config finish.
const MAX_HELD: usize = 4;

/// The lease store a gateway's Mode Config server step sees: the endpoint's, except that
/// the first address asked for is `lent`, the address the client already holds under an
/// older SA ([`Endpoint::lend_lease`]), instead of a second lease; given back into `lent`
/// when the server gives it back.
#[derive(Debug)]
struct Lending<'a> {
    store: &'a mut dyn LeaseStore,
    lent: Option<Lease>,
    addr: Option<Ipv4Addr>,
}

impl Lending<'_> {
    fn take(&mut self) -> Option<Result<Lease, ModeCfgError>> {
        self.lent.take().map(Ok)
    }
}

impl LeaseStore for Lending<'_> {
    fn allocate(&mut self, pools: &[String], user: &str) -> Result<Lease, ModeCfgError> {
        self.take()
            .unwrap_or_else(|| self.store.allocate(pools, user))
    }

    fn assign_aaa(&mut self, aaa: AaaAddress, user: &str) -> Result<Lease, ModeCfgError> {
        // Lent only when it is the AAA-assigned address.
        self.take()
            .unwrap_or_else(|| self.store.assign_aaa(aaa, user))
    }

    fn acquire(
        &mut self,
        user: &str,
        aaa: Option<AaaAddress>,
        pools: &[String],
    ) -> Result<Lease, ModeCfgError> {
        self.take()
            .unwrap_or_else(|| self.store.acquire(user, aaa, pools))
    }

    fn release(&mut self, lease: Lease) -> Result<(), ModeCfgError> {
        if self.lent.is_none() && self.addr == Some(lease.addr()) {
            self.lent = Some(lease);
            return Ok(());
        }
        self.store.release(lease)
    }

    fn overlaps(&self, first: Ipv4Addr, last: Ipv4Addr) -> Option<Ipv4Addr> {
        self.store.overlaps(first, last)
    }

    fn is_in_use(&self, addr: Ipv4Addr) -> bool {
        self.store.is_in_use(addr)
    }

    fn total_in_use(&self) -> usize {
        self.store.total_in_use()
    }

    fn with_pools(&self, f: &mut dyn FnMut(&modecfg::Pools)) {
        self.store.with_pools(f);
    }
}

/// Which Mode Config server a step runs (where a lent lease is to be found after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Pull,
    Push,
}

/// Which machine hands [`Endpoint::send_cfg`] a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sender {
    /// An Xauth machine (it never resends: ike-sm times the exchanges it starts).
    Xauth,
    /// A Mode Config machine; `again`: the same payload once more
    /// ([`modecfg::Transmit::retransmission`]).
    ModeCfg { again: bool },
}

fn is_xauth(cfg: &ConfigPayload<'_>) -> bool {
    cfg.attributes()
        .flatten()
        .any(|a| (16520..=16531).contains(&a.kind))
}

impl Endpoint {
    /// The SA's cipher and the IV chain of exchange `msgid` (made from the phase-2 IV
    /// base when the exchange is new; the oldest exchanges are forgotten past
    /// `MAX_EXCHANGES`).
    pub(crate) fn cipher_and_chain<'a>(
        sa: &'a mut IkeSa,
        e: &'a Established,
        msgid: u32,
    ) -> Result<(&'a IkeCipher, &'a mut IvChain), SmError> {
        if !sa.exchanges.contains_key(&msgid) {
            let block = e.cipher.alg().block_size();
            let iv = Iv::for_message_id(e.keys.hash_alg(), &e.p2_base, msgid, block)?;
            while sa.exchanges.len() >= MAX_EXCHANGES {
                sa.exchanges.pop_first();
            }
            sa.exchanges.insert(msgid, Box::new(IvChain::new(iv)));
        }
        // Present (inserted just above when new): `or_insert_with` never runs.
        let chain = sa
            .exchanges
            .entry(msgid)
            .or_insert_with(|| Box::new(IvChain::new(e.p2_base)));
        Ok((&e.cipher, chain))
    }

    /// Encrypts and sends one attribute payload on its exchange. The payload and its
    /// plaintext encoding are wiped when dropped: an Xauth REPLY carries the password.
    ///
    /// A REQUEST or SET starts a new exchange, unless its Mode Config machine says it
    /// sends it again ([`Sender::ModeCfg`]): then the datagram of the exchange that
    /// machine started goes again, never a new encryption. One timer runs per exchange:
    /// the Mode Config machine's for the exchanges it starts, ike-sm's
    /// ([`Endpoint::send_awaiting`]) for the Xauth server's, which resends nothing itself.
    fn send_cfg<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        payload: impl Into<xauth::ZeroizingPayload>,
        from: Sender,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let payload = payload.into();
        let cfg_type = payload.cfg_type();
        let starts = matches!(cfg_type, CfgType::Request | CfgType::Set);
        if starts && from == (Sender::ModeCfg { again: true }) {
            // Nothing kept (answered, or settled): the peer has what it needs.
            if let Some(d) = sa.cfg_started.and_then(|m| sa.last_tx_sent.get(&m)) {
                let d = d.clone();
                self.send(sa, d);
            }
            return Ok(());
        }
        let attr_bytes = payload
            .to_payload_bytes()
            .map_err(|e| SmError::Xauth(e.to_string()))?;
        drop(payload);
        let attr_kind = isakmp_wire::PayloadType::Attributes;
        let msgid = if starts {
            let mut m = random_u32(rng);
            while m == 0 || sa.exchanges.contains_key(&m) {
                m = random_u32(rng);
            }
            if sa.role == Role::Responder {
                self.debug(DebugEvent::InitiatingPeerConfig {
                    peer: sa.remote,
                    message_id: m,
                });
            }
            m
        } else {
            if sa.role == Role::Responder && cfg_type == CfgType::Reply {
                self.debug(DebugEvent::RespondingPeerConfig {
                    peer: sa.remote,
                    message_id: sa.last_in_tx_msgid,
                });
            }
            sa.last_in_tx_msgid
        };
        let hash = est.keys.informational_hash_out(msgid, &attr_bytes);
        let b = Self::encrypt_on_hashed(
            sa,
            est,
            ExchangeType::Transaction,
            msgid,
            &hash,
            attr_kind,
            &attr_bytes,
        )?;
        drop(attr_bytes);
        if starts {
            match from {
                Sender::ModeCfg { .. } => {
                    // Its machine's timer resends it (above) until the peer answers.
                    while sa.last_tx_sent.len() >= MAX_EXCHANGES {
                        sa.last_tx_sent.pop_first();
                    }
                    sa.last_tx_sent.insert(msgid, b.clone());
                    sa.cfg_started = Some(msgid);
                    self.send(sa, b);
                }
                // Resent on the PIX schedule until the peer answers on this message ID.
                Sender::Xauth => self.send_awaiting(sa, now, msgid, None, b),
            }
            return Ok(());
        }
        if let Some(d) = sa.cur_in.clone() {
            self.store_reply(sa, d, b.clone());
        }
        self.send(sa, b);
        Ok(())
    }

    /// Decrypts a message on its exchange, without accepting its IV yet: the caller
    /// accepts once the HASH verified (a forged message does not move the chain).
    pub(crate) fn decrypt_exchange(
        sa: &mut IkeSa,
        est: &Established,
        m: &Message<'_>,
    ) -> Result<
        (
            zeroize::Zeroizing<Vec<u8>>,
            crate::crypto::cipher::Decrypted,
        ),
        SmError,
    > {
        let Body::Encrypted(ct) = m.body else {
            return Err(SmError::Protocol {
                exchange: "after phase 1",
                what: "message not encrypted",
            });
        };
        let (cipher, chain) = Self::cipher_and_chain(sa, est, m.header.message_id)?;
        msg::decrypt(cipher, chain, ct)
    }

    /// Decrypts and verifies an encrypted Transaction or Informational message (HASH =
    /// prf(SKEYID_a, M-ID | payloads)); returns the plaintext (the caller parses it again
    /// to borrow from it).
    pub(crate) fn open_encrypted(
        sa: &mut IkeSa,
        est: &Established,
        m: &Message<'_>,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, SmError> {
        let msgid = m.header.message_id;
        let (pt, d) = Self::decrypt_exchange(sa, est, m)?;
        let limits = isakmp_wire::Limits::DEFAULT;
        let c = isakmp_wire::parse_decrypted(m.header.next_payload, &pt, 28, &limits)?;
        let rest = msg::after_first(&c)?;
        let parsed = Parsed::collect(c.iter())?;
        let got = parsed.hash.ok_or(SmError::Protocol {
            exchange: "after phase 1",
            what: "no HASH payload",
        })?;
        let want = est.keys.informational_hash_out(msgid, rest);
        if !hashes_equal(&want, got) {
            return Err(SmError::HashMismatch {
                what: "Transaction/Informational HASH",
            });
        }
        drop(parsed);
        if let Some(chain) = sa.exchanges.get_mut(&msgid) {
            d.accept(chain);
        }
        Ok(pt)
    }

    pub(crate) fn handle_transaction<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        _bytes: &[u8],
        m: &Message<'_>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let pt = Self::open_encrypted(sa, est, m)?;
        sa.answered(m.header.message_id);
        let limits = isakmp_wire::Limits::DEFAULT;
        let c = isakmp_wire::parse_decrypted(m.header.next_payload, &pt, 28, &limits)?;
        let parsed = Parsed::collect(c.iter())?;
        let cfg = parsed.attrs.ok_or(SmError::Protocol {
            exchange: "Transaction",
            what: "no attribute payload",
        })?;
        sa.last_in_tx_msgid = m.header.message_id;
        self.debug(DebugEvent::ProcessingTransaction {
            peer: sa.remote,
            message_id: m.header.message_id,
            cfg_type: cfg.cfg_type.name(),
        });
        let flow = match sa.role {
            Role::Responder => {
                self.transaction_server(sa, est, now, &cfg, m.header.message_id, rng)?
            }
            Role::Initiator => {
                Self::transaction_client(sa, now, &cfg)?;
                ControlFlow::Continue(())
            }
        };
        if flow.is_break() {
            return Ok(());
        }
        self.drain_machines(sa, est, now, rng)
    }

    /// A gateway's Transaction message: to the Xauth server while it runs, then a Unity
    /// client's CFG_REQUEST or an older client's CFG_ACK to Mode Config. `Break`: the SA
    /// failed.
    fn transaction_server<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        cfg: &ConfigPayload<'_>,
        msgid: u32,
        rng: &mut R,
    ) -> Result<ControlFlow<()>, SmError> {
        if let Some(x) = sa.dialogue.xauth_server().filter(|x| !x.is_finished()) {
            if matches!(cfg.cfg_type, CfgType::Reply | CfgType::Ack) {
                x.handle(now, cfg)
                    .map_err(|e| SmError::Xauth(e.to_string()))?;
            }
        } else if cfg.cfg_type == CfgType::Request {
            let gw = self
                .config
                .gateway
                .as_ref()
                .ok_or(SmError::Config("gateway"))?;
            // A client without the Unity VID that asks anyway (strongSwan's
            // charon-cmd): our CFG_SET crossed its CFG_REQUEST. With `client
            // configuration address respond` the request wins: the unanswered
            // SET and its lease go (the client ignores the SET while its own
            // request is open), and the pull is served, from the same pool.
            let mut dropped = None;
            if gw.mode_config.respond && sa.dialogue.push_server().is_some_and(|s| !s.is_done()) {
                let pull = modecfg::PullServer::new(self.shared_modecfg(gw), now);
                let push = sa
                    .dialogue
                    .start_cfg_server(CfgServer::Pull(Box::new(pull)));
                if let Some(CfgServer::Push(mut s)) = push {
                    if let Some(lease) = s.take_lease() {
                        let _ = self.pools.release(lease);
                    }
                }
                // The SET's own lease (the SA holds it from the SET on) goes too;
                // an address the client already holds under an older SA is lent
                // again for the pull.
                sa.borrowed = None;
                dropped = sa.lease.take();
                // Its SET goes unanswered: nothing resends it (its timer went with it).
                if let Some(mid) = sa.cfg_started.take().filter(|m| *m != msgid) {
                    sa.last_tx_sent.remove(&mid);
                }
            }
            if let Some(lease) = dropped {
                self.release_lease(sa, lease);
            }
            if sa.dialogue.pull_server().is_some() {
                let r = self.assign_step(sa, Server::Pull, |sa, cx, _| {
                    sa.dialogue
                        .pull_server()
                        .map_or(Ok(()), |srv| srv.handle_payload(now, cfg, cx))
                })?;
                if let Err(e) = r {
                    if !sa.dialogue.pull_server().is_some_and(|s| s.is_failed()) {
                        return Err(e.into());
                    }
                    // No address left: refuse the client now, as for a push,
                    // instead of dropping its request until it gives up.
                    let _ = self.send_delete(sa, est, rng);
                    self.fail(sa, FailReason::AddressUnavailable);
                    return Ok(ControlFlow::Break(()));
                }
            }
        } else if cfg.cfg_type == CfgType::Ack {
            if let Some(srv) = sa.dialogue.push_server() {
                srv.handle_payload(now, cfg)?;
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// A client's Transaction message: the gateway's Xauth request, CFG_SET (push) or
    /// CFG_REPLY (pull).
    fn transaction_client(
        sa: &mut IkeSa,
        now: Instant,
        cfg: &ConfigPayload<'_>,
    ) -> Result<(), SmError> {
        if is_xauth(cfg) {
            let start = || xauth::XauthClient::new(Duration::from_secs(30));
            if let Some(x) = sa.dialogue.xauth_client_or(start) {
                x.handle(now, cfg)
                    .map_err(|e| SmError::Xauth(e.to_string()))?;
            }
        } else if cfg.cfg_type == CfgType::Set {
            let start = || modecfg::PushClient::new(now, None);
            if let Some(c) = sa.dialogue.push_client_or(start) {
                c.handle_payload(now, cfg)?;
            }
        } else if cfg.cfg_type == CfgType::Reply {
            if let Some(c) = sa.dialogue.pull_client() {
                c.handle_payload(now, cfg)?;
            }
        }
        Ok(())
    }

    /// Moves whatever the Xauth and Mode Config machines produced onto the wire and into
    /// events, and starts the next step when one finishes.
    pub(crate) fn drain_machines<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) -> Result<(), SmError> {
        if self.drain_xauth_server(sa, est, now, rng)?.is_break() {
            return Ok(());
        }
        self.drain_xauth_client(sa, est, now, rng)?;
        self.drain_modecfg(sa, est, now, rng)
    }

    /// The gateway's Xauth server: its messages out, the credentials to the driver; when
    /// it finishes, Mode Config starts, or the SA fails (`Break`).
    fn drain_xauth_server<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) -> Result<ControlFlow<()>, SmError> {
        let mut out = Vec::new();
        let mut evs = Vec::new();
        if let Some(x) = sa.dialogue.xauth_server() {
            while let Some(t) = x.poll_transmit() {
                out.push(t);
            }
            while let Some(e) = x.poll_event() {
                evs.push(e);
            }
        }
        for t in out {
            self.send_cfg(sa, est, now, t, Sender::Xauth, rng)?;
        }
        for e in evs {
            match e {
                xauth::ServerEvent::Credentials(c) => {
                    sa.pending_verdict = Some(c.id);
                    let user = String::from_utf8_lossy(&c.user_name).into_owned();
                    sa.user = Some(user.clone());
                    let password = c.password.as_ref().map_or_else(
                        || Secret::new(Vec::new()),
                        |p| Secret::from_slice(p.expose_secret()),
                    );
                    self.event(Event::XauthCredentials {
                        sa: sa.id,
                        user,
                        password,
                    });
                }
                xauth::ServerEvent::Finished(xauth::Outcome::Authenticated { user_name }) => {
                    let user = String::from_utf8_lossy(&user_name).into_owned();
                    sa.user = Some(user.clone());
                    sa.xauth_done = true;
                    self.event(Event::XauthDone {
                        sa: sa.id,
                        user: Some(user),
                    });
                    // Before Mode Config: the old SA's address is free again for this one.
                    self.honour_initial_contact(sa);
                    self.start_modecfg_server(sa, est, now, rng)?;
                }
                xauth::ServerEvent::Finished(xauth::Outcome::Failed { .. }) => {
                    if core::mem::take(&mut sa.initial_contact) {
                        self.refuse(crate::counters::Refusal::InitialContactIgnored);
                        self.debug(DebugEvent::Dropped(
                            "INITIAL-CONTACT ignored: Xauth did not succeed",
                        ));
                    }
                    self.event(Event::XauthDone {
                        sa: sa.id,
                        user: None,
                    });
                    let _ = self.send_delete(sa, est, rng);
                    self.fail(sa, FailReason::XauthFailed);
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The client's Xauth machine: prompts answered from the profile, its messages out.
    fn drain_xauth_client<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut evs = Vec::new();
        if let Some(x) = sa.dialogue.xauth_client() {
            while let Some(e) = x.poll_event() {
                evs.push(e);
            }
        }
        for e in evs {
            match e {
                xauth::ClientEvent::Prompt(pr) => {
                    let answer =
                        sa.profile
                            .as_ref()
                            .and_then(|p| p.xauth.as_ref())
                            .map(|(u, pw)| xauth::Answer {
                                user_name: Some(u.clone().into_bytes()),
                                password: Some(xauth::Secret::new(pw.expose_secret().to_vec())),
                                ..xauth::Answer::default()
                            });
                    if let (Some(x), Some(a)) = (sa.dialogue.xauth_client(), answer) {
                        x.answer(now, pr.identifier, a)
                            .map_err(|e| SmError::Xauth(e.to_string()))?;
                    }
                }
                xauth::ClientEvent::Finished { ok } => {
                    sa.xauth_done = ok;
                    self.event(Event::XauthDone {
                        sa: sa.id,
                        user: if ok {
                            sa.profile
                                .as_ref()
                                .and_then(|p| p.xauth.as_ref())
                                .map(|(u, _)| u.clone())
                        } else {
                            None
                        },
                    });
                    if ok {
                        self.start_modecfg_client(sa, now)?;
                    } else {
                        self.fail(sa, FailReason::XauthFailed);
                    }
                }
                _ => {
                    self.fail(sa, FailReason::Timeout);
                }
            }
        }
        // Its REPLY carries the password: kept in wiping buffers all the way.
        let mut out = Vec::new();
        if let Some(x) = sa.dialogue.xauth_client() {
            while let Some(t) = x.poll_transmit_zeroizing() {
                out.push(t);
            }
        }
        for t in out {
            self.send_cfg(sa, est, now, t, Sender::Xauth, rng)?;
        }
        Ok(())
    }

    fn drain_modecfg<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) -> Result<(), SmError> {
        // The PIX's Mode Config debug lines are formatted only when someone reads them.
        let polled = sa.dialogue.poll_modecfg(self.debugging());
        for l in polled.lines {
            self.debug(DebugEvent::ModeCfg(l));
        }
        for t in polled.out {
            let from = Sender::ModeCfg {
                again: t.retransmission,
            };
            self.send_cfg(sa, est, now, t.payload, from, rng)?;
        }
        if polled.failed {
            if sa.role == Role::Responder {
                let _ = self.send_delete(sa, est, rng);
            }
            self.fail(sa, FailReason::AddressUnavailable);
            return Ok(());
        }
        if !sa.cfg_done {
            if let Some(a) = Self::modecfg_address(sa) {
                sa.cfg_done = true;
                sa.assigned = Some(a);
                self.event(Event::AddressAssigned { sa: sa.id, addr: a });
            }
        }
        if sa.xauth_done && sa.cfg_done && !sa.held.is_empty() {
            for b in core::mem::take(&mut sa.held) {
                if let Ok(m) = Message::parse(&b) {
                    if let Err(e) = self.handle_quick(sa, est, now, &b, &m, rng) {
                        self.follow_up_failed(&e);
                    }
                }
            }
        }
        Ok(())
    }

    /// The Mode Config address once the dialogue is done: the gateway's lease (taken
    /// from the server: the SA holds it from now on), or what the client received.
    fn modecfg_address(sa: &mut IkeSa) -> Option<Ipv4Addr> {
        let server = if let Some(s) = sa.dialogue.pull_server().filter(|s| s.is_done()) {
            Some(s.take_lease())
        } else {
            sa.dialogue
                .push_server()
                .filter(|s| s.is_done())
                .map(|s| s.take_lease())
        };
        if let Some(taken) = server {
            if let Some(l) = taken {
                if let Some(before) = sa.lease.replace(l) {
                    sa.extra_leases.push(before);
                }
            }
            // Its own lease, or the one an older SA of the client holds for it.
            sa.lease.as_ref().map(modecfg::Lease::addr).or(sa.borrowed)
        } else if let Some(c) = sa.dialogue.pull_client() {
            c.config().and_then(|c| c.address)
        } else if let Some(c) = sa.dialogue.push_client() {
            c.config().and_then(|c| c.address)
        } else {
            None
        }
    }

    /// Holds a Quick Mode until Xauth and Mode Config are done ("Need XAUTH").
    pub(crate) fn hold_quick(&mut self, sa: &mut IkeSa, bytes: &[u8]) {
        self.debug(DebugEvent::NeedXauth);
        if sa.held.len() < MAX_HELD && !sa.held.iter().any(|h| h == bytes) {
            sa.held.push(bytes.to_vec());
        }
    }

    /// Phase 1 is up: Xauth first (when the crypto map asks for it), else Mode Config.
    pub(crate) fn after_phase1<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) {
        let r = match sa.role {
            Role::Responder => {
                let xauth = self.config.gateway.as_ref().and_then(|gw| {
                    (gw.client_authentication && !sa.no_xauth).then(|| self.shared_xauth(gw))
                });
                match xauth {
                    Some(cfg) => {
                        self.debug(DebugEvent::XauthRequest);
                        sa.dialogue
                            .start_xauth_server(xauth::XauthServer::start(cfg, now, rng));
                        self.drain_machines(sa, est, now, rng)
                    }
                    None => {
                        sa.xauth_done = true;
                        self.honour_initial_contact(sa);
                        self.start_modecfg_server(sa, est, now, rng)
                    }
                }
            }
            Role::Initiator => {
                // The gateway authenticated with phase 1: nothing more to wait for.
                self.honour_initial_contact(sa);
                let wants_xauth = sa.profile.as_ref().is_some_and(|p| p.xauth.is_some());
                if wants_xauth {
                    Ok(())
                } else {
                    sa.xauth_done = true;
                    self.start_modecfg_client(sa, now)
                        .and_then(|()| self.drain_modecfg(sa, est, now, rng))
                }
            }
        };
        if let Err(e) = r {
            self.follow_up_failed(&e);
        }
    }

    /// Phase 1 carried INITIAL-CONTACT: remembered on the SA and acted on once the peer
    /// has proved who it is ([`Self::honour_initial_contact`]), not now.
    pub(crate) fn note_initial_contact(&mut self, sa: &mut IkeSa) {
        sa.initial_contact = true;
        self.debug(DebugEvent::InitialContact { dropped: 0 });
    }

    /// INITIAL-CONTACT (RFC 2407 section 4.6.3.3: the sender has no other SA with us) is
    /// honoured only once the peer is authenticated as far as it will be: after Xauth
    /// accepted the user, for an SA that does Xauth; right after phase 1 otherwise (a
    /// `no-xauth` peer, a gateway without `client authentication`, and our own SAs as
    /// a client). Then the other established IKE SAs of the same user and the same peer
    /// go, without DELETEs (the peer has forgotten them): the same Xauth user name, or
    /// for an SA without Xauth the same phase-1 identity among the SAs without Xauth;
    /// the same address, or address and port behind a NAT, where several clients share
    /// one address. Anybody else's SAs stay: another user logging in from the same
    /// address with INITIAL-CONTACT, or a guesser whose password is refused, drops
    /// nothing.
    pub(crate) fn honour_initial_contact(&mut self, sa: &mut IkeSa) {
        if !core::mem::take(&mut sa.initial_contact) {
            return;
        }
        let same = |o: &IkeSa| {
            let peer = if sa.nat_remote {
                o.remote == sa.remote
            } else {
                o.remote.ip() == sa.remote.ip()
            };
            let user = match sa.user.as_deref() {
                Some(u) => o.user.as_deref() == Some(u),
                None => {
                    o.user.is_none() && !o.dialogue.has_xauth_server() && o.identity == sa.identity
                }
            };
            peer && user && o.established() && o.role == sa.role && o.id != sa.id
        };
        let old: Vec<SaId> = self
            .sas_of_peer(sa.remote.ip())
            .filter(|o| same(o))
            .map(|o| o.id)
            .collect();
        debug_assert_eq!(
            old,
            self.sas
                .values()
                .filter(|o| same(o))
                .map(|o| o.id)
                .collect::<Vec<_>>(),
            "peer index lookup differs from a pass over every SA"
        );
        self.debug(DebugEvent::InitialContactHonoured { dropped: old.len() });
        for id in old {
            if let Some(mut o) = self.sas.remove(&id) {
                // The peer has forgotten these SAs: their child SAs and address end with
                // them, handed over to no heir (as after a phase-1 rekey).
                for (spi_in, _, _) in core::mem::take(&mut o.children) {
                    self.event(Event::ChildDeleted { sa: id, spi_in });
                }
                if let Some(l) = o.lease.take() {
                    self.release_lease(&o, l);
                }
                o.end = Some(crate::event::DeleteReason::InitialContact);
                self.cleanup(&mut o);
            }
        }
    }

    fn start_modecfg_server<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let gw = self
            .config
            .gateway
            .as_ref()
            .ok_or(SmError::Config("gateway"))?;
        let mode = gw.mode_config;
        if sa.no_config_mode || !(mode.initiate || mode.respond) {
            sa.cfg_done = true;
            return Ok(());
        }
        // A Unity client asks (pull); an older client waits for our SET (push).
        let pull = mode.respond && (sa.peer.unity || !mode.initiate);
        if pull {
            let pull = modecfg::PullServer::new(self.shared_modecfg(gw), now);
            sa.dialogue
                .start_cfg_server(CfgServer::Pull(Box::new(pull)));
        } else {
            let ident = u16::try_from(random_u32(rng) & 0xffff).unwrap_or(1);
            let started = self.assign_step(sa, Server::Push, |sa, cx, gw| {
                modecfg::PushServer::start(&gw.modecfg, now, ident, cx).map(|s| {
                    sa.dialogue.start_cfg_server(CfgServer::Push(Box::new(s)));
                })
            })?;
            if started.is_err() {
                let _ = self.send_delete(sa, est, rng);
                self.fail(sa, FailReason::AddressUnavailable);
                return Ok(());
            }
        }
        self.drain_modecfg(sa, est, now, rng)
    }

    /// Runs one gateway Mode Config server step that may lease an address for `sa`
    /// (`step` gets the SA, the assignment context and the gateway configuration). When
    /// the client already holds an address under an older SA (it re-ran phase 1), that
    /// address is lent to the step instead of a second lease, and put back where it was
    /// afterwards; if the step gave it to the client, `sa` notes it as borrowed.
    fn assign_step<T>(
        &mut self,
        sa: &mut IkeSa,
        server: Server,
        step: impl FnOnce(&mut IkeSa, &mut modecfg::Assign<'_>, &crate::config::GatewayConfig) -> T,
    ) -> Result<T, SmError> {
        if self.config.gateway.is_none() {
            return Err(SmError::Config("gateway"));
        }
        let (lent, from) = self.lend_lease(sa).unzip();
        let addr = lent.as_ref().map(Lease::addr);
        let mut store = Lending {
            store: &mut self.pools,
            lent,
            addr,
        };
        let out = self.config.gateway.as_ref().map(|gw| {
            let policy = match sa.group_idx.and_then(|i| gw.groups.get(i)) {
                Some(g) => &g.policy,
                None => &gw.default_policy,
            };
            let user = sa.user.clone().unwrap_or_default();
            let mut cx = modecfg::Assign {
                pools: &mut store,
                policy,
                user: &user,
                aaa: sa.aaa_address,
            };
            step(sa, &mut cx, gw)
        });
        let unused = store.lent.take();
        // What the server holds now: the lent lease when it handed that out, else a
        // lease of its own (it leases once per dialogue). A pull server that could not
        // reply keeps its own, for the request's retransmission.
        let held = match server {
            Server::Pull => sa
                .dialogue
                .pull_server()
                .filter(|s| from.is_some() || s.is_done())
                .and_then(|s| s.take_lease()),
            Server::Push => sa.dialogue.push_server().and_then(|s| s.take_lease()),
        };
        let (held, given) = match (from, unused) {
            // Not handed out (or given back): it goes back as it was.
            (Some(from), Some(l)) => {
                self.repay_lease(sa, l, from, false);
                (held, false)
            }
            // Handed out: it goes back all the same, and the client has its address.
            (Some(from), None) => {
                debug_assert_eq!(held.as_ref().map(Lease::addr), addr, "the lent lease");
                if let Some(l) = held {
                    self.repay_lease(sa, l, from, true);
                }
                (None, true)
            }
            (None, _) => (held, false),
        };
        // A lease of the server's own is the SA's from now on, before the dialogue ends:
        // it goes back with the SA whichever way the SA goes (a CFG_SET never acknowledged
        // included).
        if let Some(l) = held {
            debug_assert!(!given);
            if let Some(before) = sa.lease.replace(l) {
                sa.extra_leases.push(before);
            }
        }
        out.ok_or(SmError::Config("gateway"))
    }

    fn start_modecfg_client(&mut self, sa: &mut IkeSa, now: Instant) -> Result<(), SmError> {
        match sa.profile.as_ref().map(|p| p.mode_config) {
            Some(ClientModeCfg::Pull) => {
                let ident = u16::try_from(sa.id.0 & 0xffff).unwrap_or(1);
                sa.dialogue
                    .start_pull_client(modecfg::PullClient::vpn_client_4x(
                        now,
                        ident,
                        "Cisco Systems VPN Client 4.0.5 (Rel)",
                        self.config.limits.retransmit_backoff(),
                    )?);
            }
            Some(ClientModeCfg::Push) => {
                sa.dialogue
                    .push_client_or(|| modecfg::PushClient::new(now, None));
            }
            _ => sa.cfg_done = true,
        }
        Ok(())
    }

    pub(crate) fn verdict<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        est: &Established,
        now: Instant,
        accept: bool,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let id = sa
            .pending_verdict
            .take()
            .ok_or(SmError::Xauth("no verdict is awaited".into()))?;
        let x = sa
            .dialogue
            .xauth_server()
            .ok_or(SmError::Xauth("no Xauth dialogue".into()))?;
        let v = if accept {
            xauth::Verdict::Accept
        } else {
            xauth::Verdict::Reject
        };
        x.verdict(now, id, v)
            .map_err(|e| SmError::Xauth(e.to_string()))?;
        self.drain_machines(sa, est, now, rng)
    }

    /// The timers of the Xauth and Mode Config machines, and what they send.
    pub(crate) fn transaction_timeouts<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        rng: &mut R,
    ) {
        sa.dialogue.handle_timeout(now);
        // The machines run only on an established SA (`after_phase1` starts them).
        let drained = sa.with_established(|sa, est| self.drain_machines(sa, est, now, rng));
        if let Some(Err(e)) = drained {
            self.follow_up_failed(&e);
        }
    }
}
