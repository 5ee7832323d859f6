//! `StreamCore`: one connection's stream state, and its protocol face
//! (Python's `StreamReaderProtocol` and `FlowControlMixin` in `Lib/asyncio/streams.py`).
//!
//! The socket transport holds the core as its protocol — a `BufferedProtocol`, so bytes go from
//! the socket straight into the reader's buffer (S62 without a copy). A `read_into` that finds
//! the reader empty goes one step further: it reads from the socket straight into the caller's
//! memory (read-through, [`StreamCore::poll_read_into`]), and the transport's next readable
//! edge only wakes it. The [`StreamReader`] and
//! [`StreamWriter`] handles hold the same core to read, to drain and to wait for the close.
//!
//! Ground rules: the transport borrows the core for one protocol call at a time; the handles
//! borrow it only inside their own methods and their futures' polls, never across an `.await`
//! or a call into the transport that could call back (`write` can call `pause_writing`: the
//! writer never holds the core while writing). Wakers are woken after the state changed; our
//! task wakers only queue the task, so waking with the core borrowed is safe. Another
//! executor's waker (a future polled by hand inside a task) is foreign code: it is woken from
//! a callback of its own on the next turn, with the core free (it may call back into the
//! stream), and its panic is its owner's failure, reported as a callback's (L18), not this
//! protocol's, which would end the connection (CPython's loop reports a done-callback that
//! raises and the connection lives).

use std::cell::RefCell;
use std::io;
use std::rc::{Rc, Weak};
use std::task::Waker;

use super::deadline::Deadlines;
use super::reader::{ReaderState, StreamReader};
use super::writer::StreamWriter;
use crate::error::{Error, SharedError};
use crate::event_loop::exception::ExceptionContext;
use crate::event_loop::executor::waker::{is_task_waker, wake_soon};
use crate::event_loop::LoopHandle;
use crate::protocol::{BufferedProtocol, Protocol};
use crate::transport::Transport;
use crate::wakers::KeyedWakers;

/// What to do with a new connection (`client_connected_cb`, S58), by the kind of callback:
/// the two start at different times, as in CPython's `StreamReaderProtocol.connection_made`.
#[derive(Clone)]
pub(crate) enum ConnectedCb {
    /// A plain function, called one turn after `connection_made`: it reads and writes through
    /// the core, which the transport borrows while `connection_made` runs.
    Plain(Rc<dyn Fn(StreamReader, StreamWriter)>),
    /// An async function: this spawns the task that builds the reader and writer, calls the
    /// function and drives its future (`open.rs`). Called from `connection_made` itself, as
    /// CPython's `create_task` is, so the task's first step runs in the next turn; it runs
    /// no user code (the function is called by the task's first step).
    Async(Rc<SpawnHandler>),
}

/// Spawns a connection's handler task on the transport's loop; fails only on a closed loop.
pub(crate) type SpawnHandler = dyn Fn(Rc<RefCell<StreamCore>>, Transport) -> Result<(), Error>;

/// [`start_handler`]'s type.
type StartHandler = fn(ConnectedCb, Rc<RefCell<StreamCore>>, Transport) -> Result<(), Error>;

/// What a core holds in one part of its life, never both at once (`StreamCore::side`).
enum Side {
    /// Server side, until `connection_made` takes it: `client_connected_cb` (S58), and
    /// [`start_handler`], which `connection_made` hands it to. Held as a value, stored only
    /// by [`StreamCore::with_callback`], so that client programs do not link the start.
    OnConnect(ConnectedCb, StartHandler),
    /// After `StreamWriter::start_tls`: the TLS transport the writer writes through, which
    /// the protocol also closes through (as CPython 3.13's `_replace_transport` gives the
    /// protocol the new transport, S53); the reader keeps the raw one (S54).
    #[cfg(feature = "tls")]
    Tls(Transport),
    /// A read pipe's stream (`pipe.rs`: `open_read_pipe`, `stdin`; a child's stdout or stderr,
    /// `subprocess.rs`), whose reader is its only
    /// handle and closes it when dropped. `Some` when a helper thread feeds the pipe: at the
    /// end of input, the thread's read error, which the pipe cannot carry, becomes the
    /// reader's exception.
    ReadPipe(Option<std::sync::Arc<dyn super::writer::HelperWait>>),
}

/// The write side of a stream, as `FlowControlMixin` in `streams.py` tracks it with `_paused`
/// and `_connection_lost` (S65, S66):
///
/// ```text
///   Flowing ──pause_writing──► Paused ──resume_writing──► Flowing
///      └───────────connection_lost (from either)──────────► Lost   (final)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Writes go through; `drain` returns at once.
    Flowing,
    /// Above the transport's high-water mark: `drain` waits for `resume_writing`.
    // Checklist: S52.
    Paused,
    /// `connection_lost` ran; `drain` and `wait_closed` report how.
    // Checklist: S46, S66.
    Lost,
}

/// A server connection's handler, as the unclosed-writer warning needs to know it (S56, S60).
#[derive(Clone, Copy, Debug)]
pub(crate) enum HandlerState {
    /// A client connection (or a server one whose callback has not run yet).
    None,
    /// The callback was given the reader and writer: a writer it drops unclosed warns one
    /// turn later, unless it failed in that turn (its failure is reported instead). No
    /// payload (a function value here, the warning's, would grow every connection's core
    /// by 8 B: the idle figure).
    Given,
    /// It failed (an `Err`, a panic) and was reported; its transport is closed.
    Failed,
}

/// The state shared by a connection's transport (as protocol), reader and writer.
pub(crate) struct StreamCore {
    /// The reader's buffer, EOF flag, stored exception and waiter.
    pub(crate) reader: ReaderState,
    /// This core, to build reader/writer handles inside `connection_made`.
    pub(crate) me: Weak<RefCell<StreamCore>>,
    /// The callback until `connection_made` (server side), then the TLS transport once
    /// `StreamWriter::start_tls` has swapped it in; `None` otherwise and after the loss.
    /// Boxed: one word for the connection's whole life, for what few connections hold.
    side: Option<Box<Side>>,
    /// Where the write side is: flowing, paused by the transport, or lost (see [`Flow`]).
    /// Changed only by [`set_flow`](StreamCore::set_flow).
    flow: Flow,
    /// Bumped by every `resume_writing`: a drain that saw an older value is released (S52).
    pub(crate) resumes: u32,
    /// What `connection_lost` got; `wait_closed` and a paused `drain` return it (S46, S66).
    pub(crate) lost_error: Option<SharedError>,
    /// Tasks waiting in `drain` or `wait_closed`, each under the key of its registration: a
    /// key of its own for each `drain` and `wait_closed` future and each wait of an owned
    /// writer's futures-io side, whose waker a new poll replaces and which takes its entry
    /// back when dropped (a connection may live long, and waits on it be abandoned often);
    /// none for a futures-io wait through a shared `&StreamWriter` (one entry per distinct
    /// waker, since tasks share it, until the next wake-up of all).
    /// Emptied, and every entry woken, by `resume_writing`, `connection_lost` and the timer.
    pub(super) waiters: KeyedWakers,
    /// Over TLS: EOF closes instead of half-closing (S63).
    pub(crate) over_ssl: bool,
    /// Server side: where this connection's `client_connected_cb` is (S58, S60, S61).
    /// Changed only by `connection_made` and [`handler_failed`].
    pub(crate) handler: HandlerState,
    /// Read, drain and idle timeouts, once one is set (`deadline.rs`); `None` costs nothing.
    pub(crate) deadlines: Option<Box<Deadlines>>,
}

impl StreamCore {
    pub(crate) fn new(reader: ReaderState) -> Rc<RefCell<StreamCore>> {
        Rc::new_cyclic(|me| {
            RefCell::new(StreamCore {
                reader,
                me: me.clone(),
                side: None,
                flow: Flow::Flowing,
                resumes: 0,
                lost_error: None,
                waiters: KeyedWakers::default(),
                over_ssl: false,
                handler: HandlerState::None,
                deadlines: None,
            })
        })
    }

    /// A server connection's core: `connection_made` starts `cb` (S58).
    pub(crate) fn with_callback(reader: ReaderState, cb: ConnectedCb) -> Rc<RefCell<StreamCore>> {
        let core = Self::new(reader);
        core.borrow_mut().side = Some(Box::new(Side::OnConnect(cb, start_handler)));
        core
    }

    /// A read pipe's stream: its reader closes it when dropped; `helper`, the thread that
    /// feeds the pipe, if one does: the end of input looks at it first.
    pub(super) fn read_pipe(
        &mut self,
        helper: Option<std::sync::Arc<dyn super::writer::HelperWait>>,
    ) {
        self.side = Some(Box::new(Side::ReadPipe(helper)));
    }

    /// Whether this is a read pipe's stream ([`read_pipe`](Self::read_pipe)), until the
    /// connection is lost.
    pub(super) fn is_read_pipe(&self) -> bool {
        matches!(self.side.as_deref(), Some(Side::ReadPipe(_)))
    }

    /// After `StreamWriter::start_tls`: the connection goes on over `tls` (S53); a second
    /// upgrade (TLS in TLS) replaces the first.
    #[cfg(feature = "tls")]
    pub(crate) fn upgraded(&mut self, tls: Transport) {
        self.over_ssl = true;
        self.side = Some(Box::new(Side::Tls(tls)));
    }

    /// The transport that closes this connection as its writer would: the TLS transport
    /// after `start_tls` (a close that sends close_notify), else the reader's.
    pub(crate) fn transport(&self) -> Option<&Transport> {
        match self.side.as_deref() {
            #[cfg(feature = "tls")]
            Some(Side::Tls(tls)) => Some(tls),
            _ => self.reader.transport(),
        }
    }

    /// Wakes every drain and wait_closed (write flow changes, connection_lost).
    fn wake_all(&mut self) {
        let lp = self.reader.lp();
        for w in self.waiters.drain() {
            wake_released(lp, w, "stream writer wake-up");
        }
    }

    /// Wakes the read that data, an EOF or the loss released.
    #[inline]
    fn wake_reader(&self, w: Waker) {
        wake_released(self.reader.lp(), w, "stream reader wake-up");
    }

    /// Takes every waiter out, to be woken by the caller once its borrow of the core ends.
    pub(crate) fn take_waiters(&mut self) -> impl Iterator<Item = Waker> + '_ {
        self.waiters.drain()
    }

    /// The write side's state.
    pub(crate) fn flow(&self) -> Flow {
        self.flow
    }

    /// The one place `flow` changes; the edges of [`Flow`]'s diagram, checked in debug builds
    /// (a transport that breaks L49's strict alternation, or calls after connection_lost).
    fn set_flow(&mut self, to: Flow) {
        debug_assert!(
            matches!(
                (self.flow, to),
                (Flow::Flowing, Flow::Paused)
                    | (Flow::Paused, Flow::Flowing)
                    | (Flow::Flowing | Flow::Paused, Flow::Lost)
            ),
            "stream flow {:?} -> {to:?} is not an edge (S65, S66)",
            self.flow
        );
        self.flow = to;
    }

    /// Once the connection is lost: `Ok` after a clean loss, the loss error otherwise (S46, S66).
    pub(crate) fn lost_outcome(&self) -> Option<Result<(), Error>> {
        (self.flow == Flow::Lost).then(|| match &self.lost_error {
            None => Ok(()),
            Some(e) => Err(e.get()),
        })
    }

    /// `connection_lost` ran.
    pub(crate) fn is_lost(&self) -> bool {
        self.flow == Flow::Lost
    }

    /// The deadlines, made on first use on `lp`.
    pub(crate) fn deadlines_on(&mut self, lp: &crate::event_loop::LoopHandle) -> &mut Deadlines {
        let id = self.reader.transport().map_or(0, Transport::id);
        self.deadlines
            .get_or_insert_with(|| Deadlines::new(lp.inner.clone(), id))
    }

    /// A read waiting as future `id` is about to return `Pending`: true if the read timeout
    /// has passed (then fail it, having taken nothing). See `deadline.rs`.
    #[inline]
    pub(crate) fn read_timed_out(&mut self, id: u64) -> bool {
        match &mut self.deadlines {
            Some(dl) => dl.read_timed_out(id, &self.me),
            None => false,
        }
    }

    /// `read_into(out)` for the read future `*id`: from the reader's buffer when it holds
    /// bytes (or EOF, or an exception); else straight from the socket into `out` when the
    /// transport allows it (read-through, `SocketTransport::read_through_into`), which skips
    /// the reader's buffer, the buffer pool, `get_buffer`/`buffer_updated` and one copy.
    #[inline]
    pub(crate) fn poll_read_into(
        &mut self,
        out: &mut [u8],
        id: &mut u64,
        waker: &Waker,
    ) -> std::task::Poll<Result<usize, Error>> {
        if !self.reader.would_wait(out) {
            return self.read_buffered_into(out, id, waker);
        }
        let owner = self.me.as_ptr().cast::<()>();
        match self.reader.read_through(owner, out, id, waker)? {
            Some(n) => {
                // Bytes are activity; the EOF, as on the protocol path, is not.
                if let (Some(dl), true) = (&self.deadlines, n > 0) {
                    dl.touch();
                }
                std::task::Poll::Ready(Ok(n))
            }
            None => std::task::Poll::Pending,
        }
    }

    /// `read_into(out)` served from the reader's buffer (or its EOF or exception): the
    /// reader's own read, kept out of `poll_read_into`, whose inlined body is the per-message
    /// read-through.
    // Out of line so that the hot read-through path is the same code whatever the compiler
    // decides about this one: inlined, it and its error paths shared `ReadInto::poll` with
    // the read-through, and the register allocation of the whole moved with unrelated edits
    // elsewhere in the crate (`cargo bench --bench instr`: 1027 or 1032 instructions per
    // message, depending on changes to code not on the path; out of line, 1020-1021).
    #[inline(never)]
    fn read_buffered_into(
        &mut self,
        out: &mut [u8],
        id: &mut u64,
        waker: &Waker,
    ) -> std::task::Poll<Result<usize, Error>> {
        self.reader.poll_read_into(out, id, waker)
    }

    /// Registers a futures-io wait through a shared `&StreamWriter`, which has no state of
    /// its own to carry a key: once per distinct waker, until the next wake-up of all.
    #[cfg(feature = "futures-io")]
    pub(crate) fn add_waiter(&mut self, w: &Waker) {
        self.waiters.file_unkeyed(w);
    }

    /// Registers (or refreshes) the `wait_closed` whose registration key is `*key` (see
    /// `wakers.rs`); the waker it replaces comes back, to drop after the borrow of the core.
    #[must_use = "drop the replaced waker once the core's borrow has ended"]
    pub(crate) fn add_keyed_waiter(&mut self, key: &mut u64, w: &Waker) -> Option<Waker> {
        self.waiters.file(key, w)
    }

    /// Takes back the registration `key` (its future is dropped); nothing if it was woken.
    pub(crate) fn remove_keyed_waiter(&mut self, key: u64) -> Option<Waker> {
        self.waiters.remove(key)
    }
}

/// Starts a server connection's `client_connected_cb` from `connection_made` (S58); fails
/// only on a closed loop. The one [`StartHandler`].
fn start_handler(
    cb: ConnectedCb,
    core: Rc<RefCell<StreamCore>>,
    transport: Transport,
) -> Result<(), Error> {
    match cb {
        // Its task starts in the next turn, as CPython's does (S58); bytes and an EOF that
        // arrive first wait in the reader (S59).
        ConnectedCb::Async(spawn) => spawn(core, transport),
        // The core is borrowed by the transport right now, so the callback runs one turn
        // later (its reads and writes borrow the core). Bytes that arrive first wait in
        // the reader; nothing is lost (S58, S59).
        ConnectedCb::Plain(cb) => transport
            .get_loop()
            .call_soon(move || {
                core.borrow_mut().handler = HandlerState::Given;
                let reader = StreamReader::from_core(core.clone());
                let writer = StreamWriter::new(transport, core);
                cb(reader, writer);
            })
            .map(drop),
    }
}

impl Protocol for StreamCore {
    fn connection_made(&mut self, transport: Transport) {
        self.reader.set_transport(transport.clone());
        self.over_ssl = transport.get_extra_info("sslcontext").is_some();
        if !matches!(self.side.as_deref(), Some(Side::OnConnect(..))) {
            return; // nothing to hand over, and a helper's stays for the end of input
        }
        let Some(Side::OnConnect(cb, start)) = self.side.take().map(|b| *b) else {
            return;
        };
        let Some(core) = self.me.upgrade() else {
            return;
        };
        if start(cb, core, transport).is_err() {
            crate::event_loop::debug::debug_log!(
                "loop closed before client_connected_cb could run"
            );
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        // Only reached if the transport ever reads for a plain protocol (S62).
        if let Some(dl) = &self.deadlines {
            dl.touch();
        }
        if let Some(w) = self
            .reader
            .feed_data_from(data, "Fatal error: protocol.data_received() call failed.")
        {
            self.wake_reader(w);
        }
    }

    fn eof_received(&mut self) -> bool {
        if let Some(Side::ReadPipe(Some(done))) = self.side.as_deref() {
            if let Some(w) = done.error().and_then(|e| self.reader.set_exception(&e)) {
                self.wake_reader(w);
            }
        }
        if let Some(w) = self.reader.feed_eof() {
            self.wake_reader(w);
        }
        // S63: half-close on plain sockets; over TLS the TLS layer closes after EOF.
        !self.over_ssl
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        // The reader failed the connection (bytes after the user's `feed_eof`, S17): its
        // error, as CPython's transport closes with the AssertionError, not the abort's None.
        let exc = match self.reader.data_after_eof() {
            true => Some(super::reader::feed_after_eof()),
            false => exc,
        };
        let w = match &exc {
            None => self.reader.feed_eof(),
            Some(e) => self.reader.set_exception(e),
        };
        if let Some(w) = w {
            self.wake_reader(w);
        }
        self.set_flow(Flow::Lost);
        self.lost_error = exc.as_ref().map(SharedError::from_io);
        if let Some(dl) = &mut self.deadlines {
            dl.disarm();
            if self.lost_error.is_none() {
                self.lost_error = dl.idle_error.clone(); // the idle timeout closed it
            }
        }
        self.side = None;
        self.wake_all();
    }

    fn pause_writing(&mut self) {
        self.set_flow(Flow::Paused);
    }

    fn resume_writing(&mut self) {
        self.set_flow(Flow::Flowing);
        self.resumes = self.resumes.wrapping_add(1);
        // Every waiting drain is released: no drain deadline is left for the timer to
        // wake anyone for (one that waits again dates its own).
        if let Some(dl) = &mut self.deadlines {
            dl.drains_released();
        }
        self.wake_all();
    }

    fn as_buffered(&mut self) -> Option<&mut dyn BufferedProtocol> {
        Some(self)
    }
}

impl BufferedProtocol for StreamCore {
    fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        self.reader.get_buffer(size_hint)
    }

    fn buffer_updated(&mut self, n: usize) {
        if let Some(dl) = &self.deadlines {
            dl.touch();
        }
        let w = self.reader.buffer_updated(n);
        if crate::event_loop::debug::trace_enabled() {
            let id = self.reader.transport().map_or(0, Transport::id);
            crate::event_loop::debug::trace!("protocol[{id}]: buffer_updated({n})");
            crate::event_loop::debug::trace!(
                "reader[{id}]: feed_data {n} B, buffered {}{}",
                self.reader.buffered_len(),
                if w.is_some() {
                    ", wakes the waiting read"
                } else {
                    ""
                }
            );
        }
        if let Some(w) = w {
            self.wake_reader(w);
        }
    }
}

/// Wakes a task a protocol callback released, from inside that callback. Our task wakers only
/// queue the task; another executor's is foreign code, woken by [`wake_foreign`]: its panic is
/// caught and reported as a callback's on `lp` (L18) rather than unwinding into the
/// transport's call, which would fail the connection.
#[inline]
fn wake_released(lp: Option<&LoopHandle>, w: Waker, what: &'static str) {
    if is_task_waker(&w) {
        w.wake();
    } else {
        wake_foreign(lp, w, what);
    }
}

/// Foreign code may call back into this stream (or drop what holds it), and the caller has
/// the core borrowed for the protocol call that released the waker: it is woken from a
/// callback of its own, on the next turn, with no borrow alive ([`wake_soon`]).
#[cold]
#[inline(never)]
fn wake_foreign(lp: Option<&LoopHandle>, w: Waker, what: &'static str) {
    match lp {
        Some(lp) => wake_soon(lp, w, what),
        None => w.wake(), // a reader fed by hand: no callback of a transport to protect
    }
}

/// Reports a handler's failure and closes its transport (S60, S61, D7). The report says it
/// all: the writer the handler dropped on the way out is not also reported as unclosed.
pub(crate) fn handler_failed(
    core: &RefCell<StreamCore>,
    transport: &Transport,
    error: Box<dyn std::error::Error>,
) {
    if let Ok(mut core) = core.try_borrow_mut() {
        core.handler = HandlerState::Failed;
    }
    let mut ctx = ExceptionContext::new("Unhandled exception in client_connected_cb")
        .with_exception(error)
        .with_detail("transport", transport.id().to_string());
    // Which client it was: CPython's transport repr says only its fd and state. An unnamed
    // Unix peer (the usual case) has nothing to say. Over TLS, the address read as it
    // connected: a reset has taken the raw transport by now.
    let peer = transport.peername_for_reports().map(|a| a.to_string());
    if let Some(peer) = peer.filter(|p| !p.is_empty()) {
        ctx = ctx.with_detail("peername", peer);
    }
    transport.get_loop().call_exception_handler(&ctx);
    transport.close();
}
