//! Random packets against random small configurations: no panics, every verdict
//! explained (the `pix_nat_packets` fuzz target runs the same generator).
#![allow(clippy::disallowed_methods)]

mod random_gen;
use random_gen::*;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_configs_explain_every_verdict(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let mut b = Bytes(&data);
        let text = config(&mut b);
        let out = pix_config::parse(&text);
        if let Ok(fw) = pix_nat::Firewall::new(&out.config) {
            run(&fw, &mut b, std::time::Instant::now());
        }
    }
}
