//! pix-nat: ACL classification, static (NAT) lookup and xlate creation, each beside
//! the linear first-match scan measured in the same run.
//!
//! * `acl_lookup/{classifier,linear}/N` for N = 1,000 / 10,000 / 100,000 entries
//!   (realistic mix: host and /24 destinations, any / subnet / host sources, tcp,
//!   udp, ip, icmp, a few `any any` lines; half the packets aimed at a rule, half
//!   random, so many end in the implicit deny);
//! * `acl_build/N`: compiling N entries;
//! * `nat_lookup/{indexed,linear}/10000`: inbound + outbound static lookups among
//!   10,000 statics;
//! * `xlate_create/10000`: a new outbound connection through `Firewall::process`
//!   (static lookup among 10,000 statics, PAT allocation, xlate + conn creation).
//!
//! Run: `cargo bench -p pix-benches --bench pix_nat -- --warm-up-time 1 --measurement-time 3`

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use pix_nat::nat::{StaticReal, StaticRule, StaticTable};
use pix_nat::{Ace, AclAction, Classifier, Firewall, Packet, PortMatch, State, Tuple};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next()
            .checked_rem(n)
            .expect("a bench draws below a positive bound")
    }
    /// One element of `xs`, uniformly.
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        let i = self.below(xs.len() as u64) as usize;
        xs.get(i).expect("below(len) is an index of xs")
    }
    /// A source port in 1024..61024.
    fn high_port(&mut self) -> u16 {
        (self.below(60000) as u16).saturating_add(1024)
    }
}

fn eq(p: u16) -> PortMatch {
    PortMatch {
        lo: p,
        hi: p,
        negate: false,
    }
}

const PORTS: [u16; 8] = [80, 443, 25, 53, 22, 23, 3389, 8080];

fn rules(n: usize, rng: &mut Rng) -> Vec<Ace> {
    let mut v = Vec::with_capacity(n);
    for (i, line) in (0..n).zip(1u32..) {
        // one `any any` line per 1,000 (e.g. permit icmp any any echo-reply)
        if i % 1000 == 999 {
            v.push(Ace {
                proto: 1,
                icmp_type: Some(0),
                ..Ace::any(AclAction::Permit, line)
            });
            continue;
        }
        let proto = match rng.below(20) {
            0..=11 => 6,
            12..=16 => 17,
            17..=18 => 0,
            _ => 1,
        };
        let (dst, dst_mask) = match rng.below(10) {
            0..=6 => (0x0A00_0000 | rng.below(1 << 20) as u32, u32::MAX),
            _ => (
                (0x0A00_0000 | rng.below(1 << 20) as u32) & 0xFFFF_FF00,
                0xFFFF_FF00,
            ),
        };
        let (src, src_mask) = match rng.below(10) {
            0..=4 => (0, 0),
            5..=7 => ((rng.next() as u32) & 0xFFFF_FF00, 0xFFFF_FF00),
            _ => (rng.next() as u32, u32::MAX),
        };
        let dport = if proto == 6 || proto == 17 {
            match rng.below(10) {
                0..=7 => eq(*rng.pick(&PORTS)),
                8 => PortMatch {
                    lo: 1024,
                    hi: 65535,
                    negate: false,
                },
                _ => PortMatch::ANY,
            }
        } else {
            PortMatch::ANY
        };
        v.push(Ace {
            proto,
            src,
            src_mask,
            dst,
            dst_mask,
            sport: PortMatch::ANY,
            dport,
            icmp_type: None,
            action: if rng.below(5) == 0 {
                AclAction::Deny
            } else {
                AclAction::Permit
            },
            line,
        });
    }
    v
}

fn packets(aces: &[Ace], count: usize, rng: &mut Rng) -> Vec<Tuple> {
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                let a = rng.pick(aces);
                Tuple {
                    proto: if a.proto == 0 { 6 } else { a.proto },
                    src: a.src | (rng.next() as u32 & !a.src_mask),
                    dst: a.dst | (rng.next() as u32 & !a.dst_mask),
                    sport: rng.high_port(),
                    dport: a.dport.lo,
                    icmp_type: 0,
                }
            } else {
                Tuple {
                    proto: *rng.pick(&[6, 17, 1]),
                    src: rng.next() as u32,
                    dst: 0x0A00_0000 | rng.below(1 << 20) as u32,
                    sport: rng.high_port(),
                    dport: *rng.pick(&PORTS),
                    icmp_type: 8,
                }
            }
        })
        .collect()
}

fn acl(c: &mut Criterion) {
    for &n in &[1_000usize, 10_000, 100_000] {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
        let aces = rules(n, &mut rng);
        let pkts = packets(&aces, 4096, &mut rng);
        let t = Instant::now();
        let cls = Classifier::new(aces.clone());
        eprintln!("acl_build/{n}: one compile took {:?}", t.elapsed());
        for p in &pkts {
            assert_eq!(
                cls.first_match(p),
                pix_nat::acl::linear_first_match(&aces, p)
            );
        }
        let mut g = c.benchmark_group("acl_lookup");
        g.throughput(Throughput::Elements(pkts.len() as u64));
        g.bench_function(format!("classifier/{n}"), |b| {
            b.iter(|| {
                let mut hits = 0usize;
                for p in &pkts {
                    hits = hits.wrapping_add(cls.first_match(black_box(p)).unwrap_or(usize::MAX));
                }
                hits
            })
        });
        // the linear scan is slow at 100k: fewer packets keep the run short
        let lin_pkts = if n >= 100_000 {
            pkts.get(..256).expect("4,096 packets")
        } else {
            &pkts[..]
        };
        g.throughput(Throughput::Elements(lin_pkts.len() as u64));
        g.bench_function(format!("linear/{n}"), |b| {
            b.iter(|| {
                let mut hits = 0usize;
                for p in lin_pkts {
                    hits = hits.wrapping_add(
                        pix_nat::acl::linear_first_match(&aces, black_box(p)).unwrap_or(usize::MAX),
                    );
                }
                hits
            })
        });
        g.finish();
        let mut g = c.benchmark_group("acl_build");
        g.sample_size(10);
        g.bench_function(format!("{n}"), |b| {
            b.iter_batched(
                || aces.clone(),
                |a| Classifier::new(black_box(a)),
                BatchSize::LargeInput,
            )
        });
        g.finish();
    }
}

const STATICS: usize = 10_000;
/// The probes' mapped addresses: the statics and a quarter more that match none.
const PROBE_SPACE: u64 = STATICS as u64 * 5 / 4;

fn static_rules() -> Vec<StaticRule> {
    (0..STATICS as u32)
        .zip(1u32..)
        .map(|(i, line)| StaticRule {
            line,
            real_if: 1,
            mapped_if: 0,
            proto: if i % 10 == 0 { Some(6) } else { None },
            mapped_port: 8080,
            real_port: 80,
            mapped: 0xC612_0000 | i,
            real: StaticReal::Address(0x0A02_0000 | i),
            mask: u32::MAX,
        })
        .collect()
}

fn nat(c: &mut Criterion) {
    let table = StaticTable::new(static_rules());
    let acls = Default::default();
    let mut rng = Rng(42);
    let probes: Vec<(Tuple, Tuple)> = (0..4096)
        .map(|_| {
            let i = rng.below(PROBE_SPACE) as u32;
            let inbound = Tuple {
                proto: 6,
                src: rng.next() as u32,
                dst: 0xC612_0000 | i,
                sport: 40000,
                dport: 8080,
                icmp_type: 0,
            };
            let outbound = Tuple {
                proto: 6,
                src: 0x0A02_0000 | i,
                dst: rng.next() as u32,
                sport: 80,
                dport: 443,
                icmp_type: 0,
            };
            (inbound, outbound)
        })
        .collect();
    for (i, o) in &probes {
        assert_eq!(
            table.find_inbound(0, i, &acls),
            table.find_inbound_linear(0, i, &acls)
        );
        assert_eq!(
            table.find_outbound(1, 0, o, &acls),
            table.find_outbound_linear(1, 0, o, &acls)
        );
    }
    let mut g = c.benchmark_group("nat_lookup");
    g.throughput(Throughput::Elements(
        (probes.len() as u64).saturating_mul(2),
    ));
    g.bench_function(format!("indexed/{STATICS}"), |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (i, o) in &probes {
                n = n.wrapping_add(table.find_inbound(0, black_box(i), &acls).is_some() as usize);
                n =
                    n.wrapping_add(
                        table.find_outbound(1, 0, black_box(o), &acls).is_some() as usize
                    );
            }
            n
        })
    });
    let few = probes.get(..128).expect("4,096 probes");
    g.throughput(Throughput::Elements((few.len() as u64).saturating_mul(2)));
    g.bench_function(format!("linear/{STATICS}"), |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (i, o) in few {
                n = n.wrapping_add(
                    table.find_inbound_linear(0, black_box(i), &acls).is_some() as usize
                );
                n = n.wrapping_add(
                    table
                        .find_outbound_linear(1, 0, black_box(o), &acls)
                        .is_some() as usize,
                );
            }
            n
        })
    });
    g.finish();

    // xlate creation through the whole engine, beside 10,000 statics
    let mut cfg = String::from(
        "nameif ethernet0 outside security0\nnameif ethernet1 inside security100\n\
         ip address outside 198.18.255.1 255.255.255.0\nip address inside 10.0.0.1 255.0.0.0\n\
         route outside 0.0.0.0 0.0.0.0 198.18.255.254 1\nnat (inside) 1 0.0.0.0 0.0.0.0 0 0\n\
         global (outside) 1 198.19.0.1\n",
    );
    for i in 0..STATICS as u32 {
        let m = Ipv4Addr::from(0xC612_0000 | i);
        let r = Ipv4Addr::from(0x0A02_0000 | i);
        writeln!(
            cfg,
            "static (inside,outside) {m} {r} netmask 255.255.255.255 0 0"
        )
        .expect("writing to a String cannot fail");
    }
    let fw = Firewall::new(&pix_config::parse(&cfg).config)
        .expect("the generated configuration is a valid PIX configuration");
    let now = Instant::now();
    const BATCH: u32 = 1000;
    let pk: Vec<Packet> = (0..BATCH)
        .map(|i| {
            Packet::tcp(
                "inside",
                Ipv4Addr::from(0x0A05_0000 | i),
                (i as u16 % 4).saturating_add(1024),
                Ipv4Addr::new(203, 0, 113, 5),
                80,
            )
        })
        .collect();
    {
        let mut st = State::new();
        for p in &pk {
            assert!(fw.process(&mut st, p, now).trace.allowed());
        }
        assert_eq!(st.xlates.len(), BATCH as usize);
    }
    let mut g = c.benchmark_group("xlate_create");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function(format!("{STATICS}"), |b| {
        b.iter_batched(
            State::new,
            |mut st| {
                for p in &pk {
                    black_box(fw.process(&mut st, p, now));
                }
                st
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = acl, nat
}
criterion_main!(benches);
