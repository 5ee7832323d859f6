//! A cancelled `run_in_executor` future and its job: CPython's `run_in_executor` wraps the
//! executor's `concurrent.futures.Future`, and cancelling the asyncio future cancels that one
//! (`_chain_future`'s `_call_check_cancel`), which succeeds only while the job is queued: a
//! queued job then never runs; a running one runs to its end.

use std::future::Future;
use std::sync::atomic::AtomicBool;

use super::*;

const CANCEL_CHILD: &str = "ASYNCIO_TEST_EXECUTOR_CANCEL_CHILD";

// One helper thread, held by a job waiting on a gate, so that the next jobs wait in the
// queue: one awaited and then dropped (its task cancelled, here by a timeout) is skipped;
// one dropped before any poll runs (an unawaited CPython future is never cancelled); one
// dropped while it runs finishes. A job queued after them all, awaited, proves the queue
// was drained in order before the flags are read. In a process of its own: the thread bound
// is process-wide, and the other tests of this binary use the default one. (Before: the
// cancelled job ran once the thread was free; checked by reverting
// src/event_loop/thread_pool.rs.)
#[test]
fn a_cancelled_run_in_executor_skips_its_job_if_no_thread_started_it() {
    util::in_child(
        CANCEL_CHILD,
        "executor_cancel::a_cancelled_run_in_executor_skips_its_job_if_no_thread_started_it",
        "executor cancel child: ok",
        cancel_child,
    );
}

fn cancel_child() {
    asyncio::set_executor_max_threads(1).unwrap();
    let cancelled_ran = Arc::new(AtomicBool::new(false));
    let unpolled_ran = Arc::new(AtomicBool::new(false));
    let running_ended = Arc::new(AtomicBool::new(false));
    let (c, u, r) = (
        cancelled_ran.clone(),
        unpolled_ran.clone(),
        running_ended.clone(),
    );
    util::run_fresh(Duration::from_secs(60), async move {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let blocker = asyncio::run_in_executor(move || {
            started_tx.send(()).unwrap();
            gate.recv().unwrap();
            r.store(true, Ordering::SeqCst);
        });
        started.recv().unwrap(); // the only thread is taken: what follows is queued
        let cancelled = asyncio::run_in_executor(move || c.store(true, Ordering::SeqCst));
        let waited = asyncio::timeout(Duration::ZERO, cancelled).await;
        assert!(waited.is_err(), "a queued job finished: {waited:?}");
        drop(asyncio::run_in_executor(move || {
            u.store(true, Ordering::SeqCst)
        }));
        // The running job's future, polled and then dropped: it runs on.
        let mut blocker = Box::pin(blocker);
        std::future::poll_fn(|cx| {
            assert!(blocker.as_mut().poll(cx).is_pending(), "the gate is shut");
            std::task::Poll::Ready(())
        })
        .await;
        drop(blocker);
        release.send(()).unwrap();
        asyncio::run_in_executor(|| ()).await.unwrap(); // FIFO on one thread
    });
    assert!(
        !cancelled_ran.load(Ordering::SeqCst),
        "the cancelled job ran"
    );
    assert!(unpolled_ran.load(Ordering::SeqCst), "the unpolled job ran");
    assert!(
        running_ended.load(Ordering::SeqCst),
        "the running job ended"
    );
    println!("executor cancel child: ok");
}

const PAYLOAD_CHILD: &str = "ASYNCIO_TEST_EXECUTOR_PAYLOAD_CHILD";

/// A job's result whose drop panics with a payload whose own drop panics.
struct ResultPanicsOnDrop;

impl Drop for ResultPanicsOnDrop {
    fn drop(&mut self) {
        std::panic::panic_any(PayloadPanicsOnDrop);
    }
}

struct PayloadPanicsOnDrop;

impl Drop for PayloadPanicsOnDrop {
    fn drop(&mut self) {
        panic!("payload drop fails");
    }
}

// L35: a job whose future was dropped unpolled leaves its result to the helper thread; a
// result whose drop panics ends the job panicked, and the worker dropped that panic's payload
// outside any catch: a payload whose drop panics killed the thread, still counted as live.
// With one thread allowed, no later job ever ran. In a process of its own (the bound is
// process-wide). (Before: the later job never ran, recv_timeout failed; checked by reverting
// src/event_loop/thread_pool.rs.)
#[test]
fn l35_a_job_panic_payload_that_panics_on_drop_leaves_the_pool_running() {
    util::in_child(
        PAYLOAD_CHILD,
        "executor_cancel::l35_a_job_panic_payload_that_panics_on_drop_leaves_the_pool_running",
        "executor payload child: ok",
        payload_child,
    );
}

fn payload_child() {
    asyncio::set_executor_max_threads(1).unwrap();
    let (go, gate) = std::sync::mpsc::channel::<()>();
    // Dropped before the job ends: the result is dropped with the job, on the helper thread.
    drop(asyncio::run_in_executor(move || {
        let _ = gate.recv();
        ResultPanicsOnDrop
    }));
    go.send(()).unwrap();
    let (done, ran) = std::sync::mpsc::channel::<()>();
    drop(asyncio::run_in_executor(move || {
        let _ = done.send(());
    }));
    assert!(
        ran.recv_timeout(Duration::from_secs(30)).is_ok(),
        "a later job never ran: the pool's only thread died"
    );
    println!("executor payload child: ok");
}
