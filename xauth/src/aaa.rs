//! One Sans-IO interface over the PIX's three AAA protocols: TACACS+, RADIUS and
//! LOCAL (`aaa-server TAG protocol tacacs+|radius|local`).
//!
//! A request becomes [`AaaTransmit`]s (a UDP datagram for RADIUS, bytes on a fresh
//! TCP connection for TACACS+); the driver does the IO and feeds replies back with
//! [`AaaClient::handle_datagram`] / [`AaaClient::handle_stream`]; the result is an
//! [`AaaEvent`]. Servers of the group are tried in order, each with its own
//! timeout (`aaa-server TAG (if) host IP KEY timeout N`); RADIUS requests are
//! retransmitted unchanged up to `radius_retries` times per server before moving on.
//! A reply that does not verify (wrong key, forged, stray) is dropped and the
//! request keeps waiting, so a server with the wrong key ends in a timeout. A
//! verified RADIUS answer to an Access-Request without a Message-Authenticator is
//! refused by default (Blast-RADIUS, CVE-2024-3596): a distinct error, and the
//! request moves on to the next server.

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use pix_primitives::retransmit::{Action, Backoff, Retransmit};
use rand_core::CryptoRng;

use crate::error::XauthError;
use crate::local::LocalUsers;
use crate::radius::{self, AcceptInfo, AccessResult, AcctStatus, TerminateCause};
use crate::server::Verdict;
use crate::tacacs::{
    self, acct_flag, AccountingRecord, LoginKind, LoginRequest, LoginResult, LoginStep,
    StreamBuffer, TacacsAccounting, TacacsLogin,
};
use crate::Secret;

/// The protocol of a server group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TACACS+ over TCP (port 49).
    Tacacs,
    /// RADIUS over UDP (1645/1812, accounting 1646/1813).
    Radius,
    /// The local `username` store.
    Local,
}

/// One server of a group.
#[derive(Debug)]
pub struct ServerSpec {
    /// Authentication address (TACACS+ uses it for accounting too).
    pub addr: SocketAddr,
    /// RADIUS accounting address (defaults to `addr` with port + 1).
    pub acct_addr: Option<SocketAddr>,
    /// The shared key.
    pub key: Secret,
    /// How long to wait for each reply.
    pub timeout: Duration,
}

impl ServerSpec {
    /// The RADIUS schedule: `tries` sends (at least 1, at most 255), each waiting
    /// the server's whole `timeout` (the PIX's fixed `timeout`/`retry`, no doubling).
    pub fn radius_backoff(&self, tries: u32) -> Backoff {
        Backoff {
            initial: self.timeout,
            max_interval: self.timeout,
            max_sends: u8::try_from(tries.max(1)).unwrap_or(u8::MAX),
        }
    }
}

/// A server group (`aaa-server TAG`).
#[derive(Debug)]
pub struct AaaConfig {
    /// The group's protocol.
    pub protocol: Protocol,
    /// Servers, tried in order.
    pub servers: Vec<ServerSpec>,
    /// RADIUS transmissions per server (at least 1, at most 255); see
    /// [`ServerSpec::radius_backoff`].
    pub radius_retries: u32,
    /// Whether Access-Requests carry a Message-Authenticator (RFC 3579).
    pub radius_message_authenticator: bool,
    /// Whether an Access-Accept, Access-Reject or Access-Challenge must carry a
    /// valid Message-Authenticator (default on: Blast-RADIUS, CVE-2024-3596). A
    /// reply without one is refused with
    /// [`XauthError::MissingMessageAuthenticator`] and the request moves on to
    /// the next server (in the end [`AuthOutcome::Unreachable`]). A wrong one is
    /// always refused, required or not.
    pub radius_require_message_authenticator: bool,
    /// The `aaa-server` tag, for error messages.
    pub tag: String,
    /// Our address: NAS-IP-Address, and the TACACS+ `nas_addr` argument.
    pub nas_ip: Ipv4Addr,
    /// NAS-Identifier in every RADIUS request (`None`: left out).
    pub nas_identifier: Option<Vec<u8>>,
    /// The TACACS+ `port` field (the PIX sends `PIX`).
    pub port_name: Vec<u8>,
    /// TACACS+ login type.
    pub tacacs_login: LoginKind,
    /// Requests outstanding at once.
    pub max_pending: usize,
}

impl AaaConfig {
    /// A group of `protocol` with the PIX's defaults (PAP for TACACS+, 4 RADIUS tries).
    pub fn new(protocol: Protocol, nas_ip: Ipv4Addr) -> Self {
        AaaConfig {
            protocol,
            servers: Vec::new(),
            radius_retries: 4,
            radius_message_authenticator: true,
            radius_require_message_authenticator: true,
            tag: String::new(),
            nas_ip,
            nas_identifier: None,
            port_name: b"PIX".to_vec(),
            tacacs_login: LoginKind::Pap,
            max_pending: 256,
        }
    }
}

/// Names one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Names one TCP connection the driver opens for TACACS+.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// IO for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AaaTransmit {
    /// Send one UDP datagram.
    Datagram {
        /// The request it belongs to.
        request: RequestId,
        /// Where to.
        to: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
    },
    /// Write bytes on TCP connection `conn`, opening it to `to` first if new.
    Stream {
        /// The connection.
        conn: ConnId,
        /// The server.
        to: SocketAddr,
        /// The bytes.
        payload: Vec<u8>,
    },
    /// Close TCP connection `conn`.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

/// A login to check.
#[derive(Debug)]
pub struct AuthRequest {
    /// User name.
    pub user: Vec<u8>,
    /// Password (or token answer).
    pub password: Secret,
    /// The VPN client's address (Calling-Station-Id / rem_addr).
    pub client_addr: Option<IpAddr>,
    /// RADIUS State when answering an Access-Challenge.
    pub radius_state: Option<Vec<u8>>,
}

/// The result of an authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Accepted; RADIUS may assign an address.
    Accept(AcceptInfo),
    /// Refused.
    Reject {
        /// Server text, if any.
        message: Option<Vec<u8>>,
    },
    /// The server wants an answer to a challenge (RADIUS Access-Challenge, or
    /// TACACS+ GETDATA): answer with [`AaaClient::answer_challenge`].
    Challenge {
        /// The prompt.
        message: Option<Vec<u8>>,
        /// RADIUS State to send back in the next Access-Request (`None` for TACACS+).
        radius_state: Option<Vec<u8>>,
    },
    /// No server of the group answered (timeouts, errors, wrong keys).
    Unreachable,
}

impl AuthOutcome {
    /// The Xauth verdict this outcome means for the user: accept, a challenge
    /// round (token users), or reject (also when no server answered: the PIX
    /// refuses the user when its AAA servers are down).
    pub fn to_verdict(&self) -> Verdict {
        match self {
            AuthOutcome::Accept(_) => Verdict::Accept,
            AuthOutcome::Challenge { message, .. } => Verdict::Challenge {
                message: message.clone().unwrap_or_default(),
                challenge: None,
            },
            AuthOutcome::Reject { .. } | AuthOutcome::Unreachable => Verdict::Reject,
        }
    }
}

/// An accounting record to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctInfo {
    /// Start, Stop or InterimUpdate (TACACS+ WATCHDOG).
    pub status: AcctStatus,
    /// User.
    pub user: Vec<u8>,
    /// User group (TACACS+ `group=`).
    pub group: Option<Vec<u8>>,
    /// The client's address.
    pub client_addr: IpAddr,
    /// The address assigned to the client (RADIUS Framed-IP-Address).
    pub framed_ip: Option<Ipv4Addr>,
    /// Service (`telnet`, `ftp`, `http`, `ipsec`).
    pub service: Vec<u8>,
    /// Task / session id: the same in Start and Stop.
    pub task_id: u32,
    /// Start time, seconds since the epoch (supplied by the driver).
    pub start_time: u64,
    /// Elapsed seconds.
    pub elapsed_time: Option<u32>,
    /// Bytes from the client.
    pub bytes_in: Option<u64>,
    /// Bytes to the client.
    pub bytes_out: Option<u64>,
    /// Packets from the client.
    pub packets_in: Option<u32>,
    /// Packets to the client.
    pub packets_out: Option<u32>,
    /// RADIUS Class from the Access-Accept.
    pub class: Option<Vec<u8>>,
    /// Why the session ended (Stop; `None`: User-Request).
    pub terminate_cause: Option<TerminateCause>,
    /// Acct-Session-Id (`None`: `task_id` in 8 hex digits).
    pub session_id: Option<Vec<u8>>,
}

impl AcctInfo {
    /// An Accounting-On or Accounting-Off record (about the NAS, no user or session).
    #[must_use]
    pub fn nas(status: AcctStatus, session_id: Vec<u8>, nas_addr: Ipv4Addr) -> Self {
        AcctInfo {
            status,
            user: Vec::new(),
            group: None,
            client_addr: IpAddr::V4(nas_addr),
            framed_ip: None,
            service: Vec::new(),
            task_id: 0,
            start_time: 0,
            elapsed_time: None,
            bytes_in: None,
            bytes_out: None,
            packets_in: None,
            packets_out: None,
            class: None,
            terminate_cause: None,
            session_id: Some(session_id),
        }
    }
}

/// What the client tells its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AaaEvent {
    /// An authentication finished.
    Auth {
        /// Which.
        request: RequestId,
        /// How.
        outcome: AuthOutcome,
    },
    /// An accounting record was acknowledged (`ok`) or no server took it.
    Accounting {
        /// Which.
        request: RequestId,
        /// Whether a server acknowledged it.
        ok: bool,
    },
}

#[derive(Debug)]
enum Job {
    Auth(AuthRequest),
    Acct(AcctInfo),
}

#[derive(Debug)]
enum Wire {
    Radius {
        ident: u8,
        auth: [u8; 16],
        to: SocketAddr,
        bytes: Vec<u8>,
    },
    TacacsLogin {
        conn: ConnId,
        login: TacacsLogin,
        buf: StreamBuffer,
    },
    TacacsAcct {
        conn: ConnId,
        acct: TacacsAccounting,
        buf: StreamBuffer,
    },
}

#[derive(Debug)]
struct Pending {
    job: Job,
    server: usize,
    /// RADIUS: the request's sends to this server, at the server's fixed timeout.
    /// TACACS+: the wait for the server's next packet (a TCP stream is not resent).
    /// Giving up moves the request to the next server.
    timer: Retransmit,
    wire: Wire,
    /// A TACACS+ GETDATA is with the user (the timer is stopped while waiting).
    waiting_user: bool,
}

/// The AAA client for one server group.
#[derive(Debug)]
pub struct AaaClient {
    config: AaaConfig,
    local: LocalUsers,
    pending: BTreeMap<RequestId, Pending>,
    next_request: u64,
    next_conn: u64,
    next_ident: u8,
    transmits: VecDeque<AaaTransmit>,
    events: VecDeque<AaaEvent>,
    refused_without_message_authenticator: u64,
}

impl AaaClient {
    /// A client for a group. `local` is used when the protocol is [`Protocol::Local`].
    pub fn new(config: AaaConfig, local: LocalUsers) -> Self {
        AaaClient {
            config,
            local,
            pending: BTreeMap::new(),
            next_request: 1,
            next_conn: 1,
            next_ident: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            refused_without_message_authenticator: 0,
        }
    }

    /// Starts an authentication.
    pub fn authenticate<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        req: AuthRequest,
    ) -> Result<RequestId, XauthError> {
        let id = self.take_request_id();
        if self.config.protocol == Protocol::Local {
            let outcome = if self
                .local
                .authenticate(&req.user, req.password.expose_secret())
            {
                AuthOutcome::Accept(AcceptInfo::default())
            } else {
                AuthOutcome::Reject { message: None }
            };
            self.events.push_back(AaaEvent::Auth {
                request: id,
                outcome,
            });
            return Ok(id);
        }
        self.start_job(now, rng, id, Job::Auth(req))?;
        Ok(id)
    }

    /// Sends an accounting record (LOCAL groups acknowledge it at once).
    pub fn account<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        info: AcctInfo,
    ) -> Result<RequestId, XauthError> {
        if info.status.is_nas_wide() && self.config.protocol != Protocol::Radius {
            return Err(XauthError::BadValue {
                what: "Accounting-On/Off outside RADIUS (Acct-Status-Type)",
                value: u64::from(info.status.value()),
            });
        }
        let id = self.take_request_id();
        if self.config.protocol == Protocol::Local {
            self.events.push_back(AaaEvent::Accounting {
                request: id,
                ok: true,
            });
            return Ok(id);
        }
        self.start_job(now, rng, id, Job::Acct(info))?;
        Ok(id)
    }

    /// Answers an [`AuthOutcome::Challenge`]: for TACACS+ a CONTINUE on the same
    /// connection; for RADIUS a new Access-Request carrying the State (use
    /// [`AaaClient::authenticate`] with `radius_state` set).
    pub fn answer_challenge(
        &mut self,
        now: Instant,
        request: RequestId,
        answer: &Secret,
    ) -> Result<(), XauthError> {
        let p = self
            .pending
            .get_mut(&request)
            .filter(|p| p.waiting_user)
            .ok_or(XauthError::UnknownRequest(request.0))?;
        let Wire::TacacsLogin { conn, login, .. } = &mut p.wire else {
            return Err(XauthError::UnknownRequest(request.0));
        };
        let bytes = login.continue_with(answer)?;
        let conn = *conn;
        p.waiting_user = false;
        p.timer.start(now);
        let to = self
            .config
            .servers
            .get(p.server)
            .map(|s| s.addr)
            .ok_or(XauthError::NoServer("the request"))?;
        self.transmits.push_back(AaaTransmit::Stream {
            conn,
            to,
            payload: bytes,
        });
        Ok(())
    }

    /// Abandons a request (the Xauth dialogue it served has ended): its TCP
    /// connection is closed, later replies are stray. No event is emitted.
    pub fn cancel(&mut self, request: RequestId) -> Result<(), XauthError> {
        let p = self
            .pending
            .remove(&request)
            .ok_or(XauthError::UnknownRequest(request.0))?;
        if let Wire::TacacsLogin { conn, .. } | Wire::TacacsAcct { conn, .. } = p.wire {
            self.transmits.push_back(AaaTransmit::Close { conn });
        }
        Ok(())
    }

    /// The next IO to do.
    pub fn poll_transmit(&mut self) -> Option<AaaTransmit> {
        self.transmits.pop_front()
    }

    /// The next result.
    pub fn poll_event(&mut self) -> Option<AaaEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .values()
            .filter_map(|p| p.timer.deadline())
            .min()
    }

    /// RADIUS replies refused because they carried no Message-Authenticator
    /// (see [`AaaConfig::radius_require_message_authenticator`]).
    pub fn refused_without_message_authenticator(&self) -> u64 {
        self.refused_without_message_authenticator
    }

    /// Requests outstanding.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Retransmits, fails over or gives up on requests whose deadline passed.
    pub fn handle_timeout<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        let due: Vec<RequestId> = self
            .pending
            .iter()
            .filter(|(_, p)| p.timer.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(p) = self.pending.get_mut(&id) else {
                continue;
            };
            match (p.timer.on_timeout(now), &p.wire) {
                (Action::NotYet, _) => {}
                (Action::Resend, Wire::Radius { to, bytes, .. }) => {
                    // Same identifier and authenticator: a retransmission.
                    self.transmits.push_back(AaaTransmit::Datagram {
                        request: id,
                        to: *to,
                        payload: bytes.clone(),
                    });
                }
                // A TACACS+ wait is a single send, and RADIUS sent its last try.
                (Action::Resend | Action::GiveUp, _) => self.next_server(now, rng, id),
            }
        }
    }

    /// Feeds a UDP datagram from `from` (a RADIUS reply).
    ///
    /// A reply that matches no request, or does not verify with the server's key,
    /// is an error the caller drops; the request keeps waiting.
    pub fn handle_datagram<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), XauthError> {
        let ident = *datagram.get(1).ok_or(XauthError::Truncated {
            what: "RADIUS header",
            offset: 0,
            needed: radius::HEADER_LEN,
            available: datagram.len(),
        })?;
        let found = self.pending.iter().find_map(|(id, p)| match &p.wire {
            Wire::Radius {
                ident: i, to, auth, ..
            } if *i == ident && *to == from => Some((*id, *auth, p.server)),
            _ => None,
        });
        let (id, auth, server) = found.ok_or(XauthError::StrayReply {
            protocol: "RADIUS",
            identifier: u64::from(ident),
        })?;
        let key = &self
            .config
            .servers
            .get(server)
            .ok_or(XauthError::NoServer("the request"))?
            .key;
        let reply = radius::verify_response(datagram, ident, &auth, key)?;
        let is_auth = matches!(self.pending.get(&id).map(|p| &p.job), Some(Job::Auth(_)));
        // Why after the Response Authenticator: a reply that does not even verify
        // is noise (a silent drop); one that does but lacks the HMAC comes from a
        // server that must be fixed, or from a Blast-RADIUS forgery.
        if is_auth
            && self.config.radius_require_message_authenticator
            && reply.attr(radius::attr::MESSAGE_AUTHENTICATOR).is_none()
        {
            self.refused_without_message_authenticator =
                self.refused_without_message_authenticator.saturating_add(1);
            self.next_server(now, rng, id);
            return Err(XauthError::MissingMessageAuthenticator {
                group: self.config.tag.clone(),
                server: from.ip(),
                reply: radius::code_name(reply.code),
            });
        }
        if is_auth {
            match radius::access_result(&reply) {
                Ok(r) => {
                    self.pending.remove(&id);
                    let outcome = match r {
                        AccessResult::Accept(info) => AuthOutcome::Accept(info),
                        AccessResult::Reject { reply_message } => AuthOutcome::Reject {
                            message: reply_message,
                        },
                        AccessResult::Challenge {
                            reply_message,
                            state,
                        } => AuthOutcome::Challenge {
                            message: reply_message,
                            radius_state: state,
                        },
                    };
                    self.events.push_back(AaaEvent::Auth {
                        request: id,
                        outcome,
                    });
                    Ok(())
                }
                Err(e) => {
                    // A verified answer that is not an answer to our question:
                    // this server is confused, try the next one.
                    self.next_server(now, rng, id);
                    Err(e)
                }
            }
        } else if reply.code == radius::code::ACCOUNTING_RESPONSE {
            self.pending.remove(&id);
            self.events.push_back(AaaEvent::Accounting {
                request: id,
                ok: true,
            });
            Ok(())
        } else {
            self.next_server(now, rng, id);
            Err(XauthError::BadValue {
                what: "RADIUS response code to an Accounting-Request",
                value: u64::from(reply.code),
            })
        }
    }

    /// Feeds bytes read from TCP connection `conn`.
    pub fn handle_stream<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        conn: ConnId,
        bytes: &[u8],
    ) -> Result<(), XauthError> {
        let id = self.request_of_conn(conn).ok_or(XauthError::StrayReply {
            protocol: "TACACS+",
            identifier: conn.0,
        })?;
        if let Some(p) = self.pending.get_mut(&id) {
            if let Wire::TacacsLogin { buf, .. } | Wire::TacacsAcct { buf, .. } = &mut p.wire {
                // Why: a server that streams without end must not grow memory.
                if buf.len().saturating_add(bytes.len()) > tacacs::MAX_BODY_LEN.saturating_mul(2) {
                    self.next_server(now, rng, id);
                    return Err(XauthError::TooMany {
                        what: "buffered TACACS+ bytes",
                        limit: tacacs::MAX_BODY_LEN.saturating_mul(2),
                    });
                }
                buf.feed(bytes);
            }
        }
        self.drain(now, rng, id)
    }

    /// The server (or the network) closed TCP connection `conn`.
    pub fn handle_stream_closed<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        conn: ConnId,
    ) {
        if let Some(id) = self.request_of_conn(conn) {
            self.next_server(now, rng, id);
        }
    }

    fn drain<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        id: RequestId,
    ) -> Result<(), XauthError> {
        // Bounded: each pass consumes one buffered packet.
        for _ in 0..256 {
            let Some(p) = self.pending.get_mut(&id) else {
                return Ok(());
            };
            let next = match &mut p.wire {
                Wire::TacacsLogin { buf, .. } | Wire::TacacsAcct { buf, .. } => buf.next_packet(),
                Wire::Radius { .. } => return Ok(()),
            };
            match next {
                Ok(Some(pk)) => match self.on_tacacs_packet(now, id, &pk) {
                    Ok(true) => {}
                    Ok(false) => return Ok(()),
                    // A stray packet of another session: drop it, keep waiting.
                    Err(e) if e.is_silent_drop() => return Err(e),
                    Err(e) => {
                        self.next_server(now, rng, id);
                        return Err(e);
                    }
                },
                Ok(None) => return Ok(()),
                Err(e) => {
                    self.next_server(now, rng, id);
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Returns Ok(true) if the request is still pending and more packets may follow.
    fn on_tacacs_packet(
        &mut self,
        now: Instant,
        id: RequestId,
        packet: &[u8],
    ) -> Result<bool, XauthError> {
        let to = self.server_addr_of(id)?;
        let Some(p) = self.pending.get_mut(&id) else {
            return Ok(false);
        };
        match &mut p.wire {
            Wire::TacacsLogin { conn, login, .. } => {
                let conn = *conn;
                match login.handle(packet)? {
                    LoginStep::Send(bytes) => {
                        p.timer.start(now);
                        self.transmits.push_back(AaaTransmit::Stream {
                            conn,
                            to,
                            payload: bytes,
                        });
                        Ok(true)
                    }
                    LoginStep::NeedData { server_msg, .. } => {
                        p.waiting_user = true;
                        p.timer.stop();
                        self.events.push_back(AaaEvent::Auth {
                            request: id,
                            outcome: AuthOutcome::Challenge {
                                message: Some(server_msg),
                                radius_state: None,
                            },
                        });
                        Ok(true)
                    }
                    LoginStep::Done(LoginResult::Pass { .. }) => {
                        self.finish_tcp(id, conn, AuthOutcome::Accept(AcceptInfo::default()));
                        Ok(false)
                    }
                    LoginStep::Done(LoginResult::Fail { server_msg }) => {
                        let message = Some(server_msg).filter(|m| !m.is_empty());
                        self.finish_tcp(id, conn, AuthOutcome::Reject { message });
                        Ok(false)
                    }
                    LoginStep::Done(LoginResult::Error { status, .. }) => {
                        Err(XauthError::BadValue {
                            what: "TACACS+ authentication status (server error)",
                            value: u64::from(status),
                        })
                    }
                }
            }
            Wire::TacacsAcct { conn, acct, .. } => {
                let conn = *conn;
                let result = acct.handle(packet)?;
                if !result.success {
                    return Err(XauthError::BadValue {
                        what: "TACACS+ accounting status",
                        value: u64::from(result.status),
                    });
                }
                self.pending.remove(&id);
                self.transmits.push_back(AaaTransmit::Close { conn });
                self.events.push_back(AaaEvent::Accounting {
                    request: id,
                    ok: true,
                });
                Ok(false)
            }
            Wire::Radius { .. } => Ok(false),
        }
    }

    fn finish_tcp(&mut self, id: RequestId, conn: ConnId, outcome: AuthOutcome) {
        self.pending.remove(&id);
        self.transmits.push_back(AaaTransmit::Close { conn });
        self.events.push_back(AaaEvent::Auth {
            request: id,
            outcome,
        });
    }

    fn request_of_conn(&self, conn: ConnId) -> Option<RequestId> {
        self.pending.iter().find_map(|(id, p)| match &p.wire {
            Wire::TacacsLogin { conn: c, .. } | Wire::TacacsAcct { conn: c, .. } if *c == conn => {
                Some(*id)
            }
            _ => None,
        })
    }

    fn server_addr_of(&self, id: RequestId) -> Result<SocketAddr, XauthError> {
        self.pending
            .get(&id)
            .and_then(|p| self.config.servers.get(p.server))
            .map(|s| s.addr)
            .ok_or(XauthError::NoServer("the request"))
    }

    fn take_request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_request);
        self.next_request = self.next_request.wrapping_add(1);
        id
    }

    fn start_job<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        id: RequestId,
        job: Job,
    ) -> Result<(), XauthError> {
        if self.config.servers.is_empty() {
            return Err(XauthError::NoServer("this AAA group"));
        }
        let limit = self.config.max_pending.min(256);
        if self.pending.len() >= limit {
            return Err(XauthError::TooMany {
                what: "pending AAA requests",
                limit,
            });
        }
        self.send_to(now, rng, id, job, 0)
    }

    /// Moves request `id` to the server after its current one, or gives up.
    fn next_server<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R, id: RequestId) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        if let Wire::TacacsLogin { conn, .. } | Wire::TacacsAcct { conn, .. } = &p.wire {
            self.transmits.push_back(AaaTransmit::Close { conn: *conn });
        }
        let next = p.server.saturating_add(1);
        if next < self.config.servers.len() {
            // Errors here (a field too long for the protocol) cannot get better
            // on another server of the same group: give up.
            let job_kind_auth = matches!(p.job, Job::Auth(_));
            if self.send_to(now, rng, id, p.job, next).is_ok() {
                return;
            }
            self.give_up(id, job_kind_auth);
            return;
        }
        self.give_up(id, matches!(p.job, Job::Auth(_)));
    }

    fn give_up(&mut self, id: RequestId, auth: bool) {
        self.events.push_back(if auth {
            AaaEvent::Auth {
                request: id,
                outcome: AuthOutcome::Unreachable,
            }
        } else {
            AaaEvent::Accounting {
                request: id,
                ok: false,
            }
        });
    }

    fn send_to<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        rng: &mut R,
        id: RequestId,
        job: Job,
        server: usize,
    ) -> Result<(), XauthError> {
        let (ident, conn) = match self.config.protocol {
            Protocol::Radius => (self.free_ident(), ConnId(0)),
            _ => (0, self.take_conn()),
        };
        let spec = self
            .config
            .servers
            .get(server)
            .ok_or(XauthError::NoServer("this AAA group"))?;
        let backoff = match self.config.protocol {
            Protocol::Radius => spec.radius_backoff(self.config.radius_retries),
            _ => Backoff::once(spec.timeout),
        };
        let wire = match (self.config.protocol, &job) {
            (Protocol::Radius, job) => {
                let (to, bytes, auth) = match job {
                    Job::Auth(req) => {
                        let mut auth = [0u8; 16];
                        rng.fill_bytes(&mut auth);
                        let station = req.client_addr.map(|a| a.to_string().into_bytes());
                        let access = radius::AccessRequest {
                            user_name: &req.user,
                            password: &req.password,
                            nas_ip: self.config.nas_ip,
                            nas_port: Some(u32::try_from(id.0 & 0xffff).unwrap_or(0)),
                            calling_station_id: station.as_deref(),
                            nas_identifier: self.config.nas_identifier.as_deref(),
                            state: req.radius_state.as_deref(),
                            message_authenticator: self.config.radius_message_authenticator,
                        };
                        let bytes = radius::build_access_request(&access, ident, auth, &spec.key)?;
                        (spec.addr, bytes, auth)
                    }
                    Job::Acct(info) => {
                        let record = radius_accounting(
                            info,
                            self.config.nas_ip,
                            self.config.nas_identifier.as_deref(),
                        );
                        let bytes = radius::build_accounting_request(&record, ident, &spec.key)?;
                        let auth = radius::request_authenticator(&bytes).unwrap_or([0; 16]);
                        let to = spec.acct_addr.unwrap_or_else(|| {
                            SocketAddr::new(spec.addr.ip(), spec.addr.port().wrapping_add(1))
                        });
                        (to, bytes, auth)
                    }
                };
                self.transmits.push_back(AaaTransmit::Datagram {
                    request: id,
                    to,
                    payload: bytes.clone(),
                });
                Wire::Radius {
                    ident,
                    auth,
                    to,
                    bytes,
                }
            }
            (_, Job::Auth(req)) => {
                let session_id = rng.next_u32();
                let rem_addr = req
                    .client_addr
                    .map(|a| a.to_string().into_bytes())
                    .unwrap_or_default();
                let login_request = LoginRequest {
                    kind: self.config.tacacs_login,
                    user: &req.user,
                    password: &req.password,
                    port: &self.config.port_name,
                    rem_addr: &rem_addr,
                    priv_lvl: 1,
                };
                let (login, bytes) = TacacsLogin::start(&spec.key, session_id, &login_request)?;
                self.transmits.push_back(AaaTransmit::Stream {
                    conn,
                    to: spec.addr,
                    payload: bytes,
                });
                Wire::TacacsLogin {
                    conn,
                    login,
                    buf: StreamBuffer::new(),
                }
            }
            (_, Job::Acct(info)) => {
                let session_id = rng.next_u32();
                let rec = tacacs_record(info, self.config.nas_ip, &self.config.port_name);
                let (acct, bytes) =
                    TacacsAccounting::start(&spec.key, session_id, &rec.to_request())?;
                self.transmits.push_back(AaaTransmit::Stream {
                    conn,
                    to: spec.addr,
                    payload: bytes,
                });
                Wire::TacacsAcct {
                    conn,
                    acct,
                    buf: StreamBuffer::new(),
                }
            }
        };
        self.pending.insert(
            id,
            Pending {
                job,
                server,
                timer: Retransmit::started(backoff, now),
                wire,
                waiting_user: false,
            },
        );
        Ok(())
    }

    fn take_conn(&mut self) -> ConnId {
        let c = ConnId(self.next_conn);
        self.next_conn = self.next_conn.wrapping_add(1);
        c
    }

    /// A RADIUS identifier no pending request uses (at most 256 are pending).
    fn free_ident(&mut self) -> u8 {
        for _ in 0..=255u16 {
            let i = self.next_ident;
            self.next_ident = self.next_ident.wrapping_add(1);
            let used = self
                .pending
                .values()
                .any(|p| matches!(p.wire, Wire::Radius { ident, .. } if ident == i));
            if !used {
                return i;
            }
        }
        self.next_ident
    }
}

/// The RADIUS Accounting-Request for a record.
pub fn radius_accounting(
    info: &AcctInfo,
    nas_ip: Ipv4Addr,
    nas_identifier: Option<&[u8]>,
) -> radius::AccountingRequest {
    let nas_wide = info.status.is_nas_wide();
    radius::AccountingRequest {
        status: info.status,
        session_id: info
            .session_id
            .clone()
            .unwrap_or_else(|| format!("{:08X}", info.task_id).into_bytes()),
        user_name: info.user.clone(),
        nas_ip,
        nas_identifier: nas_identifier.map(<[u8]>::to_vec),
        framed_ip: info.framed_ip,
        calling_station_id: (!nas_wide).then(|| info.client_addr.to_string().into_bytes()),
        class: info.class.clone(),
        input_octets: info.bytes_in,
        output_octets: info.bytes_out,
        input_packets: info.packets_in,
        output_packets: info.packets_out,
        session_time: info.elapsed_time,
        terminate_cause: (info.status == AcctStatus::Stop).then(|| {
            info.terminate_cause
                .unwrap_or(TerminateCause::UserRequest)
                .value()
        }),
    }
}

/// The TACACS+ accounting record for a record.
pub fn tacacs_record(info: &AcctInfo, nas_ip: Ipv4Addr, port: &[u8]) -> AccountingRecord {
    AccountingRecord {
        flag: match info.status {
            AcctStatus::Start => acct_flag::START,
            AcctStatus::Stop => acct_flag::STOP,
            // Accounting-On/Off never reach TACACS+ (`AaaClient::account` refuses them).
            AcctStatus::InterimUpdate | AcctStatus::AccountingOn | AcctStatus::AccountingOff => {
                acct_flag::WATCHDOG
            }
        },
        user: info.user.clone(),
        group: info.group.clone(),
        client_addr: info.client_addr.to_string().into_bytes(),
        service: info.service.clone(),
        task_id: info.task_id,
        start_time: info.start_time,
        elapsed_time: info.elapsed_time.map(u64::from),
        bytes_in: info.bytes_in,
        bytes_out: info.bytes_out,
        nas_addr: Some(nas_ip.to_string().into_bytes()),
        port: port.to_vec(),
    }
}
