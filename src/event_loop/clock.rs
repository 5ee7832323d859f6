//! The loop's clock: `loop.time()` as an `Instant`, and the 1 ms ticks the timer wheel counts.
//!
//! Mirrors `BaseEventLoop.time()` (monotonic, L11) in CPython `Lib/asyncio/base_events.py`.
//! Ground rules: deadlines are kept exact (nanoseconds from the loop's origin, signed so that
//! instants before the loop keep their order); the wheel files each under the millisecond it
//! falls in (rounded *down*), and the loop fires an entry of the millisecond under way only
//! once its exact deadline has passed, so a timer never fires early (L8) nor a tick late. The
//! poll timeout is the time to the earliest exact deadline: epoll waits its whole
//! milliseconds and `precise_wait` the part below one (L9). A [`ManualClock`] replaces the
//! system clock in tests: time moves only when the test says so.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// One wheel tick.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// The latest deadline a timer gets: 2^63 - 1 ns, about 292 years ahead, the last time the
/// loop's nanosecond counts hold. Later ones (`Duration::MAX`, the idiom for "no deadline")
/// saturate to it, so no timer API overflows an `Instant` (L6), and a deadline made from it
/// counts (`Clock::ns_of`) as the end of time: never due on the system clock, due on a
/// [`ManualClock`] only once that is moved to its very end.
pub(crate) const FAR_FUTURE: Duration = Duration::from_nanos(i64::MAX as u64);

/// Where a [`ManualClock`] stops: `i64::MAX` nanoseconds (292 years) past its origin, the
/// last time the loop's nanosecond counts hold.
const MANUAL_END: Duration = FAR_FUTURE;

/// `now + delay`, saturating at [`FAR_FUTURE`] instead of panicking on overflow. Where even
/// that is past the last `Instant` the platform can hold, the latest one within reach (the
/// delay halved until it fits): a far deadline stays far, never "now". Out of line: a sleep,
/// a timeout or a timer computes it once, off the per-message path, and inlined its overflow
/// loop was copied into each of them.
#[inline(never)]
pub(crate) fn deadline_after(now: Instant, delay: Duration) -> Instant {
    latest_within(now, delay.min(FAR_FUTURE))
}

/// `now + delay`, or the latest `Instant` within reach (the delay halved until it fits).
fn latest_within(now: Instant, mut delay: Duration) -> Instant {
    loop {
        if let Some(at) = now.checked_add(delay) {
            return at;
        }
        // Ends: at zero the sum is `now` itself.
        delay /= 2;
    }
}

/// A clock a test moves by hand. Give it to
/// [`EventLoop::with_clock`](crate::EventLoop::with_clock).
///
/// ```
/// use std::time::Duration;
/// let clock = asyncio::ManualClock::new();
/// let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
/// let t0 = lp.time();
/// clock.advance(Duration::from_millis(5));
/// assert_eq!(lp.time() - t0, Duration::from_millis(5));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    offset: Rc<Cell<Duration>>,
}

impl ManualClock {
    /// A clock standing at zero; it moves only by [`advance`](Self::advance).
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = asyncio::ManualClock::new();
    /// let lp = asyncio::EventLoop::with_clock(clock.clone())?;
    /// let t0 = lp.time();
    /// lp.run_once(Some(std::time::Duration::ZERO))?; // a loop turn takes real time...
    /// assert_eq!(lp.time(), t0); // ...and none of the loop's
    /// assert_eq!(clock.elapsed(), std::time::Duration::ZERO);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `d`. It moves on for 2^63 ns (292 years) from where it
    /// started and stops there: `Duration::MAX` takes it to that end, where every timer left
    /// is due, those whose delay saturated (`Duration::MAX`, "no deadline") too; no earlier
    /// time makes those due.
    ///
    /// # Examples
    ///
    /// A 30 s timeout tested in no time: the test says when the time passes.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = asyncio::ManualClock::new();
    /// let lp = asyncio::EventLoop::with_clock(clock.clone())?;
    /// let never = std::future::pending::<()>();
    /// let task = lp.spawn(asyncio::timeout(Duration::from_secs(30), never))?;
    /// lp.run_once(Some(Duration::ZERO))?; // the task starts, and with it the timer
    /// clock.advance(Duration::from_secs(29));
    /// for _ in 0..3 {
    ///     lp.run_once(Some(Duration::ZERO))?; // a few turns: nothing is due
    /// }
    /// assert!(!task.is_done(), "timed out at 29 s");
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(clock.elapsed(), Duration::from_secs(30));
    /// let out = lp.run_until_complete(task)?; // due now: no time to wait for
    /// assert!(matches!(out, Ok(Err(asyncio::Error::Timeout))));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn advance(&self, d: Duration) {
        self.offset
            .set(self.offset.get().saturating_add(d).min(MANUAL_END));
    }

    /// How far the clock has moved since it was made: the sum of the
    /// [`advance`](Self::advance)s, up to where the clock stops.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = asyncio::ManualClock::new();
    /// clock.advance(Duration::from_millis(1500));
    /// clock.advance(Duration::from_millis(500));
    /// assert_eq!(clock.elapsed(), Duration::from_secs(2));
    /// clock.advance(Duration::MAX); // to where it stops, 2^63 ns in, and no further
    /// assert_eq!(clock.elapsed(), Duration::from_nanos(i64::MAX as u64));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.offset.get()
    }
}

pub(crate) struct Clock {
    /// Tick 0.
    origin: Instant,
    /// `CLOCK_MONOTONIC` (the clock behind `Instant` on Linux) in nanoseconds, read just
    /// after `origin`: `now_ns` subtracts it from a raw reading, which costs a tenth of
    /// `Instant` arithmetic. Read after `origin`, so `now_ns` lags a plain `Instant::now()`
    /// by the time between the two reads (`paired_origin` keeps it to about a microsecond):
    /// a timer at an `Instant` the caller read can be that late, never early (L8). The loop's
    /// own time (`now`) is `origin` plus `now_ns`, so deadlines made from it carry no lag.
    origin_raw: i64,
    manual: Option<ManualClock>,
}

/// Two origin readings further apart than this are taken again (`paired_origin`).
#[cfg(target_os = "linux")]
const PAIRED_NS: i64 = 1_000;

/// `Instant::now()` and the raw `CLOCK_MONOTONIC` reading after it, taken again (a few
/// times at most) while the raw readings around the `Instant` are more than `PAIRED_NS`
/// apart, as a preemption or an interrupt between them leaves them; the closest pair wins.
#[cfg(target_os = "linux")]
#[inline(never)]
fn paired_origin() -> (Instant, i64) {
    let mut best = origin_reading();
    for _ in 1..8 {
        if best.2 <= PAIRED_NS {
            break;
        }
        let next = origin_reading();
        if next.2 < best.2 {
            best = next;
        }
    }
    (best.0, best.1)
}

/// One try of `paired_origin`: the `Instant`, the raw reading after it, and how far apart
/// the raw readings around it are. Out of line, so that the tries are not unrolled.
#[cfg(target_os = "linux")]
#[inline(never)]
fn origin_reading() -> (Instant, i64, i64) {
    let before = monotonic_ns();
    let origin = Instant::now();
    let after = monotonic_ns();
    (origin, after, after - before)
}

/// `CLOCK_MONOTONIC` in nanoseconds (Linux: the clock `Instant` reads).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
#[allow(clippy::unnecessary_cast)] // time_t and c_long are i32 on 32-bit targets
fn monotonic_ns() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    // Seconds since boot: no overflow for 292 years.
    ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64
}

impl Clock {
    pub(crate) fn system() -> Self {
        #[cfg(target_os = "linux")]
        let (origin, origin_raw) = paired_origin();
        #[cfg(not(target_os = "linux"))]
        let (origin, origin_raw) = (Instant::now(), 0);
        Clock {
            origin,
            origin_raw,
            manual: None,
        }
    }

    /// The system clock with its two origin readings `gap` apart, as a preemption between
    /// them leaves it (the `Instant` taken `gap` before the raw reading): a seam for tests
    /// of that case.
    #[cfg(all(test, target_os = "linux"))]
    pub(crate) fn system_read_apart(gap: Duration) -> Self {
        let origin = Instant::now().checked_sub(gap).expect("a test's gap fits");
        Clock {
            origin,
            origin_raw: monotonic_ns(),
            manual: None,
        }
    }

    pub(crate) fn manual(m: ManualClock) -> Self {
        Clock {
            origin: Instant::now(),
            origin_raw: 0,
            manual: Some(m),
        }
    }

    pub(crate) fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// `loop.time()`. On Linux the system clock's is `origin` plus [`now_ns`](Self::now_ns),
    /// not `Instant::now()`: a deadline made from it converts back (`ns_of`) to exactly the
    /// `now_ns` of its making, so a zero delay is due at once, however far apart the two
    /// origin readings were taken (a preemption between them under load once left
    /// `call_later(0)` undue for an iteration).
    // Checklist: L6, L8.
    pub(crate) fn now(&self) -> Instant {
        match &self.manual {
            Some(m) => self.manual_now(m),
            #[cfg(target_os = "linux")]
            None => {
                let since = Duration::from_nanos(self.now_ns() as u64);
                self.origin.checked_add(since).unwrap_or_else(Instant::now)
            }
            #[cfg(not(target_os = "linux"))]
            None => Instant::now(),
        }
    }

    /// `now` on a manual clock (tests): out of line, so that the real clock's callers do not
    /// carry a copy of `deadline_after`.
    #[cold]
    #[inline(never)]
    fn manual_now(&self, m: &ManualClock) -> Instant {
        // It ends where `now_ns` does (i64 nanoseconds): `ns_of` puts every later deadline
        // there, so at the end every timer is due.
        latest_within(self.origin, m.elapsed().min(MANUAL_END))
    }

    /// Nanoseconds from the clock's origin to `when`, signed (an `Instant` before the loop
    /// was made is negative, so past deadlines keep their order, L7), and saturating at
    /// `i64::MAX` (292 years, where a [`ManualClock`] ends). Exact below that, however far
    /// ahead: a deadline is never cut short, so a timer is never early (L8); it was once cut
    /// to now + 34 years, which a manual clock moved past fired early.
    pub(crate) fn ns_of(&self, when: Instant) -> i64 {
        match when.checked_duration_since(self.origin) {
            Some(d) => d.as_nanos().min(i64::MAX as u128) as i64,
            None => {
                -(self
                    .origin
                    .duration_since(when)
                    .as_nanos()
                    .min(i64::MAX as u128) as i64)
            }
        }
    }

    /// `at` (nanoseconds from the origin) on the raw `CLOCK_MONOTONIC`, for the far alarm;
    /// `None` for a manual clock.
    #[cfg(target_os = "linux")]
    pub(crate) fn raw_of(&self, at: i64) -> Option<i64> {
        match self.manual {
            Some(_) => None,
            None => Some(self.origin_raw.saturating_add(at)),
        }
    }

    /// `at` (nanoseconds from the origin) as a handle's repr prints it (`handle::LoopSeconds`):
    /// on the raw `CLOCK_MONOTONIC` for the system clock on Linux, else from the origin.
    pub(crate) fn loop_ns(&self, at: i64) -> i64 {
        self.origin_raw.saturating_add(at)
    }

    /// Nanoseconds from the origin to now.
    #[inline]
    pub(crate) fn now_ns(&self) -> i64 {
        #[cfg(target_os = "linux")]
        if self.manual.is_none() {
            return monotonic_ns() - self.origin_raw; // >= 0: the clock is monotonic
        }
        let since = self.now().saturating_duration_since(self.origin);
        since.as_nanos().min(i64::MAX as u128) as i64
    }
}

/// The wheel tick a deadline `ns` after the origin falls in (rounded *down*: the loop then
/// checks the exact deadline, so a timer becomes a candidate in its own millisecond and fires
/// as soon as that passes, never early, L8). Deadlines before the origin are tick 0.
pub(crate) fn tick_of(ns: i64) -> u64 {
    (ns.max(0) as u64) / TICK.as_nanos() as u64
}

/// The start of `tick`, in nanoseconds from the origin.
pub(crate) fn tick_start(tick: u64) -> i64 {
    tick.saturating_mul(TICK.as_nanos() as u64)
        .min(i64::MAX as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The last `Instant` this platform can hold, found by doubling down from now.
    fn last_instant() -> Instant {
        let (mut top, mut step) = (Instant::now(), Duration::MAX);
        while step > Duration::ZERO {
            match top.checked_add(step) {
                Some(t) => top = t,
                None => step /= 2,
            }
        }
        top
    }

    #[test]
    fn deadline_after_saturates_and_never_turns_far_into_now() {
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::MAX), now + FAR_FUTURE);
        assert_eq!(deadline_after(now, Duration::ZERO), now);
        let top = last_instant();
        assert_eq!(
            deadline_after(top, Duration::MAX),
            top,
            "nothing later exists"
        );
        let near = top - Duration::from_secs(10);
        let at = deadline_after(near, Duration::from_secs(3600));
        assert!(
            at > near + Duration::from_secs(5),
            "a far deadline stays far: {:?} after",
            at - near
        );
    }

    /// A handle's `when` on the system clock is on `CLOCK_MONOTONIC`, the clock Python's
    /// `loop.time()` reads: comparable with a Python loop's on the same machine.
    #[cfg(target_os = "linux")]
    #[test]
    fn loop_ns_of_the_system_clock_is_monotonic_time() {
        let c = Clock::system();
        let before = monotonic_ns();
        let now = c.loop_ns(c.now_ns());
        let after = monotonic_ns();
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
        let m = Clock::manual(ManualClock::new());
        assert_eq!(
            m.loop_ns(1_500_000_000),
            1_500_000_000,
            "a manual clock counts from 0"
        );
    }

    /// A zero-delay timer made outside a run is due in the run's first iteration even when
    /// the clock's two origin readings were taken far apart (a preemption between them),
    /// and the loop's time and its timers still agree with a plain `Instant::now()` to
    /// within that gap, never ahead of it. Before the loop's time was made from the same
    /// reading as the due check, such a timer waited out the gap while the iteration ran
    /// without it (`l101_test_accept_connection_multiple` once accepted two rounds in one
    /// turn so).
    // Checklist: L6, L8.
    #[cfg(target_os = "linux")]
    #[test]
    fn l6_l8_a_zero_delay_timer_is_due_at_once_however_far_apart_the_origin_readings() {
        use std::cell::Cell;
        let gap = Duration::from_millis(200);
        let lp = crate::EventLoop::build(Clock::system_read_apart(gap)).unwrap();
        let fired = Rc::new(Cell::new(0));
        let (f, g) = (fired.clone(), fired.clone());
        lp.call_later(Duration::ZERO, move || f.set(f.get() + 1))
            .unwrap();
        lp.call_at(lp.time(), move || g.set(g.get() + 1)).unwrap();
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(
            fired.get(),
            2,
            "zero-delay timers left for a later iteration"
        );
        let (before, time, after) = (Instant::now(), lp.time(), Instant::now());
        assert!(time <= after, "the loop's time is ahead of Instant::now()");
        assert!(
            before.saturating_duration_since(time) <= gap + Duration::from_millis(100),
            "the loop's time lags Instant::now() by more than the gap: {:?}",
            before.saturating_duration_since(time)
        );
    }

    /// The system clock's origin readings are paired closely: a timer at a plain
    /// `Instant::now()` is never early (`now_ns` read before it is not past it).
    #[test]
    fn l8_now_ns_is_never_ahead_of_a_later_instant() {
        let c = Clock::system();
        for _ in 0..1000 {
            let now = c.now_ns();
            let later = c.ns_of(Instant::now());
            assert!(
                now <= later,
                "now_ns {now} is ahead of a later Instant's {later}"
            );
        }
    }

    #[test]
    fn l8_ticks_round_down_and_deadlines_keep_their_sign_and_order() {
        let m = ManualClock::new();
        let c = Clock::manual(m.clone());
        assert_eq!(c.now_ns(), 0);
        assert_eq!(c.ns_of(c.origin), 0);
        assert_eq!(c.ns_of(c.origin + Duration::from_micros(1500)), 1_500_000);
        assert_eq!(tick_of(1_500_000), 1);
        assert_eq!(tick_of(999_999), 0);
        if let Some(before) = c.origin.checked_sub(Duration::from_millis(2)) {
            assert_eq!(c.ns_of(before), -2_000_000);
            assert_eq!(tick_of(-2_000_000), 0);
        }
        m.advance(Duration::from_micros(1999));
        assert_eq!(c.now_ns(), 1_999_000);
        assert_eq!(tick_start(2), 2_000_000);
        // Exact however far ahead (L8: never early), saturating where the counts end.
        let far = c.ns_of(c.origin + Duration::from_secs(1 << 31));
        assert_eq!(far, (1 << 31) * 1_000_000_000);
        assert_eq!(c.ns_of(c.origin + Duration::from_secs(1 << 40)), i64::MAX);
        assert_eq!(c.ns_of(deadline_after(c.now(), Duration::MAX)), i64::MAX);
    }
}
