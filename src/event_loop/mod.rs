//! The event loop: mio's poll, the ready queue, the timer wheel, the executor's task slab and
//! the thread-safe door, driven one iteration at a time.
//!
//! Mirrors `BaseEventLoop` in CPython `Lib/asyncio/base_events.py` (`_run_once`, `run_forever`,
//! `run_until_complete`, `stop`, `close`, `call_soon`, `call_later`, `call_at`) and
//! `asyncio.run` from `runners.py`. One iteration ([`run_once`](LoopHandle::run_once)):
//!
//! 1. poll: timeout 0 if anything is ready or a stop is pending, else until the earliest exact
//!    timer deadline (whole milliseconds through epoll, the rest with `ppoll`), else forever;
//!    with nothing queued, no thread-safe work and no timer due, the events' I/O
//!    callbacks are the whole snapshot and run as they are read (steps 2-4 in one);
//! 2. queue one `Runnable::Io` per readiness event, and drain the thread-safe queue;
//! 3. move due timers to the ready queue, in deadline order, equal deadlines FIFO;
//! 4. run exactly as many ready entries as the queue held now;
//! 5. run, once each, the tasks that step 4's I/O callbacks woke: a read's bytes reach
//!    the task awaiting them in the iteration that received them, with no poll in between.
//!    Anything else queued during 4 or 5 (call_soon, a task waking itself) waits for the next
//!    iteration: a turn runs only what was ready when it began.
//!
//! Files: this one (the loop's state, construction, `call_soon`, run/stop/close, exception
//! handler, `asyncio.run`), `iteration.rs` (one iteration, steps 1-5), `timers.rs` (`call_later`
//! / `call_at`, exact deadlines), `clock.rs`, `precise_wait.rs`, `ready.rs`, `io.rs`,
//! `handle.rs`, `timer_wheel.rs`, `threadsafe.rs`, `exception.rs`, `debug.rs`, `executor/`.
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
mod precise_wait;
pub(crate) mod ready;
mod signals;
pub(crate) mod thread_pool;
pub(crate) mod threadsafe;
mod timers;
pub(crate) use timers::{Timer, TimerEntry};
pub(crate) mod timer_wheel;

use std::cell::{Cell, RefCell};
use std::future::{Future, IntoFuture};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::slots::Slots;
use clock::{Clock, ManualClock};
use exception::{default_exception_handler, ExceptionContext, PanicError};
use executor::RawTask;
use handle::{new_callback, CallbackOutput, Handle};
use io::{IoTable, WAKER_TOKEN};
use ready::{ReadyQueue, Runnable, Woken, WokenList};
use threadsafe::{LoopId, Remote, Shared, ThreadsafeHandle};
use timer_wheel::{TimerKey, Wheel};

type ExceptionHandler = Rc<dyn Fn(&LoopHandle, &ExceptionContext)>;

/// The loop's state. Shared by `Rc` between [`EventLoop`], [`LoopHandle`]s, tasks and transports.
pub(crate) struct LoopInner {
    /// Index in the process-wide registry; part of every task waker.
    pub(crate) id: LoopId,
    /// Borrowed only for the duration of one `poll` call.
    poll: RefCell<mio::Poll>,
    /// Reused for every poll.
    events: RefCell<mio::Events>,
    /// A clone of the poll's registry, so sources can (de)register while `poll` is borrowed.
    pub(crate) registry: mio::Registry,
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
    /// Far mode (`alarm.rs`): the alarm is set for `alarm_at` and no timer is due before it,
    /// so iterations need neither the clock nor a poll timeout until it rings.
    pub(crate) far: Cell<bool>,
    /// Where the alarm is set (nanoseconds from the clock's origin), while `far`.
    alarm_at: Cell<i64>,
    /// The far alarm, made with the loop (so a loop's descriptors do not change while it
    /// runs); `None` if the system refused one: then the loop never enters far mode.
    #[cfg(target_os = "linux")]
    alarm: Option<alarm::Alarm>,
    /// Live tasks; a finished or cancelled task leaves at once.
    pub(crate) tasks: RefCell<Slots<Rc<dyn RawTask>>>,
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
    /// Reused buffer for due timers (capacity kept between iterations).
    expired: Cell<Vec<(TimerKey, u64, Timer)>>,
    /// Reused buffer for the thread-safe queue.
    remote: Cell<Vec<Remote>>,
    /// Debug mode (L23): time callbacks and task polls.
    debug: Cell<bool>,
    /// Debug mode warns about callbacks and polls at least this long.
    slow_callback_duration: Cell<Duration>,
    /// Connection ids handed to transports, per loop so traces are stable.
    next_conn_id: Cell<u64>,
    /// The read buffer of every plain-`Protocol` transport of this loop (256 KiB, made on first
    /// use). Taken out for one read + `data_received`, then put back.
    pub(crate) read_buf: Cell<Vec<u8>>,
    /// Stream readers' spare buffers: an emptied reader buffer waits here for the next read.
    pub(crate) reader_pool: buffer_pool::BufferPool,
    /// The signal pipe and handlers, made by the first `add_signal_handler`; `None` after
    /// `close()`.
    signals: RefCell<Option<signals::Signals>>,
}

/// Where a loop is in its life (L12-L16). Changed only by [`LoopInner::set_state`]:
///
/// ```text
///   Idle ──stop()──► IdleStopRequested          (L13: the next run does one iteration)
///    │ run                 │ run
///    ▼                     ▼
///   Running ──stop()──► Stopping                 (the run ends after this iteration)
///    └────── the run ends ─┴──► Idle
///   Idle / IdleStopRequested ──close()──► Closed (final; a running loop refuses close)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum LoopState {
    Idle,
    Running,
    Closed,
    // The two "stop asked for" states come last: `stop_requested`, made on every iteration,
    // is one comparison, as cheap as the boolean it replaces.
    IdleStopRequested,
    Stopping,
}

impl LoopInner {
    /// The one place the loop's state changes; the moves of the [`LoopState`] diagram and
    /// staying put are the only legal ones.
    fn set_state(&self, to: LoopState) {
        use LoopState::*;
        let from = self.state.get();
        debug_assert!(
            from == to
                || matches!(
                    (from, to),
                    (Idle, IdleStopRequested | Running | Closed)
                        | (IdleStopRequested, Stopping | Closed)
                        | (Running, Stopping | Idle)
                        | (Stopping, Idle)
                ),
            "loop state {from:?} -> {to:?}"
        );
        self.state.set(to);
    }

    /// In `run_forever`, `run_until_complete` or `run_once`.
    pub(crate) fn is_running(&self) -> bool {
        matches!(self.state.get(), LoopState::Running | LoopState::Stopping)
    }

    /// `stop()` was called and the run it ends (this one or the next) has not ended yet.
    #[inline]
    pub(crate) fn stop_requested(&self) -> bool {
        self.state.get() as u8 >= LoopState::IdleStopRequested as u8
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.get() == LoopState::Closed
    }

    pub(crate) fn check_closed(&self) -> Result<(), Error> {
        if self.is_closed() {
            Err(Error::loop_closed())
        } else {
            Ok(())
        }
    }
}

thread_local! {
    /// The loop running on this thread, if any (L15).
    static CURRENT: RefCell<Option<LoopHandle>> = const { RefCell::new(None) };
}

/// The loop running on this thread, without an error.
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
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        #[cfg(target_os = "linux")]
        let alarm = if clock.is_manual() {
            None
        } else {
            alarm::Alarm::new(&registry)
                .map_err(|e| log::debug!(target: "asyncio", "no far alarm: {e}"))
                .ok()
        };
        let shared = Arc::new(Shared::new(waker));
        let id = threadsafe::register(&shared)?;
        let inner = LoopInner {
            id,
            poll: RefCell::new(poll),
            events: RefCell::new(mio::Events::with_capacity(1024)),
            registry,
            ready: ReadyQueue::default(),
            timers: RefCell::new(Wheel::new()),
            timer_seq: Cell::new(0),
            clock,
            now_cache: Cell::new(NOW_UNSET),
            timer_inserts: Cell::new(0),
            next_timer_at: Cell::new(i64::MAX),
            far: Cell::new(false),
            alarm_at: Cell::new(i64::MAX),
            #[cfg(target_os = "linux")]
            alarm,
            tasks: RefCell::new(Slots::new()),
            io: RefCell::new(IoTable::default()),
            shared,
            state: Cell::new(LoopState::Idle),
            main_scheduled: Cell::new(false),
            in_io_callback: Cell::new(false),
            io_woken: WokenList::default(),
            exception_handler: RefCell::new(None),
            expired: Cell::new(Vec::new()),
            remote: Cell::new(Vec::new()),
            read_buf: Cell::new(Vec::new()),
            reader_pool: buffer_pool::BufferPool::default(),
            signals: RefCell::new(None),
            debug: Cell::new(debug::env_flag("ASYNCIO_DEBUG")),
            slow_callback_duration: Cell::new(crate::constants::SLOW_CALLBACK_DURATION),
            next_conn_id: Cell::new(1),
        };
        debug::trace_from_env();
        Ok(EventLoop {
            handle: LoopHandle {
                inner: Rc::new(inner),
            },
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

/// Resets the running state however `run_forever` ends, unwinding included (L12).
struct RunningGuard<'a> {
    inner: &'a LoopInner,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.inner.set_state(LoopState::Idle);
        self.inner.now_cache.set(NOW_UNSET);
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
    }
}

impl LoopHandle {
    /// The loop's clock (Python's `loop.time()`): monotonic, or a [`ManualClock`].
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
    /// closure is dropped here, unrun, as it would have been unboxed.
    fn push_callback(&self, callback: Rc<dyn handle::Callback>) -> Result<Handle, Error> {
        self.inner.check_closed()?;
        self.inner.ready.push(Runnable::Callback(callback.clone()));
        Ok(Handle { callback })
    }

    /// Schedules `f` from this thread through the thread-safe door; on the loop's own thread it
    /// is [`call_soon`](Self::call_soon). Other threads use [`threadsafe`](Self::threadsafe).
    ///
    /// # Errors
    /// [`Error::InvalidState`] after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// lp.call_soon_threadsafe(move || tx.send("ran").unwrap())?; // the closure must be Send
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// assert_eq!(rx.try_recv(), Ok("ran"));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: D5.
    pub fn call_soon_threadsafe<F>(&self, f: F) -> Result<(), Error>
    where
        F: FnOnce() + Send + 'static,
    {
        self.call_soon(f).map(drop)
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
    pub fn get_debug(&self) -> bool {
        self.inner.debug.get()
    }

    /// The threshold of the slow-callback warning (Python's `loop.slow_callback_duration`).
    pub fn set_slow_callback_duration(&self, d: Duration) {
        self.inner.slow_callback_duration.set(d);
    }

    /// A new connection id for this loop's traces.
    pub(crate) fn next_conn_id(&self) -> u64 {
        let id = self.inner.next_conn_id.get();
        self.inner.next_conn_id.set(id + 1);
        id
    }

    /// Whether [`close`](Self::close) has been called.
    // Checklist: L16.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Asks the loop to return from `run_forever` after the current iteration. Before
    /// `run_forever`, makes its next run do exactly one iteration. Repeated calls are one stop.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// lp.call_soon(move || handle.stop())?;
    /// lp.run_forever()?;
    /// assert!(!lp.is_running());
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L13.
    pub fn stop(&self) {
        let inner = &self.inner;
        match inner.state.get() {
            LoopState::Idle => inner.set_state(LoopState::IdleStopRequested),
            LoopState::Running => inner.set_state(LoopState::Stopping),
            // Already asked, or closed: nothing to stop.
            LoopState::IdleStopRequested | LoopState::Stopping | LoopState::Closed => {}
        }
    }

    fn enter(&self) -> Result<RunningGuard<'_>, Error> {
        self.inner.check_closed()?;
        if self.inner.is_running() {
            return Err(Error::invalid_state("This event loop is already running"));
        }
        if current_loop().is_some() {
            return Err(Error::invalid_state(
                "Cannot run the event loop while another loop is running",
            ));
        }
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
        self.inner.set_state(if self.inner.stop_requested() {
            LoopState::Stopping // L13: stop() before the run: one iteration
        } else {
            LoopState::Running
        });
        Ok(RunningGuard { inner: &self.inner })
    }

    /// Runs iterations until [`stop`](Self::stop) is called (Python's `loop.run_forever`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] if the loop is closed, already running, or another loop runs on
    /// this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// lp.call_later(Duration::from_millis(1), move || handle.stop())?;
    /// lp.run_forever()?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L12.
    pub fn run_forever(&self) -> Result<(), Error> {
        self.run_forever_with(&mut || {}, false)
    }

    /// Runs iterations until stopped, with `main` as the main future's step. `with_main`
    /// queues that step's first run once the loop is entered: a refused run queues nothing.
    fn run_forever_with(&self, main: &mut dyn FnMut(), with_main: bool) -> Result<(), Error> {
        let _guard = self.enter()?;
        if with_main {
            self.inner.schedule_main();
        }
        loop {
            self.iterate(main, None);
            if self.inner.stop_requested() {
                break;
            }
        }
        Ok(())
    }

    /// Runs the loop until `fut` completes and returns its output (Python's
    /// `loop.run_until_complete`). `fut` is polled on this stack, so it need not be
    /// `'static`; its first poll happens in the first iteration, in FIFO order with callbacks
    /// already queued. The loop stops one iteration after `fut` completes, so callbacks `fut`
    /// scheduled just before finishing still run.
    ///
    /// A panic in `fut` propagates to the caller after the loop's running state is reset.
    ///
    /// # Errors
    /// [`Error::InvalidState`] as for [`run_forever`](Self::run_forever), or
    /// `Event loop stopped before Future completed.` if [`stop`](Self::stop) ended the run first.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let data = vec![1, 2, 3];
    /// let sum = lp.run_until_complete(async { data.iter().sum::<i32>() })?; // borrows: no 'static
    /// assert_eq!(sum, 6);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L14.
    pub fn run_until_complete<F: IntoFuture>(&self, fut: F) -> Result<F::Output, Error> {
        let mut fut = pin!(fut.into_future());
        let mut output = None;
        let waker = executor::main_waker(self.inner.id);
        self.inner.check_closed()?;
        let lp = self.clone();
        let mut main = || {
            if output.is_some() {
                return;
            }
            let mut cx = Context::from_waker(&waker);
            if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
                output = Some(v);
                let stopper = lp.clone();
                let _ = lp.call_soon(move || stopper.stop());
            }
        };
        self.run_forever_with(&mut main, true)?;
        output.ok_or_else(|| Error::invalid_state("Event loop stopped before Future completed."))
    }

    /// Runs one iteration, polling for at most `timeout` (`None`: until the next timer or
    /// event), and says whether anything is left to do (callbacks, timers, tasks or I/O
    /// registrations). For embedding the loop in another program's loop (with
    /// [`as_raw_fd`](Self::as_raw_fd) and [`next_timeout`](Self::next_timeout));
    /// `run_forever` is this in a loop.
    ///
    /// # Errors
    /// As for [`run_forever`](Self::run_forever).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// lp.call_soon(move || tx.send("ran").unwrap())?;
    /// lp.run_once(Some(Duration::ZERO))?; // one turn, from your own loop
    /// assert_eq!(rx.try_recv(), Ok("ran"));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L2.
    pub fn run_once(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        {
            let _guard = self.enter()?;
            self.iterate(&mut || {}, timeout);
        }
        // What stats() counts, without its transport totals (this runs once per turn).
        let inner = &self.inner;
        Ok(!inner.ready.is_empty()
            || !inner.timers.borrow().is_empty()
            || inner.tasks.borrow().len() > 0
            || inner.io.borrow().len() > 0)
    }

    /// Closes the loop (Python's `loop.close`): queued callbacks and timers are dropped
    /// without running, tasks still pending are dropped with a "Task was destroyed but it is
    /// pending!" report each, registrations are released. Idempotent.
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`Cannot close a running event loop`) while running.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.close()?;
    /// assert!(lp.is_closed());
    /// assert!(lp.call_soon(|| ()).is_err()); // Event loop is closed
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L16, L35.
    pub fn close(&self) -> Result<(), Error> {
        let inner = &*self.inner;
        if inner.is_running() {
            return Err(Error::invalid_state("Cannot close a running event loop"));
        }
        if inner.is_closed() {
            return Ok(());
        }
        inner.set_state(LoopState::Closed);
        let remote = inner.shared.close();
        let ready = inner.ready.take_all();
        inner.io_woken.clear();
        let mut timers = Vec::new();
        {
            let mut wheel = inner.timers.borrow_mut();
            let all = wheel.elapsed().max(u64::MAX / 2);
            iteration::take_due(&mut wheel, all, i64::MAX, &mut timers);
        }
        let tasks = inner.tasks.borrow_mut().drain();
        // Dropped with no borrow held: their Drop may call back into the loop.
        drop((remote, ready, timers));
        for task in tasks {
            if task.abandon() {
                self.call_exception_handler(
                    &ExceptionContext::new("Task was destroyed but it is pending!")
                        .with_detail("task", task.name()),
                );
            }
        }
        self.close_signals();
        inner.take_io();
        Ok(())
    }

    /// Installs `handler` as the exception handler; `None` restores the default, which
    /// logs one error record on target `asyncio`: through `log` when a logger is
    /// installed, else on stderr, so a failure is never silent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use asyncio::{ExceptionContext, LoopHandle};
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let log = seen.clone();
    /// lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
    ///     log.borrow_mut().push(ctx.message.clone());
    /// }));
    /// lp.call_soon(|| Err::<(), _>("failed"))?;
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// assert_eq!(seen.borrow().len(), 1);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L19, L20.
    pub fn set_exception_handler<F>(&self, handler: Option<F>)
    where
        F: Fn(&LoopHandle, &ExceptionContext) + 'static,
    {
        let new = handler.map(|h| Rc::new(h) as ExceptionHandler);
        let old = std::mem::replace(&mut *self.inner.exception_handler.borrow_mut(), new);
        // Dropped after the borrow: the old handler's captures may use the loop on drop.
        drop(old);
    }

    /// Whether a custom exception handler is installed.
    pub fn has_exception_handler(&self) -> bool {
        self.inner.exception_handler.borrow().is_some()
    }

    /// Reports `ctx` to the exception handler. If a custom handler panics, the default
    /// handler reports that with message `Unhandled error in exception handler`.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{ExceptionContext, LoopHandle};
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.set_exception_handler(Some(|_: &LoopHandle, ctx: &ExceptionContext| {
    ///     assert_eq!(ctx.message, "disk full");
    /// }));
    /// lp.call_exception_handler(&ExceptionContext::new("disk full"));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L19.
    pub fn call_exception_handler(&self, ctx: &ExceptionContext) {
        let handler = self.inner.exception_handler.borrow().clone();
        let Some(handler) = handler else {
            default_exception_handler(ctx);
            return;
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(self, ctx))) {
            let panic = PanicError::from_payload(&*payload);
            default_exception_handler(
                &ExceptionContext::new("Unhandled error in exception handler")
                    .with_exception(Box::new(panic))
                    .with_detail("context", ctx.to_string()),
            );
        }
    }
}

/// Counters of what a loop holds, for tests and leak checks ([`LoopHandle::stats`]).
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let lp = asyncio::get_running_loop().unwrap();
///     let before = lp.stats();
///     let task = asyncio::spawn(asyncio::yield_now());
///     assert_eq!(lp.stats().tasks, before.tasks + 1);
///     task.await.unwrap();
///     assert_eq!(lp.stats().tasks, before.tasks, "an ended task leaves nothing behind");
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoopStats {
    /// Tasks spawned and not yet ended.
    pub tasks: usize,
    /// Timers scheduled and not yet due or cancelled (sleeps included).
    pub timers: usize,
    /// I/O registrations: transports, listeners, `add_reader`/`add_writer` descriptors.
    pub io_registrations: usize,
    /// Entries waiting in the ready queue.
    pub ready: usize,
    /// Stream readers holding a read buffer: those with unread bytes, or with a buffer grown
    /// past the pool's largest size. A reader that is waiting for data holds none.
    pub reader_buffers: usize,
    /// Read buffers kept for reuse by this loop's stream readers (a few dozen at most).
    pub pooled_buffers: usize,
    /// Bytes waiting in all the socket transports' write buffers.
    pub write_buffered: usize,
    /// Socket transports whose protocol is paused for writing (above the high-water mark).
    pub writing_paused: usize,
    /// Socket transports not reading (paused by their protocol, or closing).
    pub reading_paused: usize,
}

impl LoopHandle {
    /// What the loop holds right now. A closed connection or an ended task leaves nothing here.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.call_soon(|| ())?;
    /// assert_eq!(lp.stats().ready, 1);
    /// lp.run_until_complete(asyncio::yield_now())?;
    /// assert_eq!(lp.stats(), asyncio::LoopStats::default()); // nothing left behind
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn stats(&self) -> LoopStats {
        let totals = self.inner.io.borrow().buffer_totals();
        LoopStats {
            tasks: self.inner.tasks.borrow().len(),
            timers: self.inner.timers.borrow().len(),
            io_registrations: self.inner.io.borrow().len(),
            ready: self.inner.ready.len(),
            reader_buffers: self.inner.reader_pool.held(),
            pooled_buffers: self.inner.reader_pool.pooled(),
            write_buffered: totals.write_buffered,
            writing_paused: totals.writing_paused,
            reading_paused: totals.reading_paused,
        }
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
            if at < self.alarm_at.get() {
                self.far.set(false);
            }
        }
    }

    /// Sets the far alarm for `at` (nanoseconds from the clock's origin) and enters far mode;
    /// false where there is no alarm (not Linux, a manual clock, a failed system call).
    pub(crate) fn enter_far(&self, at: i64) -> bool {
        #[cfg(target_os = "linux")]
        {
            let Some(raw) = self.clock.raw_of(at) else {
                return false;
            };
            let Some(a) = self.alarm.as_ref() else {
                return false;
            };
            if a.set(raw).is_err() {
                return false;
            }
            self.alarm_at.set(at);
            self.far.set(true);
            true
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = at;
            false
        }
    }

    /// The far alarm rang: back to exact timeouts.
    #[cold]
    pub(crate) fn alarm_rang(&self) {
        self.far.set(false);
        self.alarm_at.set(i64::MAX);
        #[cfg(target_os = "linux")]
        if let Some(a) = self.alarm.as_ref() {
            a.clear();
        }
    }

    pub(crate) fn schedule_main(&self) {
        if !self.main_scheduled.replace(true) {
            self.push_woken(Woken::Main);
        }
    }
}

/// Reports a caught panic through the exception handler.
pub(crate) fn report_panic(
    lp: &LoopHandle,
    message: &str,
    payload: Box<dyn std::any::Any + Send>,
    details: &[(&'static str, i32)],
) {
    let mut ctx = ExceptionContext::new(message)
        .with_exception(Box::new(PanicError::from_payload(&*payload)));
    for (k, v) in details {
        ctx = ctx.with_detail(k, v.to_string());
    }
    lp.call_exception_handler(&ctx);
}

/// Runs `fut` to completion on a new loop, then cancels and drains every task left, and closes
/// the loop (Python's `asyncio.run`).
///
/// ```
/// let out = asyncio::run(async {
///     asyncio::sleep(std::time::Duration::from_millis(1)).await;
///     "done"
/// });
/// assert_eq!(out.unwrap(), "done");
/// ```
///
/// # Ctrl-C
///
/// As Python 3.11's `asyncio.Runner`: when called on the main thread while SIGINT has its
/// default disposition (no handler of yours), `run` handles SIGINT through the loop
/// ([`LoopHandle::add_signal_handler`]). The first SIGINT cancels `fut` (it is dropped at the
/// end of that loop iteration, so servers it owns close and remove their Unix socket files),
/// every remaining task is cancelled and drained, the loop is closed, and `run` returns
/// [`Error::KeyboardInterrupt`]. The process is not exited behind your back: exit with status
/// 130 yourself, as a shell expects of a program ended by Ctrl-C. SIGINT gets its default
/// disposition back as soon as `fut` is gone, so a second Ctrl-C during the shutdown ends the
/// process at once (CPython raises `KeyboardInterrupt` then, to the same effect).
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     match asyncio::run(std::future::pending::<()>()) {
///         Err(asyncio::Error::KeyboardInterrupt) => {
///             eprintln!("Interrupted");
///             std::process::ExitCode::from(130)
///         }
///         _ => std::process::ExitCode::SUCCESS,
///     }
/// }
/// ```
///
/// # Errors
/// [`Error::InvalidState`] (`asyncio.run() cannot be called from a running event loop`) inside
/// a running loop; `Error::Io` if the loop cannot be created; [`Error::KeyboardInterrupt`]
/// after a SIGINT cancelled `fut`.
// Checklist: L41.
pub fn run<F: IntoFuture>(fut: F) -> Result<F::Output, Error> {
    // Only the run itself depends on `F`: set-up and tear-down are compiled once, not once
    // per future type.
    let runner = Runner::start()?;
    let result = runner.lp.run_until_complete(fut);
    runner.finish(result.is_err())?;
    result
}

/// [`run`]'s loop and its Ctrl-C state, between [`start`](Runner::start) and
/// [`finish`](Runner::finish).
struct Runner {
    lp: EventLoop,
    /// Set by the SIGINT handler.
    interrupted: Rc<Cell<bool>>,
    /// Whether `run` installed that handler (main thread, default disposition).
    on_sigint: bool,
}

impl Runner {
    #[inline(never)]
    fn start() -> Result<Runner, Error> {
        if current_loop().is_some() {
            return Err(Error::invalid_state(
                "asyncio.run() cannot be called from a running event loop",
            ));
        }
        let lp = EventLoop::new()?;
        let interrupted = Rc::new(Cell::new(false));
        // CPython's Runner: only on the main thread, and only over the default handler.
        let on_sigint = signals::is_main_thread() && signals::is_default(libc::SIGINT);
        if on_sigint {
            let (flag, stopper) = (interrupted.clone(), lp.handle());
            lp.add_signal_handler(libc::SIGINT, move || {
                flag.set(true);
                stopper.stop(); // `fut` is dropped (cancelled) when run_until_complete returns
            })?;
        }
        Ok(Runner {
            lp,
            interrupted,
            on_sigint,
        })
    }

    /// Restores SIGINT, drains the tasks, closes the loop; a failed run that SIGINT stopped
    /// becomes [`Error::KeyboardInterrupt`].
    #[inline(never)]
    fn finish(self, failed: bool) -> Result<(), Error> {
        let Runner {
            lp,
            interrupted,
            on_sigint,
        } = self;
        if on_sigint {
            let _ = lp.remove_signal_handler(libc::SIGINT);
        }
        lp.shutdown_tasks();
        lp.close()?;
        if failed && interrupted.get() {
            return Err(Error::KeyboardInterrupt);
        }
        Ok(())
    }
}

impl std::os::fd::AsRawFd for LoopHandle {
    /// The loop's epoll descriptor: readable whenever the loop has I/O (or a cross-thread
    /// wake-up) to process. Poll it in a host loop, then call `run_once(Some(Duration::ZERO))`.
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.inner.poll.borrow().as_raw_fd()
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

    /// Cancels every task and runs the loop until all of them have ended (L41's
    /// `_cancel_all_tasks`). Bounded: tasks that spawn new tasks while being dropped get at most
    /// 100 rounds.
    pub(crate) fn shutdown_tasks(&self) {
        for _ in 0..100 {
            let keys = self.inner.tasks.borrow().keys();
            if keys.is_empty() {
                return;
            }
            for key in keys {
                self.inner.request_cancel(key);
            }
            self.stop(); // one iteration: each cancelled task drops its future in it
            let _ = self.run_forever_with(&mut || {}, false);
        }
    }
}
