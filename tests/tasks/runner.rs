//! `asyncio::Runner` (L42): test_runners.py's RunnerTests.

use super::*;

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
