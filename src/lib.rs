//! # asyncio: Python's asyncio streams, rebuilt in Rust on a hand-rolled mio reactor
//!
//! The layers, bottom to top, as in CPython's `Lib/asyncio`:
//!
//! ```text
//!  streams     StreamReader  StreamWriter  StreamReaderProtocol  Server      (streams.py)
//!  tls         TlsProtocol below, TlsTransport above, rustls in memory      (sslproto.py)
//!  transport   socket transport: write buffer, water marks, pause/resume   (selector_events.py)
//!  protocol    Protocol / BufferedProtocol callbacks                        (protocols.py)
//!  event loop  mio poll + ready queue + timer wheel + executor              (base_events.py)
//! ```
//!
//! Start with [`guide`]: one echo message followed through every layer.
//!
//! This release has the event loop: callbacks ([`LoopHandle::call_soon`],
//! [`call_later`](LoopHandle::call_later), [`call_at`](LoopHandle::call_at)), tasks
//! ([`spawn`], [`Task`]), timers ([`sleep`], [`timeout`], [`yield_now`]), raw descriptors
//! ([`LoopHandle::add_reader`]), the thread-safe door ([`ThreadsafeHandle`]) and [`run`].
//!
//! ```
//! use std::time::Duration;
//!
//! let order = asyncio::run(async {
//!     let lp = asyncio::get_running_loop().unwrap();
//!     let (tx, rx) = std::sync::mpsc::channel();
//!     let tx2 = tx.clone();
//!     lp.call_later(Duration::from_millis(2), move || tx.send("later").unwrap()).unwrap();
//!     lp.call_soon(move || tx2.send("soon").unwrap()).unwrap();
//!     asyncio::sleep(Duration::from_millis(5)).await;
//!     rx.try_iter().collect::<Vec<_>>()
//! })
//! .unwrap();
//! assert_eq!(order, ["soon", "later"]);
//! ```
//!
//! ## Features
//!
//! - `tls` (default): TLS on rustls with the `ring` provider (`ssl(…)` on the builders,
//!   `start_tls`, the `tls` module).
//! - `futures-io` (off): the `futures-io` traits over the streams — `AsyncRead` and
//!   `AsyncBufRead` for [`StreamReader`], `AsyncWrite` for [`StreamWriter`] and
//!   `&StreamWriter` — so the futures ecosystem's `copy`, line readers, codecs and compressors
//!   run over a connection. Adds the `futures-io` crate, which has no dependencies. The impls
//!   and their rules (cancel safety, backpressure, what `poll_close` does) are documented on
//!   the two types when the feature is on.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(doctest)]
mod compile_fail;
pub mod constants;
mod embed;
mod error;
pub mod event_loop;
pub mod guide;
pub(crate) mod net;
pub mod protocol;
mod server;
mod slots;
pub mod streams;
mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;

pub use embed::{run_coroutine_threadsafe, ConcurrentFuture, LoopThread};
pub use error::{Cancelled, Error, Result};
pub use event_loop::clock::ManualClock;
pub use event_loop::debug::{set_trace, trace_enabled};
pub use event_loop::exception::{default_exception_handler, ExceptionContext, PanicError};
pub use event_loop::executor::{spawn, Task};
pub use event_loop::handle::{CallbackOutput, Handle, TimerHandle};
pub use event_loop::threadsafe::ThreadsafeHandle;
pub use event_loop::{get_running_loop, run, EventLoop, LoopHandle, LoopStats};
pub use net::connect::{socketpair, AddressFamily, CreateConnection, StreamSocket};
pub use protocol::{BufferedProtocol, Protocol, ProtocolRef};
pub use server::{CreateServer, ListenSocket, Server};
pub use streams::{
    open_connection, open_connection_sock, open_unix_connection, start_server, start_unix_server,
    OpenConnection, StartServer, StreamReader, StreamWriter,
};
pub use time::{sleep, sleep_until, timeout, timeout_at, try_timeout, yield_now, Sleep, YieldNow};
#[cfg(feature = "tls")]
pub use tls::{ClientTls, StartTls, TlsContext, TlsError};
pub use transport::{Address, ExtraInfo, Transport};
