//! Decrypted payload chains: the first byte names the first payload type, the
//! rest is the plaintext. Whatever parses must re-emit to the same chain bytes,
//! with the padding reported exactly.
#![no_main]

use isakmp_wire::payload::emit_chain;
use isakmp_wire::{parse_decrypted, Limits, PayloadType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, plain)) = data.split_first() else {
        return;
    };
    let Ok(chain) = parse_decrypted(PayloadType::from(first), plain, 28, &Limits::DEFAULT) else {
        return;
    };
    assert_eq!(chain.bytes.len() + chain.padding.len(), plain.len());
    let payloads = chain.to_owned_payloads().expect("a validated chain copies");
    let mut out = Vec::new();
    emit_chain(&payloads, &mut out).expect("emit");
    assert_eq!(&out[..], chain.bytes, "bytes -> model -> bytes");
    assert_eq!(out.len(), isakmp_wire::payload::chain_wire_len(&payloads));
});
