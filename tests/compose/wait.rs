//! `wait` and `as_completed`: ports of test_tasks.py's test_wait_* and test_as_completed_*.

use super::*;

// ---- wait (test_tasks.py) ----

#[test]
fn test_wait() {
    run(async {
        let (done, pending) = wait([ok_task(1), ok_task(2)], ReturnWhen::AllCompleted)
            .await
            .unwrap();
        assert_eq!((done.len(), pending.len()), (2, 0));
        let mut sum = 0;
        for t in done {
            sum += t.await.unwrap().unwrap();
        }
        assert_eq!(sum, 3);
    });
}

#[test]
fn test_wait_errors() {
    run(async {
        let none: Vec<asyncio::Task<Result<u32, Error>>> = Vec::new();
        match wait(none, ReturnWhen::AllCompleted).await {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "Set of Tasks/Futures is empty."),
            other => panic!("{:?}", other.map(|_| ())),
        }
    });
}

#[test]
fn test_wait_first_completed() {
    run(async {
        let event = Rc::new(Event::new());
        let a = stuck_task(&event);
        let b = ok_task(7);
        let (done, pending) = wait([a, b], ReturnWhen::FirstCompleted).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, 1));
        assert!(!pending[0].is_done());
        assert_eq!(done.into_iter().next().unwrap().await.unwrap().unwrap(), 7);
        event.set();
        for t in pending {
            assert_eq!(t.await.unwrap().unwrap(), 0);
        }
    });
}

#[test]
fn test_wait_really_done() {
    // FIRST_COMPLETED with two tasks that both end before wait looks: both are done.
    run(async {
        let a = spawn(async { Ok::<_, Error>(1) });
        let b = spawn(async { Ok::<_, Error>(2) });
        settle().await;
        let (done, pending) = wait([a, b], ReturnWhen::FirstCompleted).await.unwrap();
        assert_eq!((done.len(), pending.len()), (2, 0));
    });
}

#[test]
fn test_wait_first_exception() {
    run(async {
        let event = Rc::new(Event::new());
        let a = stuck_task(&event);
        let b = spawn(async { Err::<u32, _>(bad("exc")) });
        let (done, pending) = wait([a, b], ReturnWhen::FirstException).await.unwrap();
        assert_eq!((done.len(), pending.len()), (1, 1));
        let failed = done.into_iter().next().unwrap().await.unwrap();
        assert!(matches!(failed, Err(Error::InvalidArgument(_))));
        for t in pending {
            t.cancel();
        }
    });
}

#[test]
fn test_wait_first_exception_in_wait() {
    // The failure happens after wait started; a success before it does not end the wait.
    run(async {
        let event = Rc::new(Event::new());
        let never = Rc::new(Event::new());
        let e = event.clone();
        let failing = spawn(async move {
            e.wait().await;
            Err::<u32, _>(bad("late"))
        });
        let quick = ok_task(1);
        let blocked = stuck_task(&never);
        let setter = spawn({
            let event = event.clone();
            async move {
                settle().await;
                event.set();
            }
        });
        let (done, pending) = wait([failing, quick, blocked], ReturnWhen::FirstException)
            .await
            .unwrap();
        assert_eq!((done.len(), pending.len()), (2, 1));
        setter.await.unwrap();
        for t in pending {
            t.cancel();
        }
    });
}

#[test]
fn test_wait_with_exception() {
    // ALL_COMPLETED waits for every task, failed or not.
    run(async {
        let a = spawn(async { Err::<u32, _>(bad("exc")) });
        let b = ok_task(3);
        let (done, pending) = wait([a, b], ReturnWhen::AllCompleted).await.unwrap();
        assert_eq!((done.len(), pending.len()), (2, 0));
    });
}

#[test]
fn test_wait_with_timeout() {
    // The task never ends: whatever the clock does, it is pending when the timeout passes.
    run(async {
        let event = Rc::new(Event::new());
        let a = stuck_task(&event);
        let b = ok_task(1);
        let (done, pending) = wait([a, b], ReturnWhen::AllCompleted)
            .timeout(Duration::from_millis(1))
            .await
            .unwrap();
        assert_eq!((done.len(), pending.len()), (1, 1));
        assert!(!pending[0].is_done(), "a timeout cancels nothing");
        event.set();
        for t in pending {
            assert_eq!(t.await.unwrap().unwrap(), 0);
        }
    });
}

#[test]
fn test_wait_concurrent_complete() {
    // A task ending on the timeout's own deadline is done, the other pending: on a manual
    // clock, `a`'s timer was filed before the wait's (its task ran first), so `a` ends in the
    // turn the timeout passes, before the wait looks.
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let turns = |n: usize| {
        for _ in 0..n {
            lp.run_once(Some(Duration::ZERO)).unwrap();
        }
    };
    let ms = Duration::from_millis;
    let sleeper = |name: &'static str, d: Duration| async move {
        asyncio::sleep(d).await;
        Ok::<_, Error>(name)
    };
    let a = lp.spawn(sleeper("a", ms(100))).unwrap();
    let b = lp.spawn(sleeper("b", ms(150))).unwrap();
    let waiting = lp
        .spawn(async move {
            wait([b, a], ReturnWhen::AllCompleted)
                .timeout(ms(100))
                .await
        })
        .unwrap();
    turns(3);
    assert!(!waiting.is_done());
    clock.advance(ms(100));
    turns(3);
    assert!(waiting.is_done(), "the timeout passed");
    let (done, pending) = lp.run_until_complete(waiting).unwrap().unwrap().unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(
        lp.run_until_complete(done.into_iter().next().unwrap())
            .unwrap()
            .unwrap()
            .unwrap(),
        "a"
    );
    assert_eq!(pending.len(), 1);
    assert!(!pending[0].is_done());
}

// ---- as_completed (test_tasks.py) ----

#[test]
fn test_as_completed() {
    run(async {
        let (ea, eb) = (Rc::new(Event::new()), Rc::new(Event::new()));
        let a = spawn({
            let ea = ea.clone();
            async move {
                ea.wait().await;
                'a'
            }
        });
        let b = spawn({
            let eb = eb.clone();
            async move {
                eb.wait().await;
                'b'
            }
        });
        let c = spawn(async { 'c' });
        let mut completed = as_completed([a, b, c]);
        assert_eq!(completed.len(), 3);
        assert_eq!(completed.next().await, Some(Ok('c')));
        eb.set();
        assert_eq!(completed.next().await, Some(Ok('b')));
        ea.set();
        assert_eq!(completed.next().await, Some(Ok('a')));
        assert_eq!(completed.next().await, None);
        assert!(completed.is_empty());
    });
}

#[test]
fn test_as_completed_reverse_wait() {
    // Outcomes come in the order tasks end, not the order given.
    run(async {
        let events: Vec<Rc<Event>> = (0..3).map(|_| Rc::new(Event::new())).collect();
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let e = events[i].clone();
                spawn(async move {
                    e.wait().await;
                    i
                })
            })
            .collect();
        let mut completed = as_completed(tasks);
        let mut order = Vec::new();
        for i in (0..3).rev() {
            events[i].set();
            order.push(completed.next().await.unwrap().unwrap());
        }
        assert_eq!(order, [2, 1, 0]);
    });
}

#[test]
fn test_as_completed_tasks_ending_in_one_turn_come_in_the_order_they_end() {
    // `b` ends a turn before `a`; `a` ends in the turn where the consumer, woken by `b`, runs
    // after it. CPython's queue of done callbacks yields b then a; ours scanned the tasks in
    // input order at each wake-up and yielded a first.
    run(async {
        let a = spawn(async {
            yield_now().await;
            yield_now().await;
            'a'
        });
        let b = spawn(async {
            yield_now().await;
            'b'
        });
        let mut completed = as_completed([a, b]);
        assert_eq!(completed.next().await, Some(Ok('b')));
        assert_eq!(completed.next().await, Some(Ok('a')));
        assert_eq!(completed.next().await, None);
    });
}

#[test]
fn test_as_completed_cancelled_task() {
    run(async {
        let t = spawn(std::future::pending::<()>());
        t.cancel();
        let mut completed = as_completed([t]);
        assert_eq!(completed.next().await, Some(Err(asyncio::Cancelled)));
    });
}

#[test]
fn test_as_completed_next_is_cancel_safe() {
    // A `next()` dropped by a timeout loses no task.
    run(async {
        let event = Rc::new(Event::new());
        let e = event.clone();
        let t = spawn(async move {
            e.wait().await;
            5
        });
        let mut completed = as_completed([t]);
        assert!(asyncio::timeout(Duration::ZERO, completed.next())
            .await
            .is_err());
        event.set();
        assert_eq!(completed.next().await, Some(Ok(5)));
    });
}

#[test]
fn test_as_completed_goes_on_after_a_task_panic_is_caught() {
    // A task's panic resumes in the `next()` that hands its outcome out. Caught there (as a
    // Python loop over as_completed catches the exception a future raises), the iterator
    // still counts that task as handed out and gives the others: it neither waits for it
    // again nor hangs.
    use futures_util::FutureExt;
    run(async {
        let boom = spawn(async {
            yield_now().await;
            if true {
                panic!("boom");
            }
            1
        });
        let fine = spawn(async {
            settle().await;
            2
        });
        let mut completed = as_completed([boom, fine]);
        let caught = std::panic::AssertUnwindSafe(completed.next())
            .catch_unwind()
            .await;
        assert!(caught.is_err(), "the panic resumes in next()");
        assert_eq!(completed.len(), 1, "the panicked task was handed out");
        assert_eq!(completed.next().await, Some(Ok(2)));
        assert_eq!(completed.next().await, None);
    });
}

#[test]
fn l27_test_wait_gives_up_control_even_when_already_satisfied() {
    // CPython 3.11 (probe): `asyncio.wait` awaits its waiter future even when the answer is
    // known: a callback queued before it has run when it returns, for ALL_COMPLETED with all
    // done, FIRST_COMPLETED with one of two done, FIRST_EXCEPTION with a failure, and
    // timeout=0 around a pending future (CPython takes two turns there, the port one).
    run(async {
        let lp = asyncio::get_running_loop().unwrap();
        let event = Rc::new(Event::new());
        let cases: [(&str, ReturnWhen, bool, bool); 4] = [
            ("all done", ReturnWhen::AllCompleted, false, false),
            ("first of two", ReturnWhen::FirstCompleted, true, false),
            ("first exception", ReturnWhen::FirstException, true, false),
            ("timeout 0", ReturnWhen::AllCompleted, true, true),
        ];
        for (case, when, with_stuck, zero) in cases {
            let mut tasks = Vec::new();
            if !(with_stuck && zero) {
                let fails = matches!(when, ReturnWhen::FirstException);
                tasks.push(spawn(async move {
                    match fails {
                        true => Err(bad("exc")),
                        false => Ok(1),
                    }
                }));
            }
            if with_stuck {
                tasks.push(stuck_task(&event));
            }
            settle().await;
            let ran = Rc::new(Cell::new(false));
            let r = ran.clone();
            lp.call_soon(move || r.set(true)).unwrap();
            let mut waiting = wait(tasks, when);
            if zero {
                waiting = waiting.timeout(Duration::ZERO);
            }
            let (done, pending) = waiting.await.unwrap();
            assert!(ran.get(), "{case}: returned without giving up control");
            assert_eq!(
                done.len() + pending.len(),
                1 + usize::from(with_stuck && !zero)
            );
            for t in pending {
                t.cancel();
            }
        }
    });
}
