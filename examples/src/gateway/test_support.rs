//! What the gateway's unit tests share: the bundled demo configuration mapped onto the
//! crates, edited as a test needs, and the driver half of an in-memory rig: draining
//! [`Gateway::poll_output`] the way the shell does (IKE datagrams unframed for the
//! client, AAA requests to in-memory servers and their replies back into the core, log
//! records, debug lines and key log rows kept for assertions).

use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use testkit::aaa::{AaaReply, MemAaa};
use xauth::aaa::{AaaTransmit, RequestId};

use super::{setup, DebugKind, Gateway, Input, LogRecord, Output};

/// The demo configuration after `edit`, with its secrets overlay and LOCAL users plus
/// `extra_users`, mapped as `pix-gateway run --allow-keyless-aaa ALLOW...` would.
///
/// # Errors
/// The mapping's errors (each one line).
pub(crate) fn demo_plan_with(
    edit: impl Fn(String) -> String,
    extra_users: &[(&str, &str)],
    allow_keyless_aaa: &[&str],
) -> Result<setup::Plan, Vec<String>> {
    crate::demo::plan_with(|t| edit(t.to_string()), extra_users, allow_keyless_aaa)
}

/// What the core said besides datagrams, in order.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// [`Output::Log`].
    pub log: Vec<LogRecord>,
    /// [`Output::Debug`].
    pub debug: Vec<(DebugKind, String)>,
    /// [`Output::Keylog`] (copied out of their zeroizing strings: test keys only).
    pub keylog: Vec<String>,
}

impl Seen {
    /// The log texts.
    pub fn texts(&self) -> Vec<&str> {
        self.log.iter().map(|r| r.text.as_str()).collect()
    }

    /// Whether a log record's text satisfies `f`.
    pub fn logged(&self, f: impl Fn(&str) -> bool) -> bool {
        self.log.iter().any(|r| f(&r.text))
    }
}

/// An IKE datagram from the gateway: (the gateway's address, the peer's, the IKE
/// message without the port-4500 non-ESP marker).
pub(crate) type Datagram = (SocketAddr, SocketAddr, Vec<u8>);

/// A datagram of a peer's IKE endpoint framed for the gateway's port `to` (RFC 3948:
/// IKE behind the non-ESP marker on 4500, a NAT keepalive as it is).
pub(crate) fn frame(to: SocketAddr, ike: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(ike.len().saturating_add(4));
    if to.port() == 4500 && ike != [0xff] {
        v.extend_from_slice(&esp::udp_encap::NON_ESP_MARKER);
    }
    v.extend_from_slice(ike);
    v
}

/// Drains everything the core wants done until it is quiet: IKE datagrams are returned
/// (unframed), AAA requests go to `aaa` and its replies back into the core (whose
/// outputs are drained in turn), the rest lands in `seen`.
pub(crate) fn drain(
    gw: &mut Gateway,
    now: Instant,
    rng: &mut StdRng,
    aaa: &mut MemAaa,
    seen: &mut Seen,
) -> Vec<Datagram> {
    let mut datagrams = Vec::new();
    // Bounded: a core that never goes quiet is a failure, not a hang.
    for _ in 0..100_000 {
        let Some(out) = gw.poll_output() else {
            return datagrams;
        };
        match out {
            Output::Udp {
                local,
                remote,
                payload,
            } => {
                if local.port() == 4500 {
                    match esp::udp_encap::classify(&payload) {
                        Ok(esp::udp_encap::Port4500::Ike(ike)) => {
                            datagrams.push((local, remote, ike.to_vec()));
                        }
                        Ok(esp::udp_encap::Port4500::Keepalive) => continue,
                        other => panic!("port 4500 output that is no IKE: {other:?}"),
                    }
                } else {
                    datagrams.push((local, remote, payload));
                }
            }
            Output::AaaDatagram { to, payload } => {
                let t = AaaTransmit::Datagram {
                    request: RequestId(0),
                    to,
                    payload,
                };
                for r in aaa.handle(&t) {
                    if let AaaReply::Datagram { from, payload } = r {
                        gw.handle(
                            now,
                            Input::AaaDatagram {
                                from,
                                payload: &payload,
                            },
                            rng,
                        );
                    }
                }
            }
            Output::AaaStream {
                group,
                conn,
                to,
                payload,
            } => {
                let t = AaaTransmit::Stream { conn, to, payload };
                for r in aaa.handle(&t) {
                    match r {
                        AaaReply::Stream { conn, payload } => {
                            gw.handle(
                                now,
                                Input::AaaStream {
                                    group: &group,
                                    conn,
                                    bytes: &payload,
                                },
                                rng,
                            );
                        }
                        AaaReply::Closed { conn } => {
                            gw.handle(
                                now,
                                Input::AaaStreamClosed {
                                    group: &group,
                                    conn,
                                },
                                rng,
                            );
                        }
                        AaaReply::Datagram { .. } => {}
                    }
                }
            }
            Output::AaaClose { conn, .. } => {
                aaa.handle(&AaaTransmit::Close { conn });
            }
            Output::Log(r) => seen.log.push(r),
            Output::Keylog(k) => seen.keylog.push(k.as_str().to_string()),
            Output::Debug(kind, line) => seen.debug.push((kind, line)),
        }
    }
    panic!("the gateway core never went quiet");
}

/// A raw ESP packet as the raw socket delivers it: an IPv4 header (protocol 50) from
/// `src` to `dst`, then `esp`.
pub(crate) fn raw_esp(src: std::net::Ipv4Addr, dst: std::net::Ipv4Addr, esp: &[u8]) -> Vec<u8> {
    let total = u16::try_from(esp.len().saturating_add(20)).unwrap_or(u16::MAX);
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, 50, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(esp);
    p
}
