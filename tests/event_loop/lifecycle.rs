//! run_forever, run_until_complete, stop, close (L12–L16): re-entry refused, one more
//! iteration after a stop, what close drops; get_running_loop.

use super::*;

#[test]
fn l1_l6_l16_scheduling_on_a_closed_loop_fails() {
    let lp = EventLoop::new().unwrap();
    lp.close().unwrap();
    assert!(lp.is_closed());
    let e = lp.call_soon(|| ()).unwrap_err();
    assert_eq!(e.to_string(), "Event loop is closed");
    assert!(matches!(
        lp.call_later(ms(1), || ()),
        Err(Error::InvalidState(_))
    ));
    assert!(matches!(lp.spawn(async {}), Err(Error::InvalidState(_))));
    assert!(matches!(lp.run_forever(), Err(Error::InvalidState(_))));
    assert!(lp.run_until_complete(async {}).is_err());
    assert!(lp.threadsafe().call_soon_threadsafe(|| ()).is_err());
    assert!(lp.add_reader(0, || ()).is_err());
    assert!(!lp.remove_reader(0).unwrap());
    lp.close().unwrap(); // idempotent
}

// CPython: EventLoopTestsMixin.test_close_running_event_loop
// CPython: RunningLoopTests.test_running_loop_within_a_loop
#[test]
fn l12_run_forever_refuses_reentry_and_a_second_loop() {
    let lp = EventLoop::new().unwrap();
    let other = EventLoop::new().unwrap();
    let h = lp.handle();
    let got = Rc::new(Cell::new(0));
    let g = got.clone();
    let other_h = other.handle();
    lp.call_soon(move || {
        assert_eq!(
            h.run_forever().unwrap_err().to_string(),
            "This event loop is already running"
        );
        assert_eq!(
            other_h.run_forever().unwrap_err().to_string(),
            "Cannot run the event loop while another loop is running"
        );
        assert!(h.close().is_err(), "L16: cannot close a running loop");
        g.set(1);
        h.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert_eq!(got.get(), 1);
    assert!(!lp.is_running());
    assert!(
        asyncio::get_running_loop().is_err(),
        "L15: marker cleared on exit"
    );
}

#[test]
fn l13_stop_from_a_callback_finishes_the_iteration() {
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (h, l) = (lp.handle(), log.clone());
    lp.call_soon(move || {
        h.stop();
        let l2 = l.clone();
        h.call_soon(move || l2.push("next")).unwrap();
        l.push("stopper");
    })
    .unwrap();
    let l = log.clone();
    lp.call_soon(move || l.push("same iteration")).unwrap();
    lp.run_forever().unwrap();
    assert_eq!(log.get(), ["stopper", "same iteration"]);
    // L13: what was queued in the last iteration runs when the loop starts again.
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(log.get(), ["stopper", "same iteration", "next"]);
}

#[test]
fn l13_stop_before_run_forever_means_exactly_one_iteration() {
    let lp = EventLoop::new().unwrap();
    let count = Rc::new(Cell::new(0));
    fn again(lp: asyncio::LoopHandle, count: Rc<Cell<u32>>) {
        count.set(count.get() + 1);
        let lp2 = lp.clone();
        lp.call_soon(move || again(lp2, count)).unwrap();
    }
    let (h, c) = (lp.handle(), count.clone());
    lp.call_soon(move || again(h, c)).unwrap();
    lp.stop();
    lp.stop();
    lp.run_forever().unwrap();
    assert_eq!(count.get(), 1);
}

// CPython: BaseEventLoopTests.test_single_selecter_event_callback_after_stopping
#[test]
fn l5_l13_test_single_selecter_event_callback_after_stopping() {
    // Python issue #25593: an I/O callback must not run twice for one event because the loop
    // was stopped. One readiness event; the callback cancels itself (removes the reader).
    let lp = EventLoop::new().unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let calls = Rc::new(Cell::new(0));
    let (c, h) = (calls.clone(), lp.handle());
    lp.add_reader(fd, move || {
        c.set(c.get() + 1);
        let h2 = h.clone();
        h.call_soon(move || {
            h2.remove_reader(fd).unwrap();
        })
        .unwrap();
    })
    .unwrap();
    b.write_all(b"x").unwrap();
    for _ in 1..3 {
        let h = lp.handle();
        lp.call_soon(move || h.stop()).unwrap();
        lp.run_forever().unwrap();
        assert_eq!(calls.get(), 1);
    }
    drop(a);
}

// CPython: BaseEventLoopTests.test_run_forever_pre_stopped
#[test]
fn l9_l13_test_run_forever_pre_stopped() {
    // stop() before run_forever: one iteration that polls with timeout 0, even with a timer
    // an hour away. The loop runs on its own thread so that a blocking poll fails the test
    // after 10 s instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lp = EventLoop::new().unwrap();
        lp.call_later(Duration::from_secs(3600), || ()).unwrap();
        lp.stop();
        lp.run_forever().unwrap();
        tx.send(lp.is_running()).unwrap();
    });
    let running = rx.recv_timeout(Duration::from_secs(10));
    assert_eq!(
        running,
        Ok(false),
        "the pre-stopped run blocked in its poll"
    );
}

#[test]
fn l14_run_until_complete_returns_the_output_and_runs_one_more_iteration() {
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let h = lp.handle();
    let out = lp
        .run_until_complete(async move {
            asyncio::yield_now().await;
            h.call_soon(move || r.set(true)).unwrap();
            "value"
        })
        .unwrap();
    assert_eq!(out, "value");
    assert!(
        ran.get(),
        "a callback scheduled as the future finished must still run"
    );
}

#[test]
fn l14_stopped_before_the_future_completed() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    lp.call_soon(move || h.stop()).unwrap();
    let e = lp
        .run_until_complete(asyncio::sleep(Duration::from_secs(3600)))
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
}

// CPython: EventLoopTestsMixin.test_run_until_complete_nesting
#[test]
fn l12_l15_test_run_until_complete_nesting() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let e = lp
        .run_until_complete(async move {
            assert!(h.is_running());
            h.run_until_complete(asyncio::yield_now()).unwrap_err()
        })
        .unwrap();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert_eq!(e.to_string(), "This event loop is already running");
    assert!(!lp.is_running());
}

// CPython: EventLoopTestsMixin.test_run_until_complete_stopped
#[test]
fn l14_test_run_until_complete_stopped() {
    // stop() from inside the future itself, which then waits on a timer.
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let e = lp
        .run_until_complete(async move {
            h.stop();
            asyncio::sleep(Duration::from_secs(3600)).await;
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
    assert!(!lp.is_running());
}

#[test]
fn l15_get_running_loop_inside_and_outside() {
    assert_eq!(
        asyncio::get_running_loop().unwrap_err().to_string(),
        "no running event loop"
    );
    let lp = EventLoop::new().unwrap();
    let inside =
        lp.run_until_complete(async { asyncio::get_running_loop().map(|l| l.is_running()) });
    assert!(inside.unwrap().unwrap());
}

// CPython: BaseTaskTests.test_log_destroyed_pending_task (a pending task is destroyed when its loop closes, D8)
#[test]
fn l16_l35_close_drops_callbacks_and_reports_pending_tasks() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_soon(move || r.set(true)).unwrap();
    let r = ran.clone();
    lp.call_later(ms(1), move || r.set(true)).unwrap();
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(dropped.clone());
    let t = lp.spawn(async move {
        let _f = flag;
        std::future::pending::<()>().await
    });
    t.unwrap().detach();
    lp.close().unwrap();
    assert!(!ran.get(), "close() must not run queued callbacks");
    assert!(dropped.get(), "close() drops pending tasks' futures");
    assert_eq!(seen.borrow().len(), 1, "{:?}", seen.borrow());
    assert!(seen.borrow()[0].starts_with("Task was destroyed but it is pending!"));
}

// CPython: EventLoopTestsMixin.test_remove_fds_after_closing
#[test]
fn l16_test_remove_fds_after_closing() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    lp.add_reader(r.as_raw_fd(), || ()).unwrap();
    lp.add_writer(w.as_raw_fd(), || ()).unwrap();
    lp.close().unwrap();
    assert!(!lp.remove_reader(r.as_raw_fd()).unwrap());
    assert!(!lp.remove_writer(w.as_raw_fd()).unwrap());
}

// CPython: EventLoopTestsMixin.test_add_fds_after_closing
#[test]
fn l16_test_add_fds_after_closing() {
    let lp = EventLoop::new().unwrap();
    let (r, w) = std::os::unix::net::UnixStream::pair().unwrap();
    lp.close().unwrap();
    let e = lp.add_reader(r.as_raw_fd(), || ()).unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    let e = lp.add_writer(w.as_raw_fd(), || ()).unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert_eq!(e.to_string(), "Event loop is closed");
}

#[test]
fn a_refused_nested_run_until_complete_queues_nothing() {
    // L41: run_until_complete on a running loop is refused. It used to queue a main step
    // before refusing, which then polled the outer main future once without a wake-up.
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    let (polls, woken) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
    let (p, w) = (polls.clone(), woken.clone());
    lp.run_until_complete(std::future::poll_fn(move |cx| {
        p.set(p.get() + 1);
        if p.get() == 1 {
            let r = h.run_until_complete(async {});
            assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
            let (waker, w) = (cx.waker().clone(), w.clone());
            h.call_soon(move || {
                w.set(true);
                waker.wake();
            })
            .unwrap();
            return std::task::Poll::Pending;
        }
        assert!(w.get(), "polled again before its wake-up");
        std::task::Poll::Ready(())
    }))
    .unwrap();
    assert_eq!(polls.get(), 2);
    assert!(woken.get());
}

#[test]
fn l13_l14_a_run_stopped_with_its_main_woken_leaves_no_main_entry() {
    use std::task::Poll;
    let lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (h, l) = (lp.handle(), log.clone());
    let e = lp
        .run_until_complete(std::future::poll_fn(move |cx| {
            // Stop, then wake this future: the wake-up queues it after the stop is set.
            let (h, w) = (h.clone(), cx.waker().clone());
            let _ = h.clone().call_soon(move || {
                h.stop();
                w.wake();
            });
            l.push("first");
            Poll::<()>::Pending
        }))
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
    assert_eq!(
        lp.stats().ready,
        0,
        "the woken main of the stopped run is gone"
    );
    // The next run polls its own future in FIFO order (L14), after the callback queued
    // before it, not at the stale entry's place ahead of it.
    let l = log.clone();
    lp.call_soon(move || l.push("callback")).unwrap();
    let l = log.clone();
    lp.run_until_complete(async move { l.push("second") })
        .unwrap();
    assert_eq!(log.get(), ["first", "callback", "second"]);
}

/// A main future left pending by a stopped run is dropped in the loop (as `Runner.close`
/// cancels Python's main task); a `stop()` from its `Drop` (Python's `finally:` calling
/// `loop.stop()`) is kept, as CPython's sets `_stopping` for the next run: that run does one
/// iteration. Lost, the next `run_forever` would run the callback queued in its second
/// iteration.
// Checklist: L13, L14.
#[test]
fn l13_l14_a_stop_from_the_drop_of_a_stopped_runs_main_future_stops_the_next_run() {
    struct StopOnDrop;
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            asyncio::get_running_loop().unwrap().stop();
        }
    }
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    lp.call_soon(move || h.stop()).unwrap();
    let e = lp
        .run_until_complete(async {
            let _finally = StopOnDrop;
            std::future::pending::<()>().await;
        })
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
    assert!(!lp.is_running());
    let log = Log::default();
    let (h, l) = (lp.handle(), log.clone());
    lp.call_soon(move || {
        l.push("first iteration");
        let l = l.clone();
        // Ends the run if the pending stop was lost (bounded either way).
        let stopper = h.clone();
        let _ = h.call_soon(move || {
            l.push("second iteration");
            stopper.stop();
        });
    })
    .unwrap();
    lp.run_forever().unwrap();
    assert_eq!(log.get(), ["first iteration"]);
}
