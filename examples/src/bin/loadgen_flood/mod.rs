//! `pix-loadgen --flood KIND`: spoofed IKE first messages at a steady rate, for the
//! flood tests (`examples/tests/flood.rs`) and `scripts/flood-bench.sh`.
//!
//! Every datagram comes from a random address of `--sources` (a CIDR such as
//! `10.99.0.0/16`) and a random source port, with a random initiator cookie, through a
//! raw IPv4 socket (`IPPROTO_RAW`, which implies `IP_HDRINCL`: we write the IP header,
//! the kernel fills its checksum; the UDP checksum is zero, which IPv4 allows).
//!
//! Kinds (the messages are built by our own `ike-sm` initiator, not hand-written hex):
//! * `mm1`: a Main Mode first message: SA with the VPN Client 4.x transforms (the
//!   seed's DES/MD5/group 2 with pre-share and XAUTH-PSK 65001 among them) plus the
//!   seed's DES/MD5/group 1, and the XAUTH/DPD/Unity/NAT-T vendor IDs.
//! * `am1`: an Aggressive Mode first message as vpnc sends it: SA, KE group 2 (128
//!   bytes, fresh per packet), NONCE (fresh per packet), ID_KEY_ID `vpn3000`, vendor IDs.
//! * `am1-unknown-group`: the same with a group name the gateway does not know.
//! * `header`: the 28-byte ISAKMP header alone (zero responder cookie, exchange Main or
//!   Aggressive Mode alternately, next payload NONE, length 28: a well-formed message
//!   with no payload, which gets past the parser to the admission of first messages).
//!
//! A few templates are built once; per packet only the source address and port, the
//! cookie and (Aggressive Mode) the KE and NONCE bytes are patched, so one core sends
//! well over 50,000 packets/s. The run stops by itself after `--secs` or
//! `--max-packets` (by default rate x secs), whichever comes first, or at SIGINT/SIGTERM
//! (the report is printed all the same).
//!
//! This is a test tool, to be run only inside network namespaces of a test: spoofed
//! sources are harmless only where the target's replies are routed nowhere. It refuses
//! a `--gateway` outside loopback and the private ranges (127/8, 10/8, 172.16/12,
//! 192.168/16).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ike_sm::crypto::cipher::CipherAlg;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::crypto::hash::HashAlg;
use ike_sm::{presets, Endpoint, P1Offer, Phase1Mode};
use isakmp_wire::{Body, ExchangeType, Flags, Header, Message, PayloadType};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_core::Rng as _;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// What the flood sends.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Main Mode first messages.
    Mm1,
    /// Aggressive Mode first messages for the group `vpn3000`.
    Am1,
    /// Aggressive Mode first messages for a group the gateway does not know.
    Am1UnknownGroup,
    /// ISAKMP headers alone (28 bytes).
    Header,
}

impl Kind {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mm1 => "mm1",
            Kind::Am1 => "am1",
            Kind::Am1UnknownGroup => "am1-unknown-group",
            Kind::Header => "header",
        }
    }
}

/// The group name of `am1-unknown-group`.
pub const UNKNOWN_GROUP: &str = "flood-unknown-group";

/// Upper bounds on the command line (the tool must stop by itself).
const MAX_SECS: f64 = 3600.0;
const MAX_RATE: f64 = 2_000_000.0;
/// Packets sent back to back before the clock is read again.
const BURST: u64 = 256;
/// Templates per kind (AM templates differ in their KE and NONCE anyway).
const TEMPLATES: usize = 4;

const IP_LEN: usize = 20;
const UDP_LEN: usize = 8;
const COOKIE: Range<usize> = 28..36;

/// One flood run's parameters.
#[derive(Debug, Clone)]
pub struct Flood {
    /// What to send.
    pub kind: Kind,
    /// Packets per second.
    pub rate: f64,
    /// The spoofed source addresses.
    pub sources: ipnet::Ipv4Net,
    /// How long.
    pub secs: f64,
    /// At most this many packets (default rate x secs).
    pub max_packets: Option<u64>,
    /// Target address and port.
    pub gateway: SocketAddrV4,
    /// Seed of the per-packet randomness (else the OS generator).
    pub seed: Option<u64>,
}

/// What a run did.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    /// Datagrams handed to the kernel.
    pub sent: u64,
    /// Sends the kernel refused (ENOBUFS and the like).
    pub errors: u64,
    /// Wall time of the run.
    pub secs: f64,
    /// CPU time of this process over the run, if known.
    pub cpu_secs: Option<f64>,
}

/// A prebuilt datagram (IPv4 + UDP + ISAKMP) and where its per-packet fields are.
struct Template {
    bytes: Vec<u8>,
    /// KE and NONCE data, refreshed per packet (Aggressive Mode).
    fresh: Vec<Range<usize>>,
}

/// Whether `a` is loopback or private (RFC 1918): the only targets we flood.
#[must_use]
pub fn target_allowed(a: Ipv4Addr) -> bool {
    a.is_loopback() || a.is_private()
}

/// Checks the parameters, builds the templates, floods, and returns what was sent
/// (`cpu_secs` reads this process's CPU time; `stop` ends the run early).
pub fn run(f: &Flood, cpu_secs: fn() -> Option<f64>, stop: &AtomicBool) -> anyhow::Result<Report> {
    if !target_allowed(*f.gateway.ip()) {
        anyhow::bail!(
            "--gateway {}: the flood is a test tool for namespaces; only loopback and private (RFC 1918) targets are allowed",
            f.gateway.ip()
        );
    }
    if !(f.rate.is_finite() && f.rate > 0.0 && f.rate <= MAX_RATE) {
        anyhow::bail!("--rate {}: give 0 < R <= {MAX_RATE} packets/s", f.rate);
    }
    if !(f.secs.is_finite() && f.secs > 0.0 && f.secs <= MAX_SECS) {
        anyhow::bail!("--secs {}: give 0 < S <= {MAX_SECS}", f.secs);
    }
    // rate and secs are bounded above: the product fits a u64
    let max = f
        .max_packets
        .unwrap_or_else(|| (f.rate * f.secs).ceil() as u64);
    let mut rng: StdRng = match f.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => rand::make_rng(),
    };
    let templates = templates(f, &mut rng)?;
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(255)))
        .context("raw socket (IPPROTO_RAW): the flood needs root (CAP_NET_RAW)")?;
    let _ = sock.set_send_buffer_size(4 << 20);
    let dest = SockAddr::from(SocketAddr::V4(SocketAddrV4::new(*f.gateway.ip(), 0)));

    let mut x = Xorshift::new(rng.next_u64());
    let host_mask = host_mask(f.sources);
    let net = u32::from(f.sources.network());

    let cpu0 = cpu_secs();
    let start = Instant::now();
    let window = Duration::from_secs_f64(f.secs);
    let (mut sent, mut errors) = (0u64, 0u64);
    let mut bufs: Vec<Vec<u8>> = templates.iter().map(|t| t.bytes.clone()).collect();
    let mut next_t = 0usize;
    'run: loop {
        let el = start.elapsed();
        if el >= window || sent >= max || stop.load(Ordering::Relaxed) {
            break;
        }
        // token bucket: everything due by now, a burst at a time
        let due = ((f.rate * el.as_secs_f64()) as u64)
            .saturating_add(1)
            .min(max);
        if sent >= due {
            let wait = ((sent as f64 + 1.0) / f.rate - el.as_secs_f64()).clamp(0.0, 0.002);
            std::thread::sleep(Duration::from_secs_f64(wait));
            continue;
        }
        let n = due.saturating_sub(sent).min(BURST);
        for _ in 0..n {
            next_t = next_t
                .wrapping_add(1)
                .checked_rem(templates.len())
                .unwrap_or(0);
            let (Some(t), Some(buf)) = (templates.get(next_t), bufs.get_mut(next_t)) else {
                break 'run;
            };
            patch(buf, t, &mut x, net, host_mask, f.kind, sent);
            match sock.send_to(buf, &dest) {
                Ok(_) => sent = sent.saturating_add(1),
                Err(_) => {
                    errors = errors.saturating_add(1);
                    // a full queue: count it as one packet of the schedule
                    sent = sent.saturating_add(1);
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu_secs = cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    Ok(Report {
        sent: sent.saturating_sub(errors),
        errors,
        secs,
        cpu_secs,
    })
}

/// Prints the report: a sentence and the machine-readable line
/// `FLOOD kind=K sent=N errors=E secs=S rate=R target=T cpu=C`.
pub fn print(f: &Flood, r: &Report) {
    let rate = if r.secs > 0.0 {
        r.sent as f64 / r.secs
    } else {
        0.0
    };
    println!(
        "pix-loadgen: flood {} from {} to {}: {} packets in {:.2} s ({rate:.0}/s, asked {:.0}/s), {} send errors",
        f.kind.name(),
        f.sources,
        f.gateway,
        r.sent,
        r.secs,
        f.rate,
        r.errors
    );
    println!(
        "FLOOD kind={} sent={} errors={} secs={:.3} rate={rate:.0} target={:.0} cpu={:.3}",
        f.kind.name(),
        r.sent,
        r.errors,
        r.secs,
        f.rate,
        r.cpu_secs.unwrap_or(-1.0)
    );
}

/// The host bits of `net` (0 for a /32).
fn host_mask(net: ipnet::Ipv4Net) -> u32 {
    let host_bits = 32u32.saturating_sub(u32::from(net.prefix_len()));
    u32::MAX
        .checked_shr(32u32.saturating_sub(host_bits))
        .filter(|_| host_bits > 0)
        .unwrap_or(0)
}

/// Per packet: source address and port, cookie, exchange type (header), fresh KE/NONCE.
fn patch(
    buf: &mut [u8],
    t: &Template,
    x: &mut Xorshift,
    net: u32,
    host_mask: u32,
    kind: Kind,
    n: u64,
) {
    let r = x.next();
    // a source inside the CIDR, never the network or broadcast address of a /24 or wider
    let mut host = (r as u32) & host_mask;
    if host_mask >= 0xff {
        // (host & 0xff) % 254 is at most 253: adding 1 cannot overflow
        host = (host & !0xff) | ((host & 0xff) % 254).saturating_add(1);
    }
    let src = (net | host).to_be_bytes();
    let port = 1024u16.saturating_add(((r >> 32) as u16) % 64_000);
    if let Some(s) = buf.get_mut(12..16) {
        s.copy_from_slice(&src);
    }
    if let Some(p) = buf.get_mut(IP_LEN..IP_LEN + 2) {
        p.copy_from_slice(&port.to_be_bytes());
    }
    if let Some(c) = buf.get_mut(COOKIE) {
        c.copy_from_slice(&x.next().to_be_bytes());
    }
    if kind == Kind::Header {
        // byte 18 of the ISAKMP header: the exchange type
        let ex = if n % 2 == 0 {
            ExchangeType::IdentityProtection
        } else {
            ExchangeType::Aggressive
        };
        if let Some(e) = buf.get_mut(IP_LEN + UDP_LEN + 18) {
            *e = u8::from(ex);
        }
    }
    for range in &t.fresh {
        if let Some(b) = buf.get_mut(range.clone()) {
            for chunk in b.chunks_mut(8) {
                let v = x.next().to_be_bytes();
                chunk.copy_from_slice(v.get(..chunk.len()).unwrap_or(&[]));
            }
            // a KE value below the prime: the top byte of the MODP primes is 0xff
            if let Some(first) = b.first_mut() {
                *first &= 0x7f;
            }
        }
    }
}

/// The IPv4 + UDP headers around an ISAKMP message (source fields patched per packet).
fn datagram(dst: SocketAddrV4, isakmp: &[u8]) -> anyhow::Result<Vec<u8>> {
    let udp_len = u16::try_from(isakmp.len().saturating_add(UDP_LEN))
        .context("ISAKMP message too long for one datagram")?;
    let total = udp_len
        .checked_add(IP_LEN as u16)
        .context("ISAKMP message too long for one datagram")?;
    let mut v = Vec::with_capacity(usize::from(total));
    // version 4, IHL 5, TOS 0, total length, ID 0 (kernel fills), DF, TTL 64, UDP,
    // checksum 0 (kernel fills), source (patched), destination
    v.extend_from_slice(&[0x45, 0]);
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&dst.ip().octets());
    v.extend_from_slice(&[0, 0]); // source port (patched)
    v.extend_from_slice(&dst.port().to_be_bytes());
    v.extend_from_slice(&udp_len.to_be_bytes());
    v.extend_from_slice(&[0, 0]); // no UDP checksum
    v.extend_from_slice(isakmp);
    Ok(v)
}

fn templates(f: &Flood, rng: &mut StdRng) -> anyhow::Result<Vec<Template>> {
    let mut out = Vec::with_capacity(TEMPLATES);
    for _ in 0..TEMPLATES {
        let isakmp = match f.kind {
            Kind::Header => header_only(),
            k => first_message(k, f.gateway, rng)?,
        };
        let fresh = if matches!(f.kind, Kind::Am1 | Kind::Am1UnknownGroup) {
            fresh_ranges(&isakmp)?
        } else {
            Vec::new()
        };
        out.push(Template {
            bytes: datagram(f.gateway, &isakmp)?,
            fresh,
        });
    }
    Ok(out)
}

/// The 28-byte header: Main Mode (patched to Aggressive Mode on every other packet).
fn header_only() -> Vec<u8> {
    let h = Header {
        initiator_cookie: [0; 8],
        responder_cookie: [0; 8],
        next_payload: PayloadType::None,
        version: 0x10,
        exchange_type: ExchangeType::IdentityProtection,
        flags: Flags(0),
        message_id: 0,
        length: 28,
    };
    let mut v = Vec::with_capacity(28);
    h.emit(&mut v);
    v
}

/// The first message of our own initiator for `kind`.
fn first_message(kind: Kind, gw: SocketAddrV4, rng: &mut StdRng) -> anyhow::Result<Vec<u8>> {
    let mut profile = presets::vpn_client_4x(DhGroup::Modp1024, b"flood", "flood", b"flood");
    profile.nat_t = true;
    profile.initial_contact = false;
    match kind {
        Kind::Mm1 => {
            profile.mode = Phase1Mode::Main;
            profile.group_name = None;
            // the seed's isakmp policy 20 (des/md5/group 1), as VPN Client 1.1 offers it
            profile.offers.push(P1Offer {
                encryption: CipherAlg::Des,
                hash: HashAlg::Md5,
                group: DhGroup::Modp768,
                auth_method: 1,
                life_secs: None,
            });
        }
        Kind::Am1UnknownGroup => profile.group_name = Some(UNKNOWN_GROUP.into()),
        Kind::Am1 | Kind::Header => {}
    }
    let mut ep = Endpoint::new(presets::client(), modecfg::Pools::new());
    let local = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 1), 500));
    ep.initiate(Instant::now(), local, SocketAddr::V4(gw), profile, rng)
        .map_err(|e| anyhow::anyhow!("building the {} template: {e}", kind.name()))?;
    let t = ep
        .poll_transmit()
        .with_context(|| format!("building the {} template: no message", kind.name()))?;
    Ok(t.bytes)
}

/// Where the KE and NONCE data are in an ISAKMP message.
fn fresh_ranges(isakmp: &[u8]) -> anyhow::Result<Vec<Range<usize>>> {
    let msg = Message::parse(isakmp).context("our own template does not parse")?;
    let Body::Payloads(chain) = msg.body else {
        anyhow::bail!("our own template is encrypted");
    };
    let mut v = Vec::new();
    for p in chain.raw() {
        let p = p.context("our own template's payload chain")?;
        if matches!(p.kind, PayloadType::KeyExchange | PayloadType::Nonce) {
            let body = p.offset.saturating_add(4);
            let end = body.saturating_add(p.body.len());
            v.push(body.saturating_add(IP_LEN + UDP_LEN)..end.saturating_add(IP_LEN + UDP_LEN));
        }
    }
    if v.len() != 2 {
        anyhow::bail!("our own Aggressive Mode template has no KE and NONCE");
    }
    Ok(v)
}

/// xorshift64*: per-packet randomness at a few ns a draw (not for keys: these are the
/// spoofed packets' cookies, ports and throwaway KE values).
struct Xorshift(u64);

impl Xorshift {
    fn new(seed: u64) -> Self {
        Xorshift(seed | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn flood(kind: Kind) -> Flood {
        Flood {
            kind,
            rate: 1000.0,
            sources: "10.99.0.0/16".parse().unwrap(),
            secs: 1.0,
            max_packets: None,
            gateway: SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 1), 500),
            seed: Some(7),
        }
    }

    /// Every kind's datagrams, patched as they are sent: IPv4/UDP to the gateway from
    /// the CIDR, and an ISAKMP first message our parser accepts, of the right exchange,
    /// with fresh cookies (and fresh KE/NONCE in Aggressive Mode).
    #[test]
    fn patched_datagrams_are_first_messages_from_the_cidr() {
        for kind in [Kind::Mm1, Kind::Am1, Kind::Am1UnknownGroup, Kind::Header] {
            let f = flood(kind);
            let mut rng = StdRng::seed_from_u64(1);
            let ts = templates(&f, &mut rng).unwrap();
            assert_eq!(ts.len(), TEMPLATES);
            let mut x = Xorshift::new(3);
            let (net, mask) = (u32::from(f.sources.network()), host_mask(f.sources));
            let mut seen = Vec::new();
            for n in 0..8u64 {
                let t = &ts[(n as usize) % ts.len()];
                let mut b = t.bytes.clone();
                patch(&mut b, t, &mut x, net, mask, kind, n);
                assert_eq!(&b[16..20], &[192, 168, 1, 1], "{kind:?}");
                let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
                assert!(f.sources.contains(&src), "{kind:?}: {src}");
                assert_eq!(u16::from_be_bytes([b[22], b[23]]), 500);
                let udp_len = usize::from(u16::from_be_bytes([b[24], b[25]]));
                assert_eq!(udp_len + IP_LEN, b.len());
                let isakmp = &b[IP_LEN + UDP_LEN..];
                if kind == Kind::Header {
                    assert_eq!(isakmp.len(), 28);
                    Message::parse(isakmp).unwrap();
                    let h = Header::parse(isakmp).unwrap();
                    let want = if n % 2 == 0 { 2 } else { 4 };
                    assert_eq!(u8::from(h.exchange_type), want);
                    assert_eq!(h.responder_cookie, [0; 8]);
                } else {
                    let m = Message::parse(isakmp)
                        .unwrap_or_else(|e| panic!("{kind:?} packet {n}: {e}"));
                    let want = if kind == Kind::Mm1 { 2 } else { 4 };
                    assert_eq!(u8::from(m.header.exchange_type), want);
                    assert_eq!(m.header.responder_cookie, [0; 8]);
                }
                for r in &t.fresh {
                    seen.push(b[r.clone()].to_vec());
                }
                seen.push(b[COOKIE].to_vec());
            }
            let n = seen.len();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), n, "{kind:?}: a cookie, KE or NONCE repeated");
        }
    }

    #[test]
    fn aggressive_mode_names_its_group() {
        for (kind, group) in [
            (Kind::Am1, "vpn3000"),
            (Kind::Am1UnknownGroup, UNKNOWN_GROUP),
        ] {
            let mut rng = StdRng::seed_from_u64(1);
            let m = first_message(kind, flood(kind).gateway, &mut rng).unwrap();
            let hay = m.windows(group.len()).any(|w| w == group.as_bytes());
            assert!(hay, "{kind:?} does not carry ID_KEY_ID {group}");
            assert_eq!(
                fresh_ranges(&m).unwrap().iter().map(|r| r.len()).max(),
                Some(128)
            );
        }
    }

    #[test]
    fn only_private_targets_and_bounded_runs() {
        assert!(target_allowed(Ipv4Addr::new(192, 168, 1, 1)));
        assert!(target_allowed(Ipv4Addr::new(127, 0, 0, 1)));
        assert!(!target_allowed(Ipv4Addr::new(8, 8, 8, 8)));
        let stop = AtomicBool::new(false);
        let mut f = flood(Kind::Header);
        f.gateway = SocketAddrV4::new(Ipv4Addr::new(8, 8, 8, 8), 500);
        let e = run(&f, || None, &stop).unwrap_err().to_string();
        assert!(e.contains("8.8.8.8"), "{e}");
        let mut f = flood(Kind::Header);
        f.secs = 1e9;
        assert!(run(&f, || None, &stop).is_err());
        f.secs = 1.0;
        f.rate = 0.0;
        assert!(run(&f, || None, &stop).is_err());
    }

    #[test]
    fn host_masks() {
        assert_eq!(host_mask("10.99.0.0/16".parse().unwrap()), 0xffff);
        assert_eq!(host_mask("10.99.0.7/32".parse().unwrap()), 0);
        assert_eq!(host_mask("0.0.0.0/0".parse().unwrap()), u32::MAX);
    }
}
