//! The one error type of this crate: everything a diagnostic can say.
//!
//! A [`ConfigError`] is *what* went wrong; the [`Diagnostic`](crate::Diagnostic)
//! that carries it says *where* (line, column, width) and how bad (severity).

use thiserror::Error;

/// What went wrong on a configuration line (or in the secrets overlay).
///
/// The `Display` text is the message a PIX admin reads after
/// `FILE:LINE:COL: error:`; it never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A token of the wrong shape, or a missing token, where the grammar needs one.
    #[error("expected {expected}, found {}", found_text(.found))]
    Expected {
        /// What the grammar wanted here (e.g. `a netmask after 10.0.0.0`).
        expected: String,
        /// The token that was there instead, `None` at end of line.
        found: Option<String>,
    },
    /// Extra tokens after a complete command.
    #[error("unexpected {found:?} after the end of the `{command}` command")]
    Trailing {
        /// The command family (`access-list`, `static`, ...).
        command: &'static str,
        /// The first extra token.
        found: String,
    },
    /// A netmask that is not a run of ones followed by zeros.
    #[error("{mask} is not a netmask (PIX wants a contiguous netmask, not a wildcard mask){}", hint_text(.hint))]
    NotANetmask {
        /// The mask as written.
        mask: String,
        /// The netmask the admin probably meant, when the mask is a wildcard.
        hint: Option<String>,
    },
    /// A number outside the range the command allows.
    #[error("{what} must be between {min} and {max}, found {value}")]
    OutOfRange {
        /// The field (e.g. `security level`).
        what: &'static str,
        /// The value as written.
        value: String,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// An address range whose first address is above its last.
    #[error("address range {first}-{last} is empty (first address above last)")]
    EmptyRange {
        /// First address as written.
        first: String,
        /// Last address as written.
        last: String,
    },
    /// An address where a netmask belongs (an anonymizer rewrote the netmask).
    #[error("expected a netmask after {after}, found the address {found} (an address anonymizer may have rewritten the netmask); kept verbatim")]
    AddressForNetmask {
        /// The token where the netmask belongs.
        found: String,
        /// The address before it.
        after: String,
    },
    /// A secret redacted when the dump was shared (`XXXXXXXXXXXX`): read as masked.
    #[error("{what} is redacted ({found:?}); read as masked, printed back as written")]
    RedactedSecret {
        /// Which secret (`enable password`, `username admin password`).
        what: String,
        /// The token as written (a run of `X` or `*`, never a real secret).
        found: String,
    },
    /// A known command in a form this model does not represent (another release's
    /// syntax, a sanitizer's damage): kept verbatim.
    #[error("{what}; kept verbatim")]
    NotModelled {
        /// What is not modelled, and why.
        what: String,
    },
    /// A command this parser does not know (kept verbatim in the model).
    #[error("unknown or unsupported command `{command}`; kept verbatim")]
    UnknownCommand {
        /// The leading keyword(s).
        command: String,
    },
    /// A port name that a PIX reads as an abbreviation of another name.
    #[error("port name {written:?} is an abbreviation of {full:?} (port {port}) on a PIX{}", if *.is_dns { " — it is NOT `domain` (53)" } else { "" })]
    PortAbbreviation {
        /// The name as written.
        written: String,
        /// The full PIX port name it abbreviates.
        full: &'static str,
        /// The port number it stands for.
        port: u16,
        /// True when the admin wrote `dns`, which is not port 53 on a PIX.
        is_dns: bool,
    },
    /// An `object-group` sub-command with no open `object-group`.
    #[error("`{command}` outside of an object-group")]
    OutsideObjectGroup {
        /// The sub-command keyword.
        command: String,
    },
    /// A sub-command not allowed in this kind of object-group.
    #[error("`{command}` is not allowed in a {kind} object-group")]
    WrongGroupMember {
        /// The sub-command keyword.
        command: String,
        /// The kind of the open group.
        kind: &'static str,
    },
    /// A reference to something that is defined nowhere in the configuration.
    #[error("{kind} {name:?} is not defined{}", related_text(.similar_line, "; a similar one is defined on line "))]
    Undefined {
        /// What kind of thing (`access-list`, `name`, `interface`, ...).
        kind: &'static str,
        /// The name that dangles.
        name: String,
        /// The line of a similarly spelled definition (a case slip), if any.
        similar_line: Option<u32>,
    },
    /// A reference to something defined, but of the wrong kind.
    #[error("{name:?} is a {found} (line {def_line}) but a {expected} is needed here")]
    WrongKind {
        /// The referenced name.
        name: String,
        /// What the reference needs.
        expected: String,
        /// What it is.
        found: String,
        /// Where it is defined.
        def_line: u32,
    },
    /// A reference to something defined only further down.
    #[error("{kind} {name:?} is used before its definition on line {def_line}")]
    UsedBeforeDefinition {
        /// What kind of thing.
        kind: &'static str,
        /// The name.
        name: String,
        /// Where it is defined.
        def_line: u32,
    },
    /// Something defined twice in an incompatible way.
    #[error("{kind} {name:?} is already defined on line {first_line}")]
    Duplicate {
        /// What kind of thing.
        kind: &'static str,
        /// The name.
        name: String,
        /// The first definition.
        first_line: u32,
    },
    /// A dump-noise line (prompt, `[OK]`, `Building configuration...`) was skipped.
    #[error("skipped a line that is not configuration: {text:?}")]
    NoiseSkipped {
        /// The skipped line.
        text: String,
    },
    /// A secret shown masked (`********`) that no overlay filled in.
    #[error("{what} is masked (********); supply it with a secrets overlay")]
    MaskedSecret {
        /// Which secret (`isakmp key for 0.0.0.0/0.0.0.0`, `vpngroup vpn3000 password`).
        what: String,
    },
    /// A secrets-overlay line that matches no masked secret in the configuration.
    #[error("overlay entry `{entry}` matches nothing in the configuration")]
    OverlayUnmatched {
        /// The overlay entry without its secret.
        entry: String,
    },
}

fn found_text(found: &Option<String>) -> String {
    match found {
        Some(t) => format!("{t:?}"),
        None => "end of line".to_owned(),
    }
}

fn hint_text(hint: &Option<String>) -> String {
    match hint {
        Some(h) => format!("; did you mean {h}?"),
        None => String::new(),
    }
}

fn related_text(line: &Option<u32>, prefix: &str) -> String {
    match line {
        Some(l) => format!("{prefix}{l}"),
        None => String::new(),
    }
}
