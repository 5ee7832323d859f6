//! `TaskGroup` cancelled or dropped (cancel parent, timeouts, drops from inside a task or a
//! poll), create_task after exit, its repr, its waker, its error display.

use super::*;

#[test]
fn test_taskgroup_cancel_parent_cancels_children() {
    // Cancelling the task around the group cancels the body and every task (test_taskgroup_15
    // shape).
    run(async {
        let child = Rc::new(Cell::new(false));
        let c = child.clone();
        let runner = spawn(TaskGroup::run(|g| async move {
            g.create_task(util::held_until_cancelled(move || DropFlag(c)))?
                .detach();
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        }));
        settle().await;
        assert!(!child.get());
        runner.cancel();
        settle().await;
        assert!(child.get());
        assert!(runner.await.is_err());
    });
}

/// Counts its drops: a future holding one was cancelled (or ended) when the count moves.
struct DropCount(Rc<Cell<usize>>, usize);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.set(self.0.get() + self.1);
    }
}

/// Runs `group` (given the counter its [`DropCount`] guards add to) in a task, cancels that
/// task once it has settled where it waits (not done by then; it ends cancelled), and returns
/// the count.
async fn drops_when_cancelled<F, Fut>(group: F) -> usize
where
    F: FnOnce(Rc<Cell<usize>>) -> Fut,
    Fut: Future + 'static,
{
    let num = Rc::new(Cell::new(0));
    let runner = spawn(group(num.clone()));
    settle().await;
    assert!(!runner.is_done());
    runner.cancel();
    assert!(runner.await.is_err(), "the runner ends cancelled");
    num.get()
}

#[test]
fn test_cancellation() {
    // The task around the group is cancelled while five children sleep: each child is
    // cancelled (its `except CancelledError` is a drop guard here), and the task ends
    // cancelled. L33.
    run(async {
        let num = drops_when_cancelled(|n| {
            TaskGroup::run(|g| async move {
                for _ in 0..5 {
                    let n = n.clone();
                    g.create_task(async move {
                        let _counted = DropCount(n, 1);
                        asyncio::sleep(Duration::from_secs(5)).await;
                        Ok::<_, Error>(())
                    })?
                    .detach();
                }
                Ok::<_, Error>(())
            })
        })
        .await;
        assert_eq!(num, 5);
    });
}

#[test]
fn test_taskgroup_17() {
    // The task around a group with no child is cancelled while the body sleeps: the body is
    // cancelled (its cleanup runs once) and the task ends cancelled.
    run(async {
        let num = drops_when_cancelled(|n| {
            TaskGroup::run(|_g| async move {
                let _counted = DropCount(n, 10);
                asyncio::sleep(Duration::from_secs(10)).await;
                Ok::<_, Error>(())
            })
        })
        .await;
        assert_eq!(num, 10);
    });
}

#[test]
fn test_taskgroup_body_passing_on_a_cancellation_ends_the_group_cancelled_l32() {
    // The body awaits a child cancelled from elsewhere and passes the cancellation on with
    // `?`. CPython: the body raises CancelledError, `__aexit__` cancels the other children and
    // re-raises the CancelledError (no ExceptionGroup, as no child failed), so the task around
    // the group ends cancelled. Here: the group's error is that cancellation, not a failure.
    run(async {
        let sibling = Rc::new(Cell::new(false));
        let s = sibling.clone();
        let out = TaskGroup::run(|g| async move {
            let victim = g.create_task(async {
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?;
            g.create_task(util::held_until_cancelled(move || DropFlag(s)))?
                .detach();
            yield_now().await;
            victim.cancel();
            victim.await??;
            Ok::<_, Error>(())
        })
        .await;
        assert!(
            sibling.get(),
            "the other child is cancelled before the group ends"
        );
        match out {
            Err(Error::Cancelled) => {}
            other => panic!("expected the body's cancellation, got {other:?}"),
        }
    });
}

#[test]
fn test_taskgroup_cut_short_by_a_timeout_has_ended_its_tasks_when_it_returns() {
    // CPython: a timeout cancels the task inside `async with TaskGroup()`; `__aexit__` then
    // cancels every child and waits for them before the TimeoutError comes out, so the code
    // after the timeout never sees a child still running (L33, L36: a cancelled wait leaves
    // nothing running). Here the group's future is dropped: its tasks must be gone by the
    // time `timeout` returns, as a `Task` awaited under a timeout is.
    run(async {
        let child = Rc::new(Cell::new(false));
        let c = child.clone();
        let kept = Rc::new(std::cell::RefCell::new(None));
        let k = kept.clone();
        let lp = asyncio::get_running_loop().unwrap();
        let out = asyncio::timeout_scope_at(None, |scope| {
            TaskGroup::run(move |g| async move {
                let task = g.create_task(util::held_until_cancelled(move || DropFlag(c)))?;
                *k.borrow_mut() = Some(task.task_ref());
                task.detach();
                settle().await; // the task runs up to its wait
                scope.reschedule(Some(lp.time()))?; // due now: expires at its next turn
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })
        })
        .await;
        assert!(matches!(out, Err(Error::Timeout)), "{out:?}");
        let task = kept.borrow_mut().take().unwrap();
        assert!(child.get(), "the task's future is dropped");
        assert!(task.is_done() && task.is_cancelled());
    });
}

#[test]
fn test_taskgroup_dropped_while_its_cancellations_are_in_flight_ends_its_tasks() {
    // A task fails and the group cancels the other (landing at that task's next turn); the
    // group's future is dropped before it lands. The other task must not outlive the group
    // all the same (as above; CPython's `__aexit__` waits for it).
    run(async {
        let (failed, dropped) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        let (f, d) = (failed.clone(), dropped.clone());
        let mut group = Box::pin(TaskGroup::run(move |g| async move {
            g.create_task(async move {
                yield_now().await;
                f.set(true);
                Err::<(), _>(bad("failed"))
            })?
            .detach();
            let flag = DropFlag(d);
            g.create_task(util::held_until_cancelled(move || flag))?
                .detach();
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        }));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(group.as_mut().poll(&mut cx).is_pending()); // the body starts both tasks
        for _ in 0..10 {
            if failed.get() {
                break;
            }
            yield_now().await;
        }
        assert!(failed.get());
        assert!(!dropped.get(), "the cancellation has not landed yet");
        drop(group);
        assert!(
            dropped.get(),
            "the other task's future is dropped with the group"
        );
    });
}

#[test]
fn test_taskgroup_dropped_from_inside_one_of_its_tasks_ends_that_task_when_its_poll_returns() {
    // L33: the group's run future is dropped while one of its own tasks is being polled (that
    // task drops the awaited handle of the task running the group). The tasks not being polled
    // are dropped at once, inside that drop; the one being polled cannot be, and must end
    // cancelled when its poll returns rather than run on with no group around it.
    run(async {
        // The handle of the task that runs the group, for one of the group's tasks to drop.
        type GroupTask = asyncio::Task<Result<(), Error>>;
        let outer = Rc::new(std::cell::RefCell::new(None::<GroupTask>));
        let (sibling_dropped, seen_in_poll) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(None)));
        let dropper = Rc::new(std::cell::RefCell::new(None));
        let (o, sd, seen, dr) = (
            outer.clone(),
            sibling_dropped.clone(),
            seen_in_poll.clone(),
            dropper.clone(),
        );
        let running = spawn(TaskGroup::run(move |g| async move {
            let flag = DropFlag(sd.clone());
            g.create_task(util::held_until_cancelled(move || flag))?
                .detach();
            let task = g.create_task(async move {
                yield_now().await; // the task running the group is waiting by now
                let mut handle = Box::pin(o.borrow_mut().take().expect("the group's task"));
                let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
                assert!(handle.as_mut().poll(&mut cx).is_pending()); // awaited: a drop cancels
                drop(handle); // the group's run future is dropped here, inside this poll
                seen.set(Some(sd.get()));
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?;
            *dr.borrow_mut() = Some(task.task_ref());
            task.detach();
            std::future::pending::<()>().await;
            Ok::<_, Error>(())
        }));
        let group_task = running.task_ref();
        *outer.borrow_mut() = Some(running);
        settle().await;
        assert_eq!(
            seen_in_poll.get(),
            Some(true),
            "the other task went at once"
        );
        assert!(group_task.is_done());
        let dropper = dropper.borrow_mut().take().expect("started");
        assert!(
            dropper.is_done() && dropper.is_cancelled(),
            "the task that dropped the group ends when its poll returns"
        );
    });
}

/// Drops, in its own `Drop`, the awaited handle of a task outside the group (which cancels
/// that task at once) and spawns a task.
struct DropsMore(Option<asyncio::Task<()>>, Rc<Cell<bool>>);

impl Drop for DropsMore {
    fn drop(&mut self) {
        if let Some(mut other) = self.0.take() {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            assert!(std::pin::Pin::new(&mut other).poll(&mut cx).is_pending());
            drop(other);
        }
        let ran = self.1.clone();
        spawn(async move { ran.set(true) }).detach();
    }
}

#[test]
fn test_taskgroup_dropped_drops_task_futures_whose_drop_cancels_and_spawns_tasks() {
    // A task future dropped at once by a dropped group runs its `Drop` inside the group's:
    // there it may cancel another task at once and spawn a new one, both of which change the
    // loop's task list (no borrow of it may be held around that `Drop`).
    run(async {
        let spawned_ran = Rc::new(Cell::new(false));
        let other = spawn(std::future::pending::<()>());
        let other_ref = other.task_ref();
        let more = DropsMore(Some(other), spawned_ran.clone());
        let out = asyncio::timeout(
            Duration::ZERO,
            TaskGroup::run(move |g| async move {
                g.create_task(util::held_until_cancelled(move || more))?
                    .detach();
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            }),
        )
        .await;
        assert!(matches!(out, Err(Error::Timeout)), "{out:?}");
        assert!(other_ref.is_done() && other_ref.is_cancelled());
        settle().await;
        assert!(spawned_ran.get(), "the task spawned in the Drop runs");
    });
}

/// Counts the polls of the future it wraps.
struct CountPolls<F>(std::pin::Pin<Box<F>>, Rc<Cell<u32>>);

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.1.set(self.1.get() + 1);
        self.0.as_mut().poll(cx)
    }
}

#[test]
fn test_taskgroup_dropped_inside_a_poll_does_not_wake_the_task_that_dropped_it() {
    // A timeout expiring around `run` drops it inside the poll of the task around both; the
    // group's tasks, dropped at once there, leave the group, and a leaving task wakes `run`'s
    // waker. Once `run` is dropped nobody waits on that waker: waking it would poll the task
    // around it again for nothing.
    run(async {
        let polls = Rc::new(Cell::new(0));
        let polls_when_done = Rc::new(Cell::new(None));
        let (p, done) = (polls.clone(), polls_when_done.clone());
        let task = spawn(CountPolls(
            Box::pin(async move {
                let out = asyncio::timeout(
                    Duration::ZERO,
                    TaskGroup::run(|g| async move {
                        g.create_task(async {
                            std::future::pending::<()>().await;
                            Ok::<_, Error>(())
                        })?
                        .detach();
                        std::future::pending::<()>().await;
                        Ok::<_, Error>(())
                    }),
                )
                .await;
                assert!(matches!(out, Err(Error::Timeout)), "{out:?}");
                done.set(Some(p.get()));
                std::future::pending::<()>().await; // nothing wakes this
            }),
            polls.clone(),
        ));
        settle().await;
        let when_done = polls_when_done.get().expect("the timeout expired");
        assert_eq!(polls.get(), when_done, "polled again after the group went");
        assert!(task.cancel());
    });
}

#[test]
fn test_taskgroup_create_task_after_exit_is_an_error() {
    run(async {
        let mut kept = None;
        TaskGroup::run(|g| {
            kept = Some(g.clone());
            async { Ok::<_, Error>(()) }
        })
        .await
        .unwrap();
        let late = kept.unwrap().create_task(async { Ok::<_, Error>(()) });
        let text = "TaskGroup <TaskGroup entered> is finished"; // CPython's text
        assert!(
            matches!(&late, Err(Error::InvalidState(m)) if m == text),
            "{late:?}"
        );
    });
}

#[test]
fn test_taskgroup_create_task_after_a_failed_exit_names_the_group_cancelling() {
    // CPython's group stays `_aborting` after it failed: `<TaskGroup cancelling>`.
    run(async {
        let mut kept = None;
        let r = TaskGroup::run(|g| {
            kept = Some(g.clone());
            async move {
                g.create_task(async { Err::<(), _>(bad("1 / 0")) })?
                    .detach();
                Ok::<_, Error>(())
            }
        })
        .await;
        assert!(matches!(r, Err(Error::Group(_))), "{r:?}");
        let late = kept.unwrap().create_task(async { Ok::<_, Error>(()) });
        let text = "TaskGroup <TaskGroup cancelling> is finished";
        assert!(
            matches!(&late, Err(Error::InvalidState(m)) if m == text),
            "{late:?}"
        );
    });
}

#[test]
fn test_taskgroup_debug_is_pythons_repr() {
    run(async {
        TaskGroup::run(|g| async move {
            assert_eq!(format!("{g:?}"), "<TaskGroup entered>");
            let t = g.create_task(async { Ok::<_, Error>(()) })?;
            assert_eq!(format!("{g:?}"), "<TaskGroup tasks=1 entered>");
            t.await.unwrap()?;
            assert_eq!(format!("{g:?}"), "<TaskGroup entered>");
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
    });
}

#[test]
fn test_taskgroup_create_task_woken_by_the_last_task_as_it_ends_is_accepted_and_awaited() {
    // CPython 3.11's create_task refuses ('is finished') only once the group is exiting and
    // its task set is empty, and a task leaves that set in its done callback, queued as it
    // ends: a task the last child woke in its final step runs before that callback, so its
    // create_task is accepted and `__aexit__` waits for the new task (python3 checked: the
    // late task ran before the `async with` block ended). Here `run` likewise waits for it.
    run(async {
        let go = Rc::new(Event::new());
        let late = Rc::new(Cell::new(None));
        let late_ran = Rc::new(Cell::new(false));
        let (go2, late2, ran2) = (go.clone(), late.clone(), late_ran.clone());
        TaskGroup::run(|g| {
            let g2 = g.clone();
            spawn(async move {
                go2.wait().await;
                let r = g2.create_task(async move {
                    yield_now().await;
                    ran2.set(true);
                    Ok::<_, Error>(())
                });
                late2.set(Some(r.map(Task::detach).map_err(|e| e.to_string())));
            })
            .detach();
            async move {
                g.create_task(async move {
                    yield_now().await;
                    go.set(); // the waiting task is queued before `run`
                    Ok::<_, Error>(())
                })?
                .detach();
                Ok::<_, Error>(())
            }
        })
        .await
        .unwrap();
        assert_eq!(late.take(), Some(Ok(())), "create_task was accepted");
        assert!(
            late_ran.get(),
            "run returned before the task it accepted ended"
        );
        settle().await;
    });
}

#[test]
fn test_taskgroup_finished_keeps_no_waker_of_its_runner() {
    // A group handle kept after `run` returned (as above) kept the runner's last waker alive
    // in the group's state: a waker held after its future was gone.
    let counted = Arc::new(CountedWaker);
    let waker = std::task::Waker::from(counted.clone());
    let event = Rc::new(Event::new());
    let kept = Rc::new(std::cell::RefCell::new(None));
    let (e, k) = (event.clone(), kept.clone());
    let mut runner = Box::pin(TaskGroup::run(move |g| {
        *k.borrow_mut() = Some(g);
        async move {
            e.wait().await;
            Ok::<_, Error>(())
        }
    }));
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(runner.as_mut().poll(&mut cx).is_pending());
    drop(waker);
    event.set(); // the event's clone of the waker goes with the wake
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(matches!(
        runner.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Ok(()))
    ));
    drop(runner);
    assert!(kept.borrow().is_some(), "the group handle outlives run");
    assert_eq!(
        Arc::strong_count(&counted),
        1,
        "the group still holds the waker"
    );
}

#[test]
fn test_taskgroup_error_display_names_every_failure() {
    let e = Error::Group(vec![bad("one"), Error::Timeout]);
    assert_eq!(
        e.to_string(),
        "unhandled errors in a TaskGroup (2 sub-exceptions); one; timed out"
    );
}

#[test]
fn test_taskgroup_debug_counts_a_task_that_ended_this_turn_until_it_leaves() {
    // CPython 3.11.7: a task that returned this turn is still in _tasks until its done
    // callback, next turn: a sibling that looks in the same turn sees
    // '<TaskGroup tasks=2 entered>', then, a turn later, '<TaskGroup tasks=1 entered>'. Ours
    // said 'tasks=1' at once: it counted the cancel list, which a task leaves as it ends.
    run(async {
        let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen2 = seen.clone();
        TaskGroup::run(|g| async move {
            g.create_task(async { Ok::<_, Error>(1) })?.detach();
            let looker = g.clone();
            g.create_task(async move {
                seen2.borrow_mut().push(format!("{looker:?}"));
                yield_now().await;
                seen2.borrow_mut().push(format!("{looker:?}"));
                Ok::<_, Error>(())
            })?
            .detach();
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
        assert_eq!(
            *seen.borrow(),
            ["<TaskGroup tasks=2 entered>", "<TaskGroup tasks=1 entered>"]
        );
    });
}

#[test]
fn test_taskgroup_is_finished_once_the_body_is_over_and_the_last_task_has_left() {
    // CPython 3.11.7 (create_task: `if self._exiting and not self._tasks: ... is finished`):
    // the body is over, its one task ended and left the group (its done callback ran), and
    // __aexit__ has not resumed yet: a task outside the group that looks in that turn sees
    // '<TaskGroup entered>' and its create_task is refused. Ours took the task, and run waited
    // for it.
    run(async {
        let slot: Rc<std::cell::RefCell<Option<TaskGroup>>> = Rc::default();
        let log = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
        let (slot2, log2) = (slot.clone(), log.clone());
        let outsider = spawn(async move {
            for i in 0..8 {
                let group = slot2.borrow().clone();
                if let Some(g) = group {
                    let repr = format!("{g:?}");
                    log2.borrow_mut().push(format!("{i} {repr}"));
                    if !repr.contains("tasks") {
                        let late = g.create_task(async { Ok::<_, Error>(()) });
                        let said = match late {
                            Ok(t) => {
                                t.detach();
                                "ok".to_string()
                            }
                            Err(e) => e.to_string(),
                        };
                        log2.borrow_mut().push(format!("{i} {said}"));
                        return;
                    }
                }
                yield_now().await;
            }
        });
        yield_now().await;
        TaskGroup::run(|g| {
            *slot.borrow_mut() = Some(g.clone());
            async move {
                g.create_task(async { Ok::<_, Error>(1) })?.detach();
                Ok::<_, Error>(())
            }
        })
        .await
        .unwrap();
        log.borrow_mut().push("exited".to_string());
        outsider.await.unwrap();
        assert_eq!(
            *log.borrow(),
            [
                "1 <TaskGroup tasks=1 entered>",
                "2 <TaskGroup tasks=1 entered>",
                "3 <TaskGroup entered>",
                "3 TaskGroup <TaskGroup entered> is finished",
                "exited",
            ]
        );
    });
}
