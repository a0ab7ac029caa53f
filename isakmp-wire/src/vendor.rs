//! Well-known vendor IDs, recognised by value.
//!
//! Most VIDs are an MD5 hash of a string (sometimes truncated, sometimes with
//! version bytes replacing the tail). Each table row records where its bytes come
//! from; `tests` recompute every MD5-derived row from its source string. Other
//! rows are the byte values that libreswan's `vendorid.c` and ike-scan's
//! `ike-vendor-ids` publish, cross-checked against the tshark oracle captures.

use crate::wire_enum::wire_enum;

wire_enum! {
    /// Vendors and capabilities this crate recognises (`Unknown` is never
    /// produced by [`identify`], which returns `None` instead).
    pub enum Vendor: u16 {
        /// draft-ietf-ipsra-isakmp-xauth-06 (MD5, first 8 bytes).
        Xauth = 1 => "XAUTH",
        /// RFC 3706 Dead Peer Detection 1.0.
        Dpd = 2 => "RFC 3706 DPD (Dead Peer Detection)",
        /// Cisco Unity client extensions; last two bytes are major/minor version.
        CiscoUnity = 3 => "CISCO-UNITY",
        /// Cisco VPN 3000 concentrator (MD5("ALTIGA GATEWAY"), last two bytes a version).
        CiscoConcentrator = 4 => "Cisco VPN Concentrator",
        /// IKE fragmentation (MD5("FRAGMENTATION"), optionally followed by flags).
        CiscoFragmentation = 5 => "Cisco Fragmentation",
        /// RFC 3947 NAT traversal.
        NatTRfc3947 = 6 => "RFC 3947 Negotiation of NAT-Traversal in the IKE",
        /// draft-ietf-ipsec-nat-t-ike-00.
        NatTDraft00 = 7 => "draft-ietf-ipsec-nat-t-ike-00",
        /// draft-ietf-ipsec-nat-t-ike-01.
        NatTDraft01 = 8 => "draft-ietf-ipsec-nat-t-ike-01",
        /// draft-ietf-ipsec-nat-t-ike-02.
        NatTDraft02 = 9 => "draft-ietf-ipsec-nat-t-ike-02",
        /// draft-ietf-ipsec-nat-t-ike-02 with the newline the draft's hash included.
        NatTDraft02N = 10 => "draft-ietf-ipsec-nat-t-ike-02\\n",
        /// draft-ietf-ipsec-nat-t-ike-03.
        NatTDraft03 = 11 => "draft-ietf-ipsec-nat-t-ike-03",
        /// draft-ietf-ipsec-nat-t-ike-04.
        NatTDraft04 = 12 => "draft-ietf-ipsec-nat-t-ike-04",
        /// draft-ietf-ipsec-nat-t-ike-05.
        NatTDraft05 = 13 => "draft-ietf-ipsec-nat-t-ike-05",
        /// draft-ietf-ipsec-nat-t-ike-06.
        NatTDraft06 = 14 => "draft-ietf-ipsec-nat-t-ike-06",
        /// draft-ietf-ipsec-nat-t-ike-07.
        NatTDraft07 = 15 => "draft-ietf-ipsec-nat-t-ike-07",
        /// draft-ietf-ipsec-nat-t-ike-08.
        NatTDraft08 = 16 => "draft-ietf-ipsec-nat-t-ike-08",
        /// MD5("draft-ietf-ipsec-nat-t-ike"), sent by Mac OS X racoon.
        NatTDraftUnversioned = 17 => "draft-ietf-ipsec-nat-t-ike",
        /// strongSwan.
        StrongSwan = 18 => "strongSwan",
        /// Openswan / Libreswan ("OE" followed by ten printable characters).
        Openswan = 19 => "Openswan",
        /// KAME / racoon.
        KameRacoon = 20 => "KAME/racoon",
        /// MD5("Vid-Initial-Contact").
        InitialContact = 21 => "Vid-Initial-Contact",
        /// Microsoft Windows ("MS NT5 ISAKMPOAKLEY" + 4-byte version).
        MicrosoftWindows = 22 => "MS NT5 ISAKMPOAKLEY",
        /// Microsoft: NLB/MSCS fast failover supported.
        MicrosoftNlbs = 23 => "MS-Negotiation Discovery Capable / NLBS_PRESENT",
        /// "HeartBeat_Notify" (ASCII) plus version bytes (Netscreen/ScreenOS).
        HeartbeatNotify = 24 => "HeartBeat_Notify",
        /// Cisco IOS device (4-byte prefix).
        CiscoIos = 25 => "Cisco IOS Device",
        /// Cisco Unity firewall type (a packed attribute list as VID).
        CiscoUnityFwType = 26 => "Cisco-Unity FW type",
        /// ASCII "CISCO-DELETE-REASON".
        CiscoDeleteReason = 27 => "CISCO-DELETE-REASON",
        /// ASCII "CISCO-DYNAMIC-ROUTE".
        CiscoDynamicRoute = 28 => "CISCO-DYNAMIC-ROUTE",
        /// ASCII "FLEXVPN-SUPPORTED".
        FlexVpnSupported = 29 => "FLEXVPN-SUPPORTED",
        /// ASCII "CISCOVPN-REV-02".
        CiscoVpnRev02 = 30 => "CISCOVPN-REV-02",
        /// Check Point Firewall-1 (20-byte prefix, version fields follow).
        CheckPoint = 31 => "Check Point Firewall-1",
        /// Netscreen ScreenOS ("Netscreen-15" in ike-scan's table).
        Netscreen15 = 32 => "Netscreen-15",
    }
}

/// How a table row matches a VID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The VID equals the bytes.
    Exact,
    /// The VID starts with the bytes (version or flag bytes may follow).
    Prefix,
    /// The VID starts with the bytes and is exactly this long.
    PrefixLen(usize),
}

/// Where a row's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The first bytes of MD5 of this string.
    Md5(&'static str),
    /// This ASCII string.
    Ascii(&'static str),
    /// A literal value published by libreswan / ike-scan.
    Published,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorEntry {
    /// The vendor or capability.
    pub vendor: Vendor,
    /// Bytes to match.
    pub bytes: &'static [u8],
    /// How to match them.
    pub matching: Match,
    /// Provenance of `bytes`.
    pub source: Source,
}

macro_rules! hex {
    ($s:literal) => {{
        const S: &[u8] = $s.as_bytes();
        const N: usize = S.len() / 2;
        #[allow(clippy::arithmetic_side_effects)]
        const fn nib(c: u8) -> u8 {
            match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => panic!("bad hex"),
            }
        }
        #[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
        const B: [u8; N] = {
            let mut out = [0u8; N];
            let mut i = 0;
            while i < N {
                out[i] = (nib(S[2 * i]) << 4) | nib(S[2 * i + 1]);
                i += 1;
            }
            out
        };
        &B
    }};
}

/// The table, most specific rows first.
pub static VENDOR_IDS: &[VendorEntry] = &[
    VendorEntry {
        vendor: Vendor::Xauth,
        bytes: hex!("09002689dfd6b712"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsra-isakmp-xauth-06.txt"),
    },
    VendorEntry {
        vendor: Vendor::Dpd,
        bytes: hex!("afcad71368a1f1c96b8696fc77570100"),
        matching: Match::Exact,
        source: Source::Published,
    },
    VendorEntry {
        vendor: Vendor::CiscoUnity,
        bytes: hex!("12f5f28c457168a9702d9fe274cc"),
        matching: Match::PrefixLen(16),
        source: Source::Md5("CISCO-UNITY"),
    },
    VendorEntry {
        vendor: Vendor::CiscoConcentrator,
        bytes: hex!("1f07f70eaa6514d3b0fa96542a50"),
        matching: Match::PrefixLen(16),
        source: Source::Md5("ALTIGA GATEWAY"),
    },
    VendorEntry {
        vendor: Vendor::CiscoFragmentation,
        bytes: hex!("4048b7d56ebce88525e7de7f00d6c2d3"),
        matching: Match::Prefix,
        source: Source::Md5("FRAGMENTATION"),
    },
    VendorEntry {
        vendor: Vendor::NatTRfc3947,
        bytes: hex!("4a131c81070358455c5728f20e95452f"),
        matching: Match::Exact,
        source: Source::Md5("RFC 3947"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft00,
        bytes: hex!("4485152d18b6bbcd0be8a8469579ddcc"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-00"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft01,
        bytes: hex!("16f6ca16e4a4066d83821a0f0aeaa862"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-01"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft02,
        bytes: hex!("cd60464335df21f87cfdb2fc68b6a448"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-02"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft02N,
        bytes: hex!("90cb80913ebb696e086381b5ec427b1f"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-02\n"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft03,
        bytes: hex!("7d9419a65310ca6f2c179d9215529d56"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-03"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft04,
        bytes: hex!("9909b64eed937c6573de52ace952fa6b"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-04"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft05,
        bytes: hex!("80d0bb3def54565ee84645d4c85ce3ee"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-05"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft06,
        bytes: hex!("4d1e0e136deafa34c4f3ea9f02ec7285"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-06"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft07,
        bytes: hex!("439b59f8ba676c4c7737ae22eab8f582"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-07"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraft08,
        bytes: hex!("8f8d83826d246b6fc7a8a6a428c11de8"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike-08"),
    },
    VendorEntry {
        vendor: Vendor::NatTDraftUnversioned,
        bytes: hex!("4df37928e9fc4fd1b3262170d515c662"),
        matching: Match::Exact,
        source: Source::Md5("draft-ietf-ipsec-nat-t-ike"),
    },
    VendorEntry {
        vendor: Vendor::StrongSwan,
        bytes: hex!("882fe56d6fd20dbc2251613b2ebe5beb"),
        matching: Match::Exact,
        source: Source::Md5("strongSwan"),
    },
    VendorEntry {
        vendor: Vendor::KameRacoon,
        bytes: hex!("7003cbc1097dbe9c2600ba6983bc8b35"),
        matching: Match::Exact,
        source: Source::Md5("KAME/racoon"),
    },
    VendorEntry {
        vendor: Vendor::InitialContact,
        bytes: hex!("26244d38eddb61b3172a36e3d0cfb819"),
        matching: Match::Exact,
        source: Source::Md5("Vid-Initial-Contact"),
    },
    VendorEntry {
        vendor: Vendor::MicrosoftWindows,
        bytes: hex!("1e2b516905991c7d7c96fcbfb587e461"),
        matching: Match::PrefixLen(20),
        source: Source::Md5("MS NT5 ISAKMPOAKLEY"),
    },
    VendorEntry {
        vendor: Vendor::MicrosoftNlbs,
        bytes: hex!("72872b95fcda2eb708efe322119b4971"),
        matching: Match::Exact,
        source: Source::Published,
    },
    VendorEntry {
        vendor: Vendor::HeartbeatNotify,
        bytes: b"HeartBeat_Notify",
        matching: Match::Prefix,
        source: Source::Ascii("HeartBeat_Notify"),
    },
    VendorEntry {
        vendor: Vendor::CiscoUnityFwType,
        bytes: hex!("800100018002000180030002"),
        matching: Match::Exact,
        source: Source::Published,
    },
    VendorEntry {
        vendor: Vendor::CiscoDeleteReason,
        bytes: b"CISCO-DELETE-REASON",
        matching: Match::Exact,
        source: Source::Ascii("CISCO-DELETE-REASON"),
    },
    VendorEntry {
        vendor: Vendor::CiscoDynamicRoute,
        bytes: b"CISCO-DYNAMIC-ROUTE",
        matching: Match::Exact,
        source: Source::Ascii("CISCO-DYNAMIC-ROUTE"),
    },
    VendorEntry {
        vendor: Vendor::FlexVpnSupported,
        bytes: b"FLEXVPN-SUPPORTED",
        matching: Match::Exact,
        source: Source::Ascii("FLEXVPN-SUPPORTED"),
    },
    VendorEntry {
        vendor: Vendor::CiscoVpnRev02,
        bytes: b"CISCOVPN-REV-02",
        matching: Match::Exact,
        source: Source::Ascii("CISCOVPN-REV-02"),
    },
    VendorEntry {
        vendor: Vendor::CheckPoint,
        bytes: hex!("f4ed19e0c114eb516faaac0ee37daf2807b4381f"),
        matching: Match::Prefix,
        source: Source::Published,
    },
    VendorEntry {
        vendor: Vendor::Netscreen15,
        bytes: hex!("166f932d55eb64d8e4df4fd37e2313f0d0fd84510000000000000000"),
        matching: Match::Exact,
        source: Source::Published,
    },
    VendorEntry {
        vendor: Vendor::CiscoIos,
        bytes: hex!("3e984048"),
        matching: Match::Prefix,
        source: Source::Published,
    },
];

/// A recognised vendor ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorMatch<'a> {
    /// The table row that matched.
    pub entry: &'static VendorEntry,
    /// Bytes after the matched prefix (version, flags), empty for exact rows.
    pub suffix: &'a [u8],
}

impl VendorMatch<'_> {
    /// The vendor.
    pub fn vendor(&self) -> Vendor {
        self.entry.vendor
    }

    /// Cisco Unity / concentrator version bytes (major, minor).
    pub fn version(&self) -> Option<(u8, u8)> {
        match (self.entry.vendor, self.suffix) {
            (Vendor::CiscoUnity | Vendor::CiscoConcentrator, [a, b]) => Some((*a, *b)),
            _ => None,
        }
    }
}

impl core::fmt::Display for VendorMatch<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.entry.vendor.name())?;
        match (self.entry.vendor, self.suffix) {
            (Vendor::CiscoUnity, [a, b]) => write!(f, " {a}.{b}"),
            (Vendor::CiscoConcentrator, [a, b]) => write!(f, " {a}.{b}"),
            (Vendor::MicrosoftWindows, v) => {
                let n = <[u8; 4]>::try_from(v).map(u32::from_be_bytes).unwrap_or(0);
                write!(f, " version {n}")
            }
            (_, []) => Ok(()),
            (_, rest) => {
                f.write_str(" ")?;
                for b in rest {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// Recognises a VID by value.
pub fn identify(vid: &[u8]) -> Option<VendorMatch<'_>> {
    for e in VENDOR_IDS {
        let hit = match e.matching {
            Match::Exact => vid == e.bytes,
            Match::Prefix => vid.starts_with(e.bytes),
            Match::PrefixLen(n) => vid.len() == n && vid.starts_with(e.bytes),
        };
        if hit {
            return Some(VendorMatch {
                entry: e,
                suffix: vid.get(e.bytes.len()..).unwrap_or(&[]),
            });
        }
    }
    if is_openswan(vid) {
        return Some(VendorMatch {
            entry: &OPENSWAN,
            suffix: vid.get(2..).unwrap_or(&[]),
        });
    }
    None
}

static OPENSWAN: VendorEntry = VendorEntry {
    vendor: Vendor::Openswan,
    bytes: b"OE",
    matching: Match::PrefixLen(12),
    source: Source::Published,
};

/// Openswan's VID: "OE" and ten printable characters (a hash in base64-like form).
fn is_openswan(vid: &[u8]) -> bool {
    vid.len() == 12
        && vid.starts_with(b"OE")
        && vid
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )]
    use super::*;
    use md5::{Digest, Md5};

    #[test]
    fn md5_rows_are_the_hash_of_their_string() {
        let mut n = 0;
        for e in VENDOR_IDS {
            match e.source {
                Source::Md5(s) => {
                    let h = Md5::digest(s.as_bytes());
                    assert_eq!(&h[..e.bytes.len()], e.bytes, "{s}");
                    n += 1;
                }
                Source::Ascii(s) => assert_eq!(s.as_bytes(), e.bytes),
                Source::Published => {}
            }
        }
        assert!(n >= 18, "{n} rows checked");
    }

    #[test]
    fn versions_and_flags_are_split_off() {
        let unity = hex_bytes("12f5f28c457168a9702d9fe274cc0100");
        let m = identify(&unity).unwrap();
        assert_eq!(
            (m.vendor(), m.version()),
            (Vendor::CiscoUnity, Some((1, 0)))
        );
        assert_eq!(m.to_string(), "CISCO-UNITY 1.0");
        let conc = hex_bytes("1f07f70eaa6514d3b0fa96542a500407");
        let m = identify(&conc).unwrap();
        assert_eq!(m.version(), Some((4, 7)));
        let frag = hex_bytes("4048b7d56ebce88525e7de7f00d6c2d380000000");
        let m = identify(&frag).unwrap();
        assert_eq!(
            (m.vendor(), m.suffix),
            (Vendor::CiscoFragmentation, &[0x80, 0, 0, 0][..])
        );
        let ms = hex_bytes("1e2b516905991c7d7c96fcbfb587e46100000009");
        assert_eq!(
            identify(&ms).unwrap().to_string(),
            "MS NT5 ISAKMPOAKLEY version 9"
        );
        assert_eq!(
            identify(b"OEkRbGXRvmPE").unwrap().vendor(),
            Vendor::Openswan
        );
        assert!(identify(b"OE\x00\x01").is_none());
        // A truncated Unity VID is not Unity.
        assert!(identify(&unity[..15]).is_none());
        assert!(identify(&[]).is_none());
    }

    fn hex_bytes(h: &str) -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    }
}
