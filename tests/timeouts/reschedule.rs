//! Moving a scope's deadline (L40, L11): from another task, earlier, removed, after the scope
//! ended or expired, by `Duration::MAX` (it saturates), and from outside the loop on its
//! manual clock.

use super::*;

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
