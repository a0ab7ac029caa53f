//! `interface`, `nameif`, `ip address` and `mtu`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use crate::lexer::{Cur, PErr};

macro_rules! keyword_enum {
    ($(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $var:ident = $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $var,)* }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)*];
            /// The keyword as the PIX prints it.
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $s,)* } }
            /// Look up a keyword (ASCII case-insensitive).
            pub fn from_keyword(t: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(t))
            }
        }
    };
}
pub(crate) use keyword_enum;

keyword_enum! {
    /// Hardware speed/duplex of an `interface` line.
    pub enum Speed {
        /// `auto`
        Auto = "auto",
        /// `10baset`
        TenBaseT = "10baset",
        /// `10full`
        TenFull = "10full",
        /// `100basetx`
        HundredBaseTx = "100basetx",
        /// `100full`
        HundredFull = "100full",
        /// `1000sxfull`
        ThousandSxFull = "1000sxfull",
        /// `1000basesx`
        ThousandBaseSx = "1000basesx",
        /// `1000auto`
        ThousandAuto = "1000auto",
        /// `1000full`
        ThousandFull = "1000full",
        /// `aui`
        Aui = "aui",
        /// `bnc`
        Bnc = "bnc",
    }
}

/// What follows the hardware name of an `interface` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceKind {
    /// `interface ethernet0 [speed] [shutdown]`
    Physical {
        /// Speed, if written.
        speed: Option<Speed>,
    },
    /// `interface ethernet1 vlan10 logical` (a VLAN subinterface).
    Logical {
        /// VLAN id.
        vlan: u16,
    },
    /// `interface ethernet1 vlan5 physical` (tag the physical interface's traffic).
    VlanPhysical {
        /// VLAN id.
        vlan: u16,
    },
}

/// `interface hardware_id [hardware_speed] [shutdown]` and the VLAN forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Hardware id (`ethernet0`, `gb-ethernet1`, `vlan10` for logical ones is in `kind`).
    pub hardware: String,
    /// Physical or VLAN.
    pub kind: InterfaceKind,
    /// `shutdown` written.
    pub shutdown: bool,
}

pub(crate) fn parse_interface(cur: &mut Cur<'_, '_>) -> Result<Interface, PErr> {
    let hardware = cur.name("a hardware interface (e.g. ethernet0)")?;
    let mut kind = InterfaceKind::Physical { speed: None };
    if let Some(t) = cur.peek() {
        let lower = t.to_ascii_lowercase();
        if let Some(v) = lower
            .strip_prefix("vlan")
            .and_then(|n| n.parse::<u16>().ok())
        {
            if !(1..=4094).contains(&v) {
                return Err(cur.err(crate::ConfigError::OutOfRange {
                    what: "VLAN id",
                    value: t.to_owned(),
                    min: 1,
                    max: 4094,
                }));
            }
            cur.bump();
            kind = if cur.eat("logical") {
                InterfaceKind::Logical { vlan: v }
            } else if cur.eat("physical") {
                InterfaceKind::VlanPhysical { vlan: v }
            } else {
                return Err(cur.expected("`logical` or `physical`"));
            };
        } else if let Some(s) = Speed::from_keyword(t) {
            cur.bump();
            kind = InterfaceKind::Physical { speed: Some(s) };
        } else if !cur.at("shutdown") {
            return Err(cur.expected("an interface speed (auto, 10baset, 100full, 1000sxfull, ...), `vlanN` or `shutdown`"));
        }
    }
    let shutdown = cur.eat("shutdown");
    cur.finish("interface")?;
    Ok(Interface {
        hardware,
        kind,
        shutdown,
    })
}

impl Interface {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "interface {}", self.hardware);
        match self.kind {
            InterfaceKind::Physical { speed: Some(s) } => {
                let _ = write!(out, " {}", s.as_str());
            }
            InterfaceKind::Physical { speed: None } => {}
            InterfaceKind::Logical { vlan } => {
                let _ = write!(out, " vlan{vlan} logical");
            }
            InterfaceKind::VlanPhysical { vlan } => {
                let _ = write!(out, " vlan{vlan} physical");
            }
        }
        if self.shutdown {
            out.push_str(" shutdown");
        }
    }
}

/// `nameif hardware_id if_name securityN`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nameif {
    /// Hardware id (or `vlanN` for a logical interface).
    pub hardware: String,
    /// Interface name used everywhere else.
    pub name: String,
    /// Security level 0-100.
    pub security: u8,
}

pub(crate) fn parse_nameif(cur: &mut Cur<'_, '_>) -> Result<Nameif, PErr> {
    let hardware = cur.name("a hardware interface")?;
    let name = cur.name("an interface name")?;
    let Some(t) = cur.peek() else {
        return Err(cur.expected("a security level `securityN`"));
    };
    let lower = t.to_ascii_lowercase();
    let Some(digits) = lower.strip_prefix("security") else {
        return Err(cur.expected("a security level `securityN`"));
    };
    let security = match digits.parse::<u8>() {
        Ok(v) if v <= 100 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => v,
        _ => {
            return Err(cur.err(crate::ConfigError::OutOfRange {
                what: "security level",
                value: t.to_owned(),
                min: 0,
                max: 100,
            }))
        }
    };
    cur.bump();
    cur.finish("nameif")?;
    Ok(Nameif {
        hardware,
        name,
        security,
    })
}

impl Nameif {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "nameif {} {} security{}",
            self.hardware, self.name, self.security
        );
    }
}

/// How an interface gets its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpAddressKind {
    /// `ip address if_name ip mask`
    Static {
        /// Interface address.
        address: Ipv4Addr,
        /// Its netmask.
        mask: Ipv4Addr,
    },
    /// `ip address if_name dhcp [setroute] [retry N]`
    Dhcp {
        /// Install the DHCP default route.
        setroute: bool,
        /// Retry count.
        retry: Option<u8>,
    },
    /// `ip address if_name pppoe [setroute]`
    Pppoe {
        /// Install the PPPoE default route.
        setroute: bool,
    },
}

/// `ip address ...`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAddress {
    /// Interface name.
    pub interface: String,
    /// Address source.
    pub kind: IpAddressKind,
}

pub(crate) fn parse_ip_address(cur: &mut Cur<'_, '_>) -> Result<IpAddress, PErr> {
    let interface = cur.name("an interface name")?;
    let kind = if cur.eat("dhcp") {
        let setroute = cur.eat("setroute");
        let retry = if cur.eat("retry") {
            Some(cur.u8("a retry count", 4, 16)?)
        } else {
            None
        };
        IpAddressKind::Dhcp { setroute, retry }
    } else if cur.eat("pppoe") {
        IpAddressKind::Pppoe {
            setroute: cur.eat("setroute"),
        }
    } else {
        let address = cur.ip("an IP address, `dhcp` or `pppoe`")?;
        let mask = cur.mask(&address)?;
        IpAddressKind::Static { address, mask }
    };
    cur.finish("ip address")?;
    Ok(IpAddress { interface, kind })
}

impl IpAddress {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "ip address {}", self.interface);
        match &self.kind {
            IpAddressKind::Static { address, mask } => {
                let _ = write!(out, " {address} {mask}");
            }
            IpAddressKind::Dhcp { setroute, retry } => {
                out.push_str(" dhcp");
                if *setroute {
                    out.push_str(" setroute");
                }
                if let Some(r) = retry {
                    let _ = write!(out, " retry {r}");
                }
            }
            IpAddressKind::Pppoe { setroute } => {
                out.push_str(" pppoe");
                if *setroute {
                    out.push_str(" setroute");
                }
            }
        }
    }
}

/// `mtu if_name bytes`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mtu {
    /// Interface name.
    pub interface: String,
    /// MTU in bytes (64-65535).
    pub bytes: u16,
}

pub(crate) fn parse_mtu(cur: &mut Cur<'_, '_>) -> Result<Mtu, PErr> {
    let interface = cur.name("an interface name")?;
    let bytes = cur.u16("an MTU in bytes", 64, 65535)?;
    cur.finish("mtu")?;
    Ok(Mtu { interface, bytes })
}

impl Mtu {
    pub(crate) fn write(&self, out: &mut String) {
        let _ = write!(out, "mtu {} {}", self.interface, self.bytes);
    }
}
