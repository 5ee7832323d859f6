//! A zero or past deadline around a future that must wait (L27, L39): the wrapper gives up
//! control for one iteration before it fails, as CPython's `timeout` delivers its
//! cancellation from a `call_soon`. Failing at once let a task that retries in a loop spin
//! without ever letting the task it waits for run: a hang in a loop without a bound. A scope
//! stays active until that queued expiry runs, so a `reschedule` queued before it rescues it.
//!
//! CPython 3.11 (probe):
//! ```text
//! q = asyncio.Queue()
//! async def producer(): await asyncio.sleep(0); q.put_nowait(7)
//! asyncio.create_task(producer())
//! for i in range(1000):
//!     try:
//!         async with asyncio.timeout(0): v = await q.get()
//!         break                    # got 7 after 1 timeout
//!     except TimeoutError: pass
//! ```

use super::*;
use asyncio::{timeout, timeout_at, Queue};

/// How many tries a retry loop gets: the item is there after two iterations, so a loop
/// that lets the producer run has it long before this.
const TRIES: usize = 100;

/// A queue and a task that puts 7 in it after giving up control once.
fn queue_filled_soon() -> Rc<Queue<u8>> {
    let q = Rc::new(Queue::new(0));
    let q2 = q.clone();
    spawn(async move {
        asyncio::yield_now().await;
        q2.put_nowait(7).unwrap();
    })
    .detach();
    q
}

#[test]
fn l39_a_retry_loop_on_a_zero_timeout_lets_the_producer_run() {
    run(async {
        let q = queue_filled_soon();
        let mut got = None;
        for _ in 0..TRIES {
            if let Ok(v) = asyncio::timeout(Duration::ZERO, q.get()).await {
                got = Some(v);
                break;
            }
        }
        assert_eq!(
            got,
            Some(7),
            "timeout(0) never gave up control in {TRIES} tries"
        );
    });
}

#[test]
fn l39_a_retry_loop_on_a_past_timeout_at_lets_the_producer_run() {
    run(async {
        let lp = get_running_loop().unwrap();
        let past = lp.time().checked_sub(HOUR).unwrap_or(lp.time());
        let q = queue_filled_soon();
        let mut got = None;
        for _ in 0..TRIES {
            if let Ok(v) = timeout_at(past, q.get()).await {
                got = Some(v);
                break;
            }
        }
        assert_eq!(got, Some(7), "a past timeout_at never gave up control");
    });
}

#[test]
fn l39_a_retry_loop_on_a_zero_timeout_scope_lets_the_producer_run() {
    run(async {
        let q = queue_filled_soon();
        let mut got = None;
        for _ in 0..TRIES {
            if let Ok(v) = timeout_scope(Duration::ZERO, |_| q.get()).await {
                got = Some(v);
                break;
            }
        }
        assert_eq!(got, Some(7), "timeout_scope(0) never gave up control");
    });
}

/// Pending at its first poll (waking its task at once), ready at the next: `sleep(0)`; counts
/// its polls.
struct ReadyOnSecondPoll(Rc<Cell<u32>>);

impl std::future::Future for ReadyOnSecondPoll {
    type Output = ();

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        self.0.set(self.0.get() + 1);
        if self.0.get() > 1 {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

#[test]
fn l39_an_expired_zero_timeout_runs_what_was_queued_before_it_fails() {
    // The callback queued before the wrapper's yield runs before the wrapper fails, and the
    // inner future is not polled again (its output, ready by then, is dropped: `timeout(0)`
    // around `sleep(0)` fails, as in CPython).
    run(async {
        let lp = get_running_loop().unwrap();
        for scope in [false, true] {
            let ran = Rc::new(Cell::new(false));
            let r = ran.clone();
            lp.call_soon(move || r.set(true)).unwrap();
            let polls = Rc::new(Cell::new(0));
            let inner = ReadyOnSecondPoll(polls.clone());
            let out = if scope {
                timeout_scope(Duration::ZERO, |_| inner).await
            } else {
                timeout(Duration::ZERO, inner).await
            };
            assert!(matches!(out, Err(Error::Timeout)), "scope {scope}: {out:?}");
            assert!(ran.get(), "scope {scope}: failed without giving up control");
            assert_eq!(
                polls.get(),
                1,
                "scope {scope}: polled again after the deadline"
            );
        }
    });
}

#[test]
fn l40_two_zero_scopes_nested_the_outer_one_converts() {
    // CPython 3.11 (probe): `async with timeout(0) as outer: async with timeout(0) as inner:
    // await sleep(1)` raises TimeoutError from the outer scope, the inner one passing the
    // cancellation through; both are expired. Each scope here yields once before it fails,
    // so the outer one, failing at its next poll without polling its body, ends first.
    run(async {
        let (outer, inner) = (Rc::new(RefCell::new(None)), Rc::new(RefCell::new(None)));
        let (o, i) = (outer.clone(), inner.clone());
        let r = timeout_scope(Duration::ZERO, |t1| async move {
            keep(&o, &t1);
            timeout_scope(Duration::ZERO, |t2| async move {
                keep(&i, &t2);
                sleep(HOUR).await;
            })
            .await
        })
        .await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert!(inner.borrow().as_ref().unwrap().expired());
        assert!(outer.borrow().as_ref().unwrap().expired());
    });
}

/// `reschedule(Some(an hour on))` on the scope in `slot`, as text: "rescheduled" or the error.
fn move_an_hour_on(slot: &Rc<RefCell<Option<Timeout>>>) -> String {
    let lp = get_running_loop().unwrap();
    let t = slot.borrow().clone().expect("the scope has begun");
    match t.reschedule(Some(lp.time() + HOUR)) {
        Ok(()) => "rescheduled".to_string(),
        Err(e) => e.to_string(),
    }
}

/// Task A runs a zero scope around a wait on `ev`; task B moves A's deadline an hour on and
/// sets `ev`. With `b_first_queued`, B is queued before A's scope files its alarm.
async fn zero_scope_and_a_rescuer(b_first_queued: bool) -> (Result<(), Error>, String) {
    let (slot, ev) = (Rc::new(RefCell::new(None)), Rc::new(asyncio::Event::new()));
    let (s, e) = (slot.clone(), ev.clone());
    let a = spawn(timeout_scope(Duration::ZERO, move |t| async move {
        keep(&s, &t);
        e.wait().await;
    }));
    let rescuer = {
        let (s, e) = (slot.clone(), ev.clone());
        move || async move {
            let r = move_an_hour_on(&s);
            e.set();
            r
        }
    };
    let b = if b_first_queued {
        spawn(rescuer())
    } else {
        asyncio::yield_now().await; // A has entered its scope and queued its alarm
        spawn(rescuer())
    };
    (a.await.unwrap(), b.await.unwrap())
}

#[test]
fn l40_a_zero_scope_is_rescued_by_a_reschedule_queued_before_its_alarm() {
    // CPython 3.11 (probe): a task entering `timeout(0)` around `ev.wait()`, and a task B
    // spawned with it that calls `cm.reschedule(loop.time() + 10)` and sets `ev`: B's move
    // succeeds, A ends normally (the scope stays active until its queued `_on_timeout` runs).
    run(async {
        let (a, b) = zero_scope_and_a_rescuer(true).await;
        assert_eq!(b, "rescheduled");
        assert!(a.is_ok(), "the rescued scope expired: {a:?}");
    });
}

#[test]
fn l40_a_zero_scope_is_not_rescued_once_its_alarm_ran() {
    // CPython 3.11 (probe): B spawned after A entered runs after A's `_on_timeout`: its
    // reschedule raises "Cannot change state of expiring Timeout" and A times out.
    run(async {
        let (a, b) = zero_scope_and_a_rescuer(false).await;
        assert_eq!(b, "Cannot change state of expiring Timeout");
        assert!(matches!(a, Err(Error::Timeout)), "{a:?}");
    });
}

#[test]
fn l40_a_zero_scope_is_rescued_by_a_callback_queued_before_it_not_by_the_bodys() {
    // CPython 3.11 (probe): a callback queued before `async with timeout(0) as cm:` that calls
    // `cm.reschedule(loop.time() + 10)` rescues the scope around two `sleep(0)`s; one the body
    // queues with `call_soon` runs after `_on_timeout`, is refused, and the scope times out.
    run(async {
        let lp = get_running_loop().unwrap();
        for from_body in [false, true] {
            let (slot, said) = (Rc::new(RefCell::new(None)), Rc::new(RefCell::new(None)));
            let (s, w) = (slot.clone(), said.clone());
            let rescue = move || *w.borrow_mut() = Some(move_an_hour_on(&s));
            let mut rescue = Some(rescue);
            if !from_body {
                lp.call_soon(rescue.take().unwrap()).unwrap();
            }
            let (s, lp2) = (slot.clone(), lp.clone());
            let r = timeout_scope(Duration::ZERO, move |t| async move {
                keep(&s, &t);
                if let Some(rescue) = rescue {
                    lp2.call_soon(rescue).unwrap();
                }
                asyncio::yield_now().await;
                asyncio::yield_now().await;
            })
            .await;
            let said = said.borrow().clone();
            if from_body {
                assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
                let refused = "Cannot change state of expiring Timeout";
                assert_eq!(said.as_deref(), Some(refused));
            } else {
                assert!(r.is_ok(), "the rescued scope expired: {r:?}");
                assert_eq!(said.as_deref(), Some("rescheduled"));
                assert!(!slot.borrow().as_ref().unwrap().expired());
            }
        }
    });
}

#[test]
fn l40_a_deadline_moved_into_the_past_ends_the_scope_before_the_body_runs_again() {
    // CPython 3.11 (probe): `async with timeout(10) as cm: cm.reschedule(loop.time()); await
    // asyncio.sleep(0)` raises TimeoutError: the queued `_on_timeout` runs before the task's
    // next step.
    run(async {
        let lp = get_running_loop().unwrap();
        let polls = Rc::new(Cell::new(0));
        let inner = ReadyOnSecondPoll(polls.clone());
        let r = timeout_scope(HOUR, move |t| async move {
            t.reschedule(Some(lp.time())).unwrap();
            inner.await;
        })
        .await;
        assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
        assert_eq!(polls.get(), 1, "the body ran on after its deadline passed");
    });
}
