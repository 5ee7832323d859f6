//! The synchronisation primitives and queues (`asyncio::sync`), tested as CPython tests its
//! own: ports of the portable tests in `test_asyncio/test_locks.py` and `test_queues.py`,
//! named after them. A Python `await asyncio.sleep(0)` is `settle()` here: a fixed number of
//! loop turns, so that a cancellation (which lands at the task's next turn) has landed. Every
//! test is deterministic: no timers, no sleeps.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use asyncio::sync::{Get, Put, QueueEmpty, QueueFull};
use asyncio::{
    spawn, yield_now, BoundedSemaphore, Condition, Error, Event, LifoQueue, Lock, PriorityQueue,
    Queue, Semaphore,
};

/// Runs `f` on a fresh loop. The timeout is only a guard against a hang (a lost wakeup would
/// otherwise leave the test waiting forever); no test depends on time.
fn run(f: impl Future<Output = ()> + 'static) {
    let guarded = asyncio::timeout(std::time::Duration::from_secs(20), f);
    match asyncio::run(guarded).unwrap() {
        Ok(()) => {}
        Err(e) => panic!("the test did not finish: {e} (a lost wakeup?)"),
    }
}

/// A few loop turns: enough for spawned tasks to reach their first await and for requested
/// cancellations to land.
async fn settle() {
    for _ in 0..4 {
        yield_now().await;
    }
}

/// Polls `fut` once, outside any loop.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

mod condition;
mod event;
mod lock;
mod models;
mod queue;
mod repolled;
mod semaphore;
mod traces;
