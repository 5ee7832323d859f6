//! Socket transport: one TCP or Unix stream, its write buffer and its interest.
//!
//! Mirrors `_SelectorTransport` and `_SelectorSocketTransport` in CPython
//! `Lib/asyncio/selector_events.py` (L44–L83). Ground rules:
//! - only `read_ready`/`write_ready` (and the fast path of `write`) touch the socket;
//! - no `RefCell` of this file is borrowed while a protocol method runs; the protocol itself is
//!   borrowed for exactly one call;
//! - `connection_lost` is never called from inside user code: it is queued with `call_soon`, or
//!   called by `write_ready` when a closing transport's buffer drains (L82);
//! - every failure goes `fatal_error` → `force_close` → `connection_lost(Some(err))`.
//!
//! Registration is edge-triggered (mio): readable + writable from the start, so a full send
//! buffer needs no `epoll_ctl` to wait for room; reading is paused by re-registering writable
//! only, and resumed by re-registering and attempting one read (the edge may have passed).
//! A read that fills less than the space offered means the kernel buffer is empty: no extra
//! `read` just to hear `WouldBlock`.
//!
//! State (Python tracks it with `_closing` and `_conn_lost`):
//! ```text
//!  Open ──close(), buffer non-empty──► Closing ──buffer drained──► Lost ──connection_lost ran──► Closed
//!    └──close() empty / abort() / fatal error──────────────────────►┘
//!                                        Closing ──abort() / fatal──►┘
//! ```

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};

use mio::event::Source;
use mio::{Interest, Registry, Token};

use super::flow_control::FlowControl;
use super::write_buffer::WriteBuffer;
use super::{is_ordinary_disconnect, Address, ExtraInfo, Transport, TransportImpl};
use crate::constants::{LOG_THRESHOLD_FOR_CONNLOST_WRITES, MAX_READ_SIZE};
use crate::error::Error;
use crate::event_loop::exception::{ExceptionContext, PanicError};
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::protocol::{is_busy, ProtocolRef};
use crate::slots::SlotKey;

/// A connected stream socket of either family.
#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Socket {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).read(buf),
            Socket::Unix(s) => (&*s).read(buf),
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).write(buf),
            Socket::Unix(s) => (&*s).write(buf),
        }
    }

    fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Socket::Tcp(s) => (&*s).write_vectored(bufs),
            Socket::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.shutdown(Shutdown::Write),
            Socket::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    pub(crate) fn local_addr(&self) -> Option<Address> {
        match self {
            Socket::Tcp(s) => s.local_addr().ok().map(Address::Inet),
            Socket::Unix(s) => s.local_addr().ok().map(Address::Unix),
        }
    }

    pub(crate) fn peer_addr(&self) -> Option<Address> {
        match self {
            Socket::Tcp(s) => s.peer_addr().ok().map(Address::Inet),
            Socket::Unix(s) => s.peer_addr().ok().map(Address::Unix),
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Socket::Tcp(s) => s.as_raw_fd(),
            Socket::Unix(s) => s.as_raw_fd(),
        }
    }
}

impl Source for Socket {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.register(r, t, i),
            Socket::Unix(s) => s.register(r, t, i),
        }
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.reregister(r, t, i),
            Socket::Unix(s) => s.reregister(r, t, i),
        }
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.deregister(r),
            Socket::Unix(s) => s.deregister(r),
        }
    }
}

/// Where the transport is in its life (see the module diagram).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum State {
    Open,
    /// `close()` was called with data buffered: flushing, then `connection_lost(None)`.
    Closing,
    /// `connection_lost` is queued (or being called from `write_ready`).
    Lost,
    /// `connection_lost` ran; the socket is closed.
    Closed,
}

/// The read side.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reading {
    /// Before the start-reading callback (L45).
    NotStarted,
    Active,
    Paused,
    /// EOF seen or the transport is closing: nothing will re-arm reading (L63).
    Done,
}

/// Told when a server's connection ends (Python's `Server._detach`).
pub(crate) trait ConnectionTracker {
    fn detach(&self, id: u64);
}

/// How many reads one readiness event may do before yielding to the rest of the loop (L59).
const READS_PER_EVENT: usize = 16;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct SocketTransport {
    lp: LoopHandle,
    id: u64,
    /// This transport, for handing out `Transport` handles and scheduling callbacks.
    me: Weak<SocketTransport>,
    /// `None` once closed.
    sock: RefCell<Option<Socket>>,
    /// The loop registration. Invariant: `Some` while `sock` is `Some`.
    key: Cell<Option<SlotKey>>,
    /// `None` after `connection_lost`.
    protocol: RefCell<Option<ProtocolRef>>,
    state: Cell<State>,
    reading: Cell<Reading>,
    buffer: RefCell<WriteBuffer>,
    flow: RefCell<FlowControl>,
    /// `write_eof()` was called.
    eof_written: Cell<bool>,
    /// The last readable event said the peer closed its side: read on to EOF.
    peer_closed: Cell<bool>,
    /// `shutdown(SHUT_WR)` has been done.
    shutdown_done: Cell<bool>,
    /// Writes dropped after connection loss (L81); starts counting at 1.
    conn_lost_writes: Cell<usize>,
    /// pause/resume_writing edges that found the protocol busy, oldest first (true = pause).
    deferred_flow: RefCell<Vec<bool>>,
    /// A transport-driven protocol call is running (deferred edges are flushed when it ends).
    in_protocol_call: Cell<bool>,
    fd: RawFd,
    sockname: Option<Address>,
    peername: Option<Address>,
    is_tcp: bool,
    server: RefCell<Option<Rc<dyn ConnectionTracker>>>,
}

impl SocketTransport {
    /// Wraps a connected non-blocking socket: registers it, then queues `connection_made` and
    /// the start of reading with two `call_soon`s (L45). The caller may queue a third to learn
    /// that `connection_made` has run.
    pub(crate) fn create(
        lp: &LoopHandle,
        sock: Socket,
        protocol: ProtocolRef,
        peername: Option<Address>,
        server: Option<Rc<dyn ConnectionTracker>>,
    ) -> Result<Rc<SocketTransport>, Error> {
        lp.inner.check_closed()?;
        let is_tcp = matches!(sock, Socket::Tcp(_));
        if let Socket::Tcp(s) = &sock {
            // L57 / D7: TCP_NODELAY on every TCP stream.
            s.set_nodelay(true)?;
        }
        let fd = sock.as_raw_fd();
        let sockname = sock.local_addr();
        let peername = peername.or_else(|| sock.peer_addr());
        let t = Rc::new_cyclic(|me| SocketTransport {
            lp: lp.clone(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            me: me.clone(),
            sock: RefCell::new(None),
            key: Cell::new(None),
            protocol: RefCell::new(Some(protocol)),
            state: Cell::new(State::Open),
            reading: Cell::new(Reading::NotStarted),
            buffer: RefCell::new(WriteBuffer::default()),
            flow: RefCell::new(FlowControl::default()),
            eof_written: Cell::new(false),
            peer_closed: Cell::new(false),
            shutdown_done: Cell::new(false),
            conn_lost_writes: Cell::new(0),
            deferred_flow: RefCell::new(Vec::new()),
            in_protocol_call: Cell::new(false),
            fd,
            sockname,
            peername,
            is_tcp,
            server: RefCell::new(server),
        });
        let mut sock = sock;
        let key = lp.inner.register_handler(
            &mut sock,
            fd,
            Interest::READABLE | Interest::WRITABLE,
            t.clone() as Rc<dyn IoHandler>,
        )?;
        t.key.set(Some(key));
        *t.sock.borrow_mut() = Some(sock);
        let made = t.clone();
        lp.call_soon(move || made.connection_made())?;
        let start = t.clone();
        lp.call_soon(move || start.start_reading())?;
        Ok(t)
    }

    pub(crate) fn handle(&self) -> Transport {
        Transport {
            inner: self.me.upgrade().expect("transport alive while in use"),
        }
    }

    fn set_state(&self, to: State) {
        let from = self.state.get();
        debug_assert!(
            to > from,
            "transport {}: state may only move forward, not {from:?} -> {to:?}",
            self.id
        );
        self.state.set(to);
    }

    fn protocol(&self) -> Option<ProtocolRef> {
        self.protocol.borrow().clone()
    }

    fn connection_made(&self) {
        let Some(proto) = self.protocol() else { return };
        let transport = self.handle();
        self.in_protocol_call.set(true);
        let r = catch_unwind(AssertUnwindSafe(|| match proto.try_borrow_mut() {
            Ok(mut p) => p.connection_made(transport),
            Err(_) => {
                log::warn!(target: "asyncio", "transport {}: protocol busy in connection_made", self.id)
            }
        }));
        self.in_protocol_call.set(false);
        if let Err(payload) = r {
            // L55: reported as a failed callback; reading still starts.
            self.lp.call_exception_handler(
                &ExceptionContext::new("Exception in callback connection_made")
                    .with_exception(Box::new(PanicError::from_payload(&*payload)))
                    .with_detail("transport", self.id.to_string()),
            );
        }
        self.flush_deferred_flow();
    }

    fn start_reading(&self) {
        if self.reading.get() == Reading::NotStarted && self.state.get() == State::Open {
            self.reading.set(Reading::Active);
            self.read_ready();
        }
    }

    /// Runs `f` as one transport-driven protocol call; edges deferred meanwhile follow it.
    fn protocol_call<R>(&self, f: impl FnOnce() -> R) -> R {
        let outer = self.in_protocol_call.replace(true);
        let r = f();
        self.in_protocol_call.set(outer);
        if !outer {
            self.flush_deferred_flow();
        }
        r
    }

    // ---- reading ------------------------------------------------------------------------

    fn read_ready(&self) {
        for _ in 0..READS_PER_EVENT {
            if self.reading.get() != Reading::Active || self.state.get() != State::Open {
                return;
            }
            let Some(proto) = self.protocol() else { return };
            let buffered = match proto.try_borrow_mut() {
                Ok(mut p) => p.as_buffered().is_some(),
                Err(_) => true, // busy: the buffered path reschedules
            };
            let drained = if buffered {
                self.read_into_buffered(&proto)
            } else {
                self.read_into_plain(&proto)
            };
            if drained {
                return;
            }
        }
        // Fair share used up with data still coming: continue in a later iteration (L59).
        if let Some(me) = self.me.upgrade() {
            let _ = self.lp.call_soon(move || me.read_ready());
        }
    }

    /// One read for a plain protocol, through the loop's shared buffer. True when the kernel
    /// buffer is known to be empty (or reading must stop).
    fn read_into_plain(&self, p: &ProtocolRef) -> bool {
        if is_busy(p) {
            // Held by someone across a loop turn: read later rather than read and drop.
            if let Some(me) = self.me.upgrade() {
                let _ = self.lp.call_soon(move || me.read_ready());
            }
            return true;
        }
        let mut buf = self.lp.inner.read_buf.take();
        if buf.len() < MAX_READ_SIZE {
            buf.resize(MAX_READ_SIZE, 0);
        }
        let result = self.sock_read(&mut buf);
        let drained = match result {
            Ok(0) => {
                self.lp.inner.read_buf.set(buf);
                self.on_eof();
                return true;
            }
            Ok(n) => {
                let delivered = self.protocol_call(|| {
                    let Ok(mut p) = p.try_borrow_mut() else {
                        return Err(None);
                    };
                    catch_unwind(AssertUnwindSafe(|| p.data_received(&buf[..n]))).map_err(Some)
                });
                match delivered {
                    Ok(()) => {}
                    Err(Some(payload)) => {
                        self.lp.inner.read_buf.set(buf);
                        self.protocol_failed("data_received", payload);
                        return true;
                    }
                    Err(None) => unreachable!("checked not busy before the read"),
                }
                n < buf.len() && !self.peer_closed.get()
            }
            Err(e) => {
                self.lp.inner.read_buf.set(buf);
                return self.read_error(e);
            }
        };
        self.lp.inner.read_buf.set(buf);
        drained
    }

    /// One read straight into a buffered protocol's memory (L50, L51).
    fn read_into_buffered(&self, p: &ProtocolRef) -> bool {
        enum Outcome {
            Data(usize, usize),
            Eof,
            Failed(io::Error),
            Panicked(&'static str, Box<dyn std::any::Any + Send>),
            Empty,
            Busy,
        }
        let outcome = self.protocol_call(|| {
            let Ok(mut p) = p.try_borrow_mut() else {
                return Outcome::Busy;
            };
            let Some(p) = p.as_buffered() else {
                return Outcome::Busy;
            };
            let got = catch_unwind(AssertUnwindSafe(|| {
                let buf = p.get_buffer(0);
                if buf.is_empty() {
                    return Err(None);
                }
                let offered = buf.len();
                self.sock_read(buf).map(|n| (n, offered)).map_err(Some)
            }));
            match got {
                Err(payload) => Outcome::Panicked("get_buffer", payload),
                Ok(Err(None)) => Outcome::Empty,
                Ok(Err(Some(e))) => Outcome::Failed(e),
                Ok(Ok((0, _))) => Outcome::Eof,
                Ok(Ok((n, offered))) => {
                    match catch_unwind(AssertUnwindSafe(|| p.buffer_updated(n))) {
                        Ok(()) => Outcome::Data(n, offered),
                        Err(payload) => Outcome::Panicked("buffer_updated", payload),
                    }
                }
            }
        });
        match outcome {
            Outcome::Data(n, offered) => n < offered && !self.peer_closed.get(),
            Outcome::Eof => {
                self.on_eof();
                true
            }
            Outcome::Failed(e) => self.read_error(e),
            Outcome::Panicked(what, payload) => {
                self.protocol_failed(what, payload);
                true
            }
            Outcome::Empty => {
                let e = Error::invalid_state("get_buffer() returned an empty buffer");
                self.fatal_error(
                    io::Error::other(e),
                    "Fatal error: protocol.get_buffer() call failed.",
                    true,
                );
                true
            }
            Outcome::Busy => {
                // The protocol is borrowed by someone else right now: try again next turn.
                if let Some(me) = self.me.upgrade() {
                    let _ = self.lp.call_soon(move || me.read_ready());
                }
                true
            }
        }
    }

    fn sock_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let sock = self.sock.borrow();
        let Some(sock) = sock.as_ref() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        loop {
            match sock.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }

    /// WouldBlock waits for the next edge (L60); anything else is fatal (L61).
    fn read_error(&self, e: io::Error) -> bool {
        if e.kind() != io::ErrorKind::WouldBlock {
            self.fatal_error(e, "Fatal read error on socket transport", false);
        }
        true
    }

    /// EOF from the peer (L62, L63): `eof_received` once; keep the write side open if it asks.
    fn on_eof(&self) {
        self.reading.set(Reading::Done);
        let Some(proto) = self.protocol() else { return };
        let result = self.protocol_call(|| {
            catch_unwind(AssertUnwindSafe(|| {
                proto.try_borrow_mut().map(|mut p| p.eof_received()).ok()
            }))
        });
        match result {
            Err(payload) => self.protocol_failed("eof_received", payload),
            Ok(Some(true)) => self.reregister(Interest::WRITABLE),
            Ok(_) => self.close(),
        }
    }

    fn reregister(&self, interest: Interest) {
        let Some(key) = self.key.get() else { return };
        let result = match self.sock.borrow_mut().as_mut() {
            Some(sock) => self.lp.inner.reregister(key, sock, interest),
            None => Ok(()),
        };
        if let Err(e) = result {
            self.fatal_error(e, "Fatal error re-registering the socket", false);
        }
    }

    // ---- writing ------------------------------------------------------------------------

    fn dropped_write(&self) {
        let n = self.conn_lost_writes.get();
        if n >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
            log::warn!(target: "asyncio", "socket.send() raised exception.");
        }
        self.conn_lost_writes.set(n + 1);
    }

    /// Sends from the fast path; returns how much the kernel took (0 on `WouldBlock`), or
    /// `None` after a fatal error.
    fn send_now(&self, f: impl Fn(&Socket) -> io::Result<usize>) -> Option<usize> {
        let result = {
            let sock = self.sock.borrow();
            let Some(sock) = sock.as_ref() else {
                return Some(0);
            };
            loop {
                match f(sock) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            }
        };
        match result {
            Ok(n) => Some(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(0),
            Err(e) => {
                self.fatal_error(e, "Fatal write error on socket transport", false);
                None
            }
        }
    }

    fn write_ready(&self) {
        if self.buffer.borrow().is_empty() {
            return;
        }
        let result = {
            let sock = self.sock.borrow();
            let Some(sock) = sock.as_ref() else { return };
            self.buffer.borrow_mut().flush_with(|b| sock.write(b))
        };
        match result {
            Err(e) => {
                self.fatal_error(e, "Fatal write error on socket transport", false);
                return;
            }
            Ok(0) => return,
            Ok(_) => {}
        }
        self.maybe_resume_protocol();
        if self.buffer.borrow().is_empty() {
            match self.state.get() {
                State::Closing => {
                    self.set_state(State::Lost);
                    self.call_connection_lost(None);
                }
                State::Open if self.eof_written.get() => self.do_shutdown(),
                _ => {}
            }
        }
    }

    fn do_shutdown(&self) {
        if self.shutdown_done.replace(true) {
            return;
        }
        let r = self.sock.borrow().as_ref().map(Socket::shutdown_write);
        if let Some(Err(e)) = r {
            if e.kind() != io::ErrorKind::NotConnected {
                self.fatal_error(e, "Fatal error on shutdown(SHUT_WR)", false);
            }
        }
    }

    fn maybe_pause_protocol(&self) {
        let size = self.buffer.borrow().len();
        if self.flow.borrow_mut().should_pause(size) {
            self.deliver_flow(true);
        }
    }

    fn maybe_resume_protocol(&self) {
        let size = self.buffer.borrow().len();
        if self.flow.borrow_mut().should_resume(size) {
            self.deliver_flow(false);
        }
    }

    /// Calls pause_writing/resume_writing now, or after the protocol call in progress (L49).
    fn deliver_flow(&self, pause: bool) {
        if !self.deferred_flow.borrow().is_empty() {
            self.deferred_flow.borrow_mut().push(pause);
            return;
        }
        let Some(proto) = self.protocol() else { return };
        if is_busy(&proto) {
            self.deferred_flow.borrow_mut().push(pause);
            if !self.in_protocol_call.get() {
                if let Some(me) = self.me.upgrade() {
                    let _ = self.lp.call_soon(move || me.flush_deferred_flow());
                }
            }
            return;
        }
        self.call_flow(&proto, pause);
    }

    fn call_flow(&self, proto: &ProtocolRef, pause: bool) {
        let r = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(mut p) = proto.try_borrow_mut() {
                if pause {
                    p.pause_writing()
                } else {
                    p.resume_writing()
                }
            }
        }));
        if let Err(payload) = r {
            let what = if pause {
                "pause_writing"
            } else {
                "resume_writing"
            };
            self.lp.call_exception_handler(
                &ExceptionContext::new(format!("protocol.{what}() failed"))
                    .with_exception(Box::new(PanicError::from_payload(&*payload)))
                    .with_detail("transport", self.id.to_string()),
            );
        }
    }

    fn flush_deferred_flow(&self) {
        loop {
            let next = {
                let mut d = self.deferred_flow.borrow_mut();
                if d.is_empty() {
                    return;
                }
                d.remove(0)
            };
            let Some(proto) = self.protocol() else {
                self.deferred_flow.borrow_mut().clear();
                return;
            };
            self.call_flow(&proto, next);
        }
    }

    // ---- closing ------------------------------------------------------------------------

    fn protocol_failed(&self, what: &str, payload: Box<dyn std::any::Any + Send>) {
        let panic = PanicError::from_payload(&*payload);
        let msg = format!("Fatal error: protocol.{what}() call failed.");
        self.lp.call_exception_handler(
            &ExceptionContext::new(msg.clone())
                .with_exception(Box::new(PanicError::from_payload(&*payload)))
                .with_detail("transport", self.id.to_string()),
        );
        self.force_close(Some(io::Error::other(panic)));
    }

    /// The error funnel (L80): OS errors are only debug-logged (L61), others reported.
    fn fatal_error(&self, err: io::Error, message: &str, report: bool) {
        if report {
            self.lp.call_exception_handler(
                &ExceptionContext::new(message)
                    .with_exception(Box::new(io::Error::new(err.kind(), err.to_string())))
                    .with_detail("transport", self.id.to_string()),
            );
        } else if is_ordinary_disconnect(&err) {
            log::debug!(target: "asyncio", "transport {}: {message}: {err}", self.id);
        } else {
            log::warn!(target: "asyncio", "transport {}: {message}: {err}", self.id);
        }
        self.force_close(Some(err));
    }

    /// Drops the buffer, stops reading and queues `connection_lost(exc)` once (L77, L80).
    fn force_close(&self, exc: Option<io::Error>) {
        if self.state.get() >= State::Lost {
            return;
        }
        self.buffer.borrow_mut().clear();
        self.reading.set(Reading::Done);
        self.set_state(State::Lost);
        if let Some(me) = self.me.upgrade() {
            let mut exc = exc;
            let queued = self
                .lp
                .call_soon(move || me.call_connection_lost(exc.take()));
            if queued.is_err() {
                // Loop closed: nothing will run; release what we hold now.
                self.release();
            }
        }
    }

    /// `connection_lost(exc)`, then close the socket and detach (L82).
    fn call_connection_lost(&self, exc: Option<io::Error>) {
        if self.state.get() == State::Closed {
            return;
        }
        self.set_state(State::Closed);
        if let Some(proto) = self.protocol() {
            let r = catch_unwind(AssertUnwindSafe(|| {
                if let Ok(mut p) = proto.try_borrow_mut() {
                    p.connection_lost(exc)
                }
            }));
            if let Err(payload) = r {
                self.lp.call_exception_handler(
                    &ExceptionContext::new("Exception in callback connection_lost")
                        .with_exception(Box::new(PanicError::from_payload(&*payload)))
                        .with_detail("transport", self.id.to_string()),
                );
            }
        }
        self.release();
    }

    /// Closes the socket, leaves the loop and the server, drops the protocol.
    fn release(&self) {
        let sock = self.sock.borrow_mut().take();
        if let (Some(mut sock), Some(key)) = (sock, self.key.take()) {
            self.lp.inner.deregister(key, &mut sock);
            drop(sock);
        }
        let proto = self.protocol.borrow_mut().take();
        drop(proto);
        self.deferred_flow.borrow_mut().clear();
        let server = self.server.borrow_mut().take();
        if let Some(server) = server {
            server.detach(self.id);
        }
    }
}

impl IoHandler for SocketTransport {
    fn io_ready(&self, readiness: Readiness) {
        if self.state.get() >= State::Lost {
            return; // L63: once connection_lost is queued, events are ignored
        }
        if readiness.is_readable() && self.reading.get() == Reading::Active {
            // Data and FIN in one edge: a short read must not end the round, or the EOF
            // would never be seen (no further edge comes).
            self.peer_closed.set(readiness.is_read_closed());
            self.read_ready();
        }
        if readiness.is_writable() && self.state.get() < State::Lost {
            self.write_ready();
        }
    }

    fn loop_closed(&self) {
        self.state.set(State::Closed);
        let proto = self.protocol.borrow_mut().take();
        drop(proto);
        let sock = self.sock.borrow_mut().take();
        drop(sock);
        let server = self.server.borrow_mut().take();
        drop(server);
    }
}

impl TransportImpl for SocketTransport {
    fn write(&self, data: &[u8]) -> Result<(), Error> {
        if self.eof_written.get() {
            return Err(Error::invalid_state(
                "Cannot call write() after write_eof()",
            ));
        }
        if data.is_empty() {
            return Ok(());
        }
        if self.state.get() >= State::Lost {
            self.dropped_write();
            return Ok(());
        }
        let mut rest = data;
        if self.buffer.borrow().is_empty() {
            // L65: fast path, nothing queued: try the kernel first.
            let Some(n) = self.send_now(|s| s.write(data)) else {
                return Ok(());
            };
            if n == data.len() {
                return Ok(());
            }
            rest = &data[n..];
        }
        self.buffer.borrow_mut().push(rest);
        self.maybe_pause_protocol();
        Ok(())
    }

    fn writelines(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        if self.eof_written.get() {
            return Err(Error::invalid_state(
                "Cannot call writelines() after write_eof()",
            ));
        }
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        if total == 0 {
            return Ok(());
        }
        if self.state.get() >= State::Lost {
            self.dropped_write();
            return Ok(());
        }
        let mut sent = 0;
        if self.buffer.borrow().is_empty() {
            let Some(n) = self.send_now(|s| s.write_vectored(chunks)) else {
                return Ok(());
            };
            sent = n;
        }
        if sent < total {
            let mut buffer = self.buffer.borrow_mut();
            let mut skip = sent;
            for c in chunks {
                if skip >= c.len() {
                    skip -= c.len();
                    continue;
                }
                buffer.push(&c[skip..]);
                skip = 0;
            }
            drop(buffer);
            self.maybe_pause_protocol();
        }
        Ok(())
    }

    fn write_eof(&self) -> Result<(), Error> {
        if self.state.get() != State::Open || self.eof_written.get() {
            return Ok(());
        }
        self.eof_written.set(true);
        if self.buffer.borrow().is_empty() {
            self.shutdown_done.set(true);
            if let Some(sock) = self.sock.borrow().as_ref() {
                sock.shutdown_write()?;
            }
        }
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        true
    }

    fn close(&self) {
        if self.state.get() != State::Open {
            return;
        }
        self.reading.set(Reading::Done);
        if self.buffer.borrow().is_empty() {
            self.set_state(State::Lost);
            if let Some(me) = self.me.upgrade() {
                if self
                    .lp
                    .call_soon(move || me.call_connection_lost(None))
                    .is_err()
                {
                    self.release();
                }
            }
        } else {
            self.set_state(State::Closing);
        }
    }

    fn abort(&self) {
        self.force_close(None);
    }

    fn is_closing(&self) -> bool {
        self.state.get() != State::Open
    }

    fn pause_reading(&self) {
        match self.reading.get() {
            Reading::Active | Reading::NotStarted if self.state.get() == State::Open => {
                self.reading.set(Reading::Paused);
                self.reregister(Interest::WRITABLE);
            }
            _ => {}
        }
    }

    fn resume_reading(&self) {
        if self.reading.get() != Reading::Paused || self.state.get() != State::Open {
            return;
        }
        self.reading.set(Reading::Active);
        self.reregister(Interest::READABLE | Interest::WRITABLE);
        // The readable edge may have come and gone while paused: look once.
        if let Some(me) = self.me.upgrade() {
            let _ = self.lp.call_soon(move || me.read_ready());
        }
    }

    fn is_reading(&self) -> bool {
        self.state.get() == State::Open
            && matches!(self.reading.get(), Reading::Active | Reading::NotStarted)
    }

    fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        self.flow.borrow_mut().set_limits(high, low)?;
        self.maybe_pause_protocol(); // L71: only the pause check
        Ok(())
    }

    fn get_write_buffer_size(&self) -> usize {
        self.buffer.borrow().len()
    }

    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.flow.borrow().limits()
    }

    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "peername" => self.peername.clone().map(ExtraInfo::Address),
            "sockname" => self.sockname.clone().map(ExtraInfo::Address),
            "socket" => Some(ExtraInfo::Fd(self.fd)),
            _ => None,
        }
    }

    fn set_protocol(&self, protocol: ProtocolRef) -> Result<(), Error> {
        let mut slot = self.protocol.borrow_mut();
        if let Some(old) = slot.as_ref() {
            if is_busy(old) {
                return Err(Error::invalid_state(
                    "set_protocol() called from inside a callback of the current protocol",
                ));
            }
        }
        if slot.is_some() {
            *slot = Some(protocol);
        }
        Ok(())
    }

    fn get_protocol(&self) -> Option<ProtocolRef> {
        self.protocol()
    }

    fn get_loop(&self) -> LoopHandle {
        self.lp.clone()
    }

    fn id(&self) -> u64 {
        self.id
    }
}

impl SocketTransport {
    /// Whether this is a TCP transport (not Unix).
    #[allow(dead_code)]
    pub(crate) fn is_tcp(&self) -> bool {
        self.is_tcp
    }
}
