//! The bundled demo: the seed's configuration (Cisco's PIX 6.3 VPN Client example) with
//! Xauth against LOCAL, and its published secrets (group `vpn3000` / key `cisco1234`,
//! user `cisco_customer` / password `cisco123`). For tests, examples and a first run on
//! loopback, never for a real headend: anyone can read these credentials.

use ike_sm::Secret;

use crate::gateway::setup;

/// The demo configuration (`show running-config`).
pub const CONFIG: &str = include_str!("../data/pix63-demo.cfg");
/// Its secrets overlay.
pub const SECRETS: &str = include_str!("../data/pix63-demo.secrets");
/// Where the binary finds the demo configuration in a source checkout.
pub const CONFIG_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pix63-demo.cfg");
/// Where the binary finds the demo secrets in a source checkout.
pub const SECRETS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pix63-demo.secrets");

/// The demo configuration after `edit`, with its LOCAL users and `extra_users`,
/// mapped as `pix-gateway run --allow-keyless-aaa ALLOW...` would. Lenient, for tests
/// that break the configuration on purpose: a line the parser refuses is left out of
/// the model (`pix-gateway run` would refuse to start; [`plan`] refuses too).
///
/// # Errors
/// The mapping's errors, one line each.
pub fn plan_with(
    edit: impl Fn(&str) -> String,
    extra_users: &[(&str, &str)],
    allow_keyless_aaa: &[&str],
) -> Result<setup::Plan, Vec<String>> {
    let text = edit(CONFIG);
    let (ov, d) = pix_config::SecretsOverlay::parse(SECRETS);
    if !d.is_empty() {
        return Err(d
            .iter()
            .map(|d| format!("{}: {}", d.line, d.error))
            .collect());
    }
    let out = pix_config::parse_with(
        &text,
        &pix_config::ParseOptions {
            strict: false,
            secrets: Some(&ov),
        },
    );
    let mut users: Vec<(String, Secret)> = ov
        .users()
        .into_iter()
        .map(|(n, s)| (n.to_string(), Secret::from_slice(s.expose_secret())))
        .collect();
    for (n, p) in extra_users {
        users.push(((*n).into(), Secret::from_slice(p.as_bytes())));
    }
    let allow: Vec<String> = allow_keyless_aaa.iter().map(|s| s.to_string()).collect();
    setup::plan_with(&out.config, users, &allow)
}

/// The demo configuration mapped as it is.
///
/// # Errors
/// A line of the configuration the parser refuses, or the mapping's errors.
pub fn plan() -> Result<setup::Plan, Vec<String>> {
    let errors: Vec<String> = pix_config::parse(CONFIG)
        .diagnostics
        .iter()
        .filter(|d| d.severity == pix_config::Severity::Error)
        .map(|d| format!("line {}: {}", d.line, d.error))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    plan_with(str::to_string, &[], &[])
}
