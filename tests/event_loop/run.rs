//! asyncio::run (L41): leftover tasks cancelled, the default executor shut down, failures
//! during the shutdown reported.

use super::*;

// CPython: RunTests.test_asyncio_run_cancels_hanging_tasks
#[test]
fn l41_run_cancels_leftover_tasks_and_refuses_nesting() {
    let dropped = Rc::new(Cell::new(false));
    struct OnDrop(Rc<Cell<bool>>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let d = OnDrop(dropped.clone());
    let out = asyncio::run(async move {
        asyncio::spawn(async move {
            let _d = d;
            asyncio::sleep(Duration::from_secs(3600)).await;
        })
        .detach();
        assert!(
            asyncio::run(async {}).is_err(),
            "L41: no asyncio::run inside a running loop"
        );
        1
    });
    assert_eq!(out.unwrap(), 1);
    assert!(
        dropped.get(),
        "L41: hanging tasks are cancelled at shutdown"
    );
}

// CPython: RunTests.test_asyncio_run_return
#[test]
fn l41_test_asyncio_run_return() {
    let out = asyncio::run(async {
        asyncio::yield_now().await;
        42
    });
    assert_eq!(out.unwrap(), 42);
}

// CPython: RunTests.test_asyncio_run_raises
#[test]
fn l41_test_asyncio_run_raises() {
    // Python's raised exception is the main future's `Err` here: run hands it back as is.
    let out = asyncio::run(async {
        asyncio::yield_now().await;
        Err::<(), _>(std::io::Error::other("spam"))
    });
    assert_eq!(out.unwrap().unwrap_err().to_string(), "spam");
}

// CPython: RunTests.test_asyncio_run_debug
#[test]
fn l23_l41_test_asyncio_run_debug() {
    // Without the environment-variable cases: the default, then each explicit setting.
    async fn main(expected: bool) {
        let lp = asyncio::get_running_loop().unwrap();
        assert_eq!(lp.get_debug(), expected);
    }
    asyncio::run(main(false)).unwrap();
    asyncio::Runner::new()
        .debug(false)
        .run(main(false))
        .unwrap();
    asyncio::Runner::new().debug(true).run(main(true)).unwrap();
}

// CPython: RunTests.test_asyncio_run_from_running_loop
#[test]
fn l41_test_asyncio_run_from_running_loop() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let inner = asyncio::run(async move { asyncio::run(async move { r.set(true) }).unwrap_err() });
    let e = inner.unwrap();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert!(
        e.to_string().contains("cannot be called from a running"),
        "{e}"
    );
    assert!(!ran.get(), "the refused future never ran");
}

/// Spawns a detached task that holds `guard` and waits forever: what `asyncio::run` finds
/// left when its main future ends, so its shutdown cancels it and drops `guard` (L41).
fn leave_a_task_holding<G: 'static>(guard: G) {
    asyncio::spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await;
    })
    .detach();
}

#[test]
fn l41_a_panicking_main_still_drains_the_tasks_in_the_running_loop_and_closes_it() {
    // CPython's asyncio.run shuts down in a `finally`: also when main raised, the tasks left
    // are cancelled and run to their end in the loop, then the loop is closed. Here the panic
    // unwinds through `run`, and the runner's drop does that shutdown on the way.
    struct SeesTheLoop(Rc<Cell<Option<bool>>>);
    impl Drop for SeesTheLoop {
        fn drop(&mut self) {
            self.0.set(Some(asyncio::get_running_loop().is_ok()));
        }
    }
    let ended_in_loop = Rc::new(Cell::new(None));
    let guard = SeesTheLoop(ended_in_loop.clone());
    let lp_seen = Rc::new(RefCell::new(None));
    let lp_slot = lp_seen.clone();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        asyncio::run(async move {
            *lp_slot.borrow_mut() = Some(asyncio::get_running_loop().unwrap());
            leave_a_task_holding(guard);
            asyncio::yield_now().await;
            panic!("main fails");
        })
    }));
    assert!(panicked.is_err(), "the panic reaches run's caller");
    assert_eq!(
        ended_in_loop.get(),
        Some(true),
        "L41: the leftover task was cancelled and ended inside the running loop"
    );
    let lp = lp_seen.borrow_mut().take().unwrap();
    assert!(
        lp.is_closed(),
        "L41: the loop is closed after a failed main too"
    );
}

#[test]
fn l41_callbacks_queued_by_a_cancelled_tasks_cleanup_run_before_the_loop_closes() {
    // CPython's asyncio.run turns the loop on after the cancelled tasks end (gather's
    // callbacks, then the async-generator and executor shutdowns), so what a task's `finally`
    // queued with call_soon runs before loop.close(), and so does what that queued in turn.
    // Here a cleanup queues one callback that queues another; no executor job keeps the loop
    // turning.
    struct QueuesOnDrop(Rc<Cell<u32>>);
    impl Drop for QueuesOnDrop {
        fn drop(&mut self) {
            let (first, lp) = (self.0.clone(), asyncio::get_running_loop().unwrap());
            let again = lp.clone();
            lp.call_soon(move || {
                first.set(first.get() + 1);
                let second = first.clone();
                again
                    .call_soon(move || second.set(second.get() + 1))
                    .unwrap();
            })
            .unwrap();
        }
    }
    let ran = Rc::new(Cell::new(0));
    let guard = QueuesOnDrop(ran.clone());
    asyncio::run(async move {
        leave_a_task_holding(guard);
        asyncio::yield_now().await;
    })
    .unwrap();
    assert_eq!(
        ran.get(),
        2,
        "L41: the cleanup's callbacks were dropped unrun by the close"
    );
}

#[test]
fn l41_run_waits_for_the_executor_jobs_its_loop_started() {
    // asyncio.run ends with shutdown_default_executor: it runs the loop until every job given
    // to the default executor has finished, so an abandoned run_in_executor still ends
    // before run returns. Here the job is released only by a callback that a task cancelled
    // at shutdown queues: it runs only if the loop still turns after its tasks are gone (a
    // run that closed at once dropped it, and the job ended without finishing its work).
    struct ReleaseOnDrop(Option<std::sync::mpsc::Sender<()>>);
    impl Drop for ReleaseOnDrop {
        fn drop(&mut self) {
            let release = self.0.take();
            let lp = asyncio::get_running_loop().unwrap();
            lp.call_soon(move || {
                if let Some(tx) = release {
                    let _ = tx.send(());
                }
            })
            .unwrap();
        }
    }
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    asyncio::run(async move {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        drop(asyncio::run_in_executor(move || {
            if gate.recv().is_ok() {
                f.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let guard = ReleaseOnDrop(Some(release));
        leave_a_task_holding(guard);
        asyncio::yield_now().await;
    })
    .unwrap();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "asyncio::run returned before the executor job its loop started had finished"
    );
}

#[test]
fn l41_shutdown_default_executor_waits_for_the_jobs_then_refuses_new_ones() {
    // Python's loop.shutdown_default_executor(): once it runs, run_in_executor raises
    // 'Executor shutdown has been called' (so does getaddrinfo, which runs there); the call
    // returns once the jobs already given to the executor have ended.
    asyncio::run(async {
        let lp = asyncio::get_running_loop().unwrap();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let job = asyncio::run_in_executor(move || gate.recv().map(|()| 7));
        let shutdown = asyncio::spawn(lp.shutdown_default_executor(None));
        for _ in 0..3 {
            asyncio::yield_now().await;
        }
        assert!(
            !shutdown.is_done(),
            "the shutdown ended while a job still ran"
        );
        match asyncio::run_in_executor(|| 1).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Executor shutdown has been called"),
            other => panic!("a job was accepted after the shutdown: {other:?}"),
        }
        match asyncio::open_connection("localhost", 9).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Executor shutdown has been called"),
            other => panic!("a name lookup was started after the shutdown: {other:?}"),
        }
        release.send(()).unwrap();
        // Bounded: a lost wake-up fails here instead of hanging the test.
        asyncio::timeout(Duration::from_secs(30), shutdown)
            .await
            .expect("the last job's end woke the shutdown")
            .unwrap();
        assert_eq!(job.await.unwrap(), Ok(7));
    })
    .unwrap();
}

#[test]
fn l41_shutdown_default_executor_refuses_jobs_from_its_first_poll_not_its_call() {
    // CPython's shutdown_default_executor is a coroutine: calling it runs nothing, and
    // _executor_shutdown_called is set only when it is first stepped. A job given to the
    // executor between the call and the first await is accepted, runs, and is waited for.
    asyncio::run(async {
        let lp = asyncio::get_running_loop().unwrap();
        let shutdown = lp.shutdown_default_executor(None);
        let job = asyncio::run_in_executor(|| 7);
        // Bounded: a lost wake-up fails here instead of hanging the test.
        asyncio::timeout(Duration::from_secs(30), shutdown)
            .await
            .expect("the shutdown saw the job end");
        match job.await {
            Ok(v) => assert_eq!(v, 7),
            Err(e) => panic!("a job submitted before the shutdown's first poll failed: {e:?}"),
        }
        match asyncio::run_in_executor(|| 1).await {
            Err(Error::InvalidState(m)) => assert_eq!(m, "Executor shutdown has been called"),
            other => panic!("a job was accepted after the shutdown ran: {other:?}"),
        }
    })
    .unwrap();
}

#[test]
fn l41_shutdown_default_executor_gives_up_after_its_timeout() {
    // Python 3.12's timeout: past it the call warns and returns; the job runs on.
    let finished = Arc::new(AtomicUsize::new(0));
    let (f, seen) = (finished.clone(), finished.clone());
    let (release, gate) = std::sync::mpsc::channel::<()>();
    asyncio::run(async move {
        let lp = asyncio::get_running_loop().unwrap();
        drop(asyncio::run_in_executor(move || {
            if gate.recv().is_ok() {
                f.fetch_add(1, Ordering::SeqCst);
            }
        }));
        // Bounded: the job waits for `release`, so a shutdown that ignored its timeout
        // fails here instead of hanging the test.
        asyncio::timeout(
            Duration::from_secs(30),
            lp.shutdown_default_executor(Some(Duration::ZERO)),
        )
        .await
        .expect("the shutdown gave up at its own timeout");
        assert_eq!(
            seen.load(Ordering::SeqCst),
            0,
            "the job was not still running"
        );
        // Released only now, so asyncio::run's own wait (300 s at most) ends at once.
        release.send(()).unwrap();
    })
    .unwrap();
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[test]
fn l41_a_task_failing_as_run_cancels_it_is_reported_as_a_shutdown_failure() {
    // CPython's asyncio.run cancels the tasks left and reports each that ends with an
    // exception as 'unhandled exception during asyncio.run() shutdown' (_cancel_all_tasks),
    // not as an exception never retrieved.
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("cleanup fails");
        }
    }
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    asyncio::run(async move {
        let lp = asyncio::get_running_loop().unwrap();
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.to_string());
            },
        ));
        leave_a_task_holding(PanicsOnDrop);
        asyncio::yield_now().await;
    })
    .unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("unhandled exception during asyncio.run() shutdown"),
        "{seen:?}"
    );
    assert!(seen[0].contains("cleanup fails"), "{seen:?}");
}

/// The shutdown mark ("a failure reported now is a shutdown failure", L41) does not outlive a
/// shutdown that a panic cut short. Here the panic is one no catch can contain: a task's
/// cleanup panics with a payload whose own drop panics, as the loop reports it. The panic
/// leaves `Runner::close` with the runner still open; a task failing in the runner's next run
/// is then an ordinary never-retrieved failure (L35), not an `asyncio.run() shutdown` one.
// Checklist: L35, L41.
#[test]
fn l35_l41_a_shutdown_cut_short_by_a_panic_leaves_no_shutdown_mark() {
    struct PanicsAgain;
    impl Drop for PanicsAgain {
        fn drop(&mut self) {
            panic!("the payload's drop fails too");
        }
    }
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            std::panic::panic_any(PanicsAgain);
        }
    }
    let runner = asyncio::Runner::new();
    runner
        .run(async {
            leave_a_task_holding(PanicsOnDrop);
            asyncio::yield_now().await;
        })
        .unwrap();
    let closing = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.close()));
    if closing.is_ok() {
        return; // the shutdown contained it: no mark can be left
    }
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    runner
        .run(async move {
            let lp = asyncio::get_running_loop().unwrap();
            lp.set_exception_handler(Some(
                move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                    s.borrow_mut().push(ctx.to_string());
                },
            ));
            asyncio::spawn(async { Err::<(), String>("fails".into()) }).detach();
            asyncio::yield_now().await;
            asyncio::yield_now().await;
        })
        .unwrap();
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("Task exception was never retrieved"),
        "{seen:?}"
    );
}
