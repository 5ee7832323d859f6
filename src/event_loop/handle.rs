//! Cancellable callback handles: `Handle` for `call_soon`, `TimerHandle` for
//! `call_later`/`call_at`.
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
/// use asyncio::{ExceptionContext, LoopHandle};
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     lp.call_soon(|| println!("returns ()")).unwrap();
///     // An `Err` goes to the exception handler; the loop carries on.
///     let (tx, rx) = std::sync::mpsc::channel();
///     lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
///         tx.send(ctx.exception.as_ref().map(|e| e.to_string())).unwrap();
///     }));
///     lp.call_soon(|| Err::<(), _>("bad input")).unwrap();
///     asyncio::yield_now().await;
///     assert_eq!(rx.try_recv(), Ok(Some("bad input".to_string())));
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
    /// Takes the closure out if it is still there: runs it when `run` is true and returns the
    /// error it produced, else drops it unrun (a cancel). One method for both, called by
    /// `run` and `cancel` on `dyn Callback`: each closure type compiles one function and one
    /// vtable slot for them, not two (3.9 KB less in the echo client).
    fn take(&self, run: bool) -> Option<Box<dyn std::error::Error>>;
    /// What every kind keeps beside its closure: one small method per closure type, the rest
    /// (its name too) read through it by the non-generic methods on `dyn Callback`.
    fn state(&self) -> &CallbackState;
}

/// The state a scheduled callback keeps beside its closure.
pub(crate) struct CallbackState {
    /// Set by `cancel`; never cleared.
    pub(crate) cancelled: Cell<bool>,
    /// A timer's deadline as [`LoopSeconds`] counts it (its handle is then described as a
    /// `TimerHandle`), or [`NOT_A_TIMER`] for a `call_soon` callback. Set by
    /// `call_later`/`call_at`, and again as the timer fires (an entry re-armed in place may
    /// have moved).
    when: Cell<i64>,
    /// Names the callback in `Exception in callback …` reports and handle reprs: the closure's
    /// type name, or what a hand-written callback stands for. Kept here, not behind a method
    /// of each closure type: one function and one vtable slot less per type.
    pub(crate) name: &'static str,
}

/// `when` never set: a `call_soon` callback.
const NOT_A_TIMER: i64 = i64::MIN;

impl CallbackState {
    pub(crate) const fn new(name: &'static str) -> Self {
        CallbackState {
            cancelled: Cell::new(false),
            when: Cell::new(NOT_A_TIMER),
            name,
        }
    }
}

impl dyn Callback + '_ {
    /// Runs the closure if it is still there; returns the error it produced.
    pub(crate) fn run(&self) -> Option<Box<dyn std::error::Error>> {
        self.take(true)
    }

    /// Marks the callback cancelled (`state().cancelled`) and drops the closure.
    pub(crate) fn cancel(&self) {
        self.state().cancelled.set(true);
        self.take(false);
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.state().cancelled.get()
    }

    /// The callback's name (`CallbackState::name`), for `Exception in callback …` reports.
    pub(crate) fn name(&self) -> &'static str {
        self.state().name
    }

    /// The timer's deadline (`CallbackState::when`); `None` for a `call_soon` callback.
    pub(crate) fn when(&self) -> Option<i64> {
        Some(self.state().when.get()).filter(|&w| w != NOT_A_TIMER)
    }

    pub(crate) fn set_when(&self, loop_ns: i64) {
        self.state().when.set(loop_ns);
    }
}

struct CallbackCell<F> {
    state: CallbackState,
    /// The closure until it runs or is cancelled.
    f: Cell<Option<F>>,
}

impl<F, R> Callback for CallbackCell<F>
where
    F: FnOnce() -> R,
    R: CallbackOutput,
{
    fn take(&self, run: bool) -> Option<Box<dyn std::error::Error>> {
        // Taken before the call: the closure may cancel its own handle.
        let f = self.f.take()?;
        if run {
            f().into_error()
        } else {
            drop(f);
            None
        }
    }

    fn state(&self) -> &CallbackState {
        &self.state
    }
}

pub(crate) fn new_callback<F, R>(f: F) -> Rc<dyn Callback>
where
    F: FnOnce() -> R + 'static,
    R: CallbackOutput + 'static,
{
    new_named_callback(std::any::type_name::<F>(), f)
}

/// [`new_callback`] for a closure that stands for another (a `call_soon_threadsafe`
/// callback's runner): reports name the one it stands for.
pub(crate) fn new_named_callback<F, R>(name: &'static str, f: F) -> Rc<dyn Callback>
where
    F: FnOnce() -> R + 'static,
    R: CallbackOutput + 'static,
{
    Rc::new(CallbackCell {
        state: CallbackState::new(name),
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let captured = Rc::new(());
    ///     let held = captured.clone();
    ///     let handle = lp.call_soon(move || drop(held))?;
    ///     handle.cancel();
    ///     handle.cancel(); // again: nothing more happens
    ///     assert_eq!(Rc::strong_count(&captured), 1, "the closure is released at once");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L5.
    pub fn cancel(&self) {
        self.callback.cancel();
    }

    /// Whether [`cancel`](Self::cancel) was called, even if the callback had already run.
    ///
    /// # Examples
    ///
    /// ```
    /// # asyncio::run(async {
    /// let lp = asyncio::get_running_loop()?;
    /// let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    /// let flag = ran.clone();
    /// let handle = lp.call_soon(move || flag.set(true))?;
    /// assert!(!handle.cancelled());
    /// asyncio::yield_now().await; // the callback runs
    /// handle.cancel(); // too late to stop it, but still recorded
    /// assert!(ran.get() && handle.cancelled());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        self.callback.cancelled()
    }
}

impl fmt::Debug for Handle {
    /// As Python's handle repr: `<Handle my_crate::tick()>`, `<Handle cancelled>`; a timer's
    /// as [`TimerHandle`]'s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Described(&*self.callback))
    }
}

/// A callback described as Python's `Handle` and `TimerHandle` reprs describe it:
/// `<Handle my_crate::tick()>`, `<TimerHandle when=5123.25 my_crate::tick()>` (the closure's
/// type name where CPython names the function and its arguments, without CPython's source
/// location; `when` the deadline in seconds on the loop's clock, as [`LoopSeconds`] prints
/// it), or `<Handle cancelled>`, `<TimerHandle cancelled when=5123.25>` once cancelled (the
/// closure is gone, as CPython's handle drops its callback). Formatted only for a `Debug`, a
/// failure report (the context's `handle` key) or a slow-callback warning.
pub(crate) struct Described<'a>(pub(crate) &'a dyn Callback);

impl fmt::Display for Described<'_> {
    // Checklist: L18, L23.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (cb, when) = (self.0, self.0.when());
        f.write_str(if when.is_some() {
            "<TimerHandle"
        } else {
            "<Handle"
        })?;
        if cb.cancelled() {
            f.write_str(" cancelled")?;
        }
        if let Some(ns) = when {
            write!(f, " when={}", LoopSeconds(ns))?;
        }
        if !cb.cancelled() {
            write!(f, " {}()", cb.name())?;
        }
        f.write_str(">")
    }
}

/// A time on the loop's clock as Python prints `loop.time()`, a float of seconds (`5123.25`,
/// `60.0`), from nanoseconds: on Linux those of `CLOCK_MONOTONIC`, the clock CPython's
/// `time.monotonic()` reads, so the figures compare with a Python loop's on the same machine;
/// on a [`ManualClock`](crate::ManualClock), or elsewhere, from the loop's creation. Printed
/// with integer arithmetic only (as `debug::Seconds3`), to the nanosecond, trailing zeros
/// dropped.
pub(crate) struct LoopSeconds(pub(crate) i64);

impl fmt::Display for LoopSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.unsigned_abs();
        let (secs, mut frac, mut digits) = (ns / 1_000_000_000, ns % 1_000_000_000, 9);
        while digits > 1 && frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{secs}.{frac:0digits$}")
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let fired = Rc::new(Cell::new(false));
    ///     let flag = fired.clone();
    ///     let timer = lp.call_later(Duration::from_millis(1), move || flag.set(true))?;
    ///     timer.cancel();
    ///     assert_eq!(Rc::strong_count(&fired), 1, "the closure is released at once");
    ///     asyncio::sleep(Duration::from_millis(5)).await;
    ///     assert!(!fired.get(), "a cancelled timer never fires");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancel(&self) {
        self.handle.cancel();
        if let Some(lp) = self.lp.upgrade() {
            // The entry holds the other reference to the callback; drop it outside the borrow.
            let entry = lp.timers.borrow_mut().remove(self.key);
            drop(entry);
        }
    }

    /// Whether [`cancel`](Self::cancel) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// let lp = asyncio::get_running_loop()?;
    /// let timer = lp.call_later(Duration::from_secs(3600), || println!("never runs"))?;
    /// assert!(!timer.cancelled());
    /// timer.cancel();
    /// assert!(timer.cancelled());
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        self.handle.cancelled()
    }

    /// The absolute deadline on the loop's clock ([`LoopHandle::time`](crate::LoopHandle::time)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// # asyncio::run(async {
    /// let lp = asyncio::get_running_loop()?;
    /// let before = lp.time();
    /// let timer = lp.call_later(Duration::from_secs(60), || ())?;
    /// assert!(timer.when() >= before + Duration::from_secs(60));
    /// let at = lp.call_at(timer.when(), || ())?; // the same deadline, given as an instant
    /// assert_eq!(at.when(), timer.when());
    /// # timer.cancel();
    /// # at.cancel();
    /// # Ok::<_, asyncio::Error>(())
    /// # })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn when(&self) -> Instant {
        self.when
    }
}

impl fmt::Debug for TimerHandle {
    /// As Python's timer handle repr: `<TimerHandle when=5123.25 my_crate::tick()>`,
    /// `<TimerHandle cancelled when=5123.25>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Described(&*self.handle.callback))
    }
}

#[cfg(test)]
mod tests {
    use super::LoopSeconds;

    #[test]
    fn loop_seconds_print_as_python_prints_a_float_of_seconds() {
        let shown = |ns: i64| LoopSeconds(ns).to_string();
        assert_eq!(shown(0), "0.0");
        assert_eq!(shown(60_000_000_000), "60.0");
        assert_eq!(shown(1_250_000_000), "1.25");
        assert_eq!(shown(37_570_866_398_253), "37570.866398253");
        assert_eq!(shown(5_000_000_001), "5.000000001");
        assert_eq!(shown(-2_500_000_000), "-2.5");
        assert_eq!(shown(i64::MIN + 1), "-9223372036.854775807");
    }
}
