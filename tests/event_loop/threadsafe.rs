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

/// What a callback captured, dropped: records on which thread.
struct Captured(Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>);

impl Drop for Captured {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(std::thread::current().id());
    }
}

/// `call_soon_threadsafe` returns a handle another thread can cancel with (CPython's
/// `Handle`; 3.14 makes that cancel thread-safe): cancelled before the loop runs an
/// iteration, the callback never runs, and what it captured is dropped by the cancel, on the
/// cancelling thread (L5). The ones left uncancelled run in their order.
// Checklist: L5, L21, D5.
#[test]
fn l5_l21_a_threadsafe_callback_cancelled_from_another_thread_never_runs() {
    let lp = EventLoop::new().unwrap();
    let door = lp.threadsafe();
    let ran = Arc::new(std::sync::Mutex::new(Vec::new()));
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    let (r, d) = (ran.clone(), dropped_on.clone());
    let handles = std::thread::spawn(move || {
        (0..4)
            .map(|i| {
                let (r, captured) = (r.clone(), Captured(d.clone()));
                door.call_soon_threadsafe(move || {
                    let _keep = &captured;
                    r.lock().unwrap().push(i);
                })
                .unwrap()
            })
            .collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    let cancelled = handles[1].clone();
    assert!(!cancelled.cancelled());
    let canceller_id = std::thread::spawn(move || {
        cancelled.cancel();
        cancelled.cancel(); // idempotent
        assert!(cancelled.cancelled());
        std::thread::current().id()
    })
    .join()
    .unwrap();
    assert_eq!(
        *dropped_on.lock().unwrap(),
        Some(canceller_id),
        "the cancel released the capture, on its own thread"
    );
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(*ran.lock().unwrap(), [0, 2, 3]);
    assert!(handles[1].cancelled() && !handles[0].cancelled());
    // Cancelling after the run changes nothing but the flag, as Python's `cancelled()`.
    handles[0].cancel();
    assert!(handles[0].cancelled());
    assert_eq!(*ran.lock().unwrap(), [0, 2, 3]);
}

/// The same race with the loop live on its own thread: the loop is held busy in a callback
/// while the test queues a call and cancels it, so the cancel lands before the loop's next
/// iteration; released, the loop runs a later call and never the cancelled one.
// Checklist: L5, L21.
#[test]
fn l5_l21_a_cancel_racing_a_running_loop_lands_before_its_next_iteration() {
    let lt = asyncio::LoopThread::spawn().unwrap();
    let door = lt.handle().clone();
    let (busy_tx, busy_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    door.call_soon_threadsafe(move || {
        busy_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(30)); // bounded
    })
    .unwrap();
    busy_rx.recv_timeout(Duration::from_secs(30)).unwrap(); // the loop is in that callback
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    let victim = door
        .call_soon_threadsafe(move || tx.send("cancelled one ran").unwrap())
        .unwrap();
    victim.cancel();
    door.call_soon_threadsafe(move || tx2.send("later one ran").unwrap())
        .unwrap();
    release_tx.send(()).unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(30)),
        Ok("later one ran")
    );
    lt.stop().unwrap();
    assert!(rx.try_recv().is_err(), "the cancelled callback ran");
}

/// On the loop's own thread `call_soon_threadsafe` is `call_soon` (L22), and its handle
/// cancels as `call_soon`'s does, also through `LoopHandle::call_soon_threadsafe`; a closed
/// loop refuses both (L16).
// Checklist: L5, L16, L22.
#[test]
fn l5_l22_a_threadsafe_callback_cancelled_on_the_loop_thread_never_runs() {
    let lp = EventLoop::new().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (a, b, c) = (log.clone(), log.clone(), log.clone());
    let door = lp.threadsafe();
    let first = door
        .call_soon_threadsafe(move || a.lock().unwrap().push("door"))
        .unwrap();
    let second = lp
        .call_soon_threadsafe(move || b.lock().unwrap().push("loop handle"))
        .unwrap();
    lp.call_soon(move || c.lock().unwrap().push("call_soon"))
        .unwrap();
    second.cancel();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(*log.lock().unwrap(), ["door", "call_soon"]);
    assert!(second.cancelled() && !first.cancelled());
    lp.close().unwrap();
    assert!(door.call_soon_threadsafe(|| ()).is_err());
    assert!(lp.call_soon_threadsafe(|| ()).is_err());
}

/// A `call_soon_threadsafe` callback that panics is reported under its own closure's name
/// (`Exception in callback <Handle …::{{closure}}()>`), from another thread and from the
/// loop's own, not under the loop's wrapper that runs it.
// Checklist: L18, L21.
#[test]
fn l18_a_failing_threadsafe_callback_is_reported_under_its_own_name() {
    let lp = EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let door = lp.threadsafe();
    std::thread::spawn(move || {
        door.call_soon_threadsafe(|| panic!("from another thread"))
            .unwrap();
    })
    .join()
    .unwrap();
    lp.call_soon_threadsafe(|| panic!("from the loop thread"))
        .unwrap();
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let own = "l18_a_failing_threadsafe_callback_is_reported_under_its_own_name::{{closure}}";
    assert!(seen.iter().all(|s| s.contains(own)), "{seen:?}");
}
