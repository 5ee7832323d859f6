//! Task introspection: `current_task`, `all_tasks`, task names, and the main future as a task.
//! Ports of CPython test_tasks.py's BaseTaskTests.test_current_task,
//! test_current_task_with_interleaving_tasks, test_bare_create_named_task,
//! test_task_repr_name_not_str and BaseCurrentLoopTests (L15, L24). Then `asyncio::Runner`,
//! the loop that runs main futures one after the other: test_runners.py's RunnerTests (L42).
//! Last, what awaiting and cancelling promise: `LoopFuture` done-callbacks (L26), cancellation
//! as a drop (L31, L34), `timeout` around a task (L37) and awaiting a task (L43).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Cancelled, Error, EventLoop, ExceptionContext, LoopHandle};

/// A loop whose exception handler records each report, as the default handler formats it.
fn recording_loop() -> (EventLoop, Rc<RefCell<Vec<String>>>) {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
        log.borrow_mut().push(ctx.to_string())
    }));
    (lp, seen)
}

// CPython: BaseCurrentLoopTests.test_current_task_no_running_loop_implicit
#[test]
fn l15_current_task_outside_a_running_loop() {
    // BaseCurrentLoopTests.test_current_task_no_running_loop(_implicit).
    let err = asyncio::current_task().unwrap_err();
    assert!(matches!(&err, Error::InvalidState(m) if m == "no running event loop"));
    assert!(asyncio::all_tasks().is_err());
    let lp = EventLoop::new().unwrap();
    assert!(lp.current_task().is_none());
    assert!(lp.all_tasks().is_empty());
}

#[test]
fn l24_current_task_is_the_task_being_polled() {
    // test_current_task: inside, the task itself; outside, none.
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    let task = lp
        .spawn(async move {
            log.borrow_mut().push(asyncio::current_task().unwrap());
        })
        .unwrap();
    let me = task.task_ref();
    lp.run_until_complete(task).unwrap().unwrap();
    assert_eq!(seen.borrow().as_slice(), [Some(me)]);
    assert!(lp.current_task().is_none());
}

#[test]
fn l24_interleaving_tasks_each_see_themselves_across_awaits() {
    // test_current_task_with_interleaving_tasks.
    let lp = EventLoop::new().unwrap();
    let fut1 = lp.create_future::<bool>();
    let fut2 = lp.create_future::<bool>();
    let refs: Rc<RefCell<Vec<(&str, asyncio::TaskRef)>>> = Rc::default();
    let (f1, f2, log) = (fut1.clone(), fut2.clone(), refs.clone());
    let t1 = lp
        .spawn(async move {
            log.borrow_mut()
                .push(("1 before", asyncio::current_task().unwrap().unwrap()));
            f1.clone().await.unwrap();
            log.borrow_mut()
                .push(("1 after", asyncio::current_task().unwrap().unwrap()));
            f2.set_result(true).unwrap();
        })
        .unwrap();
    let (f1, f2, log) = (fut1, fut2, refs.clone());
    let t2 = lp
        .spawn(async move {
            log.borrow_mut()
                .push(("2 before", asyncio::current_task().unwrap().unwrap()));
            f1.set_result(true).unwrap();
            f2.clone().await.unwrap();
            log.borrow_mut()
                .push(("2 after", asyncio::current_task().unwrap().unwrap()));
        })
        .unwrap();
    let (r1, r2) = (t1.task_ref(), t2.task_ref());
    lp.run_until_complete(async move {
        t1.await.unwrap();
        t2.await.unwrap();
    })
    .unwrap();
    let refs = refs.borrow();
    let order: Vec<&str> = refs.iter().map(|(at, _)| *at).collect();
    assert_eq!(order, ["1 before", "2 before", "1 after", "2 after"]);
    for (at, r) in refs.iter() {
        let expected = if at.starts_with('1') { &r1 } else { &r2 };
        assert_eq!(r, expected, "{at}");
        assert_ne!(r, if at.starts_with('1') { &r2 } else { &r1 });
    }
    assert!(lp.current_task().is_none());
}

#[test]
fn l24_the_main_future_is_a_task_and_callbacks_run_outside_any_task() {
    let lp = EventLoop::new().unwrap();
    let in_callback = Rc::new(Cell::new(None));
    let seen = in_callback.clone();
    let handle = lp.handle();
    lp.run_until_complete(async move {
        let main = asyncio::current_task().unwrap().unwrap();
        assert!(main.name().starts_with("Task-"), "{}", main.name());
        assert!(!main.is_done());
        assert_eq!(asyncio::all_tasks().unwrap(), std::slice::from_ref(&main));
        let h = handle.clone();
        handle
            .call_soon(move || seen.set(Some(h.current_task().is_none())))
            .unwrap();
        asyncio::yield_now().await;
        assert_eq!(asyncio::current_task().unwrap(), Some(main));
    })
    .unwrap();
    assert_eq!(
        in_callback.get(),
        Some(true),
        "a plain callback runs in no task"
    );
}

#[test]
fn l24_default_names_count_up_and_set_name_renames() {
    // test_bare_create_named_task, test_task_repr_name_not_str, and the `Task-<n>` names of
    // test_task_repr (other tests of this binary spawn in parallel: later, not next).
    asyncio::run(async {
        let number = |name: String| name["Task-".len()..].parse::<u64>().unwrap();
        let a = asyncio::spawn(async {});
        let b = asyncio::spawn(async {});
        let main = asyncio::current_task().unwrap().unwrap();
        assert!(number(main.name()) < number(a.name()));
        assert!(number(a.name()) < number(b.name()));
        a.set_name("No-op");
        assert_eq!(a.name(), "No-op");
        assert_eq!(a.task_ref().name(), "No-op");
        b.task_ref().set_name(6.to_string());
        assert_eq!(b.name(), "6");
        main.set_name("main");
        assert_eq!(asyncio::current_task().unwrap().unwrap().name(), "main");
        let debug = format!("{a:?}");
        assert!(
            debug.starts_with("<Task pending name='No-op' future="),
            "{debug}"
        );
        a.await.unwrap();
        b.await.unwrap();
    })
    .unwrap();
}

#[test]
fn l24_all_tasks_lists_the_live_tasks_once_each() {
    asyncio::run(async {
        let done = asyncio::spawn(async {});
        let sleeper = asyncio::spawn(std::future::pending::<()>());
        let other = asyncio::spawn(std::future::pending::<()>());
        asyncio::yield_now().await; // `done` runs and ends
        assert!(done.is_done());
        let all = asyncio::all_tasks().unwrap();
        let me = asyncio::current_task().unwrap().unwrap();
        assert_eq!(all[0], me, "the main future first");
        let set: HashSet<_> = all.iter().cloned().collect();
        let expected: HashSet<_> = [me.clone(), sleeper.task_ref(), other.task_ref()].into();
        assert_eq!(set, expected);
        assert_eq!(all.len(), 3);
        // Python's shutdown idiom: cancel every task but this one.
        for task in all.iter().filter(|t| **t != me) {
            assert!(task.cancel());
        }
        assert_eq!(sleeper.await, Err(Cancelled));
        assert_eq!(other.await, Err(Cancelled));
        assert!(all[1].is_done() && all[1].is_cancelled() && all[2].is_cancelled());
        assert!(!all[1].cancel(), "already ended");
        assert_eq!(asyncio::all_tasks().unwrap(), [me]);
        drop(done);
    })
    .unwrap();
}

#[test]
fn l28_cancelling_the_main_future_ends_the_run_cancelled() {
    let lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let flag = Flag(dropped.clone());
    let after = Rc::new(Cell::new(false));
    let reached = after.clone();
    let main_ref = Rc::new(RefCell::new(None));
    let slot = main_ref.clone();
    let out = lp.run_until_complete(async move {
        let _flag = flag;
        let me = asyncio::current_task().unwrap().unwrap();
        *slot.borrow_mut() = Some(me.clone());
        let killer = asyncio::spawn(async move { me.cancel() });
        std::future::pending::<()>().await;
        drop(killer);
        reached.set(true);
    });
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
    assert!(dropped.get() && !after.get());
    let main = main_ref.borrow_mut().take().unwrap();
    assert!(main.is_done() && main.is_cancelled());
    assert!(!main.cancel(), "already ended");
    // The loop runs the next future as usual.
    assert_eq!(lp.run_until_complete(async { 7 }).unwrap(), 7);
}

#[test]
fn l30_a_main_future_that_cancels_itself_ends_at_its_suspension() {
    let lp = EventLoop::new().unwrap();
    let reached = Rc::new(Cell::new(false));
    let after = reached.clone();
    let out = lp.run_until_complete(async move {
        assert!(asyncio::current_task().unwrap().unwrap().cancel());
        asyncio::yield_now().await;
        after.set(true);
    });
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
    assert!(!reached.get());
}

#[test]
fn l35_reports_name_the_task() {
    let (lp, seen) = recording_loop();
    lp.run_until_complete(async {
        let failing = asyncio::spawn(async { Err::<(), Error>(Error::Timeout) });
        failing.set_name("worker");
        failing.detach();
        let pending = asyncio::spawn(std::future::pending::<()>());
        pending.set_name("stuck");
        pending.detach();
        asyncio::yield_now().await;
    })
    .unwrap();
    lp.close().unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].starts_with("Task exception was never retrieved"));
    assert!(
        seen[0].contains("task: <Task finished name='worker' future="),
        "{}",
        seen[0]
    );
    assert!(seen[1].starts_with("Task was destroyed but it is pending!"));
    // Described as it was when destroyed, as Python's `<Task pending name='stuck' coro=…>`
    // (before: `<Task cancelled …`, what dropping it then made of it).
    assert!(
        seen[1].contains("task: <Task pending name='stuck' future="),
        "{}",
        seen[1]
    );
}

#[test]
fn l28_test_tb_logger_not_called_after_cancel() {
    // BaseTaskTests.test_tb_logger_not_called_after_cancel: cancel() on a task that has
    // already failed returns false and marks its exception retrieved, so dropping the handle
    // reports nothing (L35). Through the handle and through a `TaskRef`.
    let (lp, seen) = recording_loop();
    lp.run_until_complete(async {
        let by_handle = asyncio::spawn(async { Err::<(), Error>(Error::Timeout) });
        let by_ref = asyncio::spawn(async { Err::<(), Error>(Error::Timeout) });
        for _ in 0..100 {
            if by_handle.is_done() && by_ref.is_done() {
                break;
            }
            asyncio::yield_now().await;
        }
        assert!(by_handle.is_done() && by_ref.is_done(), "both have failed");
        assert!(!by_handle.cancel());
        assert!(!by_ref.task_ref().cancel());
        drop(by_handle);
        drop(by_ref);
    })
    .unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

// asyncio.Runner: ports of test_runners.py's RunnerTests (L42).

#[test]
fn l42_runner_runs_several_futures_on_one_loop_then_closes_it() {
    // RunnerTests.test_run, plus what a second run may rely on.
    let runner = asyncio::Runner::new();
    let lp = runner.get_loop().unwrap();
    let out = runner.run(async {
        asyncio::yield_now().await;
        "done"
    });
    assert_eq!(out.unwrap(), "done");
    // A task left running by the first run is still there for the second.
    let left = runner
        .run(async { asyncio::spawn(std::future::pending::<()>()).task_ref() })
        .unwrap();
    assert!(!left.is_done());
    let same = runner
        .run(async { asyncio::all_tasks().unwrap().contains(&left) })
        .unwrap();
    assert!(same, "the second run sees the first run's task");
    runner.close().unwrap();
    assert!(
        left.is_done() && left.is_cancelled(),
        "close cancels what was left"
    );
    assert!(lp.is_closed());
    let err = runner.get_loop().unwrap_err();
    assert!(matches!(&err, Error::InvalidState(m) if m == "Runner is closed"));
}

#[test]
fn l42_close_is_idempotent_and_a_closed_runner_refuses_to_run() {
    // RunnerTests.test_explicit_close, test_double_close, test_second_with_block_raises.
    let ran = Rc::new(Cell::new(0));
    let runner = asyncio::Runner::new();
    let r = ran.clone();
    runner.run(async move { r.set(r.get() + 1) }).unwrap();
    let lp = runner.get_loop().unwrap();
    runner.close().unwrap();
    assert!(lp.is_closed());
    runner.close().unwrap();
    let r = ran.clone();
    let err = runner.run(async move { r.set(r.get() + 1) }).unwrap_err();
    assert!(matches!(&err, Error::InvalidState(m) if m == "Runner is closed"));
    assert_eq!(ran.get(), 1);
    // A runner closed before it made its loop stays usable, as in CPython.
    let fresh = asyncio::Runner::new();
    fresh.close().unwrap();
    assert_eq!(fresh.run(async { 5 }).unwrap(), 5);
}

#[test]
fn l42_a_run_inside_a_running_loop_is_refused() {
    // RunnerTests.test_recursive_run.
    let runner = Rc::new(asyncio::Runner::new());
    let inner = runner.clone();
    let out = runner
        .run(async move {
            let err = inner.run(async {}).unwrap_err();
            assert!(inner.close().is_err(), "its loop is running");
            err
        })
        .unwrap();
    assert!(matches!(&out,
        Error::InvalidState(m) if m == "Runner.run() cannot be called from a running event loop"));
    assert!(asyncio::run(async { asyncio::Runner::new().run(async {}).is_err() }).unwrap());
}

#[test]
fn l42_runner_debug_sets_the_loops_debug_mode() {
    // RunnerTests.test_debug, test_non_debug.
    let on = asyncio::Runner::new().debug(true);
    assert!(on.get_loop().unwrap().get_debug());
    let off = asyncio::Runner::new().debug(false);
    assert!(!off.get_loop().unwrap().get_debug());
}

#[test]
fn l42_dropping_a_runner_closes_its_loop_and_cancels_its_tasks() {
    let (lp, left) = {
        let runner = asyncio::Runner::new();
        let left = runner
            .run(async { asyncio::spawn(std::future::pending::<()>()).task_ref() })
            .unwrap();
        (runner.get_loop().unwrap(), left)
    };
    assert!(lp.is_closed());
    assert!(left.is_cancelled());
}

// L32: a cancellation passed on with `?` (a task awaiting a cancelled task) ends that task as
// cancelled in Python: no failure report, no FIRST_EXCEPTION, no TaskGroup abort.

/// A task that awaits `victim` and passes its cancellation on with `?`.
async fn passes_on(victim: asyncio::Task<()>) -> Result<(), Error> {
    victim.await?;
    Ok(())
}

#[test]
fn l32_a_passed_on_cancellation_is_not_reported_as_a_failure() {
    let (lp, seen) = recording_loop();
    lp.run_until_complete(async {
        let victim = asyncio::spawn(std::future::pending::<()>());
        victim.cancel();
        let waiter = asyncio::spawn(passes_on(victim));
        while !waiter.is_done() {
            asyncio::yield_now().await;
        }
        waiter.detach(); // ended with Err(Cancelled), nobody looks: nothing to report
    })
    .unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

#[test]
fn l32_first_exception_does_not_count_a_passed_on_cancellation() {
    asyncio::run(async {
        let victim = asyncio::spawn(std::future::pending::<()>());
        victim.cancel();
        let waiter = asyncio::spawn(passes_on(victim));
        // `slow` ends a few iterations after `waiter`: by then a FIRST_EXCEPTION wait that
        // took the cancellation for an exception has returned.
        let gate = asyncio::get_running_loop().unwrap().create_future::<()>();
        let (open, ended) = (gate.clone(), waiter.task_ref());
        asyncio::spawn(async move {
            while !ended.is_done() {
                asyncio::yield_now().await;
            }
            for _ in 0..3 {
                asyncio::yield_now().await;
            }
            open.set_result(()).unwrap();
        })
        .detach();
        let slow = asyncio::spawn(gate);
        let (done, pending) = asyncio::wait([waiter, slow], asyncio::ReturnWhen::FirstException)
            .await
            .unwrap();
        // Python: FIRST_EXCEPTION waits for all when no task raised (a cancelled one did not).
        assert_eq!((done.len(), pending.len()), (2, 0));
    })
    .unwrap();
}

#[test]
fn l32_a_task_group_child_passing_on_a_cancellation_does_not_abort_the_group() {
    group_survives_a_child_that(passes_on);
}

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
fn l24_a_panicking_main_future_leaves_no_current_task_and_ends() {
    // The panic propagates out of run_until_complete (as a BaseException out of Python's
    // run_until_complete): the main future is no longer polled, so it is neither the current
    // task of later callbacks nor listed among the live tasks, and its refs say it ended.
    let lp = EventLoop::new().unwrap();
    let main_ref = Rc::new(RefCell::new(None));
    let slot = main_ref.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.run_until_complete(async move {
            *slot.borrow_mut() = asyncio::current_task().unwrap();
            panic!("main fails");
        })
    }));
    assert!(panicked.is_err());
    let main = main_ref.borrow_mut().take().unwrap();
    assert!(main.is_done(), "{main:?}");
    assert!(!main.cancel(), "a task that ended cannot be cancelled");
    let seen = Rc::new(RefCell::new(None));
    let (out, handle) = (seen.clone(), lp.handle());
    lp.call_soon(move || {
        *out.borrow_mut() = Some((handle.current_task(), handle.all_tasks()));
        handle.stop();
    })
    .unwrap();
    lp.run_forever().unwrap();
    let (current, all) = seen.borrow_mut().take().unwrap();
    assert_eq!(current, None, "a plain callback runs in no task");
    assert!(all.is_empty(), "{all:?}");
}

#[test]
fn l24_a_refused_nested_run_leaves_the_running_main_future_alone() {
    // Python's run_until_complete checks the loop is not running before it makes a task of
    // its argument: the refused call must not replace the running main future's record.
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    lp.run_until_complete(async move {
        let me = asyncio::current_task().unwrap().unwrap();
        me.set_name("main");
        let refused = handle.run_until_complete(async {});
        assert!(
            matches!(&refused, Err(Error::InvalidState(m)) if m == "This event loop is already running"),
            "{refused:?}"
        );
        assert!(!me.is_done(), "{me:?}");
        assert_eq!(me.name(), "main");
        assert_eq!(asyncio::all_tasks().unwrap(), std::slice::from_ref(&me));
        assert_eq!(asyncio::current_task().unwrap().unwrap().name(), "main");
    })
    .unwrap();
}

/// What each [`Cleanup`] saw as it was dropped: the current task's name, and whether
/// all_tasks() listed it.
type Seen = Rc<RefCell<Vec<(Option<String>, bool)>>>;

/// A task future's cleanup (Python's `finally`): records what it sees when dropped.
struct Cleanup(Seen);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let me = asyncio::current_task().unwrap();
        let listed = me
            .as_ref()
            .is_some_and(|me| asyncio::all_tasks().unwrap().contains(me));
        self.0.borrow_mut().push((me.map(|t| t.name()), listed));
    }
}

#[test]
fn l24_a_cancelled_task_is_current_while_its_future_is_dropped() {
    // Python's cancelled task runs its cleanup (`finally`) as itself: current_task() is the
    // task, and all_tasks() still has it. Here the cleanup is the future's Drop, whether the
    // cancel came while the task waited (its future dropped unpolled) or during its poll.
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    asyncio::run(async move {
        let cleanup = Cleanup(log.clone());
        let waiting = asyncio::spawn(async move {
            let _cleanup = cleanup;
            std::future::pending::<()>().await;
        });
        waiting.set_name("waiting");
        let cleanup = Cleanup(log);
        let itself = asyncio::spawn(async move {
            let _cleanup = cleanup;
            asyncio::current_task().unwrap().unwrap().cancel();
            std::future::pending::<()>().await;
        });
        itself.set_name("itself");
        asyncio::yield_now().await; // both start; `itself` ends in its poll
        assert!(waiting.cancel());
        assert_eq!(waiting.await, Err(Cancelled));
        assert_eq!(itself.await, Err(Cancelled));
    })
    .unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            (Some("itself".to_string()), true),
            (Some("waiting".to_string()), true)
        ]
    );
}

#[test]
fn l33_a_task_cancelled_at_once_is_current_while_its_future_is_dropped() {
    // As above, for the cancellations that drop a task's future at once, outside a run of its
    // own: the drop of a handle being awaited (its awaiting task cancelled, a timeout around
    // it expired: test_cancel_awaited_task, test_wait_for_timeout), and a dropped TaskGroup's
    // tasks. CPython runs each child's `finally` inside the child.
    async fn stuck(cleanup: Cleanup) -> Result<(), Error> {
        let _cleanup = cleanup;
        std::future::pending::<()>().await;
        Ok(())
    }
    let seen: Seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    asyncio::run(async move {
        // A timeout expires around an awaited task.
        let child = asyncio::spawn(stuck(Cleanup(log.clone())));
        child.set_name("timed out");
        let waited = asyncio::timeout(Duration::ZERO, child).await;
        assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
        // The task awaiting a task is cancelled.
        let child = asyncio::spawn(stuck(Cleanup(log.clone())));
        child.set_name("awaited");
        let parent = asyncio::spawn(child); // a task whose future awaits the handle
        parent.set_name("parent");
        asyncio::yield_now().await; // the parent awaits the child
        assert!(parent.cancel());
        assert!(matches!(parent.await, Err(Cancelled)));
        // A TaskGroup's run is dropped with its task running.
        let member = Rc::new(RefCell::new(None));
        let named = member.clone();
        let log = log.clone();
        let group = asyncio::TaskGroup::run(move |tg| async move {
            let t = tg.create_task(stuck(Cleanup(log)))?;
            t.set_name("member");
            *named.borrow_mut() = Some(t);
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        });
        let waited = asyncio::timeout(Duration::ZERO, group).await;
        assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
        let member = member.borrow_mut().take().unwrap();
        assert!(matches!(member.await, Err(Cancelled)));
    })
    .unwrap();
    let names = ["timed out", "awaited", "member"];
    let expected: Vec<_> = names.map(|n| (Some(n.to_string()), true)).into();
    assert_eq!(*seen.borrow(), expected);
}

/// As `passes_on`, with the error type of many applications: `?` boxes the cancellation.
async fn passes_on_boxed(victim: asyncio::Task<()>) -> Result<(), Box<dyn std::error::Error>> {
    victim.await?;
    Ok(())
}

#[test]
fn l32_a_boxed_passed_on_cancellation_is_not_a_failure_either() {
    let (lp, seen) = recording_loop();
    lp.run_until_complete(async {
        let victim = asyncio::spawn(std::future::pending::<()>());
        victim.cancel();
        let reported = asyncio::spawn(passes_on_boxed(victim));
        while !reported.is_done() {
            asyncio::yield_now().await;
        }
        reported.detach(); // ended with Err(Box(Cancelled)), nobody looks: nothing to report

        let victim = asyncio::spawn(std::future::pending::<()>());
        victim.cancel();
        let waiter = asyncio::spawn(passes_on_boxed(victim));
        let slow = asyncio::spawn(async {
            for _ in 0..5 {
                asyncio::yield_now().await;
            }
            Ok(())
        });
        let (done, pending) = asyncio::wait([waiter, slow], asyncio::ReturnWhen::FirstException)
            .await
            .unwrap();
        assert_eq!((done.len(), pending.len()), (2, 0), "no task raised");
    })
    .unwrap();
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

#[test]
fn l32_a_task_group_child_passing_on_a_cancellation_as_io_error_does_not_abort_the_group() {
    // `?` in a function returning io::Result turns Error::Cancelled into an io::Error.
    async fn passes_on_io(victim: asyncio::Task<()>) -> std::io::Result<()> {
        victim.await.map_err(Error::from)?;
        Ok(())
    }
    group_survives_a_child_that(passes_on_io);
}

#[test]
fn l42_close_drains_leftover_tasks_in_the_running_loop_before_closing_it() {
    // Python's Runner.close runs _cancel_all_tasks on the loop, then closes it: a task left
    // over ends by cancellation, its cleanup running inside the loop, with no "Task was
    // destroyed but it is pending!" report (which loop.close alone would give).
    struct Cleanup(Rc<Cell<Option<bool>>>);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            self.0.set(Some(asyncio::get_running_loop().is_ok()));
        }
    }
    let in_loop = Rc::new(Cell::new(None));
    let reports = Rc::new(RefCell::new(Vec::new()));
    let runner = asyncio::Runner::new();
    let log = reports.clone();
    runner.get_loop().unwrap().set_exception_handler(Some(
        move |_: &LoopHandle, ctx: &ExceptionContext| log.borrow_mut().push(ctx.to_string()),
    ));
    let cleanup = Cleanup(in_loop.clone());
    let left = runner
        .run(async move {
            let task = asyncio::spawn(async move {
                let _cleanup = cleanup;
                std::future::pending::<()>().await;
            });
            let left = task.task_ref();
            task.detach();
            left
        })
        .unwrap();
    assert_eq!(in_loop.get(), None, "still pending between runs");
    runner.close().unwrap();
    assert_eq!(
        in_loop.get(),
        Some(true),
        "cancelled inside the running loop"
    );
    assert!(left.is_cancelled());
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn l28_a_cancelled_main_future_is_dropped_in_the_loop_as_the_current_task() {
    // Python's cancelled main task runs its cleanup (`finally`) in the running loop, as the
    // current task; here the cleanup is the future's Drop, which may need the loop (spawn a
    // goodbye, close a transport) and should see itself as current, as spawned tasks do.
    /// Whether a loop was running, and the current task's name, when the future dropped.
    type Seen = Rc<RefCell<Option<(bool, Option<String>)>>>;
    struct Cleanup(Seen);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let running = asyncio::get_running_loop().is_ok();
            let me = asyncio::current_task().ok().flatten().map(|t| t.name());
            *self.0.borrow_mut() = Some((running, me));
        }
    }
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(None));
    let cleanup = Cleanup(seen.clone());
    let out = lp.run_until_complete(async move {
        let _cleanup = cleanup;
        let me = asyncio::current_task().unwrap().unwrap();
        me.set_name("main");
        asyncio::spawn(async move { me.cancel() }).detach();
        std::future::pending::<()>().await;
    });
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
    assert_eq!(*seen.borrow(), Some((true, Some("main".to_string()))));
}

/// Panics when dropped: a task's cleanup (Python's `finally`) that raises.
struct PanicsOnDrop;
impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("cleanup failed");
    }
}

#[test]
fn l35_a_panic_in_a_task_cleanup_is_its_outcome_and_the_loop_goes_on() {
    // It unwound out of the loop's run, the task half ended: still current, its awaiter never
    // woken (found by helper-46). Python: the exception a `finally` raises is the task's.
    let (lp, seen) = recording_loop();
    let out = lp.run_until_complete(async {
        // Cancelled while it waits: its cleanup panics as its future is dropped.
        let waiting = asyncio::spawn(async {
            let _guard = PanicsOnDrop;
            std::future::pending::<()>().await;
        });
        // Returns, then its cleanup panics.
        let returning = asyncio::spawn(async {
            let _guard = PanicsOnDrop;
            7
        });
        asyncio::yield_now().await;
        assert!(waiting.cancel());
        asyncio::yield_now().await;
        assert!(
            waiting.is_done() && !waiting.is_cancelled(),
            "ended by its panic"
        );
        assert!(returning.is_done());
        waiting.detach();
        returning.detach();
        // A cancelled awaited handle, dropped: its cleanup's panic is reported, not raised here.
        let awaited = asyncio::spawn(async {
            let _guard = PanicsOnDrop;
            std::future::pending::<()>().await;
        });
        asyncio::yield_now().await; // it starts, and holds its guard
        let _ = asyncio::timeout(std::time::Duration::ZERO, awaited).await;
        assert!(asyncio::current_task().unwrap().is_some());
        "the loop went on"
    });
    assert_eq!(out.unwrap(), "the loop went on");
    assert!(lp.current_task().is_none());
    let seen = seen.borrow();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.starts_with("Task exception was never retrieved")
                && s.contains("cleanup failed")),
        "{seen:?}"
    );
}

#[test]
fn l42_closing_a_runner_inside_another_loops_run_is_refused_and_closes_nothing() {
    // It reported its tasks as destroyed, closed its loop and returned Ok (found by
    // helper-46); CPython's close raises from its run_until_complete.
    let runner = asyncio::Runner::new();
    let left = runner
        .run(async { asyncio::spawn(std::future::pending::<()>()).task_ref() })
        .unwrap();
    let err = asyncio::run(async { runner.close() }).unwrap().unwrap_err();
    assert!(matches!(&err, Error::InvalidState(m) if m.contains("another loop is running")));
    assert!(!left.is_done() && !runner.get_loop().unwrap().is_closed());
    runner.close().unwrap();
    assert!(left.is_cancelled());
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

/// Runs at most `turns` zero-timeout iterations, stopping once `done()`: a bound on what a
/// broken cancellation would otherwise leave waiting for ever.
fn turn_until(lp: &EventLoop, turns: usize, done: impl Fn() -> bool) {
    for _ in 0..turns {
        if done() {
            return;
        }
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// Counts its drops: a task's cleanup.
struct DropFlag(Rc<Cell<u32>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn l31_a_cancellation_cannot_be_caught_cleanup_runs_in_drop() {
    // CPython's test_cancel_task_catching / test_cancel_task_ignoring (a body that catches
    // CancelledError and returns a value) have no port: cancelling drops the body, so nothing
    // after its suspension point runs, the task ends cancelled, and its cleanup is its `Drop`,
    // run once. The same for a `timeout` that expires around a body (wait_for's
    // test_wait_for_cancellation_race_condition): no value comes back, only `Err(Timeout)`.
    let lp = EventLoop::new().unwrap();
    let (dropped, went_on) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
    let (d, w) = (DropFlag(dropped.clone()), went_on.clone());
    let task = lp
        .spawn(async move {
            let _cleanup = d;
            std::future::pending::<()>().await;
            w.set(true);
            42
        })
        .unwrap();
    lp.run_once(Some(Duration::ZERO)).unwrap(); // the body suspends
    assert!(task.cancel());
    turn_until(&lp, 3, || task.is_done());
    assert!(task.is_done(), "the cancellation was not delivered");
    assert_eq!(lp.run_until_complete(task).unwrap(), Err(Cancelled));
    assert_eq!(dropped.get(), 1, "the cleanup ran once");
    assert!(!went_on.get(), "the body went on after its cancellation");

    let (dropped, went_on) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(false)));
    let (d, w, seen) = (DropFlag(dropped.clone()), went_on.clone(), dropped.clone());
    let out = lp
        .run_until_complete(async move {
            let body = async move {
                let _cleanup = d;
                asyncio::sleep(Duration::from_secs(3600)).await;
                w.set(true);
                42
            };
            let r = asyncio::timeout(Duration::ZERO, body).await;
            (r, seen.get()) // the body is gone by the time timeout returns
        })
        .unwrap();
    assert!(matches!(out, (Err(Error::Timeout), 1)), "{out:?}");
    assert!(!went_on.get());
}

#[test]
fn l34_an_outside_cancel_stays_effective_inside_timeouts() {
    // Python's timeout() tells its own cancellation from an outside one with cancelling() and
    // uncancel(); the port has neither, since its timeouts drop the inner future. What must
    // hold: a Task::cancel() from outside a task that is inside `timeout`, `timeout_scope` or
    // a nesting of both ends the task cancelled, not timed out and not still running;
    // repeated cancel() calls are one request.
    let lp = EventLoop::new().unwrap();
    let long = Duration::from_secs(3600);
    for shape in ["timeout", "timeout_scope", "nested"] {
        let dropped = Rc::new(Cell::new(0));
        let d = DropFlag(dropped.clone());
        let body = async move {
            let _cleanup = d;
            std::future::pending::<()>().await
        };
        let task = match shape {
            "timeout" => lp.spawn(async move { asyncio::timeout(long, body).await.is_ok() }),
            "timeout_scope" => {
                lp.spawn(async move { asyncio::timeout_scope(long, |_| body).await.is_ok() })
            }
            _ => lp.spawn(async move {
                let inner = asyncio::timeout_scope(long, |_| asyncio::timeout(long, body));
                asyncio::timeout(long, inner).await.is_ok()
            }),
        }
        .unwrap();
        lp.run_once(Some(Duration::ZERO)).unwrap(); // inside the timeout, suspended
        assert!(!task.is_done(), "{shape}");
        assert!(
            task.cancel() && task.cancel(),
            "{shape}: cancel() of a live task"
        );
        for _ in 0..3 {
            if task.is_done() {
                break;
            }
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert!(
            task.is_done() && task.is_cancelled(),
            "{shape}: not cancelled"
        );
        assert_eq!(dropped.get(), 1, "{shape}: the body was not dropped once");
        assert_eq!(
            lp.run_until_complete(task).unwrap(),
            Err(Cancelled),
            "{shape}"
        );
    }
    assert_eq!(lp.stats().timers, 0, "a timeout's timer outlived its task");
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

/// A TaskGroup with a child that passes on a cancellation (through `passes`) and a sibling
/// that finishes: the group is not aborted and the sibling ends normally (L32).
fn group_survives_a_child_that<Fut, E>(passes: fn(asyncio::Task<()>) -> Fut)
where
    Fut: std::future::Future<Output = Result<(), E>> + 'static,
    E: std::fmt::Debug + 'static,
    Error: From<E>,
{
    let out = asyncio::run(asyncio::TaskGroup::run(move |tg| async move {
        let victim = asyncio::spawn(std::future::pending::<()>());
        victim.cancel();
        tg.create_task(passes(victim))?.detach();
        let sibling = tg.create_task(async {
            asyncio::sleep(Duration::from_millis(5)).await;
            Ok::<_, Error>("finished")
        })?;
        Ok::<_, Error>(sibling)
    }))
    .unwrap();
    let sibling = out.expect("the group is not aborted");
    assert!(sibling.is_done() && !sibling.is_cancelled());
}

/// The text a panic carried, as `panic!` with a format or `expect` leaves it.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("")
}

/// L24: `spawn` and a polled `sleep` outside a running loop panic, as documented, with
/// Python's `no running event loop` and then where to call them instead (the commonest
/// first mistakes: spawning in `main` before `asyncio::run`, awaiting our sleep under another
/// runtime). Before, the texts stopped at Python's words.
#[test]
fn l24_spawn_and_sleep_outside_a_running_loop_say_where_to_call_them() {
    let spawned = std::panic::catch_unwind(|| drop(asyncio::spawn(async {}))).unwrap_err();
    assert_eq!(
        panic_text(&*spawned),
        "asyncio::spawn: no running event loop (spawn from code that asyncio::run runs, or \
         onto a loop that is not running with LoopHandle::spawn)"
    );
    let slept = std::panic::catch_unwind(|| {
        let mut sleep = std::pin::pin!(asyncio::sleep(Duration::from_secs(1)));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = std::future::Future::poll(sleep.as_mut(), &mut cx);
    })
    .unwrap_err();
    assert_eq!(
        panic_text(&*slept),
        "asyncio::sleep polled outside a running event loop (await it in code that \
         asyncio::run runs; another runtime's executor cannot drive it)"
    );
}

#[test]
fn l33_a_cleanup_run_at_once_as_its_task_may_spawn_cancel_or_panic() {
    // A handle dropped while awaited (the timeout around it expires) drops the task's future
    // at once, as that task, inside the awaiting task's poll. What the cleanup does lands as
    // in the task's own run: a task it spawns runs as itself later; cancelling itself changes
    // nothing more; cancelling the awaiting task ends that one at the end of its poll; a panic
    // is the task's outcome (reported, nobody awaits it). The awaiting task is current again
    // afterwards in each case.
    #[derive(Clone, Copy, Debug)]
    enum Does {
        Spawns,
        CancelsItself,
        CancelsTheWaiter,
        Panics,
    }
    type Log = Rc<RefCell<Vec<String>>>;
    struct Act(Does, Log, Rc<RefCell<Option<asyncio::TaskRef>>>);
    impl Drop for Act {
        fn drop(&mut self) {
            let me = asyncio::current_task().unwrap().unwrap();
            self.1
                .borrow_mut()
                .push(format!("cleanup as {}", me.name()));
            match self.0 {
                Does::Spawns => {
                    let log = self.1.clone();
                    let spawned = asyncio::spawn(async move {
                        let me = asyncio::current_task().unwrap().unwrap();
                        log.borrow_mut()
                            .push(format!("spawned runs as {}", me.name()));
                    });
                    spawned.set_name("spawned");
                    spawned.detach();
                }
                Does::CancelsItself => {
                    let cancelled = me.cancel();
                    self.1.borrow_mut().push(format!("self cancel {cancelled}"));
                }
                Does::CancelsTheWaiter => {
                    let waiter = self.2.borrow().clone().unwrap();
                    let cancelled = waiter.cancel();
                    self.1
                        .borrow_mut()
                        .push(format!("waiter cancel {cancelled}"));
                }
                Does::Panics => panic!("cleanup boom"),
            }
        }
    }
    let dos = [
        Does::Spawns,
        Does::CancelsItself,
        Does::CancelsTheWaiter,
        Does::Panics,
    ];
    for does in dos {
        let (lp, reports) = recording_loop();
        let log: Log = Rc::new(RefCell::new(Vec::new()));
        let waiter_ref = Rc::new(RefCell::new(None));
        let act = Act(does, log.clone(), waiter_ref.clone());
        let l2 = log.clone();
        let waited = lp
            .run_until_complete(async move {
                let child = asyncio::spawn(async move {
                    let _act = act;
                    std::future::pending::<()>().await;
                });
                child.set_name("child");
                let waiter = asyncio::spawn(async move {
                    *waiter_ref.borrow_mut() = asyncio::current_task().unwrap();
                    let r = asyncio::timeout(Duration::ZERO, child).await;
                    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
                    let me = asyncio::current_task().unwrap().unwrap();
                    l2.borrow_mut().push(format!("then {} runs on", me.name()));
                    asyncio::yield_now().await;
                    l2.borrow_mut().push("its next step".into());
                });
                waiter.set_name("waiter");
                let waited = waiter.await;
                for _ in 0..3 {
                    asyncio::yield_now().await;
                }
                assert_eq!(asyncio::all_tasks().unwrap().len(), 1, "{does:?}");
                waited
            })
            .unwrap();
        let (expected, ends): (&[&str], _) = match does {
            Does::Spawns => (
                &[
                    "cleanup as child",
                    "then waiter runs on",
                    "spawned runs as spawned",
                    "its next step",
                ],
                Ok(()),
            ),
            Does::CancelsItself => (
                &[
                    "cleanup as child",
                    "self cancel true",
                    "then waiter runs on",
                    "its next step",
                ],
                Ok(()),
            ),
            Does::CancelsTheWaiter => (
                &[
                    "cleanup as child",
                    "waiter cancel true",
                    "then waiter runs on",
                ],
                Err(Cancelled),
            ),
            Does::Panics => (
                &["cleanup as child", "then waiter runs on", "its next step"],
                Ok(()),
            ),
        };
        assert_eq!(*log.borrow(), expected, "{does:?}");
        assert_eq!(waited, ends, "{does:?}");
        let reports = reports.borrow();
        match does {
            Does::Panics => {
                assert_eq!(reports.len(), 1, "{reports:?}");
                assert!(reports[0].contains("cleanup boom"), "{reports:?}");
                assert!(reports[0].contains("name='child'"), "{reports:?}");
            }
            _ => assert!(reports.is_empty(), "{does:?}: {reports:?}"),
        }
    }
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
fn l35_a_group_dropped_as_its_loop_closes_reports_to_that_loops_handler() {
    // A task failed, then the run stopped before the group's `run` could return that failure:
    // `close()` drops `run` outside any run, and the failure goes to the group's loop's
    // handler, not to the default one (CPython's group keeps `_loop`).
    let (lp, seen) = recording_loop();
    let stopped = lp.run_until_complete(async {
        asyncio::spawn(asyncio::TaskGroup::run(|tg| async move {
            tg.create_task(async move {
                // This run ends with the turn in which the group's `run` is woken.
                asyncio::get_running_loop().unwrap().stop();
                Err::<(), _>(Error::InvalidArgument("bad".into()))
            })?
            .detach();
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        }))
        .detach();
        std::future::pending::<()>().await;
    });
    assert!(stopped.is_err(), "the run was stopped");
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    lp.close().unwrap();
    let seen = seen.borrow();
    assert!(
        seen.iter()
            .any(|r| r.starts_with("unhandled errors in a TaskGroup")),
        "{seen:?}"
    );
}

// Ports of test_tasks.py's BaseTaskTests on starting, stepping and cancelling (L24-L33). A
// Python future awaited by a task is a `LoopFuture` here; a task is a `Task` handle.

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
