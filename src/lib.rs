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
//! #   let port = server.sockets()[0].port().unwrap();
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
//!     let port = server.sockets()[0].port().expect("a TCP address");
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
//! ## First programs: what to know
//!
//! **`run` and the two `?`.** [`run`] returns `Result<T, Error>` where `T` is your future's
//! output, usually itself a `Result`: the outer error is the loop's (it could not start, or
//! Ctrl-C ended the run), the inner one your code's, hence `??`. An `async` block cannot name
//! its error type, so its last line says it: `Ok::<_, asyncio::Error>(())` (a bare `Ok(())`
//! is rustc's "type annotations needed"). [`Error`] converts into [`std::io::Error`] (its
//! kind kept), so `main` may return `std::io::Result<()>`; Rust then prints a failure with
//! `Debug` (`Error: Custom { kind: ConnectionRefused, .. }`): print `{e}` yourself for
//! Python's one line, `[Errno 111] Connect call failed 127.0.0.1:1`.
//!
//! **A read with a deadline, a readline loop.** Stream reads are cancel safe: a read that
//! times out loses nothing, and the next one gets the bytes. [`try_timeout`] bounds one call
//! and folds its two errors into one; [`StreamReader::set_read_timeout`] bounds every read of
//! that stream; [`StreamReader::lines`] is Python's `async for line in reader`.
//!
//! ```
//! use std::time::Duration;
//!
//! fn main() -> std::io::Result<()> {
//!     asyncio::run(async {
//! #       let (a, b) = asyncio::socketpair()?;
//! #       let (reader, _writer) = asyncio::open_connection_sock(a).await?;
//! #       let (_, peer) = asyncio::open_connection_sock(b).await?;
//!         // `reader` is one end of a connection; the peer sends one line, then waits.
//!         peer.write(b"first\n")?;
//!         let line = asyncio::try_timeout(Duration::from_secs(5), reader.readline()).await?;
//!         assert_eq!(line, b"first\n");
//!         let late = asyncio::try_timeout(Duration::from_millis(10), reader.readline()).await;
//!         assert!(matches!(late, Err(asyncio::Error::Timeout)));
//!
//!         peer.write(b"second\nthird\n")?;
//!         peer.close(); // EOF after these two lines
//!         let mut lines = reader.lines();
//!         while let Some(line) = lines.next_line().await? {
//!             print!("{}", String::from_utf8_lossy(&line));
//!         }
//!         Ok::<_, asyncio::Error>(())
//!     })??;
//!     Ok(())
//! }
//! ```
//!
//! **A server that runs until Ctrl-C.** Inside [`run`], the first Ctrl-C cancels your future
//! (the server closes), and `run` returns [`Error::KeyboardInterrupt`]; the process is not
//! exited for you. Exit with status 130, as shells expect (`no_run`: it serves until you
//! press Ctrl-C):
//!
//! ```no_run
//! use asyncio::{StreamReader, StreamWriter};
//! use std::process::ExitCode;
//!
//! async fn echo(reader: StreamReader, writer: StreamWriter) -> asyncio::Result<()> {
//!     let mut lines = reader.lines();
//!     while let Some(line) = lines.next_line().await? {
//!         writer.write(&line)?;
//!         writer.drain().await?;
//!     }
//!     writer.close();
//!     writer.wait_closed().await
//! }
//!
//! async fn serve() -> asyncio::Result<()> {
//!     let server = asyncio::start_server(echo, "127.0.0.1", 8888).await?;
//!     // An `Address` prints as `127.0.0.1:8888` (`{:?}` would add `Inet(…)` around it).
//!     println!("Serving on {}", server.sockets()[0]);
//!     server.serve_forever().await
//! }
//!
//! fn main() -> ExitCode {
//!     match asyncio::run(serve()) {
//!         Err(asyncio::Error::KeyboardInterrupt) => {
//!             eprintln!("Interrupted, server closed");
//!             ExitCode::from(130)
//!         }
//!         Err(e) | Ok(Err(e)) => {
//!             eprintln!("echo: {e}");
//!             ExitCode::FAILURE
//!         }
//!         Ok(Ok(())) => ExitCode::SUCCESS,
//!     }
//! }
//! ```
//!
//! **The usual slips.**
//!
//! - A future not awaited does nothing: `writer.drain();` or `asyncio::sleep(d);` alone
//!   draws rustc's "unused … that must be used" warning; `let _ = …` silences it, and the
//!   work still does not happen.
//! - Everything async runs inside [`run`] (or a [`Runner`], or a loop you drive).
//!   [`spawn`] outside a running loop panics (`no running event loop`); a stream or server
//!   kept after its `run` returned belongs to a closed loop: reads fail with
//!   `Event loop is closed (…)` and writes are dropped, with a warning at the first. For
//!   several runs on one loop, use [`Runner`].
//! - [`StreamWriter::write`] never waits: it buffers what the socket does not take. Without
//!   [`drain`](StreamWriter::drain), a fast writer's buffer grows without bound; with it,
//!   the writer waits whenever the buffer went above its high-water mark, until the peer
//!   has taken enough.
//! - [`close`](StreamWriter::close) starts the close; bytes still buffered are sent only while
//!   the loop runs. End with [`wait_closed`](StreamWriter::wait_closed): a run that returns
//!   first drops them (the peer sees a clean EOF after a prefix), with a warning on stderr.
//! - The limit of [`readline`](StreamReader::readline) and
//!   [`readuntil`](StreamReader::readuntil) (64 KiB) is the longest line accepted, not a
//!   read size: set it with `.limit(n)` on [`open_connection`] or [`start_server`].
//! - TLS: rustls refuses what Python's `ssl` lets through (a self-signed CA certificate used
//!   as the server's own, no subjectAltName); the error says what is wrong and how to make a
//!   certificate that works (see the `tls` module, feature `tls`).
//!
//! ## Inside your own main loop
//!
//! A program that already has a main loop (a game, a GUI, a poll loop of its own) drives an
//! [`EventLoop`] one turn at a time with [`LoopHandle::run_once`] instead of handing its thread
//! to [`run`]. `run_once(Some(d))` waits at most `d` for I/O or a timer, runs what is ready,
//! and returns, so your own work goes between the turns:
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let lp = asyncio::EventLoop::new()?;
//! let task = lp.spawn(async {
//!     asyncio::sleep(Duration::from_millis(20)).await;
//!     "done"
//! })?;
//! let frame = Duration::from_millis(5);
//! let (mut next_frame, mut frames) = (Instant::now(), 0);
//! for _ in 0..10_000 {
//!     if task.is_done() {
//!         break;
//!     }
//!     if Instant::now() >= next_frame {
//!         frames += 1; // your program's own work, every 5 ms
//!         next_frame += frame;
//!     }
//!     // One turn of the loop: it sleeps until its next event or timer, or your next frame.
//!     lp.run_once(Some(next_frame.saturating_duration_since(Instant::now())))?;
//! }
//! assert!(frames >= 1);
//! assert_eq!(lp.run_until_complete(task)?, Ok("done")); // a done task's output
//! # Ok::<_, asyncio::Error>(())
//! ```
//!
//! A host that sleeps in its own `poll`/`epoll`/`select` instead watches
//! [`as_raw_fd`](LoopHandle::as_raw_fd) (readable when the loop has I/O), sleeps at most
//! [`next_timeout`](LoopHandle::next_timeout), then calls `run_once(Some(Duration::ZERO))`:
//! `examples/embed_in_poll.rs` does this with `libc::poll`. To keep the loop on a thread of
//! its own and call into it from synchronous code, use [`LoopThread`] and
//! [`run_coroutine_threadsafe`].
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
//! - [`guide`]: one echo message followed through every layer, flow control, who calls each
//!   [`Protocol`] callback and when (and where that timing differs from CPython's), TLS, and
//!   which of our files mirrors which CPython file.
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
pub mod signal;
mod slots;
mod sort;
#[cfg(test)]
mod state_moves;
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
pub use event_loop::threadsafe::{ThreadsafeCallHandle, ThreadsafeHandle};
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
