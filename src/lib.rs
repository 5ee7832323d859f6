//! # asyncio: Python's asyncio streams, rebuilt in Rust
//!
//! Python's `asyncio` streams ([`open_connection`], [`start_server`], [`StreamReader`],
//! [`StreamWriter`]) and the layers under them (an event loop, transports and protocols, TLS on
//! rustls) on a hand-rolled, single-threaded mio reactor: no tokio at run time. Names and
//! behaviour follow CPython's `Lib/asyncio`, so Python's streams examples port line for line.
//!
//! ## TCP echo client
//!
//! The streams documentation's client, [`open_connection`] to an echo server (started here
//! on a free port by hidden lines):
//!
//! ```
//! async fn tcp_echo_client(message: &str, port: u16) -> asyncio::Result<()> {
//!     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
//!
//!     println!("Send: {message:?}");
//!     writer.write(message.as_bytes())?;
//!     writer.drain().await?;
//!
//!     let data = reader.read(100).await?;
//!     println!("Received: {:?}", String::from_utf8_lossy(&data));
//! #   assert_eq!(data, message.as_bytes());
//!
//!     println!("Close the connection");
//!     writer.close();
//!     writer.wait_closed().await
//! }
//! # let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
//! #     w.write(&r.read(100).await?)?;
//! #     w.close();
//! #     w.wait_closed().await
//! # };
//!
//! asyncio::run(async {
//! #   let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
//! #   let port = server.sockets()[0].as_inet().unwrap().port();
//!     tcp_echo_client("Hello World!", port).await
//! })??;
//! # Ok::<_, asyncio::Error>(())
//! ```
//!
//! ## TCP echo server
//!
//! The documentation's server, [`start_server`] on 127.0.0.1. Port 0 lets the OS pick a
//! free port, [`Server::sockets`] tells which; a client task connects, and once it is done the
//! server is closed, which ends [`serve_forever`](Server::serve_forever).
//!
//! ```
//! use asyncio::{StreamReader, StreamWriter};
//!
//! async fn handle_echo(reader: StreamReader, writer: StreamWriter) -> asyncio::Result<()> {
//!     let data = reader.read(100).await?;
//!     let message = String::from_utf8_lossy(&data).into_owned();
//!     let addr = writer.peername();
//!
//!     println!("Received {message:?} from {addr:?}");
//!
//!     println!("Send: {message:?}");
//!     writer.write(&data)?;
//!     writer.drain().await?;
//!
//!     println!("Close the connection");
//!     writer.close();
//!     writer.wait_closed().await
//! }
//!
//! async fn main_task() -> asyncio::Result<()> {
//!     let server = asyncio::start_server(handle_echo, "127.0.0.1", 0).await?;
//!
//!     let addrs: Vec<String> = server.sockets().iter().map(|a| a.to_string()).collect();
//!     println!("Serving on {}", addrs.join(", "));
//!
//!     // A client on the same loop; closing the server afterwards ends `serve_forever`.
//!     let port = server.sockets()[0].as_inet().expect("a TCP address").port();
//!     let closer = server.clone();
//!     asyncio::spawn(async move {
//!         let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
//!         writer.write(b"Hello World!")?;
//!         assert_eq!(reader.read(100).await?, b"Hello World!");
//!         closer.close();
//!         Ok::<_, asyncio::Error>(())
//!     });
//!
//!     // `async with server: await server.serve_forever()`
//!     server.scope(|server| async move { server.serve_forever().await }).await
//! }
//!
//! asyncio::run(main_task())??;
//! # Ok::<_, asyncio::Error>(())
//! ```
//!
//! ## The layers
//!
//! Bottom to top, as in CPython's `Lib/asyncio`; each calls only the one below it:
//!
//! ```text
//!  streams     StreamReader  StreamWriter  StreamReaderProtocol  Server      (streams.py)
//!  tls         TlsProtocol below, TlsTransport above, rustls in memory      (sslproto.py)
//!  transport   socket transport: write buffer, water marks, pause/resume   (selector_events.py)
//!              datagram transport: sendto, a queue of whole datagrams
//!  protocol    Protocol / BufferedProtocol / DatagramProtocol callbacks     (protocols.py)
//!  event loop  mio poll + ready queue + timer wheel + executor              (base_events.py)
//! ```
//!
//! ## Where next
//!
//! - [`guide`]: one echo message followed through every layer, flow control, TLS, and which
//!   of our files mirrors which CPython file.
//! - [Python names, Rust names](guide#python-names-rust-names): the asyncio call you know
//!   and its spelling here.
//! - Modules: [`streams`] (the high-level API), [`protocol`] and [`transport`] (callbacks and
//!   the transport handle; UDP and Unix datagrams through
//!   [`LoopHandle::create_datagram_endpoint`], [`DatagramProtocol`] and
//!   [`DatagramTransport`]), [`event_loop`] ([`EventLoop`], [`LoopHandle`]: callbacks, timers,
//!   raw descriptors), `tls` (feature `tls`, on by default), [`constants`], [`sync`]
//!   ([`Lock`], [`Event`], [`Queue`], …); at the root, [`run`] and [`Runner`], tasks and time
//!   ([`spawn`], [`TaskGroup`], [`gather`], [`sleep`], [`timeout`], [`timeout_scope`]),
//!   [`Error`], [`LoopThread`] for driving a loop from synchronous code, and
//!   [`serve_on_threads`] for a server across cores (one loop per thread, one
//!   [`ServerGroup`]).
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
/// README.md's Rust snippets, compiled by `cargo test --doc` so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
mod compose;
pub mod constants;
mod embed;
mod error;
pub mod event_loop;
mod future;
pub mod guide;
pub(crate) mod net;
pub mod protocol;
pub mod proxy_protocol;
mod server;
mod slots;
mod sort;
pub mod streams;
pub mod sync;
mod taskgroup;
mod time;
#[cfg(feature = "tls")]
pub mod tls;
pub mod transport;
mod wakers;

pub use compose::{
    as_completed, gather, gather_return_exceptions, shield, wait, AsCompleted, DoneAndPending,
    Gather, GatherReturnExceptions, NextCompleted, ReturnWhen, Shield, Wait,
};
pub use embed::{run_coroutine_threadsafe, ConcurrentFuture, LoopThread};
pub use error::{Cancelled, Error, Result};
#[doc(hidden)]
pub use event_loop::child_watcher::simulate_no_pidfd;
pub use event_loop::child_watcher::ChildWatcher;
pub use event_loop::clock::ManualClock;
pub use event_loop::debug::{set_trace, trace_enabled};
pub use event_loop::exception::{default_exception_handler, ExceptionContext, PanicError};
pub use event_loop::executor::{all_tasks, current_task, spawn, Task, TaskRef};
pub use event_loop::handle::{CallbackOutput, Handle, TimerHandle};
pub use event_loop::thread_pool::{
    executor_max_threads, run_in_executor, set_executor_max_threads, to_thread, RunInExecutor,
};
pub use event_loop::threadsafe::ThreadsafeHandle;
pub use event_loop::{get_running_loop, run, EventLoop, LoopHandle, LoopStats, Runner};
pub use future::{CallbackId, LoopFuture};
pub use net::accepted::ConnectAcceptedSocket;
pub use net::connect::{socketpair, AddressFamily, CreateConnection, StreamSocket};
pub use net::datagram::{CreateDatagramEndpoint, DatagramSocket};
pub use protocol::{BufferedProtocol, Protocol, ProtocolRef};
pub use proxy_protocol::{ProxyHeader, ProxyProtocol};
pub use server::{CreateServer, ListenSocket, Server};
pub use streams::{
    create_subprocess_exec, create_subprocess_shell, open_connection, open_connection_sock,
    open_read_pipe, open_unix_connection, open_write_pipe, serve_on_threads, start_server,
    start_unix_server, stdin, stdout, CreateSubprocess, OpenConnection, Process, ServeOnThreads,
    ServerGroup, StartServer, Stdio, StreamReader, StreamWriter, WorkerStats,
};
pub use sync::{
    Barrier, BoundedSemaphore, Condition, Event, LifoQueue, Lock, PriorityQueue, Queue, Semaphore,
};
pub use taskgroup::TaskGroup;
pub use time::{
    sleep, sleep_until, timeout, timeout_at, timeout_scope, timeout_scope_at, try_timeout,
    yield_now, Sleep, Timeout, YieldNow,
};
#[cfg(feature = "tls")]
pub use tls::{ClientTls, StartTls, TlsContext, TlsError, TlsInfo};
pub use transport::{
    Address, BufferInfo, DatagramProtocol, DatagramTransport, ExtraInfo, Transport,
};
