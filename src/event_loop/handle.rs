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
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     lp.call_soon(|| println!("returns ()")).unwrap();
///     // An `Err` goes to the exception handler; the loop carries on.
///     lp.set_exception_handler(Some(|_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
///         assert_eq!(ctx.exception.as_ref().unwrap().to_string(), "bad input");
///     }));
///     lp.call_soon(|| Err::<(), _>("bad input")).unwrap();
///     asyncio::yield_now().await;
/// })
/// .unwrap();
/// ```
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
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// asyncio::run(async {
///     let ran = Rc::new(Cell::new(false));
///     let flag = ran.clone();
///     let handle = asyncio::get_running_loop()?.call_soon(move || flag.set(true))?;
///     handle.cancel();
///     assert!(handle.cancelled());
///     asyncio::yield_now().await;
///     assert!(!ran.get(), "a cancelled callback never runs");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
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
    /// As Python's handle repr: `<Handle my_crate::tick()>`, `<Handle cancelled>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Described(&*self.callback))
    }
}

/// A callback described as Python's `Handle` repr describes it: `<Handle my_crate::tick()>`
/// (the closure's type name where CPython names the function and its arguments, without
/// CPython's source location), or `<Handle cancelled>` once cancelled (the closure is gone, as
/// CPython's handle drops its callback). Formatted only for a `Debug`, a failure report (the
/// context's `handle` key) or a slow-callback warning.
pub(crate) struct Described<'a>(pub(crate) &'a dyn Callback);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.cancelled() {
            return f.write_str("<Handle cancelled>");
        }
        write!(f, "<Handle {}()>", self.0.name())
    }
}

/// A callback scheduled with [`call_later`](crate::LoopHandle::call_later) or
/// [`call_at`](crate::LoopHandle::call_at) (Python's `asyncio.TimerHandle`).
///
/// Cancelling removes the timer from the wheel in O(1): a cancelled timer never fires and never
/// shortens the loop's poll.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let timer = lp.call_later(Duration::from_secs(60), || println!("too late"))?;
///     assert!(timer.when() >= lp.time() + Duration::from_secs(59));
///     timer.cancel(); // leaves the wheel at once
///     assert!(timer.cancelled());
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
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
