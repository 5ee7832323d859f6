//! Composition (`gather`, `wait`, `as_completed`, `TaskGroup`) and the default executor
//! (`run_in_executor`, `to_thread`), tested as CPython tests its own: ports of the portable
//! cases of `test_asyncio/test_tasks.py` and `test_taskgroups.py`, named after them. Tasks are
//! sequenced with `Event`s, never with time; `settle()` is a fixed number of loop turns so
//! that requested cancellations have landed. Timers appear only as a hang guard and in
//! `wait(..).timeout(..)` around a task that never ends, where the result does not depend on
//! time.

#[path = "../util/mod.rs"]
mod util;

use std::cell::Cell;
use std::collections::HashSet;
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use asyncio::{
    as_completed, gather, gather_return_exceptions, run_in_executor, spawn, to_thread, wait,
    yield_now, Error, Event, ReturnWhen, Task, TaskGroup,
};

/// Runs `f` on a fresh loop; the timeout only guards against a hang.
fn run(f: impl Future<Output = ()> + 'static) {
    let guarded = asyncio::timeout(Duration::from_secs(20), f);
    match asyncio::run(guarded).unwrap() {
        Ok(()) => {}
        Err(e) => panic!("the test did not finish: {e} (a lost wakeup?)"),
    }
}

async fn settle() {
    for _ in 0..5 {
        yield_now().await;
    }
}

/// Sets its flag when dropped: proves a task's future was dropped (cancelled or ended).
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// A future that waits on `event` forever unless set, and records its own drop.
async fn stuck(event: Rc<Event>, dropped: Rc<Cell<bool>>) -> Result<u32, Error> {
    let _flag = DropFlag(dropped);
    event.wait().await;
    Ok(0)
}

/// Futures of different bodies in one `Vec`, as `gather(*coros)` mixes coroutines.
type BoxFut = std::pin::Pin<Box<dyn Future<Output = Result<u32, Error>>>>;

/// The texts of a TaskGroup's errors; panics on any other outcome.
fn group_messages(got: Result<(), Error>) -> Vec<String> {
    match got {
        Err(Error::Group(errors)) => errors.iter().map(|e| e.to_string()).collect(),
        other => panic!("{other:?}"),
    }
}

fn bad(what: &str) -> Error {
    Error::InvalidArgument(what.to_string())
}

mod executor;
mod gather;
mod shield;
mod taskgroup;
mod taskgroup_cancel_and_drop;
mod taskgroup_failures;
mod taskgroup_traces;
mod wait;
mod wakers;

/// Installs an exception handler on the running loop that records each report's message.
fn record_reports() -> Rc<std::cell::RefCell<Vec<String>>> {
    let reports = Rc::new(std::cell::RefCell::new(Vec::<String>::new()));
    let r = reports.clone();
    asyncio::get_running_loop()
        .unwrap()
        .set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                r.borrow_mut().push(ctx.message.clone());
            },
        ));
    reports
}

fn ok_task(v: u32) -> asyncio::Task<Result<u32, Error>> {
    spawn(async move {
        yield_now().await;
        Ok(v)
    })
}

fn stuck_task(event: &Rc<Event>) -> asyncio::Task<Result<u32, Error>> {
    spawn(stuck(event.clone(), Rc::new(Cell::new(false))))
}

/// A waker that only counts its clones (`Arc::strong_count`).
struct CountedWaker;

impl std::task::Wake for CountedWaker {
    fn wake(self: Arc<Self>) {}
}

/// A waker whose clones `Arc::strong_count` counts, and a `Context` over it.
fn counted() -> (Arc<CountedWaker>, std::task::Waker) {
    let counted = Arc::new(CountedWaker);
    let waker = std::task::Waker::from(counted.clone());
    (counted, waker)
}
