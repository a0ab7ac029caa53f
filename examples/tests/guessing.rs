//! Online password guessing with a real vpnc, through `pix-gateway run`: a guesser that
//! runs vpnc with wrong passwords in a loop reaches the password check only a handful of
//! times before its (user, address) pair is locked out, waits for every refusal, shows
//! up in the metrics and `show crypto isakmp stats`; the same user from another address
//! is not locked out; the right password works again from the guesser's address once the
//! lockout has passed.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::{Duration, Instant};

fn raw() -> VpncConf {
    VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    }
}

/// Password checks the gateway made (LOCAL users: one log line per verdict).
fn aaa_checks(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("xauth: user 'cisco_customer'") && l.contains("by aaa-server LOCAL"))
        .count()
}

#[test]
fn xauth_guessing_with_vpnc_is_throttled_per_user_and_address() {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc", "python3"]);
    let mut lab = Lab::new();
    let guesser = lab.direct_client(1);
    let other = lab.direct_client(2);
    const MAX_FAILURES: usize = 3;
    const LOCKOUT_SECS: u64 = 25;
    let gw = lab.start_gateway(
        &config_with(&[], &[]),
        &demo_secrets(),
        &[
            "--metrics",
            "127.0.0.1:9464",
            "--limit",
            "xauth-max-failures=3",
            "--limit",
            "xauth-window=60",
            "--limit",
            &format!("xauth-lockout={LOCKOUT_SECS}"),
            "--limit",
            "xauth-delay-start-ms=300",
            "--limit",
            "xauth-delay-max=1",
            "--limit",
            "log-interval=2",
        ],
    );
    // The guesser: vpnc with a wrong password, again and again, for 12 s (less than
    // the lockout, so that every try after the lockout must be refused unasked).
    let t0 = Instant::now();
    let mut tries = 0;
    let mut lockout_at = None;
    while t0.elapsed() < Duration::from_secs(12) {
        let (_, ms) = lab.vpnc_refused(
            &guesser,
            &format!("guess{tries}"),
            &VpncConf {
                password: format!("guess{tries}"),
                ..raw()
            },
            30,
        );
        tries += 1;
        if lockout_at.is_none() && aaa_checks(&lab.proc(gw).log_text()) >= MAX_FAILURES {
            lockout_at = Some(Instant::now());
        }
        eprintln!("guess {tries}: refused after {ms:.0} ms");
    }
    let lockout_at = lockout_at.expect("the guesser never reached the lockout");
    let log = lab.proc(gw).log_text();
    let checks = aaa_checks(&log);
    eprintln!("{tries} vpnc runs in 12 s, {checks} password checks");
    assert!(tries >= 8, "too few tries to say anything: {tries}");
    assert_eq!(
        checks, MAX_FAILURES,
        "only {MAX_FAILURES} guesses may reach the password check\n{log}"
    );
    // Visible without debug.
    let m = metrics(&lab, "127.0.0.1:9464");
    assert_eq!(
        metric(
            &m,
            "pix_xauth_throttle_total{event=\"lockout_user_source\"}"
        ),
        1
    );
    assert!(
        metric(
            &m,
            "pix_xauth_throttle_total{event=\"refused_user_source\"}"
        ) >= 3
    );
    assert_eq!(
        metric(&m, "pix_xauth_throttle_total{event=\"lockout_user\"}"),
        0
    );
    let stats = lab.show("crypto isakmp stats");
    assert!(
        stats.contains("lockouts of a user from one address"),
        "{stats}"
    );
    assert!(
        log.contains("xauth: ") && log.contains("dropped or refused"),
        "no rate-limited summary line\n{log}"
    );
    for l in log.lines() {
        assert!(!l.contains("guess"), "a password reached the log: {l}");
    }
    // The right password from the locked-out address is refused, without a check...
    assert!(lockout_at.elapsed() < Duration::from_secs(LOCKOUT_SECS - 5));
    lab.vpnc_refused(&guesser, "right-locked", &raw(), 30);
    assert_eq!(aaa_checks(&lab.proc(gw).log_text()), MAX_FAILURES);
    // ... while the same user from another address gets in at once.
    let (p, _) = lab.vpnc_tunnel(&other, "other-address", &raw(), "10.89.129.200");
    lab.proc(p).stop(Duration::from_secs(5));
    // Once the lockout passed, the right password works from the guesser's address.
    let wait = Duration::from_secs(LOCKOUT_SECS + 1).saturating_sub(lockout_at.elapsed());
    std::thread::sleep(wait);
    let (p, _) = lab.vpnc_tunnel(&guesser, "right-after", &raw(), "10.89.129.200");
    lab.proc(p).stop(Duration::from_secs(5));
    lab.proc(gw).stop(Duration::from_secs(5));
}
