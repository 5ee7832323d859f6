//! Cancellable callback handles: `Handle` for `call_soon`, `TimerHandle` for `call_later`/`call_at`.
//!
//! Mirrors `Handle` and `TimerHandle` in CPython `Lib/asyncio/events.py`. A handle and the ready
//! queue share one allocation holding the closure and a cancelled flag; cancelling drops the
//! closure at once, so everything it captured is released (L5), and a cancelled handle still in
//! the ready queue is skipped when reached. Ground rule: running a callback takes the closure out
//! of its cell first, so nothing is borrowed while user code runs.

use std::cell::Cell;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Instant;

use super::timer_wheel::TimerKey;
use super::LoopInner;

/// What a loop callback may return: `()` or a `Result` whose error is reported through the
/// loop's exception handler, like an exception escaping a Python callback.
// Checklist: L18.
pub trait CallbackOutput {
    /// The error to report, if any.
    fn into_error(self) -> Option<Box<dyn std::error::Error>>;
}

impl CallbackOutput for () {
    fn into_error(self) -> Option<Box<dyn std::error::Error>> {
        None
    }
}

impl<E: Into<Box<dyn std::error::Error>>> CallbackOutput for Result<(), E> {
    fn into_error(self) -> Option<Box<dyn std::error::Error>> {
        self.err().map(Into::into)
    }
}

/// The type-erased side of a scheduled closure.
pub(crate) trait Callback {
    /// Runs the closure if it is still there; returns the error it produced.
    fn run(&self) -> Option<Box<dyn std::error::Error>>;
    /// Marks the callback cancelled and drops the closure.
    fn cancel(&self);
    fn cancelled(&self) -> bool;
    /// The closure's type name, for `Exception in callback …` reports.
    fn name(&self) -> &'static str;
}

struct CallbackCell<F> {
    /// Set by `cancel`; never cleared.
    cancelled: Cell<bool>,
    /// The closure until it runs or is cancelled.
    f: Cell<Option<F>>,
}

impl<F, R> Callback for CallbackCell<F>
where
    F: FnOnce() -> R,
    R: CallbackOutput,
{
    fn run(&self) -> Option<Box<dyn std::error::Error>> {
        // Taken before the call: the closure may cancel its own handle.
        let f = self.f.take()?;
        f().into_error()
    }

    fn cancel(&self) {
        self.cancelled.set(true);
        drop(self.f.take());
    }

    fn cancelled(&self) -> bool {
        self.cancelled.get()
    }

    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }
}

pub(crate) fn new_callback<F, R>(f: F) -> Rc<dyn Callback>
where
    F: FnOnce() -> R + 'static,
    R: CallbackOutput + 'static,
{
    Rc::new(CallbackCell {
        cancelled: Cell::new(false),
        f: Cell::new(Some(f)),
    })
}

/// A callback scheduled with [`LoopHandle::call_soon`](crate::LoopHandle::call_soon)
/// (Python's `asyncio.Handle`). Dropping the handle does not cancel the callback.
#[derive(Clone)]
pub struct Handle {
    pub(crate) callback: Rc<dyn Callback>,
}

impl Handle {
    /// Cancels the callback if it has not run yet and releases what it captured. Idempotent.
    // Checklist: L5.
    pub fn cancel(&self) {
        self.callback.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called, even if the callback had already run.
    pub fn cancelled(&self) -> bool {
        self.callback.cancelled()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("callback", &self.callback.name())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

/// A callback scheduled with [`call_later`](crate::LoopHandle::call_later) or
/// [`call_at`](crate::LoopHandle::call_at) (Python's `asyncio.TimerHandle`).
///
/// Cancelling removes the timer from the wheel in O(1): a cancelled timer never fires and never
/// shortens the loop's poll.
// Checklist: L10.
#[derive(Clone)]
pub struct TimerHandle {
    pub(crate) handle: Handle,
    pub(crate) when: Instant,
    pub(crate) key: TimerKey,
    pub(crate) lp: Weak<LoopInner>,
}

impl TimerHandle {
    /// Cancels the timer and releases its closure. Idempotent.
    pub fn cancel(&self) {
        self.handle.cancel();
        if let Some(lp) = self.lp.upgrade() {
            // The entry holds the other reference to the callback; drop it outside the borrow.
            let entry = lp.timers.borrow_mut().remove(self.key);
            drop(entry);
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn cancelled(&self) -> bool {
        self.handle.cancelled()
    }

    /// The absolute deadline on the loop's clock ([`LoopHandle::time`](crate::LoopHandle::time)).
    pub fn when(&self) -> Instant {
        self.when
    }
}

impl fmt::Debug for TimerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerHandle")
            .field("callback", &self.handle.callback.name())
            .field("when", &self.when)
            .field("cancelled", &self.cancelled())
            .finish()
    }
}
