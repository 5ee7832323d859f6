//! The event loop, tasks and timers (issue #2). Each test cites the ids of
//! `asyncio-semantics.md` it covers. Time is virtual (ManualClock) wherever a test is about
//! timer order; real-clock tests only wait for events, never sleep to synchronise.

mod util;

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use asyncio::{Error, EventLoop, ManualClock};
use util::{capture_exceptions, Log};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn l1_call_soon_runs_in_fifo_order_once() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    for i in 0..5 {
        let l = log.clone();
        lp.call_soon(move || l.push(i.to_string())).unwrap();
    }
    let h = lp.handle();
    lp.call_soon(move || h.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(log.get(), ["0", "1", "2", "3", "4"]);
}

#[test]
fn l1_l6_l16_scheduling_on_a_closed_loop_fails() {
    let lp = EventLoop::new().unwrap();
    lp.close().unwrap();
    assert!(lp.is_closed());
    let e = lp.call_soon(|| ()).unwrap_err();
    assert_eq!(e.to_string(), "Event loop is closed");
    assert!(matches!(
        lp.call_later(ms(1), || ()),
        Err(Error::InvalidState(_))
    ));
    assert!(matches!(lp.spawn(async {}), Err(Error::InvalidState(_))));
    assert!(matches!(lp.run_forever(), Err(Error::InvalidState(_))));
    assert!(lp.run_until_complete(async {}).is_err());
    assert!(lp.threadsafe().call_soon_threadsafe(|| ()).is_err());
    assert!(lp.add_reader(0, || ()).is_err());
    assert!(!lp.remove_reader(0).unwrap());
    lp.close().unwrap(); // idempotent
}

#[test]
fn l2_order_is_queued_then_io_then_timers() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_at(lp.time(), move || l.push("timer")).unwrap();
    let l = log.clone();
    let fd = a.as_raw_fd();
    let h = lp.handle();
    lp.add_reader(fd, move || {
        l.push("io");
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    let l = log.clone();
    lp.call_soon(move || l.push("soon")).unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(log.get(), ["soon", "io", "timer"]);
}

/// A task parked on a shared waker slot; `wake()` from anywhere wakes it.
struct Parked {
    waker: Rc<std::cell::RefCell<Option<std::task::Waker>>>,
}

impl Parked {
    fn new() -> Self {
        Parked {
            waker: Rc::default(),
        }
    }
    /// A future that parks once (saving its waker), then completes when polled again.
    fn park(&self) -> impl std::future::Future<Output = ()> {
        let slot = self.waker.clone();
        let mut parked = false;
        std::future::poll_fn(move |cx| {
            if parked {
                return std::task::Poll::Ready(());
            }
            parked = true;
            *slot.borrow_mut() = Some(cx.waker().clone());
            std::task::Poll::Pending
        })
    }
    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

#[test]
fn d10_a_task_woken_by_an_io_callback_runs_in_the_same_iteration() {
    // One iteration: queued callback, I/O callback, due timer (the L3 snapshot, L2 order),
    // then the task the I/O callback woke (D10). A call_soon made by the I/O callback still
    // waits for the next iteration (L3).
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let log = Log::default();
    let parked = Rc::new(Parked::new());
    let (l, fut) = (log.clone(), parked.park());
    lp.spawn(async move {
        fut.await;
        l.push("task woken by io");
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the task parks
    assert!(log.get().is_empty());

    let l = log.clone();
    lp.call_at(lp.time(), move || l.push("timer")).unwrap();
    let fd = a.as_raw_fd();
    let (l, h, p) = (log.clone(), lp.handle(), parked.clone());
    lp.add_reader(fd, move || {
        l.push("io");
        p.wake();
        let l2 = l.clone();
        h.call_soon(move || l2.push("soon from io")).unwrap();
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    let l = log.clone();
    lp.call_soon(move || l.push("soon")).unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(log.get(), ["soon", "io", "timer", "task woken by io"]);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.len(), 5);
    assert_eq!(log.get()[4], "soon from io");
}

#[test]
fn l2_l3_an_io_only_iteration_keeps_the_order_with_a_timer_armed() {
    // Nothing queued and no timer due: the iteration runs only I/O callbacks (the loop's fast
    // path). What they schedule still waits for the next iteration (L3), and a timer armed
    // for later fires only when due (L8).
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_later(ms(5), move || l.push("timer")).unwrap();
    let fd = a.as_raw_fd();
    let (l, h) = (log.clone(), lp.handle());
    lp.add_reader(fd, move || {
        l.push("io");
        let l2 = l.clone();
        h.call_soon(move || l2.push("soon from io")).unwrap();
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(log.get(), ["io"]);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["io", "soon from io"]);
    clock.advance(ms(5));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["io", "soon from io", "timer"]);
}

#[test]
fn d10_a_task_woken_by_io_runs_at_most_once_per_iteration() {
    // It wakes itself at every poll: the second and later polls each wait for an iteration.
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let polls = Rc::new(Cell::new(0u32));
    let parked = Rc::new(Parked::new());
    let (n, fut) = (polls.clone(), parked.park());
    lp.spawn(async move {
        fut.await;
        loop {
            n.set(n.get() + 1);
            asyncio::yield_now().await;
        }
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let fd = a.as_raw_fd();
    let (h, p) = (lp.handle(), parked.clone());
    lp.add_reader(fd, move || {
        p.wake();
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(
        polls.get(),
        1,
        "woken by I/O: ran once in the same iteration"
    );
    for i in 2..=4 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(polls.get(), i, "a self-waking task runs once per iteration");
    }
}

#[test]
fn d10_l3_a_task_woken_by_a_callback_still_waits_for_the_next_iteration() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let parked = Rc::new(Parked::new());
    let (l, fut) = (log.clone(), parked.park());
    lp.spawn(async move {
        fut.await;
        l.push("task");
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let p = parked.clone();
    lp.call_soon(move || p.wake()).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(
        log.get().is_empty(),
        "L3: woken by call_soon, runs next iteration"
    );
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["task"]);
}

/// A sleep's timer is a timer like `call_at`'s (L3 kept, D10): in CPython it sets the sleep's
/// future, whose done-callback schedules the task's step for the next iteration. So a
/// callback due at the same time, even one scheduled after the sleep, runs first, and the task
/// resumes one iteration later and sees what it did.
#[test]
fn d10_l3_a_task_woken_by_its_sleep_runs_the_iteration_after_the_timers_due_with_it() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let log = Log::default();
    let deadline = lp.time() + ms(5);
    let l = log.clone();
    lp.spawn(async move {
        asyncio::sleep_until(deadline).await;
        l.push("task");
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the sleep is armed
    let l = log.clone();
    lp.call_at(deadline, move || l.push("timer")).unwrap();
    clock.advance(ms(5));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        log.get(),
        ["timer"],
        "the task waits for the next iteration"
    );
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["timer", "task"]);
}

#[test]
fn d10_a_stream_read_completes_in_the_iteration_its_bytes_arrive() {
    // The streams hot path: readable event -> transport reads into the reader -> the waiting
    // read's task runs, all in one iteration (no extra poll per message).
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = asyncio::socketpair().unwrap();
    let got = Rc::new(std::cell::RefCell::new(Vec::new()));
    let g = got.clone();
    let task = lp
        .spawn(async move {
            let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
            let data = reader.read(100).await.unwrap();
            g.borrow_mut().extend_from_slice(&data);
        })
        .unwrap();
    // Bounded: run until the read is parked with nothing buffered.
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(got.borrow().is_empty());
    b.write_all(b"ping").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(
        &*got.borrow(),
        b"ping",
        "the read finished in the iteration that saw the bytes"
    );
    drop(task);
}

#[test]
fn l3_callbacks_queued_during_a_run_wait_for_the_next_iteration() {
    let lp = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0));
    fn again(lp: asyncio::LoopHandle, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        let lp2 = lp.clone();
        lp.call_soon(move || again(lp2, count)).unwrap();
    }
    let (h, c) = (lp.handle(), count.clone());
    lp.call_soon(move || again(h, c)).unwrap();
    for i in 1..=3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(
            count.get(),
            i,
            "a self-rescheduling callback ran more than once per iteration"
        );
    }
}

// CPython: BaseEventLoopTests.test__add_callback_cancelled_handle
#[test]
fn l5_cancel_is_idempotent_and_releases_the_capture() {
    let lp = EventLoop::new().unwrap();
    let captured = Rc::new(());
    let c = captured.clone();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let h = lp
        .call_soon(move || {
            let _keep = &c;
            r.set(true);
        })
        .unwrap();
    assert_eq!(Rc::strong_count(&captured), 2);
    h.cancel();
    h.cancel();
    assert!(h.cancelled());
    assert_eq!(
        Rc::strong_count(&captured),
        1,
        "cancel must drop the closure at once"
    );
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!ran.get());
}

#[test]
fn l5_a_handle_cancelled_by_an_earlier_callback_of_the_same_iteration_is_skipped() {
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let slot: Rc<Cell<Option<asyncio::Handle>>> = Rc::new(Cell::new(None));
    let s = slot.clone();
    lp.call_soon(move || s.take().unwrap().cancel()).unwrap();
    let r = ran.clone();
    slot.set(Some(lp.call_soon(move || r.set(true)).unwrap()));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!ran.get());
}

#[test]
fn l6_l7_timers_fire_by_deadline_then_scheduling_order() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let log = Log::default();
    let t0 = lp.time();
    for (name, at) in [("c10", 10), ("a5", 5), ("b5", 5), ("d0", 0), ("e10", 10)] {
        let l = log.clone();
        let h = lp.call_at(t0 + ms(at), move || l.push(name)).unwrap();
        assert_eq!(h.when(), t0 + ms(at), "L6: when() is the absolute deadline");
    }
    let l = log.clone();
    lp.call_soon(move || l.push("soon")).unwrap();
    clock.advance(ms(20));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["soon", "d0", "a5", "b5", "c10", "e10"]);
}

#[test]
fn l7_deadlines_within_one_millisecond_fire_in_deadline_order() {
    // Issue #13: 0.3 ms apart, scheduled latest first; the wheel's 1 ms tick must not decide.
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let log = Log::default();
    let t0 = lp.time();
    for (name, us) in [("late", 1_600), ("early", 1_300), ("early-too", 1_300)] {
        let l = log.clone();
        lp.call_at(t0 + Duration::from_micros(us), move || l.push(name))
            .unwrap();
    }
    clock.advance(ms(2));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["early", "early-too", "late"]);
}

// CPython: BaseEventLoopTests.test_call_later_negative_delays
#[test]
fn l7_past_deadlines_fire_in_deadline_order_right_after_the_loop_starts() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let now = lp.time();
    for (name, back) in [("1 ms ago", 1), ("2 ms ago", 2), ("3 ms ago", 3)] {
        if let Some(at) = now.checked_sub(ms(back)) {
            let l = log.clone();
            lp.call_at(at, move || l.push(name)).unwrap();
        }
    }
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let want: Vec<&str> = ["3 ms ago", "2 ms ago", "1 ms ago"]
        .into_iter()
        .filter(|n| log.get().iter().any(|g| g == n))
        .collect();
    assert_eq!(log.get(), want);
    assert_eq!(
        log.len(),
        3,
        "every past deadline fires at the next iteration"
    );
}

#[test]
fn l2_a_zero_delay_timer_joins_the_iteration_it_became_due_in() {
    // CPython: call_soon(a, b, c) then call_later(0, t), where a schedules d: a b c t d.
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (l, h) = (log.clone(), lp.handle());
    lp.call_soon(move || {
        l.push("a");
        let l2 = l.clone();
        h.call_soon(move || l2.push("d")).unwrap();
    })
    .unwrap();
    for name in ["b", "c"] {
        let l = log.clone();
        lp.call_soon(move || l.push(name)).unwrap();
    }
    let l = log.clone();
    lp.call_later(Duration::ZERO, move || l.push("t")).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["a", "b", "c", "t", "d"]);
}

#[test]
fn l8_a_sub_millisecond_deadline_never_fires_early_nor_a_tick_late() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    lp.call_at(lp.time() + Duration::from_micros(1_500), move || {
        f.set(true)
    })
    .unwrap();
    clock.advance(Duration::from_micros(1_499));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!fired.get(), "fired early");
    clock.advance(Duration::from_micros(1));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(
        fired.get(),
        "due at 1.5 ms: fires then, not at the 2 ms tick"
    );
}

#[test]
fn l8_a_timer_never_fires_early() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    lp.call_later(ms(5), move || f.set(true)).unwrap();
    clock.advance(ms(4));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!fired.get(), "a 5 ms timer fired at 4 ms");
    clock.advance(Duration::from_micros(999));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!fired.get(), "a 5 ms timer fired at 4.999 ms");
    clock.advance(Duration::from_micros(1));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(fired.get());
}

#[test]
fn l8_tiny_sleeps_do_not_spin() {
    // CPython's test_timeout_rounding: five tiny sleeps take at most 20 iterations.
    let lp = EventLoop::new().unwrap();
    let iterations = Rc::new(Cell::new(0u32));
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    lp.spawn(async move {
        for exp in [2, 4, 6, 8, 10] {
            asyncio::sleep(Duration::from_secs_f64(10f64.powi(-exp))).await;
        }
        d.set(true);
    })
    .unwrap()
    .detach();
    while !done.get() {
        lp.run_once(None).unwrap();
        iterations.set(iterations.get() + 1);
        assert!(iterations.get() <= 20, "tiny sleeps spun the loop");
    }
}

// CPython: BaseEventLoopTests.test__run_once_cancelled_event_cleanup (no firing, bounded storage)
#[test]
fn l10_cancelled_timers_never_fire_and_leave_the_wheel() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let fired = Rc::new(Cell::new(0));
    for i in 0..1000u64 {
        let f = fired.clone();
        let h = lp
            .call_later(ms(1 + i), move || f.set(f.get() + 1))
            .unwrap();
        h.cancel();
    }
    assert_eq!(lp.stats().timers, 0, "cancelled timers must not accumulate");
    clock.advance(ms(5000));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(fired.get(), 0);
}

#[test]
fn l10_cancelling_a_timer_from_inside_another_callback() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let victim = lp.call_later(ms(10), move || f.set(true)).unwrap();
    lp.call_later(ms(5), move || victim.cancel()).unwrap();
    clock.advance(ms(20));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(
        !fired.get(),
        "both were due in one iteration; the cancelled one still ran"
    );
}

// CPython: EventLoopTestsMixin.test_close_running_event_loop
// CPython: RunningLoopTests.test_running_loop_within_a_loop
#[test]
fn l12_run_forever_refuses_reentry_and_a_second_loop() {
    let lp = EventLoop::new().unwrap();
    let other = EventLoop::new().unwrap();
    let h = lp.handle();
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    let other_h = other.handle();
    lp.call_soon(move || {
        assert_eq!(
            h.run_forever().unwrap_err().to_string(),
            "This event loop is already running"
        );
        assert_eq!(
            other_h.run_forever().unwrap_err().to_string(),
            "Cannot run the event loop while another loop is running"
        );
        assert!(h.close().is_err(), "L16: cannot close a running loop");
        g.set(1);
        h.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert_eq!(got.get(), 1);
    assert!(!lp.is_running());
    assert!(
        asyncio::get_running_loop().is_err(),
        "L15: marker cleared on exit"
    );
}

#[test]
fn l13_stop_from_a_callback_finishes_the_iteration() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (h, l) = (lp.handle(), log.clone());
    lp.call_soon(move || {
        h.stop();
        let l2 = l.clone();
        h.call_soon(move || l2.push("next")).unwrap();
        l.push("stopper");
    })
    .unwrap();
    let l = log.clone();
    lp.call_soon(move || l.push("same iteration")).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(log.get(), ["stopper", "same iteration"]);
    // L13: what was queued in the last iteration runs when the loop starts again.
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(log.get(), ["stopper", "same iteration", "next"]);
}

#[test]
fn l13_stop_before_run_forever_means_exactly_one_iteration() {
    let lp = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0));
    fn again(lp: asyncio::LoopHandle, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        let lp2 = lp.clone();
        lp.call_soon(move || again(lp2, count)).unwrap();
    }
    let (h, c) = (lp.handle(), count.clone());
    lp.call_soon(move || again(h, c)).unwrap();
    lp.stop();
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(count.get(), 1);
}

// CPython: BaseEventLoopTests.test__add_callback_handle
#[test]
fn l1_l5_test_add_callback_handle() {
    // A handle added with call_soon goes to the ready queue, never among the timers.
    let lp = EventLoop::new().unwrap();
    let h = lp.call_soon(|| ()).unwrap();
    let stats = lp.stats();
    assert_eq!((stats.ready, stats.timers), (1, 0));
    assert!(!h.cancelled());
}

// CPython: BaseEventLoopTests.test__run_once_schedule_handle
#[test]
fn l2_l3_test_run_once_schedule_handle() {
    // A timer due before the iteration runs in it; what it schedules with call_soon waits in
    // the ready queue for the next iteration.
    let lp = EventLoop::new().unwrap();
    let processed = Rc::new(Cell::new(false));
    let later_ran = Rc::new(Cell::new(false));
    let (p, r, h) = (processed.clone(), later_ran.clone(), lp.handle());
    let past = lp
        .time()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(lp.time());
    lp.call_at(past, move || {
        p.set(true);
        let r = r.clone();
        h.call_soon(move || r.set(true)).unwrap();
    })
    .unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(processed.get());
    assert!(!later_ran.get());
    assert_eq!(lp.stats().ready, 1);
    assert_eq!(lp.stats().timers, 0);
}

// CPython: BaseEventLoopTests.test_set_exc_handler_custom
#[test]
fn l19_test_set_exc_handler_custom() {
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    assert!(!lp.has_exception_handler());
    let seen = capture_exceptions(&lp);
    assert!(lp.has_exception_handler());
    lp.call_soon::<_, ()>(|| panic!("zero_error")).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    {
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(seen[0].starts_with("Exception in callback"), "{seen:?}");
        assert!(seen[0].ends_with("panicked: zero_error"), "{seen:?}");
    }
    // Back to the default handler: the custom one is not called any more.
    lp.set_exception_handler(None::<fn(&asyncio::LoopHandle, &asyncio::ExceptionContext)>);
    assert!(!lp.has_exception_handler());
    lp.call_soon::<_, ()>(|| panic!("zero_error")).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(seen.borrow().len(), 1);
}

// CPython: BaseEventLoopTests.test_single_selecter_event_callback_after_stopping
#[test]
fn l5_l13_test_single_selecter_event_callback_after_stopping() {
    // Python issue #25593: an I/O callback must not run twice for one event because the loop
    // was stopped. One readiness event; the callback cancels itself (removes the reader).
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let calls = Rc::new(Cell::new(0));
    let (c, h) = (calls.clone(), lp.handle());
    lp.add_reader(fd, move || {
        c.set(c.get() + 1);
        let h2 = h.clone();
        h.call_soon(move || {
            h2.remove_reader(fd).unwrap();
        })
        .unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    for _ in 1..3 {
        let h = lp.handle();
        lp.call_soon(move || h.stop()).unwrap();
        lp.run_forever().unwrap();
        assert_eq!(calls.get(), 1);
    }
    drop(a);
}

// CPython: BaseEventLoopTests.test_run_forever_pre_stopped
#[test]
fn l9_l13_test_run_forever_pre_stopped() {
    // stop() before run_forever: one iteration that polls with timeout 0, even with a timer
    // an hour away. The loop runs on its own thread so that a blocking poll fails the test
    // after 10 s instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        lp.call_later(Duration::from_secs(3600), || ()).unwrap();
        lp.stop();
        lp.run_forever().unwrap();
        tx.send(lp.is_running()).unwrap();
    });
    let running = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(
        running,
        Ok(false),
        "the pre-stopped run blocked in its poll"
    );
}

#[test]
fn l14_run_until_complete_returns_the_output_and_runs_one_more_iteration() {
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let h = lp.handle();
    let out = lp
        .run_until_complete(async move {
            asyncio::yield_now().await;
            h.call_soon(move || r.set(true)).unwrap();
            "value"
        })
        .unwrap();
    assert_eq!(out, "value");
    assert!(
        ran.get(),
        "a callback scheduled as the future finished must still run"
    );
}

#[test]
fn l14_stopped_before_the_future_completed() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    lp.call_soon(move || h.stop()).unwrap();
    let e = lp
        .run_until_complete(asyncio::sleep(Duration::from_secs(3600)))
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
}

// CPython: EventLoopTestsMixin.test_run_until_complete_nesting
#[test]
fn l12_l15_test_run_until_complete_nesting() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let e = lp
        .run_until_complete(async move {
            assert!(h.is_running());
            h.run_until_complete(asyncio::yield_now()).unwrap_err()
        })
        .unwrap();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert_eq!(e.to_string(), "This event loop is already running");
    assert!(!lp.is_running());
}

// CPython: EventLoopTestsMixin.test_run_until_complete_stopped
#[test]
fn l14_test_run_until_complete_stopped() {
    // stop() from inside the future itself, which then waits on a timer.
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let e = lp
        .run_until_complete(async move {
            h.stop();
            asyncio::sleep(Duration::from_secs(3600)).await;
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
    assert!(!lp.is_running());
}

#[test]
fn l15_get_running_loop_inside_and_outside() {
    assert_eq!(
        asyncio::get_running_loop().unwrap_err().to_string(),
        "no running event loop"
    );
    let lp = EventLoop::new().unwrap();
    let inside =
        lp.run_until_complete(async { asyncio::get_running_loop().map(|l| l.is_running()) });
    assert!(inside.unwrap().unwrap());
}

// CPython: BaseTaskTests.test_log_destroyed_pending_task (a pending task is destroyed when its loop closes, D8)
#[test]
fn l16_l35_close_drops_callbacks_and_reports_pending_tasks() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_soon(move || r.set(true)).unwrap();
    let r = ran.clone();
    lp.call_later(ms(1), move || r.set(true)).unwrap();
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(dropped.clone());
    let t = lp.spawn(async move {
        let _f = flag;
        std::future::pending::<()>().await
    });
    t.unwrap().detach();
    lp.close().unwrap();
    assert!(!ran.get(), "close() must not run queued callbacks");
    assert!(dropped.get(), "close() drops pending tasks' futures");
    assert_eq!(seen.borrow().len(), 1, "{:?}", seen.borrow());
    assert!(seen.borrow()[0].starts_with("Task was destroyed but it is pending!"));
}

// CPython: EventLoopTestsMixin.test_remove_fds_after_closing
#[test]
fn l16_test_remove_fds_after_closing() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    lp.add_reader(r.as_raw_fd(), || ()).unwrap();
    lp.add_writer(w.as_raw_fd(), || ()).unwrap();
    lp.close().unwrap();
    assert!(!lp.remove_reader(r.as_raw_fd()).unwrap());
    assert!(!lp.remove_writer(w.as_raw_fd()).unwrap());
}

// CPython: EventLoopTestsMixin.test_add_fds_after_closing
#[test]
fn l16_test_add_fds_after_closing() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    lp.close().unwrap();
    let e = lp.add_reader(r.as_raw_fd(), || ()).unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    let e = lp.add_writer(w.as_raw_fd(), || ()).unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert_eq!(e.to_string(), "Event loop is closed");
}

#[test]
fn l17_add_reader_is_level_triggered_and_removable() {
    // CPython: BaseSelectorEventLoopTests.test_process_events_read (a read event queues the
    // reader).
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let fd = a.as_raw_fd();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    let h = lp.handle();
    lp.add_reader(fd, move || {
        // Never reads: level-triggered means we are called again next iteration.
        c.set(c.get() + 1);
        if c.get() == 3 {
            assert!(h.remove_reader(fd).unwrap());
            h.stop();
        }
    })
    .unwrap();
    b.write_all(b"ping").unwrap();
    lp.run_forever().unwrap();
    assert_eq!(calls.get(), 3);
    assert!(
        !lp.remove_reader(fd).unwrap(),
        "L17: false when nothing is registered"
    );
    assert_eq!(lp.stats().io_registrations, 0);
    assert!(matches!(
        lp.add_reader(-1, || ()),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn l17_add_writer_and_reader_share_one_fd() {
    // CPython: BaseSelectorEventLoopTests.test_process_events_write (a write event queues the
    // writer).
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let log = Log::default();
    let (l, h) = (log.clone(), lp.handle());
    lp.add_writer(fd, move || {
        l.push("w");
        h.remove_writer(fd).unwrap();
    })
    .unwrap();
    let (l, h) = (log.clone(), lp.handle());
    lp.add_reader(fd, move || {
        l.push("r");
        h.remove_reader(fd).unwrap();
        h.stop();
    })
    .unwrap();
    assert_eq!(
        lp.stats().io_registrations,
        1,
        "reader and writer share one registration"
    );
    b.write_all(b"x").unwrap();
    lp.run_forever().unwrap();
    let got = log.get();
    assert!(
        got.contains(&"w".to_string()) && got.contains(&"r".to_string()),
        "{got:?}"
    );
    assert_eq!(lp.stats().io_registrations, 0);
}

/// A callback that counts its calls and whose captures report being dropped.
fn counting_cb(calls: &Rc<Cell<u32>>, dropped: &Rc<Cell<bool>>) -> impl Fn() + 'static {
    struct SetOnDrop(Rc<Cell<bool>>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let (c, guard) = (calls.clone(), SetOnDrop(dropped.clone()));
    move || {
        let _keep = &guard;
        c.set(c.get() + 1);
    }
}

/// Runs `lp` for one iteration that certainly polls (a zero-delay timer stops it).
fn run_one_poll(lp: &EventLoop) {
    let h = lp.handle();
    lp.call_later(Duration::ZERO, move || h.stop()).unwrap();
    lp.run_forever().unwrap();
}

/// A call counter and a dropped flag for `counting_cb`.
type Counter = (Rc<Cell<u32>>, Rc<Cell<bool>>);

fn counter() -> Counter {
    (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)))
}

/// A fresh loop with a counting reader, then a counting writer, on one end of a socket pair:
/// `(loop, fd, that end, the other end, reader counter, writer counter)`.
fn reader_and_writer() -> (EventLoop, RawFd, UnixStream, UnixStream, Counter, Counter) {
    let lp = EventLoop::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let (r, w) = (counter(), counter());
    lp.add_reader(fd, counting_cb(&r.0, &r.1)).unwrap();
    lp.add_writer(fd, counting_cb(&w.0, &w.1)).unwrap();
    (lp, fd, a, b, r, w)
}

#[test]
fn l17_test_add_reader_existing() {
    // CPython: BaseSelectorEventLoopTests.test_add_reader_existing. Adding a reader again
    // replaces the first (cancelled: its captures are released at once), on one registration.
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let (old_calls, old_dropped) = counter();
    let (new_calls, new_dropped) = counter();
    lp.add_reader(fd, counting_cb(&old_calls, &old_dropped))
        .unwrap();
    lp.add_reader(fd, counting_cb(&new_calls, &new_dropped))
        .unwrap();
    assert!(old_dropped.get(), "the replaced reader is released at once");
    assert_eq!(lp.stats().io_registrations, 1);
    b.write_all(b"x").unwrap();
    run_one_poll(&lp);
    assert_eq!((old_calls.get(), new_calls.get()), (0, 1));
    assert!(lp.remove_reader(fd).unwrap());
    assert!(new_dropped.get());
    assert_eq!(lp.stats().io_registrations, 0);
}

#[test]
fn l17_test_add_reader_existing_writer() {
    // CPython: BaseSelectorEventLoopTests.test_add_reader_existing_writer. A reader added to an
    // fd with a writer joins its registration; the writer stays.
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let (w_calls, w_dropped) = counter();
    let (r_calls, r_dropped) = counter();
    lp.add_writer(fd, counting_cb(&w_calls, &w_dropped))
        .unwrap();
    lp.add_reader(fd, counting_cb(&r_calls, &r_dropped))
        .unwrap();
    assert!(!w_dropped.get() && !r_dropped.get());
    assert_eq!(lp.stats().io_registrations, 1);
    b.write_all(b"x").unwrap();
    run_one_poll(&lp);
    assert_eq!((r_calls.get(), w_calls.get()), (1, 1));
    assert!(lp.remove_reader(fd).unwrap() && lp.remove_writer(fd).unwrap());
    assert_eq!(lp.stats().io_registrations, 0);
}

#[test]
fn l17_test_remove_reader_read_write() {
    // CPython: BaseSelectorEventLoopTests.test_remove_reader_read_write. Removing the reader of
    // an fd with both keeps the writer registered and called.
    let (lp, fd, _a, mut b, (r_calls, r_dropped), (w_calls, w_dropped)) = reader_and_writer();
    assert!(lp.remove_reader(fd).unwrap());
    assert!(r_dropped.get() && !w_dropped.get());
    assert_eq!(
        lp.stats().io_registrations,
        1,
        "the writer keeps the registration"
    );
    b.write_all(b"x").unwrap();
    run_one_poll(&lp);
    assert_eq!((r_calls.get(), w_calls.get()), (0, 1));
    assert!(!lp.remove_reader(fd).unwrap());
    assert!(lp.remove_writer(fd).unwrap());
    assert_eq!(lp.stats().io_registrations, 0);
}

#[test]
fn l17_test_remove_reader_and_writer_unknown() {
    // CPython: BaseSelectorEventLoopTests.test_remove_reader_unknown,
    // BaseSelectorEventLoopTests.test_remove_writer_unknown. An fd never registered: False.
    let lp = EventLoop::new().unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    assert!(!lp.remove_reader(a.as_raw_fd()).unwrap());
    assert!(!lp.remove_writer(a.as_raw_fd()).unwrap());
    assert_eq!(lp.stats().io_registrations, 0);
}

#[test]
fn l17_test_add_writer_existing() {
    // CPython: BaseSelectorEventLoopTests.test_add_writer_existing. A writer added to an fd with
    // a reader joins its registration; adding a writer again replaces (and releases) the first.
    let lp = EventLoop::new().unwrap();
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let (r_calls, r_dropped) = counter();
    let (w1_calls, w1_dropped) = counter();
    let (w2_calls, w2_dropped) = counter();
    lp.add_reader(fd, counting_cb(&r_calls, &r_dropped))
        .unwrap();
    lp.add_writer(fd, counting_cb(&w1_calls, &w1_dropped))
        .unwrap();
    lp.add_writer(fd, counting_cb(&w2_calls, &w2_dropped))
        .unwrap();
    assert!(w1_dropped.get() && !w2_dropped.get() && !r_dropped.get());
    assert_eq!(lp.stats().io_registrations, 1);
    run_one_poll(&lp);
    assert_eq!((r_calls.get(), w1_calls.get(), w2_calls.get()), (0, 0, 1));
    assert!(lp.remove_writer(fd).unwrap() && lp.remove_reader(fd).unwrap());
}

#[test]
fn l17_test_remove_writer_read_write() {
    // CPython: BaseSelectorEventLoopTests.test_remove_writer_read_write. Removing the writer of
    // an fd with both keeps the reader registered and called.
    let (lp, fd, _a, mut b, (r_calls, r_dropped), (w_calls, w_dropped)) = reader_and_writer();
    assert!(lp.remove_writer(fd).unwrap());
    assert!(w_dropped.get() && !r_dropped.get());
    assert_eq!(
        lp.stats().io_registrations,
        1,
        "the reader keeps the registration"
    );
    b.write_all(b"x").unwrap();
    run_one_poll(&lp);
    assert_eq!((r_calls.get(), w_calls.get()), (1, 0));
    assert!(!lp.remove_writer(fd).unwrap());
    assert!(lp.remove_reader(fd).unwrap());
    assert_eq!(lp.stats().io_registrations, 0);
}

// CPython: EventLoopTestsMixin.test_reader_callback
#[test]
fn l17_test_reader_callback() {
    use std::io::Read;
    let lp = EventLoop::new().unwrap();
    let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    r.set_nonblocking(true).unwrap();
    let fd = r.as_raw_fd();
    let read = Rc::new(RefCell::new(Vec::new()));
    let removed = Rc::new(Cell::new(None));
    let (got, rm, h) = (read.clone(), removed.clone(), lp.handle());
    let r = RefCell::new(Some(r));
    lp.add_reader(fd, move || {
        let mut buf = [0u8; 1024];
        let n = match r.borrow_mut().as_mut().map(|s| s.read(&mut buf)) {
            Some(Ok(n)) => n,
            // Spurious readiness is allowed: try again next time.
            Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            other => panic!("unexpected read result {other:?}"),
        };
        if n > 0 {
            got.borrow_mut().extend_from_slice(&buf[..n]);
        } else {
            rm.set(Some(h.remove_reader(fd).unwrap()));
            r.borrow_mut().take();
        }
    })
    .unwrap();
    let w = Rc::new(RefCell::new(Some(w)));
    let w1 = w.clone();
    lp.call_soon(move || w1.borrow_mut().as_mut().unwrap().write_all(b"abc").unwrap())
        .unwrap();
    util::run_until(&lp, 10, || read.borrow().len() >= 3);
    let w1 = w.clone();
    lp.call_soon(move || w1.borrow_mut().as_mut().unwrap().write_all(b"def").unwrap())
        .unwrap();
    util::run_until(&lp, 10, || read.borrow().len() >= 6);
    let w1 = w.clone();
    lp.call_soon(move || drop(w1.borrow_mut().take())).unwrap();
    util::run_until(&lp, 10, || removed.get().is_some());
    assert_eq!(&read.borrow()[..], b"abcdef");
    assert_eq!(removed.get(), Some(true), "remove_reader found the reader");
    assert_eq!(lp.stats().io_registrations, 0);
}

// CPython: EventLoopTestsMixin.test_writer_callback
#[test]
fn l17_test_writer_callback() {
    use std::io::Read;
    let lp = EventLoop::new().unwrap();
    let (mut r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    w.set_nonblocking(true).unwrap();
    let fd = w.as_raw_fd();
    let h = lp.handle();
    lp.add_writer(fd, move || {
        (&w).write_all(&[b'x'; 1024]).unwrap();
        h.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert!(lp.remove_writer(fd).unwrap());
    assert!(!lp.remove_writer(fd).unwrap());
    // Removing the writer dropped the callback and with it the socket: EOF after the data.
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got, [b'x'; 1024]);
}

// CPython: HandleTests.test_callback_with_exception
#[test]
fn l18_a_panicking_or_failing_callback_does_not_stop_the_loop() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    lp.call_soon::<_, ()>(|| panic!("boom")).unwrap();
    lp.call_soon(|| -> Result<(), std::io::Error> { Err(std::io::Error::other("bad")) })
        .unwrap();
    let ok = Rc::new(Cell::new(false));
    let (o, h) = (ok.clone(), lp.handle());
    lp.call_soon(move || {
        o.set(true);
        h.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert!(ok.get());
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].starts_with("Exception in callback") && seen[0].ends_with("panicked: boom"));
    assert!(seen[1].ends_with("| bad"));
}

#[test]
fn l18_a_failing_callback_is_reported_with_its_handle() {
    // CPython's context for a failing Handle: {message, exception, handle}; the default
    // handler prints `handle: <Handle cb() at file:line>` (we have no source location).
    fn boom() {
        panic!("boom");
    }
    fn bad() -> Result<(), std::io::Error> {
        Err(std::io::Error::other("bad"))
    }
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            s.borrow_mut().push((ctx.details.clone(), ctx.to_string()));
        },
    ));
    let first = lp.call_soon(boom).unwrap();
    assert_eq!(
        format!("{first:?}"),
        format!("<Handle {}()>", std::any::type_name_of_val(&boom))
    );
    lp.call_soon(bad).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for ((details, shown), name) in seen.iter().zip(["boom", "bad"]) {
        let handle = format!(
            "<Handle event_loop::l18_a_failing_callback_is_reported_with_its_handle::{name}()>"
        );
        assert_eq!(details, &[("handle", handle.clone())]);
        assert!(
            shown.contains(&format!("\nhandle: {handle}\nexception: ")),
            "{shown}"
        );
    }
    first.cancel();
    assert_eq!(format!("{first:?}"), "<Handle cancelled>");
}

#[test]
fn l18_a_failing_timer_callback_is_reported_with_its_timer_handle() {
    // CPython's handle for a call_later/call_at callback is a TimerHandle, and the context's
    // `handle` shows its deadline on the loop's clock: (3.11, a failing call_later callback)
    // {'message': 'Exception in callback cb() at t1.py:2', 'exception': ValueError('boom'),
    //  'handle': <TimerHandle when=37570.866398253005 cb() at t1.py:2>}. The message names the
    // callback only, as for a Handle. On a ManualClock the loop's clock counts from zero.
    fn boom() {
        panic!("boom");
    }
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            s.borrow_mut()
                .push((ctx.message.clone(), ctx.details.clone()));
        },
    ));
    let name = std::any::type_name_of_val(&boom);
    let later = lp.call_later(Duration::from_millis(1500), boom).unwrap();
    assert_eq!(
        format!("{later:?}"),
        format!("<TimerHandle when=1.5 {name}()>")
    );
    let at = lp
        .call_at(lp.time() + Duration::from_secs(2), boom)
        .unwrap();
    at.cancel();
    assert_eq!(format!("{at:?}"), "<TimerHandle cancelled when=2.0>");
    clock.advance(Duration::from_millis(1500));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        *seen.borrow(),
        [(
            format!("Exception in callback {name}"),
            vec![("handle", format!("<TimerHandle when=1.5 {name}()>"))]
        )]
    );
    // A call_soon callback stays a plain Handle.
    lp.call_soon(boom).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        seen.borrow()[1].1,
        [("handle", format!("<Handle {name}()>"))]
    );
}

#[test]
fn l18_a_foreign_waker_that_panics_as_its_sleep_ends_is_reported_and_the_loop_goes_on() {
    // A sleep polled with another executor's waker files that waker in the loop's timer; the
    // loop wakes it in the timer's turn. Its panic is reported as a callback's is, and the
    // loop carries on (it once unwound out of run_until_complete).
    use std::future::Future;
    use std::task::{Context, RawWaker, RawWakerVTable, Waker};

    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(_: *const ()) {
        panic!("foreign waker failed");
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, noop);

    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let out = lp.run_until_complete(async {
        let mut first = Box::pin(asyncio::sleep(ms(1)));
        // SAFETY: the vtable's functions ignore the data pointer, so any pointer is valid.
        #[allow(unsafe_code)]
        let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
        assert!(first
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        // Due after the first: its turn comes once the foreign waker has been woken.
        asyncio::sleep(ms(20)).await;
        "went on"
    });
    assert_eq!(out.unwrap(), "went on");
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback timer wake-up | panicked: foreign waker failed"]
    );
}

#[test]
fn l18_a_foreign_waker_that_panics_as_the_task_it_awaits_ends_is_reported_and_the_loop_goes_on() {
    // A task handle polled with another executor's waker files that waker in the task's join
    // slot; the task's end wakes it. Its panic is reported as a callback's is, the loop carries
    // on, and the task's outcome is still there for the handle.
    use std::future::Future;
    use std::task::{Context, RawWaker, RawWakerVTable, Waker};

    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(_: *const ()) {
        panic!("foreign waker failed");
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, noop);

    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let out = lp.run_until_complete(async {
        let mut task = asyncio::spawn(async {
            asyncio::yield_now().await;
            5
        });
        // SAFETY: the vtable's functions ignore the data pointer, so any pointer is valid.
        #[allow(unsafe_code)]
        let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
        assert!(std::pin::Pin::new(&mut task)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        for _ in 0..3 {
            asyncio::yield_now().await; // the task ends meanwhile
        }
        assert!(task.is_done());
        task.await
    });
    assert_eq!(out.unwrap(), Ok(5));
    assert_eq!(
        *seen.borrow(),
        ["Exception in callback task wake-up | panicked: foreign waker failed"]
    );
}

#[test]
fn l19_a_panicking_exception_handler_falls_back_to_the_default() {
    let lp = EventLoop::new().unwrap();
    lp.set_exception_handler(Some(
        |_: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| panic!("handler broke"),
    ));
    assert!(lp.has_exception_handler());
    lp.call_soon::<_, ()>(|| panic!("first")).unwrap();
    let h = lp.handle();
    lp.call_soon(move || h.stop()).unwrap();
    lp.run_forever().unwrap();
    lp.set_exception_handler(None::<fn(&asyncio::LoopHandle, &asyncio::ExceptionContext)>);
    assert!(!lp.has_exception_handler());
}

#[test]
fn l21_call_soon_threadsafe_from_four_threads_all_arrive_in_per_thread_order() {
    const THREADS: usize = 4;
    const CALLS: usize = 10_000;
    let lp = EventLoop::new().unwrap();
    let ts = lp.threadsafe();
    let received = Arc::new(std::sync::Mutex::new(vec![Vec::new(); THREADS]));
    let total = Arc::new(AtomicUsize::new(0));
    let mut joins = Vec::new();
    for t in 0..THREADS {
        let (ts, received, total) = (ts.clone(), received.clone(), total.clone());
        joins.push(std::thread::spawn(move || {
            for i in 0..CALLS {
                let (received, total) = (received.clone(), total.clone());
                ts.call_soon_threadsafe(move || {
                    received.lock().unwrap()[t].push(i);
                    total.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
            }
        }));
    }
    let h = lp.handle();
    let total2 = total.clone();
    // Stop once everything arrived: the loop blocks in poll between wake-ups (no timers).
    lp.run_until_complete(async move {
        while total2.load(Ordering::Relaxed) < THREADS * CALLS {
            let lp = h.clone();
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let _ = lp.threadsafe().call_soon_threadsafe(move || drop(tx));
            asyncio::yield_now().await;
            drop(rx);
        }
    })
    .unwrap();
    for j in joins {
        j.join().unwrap();
    }
    let received = received.lock().unwrap();
    for (t, got) in received.iter().enumerate() {
        assert_eq!(got.len(), CALLS, "thread {t} lost calls");
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "thread {t} out of order"
        );
    }
}

#[test]
fn l21_a_foreign_thread_wakes_a_blocked_poll() {
    let lp = EventLoop::new().unwrap();
    let ts = lp.threadsafe();
    let h = lp.handle();
    let stopper = std::thread::spawn(move || {
        ts.call_soon_threadsafe(move || ()).unwrap();
    });
    // Nothing else is scheduled: without the wake-up this would block forever.
    let (tx, rx) = std::sync::mpsc::channel();
    let ts2 = lp.threadsafe();
    let t2 = std::thread::spawn(move || {
        let h2 = ts2.clone();
        ts2.call_soon_threadsafe(move || tx.send(()).unwrap())
            .unwrap();
        drop(h2);
    });
    let h2 = h.clone();
    lp.add_reader(0, || ()).ok(); // stdin may or may not be pollable; irrelevant
    lp.remove_reader(0).ok();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    lp.call_soon(move || ()).unwrap();
    lp.spawn(async move {
        loop {
            if rx.try_recv().is_ok() {
                d.set(true);
                h2.stop();
                return;
            }
            asyncio::sleep(ms(1)).await;
        }
    })
    .unwrap()
    .detach();
    lp.run_forever().unwrap();
    assert!(done.get());
    stopper.join().unwrap();
    t2.join().unwrap();
}

// CPython: EventLoopTestsMixin.test_call_soon_threadsafe_same_thread
#[test]
fn l22_threadsafe_on_the_loop_thread_is_call_soon() {
    let lp = EventLoop::new().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let h = lp.handle();
    lp.run_until_complete(async move {
        h.threadsafe()
            .call_soon_threadsafe(move || l1.lock().unwrap().push("hello"))
            .unwrap();
        h.call_soon(move || l2.lock().unwrap().push("world"))
            .unwrap();
        asyncio::yield_now().await;
    })
    .unwrap();
    assert_eq!(*log.lock().unwrap(), ["hello", "world"]);
}

#[test]
fn l24_spawn_starts_at_the_next_run_phase_and_nested_spawns_work() {
    let out = asyncio::run(async {
        let started = Rc::new(Cell::new(false));
        let s = started.clone();
        let t = asyncio::spawn(async move {
            s.set(true);
            let inner = asyncio::spawn(async { asyncio::spawn(async { 40 }).await.unwrap() + 1 });
            inner.await.unwrap() + 1
        });
        assert!(
            !started.get(),
            "L24: spawn must not run the body synchronously"
        );
        t.await.unwrap()
    });
    assert_eq!(out.unwrap(), 42);
}

#[test]
fn l25_a_task_woken_from_another_thread_resumes() {
    use std::future::poll_fn;
    use std::task::Poll;
    let out = asyncio::run(async {
        let mut sent = false;
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut joins = None;
        poll_fn(|cx| {
            if flag.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            if !sent {
                sent = true;
                let (w, f) = (cx.waker().clone(), flag.clone());
                joins = Some(std::thread::spawn(move || {
                    f.store(true, Ordering::Release);
                    w.wake();
                }));
            }
            Poll::Pending
        })
        .await;
        joins.unwrap().join().unwrap();
        "woken"
    });
    assert_eq!(out.unwrap(), "woken");
}

#[test]
fn l27_yield_now_and_sleep_zero_give_up_exactly_one_iteration() {
    // Each wait lets the callback queued before it run first, then resumes: yield_now,
    // sleep(ZERO), and a sleep whose deadline has already passed (no timer either).
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (l, h) = (log.clone(), lp.handle());
    lp.run_until_complete(async move {
        for step in 0..3 {
            let l2 = l.clone();
            h.call_soon(move || l2.push(format!("callback {step}")))
                .unwrap();
            match step {
                0 => asyncio::yield_now().await,
                1 => asyncio::sleep(Duration::ZERO).await,
                _ => asyncio::sleep_until(h.time() - Duration::from_millis(5)).await,
            }
            l.push(format!("task {step}"));
        }
        assert_eq!(h.stats().timers, 0);
    })
    .unwrap();
    assert_eq!(
        log.get(),
        [
            "callback 0",
            "task 0",
            "callback 1",
            "task 1",
            "callback 2",
            "task 2"
        ]
    );
}

#[test]
fn l27_a_task_looping_on_sleep_zero_lets_callbacks_run_between() {
    // A callback that re-queues itself and a task that sleeps(0) in a loop take turns: before
    // L27 held for sleep(0), the task finished all its turns in its first poll.
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let h = lp.handle();
    fn tick(h: asyncio::LoopHandle, log: Log, left: u32) {
        log.push("tick");
        if left > 1 {
            let h2 = h.clone();
            h.call_soon(move || tick(h2, log, left - 1)).unwrap();
        }
    }
    let (l, h2) = (log.clone(), h.clone());
    h.call_soon(move || tick(h2, l, 3)).unwrap();
    let l = log.clone();
    lp.run_until_complete(async move {
        for _ in 0..3 {
            asyncio::sleep(Duration::ZERO).await;
            l.push("sleep");
        }
    })
    .unwrap();
    // Each iteration runs the queued tick, then the task (its first poll only suspends).
    assert_eq!(
        log.get(),
        ["tick", "tick", "sleep", "tick", "sleep", "sleep"]
    );
}

#[test]
fn l27_a_sleep_reset_after_it_completed_suspends_again() {
    // A reset sleep is a new sleep: reset to a deadline already passed, it still gives up
    // control for one iteration (happy eyeballs' stagger timer with a zero delay relies on it:
    // each attempt starts an iteration after the one before, as in Python's staggered_race).
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let h = lp.handle();
    let l = log.clone();
    lp.run_until_complete(async move {
        let mut s = asyncio::sleep(Duration::ZERO);
        (&mut s).await;
        for turn in ["reset 1", "reset 2"] {
            let l2 = l.clone();
            h.call_soon(move || l2.push("callback")).unwrap();
            s.reset(h.time());
            (&mut s).await;
            l.push(turn);
        }
    })
    .unwrap();
    assert_eq!(log.get(), ["callback", "reset 1", "callback", "reset 2"]);
}

#[test]
fn d4_timeout_at_a_passed_deadline_still_fails_after_one_poll() {
    // L27 makes a lone sleep suspend once; timeout's own deadline keeps D4: the future is
    // polled once, then the passed deadline fails it at once.
    asyncio::run(async {
        let lp = asyncio::get_running_loop().unwrap();
        let polls = Rc::new(Cell::new(0));
        let p = polls.clone();
        let pending = std::future::poll_fn(move |_| {
            p.set(p.get() + 1);
            std::task::Poll::<()>::Pending
        });
        let r = asyncio::timeout_at(lp.time() - Duration::from_millis(1), pending).await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert_eq!(polls.get(), 1);
    })
    .unwrap();
}

#[test]
fn a_sleeps_replaced_waker_is_dropped_outside_the_timer_wheels_borrow() {
    // The waker a sleep replaces may hold the last reference to something whose drop uses
    // the loop's timers (here: arms a timer). Dropped inside the wheel's borrow, that panicked
    // with "already borrowed".
    struct ArmsOnDrop;
    impl std::task::Wake for ArmsOnDrop {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for ArmsOnDrop {
        fn drop(&mut self) {
            let lp = asyncio::get_running_loop().unwrap();
            lp.call_later(Duration::from_secs(60), || {})
                .unwrap()
                .cancel();
        }
    }
    asyncio::run(async {
        use std::future::Future;
        use std::task::{Context, Waker};
        let mut sleep = asyncio::sleep(Duration::from_secs(3600));
        let first = Waker::from(Arc::new(ArmsOnDrop));
        assert!(std::pin::Pin::new(&mut sleep)
            .poll(&mut Context::from_waker(&first))
            .is_pending());
        drop(first); // the timer holds the last clone
        let second = Waker::from(Arc::new(ArmsOnDrop));
        assert!(std::pin::Pin::new(&mut sleep)
            .poll(&mut Context::from_waker(&second))
            .is_pending());
        drop(sleep);
        drop(second);
    })
    .unwrap();
}

#[test]
fn a_replaced_exception_handler_is_dropped_after_the_borrow() {
    // The handler replaced may own something whose drop asks the loop about its handler.
    // Dropped inside the borrow, that panicked with "already borrowed".
    let lp = EventLoop::new().unwrap();
    let saw = Rc::new(Cell::new(None));
    struct AsksOnDrop(asyncio::LoopHandle, Rc<Cell<Option<bool>>>);
    impl Drop for AsksOnDrop {
        fn drop(&mut self) {
            self.1.set(Some(self.0.has_exception_handler()));
        }
    }
    let owned = AsksOnDrop(lp.handle(), saw.clone());
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| {
            let _ = &owned;
        },
    ));
    lp.set_exception_handler(None::<fn(&asyncio::LoopHandle, &asyncio::ExceptionContext)>);
    assert_eq!(
        saw.get(),
        Some(false),
        "dropped once the new (no) handler was in place"
    );
}

#[test]
fn a_refused_nested_run_until_complete_queues_nothing() {
    // L41: run_until_complete on a running loop is refused. It used to queue a main step
    // before refusing, which then polled the outer main future once without a wake-up.
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let (polls, woken) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
    let (p, w) = (polls.clone(), woken.clone());
    lp.run_until_complete(std::future::poll_fn(move |cx| {
        p.set(p.get() + 1);
        if p.get() == 1 {
            let r = h.run_until_complete(async {});
            assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
            let (waker, w) = (cx.waker().clone(), w.clone());
            h.call_soon(move || {
                w.set(true);
                waker.wake();
            })
            .unwrap();
            return std::task::Poll::Pending;
        }
        assert!(w.get(), "polled again before its wake-up");
        std::task::Poll::Ready(())
    }))
    .unwrap();
    assert_eq!(polls.get(), 2);
    assert!(woken.get());
}

// CPython: BaseTaskTests.test_sleep_cancel
#[test]
fn l27_l28_cancelling_a_sleeping_task_cancels_its_timer() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    lp.run_until_complete(async move {
        let t = asyncio::spawn(asyncio::sleep(Duration::from_secs(3600)));
        asyncio::yield_now().await;
        assert_eq!(h.stats().timers, 1);
        assert!(t.cancel());
        assert_eq!(t.await, Err(asyncio::Cancelled));
        assert_eq!(
            h.stats().timers,
            0,
            "the sleep's timer must leave the wheel"
        );
        assert_eq!(h.stats().tasks, 0);
    })
    .unwrap();
}

#[test]
fn l28_cancel_on_a_finished_task_returns_false() {
    asyncio::run(async {
        let t = asyncio::spawn(async { 5 });
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        assert!(t.is_done());
        assert!(!t.cancel());
        assert_eq!(t.await, Ok(5));
    })
    .unwrap();
}

// CPython: BaseTaskTests.test_cancel_with_message_before_starting_task (without the message)
#[test]
fn l29_a_task_cancelled_before_its_first_step_never_runs() {
    asyncio::run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let t = asyncio::spawn(async move { r.set(true) });
        assert!(t.cancel());
        assert!(t.cancel(), "repeated cancel is still true while pending");
        assert_eq!(t.await, Err(asyncio::Cancelled));
        assert!(!ran.get());
    })
    .unwrap();
}

#[test]
fn l30_a_task_that_cancels_itself_ends_cancelled() {
    asyncio::run(async {
        let slot: Rc<Cell<Option<asyncio::Task<u32>>>> = Rc::new(Cell::new(None));
        let s = slot.clone();
        let handle_slot = Rc::new(Cell::new(None::<Rc<dyn Fn() -> bool>>));
        let hs = handle_slot.clone();
        let t = asyncio::spawn(async move {
            // Cancel ourselves through the handle kept by the parent, then return a value.
            (hs.take().unwrap())();
            7u32
        });
        let t = Rc::new(t);
        let t2 = t.clone();
        handle_slot.set(Some(Rc::new(move || t2.cancel())));
        drop(s);
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        assert!(t.is_done());
        assert!(t.is_cancelled(), "L30: the returned value is discarded");
        drop(slot);
    })
    .unwrap();
}

// CPython: BaseTaskTests.test_yield_future_passes_cancel
#[test]
fn l33_cancelling_a_task_cancels_the_task_it_awaits() {
    asyncio::run(async {
        let inner_dropped = Rc::new(Cell::new(false));
        struct OnDrop(Rc<Cell<bool>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let d = OnDrop(inner_dropped.clone());
        let inner = asyncio::spawn(async move {
            let _d = d;
            std::future::pending::<()>().await
        });
        #[allow(clippy::redundant_async_block)] // the outer task must await the inner one
        let outer = asyncio::spawn(async move { inner.await });
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        outer.cancel();
        assert_eq!(outer.await, Err(asyncio::Cancelled));
        assert!(
            inner_dropped.get(),
            "L33: the awaited task is cancelled too"
        );
        assert_eq!(asyncio::get_running_loop().unwrap().stats().tasks, 0);
    })
    .unwrap();
}

#[test]
fn d3_dropping_an_unawaited_task_detaches_it() {
    asyncio::run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        drop(asyncio::spawn(async move {
            asyncio::yield_now().await;
            r.set(true);
        }));
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
        assert!(ran.get(), "a detached task keeps running");
    })
    .unwrap();
}

#[test]
fn l35_unobserved_failures_are_reported_once() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    lp.run_until_complete(async {
        asyncio::spawn(async { panic!("task boom") }).detach();
        asyncio::spawn(async { Err::<(), asyncio::Error>(asyncio::Error::Timeout) }).detach();
        let t = asyncio::spawn(async { Err::<(), std::io::Error>(std::io::Error::other("late")) });
        asyncio::spawn(async { Ok::<(), asyncio::Error>(()) }).detach();
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
        drop(t); // finished, never awaited: reported at drop
    })
    .unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.starts_with("Task exception was never retrieved")));
    assert!(seen[0].ends_with("panicked: task boom"));
    assert!(seen[1].ends_with("timed out"));
    assert!(seen[2].ends_with("late"));
}

#[test]
fn a_panicking_task_resumes_its_panic_in_the_awaiter_and_the_loop_survives() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let out = lp.run_until_complete(async {
        // The inner panic resumes in `awaiter`, is caught at awaiter's task boundary and, since
        // nobody awaits `awaiter`, reported once.
        asyncio::spawn(async {
            let _ = asyncio::spawn(async { panic!("deep") }).await;
        })
        .detach();
        for _ in 0..4 {
            asyncio::yield_now().await;
        }
        "survived"
    });
    assert_eq!(out.unwrap(), "survived");
    assert_eq!(
        *seen.borrow(),
        ["Task exception was never retrieved | panicked: deep"]
    );
}

#[test]
fn l36_l39_timeout_drops_the_inner_future_and_cancels_an_awaited_task() {
    asyncio::run(async {
        let r = asyncio::timeout(ms(1), std::future::pending::<()>()).await;
        assert!(matches!(r, Err(Error::Timeout)));
        let t = asyncio::spawn(asyncio::sleep(Duration::from_secs(3600)));
        let r = asyncio::timeout(ms(1), t).await;
        assert!(matches!(r, Err(Error::Timeout)));
        let stats = asyncio::get_running_loop().unwrap().stats();
        assert_eq!(
            (stats.tasks, stats.timers),
            (0, 0),
            "L36: the task is gone when timeout returns"
        );
    })
    .unwrap();
}

#[test]
fn d4_l38_a_result_ready_at_the_first_poll_wins_over_a_zero_deadline() {
    asyncio::run(async {
        assert_eq!(
            asyncio::timeout(Duration::ZERO, async { 3 }).await.unwrap(),
            3
        );
        let r = asyncio::timeout(Duration::ZERO, asyncio::yield_now()).await;
        assert!(
            matches!(r, Err(Error::Timeout)),
            "L39: timeout(0) around sleep(0) times out"
        );
    })
    .unwrap();
}

// CPython: RunTests.test_asyncio_run_cancels_hanging_tasks
#[test]
fn l41_run_cancels_leftover_tasks_and_refuses_nesting() {
    let dropped = Rc::new(Cell::new(false));
    struct OnDrop(Rc<Cell<bool>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let d = OnDrop(dropped.clone());
    let out = asyncio::run(async move {
        asyncio::spawn(async move {
            let _d = d;
            asyncio::sleep(Duration::from_secs(3600)).await;
        })
        .detach();
        assert!(
            asyncio::run(async {}).is_err(),
            "L41: no asyncio::run inside a running loop"
        );
        1
    });
    assert_eq!(out.unwrap(), 1);
    assert!(
        dropped.get(),
        "L41: hanging tasks are cancelled at shutdown"
    );
}

// CPython: RunTests.test_asyncio_run_return
#[test]
fn l41_test_asyncio_run_return() {
    let out = asyncio::run(async {
        asyncio::yield_now().await;
        42
    });
    assert_eq!(out.unwrap(), 42);
}

// CPython: RunTests.test_asyncio_run_raises
#[test]
fn l41_test_asyncio_run_raises() {
    // Python's raised exception is the main future's `Err` here: run hands it back as is.
    let out = asyncio::run(async {
        asyncio::yield_now().await;
        Err::<(), _>(std::io::Error::other("spam"))
    });
    assert_eq!(out.unwrap().unwrap_err().to_string(), "spam");
}

// CPython: RunTests.test_asyncio_run_debug
#[test]
fn l23_l41_test_asyncio_run_debug() {
    // Without the environment-variable cases: the default, then each explicit setting.
    async fn main(expected: bool) {
        let lp = asyncio::get_running_loop().unwrap();
        assert_eq!(lp.get_debug(), expected);
    }
    asyncio::run(main(false)).unwrap();
    asyncio::Runner::new()
        .debug(false)
        .run(main(false))
        .unwrap();
    asyncio::Runner::new().debug(true).run(main(true)).unwrap();
}

// CPython: RunTests.test_asyncio_run_from_running_loop
#[test]
fn l41_test_asyncio_run_from_running_loop() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let inner = asyncio::run(async move { asyncio::run(async move { r.set(true) }).unwrap_err() });
    let e = inner.unwrap();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert!(
        e.to_string().contains("cannot be called from a running"),
        "{e}"
    );
    assert!(!ran.get(), "the refused future never ran");
}

/// Spawns a detached task that holds `guard` and waits forever: what `asyncio::run` finds
/// left when its main future ends, so its shutdown cancels it and drops `guard` (L41).
fn leave_a_task_holding<G: 'static>(guard: G) {
    asyncio::spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    })
    .detach();
}

#[test]
fn l41_a_panicking_main_still_drains_the_tasks_in_the_running_loop_and_closes_it() {
    // CPython's asyncio.run shuts down in a `finally`: also when main raised, the tasks left
    // are cancelled and run to their end in the loop, then the loop is closed. Here the panic
    // unwinds through `run`, and the runner's drop does that shutdown on the way.
    struct SeesTheLoop(Rc<Cell<Option<bool>>>);
    impl Drop for SeesTheLoop {
        fn drop(&mut self) {
            self.0.set(Some(asyncio::get_running_loop().is_ok()));
        }
    }
    let ended_in_loop = Rc::new(Cell::new(None));
    let guard = SeesTheLoop(ended_in_loop.clone());
    let lp_seen = Rc::new(RefCell::new(None));
    let lp_slot = lp_seen.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        asyncio::run(async move {
            *lp_slot.borrow_mut() = Some(asyncio::get_running_loop().unwrap());
            leave_a_task_holding(guard);
            asyncio::yield_now().await;
            panic!("main fails");
        })
    }));
    assert!(panicked.is_err(), "the panic reaches run's caller");
    assert_eq!(
        ended_in_loop.get(),
        Some(true),
        "L41: the leftover task was cancelled and ended inside the running loop"
    );
    let lp = lp_seen.borrow_mut().take().unwrap();
    assert!(
        lp.is_closed(),
        "L41: the loop is closed after a failed main too"
    );
}

#[test]
fn l41_callbacks_queued_by_a_cancelled_tasks_cleanup_run_before_the_loop_closes() {
    // CPython's asyncio.run turns the loop on after the cancelled tasks end (gather's
    // callbacks, then the async-generator and executor shutdowns), so what a task's `finally`
    // queued with call_soon runs before loop.close(), and so does what that queued in turn.
    // Here a cleanup queues one callback that queues another; no executor job keeps the loop
    // turning.
    struct QueuesOnDrop(Rc<Cell<u32>>);
    impl Drop for QueuesOnDrop {
        fn drop(&mut self) {
            let (first, lp) = (self.0.clone(), asyncio::get_running_loop().unwrap());
            let again = lp.clone();
            lp.call_soon(move || {
                first.set(first.get() + 1);
                let second = first.clone();
                again
                    .call_soon(move || second.set(second.get() + 1))
                    .unwrap();
            })
            .unwrap();
        }
    }
    let ran = Rc::new(Cell::new(0));
    let guard = QueuesOnDrop(ran.clone());
    asyncio::run(async move {
        leave_a_task_holding(guard);
        asyncio::yield_now().await;
    })
    .unwrap();
    assert_eq!(
        ran.get(),
        2,
        "L41: the cleanup's callbacks were dropped unrun by the close"
    );
}

#[test]
fn l41_run_waits_for_the_executor_jobs_its_loop_started() {
    // asyncio.run ends with shutdown_default_executor: it runs the loop until every job given
    // to the default executor has finished, so an abandoned run_in_executor still ends
    // before run returns. Here the job is released only by a callback that a task cancelled
    // at shutdown queues: it runs only if the loop still turns after its tasks are gone (a
    // run that closed at once dropped it, and the job ended without finishing its work).
    struct ReleaseOnDrop(Option<std::sync::mpsc::Sender<()>>);
    impl Drop for ReleaseOnDrop {
        fn drop(&mut self) {
            let release = self.0.take();
            let lp = asyncio::get_running_loop().unwrap();
            lp.call_soon(move || {
                if let Some(tx) = release {
                    let _ = tx.send(());
                }
            })
            .unwrap();
        }
    }
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    asyncio::run(async move {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        drop(asyncio::run_in_executor(move || {
            if gate.recv().is_ok() {
                f.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let guard = ReleaseOnDrop(Some(release));
        leave_a_task_holding(guard);
        asyncio::yield_now().await;
    })
    .unwrap();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "asyncio::run returned before the executor job its loop started had finished"
    );
}

#[test]
fn l41_shutdown_default_executor_waits_for_the_jobs_then_refuses_new_ones() {
    // Python's loop.shutdown_default_executor(): once it runs, run_in_executor raises
    // 'Executor shutdown has been called' (so does getaddrinfo, which runs there); the call
    // returns once the jobs already given to the executor have ended.
    asyncio::run(async {
        let lp = asyncio::get_running_loop().unwrap();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let job = asyncio::run_in_executor(move || gate.recv().map(|()| 7));
        let shutdown = asyncio::spawn(lp.shutdown_default_executor(None));
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
        assert!(
            !shutdown.is_done(),
            "the shutdown ended while a job still ran"
        );
        match asyncio::run_in_executor(|| 1).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Executor shutdown has been called"),
            other => panic!("a job was accepted after the shutdown: {other:?}"),
        }
        match asyncio::open_connection("localhost", 9).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Executor shutdown has been called"),
            other => panic!("a name lookup was started after the shutdown: {other:?}"),
        }
        release.send(()).unwrap();
        // Bounded: a lost wake-up fails here instead of hanging the test.
        asyncio::timeout(Duration::from_secs(30), shutdown)
            .await
            .expect("the last job's end woke the shutdown")
            .unwrap();
        assert_eq!(job.await.unwrap(), Ok(7));
    })
    .unwrap();
}

#[test]
fn l41_shutdown_default_executor_refuses_jobs_from_its_first_poll_not_its_call() {
    // CPython's shutdown_default_executor is a coroutine: calling it runs nothing, and
    // _executor_shutdown_called is set only when it is first stepped. A job given to the
    // executor between the call and the first await is accepted, runs, and is waited for.
    asyncio::run(async {
        let lp = asyncio::get_running_loop().unwrap();
        let shutdown = lp.shutdown_default_executor(None);
        let job = asyncio::run_in_executor(|| 7);
        // Bounded: a lost wake-up fails here instead of hanging the test.
        asyncio::timeout(Duration::from_secs(30), shutdown)
            .await
            .expect("the shutdown saw the job end");
        match job.await {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => panic!("a job submitted before the shutdown's first poll failed: {e:?}"),
        }
        match asyncio::run_in_executor(|| 1).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Executor shutdown has been called"),
            other => panic!("a job was accepted after the shutdown ran: {other:?}"),
        }
    })
    .unwrap();
}

#[test]
fn l41_shutdown_default_executor_gives_up_after_its_timeout() {
    // Python 3.12's timeout: past it the call warns and returns; the job runs on.
    let finished = Arc::new(AtomicUsize::new(0));
    let (f, seen) = (finished.clone(), finished.clone());
    let (release, gate) = std::sync::mpsc::channel::<()>();
    asyncio::run(async move {
        let lp = asyncio::get_running_loop().unwrap();
        drop(asyncio::run_in_executor(move || {
            if gate.recv().is_ok() {
                f.fetch_add(1, Ordering::SeqCst);
            }
        }));
        // Bounded: the job waits for `release`, so a shutdown that ignored its timeout
        // fails here instead of hanging the test.
        asyncio::timeout(
            Duration::from_secs(30),
            lp.shutdown_default_executor(Some(Duration::ZERO)),
        )
        .await
        .expect("the shutdown gave up at its own timeout");
        assert_eq!(
            seen.load(Ordering::SeqCst),
            0,
            "the job was not still running"
        );
        // Released only now, so asyncio::run's own wait (300 s at most) ends at once.
        release.send(()).unwrap();
    })
    .unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[test]
fn sleep_reset_rearms_in_place() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    let h = lp.handle();
    lp.spawn(async move {
        let mut s = asyncio::sleep(ms(100));
        let _ = asyncio::timeout(Duration::ZERO, &mut s).await;
        s.reset(h.time() + ms(5));
        s.await;
        d.set(true);
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    clock.advance(ms(5));
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(done.get(), "the reset deadline (5 ms) should have fired");
}

/// L6 (issue #13): `Duration::MAX` is the idiom for "no deadline". Every timer API takes any
/// `Duration`, and any `Instant` reachable from the loop's clock, without panicking; a
/// deadline a year or more away stays pending, a past one fires at the next iteration.
mod huge_durations {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            Just(Duration::MAX),
            Just(Duration::from_secs(u64::MAX)),
            (0u64..u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            (0u64..10_000).prop_map(Duration::from_millis),
        ]
    }

    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

    fn check(d: Duration) -> Result<(), TestCaseError> {
        let clock = ManualClock::new();
        let lp = EventLoop::with_clock(clock.clone()).unwrap();
        let fired = Rc::new(Cell::new(0u32));
        let f = fired.clone();
        let later = lp.call_later(d, move || f.set(f.get() + 1)).unwrap();
        let far = lp.time().checked_add(d);
        if let Some(at) = far {
            let f = fired.clone();
            lp.call_at(at, move || f.set(f.get() + 1)).unwrap();
        }
        let past = lp.time().checked_sub(d).unwrap_or(lp.time());
        let f = fired.clone();
        lp.call_at(past, move || f.set(f.get() + 10)).unwrap();
        let (slept, timed_out) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        let (s, t) = (slept.clone(), timed_out.clone());
        lp.spawn(async move {
            asyncio::sleep(d).await;
            s.set(true);
        })
        .unwrap()
        .detach();
        lp.spawn(async move {
            let r = asyncio::timeout(d, std::future::pending::<()>()).await;
            t.set(r.is_err());
        })
        .unwrap()
        .detach();
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        prop_assert!(fired.get() >= 10, "the past deadline fired");
        if d >= YEAR {
            prop_assert_eq!(fired.get(), 10, "a far deadline stays pending");
            prop_assert!(!slept.get() && !timed_out.get());
            prop_assert!(later.when() > lp.time());
        }
        // Moving a manual clock by any amount saturates too.
        clock.advance(d);
        clock.advance(Duration::MAX);
        let _ = lp.time();
        lp.run_once(Some(Duration::ZERO)).unwrap();
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 64,
            rng_seed: RngSeed::Fixed(0x13_d0_ca),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn l6_any_duration_is_accepted_by_every_timer_api(d in any_duration()) {
            check(d)?;
        }
    }

    #[test]
    fn l6_duration_max_on_the_system_clock() {
        let lp = EventLoop::new().unwrap();
        let h = lp.call_later(Duration::MAX, || ()).unwrap();
        assert!(h.when() > lp.time() + YEAR);
        let out =
            lp.run_until_complete(async { asyncio::timeout(Duration::MAX, async { 7 }).await });
        assert_eq!(out.unwrap().unwrap(), 7);
        assert!(lp
            .next_timeout()
            .is_some_and(|t| t > Duration::from_secs(1)));
        h.cancel();
    }
}

#[test]
fn l36_try_timeout_flattens_the_two_errors_and_takes_any_into_future() {
    // Issue #14: `timeout(d, builder)` takes IntoFuture values, and `try_timeout` makes
    // `timeout(d, fallible).await?` one `?`.
    asyncio::run(async {
        let slow = async {
            asyncio::sleep(ms(60_000)).await;
            Ok::<_, Error>(1)
        };
        assert!(matches!(
            asyncio::try_timeout(ms(1), slow).await,
            Err(Error::Timeout)
        ));
        let failing = async { Err::<u8, _>(std::io::Error::other("own error")) };
        match asyncio::try_timeout(ms(1_000), failing).await {
            Err(Error::Io(e)) => assert_eq!(e.to_string(), "own error"),
            other => panic!("{other:?}"),
        }
        let fine = async { Ok::<_, Error>(7) };
        assert_eq!(asyncio::try_timeout(ms(1_000), fine).await.unwrap(), 7);
        // A plain value that is IntoFuture, not Future: a Task handle is both; an
        // open_connection builder is only IntoFuture (see the try_timeout doc test).
        let task = asyncio::spawn(async { 3 });
        assert_eq!(asyncio::timeout(ms(1_000), task).await.unwrap(), Ok(3));
    })
    .unwrap();
}

thread_local! {
    /// The loop `RunsLoopOnDrop` runs (a thread-local: wakers must be `Send`).
    static DROP_RUNS: std::cell::RefCell<Option<asyncio::LoopHandle>> =
        const { std::cell::RefCell::new(None) };
}

/// A waker whose drop runs one iteration of this thread's `DROP_RUNS` loop, as an embedder's
/// waker may (the loop is not running when it is dropped).
struct RunsLoopOnDrop;

impl std::task::Wake for RunsLoopOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for RunsLoopOnDrop {
    fn drop(&mut self) {
        if let Some(lp) = DROP_RUNS.with(|l| l.borrow().clone()) {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }
}

#[test]
fn d3_detaching_a_polled_task_drops_its_waker_outside_the_join_borrow() {
    use std::future::Future;
    use std::task::{Context, Poll};
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let mut task = lp.spawn(async move { r.set(true) }).unwrap();
    let waker = std::task::Waker::from(Arc::new(RunsLoopOnDrop));
    let polled = std::pin::Pin::new(&mut task).poll(&mut Context::from_waker(&waker));
    assert!(matches!(polled, Poll::Pending), "not run yet");
    drop(waker); // the task's join slot holds the last clone
    DROP_RUNS.with(|l| *l.borrow_mut() = Some(lp.handle()));
    task.detach(); // drops that waker, which runs the task to its end (`complete`)
    DROP_RUNS.with(|l| l.borrow_mut().take());
    assert!(ran.get());
}

/// A value captured by a callback or handler whose `Drop` calls `touch` on the loop: dropped
/// while the loop holds the cell it touches, it panics "already borrowed".
struct TouchesLoopOnDrop {
    lp: asyncio::LoopHandle,
    touch: fn(&asyncio::LoopHandle),
    drops: Rc<Cell<usize>>,
}

impl Drop for TouchesLoopOnDrop {
    fn drop(&mut self) {
        (self.touch)(&self.lp);
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn l17_a_refused_add_reader_drops_its_callback_outside_the_borrow() {
    let dir = util::temp_dir("refused-reader");
    let file = std::fs::File::create(dir.join("plain")).unwrap();
    let lp = EventLoop::new().unwrap();
    let drops = Rc::new(Cell::new(0));
    let probe = TouchesLoopOnDrop {
        lp: lp.handle(),
        touch: |lp| assert_eq!(lp.stats().io_registrations, 0),
        drops: drops.clone(),
    };
    // epoll refuses a regular file (EPERM): the entry made for it, and the callback, go.
    let refused = lp.add_reader(file.as_raw_fd(), move || {
        let _ = &probe;
    });
    assert!(
        matches!(refused, Err(Error::InvalidArgument(_))),
        "{refused:?}"
    );
    assert_eq!(drops.get(), 1);
    drop(file); // then `dir` removes itself
}

#[test]
fn l13_l14_a_run_stopped_with_its_main_woken_leaves_no_main_entry() {
    use std::task::Poll;
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (h, l) = (lp.handle(), log.clone());
    let e = lp
        .run_until_complete(std::future::poll_fn(move |cx| {
            // Stop, then wake this future: the wake-up queues it after the stop is set.
            let (h, w) = (h.clone(), cx.waker().clone());
            let _ = h.clone().call_soon(move || {
                h.stop();
                w.wake();
            });
            l.push("first");
            Poll::<()>::Pending
        }))
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
    assert_eq!(
        lp.stats().ready,
        0,
        "the woken main of the stopped run is gone"
    );
    // The next run polls its own future in FIFO order (L14), after the callback queued
    // before it, not at the stale entry's place ahead of it.
    let l = log.clone();
    lp.call_soon(move || l.push("callback")).unwrap();
    let l = log.clone();
    lp.run_until_complete(async move { l.push("second") })
        .unwrap();
    assert_eq!(log.get(), ["first", "callback", "second"]);
}

#[test]
fn l11_test_time_and_call_at_every_deadline_is_on_the_loops_clock() {
    // BaseEventLoopTests.test_time_and_call_at: time() is monotonic and a call_at deadline is
    // on its clock, never early. Then with a ManualClock standing an hour ahead of the
    // system clock: call_at, call_later, sleep, timeout and timeout_at all read the loop's
    // clock (a deadline taken from `Instant::now()` would lie in the loop's past and fire
    // at once), and none fires before the loop's time reaches it.
    let lp = EventLoop::new().unwrap();
    let (t0, t1) = (lp.time(), lp.time());
    assert!(t1 >= t0, "time() went backwards");
    let when = lp.time() + ms(2);
    let h = lp.handle();
    let fired_at = Rc::new(Cell::new(None));
    let at = fired_at.clone();
    lp.call_at(when, move || at.set(Some(h.time()))).unwrap();
    lp.run_until_complete(asyncio::sleep_until(when)).unwrap();
    for _ in 0..100 {
        if fired_at.get().is_some() {
            break;
        }
        lp.run_once(Some(ms(5))).unwrap();
    }
    assert!(
        fired_at.get().is_some_and(|t| t >= when),
        "call_at ran early"
    );

    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    clock.advance(Duration::from_secs(3600));
    let log = Log::default();
    let start = lp.time();
    let l = log.clone();
    lp.call_at(start + ms(5), move || l.push("call_at"))
        .unwrap();
    let l = log.clone();
    lp.call_later(ms(5), move || l.push("call_later")).unwrap();
    let l = log.clone();
    lp.spawn(async move {
        asyncio::sleep(ms(5)).await;
        l.push("sleep");
    })
    .unwrap()
    .detach();
    let l = log.clone();
    lp.spawn(async move {
        let r = asyncio::timeout(ms(5), std::future::pending::<()>()).await;
        assert!(matches!(r, Err(Error::Timeout)));
        l.push("timeout");
    })
    .unwrap()
    .detach();
    let l = log.clone();
    lp.spawn(async move {
        let r = asyncio::timeout_at(start + ms(5), std::future::pending::<()>()).await;
        assert!(matches!(r, Err(Error::Timeout)));
        l.push("timeout_at");
    })
    .unwrap()
    .detach();
    let seen = fired_at_5_ms(&lp, &clock, &log);
    assert_eq!(
        seen,
        ["call_at", "call_later", "sleep", "timeout", "timeout_at"]
    );
}

/// For the L11 tests whose deadlines lie 5 ms ahead on `clock`: turns `lp` a few times at 0,
/// 4 and 5 ms, checks that nothing fired before 5 ms (never early), and returns what `log`
/// saw by then, sorted.
fn fired_at_5_ms(lp: &EventLoop, clock: &ManualClock, log: &Log) -> Vec<String> {
    let turns = || {
        for _ in 0..3 {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    };
    turns();
    clock.advance(ms(4));
    turns();
    assert!(
        log.get().is_empty(),
        "fired before the loop's time: {:?}",
        log.get()
    );
    clock.advance(ms(1));
    turns();
    let mut seen = log.get();
    seen.sort();
    seen
}

#[test]
fn l11_l27_a_sleep_or_timeout_made_outside_the_loop_counts_on_the_clock_that_polls_it() {
    // Python's asyncio.sleep starts its timer when awaited, and asyncio.timeout / wait_for
    // read the running loop's time: a deadline is always on the loop's clock (L11). Made
    // outside any running loop (before run_until_complete, or handed to spawn), sleep,
    // timeout and timeout_scope have no loop clock to read: the delay counts from the first
    // poll, on the clock of the loop that polls it. With a ManualClock an hour ahead of the
    // system clock, a deadline taken from `Instant::now()` lies in the loop's past and fires
    // at once.
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let sleep = asyncio::sleep(ms(5));
    let timeout = asyncio::timeout(ms(5), std::future::pending::<()>());
    let scope = asyncio::timeout_scope(ms(5), |_| std::future::pending::<()>());
    // Time passes between making them and their first poll: it does not count.
    clock.advance(Duration::from_secs(3600));
    let log = Log::default();
    let l = log.clone();
    lp.spawn(async move {
        sleep.await;
        l.push("sleep");
    })
    .unwrap()
    .detach();
    let l = log.clone();
    lp.spawn(async move {
        assert!(matches!(timeout.await, Err(Error::Timeout)));
        l.push("timeout");
    })
    .unwrap()
    .detach();
    let l = log.clone();
    lp.spawn(async move {
        assert!(matches!(scope.await, Err(Error::Timeout)));
        l.push("timeout_scope");
    })
    .unwrap()
    .detach();
    let seen = fired_at_5_ms(&lp, &clock, &log);
    assert_eq!(seen, ["sleep", "timeout", "timeout_scope"]);
}

#[test]
fn l8_a_sleep_whose_loop_closed_before_it_fired_is_not_over_on_the_next_loop() {
    // close() drops pending timers unfired (L16). A sleep armed on that loop and awaited
    // again on another one has not reached its deadline: it must wait there, not find its
    // timer gone and take that for "fired" (an hour-long sleep ended at once).
    use std::future::{poll_fn, Future};
    use std::pin::Pin;
    use std::task::Poll;
    let first = EventLoop::new().unwrap();
    let sleep = first
        .run_until_complete(async {
            let mut sleep = asyncio::sleep(Duration::from_secs(3600));
            poll_fn(|cx| {
                assert!(Pin::new(&mut sleep).poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            Some(sleep) // handed out of the run still armed (an Option: not awaited here)
        })
        .unwrap();
    first.close().unwrap();
    let second = EventLoop::new().unwrap();
    let h = second.handle();
    let (over, timers) = second
        .run_until_complete(async move {
            let mut sleep = sleep.unwrap();
            let over = poll_fn(|cx| Poll::Ready(Pin::new(&mut sleep).poll(cx).is_ready())).await;
            (over, h.stats().timers)
        })
        .unwrap();
    assert!(!over, "an hour-long sleep ended when its first loop closed");
    assert_eq!(timers, 1, "armed on the loop that polls it now");
}

#[test]
fn l27_a_sleep_armed_on_one_loop_and_awaited_on_another_moves_its_timer_there() {
    // A future armed on a loop that is not running (here: handed out of a finished
    // run_until_complete, the loop left open) and awaited on another loop of the thread: its
    // timer must go to the loop that polls it, or the awaiting task waits on a wheel that never
    // turns. (Python refuses a future of another loop; a sleep has no result to carry that
    // error, and moving is what awaiting it anew means.)
    use std::future::{poll_fn, Future};
    use std::pin::Pin;
    use std::task::Poll;
    let first = EventLoop::new().unwrap();
    let armed = |d| {
        first
            .run_until_complete(async move {
                let mut sleep = asyncio::sleep(d);
                poll_fn(|cx| {
                    assert!(Pin::new(&mut sleep).poll(cx).is_pending());
                    Poll::Ready(())
                })
                .await;
                Some(sleep) // handed out of the run still armed
            })
            .unwrap()
            .unwrap()
    };
    let long = armed(Duration::from_secs(3600));
    assert_eq!(first.stats().timers, 1);
    let second = EventLoop::new().unwrap();
    let h = second.handle();
    let (over, timers) = second
        .run_until_complete(async move {
            let mut sleep = long;
            let over = poll_fn(|cx| Poll::Ready(Pin::new(&mut sleep).poll(cx).is_ready())).await;
            (over, h.stats().timers)
        })
        .unwrap();
    assert!(!over, "an hour-long sleep is not over on the second loop");
    assert_eq!(timers, 1, "armed on the loop that polls it now");
    assert_eq!(
        first.stats().timers,
        0,
        "and gone from the loop it was armed on"
    );
    // A short one ends on the second loop while the first stays idle (bounded: without the
    // move it would wait for the first loop's wheel and the 60 s timeout would end it).
    let short = armed(ms(1));
    let done = second.run_until_complete(asyncio::timeout(Duration::from_secs(60), short));
    assert!(
        done.unwrap().is_ok(),
        "the sleep ended on the loop awaiting it"
    );
}

/// `loop.slow_callback_duration` is read as well as written (Python's attribute): the default
/// threshold, then what was set, seen through any handle on the loop.
// Checklist: L23.
#[test]
fn l23_slow_callback_duration_reads_back_what_was_set() {
    let lp = asyncio::EventLoop::new().unwrap();
    assert_eq!(
        lp.slow_callback_duration(),
        asyncio::constants::SLOW_CALLBACK_DURATION
    );
    lp.set_slow_callback_duration(Duration::from_micros(2500));
    let seen = lp
        .run_until_complete(async {
            let running = asyncio::get_running_loop().unwrap();
            let before = running.slow_callback_duration();
            running.set_slow_callback_duration(Duration::ZERO);
            before
        })
        .unwrap();
    assert_eq!(seen, Duration::from_micros(2500));
    assert_eq!(lp.slow_callback_duration(), Duration::ZERO);
}

#[test]
fn l41_a_task_failing_as_run_cancels_it_is_reported_as_a_shutdown_failure() {
    // CPython's asyncio.run cancels the tasks left and reports each that ends with an
    // exception as 'unhandled exception during asyncio.run() shutdown' (_cancel_all_tasks),
    // not as an exception never retrieved.
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("cleanup fails");
        }
    }
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    asyncio::run(async move {
        let lp = asyncio::get_running_loop().unwrap();
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.to_string());
            },
        ));
        leave_a_task_holding(PanicsOnDrop);
        asyncio::yield_now().await;
    })
    .unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("unhandled exception during asyncio.run() shutdown"),
        "{seen:?}"
    );
    assert!(seen[0].contains("cleanup fails"), "{seen:?}");
}
