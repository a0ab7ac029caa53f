//! Property tests: generated configurations round-trip through print and parse, and
//! any text at all parses to a model whose printout is a fixed point.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use pix_config::{parse, ConfigError};
use proptest::prelude::*;

fn ip() -> impl Strategy<Value = String> {
    (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"))
}

fn mask() -> impl Strategy<Value = String> {
    (0u32..=32).prop_map(|n| {
        let m = if n == 0 { 0 } else { u32::MAX << (32 - n) };
        std::net::Ipv4Addr::from(m).to_string()
    })
}

fn ifname() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["outside", "inside", "dmz"]).prop_map(str::to_owned)
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,8}"
}

fn port() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u16..=65535).prop_map(|p| p.to_string()),
        prop::sample::select(vec![
            "www", "domain", "sqlnet", "smtp", "https", "ssh", "telnet", "ftp", "ntp", "snmp"
        ])
        .prop_map(str::to_owned),
    ]
}

fn addr_spec() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("any".to_owned()),
        ip().prop_map(|a| format!("host {a}")),
        (ip(), mask()).prop_map(|(a, m)| format!("{a} {m}")),
        ifname().prop_map(|i| format!("interface {i}")),
    ]
}

fn port_op() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::sample::select(vec!["eq", "neq", "lt", "gt"]), port())
            .prop_map(|(o, p)| format!(" {o} {p}")),
        (0u16..30000, 0u16..30000).prop_map(|(a, b)| format!(
            " range {} {}",
            a,
            a.saturating_add(b)
        )),
        Just(String::new()),
    ]
}

fn acl_line() -> impl Strategy<Value = String> {
    (
        name(),
        prop::sample::select(vec!["permit", "deny"]),
        prop::sample::select(vec!["ip", "tcp", "udp", "icmp", "esp", "47", "200"]),
        addr_spec(),
        port_op(),
        addr_spec(),
        port_op(),
        prop::sample::select(vec![
            "",
            " log",
            " log 3",
            " log 4 interval 10",
            " log disable",
        ]),
    )
        .prop_map(|(id, act, proto, src, sp, dst, dp, log)| {
            let ports = proto == "tcp" || proto == "udp";
            let icmp = if proto == "icmp" { " echo-reply" } else { "" };
            if ports {
                format!("access-list {id} {act} {proto} {src}{sp} {dst}{dp}{log}")
            } else {
                format!("access-list {id} {act} {proto} {src} {dst}{icmp}{log}")
            }
        })
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => acl_line(),
        1 => (ip(), name()).prop_map(|(a, n)| format!("name {a} {n}")),
        1 => (ifname(), ip(), mask(), ip(), 1u8..=16).prop_map(|(i, a, m, g, x)| format!("route {i} {a} {m} {g} {x}")),
        1 => (ifname(), ifname(), ip(), ip(), mask()).prop_map(|(a, b, m, r, k)| format!("static ({a},{b}) {m} {r} netmask {k} 0 0")),
        1 => (ifname(), ifname(), prop::sample::select(vec!["tcp", "udp"]), ip(), port(), ip(), port())
            .prop_map(|(a, b, p, m, mp, r, rp)| format!("static ({a},{b}) {p} {m} {mp} {r} {rp} dns norandomseq 10 2")),
        1 => (ifname(), 0u32..100, ip(), mask()).prop_map(|(i, n, a, m)| format!("nat ({i}) {n} {a} {m} 0 0")),
        1 => (ifname(), 1u32..100, ip()).prop_map(|(i, n, a)| format!("global ({i}) {n} {a}")),
        1 => (name(), 1u16..100, prop::sample::select(vec!["encryption des", "encryption aes-256", "hash md5", "hash sha", "group 1", "group 5", "lifetime 86400", "authentication pre-share"]))
            .prop_map(|(_, p, a)| format!("isakmp policy {p} {a}")),
        1 => (name(), prop::sample::select(vec!["esp-des esp-md5-hmac", "esp-3des esp-sha-hmac", "esp-aes-256", "ah-sha-hmac esp-aes esp-sha-hmac", "mode transport"]))
            .prop_map(|(n, t)| format!("crypto ipsec transform-set {n} {t}")),
        1 => (name(), 1u32..100, name()).prop_map(|(m, s, a)| format!("crypto map {m} {s} match address {a}")),
        1 => (name(), name()).prop_map(|(g, p)| format!("vpngroup {g} address-pool {p}")),
        1 => (name(), ip()).prop_map(|(n, a)| format!("ip local pool {n} {a}-{a}")),
        1 => (name(), name(), ip(), mask()).prop_map(|(g, _, a, m)| format!("object-group network {g}\n  network-object {a} {m}\n  description d")),
        1 => (prop::sample::select(vec!["g1", "g2"]), prop::sample::select(vec!["network", "service"]), ip(), port())
            .prop_map(|(g, k, a, p)| if k == "network" {
                format!("object-group network {g}\n  network-object host {a}")
            } else {
                format!("object-group service {g} tcp\n  port-object eq {p}")
            }),
        1 => (prop::sample::select(vec!["g1", "g2"]), prop::sample::select(vec!["g1", "g2"]))
            .prop_map(|(a, b)| format!("access-list og permit ip any object-group {a}\naccess-list og permit tcp object-group {b} any")),
        1 => prop::sample::select(vec![
            "names", "no names", "pager lines 24", "no failover", "sysopt connection permit-ipsec",
            "fixup protocol ftp 21", "no fixup protocol smtp 25", "timeout xlate 3:00:00",
            "timeout uauth 0:05:00 absolute", ": Saved", ":", ": end", "PIX Version 6.3(3)",
            "Cryptochecksum:0123", "hostname pix", "frobnicate the widget", "telnet timeout 5",
            "isakmp key ******** address 0.0.0.0 netmask 0.0.0.0", "vpngroup g password ********",
            "enable password 8Ry2YjIyt7RRXU24 encrypted", "nameif ethernet0 outside security0",
            "interface ethernet0 auto", "ip address inside 10.1.1.1 255.255.255.0",
        ]).prop_map(str::to_owned),
    ]
}

fn is_syntax(e: &ConfigError) -> bool {
    matches!(
        e,
        ConfigError::Expected { .. }
            | ConfigError::Trailing { .. }
            | ConfigError::NotANetmask { .. }
            | ConfigError::OutOfRange { .. }
            | ConfigError::EmptyRange { .. }
            | ConfigError::UnknownCommand { .. }
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_configs_round_trip(lines in prop::collection::vec(line(), 0..60)) {
        let text = lines.join("\n");
        let out = parse(&text);
        // the generator writes only valid syntax (references may dangle)
        let syntax: Vec<_> = out.diagnostics.iter()
            .filter(|d| is_syntax(&d.error) && !d.message.contains("frobnicate"))
            .collect();
        prop_assert!(syntax.is_empty(), "{:#?}\n{}", syntax, text);
        let p1 = out.config.to_pix_string();
        let m2 = parse(&p1).config;
        prop_assert_eq!(&m2, &out.config, "{}", p1);
        prop_assert_eq!(m2.to_pix_string(), p1);
    }

    #[test]
    fn any_text_reaches_a_fixed_point(lines in prop::collection::vec(
        prop_oneof![
            line(),
            prop::collection::vec(
                prop::sample::select(vec![
                    "access-list", "1", "permit", "deny", "tcp", "udp", "icmp", "ip", "any", "host",
                    "10.0.0.1", "255.255.255.0", "0.0.0.255", "eq", "range", "www", "dns", "object-group",
                    "network-object", "port-object", "group-object", "static", "(inside,outside)", "nat",
                    "(inside)", "global", "netmask", "interface", "route", "outside", "name", "names",
                    "crypto", "map", "isakmp", "key", "********", "vpngroup", ":", "no", "log", "0", "\u{e9}",
                    "  ", "\t", "\u{b}", "\u{a0}", "\u{85}", "Cryptochecksum:", "PIX", "Version", "#", "x#", "[OK]",
                ]),
                0..12,
            ).prop_map(|v| v.join(" ")),
        ],
        0..40,
    )) {
        let text = lines.join("\n");
        let m1 = parse(&text).config;
        let p1 = m1.to_pix_string();
        let m2 = parse(&p1).config;
        prop_assert_eq!(&m2, &m1, "{}\n---\n{}", text, p1);
        prop_assert_eq!(m2.to_pix_string(), p1);
    }
}
