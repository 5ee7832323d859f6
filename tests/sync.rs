//! The synchronisation primitives and queues (`asyncio::sync`), tested as CPython tests its
//! own: ports of the portable tests in `test_asyncio/test_locks.py` and `test_queues.py`,
//! named after them. A Python `await asyncio.sleep(0)` is `settle()` here: a fixed number of
//! loop turns, so that a cancellation (which lands at the task's next turn) has landed. Every
//! test is deterministic: no timers, no sleeps.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use asyncio::sync::{Get, Put, QueueEmpty, QueueFull};
use asyncio::{
    spawn, yield_now, BoundedSemaphore, Condition, Error, Event, LifoQueue, Lock, PriorityQueue,
    Queue, Semaphore,
};

/// Runs `f` on a fresh loop. The timeout is only a guard against a hang (a lost wakeup would
/// otherwise leave the test waiting forever); no test depends on time.
fn run(f: impl Future<Output = ()> + 'static) {
    let guarded = asyncio::timeout(std::time::Duration::from_secs(20), f);
    match asyncio::run(guarded).unwrap() {
        Ok(()) => {}
        Err(e) => panic!("the test did not finish: {e} (a lost wakeup?)"),
    }
}

/// A few loop turns: enough for spawned tasks to reach their first await and for requested
/// cancellations to land.
async fn settle() {
    for _ in 0..4 {
        yield_now().await;
    }
}

/// Polls `fut` once, outside any loop.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

// ---- Lock ------------------------------------------------------------------------------------

#[test]
fn test_lock() {
    run(async {
        let lock = Lock::new();
        lock.acquire().await;
        assert!(lock.locked());
        lock.release().unwrap();
        assert!(!lock.locked());
    });
}

#[test]
fn test_lock_by_with_statement() {
    run(async {
        let lock = Lock::new();
        {
            let _g = lock.lock().await;
            assert!(lock.locked());
        }
        assert!(!lock.locked());
    });
}

#[test]
fn test_acquire() {
    // Waiters get the lock in arrival order.
    run(async {
        let lock = Rc::new(Lock::new());
        let result = Rc::new(RefCell::new(Vec::new()));
        lock.acquire().await;
        let mut tasks = Vec::new();
        for i in 1..=3 {
            let (lock, result) = (lock.clone(), result.clone());
            tasks.push(spawn(async move {
                lock.acquire().await;
                result.borrow_mut().push(i);
            }));
        }
        settle().await;
        assert!(result.borrow().is_empty());
        lock.release().unwrap();
        settle().await;
        assert_eq!(*result.borrow(), [1]);
        lock.release().unwrap();
        settle().await;
        assert_eq!(*result.borrow(), [1, 2]);
        lock.release().unwrap();
        settle().await;
        assert_eq!(*result.borrow(), [1, 2, 3]);
        for t in tasks {
            t.await.unwrap();
        }
        assert!(lock.locked());
    });
}

#[test]
fn test_acquire_cancel() {
    run(async {
        let lock = Rc::new(Lock::new());
        lock.acquire().await;
        let l2 = lock.clone();
        let task = spawn(async move { l2.acquire().await });
        settle().await;
        task.cancel();
        settle().await;
        assert!(task.is_cancelled());
        lock.release().unwrap();
        // Nobody is left waiting: the lock is free.
        assert!(!lock.locked());
    });
}

async fn lockit(lock: Rc<Lock>, blocker: Option<Rc<Event>>) {
    lock.acquire().await;
    if let Some(b) = blocker {
        b.wait().await;
    }
    lock.release().unwrap();
}

#[test]
fn test_cancel_race() {
    // A holds the lock; B and C wait. A releases while B is cancelled: C must get the lock.
    run(async {
        let lock = Rc::new(Lock::new());
        let fa = Rc::new(Event::new());
        let ta = spawn(lockit(lock.clone(), Some(fa.clone())));
        settle().await;
        assert!(lock.locked());
        let tb = spawn(lockit(lock.clone(), None));
        settle().await;
        let tc = spawn(lockit(lock.clone(), None));
        settle().await;
        fa.set();
        tb.cancel();
        settle().await;
        assert!(ta.is_done());
        assert!(tb.is_cancelled());
        tc.await.unwrap();
        assert!(!lock.locked());
    });
}

#[test]
fn test_cancel_release_race() {
    // t1 is woken by the release and cancelled at once: t2 gets the lock, t3 still waits.
    run(async {
        let lock = Rc::new(Lock::new());
        let lock_count = Rc::new(Cell::new(0));
        let lockit = |lock: Rc<Lock>, n: Rc<Cell<u32>>| async move {
            lock.acquire().await;
            n.set(n.get() + 1);
        };
        lock.acquire().await;
        let t1 = spawn(lockit(lock.clone(), lock_count.clone()));
        let t2 = spawn(lockit(lock.clone(), lock_count.clone()));
        let t3 = spawn(lockit(lock.clone(), lock_count.clone()));
        settle().await;
        t1.cancel();
        lock.release().unwrap();
        settle().await;
        assert!(t1.is_cancelled());
        assert!(t2.is_done());
        assert_eq!(lock_count.get(), 1);
        assert!(!t3.is_done());
        t3.cancel();
        settle().await;
        assert!(t3.is_cancelled());
        assert!(lock.locked(), "t2 still holds it");
    });
}

#[test]
fn test_finished_waiter_cancelled() {
    run(async {
        let lock = Rc::new(Lock::new());
        lock.acquire().await;
        let l = lock.clone();
        let tb = spawn(async move { l.acquire().await });
        settle().await;
        let l = lock.clone();
        let tc = spawn(async move { l.acquire().await });
        tb.cancel();
        lock.release().unwrap();
        settle().await;
        assert!(lock.locked());
        assert!(tb.is_cancelled());
        tc.await.unwrap();
    });
}

#[test]
fn test_lock_woken_waiter_dropped_passes_the_lock() {
    // The same race without a loop: the waiter is dropped after it was woken, before it ran.
    let lock = Lock::new();
    let mut holder = pin!(lock.acquire());
    assert!(poll_once(&mut holder).is_ready());
    let mut b = Box::pin(lock.acquire());
    let mut c = Box::pin(lock.acquire());
    assert!(poll_once(&mut b).is_pending());
    assert!(poll_once(&mut c).is_pending());
    lock.release().unwrap();
    // A newcomer does not barge past the woken waiter.
    let mut d = Box::pin(lock.acquire());
    assert!(poll_once(&mut d).is_pending());
    drop(b);
    assert!(poll_once(&mut c).is_ready());
    assert!(lock.locked());
    lock.release().unwrap();
    assert!(poll_once(&mut d).is_ready());
}

#[test]
fn test_release_not_acquired() {
    let lock = Lock::new();
    match lock.release() {
        Err(Error::InvalidState(m)) => assert_eq!(m, "Lock is not acquired."),
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_release_no_waiters() {
    run(async {
        let lock = Lock::new();
        lock.acquire().await;
        lock.release().unwrap();
        assert!(!lock.locked());
    });
}

#[test]
fn test_context_manager() {
    run(async {
        let lock = Lock::new();
        assert!(!lock.locked());
        let g = lock.lock().await;
        assert!(lock.locked());
        drop(g);
        assert!(!lock.locked());
    });
}

#[test]
fn test_lock_uncontended_does_not_allocate_a_waiter() {
    let lock = Lock::new();
    for _ in 0..3 {
        let mut a = pin!(lock.lock());
        let g = match poll_once(&mut a) {
            Poll::Ready(g) => g,
            Poll::Pending => panic!("uncontended lock must be ready at once"),
        };
        drop(g);
    }
    assert_eq!(format!("{lock:?}"), "Lock { locked: false, waiters: 0 }");
}

thread_local! {
    /// A waiting future that [`DropsAWaiter`]'s drop drops.
    static VICTIM: RefCell<Option<Pin<Box<dyn Future<Output = ()>>>>> = const { RefCell::new(None) };
}

/// A waker whose drop drops the future parked in `VICTIM`: user code running inside the
/// waiter list whenever the list lets go of its last clone.
struct DropsAWaiter;

impl std::task::Wake for DropsAWaiter {
    fn wake(self: std::sync::Arc<Self>) {}
}

impl Drop for DropsAWaiter {
    fn drop(&mut self) {
        let victim = VICTIM.with(|v| v.borrow_mut().take());
        drop(victim);
    }
}

/// Parks `victim` (pending on `lock`) where [`DropsAWaiter`] will drop it; returns that waker.
fn arm_victim(victim: Pin<Box<dyn Future<Output = ()>>>) -> Waker {
    VICTIM.with(|v| *v.borrow_mut() = Some(victim));
    Waker::from(std::sync::Arc::new(DropsAWaiter))
}

#[test]
fn test_a_waiter_dropped_by_a_waker_drop_does_not_panic() {
    // STYLE habit 5: a waker's drop is user code. The waiter list dropped the waker of a
    // cancelled waiter while it was still borrowed, so a waker whose drop drops another waiter
    // of the same lock panicked (RefCell already borrowed).
    let lock: &'static Lock = Box::leak(Box::new(Lock::new()));
    let mut holder = pin!(lock.acquire());
    assert!(poll_once(&mut holder).is_ready());
    let mut victim: Pin<Box<dyn Future<Output = ()>>> = Box::pin(lock.acquire());
    assert!(poll_once(&mut victim).is_pending());
    let waker = arm_victim(victim);
    let mut a = Box::pin(lock.acquire());
    let mut cx = Context::from_waker(&waker);
    assert!(a.as_mut().poll(&mut cx).is_pending());
    drop(waker); // the list holds the last clone
    drop(a); // cancelled: its waker drops, and with it the victim
    assert!(
        VICTIM.with(|v| v.borrow().is_none()),
        "the victim was dropped"
    );
    assert_eq!(format!("{lock:?}"), "Lock { locked: true, waiters: 0 }");
}

#[test]
fn test_a_waiter_repolled_with_a_new_waker_may_drop_another_waiter() {
    // The same through a re-poll: the waker replaced by a new one dropped under the borrow.
    let sem: &'static Semaphore = Box::leak(Box::new(Semaphore::new(0)));
    let mut victim: Pin<Box<dyn Future<Output = ()>>> = Box::pin(sem.acquire());
    assert!(poll_once(&mut victim).is_pending());
    let waker = arm_victim(victim);
    let mut a = Box::pin(sem.acquire());
    let mut cx = Context::from_waker(&waker);
    assert!(a.as_mut().poll(&mut cx).is_pending());
    drop(waker);
    assert!(poll_once(&mut a).is_pending()); // a new waker replaces the old one
    assert!(
        VICTIM.with(|v| v.borrow().is_none()),
        "the victim was dropped"
    );
    sem.release();
    assert!(
        poll_once(&mut a).is_ready(),
        "the victim left the queue: `a` is first"
    );
}

// ---- Event -----------------------------------------------------------------------------------

#[test]
fn test_wait() {
    run(async {
        let ev = Rc::new(Event::new());
        assert!(!ev.is_set());
        let result = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 1..=3 {
            let (ev, result) = (ev.clone(), result.clone());
            tasks.push(spawn(async move {
                ev.wait().await;
                result.borrow_mut().push(i);
            }));
        }
        settle().await;
        assert!(result.borrow().is_empty());
        ev.set();
        settle().await;
        assert_eq!(*result.borrow(), [1, 2, 3]);
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn test_wait_on_set() {
    run(async {
        let ev = Event::new();
        ev.set();
        ev.wait().await;
    });
}

#[test]
fn test_event_wait_cancel() {
    run(async {
        let ev = Rc::new(Event::new());
        let e = ev.clone();
        let t = spawn(async move { e.wait().await });
        settle().await;
        t.cancel();
        settle().await;
        assert!(t.is_cancelled());
        assert_eq!(format!("{ev:?}"), "Event { set: false, waiters: 0 }");
    });
}

#[test]
fn test_clear() {
    let ev = Event::new();
    assert!(!ev.is_set());
    ev.set();
    assert!(ev.is_set());
    ev.clear();
    assert!(!ev.is_set());
}

#[test]
fn test_clear_with_waiters() {
    // Set then cleared before the waiter runs: the waiter still returns.
    run(async {
        let ev = Rc::new(Event::new());
        let e = ev.clone();
        let t = spawn(async move { e.wait().await });
        settle().await;
        ev.set();
        ev.clear();
        assert!(!ev.is_set());
        settle().await;
        assert!(t.is_done());
        ev.set();
        ev.set();
        assert!(ev.is_set());
    });
}

// ---- Condition -------------------------------------------------------------------------------

#[test]
fn test_condition_wait() {
    run(async {
        let cond = Rc::new(Condition::new());
        let result = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 1..=3 {
            let (cond, result) = (cond.clone(), result.clone());
            tasks.push(spawn(async move {
                let g = cond.lock().await;
                let g = g.wait().await;
                result.borrow_mut().push(i);
                drop(g);
            }));
        }
        settle().await;
        assert!(result.borrow().is_empty());
        assert!(!cond.locked());

        let g = cond.lock().await;
        g.notify(1);
        drop(g);
        settle().await;
        assert_eq!(*result.borrow(), [1]);

        let g = cond.lock().await;
        g.notify(2);
        drop(g);
        settle().await;
        assert_eq!(*result.borrow(), [1, 2, 3]);
        for t in tasks {
            t.await.unwrap();
        }
        assert!(!cond.locked());
    });
}

#[test]
fn test_condition_wait_cancel() {
    run(async {
        let cond = Rc::new(Condition::new());
        let c = cond.clone();
        let t = spawn(async move {
            let g = c.lock().await;
            let _g = g.wait().await;
        });
        settle().await;
        t.cancel();
        settle().await;
        assert!(t.is_cancelled());
        assert!(!cond.locked());
        assert_eq!(
            format!("{cond:?}"),
            "Condition { locked: false, waiters: 0 }"
        );
    });
}

#[test]
fn test_wait_cancel_contested() {
    // Notified, then cancelled while taking the lock back. CPython keeps the lock for the
    // cancelled task; here the guard went into the dropped future, so the lock is released,
    // and the notification passes on (nobody else waits: nothing happens).
    run(async {
        let cond = Rc::new(Condition::new());
        let c = cond.clone();
        let waiter = spawn(async move {
            let g = c.lock().await;
            let _g = g.wait().await;
        });
        settle().await;
        assert!(!cond.locked());
        let g = cond.lock().await;
        g.notify(1);
        settle().await; // the waiter now waits for the lock
        waiter.cancel();
        drop(g);
        settle().await;
        assert!(waiter.is_cancelled());
        assert!(!cond.locked());
    });
}

#[test]
fn test_wait_cancel_after_notify() {
    // A notified waiter cancelled before it runs hands the notification to the next waiter.
    run(async {
        let cond = Rc::new(Condition::new());
        let woke = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 1..=2 {
            let (c, woke) = (cond.clone(), woke.clone());
            tasks.push(spawn(async move {
                let g = c.lock().await;
                let _g = g.wait().await;
                woke.borrow_mut().push(i);
            }));
        }
        settle().await;
        let g = cond.lock().await;
        g.notify(1);
        tasks[0].cancel();
        drop(g);
        settle().await;
        assert!(tasks[0].is_cancelled());
        assert_eq!(*woke.borrow(), [2]);
    });
}

/// CPython 3.13's `test_cancelled_wakeup` and `test_cancelled_wakeup_relock`: two consumers
/// wait for `state != 0`; one item is produced and one consumer notified, and that consumer is
/// cancelled, either before it runs or (`relock`) once it waits for the lock again. The
/// notification must reach the other consumer, which takes the item.
fn cancelled_wakeup(relock: bool) {
    run(async move {
        let cond = Rc::new(Condition::new());
        let state = Rc::new(Cell::new(0i32));
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let (c, st) = (cond.clone(), state.clone());
                spawn(async move {
                    let mut g = c.lock().await;
                    loop {
                        g = g.wait_for(|| st.get() != 0).await;
                        if st.get() < 0 {
                            return;
                        }
                        st.set(st.get() - 1);
                    }
                })
            })
            .collect();
        settle().await;
        let g = cond.lock().await;
        state.set(state.get() + 1);
        g.notify(1);
        if relock {
            settle().await; // the notified consumer now waits for the lock we hold
        }
        consumers[0].cancel();
        settle().await; // the cancellation lands
        drop(g);
        settle().await;
        let g = cond.lock().await;
        assert_eq!(
            state.get(),
            0,
            "the item was consumed: the wakeup was not lost"
        );
        state.set(-1);
        g.notify_all();
        drop(g);
        let mut consumers = consumers.into_iter();
        assert!(consumers.next().unwrap().await.is_err(), "cancelled");
        consumers.next().unwrap().await.unwrap();
    });
}

#[test]
fn test_cancelled_wakeup() {
    cancelled_wakeup(false);
}

#[test]
fn test_cancelled_wakeup_relock() {
    cancelled_wakeup(true);
}

#[test]
fn test_wait_for() {
    run(async {
        let cond = Rc::new(Condition::new());
        let presult = Rc::new(Cell::new(false));
        let calls = Rc::new(Cell::new(0));
        let (c, p, n) = (cond.clone(), presult.clone(), calls.clone());
        let t = spawn(async move {
            let g = c.lock().await;
            let _g = g
                .wait_for(|| {
                    n.set(n.get() + 1);
                    p.get()
                })
                .await;
        });
        settle().await;
        assert_eq!(calls.get(), 1);
        cond.lock().await.notify(1);
        settle().await;
        assert_eq!(calls.get(), 2);
        presult.set(true);
        cond.lock().await.notify(1);
        settle().await;
        assert_eq!(calls.get(), 3);
        t.await.unwrap();
    });
}

#[test]
fn test_notify() {
    // notify(1) wakes the first waiter only; notify(1) then notify(2048) the other two, in
    // the order they began to wait.
    run(async {
        let cond = Rc::new(Condition::new());
        let result = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (1..=3)
            .map(|i| {
                let (c, r) = (cond.clone(), result.clone());
                spawn(async move {
                    let g = c.lock().await;
                    let _g = g.wait().await;
                    r.borrow_mut().push(i);
                    true
                })
            })
            .collect();
        settle().await;
        assert!(result.borrow().is_empty());
        let g = cond.lock().await;
        g.notify(1);
        drop(g);
        settle().await;
        assert_eq!(*result.borrow(), [1]);
        let g = cond.lock().await;
        g.notify(1);
        g.notify(2048);
        drop(g);
        settle().await;
        assert_eq!(*result.borrow(), [1, 2, 3]);
        for t in tasks {
            assert!(t.is_done());
            assert!(t.await.unwrap());
        }
    });
}

#[test]
fn test_timeout_in_block() {
    // A wait that times out inside `async with condition:`. CPython re-takes the lock before
    // the TimeoutError; here the dropped wait leaves it released and leaves no waiter behind.
    run(async {
        let cond = Condition::new();
        let g = cond.lock().await;
        let r = asyncio::timeout(std::time::Duration::ZERO, g.wait()).await;
        assert!(matches!(r, Err(Error::Timeout)));
        assert_eq!(
            format!("{cond:?}"),
            "Condition { locked: false, waiters: 0 }"
        );
        let _g = cond.lock().await; // free again
    });
}

#[test]
fn test_notify_all() {
    run(async {
        let cond = Rc::new(Condition::new());
        let result = Rc::new(RefCell::new(Vec::new()));
        for i in 1..=3 {
            let (c, r) = (cond.clone(), result.clone());
            spawn(async move {
                let g = c.lock().await;
                let _g = g.wait().await;
                r.borrow_mut().push(i);
            })
            .detach();
        }
        settle().await;
        let g = cond.lock().await;
        g.notify_all();
        drop(g);
        settle().await;
        assert_eq!(*result.borrow(), [1, 2, 3]);
    });
}

#[test]
fn test_notify_unacquired() {
    let cond = Condition::new();
    match cond.notify(1) {
        Err(Error::InvalidState(m)) => assert_eq!(m, "cannot notify on un-acquired lock"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_notify_all_unacquired() {
    assert!(Condition::new().notify_all().is_err());
}

#[test]
fn test_condition_context_manager() {
    run(async {
        let cond = Condition::new();
        {
            let _g = cond.lock().await;
            assert!(cond.locked());
            cond.notify(1).unwrap();
        }
        assert!(!cond.locked());
    });
}

// ---- Semaphore -------------------------------------------------------------------------------

#[test]
fn test_initial_value_zero() {
    assert!(Semaphore::new(0).locked());
}

#[test]
fn test_semaphore() {
    run(async {
        let sem = Semaphore::new(1);
        assert_eq!(sem.value(), 1);
        sem.acquire().await;
        assert!(sem.locked());
        assert_eq!(sem.value(), 0);
        sem.release();
        assert!(!sem.locked());
        assert_eq!(sem.value(), 1);
    });
}

#[test]
fn test_semaphore_acquire() {
    run(async {
        let sem = Rc::new(Semaphore::new(3));
        let result = Rc::new(RefCell::new(Vec::new()));
        sem.acquire().await;
        sem.acquire().await;
        assert!(!sem.locked());
        let mut tasks = Vec::new();
        for i in 1..=4 {
            let (s, r) = (sem.clone(), result.clone());
            tasks.push(spawn(async move {
                s.acquire().await;
                r.borrow_mut().push(i);
            }));
        }
        settle().await;
        assert_eq!(*result.borrow(), [1]);
        assert!(sem.locked());
        assert_eq!(sem.value(), 0);
        sem.release();
        sem.release();
        settle().await;
        assert_eq!(*result.borrow(), [1, 2, 3]);
        sem.release();
        settle().await;
        assert_eq!(*result.borrow(), [1, 2, 3, 4]);
        for t in tasks {
            t.await.unwrap();
        }
    });
}

#[test]
fn test_semaphore_acquire_cancel() {
    run(async {
        let sem = Rc::new(Semaphore::new(0));
        let s = sem.clone();
        let t = spawn(async move { s.acquire().await });
        settle().await;
        t.cancel();
        settle().await;
        assert!(t.is_cancelled());
        assert_eq!(format!("{sem:?}"), "Semaphore { value: 0, waiters: 0 }");
    });
}

#[test]
fn test_acquire_cancel_before_awoken() {
    run(async {
        let sem = Rc::new(Semaphore::new(0));
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let s = sem.clone();
                spawn(async move { s.acquire().await })
            })
            .collect();
        settle().await;
        ts[0].cancel();
        ts[1].cancel();
        sem.release();
        settle().await;
        assert!(ts[0].is_cancelled() && ts[1].is_cancelled());
        assert!(ts[2].is_done(), "the unit passed on to t3");
        assert!(!ts[3].is_done());
        ts[3].cancel();
        settle().await;
        assert_eq!(sem.value(), 0);
    });
}

#[test]
fn test_acquire_hang() {
    run(async {
        let sem = Rc::new(Semaphore::new(0));
        let (s1, s2) = (sem.clone(), sem.clone());
        let t1 = spawn(async move { s1.acquire().await });
        let t2 = spawn(async move { s2.acquire().await });
        settle().await;
        t1.cancel();
        sem.release();
        settle().await;
        assert!(sem.locked());
        assert!(t2.is_done());
    });
}

#[test]
fn test_acquire_no_hang() {
    run(async {
        let sem = Rc::new(Semaphore::new(1));
        let (s1, s2) = (sem.clone(), sem.clone());
        let t2_slot: Rc<RefCell<Option<asyncio::Task<()>>>> = Rc::new(RefCell::new(None));
        let slot = t2_slot.clone();
        let t1 = spawn(async move {
            {
                let _p = s1.permit().await;
                yield_now().await;
            }
            if let Some(t2) = slot.borrow().as_ref() {
                t2.cancel();
            }
        });
        let t2 = spawn(async move {
            let _p = s2.permit().await;
            unreachable!("t2 is cancelled before it gets the unit");
        });
        *t2_slot.borrow_mut() = Some(t2);
        t1.await.unwrap();
        settle().await;
        assert!(t2_slot.borrow().as_ref().unwrap().is_cancelled());
        // The unit t2 had been handed came back.
        let mut acq = pin!(sem.acquire());
        assert!(poll_once(&mut acq).is_ready());
    });
}

#[test]
fn test_semaphore_release_no_waiters() {
    run(async {
        let sem = Semaphore::new(1);
        sem.acquire().await;
        sem.release();
        assert!(!sem.locked());
    });
}

#[test]
fn test_acquire_fifo_order() {
    run(async {
        let sem = Rc::new(Semaphore::new(1));
        let result = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 1..=3 {
            let (s, r) = (sem.clone(), result.clone());
            tasks.push(spawn(async move {
                s.acquire().await;
                r.borrow_mut().push(i);
                yield_now().await;
                s.release();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*result.borrow(), [1, 2, 3]);
    });
}

#[test]
fn test_acquire_fifo_order_2() {
    run(async {
        let sem = Rc::new(Semaphore::new(1));
        let result = Rc::new(RefCell::new(Vec::new()));
        let (s, r) = (sem.clone(), result.clone());
        let t1 = spawn(async move {
            s.acquire().await;
            r.borrow_mut().push(1);
        });
        let (s, r) = (sem.clone(), result.clone());
        let t2 = spawn(async move {
            s.acquire().await;
            r.borrow_mut().push(2);
            s.release();
            s.acquire().await;
            r.borrow_mut().push(4);
        });
        let (s, r) = (sem.clone(), result.clone());
        let t3 = spawn(async move {
            s.acquire().await;
            r.borrow_mut().push(3);
        });
        settle().await;
        sem.release();
        sem.release();
        t1.await.unwrap();
        t2.await.unwrap();
        t3.await.unwrap();
        assert_eq!(*result.borrow(), [1, 2, 3, 4]);
    });
}

#[test]
fn test_acquire_fifo_order_3() {
    run(async {
        let sem = Rc::new(Semaphore::new(0));
        let result = Rc::new(RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 1..=3 {
            let (s, r) = (sem.clone(), result.clone());
            tasks.push(spawn(async move {
                s.acquire().await;
                r.borrow_mut().push(i);
            }));
        }
        settle().await;
        tasks[0].cancel();
        settle().await;
        sem.release();
        sem.release();
        settle().await;
        assert_eq!(*result.borrow(), [2, 3]);
    });
}

/// Waiters woken but not yet run, with cancellations among them: each unit goes where
/// CPython's goes. The expected values are what CPython 3.11.7 printed for the same steps
/// (`Semaphore(0)`, eight waiters, three releases, waiter 1 (woken) and waiter 4 (not yet)
/// cancelled, one more release, then three more).
#[test]
fn test_semaphore_units_skip_woken_waiters_not_yet_run() {
    run(async {
        let sem = Rc::new(Semaphore::new(0));
        let got = Rc::new(RefCell::new(Vec::new()));
        let ts: Vec<_> = (0..8)
            .map(|i| {
                let (s, g) = (sem.clone(), got.clone());
                spawn(async move {
                    s.acquire().await;
                    g.borrow_mut().push(i);
                })
            })
            .collect();
        settle().await;
        for _ in 0..3 {
            sem.release(); // waiters 0, 1, 2 woken; none has run yet
        }
        ts[1].cancel(); // woken: its unit passes on (to 3) when the cancellation lands
        ts[4].cancel(); // not woken: nothing to pass on
        sem.release(); // to the first waiter not yet woken: 3 now, so 5 after the passing
        assert_eq!(format!("{sem:?}"), "Semaphore { value: 0, waiters: 8 }");
        settle().await;
        assert_eq!(*got.borrow(), [0, 2, 3, 5]);
        assert!(ts[1].is_cancelled() && ts[4].is_cancelled());
        assert_eq!(format!("{sem:?}"), "Semaphore { value: 0, waiters: 2 }");
        for _ in 0..3 {
            sem.release();
        }
        settle().await;
        assert_eq!(*got.borrow(), [0, 2, 3, 5, 6, 7]);
        assert_eq!((sem.value(), sem.locked()), (1, false));
    });
}

#[test]
fn test_bounded_semaphore_release_not_acquired() {
    let sem = BoundedSemaphore::new(1);
    match sem.release() {
        Err(Error::InvalidArgument(m)) => {
            assert_eq!(m, "BoundedSemaphore released too many times")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_bounded_semaphore_permit() {
    run(async {
        let sem = BoundedSemaphore::new(2);
        let a = sem.permit().await;
        let b = sem.permit().await;
        assert!(sem.locked());
        drop(a);
        drop(b);
        assert_eq!(sem.value(), 2);
        assert!(sem.release().is_err());
    });
}

// ---- Queue -----------------------------------------------------------------------------------

#[test]
fn test_empty() {
    let q = Queue::new(0);
    assert!(q.empty());
    q.put_nowait(1).unwrap();
    assert!(!q.empty());
    assert_eq!(q.get_nowait(), Ok(1));
    assert!(q.empty());
}

#[test]
fn test_full() {
    let q: Queue<i32> = Queue::new(0);
    assert!(!q.full());
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    assert!(q.full());
}

#[test]
fn test_order() {
    let q = Queue::new(0);
    for i in [1, 3, 2] {
        q.put_nowait(i).unwrap();
    }
    let got: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(got, [1, 3, 2]);
}

#[test]
fn test_lifo_order() {
    let q = LifoQueue::new(0);
    for i in [1, 3, 2] {
        q.put_nowait(i).unwrap();
    }
    let got: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(got, [2, 3, 1]);
}

#[test]
fn test_priority_order() {
    let q = PriorityQueue::new(0);
    for i in [1, 3, 2] {
        q.put_nowait(i).unwrap();
    }
    let got: Vec<_> = (0..3).map(|_| q.get_nowait().unwrap()).collect();
    assert_eq!(got, [1, 2, 3]);
}

#[test]
fn test_maxsize() {
    run(async {
        let q = Rc::new(Queue::new(2));
        assert_eq!(q.maxsize(), 2);
        let have_been_put = Rc::new(RefCell::new(Vec::new()));
        let (q2, h) = (q.clone(), have_been_put.clone());
        let putter = spawn(async move {
            for i in 0..3 {
                q2.put(i).await;
                h.borrow_mut().push(i);
            }
        });
        settle().await;
        assert_eq!(*have_been_put.borrow(), [0, 1]);
        assert_eq!(q.get_nowait(), Ok(0));
        settle().await;
        assert_eq!(*have_been_put.borrow(), [0, 1, 2]);
        putter.await.unwrap();
        assert!(q.full());
    });
}

#[test]
fn test_blocking_get() {
    run(async {
        let q = Queue::new(0);
        q.put_nowait(1).unwrap();
        assert_eq!(q.get().await, 1);
    });
}

#[test]
fn test_get_with_putters() {
    run(async {
        let q = Rc::new(Queue::new(1));
        q.put_nowait(1).unwrap();
        let q2 = q.clone();
        let put = spawn(async move { q2.put(2).await });
        settle().await;
        assert_eq!(q.get().await, 1);
        settle().await;
        assert!(put.is_done());
        assert_eq!(q.get_nowait(), Ok(2));
    });
}

#[test]
fn test_blocking_get_wait() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let started = Rc::new(Event::new());
        let (q2, s) = (q.clone(), started.clone());
        let getter = spawn(async move {
            s.set();
            q2.get().await
        });
        started.wait().await;
        settle().await;
        assert!(!getter.is_done());
        q.put_nowait(1).unwrap();
        assert_eq!(getter.await.unwrap(), 1);
    });
}

#[test]
fn test_nonblocking_get_exception() {
    let q: Queue<u8> = Queue::new(0);
    assert_eq!(q.get_nowait(), Err(QueueEmpty));
    assert_eq!(QueueEmpty.to_string(), "queue is empty");
}

#[test]
fn test_nonblocking_put_exception() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    assert_eq!(q.put_nowait(2), Err(QueueFull(2)));
    assert_eq!(QueueFull(()).to_string(), "queue is full");
}

#[test]
fn test_get_cancelled_race() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let (q1, q2) = (q.clone(), q.clone());
        let t1 = spawn(async move { q1.get().await });
        let t2 = spawn(async move { q2.get().await });
        settle().await;
        t1.cancel();
        settle().await;
        assert!(t1.is_done());
        q.put("a").await;
        settle().await;
        assert_eq!(t2.await.unwrap(), "a");
    });
}

#[test]
fn test_get_with_waiting_putters() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let (q1, q2) = (q.clone(), q.clone());
        spawn(async move { q1.put('a').await }).detach();
        spawn(async move { q2.put('b').await }).detach();
        assert_eq!(q.get().await, 'a');
        assert_eq!(q.get().await, 'b');
    });
}

#[test]
fn test_why_are_getters_waiting() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let q1 = q.clone();
        let producer = spawn(async move {
            for i in 0..5 {
                q1.put(i).await;
            }
        });
        let q2 = q.clone();
        let consumer = spawn(async move {
            let mut got = Vec::new();
            for _ in 0..5 {
                got.push(q2.get().await);
            }
            got
        });
        producer.await.unwrap();
        assert_eq!(consumer.await.unwrap(), [0, 1, 2, 3, 4]);
    });
}

#[test]
fn test_cancelled_getters_not_being_held_in_self_getters() {
    let q: Queue<u8> = Queue::new(5);
    let mut get = Box::pin(q.get());
    assert!(poll_once(&mut get).is_pending());
    drop(get);
    assert!(format!("{q:?}").contains("getters: 0"), "{q:?}");
}

#[test]
fn test_blocking_put() {
    run(async {
        let q = Queue::new(0);
        q.put(1).await;
        assert_eq!(q.get().await, 1);
    });
}

#[test]
fn test_blocking_put_wait() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let finished = Rc::new(Cell::new(false));
        let (q2, f) = (q.clone(), finished.clone());
        let t = spawn(async move {
            q2.put(1).await;
            q2.put(2).await;
            f.set(true);
        });
        settle().await;
        assert!(!finished.get());
        assert_eq!(q.get_nowait(), Ok(1));
        t.await.unwrap();
        assert!(finished.get());
    });
}

#[test]
fn test_get_cancel_drop_one_pending_reader() {
    // Woken with an item, then cancelled before it ran: the item stays in the queue.
    run(async {
        let q = Rc::new(Queue::new(0));
        let q2 = q.clone();
        let reader = spawn(async move { q2.get().await });
        settle().await;
        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        reader.cancel();
        settle().await;
        assert!(reader.is_cancelled());
        assert_eq!(q.get().await, 1);
    });
}

#[test]
fn test_get_cancel_drop_many_pending_readers() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                spawn(async move { q.get().await })
            })
            .collect();
        settle().await;
        q.put_nowait(1).unwrap();
        q.put_nowait(2).unwrap();
        readers[0].cancel();
        let mut it = readers.into_iter();
        let r1 = it.next().unwrap();
        settle().await;
        assert!(r1.is_cancelled());
        let mut got: Vec<i32> = Vec::new();
        for r in it {
            got.push(r.await.unwrap());
        }
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn test_put_cancel_drop() {
    run(async {
        let q = Rc::new(Queue::new(1));
        q.put_nowait(1).unwrap();
        let q2 = q.clone();
        let writer = spawn(async move { q2.put(2).await });
        settle().await;
        assert_eq!(q.get_nowait(), Ok(1));
        writer.cancel();
        settle().await;
        assert!(writer.is_cancelled());
        // The cancelled put did not put its item.
        assert!(q.empty());
        q.put(2).await;
        assert_eq!(q.get_nowait(), Ok(2));
        assert_eq!(q.qsize(), 0);
    });
}

#[test]
fn test_put_cancelled() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let q2 = q.clone();
        let t = spawn(async move { q2.put(1).await });
        assert_eq!(q.get().await, 1);
        t.await.unwrap();
    });
}

#[test]
fn test_put_cancelled_race() {
    run(async {
        let q = Rc::new(Queue::new(1));
        let (qa, qb, qc) = (q.clone(), q.clone(), q.clone());
        let put_a = spawn(async move { qa.put('a').await });
        let put_b = spawn(async move { qb.put('b').await });
        let put_c = spawn(async move { qc.put('X').await });
        settle().await;
        assert!(put_a.is_done());
        assert!(!put_b.is_done());
        put_c.cancel();
        settle().await;
        assert!(put_c.is_done());
        assert_eq!(q.get_nowait(), Ok('a'));
        settle().await;
        assert_eq!(q.get_nowait(), Ok('b'));
        put_b.await.unwrap();
        assert!(q.empty());
    });
}

#[test]
fn test_put_woken_then_dropped_passes_the_wakeup() {
    // The putter woken by a get is dropped before it runs: the next putter gets the room.
    let q = Queue::new(1);
    q.put_nowait(0).unwrap();
    let mut b = Box::pin(q.put(1));
    let mut c = Box::pin(q.put(2));
    assert!(poll_once(&mut b).is_pending());
    assert!(poll_once(&mut c).is_pending());
    assert_eq!(q.get_nowait(), Ok(0));
    drop(b);
    assert!(poll_once(&mut c).is_ready());
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn test_get_woken_then_dropped_passes_the_wakeup() {
    let q = Queue::new(0);
    let mut b = Box::pin(q.get());
    let mut c = Box::pin(q.get());
    assert!(poll_once(&mut b).is_pending());
    assert!(poll_once(&mut c).is_pending());
    q.put_nowait(7).unwrap();
    drop(b);
    assert_eq!(poll_once(&mut c), Poll::Ready(7));
}

#[test]
fn test_put_with_waiting_getters() {
    run(async {
        let q = Rc::new(Queue::new(0));
        let q2 = q.clone();
        let t = spawn(async move { q2.get().await });
        settle().await;
        q.put("a").await;
        assert_eq!(t.await.unwrap(), "a");
    });
}

#[test]
fn test_why_are_putters_waiting() {
    run(async {
        let q = Rc::new(Queue::new(2));
        let q1 = q.clone();
        let getter = spawn(async move {
            yield_now().await;
            let n = q1.qsize();
            for _ in 0..n {
                q1.get_nowait().unwrap();
            }
        });
        let putters: Vec<_> = (0..4)
            .map(|i| {
                let q = q.clone();
                spawn(async move { q.put(i).await })
            })
            .collect();
        getter.await.unwrap();
        for p in putters {
            p.await.unwrap();
        }
        assert_eq!(q.qsize(), 2);
    });
}

#[test]
fn test_cancelled_puts_not_being_held_in_self_putters() {
    let q = Queue::new(1);
    q.put_nowait(1).unwrap();
    let mut put = Box::pin(q.put(1));
    assert!(poll_once(&mut put).is_pending());
    assert!(format!("{q:?}").contains("putters: 1"), "{q:?}");
    drop(put);
    assert!(format!("{q:?}").contains("putters: 0"), "{q:?}");
}

#[test]
fn test_task_done_underflow() {
    let q: Queue<u8> = Queue::new(0);
    match q.task_done() {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, "task_done() called too many times"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_task_done() {
    run(async {
        let q = Rc::new(Queue::new(0));
        for i in 0..100 {
            q.put_nowait(i).unwrap();
        }
        let accumulator = Rc::new(Cell::new(0));
        let running = Rc::new(Cell::new(true));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let (q, acc, running) = (q.clone(), accumulator.clone(), running.clone());
                spawn(async move {
                    while running.get() {
                        let item = q.get().await;
                        acc.set(acc.get() + item);
                        q.task_done().unwrap();
                    }
                })
            })
            .collect();
        q.join().await;
        assert_eq!(accumulator.get(), (0..100).sum::<i32>());
        running.set(false);
        for w in workers {
            w.cancel();
        }
        settle().await;
    });
}

#[test]
fn test_join_empty_queue() {
    run(async {
        let q: Queue<u8> = Queue::new(0);
        q.join().await;
        q.join().await;
    });
}

#[test]
fn test_priority_queue_tuples() {
    let q = PriorityQueue::new(0);
    q.put_nowait((3, "c")).unwrap();
    q.put_nowait((1, "a")).unwrap();
    q.put_nowait((2, "b")).unwrap();
    assert_eq!(q.get_nowait(), Ok((1, "a")));
    assert_eq!(q.get_nowait(), Ok((2, "b")));
}

/// An item whose ordering looks at its queue (a priority that depends on how busy the queue
/// is, a log line with its size): the ordering runs with no borrow of the queue held. It ran
/// inside the queue's `RefCell` borrow, so `qsize()` there panicked with a `BorrowError`.
/// Called from inside the ordering, `put_nowait` finds the queue full and `get_nowait` empty
/// (the queue is mid-change), as documented, instead of panicking.
#[test]
fn priority_queue_ordering_may_look_at_its_queue() {
    struct Item {
        prio: u32,
        queue: std::rc::Weak<PriorityQueue<Item>>,
        seen: Rc<RefCell<Vec<usize>>>,
    }
    impl Ord for Item {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            if let Some(q) = self.queue.upgrade() {
                assert_eq!(q.empty(), q.qsize() == 0);
                assert!(!q.full());
                assert!(format!("{q:?}").contains("qsize"));
                let intruder = Item {
                    prio: 0,
                    queue: std::rc::Weak::new(),
                    seen: self.seen.clone(),
                };
                assert!(q.put_nowait(intruder).is_err(), "put while ordering");
                assert!(q.get_nowait().is_err(), "get while ordering");
                self.seen.borrow_mut().push(q.qsize());
            }
            self.prio.cmp(&other.prio)
        }
    }
    impl PartialOrd for Item {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl PartialEq for Item {
        fn eq(&self, other: &Self) -> bool {
            self.prio == other.prio
        }
    }
    impl Eq for Item {}

    let q = Rc::new(PriorityQueue::new(10));
    let seen = Rc::new(RefCell::new(Vec::new()));
    for prio in [3, 1, 2] {
        let item = Item {
            prio,
            queue: Rc::downgrade(&q),
            seen: seen.clone(),
        };
        q.put_nowait(item).map_err(|_| "full").unwrap();
    }
    assert!(!seen.borrow().is_empty(), "the ordering ran");
    let got: Vec<u32> = (0..3).map(|_| q.get_nowait().unwrap().prio).collect();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(q.qsize(), 0);
}

#[test]
fn event_set_notifies_only_the_waiters_present_at_the_call() {
    // CPython's Event.set walks the waiters it has at the call. A waker that polls at once
    // (some executors do) and waits again after a clear() must not be notified by the same
    // set(): notify_all looped until the list was empty, here 1 000 times (found by
    // helper-45).
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    type Wait = Pin<Box<dyn Future<Output = ()>>>;
    thread_local! {
        // Leaked: the waits kept below borrow it for as long as the thread lives.
        static EVENT: &'static asyncio::Event = Box::leak(Box::new(asyncio::Event::new()));
        static WAITS: RefCell<Vec<Wait>> = RefCell::default();
    }
    struct Rewaiter(AtomicUsize);
    impl Wake for Rewaiter {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            if self.0.fetch_add(1, Ordering::Relaxed) >= 1_000 {
                return;
            }
            let waker = Waker::from(self.clone());
            let ev = EVENT.with(|ev| *ev);
            ev.clear();
            let mut wait: Wait = Box::pin(ev.wait());
            assert!(wait
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending());
            WAITS.with(|w| w.borrow_mut().push(wait));
        }
    }
    let rewaiter = Arc::new(Rewaiter(AtomicUsize::new(0)));
    Waker::from(rewaiter.clone()).wake_by_ref(); // the first wait
    rewaiter.0.store(0, Ordering::Relaxed);
    EVENT.with(|ev| ev.set());
    assert_eq!(
        rewaiter.0.load(Ordering::Relaxed),
        1,
        "one set(), one wake-up; the wait queued by it waits for the next set()"
    );
    WAITS.with(|w| w.borrow_mut().clear());
}

// ---- Lock and Semaphore against CPython's algorithm ------------------------------------------

/// Random interleavings of acquire, release, a waiter's turn and a waiter's cancellation,
/// run on the real primitive and on a model of CPython 3.11's `locks.py` (a deque of
/// futures; `_wake_up_first`, `_wake_up_next`; the `except CancelledError` paths). One
/// difference is modelled: a dropped Rust future leaves the deque at once, where Python's
/// cancelled future leaves it when its task next runs. After every step the two must agree on
/// `value()` / `locked()` and on which waiters are through.
mod against_cpython {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use std::collections::VecDeque;

    #[derive(Clone, Debug)]
    enum Op {
        /// A new `acquire()`, polled once.
        Acquire,
        /// `release()` (on a bounded semaphore it may be refused).
        Release,
        /// The task of the n-th live waiter (mod their count) runs: its future is polled.
        Turn(usize),
        /// The n-th live waiter is cancelled: its future is dropped.
        Cancel(usize),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => Just(Op::Acquire),
            2 => Just(Op::Release),
            3 => (0usize..8).prop_map(Op::Turn),
            2 => (0usize..8).prop_map(Op::Cancel),
        ];
        prop::collection::vec(op, 1..80)
    }

    /// A waiter's future: `done` once CPython would have called `set_result` on it.
    struct PyFut {
        id: usize,
        done: bool,
    }

    /// CPython 3.11 `Semaphore` / `BoundedSemaphore`.
    struct PySem {
        value: usize,
        bound: Option<usize>,
        waiters: VecDeque<PyFut>,
    }

    impl PySem {
        fn locked(&self) -> bool {
            self.value == 0 || !self.waiters.is_empty()
        }
        fn wake_up_next(&mut self) {
            if let Some(f) = self.waiters.iter_mut().find(|f| !f.done) {
                self.value -= 1;
                f.done = true;
            }
        }
        /// `acquire()` up to its first suspension: true if it returned at once.
        fn acquire(&mut self, id: usize) -> bool {
            if !self.locked() {
                self.value -= 1;
                return true;
            }
            self.waiters.push_back(PyFut { id, done: false });
            false
        }
        fn release(&mut self) -> bool {
            if self.bound.is_some_and(|b| self.value >= b) {
                return false; // ValueError
            }
            self.value += 1;
            self.wake_up_next();
            true
        }
        fn position(&self, id: usize) -> usize {
            self.waiters.iter().position(|f| f.id == id).unwrap()
        }
        /// The waiter's task runs: true if its acquire() returns.
        fn turn(&mut self, id: usize) -> bool {
            let at = self.position(id);
            if !self.waiters[at].done {
                return false;
            }
            self.waiters.remove(at);
            if self.value > 0 {
                self.wake_up_next();
            }
            true
        }
        fn cancel(&mut self, id: usize) {
            let at = self.position(id);
            let fut = self.waiters.remove(at).unwrap();
            if fut.done {
                self.value += 1;
                self.wake_up_next();
            }
        }
    }

    /// CPython 3.11 `Lock`.
    struct PyLock {
        locked: bool,
        waiters: VecDeque<PyFut>,
    }

    impl PyLock {
        fn wake_up_first(&mut self) {
            if let Some(f) = self.waiters.front_mut() {
                f.done = true;
            }
        }
        fn acquire(&mut self, id: usize) -> bool {
            if !self.locked && self.waiters.is_empty() {
                self.locked = true;
                return true;
            }
            self.waiters.push_back(PyFut { id, done: false });
            false
        }
        fn release(&mut self) -> bool {
            if !self.locked {
                return false; // RuntimeError('Lock is not acquired.')
            }
            self.locked = false;
            self.wake_up_first();
            true
        }
        fn position(&self, id: usize) -> usize {
            self.waiters.iter().position(|f| f.id == id).unwrap()
        }
        fn turn(&mut self, id: usize) -> bool {
            let at = self.position(id);
            if !self.waiters[at].done {
                return false;
            }
            self.waiters.remove(at);
            self.locked = true;
            true
        }
        fn cancel(&mut self, id: usize) {
            let at = self.position(id);
            self.waiters.remove(at);
            if !self.locked {
                self.wake_up_first();
            }
        }
    }

    type Waiting<'a> = Vec<(usize, Pin<Box<dyn Future<Output = ()> + 'a>>)>;

    fn poll_ready(fut: &mut Pin<Box<dyn Future<Output = ()> + '_>>) -> bool {
        fut.as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    fn check_semaphore(initial: usize, bounded: bool, ops: &[Op]) -> Result<(), TestCaseError> {
        let plain = Semaphore::new(initial);
        let bound = BoundedSemaphore::new(initial);
        let mut model = PySem {
            value: initial,
            bound: bounded.then_some(initial),
            waiters: VecDeque::new(),
        };
        let mut live: Waiting<'_> = Vec::new();
        for (id, op) in ops.iter().enumerate() {
            match op {
                Op::Acquire => {
                    let mut fut: Pin<Box<dyn Future<Output = ()>>> = if bounded {
                        Box::pin(bound.acquire())
                    } else {
                        Box::pin(plain.acquire())
                    };
                    let now = poll_ready(&mut fut);
                    prop_assert_eq!(now, model.acquire(id), "acquire #{} at once", id);
                    if !now {
                        live.push((id, fut));
                    }
                }
                Op::Release => {
                    let ok = if bounded {
                        bound.release().is_ok()
                    } else {
                        plain.release();
                        true
                    };
                    prop_assert_eq!(ok, model.release(), "release #{}", id);
                }
                Op::Turn(n) if !live.is_empty() => {
                    let at = n % live.len();
                    let through = poll_ready(&mut live[at].1);
                    prop_assert_eq!(through, model.turn(live[at].0), "turn of #{}", live[at].0);
                    if through {
                        drop(live.remove(at));
                    }
                }
                Op::Cancel(n) if !live.is_empty() => {
                    let (wid, fut) = live.remove(n % live.len());
                    drop(fut);
                    model.cancel(wid);
                }
                Op::Turn(_) | Op::Cancel(_) => {}
            }
            let (value, locked) = if bounded {
                (bound.value(), bound.locked())
            } else {
                (plain.value(), plain.locked())
            };
            prop_assert_eq!(value, model.value, "value after step {} {:?}", id, op);
            prop_assert_eq!(locked, model.locked(), "locked after step {} {:?}", id, op);
        }
        Ok(())
    }

    fn check_lock(ops: &[Op]) -> Result<(), TestCaseError> {
        let lock = Lock::new();
        let mut model = PyLock {
            locked: false,
            waiters: VecDeque::new(),
        };
        let mut live: Waiting<'_> = Vec::new();
        for (id, op) in ops.iter().enumerate() {
            match op {
                Op::Acquire => {
                    let mut fut: Pin<Box<dyn Future<Output = ()>>> = Box::pin(lock.acquire());
                    let now = poll_ready(&mut fut);
                    prop_assert_eq!(now, model.acquire(id), "acquire #{} at once", id);
                    if !now {
                        live.push((id, fut));
                    }
                }
                Op::Release => {
                    prop_assert_eq!(lock.release().is_ok(), model.release(), "release #{}", id);
                }
                Op::Turn(n) if !live.is_empty() => {
                    let at = n % live.len();
                    let through = poll_ready(&mut live[at].1);
                    prop_assert_eq!(through, model.turn(live[at].0), "turn of #{}", live[at].0);
                    if through {
                        drop(live.remove(at));
                    }
                }
                Op::Cancel(n) if !live.is_empty() => {
                    let (wid, fut) = live.remove(n % live.len());
                    drop(fut);
                    model.cancel(wid);
                }
                Op::Turn(_) | Op::Cancel(_) => {}
            }
            prop_assert_eq!(
                lock.locked(),
                model.locked,
                "locked after step {} {:?}",
                id,
                op
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 512,
            rng_seed: RngSeed::Fixed(0x5e_4a_f0),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn semaphore_follows_cpython_under_any_interleaving(initial in 0usize..4, ops in ops()) {
            check_semaphore(initial, false, &ops)?;
        }

        #[test]
        fn bounded_semaphore_follows_cpython_under_any_interleaving(
            initial in 0usize..4,
            ops in ops(),
        ) {
            check_semaphore(initial, true, &ops)?;
        }

        #[test]
        fn lock_follows_cpython_under_any_interleaving(ops in ops()) {
            check_lock(&ops)?;
        }
    }
}

// ---- Queue against CPython's algorithm -------------------------------------------------------

/// As `against_cpython` above, for `Queue`: random interleavings of put, get, put_nowait,
/// get_nowait, a waiter's turn and a waiter's cancellation, on the real queue and on a model
/// of CPython 3.11's `queues.py` (`_putters` / `_getters` deques, `_wakeup_next`, the
/// `while self.full()` / `while self.empty()` loops, the cancellation paths); a dropped
/// Rust future leaves its deque at once. Both must agree on every outcome and on `qsize()`.
mod queue_against_cpython {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};
    use std::collections::VecDeque;

    #[derive(Clone, Debug)]
    enum Op {
        Put,
        Get,
        PutNowait,
        GetNowait,
        /// The task of the n-th live waiter (mod their count) runs.
        Turn(usize),
        /// The n-th live waiter is cancelled.
        Cancel(usize),
    }

    fn ops() -> impl Strategy<Value = Vec<Op>> {
        let op = prop_oneof![
            3 => Just(Op::Put),
            3 => Just(Op::Get),
            1 => Just(Op::PutNowait),
            1 => Just(Op::GetNowait),
            4 => (0usize..8).prop_map(Op::Turn),
            2 => (0usize..8).prop_map(Op::Cancel),
        ];
        prop::collection::vec(op, 1..80)
    }

    /// A waiting `put(item)` (Some) or `get()` (None), and whether its future is done.
    struct PyWaiter {
        id: usize,
        item: Option<usize>,
        done: bool,
    }

    struct PyQueue {
        maxsize: usize,
        items: VecDeque<usize>,
        putters: VecDeque<usize>,
        getters: VecDeque<usize>,
        waiters: Vec<PyWaiter>,
    }

    impl PyQueue {
        fn full(&self) -> bool {
            self.maxsize > 0 && self.items.len() >= self.maxsize
        }
        fn waiter(&mut self, id: usize) -> &mut PyWaiter {
            self.waiters.iter_mut().find(|w| w.id == id).unwrap()
        }
        /// `_wakeup_next`: every future left in a deque is pending here.
        fn wakeup_next(&mut self, getters: bool) {
            let next = if getters {
                self.getters.pop_front()
            } else {
                self.putters.pop_front()
            };
            if let Some(id) = next {
                self.waiter(id).done = true;
            }
        }
        fn put_nowait(&mut self, item: usize) -> bool {
            if self.full() {
                return false;
            }
            self.items.push_back(item);
            self.wakeup_next(true);
            true
        }
        fn get_nowait(&mut self) -> Option<usize> {
            let item = self.items.pop_front()?;
            self.wakeup_next(false);
            Some(item)
        }
        /// One step of `put` / `get` for waiter `id` (new or woken): `Some(outcome)` when it
        /// returns (`None` item for a put), `None` when it waits (again).
        fn step(&mut self, id: usize, item: Option<usize>) -> Option<Option<usize>> {
            match item {
                Some(item) => {
                    if self.full() {
                        self.putters.push_back(id);
                        return None;
                    }
                    assert!(self.put_nowait(item));
                    Some(None)
                }
                None => {
                    if self.items.is_empty() {
                        self.getters.push_back(id);
                        return None;
                    }
                    Some(self.get_nowait())
                }
            }
        }
        fn start(&mut self, id: usize, item: Option<usize>) -> Option<Option<usize>> {
            let out = self.step(id, item);
            if out.is_none() {
                self.waiters.push(PyWaiter {
                    id,
                    item,
                    done: false,
                });
            }
            out
        }
        fn turn(&mut self, id: usize) -> Option<Option<usize>> {
            let w = self.waiter(id);
            if !w.done {
                return None;
            }
            w.done = false;
            let item = w.item;
            let out = self.step(id, item);
            if out.is_some() {
                self.waiters.retain(|w| w.id != id);
            }
            out
        }
        fn cancel(&mut self, id: usize) {
            let at = self.waiters.iter().position(|w| w.id == id).unwrap();
            let w = self.waiters.remove(at);
            let putter = w.item.is_some();
            let deque = if putter {
                &mut self.putters
            } else {
                &mut self.getters
            };
            deque.retain(|&k| k != id);
            if putter && w.done && !self.full() {
                self.wakeup_next(false);
            }
            if !putter && w.done && !self.items.is_empty() {
                self.wakeup_next(true);
            }
        }
    }

    enum Live<'a> {
        Put(Put<'a, usize>),
        Get(Get<'a, usize>),
    }

    impl Live<'_> {
        fn poll(&mut self) -> Option<Option<usize>> {
            let mut cx = Context::from_waker(Waker::noop());
            match self {
                Live::Put(p) => match Pin::new(p).poll(&mut cx) {
                    Poll::Ready(()) => Some(None),
                    Poll::Pending => None,
                },
                Live::Get(g) => match Pin::new(g).poll(&mut cx) {
                    Poll::Ready(item) => Some(Some(item)),
                    Poll::Pending => None,
                },
            }
        }
    }

    fn check(maxsize: usize, ops: &[Op]) -> Result<(), TestCaseError> {
        let q: Queue<usize> = Queue::new(maxsize);
        let mut model = PyQueue {
            maxsize,
            items: VecDeque::new(),
            putters: VecDeque::new(),
            getters: VecDeque::new(),
            waiters: Vec::new(),
        };
        let mut live: Vec<(usize, Live<'_>)> = Vec::new();
        for (id, op) in ops.iter().enumerate() {
            match op {
                Op::Put | Op::Get => {
                    let (mut fut, item) = match op {
                        Op::Put => (Live::Put(q.put(id)), Some(id)),
                        _ => (Live::Get(q.get()), None),
                    };
                    let out = fut.poll();
                    prop_assert_eq!(out, model.start(id, item), "{:?} #{}", op, id);
                    if out.is_none() {
                        live.push((id, fut));
                    }
                }
                Op::PutNowait => {
                    let ok = q.put_nowait(id).is_ok();
                    prop_assert_eq!(ok, model.put_nowait(id), "put_nowait #{}", id);
                }
                Op::GetNowait => {
                    let got = q.get_nowait().ok();
                    prop_assert_eq!(got, model.get_nowait(), "get_nowait #{}", id);
                }
                Op::Turn(n) if !live.is_empty() => {
                    let at = n % live.len();
                    let wid = live[at].0;
                    let out = live[at].1.poll();
                    prop_assert_eq!(out, model.turn(wid), "turn of #{}", wid);
                    if out.is_some() {
                        drop(live.remove(at));
                    }
                }
                Op::Cancel(n) if !live.is_empty() => {
                    let (wid, fut) = live.remove(n % live.len());
                    drop(fut);
                    model.cancel(wid);
                }
                Op::Turn(_) | Op::Cancel(_) => {}
            }
            prop_assert_eq!(q.qsize(), model.items.len(), "qsize after {} {:?}", id, op);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(Config {
            cases: 512,
            rng_seed: RngSeed::Fixed(0x90_e0_e5),
            failure_persistence: None,
            ..Config::default()
        })]

        #[test]
        fn queue_follows_cpython_under_any_interleaving(maxsize in 0usize..4, ops in ops()) {
            check(maxsize, &ops)?;
        }
    }
}

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
