//! `shield`: ports of test_tasks.py's test_shield_*; a handle awaited again (L43).

use super::*;

// ---- shield (test_tasks.py, BaseTaskTests.test_shield_*) ----

#[test]
fn test_shield_result_and_exception() {
    run(async {
        let mut t = ok_task(42);
        assert!(matches!(asyncio::shield(&mut t).await, Ok(Ok(42))));
        let mut failing = spawn(async { Err::<u32, _>(bad("inner")) });
        match asyncio::shield(&mut failing).await {
            Ok(Err(Error::InvalidArgument(m))) => assert_eq!(m, "inner"),
            other => panic!("the inner failure passes through: {other:?}"),
        }
    });
}

#[test]
fn test_shield_cancel_inner() {
    // Cancelling the shielded task itself still cancels it, and the shield says so.
    run(async {
        let event = Rc::new(Event::new());
        let mut inner = stuck_task(&event);
        assert!(inner.cancel());
        assert!(matches!(
            asyncio::shield(&mut inner).await,
            Err(asyncio::Cancelled)
        ));
    });
}

#[test]
fn test_shield_effect_cancelling_the_waiter_leaves_the_task_running_l33() {
    // CPython's test_shield_effect: cancelling outer() does not affect inner(). Without the
    // shield, dropping a task's handle while awaiting it cancels the task (L33).
    run(async {
        let event = Rc::new(Event::new());
        let dropped = Rc::new(Cell::new(false));
        let finished = Rc::new(Cell::new(false));
        let inner = {
            let (event, dropped, finished) = (event.clone(), dropped.clone(), finished.clone());
            spawn(async move {
                let v = stuck(event, dropped).await;
                finished.set(true);
                v
            })
        };
        let outer = spawn(async move {
            let mut inner = inner;
            let out = asyncio::shield(&mut inner).await;
            out.map(|v| v.map(|n| n + 100))
        });
        settle().await;
        assert!(outer.cancel());
        settle().await;
        assert!(outer.is_done() && outer.is_cancelled());
        assert!(!dropped.get(), "the shielded task runs on");
        event.set();
        settle().await;
        assert!(finished.get() && dropped.get(), "and finishes");
    });
}

#[test]
fn test_shield_under_a_timeout_keeps_the_task_for_a_later_await() {
    // Python's `await asyncio.wait_for(asyncio.shield(task), t)`, then `await task`.
    run(async {
        let event = Rc::new(Event::new());
        let mut task = stuck_task(&event);
        let waited = asyncio::timeout(Duration::ZERO, asyncio::shield(&mut task)).await;
        assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
        assert!(!task.is_done());
        event.set();
        assert!(matches!(task.await, Ok(Ok(0))));
    });
}

#[test]
fn l43_a_handle_awaited_again_after_it_gave_its_outcome_gives_cancelled_not_a_panic() {
    // A Python task gives its result to every await. A handle hands its output out once: a
    // handle awaited again after `shield(&mut t)` or `(&mut t).await` returned (each a use the
    // type system allows) gives `Err(Cancelled)` at once, every time.
    run(async {
        let mut t = ok_task(42);
        assert!(matches!(asyncio::shield(&mut t).await, Ok(Ok(42))));
        assert!(t.is_done() && !t.is_cancelled());
        assert!(matches!((&mut t).await, Err(asyncio::Cancelled)));
        assert!(matches!(
            asyncio::shield(&mut t).await,
            Err(asyncio::Cancelled)
        ));
        assert!(matches!(t.await, Err(asyncio::Cancelled)));
    });
}
