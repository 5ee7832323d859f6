//! One loop iteration (CPython's `BaseEventLoop._run_once`, L2, L3, L9, D10): the poll
//! timeout, the poll, I/O dispatch (straight from the event list when the iteration is only
//! I/O), the thread-safe queue, due timers, the run phase over the L3 snapshot, and the tasks
//! the iteration's I/O callbacks woke (D10). See the steps in `event_loop/mod.rs`.
//!
//! Ground rule: no borrow of the loop's state is held while a callback, a task or a protocol
//! runs.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::clock;
use super::exception::{drop_contained, report_callback_failed, PanicError};
use super::executor;
use super::handle::Described;
use super::io::{self, WAKER_TOKEN};
use super::timer_wheel::{TimerKey, Wheel};

/// The far alarm's token (`alarm.rs`); a token no registration gets elsewhere.
#[cfg(target_os = "linux")]
use super::alarm::ALARM_TOKEN;
#[cfg(not(target_os = "linux"))]
const ALARM_TOKEN: mio::Token = mio::Token(usize::MAX - 1);

/// A timer further ahead than this is left to the far alarm (`alarm.rs`).
const FAR_NS: i64 = 1_000_000_000;
use super::precise_wait;
use super::ready::{Runnable, Woken};
use super::threadsafe::Remote;
use super::{debug, report_panic, LoopHandle, LoopInner, Timer, TimerEntry};
use crate::constants::MAXIMUM_SELECT_TIMEOUT;

/// How long before a far timer's deadline the far alarm rings: from then on the poll
/// timeout is exact again (`timer_timeout`).
const STALE_MARGIN_NS: i64 = 100_000_000;

impl LoopHandle {
    /// How long a host loop may sleep before calling [`run_once`](Self::run_once) again if
    /// [`as_raw_fd`](Self::as_raw_fd) stays quiet: zero when callbacks are ready, the time to
    /// the next timer rounded up to whole milliseconds (so a host whose poll counts in
    /// milliseconds never wakes just before the deadline and spins), or `None` (only I/O or
    /// another thread can bring work).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// assert_eq!(lp.next_timeout(), None); // nothing but I/O could wake it
    /// lp.call_later(Duration::from_millis(30), || ())?;
    /// let wait = lp.next_timeout().unwrap();
    /// assert!(wait > Duration::ZERO && wait <= Duration::from_millis(30));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn next_timeout(&self) -> Option<Duration> {
        self.poll_timeout(false, &mut false).map(|t| {
            let ms = t.as_nanos().div_ceil(1_000_000).min(u64::MAX as u128) as u64;
            Duration::from_millis(ms)
        })
    }

    /// The poll timeout of the next iteration (L9): 0 with work ready, else up to the earliest
    /// exact timer deadline (mio rounds it up to its millisecond resolution, once), else none.
    /// `far`: the loop's own poll, which may leave a far timer to the alarm (`alarm.rs`);
    /// false for `next_timeout`, whose caller may not watch the alarm. `*quiet` is set when
    /// nothing is queued and no timer is armed (then the poll waits for I/O alone).
    #[inline(always)]
    fn poll_timeout(&self, far: bool, quiet: &mut bool) -> Option<Duration> {
        let inner = &*self.inner;
        if !inner.ready.is_empty()
            || inner.stopping()
            || inner.shared.has_pending()
            || !inner.io_woken.is_empty()
        {
            // Work ready: no sleep, so this is the look `timer_timeout` makes (one per
            // iteration either way); a loop that never sleeps runs a freed retry too.
            inner.expedite_if_held();
            return Some(Duration::ZERO);
        }
        if inner.timers.borrow().is_empty() {
            *quiet = true;
            return None;
        }
        self.timer_timeout(far)
    }

    /// `poll_timeout` with timers armed: up to the earliest deadline (`next_timer_at`, exact
    /// or early), from a fresh clock reading; or no timeout at all while that deadline is
    /// more than `FAR_NS` ahead and the far alarm (`alarm.rs`) is set `STALE_MARGIN_NS`
    /// before it.
    fn timer_timeout(&self, far: bool) -> Option<Duration> {
        let inner = &*self.inner;
        inner.expedite_if_held(); // a protocol held elsewhere may be free now
        if inner.clock.is_manual() || !inner.ready.is_empty() {
            return Some(Duration::ZERO);
        }
        let at = inner.next_timer_at.get();
        if !far {
            let left = at.saturating_sub(inner.clock.now_ns()).max(0) as u64;
            return Some(Duration::from_nanos(left).min(MAXIMUM_SELECT_TIMEOUT));
        }
        if inner.is_far() {
            return None; // the alarm wakes the poll
        }
        // A fresh reading, not the iteration's cached one: callbacks may have run for a
        // while since the poll returned, and a timeout reckoned from the older time would
        // make the timer late by that much (L9: head deadline - now).
        let left = at.saturating_sub(inner.clock.now_ns());
        if left > FAR_NS && inner.enter_far(at - STALE_MARGIN_NS) {
            return None;
        }
        Some(Duration::from_nanos(left.max(0) as u64).min(MAXIMUM_SELECT_TIMEOUT))
    }

    /// One iteration. `cap` bounds the poll timeout (for `run_once`).
    pub(super) fn iterate(&self, main: &mut dyn FnMut(), cap: Option<Duration>) {
        let inner = &*self.inner;
        let mut quiet = false;
        let timeout = self.poll_timeout(true, &mut quiet);
        let timeout = match (timeout, cap) {
            (Some(t), Some(c)) => Some(t.min(c)),
            (t, None) => t,
            (None, c) => c,
        };
        let timeout = match timeout {
            Some(t) if precise_wait::has_sub_ms_part(t) && !inner.clock.is_manual() => {
                if t < Duration::from_millis(1) {
                    // The last stretch to a timer: wait to the nanosecond, then collect.
                    precise_wait::wait(inner.poll_fd(), t);
                    Some(Duration::ZERO)
                } else {
                    // Whole milliseconds only (epoll would round up and wake late): the rest
                    // is the next iteration's last stretch, if no I/O comes first.
                    Some(precise_wait::whole_ms(t))
                }
            }
            t => t,
        };
        let mut remote_ready = false;
        {
            let mut events = inner.events.borrow_mut();
            if let Err(e) = inner.poll_events(&mut events, timeout) {
                events.clear();
                if self.poll_failed(e) {
                    return; // the run ends with the error, having run nothing of this turn
                }
            }
            inner.clear_now_cache();
            if !events.is_empty() {
                debug::trace!("loop: poll -> {} event(s)", events.iter().count());
            }
            if self.io_only_iteration(&events, quiet) {
                // Fast path, same order: the I/O callbacks are this iteration's whole snapshot,
                // so they run as their events are read, without a trip through the ready queue.
                // The event list stays borrowed while protocols run: only `iterate` touches it,
                // and `iterate` cannot be re-entered from a callback (`enter` refuses a running
                // loop). Taking the list out instead cost 13-37 instructions per message.
                for ev in events.iter() {
                    self.run_io_now(ev, main);
                }
                drop(events);
                if !inner.io_woken.is_empty() {
                    self.run_io_woken(main);
                }
                return;
            }
            for ev in events.iter() {
                if ev.token() == WAKER_TOKEN {
                    remote_ready = true;
                } else if ev.token() == ALARM_TOKEN {
                    inner.alarm_rang();
                } else {
                    inner.queue_io_event(ev);
                }
            }
        }
        if remote_ready || inner.shared.has_pending() {
            self.drain_remote();
        }
        self.queue_due_timers();
        let n = inner.ready.len();
        for _ in 0..n {
            let Some(r) = inner.ready.pop() else { break };
            self.run_runnable(r, main);
        }
        if !inner.io_woken.is_empty() {
            self.run_io_woken(main);
        }
    }

    /// A poll that failed. Interrupted (EINTR): an iteration with no events (`false`). Any
    /// other failure (the epoll descriptor closed behind the loop's back, say) would fail
    /// again at once, and a loop with nothing timed would spin on it: as CPython's
    /// `_run_once` lets the selector's `OSError` out before running anything, the error is
    /// kept for the run to return and a stop asked (`true`: the iteration ends here). The
    /// stop is what the run loop already checks after each iteration, and the error is
    /// looked at only once the run ends, so the hot path pays for neither.
    // Checklist: L2, L12.
    #[cold]
    #[inline(never)]
    fn poll_failed(&self, e: std::io::Error) -> bool {
        if e.kind() == std::io::ErrorKind::Interrupted {
            return false;
        }
        debug::debug_log!("poll failed: {e}");
        self.inner.poll_error.set(Some(e));
        self.stop();
        true
    }

    /// Whether this iteration's snapshot (L3) is exactly these events' I/O callbacks: nothing
    /// queued, nothing from other threads, no timer due. Reads the clock only with timers armed.
    /// `quiet`: before the poll nothing was queued and no timer armed; the poll ran none of
    /// our code, so that still holds and is not looked at again (only other threads may have
    /// brought work since).
    fn io_only_iteration(&self, events: &mio::Events, quiet: bool) -> bool {
        let inner = &*self.inner;
        if events.is_empty() || (!quiet && !inner.ready.is_empty()) || inner.shared.has_pending() {
            return false;
        }
        // The waker's and the alarm's tokens, and those of `add_reader`/`add_writer`
        // descriptors, have the top bit set: one comparison for all three. An fd's event
        // takes the queued way, where the poll's callbacks are all noted before any runs (L2).
        const _: () = assert!(WAKER_TOKEN.0 & ALARM_TOKEN.0 & io::FD_TOKEN_BIT != 0);
        if events.iter().any(|ev| ev.token().0 >= io::FD_TOKEN_BIT) {
            return false;
        }
        quiet
            || inner.timers.borrow().is_empty()
            || inner.is_far()
            || inner.next_timer_at.get() > inner.cached_now_ns()
    }

    /// Dispatches one readiness event at once (the fast path of `iterate`), as an I/O callback.
    fn run_io_now(&self, ev: &mio::event::Event, main: &mut dyn FnMut()) {
        if self.inner.debug.get() {
            // Timed as any callback (L23).
            if let Some(ev) = self.inner.io_event(ev) {
                self.run_runnable(Runnable::Io(ev), main);
            }
            return;
        }
        let _reset = IoCallback::enter(&self.inner.in_io_callback);
        self.inner.dispatch_event(ev);
    }

    /// D10: runs, once each, the tasks this iteration's I/O callbacks woke. A task that wakes
    /// itself (or is woken by anything) while running here goes to the ready queue: it runs next
    /// iteration, after a poll, so it cannot starve I/O or timers. Entries a panic leaves behind
    /// (only `run_until_complete`'s future propagates one) stay queued and run next iteration.
    /// Always inlined: `iterate`'s two calls were, until its poll-failure exit tipped the
    /// compiler's estimate and the call cost 25 instructions per message.
    #[inline(always)]
    fn run_io_woken(&self, main: &mut dyn FnMut()) {
        while let Some(w) = self.inner.io_woken.pop() {
            self.run_runnable(w.into(), main);
        }
    }

    // Out of line: only work from other threads comes this way, and inlined (with the drop
    // of what it drains) it lengthened `iterate`'s own path by 5 instructions per message.
    #[inline(never)]
    fn drain_remote(&self) {
        let inner = &*self.inner;
        let mut items = inner.remote.take();
        inner.shared.drain_into(&mut items);
        for item in items.drain(..) {
            match item {
                Remote::Call(c) => inner.ready.push(Runnable::Callback(c.callback())),
                Remote::Wake { index, generation } => inner.schedule_task(index, generation),
            }
        }
        inner.remote.set(items);
    }

    fn queue_due_timers(&self) {
        let inner = &*self.inner;
        // No timer, no clock read: the wheel's time may lag while it is empty, which costs a
        // later insert nothing but a cascade (its deadline is still >= the lagging time).
        if inner.timers.borrow().is_empty() {
            inner.next_timer_at.set(i64::MAX);
            return;
        }
        if inner.is_far() {
            return; // nothing is due before the alarm rings
        }
        let now = inner.cached_now_ns();
        if inner.next_timer_at.get() > now {
            return;
        }
        let mut due = inner.expired.take();
        {
            let mut timers = inner.timers.borrow_mut();
            take_due(&mut timers, clock::tick_of(now), now, &mut due);
            // Exact again: the earliest deadline, or the start of the tick a cascade needs.
            let next = match timers.min_next(|t| t.at) {
                Some(at) => at,
                None => timers.next_deadline().map_or(i64::MAX, clock::tick_start),
            };
            inner.next_timer_at.set(next);
        }
        // By exact deadline, then scheduling order (L7, D2): the wheel orders by tick only.
        // Our own heapsort (`crate::sort`): usually one or two timers per turn.
        crate::sort::sort_by(&mut due, |(_, _, a), (_, _, b)| {
            (a.at, a.seq) < (b.at, b.seq)
        });
        for (_, _, Timer { at, entry, .. }) in due.drain(..) {
            match entry {
                TimerEntry::Callback(cb) => {
                    // Its deadline as it fires, for a report (an entry re-armed in place moved).
                    cb.set_when(inner.clock.loop_ns(at));
                    inner.ready.push(Runnable::Callback(cb))
                }
                TimerEntry::Waker(w) => inner.ready.push(Runnable::Wake(w)),
            }
        }
        inner.expired.set(due);
    }

    #[inline(always)]
    fn run_runnable(&self, r: Runnable, main: &mut dyn FnMut()) {
        if self.inner.debug.get() {
            return self.run_runnable_timed(r, main);
        }
        match r {
            Runnable::Task(id) => executor::run_task(self, id),
            Runnable::Io(ev) => self.run_io(ev),
            r => self.run_runnable_inner(r, main),
        }
    }

    /// Debug mode (L23): runs `r` and warns if it was slow.
    #[cold]
    #[inline(never)]
    fn run_runnable_timed(&self, r: Runnable, main: &mut dyn FnMut()) {
        // Only a slow run is named: a task is kept (one `Rc`) and described after its run, as
        // CPython's `_format_handle` formats the task after its step; nothing is formatted
        // for the others.
        // A callback is described as its handle is, also formatted after its run, as CPython's
        // `Executing <Handle tick() at …> took …` (`<TimerHandle when=… …>` for a timer's).
        let (name, task, callback) = match &r {
            Runnable::Callback(cb) => ("", None, Some(cb.clone())),
            Runnable::Task(id) => ("task", executor::task_of(self, *id), None),
            Runnable::Io(_) => ("I/O callback", None, None),
            Runnable::Wake(_) => ("timer wake-up", None, None),
            Runnable::Main => ("run_until_complete future", None, None),
        };
        let start = Instant::now();
        self.run_runnable_inner(r, main);
        let took = start.elapsed();
        if took >= self.inner.slow_callback_duration.get() {
            let described = match (task, callback) {
                (Some(t), _) => Some(t.header().describe()),
                (_, Some(cb)) => Some(Described(&*cb).to_string()),
                _ => None,
            };
            let name = described.as_deref().unwrap_or(name);
            crate::event_loop::debug::warning!(
                "Executing {name} took {} seconds",
                crate::event_loop::debug::Seconds3(took)
            );
        }
    }

    /// Dispatches one readiness event as an I/O callback: tasks it wakes run in this
    /// iteration (D10).
    #[inline(always)]
    fn run_io(&self, ev: io::IoEvent) {
        let _reset = IoCallback::enter(&self.inner.in_io_callback);
        self.inner.dispatch_io(ev)
    }

    #[inline(never)]
    fn run_runnable_inner(&self, r: Runnable, main: &mut dyn FnMut()) {
        match r {
            Runnable::Callback(cb) => {
                if cb.cancelled() {
                    return;
                }
                match catch_unwind(AssertUnwindSafe(|| cb.run())) {
                    Ok(None) => {}
                    Ok(Some(err)) => report_callback_failed(self, &*cb, err),
                    Err(payload) => {
                        let panic = PanicError::from_payload(&*payload);
                        report_callback_failed(self, &*cb, Box::new(panic));
                        drop_contained(Some(self), "a panic payload", payload);
                    }
                }
            }
            Runnable::Task(id) => executor::run_task(self, id),
            Runnable::Io(ev) => self.run_io(ev),
            // A sleep polled with another executor's waker files that waker here: its wake
            // is foreign code, and its panic is reported as a callback's is (L18).
            Runnable::Wake(w) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| w.wake())) {
                    report_panic(self, "Exception in callback timer wake-up", payload, None);
                }
            }
            Runnable::Main => {
                self.inner.main_scheduled.set(false);
                // Its panic (the only one that leaves the loop) leaves the rest of the
                // iteration's snapshot queued, fd events among them: their fds are re-armed
                // as it leaves. Forgotten on a normal return.
                let rearm = RearmOnUnwind(&self.inner);
                main();
                std::mem::forget(rearm);
            }
        }
    }
}

/// Dropped only while a panic of `run_until_complete`'s future leaves the loop (forgotten
/// otherwise): re-arms the fds whose events are left queued (`LoopInner::rearm_left_queued`).
struct RearmOnUnwind<'a>(&'a LoopInner);

impl Drop for RearmOnUnwind<'_> {
    fn drop(&mut self) {
        self.0.rearm_left_queued();
    }
}

/// Marks the loop as inside an I/O callback (D10: the tasks it wakes run in this iteration)
/// until dropped, however the dispatch ends: handlers catch their protocols' panics, but be
/// sure.
struct IoCallback<'a>(&'a Cell<bool>);

impl<'a> IoCallback<'a> {
    #[inline(always)]
    fn enter(flag: &'a Cell<bool>) -> Self {
        flag.set(true);
        IoCallback(flag)
    }
}

impl Drop for IoCallback<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The timers due by `now` (ns) into `out`, wheel time moved to `tick`: the one instantiation
/// of the wheel's generic advance, shared by each iteration and by `close` (which takes all).
#[inline]
pub(super) fn take_due(
    wheel: &mut Wheel<Timer>,
    tick: u64,
    now: i64,
    out: &mut Vec<(TimerKey, u64, Timer)>,
) {
    wheel.advance_ripe(tick, out, |t| t.at <= now);
}

impl LoopInner {
    /// Queues a woken task (or the main future): inside an I/O callback, to run later in this
    /// same iteration (D10); anywhere else, on the ready queue (L25).
    #[inline]
    pub(crate) fn push_woken(&self, w: Woken) {
        if self.in_io_callback.get() {
            self.io_woken.push(w);
        } else {
            self.ready.push(w.into());
        }
    }
}
