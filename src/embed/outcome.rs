//! A [`ConcurrentFuture`](super::ConcurrentFuture)'s result slot and the states of its
//! result (`concurrent.futures.Future`'s PENDING / FINISHED, with the value moved out once).
//! Ground rules: the slot lives under the future's mutex; only `Slot::set_outcome` changes
//! the outcome, along the diagram on [`Outcome`].

use std::task::Waker;

use super::DoneCallback;
use crate::error::Error;

/// Where a [`ConcurrentFuture`]'s result stands. Changed only by [`Slot::set_outcome`]:
///
/// ```text
///   Pending ──the work ends──► Value ──result() / .await──► Taken
///      └── it fails, or is cancelled ──► Failed  (final: each call gets a copy)
/// ```
pub(super) enum Outcome<T> {
    /// No result yet.
    Pending,
    Value(T),
    /// An error (a cancellation included); it stays for every later call.
    Failed(Error),
    /// `result()` (or the `.await`) moved the value out; a later call says so.
    Taken,
}

impl<T> Outcome<T> {
    /// The state's name, for the transition check's message.
    fn name(&self) -> &'static str {
        match self {
            Outcome::Pending => "Pending",
            Outcome::Value(_) => "Value",
            Outcome::Failed(_) => "Failed",
            Outcome::Taken => "Taken",
        }
    }

    /// Whether `self -> to` is a move of the diagram above.
    fn is_edge(&self, to: &Outcome<T>) -> bool {
        use Outcome::*;
        matches!(
            (self, to),
            (Pending, Value(_) | Failed(_)) | (Value(_), Taken)
        )
    }

    /// A result is in (a value, an error, a cancellation, or a value already taken).
    pub(super) fn is_done(&self) -> bool {
        !matches!(self, Outcome::Pending)
    }
}

/// What a [`ConcurrentFuture`](super::ConcurrentFuture) and the work behind it share, under
/// the mutex.
pub(super) struct Slot<T> {
    pub(super) outcome: Outcome<T>,
    /// The waker of the task (on any executor) awaiting the `ConcurrentFuture`: one handle,
    /// polled by one task at a time, so one waker, replaced when another polls and taken back
    /// when the handle is dropped (an abandoned await keeps no task alive, D12).
    pub(super) waiter: Option<Waker>,
    /// The waker of the loop-side task, to deliver a cancellation.
    pub(super) runner: Option<Waker>,
    /// Callbacks waiting for the result, in the order they were added; taken (and run,
    /// with the lock released) by whoever puts the result in.
    pub(super) callbacks: Vec<DoneCallback<T>>,
}

impl<T> Slot<T> {
    /// The one place the outcome changes, along the [`Outcome`] diagram. Callers look
    /// before they move (a result is put in only while `Pending`, a value taken only while
    /// there), so another move is a bug of ours: it asserts in debug builds and is ignored in
    /// release ones (a result, once in, stays).
    pub(super) fn set_outcome(&mut self, to: Outcome<T>) {
        let legal = self.outcome.is_edge(&to);
        debug_assert!(
            legal,
            "concurrent future {} -> {}",
            self.outcome.name(),
            to.name()
        );
        if legal {
            self.outcome = to;
        }
    }

    /// The result, if it is there. A value is moved out once, leaving `Taken` so a later
    /// call says so instead of blocking; an error (a cancellation included) stays, and each
    /// call gets a copy, as Python's `result()` raises the same exception at every call.
    // Checklist: L26.
    pub(super) fn take_result(&mut self) -> Option<Result<T, Error>> {
        match &self.outcome {
            Outcome::Pending => None,
            Outcome::Failed(e) => Some(Err(e.duplicate())),
            Outcome::Taken => Some(Err(Error::invalid_state("result already taken"))),
            Outcome::Value(_) => match std::mem::replace(&mut self.outcome, Outcome::Taken) {
                Outcome::Value(v) => Some(Ok(v)),
                _ => None, // just matched
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Outcome, Slot};
    use crate::Error;

    fn slot(outcome: Outcome<u8>) -> Slot<u8> {
        Slot {
            outcome,
            waiter: None,
            runner: None,
            callbacks: Vec::new(),
        }
    }

    fn all() -> [Outcome<u8>; 4] {
        [
            Outcome::Pending,
            Outcome::Value(1),
            Outcome::Failed(Error::Cancelled),
            Outcome::Taken,
        ]
    }

    /// The moves `set_outcome` allows are the diagram's, and a walk along them gives what
    /// Python's `concurrent.futures.Future.result()` gives at each step.
    // Checklist: L26.
    #[test]
    fn l26_the_outcome_moves_are_the_diagram() {
        let mut moves = Vec::new();
        for a in all() {
            for b in all() {
                if a.is_edge(&b) {
                    moves.push((a.name(), b.name()));
                }
            }
        }
        assert_eq!(
            moves,
            [
                ("Pending", "Value"),
                ("Pending", "Failed"),
                ("Value", "Taken")
            ]
        );
        let mut s = slot(Outcome::Pending);
        assert!(s.take_result().is_none(), "no result yet");
        s.set_outcome(Outcome::Value(7));
        assert!(matches!(s.take_result(), Some(Ok(7))));
        assert_eq!(s.outcome.name(), "Taken");
        assert!(matches!(s.take_result(), Some(Err(Error::InvalidState(_)))));
        let mut s = slot(Outcome::Pending);
        s.set_outcome(Outcome::Failed(Error::Cancelled));
        for _ in 0..2 {
            assert!(matches!(s.take_result(), Some(Err(Error::Cancelled))));
        }
    }

    /// A second result is a bug of ours (callers look first): debug builds assert it.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "concurrent future Failed -> Value")]
    fn a_second_result_asserts_in_debug_builds() {
        slot(Outcome::Failed(Error::Cancelled)).set_outcome(Outcome::Value(1));
    }

    /// Release builds: it is ignored, the first result stays.
    #[cfg(not(debug_assertions))]
    #[test]
    fn a_second_result_is_ignored_in_release_builds() {
        let mut s = slot(Outcome::Failed(Error::Cancelled));
        s.set_outcome(Outcome::Value(1));
        assert!(matches!(s.take_result(), Some(Err(Error::Cancelled))));
    }
}
