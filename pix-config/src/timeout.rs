//! `timeout xlate|conn|half-closed|udp|icmp|rpc|h225|h323|mgcp|sip|sip_media|uauth ...`

use std::fmt::Write as _;

use crate::lexer::{Cur, PErr};
use crate::model::Hms;

crate::interface::keyword_enum! {
    /// A timer a `timeout` line sets.
    pub enum TimeoutKind {
        /// `xlate`
        Xlate = "xlate",
        /// `conn`
        Conn = "conn",
        /// `half-closed`
        HalfClosed = "half-closed",
        /// `udp`
        Udp = "udp",
        /// `icmp`
        Icmp = "icmp",
        /// `rpc`
        Rpc = "rpc",
        /// `h225`
        H225 = "h225",
        /// `h323`
        H323 = "h323",
        /// `mgcp`
        Mgcp = "mgcp",
        /// `mgcp-pat`
        MgcpPat = "mgcp-pat",
        /// `sip`
        Sip = "sip",
        /// `sip_media`
        SipMedia = "sip_media",
        /// `sip-disconnect`
        SipDisconnect = "sip-disconnect",
        /// `sip-invite`
        SipInvite = "sip-invite",
        /// `uauth`
        Uauth = "uauth",
    }
}

/// `absolute` / `inactivity` after `timeout uauth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UauthMode {
    /// `absolute`
    Absolute,
    /// `inactivity`
    Inactivity,
}

/// One `KIND h:mm:ss [absolute|inactivity]` of a `timeout` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutItem {
    /// Which timer.
    pub kind: TimeoutKind,
    /// Its value.
    pub value: Hms,
    /// For `uauth`.
    pub mode: Option<UauthMode>,
}

/// `timeout ITEM [ITEM ...]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeout {
    /// The items in written order.
    pub items: Vec<TimeoutItem>,
}

pub(crate) fn parse_timeout(cur: &mut Cur<'_, '_>) -> Result<Timeout, PErr> {
    let mut items = Vec::new();
    while !cur.done() {
        let Some(kind) = cur.peek().and_then(TimeoutKind::from_keyword) else {
            return Err(cur.expected("a timer name (xlate, conn, half-closed, udp, rpc, h225, h323, mgcp, sip, sip_media, uauth, ...)"));
        };
        cur.bump();
        let Some(value) = cur.peek().and_then(Hms::parse) else {
            return Err(cur.expected(format!("a duration h:mm:ss after `{}`", kind.as_str())));
        };
        cur.bump();
        let mode = if kind == TimeoutKind::Uauth {
            if cur.eat("absolute") {
                Some(UauthMode::Absolute)
            } else if cur.eat("inactivity") {
                Some(UauthMode::Inactivity)
            } else {
                None
            }
        } else {
            None
        };
        items.push(TimeoutItem { kind, value, mode });
    }
    if items.is_empty() {
        return Err(cur.expected("a timer name"));
    }
    Ok(Timeout { items })
}

impl Timeout {
    pub(crate) fn write(&self, out: &mut String) {
        out.push_str("timeout");
        for i in &self.items {
            let _ = write!(out, " {} {}", i.kind.as_str(), i.value);
            match i.mode {
                Some(UauthMode::Absolute) => out.push_str(" absolute"),
                Some(UauthMode::Inactivity) => out.push_str(" inactivity"),
                None => {}
            }
        }
    }
}
