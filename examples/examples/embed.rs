//! Embedding the gateway core in another Rust program.
//!
//! `pix_gateway::Gateway` is Sans-IO: the program that embeds it owns the sockets, the
//! clock and the randomness. It hands the core what arrives with `Gateway::handle`,
//! does what `Gateway::poll_output` asks (send a datagram, ask an AAA server, write a
//! log record), and calls `Gateway::handle_timeout` at `Gateway::poll_timeout`.
//!
//! Here the "network" is a function call: an `ike-sm` initiator plays a Cisco VPN
//! Client 4.x (Aggressive Mode with group `vpn3000`, Xauth as `cisco_customer`, Mode
//! Config, Quick Mode) against the bundled demo configuration (Xauth against LOCAL),
//! the `esp` crate plays the client's ESP stack, and one ping goes through the tunnel
//! each way. Then the program asks the core `show crypto isakmp sa` and `show uauth`
//! as an operator would.
//!
//! ```text
//! cargo run -p pix-gateway --example embed
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use esp::{Encapsulation, EspKeys, EspSaParams, InboundSa, OutboundSa};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, ChildSa, Endpoint};
use pix_gateway::{demo, EspDest, Gateway, Handled, Input, Output, Settings};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// The gateway's outside address in the demo configuration.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 1);
/// The VPN client's address.
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// The inside host the client pings.
const INSIDE_HOST: Ipv4Addr = Ipv4Addr::new(10, 89, 129, 131);

fn main() -> Result<(), String> {
    print!("{}", run()?);
    Ok(())
}

/// Everything the program does, as the text it prints.
///
/// # Errors
/// A step that did not work, in one line.
pub fn run() -> Result<String, String> {
    let mut out = String::new();
    // A real program reads its clock here and whenever something arrives; this one
    // runs on a virtual clock that starts now and never needs to move.
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    // Real programs seed from the OS; a fixed seed makes every run the same bytes.
    let mut rng = StdRng::seed_from_u64(2026);

    // The core: the demo configuration mapped onto the crates, on our outside address.
    let plan = demo::plan().map_err(|e| e.join("; "))?;
    let mut gw = Gateway::new(plan, Settings::new(GATEWAY), now);

    // The client: an IKE endpoint that initiates.
    let mut client = Endpoint::new(presets::client(), modecfg::Pools::new());
    let client_addr = SocketAddr::new(IpAddr::V4(CLIENT), 500);
    let gateway_addr = SocketAddr::new(IpAddr::V4(GATEWAY), 500);
    let profile = presets::vpn_client_4x(
        DhGroup::Modp1024,
        b"cisco1234",
        "cisco_customer",
        b"cisco123",
    );
    let sa = client
        .initiate(now, client_addr, gateway_addr, profile, &mut rng)
        .map_err(|e| format!("initiate: {e}"))?;
    exchange(&mut gw, &mut client, now, &mut rng, &mut out);
    let addr = client
        .assigned_address(sa)
        .ok_or("Mode Config gave the client no address")?;
    out.push_str(&format!("client got {addr} by Mode Config\n"));

    // Quick Mode: the client's address against everything.
    client
        .initiate_quick_mode(now, sa, presets::vpn_client_quick_mode(addr), &mut rng)
        .map_err(|e| format!("quick mode: {e}"))?;
    exchange(&mut gw, &mut client, now, &mut rng, &mut out);
    let mut child = None;
    while let Some(e) = client.poll_event() {
        if let ike_sm::Event::ChildSa(c) = e {
            child = Some(c);
        }
    }
    let child = child.ok_or("Quick Mode gave the client no IPsec SA")?;
    let (mut seal, mut open) = client_esp(&child, now)?;

    // A ping from the client: encrypted by the client, handed to the core as the raw
    // socket would (IP header included), decrypted and checked by the core.
    let ping = icmp(addr, INSIDE_HOST, 8);
    let mut esp = vec![0u8; ping.len().saturating_add(64)];
    let n = seal
        .encapsulate_ip(now, &mut rng, &ping, &mut esp)
        .map_err(|e| format!("client ESP: {e}"))?;
    esp.truncate(n);
    let mut packet = ip_header(CLIENT, GATEWAY, 50, esp.len());
    packet.extend_from_slice(&esp);
    match gw.handle(
        now,
        Input::RawEsp {
            packet: &mut packet,
        },
        &mut rng,
    ) {
        Handled::ToInside(r) if packet.get(r.clone()) == Some(&ping[..]) => {
            out.push_str(&format!(
                "ping {addr} -> {INSIDE_HOST}: through the tunnel to the inside ({} bytes)\n",
                r.len()
            ));
        }
        other => return Err(format!("the ping did not come through: {other:?}")),
    }
    drain(&mut gw, &mut out);

    // The reply from the inside: the core finds the client's SA and encrypts it.
    let reply = icmp(INSIDE_HOST, addr, 0);
    let mut inside = reply.clone();
    let mut datagram = match gw.handle(
        now,
        Input::Inside {
            packet: &mut inside,
        },
        &mut rng,
    ) {
        Handled::ToOutside {
            dest: EspDest::Raw(to),
            datagram,
            ..
        } if to == CLIENT => datagram.to_vec(),
        other => return Err(format!("the reply did not go to the client: {other:?}")),
    };
    drain(&mut gw, &mut out);
    let d = open
        .decapsulate(now, &mut datagram)
        .map_err(|e| format!("client ESP: {e}"))?;
    if datagram.get(d.payload) != Some(&reply[..]) {
        return Err("the client decrypted something else".into());
    }
    out.push_str(&format!(
        "reply {INSIDE_HOST} -> {addr}: through the tunnel to the client\n"
    ));

    // A batched driver encapsulates where the packet lies: room before and after it.
    use pix_gateway::gateway::io::{INSIDE_HEADROOM, INSIDE_TAILROOM};
    let mut buf = [&[0u8; INSIDE_HEADROOM][..], &reply, &[0u8; INSIDE_TAILROOM]].concat();
    let range = match gw.handle(
        now,
        Input::InsideInPlace {
            buf: &mut buf,
            len: reply.len(),
        },
        &mut rng,
    ) {
        Handled::ToOutsideIn {
            dest: EspDest::Raw(to),
            range,
            ..
        } if to == CLIENT => range,
        other => {
            return Err(format!(
                "the in-place reply did not go to the client: {other:?}"
            ))
        }
    };
    drain(&mut gw, &mut out);
    let mut datagram = buf
        .get(range)
        .ok_or("the in-place datagram lies outside the buffer")?
        .to_vec();
    let d = open
        .decapsulate(now, &mut datagram)
        .map_err(|e| format!("client ESP (in place): {e}"))?;
    if datagram.get(d.payload) != Some(&reply[..]) {
        return Err("the client decrypted something else (in place)".into());
    }
    out.push_str(&format!(
        "reply {INSIDE_HOST} -> {addr}: encapsulated in place, through the tunnel\n"
    ));

    // The operator's view.
    for line in ["show crypto isakmp sa", "show uauth"] {
        if let Handled::Answer(text) = gw.handle(now, Input::Command { line }, &mut rng) {
            out.push_str(&format!("pixfirewall# {line}\n{text}"));
        }
        drain(&mut gw, &mut out);
    }
    Ok(out)
}

/// Moves IKE datagrams between the client and the core until both are quiet, keeping
/// the core's log records. (On port 4500 the driver would add the non-ESP marker in
/// front of the client's IKE; the core's own datagrams come framed for their port.)
fn exchange(
    gw: &mut Gateway,
    client: &mut Endpoint,
    now: Instant,
    rng: &mut StdRng,
    out: &mut String,
) {
    // A handshake is a few round trips; the bound only guards against a bug.
    for _ in 0..64 {
        let mut moved = false;
        while let Some(t) = client.poll_transmit() {
            moved = true;
            let mut payload = t.bytes;
            gw.handle(
                now,
                Input::Udp {
                    local: t.remote,
                    remote: t.local,
                    payload: &mut payload,
                },
                rng,
            );
        }
        while let Some(o) = gw.poll_output() {
            match o {
                Output::Udp {
                    local,
                    remote,
                    payload,
                } => {
                    moved = true;
                    client.handle_datagram(now, remote, local, &payload, rng);
                }
                Output::Log(r) => out.push_str(&format!("{}\n", r.pix_line())),
                // No AAA server (LOCAL), no debug, no key log in this program.
                _ => {}
            }
        }
        if !moved {
            return;
        }
    }
}

/// The log records the core queued.
fn drain(gw: &mut Gateway, out: &mut String) {
    while let Some(o) = gw.poll_output() {
        if let Output::Log(r) = o {
            out.push_str(&format!("{}\n", r.pix_line()));
        }
    }
}

/// The client's two ESP SAs (outbound, inbound) from its Quick Mode result.
fn client_esp(c: &ChildSa, now: Instant) -> Result<(OutboundSa, InboundSa), String> {
    let (enc, integ) = (c.encryption, c.integrity);
    let encap = Encapsulation::from_attribute(c.encapsulation).map_err(|e| e.to_string())?;
    let params =
        |spi, ek: &[u8], ak: &[u8]| EspSaParams::new(spi, enc, integ, encap, EspKeys::new(ek, ak));
    let seal = OutboundSa::new(
        &params(
            c.spi_out,
            c.enc_key_out.expose_secret(),
            c.auth_key_out.expose_secret(),
        ),
        now,
    )
    .map_err(|e| e.to_string())?;
    let open = InboundSa::new(
        &params(
            c.spi_in,
            c.enc_key_in.expose_secret(),
            c.auth_key_in.expose_secret(),
        ),
        now,
    )
    .map_err(|e| e.to_string())?;
    Ok((seal, open))
}

/// An IPv4 header (no options, checksum zero: nobody checks it here) for `payload_len`
/// bytes of protocol `proto`.
fn ip_header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload_len: usize) -> Vec<u8> {
    let total = u16::try_from(payload_len.saturating_add(20)).unwrap_or(u16::MAX);
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    h
}

/// An ICMP echo request (`kind` 8) or reply (0) of 8 bytes.
fn icmp(src: Ipv4Addr, dst: Ipv4Addr, kind: u8) -> Vec<u8> {
    let mut p = ip_header(src, dst, 1, 8);
    p.extend_from_slice(&[kind, 0, 0, 0, 0x12, 0x34, 0, 1]);
    p
}
