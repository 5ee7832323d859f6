//! Cancellation as a drop (L28–L35): the main future cancelled, cancellations passed on
//! (L32), cleanups that run, panic or spawn as a task is cancelled.

use super::*;

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
