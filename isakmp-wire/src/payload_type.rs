//! Payload type numbers (RFC 2408 3.1 "Next Payload", RFC 3947, the NAT-T drafts,
//! draft-dukes-ike-mode-cfg, and Cisco's fragmentation payload).

use crate::wire_enum::wire_enum;

wire_enum! {
    /// The "Next Payload" / payload type registry.
    ///
    /// Names follow Wireshark's ISAKMP dissector.
    pub enum PayloadType: u8 {
        /// 0: end of the chain.
        None = 0 => "NONE / No Next Payload",
        /// 1: Security Association (RFC 2408 3.4).
        SecurityAssociation = 1 => "Security Association",
        /// 2: Proposal (RFC 2408 3.5), nested in an SA.
        Proposal = 2 => "Proposal",
        /// 3: Transform (RFC 2408 3.6), nested in a Proposal.
        Transform = 3 => "Transform",
        /// 4: Key Exchange (RFC 2408 3.7).
        KeyExchange = 4 => "Key Exchange",
        /// 5: Identification (RFC 2408 3.8, RFC 2407 4.6.2).
        Identification = 5 => "Identification",
        /// 6: Certificate (RFC 2408 3.9).
        Certificate = 6 => "Certificate",
        /// 7: Certificate Request (RFC 2408 3.10).
        CertificateRequest = 7 => "Certificate Request",
        /// 8: Hash (RFC 2408 3.11).
        Hash = 8 => "Hash",
        /// 9: Signature (RFC 2408 3.12).
        Signature = 9 => "Signature",
        /// 10: Nonce (RFC 2408 3.13).
        Nonce = 10 => "Nonce",
        /// 11: Notification (RFC 2408 3.14).
        Notification = 11 => "Notification",
        /// 12: Delete (RFC 2408 3.15).
        Delete = 12 => "Delete",
        /// 13: Vendor ID (RFC 2408 3.16).
        VendorId = 13 => "Vendor ID",
        /// 14: Attributes (Mode Config / Xauth, draft-dukes-ike-mode-cfg 3.2).
        Attributes = 14 => "Attributes",
        /// 15: SA KEK (GDOI, RFC 6407); early NAT-T drafts used 15 for NAT-D.
        SaKek = 15 => "SA KEK Payload",
        /// 16: SA TEK (GDOI).
        SaTek = 16 => "SA TEK Payload",
        /// 17: Key Download (GDOI).
        KeyDownload = 17 => "Key Download",
        /// 18: Sequence Number (GDOI).
        SequenceNumber = 18 => "Sequence Number",
        /// 19: Proof of Possession (GDOI).
        ProofOfPossession = 19 => "Proof of Possession",
        /// 20: NAT Discovery (RFC 3947).
        NatD = 20 => "NAT-D (RFC 3947)",
        /// 21: NAT Original Address (RFC 3947).
        NatOa = 21 => "NAT-OA (RFC 3947)",
        /// 130: NAT Discovery in draft-ietf-ipsec-nat-t-ike-01 to 03.
        NatDDraft = 130 => "NAT-D (draft-ietf-ipsec-nat-t-ike-01 to 03)",
        /// 131: NAT Original Address in the drafts.
        NatOaDraft = 131 => "NAT-OA (draft-ietf-ipsec-nat-t-ike-01 to 04)",
        /// 132: Cisco IKE fragmentation payload.
        CiscoFragmentation = 132 => "Cisco-Fragmentation",
    }
}

impl PayloadType {
    /// Short name as tcpdump and PIX debug logs print it (`sa`, `ke`, `vid`, ..).
    pub fn short_name(self) -> &'static str {
        match self {
            PayloadType::None => "none",
            PayloadType::SecurityAssociation => "sa",
            PayloadType::Proposal => "p",
            PayloadType::Transform => "t",
            PayloadType::KeyExchange => "ke",
            PayloadType::Identification => "id",
            PayloadType::Certificate => "cert",
            PayloadType::CertificateRequest => "cr",
            PayloadType::Hash => "hash",
            PayloadType::Signature => "sig",
            PayloadType::Nonce => "nonce",
            PayloadType::Notification => "n",
            PayloadType::Delete => "d",
            PayloadType::VendorId => "vid",
            PayloadType::Attributes => "attr",
            PayloadType::NatD | PayloadType::NatDDraft => "nat-d",
            PayloadType::NatOa | PayloadType::NatOaDraft => "nat-oa",
            PayloadType::CiscoFragmentation => "frag",
            _ => "payload",
        }
    }
}
