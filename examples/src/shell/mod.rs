//! `pix-gateway run`: the IO around the [`pix_gateway::Gateway`] core. Sockets (UDP
//! 500/4500, raw ESP, the AAA servers), the TUN device for the inside, timers, signals,
//! the control socket and the metrics listener; one core per worker thread.
//!
//! * [`serve`] is the event loop of one worker and the start of the whole gateway.
//! * [`batch`] is the batched data path's IO (recvmmsg/sendmmsg, TUN offloads).
//! * [`control`] is the control socket (`show`, `clear`, `debug`).
//! * [`keylog_file`] opens the `--keylog` file safely.
//! * [`syslog`] is the PIX's syslog (`logging host`, `logging buffered`, `show logging`).
//! * [`reload`] reads and validates the configuration (at start and for `reload`), and
//!   `show running-config`.

pub mod batch;
pub mod control;
pub mod keylog_file;
pub mod reload;
pub mod serve;
pub mod syslog;
