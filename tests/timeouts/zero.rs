//! A zero or past deadline around a future that must wait (L27, L39): the wrapper gives up
//! control for one iteration before it fails, as CPython's `timeout` delivers its
//! cancellation from a `call_soon`. Failing at once let a task that retries in a loop spin
//! without ever letting the task it waits for run: a hang in a loop without a bound.
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
