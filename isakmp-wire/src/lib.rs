//! Zero-copy ISAKMP/IKEv1 wire codec (RFC 2408/2407/2409, NAT-T, Mode Config, Cisco extensions)
#![forbid(unsafe_code)]
#![warn(missing_docs)]
