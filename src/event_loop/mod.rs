//! The event loop: mio's poll, the ready queue, the timer wheel, the executor's task slab and
//! the thread-safe door, driven one iteration at a time.
//!
//! Mirrors `BaseEventLoop` in CPython `Lib/asyncio/base_events.py` (`_run_once`, `run_forever`,
//! `run_until_complete`, `stop`, `close`, `call_soon`, `call_later`, `call_at`) and
//! `asyncio.run` from `runners.py`. One iteration ([`run_once`](LoopHandle::run_once)):
//!
//! 1. poll: timeout 0 if anything is ready or the run is stopping, else until the earliest exact
//!    timer deadline (whole milliseconds through epoll, the rest with `ppoll`), else forever;
//!    with nothing queued, no thread-safe work and no timer due, the events' I/O
//!    callbacks are the whole snapshot and run as they are read (steps 2-4 in one);
//! 2. queue one `Runnable::Io` per readiness event, and drain the thread-safe queue;
//! 3. move due timers to the ready queue, in deadline order, equal deadlines FIFO; a sleep's
//!    timer, run there, wakes its task, which runs in the next iteration (as the task step
//!    that CPython's sleep-future callback schedules);
//! 4. run exactly as many ready entries as the queue held now;
//! 5. run, once each, the tasks that step 4's I/O callbacks woke: a read's bytes reach
//!    the task awaiting them in the iteration that received them, with no poll in between.
//!    Anything else queued during 4 or 5 (call_soon, a task waking itself) waits for the next
//!    iteration: a turn runs only what was ready when it began.
//!
//! Files: this one (the loop's state, construction, `call_soon`), `lifecycle.rs` (run, stop,
//! close), `runner.rs` (`asyncio.run`), `stats.rs`, `iteration.rs` (one iteration, steps 1-5),
//! `timers.rs` (`call_later` / `call_at`, exact deadlines), `clock.rs`, `precise_wait.rs`,
//! `ready.rs`, `io.rs`, `handle.rs`, `timer_wheel.rs`, `alarm.rs` (a `timerfd` for far
//! timers), `threadsafe.rs`, `exception.rs` (the context and the handler), `debug.rs`,
//! `executor/`, `buffer_pool.rs` (idle readers' buffers), `read_buf.rs` (the shared read
//! buffer's aligned window), `thread_pool.rs` (`run_in_executor`), `signals.rs`
//! (`add_signal_handler`), `child_watcher.rs` (subprocess exits).
//!
//! Ground rules: single-threaded; state lives in `Cell`/`RefCell` and no borrow is held while a
//! callback, a task poll, a waker or a `Drop` of user values runs (STYLE habit 5). The only
//! cross-thread door is [`ThreadsafeHandle`] (and task wakers, which use it). A panic or `Err`
//! escaping a callback or task goes to the exception handler and the loop carries on.
// Checklist: L2, L9, L7, D2, L3, D10, L18.

#[cfg(target_os = "linux")]
mod alarm;
pub(crate) mod buffer_pool;
pub(crate) mod child_watcher;
pub(crate) mod clock;
pub(crate) mod debug;
pub(crate) mod exception;
pub(crate) mod executor;
pub(crate) mod handle;
pub(crate) mod io;
mod iteration;
mod lifecycle;
mod precise_wait;
pub(crate) mod read_buf;
mod readiness;
pub(crate) mod ready;
mod runner;
pub(crate) mod signals;
mod stats;
pub(crate) mod thread_pool;
pub(crate) mod threadsafe;
mod timers;
mod token;
pub(crate) use exception::report_panic;
use lifecycle::LoopState;
pub use runner::{run, Runner};
pub use stats::LoopStats;
pub(crate) use timers::{Timer, TimerEntry};
pub(crate) mod timer_wheel;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::slots::Slots;
use clock::{Clock, ManualClock};
use exception::ExceptionContext;
use executor::RawTask;
use handle::{new_callback, CallbackOutput, Handle};
use io::{IoTable, WAKER_TOKEN};
use ready::{ReadyQueue, Runnable, Woken, WokenList};
use threadsafe::{LoopId, Remote, Shared, ThreadsafeHandle};
use timer_wheel::{TimerKey, Wheel};

/// A custom exception handler, as `set_exception_handler` stores it: wrapped in its caller
/// (`exception::call_custom_handler`), which bounds nesting and catches a panic.
pub(crate) type ExceptionHandler = Rc<dyn Fn(&LoopHandle, &ExceptionContext)>;

/// The loop's state. Shared by `Rc` between [`EventLoop`], [`LoopHandle`]s, tasks and transports.
pub(crate) struct LoopInner {
    /// Index in the process-wide registry; part of every task waker.
    pub(crate) id: LoopId,
    /// The epoll instance; borrowed only for the duration of one `poll` call or one
    /// (de)registration (see [`LoopInner::with_registry`]). `None` once `close()` has released it
    /// (L16).
    poll: RefCell<Option<mio::Poll>>,
    /// Reused for every poll.
    events: RefCell<mio::Events>,
    pub(crate) ready: ReadyQueue,
    /// Scheduled timers, filed by the millisecond their exact deadline falls in. Entries leave
    /// the wheel when due or cancelled. Use `insert_timer`/`reset_timer`.
    pub(crate) timers: RefCell<Wheel<Timer>>,
    /// The next `Timer::seq`.
    timer_seq: Cell<u64>,
    pub(crate) clock: Clock,
    /// `clock.now_ns()` as first read in this iteration, or [`NOW_UNSET`]: cleared when the
    /// poll returns and when a run ends, so time is read at most once per iteration by those
    /// that can live with the iteration's time (`cached_now_ns`).
    now_cache: Cell<i64>,
    /// Timers ever filed (`insert_timer`), for tests that check a path inserts none.
    pub(crate) timer_inserts: Cell<u64>,
    /// No timer is due before this (nanoseconds from the clock's origin; `i64::MAX`: none):
    /// lowered by every insert and reset, made exact again whenever due timers are collected.
    /// A cancelled timer leaves it early, which costs one early look, never a late timer.
    pub(crate) next_timer_at: Cell<i64>,
    /// Far mode (`alarm.rs`): `Some(at)` while the alarm is set for `at` (nanoseconds from the
    /// clock's origin) and no timer is due before it, so iterations need neither the clock nor
    /// a poll timeout until it rings. One value: where the alarm is set matters only in far
    /// mode (an alarm left set after far mode ended just rings once, to no effect).
    far_alarm: Cell<Option<i64>>,
    /// The far alarm, made with the loop (so a loop's descriptors do not change while it
    /// runs); `None` if the system refused one (then the loop never enters far mode) and
    /// after `close()`.
    #[cfg(target_os = "linux")]
    alarm: RefCell<Option<alarm::Alarm>>,
    /// Live tasks; a finished or cancelled task leaves at once.
    pub(crate) tasks: RefCell<Slots<Rc<dyn RawTask>>>,
    /// The running task, custom task names, the main future (`current_task`, `all_tasks`).
    pub(crate) book: executor::TaskBook,
    pub(crate) io: RefCell<IoTable>,
    pub(crate) shared: Arc<Shared>,
    /// Running or not, a stop asked for, closed. Changed only by [`LoopInner::set_state`].
    state: Cell<LoopState>,
    /// A `Runnable::Main` is in the ready queue (or in `io_woken`).
    pub(crate) main_scheduled: Cell<bool>,
    /// True while a `Runnable::Io` is being dispatched: a task woken now runs in this
    /// iteration (D10).
    pub(crate) in_io_callback: Cell<bool>,
    /// Tasks (and the main future) woken by this iteration's I/O callbacks, in wake order; run
    /// after the L3 snapshot, then empty again before the iteration ends (D10).
    pub(crate) io_woken: WokenList,
    exception_handler: RefCell<Option<ExceptionHandler>>,
    /// Custom exception handler calls in progress, nested (`exception::call_custom_handler`).
    handler_depth: Cell<u32>,
    /// Reused buffer for due timers (capacity kept between iterations).
    expired: Cell<Vec<(TimerKey, u64, Timer)>>,
    /// Retries spaced out while a protocol is held elsewhere (`protocol::when_cell_free`):
    /// each one's timer and whether its protocol is free now. Looked at before each poll
    /// while not empty (`expedite_freed`): one found free runs in the next iteration, not at its
    /// time, up to 64 ms on. Empty unless a user holds a protocol; an entry whose timer went
    /// leaves at the next look or the next retry watched.
    pub(crate) held_retries: RefCell<Vec<HeldRetry>>,
    /// Reused buffer for the thread-safe queue.
    remote: Cell<Vec<Remote>>,
    /// Debug mode (L23): time callbacks and task polls.
    debug: Cell<bool>,
    /// Debug mode warns about callbacks and polls at least this long.
    slow_callback_duration: Cell<Duration>,
    /// Connection ids handed to transports, per loop so traces are stable.
    next_conn_id: Cell<u64>,
    /// The read buffer of every plain-`Protocol` transport of this loop (256 KiB and a cache
    /// line, made on first use). Taken out for one read + `data_received`, then put back;
    /// reads land in its [`read_window`](read_buf::read_window), never at its start.
    pub(crate) read_buf: Cell<Vec<u8>>,
    /// Stream readers' spare buffers: an emptied reader buffer waits here for the next read.
    pub(crate) reader_pool: buffer_pool::BufferPool,
    /// The signal pipe and handlers, made by the first `add_signal_handler`; `None` after
    /// `close()`.
    signals: RefCell<Option<signals::Signals>>,
    /// Why the last poll failed (EINTR aside): set with a stop by `iterate`, taken by the
    /// run that stop ends, which returns it (`LoopHandle::take_poll_error`).
    poll_error: Cell<Option<std::io::Error>>,
}

/// A retry waiting for a held protocol (`LoopInner::held_retries`): its timer, and whether
/// its protocol is free now.
pub(crate) type HeldRetry = (TimerKey, Box<dyn Fn() -> bool>);

thread_local! {
    /// The loop running on this thread, if any (L15).
    static CURRENT: RefCell<Option<LoopHandle>> = const { RefCell::new(None) };
    /// The loops made on this thread, running or not: where a wake-up between two runs finds
    /// its loop without the thread-safe door. Invariant: a loop's entry leaves as the loop
    /// drops (its `Weak` would keep the loop's allocation), unless the list is borrowed or
    /// gone then; such an entry is pruned as the next loop is made.
    static HERE: RefCell<Vec<std::rc::Weak<LoopInner>>> = const { RefCell::new(Vec::new()) };
}

impl Drop for LoopInner {
    /// Takes this loop's entry out of `HERE`, so nothing of the loop outlives it. Its strong
    /// count is already zero here: the dead entries go, this one among them.
    fn drop(&mut self) {
        let _ = HERE.try_with(|here| {
            if let Ok(mut here) = here.try_borrow_mut() {
                here.retain(|w| w.strong_count() > 0);
            }
        });
    }
}

/// Wakes task `index`/`generation` of loop `id` if that loop lives on this thread but is not
/// running (a wake-up between two runs, an `Event` set between two `run_until_complete`
/// calls): queued on its ready queue as CPython's `call_soon(__wakeup)` queues it, so its step
/// runs before callbacks queued after the wake-up; through the thread-safe door it ran after
/// all of them. False otherwise (another thread's loop, a closed one, its tasks borrowed),
/// and the caller goes through the door. Off the hot path: a running loop is `CURRENT`.
// Checklist: L25.
#[cold]
#[inline(never)]
pub(crate) fn wake_idle_here(id: LoopId, index: u32, generation: u32) -> bool {
    let Some(inner) = loop_here(id) else {
        return false;
    };
    if inner.is_closed() || inner.tasks.try_borrow_mut().is_err() {
        return false;
    }
    inner.schedule_task(index, generation);
    true
}

/// Every live, open loop made on this thread (running or not), for work that must reach the
/// loop of an object that cannot say which it is right now (`streams/held_sets.rs`).
#[cold]
#[inline(never)]
pub(crate) fn loops_here() -> Vec<LoopHandle> {
    HERE.try_with(|here| {
        let Ok(here) = here.try_borrow() else {
            return Vec::new();
        };
        let live = here.iter().filter_map(std::rc::Weak::upgrade);
        live.filter(|i| !i.is_closed())
            .map(|inner| LoopHandle { inner })
            .collect()
    })
    .unwrap_or_default()
}

/// Loop `id`, if it was made on this thread (running or not) and is still alive.
#[cold]
#[inline(never)]
pub(crate) fn loop_here(id: LoopId) -> Option<Rc<LoopInner>> {
    HERE.try_with(|here| {
        let here = here.try_borrow().ok()?;
        let found = here
            .iter()
            .filter_map(std::rc::Weak::upgrade)
            .find(|i| i.id == id);
        found
    })
    .ok()
    .flatten()
}

/// The loop running on this thread, without an error.
// Out of line: never per message, and inlined, the thread-local access and the handle's clone
// were copied into each of its callers (0.7 KiB of the echo client).
#[inline(never)]
pub(crate) fn current_loop() -> Option<LoopHandle> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Wakes task `index`/`generation` of loop `id` if that loop is the one running on this thread
/// (the waker's hot path: no clone, no lock); false otherwise, and the caller goes through the
/// thread-safe door.
pub(crate) fn wake_on_current(id: LoopId, index: u32, generation: u32) -> bool {
    CURRENT
        .try_with(|c| match c.try_borrow() {
            Ok(cur) => match &*cur {
                Some(lp) if lp.inner.id == id => {
                    lp.inner.schedule_task(index, generation);
                    true
                }
                _ => false,
            },
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// The loop running on the current thread (Python's `asyncio.get_running_loop()`).
///
/// # Errors
/// [`Error::InvalidState`] (`no running event loop`) outside a running loop.
///
/// # Examples
///
/// ```
/// assert!(asyncio::get_running_loop().is_err()); // no loop runs here
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     assert!(lp.is_running());
/// })
/// .unwrap();
/// ```
pub fn get_running_loop() -> Result<LoopHandle, Error> {
    current_loop().ok_or_else(|| Error::invalid_state("no running event loop"))
}

/// An event loop you own: dropping it closes it. Dereferences to [`LoopHandle`], which has
/// every method.
///
/// ```
/// let lp = asyncio::EventLoop::new().unwrap();
/// let answer = lp.run_until_complete(async { 6 * 7 }).unwrap();
/// assert_eq!(answer, 42);
/// ```
pub struct EventLoop {
    handle: LoopHandle,
}

/// A reference to an event loop (`!Send`: a loop belongs to one thread). Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let lp = asyncio::EventLoop::new()?; // owns the loop; derefs to LoopHandle
/// let handle: asyncio::LoopHandle = lp.handle();
/// handle.call_soon(|| println!("soon"))?;
/// let stopper = handle.clone();
/// handle.call_later(Duration::from_millis(1), move || stopper.stop())?;
/// handle.run_forever()?; // "soon", then stops after 1 ms
/// assert!(!handle.is_running());
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone)]
pub struct LoopHandle {
    pub(crate) inner: Rc<LoopInner>,
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopHandle")
            .field("id", &self.inner.id)
            .field("running", &self.inner.is_running())
            .field("closed", &self.inner.is_closed())
            .finish()
    }
}

/// Two handles are equal when they name the same loop: Python's `loop is other_loop`, as in
/// `server.get_loop() is asyncio.get_running_loop()` (CPython's `test_get_loop`). Pointer
/// identity, whatever the loop's state.
///
/// # Examples
///
/// ```
/// let lp = asyncio::EventLoop::new()?;
/// let other = asyncio::EventLoop::new()?;
/// assert_eq!(lp.handle(), lp.handle().clone());
/// assert_ne!(lp.handle(), other.handle());
/// let same = lp.run_until_complete(async {
///     let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
///     let server = asyncio::start_server(noop, "127.0.0.1", 0).await?;
///     server.close();
///     // On the running loop, not another one.
///     Ok::<_, asyncio::Error>(server.get_loop() == asyncio::get_running_loop()?)
/// })??;
/// assert!(same);
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: L104.
impl PartialEq for LoopHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for LoopHandle {}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.handle.fmt(f)
    }
}

impl EventLoop {
    /// A new loop on the system's monotonic clock.
    ///
    /// # Errors
    /// `Error::Io` if the OS refuses an epoll instance or an eventfd.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// assert!(!lp.is_running() && !lp.is_closed());
    /// drop(lp); // closes it
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn new() -> Result<EventLoop, Error> {
        Self::build(Clock::system())
    }

    /// A new loop whose time moves only when `clock` is advanced (for tests). Such a loop never
    /// blocks waiting for a timer: with timers pending it polls with timeout 0.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = asyncio::ManualClock::new();
    /// let lp = asyncio::EventLoop::with_clock(clock.clone())?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// lp.call_later(Duration::from_secs(60), move || tx.send(()).unwrap())?;
    /// clock.advance(Duration::from_secs(60)); // a minute passes at once
    /// lp.run_once(Some(Duration::ZERO))?;
    /// assert!(rx.try_recv().is_ok());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn with_clock(clock: ManualClock) -> Result<EventLoop, Error> {
        Self::build(Clock::manual(clock))
    }

    fn build(clock: Clock) -> Result<EventLoop, Error> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        #[cfg(target_os = "linux")]
        let alarm = if clock.is_manual() {
            None
        } else {
            alarm::Alarm::new(poll.registry())
                .map_err(|e| debug::debug_log!("no far alarm: {e}"))
                .ok()
        };
        // Both written straight into their allocations (`new_cyclic` allocates, then calls
        // the closure): `Rc::new`/`Arc::new` would build each on the stack first, and the
        // allocation's unwinding path, which an out-of-memory abort never takes, compiled a
        // second copy of its drop (1.3 KB for the loop's). The weak handles are not used.
        let shared = Arc::new_cyclic(|_| Shared::new(waker));
        let id = threadsafe::register(&shared)?;
        let inner = Rc::new_cyclic(|_| LoopInner {
            id,
            poll: RefCell::new(Some(poll)),
            events: RefCell::new(mio::Events::with_capacity(1024)),
            ready: ReadyQueue::default(),
            timers: RefCell::new(Wheel::new()),
            timer_seq: Cell::new(0),
            clock,
            now_cache: Cell::new(NOW_UNSET),
            timer_inserts: Cell::new(0),
            next_timer_at: Cell::new(i64::MAX),
            far_alarm: Cell::new(None),
            #[cfg(target_os = "linux")]
            alarm: RefCell::new(alarm),
            tasks: RefCell::new(Slots::new()),
            book: executor::TaskBook::new(),
            io: RefCell::new(IoTable::default()),
            shared,
            state: Cell::new(LoopState::Idle),
            main_scheduled: Cell::new(false),
            in_io_callback: Cell::new(false),
            io_woken: WokenList::default(),
            exception_handler: RefCell::new(None),
            handler_depth: Cell::new(0),
            expired: Cell::new(Vec::new()),
            held_retries: RefCell::new(Vec::new()),
            remote: Cell::new(Vec::new()),
            read_buf: Cell::new(Vec::new()),
            reader_pool: buffer_pool::BufferPool::default(),
            signals: RefCell::new(None),
            poll_error: Cell::new(None),
            debug: Cell::new(debug::env_flag("ASYNCIO_DEBUG")),
            slow_callback_duration: Cell::new(crate::constants::SLOW_CALLBACK_DURATION),
            next_conn_id: Cell::new(1),
        });
        let _ = HERE.try_with(|here| {
            if let Ok(mut here) = here.try_borrow_mut() {
                here.retain(|w| w.strong_count() > 0);
                here.push(Rc::downgrade(&inner));
            }
        });
        debug::trace_from_env();
        Ok(EventLoop {
            handle: LoopHandle { inner },
        })
    }

    /// A handle to this loop, to keep in callbacks and tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let handle = lp.handle(); // cheap to clone, usable from callbacks on this thread
    /// handle.call_soon(|| println!("from a handle"))?;
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn handle(&self) -> LoopHandle {
        self.handle.clone()
    }
}

impl std::ops::Deref for EventLoop {
    type Target = LoopHandle;
    fn deref(&self) -> &LoopHandle {
        &self.handle
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        if !self.inner.is_running() {
            let _ = self.handle.close();
        }
    }
}

impl LoopHandle {
    /// The loop's clock (Python's `loop.time()`): monotonic, or a [`ManualClock`]. Timers
    /// made from it are due exactly when it says; it may trail a plain `Instant::now()` read
    /// at the same moment by about a microsecond (its origin is paired with the raw monotonic
    /// clock once), so a timer at an `Instant` read by hand is that much late, never early.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let t0 = lp.time();
    /// lp.run_until_complete(asyncio::sleep(std::time::Duration::from_millis(1)))?;
    /// assert!(lp.time() > t0);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L11.
    pub fn time(&self) -> Instant {
        self.inner.clock.now()
    }

    /// Schedules `f` to run in the next iteration's run phase, after everything already queued
    /// (Python's `loop.call_soon`). `f` may return `()` or a `Result`; an `Err` or a panic
    /// goes to the exception handler.
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`Event loop is closed`) after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// for i in 0..3 {
    ///     let tx = tx.clone();
    ///     lp.call_soon(move || tx.send(i).unwrap())?;
    /// }
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]); // FIFO
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L1, L18.
    pub fn call_soon<F, R>(&self, f: F) -> Result<Handle, Error>
    where
        F: FnOnce() -> R + 'static,
        R: CallbackOutput + 'static,
    {
        self.push_callback(new_callback(f))
    }

    /// `call_soon` past the boxing, once for every closure type: on a closed loop the boxed
    /// closure is dropped here, unrun, as it would have been unboxed. Out of line: compiled
    /// once, not into each closure type's `call_soon`.
    #[inline(never)]
    pub(crate) fn push_callback(
        &self,
        callback: Rc<dyn handle::Callback>,
    ) -> Result<Handle, Error> {
        self.inner.check_closed()?;
        self.inner.ready.push(Runnable::Callback(callback.clone()));
        Ok(Handle { callback })
    }

    /// A `Send + Sync` handle for scheduling callbacks on this loop from other threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let door = lp.threadsafe(); // Send + Sync
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// std::thread::spawn(move || door.call_soon_threadsafe(move || tx.send("hi").unwrap()))
    ///     .join()
    ///     .unwrap()?;
    /// let got = lp.run_until_complete(async move {
    ///     loop {
    ///         if let Ok(m) = rx.try_recv() {
    ///             break m;
    ///         }
    ///         asyncio::yield_now().await;
    ///     }
    /// })?;
    /// assert_eq!(got, "hi");
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn threadsafe(&self) -> ThreadsafeHandle {
        ThreadsafeHandle {
            shared: self.inner.shared.clone(),
            id: self.inner.id,
        }
    }

    /// Whether the loop is running.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// assert!(!lp.is_running());
    /// let handle = lp.handle();
    /// assert!(lp.run_until_complete(async move { handle.is_running() })?);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L15.
    pub fn is_running(&self) -> bool {
        self.inner.is_running()
    }

    /// Debug mode on or off (Python's `loop.set_debug`); also on when the loop is made
    /// with `ASYNCIO_DEBUG=1`. In debug mode a callback or task poll that runs at least
    /// [`slow_callback_duration`](Self::set_slow_callback_duration) (100 ms) is logged.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.set_debug(true); // slow callbacks are logged, unclosed writers say where they were made
    /// assert!(lp.get_debug());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L23.
    pub fn set_debug(&self, on: bool) {
        self.inner.debug.set(on);
    }

    /// Whether debug mode is on.
    ///
    /// # Examples
    ///
    /// Code running on the loop can ask, to do costlier checks only in debug mode.
    ///
    /// ```
    /// let runner = asyncio::Runner::new().debug(true);
    /// let on = runner.run(async { asyncio::get_running_loop().map(|lp| lp.get_debug()) })?;
    /// assert!(on?);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn get_debug(&self) -> bool {
        self.inner.debug.get()
    }

    /// The threshold of the slow-callback warning (Python's `loop.slow_callback_duration`).
    ///
    /// # Examples
    ///
    /// In debug mode, a callback that blocks the loop for longer is reported through `log`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use std::sync::Mutex;
    /// # static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());
    /// # struct Capture;
    /// # impl log::Log for Capture {
    /// #     fn enabled(&self, _: &log::Metadata) -> bool { true }
    /// #     fn log(&self, r: &log::Record) { WARNINGS.lock().unwrap().push(r.args().to_string()) }
    /// #     fn flush(&self) {}
    /// # }
    /// # log::set_logger(&Capture).unwrap();
    /// # log::set_max_level(log::LevelFilter::Warn);
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.set_debug(true);
    /// lp.set_slow_callback_duration(Duration::from_millis(5));
    /// lp.call_soon(|| std::thread::sleep(Duration::from_millis(20)))?; // blocks the loop
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// let warnings = WARNINGS.lock().unwrap();
    /// assert!(warnings.iter().any(|w| w.starts_with("Executing") && w.contains(" took ")));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.inner.slow_callback_duration.set(d);
    }

    /// The threshold of the slow-callback warning, as Python reads
    /// `loop.slow_callback_duration`: [`SLOW_CALLBACK_DURATION`] (100 ms) until
    /// [`set_slow_callback_duration`](Self::set_slow_callback_duration) changes it.
    ///
    /// [`SLOW_CALLBACK_DURATION`]: crate::constants::SLOW_CALLBACK_DURATION
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// assert_eq!(lp.slow_callback_duration(), Duration::from_millis(100));
    /// lp.set_slow_callback_duration(Duration::from_millis(5));
    /// assert_eq!(lp.slow_callback_duration(), Duration::from_millis(5));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn slow_callback_duration(&self) -> Duration {
        self.inner.slow_callback_duration.get()
    }

    /// A new connection id for this loop's traces.
    pub(crate) fn next_conn_id(&self) -> u64 {
        let id = self.inner.next_conn_id.get();
        self.inner.next_conn_id.set(id + 1);
        id
    }

    /// Whether [`close`](Self::close) has been called.
    ///
    /// # Examples
    ///
    /// A handle can outlive its loop; dropping the [`EventLoop`] closes it.
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// assert!(!handle.is_closed());
    /// drop(lp);
    /// assert!(handle.is_closed());
    /// assert!(handle.call_soon(|| ()).is_err()); // nothing runs on a closed loop
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L16.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

/// `LoopInner::now_cache` holds no time.
const NOW_UNSET: i64 = i64::MIN;

impl LoopInner {
    /// Nanoseconds from the clock's origin to the start of this iteration's work: read once
    /// per iteration (after the poll), then reused. Runs of the loop reset it, so outside
    /// `run_*` it reads the clock.
    #[inline]
    pub(crate) fn cached_now_ns(&self) -> i64 {
        let now = self.now_cache.get();
        if now != NOW_UNSET {
            return now;
        }
        self.read_now_ns()
    }

    #[cold]
    #[inline(never)]
    fn read_now_ns(&self) -> i64 {
        let now = self.clock.now_ns();
        if self.is_running() {
            self.now_cache.set(now);
        }
        now
    }

    /// Forgets the cached time: the poll returned.
    #[inline]
    pub(crate) fn clear_now_cache(&self) {
        self.now_cache.set(NOW_UNSET);
    }

    /// Lowers `next_timer_at` to `at`, and leaves far mode if `at` comes before the alarm.
    #[inline]
    pub(crate) fn timer_due_by(&self, at: i64) {
        if at < self.next_timer_at.get() {
            self.next_timer_at.set(at);
            if self.far_alarm.get().is_some_and(|alarm| at < alarm) {
                self.far_alarm.set(None);
            }
        }
    }

    /// Whether the loop is in far mode (`far_alarm`).
    #[inline]
    pub(crate) fn is_far(&self) -> bool {
        self.far_alarm.get().is_some()
    }

    /// Sets the far alarm for `at` (nanoseconds from the clock's origin) and enters far mode;
    /// false where there is no alarm (not Linux, a manual clock, a failed system call).
    pub(crate) fn enter_far(&self, at: i64) -> bool {
        #[cfg(target_os = "linux")]
        {
            let Some(raw) = self.clock.raw_of(at) else {
                return false;
            };
            let set = match &*self.alarm.borrow() {
                Some(a) => a.set(raw).is_ok(),
                None => false,
            };
            if !set {
                return false;
            }
            self.far_alarm.set(Some(at));
            true
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = at;
            false
        }
    }

    /// Closes the epoll instance and the far alarm (`close()`, L16; the waker went with
    /// `Shared::close`). Every registration is gone by then (`take_io`).
    pub(crate) fn release_descriptors(&self) {
        let poll = self.poll.borrow_mut().take();
        drop(poll);
        #[cfg(target_os = "linux")]
        {
            let alarm = self.alarm.borrow_mut().take();
            drop(alarm);
        }
    }

    /// The far alarm rang: back to exact timeouts.
    #[cold]
    pub(crate) fn alarm_rang(&self) {
        self.far_alarm.set(None);
        #[cfg(target_os = "linux")]
        if let Some(a) = &*self.alarm.borrow() {
            a.clear();
        }
    }

    pub(crate) fn schedule_main(&self) {
        if !self.main_scheduled.replace(true) {
            self.push_woken(Woken::Main);
        }
    }
}

impl std::os::fd::AsRawFd for LoopHandle {
    /// The loop's epoll descriptor: readable whenever the loop has I/O (or a cross-thread
    /// wake-up) to process. Poll it in a host loop, then call `run_once(Some(Duration::ZERO))`.
    /// `-1` once the loop is closed (`close()` releases it).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.poll_fd()
    }
}

impl LoopHandle {
    /// The loop's epoll descriptor (see the `AsRawFd` impl), for embedding.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let fd = lp.as_raw_fd(); // register it with your own poll/epoll/select
    /// assert!(fd >= 0);
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// lp.call_soon(move || tx.send(()).unwrap())?;
    /// // Your host loop: wait on `fd` for at most next_timeout(), then run one turn.
    /// assert_eq!(lp.next_timeout(), Some(Duration::ZERO)); // work is ready now
    /// lp.run_once(Some(Duration::ZERO))?;
    /// assert!(rx.try_recv().is_ok());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(self)
    }
}

#[cfg(test)]
mod tests {
    use super::{EventLoop, HERE};

    /// A loop's entry in the thread's list of loops leaves when the loop's last handle drops,
    /// not when the next loop is made: its `Weak` held the loop's whole allocation until then.
    #[test]
    fn a_loop_leaves_the_threads_list_as_it_drops() {
        let entries = || HERE.with(|here| here.borrow().len());
        let before = entries();
        let kept = EventLoop::new().unwrap();
        let lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        assert_eq!(entries(), before + 2);
        drop(lp);
        assert_eq!(
            entries(),
            before + 2,
            "a handle keeps its (closed) loop alive"
        );
        drop(handle);
        assert_eq!(entries(), before + 1, "the dropped loop left the list");
        drop(kept);
        assert_eq!(entries(), before);
    }
}
