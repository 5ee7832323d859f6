//! A pipe transport's read side: read while readable (a fair share per event), EOF, and
//! reading paused or resumed.

use std::cell::Cell;
use std::io::{self, Read};

use mio::unix::pipe::Receiver;

use super::{End, PipeTransport, Reading, READS_PER_EVENT};
use crate::error::Error;
use crate::event_loop::debug::trace;
use crate::event_loop::exception::Call;
use crate::event_loop::read_buf::read_window;
use crate::protocol::Called;
use crate::transport::life_path::LifePath;

impl PipeTransport {
    pub(super) fn read_ready(&self) {
        for _ in 0..READS_PER_EVENT {
            if !self.life.may_read() {
                // Paused before a short read said the pipe was drained (by the protocol, or
                // before a queued read ran): the resume must look.
                if self.life.reading() == Reading::Paused {
                    self.passed_over.set(true);
                }
                return;
            }
            if self.protocol.is_busy() {
                // Held elsewhere: one spaced-out retry through the seam, as the socket's
                // (retried on every turn, a held protocol spun the loop).
                self.read_when_free();
                return;
            }
            // One read, inside one call through the seam: into a buffered protocol's own
            // memory, or into the loop's shared buffer for a plain one.
            let mut shared = self.lp().inner.read_buf.take();
            let window = read_window(&mut shared);
            // Which callback a panic left (only `get_buffer` ends the pipe).
            let calling = Cell::new("get_buffer");
            let outcome = self.protocol.call(|p| match p.as_buffered() {
                Some(b) => {
                    let buf = b.get_buffer(0);
                    if buf.is_empty() {
                        return Err(io::Error::other(Error::invalid_state(
                            "get_buffer() returned an empty buffer",
                        )));
                    }
                    let offered = buf.len();
                    let n = self.read_into(buf)?;
                    if n > 0 {
                        calling.set("buffer_updated");
                        b.buffer_updated(n);
                    }
                    Ok((n, offered))
                }
                None => {
                    let (at, offered) = (window.start, window.len());
                    let n = self.read_into(&mut shared[window])?;
                    if n > 0 {
                        calling.set("data_received");
                        p.data_received(&shared[at..at + n]);
                    }
                    Ok((n, offered))
                }
            });
            self.lp().inner.read_buf.set(shared);
            match outcome {
                Called::Done(Ok((0, _))) => {
                    self.on_eof();
                    return;
                }
                Called::Done(Ok((n, offered))) => {
                    trace!("transport[{}]: pipe read {n} B", self.id());
                    if n < offered && !self.peer_closed.get() {
                        return; // drained: wait for the next edge
                    }
                }
                Called::Done(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Called::Done(Err(e)) if e.raw_os_error() == Some(libc::EIO) => {
                    self.terminal_hung_up(e, "Fatal read error on pipe transport");
                    return;
                }
                Called::Done(Err(e)) => {
                    // Any other failure is reported, unlike the socket's OS errors.
                    self.fatal_error(e, "Fatal read error on pipe transport", true);
                    return;
                }
                Called::Gone => return,
                Called::Busy => {
                    self.read_when_free();
                    return;
                }
                Called::Panicked(payload) if calling.get() == "get_buffer" => {
                    // Nothing was read: reading on would only fail again.
                    self.protocol_failed("get_buffer", payload);
                    return;
                }
                Called::Panicked(payload) => {
                    // The bytes were read and handed over: CPython's read pipe lets the
                    // protocol's exception leave `_read_ready` for the loop, which reports a
                    // failed callback, and the pipe reads on. Whether more is waiting is
                    // unknown: the next read tells.
                    self.report_callback(Call::Other(calling.get()), &payload);
                }
            }
        }
        self.read_later();
    }

    pub(super) fn read_into(&self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.end.borrow();
        let Some(End::Read(r)) = end.as_ref() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let mut r: &Receiver = r;
        loop {
            match r.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// EOF: the pipe closes (`connection_lost(None)` queued), then `eof_received` once, whose
    /// answer is ignored: as CPython's read pipe, which sets `_closing` and queues both, so
    /// `is_closing()` is true inside `eof_received` and a `close()` there changes nothing. A
    /// panicking `eof_received` is a failed callback's report and changes nothing else:
    /// CPython runs it as a loop callback of its own, the connection's end as the next one.
    pub(super) fn on_eof(&self) {
        // Read no more, even while the protocol is waited for: a second read would find the
        // EOF again and queue a second `eof_received`.
        self.life.set_reading(Reading::Done);
        if self.protocol.is_busy() {
            return self.when_free(|t| t.on_eof());
        }
        trace!("protocol[{}]: eof_received (pipe)", self.id());
        // Queued now, run on a later turn: after this call returns, so still last (L44).
        self.force_close(None);
        if let Called::Panicked(payload) = self.protocol.call(|p| p.eof_received()) {
            self.report_callback(Call::Bare("eof_received"), &payload);
        }
    }
}
