//! The accept loop: listening sockets and what happens on their readiness (CPython
//! `BaseSelectorEventLoop._accept_connection`, `_accept_connection2`; L101–L103, D6).

use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};

use mio::Interest;

use crate::constants::ACCEPT_RETRY_DELAY;
use crate::error::Error;
use crate::event_loop::exception::ExceptionContext;
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::net::socket_opts::listen;
use crate::slots::SlotKey;
use crate::transport::socket::Socket;
use crate::transport::Address;

use super::ServerInner;

/// A listening socket of either family.
pub(super) enum Listener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener),
}

impl Listener {
    pub(super) fn accept(&self) -> io::Result<(Socket, Option<Address>)> {
        match self {
            Listener::Tcp(l) => l
                .accept()
                .map(|(s, a)| (Socket::Tcp(s), Some(Address::Inet(a)))),
            Listener::Unix(l) => l
                .accept()
                .map(|(s, a)| (Socket::Unix(s), Some(Address::Unix(a)))),
        }
    }

    pub(super) fn address(&self) -> Option<Address> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok().map(Address::Inet),
            Listener::Unix(l) => l.local_addr().ok().map(Address::Unix),
        }
    }

    pub(super) fn source(&mut self) -> &mut dyn mio::event::Source {
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
pub(super) struct DynSource<'a>(&'a mut dyn mio::event::Source);

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
pub(super) struct Accepter {
    pub(super) server: Weak<ServerInner>,
    pub(super) me: Weak<Accepter>,
    pub(super) listener: RefCell<Option<Listener>>,
    /// The socket as a `socket2::Socket` until `listen()` has been called on it.
    pub(super) unlistened: RefCell<Option<socket2::Socket>>,
    pub(super) key: Cell<Option<SlotKey>>,
    /// Accepting is paused after EMFILE & co. until the retry timer fires.
    pub(super) backing_off: Cell<bool>,
    /// With `reserve_fd`: the spare descriptor (`/dev/null`), opened when serving starts.
    pub(super) spare: RefCell<Option<std::fs::File>>,
    /// With `reserve_fd`: out of descriptors since the last successful accept (one report).
    pub(super) exhausted: Cell<bool>,
}

impl Accepter {
    pub(super) fn start(self: &Rc<Self>, lp: &LoopHandle, backlog: u32) -> Result<(), Error> {
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
        if self.server.upgrade().is_some_and(|s| s.reserve_fd) && self.spare.borrow().is_none() {
            *self.spare.borrow_mut() = Some(std::fs::File::open("/dev/null")?);
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

    pub(super) fn stop(&self, lp: &LoopHandle) {
        let key = self.key.take();
        let listener = self.listener.borrow_mut().take();
        if let (Some(key), Some(mut listener)) = (key, listener) {
            lp.inner.deregister(key, &mut DynSource(listener.source()));
        }
        drop(self.unlistened.borrow_mut().take());
        drop(self.spare.borrow_mut().take());
    }

    /// Accepts up to `backlog` connections (L101, L102, D6).
    pub(super) fn accept_round(&self) {
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
                Ok((sock, peer)) => {
                    self.exhausted.set(false);
                    server.new_connection(sock, peer)
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => continue,
                    _ if is_out_of_resources(&e) => {
                        if !(server.reserve_fd && self.shed(&server, &e)) {
                            self.back_off(&server, e);
                        }
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

    /// libuv's reserve descriptor: frees the spare, accepts and closes each waiting connection
    /// with it, reopens the spare. False if there is no spare (the caller backs off instead).
    fn shed(&self, server: &Rc<ServerInner>, e: &io::Error) -> bool {
        if self.spare.borrow().is_none() {
            return false;
        }
        if !self.exhausted.replace(true) {
            self.report_exhaustion(server, io::Error::new(e.kind(), e.to_string()));
        }
        for _ in 0..server.backlog.max(1) {
            drop(self.spare.borrow_mut().take());
            let accepted = match self.listener.borrow().as_ref() {
                Some(l) => l.accept(),
                None => break,
            };
            let more = match accepted {
                Ok((sock, _)) => {
                    drop(sock); // a prompt close instead of a wait in the backlog
                    true
                }
                Err(_) => false, // WouldBlock: the backlog is empty
            };
            // The descriptor just freed (spare or shed socket) takes the spare back.
            *self.spare.borrow_mut() = std::fs::File::open("/dev/null").ok();
            if !more || self.spare.borrow().is_none() {
                break;
            }
        }
        if self.spare.borrow().is_none() {
            // The spare could not be reopened: fall back to the timed back-off.
            let again = std::fs::File::open("/dev/null").ok();
            *self.spare.borrow_mut() = again;
        }
        self.spare.borrow().is_some()
    }

    fn report_exhaustion(&self, server: &Rc<ServerInner>, e: io::Error) {
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
    }

    pub(super) fn back_off(&self, server: &Rc<ServerInner>, e: io::Error) {
        self.backing_off.set(true);
        self.report_exhaustion(server, e);
        let me = self.me.clone();
        let _ = server.lp.call_later(ACCEPT_RETRY_DELAY, move || {
            if let Some(me) = me.upgrade() {
                me.backing_off.set(false);
                me.accept_round();
            }
        });
    }
}

pub(super) fn is_out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// What the loop holds while a listener is registered: its accepter, and the server, so that
/// a server whose handles are all dropped keeps serving until closed. Python behaves the same:
/// the loop's accept callback references the server (L107). Deregistering (close) or closing
/// the loop drops this, so no cycle outlives either.
pub(super) struct Armed {
    pub(super) accepter: Rc<Accepter>,
    pub(super) _server: Rc<ServerInner>,
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
