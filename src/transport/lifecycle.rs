//! Where a transport is in its life, and whether it reads: the two state enums the socket and
//! pipe transports share, each changed only through its one guarded setter.
//!
//! CPython spreads this over flags: `_closing` and `_conn_lost` in `_SelectorTransport`
//! (`Lib/asyncio/selector_events.py`) and `_UnixWritePipeTransport`
//! (`Lib/asyncio/unix_events.py`), and `_paused` plus the registered reader for the read side.
//! Here they are two enums behind [`Life`]. What the states mean is the same for both
//! transports; when they are entered (a pipe drops writes while `Closing`, a socket buffers
//! them) stays with each transport. Pure state: no I/O, no protocol calls.

use std::cell::Cell;

/// Where the transport is in its life (L44, L77–L82). It only moves forward:
///
/// ```text
/// Open ──close(), buffer non-empty──► Closing ──buffer drained──► Lost ──connection_lost──► Closed
///   └──close() empty / abort() / fatal error──────────────────────►┘
///                                       Closing ──abort() / fatal──►┘
/// ```
/// (A write pipe's `write_eof()` is its `close()`.) The loop closing under a transport jumps
/// any state to `Closed`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum State {
    Open,
    /// `close()` was called with data buffered: flushing, then `connection_lost(None)`.
    Closing,
    /// `connection_lost` is queued (or being called from `write_ready`).
    Lost,
    /// `connection_lost` ran; the descriptor is closed.
    Closed,
}

/// The read side:
///
/// ```text
///  NotStarted ──start──► Active ◄──resume_reading()── Paused
///      └──────pause_reading()──────┴──pause_reading()──►┘
///  any ──EOF / close / fatal──► Done
/// ```
/// A write pipe starts (and stays) `Done`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Reading {
    /// Before the start-reading callback.
    // Checklist: L45.
    NotStarted,
    Active,
    Paused,
    /// EOF seen or the transport is closing: nothing will re-arm reading.
    // Checklist: L63.
    Done,
}

/// A transport's [`State`] and [`Reading`], changed only by [`Life::set_state`] and
/// [`Life::set_reading`], which check the diagrams' edges in debug builds. Two bytes.
#[derive(Debug)]
pub(crate) struct Life {
    state: Cell<State>,
    reading: Cell<Reading>,
}

impl Life {
    /// `Open`, reading as given (`NotStarted`, or `Done` for a transport that never reads).
    pub(crate) fn new(reading: Reading) -> Self {
        Life {
            state: Cell::new(State::Open),
            reading: Cell::new(reading),
        }
    }

    #[inline]
    pub(crate) fn state(&self) -> State {
        self.state.get()
    }

    #[inline]
    pub(crate) fn reading(&self) -> Reading {
        self.reading.get()
    }

    /// The one place the state changes: forward only.
    pub(crate) fn set_state(&self, to: State) {
        let from = self.state.get();
        debug_assert!(
            to > from,
            "transport state may only move forward, not {from:?} -> {to:?}"
        );
        self.state.set(to);
    }

    /// The one place the read side changes: the diagram's edges.
    pub(crate) fn set_reading(&self, to: Reading) {
        use Reading::*;
        let from = self.reading.get();
        debug_assert!(
            matches!(
                (from, to),
                (NotStarted, Active) | (NotStarted | Active, Paused) | (Paused, Active) | (_, Done)
            ),
            "transport reading {from:?} -> {to:?} is not an edge"
        );
        self.reading.set(to);
    }

    /// `read_ready` may read: open and reading.
    #[inline]
    pub(crate) fn may_read(&self) -> bool {
        self.reading.get() == Reading::Active && self.state.get() == State::Open
    }

    /// `is_reading()`: open, and reading or about to start.
    pub(crate) fn is_reading(&self) -> bool {
        self.state.get() == State::Open
            && matches!(self.reading.get(), Reading::Active | Reading::NotStarted)
    }

    /// The start-reading callback: `NotStarted` → `Active` while open. True if it started.
    pub(crate) fn start_reading(&self) -> bool {
        let start = self.reading.get() == Reading::NotStarted && self.state.get() == State::Open;
        if start {
            self.set_reading(Reading::Active);
        }
        start
    }

    /// `pause_reading()`: only an open transport that reads (or is about to) pauses. True if
    /// it paused.
    pub(crate) fn pause_reading(&self) -> bool {
        let pause = self.is_reading();
        if pause {
            self.set_reading(Reading::Paused);
        }
        pause
    }

    /// `resume_reading()`: only a paused, open transport resumes. True if it resumed (the
    /// caller then makes sure bytes that came while paused are announced: the socket
    /// re-registers readable, the pipe reads once if an edge was passed over).
    pub(crate) fn resume_reading(&self) -> bool {
        let resume = self.reading.get() == Reading::Paused && self.state.get() == State::Open;
        if resume {
            self.set_reading(Reading::Active);
        }
        resume
    }

    /// The loop closed under the transport: straight to `Closed`. Returns the state it was in.
    pub(crate) fn loop_closed(&self) -> State {
        self.state.replace(State::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_guards_follow_the_diagram() {
        let life = Life::new(Reading::NotStarted);
        assert!(life.is_reading(), "not started counts as reading");
        assert!(!life.may_read(), "nothing is read before the start");
        assert!(!life.resume_reading(), "only a paused side resumes");
        assert!(life.pause_reading());
        assert!(
            !life.start_reading(),
            "a side paused before the start stays paused"
        );
        assert!(!life.pause_reading(), "pausing twice is a no-op");
        assert!(life.resume_reading());
        assert!(life.may_read());
        life.set_state(State::Closing);
        assert!(!life.is_reading() && !life.may_read());
        assert!(!life.pause_reading(), "a closing transport does not pause");
    }

    #[test]
    fn a_write_only_transport_never_reads() {
        let life = Life::new(Reading::Done);
        assert!(!life.is_reading());
        assert!(!life.start_reading() && !life.pause_reading() && !life.resume_reading());
        assert_eq!(life.reading(), Reading::Done);
    }

    #[test]
    fn loop_closed_reports_the_state_it_ended() {
        let life = Life::new(Reading::NotStarted);
        life.set_state(State::Lost);
        assert_eq!(life.loop_closed(), State::Lost);
        assert_eq!(life.loop_closed(), State::Closed);
    }
}
