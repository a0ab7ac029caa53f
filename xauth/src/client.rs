//! The client's side of Xauth (what Cisco VPN Client, vpnc or strongSwan do):
//! answer each REQUEST with a REPLY carrying the same identifier, and ACK the SET.
//!
//! The machine does not know the user's secrets: each REQUEST becomes a
//! [`ClientEvent::Prompt`] saying what was asked (and any MESSAGE/CHALLENGE), and the
//! driver answers with [`XauthClient::answer`] (or [`XauthClient::cancel`], which
//! sends XAUTH_STATUS=FAIL as a cancelled login does).
//!
//! A REPLY carries the user's password (or passcode, answer, next PIN): the machine
//! keeps its messages as [`ZeroizingPayload`]s, wiped when dropped and redacted in
//! `Debug`. Take them with [`XauthClient::poll_transmit_zeroizing`] and emit them
//! into a zeroizing buffer ([`ZeroizingPayload::to_bytes`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use isakmp_wire::{CfgType, ConfigPayload, OwnedConfigPayload};

use crate::attrs::{self, IntForm, XauthAttribute, XauthStatus, XauthType};
use crate::error::XauthError;
use crate::payload::ZeroizingPayload;
use crate::Secret;
use pix_primitives::retransmit::{Action, Backoff, Retransmit};

/// Which fields a REQUEST asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Wants {
    /// XAUTH_USER_NAME.
    pub user_name: bool,
    /// XAUTH_USER_PASSWORD.
    pub password: bool,
    /// XAUTH_PASSCODE.
    pub passcode: bool,
    /// XAUTH_ANSWER.
    pub answer: bool,
    /// XAUTH_NEXT_PIN.
    pub next_pin: bool,
    /// XAUTH_DOMAIN.
    pub domain: bool,
}

/// A REQUEST the user must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The REQUEST's identifier (the REPLY echoes it).
    pub identifier: u16,
    /// The XAUTH_TYPE asked for.
    pub xauth_type: XauthType,
    /// XAUTH_MESSAGE text, if any.
    pub message: Option<Vec<u8>>,
    /// XAUTH_CHALLENGE, if any.
    pub challenge: Option<Vec<u8>>,
    /// What to fill in.
    pub wants: Wants,
}

/// The user's answer to a [`Prompt`]. Fields not asked for are not sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Answer {
    /// User name.
    pub user_name: Option<Vec<u8>>,
    /// Password.
    pub password: Option<Secret>,
    /// Token passcode.
    pub passcode: Option<Secret>,
    /// Challenge answer.
    pub answer: Option<Secret>,
    /// New PIN.
    pub next_pin: Option<Secret>,
    /// Domain.
    pub domain: Option<Vec<u8>>,
}

/// What the client machine tells its driver.
#[derive(Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Ask the user, then call [`XauthClient::answer`].
    Prompt(Prompt),
    /// The gateway's SET arrived and was ACKed: `true` for STATUS=OK.
    Finished {
        /// Whether the gateway accepted us.
        ok: bool,
    },
    /// The gateway went silent after our REPLY.
    TimedOut,
}

#[derive(Debug)]
enum State {
    /// Waiting for a REQUEST or SET from the gateway (after a REPLY, until the
    /// `gateway_wait` deadline).
    Waiting,
    /// A REQUEST is with the user.
    Prompting {
        prompt: Prompt,
    },
    Done,
}

/// The client side of one Xauth dialogue.
#[derive(Debug)]
pub struct XauthClient {
    state: State,
    /// How long the gateway has to send the next REQUEST or the SET after our
    /// REPLY: a give-up deadline (ike-sm resends the REPLY itself).
    gateway_wait: Retransmit,
    /// Wiped on drop: a queued REPLY holds the user's secrets.
    transmits: VecDeque<ZeroizingPayload>,
    events: VecDeque<ClientEvent>,
}

impl XauthClient {
    /// A client waiting for the gateway's first REQUEST. After each REPLY the
    /// gateway has `reply_timeout` to send the next REQUEST or the SET.
    pub fn new(reply_timeout: Duration) -> Self {
        XauthClient {
            state: State::Waiting,
            gateway_wait: Retransmit::new(Backoff::once(reply_timeout)),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The next message for the gateway, wiped when dropped. Prefer this to
    /// [`Self::poll_transmit`]: a REPLY carries the user's secrets.
    pub fn poll_transmit_zeroizing(&mut self) -> Option<ZeroizingPayload> {
        self.transmits.pop_front()
    }

    /// The next message for the gateway, as a plain payload.
    ///
    /// Its attribute buffers (a REPLY's password, passcode, answer or next PIN) are
    /// not wiped on drop: once it is emitted, pass it to
    /// [`crate::payload::wipe_payload`], or use [`Self::poll_transmit_zeroizing`].
    pub fn poll_transmit(&mut self) -> Option<OwnedConfigPayload> {
        self.poll_transmit_zeroizing()
            .map(ZeroizingPayload::into_unprotected)
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        let next = self.events.pop_front();
        if next.is_none() && self.events.capacity() > 0 {
            // Drained: give the queue's allocation back (a finished dialogue stays with
            // its SA for the SA's life).
            self.events = VecDeque::new();
        }
        next
    }

    /// The next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Waiting => self.gateway_wait.deadline(),
            _ => None,
        }
    }

    /// Whether the dialogue has ended.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Acts on a passed deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if matches!(self.state, State::Waiting)
            && self.gateway_wait.on_timeout(now) == Action::GiveUp
        {
            self.state = State::Done;
            self.events.push_back(ClientEvent::TimedOut);
        }
    }

    /// Feeds a message from the gateway.
    pub fn handle(&mut self, _now: Instant, msg: &ConfigPayload<'_>) -> Result<(), XauthError> {
        let state = match &self.state {
            State::Waiting => "waiting for the gateway",
            State::Prompting { .. } => "prompting the user",
            State::Done => "finished",
        };
        match (msg.cfg_type, &self.state) {
            // A new REQUEST replaces an unanswered one (the gateway re-sent it).
            (CfgType::Request, State::Waiting | State::Prompting { .. }) => {
                let prompt = read_request(msg)?;
                self.state = State::Prompting {
                    prompt: prompt.clone(),
                };
                self.events.push_back(ClientEvent::Prompt(prompt));
                Ok(())
            }
            (CfgType::Set, State::Waiting | State::Prompting { .. }) => {
                let mut status = None;
                for a in attrs::parse_list(msg.attributes())? {
                    if let XauthAttribute::Status { value, .. } = a {
                        status = Some(value);
                    }
                }
                let status = status.ok_or(XauthError::MissingAttribute {
                    kind: attrs::XAUTH_STATUS,
                    message: "Xauth SET",
                })?;
                let echo = XauthAttribute::Status {
                    value: status,
                    form: IntForm::Basic,
                };
                self.transmits
                    .push_back(ZeroizingPayload::new(OwnedConfigPayload {
                        cfg_type: CfgType::Ack,
                        identifier: msg.identifier,
                        attributes: vec![echo.to_owned_attr()],
                    }));
                self.state = State::Done;
                self.events.push_back(ClientEvent::Finished {
                    ok: status == XauthStatus::Ok,
                });
                Ok(())
            }
            (got, _) => Err(XauthError::UnexpectedMessage { state, got }),
        }
    }

    /// Answers the pending prompt (identified by its REQUEST identifier).
    pub fn answer(
        &mut self,
        now: Instant,
        identifier: u16,
        answer: Answer,
    ) -> Result<(), XauthError> {
        let prompt = self.pending(identifier)?;
        let w = prompt.wants;
        let mut list = Vec::new();
        if prompt.xauth_type != XauthType::Generic {
            list.push(XauthAttribute::Type {
                value: prompt.xauth_type,
                form: IntForm::Basic,
            });
        }
        push_wanted(
            &mut list,
            w.user_name,
            answer.user_name,
            attrs::XAUTH_USER_NAME,
            XauthAttribute::UserName,
        )?;
        push_wanted(
            &mut list,
            w.password,
            answer.password,
            attrs::XAUTH_USER_PASSWORD,
            XauthAttribute::UserPassword,
        )?;
        push_wanted(
            &mut list,
            w.passcode,
            answer.passcode,
            attrs::XAUTH_PASSCODE,
            XauthAttribute::Passcode,
        )?;
        push_wanted(
            &mut list,
            w.answer,
            answer.answer,
            attrs::XAUTH_ANSWER,
            XauthAttribute::Answer,
        )?;
        push_wanted(
            &mut list,
            w.next_pin,
            answer.next_pin,
            attrs::XAUTH_NEXT_PIN,
            XauthAttribute::NextPin,
        )?;
        if w.domain {
            if let Some(d) = answer.domain {
                list.push(XauthAttribute::Domain(d));
            }
        }
        self.reply(now, identifier, list);
        Ok(())
    }

    /// Cancels the pending prompt: REPLY with XAUTH_STATUS=FAIL.
    pub fn cancel(&mut self, now: Instant, identifier: u16) -> Result<(), XauthError> {
        self.pending(identifier)?;
        let list = vec![XauthAttribute::Status {
            value: XauthStatus::Fail,
            form: IntForm::Basic,
        }];
        self.reply(now, identifier, list);
        Ok(())
    }

    fn pending(&self, identifier: u16) -> Result<&Prompt, XauthError> {
        match &self.state {
            State::Prompting { prompt } if prompt.identifier == identifier => Ok(prompt),
            _ => Err(XauthError::UnknownRequest(u64::from(identifier))),
        }
    }

    fn reply(&mut self, now: Instant, identifier: u16, list: Vec<XauthAttribute>) {
        // The secrets' only plain copies go straight into the zeroizing wrapper; the
        // typed list holds them as `Secret`s, wiped when it drops at the end of this
        // call.
        self.transmits
            .push_back(ZeroizingPayload::new(OwnedConfigPayload {
                cfg_type: CfgType::Reply,
                identifier,
                attributes: attrs::to_owned_list(&list),
            }));
        self.state = State::Waiting;
        self.gateway_wait.start(now);
    }
}

fn push_wanted<T>(
    list: &mut Vec<XauthAttribute>,
    wanted: bool,
    value: Option<T>,
    kind: u16,
    make: impl FnOnce(T) -> XauthAttribute,
) -> Result<(), XauthError> {
    if !wanted {
        return Ok(());
    }
    let v = value.ok_or(XauthError::MissingAttribute {
        kind,
        message: "answer to the Xauth REQUEST",
    })?;
    list.push(make(v));
    Ok(())
}

fn read_request(msg: &ConfigPayload<'_>) -> Result<Prompt, XauthError> {
    let mut prompt = Prompt {
        identifier: msg.identifier,
        xauth_type: XauthType::Generic,
        message: None,
        challenge: None,
        wants: Wants::default(),
    };
    for a in attrs::parse_list(msg.attributes())? {
        match a {
            XauthAttribute::Type { value, .. } => {
                // RADIUS-CHAP needs a CHAP response computed from the password,
                // which no client we interoperate with does; say so instead.
                if matches!(value, XauthType::RadiusChap | XauthType::Unknown(_)) {
                    return Err(XauthError::UnsupportedXauthType(value.into()));
                }
                prompt.xauth_type = value;
            }
            XauthAttribute::UserName(_) => prompt.wants.user_name = true,
            XauthAttribute::UserPassword(_) => prompt.wants.password = true,
            XauthAttribute::Passcode(_) => prompt.wants.passcode = true,
            XauthAttribute::Answer(_) => prompt.wants.answer = true,
            XauthAttribute::NextPin(_) => prompt.wants.next_pin = true,
            XauthAttribute::Domain(_) => prompt.wants.domain = true,
            XauthAttribute::Message(m) => prompt.message = Some(m),
            XauthAttribute::Challenge(c) => prompt.challenge = Some(c),
            _ => {}
        }
    }
    Ok(prompt)
}
