//! The shutdown flow of [`TlsProtocol`]: close_notify both ways, the shutdown timeout, abort.
//! Mirrors `_start_shutdown`, `_check_shutdown_timeout`, `_do_flush`, `_do_shutdown`,
//! `_on_shutdown_complete` and `_abort` of `SSLProtocol` in CPython `Lib/asyncio/sslproto.py`
//! (T20–T26), plus the D9 truncation check. Ground rule: every step is driven by the state
//! alone, so a step deferred because the app was busy can simply run again.

use std::io;

use super::{cancel, AppState, SslState, TlsProtocol};
use crate::error::{Error, TlsError};

impl TlsProtocol {
    /// Python's `_start_shutdown` (T22, T24): from the app's close() or the peer's
    /// close_notify.
    pub(crate) fn start_shutdown(&self) {
        let held = self.eof_received.get() && self.app_reading_paused.get();
        if self.state.get() == SslState::Flushing && held {
            // The app closes while the layer holds the peer's EOF for it (T21): it will read
            // no more, so what it left unread is dropped, as a close while paused drops it in
            // the WRAPPED state (T17, T22), and the shutdown goes on. (Only the app's close
            // gets here: nothing is delivered, so no close_notify is read, while paused.)
            if let Some(t) = self.app_transport.borrow().as_ref() {
                t.mark_closed();
            }
            self.do_flush();
            return;
        }
        if matches!(
            self.state.get(),
            SslState::Flushing | SslState::Shutdown | SslState::Unwrapped
        ) {
            return;
        }
        if let Some(t) = self.app_transport.borrow().as_ref() {
            t.mark_closed();
        }
        if self.state.get() == SslState::DoHandshake {
            self.abort();
            return;
        }
        self.set_state(SslState::Flushing);
        self.arm_shutdown_timer();
        self.do_flush();
    }

    /// Starts the shutdown timeout (T25) unless it runs already.
    fn arm_shutdown_timer(&self) {
        if self.shutdown_timer.borrow().is_some() {
            return;
        }
        let me = self.me.clone();
        let timer = self
            .lp
            .call_later(self.options.shutdown_timeout(), move || {
                if let Some(me) = me.upgrade() {
                    me.check_shutdown_timeout();
                }
            });
        *self.shutdown_timer.borrow_mut() = timer.ok();
    }

    pub(super) fn check_shutdown_timeout(&self) {
        if matches!(self.state.get(), SslState::Flushing | SslState::Shutdown)
            && !self.flush_went_on()
        {
            let e = io::Error::new(io::ErrorKind::TimedOut, "SSL shutdown timed out");
            self.fatal_error(Error::Io(e), "SSL shutdown timed out");
        }
    }

    /// After a clean shutdown only the raw transport's close() is left, flushing what the peer
    /// has not read yet (fed what we still hold). A peer that still reads is no hang: while
    /// those bytes went down since the timeout was armed, it is armed again (a slow reader of
    /// a large last answer gets it all, as in CPython, which runs no timer then); a peer that
    /// read nothing for a whole timeout is dropped. Whether it was re-armed.
    fn flush_went_on(&self) -> bool {
        let Some(before) = self.shutdown_flush_left.get() else {
            return false;
        };
        let left = self.unsent();
        if left >= before {
            return false;
        }
        self.shutdown_flush_left.set(Some(left));
        *self.shutdown_timer.borrow_mut() = None; // the one that fired
        self.arm_shutdown_timer();
        true
    }

    /// What is still to reach the peer: the ciphertext and plaintext we hold, and the raw
    /// transport's buffer.
    fn unsent(&self) -> usize {
        let raw = self.raw().map_or(0, |r| r.get_write_buffer_size());
        self.write_buffer_size() + raw
    }

    /// Delivers what was received, then on to SHUTDOWN; checks for truncation (D9).
    pub(super) fn do_flush(&self) {
        if self.app_is_busy() {
            self.step_when_free();
            return;
        }
        self.do_read();
        if self.state.get() != SslState::Flushing || self.fatal.borrow().is_some() {
            return;
        }
        if self.holding_for_the_app() {
            return; // T21: keep the raw transport open until the app resumes or closes
        }
        if self.eof_received.get()
            && self.options.require_close_notify
            && !self.engine.borrow().close_notify_received()
        {
            self.fatal_error(
                Error::Tls(TlsError::truncated()),
                "SSL connection truncated",
            );
            return;
        }
        self.set_state(SslState::Shutdown);
        self.do_shutdown();
    }

    /// T21: the peer's EOF came while the app's reading is paused and the app has not closed;
    /// the rest of the flush waits for its resume_reading or its close.
    fn holding_for_the_app(&self) -> bool {
        self.eof_received.get()
            && self.app_reading_paused.get()
            && self
                .app_transport
                .borrow()
                .as_ref()
                .is_some_and(|t| !t.is_closed())
    }

    /// Python's `_do_shutdown` (`unwrap()`): our close_notify, then the peer's.
    pub(super) fn do_shutdown(&self) {
        if self.state.get() != SslState::Shutdown {
            return;
        }
        if self.app_state.get() == AppState::ConMade && self.app_is_busy() {
            self.step_when_free();
            return;
        }
        let done = if self.eof_received.get() {
            Ok(true)
        } else {
            self.engine.borrow_mut().shutdown()
        };
        match done {
            Err(e) => self.on_shutdown_complete(Some(e)),
            Ok(false) => {
                self.process_outgoing();
                // The peer's close_notify comes after whatever it sent before: the socket
                // must be read even if the app's paused reading had stopped it at the
                // high-water mark (T18), or a stream reader had paused it itself after
                // StreamWriter::start_tls (S54). What comes now is not delivered: data
                // decrypted before our close_notify is dropped, application data after it
                // fails the shutdown (T25, as OpenSSL's `SSL_shutdown` does).
                self.control_ssl_reading();
                if let Some(raw) = self.raw().filter(|r| !r.is_reading()) {
                    raw.resume_reading();
                }
            }
            Ok(true) => {
                self.process_outgoing();
                self.note_close_notify();
                self.call_eof_received();
                self.on_shutdown_complete(None);
            }
        }
    }

    /// Python's `_on_shutdown_complete`. After a clean shutdown the raw transport's close()
    /// still flushes its buffer, which a peer that reads no more never lets end: the shutdown
    /// timeout stays armed until connection_lost (the state stays SHUTDOWN, so it aborts the
    /// raw transport unless the peer went on reading: `flush_went_on`), armed afresh here (so
    /// the flush gets a whole timeout of its own, however late the shutdown completed, and an
    /// EOF that started the shutdown without one gets one). CPython cancels it, and its close()
    /// then waits for such a peer forever.
    pub(super) fn on_shutdown_complete(&self, exc: Option<Error>) {
        match exc {
            Some(e) => {
                cancel(&self.shutdown_timer);
                self.fatal_error(e, "SSL shutdown failed");
            }
            None => {
                if let Some(raw) = self.raw() {
                    // The flush gets a whole timeout from its own start, with the count it
                    // starts from: the timer our close() armed may be about to fire, before the
                    // peer had a chance to read anything of it. Once only: bytes the raw
                    // transport reads before its close() runs come back here, and must not
                    // push the deadline on.
                    if self.shutdown_flush_left.get().is_none() {
                        cancel(&self.shutdown_timer);
                        self.shutdown_flush_left.set(Some(self.unsent()));
                        self.arm_shutdown_timer();
                    }
                    let _ = self.lp.call_soon(move || raw.close());
                }
            }
        }
    }

    /// Python's `_abort` (T24, T26): no close_notify, raw transport aborted, and what the
    /// layer still held for the peer dropped at once, as the socket transport's `abort` drops
    /// its buffer: `get_write_buffer_size` says 0 from here on, as it says once
    /// `connection_lost` has run (CPython's layer empties its buffers there, one turn later,
    /// and answers the old size until then), and as `writing_paused` already says false.
    pub(crate) fn abort(&self) {
        self.set_state(SslState::Unwrapped);
        self.backlog.borrow_mut().clear();
        self.outgoing.borrow_mut().clear();
        if let Some(raw) = self.raw() {
            raw.abort();
        }
    }

    pub(super) fn note_close_notify(&self) {
        if self.engine.borrow().close_notify_received() {
            if let Some(t) = self.app_transport.borrow().as_ref() {
                t.set_close_notify_received();
            }
        }
    }
}
