//! The write path the socket and pipe transports share: `write`'s fast path (the kernel first
//! when nothing is queued, the rest buffered), `write_ready`'s flush, and the water-mark edges.
//!
//! Mirrors the parts of `_SelectorSocketTransport.write`/`_write_ready` (CPython
//! `Lib/asyncio/selector_events.py`) and `_UnixWritePipeTransport.write`/`_write_ready`
//! (`Lib/asyncio/unix_events.py`) that are the same, plus `_FlowControlMixin`'s
//! `_maybe_pause_protocol`/`_maybe_resume_protocol` (L49, L64–L73, L81). What differs stays
//! with each transport: who may write when (`write` after `write_eof`, a read pipe, a closing
//! pipe), what a drained buffer then does (`shutdown(SHUT_WR)`, `connection_lost`), and how a
//! write error is reported.
//!
//! Ground rules: a transport implements [`WritePath`]'s required methods (its buffer, its
//! water marks, its descriptor, its error funnel, itself and its protocol slot) and gets the
//! logic as provided methods, monomorphised per transport, so the socket's hot path compiles to
//! what it was when written out by hand. No `RefCell` borrow is held while `deliver_flow` or
//! `write_failed` runs: both may call the protocol.

use std::cell::{Cell, RefCell};
use std::io::{self, IoSlice};
use std::rc::Weak;

use super::flow_control::FlowControl;
use super::write_buffer::WriteBuffer;
use super::BufferInfo;
use crate::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::error::Error;
use crate::event_loop::debug::trace;
use crate::protocol::{FlowEdge, ProtocolSlot};

/// A transport's write side: what it holds and how it reaches its descriptor; the shared
/// logic comes with it.
pub(crate) trait WritePath: Sized + 'static {
    /// The descriptor written to.
    type Out;

    /// What is logged once writes have been dropped for a while after the connection was lost
    /// (L81; CPython's wording for each transport).
    const DROPPED_WRITE_WARNING: &'static str;

    /// Unsent bytes.
    fn buffer(&self) -> &RefCell<WriteBuffer>;
    /// The water marks and the paused flag.
    fn flow(&self) -> &RefCell<FlowControl>;
    /// CPython's `_conn_lost` count behind the dropped-write warning (L81): a socket's starts
    /// at 1 (its loss counts), a write pipe's at 0 (CPython's pipe close does not count; a
    /// failed `write` does).
    fn conn_lost_writes(&self) -> &Cell<u32>;
    /// This transport, for queuing callbacks and handing out `Transport` handles.
    fn me(&self) -> &Weak<Self>;
    /// The protocol, called only through this slot; it also keeps the loop and the id.
    fn protocol(&self) -> &ProtocolSlot;

    /// Runs `f` on the descriptor, or returns `None` once it is closed.
    fn with_out<R>(&self, f: impl FnOnce(&Self::Out) -> R) -> Option<R>;
    /// Whether a flush resumes the protocol only once the buffer is empty (a write pipe:
    /// CPython's `_UnixWritePipeTransport._write_ready`) rather than after any progress that
    /// brings it to the low mark (a socket: `_SelectorSocketTransport._write_ready`, L67).
    const RESUME_ONLY_WHEN_EMPTY: bool = false;

    /// One non-blocking write of `data`.
    fn send(out: &Self::Out, data: &[u8]) -> io::Result<usize>;
    /// One non-blocking vectored write of `chunks`.
    fn send_vectored(out: &Self::Out, chunks: &[IoSlice<'_>]) -> io::Result<usize>;
    /// The error funnel for a failed write: `fatal_error`, which closes the transport.
    fn write_failed(&self, err: io::Error);

    /// For traces.
    fn transport_id(&self) -> u64 {
        self.protocol().transport_id()
    }

    /// Delivers `pause_writing` (`true`) or `resume_writing` through the protocol slot: now,
    /// or after the protocol call in progress (L49); flushed on later turns while the protocol
    /// is held elsewhere.
    fn deliver_flow(&self, pause: bool) {
        let edge = FlowEdge::pause(pause);
        crate::protocol::deliver_flow(self.protocol().lp(), self.me(), Self::protocol, edge);
    }

    /// A write after the connection was lost: dropped and counted, with a warning past the
    /// threshold (L81). When the loop closed under the transport (a stream kept past the
    /// `run` that opened it, a state CPython cannot reach; `on_loop_closed` set the count to
    /// 0), the first one is warned about already, saying why: the write returns `Ok` as every
    /// dropped write does, and the bytes would otherwise vanish without a word.
    fn dropped_write(&self) {
        let count = self.conn_lost_writes();
        let n = count.get();
        if n as usize >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
            crate::event_loop::debug::warning!("{}", Self::DROPPED_WRITE_WARNING);
        } else if n == 0 && self.protocol().lp().is_closed() {
            warn_write_after_loop_closed(self.transport_id(), Sender::Stream);
        }
        count.set(n.saturating_add(1));
    }

    /// One write straight to the kernel (`EINTR` retried): how much it took, 0 on
    /// `WouldBlock` or with the descriptor gone, `None` after a fatal error.
    #[inline]
    fn send_now(&self, op: impl Fn(&Self::Out) -> io::Result<usize>) -> Option<usize> {
        let result = self.with_out(|out| loop {
            match op(out) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        });
        match result {
            None => Some(0),
            Some(Ok(n)) => Some(n),
            Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => Some(0),
            Some(Err(e)) => {
                self.write_failed(e);
                None
            }
        }
    }

    /// `write`'s body once the transport has let the bytes through (L64, L65): nothing queued,
    /// try the kernel first; buffer what it leaves; pause the protocol above the high mark.
    /// `data` is not empty.
    #[inline]
    fn send_or_buffer(&self, data: &[u8]) {
        let mut rest = data;
        if self.buffer().borrow().is_empty() {
            let Some(n) = self.send_now(|out| Self::send(out, data)) else {
                return;
            };
            if n == data.len() {
                return;
            }
            rest = &data[n..];
        }
        self.buffer().borrow_mut().push(rest);
        self.maybe_pause_protocol();
    }

    /// `writelines`' body, likewise: one vectored write when nothing is queued, the rest
    /// buffered. `total` is the slices' length, not 0.
    fn send_or_buffer_vectored(&self, chunks: &[IoSlice<'_>], total: usize) {
        let mut sent = 0;
        if self.buffer().borrow().is_empty() {
            let Some(n) = self.send_now(|out| Self::send_vectored(out, chunks)) else {
                return;
            };
            sent = n;
        }
        if sent < total {
            self.buffer().borrow_mut().push_unsent(chunks, sent);
            self.maybe_pause_protocol();
        }
    }

    /// `write_ready`'s flush (L66, L67): as much of the buffer as the kernel takes, then the
    /// resume edge (a write pipe's only once the buffer is empty). True when the buffer is now
    /// empty, after progress: the caller's cue to finish a close or a `write_eof`.
    #[inline]
    fn flush_buffer(&self) -> bool {
        // Most writable edges find nothing queued: that check stays inline in the caller.
        !self.buffer().borrow().is_empty() && self.flush_queued()
    }

    /// `flush_buffer` with bytes queued. Kept out of line: inlined, it made every readiness
    /// event's handler dearer (more registers saved) for the rare edge that finds bytes queued.
    #[inline(never)]
    fn flush_queued(&self) -> bool {
        let result = self.with_out(|out| {
            self.buffer()
                .borrow_mut()
                .flush_with(|b| Self::send(out, b))
        });
        match result {
            // Nothing taken (`WouldBlock`, or a `send` of 0): the size is what the last check
            // saw, so no resume can be due (raised marks wait for progress, L71), and the
            // buffer is not empty (it was not on entry).
            None | Some(Ok(0)) => return false,
            Some(Err(e)) => {
                self.write_failed(e);
                return false;
            }
            Some(Ok(_)) => {}
        }
        if !Self::RESUME_ONLY_WHEN_EMPTY || self.buffer().borrow().is_empty() {
            self.maybe_resume_protocol();
        }
        self.buffer().borrow().is_empty()
    }

    /// `pause_writing` once the buffer is above the high mark (L70).
    fn maybe_pause_protocol(&self) {
        let size = self.buffer().borrow().len();
        if self.flow().borrow_mut().should_pause(size) {
            trace!(
                "transport[{}]: pause_writing (buffered {size} B > high {} B)",
                self.transport_id(),
                self.flow().borrow().limits().1
            );
            self.deliver_flow(true);
        }
    }

    /// `resume_writing` once the buffer is at or below the low mark (L71).
    fn maybe_resume_protocol(&self) {
        let size = self.buffer().borrow().len();
        if self.flow().borrow_mut().should_resume(size) {
            trace!(
                "transport[{}]: resume_writing (buffered {size} B <= low {} B)",
                self.transport_id(),
                self.flow().borrow().limits().0
            );
            self.deliver_flow(false);
        }
    }

    /// `set_write_buffer_limits`: new marks, then only the pause check (L69, L71).
    fn set_limits(&self, high: Option<usize>, low: Option<usize>) -> Result<(), Error> {
        self.flow().borrow_mut().set_limits(high, low)?;
        self.maybe_pause_protocol();
        Ok(())
    }

    /// The write side's part of the loop's buffer report.
    fn write_info(&self, kernel_unsent: Option<usize>, reading_paused: bool) -> BufferInfo {
        let flow = self.flow().borrow();
        let (low_water, high_water) = flow.limits();
        BufferInfo {
            write_buffered: self.buffer().borrow().len(),
            writing_paused: flow.is_paused(),
            high_water,
            low_water,
            kernel_unsent,
            reading_paused,
            read_buffered: None,
        }
    }
}

/// What a transport still held to send when its loop closed, for
/// [`warn_unsent_at_loop_close`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Unsent {
    /// A byte stream's buffer (socket, pipe, TLS layer).
    Bytes(usize),
    /// A datagram endpoint's queue: whole datagrams, and their bytes.
    Datagrams { count: usize, bytes: usize },
}

/// The warning of what a transport still held to send when the loop closed under it (the
/// socket and pipe transports' buffer, the TLS layer's backlog, a datagram endpoint's queue),
/// once per transport.
#[cold]
#[inline(never)]
pub(crate) fn warn_unsent_at_loop_close(log_name: &str, transport_id: u64, unsent: Unsent) {
    match unsent {
        Unsent::Bytes(n) => crate::event_loop::debug::warning!(
            "{log_name} {transport_id}: the event loop closed with {n} bytes still to send, \
             dropped (await the writer's drain() or wait_closed() before the run ends)"
        ),
        Unsent::Datagrams { count, bytes } => crate::event_loop::debug::warning!(
            "{log_name} {transport_id}: the event loop closed with {count} datagrams ({bytes} \
             bytes) still to send, dropped (close() the endpoint and wait for its \
             connection_lost() before the run ends)"
        ),
    }
}

/// Which kind of transport dropped a write, for [`warn_write_after_loop_closed`]'s wording.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sender {
    /// A stream's `write` (socket, pipe, TLS).
    Stream,
    /// A datagram endpoint's `sendto`.
    Datagram,
}

/// The warning of the first write dropped because the loop closed under its transport (a
/// stream or endpoint kept past the `run` that opened it): the socket, pipe, TLS and datagram
/// transports' alike.
#[cold]
#[inline(never)]
pub(crate) fn warn_write_after_loop_closed(transport_id: u64, sender: Sender) {
    let (call, what) = match sender {
        Sender::Stream => ("write", "stream"),
        Sender::Datagram => ("sendto", "endpoint"),
    };
    crate::event_loop::debug::warning!(
        "transport {transport_id}: {call} after its event loop closed, dropped (asyncio::run \
         closes its loop as it returns: keep the {what}'s work inside the run, or use a Runner)"
    );
}
