//! A waiter that stops waiting takes its waker back (CPython removes its done callbacks).

use super::*;

// ---- a waiter that stops waiting takes its waker back (CPython removes its done callbacks) ----

#[test]
fn test_wait_hands_back_pending_tasks_without_its_waker() {
    // CPython's wait() ends with `f.remove_done_callback(_on_completion)` for every future:
    // a task still pending in the output must not keep (and later wake) the waiter's waker.
    run(async {
        let event = Rc::new(Event::new());
        let (probe, waker) = counted();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut waiting = Box::pin(wait(
            [ok_task(1), stuck_task(&event)],
            ReturnWhen::FirstCompleted,
        ));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        settle().await; // the quick task ends, waking (and dropping) its clone
        let std::task::Poll::Ready(Ok((done, pending))) = waiting.as_mut().poll(&mut cx) else {
            panic!("one task has ended");
        };
        assert_eq!((done.len(), pending.len()), (1, 1));
        drop((waiting, waker));
        assert_eq!(
            Arc::strong_count(&probe),
            1,
            "a pending task keeps the waker"
        );
        event.set();
        for task in pending {
            assert!(matches!(task.await, Ok(Ok(0))));
        }
    });
}

#[test]
fn test_shield_given_up_leaves_no_waker_with_the_task() {
    // The shield's waiter gives up (a timeout, its own cancellation); the task runs on and its
    // join slot must let the waiter's waker go.
    run(async {
        let event = Rc::new(Event::new());
        let mut inner = stuck_task(&event);
        let (probe, waker) = counted();
        let mut shielded = Box::pin(asyncio::shield(&mut inner));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(shielded.as_mut().poll(&mut cx).is_pending());
        drop((shielded, waker));
        assert_eq!(Arc::strong_count(&probe), 1, "the task keeps the waker");
        event.set();
        assert!(matches!(inner.await, Ok(Ok(0))), "the task ran on");
    });
}

#[test]
fn test_as_completed_next_given_up_leaves_no_waker() {
    // A `next()` dropped while pending takes its waker back; the task that ends later is still
    // handed out by the next `next()`.
    run(async {
        let event = Rc::new(Event::new());
        let mut completed = as_completed([stuck_task(&event)]);
        let (probe, waker) = counted();
        {
            let mut next = Box::pin(completed.next());
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(next.as_mut().poll(&mut cx).is_pending());
        }
        drop(waker);
        assert_eq!(Arc::strong_count(&probe), 1, "the iterator keeps the waker");
        event.set();
        assert!(matches!(completed.next().await, Some(Ok(Ok(0)))));
        assert!(completed.next().await.is_none());
    });
}
