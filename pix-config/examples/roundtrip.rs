//! Check that a file's printed model parses back to the same model (a debugging aid
//! for fuzz findings): `cargo run -p pix-config --example roundtrip FILE`.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // IO in a test: a command-line example reads the file it is given
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: roundtrip FILE");
        return ExitCode::from(2);
    };
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!("cannot read {path}");
        return ExitCode::from(2);
    };
    let text = pix_config::decode(&bytes);
    let m1 = pix_config::parse(&text).config;
    let p1 = m1.to_pix_string();
    let m2 = pix_config::parse(&p1).config;
    let mut bad = false;
    for (a, b) in m1.commands.iter().zip(&m2.commands) {
        if a != b {
            println!("first difference:\n  before: {a:?}\n  after:  {b:?}");
            bad = true;
            break;
        }
    }
    if m1.commands.len() != m2.commands.len() {
        println!("length {} -> {}", m1.commands.len(), m2.commands.len());
        bad = true;
    }
    if bad {
        println!("--- input ---\n{text}\n--- printed ---\n{p1}");
        ExitCode::from(1)
    } else {
        println!("ok");
        ExitCode::SUCCESS
    }
}
