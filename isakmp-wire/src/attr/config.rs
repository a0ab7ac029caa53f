//! Attribute types of the Mode Config payload (14): Mode Config
//! (draft-dukes-ike-mode-cfg 3.3: 1-15), Xauth (draft-beaulieu-ike-xauth 3.1:
//! 16520-16529) and Cisco Unity (28672-28683, as vpnc and libreswan name them).

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
    }
}

wire_enum! {
    /// XAUTH_TYPE values (draft-beaulieu-ike-xauth 3.2).
    pub enum XauthType: u16 {
        /// 0.
        Generic = 0 => "Generic",
        /// 1.
        RadiusChap = 1 => "RADIUS-CHAP",
        /// 2.
        Otp = 2 => "OTP",
        /// 3.
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
