//! Mode Config attribute lists: decoding never panics, and whatever is accepted re-encodes
//! to exactly the input bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modecfg::attrs::{decode_bytes, encode_list};

fuzz_target!(|data: &[u8]| {
    if let Ok(list) = decode_bytes(data, 0) {
        let owned = encode_list(&list).expect("accepted attributes re-encode");
        let mut out = Vec::with_capacity(data.len());
        for a in &owned {
            a.emit(&mut out).expect("accepted attributes emit");
        }
        assert_eq!(out, data, "round trip changed the bytes");
    }
});
