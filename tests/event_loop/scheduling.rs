//! call_soon and the iteration's order (L1–L3, L5): queued callbacks, then I/O, then due
//! timers; a woken task's turn (D10); cancelled handles.

use super::*;

#[test]
fn l1_call_soon_runs_in_fifo_order_once() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    for i in 0..5 {
        let l = log.clone();
        lp.call_soon(move || l.push(i.to_string())).unwrap();
    }
    let h = lp.handle();
    lp.call_soon(move || h.stop()).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(log.get(), ["0", "1", "2", "3", "4"]);
}

#[test]
fn l2_order_is_queued_then_io_then_timers() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_at(lp.time(), move || l.push("timer")).unwrap();
    let l = log.clone();
    let fd = a.as_raw_fd();
    let h = lp.handle();
    lp.add_reader(fd, move || {
        l.push("io");
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    let l = log.clone();
    lp.call_soon(move || l.push("soon")).unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(log.get(), ["soon", "io", "timer"]);
}

/// A task parked on a shared waker slot; `wake()` from anywhere wakes it.
struct Parked {
    waker: Rc<std::cell::RefCell<Option<std::task::Waker>>>,
}

impl Parked {
    fn new() -> Self {
        Parked {
            waker: Rc::default(),
        }
    }
    /// A future that parks once (saving its waker), then completes when polled again.
    fn park(&self) -> impl std::future::Future<Output = ()> {
        let slot = self.waker.clone();
        let mut parked = false;
        std::future::poll_fn(move |cx| {
            if parked {
                return std::task::Poll::Ready(());
            }
            parked = true;
            *slot.borrow_mut() = Some(cx.waker().clone());
            std::task::Poll::Pending
        })
    }
    fn wake(&self) {
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

#[test]
fn d10_a_task_woken_by_an_io_callback_runs_in_the_same_iteration() {
    // One iteration: queued callback, I/O callback, due timer (the L3 snapshot, L2 order),
    // then the task the I/O callback woke (D10). A call_soon made by the I/O callback still
    // waits for the next iteration (L3).
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let log = Log::default();
    let parked = Rc::new(Parked::new());
    let (l, fut) = (log.clone(), parked.park());
    lp.spawn(async move {
        fut.await;
        l.push("task woken by io");
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the task parks
    assert!(log.get().is_empty());

    let l = log.clone();
    lp.call_at(lp.time(), move || l.push("timer")).unwrap();
    let fd = a.as_raw_fd();
    let (l, h, p) = (log.clone(), lp.handle(), parked.clone());
    lp.add_reader(fd, move || {
        l.push("io");
        p.wake();
        let l2 = l.clone();
        h.call_soon(move || l2.push("soon from io")).unwrap();
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    let l = log.clone();
    lp.call_soon(move || l.push("soon")).unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(log.get(), ["soon", "io", "timer", "task woken by io"]);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.len(), 5);
    assert_eq!(log.get()[4], "soon from io");
}

#[test]
fn l2_l3_an_io_only_iteration_keeps_the_order_with_a_timer_armed() {
    // Nothing queued and no timer due: the iteration runs only I/O callbacks (the loop's fast
    // path). What they schedule still waits for the next iteration (L3), and a timer armed
    // for later fires only when due (L8).
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_later(ms(5), move || l.push("timer")).unwrap();
    let fd = a.as_raw_fd();
    let (l, h) = (log.clone(), lp.handle());
    lp.add_reader(fd, move || {
        l.push("io");
        let l2 = l.clone();
        h.call_soon(move || l2.push("soon from io")).unwrap();
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(log.get(), ["io"]);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["io", "soon from io"]);
    clock.advance(ms(5));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["io", "soon from io", "timer"]);
}

#[test]
fn d10_a_task_woken_by_io_runs_at_most_once_per_iteration() {
    // It wakes itself at every poll: the second and later polls each wait for an iteration.
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let polls = Rc::new(Cell::new(0u32));
    let parked = Rc::new(Parked::new());
    let (n, fut) = (polls.clone(), parked.park());
    lp.spawn(async move {
        fut.await;
        loop {
            n.set(n.get() + 1);
            asyncio::yield_now().await;
        }
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let fd = a.as_raw_fd();
    let (h, p) = (lp.handle(), parked.clone());
    lp.add_reader(fd, move || {
        p.wake();
        h.remove_reader(fd).unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(
        polls.get(),
        1,
        "woken by I/O: ran once in the same iteration"
    );
    for i in 2..=4 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(polls.get(), i, "a self-waking task runs once per iteration");
    }
}

#[test]
fn d10_l3_a_task_woken_by_a_callback_still_waits_for_the_next_iteration() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let parked = Rc::new(Parked::new());
    let (l, fut) = (log.clone(), parked.park());
    lp.spawn(async move {
        fut.await;
        l.push("task");
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let p = parked.clone();
    lp.call_soon(move || p.wake()).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(
        log.get().is_empty(),
        "L3: woken by call_soon, runs next iteration"
    );
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["task"]);
}

/// A sleep's timer is a timer like `call_at`'s (L3 kept, D10): in CPython it sets the sleep's
/// future, whose done-callback schedules the task's step for the next iteration. So a
/// callback due at the same time, even one scheduled after the sleep, runs first, and the task
/// resumes one iteration later and sees what it did.
#[test]
fn d10_l3_a_task_woken_by_its_sleep_runs_the_iteration_after_the_timers_due_with_it() {
    let clock = ManualClock::new();
    let lp = EventLoop::with_clock(clock.clone()).unwrap();
    let log = Log::default();
    let deadline = lp.time() + ms(5);
    let l = log.clone();
    lp.spawn(async move {
        asyncio::sleep_until(deadline).await;
        l.push("task");
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the sleep is armed
    let l = log.clone();
    lp.call_at(deadline, move || l.push("timer")).unwrap();
    clock.advance(ms(5));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(
        log.get(),
        ["timer"],
        "the task waits for the next iteration"
    );
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(log.get(), ["timer", "task"]);
}

#[test]
fn d10_a_stream_read_completes_in_the_iteration_its_bytes_arrive() {
    // The streams hot path: readable event -> transport reads into the reader -> the waiting
    // read's task runs, all in one iteration (no extra poll per message).
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = asyncio::socketpair().unwrap();
    let got = Rc::new(std::cell::RefCell::new(Vec::new()));
    let g = got.clone();
    let task = lp
        .spawn(async move {
            let (reader, _writer) = asyncio::open_connection_sock(a).await.unwrap();
            let data = reader.read(100).await.unwrap();
            g.borrow_mut().extend_from_slice(&data);
        })
        .unwrap();
    // Bounded: run until the read is parked with nothing buffered.
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(got.borrow().is_empty());
    b.write_all(b"ping").unwrap();
    lp.run_once(Some(ms(1000))).unwrap();
    assert_eq!(
        &*got.borrow(),
        b"ping",
        "the read finished in the iteration that saw the bytes"
    );
    drop(task);
}

#[test]
fn l3_callbacks_queued_during_a_run_wait_for_the_next_iteration() {
    let lp = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0));
    fn again(lp: asyncio::LoopHandle, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        let lp2 = lp.clone();
        lp.call_soon(move || again(lp2, count)).unwrap();
    }
    let (h, c) = (lp.handle(), count.clone());
    lp.call_soon(move || again(h, c)).unwrap();
    for i in 1..=3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(
            count.get(),
            i,
            "a self-rescheduling callback ran more than once per iteration"
        );
    }
}

// CPython: BaseEventLoopTests.test__add_callback_cancelled_handle
#[test]
fn l5_cancel_is_idempotent_and_releases_the_capture() {
    let lp = EventLoop::new().unwrap();
    let captured = Rc::new(());
    let c = captured.clone();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let h = lp
        .call_soon(move || {
            let _keep = &c;
            r.set(true);
        })
        .unwrap();
    assert_eq!(Rc::strong_count(&captured), 2);
    h.cancel();
    h.cancel();
    assert!(h.cancelled());
    assert_eq!(
        Rc::strong_count(&captured),
        1,
        "cancel must drop the closure at once"
    );
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!ran.get());
}

#[test]
fn l5_a_handle_cancelled_by_an_earlier_callback_of_the_same_iteration_is_skipped() {
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let slot: Rc<Cell<Option<asyncio::Handle>>> = Rc::new(Cell::new(None));
    let s = slot.clone();
    lp.call_soon(move || s.take().unwrap().cancel()).unwrap();
    let r = ran.clone();
    slot.set(Some(lp.call_soon(move || r.set(true)).unwrap()));
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(!ran.get());
}

// CPython: BaseEventLoopTests.test__add_callback_handle
#[test]
fn l1_l5_test_add_callback_handle() {
    // A handle added with call_soon goes to the ready queue, never among the timers.
    let lp = EventLoop::new().unwrap();
    let h = lp.call_soon(|| ()).unwrap();
    let stats = lp.stats();
    assert_eq!((stats.ready, stats.timers), (1, 0));
    assert!(!h.cancelled());
}

// CPython: BaseEventLoopTests.test__run_once_schedule_handle
#[test]
fn l2_l3_test_run_once_schedule_handle() {
    // A timer due before the iteration runs in it; what it schedules with call_soon waits in
    // the ready queue for the next iteration.
    let lp = EventLoop::new().unwrap();
    let processed = Rc::new(Cell::new(false));
    let later_ran = Rc::new(Cell::new(false));
    let (p, r, h) = (processed.clone(), later_ran.clone(), lp.handle());
    let past = lp
        .time()
        .checked_sub(Duration::from_secs(1))
        .unwrap_or(lp.time());
    lp.call_at(past, move || {
        p.set(true);
        let r = r.clone();
        h.call_soon(move || r.set(true)).unwrap();
    })
    .unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(processed.get());
    assert!(!later_ran.get());
    assert_eq!(lp.stats().ready, 1);
    assert_eq!(lp.stats().timers, 0);
}
