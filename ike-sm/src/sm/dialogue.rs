//! The Xauth and Mode Config dialogues of an IKE SA after phase 1, as one value by role:
//! a gateway runs the servers (Xauth, then Mode Config pull or push), a client the
//! clients. A gateway's SA cannot hold a client machine, nor a pull and a push server at
//! once.

use super::sa::Role;
use std::time::Instant;

/// The dialogue machines of one SA. Each machine is boxed (144 to 680 bytes inline): an
/// SA holds at most two, most of its life none that is busy.
pub(crate) enum Dialogue {
    /// A gateway's.
    Server {
        /// Xauth, when the crypto map asks for it.
        xauth: Option<Box<xauth::XauthServer>>,
        /// Mode Config, once Xauth is done.
        cfg: Option<CfgServer>,
    },
    /// A client's.
    Client {
        /// Xauth, when the gateway asks.
        xauth: Option<Box<xauth::XauthClient>>,
        /// Mode Config as a VPN Client 4.x asks for it.
        pull: Option<Box<modecfg::PullClient>>,
        /// Mode Config as the gateway pushes it.
        push: Option<Box<modecfg::PushClient>>,
    },
}

/// A gateway's Mode Config server: it answers a Unity client's request (pull) or sends
/// an older client its CFG_SET (push).
pub(crate) enum CfgServer {
    /// Answers CFG_REQUEST.
    Pull(Box<modecfg::PullServer>),
    /// Sends CFG_SET, waits for CFG_ACK.
    Push(Box<modecfg::PushServer>),
}

/// What the Mode Config machines produced ([`Dialogue::poll_modecfg`]).
pub(crate) struct CfgPolled {
    /// Attribute payloads to send, each saying whether the machine sends it again.
    pub out: Vec<modecfg::Transmit>,
    /// The PIX's debug lines (only when asked for).
    pub lines: Vec<String>,
    /// No address for the client: the SA fails.
    pub failed: bool,
}

impl Dialogue {
    /// Drains the Mode Config machines: their messages, debug lines (formatted only
    /// when `debugging`) and whether one failed.
    pub fn poll_modecfg(&mut self, debugging: bool) -> CfgPolled {
        let mut p = CfgPolled {
            out: Vec::new(),
            lines: Vec::new(),
            failed: false,
        };
        match self {
            Dialogue::Server { cfg, .. } => match cfg {
                Some(CfgServer::Pull(s)) => {
                    while let Some(e) = s.poll_event() {
                        if matches!(e, modecfg::ServerEvent::AddressUnavailable { .. }) {
                            p.failed = true;
                        }
                        if debugging && !matches!(e, modecfg::ServerEvent::Replied { .. }) {
                            p.lines.extend(e.pix_line());
                        }
                    }
                    while let Some(t) = s.poll_transmit() {
                        p.out.push(t);
                    }
                    p.failed |= s.is_failed();
                }
                Some(CfgServer::Push(s)) => {
                    while let Some(e) = s.poll_event() {
                        if debugging && !matches!(e, modecfg::ServerEvent::SetSent { .. }) {
                            p.lines.extend(e.pix_line());
                        }
                    }
                    while let Some(t) = s.poll_transmit() {
                        p.out.push(t);
                    }
                    p.failed |= s.is_failed();
                }
                None => {}
            },
            Dialogue::Client { pull, push, .. } => {
                if let Some(c) = pull {
                    while c.poll_event().is_some() {}
                    while let Some(t) = c.poll_transmit() {
                        p.out.push(t);
                    }
                    p.failed |= c.is_failed();
                }
                if let Some(c) = push {
                    while c.poll_event().is_some() {}
                    while let Some(t) = c.poll_transmit() {
                        p.out.push(t);
                    }
                    p.failed |= c.is_failed();
                }
            }
        }
        p
    }

    /// No machine yet, for an SA of `role` (the responder is the gateway).
    pub fn new(role: Role) -> Self {
        match role {
            Role::Responder => Dialogue::Server {
                xauth: None,
                cfg: None,
            },
            Role::Initiator => Dialogue::Client {
                xauth: None,
                pull: None,
                push: None,
            },
        }
    }

    /// The gateway's Xauth server.
    pub fn xauth_server(&mut self) -> Option<&mut xauth::XauthServer> {
        match self {
            Dialogue::Server { xauth, .. } => xauth.as_deref_mut(),
            Dialogue::Client { .. } => None,
        }
    }

    /// Whether a gateway's Xauth dialogue was started.
    pub fn has_xauth_server(&self) -> bool {
        matches!(self, Dialogue::Server { xauth: Some(_), .. })
    }

    /// Starts the gateway's Xauth dialogue (a client's SA has none: no-op).
    pub fn start_xauth_server(&mut self, x: xauth::XauthServer) {
        if let Dialogue::Server { xauth, .. } = self {
            *xauth = Some(Box::new(x));
        }
    }

    /// The gateway's Mode Config pull server.
    pub fn pull_server(&mut self) -> Option<&mut modecfg::PullServer> {
        match self {
            Dialogue::Server {
                cfg: Some(CfgServer::Pull(s)),
                ..
            } => Some(s),
            _ => None,
        }
    }

    /// The gateway's Mode Config push server.
    pub fn push_server(&mut self) -> Option<&mut modecfg::PushServer> {
        match self {
            Dialogue::Server {
                cfg: Some(CfgServer::Push(s)),
                ..
            } => Some(s),
            _ => None,
        }
    }

    /// Starts (or replaces) the gateway's Mode Config server; returns the one replaced.
    pub fn start_cfg_server(&mut self, server: CfgServer) -> Option<CfgServer> {
        match self {
            Dialogue::Server { cfg, .. } => cfg.replace(server),
            Dialogue::Client { .. } => None,
        }
    }

    /// The client's Xauth machine, started on the gateway's first request.
    pub fn xauth_client(&mut self) -> Option<&mut xauth::XauthClient> {
        match self {
            Dialogue::Client { xauth, .. } => xauth.as_deref_mut(),
            Dialogue::Server { .. } => None,
        }
    }

    /// The client's Xauth machine, started with `start` if it was not yet.
    pub fn xauth_client_or(
        &mut self,
        start: impl FnOnce() -> xauth::XauthClient,
    ) -> Option<&mut xauth::XauthClient> {
        match self {
            Dialogue::Client { xauth, .. } => Some(xauth.get_or_insert_with(|| Box::new(start()))),
            Dialogue::Server { .. } => None,
        }
    }

    /// The client's Mode Config pull machine.
    pub fn pull_client(&mut self) -> Option<&mut modecfg::PullClient> {
        match self {
            Dialogue::Client { pull, .. } => pull.as_deref_mut(),
            Dialogue::Server { .. } => None,
        }
    }

    /// Starts the client's Mode Config pull machine.
    pub fn start_pull_client(&mut self, c: modecfg::PullClient) {
        if let Dialogue::Client { pull, .. } = self {
            *pull = Some(Box::new(c));
        }
    }

    /// The client's Mode Config push machine.
    pub fn push_client(&mut self) -> Option<&mut modecfg::PushClient> {
        match self {
            Dialogue::Client { push, .. } => push.as_deref_mut(),
            Dialogue::Server { .. } => None,
        }
    }

    /// The client's Mode Config push machine, started with `start` if it was not yet.
    pub fn push_client_or(
        &mut self,
        start: impl FnOnce() -> modecfg::PushClient,
    ) -> Option<&mut modecfg::PushClient> {
        match self {
            Dialogue::Client { push, .. } => Some(push.get_or_insert_with(|| Box::new(start()))),
            Dialogue::Server { .. } => None,
        }
    }

    /// The earliest deadline of the machines.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Dialogue::Server { xauth, cfg } => {
                let c = match cfg {
                    Some(CfgServer::Pull(s)) => s.poll_timeout(),
                    Some(CfgServer::Push(s)) => s.poll_timeout(),
                    None => None,
                };
                xauth
                    .as_ref()
                    .and_then(|x| x.poll_timeout())
                    .into_iter()
                    .chain(c)
                    .min()
            }
            Dialogue::Client { xauth, pull, push } => xauth
                .as_ref()
                .and_then(|x| x.poll_timeout())
                .into_iter()
                .chain(pull.as_ref().and_then(|x| x.poll_timeout()))
                .chain(push.as_ref().and_then(|x| x.poll_timeout()))
                .min(),
        }
    }

    /// Drives the machines' timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self {
            Dialogue::Server { xauth, cfg } => {
                if let Some(x) = xauth {
                    x.handle_timeout(now);
                }
                match cfg {
                    Some(CfgServer::Pull(s)) => s.handle_timeout(now),
                    Some(CfgServer::Push(s)) => s.handle_timeout(now),
                    None => {}
                }
            }
            Dialogue::Client { xauth, pull, push } => {
                if let Some(x) = xauth {
                    x.handle_timeout(now);
                }
                if let Some(x) = pull {
                    x.handle_timeout(now);
                }
                if let Some(x) = push {
                    x.handle_timeout(now);
                }
            }
        }
    }
}
