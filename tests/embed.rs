//! Embedding (issue #9): the loop inside a foreign poll loop (`run_once`, `as_raw_fd`,
//! `next_timeout`), and on its own thread driven from synchronous code (`LoopThread`,
//! `run_coroutine_threadsafe`, `ConcurrentFuture`).

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asyncio::{Error, EventLoop, LoopThread};

#[test]
fn run_coroutine_threadsafe_from_8_threads_x_1000_calls() {
    let lt = Arc::new(LoopThread::spawn().unwrap());
    let mut joins = Vec::new();
    for t in 0..8u64 {
        let lt = lt.clone();
        joins.push(std::thread::spawn(move || {
            let futs: Vec<_> = (0..1000u64)
                .map(|i| {
                    lt.run_coroutine_threadsafe(move || async move {
                        asyncio::yield_now().await;
                        t * 1_000_000 + i
                    })
                })
                .collect();
            for (i, f) in futs.into_iter().enumerate() {
                assert_eq!(
                    f.result(Some(Duration::from_secs(20))).unwrap(),
                    t * 1_000_000 + i as u64
                );
            }
        }));
    }
    for j in joins {
        j.join().unwrap();
    }
    Arc::try_unwrap(lt).unwrap().stop().unwrap();
}

#[test]
fn stop_cancels_pending_work_and_joins() {
    let lt = LoopThread::spawn().unwrap();
    let forever = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    let sleeping = lt.run_coroutine_threadsafe(|| asyncio::sleep(Duration::from_secs(3600)));
    // Make sure both have started on the loop before stopping.
    lt.run_coroutine_threadsafe(asyncio::yield_now)
        .result(Some(Duration::from_secs(20)))
        .unwrap();
    lt.stop().unwrap();
    assert!(matches!(
        forever.result(Some(Duration::from_secs(5))),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        sleeping.result(Some(Duration::from_secs(5))),
        Err(Error::Cancelled)
    ));
}

#[test]
fn concurrent_future_cancel_timeout_and_await_from_another_loop() {
    let lt = LoopThread::spawn().unwrap();
    let f = lt.run_coroutine_threadsafe(std::future::pending::<u8>);
    assert!(matches!(
        f.result(Some(Duration::from_millis(10))),
        Err(Error::Timeout)
    ));
    assert!(!f.done());
    assert!(f.cancel());
    assert!(matches!(
        f.result(Some(Duration::from_secs(20))),
        Err(Error::Cancelled)
    ));
    assert!(f.cancel(), "already cancelled: true again, as Python's");

    // Awaited from a different loop on a different thread: the completion wakes it across.
    let g = lt.run_coroutine_threadsafe(|| async {
        asyncio::sleep(Duration::from_millis(5)).await;
        "across"
    });
    let got =
        std::thread::spawn(move || asyncio::run(asyncio::timeout(Duration::from_secs(20), g)))
            .join()
            .unwrap()
            .unwrap()
            .unwrap()
            .unwrap();
    assert_eq!(got, "across");
    lt.stop().unwrap();
}

fn poll_fd(fd: i32, timeout: Option<Duration>) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as i32);
    // `poll` on one valid descriptor we own a reference to.
    let n = poll_one(&mut p, ms);
    n > 0
}

fn poll_one(p: &mut libc::pollfd, ms: i32) -> i32 {
    #[allow(unsafe_code)]
    // SAFETY: `p` points to one initialised pollfd for the duration of the call.
    unsafe {
        libc::poll(p, 1, ms)
    }
}

#[test]
fn the_loop_inside_a_foreign_poll_blocks_when_idle_and_wakes_for_io_and_timers() {
    let lp = EventLoop::new().unwrap();
    let fd = lp.as_raw_fd();
    assert_eq!(lp.next_timeout(), None, "nothing to do: the host may block");

    // Idle: a host loop polling our fd with our timeout blocks; bounded by 200 ms here.
    let start = Instant::now();
    let mut iterations = 0;
    while start.elapsed() < Duration::from_millis(200) {
        let t = lp.next_timeout().or(Some(Duration::from_millis(200)));
        poll_fd(fd, t);
        lp.run_once(Some(Duration::ZERO)).unwrap();
        iterations += 1;
    }
    assert!(
        iterations <= 3,
        "busy loop while idle: {iterations} iterations in 200 ms"
    );

    // A timer: next_timeout says when; the host sleeps that long, then the timer runs.
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    lp.call_later(Duration::from_millis(20), move || {
        f.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    let t = lp.next_timeout().expect("a timer is pending");
    assert!(
        t <= Duration::from_millis(21),
        "deadline rounded up by at most one tick: {t:?}"
    );
    for _ in 0..100 {
        poll_fd(fd, lp.next_timeout());
        lp.run_once(Some(Duration::ZERO)).unwrap();
        if fired.load(Ordering::SeqCst) == 1 {
            break;
        }
    }
    assert_eq!(fired.load(Ordering::SeqCst), 1);

    // I/O: a socketpair written from another thread makes our fd readable.
    let (a, mut b) = asyncio::socketpair().unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let rfd = std::os::fd::AsRawFd::as_raw_fd(&a);
    lp.add_reader(rfd, move || {
        g.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    let writer = std::thread::spawn(move || b.write_all(b"x").unwrap());
    for _ in 0..100 {
        assert!(
            poll_fd(fd, Some(Duration::from_secs(20))),
            "our fd never became readable"
        );
        lp.run_once(Some(Duration::ZERO)).unwrap();
        if got.load(Ordering::SeqCst) > 0 {
            break;
        }
    }
    assert!(got.load(Ordering::SeqCst) > 0);
    writer.join().unwrap();
    lp.remove_reader(rfd).unwrap();
    drop(a);

    // A cross-thread call_soon_threadsafe also wakes the host's poll.
    let ts = lp.threadsafe();
    let called = Arc::new(AtomicUsize::new(0));
    let c = called.clone();
    std::thread::spawn(move || {
        ts.call_soon_threadsafe(move || {
            c.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap()
    })
    .join()
    .unwrap();
    assert!(poll_fd(fd, Some(Duration::from_secs(20))));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(called.load(Ordering::SeqCst), 1);
    assert!(
        !lp.run_once(Some(Duration::ZERO)).unwrap(),
        "nothing left to do"
    );
}

#[test]
fn l9_next_timeout_is_whole_milliseconds_rounded_up() {
    // A host whose poll counts milliseconds must never wake just before a timer and spin.
    // A far timer, so a busy machine pausing this thread cannot reach the deadline; what
    // elapsed is measured and allowed for.
    let lp = EventLoop::new().unwrap();
    let start = std::time::Instant::now();
    lp.call_later(Duration::from_micros(2_500_500), || ())
        .unwrap();
    let t = lp.next_timeout().expect("a timer is pending");
    let elapsed = start.elapsed();
    assert_eq!(t.subsec_nanos() % 1_000_000, 0, "whole milliseconds: {t:?}");
    assert!(
        t >= Duration::from_micros(2_500_500).saturating_sub(elapsed),
        "rounded up, never below the deadline: {t:?} after {elapsed:?}"
    );
    assert!(
        t <= Duration::from_millis(2_501),
        "at most the delay, rounded up: {t:?}"
    );
}

/// What a host loop reads between turns, at each edge: `next_timeout` is zero for a due timer,
/// at most MAXIMUM_SELECT_TIMEOUT (86 400 s) for a `Duration::MAX` one (L9), and `None` once
/// the only timer is cancelled (L10: a cancelled timer sets no timeout); `run_once` is
/// refused from inside a turn (L12) and after `close` (L16), when `next_timeout` is `None`.
#[test]
fn l9_l10_l12_l16_next_timeout_and_run_once_at_their_edges() {
    let lp = EventLoop::new().unwrap();
    let far = lp.call_later(Duration::MAX, || ()).unwrap();
    let t = lp.next_timeout().expect("a timer is pending");
    assert!(
        t > Duration::from_secs(3600) && t <= Duration::from_secs(86_400),
        "{t:?}"
    );
    far.cancel();
    assert_eq!(lp.next_timeout(), None, "a cancelled timer sets no timeout");
    lp.call_later(Duration::ZERO, || ()).unwrap();
    assert_eq!(lp.next_timeout(), Some(Duration::ZERO), "due now");
    let h = lp.handle();
    let refused = std::rc::Rc::new(std::cell::RefCell::new(None));
    let r = refused.clone();
    lp.call_soon(move || *r.borrow_mut() = Some(h.run_once(Some(Duration::ZERO))))
        .unwrap();
    assert!(lp.run_once(Some(Duration::ZERO)).is_ok());
    match refused.borrow_mut().take() {
        Some(Err(Error::InvalidState(m))) => assert_eq!(m, "This event loop is already running"),
        other => panic!("run_once inside a turn: {other:?}"),
    }
    lp.close().unwrap();
    match lp.run_once(Some(Duration::ZERO)) {
        Err(Error::InvalidState(m)) => assert_eq!(m, "Event loop is closed"),
        other => panic!("run_once after close: {other:?}"),
    }
    assert_eq!(lp.next_timeout(), None);
}

/// CPython's `_run_once` never clears `_stopping`: a `stop()` asked before a `run_once`, or by
/// a callback inside one, is still pending for the next `run_forever`, which then does
/// exactly one iteration (L13). Meanwhile it does not make a host spin: `next_timeout` still
/// says the host may block.
#[test]
fn l13_a_stop_pending_across_run_once_ends_the_next_run_forever_after_one_iteration() {
    use std::cell::Cell;
    use std::rc::Rc;

    /// Counts iterations until stopped; stops the loop itself after 50 (a bound, not a
    /// result: a lost stop would otherwise run for ever).
    fn tick(lp: asyncio::LoopHandle, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        if count.get() == 50 {
            return lp.stop();
        }
        let lp2 = lp.clone();
        lp.call_soon(move || tick(lp2, count)).unwrap();
    }
    for stopped_during_run_once in [false, true] {
        let lp = EventLoop::new().unwrap();
        if stopped_during_run_once {
            let h = lp.handle();
            lp.call_soon(move || h.stop()).unwrap();
        } else {
            lp.stop();
        }
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(lp.next_timeout(), None, "nothing to do: the host may block");
        lp.run_once(Some(Duration::ZERO)).unwrap(); // still pending after another turn
        let count = Rc::new(Cell::new(0));
        let (h, c) = (lp.handle(), count.clone());
        lp.call_soon(move || tick(h, c)).unwrap();
        lp.run_forever().unwrap();
        assert_eq!(
            count.get(),
            1,
            "stop {} run_once: run_forever did one iteration",
            if stopped_during_run_once {
                "during"
            } else {
                "before"
            }
        );
        // Used up by that run: the next one runs the queued tick on until it stops the loop.
        lp.run_forever().unwrap();
        assert_eq!(count.get(), 50);
    }
}

#[test]
fn result_with_duration_max_timeout_waits_instead_of_panicking() {
    // `Duration::MAX` means "no deadline": `Instant::now() + Duration::MAX` must not overflow.
    let lt = LoopThread::spawn().unwrap();
    let f = lt.run_coroutine_threadsafe(|| async { 7u8 });
    assert_eq!(f.result(Some(Duration::MAX)).unwrap(), 7);
    lt.stop().unwrap();
}

#[test]
fn work_queued_on_a_loop_closed_before_running_it_completes_instead_of_hanging() {
    // The callback run_coroutine_threadsafe queues is dropped by close(): its future must not
    // stay pending for ever (result(None) would block the caller's thread).
    let lp = EventLoop::new().unwrap();
    let door = lp.threadsafe();
    let f = std::thread::spawn(move || asyncio::run_coroutine_threadsafe(&door, || async { 1u8 }))
        .join()
        .unwrap();
    assert!(!f.done());
    lp.close().unwrap();
    assert!(f.done(), "the dropped work says so");
    assert!(matches!(
        f.result(Some(Duration::from_secs(5))),
        Err(Error::InvalidState(_))
    ));
}

#[test]
fn cancel_completes_the_future_at_once_even_if_the_loop_is_not_running() {
    // Python's concurrent Future: cancel() makes it done, and result() raises CancelledError
    // at once. Here the loop is driven by this very thread (embedded), not running now: a
    // result() that waited for the loop to notice would never return.
    let lp = EventLoop::new().unwrap();
    let door = lp.threadsafe();
    let f = std::thread::spawn(move || asyncio::run_coroutine_threadsafe(&door, || async { 1u8 }))
        .join()
        .unwrap();
    assert!(f.cancel());
    assert!(f.done(), "cancelled is done");
    assert!(matches!(
        f.result(Some(Duration::ZERO)),
        Err(Error::Cancelled)
    ));
    // The loop then runs the queued work: it is dropped, and the result stays Cancelled.
    lp.run_once(Some(Duration::ZERO)).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    // Python's `cancel()` on a cancelled future: True again (it used to say false here).
    assert!(f.cancel(), "already cancelled: stays cancelled");
    lp.close().unwrap();
}

/// A cancelled `ConcurrentFuture` stays cancelled, as Python's `concurrent.futures.Future`:
/// `cancel()` again says true, also after `result()` took the cancellation and when the loop
/// side cancelled the work (its loop stopped); a finished one says false. CPython 3.11
/// (probed with python3, `run_coroutine_threadsafe(asyncio.sleep(3600), loop)`):
/// `f.cancel(), f.cancel()` is `True, True`, and `True` again after `f.result(0)` raised
/// `CancelledError`; on a finished future `False, False`. Ours said false after the first.
#[test]
fn a_cancelled_concurrent_future_says_true_to_every_later_cancel_as_in_python() {
    let lt = LoopThread::spawn().unwrap();
    let slow = lt.run_coroutine_threadsafe(|| asyncio::sleep(Duration::from_secs(3600)));
    assert!(slow.cancel());
    assert!(slow.cancel(), "a second cancel of a cancelled future");
    assert!(matches!(slow.result(None), Err(Error::Cancelled)));
    assert!(slow.cancel(), "after its result was taken");

    let quick = lt.run_coroutine_threadsafe(|| async { 7 });
    assert_eq!(quick.result(Some(Duration::from_secs(10))).unwrap(), 7);
    assert!(
        !quick.cancel() && !quick.cancel(),
        "a finished future is not cancelled"
    );

    // Cancelled by the loop: stopping the loop thread cancels the work still pending.
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let pending = lt.run_coroutine_threadsafe(move || async move {
        let _ = started_tx.send(());
        std::future::pending::<()>().await
    });
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the work started");
    lt.stop().unwrap();
    assert!(pending.done());
    assert!(pending.cancel(), "cancelled by the loop's shutdown");
    assert!(matches!(pending.result(None), Err(Error::Cancelled)));
    assert!(pending.cancel(), "and after its result was taken");
}

#[test]
fn a_panic_in_the_future_or_in_the_function_reaches_the_concurrent_future() {
    // Python: the coroutine's exception is set on the concurrent future. Here a panic is
    // `Error::Panic` with its message, and the loop goes on serving other work.
    let lt = LoopThread::spawn().unwrap();
    let in_future = lt.run_coroutine_threadsafe(|| async {
        asyncio::yield_now().await;
        if std::hint::black_box(true) {
            panic!("boom in the future");
        }
        1u8
    });
    match in_future.result(Some(Duration::from_secs(20))) {
        Err(Error::Panic(p)) => assert_eq!(p.message(), "boom in the future"),
        other => panic!("expected Error::Panic, got {other:?}"),
    }
    let in_function = lt.run_coroutine_threadsafe(|| -> std::future::Ready<u8> {
        panic!("boom in the function");
    });
    match in_function.result(Some(Duration::from_secs(20))) {
        Err(Error::Panic(p)) => assert_eq!(p.message(), "boom in the function"),
        other => panic!("expected Error::Panic, got {other:?}"),
    }
    let after = lt.run_coroutine_threadsafe(|| async { 2u8 });
    assert_eq!(after.result(Some(Duration::from_secs(20))).unwrap(), 2);
    lt.stop().unwrap();
}

#[test]
fn a_loop_thread_stopped_from_its_own_loop_stops_without_joining_itself() {
    // A callback that ends up stopping (or dropping) its own LoopThread: joining would be the
    // thread waiting for itself. The stop says so, and the loop still stops and shuts down.
    let lt = LoopThread::spawn().unwrap();
    let forever = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    let holder = Arc::new(std::sync::Mutex::new(None::<LoopThread>));
    let door = lt.handle().clone();
    *holder.lock().unwrap() = Some(lt);
    let h = holder.clone();
    let stopped = asyncio::run_coroutine_threadsafe(&door, move || async move {
        let lt = h.lock().unwrap().take().expect("the loop thread is held");
        lt.stop()
    });
    match stopped.result(Some(Duration::from_secs(20))) {
        Ok(Err(Error::InvalidState(msg))) => assert!(msg.contains("own loop"), "{msg}"),
        other => panic!("expected InvalidState from stop, got {other:?}"),
    }
    // The loop stopped and cancelled what was left, as a stop from outside does.
    assert!(matches!(
        forever.result(Some(Duration::from_secs(20))),
        Err(Error::Cancelled)
    ));
}

#[test]
fn d12_an_abandoned_await_of_a_concurrent_future_keeps_no_waker() {
    // A ConcurrentFuture awaited under a timeout, or in a select, then dropped: the waker of
    // the task that gave up must not stay with the work until it ends. Polled by a second
    // task first, the first task's waker goes too (one handle, one awaiter).
    struct Count;
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {}
    }
    let lt = LoopThread::spawn().unwrap();
    let mut fut = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    let (a, b) = (Arc::new(Count), Arc::new(Count));
    for probe in [&a, &b] {
        let waker = std::task::Waker::from(probe.clone());
        let polled = std::pin::Pin::new(&mut fut).poll(&mut std::task::Context::from_waker(&waker));
        assert!(polled.is_pending());
    }
    assert_eq!(
        Arc::strong_count(&a),
        1,
        "replaced by the second awaiter's waker"
    );
    assert_eq!(Arc::strong_count(&b), 2, "kept while the handle lives");
    assert!(fut.cancel()); // wakes, and so gives up, the second awaiter's waker
    let mut fut2 = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    let waker = std::task::Waker::from(b.clone());
    assert!(std::pin::Pin::new(&mut fut2)
        .poll(&mut std::task::Context::from_waker(&waker))
        .is_pending());
    drop(waker);
    assert_eq!(Arc::strong_count(&b), 2);
    drop(fut2);
    assert_eq!(
        Arc::strong_count(&b),
        1,
        "the dropped handle took its waker back"
    );
    drop(fut);
    lt.stop().unwrap();
}

/// A gate the test opens from its thread and loop-side work awaits.
#[derive(Clone, Default)]
struct Gate(Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>);

impl Gate {
    fn open(&self) {
        let waker = {
            let mut g = self.0.lock().unwrap();
            g.0 = true;
            g.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn wait(self) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx| {
            let mut g = self.0.lock().unwrap();
            if g.0 {
                return std::task::Poll::Ready(());
            }
            g.1 = Some(cx.waker().clone());
            std::task::Poll::Pending
        })
    }
}

const LONG: Duration = Duration::from_secs(30);

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// `concurrent.futures.Future.add_done_callback`: callbacks added before the work ends run
/// on the thread that completes it (the loop's), in the order added, once each, with the
/// result already in; a panicking one is reported and the others, and the loop, go on.
/// Added once it is done, a callback runs at once on the adding thread.
// Checklist: L26 (its concurrent.futures counterpart).
#[test]
fn add_done_callback_runs_on_the_completing_thread_in_order_or_at_once_if_done() {
    let lt = LoopThread::spawn().unwrap();
    let gate = Gate::default();
    let g = gate.clone();
    let fut = lt.run_coroutine_threadsafe(move || async move {
        g.wait().await;
        7
    });
    let (tx, rx) = std::sync::mpsc::channel();
    for name in ["first", "panics", "third"] {
        let tx = tx.clone();
        fut.add_done_callback(move |f| {
            assert!(f.done());
            if name == "panics" {
                panic!("a done-callback panicking, on purpose");
            }
            tx.send((name, thread_name(), f.exception(None).unwrap().is_none()))
                .unwrap();
        });
    }
    assert!(rx.try_recv().is_err(), "ran before the work ended");
    gate.open();
    let loop_thread = "asyncio-loop".to_string();
    assert_eq!(
        rx.recv_timeout(LONG).unwrap(),
        ("first", loop_thread.clone(), true)
    );
    assert_eq!(rx.recv_timeout(LONG).unwrap(), ("third", loop_thread, true));
    assert_eq!(
        fut.result(Some(LONG)).unwrap(),
        7,
        "the value is still there"
    );
    let tx2 = tx.clone();
    fut.add_done_callback(move |f| {
        tx2.send(("late", thread_name(), f.done())).unwrap();
    });
    assert_eq!(rx.try_recv().unwrap(), ("late", thread_name(), true));
    // The loop survived the panicking callback.
    let after = lt.run_coroutine_threadsafe(|| async { "still serving" });
    assert_eq!(after.result(Some(LONG)).unwrap(), "still serving");
    lt.stop().unwrap();
    assert!(rx.try_recv().is_err(), "a callback ran twice");
}

/// A cancel runs the callbacks on the cancelling thread (as `concurrent.futures` does), and a
/// loop shutting down with the work unfinished cancels it there: `cancelled()` is true for
/// both, false for work that ended with a value.
// Checklist: L26 (its concurrent.futures counterpart).
#[test]
fn cancelled_and_done_callbacks_after_a_cancel_and_a_loop_shutdown() {
    let lt = LoopThread::spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let cancelled = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    let shut_down = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    let fine = lt.run_coroutine_threadsafe(|| async { 1 });
    assert_eq!(fine.result(Some(LONG)).unwrap(), 1);
    assert!(!cancelled.cancelled() && !shut_down.cancelled() && !fine.cancelled());
    for (name, fut) in [("cancelled", &cancelled), ("shut down", &shut_down)] {
        let tx = tx.clone();
        fut.add_done_callback(move |f| {
            let e = f.exception(None).map(|_| ());
            tx.send((
                name,
                thread_name(),
                f.cancelled(),
                e.map_err(|e| e.to_string()),
            ))
            .unwrap();
        });
    }
    let canceller = std::thread::Builder::new()
        .name("canceller".into())
        .spawn(move || assert!(cancelled.cancel()))
        .unwrap();
    canceller.join().unwrap();
    let got = rx.recv_timeout(LONG).unwrap();
    assert_eq!(
        got,
        (
            "cancelled",
            "canceller".to_string(),
            true,
            Err(Error::Cancelled.to_string())
        )
    );
    lt.stop().unwrap();
    let got = rx.recv_timeout(LONG).unwrap();
    assert_eq!(
        got,
        (
            "shut down",
            "asyncio-loop".to_string(),
            true,
            Err(Error::Cancelled.to_string())
        )
    );
    assert!(shut_down.cancelled() && !fine.cancelled());
}

/// `exception()` (Python's `concurrent.futures.Future.exception`) gives the error without
/// taking it, `None` for a value (which `result()` still takes), waits as `result()` does
/// (`Timeout` while pending), and says `Cancelled` for a cancelled future. An error is given
/// again at every `result()`, as Python re-raises it; it used to be taken by the first.
// Checklist: L26 (its concurrent.futures counterpart).
#[test]
fn exception_reads_the_error_without_taking_it() {
    let lt = LoopThread::spawn().unwrap();
    let failed = lt.run_coroutine_threadsafe(|| async {
        asyncio::yield_now().await;
        panic!("boom, on purpose");
    });
    match failed.exception(Some(LONG)) {
        Ok(Some(Error::Panic(p))) => assert_eq!(p.message(), "boom, on purpose"),
        other => panic!("expected the panic, got {other:?}"),
    }
    for _ in 0..2 {
        match failed.result(Some(LONG)) {
            Err(Error::Panic(p)) => assert_eq!(p.message(), "boom, on purpose"),
            other => panic!("expected the panic again, got {other:?}"),
        }
    }
    assert!(matches!(failed.exception(None), Ok(Some(Error::Panic(_)))));
    let value = lt.run_coroutine_threadsafe(|| async { 5 });
    assert!(value.exception(Some(LONG)).unwrap().is_none());
    assert_eq!(value.result(None).unwrap(), 5);
    assert!(
        value.exception(None).unwrap().is_none(),
        "a taken value is no error"
    );
    let pending = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    assert!(matches!(
        pending.exception(Some(Duration::ZERO)),
        Err(Error::Timeout)
    ));
    pending.cancel();
    assert!(matches!(pending.exception(None), Err(Error::Cancelled)));
    lt.stop().unwrap();
}
