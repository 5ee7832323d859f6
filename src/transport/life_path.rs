//! The ends of a transport's life, shared by the socket and pipe transports: `connection_made`
//! (and the start of reading it gates), the error funnel, `force_close`, `call_connection_lost`
//! with its retry while the protocol is busy, and the loop closing underneath.
//!
//! Mirrors `_SelectorTransport._fatal_error`/`_force_close`/`_call_connection_lost` in CPython
//! `Lib/asyncio/selector_events.py`, which `_UnixReadPipeTransport` and
//! `_UnixWritePipeTransport` (`Lib/asyncio/unix_events.py`) repeat nearly word for word
//! (L44, L45, L55, L77–L83). What differs stays with each transport: what `release` lets go of
//! (a socket also leaves its server, a pipe has one end in one direction), when `close` closes
//! (a socket flushes, then `connection_lost`; a write pipe's `close` is its `write_eof`), and
//! `shutdown(SHUT_WR)` or `EPIPE` on the way.
//!
//! Ground rules: a transport implements [`LifePath`]'s required methods (its `Life`, its
//! `read_ready` and its `release`; itself and its protocol slot come with [`WritePath`]) and
//! gets the rest as provided methods.
//! `connection_lost` runs exactly once and last, and never from inside user code: it is queued
//! with `call_soon` (only a closing transport whose buffer drains calls it directly, from
//! `write_ready`); a protocol held elsewhere gets it on a later turn instead. No `RefCell` borrow
//! of the transport is held while a protocol method runs. Pure logic over the transport's
//! fields: no descriptor is touched here.

use std::io;

use super::lifecycle::{Life, Reading, State};
use super::write_path::WritePath;
use super::{is_ordinary_disconnect, Transport, TransportImpl};
use crate::error::OsText;
use crate::event_loop::debug::trace;
use crate::event_loop::exception::{
    report_error, report_protocol_callback, Call, Origin, PanicError,
};
use crate::protocol::{Called, Payload};

/// A transport's life from `connection_made` to `connection_lost`: what it holds, and what it
/// lets go of at the end; the shared logic comes with it.
pub(crate) trait LifePath: WritePath + TransportImpl + Sized + 'static {
    /// Names the transport in logged errors: `"{LOG_NAME} {id}: {message}: {err}"`.
    const LOG_NAME: &'static str;
    /// Appended to the protocol-call traces (`""` for a socket, whose traces tests pin).
    const TRACE_TAG: &'static str;

    /// `State` and `Reading`, changed only through their guarded setters.
    fn life(&self) -> &Life;
    /// Bytes the loop's close dropped, not yet warned of (`on_loop_closed`).
    fn unsent_at_close(&self) -> &std::cell::Cell<usize>;
    /// Reads while readable (the start of reading looks once).
    fn read_ready(&self);
    /// Closes the descriptor and leaves the loop, drops the protocol, and lets go of whatever
    /// else the transport holds (a socket leaves its server). Runs once `connection_lost` has
    /// run, or at once when nothing can be queued any more.
    fn release(&self);
    /// The loop closed underneath: drop the descriptor (no deregistering: the registry is
    /// gone) and what else `release` lets go of, telling no one.
    fn forget(&self);

    /// A `Transport` handle on this transport.
    fn handle(&self) -> Transport {
        Transport {
            inner: self.me().upgrade().expect("transport alive while in use"),
        }
    }

    /// Runs `f` on a later turn of the loop, if the transport is still alive and the loop
    /// still runs.
    fn later(&self, f: impl FnOnce(&Self) + 'static) {
        if let Some(me) = self.me().upgrade() {
            let _ = self.protocol().lp().call_soon(move || f(&me));
        }
    }

    /// [`read_ready`](Self::read_ready) on a later turn, as [`later`](Self::later) runs it
    /// (a fair share read, a resume, an EOF a `read_into` returned): one callback type for
    /// every such call, not a closure of its own at each.
    fn read_later(&self) {
        self.later(Self::read_ready);
    }

    /// Runs `f` once the protocol is free again (a call found it held elsewhere): on the next
    /// turn, and while it is still held then, on later ones (`protocol::Hold`: spaced out after a
    /// few turns, and one warning if the hold lasts), so that a protocol held across an
    /// `.await` does not spin the loop.
    fn when_free(&self, f: impl FnOnce(&Self) + 'static) {
        crate::protocol::when_free(self.protocol().lp(), self.me().clone(), Self::protocol, f);
    }

    /// `read_ready` once the protocol is free again, as [`when_free`](Self::when_free) runs
    /// it, with one such retry at a time: every readable edge while the protocol is held
    /// finds the protocol busy, and joins the retry already waiting.
    fn read_when_free(&self) {
        crate::protocol::delivery_when_free(
            self.protocol().lp(),
            self.me().clone(),
            Self::protocol,
            Self::read_ready,
        );
    }

    /// The first queued callback (L45): `connection_made`, put off while the protocol is held
    /// elsewhere (still before any data: reading starts only once it has run).
    fn connection_made(&self) {
        trace!(
            "protocol[{}]: connection_made{}",
            self.protocol().transport_id(),
            Self::TRACE_TAG
        );
        match self.protocol().made(self.handle()) {
            Called::Done(()) | Called::Gone => {}
            Called::Busy => self.when_free(|t| t.connection_made()),
            // L55: reported as a failed callback; reading still starts. CPython (3.11):
            // {'message': 'Exception in callback P.connection_made(<_SelectorSocketTransport
            // fd=6 ...>)', 'exception': .., 'handle': <Handle P.connection_made(<...>)>}.
            Called::Panicked(payload) => {
                let id = self.protocol().transport_id();
                self.report_callback(Call::Made(id), &payload)
            }
        }
    }

    /// The second queued callback: reading starts once `connection_made` has run (L45).
    fn start_reading(&self) {
        if !self.protocol().is_made() && self.life().state() == State::Open {
            self.when_free(|t| t.start_reading()); // connection_made waits for the protocol
            return;
        }
        if self.life().start_reading() && self.must_look_at_start() {
            self.read_ready();
        }
    }

    /// Whether the start of reading must look for data itself: bytes (or an EOF) may already
    /// be there with no event left to announce them. True unless the transport knows better
    /// (the socket transport, registered before the start was queued, does).
    fn must_look_at_start(&self) -> bool {
        true
    }

    /// A protocol callback that CPython runs as a loop callback, or lets escape into the loop,
    /// panicked (`connection_made`, `connection_lost`; a read pipe's `data_received` and
    /// `eof_received`): reported as a failed callback, `call` naming it with its argument;
    /// the transport goes on.
    fn report_callback(&self, call: Call, payload: &Payload) {
        let lp = self.protocol().lp();
        report_protocol_callback(lp, self.protocol().name(), call, &**payload);
    }

    /// A protocol method on the data path panicked: reported, then the transport is closed
    /// with the panic as the error (CPython's `_fatal_error` after a failed protocol call:
    /// {'message': 'Fatal error: protocol.data_received() call failed.', 'exception': ..,
    /// 'transport': <_SelectorSocketTransport fd=6 ...>, 'protocol': <P object at ...>}).
    fn protocol_failed(&self, what: &str, payload: Payload) {
        let panic = PanicError::from_payload(&*payload);
        report_error(
            self.protocol().lp(),
            format!("Fatal error: protocol.{what}() call failed."),
            Box::new(panic.clone()),
            &Origin {
                transport: Some(self.protocol().transport_id()),
                protocol: self.protocol().name(),
            },
        );
        drop(payload); // reported first; its drop is caught (`Payload`)
        self.force_close(Some(io::Error::other(panic)));
    }

    /// The error funnel (L80): OS errors are only logged (debug for an ordinary disconnect,
    /// L61), others (`report`) go to the exception handler; then `force_close`.
    fn fatal_error(&self, err: io::Error, message: &str, report: bool) {
        let id = self.protocol().transport_id();
        if report {
            report_error(
                self.protocol().lp(),
                message.to_string(),
                Box::new(crate::error::copy_io(&err)),
                &Origin {
                    transport: Some(id),
                    protocol: self.protocol().name(),
                },
            );
        } else if is_ordinary_disconnect(&err) {
            crate::event_loop::debug::debug_log!(
                "{} {id}: {message}: {}",
                Self::LOG_NAME,
                OsText(&err)
            );
        } else {
            crate::event_loop::debug::warning!(
                "{} {id}: {message}: {}",
                Self::LOG_NAME,
                OsText(&err)
            );
        }
        self.force_close(Some(err));
    }

    /// Drops the buffer, stops reading and queues `connection_lost(exc)` once (L77, L80). A
    /// second close is a no-op.
    fn force_close(&self, exc: Option<io::Error>) {
        if self.life().state() >= State::Lost {
            return;
        }
        self.buffer().borrow_mut().clear();
        self.life().set_reading(Reading::Done);
        self.life().set_state(State::Lost);
        self.queue_connection_lost(exc);
    }

    /// Queues `connection_lost(exc)` for a transport now `Lost`; with the loop closed (nothing
    /// will run) releases what it holds at once.
    fn queue_connection_lost(&self, exc: Option<io::Error>) {
        debug_assert_eq!(
            self.life().state(),
            State::Lost,
            "connection_lost queued early"
        );
        if let Some(me) = self.me().upgrade() {
            let queued = self
                .protocol()
                .lp()
                .call_soon(move || me.call_connection_lost(exc));
            if queued.is_err() {
                self.release();
            }
        }
    }

    /// `connection_lost(exc)` exactly once (L44, L82), then `release`. A protocol held right
    /// now gets it on a later turn instead of never.
    fn call_connection_lost(&self, exc: Option<io::Error>) {
        if self.life().state() == State::Closed {
            return;
        }
        if self.protocol().is_busy() {
            self.when_free(move |t| t.call_connection_lost(exc));
            return;
        }
        self.life().set_state(State::Closed);
        trace!(
            "protocol[{}]: connection_lost({}){}",
            self.protocol().transport_id(),
            exc.as_ref()
                .map_or("None".to_string(), |e| format!("{:?}", e.kind())),
            Self::TRACE_TAG
        );
        let call = Call::Lost(exc.is_some());
        if let Ok(Called::Panicked(payload)) = self.protocol().lost(exc) {
            self.report_callback(call, &payload);
        }
        self.release();
    }

    /// The loop closed under the transport (`IoHandler::loop_closed`): nothing will run on it
    /// again, so a protocol not yet told is told now (a stream reader or writer used afterwards
    /// fails instead of waiting forever; a busy one cannot be told later: there is no later),
    /// then everything is let go, the unsent bytes first.
    fn on_loop_closed(&self) {
        let was = self.life().loop_closed();
        // Nothing queued can be sent any more: let the memory go now rather than with the
        // last handle, and `get_write_buffer_size()` says 0, as after CPython's `_force_close`.
        let unsent = std::mem::take(&mut *self.buffer().borrow_mut());
        // Silent in CPython; here the usual cause is a `close()` not followed by
        // `wait_closed()` before `run` returned, and the peer sees a clean EOF after a
        // prefix: said once per connection, after the protocol is told, since a TLS layer
        // above speaks for these bytes with its own (`take_unsent_at_loop_close`).
        self.unsent_at_close().set(unsent.len());
        drop(unsent);
        // The dropped-write count starts again: a write from now on has no CPython
        // counterpart (its loop is closed), and `dropped_write` warns at the first (0).
        self.conn_lost_writes().set(0);
        if was < State::Closed {
            let exc = crate::error::loop_closed_io();
            self.protocol().lost_at_close(Some(exc));
        }
        let n = self.unsent_at_close().take();
        if n > 0 {
            let id = self.protocol().transport_id();
            crate::transport::write_path::warn_unsent_at_loop_close(
                Self::LOG_NAME,
                id,
                crate::transport::write_path::Unsent::Bytes(n),
            );
        }
        self.protocol().let_go();
        self.forget();
    }
}
