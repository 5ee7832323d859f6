//! One task: its future, its cancellation flags and the slot its output waits in.
//!
//! Mirrors `Task` in CPython `Lib/asyncio/tasks.py` and the result half of `Future` in
//! `futures.py`. State, as asyncio's `_state` (PENDING → FINISHED | CANCELLED):
//!
//! ```text
//!   spawn ──► Pending ──poll Ready──────────────► Finished(Value)
//!               │  └──poll panics──────────────► Finished(Panicked)
//!               └──cancel requested, next run──► Finished(Cancelled)   (future dropped unpolled
//!                                                                       if it never ran: L29)
//! ```
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

use crate::event_loop::exception::{ExceptionContext, PanicError};
use crate::event_loop::{LoopHandle, LoopInner};
use crate::slots::SlotKey;

/// How a task ended.
pub(crate) enum Outcome<T> {
    Value(T),
    Cancelled,
    Panicked(Box<dyn Any + Send>),
}

/// Loop-facing fields, the same for every output type.
pub(crate) struct Header {
    /// The task's key in the loop's task slab.
    pub(crate) key: SlotKey,
    /// A `Runnable::Task` for this task is in the ready queue (L25: scheduled at most once).
    pub(crate) scheduled: Cell<bool>,
    /// `cancel()` was called; the next run drops the future instead of polling it.
    pub(crate) cancel_requested: Cell<bool>,
    pub(crate) lp: Weak<LoopInner>,
    /// The future's type name, for reports.
    pub(crate) name: &'static str,
}

pub(crate) struct JoinState<T> {
    /// The outcome until the `Task` handle takes it. Invariant: `None` while not finished.
    pub(crate) outcome: Option<Outcome<T>>,
    /// The waker of whoever awaits the `Task` handle.
    pub(crate) waker: Option<Waker>,
    pub(crate) finished: bool,
    /// The `Task` handle was dropped: nobody will take the outcome, so a failure is reported.
    pub(crate) detached: bool,
}

pub(crate) struct TaskCell<T> {
    pub(crate) header: Header,
    /// `None` while being polled and after the task ended.
    future: RefCell<Option<Pin<Box<dyn Future<Output = T>>>>>,
    pub(crate) join: RefCell<JoinState<T>>,
}

/// The executor's type-erased view of a task.
pub(crate) trait RawTask {
    fn header(&self) -> &Header;
    /// Polls once; true when the task has ended.
    fn poll_step(&self, cx: &mut Context<'_>) -> bool;
    /// Drops the future without polling it and ends the task as cancelled.
    fn finish_cancelled(&self);
    /// Loop close: drops the future; true if the task was pending and not being cancelled.
    fn abandon(&self) -> bool;
    fn name(&self) -> &'static str;
}

impl<T: 'static> TaskCell<T> {
    pub(crate) fn new(
        key: SlotKey,
        lp: Weak<LoopInner>,
        future: Pin<Box<dyn Future<Output = T>>>,
        name: &'static str,
    ) -> Self {
        TaskCell {
            header: Header {
                key,
                scheduled: Cell::new(false),
                cancel_requested: Cell::new(false),
                lp,
                name,
            },
            future: RefCell::new(Some(future)),
            join: RefCell::new(JoinState {
                outcome: None,
                waker: None,
                finished: false,
                detached: false,
            }),
        }
    }

    /// Takes the future out (to drop it with no borrow held); `None` while it is being polled.
    pub(crate) fn take_future(&self) -> Option<Pin<Box<dyn Future<Output = T>>>> {
        self.future.borrow_mut().take()
    }

    /// Records the outcome, wakes the awaiting task, reports an unobserved failure (L35).
    pub(crate) fn complete(&self, outcome: Outcome<T>) {
        let (waker, unobserved) = {
            let mut j = self.join.borrow_mut();
            debug_assert!(!j.finished, "task {} completed twice", self.header.name);
            j.finished = true;
            if j.detached {
                (None, Some(outcome))
            } else {
                j.outcome = Some(outcome);
                (j.waker.take(), None)
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        if let Some(outcome) = unobserved {
            report_unobserved(&self.header, outcome);
        }
    }
}

impl<T: 'static> RawTask for TaskCell<T> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn poll_step(&self, cx: &mut Context<'_>) -> bool {
        let Some(mut fut) = self.take_future() else {
            return true;
        };
        let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx)));
        let cancelled = self.header.cancel_requested.get();
        match polled {
            Ok(Poll::Pending) if !cancelled => {
                *self.future.borrow_mut() = Some(fut);
                false
            }
            Ok(Poll::Pending) => {
                drop(fut);
                self.complete(Outcome::Cancelled);
                true
            }
            Ok(Poll::Ready(v)) => {
                drop(fut);
                // L30: a task that cancelled itself ends cancelled even if it returned.
                self.complete(if cancelled {
                    Outcome::Cancelled
                } else {
                    Outcome::Value(v)
                });
                true
            }
            Err(payload) => {
                // The future may panic again while dropping; that second panic is contained.
                let _ = catch_unwind(AssertUnwindSafe(move || drop(fut)));
                self.complete(Outcome::Panicked(payload));
                true
            }
        }
    }

    fn finish_cancelled(&self) {
        drop(self.take_future());
        if !self.join.borrow().finished {
            self.complete(Outcome::Cancelled);
        }
    }

    fn abandon(&self) -> bool {
        let fut = self.take_future();
        let pending = fut.is_some() && !self.header.cancel_requested.get();
        drop(fut);
        let finished = self.join.borrow().finished;
        if !finished {
            self.join.borrow_mut().detached = true;
            self.complete(Outcome::Cancelled);
        }
        pending
    }

    fn name(&self) -> &'static str {
        self.header.name
    }
}

/// Reports a task failure nobody will see otherwise: a panic, or an `Err` output of a common
/// error type (`Result<(), E>` with `E` one of `asyncio::Error`, `io::Error`,
/// `Box<dyn Error>`, `Box<dyn Error + Send + Sync>`, `String`).
pub(crate) fn report_unobserved<T: 'static>(header: &Header, outcome: Outcome<T>) {
    let error: Box<dyn std::error::Error> = match outcome {
        Outcome::Cancelled => return,
        Outcome::Panicked(p) => Box::new(PanicError::from_payload(&*p)),
        Outcome::Value(v) => match failure_of(&v) {
            Some(e) => e.into(),
            None => return,
        },
    };
    let ctx = ExceptionContext::new("Task exception was never retrieved")
        .with_exception(error)
        .with_detail("task", header.name);
    match header.lp.upgrade() {
        Some(inner) => LoopHandle { inner }.call_exception_handler(&ctx),
        None => crate::event_loop::exception::default_exception_handler(&ctx),
    }
}

fn failure_of<T: 'static>(v: &T) -> Option<String> {
    let v = v as &dyn Any;
    if let Some(Err(e)) = v.downcast_ref::<Result<(), crate::Error>>() {
        return Some(e.to_string());
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), std::io::Error>>() {
        return Some(e.to_string());
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), Box<dyn std::error::Error>>>() {
        return Some(e.to_string());
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), Box<dyn std::error::Error + Send + Sync>>>() {
        return Some(e.to_string());
    }
    if let Some(Err(e)) = v.downcast_ref::<Result<(), String>>() {
        return Some(e.clone());
    }
    None
}

/// Shared by [`Task`](crate::Task) to reach the cell without knowing the future's type.
pub(crate) type TaskRc<T> = Rc<TaskCell<T>>;
