//! `Lock`, `Event`, `Condition`, `Semaphore` and `BoundedSemaphore`: CPython's
//! `Lib/asyncio/locks.py`, for tasks of one loop.
//!
//! The semantics are CPython's, waiter for waiter:
//!
//! - waiters are served first come, first served; a task that arrives while a woken waiter has
//!   not run yet queues behind it (no barging);
//! - cancelling is dropping the waiting future; a future dropped after it was woken hands its
//!   wakeup to the next waiter, so no wakeup is lost (CPython's `except CancelledError` paths);
//!   a waiter whose task's cancellation is pending is passed over (CPython's cancelled future
//!   is done at once), and does not make `locked()` true;
//! - an uncontended acquire or release allocates nothing; only a task that has to wait takes a
//!   slot in the waiter list.
//!
//! Every type is `!Send`: share one between tasks with `Rc`. The Rust idiom for `async with
//! lock:` is a guard: [`Lock::lock`] gives a [`LockGuard`] that releases on drop. The
//! Python-style pair [`Lock::acquire`] / [`Lock::release`] is there too, for code ported line
//! for line; do not mix the two on one acquisition (a guard releases whatever holds the lock).

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::waiters::{WaitStep, Waiters};
use crate::error::Error;

// ---- Lock ------------------------------------------------------------------------------------

/// A mutual-exclusion lock for tasks (CPython `asyncio.Lock`).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use asyncio::Lock;
///
/// asyncio::run(async {
///     let lock = Rc::new(Lock::new());
///     let l2 = lock.clone();
///     let guard = lock.lock().await;
///     let other = asyncio::spawn(async move {
///         let _g = l2.lock().await; // waits for `guard`
///         "got it"
///     });
///     asyncio::yield_now().await;
///     assert!(!other.is_done());
///     drop(guard);
///     assert_eq!(other.await.unwrap(), "got it");
/// })
/// .unwrap();
/// ```
#[derive(Default)]
pub struct Lock {
    locked: Cell<bool>,
    waiters: Waiters,
}

impl Lock {
    /// An unlocked lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!asyncio::Lock::new().locked());
    /// ```
    pub fn new() -> Lock {
        Lock::default()
    }

    /// Whether the lock is held (CPython `locked()`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let lock = asyncio::Lock::new();
    ///     let g = lock.lock().await;
    ///     assert!(lock.locked());
    ///     drop(g);
    ///     assert!(!lock.locked());
    /// })
    /// .unwrap();
    /// ```
    pub fn locked(&self) -> bool {
        self.locked.get()
    }

    /// Waits for the lock and returns a guard that releases it on drop (`async with lock:`).
    ///
    /// Cancel safe: dropping the future before it is ready leaves the lock as it was, and a
    /// wakeup it had received passes to the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let lock = asyncio::Lock::new();
    ///     {
    ///         let _guard = lock.lock().await;
    ///         assert!(lock.locked());
    ///     }
    ///     assert!(!lock.locked());
    /// })
    /// .unwrap();
    /// ```
    pub fn lock(&self) -> LockFuture<'_> {
        LockFuture(self.acquire())
    }

    /// Waits for the lock and keeps it until [`release`](Lock::release) (CPython
    /// `await lock.acquire()`). Cancel safe, as [`lock`](Lock::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let lock = asyncio::Lock::new();
    ///     lock.acquire().await;
    ///     assert!(lock.locked());
    ///     lock.release().unwrap();
    /// })
    /// .unwrap();
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            lock: self,
            step: WaitStep::Start,
        }
    }

    /// Releases the lock and wakes the first waiter (CPython `release()`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] `Lock is not acquired.` when the lock is not held.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = asyncio::Lock::new();
    /// let err = lock.release().unwrap_err();
    /// assert_eq!(err.to_string(), "Lock is not acquired.");
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        if !self.locked.get() {
            return Err(Error::invalid_state("Lock is not acquired."));
        }
        self.locked.set(false);
        self.waiters.notify_first();
        Ok(())
    }
}

impl std::fmt::Debug for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked.get())
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

/// The future of [`Lock::acquire`]; ready when the caller holds the lock.
///
/// It takes the lock once: polled again after it was ready (outside the `Future` contract),
/// it stays pending for ever and touches neither the lock nor its waiters, as a fused future
/// does. Giving the lock a second time would let two holders in.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let lock = asyncio::Lock::new();
///     let acquire: asyncio::sync::Acquire<'_> = lock.acquire();
///     acquire.await;
///     assert!(lock.locked());
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    lock: &'a Lock,
    /// Our slot in the waiter list while we wait (`Waiting`); `Done` once it gave the lock.
    step: WaitStep,
}

impl Future for Acquire<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let lock = this.lock;
        match this.step {
            WaitStep::Start => {
                // Free and nobody queued (dropped waiters have left the list already, and
                // those whose task's cancellation is pending do not count, as CPython's
                // `all(w.cancelled() ...)`).
                if !lock.locked.get() && !lock.waiters.has_live() {
                    lock.locked.set(true);
                    this.step = WaitStep::Done;
                    return Poll::Ready(());
                }
                this.step = WaitStep::Waiting(lock.waiters.push(cx.waker()));
                Poll::Pending
            }
            WaitStep::Waiting(key) => {
                if !lock.waiters.poll(key, cx.waker()) {
                    // Free while we wait: a release left the first waiter alone, its task
                    // being cancelled, for its drop to pass the wake-up on. A waiter that
                    // outlived that task (moved into this one) is never dropped there, so
                    // the wake-up goes out now, to whoever is first (us, by our new waker).
                    if !lock.locked.get() {
                        lock.waiters.notify_first();
                    }
                    return Poll::Pending;
                }
                lock.waiters.remove(key);
                this.step = WaitStep::Done;
                lock.locked.set(true);
                Poll::Ready(())
            }
            // Polled after it gave the lock: see the type's docs.
            WaitStep::Done => Poll::Pending,
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let WaitStep::Waiting(key) = self.step {
            self.step = WaitStep::Done;
            self.lock.waiters.remove(key);
            // Cancelled: if the lock is free, the wakeup we may have had goes to the next one.
            if !self.lock.locked.get() {
                self.lock.waiters.notify_first();
            }
        }
    }
}

/// The future of [`Lock::lock`]; gives a [`LockGuard`].
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let lock = asyncio::Lock::new();
///     let fut: asyncio::sync::LockFuture<'_> = lock.lock();
///     let _guard = fut.await;
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct LockFuture<'a>(Acquire<'a>);

impl<'a> Future for LockFuture<'a> {
    type Output = LockGuard<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a>> {
        let lock = self.0.lock;
        Pin::new(&mut self.0).poll(cx).map(|()| LockGuard { lock })
    }
}

/// Holds a [`Lock`]; releases it on drop.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let lock = asyncio::Lock::new();
///     let guard: asyncio::sync::LockGuard<'_> = lock.lock().await;
///     drop(guard);
///     assert!(!lock.locked());
/// })
/// .unwrap();
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Fails only if someone called `release()` under the guard: nothing left to release.
        let _ = self.lock.release();
    }
}

impl std::fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

// ---- Event -----------------------------------------------------------------------------------

/// A flag tasks can wait for (CPython `asyncio.Event`).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// asyncio::run(async {
///     let ev = Rc::new(asyncio::Event::new());
///     let e2 = ev.clone();
///     let waiter = asyncio::spawn(async move { e2.wait().await });
///     asyncio::yield_now().await;
///     ev.set();
///     waiter.await.unwrap();
///     assert!(ev.is_set());
/// })
/// .unwrap();
/// ```
#[derive(Default)]
pub struct Event {
    value: Cell<bool>,
    waiters: Waiters,
}

impl Event {
    /// A cleared event.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!asyncio::Event::new().is_set());
    /// ```
    pub fn new() -> Event {
        Event::default()
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = asyncio::Event::new();
    /// ev.set();
    /// assert!(ev.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.value.get()
    }

    /// Sets the flag and wakes every waiter; waiters woken return even if the flag is cleared
    /// again before they run.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = asyncio::Event::new();
    /// ev.set();
    /// ev.set(); // no effect the second time
    /// assert!(ev.is_set());
    /// ```
    pub fn set(&self) {
        if !self.value.get() {
            self.value.set(true);
            self.waiters.notify_all();
        }
    }

    /// Clears the flag.
    ///
    /// # Examples
    ///
    /// ```
    /// let ev = asyncio::Event::new();
    /// ev.set();
    /// ev.clear();
    /// assert!(!ev.is_set());
    /// ```
    pub fn clear(&self) {
        self.value.set(false);
    }

    /// Waits until the flag is set; ready at once if it is. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let ev = asyncio::Event::new();
    ///     ev.set();
    ///     ev.wait().await;
    /// })
    /// .unwrap();
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            step: WaitStep::Start,
        }
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.value.get())
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

/// The future of [`Event::wait`].
///
/// It sees the flag set once: polled again after it was ready (outside the `Future`
/// contract), it is ready again at once and touches neither the flag nor the waiters, even if
/// the event was cleared since, as a done Python future awaited again gives its result again
/// (and as [`Put`](crate::sync::Put) does).
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let ev = asyncio::Event::new();
///     ev.set();
///     let w: asyncio::sync::EventWait<'_> = ev.wait();
///     w.await;
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    /// Our slot in the waiter list while we wait (`Waiting`); `Done` once it was ready.
    step: WaitStep,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let event = this.event;
        match this.step {
            WaitStep::Start => {
                if event.value.get() {
                    this.step = WaitStep::Done;
                    return Poll::Ready(());
                }
                this.step = WaitStep::Waiting(event.waiters.push(cx.waker()));
                Poll::Pending
            }
            WaitStep::Waiting(key) => {
                if !event.waiters.poll(key, cx.waker()) {
                    return Poll::Pending;
                }
                event.waiters.remove(key);
                this.step = WaitStep::Done;
                Poll::Ready(())
            }
            // Polled after it was ready: see the type's docs.
            WaitStep::Done => Poll::Ready(()),
        }
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let WaitStep::Waiting(key) = self.step {
            self.step = WaitStep::Done;
            self.event.waiters.remove(key);
        }
    }
}

// ---- Condition -------------------------------------------------------------------------------

/// A condition variable with its own lock (CPython `asyncio.Condition`).
///
/// Take the lock with [`Condition::lock`]; the [`ConditionGuard`] it gives can
/// [`wait`](ConditionGuard::wait) (releasing the lock while it waits, holding it again when it
/// returns) and [`notify`](ConditionGuard::notify). Holding the guard is holding the lock, so
/// the guard's methods cannot fail the way CPython's do on an un-acquired lock.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// asyncio::run(async {
///     let cond = Rc::new(asyncio::Condition::new());
///     let ready = Rc::new(Cell::new(false));
///     let (c2, r2) = (cond.clone(), ready.clone());
///     let consumer = asyncio::spawn(async move {
///         let guard = c2.lock().await;
///         let _guard = guard.wait_for(|| r2.get()).await;
///         "saw it"
///     });
///     asyncio::yield_now().await;
///     let guard = cond.lock().await;
///     ready.set(true);
///     guard.notify_all();
///     drop(guard);
///     assert_eq!(consumer.await.unwrap(), "saw it");
/// })
/// .unwrap();
/// ```
#[derive(Default)]
pub struct Condition {
    lock: Lock,
    waiters: Waiters,
}

impl Condition {
    /// A condition with a fresh, unlocked lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!asyncio::Condition::new().locked());
    /// ```
    pub fn new() -> Condition {
        Condition::default()
    }

    /// Whether the condition's lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let cond = asyncio::Condition::new();
    ///     let _g = cond.lock().await;
    ///     assert!(cond.locked());
    /// })
    /// .unwrap();
    /// ```
    pub fn locked(&self) -> bool {
        self.lock.locked()
    }

    /// Waits for the lock (`async with cond:`); cancel safe, as [`Lock::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let cond = asyncio::Condition::new();
    ///     let guard = cond.lock().await;
    ///     guard.notify(1); // nobody waits: nothing happens
    /// })
    /// .unwrap();
    /// ```
    pub fn lock(&self) -> ConditionLock<'_> {
        ConditionLock {
            cond: self,
            acquire: self.lock.acquire(),
        }
    }

    /// Wakes up to `n` waiters, like [`ConditionGuard::notify`], for code that holds the lock
    /// through [`Lock`]-style calls rather than a guard.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] `cannot notify on un-acquired lock` when the lock is not held.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = asyncio::Condition::new();
    /// let err = cond.notify(1).unwrap_err();
    /// assert_eq!(err.to_string(), "cannot notify on un-acquired lock");
    /// ```
    pub fn notify(&self, n: usize) -> Result<(), Error> {
        if !self.lock.locked() {
            return Err(Error::invalid_state("cannot notify on un-acquired lock"));
        }
        self.notify_n(n);
        Ok(())
    }

    /// Wakes every waiter; the lock must be held, as for [`notify`](Condition::notify).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidState`] `cannot notify on un-acquired lock` when the lock is not held.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = asyncio::Condition::new();
    /// assert!(cond.notify_all().is_err());
    /// ```
    pub fn notify_all(&self) -> Result<(), Error> {
        self.notify(usize::MAX)
    }

    fn notify_n(&self, n: usize) {
        for _ in 0..n {
            if !self.waiters.notify_pop() {
                break;
            }
        }
    }
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("locked", &self.lock.locked())
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

/// The future of [`Condition::lock`].
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let cond = asyncio::Condition::new();
///     let fut: asyncio::sync::ConditionLock<'_> = cond.lock();
///     let _guard = fut.await;
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionLock<'a> {
    cond: &'a Condition,
    acquire: Acquire<'a>,
}

impl<'a> Future for ConditionLock<'a> {
    type Output = ConditionGuard<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ConditionGuard<'a>> {
        let cond = self.cond;
        Pin::new(&mut self.acquire)
            .poll(cx)
            .map(|()| ConditionGuard { cond })
    }
}

/// Holds a [`Condition`]'s lock; releases it on drop.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let cond = asyncio::Condition::new();
///     let guard: asyncio::sync::ConditionGuard<'_> = cond.lock().await;
///     drop(guard);
///     assert!(!cond.locked());
/// })
/// .unwrap();
/// ```
#[must_use = "the lock is released when the guard is dropped"]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
}

impl<'a> ConditionGuard<'a> {
    /// Releases the lock, waits to be notified, takes the lock again and gives the guard back
    /// (CPython `await cond.wait()`).
    ///
    /// Cancel safe: dropping the future gives up the lock (it is not held after the drop, as
    /// the guard went into the future), and a notification it had received passes to another
    /// waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// asyncio::run(async {
    ///     let cond = Rc::new(asyncio::Condition::new());
    ///     let c2 = cond.clone();
    ///     let waiter = asyncio::spawn(async move {
    ///         let guard = c2.lock().await;
    ///         let guard = guard.wait().await;
    ///         assert!(c2.locked());
    ///         drop(guard);
    ///     });
    ///     asyncio::yield_now().await;
    ///     cond.lock().await.notify(1);
    ///     waiter.await.unwrap();
    /// })
    /// .unwrap();
    /// ```
    pub fn wait(self) -> ConditionWait<'a> {
        let cond = self.cond;
        // The lock now belongs to the wait future, which releases it on its first poll.
        std::mem::forget(self);
        ConditionWait {
            cond,
            state: WaitState::Start,
        }
    }

    /// Waits until `predicate` returns true, checking it first and after each wakeup
    /// (CPython `await cond.wait_for(predicate)`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let cond = asyncio::Condition::new();
    ///     let guard = cond.lock().await;
    ///     let _guard = guard.wait_for(|| true).await; // true already: no wait
    /// })
    /// .unwrap();
    /// ```
    pub async fn wait_for<F: FnMut() -> bool>(self, mut predicate: F) -> ConditionGuard<'a> {
        let mut guard = self;
        while !predicate() {
            guard = guard.wait().await;
        }
        guard
    }

    /// Wakes up to `n` waiters, first come first served (CPython `notify(n)`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let cond = asyncio::Condition::new();
    ///     cond.lock().await.notify(2);
    /// })
    /// .unwrap();
    /// ```
    pub fn notify(&self, n: usize) {
        self.cond.notify_n(n);
    }

    /// Wakes every waiter (CPython `notify_all()`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let cond = asyncio::Condition::new();
    ///     cond.lock().await.notify_all();
    /// })
    /// .unwrap();
    /// ```
    pub fn notify_all(&self) {
        self.cond.notify_n(usize::MAX);
    }
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        let _ = self.cond.lock.release();
    }
}

impl std::fmt::Debug for ConditionGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConditionGuard").finish_non_exhaustive()
    }
}

enum WaitState<'a> {
    /// Not polled yet: we hold the lock.
    Start,
    /// Lock released, queued as waiter `key`.
    Waiting(usize),
    /// Notified; taking the lock back.
    Reacquire(Acquire<'a>),
    /// The guard went back to the caller.
    Done,
}

/// The future of [`ConditionGuard::wait`].
///
/// It gives the guard back once: polled again after it was ready (outside the `Future`
/// contract), it stays pending for ever and touches neither the condition nor its lock, as a
/// fused future does.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let cond = asyncio::Condition::new();
///     let guard = cond.lock().await;
///     let wait: asyncio::sync::ConditionWait<'_> = guard.wait();
///     drop(wait); // cancelled before it started: the lock is released
///     assert!(!cond.locked());
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct ConditionWait<'a> {
    cond: &'a Condition,
    state: WaitState<'a>,
}

impl<'a> Future for ConditionWait<'a> {
    type Output = ConditionGuard<'a>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ConditionGuard<'a>> {
        let this = self.get_mut();
        let cond = this.cond;
        loop {
            match &mut this.state {
                WaitState::Start => {
                    // We hold the lock (the guard came in with us).
                    let _ = cond.lock.release();
                    this.state = WaitState::Waiting(cond.waiters.push(cx.waker()));
                    return Poll::Pending;
                }
                WaitState::Waiting(key) => {
                    if !cond.waiters.poll(*key, cx.waker()) {
                        return Poll::Pending;
                    }
                    if !cond.waiters.remove(*key) {
                        // Passed over while our first task was being cancelled, and polled
                        // again since in another: not notified, so we wait again, at the back.
                        *key = cond.waiters.push(cx.waker());
                        return Poll::Pending;
                    }
                    this.state = WaitState::Reacquire(cond.lock.acquire());
                }
                WaitState::Reacquire(acquire) => {
                    if Pin::new(acquire).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.state = WaitState::Done;
                    return Poll::Ready(ConditionGuard { cond });
                }
                // Polled after it gave the guard back: see the type's docs.
                WaitState::Done => return Poll::Pending,
            }
        }
    }
}

impl Drop for ConditionWait<'_> {
    fn drop(&mut self) {
        let cond = self.cond;
        match std::mem::replace(&mut self.state, WaitState::Done) {
            // Never started: release the lock the guard held.
            WaitState::Start => {
                let _ = cond.lock.release();
            }
            WaitState::Waiting(key) => {
                if cond.waiters.remove(key) {
                    // Notified but cancelled: notify someone else instead.
                    cond.notify_n(1);
                }
            }
            WaitState::Reacquire(acquire) => {
                // Dropping the acquire passes on a lock wakeup; the notification passes too.
                drop(acquire);
                cond.notify_n(1);
            }
            WaitState::Done => {}
        }
    }
}

// ---- Semaphore -------------------------------------------------------------------------------

/// The counter and waiters shared by [`Semaphore`] and [`BoundedSemaphore`].
#[derive(Default)]
struct SemCore {
    value: Cell<usize>,
    waiters: Waiters,
}

impl SemCore {
    fn new(value: usize) -> SemCore {
        SemCore {
            value: Cell::new(value),
            waiters: Waiters::default(),
        }
    }

    fn locked(&self) -> bool {
        self.value.get() == 0 || self.waiters.has_live()
    }

    fn release(&self) {
        self.value.set(self.value.get().saturating_add(1));
        self.wake_up_next();
    }

    /// Hands one unit of the counter to the first waiter not yet woken.
    fn wake_up_next(&self) {
        if self.value.get() > 0 && self.waiters.notify_next_unnotified() {
            self.value.set(self.value.get() - 1);
        }
    }
}

/// A semaphore for tasks (CPython `asyncio.Semaphore`): a counter that
/// [`acquire`](Semaphore::acquire) takes one from, waiting at zero, and
/// [`release`](Semaphore::release) gives one back to.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let sem = asyncio::Semaphore::new(2);
///     let a = sem.permit().await;
///     let _b = sem.permit().await;
///     assert!(sem.locked());
///     drop(a);
///     assert!(!sem.locked());
/// })
/// .unwrap();
/// ```
pub struct Semaphore {
    core: SemCore,
}

impl Semaphore {
    /// A semaphore whose counter starts at `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(asyncio::Semaphore::new(0).locked());
    /// ```
    pub fn new(value: usize) -> Semaphore {
        Semaphore {
            core: SemCore::new(value),
        }
    }

    /// Whether an acquire would wait: the counter is zero or tasks are queued.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!asyncio::Semaphore::new(1).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.core.locked()
    }

    /// The counter's current value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncio::Semaphore::new(3).value(), 3);
    /// ```
    pub fn value(&self) -> usize {
        self.core.value.get()
    }

    /// Waits for a unit and takes it until [`release`](Semaphore::release). Cancel safe: a
    /// unit handed to a dropped future goes to the next waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let sem = asyncio::Semaphore::new(1);
    ///     sem.acquire().await;
    ///     assert_eq!(sem.value(), 0);
    ///     sem.release();
    /// })
    /// .unwrap();
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire<'_> {
        SemaphoreAcquire {
            core: &self.core,
            step: WaitStep::Start,
        }
    }

    /// Waits for a unit and returns a permit that gives it back on drop (`async with sem:`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let sem = asyncio::Semaphore::new(1);
    ///     let permit = sem.permit().await;
    ///     drop(permit);
    ///     assert_eq!(sem.value(), 1);
    /// })
    /// .unwrap();
    /// ```
    pub async fn permit(&self) -> SemaphorePermit<'_> {
        self.acquire().await;
        SemaphorePermit {
            core: &self.core,
            bound: None,
        }
    }

    /// Gives a unit back and wakes the first waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = asyncio::Semaphore::new(0);
    /// sem.release();
    /// assert_eq!(sem.value(), 1);
    /// ```
    pub fn release(&self) {
        self.core.release();
    }
}

impl std::fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.core.value.get())
            .field("waiters", &self.core.waiters.len())
            .finish()
    }
}

/// A [`Semaphore`] that refuses to be released above its initial value (CPython
/// `asyncio.BoundedSemaphore`).
///
/// # Examples
///
/// ```
/// let sem = asyncio::BoundedSemaphore::new(1);
/// let err = sem.release().unwrap_err();
/// assert_eq!(err.to_string(), "BoundedSemaphore released too many times");
/// ```
pub struct BoundedSemaphore {
    core: SemCore,
    bound: usize,
}

impl BoundedSemaphore {
    /// A bounded semaphore whose counter starts, and is capped, at `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncio::BoundedSemaphore::new(2).value(), 2);
    /// ```
    pub fn new(value: usize) -> BoundedSemaphore {
        BoundedSemaphore {
            core: SemCore::new(value),
            bound: value,
        }
    }

    /// Whether an acquire would wait.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(asyncio::BoundedSemaphore::new(0).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.core.locked()
    }

    /// The counter's current value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncio::BoundedSemaphore::new(1).value(), 1);
    /// ```
    pub fn value(&self) -> usize {
        self.core.value.get()
    }

    /// Waits for a unit, as [`Semaphore::acquire`].
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let sem = asyncio::BoundedSemaphore::new(1);
    ///     sem.acquire().await;
    ///     sem.release().unwrap();
    /// })
    /// .unwrap();
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire<'_> {
        SemaphoreAcquire {
            core: &self.core,
            step: WaitStep::Start,
        }
    }

    /// Waits for a unit and returns a permit that gives it back on drop. A permit dropped when
    /// the counter is already at its initial value (an extra [`release`](Self::release) was
    /// made while it was held) leaves it there and reports `BoundedSemaphore released too many
    /// times` through the running loop's exception handler, where Python's `release` raises.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let sem = asyncio::BoundedSemaphore::new(1);
    ///     let _permit = sem.permit().await;
    ///     assert!(sem.locked());
    /// })
    /// .unwrap();
    /// ```
    pub async fn permit(&self) -> SemaphorePermit<'_> {
        self.acquire().await;
        SemaphorePermit {
            core: &self.core,
            bound: Some(self.bound),
        }
    }

    /// Gives a unit back and wakes the first waiter.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] `BoundedSemaphore released too many times` when the counter
    /// is already at its initial value.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let sem = asyncio::BoundedSemaphore::new(1);
    ///     sem.acquire().await;
    ///     assert!(sem.release().is_ok());
    ///     assert!(sem.release().is_err());
    /// })
    /// .unwrap();
    /// ```
    pub fn release(&self) -> Result<(), Error> {
        if self.core.value.get() >= self.bound {
            return Err(Error::invalid_argument(
                "BoundedSemaphore released too many times",
            ));
        }
        self.core.release();
        Ok(())
    }
}

impl std::fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedSemaphore")
            .field("value", &self.core.value.get())
            .field("bound", &self.bound)
            .field("waiters", &self.core.waiters.len())
            .finish()
    }
}

/// The future of [`Semaphore::acquire`] and [`BoundedSemaphore::acquire`].
///
/// It takes one unit: polled again after it was ready (outside the `Future` contract), it
/// stays pending for ever and takes nothing, as a fused future does (as [`Acquire`]).
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let sem = asyncio::Semaphore::new(1);
///     let fut: asyncio::sync::SemaphoreAcquire<'_> = sem.acquire();
///     fut.await;
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SemaphoreAcquire<'a> {
    core: &'a SemCore,
    /// Our slot in the waiter list while we wait (`Waiting`); `Done` once it gave its unit.
    step: WaitStep,
}

impl Future for SemaphoreAcquire<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let core = this.core;
        match this.step {
            WaitStep::Start => {
                if !core.locked() {
                    core.value.set(core.value.get() - 1);
                    this.step = WaitStep::Done;
                    return Poll::Ready(());
                }
                this.step = WaitStep::Waiting(core.waiters.push(cx.waker()));
                Poll::Pending
            }
            WaitStep::Waiting(key) => {
                if !core.waiters.poll(key, cx.waker()) {
                    return Poll::Pending;
                }
                if !core.waiters.remove(key) {
                    // Passed over while our first task was being cancelled, and polled again
                    // since in another: no unit was handed to us, so we start over.
                    this.step = WaitStep::Start;
                    return Pin::new(this).poll(cx);
                }
                // The unit was handed to us when we were woken.
                this.step = WaitStep::Done;
                core.wake_up_next();
                Poll::Ready(())
            }
            // Polled after it took its unit: see the type's docs.
            WaitStep::Done => Poll::Pending,
        }
    }
}

impl Drop for SemaphoreAcquire<'_> {
    fn drop(&mut self) {
        if let WaitStep::Waiting(key) = self.step {
            self.step = WaitStep::Done;
            if self.core.waiters.remove(key) {
                // Woken, then cancelled: the unit we were handed goes to the next waiter.
                self.core.release();
            }
        }
    }
}

/// A unit taken from a [`Semaphore`] or [`BoundedSemaphore`]; given back on drop.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let sem = asyncio::Semaphore::new(1);
///     let permit: asyncio::sync::SemaphorePermit<'_> = sem.permit().await;
///     assert_eq!(sem.value(), 0);
///     drop(permit);
///     assert_eq!(sem.value(), 1);
/// })
/// .unwrap();
/// ```
#[must_use = "the unit is given back when the permit is dropped"]
pub struct SemaphorePermit<'a> {
    core: &'a SemCore,
    /// `Some` for a bounded semaphore: never release above it.
    bound: Option<usize>,
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.bound.is_none_or(|b| self.core.value.get() < b) {
            self.core.release();
        } else {
            released_too_many_times();
        }
    }
}

/// A bounded permit dropped with the counter already at its bound (an extra `release` was
/// made while it was held): CPython's `release` raises `ValueError` there. A drop cannot
/// return it, so it is reported once through the running loop's exception handler (the
/// default handler's stderr record outside a loop), and the counter stays at the bound.
// CPython: `locks.py` `BoundedSemaphore.release` (no checklist item covers locks).
#[cold]
#[inline(never)]
fn released_too_many_times() {
    use crate::event_loop::exception::{report, ExceptionContext};
    const MESSAGE: &str = "BoundedSemaphore released too many times";
    let ctx = ExceptionContext::new(MESSAGE)
        .with_exception(Box::new(Error::invalid_argument(MESSAGE)))
        .with_detail("permit", "<SemaphorePermit of a BoundedSemaphore>");
    report(crate::event_loop::current_loop().as_ref(), &ctx);
}

impl std::fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
