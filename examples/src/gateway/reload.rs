//! `pix-gateway reload` on one core: a new [`setup::Plan`] (the configuration read
//! again and validated completely by the driver before any core sees it) applied while
//! the users stay connected.
//!
//! What a core keeps and what it takes:
//! * **IKE** ([`ike_sm::Endpoint::reconfigure`]): every SA stays; new negotiations use
//!   the new policies, transform sets, groups and limits. A user whose `vpngroup` is
//!   gone or whose group password (or, for Main Mode, `isakmp key`) changed is logged out
//!   (ISAKMP and IPsec DELETEs, an accounting Stop with Admin-Reset), as the PIX does when
//!   the group it authenticated with goes away.
//! * **Pools** ([`modecfg::Pools::reconfigure`]): a leased address that a pool of the same
//!   name still holds stays leased; a user whose address no pool of that name holds any
//!   more is logged out. One core does it for all (the pools are shared).
//! * **AAA**: an `aaa-server` group whose servers, keys, timeouts and ports are unchanged
//!   keeps its client (its requests in flight go on); a changed group gets a new client,
//!   and the old one, if it has requests in flight, finishes them first (a login waiting
//!   on it gets its verdict from the old servers, an accounting record its answer), then
//!   goes. LOCAL users are always taken from the new plan.
//! * **Policy** ([`super::policy::Policy::reconfigure`]): the new ACLs, `nat 0`, statics and
//!   `aaa` rules apply to new connections; with the same interfaces the open connections
//!   and their accounting go on; with other interfaces every client is entered again.
//! * `vpngroup idle-time`/`max-time` apply to the sessions at once; `hostname`,
//!   `crypto map` name and the Xauth `aaa-server` tag are taken.
//!
//! The driver refuses, before any core changes, what a running gateway cannot take (the
//! outside interface or its address, which the sockets are bound to).

use super::{
    setup, Aaa, BTreeMap, CryptoRng, Gateway, HashMap, Instant, Ipv4Addr, Level, MsgId, SaId,
    TerminateCause,
};

/// What a core keeps of its plan to compare the next one against.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    /// The `aaa-server` groups as mapped (with their keys: the AAA clients hold them
    /// too).
    aaa: BTreeMap<String, setup::AaaGroup>,
    /// `aaa-server radius-authport` / `radius-acctport`.
    radius_ports: (u16, u16),
    /// The NAS-Identifier the clients send (from the driver's settings).
    nas_identifier: Option<String>,
    /// The keys in the gateway's AAA map of clients a reload replaced while they still
    /// had requests in flight: they finish them (logins, accounting records) and go.
    retired: Vec<String>,
    /// Numbers the retired clients' keys.
    reloads: u32,
}

impl Kept {
    pub(crate) fn new(
        aaa: BTreeMap<String, setup::AaaGroup>,
        radius_ports: (u16, u16),
        nas_identifier: Option<String>,
    ) -> Self {
        Kept {
            aaa,
            radius_ports,
            nas_identifier,
            retired: Vec::new(),
            reloads: 0,
        }
    }
}

/// What [`Gateway::reload`] did on one core.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Sessions (IKE SAs) that stayed.
    pub kept: usize,
    /// One line per session ended: who, from where, and why.
    pub logged_out: Vec<String>,
    /// The leased addresses no pool of the same name holds any more, when this core
    /// reconfigured the pools (`None`: it was given them).
    pub orphans: Option<Vec<Ipv4Addr>>,
    /// `aaa-server` tags whose client was made new (changed servers, keys or ports).
    pub aaa_replaced: Vec<String>,
}

/// The LOCAL users of a plan, for the client of its `protocol local` group.
pub(super) fn local_users(users: &[(String, ike_sm::Secret, u8)]) -> xauth::LocalUsers {
    let mut local = xauth::LocalUsers::new();
    for (n, sec, p) in users {
        let _ = local.add(
            n.as_bytes(),
            xauth::Secret::new(sec.expose_secret().to_vec()),
            *p,
        );
    }
    local
}

/// A new AAA client for `group` (its LOCAL `users` for a `protocol local` group).
pub(super) fn new_aaa(
    group: &setup::AaaGroup,
    outside: Ipv4Addr,
    radius_ports: (u16, u16),
    nas_identifier: Option<&str>,
    users: xauth::LocalUsers,
) -> Aaa {
    let mut c = setup::aaa_config(group, outside, radius_ports);
    c.nas_identifier = nas_identifier.map(|n| n.as_bytes().to_vec());
    Aaa {
        tag: group.tag.clone(),
        client: xauth::aaa::AaaClient::new(c, users),
        pending: HashMap::new(),
    }
}

/// Whether two mappings of an `aaa-server` group talk to the same servers the same way.
fn same_group(a: &setup::AaaGroup, b: &setup::AaaGroup) -> bool {
    a.protocol == b.protocol
        && a.require_message_authenticator == b.require_message_authenticator
        && a.servers.len() == b.servers.len()
        && a.servers.iter().zip(&b.servers).all(|(x, y)| {
            x.addr == y.addr && x.timeout == y.timeout && x.key.ct_eq(y.key.expose_secret())
        })
}

impl Gateway {
    /// Runs on `plan` from now on (`pix-gateway reload`, SIGHUP), keeping the users
    /// whose group, pool address and keys still exist, and logging out cleanly those
    /// whose group or key went away or whose address no pool holds any more (see the
    /// [module documentation](self)). `plan` must come from a configuration the driver
    /// validated whole ([`setup::plan_with`] succeeded for every core).
    ///
    /// `orphans`: `None` makes this core reconfigure the address pools (its own, or the
    /// shared ones for every core: do it on one core, first) and report the orphaned
    /// addresses in [`Reloaded::orphans`]; the other cores get that list.
    pub fn reload<R: CryptoRng + ?Sized>(
        &mut self,
        mut plan: setup::Plan,
        orphans: Option<&[Ipv4Addr]>,
        now: Instant,
        rng: &mut R,
    ) -> Reloaded {
        let mut out = Reloaded::default();
        let pools = std::mem::take(&mut plan.pools);
        let orphans: Vec<Ipv4Addr> = match orphans {
            Some(o) => o.to_vec(),
            None => {
                let o = self.ike.reconfigure_pools(pools).unwrap_or_default();
                out.orphans = Some(o.clone());
                o
            }
        };
        let stale = self.ike.reconfigure(plan.ike);
        self.data.set_mtu_plan(plan.mtu);

        // AAA clients: keep the unchanged groups' (and their requests in flight).
        let ports_same = self.reload.radius_ports == plan.radius_ports;
        let mut local = local_users(&plan.local_users);
        let mut aaa = BTreeMap::new();
        for (tag, group) in &plan.aaa {
            let is_local = group.protocol == xauth::aaa::Protocol::Local;
            let unchanged = !is_local
                && (ports_same || group.protocol == xauth::aaa::Protocol::Tacacs)
                && self
                    .reload
                    .aaa
                    .get(tag)
                    .is_some_and(|old| same_group(old, group));
            if unchanged {
                if let Some(a) = self.aaa.remove(tag) {
                    aaa.insert(tag.clone(), a);
                    continue;
                }
            }
            let users = if is_local {
                std::mem::take(&mut local)
            } else {
                xauth::LocalUsers::new()
            };
            if !is_local || !self.aaa.contains_key(tag) {
                out.aaa_replaced.push(tag.clone());
            }
            let client = new_aaa(
                group,
                self.info.outside_addr,
                plan.radius_ports,
                self.reload.nas_identifier.as_deref(),
                users,
            );
            aaa.insert(tag.clone(), client);
        }
        // A client that is replaced (its group changed or went) while it still has
        // requests in flight is kept under a key of its own until they are done: the
        // logins waiting on it get their verdict, its accounting records their answer.
        self.reload.reloads = self.reload.reloads.wrapping_add(1);
        let mut retired = Vec::new();
        for (key, a) in std::mem::take(&mut self.aaa) {
            if a.client.pending() == 0 && a.pending.is_empty() {
                continue;
            }
            let key = if self.reload.retired.contains(&key) {
                key
            } else {
                format!("{key} (before reload {})", self.reload.reloads)
            };
            retired.push(key.clone());
            aaa.insert(key, a);
        }
        self.aaa = aaa;
        self.xauth_tag = plan.xauth_tag;
        self.info.hostname = plan.hostname;
        self.info.crypto_map = plan.crypto_map;
        self.session_limits = plan.session_limits;
        for s in self.sessions.values_mut() {
            let (idle, max) = self
                .session_limits
                .get(&s.identity)
                .or_else(|| self.session_limits.get(""))
                .copied()
                .unwrap_or((None, None));
            s.idle_time = idle;
            s.max_time = max;
        }
        // The next timeout recomputes the deadlines from the new limits.
        self.timers_bound = Some(now);

        // The firewall policy: with other interfaces, every client is entered again.
        let same = self.policy.same_interfaces(&plan.policy);
        let entered: Vec<(String, Ipv4Addr, std::net::IpAddr)> = self
            .sessions
            .values()
            .filter(|s| s.in_policy)
            .filter_map(|s| Some((s.user.clone()?, s.addr?, s.remote.ip())))
            .collect();
        if !same {
            for (_, addr, _) in &entered {
                let ev = self.policy.vpn_disconnect(*addr, now);
                self.account(now, ev, rng);
            }
        }
        self.policy.reconfigure(plan.policy);
        if !same {
            for (user, addr, peer) in &entered {
                self.policy.vpn_connect(user, *addr, Some(*peer), now);
            }
        }
        let reloads = self.reload.reloads;
        self.reload = Kept::new(
            plan.aaa,
            plan.radius_ports,
            self.reload.nas_identifier.take(),
        );
        self.reload.retired = retired;
        self.reload.reloads = reloads;

        // Who goes.
        let mut ending: Vec<(SaId, String)> = stale
            .into_iter()
            .map(|(sa, why)| (sa, why.to_string()))
            .collect();
        for s in self.sessions.values() {
            if let Some(a) = s.addr.filter(|a| orphans.contains(a)) {
                ending.push((
                    s.sa,
                    format!("address {a} is in no pool of its name any more"),
                ));
            }
        }
        let mut done: Vec<SaId> = Vec::new();
        for (sa, why) in ending {
            if done.contains(&sa) {
                continue;
            }
            done.push(sa);
            let who = self.sessions.get(&sa).map_or_else(
                || format!("SA {}", sa.0),
                |s| {
                    format!(
                        "{} from {} (group {})",
                        s.user.as_deref().map_or_else(
                            || "a peer".to_owned(),
                            |u| format!("user '{}'", super::printable(u))
                        ),
                        s.remote.ip(),
                        super::printable(&s.identity)
                    )
                },
            );
            self.disconnect_because(now, sa, TerminateCause::AdminReset, rng);
            out.logged_out.push(format!("{who}: {why}"));
        }
        out.kept = self.sessions.len();
        self.log(
            Level::Notice,
            MsgId::Lifecycle,
            format!(
                "configuration reloaded: {} session(s) kept, {} logged out{}",
                out.kept,
                out.logged_out.len(),
                if out.aaa_replaced.is_empty() {
                    String::new()
                } else {
                    format!(", aaa-server {} made new", out.aaa_replaced.join(", "))
                }
            ),
        );
        for l in &out.logged_out {
            self.log(
                Level::Notice,
                MsgId::Lifecycle,
                format!("reload: logged out {l}"),
            );
        }
        out
    }
}

impl Gateway {
    /// Drops the clients a reload retired once nothing is in flight on them (called
    /// after the AAA timers ran).
    pub(super) fn sweep_retired(&mut self) {
        if self.reload.retired.is_empty() {
            return;
        }
        let aaa = &mut self.aaa;
        self.reload.retired.retain(|key| {
            let busy = aaa
                .get(key)
                .is_some_and(|a| a.client.pending() > 0 || !a.pending.is_empty());
            if !busy {
                aaa.remove(key);
            }
            busy
        });
    }
}
