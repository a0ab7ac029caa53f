//! The packet a verdict is asked for: ingress interface, protocol, addresses,
//! ports or ICMP type/code, TCP flags, and whether it came out of an IPsec SA.

use std::fmt;
use std::net::Ipv4Addr;

/// IP protocol of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
    /// Any other IP protocol number.
    Other(u8),
}

impl Proto {
    /// From an IP protocol number.
    pub fn from_number(n: u8) -> Proto {
        match n {
            6 => Proto::Tcp,
            17 => Proto::Udp,
            1 => Proto::Icmp,
            n => Proto::Other(n),
        }
    }

    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Icmp => 1,
            Proto::Other(n) => n,
        }
    }

    /// True for protocols with ports (TCP, UDP).
    pub fn has_ports(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Udp)
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proto::Tcp => f.write_str("TCP"),
            Proto::Udp => f.write_str("UDP"),
            Proto::Icmp => f.write_str("ICMP"),
            Proto::Other(n) => write!(f, "{n}"),
        }
    }
}

/// The TCP flags the model looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TcpFlags {
    /// SYN
    pub syn: bool,
    /// ACK
    pub ack: bool,
    /// FIN
    pub fin: bool,
    /// RST
    pub rst: bool,
}

impl TcpFlags {
    /// A bare SYN (a connection's first packet).
    pub const SYN: TcpFlags = TcpFlags {
        syn: true,
        ack: false,
        fin: false,
        rst: false,
    };
    /// SYN+ACK (the answer to a SYN).
    pub const SYN_ACK: TcpFlags = TcpFlags {
        syn: true,
        ack: true,
        fin: false,
        rst: false,
    };
    /// A plain ACK (data).
    pub const ACK: TcpFlags = TcpFlags {
        syn: false,
        ack: true,
        fin: false,
        rst: false,
    };
    /// FIN+ACK.
    pub const FIN: TcpFlags = TcpFlags {
        syn: false,
        ack: true,
        fin: true,
        rst: false,
    };
    /// RST.
    pub const RST: TcpFlags = TcpFlags {
        syn: false,
        ack: false,
        fin: false,
        rst: true,
    };
}

/// A packet as it arrives on an interface.
///
/// For ICMP, `sport` carries the ICMP identifier (PAT keys on it) and `dport` is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Packet {
    /// Ingress interface name (`nameif`).
    pub input: String,
    /// Protocol.
    pub proto: Proto,
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Source port (ICMP: identifier).
    pub sport: u16,
    /// Destination port (0 for ICMP and port-less protocols).
    pub dport: u16,
    /// ICMP type (ICMP only).
    pub icmp_type: u8,
    /// ICMP code (ICMP only).
    pub icmp_code: u8,
    /// TCP flags (TCP only).
    pub flags: TcpFlags,
    /// Payload bytes (counted in `show conn` and accounting records).
    pub len: u32,
    /// True when the packet came out of an IPsec SA (decrypted).
    pub decrypted: bool,
    /// The Xauth user of that SA, if any.
    pub vpn_user: Option<String>,
}

impl Packet {
    fn base(input: &str, proto: Proto, src: Ipv4Addr, dst: Ipv4Addr) -> Packet {
        Packet {
            input: input.to_owned(),
            proto,
            src,
            dst,
            sport: 0,
            dport: 0,
            icmp_type: 0,
            icmp_code: 0,
            flags: TcpFlags::default(),
            len: 0,
            decrypted: false,
            vpn_user: None,
        }
    }

    /// A TCP SYN.
    pub fn tcp(input: &str, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Packet {
        Packet {
            sport,
            dport,
            flags: TcpFlags::SYN,
            ..Packet::base(input, Proto::Tcp, src, dst)
        }
    }

    /// A UDP datagram.
    pub fn udp(input: &str, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Packet {
        Packet {
            sport,
            dport,
            ..Packet::base(input, Proto::Udp, src, dst)
        }
    }

    /// An ICMP message (identifier 0).
    pub fn icmp(input: &str, src: Ipv4Addr, icmp_type: u8, icmp_code: u8, dst: Ipv4Addr) -> Packet {
        Packet {
            icmp_type,
            icmp_code,
            ..Packet::base(input, Proto::Icmp, src, dst)
        }
    }

    /// A packet of another IP protocol.
    pub fn other(input: &str, proto: u8, src: Ipv4Addr, dst: Ipv4Addr) -> Packet {
        Packet::base(input, Proto::from_number(proto), src, dst)
    }

    /// Mark as decrypted from an IPsec SA of Xauth user `user`.
    pub fn decrypted_for(mut self, user: &str) -> Packet {
        self.decrypted = true;
        self.vpn_user = Some(user.to_owned());
        self
    }

    /// Set the TCP flags.
    pub fn with_flags(mut self, flags: TcpFlags) -> Packet {
        self.flags = flags;
        self
    }

    /// Set the payload length.
    pub fn with_len(mut self, len: u32) -> Packet {
        self.len = len;
        self
    }

    /// The 5-tuple (+ICMP type) the ACL classifier matches on.
    pub fn tuple(&self) -> crate::acl::Tuple {
        crate::acl::Tuple {
            proto: self.proto.number(),
            src: u32::from(self.src),
            dst: u32::from(self.dst),
            sport: if self.proto.has_ports() {
                self.sport
            } else {
                0
            },
            dport: if self.proto.has_ports() {
                self.dport
            } else {
                0
            },
            icmp_type: self.icmp_type,
        }
    }
}
