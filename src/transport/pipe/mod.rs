//! Pipe transports: one end of a pipe (or a socket, or a pollable character device) used in
//! one direction only.
//!
//! Mirrors `_UnixReadPipeTransport` and `_UnixWritePipeTransport` in CPython
//! `Lib/asyncio/unix_events.py`. The same ground rules as the socket transport
//! (`socket/mod.rs`): the protocol is called only through its `ProtocolSlot`, `connection_made`
//! first and `connection_lost` exactly once and last, always from a queued callback; the write
//! side's water marks are the shared `FlowControl`, its buffer the shared `WriteBuffer`.
//!
//! Read side: registered readable (edge-triggered) at creation; the start of reading reads
//! only if an event came before it (a buffered protocol's `get_buffer` waits for the pipe to
//! be readable, as on a socket). `pause_reading` only stops reading: an event that comes while
//! paused, or a pause that stops a read before the pipe is drained, is remembered
//! (`passed_over`), and `resume_reading` queues one read only then, as CPython's re-added
//! reader fires only on a readable pipe (no re-registration: no `epoll_ctl` per pause).
//! EOF → closing (`connection_lost(None)` queued, `is_closing()` true) → `eof_received` (its
//! answer is ignored, as in CPython: a read pipe has nothing to keep open) →
//! `connection_lost(None)` on a later turn. A panic in `data_received` (or a buffered
//! protocol's `buffer_updated`) or `eof_received` is reported as a failed callback and ends
//! nothing, as CPython's exception escaping `_read_ready` into the loop; the socket
//! transport's is fatal. Only `get_buffer` failing closes the pipe: nothing was read.
//!
//! Write side: registered writable. What the kernel does not take waits in the buffer; the
//! protocol is paused above the high-water mark and resumed at the low one. `write_eof` closes
//! the pipe once the buffer is flushed (the reader then sees EOF), so it is `close`. When the
//! reading end goes away, `write` fails with `EPIPE`, and a `SIGPIPE` reaches only a handler
//! the host installed, never a default action (`signals::without_sigpipe`), and the protocol gets
//! `connection_lost(BrokenPipe)`; the kernel also reports an error event on our end, which
//! CPython watches with a reader: with bytes buffered it is `connection_lost(BrokenPipe)`,
//! with none a plain close. On a socket's end CPython's reader also fires when the peer sends
//! or shuts down its write side (the end turns readable); that is not followed here: a socket
//! goes both ways, and its end is often read by another transport too (stdin and stdout on one
//! socket under a supervisor), whose bytes and EOF those are (python/asyncio#369). A socket's
//! end closes at its hang-up, or when a write fails.
//! CPython sets that reader on a pipe's or a socket's end only, not
//! on a character device's: a terminal that hangs up is heard of when a write fails (`EIO`),
//! so nothing buffered, the hang-up alone closes nothing.
//!
//! The state enums (`lifecycle.rs`), the write path (`write_path.rs`: fast path, flush, water
//! marks) and the ends of its life (`life_path.rs`: `connection_made`, the error funnel,
//! `force_close`, `call_connection_lost`) are the socket transport's too; what is a pipe's own
//! (its direction, `EPIPE`, `close` as `write_eof`) stays here.
//!
//! Files: `mod.rs` (the transport, its `LifePath` impl with what it releases, the
//! `Transport` methods), `read.rs` (the read side), `write.rs` (the write side).

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;
use std::rc::{Rc, Weak};

mod read;
mod sys;
mod write;

use mio::unix::pipe::{Receiver, Sender};
use mio::Interest;

use super::flow_control::FlowControl;
use super::life_path::LifePath;
use super::lifecycle::{Life, Reading, State};
use super::write_buffer::WriteBuffer;
use super::write_path::WritePath;
use super::{register_and_start, ExtraInfo, TransportImpl};
use crate::error::{Error, OsText};
use crate::event_loop::debug::debug_log;
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::protocol::{ProtocolRef, ProtocolSlot};
use crate::slots::SlotKey;

/// How many reads one readiness event may do before yielding to the rest of the loop.
const READS_PER_EVENT: usize = 16;

/// The descriptor, by direction.
enum End {
    Read(Receiver),
    Write(Sender),
}

impl End {
    fn source(&mut self) -> &mut dyn mio::event::Source {
        match self {
            End::Read(r) => r,
            End::Write(w) => w,
        }
    }

    fn as_raw_fd(&self) -> RawFd {
        match self {
            End::Read(r) => r.as_raw_fd(),
            End::Write(w) => w.as_raw_fd(),
        }
    }
}

/// Which way the pipe goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Direction {
    Read,
    Write,
}

pub(crate) struct PipeTransport {
    me: Weak<PipeTransport>,
    direction: Direction,
    end: RefCell<Option<End>>,
    key: Cell<Option<SlotKey>>,
    protocol: ProtocolSlot,
    /// `State` and `Reading` (a write pipe's is `Done` from the start), changed only through
    /// their guarded setters.
    life: Life,
    buffer: RefCell<WriteBuffer>,
    flow: RefCell<FlowControl>,
    conn_lost_writes: Cell<u32>,
    /// Bytes the loop's close dropped from `buffer` and nobody has warned of yet: set as the
    /// loop closes, before the protocol is told; a TLS layer above takes it to say them with
    /// its own (one warning per connection), else `on_loop_closed` says them. 0 otherwise.
    unsent_at_close: Cell<usize>,
    /// The last readable event said the writer is gone (EPOLLHUP): a short read then does not
    /// mean drained, since no further edge will come; read on to EOF.
    peer_closed: Cell<bool>,
    /// The pipe may hold bytes (or an EOF) that no further edge will announce: a readable
    /// event came while not reading (before the start, or paused), or reading stopped for a
    /// pause before a short read said the pipe was drained. The start of reading, or a
    /// resume, reads only if this is set (edge-triggered: no second event comes), so a
    /// buffered protocol is asked for a buffer only once the pipe is readable, as the socket
    /// transport asks. Cleared by the look it calls for.
    passed_over: Cell<bool>,
    /// A write end that closes when its reader goes (a pipe's or a socket's; CPython's reader
    /// on the write end). A character device's does not: a write's error tells.
    watches_reader: bool,
    /// The descriptor is a pipe (a FIFO): the kernel counts the bytes in it from the write end
    /// too (`kernel_unsent`). A socket's or a terminal's `FIONREAD` counts its input instead.
    fifo: bool,
    fd: RawFd,
    /// Bytes `write` and `writelines` let through (into the pipe or the buffer), ever: less
    /// what is buffered, what went into the pipe (`unsent_mark`).
    handed: Cell<u64>,
    /// At the last `unsent_mark`: the bytes that had gone into the pipe by then, and at most
    /// how many of them it still held (`ours_in_pipe`).
    ours: Cell<(u64, usize)>,
}

/// `sock.register` with a `&mut dyn Source`.
struct DynSource<'a>(&'a mut dyn mio::event::Source);

impl mio::event::Source for DynSource<'_> {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.0.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.0.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        self.0.deregister(registry)
    }
}

impl PipeTransport {
    /// The transport's number (kept once, by the protocol slot).
    #[inline]
    pub(crate) fn id(&self) -> u64 {
        self.protocol.transport_id()
    }

    /// The loop (kept once, by the protocol slot).
    #[inline]
    pub(crate) fn lp(&self) -> &LoopHandle {
        self.protocol.lp()
    }

    /// `EIO`, a terminal whose other side closed: how a session ends, so CPython's
    /// `_fatal_error` is quiet about it (a debug line). The protocol still hears the error;
    /// `fatal_error` would warn of any other OS error.
    fn terminal_hung_up(&self, err: io::Error, doing: &str) {
        debug_log!("pipe transport {}: {doing}: {}", self.id(), OsText(&err));
        self.force_close(Some(err));
    }

    /// Wraps `fd` (made non-blocking here), registers it, and queues `connection_made` (and,
    /// for reading, the start of reading). Fails with `InvalidArgument` for a descriptor that
    /// is no pipe, socket or character device (before it is touched), and with the OS error
    /// when it cannot be polled (`/dev/null`: `EPERM` from epoll).
    pub(crate) fn create(
        lp: &LoopHandle,
        fd: OwnedFd,
        direction: Direction,
        protocol: ProtocolRef,
    ) -> Result<Rc<PipeTransport>, Error> {
        lp.inner.check_closed()?;
        let file = File::from(fd);
        let kind = file.metadata()?.file_type();
        if !is_pipe_like(&kind) {
            // CPython's ValueError, in its words; the descriptor closes as `file` drops, its
            // open file description (which a duplicate may share) left as it was.
            return Err(Error::invalid_argument(match direction {
                Direction::Read => "Pipe transport is for pipes/sockets/character devices only",
                Direction::Write => {
                    "Pipe transport is only for pipes, sockets and character devices"
                }
            }));
        }
        let fd = OwnedFd::from(file);
        let mut end = match direction {
            Direction::Read => {
                let r = Receiver::from(fd);
                r.set_nonblocking(true)?;
                End::Read(r)
            }
            Direction::Write => {
                let w = Sender::from(fd);
                w.set_nonblocking(true)?;
                End::Write(w)
            }
        };
        let raw = end.as_raw_fd();
        let id = lp.next_conn_id();
        let t = Rc::new_cyclic(|me| PipeTransport {
            me: me.clone(),
            direction,
            end: RefCell::new(None),
            key: Cell::new(None),
            protocol: ProtocolSlot::new(protocol, lp.clone(), id),
            life: Life::new(match direction {
                Direction::Read => Reading::NotStarted,
                Direction::Write => Reading::Done,
            }),
            buffer: RefCell::new(WriteBuffer::default()),
            flow: RefCell::new(FlowControl::default()),
            conn_lost_writes: Cell::new(0),
            unsent_at_close: Cell::new(0),
            peer_closed: Cell::new(false),
            passed_over: Cell::new(false),
            watches_reader: direction == Direction::Write && (kind.is_fifo() || kind.is_socket()),
            fifo: kind.is_fifo(),
            fd: raw,
            handed: Cell::new(0),
            ours: Cell::new((0, 0)),
        });
        let (interest, start_reading): (_, Option<fn(&Self)>) = match direction {
            Direction::Read => (Interest::READABLE, Some(Self::start_reading)),
            Direction::Write => (Interest::WRITABLE, None),
        };
        let key = register_and_start(
            lp,
            &t,
            (end.source(), raw, interest),
            Self::connection_made,
            start_reading,
        )?;
        t.key.set(Some(key));
        *t.end.borrow_mut() = Some(end);
        Ok(t)
    }
}

impl LifePath for PipeTransport {
    const LOG_NAME: &'static str = "pipe transport";
    const TRACE_TAG: &'static str = " (pipe)";

    fn life(&self) -> &Life {
        &self.life
    }

    fn unsent_at_close(&self) -> &Cell<usize> {
        &self.unsent_at_close
    }

    fn read_ready(&self) {
        PipeTransport::read_ready(self);
    }

    /// Registered at creation, before the start of reading was queued: bytes (or an EOF)
    /// already there make an event that a later poll reports, read once reading is active.
    /// Only an event that came before the start (`passed_over`) leaves the start to look.
    fn must_look_at_start(&self) -> bool {
        self.passed_over.take()
    }

    /// Leaves the loop, closes the descriptor, drops the protocol.
    fn release(&self) {
        let end = self.end.borrow_mut().take();
        if let (Some(mut end), Some(key)) = (end, self.key.take()) {
            self.lp()
                .inner
                .deregister(key, &mut DynSource(end.source()));
            drop(end);
        }
        self.protocol.let_go();
    }

    fn forget(&self) {
        let end = self.end.borrow_mut().take();
        drop(end);
    }
}

impl IoHandler for PipeTransport {
    fn buffer_info(&self) -> Option<super::BufferInfo> {
        // The loop's totals: no FIONREAD (see `IoHandler::buffer_info`).
        Some(self.write_info(None, TransportImpl::reading_paused(self)))
    }

    fn io_ready(&self, readiness: Readiness) {
        if self.life.state() >= State::Lost {
            return;
        }
        match self.direction {
            Direction::Read => {
                if readiness.is_read_closed() {
                    self.peer_closed.set(true);
                }
                if readiness.is_readable() {
                    match self.life.reading() {
                        Reading::Active => self.read_ready(),
                        // The start, or `resume_reading`, looks.
                        Reading::NotStarted | Reading::Paused => self.passed_over.set(true),
                        // Nothing more is read.
                        Reading::Done => {}
                    }
                }
            }
            Direction::Write => {
                if readiness.is_writable() {
                    self.write_ready();
                }
                // The reading end is gone (CPython's `_read_ready` on a write pipe).
                if self.watches_reader
                    && readiness.is_write_closed()
                    && self.life.state() < State::Lost
                {
                    if self.buffer.borrow().is_empty() {
                        self.force_close(None);
                    } else {
                        self.force_close(Some(io::ErrorKind::BrokenPipe.into()));
                    }
                }
            }
        }
    }

    fn loop_closed(&self) {
        self.on_loop_closed();
    }
}

impl TransportImpl for PipeTransport {
    fn write(&self, data: &[u8]) -> Result<(), Error> {
        self.write_data(data)
    }

    fn writelines_other(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        self.write_chunks(chunks)
    }

    /// Closes the pipe once flushed: for a pipe, the end of writing is the end of the pipe.
    fn write_eof_other(&self) -> Result<(), Error> {
        if self.direction == Direction::Read {
            return Err(Error::Unsupported(
                "write_eof() on a read pipe transport".into(),
            ));
        }
        if self.life.state() != State::Open {
            return Ok(());
        }
        if self.buffer.borrow().is_empty() {
            self.force_close(None);
        } else {
            self.life.set_state(State::Closing);
        }
        Ok(())
    }

    fn can_write_eof(&self) -> bool {
        self.direction == Direction::Write
    }

    fn close(&self) {
        match self.direction {
            Direction::Write => {
                let _ = self.write_eof_other();
            }
            Direction::Read => {
                if self.life.state() == State::Open {
                    self.force_close(None);
                }
            }
        }
    }

    fn abort(&self) {
        self.force_close(None);
    }

    fn is_closing(&self) -> bool {
        self.life.state() != State::Open
    }

    fn pause_reading(&self) {
        self.life.pause_reading();
    }

    fn resume_reading(&self) {
        if self.life.resume_reading() && self.passed_over.take() {
            self.read_later();
        }
    }

    fn is_reading(&self) -> bool {
        self.life.is_reading()
    }

    fn set_write_buffer_limits_other(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        if self.direction == Direction::Read {
            return Err(Error::Unsupported(
                "set_write_buffer_limits() on a read pipe transport".into(),
            ));
        }
        self.set_limits(high, low)
    }

    fn get_write_buffer_size(&self) -> usize {
        self.buffer.borrow().len()
    }

    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.flow.borrow().limits()
    }

    fn get_extra_info(&self, name: &str) -> Option<ExtraInfo> {
        match name {
            "pipe" => self.end.borrow().as_ref().map(|_| ExtraInfo::Fd(self.fd)),
            _ => None,
        }
    }

    fn set_protocol_other(&self, protocol: ProtocolRef) -> Result<(), Error> {
        self.protocol.replace(protocol)
    }

    fn get_protocol(&self) -> Option<ProtocolRef> {
        self.protocol.get()
    }

    fn get_loop(&self) -> LoopHandle {
        self.lp().clone()
    }

    fn id(&self) -> u64 {
        PipeTransport::id(self)
    }

    /// Not once the connection is lost: its protocol hears no more of writing, and a
    /// stream's drain fails instead of waiting.
    fn writing_paused(&self) -> bool {
        self.life.state() < State::Lost && self.flow.borrow().is_paused()
    }

    /// A write pipe never reads.
    fn reads(&self) -> bool {
        self.direction == Direction::Read
    }

    #[cfg(feature = "tls")]
    fn start_tls_compatible(&self) -> bool {
        false
    }

    /// Bytes written into the pipe that its reader has not taken yet (Linux, a pipe's write
    /// end); `None` for a read pipe, a socket's or a character device's end, elsewhere, and
    /// once the connection is lost (the descriptor may be closed, or reused by now).
    fn kernel_unsent_other(&self) -> Option<usize> {
        let applies = self.direction == Direction::Write && self.fifo;
        if !applies || self.life.state() >= State::Lost {
            return None;
        }
        sys::unread(self.fd)
    }

    /// What waits to go out for the idle timeout's looks: the buffer, and of the pipe's unread
    /// bytes only as many as may be ours (`ours_in_pipe`): the kernel counts everyone's, and
    /// another writer's bytes read from a shared pipe are no traffic of this connection's.
    fn unsent_mark_other(&self) -> usize {
        let buffered = self.buffer.borrow().len();
        match self.kernel_unsent_other() {
            Some(unread) => buffered.saturating_add(self.ours_in_pipe(unread, buffered)),
            None => buffered,
        }
    }

    #[cfg(feature = "tls")]
    fn take_unsent_at_loop_close(&self) -> usize {
        self.unsent_at_close.take()
    }
}

/// Whether `kind` is a pipe, a socket or a character device: what a pipe transport takes.
/// Anything else (a regular file, a directory, a block device) is always "ready" to the
/// kernel, which epoll refuses.
pub(crate) fn is_pipe_like(kind: &std::fs::FileType) -> bool {
    kind.is_fifo() || kind.is_socket() || kind.is_char_device()
}

/// A new pipe, close-on-exec, both ends blocking: `(read end, write end)`.
pub(crate) fn os_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (w, r) = mio::unix::pipe::new()?;
    r.set_nonblocking(false)?;
    w.set_nonblocking(false)?;
    Ok((OwnedFd::from(r), OwnedFd::from(w)))
}
