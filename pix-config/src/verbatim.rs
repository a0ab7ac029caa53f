//! The command families kept verbatim on purpose (`snmp-server`, `ssh`, `pager`,
//! ...): they do not affect the VPN/NAT behaviour this project models, so the model
//! keeps their tokens and prints them back unchanged, without a warning.

use crate::lexer::Cur;

crate::interface::keyword_enum! {
    /// Command families this model keeps verbatim (no warning): they do not affect
    /// the VPN/NAT behaviour this project models, and their text round-trips.
    pub enum Family {
        /// `pager ...`
        Pager = "pager",
        /// `icmp ...`
        Icmp = "icmp",
        /// `ip audit ...`
        IpAudit = "ip audit",
        /// `ip verify ...`
        IpVerify = "ip verify",
        /// `failover ...`
        Failover = "failover",
        /// `pdm ...`
        Pdm = "pdm",
        /// `arp ...`
        Arp = "arp",
        /// `http ...`
        Http = "http",
        /// `snmp-server ...`
        SnmpServer = "snmp-server",
        /// `ntp ...`
        Ntp = "ntp",
        /// `clock ...`
        Clock = "clock",
        /// `floodguard ...`
        Floodguard = "floodguard",
        /// `tftp-server ...`
        TftpServer = "tftp-server",
        /// `telnet ...`
        Telnet = "telnet",
        /// `ssh ...`
        Ssh = "ssh",
        /// `console ...`
        Console = "console",
        /// `dhcpd ...`
        Dhcpd = "dhcpd",
        /// `terminal ...`
        Terminal = "terminal",
        /// `established ...`
        Established = "established",
        /// `service ...`
        Service = "service",
        /// `url-server ...`
        UrlServer = "url-server",
        /// `filter ...`
        Filter = "filter",
        /// `privilege ...`
        Privilege = "privilege",
        /// `ca ...`
        Ca = "ca",
        /// `crypto ca ...`
        CryptoCa = "crypto ca",
        /// `rip ...`
        Rip = "rip",
        /// `auth-prompt ...`
        AuthPrompt = "auth-prompt",
        /// `banner ...`
        Banner = "banner",
    }
}

/// A verbatim command of a known [`Family`]: `[no] family args...`, tokens joined by one space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    /// Written with a leading `no`.
    pub no: bool,
    /// Its family.
    pub family: Family,
    /// The arguments after the family keyword(s), normalized to single spaces.
    pub args: String,
}

pub(crate) fn parse_known(cur: &mut Cur<'_, '_>, no: bool, family: Family) -> Known {
    let args = cur.rest_tokens().join(" ");
    Known { no, family, args }
}

impl Known {
    pub(crate) fn write(&self, out: &mut String) {
        if self.no {
            out.push_str("no ");
        }
        out.push_str(self.family.as_str());
        if !self.args.is_empty() {
            out.push(' ');
            out.push_str(&self.args);
        }
    }
}
