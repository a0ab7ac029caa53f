//! Sans-IO ESP security associations (RFC 4303/2406): DES, 3DES, AES-CBC, HMAC-MD5/SHA1-96, anti-replay, RFC 3948
#![forbid(unsafe_code)]
#![warn(missing_docs)]
