//! Accounting records (`aaa accounting include`): one start and one stop record per
//! TCP connection of an authenticated user, as the PIX sends them to TACACS+.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Instant;

/// Start or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum RecordKind {
    /// The connection opened.
    Start,
    /// The connection closed or timed out.
    Stop,
}

/// One accounting record (the TACACS+ AV pairs a PIX sends, as fields).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AccountingRecord {
    /// Start or stop.
    pub kind: RecordKind,
    /// The authenticated user.
    pub user: String,
    /// The user's address (the ACS "Caller-Id").
    pub caller: Ipv4Addr,
    /// The PIX address facing the AAA server (the NAS address).
    pub nas_ip: Option<Ipv4Addr>,
    /// `task_id` (one per connection, start and stop share it).
    pub task_id: u32,
    /// The service (`telnet`, `http`, `tcp/8080`, ...).
    pub service: String,
    /// Local (inside, real) address of the connection.
    pub local: Ipv4Addr,
    /// Foreign address of the connection.
    pub foreign: Ipv4Addr,
    /// Seconds the connection lasted (stop only).
    pub elapsed_secs: Option<u64>,
    /// Bytes from the user (stop only).
    pub bytes_in: Option<u64>,
    /// Bytes to the user (stop only).
    pub bytes_out: Option<u64>,
    /// AAA server group.
    pub server: String,
    /// When.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub at: Instant,
}

impl AccountingRecord {
    /// The TACACS+ accounting AV pairs.
    pub fn av_pairs(&self) -> Vec<String> {
        let mut v = vec![
            format!("task_id=0x{:x}", self.task_id),
            format!("service={}", self.service),
            format!("foreign_ip={}", self.foreign),
            format!("local_ip={}", self.local),
        ];
        if let Some(e) = self.elapsed_secs {
            v.push(format!("elapsed_time={e}"));
        }
        if let Some(b) = self.bytes_in {
            v.push(format!("bytes_in={b}"));
        }
        if let Some(b) = self.bytes_out {
            v.push(format!("bytes_out={b}"));
        }
        v
    }

    /// One line in the column order of the Cisco Secure ACS TACACS+ accounting
    /// report the seed shows (`date time user group caller start|stop elapsed ..
    /// bytes_in bytes_out .. .. task_id .. NAS-port NAS-IP service`), with
    /// `timestamp` and `group` supplied by the caller (the library has no clock).
    pub fn render_acs(&self, timestamp: &str, group: &str) -> String {
        let dots = |v: Option<u64>| v.map_or_else(|| "..".to_owned(), |x| x.to_string());
        let mut s = String::new();
        let _ = write!(
            s,
            "{timestamp} {} {group} {} {} {} .. {} {} .. .. 0x{:x} .. PIX {} {}",
            self.user,
            self.caller,
            match self.kind {
                RecordKind::Start => "start",
                RecordKind::Stop => "stop",
            },
            dots(self.elapsed_secs),
            dots(self.bytes_in),
            dots(self.bytes_out),
            self.task_id,
            self.nas_ip
                .map_or_else(|| "..".to_owned(), |a| a.to_string()),
            self.service
        );
        s
    }
}
