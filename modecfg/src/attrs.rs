//! Typed Mode Config attributes (draft-dukes-ike-mode-cfg 3.3 numbers 1-15, and the
//! Cisco Unity numbers 28672-28682), decoded from and encoded to
//! [`isakmp_wire::attr`] data attributes.
//!
//! | Type | Name | Form on the wire |
//! |------|------|------------------|
//! | 1 | INTERNAL_IP4_ADDRESS | TLV, 0 or 4 bytes |
//! | 2 | INTERNAL_IP4_NETMASK | TLV, 0 or 4 bytes |
//! | 3 | INTERNAL_IP4_DNS | TLV, 0 or 4 bytes (repeated per server) |
//! | 4 | INTERNAL_IP4_NBNS | TLV, 0 or 4 bytes (repeated per server) |
//! | 5 | INTERNAL_ADDRESS_EXPIRY | TLV, 0 or 4 bytes (seconds) |
//! | 6 | INTERNAL_IP4_DHCP | TLV, 0 or 4 bytes |
//! | 7 | APPLICATION_VERSION | TLV, any length (text) |
//! | 8 | INTERNAL_IP6_ADDRESS | TLV, 0, 16 or 17 bytes (address, optional prefix length) |
//! | 9 | INTERNAL_IP6_NETMASK | TLV, 0 or 16 bytes |
//! | 10-12 | INTERNAL_IP6_DNS / NBNS / DHCP | TLV, 0 or 16 bytes |
//! | 13 | INTERNAL_IP4_SUBNET | TLV, 0 or 8 bytes (address, mask) |
//! | 14 | SUPPORTED_ATTRIBUTES | TLV, multiple of 2 bytes (attribute types) |
//! | 15 | INTERNAL_IP6_SUBNET | TLV, 0 or 17 bytes (address, prefix length) |
//! | 28672 | UNITY BANNER | TLV text |
//! | 28673 | UNITY SAVE_PASSWD | TV (0 = do not save, 1 = allowed) |
//! | 28674 | UNITY DEF_DOMAIN | TLV text |
//! | 28675 | UNITY SPLITDNS_NAME | TLV text, comma-separated domains |
//! | 28676 | UNITY SPLIT_INCLUDE | TLV, 14-byte entries ([`SplitEntry`]) |
//! | 28677 | UNITY NATT_PORT | TV (UDP port) |
//! | 28678 | UNITY LOCAL_LAN | TLV, 14-byte entries (split exclude) |
//! | 28679 | UNITY PFS | TV (non-zero: do PFS in Quick Mode) |
//! | 28680 | UNITY FW_TYPE | TLV, opaque |
//! | 28681 | UNITY BACKUP_SERVERS | TLV text, comma-separated |
//! | 28682 | UNITY DDNS_HOSTNAME | TLV text |
//!
//! The numbers and names come from the one registry, [`ConfigAttrType`] in `isakmp-wire`
//! (checked against vpnc's `isakmp.h`, ipsec-tools' `isakmp_unity.h` and strongSwan's
//! attribute names); 28683 (SMARTCARD_REMOVAL_DISCONNECT) has no value this crate decodes
//! and stays [`AttrType::Unknown`].
//!
//! A zero-length TLV of any type decodes to [`ModeCfgAttr::Request`]: in a CFG_REQUEST it
//! asks for that attribute, in a CFG_ACK it acknowledges it. Unknown types are kept as they
//! came ([`ModeCfgAttr::Unknown`]), so decode then encode gives back the same bytes.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use isakmp_wire::attr::config::ConfigAttrType;
use isakmp_wire::attr::{AttrValue, Attribute, AttributeIter, OwnedAttribute, MAX_ATTRIBUTES};
use isakmp_wire::cfg::ConfigPayload;

use crate::error::ModeCfgError;
use crate::unity::{decode_split_list, encode_split_list, SplitEntry, SPLIT_ENTRY_LEN};

/// The Mode Config types this crate decodes, each tied to its entry in the one
/// registry of numbers and names, [`ConfigAttrType`].
macro_rules! attr_types {
    ($( $(#[$doc:meta])* $var:ident = $registry:ident; )*) => {
        /// A Mode Config attribute type number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum AttrType {
            $( $(#[$doc])* $var, )*
            /// Any other number (kept so it round-trips).
            Unknown(u16),
        }

        impl AttrType {
            /// Every type this crate decodes, in number order.
            pub const KNOWN: &'static [AttrType] = &[ $( AttrType::$var, )* ];

            /// The type for a 15-bit number.
            pub fn from_u16(n: u16) -> Self {
                let n = n & 0x7fff;
                match ConfigAttrType::from(n) {
                    $( ConfigAttrType::$registry => AttrType::$var, )*
                    _ => AttrType::Unknown(n),
                }
            }

            /// The number on the wire.
            pub fn number(self) -> u16 {
                match self {
                    $( AttrType::$var => ConfigAttrType::$registry.number(), )*
                    AttrType::Unknown(n) => n & 0x7fff,
                }
            }

            /// The registry entry, `None` for a type this crate does not decode.
            pub fn registry(self) -> Option<ConfigAttrType> {
                match self {
                    $( AttrType::$var => Some(ConfigAttrType::$registry), )*
                    AttrType::Unknown(_) => None,
                }
            }
        }
    };
}

attr_types! {
    /// INTERNAL_IP4_ADDRESS (1).
    Ip4Address = InternalIp4Address;
    /// INTERNAL_IP4_NETMASK (2).
    Ip4Netmask = InternalIp4Netmask;
    /// INTERNAL_IP4_DNS (3).
    Ip4Dns = InternalIp4Dns;
    /// INTERNAL_IP4_NBNS (4), the WINS server.
    Ip4Nbns = InternalIp4Nbns;
    /// INTERNAL_ADDRESS_EXPIRY (5).
    AddressExpiry = InternalAddressExpiry;
    /// INTERNAL_IP4_DHCP (6).
    Ip4Dhcp = InternalIp4Dhcp;
    /// APPLICATION_VERSION (7).
    ApplicationVersion = ApplicationVersion;
    /// INTERNAL_IP6_ADDRESS (8).
    Ip6Address = InternalIp6Address;
    /// INTERNAL_IP6_NETMASK (9).
    Ip6Netmask = InternalIp6Netmask;
    /// INTERNAL_IP6_DNS (10).
    Ip6Dns = InternalIp6Dns;
    /// INTERNAL_IP6_NBNS (11).
    Ip6Nbns = InternalIp6Nbns;
    /// INTERNAL_IP6_DHCP (12).
    Ip6Dhcp = InternalIp6Dhcp;
    /// INTERNAL_IP4_SUBNET (13).
    Ip4Subnet = InternalIp4Subnet;
    /// SUPPORTED_ATTRIBUTES (14).
    SupportedAttributes = SupportedAttributes;
    /// INTERNAL_IP6_SUBNET (15).
    Ip6Subnet = InternalIp6Subnet;
    /// Cisco Unity BANNER (28672).
    Banner = UnityBanner;
    /// Cisco Unity SAVE_PASSWD (28673).
    SavePasswd = UnitySavePasswd;
    /// Cisco Unity DEF_DOMAIN (28674).
    DefDomain = UnityDefDomain;
    /// Cisco Unity SPLIT_DNS (28675).
    SplitDns = UnitySplitDomain;
    /// Cisco Unity SPLIT_INCLUDE (28676).
    SplitInclude = UnitySplitInclude;
    /// Cisco Unity NATT_PORT (28677).
    NattPort = UnityNattPort;
    /// Cisco Unity LOCAL_LAN (28678), the split-exclude list.
    LocalLan = UnityLocalLan;
    /// Cisco Unity PFS (28679).
    Pfs = UnityPfs;
    /// Cisco Unity FW_TYPE (28680).
    FwType = UnityFwType;
    /// Cisco Unity BACKUP_SERVERS (28681).
    BackupServers = UnityBackupServers;
    /// Cisco Unity DDNS_HOSTNAME (28682).
    DdnsHostname = UnityDdnsHostname;
}

impl AttrType {
    /// The name the drafts (and Wireshark/strongSwan) use, from the registry;
    /// "UNKNOWN" for a type this crate does not decode.
    pub fn name(self) -> &'static str {
        self.registry().map_or("UNKNOWN", ConfigAttrType::name)
    }

    /// The name a PIX 6.3 prints in `debug crypto isakmp` ("ISAKMP: attribute
    /// IP4_ADDRESS (1)"); the PIX prints every Unity type as "UNKNOWN".
    pub fn pix_name(self) -> &'static str {
        self.registry().map_or("UNKNOWN", ConfigAttrType::pix_name)
    }
}

impl AttrType {
    /// Whether this is one of the Cisco Unity types.
    pub fn is_unity(self) -> bool {
        self.registry().is_some_and(ConfigAttrType::is_unity)
    }

    /// Whether a value of this type is carried in TV (basic) form.
    pub fn is_tv(self) -> bool {
        matches!(
            self,
            AttrType::SavePasswd | AttrType::NattPort | AttrType::Pfs
        )
    }
}

impl From<u16> for AttrType {
    fn from(n: u16) -> Self {
        AttrType::from_u16(n)
    }
}

impl From<AttrType> for u16 {
    fn from(t: AttrType) -> u16 {
        t.number()
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.number())
    }
}

/// Text carried in an attribute (banner, domain, version...). Kept as bytes because peers
/// do not promise UTF-8; [`Text::as_str`] gives the string when it is one.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Text(pub Vec<u8>);

impl Text {
    /// The text as a string, if it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The text with invalid UTF-8 replaced, for display.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    /// Splits a comma-separated list (SPLIT_DNS, BACKUP_SERVERS), trimming blanks and
    /// dropping empty items.
    pub fn list(&self) -> Vec<String> {
        self.to_string_lossy()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(s.as_bytes().to_vec())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(s.into_bytes())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

/// An IPv4 subnet as INTERNAL_IP4_SUBNET carries it: address and mask, mask kept as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ip4Subnet {
    /// Network address.
    pub addr: Ipv4Addr,
    /// Netmask.
    pub mask: Ipv4Addr,
}

/// An IPv6 address with an optional prefix length (the 17-byte form; the 16-byte form has none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ip6Prefix {
    /// The address.
    pub addr: Ipv6Addr,
    /// Prefix length 0-128, when sent.
    pub prefix: Option<u8>,
}

/// One decoded Mode Config attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModeCfgAttr {
    /// A zero-length TLV: a request for (or, in an ACK, acknowledgement of) that type.
    Request(AttrType),
    /// INTERNAL_IP4_ADDRESS.
    Ip4Address(Ipv4Addr),
    /// INTERNAL_IP4_NETMASK.
    Ip4Netmask(Ipv4Addr),
    /// INTERNAL_IP4_DNS (one server).
    Ip4Dns(Ipv4Addr),
    /// INTERNAL_IP4_NBNS (one WINS server).
    Ip4Nbns(Ipv4Addr),
    /// INTERNAL_ADDRESS_EXPIRY, seconds.
    AddressExpiry(u32),
    /// INTERNAL_IP4_DHCP.
    Ip4Dhcp(Ipv4Addr),
    /// APPLICATION_VERSION.
    ApplicationVersion(Text),
    /// INTERNAL_IP6_ADDRESS.
    Ip6Address(Ip6Prefix),
    /// INTERNAL_IP6_NETMASK.
    Ip6Netmask(Ipv6Addr),
    /// INTERNAL_IP6_DNS.
    Ip6Dns(Ipv6Addr),
    /// INTERNAL_IP6_NBNS.
    Ip6Nbns(Ipv6Addr),
    /// INTERNAL_IP6_DHCP.
    Ip6Dhcp(Ipv6Addr),
    /// INTERNAL_IP4_SUBNET.
    Ip4Subnet(Ip4Subnet),
    /// SUPPORTED_ATTRIBUTES: the raw 16-bit type numbers listed.
    SupportedAttributes(Vec<u16>),
    /// INTERNAL_IP6_SUBNET (address and prefix length, always 17 bytes).
    Ip6Subnet {
        /// The network.
        addr: Ipv6Addr,
        /// Prefix length 0-128.
        prefix: u8,
    },
    /// Unity BANNER.
    Banner(Text),
    /// Unity SAVE_PASSWD (0: do not save; 1: the client may save the Xauth password).
    SavePasswd(u16),
    /// Unity DEF_DOMAIN.
    DefDomain(Text),
    /// Unity SPLIT_DNS (comma-separated domains; see [`Text::list`]).
    SplitDns(Text),
    /// Unity SPLIT_INCLUDE: networks to tunnel.
    SplitInclude(Vec<SplitEntry>),
    /// Unity NATT_PORT: the UDP port for IPsec over UDP.
    NattPort(u16),
    /// Unity LOCAL_LAN: networks to exclude from the tunnel.
    LocalLan(Vec<SplitEntry>),
    /// Unity PFS (non-zero: the client must use PFS in Quick Mode).
    Pfs(u16),
    /// Unity FW_TYPE (opaque).
    FwType(Vec<u8>),
    /// Unity BACKUP_SERVERS (comma-separated; see [`Text::list`]).
    BackupServers(Text),
    /// Unity DDNS_HOSTNAME.
    DdnsHostname(Text),
    /// Any type this crate does not know, exactly as received.
    Unknown(OwnedAttribute),
}

fn ip4(b: &[u8]) -> Option<Ipv4Addr> {
    let a: [u8; 4] = b.try_into().ok()?;
    Some(Ipv4Addr::from(a))
}

fn ip6(b: &[u8]) -> Option<Ipv6Addr> {
    let a: [u8; 16] = b.try_into().ok()?;
    Some(Ipv6Addr::from(a))
}

impl ModeCfgAttr {
    /// The attribute's type.
    pub fn attr_type(&self) -> AttrType {
        use ModeCfgAttr as M;
        match self {
            M::Request(t) => *t,
            M::Ip4Address(_) => AttrType::Ip4Address,
            M::Ip4Netmask(_) => AttrType::Ip4Netmask,
            M::Ip4Dns(_) => AttrType::Ip4Dns,
            M::Ip4Nbns(_) => AttrType::Ip4Nbns,
            M::AddressExpiry(_) => AttrType::AddressExpiry,
            M::Ip4Dhcp(_) => AttrType::Ip4Dhcp,
            M::ApplicationVersion(_) => AttrType::ApplicationVersion,
            M::Ip6Address(_) => AttrType::Ip6Address,
            M::Ip6Netmask(_) => AttrType::Ip6Netmask,
            M::Ip6Dns(_) => AttrType::Ip6Dns,
            M::Ip6Nbns(_) => AttrType::Ip6Nbns,
            M::Ip6Dhcp(_) => AttrType::Ip6Dhcp,
            M::Ip4Subnet(_) => AttrType::Ip4Subnet,
            M::SupportedAttributes(_) => AttrType::SupportedAttributes,
            M::Ip6Subnet { .. } => AttrType::Ip6Subnet,
            M::Banner(_) => AttrType::Banner,
            M::SavePasswd(_) => AttrType::SavePasswd,
            M::DefDomain(_) => AttrType::DefDomain,
            M::SplitDns(_) => AttrType::SplitDns,
            M::SplitInclude(_) => AttrType::SplitInclude,
            M::NattPort(_) => AttrType::NattPort,
            M::LocalLan(_) => AttrType::LocalLan,
            M::Pfs(_) => AttrType::Pfs,
            M::FwType(_) => AttrType::FwType,
            M::BackupServers(_) => AttrType::BackupServers,
            M::DdnsHostname(_) => AttrType::DdnsHostname,
            M::Unknown(a) => AttrType::Unknown(a.kind),
        }
    }

    /// The empty-value request form of a type (what a client puts in CFG_REQUEST, and what
    /// an ACK lists).
    pub fn request(t: AttrType) -> Self {
        ModeCfgAttr::Request(t)
    }

    /// Decodes one attribute; `offset` is where its header sits, for errors.
    pub fn decode(attr: &Attribute<'_>, offset: usize) -> Result<Self, ModeCfgError> {
        use ModeCfgAttr as M;
        let t = AttrType::from_u16(attr.kind);
        if let AttrType::Unknown(_) = t {
            return Ok(M::Unknown(attr.to_owned_attr()));
        }
        let v = match attr.value {
            AttrValue::Basic(v) => {
                if t.is_tv() {
                    return Ok(match t {
                        AttrType::SavePasswd => M::SavePasswd(v),
                        AttrType::NattPort => M::NattPort(v),
                        _ => M::Pfs(v),
                    });
                }
                return Err(ModeCfgError::BadForm {
                    attr: t,
                    offset,
                    got: "TV",
                    expected: "TLV",
                });
            }
            AttrValue::Variable(v) => v,
        };
        if v.is_empty() {
            return Ok(M::Request(t));
        }
        if t.is_tv() {
            return Err(ModeCfgError::BadForm {
                attr: t,
                offset,
                got: "TLV",
                expected: "TV",
            });
        }
        let bad = |expected: &'static str| ModeCfgError::BadLength {
            attr: t,
            offset,
            length: v.len(),
            expected,
        };
        let four = "0 or 4 bytes";
        let sixteen = "0 or 16 bytes";
        Ok(match t {
            AttrType::Ip4Address => M::Ip4Address(ip4(v).ok_or_else(|| bad(four))?),
            AttrType::Ip4Netmask => M::Ip4Netmask(ip4(v).ok_or_else(|| bad(four))?),
            AttrType::Ip4Dns => M::Ip4Dns(ip4(v).ok_or_else(|| bad(four))?),
            AttrType::Ip4Nbns => M::Ip4Nbns(ip4(v).ok_or_else(|| bad(four))?),
            AttrType::Ip4Dhcp => M::Ip4Dhcp(ip4(v).ok_or_else(|| bad(four))?),
            AttrType::AddressExpiry => {
                let a: [u8; 4] = v.try_into().map_err(|_| bad(four))?;
                M::AddressExpiry(u32::from_be_bytes(a))
            }
            AttrType::ApplicationVersion => M::ApplicationVersion(Text(v.to_vec())),
            AttrType::Ip6Address => {
                let expected = "0, 16 or 17 bytes";
                match v.len() {
                    16 => M::Ip6Address(Ip6Prefix {
                        addr: ip6(v).ok_or_else(|| bad(expected))?,
                        prefix: None,
                    }),
                    17 => {
                        let (a, p) = v.split_at(16);
                        let prefix = prefix_len(t, offset, p)?;
                        M::Ip6Address(Ip6Prefix {
                            addr: ip6(a).ok_or_else(|| bad(expected))?,
                            prefix: Some(prefix),
                        })
                    }
                    _ => return Err(bad(expected)),
                }
            }
            AttrType::Ip6Netmask => M::Ip6Netmask(ip6(v).ok_or_else(|| bad(sixteen))?),
            AttrType::Ip6Dns => M::Ip6Dns(ip6(v).ok_or_else(|| bad(sixteen))?),
            AttrType::Ip6Nbns => M::Ip6Nbns(ip6(v).ok_or_else(|| bad(sixteen))?),
            AttrType::Ip6Dhcp => M::Ip6Dhcp(ip6(v).ok_or_else(|| bad(sixteen))?),
            AttrType::Ip4Subnet => {
                let expected = "0 or 8 bytes";
                if v.len() != 8 {
                    return Err(bad(expected));
                }
                let (a, m) = v.split_at(4);
                M::Ip4Subnet(Ip4Subnet {
                    addr: ip4(a).ok_or_else(|| bad(expected))?,
                    mask: ip4(m).ok_or_else(|| bad(expected))?,
                })
            }
            AttrType::SupportedAttributes => {
                if v.len() % 2 != 0 {
                    return Err(bad("a multiple of 2 bytes"));
                }
                M::SupportedAttributes(
                    v.chunks_exact(2)
                        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                        .map(u16::from_be_bytes)
                        .collect(),
                )
            }
            AttrType::Ip6Subnet => {
                let expected = "0 or 17 bytes";
                if v.len() != 17 {
                    return Err(bad(expected));
                }
                let (a, p) = v.split_at(16);
                M::Ip6Subnet {
                    addr: ip6(a).ok_or_else(|| bad(expected))?,
                    prefix: prefix_len(t, offset, p)?,
                }
            }
            AttrType::Banner => M::Banner(Text(v.to_vec())),
            AttrType::DefDomain => M::DefDomain(Text(v.to_vec())),
            AttrType::SplitDns => M::SplitDns(Text(v.to_vec())),
            AttrType::SplitInclude => M::SplitInclude(decode_split_list(t, offset, v)?),
            AttrType::LocalLan => M::LocalLan(decode_split_list(t, offset, v)?),
            AttrType::FwType => M::FwType(v.to_vec()),
            AttrType::BackupServers => M::BackupServers(Text(v.to_vec())),
            AttrType::DdnsHostname => M::DdnsHostname(Text(v.to_vec())),
            // TV types and Unknown were handled above.
            AttrType::SavePasswd | AttrType::NattPort | AttrType::Pfs | AttrType::Unknown(_) => {
                return Err(bad("TV form"))
            }
        })
    }

    /// Encodes the attribute for the wire. Fails only for values over 65535 bytes.
    pub fn encode(&self) -> Result<OwnedAttribute, ModeCfgError> {
        use ModeCfgAttr as M;
        let t = self.attr_type();
        let n = t.number();
        let bytes: Vec<u8> = match self {
            M::Request(_) => Vec::new(),
            M::Ip4Address(a) | M::Ip4Netmask(a) | M::Ip4Dns(a) | M::Ip4Nbns(a) | M::Ip4Dhcp(a) => {
                a.octets().to_vec()
            }
            M::AddressExpiry(s) => s.to_be_bytes().to_vec(),
            M::ApplicationVersion(x)
            | M::Banner(x)
            | M::DefDomain(x)
            | M::SplitDns(x)
            | M::BackupServers(x)
            | M::DdnsHostname(x) => x.0.clone(),
            M::Ip6Address(p) => {
                let mut b = p.addr.octets().to_vec();
                if let Some(len) = p.prefix {
                    b.push(len);
                }
                b
            }
            M::Ip6Netmask(a) | M::Ip6Dns(a) | M::Ip6Nbns(a) | M::Ip6Dhcp(a) => a.octets().to_vec(),
            M::Ip4Subnet(s) => {
                let mut b = s.addr.octets().to_vec();
                b.extend_from_slice(&s.mask.octets());
                b
            }
            M::SupportedAttributes(list) => supported_bytes(list.iter().copied()),
            M::Ip6Subnet { addr, prefix } => {
                let mut b = addr.octets().to_vec();
                b.push(*prefix);
                b
            }
            M::SplitInclude(e) | M::LocalLan(e) => encode_split_list(e),
            M::FwType(b) => b.clone(),
            M::SavePasswd(v) | M::NattPort(v) | M::Pfs(v) => {
                return Ok(OwnedAttribute::basic(n, *v));
            }
            M::Unknown(a) => return Ok(a.clone()),
        };
        tlv(t, bytes)
    }
}

/// The type of one attribute, checked exactly as [`ModeCfgAttr::decode`] checks it (same
/// `Ok`/`Err`, same error), without building the value: the server only needs the type of
/// each requested attribute, and the allocating forms (text, lists, unknown types) have no
/// check beyond their form and length.
pub(crate) fn decode_type(attr: &Attribute<'_>, offset: usize) -> Result<AttrType, ModeCfgError> {
    let t = AttrType::from_u16(attr.kind);
    match (t, attr.value) {
        // A request (zero-length TLV) of any type, and a TV value of a TV type.
        (_, AttrValue::Variable([]))
        | (AttrType::SavePasswd | AttrType::NattPort | AttrType::Pfs, AttrValue::Basic(_))
        | (AttrType::Unknown(_), _)
        | (
            AttrType::ApplicationVersion
            | AttrType::Banner
            | AttrType::DefDomain
            | AttrType::SplitDns
            | AttrType::FwType
            | AttrType::BackupServers
            | AttrType::DdnsHostname,
            AttrValue::Variable(_),
        ) => Ok(t),
        (AttrType::SupportedAttributes, AttrValue::Variable(v)) if v.len() % 2 == 0 => Ok(t),
        (AttrType::SplitInclude | AttrType::LocalLan, AttrValue::Variable(v))
            if v.len() % SPLIT_ENTRY_LEN == 0 =>
        {
            Ok(t)
        }
        // Every other form decodes without allocating (or fails): decode it.
        _ => ModeCfgAttr::decode(attr, offset).map(|a| a.attr_type()),
    }
}

/// A TLV attribute of type `t` carrying `bytes`, refused over 65535 bytes (as
/// [`ModeCfgAttr::encode`] does).
pub(crate) fn tlv(t: AttrType, bytes: Vec<u8>) -> Result<OwnedAttribute, ModeCfgError> {
    if bytes.len() > usize::from(u16::MAX) {
        return Err(ModeCfgError::TooLong {
            attr: t,
            length: bytes.len(),
        });
    }
    Ok(OwnedAttribute::variable(t.number(), bytes))
}

fn prefix_len(t: AttrType, offset: usize, p: &[u8]) -> Result<u8, ModeCfgError> {
    let len = p.first().copied().unwrap_or(0);
    if len > 128 {
        return Err(ModeCfgError::BadValue {
            attr: t,
            offset,
            value: u64::from(len),
            reason: "IPv6 prefix length above 128",
        });
    }
    Ok(len)
}

/// SUPPORTED_ATTRIBUTES' value: each type number, big-endian, in one exact allocation.
fn supported_bytes(list: impl ExactSizeIterator<Item = u16>) -> Vec<u8> {
    let mut b = Vec::with_capacity(list.len().saturating_mul(2));
    for x in list {
        b.extend_from_slice(&x.to_be_bytes());
    }
    b
}

/// Decodes every attribute of a config payload, with error offsets in message terms.
pub fn decode_payload(p: &ConfigPayload<'_>) -> Result<Vec<ModeCfgAttr>, ModeCfgError> {
    decode_bytes(p.raw_attributes, p.attributes_offset)
}

/// Decodes a packed attribute list that starts at `offset` in its message.
///
/// The list is bounded by [`isakmp_wire::attr::MAX_ATTRIBUTES`].
pub fn decode_bytes(bytes: &[u8], offset: usize) -> Result<Vec<ModeCfgAttr>, ModeCfgError> {
    let mut at = offset;
    // Each attribute takes at least 4 bytes, and the walk stops at MAX_ATTRIBUTES: one
    // bounded allocation instead of a regrowth every few attributes.
    let mut out = Vec::with_capacity((bytes.len() / 4).min(MAX_ATTRIBUTES));
    for a in AttributeIter::new(bytes, offset) {
        let a = a?;
        out.push(ModeCfgAttr::decode(&a, at)?);
        at = at.saturating_add(a.wire_len());
    }
    Ok(out)
}

/// Decodes a list of owned attributes; error offsets count from the start of the list.
pub fn decode_list(attrs: &[OwnedAttribute]) -> Result<Vec<ModeCfgAttr>, ModeCfgError> {
    let mut at = 0usize;
    let mut out = Vec::with_capacity(attrs.len());
    for a in attrs {
        out.push(ModeCfgAttr::decode(&a.as_attr(), at)?);
        at = at.saturating_add(a.wire_len());
    }
    Ok(out)
}

/// Encodes a list of typed attributes, in order.
pub fn encode_list(attrs: &[ModeCfgAttr]) -> Result<Vec<OwnedAttribute>, ModeCfgError> {
    attrs.iter().map(ModeCfgAttr::encode).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// The server's allocation-free check agrees with the full decode, error included.
        #[test]
        fn decode_type_agrees_with_decode(
            kind in prop_oneof![
                prop::sample::select(AttrType::KNOWN.iter().map(|t| t.number()).collect::<Vec<_>>()),
                any::<u16>(),
            ],
            tv in any::<bool>(),
            basic in any::<u16>(),
            value in prop::collection::vec(any::<u8>(), 0..40),
            offset in 0usize..1000,
        ) {
            let a = if tv {
                Attribute::basic(kind, basic)
            } else {
                Attribute::variable(kind, &value)
            };
            prop_assert_eq!(
                decode_type(&a, offset),
                ModeCfgAttr::decode(&a, offset).map(|d| d.attr_type())
            );
        }
    }
}
