//! # The layering guide: how one echo message crosses asyncio's layers
//!
//! This crate rebuilds CPython's `Lib/asyncio` layer by layer, under the same names, so that
//! you can read the two side by side. This page follows one message through every layer, using
//! the layer trace (`ASYNCIO_TRACE=1`) as the map, then shows flow control with the water
//! marks, lists who calls each `Protocol` callback and when (and where that timing differs from
//! CPython's), and ends with a table from each of our files to its CPython counterpart.
//!
//! ## The layers
//!
//! ```text
//!  your code       async fn handle(reader, writer)   open_connection / start_server
//!  ──────────────────────────────────────────────────────────────────────────────────────
//!  streams         StreamReader ─┐                 ┌─ StreamWriter            streams.py
//!                                └── StreamCore ───┘  (StreamReaderProtocol)
//!                                        ▲ Protocol callbacks     │ write / drain
//!  tls (optional)  TlsProtocol: a Protocol below, a Transport above           sslproto.py
//!                                        ▲                        ▼
//!  transport       socket transport: write buffer, water marks,   selector_events.py
//!                  pause/resume reading, write_eof, close/abort
//!                                        ▲ readiness              │ send / writev
//!  event loop      mio poll ─► ready queue ─► run phase; timer wheel; tasks  base_events.py
//! ```
//!
//! Each layer talks only to the one below it and is called back through the trait above it:
//! the streams know [`Transport`](crate::Transport) and [`Protocol`](crate::Protocol), never
//! mio; only the event loop and the transports touch mio.
//!
//! ## One echo message, down and up
//!
//! A client sends `hello\n` to the streams echo server of `examples/echo_server.rs`. With
//! `ASYNCIO_TRACE=1` the server prints (one connection, id 1; `tests/trace.rs` pins these
//! lines):
//!
//! ```text
//! loop: poll -> 1 event(s)                                   (1)
//! transport[1]: recv 6 B into the protocol's buffer          (2)
//! protocol[1]: buffer_updated(6)                             (3)
//! reader[1]: feed_data 6 B, buffered 6, wakes the waiting read  (4)
//! writer[1]: write 6 B -> sent 6, buffered 0                 (5)
//! ```
//!
//! 1. **The loop** ([`LoopHandle::run_once`](crate::LoopHandle::run_once), CPython's
//!    `_run_once`) polls mio. The socket's token carries its slot and generation; the event
//!    becomes a `Runnable::Io` at the back of the ready queue (or, when nothing else is due in
//!    this iteration, is dispatched at once, in the same order). The run phase then runs
//!    exactly as many entries as the queue held when it began, so nothing queued meanwhile
//!    can starve I/O.
//! 2. **The transport** (`transport/socket/read.rs`, CPython's `_read_ready`) reads. Our
//!    protocol is a `BufferedProtocol`, so it asks the protocol for a buffer and `recv`s
//!    straight into the reader's memory: no copy between the socket and `readline`. A read
//!    that fills less than the space offered means the kernel buffer is empty, so there is no
//!    extra `recv` just to hear `EAGAIN` (the syscall budget of an echo is poll, read, write).
//! 3. **The protocol** (`streams/core.rs`, CPython's `StreamReaderProtocol`) commits the bytes.
//! 4. **The reader** (`streams/reader/`) wakes the task waiting in `read_into`/`readline`.
//!    Waking a task records its key: no allocation, no lock. Because an I/O callback woke it,
//!    the task runs later in this same iteration (a deliberate difference; asyncio would poll
//!    once more first), sees its data and returns it: an echo costs one poll, one read, one
//!    write.
//!    `read_into` goes one step further when the reader is empty: the transport's readable
//!    edge only wakes the task, whose read `recv`s straight into the caller's memory (no
//!    reader buffer, no `get_buffer`/`buffer_updated`, no copy; the trace then shows
//!    `readable, the waiting read_into reads` and `recv N B into read_into's buffer`).
//!    Anything else (EOF, an error, a paused or swapped transport, a read that stops early)
//!    goes back to the protocol path, so what a reader sees is the same either way.
//! 5. **The writer** (`streams/writer.rs`) hands the bytes to the transport, which tries
//!    `send` at once because nothing is queued: all six bytes go, nothing is buffered, no
//!    writable interest is needed. `drain()` returns at once because the transport is not
//!    paused.
//!
//! Steady state allocates nothing per message (`tests/alloc.rs` counts).
//!
//! ## Flow control: the water marks
//!
//! The transport's write buffer has a high mark (64 KiB) and a low mark (16 KiB). Above high
//! it calls the protocol's `pause_writing` (once per crossing); at or below low,
//! `resume_writing`. The stream writer turns those into `drain()` waiting and returning:
//!
//! ```text
//!  buffered
//!   bytes
//!    ▲        pause_writing                     pause_writing
//!    │             ▼                                 ▼
//!  high ─ ─ ─ ─ ─ ╱╲ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ─ ╱╲ ─ ─ ─   drain() waits while above
//!    │          ╱   ╲╲                           ╱    ╲
//!    │        ╱       ╲╲__                     ╱       ╲
//!  low ─ ─ ─╱─ ─ ─ ─ ─ ─ ─╲─ ─ ─ ─ ─ ─ ─ ─ ─ ╱─ ─ ─ ─ ─ ╲─ ─
//!    │    ╱                 ╲  ▲ resume_writing        ╲ ▲ resume_writing
//!    └──╱────────────────────╲───────────────────────────╲──────► time
//!        writes faster than      the peer reads; the kernel takes the buffer
//!        the peer reads          back down, drain() returns
//! ```
//!
//! The same edges seen from a stream: one write far above the high mark leaves the writer
//! paused, and [`drain`](crate::StreamWriter::drain) returns once the peer has read enough for
//! the transport's buffer to fall to the low mark.
//!
//! ```
//! asyncio::run(async {
//!     let (a, b) = asyncio::socketpair()?;
//!     let (_, writer) = asyncio::open_connection_sock(a).await?;
//!     let (peer, _peer_writer) = asyncio::open_connection_sock(b).await?;
//!     writer.write(&vec![0; 1 << 20])?; // far more than the kernel takes at once
//!     let info = writer.buffer_info();
//!     assert!(info.writing_paused && info.write_buffered > info.high_water);
//!     // The marks are the transport's, one layer down:
//!     let marks = writer.transport().get_write_buffer_limits();
//!     assert_eq!(marks, (info.low_water, info.high_water));
//!
//!     let reading = asyncio::spawn(async move { peer.readexactly(1 << 20).await });
//!     writer.drain().await?; // waits for resume_writing
//!     assert!(writer.buffer_info().write_buffered <= info.low_water);
//!     reading.await??;
//!     writer.close();
//!     Ok::<_, asyncio::Error>(())
//! })??;
//! # Ok::<_, asyncio::Error>(())
//! ```
//!
//! On the read side the [`StreamReader`](crate::StreamReader) pauses the transport when it
//! holds more than twice its limit, and resumes it at the limit or below, so a peer that sends
//! faster than we read ends up blocked in its own `send`.
//!
//! ## The Protocol layer: who calls what, and when
//!
//! Below the streams, your code is a [`Protocol`](crate::Protocol) and the transport calls it.
//! Every call comes from the transport (never from the loop directly, never from another
//! protocol), through one seam (`ProtocolSlot` in `protocol.rs`) that borrows your protocol for
//! exactly that call. The transport owns the socket, its write buffer and the interest
//! registered with mio; you own your protocol's state, and you keep the [`Transport`](crate::Transport) handle
//! that `connection_made` gives you (clones are the same transport) to write and close with.
//!
//! | callback | called by (ours) | CPython | when |
//! |---|---|---|---|
//! | `connection_made` | `connection_made` in `transport/life_path.rs`, queued with `call_soon` as the transport is built | `_SelectorSocketTransport.__init__`: `loop.call_soon(self._protocol.connection_made, self)` | first; reading starts only after it returns, and `create_connection` returns only after it ran |
//! | `data_received`, or `get_buffer` + `buffer_updated` | `read_ready` in `transport/socket/read.rs` | `_read_ready__data_received`, `_read_ready__get_buffer` | in the I/O phase of an iteration, while reading is not paused |
//! | `eof_received` | `on_eof` (same file) | `_read_ready__on_eof` | at most once, after the last data; `true` keeps the transport open for writing, `false` makes it `close()` |
//! | `pause_writing`, `resume_writing` | `maybe_pause_protocol`, `maybe_resume_protocol` in `transport/write_path.rs` | `_FlowControlMixin._maybe_pause_protocol`, `_maybe_resume_protocol` | inside your `write` (or `set_write_buffer_limits`) as the buffer crosses the high mark; at the low mark from the flush in `write_ready`; strictly alternating, pause first |
//! | `connection_lost` | `call_connection_lost` in `transport/life_path.rs`: queued with `call_soon` by `close` (empty buffer), `abort` or the error funnel (`fatal_error`, `force_close`); called from `write_ready` when a closing transport's buffer drains | `_call_connection_lost`: queued by `close` or `_force_close`; called from `_write_ready` after the last flush | exactly once, last; `None` for a close, `Some(err)` for a failure |
//!
//! The grammar (made, data*, eof?, lost) is CPython's, connection by connection. The timing
//! around it differs in three places, each for a reason:
//!
//! - **Data and EOF in one go.** CPython does one `recv` per readiness event, so the peer's
//!   last bytes and its EOF reach you in two iterations. Our registration is edge-triggered, so
//!   the transport reads until the kernel buffer is empty (a bounded number of reads per
//!   event); when the peer has closed, that includes the EOF. `data_received` and
//!   `eof_received` can then come in the same iteration: a callback you `call_soon` from
//!   `data_received` runs before `eof_received` in CPython and after it here, and across two
//!   connections of one loop the interleaving of their callbacks can differ from CPython's.
//! - **Flow-control calls made during your own callback.** A `write` inside `data_received`
//!   that crosses the high mark calls `pause_writing` after `data_received` returns (your
//!   protocol is borrowed until then); CPython calls it inside the `write`. Anywhere else it
//!   is called inside the `write`, as in CPython.
//! - **The loop closing under an open connection.** CPython drops such a transport and its
//!   protocol hears nothing; here `connection_lost(Some(err))` tells it (`Event loop is
//!   closed`), so the grammar's "lost exactly once" holds even then.
//!
//! A protocol that records its calls, on one end of a socket pair whose other end sends
//! `hello` and closes:
//!
//! ```
//! use std::{cell::RefCell, io, rc::Rc};
//! use asyncio::{Protocol, Transport};
//!
//! struct Recorder(Rc<RefCell<Vec<String>>>);
//!
//! impl Protocol for Recorder {
//!     fn connection_made(&mut self, _transport: Transport) {
//!         self.0.borrow_mut().push("connection_made".into());
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         self.0.borrow_mut().push(format!("data_received({})", data.len()));
//!     }
//!     fn eof_received(&mut self) -> bool {
//!         self.0.borrow_mut().push("eof_received".into());
//!         false // let the transport close
//!     }
//!     fn connection_lost(&mut self, exc: Option<io::Error>) {
//!         self.0.borrow_mut().push(format!("connection_lost({})", exc.map_or("None", |_| "err")));
//!     }
//! }
//!
//! asyncio::run(async {
//!     let (ours, theirs) = asyncio::socketpair()?;
//!     let calls = Rc::new(RefCell::new(Vec::new()));
//!     let log = calls.clone();
//!     let lp = asyncio::get_running_loop()?;
//!     // `loop.create_connection(factory, sock=ours)`: returns after connection_made ran.
//!     let (_transport, _protocol) = lp.connect_socket(move || Recorder(log), ours).await?;
//!     assert_eq!(*calls.borrow(), ["connection_made"]);
//!
//!     let (_, peer) = asyncio::open_connection_sock(theirs).await?;
//!     peer.write(b"hello")?;
//!     peer.close();
//!     peer.wait_closed().await?;
//!     for _ in 0..100 {
//!         if calls.borrow().len() == 4 {
//!             break;
//!         }
//!         asyncio::yield_now().await;
//!     }
//!     let want = ["connection_made", "data_received(5)", "eof_received", "connection_lost(None)"];
//!     assert_eq!(*calls.borrow(), want);
//!     Ok::<_, asyncio::Error>(())
//! })??;
//! # Ok::<_, asyncio::Error>(())
//! ```
//!
//! ## TLS: a protocol below, a transport above
//!
//! With `ssl`, a `TlsProtocol` sits between the socket transport and your protocol (CPython's
//! `sslproto.SSLProtocol`): to the socket transport it is a protocol receiving ciphertext; to
//! your protocol it is a transport (`_SSLProtocolTransport`) taking plaintext. The rustls
//! connection is driven in memory by one file, `tls/engine.rs`. Your protocol's
//! `connection_made` runs only after the handshake.
//!
//! ## Our files and CPython's
//!
//! | ours | CPython `Lib/asyncio/` |
//! |---|---|
//! | `event_loop/mod.rs`, `event_loop/iteration.rs`, `event_loop/lifecycle.rs`, `event_loop/timers.rs` | `base_events.py`: `BaseEventLoop`, its `_run_once` (`iteration.rs`), `run_forever`, `run_until_complete`, `stop`, `close` (`lifecycle.rs`), `call_later`, `call_at` (`timers.rs`) |
//! | `event_loop/runner.rs` | `runners.py`: `asyncio.run`, `Runner` |
//! | `event_loop/ready.rs` | `BaseEventLoop._ready` |
//! | `event_loop/handle.rs` | `events.py`: `Handle`, `TimerHandle` |
//! | `event_loop/timer_wheel.rs` | `BaseEventLoop._scheduled` (a heap there, a wheel here) |
//! | `event_loop/io.rs` | `selector_events.py`: `_add_reader`, `_process_events` |
//! | `event_loop/threadsafe.rs` | `call_soon_threadsafe`, `_write_to_self` |
//! | `event_loop/exception.rs` | `call_exception_handler`, `default_exception_handler` |
//! | `event_loop/debug.rs` | debug mode, `slow_callback_duration` |
//! | `event_loop/clock.rs`, `event_loop/precise_wait.rs` | `BaseEventLoop.time`, `_clock_resolution`; the poll timeout of `_run_once` |
//! | `event_loop/executor/` | `tasks.py` (`Task`, `create_task`), `futures.py` |
//! | `time.rs` | `tasks.sleep`, `timeouts.py`, `tasks.wait_for` |
//! | `protocol.rs` | `protocols.py`; `ProtocolSlot`, the one seam every transport (stream or datagram) calls its protocol through (the discipline `selector_events.py` and `sslproto.py` keep by hand) |
//! | `transport/mod.rs` | `transports.py` |
//! | `transport/socket/` | `selector_events.py`: `_SelectorTransport`, `_SelectorSocketTransport`; `sendfile.rs`: `_sendfile_native`, `unix_events.py`'s `_sock_sendfile_native` |
//! | `transport/pipe/`, `net/pipe.rs`, `streams/pipe.rs` | `unix_events.py`: `_UnixReadPipeTransport`, `_UnixWritePipeTransport`; `base_events.py`: `connect_read_pipe`, `connect_write_pipe` |
//! | `transport/flow_control.rs` | `transports._FlowControlMixin` |
//! | `transport/datagram/`, `net/datagram.rs` | `selector_events.py`: `_SelectorDatagramTransport`; `protocols.py`: `DatagramProtocol`; `base_events.py`: `create_datagram_endpoint` |
//! | `transport/connecting.rs` | `selector_events.py`: `sock_connect`, `_sock_connect_cb` |
//! | `transport/listener.rs` | `selector_events.py`: `_start_serving`, `_accept_connection` (the socket half) |
//! | `net/connect.rs`, `net/resolve.rs` | `base_events.py`: `create_connection`, `_ensure_resolved` |
//! | `net/accepted.rs` | `base_events.py`: `connect_accepted_socket` |
//! | `net/happy_eyeballs.rs` | `staggered.py` |
//! | `server/` | `base_events.py`: `Server`, `create_server`; `selector_events.py`: `_accept_connection`; `unix_events.py`: `create_unix_server` |
//! | `proxy_protocol/`, `server/proxy_layer.rs` | none: HAProxy's PROXY protocol (the header format; the preamble that reads it before `connection_made`) |
//! | `streams/` | `streams.py`; `streams/sendfile.rs`: `base_events.py`'s `sendfile`, `_sendfile_fallback` |
//! | `tls/` | `sslproto.py` |
//! | `embed.rs` | `tasks.run_coroutine_threadsafe`, `concurrent.futures.Future` |
//! | `sync/locks.rs` | `locks.py`: `Lock`, `Event`, `Condition`, `Semaphore`, `BoundedSemaphore` |
//! | `sync/queues.rs` | `queues.py`: `Queue`, `PriorityQueue`, `LifoQueue`, `QueueEmpty`, `QueueFull` |
//! | `future.rs` | `futures.py`: `Future` |
//! | `compose.rs` | `tasks.py`: `gather`, `wait`, `as_completed`, `shield` |
//! | `taskgroup.rs` | `taskgroups.py`: `TaskGroup` |
//! | `event_loop/thread_pool.rs` | `base_events.py`: `run_in_executor`; `threads.py`: `to_thread` (the default executor, shared with the resolver) |
//! | `streams/subprocess.rs`, `event_loop/child_watcher.rs` | `subprocess.py`: `Process`, `create_subprocess_exec`/`_shell`; `base_subprocess.py`: `BaseSubprocessTransport`; `unix_events.py`: `_UnixSubprocessTransport`, `PidfdChildWatcher`, `ThreadedChildWatcher` |
//!
//! ## Python names, Rust names
//!
//! How each asyncio call you know is spelled here.
//!
//! | Python (asyncio) | Rust (`asyncio` crate) |
//! |---|---|
//! | `asyncio.run(main())` | `asyncio::run(main())` → `Result<Output, Error>` |
//! | `with asyncio.Runner(debug=…) as runner: runner.run(main())`, `runner.get_loop()`, `runner.close()` | `let runner = asyncio::Runner::new().debug(..); runner.run(main())?`, `runner.get_loop()?`, `runner.close()?` (dropping the runner closes it too); several runs share one loop, each handles Ctrl-C as `asyncio::run` does; a closed runner refuses with `Error::InvalidState` (`Runner is closed`) |
//! | `asyncio.get_running_loop()` | `asyncio::get_running_loop()` → `LoopHandle` |
//! | `asyncio.new_event_loop()` | `EventLoop::new()` (closes on drop) |
//! | `loop.call_soon(cb)` | `lp.call_soon(f)?` → `Handle` (a `Result`: a closed loop refuses with `Error::InvalidState`, Python's `RuntimeError`) |
//! | `loop.call_later(delay, cb)`, `loop.call_at(when, cb)` | `lp.call_later(d, f)?`, `lp.call_at(instant, f)?` → `TimerHandle` (a `Result`, as `call_soon`); dropping the handle does not cancel the call |
//! | `loop.call_soon_threadsafe(cb)` | `lp.threadsafe().call_soon_threadsafe(f)` (the handle is `Send + Sync`) → `ThreadsafeCallHandle`, whose `cancel()` works from any thread (3.14's `_ThreadSafeHandle`) |
//! | `loop.time()` | `lp.time()` → `Instant` |
//! | `loop.run_until_complete(fut)`, `run_forever()`, `stop()`, `close()` | same names |
//! | `loop.is_running()`, `is_closed()` | same names |
//! | `loop.add_reader(fd, cb)`, `add_writer`, `remove_reader`, `remove_writer` | same names |
//! | `loop.set_exception_handler(h)`, `call_exception_handler(ctx)` | same names; `ExceptionContext` for the dict |
//! | `loop.add_signal_handler(signal.SIGTERM, cb)`, `remove_signal_handler(sig)` | `lp.add_signal_handler(asyncio::signal::SIGTERM, f)?`, `lp.remove_signal_handler(sig)?` → `bool`; [`asyncio::signal`](crate::signal) has the common numbers (`SIGINT`, `SIGTERM`, `SIGHUP`, `SIGUSR1`, ...: the C library's, as `libc`'s); a SIGINT handler of yours replaces the one `asyncio::run` installs, so Ctrl-C no longer ends the run with `Error::KeyboardInterrupt` |
//! | `Handle.cancel()`, `TimerHandle.when()` | same names |
//! | `asyncio.create_task(coro)` | `asyncio::spawn(fut)` → `Task<T>`, awaiting gives `Result<T, Cancelled>` |
//! | `task.cancel()`, `task.done()`, `task.cancelled()` | `cancel()`, `is_done()`, `is_cancelled()` |
//! | `task.result()` | `task.result()` → `Result<T, Error>` on a `mut` handle, without awaiting: `Error::InvalidState` (`Result is not ready.`) while it runs, `Error::Cancelled`, `Error::Panic`; the output is handed out once (a second call, or an await after it, has it no more) |
//! | `asyncio.current_task()`, `asyncio.all_tasks()`; `create_task(coro, name=…)`, `task.get_name()`, `set_name()` | `asyncio::current_task()?` → `Option<TaskRef>`, `asyncio::all_tasks()?` → `Vec<TaskRef>` (outside a running loop `Error::InvalidState`, `no running event loop`; `lp.current_task()`, `lp.all_tasks()` for a given loop); `task.name()` (`Task-<n>` by default), `task.set_name(..)` right after `spawn` (the body has not started), `task.task_ref()`; a `TaskRef` compares equal to the same task and has `name`, `set_name`, `cancel`, `is_done`, `is_cancelled`; the main future of `run`/`run_until_complete` is a task too, and cancelling it ends the run with `Error::Cancelled` |
//! | `asyncio.sleep(d)`, `asyncio.sleep(0)` | `asyncio::sleep(d)`, `asyncio::sleep(Duration::ZERO)` or `asyncio::yield_now()` (both give up exactly one iteration) |
//! | `asyncio.wait_for(aw, t)`, `asyncio.timeout(t)` | `asyncio::timeout(d, fut)` → `Result<fut's output, Error>`, expiry is `Error::Timeout`; `asyncio::try_timeout(d, reader.readline()).await?` when `fut` itself gives a `Result<T, Error>` (one `?` instead of `??`) |
//! | `async with asyncio.timeout(t) as cm:` with `cm.reschedule(when)`, `cm.when()`, `cm.expired()`; `asyncio.timeout(None)`, `asyncio.timeout_at(when)` | `asyncio::timeout_scope(d, \|cm\| async move { … cm.reschedule(Some(when))?; … }).await`, `cm.reschedule_after(d)`, `cm.when()`, `cm.expired()`; `timeout_scope_at(None, …)`, `timeout_scope_at(Some(when), …)`; a finished or expired scope refuses `reschedule` with `Error::InvalidState`; of nested scopes sharing a deadline the inner one reports it (CPython: the outer) |
//! | `asyncio.timeout_at(when)` | `asyncio::timeout_at(instant, fut)` |
//! | `TimeoutError`, `CancelledError` | `Error::Timeout`, `Cancelled` (and `Error::Cancelled`) |
//! | `ValueError`, `RuntimeError` (wrong state), `NotImplementedError` | `Error::InvalidArgument`, `Error::InvalidState`, `Error::Unsupported` |
//! | `OSError` (`ConnectionResetError`, `ConnectionRefusedError`, …) | `Error::Io(io::Error)`: the matching `io::ErrorKind`, and `raw_os_error()` keeps the errno (104 after a reset, for every read, `drain` and `wait_closed` that reports it) |
//! | `ssl.SSLError`, `ssl.SSLCertVerificationError`, `ssl.SSLEOFError` | `Error::Tls(TlsError)` (`is_certificate_error()`, `is_truncation()`), from handshakes and, over streams, from reads, `drain` and `wait_closed` too |
//! | `loop.create_connection(factory, host, port, …)` | `lp.create_connection(factory, host, port).local_addr(..).happy_eyeballs_delay(..).await` → `(Transport, Rc<RefCell<P>>)` |
//! | `loop.create_server(factory, host, port, …)` | `lp.create_server(factory, host, port).backlog(100).reuse_port(true).await` → `Server` |
//! | `loop.create_unix_connection`, `create_unix_server` | same names, a path instead of host and port |
//! | `loop.create_connection(factory, sock=sock)`, `loop.connect_accepted_socket(factory, sock, ssl=…)` | `lp.connect_socket(factory, sock).await`; `lp.connect_accepted_socket(factory, sock).ssl(server_config).await` (the server side, TLS handshake included) → `(Transport, Rc<RefCell<P>>)`; `sock` a `std::net::TcpStream` or `UnixStream`, owned by the transport |
//! | `loop.connect_read_pipe(factory, pipe)`, `loop.connect_write_pipe(factory, pipe)` | `lp.connect_read_pipe(factory, fd).await`, `lp.connect_write_pipe(factory, fd).await` → `(Transport, Rc<RefCell<P>>)`; `fd` any `Into<OwnedFd>` (a `std::io::PipeReader`/`PipeWriter`, a `File`), owned by the transport; a broken pipe is `connection_lost(Some(BrokenPipe))` |
//! | `connect_read_pipe(lambda: StreamReaderProtocol(reader), sys.stdin)` (and `sys.stdout`) | `asyncio::stdin().await` → `StreamReader`, `asyncio::stdout().await` → `StreamWriter` (fd 0/1 duplicated; files, `/dev/null` and terminals through a helper thread); any descriptor: `asyncio::open_read_pipe(fd)`, `open_write_pipe(fd)` |
//! | `loop.create_datagram_endpoint(factory, local_addr=, remote_addr=, …, sock=)` | `lp.create_datagram_endpoint(factory).local_addr(host, port).remote_addr(host, port).await` → `(DatagramTransport, Rc<RefCell<P>>)`; `family=AF_UNIX` with paths: `.local_path(p)`, `.remote_path(p)` |
//! | `DatagramProtocol`, `DatagramTransport.sendto(data, addr=None)` | the same names: `datagram_received(&[u8], Address)`, `error_received(io::Error)`; `sendto(&data, Some(&addr))` |
//! | `Protocol`, `BufferedProtocol` | traits of the same names (`&mut self` methods; a buffered protocol returns `Some(self)` from `as_buffered`) |
//! | `transport.write`, `writelines`, `write_eof`, `close`, `abort`, `pause_reading`, `resume_reading`, `set_write_buffer_limits`, `get_write_buffer_size`, `get_extra_info` | same names on `Transport` |
//! | `Server.close()`, `wait_closed()`, `serve_forever()`, `start_serving()`, `close_clients()`, `abort_clients()`, `sockets` | same names; `async with server` is `server.scope(\|srv\| async {..})` |
//! | `server.sockets[0].getsockname()`, `getsockname()[1]` (the port the OS picked for port 0) | `server.sockets()[0]` (an `Address`: prints as `127.0.0.1:8888`), `server.sockets()[0].port()` → `Option<u16>` (`None` for a Unix socket) |
//! | `asyncio.open_connection(host, port, limit=…)` | `asyncio::open_connection(host, port).limit(n).await` → `(StreamReader, StreamWriter)` |
//! | `asyncio.open_connection(sock=s)` | `asyncio::open_connection_sock(s).await` |
//! | `asyncio.start_server(cb, host, port, backlog=…)` | `asyncio::start_server(cb, host, port).backlog(n).await` → `Server`; `cb` async or plain |
//! | `asyncio.open_unix_connection`, `start_unix_server` | same names |
//! | PROXY protocol, as HAProxy's `send-proxy`/`send-proxy-v2` send it (no asyncio counterpart) | `.proxy_protocol(ProxyProtocol::Required)` (or `Optional`: a client without a header is served as is, a silent one from the header timeout on) on `start_server`, `start_unix_server`, `create_server`, `create_unix_server`, with `.proxy_protocol_timeout(d)` (5 s); the header is read before the callback and before TLS; `get_extra_info("peername")`/`("sockname")` are the client's addresses from it, `"proxy_peername"`/`"proxy_sockname"` the balancer's connection; `transport.proxy_header()` / `writer.proxy_header()` → `ProxyHeader` (version, command, addresses, v2 TLVs: `alpn()`, `authority()`, `unique_id()`, `ssl()`, raw `tlvs`); the format itself in `asyncio::proxy_protocol` |
//! | `reader.read(n)`, `readline()`, `readexactly(n)`, `readuntil(sep)` | same names; `read_into(&mut buf)` reads without allocating; `readuntil_any(&[a, b])` |
//! | `async for line in reader` | `let mut lines = reader.lines(); while let Some(line) = lines.next_line().await? { … }` |
//! | `reader.read()` (to EOF) | `reader.read(-1)` or `reader.read_to_end()` |
//! | `writer.write`, `writelines`, `drain`, `write_eof`, `close`, `wait_closed`, `is_closing`, `get_extra_info` | same names |
//! | `await loop.sendfile(writer.transport, file, offset, count)` | `writer.sendfile(&file, offset, count).await` → bytes sent: `sendfile(2)` on plain TCP and Unix streams (Linux), blocks read on the executor and written otherwise (TLS, pipes); reading is paused while it runs (resumed after if it was on), and on the kernel's path writes are refused; a second sendfile on the stream is refused while either path runs (CPython refuses it during its native path only); the file's position ends after the last byte sent. CPython sends nothing for a pipe without `count`; here it sends to the pipe's end. The fallback too sends from `offset` 0 (CPython's reads from the file's current position). `count` `Some(0)` is `InvalidArgument` on every path (CPython's native path raises ValueError, its TLS fallback sends to the end) |
//! | `IncompleteReadError`, `LimitOverrunError` | `Error::IncompleteRead { partial, expected }`, `Error::LimitOverrun { consumed, .. }` |
//! | `readline()` over the limit: `ValueError` | `Error::LimitOverrun { consumed, .. }` (typed, and says how much was discarded) |
//! | `socket.socketpair()` | `asyncio::socketpair()` |
//! | `asyncio.Lock()`: `async with lock`, `await lock.acquire()`, `release()`, `locked()` | `asyncio::Lock`: `let _g = lock.lock().await` (a guard that releases on drop), or `lock.acquire().await` + `lock.release()?`; releasing an unlocked lock is `Error::InvalidState` (`Lock is not acquired.`) |
//! | `loop.create_future()`: `set_result`, `set_exception`, `cancel`, `done`, `cancelled`, `result`, `exception`, `add_done_callback`, `remove_done_callback`, `await fut` | `lp.create_future()` → `LoopFuture<T>` (a cloneable handle), same names; `.await` (with `T: Clone`) gives `Result<T, Error>` to every awaiter; callbacks always through `call_soon` |
//! | `asyncio.Event()`: `set()`, `clear()`, `is_set()`, `await wait()` | `asyncio::Event`, same names |
//! | `asyncio.Condition()`: `async with cond`, `await cond.wait()`, `wait_for(pred)`, `notify(n)`, `notify_all()` | `asyncio::Condition`: `let g = cond.lock().await; let g = g.wait().await;` (the guard goes in and comes back), `g.wait_for(\|\| pred).await`, `g.notify(n)`, `g.notify_all()`; cancelling a wait releases the lock (CPython re-takes it); a condition owns its lock: there is no `Condition(lock)` sharing another one |
//! | `asyncio.Semaphore(n)`, `BoundedSemaphore(n)` | `asyncio::Semaphore::new(n)`, `BoundedSemaphore::new(n)`: `permit().await` (a guard), or `acquire().await` + `release()`; over-releasing a bounded one is `Error::InvalidArgument` (`BoundedSemaphore released too many times`) |
//! | `asyncio.Barrier(parties)`: `await wait()` (or `async with barrier`), `reset()`, `abort()`, `parties`, `n_waiting`, `broken`; `BrokenBarrierError` | `asyncio::Barrier::new(parties)?` (0 is `Error::InvalidArgument`): `wait().await` → `Result<usize, BrokenBarrierError>` (the arrival index; the error's two variants carry CPython's two texts), `reset()`, `abort()` (plain methods), `parties()`, `n_waiting()`, `broken()`; the error converts to `Error::InvalidState` |
//! | `asyncio.Queue(maxsize)`, `PriorityQueue`, `LifoQueue`: `put`, `get`, `put_nowait`, `get_nowait`, `task_done`, `join`, `qsize`, `empty`, `full` | `asyncio::Queue::new(maxsize)`, `PriorityQueue`, `LifoQueue` (0: no limit), same names; `put(item).await` gives `()` and `get().await` the item, no `Result` (nothing to `?`: only a cancellation ends them early, as the future is dropped); `task_done()` too often is `Error::InvalidArgument`. Not `Clone`: tasks share a queue (as a `Lock`, `Event`, `Semaphore`…) through `Rc::new(Queue::new(n))` |
//! | `asyncio.QueueEmpty`, `asyncio.QueueFull` | `get_nowait()` → `Result<T, QueueEmpty>`, `put_nowait(item)` → `Result<(), QueueFull<T>>` (the refused item comes back in it) |
//! | `asyncio.gather(*aws)` | `asyncio::gather(futures).await` → `Result<Vec<T>, E>` over futures of `Result<T, E>`, results in input order; the first failure is returned and the other tasks are cancelled (CPython leaves them running). The futures share one type: for `a, b = await gather(fetch_num(), fetch_name())` spawn each and await the tasks, `let (a, b) = (spawn(fetch_num()), spawn(fetch_name())); let (a, b) = (a.await??, b.await??);` |
//! | `asyncio.gather(*aws, return_exceptions=True)`; `for t in tasks: t.cancel()` then `await gather(*tasks, return_exceptions=True)` | `asyncio::gather_return_exceptions(futures).await` → `Vec<Result<T, E>>`; tasks already spawned are awaited one by one, each `Task` giving `Err(Cancelled)` if cancelled: `for t in &tasks { t.cancel(); } for t in tasks { let _ = t.await; }`; a panicking task is `Err(E::from(PanicError))` in its place (`Error::Panic`) |
//! | `asyncio.wait(tasks, timeout=…, return_when=FIRST_COMPLETED)` | `asyncio::wait(tasks, ReturnWhen::FirstCompleted).timeout(d).await` → `(done, pending)`, two `Vec<Task<_>>` in input order; also `FirstException`, `AllCompleted`; no tasks: `Error::InvalidArgument` |
//! | `for f in asyncio.as_completed(tasks): await f` | `let mut c = asyncio::as_completed(tasks); while let Some(outcome) = c.next().await { … }`, in the order the tasks end; no `timeout=`: wrap `c.next()` in `asyncio::timeout` (it is cancel safe) |
//! | `await asyncio.shield(task)`; `await asyncio.wait_for(asyncio.shield(task), t)` then `await task` | `asyncio::shield(&mut task).await`: a cancelled or timed-out waiter leaves the task running, and the handle stays yours to await again; for a bare coroutine, `spawn` it first |
//! | `async with asyncio.TaskGroup() as tg: tg.create_task(coro)` | `TaskGroup::run(\|tg\| async move { tg.create_task(fut)?.detach(); … }).await` (the group waits for its tasks whether or not you keep the `Task`; keep it to await its output); the first failure cancels the body and the other tasks; a panic in the body itself unwinds out of `run` (the tasks are cancelled), where CPython adds the body's exception to the group; a `run` dropped before it returns (the task around it cancelled) reports the failures it had collected through the loop's exception handler, where CPython's group raises them |
//! | `ExceptionGroup` (from a `TaskGroup`) | `Error::Group(Vec<Error>)`, every failure in order; a panicking task is `Error::Panic` in it |
//! | `loop.run_in_executor(None, f)`, `asyncio.to_thread(f)` | `asyncio::run_in_executor(f).await`, `asyncio::to_thread(f).await` → `Result<T, Error>` (a panic in `f` is `Error::Panic`); one bounded pool per process, shared with the resolver |
//! | `loop.set_default_executor(ThreadPoolExecutor(max_workers=n))` | `asyncio::set_executor_max_threads(n)` |
//! | `asyncio.create_subprocess_exec(prog, *args, stdin=PIPE, stdout=PIPE, stderr=PIPE, limit=…)` | `asyncio::create_subprocess_exec(prog, args).stdin(Stdio::Pipe).stdout(Stdio::Pipe).stderr(Stdio::Pipe).limit(n).await` → `Process`; also `.cwd(dir)`, `.env(k, v)`, `.env_clear()`, `.start_new_session(true)`, `.process_group(pgid)`, `.close_fds(false)`, `.pass_fds([fd])` (close_fds is on by default, as in Python); a missing program is `Error::Io` of kind `NotFound` (errno kept) |
//! | `asyncio.create_subprocess_shell(cmd, …)` | `asyncio::create_subprocess_shell(cmd)`, the same builder (`/bin/sh -c cmd`) |
//! | `asyncio.subprocess.PIPE`, `DEVNULL`, `STDOUT`, `None`, a file or fd | `Stdio::Pipe`, `Stdio::DevNull`, `Stdio::Stdout` (stderr only), `Stdio::Inherit` (the default), `Stdio::Fd(fd)` |
//! | `proc.stdin`, `proc.stdout`, `proc.stderr` | public fields: `Option<StreamWriter>`, `Option<StreamReader>` (`take()` one to move it into a task) |
//! | `proc.pid`, `proc.returncode` | `proc.pid()`, `proc.returncode()` → `Option<i32>` (minus the signal number if killed by one) |
//! | `await proc.wait()`, `await proc.communicate(input)` | `proc.wait().await` → `i32` (at the exit, as CPython since gh-119710; 3.11 to 3.14 also wait for the stdout/stderr pipes' close), `proc.communicate(Some(input)).await` → `(stdout, stderr)` bytes, fed and drained together |
//! | `proc.send_signal(sig)`, `terminate()`, `kill()` | same names; after the exit nothing is sent, and once the stdout/stderr pipes are closed too they fail with `ESRCH` (`ProcessLookupError`) |
//! | `PidfdChildWatcher`, `ThreadedChildWatcher` | `ChildWatcher::Pidfd`, `ChildWatcher::Threaded`; the default `ChildWatcher::Auto` takes a pidfd where the kernel has one (Linux >= 5.3), a thread per child elsewhere; never a `SIGCHLD` handler; `.child_watcher(w)` on the builder |
// Checklist: L3, D10, L65, S14, S15.
