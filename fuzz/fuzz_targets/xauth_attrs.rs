//! Xauth attribute lists inside a Mode Config attribute payload body: parse,
//! re-emit, parse again; nothing may panic and whatever parses must round-trip.
#![no_main]

use isakmp_wire::ConfigPayload;
use libfuzzer_sys::fuzz_target;
use xauth::attrs::{parse_list, to_owned_list};

fuzz_target!(|data: &[u8]| {
    let Ok(p) = ConfigPayload::parse(data, 0) else {
        return;
    };
    let Ok(list) = parse_list(p.attributes()) else {
        return;
    };
    let mut wire = Vec::new();
    for a in to_owned_list(&list) {
        a.emit(&mut wire).expect("re-emit");
    }
    let again = parse_list(isakmp_wire::AttributeIter::new(&wire, 0)).expect("re-parse");
    assert_eq!(again, list);
});
