//! Sans-IO IKE Mode Config dialogues, ip local pool and vpngroup policy
#![forbid(unsafe_code)]
#![warn(missing_docs)]
