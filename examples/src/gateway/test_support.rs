//! What the gateway's unit tests share: the bundled demo configuration mapped onto the
//! crates, edited as a test needs.
#![allow(clippy::unwrap_used)]

use super::setup;
use ike_sm::crypto::secret::Secret;

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
    let text = edit(std::fs::read_to_string(super::serve::DEMO_CONFIG).unwrap());
    let secrets = std::fs::read_to_string(super::serve::DEMO_SECRETS).unwrap();
    let (ov, d) = pix_config::SecretsOverlay::parse(&secrets);
    assert!(d.is_empty(), "{d:?}");
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
        .map(|(n, s)| (n.to_string(), Secret::from_slice(s.expose().as_bytes())))
        .collect();
    for (n, p) in extra_users {
        users.push(((*n).into(), Secret::from_slice(p.as_bytes())));
    }
    let allow: Vec<String> = allow_keyless_aaa.iter().map(|s| s.to_string()).collect();
    setup::plan_with(&out.config, users, &allow)
}
