//! Interop with an independent ESP implementation: scapy's `SecurityAssociation`
//! (driven through tests/scapy_esp.py). For every cipher x integrity pair (NULL
//! only with integrity), tunnel and transport mode, payload sizes across 0..1500
//! with random contents: scapy encrypts and we decapsulate, we encapsulate and scapy
//! decrypts. Replayed and tampered packets are rejected with the right error on both
//! sides. Fails (does not skip) when python3 or scapy is missing.
// Tests own the clock and may index/unwrap freely.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use esp::*;
use rand::{rngs::StdRng, Rng, RngExt, SeedableRng};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scapy_esp.py");
const TIMEOUT: Duration = Duration::from_secs(240);

/// Runs the python peer with `request` on stdin, bounded by TIMEOUT.
fn scapy(request: &Value) -> Value {
    let mut child = Command::new("python3")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); run scripts/deps.sh"));
    let body = request.to_string();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("scapy peer timed out after {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    writer.join().unwrap().unwrap();
    let out = reader.join().unwrap().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "scapy peer failed ({status}); is scapy installed? run scripts/deps.sh\n{err}"
    );
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("bad JSON from scapy peer: {e}\n{out}\n{err}"))
}

const ENCS: [(EncryptionAlgorithm, &str); 6] = [
    (EncryptionAlgorithm::Des, "DES"),
    (EncryptionAlgorithm::TripleDes, "3DES"),
    (EncryptionAlgorithm::Aes128, "AES-CBC"),
    (EncryptionAlgorithm::Aes192, "AES-CBC"),
    (EncryptionAlgorithm::Aes256, "AES-CBC"),
    (EncryptionAlgorithm::Null, "NULL"),
];
const AUTHS: [(IntegrityAlgorithm, &str); 3] = [
    (IntegrityAlgorithm::None, "NULL"),
    (IntegrityAlgorithm::HmacMd5_96, "HMAC-MD5-96"),
    (IntegrityAlgorithm::HmacSha1_96, "HMAC-SHA1-96"),
];

/// A well-formed inner IPv4 packet (protocol 253) with `n` random payload bytes.
fn inner_ipv4(rng: &mut StdRng, n: usize) -> Vec<u8> {
    let total = 20 + n;
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0x12,
        0x34,
        0,
        0,
        64,
        253,
        0,
        0,
        10,
        1,
        2,
        3,
        10,
        9,
        8,
        7,
    ];
    let mut sum = 0u32;
    for c in p.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    p[10..12].copy_from_slice(&ck.to_be_bytes());
    let mut body = vec![0u8; n];
    rng.fill_bytes(&mut body);
    p.extend_from_slice(&body);
    p
}

struct Case {
    id: usize,
    enc: EncryptionAlgorithm,
    auth: IntegrityAlgorithm,
    mode: Encapsulation,
    spi: u32,
    ekey: Vec<u8>,
    akey: Vec<u8>,
    /// Payloads scapy encrypts (seq 1..) and we decrypt.
    theirs: Vec<Vec<u8>>,
    /// Payloads we encrypt and scapy decrypts.
    ours: Vec<Vec<u8>>,
    ours_packets: Vec<Vec<u8>>,
}

impl Case {
    fn params(&self) -> EspSaParams {
        EspSaParams::new(
            self.spi,
            self.enc,
            self.auth,
            self.mode,
            EspKeys::new(&self.ekey, &self.akey),
        )
    }
    fn next_header(&self) -> u8 {
        if self.mode == Encapsulation::Tunnel {
            4
        } else {
            253
        }
    }
}

fn sizes(rng: &mut StdRng) -> Vec<usize> {
    let mut v = vec![
        0, 1, 2, 3, 13, 14, 15, 16, 17, 31, 64, 255, 1024, 1400, 1480,
    ];
    for _ in 0..9 {
        v.push(rng.random_range(0..1480));
    }
    v
}

#[test]
fn scapy_interop_every_pair_both_modes_both_directions() {
    let mut rng = StdRng::seed_from_u64(0x5ca9_e5e5);
    let now = Instant::now();
    let mut cases = Vec::new();
    for (enc, _) in ENCS {
        for (auth, _) in AUTHS {
            if enc == EncryptionAlgorithm::Null && auth == IntegrityAlgorithm::None {
                continue;
            }
            for mode in [Encapsulation::Tunnel, Encapsulation::Transport] {
                let mut ekey = vec![0u8; enc.key_len()];
                rng.fill_bytes(&mut ekey);
                let mut akey = vec![0u8; auth.key_len()];
                rng.fill_bytes(&mut akey);
                let mk = |rng: &mut StdRng| -> Vec<Vec<u8>> {
                    sizes(rng)
                        .into_iter()
                        .map(|n| {
                            if mode == Encapsulation::Tunnel {
                                inner_ipv4(rng, n)
                            } else {
                                let mut b = vec![0u8; n];
                                rng.fill_bytes(&mut b);
                                b
                            }
                        })
                        .collect()
                };
                let theirs = mk(&mut rng);
                let ours = mk(&mut rng);
                let spi = rng.random_range(0x100..u32::MAX);
                cases.push(Case {
                    id: cases.len(),
                    enc,
                    auth,
                    mode,
                    spi,
                    ekey,
                    akey,
                    theirs,
                    ours,
                    ours_packets: vec![],
                });
            }
        }
    }
    assert_eq!(cases.len(), 34);

    // We encapsulate; the last packet of each case is also sent tampered.
    for c in &mut cases {
        let mut out = OutboundSa::new(&c.params(), now).unwrap();
        for p in &c.ours {
            let mut buf = vec![0u8; 1600];
            let n = out
                .encapsulate(now, &mut rng, c.next_header(), p, &mut buf)
                .unwrap();
            buf.truncate(n);
            c.ours_packets.push(buf);
        }
        let mut t = c.ours_packets.last().unwrap().clone();
        let at = t.len() - 1 - (rng.random_range(0..t.len() - 8));
        t[at] ^= 0x01;
        c.ours_packets.push(t);
    }

    let name = |e: EncryptionAlgorithm| ENCS.iter().find(|x| x.0 == e).unwrap().1;
    let aname = |a: IntegrityAlgorithm| AUTHS.iter().find(|x| x.0 == a).unwrap().1;
    let req = json!({
        "cases": cases.iter().map(|c| json!({
            "id": c.id,
            "enc": name(c.enc),
            "ekey": hex::encode(&c.ekey),
            "auth": aname(c.auth),
            "akey": hex::encode(&c.akey),
            "spi": c.spi,
            "mode": if c.mode == Encapsulation::Tunnel { "tunnel" } else { "transport" },
            "encrypt": c.theirs.iter().enumerate().map(|(i, p)| json!({"payload": hex::encode(p), "seq": i + 1})).collect::<Vec<_>>(),
            "decrypt": c.ours_packets.iter().map(hex::encode).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    });
    let answer = scapy(&req);
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), cases.len());

    let mut checked_ours = 0;
    let mut checked_theirs = 0;
    for (c, r) in cases.iter().zip(results) {
        let what = format!("{:?}/{:?}/{:?}", c.enc, c.auth, c.mode);
        // scapy decrypted what we sent.
        let dec = r["decrypted"].as_array().unwrap();
        assert_eq!(dec.len(), c.ours.len() + 1);
        for (k, (want, got)) in c.ours.iter().zip(dec).enumerate() {
            assert_eq!(
                got["ok"], true,
                "{what} packet {k}: scapy: {}",
                got["error"]
            );
            assert_eq!(
                got["payload"].as_str().unwrap(),
                hex::encode(want),
                "{what} packet {k} (len {})",
                want.len()
            );
            assert_eq!(got["nh"].as_u64().unwrap(), u64::from(c.next_header()));
            checked_ours += 1;
        }
        let tampered = dec.last().unwrap();
        if c.auth != IntegrityAlgorithm::None {
            assert_eq!(
                tampered["ok"], false,
                "{what}: scapy accepted a tampered packet"
            );
            assert_eq!(tampered["error"], "IPSecIntegrityError", "{what}");
        }

        // We decapsulate what scapy sent.
        let mut inb = InboundSa::new(&c.params(), now).unwrap();
        let enc = r["encrypted"].as_array().unwrap();
        assert_eq!(enc.len(), c.theirs.len());
        let packets: Vec<Vec<u8>> = enc
            .iter()
            .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
            .collect();
        // Deliver in a shuffled order within the window; all must be accepted once.
        let mut order: Vec<usize> = (0..packets.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        // Tampered first (before it is genuinely received): a bit flip anywhere after the SPI.
        if c.auth != IntegrityAlgorithm::None {
            let mut t = packets[order[0]].clone();
            let at = rng.random_range(4..t.len());
            t[at] ^= 0x40;
            let err = inb.decapsulate(now, &mut t).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadIcv, "{what}: {err}");
        }
        for &k in &order {
            let mut p = packets[k].clone();
            let d = inb
                .decapsulate(now, &mut p)
                .unwrap_or_else(|e| panic!("{what} packet {k}: {e}"));
            assert_eq!(d.seq as usize, k + 1);
            assert_eq!(d.next_header, c.next_header(), "{what}");
            assert_eq!(
                hex::encode(&p[d.payload.clone()]),
                hex::encode(&c.theirs[k]),
                "{what} packet {k}"
            );
            checked_theirs += 1;
        }
        // Every packet again: replays.
        for (k, pkt) in packets.iter().enumerate() {
            let mut p = pkt.clone();
            let err = inb.decapsulate(now, &mut p).unwrap_err();
            assert_eq!(
                err,
                EspError::Replayed {
                    spi: c.spi,
                    seq: k as u32 + 1
                },
                "{what}"
            );
        }
    }
    assert_eq!(checked_ours, 34 * 24);
    assert_eq!(checked_theirs, 34 * 24);
}

/// RFC 3948 NAT traversal: scapy's `nat_t_header` (UDP 4500) against our
/// `udp_encap` helpers, both directions, tunnel and transport.
#[test]
fn scapy_interop_udp_encapsulated_nat_t() {
    let mut rng = StdRng::seed_from_u64(0x4500);
    let now = Instant::now();
    let pairs = [
        (EncryptionAlgorithm::Aes128, IntegrityAlgorithm::HmacSha1_96),
        (
            EncryptionAlgorithm::TripleDes,
            IntegrityAlgorithm::HmacMd5_96,
        ),
        (EncryptionAlgorithm::Des, IntegrityAlgorithm::HmacSha1_96),
    ];
    let name = |e: EncryptionAlgorithm| ENCS.iter().find(|x| x.0 == e).unwrap().1;
    let aname = |a: IntegrityAlgorithm| AUTHS.iter().find(|x| x.0 == a).unwrap().1;
    let mut cases = Vec::new();
    for (enc, auth) in pairs {
        for mode in [Encapsulation::UdpTunnel, Encapsulation::UdpTransport] {
            let mut ekey = vec![0u8; enc.key_len()];
            rng.fill_bytes(&mut ekey);
            let mut akey = vec![0u8; auth.key_len()];
            rng.fill_bytes(&mut akey);
            let payloads: Vec<Vec<u8>> = [0usize, 1, 17, 100, 777, 1400]
                .iter()
                .map(|&n| {
                    if mode == Encapsulation::UdpTunnel {
                        inner_ipv4(&mut rng, n)
                    } else {
                        let mut b = vec![0u8; n];
                        rng.fill_bytes(&mut b);
                        b
                    }
                })
                .collect();
            let spi = rng.random_range(0x100..u32::MAX);
            let params = || EspSaParams::new(spi, enc, auth, mode, EspKeys::new(&ekey, &akey));
            let nh = if mode == Encapsulation::UdpTunnel {
                4
            } else {
                253
            };
            // Ours: ESP behind a UDP header written by udp_encap, checksum zero.
            let mut out = OutboundSa::new(&params(), now).unwrap();
            let ours: Vec<Vec<u8>> = payloads
                .iter()
                .map(|p| {
                    let mut buf = vec![0u8; 1600];
                    let n = out
                        .encapsulate(now, &mut rng, nh, p, &mut buf[8..])
                        .unwrap();
                    udp_encap::write_udp_header(&mut buf, 4500, 4500, n).unwrap();
                    buf.truncate(8 + n);
                    buf
                })
                .collect();
            cases.push((
                enc,
                auth,
                mode,
                spi,
                ekey.clone(),
                akey.clone(),
                payloads,
                ours,
                nh,
            ));
        }
    }
    let req = json!({
        "cases": cases.iter().enumerate().map(|(id, c)| json!({
            "id": id, "enc": name(c.0), "ekey": hex::encode(&c.4), "auth": aname(c.1),
            "akey": hex::encode(&c.5), "spi": c.3, "natt": true,
            "mode": if c.2 == Encapsulation::UdpTunnel { "tunnel" } else { "transport" },
            "encrypt": c.6.iter().enumerate().map(|(i, p)| json!({"payload": hex::encode(p), "seq": i + 1})).collect::<Vec<_>>(),
            "decrypt": c.7.iter().map(hex::encode).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    });
    let answer = scapy(&req);
    let results = answer["results"].as_array().unwrap();
    let mut checked = 0;
    for (c, r) in cases.iter().zip(results) {
        let what = format!("{:?}/{:?}/{:?}", c.0, c.1, c.2);
        // scapy decrypted our UDP-encapsulated packets
        for (want, got) in c.6.iter().zip(r["decrypted"].as_array().unwrap()) {
            assert_eq!(got["ok"], true, "{what}: {}", got["error"]);
            assert_eq!(
                got["payload"].as_str().unwrap(),
                hex::encode(want),
                "{what}"
            );
            checked += 1;
        }
        let mut inb = InboundSa::new(
            &EspSaParams::new(c.3, c.0, c.1, c.2, EspKeys::new(&c.4, &c.5)),
            now,
        )
        .unwrap();
        for (k, h) in r["encrypted"].as_array().unwrap().iter().enumerate() {
            let udp = hex::decode(h.as_str().unwrap()).unwrap();
            assert_eq!(&udp[..4], &[0x11, 0x94, 0x11, 0x94], "{what}: ports 4500");
            assert_eq!(usize::from(u16::from_be_bytes([udp[4], udp[5]])), udp.len());
            assert_eq!(
                &udp[6..8],
                &[0, 0],
                "{what}: scapy also sends a zero UDP checksum"
            );
            let mut esp = udp_encap::esp_payload(&udp[8..]).unwrap().to_vec();
            let d = inb
                .decapsulate(now, &mut esp)
                .unwrap_or_else(|e| panic!("{what} packet {k}: {e}"));
            assert_eq!(d.next_header, c.8);
            assert_eq!(
                hex::encode(&esp[d.payload]),
                hex::encode(&c.6[k]),
                "{what} packet {k}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6 * 6 * 2);
}
