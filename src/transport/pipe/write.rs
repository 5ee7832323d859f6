//! A pipe transport's write side: straight to the pipe while it takes it, else buffered, with
//! pause/resume at the water marks.

use std::io::{self, IoSlice, Write};

use mio::unix::pipe::Sender;

use super::{Direction, End, PipeTransport, State};
use crate::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::error::Error;
use crate::event_loop::debug::trace;
use crate::protocol::FlowEdge;

impl PipeTransport {
    pub(super) fn dropped_write(&self) {
        let n = self.conn_lost_writes.get();
        if n as usize >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
            crate::event_loop::debug::warning!(
                "pipe closed by peer or os.write(pipe, data) raised exception."
            );
        }
        self.conn_lost_writes.set(n.saturating_add(1));
    }

    pub(super) fn check_writable(&self, what: &str) -> Result<bool, Error> {
        if self.direction == Direction::Read {
            return Err(Error::Unsupported(format!(
                "{what}() on a read pipe transport"
            )));
        }
        if self.state.get() != State::Open {
            // CPython: a write after close or loss is dropped (and counted).
            self.dropped_write();
            return Ok(false);
        }
        Ok(true)
    }

    /// One non-blocking write; how much the kernel took, or `None` after a fatal error.
    pub(super) fn send_now(&self, f: impl Fn(&mut &Sender) -> io::Result<usize>) -> Option<usize> {
        let result = {
            let end = self.end.borrow();
            let Some(End::Write(w)) = end.as_ref() else {
                return Some(0);
            };
            let mut w: &Sender = w;
            loop {
                match f(&mut w) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            }
        };
        match result {
            Ok(n) => Some(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Some(0),
            Err(e) => {
                self.fatal_error(e, "Fatal write error on pipe transport");
                None
            }
        }
    }

    pub(super) fn write_ready(&self) {
        if self.buffer.borrow().is_empty() {
            return;
        }
        let result = {
            let end = self.end.borrow();
            let Some(End::Write(w)) = end.as_ref() else {
                return;
            };
            let mut w: &Sender = w;
            self.buffer.borrow_mut().flush_with(|b| w.write(b))
        };
        match result {
            Err(e) => {
                self.fatal_error(e, "Fatal write error on pipe transport");
                return;
            }
            Ok(0) => return,
            Ok(_) => {}
        }
        self.maybe_resume_protocol();
        if self.buffer.borrow().is_empty() && self.state.get() == State::Closing {
            self.state.set(State::Lost);
            self.call_connection_lost(None);
        }
    }

    pub(super) fn maybe_pause_protocol(&self) {
        let size = self.buffer.borrow().len();
        if self.flow.borrow_mut().should_pause(size) {
            trace!("transport[{}]: pipe pause_writing ({size} B)", self.id);
            self.deliver_flow(true);
        }
    }

    pub(super) fn maybe_resume_protocol(&self) {
        let size = self.buffer.borrow().len();
        if self.flow.borrow_mut().should_resume(size) {
            trace!("transport[{}]: pipe resume_writing ({size} B)", self.id);
            self.deliver_flow(false);
        }
    }

    pub(super) fn deliver_flow(&self, pause: bool) {
        crate::protocol::deliver_flow(&self.lp, &self.me, |t| &t.protocol, FlowEdge::pause(pause));
    }

    /// `write`: straight to the pipe while it takes it, the rest buffered.
    pub(super) fn write_data(&self, data: &[u8]) -> Result<(), Error> {
        if !self.check_writable("write")? || data.is_empty() {
            return Ok(());
        }
        let mut rest = data;
        if self.buffer.borrow().is_empty() {
            let Some(n) = self.send_now(|w| w.write(data)) else {
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

    /// `writelines`: one vectored write, the rest buffered.
    pub(super) fn write_chunks(&self, chunks: &[IoSlice<'_>]) -> Result<(), Error> {
        let total: usize = chunks.iter().map(|c| c.len()).sum();
        if !self.check_writable("writelines")? || total == 0 {
            return Ok(());
        }
        let mut sent = 0;
        if self.buffer.borrow().is_empty() {
            let Some(n) = self.send_now(|w| w.write_vectored(chunks)) else {
                return Ok(());
            };
            sent = n;
        }
        if sent < total {
            self.buffer.borrow_mut().push_unsent(chunks, sent);
            self.maybe_pause_protocol();
        }
        Ok(())
    }
}
