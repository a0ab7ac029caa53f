//! Property tests: parse(emit(x)) == x for every codec, and no parser panics on
//! arbitrary bytes.
#![allow(
    clippy::disallowed_methods,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::indexing_slicing
)] // tests use the clock and may panic

use isakmp_wire::{Attribute, AttributeIter, OwnedAttrValue, OwnedAttribute};
use proptest::prelude::*;
use xauth::attrs::*;
use xauth::radius::{self, Packet, RadiusAttr};
use xauth::tacacs::{
    self, AcctReply, AcctRequest, AuthenContinue, AuthenReply, AuthenStart, Header, PacketType,
};
use xauth::Secret;

fn bytes_up_to(n: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=n)
}

fn int_form() -> impl Strategy<Value = IntForm> {
    prop_oneof![Just(IntForm::Basic), (2u8..=4).prop_map(IntForm::Variable)]
}

fn xauth_attr() -> impl Strategy<Value = XauthAttribute> {
    prop_oneof![
        (any::<u16>(), int_form()).prop_map(|(v, form)| XauthAttribute::Type {
            value: XauthType::from(v),
            form
        }),
        (any::<bool>(), int_form()).prop_map(|(ok, form)| XauthAttribute::Status {
            value: if ok {
                XauthStatus::Ok
            } else {
                XauthStatus::Fail
            },
            form
        }),
        bytes_up_to(64).prop_map(XauthAttribute::UserName),
        bytes_up_to(64).prop_map(|b| XauthAttribute::UserPassword(Secret::new(b))),
        bytes_up_to(64).prop_map(|b| XauthAttribute::Passcode(Secret::new(b))),
        bytes_up_to(64).prop_map(XauthAttribute::Message),
        bytes_up_to(64).prop_map(XauthAttribute::Challenge),
        bytes_up_to(64).prop_map(XauthAttribute::Domain),
        bytes_up_to(64).prop_map(|b| XauthAttribute::NextPin(Secret::new(b))),
        bytes_up_to(64).prop_map(|b| XauthAttribute::Answer(Secret::new(b))),
        any::<u16>().prop_map(|v| XauthAttribute::CiscoExtVendor(OwnedAttrValue::Basic(v))),
        bytes_up_to(16).prop_map(|b| XauthAttribute::CiscoExtVendor(OwnedAttrValue::Variable(b))),
        ((1u16..16000), bytes_up_to(16))
            .prop_map(|(k, b)| XauthAttribute::Unknown(OwnedAttribute::variable(k, b))),
    ]
}

proptest! {
    #[test]
    fn xauth_attribute_lists_round_trip(list in proptest::collection::vec(xauth_attr(), 0..12)) {
        let mut wire = Vec::new();
        for a in to_owned_list(&list) {
            a.emit(&mut wire).unwrap();
        }
        let back = parse_list(AttributeIter::new(&wire, 0)).unwrap();
        prop_assert_eq!(&back, &list);
        let mut again = Vec::new();
        for a in to_owned_list(&back) {
            a.emit(&mut again).unwrap();
        }
        prop_assert_eq!(again, wire);
    }

    #[test]
    fn xauth_parse_never_panics(data in bytes_up_to(300)) {
        let _ = parse_list(AttributeIter::new(&data, 0));
        if let Ok((a, _)) = Attribute::parse(&data, 0) {
            if let Ok(x) = XauthAttribute::from_attr(&a) {
                // Whatever parses re-emits to something that parses the same.
                let o = x.to_owned_attr();
                let mut w = Vec::new();
                o.emit(&mut w).unwrap();
                let (a2, _) = Attribute::parse(&w, 0).unwrap();
                prop_assert_eq!(XauthAttribute::from_attr(&a2).unwrap(), x);
            }
        }
    }

    #[test]
    fn tacacs_bodies_round_trip(
        fixed in any::<[u8; 5]>(),
        user in bytes_up_to(255), port in bytes_up_to(40), rem in bytes_up_to(40),
        data in bytes_up_to(255), msg in bytes_up_to(600),
        args in proptest::collection::vec(bytes_up_to(255), 0..20),
    ) {
        let s = AuthenStart { action: fixed[0], priv_lvl: fixed[1], authen_type: fixed[2], authen_service: fixed[3],
            user: user.clone(), port: port.clone(), rem_addr: rem.clone(), data: data.clone() };
        prop_assert_eq!(AuthenStart::parse(&s.emit().unwrap()).unwrap(), s);
        let r = AuthenReply { status: fixed[0], flags: fixed[1], server_msg: msg.clone(), data: data.clone() };
        prop_assert_eq!(AuthenReply::parse(&r.emit().unwrap()).unwrap(), r);
        let c = AuthenContinue { user_msg: msg.clone(), data: data.clone(), flags: fixed[4] };
        prop_assert_eq!(AuthenContinue::parse(&c.emit().unwrap()).unwrap(), c);
        let a = AcctRequest { flags: fixed[0], authen_method: fixed[1], priv_lvl: fixed[2], authen_type: fixed[3],
            authen_service: fixed[4], user, port, rem_addr: rem, args };
        prop_assert_eq!(AcctRequest::parse(&a.emit().unwrap()).unwrap(), a);
        let ar = AcctReply { status: fixed[2], server_msg: msg, data };
        prop_assert_eq!(AcctReply::parse(&ar.emit().unwrap()).unwrap(), ar);
    }

    #[test]
    fn tacacs_seal_open_round_trip(
        seq in any::<u8>(), minor in 0u8..2, kind in 1u8..4, session in any::<u32>(),
        key in proptest::collection::vec(any::<u8>(), 1..=32), body in bytes_up_to(500),
    ) {
        let h = Header { version: 0xc0 | minor, kind: PacketType::from(kind), seq_no: seq, flags: 0, session_id: session, length: 0 };
        let key = Secret::new(key);
        let p = tacacs::seal(h, &body, &key).unwrap();
        let (h2, b2) = tacacs::open(&p, &key).unwrap();
        prop_assert_eq!(b2, body.clone());
        prop_assert_eq!(h2.session_id, session);
        prop_assert_eq!(usize::try_from(h2.length).unwrap(), body.len());
        // Whatever arrives in pieces comes out whole.
        let mut sb = tacacs::StreamBuffer::new();
        for chunk in p.chunks(7) { sb.feed(chunk); }
        prop_assert_eq!(sb.next_packet().unwrap(), Some(p));
    }

    #[test]
    fn tacacs_parsers_never_panic(data in bytes_up_to(400)) {
        let k = Secret::from("k");
        let _ = tacacs::open(&data, &k);
        let _ = AuthenReply::parse(&data);
        let _ = AuthenStart::parse(&data);
        let _ = AuthenContinue::parse(&data);
        let _ = AcctRequest::parse(&data);
        let _ = AcctReply::parse(&data);
        let mut sb = tacacs::StreamBuffer::new();
        sb.feed(&data);
        for _ in 0..4 { if !matches!(sb.next_packet(), Ok(Some(_))) { break; } }
    }

    #[test]
    fn radius_packets_round_trip(
        code in any::<u8>(), id in any::<u8>(), auth in any::<[u8; 16]>(),
        attrs in proptest::collection::vec((any::<u8>(), bytes_up_to(253)), 0..12),
    ) {
        let p = Packet { code, identifier: id, authenticator: auth,
            attributes: attrs.into_iter().map(|(kind, value)| RadiusAttr { kind, value }).collect() };
        let b = p.emit().unwrap();
        prop_assert_eq!(b.len(), p.wire_len());
        prop_assert_eq!(Packet::parse(&b).unwrap(), p);
    }

    #[test]
    fn radius_password_hiding_round_trips(
        secret in bytes_up_to(40), ra in any::<[u8; 16]>(),
        pw in proptest::collection::vec(1u8..=255, 0..=128),
    ) {
        let s = Secret::new(secret);
        let hidden = radius::hide_password(&s, &ra, &Secret::new(pw.clone())).unwrap();
        prop_assert_eq!(hidden.len() % 16, 0);
        prop_assert!(hidden.len() >= 16 && hidden.len() <= 128);
        let back = radius::unhide_password(&s, &ra, &hidden).unwrap();
        prop_assert!(back.ct_eq_bytes(&pw));
    }

    #[test]
    fn radius_verify_never_panics(data in bytes_up_to(300), id in any::<u8>(), ra in any::<[u8; 16]>()) {
        let _ = Packet::parse(&data);
        if let Ok(p) = radius::verify_response(&data, id, &ra, &Secret::from("k")) {
            let _ = radius::access_result(&p);
        }
    }
}
