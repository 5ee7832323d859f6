//! Futures of every primitive polled again after they were ready.

use super::*;

// Futures polled again after they were ready (outside the `Future` contract): each does what
// its type's docs say, and takes nothing a second time.

#[test]
fn a_get_polled_after_its_item_stays_pending_and_takes_nothing() {
    let q = Queue::new(0);
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    let mut get = q.get();
    assert_eq!(poll_once(&mut get), Poll::Ready(1));
    assert_eq!(poll_once(&mut get), Poll::Pending);
    drop(get);
    assert_eq!(q.qsize(), 1, "the second item is still there");
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn a_put_polled_after_its_item_went_in_is_ready_and_queues_nothing() {
    let q = Queue::new(1);
    let mut put = q.put(1);
    assert_eq!(poll_once(&mut put), Poll::Ready(()));
    assert_eq!(
        poll_once(&mut put),
        Poll::Ready(()),
        "the queue is full now"
    );
    drop(put);
    assert_eq!(q.qsize(), 1);
    // No stale putter is left to take the wakeup of a real one.
    let mut second = q.put(2);
    assert_eq!(poll_once(&mut second), Poll::Pending);
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(poll_once(&mut second), Poll::Ready(()));
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn an_acquire_polled_after_it_took_the_lock_stays_pending_and_takes_nothing() {
    let lock = Lock::new();
    let mut acquire = lock.acquire();
    assert_eq!(poll_once(&mut acquire), Poll::Ready(()));
    lock.release().unwrap();
    assert_eq!(poll_once(&mut acquire), Poll::Pending);
    drop(acquire);
    assert!(!lock.locked(), "the lock was not taken a second time");
    let mut lock_fut = lock.lock();
    let Poll::Ready(guard) = poll_once(&mut lock_fut) else {
        panic!("the lock is free")
    };
    assert_eq!(
        poll_once(&mut lock_fut).map(|_| ()),
        Poll::Pending,
        "no second guard"
    );
    drop(lock_fut);
    drop(guard);
    assert!(!lock.locked());
}

#[test]
fn a_condition_wait_polled_after_it_gave_the_guard_stays_pending() {
    run(async {
        let cond = Rc::new(Condition::new());
        let c = cond.clone();
        let notifier = spawn(async move {
            c.lock().await.notify_all();
        });
        let guard = cond.lock().await;
        let mut wait = pin!(guard.wait());
        let guard = wait.as_mut().await;
        notifier.await.unwrap();
        drop(guard);
        assert!(!cond.locked());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(!cond.locked(), "the lock was not taken again");
    });
}

#[test]
fn a_semaphore_acquire_polled_after_it_took_a_unit_stays_pending_and_takes_nothing() {
    let sem = Semaphore::new(2);
    let mut acquire = sem.acquire();
    assert_eq!(poll_once(&mut acquire), Poll::Ready(()));
    assert_eq!(poll_once(&mut acquire), Poll::Pending);
    drop(acquire);
    assert_eq!(sem.value(), 1, "one unit taken, not two");
    let bounded = BoundedSemaphore::new(1);
    let mut acquire = bounded.acquire();
    assert_eq!(poll_once(&mut acquire), Poll::Ready(()));
    bounded.release().unwrap();
    assert_eq!(poll_once(&mut acquire), Poll::Pending);
    drop(acquire);
    assert_eq!(bounded.value(), 1);
}

#[test]
fn an_event_wait_polled_after_it_saw_the_flag_is_ready_again_and_queues_nothing() {
    // Ready at once (the flag was set), then the event cleared: still ready, no waiter.
    let ev = Event::new();
    ev.set();
    let mut wait = ev.wait();
    assert_eq!(poll_once(&mut wait), Poll::Ready(()));
    ev.clear();
    assert_eq!(poll_once(&mut wait), Poll::Ready(()), "ready again");
    assert_eq!(format!("{ev:?}"), "Event { set: false, waiters: 0 }");
    drop(wait);
    // Woken as a waiter, then the event cleared: the same.
    let mut wait = ev.wait();
    assert_eq!(poll_once(&mut wait), Poll::Pending);
    ev.set();
    ev.clear();
    assert_eq!(poll_once(&mut wait), Poll::Ready(()), "woken by the set");
    assert_eq!(poll_once(&mut wait), Poll::Ready(()), "ready again");
    assert_eq!(format!("{ev:?}"), "Event { set: false, waiters: 0 }");
}

// ---- a waiter passed over while its task was being cancelled, then polled by another task ----

/// A `'static` future parked in a cell: `first` polls it once (its waker filed), then waits
/// for ever; `second` takes it out and awaits it. Semaphore and Condition futures borrow their
/// primitive, hence the leaked one.
type Parked<F> = Rc<RefCell<Option<Pin<Box<F>>>>>;

fn first_poll<F: Future + 'static>(parked: &Parked<F>) -> asyncio::Task<()> {
    let p = parked.clone();
    spawn(async move {
        std::future::poll_fn(|cx| {
            let mut slot = p.borrow_mut();
            let fut = slot.as_mut().expect("parked");
            assert!(fut.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        std::future::pending::<()>().await;
    })
}

#[test]
fn a_semaphore_waiter_passed_over_then_polled_by_another_task_starts_over() {
    // Its first task is being cancelled when the unit is released, so the release passes it
    // over (as CPython's does a cancelled future) and the unit stays in the semaphore. The
    // future, moved out before its first task is dropped, is then awaited by another task: it
    // must look again, find the unit and take it (not wait for a wake-up that will not come).
    run(async {
        let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(0)));
        let parked: Parked<_> = Rc::new(RefCell::new(Some(Box::pin(sem.acquire()))));
        let first = first_poll(&parked);
        yield_now().await;
        first.cancel();
        sem.release();
        assert_eq!(sem.value(), 1, "passed over: the unit stays");
        let fut = parked.borrow_mut().take().unwrap();
        let second = spawn(fut);
        settle().await;
        assert!(second.is_done(), "the moved acquire took the unit");
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn a_condition_waiter_passed_over_then_polled_by_another_task_waits_again() {
    // As above for a condition: the notify passes the waiter over; awaited by another task,
    // the wait is not notified, so it queues again and the next notify wakes it.
    run(async {
        let cond: &'static Condition = Box::leak(Box::new(Condition::new()));
        let guard = cond.lock().await;
        let parked: Parked<_> = Rc::new(RefCell::new(Some(Box::pin(guard.wait()))));
        let first = first_poll(&parked);
        yield_now().await;
        assert!(!cond.locked(), "the wait let the lock go");
        first.cancel();
        cond.lock().await.notify(1);
        let fut = parked.borrow_mut().take().unwrap();
        let second = spawn(async move {
            drop(fut.await);
        });
        settle().await;
        assert!(!second.is_done(), "not notified: it waits again");
        cond.lock().await.notify(1);
        settle().await;
        assert!(second.is_done());
        assert!(!cond.locked());
    });
}

#[test]
fn l28_a_lock_waiter_left_alone_then_polled_by_another_task_takes_the_free_lock() {
    // The release finds the first waiter's task being cancelled and leaves it alone (as
    // CPython's `_wake_up_first` leaves a cancelled future): the waiter is to pass the wake-up
    // on as it is dropped. Moved out before its first task is dropped, it is not dropped but
    // awaited by another task: with the lock free and nobody else to release it, it must take
    // the lock, not wait for a wake-up that will not come.
    run(async {
        let lock: &'static Lock = Box::leak(Box::new(Lock::new()));
        lock.acquire().await;
        let parked: Parked<_> = Rc::new(RefCell::new(Some(Box::pin(lock.acquire()))));
        let first = first_poll(&parked);
        yield_now().await;
        first.cancel();
        lock.release().unwrap();
        assert!(!lock.locked(), "left alone: the lock stays free");
        let fut = parked.borrow_mut().take().unwrap();
        let second = spawn(fut);
        settle().await;
        assert!(second.is_done(), "the moved acquire took the free lock");
        assert!(lock.locked());
    });
}
