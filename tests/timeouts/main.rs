//! `timeout_scope` / `timeout_scope_at` and their `Timeout` handle: ports of CPython's
//! `test_asyncio/test_timeouts.py` (Python 3.11's `async with asyncio.timeout(..) as cm`),
//! named after them, and of `test_waitfor.py`. Outcomes never depend on how fast the machine
//! is: a short deadline always faces a far longer sleep, and a deadline that must not pass is
//! an hour away.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncio::{get_running_loop, sleep, spawn, timeout_scope, timeout_scope_at, Error, Timeout};

const HOUR: Duration = Duration::from_secs(3600);

/// Runs `f` on a fresh loop.
fn run<F: std::future::Future<Output = ()> + 'static>(f: F) {
    asyncio::run(f).unwrap();
}

/// Keeps the scope's handle after the scope has ended, as Python's `cm` outlives its block.
fn keep(slot: &Rc<RefCell<Option<Timeout>>>, t: &Timeout) {
    *slot.borrow_mut() = Some(t.clone());
}

/// A task running a scope of an hour around a sleep of two, and the scope's handle once the
/// task has begun: for moving the deadline from outside the scope.
async fn an_hour_scope_in_a_task() -> (asyncio::Task<Result<(), Error>>, Timeout) {
    let cm = Rc::new(RefCell::new(None));
    let c = cm.clone();
    let task = spawn(timeout_scope(HOUR, move |t| async move {
        keep(&c, &t);
        sleep(HOUR * 2).await;
    }));
    asyncio::yield_now().await;
    let t = cm.borrow().clone().unwrap();
    (task, t)
}

/// Runs `lp` one zero-timeout turn at a time until `task` ends, at most `turns` turns: a
/// scope that never expires on the manual clock fails the test instead of spinning.
fn turn_until_done<T>(lp: &asyncio::EventLoop, task: &asyncio::Task<T>, turns: usize) {
    for _ in 0..turns {
        if task.is_done() {
            return;
        }
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(task.is_done(), "not done after {turns} turns");
}

mod nested;
mod ordering;
mod reschedule;
mod scope;
mod traces;
mod wait_for;
mod zero;
