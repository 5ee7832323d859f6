//! One scope's outcome (L39, L40): expired or not, at a deadline or after a delay, disabled,
//! zero or in the past, its task cancelled from outside or its body failing with its own
//! error, polled without a loop; and a sleep inside it whose waker clone uses the loop.

use super::*;

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

// CPython: TimeoutTests.test_waiter_cancelled
#[test]
fn l39_test_waiter_cancelled() {
    // The body waiting when the deadline passes is cancelled (its `except CancelledError`
    // is a drop guard here) and the scope reports the timeout.
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    run(async {
        let cancelled = Rc::new(Cell::new(false));
        let c = cancelled.clone();
        let r = timeout_scope(Duration::from_millis(10), |_| async move {
            let _flag = Flag(c);
            sleep(Duration::from_secs(10)).await;
        })
        .await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert!(cancelled.get());
    });
}

#[test]
fn l2_l40_a_cancel_requested_before_the_deadlines_turn_lands_first_and_the_scope_stays_unexpired() {
    // The task is cancelled, then the clock passes the scope's deadline before the next turn.
    // CPython: `cancel()` queues the task's step with call_soon, and a turn runs the ready
    // queue before the timers that fell due (L2): the cancellation goes through the scope
    // (not expired, no TimeoutError) and the timeout handle is cancelled on exit.
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let cm = Rc::new(RefCell::new(None));
    let c = cm.clone();
    let task = lp
        .spawn(timeout_scope(Duration::from_millis(10), move |t| {
            keep(&c, &t);
            sleep(HOUR)
        }))
        .unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(task.cancel());
    clock.advance(Duration::from_millis(10));
    turn_until_done(&lp, &task, 3);
    assert!(task.is_cancelled());
    assert!(!cm.borrow().as_ref().unwrap().expired());
}
