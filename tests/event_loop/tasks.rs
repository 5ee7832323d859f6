//! Tasks (L24, L28–L36, D3, D4): spawn, cancel, detach, failures reported once, timeouts
//! around tasks.

use super::*;

#[test]
fn l24_spawn_starts_at_the_next_run_phase_and_nested_spawns_work() {
    let out = asyncio::run(async {
        let started = Rc::new(Cell::new(false));
        let s = started.clone();
        let t = asyncio::spawn(async move {
            s.set(true);
            let inner = asyncio::spawn(async { asyncio::spawn(async { 40 }).await.unwrap() + 1 });
            inner.await.unwrap() + 1
        });
        assert!(
            !started.get(),
            "L24: spawn must not run the body synchronously"
        );
        t.await.unwrap()
    });
    assert_eq!(out.unwrap(), 42);
}

#[test]
fn d4_timeout_at_a_passed_deadline_still_fails_after_one_poll() {
    // L27 makes a lone sleep suspend once; timeout's own deadline keeps D4: the future is
    // polled once, then the passed deadline fails it at once.
    asyncio::run(async {
        let lp = asyncio::get_running_loop().unwrap();
        let polls = Rc::new(Cell::new(0));
        let p = polls.clone();
        let pending = std::future::poll_fn(move |_| {
            p.set(p.get() + 1);
            std::task::Poll::<()>::Pending
        });
        let r = asyncio::timeout_at(lp.time() - Duration::from_millis(1), pending).await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert_eq!(polls.get(), 1);
    })
    .unwrap();
}

// CPython: BaseTaskTests.test_sleep_cancel
#[test]
fn l27_l28_cancelling_a_sleeping_task_cancels_its_timer() {
    let lp = EventLoop::new().unwrap();
    let h = lp.handle();
    lp.run_until_complete(async move {
        let t = asyncio::spawn(asyncio::sleep(Duration::from_secs(3600)));
        asyncio::yield_now().await;
        assert_eq!(h.stats().timers, 1);
        assert!(t.cancel());
        assert_eq!(t.await, Err(asyncio::Cancelled));
        assert_eq!(
            h.stats().timers,
            0,
            "the sleep's timer must leave the wheel"
        );
        assert_eq!(h.stats().tasks, 0);
    })
    .unwrap();
}

#[test]
fn l28_cancel_on_a_finished_task_returns_false() {
    asyncio::run(async {
        let t = asyncio::spawn(async { 5 });
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        assert!(t.is_done());
        assert!(!t.cancel());
        assert_eq!(t.await, Ok(5));
    })
    .unwrap();
}

// CPython: BaseTaskTests.test_cancel_with_message_before_starting_task (without the message)
#[test]
fn l29_a_task_cancelled_before_its_first_step_never_runs() {
    asyncio::run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let t = asyncio::spawn(async move { r.set(true) });
        assert!(t.cancel());
        assert!(t.cancel(), "repeated cancel is still true while pending");
        assert_eq!(t.await, Err(asyncio::Cancelled));
        assert!(!ran.get());
    })
    .unwrap();
}

#[test]
fn l30_a_task_that_cancels_itself_ends_cancelled() {
    asyncio::run(async {
        let slot: Rc<Cell<Option<asyncio::Task<u32>>>> = Rc::new(Cell::new(None));
        let s = slot.clone();
        let handle_slot = Rc::new(Cell::new(None::<Rc<dyn Fn() -> bool>>));
        let hs = handle_slot.clone();
        let t = asyncio::spawn(async move {
            // Cancel ourselves through the handle kept by the parent, then return a value.
            (hs.take().unwrap())();
            7u32
        });
        let t = Rc::new(t);
        let t2 = t.clone();
        handle_slot.set(Some(Rc::new(move || t2.cancel())));
        drop(s);
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        assert!(t.is_done());
        assert!(t.is_cancelled(), "L30: the returned value is discarded");
        drop(slot);
    })
    .unwrap();
}

// CPython: BaseTaskTests.test_yield_future_passes_cancel
#[test]
fn l33_cancelling_a_task_cancels_the_task_it_awaits() {
    asyncio::run(async {
        let inner_dropped = Rc::new(Cell::new(false));
        struct OnDrop(Rc<Cell<bool>>);
        impl Drop for OnDrop {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let d = OnDrop(inner_dropped.clone());
        let inner = asyncio::spawn(async move {
            let _d = d;
            std::future::pending::<()>().await
        });
        #[allow(clippy::redundant_async_block)] // the outer task must await the inner one
        let outer = asyncio::spawn(async move { inner.await });
        asyncio::yield_now().await;
        asyncio::yield_now().await;
        outer.cancel();
        assert_eq!(outer.await, Err(asyncio::Cancelled));
        assert!(
            inner_dropped.get(),
            "L33: the awaited task is cancelled too"
        );
        assert_eq!(asyncio::get_running_loop().unwrap().stats().tasks, 0);
    })
    .unwrap();
}

#[test]
fn d3_dropping_an_unawaited_task_detaches_it() {
    asyncio::run(async {
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        drop(asyncio::spawn(async move {
            asyncio::yield_now().await;
            r.set(true);
        }));
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
        assert!(ran.get(), "a detached task keeps running");
    })
    .unwrap();
}

#[test]
fn l35_unobserved_failures_are_reported_once() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    lp.run_until_complete(async {
        asyncio::spawn(async { panic!("task boom") }).detach();
        asyncio::spawn(async { Err::<(), asyncio::Error>(asyncio::Error::Timeout) }).detach();
        let t = asyncio::spawn(async { Err::<(), std::io::Error>(std::io::Error::other("late")) });
        asyncio::spawn(async { Ok::<(), asyncio::Error>(()) }).detach();
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
        drop(t); // finished, never awaited: reported at drop
    })
    .unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen
        .iter()
        .all(|s| s.starts_with("Task exception was never retrieved")));
    assert!(seen[0].ends_with("panicked: task boom"));
    assert!(seen[1].ends_with("timed out"));
    assert!(seen[2].ends_with("late"));
}

#[test]
fn a_panicking_task_resumes_its_panic_in_the_awaiter_and_the_loop_survives() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let out = lp.run_until_complete(async {
        // The inner panic resumes in `awaiter`, is caught at awaiter's task boundary and, since
        // nobody awaits `awaiter`, reported once.
        asyncio::spawn(async {
            let _ = asyncio::spawn(async { panic!("deep") }).await;
        })
        .detach();
        for _ in 0..4 {
            asyncio::yield_now().await;
        }
        "survived"
    });
    assert_eq!(out.unwrap(), "survived");
    assert_eq!(
        *seen.borrow(),
        ["Task exception was never retrieved | panicked: deep"]
    );
}

#[test]
fn l36_l39_timeout_drops_the_inner_future_and_cancels_an_awaited_task() {
    asyncio::run(async {
        let r = asyncio::timeout(ms(1), std::future::pending::<()>()).await;
        assert!(matches!(r, Err(Error::Timeout)));
        let t = asyncio::spawn(asyncio::sleep(Duration::from_secs(3600)));
        let r = asyncio::timeout(ms(1), t).await;
        assert!(matches!(r, Err(Error::Timeout)));
        let stats = asyncio::get_running_loop().unwrap().stats();
        assert_eq!(
            (stats.tasks, stats.timers),
            (0, 0),
            "L36: the task is gone when timeout returns"
        );
    })
    .unwrap();
}

#[test]
fn d4_l38_a_result_ready_at_the_first_poll_wins_over_a_zero_deadline() {
    asyncio::run(async {
        assert_eq!(
            asyncio::timeout(Duration::ZERO, async { 3 }).await.unwrap(),
            3
        );
        let r = asyncio::timeout(Duration::ZERO, asyncio::yield_now()).await;
        assert!(
            matches!(r, Err(Error::Timeout)),
            "L39: timeout(0) around sleep(0) times out"
        );
    })
    .unwrap();
}

#[test]
fn l36_try_timeout_flattens_the_two_errors_and_takes_any_into_future() {
    // Issue #14: `timeout(d, builder)` takes IntoFuture values, and `try_timeout` makes
    // `timeout(d, fallible).await?` one `?`.
    asyncio::run(async {
        let slow = async {
            asyncio::sleep(ms(60_000)).await;
            Ok::<_, Error>(1)
        };
        assert!(matches!(
            asyncio::try_timeout(ms(1), slow).await,
            Err(Error::Timeout)
        ));
        let failing = async { Err::<u8, _>(std::io::Error::other("own error")) };
        match asyncio::try_timeout(ms(1_000), failing).await {
            Err(Error::Io(e)) => assert_eq!(e.to_string(), "own error"),
            other => panic!("{other:?}"),
        }
        let fine = async { Ok::<_, Error>(7) };
        assert_eq!(asyncio::try_timeout(ms(1_000), fine).await.unwrap(), 7);
        // A plain value that is IntoFuture, not Future: a Task handle is both; an
        // open_connection builder is only IntoFuture (see the try_timeout doc test).
        let task = asyncio::spawn(async { 3 });
        assert_eq!(asyncio::timeout(ms(1_000), task).await.unwrap(), Ok(3));
    })
    .unwrap();
}

thread_local! {
    /// The loop `RunsLoopOnDrop` runs (a thread-local: wakers must be `Send`).
    static DROP_RUNS: std::cell::RefCell<Option<asyncio::LoopHandle>> =
        const { std::cell::RefCell::new(None) };
}

/// A waker whose drop runs one iteration of this thread's `DROP_RUNS` loop, as an embedder's
/// waker may (the loop is not running when it is dropped).
struct RunsLoopOnDrop;

impl std::task::Wake for RunsLoopOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for RunsLoopOnDrop {
    fn drop(&mut self) {
        if let Some(lp) = DROP_RUNS.with(|l| l.borrow().clone()) {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    }
}

#[test]
fn d3_detaching_a_polled_task_drops_its_waker_outside_the_join_borrow() {
    use std::future::Future;
    use std::task::{Context, Poll};
    let lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let mut task = lp.spawn(async move { r.set(true) }).unwrap();
    let waker = std::task::Waker::from(Arc::new(RunsLoopOnDrop));
    let polled = std::pin::Pin::new(&mut task).poll(&mut Context::from_waker(&waker));
    assert!(matches!(polled, Poll::Pending), "not run yet");
    drop(waker); // the task's join slot holds the last clone
    DROP_RUNS.with(|l| *l.borrow_mut() = Some(lp.handle()));
    task.detach(); // drops that waker, which runs the task to its end (`complete`)
    DROP_RUNS.with(|l| l.borrow_mut().take());
    assert!(ran.get());
}

// CPython: the awaiting task's wake-up callback retrieves the exception (`Task.__wakeup`
// calls `result()`), and `Task.cancel` cancels the future it waits on, which counts as a
// look too: a failure handed to an awaiting task is never reported as unretrieved, even
// when that task is cancelled before it runs again.
#[test]
fn l35_a_future_failure_handed_to_an_awaiting_task_that_is_then_cancelled_is_not_reported() {
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    lp.run_until_complete(async {
        let lp = asyncio::get_running_loop().unwrap();
        let fut = lp.create_future::<u32>();
        let waiter = asyncio::spawn(fut.clone());
        asyncio::yield_now().await; // the task now awaits `fut`
        fut.set_exception(Error::InvalidArgument("x".into()))
            .unwrap();
        waiter.cancel();
        drop(fut);
        assert!(matches!(waiter.await, Err(asyncio::Cancelled)));
    })
    .unwrap();
    assert_eq!(*seen.borrow(), Vec::<String>::new());
}
