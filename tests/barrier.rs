//! `asyncio::Barrier`, ported from CPython 3.11's `BarrierTests` (test_asyncio/test_locks.py):
//! filling, draining, blocking newcomers while draining, cancelled parties, reset and abort.
//! Each test names the CPython test it ports. Tasks step by `yield_now` (Python's
//! `asyncio.sleep(0)`), so every order below is the loop's, not the clock's.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use asyncio::sync::{Barrier, BrokenBarrierError};
use asyncio::{spawn, yield_now, Error, Task};

const N: usize = 5;

fn run<F: std::future::Future<Output = ()> + 'static>(f: F) {
    asyncio::run(f).unwrap();
}

/// Spawns `n` tasks of `body` over one barrier; returns them in spawn order.
fn tasks<F, Fut, T>(n: usize, body: F) -> Vec<Task<T>>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T> + 'static,
    T: 'static,
{
    (0..n).map(|_| spawn(body())).collect()
}

async fn all<T: 'static>(tasks: Vec<Task<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("not cancelled"));
    }
    out
}

#[test]
fn barrier_parties_must_be_positive() {
    // test_barrier_parties
    let e = Barrier::new(0).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert!(e.to_string().contains("parties must be > 0"), "{e}");
    assert_eq!(Barrier::new(N).unwrap().parties(), N);
}

#[test]
fn repr_follows_the_state() {
    // test_repr
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        assert_eq!(format!("{b:?}"), "Barrier [filling, waiters:0/5]");
        let mut waiters = tasks(2, || {
            let b = b.clone();
            async move { b.wait().await }
        });
        yield_now().await;
        assert_eq!(format!("{b:?}"), "Barrier [filling, waiters:2/5]");
        waiters.extend(tasks(N - b.n_waiting(), || {
            let b = b.clone();
            async move { b.wait().await }
        }));
        yield_now().await;
        assert!(format!("{b:?}").starts_with("Barrier [draining"), "{b:?}");
        // Newcomers while it drains, then a reset.
        waiters.extend(tasks(2, || {
            let b = b.clone();
            async move { b.wait().await }
        }));
        yield_now().await;
        b.reset();
        assert!(format!("{b:?}").starts_with("Barrier [resetting"), "{b:?}");
        waiters.extend(tasks(2, || {
            let b = b.clone();
            async move { b.wait().await }
        }));
        yield_now().await;
        b.abort();
        assert_eq!(format!("{b:?}"), "Barrier [broken]");
        assert!(b.broken());
        let outcomes = all(waiters).await;
        assert_eq!(outcomes.len(), 9);
    });
}

#[test]
fn one_party_passes_at_once_and_again() {
    // test_filling_one_task, test_filling_one_task_twice
    run(async {
        let b = Barrier::new(1).unwrap();
        assert_eq!(b.wait().await, Ok(0));
        assert_eq!(b.wait().await, Ok(0));
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.broken());
    });
}

#[test]
fn parties_fill_one_by_one() {
    // test_filling_task_by_task
    run(async {
        let b = Rc::new(Barrier::new(3).unwrap());
        let mut waiting = Vec::new();
        for expect in 1..=2 {
            let b2 = b.clone();
            waiting.push(spawn(async move { b2.wait().await }));
            yield_now().await;
            assert_eq!(b.n_waiting(), expect);
            assert!(format!("{b:?}").contains("filling"));
        }
        let b2 = b.clone();
        waiting.push(spawn(async move { b2.wait().await }));
        let mut indexes: Vec<usize> = all(waiting).await.into_iter().map(Result::unwrap).collect();
        indexes.sort_unstable();
        assert_eq!(indexes, [0, 1, 2]);
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.broken());
    });
}

#[test]
fn every_round_hands_out_each_index_once() {
    // test_filling_tasks_wait_twice, test_filling_tasks_check_return_value
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let rounds = all(tasks(N, || {
            let b = b.clone();
            async move { (b.wait().await.unwrap(), b.wait().await.unwrap()) }
        }))
        .await;
        for round in [0, 1] {
            let mut got: Vec<usize> = rounds
                .iter()
                .map(|r| if round == 0 { r.0 } else { r.1 })
                .collect();
            got.sort_unstable();
            assert_eq!(got, (0..N).collect::<Vec<_>>(), "round {round}");
        }
        assert_eq!(b.n_waiting(), 0);
    });
}

#[test]
fn the_last_party_out_ends_the_drain() {
    // test_draining_state
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let seen = Rc::new(RefCell::new(Vec::new()));
        all(tasks(N, || {
            let (b, seen) = (b.clone(), seen.clone());
            async move {
                b.wait().await.unwrap();
                seen.borrow_mut()
                    .push(format!("{b:?}").contains("draining"));
            }
        }))
        .await;
        let seen = seen.borrow();
        assert_eq!(seen.len(), N);
        assert!(seen[..N - 1].iter().all(|d| *d), "{seen:?}");
        assert!(!seen[N - 1], "the last one out sees it filling again");
        assert_eq!(b.n_waiting(), 0);
    });
}

#[test]
fn newcomers_wait_while_it_drains() {
    // test_blocking_tasks_while_draining
    run(async {
        let rewait = 2;
        let b = Rc::new(Barrier::new(N).unwrap());
        let others = Rc::new(Barrier::new(N - rewait).unwrap());
        let left = Rc::new(Cell::new(rewait));
        all(tasks(N, || {
            let (b, others, left) = (b.clone(), others.clone(), left.clone());
            async move {
                b.wait().await.unwrap();
                if left.get() > 0 {
                    left.set(left.get() - 1);
                    b.wait().await.unwrap();
                } else {
                    others.wait().await.unwrap();
                    b.wait().await.unwrap();
                }
            }
        }))
        .await;
        assert_eq!(b.n_waiting(), 0);
    });
}

#[test]
fn a_cancelled_party_leaves_the_barrier() {
    // test_filling_tasks_cancel_one
    run(async {
        let b = Rc::new(Barrier::new(3).unwrap());
        let passed = Rc::new(Cell::new(0));
        let party = || {
            let (b, passed) = (b.clone(), passed.clone());
            spawn(async move {
                b.wait().await.unwrap();
                passed.set(passed.get() + 1);
            })
        };
        let t1 = party();
        yield_now().await;
        assert_eq!(b.n_waiting(), 1);
        let t2 = party();
        yield_now().await;
        assert_eq!(b.n_waiting(), 2);
        t1.cancel();
        yield_now().await;
        assert_eq!(b.n_waiting(), 1);
        assert!(t1.await.is_err(), "cancelled");
        let t3 = party();
        yield_now().await;
        assert_eq!(b.n_waiting(), 2);
        let t4 = party();
        all(vec![t2, t3, t4]).await;
        assert_eq!(passed.get(), 3);
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.broken());
    });
}

#[test]
fn a_dropped_wait_leaves_the_barrier() {
    // The Rust form of cancellation: the future dropped after it entered.
    run(async {
        let b = Barrier::new(2).unwrap();
        let mut w = Box::pin(b.wait());
        assert!(futures_poll_once(w.as_mut()).is_none());
        assert_eq!(b.n_waiting(), 1);
        drop(w);
        assert_eq!(b.n_waiting(), 0);
        assert_eq!(format!("{b:?}"), "Barrier [filling, waiters:0/2]");
    });
}

#[test]
fn a_wait_polled_again_after_its_end_gives_the_same_output() {
    // Rust's futures may be polled after they complete; ours answers with what it gave,
    // never hangs and never changes the barrier: a party through, one refused at the door,
    // one failed inside. (A re-poll once gave AbortOrReset to all three.)
    run(async {
        let alone = Barrier::new(1).unwrap();
        let mut through = Box::pin(alone.wait());
        assert_eq!(futures_poll_once(through.as_mut()), Some(Ok(0)));
        assert_eq!(futures_poll_once(through.as_mut()), Some(Ok(0)));
        assert_eq!(format!("{alone:?}"), "Barrier [filling, waiters:0/1]");

        let b = Barrier::new(2).unwrap();
        let mut inside = Box::pin(b.wait());
        assert!(futures_poll_once(inside.as_mut()).is_none());
        b.abort();
        let mut at_the_door = Box::pin(b.wait());
        for _ in 0..2 {
            assert_eq!(
                futures_poll_once(at_the_door.as_mut()),
                Some(Err(BrokenBarrierError::Aborted))
            );
            assert_eq!(
                futures_poll_once(inside.as_mut()),
                Some(Err(BrokenBarrierError::AbortOrReset))
            );
        }
        assert_eq!(format!("{b:?}"), "Barrier [broken]");
        b.reset();
        assert_eq!(format!("{b:?}"), "Barrier [filling, waiters:0/2]");
    });
}

/// Polls `f` once with a waker that does nothing; `Some` if it completed.
fn futures_poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn reset_fails_the_parties_inside() {
    // test_reset_barrier, test_reset_barrier_while_tasks_waiting
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        b.reset(); // nobody inside: still filling
        assert!(format!("{b:?}").contains("filling"));
        let waiting = tasks(N - 1, || {
            let b = b.clone();
            async move { b.wait().await }
        });
        yield_now().await;
        let b2 = b.clone();
        spawn(async move { b2.reset() }).detach();
        let outcomes = all(waiting).await;
        assert_eq!(outcomes, vec![Err(BrokenBarrierError::AbortOrReset); N - 1]);
        assert_eq!(b.n_waiting(), 0);
        assert!(!format!("{b:?}").contains("resetting"), "{b:?}");
        assert!(!b.broken());
    });
}

#[test]
fn reset_while_it_drains_then_everyone_meets_again() {
    // test_reset_barrier_while_tasks_draining
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let out = Rc::new(Cell::new(0));
        let (second_ok, second_err, third) = (
            Rc::new(Cell::new(0)),
            Rc::new(Cell::new(0)),
            Rc::new(Cell::new(0)),
        );
        all(tasks(N, || {
            let (b, out) = (b.clone(), out.clone());
            let (ok, err, third) = (second_ok.clone(), second_err.clone(), third.clone());
            async move {
                b.wait().await.unwrap();
                out.set(out.get() + 1);
                if out.get() == N {
                    // The last one out resets, then waits with the others.
                    b.reset();
                    b.wait().await.unwrap();
                } else {
                    match b.wait().await {
                        Ok(_) => ok.set(ok.get() + 1),
                        Err(_) => err.set(err.get() + 1),
                    }
                }
                b.wait().await.unwrap();
                third.set(third.get() + 1);
            }
        }))
        .await;
        assert_eq!(second_ok.get(), N - 1);
        assert_eq!(second_err.get(), 0);
        assert_eq!(third.get(), N);
        assert!(!b.broken());
        assert_eq!(b.n_waiting(), 0);
    });
}

#[test]
fn abort_breaks_it_for_every_party_until_reset() {
    // test_abort_barrier, test_abort_barrier_when_exception_then_resetting
    run(async {
        let b1 = Rc::new(Barrier::new(N).unwrap());
        let b2 = Rc::new(Barrier::new(N).unwrap());
        let (passed, broken, again) = (
            Rc::new(Cell::new(0)),
            Rc::new(Cell::new(0)),
            Rc::new(Cell::new(0)),
        );
        all(tasks(N, || {
            let (b1, b2) = (b1.clone(), b2.clone());
            let (passed, broken, again) = (passed.clone(), broken.clone(), again.clone());
            async move {
                // One party fails after the first meeting and breaks the barrier: those it
                // released and that have not run yet fail their first wait, the others their
                // second.
                let outcome = match b1.wait().await {
                    Ok(i) if i == N / 2 => {
                        b1.abort();
                        None
                    }
                    Ok(_) => Some(b1.wait().await),
                    Err(e) => Some(Err(e)),
                };
                match outcome {
                    Some(Ok(_)) => passed.set(passed.get() + 1),
                    Some(Err(_)) => broken.set(broken.get() + 1),
                    None => {}
                }
                // Everyone out, one resets, everyone meets again on the repaired barrier.
                if b2.wait().await.unwrap() == N / 2 {
                    b1.reset();
                }
                b2.wait().await.unwrap();
                b1.wait().await.unwrap();
                again.set(again.get() + 1);
            }
        }))
        .await;
        assert!(!b1.broken());
        assert_eq!(passed.get(), 0);
        assert_eq!(broken.get(), N - 1);
        assert_eq!(again.get(), N);
        assert_eq!(b1.n_waiting(), 0);
    });
}

#[test]
fn a_broken_barrier_fails_at_the_door_and_converts_to_invalid_state() {
    run(async {
        let b = Barrier::new(2).unwrap();
        b.abort();
        let e = b.wait().await.unwrap_err();
        assert_eq!(e, BrokenBarrierError::Aborted);
        let e: Error = e.into();
        assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
        b.reset();
        assert!(!b.broken());
        assert_eq!(b.n_waiting(), 0);
    });
}

#[test]
fn broken_barrier_errors_carry_cpython_s_two_texts() {
    // locks.py Barrier: a party arriving at a broken barrier gets "Barrier aborted"
    // (`_block`); one inside when the barrier is aborted or reset gets "Abort or reset of
    // barrier" (`_wait`). Both texts survive the conversion to Error::InvalidState.
    run(async {
        let b = Rc::new(Barrier::new(2).unwrap());
        b.abort();
        let at_the_door = b.wait().await.unwrap_err();
        assert_eq!(at_the_door.to_string(), "Barrier aborted");
        let e: Error = at_the_door.into();
        assert!(
            matches!(&e, Error::InvalidState(m) if m == "Barrier aborted"),
            "{e:?}"
        );
        b.reset();
        for breaks in ["abort", "reset"] {
            let inside = {
                let b = b.clone();
                spawn(async move { b.wait().await })
            };
            yield_now().await; // the party is inside, waiting for the second
            assert_eq!(b.n_waiting(), 1, "{breaks}");
            if breaks == "abort" {
                b.abort();
            } else {
                b.reset();
            }
            let e = inside.await.unwrap().unwrap_err();
            assert_eq!(e.to_string(), "Abort or reset of barrier", "{breaks}");
            let e: Error = e.into();
            assert!(
                matches!(&e, Error::InvalidState(m) if m == "Abort or reset of barrier"),
                "{breaks}: {e:?}"
            );
            b.reset();
            yield_now().await;
        }
    });
}

/// Counters shared by the parties of one test (CPython's `results1`, `results2`, `count`).
#[derive(Default)]
struct Tally {
    first: Cell<usize>,
    second: Cell<usize>,
    out: Cell<usize>,
}

impl Tally {
    fn bump(c: &Cell<usize>) -> usize {
        c.set(c.get() + 1);
        c.get()
    }
}

#[test]
fn test_barrier_context_manager() {
    // test_context_manager: `async with barrier as i` is `barrier.wait().await`; every party
    // gets its own index, and the barrier is filling again, unbroken, once all are through.
    run(async {
        let b = Rc::new(Barrier::new(3).unwrap());
        let mut got: Vec<usize> = all(tasks(3, || {
            let b = b.clone();
            async move { b.wait().await.unwrap() }
        }))
        .await;
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(b.n_waiting(), 0);
        assert!(!b.broken());
    });
}

#[test]
fn test_reset_barrier_when_tasks_half_draining() {
    // The party that finds `rest` parties still inside as it leaves the drain resets the
    // barrier: those `rest` parties, released but not yet run, fail. CPython reads the
    // private `_count` (parties inside); here it is `N` less the parties that have left.
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let rest = N / 2;
        let t = Rc::new(Tally::default());
        all(tasks(N, || {
            let (b, t) = (b.clone(), t.clone());
            async move {
                match b.wait().await {
                    Err(_) => drop(Tally::bump(&t.first)),
                    Ok(_) => {
                        if N - Tally::bump(&t.out) == rest {
                            b.reset();
                        }
                    }
                }
            }
        }))
        .await;
        assert_eq!(t.first.get(), rest);
        assert_eq!(b.n_waiting(), 0);
        assert!(!format!("{b:?}").contains("resetting"), "{b:?}");
        assert!(!b.broken());
    });
}

#[test]
fn test_reset_barrier_when_tasks_half_draining_half_blocking() {
    // The first parties out of the drain wait again at the door; the third resets, failing
    // the two still inside; everyone then meets on the repaired barrier. No party blocked
    // at the door fails (CPython's `results2` stays empty).
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let blocking = N / 2;
        let t = Rc::new(Tally::default());
        all(tasks(N, || {
            let (b, t) = (b.clone(), t.clone());
            async move {
                match b.wait().await {
                    Err(_) => {
                        Tally::bump(&t.first);
                        b.wait().await.unwrap();
                    }
                    Ok(_) if Tally::bump(&t.out) > blocking => {
                        b.reset();
                        b.wait().await.unwrap();
                    }
                    Ok(_) => {
                        if b.wait().await.is_err() {
                            Tally::bump(&t.second);
                        }
                    }
                }
            }
        }))
        .await;
        assert_eq!(t.first.get(), blocking);
        assert_eq!(t.second.get(), 0);
        assert_eq!(b.n_waiting(), 0);
        assert!(!format!("{b:?}").contains("resetting"), "{b:?}");
        assert!(!b.broken());
    });
}

#[test]
fn test_reset_barrier_while_tasks_waiting_and_waiting_again() {
    // N-1 parties inside fail on a reset and wait again (CPython's `finally`); one more party
    // completes the next round for all of them.
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let t = Rc::new(Tally::default());
        let waiting = tasks(N - 1, || {
            let (b, t) = (b.clone(), t.clone());
            async move {
                if b.wait().await.is_err() {
                    Tally::bump(&t.first);
                }
                b.wait().await.unwrap();
                Tally::bump(&t.second);
            }
        });
        yield_now().await;
        let b2 = b.clone();
        spawn(async move { b2.reset() }).detach();
        yield_now().await;
        let (b2, t2) = (b.clone(), t.clone());
        spawn(async move {
            b2.wait().await.unwrap();
            Tally::bump(&t2.second);
        })
        .detach();
        all(waiting).await;
        assert!(!b.broken());
        assert_eq!(t.first.get(), N - 1);
        assert_eq!(t.second.get(), N);
        assert_eq!(b.n_waiting(), 0);
    });
}

#[test]
fn test_abort_barrier_when_tasks_half_draining_half_blocking() {
    // The first parties out of the drain wait again at the door; the third aborts: the two
    // still inside fail with "Abort or reset", the two at the door with "Barrier aborted".
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let blocking = N / 2;
        let t = Rc::new(Tally::default());
        let outcomes = all(tasks(N, || {
            let (b, t) = (b.clone(), t.clone());
            async move {
                match b.wait().await {
                    Err(e) => {
                        Tally::bump(&t.first);
                        Some(e)
                    }
                    Ok(_) if Tally::bump(&t.out) > blocking => {
                        b.abort();
                        None
                    }
                    Ok(_) => {
                        let again = b.wait().await.err();
                        if again.is_some() {
                            Tally::bump(&t.second);
                        }
                        again
                    }
                }
            }
        }))
        .await;
        assert!(b.broken());
        assert_eq!(t.first.get(), blocking);
        assert_eq!(t.second.get(), N - blocking - 1);
        let inside = outcomes
            .iter()
            .filter(|e| **e == Some(BrokenBarrierError::AbortOrReset))
            .count();
        assert_eq!(inside, blocking, "{outcomes:?}");
        assert_eq!(b.n_waiting(), 0);
        assert!(!format!("{b:?}").contains("resetting"), "{b:?}");
    });
}

#[test]
fn test_abort_barrier_when_exception() {
    // One party fails between two meetings and aborts the barrier: every other party fails,
    // none passes the second meeting.
    run(async {
        let b = Rc::new(Barrier::new(N).unwrap());
        let t = Rc::new(Tally::default());
        all(tasks(N, || {
            let (b, t) = (b.clone(), t.clone());
            async move {
                let second = match b.wait().await {
                    Ok(i) if i == N / 2 => {
                        b.abort(); // CPython: RuntimeError raised, caught, abort()
                        return;
                    }
                    Ok(_) => b.wait().await,
                    Err(e) => Err(e),
                };
                match second {
                    Ok(_) => Tally::bump(&t.first),
                    Err(_) => Tally::bump(&t.second),
                };
            }
        }))
        .await;
        assert!(b.broken());
        assert_eq!(t.first.get(), 0);
        assert_eq!(t.second.get(), N - 1);
        assert_eq!(b.n_waiting(), 0);
    });
}

// ---- against CPython's traces ------------------------------------------------------------

/// Scripts of barrier operations and the trace CPython 3.11.7 gives for each, printed by
/// `tests/cpython_traces/barrier.py` (3.12.1 prints the same; 3.13.0 differs in one script,
/// in the order two parties inside learn of a reset, from its reworked `Condition`). Each step is one
/// operation from a driver task followed by one loop turn (`await asyncio.sleep(0)`), then
/// the barrier's repr: `S` spawns a party that waits twice and logs `p<id>.<n>=<index>`, or
/// `=A` ("Barrier aborted") / `=R` ("Abort or reset of barrier"); a digit `k` cancels party
/// `k` (if spawned); `R` resets; `A` aborts; `Y` only turns. At the end every party is
/// cancelled and the loop turns three times. The trace is the log and the reprs, in order.
const CPYTHON_TRACES: &[(usize, &str, &str)] = &[
    (3, "04Y2S01", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3]"),
    (2, "S1S3AS31SSY", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=A p0.1=R [broken] p2.0=A p2.1=A [broken] [broken] [broken] p3.0=A p3.1=A [broken] p4.0=A p4.1=A [broken] [broken] [broken]"),
    (2, "4SSS4YYYS3", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] p1.1=1 [draining, waiters:0/2] p2.1=0 [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (2, "R4ASSSS", "[filling, waiters:0/2] [filling, waiters:0/2] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] [broken]"),
    (3, "2S5SSYY20", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] p0.1=2 [draining, waiters:0/3] p1.1=0 [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3]"),
    (2, "1RSS1S2SS542", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] [filling, waiters:1/2] p4.0=1 [draining, waiters:0/2] p3.0=0 [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (3, "0SYS12YRS", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] p0.0=R [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (2, "5Y4ASSSSSR5Y0R", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] p4.0=A p4.1=A [broken] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (3, "515SRYS3SA", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] p0.0=R [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.1=R p1.0=R p1.1=A p2.1=A [broken] [broken]"),
    (3, "1YSS2SYSY", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] p0.1=2 [draining, waiters:0/3] p1.1=0 p2.1=1 [filling, waiters:0/3] [filling, waiters:0/3]"),
    (3, "AS3A", "[broken] p0.0=A p0.1=A [broken] [broken] [broken] [broken]"),
    (2, "23SSY0RA", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=1 [filling, waiters:0/2] [filling, waiters:0/2] [broken] [broken]"),
    (2, "S32A", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p0.0=R p0.1=A [broken] [broken]"),
    (2, "S4YSYYYS", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (3, "AS5SSS4S3", "[broken] p0.0=A p0.1=A [broken] [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] [broken] p4.0=A p4.1=A [broken] [broken] [broken]"),
    (2, "35YARYSS524", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [broken] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] [filling, waiters:0/2]"),
    (2, "40Y3SS3AY4SY", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=A p0.1=R [broken] [broken] [broken] p2.0=A p2.1=A [broken] [broken] [broken]"),
    (2, "SS2SSSSSSS", "[filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p3.0=0 p5.0=1 [draining, waiters:0/2] p3.1=0 [filling, waiters:1/2] p5.1=1 [draining, waiters:0/2] p6.0=0 p8.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "S5S1R0SSAS", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p0.1=R [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p3.0=1 [draining, waiters:0/2] p2.0=R p2.1=A p3.1=A [broken] p4.0=A p4.1=A [broken] [broken]"),
    (2, "4SS1SYS4R021", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] p3.0=1 [draining, waiters:0/2] p2.1=0 [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (3, "YASSS120430Y1S", "[filling, waiters:0/3] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] [broken] [broken] [broken] [broken] [broken] [broken] [broken] [broken] p3.0=A p3.1=A [broken] [broken]"),
    (3, "4RSSS5", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "5Y5S1AYS55YS", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] p0.0=R p0.1=A [broken] [broken] p1.0=A p1.1=A [broken] [broken] [broken] [broken] p2.0=A p2.1=A [broken] [broken]"),
    (3, "02SYSASY", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] p0.0=R p0.1=A p1.0=R p1.1=A [broken] p2.0=A p2.1=A [broken] [broken] [broken]"),
    (2, "SYY1S1Y12SS1", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (3, "3S53SAR5R3Y", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] p0.0=R p0.1=A p1.0=R p1.1=A [broken] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3]"),
    (2, "YS4S00AS4S2ASS", "[filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.1=R [broken] p2.0=A p2.1=A [broken] [broken] p3.0=A p3.1=A [broken] [broken] [broken] p4.0=A p4.1=A [broken] p5.0=A p5.1=A [broken] [broken]"),
    (2, "5SS1S", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "3SSY4YR", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (3, "00YRSYS0S4", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (2, "Y412S4SS", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "SS15", "[filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (2, "0S430YS2YRSSSS", "[filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=R [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p1.1=0 [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] p3.0=0 p5.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "SY01SSSYRS", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p1.0=0 p3.0=1 [draining, waiters:0/2] p1.1=0 [filling, waiters:0/2] p2.1=1 [draining, waiters:0/2] p3.1=0 [filling, waiters:1/2] [filling, waiters:0/2]"),
    (2, "3RSSY1", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (3, "22RSS2Y4RSSY", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] p0.0=R p1.0=R [filling, waiters:1/3] p2.0=2 [draining, waiters:0/3] p1.1=0 p0.1=1 [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (3, "2SS1Y0S0S0", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (3, "S45SS4", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] [filling, waiters:0/3]"),
    (2, "SYSS3", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] [filling, waiters:0/2]"),
    (2, "SYAS", "[filling, waiters:1/2] [filling, waiters:1/2] p0.0=R p0.1=A [broken] p1.0=A p1.1=A [broken] [broken]"),
    (3, "SSSSSSS4YRSSS", "[filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:2/3] p2.1=2 [draining, waiters:0/3] p1.1=0 p3.0=1 [filling, waiters:2/3] p0.1=2 [draining, waiters:0/3] p3.1=0 p5.0=1 [filling, waiters:1/3] [filling, waiters:2/3] p5.1=R p6.0=R [filling, waiters:1/3] [filling, waiters:2/3] p8.0=2 [draining, waiters:0/3] p6.1=0 p7.0=1 [filling, waiters:2/3] [filling, waiters:0/3]"),
    (3, "SSSSY", "[filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:2/3] p2.1=2 [draining, waiters:0/3] [filling, waiters:0/3]"),
    (3, "Y2SYYY3ASASY2S", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] p0.0=R p0.1=A [broken] p1.0=A p1.1=A [broken] [broken] p2.0=A p2.1=A [broken] [broken] [broken] p3.0=A p3.1=A [broken] [broken]"),
    (2, "S05SSYYAR34", "[filling, waiters:1/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p1.0=0 [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] p1.1=R [broken] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (3, "153Y0Y3YAS", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [broken] p0.0=A p0.1=A [broken] [broken]"),
    (2, "S22SSSR01ASS3R", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] p3.0=R [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] p3.1=0 [filling, waiters:0/2] [broken] p4.0=A p4.1=A [broken] p5.0=A p5.1=A [broken] [broken] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (3, "S04SASSS", "[filling, waiters:1/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] p1.0=R p1.1=A [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] p4.0=A p4.1=A [broken] [broken]"),
    (3, "0YSY3", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "SSY55RSSY", "[filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] p0.0=R p1.0=R [filling, waiters:1/3] p2.0=2 [draining, waiters:0/3] p1.1=0 p0.1=1 [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (3, "5A2SS0SS5", "[filling, waiters:0/3] [broken] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] [broken] [broken]"),
    (3, "YSAYYSSA", "[filling, waiters:0/3] [filling, waiters:1/3] p0.0=R p0.1=A [broken] [broken] [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] [broken] [broken]"),
    (3, "SY024S", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "SS2AY", "[filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] p0.0=R p0.1=A p1.0=R p1.1=A [broken] [broken] [broken]"),
    (3, "AYSASYYY3", "[broken] [broken] p0.0=A p0.1=A [broken] [broken] p1.0=A p1.1=A [broken] [broken] [broken] [broken] [broken] [broken]"),
    (3, "3SSSYSYR", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] p0.1=2 [draining, waiters:0/3] p1.1=0 p2.1=1 [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:0/3]"),
    (2, "SYSS45SSSY1", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] p1.1=1 [draining, waiters:0/2] p2.1=0 [filling, waiters:1/2] p4.0=1 [draining, waiters:0/2] p3.0=0 p5.0=1 [draining, waiters:0/2] p3.1=0 [filling, waiters:0/2] p4.1=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (3, "2SSA", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] p0.0=R p0.1=A p1.0=R p1.1=A [broken] [broken]"),
    (3, "S35RSYY0", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] p0.0=R [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "S213S35SSS3", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:2/3] p2.1=2 [draining, waiters:0/3] p1.1=0 [filling, waiters:0/3] [filling, waiters:0/3]"),
    (3, "2SSSY", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] [filling, waiters:0/3]"),
];

/// As [`CPYTHON_TRACES`], with `barrier.py 60 --same-turn`: a cancellation, a reset and an
/// abort take no loop turn, so the next operation comes before the parties they touched have
/// run (2000 wider scripts of seed 9 matched too).
const CPYTHON_SAME_TURN_TRACES: &[(usize, &str, &str)] = &[
    (3, "04Y2S01", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:0/3]"),
    (2, "S1S3AS31SSY", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [broken] p0.0=R p0.1=A p1.1=A p2.0=A p2.1=A [broken] [broken] [broken] p3.0=A p3.1=A [broken] p4.0=A p4.1=A [broken] [broken] [broken]"),
    (2, "4SSS4YYYS3", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] p1.1=1 [draining, waiters:0/2] p2.1=0 [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (2, "R4ASSSS", "[filling, waiters:0/2] [filling, waiters:0/2] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] [broken]"),
    (3, "2S5SSYY20", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] p0.1=2 [draining, waiters:0/3] [draining, waiters:0/3] [draining, waiters:0/3] [filling, waiters:0/3]"),
    (2, "1RSS1S2SS542", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] p4.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [draining, waiters:0/2] [draining, waiters:0/2] [filling, waiters:0/2]"),
    (3, "0SYS12YRS", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:1/3] [resetting, waiters:0/3] p0.0=R [filling, waiters:2/3] [filling, waiters:0/3]"),
    (2, "5Y4ASSSSSR5Y0R", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] p4.0=A p4.1=A [broken] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (3, "515SRYS3SA", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [resetting, waiters:0/3] p0.0=R [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] [broken] [broken]"),
    (3, "1YSS2SYSY", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] p0.1=2 [draining, waiters:0/3] p1.1=0 p2.1=1 [filling, waiters:0/3] [filling, waiters:0/3]"),
    (3, "AS3A", "[broken] p0.0=A p0.1=A [broken] [broken] [broken] [broken]"),
    (2, "23SSY0RA", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] [filling, waiters:1/2] [resetting, waiters:0/2] [broken] [broken]"),
    (2, "S32A", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [broken] [broken]"),
    (2, "S4YSYYYS", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] p1.1=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (3, "AS5SSS4S3", "[broken] p0.0=A p0.1=A [broken] [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] [broken] p4.0=A p4.1=A [broken] [broken] [broken]"),
    (2, "35YARYSS524", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [broken] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [draining, waiters:0/2] [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "40Y3SS3AY4SY", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [broken] p0.0=R p0.1=A p1.1=A [broken] [broken] p2.0=A p2.1=A [broken] [broken] [broken]"),
    (2, "SS2SSSSSSS", "[filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] p3.0=0 p5.0=1 [draining, waiters:0/2] p3.1=0 [filling, waiters:1/2] p5.1=1 [draining, waiters:0/2] p6.0=0 p8.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "S5S1R0SSAS", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [resetting, waiters:0/2] [resetting, waiters:0/2] [filling, waiters:1/2] p3.0=1 [draining, waiters:0/2] [broken] p2.0=R p2.1=A p3.1=A p4.0=A p4.1=A [broken] [broken]"),
    (2, "4SS1SYS4R021", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:0/2] p3.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [resetting, waiters:0/2] [resetting, waiters:0/2] [resetting, waiters:0/2] [resetting, waiters:0/2] [filling, waiters:0/2]"),
    (3, "YASSS120430Y1S", "[filling, waiters:0/3] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] [broken] [broken] [broken] [broken] [broken] [broken] [broken] [broken] p3.0=A p3.1=A [broken] [broken]"),
    (3, "4RSSS5", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] [draining, waiters:0/3] [filling, waiters:0/3]"),
    (3, "5Y5S1AYS55YS", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [broken] p0.0=R p0.1=A [broken] p1.0=A p1.1=A [broken] [broken] [broken] [broken] p2.0=A p2.1=A [broken] [broken]"),
    (3, "02SYSASY", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [broken] p0.0=R p0.1=A p1.0=R p1.1=A p2.0=A p2.1=A [broken] [broken] [broken]"),
    (2, "SYY1S1Y12SS1", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (3, "3S53SAR5R3Y", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [broken] [resetting, waiters:0/3] [resetting, waiters:0/3] [resetting, waiters:0/3] [resetting, waiters:0/3] p0.0=R p1.0=R [filling, waiters:1/3] [filling, waiters:0/3]"),
    (2, "YS4S00AS4S2ASS", "[filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [draining, waiters:0/2] [broken] p1.1=A p2.0=A p2.1=A [broken] [broken] p3.0=A p3.1=A [broken] [broken] [broken] p4.0=A p4.1=A [broken] p5.0=A p5.1=A [broken] [broken]"),
    (2, "5SS1S", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "3SSY4YR", "[filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] [filling, waiters:1/2] p1.1=1 [draining, waiters:0/2] [resetting, waiters:0/2] [filling, waiters:0/2]"),
    (3, "00YRSYS0S4", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (2, "Y412S4SS", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "SS15", "[filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "0S430YS2YRSSSS", "[filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [resetting, waiters:0/2] p1.0=R p2.0=1 [draining, waiters:0/2] p1.1=0 [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] p3.0=0 p5.0=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "SY01SSSYRS", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p1.0=0 p3.0=1 [draining, waiters:0/2] p1.1=0 [filling, waiters:0/2] [filling, waiters:0/2] p2.1=1 [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "3RSSY1", "[filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:0/2]"),
    (3, "22RSS2Y4RSSY", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [resetting, waiters:0/3] p0.0=R p1.0=R [filling, waiters:2/3] p0.1=2 [draining, waiters:0/3] p1.1=0 p2.0=1 [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "2SS1Y0S0S0", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (3, "S45SS4", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] [draining, waiters:0/3] [filling, waiters:0/3]"),
    (2, "SYSS3", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [filling, waiters:0/2]"),
    (2, "SYAS", "[filling, waiters:1/2] [filling, waiters:1/2] [broken] p0.0=R p0.1=A p1.0=A p1.1=A [broken] [broken]"),
    (3, "SSSSSSS4YRSSS", "[filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:2/3] p2.1=2 [draining, waiters:0/3] p1.1=0 p3.0=1 [filling, waiters:2/3] p0.1=2 [draining, waiters:0/3] [draining, waiters:0/3] p3.1=0 p5.0=1 [filling, waiters:1/3] [resetting, waiters:0/3] p5.1=R [filling, waiters:1/3] p8.0=2 [draining, waiters:0/3] p7.0=0 p6.0=1 [filling, waiters:2/3] [filling, waiters:0/3]"),
    (3, "SSSSY", "[filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:2/3] p2.1=2 [draining, waiters:0/3] [filling, waiters:0/3]"),
    (3, "Y2SYYY3ASASY2S", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [broken] p0.0=R p0.1=A p1.0=A p1.1=A [broken] [broken] p2.0=A p2.1=A [broken] [broken] [broken] p3.0=A p3.1=A [broken] [broken]"),
    (2, "S05SSYYAR34", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p2.0=1 [draining, waiters:0/2] p1.0=0 [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] [broken] [resetting, waiters:0/2] [resetting, waiters:0/2] [resetting, waiters:0/2] [filling, waiters:0/2]"),
    (3, "153Y0Y3YAS", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3] [broken] p0.0=A p0.1=A [broken] [broken]"),
    (2, "S22SSSR01ASS3R", "[filling, waiters:1/2] [filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] [resetting, waiters:0/2] [resetting, waiters:0/2] [resetting, waiters:0/2] [broken] p2.1=A p3.0=R p3.1=A p4.0=A p4.1=A [broken] p5.0=A p5.1=A [broken] [broken] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (3, "S04SASSS", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [broken] p1.0=R p1.1=A p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] p4.0=A p4.1=A [broken] [broken]"),
    (3, "0YSY3", "[filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "SSY55RSSY", "[filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [resetting, waiters:0/3] p0.0=R p1.0=R [filling, waiters:2/3] p0.1=2 [draining, waiters:0/3] p1.1=0 p2.0=1 [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "5A2SS0SS5", "[filling, waiters:0/3] [broken] [broken] p0.0=A p0.1=A [broken] p1.0=A p1.1=A [broken] [broken] p2.0=A p2.1=A [broken] p3.0=A p3.1=A [broken] [broken] [broken]"),
    (3, "YSAYYSSA", "[filling, waiters:0/3] [filling, waiters:1/3] [broken] p0.0=R p0.1=A [broken] [broken] p1.0=A p1.1=A [broken] p2.0=A p2.1=A [broken] [broken] [broken]"),
    (3, "SY024S", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:0/3]"),
    (3, "SS2AY", "[filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [broken] p0.0=R p0.1=A p1.0=R p1.1=A [broken] [broken]"),
    (3, "AYSASYYY3", "[broken] [broken] p0.0=A p0.1=A [broken] [broken] p1.0=A p1.1=A [broken] [broken] [broken] [broken] [broken] [broken]"),
    (3, "3SSSYSYR", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] p0.1=2 [draining, waiters:0/3] p1.1=0 p2.1=1 [filling, waiters:0/3] [filling, waiters:0/3] [filling, waiters:0/3]"),
    (2, "SYSS45SSSY1", "[filling, waiters:1/2] [filling, waiters:1/2] p1.0=1 [draining, waiters:0/2] p0.0=0 p2.0=1 [draining, waiters:0/2] [draining, waiters:0/2] [draining, waiters:0/2] p0.1=0 [filling, waiters:1/2] p2.1=1 [draining, waiters:0/2] p3.0=0 p5.0=1 [draining, waiters:0/2] p3.1=0 [filling, waiters:0/2] [filling, waiters:0/2] [filling, waiters:0/2]"),
    (3, "2SSA", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] [broken] [broken]"),
    (3, "S35RSYY0", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [resetting, waiters:0/3] p0.0=R [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:0/3]"),
    (3, "S213S35SSS3", "[filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:1/3] [filling, waiters:2/3] [filling, waiters:2/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:2/3] p2.1=2 [draining, waiters:0/3] [draining, waiters:0/3] [filling, waiters:0/3]"),
    (3, "2SSSY", "[filling, waiters:0/3] [filling, waiters:1/3] [filling, waiters:2/3] p2.0=2 [draining, waiters:0/3] p0.0=0 p1.0=1 [filling, waiters:1/3] [filling, waiters:0/3]"),
];

/// Runs one script on our barrier; returns its trace in CPython's form.
fn trace(parties: usize, script: &str, same_turn: bool) -> String {
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let out = log.clone();
    let script = script.to_string();
    run(async move {
        let b = Rc::new(Barrier::new(parties).unwrap());
        let snap = |b: &Barrier| {
            let repr = format!("{b:?}");
            log.borrow_mut()
                .push(repr.trim_start_matches("Barrier ").to_string());
        };
        let mut parties: Vec<Task<()>> = Vec::new();
        for op in script.chars() {
            match op {
                'S' => {
                    let (b, log, id) = (b.clone(), log.clone(), parties.len());
                    parties.push(spawn(async move {
                        for n in 0..2 {
                            let r = match b.wait().await {
                                Ok(i) => i.to_string(),
                                Err(BrokenBarrierError::Aborted) => "A".into(),
                                Err(_) => "R".into(),
                            };
                            log.borrow_mut().push(format!("p{id}.{n}={r}"));
                        }
                    }));
                }
                'R' => b.reset(),
                'A' => b.abort(),
                'Y' => {}
                k => {
                    let k = k.to_digit(10).unwrap() as usize;
                    if let Some(t) = parties.get(k) {
                        t.cancel();
                    }
                }
            }
            if !(same_turn && (op.is_ascii_digit() || op == 'R' || op == 'A')) {
                yield_now().await;
            }
            snap(&b);
        }
        for t in &parties {
            t.cancel();
        }
        for _ in 0..3 {
            yield_now().await;
        }
        snap(&b);
    });
    let trace = out.borrow().join(" ");
    trace
}

#[test]
fn the_barrier_follows_cpython_step_by_step() {
    for (table, same_turn) in [(CPYTHON_TRACES, false), (CPYTHON_SAME_TURN_TRACES, true)] {
        for &(parties, script, expected) in table {
            assert_eq!(
                trace(parties, script, same_turn),
                expected,
                "parties {parties}, script {script}, same turn: {same_turn}"
            );
        }
    }
}
