//! The executor: tasks on the loop's ready queue, `spawn`, and the task waker.
//!
//! Mirrors `create_task` and `Task.__step` in CPython `Lib/asyncio/tasks.py` (L24–L30). A task
//! is a boxed future in a slab slot named by key + generation. Spawning pushes the task on the
//! ready queue (its body starts in the next run phase, never inside `spawn`, L24); waking pushes
//! it again unless it is already queued (L25); each run polls it once. A wake-up from an I/O
//! callback runs the task later in the same iteration (D10, `LoopInner::push_woken`).
//!
//! It lives under `event_loop` because the loop owns it: the loop's run phase polls tasks and
//! the tasks schedule themselves on the loop, so as sibling modules the two imported each
//! other. As a child, the executor uses its parent's queues; the parent calls `run_task`.
//! Files: `task.rs` (the cell and its states), `join.rs` (`Task<T>`), `introspect.rs`
//! (`current_task`, `all_tasks`, names), `waker.rs` (the `RawWaker` vtable, the one `unsafe`
//! of the executor).

mod introspect;
mod join;
mod task;
pub(crate) mod waker;

use std::future::Future;
use std::mem::ManuallyDrop;
use std::rc::Rc;
use std::task::{Context, Waker};

pub use introspect::{all_tasks, current_task, TaskRef};
pub(crate) use introspect::{TaskBook, NO_TASK};
pub(crate) use join::AbortHandle;
pub use join::Task;
pub(crate) use task::RawTask;
use task::TaskCell;

use crate::error::Error;
use crate::event_loop::ready::{Runnable, Woken};
use crate::event_loop::threadsafe::LoopId;
use crate::event_loop::{get_running_loop, LoopHandle, LoopInner};
use crate::slots::SlotKey;

/// Spawns `fut` as a task on the running loop (Python's `asyncio.create_task`). It starts
/// at the loop's next run phase and runs whether or not the returned [`Task`] is awaited.
///
/// ```
/// asyncio::run(async {
///     let task = asyncio::spawn(async { 1 + 1 });
///     assert_eq!(task.await, Ok(2));
/// }).unwrap();
/// ```
///
/// # Panics
/// Outside a running loop (`no running event loop`); use [`LoopHandle::spawn`] to spawn onto a
/// loop that is not running.
// Checklist: L24.
pub fn spawn<F>(fut: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    match get_running_loop().and_then(|lp| lp.spawn(fut)) {
        Ok(task) => task,
        Err(e) => panic!(
            "asyncio::spawn: {e} (spawn from code that asyncio::run runs, or onto a loop that is \
             not running with LoopHandle::spawn)"
        ),
    }
}

impl LoopHandle {
    /// Spawns `fut` as a task on this loop (Python's `loop.create_task`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`Event loop is closed`) after `close()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let task = lp.spawn(async { "done" })?; // the loop is not running yet
    /// assert_eq!(lp.run_until_complete(task)?, Ok("done"));
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L24.
    pub fn spawn<F>(&self, fut: F) -> Result<Task<F::Output>, Error>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        self.inner.check_closed()?;
        let name = std::any::type_name::<F>;
        let cell = {
            let mut tasks = self.inner.tasks.borrow_mut();
            let key = tasks.vacant_key();
            // On 64-bit targets only u32::MAX itself is reserved; on 32-bit the index space is
            // smaller.
            #[allow(clippy::absurd_extreme_comparisons)]
            if key.index >= waker::MAIN_INDEX {
                return Err(Error::Io(std::io::Error::other("too many tasks")));
            }
            let cell = Rc::new(TaskCell::new(
                key,
                Rc::downgrade(&self.inner),
                Box::pin(fut),
                name,
            ));
            let inserted = tasks.insert(cell.clone() as Rc<dyn RawTask>);
            debug_assert_eq!(inserted, key, "slab gave another key than predicted");
            cell
        };
        // A new cell starts Scheduled (L24): queue its one run.
        self.inner.ready.push(Runnable::Task(cell.header.key));
        Ok(Task {
            cell,
            awaited: false,
        })
    }
}

impl LoopInner {
    /// Queues task `index` if its truncated generation matches and it is not queued (L25).
    #[inline]
    pub(crate) fn schedule_task(&self, index: u32, generation: u32) {
        if index == waker::MAIN_INDEX {
            self.schedule_main();
            return;
        }
        let tasks = self.tasks.borrow();
        if let Some((key, task)) = tasks.get_masked(index, generation, waker::GEN_MASK_U32) {
            if task.header().schedule() {
                self.push_woken(Woken::Task(key));
            }
        }
    }

    /// Marks a task cancelled and queues it; its next run drops the future.
    pub(crate) fn request_cancel(&self, key: SlotKey) {
        let tasks = self.tasks.borrow();
        if let Some(task) = tasks.get(key) {
            if task.header().request_cancel() {
                self.ready.push(Runnable::Task(key));
            }
        }
    }
}

/// Runs one `Runnable::Task`: cancel, or poll once. Inlined into the loop's run phases: the
/// work of a run is the one call through the task's vtable.
#[inline(always)]
pub(crate) fn run_task(lp: &LoopHandle, key: SlotKey) {
    let inner = &lp.inner;
    let Some(task) = inner.tasks.borrow().get(key).cloned() else {
        return;
    };
    // Our task waker's drop does nothing: not calling it saves a call through the vtable.
    let waker = ManuallyDrop::new(waker::task_waker(inner.id, key.index, key.generation));
    let mut cx = Context::from_waker(&waker);
    inner.book.set_current(key);
    task.run(inner, &mut cx);
    inner.book.set_current(introspect::NO_TASK);
}

/// The task under `key`, for a debug-mode report about its run.
pub(crate) fn task_of(lp: &LoopHandle, key: SlotKey) -> Option<Rc<dyn RawTask>> {
    lp.inner.tasks.borrow().get(key).cloned()
}

/// Whether `waker` wakes a task of this thread whose cancellation is pending: its future is
/// dropped at the task's next run and never polled again. CPython's `Task.cancel()` cancels
/// the future such a task awaits at once, and the wake-ups of `locks.py` and `queues.py` pass
/// over a cancelled future; `sync` asks this to pass over the same waiters. False for any
/// other waker, for `run_until_complete`'s future, and whenever it cannot tell.
// Checklist: L28.
#[cold]
#[inline(never)]
pub(crate) fn cancel_pending(waker: &Waker) -> bool {
    let Some((id, index, generation)) = waker::named_task(waker) else {
        return false;
    };
    if index == waker::MAIN_INDEX {
        return false;
    }
    let Some(inner) = crate::event_loop::loop_here(id) else {
        return false;
    };
    let Ok(tasks) = inner.tasks.try_borrow() else {
        return false;
    };
    let pending = tasks
        .get_masked(index, generation, waker::GEN_MASK_U32)
        .is_some_and(|(_, task)| task.header().cancel_requested());
    pending
}

/// The waker of `run_until_complete`'s future on loop `lp`.
pub(crate) fn main_waker(lp: LoopId) -> Waker {
    waker::task_waker(lp, waker::MAIN_INDEX, 0)
}
