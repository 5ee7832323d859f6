//! `loop.create_server`, `loop.create_unix_server` and `Server`: listening sockets, the accept
//! loop, and the bookkeeping of live connections.
//!
//! Mirrors `Server` and `BaseEventLoop.create_server` in CPython `Lib/asyncio/base_events.py`,
//! `_accept_connection`/`_accept_connection2` in `selector_events.py` and
//! `create_unix_server` in `unix_events.py` (L96–L110, L114–L120). Ground rules:
//! - each readiness event accepts up to `backlog` connections; with more pending, the rest are
//!   accepted in the next iteration (edge-triggered: no new event would come);
//! - EMFILE/ENFILE/ENOBUFS/ENOMEM end the accept round, are reported once per episode and pause
//!   accepting for `ACCEPT_RETRY_DELAY` (D6), never spinning;
//! - a connection is attached from its transport's creation until its `connection_lost` has run
//!   (L108); `wait_closed` waits for close *and* no connection left.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::hash::BuildHasherDefault;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::rc::{Rc, Weak};
use std::task::Poll;

use crate::error::Error;
use crate::event_loop::exception::{drop_contained, ExceptionContext, PanicError};
use crate::event_loop::io::FdHash;
use crate::event_loop::LoopHandle;
use crate::protocol::ProtocolRef;
use crate::time::yield_now;
use crate::transport::life_path::LifePath;
use crate::transport::listener::Listener;
use crate::transport::socket::{ConnectionTracker, Known, Socket, SocketTransport};
use crate::transport::Address;
use crate::wakers::{KeyedWakers, Withdraw};

mod accept;
mod create;
mod proxy_layer;
mod state;

use state::ServerState;

use accept::Accepter;
pub(crate) use create::{bind_each, bound_none, not_this_hosts};
pub use create::{CreateServer, ListenSocket};

type Factory = Rc<dyn Fn() -> ProtocolRef>;

struct ServerInner {
    lp: LoopHandle,
    factory: Factory,
    accepters: RefCell<Vec<Rc<Accepter>>>,
    backlog: u32,
    /// Keep a spare descriptor to shed connections when out of descriptors.
    reserve_fd: bool,
    state: Cell<ServerState>,
    /// Live connections by transport id (L110). Weak: the server does not keep them alive.
    /// Hashed with one multiplication, not std's SipHash (about 190 instructions per
    /// connection for the insert and the remove): the ids are the loop's own counter.
    clients: RefCell<HashMap<u64, Weak<SocketTransport>, BuildHasherDefault<FdHash>>>,
    /// `wait_closed` and `serve_forever` waiters, each under its own key (D12).
    waiters: RefCell<KeyedWakers>,
    /// A Unix socket file to unlink on close if it still has this (device, inode) (L119).
    cleanup: RefCell<Option<(PathBuf, u64, u64)>>,
    /// TLS for accepted connections (T36).
    #[cfg(feature = "tls")]
    tls: crate::tls::ServerOptions,
    /// PROXY protocol header before anything else (off by default).
    proxy: proxy_layer::ProxyOptions,
}

impl ConnectionTracker for ServerInner {
    fn detach(&self, id: u64) {
        self.clients.borrow_mut().remove(&id);
        self.wake_if_done();
    }
}

impl ServerInner {
    /// The one place the state changes, along the [`ServerState`] diagram; `close` may also
    /// find it closed already (a second close does nothing). Callers refuse what the server
    /// does not allow before they get here, so another move is a bug of ours: it asserts in
    /// debug builds and leaves the state as it was in release ones. Returns the state it
    /// left.
    fn set_state(&self, to: ServerState) -> ServerState {
        let from = self.state.get();
        let allowed = from.is_edge(to);
        debug_assert!(
            allowed || from == to && to == ServerState::Closed,
            "server state {from:?} -> {to:?}"
        );
        if allowed {
            self.state.set(to);
        }
        from
    }

    fn is_closed(&self) -> bool {
        self.state.get() == ServerState::Closed
    }

    pub(super) fn wake_all(&self) {
        let waiters = self.waiters.borrow_mut().take();
        for w in waiters {
            w.wake();
        }
    }

    /// Waits until `done` holds, re-checked whenever [`wake_all`](Self::wake_all) runs. The
    /// waker is filed under one key for the whole wait: polled again it is replaced, not
    /// added, and dropping the wait (a `timeout`, D12) takes it out.
    async fn wait_until(&self, done: impl Fn(&ServerInner) -> bool) {
        let mut wait = Withdraw::new(|key| {
            let waker = self.waiters.borrow_mut().remove(key);
            drop(waker); // after the borrow: dropping a waker may run code
        });
        poll_fn(|cx| {
            if done(self) {
                return Poll::Ready(());
            }
            let old = self.waiters.borrow_mut().file(&mut wait.key, cx.waker());
            drop(old);
            Poll::Pending
        })
        .await
    }

    pub(super) fn wake_if_done(&self) {
        if self.is_closed() && self.clients.borrow().is_empty() {
            self.wake_all();
        }
    }

    /// Python's `_accept_connection2`: protocol, transport, attach (L103). `sockname`: the
    /// connection's own address when its listener's says it (else the transport asks).
    pub(super) fn new_connection(
        self: &Rc<Self>,
        sock: Socket,
        peer: Option<Address>,
        sockname: Option<Address>,
    ) {
        // The factory is user code run from the accept round: a panic must not unwind through
        // the loop, and the accepted socket is closed (dropped) rather than leaked (L103).
        let protocol = match catch_unwind(AssertUnwindSafe(|| (self.factory)())) {
            Ok(p) => p,
            Err(payload) => {
                drop(sock);
                self.lp.call_exception_handler(
                    &ExceptionContext::new("Error on transport creation for incoming connection")
                        .with_exception(Box::new(PanicError::from_payload(&*payload))),
                );
                // After the report, caught: a payload's `Drop` is user code (L18).
                drop_contained(Some(&self.lp), "a panic payload", payload);
                return;
            }
        };
        // T36: under TLS the protocol's connection_made waits for the handshake.
        #[cfg(feature = "tls")]
        let protocol = match self.tls.wrap(&self.lp, protocol) {
            Ok(p) => p,
            Err(e) => {
                crate::event_loop::debug::debug_log!(
                    "Error on transport creation for incoming connection: {e}"
                );
                return;
            }
        };
        // The PROXY header comes first on the wire, before any TLS record.
        let protocol = self.proxy.wrap(&self.lp, protocol);
        let known = Known {
            sockname,
            peername: peer,
            server: Some(self.clone() as Rc<dyn ConnectionTracker>),
        };
        match SocketTransport::create_named(&self.lp, sock, protocol, known) {
            Ok(t) => {
                self.clients
                    .borrow_mut()
                    .insert(t.handle().id(), Rc::downgrade(&t));
            }
            Err(e) => {
                crate::event_loop::debug::debug_log!(
                    "Error on transport creation for incoming connection: {e}"
                );
            }
        }
    }
}

/// A server from [`LoopHandle::create_server`] or [`LoopHandle::create_unix_server`] (Python's
/// `asyncio.Server`). Cloning gives another handle to the same server. Dropping every handle
/// does not stop a listening server: as in Python, the loop keeps it until [`close`](Self::close).
///
/// # Examples
///
/// ```
/// asyncio::run(async {
/// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
/// #       w.write(&r.read(100).await?)?;
/// #       w.close();
/// #       w.wait_closed().await
/// #   };
///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
///     let port = server.sockets()[0].port().unwrap();
///     assert!(server.is_serving());
///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
///     writer.write(b"hi")?;
///     assert_eq!(reader.read(100).await?, b"hi");
///     server.close();
///     server.wait_closed().await; // closed, and every connection has ended
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Rc<ServerInner>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("sockets", &self.sockets())
            .field("serving", &self.is_serving())
            .finish()
    }
}

impl Server {
    /// Addresses of the listening sockets; empty after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     let addr = server.sockets()[0].as_inet().unwrap();
    ///     assert!(addr.ip().is_loopback() && addr.port() != 0); // the port the OS chose
    ///     server.close();
    ///     assert!(server.sockets().is_empty());
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L104.
    pub fn sockets(&self) -> Vec<Address> {
        self.inner
            .accepters
            .borrow()
            .iter()
            .filter_map(|a| {
                a.listener
                    .borrow()
                    .as_ref()
                    .and_then(Listener::address)
                    .or_else(|| {
                        a.unlistened
                            .borrow()
                            .as_ref()
                            .and_then(|s| s.local_addr().ok())
                            .and_then(|s| match s.as_socket() {
                                Some(inet) => Some(Address::Inet(inet)),
                                // A Unix server made with start_serving(false) (L104, L114).
                                None => s.as_unix().map(Address::Unix),
                            })
                    })
            })
            .collect()
    }

    /// The loop the server runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     server.get_loop().call_soon(|| println!("on the server's loop"))?;
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn get_loop(&self) -> LoopHandle {
        self.inner.lp.clone()
    }

    /// True from the start of serving until [`close`](Self::close), or until the loop is
    /// closed, which closes the server with its listening sockets (CPython keeps them open,
    /// with nobody accepting, and says true until `close()`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let bye = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(bye, "127.0.0.1", 0)
    ///         .start_serving(false) // bound, not accepting yet
    ///         .await?;
    ///     assert!(!server.is_serving());
    ///     server.start_serving().await?;
    ///     assert!(server.is_serving());
    ///     server.close();
    ///     assert!(!server.is_serving());
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L104.
    pub fn is_serving(&self) -> bool {
        matches!(
            self.inner.state.get(),
            ServerState::Serving | ServerState::ServingForever
        )
    }

    /// How many accepted connections are still alive.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     // Each connection stays until the client closes it.
    ///     let hold = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    ///         w.write(b"!")?;
    ///         r.read(-1).await?;
    ///         w.close();
    ///         Ok::<_, asyncio::Error>(())
    ///     };
    ///     let server = asyncio::start_server(hold, "127.0.0.1", 0).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     assert_eq!(server.connection_count(), 0);
    ///     let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     reader.readexactly(1).await?; // the server side is surely accepted by now
    ///     assert_eq!(server.connection_count(), 1);
    ///     writer.close();
    ///     server.close();
    ///     server.wait_closed().await; // waits for that connection to end
    ///     assert_eq!(server.connection_count(), 0);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn connection_count(&self) -> usize {
        self.inner.clients.borrow().len()
    }

    fn start(&self) -> Result<(), Error> {
        let inner = &self.inner;
        match inner.state.get() {
            ServerState::Closed => return Err(Error::invalid_state("server is closed")),
            ServerState::Serving | ServerState::ServingForever => return Ok(()),
            ServerState::Bound => {
                // CPython's add_reader raises RuntimeError('Event loop is closed') (after
                // listen); ours refuses before changing anything, with the same error.
                inner.lp.inner.check_closed()?;
                inner.set_state(ServerState::Serving);
            }
        }
        let accepters = inner.accepters.borrow().clone();
        for a in accepters {
            if let Err(e) = a.start(&inner.lp, inner.backlog) {
                // A socket that failed to listen is gone and the ones before it may listen:
                // closed, the server says what it is, and a later start fails instead of
                // reporting success with nothing (or part of it) listening.
                self.close();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Starts listening if not yet, then yields one iteration. Idempotent.
    ///
    /// # Errors
    /// `InvalidState` on a closed server, or a server not yet serving whose loop is closed
    /// (`Event loop is closed`); `Io` if `listen` fails, which closes the server.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    ///     let server = asyncio::start_server(noop, "127.0.0.1", 0).start_serving(false).await?;
    ///     assert!(!server.is_serving()); // bound, not listening
    ///     server.start_serving().await?;
    ///     assert!(server.is_serving());
    ///     server.close();
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L105.
    pub async fn start_serving(&self) -> Result<(), Error> {
        self.start()?;
        yield_now().await;
        Ok(())
    }

    /// Stops listening: closes the listening sockets, stops `serve_forever`, leaves
    /// accepted connections open. Idempotent.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     server.close(); // stops listening; accepted connections stay open
    ///     assert!(!server.is_serving());
    ///     server.close(); // idempotent
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L107.
    pub fn close(&self) {
        let inner = &self.inner;
        if inner.set_state(ServerState::Closed) == ServerState::Closed {
            return;
        }
        let accepters = std::mem::take(&mut *inner.accepters.borrow_mut());
        for a in &accepters {
            a.stop(&inner.lp);
        }
        if let Some((path, dev, ino)) = inner.cleanup.borrow_mut().take() {
            cleanup_unix_path(&path, dev, ino);
        }
        inner.wake_all(); // serve_forever waits on the same list
    }

    /// Closes every accepted connection gracefully.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    /// #   asyncio::yield_now().await;
    ///     server.close();
    ///     server.close_clients(); // each client sees a clean EOF
    ///     assert_eq!(reader.read(-1).await?, b"");
    ///     server.wait_closed().await;
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L110.
    pub fn close_clients(&self) {
        for t in self.client_snapshot() {
            crate::transport::TransportImpl::close(&*t);
        }
    }

    /// Aborts every accepted connection.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     server.close();
    ///     server.abort_clients(); // drops their buffers and resets them
    ///     server.wait_closed().await;
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L110.
    pub fn abort_clients(&self) {
        for t in self.client_snapshot() {
            crate::transport::TransportImpl::abort(&*t);
        }
    }

    fn client_snapshot(&self) -> Vec<Rc<SocketTransport>> {
        self.inner
            .clients
            .borrow()
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Waits until the server is closed and every connection it accepted has ended (Python
    /// 3.12.1+ behaviour); returns at once if both already hold.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     server.close();
    ///     server.wait_closed().await; // no connection: returns at once
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L108.
    pub async fn wait_closed(&self) {
        let inner = self.inner.clone();
        inner
            .wait_until(|inner| inner.is_closed() && inner.clients.borrow().is_empty())
            .await
    }

    /// Serves until [`close`](Self::close) is called, then waits for the connections to end
    /// and returns `Ok(())` (Python raises CancelledError there only because of how it
    /// stops the wait, so a normal close is not an error here). Dropping the future closes the
    /// server (without waiting).
    ///
    /// # Errors
    /// `InvalidState` if the server is closed, another `serve_forever` is running, or the
    /// server is not yet serving and its loop is closed; `Io` if `listen` fails (the server
    /// is closed then).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     let closer = server.clone();
    ///     asyncio::get_running_loop()?.call_soon(move || closer.close())?;
    ///     server.serve_forever().await?; // until closed
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L106.
    pub async fn serve_forever(&self) -> Result<(), Error> {
        // Closed first: CPython's close() forgets the running serve_forever, so a call after
        // it is told the server is closed, even while that one waits for its connections.
        if self.inner.is_closed() {
            return Err(Error::invalid_state("server is closed"));
        }
        if self.inner.state.get() == ServerState::ServingForever {
            return Err(Error::invalid_state(
                "server is already being awaited on serve_forever()",
            ));
        }
        self.start()?;
        self.inner.set_state(ServerState::ServingForever);
        // However this ends (the close it waits for, or its future dropped): closed, the
        // only way out of `ServingForever`.
        struct Guard(Server);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.close();
            }
        }
        let guard = Guard(self.clone());
        let inner = self.inner.clone();
        inner.wait_until(ServerInner::is_closed).await;
        self.wait_closed().await;
        drop(guard);
        Ok(())
    }

    /// Python's `async with server:`: runs `body`, then closes the server and waits for
    /// it ([`wait_closed`](Self::wait_closed)), whatever `body` returned.
    ///
    /// That wait is for every connection the server accepted to end too (Python 3.12.1+;
    /// CPython 3.11's returns at once once the server is closed, and its `asyncio.run` then
    /// cancels the handlers left). A body that shuts down with a bound must end the
    /// connections itself before it returns, or `scope` waits for them without one:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    ///     // A handler that never ends by itself: it waits for its client to hang up.
    ///     let stay = |r: asyncio::StreamReader, _w: asyncio::StreamWriter| async move {
    ///         r.read_to_end().await.map(drop)
    ///     };
    ///     let server = asyncio::start_server(stay, "127.0.0.1", 0).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     let (reader, _writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///     server
    ///         .scope(|server| async move {
    ///             // ... until the shutdown signal: stop accepting, then wait with a bound.
    ///             server.close();
    ///             let waited = asyncio::timeout(Duration::from_millis(50), server.wait_closed());
    ///             if waited.await.is_err() {
    ///                 server.close_clients(); // or abort_clients(): else `scope` waits on
    ///             }
    ///         })
    ///         .await;
    ///     assert!(reader.read(100).await?.is_empty()); // the client saw EOF
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    /// #   let echo = |r: asyncio::StreamReader, w: asyncio::StreamWriter| async move {
    /// #       w.write(&r.read(100).await?)?;
    /// #       w.close();
    /// #       w.wait_closed().await
    /// #   };
    ///     let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
    ///     let port = server.sockets()[0].port().unwrap();
    ///     // `async with server:` — closed and waited for when the body ends
    ///     let echoed = server
    ///         .scope(|_server| async move {
    ///             let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
    ///             writer.write(b"ok")?;
    ///             let data = reader.read(100).await?;
    ///             writer.close();
    ///             Ok::<_, asyncio::Error>(data)
    ///         })
    ///         .await?;
    ///     assert_eq!(echoed, b"ok");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L108, L109.
    pub async fn scope<F, Fut, R>(self, body: F) -> R
    where
        F: FnOnce(Server) -> Fut,
        Fut: Future<Output = R>,
    {
        struct CloseOnDrop(Server);
        impl Drop for CloseOnDrop {
            fn drop(&mut self) {
                self.0.close();
            }
        }
        let guard = CloseOnDrop(self.clone());
        let r = body(self.clone()).await;
        self.close();
        self.wait_closed().await;
        drop(guard);
        r
    }
}

/// Unlinks `path` if it still names the socket file recorded after the bind (`dev`, `ino`,
/// from `metadata`, which follows symlinks, as CPython 3.13's `os.stat`). Looked up the same
/// way here: a symlink put in the socket's place that leads to the socket is removed (the
/// link, not its target), as CPython's cleanup removes it; one leading elsewhere, or nowhere,
/// is left.
// Checklist: L119.
fn cleanup_unix_path(path: &Path, dev: u64, ino: u64) {
    match std::fs::metadata(path) {
        Ok(m) if m.dev() == dev && m.ino() == ino => {
            if let Err(e) = std::fs::remove_file(path) {
                crate::event_loop::debug::error!(
                    "Unable to clean up listening UNIX socket {}: {e}",
                    path.display()
                );
            }
        }
        Ok(_) => {} // replaced by someone else: leave it (L119)
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            crate::event_loop::debug::error!(
                "Unable to clean up listening UNIX socket {}: {e}",
                path.display()
            );
        }
    }
}
