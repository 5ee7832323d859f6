//! Where the loop's life and its cross-thread API met CPython's (hunt_embed): each test
//! failed on the code before its fix and names the checklist ids it covers.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::{EventLoop, LoopThread, TaskRef};

const LONG: Duration = Duration::from_secs(20);

/// Sends its message when dropped: the loop-side future's cleanup ran.
struct OnDrop(mpsc::Sender<&'static str>, &'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(self.1);
    }
}

thread_local! {
    /// The loop-side task of the work under test, kept on the loop's thread.
    static WORK: RefCell<Option<TaskRef>> = const { RefCell::new(None) };
}

/// Python's `_chain_future` answers `concurrent_future.cancel()` with `task.cancel()` on the
/// loop: the task ends cancelled (`task.cancelled()` is True, its `finally` ran). The task
/// here used to end as done and not cancelled, its future merely dropped.
#[test]
fn l28_cancelling_a_concurrent_future_from_another_thread_ends_its_task_cancelled() {
    let lt = LoopThread::spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let fut = lt.run_coroutine_threadsafe(move || async move {
        let me = asyncio::current_task()
            .unwrap()
            .expect("the work runs as a task");
        WORK.with(|w| *w.borrow_mut() = Some(me));
        let _cleanup = OnDrop(tx.clone(), "cleaned up");
        tx.send("started").unwrap();
        asyncio::sleep(Duration::from_secs(3600)).await;
    });
    assert_eq!(rx.recv_timeout(LONG), Ok("started"));
    assert!(fut.cancel());
    assert_eq!(rx.recv_timeout(LONG), Ok("cleaned up"));
    let state = lt.run_coroutine_threadsafe(|| async {
        WORK.with(|w| {
            let task = w.borrow_mut().take().unwrap();
            (task.is_done(), task.is_cancelled())
        })
    });
    assert_eq!(
        state.result(Some(LONG)).unwrap(),
        (true, true),
        "(done, cancelled)"
    );
    assert!(matches!(
        fut.result(Some(LONG)),
        Err(asyncio::Error::Cancelled)
    ));
    lt.stop().unwrap();
}

/// What a main future's cleanup (its `Drop`, Python's `finally`) finds when it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct Seen {
    running_loop: bool,
    current_task: bool,
}

/// In a main future: records what its drop sees and queues a callback from there.
struct MainCleanup {
    seen: Rc<Cell<Option<Seen>>>,
    queued_ran: Rc<Cell<bool>>,
}

impl Drop for MainCleanup {
    fn drop(&mut self) {
        let lp = asyncio::get_running_loop();
        self.seen.set(Some(Seen {
            running_loop: lp.is_ok(),
            current_task: matches!(asyncio::current_task(), Ok(Some(_))),
        }));
        if let Ok(lp) = lp {
            let ran = self.queued_ran.clone();
            lp.call_soon(move || ran.set(true)).unwrap();
        }
    }
}

/// A main future that stops its own loop (a `stop` from a signal handler, say) and waits.
fn stopping_main(
    seen: &Rc<Cell<Option<Seen>>>,
    queued_ran: &Rc<Cell<bool>>,
) -> impl std::future::Future<Output = ()> {
    let cleanup = MainCleanup {
        seen: seen.clone(),
        queued_ran: queued_ran.clone(),
    };
    async move {
        let _cleanup = cleanup;
        let lp = asyncio::get_running_loop().unwrap();
        let stopper = lp.clone();
        lp.call_soon(move || stopper.stop()).unwrap();
        asyncio::sleep(Duration::from_secs(3600)).await;
    }
}

fn stopped_early(r: &Result<(), asyncio::Error>) -> bool {
    matches!(r, Err(asyncio::Error::InvalidState(m)) if m == "Event loop stopped before Future completed.")
}

/// CPython's `asyncio.run` leaves a main task that the loop's stop interrupted pending, and
/// `Runner.close` cancels it inside the loop: its `finally` sees the running loop and itself
/// as the current task, and a callback it queues runs before the loop closes. The main
/// future used to be dropped after the run had ended, outside any running loop.
#[test]
fn l14_l41_a_main_future_the_loops_stop_interrupted_is_dropped_inside_the_loop() {
    let seen = Rc::new(Cell::new(None));
    let queued_ran = Rc::new(Cell::new(false));
    let out = asyncio::run(stopping_main(&seen, &queued_ran));
    assert!(stopped_early(&out), "{out:?}");
    let inside = Seen {
        running_loop: true,
        current_task: true,
    };
    assert_eq!(seen.get(), Some(inside), "asyncio::run");
    assert!(queued_ran.get(), "the shutdown ran what the cleanup queued");

    // The same on a loop of one's own: what the cleanup queued waits for the next run.
    let lp = EventLoop::new().unwrap();
    let (seen, queued_ran) = (Rc::new(Cell::new(None)), Rc::new(Cell::new(false)));
    let out = lp.run_until_complete(stopping_main(&seen, &queued_ran));
    assert!(stopped_early(&out), "{out:?}");
    assert_eq!(seen.get(), Some(inside), "run_until_complete");
    assert!(!lp.is_running(), "the run is over");
    assert!(!queued_ran.get());
    lp.run_until_complete(asyncio::yield_now()).unwrap();
    assert!(queued_ran.get(), "the next run ran it");
}

/// CPython's RunCoroutineThreadsafeTests: a task that cancels itself cancels the concurrent
/// future (`test_run_coroutine_threadsafe_task_cancelled`); `result(timeout=0)` on pending
/// work is a timeout, and cancelling then leaves no task pending
/// (`test_run_coroutine_threadsafe_with_timeout`). Found equal; kept as a check.
#[test]
fn l28_l30_run_coroutine_threadsafe_self_cancel_and_zero_timeout_as_cpython() {
    let lt = LoopThread::spawn().unwrap();
    let f = lt.run_coroutine_threadsafe(|| async {
        asyncio::yield_now().await;
        asyncio::current_task().unwrap().unwrap().cancel();
        asyncio::yield_now().await;
        3
    });
    assert!(matches!(
        f.result(Some(LONG)),
        Err(asyncio::Error::Cancelled)
    ));
    let f = lt.run_coroutine_threadsafe(|| asyncio::sleep(Duration::from_secs(3600)));
    assert!(matches!(
        f.result(Some(Duration::ZERO)),
        Err(asyncio::Error::Timeout)
    ));
    assert!(f.cancel());
    let left = lt.run_coroutine_threadsafe(|| async {
        asyncio::yield_now().await;
        asyncio::all_tasks().unwrap().len()
    });
    assert_eq!(left.result(Some(LONG)).unwrap(), 1, "only the task asking");
    lt.stop().unwrap();
}

/// `concurrent.futures.Future.result()` raises `CancelledError` at every call on a cancelled
/// future. The second call here used to say "result already taken" (`InvalidState`), as it
/// does, by design, for a value that was moved out.
#[test]
fn l26_a_cancelled_concurrent_future_stays_cancelled_for_every_result_and_await() {
    let lt = LoopThread::spawn().unwrap();
    let fut = lt.run_coroutine_threadsafe(std::future::pending::<()>);
    assert!(fut.cancel());
    for call in 0..3 {
        let r = fut.result(Some(Duration::ZERO));
        assert!(
            matches!(r, Err(asyncio::Error::Cancelled)),
            "call {call}: {r:?}"
        );
    }
    let awaited = lt.run_coroutine_threadsafe(move || fut);
    let r = awaited.result(Some(LONG)).unwrap();
    assert!(
        matches!(r, Err(asyncio::Error::Cancelled)),
        "awaited: {r:?}"
    );
    // A value is still taken once.
    let value = lt.run_coroutine_threadsafe(|| async { 5 });
    assert_eq!(value.result(Some(LONG)).unwrap(), 5);
    let again = value.result(Some(Duration::ZERO));
    assert!(
        matches!(again, Err(asyncio::Error::InvalidState(_))),
        "{again:?}"
    );
    lt.stop().unwrap();
}
