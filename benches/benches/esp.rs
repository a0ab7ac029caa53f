//! ESP encapsulate / decapsulate throughput, each beside an OpenSSL baseline doing
//! the same ESP work over the same bytes in the same run: header, IV from the same
//! RNG, RFC 4303 padding, CBC through OpenSSL's EVP (key schedule set once per SA,
//! only the IV per packet, like a real OpenSSL-based ESP stack) and HMAC-96 with
//! precomputed ipad/opad states on OpenSSL's SHA-1 / MD5 (context copy per packet).
//!
//! Run: `cargo bench -p pix-benches --bench esp` (add
//! `-- --warm-up-time 1 --measurement-time 3` for a quick run).
// Set-up and checking code of a benchmark over fixed, known-good inputs: a failed
// unwrap or index is a broken bench, found on its first run, not a runtime path.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use esp::{
    Encapsulation, EncryptionAlgorithm, EspKeys, EspSaParams, InboundSa, IntegrityAlgorithm,
    OutboundSa,
};
use openssl::cipher::{Cipher, CipherRef};
use openssl::cipher_ctx::CipherCtx;
use openssl::hash::{Hasher, MessageDigest};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::hint::black_box;
use std::time::Instant;

const SIZES: [usize; 3] = [64, 512, 1400];

struct Suite {
    name: &'static str,
    enc: EncryptionAlgorithm,
    auth: IntegrityAlgorithm,
    cipher: &'static CipherRef,
}

fn suites() -> Vec<Suite> {
    vec![
        Suite {
            name: "DES-MD5",
            enc: EncryptionAlgorithm::Des,
            auth: IntegrityAlgorithm::HmacMd5_96,
            cipher: Cipher::des_cbc(),
        },
        Suite {
            name: "3DES-SHA1",
            enc: EncryptionAlgorithm::TripleDes,
            auth: IntegrityAlgorithm::HmacSha1_96,
            cipher: Cipher::des_ede3_cbc(),
        },
        Suite {
            name: "AES128-SHA1",
            enc: EncryptionAlgorithm::Aes128,
            auth: IntegrityAlgorithm::HmacSha1_96,
            cipher: Cipher::aes_128_cbc(),
        },
        Suite {
            name: "AES256-SHA1",
            enc: EncryptionAlgorithm::Aes256,
            auth: IntegrityAlgorithm::HmacSha1_96,
            cipher: Cipher::aes_256_cbc(),
        },
    ]
}

/// HMAC-96 with precomputed inner/outer contexts on OpenSSL's digests: SHA-1 through
/// the low-level `SHA_CTX` (copied on the stack), MD5 through EVP (`EVP_MD_CTX_copy`).
#[derive(Clone)]
enum OsslHmac {
    Sha1 {
        inner: openssl::sha::Sha1,
        outer: openssl::sha::Sha1,
    },
    Md5 {
        inner: Hasher,
        outer: Hasher,
    },
}

impl OsslHmac {
    fn new(md5: bool, key: &[u8]) -> Self {
        let mut k = [0u8; 64];
        k[..key.len()].copy_from_slice(key);
        let (ipad, opad) = (k.map(|b| b ^ 0x36), k.map(|b| b ^ 0x5c));
        if md5 {
            let mut inner = Hasher::new(MessageDigest::md5()).unwrap();
            inner.update(&ipad).unwrap();
            let mut outer = Hasher::new(MessageDigest::md5()).unwrap();
            outer.update(&opad).unwrap();
            OsslHmac::Md5 { inner, outer }
        } else {
            let mut inner = openssl::sha::Sha1::new();
            inner.update(&ipad);
            let mut outer = openssl::sha::Sha1::new();
            outer.update(&opad);
            OsslHmac::Sha1 { inner, outer }
        }
    }
    fn icv(&self, data: &[u8]) -> [u8; 12] {
        match self {
            OsslHmac::Sha1 { inner, outer } => {
                let mut i = inner.clone();
                i.update(data);
                let d = i.finish();
                let mut o = outer.clone();
                o.update(&d);
                o.finish()[..12].try_into().unwrap()
            }
            OsslHmac::Md5 { inner, outer } => {
                let mut i = inner.clone();
                i.update(data).unwrap();
                let d = i.finish().unwrap();
                let mut o = outer.clone();
                o.update(&d).unwrap();
                o.finish().unwrap()[..12].try_into().unwrap()
            }
        }
    }
}

/// The same ESP packet layout as the esp crate, done with OpenSSL.
struct OsslSa {
    enc: CipherCtx,
    dec: CipherCtx,
    mac: OsslHmac,
    iv_len: usize,
    seq: u32,
}

impl OsslSa {
    fn new(s: &Suite, ekey: &[u8], akey: &[u8]) -> Self {
        let mut enc = CipherCtx::new().unwrap();
        enc.encrypt_init(Some(s.cipher), Some(ekey), None).unwrap();
        enc.set_padding(false);
        let mut dec = CipherCtx::new().unwrap();
        dec.decrypt_init(Some(s.cipher), Some(ekey), None).unwrap();
        dec.set_padding(false);
        let mac = OsslHmac::new(s.auth == IntegrityAlgorithm::HmacMd5_96, akey);
        OsslSa {
            enc,
            dec,
            mac,
            iv_len: s.enc.iv_len(),
            seq: 0,
        }
    }

    fn encapsulate(&mut self, rng: &mut StdRng, payload_len: usize, buf: &mut [u8]) -> usize {
        let bs = self.iv_len;
        let ct_start = 8 + bs;
        let ct_len = (payload_len + 2).next_multiple_of(bs);
        let ct_end = ct_start + ct_len;
        self.seq += 1;
        buf[..4].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        buf[4..8].copy_from_slice(&self.seq.to_be_bytes());
        rng.fill_bytes(&mut buf[8..ct_start]);
        let pe = ct_start + payload_len;
        let pad = ct_len - payload_len - 2;
        for (i, b) in buf[pe..pe + pad].iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        buf[ct_end - 2] = pad as u8;
        buf[ct_end - 1] = 4;
        let mut iv = [0u8; 16];
        iv[..bs].copy_from_slice(&buf[8..ct_start]);
        self.enc.encrypt_init(None, None, Some(&iv[..bs])).unwrap();
        self.enc
            .cipher_update_inplace(&mut buf[ct_start..], ct_len)
            .unwrap();
        let icv = self.mac.icv(&buf[..ct_end]);
        buf[ct_end..ct_end + 12].copy_from_slice(&icv);
        ct_end + 12
    }

    fn decapsulate(&mut self, buf: &mut [u8], len: usize) -> usize {
        let ct_start = 8 + self.iv_len;
        let ct_end = len - 12;
        let icv = self.mac.icv(&buf[..ct_end]);
        assert!(openssl::memcmp::eq(&icv, &buf[ct_end..len]));
        let mut iv = [0u8; 16];
        iv[..self.iv_len].copy_from_slice(&buf[8..ct_start]);
        self.dec
            .decrypt_init(None, None, Some(&iv[..self.iv_len]))
            .unwrap();
        self.dec
            .cipher_update_inplace(&mut buf[ct_start..], ct_end - ct_start)
            .unwrap();
        let pad = usize::from(buf[ct_end - 2]);
        ct_end - 2 - pad - ct_start
    }
}

fn params(s: &Suite, ekey: &[u8], akey: &[u8]) -> EspSaParams {
    let mut p = EspSaParams::new(
        0x1234_5678,
        s.enc,
        s.auth,
        Encapsulation::Tunnel,
        EspKeys::new(ekey, akey),
    );
    p.replay_window = 0; // decapsulate replays the same packet
    p
}

fn bench_esp(c: &mut Criterion) {
    // OpenSSL 3 keeps single DES in the legacy provider.
    let _legacy = openssl::provider::Provider::load(None, "legacy")
        .expect("OpenSSL legacy provider (single DES)");
    let _default = openssl::provider::Provider::load(None, "default").unwrap();
    let now = Instant::now();
    for s in suites() {
        let mut krng = StdRng::seed_from_u64(42);
        let mut ekey = vec![0u8; s.enc.key_len()];
        krng.fill_bytes(&mut ekey);
        let mut akey = vec![0u8; s.auth.key_len()];
        krng.fill_bytes(&mut akey);

        let mut g = c.benchmark_group(format!("esp-encap/{}", s.name));
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            let mut payload = vec![0u8; size];
            krng.fill_bytes(&mut payload);
            let mut out = OutboundSa::new(&params(&s, &ekey, &akey), now).unwrap();
            let off = out.payload_offset();
            let mut buf = vec![0u8; 2048];
            let mut rng = StdRng::seed_from_u64(1);
            g.bench_function(BenchmarkId::new("esp", size), |b| {
                b.iter(|| {
                    buf[off..off + size].copy_from_slice(&payload);
                    out.set_last_seq(1);
                    black_box(
                        out.encapsulate_in_place(now, &mut rng, 4, &mut buf, size)
                            .unwrap(),
                    )
                })
            });
            let mut ossl = OsslSa::new(&s, &ekey, &akey);
            let mut obuf = vec![0u8; 2048];
            g.bench_function(BenchmarkId::new("openssl", size), |b| {
                b.iter(|| {
                    obuf[off..off + size].copy_from_slice(&payload);
                    ossl.seq = 1;
                    black_box(ossl.encapsulate(&mut rng, size, &mut obuf))
                })
            });
        }
        g.finish();

        let mut g = c.benchmark_group(format!("esp-decap/{}", s.name));
        for size in SIZES {
            g.throughput(Throughput::Bytes(size as u64));
            let mut payload = vec![0u8; size];
            krng.fill_bytes(&mut payload);
            let mut out = OutboundSa::new(&params(&s, &ekey, &akey), now).unwrap();
            let mut inb = InboundSa::new(&params(&s, &ekey, &akey), now).unwrap();
            let mut rng = StdRng::seed_from_u64(2);
            let mut pkt = vec![0u8; 2048];
            let n = out
                .encapsulate(now, &mut rng, 4, &payload, &mut pkt)
                .unwrap();
            let pkt = pkt[..n].to_vec();
            let mut buf = pkt.clone();
            // Cross-check: the OpenSSL path opens our packet.
            let mut ossl = OsslSa::new(&s, &ekey, &akey);
            let mut chk = pkt.clone();
            chk.resize(n + 32, 0);
            assert_eq!(ossl.decapsulate(&mut chk, n), size);
            assert_eq!(&chk[8 + s.enc.iv_len()..][..size], &payload[..]);
            g.bench_function(BenchmarkId::new("esp", size), |b| {
                b.iter(|| {
                    buf.copy_from_slice(&pkt);
                    black_box(inb.decapsulate(now, &mut buf).unwrap())
                })
            });
            let mut obuf = vec![0u8; n + 32];
            g.bench_function(BenchmarkId::new("openssl", size), |b| {
                b.iter(|| {
                    obuf[..n].copy_from_slice(&pkt);
                    black_box(ossl.decapsulate(&mut obuf, n))
                })
            });
        }
        g.finish();
    }
}

/// The 3DES-CBC cipher alone (1408 bytes): the esp crate's table-driven DES, the
/// RustCrypto `des` crate, and OpenSSL.
fn bench_3des_cipher(c: &mut Criterion) {
    use cipher::{Array, BlockModeEncrypt, InnerIvInit, KeyInit};
    let _legacy =
        openssl::provider::Provider::load(None, "legacy").expect("OpenSSL legacy provider");
    let _default = openssl::provider::Provider::load(None, "default").unwrap();
    let key = [0x5au8; 24];
    let iv = [1u8; 8];
    let mut buf = vec![0u8; 1424];
    let mut g = c.benchmark_group("cipher-3des-cbc-encrypt");
    g.throughput(Throughput::Bytes(1408));
    let ours = esp::cipher::EspCipher::new(EncryptionAlgorithm::TripleDes, &key).unwrap();
    g.bench_function(BenchmarkId::new("esp", 1408), |b| {
        b.iter(|| ours.encrypt_cbc(&iv, &mut buf[..1408]).unwrap())
    });
    let rc = des::TdesEde3::new(&Array::from(key));
    let ivb = Array::from(iv);
    g.bench_function(BenchmarkId::new("des-crate", 1408), |b| {
        b.iter(|| {
            let (blocks, _) = Array::slice_as_chunks_mut(&mut buf[..1408]);
            cbc::Encryptor::<&des::TdesEde3>::inner_iv_init(&rc, &ivb).encrypt_blocks(blocks);
        })
    });
    let mut ctx = CipherCtx::new().unwrap();
    ctx.encrypt_init(Some(Cipher::des_ede3_cbc()), Some(&key), None)
        .unwrap();
    ctx.set_padding(false);
    g.bench_function(BenchmarkId::new("openssl", 1408), |b| {
        b.iter(|| {
            ctx.encrypt_init(None, None, Some(&iv)).unwrap();
            ctx.cipher_update_inplace(&mut buf[..1424], 1408).unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_esp, bench_3des_cipher);
criterion_main!(benches);
