//! Route lookup: connected subnets, `route` lines and the host routes of connected
//! VPN clients (the PIX routes a Mode Config address to the tunnel's interface).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::model::Firewall;

/// Why a route was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteVia {
    /// A connected subnet (`ip address` line).
    Connected(u32),
    /// A `route` line and its gateway.
    Static(u32, Option<Ipv4Addr>),
    /// A VPN client's host route (its user).
    Vpn(String),
}

/// The result of a lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHit {
    /// Egress interface index.
    pub interface: usize,
    /// How.
    pub via: RouteVia,
    /// Prefix length of the matching route.
    pub prefix_len: u32,
}

/// A connected VPN client: its assigned address is reached through `interface`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct VpnRoute {
    /// The client's (Mode Config) address.
    pub addr: Ipv4Addr,
    /// Interface index of the tunnel.
    pub interface: usize,
    /// Xauth user.
    pub user: String,
}

impl Firewall {
    /// Longest-prefix match over VPN host routes, connected subnets and routes
    /// (at equal length: VPN, then connected, then the first `route` line).
    pub fn route_lookup(
        &self,
        vpn: &BTreeMap<Ipv4Addr, VpnRoute>,
        dst: Ipv4Addr,
    ) -> Option<RouteHit> {
        if let Some(v) = vpn.get(&dst) {
            return Some(RouteHit {
                interface: v.interface,
                via: RouteVia::Vpn(v.user.clone()),
                prefix_len: 32,
            });
        }
        let d = u32::from(dst);
        let mut best: Option<(u32, bool, &crate::model::RouteEntry)> = None;
        for r in &self.routes {
            if d & r.mask != r.network {
                continue;
            }
            let len = r.mask.count_ones();
            let connected = r.gateway.is_none();
            let better = match best {
                None => true,
                Some((bl, bc, _)) => len > bl || (len == bl && connected && !bc),
            };
            if better {
                best = Some((len, connected, r));
            }
        }
        best.map(|(len, connected, r)| RouteHit {
            interface: r.interface,
            via: if connected {
                RouteVia::Connected(r.line)
            } else {
                RouteVia::Static(r.line, r.gateway)
            },
            prefix_len: len,
        })
    }
}
