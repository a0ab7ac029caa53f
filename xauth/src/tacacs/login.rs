//! The client side of one authentication session: ASCII or PAP login.

use super::body::{authen_status, authen_type, AuthenContinue, AuthenReply, AuthenStart};
use super::packet::{open_reply, seal, Header, PacketType, VERSION_DEFAULT, VERSION_ONE};
use crate::error::XauthError;
use crate::Secret;

/// The login method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginKind {
    /// ASCII: START with the user, the server prompts (GETPASS), CONTINUE with the password.
    Ascii,
    /// PAP: the password is in the START's data.
    Pap,
}

/// A finished login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginResult {
    /// PASS.
    Pass {
        /// The server's message.
        server_msg: Vec<u8>,
    },
    /// FAIL.
    Fail {
        /// The server's message.
        server_msg: Vec<u8>,
    },
    /// ERROR, RESTART or FOLLOW (not supported): try the next server.
    Error {
        /// The status.
        status: u8,
        /// The server's message.
        server_msg: Vec<u8>,
    },
}

/// What to do after a server packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStep {
    /// Send these bytes (a CONTINUE) on the same connection.
    Send(Vec<u8>),
    /// The server asks for data the machine does not have (GETDATA: a token
    /// challenge): show `server_msg` and call [`TacacsLogin::continue_with`].
    NeedData {
        /// The prompt.
        server_msg: Vec<u8>,
        /// Whether the answer should not be echoed.
        no_echo: bool,
    },
    /// The login is over; close the connection.
    Done(LoginResult),
}

/// What a login needs to know.
#[derive(Debug)]
pub struct LoginRequest<'a> {
    /// ASCII or PAP.
    pub kind: LoginKind,
    /// User name.
    pub user: &'a [u8],
    /// Password.
    pub password: &'a Secret,
    /// The `port` field.
    pub port: &'a [u8],
    /// The `rem_addr` field (the VPN client's address).
    pub rem_addr: &'a [u8],
    /// Privilege level asked for (PIX: 1).
    pub priv_lvl: u8,
}

/// The client side of one authentication session (one TCP connection).
#[derive(Debug)]
pub struct TacacsLogin {
    key: Secret,
    header: Header,
    kind: LoginKind,
    user: Vec<u8>,
    password: Secret,
    done: bool,
}

impl TacacsLogin {
    /// Builds the START packet; `session_id` must be random (from the caller's RNG).
    pub fn start(
        key: &Secret,
        session_id: u32,
        req: &LoginRequest<'_>,
    ) -> Result<(Self, Vec<u8>), XauthError> {
        let (version, authen_type, data) = match req.kind {
            LoginKind::Ascii => (VERSION_DEFAULT, authen_type::ASCII, Vec::new()),
            LoginKind::Pap => (
                VERSION_ONE,
                authen_type::PAP,
                req.password.expose_secret().to_vec(),
            ),
        };
        // Zeroizing: `data` is a copy of a PAP password.
        let start = zeroize::Zeroizing::new(AuthenStart {
            action: 1,
            priv_lvl: req.priv_lvl,
            authen_type,
            authen_service: 1,
            user: req.user.to_vec(),
            port: req.port.to_vec(),
            rem_addr: req.rem_addr.to_vec(),
            data,
        });
        let header = Header {
            version,
            kind: PacketType::Authentication,
            seq_no: 1,
            flags: 0,
            session_id,
            length: 0,
        };
        let body = zeroizing(start.emit()?);
        let bytes = seal(header, &body, key)?;
        Ok((
            TacacsLogin {
                key: key.duplicate(),
                header,
                kind: req.kind,
                user: req.user.to_vec(),
                password: req.password.duplicate(),
                done: false,
            },
            bytes,
        ))
    }

    /// The session id.
    pub fn session_id(&self) -> u32 {
        self.header.session_id
    }

    /// Feeds one complete server packet (see [`StreamBuffer`](super::StreamBuffer)).
    pub fn handle(&mut self, packet: &[u8]) -> Result<LoginStep, XauthError> {
        let body = open_reply(&self.key, &self.header, packet)?;
        let reply = AuthenReply::parse(&body)?;
        self.header.seq_no = self.header.seq_no.saturating_add(1);
        use authen_status::*;
        let step = match (reply.status, self.kind) {
            (PASS, _) => LoginStep::Done(LoginResult::Pass {
                server_msg: reply.server_msg,
            }),
            (FAIL, _) => LoginStep::Done(LoginResult::Fail {
                server_msg: reply.server_msg,
            }),
            (GETUSER, LoginKind::Ascii) => {
                let user = self.user.clone();
                LoginStep::Send(self.send_continue(&user)?)
            }
            (GETPASS, LoginKind::Ascii) => {
                let pw = self.password.duplicate();
                LoginStep::Send(self.send_continue(pw.expose_secret())?)
            }
            (GETDATA, LoginKind::Ascii) => LoginStep::NeedData {
                server_msg: reply.server_msg,
                no_echo: reply.flags & 1 != 0,
            },
            (status @ (ERROR | RESTART | FOLLOW), _) => LoginStep::Done(LoginResult::Error {
                status,
                server_msg: reply.server_msg,
            }),
            (status, _) => {
                return Err(XauthError::BadValue {
                    what: "TACACS+ authentication status",
                    value: u64::from(status),
                })
            }
        };
        if matches!(step, LoginStep::Done(_)) {
            self.done = true;
        }
        Ok(step)
    }

    /// Answers a [`LoginStep::NeedData`] prompt.
    pub fn continue_with(&mut self, answer: &Secret) -> Result<Vec<u8>, XauthError> {
        self.send_continue(answer.expose_secret())
    }

    fn send_continue(&mut self, user_msg: &[u8]) -> Result<Vec<u8>, XauthError> {
        if self.done {
            return Err(XauthError::InvalidCommand {
                command: "CONTINUE",
                state: "the login is finished",
            });
        }
        // Why: seq_no must not wrap (RFC 8907 4.1); a server that keeps asking
        // would otherwise loop forever.
        if self.header.seq_no >= 253 {
            return Err(XauthError::TooMany {
                what: "TACACS+ packets in one session",
                limit: 253,
            });
        }
        self.header.seq_no = self.header.seq_no.saturating_add(1);
        // Zeroizing: `user_msg` is a copy of a password or a challenge answer.
        let cont = zeroize::Zeroizing::new(AuthenContinue {
            user_msg: user_msg.to_vec(),
            data: Vec::new(),
            flags: 0,
        });
        let body = zeroizing(cont.emit()?);
        seal(self.header, &body, &self.key)
    }
}

fn zeroizing(v: Vec<u8>) -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tacacs::packet::open;

    fn key() -> Secret {
        Secret::from("secretkey")
    }

    fn server_reply(login: &TacacsLogin, seq: u8, status: u8, msg: &[u8]) -> Vec<u8> {
        let h = Header {
            seq_no: seq,
            ..login.header
        };
        let body = AuthenReply {
            status,
            flags: 1,
            server_msg: msg.to_vec(),
            data: vec![],
        }
        .emit()
        .unwrap();
        seal(h, &body, &key()).unwrap()
    }

    #[test]
    fn ascii_login_flow() {
        let pw = Secret::from("cisco123");
        let req = LoginRequest {
            kind: LoginKind::Ascii,
            user: b"cisco_customer",
            password: &pw,
            port: b"PIX",
            rem_addr: b"10.89.129.200",
            priv_lvl: 1,
        };
        let (mut login, start) = TacacsLogin::start(&key(), 0xabcdef01, &req).unwrap();
        let (h, body) = open(&start, &key()).unwrap();
        assert_eq!((h.version, h.seq_no, h.flags), (0xc0, 1, 0));
        let s = AuthenStart::parse(&body).unwrap();
        assert_eq!(s.user, b"cisco_customer");
        assert_eq!(s.authen_type, authen_type::ASCII);
        assert!(s.data.is_empty());
        // GETPASS -> CONTINUE(password) with seq 3.
        let getpass = server_reply(&login, 2, authen_status::GETPASS, b"Password: ");
        let LoginStep::Send(cont) = login.handle(&getpass).unwrap() else {
            panic!("expected CONTINUE")
        };
        let (h, body) = open(&cont, &key()).unwrap();
        assert_eq!(h.seq_no, 3);
        assert_eq!(AuthenContinue::parse(&body).unwrap().user_msg, b"cisco123");
        // A replayed seq 2 is refused, seq 4 PASS finishes.
        assert!(matches!(
            login.handle(&getpass),
            Err(XauthError::Mismatch {
                what: "TACACS+ seq_no",
                ..
            })
        ));
        let ok = server_reply(&login, 4, authen_status::PASS, b"");
        assert_eq!(
            login.handle(&ok).unwrap(),
            LoginStep::Done(LoginResult::Pass { server_msg: vec![] })
        );
    }

    #[test]
    fn pap_login_and_mismatches() {
        let pw = Secret::from("wrong");
        let req = LoginRequest {
            kind: LoginKind::Pap,
            user: b"u",
            password: &pw,
            port: b"",
            rem_addr: b"",
            priv_lvl: 1,
        };
        let (mut login, start) = TacacsLogin::start(&key(), 5, &req).unwrap();
        let (h, body) = open(&start, &key()).unwrap();
        assert_eq!(h.version, 0xc1);
        assert_eq!(AuthenStart::parse(&body).unwrap().data, b"wrong");
        let mut other = server_reply(&login, 2, authen_status::FAIL, b"no");
        other[4..8].copy_from_slice(&6u32.to_be_bytes());
        assert!(matches!(
            login.handle(&other),
            Err(XauthError::Mismatch {
                what: "TACACS+ session_id",
                ..
            })
        ));
        // PAP does not take GETPASS.
        let getpass = server_reply(&login, 2, authen_status::GETPASS, b"");
        assert!(matches!(
            login.handle(&getpass),
            Err(XauthError::BadValue { .. })
        ));
        let (mut login, _) = TacacsLogin::start(&key(), 5, &req).unwrap();
        let fail = server_reply(&login, 2, authen_status::FAIL, b"no");
        assert_eq!(
            login.handle(&fail).unwrap(),
            LoginStep::Done(LoginResult::Fail {
                server_msg: b"no".to_vec()
            })
        );
    }
}
