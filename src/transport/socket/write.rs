//! The write side of the socket transport (`write`'s fast path, `_write_ready`, the
//! water-mark edges of `_FlowControlMixin`; L49, L64–L73, L81): what the kernel does not take
//! at once waits in the `WriteBuffer` until the next writable edge.

use std::io;

use super::{Socket, SocketTransport, State, WriteSide};
use crate::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::event_loop::debug::trace;
use crate::protocol::FlowEdge;

impl SocketTransport {
    pub(super) fn dropped_write(&self) {
        let n = self.conn_lost_writes.get();
        if n as usize >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
            crate::event_loop::debug::warning!("socket.send() raised exception.");
        }
        self.conn_lost_writes.set(n.saturating_add(1));
    }

    /// Sends from the fast path; returns how much the kernel took (0 on `WouldBlock`), or
    /// `None` after a fatal error.
    pub(super) fn send_now(&self, f: impl Fn(&Socket) -> io::Result<usize>) -> Option<usize> {
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

    pub(super) fn write_ready(&self) {
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
                State::Open if self.write_side.get() == WriteSide::EofPending => self.do_shutdown(),
                _ => {}
            }
        }
    }

    pub(super) fn do_shutdown(&self) {
        if self.write_side.get() == WriteSide::ShutDown {
            return;
        }
        self.set_write_side(WriteSide::ShutDown);
        let r = self.sock.borrow().as_ref().map(Socket::shutdown_write);
        if let Some(Err(e)) = r {
            if e.kind() != io::ErrorKind::NotConnected {
                self.fatal_error(e, "Fatal error on shutdown(SHUT_WR)", false);
            }
        }
    }

    pub(super) fn maybe_pause_protocol(&self) {
        let size = self.buffer.borrow().len();
        if self.flow.borrow_mut().should_pause(size) {
            trace!(
                "transport[{}]: pause_writing (buffered {size} B > high {} B)",
                self.id(),
                self.flow.borrow().limits().1
            );
            self.deliver_flow(true);
        }
    }

    pub(super) fn maybe_resume_protocol(&self) {
        let size = self.buffer.borrow().len();
        if self.flow.borrow_mut().should_resume(size) {
            trace!(
                "transport[{}]: resume_writing (buffered {size} B <= low {} B)",
                self.id(),
                self.flow.borrow().limits().0
            );
            self.deliver_flow(false);
        }
    }

    /// pause_writing/resume_writing through the protocol slot: now, or after the protocol call
    /// in progress (L49); flushed on later turns while the protocol is held elsewhere.
    pub(super) fn deliver_flow(&self, pause: bool) {
        crate::protocol::deliver_flow(self.lp(), &self.me, |t| &t.protocol, FlowEdge::pause(pause));
    }
}
