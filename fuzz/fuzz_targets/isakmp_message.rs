//! Whole ISAKMP messages: parse (header, chain, every payload down to each
//! attribute); whatever parses must re-emit to the same bytes through the owned
//! model (less any 4-octet alignment padding, which the model drops), and the cheap
//! header view must agree with the full header.
#![no_main]

use isakmp_wire::{Message, OwnedMessage, Packet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(view) = Packet::new_checked(data) {
        let _ = (view.cookies(), view.exchange_type(), view.payload().len());
        if let Ok(h) = view.header() {
            assert_eq!(h.initiator_cookie, view.initiator_cookie());
            assert_eq!(h.length, view.length());
        }
    }
    let Ok(m) = Message::parse(data) else {
        return;
    };
    let owned = m.to_owned_message().expect("a validated message copies");
    let bytes = owned.to_bytes().expect("emit");
    assert_eq!(bytes.len(), owned.wire_len());
    // The model drops the up to 3 zero bytes of 4-octet alignment a plaintext message
    // may carry (libreswan's); what it emits is the message without them, Length fixed.
    let pad = match m.body {
        isakmp_wire::Body::Payloads(c) => c.padding.len(),
        isakmp_wire::Body::Encrypted(_) => 0,
    };
    let mut canonical = data[..m.wire_len() - pad].to_vec();
    if pad > 0 {
        let len = u32::try_from(canonical.len()).unwrap().to_be_bytes();
        canonical[24..28].copy_from_slice(&len);
    }
    assert_eq!(&bytes[..], &canonical[..], "bytes -> model -> bytes");
    let again = OwnedMessage::parse(&bytes).expect("re-parse");
    assert_eq!(again, owned);
});
