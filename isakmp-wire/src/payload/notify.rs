//! The Notification payload (RFC 2408 3.14) and its message types (RFC 2408
//! 3.14.1, RFC 2407 4.6.3, RFC 3706 DPD, Cisco Unity).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !              Domain of Interpretation  (DOI)                  !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !  Protocol-ID  !   SPI Size    !      Notify Message Type      !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                Security Parameter Index (SPI)                 ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                       Notification Data                       ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use bytes::BufMut;

use crate::doi::{Doi, ProtocolId};
use crate::error::WireError;
use crate::reader::{InPayload, Reader};
use crate::wire_enum::wire_enum;

/// Payload type number.
pub const PAYLOAD_TYPE: u8 = 11;

wire_enum! {
    /// Notify message types.
    pub enum NotifyType: u16 {
        /// 1.
        InvalidPayloadType = 1 => "INVALID-PAYLOAD-TYPE",
        /// 2.
        DoiNotSupported = 2 => "DOI-NOT-SUPPORTED",
        /// 3.
        SituationNotSupported = 3 => "SITUATION-NOT-SUPPORTED",
        /// 4.
        InvalidCookie = 4 => "INVALID-COOKIE",
        /// 5.
        InvalidMajorVersion = 5 => "INVALID-MAJOR-VERSION",
        /// 6.
        InvalidMinorVersion = 6 => "INVALID-MINOR-VERSION",
        /// 7.
        InvalidExchangeType = 7 => "INVALID-EXCHANGE-TYPE",
        /// 8.
        InvalidFlags = 8 => "INVALID-FLAGS",
        /// 9.
        InvalidMessageId = 9 => "INVALID-MESSAGE-ID",
        /// 10.
        InvalidProtocolId = 10 => "INVALID-PROTOCOL-ID",
        /// 11.
        InvalidSpi = 11 => "INVALID-SPI",
        /// 12.
        InvalidTransformId = 12 => "INVALID-TRANSFORM-ID",
        /// 13.
        AttributesNotSupported = 13 => "ATTRIBUTES-NOT-SUPPORTED",
        /// 14.
        NoProposalChosen = 14 => "NO-PROPOSAL-CHOSEN",
        /// 15.
        BadProposalSyntax = 15 => "BAD-PROPOSAL-SYNTAX",
        /// 16.
        PayloadMalformed = 16 => "PAYLOAD-MALFORMED",
        /// 17.
        InvalidKeyInformation = 17 => "INVALID-KEY-INFORMATION",
        /// 18.
        InvalidIdInformation = 18 => "INVALID-ID-INFORMATION",
        /// 19.
        InvalidCertEncoding = 19 => "INVALID-CERT-ENCODING",
        /// 20.
        InvalidCertificate = 20 => "INVALID-CERTIFICATE",
        /// 21.
        CertTypeUnsupported = 21 => "CERT-TYPE-UNSUPPORTED",
        /// 22.
        InvalidCertAuthority = 22 => "INVALID-CERT-AUTHORITY",
        /// 23.
        InvalidHashInformation = 23 => "INVALID-HASH-INFORMATION",
        /// 24.
        AuthenticationFailed = 24 => "AUTHENTICATION-FAILED",
        /// 25.
        InvalidSignature = 25 => "INVALID-SIGNATURE",
        /// 26.
        AddressNotification = 26 => "ADDRESS-NOTIFICATION",
        /// 27.
        NotifySaLifetime = 27 => "NOTIFY-SA-LIFETIME",
        /// 28.
        CertificateUnavailable = 28 => "CERTIFICATE-UNAVAILABLE",
        /// 29.
        UnsupportedExchangeType = 29 => "UNSUPPORTED-EXCHANGE-TYPE",
        /// 30.
        UnequalPayloadLengths = 30 => "UNEQUAL-PAYLOAD-LENGTHS",
        /// 9101: Check Point's vendor-private message text (seen from Firewall-1).
        CheckPointFirewall1 = 9101 => "Checkpoint-Firewall-1",
        /// 16384: status CONNECTED (RFC 2408).
        Connected = 16384 => "CONNECTED",
        /// 24576: RESPONDER-LIFETIME (RFC 2407 4.6.3.1).
        ResponderLifetime = 24576 => "RESPONDER-LIFETIME",
        /// 24577: REPLAY-STATUS (RFC 2407 4.6.3.2).
        ReplayStatus = 24577 => "REPLAY-STATUS",
        /// 24578: INITIAL-CONTACT (RFC 2407 4.6.3.3).
        InitialContact = 24578 => "INITIAL-CONTACT",
        /// 36136: DPD R-U-THERE (RFC 3706).
        RUThere = 36136 => "R-U-THERE",
        /// 36137: DPD R-U-THERE-ACK (RFC 3706).
        RUThereAck = 36137 => "R-U-THERE-ACK",
        /// 40501: Cisco Unity load balancing (redirect to another gateway).
        UnityLoadBalance = 40501 => "UNITY-LOAD-BALANCE",
        /// 40503: Cisco Unity group hash.
        UnityGroupHash = 40503 => "UNITY-GROUP-HASH",
    }
}

impl NotifyType {
    /// Error types are 1-16383 (RFC 2408 3.14.1).
    pub fn is_error(self) -> bool {
        (1..16384).contains(&self.number())
    }
}

/// A borrowed Notification payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotifyPayload<'a> {
    /// Domain of interpretation.
    pub doi: Doi,
    /// Protocol the SPI belongs to.
    pub protocol: ProtocolId,
    /// Message type.
    pub notify_type: NotifyType,
    /// SPI (16 bytes CKY-I|CKY-R for ISAKMP, 4 for ESP/AH, or empty).
    pub spi: &'a [u8],
    /// Notification data (DPD: a 32-bit sequence number).
    pub data: &'a [u8],
}

impl<'a> NotifyPayload<'a> {
    /// Parses the body at `offset` of the message.
    pub fn parse(body: &'a [u8], offset: usize) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let doi = Doi::from(r.u32("notification header").in_payload(PAYLOAD_TYPE)?);
        let protocol = ProtocolId::from(r.u8("notification header").in_payload(PAYLOAD_TYPE)?);
        let spi_size = r.u8("notification header").in_payload(PAYLOAD_TYPE)?;
        let notify_type = NotifyType::from(r.u16("notification header").in_payload(PAYLOAD_TYPE)?);
        let spi = r
            .take(usize::from(spi_size), "notification SPI")
            .in_payload(PAYLOAD_TYPE)?;
        let data = r.take_rest();
        Ok(NotifyPayload {
            doi,
            protocol,
            notify_type,
            spi,
            data,
        })
    }

    /// The DPD sequence number of an R-U-THERE / R-U-THERE-ACK.
    pub fn dpd_sequence(&self) -> Option<u32> {
        match self.notify_type {
            NotifyType::RUThere | NotifyType::RUThereAck => {
                <[u8; 4]>::try_from(self.data).ok().map(u32::from_be_bytes)
            }
            _ => None,
        }
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        8usize
            .saturating_add(self.spi.len())
            .saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        let spi_size = crate::payload::length_u8(self.spi.len(), "notification SPI")?;
        buf.put_u32(self.doi.into());
        buf.put_u8(self.protocol.into());
        buf.put_u8(spi_size);
        buf.put_u16(self.notify_type.into());
        buf.put_slice(self.spi);
        buf.put_slice(self.data);
        Ok(())
    }

    /// An owned copy.
    pub fn to_owned_notify(&self) -> OwnedNotify {
        OwnedNotify {
            doi: self.doi,
            protocol: self.protocol,
            notify_type: self.notify_type,
            spi: self.spi.to_vec(),
            data: self.data.to_vec(),
        }
    }
}

/// An owned Notification payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedNotify {
    /// Domain of interpretation.
    pub doi: Doi,
    /// Protocol.
    pub protocol: ProtocolId,
    /// Message type.
    pub notify_type: NotifyType,
    /// SPI.
    pub spi: Vec<u8>,
    /// Data.
    pub data: Vec<u8>,
}

impl OwnedNotify {
    /// A borrowed view.
    pub fn as_notify(&self) -> NotifyPayload<'_> {
        NotifyPayload {
            doi: self.doi,
            protocol: self.protocol,
            notify_type: self.notify_type,
            spi: &self.spi,
            data: &self.data,
        }
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.as_notify().wire_len()
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        self.as_notify().emit(buf)
    }
}
