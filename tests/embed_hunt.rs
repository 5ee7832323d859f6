//! Where the loop's life and its cross-thread API met CPython's (hunt_embed): each test
//! failed on the code before its fix and names the checklist ids it covers.

use std::cell::RefCell;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::{LoopThread, TaskRef};

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
