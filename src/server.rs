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
use std::future::{poll_fn, Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};

use mio::Interest;

use crate::constants::{ACCEPT_RETRY_DELAY, DEFAULT_BACKLOG};
use crate::error::Error;
use crate::event_loop::exception::{ExceptionContext, PanicError};
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::net::connect::AddressFamily;
use crate::net::resolve::resolve;
use crate::net::socket_opts::{bind_tcp_listener, bind_unix_listener, listen, ListenOptions};
use crate::protocol::{Protocol, ProtocolRef};
use crate::slots::SlotKey;
use crate::transport::socket::{ConnectionTracker, Socket, SocketTransport};
use crate::transport::Address;

/// A listening socket of either family.
enum Listener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

impl Listener {
    fn accept(&self) -> io::Result<(Socket, Option<Address>)> {
        match self {
            Listener::Tcp(l) => l
                .accept()
                .map(|(s, a)| (Socket::Tcp(s), Some(Address::Inet(a)))),
            Listener::Unix(l) => l
                .accept()
                .map(|(s, a)| (Socket::Unix(s), Some(Address::Unix(a)))),
        }
    }

    fn address(&self) -> Option<Address> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok().map(Address::Inet),
            Listener::Unix(l) => l.local_addr().ok().map(Address::Unix),
        }
    }

    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            Listener::Tcp(l) => l,
            Listener::Unix(l) => l,
        }
    }
}

impl AsRawFd for Listener {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }
}

/// A source wrapper so `&mut dyn Source` can be registered.
struct DynSource<'a>(&'a mut dyn mio::event::Source);

impl mio::event::Source for DynSource<'_> {
    fn register(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        self.0.register(r, t, i)
    }
    fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: Interest) -> io::Result<()> {
        self.0.reregister(r, t, i)
    }
    fn deregister(&mut self, r: &mio::Registry) -> io::Result<()> {
        self.0.deregister(r)
    }
}

/// One listening socket and its accept loop.
struct Accepter {
    server: Weak<ServerInner>,
    me: Weak<Accepter>,
    listener: RefCell<Option<Listener>>,
    /// The socket as a `socket2::Socket` until `listen()` has been called on it.
    unlistened: RefCell<Option<socket2::Socket>>,
    key: Cell<Option<SlotKey>>,
    /// Accepting is paused after EMFILE & co. until the retry timer fires.
    backing_off: Cell<bool>,
}

type Factory = Rc<dyn Fn() -> ProtocolRef>;

struct ServerInner {
    lp: LoopHandle,
    factory: Factory,
    accepters: RefCell<Vec<Rc<Accepter>>>,
    backlog: u32,
    serving: Cell<bool>,
    closed: Cell<bool>,
    /// Live connections by transport id (L110). Weak: the server does not keep them alive.
    clients: RefCell<HashMap<u64, Weak<SocketTransport>>>,
    /// `wait_closed` and `serve_forever` waiters.
    waiters: RefCell<Vec<Waker>>,
    serving_forever: Cell<bool>,
    /// A Unix socket file to unlink on close if it still has this (device, inode) (L119).
    cleanup: RefCell<Option<(PathBuf, u64, u64)>>,
    /// TLS for accepted connections (T36).
    #[cfg(feature = "tls")]
    tls: crate::tls::ServerOptions,
}

impl ConnectionTracker for ServerInner {
    fn detach(&self, id: u64) {
        self.clients.borrow_mut().remove(&id);
        self.wake_if_done();
    }
}

impl ServerInner {
    fn wake_all(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }

    fn wake_if_done(&self) {
        if self.closed.get() && self.clients.borrow().is_empty() {
            self.wake_all();
        }
    }

    /// Python's `_accept_connection2`: protocol, transport, attach (L103).
    fn new_connection(self: &Rc<Self>, sock: Socket, peer: Option<Address>) {
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
                return;
            }
        };
        // T36: under TLS the protocol's connection_made waits for the handshake.
        #[cfg(feature = "tls")]
        let protocol = match self.tls.wrap(&self.lp, protocol) {
            Ok(p) => p,
            Err(e) => {
                log::debug!(target: "asyncio", "Error on transport creation for incoming connection: {e}");
                return;
            }
        };
        let tracker = self.clone() as Rc<dyn ConnectionTracker>;
        match SocketTransport::create(&self.lp, sock, protocol, peer, Some(tracker)) {
            Ok(t) => {
                self.clients
                    .borrow_mut()
                    .insert(t.handle().id(), Rc::downgrade(&t));
            }
            Err(e) => {
                log::debug!(target: "asyncio", "Error on transport creation for incoming connection: {e}");
            }
        }
    }
}

impl Accepter {
    fn start(self: &Rc<Self>, lp: &LoopHandle, backlog: u32) -> Result<(), Error> {
        if let Some(s) = self.unlistened.borrow_mut().take() {
            listen(&s, backlog)?;
            let listener = if s.domain()? == socket2::Domain::UNIX {
                Listener::Unix(mio::net::UnixListener::from_std(s.into()))
            } else {
                Listener::Tcp(mio::net::TcpListener::from_std(s.into()))
            };
            *self.listener.borrow_mut() = Some(listener);
        }
        if self.key.get().is_some() {
            return Ok(());
        }
        let mut guard = self.listener.borrow_mut();
        let (Some(listener), Some(server)) = (guard.as_mut(), self.server.upgrade()) else {
            return Ok(());
        };
        let fd = listener.as_raw_fd();
        let armed = Armed {
            accepter: self.clone(),
            _server: server,
        };
        let key = lp.inner.register_handler(
            &mut DynSource(listener.source()),
            fd,
            Interest::READABLE,
            Rc::new(armed) as Rc<dyn IoHandler>,
        )?;
        self.key.set(Some(key));
        drop(guard);
        // Connections may already be waiting in the backlog: look once.
        let me = self.clone();
        lp.call_soon(move || me.accept_round())?;
        Ok(())
    }

    fn stop(&self, lp: &LoopHandle) {
        let key = self.key.take();
        let listener = self.listener.borrow_mut().take();
        if let (Some(key), Some(mut listener)) = (key, listener) {
            lp.inner.deregister(key, &mut DynSource(listener.source()));
        }
        drop(self.unlistened.borrow_mut().take());
    }

    /// Accepts up to `backlog` connections (L101, L102, D6).
    fn accept_round(&self) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        if self.backing_off.get() || self.key.get().is_none() {
            return;
        }
        for _ in 0..server.backlog.max(1) {
            let accepted = match self.listener.borrow().as_ref() {
                Some(l) => l.accept(),
                None => return,
            };
            match accepted {
                Ok((sock, peer)) => server.new_connection(sock, peer),
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => continue,
                    _ if is_out_of_resources(&e) => {
                        self.back_off(&server, e);
                        return;
                    }
                    _ => {
                        server.lp.call_exception_handler(
                            &ExceptionContext::new("Exception in callback accept")
                                .with_exception(Box::new(e)),
                        );
                        return;
                    }
                },
            }
        }
        // Backlog-sized round done with connections possibly still queued: go on next turn.
        if let Some(me) = self.me.upgrade() {
            let _ = server.lp.call_soon(move || me.accept_round());
        }
    }

    fn back_off(&self, server: &Rc<ServerInner>, e: io::Error) {
        self.backing_off.set(true);
        let socket = self
            .listener
            .borrow()
            .as_ref()
            .and_then(Listener::address)
            .map(|a| a.to_string())
            .unwrap_or_default();
        server.lp.call_exception_handler(
            &ExceptionContext::new("socket.accept() out of system resource")
                .with_exception(Box::new(e))
                .with_detail("socket", socket),
        );
        let me = self.me.clone();
        let _ = server.lp.call_later(ACCEPT_RETRY_DELAY, move || {
            if let Some(me) = me.upgrade() {
                me.backing_off.set(false);
                me.accept_round();
            }
        });
    }
}

fn is_out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// What the loop holds while a listener is registered: its accepter, and the server, so that
/// a server whose handles are all dropped keeps serving until closed. Python behaves the same:
/// the loop's accept callback references the server (L107). Deregistering (close) or closing
/// the loop drops this, so no cycle outlives either.
struct Armed {
    accepter: Rc<Accepter>,
    _server: Rc<ServerInner>,
}

impl IoHandler for Armed {
    fn io_ready(&self, readiness: Readiness) {
        if readiness.is_readable() {
            self.accepter.accept_round();
        }
    }

    fn loop_closed(&self) {
        drop(self.accepter.listener.borrow_mut().take());
    }
}

/// A server from [`LoopHandle::create_server`] or [`LoopHandle::create_unix_server`] (Python's
/// `asyncio.Server`). Cloning gives another handle to the same server. Dropping every handle
/// does not stop a listening server: as in Python, the loop keeps it until [`close`](Self::close).
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
    /// Addresses of the listening sockets; empty after [`close`](Self::close) (L104).
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
    pub fn get_loop(&self) -> LoopHandle {
        self.inner.lp.clone()
    }

    /// True from the start of serving until [`close`](Self::close) (L104).
    pub fn is_serving(&self) -> bool {
        self.inner.serving.get()
    }

    /// How many accepted connections are still alive.
    pub fn connection_count(&self) -> usize {
        self.inner.clients.borrow().len()
    }

    fn start(&self) -> Result<(), Error> {
        let inner = &self.inner;
        if inner.closed.get() {
            return Err(Error::invalid_state("server is closed"));
        }
        if inner.serving.replace(true) {
            return Ok(());
        }
        let accepters = inner.accepters.borrow().clone();
        for a in accepters {
            a.start(&inner.lp, inner.backlog)?;
        }
        Ok(())
    }

    /// Starts listening if not yet (L105), then yields one iteration. Idempotent.
    ///
    /// # Errors
    /// `InvalidState` on a closed server; `Io` if `listen` fails.
    pub async fn start_serving(&self) -> Result<(), Error> {
        self.start()?;
        crate::yield_now().await;
        Ok(())
    }

    /// Stops listening (L107): closes the listening sockets, stops `serve_forever`, leaves
    /// accepted connections open. Idempotent.
    pub fn close(&self) {
        let inner = &self.inner;
        if inner.closed.replace(true) {
            return;
        }
        inner.serving.set(false);
        let accepters = std::mem::take(&mut *inner.accepters.borrow_mut());
        for a in &accepters {
            a.stop(&inner.lp);
        }
        if let Some((path, dev, ino)) = inner.cleanup.borrow_mut().take() {
            cleanup_unix_path(&path, dev, ino);
        }
        inner.wake_all(); // serve_forever waits on the same list
    }

    /// Closes every accepted connection gracefully (L110).
    pub fn close_clients(&self) {
        for t in self.client_snapshot() {
            crate::transport::TransportImpl::close(&*t);
        }
    }

    /// Aborts every accepted connection (L110).
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

    /// Waits until the server is closed and every connection it accepted has ended (L108,
    /// 3.12.1+ behaviour); returns at once if both already hold.
    pub async fn wait_closed(&self) {
        let inner = self.inner.clone();
        poll_fn(move |cx| {
            if inner.closed.get() && inner.clients.borrow().is_empty() {
                Poll::Ready(())
            } else {
                inner.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    /// Serves until [`close`](Self::close) is called, then waits for the connections to end
    /// and returns `Err(Error::Cancelled)`, as Python's `serve_forever` raises CancelledError
    /// (L106). Dropping the future closes the server (without waiting).
    ///
    /// # Errors
    /// `InvalidState` if the server is closed or another `serve_forever` is running;
    /// `Cancelled` when it ends.
    pub async fn serve_forever(&self) -> Result<(), Error> {
        if self.inner.serving_forever.get() {
            return Err(Error::invalid_state(
                "server is already being awaited on serve_forever()",
            ));
        }
        if self.inner.closed.get() {
            return Err(Error::invalid_state("server is closed"));
        }
        self.start()?;
        self.inner.serving_forever.set(true);
        struct Guard(Server);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.inner.serving_forever.set(false);
                self.0.close();
            }
        }
        let guard = Guard(self.clone());
        let inner = self.inner.clone();
        poll_fn(move |cx| {
            if inner.closed.get() {
                Poll::Ready(())
            } else {
                inner.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        self.wait_closed().await;
        drop(guard);
        Err(Error::Cancelled)
    }

    /// Python's `async with server:` (L109): runs `body`, then closes the server and waits for
    /// it ([`wait_closed`](Self::wait_closed)), whatever `body` returned.
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

fn cleanup_unix_path(path: &Path, dev: u64, ino: u64) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.dev() == dev && m.ino() == ino => {
            if let Err(e) = std::fs::remove_file(path) {
                log::error!(target: "asyncio", "Unable to clean up listening UNIX socket {}: {e}", path.display());
            }
        }
        Ok(_) => {} // replaced by someone else: leave it (L119)
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            log::error!(target: "asyncio", "Unable to clean up listening UNIX socket {}: {e}", path.display());
        }
    }
}

enum Bind {
    Tcp { hosts: Vec<String>, port: u16 },
    TcpSock(std::net::TcpListener),
    Unix(PathBuf),
    UnixSock(std::os::unix::net::UnixListener),
}

/// The pending result of [`LoopHandle::create_server`] /
/// [`LoopHandle::create_unix_server`]: set keywords, then `.await` it for a [`Server`].
#[must_use = "a server builder does nothing until awaited"]
pub struct CreateServer {
    lp: LoopHandle,
    factory: Factory,
    bind: Bind,
    /// Set when `sock` was given along with a host/port or path: the L96/L114 error text.
    conflict: Option<&'static str>,
    family: AddressFamily,
    backlog: u32,
    reuse_address: bool,
    reuse_port: bool,
    keep_alive: bool,
    start_serving: bool,
    cleanup_socket: bool,
    /// `ssl` and the TLS timeouts (S9, T36).
    #[cfg(feature = "tls")]
    tls: crate::tls::ServerOptions,
}

impl LoopHandle {
    /// Listens on `host:port` and runs a protocol made by `factory` on each accepted connection
    /// (Python's `loop.create_server`, L96–L100). An empty `host` binds every interface (IPv4
    /// and IPv6, separate sockets); `port` 0 lets the OS choose (per socket).
    ///
    /// Keywords: [`hosts`](CreateServer::hosts), [`family`](CreateServer::family),
    /// [`backlog`](CreateServer::backlog) (100), [`reuse_address`](CreateServer::reuse_address)
    /// (on), [`reuse_port`](CreateServer::reuse_port), [`keep_alive`](CreateServer::keep_alive),
    /// [`sock`](CreateServer::sock), [`start_serving`](CreateServer::start_serving) (on).
    pub fn create_server<P, F>(&self, factory: F, host: &str, port: u16) -> CreateServer
    where
        P: Protocol + 'static,
        F: Fn() -> P + 'static,
    {
        let hosts = if host.is_empty() {
            Vec::new()
        } else {
            vec![host.to_string()]
        };
        CreateServer::new(self, factory, Bind::Tcp { hosts, port })
    }

    /// Listens on the Unix socket `path` (Python's `loop.create_unix_server`, L114–L119): a
    /// stale socket file there is removed first, any other file is left alone (and binding
    /// fails); the file is removed again on close unless replaced meanwhile. A leading NUL
    /// byte names an abstract socket (nothing to remove).
    pub fn create_unix_server<P, F>(&self, factory: F, path: impl AsRef<Path>) -> CreateServer
    where
        P: Protocol + 'static,
        F: Fn() -> P + 'static,
    {
        CreateServer::new(self, factory, Bind::Unix(path.as_ref().to_path_buf()))
    }
}

impl CreateServer {
    fn new<P, F>(lp: &LoopHandle, factory: F, bind: Bind) -> Self
    where
        P: Protocol + 'static,
        F: Fn() -> P + 'static,
    {
        let factory: Factory = Rc::new(move || Rc::new(RefCell::new(factory())) as ProtocolRef);
        Self::with_factory(lp, factory, bind)
    }

    pub(crate) fn with_raw_factory(
        lp: &LoopHandle,
        factory: Factory,
        host: &str,
        port: u16,
    ) -> Self {
        let hosts = if host.is_empty() {
            Vec::new()
        } else {
            vec![host.to_string()]
        };
        Self::with_factory(lp, factory, Bind::Tcp { hosts, port })
    }

    pub(crate) fn with_raw_factory_unix(lp: &LoopHandle, factory: Factory, path: &Path) -> Self {
        Self::with_factory(lp, factory, Bind::Unix(path.to_path_buf()))
    }

    fn with_factory(lp: &LoopHandle, factory: Factory, bind: Bind) -> Self {
        CreateServer {
            lp: lp.clone(),
            factory,
            bind,
            conflict: None,
            family: AddressFamily::Unspecified,
            backlog: DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
            keep_alive: false,
            start_serving: true,
            cleanup_socket: true,
            #[cfg(feature = "tls")]
            tls: Default::default(),
        }
    }

    /// Binds every one of these hosts (Python passes a sequence as `host`, L97).
    pub fn hosts<S: AsRef<str>>(mut self, hosts: &[S]) -> Self {
        if let Bind::Tcp { hosts: h, .. } = &mut self.bind {
            *h = hosts
                .iter()
                .map(|s| s.as_ref().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        self
    }

    /// Binds only addresses of this family.
    pub fn family(mut self, family: AddressFamily) -> Self {
        self.family = family;
        self
    }

    /// `listen()` backlog, and the most connections accepted per readiness event (100).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// `SO_REUSEADDR` (on by default, as on POSIX in Python).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT` (off by default).
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// `SO_KEEPALIVE` on the listening sockets (Python 3.13's `keep_alive`).
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }

    /// Listen now (default) or only at [`Server::start_serving`]/[`Server::serve_forever`]
    /// (L100): until then the sockets are bound but connections are refused.
    pub fn start_serving(mut self, on: bool) -> Self {
        self.start_serving = on;
        self
    }

    /// Unix servers: remove the socket file on close (default on, Python 3.13, L119).
    pub fn cleanup_socket(mut self, on: bool) -> Self {
        self.cleanup_socket = on;
        self
    }

    /// Serves on an already bound socket instead of binding (L96, L120). With a host or path
    /// given too it is an error.
    pub fn sock(mut self, sock: impl Into<ListenSocket>) -> Self {
        self.conflict = match &self.bind {
            Bind::Tcp { hosts, port } if !hosts.is_empty() || *port != 0 => {
                Some("host/port and sock can not be specified at the same time")
            }
            Bind::Unix(_) => Some("path and sock can not be specified at the same time"),
            _ => None,
        };
        self.bind = match sock.into() {
            ListenSocket::Tcp(l) => Bind::TcpSock(l),
            ListenSocket::Unix(l) => Bind::UnixSock(l),
        };
        self
    }

    async fn run(self) -> Result<Server, Error> {
        if let Some(conflict) = self.conflict {
            return Err(Error::invalid_argument(conflict));
        }
        #[cfg(feature = "tls")]
        self.tls.check()?;
        let opts = ListenOptions {
            reuse_address: self.reuse_address,
            reuse_port: self.reuse_port,
            keep_alive: self.keep_alive,
        };
        let mut sockets = Vec::new();
        let mut cleanup = None;
        match &self.bind {
            Bind::Tcp { hosts, port } => {
                let mut addrs: Vec<SocketAddr> = Vec::new();
                if hosts.is_empty() {
                    addrs = resolve(None, *port, self.family.family(), true).await?;
                } else {
                    for h in hosts {
                        addrs.extend(resolve(Some(h), *port, self.family.family(), true).await?);
                    }
                }
                let mut seen = std::collections::HashSet::new();
                addrs.retain(|a| seen.insert(*a));
                for addr in addrs {
                    match bind_tcp_listener(&addr, opts) {
                        Ok(s) => sockets.push(s),
                        // A disabled family (no IPv6 here) is skipped, as the newest CPython does.
                        Err(e)
                            if e.kind() == io::ErrorKind::AddrNotAvailable && hosts.is_empty() => {}
                        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
                        Err(e) => return Err(Error::Io(e)),
                    }
                }
                if sockets.is_empty() {
                    return Err(Error::Io(io::Error::new(
                        io::ErrorKind::AddrNotAvailable,
                        "could not bind on any address",
                    )));
                }
            }
            Bind::TcpSock(l) => {
                let s = socket2::Socket::from(l.try_clone()?);
                s.set_nonblocking(true)?;
                sockets.push(s);
            }
            Bind::Unix(path) => {
                let abstract_name = path.as_os_str().as_encoded_bytes().first() == Some(&0);
                if !abstract_name {
                    remove_stale_socket(path);
                }
                // socket2 reads a leading NUL byte as a Linux abstract name (L117).
                let addr = socket2::SockAddr::unix(path)?;
                let s = bind_unix_listener(&addr, path)?;
                if !abstract_name && self.cleanup_socket {
                    if let Ok(m) = std::fs::metadata(path) {
                        cleanup = Some((path.clone(), m.dev(), m.ino()));
                    }
                }
                sockets.push(s);
            }
            Bind::UnixSock(l) => {
                let s = socket2::Socket::from(l.try_clone()?);
                s.set_nonblocking(true)?;
                if self.cleanup_socket {
                    if let Some(path) = l
                        .local_addr()
                        .ok()
                        .and_then(|a| a.as_pathname().map(Path::to_path_buf))
                    {
                        if let Ok(m) = std::fs::metadata(&path) {
                            cleanup = Some((path, m.dev(), m.ino()));
                        }
                    }
                }
                sockets.push(s);
            }
        }
        let inner = Rc::new_cyclic(|weak: &Weak<ServerInner>| {
            let accepters = sockets
                .into_iter()
                .map(|s| {
                    Rc::new_cyclic(|me| Accepter {
                        server: weak.clone(),
                        me: me.clone(),
                        listener: RefCell::new(None),
                        unlistened: RefCell::new(Some(s)),
                        key: Cell::new(None),
                        backing_off: Cell::new(false),
                    })
                })
                .collect();
            ServerInner {
                lp: self.lp.clone(),
                factory: self.factory.clone(),
                accepters: RefCell::new(accepters),
                backlog: self.backlog,
                serving: Cell::new(false),
                closed: Cell::new(false),
                clients: RefCell::new(HashMap::new()),
                waiters: RefCell::new(Vec::new()),
                serving_forever: Cell::new(false),
                cleanup: RefCell::new(cleanup),
                #[cfg(feature = "tls")]
                tls: self.tls.clone(),
            }
        });
        let server = Server { inner };
        if self.start_serving {
            server.start_serving().await?;
        }
        Ok(server)
    }
}

/// L115: remove a socket file left by a previous run; leave anything else alone.
fn remove_stale_socket(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if let Err(e) = std::fs::remove_file(path) {
                log::error!(target: "asyncio", "Unable to check or remove stale UNIX socket {}: {e}", path.display());
            }
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            log::error!(target: "asyncio", "Unable to check or remove stale UNIX socket {}: {e}", path.display());
        }
    }
}

/// TLS keywords (feature `tls`, S9, L96, T36).
#[cfg(feature = "tls")]
impl CreateServer {
    /// Serve TLS with this configuration (Python's `ssl=<SSLContext>`; a bool is not accepted,
    /// S9): each accepted connection's handshake completes before its protocol's
    /// `connection_made`; failed handshakes close the socket and reach no protocol (T36).
    pub fn ssl(mut self, config: impl Into<std::sync::Arc<rustls::ServerConfig>>) -> Self {
        self.tls.ssl = Some(config.into());
        self
    }

    /// How long each handshake may take (default 60 s).
    pub fn ssl_handshake_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.tls.options.handshake_timeout = Some(timeout);
        self
    }

    /// How long each close_notify exchange may take (default 30 s).
    pub fn ssl_shutdown_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.tls.options.shutdown_timeout = Some(timeout);
        self
    }

    /// Report an EOF without close_notify as `Error::Tls` instead of a clean EOF (D9).
    pub fn ssl_require_close_notify(mut self, on: bool) -> Self {
        self.tls.options.require_close_notify = on;
        self
    }
}

impl IntoFuture for CreateServer {
    type Output = Result<Server, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}

/// An already bound listening socket to serve on (`create_server(sock=…)`).
#[derive(Debug)]
pub enum ListenSocket {
    /// A bound TCP listener.
    Tcp(std::net::TcpListener),
    /// A bound Unix listener.
    Unix(std::os::unix::net::UnixListener),
}

impl From<std::net::TcpListener> for ListenSocket {
    fn from(l: std::net::TcpListener) -> Self {
        ListenSocket::Tcp(l)
    }
}

impl From<std::os::unix::net::UnixListener> for ListenSocket {
    fn from(l: std::os::unix::net::UnixListener) -> Self {
        ListenSocket::Unix(l)
    }
}
