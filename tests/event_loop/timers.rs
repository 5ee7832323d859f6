//! Timers and sleeps (L6–L11, L27): deadline order, never early, cancelled timers, huge
//! durations, the loop's clock, sleeps reset or moved between loops.

use super::*;

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
    // Two turns: the zero timeout polls `s` (arming it), gives up control once, then fails.
    lp.run_once(Some(Duration::ZERO)).unwrap();
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

/// A manual clock moved past 2^30 s (34 years, where a timer's delay once saturated) keeps
/// moving: `time()` follows it, and timers set there, a sleep included, fire when it reaches
/// them. It used to stop at that mark, so no later deadline was ever due and a run waiting
/// for one spun on zero-timeout polls. At its very end (`Duration::MAX`) every timer is due.
// Checklist: L6, L11.
#[test]
fn l6_l11_a_manual_clock_past_the_far_future_keeps_time_and_fires_timers() {
    const FORTY_YEARS: Duration = Duration::from_secs(40 * 365 * 24 * 3600);
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let t0 = lp.time();
    clock.advance(FORTY_YEARS);
    assert_eq!(lp.time() - t0, FORTY_YEARS, "the clock stopped");
    let log = Log::default();
    let l = log.clone();
    lp.call_later(ms(5), move || l.push("5 ms")).unwrap();
    let l = log.clone();
    lp.call_at(lp.time() + FORTY_YEARS, move || l.push("80 years"))
        .unwrap();
    let l = log.clone();
    lp.spawn(async move {
        asyncio::sleep(ms(7)).await;
        l.push("slept 7 ms");
    })
    .unwrap()
    .detach();
    let turns = |n| {
        for _ in 0..n {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    };
    turns(3);
    clock.advance(ms(4));
    turns(3);
    assert!(log.get().is_empty(), "early: {:?}", log.get());
    clock.advance(ms(3));
    turns(3);
    assert_eq!(log.get(), ["5 ms", "slept 7 ms"]);
    clock.advance(FORTY_YEARS);
    turns(3);
    assert_eq!(log.get(), ["5 ms", "slept 7 ms", "80 years"]);
    // The clock's end: a deadline beyond it is due there, not never.
    let l = log.clone();
    lp.call_later(Duration::from_secs(1 << 40), move || l.push("beyond"))
        .unwrap();
    clock.advance(Duration::MAX);
    let l = log.clone();
    lp.call_later(ms(1), move || l.push("at the end")).unwrap();
    turns(3);
    assert_eq!(
        log.get()[3..],
        ["beyond".to_string(), "at the end".to_string()]
    );
}

/// A deadline far ahead (past 2^60 ns from the loop's origin, about 36 years) keeps its
/// exact time: `call_at`, `sleep_until` and `timeout_at` at 40 years are not due at 35, and
/// are due at 40. The deadline used to be cut to `now + 2^30 s` (34 years) as it was filed,
/// so a manual clock moved past the cut fired them 6 years early, while `when()` said 40
/// years; and `Duration::MAX`, saturated at 34 years, fired at 34: now it saturates where the
/// clock's counts end, so no time before a manual clock's very end makes it due.
// Checklist: L6, L8, L11.
#[test]
fn l6_l8_a_deadline_past_2_pow_60_ns_is_never_early() {
    const YEARS: u64 = 365 * 24 * 3600;
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let t0 = lp.time();
    let at = t0 + Duration::from_secs(40 * YEARS);
    let log = Log::default();
    let l = log.clone();
    let timer = lp.call_at(at, move || l.push("call_at")).unwrap();
    assert_eq!(timer.when(), at);
    let l = log.clone();
    lp.spawn(async move {
        asyncio::sleep_until(at).await;
        l.push("sleep_until");
    })
    .unwrap()
    .detach();
    let l = log.clone();
    lp.spawn(async move {
        let r = asyncio::timeout_at(at, std::future::pending::<()>()).await;
        l.push(if r.is_err() { "timeout_at" } else { "?" });
    })
    .unwrap()
    .detach();
    let l = log.clone();
    lp.call_later(Duration::MAX, move || l.push("Duration::MAX"))
        .unwrap();
    let turns = |n| {
        for _ in 0..n {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    };
    turns(3);
    clock.advance(Duration::from_secs(35 * YEARS));
    turns(3);
    assert!(log.get().is_empty(), "early at 35 years: {:?}", log.get());
    clock.advance(Duration::from_secs(5 * YEARS) - ms(1));
    turns(3);
    assert!(log.get().is_empty(), "early by 1 ms: {:?}", log.get());
    clock.advance(ms(1));
    turns(3);
    assert_eq!(log.get(), ["call_at", "sleep_until", "timeout_at"]);
    clock.advance(Duration::from_secs(250 * YEARS));
    turns(3);
    assert_eq!(log.get().len(), 3, "Duration::MAX fired: {:?}", log.get());
}
