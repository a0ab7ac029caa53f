//! Sans-IO IKE Xauth dialogues and AAA codecs (TACACS+, RADIUS, local users)
#![forbid(unsafe_code)]
#![warn(missing_docs)]
