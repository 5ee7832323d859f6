//! Waits of a future for a protocol its user holds (a borrow of the `RefCell` that
//! `get_protocol()` returns, kept across an `.await`): a drain's, a `wait_closed`'s, a
//! `start_tls`'s. No CPython counterpart (Python has no borrows). Ground rules: one retry per
//! wait ([`when_cell_free`]), which holds the wait's waker slot weakly, so a wait polled
//! again hands over its waker and a wait dropped takes it away; the retry wakes the latest
//! waker as it runs, or as a closing loop discards it.

use std::cell::RefCell;
use std::rc::Rc;

use super::{when_cell_free, Hold, Need};

/// Where a wait for a held cell keeps the waker its one retry wakes (see
/// [`wake_when_cell_free`]); `None` before its first such wait.
pub(crate) type HeldSlot = Option<Rc<std::cell::Cell<Option<std::task::Waker>>>>;

/// Files `cx`'s waker to be woken once `cell` is free of every borrow (a user's, through
/// `get_protocol()`, held across an `.await`): with the retry `slot` already waits on,
/// replacing the earlier poll's waker, or with a new retry ([`when_cell_free`], naming
/// transport `id`), which wakes it as it runs or as a closing loop discards it unrun (the
/// waiter then polls again and sees the loop closed). The retry holds the slot weakly: a wait
/// dropped first takes its waker with it.
#[cold]
#[inline(never)]
pub(crate) fn wake_when_cell_free<T: ?Sized + 'static>(
    lp: crate::event_loop::LoopHandle,
    id: u64,
    cell: std::rc::Weak<RefCell<T>>,
    slot: &mut HeldSlot,
    cx: &std::task::Context<'_>,
) {
    let waker = Some(cx.waker().clone());
    if let Some(waiting) = slot.as_ref().filter(|s| Rc::weak_count(s) > 0) {
        drop(waiting.replace(waker));
        return;
    }
    let fresh = Rc::new(std::cell::Cell::new(waker));
    let guard = WakeOnDrop(Rc::downgrade(&fresh));
    *slot = Some(fresh);
    let wake = move |_: &RefCell<T>| drop(guard);
    when_cell_free(lp, id, cell, Need::Exclusive, Box::new(wake), Hold::new());
}

/// As [`wake_when_cell_free`], for a wait that cannot reach its transport's loop without the
/// held cell (a reader's): the retry goes on the running loop; outside one, `cx` is woken at
/// once (polled again, the wait looks again).
#[cfg(feature = "futures-io")] // the futures-io reader's waits, which keep a slot
#[cold]
#[inline(never)]
pub(crate) fn wake_on_running_loop_when_free<T: ?Sized + 'static>(
    cell: &Rc<RefCell<T>>,
    slot: &mut HeldSlot,
    cx: &std::task::Context<'_>,
) {
    match crate::event_loop::current_loop() {
        Some(lp) => wake_when_cell_free(lp, 0, Rc::downgrade(cell), slot, cx),
        None => cx.waker().wake_by_ref(),
    }
}

/// As [`wake_when_cell_free`], for a wait with nowhere to keep a slot across its polls (one
/// through a shared reference, which many tasks may poll; a read future, which keeps none so
/// that its set-up stays lean): a retry of its own, which holds
/// `cx`'s waker and wakes it as it runs or as a closing loop discards it.
#[cold]
#[inline(never)]
pub(crate) fn wake_once_cell_free<T: ?Sized + 'static>(
    lp: crate::event_loop::LoopHandle,
    id: u64,
    cell: std::rc::Weak<RefCell<T>>,
    cx: &std::task::Context<'_>,
) {
    let guard = WakeOwned(cx.waker().clone());
    let wake = move |_: &RefCell<T>| drop(guard);
    when_cell_free(lp, id, cell, Need::Exclusive, Box::new(wake), Hold::new());
}

/// A shared wait's retry: wakes its waker when dropped.
struct WakeOwned(std::task::Waker);

impl Drop for WakeOwned {
    fn drop(&mut self) {
        self.0.wake_by_ref();
    }
}

/// Ready once `cell` is free of every borrow, or gone: polled again through one retry
/// ([`wake_when_cell_free`]) until it is.
///
/// # Errors
/// The loop's close: no retry can run any more.
#[cfg(feature = "tls")] // start_tls' waits only
pub(crate) async fn until_cell_free<T: ?Sized + 'static>(
    lp: &crate::event_loop::LoopHandle,
    id: u64,
    cell: std::rc::Weak<RefCell<T>>,
) -> Result<(), crate::error::Error> {
    let mut slot = None;
    std::future::poll_fn(|cx| {
        if lp.is_closed() {
            let closed = crate::error::loop_closed_io();
            return std::task::Poll::Ready(Err(crate::error::Error::Io(closed)));
        }
        if cell.upgrade().is_none_or(|c| c.try_borrow_mut().is_ok()) {
            return std::task::Poll::Ready(Ok(()));
        }
        wake_when_cell_free(lp.clone(), id, cell.clone(), &mut slot, cx);
        std::task::Poll::Pending
    })
    .await
}

/// A held wait's retry: wakes the latest waker when dropped; nobody if the wait is gone.
struct WakeOnDrop(std::rc::Weak<std::cell::Cell<Option<std::task::Waker>>>);

impl Drop for WakeOnDrop {
    fn drop(&mut self) {
        if let Some(waker) = self.0.upgrade().and_then(|slot| slot.take()) {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{when_cell_free, Hold, Need};
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use std::time::Duration;

    /// Keeps the ready queue busy for `turns` more turns: the loop never sleeps meanwhile.
    fn busy(lp: crate::LoopHandle, turns: Rc<Cell<u32>>) {
        if turns.get() > 0 {
            turns.set(turns.get() - 1);
            let again = lp.clone();
            drop(lp.call_soon(move || busy(again, turns)));
        }
    }

    /// A protocol held while the loop never sleeps (work always ready, so it never gets to
    /// look at the watched retries before a sleep): the watch list keeps only the live retry,
    /// not one entry per spaced retry for as long as the hold lasts.
    #[test]
    fn held_retries_do_not_pile_up_while_the_loop_never_sleeps() {
        let clock = crate::ManualClock::new();
        let el = crate::EventLoop::with_clock(clock.clone()).unwrap();
        let lp = el.handle();
        let cell = Rc::new(RefCell::new(0u32));
        let ran = Rc::new(Cell::new(false));
        let seen = ran.clone();
        let held = cell.borrow_mut();
        let act = Box::new(move |_: &RefCell<u32>| seen.set(true));
        when_cell_free(
            lp.clone(),
            1,
            Rc::downgrade(&cell),
            Need::Exclusive,
            act,
            Hold::new(),
        );
        busy(lp.clone(), Rc::new(Cell::new(300)));
        for _ in 0..200 {
            clock.advance(Duration::from_millis(64));
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        let watched = lp.inner.held_retries.borrow().len();
        assert!(watched <= 1, "{watched} retries watched, one is live");
        drop(held);
        for _ in 0..200 {
            clock.advance(Duration::from_millis(64));
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert!(ran.get(), "the action ran once the borrow ended");
        drop(el);
    }

    /// A spaced retry freed while the loop never sleeps (work always ready): the loop looks
    /// at the watched retries before each poll, so it runs in the turns right after the
    /// release. It waited for its own timer (up to 64 ms) while the clock stood still: the
    /// look ran only when the loop was about to sleep (checked by reverting: not run after
    /// 20 busy turns).
    #[test]
    fn a_freed_retry_runs_right_away_in_a_loop_that_never_sleeps() {
        let clock = crate::ManualClock::new();
        let el = crate::EventLoop::with_clock(clock.clone()).unwrap();
        let lp = el.handle();
        let cell = Rc::new(RefCell::new(0u32));
        let ran = Rc::new(Cell::new(false));
        let seen = ran.clone();
        let held = cell.borrow_mut();
        let act = Box::new(move |_: &RefCell<u32>| seen.set(true));
        let weak = Rc::downgrade(&cell);
        when_cell_free(lp.clone(), 1, weak, Need::Exclusive, act, Hold::new());
        // A long hold: the retries space out to 64 ms.
        for _ in 0..300 {
            clock.advance(Duration::from_millis(1));
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert!(!ran.get(), "held: not run");
        drop(held);
        busy(lp.clone(), Rc::new(Cell::new(1000)));
        for _ in 0..20 {
            lp.run_once(Some(Duration::ZERO)).unwrap(); // busy, the clock standing still
        }
        assert!(ran.get(), "the freed retry waited for its own timer");
        drop(el);
    }
}
