//! `pix-loadgen --esp` and `pix-loadgen --esp-inside`: tunnel traffic through the
//! gateway, for `examples/tests/esp_load.rs` and `scripts/esp-load.sh`.
//!
//! * `--esp` (client side): brings up `--tunnels` real tunnels with our `ike-sm`
//!   initiator, one after the other (the VPN Client 4.x preset: Aggressive Mode, Xauth,
//!   Mode Config pull, one Quick Mode for `pool address <-> 0.0.0.0/0`), keeps each
//!   child SA as the `esp` crate's `OutboundSa`/`InboundSa`, then for `--esp-secs`
//!   seconds sends ESP through a raw socket (IP protocol 50) at `--esp-rate` packets per
//!   second in total per direction (0: as fast as it can), round robin over the
//!   tunnels. The inner packets are IPv4/UDP of `--esp-size` bytes (IP header included)
//!   from each tunnel's Mode Config address to `--inside`. A second thread receives the
//!   ESP the gateway sends back, decrypts and counts it. At the end every tunnel is
//!   deleted (so the pool addresses are free again) and the report is printed.
//! * `--esp-inside` (the inside counterpart, in the gateway's namespace or behind it):
//!   a UDP socket on `--listen` for `--secs` seconds. It counts the load per client
//!   address and run, and sends load down to a client when that client's START asks for
//!   it. The gateway decrypts the clients' packets onto its TUN device, where the kernel
//!   routes them to this socket; what it sends to a pool address is routed into the TUN
//!   device, and the gateway encrypts it to the client.
//!
//! The two sides talk through the tunnels themselves (see `wire.rs`): before the window
//! each tunnel sends START (retried until acknowledged; the ACK coming back also proves
//! the down path), and after it QUERY, which the counterpart answers with what it
//! received from and sent to that tunnel's address. So the load generator alone prints
//! every number: the machine-readable lines `ESP_PPS_SENT`, `ESP_PPS_RECEIVED`,
//! `LOSS_PCT`, `MBIT_PER_S` (inner bytes), and with `--gateway-pid` `GATEWAY_CPU_SECS`
//! and `GATEWAY_CPU_SECS_PER_GB` (the gateway's utime+stime from its start of the window
//! to the end of the drain, per 10^9 inner bytes delivered), plus the same per direction
//! prefixed `ESP_UP_` / `ESP_DOWN_`.
//!
//! With `--natt` the tunnels use ESP in UDP (RFC 3948) on port 4500: the initiator
//! forces UDP encapsulation as strongSwan's `forceencaps` does
//! (`ClientProfile::force_natt_encapsulation`: a NAT-D hash of a fake address, so the
//! gateway sees "initiator behind NAT" and both sides float), which needs
//! `isakmp nat-traversal` on the gateway and one tunnel per client address
//! (`--bind-spread` >= `--tunnels`: without a NAT every tunnel of one address would be
//! the same peer address and port 4500, which the gateway takes for one client). Each
//! address has one UDP socket on port 4500, connected to the gateway's, which carries
//! the IKE messages behind the non-ESP marker and sends the ESP; a filter keeps the ESP
//! coming back off it, and the receiver reads that from a raw UDP socket. Without
//! `--natt`, tunnels that floated anyway are refused. Only private and loopback
//! gateways are accepted: this is a test tool for network namespaces.
//!
//! Sends and receives are batched (`sendmmsg`/`recvmmsg`, up to 64 packets per system
//! call) on both sides; each packet is still encrypted on its own (the ICV covers its
//! sequence number), in place in a buffer that is reused, with no allocation per packet.

mod batch;
mod client;
mod inside;
mod wire;

use std::net::{Ipv4Addr, SocketAddrV4};

/// The ESP load options (flattened into `pix-loadgen`'s arguments).
#[derive(clap::Args, Debug, Clone)]
pub struct EspArgs {
    /// Data-plane load: bring up --tunnels tunnels, then send and receive ESP.
    #[arg(long)]
    pub esp: bool,
    /// `--esp`: tunnels to bring up.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub tunnels: usize,
    /// `--esp`: seconds of load.
    #[arg(long, default_value_t = 5.0, value_name = "S")]
    pub esp_secs: f64,
    /// `--esp`: packets per second in total per direction (0: as fast as possible).
    #[arg(long, default_value_t = 1000.0, value_name = "PPS")]
    pub esp_rate: f64,
    /// `--esp`: inner packet size in bytes, IP header included (52..=1400).
    #[arg(long, default_value_t = 512, value_name = "BYTES")]
    pub esp_size: usize,
    /// `--esp`: the inside counterpart's address (`--esp-inside --listen`).
    #[arg(long, default_value = "10.89.129.131:9000", value_name = "ADDR:PORT")]
    pub inside: SocketAddrV4,
    /// `--esp`: which way the load goes.
    #[arg(long, value_enum, default_value = "up")]
    pub direction: Direction,
    /// `--esp`: decrypt and verify one in K ESP packets coming back (default 1: all);
    /// the others of a data packet's length are counted unopened. With K > 1 the client
    /// pays a fraction of the cipher, so a down-direction run measures the gateway and
    /// not the load generator (this machine has as few cores as the gateway wants).
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub esp_verify_every: u32,
    /// `--esp`: ESP in UDP on port 4500 (NAT-T, RFC 3948), forced without a NAT as
    /// strongSwan's `forceencaps` does; needs `isakmp nat-traversal` on the gateway and
    /// one tunnel per address (`--bind-spread` >= `--tunnels`).
    #[arg(long)]
    pub natt: bool,
    /// `--esp --natt`: send each batch of a tunnel as one UDP GSO send (`UDP_SEGMENT`),
    /// which the kernel cuts into the ESP-in-UDP datagrams: one trip through the IP stack
    /// per batch instead of one per packet (the gateway still receives single datagrams).
    #[arg(long, requires = "natt")]
    pub esp_gso: bool,
    /// Run the inside counterpart on --listen for --secs seconds.
    #[arg(long)]
    pub esp_inside: bool,
    /// `--esp-inside`: the UDP address to listen on.
    #[arg(long, default_value = "10.89.129.131:9000", value_name = "ADDR:PORT")]
    pub listen: SocketAddrV4,
}

/// Which way the load goes.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Clients to the inside.
    Up,
    /// The inside to the clients.
    Down,
    /// Both at once.
    Both,
}

impl Direction {
    fn up(self) -> bool {
        matches!(self, Direction::Up | Direction::Both)
    }
    fn down(self) -> bool {
        matches!(self, Direction::Down | Direction::Both)
    }
    fn bits(self) -> u8 {
        u8::from(self.up()) | (u8::from(self.down()) << 1)
    }
    fn name(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }
}

/// What the ESP load shares with the other modes of `pix-loadgen`.
#[derive(Debug, Clone)]
pub struct Common {
    /// The gateway's outside address and IKE port.
    pub gateway: SocketAddrV4,
    /// Local address of the IKE sockets.
    pub bind: Ipv4Addr,
    /// `--bind-spread`: the tunnels come from this many consecutive addresses from
    /// `bind` on (tunnel i from `bind + i % N`), one raw ESP socket bound to each.
    pub bind_spread: u32,
    /// Xauth user name.
    pub user: String,
    /// Xauth password.
    pub password: String,
    /// The group's pre-shared key.
    pub group_key: String,
    /// One handshake's time limit.
    pub timeout_secs: u64,
    /// RNG seed.
    pub seed: Option<u64>,
    /// The gateway's PID, for its CPU time.
    pub gateway_pid: Option<u32>,
    /// `--esp-inside`: how long to run.
    pub secs: f64,
    /// Reads utime+stime in seconds from a `/proc/PID/stat` path.
    pub cpu_secs: fn(&str) -> Option<f64>,
}

/// Runs `--esp` or `--esp-inside`; returns whether everything asked for was done.
pub fn run(a: &EspArgs, c: &Common) -> anyhow::Result<bool> {
    if a.esp_inside {
        inside::run(a.listen, c.secs)?;
        return Ok(true);
    }
    let report = client::run(a, c)?;
    client::print(a, c, &report);
    Ok(report.complete())
}
