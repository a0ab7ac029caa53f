//! Domain of Interpretation numbers: RFC 2408 A / RFC 2407 4.4 (protocol and
//! transform identifiers) and 4.6.2.1 (identification types).

use crate::wire_enum::wire_enum;

wire_enum! {
    /// Domain of Interpretation (RFC 2408 3.4, RFC 2407 6).
    pub enum Doi: u32 {
        /// 0: generic ISAKMP (used by some notifies and phase-1 deletes).
        Isakmp = 0 => "ISAKMP",
        /// 1: the IPsec DOI (RFC 2407).
        Ipsec = 1 => "IPSEC",
        /// 2: GDOI (RFC 6407).
        Gdoi = 2 => "GDOI",
    }
}

wire_enum! {
    /// Security protocol identifiers (RFC 2407 4.4.1).
    pub enum ProtocolId: u8 {
        /// 0: reserved; phase-1 notifies without SPI use it.
        Reserved = 0 => "RESERVED",
        /// 1: ISAKMP.
        Isakmp = 1 => "ISAKMP",
        /// 2: AH.
        Ah = 2 => "IPSEC_AH",
        /// 3: ESP.
        Esp = 3 => "IPSEC_ESP",
        /// 4: IP compression.
        Ipcomp = 4 => "IPCOMP",
    }
}

wire_enum! {
    /// Phase-1 transform identifiers (PROTO_ISAKMP, RFC 2407 4.4.2).
    pub enum IsakmpTransformId: u8 {
        /// 1: the only one, KEY_IKE.
        KeyIke = 1 => "KEY_IKE",
    }
}

wire_enum! {
    /// ESP transform identifiers (RFC 2407 4.4.4 and IANA's later additions).
    pub enum EspTransformId: u8 {
        /// 1.
        DesIv64 = 1 => "DES-IV64",
        /// 2.
        Des = 2 => "DES",
        /// 3.
        TripleDes = 3 => "3DES",
        /// 4.
        Rc5 = 4 => "RC5",
        /// 5.
        Idea = 5 => "IDEA",
        /// 6.
        Cast = 6 => "CAST",
        /// 7.
        Blowfish = 7 => "BLOWFISH",
        /// 8.
        TripleIdea = 8 => "3IDEA",
        /// 9.
        DesIv32 = 9 => "DES-IV32",
        /// 10.
        Rc4 = 10 => "RC4",
        /// 11.
        Null = 11 => "NULL",
        /// 12 (RFC 3602).
        Aes = 12 => "AES",
        /// 13 (RFC 3686).
        AesCtr = 13 => "AES-CTR",
        /// 14 (RFC 4309).
        AesCcm8 = 14 => "AES-CCM_8",
        /// 15.
        AesCcm12 = 15 => "AES-CCM_12",
        /// 16.
        AesCcm16 = 16 => "AES-CCM_16",
        /// 18 (RFC 4106).
        AesGcm8 = 18 => "AES-GCM_8",
        /// 19.
        AesGcm12 = 19 => "AES-GCM_12",
        /// 20.
        AesGcm16 = 20 => "AES-GCM_16",
    }
}

wire_enum! {
    /// AH transform identifiers (RFC 2407 4.4.3).
    pub enum AhTransformId: u8 {
        /// 2.
        Md5 = 2 => "AH_MD5",
        /// 3.
        Sha = 3 => "AH_SHA",
        /// 4.
        Des = 4 => "AH_DES",
        /// 5 (RFC 4868).
        Sha2_256 = 5 => "AH_SHA2_256",
        /// 6.
        Sha2_384 = 6 => "AH_SHA2_384",
        /// 7.
        Sha2_512 = 7 => "AH_SHA2_512",
    }
}

wire_enum! {
    /// IPCOMP transform identifiers (RFC 2407 4.4.5).
    pub enum IpcompTransformId: u8 {
        /// 1.
        Oui = 1 => "IPCOMP_OUI",
        /// 2.
        Deflate = 2 => "IPCOMP_DEFLATE",
        /// 3.
        Lzs = 3 => "IPCOMP_LZS",
        /// 4.
        Lzjh = 4 => "IPCOMP_LZJH",
    }
}

/// The name of transform `id` under `protocol` (e.g. `KEY_IKE`, `3DES`, `AH_SHA`).
pub fn transform_name(protocol: ProtocolId, id: u8) -> &'static str {
    match protocol {
        ProtocolId::Isakmp => IsakmpTransformId::from(id).name(),
        ProtocolId::Esp => EspTransformId::from(id).name(),
        ProtocolId::Ah => AhTransformId::from(id).name(),
        ProtocolId::Ipcomp => IpcompTransformId::from(id).name(),
        _ => "Unknown",
    }
}

wire_enum! {
    /// Identification types (RFC 2407 4.6.2.1).
    pub enum IdType: u8 {
        /// 1: four-byte IPv4 address.
        Ipv4Addr = 1 => "IPV4_ADDR",
        /// 2: fully-qualified domain name.
        Fqdn = 2 => "FQDN",
        /// 3: user@fqdn.
        UserFqdn = 3 => "USER_FQDN",
        /// 4: IPv4 address and mask.
        Ipv4AddrSubnet = 4 => "IPV4_ADDR_SUBNET",
        /// 5: sixteen-byte IPv6 address.
        Ipv6Addr = 5 => "IPV6_ADDR",
        /// 6: IPv6 address and mask.
        Ipv6AddrSubnet = 6 => "IPV6_ADDR_SUBNET",
        /// 7: IPv4 first and last address.
        Ipv4AddrRange = 7 => "IPV4_ADDR_RANGE",
        /// 8: IPv6 first and last address.
        Ipv6AddrRange = 8 => "IPV6_ADDR_RANGE",
        /// 9: DER-encoded X.500 distinguished name.
        DerAsn1Dn = 9 => "DER_ASN1_DN",
        /// 10: DER-encoded X.500 general name.
        DerAsn1Gn = 10 => "DER_ASN1_GN",
        /// 11: opaque key identifier (Cisco clients send the group name).
        KeyId = 11 => "KEY_ID",
    }
}

wire_enum! {
    /// Certificate encodings (RFC 2408 3.9).
    pub enum CertEncoding: u8 {
        /// 0.
        None = 0 => "NONE",
        /// 1.
        Pkcs7 = 1 => "PKCS #7 wrapped X.509 certificate",
        /// 2.
        Pgp = 2 => "PGP Certificate",
        /// 3.
        DnsSignedKey = 3 => "DNS Signed Key",
        /// 4.
        X509Signature = 4 => "X.509 Certificate - Signature",
        /// 5.
        X509KeyExchange = 5 => "X.509 Certificate - Key Exchange",
        /// 6.
        Kerberos = 6 => "Kerberos Tokens",
        /// 7.
        Crl = 7 => "Certificate Revocation List (CRL)",
        /// 8.
        Arl = 8 => "Authority Revocation List (ARL)",
        /// 9.
        Spki = 9 => "SPKI Certificate",
        /// 10.
        X509Attribute = 10 => "X.509 Certificate - Attribute",
    }
}

/// The IPsec DOI situation bit SIT_IDENTITY_ONLY (RFC 2407 4.2).
pub const SIT_IDENTITY_ONLY: u32 = 1;
