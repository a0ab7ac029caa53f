//! What the gateway's unit tests share: the bundled demo configuration mapped onto the
//! crates, edited as a test needs, and the gateway's one scenario harness, [`rig`]
//! (`tests/common/rig.rs`, which the integration tests include too).

/// The gateway crate, as [`rig`] names it (`pix_gateway` in the integration tests).
use crate as pix;

#[path = "../../tests/common/rig.rs"]
pub(crate) mod rig;

/// The demo configuration after `edit`, with its secrets overlay and LOCAL users plus
/// `extra_users`, mapped as `pix-gateway run --allow-keyless-aaa ALLOW...` would.
///
/// # Errors
/// The mapping's errors (each one line).
pub(crate) fn demo_plan_with(
    edit: impl Fn(String) -> String,
    extra_users: &[(&str, &str)],
    allow_keyless_aaa: &[&str],
) -> Result<super::setup::Plan, Vec<String>> {
    crate::demo::plan_with(|t| edit(t.to_string()), extra_users, allow_keyless_aaa)
}
