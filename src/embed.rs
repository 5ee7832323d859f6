//! Driving a loop from synchronous code: `LoopThread`, `run_coroutine_threadsafe` and
//! `ConcurrentFuture`.
//!
//! Mirrors `asyncio.run_coroutine_threadsafe` (CPython `Lib/asyncio/tasks.py`) and the
//! `concurrent.futures.Future` it returns, plus the common "loop on its own thread" pattern.
//! Ground rules: the only things that cross threads are `Send` closures through the loop's
//! [`ThreadsafeHandle`] and the result slot of a [`ConcurrentFuture`] (a mutex and a condvar);
//! the future itself is built on the loop thread, so it need not be `Send`.
//!
//! Embedding on one thread, a turn at a time from a host's own main loop, needs none of this:
//! `LoopHandle::run_once`, `as_raw_fd` and `next_timeout` (the crate root's "Inside your own
//! main loop", `examples/embed_in_poll.rs`).

use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::event_loop::exception::PanicError;
use crate::event_loop::threadsafe::ThreadsafeHandle;
use crate::event_loop::EventLoop;

mod outcome;
use outcome::{Outcome, Slot};

/// An [`add_done_callback`](ConcurrentFuture::add_done_callback) callback.
type DoneCallback<T> = Box<dyn FnOnce(&ConcurrentFuture<T>) + Send>;

struct Shared<T> {
    slot: Mutex<Slot<T>>,
    done: Condvar,
    cancel: AtomicBool,
}

impl<T> Shared<T> {
    fn complete(self: &Arc<Self>, r: Result<T, Error>) {
        let mut s = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if s.outcome.is_done() {
            return;
        }
        if matches!(r, Err(Error::Cancelled)) {
            // Cancelled on the loop side (the loop shut down): the future is cancelled for
            // good, as Python's chained one is, also once its result has been taken.
            self.cancel.store(true, Ordering::Release);
        }
        s.set_outcome(match r {
            Ok(v) => Outcome::Value(v),
            Err(e) => Outcome::Failed(e),
        });
        let waiter = s.waiter.take();
        let callbacks = std::mem::take(&mut s.callbacks);
        drop(s);
        self.wake_all(waiter);
        self.run_callbacks(callbacks);
    }

    /// Runs the done-callbacks, on this thread (the one that put the result in), with a
    /// handle on the future each.
    fn run_callbacks(self: &Arc<Self>, callbacks: Vec<DoneCallback<T>>) {
        if callbacks.is_empty() {
            return;
        }
        let fut = ConcurrentFuture {
            shared: self.clone(),
            awaited: false,
        };
        for callback in callbacks {
            call_done(callback, &fut);
        }
    }

    /// After the result is in: blocked `result()` calls and the awaiting task look again.
    fn wake_all(&self, waiter: Option<Waker>) {
        self.done.notify_all();
        if let Some(w) = waiter {
            w.wake();
        }
    }
}

/// The result of work scheduled on a loop from another thread (Python's
/// `concurrent.futures.Future`). Wait for it with [`result`](Self::result) from any thread, or
/// `.await` it from any executor. `Send + Sync` when `T: Send`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let lt = asyncio::LoopThread::spawn()?;
/// let fut: asyncio::ConcurrentFuture<u32> = lt.run_coroutine_threadsafe(|| async {
///     asyncio::sleep(Duration::from_millis(1)).await;
///     7
/// });
/// assert_eq!(fut.result(Some(Duration::from_secs(10)))?, 7); // blocks this thread
/// assert!(fut.done());
/// lt.stop()?;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "the work runs anyway; keep the ConcurrentFuture to learn its result"]
pub struct ConcurrentFuture<T> {
    shared: Arc<Shared<T>>,
    /// This handle was awaited and filed its task's waker: its drop takes the waker back.
    /// False for the handle a done-callback is given, which never files one.
    awaited: bool,
}

/// Calls a done-callback. A panic in it is reported (on the `concurrent.futures` log target,
/// as Python logs `exception calling callback for <Future …>`) and goes no further: the
/// other callbacks still run, and so does the thread that completed the future.
fn call_done<T>(callback: DoneCallback<T>, fut: &ConcurrentFuture<T>) {
    if catch_unwind(AssertUnwindSafe(|| callback(fut))).is_err() {
        crate::event_loop::debug::emit(
            log::Level::Error,
            "concurrent.futures",
            format_args!("exception calling callback for {fut:?}"),
        );
    }
}

impl<T> std::fmt::Debug for ConcurrentFuture<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrentFuture")
            .field("done", &self.done())
            .finish()
    }
}

impl<T> ConcurrentFuture<T> {
    /// Blocks until the result is there (at most `timeout`) and takes it.
    ///
    /// # Errors
    /// [`Error::Timeout`] if `timeout` passes first (the work goes on); [`Error::Cancelled`]
    /// if it was cancelled, at every call, as Python's `result()` raises `CancelledError`;
    /// [`Error::Panic`] if `f` or its future panicked (the loop reports the panic too);
    /// [`Error::InvalidState`] if the value was already taken (an error is given again at
    /// every call), or if the loop was closed before the work ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let slow = lt.run_coroutine_threadsafe(|| asyncio::sleep(Duration::from_secs(3600)));
    /// let r = slow.result(Some(Duration::from_millis(1)));
    /// assert!(matches!(r, Err(asyncio::Error::Timeout))); // the work goes on
    /// slow.cancel();
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn result(&self, timeout: Option<Duration>) -> Result<T, Error> {
        let mut s = self.wait(timeout)?;
        s.take_result().unwrap_or(Err(Error::Timeout)) // `wait` returns with a result
    }

    /// The error the work ended with, without taking it: `None` if it ended with a value
    /// (Python's `concurrent.futures.Future.exception()`). Blocks as
    /// [`result`](Self::result) does.
    ///
    /// # Errors
    /// [`Error::Timeout`] if `timeout` passes first; [`Error::Cancelled`] if it was
    /// cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let fine = lt.run_coroutine_threadsafe(|| async { 1 });
    /// assert!(fine.exception(None)?.is_none());
    /// assert_eq!(fine.result(None)?, 1); // still there
    /// let failed = lt.run_coroutine_threadsafe(|| async { panic!("boom") });
    /// let e = failed.exception(None)?.expect("it panicked");
    /// assert!(matches!(e, asyncio::Error::Panic(_)));
    /// assert!(failed.result(None).is_err()); // the same error again
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn exception(&self, timeout: Option<Duration>) -> Result<Option<Error>, Error> {
        let s = self.wait(timeout)?;
        match &s.outcome {
            Outcome::Failed(Error::Cancelled) => Err(Error::Cancelled),
            Outcome::Failed(e) => Ok(Some(e.duplicate())),
            _ => Ok(None),
        }
    }

    /// The slot, locked, once the result is in (at most `timeout`).
    fn wait(&self, timeout: Option<Duration>) -> Result<MutexGuard<'_, Slot<T>>, Error> {
        // A timeout too long to represent (`Duration::MAX`, the idiom for "no deadline") is
        // waited out like `None` instead of overflowing the `Instant`.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut s = self.shared.slot.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if s.outcome.is_done() {
                return Ok(s);
            }
            s = match deadline {
                None => self.shared.done.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(Error::Timeout);
                    }
                    self.shared
                        .done
                        .wait_timeout(s, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Cancels: the result is [`Error::Cancelled`] at once, the done-callbacks run (on this
    /// thread), and at its next turn the loop-side task ends cancelled, its future dropped.
    /// False if the work has already finished; true again if it was already cancelled
    /// (Python's `concurrent.futures.Future.cancel`), also after its result was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let fut = lt.run_coroutine_threadsafe(|| std::future::pending::<()>());
    /// assert!(fut.cancel());
    /// assert!(matches!(fut.result(None), Err(asyncio::Error::Cancelled)));
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        let (runner, waiter, callbacks) = {
            let mut s = self.shared.slot.lock().unwrap_or_else(|p| p.into_inner());
            // Set only with the cancellation as the result (here, or by `complete`), under
            // this lock: a cancelled future stays cancelled.
            if self.shared.cancel.load(Ordering::Acquire) {
                return true;
            }
            if s.outcome.is_done() {
                return false;
            }
            self.shared.cancel.store(true, Ordering::Release);
            // Done at once, as a `concurrent.futures.Future` is: nobody waits for the loop
            // to notice (it may not be running, or be driven by the very thread waiting).
            // Under the lock, so the work finishing meanwhile cannot slip a value in.
            s.set_outcome(Outcome::Failed(Error::Cancelled));
            (
                s.runner.clone(),
                s.waiter.take(),
                std::mem::take(&mut s.callbacks),
            )
        };
        self.shared.wake_all(waiter);
        if let Some(w) = runner {
            w.wake(); // the loop side drops the work at its next turn
        }
        self.shared.run_callbacks(callbacks);
        true
    }

    /// Whether it was cancelled: by [`cancel`](Self::cancel), or on the loop side (the loop
    /// shut down with the work unfinished) (Python's `concurrent.futures.Future.cancelled`).
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let fut = lt.run_coroutine_threadsafe(|| std::future::pending::<()>());
    /// assert!(!fut.cancelled());
    /// fut.cancel();
    /// assert!(fut.cancelled() && fut.done());
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        self.shared.cancel.load(Ordering::Acquire)
    }

    /// Calls `f` with the future once it is done (value, error or cancellation), on the
    /// thread that completes it: the loop's for work that ends there, the cancelling one for
    /// [`cancel`](Self::cancel). If it is done already, `f` runs at once, here. Callbacks
    /// run in the order they were added (Python's
    /// `concurrent.futures.Future.add_done_callback`). A panicking `f` is reported and
    /// goes no further.
    ///
    /// The future `f` is given may take the result ([`result`](Self::result)), which is
    /// then taken for every other handle too.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let fut = lt.run_coroutine_threadsafe(|| async { 6 * 7 });
    /// fut.add_done_callback(move |f| {
    ///     // Done: neither call blocks. Here or on the loop's thread, whichever finished it.
    ///     tx.send(f.exception(None).map(|e| e.is_none())).unwrap();
    /// });
    /// assert!(rx.recv().unwrap()?, "ended with a value");
    /// assert_eq!(fut.result(None)?, 42);
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn add_done_callback<F>(&self, f: F)
    where
        F: FnOnce(&ConcurrentFuture<T>) + Send + 'static,
    {
        let mut s = self.shared.slot.lock().unwrap_or_else(|p| p.into_inner());
        if !s.outcome.is_done() {
            s.callbacks.push(Box::new(f));
            return;
        }
        drop(s);
        call_done(Box::new(f), self);
    }

    /// Whether a result (value, error or cancellation) is there.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let fut = lt.run_coroutine_threadsafe(|| async { "ok" });
    /// assert_eq!(fut.result(None)?, "ok");
    /// assert!(fut.done());
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn done(&self) -> bool {
        self.shared
            .slot
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .outcome
            .is_done()
    }
}

impl<T> Future for ConcurrentFuture<T> {
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.shared.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = s.take_result() {
            return Poll::Ready(r);
        }
        let replaced = match &s.waiter {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => s.waiter.replace(cx.waker().clone()),
        };
        drop(s);
        self.awaited = true;
        drop(replaced); // after the lock: dropping a waker may run its executor's code
        Poll::Pending
    }
}

impl<T> Drop for ConcurrentFuture<T> {
    fn drop(&mut self) {
        if !self.awaited {
            return;
        }
        let mut s = self.shared.slot.lock().unwrap_or_else(|p| p.into_inner());
        let waiter = s.waiter.take();
        drop(s);
        drop(waiter);
    }
}

/// Runs the future built by `f` on the loop behind `lp`, from any thread (Python's
/// `asyncio.run_coroutine_threadsafe`). `f` runs on the loop thread, so the future need not be
/// `Send`; only `f` and the output cross threads.
///
/// # Errors
/// The returned future holds [`Error::InvalidState`] (`Event loop is closed`) if the loop is
/// closed, and [`Error::Panic`] if `f` or the future it made panicked.
///
/// # Examples
///
/// ```
/// let lt = asyncio::LoopThread::spawn()?;
/// let door = lt.handle().clone(); // any thread may hold it
/// let fut = asyncio::run_coroutine_threadsafe(&door, || async {
///     // On the loop thread: the future need not be Send.
///     let rc = std::rc::Rc::new(5);
///     *rc * 2
/// });
/// assert_eq!(fut.result(None)?, 10);
/// lt.stop()?;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn run_coroutine_threadsafe<F, Fut, T>(lp: &ThreadsafeHandle, f: F) -> ConcurrentFuture<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    let shared = Arc::new(Shared {
        slot: Mutex::new(Slot {
            outcome: Outcome::Pending,
            waiter: None,
            runner: None,
            callbacks: Vec::new(),
        }),
        done: Condvar::new(),
        cancel: AtomicBool::new(false),
    });
    let unstarted = Unstarted(Some(shared.clone()));
    let scheduled = lp.call_soon_threadsafe(move || {
        let mut unstarted = unstarted;
        let fut = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(fut) => fut,
            Err(payload) => {
                if let Some(s) = unstarted.0.take() {
                    s.complete(Err(Error::Panic(PanicError::from_payload(&*payload))));
                }
                // The loop reports the panic as it reports any callback's.
                resume_unwind(payload);
            }
        };
        // From here the runner reports (its drop says Cancelled if it never finishes).
        let Some(s) = unstarted.0.take() else { return };
        let task = Runner {
            fut: Box::pin(fut),
            shared: s.clone(),
        };
        if let Err(e) = crate::event_loop::get_running_loop().and_then(|l| l.spawn(task)) {
            s.complete(Err(e));
        } else {
            // Detached: the runner reports through the shared slot.
        }
    });
    if let Err(e) = scheduled {
        shared.complete(Err(e));
    }
    ConcurrentFuture {
        shared,
        awaited: false,
    }
}

/// The scheduled callback's hold on the result slot until a [`Runner`] takes it over. A
/// callback dropped without running (the loop closed with it queued) completes the slot as
/// it goes, so no `result()` or `.await` waits for ever.
struct Unstarted<T>(Option<Arc<Shared<T>>>);

impl<T> Drop for Unstarted<T> {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.complete(Err(Error::loop_closed()));
        }
    }
}

/// The loop-side task: polls the user's future unless cancelled, then fills the slot.
struct Runner<Fut: Future> {
    fut: Pin<Box<Fut>>,
    shared: Arc<Shared<Fut::Output>>,
}

impl<Fut: Future> Future for Runner<Fut> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.cancel.load(Ordering::Acquire) {
            return self.cancelled();
        }
        {
            let mut s = self.shared.slot.lock().unwrap_or_else(|p| p.into_inner());
            if !s.runner.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.runner = Some(cx.waker().clone());
            }
        }
        // A `cancel()` between the check above and the filing found no waker to wake (it
        // reads `runner` under the lock it sets the flag under): look again now that the
        // waker is there, or the work would run on, uncancelled, until something else woke it.
        if self.shared.cancel.load(Ordering::Acquire) {
            return self.cancelled();
        }
        match catch_unwind(AssertUnwindSafe(|| self.fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => {
                self.shared.complete(Ok(v));
                Poll::Ready(())
            }
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                // As the future's exception reaches Python's concurrent future: the waiters
                // get the panic, and the loop still reports it once, as any task's.
                let panic = PanicError::from_payload(&*payload);
                self.shared.complete(Err(Error::Panic(panic)));
                resume_unwind(payload);
            }
        }
    }
}

impl<Fut: Future> Runner<Fut> {
    /// The `ConcurrentFuture` was cancelled: the task running this ends cancelled, as
    /// Python's `_chain_future` cancels the task (`task.cancelled()` is then true for code
    /// that holds its [`TaskRef`](crate::TaskRef)), and the future is dropped with it.
    // Checklist: L28, L30.
    #[cold]
    fn cancelled(&self) -> Poll<()> {
        self.shared.complete(Err(Error::Cancelled));
        if let Ok(Some(task)) = crate::current_task() {
            task.cancel(); // asked during its own poll: it ends cancelled as this returns
        }
        Poll::Ready(())
    }
}

impl<Fut: Future> Drop for Runner<Fut> {
    fn drop(&mut self) {
        // Dropped before finishing (loop shutdown, cancellation): say so to the waiters.
        self.shared.complete(Err(Error::Cancelled));
    }
}

/// An event loop running on its own thread, driven from synchronous code.
///
/// ```
/// let lt = asyncio::LoopThread::spawn().unwrap();
/// let answer = lt.run_coroutine_threadsafe(|| async { 6 * 7 });
/// assert_eq!(answer.result(None).unwrap(), 42);
/// lt.stop().unwrap();
/// ```
#[derive(Debug)]
pub struct LoopThread {
    handle: ThreadsafeHandle,
    join: Option<JoinHandle<Result<(), Error>>>,
    stopping: Arc<AtomicBool>,
}

impl LoopThread {
    /// Starts a thread running a new loop until [`stop`](Self::stop).
    ///
    /// # Errors
    /// `Error::Io` if the thread or the loop cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?; // the loop runs on a new thread from here on
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn spawn() -> Result<LoopThread, Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        let stopping = Arc::new(AtomicBool::new(false));
        let flag = stopping.clone();
        let join = std::thread::Builder::new()
            .name("asyncio-loop".into())
            .spawn(move || {
                let lp = match EventLoop::new() {
                    Ok(lp) => lp,
                    Err(e) => {
                        let msg = e.to_string();
                        let _ = tx.send(Err(e));
                        return Err(Error::invalid_state(msg));
                    }
                };
                let _ = tx.send(Ok(lp.threadsafe()));
                let mut ran = Ok(());
                while ran.is_ok() && !flag.load(Ordering::Acquire) {
                    ran = lp.run_forever();
                }
                // As asyncio.run does, even after a failed run: cancel what is left, let it
                // finish, close. The first failure is the one reported.
                lp.shutdown_tasks();
                let closed = lp.close();
                ran.and(closed)
            })?;
        let handle = rx
            .recv()
            .map_err(|_| Error::invalid_state("loop thread died"))??;
        Ok(LoopThread {
            handle,
            join: Some(join),
            stopping,
        })
    }

    /// The `Send + Sync` handle of the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let door = lt.handle().clone();
    /// std::thread::spawn(move || door.call_soon_threadsafe(|| println!("hello from the loop")))
    ///     .join()
    ///     .unwrap()?;
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn handle(&self) -> &ThreadsafeHandle {
        &self.handle
    }

    /// [`run_coroutine_threadsafe`] on this loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// let n = lt.run_coroutine_threadsafe(|| async {
    ///     asyncio::yield_now().await;
    ///     21 * 2
    /// });
    /// assert_eq!(n.result(None)?, 42);
    /// lt.stop()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn run_coroutine_threadsafe<F, Fut, T>(&self, f: F) -> ConcurrentFuture<T>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        run_coroutine_threadsafe(&self.handle, f)
    }

    /// Stops the loop: cancels every task still running (their `ConcurrentFuture`s become
    /// `Cancelled`), lets them end, closes the loop and joins the thread.
    ///
    /// # Errors
    /// `InvalidState` if the loop thread panicked, or if called from code running on this
    /// loop (the loop then stops when that code returns, and the thread is not joined); what
    /// the loop's run or close reported.
    ///
    /// # Examples
    ///
    /// ```
    /// let lt = asyncio::LoopThread::spawn()?;
    /// lt.stop()?; // stops the loop, closes it and joins the thread
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn stop(mut self) -> Result<(), Error> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), Error> {
        let Some(join) = self.join.take() else {
            return Ok(());
        };
        self.stopping.store(true, Ordering::Release);
        let _ = self.handle.call_soon_threadsafe(|| {
            if let Ok(lp) = crate::event_loop::get_running_loop() {
                lp.stop();
            }
        });
        if join.thread().id() == std::thread::current().id() {
            // Stopped (or dropped) by code running on the loop itself: the loop stops once
            // that code returns and the thread ends on its own. Joining would wait for itself.
            return Err(Error::invalid_state(
                "LoopThread stopped from its own loop: the loop stops when the running \
                 callback returns, but the thread cannot join itself",
            ));
        }
        join.join()
            .map_err(|_| Error::invalid_state("the loop thread panicked"))?
    }
}

impl Drop for LoopThread {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
