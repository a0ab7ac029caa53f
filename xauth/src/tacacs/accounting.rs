//! The client side of one accounting session, and the PIX's accounting record.

use super::body::{authen_type, AcctReply, AcctRequest};
use super::packet::{open_reply, seal, Header, PacketType, VERSION_DEFAULT};
use crate::error::XauthError;
use crate::Secret;

/// A finished accounting exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctResult {
    /// Whether the server said SUCCESS.
    pub success: bool,
    /// The status byte.
    pub status: u8,
    /// The server's message.
    pub server_msg: Vec<u8>,
}

/// The fields of the PIX's accounting record (the seed's sample:
/// `cisco_customer Default Group 10.89.129.200 stop 15 .. 99 1879 .. .. 0x5 .. PIX
/// 10.89.129.194 telnet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRecord {
    /// [`acct_flag`](super::acct_flag) START, STOP or WATCHDOG.
    pub flag: u8,
    /// User.
    pub user: Vec<u8>,
    /// User group, if known (sent as `group=`).
    pub group: Option<Vec<u8>>,
    /// The client's address (rem_addr and `addr=`).
    pub client_addr: Vec<u8>,
    /// Service (`service=`, e.g. `telnet`).
    pub service: Vec<u8>,
    /// Task id (`task_id=0x5`), the same in START and STOP.
    pub task_id: u32,
    /// Start time, seconds since the epoch (`start_time=`).
    pub start_time: u64,
    /// Elapsed seconds (`elapsed_time=`, STOP and WATCHDOG only).
    pub elapsed_time: Option<u64>,
    /// Bytes from the client (`bytes_in=`, STOP and WATCHDOG only).
    pub bytes_in: Option<u64>,
    /// Bytes to the client (`bytes_out=`).
    pub bytes_out: Option<u64>,
    /// The NAS (gateway) address (`nas_addr=`).
    pub nas_addr: Option<Vec<u8>>,
    /// The port field (the PIX sends `PIX`).
    pub port: Vec<u8>,
}

impl AccountingRecord {
    /// The accounting REQUEST body for this record.
    pub fn to_request(&self) -> AcctRequest {
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut push = |name: &str, v: &[u8]| {
            let mut a = name.as_bytes().to_vec();
            a.push(b'=');
            a.extend_from_slice(v);
            args.push(a);
        };
        push("task_id", format!("{:#x}", self.task_id).as_bytes());
        push("start_time", self.start_time.to_string().as_bytes());
        if let Some(e) = self.elapsed_time {
            push("elapsed_time", e.to_string().as_bytes());
        }
        if let Some(b) = self.bytes_in {
            push("bytes_in", b.to_string().as_bytes());
        }
        if let Some(b) = self.bytes_out {
            push("bytes_out", b.to_string().as_bytes());
        }
        push("service", &self.service);
        push("addr", &self.client_addr);
        if let Some(g) = &self.group {
            push("group", g);
        }
        if let Some(n) = &self.nas_addr {
            push("nas_addr", n);
        }
        AcctRequest {
            flags: self.flag,
            authen_method: 6,
            priv_lvl: 1,
            authen_type: authen_type::ASCII,
            authen_service: 1,
            user: self.user.clone(),
            port: self.port.clone(),
            rem_addr: self.client_addr.clone(),
            args,
        }
    }
}

/// The client side of one accounting session (one TCP connection).
#[derive(Debug)]
pub struct TacacsAccounting {
    key: Secret,
    header: Header,
}

impl TacacsAccounting {
    /// Builds the REQUEST packet.
    pub fn start(
        key: &Secret,
        session_id: u32,
        req: &AcctRequest,
    ) -> Result<(Self, Vec<u8>), XauthError> {
        let header = Header {
            version: VERSION_DEFAULT,
            kind: PacketType::Accounting,
            seq_no: 1,
            flags: 0,
            session_id,
            length: 0,
        };
        let bytes = seal(header, &req.emit()?, key)?;
        Ok((
            TacacsAccounting {
                key: key.duplicate(),
                header,
            },
            bytes,
        ))
    }

    /// Feeds the server's REPLY packet.
    pub fn handle(&mut self, packet: &[u8]) -> Result<AcctResult, XauthError> {
        let body = open_reply(&self.key, &self.header, packet)?;
        let reply = AcctReply::parse(&body)?;
        Ok(AcctResult {
            success: reply.status == 1,
            status: reply.status,
            server_msg: reply.server_msg,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tacacs::body::acct_flag;
    use crate::tacacs::packet::open;

    fn key() -> Secret {
        Secret::from("secretkey")
    }

    #[test]
    fn accounting_record_carries_the_seed_fields() {
        let rec = AccountingRecord {
            flag: acct_flag::STOP,
            user: b"cisco_customer".to_vec(),
            group: Some(b"Default Group".to_vec()),
            client_addr: b"10.89.129.200".to_vec(),
            service: b"telnet".to_vec(),
            task_id: 5,
            start_time: 1_090_941_459,
            elapsed_time: Some(15),
            bytes_in: Some(99),
            bytes_out: Some(1879),
            nas_addr: Some(b"10.89.129.194".to_vec()),
            port: b"PIX".to_vec(),
        };
        let req = rec.to_request();
        assert_eq!(req.arg("task_id"), Some(&b"0x5"[..]));
        assert_eq!(req.arg("elapsed_time"), Some(&b"15"[..]));
        assert_eq!(req.arg("bytes_in"), Some(&b"99"[..]));
        assert_eq!(req.arg("bytes_out"), Some(&b"1879"[..]));
        assert_eq!(req.arg("service"), Some(&b"telnet"[..]));
        assert_eq!(req.arg("group"), Some(&b"Default Group"[..]));
        assert_eq!(req.arg("nas_addr"), Some(&b"10.89.129.194"[..]));
        assert_eq!(req.arg("addr"), Some(&b"10.89.129.200"[..]));
        assert_eq!(req.arg("nope"), None);
        let body = req.emit().unwrap();
        assert_eq!(AcctRequest::parse(&body).unwrap(), req);
        let (mut a, pkt) = TacacsAccounting::start(&key(), 77, &req).unwrap();
        let (h, _) = open(&pkt, &key()).unwrap();
        assert_eq!((h.kind, h.seq_no), (PacketType::Accounting, 1));
        let reply = AcctReply {
            status: 1,
            server_msg: vec![],
            data: vec![],
        }
        .emit()
        .unwrap();
        let rp = seal(Header { seq_no: 2, ..h }, &reply, &key()).unwrap();
        assert!(a.handle(&rp).unwrap().success);
    }
}
