//! The printer: PIX `show run` order and spelling.
//!
//! The order is the one a PIX 6.3 prints: framing, interfaces, nameif, passwords,
//! hostname, fixups, names, object-groups, access-lists, pager, logging (on,
//! timestamp, standby, console, monitor, buffered, trap, history, facility, queue,
//! device-id, host, message), icmp, mtu, ip address, ip audit, ip local pool,
//! failover, pdm, arp, global, nat, static, access-group, conduit, outbound/apply,
//! route, timeout, aaa-server, aaa, http, snmp, floodguard, fragment, sysopt, crypto
//! ipsec, crypto dynamic-map, crypto map, isakmp, vpngroup, telnet, ssh, console,
//! dhcpd, username, terminal, Cryptochecksum, `: end`.
//! Within a family the written order is kept (it is significant for ACLs and maps).
//! Commands kept verbatim (unknown ones, `:` comments) stay after the command they
//! followed.

use crate::model::{Command, Config, Located};
use crate::verbatim::Family;

/// The rank before the first command (a leading comment or unknown line keeps it).
pub(crate) const FIRST_RANK: u8 = 1;

/// Rank of a command in `show run` order; `None` means "stay after the previous one".
pub(crate) fn rank(c: &Command) -> Option<u8> {
    Some(match c {
        Command::Saved => 0,
        Command::Comment(_) | Command::Unknown(_) => return None,
        Command::Version(_) => 2,
        Command::Interface(_) => 3,
        Command::Nameif(_) => 4,
        Command::EnablePassword(_) => 5,
        Command::Passwd(_) => 6,
        Command::Hostname(_) => 7,
        Command::DomainName(_) => 8,
        Command::Fixup(_) => 9,
        Command::Names(_) => 10,
        Command::Name(_) => 11,
        Command::ObjectGroup(_) => 12,
        Command::AccessList(_) => 13,
        Command::Mtu(_) => 29,
        Command::IpAddress(_) => 30,
        Command::IpLocalPool(_) => 33,
        Command::Global(_) => 37,
        Command::Nat(_) => 38,
        Command::Static(_) => 39,
        Command::AccessGroup(_) => 40,
        Command::Conduit(_) => 41,
        Command::Outbound(_) => 42,
        Command::Apply(_) => 43,
        Command::Route(_) => 44,
        Command::Timeout(_) => 45,
        Command::AaaServer(_) => 46,
        Command::Aaa(_) => 47,
        // (the 13 kinds of `logging` line, in `show run` order)
        Command::Logging(l) => 15u8.saturating_add(l.kind() as u8),
        Command::Fragment(_) => 53,
        Command::Sysopt(_) => 54,
        Command::TransformSet(_) | Command::IpsecGlobal(_) => 55,
        Command::DynamicMap(_) => 56,
        Command::CryptoMap(_) => 57,
        Command::Isakmp(_) => 59,
        Command::Vpngroup(_) => 60,
        Command::Username(_) => 66,
        Command::Cryptochecksum(_) => 73,
        Command::End => 74,
        Command::Known(k) => match k.family {
            Family::Pager => 14,
            Family::Icmp => 28,
            Family::IpAudit => 31,
            Family::IpVerify => 32,
            Family::Failover => 34,
            Family::Pdm => 35,
            Family::Arp => 36,
            Family::Rip => 44,
            Family::Established => 43,
            Family::UrlServer | Family::Filter => 48,
            Family::Http => 49,
            Family::SnmpServer => 50,
            Family::Ntp | Family::Clock | Family::TftpServer => 51,
            Family::Floodguard => 52,
            Family::Service => 54,
            Family::Ca | Family::CryptoCa => 58,
            Family::Telnet => 61,
            Family::Ssh => 62,
            Family::Console => 63,
            Family::Dhcpd => 64,
            Family::Privilege | Family::AuthPrompt | Family::Banner => 65,
            Family::Terminal => 67,
        },
    })
}

/// Stable-sort commands into `show run` order, given the rank of each (`rank`, a
/// command without one taking the rank of the one before, [`FIRST_RANK`] at first).
pub(crate) fn sort_show_run(
    mut commands: Vec<Located<Command>>,
    ranks: &[u8],
) -> Vec<Located<Command>> {
    if ranks.len() != commands.len() {
        return commands;
    }
    // Stable counting sort on the (few, small) ranks: the final position of every
    // command, then the permutation applied in place by swaps, each of which puts
    // one command where it belongs (at most n - 1 swaps, no comparisons, no key
    // lookups; a comparison sort here moved every command log n times).
    let mut next = [0usize; 256];
    for &r in ranks {
        if let Some(c) = next.get_mut(usize::from(r)) {
            *c = c.saturating_add(1);
        }
    }
    let mut total = 0usize;
    for c in &mut next {
        let count = *c;
        *c = total;
        total = total.saturating_add(count);
    }
    let mut dest: Vec<usize> = ranks
        .iter()
        .map(|&r| match next.get_mut(usize::from(r)) {
            Some(slot) => {
                let d = *slot;
                *slot = d.saturating_add(1);
                d
            }
            None => 0,
        })
        .collect();
    for i in 0..dest.len() {
        // `dest` is a permutation of 0..n: every swap fixes the command it moves to
        // `j`, so this loop ends; the guard only keeps a broken invariant from spinning.
        let mut guard = dest.len();
        while let Some(&j) = dest.get(i) {
            if j == i || j >= dest.len() || guard == 0 {
                break;
            }
            commands.swap(i, j);
            dest.swap(i, j);
            guard = guard.saturating_sub(1);
        }
    }
    commands
}

/// Write one command (object-groups write their member lines too).
pub(crate) fn write_command(out: &mut String, c: &Command, mask: bool) {
    match c {
        Command::Saved => out.push_str(": Saved"),
        Command::Comment(t) if t.is_empty() => out.push(':'),
        Command::Comment(t) => {
            out.push_str(": ");
            out.push_str(t);
        }
        Command::Version(v) => {
            out.push_str("PIX Version ");
            out.push_str(v);
        }
        Command::Cryptochecksum(s) => {
            out.push_str("Cryptochecksum:");
            out.push_str(s);
        }
        Command::End => out.push_str(": end"),
        Command::Interface(x) => x.write(out),
        Command::Nameif(x) => x.write(out),
        Command::IpAddress(x) => x.write(out),
        Command::Mtu(x) => x.write(out),
        Command::Hostname(h) => {
            out.push_str("hostname ");
            out.push_str(h);
        }
        Command::DomainName(d) => {
            out.push_str("domain-name ");
            out.push_str(d);
        }
        Command::EnablePassword(x) => x.write(out, mask),
        Command::Passwd(x) => x.write(out, mask),
        Command::Names(true) => out.push_str("names"),
        Command::Names(false) => out.push_str("no names"),
        Command::Name(x) => x.write(out),
        Command::ObjectGroup(x) => x.write(out),
        Command::AccessList(x) => x.write(out),
        Command::AccessGroup(x) => x.write(out),
        Command::Conduit(x) => x.write(out),
        Command::Outbound(x) => x.write(out),
        Command::Apply(x) => x.write(out),
        Command::Route(x) => x.write(out),
        Command::Global(x) => x.write(out),
        Command::Nat(x) => x.write(out),
        Command::Static(x) => x.write(out),
        Command::Timeout(x) => x.write(out),
        Command::AaaServer(x) => x.write(out, mask),
        Command::Aaa(x) => x.write(out),
        Command::Username(x) => x.write(out, mask),
        Command::Fixup(x) => x.write(out),
        Command::Sysopt(x) => x.write(out),
        Command::TransformSet(x) => x.write(out),
        Command::IpsecGlobal(x) => x.write(out),
        Command::CryptoMap(x) => x.write(out),
        Command::DynamicMap(x) => x.write(out),
        Command::Isakmp(x) => x.write(out, mask),
        Command::Vpngroup(x) => x.write(out, mask),
        Command::IpLocalPool(x) => x.write(out),
        Command::Logging(x) => x.write(out),
        Command::Fragment(x) => x.write(out),
        Command::Known(x) => x.write(out),
        Command::Unknown(t) => out.push_str(t),
    }
}

impl Command {
    /// The command as the PIX prints it (secrets in clear; object-groups span lines).
    pub fn to_pix_string(&self) -> String {
        let mut s = String::new();
        write_command(&mut s, self, false);
        s
    }
}

pub(crate) fn print(config: &Config, mask: bool) -> String {
    let mut out = String::with_capacity(config.commands.len().saturating_mul(48));
    for c in &config.commands {
        write_command(&mut out, &c.value, mask);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_sort_is_a_stable_sort_by_rank() {
        // pseudo-random ranks (few distinct values, long runs and single strays)
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for n in [0usize, 1, 2, 3, 10, 100, 1000] {
            let ranks: Vec<u8> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 7) as u8 * 9
                })
                .collect();
            let commands: Vec<Located<Command>> = (0..n)
                .map(|i| Located::new(i as u32 + 1, Command::Comment(i.to_string())))
                .collect();
            let mut want: Vec<(u8, u32)> = ranks
                .iter()
                .zip(&commands)
                .map(|(r, c)| (*r, c.line))
                .collect();
            want.sort_by_key(|w| w.0);
            let got: Vec<u32> = sort_show_run(commands, &ranks)
                .iter()
                .map(|c| c.line)
                .collect();
            let want: Vec<u32> = want.iter().map(|w| w.1).collect();
            assert_eq!(got, want);
        }
    }
}
