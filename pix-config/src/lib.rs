//! Parser, printer and linter for Cisco PIX 6.3 running configurations.
//!
//! ```
//! use pix_config::{lint, parse, render_diagnostic, LintRule};
//!
//! let text = "\
//! nameif ethernet0 outside security0
//! nameif ethernet1 inside security100
//! ip address outside 192.168.1.1 255.255.255.0
//! ip address inside 10.1.1.1 255.255.255.0
//! access-list 120 permit tcp any host 10.1.1.10 eq www
//! static (inside,outside) 192.168.1.11 10.1.1.10 netmask 255.255.255.255 0 0
//! access-group 120 in interface outside
//! ";
//! let out = parse(text);
//! assert!(!out.has_errors());
//! // printed back in `show run` order and spelling
//! assert!(out.config.to_pix_string().contains("access-list 120 permit tcp any host 10.1.1.10 eq www\n"));
//! // the ACL permits the real address; from outside the server is 192.168.1.11
//! let findings = lint(&out.config);
//! assert_eq!(findings.len(), 1);
//! assert_eq!(findings[0].rule, LintRule::AclRealAddress);
//! assert_eq!(
//!     findings[0].suggestion.as_deref(),
//!     Some("access-list 120 permit tcp any host 192.168.1.11 eq www")
//! );
//!
//! // errors read like a compiler's, with every error reported
//! let src = "nameif ethernet0 outside security0\nroute outside 10.0.0.0 255.255.255.3x 192.168.1.3 1\n";
//! let bad = parse(src);
//! assert_eq!(bad.error_count(), 1);
//! assert_eq!(
//!     render_diagnostic("pix.cfg", src, &bad.diagnostics[0]),
//!     "pix.cfg:2:24: error: expected a netmask after 10.0.0.0, found \"255.255.255.3x\"\n\
//!      2 | route outside 10.0.0.0 255.255.255.3x 192.168.1.3 1\n  \
//!        |                        ^^^^^^^^^^^^^^\n"
//! );
//! ```
//!
//! # The API for a `check` command
//!
//! * [`parse`] / [`parse_with`] / [`parse_bytes`] (Latin-1 tolerant) give a
//!   [`ParseOutcome`]: the [`Config`] (always) and every [`Diagnostic`].
//!   [`ParseOptions::strict`] turns unknown commands into errors;
//!   [`ParseOptions::secrets`] fills masked secrets from a [`SecretsOverlay`].
//! * [`render_diagnostic`] formats `FILE:LINE:COL: error: message` with the source
//!   line and a caret ([`render_diagnostics`] renders a whole outcome, indexing
//!   the lines once); [`Finding::render`] formats lint findings.
//! * [`lint()`] returns [`Finding`]s sorted by line.
//! * [`Config::logging`] ([`logging::LoggingSettings`]), [`Config::fragment`],
//!   [`Config::tcp_mss`] and [`Config::mtu`] resolve what the `logging`, `fragment`,
//!   `sysopt connection tcpmss` and `mtu` lines add up to, with the PIX defaults.
//! * [`Config::to_pix_string`] prints in `show run` order (secrets clear);
//!   [`Config::to_show_run_string`] masks secrets as the PIX does.
//! * [`Diagnostic`], [`Finding`] and [`Severity`] are plain structs with public
//!   fields; with the `serde` feature they derive `Serialize` for JSON output.
//!
//! # Behaviour
//!
//! Lenient by default: an unknown command is kept verbatim ([`Command::Unknown`])
//! with a warning; a malformed known command is an error (and kept verbatim too).
//! What real, sanitized dumps of other 6.x releases say that the model cannot
//! represent is a located warning, and an error only with [`ParseOptions::strict`]:
//! a hash redacted as `XXXXXXXXXXXX encrypted` reads as masked
//! ([`PixHash::is_redacted`]) and prints back as written; `fixup protocol domain`
//! (6.2), a route metric above 16, an address where a netmask belongs (an
//! anonymizer's rewrite) and an unknown `logging` option are kept verbatim
//! (`tests/real_dumps.rs`, on the dumps of `tests/configs/real/`).
//! Dump noise (prompts such as `pixfirewall# show run`, `[OK]`, `Building
//! configuration...`, `<--- More --->`, CRLF, trailing blanks) is skipped. After the
//! lines are parsed, a second pass resolves every reference: names, object-groups
//! (and their kind), access-lists, transform-sets, dynamic and crypto maps, pools,
//! AAA server tags, interface names and hardware ids. A dangling reference is an
//! error at the referencing token; a wrong-kind reference, a use before the
//! definition or a duplicate names both lines. Printing then parsing gives an equal
//! model ([`Located`] equality ignores line numbers), and printing is idempotent.
//!
//! The lint rules and their reasoning are documented in [`mod@lint`]; the secrets
//! overlay format in [`overlay`].
//!
//! # Known PIX pitfalls covered
//!
//! * `dns` as a port is an abbreviation of `dnsix` (195), not `domain` (53): warned
//!   (`tests/parse_forms.rs::dns_port_is_dnsix`).
//! * ACLs use netmasks, not wildcards: a wildcard gets a hint
//!   (`tests/errors.rs::wildcard_mask_gets_hint`).
//! * `show run` masks keys as `********`, which is not the key
//!   (`tests/secrets.rs`).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod aaa;
pub mod acl;
pub mod crypto;
mod diagnostic;
mod error;
pub mod fixup;
pub mod fragment;
mod ident;
pub mod interface;
pub mod isakmp;
mod lexer;
pub mod lint;
pub mod literal_names;
pub mod logging;
mod model;
pub mod name_command;
pub mod nat;
pub mod object_group;
pub mod overlay;
mod parser;
pub mod passwords;
mod pixhash;
mod printer;
mod resolve;
mod secret;
pub mod timeout;
pub mod verbatim;
pub mod vpngroup;

pub use diagnostic::{render_diagnostic, render_diagnostics, Diagnostic, Related, Severity};
pub use error::ConfigError;
pub use ident::Ident;
pub use lint::{lint, Finding, LintRule};
pub use model::{AddrTok, Command, Config, Hms, Located};
pub use overlay::{OverlayEntry, OverlayTarget, SecretsOverlay};
pub use parser::{decode, parse, parse_bytes, parse_with, ParseOptions, ParseOutcome};
pub use pixhash::PixHash;
pub use secret::{Secret, SecretValue, MASK};
