//! Key log rows in the formats Wireshark reads (`esp_sa` and `ikev1_decryption_table`
//! UAT rows), built from the keys the crates derived. The rows carry keys: they are
//! handed out as [`crate::Output::Keylog`] only when the key log is on, and the shell
//! writes them to a file only it checks (owner, mode, links).

use std::net::Ipv4Addr;

use esp::{EncryptionAlgorithm, IntegrityAlgorithm};
use ike_sm::ChildSa;

/// The ESP transform names Wireshark's `esp_sa` table uses.
pub fn wireshark_cipher(alg: EncryptionAlgorithm) -> &'static str {
    match alg {
        EncryptionAlgorithm::Des => "DES-CBC [RFC2405]",
        EncryptionAlgorithm::TripleDes => "TripleDES-CBC [RFC2451]",
        EncryptionAlgorithm::Aes128 | EncryptionAlgorithm::Aes192 | EncryptionAlgorithm::Aes256 => {
            "AES-CBC [RFC3602]"
        }
        _ => "NULL",
    }
}

/// The ESP integrity names Wireshark's `esp_sa` table uses.
pub fn wireshark_auth(alg: IntegrityAlgorithm) -> &'static str {
    match alg {
        IntegrityAlgorithm::HmacMd5_96 => "HMAC-MD5-96 [RFC2403]",
        IntegrityAlgorithm::HmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
        _ => "NULL",
    }
}

/// Two `esp_sa` rows (inbound, outbound), prefixed `esp_sa:` so one file holds both
/// tables; `pix-gateway` users split them with `grep` (see the README).
pub fn esp_lines(c: &ChildSa, ours: Ipv4Addr) -> Vec<String> {
    let peer = c.remote.ip();
    let enc = wireshark_cipher(c.encryption);
    let auth = wireshark_auth(c.integrity);
    vec![
        format!(
            "esp_sa:\"IPv4\",\"{peer}\",\"{ours}\",\"{:#010x}\",\"{enc}\",\"0x{}\",\"{auth}\",\"0x{}\"",
            c.spi_in,
            hex::encode(c.enc_key_in.expose_secret()),
            hex::encode(c.auth_key_in.expose_secret()),
        ),
        format!(
            "esp_sa:\"IPv4\",\"{ours}\",\"{peer}\",\"{:#010x}\",\"{enc}\",\"0x{}\",\"{auth}\",\"0x{}\"",
            c.spi_out,
            hex::encode(c.enc_key_out.expose_secret()),
            hex::encode(c.auth_key_out.expose_secret()),
        ),
    ]
}

/// One `ikev1_decryption_table` row: initiator cookie, phase-1 encryption key.
pub fn ike_line(icookie: &[u8; 8], enc_key: &[u8]) -> String {
    format!(
        "ikev1_decryption_table:{},{}",
        hex::encode(icookie),
        hex::encode(enc_key)
    )
}
