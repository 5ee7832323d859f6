//! The read side of [`TlsProtocol`]: ciphertext in, plaintext to the app, and read flow control
//! both ways. Mirrors `_do_read`, `_do_read__buffered`, `_do_read__copied`,
//! `_call_eof_received`, `_pause_reading`, `_resume_reading` and `_control_ssl_reading` of
//! `SSLProtocol` in CPython `Lib/asyncio/sslproto.py` (T16–T18, T20). Ground rule: the engine
//! is borrowed inside the app's `get_buffer` lend only for the copy, never across
//! `buffer_updated` or `data_received`.

use super::{AppCall, AppState, SslState, TlsProtocol, COPY_CHUNK};
use crate::error::Error;
use crate::tls::engine::ReadEnd;

impl TlsProtocol {
    /// Python's `_do_read` (T16): decrypt and deliver, then flush, then the ciphertext marks.
    pub(super) fn do_read(&self) {
        if !matches!(self.state.get(), SslState::Wrapped | SslState::Flushing) {
            return;
        }
        if !self.app_reading_paused.get() {
            self.deliver_plaintext();
            if !self.backlog.borrow().is_empty() {
                self.do_write();
            } else {
                self.process_outgoing();
            }
        }
        self.control_ssl_reading();
    }

    /// Decrypts and hands plaintext to the app until nothing is left, the app pauses, or the
    /// state moves on; a buffered app's filled buffer ends the pass in WRAPPED (see
    /// [`read_buffered`](Self::read_buffered)).
    pub(super) fn deliver_plaintext(&self) {
        loop {
            if !matches!(self.state.get(), SslState::Wrapped | SslState::Flushing)
                || self.app_state.get() != AppState::ConMade // L44: nothing after eof
                || self.app_reading_paused.get()
                || self.fatal.borrow().is_some()
                || !self.engine.borrow_mut().has_input()
            {
                return;
            }
            let buffered = match self.app.is_buffered() {
                Some(b) => b,
                None if self.app().is_none() => return,
                None => {
                    // Busy: the app called us from a callback of its own.
                    self.step_when_free();
                    return;
                }
            };
            let end = if buffered {
                self.read_buffered()
            } else {
                self.read_copied()
            };
            match end {
                None | Some(ReadEnd::WouldBlock) => return,
                Some(ReadEnd::Full) => continue,
                Some(ReadEnd::Closed) => {
                    // The peer's close_notify (T20).
                    self.note_close_notify();
                    self.call_eof_received();
                    self.start_shutdown();
                    return;
                }
                Some(ReadEnd::Failed(e)) => {
                    self.fatal_error(e, "Fatal error on SSL protocol");
                    return;
                }
            }
        }
    }

    /// `_do_read__buffered`: straight into the app's buffer. `None`: deferred or failed.
    ///
    /// As in CPython, a pass fills the app's buffer once and calls buffer_updated once; when
    /// it is filled, the next pass is queued (before buffer_updated runs, CPython's order)
    /// and this one ends, so the loop's other callbacks run between two buffers (T16). Not
    /// in FLUSHING: CPython's flush moves on to SHUTDOWN right after its one pass, dropping
    /// what did not fit; ours hands the app all of it first.
    pub(super) fn read_buffered(&self) -> Option<ReadEnd> {
        let hint = self.engine.borrow().pending_ciphertext();
        let one_pass = self.state.get() == SslState::Wrapped;
        let r = self.call_app("Fatal error on SSL protocol", |p| {
            let b = p.as_buffered().expect("checked buffered");
            let buf = b.get_buffer(hint);
            if buf.is_empty() {
                return Err(());
            }
            let (n, end) = self.engine.borrow_mut().read_into(buf);
            if one_pass && matches!(end, ReadEnd::Full) {
                self.defer_step();
            }
            if n > 0 {
                b.buffer_updated(n);
            }
            Ok(end)
        });
        match r {
            AppCall::Done(Ok(ReadEnd::Full)) if one_pass => None, // the next pass is queued
            AppCall::Done(Ok(end)) => Some(end),
            AppCall::Done(Err(())) => {
                // The protocol's bug, not the connection's: reported (T29, L51).
                let e = Error::invalid_state("get_buffer() returned an empty buffer");
                self.fatal_error(e, "Fatal error on SSL protocol");
                None
            }
            AppCall::Busy => {
                self.step_when_free();
                None
            }
            AppCall::Failed => None,
        }
    }

    /// `_do_read__copied`: through our scratch buffer into `data_received`.
    pub(super) fn read_copied(&self) -> Option<ReadEnd> {
        if self.app_is_busy() {
            // Decrypt nothing the app cannot take now: the step runs again once it is free.
            self.step_when_free();
            return None;
        }
        let mut scratch = std::mem::take(&mut *self.scratch.borrow_mut());
        scratch.resize(COPY_CHUNK, 0);
        let (n, end) = self.engine.borrow_mut().read_into(&mut scratch);
        let r = if n > 0 {
            self.call_app("Fatal error on SSL protocol", |p| {
                p.data_received(&scratch[..n])
            })
        } else {
            AppCall::Done(())
        };
        *self.scratch.borrow_mut() = scratch;
        match r {
            AppCall::Done(()) => Some(end),
            AppCall::Busy => {
                // Cannot happen (checked just before); the bytes would be lost, so say so.
                crate::event_loop::debug::error!("TLS: app protocol busy, {n} bytes dropped");
                None
            }
            AppCall::Failed => None,
        }
    }

    /// Python's `_call_eof_received` (T20): once, from `ConMade`; `true` is ignored.
    pub(super) fn call_eof_received(&self) {
        if self.app_state.get() != AppState::ConMade {
            return;
        }
        if self.app_is_busy() {
            crate::protocol::when_free(
                &self.lp,
                self.me.clone(),
                |t| &t.app,
                |t| t.call_eof_received(),
            );
            return;
        }
        self.set_app_state(AppState::Eof);
        if let AppCall::Done(true) =
            self.call_app("Error calling eof_received()", |p| p.eof_received())
        {
            crate::event_loop::debug::warning!(
                "returning true from eof_received() has no effect when using ssl"
            );
        }
    }

    /// App `pause_reading` (T17): only a flag.
    pub(crate) fn pause_reading(&self) {
        self.app_reading_paused.set(true);
    }

    /// App `resume_reading` (T17): the deferred step runs on the next turn.
    pub(crate) fn resume_reading(&self) {
        if self.app_reading_paused.replace(false) {
            self.defer_step();
        }
    }

    pub(crate) fn is_reading(&self) -> bool {
        !self.app_reading_paused.get()
    }

    /// Python's `_get_read_buffer_size` (T18): ciphertext received and not yet decrypted.
    pub(crate) fn read_buffer_size(&self) -> usize {
        self.engine.borrow().pending_ciphertext()
    }

    /// The ciphertext marks `(low, high)` (T18).
    pub(crate) fn read_buffer_limits(&self) -> (usize, usize) {
        self.read_flow.borrow().limits()
    }

    /// `set_read_buffer_limits` (T18): the marks by T14's rules (256 KiB by default), then
    /// the raw transport paused or resumed at once by them, as CPython's transport does.
    pub(crate) fn set_read_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> Result<(), Error> {
        self.read_flow.borrow_mut().set_limits(high, low)?;
        self.control_ssl_reading();
        Ok(())
    }

    /// Python's `_control_ssl_reading` (T18).
    pub(super) fn control_ssl_reading(&self) {
        let size = self.engine.borrow().pending_ciphertext();
        let (pause, resume) = {
            let mut f = self.read_flow.borrow_mut();
            let pause = f.should_pause(size);
            (pause, !pause && f.should_resume(size))
        };
        if let Some(raw) = self.raw().filter(|_| pause || resume) {
            if pause {
                raw.pause_reading();
            } else {
                raw.resume_reading();
            }
        }
    }
}
