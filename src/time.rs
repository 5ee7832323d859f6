//! Sleeping and deadlines: `sleep`, `sleep_until`, `yield_now`, `timeout`, and
//! `timeout_scope` with its movable deadline (`Timeout`).
//!
//! Mirrors `asyncio.sleep` in CPython `Lib/asyncio/tasks.py` (L27) and `asyncio.timeout` /
//! `wait_for` in `timeouts.py` / `tasks.py` (L36–L39), with the port's decision D4: `timeout`
//! (and a scope) polls its future once before looking at the deadline. A sleeping future owns
//! one timer-wheel entry that holds its waker; it is re-armed in place ([`Sleep::reset`]) and
//! removed on drop, so cancelling a sleeping task cancels its timer. A scope's deadline is a
//! callback timer instead (`ScopeAlarm`, CPython's `_timeout_handler`): the scope expires in
//! the deadline's turn, not when its task next runs.

use std::future::{poll_fn, Future, IntoFuture};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::event_loop::clock::deadline_after;
use crate::event_loop::handle::{Callback, CallbackState};
use crate::event_loop::timer_wheel::TimerKey;
use crate::event_loop::{current_loop, LoopHandle, LoopInner, TimerEntry};

/// Waits until `delay` has passed on the running loop's clock (Python's `asyncio.sleep(delay)`).
/// Never fires early, and always gives up control at least once: `sleep(Duration::ZERO)`
/// (or a deadline already passed) waits exactly one loop iteration, as [`yield_now`] does
/// and as Python's `asyncio.sleep(0)` does. `Duration::MAX` (any delay beyond about
/// 292 years) saturates: it sleeps forever without overflowing.
///
/// Made outside a running loop (before `run_until_complete`, say), it has no loop clock to
/// read: the delay then counts from its first poll, on the clock of the loop that polls it, as
/// Python's `asyncio.sleep` starts its timer when awaited.
///
/// # Panics
/// When polled outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     let start = lp.time();
///     asyncio::sleep(Duration::from_millis(2)).await;
///     assert!(lp.time() - start >= Duration::from_millis(2)); // never early
/// })
/// .unwrap();
/// ```
pub fn sleep(delay: Duration) -> Sleep {
    match current_loop() {
        Some(lp) => sleep_until(deadline_after(lp.time(), delay)),
        None => Sleep {
            deadline: deadline_after(Instant::now(), delay),
            delay: Some(delay),
            timer: None,
            suspended: false,
        },
    }
}

/// Waits until the loop's clock reaches `deadline`.
///
/// # Panics
/// When polled outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     let deadline = lp.time() + Duration::from_millis(1);
///     asyncio::sleep_until(deadline).await;
///     assert!(lp.time() >= deadline);
/// })
/// .unwrap();
/// ```
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        delay: None,
        timer: None,
        suspended: false,
    }
}

/// The future of [`sleep`]. `Unpin`; dropping it cancels its timer.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     let mut sleep = asyncio::sleep(Duration::from_secs(3600));
///     // Changed our mind: wake in 1 ms instead, reusing the same timer.
///     sleep.reset(lp.time() + Duration::from_millis(1));
///     let deadline = sleep.deadline();
///     sleep.await;
///     assert!(lp.time() >= deadline);
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    /// On the loop's clock, once `delay` is `None`.
    deadline: Instant,
    /// Made outside a running loop: the delay, still to be counted from the first poll on the
    /// polling loop's clock (`deadline` is only the system clock's estimate until then).
    delay: Option<Duration>,
    /// The wheel entry and its loop, once armed. Invariant: the entry holds this future's waker.
    timer: Option<(LoopHandle, TimerKey)>,
    /// The first poll has returned `Pending` (every sleep suspends at least once, L27).
    suspended: bool,
}

impl Sleep {
    /// The deadline on the loop's clock. For a sleep made outside a running loop, until its
    /// first poll: the estimate taken on the system clock when it was made (see [`sleep`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop().unwrap();
    ///     let before = lp.time();
    ///     let sleep = asyncio::sleep(Duration::from_millis(2));
    ///     assert!(sleep.deadline() >= before + Duration::from_millis(2));
    ///     let deadline = sleep.deadline();
    ///     sleep.await;
    ///     assert!(lp.time() >= deadline, "never early");
    /// })
    /// .unwrap();
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline, re-arming the same timer entry in place (no allocation). The
    /// reset sleep is a new one: awaited again, it suspends at least once, even if it had
    /// completed or `deadline` has passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop().unwrap();
    ///     let mut sleep = asyncio::sleep(Duration::from_millis(1));
    ///     (&mut sleep).await;
    ///     // The same sleep again, 1 ms later: its timer entry is reused.
    ///     let again = lp.time() + Duration::from_millis(1);
    ///     sleep.reset(again);
    ///     assert_eq!(sleep.deadline(), again);
    ///     sleep.await;
    ///     assert!(lp.time() >= again);
    /// })
    /// .unwrap();
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.delay = None;
        self.suspended = false;
        if let Some((lp, key)) = &self.timer {
            if !lp.inner.reset_timer(*key, deadline) {
                self.timer = None; // already fired: re-armed at the next poll
            }
        }
    }
}

impl Sleep {
    /// Puts the deadline of a sleep made outside a running loop on `lp`'s clock: its delay
    /// from now (L11). Once; later calls do nothing.
    fn anchor(&mut self, lp: &LoopHandle) {
        if let Some(delay) = self.delay.take() {
            self.deadline = deadline_after(lp.time(), delay);
        }
    }

    /// The deadline half of a poll: `Ready` once the deadline has passed (at once if it
    /// already has), else `Pending` with this task's waker filed in the timer.
    fn poll_deadline(&mut self, cx: &Context<'_>) -> Poll<()> {
        if let Some((lp, key)) = &self.timer {
            // Wakers are compared under the wheel's borrow, but cloned and dropped outside it:
            // a waker's clone and drop are its executor's code, which may touch the loop.
            let filed = match lp.inner.timers.borrow().get(*key).map(|t| &t.entry) {
                Some(TimerEntry::Waker(w)) => Some(w.will_wake(cx.waker())),
                _ => None,
            };
            let armed = match filed {
                None => Armed::Gone,
                Some(true) => Armed::Pending,
                // Another waker: another task, or the same future moved to a task of another
                // loop of this thread. That loop's wheel may never turn again (it is not the
                // one running), so the timer moves to the loop that polls it now.
                Some(false)
                    if current_loop().is_some_and(|cur| !Rc::ptr_eq(&cur.inner, &lp.inner)) =>
                {
                    let entry = lp.inner.timers.borrow_mut().remove(*key);
                    drop(entry);
                    Armed::Moved
                }
                Some(false) => {
                    let new = cx.waker().clone();
                    let mut timers = lp.inner.timers.borrow_mut();
                    let replaced = match timers.get_mut(*key).map(|t| &mut t.entry) {
                        Some(TimerEntry::Waker(w)) => Some(std::mem::replace(w, new)),
                        _ => None, // it fired meanwhile (`new` is dropped below)
                    };
                    drop(timers);
                    if replaced.is_some() {
                        Armed::Pending
                    } else {
                        Armed::Gone
                    }
                }
            };
            match armed {
                Armed::Pending => return Poll::Pending,
                Armed::Moved => self.timer = None,
                Armed::Gone => {
                    // Gone from the wheel: it fired, unless its loop was closed with it
                    // pending (L16). Then it never did: it is armed afresh below, on the loop
                    // that polls it now.
                    let fired = !lp.is_closed();
                    self.timer = None;
                    if fired {
                        return Poll::Ready(());
                    }
                }
            }
        }
        let lp = current_loop().expect(
            "asyncio::sleep polled outside a running event loop (await it in code that \
             asyncio::run runs; another runtime's executor cannot drive it)",
        );
        self.anchor(&lp);
        if lp.time() >= self.deadline {
            return Poll::Ready(());
        }
        let key = lp
            .inner
            .insert_timer(self.deadline, TimerEntry::Waker(cx.waker().clone()));
        self.timer = Some((lp, key));
        Poll::Pending
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let ready = this.poll_deadline(cx);
        if this.suspended {
            return ready;
        }
        // L27: a sleep gives up control at least once, even for a zero delay or a deadline
        // already passed (then for exactly one iteration, as `yield_now`), so that a task
        // looping on `sleep(ZERO)` cannot starve callbacks and I/O.
        this.suspended = true;
        if ready.is_ready() {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

/// Where a sleep's timer stands when it is polled again.
enum Armed {
    /// Still in the wheel, with this poll's waker.
    Pending,
    /// Taken out of another loop's wheel: to be armed on the polling loop.
    Moved,
    /// No longer in the wheel.
    Gone,
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some((lp, key)) = self.timer.take() {
            let entry = lp.inner.timers.borrow_mut().remove(key);
            drop(entry);
        }
    }
}

/// Gives up control for exactly one loop iteration (Python's `await asyncio.sleep(0)`):
/// callbacks queued before it run first.
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
///     let lp = asyncio::get_running_loop().unwrap();
///     lp.call_soon(move || flag.set(true)).unwrap();
///     assert!(!ran.get());
///     asyncio::yield_now().await; // the queued callback runs first
///     assert!(ran.get());
/// })
/// .unwrap();
/// ```
// Checklist: L27.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let step: asyncio::YieldNow = asyncio::yield_now();
///     step.await;
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Runs `fut` with a deadline `delay` from now (Python's `asyncio.wait_for(fut, delay)` /
/// `async with asyncio.timeout(delay)`). The deadline is fixed when `timeout` is
/// called (made outside a running loop: when first polled, as [`sleep`]). `fut` is polled
/// before the deadline is checked, so an output ready at that poll
/// wins even with a zero delay; if it is not ready and the deadline has already passed, the
/// task gives up control for one loop iteration before the timeout fails (as `sleep(0)`),
/// so a task retrying in a loop lets the others run. On expiry `fut` is dropped: a
/// [`Task`](crate::Task) being awaited is cancelled with it (a `&mut Task` is only a borrow:
/// that task is cancelled when its handle is dropped, see [`Task`](crate::Task)'s cancel
/// safety). `Duration::MAX` means
/// no deadline (it saturates, as in [`sleep`]).
///
/// ```
/// use std::time::Duration;
/// asyncio::run(async {
///     let slow = asyncio::sleep(Duration::from_secs(60));
///     let r = asyncio::timeout(Duration::from_millis(1), slow).await;
///     assert!(matches!(r, Err(asyncio::Error::Timeout)));
/// }).unwrap();
/// ```
///
/// Around a stream read, the result is a `Result` in a `Result`: the outer error is the
/// deadline's, the inner the read's, hence `??` ([`try_timeout`] folds them into one). The
/// stream reads are cancel safe, so a read that timed out loses nothing: the next read gets
/// the bytes. To bound every read of a stream, set
/// [`StreamReader::set_read_timeout`](crate::StreamReader::set_read_timeout) once instead.
///
/// ```
/// use std::time::Duration;
/// asyncio::run(async {
/// #   let (a, b) = asyncio::socketpair()?;
/// #   let (reader, _writer) = asyncio::open_connection_sock(a).await?;
/// #   let (_, peer) = asyncio::open_connection_sock(b).await?;
///     peer.write(b"no newline yet")?;
///     let r = asyncio::timeout(Duration::from_millis(10), reader.readline()).await;
///     assert!(matches!(r, Err(asyncio::Error::Timeout)));
///     peer.write(b"\n")?;
///     let line = asyncio::timeout(Duration::from_secs(5), reader.readline()).await??;
///     assert_eq!(line, b"no newline yet\n"); // nothing was lost
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
///
/// # Errors
/// [`Error::Timeout`] when the deadline passes first.
///
/// # Cancel safety
/// Dropping the returned future drops `fut` with it.
// Checklist: L36, L39, D4.
pub fn timeout<F: IntoFuture>(
    delay: Duration,
    fut: F,
) -> impl Future<Output = Result<F::Output, Error>> {
    with_deadline(sleep(delay), fut)
}

/// [`timeout`] for a future that returns a `Result`: the two errors become one, so `?` is
/// enough. `Error::Timeout` if the deadline passes first, else the future's own error
/// (converted with `Into<Error>`).
///
/// ```
/// use std::time::Duration;
/// # fn main() -> Result<(), asyncio::Error> {
/// asyncio::run(async {
///     let l = std::net::TcpListener::bind("127.0.0.1:0")?;
///     let port = l.local_addr()?.port();
///     // The connection builder is IntoFuture; no .into_future(), no nested Result.
///     let connect = asyncio::open_connection("127.0.0.1", port);
///     let (_reader, writer) = asyncio::try_timeout(Duration::from_secs(5), connect).await?;
///     writer.close();
///     Ok::<_, asyncio::Error>(())
/// })?
/// # }
/// ```
///
/// # Errors
/// [`Error::Timeout`], or the error of `fut`.
///
/// # Cancel safety
/// As [`timeout`].
pub async fn try_timeout<F, T, E>(delay: Duration, fut: F) -> Result<T, Error>
where
    F: IntoFuture<Output = Result<T, E>>,
    E: Into<Error>,
{
    timeout(delay, fut).await?.map_err(Into::into)
}

/// [`timeout`] with an absolute deadline on the loop's clock (Python's `asyncio.timeout_at`).
///
/// # Errors
/// [`Error::Timeout`] when the deadline passes first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     let deadline = lp.time() + Duration::from_millis(1);
///     let slow = asyncio::sleep(Duration::from_secs(3600));
///     let r = asyncio::timeout_at(deadline, slow).await;
///     assert!(matches!(r, Err(asyncio::Error::Timeout)));
///     // A future that finishes in time gives its output.
///     assert_eq!(asyncio::timeout_at(lp.time() + Duration::from_secs(1), async { 7 }).await?, 7);
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn timeout_at<F: IntoFuture>(
    deadline: Instant,
    fut: F,
) -> impl Future<Output = Result<F::Output, Error>> {
    with_deadline(sleep_until(deadline), fut)
}

/// [`timeout`] and [`timeout_at`]: `fut` until `sleep` ends.
async fn with_deadline<F: IntoFuture>(mut sleep: Sleep, fut: F) -> Result<F::Output, Error> {
    {
        // A delay given outside a running loop counts from here, before `fut` runs.
        if let Some(lp) = current_loop() {
            sleep.anchor(&lp);
        }
        let mut fut = pin!(fut.into_future());
        let mut expiry = Expiry::Running;
        poll_fn(|cx| {
            if expiry == Expiry::Expired {
                return Poll::Ready(Err(Error::Timeout));
            }
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Ok(v));
            }
            // D4: a deadline already passed fails after that one poll of `fut`.
            match sleep.poll_deadline(cx) {
                Poll::Ready(()) => expiry.expire(cx),
                Poll::Pending => {
                    expiry = Expiry::Suspended;
                    Poll::Pending
                }
            }
        })
        .await
    }
}

/// Where [`timeout`] or [`timeout_at`] is between its first poll and its end: whether it has
/// given up control yet (a scope queues its alarm instead, see `ScopeTimer`). A deadline found
/// passed before it has (a zero or past deadline around a future that must wait) gives up
/// control for one iteration before it fails, as CPython's `timeout` delivers its cancellation
/// from a `call_soon`: failing at once would let a task that retries in a loop
/// (`timeout(Duration::ZERO, q.get())`, a `timeout_at` whose deadline has passed) spin without
/// ever letting the task it waits for run.
// Checklist: L27, L39.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    /// Polled, never pending yet.
    Running,
    /// Has returned `Pending` at least once.
    Suspended,
    /// The deadline passed before the first suspension; the wrapper yielded and fails at its
    /// next poll, without polling the inner future again (its output, ready by then, is
    /// dropped as CPython discards it under the delivered cancellation).
    Expired,
}

impl Expiry {
    /// The deadline has passed: fail at once if the wrapper gave up control already, else
    /// give it up once and fail at the next poll.
    fn expire<T>(&mut self, cx: &Context<'_>) -> Poll<Result<T, Error>> {
        if *self == Expiry::Suspended {
            return Poll::Ready(Err(Error::Timeout));
        }
        *self = Expiry::Expired;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// The deadline of a [`timeout_scope`], which the code inside may move (Python 3.11's
/// `asyncio.Timeout`, the `cm` of `async with asyncio.timeout(delay) as cm`). Clones share
/// one deadline.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let r = asyncio::timeout_scope(Duration::from_secs(60), |scope| async move {
///         // Each step done buys 5 ms more; the last one never finishes in time.
///         for _ in 0..3 {
///             scope.reschedule_after(Duration::from_millis(5))?;
///             asyncio::yield_now().await;
///         }
///         scope.reschedule_after(Duration::from_millis(5))?;
///         asyncio::sleep(Duration::from_secs(3600)).await;
///         Ok::<_, asyncio::Error>(())
///     })
///     .await;
///     assert!(matches!(r, Err(asyncio::Error::Timeout)));
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Timeout(std::rc::Rc<ScopeState>);

/// Where a [`timeout_scope`] is (Python's `_State`, less `CREATED`: a scope runs at once):
///
/// ```text
///   Active ──deadline passed──► Expiring ──scope ended──► Expired
///     └────body ended, or the scope was dropped──► Finished
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScopePhase {
    Active,
    /// The deadline passed; the scope has not ended yet (its task runs next).
    Expiring,
    Expired,
    Finished,
}

struct ScopeState {
    /// The deadline; `None`: none (Python's `reschedule(None)`).
    when: std::cell::Cell<Option<Instant>>,
    /// Changed only by [`ScopeState::end`].
    phase: std::cell::Cell<ScopePhase>,
    /// The scope's waker: the alarm wakes the scope's task with it, and so does a
    /// [`Timeout::reschedule`] that finds no loop to file the alarm with (the poll files it).
    waker: std::cell::RefCell<Option<std::task::Waker>>,
    /// The loop the scope began in (none: it began outside any), whose clock
    /// [`Timeout::reschedule_after`] reads even while that loop is not running (L11).
    lp: std::rc::Weak<LoopInner>,
    /// The alarm filed for `when` (CPython's `_timeout_handler`): filed by the scope's first
    /// poll, re-filed at once by [`Timeout::reschedule`], taken back when the scope ends.
    /// Borrowed only inside `ScopeTimer`'s calls, which run no user code.
    timer: std::cell::RefCell<ScopeTimer>,
}

impl ScopeState {
    /// The one way out of `Active` (to `Expiring` or `Finished`) and of `Expiring` (to
    /// `Expired`, as the scope ends); the waker goes, so a late `reschedule` wakes nobody.
    fn end(&self, to: ScopePhase) {
        let next = match (self.phase.get(), to) {
            (ScopePhase::Active, to) => to,
            (ScopePhase::Expiring, ScopePhase::Finished) => ScopePhase::Expired,
            (now, _) => now,
        };
        self.phase.set(next);
        let waker = self.waker.borrow_mut().take();
        drop(waker);
    }
}

impl Timeout {
    /// The deadline, on the loop's clock; `None` if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let deadline = lp.time() + Duration::from_secs(60);
    ///     asyncio::timeout_scope_at(Some(deadline), |scope| async move {
    ///         assert_eq!(scope.when(), Some(deadline));
    ///         scope.reschedule(None)?;
    ///         assert_eq!(scope.when(), None);
    ///         Ok::<_, asyncio::Error>(())
    ///     })
    ///     .await??;
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn when(&self) -> Option<Instant> {
        self.0.when.get()
    }

    /// Moves the deadline (Python's `Timeout.reschedule`): `None` removes it; one already
    /// passed ends the scope at the loop's next turn. The scope's timer is re-filed at once,
    /// as a newly scheduled one: of the callbacks due at the same deadline, those scheduled
    /// before this call run before the scope expires, those scheduled after it run after.
    ///
    /// # Errors
    /// [`Error::InvalidState`] once the deadline has passed or the scope has ended: `Cannot
    /// change state of expiring Timeout` (the deadline passed, the scope not ended yet), then
    /// `expired`, or `finished`, as CPython's `RuntimeError`.
    ///
    /// [`timeout_scope`] and [`timeout_scope_at`] show `None` and a deadline already due;
    /// [`reschedule_after`](Self::reschedule_after) has an idle timeout.
    ///
    /// # Examples
    ///
    /// A deadline brought forward to now expires the scope; moving it after that is refused:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    ///     let now = asyncio::get_running_loop()?.time();
    ///     let mut kept = None;
    ///     let r = asyncio::timeout_scope(Duration::from_secs(60), |scope| {
    ///         kept = Some(scope.clone());
    ///         async move {
    ///             scope.reschedule(Some(now))?; // not 60 s: due at once
    ///             std::future::pending::<asyncio::Result<()>>().await
    ///         }
    ///     })
    ///     .await;
    ///     assert!(matches!(r, Err(asyncio::Error::Timeout)));
    ///     let late = kept.unwrap().reschedule(None).unwrap_err();
    ///     assert_eq!(late.to_string(), "Cannot change state of expired Timeout");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reschedule(&self, when: Option<Instant>) -> Result<(), Error> {
        match self.0.phase.get() {
            ScopePhase::Active => {}
            ScopePhase::Expiring => {
                return Err(Error::invalid_state(
                    "Cannot change state of expiring Timeout",
                ))
            }
            ScopePhase::Expired => {
                return Err(Error::invalid_state(
                    "Cannot change state of expired Timeout",
                ))
            }
            ScopePhase::Finished => {
                return Err(Error::invalid_state(
                    "Cannot change state of finished Timeout",
                ))
            }
        }
        self.0.when.set(when);
        let lp = self.0.lp.upgrade().map(|inner| LoopHandle { inner });
        let refiled = match lp.or_else(current_loop) {
            Some(lp) if !lp.is_closed() => {
                let old = self.0.timer.borrow_mut().refile(&lp, when, &self.0);
                drop(old); // after the borrow
                true
            }
            _ => false,
        };
        if !refiled {
            // No loop to file it with: the scope's next poll files it.
            let waker = self.0.waker.borrow_mut().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
        Ok(())
    }

    /// Moves the deadline to `delay` from now on the clock of the loop the scope runs in (also
    /// when called while that loop is not running); `Duration::MAX` saturates, as in
    /// [`sleep`].
    ///
    /// # Errors
    /// As [`reschedule`](Self::reschedule).
    ///
    /// # Examples
    ///
    /// An idle timeout: at most 10 s of silence between lines, however long the whole
    /// exchange takes.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    /// #   let (a, b) = asyncio::socketpair()?;
    /// #   let (reader, _writer) = asyncio::open_connection_sock(a).await?;
    /// #   let (_, peer) = asyncio::open_connection_sock(b).await?;
    ///     // `reader` is one end of a connection; the peer sends two lines, then EOF.
    ///     peer.write(b"one\ntwo\n")?;
    ///     peer.close();
    ///     let idle = Duration::from_secs(10);
    ///     let lines = asyncio::timeout_scope(idle, |scope| async move {
    ///         let mut n = 0;
    ///         while !reader.readline().await?.is_empty() {
    ///             n += 1;
    ///             scope.reschedule_after(idle)?; // a line came: 10 s more from now
    ///         }
    ///         Ok::<_, asyncio::Error>(n)
    ///     })
    ///     .await??;
    ///     assert_eq!(lines, 2);
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn reschedule_after(&self, delay: Duration) -> Result<(), Error> {
        let now = match self.0.lp.upgrade() {
            Some(lp) => lp.clock.now(),
            None => current_loop().map_or_else(Instant::now, |lp| lp.time()),
        };
        self.reschedule(Some(deadline_after(now, delay)))
    }

    /// Whether the deadline passed while the scope ran (Python's `Timeout.expired()`): true
    /// from the turn it passed on, both before the scope has ended and after.
    ///
    /// # Examples
    ///
    /// Keep a clone of the scope to ask it afterwards (Python's `if cm.expired():` after the
    /// `async with` block): here the body's own timeout, not the scope's, ends it.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// asyncio::run(async {
    ///     let mut outer = None;
    ///     let r = asyncio::timeout_scope(Duration::from_secs(60), |scope| {
    ///         outer = Some(scope.clone());
    ///         async move {
    ///             let inner = Duration::from_millis(1);
    ///             asyncio::timeout(inner, asyncio::sleep(Duration::from_secs(60))).await
    ///         }
    ///     })
    ///     .await;
    ///     assert!(matches!(r, Ok(Err(asyncio::Error::Timeout))), "{r:?}");
    ///     assert!(!outer.unwrap().expired(), "the 60 s scope did not expire");
    /// })
    /// .unwrap();
    /// ```
    pub fn expired(&self) -> bool {
        matches!(
            self.0.phase.get(),
            ScopePhase::Expiring | ScopePhase::Expired
        )
    }
}

impl std::fmt::Debug for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timeout")
            .field("when", &self.when())
            .field("phase", &self.0.phase.get())
            .finish()
    }
}

/// Python's `Timeout._timeout_handler`: the scope's timer, a callback run in its turn of the
/// ready queue. The scope expires there, as CPython's `_on_timeout` cancels the task there:
/// callbacks due after it see `expired()` and can no longer `reschedule`. Waking the scope's
/// task instead (a sleep) would expire it only at the task's next step, one iteration later.
struct ScopeAlarm {
    scope: std::rc::Weak<ScopeState>,
    /// The deadline it is filed for: a scope whose deadline moved later since (by a callback
    /// that ran first, before the scope's task could re-arm it) does not expire.
    at: std::cell::Cell<Instant>,
    /// `cancelled` is set when the scope takes it back (its deadline moved, the scope ended):
    /// a run already queued is then skipped, as a cancelled handle's.
    state: CallbackState,
}

impl ScopeAlarm {
    /// A fresh alarm for `scope`, filed for `when`.
    fn new(scope: &Rc<ScopeState>, when: Instant) -> Rc<ScopeAlarm> {
        Rc::new(ScopeAlarm {
            scope: Rc::downgrade(scope),
            at: std::cell::Cell::new(when),
            state: CallbackState::new("Timeout._on_timeout"),
        })
    }
}

impl Callback for ScopeAlarm {
    /// A cancel leaves nothing to drop: the alarm holds its scope weakly.
    fn take(&self, run: bool) -> Option<Box<dyn std::error::Error>> {
        if !run {
            return None;
        }
        let scope = self.scope.upgrade()?;
        let due = scope.when.get().is_some_and(|when| when <= self.at.get());
        if due && scope.phase.get() == ScopePhase::Active {
            let waker = scope.waker.borrow_mut().take();
            scope.end(ScopePhase::Expiring);
            if let Some(w) = waker {
                w.wake(); // after the borrow: a waker is user code
            }
        }
        None
    }

    fn state(&self) -> &CallbackState {
        &self.state
    }
}

/// A scope's alarm in the timer wheel of the loop that polls it (key `Some`), or queued with
/// `call_soon` for a deadline already passed (key `None`): re-armed in place while it waits
/// in the wheel, cancelled when the deadline moves after it left the wheel or the scope ends.
#[derive(Default)]
struct ScopeTimer(Option<(LoopHandle, Option<TimerKey>, Rc<ScopeAlarm>)>);

/// What a `ScopeTimer` call took out, to be dropped once the scope's `RefCell` is released.
type Unfiled = Option<(LoopHandle, Option<TimerKey>, Rc<ScopeAlarm>)>;

impl ScopeTimer {
    /// Whether the alarm is filed for `when` on `lp`: in its wheel, or queued to run (and
    /// then expire the scope, as it runs only once its deadline has passed).
    fn filed(&self, lp: &LoopHandle, when: Instant) -> bool {
        self.0.as_ref().is_some_and(|(armed, _, alarm)| {
            alarm.at.get() == when && Rc::ptr_eq(&armed.inner, &lp.inner) && !lp.is_closed()
        })
    }

    /// Whether the alarm was queued to run at the next turn (its deadline had passed when
    /// it was filed) rather than put in the wheel.
    fn queued(&self) -> bool {
        matches!(self.0, Some((_, None, _)))
    }

    /// Files `scope`'s alarm for `when` on `lp` unless it is filed so already: in the wheel,
    /// or queued if `when` has passed.
    #[must_use]
    fn arm(&mut self, lp: &LoopHandle, when: Instant, scope: &Rc<ScopeState>) -> Unfiled {
        if self.filed(lp, when) {
            return None;
        }
        self.refile(lp, Some(when), scope)
    }

    /// Files `scope`'s alarm for `when` on `lp` as newly scheduled, in place if it is still
    /// in that loop's wheel.
    #[must_use]
    fn file(&mut self, lp: &LoopHandle, when: Instant, scope: &Rc<ScopeState>) -> Unfiled {
        if let Some((armed, Some(key), alarm)) = &self.0 {
            let same_loop = Rc::ptr_eq(&armed.inner, &lp.inner) && !lp.is_closed();
            if same_loop && lp.inner.reset_timer(*key, when) {
                alarm.at.set(when);
                return None;
            }
        }
        let old = self.disarm();
        let alarm = ScopeAlarm::new(scope, when);
        let key = lp
            .inner
            .insert_timer(when, TimerEntry::Callback(alarm.clone()));
        self.0 = Some((lp.clone(), Some(key), alarm));
        old
    }

    /// [`Timeout::reschedule`]: CPython cancels the handle and makes a new one at once, with
    /// `call_at` for a future deadline and `call_soon` for one already passed.
    #[must_use]
    fn refile(
        &mut self,
        lp: &LoopHandle,
        when: Option<Instant>,
        scope: &Rc<ScopeState>,
    ) -> Unfiled {
        match when {
            None => self.disarm(),
            Some(when) if lp.time() < when => self.file(lp, when, scope),
            Some(when) => {
                let old = self.disarm();
                let alarm = ScopeAlarm::new(scope, when);
                if lp.push_callback(alarm.clone()).is_ok() {
                    self.0 = Some((lp.clone(), None, alarm));
                }
                old
            }
        }
    }

    /// Takes the alarm back (a queued run is skipped); returns it to drop outside the borrow.
    #[must_use]
    fn disarm(&mut self) -> Unfiled {
        let old = self.0.take();
        if let Some((lp, key, alarm)) = &old {
            alarm.state.cancelled.set(true); // a queued run is skipped
            if let Some(key) = key {
                lp.inner.remove_timer(*key);
            }
        }
        old
    }
}

/// Ends the scope as `Finished` however its future goes (output, expiry, or a drop), and takes
/// its alarm back.
struct EndOnDrop(std::rc::Rc<ScopeState>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        let old = self.0.timer.borrow_mut().disarm();
        drop(old);
        self.0.end(ScopePhase::Finished);
    }
}

/// Runs the future `body` makes, with a deadline `delay` from now that the body (or anyone
/// holding the [`Timeout`]) may move or remove (Python 3.11's `async with asyncio.timeout(delay)
/// as cm:` and `cm.reschedule(...)`). As [`timeout`]: the body is polled before the deadline is
/// checked, and on expiry it is dropped and the result is [`Error::Timeout`].
/// `Duration::MAX` saturates, as in [`sleep`]; for no deadline at all, see
/// [`timeout_scope_at`]. Made outside a running loop, the delay counts from the first poll, as
/// in [`sleep`].
///
/// # Errors
/// [`Error::Timeout`] when the deadline passes first.
///
/// # Cancel safety
/// Dropping the returned future drops the body with it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let out = asyncio::timeout_scope(Duration::from_millis(1), |scope| async move {
///         scope.reschedule(None)?; // no deadline after all
///         asyncio::sleep(Duration::from_millis(5)).await;
///         Ok::<_, asyncio::Error>("finished")
///     })
///     .await;
///     assert_eq!(out??, "finished");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: L36, L39, D4.
pub fn timeout_scope<B, Fut>(
    delay: Duration,
    body: B,
) -> impl Future<Output = Result<Fut::Output, Error>>
where
    B: FnOnce(Timeout) -> Fut,
    Fut: Future,
{
    run_scope(Some(sleep(delay)), body)
}

/// [`timeout_scope`] with an absolute deadline on the loop's clock, or none (Python's
/// `asyncio.timeout_at(when)`; `asyncio.timeout(None)` is `timeout_scope_at(None, ..)`).
///
/// # Errors
/// [`Error::Timeout`] when the deadline passes first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop()?;
///     let r = asyncio::timeout_scope_at(None, |scope| async move {
///         assert_eq!(scope.when(), None);
///         scope.reschedule(Some(lp.time()))?; // due now: the scope ends at its next turn
///         asyncio::sleep(Duration::from_secs(3600)).await;
///         Ok::<_, asyncio::Error>(())
///     })
///     .await;
///     assert!(matches!(r, Err(asyncio::Error::Timeout)));
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn timeout_scope_at<B, Fut>(
    when: Option<Instant>,
    body: B,
) -> impl Future<Output = Result<Fut::Output, Error>>
where
    B: FnOnce(Timeout) -> Fut,
    Fut: Future,
{
    run_scope(when.map(sleep_until), body)
}

/// [`timeout_scope`] and [`timeout_scope_at`]: the scope, its deadline `sleep`'s (none if
/// `None`).
async fn run_scope<B, Fut>(mut sleep: Option<Sleep>, body: B) -> Result<Fut::Output, Error>
where
    B: FnOnce(Timeout) -> Fut,
    Fut: Future,
{
    let lp = current_loop();
    // A delay given outside a running loop counts from here, before the body runs.
    if let (Some(s), Some(lp)) = (&mut sleep, &lp) {
        s.anchor(lp);
    }
    let state = std::rc::Rc::new(ScopeState {
        when: std::cell::Cell::new(sleep.as_ref().map(Sleep::deadline)),
        phase: std::cell::Cell::new(ScopePhase::Active),
        waker: std::cell::RefCell::new(None),
        lp: lp.map_or_else(std::rc::Weak::new, |lp| std::rc::Rc::downgrade(&lp.inner)),
        timer: std::cell::RefCell::new(ScopeTimer::default()),
    });
    let _end = EndOnDrop(state.clone());
    let mut fut = pin!(body(Timeout(state.clone())));
    let filed = |lp: &LoopHandle, when| state.timer.borrow().filed(lp, when);
    // What they take out is dropped after the borrow (a `let` ends the `RefMut` at its `;`).
    let arm = |lp: &LoopHandle, when| {
        let old = state.timer.borrow_mut().arm(lp, when, &state);
        drop(old);
    };
    let disarm = || {
        let old = state.timer.borrow_mut().disarm();
        drop(old);
    };
    poll_fn(|cx| {
        // The alarm was queued for a deadline already passed and has run since the body last
        // waited: CPython's queued `_on_timeout` cancels the task before its next step, so
        // the body is not polled again (`timeout(0)` around `sleep(0)` fails).
        if state.phase.get() == ScopePhase::Expiring && state.timer.borrow().queued() {
            return Poll::Ready(Err(Error::Timeout));
        }
        // Filed before the body runs, as CPython files its handle on entering the scope: a
        // callback the body schedules for the same deadline runs after the alarm. A deadline
        // already passed queues the alarm (CPython's `call_soon`): until it runs the scope is
        // active, so a `reschedule` queued before it (another task, a callback) rescues it.
        if let (Some(when), Some(lp)) = (state.when.get(), current_loop()) {
            if state.phase.get() == ScopePhase::Active && !filed(&lp, when) {
                arm(&lp, when);
            }
        }
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        // The alarm ran (`ScopeAlarm`), and the body, polled first (D4), has not ended.
        if state.phase.get() == ScopePhase::Expiring {
            return Poll::Ready(Err(Error::Timeout));
        }
        let lp = current_loop().expect(
            "asyncio::timeout_scope polled outside a running event loop (await it in code \
             that asyncio::run runs; another runtime's executor cannot drive it)",
        );
        match state.when.get() {
            None => disarm(),
            // The alarm will expire the scope in its turn (no clock read on this path); D4: a
            // deadline already passed has let the body run once and fails when it runs.
            Some(when) if filed(&lp, when) => {}
            Some(when) => arm(&lp, when),
        }
        if !state
            .waker
            .borrow()
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            // Cloned and the old one dropped outside the borrow: both may run user code.
            let new = cx.waker().clone();
            let old = state.waker.borrow_mut().replace(new);
            drop(old);
        }
        Poll::Pending
    })
    .await
}
