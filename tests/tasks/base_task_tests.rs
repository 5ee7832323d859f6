//! Ports of test_tasks.py's BaseTaskTests basics and cancellation cases (L24–L32, L14).

use super::*;

/// One iteration that waits for nothing: CPython's `test_utils.run_briefly`.
fn run_briefly(lp: &EventLoop) {
    lp.run_once(Some(Duration::ZERO)).unwrap();
}

// CPython: BaseTaskTests.test_task_basics
#[test]
fn l24_l25_test_task_basics() {
    async fn inner1() -> u32 {
        42
    }
    async fn inner2() -> u32 {
        1000
    }
    async fn outer() -> u32 {
        let a = inner1().await;
        let b = inner2().await;
        a + b
    }
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.run_until_complete(outer()).unwrap(), 1042);
}

// CPython: BaseTaskTests.test_bare_create_task
#[test]
fn l24_test_bare_create_task() {
    let lp = EventLoop::new().unwrap();
    let ret = lp
        .run_until_complete(async {
            let task: asyncio::Task<u32> = asyncio::spawn(async { 1 });
            task.await
        })
        .unwrap();
    assert_eq!(ret, Ok(1));
}

// CPython: BaseTaskTests.test_cancel_yield
#[test]
fn l28_test_cancel_yield() {
    let lp = EventLoop::new().unwrap();
    let t = lp
        .spawn(async {
            asyncio::yield_now().await;
            asyncio::yield_now().await;
            12
        })
        .unwrap();
    run_briefly(&lp); // start the body
    assert!(t.cancel());
    let t = Rc::new(RefCell::new(Some(t)));
    let t2 = t.clone();
    let out = lp
        .run_until_complete(std::future::poll_fn(move |cx| {
            let mut slot = t2.borrow_mut();
            let task = slot.as_mut().unwrap();
            std::future::Future::poll(std::pin::Pin::new(task), cx)
        }))
        .unwrap();
    assert_eq!(out, Err(Cancelled));
    let t = t.borrow_mut().take().unwrap();
    assert!(t.is_done());
    assert!(t.is_cancelled());
    assert!(!t.cancel());
}

/// A future on `lp` and a task that awaits it, then returns 12 (or the await's error).
fn a_task_awaiting_a_future(
    lp: &EventLoop,
) -> (asyncio::LoopFuture<u32>, asyncio::Task<Result<u32, Error>>) {
    let f = lp.create_future::<u32>();
    let f2 = f.clone();
    let t = lp
        .spawn(async move {
            f2.await?;
            Ok::<u32, Error>(12)
        })
        .unwrap();
    (f, t)
}

// CPython: BaseTaskTests.test_cancel_inner_future
#[test]
fn l32_test_cancel_inner_future() {
    // The awaited future cancelled by someone else: the await gives `Error::Cancelled`; here
    // the task ends with that as its value (`is_cancelled()` false, see its docs).
    let lp = EventLoop::new().unwrap();
    let (f, t) = a_task_awaiting_a_future(&lp);
    run_briefly(&lp); // start the task
    assert!(f.cancel());
    let out = lp.run_until_complete(t).unwrap();
    assert!(matches!(out, Ok(Err(Error::Cancelled))), "{out:?}");
    assert!(f.cancelled());
}

// CPython: BaseTaskTests.test_cancel_both_task_and_inner_future
#[test]
fn l32_test_cancel_both_task_and_inner_future() {
    let lp = EventLoop::new().unwrap();
    let (f, t) = a_task_awaiting_a_future(&lp);
    let probe = t.task_ref();
    run_briefly(&lp);
    assert!(f.cancel());
    assert!(t.cancel());
    assert!(matches!(lp.run_until_complete(t).unwrap(), Err(Cancelled)));
    assert!(probe.is_done());
    assert!(probe.is_cancelled());
    assert!(f.cancelled());
}

// CPython: BaseTaskTests.test_cancel_current_task
#[test]
fn l29_l30_test_cancel_current_task() {
    // The task cancels itself and then sleeps 100 s: the sleep must end it at once.
    let clock = asyncio::ManualClock::new();
    let lp = EventLoop::with_clock(clock).unwrap();
    let slot: Rc<RefCell<Option<Rc<asyncio::Task<u32>>>>> = Rc::default();
    let s = slot.clone();
    let reached = Rc::new(Cell::new(false));
    let r = reached.clone();
    let t = Rc::new(
        lp.spawn(async move {
            let me = s.borrow().clone().unwrap();
            assert!(me.cancel());
            asyncio::sleep(Duration::from_secs(100)).await;
            r.set(true);
            12
        })
        .unwrap(),
    );
    *slot.borrow_mut() = Some(t.clone());
    assert!(!t.is_cancelled());
    turn_until(&lp, 5, || t.is_done());
    slot.borrow_mut().take();
    assert!(
        t.is_done(),
        "the sleep after the self-cancel was not cut short"
    );
    assert!(t.is_cancelled());
    assert!(!reached.get());
    assert!(!t.cancel());
}

// CPython: BaseTaskTests.test_cancel_at_end
#[test]
fn l30_test_cancel_at_end() {
    // The task cancels itself and returns without suspending: it still ends cancelled.
    let lp = EventLoop::new().unwrap();
    let slot: Rc<RefCell<Option<Rc<asyncio::Task<u32>>>>> = Rc::default();
    let s = slot.clone();
    let t = Rc::new(
        lp.spawn(async move {
            let me = s.borrow().clone().unwrap();
            assert!(me.cancel());
            12
        })
        .unwrap(),
    );
    *slot.borrow_mut() = Some(t.clone());
    assert!(!t.is_cancelled());
    turn_until(&lp, 5, || t.is_done());
    slot.borrow_mut().take();
    assert!(t.is_done());
    assert!(t.is_cancelled(), "the returned value is discarded");
    assert!(!t.cancel());
}

// CPython: BaseTaskTests.test_stop_while_run_in_complete
#[test]
fn l14_test_stop_while_run_in_complete() {
    let lp = EventLoop::new().unwrap();
    let x = Rc::new(Cell::new(0));
    let (xx, h) = (x.clone(), lp.handle());
    let t = lp
        .spawn(async move {
            while xx.get() < 10 {
                asyncio::sleep(Duration::from_millis(1)).await;
                xx.set(xx.get() + 1);
                if xx.get() == 2 {
                    h.stop();
                }
            }
        })
        .unwrap();
    let probe = t.task_ref();
    let t = Rc::new(RefCell::new(Some(t)));
    let t2 = t.clone();
    let e = lp
        .run_until_complete(std::future::poll_fn(move |cx| {
            let mut slot = t2.borrow_mut();
            std::future::Future::poll(std::pin::Pin::new(slot.as_mut().unwrap()), cx)
        }))
        .unwrap_err();
    assert_eq!(e.to_string(), "Event loop stopped before Future completed.");
    assert!(!probe.is_done());
    assert_eq!(x.get(), 2);
    let t = t.borrow_mut().take().unwrap();
    assert!(t.cancel());
    assert_eq!(lp.run_until_complete(t).unwrap(), Err(Cancelled));
    assert_eq!(x.get(), 2);
}

// CPython: BaseTaskTests.test_task_cancel_sleeping_task
#[test]
fn l27_l32_test_task_cancel_sleeping_task() {
    let lp = EventLoop::new().unwrap();
    let t0 = lp.time();
    let h = lp.handle();
    let out = lp
        .run_until_complete(async move {
            let sleeper = asyncio::spawn(asyncio::sleep(Duration::from_secs(5000)));
            let s = sleeper.task_ref();
            h.call_later(Duration::from_millis(1), move || {
                s.cancel();
            })
            .unwrap();
            match sleeper.await {
                Err(Cancelled) => "cancelled",
                Ok(()) => "slept in",
            }
        })
        .unwrap();
    assert_eq!(out, "cancelled");
    assert!(lp.time() - t0 < Duration::from_secs(5000));
}

// CPython: BaseTaskTests.test_task_cancel_waiter_future
#[test]
fn l28_test_task_cancel_waiter_future() {
    // CPython also cancels the awaited future itself; here a `LoopFuture` handle dropped by a
    // cancelled task only withdraws its wait (the future's docs), so the future stays pending.
    let lp = EventLoop::new().unwrap();
    let fut = lp.create_future::<u32>();
    let f2 = fut.clone();
    let task = lp.spawn(f2).unwrap();
    run_briefly(&lp);
    assert!(!task.is_done());
    assert!(task.cancel());
    run_briefly(&lp);
    assert!(task.is_done() && task.is_cancelled());
    assert!(matches!(
        lp.run_until_complete(task).unwrap(),
        Err(Cancelled)
    ));
    assert!(!fut.done());
    assert!(fut.set_result(1).is_ok(), "nobody waits on it any more");
}

// CPython: BaseTaskTests.test_step_result_future
#[test]
fn l25_test_step_result_future() {
    let lp = EventLoop::new().unwrap();
    let fut = lp.create_future::<u32>();
    let result = Rc::new(Cell::new(None));
    let (f2, r) = (fut.clone(), result.clone());
    let t = lp
        .spawn(async move { r.set(Some(f2.await.unwrap())) })
        .unwrap();
    run_briefly(&lp);
    assert_eq!(result.get(), None);
    fut.set_result(7).unwrap();
    run_briefly(&lp);
    assert_eq!(result.get(), Some(7));
    assert!(t.is_done());
    assert_eq!(lp.run_until_complete(t).unwrap(), Ok(()));
}

/// L25: a task woken on the loop's own thread between two runs (an `Event` set between two
/// `run_until_complete` calls) is queued as CPython's `call_soon(__wakeup)` queues it: its
/// step runs before a callback queued after the wake-up. CPython 3.11 prints
/// `['task', 'cb']` for the same program. The wake-up went through the thread-safe queue,
/// which the next iteration reads after the ready callbacks: `cb` ran first.
#[test]
fn l25_a_task_woken_while_its_loop_is_not_running_runs_in_call_soon_order() {
    let lp = EventLoop::new().unwrap();
    let ev = Rc::new(asyncio::Event::new());
    let order = Rc::new(RefCell::new(Vec::new()));
    let (e, o) = (ev.clone(), order.clone());
    let task = lp
        .spawn(async move {
            e.wait().await;
            o.borrow_mut().push("task");
        })
        .unwrap();
    lp.run_until_complete(asyncio::yield_now()).unwrap();
    assert!(order.borrow().is_empty(), "the task waits");
    ev.set(); // the loop is not running
    let o = order.clone();
    lp.call_soon(move || o.borrow_mut().push("cb")).unwrap();
    lp.run_until_complete(task).unwrap().unwrap();
    assert_eq!(*order.borrow(), ["task", "cb"], "CPython's order");
}
