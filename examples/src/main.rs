//! `pix-gateway`: the one binary of the project that does IO.
//!
//! `run` is the PIX-style VPN headend; `show`, `clear` and `debug` talk to a running one
//! over its control socket. `dump` decodes ISAKMP in captures, `check` parses and lints
//! a PIX configuration, `trace` explains what the PIX would do with a packet.

mod capture;
mod check;
mod dump;
mod shell;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The capture `dump` reads when no file is given.
const BUNDLED_CAPTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/isakmp4500.pcap");

#[derive(Parser)]
#[command(
    name = "pix-gateway",
    version,
    about = "A PIX 6.3-style IPsec remote-access gateway and its tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the VPN headend: IKE on UDP 500/4500, ESP (raw and in UDP), the inside as a
    /// TUN device. With no options: the bundled demo (the seed's configuration, group
    /// vpn3000, LOCAL user cisco_customer; published credentials, so on 127.0.0.1 only
    /// unless --outside-addr is given). Needs root.
    Run(Box<shell::serve::RunArgs>),
    /// Ask a running gateway: `show crypto isakmp sa | crypto ipsec sa | crypto isakmp
    /// stats | uauth | local-pool [NAME] | drops | version | running-config | logging |
    /// failover | xlate | conn | local-host`.
    Show {
        /// The control socket.
        #[arg(long)]
        control: Option<PathBuf>,
        /// What to show.
        #[arg(required = true, trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Tell a running gateway: `clear crypto isakmp sa [PEER]`, `clear logging`.
    Clear {
        /// The control socket.
        #[arg(long)]
        control: Option<PathBuf>,
        /// What to clear.
        #[arg(required = true, trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Tell a running gateway of a failover pair its role: `failover active` (what
    /// keepalived's notify_master runs: the unit sends Accounting-On and serves the
    /// shared address) or `failover standby`. `show failover` prints the role.
    Failover {
        /// The control socket.
        #[arg(long)]
        control: Option<PathBuf>,
        /// `active` or `standby`.
        #[arg(value_parser = ["active", "standby"])]
        role: String,
    },
    /// Tell a running gateway to read its configuration (and secrets) again: validated
    /// whole before anything changes, then applied with the users kept whose group,
    /// keys and pool address still exist; prints what changed and who was logged out,
    /// or why nothing changed. The same as SIGHUP to `pix-gateway run`.
    Reload {
        /// The control socket.
        #[arg(long)]
        control: Option<PathBuf>,
    },
    /// Stream a running gateway's `debug crypto isakmp` / `debug crypto ipsec` lines
    /// (until interrupted).
    Debug {
        /// The control socket.
        #[arg(long)]
        control: Option<PathBuf>,
        /// `crypto isakmp` or `crypto ipsec`.
        #[arg(required = true, trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Print one line per ISAKMP message found in a pcap or pcapng capture.
    Dump {
        /// The capture (default: the bundled examples/data/isakmp4500.pcap).
        file: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also print NAT keepalives and ESP-in-UDP datagrams on port 4500 (text and JSON).
        #[arg(long)]
        all: bool,
    },
    /// Parse, resolve and lint a PIX 6.3 configuration (`show running-config`).
    ///
    /// Real sanitized dumps of other 6.x releases read with located warnings (see
    /// --strict). Exit status: 0 when it parsed (warnings and lint findings allowed), 1
    /// on errors.
    Check {
        /// The configuration file.
        file: PathBuf,
        /// Secrets overlay filling masked `********` keys and passwords.
        #[arg(long)]
        secrets: Option<PathBuf>,
        /// What the model cannot represent is an error, not a warning: unknown
        /// commands, redacted secrets (`XXXXXXXXXXXX encrypted`), other 6.x releases'
        /// syntax (`fixup protocol domain`, a route metric above 16), an anonymizer's
        /// address where a netmask belongs. Without it such a line is kept verbatim and
        /// printed back as written.
        #[arg(long)]
        strict: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// What a PIX 6.3 with this configuration does with one packet, phase by phase
    /// (in the word order of the ASA `packet-tracer`).
    ///
    /// pix-gateway trace CONFIG input IFNAME PROTO SRC SPORT DST DPORT [--vpn-user USER] [--format text|json]
    /// pix-gateway trace CONFIG input IFNAME icmp SRC TYPE CODE DST [--vpn-user USER] [--format text|json]
    #[command(verbatim_doc_comment)]
    Trace {
        /// The configuration file.
        config: PathBuf,
        /// `input IFNAME PROTO SRC SPORT DST DPORT` (or the icmp form), then options.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        words: Vec<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckFormat {
    /// Compiler-style lines and a summary.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// tcpdump-like lines.
    Text,
    /// The columns of the tshark oracle files, tab-separated, with a header line.
    Tsv,
    /// One JSON object per line.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => return shell::serve::run(*args),
        Command::Show { control, words } => control_client("show", control, words),
        Command::Clear { control, words } => control_client("clear", control, words),
        Command::Debug { control, words } => control_client("debug", control, words),
        Command::Failover { control, role } => control_client("failover", control, vec![role]),
        Command::Reload { control } => control_client("reload", control, Vec::new()),
        Command::Dump { file, format, all } => run_dump(file, format, all),
        Command::Trace { config, words } => run_trace(&config, &words),
        Command::Check {
            file,
            secrets,
            strict,
            format,
        } => run_check(&file, secrets.as_deref(), strict, format),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pix-gateway: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn control_client(
    verb: &str,
    control: Option<PathBuf>,
    words: Vec<String>,
) -> anyhow::Result<ExitCode> {
    // `show version --control SOCK` as well as `show --control SOCK version`: the words
    // take everything after the first one, `--control` included.
    let mut control = control;
    let mut all = vec![verb.to_string()];
    let mut it = words.into_iter();
    while let Some(w) = it.next() {
        if w == "--control" {
            let Some(p) = it.next() else {
                anyhow::bail!("--control needs a path");
            };
            control = Some(PathBuf::from(p));
        } else if let Some(p) = w.strip_prefix("--control=") {
            control = Some(PathBuf::from(p));
        } else {
            all.push(w);
        }
    }
    shell::control::client(&shell::control::path(control), &all)
}

fn run_dump(file: Option<PathBuf>, format: Format, all: bool) -> anyhow::Result<ExitCode> {
    let path = file.unwrap_or_else(|| PathBuf::from(BUNDLED_CAPTURE));
    let meta = std::fs::metadata(&path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    if meta.len() > capture::MAX_CAPTURE_BYTES as u64 {
        anyhow::bail!(
            "{}: {} bytes is larger than the {}-byte limit",
            path.display(),
            meta.len(),
            capture::MAX_CAPTURE_BYTES
        );
    }
    let bytes =
        std::fs::read(&path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let (datagrams, err) = capture::read_datagrams(&bytes);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if format == Format::Tsv {
        writeln!(out, "# {}", dump::TSV_FIELDS.join("\t"))?;
    }
    let mut malformed = 0usize;
    for d in &datagrams {
        let line = dump::summarise(d);
        let bad = match &line {
            dump::Line::Message(m) => m.error.is_some(),
            dump::Line::Other(o) => o.error.is_some(),
        };
        if bad {
            malformed = malformed.saturating_add(1);
        }
        let is_other = matches!(line, dump::Line::Other(ref o) if o.kind != "isakmp");
        if is_other && !all {
            continue;
        }
        match format {
            Format::Text => writeln!(out, "{}", dump::text(&line))?,
            Format::Tsv => {
                if let Some(row) = dump::tsv(&line) {
                    writeln!(out, "{row}")?;
                }
            }
            Format::Json => writeln!(out, "{}", serde_json::to_string(&line)?)?,
        }
    }
    out.flush()?;
    if malformed > 0 {
        eprintln!(
            "pix-gateway: {malformed} malformed ISAKMP message(s) in {}",
            path.display()
        );
    }
    if let Some(e) = err {
        eprintln!("pix-gateway: {}: {e}", path.display());
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn run_check(
    file: &std::path::Path,
    secrets: Option<&std::path::Path>,
    strict: bool,
    format: CheckFormat,
) -> anyhow::Result<ExitCode> {
    let (report, source) = check::check(file, secrets, strict)?;
    let text = match format {
        CheckFormat::Text => {
            let name = secrets.map(|p| p.display().to_string());
            check::render_text(&report, &source, name.as_deref())
        }
        CheckFormat::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[allow(clippy::disallowed_methods)] // the binary reads the clock for the library
fn run_trace(config: &std::path::Path, words: &[String]) -> anyhow::Result<ExitCode> {
    let text = std::fs::read(config)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", config.display()))?;
    let text = pix_config::decode(&text);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    // The trace is a pure function of the configuration, the packet and a point in
    // time; a fresh state (no xlates, no conns) at "now" is what packet-tracer shows.
    let out = pix_nat::run_trace_command(&text, &words, std::time::Instant::now())
        .map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    if !out.ends_with('\n') {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}
