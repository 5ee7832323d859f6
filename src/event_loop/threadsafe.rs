//! `call_soon_threadsafe` and cross-thread wake-ups: a locked queue plus a `mio::Waker`.
//!
//! Mirrors `call_soon_threadsafe`, `_write_to_self` and `_read_from_self` in CPython
//! `Lib/asyncio/base_events.py` / `selector_events.py` (L21, L22). Python wakes its selector by
//! writing a byte to a socketpair; we use `mio::Waker` (an eventfd on Linux), and wake it only
//! when the queue goes from "drained" to "has work", so a burst of calls costs one syscall.
//!
//! Ground rules: this is the only part of a loop other threads may touch. Per calling thread,
//! order is kept (one FIFO under one lock). Every live loop has a small id in a process-wide
//! registry, so a task's `Waker`, which must be `Send`, can find its loop from any thread.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::Waker;

use crate::error::Error;
use crate::wakers::KeyedWakers;

/// Work sent to the loop from another thread.
pub(crate) enum Remote {
    /// A `call_soon_threadsafe` callback (shared with its [`ThreadsafeCallHandle`]).
    Call(Arc<dyn RemoteCall>),
    /// A task woken from another thread: slot index and truncated generation.
    Wake { index: u32, generation: u32 },
}

/// The type-erased side of a `call_soon_threadsafe` callback, reached from any thread.
pub(crate) trait RemoteCall: Send + Sync {
    /// Takes the closure out if it is still there: runs it when `run` is true (on the loop
    /// thread, with no lock held), else drops it unrun (a cancel, on the cancelling thread).
    fn take(&self, run: bool);
    /// Set by `cancel`; never cleared.
    fn cancelled(&self) -> &AtomicBool;
    /// The closure's type name, for `Exception in callback …` reports.
    fn name(&self) -> &'static str;
}

impl dyn RemoteCall {
    /// The loop-side callback that runs this call, named after its closure.
    pub(crate) fn callback(self: Arc<Self>) -> std::rc::Rc<dyn super::handle::Callback> {
        super::handle::new_named_callback(self.name(), move || self.take(true))
    }
}

/// A `call_soon_threadsafe` closure until it runs or is cancelled: one allocation shared by
/// the loop's queue and the caller's handle, as `handle.rs`'s cell is for `call_soon`.
struct RemoteCell<F> {
    cancelled: AtomicBool,
    f: Mutex<Option<F>>,
}

impl<F: FnOnce() + Send> RemoteCall for RemoteCell<F> {
    fn take(&self, run: bool) {
        // Out of the lock before it runs or drops: the closure may cancel its own handle.
        let f = self.f.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let (Some(f), true) = (f, run) {
            f();
        }
    }

    fn cancelled(&self) -> &AtomicBool {
        &self.cancelled
    }

    fn name(&self) -> &'static str {
        std::any::type_name::<F>()
    }
}

/// Pending remote work and the means to wake the loop's poll, under one lock.
struct Queue {
    /// Oldest first.
    items: Vec<Remote>,
    /// Wakes the poll (an eventfd on Linux); `None` once the loop is closed (L16 releases it).
    /// Shared so a pusher can wake it after letting go of the lock: the descriptor lives until
    /// the last such wake is done.
    waker: Option<Arc<mio::Waker>>,
}

/// The thread-shared part of a loop.
pub(crate) struct Shared {
    queue: Mutex<Queue>,
    /// True from a push that woke the poll until the loop drains the queue: later pushes skip
    /// the wake syscall.
    notified: AtomicBool,
    /// Set by `close()`: pushes fail with "Event loop is closed".
    closed: AtomicBool,
    /// Default-executor jobs (`run_in_executor`, name lookups) started from this loop and not
    /// ended yet: `shutdown_default_executor` waits until none is left (L41).
    executor_jobs: AtomicUsize,
    /// `shutdown_default_executor` has started: the loop starts no more default-executor jobs.
    executor_shut: AtomicBool,
    /// The `shutdown_default_executor` waits for `executor_jobs` to reach zero, each under
    /// its own key (two in one task hold the same waker): the job that ends last wakes them.
    jobs_waiters: Mutex<KeyedWakers>,
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker) -> Self {
        Shared {
            queue: Mutex::new(Queue {
                items: Vec::new(),
                waker: Some(Arc::new(waker)),
            }),
            notified: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            executor_jobs: AtomicUsize::new(0),
            executor_shut: AtomicBool::new(false),
            jobs_waiters: Mutex::new(KeyedWakers::default()),
        }
    }

    /// Queues `item` for the loop; false, with `item` dropped, once the loop is closed. A bare
    /// flag rather than the `Error` (made by the caller that reports it): the task waker, which
    /// ignores the refusal, then links no `Error` drop of its own.
    pub(crate) fn push(&self, item: Remote) -> bool {
        let waker = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            // Checked under the lock, so close() cannot miss an item pushed concurrently.
            if self.closed.load(Ordering::Acquire) {
                return false;
            }
            q.items.push(item);
            if self.notified.swap(true, Ordering::AcqRel) {
                None
            } else {
                q.waker.clone()
            }
        };
        // The wake-up syscall outside the lock, so neither the loop's drain nor other pushers
        // wait on it; a close() meanwhile has taken the loop's handle, and this one keeps the
        // descriptor open until the write is done. A failed wake-up is ignored, as CPython
        // ignores a failed self-pipe write (L21).
        if let Some(waker) = waker {
            let _ = waker.wake();
        }
        true
    }

    /// Queues `f` to run on the loop, from a thread of the crate's own (no handle to return);
    /// false, with `f` dropped here, once the loop is closed.
    pub(crate) fn call(&self, f: impl FnOnce() + Send + 'static) -> bool {
        self.push(Remote::Call(new_remote_call(f)))
    }

    /// Moves every pending item into `into` (whose capacity is reused).
    pub(crate) fn drain_into(&self, into: &mut Vec<Remote>) {
        self.notified.store(false, Ordering::Release);
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::swap(&mut q.items, into);
    }

    /// Refuses further pushes and returns what was queued; the poll's waker is closed (L16).
    pub(crate) fn close(&self) -> Vec<Remote> {
        let (items, waker) = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            self.closed.store(true, Ordering::Release);
            (std::mem::take(&mut q.items), q.waker.take())
        };
        drop(waker); // its descriptor, after the lock
        items
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// A default-executor job of this loop starts (L41), unless `shutdown_default_executor`
    /// has started (CPython's `_check_default_executor`).
    pub(crate) fn job_started(&self) -> Result<(), Error> {
        if self.executor_shut.load(Ordering::SeqCst) {
            return Err(Error::invalid_state("Executor shutdown has been called"));
        }
        self.executor_jobs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// A default-executor job of this loop ended (ran, panicked or was dropped unrun); the
    /// last one wakes the task waiting for them.
    pub(crate) fn job_ended(&self) {
        // SeqCst, as in `jobs_left`: either the waiter sees the count at zero, or this finds
        // its waker.
        if self.executor_jobs.fetch_sub(1, Ordering::SeqCst) == 1 {
            let waiters = self.lock_waiters().take();
            // Woken with the lock released: from another thread a wake goes through `push`.
            waiters.into_iter().for_each(Waker::wake);
        }
    }

    /// Refuses further default-executor jobs from this loop (`shutdown_default_executor`).
    pub(crate) fn shut_executor(&self) {
        self.executor_shut.store(true, Ordering::SeqCst);
    }

    /// Whether default-executor jobs of this loop are still running; if so `waiter` is filed
    /// as the wait `*key` (see `wakers.rs`) and woken when the last one ends (filed before the
    /// count is read, so no end is missed).
    pub(crate) fn jobs_left(&self, key: &mut u64, waiter: &Waker) -> bool {
        let old = self.lock_waiters().file(key, waiter);
        drop(old); // after the lock
        if self.executor_jobs.load(Ordering::SeqCst) > 0 {
            return true;
        }
        self.forget_jobs_waiter(*key);
        false
    }

    /// Takes back the entry of the wait `key` (it ended, or was dropped first).
    pub(crate) fn forget_jobs_waiter(&self, key: u64) {
        let gone = self.lock_waiters().remove(key);
        drop(gone); // after the lock
    }

    pub(crate) fn lock_waiters(&self) -> std::sync::MutexGuard<'_, KeyedWakers> {
        self.jobs_waiters.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A `Send + Sync` way to reach a loop from other threads: the one cross-thread door.
///
/// Get it from [`LoopHandle::threadsafe`](crate::LoopHandle::threadsafe).
///
/// # Examples
///
/// ```
/// let lt = asyncio::LoopThread::spawn()?; // a loop on its own thread
/// let (tx, rx) = std::sync::mpsc::channel();
/// lt.handle().call_soon_threadsafe(move || tx.send("ran on the loop thread").unwrap())?;
/// assert_eq!(rx.recv().unwrap(), "ran on the loop thread");
/// lt.stop()?;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone)]
pub struct ThreadsafeHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: LoopId,
}

impl ThreadsafeHandle {
    /// Schedules `f` on the loop from any thread and wakes its poll (Python's
    /// `loop.call_soon_threadsafe`). Calls from one thread run in the order they were made;
    /// made on the loop's own thread (running or between two runs), this is `call_soon`, in
    /// order with the callbacks and task wake-ups queued there, as in CPython.
    ///
    /// The [`ThreadsafeCallHandle`] it returns cancels the callback from any thread (Python's
    /// `Handle`, safe to cancel across threads since 3.14): cancelled before the loop runs
    /// it, it never runs.
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`Event loop is closed`) once the loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let door = lp.threadsafe();
    /// let got = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&got);
    /// std::thread::spawn(move || {
    ///     for i in 0..3 {
    ///         let sink = Arc::clone(&sink);
    ///         door.call_soon_threadsafe(move || sink.lock().unwrap().push(i)).unwrap();
    ///     }
    /// })
    /// .join()
    /// .unwrap();
    /// lp.run_once(None)?; // the loop's thread runs them, in the order they were made
    /// assert_eq!(*got.lock().unwrap(), [0, 1, 2]);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L5, L21, D5.
    pub fn call_soon_threadsafe<F>(&self, f: F) -> Result<ThreadsafeCallHandle, Error>
    where
        F: FnOnce() + Send + 'static,
    {
        let call = new_remote_call(f);
        // Checklist: L25. On the loop's own thread the door would queue `f` behind what the
        // ready queue holds, after a task woken there since (`wake_idle_here`).
        if let Some(inner) = super::loop_here(self.id) {
            return call_here(&super::LoopHandle { inner }, call);
        }
        if self.shared.push(Remote::Call(call.clone())) {
            Ok(ThreadsafeCallHandle { call })
        } else {
            Err(Error::loop_closed())
        }
    }

    /// Whether the loop has been closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let door = lp.threadsafe();
    /// assert!(!door.is_closed());
    /// lp.close()?;
    /// assert!(door.is_closed());
    /// assert!(door.call_soon_threadsafe(|| ()).is_err());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

fn new_remote_call<F: FnOnce() + Send + 'static>(f: F) -> Arc<dyn RemoteCall> {
    Arc::new(RemoteCell {
        cancelled: AtomicBool::new(false),
        f: Mutex::new(Some(f)),
    })
}

/// `call_soon_threadsafe` on the loop's own thread: `call_soon` of the shared call, so it
/// keeps its place among the callbacks queued there.
#[inline(never)]
fn call_here(
    lp: &super::LoopHandle,
    call: Arc<dyn RemoteCall>,
) -> Result<ThreadsafeCallHandle, Error> {
    lp.push_callback(call.clone().callback())?;
    Ok(ThreadsafeCallHandle { call })
}

impl super::LoopHandle {
    /// Schedules `f` from this thread through the thread-safe door; on the loop's own thread it
    /// is [`call_soon`](Self::call_soon). Other threads use [`threadsafe`](Self::threadsafe).
    /// The handle it returns is `Send`: another thread may cancel the callback with it.
    ///
    /// # Errors
    /// [`Error::InvalidState`] after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let tx2 = tx.clone();
    /// lp.call_soon_threadsafe(move || tx.send("ran").unwrap())?; // the closure must be Send
    /// let never = lp.call_soon_threadsafe(move || tx2.send("cancelled").unwrap())?;
    /// std::thread::spawn(move || never.cancel()).join().unwrap(); // from any thread
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["ran"]);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L5, D5.
    pub fn call_soon_threadsafe<F>(&self, f: F) -> Result<ThreadsafeCallHandle, Error>
    where
        F: FnOnce() + Send + 'static,
    {
        call_here(self, new_remote_call(f))
    }
}

/// A callback scheduled with [`call_soon_threadsafe`](ThreadsafeHandle::call_soon_threadsafe)
/// (Python's `Handle`, as 3.14's `_ThreadSafeHandle` makes it safe to cancel from any
/// thread). `Send + Sync`; dropping it does not cancel the callback.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc::{channel, TryRecvError};
///
/// let lp = asyncio::EventLoop::new()?;
/// let door = lp.threadsafe();
/// let (tx, rx) = channel();
/// let handle = std::thread::spawn(move || door.call_soon_threadsafe(move || tx.send(1).unwrap()))
///     .join()
///     .unwrap()?;
/// std::thread::spawn(move || {
///     handle.cancel(); // before the loop ran it: it never runs
///     assert!(handle.cancelled());
/// })
/// .join()
/// .unwrap();
/// lp.run_once(None)?; // the wake-up is taken; the cancelled callback does nothing
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected)); // `tx` went with the cancel
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone)]
pub struct ThreadsafeCallHandle {
    call: Arc<dyn RemoteCall>,
}

impl ThreadsafeCallHandle {
    /// Cancels the callback if it has not started yet, from any thread, and drops what it
    /// captured now, on this thread. Idempotent. A callback already running, or run, is
    /// not affected (only [`cancelled`](Self::cancelled) records the call).
    ///
    /// # Examples
    ///
    /// What the callback captured goes at the cancel, not when the loop next runs:
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let shared = Arc::new(());
    /// let captured = shared.clone();
    /// let handle = lp.call_soon_threadsafe(move || drop(captured))?;
    /// assert_eq!(Arc::strong_count(&shared), 2);
    /// handle.cancel();
    /// assert_eq!(Arc::strong_count(&shared), 1); // dropped at once
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L5.
    pub fn cancel(&self) {
        self.call.cancelled().store(true, Ordering::Release);
        self.call.take(false);
    }

    /// Whether [`cancel`](Self::cancel) was called, even if the callback had already run.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let handle = lp.call_soon_threadsafe(move || tx.send("ran").unwrap())?;
    /// assert!(!handle.cancelled());
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// handle.cancel(); // too late to stop it, but recorded
    /// assert!(handle.cancelled());
    /// assert_eq!(rx.try_recv(), Ok("ran"));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn cancelled(&self) -> bool {
        self.call.cancelled().load(Ordering::Acquire)
    }
}

impl std::fmt::Debug for ThreadsafeCallHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadsafeCallHandle")
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

impl std::fmt::Debug for ThreadsafeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadsafeHandle")
            .field("loop", &self.id)
            .finish()
    }
}

/// A loop's index in the process-wide registry.
pub(crate) type LoopId = u32;

/// How many bits of a waker's data word name the loop (the rest name the task).
pub(crate) const LOOP_ID_BITS: u32 = usize::BITS / 4;

fn registry() -> &'static Mutex<Vec<Weak<Shared>>> {
    static REGISTRY: OnceLock<Mutex<Vec<Weak<Shared>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(Vec::new()))
}

/// Gives a new loop an id: the first free registry slot.
pub(crate) fn register(shared: &Arc<Shared>) -> Result<LoopId, Error> {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    let weak = Arc::downgrade(shared);
    if let Some(i) = r.iter().position(|w| w.strong_count() == 0) {
        r[i] = weak;
        return Ok(i as LoopId);
    }
    if r.len() >= 1 << LOOP_ID_BITS {
        return Err(Error::Io(std::io::Error::other(
            "too many live event loops",
        )));
    }
    r.push(weak);
    Ok((r.len() - 1) as LoopId)
}

/// The loop with this id, if it is still alive.
pub(crate) fn lookup(id: LoopId) -> Option<Arc<Shared>> {
    let r = registry().lock().unwrap_or_else(|p| p.into_inner());
    r.get(id as usize).and_then(Weak::upgrade)
}
