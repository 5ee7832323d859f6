//! The write side of [`TlsProtocol`]: app data in, ciphertext out, and the app's write flow
//! control. Mirrors `_write_appdata`, `_do_write`, `_process_outgoing`,
//! `_control_app_writing`, `_get_write_buffer_size` and `_set_write_buffer_limits` of
//! `SSLProtocol` in CPython `Lib/asyncio/sslproto.py` (T11, T13–T15). Ground rule: no borrow
//! of the layer is held while the raw transport's `write` runs (it may call `pause_writing`
//! back) or while the app's pause/resume_writing runs.

use super::{SslState, TlsProtocol, KEEP_OUTGOING};
use crate::constants::LOG_THRESHOLD_FOR_CONNLOST_WRITES;
use crate::error::Error;
use crate::protocol::FlowEdge;

impl TlsProtocol {
    /// Python's `_write_appdata` (T11, T13).
    pub(crate) fn write_appdata(&self, chunks: &[&[u8]]) {
        if matches!(
            self.state.get(),
            SslState::Flushing | SslState::Shutdown | SslState::Unwrapped
        ) {
            if self.conn_lost.get() >= LOG_THRESHOLD_FOR_CONNLOST_WRITES {
                crate::event_loop::debug::warning!("SSL connection is closed");
            }
            self.conn_lost.set(self.conn_lost.get().saturating_add(1));
            return;
        }
        if chunks.is_empty() {
            return; // an empty writelines: nothing to send
        }
        if self.state.get() == SslState::Wrapped && self.backlog.borrow().is_empty() {
            for c in chunks {
                if let Err(e) = self.encrypt(c) {
                    self.fatal_error(e, "Fatal error on SSL protocol");
                    return;
                }
            }
            self.process_outgoing();
        } else {
            let mut b = self.backlog.borrow_mut();
            for c in chunks {
                b.extend_from_slice(c);
            }
            drop(b);
            if self.state.get() == SslState::Wrapped {
                self.do_write();
            } else {
                self.control_app_writing();
            }
        }
    }

    /// Encrypts `data` into `outgoing`, handing full chunks to the raw transport as it goes so
    /// a large write is not held twice.
    pub(super) fn encrypt(&self, mut data: &[u8]) -> Result<(), Error> {
        while !data.is_empty() {
            let n = {
                let mut out = self.outgoing.borrow_mut();
                self.engine.borrow_mut().write(data, &mut out)?
            };
            if n == 0 {
                break; // cannot happen on a live connection; never spin
            }
            data = &data[n..];
            if !data.is_empty() {
                self.flush_outgoing();
            }
        }
        Ok(())
    }

    /// Python's `_do_write`: the backlog of T11, then outgoing.
    pub(super) fn do_write(&self) {
        let backlog = std::mem::take(&mut *self.backlog.borrow_mut());
        if !backlog.is_empty() {
            if let Err(e) = self.encrypt(&backlog) {
                self.fatal_error(e, "Fatal error on SSL protocol");
                return;
            }
        }
        self.process_outgoing();
    }

    /// Python's `_process_outgoing`: ciphertext to the raw transport unless it paused us.
    pub(super) fn process_outgoing(&self) {
        {
            let mut out = self.outgoing.borrow_mut();
            self.engine.borrow_mut().flush(&mut out);
        }
        self.flush_outgoing();
        self.control_app_writing();
    }

    pub(super) fn flush_outgoing(&self) {
        if self.ssl_writing_paused.get() || self.outgoing.borrow().is_empty() {
            return;
        }
        let Some(raw) = self.raw() else { return };
        let mut out = std::mem::take(&mut *self.outgoing.borrow_mut());
        // May re-enter pause_writing (a flag); no borrow is held here.
        let written = raw.write(&out);
        out.clear();
        out.shrink_to(KEEP_OUTGOING);
        let mut slot = self.outgoing.borrow_mut();
        if slot.is_empty() {
            *slot = out; // keep the capacity
        }
        drop(slot);
        // The transport refuses writes (its write_eof() was called, or a sendfile runs on it):
        // TLS cannot go on without them. Dropping the records quietly would leave a handshake
        // waiting for its timeout, and the peer waiting for data that never comes.
        if let Err(e) = written {
            if self.fatal.borrow().is_none() {
                self.fatal_error(e, "Fatal error on SSL protocol");
            }
        }
    }

    /// start_tls made us the protocol of a transport whose writing is paused (T15, L49): its
    /// later `resume_writing` is ours to receive, and if it had paused the app protocol itself
    /// (`app_was_paused`), the layer owes the app that protocol's `resume_writing`, sent by the
    /// T14 rule once our own buffer is at or below low. CPython leaves both out: its
    /// `resume_writing` then fails an assertion and the app stays paused.
    pub(crate) fn inherit_raw_flow(&self, raw_paused: bool, app_was_paused: bool) {
        self.ssl_writing_paused.set(raw_paused);
        if raw_paused && app_was_paused {
            self.write_flow.borrow_mut().mark_paused();
        }
    }

    /// Python's `_get_write_buffer_size` (T13): held ciphertext plus the plaintext backlog.
    pub(crate) fn write_buffer_size(&self) -> usize {
        self.outgoing.borrow().len() + self.backlog.borrow().len()
    }

    /// The app's writing is paused (its `pause_writing` went out, its `resume_writing` not
    /// yet), and the connection goes on: not once aborted or failed (`Unwrapped`, or a fatal
    /// error that aborted the raw transport), when nothing more will be written and the app
    /// hears no more of writing. The socket transport's rule: it says false from its abort
    /// on, not only once `connection_lost` has run. (CPython's `_app_writing_paused`, as its
    /// socket transport's `_protocol_paused`, is never reset.)
    pub(crate) fn writing_paused(&self) -> bool {
        !self.write_ended() && self.write_flow.borrow().is_paused()
    }

    /// Aborted or failed (`Unwrapped`, or a fatal error that aborted the raw transport):
    /// nothing more will be written.
    fn write_ended(&self) -> bool {
        self.state.get() == SslState::Unwrapped || self.fatal.borrow().is_some()
    }

    /// Bytes the raw socket's kernel buffer has not sent yet.
    pub(crate) fn kernel_unsent(&self) -> Option<usize> {
        self.raw()?.buffer_info().kernel_unsent
    }

    /// `TransportImpl::unsent_mark`: ours and the raw transport's.
    pub(crate) fn unsent_mark(&self) -> usize {
        let raw = self.raw().map_or(0, |t| t.unsent_mark());
        self.write_buffer_size().saturating_add(raw)
    }

    pub(crate) fn write_buffer_limits(&self) -> (usize, usize) {
        self.write_flow.borrow().limits()
    }

    /// `set_write_buffer_limits` (T14): Python's `add_flowcontrol_defaults` with 512 KiB.
    pub(crate) fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        self.write_flow.borrow_mut().set_limits(high, low)?;
        self.control_app_writing();
        Ok(())
    }

    /// Python's `_control_app_writing` (T14): pause at `>= high`, resume at `<= low`.
    /// Not once the layer has ended (aborted or failed): the app hears no more of writing,
    /// and the buffers emptied by `abort` must not read as a drain (a `resume_writing` after
    /// `abort()`, on a later `set_write_buffer_limits`).
    pub(super) fn control_app_writing(&self) {
        if self.write_ended() {
            return;
        }
        let size = self.write_buffer_size();
        let (pause, resume) = {
            let mut f = self.write_flow.borrow_mut();
            let pause = f.should_pause(size);
            (pause, !pause && f.should_resume(size))
        };
        if pause {
            self.deliver_flow(true);
        } else if resume {
            self.deliver_flow(false);
        }
    }

    /// pause/resume_writing to the app through the seam: now, or once its current callback
    /// has returned; flushed on later turns while the app is held elsewhere.
    pub(super) fn deliver_flow(&self, pause: bool) {
        crate::protocol::deliver_flow(&self.lp, &self.me, |t| &t.app, FlowEdge::pause(pause));
    }
}

#[cfg(test)]
mod tests {
    use crate::constants::FLOW_CONTROL_HIGH_WATER_SSL_WRITE;
    use crate::transport::flow_control::FlowControl;

    #[test]
    fn t14_flow_defaults() {
        let k = FLOW_CONTROL_HIGH_WATER_SSL_WRITE;
        assert_eq!(FlowControl::marks(None, None, k).unwrap(), (524288, 131072));
        assert_eq!(FlowControl::marks(Some(100), None, k).unwrap(), (100, 25));
        assert_eq!(FlowControl::marks(None, Some(10), k).unwrap(), (40, 10));
        let e = FlowControl::marks(Some(1), Some(2), k).unwrap_err();
        assert_eq!(e.to_string(), "high (1) must be >= low (2) must be >= 0");
    }
}
