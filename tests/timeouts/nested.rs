//! Scopes inside scopes (L40): the same deadline twice, both deadlines passing while the
//! loop is busy, and only the outer one passing.

use super::*;

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
