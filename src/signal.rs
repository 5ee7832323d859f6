//! The signal numbers a program hands to
//! [`add_signal_handler`](crate::LoopHandle::add_signal_handler) (Python's `signal.SIGINT`,
//! `signal.SIGTERM`, ...), so that a port of a Python program needs no `libc` dependency of
//! its own for a shutdown handler. They are the C library's numbers (`libc`'s constants), so
//! `asyncio::signal::SIGTERM == libc::SIGTERM`; any other number the OS knows works too.
//!
//! ```
//! use asyncio::signal::{SIGHUP, SIGTERM};
//!
//! asyncio::run(async {
//!     let lp = asyncio::get_running_loop()?;
//!     for sig in [SIGTERM, SIGHUP] {
//!         let stopper = lp.clone();
//!         lp.add_signal_handler(sig, move || stopper.stop())?; // e.g. a graceful shutdown
//!     }
//!     assert!(lp.remove_signal_handler(SIGTERM)?);
//!     assert!(lp.remove_signal_handler(SIGHUP)?);
//!     Ok::<_, asyncio::Error>(())
//! })??;
//! # Ok::<_, asyncio::Error>(())
//! ```

pub use libc::{
    SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGPIPE, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH,
};
