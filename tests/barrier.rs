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
