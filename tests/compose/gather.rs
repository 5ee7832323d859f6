//! `gather` and `gather_return_exceptions`: ports of test_tasks.py's FutureGatherTests and
//! CoroutineGatherTests.

use super::*;

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
