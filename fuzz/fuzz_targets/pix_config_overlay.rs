//! pix-config secrets overlay over arbitrary bytes, applied to a configuration with
//! masked secrets.
#![no_main]

use libfuzzer_sys::fuzz_target;

const CONFIG: &str = "isakmp key ******** address 0.0.0.0 netmask 0.0.0.0\n\
isakmp key ******** address 10.1.1.1\n\
vpngroup vpn3000 password ********\n\
aaa-server T protocol tacacs+\n\
aaa-server T (inside) host 10.1.1.5 ******** timeout 5\n";

fuzz_target!(|data: &[u8]| {
    let text = pix_config::decode(data);
    let (overlay, diags) = pix_config::SecretsOverlay::parse(&text);
    for d in &diags {
        let _ = pix_config::render_diagnostic("secrets", &text, d);
    }
    let out = pix_config::parse_with(
        CONFIG,
        &pix_config::ParseOptions {
            strict: false,
            secrets: Some(&overlay),
        },
    );
    let printed = out.config.to_pix_string();
    // whatever the overlay said, the show-run form never carries a clear secret
    let shown = out.config.to_show_run_string();
    assert_eq!(shown.matches("********").count(), 4);
    let again = pix_config::parse(&printed).config;
    assert_eq!(again, out.config);
});
