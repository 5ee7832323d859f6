//! Task introspection: `current_task`, `all_tasks`, task names, and the main future as a task.
//! Ports of CPython test_tasks.py's BaseTaskTests.test_current_task,
//! test_current_task_with_interleaving_tasks, test_bare_create_named_task,
//! test_task_repr_name_not_str and BaseCurrentLoopTests (L15, L24). Then `asyncio::Runner`,
//! the loop that runs main futures one after the other: test_runners.py's RunnerTests (L42).
//! Last, what awaiting and cancelling promise: `LoopFuture` done-callbacks (L26), cancellation
//! as a drop (L31, L34), `timeout` around a task (L37) and awaiting a task (L43).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{Cancelled, Error, EventLoop, ExceptionContext, LoopHandle};

/// A loop whose exception handler records each report, as the default handler formats it.
fn recording_loop() -> (EventLoop, Rc<RefCell<Vec<String>>>) {
    let lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    lp.set_exception_handler(Some(move |_: &LoopHandle, ctx: &ExceptionContext| {
        log.borrow_mut().push(ctx.to_string())
    }));
    (lp, seen)
}

mod awaiting;
mod base_task_tests;
mod cancellation;
mod introspection;
mod result;
mod runner;

/// What each [`Cleanup`] saw as it was dropped: the current task's name, and whether
/// all_tasks() listed it.
type Seen = Rc<RefCell<Vec<(Option<String>, bool)>>>;

/// A task future's cleanup (Python's `finally`): records what it sees when dropped.
struct Cleanup(Seen);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let me = asyncio::current_task().unwrap();
        let listed = me
            .as_ref()
            .is_some_and(|me| asyncio::all_tasks().unwrap().contains(me));
        self.0.borrow_mut().push((me.map(|t| t.name()), listed));
    }
}

/// Runs at most `turns` zero-timeout iterations, stopping once `done()`: a bound on what a
/// broken cancellation would otherwise leave waiting for ever.
fn turn_until(lp: &EventLoop, turns: usize, done: impl Fn() -> bool) {
    for _ in 0..turns {
        if done() {
            return;
        }
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
}

/// Counts its drops: a task's cleanup.
struct DropFlag(Rc<Cell<u32>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}
