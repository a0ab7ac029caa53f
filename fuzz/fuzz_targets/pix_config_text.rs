//! pix-config over arbitrary bytes: parse (UTF-8 or Latin-1), render every
//! diagnostic, lint, and check that printing reaches a fixed point:
//! parse(print(m)) == m and print(parse(print(m))) == print(m).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = pix_config::decode(data);
    for strict in [false, true] {
        let out = pix_config::parse_with(
            &text,
            &pix_config::ParseOptions {
                strict,
                ..Default::default()
            },
        );
        for d in &out.diagnostics {
            let _ = pix_config::render_diagnostic("fuzz.cfg", &text, d);
        }
        let findings = pix_config::lint(&out.config);
        for f in &findings {
            let _ = f.render("fuzz.cfg");
        }
        let p1 = out.config.to_pix_string();
        let m2 = pix_config::parse(&p1).config;
        assert_eq!(
            m2, out.config,
            "printed config does not parse back to the model:\n{p1}"
        );
        assert_eq!(m2.to_pix_string(), p1, "printing is not idempotent");
        let _ = out.config.to_show_run_string();
    }
});
