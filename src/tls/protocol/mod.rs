//! `TlsProtocol`: the TLS layer, a protocol to the socket transport below and the engine of the
//! app-facing [`TlsTransport`] above.
//!
//! Mirrors `SSLProtocol` in CPython `Lib/asyncio/sslproto.py` (3.11 rewrite) method by method:
//! `start_handshake`, `do_handshake`, `on_handshake_complete`, `start_shutdown`, `do_flush`,
//! `do_shutdown`, `on_shutdown_complete`, `write_appdata`, `do_write`, `process_outgoing`,
//! `do_read`, `call_eof_received`, `control_app_writing`, `control_ssl_reading`,
//! `fatal_error` (T4–T30). The rustls connection lives in [`Engine`]; only `engine.rs` calls it.
//! Files: this one (states, construction, the raw transport's callbacks, handshake, errors),
//! `read.rs` (plaintext to the app, read flow control), `write.rs` (app data out, write flow
//! control), `shutdown.rs` (close_notify, timeouts, abort).
//!
//! Ground rules:
//! - the socket transport holds a [`RawSide`], a forwarding handle: the `RefCell` it borrows
//!   around each callback wraps only that handle, so the app re-entering through
//!   `TlsTransport` (a `write` or `close` from inside `data_received`) finds this layer free;
//! - no `RefCell` of this file is borrowed while the app protocol or the raw transport runs;
//!   the app protocol is borrowed for one call at a time. A step that must call an app that is
//!   busy (it called us from one of its own callbacks) runs again on the next turn, driven by
//!   the state alone (Python's `resume` closure), and flow edges wait for the call to end;
//! - every failure goes `fatal_error` → raw `abort()` with the error remembered →
//!   `connection_lost(err)` (the raw transport's `abort` carries no error, so we keep it);
//! - timers hold a `Weak` and are cancelled on completion and on connection loss (T12).

mod read;
mod shutdown;
#[cfg(test)]
mod tests;
mod write;

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::rc::{Rc, Weak};
use std::task::{Poll, Waker};
use std::time::Duration;

use super::engine::Engine;
use super::transport::TlsTransport;
use super::{TlsOptions, FLOW_CONTROL_HIGH_WATER_SSL_READ, FLOW_CONTROL_HIGH_WATER_SSL_WRITE};
use crate::error::Error;
use crate::event_loop::exception::{
    report_error, report_protocol_callback, Call, Origin, PanicError,
};
use crate::event_loop::executor::waker::wake_caught;
use crate::event_loop::handle::TimerHandle;
use crate::event_loop::LoopHandle;
use crate::protocol::{Called, FlowReporter, Protocol, ProtocolRef, ProtocolSlot};
use crate::transport::flow_control::{FlowControl, Full};
use crate::transport::Transport;

/// Python's `SSLProtocolState` (T4):
///
/// ```text
///  Unwrapped ─connection_made─► DoHandshake ─ok─► Wrapped ─close/close_notify/EOF─► Flushing ─► Shutdown
///      ▲                                                                                        │
///      └──────────────── any state: abort, handshake failure, connection_lost ◄────────────────┘
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SslState {
    Unwrapped,
    DoHandshake,
    Wrapped,
    Flushing,
    Shutdown,
}

/// Python's `AppProtocolState` (T5): `Init ─connection_made─► ConMade ─eof─► Eof ─► ConLost`
/// (`ConMade ─► ConLost` too). start_tls begins in `ConMade`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum AppState {
    Init,
    ConMade,
    Eof,
    ConLost,
}

/// The handshake's outcome, awaited by create_connection and start_tls (Python's `waiter`).
#[derive(Default)]
pub(crate) struct Waiter {
    result: RefCell<Option<Result<(), Error>>>,
    waker: RefCell<Option<Waker>>,
    /// Runs once as the handshake succeeds, before the waker (start_tls' caller's step that
    /// cannot wait for its task to run).
    on_success: RefCell<Option<Box<dyn FnOnce()>>>,
}

impl Waiter {
    pub(crate) fn on_success(&self, f: Box<dyn FnOnce()>) {
        *self.on_success.borrow_mut() = Some(f);
    }

    /// Sets the outcome and wakes the waiting task. The waker may be another executor's (a
    /// future polled by hand): its panic is reported as a callback's on `lp`, not the
    /// layer's, which would end the connection (L18).
    fn complete(&self, lp: &LoopHandle, r: Result<(), Error>) {
        let on_success = self.on_success.borrow_mut().take();
        if let Some(f) = on_success.filter(|_| r.is_ok()) {
            f(); // no borrow held: it may call into the transport
        }
        *self.result.borrow_mut() = Some(r);
        let w = self.waker.borrow_mut().take();
        if let Some(w) = w {
            wake_caught(lp, w, "TLS handshake wake-up");
        }
    }

    /// The handshake succeeded and nobody has taken the outcome yet: the app's
    /// `connection_made` has run (T7).
    pub(crate) fn succeeded(&self) -> bool {
        matches!(*self.result.borrow(), Some(Ok(())))
    }

    /// Waits for the handshake. Cancel safety: dropping it takes back the waker it filed (the
    /// handshake's end wakes nobody); the caller's guard ends the connection (T12).
    pub(crate) async fn wait(&self) -> Result<(), Error> {
        let _forget = ForgetWaker(&self.waker);
        poll_fn(|cx| {
            let result = self.result.borrow_mut().take();
            match result {
                Some(r) => Poll::Ready(r),
                None => {
                    // The replaced waker drops after the borrows: its drop may run user code.
                    let replaced = self.waker.borrow_mut().replace(cx.waker().clone());
                    drop(replaced);
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// Empties a [`Waiter`]'s waker slot when its wait ends or is dropped.
struct ForgetWaker<'a>(&'a RefCell<Option<Waker>>);

impl Drop for ForgetWaker<'_> {
    fn drop(&mut self) {
        // Taken under the borrow, dropped after it: a waker's drop may run user code.
        let waker = self.0.try_borrow_mut().ok().and_then(|mut w| w.take());
        drop(waker);
    }
}

/// Outcome of one call into the app protocol.
enum AppCall<R> {
    Done(R),
    /// The app is borrowed (it called us from a callback of its own): try again later.
    Busy,
    /// No app any more, or it panicked (already reported).
    Failed,
}

/// The TLS layer of one connection (Python's `SSLProtocol`).
pub(crate) struct TlsProtocol {
    lp: LoopHandle,
    me: Weak<TlsProtocol>,
    /// The rustls connection with its ciphertext queue.
    engine: RefCell<Engine>,
    /// Only `set_state` assigns it.
    state: Cell<SslState>,
    /// Only `set_app_state` assigns it.
    app_state: Cell<AppState>,
    /// Client: the name sent as SNI and checked (None: neither).
    server_hostname: Option<String>,
    options: TlsOptions,
    /// The application's protocol, called only through this slot (the seam shared with the
    /// socket transport); empty after connection_lost.
    app: ProtocolSlot,
    /// The one app-facing transport (T6); `None` after connection_lost.
    app_transport: RefCell<Option<Rc<TlsTransport>>>,
    /// The socket transport (or another TLS transport) under us; set by connection_made.
    transport: RefCell<Option<Transport>>,
    /// Completed once by the handshake (or its failure).
    waiter: RefCell<Option<Rc<Waiter>>>,
    /// Plaintext written before the handshake completed (T11); sent right after it.
    backlog: RefCell<Vec<u8>>,
    /// Ciphertext not yet handed to the raw transport (held while it paused us, T13, T15).
    outgoing: RefCell<Vec<u8>>,
    /// Decrypted bytes on their way to a plain protocol's `data_received`.
    scratch: RefCell<Vec<u8>>,
    /// Writes dropped after closing (T11); starts at 0, connection loss counts too.
    conn_lost: Cell<usize>,
    /// The raw transport reported EOF.
    eof_received: Cell<bool>,
    /// The raw transport paused our writing (T15).
    ssl_writing_paused: Cell<bool>,
    /// The app paused reading (T17): nothing is decrypted or delivered.
    app_reading_paused: Cell<bool>,
    /// App write side: marks and whether we called the app's pause_writing (T14); the same
    /// `FlowControl` as the socket transport's, with sslproto's rule (full at `>= high`).
    write_flow: RefCell<FlowControl>,
    /// Ciphertext read side: marks and whether we paused the raw transport's reading (T18).
    read_flow: RefCell<FlowControl>,
    handshake_timer: RefCell<Option<TimerHandle>>,
    shutdown_timer: RefCell<Option<TimerHandle>>,
    /// After a clean shutdown: the raw transport's unsent bytes when the shutdown timeout was
    /// last armed (a close() still flushing them to the peer; see `flush_went_on`).
    shutdown_flush_left: Cell<Option<usize>>,
    /// Why we force-closed the raw transport; reported by its connection_lost.
    fatal: RefCell<Option<Error>>,
}

/// Plaintext read per `data_received` for a plain (not buffered) app protocol.
const COPY_CHUNK: usize = 64 * 1024;
/// Capacity kept in `outgoing` after a burst.
const KEEP_OUTGOING: usize = 64 * 1024;

impl TlsProtocol {
    /// Builds the layer around `app` (Python's `SSLProtocol(...)`); `call_connection_made`
    /// false is start_tls mode (the app already has its connection, T5).
    pub(crate) fn new(
        lp: &LoopHandle,
        engine: Engine,
        app: ProtocolRef,
        server_hostname: Option<String>,
        options: TlsOptions,
        call_connection_made: bool,
    ) -> Rc<TlsProtocol> {
        let context = engine.context().clone();
        let app = ProtocolSlot::new(app, lp.clone(), 0);
        // T14: a failed pause/resume_writing names the layer as the protocol, as CPython's
        // `_control_app_writing` does ('protocol': the SSLProtocol; 'transport': the app
        // transport, whose id is the raw one's), and as the layer's `fatal_error` does.
        app.report_flow_as(FlowReporter::TlsLayer);
        if !call_connection_made {
            app.mark_made();
        }
        Rc::new_cyclic(|me: &Weak<TlsProtocol>| TlsProtocol {
            lp: lp.clone(),
            me: me.clone(),
            engine: RefCell::new(engine),
            state: Cell::new(SslState::Unwrapped),
            app_state: Cell::new(if call_connection_made {
                AppState::Init
            } else {
                AppState::ConMade
            }),
            server_hostname,
            options,
            app,
            app_transport: RefCell::new(Some(TlsTransport::new(lp, me.clone(), context))),
            transport: RefCell::new(None),
            waiter: RefCell::new(Some(Rc::new(Waiter::default()))),
            backlog: RefCell::new(Vec::new()),
            outgoing: RefCell::new(Vec::new()),
            scratch: RefCell::new(Vec::new()),
            conn_lost: Cell::new(0),
            eof_received: Cell::new(false),
            ssl_writing_paused: Cell::new(false),
            app_reading_paused: Cell::new(false),
            write_flow: RefCell::new(FlowControl::new(
                FLOW_CONTROL_HIGH_WATER_SSL_WRITE,
                Full::AtHigh,
            )),
            read_flow: RefCell::new(FlowControl::new(
                FLOW_CONTROL_HIGH_WATER_SSL_READ,
                Full::AtHigh,
            )),
            handshake_timer: RefCell::new(None),
            shutdown_timer: RefCell::new(None),
            shutdown_flush_left: Cell::new(None),
            fatal: RefCell::new(None),
        })
    }

    /// The handshake waiter (taken once by whoever awaits the handshake).
    pub(crate) fn waiter(&self) -> Option<Rc<Waiter>> {
        self.waiter.borrow().clone()
    }

    /// The app-facing transport as a handle; `None` after connection_lost.
    pub(crate) fn app_transport(&self) -> Option<Transport> {
        let t = self.app_transport.borrow().clone()?;
        Some(Transport { inner: t })
    }

    /// Checks and applies a state change (Python's `_set_state`, T4).
    fn set_state(&self, next: SslState) {
        use SslState::*;
        let from = self.state.get();
        let edge = matches!(
            (from, next),
            (_, Unwrapped)
                | (Unwrapped, DoHandshake)
                | (DoHandshake, Wrapped)
                | (Wrapped, Flushing)
                | (Flushing, Shutdown)
        );
        debug_assert!(edge, "cannot switch state from {from:?} to {next:?}");
        self.state.set(next);
    }

    fn set_app_state(&self, next: AppState) {
        use AppState::*;
        let from = self.app_state.get();
        let edge = matches!(
            (from, next),
            (Init, ConMade) | (ConMade, Eof) | (ConMade | Eof, ConLost)
        );
        debug_assert!(
            edge,
            "app protocol state {from:?} -> {next:?} is not an edge"
        );
        self.app_state.set(next);
    }

    pub(super) fn raw(&self) -> Option<Transport> {
        self.transport.borrow().clone()
    }

    fn app(&self) -> Option<ProtocolRef> {
        self.app.get()
    }

    // ---- calling the app ----------------------------------------------------------------

    /// One call into the app protocol, with the borrow held for that call only. A panic is
    /// reported as `what` and ends the connection (T30).
    fn call_app<R>(&self, what: &str, f: impl FnOnce(&mut dyn Protocol) -> R) -> AppCall<R> {
        self.app_outcome(what, self.app.call(|p| f(p)))
    }

    /// What the seam's answer means here: a panic ends the connection (T30).
    fn app_outcome<R>(&self, what: &str, called: Called<R>) -> AppCall<R> {
        match called {
            Called::Done(v) => AppCall::Done(v),
            Called::Busy => AppCall::Busy,
            Called::Gone => AppCall::Failed,
            Called::Panicked(payload) => {
                let e = PanicError::from_payload(&*payload);
                self.fatal_error(Error::Io(io::Error::other(e)), what);
                AppCall::Failed
            }
        }
    }

    /// Runs the current state's pending step once the app protocol is free again: it was
    /// found held (by the app itself, or by a user across an `.await`).
    /// One at a time: records that arrive meanwhile join it rather than each queueing a
    /// retry of its own.
    fn step_when_free(&self) {
        crate::protocol::delivery_when_free(
            &self.lp,
            self.me.clone(),
            |t| &t.app,
            |t| t.resume_step(),
        );
    }

    /// Runs the current state's pending step on the next turn (Python's `resume`).
    fn defer_step(&self) {
        let me = self.me.clone();
        let _ = self.lp.call_soon(move || {
            if let Some(me) = me.upgrade() {
                me.resume_step();
            }
        });
    }

    fn resume_step(&self) {
        match self.state.get() {
            SslState::Wrapped => self.do_read(),
            SslState::Flushing => self.do_flush(),
            SslState::Shutdown => self.do_shutdown(),
            SslState::Unwrapped | SslState::DoHandshake => {}
        }
    }

    fn app_is_busy(&self) -> bool {
        self.app.is_busy()
    }

    // ---- the raw transport's callbacks (Python's Protocol methods) ------------------------

    /// Python's `connection_made`: start the handshake (T7).
    pub(crate) fn connection_made(&self, transport: Transport) {
        if self.waiter.borrow().is_none() {
            return; // released before it ran (`raw_released`): the transport is another's
        }
        if let Some(t) = self.app_transport.borrow().as_ref() {
            t.set_raw(&transport);
        }
        // The app side's reports name it as the app transport does: the raw one's id.
        self.app.set_transport_id(transport.id());
        *self.transport.borrow_mut() = Some(transport);
        self.start_handshake();
    }

    /// Python's `buffer_updated`: queue ciphertext, then the state's step.
    pub(crate) fn data_received(&self, data: &[u8]) {
        if self.state.get() == SslState::Unwrapped {
            return; // T28: after loss or abort, ignored
        }
        self.engine.borrow_mut().feed(data);
        match self.state.get() {
            SslState::DoHandshake => self.do_handshake(),
            SslState::Wrapped => self.do_read(),
            SslState::Flushing => self.do_flush(),
            SslState::Shutdown => self.do_shutdown(),
            SslState::Unwrapped => {}
        }
    }

    /// Python's `eof_received` (T10, T21, T23). True keeps the raw transport open while a step
    /// is still owed: the app's reading is paused (T21), or the app was busy and the flush or
    /// shutdown step runs on a later turn (closing now would drop what it has yet to deliver,
    /// its eof_received included). The layer closes the raw transport itself when its shutdown
    /// completes.
    pub(crate) fn eof_received(&self) -> bool {
        self.eof_received.set(true);
        match self.state.get() {
            SslState::DoHandshake => {
                let e = io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "the peer closed the connection during the TLS handshake",
                );
                self.on_handshake_complete(Err(Error::Io(e)));
            }
            SslState::Wrapped => {
                self.set_state(SslState::Flushing);
                if self.app_reading_paused.get() {
                    return true;
                }
                self.do_flush();
                return self.state.get() == SslState::Flushing && self.fatal.borrow().is_none();
            }
            SslState::Flushing | SslState::Shutdown => {
                // T23: finish without waiting for the peer's close_notify.
                if self.state.get() == SslState::Flushing {
                    self.do_write();
                    self.set_state(SslState::Shutdown);
                }
                self.do_shutdown();
                // A busy app deferred the step: keep the raw transport for it (it closes it),
                // so the app still gets eof_received before connection_lost.
                return self.app_state.get() == AppState::ConMade
                    && self.app_is_busy()
                    && self.fatal.borrow().is_none();
            }
            SslState::Unwrapped => {}
        }
        false
    }

    /// Python's `connection_lost` (T5, T28).
    pub(crate) fn connection_lost(&self, exc: Option<io::Error>) {
        let exc = exc
            .map(Error::Io)
            .or_else(|| self.fatal.borrow_mut().take());
        if self.lp.is_closed() {
            self.warn_unsent_at_loop_close();
        }
        self.backlog.borrow_mut().clear();
        self.outgoing.borrow_mut().clear();
        self.engine.borrow_mut().clear();
        self.conn_lost.set(self.conn_lost.get().saturating_add(1));
        let app_transport = self.app_transport.borrow_mut().take();
        if let Some(t) = &app_transport {
            // It counts later writes (T11) and keeps the marks, as CPython's layer does.
            t.mark_lost(self.conn_lost.get(), self.write_buffer_limits());
        }
        // An app already connected hears of the loss whatever the state: under start_tls a
        // handshake that times out ends the app's connection too, so no read, drain or
        // wait_closed on it waits forever (D14; CPython skips connection_lost in DO_HANDSHAKE,
        // T9). Before its connection_made (create_connection, servers) the app hears nothing.
        if matches!(self.app_state.get(), AppState::ConMade | AppState::Eof) {
            self.set_app_state(AppState::ConLost);
            if let Some(me) = self.me.upgrade() {
                let io_exc = exc.as_ref().map(to_io);
                app_connection_lost_soon(me, io_exc);
            }
        } else {
            self.app.let_go();
        }
        self.set_state(SslState::Unwrapped);
        let raw = self.transport.borrow_mut().take();
        self.wakeup_waiter(Some(exc.unwrap_or_else(|| {
            Error::Io(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the connection was closed during the TLS handshake",
            ))
        })));
        cancel(&self.shutdown_timer);
        cancel(&self.handshake_timer);
        drop((raw, app_transport));
    }

    /// The loop closed with application bytes still in the layer (the plaintext backlog, or
    /// ciphertext the raw transport paused us from handing over): they are dropped with the
    /// layer, so say it once, in the raw transport's words for its own unsent bytes. The
    /// raw transport's own dropped bytes (what it was handed) are said in the same line, so
    /// one connection gets one warning.
    #[cold]
    #[inline(never)]
    fn warn_unsent_at_loop_close(&self) {
        let raw = self.raw();
        let handed = raw.as_ref().map_or(0, |r| r.take_unsent_at_loop_close());
        let n = self.write_buffer_size().saturating_add(handed);
        if n == 0 {
            return;
        }
        let id = raw.map_or(0, |r| r.id());
        let n = crate::transport::write_path::Unsent::Bytes(n);
        crate::transport::write_path::warn_unsent_at_loop_close("TLS transport", id, n);
    }

    /// The raw transport's buffer went above its high-water mark (T15).
    pub(crate) fn pause_writing(&self) {
        debug_assert!(!self.ssl_writing_paused.get(), "T15: paused twice");
        self.ssl_writing_paused.set(true);
    }

    /// The raw transport's buffer drained (T15): forward what we held.
    pub(crate) fn resume_writing(&self) {
        debug_assert!(
            self.ssl_writing_paused.get(),
            "T15: resumed while not paused"
        );
        self.ssl_writing_paused.set(false);
        self.process_outgoing();
    }

    // ---- handshake ------------------------------------------------------------------------

    fn start_handshake(&self) {
        self.set_state(SslState::DoHandshake);
        let me = self.me.clone();
        let timeout = self.options.handshake_timeout();
        let timer = self.lp.call_later(timeout, move || {
            if let Some(me) = me.upgrade() {
                me.check_handshake_timeout(timeout);
            }
        });
        *self.handshake_timer.borrow_mut() = timer.ok();
        self.do_handshake();
    }

    fn check_handshake_timeout(&self, timeout: Duration) {
        if self.state.get() == SslState::DoHandshake {
            let msg = format!(
                "SSL handshake is taking longer than {} seconds: aborting the connection",
                crate::event_loop::debug::py_seconds(timeout)
            );
            let e = io::Error::new(io::ErrorKind::ConnectionAborted, msg);
            self.fatal_error(Error::Io(e), "SSL handshake timed out");
        }
    }

    fn do_handshake(&self) {
        let r = self.engine.borrow_mut().do_handshake();
        match r {
            Ok(false) => self.process_outgoing(),
            Ok(true) => {
                self.process_outgoing();
                self.on_handshake_complete(Ok(()));
            }
            Err(e) => self.on_handshake_complete(Err(e)),
        }
    }

    fn on_handshake_complete(&self, result: Result<(), Error>) {
        cancel(&self.handshake_timer);
        if let Err(e) = result {
            self.set_state(SslState::Unwrapped);
            // Send the alert rustls queued (bad certificate, …) so the peer learns why.
            self.process_outgoing();
            let msg = match &e {
                Error::Tls(t) if t.is_certificate_error() => {
                    "SSL handshake failed on verifying the certificate"
                }
                _ => "SSL handshake failed",
            };
            self.fatal_error(e.duplicate(), msg);
            self.wakeup_waiter(Some(e));
            return;
        }
        self.set_state(SslState::Wrapped);
        let info = self.engine.borrow().info(self.server_hostname.as_deref());
        if let Some(t) = self.app_transport.borrow().as_ref() {
            t.set_info(info);
        }
        self.finish_handshake();
    }

    /// The app's connection_made (from `Init`), the waiter, then data that came along (T7).
    fn finish_handshake(&self) {
        if self.state.get() != SslState::Wrapped {
            // Closed meanwhile: the waiter learns it from connection_lost.
            return;
        }
        if self.app_state.get() == AppState::Init {
            let Some(transport) = self.app_transport() else {
                return;
            };
            if self.app_is_busy() {
                crate::protocol::when_free(
                    &self.lp,
                    self.me.clone(),
                    |t| &t.app,
                    |t| t.finish_handshake(),
                );
                return;
            }
            self.set_app_state(AppState::ConMade);
            // CPython calls the app's connection_made inside the raw transport's
            // buffer_updated, so its failure is that call's (S61): {'message': 'Fatal error:
            // protocol.buffer_updated() call failed.', 'exception': .., 'transport':
            // <_SelectorSocketTransport ...>, 'protocol': <asyncio.sslproto.SSLProtocol ...>}.
            let failed = "Fatal error: protocol.buffer_updated() call failed.";
            let made = self.app_outcome(failed, self.app.made(transport));
            if !matches!(made, AppCall::Done(())) {
                self.wakeup_waiter(Some(Error::Io(io::Error::other(
                    "connection_made() failed",
                ))));
                return;
            }
        }
        self.wakeup_waiter(None);
        self.do_read();
    }

    /// The raw transport let go of the layer without a connection_lost: its protocol was
    /// replaced (a second start_tls on the same transport, or `set_protocol`). Nothing reaches
    /// the layer any more, and its timers find it gone, so a handshake still pending fails
    /// now instead of never; start_tls' guard then closes the raw transport, as after any
    /// failed start_tls (CPython's layer lives on in its timer and fails at the handshake
    /// timeout). A layer past its handshake is left as it is.
    // Checklist: T9, T33, D14.
    pub(crate) fn raw_released(&self) {
        if self.waiter.borrow().is_none() || self.lp.is_closed() {
            return;
        }
        cancel(&self.handshake_timer);
        if self.state.get() != SslState::Unwrapped {
            self.set_state(SslState::Unwrapped);
        }
        let e = Error::invalid_state(
            "the transport's protocol was replaced before the TLS handshake ended (another \
             start_tls or set_protocol on the same transport)",
        );
        self.wakeup_waiter(Some(e));
    }

    fn wakeup_waiter(&self, exc: Option<Error>) {
        let waiter = self.waiter.borrow_mut().take();
        if let Some(w) = waiter {
            w.complete(&self.lp, exc.map_or(Ok(()), Err));
        }
    }

    // ---- errors and extra info ------------------------------------------------------------

    /// Python's `_fatal_error` (T29): force-close the raw transport with `exc`. OS, TLS and
    /// timeout errors (Python's OSError) are only debug-logged; others (a protocol's panic or
    /// misuse) go to the exception handler.
    fn fatal_error(&self, exc: Error, message: &str) {
        let reported = match &exc {
            Error::Io(e) => e.get_ref().is_some_and(|i| i.is::<PanicError>()),
            Error::Tls(_) | Error::Timeout | Error::Cancelled => false,
            _ => true,
        };
        if reported {
            // CPython's keys (sslproto.py `_fatal_error`): the raw transport, and the layer
            // as the protocol.
            report_error(
                &self.lp,
                message.to_string(),
                Box::new(exc.duplicate()),
                &Origin {
                    transport: self.raw().map(|r| r.id()),
                    protocol: std::any::type_name::<TlsProtocol>(),
                },
            );
        } else {
            crate::event_loop::debug::debug_log!("{message}: {exc}");
        }
        let raw = self.raw();
        if let Some(raw) = raw {
            self.fatal.borrow_mut().get_or_insert(exc);
            raw.abort();
        }
    }

    /// Extra info the raw transport answers (T31): only while connected.
    pub(crate) fn raw_extra_info(&self, name: &str) -> Option<crate::transport::ExtraInfo> {
        self.raw()?.get_extra_info(name)
    }

    pub(crate) fn raw_is_closing(&self) -> bool {
        self.raw().is_none_or(|r| r.is_closing())
    }

    pub(crate) fn set_app_protocol(&self, protocol: ProtocolRef) -> Result<(), Error> {
        self.app.replace(protocol)
    }

    pub(crate) fn app_protocol(&self) -> Option<ProtocolRef> {
        self.app()
    }
}

fn cancel(timer: &RefCell<Option<TimerHandle>>) {
    let t = timer.borrow_mut().take();
    if let Some(t) = t {
        t.cancel();
    }
}

/// The app's connection_lost, on the next turn and never re-entrantly (T5): once, through the
/// seam, retried while the app is busy (`protocol::when_free`, as every layer retries); then
/// the layer lets go of the app.
fn app_connection_lost_soon(me: Rc<TlsProtocol>, exc: Option<io::Error>) {
    let (lp, owner) = (me.lp.clone(), Rc::downgrade(&me));
    if lp.is_closed() {
        // The loop closed under the raw transport: no turn will come, so the app is told now
        // (a stream read afterwards fails instead of waiting forever), as a socket transport
        // tells its own protocol; a busy one cannot be told later either.
        me.app.lost_at_close(exc);
        me.app.let_go();
        return;
    }
    // The raw transport may have let go of the layer by now: the retry keeps it alive.
    crate::protocol::when_free(
        &lp,
        owner,
        |t| &t.app,
        move |t| match (exc.is_some(), t.app.lost(exc)) {
            // Free when looked at, held again by the call (it cannot be, on one thread): retry.
            (_, Err(exc)) => app_connection_lost_soon(me, exc),
            (had_exc, Ok(called)) => {
                if let Called::Panicked(payload) = called {
                    // CPython runs it as a loop callback: {'message': 'Exception in callback
                    // P.connection_lost(None)', 'exception': .., 'handle': <Handle ...>}.
                    let call = Call::Lost(had_exc);
                    report_protocol_callback(&t.lp, t.app.name(), call, &*payload);
                }
                t.app.let_go();
            }
        },
    );
}

/// The `io::Error` a protocol's `connection_lost` gets for `e`: an OS error keeps its errno;
/// a TLS error keeps its kind (`InvalidData`) and travels inside, so the streams layer hands
/// it on as `Error::Tls` (issue #13).
pub(crate) fn to_io(e: &Error) -> io::Error {
    match e.duplicate() {
        Error::Io(e) => e,
        other => io::Error::new(other.kind(), other),
    }
}

/// [`TlsProtocol`] as the raw transport's protocol: every callback forwards (see the module
/// ground rules for why this handle, not the layer, sits in the transport's `RefCell`).
pub(crate) struct RawSide(pub(crate) Rc<TlsProtocol>);

impl Drop for RawSide {
    fn drop(&mut self) {
        self.0.raw_released();
    }
}

impl Protocol for RawSide {
    fn connection_made(&mut self, transport: Transport) {
        self.0.connection_made(transport)
    }

    fn data_received(&mut self, data: &[u8]) {
        self.0.data_received(data)
    }

    fn eof_received(&mut self) -> bool {
        self.0.eof_received()
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.0.connection_lost(exc)
    }

    fn pause_writing(&mut self) {
        self.0.pause_writing()
    }

    fn resume_writing(&mut self) {
        self.0.resume_writing()
    }
}
