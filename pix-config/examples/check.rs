//! Parse, print and lint a configuration file: `cargo run -p pix-config --example check FILE`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // IO in a test: a command-line example reads the file it is given
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: check FILE");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{path}: {e}");
            return ExitCode::from(2);
        }
    };
    let text = pix_config::decode(&bytes);
    let out = pix_config::parse_with(&text, &pix_config::ParseOptions::default());
    print!(
        "{}",
        pix_config::render_diagnostics(&path, &text, &out.diagnostics)
    );
    for f in pix_config::lint(&out.config) {
        print!("{}", f.render(&path));
    }
    println!(
        "{path}: {} errors, {} warnings",
        out.error_count(),
        out.warning_count()
    );
    if std::env::var_os("PRINT").is_some() {
        print!("{}", out.config.to_pix_string());
    }
    if out.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
