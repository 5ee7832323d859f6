//! A deadline sharing its loop turn with other events (L38, L40): a result due with it, a
//! callback due with it, a callback filed after the deadline moved, and the expiry of a
//! deadline moved into the past behind callbacks queued before it.

use super::*;

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
