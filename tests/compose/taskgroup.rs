//! `TaskGroup` basics: ports of test_taskgroups.py (01–04, 09, 10, 22), no create_task
//! after a failure, a body that panics.

use super::*;

// ---- TaskGroup (test_taskgroups.py) ----

#[test]
fn test_taskgroup_01() {
    run(async {
        let (t1, t2) = TaskGroup::run(|g| async move {
            let t1 = g.create_task(async {
                yield_now().await;
                Ok::<_, Error>(42)
            })?;
            let t2 = g.create_task(async {
                settle().await;
                Ok::<_, Error>(11)
            })?;
            Ok::<_, Error>((t1, t2))
        })
        .await
        .unwrap();
        assert!(t1.is_done() && t2.is_done());
        assert_eq!(t1.await.unwrap().unwrap(), 42);
        assert_eq!(t2.await.unwrap().unwrap(), 11);
    });
}

#[test]
fn test_taskgroup_02() {
    // A task created after the body awaited something still belongs to the group.
    run(async {
        let (t1, t2) = TaskGroup::run(|g| async move {
            let t1 = g.create_task(async { Ok::<_, Error>(42) })?;
            settle().await;
            let t2 = g.create_task(async {
                yield_now().await;
                Ok::<_, Error>(11)
            })?;
            Ok::<_, Error>((t1, t2))
        })
        .await
        .unwrap();
        assert_eq!(t1.await.unwrap().unwrap(), 42);
        assert_eq!(t2.await.unwrap().unwrap(), 11);
    });
}

#[test]
fn test_taskgroup_03() {
    // Cancelling one task explicitly is not a failure: the group carries on.
    run(async {
        let event = Rc::new(Event::new());
        let (t1, t2) = TaskGroup::run(|g| async move {
            let t1 = g.create_task(stuck(event, Rc::new(Cell::new(false))))?;
            settle().await;
            t1.cancel();
            let t2 = g.create_task(async { Ok::<_, Error>(11) })?;
            Ok::<_, Error>((t1, t2))
        })
        .await
        .unwrap();
        assert!(t1.is_cancelled());
        assert_eq!(t2.await.unwrap().unwrap(), 11);
    });
}

#[test]
fn test_taskgroup_04() {
    // One task fails: the other is cancelled, the group's error names the failure, and the
    // code after the group does not run.
    run(async {
        let num = Rc::new(Cell::new(0));
        let t2_cancel = Rc::new(Cell::new(false));
        let n = num.clone();
        let c = t2_cancel.clone();
        let runner = spawn(async move {
            TaskGroup::run(|g| async move {
                g.create_task(async {
                    yield_now().await;
                    Err::<(), _>(bad("division by zero"))
                })?
                .detach();
                g.create_task(async move {
                    let _flag = DropFlag(c);
                    std::future::pending::<()>().await;
                    n.set(n.get() + 1);
                    Ok::<_, Error>(())
                })?
                .detach();
                Ok::<_, Error>(())
            })
            .await?;
            Ok::<_, Error>(())
        });
        match runner.await.unwrap() {
            Err(Error::Group(errors)) => {
                assert_eq!(errors.len(), 1);
                assert!(matches!(&errors[0], Error::InvalidArgument(m) if m == "division by zero"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(num.get(), 0);
        assert!(t2_cancel.get());
    });
}

#[test]
fn test_cancel_children_on_child_error() {
    // The body is cancelled too, where it waits.
    run(async {
        let runner_cancel = Rc::new(Cell::new(false));
        let t2_cancel = Rc::new(Cell::new(false));
        let (rc, tc) = (runner_cancel.clone(), t2_cancel.clone());
        let got = TaskGroup::run(|g| async move {
            let _flag = DropFlag(rc);
            g.create_task(async {
                yield_now().await;
                Err::<(), _>(bad("boom"))
            })?
            .detach();
            g.create_task(util::held_until_cancelled(move || DropFlag(tc)))?
                .detach();
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        })
        .await;
        assert!(matches!(got, Err(Error::Group(ref e)) if e.len() == 1));
        assert!(runner_cancel.get() && t2_cancel.get());
    });
}

#[test]
fn test_taskgroup_10() {
    // The body fails right after starting two tasks: both are cancelled before they run, and
    // the group fails with the body's error alone.
    run(async {
        let handles = Rc::new(std::cell::RefCell::new(Vec::new()));
        let h = handles.clone();
        let r = TaskGroup::run(|g| async move {
            for v in [42, 11] {
                let t = g.create_task(async move {
                    yield_now().await;
                    Ok::<_, Error>(v)
                })?;
                h.borrow_mut().push(t);
            }
            Err::<(), _>(bad("1 / 0"))
        })
        .await;
        match r {
            Err(Error::Group(errors)) => {
                assert!(matches!(&errors[..], [Error::InvalidArgument(m)] if m == "1 / 0"))
            }
            other => panic!("{other:?}"),
        }
        for t in handles.borrow().iter() {
            assert!(t.is_cancelled());
        }
    });
}

#[test]
fn test_taskgroup_09() {
    // As test_taskgroup_10, but the body fails once its two tasks have started: both end
    // cancelled, and the group raises the body's failure alone.
    run(async {
        let handles = Rc::new(std::cell::RefCell::new(Vec::new()));
        let h = handles.clone();
        let r = TaskGroup::run(|g| async move {
            for v in [42, 11] {
                let t = g.create_task(async move {
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(v)
                })?;
                h.borrow_mut().push(t);
            }
            settle().await;
            Err::<(), _>(bad("1 / 0"))
        })
        .await;
        assert_eq!(group_messages(r), ["1 / 0"]);
        for t in handles.borrow().iter() {
            assert!(t.is_cancelled());
        }
    });
}

#[test]
fn test_taskgroup_22() {
    // The body has ended and the group waits for its tasks when the task around it is
    // cancelled: the tasks are cancelled and the runner ends cancelled.
    run(async {
        let dropped = [Rc::new(Cell::new(false)), Rc::new(Cell::new(false))];
        let flags = dropped.clone();
        let runner = spawn(TaskGroup::run(|g| async move {
            for flag in flags {
                g.create_task(util::held_until_cancelled(move || DropFlag(flag)))?
                    .detach();
            }
            Ok::<_, Error>(())
        }));
        settle().await;
        assert!(!runner.is_done(), "the group waits for its tasks");
        assert!(runner.cancel());
        assert!(matches!(runner.await, Err(asyncio::Cancelled)));
        assert!(dropped.iter().all(|d| d.get()));
    });
}

/// Tries to start a task in its group as it is dropped (a cancelled task's cleanup).
struct CreateOnDrop(TaskGroup, Rc<Cell<Option<bool>>>);

impl Drop for CreateOnDrop {
    fn drop(&mut self) {
        let late = self.0.create_task(async { Ok::<_, Error>(()) });
        // As CPython's text, the group described as its repr (the failed task has left it).
        let text = "TaskGroup <TaskGroup tasks=1 errors=1 cancelling> is shutting down";
        let refused = matches!(late, Err(Error::InvalidState(m)) if m == text);
        self.1.set(Some(refused));
    }
}

#[test]
fn test_taskgroup_no_create_task_after_failure() {
    // A task cancelled by a sibling's failure cannot start another task while it goes.
    run(async {
        let refused = Rc::new(Cell::new(None));
        let r2 = refused.clone();
        let r = TaskGroup::run(|g| async move {
            g.create_task(async {
                yield_now().await;
                Err::<(), _>(bad("1 / 0"))
            })?
            .detach();
            let g2 = g.clone();
            g.create_task(util::held_until_cancelled(move || CreateOnDrop(g2, r2)))?
                .detach();
            Ok::<_, Error>(())
        })
        .await;
        match r {
            Err(Error::Group(errors)) => assert_eq!(errors.len(), 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(refused.get(), Some(true), "create_task was refused");
    });
}

#[test]
fn test_taskgroup_body_panic_unwinds_and_cancels_the_tasks() {
    // The documented difference: the body's own panic is not put in the group.
    run(async {
        let child = Rc::new(Cell::new(false));
        let c = child.clone();
        let runner = spawn(TaskGroup::run(|g| async move {
            g.create_task(util::held_until_cancelled(move || DropFlag(c)))?
                .detach();
            yield_now().await;
            if std::hint::black_box(true) {
                panic!("the body panics");
            }
            Ok::<_, Error>(())
        }));
        settle().await;
        assert!(runner.is_done() && !runner.is_cancelled(), "run unwound");
        assert!(child.get(), "the task was cancelled");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut runner = std::pin::pin!(runner);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let _ = runner.as_mut().poll(&mut cx);
        }));
        assert!(outcome.is_err(), "the panic resumes in whoever awaits");
    });
}
