//! pix-nat: random packet sequences against random small configurations (and,
//! when the first byte is odd, against the input itself parsed as a configuration):
//! no panics, every verdict explained (at least one phase; a drop ends in a DROP
//! phase, an allow has only ALLOW phases; every cited line has its text), show
//! renderers total, and every connection gone after a long expiry.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../pix-nat/tests/random_gen/mod.rs"]
mod random_gen;

fuzz_target!(|data: &[u8]| {
    let now = std::time::Instant::now();
    match data.split_first() {
        Some((first, rest)) if first & 1 == 1 => {
            // raw text as a configuration, a fixed packet script from its bytes
            let text = pix_config::decode(rest);
            let out = pix_config::parse(&text);
            if let Ok(fw) = pix_nat::Firewall::new(&out.config) {
                let mut b = random_gen::Bytes(rest);
                random_gen::run(&fw, &mut b, now);
            }
        }
        _ => {
            let mut b = random_gen::Bytes(data);
            let text = random_gen::config(&mut b);
            let out = pix_config::parse(&text);
            if let Ok(fw) = pix_nat::Firewall::new(&out.config) {
                random_gen::run(&fw, &mut b, now);
            }
        }
    }
});
