//! Parser, printer and linter for Cisco PIX 6.3 running configurations
#![forbid(unsafe_code)]
#![warn(missing_docs)]
