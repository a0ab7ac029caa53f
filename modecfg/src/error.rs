//! The crate's one error type: what went wrong and where.

use std::net::Ipv4Addr;

use isakmp_wire::cfg::CfgType;
use isakmp_wire::error::WireError;
use thiserror::Error;

use crate::attrs::AttrType;

/// Everything that can go wrong decoding Mode Config attributes, running the
/// dialogues, or managing address pools and group policies.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ModeCfgError {
    /// The packed attribute list itself is malformed (truncated, too many).
    #[error("malformed attribute list: {0}")]
    Wire(#[from] WireError),
    /// A TLV value has a length this attribute type does not allow.
    #[error("{attr} at offset {offset}: value of {length} bytes, expected {expected}")]
    BadLength {
        /// The attribute type.
        attr: AttrType,
        /// Byte offset of the attribute header in the message (or list).
        offset: usize,
        /// The length found.
        length: usize,
        /// What the type allows, in words.
        expected: &'static str,
    },
    /// A TV (basic) attribute for a type that is TLV-only, or a non-empty TLV for a TV-only type.
    #[error("{attr} at offset {offset}: sent in {got} form, expected {expected} form")]
    BadForm {
        /// The attribute type.
        attr: AttrType,
        /// Byte offset of the attribute header.
        offset: usize,
        /// The form found ("TV" or "TLV").
        got: &'static str,
        /// The form the type uses.
        expected: &'static str,
    },
    /// A value outside the range the type allows (e.g. an IPv6 prefix length over 128).
    #[error("{attr} at offset {offset}: invalid value {value} ({reason})")]
    BadValue {
        /// The attribute type.
        attr: AttrType,
        /// Byte offset of the attribute header.
        offset: usize,
        /// The offending value.
        value: u64,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A value too long to encode in a TLV attribute (more than 65535 bytes).
    #[error("{attr}: value of {length} bytes does not fit a TLV attribute (max 65535)")]
    TooLong {
        /// The attribute type.
        attr: AttrType,
        /// The value length.
        length: usize,
    },
    /// A payload of the wrong message type for the dialogue's state.
    #[error("unexpected {got} while {state} (expected {expected})")]
    UnexpectedType {
        /// What the machine was doing.
        state: &'static str,
        /// The message type it accepts now.
        expected: &'static str,
        /// The message type received.
        got: &'static str,
    },
    /// A REPLY/ACK whose identifier does not match the REQUEST/SET it answers.
    #[error("identifier mismatch: expected {expected:#06x}, got {got:#06x}")]
    IdentifierMismatch {
        /// The identifier of the outstanding REQUEST/SET.
        expected: u16,
        /// The identifier received.
        got: u16,
    },
    /// A message arrived after the dialogue finished or failed.
    #[error("dialogue is {state}: {what} not accepted")]
    Finished {
        /// "done" or "failed".
        state: &'static str,
        /// What arrived.
        what: &'static str,
    },
    /// The peer's REPLY/SET lacks an attribute the dialogue cannot do without.
    #[error("{cfg_type} lacks required attribute {attr}")]
    MissingAttribute {
        /// The message that lacked it.
        cfg_type: &'static str,
        /// The attribute.
        attr: AttrType,
    },
    /// No address is free in any of the pools tried.
    #[error("address pool {pool} exhausted ({size} addresses, all in use)")]
    PoolExhausted {
        /// The last pool tried.
        pool: String,
        /// Its size.
        size: u32,
    },
    /// The policy names a pool that is not configured.
    #[error("no ip local pool named {name}")]
    UnknownPool {
        /// The name asked for.
        name: String,
    },
    /// The policy names no pool and no address was assigned by AAA.
    #[error("no address source: the group policy names no pool and AAA assigned none")]
    NoAddressSource,
    /// A pool with this name already exists.
    #[error("ip local pool {name} is already defined")]
    DuplicatePool {
        /// The name.
        name: String,
    },
    /// A pool range that is empty, reversed, too large or overlapping another pool.
    #[error("bad ip local pool range {start}-{end}: {reason}")]
    BadRange {
        /// First address.
        start: Ipv4Addr,
        /// Last address.
        end: Ipv4Addr,
        /// Why it is refused.
        reason: &'static str,
    },
    /// An address (e.g. RADIUS Framed-IP-Address) already held by another session.
    #[error("address {addr} is already in use")]
    AddressInUse {
        /// The address.
        addr: Ipv4Addr,
    },
    /// Too many AAA-assigned addresses outside the pools are live at once.
    #[error("too many AAA-assigned addresses in use (limit {limit})")]
    TooManyExternal {
        /// The cap.
        limit: usize,
    },
    /// A lease released twice, or to the wrong set of pools.
    #[error("address {addr} is not held by a lease here")]
    NotLeased {
        /// The address.
        addr: Ipv4Addr,
    },
    /// A group policy value outside what `vpngroup` allows.
    #[error("vpngroup {group}: {what}")]
    BadPolicy {
        /// The group name.
        group: String,
        /// What is wrong.
        what: &'static str,
    },
}

/// Short name of a message type for errors.
pub(crate) fn cfg_name(t: CfgType) -> &'static str {
    t.name()
}
