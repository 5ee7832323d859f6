//! Socket transport: one TCP or Unix stream, its write buffer and its interest.
//!
//! Mirrors `_SelectorTransport` and `_SelectorSocketTransport` in CPython
//! `Lib/asyncio/selector_events.py` (L44–L83). Ground rules:
//! - only `read_ready`/`write_ready`, the fast path of `write`, and a stream's `read_into`
//!   through `read_through_into` (its reader empty, the edge handed to it by `read_ready`)
//!   touch the socket;
//! - the protocol is called only through its `ProtocolSlot` (`protocol.rs`, the one seam every
//!   transport shares): borrowed for exactly one call, panics handed back, flow edges queued
//!   during a call delivered after it, `connection_lost` once and last even if the protocol
//!   was busy; no `RefCell` of this file is borrowed while a protocol method runs;
//! - `connection_lost` is never called from inside user code: it is queued with `call_soon`, or
//!   called by `write_ready` when a closing transport's buffer drains (L82);
//! - every failure goes `fatal_error` → `force_close` → `connection_lost(Some(err))`.
//!
//! Registration is edge-triggered (mio): readable + writable from the start, so a full send
//! buffer needs no `epoll_ctl` to wait for room; reading is paused by re-registering writable
//! only, and resumed by re-registering readable, which makes the next poll report bytes or an
//! EOF already there (no read is attempted blind: the edge may have passed, the re-registration
//! announces it again).
//! A read that fills less than the space offered means the kernel buffer is empty: no extra
//! `read` just to hear `WouldBlock`.
//!
//! State (Python tracks it with `_closing` and `_conn_lost`) is the pipe transport's too:
//! `State` and `Reading` in `lifecycle.rs`, drawn there. The write path (fast path, flush,
//! water marks) is shared as well (`write_path.rs`); `write.rs` fills in the socket's side.
//! So are the ends of its life (`life_path.rs`: `connection_made`, the error funnel,
//! `force_close`, `call_connection_lost` and its busy-protocol retry, the loop closing): the
//! `LifePath` impl below gives it the socket's `release`, which also leaves the server.

use std::cell::{Cell, RefCell};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::task::Waker;

use mio::Interest;

use super::flow_control::FlowControl;
use super::life_path::LifePath;
use super::lifecycle::{Life, Reading, State};
use super::write_buffer::WriteBuffer;
use super::write_path::WritePath;
use super::{register_and_start, Address, ExtraInfo, StoredAddress, Through, TransportImpl};
use crate::error::Error;
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::protocol::{ProtocolRef, ProtocolSlot};
use crate::slots::SlotKey;

/// A connected stream socket of either family.
mod read;
mod sendfile;
mod stream;
mod sys;
#[cfg(test)]
mod tests;
mod write;

pub(crate) use sendfile::{closed_during_sendfile, sendfile_in_progress, SendJob, SendfileError};
pub(crate) use stream::Socket;

/// The sending side (L73, L74):
///
/// ```text
///   Open ──write_eof(), buffer empty──────────────────────────► ShutDown
///    │ └───write_eof(), bytes buffered──► EofPending ──drained──►┘   (shutdown(SHUT_WR))
///    └──StreamWriter::sendfile──► Sendfile ──done or failed──► Open
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WriteSide {
    Open,
    /// A sendfile owns the socket's sending side (`sendfile.rs`): no writes, no `write_eof`.
    Sendfile,
    /// `write_eof()` was called with bytes buffered: no more writes; shutdown once drained.
    EofPending,
    /// `shutdown(SHUT_WR)` was done (or attempted).
    ShutDown,
}

/// What the transport knows of the kernel's receive side beyond what the next readable edge
/// will say (edge-triggered: an edge already taken is not announced again):
///
/// ```text
///   Quiet ──edge before reading started──► PassedOver ──start of reading looks, or a
///                                                       resume re-registers──► Quiet
///   Quiet ──edge handed to a waiting read_into──► Through ──short read, WouldBlock,
///                                                  │          error, or read_into leaves──► Quiet
///                                                  └──read_into met the EOF──► EofUntold
///   Through ──a further edge──► Through;  EofUntold ──eof_received delivered──► Quiet
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum RecvSide {
    /// Nothing owed: new bytes come with a new edge.
    Quiet,
    /// A readable edge came before reading started and was passed over: the start of
    /// reading must look (`must_look_at_start`).
    PassedOver,
    /// An edge went to the read-through waiter, and no read since came up short: the kernel
    /// may hold bytes that no new edge will announce, so the next read-through reads at once
    /// (and one that leaves hands this back to the protocol path, `end_read_through`).
    Through,
    /// A read-through met the peer's EOF and the protocol has not been told: the next
    /// `read_ready` delivers `eof_received` without reading again into a reader already at
    /// EOF (`on_eof` ends it).
    EofUntold,
}

/// Told when a server's connection ends (Python's `Server._detach`).
pub(crate) trait ConnectionTracker {
    fn detach(&self, id: u64);
}

/// How many reads one readiness event may do before yielding to the rest of the loop (L59).
const READS_PER_EVENT: usize = 16;

pub(crate) struct SocketTransport {
    /// This transport, for handing out `Transport` handles and scheduling callbacks.
    me: Weak<SocketTransport>,
    /// `None` once closed.
    sock: RefCell<Option<Socket>>,
    /// The loop registration. Invariant: `Some` while `sock` is `Some`.
    key: Cell<Option<SlotKey>>,
    /// The protocol, called only through this slot (the seam: grammar, busy calls, panics,
    /// flow edges that arrive during a call). Empty after `connection_lost`.
    protocol: ProtocolSlot,
    /// `State` and `Reading`, changed only through their guarded setters.
    life: Life,
    buffer: RefCell<WriteBuffer>,
    flow: RefCell<FlowControl>,
    /// Our sending side: open, half-closed by `write_eof` with bytes still buffered, or shut
    /// down. Changed only by `set_write_side`.
    write_side: Cell<WriteSide>,
    /// Not a state but the last readable event's hint: the peer closed its side, so a short
    /// read does not mean drained; read on to EOF (no further edge will come).
    peer_closed: Cell<bool>,
    /// A `read_into` waiting to read through (see `read.rs`): the next readable edge wakes it
    /// instead of reading. Set and cleared only by the read-through methods and `release`.
    through: Cell<Option<Waker>>,
    /// What the kernel's receive side holds that no edge will announce. Changed only by
    /// `set_recv_side`.
    recv_side: Cell<RecvSide>,
    /// CPython's `_conn_lost` (L81): 1 once the connection is lost (`close`/`_force_close`
    /// count the loss itself), then one more per dropped write, so the fifth dropped write is
    /// the first warned about. Read only once the state is `Lost`, so it starts at 1.
    conn_lost_writes: Cell<u32>,
    /// Bytes the loop's close dropped from `buffer` and nobody has warned of yet: set as the
    /// loop closes, before the protocol is told; a TLS layer above takes it to say them with
    /// its own (one warning per connection), else `on_loop_closed` says them. 0 otherwise.
    unsent_at_close: Cell<usize>,
    fd: RawFd,
    sockname: StoredAddress,
    peername: StoredAddress,
    server: Cell<Option<Rc<dyn ConnectionTracker>>>,
}

/// What the creator of a socket transport may already know about the connection (the
/// accept loop does). One argument (a struct this size goes as one pointer) rather than
/// three: with them [`SocketTransport::create_named`] took more arguments than fit in
/// registers, and a caller that passes some on the stack gets a record of the stack depth
/// after each of its calls in its unwind tables.
#[derive(Default)]
pub(crate) struct Known {
    /// The socket's own address: given, it is not asked of the kernel (`getsockname`, L56).
    pub(crate) sockname: Option<Address>,
    /// The peer's address: given, it is not asked of the kernel (`getpeername`, L56).
    pub(crate) peername: Option<Address>,
    /// The server that accepted the connection, told when it ends.
    pub(crate) server: Option<Rc<dyn ConnectionTracker>>,
}

impl SocketTransport {
    /// The connection's number (kept once, by the protocol slot, for its reports too).
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.protocol.transport_id()
    }

    /// The loop (kept once, by the protocol slot).
    #[inline]
    pub(crate) fn lp(&self) -> &LoopHandle {
        self.protocol.lp()
    }

    /// Wraps a connected non-blocking socket: registers it, then queues `connection_made` and
    /// the start of reading with two `call_soon`s (L45). The caller may queue a third to learn
    /// that `connection_made` has run.
    pub(crate) fn create(
        lp: &LoopHandle,
        sock: Socket,
        protocol: ProtocolRef,
    ) -> Result<Rc<SocketTransport>, Error> {
        Self::create_named(lp, sock, protocol, Known::default())
    }

    /// [`create`](Self::create) with what the caller already knows about the connection
    /// ([`Known`]).
    pub(crate) fn create_named(
        lp: &LoopHandle,
        sock: Socket,
        protocol: ProtocolRef,
        known: Known,
    ) -> Result<Rc<SocketTransport>, Error> {
        let Known {
            sockname,
            peername,
            server,
        } = known;
        lp.inner.check_closed()?;
        let fd = sock.as_raw_fd();
        let sockname = sockname.or_else(|| sock.local_addr());
        // L57 / D7: TCP_NODELAY on every TCP stream, and only there: an inet address says the
        // family, with no syscall of its own. A stream of another family adopted in a
        // `TcpStream` (`sock=`) has none (CPython's `_set_nodelay` skips it: the option would
        // fail there).
        if let (Socket::Tcp(s), Some(Address::Inet(_))) = (&sock, &sockname) {
            s.set_nodelay(true)?;
        }
        let peername = peername.or_else(|| sock.peer_addr());
        let id = lp.next_conn_id();
        let t = Rc::new_cyclic(|me| SocketTransport {
            me: me.clone(),
            sock: RefCell::new(None),
            key: Cell::new(None),
            protocol: ProtocolSlot::new(protocol, lp.clone(), id),
            life: Life::new(Reading::NotStarted),
            buffer: RefCell::new(WriteBuffer::default()),
            flow: RefCell::new(FlowControl::default()),
            write_side: Cell::new(WriteSide::Open),
            peer_closed: Cell::new(false),
            through: Cell::new(None),
            recv_side: Cell::new(RecvSide::Quiet),
            conn_lost_writes: Cell::new(1),
            unsent_at_close: Cell::new(0),
            fd,
            sockname: sockname.into(),
            peername: peername.into(),
            server: Cell::new(server),
        });
        let mut sock = sock;
        let key = register_and_start(
            lp,
            &t,
            (&mut sock, fd, Interest::READABLE | Interest::WRITABLE),
            Self::connection_made,
            Some(Self::start_reading),
        )?;
        t.key.set(Some(key));
        *t.sock.borrow_mut() = Some(sock);
        Ok(t)
    }

    /// A readable event before reading started: the start of reading reads its bytes, and
    /// its EOF too (`must_look_at_start`).
    #[cold]
    fn passed_over(&self, readiness: Readiness) {
        if self.recv_side.get() == RecvSide::Quiet {
            self.set_recv_side(RecvSide::PassedOver);
        }
        self.peer_closed.set(readiness.is_read_closed());
    }

    /// Why a write (`what`) is refused while the write side is not open.
    #[cold]
    fn write_refused(&self, what: &str) -> Error {
        if self.write_side.get() == WriteSide::Sendfile {
            // CPython's RuntimeError text.
            return Error::invalid_state(format!("unable to {what}; sendfile is in progress"));
        }
        Error::invalid_state(format!("Cannot call {what}() after write_eof()"))
    }

    /// The one place `recv_side` changes: the diagram's edges, checked in debug builds.
    #[inline]
    pub(super) fn set_recv_side(&self, to: RecvSide) {
        let from = self.recv_side.get();
        debug_assert!(
            matches!(
                (from, to),
                (RecvSide::Quiet, RecvSide::PassedOver | RecvSide::Through)
                    | (RecvSide::PassedOver, RecvSide::Quiet)
                    | (RecvSide::Through, RecvSide::Quiet | RecvSide::EofUntold)
                    // A further edge while one is owed: still owed.
                    | (RecvSide::Through, RecvSide::Through)
                    | (RecvSide::EofUntold, RecvSide::Quiet)
            ),
            "transport {}: receive side {from:?} -> {to:?} is not an edge",
            self.id()
        );
        self.recv_side.set(to);
    }

    /// The one place `write_side` changes: the diagram's edges, checked in debug builds.
    fn set_write_side(&self, to: WriteSide) {
        let from = self.write_side.get();
        debug_assert!(
            matches!(
                (from, to),
                (
                    WriteSide::Open,
                    WriteSide::EofPending | WriteSide::ShutDown | WriteSide::Sendfile
                ) | (WriteSide::EofPending, WriteSide::ShutDown)
                    | (WriteSide::Sendfile, WriteSide::Open)
            ),
            "transport {}: write side {from:?} -> {to:?} is not an edge",
            self.id()
        );
        self.write_side.set(to);
    }
}

impl LifePath for SocketTransport {
    const LOG_NAME: &'static str = "transport";
    const TRACE_TAG: &'static str = "";

    fn life(&self) -> &Life {
        &self.life
    }

    fn unsent_at_close(&self) -> &Cell<usize> {
        &self.unsent_at_close
    }

    fn read_ready(&self) {
        SocketTransport::read_ready(self);
    }

    /// Registered for readable events at creation, before the start of reading was queued:
    /// bytes already there, or arriving later, make an event that a later poll reports, and
    /// `io_ready` reads it once reading is active (an event polled in the iteration that
    /// starts reading is dispatched after the start: it was queued after it). Only an event
    /// passed over before the start (`PassedOver`: the start waited for a busy protocol)
    /// leaves the start to look. Otherwise the start's read would find what the event is
    /// about to read, and that event's read would end in `WouldBlock`: one `recv` more per
    /// connection.
    fn must_look_at_start(&self) -> bool {
        let passed_over = self.recv_side.get() == RecvSide::PassedOver;
        if passed_over {
            self.set_recv_side(RecvSide::Quiet);
        }
        passed_over
    }

    /// Closes the socket, leaves the loop and the server, drops the protocol.
    fn release(&self) {
        drop(self.through.take());
        if self.write_side.get() == WriteSide::Sendfile {
            self.wake_sendfile(); // it learns the connection is gone
        }
        let sock = self.sock.borrow_mut().take();
        if let (Some(mut sock), Some(key)) = (sock, self.key.take()) {
            self.lp().inner.deregister(key, &mut sock);
            drop(sock);
        }
        self.protocol.let_go();
        let server = self.server.take();
        if let Some(server) = server {
            server.detach(self.id());
        }
    }

    /// The loop closed: the socket goes, and the server is told, so that it counts the
    /// connection no more (its `Server` handle may outlive the loop).
    fn forget(&self) {
        drop(self.through.take());
        self.forget_sendfile();
        let sock = self.sock.borrow_mut().take();
        drop(sock);
        let server = self.server.take();
        if let Some(server) = server {
            server.detach(self.id());
        }
    }
}

impl IoHandler for SocketTransport {
    fn buffer_info(&self) -> Option<super::BufferInfo> {
        // The loop's totals: no SIOCOUTQ (see `IoHandler::buffer_info`).
        Some(self.write_info(None, !self.life.is_reading()))
    }

    fn io_ready(&self, readiness: Readiness) {
        if self.life.state() >= State::Lost {
            return; // L63: once connection_lost is queued, events are ignored
        }
        if readiness.is_readable() && self.life.reading() == Reading::Active {
            // Data and FIN in one edge: a short read must not end the round, or the EOF
            // would never be seen (no further edge comes).
            self.peer_closed.set(readiness.is_read_closed());
            self.read_ready();
        } else if readiness.is_readable() && self.life.reading() == Reading::NotStarted {
            self.passed_over(readiness);
        }
        if readiness.is_writable() && self.life.state() < State::Lost {
            self.write_ready();
        }
    }

    fn loop_closed(&self) {
        self.on_loop_closed();
    }
}

/// The rarely used operations of [`TransportImpl`], reached through `as_socket` (see
/// `impl dyn TransportImpl`), not through the trait object's table: a program that never
/// calls them does not link them.
impl SocketTransport {
    pub(crate) fn writelines(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        if self.write_side.get() != WriteSide::Open {
            return Err(self.write_refused("writelines"));
        }
        // L68, 3.13: only an empty list returns before the loss check; chunks that are all
        // empty still count as a dropped write once the connection is lost (L81).
        if chunks.is_empty() {
            return Ok(());
        }
        if self.life.state() >= State::Lost {
            self.dropped_write();
            return Ok(());
        }
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        if total == 0 {
            return Ok(());
        }
        self.send_or_buffer_vectored(chunks, total);
        Ok(())
    }

    pub(crate) fn write_eof(&self) -> Result<(), Error> {
        if self.write_side.get() == WriteSide::Sendfile {
            return Err(self.write_refused("write_eof"));
        }
        if self.life.state() != State::Open || self.write_side.get() != WriteSide::Open {
            return Ok(());
        }
        if self.buffer.borrow().is_empty() {
            self.set_write_side(WriteSide::ShutDown);
            if let Some(sock) = self.sock.borrow().as_ref() {
                sock.shutdown_write()?;
            }
        } else {
            // L74: the buffer drains first; write_ready shuts down after the last byte.
            self.set_write_side(WriteSide::EofPending);
        }
        Ok(())
    }

    pub(crate) fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        self.set_limits(high, low)
    }

    pub(crate) fn set_protocol(&self, protocol: ProtocolRef) -> Result<(), Error> {
        self.protocol.replace(protocol)
    }

    pub(crate) fn unsent_mark(&self) -> usize {
        let buffered = self.buffer.borrow().len();
        if self.life.state() >= State::Lost {
            return buffered; // the descriptor may be closed, or reused by now
        }
        // Any socket's send queue: a Unix socket's figure is memory, which falls as well.
        let queued = match self.sock.try_borrow().as_deref() {
            Ok(Some(_)) => sys::unsent(self.fd).unwrap_or(0),
            _ => 0,
        };
        buffered.saturating_add(queued)
    }

    pub(crate) fn kernel_unsent(&self) -> Option<usize> {
        if self.life.state() >= State::Lost {
            return None; // the descriptor may be closed, or reused by now
        }
        // A Unix socket's SIOCOUTQ is the memory its unread data takes (768 for one byte),
        // not bytes: there the OS does not say.
        match self.sock.try_borrow().as_deref() {
            Ok(Some(Socket::Tcp(_))) => sys::unsent(self.fd),
            _ => None,
        }
    }
}

impl TransportImpl for SocketTransport {
    fn write(&self, data: &[u8]) -> Result<(), Error> {
        if self.write_side.get() != WriteSide::Open {
            return Err(self.write_refused("write"));
        }
        if data.is_empty() {
            return Ok(());
        }
        if self.life.state() >= State::Lost {
            self.dropped_write();
            return Ok(());
        }
        self.send_or_buffer(data);
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        true
    }

    fn close(&self) {
        if self.life.state() != State::Open {
            return;
        }
        self.life.set_reading(Reading::Done);
        if self.buffer.borrow().is_empty() {
            self.life.set_state(State::Lost);
            self.queue_connection_lost(None);
        } else {
            self.life.set_state(State::Closing);
        }
    }

    fn abort(&self) {
        self.force_close(None);
    }

    fn is_closing(&self) -> bool {
        self.life.state() != State::Open
    }

    fn pause_reading(&self) {
        if self.life.pause_reading() {
            self.reregister(Interest::WRITABLE);
        }
    }

    fn resume_reading(&self) {
        if !self.life.resume_reading() {
            return;
        }
        // Re-adding readable interest is CPython's `_add_reader`: the kernel looks at the
        // socket as it is now (epoll's `EPOLL_CTL_MOD`, kqueue's `EV_ADD`), so bytes or an EOF
        // that came while paused, or were left unread when the pause stopped a read, make an
        // event at the next poll, and `read_ready` runs only then. A read queued here instead
        // asked a buffered protocol for a buffer with nothing to put in it, and cost every
        // protocol a `recv` that heard `WouldBlock` whenever the event had already read.
        self.reregister(Interest::READABLE | Interest::WRITABLE);
        // An edge passed over before a start that found the side paused: the same event
        // covers it.
        if self.recv_side.get() == RecvSide::PassedOver {
            self.set_recv_side(RecvSide::Quiet);
        }
    }

    fn is_reading(&self) -> bool {
        self.life.is_reading()
    }

    fn get_write_buffer_size(&self) -> usize {
        self.buffer.borrow().len()
    }

    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.flow.borrow().limits()
    }

    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "peername" => self.peername.get().map(ExtraInfo::Address),
            "sockname" => self.sockname.get().map(ExtraInfo::Address),
            // Once closed, the number may already name another open file (CPython: -1).
            "socket" => self.sock.borrow().as_ref().map(|_| ExtraInfo::Fd(self.fd)),
            _ => None,
        }
    }

    fn get_protocol(&self) -> Option<ProtocolRef> {
        self.protocol.get()
    }

    fn get_loop(&self) -> LoopHandle {
        self.lp().clone()
    }

    fn id(&self) -> u64 {
        SocketTransport::id(self)
    }

    /// Not once the connection is lost: its protocol hears no more of writing, and a
    /// stream's drain fails instead of waiting.
    fn writing_paused(&self) -> bool {
        self.life.state() < State::Lost && self.flow.borrow().is_paused()
    }

    #[cfg(feature = "tls")]
    fn peer_eof(&self) -> bool {
        // Open with reading over: only EOF ends reading on an open transport.
        self.life.state() == State::Open && self.life.reading() == Reading::Done
    }

    #[inline]
    fn read_through(&self, owner: *const (), out: &mut [u8], waker: &Waker) -> Through {
        self.read_through_into(owner, out, waker)
    }

    fn end_through(&self) -> Option<Waker> {
        self.end_read_through()
    }

    fn as_socket(&self) -> Option<&SocketTransport> {
        Some(self)
    }

    #[cfg(feature = "tls")]
    fn take_unsent_at_loop_close(&self) -> usize {
        self.unsent_at_close.take()
    }
}
