//! The read side of the socket transport (`_read_ready`, `_read_ready__get_buffer`,
//! `_read_ready__data_received`, `_read_ready__on_eof` in CPython `selector_events.py`;
//! L46, L50, L51, L54, L59–L63): edge-triggered reads into the loop's shared buffer (plain
//! protocols) or the protocol's own buffer (buffered protocols).

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use mio::Interest;

use super::{Reading, SocketTransport, State, READS_PER_EVENT};
use crate::constants::MAX_READ_SIZE;
use crate::error::Error;
use crate::event_loop::debug::trace;
use crate::protocol::{is_busy, ProtocolRef};
use crate::transport::TransportImpl;

impl SocketTransport {
    pub(super) fn read_ready(&self) {
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
    pub(super) fn read_into_plain(&self, p: &ProtocolRef) -> bool {
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
                trace!("transport[{}]: recv {n} B", self.id);
                trace!("protocol[{}]: data_received({n})", self.id);
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
    pub(super) fn read_into_buffered(&self, p: &ProtocolRef) -> bool {
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
                    trace!(
                        "transport[{}]: recv {n} B into the protocol's buffer",
                        self.id
                    );
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
        trace!("transport[{}]: recv EOF", self.id);
        trace!("protocol[{}]: eof_received", self.id);
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

    pub(super) fn reregister(&self, interest: Interest) {
        let Some(key) = self.key.get() else { return };
        let result = match self.sock.borrow_mut().as_mut() {
            Some(sock) => self.lp.inner.reregister(key, sock, interest),
            None => Ok(()),
        };
        if let Err(e) = result {
            self.fatal_error(e, "Fatal error re-registering the socket", false);
        }
    }
}
