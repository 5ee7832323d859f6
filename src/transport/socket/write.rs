//! The write side of the socket transport (`write`'s fast path, `_write_ready`, the
//! water-mark edges of `_FlowControlMixin`; L49, L64–L73, L81): what the kernel does not take
//! at once waits in the `WriteBuffer` until the next writable edge.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{Socket, SocketTransport, State};
use crate::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::event_loop::debug::trace;
use crate::event_loop::exception::{ExceptionContext, PanicError};
use crate::protocol::{is_busy, ProtocolRef};

impl SocketTransport {
    pub(super) fn dropped_write(&self) {
        let n = self.conn_lost_writes.get();
        if n >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
            crate::event_loop::debug::warning!("socket.send() raised exception.");
        }
        self.conn_lost_writes.set(n + 1);
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
                State::Open if self.eof_written.get() => self.do_shutdown(),
                _ => {}
            }
        }
    }

    pub(super) fn do_shutdown(&self) {
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

    pub(super) fn maybe_pause_protocol(&self) {
        let size = self.buffer.borrow().len();
        if self.flow.borrow_mut().should_pause(size) {
            trace!(
                "transport[{}]: pause_writing (buffered {size} B > high {} B)",
                self.id,
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
                self.id,
                self.flow.borrow().limits().0
            );
            self.deliver_flow(false);
        }
    }

    /// Calls pause_writing/resume_writing now, or after the protocol call in progress (L49).
    pub(super) fn deliver_flow(&self, pause: bool) {
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

    pub(super) fn call_flow(&self, proto: &ProtocolRef, pause: bool) {
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

    pub(super) fn flush_deferred_flow(&self) {
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
}
