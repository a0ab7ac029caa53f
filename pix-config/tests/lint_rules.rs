//! Each lint rule fires where it should, with the right line and correction, and
//! stays quiet on the correct variant.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use pix_config::{lint, parse, Finding, LintRule};

const BASE: &str = "\
nameif ethernet0 outside security0
nameif ethernet1 inside security100
nameif ethernet2 dmz security50
ip address outside 192.168.1.1 255.255.255.0
ip address inside 10.1.1.1 255.255.255.0
ip address dmz 172.16.1.1 255.255.255.0
";

fn run(extra: &str) -> Vec<Finding> {
    let src = format!("{BASE}{extra}");
    let out = parse(&src);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    lint(&out.config)
}

fn rules(f: &[Finding]) -> Vec<(u32, LintRule)> {
    f.iter().map(|x| (x.line, x.rule)).collect()
}

#[test]
fn acl_real_address_host_and_net() {
    let f = run("\
access-list in permit tcp any host 10.1.1.10 eq www
access-list in permit tcp any host 192.168.1.10 eq www
access-list in permit tcp any 10.2.0.128 255.255.255.128
access-list in deny tcp any host 10.1.1.10
static (inside,outside) 192.168.1.10 10.1.1.10 netmask 255.255.255.255 0 0
static (inside,outside) 192.168.2.0 10.2.0.0 netmask 255.255.255.0
access-group in in interface outside
");
    assert_eq!(
        rules(&f),
        vec![(7, LintRule::AclRealAddress), (9, LintRule::AclRealAddress)]
    );
    assert_eq!(
        f[0].suggestion.as_deref(),
        Some("access-list in permit tcp any host 192.168.1.10 eq www")
    );
    assert_eq!(
        f[1].suggestion.as_deref(),
        Some("access-list in permit tcp any 192.168.2.128 255.255.255.128")
    );
    assert_eq!(f[1].related, vec![12]);
}

#[test]
fn acl_real_address_only_for_less_secure_interfaces() {
    // ACL on the inside (more secure than the static's real side? no: equal) is fine
    let f = run("\
access-list out permit tcp any host 10.1.1.10
static (inside,outside) 192.168.1.10 10.1.1.10 netmask 255.255.255.255 0 0
access-group out in interface inside
");
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn weak_crypto_everywhere() {
    let f = run("\
crypto ipsec transform-set t esp-null ah-md5-hmac
crypto ipsec transform-set ok esp-aes-256 esp-sha-hmac
crypto dynamic-map d 10 set pfs
crypto dynamic-map d 10 set transform-set ok
crypto map m 10 ipsec-isakmp dynamic d
crypto map m 20 set pfs group1
crypto map m 20 set transform-set ok
crypto map m client authentication LOCAL
crypto map m interface outside
isakmp policy 5 authentication pre-share
isakmp policy 5 hash sha
isakmp policy 6 encryption aes
isakmp policy 6 group 5
");
    let got = rules(&f);
    assert_eq!(
        got,
        vec![
            (7, LintRule::WeakCrypto),
            (7, LintRule::WeakCrypto),
            (9, LintRule::WeakCrypto),
            (12, LintRule::WeakCrypto),
            (16, LintRule::WeakCrypto),
            (16, LintRule::WeakCrypto),
        ],
        "{f:#?}"
    );
    assert_eq!(
        f[0].suggestion.as_deref(),
        Some("crypto ipsec transform-set t esp-3des ah-md5-hmac")
    );
    assert_eq!(
        f[1].suggestion.as_deref(),
        Some("crypto ipsec transform-set t esp-null ah-sha-hmac")
    );
    assert_eq!(
        f[2].suggestion.as_deref(),
        Some("crypto dynamic-map d 10 set pfs group2")
    );
    assert_eq!(
        f[3].suggestion.as_deref(),
        Some("crypto map m 20 set pfs group2")
    );
    // policy 5 has no encryption and no group line: defaults des and group 1
    assert!(f[4].message.contains("default des"));
    assert!(f[5].message.contains("default group 1"));
}

#[test]
fn group_secret_without_xauth() {
    let f = run("\
crypto map m 10 ipsec-isakmp
crypto map m interface outside
isakmp key ******** address 0.0.0.0 netmask 0.0.0.0
vpngroup g password ********
");
    assert_eq!(
        rules(&f),
        vec![
            (9, LintRule::NoXauth),
            (9, LintRule::AggressiveAddressKey),
            (10, LintRule::NoXauth)
        ]
    );
    assert_eq!(
        f[2].suggestion.as_deref(),
        Some("crypto map m client authentication LOCAL")
    );
    // with Xauth: clean, unless the wildcard key says no-xauth
    let f = run("\
crypto map m 10 ipsec-isakmp
crypto map m client authentication LOCAL
crypto map m interface outside
isakmp key ******** address 0.0.0.0 netmask 0.0.0.0 no-xauth
vpngroup g password ********
");
    assert_eq!(
        rules(&f),
        vec![
            (10, LintRule::NoXauth),
            (10, LintRule::AggressiveAddressKey)
        ]
    );
    assert_eq!(
        f[0].suggestion.as_deref(),
        Some("isakmp key ******** address 0.0.0.0 netmask 0.0.0.0")
    );
}

#[test]
fn address_range_key_beside_vpngroups() {
    // The wildcard and a /24 key are flagged, a host key is not; without vpngroups
    // nothing is (no Aggressive Mode is answered).
    let keys = "\
isakmp key ******** address 0.0.0.0 netmask 0.0.0.0
isakmp key ******** address 198.51.100.0 netmask 255.255.255.0
isakmp key ******** address 198.51.100.7 netmask 255.255.255.255
";
    let f = run(&format!("{keys}vpngroup g password ********\n"));
    let am: Vec<_> = f
        .iter()
        .filter(|x| x.rule == LintRule::AggressiveAddressKey)
        .collect();
    assert_eq!(am.iter().map(|x| x.line).collect::<Vec<_>>(), vec![7, 8]);
    assert!(am.iter().all(|x| x.related == vec![10]));
    assert!(am[0].explanation.contains("psk-crack"));
    assert!(am[1].message.contains("198.51.100.0/24"));
    let f = run(keys);
    assert!(!f.iter().any(|x| x.rule == LintRule::AggressiveAddressKey));
}

#[test]
fn nat_without_global_on_a_lower_interface() {
    let f = run("\
global (outside) 1 interface
nat (inside) 1 0.0.0.0 0.0.0.0 0 0
nat (inside) 0 0.0.0.0 0.0.0.0
nat (dmz) 1 172.16.1.0 255.255.255.0
");
    assert_eq!(rules(&f), vec![(8, LintRule::NatWithoutGlobal)]);
    assert_eq!(f[0].suggestion.as_deref(), Some("global (dmz) 1 interface"));
}

#[test]
fn pools_overlap_and_collide() {
    let f = run("\
ip local pool a 10.9.0.1-10.9.0.100
ip local pool b 10.9.0.50-10.9.0.200
ip local pool c 10.1.1.1-10.1.1.20
ip local pool d 192.168.1.100-192.168.1.110
ip local pool e 10.1.1.200-10.1.1.210
global (outside) 1 192.168.1.200-192.168.1.210
ip local pool f 192.168.1.205-192.168.1.205
crypto map m 10 ipsec-isakmp
crypto map m client authentication LOCAL
crypto map m interface outside
");
    let got = rules(&f);
    assert_eq!(
        got,
        vec![
            (8, LintRule::OverlappingPools),
            (9, LintRule::PoolInInterfaceSubnet), // contains inside's 10.1.1.1
            (10, LintRule::PoolInInterfaceSubnet), // in outside's subnet, crypto map there
            (13, LintRule::PoolInInterfaceSubnet), // outside subnet
            (13, LintRule::PoolInInterfaceSubnet), // and the global
        ],
        "{f:#?}"
    );
    // pool e (10.1.1.200-210) is inside the inside subnet: that is the seed's design, no finding
    assert!(!got.iter().any(|(l, _)| *l == 11));
}

#[test]
fn unaligned_addresses_with_corrections() {
    let f = run("\
access-list x permit ip 10.1.1.5 255.255.255.0 any
route inside 10.2.0.1 255.255.0.0 10.1.1.254 1
nat (inside) 1 10.1.1.7 255.255.255.0 0 0
global (outside) 1 interface
static (inside,dmz) 10.1.0.3 10.1.0.3 netmask 255.255.255.0
isakmp key ******** address 203.0.113.9 netmask 255.255.255.0
aaa authentication include ftp outside 10.1.1.5 255.255.255.0 0.0.0.0 0.0.0.0 LOCAL
object-group network n
  network-object 10.3.0.1 255.255.0.0
");
    let got: Vec<(u32, Option<&str>)> = f
        .iter()
        .filter(|x| x.rule == LintRule::UnalignedAddress)
        .map(|x| (x.line, x.suggestion.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (7, Some("access-list x permit ip 10.1.1.0 255.255.255.0 any")),
            (8, Some("route inside 10.2.0.0 255.255.0.0 10.1.1.254 1")),
            (9, Some("nat (inside) 1 10.1.1.0 255.255.255.0 0 0")),
            (11, Some("static (inside,dmz) 10.1.0.0 10.1.0.0 netmask 255.255.255.0")),
            (12, Some("isakmp key ******** address 203.0.113.0 netmask 255.255.255.0")),
            (13, Some("aaa authentication include ftp outside 10.1.1.0 255.255.255.0 0.0.0.0 0.0.0.0 LOCAL")),
            (15, Some("network-object 10.3.0.0 255.255.0.0")),
        ]
    );
}

#[test]
fn same_security_level() {
    let f = run("nameif ethernet3 dmz2 security50\n");
    assert_eq!(rules(&f), vec![(7, LintRule::SameSecurityLevel)]);
    assert_eq!(f[0].related, vec![3]);
}

#[test]
fn shadowed_statics() {
    let f = run("\
static (inside,outside) 192.168.1.0 10.1.1.0 netmask 255.255.255.0
static (inside,outside) 192.168.1.20 10.1.1.99 netmask 255.255.255.255
static (inside,outside) tcp 192.168.1.30 www 10.1.1.30 www
static (inside,outside) tcp 192.168.1.30 www 10.1.1.31 www
static (inside,outside) tcp 192.168.1.30 smtp 10.1.1.31 smtp
static (inside,dmz) 10.1.1.0 10.1.1.0 netmask 255.255.255.0
");
    assert_eq!(
        rules(&f),
        vec![
            (8, LintRule::ShadowedStatic),
            (10, LintRule::ShadowedStatic)
        ]
    );
    assert_eq!(f[0].related, vec![7]);
    assert_eq!(f[1].related, vec![9]);
}

#[test]
fn findings_render_with_explanation_and_fix() {
    let f = run("nameif ethernet3 dmz2 security50\n");
    let r = f[0].render("x.cfg");
    assert!(r.starts_with("x.cfg:7: warning[same-security-level]: interfaces dmz and dmz2 are both security50\n  = PIX 6.3 passes no traffic"));
    assert!(r.ends_with("x.cfg:3: note: related line\n"));
}

#[test]
fn every_rule_snapshot() {
    let src = common::config_file("lint_all_rules.cfg");
    let out = parse(&src);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    let f = lint(&out.config);
    let mut seen: Vec<LintRule> = f.iter().map(|x| x.rule).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        vec![
            LintRule::AclRealAddress,
            LintRule::WeakCrypto,
            LintRule::NoXauth,
            LintRule::NatWithoutGlobal,
            LintRule::OverlappingPools,
            LintRule::PoolInInterfaceSubnet,
            LintRule::UnalignedAddress,
            LintRule::SameSecurityLevel,
            LintRule::ShadowedStatic,
            LintRule::AggressiveAddressKey,
        ]
    );
    common::check_snapshot(
        "lint_all_rules.lint.txt",
        &common::render_lint("lint_all_rules.cfg", &f),
    );
}
