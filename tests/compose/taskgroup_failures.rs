//! `TaskGroup` failures: cleanups that panic while cancelled (08), nested groups (13, 14),
//! 07, 11, 24, 25, a group cancelled at shutdown, failures retrieved by the group.

use super::*;

/// Panics when dropped: a task whose cleanup (Python's `finally`) raises.
struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

/// A group task stuck until cancelled, whose cleanup panics with `what`.
async fn stuck_panicking_on_cancel(what: &'static str) -> Result<(), Error> {
    let _cleanup = PanicOnDrop(what);
    std::future::pending::<()>().await;
    Ok(())
}

#[test]
fn test_taskgroup_08_a_cleanup_that_panics_while_cancelled_is_a_failure() {
    // test_taskgroup_08: children whose `finally` raises while the group cancels them end
    // with that exception, and the group counts it. Here: a sibling's failure cancels them,
    // or one is cancelled through its own handle (CPython: a child cancelled by someone else
    // whose finally raises fails the group as any failing child does). The panic is the
    // task's outcome too, seen by the group: never reported as unobserved.
    run(async {
        let reports = record_reports();
        let got = TaskGroup::run(|g| async move {
            g.create_task(stuck_panicking_on_cancel("cleanup 1"))?
                .detach();
            g.create_task(stuck_panicking_on_cancel("cleanup 2"))?
                .detach();
            g.create_task(async {
                settle().await;
                Err::<(), _>(bad("first"))
            })?
            .detach();
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        })
        .await;
        let messages = group_messages(got);
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(messages[0], "first");
        assert!(
            messages[1..].iter().all(|m| m.contains("cleanup")),
            "{messages:?}"
        );

        let kept = Rc::new(Cell::new(None));
        let k = kept.clone();
        let got = TaskGroup::run(|g| async move {
            let victim = g.create_task(stuck_panicking_on_cancel("cleanup 3"))?;
            g.create_task(stuck_panicking_on_cancel("cleanup 4"))?
                .detach();
            settle().await;
            assert!(victim.cancel());
            k.set(Some(victim));
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        })
        .await;
        let messages = group_messages(got);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("cleanup 3"), "{messages:?}");
        assert!(messages[1].contains("cleanup 4"), "{messages:?}");
        let victim = kept.take().unwrap();
        assert!(
            victim.is_done() && !victim.is_cancelled(),
            "it ended with its panic"
        );
        drop(victim);
        settle().await;
        assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    });
}

#[test]
fn test_taskgroup_08_a_member_cancelled_at_once_whose_cleanup_panics_fails_the_group_once() {
    // The body awaits a member under a timeout; at expiry the awaited handle is dropped, which
    // drops the member's future at once (L33). Its cleanup panics: the group fails with that
    // panic, which it has seen, so it is not also reported as never retrieved. (The group
    // marks it seen through the task's entry in the loop, which the task keeps until its
    // cleanup has run.)
    run(async {
        let reports = record_reports();
        let got = TaskGroup::run(|g| async move {
            let member = g.create_task(stuck_panicking_on_cancel("cleanup 6"))?;
            settle().await;
            let waited = asyncio::timeout(Duration::ZERO, member).await;
            assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
            Ok::<_, Error>(())
        })
        .await;
        let messages = group_messages(got);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("cleanup 6"), "{messages:?}");
        settle().await;
        assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    });
}

#[test]
fn taskgroup_a_future_that_panics_as_it_drops_after_its_output_fails_the_group() {
    // A hand-written future may panic in its Drop after it returned its output (an async
    // block cannot: its locals drop before it returns). The task ends with that panic, and
    // it is the group's failure like a panic in its poll; seen by the group, it is not also
    // reported as never retrieved.
    struct DoneThenPanics {
        _cleanup: PanicOnDrop,
    }
    impl std::future::Future for DoneThenPanics {
        type Output = Result<u8, Error>;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            std::task::Poll::Ready(Ok(7))
        }
    }
    run(async {
        let reports = record_reports();
        let got = TaskGroup::run(|g| async move {
            g.create_task(DoneThenPanics {
                _cleanup: PanicOnDrop("dropped after its output"),
            })?
            .detach();
            Ok::<_, Error>(())
        })
        .await;
        let messages = group_messages(got);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].contains("dropped after its output"),
            "{messages:?}"
        );
        settle().await;
        assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    });
}

#[test]
fn test_taskgroup_08_a_dropped_group_leaves_a_cleanup_panic_to_its_task() {
    // The port's difference: a `run` that is dropped (its task cancelled, as in
    // test_taskgroup_08) returns nothing, so it cannot raise the group; a child whose cleanup
    // panics then ends with that panic as its own outcome, reported if nobody awaits it.
    run(async {
        let reports = record_reports();
        let runner = spawn(TaskGroup::run(|g| async move {
            g.create_task(stuck_panicking_on_cancel("cleanup 5"))?
                .detach();
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        }));
        settle().await;
        assert!(runner.cancel());
        assert!(matches!(runner.await, Err(asyncio::Cancelled)));
        let reports = reports.borrow();
        assert_eq!(reports.as_slice(), ["Task exception was never retrieved"]);
    });
}

/// Installs an exception handler on the running loop that records each report as
/// `message: exception`.
fn record_reports_with_exceptions() -> Rc<std::cell::RefCell<Vec<String>>> {
    let reports = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let r = reports.clone();
    asyncio::get_running_loop()
        .unwrap()
        .set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                let exception = ctx.exception.as_ref().map(|e| e.to_string());
                r.borrow_mut().push(format!(
                    "{}: {}",
                    ctx.message,
                    exception.unwrap_or_default()
                ));
            },
        ));
    reports
}

#[test]
fn test_taskgroup_13_14_nested_groups_failing_in_one_turn_lose_no_failure() {
    // Between test_taskgroup_13 and _14: a child of the outer group and a child of the inner
    // group (the outer body's) fail in the same turn. CPython's inner `__aexit__` raises its
    // group though the outer group cancelled it, and the outer group holds both failures. The
    // outer group drops its body here, the inner `run` with it, which can no longer return
    // what it collected: the inner failure is reported through the loop's exception handler
    // instead of vanishing (it was marked seen as the inner group took it, so nothing else
    // reports it).
    run(async {
        let reports = record_reports_with_exceptions();
        let failing = |what: &'static str| async move {
            settle().await;
            Err::<(), _>(bad(what))
        };
        let got = TaskGroup::run(|g1| async move {
            g1.create_task(failing("outer"))?.detach();
            TaskGroup::run(|g2| async move {
                g2.create_task(failing("inner"))?.detach();
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })
            .await
        })
        .await;
        assert_eq!(group_messages(got), ["outer"]);
        settle().await;
        assert_eq!(
            reports.borrow().as_slice(),
            ["unhandled errors in a TaskGroup: unhandled errors in a TaskGroup (1 sub-exception); inner"]
        );
    });
}

#[test]
fn l41_a_group_cancelled_at_shutdown_reports_what_it_collected_as_the_shutdown_does() {
    // A group whose body failed is still waiting for its cancelled task when `asyncio::run`
    // ends: the shutdown cancels the task around the group, whose `run` is dropped. CPython's
    // group raises its ExceptionGroup there, which the shutdown reports as 'unhandled
    // exception during asyncio.run() shutdown'; the dropped group reports the same.
    let reports = asyncio::run(async {
        let reports = record_reports_with_exceptions();
        spawn(TaskGroup::run(|g| async move {
            g.create_task(std::future::pending::<Result<(), Error>>())?
                .detach();
            Err::<(), _>(bad("body"))
        }))
        .detach();
        yield_now().await; // the body fails; its task's cancellation lands next turn
        reports
    })
    .unwrap();
    assert_eq!(
        reports.borrow().as_slice(),
        ["unhandled exception during asyncio.run() shutdown: unhandled errors in a TaskGroup (1 sub-exception); body"]
    );
}

/// Fails with `bad(what)` after `turns` loop turns (CPython's `crash_after(t)`).
async fn crash_after(turns: usize, what: &'static str) -> Result<(), Error> {
    for _ in 0..turns {
        yield_now().await;
    }
    Err(bad(what))
}

#[test]
fn test_taskgroup_13() {
    // The outer group's task fails while the inner group (its body) waits for a task of its
    // own: the inner group is cancelled with the body and only the outer failure is raised.
    run(async {
        let got = TaskGroup::run(|g1| async move {
            g1.create_task(crash_after(2, "outer"))?.detach();
            TaskGroup::run(|g2| async move {
                g2.create_task(crash_after(1000, "inner"))?.detach();
                Ok::<_, Error>(())
            })
            .await
        })
        .await;
        assert_eq!(group_messages(got), ["outer"]);
    });
}

#[test]
fn test_taskgroup_14() {
    // The inner group's task fails first: the inner group raises its group, which becomes
    // the outer body's failure; the outer task is cancelled.
    run(async {
        let got = TaskGroup::run(|g1| async move {
            g1.create_task(crash_after(1000, "outer"))?.detach();
            TaskGroup::run(|g2| async move {
                g2.create_task(crash_after(2, "inner"))?.detach();
                Ok::<_, Error>(())
            })
            .await
        })
        .await;
        match got {
            Err(Error::Group(errors)) => match &errors[..] {
                [Error::Group(inner)] => {
                    assert!(matches!(&inner[..], [Error::InvalidArgument(m)] if m == "inner"))
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn test_taskgroup_24() {
    // A task starts more tasks of its group after the body has ended: the group waits for
    // them too.
    run(async {
        let ended = Rc::new(Cell::new(0));
        let e = ended.clone();
        TaskGroup::run(|g| async move {
            let g2 = g.clone();
            g.create_task(async move {
                settle().await;
                for turns in [1, 2] {
                    let e = e.clone();
                    g2.create_task(async move {
                        for _ in 0..turns {
                            yield_now().await;
                        }
                        e.set(e.get() + 1);
                        Ok::<_, Error>(())
                    })?
                    .detach();
                }
                Ok::<_, Error>(())
            })?
            .detach();
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
        assert_eq!(ended.get(), 2);
    });
}

/// CPython's `hydra`: counts itself, then starts two more of its kind in the group.
fn hydra(g: TaskGroup, heads: Rc<Cell<usize>>) -> BoxUnit {
    Box::pin(async move {
        heads.set(heads.get() + 1);
        yield_now().await;
        g.create_task(hydra(g.clone(), heads.clone()))?.detach();
        g.create_task(hydra(g.clone(), heads))?.detach();
        Ok(())
    })
}

type BoxUnit = std::pin::Pin<Box<dyn Future<Output = Result<(), Error>>>>;

#[test]
fn test_taskgroup_25() {
    // Tasks keep starting tasks until another fails: every one still running is cancelled
    // (none fails starting a task into a group that is shutting down), and the group raises
    // the one failure.
    run(async {
        let heads = Rc::new(Cell::new(0));
        let h = heads.clone();
        let got = TaskGroup::run(|g| async move {
            g.create_task(hydra(g.clone(), h.clone()))?.detach();
            g.create_task(async move {
                while h.get() < 10 {
                    yield_now().await;
                }
                Err::<(), _>(bad("1 / 0"))
            })?
            .detach();
            Ok::<_, Error>(())
        })
        .await;
        assert_eq!(group_messages(got), ["1 / 0"]);
        assert!(heads.get() >= 10);
    });
}

#[test]
fn test_taskgroup_07() {
    // The body fails while tasks run: they are cancelled and the body's error is reported.
    run(async {
        let cancelled = Rc::new(Cell::new(false));
        let c = cancelled.clone();
        let got = TaskGroup::run(|g| async move {
            g.create_task(util::held_until_cancelled(move || DropFlag(c)))?
                .detach();
            settle().await;
            Err::<(), _>(bad("body"))
        })
        .await;
        match got {
            Err(Error::Group(errors)) => {
                assert!(matches!(&errors[..], [Error::InvalidArgument(m)] if m == "body"))
            }
            other => panic!("{other:?}"),
        }
        assert!(cancelled.get());
    });
}

#[test]
fn test_taskgroup_11() {
    // A failure in a nested group fails the outer group with a group inside.
    run(async {
        let got = TaskGroup::run(|outer| async move {
            outer
                .create_task(async {
                    TaskGroup::run(|inner| async move {
                        inner
                            .create_task(async { Err::<(), _>(bad("deep")) })?
                            .detach();
                        Ok::<_, Error>(())
                    })
                    .await
                })?
                .detach();
            Ok::<_, Error>(())
        })
        .await;
        match got {
            Err(Error::Group(errors)) => match &errors[..] {
                [Error::Group(inner)] => {
                    assert!(matches!(&inner[..], [Error::InvalidArgument(m)] if m == "deep"))
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn test_taskgroup_panic_is_a_failure() {
    run(async {
        let got = TaskGroup::run(|g| async move {
            g.create_task(async {
                yield_now().await;
                if true {
                    panic!("task blew up");
                }
                Ok::<(), Error>(())
            })?
            .detach();
            Ok::<_, Error>(())
        })
        .await;
        match got {
            Err(Error::Group(errors)) => match &errors[..] {
                [Error::Panic(p)] => assert_eq!(p.message(), "task blew up"),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn test_taskgroup_failure_is_retrieved_by_the_group_not_reported_as_never_retrieved() {
    // CPython's `_on_task_done` calls `task.exception()`, which marks the failure retrieved:
    // a failed task of a group is never also logged as "Task exception was never retrieved",
    // whether its handle was detached or dropped.
    run(async {
        let reports = record_reports();
        // The handle detached, dropped while the task runs, or kept (returned by the body,
        // so dropped unawaited once the group has failed).
        for how in ["detach", "drop", "keep"] {
            let got = TaskGroup::run(|g| async move {
                let task = g.create_task(async {
                    yield_now().await;
                    Err::<(), _>(bad("failed"))
                })?;
                match how {
                    "detach" => task.detach(),
                    "drop" => drop(task),
                    _ => return Ok(Some(task)),
                }
                Ok::<_, Error>(None)
            })
            .await;
            match got {
                Err(Error::Group(errors)) => assert_eq!(errors.len(), 1, "{errors:?}"),
                other => panic!("{other:?}"),
            }
            settle().await;
            assert_eq!(*reports.borrow(), Vec::<String>::new(), "{how}");
        }
    });
}

#[test]
fn test_taskgroup_create_task_woken_by_a_child_failing_in_its_last_step_is_accepted_then_cancelled()
{
    // CPython 3.11 learns of a child's failure in the child's done callback, queued as it
    // fails: a task that child woke in the same step runs first, while the group is not yet
    // aborting, so its create_task is accepted; the abort then cancels the new task before
    // its first step, and the group raises the one failure. python3 (3.11.7), the same shape
    // (a group task waiting on an Event; a child that sets it and raises):
    //   create_task accepted: main.<locals>.child, done=False
    //   group raised: ExceptionGroup('unhandled errors in a TaskGroup', [ValueError('boom')])
    //   new task after the group: cancelled=True
    // (the child never logged its first step). Ours refused it ('is shutting down'), or
    // rather cancelled the woken task before it could ask.
    run(async {
        let go = Rc::new(Event::new());
        let made = Rc::new(Cell::new(None));
        let first_step = Rc::new(Cell::new(false));
        let (go2, made2, step2) = (go.clone(), made.clone(), first_step.clone());
        let got = TaskGroup::run(|g| async move {
            let g2 = g.clone();
            g.create_task(async move {
                go2.wait().await;
                let t = g2.create_task(async move {
                    step2.set(true);
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(())
                })?;
                made2.set(Some(t));
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
            .detach();
            yield_now().await; // the waiter now waits on the event
            g.create_task(async move {
                go.set(); // wakes the waiter, then fails in the same step
                Err::<(), _>(bad("boom"))
            })?
            .detach();
            Ok::<_, Error>(())
        })
        .await;
        assert_eq!(
            group_messages(got),
            ["boom"],
            "its cancellation is no failure"
        );
        let t = made.take().expect("create_task was accepted");
        assert!(
            t.is_done(),
            "run returned before the task it accepted ended"
        );
        assert!(matches!(t.await, Err(asyncio::Cancelled)), "cancelled");
        assert!(
            !first_step.get(),
            "cancelled before its first step, as in CPython"
        );
    });
}

#[test]
fn test_taskgroup_two_children_failing_in_one_turn_are_tasks_not_errors_until_learnt() {
    // CPython 3.11.7: two children fail in the same turn, the body looks on in that turn,
    // before their done callbacks: repr(tg) is '<TaskGroup tasks=2 entered>' (each failed
    // task is still in _tasks, no error counted yet); the group then raises both, in order,
    // after one abort. Ours said '<TaskGroup errors=2 entered>'.
    run(async {
        let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen2 = seen.clone();
        let got = TaskGroup::run(|g| async move {
            for n in ["one", "two"] {
                g.create_task(async move { Err::<(), _>(bad(n)) })?.detach();
            }
            yield_now().await; // both children ran their one step and failed, in order
            seen2.borrow_mut().push(format!("{g:?}"));
            yield_now().await; // cut short: the group learnt of the failures
            seen2.borrow_mut().push("the body went on".to_string());
            Ok::<_, Error>(())
        })
        .await;
        assert_eq!(group_messages(got), ["one", "two"]);
        assert_eq!(*seen.borrow(), ["<TaskGroup tasks=2 entered>"]);
    });
}

#[test]
fn test_taskgroup_the_bodys_failure_comes_after_the_tasks_and_is_not_counted_before() {
    // CPython 3.11.7: the body raises ValueError('body') while a child waits; the child's
    // cleanup then raises KeyError('child-cleanup'): the group raises [KeyError, ValueError],
    // the body's last (__aexit__ adds it as it raises). A second child's cleanup sees
    // repr(tg) '<TaskGroup tasks=1 cancelling>': the body's error is not counted. Ours put the
    // body's first and said 'errors=1' there.
    run(async {
        let _reports = record_reports();
        let got = TaskGroup::run(|g| async move {
            g.create_task(stuck_panicking_on_cancel("child cleanup"))?
                .detach();
            settle().await;
            Err::<(), _>(bad("body"))
        })
        .await;
        let messages = group_messages(got);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages[0].contains("child cleanup"), "{messages:?}");
        assert_eq!(messages[1], "body");

        struct Describe(TaskGroup, Rc<std::cell::RefCell<Vec<String>>>);
        impl Drop for Describe {
            fn drop(&mut self) {
                self.1.borrow_mut().push(format!("{:?}", self.0));
            }
        }
        let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen2 = seen.clone();
        let got = TaskGroup::run(|g| async move {
            let describe = Describe(g.clone(), seen2);
            g.create_task(util::held_until_cancelled(move || describe))?
                .detach();
            settle().await;
            Err::<(), _>(bad("body"))
        })
        .await;
        assert_eq!(group_messages(got), ["body"]);
        assert_eq!(*seen.borrow(), ["<TaskGroup tasks=1 cancelling>"]);
    });
}

/// A panic payload whose own drop panics (`panic_any` of this).
struct PayloadPanicsOnDrop;

impl Drop for PayloadPanicsOnDrop {
    fn drop(&mut self) {
        panic!("payload drop fails");
    }
}

#[test]
fn l35_a_child_panic_whose_payload_panics_on_drop_still_fails_the_group() {
    // L35, L32: the child's panic payload was dropped before the group was told, so a drop
    // that panics ended the task panicked but left the group unaware: `run` returned Ok.
    run(async {
        let _reports = record_reports();
        let got = TaskGroup::run(|g| async move {
            g.create_task(async {
                settle().await;
                std::panic::panic_any(PayloadPanicsOnDrop);
                #[allow(unreachable_code)]
                Ok::<(), Error>(())
            })?
            .detach();
            Ok::<_, Error>(())
        })
        .await;
        let e = got.expect_err("the child's panic fails the group");
        assert!(format!("{e:?}").contains("Panic"), "{e:?}");
    });
}
