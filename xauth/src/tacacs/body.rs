//! The clear bodies of the packets a client exchanges: authentication START,
//! REPLY and CONTINUE (RFC 8907 5.1-5.3), accounting REQUEST and REPLY (7.1, 7.2).

use crate::error::XauthError;
use crate::error::{len_u16, len_u8};
use pix_primitives::reader::Reader;

/// authen_type values (RFC 8907 5.1).
pub mod authen_type {
    /// ASCII login (prompts).
    pub const ASCII: u8 = 1;
    /// PAP.
    pub const PAP: u8 = 2;
    /// CHAP.
    pub const CHAP: u8 = 3;
}

/// Authentication reply status values (RFC 8907 5.2).
pub mod authen_status {
    /// Authenticated.
    pub const PASS: u8 = 1;
    /// Refused.
    pub const FAIL: u8 = 2;
    /// Send data (a challenge answer).
    pub const GETDATA: u8 = 3;
    /// Send the user name.
    pub const GETUSER: u8 = 4;
    /// Send the password.
    pub const GETPASS: u8 = 5;
    /// Start again.
    pub const RESTART: u8 = 6;
    /// Server error.
    pub const ERROR: u8 = 7;
    /// Use another server (deprecated).
    pub const FOLLOW: u8 = 0x21;
}

/// Authentication START body (RFC 8907 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenStart {
    /// 1 LOGIN, 2 CHPASS, 4 SENDAUTH.
    pub action: u8,
    /// Privilege level.
    pub priv_lvl: u8,
    /// [`authen_type`].
    pub authen_type: u8,
    /// 1 LOGIN, 3 PPP, ...
    pub authen_service: u8,
    /// User name.
    pub user: Vec<u8>,
    /// Port (the PIX sends e.g. "PIX").
    pub port: Vec<u8>,
    /// Remote (client) address.
    pub rem_addr: Vec<u8>,
    /// Data (the PAP password).
    pub data: Vec<u8>,
}

impl AuthenStart {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let mut reader = Reader::new(body, 0);
        let [action, priv_lvl, authen_type, authen_service, user_len, port_len, rem_addr_len, data_len] =
            reader.array::<8>("authentication START")?;
        let user = reader.take(usize::from(user_len), "START user")?.to_vec();
        let port = reader.take(usize::from(port_len), "START port")?.to_vec();
        let rem_addr = reader
            .take(usize::from(rem_addr_len), "START rem_addr")?
            .to_vec();
        let data = reader.take(usize::from(data_len), "START data")?.to_vec();
        expect_end(&reader, "authentication START")?;
        Ok(AuthenStart {
            action,
            priv_lvl,
            authen_type,
            authen_service,
            user,
            port,
            rem_addr,
            data,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        // Exact capacity: no reallocation leaves a copy of `data` (a PAP password).
        let len = [&self.user, &self.port, &self.rem_addr, &self.data]
            .iter()
            .fold(8usize, |n, f| n.saturating_add(f.len()));
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&[
            self.action,
            self.priv_lvl,
            self.authen_type,
            self.authen_service,
            len_u8("START user", self.user.len())?,
            len_u8("START port", self.port.len())?,
            len_u8("START rem_addr", self.rem_addr.len())?,
            len_u8("START data", self.data.len())?,
        ]);
        for f in [&self.user, &self.port, &self.rem_addr, &self.data] {
            out.extend_from_slice(f);
        }
        Ok(out)
    }
}

impl zeroize::Zeroize for AuthenStart {
    /// Wipes the variable fields (`data` holds a PAP password).
    fn zeroize(&mut self) {
        self.user.zeroize();
        self.port.zeroize();
        self.rem_addr.zeroize();
        self.data.zeroize();
    }
}

/// Authentication REPLY body (RFC 8907 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenReply {
    /// [`authen_status`].
    pub status: u8,
    /// 1 = NOECHO (the client should not echo the user's input).
    pub flags: u8,
    /// Text for the user.
    pub server_msg: Vec<u8>,
    /// Data.
    pub data: Vec<u8>,
}

impl AuthenReply {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let mut reader = Reader::new(body, 0);
        let status = reader.u8("authentication REPLY")?;
        let flags = reader.u8("authentication REPLY")?;
        let server_msg_len = reader.u16("authentication REPLY")?;
        let data_len = reader.u16("authentication REPLY")?;
        let server_msg = reader
            .take(usize::from(server_msg_len), "REPLY server_msg")?
            .to_vec();
        let data = reader.take(usize::from(data_len), "REPLY data")?.to_vec();
        expect_end(&reader, "authentication REPLY")?;
        Ok(AuthenReply {
            status,
            flags,
            server_msg,
            data,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        let mut out = vec![self.status, self.flags];
        out.extend_from_slice(&len_u16("REPLY server_msg", self.server_msg.len())?.to_be_bytes());
        out.extend_from_slice(&len_u16("REPLY data", self.data.len())?.to_be_bytes());
        out.extend_from_slice(&self.server_msg);
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

/// Authentication CONTINUE body (RFC 8907 5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenContinue {
    /// What the user typed.
    pub user_msg: Vec<u8>,
    /// Data.
    pub data: Vec<u8>,
    /// 1 = ABORT.
    pub flags: u8,
}

impl AuthenContinue {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let (flags, user_msg, data) = parse_msg_data_body(
            body,
            [
                "authentication CONTINUE",
                "CONTINUE user_msg",
                "CONTINUE data",
            ],
        )?;
        Ok(AuthenContinue {
            user_msg,
            data,
            flags,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        emit_msg_data_body(
            self.flags,
            &self.user_msg,
            &self.data,
            ["CONTINUE user_msg", "CONTINUE data"],
        )
    }
}

impl zeroize::Zeroize for AuthenContinue {
    /// Wipes the fields (`user_msg` holds a password or a challenge answer).
    fn zeroize(&mut self) {
        self.user_msg.zeroize();
        self.data.zeroize();
        self.flags = 0;
    }
}

/// Accounting REQUEST flags (RFC 8907 7.1).
pub mod acct_flag {
    /// START record.
    pub const START: u8 = 0x02;
    /// STOP record.
    pub const STOP: u8 = 0x04;
    /// WATCHDOG (interim) record.
    pub const WATCHDOG: u8 = 0x08;
}

/// Accounting REQUEST body (RFC 8907 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctRequest {
    /// [`acct_flag`].
    pub flags: u8,
    /// How the user was authenticated (6 = TACACS+, 5 = LOCAL, 0x10 = RADIUS).
    pub authen_method: u8,
    /// Privilege level.
    pub priv_lvl: u8,
    /// [`authen_type`].
    pub authen_type: u8,
    /// Authentication service.
    pub authen_service: u8,
    /// User name.
    pub user: Vec<u8>,
    /// Port.
    pub port: Vec<u8>,
    /// Remote (client) address.
    pub rem_addr: Vec<u8>,
    /// Arguments, `name=value` (at most 255, each at most 255 bytes).
    pub args: Vec<Vec<u8>>,
}

impl AcctRequest {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let mut reader = Reader::new(body, 0);
        let [flags, authen_method, priv_lvl, authen_type, authen_service, user_len, port_len, rem_addr_len, arg_count] =
            reader.array::<9>("accounting REQUEST")?;
        let arg_lens = reader.take(usize::from(arg_count), "REQUEST arg lengths")?;
        let user = reader.take(usize::from(user_len), "REQUEST user")?.to_vec();
        let port = reader.take(usize::from(port_len), "REQUEST port")?.to_vec();
        let rem_addr = reader
            .take(usize::from(rem_addr_len), "REQUEST rem_addr")?
            .to_vec();
        let mut args = Vec::with_capacity(arg_lens.len());
        for arg_len in arg_lens {
            args.push(
                reader
                    .take(usize::from(*arg_len), "REQUEST argument")?
                    .to_vec(),
            );
        }
        expect_end(&reader, "accounting REQUEST")?;
        Ok(AcctRequest {
            flags,
            authen_method,
            priv_lvl,
            authen_type,
            authen_service,
            user,
            port,
            rem_addr,
            args,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        let mut out = vec![
            self.flags,
            self.authen_method,
            self.priv_lvl,
            self.authen_type,
            self.authen_service,
            len_u8("REQUEST user", self.user.len())?,
            len_u8("REQUEST port", self.port.len())?,
            len_u8("REQUEST rem_addr", self.rem_addr.len())?,
            len_u8("REQUEST arg_cnt", self.args.len())?,
        ];
        for arg in &self.args {
            out.push(len_u8("REQUEST argument", arg.len())?);
        }
        for f in [&self.user, &self.port, &self.rem_addr] {
            out.extend_from_slice(f);
        }
        for arg in &self.args {
            out.extend_from_slice(arg);
        }
        Ok(out)
    }

    /// The value of argument `name` (`name=value` or `name*value`).
    pub fn arg(&self, name: &str) -> Option<&[u8]> {
        self.args.iter().find_map(|arg| {
            let rest = arg.strip_prefix(name.as_bytes())?;
            match rest.split_first() {
                Some((b'=' | b'*', v)) => Some(v),
                _ => None,
            }
        })
    }
}

/// Accounting REPLY body (RFC 8907 7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctReply {
    /// 1 SUCCESS, 2 ERROR, 0x21 FOLLOW.
    pub status: u8,
    /// Text.
    pub server_msg: Vec<u8>,
    /// Data.
    pub data: Vec<u8>,
}

impl AcctReply {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let (status, server_msg, data) =
            parse_msg_data_body(body, ["accounting REPLY", "REPLY server_msg", "REPLY data"])?;
        Ok(AcctReply {
            status,
            server_msg,
            data,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        emit_msg_data_body(
            self.status,
            &self.server_msg,
            &self.data,
            ["REPLY server_msg", "REPLY data"],
        )
    }
}

/// Authentication CONTINUE and accounting REPLY share one body layout (RFC 8907
/// 5.3 and 7.2): message length, data length, one flags/status byte, message, data.
/// `what` names the body, its message field and its data field for errors.
fn parse_msg_data_body(
    body: &[u8],
    what: [&'static str; 3],
) -> Result<(u8, Vec<u8>, Vec<u8>), XauthError> {
    let [body_name, msg_name, data_name] = what;
    let mut reader = Reader::new(body, 0);
    let msg_len = reader.u16(body_name)?;
    let data_len = reader.u16(body_name)?;
    let byte = reader.u8(body_name)?;
    let msg = reader.take(usize::from(msg_len), msg_name)?.to_vec();
    let data = reader.take(usize::from(data_len), data_name)?.to_vec();
    expect_end(&reader, body_name)?;
    Ok((byte, msg, data))
}

/// Writes the layout [`parse_msg_data_body`] reads; `what` names the two fields.
fn emit_msg_data_body(
    byte: u8,
    msg: &[u8],
    data: &[u8],
    what: [&'static str; 2],
) -> Result<Vec<u8>, XauthError> {
    let [msg_name, data_name] = what;
    let mut out = Vec::with_capacity(5usize.saturating_add(msg.len()).saturating_add(data.len()));
    out.extend_from_slice(&len_u16(msg_name, msg.len())?.to_be_bytes());
    out.extend_from_slice(&len_u16(data_name, data.len())?.to_be_bytes());
    out.push(byte);
    out.extend_from_slice(msg);
    out.extend_from_slice(data);
    Ok(out)
}

/// Refuses bytes after a body's last field.
fn expect_end(reader: &Reader<'_>, what: &'static str) -> Result<(), XauthError> {
    if reader.is_empty() {
        Ok(())
    } else {
        Err(XauthError::BadLength {
            what,
            offset: reader.offset(),
            length: reader.rest().len(),
            reason: "bytes left after the last field",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_bodies_zeroize_and_emit_exact_size() {
        // START (PAP password in `data`) and CONTINUE (password or answer in
        // `user_msg`) wipe their fields; emit sizes its buffer exactly.
        let mut start = AuthenStart {
            action: 1,
            priv_lvl: 1,
            authen_type: authen_type::PAP,
            authen_service: 1,
            user: b"user".to_vec(),
            port: b"PIX".to_vec(),
            rem_addr: b"10.0.0.1".to_vec(),
            data: b"password".to_vec(),
        };
        let body = start.emit().unwrap();
        assert_eq!(body.capacity(), body.len());
        zeroize::Zeroize::zeroize(&mut start);
        assert!(start.data.is_empty() && start.user.is_empty());
        let mut cont = AuthenContinue {
            user_msg: b"password".to_vec(),
            data: b"x".to_vec(),
            flags: 1,
        };
        let body = cont.emit().unwrap();
        assert_eq!(body.capacity(), body.len());
        zeroize::Zeroize::zeroize(&mut cont);
        assert_eq!(
            cont,
            AuthenContinue {
                user_msg: Vec::new(),
                data: Vec::new(),
                flags: 0
            }
        );
    }
}
