//! The loop's clock: `loop.time()` as an `Instant`, and the 1 ms ticks the timer wheel counts.
//!
//! Mirrors `BaseEventLoop.time()` (monotonic, L11) in CPython `Lib/asyncio/base_events.py`.
//! Ground rules: a deadline becomes a tick by rounding *up* and "now" by rounding *down*, so a
//! timer never fires early (L8, L9); the poll timeout is rounded up to whole milliseconds for the
//! same reason. A [`ManualClock`] replaces the system clock in tests: time moves only when the
//! test says so.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// One wheel tick.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// The latest deadline a timer gets: about 31 years ahead. Later ones (`Duration::MAX`, the
/// idiom for "no deadline") saturate to it, so no timer API overflows an `Instant` (L6).
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(1 << 30);

/// `now + delay`, saturating at [`FAR_FUTURE`] instead of panicking on overflow.
pub(crate) fn deadline_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay.min(FAR_FUTURE)).unwrap_or(now)
}

/// A clock a test moves by hand. Give it to [`EventLoop::with_clock`](crate::EventLoop::with_clock).
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
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.offset.set(self.offset.get().saturating_add(d));
    }

    /// How far the clock has moved since it was made.
    pub fn elapsed(&self) -> Duration {
        self.offset.get()
    }
}

pub(crate) struct Clock {
    /// Tick 0.
    origin: Instant,
    manual: Option<ManualClock>,
}

impl Clock {
    pub(crate) fn system() -> Self {
        Clock {
            origin: Instant::now(),
            manual: None,
        }
    }

    pub(crate) fn manual(m: ManualClock) -> Self {
        Clock {
            origin: Instant::now(),
            manual: Some(m),
        }
    }

    pub(crate) fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    pub(crate) fn now(&self) -> Instant {
        match &self.manual {
            // A manual clock moved by `Duration::MAX` stays at the far future, not past it.
            Some(m) => deadline_after(self.origin, m.elapsed()),
            None => Instant::now(),
        }
    }

    /// The tick "now" is in (rounded down).
    pub(crate) fn now_tick(&self) -> u64 {
        let since = self.now().saturating_duration_since(self.origin);
        (since.as_nanos() / TICK.as_nanos()) as u64
    }

    /// The first tick at or after `when` (rounded up): the timer fires no earlier than `when`.
    /// An `Instant` beyond [`FAR_FUTURE`] from now counts as that far (saturating, L6).
    pub(crate) fn deadline_tick(&self, when: Instant) -> u64 {
        let since = when.saturating_duration_since(self.origin).as_nanos();
        let tick = since.div_ceil(TICK.as_nanos());
        // Past 2^40 ticks (35 years from the loop's start) only: clamp, reading the clock.
        if tick < 1 << 40 {
            tick as u64
        } else {
            self.now_tick() + FAR_FUTURE.as_millis() as u64
        }
    }

    /// How long to poll until `tick` begins, rounded up to whole milliseconds; zero if it has.
    pub(crate) fn until_tick(&self, tick: u64) -> Duration {
        let at = self.origin + TICK * (tick.min(u32::MAX as u64) as u32);
        let left = at.saturating_duration_since(self.now());
        let ms = left.as_nanos().div_ceil(1_000_000);
        Duration::from_millis(ms as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l8_deadlines_round_up_now_rounds_down() {
        let m = ManualClock::new();
        let c = Clock::manual(m.clone());
        assert_eq!(c.now_tick(), 0);
        assert_eq!(c.deadline_tick(c.origin), 0);
        assert_eq!(c.deadline_tick(c.origin + Duration::from_nanos(1)), 1);
        assert_eq!(c.deadline_tick(c.origin + Duration::from_micros(1500)), 2);
        m.advance(Duration::from_micros(1999));
        assert_eq!(c.now_tick(), 1);
        assert_eq!(
            c.until_tick(2),
            Duration::from_millis(1),
            "1 µs left rounds up to 1 ms"
        );
        m.advance(Duration::from_micros(1));
        assert_eq!(c.until_tick(2), Duration::ZERO);
    }
}
