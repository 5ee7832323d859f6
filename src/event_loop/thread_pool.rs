//! The default executor: a bounded pool of helper threads for blocking work, and
//! `run_in_executor` / `to_thread` on top of it.
//!
//! Mirrors `BaseEventLoop.run_in_executor` (CPython `Lib/asyncio/base_events.py`, with the
//! default `concurrent.futures.ThreadPoolExecutor` of `Lib/concurrent/futures/thread.py`) and
//! `asyncio.to_thread` (`Lib/asyncio/threads.py`).
//!
//! Ground rules:
//! - One pool per process, shared by every loop and by the resolver (`net/resolve.rs` sends its
//!   `getaddrinfo` calls here, as CPython runs them in the default executor). At most
//!   [`executor_max_threads`] threads run jobs; further jobs wait in a FIFO queue.
//! - Threads start only when a job finds no idle thread, are named `asyncio-executor`, and exit
//!   after [`IDLE_TIMEOUT`] without work. Nothing runs on them but the submitted closures; a
//!   closure that panics is caught there and the thread carries on.
//! - A job reports to its loop through a shared slot and the awaiting task's `Waker`: a task
//!   waker woken off the loop thread travels through the loop's thread-safe door
//!   (`threadsafe.rs`). A future dropped while awaited (polled, no result yet) is a cancelled
//!   one: a job no thread has started is skipped, as CPython's cancelled asyncio future cancels
//!   its pending `concurrent.futures.Future`; a running job runs to its end, its result dropped
//!   on the helper thread. One dropped unpolled runs, as an unawaited CPython future does.
//! - A `run_in_executor` job (and a name lookup of `net/resolve.rs`) is counted on the loop it
//!   was started from until it ends. `LoopHandle::shutdown_default_executor` waits for that
//!   count to reach zero, and from its first poll on the loop starts no more jobs (L41);
//!   `asyncio::run` calls it before closing the loop. The pool itself is never shut down: other
//!   loops use it.
//!
//! Calls down only into `std`, and into the calling loop's thread-safe door to count its jobs.

use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::error::Error;
use crate::event_loop::exception::{drop_contained, report, ExceptionContext, PanicError, Payload};
use crate::event_loop::threadsafe::Shared;
use crate::event_loop::{current_loop, LoopHandle};
use crate::wakers::UNFILED;

/// How long a helper thread waits for work before it exits.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send>;

struct PoolState {
    /// Submitted jobs no thread has taken yet, oldest first.
    jobs: VecDeque<Job>,
    /// Live helper threads. Invariant: `threads <= max` except after `max` was lowered.
    threads: usize,
    /// Threads blocked waiting for a job. Invariant: `idle <= threads`.
    idle: usize,
    /// The bound on `threads`. Invariant: at least 1.
    max: usize,
}

struct Pool {
    state: Mutex<PoolState>,
    /// Signalled once per submitted job while a thread is idle.
    work: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState {
            jobs: VecDeque::new(),
            threads: 0,
            idle: 0,
            max: default_max_threads(),
        }),
        work: Condvar::new(),
    })
}

/// `ThreadPoolExecutor`'s default bound, `min(32, os.cpu_count() + 4)`: the online CPUs
/// (Python's `os.cpu_count()`, 1 when unknown) read with one `sysconf` call. The 4 spare
/// threads are for blocking jobs that mostly wait (a name lookup, a read of a terminal), so
/// that a few of those do not hold up the rest on a small machine. (std's
/// `available_parallelism` also reads cgroup quotas and the affinity mask; its code weighed
/// 10 KiB in a small client.)
#[allow(unsafe_code)]
fn default_max_threads() -> usize {
    // SAFETY: sysconf takes a plain integer name, touches no memory of ours and reports
    // failure as -1.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    let cpus = usize::try_from(n).map_or(1, |n| n.max(1));
    (cpus + 4).min(32)
}

/// Queues `job` for a helper thread, starting one if every live thread is busy and the bound
/// allows. Fails only when no thread exists and none can be started.
pub(crate) fn submit(job: Job) -> std::io::Result<()> {
    let p = pool();
    let mut s = p.state.lock().unwrap_or_else(|e| e.into_inner());
    s.jobs.push_back(job);
    // Idle threads each take one job; start another only for jobs beyond them.
    if s.jobs.len() > s.idle && s.threads < s.max {
        match std::thread::Builder::new()
            .name("asyncio-executor".into())
            .spawn(worker)
        {
            Ok(_) => s.threads += 1,
            Err(e) if s.threads == 0 => {
                let job = s.jobs.pop_back();
                drop(s);
                // After the lock: the closure's drop may submit again. Its captures are user
                // code: a panic of their drop is reported on the running loop, if any (L18),
                // and the caller still gets its `Err`; dropped plainly, it unwound into
                // `run_in_executor` (or `to_thread`, or a name lookup).
                drop_contained(None, "an executor job", job);
                return Err(e);
            }
            // Some thread exists: the job waits for it.
            Err(_) => {}
        }
    }
    if s.idle > 0 {
        p.work.notify_one();
    }
    Ok(())
}

/// A helper thread: take jobs until none comes for [`IDLE_TIMEOUT`].
fn worker() {
    let p = pool();
    let mut s = p.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(job) = s.jobs.pop_front() {
            drop(s);
            // A job reports its own panic; this only keeps the thread alive. Such a panic
            // (a result dropped here whose drop panics) has a payload that is user code too:
            // dropped uncaught, a panic of it killed the thread, left counted as live.
            if let Err(p) = catch_unwind(AssertUnwindSafe(job)) {
                drop(Payload::new(p));
            }
            s = p.state.lock().unwrap_or_else(|e| e.into_inner());
            continue;
        }
        if s.threads > s.max {
            break;
        }
        s.idle += 1;
        let (guard, waited) = p
            .work
            .wait_timeout(s, IDLE_TIMEOUT)
            .unwrap_or_else(|e| e.into_inner());
        s = guard;
        s.idle -= 1;
        if waited.timed_out() && s.jobs.is_empty() {
            break;
        }
    }
    s.threads -= 1;
}

/// Sets how many helper threads the default executor may run at once (Python's
/// `ThreadPoolExecutor(max_workers=n)` given to `loop.set_default_executor`). The default is
/// Python's, the number of CPUs plus 4, at most 32. Lowering it lets busy threads finish
/// their job first.
///
/// # Errors
/// [`Error::InvalidArgument`] (`max_workers must be greater than 0`) for 0.
///
/// # Examples
///
/// ```
/// asyncio::set_executor_max_threads(4)?;
/// assert_eq!(asyncio::executor_max_threads(), 4);
/// assert!(asyncio::set_executor_max_threads(0).is_err());
/// # Ok::<_, asyncio::Error>(())
/// ```
pub fn set_executor_max_threads(n: usize) -> Result<(), Error> {
    if n == 0 {
        return Err(Error::invalid_argument(
            "max_workers must be greater than 0",
        ));
    }
    pool().state.lock().unwrap_or_else(|e| e.into_inner()).max = n;
    Ok(())
}

/// How many helper threads the default executor may run at once.
///
/// # Examples
///
/// ```
/// assert!(asyncio::executor_max_threads() >= 1);
/// ```
pub fn executor_max_threads() -> usize {
    pool().state.lock().unwrap_or_else(|e| e.into_inner()).max
}

/// What a job and its future share.
struct Slot<T> {
    /// The job's outcome. Invariant: set at most once, by the job.
    result: Option<Result<T, Error>>,
    /// The waker of the last poll that found no result; cleared on drop.
    waker: Option<Waker>,
    /// The future was dropped while awaited: a job that has not started skips its closure.
    cancelled: bool,
}

/// Runs the blocking closure `f` on a helper thread of the default executor and returns a
/// future of its result (Python's `loop.run_in_executor(None, f)`). The closure starts at
/// once, whether or not the future is polled; when every helper thread is busy it waits in a
/// queue (see [`set_executor_max_threads`]).
///
/// The future resolves to `Ok(value)`, or [`Error::Panic`] if `f` panicked (the thread
/// survives), or [`Error::Io`] if no helper thread could be started. Like every future of the
/// loop it is not `Send`.
///
/// # Cancel safety
/// Dropping the future once it has been polled (its task cancelled, a timeout passed) cancels
/// the job if no thread has started it yet: `f` is then dropped unrun, as Python's cancelled
/// future cancels a job still queued. A job already running cannot be interrupted: `f` runs to
/// its end and its result is dropped on the helper thread. A future dropped before any poll
/// leaves its job to run (Python's unawaited `run_in_executor`): fire and forget.
/// [`run`](crate::run) (and [`Runner::close`](crate::Runner::close)) waits for the jobs
/// before closing the loop, as Python's `asyncio.run` waits for the default executor.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let sum = asyncio::run_in_executor(|| (1..=100u64).sum::<u64>()).await?;
///     assert_eq!(sum, 5050);
///     let boom = asyncio::run_in_executor(|| -> u8 { panic!("blocking call failed") }).await;
///     assert!(matches!(boom, Err(asyncio::Error::Panic(_))));
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub fn run_in_executor<F, T>(f: F) -> RunInExecutor<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let slot = Arc::new(Mutex::new(Slot {
        result: None,
        waker: None,
        cancelled: false,
    }));
    let theirs = slot.clone();
    let counted = match Counted::on_current_loop() {
        Ok(counted) => counted,
        Err(e) => {
            slot.lock().unwrap_or_else(|e| e.into_inner()).result = Some(Err(e));
            return RunInExecutor {
                slot,
                _not_send: PhantomData,
            };
        }
    };
    let job = Box::new(move || {
        if theirs.lock().unwrap_or_else(|e| e.into_inner()).cancelled {
            return; // `f` and the count end with the box, here on the helper thread
        }
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
            let panic = PanicError::from_payload(&*p);
            drop_on_loop(counted.as_ref(), Payload::new(p));
            Error::Panic(panic)
        });
        let waker = {
            let mut s = theirs.lock().unwrap_or_else(|e| e.into_inner());
            s.result = Some(result);
            s.waker.take()
        };
        // Woken with the lock released; a waker of a closed loop is a no-op.
        if let Some(w) = waker {
            wake_awaiter(counted.as_ref(), w, "run_in_executor wake-up");
        }
        // Ended only now, its result delivered (dropped unrun, it ends with the box).
        drop(counted);
    });
    if let Err(e) = submit(job) {
        slot.lock().unwrap_or_else(|e| e.into_inner()).result = Some(Err(Error::Io(e)));
    }
    RunInExecutor {
        slot,
        _not_send: PhantomData,
    }
}

/// Runs `f` on a helper thread (Python's `asyncio.to_thread(f)`); the same as
/// [`run_in_executor`].
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let name = asyncio::to_thread(|| std::thread::current().name().map(String::from)).await?;
///     assert_eq!(name.as_deref(), Some("asyncio-executor"));
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub fn to_thread<F, T>(f: F) -> RunInExecutor<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    run_in_executor(f)
}

/// Hands a job's panic payload to the loop the job came from, to be dropped there: its `Drop`
/// is user code (`panic_any`), and a panic of it is reported through that loop's exception
/// handler, as the loop reports the drop of any value it holds for user code (L18). Dropped
/// here on the helper thread, uncaught, it unwound out of the job before the result was
/// stored: the awaiting future never resolved. Without a loop (none was running when the job
/// was submitted, or it has closed) the payload drops here, still caught ([`Payload`]).
#[cold]
#[inline(never)]
fn drop_on_loop(counted: Option<&Counted>, payload: Payload) {
    match counted {
        Some(Counted(shared)) => drop(shared.call(move || drop(payload))),
        None => drop(payload),
    }
}

/// Wakes a job's awaiter from the helper thread (no lock held). Its waker may be another
/// executor's (the future awaited there), whose `wake` is that executor's code: a panic of it
/// is caught and reported once, `Exception in callback {what}`, to the job's loop, as a wake-up
/// the loop runs is (L18), or to the default handler without one (none ran at submission, or
/// it has closed). Uncaught, it unwound out of the job into `worker`, which kept the thread
/// but told nobody.
pub(crate) fn wake_awaiter(counted: Option<&Counted>, waker: Waker, what: &'static str) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || waker.wake())) {
        wake_failed(counted, payload, what);
    }
}

#[cold]
#[inline(never)]
fn wake_failed(
    counted: Option<&Counted>,
    payload: Box<dyn std::any::Any + Send>,
    what: &'static str,
) {
    let panic = PanicError::from_payload(&*payload);
    let failed = WakeFailed(Some((panic, Payload::new(payload), what)));
    match counted {
        Some(Counted(shared)) => drop(shared.call(move || failed.report(current_loop()))),
        None => drop(failed),
    }
}

/// A helper thread's failed wake-up: reported on its loop, then its payload dropped there
/// (caught: [`Payload`]); else (no loop, or it closed before the report's turn) reported to
/// the default handler as it drops.
struct WakeFailed(Option<(PanicError, Payload, &'static str)>);

impl WakeFailed {
    fn report(mut self, lp: Option<LoopHandle>) {
        if let Some((panic, payload, what)) = self.0.take() {
            let ctx = ExceptionContext::new(format!("Exception in callback {what}"));
            report(lp.as_ref(), &ctx.with_exception(Box::new(panic)));
            drop(payload);
        }
    }
}

impl Drop for WakeFailed {
    fn drop(&mut self) {
        if self.0.is_some() {
            WakeFailed(self.0.take()).report(None);
        }
    }
}

/// A default-executor job counted on the loop it was started from, until dropped (L41).
pub(crate) struct Counted(Arc<Shared>);

impl Counted {
    /// Counts a job on the running loop, if any. Fails once that loop's
    /// [`shutdown_default_executor`](LoopHandle::shutdown_default_executor) has started
    /// (been first polled).
    pub(crate) fn on_current_loop() -> Result<Option<Counted>, Error> {
        match current_loop() {
            Some(lp) => {
                lp.inner.shared.job_started()?;
                Ok(Some(Counted(lp.inner.shared.clone())))
            }
            None => Ok(None),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.job_ended();
    }
}

impl LoopHandle {
    /// Refuses further default-executor work from this loop, then waits until every
    /// [`run_in_executor`] job and name lookup started from it has ended (Python's
    /// `loop.shutdown_default_executor(timeout)`). With a `timeout` that passes first it logs
    /// a warning and returns; the jobs run on (a thread cannot be interrupted).
    ///
    /// Like Python's coroutine, the returned future does nothing until it is first polled
    /// (awaited, or run as a task): jobs submitted between the call and that poll are
    /// accepted and waited for. From that poll on, `run_in_executor` and [`to_thread`] on
    /// this loop resolve to [`Error::InvalidState`] (`Executor shutdown has been called`),
    /// and a connection that needs a name lookup fails with it. [`run`](crate::run) and
    /// [`Runner::close`](crate::Runner::close) call this with a 300 s timeout before closing
    /// the loop. The executor's threads are shared by every loop of the process and stay.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// asyncio::run(async {
    ///     let lp = asyncio::get_running_loop()?;
    ///     let job = asyncio::run_in_executor(|| 6 * 7);
    ///     lp.shutdown_default_executor(Some(Duration::from_secs(10))).await;
    ///     assert_eq!(job.await?, 42); // it had ended: the shutdown waited for it
    ///     let late = asyncio::run_in_executor(|| 0).await;
    ///     assert!(matches!(late, Err(asyncio::Error::InvalidState(_))));
    ///     Ok::<_, asyncio::Error>(())
    /// })
    /// .unwrap()
    /// .unwrap();
    /// ```
    pub fn shutdown_default_executor(
        &self,
        timeout: Option<Duration>,
    ) -> impl Future<Output = ()> + 'static {
        let shared = self.inner.shared.clone();
        async move {
            // Refused from the first poll, not from the call: CPython's method is a coroutine,
            // whose body (and its `_executor_shutdown_called = True`) starts when driven.
            shared.shut_executor();
            let jobs = JobsEnded {
                shared,
                key: UNFILED,
            };
            let Some(limit) = timeout else {
                return jobs.await;
            };
            if crate::time::timeout(limit, jobs).await.is_err() {
                warn_jobs_left(limit);
            }
        }
    }
}

/// Python's warning when `shutdown_default_executor`'s timeout passes.
pub(crate) fn warn_jobs_left(limit: Duration) {
    crate::event_loop::debug::warning!(
        "The executor did not finishing joining its threads within {} seconds.",
        seconds_text(limit)
    );
}

/// `d` in seconds as Python writes the number given (`300`, `0.5`). Integers only: float
/// formatting would add some 20 KiB to every program that runs `asyncio::run`.
fn seconds_text(d: Duration) -> String {
    let frac = format!("{:09}", d.subsec_nanos());
    match frac.trim_end_matches('0') {
        "" => d.as_secs().to_string(),
        frac => format!("{}.{frac}", d.as_secs()),
    }
}

/// Ready once no default-executor job of the loop is left.
struct JobsEnded {
    shared: Arc<Shared>,
    /// The key of the waker filed with the loop (`wakers.rs`), withdrawn on drop.
    key: u64,
}

impl Future for JobsEnded {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.shared.jobs_left(&mut this.key, cx.waker()) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl Drop for JobsEnded {
    fn drop(&mut self) {
        if self.key != UNFILED {
            self.shared.forget_jobs_waiter(self.key);
        }
    }
}

/// The future of [`run_in_executor`] and [`to_thread`]: the closure's result.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let fut: asyncio::RunInExecutor<u32> = asyncio::to_thread(|| 7);
///     assert_eq!(fut.await.unwrap(), 7);
/// })
/// .unwrap();
/// ```
#[must_use = "the closure runs anyway; await the future to get its result"]
pub struct RunInExecutor<T> {
    slot: Arc<Mutex<Slot<T>>>,
    /// Like the loop's other futures, it stays on the loop's thread.
    _not_send: PhantomData<*const ()>,
}

impl<T> Future for RunInExecutor<T> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match s.result.take() {
            Some(r) => Poll::Ready(r),
            None => {
                match &s.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => s.waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for RunInExecutor<T> {
    fn drop(&mut self) {
        let waker = {
            let mut s = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            // A waker is held only between a poll that found no result and the job's end:
            // the future was being awaited, so its drop is a cancellation.
            let waker = s.waker.take();
            s.cancelled = waker.is_some();
            waker
        };
        drop(waker); // after the lock: dropping a waker may run code of its task
    }
}

impl<T> std::fmt::Debug for RunInExecutor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunInExecutor").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::EventLoop;

    #[test]
    fn l41_the_timeout_in_the_warning_reads_as_pythons_number() {
        let text = |ms| seconds_text(Duration::from_millis(ms));
        assert_eq!(text(300_000), "300");
        assert_eq!(text(500), "0.5");
        assert_eq!(text(1_250), "1.25");
        assert_eq!(text(0), "0");
        assert_eq!(
            seconds_text(Duration::MAX),
            "18446744073709551615.999999999"
        );
    }

    #[test]
    fn l41_a_dropped_shutdown_wait_leaves_no_waker_with_the_loop() {
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        let shared = handle.inner.shared.clone();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        lp.run_until_complete(async {
            drop(run_in_executor(move || {
                let _ = gate.recv();
            }));
            let mut wait = Box::pin(handle.shutdown_default_executor(None));
            std::future::poll_fn(|cx| {
                assert!(
                    wait.as_mut().poll(cx).is_pending(),
                    "the job is still running"
                );
                Poll::Ready(())
            })
            .await;
            assert_eq!(shared.lock_waiters().len(), 1, "the wait filed its waker");
            drop(wait);
            assert_eq!(
                shared.lock_waiters().len(),
                0,
                "the dropped wait left its waker"
            );
        })
        .unwrap();
        release.send(()).unwrap();
    }

    #[test]
    fn l41_a_dropped_shutdown_wait_leaves_the_waker_of_another_in_its_task() {
        // Two waits polled by one task hold the same waker: each is filed on its own, so
        // dropping one leaves the other's, and the last job's end still wakes it.
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        let shared = handle.inner.shared.clone();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        lp.run_until_complete(async move {
            drop(run_in_executor(move || {
                let _ = gate.recv();
            }));
            let mut first = Box::pin(handle.shutdown_default_executor(None));
            let mut second = Box::pin(handle.shutdown_default_executor(None));
            std::future::poll_fn(|cx| {
                assert!(first.as_mut().poll(cx).is_pending(), "the job still runs");
                assert!(second.as_mut().poll(cx).is_pending(), "the job still runs");
                Poll::Ready(())
            })
            .await;
            drop(first);
            assert_eq!(
                shared.lock_waiters().len(),
                1,
                "the second wait's waker went with the first"
            );
            release.send(()).unwrap();
            second.await;
        })
        .unwrap();
    }
}
