//! Attribute types of the Mode Config payload (14): Mode Config
//! (draft-dukes-ike-mode-cfg 3.3: 1-15), Xauth (draft-beaulieu-ike-xauth 3.1:
//! 16520-16529), Cisco Unity (28672-28683, as vpnc and libreswan name them) and
//! the Cisco extension that rides in Xauth requests (0x7d88, vpnc's name).
//!
//! [`ConfigAttrType`] is the workspace's one registry of these numbers and their
//! names: `xauth` and `modecfg` take their attribute names from it, and
//! [`ConfigAttrType::pix_name`] gives the name a PIX prints in its debug output.

use crate::wire_enum::wire_enum;

wire_enum! {
    /// Attribute types carried in CFG_REQUEST/REPLY/SET/ACK.
    pub enum ConfigAttrType: u16 {
        /// 1.
        InternalIp4Address = 1 => "INTERNAL_IP4_ADDRESS",
        /// 2.
        InternalIp4Netmask = 2 => "INTERNAL_IP4_NETMASK",
        /// 3.
        InternalIp4Dns = 3 => "INTERNAL_IP4_DNS",
        /// 4.
        InternalIp4Nbns = 4 => "INTERNAL_IP4_NBNS",
        /// 5.
        InternalAddressExpiry = 5 => "INTERNAL_ADDRESS_EXPIRY",
        /// 6.
        InternalIp4Dhcp = 6 => "INTERNAL_IP4_DHCP",
        /// 7.
        ApplicationVersion = 7 => "APPLICATION_VERSION",
        /// 8.
        InternalIp6Address = 8 => "INTERNAL_IP6_ADDRESS",
        /// 9.
        InternalIp6Netmask = 9 => "INTERNAL_IP6_NETMASK",
        /// 10.
        InternalIp6Dns = 10 => "INTERNAL_IP6_DNS",
        /// 11.
        InternalIp6Nbns = 11 => "INTERNAL_IP6_NBNS",
        /// 12.
        InternalIp6Dhcp = 12 => "INTERNAL_IP6_DHCP",
        /// 13.
        InternalIp4Subnet = 13 => "INTERNAL_IP4_SUBNET",
        /// 14.
        SupportedAttributes = 14 => "SUPPORTED_ATTRIBUTES",
        /// 15.
        InternalIp6Subnet = 15 => "INTERNAL_IP6_SUBNET",
        /// 16520.
        XauthType = 16520 => "XAUTH_TYPE",
        /// 16521.
        XauthUserName = 16521 => "XAUTH_USER_NAME",
        /// 16522.
        XauthUserPassword = 16522 => "XAUTH_USER_PASSWORD",
        /// 16523.
        XauthPasscode = 16523 => "XAUTH_PASSCODE",
        /// 16524.
        XauthMessage = 16524 => "XAUTH_MESSAGE",
        /// 16525.
        XauthChallenge = 16525 => "XAUTH_CHALLENGE",
        /// 16526.
        XauthDomain = 16526 => "XAUTH_DOMAIN",
        /// 16527.
        XauthStatus = 16527 => "XAUTH_STATUS",
        /// 16528.
        XauthNextPin = 16528 => "XAUTH_NEXT_PIN",
        /// 16529.
        XauthAnswer = 16529 => "XAUTH_ANSWER",
        /// 28672.
        UnityBanner = 28672 => "UNITY_BANNER",
        /// 28673.
        UnitySavePasswd = 28673 => "UNITY_SAVE_PASSWD",
        /// 28674.
        UnityDefDomain = 28674 => "UNITY_DEF_DOMAIN",
        /// 28675.
        UnitySplitDomain = 28675 => "UNITY_SPLITDNS_NAME",
        /// 28676.
        UnitySplitInclude = 28676 => "UNITY_SPLIT_INCLUDE",
        /// 28677.
        UnityNattPort = 28677 => "UNITY_NATT_PORT",
        /// 28678.
        UnityLocalLan = 28678 => "UNITY_LOCAL_LAN",
        /// 28679.
        UnityPfs = 28679 => "UNITY_PFS",
        /// 28680.
        UnityFwType = 28680 => "UNITY_FW_TYPE",
        /// 28681.
        UnityBackupServers = 28681 => "UNITY_BACKUP_SERVERS",
        /// 28682.
        UnityDdnsHostname = 28682 => "UNITY_DDNS_HOSTNAME",
        /// 28683.
        UnitySmartcardRemovalDisconnect = 28683 => "UNITY_SMARTCARD_REMOVAL_DISCONNECT",
        /// 32136 (0x7d88): Cisco concentrators add it to Xauth requests; clients
        /// accept and ignore it.
        CiscoExtVendor = 32136 => "CISCO_EXT_VENDOR",
    }
}

impl ConfigAttrType {
    /// Whether this is an Xauth attribute (16520-16529, and the Cisco extension
    /// that comes with them).
    pub fn is_xauth(self) -> bool {
        matches!(self.number(), 16520..=16529) || self == ConfigAttrType::CiscoExtVendor
    }

    /// Whether this is a Cisco Unity attribute (28672-28683).
    pub fn is_unity(self) -> bool {
        matches!(self.number(), 28672..=28683)
    }

    /// The name a PIX 6.3 prints under `debug crypto isakmp`: a Mode Config type
    /// without its `INTERNAL_` prefix ("ISAKMP: attribute IP4_ADDRESS (1)"), an
    /// Xauth type as the draft names it ("request attribute XAUTH_TYPE"), and
    /// "UNKNOWN" for everything else, the Unity types included.
    pub fn pix_name(self) -> &'static str {
        let name = self.name();
        match self.number() {
            1..=15 => name.strip_prefix("INTERNAL_").unwrap_or(name),
            _ if self.is_xauth() => name,
            _ => "UNKNOWN",
        }
    }
}

wire_enum! {
    /// XAUTH_TYPE values (draft-beaulieu-ike-xauth 3.2).
    pub enum XauthType: u16 {
        /// 0: generic user name / password (what the PIX and VPN Client use).
        Generic = 0 => "Generic",
        /// 1: RADIUS-CHAP: the client answers a CHALLENGE with a CHAP response.
        RadiusChap = 1 => "RADIUS-CHAP",
        /// 2: one-time password.
        Otp = 2 => "OTP",
        /// 3: S/KEY: the CHALLENGE carries the sequence number and seed.
        SKey = 3 => "S/KEY",
    }
}

wire_enum! {
    /// XAUTH_STATUS values.
    pub enum XauthStatus: u16 {
        /// 0.
        Fail = 0 => "FAIL",
        /// 1.
        Ok = 1 => "OK",
    }
}

/// The name of a config attribute value, for classes with a registry.
pub fn value_name(kind: u16, value: u64) -> Option<&'static str> {
    let v = u16::try_from(value).ok()?;
    match ConfigAttrType::from(kind) {
        ConfigAttrType::XauthType => Some(XauthType::from(v).name()),
        ConfigAttrType::XauthStatus => Some(XauthStatus::from(v).name()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pix_names_follow_the_pix_debug_output() {
        // What `debug crypto isakmp` prints, from the seed's traces and the
        // modecfg/xauth tables this registry replaced.
        let pix = [
            (1, "IP4_ADDRESS"),
            (2, "IP4_NETMASK"),
            (5, "ADDRESS_EXPIRY"),
            (7, "APPLICATION_VERSION"),
            (13, "IP4_SUBNET"),
            (14, "SUPPORTED_ATTRIBUTES"),
            (15, "IP6_SUBNET"),
            (16520, "XAUTH_TYPE"),
            (16529, "XAUTH_ANSWER"),
            (32136, "CISCO_EXT_VENDOR"),
            (28672, "UNKNOWN"),
            (28683, "UNKNOWN"),
            (16, "UNKNOWN"),
            (16530, "UNKNOWN"),
        ];
        for (n, want) in pix {
            assert_eq!(ConfigAttrType::from(n).pix_name(), want, "{n}");
        }
        let xauth: Vec<u16> = ConfigAttrType::KNOWN
            .iter()
            .filter(|t| t.is_xauth())
            .map(|t| t.number())
            .collect();
        assert_eq!(
            xauth,
            [16520, 16521, 16522, 16523, 16524, 16525, 16526, 16527, 16528, 16529, 32136]
        );
        let unity = ConfigAttrType::KNOWN
            .iter()
            .filter(|t| t.is_unity())
            .count();
        assert_eq!(unity, 12);
    }
}
