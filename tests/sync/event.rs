//! `Event`: ports of test_locks.py's EventTests; a set() wakes only the waiters present.

use super::*;

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
