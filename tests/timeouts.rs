//! `timeout_scope` / `timeout_scope_at` and their `Timeout` handle: ports of CPython's
//! `test_asyncio/test_timeouts.py` (Python 3.11's `async with asyncio.timeout(..) as cm`),
//! named after them. Outcomes never depend on how fast the machine is: a short deadline
//! always faces a far longer sleep, and a deadline that must not pass is an hour away.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncio::{get_running_loop, sleep, spawn, timeout_scope, timeout_scope_at, Error, Timeout};

const HOUR: Duration = Duration::from_secs(3600);

/// Runs `f` on a fresh loop.
fn run<F: std::future::Future<Output = ()> + 'static>(f: F) {
    asyncio::run(f).unwrap();
}

/// Keeps the scope's handle after the scope has ended, as Python's `cm` outlives its block.
fn keep(slot: &Rc<RefCell<Option<Timeout>>>, t: &Timeout) {
    *slot.borrow_mut() = Some(t.clone());
}

/// A task running a scope of an hour around a sleep of two, and the scope's handle once the
/// task has begun: for moving the deadline from outside the scope.
async fn an_hour_scope_in_a_task() -> (asyncio::Task<Result<(), Error>>, Timeout) {
    let cm = Rc::new(RefCell::new(None));
    let c = cm.clone();
    let task = spawn(timeout_scope(HOUR, move |t| async move {
        keep(&c, &t);
        sleep(HOUR * 2).await;
    }));
    asyncio::yield_now().await;
    let t = cm.borrow().clone().unwrap();
    (task, t)
}

/// Runs a scope of `delay` whose body hands its handle to `arm`, then waits for ever; returns
/// how the scope ended, bounded by 10 s (the bound only turns a scope that never expires into
/// a failure).
async fn arm_a_waiting_scope(
    delay: Duration,
    arm: impl FnOnce(Timeout) + 'static,
) -> Result<Result<(), Error>, Error> {
    let scope = timeout_scope(delay, |t| async move {
        arm(t);
        std::future::pending::<()>().await
    });
    asyncio::timeout(Duration::from_secs(10), scope).await
}

/// Runs `lp` one zero-timeout turn at a time until `task` ends, at most `turns` turns: a
/// scope that never expires on the manual clock fails the test instead of spinning.
fn turn_until_done<T>(lp: &asyncio::EventLoop, task: &asyncio::Task<T>, turns: usize) {
    for _ in 0..turns {
        if task.is_done() {
            return;
        }
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(task.is_done(), "not done after {turns} turns");
}

#[test]
fn l39_test_timeout_basic() {
    run(async {
        let cm = Rc::new(RefCell::new(None));
        let c = cm.clone();
        let r = timeout_scope(Duration::from_millis(10), |t| async move {
            keep(&c, &t);
            sleep(HOUR).await;
        })
        .await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert!(cm.borrow().as_ref().unwrap().expired());
    });
}

#[test]
fn l39_test_timeout_at_basic() {
    run(async {
        let lp = get_running_loop().unwrap();
        let deadline = lp.time() + Duration::from_millis(10);
        let cm = Rc::new(RefCell::new(None));
        let c = cm.clone();
        let r = timeout_scope_at(Some(deadline), |t| async move {
            keep(&c, &t);
            sleep(HOUR).await;
        })
        .await;
        assert!(matches!(r, Err(Error::Timeout)));
        let cm = cm.borrow_mut().take().unwrap();
        assert!(cm.expired());
        assert_eq!(cm.when(), Some(deadline));
    });
}

#[test]
fn l40_test_nested_timeouts_the_innermost_passed_deadline_reports() {
    // Same deadline twice. CPython: both timers run, both scopes are expired, the outer
    // scope raises TimeoutError and the inner body sees CancelledError. Here both expire too,
    // but a scope polls its body before its own expiry (D4), so the inner scope, polled
    // first, reports the timeout as its output, and the outer one ends with that output.
    run(async {
        let lp = get_running_loop().unwrap();
        let deadline = lp.time() + Duration::from_millis(10);
        let (outer, inner) = (Rc::new(RefCell::new(None)), Rc::new(RefCell::new(None)));
        let (o, i) = (outer.clone(), inner.clone());
        let r = timeout_scope_at(Some(deadline), |t1| async move {
            keep(&o, &t1);
            timeout_scope_at(Some(deadline), |t2| async move {
                keep(&i, &t2);
                sleep(HOUR).await;
            })
            .await
        })
        .await;
        assert!(matches!(r, Ok(Err(Error::Timeout))), "{r:?}");
        assert!(inner.borrow().as_ref().unwrap().expired());
        assert!(outer.borrow().as_ref().unwrap().expired());
    });
}

#[test]
fn l39_test_timeout_not_called() {
    run(async {
        let lp = get_running_loop().unwrap();
        let cm = Rc::new(RefCell::new(None));
        let c = cm.clone();
        let r = timeout_scope(HOUR, |t| async move {
            keep(&c, &t);
            sleep(Duration::from_millis(1)).await;
            7
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        let cm = cm.borrow_mut().take().unwrap();
        assert!(!cm.expired());
        assert!(cm.when().unwrap() > lp.time());
    });
}

// CPython: TimeoutTests.test_timeout_at_disabled
#[test]
fn l39_test_timeout_disabled_and_at_disabled() {
    // Python's timeout(None) and timeout_at(None): no deadline at all.
    run(async {
        let r = timeout_scope_at(None, |t| async move {
            sleep(Duration::from_millis(1)).await;
            (t.when(), t.expired())
        })
        .await;
        assert_eq!(r.unwrap(), (None, false));
    });
}

#[test]
fn l39_test_timeout_zero_d4() {
    // A zero delay: the body is polled once (D4), then the deadline ends it.
    run(async {
        let lp = get_running_loop().unwrap();
        let t0 = lp.time();
        let polled = Rc::new(Cell::new(0));
        let p = polled.clone();
        let cm = Rc::new(RefCell::new(None));
        let c = cm.clone();
        let r = timeout_scope(Duration::ZERO, |t| async move {
            keep(&c, &t);
            p.set(p.get() + 1);
            sleep(HOUR).await;
        })
        .await;
        assert!(matches!(r, Err(Error::Timeout)));
        assert_eq!(polled.get(), 1);
        let cm = cm.borrow_mut().take().unwrap();
        assert!(cm.expired());
        let when = cm.when().unwrap();
        assert!(t0 <= when && when <= lp.time());
    });
}

#[test]
fn l40_test_reschedule_from_another_task() {
    // The handle is moved from outside the scope: later, then removed; cancelling the task
    // that runs the scope then ends it unexpired. On a manual clock, time passes each old
    // deadline after its move, so a timer left armed at it would expire the scope.
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let turns = |n: usize| {
        for _ in 0..n {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    };
    let deadline1 = lp.time() + HOUR;
    let deadline2 = deadline1 + HOUR;
    let cm = Rc::new(RefCell::new(None));
    let c = cm.clone();
    let task = lp
        .spawn(timeout_scope_at(Some(deadline1), move |t| async move {
            keep(&c, &t);
            sleep(HOUR * 5).await;
        }))
        .unwrap();
    turns(2);
    let t = cm.borrow().clone().expect("the scope started");
    assert_eq!(t.when(), Some(deadline1));
    t.reschedule(Some(deadline2)).unwrap();
    assert_eq!(t.when(), Some(deadline2));
    clock.advance(HOUR + Duration::from_secs(1)); // past deadline1
    turns(5);
    assert!(
        !task.is_done() && !t.expired(),
        "expired at the deadline it was moved from"
    );
    t.reschedule(None).unwrap();
    assert_eq!(t.when(), None);
    clock.advance(HOUR); // past deadline2
    turns(5);
    assert!(
        !task.is_done() && !t.expired(),
        "expired after its deadline was removed"
    );
    assert!(task.cancel());
    assert!(matches!(
        lp.run_until_complete(task).unwrap(),
        Err(asyncio::Cancelled)
    ));
    assert!(!t.expired());
    // Ended: moving it now is an error, as CPython's RuntimeError.
    match t.reschedule(Some(deadline1)) {
        Err(Error::InvalidState(m)) => assert_eq!(m, "Cannot change state of finished Timeout"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn l40_a_deadline_moved_earlier_from_outside_takes_effect_at_once() {
    // The scope waits on a far deadline; another task moves it to now: the scope must wake
    // for it, not wait for its old timer. The scope's own Timeout (inside the task's Ok)
    // proves it: had it waited for the old hour, the 20 s bound around it would have ended
    // the wait instead, with its Timeout outside.
    run(async {
        let lp = get_running_loop().unwrap();
        let (task, t) = an_hour_scope_in_a_task().await;
        t.reschedule(Some(lp.time())).unwrap();
        let r = asyncio::timeout(Duration::from_secs(20), task).await;
        assert!(matches!(r, Ok(Ok(Err(Error::Timeout)))), "{r:?}");
        assert!(t.expired());
    });
}

#[test]
fn l40_test_timeout_finished_and_expired_refuse_reschedule() {
    run(async {
        let done = timeout_scope(HOUR, |t| async move { t }).await.unwrap();
        match done.reschedule_after(Duration::from_millis(20)) {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Cannot change state of finished Timeout"),
            other => panic!("{other:?}"),
        }
        let cm = Rc::new(RefCell::new(None));
        let c = cm.clone();
        let r = timeout_scope(Duration::ZERO, |t| async move {
            keep(&c, &t);
            sleep(HOUR).await;
        })
        .await;
        assert!(r.is_err());
        let expired = cm.borrow_mut().take().unwrap();
        match expired.reschedule(None) {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Cannot change state of expired Timeout"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn l6_reschedule_after_duration_max_saturates_instead_of_panicking() {
    run(async {
        let r = timeout_scope(Duration::MAX, |t| async move {
            t.reschedule_after(Duration::MAX).unwrap();
            let far = t.when().unwrap();
            far > Instant::now() + Duration::from_secs(365 * 24 * 3600)
        })
        .await;
        assert!(r.unwrap(), "a far deadline stays far");
    });
}

#[test]
fn a_sleep_clones_a_new_waker_outside_the_timer_wheels_borrow() {
    // A waker's clone is its executor's code, and may use the loop (here: it files a timer).
    // Cloned while the sleep held the wheel's borrow, it panicked with "already borrowed"
    // (found by helper-45).
    use std::future::Future;
    use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

    fn clone(data: *const ()) -> RawWaker {
        let lp = asyncio::get_running_loop().unwrap();
        lp.call_later(Duration::from_secs(3600), || ())
            .unwrap()
            .cancel();
        RawWaker::new(data, &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);

    asyncio::run(async {
        let mut sleep = Box::pin(asyncio::sleep(Duration::from_secs(3600)));
        let first = std::future::poll_fn(|cx| Poll::Ready(sleep.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        // SAFETY: the vtable's functions ignore the data pointer, so any pointer is valid.
        #[allow(unsafe_code)]
        let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
        assert!(sleep
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
    })
    .unwrap();
}

#[test]
fn l11_l40_reschedule_after_from_outside_the_loop_counts_on_the_scopes_loop_clock() {
    // Python's cm.reschedule takes a time on the scope's loop's clock. reschedule_after,
    // called between runs (no loop running), must read that loop's clock, not the system's:
    // with a ManualClock an hour ahead, a deadline taken from `Instant::now()` lies in the
    // loop's past and the scope expired at once.
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    clock.advance(HOUR);
    let cm = Rc::new(RefCell::new(None));
    let c = cm.clone();
    let outcome = Rc::new(Cell::new(None));
    let o = outcome.clone();
    lp.spawn(async move {
        let r = timeout_scope(HOUR, move |t| async move {
            keep(&c, &t);
            std::future::pending::<()>().await;
        })
        .await;
        o.set(Some(matches!(r, Err(Error::Timeout))));
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let t = cm.borrow().clone().expect("the scope started");
    t.reschedule_after(Duration::from_millis(5)).unwrap();
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    clock.advance(Duration::from_millis(4));
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        outcome.get(),
        None,
        "expired before the loop's time reached it"
    );
    clock.advance(Duration::from_millis(1));
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(outcome.get(), Some(true));
    assert!(t.expired());
}

/// CPython's `test_wait_for_race_condition`, and the simultaneous case it names: a result and
/// the deadline due at the same instant. The deadline's timer was armed first, so it runs
/// first in that loop turn, then the result is set; the waiting task, polled once after both,
/// looks at its future before the deadline (D4): the result wins, as in 3.11 and in one of
/// 3.12's legal orders.
#[test]
fn l38_test_wait_for_race_condition_a_result_due_with_the_deadline_wins() {
    run(async {
        let lp = get_running_loop().unwrap();
        // The port: the result comes well before the deadline.
        let fut = lp.create_future::<&str>();
        let f = fut.clone();
        lp.call_later(Duration::from_millis(1), move || {
            let _ = f.set_result("ok");
        })
        .unwrap();
        assert_eq!(asyncio::timeout(HOUR, fut).await.unwrap().unwrap(), "ok");

        // Same instant: the timeout's sleep is armed when the task first polls it, before
        // the `call_at` below, which runs one turn later than that poll.
        let deadline = lp.time() + Duration::from_millis(5);
        let fut = lp.create_future::<&str>();
        let (f, l) = (fut.clone(), lp.clone());
        lp.call_soon(move || {
            l.call_at(deadline, move || {
                let _ = f.set_result("ok");
            })
            .unwrap();
        })
        .unwrap();
        let r = asyncio::timeout_at(deadline, fut).await;
        assert_eq!(r.unwrap().unwrap(), "ok", "the result, not Error::Timeout");
    });
}

/// CPython 3.11's `Timeout._on_timeout` runs in the deadline's turn: a callback due at the
/// same deadline and scheduled after the scope began runs after it, and sees the scope
/// expiring (`expired()`, `reschedule` refused: "Cannot change state of expiring Timeout").
/// The scope's deadline once woke its task instead, which runs one iteration later: that
/// callback saw it active and could move the deadline away.
#[test]
fn l40_a_callback_due_with_the_deadline_after_the_scope_sees_it_expired() {
    run(async {
        let lp = get_running_loop().unwrap();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let r = arm_a_waiting_scope(Duration::from_millis(5), move |scope| {
            let when = scope.when().unwrap();
            lp.call_at(when, move || {
                let moved = scope.reschedule(Some(when + HOUR));
                let refused = matches!(&moved, Err(Error::InvalidState(m))
                    if m == "Cannot change state of expiring Timeout");
                *s.borrow_mut() = Some((scope.expired(), refused));
            })
            .unwrap();
        })
        .await;
        assert_eq!(
            *seen.borrow(),
            Some((true, true)),
            "expired, reschedule refused as expiring"
        );
        assert!(matches!(r, Ok(Err(Error::Timeout))), "{r:?}");
    });
}

/// CPython 3.11's `Timeout.reschedule` cancels the scope's timer handle and files a new one at
/// once: a callback scheduled right after the move, for the same deadline, runs after the
/// scope's `_on_timeout` and sees it expiring. The move was once filed only when the scope's
/// poll ended, after that callback, which then ran first and saw the scope still active.
#[test]
fn l40_reschedule_files_the_new_deadline_at_once_before_later_callbacks_due_with_it() {
    run(async {
        let lp = get_running_loop().unwrap();
        let seen = Rc::new(Cell::new(None));
        let s = seen.clone();
        let r = arm_a_waiting_scope(HOUR, move |scope| {
            let when = lp.time() + Duration::from_millis(5);
            scope.reschedule(Some(when)).unwrap();
            lp.call_at(when, move || s.set(Some(scope.expired())))
                .unwrap();
        })
        .await;
        assert_eq!(
            seen.get(),
            Some(true),
            "the callback filed after the move ran before the scope's alarm"
        );
        assert!(matches!(r, Ok(Err(Error::Timeout))), "{r:?}");
    });
}

/// A deadline moved into the past from a callback: CPython queues `_on_timeout` with
/// `call_soon`, so a callback queued after the move sees the scope expiring, and one queued
/// before it does not.
#[test]
fn l40_reschedule_to_a_past_deadline_queues_the_expiry_behind_earlier_callbacks() {
    run(async {
        let lp = get_running_loop().unwrap();
        let (task, t) = an_hour_scope_in_a_task().await;
        let seen = Rc::new(RefCell::new(Vec::new()));
        let (s, t2, l) = (seen.clone(), t.clone(), lp.clone());
        lp.call_soon(move || {
            let (s1, t1) = (s.clone(), t2.clone());
            l.call_soon(move || s1.borrow_mut().push(("before", t1.expired())))
                .unwrap();
            t2.reschedule(Some(l.time())).unwrap();
            let t3 = t2.clone();
            l.call_soon(move || s.borrow_mut().push(("after", t3.expired())))
                .unwrap();
        })
        .unwrap();
        let r = asyncio::timeout(Duration::from_secs(10), task).await;
        assert!(matches!(r, Ok(Ok(Err(Error::Timeout)))), "{r:?}");
        assert_eq!(*seen.borrow(), [("before", false), ("after", true)]);
    });
}

#[test]
fn l40_test_nested_timeouts_loop_busy() {
    // Both deadlines (10 ms inside 100 ms) pass while the body blocks the loop (the manual
    // clock jumps by 100 ms), and both alarms run in the same turn. As in CPython 3.11's
    // test: the inner scope reports its timeout to the outer body, whose next wait (10 s) is
    // cut short by the outer deadline, without the loop's time moving any further.
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let t0 = lp.time();
    let (outer, inner) = (Rc::new(RefCell::new(None)), Rc::new(RefCell::new(None)));
    let (o, i) = (outer.clone(), inner.clone());
    let inner_saw = Rc::new(RefCell::new(None));
    let saw = inner_saw.clone();
    let task = lp
        .spawn(timeout_scope(Duration::from_millis(100), move |t1| {
            keep(&o, &t1);
            async move {
                let r = timeout_scope(Duration::from_millis(10), |t2| {
                    keep(&i, &t2);
                    async move {
                        clock.advance(Duration::from_millis(100)); // time.sleep(0.1)
                        sleep(Duration::from_secs(1)).await;
                    }
                })
                .await;
                *saw.borrow_mut() = Some(r);
                sleep(Duration::from_secs(10)).await; // cut short by the outer deadline
            }
        }))
        .unwrap();
    turn_until_done(&lp, &task, 10);
    let r = lp.run_until_complete(task).unwrap().unwrap();
    assert!(matches!(r, Err(Error::Timeout)), "outer: {r:?}");
    assert!(
        matches!(*inner_saw.borrow(), Some(Err(Error::Timeout))),
        "inner: {:?}",
        inner_saw.borrow()
    );
    assert!(inner.borrow().as_ref().unwrap().expired());
    assert!(outer.borrow().as_ref().unwrap().expired());
    assert_eq!(lp.time() - t0, Duration::from_millis(100));
}

#[test]
fn l40_test_nested_timeouts_concurrent() {
    // The outer deadline (2 ms) passes while the body blocks for 10 ms, the inner one (100 ms)
    // does not: the outer scope times out, and the inner one ends with it, unexpired (CPython:
    // the cancellation passes through the inner `timeout`, which does not convert it).
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let (outer, inner) = (Rc::new(RefCell::new(None)), Rc::new(RefCell::new(None)));
    let (o, i) = (outer.clone(), inner.clone());
    let task = lp
        .spawn(timeout_scope(Duration::from_millis(2), move |t1| {
            keep(&o, &t1);
            timeout_scope(Duration::from_millis(100), move |t2| {
                keep(&i, &t2);
                async move {
                    clock.advance(Duration::from_millis(10)); // time.sleep(0.01)
                    sleep(Duration::from_secs(1)).await;
                }
            })
        }))
        .unwrap();
    turn_until_done(&lp, &task, 10);
    let r = lp.run_until_complete(task).unwrap();
    assert!(matches!(r, Ok(Err(Error::Timeout))), "{r:?}");
    assert!(outer.borrow().as_ref().unwrap().expired());
    assert!(!inner.borrow().as_ref().unwrap().expired());
}

// CPython: TimeoutTests.test_timeout_in_the_past_sleep_zero
#[test]
fn l39_test_timeout_zero_sleep_zero_and_in_the_past_sleep_zero() {
    // `timeout(0)` and `timeout(-11)` around `sleep(0)`: the body gives up control once, and
    // the scope, whose deadline has passed, times out; `when()` is the deadline it was given.
    run(async {
        let lp = get_running_loop().unwrap();
        let t0 = lp.time();
        let past = t0.checked_sub(Duration::from_secs(11)).unwrap_or(t0);
        for when in [t0, past] {
            let cm = Rc::new(RefCell::new(None));
            let c = cm.clone();
            let r = timeout_scope_at(Some(when), |t| async move {
                keep(&c, &t);
                asyncio::yield_now().await;
            })
            .await;
            assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
            let cm = cm.borrow_mut().take().unwrap();
            assert!(cm.expired());
            assert_eq!(cm.when(), Some(when));
        }
    });
}

#[test]
fn l39_test_outer_task_is_not_cancelled() {
    // A task whose scope times out goes on and ends normally: it is not left cancelled.
    run(async {
        let task = spawn(async {
            let r = timeout_scope(Duration::from_millis(1), |_| sleep(HOUR)).await;
            assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
            "went on"
        });
        let probe = task.task_ref();
        let out = asyncio::timeout(Duration::from_secs(10), task).await;
        assert!(matches!(out, Ok(Ok("went on"))), "{out:?}");
        assert!(probe.is_done() && !probe.is_cancelled());
    });
}

#[test]
fn l40_test_foreign_cancel_doesnt_timeout_if_not_expired() {
    // Cancelling the task inside a scope whose deadline is far: the task ends cancelled, and
    // the scope did not expire.
    let lp = asyncio::EventLoop::new().unwrap();
    let cm = Rc::new(RefCell::new(None));
    let c = cm.clone();
    let task = lp
        .spawn(timeout_scope(HOUR, move |t| {
            keep(&c, &t);
            sleep(HOUR)
        }))
        .unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(task.cancel());
    turn_until_done(&lp, &task, 3);
    assert!(task.is_cancelled());
    assert!(!cm.borrow().as_ref().unwrap().expired());
}

// CPython: TimeoutTests.test_foreign_exception_passed
#[test]
fn l40_test_foreign_exception_passed() {
    // A body that fails with its own error inside a scope that has not expired: the error is
    // the body's output, and the scope stays unexpired.
    run(async {
        let cm = Rc::new(RefCell::new(None));
        let c = cm.clone();
        let r = timeout_scope(Duration::from_millis(10), move |t| async move {
            keep(&c, &t);
            Err::<(), _>(std::io::Error::from(std::io::ErrorKind::NotFound))
        })
        .await;
        let e = r.unwrap().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        assert!(!cm.borrow().as_ref().unwrap().expired());
    });
}

// CPython: TimeoutTests.test_timeout_without_task
#[test]
fn l39_test_timeout_without_task() {
    // A scope polled where no loop runs cannot keep its deadline: it says so (CPython's
    // RuntimeError "Timeout should be used inside a task") instead of never expiring. Python's
    // second half (reschedule before entering) cannot be written: the handle exists only
    // inside the scope.
    let scope = std::panic::catch_unwind(|| {
        let mut scope = std::pin::pin!(timeout_scope(Duration::from_millis(10), |_| {
            std::future::pending::<()>()
        }));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = std::future::Future::poll(scope.as_mut(), &mut cx);
    })
    .unwrap_err();
    let text = scope
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| scope.downcast_ref::<String>().cloned())
        .unwrap();
    assert!(text.contains("outside a running event loop"), "{text}");
}

// Ports of test_waitfor.py's AsyncioWaitForTest: `wait_for(aw, t)` is `timeout(t, aw)`, and
// a Python task is a `Task` handle (awaiting it under a deadline cancels it on expiry).

/// Sets its flag when dropped: the `finally` of a Python coroutine.
struct Finally(Rc<Cell<bool>>);

impl Drop for Finally {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

// CPython: AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_future_done
#[test]
fn l36_test_wait_for_timeout_less_then_0_or_0_future_done() {
    run(async {
        let lp = get_running_loop().unwrap();
        let fut = lp.create_future::<&str>();
        fut.set_result("done").unwrap();
        let ret = asyncio::timeout(Duration::ZERO, fut.clone()).await;
        assert_eq!(ret.unwrap().unwrap(), "done");
        assert!(fut.done());
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0
#[test]
fn l33_l36_test_wait_for_timeout_less_then_0_or_0() {
    run(async {
        let lp = get_running_loop().unwrap();
        for past in [Duration::ZERO, Duration::from_secs(1)] {
            let foo_running = Rc::new(Cell::new(None));
            let started = lp.create_future::<()>();
            let (running, s) = (foo_running.clone(), started.clone());
            let fut = spawn(async move {
                running.set(Some(true));
                s.set_result(()).unwrap();
                let _stop = StopOnDrop(running);
                sleep(Duration::from_secs(10)).await;
                "done"
            });
            let probe = fut.task_ref();
            started.await.unwrap();
            let deadline = lp.time().checked_sub(past).unwrap_or(lp.time());
            let r = asyncio::timeout_at(deadline, fut).await;
            assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
            assert!(probe.is_done());
            assert!(probe.is_cancelled(), "cancelled by the timeout");
            assert_eq!(foo_running.get(), Some(false));
        }
    });
}

/// Sets `Some(false)` when dropped: `foo_running = False` in a `finally`.
struct StopOnDrop(Rc<Cell<Option<bool>>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set(Some(false));
    }
}

// CPython: AsyncioWaitForTest.test_wait_for_blocking
#[test]
fn l36_test_wait_for_blocking() {
    // Python's timeout=None: no deadline, which is `Duration::MAX` here.
    run(async {
        let res = asyncio::timeout(Duration::MAX, async { "done" }).await;
        assert_eq!(res.unwrap(), "done");
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation
#[test]
fn l33_l36_test_wait_for_waits_for_task_cancellation() {
    // The task's cleanup has run by the time the timeout returns. (Python chains the
    // CancelledError as the TimeoutError's context; `Error::Timeout` carries no cause.)
    run(async {
        let task_done = Rc::new(Cell::new(false));
        let d = Finally(task_done.clone());
        let inner_task = spawn(async move {
            let _finally = d;
            sleep(Duration::from_secs(10)).await;
        });
        let r = asyncio::timeout(Duration::from_millis(1), inner_task).await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert!(task_done.get());
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation_w_timeout_0
#[test]
fn l33_l36_test_wait_for_waits_for_task_cancellation_w_timeout_0() {
    run(async {
        let task_done = Rc::new(Cell::new(false));
        let d = Finally(task_done.clone());
        let foo = async move {
            let inner_task = spawn(async move {
                let _finally = d;
                sleep(Duration::from_secs(10)).await;
            });
            sleep(Duration::from_millis(1)).await;
            asyncio::timeout(Duration::ZERO, inner_task).await
        };
        let r = foo.await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert!(task_done.get());
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_issue86296
#[test]
fn l37_test_wait_for_issue86296() {
    // The inner task finishes in one turn, before the waiter is cancelled: the waiter still
    // ends cancelled and never reaches its end (3.12's behaviour; 3.11 swallowed the cancel).
    run(async {
        let inner_task = spawn(async { "done" });
        let inner = inner_task.task_ref();
        let reached_end = Rc::new(Cell::new(false));
        let r = reached_end.clone();
        let task = spawn(async move {
            let out = asyncio::timeout(Duration::from_secs(100), inner_task).await;
            assert_eq!(out.unwrap().unwrap(), "done");
            sleep(Duration::from_secs(1)).await;
            r.set(true);
        });
        assert!(!task.is_done());
        asyncio::yield_now().await; // run the task
        assert!(task.cancel());
        assert!(matches!(task.await, Err(asyncio::Cancelled)));
        assert!(inner.is_done() && !inner.is_cancelled());
        assert!(!reached_end.get());
    });
}
