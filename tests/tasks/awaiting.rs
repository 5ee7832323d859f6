//! Awaiting: `LoopFuture` done-callbacks (L26), the order awaiters resume in (L25),
//! `timeout` around a task (L36, L37), awaiting a task (L43), a handle that outlives its loop
//! (L35).

use super::*;

#[test]
fn l35_a_task_handle_that_outlives_its_loops_close_awaits_cancelled() {
    // It panicked with "Task polled after it returned its outcome" (found by helper-45).
    let lp = EventLoop::new().unwrap();
    let pending = lp.spawn(std::future::pending::<u8>()).unwrap();
    let seen = Rc::new(Cell::new(0));
    let count = seen.clone();
    lp.set_exception_handler(Some(move |_: &LoopHandle, _: &ExceptionContext| {
        count.set(count.get() + 1)
    }));
    lp.close().unwrap();
    assert_eq!(seen.get(), 1, "Task was destroyed but it is pending!");
    assert!(pending.is_done() && pending.is_cancelled());
    let other = EventLoop::new().unwrap();
    assert_eq!(other.run_until_complete(pending).unwrap(), Err(Cancelled));
    assert_eq!(seen.get(), 1, "nothing more reported");
}

#[test]
fn a_loop_future_clones_a_new_waker_outside_its_borrow() {
    // A waker's clone is its executor's code, and may look at the future it waits on. Cloned
    // while the future held its state's borrow, it panicked with "already borrowed".
    use std::future::Future;
    use std::task::{Context, RawWaker, RawWakerVTable, Waker};

    thread_local! {
        static WATCHED: RefCell<Option<asyncio::LoopFuture<u8>>> = const { RefCell::new(None) };
    }
    fn clone(data: *const ()) -> RawWaker {
        WATCHED.with(|w| {
            if let Some(fut) = &*w.borrow() {
                assert!(!fut.done());
            }
        });
        RawWaker::new(data, &VTABLE)
    }
    fn noop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);

    let lp = EventLoop::new().unwrap();
    let fut = lp.create_future::<u8>();
    WATCHED.with(|w| *w.borrow_mut() = Some(fut.clone()));
    let mut waiting = Box::pin(fut.clone());
    // SAFETY: the vtable's functions ignore the data pointer, so any pointer is valid.
    #[allow(unsafe_code)]
    let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
    assert!(waiting
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    fut.set_result(7).unwrap();
    assert!(matches!(
        waiting.as_mut().poll(&mut Context::from_waker(&waker)),
        std::task::Poll::Ready(Ok(7))
    ));
    WATCHED.with(|w| w.borrow_mut().take());
}

/// What a done-callback saw: the result, the exception's message, or `cancelled`.
fn outcome_of(f: &asyncio::LoopFuture<u8>) -> String {
    match f.result() {
        Ok(v) => v.to_string(),
        Err(Error::Cancelled) => "cancelled".into(),
        Err(Error::InvalidArgument(m)) => m.to_string(),
        Err(e) => format!("unexpected {e}"),
    }
}

#[test]
fn l26_every_completion_schedules_the_callbacks_behind_what_was_queued() {
    // test_futures.py's test_callbacks_invoked_on_set_result and
    // test_callbacks_invoked_on_set_exception, and the same for cancel(): completion calls
    // nothing in place; it appends the done-callbacks to the ready queue with call_soon, in
    // the order they were added, after a callback queued before it. A second completion is
    // refused (InvalidStateError).
    let lp = EventLoop::new().unwrap();
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    for how in ["result", "exception", "cancel"] {
        log.borrow_mut().clear();
        let fut = lp.create_future::<u8>();
        for name in ["first", "second", "third"] {
            let log = log.clone();
            fut.add_done_callback(move |f| {
                log.borrow_mut().push(format!("{name} {}", outcome_of(f)))
            })
            .unwrap();
        }
        let l = log.clone();
        lp.call_soon(move || l.borrow_mut().push("queued before".into()))
            .unwrap();
        match how {
            "result" => fut.set_result(7).unwrap(),
            "exception" => fut
                .set_exception(Error::InvalidArgument("bad".into()))
                .unwrap(),
            _ => assert!(fut.cancel()),
        }
        assert!(log.borrow().is_empty(), "{how}: a callback ran in place");
        assert!(
            matches!(fut.set_result(1), Err(Error::InvalidState(_))),
            "{how}"
        );
        assert!(
            matches!(
                fut.set_exception(Error::Timeout),
                Err(Error::InvalidState(_))
            ),
            "{how}"
        );
        assert!(!fut.cancel(), "{how}: cancel of a done future");
        lp.run_once(Some(Duration::ZERO)).unwrap();
        let seen = match how {
            "result" => "7",
            "exception" => "bad",
            _ => "cancelled",
        };
        assert_eq!(
            *log.borrow(),
            [
                "queued before".to_string(),
                format!("first {seen}"),
                format!("second {seen}"),
                format!("third {seen}"),
            ],
            "{how}"
        );
    }
}

#[test]
fn l25_l26_awaiting_tasks_and_done_callbacks_resume_in_the_order_they_were_added() {
    // CPython: a task awaiting a future is one of that future's done-callbacks (its
    // `Task.__wakeup`, added as it begins to wait), so completion schedules the callbacks and
    // the waiting tasks together, in the order they were added: here cb1, task1, cb2, task2,
    // cb3 (what CPython 3.11 prints for the same program), whether the result is set from
    // outside the loop or from a callback it runs.
    for from_callback in [false, true] {
        let lp = EventLoop::new().unwrap();
        let log = Rc::new(RefCell::new(Vec::<&str>::new()));
        let fut = lp.create_future::<u8>();
        let callback = |name: &'static str| {
            let log = log.clone();
            fut.add_done_callback(move |_| log.borrow_mut().push(name))
                .unwrap();
        };
        let waiter = |name: &'static str| {
            let (f, log) = (fut.clone(), log.clone());
            let task = lp
                .spawn(async move {
                    f.await.unwrap();
                    log.borrow_mut().push(name);
                })
                .unwrap();
            lp.run_once(Some(Duration::ZERO)).unwrap(); // it begins to wait
            task
        };
        callback("cb1");
        let t1 = waiter("task1");
        callback("cb2");
        let t2 = waiter("task2");
        callback("cb3");
        if from_callback {
            let f = fut.clone();
            lp.call_soon(move || f.set_result(1)).unwrap();
            lp.run_once(Some(Duration::ZERO)).unwrap();
        } else {
            fut.set_result(1).unwrap();
        }
        assert!(log.borrow().is_empty(), "nothing runs in set_result (L4)");
        lp.run_once(Some(Duration::ZERO)).unwrap();
        assert_eq!(
            *log.borrow(),
            ["cb1", "task1", "cb2", "task2", "cb3"],
            "set from a callback: {from_callback}"
        );
        assert!(t1.is_done() && t2.is_done());
    }
}

#[test]
fn l37_test_cancel_wait_for_cancels_the_awaited_task() {
    // test_waitfor.py's test_cancel_wait_for (timeout 60 s) and test_cancel_blocking_wait_for
    // (no timeout: a plain await of the task): cancelling the waiter with call_soon ends it
    // cancelled and cancels the task it waited for (Python issue #23219).
    let lp = EventLoop::new().unwrap();
    for with_timeout in [true, false] {
        let blocked = lp.create_future::<()>();
        let task = lp.spawn(blocked).unwrap();
        let probe = task.task_ref();
        let wait = lp
            .spawn(async move {
                if with_timeout {
                    asyncio::timeout(Duration::from_secs(60), task)
                        .await
                        .is_ok()
                } else {
                    task.await.is_ok()
                }
            })
            .unwrap();
        let canceller = wait.task_ref();
        lp.call_soon(move || {
            canceller.cancel();
        })
        .unwrap();
        assert_eq!(lp.run_until_complete(wait).unwrap(), Err(Cancelled));
        assert!(
            probe.is_done() && probe.is_cancelled(),
            "timeout {with_timeout}"
        );
    }
}

#[test]
fn l36_a_task_awaited_through_mut_under_an_expired_timeout_is_cancelled_when_its_handle_drops() {
    // test_waitfor.py's test_wait_for: an expired wait_for(task, t) cancels the task. A
    // borrowed handle cannot be cancelled at expiry (dropping a `&mut` runs nothing): the task
    // runs on, the handle can still be awaited, and dropping it cancels the task then, as an
    // abandoned wait_for would have; `detach()` lets it run (as `shield` would have).
    let lp = EventLoop::new().unwrap();
    for then in ["await", "drop", "detach"] {
        let dropped = Rc::new(Cell::new(0));
        let d = DropFlag(dropped.clone());
        let gate = lp.create_future::<u8>();
        let g = gate.clone();
        let mut task = lp
            .spawn(async move {
                let _cleanup = d;
                g.await
            })
            .unwrap();
        let probe = task.task_ref();
        let waited = lp
            .run_until_complete(async { asyncio::timeout(Duration::ZERO, &mut task).await })
            .unwrap();
        assert!(matches!(waited, Err(Error::Timeout)), "{then}: {waited:?}");
        assert!(
            !probe.is_done(),
            "{then}: the task runs on after the expiry"
        );
        match then {
            "await" => {
                gate.set_result(5).unwrap();
                let out = lp.run_until_complete(task).unwrap();
                assert!(matches!(out, Ok(Ok(5))), "{then}: {out:?}");
                assert!(!probe.is_cancelled());
            }
            "drop" => {
                drop(task);
                assert!(probe.is_done() && probe.is_cancelled(), "{then}");
            }
            _ => {
                task.detach();
                lp.run_until_complete(asyncio::yield_now()).unwrap();
                assert!(!probe.is_done(), "{then}: detached, it runs on");
                gate.set_result(5).unwrap();
                turn_until(&lp, 3, || probe.is_done());
                assert!(probe.is_done() && !probe.is_cancelled(), "{then}");
            }
        }
        assert_eq!(dropped.get(), 1, "{then}: the cleanup ran once");
    }
}

#[test]
fn l33_l35_a_task_whose_awaiter_lets_go_during_its_own_poll_still_reports_its_panic() {
    // B waits on A's handle through a zero timeout, then drops that handle: A is cancelled at
    // once (L33), and A's future, dropped, drops B's handle, which A was awaiting. B is the
    // task being polled, so it is cancelled at the end of its poll; nobody holds its handle
    // any more, so a panic that ends that poll must be reported (L35), as for any task whose
    // handle was dropped.
    let (lp, seen) = recording_loop();
    let b_handle: Rc<RefCell<Option<asyncio::Task<()>>>> = Rc::default();
    let a_handle: Rc<RefCell<Option<asyncio::Task<()>>>> = Rc::default();
    let slot = b_handle.clone();
    let a = lp
        .spawn(async move {
            let b = slot.borrow_mut().take().unwrap();
            let _ = b.await;
        })
        .unwrap();
    let slot = a_handle.clone();
    let b = lp
        .spawn(async move {
            asyncio::yield_now().await; // A begins to await this task
            let mut a = slot.borrow_mut().take().unwrap();
            let waited = asyncio::timeout(Duration::ZERO, &mut a).await;
            assert!(matches!(waited, Err(Error::Timeout)));
            drop(a); // awaited: cancels A at once, and A drops this task's handle
            panic!("B failed after its awaiter let go");
        })
        .unwrap();
    let b_ref = b.task_ref();
    *b_handle.borrow_mut() = Some(b);
    *a_handle.borrow_mut() = Some(a);
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(b_ref.is_done());
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("Task exception was never retrieved")
            && seen[0].contains("B failed after its awaiter let go"),
        "{seen:?}"
    );
}

#[test]
fn l33_a_cleanup_that_closes_the_loop_as_its_awaited_handle_drops_ends_the_task_once() {
    // A handle awaited through `&mut` and dropped outside the run cancels its task there and
    // then, its cleanup running with the task still in the loop's slab (so that it sees
    // itself). A cleanup that closes the (idle) loop abandons that very task, which ends it
    // as cancelled; the drop must not end it a second time.
    struct CloseLoop(LoopHandle);
    impl Drop for CloseLoop {
        fn drop(&mut self) {
            self.0.close().unwrap();
        }
    }
    let lp = EventLoop::new().unwrap();
    let cleanup = CloseLoop(lp.handle());
    let mut task = lp
        .spawn(async move {
            let _cleanup = cleanup;
            std::future::pending::<()>().await;
        })
        .unwrap();
    let probe = task.task_ref();
    let waited = lp
        .run_until_complete(async { asyncio::timeout(Duration::ZERO, &mut task).await })
        .unwrap();
    assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
    drop(task); // awaited: the drop cancels it, and its cleanup closes the loop
    assert!(lp.is_closed());
    assert!(probe.is_done() && probe.is_cancelled());
}

#[test]
fn l37_a_cancelled_waiter_ends_cancelled_though_the_inner_task_finished_first() {
    // gh-86296 (3.11's wait_for returned the inner result and swallowed the caller's
    // cancellation when the inner task finished first): the inner task cancels its waiter
    // and then finishes, so the waiter is both woken by the inner result and asked to cancel
    // before it runs again. The port promises the 3.12 outcome: the waiter ends cancelled.
    // Both orders: the cancel before the inner result, and (through call_soon, queued ahead of
    // the waiter's wake-up) the inner result before the cancel.
    let lp = EventLoop::new().unwrap();
    for (with_timeout, result_first) in [(true, false), (false, false), (true, true), (false, true)]
    {
        let slot: Rc<RefCell<Option<asyncio::TaskRef>>> = Rc::default();
        let waiter_of_inner = slot.clone();
        let inner = lp
            .spawn(async move {
                asyncio::yield_now().await; // the waiter awaits us by now
                let waiter = waiter_of_inner.borrow_mut().take().unwrap();
                if result_first {
                    let lp = asyncio::get_running_loop().unwrap();
                    lp.call_soon(move || assert!(waiter.cancel())).unwrap();
                } else {
                    assert!(waiter.cancel());
                }
                1
            })
            .unwrap();
        let probe = inner.task_ref();
        let waiter = lp
            .spawn(async move {
                if with_timeout {
                    asyncio::timeout(Duration::from_secs(60), inner)
                        .await
                        .is_ok()
                } else {
                    inner.await.is_ok()
                }
            })
            .unwrap();
        *slot.borrow_mut() = Some(waiter.task_ref());
        let case = format!("timeout {with_timeout}, result first {result_first}");
        turn_until(&lp, 5, || waiter.is_done());
        assert!(waiter.is_done(), "{case}: the waiter is still waiting");
        assert_eq!(
            lp.run_until_complete(waiter).unwrap(),
            Err(Cancelled),
            "{case}"
        );
        assert!(probe.is_done() && !probe.is_cancelled(), "{case}");
    }
}

#[test]
fn l43_test_task_class_awaiting_a_task_gives_its_outcome() {
    // test_task_class: run to completion, the task is done and gives its result. Then the
    // other two outcomes of awaiting a task: an error it returned, and `Cancelled`. (Of the
    // two RuntimeError cases, test_task_awaits_on_itself is a panic of the task, below;
    // test_other_loop_future is not ported: the port has no error to give there.)
    let lp = EventLoop::new().unwrap();
    let ok = lp.spawn(async { "ok" }).unwrap();
    let probe = ok.task_ref();
    assert_eq!(lp.run_until_complete(ok).unwrap(), Ok("ok"));
    assert!(probe.is_done() && !probe.is_cancelled());

    let failing = lp
        .spawn(async { Err::<(), Error>(Error::Timeout) })
        .unwrap();
    let stuck = lp.spawn(std::future::pending::<u8>()).unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    assert!(stuck.cancel());
    turn_until(&lp, 3, || stuck.is_done());
    assert!(failing.is_done() && stuck.is_done());
    let out = lp
        .run_until_complete(async move { (failing.await, stuck.await) })
        .unwrap();
    assert!(
        matches!(out, (Ok(Err(Error::Timeout)), Err(Cancelled))),
        "{out:?}"
    );
}

/// CPython's test_task_awaits_on_itself: a task awaiting its own handle fails with "Task
/// cannot await on itself" (a RuntimeError there, a panic of the task here) instead of
/// waiting forever; nobody retrieves it, so the loop reports it.
#[test]
fn l43_test_task_awaits_on_itself_fails_the_task() {
    let (lp, log) = recording_loop();
    let slot: Rc<RefCell<Option<asyncio::Task<()>>>> = Rc::default();
    let s = slot.clone();
    let task = lp
        .spawn(async move {
            let me = s.borrow_mut().take().expect("the handle was put here");
            let _ = me.await;
        })
        .unwrap();
    let probe = task.task_ref();
    *slot.borrow_mut() = Some(task);
    turn_until(&lp, 3, || probe.is_done());
    assert!(!probe.is_cancelled());
    let log = log.borrow();
    assert!(
        log.iter()
            .any(|m| m.contains("Task cannot await on itself")),
        "{log:?}"
    );
}

#[test]
fn l35_a_loop_future_exception_nobody_retrieved_is_reported_once_when_it_goes() {
    // CPython 3.11 (probe): a future whose exception nobody looked at logs "Future exception
    // was never retrieved" when collected; exception(), result(), an await or cancel() count
    // as looking; a done-callback that does not look does not. Nothing was reported here.
    let (lp, seen) = recording_loop();
    let failed = |what: &str| {
        let f = lp.create_future::<u8>();
        f.set_exception(Error::InvalidArgument(what.into()))
            .unwrap();
        f
    };
    drop(failed("dropped unseen"));
    drop(failed("seen by exception()").exception());
    drop(failed("seen by result()").result());
    let cancelled = failed("cancel() on it");
    assert!(!cancelled.cancel());
    drop(cancelled);
    let awaited = failed("awaited");
    assert!(lp.run_until_complete(awaited).unwrap().is_err());
    let with_callback = failed("a callback that does not look");
    with_callback.add_done_callback(|_| {}).unwrap();
    let looked = failed("a callback that looks");
    looked.add_done_callback(|f| drop(f.exception())).unwrap();
    drop((with_callback, looked));
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the callbacks run and drop their handles
    let fine = lp.create_future::<u8>();
    fine.set_result(1).unwrap();
    drop(fine);
    // A clone keeps it alive: reported once, when the last handle goes.
    let kept = failed("two handles");
    let clone = kept.clone();
    drop(kept);
    assert_eq!(seen.borrow().len(), 2, "{:?}", seen.borrow());
    drop(clone);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.starts_with("Future exception was never retrieved")),
        "{seen:?}"
    );
    for (report, what) in seen.iter().zip([
        "dropped unseen",
        "a callback that does not look",
        "two handles",
    ]) {
        assert!(report.contains(what), "{report}");
    }
}
