//! A new configuration for a running endpoint (`pix-gateway reload`): the SAs stay, and
//! the driver learns which of them the new configuration no longer allows.

use core::net::IpAddr;

use super::sa::Role;
use super::Endpoint;
use crate::config::{Config, GatewayConfig, PeerKey};
use crate::event::SaId;

/// Why an IKE SA no longer fits the configuration an endpoint was given
/// ([`Endpoint::reconfigure`]): its peer authenticated with a key the configuration no
/// longer has. The driver ends it (the PIX logs such users out).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stale {
    /// Its `vpngroup` is gone.
    GroupRemoved(String),
    /// Its `vpngroup ... password` changed.
    GroupKeyChanged(String),
    /// No `isakmp key ... address` covers its peer any more.
    PeerKeyRemoved,
    /// The `isakmp key` that covers its peer changed.
    PeerKeyChanged,
}

impl core::fmt::Display for Stale {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Stale::GroupRemoved(g) => write!(f, "vpngroup {g} removed"),
            Stale::GroupKeyChanged(g) => write!(f, "vpngroup {g} password changed"),
            Stale::PeerKeyRemoved => f.write_str("no isakmp key covers the peer any more"),
            Stale::PeerKeyChanged => f.write_str("the peer's isakmp key changed"),
        }
    }
}

/// The most specific `isakmp key` entry covering `peer`.
fn key_for(gw: &GatewayConfig, peer: IpAddr) -> Option<&PeerKey> {
    let IpAddr::V4(peer) = peer else {
        return None;
    };
    gw.keys
        .iter()
        .filter(|k| k.matches(peer))
        .max_by_key(|k| u32::from(k.netmask).count_ones())
}

impl Endpoint {
    /// Runs on `config` from now on, keeping every SA (phase 1 and its children, the
    /// Xauth and Mode Config dialogues in progress, the leases): new negotiations use the
    /// new policies, transform sets, groups and limits; an SA whose `vpngroup` is found
    /// again by name under the new configuration keeps working with that group's new
    /// policy. Returned: the responder SAs whose key the new configuration no longer has
    /// (group removed or its password changed, `isakmp key` for the peer removed or
    /// changed), for the driver to end ([`Endpoint::delete`]); until then they run on
    /// the default group policy. The pools are not touched
    /// ([`Endpoint::reconfigure_pools`]).
    pub fn reconfigure(&mut self, mut config: Config) -> Vec<(SaId, Stale)> {
        let backoff = config.limits.retransmit_backoff();
        if let Some(gw) = config.gateway.as_mut() {
            gw.modecfg.retransmit = backoff;
        }
        let mut stale = Vec::new();
        if let Some(old) = self.config.gateway.as_ref() {
            let new = config.gateway.as_ref();
            for sa in self.sas.values_mut() {
                if sa.dead || sa.role != Role::Responder {
                    continue;
                }
                let verdict = match sa.group_idx.and_then(|i| old.groups.get(i)) {
                    Some(g) => {
                        let found = new.and_then(|n| {
                            n.groups
                                .iter()
                                .position(|x| x.name == g.name)
                                .and_then(|i| n.groups.get(i).map(|x| (i, x)))
                        });
                        match found {
                            None => Err(Stale::GroupRemoved(g.name.clone())),
                            Some((_, x)) if !x.password.ct_eq(g.password.expose_secret()) => {
                                Err(Stale::GroupKeyChanged(g.name.clone()))
                            }
                            Some((i, _)) => Ok(Some(i)),
                        }
                    }
                    None => match key_for(old, sa.remote.ip()) {
                        // an SA that authenticated with no group and no address key (a
                        // negotiation that will fail anyway): nothing to compare
                        None => Ok(None),
                        Some(k) => match new.and_then(|n| key_for(n, sa.remote.ip())) {
                            None => Err(Stale::PeerKeyRemoved),
                            Some(n) if !n.key.ct_eq(k.key.expose_secret()) => {
                                Err(Stale::PeerKeyChanged)
                            }
                            Some(_) => Ok(None),
                        },
                    },
                };
                match verdict {
                    Ok(idx) => sa.group_idx = idx,
                    Err(why) => {
                        sa.group_idx = None;
                        stale.push((sa.id, why));
                    }
                }
            }
        }
        self.shared = config.gateway.as_ref().map(|gw| super::SharedServerConfig {
            xauth: std::sync::Arc::new(gw.xauth.clone()),
            modecfg: std::sync::Arc::new(gw.modecfg.clone()),
        });
        self.config = config;
        stale
    }

    /// Takes the address pools of a new configuration, every lease staying valid
    /// ([`modecfg::Pools::reconfigure`]): returned, the leased addresses no pool of the
    /// same name holds any more, whose sessions the driver ends. `None` when the endpoint
    /// leases from a store that cannot be reconfigured (its pools stay as they were).
    pub fn reconfigure_pools(&mut self, pools: modecfg::Pools) -> Option<Vec<core::net::Ipv4Addr>> {
        use modecfg::LeaseStore as _;
        self.pools.reconfigure(pools)
    }
}
