//! The gateway's side of Xauth (draft-beaulieu-ike-xauth-02 section 2.1), as the PIX
//! runs it after phase 1: REQUEST -> REPLY -> (AAA verdict) -> SET(STATUS) -> ACK.
//!
//! ```text
//!   gateway                                   client
//!   REQUEST(id=i, TYPE, USER_NAME, PASSWORD) ->
//!                                          <- REPLY(id=i, USER_NAME=u, PASSWORD=p)
//!   Event::Credentials  ... driver asks TACACS+/RADIUS/LOCAL ... verdict(id, ..)
//!     Reject, tries left:    REQUEST(id=i+1, .., MESSAGE "retry")   (PIX re-prompt)
//!     Challenge / NextPin:   REQUEST(id=i+1, MESSAGE, CHALLENGE, ANSWER | NEXT_PIN)
//!     Accept / last Reject:  SET(id=j, STATUS=1|0) ->
//!                                          <- ACK(id=j)
//!   Event::Finished(Outcome)   (Failed => tear the IKE SA down)
//! ```
//!
//! The machine never blocks: the AAA verdict comes later through
//! [`XauthServer::verdict`], time is passed in, and [`XauthServer::poll_timeout`]
//! gives the next deadline (user reply, AAA verdict, or ACK). A REPLY whose
//! identifier is not the one of the REQUEST, or a message the state does not
//! expect, is an error for which [`XauthError::is_silent_drop`] holds: the caller
//! drops it and the dialogue stays where it was.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use pix_primitives::retransmit::{Action, Backoff, Retransmit};

use isakmp_wire::{CfgType, ConfigPayload, OwnedConfigPayload};
use rand_core::CryptoRng;

use crate::attrs::{
    self, IntForm, XauthAttribute, XauthStatus, XauthType, XAUTH_NEXT_PIN, XAUTH_USER_NAME,
    XAUTH_USER_PASSWORD,
};
use crate::error::XauthError;
use crate::Secret;

/// How the gateway runs Xauth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The XAUTH_TYPE to request (the PIX asks for generic).
    pub xauth_type: XauthType,
    /// Password tries before the user is refused (PIX: 3). At least 1 is used.
    pub max_attempts: u32,
    /// Challenge and next-PIN rounds allowed after one password (token users).
    pub max_extra_rounds: u32,
    /// How long the user has to answer one REQUEST.
    pub reply_timeout: Duration,
    /// How long to wait for the AAA verdict (covers every server of the group).
    pub verdict_timeout: Duration,
    /// How long to wait for the client's ACK of our SET.
    pub ack_timeout: Duration,
    /// Optional XAUTH_MESSAGE in the first REQUEST.
    pub prompt: Option<Vec<u8>>,
    /// XAUTH_MESSAGE sent with a re-prompt after a rejected password.
    pub retry_message: Vec<u8>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            xauth_type: XauthType::Generic,
            max_attempts: 3,
            max_extra_rounds: 4,
            reply_timeout: Duration::from_secs(120),
            verdict_timeout: Duration::from_secs(35),
            ack_timeout: Duration::from_secs(30),
            prompt: None,
            retry_message: b"Authentication failed, please try again".to_vec(),
        }
    }
}

/// Names one pending AAA question; answer it with [`XauthServer::verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VerdictId(pub u64);

/// What the AAA backend said about the last credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The user is authenticated.
    Accept,
    /// Wrong password (or unknown user).
    Reject,
    /// The server wants an answer to a challenge (RADIUS Access-Challenge,
    /// TACACS+ GETDATA): ask the client, keep the user.
    Challenge {
        /// Text for the user (XAUTH_MESSAGE).
        message: Vec<u8>,
        /// An XAUTH_CHALLENGE value, if the type uses one (S/KEY, RADIUS-CHAP).
        challenge: Option<Vec<u8>>,
    },
    /// The token server wants a new PIN (XAUTH_NEXT_PIN round).
    NextPin {
        /// Text for the user.
        message: Vec<u8>,
    },
}

/// What the client sent in its REPLY: the driver's question to the AAA backend.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Answer with [`XauthServer::verdict`] and this id.
    pub id: VerdictId,
    /// XAUTH_USER_NAME.
    pub user_name: Vec<u8>,
    /// XAUTH_USER_PASSWORD, if sent.
    pub password: Option<Secret>,
    /// XAUTH_PASSCODE, if sent.
    pub passcode: Option<Secret>,
    /// XAUTH_ANSWER (challenge rounds), if sent.
    pub answer: Option<Secret>,
    /// XAUTH_NEXT_PIN (next-PIN rounds), if sent.
    pub next_pin: Option<Secret>,
    /// XAUTH_DOMAIN, if sent.
    pub domain: Option<Vec<u8>>,
    /// 1 for the first password, 2 for the first re-prompt, ...
    pub attempt: u32,
    /// Which round this answers.
    pub round: Round,
}

/// The kind of REQUEST a REPLY answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Round {
    /// User name and password (or passcode).
    Password,
    /// An answer to a challenge.
    Challenge,
    /// A new PIN.
    NextPin,
}

/// Why a user was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// The AAA backend refused every try.
    Rejected,
    /// The user did not answer a REQUEST in time.
    ReplyTimeout,
    /// No AAA verdict in time.
    VerdictTimeout,
    /// The client did not ACK our SET in time.
    AckTimeout,
    /// The client answered with XAUTH_STATUS=FAIL (the user pressed cancel).
    ClientCancelled,
    /// More challenge/next-PIN rounds than configured.
    TooManyRounds,
}

/// How the dialogue ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// STATUS=OK was sent and ACKed: the user enters the uauth table.
    Authenticated {
        /// The authenticated user.
        user_name: Vec<u8>,
    },
    /// The user is refused: the caller tears the IKE SA down.
    Failed {
        /// The user name, if one was given.
        user_name: Option<Vec<u8>>,
        /// Why.
        reason: FailReason,
    },
}

impl Outcome {
    /// Whether the IKE SA must be torn down (every failure).
    pub fn tear_down(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }
}

/// What the server machine tells its driver.
// Why the allow: `Credentials` holds four inline `Secret`s; the event exists once per
// REPLY and is moved out at once, so boxing it would only add an allocation per REPLY.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub enum ServerEvent {
    /// Ask the AAA backend, then call [`XauthServer::verdict`].
    Credentials(Credentials),
    /// The dialogue is over.
    Finished(Outcome),
}

#[derive(Debug)]
enum State {
    AwaitReply { id: u16, round: Round },
    AwaitVerdict { verdict: VerdictId },
    AwaitAck { id: u16, outcome: Outcome },
    Done,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitReply { .. } => "waiting for the REPLY",
            State::AwaitVerdict { .. } => "waiting for the AAA verdict",
            State::AwaitAck { .. } => "waiting for the ACK",
            State::Done => "finished",
        }
    }
}

/// The gateway side of one Xauth dialogue (one per IKE SA).
#[derive(Debug)]
pub struct XauthServer {
    /// Shared: a gateway starts one dialogue per IKE SA from the same configuration.
    config: std::sync::Arc<ServerConfig>,
    state: State,
    /// The give-up deadline of the state that waits (the user's REPLY, the AAA
    /// verdict, the ACK): one send, no resend here (ike-sm resends the message).
    timer: Retransmit,
    next_id: u16,
    next_verdict: u64,
    attempts: u32,
    extra_rounds: u32,
    user_name: Option<Vec<u8>>,
    transmits: VecDeque<OwnedConfigPayload>,
    events: VecDeque<ServerEvent>,
}

impl XauthServer {
    /// Starts the dialogue: the first REQUEST is ready in [`Self::poll_transmit`].
    ///
    /// The first transaction identifier comes from `rng`; later ones follow it. The
    /// configuration may be shared (`Arc<ServerConfig>`), so a gateway does not copy it
    /// per IKE SA.
    pub fn start<R: CryptoRng + ?Sized>(
        config: impl Into<std::sync::Arc<ServerConfig>>,
        now: Instant,
        rng: &mut R,
    ) -> Self {
        let config = config.into();
        let mut first = [0u8; 2];
        rng.fill_bytes(&mut first);
        let mut s = XauthServer {
            config,
            state: State::Done,
            // Armed by the first REQUEST below.
            timer: Retransmit::new(Backoff::once(Duration::ZERO)),
            next_id: u16::from_be_bytes(first),
            next_verdict: 1,
            attempts: 1,
            extra_rounds: 0,
            user_name: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        let prompt = s.config.prompt.clone();
        s.send_request(now, Round::Password, prompt, None);
        s
    }

    /// The next message for the client (to be sent in a Transaction exchange).
    pub fn poll_transmit(&mut self) -> Option<OwnedConfigPayload> {
        self.transmits.pop_front()
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let next = self.events.pop_front();
        if next.is_none() && self.events.capacity() > 0 {
            // Drained: give the queue's allocation back (a finished dialogue stays with
            // its SA for the SA's life).
            self.events = VecDeque::new();
        }
        next
    }

    /// The next deadline; call [`Self::handle_timeout`] when it passes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Done => None,
            _ => self.timer.deadline(),
        }
    }

    /// Whether the dialogue has ended.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Feeds a message from the client (a decrypted Transaction payload).
    pub fn handle(&mut self, now: Instant, msg: &ConfigPayload<'_>) -> Result<(), XauthError> {
        match &self.state {
            State::AwaitReply { id, round, .. } => {
                let (id, round) = (*id, *round);
                if msg.cfg_type != CfgType::Reply {
                    return Err(self.unexpected(msg.cfg_type));
                }
                check_id(id, msg.identifier)?;
                self.on_reply(now, msg, round)
            }
            State::AwaitAck { id, .. } => {
                let id = *id;
                if msg.cfg_type != CfgType::Ack {
                    return Err(self.unexpected(msg.cfg_type));
                }
                check_id(id, msg.identifier)?;
                if let State::AwaitAck { outcome, .. } =
                    std::mem::replace(&mut self.state, State::Done)
                {
                    self.events.push_back(ServerEvent::Finished(outcome));
                }
                Ok(())
            }
            State::AwaitVerdict { .. } | State::Done => Err(self.unexpected(msg.cfg_type)),
        }
    }

    /// The AAA backend's answer to [`ServerEvent::Credentials`].
    pub fn verdict(
        &mut self,
        now: Instant,
        id: VerdictId,
        verdict: Verdict,
    ) -> Result<(), XauthError> {
        let State::AwaitVerdict { verdict: want, .. } = &self.state else {
            return Err(XauthError::UnknownRequest(id.0));
        };
        if *want != id {
            return Err(XauthError::UnknownRequest(id.0));
        }
        match verdict {
            Verdict::Accept => {
                let user_name = self.user_name.clone().unwrap_or_default();
                self.send_set(now, Outcome::Authenticated { user_name });
            }
            Verdict::Reject => {
                if self.attempts < self.config.max_attempts.max(1) {
                    self.attempts = self.attempts.saturating_add(1);
                    self.extra_rounds = 0;
                    let msg = Some(self.config.retry_message.clone());
                    self.send_request(now, Round::Password, msg, None);
                } else {
                    self.fail_with_set(now, FailReason::Rejected);
                }
            }
            Verdict::Challenge { message, challenge } => {
                if self.extra_round_allowed() {
                    self.send_request(now, Round::Challenge, Some(message), challenge);
                } else {
                    self.fail_with_set(now, FailReason::TooManyRounds);
                }
            }
            Verdict::NextPin { message } => {
                if self.extra_round_allowed() {
                    self.send_request(now, Round::NextPin, Some(message), None);
                } else {
                    self.fail_with_set(now, FailReason::TooManyRounds);
                }
            }
        }
        Ok(())
    }

    /// Acts on deadlines that have passed by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_finished() || self.timer.on_timeout(now) != Action::GiveUp {
            return;
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::AwaitReply { .. } => {
                // The user walked away: no SET, the SA goes (as the PIX does).
                self.finish(FailReason::ReplyTimeout);
            }
            State::AwaitVerdict { .. } => {
                // The AAA servers are unreachable: the user cannot be admitted.
                self.fail_with_set(now, FailReason::VerdictTimeout);
            }
            State::AwaitAck { outcome, .. } => {
                // An unacknowledged OK does not admit the user.
                let outcome = match outcome {
                    Outcome::Authenticated { user_name } => Outcome::Failed {
                        user_name: Some(user_name),
                        reason: FailReason::AckTimeout,
                    },
                    failed => failed,
                };
                self.events.push_back(ServerEvent::Finished(outcome));
            }
            State::Done => {}
        }
    }

    fn extra_round_allowed(&mut self) -> bool {
        if self.extra_rounds < self.config.max_extra_rounds {
            self.extra_rounds = self.extra_rounds.saturating_add(1);
            true
        } else {
            false
        }
    }

    fn on_reply(
        &mut self,
        now: Instant,
        msg: &ConfigPayload<'_>,
        round: Round,
    ) -> Result<(), XauthError> {
        let list = attrs::parse_list(msg.attributes())?;
        let mut creds = Credentials {
            id: VerdictId(self.next_verdict),
            user_name: Vec::new(),
            password: None,
            passcode: None,
            answer: None,
            next_pin: None,
            domain: None,
            attempt: self.attempts,
            round,
        };
        let mut have_user = false;
        for a in list {
            match a {
                XauthAttribute::Status {
                    value: XauthStatus::Fail,
                    ..
                } => {
                    self.state = State::Done;
                    self.finish(FailReason::ClientCancelled);
                    return Ok(());
                }
                XauthAttribute::Type { value, .. } if value != self.config.xauth_type => {
                    return Err(XauthError::BadAttribute {
                        kind: attrs::XAUTH_TYPE,
                        reason: "REPLY names another XAUTH_TYPE than the REQUEST",
                    });
                }
                XauthAttribute::UserName(u) => {
                    have_user = true;
                    creds.user_name = u;
                }
                XauthAttribute::UserPassword(p) => creds.password = Some(p),
                XauthAttribute::Passcode(p) => creds.passcode = Some(p),
                XauthAttribute::Answer(p) => creds.answer = Some(p),
                XauthAttribute::NextPin(p) => creds.next_pin = Some(p),
                XauthAttribute::Domain(d) => creds.domain = Some(d),
                _ => {}
            }
        }
        // Why: a REPLY without the fields the REQUEST asked for cannot be judged;
        // dropping it keeps the user's REQUEST outstanding until the timeout.
        match round {
            Round::Password => {
                if !have_user {
                    return Err(missing(XAUTH_USER_NAME));
                }
                if creds.password.is_none() && creds.passcode.is_none() {
                    return Err(missing(XAUTH_USER_PASSWORD));
                }
                self.user_name = Some(creds.user_name.clone());
            }
            Round::Challenge => {
                if creds.answer.is_none() && creds.passcode.is_none() && creds.password.is_none() {
                    return Err(missing(attrs::XAUTH_ANSWER));
                }
                creds.user_name = self.user_name.clone().unwrap_or_default();
            }
            Round::NextPin => {
                if creds.next_pin.is_none() {
                    return Err(missing(XAUTH_NEXT_PIN));
                }
                creds.user_name = self.user_name.clone().unwrap_or_default();
            }
        }
        self.next_verdict = self.next_verdict.wrapping_add(1);
        self.state = State::AwaitVerdict { verdict: creds.id };
        self.wait(now, self.config.verdict_timeout);
        self.events.push_back(ServerEvent::Credentials(creds));
        Ok(())
    }

    fn send_request(
        &mut self,
        now: Instant,
        round: Round,
        message: Option<Vec<u8>>,
        challenge: Option<Vec<u8>>,
    ) {
        let mut list = vec![XauthAttribute::Type {
            value: self.config.xauth_type,
            form: IntForm::Basic,
        }];
        match round {
            Round::Password => {
                list.push(XauthAttribute::UserName(Vec::new()));
                list.push(match self.config.xauth_type {
                    XauthType::Otp => XauthAttribute::Passcode(Secret::new(Vec::new())),
                    _ => XauthAttribute::UserPassword(Secret::new(Vec::new())),
                });
            }
            Round::Challenge => {
                if let Some(c) = challenge {
                    list.push(XauthAttribute::Challenge(c));
                }
                list.push(XauthAttribute::Answer(Secret::new(Vec::new())));
            }
            Round::NextPin => list.push(XauthAttribute::NextPin(Secret::new(Vec::new()))),
        }
        if let Some(m) = message {
            list.push(XauthAttribute::Message(m));
        }
        let id = self.take_id();
        self.transmits.push_back(OwnedConfigPayload {
            cfg_type: CfgType::Request,
            identifier: id,
            attributes: attrs::to_owned_list(&list),
        });
        self.state = State::AwaitReply { id, round };
        self.wait(now, self.config.reply_timeout);
    }

    fn send_set(&mut self, now: Instant, outcome: Outcome) {
        let value = match outcome {
            Outcome::Authenticated { .. } => XauthStatus::Ok,
            Outcome::Failed { .. } => XauthStatus::Fail,
        };
        let id = self.take_id();
        let status = XauthAttribute::Status {
            value,
            form: IntForm::Basic,
        };
        self.transmits.push_back(OwnedConfigPayload {
            cfg_type: CfgType::Set,
            identifier: id,
            attributes: vec![status.to_owned_attr()],
        });
        self.state = State::AwaitAck { id, outcome };
        self.wait(now, self.config.ack_timeout);
    }

    /// Arms the give-up deadline of the state just entered.
    fn wait(&mut self, now: Instant, timeout: Duration) {
        self.timer = Retransmit::started(Backoff::once(timeout), now);
    }

    fn fail_with_set(&mut self, now: Instant, reason: FailReason) {
        let user_name = self.user_name.clone();
        self.send_set(now, Outcome::Failed { user_name, reason });
    }

    fn finish(&mut self, reason: FailReason) {
        self.state = State::Done;
        self.events
            .push_back(ServerEvent::Finished(Outcome::Failed {
                user_name: self.user_name.clone(),
                reason,
            }));
    }

    fn take_id(&mut self) -> u16 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        id
    }

    fn unexpected(&self, got: CfgType) -> XauthError {
        XauthError::UnexpectedMessage {
            state: self.state.name(),
            got,
        }
    }
}

/// The REPLY/ACK must carry the REQUEST/SET's identifier, or 0: strongSwan 5.9
/// (`charon-cmd`, seen in the interop tests) answers every Xauth REQUEST and SET with
/// identifier 0. The Transaction's message ID and its HASH already bind an answer to the
/// exchange it belongs to, so 0 is read as "the one outstanding"; any other identifier
/// is still a stale or foreign answer.
pub(crate) fn check_id(expected: u16, got: u16) -> Result<(), XauthError> {
    if expected == got || got == 0 {
        Ok(())
    } else {
        Err(XauthError::IdentifierMismatch { expected, got })
    }
}

fn missing(kind: u16) -> XauthError {
    XauthError::MissingAttribute {
        kind,
        message: "Xauth REPLY",
    }
}
