//! Ports of test_waitfor.py's AsyncioWaitForTest (L33, L36, L37): `wait_for(aw, t)` is
//! `timeout(t, aw)`, and a Python task is a `Task` handle (awaiting it under a deadline
//! cancels it on expiry).

use super::*;

/// Sets its flag when dropped: the `finally` of a Python coroutine.
struct Finally(Rc<Cell<bool>>);

impl Drop for Finally {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

// CPython: AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0_future_done
#[test]
fn l36_test_wait_for_timeout_less_then_0_or_0_future_done() {
    run(async {
        let lp = get_running_loop().unwrap();
        let fut = lp.create_future::<&str>();
        fut.set_result("done").unwrap();
        let ret = asyncio::timeout(Duration::ZERO, fut.clone()).await;
        assert_eq!(ret.unwrap().unwrap(), "done");
        assert!(fut.done());
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_timeout_less_then_0_or_0
#[test]
fn l33_l36_test_wait_for_timeout_less_then_0_or_0() {
    run(async {
        let lp = get_running_loop().unwrap();
        for past in [Duration::ZERO, Duration::from_secs(1)] {
            let foo_running = Rc::new(Cell::new(None));
            let started = lp.create_future::<()>();
            let (running, s) = (foo_running.clone(), started.clone());
            let fut = spawn(async move {
                running.set(Some(true));
                s.set_result(()).unwrap();
                let _stop = StopOnDrop(running);
                sleep(Duration::from_secs(10)).await;
                "done"
            });
            let probe = fut.task_ref();
            started.await.unwrap();
            let deadline = lp.time().checked_sub(past).unwrap_or(lp.time());
            let r = asyncio::timeout_at(deadline, fut).await;
            assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
            assert!(probe.is_done());
            assert!(probe.is_cancelled(), "cancelled by the timeout");
            assert_eq!(foo_running.get(), Some(false));
        }
    });
}

/// Sets `Some(false)` when dropped: `foo_running = False` in a `finally`.
struct StopOnDrop(Rc<Cell<Option<bool>>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.set(Some(false));
    }
}

// CPython: AsyncioWaitForTest.test_wait_for_blocking
#[test]
fn l36_test_wait_for_blocking() {
    // Python's timeout=None: no deadline, which is `Duration::MAX` here.
    run(async {
        let res = asyncio::timeout(Duration::MAX, async { "done" }).await;
        assert_eq!(res.unwrap(), "done");
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation
#[test]
fn l33_l36_test_wait_for_waits_for_task_cancellation() {
    // The task's cleanup has run by the time the timeout returns. (Python chains the
    // CancelledError as the TimeoutError's context; `Error::Timeout` carries no cause.)
    run(async {
        let task_done = Rc::new(Cell::new(false));
        let d = Finally(task_done.clone());
        let inner_task = spawn(async move {
            let _finally = d;
            sleep(Duration::from_secs(10)).await;
        });
        let r = asyncio::timeout(Duration::from_millis(1), inner_task).await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert!(task_done.get());
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_waits_for_task_cancellation_w_timeout_0
#[test]
fn l33_l36_test_wait_for_waits_for_task_cancellation_w_timeout_0() {
    run(async {
        let task_done = Rc::new(Cell::new(false));
        let d = Finally(task_done.clone());
        let foo = async move {
            let inner_task = spawn(async move {
                let _finally = d;
                sleep(Duration::from_secs(10)).await;
            });
            sleep(Duration::from_millis(1)).await;
            asyncio::timeout(Duration::ZERO, inner_task).await
        };
        let r = foo.await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert!(task_done.get());
    });
}

// CPython: AsyncioWaitForTest.test_wait_for_issue86296
#[test]
fn l37_test_wait_for_issue86296() {
    // The inner task finishes in one turn, before the waiter is cancelled: the waiter still
    // ends cancelled and never reaches its end (3.12's behaviour; 3.11 swallowed the cancel).
    run(async {
        let inner_task = spawn(async { "done" });
        let inner = inner_task.task_ref();
        let reached_end = Rc::new(Cell::new(false));
        let r = reached_end.clone();
        let task = spawn(async move {
            let out = asyncio::timeout(Duration::from_secs(100), inner_task).await;
            assert_eq!(out.unwrap().unwrap(), "done");
            sleep(Duration::from_secs(1)).await;
            r.set(true);
        });
        assert!(!task.is_done());
        asyncio::yield_now().await; // run the task
        assert!(task.cancel());
        assert!(matches!(task.await, Err(asyncio::Cancelled)));
        assert!(inner.is_done() && !inner.is_cancelled());
        assert!(!reached_end.get());
    });
}
