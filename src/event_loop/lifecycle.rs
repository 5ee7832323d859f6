//! A loop's life: run, stop, close (CPython `BaseEventLoop.run_forever`,
//! `run_until_complete`, `stop`, `close`, `is_running`, `is_closed` in
//! `Lib/asyncio/base_events.py`).
//!
//! Ground rules: one [`LoopState`], changed only by `LoopInner::set_state`; a run enters
//! through `enter` (which refuses a closed or running loop, or a second loop on the thread)
//! and leaves through `RunningGuard`'s drop, whatever way it ends (L12); a refused run queues
//! nothing.
// Checklist: L12, L13, L14, L15, L16.

use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::exception;
use super::{current_loop, executor, iteration, ready, LoopHandle, LoopInner, CURRENT, NOW_UNSET};
use crate::error::Error;

/// Where a loop is in its life (L12-L16). Changed only by [`LoopInner::set_state`]:
///
/// ```text
///   Idle ──stop()──► IdleStopRequested          (L13: the next run does one iteration)
///    │ run                 │ run_forever
///    ▼                     ▼
///   Running ──stop()──► Stopping                 (the run ends after this iteration)
///    └────── the run ends ─┴──► Idle
///   IdleStopRequested ──run_once──► Idle         (set aside: the turn runs as Running, and
///                                                 its end goes back to IdleStopRequested)
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

impl LoopState {
    /// Whether `self -> to` is a move of the diagram above, or staying put.
    fn is_legal(self, to: LoopState) -> bool {
        use LoopState::*;
        self == to
            || matches!(
                (self, to),
                (Idle, IdleStopRequested | Running | Closed)
                    | (IdleStopRequested, Stopping | Closed | Idle)
                    | (Running, Stopping | Idle)
                    | (Stopping, Idle)
            )
    }
}

impl LoopInner {
    /// The one place the loop's state changes; the moves of the [`LoopState`] diagram and
    /// staying put are the only legal ones. Callers refuse what the loop does not allow
    /// before they get here, so another move is a bug of ours: it asserts in debug builds and
    /// is ignored in release ones, where the state stays as it was (a closed loop, above all,
    /// stays closed).
    fn set_state(&self, to: LoopState) {
        let from = self.state.get();
        let legal = from.is_legal(to);
        debug_assert!(legal, "loop state {from:?} -> {to:?}");
        if legal {
            self.state.set(to);
        }
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

    /// This run ends after the current iteration: what makes the poll not wait. A stop
    /// pending while idle does not count: the iteration of a `run_once` does not end a run,
    /// and a host asking `next_timeout` may block.
    #[inline]
    pub(crate) fn stopping(&self) -> bool {
        self.state.get() == LoopState::Stopping
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

/// `LoopHandle::as_main`'s guard: no task is current, then the loop is idle again, with a
/// `stop()` asked meanwhile kept for the next run (L13).
struct AsMain<'a> {
    running: Option<RunningGuard<'a>>,
}

impl Drop for AsMain<'_> {
    fn drop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let inner = running.inner;
        inner.book.set_current(executor::NO_TASK);
        // The dropped future's cleanup (Python's `finally:`) called `stop()`: CPython runs it
        // in a later run, whose `_stopping` it sets, so that run ends after its iteration.
        // Here the run has already ended: the stop stays pending for the next one, as a
        // stop asked between runs does.
        let stopped = inner.stopping();
        drop(running);
        if stopped {
            inner.set_state(LoopState::IdleStopRequested);
        }
    }
}

/// Takes a `run_until_complete` run's main entry out of the queues when the run ends.
struct MainGuard<'a>(&'a LoopInner);

impl Drop for MainGuard<'_> {
    fn drop(&mut self) {
        let inner = self.0;
        if inner.main_scheduled.replace(false) {
            inner.ready.remove_main();
            inner.io_woken.remove(ready::Woken::Main);
        }
    }
}

/// Ends a `run_until_complete` run's main future in the task book when the run ends, by
/// return or by unwinding: no callback after it runs "in" it, and its refs say it ended.
struct MainEnds<'a>(&'a LoopInner);

impl Drop for MainEnds<'_> {
    fn drop(&mut self) {
        self.0.book.main_ends(false);
    }
}

impl LoopHandle {
    /// Asks the loop to return from `run_forever` after the current iteration. Before
    /// `run_forever`, makes its next run (`run_forever` or `run_until_complete`) do exactly
    /// one iteration; [`run_once`](Self::run_once) leaves it pending. Repeated calls are one
    /// stop.
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

    /// Why a run cannot start now (closed, running, another loop running), if it cannot.
    fn check_can_run(&self) -> Result<(), Error> {
        self.inner.check_closed()?;
        if self.inner.is_running() {
            return Err(Error::invalid_state("This event loop is already running"));
        }
        if current_loop().is_some() {
            return Err(Error::invalid_state(
                "Cannot run the event loop while another loop is running",
            ));
        }
        Ok(())
    }

    fn enter(&self) -> Result<RunningGuard<'_>, Error> {
        self.check_can_run()?;
        Ok(self.start())
    }

    /// Marks the loop running on this thread; [`enter`](Self::enter) past its checks.
    fn start(&self) -> RunningGuard<'_> {
        CURRENT.with(|c| *c.borrow_mut() = Some(self.clone()));
        self.inner.set_state(if self.inner.stop_requested() {
            LoopState::Stopping // L13: stop() before the run: one iteration
        } else {
            LoopState::Running
        });
        RunningGuard { inner: &self.inner }
    }

    /// Runs iterations until [`stop`](Self::stop) is called (Python's `loop.run_forever`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] if the loop is closed, already running, or another loop runs on
    /// this thread. [`Error::Io`] (its errno kept) if waiting for I/O fails (`epoll_wait`
    /// refused, its descriptor closed under the loop, say): the run ends there, before
    /// anything of that iteration runs, as Python's `run_forever` raises the selector's
    /// `OSError`. The loop is then idle, with its callbacks and tasks still queued: it can
    /// be run again (which fails again while the poll does) or closed. An interrupted poll
    /// (`EINTR`) is no error: the iteration goes on with no events.
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
        // However the run ends (a stop before the future completed, a panic), a main entry
        // still queued is taken out: it belongs to this run's future, not to the next run's.
        let _main = with_main.then(|| MainGuard(&self.inner));
        if with_main {
            self.inner.schedule_main();
        }
        loop {
            self.iterate(main, None);
            if self.inner.stop_requested() {
                break;
            }
        }
        self.take_poll_error()
    }

    /// The error of a poll that failed in the run just ended (its stop ended the run), as the
    /// run's result: CPython's `run_forever` raises the selector's `OSError`. Looked at once
    /// per run, never per iteration.
    // Checklist: L2, L12.
    fn take_poll_error(&self) -> Result<(), Error> {
        match self.inner.poll_error.take() {
            Some(e) => Err(Error::Io(e)),
            None => Ok(()),
        }
    }

    /// Runs the loop until `fut` completes and returns its output (Python's
    /// `loop.run_until_complete`). `fut` is polled on this stack, so it need not be
    /// `'static`; its first poll happens in the first iteration, in FIFO order with callbacks
    /// already queued. The loop stops one iteration after `fut` completes, so callbacks `fut`
    /// scheduled just before finishing still run.
    ///
    /// A panic in `fut` propagates to the caller after the loop's running state is reset. If
    /// the run stops before `fut` completes, `fut` is dropped in the loop, with the loop still
    /// running and `fut` as the current task, as a cancelled task is: its cleanup can reach
    /// the loop, and what it schedules runs in the loop's next run; a [`stop`](Self::stop) it
    /// asks ends that next run after one iteration, as Python's `finally:` calling
    /// `loop.stop()` ends the run in which the cancelled task finishes.
    ///
    /// `fut` is a task of its own while it runs ([`current_task`](crate::current_task),
    /// [`all_tasks`](crate::all_tasks)), also when it is a spawned [`Task`](crate::Task)'s
    /// handle: where Python's `run_until_complete(task)` runs `task` itself as the main task,
    /// here `all_tasks()` lists the handle's awaiter and the task, and cancelling every task
    /// but the current one from inside the task cancels the run.
    ///
    /// # Errors
    /// [`Error::InvalidState`] or [`Error::Io`] as for [`run_forever`](Self::run_forever), or
    /// `Event loop stopped before Future completed.` if [`stop`](Self::stop) ended the run first;
    /// [`Error::Cancelled`] if `fut` was cancelled (through its [`TaskRef`](crate::TaskRef)).
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
        // In an `Option`: a cancelled future is dropped in place, inside the loop.
        let mut fut = pin!(Some(fut.into_future()));
        let mut output = None;
        let mut cancelled = false;
        let waker = executor::main_waker(self.inner.id);
        // Before the main future's record is replaced: a refused call (from inside this loop's
        // run) must leave the running main future's record alone, as Python checks first.
        self.check_can_run()?;
        let lp = self.clone();
        let key = self.inner.book.main_begins();
        // However the run ends (stopped early, a panic in the future unwinding through here):
        // the main future is no longer polled, no longer current, and has ended.
        let _ended = MainEnds(&self.inner);
        let mut main = || {
            if output.is_some() || cancelled {
                return;
            }
            // The main future is a task as in Python (`current_task`, `all_tasks`): a cancel
            // before this step drops it unpolled; one during the step ends it there (L29, L30).
            let book = &lp.inner.book;
            let mut ready = None;
            book.set_current(key);
            if !book.main_cancel_requested() {
                if let Some(fut) = fut.as_mut().as_pin_mut() {
                    let mut cx = Context::from_waker(&waker);
                    ready = match fut.poll(&mut cx) {
                        Poll::Ready(v) => Some(v),
                        Poll::Pending => None,
                    };
                }
            }
            cancelled = book.main_cancel_requested();
            if cancelled {
                // Dropped now, in the running loop and as the current task, as a spawned
                // task's future is: its Drop is the task's cleanup (Python's `finally`).
                fut.set(None);
            }
            book.set_current(executor::NO_TASK);
            if cancelled || ready.is_some() {
                output = ready.filter(|_| !cancelled);
                book.main_ends(cancelled);
                let stopper = lp.clone();
                let _ = lp.call_soon(move || stopper.stop());
            }
        };
        let ran = self.run_forever_with(&mut main, true);
        if output.is_none() && !cancelled {
            // Stopped (or the poll failed) before `fut` completed: dropped in the loop.
            let _in_loop = self.as_main(key);
            fut.set(None);
        }
        ran?;
        if cancelled {
            return Err(Error::Cancelled);
        }
        output.ok_or_else(|| Error::invalid_state("Event loop stopped before Future completed."))
    }

    /// Marks the loop running, between iterations, with the main future `key` current, until
    /// the guard drops: for dropping a run's main future that never completed, as a cancelled
    /// task's is dropped. Its `Drop` (Python's `finally`, run when `Runner.close` cancels the
    /// main task left pending) then finds the running loop and itself as the current task,
    /// and what it schedules runs in the loop's next run (`asyncio::run`'s shutdown drains it).
    // Checklist: L14, L41.
    #[inline(never)]
    fn as_main(&self, key: crate::slots::SlotKey) -> AsMain<'_> {
        // The run just ended, and `run_until_complete` checked it could run before it began.
        let running = self.start();
        self.inner.book.set_current(key);
        AsMain {
            running: Some(running),
        }
    }

    /// Runs one iteration, polling for at most `timeout` (`None`: until the next timer or
    /// event), and says whether anything is left to do (callbacks, timers, tasks or I/O
    /// registrations). For embedding the loop in another program's loop (with
    /// [`as_raw_fd`](Self::as_raw_fd) and [`next_timeout`](Self::next_timeout));
    /// `run_forever` is this in a loop.
    ///
    /// A [`stop`](Self::stop) asked before this call, or by a callback during it, stays
    /// pending for the next `run_forever`, as CPython's `_run_once` leaves `_stopping` set;
    /// it does not shorten this call's poll (nor make [`next_timeout`](Self::next_timeout)
    /// zero), which would make a host that drives the loop only by `run_once` spin.
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
        self.check_can_run()?;
        // Checklist: L13. A pending stop is set aside for this turn and put back after it,
        // with one asked during it.
        let inner = &self.inner;
        let pending = inner.state.get() == LoopState::IdleStopRequested;
        if pending {
            inner.set_state(LoopState::Idle);
        }
        let stopped = {
            let _guard = self.start();
            self.iterate(&mut || {}, timeout);
            inner.stopping()
        };
        // A failed poll asked a stop to end the turn; it is not a stop to keep. The turn ran
        // nothing else that could have asked one.
        let failed = self.take_poll_error();
        if pending || (stopped && failed.is_ok()) {
            inner.set_state(LoopState::IdleStopRequested);
        }
        failed?;
        // What stats() counts, without its transport totals (this runs once per turn).
        Ok(!inner.ready.is_empty()
            || !inner.timers.borrow().is_empty()
            || inner.tasks.borrow().len() > 0
            || inner.io.borrow().len() > 0)
    }

    /// Closes the loop (Python's `loop.close`): queued callbacks and timers are dropped
    /// without running, tasks still pending are dropped with a "Task was destroyed but it is
    /// pending!" report each, registrations are released, and so are the loop's own
    /// descriptors (its epoll instance, wake-up eventfd and timer fd: `as_raw_fd` is then
    /// `-1`). Idempotent.
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
        let held = inner.held_retries.take(); // their timers go below
        let mut timers = Vec::new();
        {
            let mut wheel = inner.timers.borrow_mut();
            let all = wheel.elapsed().max(u64::MAX / 2);
            iteration::take_due(&mut wheel, all, i64::MAX, &mut timers);
        }
        let tasks = inner.tasks.borrow_mut().drain();
        // Dropped with no borrow held: their Drop may call back into the loop. One at a time
        // and caught: a closure's captures are user code, and a panic of one's drop must
        // neither leave close half done nor skip the others.
        let lp = Some(self);
        remote
            .into_iter()
            .for_each(|r| exception::drop_contained(lp, "a callback", r));
        ready
            .into_iter()
            .for_each(|r| exception::drop_contained(lp, "a callback", r));
        timers
            .into_iter()
            .for_each(|t| exception::drop_contained(lp, "a callback", t));
        drop(held);
        for (_, task) in tasks {
            // Described while still pending: `abandon` completes it as cancelled.
            let described = task.header().describe();
            if task.abandon() {
                exception::report_detail(
                    self,
                    "Task was destroyed but it is pending!",
                    "task",
                    described,
                );
            }
        }
        self.close_signals();
        inner.take_io(self);
        inner.release_descriptors();
        Ok(())
    }

    /// Cancels every task and runs the loop until all of them have ended (L41's
    /// `_cancel_all_tasks`), and until the callbacks their cleanups queued have run: CPython
    /// turns the loop on after the tasks end (gather's callbacks, then the async-generator and
    /// executor shutdowns), so a `call_soon` from a cancelled task's `finally` runs before the
    /// close. Bounded: tasks that spawn tasks, or callbacks that queue callbacks, get at most
    /// 100 rounds.
    pub(crate) fn shutdown_tasks(&self) {
        let _mark = self.inner.book.mark_shutting_down();
        for _ in 0..100 {
            let keys = self.inner.tasks.borrow().keys();
            if keys.is_empty() && self.inner.ready.is_empty() {
                break;
            }
            for key in keys {
                self.inner.request_cancel(key);
            }
            self.stop(); // one iteration: each cancelled task drops its future in it
            let _ = self.run_forever_with(&mut || {}, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LoopState::{self, *};

    const ALL: [LoopState; 5] = [Idle, Running, Closed, IdleStopRequested, Stopping];

    #[test]
    fn l12_l13_l16_the_legal_moves_are_the_diagram_and_closed_is_final() {
        let moves = crate::state_moves::legal_moves(&ALL, LoopState::is_legal);
        assert_eq!(
            moves,
            [
                (Idle, Running),
                (Idle, Closed),
                (Idle, IdleStopRequested),
                (Running, Idle),
                (Running, Stopping),
                (IdleStopRequested, Idle),
                (IdleStopRequested, Closed),
                (IdleStopRequested, Stopping),
                (Stopping, Idle),
            ]
        );
        assert!(ALL.iter().all(|&s| s.is_legal(s)), "staying put is legal");
    }

    /// Release builds: a move that is no edge leaves the state as it was.
    #[cfg(not(debug_assertions))]
    #[test]
    fn l16_an_illegal_move_is_ignored_in_release_builds() {
        let lp = crate::EventLoop::new().unwrap();
        lp.close().unwrap();
        lp.inner.set_state(Running);
        assert!(lp.is_closed() && !lp.is_running());
    }

    /// Debug builds: a move that is no edge is a bug of ours, caught at once.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic(expected = "loop state Closed -> Running")]
    fn l16_an_illegal_move_asserts_in_debug_builds() {
        let lp = crate::EventLoop::new().unwrap();
        lp.close().unwrap();
        lp.inner.set_state(Running);
    }
}
