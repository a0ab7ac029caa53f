//! PIX 6.3 literal names for ports, IP protocols and ICMP types.
//!
//! Parsing accepts the full names and, like the PIX CLI, unique abbreviations of
//! port names (with a warning: `dns` abbreviates `dnsix`, port 195 — it is NOT
//! `domain`, 53). Printing uses the name the PIX prints, chosen per protocol.

/// Which transport a port belongs to, for choosing the printed name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortProto {
    /// TCP ports.
    Tcp,
    /// UDP ports.
    Udp,
    /// Both (service groups `tcp-udp`, protocol object-groups): only names valid for both.
    Both,
}

// (name, port, valid for tcp, valid for udp)
const PORTS: &[(&str, u16, bool, bool)] = &[
    ("aol", 5190, true, false),
    ("bgp", 179, true, false),
    ("biff", 512, false, true),
    ("bootpc", 68, false, true),
    ("bootps", 67, false, true),
    ("chargen", 19, true, false),
    ("citrix-ica", 1494, true, false),
    ("cmd", 514, true, false),
    ("ctiqbe", 2748, true, false),
    ("daytime", 13, true, false),
    ("discard", 9, true, true),
    ("dnsix", 195, false, true),
    ("domain", 53, true, true),
    ("echo", 7, true, true),
    ("exec", 512, true, false),
    ("finger", 79, true, false),
    ("ftp", 21, true, false),
    ("ftp-data", 20, true, false),
    ("gopher", 70, true, false),
    ("h323", 1720, true, false),
    ("hostname", 101, true, false),
    ("http", 80, true, true),
    ("https", 443, true, false),
    ("ident", 113, true, false),
    ("imap4", 143, true, false),
    ("irc", 194, true, false),
    ("isakmp", 500, false, true),
    ("kerberos", 750, true, true),
    ("klogin", 543, true, false),
    ("kshell", 544, true, false),
    ("ldap", 389, true, false),
    ("ldaps", 636, true, false),
    ("login", 513, true, false),
    ("lotusnotes", 1352, true, false),
    ("lpd", 515, true, false),
    ("mobile-ip", 434, false, true),
    ("nameserver", 42, false, true),
    ("netbios-dgm", 138, false, true),
    ("netbios-ns", 137, false, true),
    ("netbios-ssn", 139, true, false),
    ("nntp", 119, true, false),
    ("ntp", 123, false, true),
    ("pcanywhere-data", 5631, true, false),
    ("pcanywhere-status", 5632, false, true),
    ("pim-auto-rp", 496, true, true),
    ("pop2", 109, true, false),
    ("pop3", 110, true, false),
    ("pptp", 1723, true, false),
    ("radius", 1645, false, true),
    ("radius-acct", 1646, false, true),
    ("rip", 520, false, true),
    ("rsh", 514, true, false),
    ("rtsp", 554, true, false),
    ("secureid-udp", 5510, false, true),
    ("sip", 5060, true, true),
    ("smtp", 25, true, false),
    ("snmp", 161, false, true),
    ("snmptrap", 162, false, true),
    ("sqlnet", 1521, true, false),
    ("ssh", 22, true, false),
    ("sunrpc", 111, true, true),
    ("syslog", 514, false, true),
    ("tacacs", 49, true, true),
    ("talk", 517, true, true),
    ("telnet", 23, true, false),
    ("tftp", 69, false, true),
    ("time", 37, false, true),
    ("uucp", 540, true, false),
    ("who", 513, false, true),
    ("whois", 43, true, false),
    ("www", 80, true, true),
    ("xdmcp", 177, false, true),
];

/// Names the PIX prints for a port, by protocol (`show run` spelling).
fn print_name(port: u16, proto: PortProto) -> Option<&'static str> {
    let tcp = match port {
        7 => "echo",
        9 => "discard",
        13 => "daytime",
        19 => "chargen",
        20 => "ftp-data",
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 => "smtp",
        43 => "whois",
        49 => "tacacs",
        53 => "domain",
        70 => "gopher",
        79 => "finger",
        80 => "www",
        101 => "hostname",
        109 => "pop2",
        110 => "pop3",
        111 => "sunrpc",
        113 => "ident",
        119 => "nntp",
        143 => "imap4",
        179 => "bgp",
        194 => "irc",
        389 => "ldap",
        443 => "https",
        496 => "pim-auto-rp",
        512 => "exec",
        513 => "login",
        514 => "rsh",
        515 => "lpd",
        517 => "talk",
        540 => "uucp",
        543 => "klogin",
        544 => "kshell",
        554 => "rtsp",
        636 => "ldaps",
        750 => "kerberos",
        1352 => "lotusnotes",
        1494 => "citrix-ica",
        1521 => "sqlnet",
        1720 => "h323",
        1723 => "pptp",
        2748 => "ctiqbe",
        5060 => "sip",
        5190 => "aol",
        5631 => "pcanywhere-data",
        _ => "",
    };
    let udp = match port {
        7 => "echo",
        9 => "discard",
        37 => "time",
        42 => "nameserver",
        49 => "tacacs",
        53 => "domain",
        67 => "bootps",
        68 => "bootpc",
        69 => "tftp",
        80 => "www",
        111 => "sunrpc",
        123 => "ntp",
        137 => "netbios-ns",
        138 => "netbios-dgm",
        161 => "snmp",
        162 => "snmptrap",
        177 => "xdmcp",
        195 => "dnsix",
        434 => "mobile-ip",
        496 => "pim-auto-rp",
        500 => "isakmp",
        512 => "biff",
        513 => "who",
        514 => "syslog",
        517 => "talk",
        520 => "rip",
        750 => "kerberos",
        1645 => "radius",
        1646 => "radius-acct",
        5060 => "sip",
        5510 => "secureid-udp",
        5632 => "pcanywhere-status",
        _ => "",
    };
    let name = match proto {
        PortProto::Tcp => tcp,
        PortProto::Udp => udp,
        PortProto::Both if tcp == udp => tcp,
        PortProto::Both => "",
    };
    (!name.is_empty()).then_some(name)
}

/// Write a port the way the PIX prints it for this protocol.
pub fn port_to_string(port: u16, proto: PortProto) -> String {
    match print_name(port, proto) {
        Some(n) => n.to_owned(),
        None => port.to_string(),
    }
}

/// How a port token was understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortLookup {
    /// A number or a full name.
    Exact(u16),
    /// A unique abbreviation of `full`.
    Abbreviation {
        /// The full name.
        full: &'static str,
        /// Its port.
        port: u16,
    },
}

/// Look up a port token: a number 0-65535, a full PIX name, or a unique abbreviation.
pub fn lookup_port(tok: &str) -> Option<PortLookup> {
    if tok.bytes().all(|b| b.is_ascii_digit()) {
        return tok.parse::<u16>().ok().map(PortLookup::Exact);
    }
    if let Some((_, p, _, _)) = PORTS.iter().find(|(n, ..)| n.eq_ignore_ascii_case(tok)) {
        return Some(PortLookup::Exact(*p));
    }
    let is_prefix = |n: &str| {
        n.len() > tok.len()
            && n.as_bytes()
                .iter()
                .zip(tok.as_bytes())
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
    };
    let mut hits = PORTS.iter().filter(|(n, ..)| is_prefix(n));
    match (hits.next(), hits.next()) {
        (Some((full, port, _, _)), None) => Some(PortLookup::Abbreviation { full, port: *port }),
        _ => None,
    }
}

const PROTOCOLS: &[(&str, u8)] = &[
    ("ip", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ipinip", 4),
    ("tcp", 6),
    ("igrp", 9),
    ("udp", 17),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("eigrp", 88),
    ("ospf", 89),
    ("nos", 94),
    ("pim", 103),
    ("pcp", 108),
    ("snp", 109),
];

/// IP protocol by PIX name or number.
pub fn lookup_protocol(tok: &str) -> Option<u8> {
    if tok.bytes().all(|b| b.is_ascii_digit()) {
        return tok.parse::<u8>().ok();
    }
    PROTOCOLS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(tok))
        .map(|(_, p)| *p)
}

/// The PIX name of an IP protocol, or its number.
pub fn protocol_to_string(proto: u8) -> String {
    PROTOCOLS
        .iter()
        .find(|(_, p)| *p == proto)
        .map_or_else(|| proto.to_string(), |(n, _)| (*n).to_owned())
}

const ICMP_TYPES: &[(&str, u8)] = &[
    ("echo-reply", 0),
    ("unreachable", 3),
    ("source-quench", 4),
    ("redirect", 5),
    ("alternate-address", 6),
    ("echo", 8),
    ("router-advertisement", 9),
    ("router-solicitation", 10),
    ("time-exceeded", 11),
    ("parameter-problem", 12),
    ("timestamp-request", 13),
    ("timestamp-reply", 14),
    ("information-request", 15),
    ("information-reply", 16),
    ("mask-request", 17),
    ("mask-reply", 18),
    ("conversion-error", 31),
    ("mobile-redirect", 32),
];

/// ICMP type by PIX name or number.
pub fn lookup_icmp(tok: &str) -> Option<u8> {
    if tok.bytes().all(|b| b.is_ascii_digit()) {
        return tok.parse::<u8>().ok();
    }
    ICMP_TYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(tok))
        .map(|(_, t)| *t)
}

/// The PIX name of an ICMP type, or its number.
pub fn icmp_to_string(t: u8) -> String {
    ICMP_TYPES
        .iter()
        .find(|(_, v)| *v == t)
        .map_or_else(|| t.to_string(), |(n, _)| (*n).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_names() {
        assert_eq!(lookup_port("www"), Some(PortLookup::Exact(80)));
        assert_eq!(lookup_port("domain"), Some(PortLookup::Exact(53)));
        assert_eq!(lookup_port("sqlnet"), Some(PortLookup::Exact(1521)));
        assert_eq!(lookup_port("65535"), Some(PortLookup::Exact(65535)));
        assert_eq!(lookup_port("65536"), None);
    }

    #[test]
    fn dns_is_dnsix_not_domain() {
        assert_eq!(
            lookup_port("dns"),
            Some(PortLookup::Abbreviation {
                full: "dnsix",
                port: 195
            })
        );
        // ambiguous prefix: `ftp` is exact, `ft` matches ftp and ftp-data
        assert_eq!(lookup_port("ft"), None);
    }

    #[test]
    fn printing_by_protocol() {
        assert_eq!(port_to_string(80, PortProto::Tcp), "www");
        assert_eq!(port_to_string(514, PortProto::Tcp), "rsh");
        assert_eq!(port_to_string(514, PortProto::Udp), "syslog");
        assert_eq!(port_to_string(514, PortProto::Both), "514");
        assert_eq!(port_to_string(8080, PortProto::Tcp), "8080");
        // every printed name parses back to its number
        for p in 0..=6000u16 {
            for proto in [PortProto::Tcp, PortProto::Udp, PortProto::Both] {
                let s = port_to_string(p, proto);
                assert_eq!(lookup_port(&s), Some(PortLookup::Exact(p)), "{s}");
            }
        }
    }

    #[test]
    fn protocols_and_icmp() {
        assert_eq!(lookup_protocol("esp"), Some(50));
        assert_eq!(protocol_to_string(17), "udp");
        assert_eq!(protocol_to_string(200), "200");
        assert_eq!(lookup_icmp("echo-reply"), Some(0));
        assert_eq!(icmp_to_string(8), "echo");
        for t in 0..=255u8 {
            assert_eq!(lookup_icmp(&icmp_to_string(t)), Some(t));
            assert_eq!(lookup_protocol(&protocol_to_string(t)), Some(t));
        }
    }
}
