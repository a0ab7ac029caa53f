//! Decryption **without** authentication, for inspecting captured traffic when only
//! the encryption key is known (what `tcpdump -E` and Wireshark's ESP preferences
//! do). Never use this on a data path: nothing here checks the ICV or replay.

use crate::cipher::EspCipher;
use crate::error::EspError;
use crate::packet::{EspPacket, HEADER_LEN};
use crate::params::EncryptionAlgorithm;
use crate::sa::{check_trailer, Decapsulated};

/// Decrypts `packet` (ESP header to the end of the ICV) in place with `key`,
/// skipping the last `icv_len` bytes unchecked, and checks the padding.
pub fn decrypt_unauthenticated(
    encryption: EncryptionAlgorithm,
    key: &[u8],
    icv_len: usize,
    packet: &mut [u8],
) -> Result<Decapsulated, EspError> {
    let view = EspPacket::new_checked(&*packet)?;
    let (spi, seq) = (view.spi(), view.seq());
    let cipher = EspCipher::new(encryption, key)?;
    let align = encryption.alignment();
    let ct_start = HEADER_LEN.saturating_add(encryption.iv_len());
    let min = ct_start.saturating_add(align).saturating_add(icv_len);
    if packet.len() < min {
        return Err(EspError::Truncated {
            what: "ESP packet",
            len: packet.len(),
            needed: min,
        });
    }
    let ct_end = packet.len().saturating_sub(icv_len);
    let ct_len = ct_end.saturating_sub(ct_start);
    if ct_len.checked_rem(align) != Some(0) {
        return Err(EspError::Misaligned {
            spi,
            len: ct_len,
            block: align,
        });
    }
    cipher.decrypt(packet, ct_start, ct_end);
    let (payload_end, next_header) = check_trailer(spi, packet, ct_start, ct_end)?;
    Ok(Decapsulated {
        spi,
        seq,
        next_header,
        payload: ct_start..payload_end,
    })
}
