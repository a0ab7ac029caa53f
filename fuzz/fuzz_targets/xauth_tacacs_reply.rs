//! TACACS+ replies as a client receives them: stream reassembly, de-obfuscation,
//! REPLY bodies, and the login/accounting sessions fed arbitrary server packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xauth::tacacs::{
    self, AcctReply, AcctRequest, AuthenReply, LoginKind, LoginRequest, StreamBuffer,
    TacacsAccounting, TacacsLogin,
};
use xauth::Secret;

fuzz_target!(|data: &[u8]| {
    let key = Secret::from("secretkey");
    let _ = AuthenReply::parse(data);
    let _ = AcctReply::parse(data);
    let _ = tacacs::open(data, &key);
    let pw = Secret::from("cisco123");
    let req = LoginRequest {
        kind: if data.first().is_some_and(|b| b & 1 == 1) {
            LoginKind::Pap
        } else {
            LoginKind::Ascii
        },
        user: b"cisco_customer",
        password: &pw,
        port: b"PIX",
        rem_addr: b"10.0.0.1",
        priv_lvl: 1,
    };
    let (mut login, _) = TacacsLogin::start(&key, 0x01020304, &req).expect("start");
    let acct_req = AcctRequest {
        flags: 2,
        authen_method: 6,
        priv_lvl: 1,
        authen_type: 1,
        authen_service: 1,
        user: b"u".to_vec(),
        port: vec![],
        rem_addr: vec![],
        args: vec![b"task_id=1".to_vec()],
    };
    let (mut acct, _) = TacacsAccounting::start(&key, 0x01020304, &acct_req).expect("start");
    let mut sb = StreamBuffer::new();
    sb.feed(data);
    for _ in 0..64 {
        match sb.next_packet() {
            Ok(Some(p)) => {
                let _ = login.handle(&p);
                let _ = acct.handle(&p);
            }
            _ => break,
        }
    }
});
