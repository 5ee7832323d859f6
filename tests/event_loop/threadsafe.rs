//! call_soon_threadsafe and wake-ups from other threads (L21, L22, L25).

use super::*;

#[test]
fn l21_call_soon_threadsafe_from_four_threads_all_arrive_in_per_thread_order() {
    const THREADS: usize = 4;
    const CALLS: usize = 10_000;
    let lp = EventLoop::new().unwrap();
    let ts = lp.threadsafe();
    let received = Arc::new(std::sync::Mutex::new(vec![Vec::new(); THREADS]));
    let total = Arc::new(AtomicUsize::new(0));
    let mut joins = Vec::new();
    for t in 0..THREADS {
        let (ts, received, total) = (ts.clone(), received.clone(), total.clone());
        joins.push(std::thread::spawn(move || {
            for i in 0..CALLS {
                let (received, total) = (received.clone(), total.clone());
                ts.call_soon_threadsafe(move || {
                    received.lock().unwrap()[t].push(i);
                    total.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
            }
        }));
    }
    let h = lp.handle();
    let total2 = total.clone();
    // Stop once everything arrived: the loop blocks in poll between wake-ups (no timers).
    lp.run_until_complete(async move {
        while total2.load(Ordering::Relaxed) < THREADS * CALLS {
            let lp = h.clone();
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let _ = lp.threadsafe().call_soon_threadsafe(move || drop(tx));
            asyncio::yield_now().await;
            drop(rx);
        }
    })
    .unwrap();
    for j in joins {
        j.join().unwrap();
    }
    let received = received.lock().unwrap();
    for (t, got) in received.iter().enumerate() {
        assert_eq!(got.len(), CALLS, "thread {t} lost calls");
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "thread {t} out of order"
        );
    }
}

#[test]
fn l21_a_foreign_thread_wakes_a_blocked_poll() {
    let lp = EventLoop::new().unwrap();
    let ts = lp.threadsafe();
    let h = lp.handle();
    let stopper = std::thread::spawn(move || {
        ts.call_soon_threadsafe(move || ()).unwrap();
    });
    // Nothing else is scheduled: without the wake-up this would block forever.
    let (tx, rx) = std::sync::mpsc::channel();
    let ts2 = lp.threadsafe();
    let t2 = std::thread::spawn(move || {
        let h2 = ts2.clone();
        ts2.call_soon_threadsafe(move || tx.send(()).unwrap())
            .unwrap();
        drop(h2);
    });
    let h2 = h.clone();
    lp.add_reader(0, || ()).ok(); // stdin may or may not be pollable; irrelevant
    lp.remove_reader(0).ok();
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    lp.call_soon(move || ()).unwrap();
    lp.spawn(async move {
        loop {
            if rx.try_recv().is_ok() {
                d.set(true);
                h2.stop();
                return;
            }
            asyncio::sleep(ms(1)).await;
        }
    })
    .unwrap()
    .detach();
    lp.run_forever().unwrap();
    assert!(done.get());
    stopper.join().unwrap();
    t2.join().unwrap();
}

// CPython: EventLoopTestsMixin.test_call_soon_threadsafe_same_thread
#[test]
fn l22_threadsafe_on_the_loop_thread_is_call_soon() {
    let lp = EventLoop::new().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (l1, l2) = (log.clone(), log.clone());
    let h = lp.handle();
    lp.run_until_complete(async move {
        h.threadsafe()
            .call_soon_threadsafe(move || l1.lock().unwrap().push("hello"))
            .unwrap();
        h.call_soon(move || l2.lock().unwrap().push("world"))
            .unwrap();
        asyncio::yield_now().await;
    })
    .unwrap();
    assert_eq!(*log.lock().unwrap(), ["hello", "world"]);
}

/// Between two runs too: a thread-safe call made on the loop's thread, then a task woken
/// there, then a `call_soon`, run in that order, as CPython 3.11 runs
/// `loop.call_soon_threadsafe(ts); event.set(); loop.call_soon(cb)` (`['ts', 'task', 'cb']`).
/// (The call went through the door, read after the ready queue: `task, cb, ts`.)
// Checklist: L22, L25.
#[test]
fn l22_threadsafe_on_the_idle_loop_thread_is_call_soon_in_order_with_wake_ups() {
    let lp = EventLoop::new().unwrap();
    let ev = Rc::new(asyncio::Event::new());
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (e, l) = (ev.clone(), log.clone());
    let task = lp
        .spawn(async move {
            e.wait().await;
            l.lock().unwrap().push("task");
        })
        .unwrap();
    lp.run_until_complete(asyncio::yield_now()).unwrap();
    let l = log.clone();
    let door = lp.threadsafe();
    door.call_soon_threadsafe(move || l.lock().unwrap().push("ts"))
        .unwrap();
    ev.set(); // the loop is not running
    let l = log.clone();
    lp.call_soon(move || l.lock().unwrap().push("cb")).unwrap();
    lp.run_until_complete(task).unwrap().unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["ts", "task", "cb"],
        "CPython's order"
    );
    lp.close().unwrap();
    assert!(door.call_soon_threadsafe(|| ()).is_err(), "closed: refused");
}

#[test]
fn l25_a_task_woken_from_another_thread_resumes() {
    use std::future::poll_fn;
    use std::task::Poll;
    let out = asyncio::run(async {
        let mut sent = false;
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut joins = None;
        poll_fn(|cx| {
            if flag.load(Ordering::Acquire) {
                return Poll::Ready(());
            }
            if !sent {
                sent = true;
                let (w, f) = (cx.waker().clone(), flag.clone());
                joins = Some(std::thread::spawn(move || {
                    f.store(true, Ordering::Release);
                    w.wake();
                }));
            }
            Poll::Pending
        })
        .await;
        joins.unwrap().join().unwrap();
        "woken"
    });
    assert_eq!(out.unwrap(), "woken");
}
