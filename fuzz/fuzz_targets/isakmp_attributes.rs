//! Data attribute lists (TV/TLV) and their typed views in every number space.
//! Whatever parses must re-emit to the same bytes, form and order preserved.
#![no_main]

use isakmp_wire::attr::ipsec::{IpsecAttribute, IpsecTransform};
use isakmp_wire::attr::phase1::{Phase1Attribute, Phase1Transform};
use isakmp_wire::attr::AttrSpace;
use isakmp_wire::AttributeIter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(attrs) = AttributeIter::new(data, 0).collect::<Result<Vec<_>, _>>() else {
        return;
    };
    let mut out = Vec::new();
    for a in &attrs {
        a.emit(&mut out).expect("emit");
        let _ = Phase1Attribute::from(*a);
        let _ = IpsecAttribute::from(*a);
        for s in [AttrSpace::Phase1, AttrSpace::Ipsec, AttrSpace::Config] {
            let _ = (s.type_name(a.kind), s.value_name(a));
        }
    }
    assert_eq!(&out[..], data, "bytes -> attributes -> bytes");
    let _ = Phase1Transform::from_attributes(AttributeIter::new(data, 0)).expect("valid list");
    let _ = IpsecTransform::from_attributes(AttributeIter::new(data, 0)).expect("valid list");
});
