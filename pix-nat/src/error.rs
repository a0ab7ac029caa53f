//! Typed errors: building a [`Firewall`](crate::Firewall) and parsing a trace request.

use thiserror::Error;

/// Why a [`Firewall`](crate::Firewall) could not be built from a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BuildError {
    /// An access-list line expands (object-groups multiplied out) to more entries
    /// than the model accepts.
    #[error("line {line}: access-list {acl} expands to more than {limit} entries")]
    AclTooLarge {
        /// Config line.
        line: u32,
        /// Access-list id.
        acl: String,
        /// The limit.
        limit: usize,
    },
    /// The configuration expands to more access-list entries in total than the model accepts.
    #[error("the configuration expands to more than {limit} access-list entries")]
    TooManyEntries {
        /// The limit.
        limit: usize,
    },
}

/// Why a `trace` command line could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TraceArgsError {
    /// The words ran out before `what`.
    #[error("missing {what}")]
    Missing {
        /// What was expected.
        what: &'static str,
    },
    /// A word is not what was expected.
    #[error("expected {what}, found {found:?}")]
    Invalid {
        /// What was expected.
        what: &'static str,
        /// The word found.
        found: String,
    },
    /// Words after the complete command.
    #[error("unexpected {found:?} after the command")]
    Trailing {
        /// The first extra word.
        found: String,
    },
}

/// Why `trace` failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The command words are wrong.
    #[error(transparent)]
    Args(#[from] TraceArgsError),
    /// The configuration has errors (count of error diagnostics).
    #[error("the configuration has {0} error(s)")]
    Config(usize),
    /// The firewall model could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The input interface is not a `nameif` of the configuration.
    #[error("no interface named {0:?} in the configuration")]
    UnknownInterface(String),
    /// JSON was asked for but the crate was built without the `serde` feature.
    #[error("JSON output needs the `serde` feature of pix-nat")]
    JsonUnavailable,
}
