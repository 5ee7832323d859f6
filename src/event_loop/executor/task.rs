//! One task: its future, its state and the slot its output waits in.
//!
//! Mirrors `Task` in CPython `Lib/asyncio/tasks.py` and the result half of `Future` in
//! `futures.py`. asyncio's `_state` (PENDING → FINISHED | CANCELLED) and its membership of the
//! ready queue are one [`TaskState`], changed only by [`Header::set_state`]:
//!
//! ```text
//!            spawn                       wake (L25)
//!              │       ┌──────────────────────────────────────┐
//!              ▼       │                                      │
//!         Scheduled ───┴─run begins──► Waiting ──poll Pending─┘ (stays Waiting)
//!              │                          │
//!      cancel()│                 cancel() │ (also while its poll runs: L30)
//!              ▼                          ▼
//!         CancelScheduled ◄───────────────┘
//!              │ next run: future dropped unpolled (L29), or the running poll returns
//!              ▼
//!      Done | Cancelled ◄── poll Ready or panics (Done); cancelled, loop close, a cancelling
//!                           `Task` drop (L33) (Cancelled)
//! ```
//! Whoever awaits the outcome is the other half, [`JoinState`]: the outcome, the awaiter's
//! waker, and whether the handle was dropped (detached, D3), which is independent of where
//! the task is in its life.
//!
//! Ground rules: the future is taken out of its cell while it is polled or dropped, so a task
//! may cancel itself, spawn, or drop handles from inside its poll; the join state is borrowed
//! only inside these methods, never while a waker or the exception handler runs. The cell and
//! the boxed future are the two allocations of a spawn; polling and waking allocate nothing.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use crate::event_loop::exception::{drop_contained, ExceptionContext, PanicError};
use crate::event_loop::{LoopHandle, LoopInner};
use crate::slots::SlotKey;

/// How a task ended.
pub(crate) enum Outcome<T> {
    Value(T),
    Cancelled,
    Panicked(Box<dyn Any + Send>),
}

/// Where a task is in its life; see the module diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskState {
    /// Not queued: waiting for a wake-up, or being polled right now.
    Waiting,
    /// One `Runnable::Task` for it is queued (at most one).
    // Checklist: L25.
    Scheduled,
    /// `cancel()` was called and one run is queued: it drops the future instead of polling it
    /// (or, if the task is being polled, the poll's end does).
    CancelScheduled,
    /// Ended with a value or a panic; nothing runs it again.
    Done,
    /// Ended cancelled; nothing runs it again.
    Cancelled,
}

/// Loop-facing fields, the same for every output type.
pub(crate) struct Header {
    /// The task's key in the loop's task slab.
    pub(crate) key: SlotKey,
    /// Changed only by [`set_state`](Header::set_state).
    state: Cell<TaskState>,
    /// A name was given with `set_name`: it waits in the loop's [`TaskBook`] until this drops.
    /// (With `number`, this fits in the padding after `state`: no task grows.)
    pub(crate) named: Cell<bool>,
    /// The `n` of the default name `Task-<n>` (L24).
    pub(crate) number: u32,
    pub(crate) lp: Weak<LoopInner>,
    /// The future's type name, for reports (a function: one word where a `&str` takes two).
    type_name: fn() -> &'static str,
}

impl Header {
    /// The future's type name, for reports.
    pub(crate) fn type_name(&self) -> &'static str {
        (self.type_name)()
    }

    pub(crate) fn state(&self) -> TaskState {
        self.state.get()
    }

    /// The one place a task's state changes: the edges of the module diagram, checked in
    /// debug builds.
    pub(crate) fn set_state(&self, to: TaskState) {
        use TaskState::*;
        let from = self.state.get();
        debug_assert!(
            matches!(
                (from, to),
                (Waiting, Scheduled)
                    | (Scheduled, Waiting)
                    | (Waiting | Scheduled, CancelScheduled)
                    | (Waiting | Scheduled | CancelScheduled, Done | Cancelled)
            ),
            "task {}: {from:?} -> {to:?} is not an edge",
            self.type_name()
        );
        self.state.set(to);
    }

    /// A wake-up (L25): true if the task must now be queued.
    pub(crate) fn schedule(&self) -> bool {
        let queue = self.state.get() == TaskState::Waiting;
        if queue {
            self.set_state(TaskState::Scheduled);
        }
        queue
    }

    /// `cancel()` (L28): true if the task must now be queued.
    pub(crate) fn request_cancel(&self) -> bool {
        match self.state.get() {
            TaskState::Waiting => {
                self.set_state(TaskState::CancelScheduled);
                true
            }
            TaskState::Scheduled => {
                self.set_state(TaskState::CancelScheduled);
                false
            }
            TaskState::CancelScheduled | TaskState::Done | TaskState::Cancelled => false,
        }
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.state.get() == TaskState::CancelScheduled
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state.get(), TaskState::Done | TaskState::Cancelled)
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.get() == TaskState::Cancelled
    }
}

impl Drop for Header {
    fn drop(&mut self) {
        if self.named.get() {
            if let Some(inner) = self.lp.upgrade() {
                inner.book.forget_name(self.key);
            }
        }
    }
}

pub(crate) struct JoinState<T> {
    /// The outcome until the `Task` handle takes it. Invariant: `None` while not finished.
    pub(crate) outcome: Option<Outcome<T>>,
    /// The waker of whoever awaits the `Task` handle.
    pub(crate) waker: Option<Waker>,
    /// The `Task` handle was dropped: nobody will take the outcome, so a failure is reported.
    pub(crate) detached: bool,
    /// Someone other than the handle took note of a failure (a `TaskGroup` collects its
    /// tasks' failures, as CPython's `_on_task_done` calls `task.exception()`): it is never
    /// reported as unobserved.
    pub(crate) retrieved: bool,
}

pub(crate) struct TaskCell<T> {
    pub(crate) header: Header,
    /// `None` while being polled and after the task ended.
    future: Cell<Option<Pin<Box<dyn Future<Output = T>>>>>,
    pub(crate) join: RefCell<JoinState<T>>,
}

/// The executor's type-erased view of a task.
pub(crate) trait RawTask {
    fn header(&self) -> &Header;
    /// One queued run on loop `inner` (`run_task`): a scheduled task becomes `Waiting` and is
    /// polled once with `cx`; one whose cancellation was requested drops its future unpolled.
    /// A task that ends leaves `inner`'s slab. One call through the vtable per run, the state
    /// read and changed inside it.
    fn run(&self, inner: &LoopInner, cx: &mut Context<'_>);
    /// Drops the future without polling it and ends the task as cancelled.
    fn finish_cancelled(&self);
    /// Loop close: drops the future; true if the task was pending and not being cancelled.
    fn abandon(&self) -> bool;
    /// A failure of this task has been taken note of elsewhere: never report it as unobserved.
    fn mark_retrieved(&self);
    /// Drops the future now, with this task as `inner`'s current task, and ends the task as
    /// cancelled; false (nothing done) while the future is out of its cell (being polled, or
    /// being dropped by another cancellation) or once the task has ended.
    fn cancel_at_once(&self, inner: &LoopInner) -> bool;
}

impl<T: 'static> TaskCell<T> {
    pub(crate) fn new(
        key: SlotKey,
        lp: Weak<LoopInner>,
        future: Pin<Box<dyn Future<Output = T>>>,
        type_name: fn() -> &'static str,
    ) -> Self {
        TaskCell {
            header: Header {
                key,
                state: Cell::new(TaskState::Scheduled),
                named: Cell::new(false),
                number: super::introspect::next_task_number(),
                lp,
                type_name,
            },
            future: Cell::new(Some(future)),
            join: RefCell::new(JoinState {
                outcome: None,
                waker: None,
                detached: false,
                retrieved: false,
            }),
        }
    }

    /// Polls once; true when the task has ended.
    #[inline]
    fn poll_step(&self, cx: &mut Context<'_>) -> bool {
        let Some(mut fut) = self.take_future() else {
            return true;
        };
        let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)));
        let cancelled = self.header.cancel_requested();
        match polled {
            Ok(Poll::Pending) if !cancelled => {
                self.future.set(Some(fut));
                false
            }
            Ok(Poll::Pending) => {
                self.complete(cancelled_unless_panicked(drop_caught(Some(fut))));
                true
            }
            Ok(Poll::Ready(v)) => {
                // L30: a task that cancelled itself ends cancelled even if it returned; a
                // panic in its cleanup (the future's Drop) is its outcome either way. An
                // output the outcome leaves out is nobody's: the loop drops it, caught.
                match drop_caught(Some(fut)) {
                    None if !cancelled => self.complete(Outcome::Value(v)),
                    end => {
                        self.complete(cancelled_unless_panicked(end));
                        drop_unclaimed(&self.header, "a task's output", v);
                    }
                }
                true
            }
            Err(payload) => {
                // The future may panic again while dropping; that second panic is contained,
                // and so is its payload's drop.
                if let Some(again) = drop_caught(Some(fut)) {
                    drop_unclaimed(&self.header, "a panic payload", again);
                }
                self.complete(Outcome::Panicked(payload));
                true
            }
        }
    }

    /// Ends the task as cancelled once its future was dropped (`panicked`: the payload of its
    /// cleanup's panic), unless that cleanup ended it already: it closed the loop (not
    /// running: a handle or a `TaskGroup` can be dropped outside a run), which abandons every
    /// task, this one too. The panic then still is nobody's: reported as never retrieved
    /// (L35) through the loop's handler and its payload dropped caught, where it was dropped
    /// plainly and unreported, a panic of that drop unwinding into whoever dropped the handle.
    pub(crate) fn end_cancelled(&self, panicked: Option<Box<dyn Any + Send>>) {
        if !self.header.is_done() {
            self.complete(cancelled_unless_panicked(panicked));
        } else if let Some(payload) = panicked {
            let retrieved = self.join.borrow().retrieved;
            report_unobserved(&self.header, Outcome::<T>::Panicked(payload), retrieved);
        }
    }

    /// Takes the future out (to drop it with no borrow held); `None` while it is being polled.
    pub(crate) fn take_future(&self) -> Option<Pin<Box<dyn Future<Output = T>>>> {
        self.future.take()
    }

    /// Records the outcome, wakes the awaiting task, reports an unobserved failure (L35).
    pub(crate) fn complete(&self, outcome: Outcome<T>) {
        self.header.set_state(match outcome {
            Outcome::Cancelled => TaskState::Cancelled,
            _ => TaskState::Done,
        });
        let (waker, unobserved) = {
            let mut j = self.join.borrow_mut();
            let waker = j.waker.take();
            if j.detached {
                (waker.map(Err), Some((outcome, j.retrieved)))
            } else {
                j.outcome = Some(outcome);
                (waker.map(Ok), None)
            }
        };
        match waker {
            Some(Ok(w)) => wake_awaiter(&self.header, w),
            // Nobody awaits (an awaited handle being dropped cancels at once and leaves its
            // waker here): dropped, not woken, caught. Another executor's waker runs that
            // executor's code as it drops; it was dropped with the cell, uncaught.
            Some(Err(w)) => drop_unclaimed(&self.header, "a waker", w),
            None => {}
        }
        // Nobody will take the outcome: reported if it is a failure, and dropped by the loop,
        // after the borrow and caught (a panic payload's or an output's `Drop` is user code).
        if let Some((outcome, retrieved)) = unobserved {
            report_unobserved(&self.header, outcome, retrieved);
        }
    }
}

impl<T: 'static> RawTask for TaskCell<T> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn run(&self, inner: &LoopInner, cx: &mut Context<'_>) {
        match self.header.state() {
            TaskState::Scheduled => {
                self.header.set_state(TaskState::Waiting);
                if self.poll_step(cx) {
                    let removed = inner.tasks.borrow_mut().remove(self.header.key);
                    drop(removed);
                }
            }
            TaskState::CancelScheduled => {
                // The future is dropped while the task is still in the slab: its Drop (the
                // task's cleanup, Python's `finally`) sees itself as `current_task()` and in
                // `all_tasks()`, as a task cancelled during its poll does.
                self.finish_cancelled();
                let removed = inner.tasks.borrow_mut().remove(self.header.key);
                drop(removed);
            }
            // Every queued run has its task Scheduled or CancelScheduled; a finished task has
            // left the slab. Nothing to run.
            TaskState::Waiting | TaskState::Done | TaskState::Cancelled => {}
        }
    }

    fn finish_cancelled(&self) {
        self.end_cancelled(drop_caught(self.take_future()));
    }

    fn abandon(&self) -> bool {
        let fut = self.take_future();
        let pending = fut.is_some() && !self.header.cancel_requested();
        // A handle that outlives the loop awaits `Err(Cancelled)` (L35: a cancellation is
        // never reported, so nothing is said if nobody awaits it).
        self.end_cancelled(drop_caught(fut));
        pending
    }

    fn mark_retrieved(&self) {
        self.join.borrow_mut().retrieved = true;
    }

    fn cancel_at_once(&self, inner: &LoopInner) -> bool {
        let Some(fut) = self.take_future() else {
            return false;
        };
        // Checklist: L33, S56. Its cleanup runs as itself, as in a run of its own (`run`),
        // being cancelled (a writer it drops says so); not queued: the caller removes it.
        self.header.request_cancel();
        let panicked = inner
            .book
            .as_current(self.header.key, || drop_caught(Some(fut)));
        self.end_cancelled(panicked);
        true
    }
}

/// Wakes whoever awaits the task's handle: our task waker at once; another executor's waker
/// (the handle polled from outside our tasks) caught, its panic reported as a callback's is
/// (L18), as a sleep's foreign waker is. Uncaught, it unwound out of the loop's run.
#[inline]
fn wake_awaiter(header: &Header, w: Waker) {
    if super::waker::is_task_waker(&w) {
        w.wake();
    } else {
        wake_foreign(header, w);
    }
}

#[cold]
#[inline(never)]
fn wake_foreign(header: &Header, w: Waker) {
    match header.lp.upgrade() {
        Some(inner) => super::waker::wake_caught(&LoopHandle { inner }, w, "task wake-up"),
        None => w.wake(),
    }
}

/// Drops a task's future, catching a panic of its `Drop` (the task's cleanup, Python's
/// `finally`): `Some(payload)` if it panicked. Uncaught, it unwound out of the loop's run with
/// the task half ended: still the current task, and never completed for its awaiter.
pub(crate) fn drop_caught<F: ?Sized>(fut: Option<Pin<Box<F>>>) -> Option<Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(move || drop(fut))).err()
}

/// Drops something of the task's that nobody will take (`what`: a panic payload, a waker
/// nobody will wake, an output its task ended without), a panic of its `Drop` (user code,
/// or another executor's) caught and reported to the task's loop.
#[cold]
#[inline(never)]
pub(crate) fn drop_unclaimed<V>(header: &Header, what: &'static str, value: V) {
    let lp = header.lp.upgrade().map(|inner| LoopHandle { inner });
    drop_contained(lp.as_ref(), what, value);
}

/// The outcome of a cancelled task: cancelled, unless its cleanup panicked (as a Python task
/// whose `finally` raises during its cancellation ends with that exception).
pub(crate) fn cancelled_unless_panicked<T>(panicked: Option<Box<dyn Any + Send>>) -> Outcome<T> {
    panicked.map_or(Outcome::Cancelled, Outcome::Panicked)
}

/// Reports a task failure nobody will see otherwise, unless someone else took note of it
/// (`retrieved`): a panic, or an `Err` output of a common error type (`Result<(), E>` with `E`
/// one of `asyncio::Error`, `io::Error`, `Box<dyn Error>`, `Box<dyn Error + Send + Sync>`,
/// `String`). Drops the outcome, a panic of its `Drop` caught and reported
/// ([`drop_contained`]).
#[cold]
#[inline(never)]
pub(crate) fn report_unobserved<T: 'static>(header: &Header, outcome: Outcome<T>, retrieved: bool) {
    let lp = header.lp.upgrade().map(|inner| LoopHandle { inner });
    // Reported first, then dropped: as the failure happened before its drop.
    let (error, what): (Option<Box<dyn std::error::Error>>, _) = match &outcome {
        Outcome::Cancelled => return,
        Outcome::Panicked(p) => {
            let panic = (!retrieved).then(|| PanicError::from_payload(&**p).into());
            (panic, "a panic payload")
        }
        Outcome::Value(v) => {
            let failure = failure_of(v).filter(|_| !retrieved);
            (failure.map(Into::into), "a task's output")
        }
    };
    if let Some(error) = error {
        report_failure(header, lp.as_ref(), error);
    }
    drop_contained(lp.as_ref(), what, outcome);
}

/// The never-retrieved (or shutdown) report of [`report_unobserved`].
fn report_failure(header: &Header, lp: Option<&LoopHandle>, error: Box<dyn std::error::Error>) {
    // Checklist: L41. A task that fails as `asyncio.run` cancels what is left is reported as
    // CPython's `_cancel_all_tasks` reports it.
    let message = match lp {
        Some(lp) if lp.inner.book.shutting_down() => {
            "unhandled exception during asyncio.run() shutdown"
        }
        _ => "Task exception was never retrieved",
    };
    let ctx = ExceptionContext::new(message)
        .with_exception(error)
        .with_detail("task", header.describe());
    crate::event_loop::exception::report(lp, &ctx);
}

fn failure_of<T: 'static>(v: &T) -> Option<String> {
    // A cancellation passed on with `?` ends the task as a cancellation would (L32): Python
    // reports no cancelled task.
    fn unless_cancelled<E: std::fmt::Display + 'static>(e: &E) -> Option<String> {
        (!crate::error::is_cancellation(e)).then(|| e.to_string())
    }
    let v = v as &dyn Any;
    if let Some(Err(e)) = v.downcast_ref::<Result<(), crate::error::Error>>() {
        return unless_cancelled(e);
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), std::io::Error>>() {
        return unless_cancelled(e);
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), Box<dyn std::error::Error>>>() {
        return unless_cancelled(e);
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), Box<dyn std::error::Error + Send + Sync>>>() {
        return unless_cancelled(e);
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), String>>() {
        return Some(e.clone());
    }
    None
}

/// Shared by [`Task`](crate::Task) to reach the cell without knowing the future's type.
pub(crate) type TaskRc<T> = Rc<TaskCell<T>>;
