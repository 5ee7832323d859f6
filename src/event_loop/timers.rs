//! Timers on the loop: `call_later` / `call_at` (CPython's `BaseEventLoop.call_later`,
//! `call_at`, `events.TimerHandle`; L6-L10) and the exact deadlines the wheel files by
//! millisecond (see `clock.rs` for the rounding rules, `timer_wheel.rs` for the wheel).

use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::clock;
use super::handle::{new_callback, Callback, CallbackOutput, Handle, TimerHandle};
use super::ready::Runnable;
use super::timer_wheel::TimerKey;
use super::{LoopHandle, LoopInner};
use crate::error::Error;

/// A scheduled timer as the wheel holds it: the exact deadline, a tie-breaker, the action.
pub(crate) struct Timer {
    /// Nanoseconds from the clock's origin (`Clock::ns_of`); due once `now_ns() >= at`.
    pub(crate) at: i64,
    /// Scheduling order, for equal deadlines (D2).
    pub(crate) seq: u64,
    pub(crate) entry: TimerEntry,
}

/// What a timer does when it comes due.
pub(crate) enum TimerEntry {
    /// A `call_later`/`call_at` callback: moved to the ready queue.
    Callback(Rc<dyn Callback>),
    /// A sleeping future: woken from the ready queue (`Runnable::Wake`), in its turn.
    Waker(Waker),
}

impl LoopHandle {
    /// Schedules `f` to run once `delay` has passed (Python's `loop.call_later`): the same as
    /// `call_at(time() + delay, f)`. A zero delay runs after the callbacks already queued.
    /// Any delay is accepted: one beyond about 292 years (`Duration::MAX` included, the idiom
    /// for "never") saturates at that far future instead of overflowing, and never fires.
    ///
    /// # Errors
    /// [`Error::InvalidState`] after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let tx2 = tx.clone();
    /// lp.call_later(Duration::from_millis(2), move || tx.send("later").unwrap())?;
    /// lp.call_soon(move || tx2.send("soon").unwrap())?;
    /// lp.run_until_complete(asyncio::sleep(Duration::from_millis(3)))?;
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), ["soon", "later"]);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L6, L7.
    pub fn call_later<F, R>(&self, delay: Duration, f: F) -> Result<TimerHandle, Error>
    where
        F: FnOnce() -> R + 'static,
        R: CallbackOutput + 'static,
    {
        self.schedule_callback(self.deadline_in(delay), new_callback(f))
    }

    /// The loop time `delay` from now, saturating (`clock::deadline_after`). Out of line:
    /// inlined, the clock read was copied into every closure type's `call_later`.
    #[inline(never)]
    fn deadline_in(&self, delay: Duration) -> Instant {
        clock::deadline_after(self.time(), delay)
    }

    /// Schedules `f` at the absolute loop time `when` (Python's `loop.call_at`). A time in the
    /// past is due at the next iteration. Timers never fire early and equal deadlines fire in
    /// scheduling order.
    ///
    /// # Errors
    /// [`Error::InvalidState`] after [`close`](Self::close).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let when = lp.time() + Duration::from_millis(1);
    /// let timer = lp.call_at(when, || println!("on time"))?;
    /// assert_eq!(timer.when(), when);
    /// lp.run_until_complete(asyncio::sleep_until(when))?;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L6, D2.
    pub fn call_at<F, R>(&self, when: Instant, f: F) -> Result<TimerHandle, Error>
    where
        F: FnOnce() -> R + 'static,
        R: CallbackOutput + 'static,
    {
        self.schedule_callback(when, new_callback(f))
    }

    /// `call_at` past the boxing, once for every closure type (see `call_soon`).
    fn schedule_callback(
        &self,
        when: Instant,
        callback: Rc<dyn Callback>,
    ) -> Result<TimerHandle, Error> {
        self.inner.check_closed()?;
        let at = self.inner.clock.ns_of(when);
        callback.set_when(self.inner.clock.loop_ns(at));
        let key = self
            .inner
            .insert_timer_ns(at, TimerEntry::Callback(callback.clone()));
        Ok(TimerHandle {
            handle: Handle { callback },
            when,
            key,
            lp: Rc::downgrade(&self.inner),
        })
    }
}

impl LoopInner {
    /// Watches `key`, the timer of a retry waiting for a held protocol, which `free` says is
    /// free now (see `held_retries`). Those whose timer went leave first, as at each look
    /// (`expedite_freed`): the list must not grow by one entry per spaced retry for as long as
    /// the protocol stays held.
    #[cold]
    #[inline(never)]
    pub(crate) fn watch_held(&self, key: TimerKey, free: Box<dyn Fn() -> bool>) {
        if let Ok(mut held) = self.held_retries.try_borrow_mut() {
            if let Ok(timers) = self.timers.try_borrow() {
                held.retain(|(k, _)| timers.get(*k).is_some());
            }
            held.push((key, free));
        }
    }

    /// `expedite_freed` while a watched retry waits: one length test per iteration, before
    /// the poll (with work ready too: a loop that never sleeps would otherwise leave a freed
    /// retry to its own timer, up to 64 ms later).
    #[inline(always)]
    pub(crate) fn expedite_if_held(&self) {
        if !self.held_retries.borrow().is_empty() {
            self.expedite_freed();
        }
    }

    /// Moves the watched retries whose protocol is free now to the ready queue, so that they
    /// run in this iteration, ahead of what its poll brings; drops those whose timer went. Before each poll, while a watched
    /// retry waits: the borrow can only have ended in code this loop ran.
    #[cold]
    #[inline(never)]
    pub(crate) fn expedite_freed(&self) {
        let Ok(mut held) = self.held_retries.try_borrow_mut() else {
            return;
        };
        held.retain(|(key, free)| {
            let pending = self
                .timers
                .try_borrow()
                .is_ok_and(|t| t.get(*key).is_some());
            if pending && free() {
                self.run_held_retry_next(*key);
                return false;
            }
            pending
        });
    }

    /// Moves watched retry `key` from the timers to the ready queue: found free before the
    /// poll, it runs ahead of what this poll brings (a transport's fresh delivery must not
    /// overtake the stream calls queued while the protocol was held, `streams/held_sets.rs`).
    #[cold]
    fn run_held_retry_next(&self, key: TimerKey) {
        let timer = match self.timers.try_borrow_mut() {
            Ok(mut timers) => timers.remove(key),
            Err(_) => None,
        };
        match timer.map(|t| t.entry) {
            Some(TimerEntry::Callback(cb)) => self.ready.push(Runnable::Callback(cb)),
            Some(TimerEntry::Waker(w)) => self.ready.push(Runnable::Wake(w)),
            None => {}
        }
    }

    /// Files `entry` to fire at `when` (exact; saturating far ahead, L6).
    pub(crate) fn insert_timer(&self, when: Instant, entry: TimerEntry) -> TimerKey {
        self.insert_timer_ns(self.clock.ns_of(when), entry)
    }

    /// Files `entry` to fire `at` nanoseconds from the clock's origin (`Clock::ns_of`).
    pub(crate) fn insert_timer_ns(&self, at: i64, entry: TimerEntry) -> TimerKey {
        self.timer_inserts.set(self.timer_inserts.get() + 1);
        self.timer_due_by(at);
        let seq = self.timer_seq.get();
        self.timer_seq.set(seq + 1);
        self.timers
            .borrow_mut()
            .insert(clock::tick_of(at), Timer { at, seq, entry })
    }

    /// Moves a pending timer to `when`, keeping its key; false if it already fired or was
    /// cancelled. It counts as newly scheduled among equal deadlines.
    pub(crate) fn reset_timer(&self, key: TimerKey, when: Instant) -> bool {
        self.reset_timer_ns(key, self.clock.ns_of(when))
    }

    /// [`reset_timer`](Self::reset_timer) to `at` nanoseconds from the clock's origin.
    pub(crate) fn reset_timer_ns(&self, key: TimerKey, at: i64) -> bool {
        self.timer_due_by(at);
        let seq = self.timer_seq.get();
        self.timer_seq.set(seq + 1);
        let mut timers = self.timers.borrow_mut();
        match timers.get_mut(key) {
            Some(t) => {
                t.at = at;
                t.seq = seq;
            }
            None => return false,
        }
        timers.reset(key, clock::tick_of(at))
    }
}

impl LoopInner {
    /// Takes a pending timer out of the wheel (dropping its entry after the borrow ends);
    /// nothing if it already fired or the wheel is in use.
    // Out of line: a cancel is no hot path, and inlined, the wheel's unlinking was copied into
    // each owner of a timer that can be cancelled (0.7 KiB of the echo client).
    #[inline(never)]
    pub(crate) fn remove_timer(&self, key: TimerKey) {
        let entry = match self.timers.try_borrow_mut() {
            Ok(mut timers) => timers.remove(key),
            Err(_) => None,
        };
        drop(entry);
    }
}
