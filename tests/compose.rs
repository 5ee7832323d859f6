//! Composition (`gather`, `wait`, `as_completed`, `TaskGroup`) and the default executor
//! (`run_in_executor`, `to_thread`), tested as CPython tests its own: ports of the portable
//! cases of `test_asyncio/test_tasks.py` and `test_taskgroups.py`, named after them. Tasks are
//! sequenced with `Event`s, never with time; `settle()` is a fixed number of loop turns so
//! that requested cancellations have landed. Timers appear only as a hang guard and in
//! `wait(..).timeout(..)` around a task that never ends, where the result does not depend on
//! time.

use std::cell::Cell;
use std::collections::HashSet;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use asyncio::{
    as_completed, gather, gather_return_exceptions, run_in_executor, spawn, to_thread, wait,
    yield_now, Error, Event, ReturnWhen, Task, TaskGroup,
};

/// Runs `f` on a fresh loop; the timeout only guards against a hang.
fn run(f: impl Future<Output = ()> + 'static) {
    let guarded = asyncio::timeout(Duration::from_secs(20), f);
    match asyncio::run(guarded).unwrap() {
        Ok(()) => {}
        Err(e) => panic!("the test did not finish: {e} (a lost wakeup?)"),
    }
}

async fn settle() {
    for _ in 0..5 {
        yield_now().await;
    }
}

/// Sets its flag when dropped: proves a task's future was dropped (cancelled or ended).
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A future that waits on `event` forever unless set, and records its own drop.
async fn stuck(event: Rc<Event>, dropped: Rc<Cell<bool>>) -> Result<u32, Error> {
    let _flag = DropFlag(dropped);
    event.wait().await;
    Ok(0)
}

/// Futures of different bodies in one `Vec`, as `gather(*coros)` mixes coroutines.
type BoxFut = std::pin::Pin<Box<dyn Future<Output = Result<u32, Error>>>>;

/// The texts of a TaskGroup's errors; panics on any other outcome.
fn group_messages(got: Result<(), Error>) -> Vec<String> {
    match got {
        Err(Error::Group(errors)) => errors.iter().map(|e| e.to_string()).collect(),
        other => panic!("{other:?}"),
    }
}

fn bad(what: &str) -> Error {
    Error::InvalidArgument(what.to_string())
}

// ---- gather (test_tasks.py, FutureGatherTests / CoroutineGatherTests) ----

#[test]
fn test_constructor_empty_sequence() {
    run(async {
        let none: Vec<std::future::Ready<Result<u8, Error>>> = Vec::new();
        assert!(gather(none).await.unwrap().is_empty());
    });
}

#[test]
fn test_result_exception_success() {
    run(async {
        let futs = (0..5u32).map(|i| async move {
            for _ in 0..(5 - i) {
                yield_now().await; // finish in reverse order
            }
            Ok::<_, Error>(i * 10)
        });
        assert_eq!(gather(futs).await.unwrap(), [0, 10, 20, 30, 40]);
    });
}

#[test]
fn test_one_exception() {
    run(async {
        let event = Rc::new(Event::new());
        let (d1, d3) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
        let futs: Vec<BoxFut> = vec![
            Box::pin(stuck(event.clone(), d1.clone())),
            Box::pin(async { Err(bad("boom")) }),
            Box::pin(stuck(event.clone(), d3.clone())),
        ];
        match gather(futs).await {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "boom"),
            other => panic!("{other:?}"),
        }
        settle().await;
        assert!(d1.get() && d3.get(), "the other tasks were cancelled");
    });
}

#[test]
fn test_return_exceptions() {
    run(async {
        let futs = (0..4i32).map(|i| async move {
            yield_now().await;
            if i % 2 == 1 {
                Err(bad(&format!("odd {i}")))
            } else {
                Ok(i)
            }
        });
        let all = gather_return_exceptions(futs).await;
        assert!(matches!(all[0], Ok(0)));
        assert!(matches!(&all[1], Err(Error::InvalidArgument(m)) if m == "odd 1"));
        assert!(matches!(all[2], Ok(2)));
        assert!(matches!(&all[3], Err(Error::InvalidArgument(m)) if m == "odd 3"));
    });
}

#[test]
fn test_return_exceptions_returns_a_panic_in_place() {
    // gather(return_exceptions=True) returns even a BaseException in its child's place and
    // lets every other child run to its end. A panicking child is `E::from(PanicError)` in
    // its place (`Error::Panic`), as a TaskGroup counts it; it does not unwind into the
    // awaiting task, which would cancel the other children as the gather drops.
    run(async {
        let event = Rc::new(Event::new());
        let dropped = Rc::new(Cell::new(false));
        let opener = event.clone();
        let futs: Vec<BoxFut> = vec![
            Box::pin(async { panic!("child boom") }),
            Box::pin(stuck(event.clone(), dropped.clone())),
            Box::pin(async move {
                settle().await; // after the panic
                opener.set();
                Ok(2)
            }),
        ];
        let all = gather_return_exceptions(futs).await;
        match &all[..] {
            [Err(Error::Panic(p)), Ok(0), Ok(2)] => assert_eq!(p.message(), "child boom"),
            other => panic!("{other:?}"),
        }
        assert!(dropped.get(), "the stuck child ran to its end");
    });
}

#[test]
fn a_gather_awaited_again_after_its_output_gives_no_panic() {
    // Both gathers are Unpin, so `(&mut g).await` twice is a use the type system allows. Their
    // output is handed out once, as a Task's is: again, `gather` gives `Err(Cancelled)` (as a
    // Task handle does) and `gather_return_exceptions` `Err(Cancelled)` in every place (what
    // each task's handle gives then), every time.
    run(async {
        let mut g = gather([async { Ok::<_, Error>(1) }]);
        assert_eq!((&mut g).await.unwrap(), [1]);
        for _ in 0..2 {
            assert!(matches!((&mut g).await, Err(Error::Cancelled)));
        }
        let two = [1, 2].map(|x| async move { Ok::<_, Error>(x) });
        let mut g = gather_return_exceptions(two);
        assert!(matches!((&mut g).await[..], [Ok(1), Ok(2)]));
        for _ in 0..2 {
            let again = (&mut g).await;
            assert!(
                matches!(again[..], [Err(Error::Cancelled), Err(Error::Cancelled)]),
                "{again:?}"
            );
        }
    });
}

#[test]
fn a_gather_polled_again_after_it_resumed_a_panic_gives_cancelled_and_cancels_the_rest() {
    // As a Task handle polled again after it resumed its task's panic: the panic was the
    // output, handed out once. The stuck child is cancelled then, not left running.
    run(async {
        let event = Rc::new(Event::new());
        let dropped = Rc::new(Cell::new(false));
        let futs: Vec<BoxFut> = vec![
            Box::pin(async { panic!("child boom") }),
            Box::pin(stuck(event.clone(), dropped.clone())),
        ];
        let mut g = gather(futs);
        let caught = std::panic::AssertUnwindSafe(async { (&mut g).await });
        let first = catch_unwind_of(caught).await;
        assert!(
            first.is_err(),
            "the child's panic resumed in the awaiting task"
        );
        assert!(matches!((&mut g).await, Err(Error::Cancelled)));
        settle().await;
        assert!(dropped.get(), "the stuck child was cancelled");
    });
}

/// Polls `fut` to its end, catching a panic of any poll.
async fn catch_unwind_of<F: Future>(fut: F) -> std::thread::Result<F::Output> {
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(p) => std::task::Poll::Ready(Err(p)),
        }
    })
    .await
}

#[test]
fn test_one_cancellation() {
    // A child whose awaited task was cancelled fails with Cancelled; gather reports it.
    run(async {
        let inner = spawn(std::future::pending::<u32>());
        inner.cancel();
        let futs: Vec<BoxFut> = vec![
            Box::pin(async { Ok(1) }),
            Box::pin(async move { Ok(inner.await?) }),
        ];
        assert!(matches!(gather(futs).await, Err(Error::Cancelled)));
    });
}

#[test]
fn test_result_exception_one_cancellation() {
    // With return_exceptions the cancellation is collected in place.
    run(async {
        let inner = spawn(std::future::pending::<u32>());
        inner.cancel();
        let futs: Vec<BoxFut> = vec![
            Box::pin(async { Ok(1) }),
            Box::pin(async move { Ok(inner.await?) }),
            Box::pin(async { Err(bad("x")) }),
        ];
        let all = gather_return_exceptions(futs).await;
        assert!(matches!(
            all[..],
            [Ok(1), Err(Error::Cancelled), Err(Error::InvalidArgument(_))]
        ));
    });
}

/// Two children stuck on `event`, and the flags their drops set.
fn two_stuck(event: &Rc<Event>) -> (Vec<BoxFut>, Rc<Cell<bool>>, Rc<Cell<bool>>) {
    let (d1, d2) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    let futs: Vec<BoxFut> = vec![
        Box::pin(stuck(event.clone(), d1.clone())),
        Box::pin(stuck(event.clone(), d2.clone())),
    ];
    (futs, d1, d2)
}

#[test]
fn test_gather_fails_with_the_first_task_to_fail() {
    // CPython's done callbacks run in completion order, so `gather` raises the exception of
    // the child that failed first. Here `b` fails one turn before `a`, and `a` fails in the
    // turn where the gathering task is woken by `b`, before it runs: the gather used to look
    // at the tasks in input order and returned `a`'s error.
    run(async {
        let a: BoxFut = Box::pin(async {
            yield_now().await;
            yield_now().await;
            Err::<u32, _>(bad("a"))
        });
        let b: BoxFut = Box::pin(async {
            yield_now().await;
            Err::<u32, _>(bad("b"))
        });
        match gather(vec![a, b]).await {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "b", "the first to fail"),
            other => panic!("{other:?}"),
        }
    });
}

/// Installs an exception handler on the running loop that records each report's message.
fn record_reports() -> Rc<std::cell::RefCell<Vec<String>>> {
    let reports = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let r = reports.clone();
    asyncio::get_running_loop()
        .unwrap()
        .set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                r.borrow_mut().push(ctx.message.clone());
            },
        ));
    reports
}

#[test]
fn test_gather_a_later_failure_is_not_reported_as_never_retrieved() {
    // Both children fail in one turn; gather returns the first failure. CPython's
    // `_done_callback` calls `fut.exception()` on every child that ends after the outer
    // future is done, so the second failure is never logged as "exception was never
    // retrieved". Here gather's cancel() of the finished child marks it so (L28, L35).
    run(async {
        let reports = record_reports();
        // `Result<(), Error>` outputs: the kind a report names.
        let failing = |what: &'static str| async move {
            yield_now().await;
            Err::<(), _>(bad(what))
        };
        match gather([failing("a"), failing("b")]).await {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, "a"),
            other => panic!("{other:?}"),
        }
        settle().await;
        assert_eq!(*reports.borrow(), Vec::<String>::new());
    });
}

#[test]
fn test_cancel_gather_cancels_children() {
    // Cancelling the task that awaits gather cancels every child (CPython's
    // test_cancel_gather_1 shape).
    run(async {
        let event = Rc::new(Event::new());
        let (futs, d1, d2) = two_stuck(&event);
        let outer = spawn(gather(futs));
        settle().await;
        assert!(!d1.get() && !d2.get());
        outer.cancel();
        settle().await;
        assert!(d1.get() && d2.get(), "children cancelled with the gather");
        assert!(outer.await.is_err());
    });
}

#[test]
fn test_cancel_gather_before_it_runs_cancels_children() {
    // The awaiting task cancelled before its first poll, and a gather dropped unawaited:
    // the children were spawned at once, so they are cancelled too, not left running
    // detached (CPython: cancelling the outer future cancels the children, whenever).
    run(async {
        let event = Rc::new(Event::new());
        let (futs, d1, d2) = two_stuck(&event);
        let outer = spawn(gather(futs));
        outer.cancel();
        settle().await;
        assert!(d1.get() && d2.get(), "children cancelled with the gather");
        assert!(outer.await.is_err());

        let (futs, d3, d4) = two_stuck(&event);
        let unawaited = gather_return_exceptions(futs);
        settle().await; // the children run up to their wait
        assert!(!d3.get() && !d4.get());
        drop(unawaited);
        settle().await;
        assert!(
            d3.get() && d4.get(),
            "children cancelled with the dropped gather"
        );
    });
}

// ---- wait (test_tasks.py) ----

fn ok_task(v: u32) -> asyncio::Task<Result<u32, Error>> {
    spawn(async move {
        yield_now().await;
        Ok(v)
    })
}

fn stuck_task(event: &Rc<Event>) -> asyncio::Task<Result<u32, Error>> {
    spawn(stuck(event.clone(), Rc::new(Cell::new(false))))
}

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
            g.create_task(async move {
                let _flag = DropFlag(tc);
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
                g.create_task(async move {
                    let _flag = DropFlag(flag);
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(())
                })?
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
            g.create_task(async move {
                let _cleanup = CreateOnDrop(g2, r2);
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
            g.create_task(async move {
                let _flag = DropFlag(c);
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
            g.create_task(async move {
                let _flag = DropFlag(c);
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
fn test_taskgroup_cancel_parent_cancels_children() {
    // Cancelling the task around the group cancels the body and every task (test_taskgroup_15
    // shape).
    run(async {
        let child = Rc::new(Cell::new(false));
        let c = child.clone();
        let runner = spawn(TaskGroup::run(|g| async move {
            g.create_task(async move {
                let _flag = DropFlag(c);
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
            g.create_task(async move {
                let _flag = DropFlag(s);
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
                let task = g.create_task(async move {
                    let _flag = DropFlag(c);
                    std::future::pending::<()>().await;
                    Ok::<_, Error>(())
                })?;
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
            g.create_task(async move {
                let _flag = flag;
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
            g.create_task(async move {
                let _flag = flag;
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
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
                g.create_task(async move {
                    let _more = more;
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
            g.create_task(async move {
                let _describe = describe;
                std::future::pending::<()>().await;
                Ok::<_, Error>(())
            })?
            .detach();
            settle().await;
            Err::<(), _>(bad("body"))
        })
        .await;
        assert_eq!(group_messages(got), ["body"]);
        assert_eq!(*seen.borrow(), ["<TaskGroup tasks=1 cancelling>"]);
    });
}

/// A waker that only counts its clones (`Arc::strong_count`).
struct CountedWaker;

impl std::task::Wake for CountedWaker {
    fn wake(self: Arc<Self>) {}
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

// ---- run_in_executor / to_thread (base_events.run_in_executor, threads.to_thread) ----

#[test]
fn run_in_executor_returns_the_result() {
    run(async {
        let v = run_in_executor(|| (1..=10u32).product::<u32>())
            .await
            .unwrap();
        assert_eq!(v, 3_628_800);
        let s = to_thread(|| String::from("from a thread")).await.unwrap();
        assert_eq!(s, "from a thread");
    });
}

#[test]
fn run_in_executor_panic_is_an_error_not_a_crash() {
    run(async {
        match run_in_executor(|| -> u8 { panic!("blocking call failed") }).await {
            Err(Error::Panic(p)) => assert_eq!(p.message(), "blocking call failed"),
            other => panic!("{other:?}"),
        }
        // The pool still works afterwards.
        assert_eq!(run_in_executor(|| 1).await.unwrap(), 1);
    });
}

#[test]
fn run_in_executor_reuses_threads() {
    run(async {
        let mut names = HashSet::new();
        for _ in 0..50 {
            let id = run_in_executor(|| {
                let t = std::thread::current();
                assert_eq!(t.name(), Some("asyncio-executor"));
                format!("{:?}", t.id())
            })
            .await
            .unwrap();
            names.insert(id);
        }
        assert!(
            names.len() <= asyncio::executor_max_threads(),
            "{} threads for 50 calls",
            names.len()
        );
    });
}

#[test]
fn run_in_executor_bounded_pool_queues_work() {
    // More blocking jobs than threads: at most `max` run at once, the rest wait their turn,
    // and every one finishes once released.
    run(async {
        let max = asyncio::executor_max_threads();
        let jobs = max + 3;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let (started_tx, started_rx) = mpsc::channel();
        let futs: Vec<_> = (0..jobs)
            .map(|i| {
                let (running, peak, gate) = (running.clone(), peak.clone(), gate.clone());
                let started = started_tx.clone();
                run_in_executor(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    started.send(i).unwrap();
                    let (open, cv) = &*gate;
                    let mut open = open.lock().unwrap();
                    while !*open {
                        open = cv.wait(open).unwrap();
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        // Blocks the loop thread on purpose: the pool needs no loop to start jobs.
        for _ in 0..max {
            started_rx.recv().unwrap();
        }
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        let results = gather(futs).await.unwrap();
        assert_eq!(results, (0..jobs).collect::<Vec<_>>());
        assert!(
            peak.load(Ordering::SeqCst) <= max,
            "more than {max} ran at once"
        );
    });
}

#[test]
fn run_in_executor_dropped_future_lets_the_job_finish() {
    let (done_tx, done_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    run(async move {
        let fut = run_in_executor(move || {
            go_rx.recv().unwrap();
            done_tx.send("finished").unwrap();
        });
        drop(fut);
        go_tx.send(()).unwrap();
    });
    assert_eq!(done_rx.recv().unwrap(), "finished");
}

#[test]
fn run_in_executor_outside_a_loop_still_delivers() {
    // The future needs only a waker: a loop polls it here after another loop has closed.
    let fut = run_in_executor(|| 9);
    assert_eq!(asyncio::run(fut).unwrap().unwrap(), 9);
}

#[test]
fn set_executor_max_threads_refuses_zero() {
    assert!(matches!(
        asyncio::set_executor_max_threads(0),
        Err(Error::InvalidArgument(_))
    ));
}

// ---- shield (test_tasks.py, BaseTaskTests.test_shield_*) ----

#[test]
fn test_shield_result_and_exception() {
    run(async {
        let mut t = ok_task(42);
        assert!(matches!(asyncio::shield(&mut t).await, Ok(Ok(42))));
        let mut failing = spawn(async { Err::<u32, _>(bad("inner")) });
        match asyncio::shield(&mut failing).await {
            Ok(Err(Error::InvalidArgument(m))) => assert_eq!(m, "inner"),
            other => panic!("the inner failure passes through: {other:?}"),
        }
    });
}

#[test]
fn test_shield_cancel_inner() {
    // Cancelling the shielded task itself still cancels it, and the shield says so.
    run(async {
        let event = Rc::new(Event::new());
        let mut inner = stuck_task(&event);
        assert!(inner.cancel());
        assert!(matches!(
            asyncio::shield(&mut inner).await,
            Err(asyncio::Cancelled)
        ));
    });
}

#[test]
fn test_shield_effect_cancelling_the_waiter_leaves_the_task_running_l33() {
    // CPython's test_shield_effect: cancelling outer() does not affect inner(). Without the
    // shield, dropping a task's handle while awaiting it cancels the task (L33).
    run(async {
        let event = Rc::new(Event::new());
        let dropped = Rc::new(Cell::new(false));
        let finished = Rc::new(Cell::new(false));
        let inner = {
            let (event, dropped, finished) = (event.clone(), dropped.clone(), finished.clone());
            spawn(async move {
                let v = stuck(event, dropped).await;
                finished.set(true);
                v
            })
        };
        let outer = spawn(async move {
            let mut inner = inner;
            let out = asyncio::shield(&mut inner).await;
            out.map(|v| v.map(|n| n + 100))
        });
        settle().await;
        assert!(outer.cancel());
        settle().await;
        assert!(outer.is_done() && outer.is_cancelled());
        assert!(!dropped.get(), "the shielded task runs on");
        event.set();
        settle().await;
        assert!(finished.get() && dropped.get(), "and finishes");
    });
}

#[test]
fn test_shield_under_a_timeout_keeps_the_task_for_a_later_await() {
    // Python's `await asyncio.wait_for(asyncio.shield(task), t)`, then `await task`.
    run(async {
        let event = Rc::new(Event::new());
        let mut task = stuck_task(&event);
        let waited = asyncio::timeout(Duration::ZERO, asyncio::shield(&mut task)).await;
        assert!(matches!(waited, Err(Error::Timeout)), "{waited:?}");
        assert!(!task.is_done());
        event.set();
        assert!(matches!(task.await, Ok(Ok(0))));
    });
}

#[test]
fn l43_a_handle_awaited_again_after_it_gave_its_outcome_gives_cancelled_not_a_panic() {
    // A Python task gives its result to every await. A handle hands its output out once: a
    // handle awaited again after `shield(&mut t)` or `(&mut t).await` returned (each a use the
    // type system allows) gives `Err(Cancelled)` at once, every time.
    run(async {
        let mut t = ok_task(42);
        assert!(matches!(asyncio::shield(&mut t).await, Ok(Ok(42))));
        assert!(t.is_done() && !t.is_cancelled());
        assert!(matches!((&mut t).await, Err(asyncio::Cancelled)));
        assert!(matches!(
            asyncio::shield(&mut t).await,
            Err(asyncio::Cancelled)
        ));
        assert!(matches!(t.await, Err(asyncio::Cancelled)));
    });
}

// ---- a waiter that stops waiting takes its waker back (CPython removes its done callbacks) ----

/// A waker whose clones `Arc::strong_count` counts, and a `Context` over it.
fn counted() -> (Arc<CountedWaker>, std::task::Waker) {
    let counted = Arc::new(CountedWaker);
    let waker = std::task::Waker::from(counted.clone());
    (counted, waker)
}

#[test]
fn test_wait_hands_back_pending_tasks_without_its_waker() {
    // CPython's wait() ends with `f.remove_done_callback(_on_completion)` for every future:
    // a task still pending in the output must not keep (and later wake) the waiter's waker.
    run(async {
        let event = Rc::new(Event::new());
        let (probe, waker) = counted();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut waiting = Box::pin(wait(
            [ok_task(1), stuck_task(&event)],
            ReturnWhen::FirstCompleted,
        ));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        settle().await; // the quick task ends, waking (and dropping) its clone
        let std::task::Poll::Ready(Ok((done, pending))) = waiting.as_mut().poll(&mut cx) else {
            panic!("one task has ended");
        };
        assert_eq!((done.len(), pending.len()), (1, 1));
        drop((waiting, waker));
        assert_eq!(
            Arc::strong_count(&probe),
            1,
            "a pending task keeps the waker"
        );
        event.set();
        for task in pending {
            assert!(matches!(task.await, Ok(Ok(0))));
        }
    });
}

#[test]
fn test_shield_given_up_leaves_no_waker_with_the_task() {
    // The shield's waiter gives up (a timeout, its own cancellation); the task runs on and its
    // join slot must let the waiter's waker go.
    run(async {
        let event = Rc::new(Event::new());
        let mut inner = stuck_task(&event);
        let (probe, waker) = counted();
        let mut shielded = Box::pin(asyncio::shield(&mut inner));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(shielded.as_mut().poll(&mut cx).is_pending());
        drop((shielded, waker));
        assert_eq!(Arc::strong_count(&probe), 1, "the task keeps the waker");
        event.set();
        assert!(matches!(inner.await, Ok(Ok(0))), "the task ran on");
    });
}

#[test]
fn test_as_completed_next_given_up_leaves_no_waker() {
    // A `next()` dropped while pending takes its waker back; the task that ends later is still
    // handed out by the next `next()`.
    run(async {
        let event = Rc::new(Event::new());
        let mut completed = as_completed([stuck_task(&event)]);
        let (probe, waker) = counted();
        {
            let mut next = Box::pin(completed.next());
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(next.as_mut().poll(&mut cx).is_pending());
        }
        drop(waker);
        assert_eq!(Arc::strong_count(&probe), 1, "the iterator keeps the waker");
        event.set();
        assert!(matches!(completed.next().await, Some(Ok(Ok(0)))));
        assert!(completed.next().await.is_none());
    });
}
