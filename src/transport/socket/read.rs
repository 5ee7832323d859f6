//! The read side of the socket transport (`_read_ready`, `_read_ready__get_buffer`,
//! `_read_ready__data_received`, `_read_ready__on_eof` in CPython `selector_events.py`;
//! L46, L50, L51, L54, L59–L63): edge-triggered reads into the loop's shared buffer (plain
//! protocols) or the protocol's own buffer (buffered protocols).

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Waker;

use mio::Interest;

use super::{Reading, RecvSide, SocketTransport, READS_PER_EVENT};
use crate::constants::MAX_READ_SIZE;
use crate::error::Error;
use crate::event_loop::debug::trace;
use crate::event_loop::read_buf::read_window;
use crate::protocol::{BufferedProtocol, Called, Payload};
use crate::transport::life_path::LifePath;
use crate::transport::lifecycle::State;
use crate::transport::{Through, TransportImpl};

/// What one buffered read came to (inside the protocol call; acted on after it).
enum Buffered {
    Data(usize, usize),
    Eof,
    Failed(io::Error),
    Panicked(&'static str, Payload),
    Empty,
}

/// Which read path a protocol takes.
enum Path {
    Plain,
    Buffered(Buffered),
}

impl SocketTransport {
    pub(super) fn read_ready(&self) {
        for _ in 0..READS_PER_EVENT {
            if !self.life.may_read() {
                return;
            }
            if let Some(waker) = self.through.take() {
                // A read_into waits with memory of its own and an empty reader: its poll
                // reads (read_through_into); the protocol is not called.
                self.set_recv_side(RecvSide::Through);
                trace!(
                    "transport[{}]: readable, the waiting read_into reads",
                    self.id()
                );
                crate::event_loop::executor::waker::wake_in(self.lp(), waker, "read_into wake-up");
                return;
            }
            // One call through the seam: a buffered protocol gets its read inside it (recv
            // straight into its buffer, then buffer_updated); a plain one is read first, then
            // called with the bytes.
            let path = match self.protocol.is_buffered() {
                Some(false) => Called::Done(Path::Plain),
                // A read-through met the EOF already (only a stream's reader reads through,
                // a buffered protocol): the protocol hears it without a read into a reader
                // already at EOF. A plain protocol swapped in since reads the EOF again.
                _ if self.recv_side.get() == RecvSide::EofUntold => {
                    self.on_eof();
                    return;
                }
                _ => self.protocol.call(|p| match p.as_buffered() {
                    Some(b) => Path::Buffered(self.read_buffered(b)),
                    None => Path::Plain,
                }),
            };
            let drained = match path {
                Called::Done(Path::Buffered(outcome)) => self.after_buffered(outcome),
                Called::Done(Path::Plain) => self.read_into_plain(),
                Called::Gone => return,
                Called::Busy => {
                    // Held by someone across a loop turn: read later rather than read and drop.
                    self.read_when_free();
                    return;
                }
                Called::Panicked(payload) => {
                    self.protocol_failed("get_buffer", payload);
                    return;
                }
            };
            if drained {
                return;
            }
        }
        // Fair share used up with data still coming: continue in a later iteration (L59).
        self.read_later();
    }

    /// One read for a plain protocol, through the loop's shared buffer. True when the kernel
    /// buffer is known to be empty (or reading must stop).
    pub(super) fn read_into_plain(&self) -> bool {
        if self.protocol.is_busy() {
            self.read_when_free();
            return true;
        }
        let mut buf = self.lp().inner.read_buf.take();
        let window = read_window(&mut buf);
        let at = window.start;
        let result = self.sock_read(&mut buf[window]);
        let drained = match result {
            Ok(0) => {
                self.lp().inner.read_buf.set(buf);
                self.on_eof();
                return true;
            }
            Ok(n) => {
                // One look at the trace flag for both lines, their formatting out of line: two
                // inline checks kept the flag's address in a register across the loop, or
                // reloaded it twice per message.
                if crate::event_loop::debug::trace_enabled() {
                    self.trace_recv(n);
                }
                match self.protocol.call(|p| p.data_received(&buf[at..at + n])) {
                    Called::Done(()) | Called::Gone => {}
                    Called::Panicked(payload) => {
                        self.lp().inner.read_buf.set(buf);
                        self.protocol_failed("data_received", payload);
                        return true;
                    }
                    Called::Busy => unreachable!("checked not busy before the read"),
                }
                n < MAX_READ_SIZE && !self.peer_closed.get()
            }
            Err(e) => {
                self.lp().inner.read_buf.set(buf);
                return self.read_error(e);
            }
        };
        self.lp().inner.read_buf.set(buf);
        drained
    }

    /// The trace of one plain read: the bytes received, then the protocol's call.
    #[cold]
    #[inline(never)]
    fn trace_recv(&self, n: usize) {
        trace!("transport[{}]: recv {n} B", self.id());
        trace!("protocol[{}]: data_received({n})", self.id());
    }

    /// One read straight into a buffered protocol's memory (L50, L51), inside the seam's call.
    fn read_buffered(&self, p: &mut dyn BufferedProtocol) -> Buffered {
        let got = catch_unwind(AssertUnwindSafe(|| {
            let buf = p.get_buffer(0);
            if buf.is_empty() {
                return Err(None);
            }
            let offered = buf.len();
            self.sock_read(buf).map(|n| (n, offered)).map_err(Some)
        }));
        match got {
            Err(payload) => Buffered::Panicked("get_buffer", Payload::new(payload)),
            Ok(Err(None)) => Buffered::Empty,
            Ok(Err(Some(e))) => Buffered::Failed(e),
            Ok(Ok((0, _))) => Buffered::Eof,
            Ok(Ok((n, offered))) => {
                trace!(
                    "transport[{}]: recv {n} B into the protocol's buffer",
                    self.id()
                );
                match catch_unwind(AssertUnwindSafe(|| p.buffer_updated(n))) {
                    Ok(()) => Buffered::Data(n, offered),
                    Err(payload) => Buffered::Panicked("buffer_updated", Payload::new(payload)),
                }
            }
        }
    }

    /// Acts on a buffered read once the protocol is free again. True when drained. Out of
    /// line: inlined, its jump table and its outcomes' fields took registers across
    /// `read_ready`'s loop that a plain protocol's path then spilled and reloaded per message.
    #[inline(never)]
    fn after_buffered(&self, outcome: Buffered) -> bool {
        match outcome {
            Buffered::Data(n, offered) => n < offered && !self.peer_closed.get(),
            Buffered::Eof => {
                self.on_eof();
                true
            }
            Buffered::Failed(e) => self.read_error(e),
            Buffered::Panicked(what, payload) => {
                self.protocol_failed(what, payload);
                true
            }
            Buffered::Empty => {
                let e = Error::invalid_state("get_buffer() returned an empty buffer");
                self.fatal_error(
                    io::Error::other(e),
                    "Fatal error: protocol.get_buffer() call failed.",
                    true,
                );
                true
            }
        }
    }

    /// Read-through, for the streams layer's `read_into` when its reader holds no bytes: one
    /// `recv` straight into the caller's memory, skipping the reader's buffer and the protocol
    /// calls (`get_buffer`, `buffer_updated`), as a plain socket read would. The bytes are
    /// the next ones in the stream either way: the reader is empty, and the protocol path
    /// and this one never run at once (one thread, and `read_ready` hands an edge to a
    /// waiting read-through instead of reading it).
    ///
    /// Only the transport's own protocol may ask (`owner`), and only while reading is active:
    /// paused, it is the protocol's flow control; swapped (`set_protocol`, `start_tls`), the
    /// bytes are another protocol's. EOF is the caller's at once ([`Through::Eof`]: its
    /// reader is at EOF and the read returns it in the same poll), and the protocol's on a
    /// later turn (`eof_received`, never from inside the read, L62). An error fails the
    /// transport as `read_ready` would (L61), and the caller then waits for the reader as
    /// usual.
    #[inline]
    pub(super) fn read_through_into(
        &self,
        owner: *const (),
        out: &mut [u8],
        waker: &Waker,
    ) -> Through {
        if !self.life.may_read() || !self.protocol.holds(owner) {
            return Through::No;
        }
        if self.recv_side.get() != RecvSide::Through {
            self.park_through(waker);
            return Through::Wait;
        }
        match self.sock_read(out) {
            Ok(n) if n > 0 => {
                // A short read drained the kernel buffer, unless the peer closed (then read
                // on to EOF: no further edge comes).
                if n < out.len() && !self.peer_closed.get() {
                    self.set_recv_side(RecvSide::Quiet);
                }
                trace!(
                    "transport[{}]: recv {n} B into read_into's buffer",
                    self.id()
                );
                Through::Read(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.set_recv_side(RecvSide::Quiet);
                self.park_through(waker);
                Through::Wait
            }
            Ok(_) => {
                // EOF: the read returns it now, the protocol hears it on a later turn, never
                // from inside this read (L62), and nobody reads it again (`EofUntold`). A
                // transport paused, closed or already at EOF by then skips the callback: a
                // resume's re-registration reports the EOF again, and its event delivers it.
                trace!("transport[{}]: recv EOF into read_into", self.id());
                self.set_recv_side(RecvSide::EofUntold);
                self.read_later();
                Through::Eof
            }
            Err(e) => {
                // An error is reported once by the kernel: fail here, as read_ready would (L61;
                // connection_lost is queued, never called from inside this read).
                self.set_recv_side(RecvSide::Quiet);
                self.read_error(e);
                Through::No
            }
        }
    }

    fn park_through(&self, waker: &Waker) {
        let mut slot = self.through.take();
        match &mut slot {
            Some(w) => w.clone_from(waker),
            None => slot = Some(waker.clone()),
        }
        self.through.set(slot);
    }

    /// The read-through waiter leaves: its waker is handed back (unless an edge took it), and
    /// an edge it took and did not read to the end goes back to the protocol path (a
    /// `readline` next, or nobody, still gets the bytes and the EOF).
    pub(super) fn end_read_through(&self) -> Option<Waker> {
        let waker = self.through.take();
        if self.recv_side.get() == RecvSide::Through {
            self.set_recv_side(RecvSide::Quiet);
            self.read_later();
        }
        waker
    }

    #[inline]
    pub(super) fn sock_read(&self, buf: &mut [u8]) -> io::Result<usize> {
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
    pub(super) fn read_error(&self, e: io::Error) -> bool {
        if e.kind() != io::ErrorKind::WouldBlock {
            self.fatal_error(e, "Fatal read error on socket transport", false);
        }
        true
    }

    /// EOF from the peer (L62, L63): `eof_received` once; keep the write side open if it asks.
    pub(super) fn on_eof(&self) {
        trace!("transport[{}]: recv EOF", self.id());
        trace!("protocol[{}]: eof_received", self.id());
        self.life.set_reading(Reading::Done);
        if self.recv_side.get() == RecvSide::EofUntold {
            self.set_recv_side(RecvSide::Quiet);
        }
        match self.protocol.call(|p| p.eof_received()) {
            Called::Panicked(payload) => self.protocol_failed("eof_received", payload),
            // The write side stays open. The registration stays as it is: after the FIN no
            // byte can arrive, so readable interest costs nothing, and a re-registration
            // would cost an epoll_ctl and (edge-triggered) an EPOLLOUT wake-up per connection.
            // Later events find reading done and read nothing (`io_ready`).
            Called::Done(true) => {}
            Called::Done(false) | Called::Gone => self.close(),
            Called::Busy => {
                // eof_received is owed once (L63): on a later turn, with the protocol free,
                // unless the transport was closed or aborted meanwhile: then, as after
                // CPython's `_force_close` (its reader removed), only connection_lost follows.
                // Reached from the read-through EOF only: the other callers just read with
                // the protocol free.
                self.when_free(|t| {
                    if t.life.state() == State::Open {
                        t.on_eof();
                    }
                });
            }
        }
    }

    pub(super) fn reregister(&self, interest: Interest) {
        let Some(key) = self.key.get() else { return };
        let result = match self.sock.borrow_mut().as_mut() {
            Some(sock) => self.lp().inner.reregister(key, sock, interest),
            None => Ok(()),
        };
        if let Err(e) = result {
            self.fatal_error(e, "Fatal error re-registering the socket", false);
        }
    }
}
