//! Sans-IO IKE Xauth dialogues and AAA codecs (TACACS+, RADIUS, local users).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aaa;
pub mod attrs;
pub mod client;
pub mod error;
pub mod local;
pub mod radius;
mod reader;
pub mod secret;
pub mod server;
pub mod tacacs;
pub mod throttle;

pub use attrs::{IntForm, XauthAttribute, XauthStatus, XauthType};
pub use client::{Answer, ClientEvent, Prompt, Wants, XauthClient};
pub use error::XauthError;
pub use local::LocalUsers;
pub use secret::Secret;
pub use server::{
    Credentials, FailReason, Outcome, Round, ServerConfig, ServerEvent, Verdict, VerdictId,
    XauthServer,
};
pub use throttle::{Throttle, ThrottleConfig, Throttled};
