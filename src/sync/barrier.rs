//! [`Barrier`]: a fixed number of tasks meet before any goes on (CPython 3.11's
//! `asyncio.Barrier`, `Lib/asyncio/locks.py`).
//!
//! The barrier is a small state machine, one state at a time, changed only through
//! `set_state`:
//!
//! ```text
//!             the last party arrives                 the last released party leaves
//!   Filling ───────────────────────► Draining ─────────────────────────────────────► Filling
//!      │ reset() with parties inside    │ reset()                                      ▲
//!      ▼                                ▼                                              │
//!   Resetting ◄─────────────────────────┘   the last party inside leaves ──────────────┤
//!                                                                                      │
//!   any state ── abort() ──► Broken ── reset() (nobody inside) ───────────────────────┘
//! ```
//!
//! While it drains or resets, newcomers wait at the door (CPython's `_block`); a party inside
//! (counted in `count`) waits for the filling to end (`_wait`). Every change of state wakes
//! every waiter, which looks again at the state (CPython's one `Condition` and its
//! `notify_all`). A party leaves when its `wait` returns or its future is dropped (our
//! cancellation; CPython's `finally`), so a cancelled party never holds the barrier.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::Waiters;
use crate::error::Error;

/// The barrier's state (CPython `_BarrierState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Parties arrive and wait for the last one.
    Filling,
    /// The last party arrived: those inside go on; newcomers wait until all have left.
    Draining,
    /// `reset()` while parties were inside: they fail; newcomers wait until all have left.
    Resetting,
    /// `abort()`: every wait fails until `reset()`.
    Broken,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Filling => "filling",
            State::Draining => "draining",
            State::Resetting => "resetting",
            State::Broken => "broken",
        }
    }
}

/// A wait on a [`Barrier`] failed: the barrier was broken when the party arrived, or was
/// aborted or reset while the party waited inside (CPython `asyncio.BrokenBarrierError`, with
/// its two texts). Converts to [`Error::InvalidState`] with the same text, as Python's is a
/// `RuntimeError`.
///
/// # Examples
///
/// ```
/// use asyncio::sync::{Barrier, BrokenBarrierError};
///
/// asyncio::run(async {
///     let barrier = Barrier::new(2)?;
///     barrier.abort();
///     assert_eq!(barrier.wait().await, Err(BrokenBarrierError::Aborted));
///     assert_eq!(BrokenBarrierError::Aborted.to_string(), "Barrier aborted");
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BrokenBarrierError {
    /// The barrier was broken ([`Barrier::abort`]) when the party arrived: `Barrier aborted`.
    Aborted,
    /// The barrier was aborted or reset while the party waited inside: `Abort or reset of
    /// barrier`.
    AbortOrReset,
}

impl fmt::Display for BrokenBarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokenBarrierError::Aborted => "Barrier aborted",
            BrokenBarrierError::AbortOrReset => "Abort or reset of barrier",
        })
    }
}

impl std::error::Error for BrokenBarrierError {}

impl From<BrokenBarrierError> for Error {
    fn from(e: BrokenBarrierError) -> Error {
        Error::InvalidState(e.to_string())
    }
}

/// A meeting point for a fixed number of tasks (CPython `asyncio.Barrier`): each calls
/// [`wait`](Barrier::wait), and all of them go on together once `parties` have arrived. The
/// barrier then serves the next round.
///
/// Like the other primitives of [`sync`](crate::sync) it is for the tasks of one loop; share
/// it with `Rc`. `reset` and `abort` are plain methods: in Python they are coroutines only to
/// take the barrier's internal lock.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use asyncio::sync::Barrier;
///
/// asyncio::run(async {
///     let barrier = Rc::new(Barrier::new(3)?);
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let b = barrier.clone();
///             asyncio::spawn(async move { b.wait().await })
///         })
///         .collect();
///     let mut indexes: Vec<usize> = Vec::new();
///     for t in tasks {
///         indexes.push(t.await.unwrap()?);
///     }
///     indexes.sort();
///     assert_eq!(indexes, [0, 1, 2]); // each party gets its own arrival index
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub struct Barrier {
    parties: usize,
    /// Only `set_state` assigns it.
    state: Cell<State>,
    /// Parties inside: arrived and not yet left (CPython's `_count`).
    count: Cell<usize>,
    /// Every waiting future, at the door or inside; all are woken on each change of state.
    waiters: Waiters,
}

impl Barrier {
    /// A barrier for `parties` tasks.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`parties must be > 0`) for 0, as CPython's `ValueError`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(asyncio::sync::Barrier::new(0).is_err());
    /// assert_eq!(asyncio::sync::Barrier::new(4).unwrap().parties(), 4);
    /// ```
    pub fn new(parties: usize) -> Result<Barrier, Error> {
        if parties == 0 {
            return Err(Error::invalid_argument("parties must be > 0"));
        }
        Ok(Barrier {
            parties,
            state: Cell::new(State::Filling),
            count: Cell::new(0),
            waiters: Waiters::default(),
        })
    }

    /// Waits until `parties` tasks are waiting, then returns this task's arrival index, from 0
    /// to `parties - 1` (CPython `await barrier.wait()`, and `async with barrier`).
    ///
    /// # Errors
    /// [`BrokenBarrierError`] if the barrier is broken, or is aborted or reset while this task
    /// waits inside it.
    ///
    /// # Cancel safety
    /// Dropping the future before it completes leaves the barrier: the party no longer counts
    /// towards the `parties` (as a cancelled task leaves CPython's barrier).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let alone = asyncio::sync::Barrier::new(1)?;
    ///     assert_eq!(alone.wait().await, Ok(0)); // the only party: through at once
    ///     assert_eq!(alone.wait().await, Ok(0)); // and again, the next round
    ///     Ok::<_, asyncio::Error>(())
    /// })
    /// .unwrap()
    /// .unwrap();
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            step: Step::AtTheDoor,
            key: None,
        }
    }

    /// Puts the barrier back to filling (CPython `await barrier.reset()`). Parties waiting
    /// inside fail with [`BrokenBarrierError`]; newcomers wait until they have all left. A
    /// broken barrier is usable again.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = asyncio::sync::Barrier::new(2).unwrap();
    /// barrier.abort();
    /// assert!(barrier.broken());
    /// barrier.reset();
    /// assert!(!barrier.broken());
    /// ```
    pub fn reset(&self) {
        if self.count.get() > 0 {
            if self.state.get() != State::Resetting {
                self.set_state(State::Resetting);
            }
        } else {
            self.set_state(State::Filling);
        }
        self.waiters.notify_all();
    }

    /// Breaks the barrier (CPython `await barrier.abort()`): every party waiting inside, and
    /// every later `wait`, fails with [`BrokenBarrierError`] until [`reset`](Barrier::reset).
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = asyncio::sync::Barrier::new(2).unwrap();
    /// barrier.abort();
    /// assert!(barrier.broken());
    /// ```
    pub fn abort(&self) {
        self.set_state(State::Broken);
        self.waiters.notify_all();
    }

    /// How many tasks must wait for the barrier to let them through.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncio::sync::Barrier::new(3).unwrap().parties(), 3);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How many tasks are waiting inside while it fills (0 while it drains, resets or is
    /// broken), as CPython's `n_waiting`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncio::sync::Barrier::new(3).unwrap().n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        if self.state.get() == State::Filling {
            self.count.get()
        } else {
            0
        }
    }

    /// Whether [`abort`](Barrier::abort) broke the barrier (and no `reset` since).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!asyncio::sync::Barrier::new(3).unwrap().broken());
    /// ```
    pub fn broken(&self) -> bool {
        self.state.get() == State::Broken
    }

    /// Checks and applies a change of state (see the module diagram).
    fn set_state(&self, next: State) {
        use State::*;
        let from = self.state.get();
        let edge = matches!(
            (from, next),
            (_, Broken)
                | (Filling, Draining)
                | (Filling | Draining | Broken, Resetting)
                | (_, Filling)
        );
        debug_assert!(edge, "barrier state {from:?} -> {next:?} is not an edge");
        self.state.set(next);
    }

    /// A party leaves (CPython's `finally` in `wait` and `_exit`): the last one out ends a
    /// drain or a reset.
    fn leave(&self) {
        let left = self.count.get() - 1;
        self.count.set(left);
        if left == 0 {
            if matches!(self.state.get(), State::Draining | State::Resetting) {
                self.set_state(State::Filling);
            }
            self.waiters.notify_all();
        }
    }
}

impl fmt::Debug for Barrier {
    /// `Barrier [filling, waiters:1/3]`, as CPython's repr.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.get();
        write!(f, "Barrier [{}", state.name())?;
        if state != State::Broken {
            write!(f, ", waiters:{}/{}", self.n_waiting(), self.parties)?;
        }
        f.write_str("]")
    }
}

/// Where a [`BarrierWait`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Not counted yet: waits while the barrier drains or resets (CPython's `_block`).
    AtTheDoor,
    /// Counted, with this arrival index: waits for the filling to end (`_wait`).
    Inside(usize),
    /// Returned this output, which a poll after the end returns again.
    Done(Result<usize, BrokenBarrierError>),
}

/// The future of [`Barrier::wait`]: the arrival index, or [`BrokenBarrierError`].
///
/// # Examples
///
/// A party waiting inside when the barrier is aborted gets the error:
///
/// ```
/// use std::rc::Rc;
///
/// asyncio::run(async {
///     let barrier = Rc::new(asyncio::Barrier::new(2)?);
///     let other = Rc::clone(&barrier);
///     let waiter = asyncio::spawn(async move {
///         let wait: asyncio::sync::BarrierWait<'_> = other.wait();
///         wait.await
///     });
///     asyncio::yield_now().await; // it is inside now, one party short
///     barrier.abort();
///     assert!(waiter.await.unwrap().is_err()); // BrokenBarrierError
///     assert!(barrier.broken());
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    step: Step,
    /// Our place among the barrier's waiters while we wait.
    key: Option<usize>,
}

impl BarrierWait<'_> {
    /// Waits for the next change of state: keeps our place, or takes a new one after a
    /// notification used the last.
    fn park(&mut self, cx: &mut Context<'_>) -> Poll<Result<usize, BrokenBarrierError>> {
        let waiters = &self.barrier.waiters;
        match self.key {
            Some(key) if !waiters.poll(key, cx.waker()) => {}
            Some(key) => {
                waiters.remove(key);
                self.key = Some(waiters.push(cx.waker()));
            }
            None => self.key = Some(waiters.push(cx.waker())),
        }
        Poll::Pending
    }

    fn finish(
        &mut self,
        out: Result<usize, BrokenBarrierError>,
    ) -> Poll<Result<usize, BrokenBarrierError>> {
        if let Some(key) = self.key.take() {
            self.barrier.waiters.remove(key);
        }
        let was_inside = matches!(self.step, Step::Inside(_));
        self.step = Step::Done(out);
        if was_inside {
            self.barrier.leave();
        }
        Poll::Ready(out)
    }
}

impl Future for BarrierWait<'_> {
    type Output = Result<usize, BrokenBarrierError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let b = this.barrier;
        match (this.step, b.state.get()) {
            // Polled after its end: the same output again (the party has left; nothing moves).
            (Step::Done(out), _) => Poll::Ready(out),
            (Step::AtTheDoor, State::Draining | State::Resetting) => this.park(cx),
            (Step::AtTheDoor, State::Broken) => this.finish(Err(BrokenBarrierError::Aborted)),
            (Step::AtTheDoor, State::Filling) => {
                let index = b.count.get();
                b.count.set(index + 1);
                this.step = Step::Inside(index);
                if index + 1 == b.parties {
                    // The last party: release the others and go on at once.
                    b.set_state(State::Draining);
                    b.waiters.notify_all();
                    return this.finish(Ok(index));
                }
                this.park(cx)
            }
            (Step::Inside(_), State::Filling) => this.park(cx),
            (Step::Inside(index), State::Draining) => this.finish(Ok(index)),
            (Step::Inside(_), State::Resetting | State::Broken) => {
                this.finish(Err(BrokenBarrierError::AbortOrReset))
            }
        }
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if !matches!(self.step, Step::Done(_)) {
            let _ = self.finish(Err(BrokenBarrierError::AbortOrReset));
        }
    }
}
