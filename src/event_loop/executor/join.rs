//! `Task<T>`: the handle `spawn` returns, a future of the task's outcome.
//!
//! Mirrors awaiting an `asyncio.Task` and `Task.cancel()` (CPython `Lib/asyncio/tasks.py`,
//! L28–L33, L43) with the port's decisions: dropping a handle nobody awaits detaches the task
//! (D3); dropping a handle *while awaiting it* (its awaiting task was cancelled, or a `timeout`
//! expired around it) cancels the task at once (L33, L36).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::task::{drop_caught, drop_unclaimed, report_unobserved, Outcome, TaskRc};
use crate::error::{Cancelled, Error};
use crate::event_loop::exception::{panic_error, PanicError};
use crate::event_loop::LoopHandle;

/// A spawned task (Python's `asyncio.Task`). Await it for `Ok(output)`, or `Err(Cancelled)` if
/// it was cancelled. A panic inside the task resumes in whoever awaits the handle; if nobody
/// does, it is reported through the loop's exception handler.
///
/// # Cancel safety
/// Dropping the handle before awaiting it detaches the task: it keeps running. Dropping it while
/// it is being awaited (after a `Pending` poll) cancels the task and drops its future at once;
/// that drop (the task's cleanup) runs with the task as its loop's current task
/// ([`LoopHandle::current_task`](crate::LoopHandle::current_task); also
/// [`current_task`](crate::current_task) while that loop runs).
///
/// # Panics
/// Awaited by its own task (the handle reached it through an `Rc` or a channel), it panics
/// with "Task cannot await on itself", which fails that task, as Python's `RuntimeError` does,
/// instead of waiting forever.
///
/// The outcome is handed out once: a handle awaited again after it gave it (through `&mut`,
/// as [`shield`](crate::shield) takes it) gives `Err(Cancelled)` at once.
///
/// A handle awaited through `&mut` (`timeout(d, &mut task)`) counts as awaited from its first
/// `Pending` poll until it gives its outcome, also once that wait is given up (the timeout
/// expired): dropping a borrow runs no code, so the task runs on while you hold the handle,
/// which you may await again, and dropping the handle cancels it then (Python's expired
/// `wait_for(task, t)` cancels it at once). To stop waiting and let the task run on, wait
/// through [`shield`](crate::shield) (`timeout(d, shield(&mut task))`) or
/// [`detach`](Self::detach) the handle.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let quick = asyncio::spawn(async { 6 * 7 });
///     let stuck = asyncio::spawn(asyncio::sleep(Duration::from_secs(3600)));
///     assert_eq!(quick.await, Ok(42));
///     assert!(stuck.cancel());
///     assert_eq!(stuck.await, Err(asyncio::Cancelled));
/// })
/// .unwrap();
/// ```
#[must_use = "a Task dropped unawaited runs on and nobody reads its output (a TaskGroup \
              still waits for it); await it, or detach() it to say so"]
pub struct Task<T: 'static> {
    pub(crate) cell: TaskRc<T>,
    /// Polled at least once and not yet complete: dropping now cancels.
    pub(crate) awaited: bool,
}

impl<T: 'static> Task<T> {
    /// Requests cancellation (Python's `Task.cancel()`): at the task's next turn its future
    /// is dropped without being polled and the task ends with `Err(Cancelled)`. Returns false if
    /// the task has already ended; a failure it ended with then counts as seen, so dropping the
    /// handle does not report it. A task cancelling itself ends when its current poll
    /// returns.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let task = asyncio::spawn(std::future::pending::<()>());
    ///     assert!(task.cancel());
    ///     asyncio::yield_now().await; // the cancellation lands at the task's next turn
    ///     assert!(task.is_done() && task.is_cancelled());
    ///     assert!(!task.cancel(), "already ended");
    /// })
    /// .unwrap();
    /// ```
    // Checklist: L28, L30.
    pub fn cancel(&self) -> bool {
        if self.cell.header.is_done() {
            // As Python's cancel() of a finished task: its failure counts as seen (L35).
            self.cell.join.borrow_mut().retrieved = true;
            return false;
        }
        if let Some(inner) = self.cell.header.lp.upgrade() {
            inner.request_cancel(self.cell.header.key);
        }
        true
    }

    /// Whether the task has ended (with a value, a panic, or cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let task = asyncio::spawn(async { 7 });
    ///     assert!(!task.is_done()); // spawned, not yet run
    ///     asyncio::yield_now().await; // its turn comes
    ///     assert!(task.is_done());
    ///     assert_eq!(task.await, Ok(7));
    /// })
    /// .unwrap();
    /// ```
    pub fn is_done(&self) -> bool {
        self.cell.header.is_done()
    }

    /// Whether the task ended cancelled: by [`cancel`](Self::cancel), by the drop of its
    /// handle while awaited, or by the loop's close. A task that passed a cancellation on as
    /// its output (`Err(Error::Cancelled)` from `?`) ended with that value: false here, where
    /// Python's `cancelled()` says true; such an output counts as no failure (reports,
    /// `ReturnWhen::FirstException`, `TaskGroup`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let stopped = asyncio::spawn(std::future::pending::<()>());
    ///     stopped.cancel();
    ///     // A task whose output is a cancellation it passed on (what `?` does with one):
    ///     let passed_on = asyncio::spawn(async { Err::<(), _>(asyncio::Error::Cancelled) });
    ///     asyncio::yield_now().await; // both have had their turn
    ///     assert!(stopped.is_done() && stopped.is_cancelled());
    ///     assert!(passed_on.is_done() && !passed_on.is_cancelled()); // it ended with a value
    ///     assert!(matches!(passed_on.await, Ok(Err(asyncio::Error::Cancelled))));
    ///     assert_eq!(stopped.await, Err(asyncio::Cancelled));
    /// })
    /// .unwrap();
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.cell.header.is_cancelled()
    }

    /// Takes the outcome of a task that has ended, without awaiting it (Python's
    /// `Task.result()`): for code outside the loop, after `run_until_complete` or in a callback
    /// once [`is_done`](Self::is_done) says so.
    ///
    /// The output is handed out once, as by an await: the first `result()` or await takes the
    /// value or the panic; after that, `result()` gives `InvalidState` and an await
    /// `Err(Cancelled)`. A failure taken here counts as seen: dropping the handle reports
    /// nothing. A cancellation is not taken: every call gives `Error::Cancelled`.
    ///
    /// # Errors
    /// [`Error::InvalidState`] (`Result is not ready.`) while the task runs, and
    /// (`result already taken`) once the output was taken; [`Error::Cancelled`] if the task
    /// ended cancelled; [`Error::Panic`] if it panicked (where Python's `result()`
    /// raises the task's exception).
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let mut task = lp.spawn(async { 6 * 7 })?;
    /// let early = task.result().unwrap_err(); // spawned, not yet run
    /// assert_eq!(early.to_string(), "Result is not ready.");
    /// lp.run_until_complete(asyncio::yield_now())?; // one turn: the task runs and ends
    /// assert_eq!(task.result()?, 42); // no await needed once it is done
    /// assert!(matches!(task.result(), Err(asyncio::Error::InvalidState(_)))); // taken
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    // Checklist: L26, L35, L43.
    pub fn result(&mut self) -> Result<T, Error> {
        let header = &self.cell.header;
        if !header.is_done() {
            return Err(Error::invalid_state("Result is not ready."));
        }
        if header.is_cancelled() {
            return Err(Error::Cancelled); // left in place, for every call and await
        }
        let outcome = self.cell.join.borrow_mut().outcome.take();
        self.awaited = false;
        match outcome {
            Some(Outcome::Value(v)) => Ok(v),
            Some(Outcome::Panicked(p)) => Err(Error::Panic(self.panic_of(p))),
            Some(Outcome::Cancelled) => Err(Error::Cancelled), // not with a `Done` task
            None => Err(Error::invalid_state("result already taken")),
        }
    }

    /// The task's name (Python's `Task.get_name()`): `Task-<n>` unless
    /// [`set_name`](Self::set_name) gave it another. Reports about the task show it.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let task = asyncio::spawn(async {});
    ///     assert!(task.name().starts_with("Task-"));
    ///     // Python's create_task(coro, name='No-op'): the body has not started
    ///     task.set_name("No-op");
    ///     assert_eq!(task.name(), "No-op");
    ///     task.await.unwrap();
    /// })
    /// .unwrap();
    /// ```
    // Checklist: L24.
    pub fn name(&self) -> String {
        super::introspect::name_of(&self.cell.header)
    }

    /// Names the task (Python's `Task.set_name()`), for its reports and
    /// [`name`](Self::name).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let task = asyncio::spawn(async {
    ///         asyncio::yield_now().await;
    ///         asyncio::current_task().unwrap().unwrap().name() // what the task itself sees
    ///     });
    ///     task.set_name("worker-1");
    ///     assert_eq!(task.await.unwrap(), "worker-1");
    /// })
    /// .unwrap();
    /// ```
    pub fn set_name(&self, name: impl Into<String>) {
        self.task_ref().set_name(name);
    }

    /// A [`TaskRef`](super::TaskRef) to this task: what [`current_task`](crate::current_task)
    /// returns inside it, and what [`all_tasks`](crate::all_tasks) lists.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let task = asyncio::spawn(async { asyncio::current_task().unwrap().unwrap() });
    ///     let outside = task.task_ref();
    ///     assert!(asyncio::all_tasks()?.contains(&outside));
    ///     let inside = task.await.unwrap();
    ///     assert_eq!(inside, outside); // the same task, seen from both sides
    ///     assert!(outside.is_done());
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn task_ref(&self) -> super::TaskRef {
        super::TaskRef::of(self.cell.clone())
    }

    /// Lets the task run on with nobody awaiting it (the same as dropping an unawaited handle).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// asyncio::run(async {
    ///     let ran = Rc::new(Cell::new(false));
    ///     let flag = ran.clone();
    ///     asyncio::spawn(async move { flag.set(true) }).detach(); // fire and forget
    ///     asyncio::yield_now().await;
    ///     assert!(ran.get());
    /// })
    /// .unwrap();
    /// ```
    pub fn detach(mut self) {
        self.awaited = false;
    }

    /// Whether the task has ended; if not, `cx`'s waker is woken when it does. Unlike polling
    /// the handle this neither takes the outcome nor makes a drop cancel the task.
    pub(crate) fn poll_done(&self, cx: &mut Context<'_>) -> bool {
        if self.cell.header.is_done() {
            return true;
        }
        let mut j = self.cell.join.borrow_mut();
        let replaced = match &j.waker {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => j.waker.replace(cx.waker().clone()),
        };
        drop(j);
        // After the borrow: a waker's drop may run user code. Not caught: only this handle
        // files a waker, so both came from whoever polls it, and a panic of the old one's drop
        // is that poller's own, as the stream reader's replaced waker is (`clone_from`).
        drop(replaced);
        false
    }

    /// Takes back the waker the last `poll_done` (or pending poll) filed, for a waiter that
    /// stops waiting with the handle still alive (`wait` handing back pending tasks, a dropped
    /// `shield`): CPython removes its done callback then. The handle is the only way to file a
    /// waker, so whatever the slot holds came through it.
    pub(crate) fn unfile_waker(&self) {
        let waker = self.cell.join.borrow_mut().waker.take();
        self.let_go(waker);
    }

    /// Drops a waker taken from the slot, after the borrow, a panic of its `Drop` caught and
    /// reported to the task's loop: it may be another executor's (the handle awaited from
    /// there), and the one letting it go now (a dropped `shield` or `wait`, a cancel from the
    /// loop's own code) did not supply it. Uncaught, its panic unwound into that caller.
    fn let_go(&self, waker: Option<std::task::Waker>) {
        if let Some(w) = waker {
            drop_unclaimed(&self.cell.header, "a waker", w);
        }
    }

    /// Polls for the outcome as `.await` does, but leaves the handle as if never awaited, so
    /// that dropping the caller's future does not cancel the task (`shield`).
    pub(crate) fn poll_shielded(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Cancelled>> {
        let out = Pin::new(&mut *self).poll(cx);
        self.awaited = false;
        out
    }

    /// A `'static` way to cancel this task later without holding the handle.
    pub(crate) fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            lp: self.cell.header.lp.clone(),
            key: self.cell.header.key,
        }
    }

    /// Cancels now: drops the future at once if it is not being polled.
    fn cancel_now(&self) {
        let header = &self.cell.header;
        let Some(inner) = header.lp.upgrade() else {
            return;
        };
        match self.cell.take_future() {
            Some(fut) => {
                self.cell.join.borrow_mut().detached = true;
                // A panic of its cleanup is reported (detached), not unwound into this drop.
                // Checklist: L33, S56. The cleanup runs as the task itself, still in the slab
                // (`current_task()`, `all_tasks()`), as a Python task runs its `finally`, and
                // being cancelled (a writer it drops says so); not queued: it leaves below.
                header.request_cancel();
                let panicked = inner.book.as_current(header.key, || drop_caught(Some(fut)));
                let removed = inner.tasks.borrow_mut().remove(header.key);
                drop(removed);
                // The cleanup may have ended the task already (it closed the loop).
                self.cell.end_cancelled(panicked);
            }
            None => {
                // Out of its cell: the task is being polled (its poll let go of the task that
                // awaited this handle), or its future is being dropped by another
                // cancellation. It ends when that is over, and nobody will take its outcome:
                // detached, so a failure it ends with is reported (L35).
                let waker = {
                    let mut j = self.cell.join.borrow_mut();
                    j.detached = true;
                    j.waker.take()
                };
                self.let_go(waker);
                inner.request_cancel(header.key);
            }
        }
    }
}

impl<T: 'static, E: 'static> Task<Result<T, E>> {
    /// Whether the task ended by failing: a panic or an `Err` output (Python's
    /// `not t.cancelled() and t.exception() is not None`). False while it runs and once the
    /// outcome has been taken. An `Err` that is a cancellation passed on with `?`
    /// ([`Cancelled`], [`Error::Cancelled`](crate::Error::Cancelled), also boxed or in an
    /// `io::Error`) is not a failure: in Python the task ends cancelled (L32).
    pub(crate) fn failed(&self) -> bool {
        match &self.cell.join.borrow().outcome {
            Some(Outcome::Panicked(_)) => true,
            Some(Outcome::Value(Err(e))) => !crate::error::is_cancellation(e),
            _ => false,
        }
    }
}

/// Cancels a task by slab key: a no-op once the task has ended (the key is stale).
#[derive(Clone)]
pub(crate) struct AbortHandle {
    lp: std::rc::Weak<crate::event_loop::LoopInner>,
    key: crate::slots::SlotKey,
}

impl AbortHandle {
    /// `Task::cancel` without the handle.
    pub(crate) fn cancel(&self) {
        if let Some(inner) = self.lp.upgrade() {
            inner.request_cancel(self.key);
        }
    }

    /// Cancels now, as dropping an awaited [`Task`] does (L33): the future is dropped at once
    /// and the task ends cancelled; if it is the task being polled, it ends when its poll
    /// returns. For a waiter that cannot wait for the cancellation to land (a dropped
    /// `TaskGroup`, whose Python counterpart waits for its cancelled tasks).
    pub(crate) fn cancel_at_once(&self) {
        let Some(inner) = self.lp.upgrade() else {
            return;
        };
        let task = inner.tasks.borrow().get(self.key).cloned();
        let Some(task) = task else {
            return; // ended: the key is stale
        };
        if task.cancel_at_once(&inner) {
            let removed = inner.tasks.borrow_mut().remove(self.key);
            drop(removed);
        } else {
            inner.request_cancel(self.key);
        }
    }

    /// The task's failure has been taken note of (by its `TaskGroup`): neither its end with a
    /// dropped handle nor the drop of an unawaited handle reports it as never retrieved.
    pub(crate) fn mark_retrieved(&self) {
        let Some(inner) = self.lp.upgrade() else {
            return;
        };
        let task = inner.tasks.borrow().get(self.key).cloned();
        if let Some(task) = task {
            task.mark_retrieved();
        }
    }
}

impl<T: 'static> Task<T> {
    /// Polls for the outcome as `.await` does, a panic of the task included.
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        let mut j = self.cell.join.borrow_mut();
        if let Some(outcome) = j.outcome.take() {
            drop(j);
            self.awaited = false;
            return Poll::Ready(outcome);
        }
        if self.cell.header.is_done() {
            // Differs from CPython: a Python task gives its result to every await; the output
            // here is moved out once, so a handle polled again after that (through `&mut`)
            // has nothing to give but `Err(Cancelled)` (documented on `Task`).
            return Poll::Ready(Outcome::Cancelled);
        }
        let replaced = match &j.waker {
            Some(w) if w.will_wake(cx.waker()) => None,
            _ => j.waker.replace(cx.waker().clone()),
        };
        drop(j);
        drop(replaced); // after the borrow, uncaught: the poller's own, as in `poll_done`

        if !self.awaited {
            self.refuse_awaiting_itself();
        }
        // Differs from CPython: an expired `wait_for(task, t)` cancels the task at once. A wait
        // through `&mut` that is given up leaves no trace here, so the handle stays awaited and
        // its later drop cancels (documented on `Task`).
        self.awaited = true;
        Poll::Pending
    }

    /// CPython's `RuntimeError("Task cannot await on itself")`: a task awaiting its own
    /// handle (through an `Rc` or a channel) would wait forever. As a panic, it fails that
    /// task, as the exception fails the Python task. Checked at a wait's first pending poll.
    // Checklist: L43.
    fn refuse_awaiting_itself(&self) {
        let header = &self.cell.header;
        let current = header.lp.upgrade().map(|inner| inner.book.current());
        if current == Some(header.key) {
            panic!("Task cannot await on itself: {}", header.describe());
        }
    }

    /// Polls for the outcome as `.await` does, but a panic of the task comes back as its
    /// [`PanicError`] instead of resuming in the caller (`gather_return_exceptions`).
    pub(crate) fn poll_caught(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Result<T, Cancelled>, PanicError>> {
        self.poll_outcome(cx).map(|outcome| match outcome {
            Outcome::Value(v) => Ok(Ok(v)),
            Outcome::Cancelled => Ok(Err(Cancelled)),
            Outcome::Panicked(p) => Err(self.panic_of(p)),
        })
    }

    /// A panic payload of the task as the error it is handed out as, the payload dropped.
    fn panic_of(&self, payload: Box<dyn std::any::Any + Send>) -> PanicError {
        let lp = self.cell.header.lp.upgrade();
        panic_error(lp.map(|inner| LoopHandle { inner }).as_ref(), payload)
    }
}

impl<T: 'static> Future for Task<T> {
    type Output = Result<T, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.poll_outcome(cx) {
            Poll::Ready(Outcome::Value(v)) => Poll::Ready(Ok(v)),
            Poll::Ready(Outcome::Cancelled) => Poll::Ready(Err(Cancelled)),
            Poll::Ready(Outcome::Panicked(p)) => std::panic::resume_unwind(p),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: 'static> Drop for Task<T> {
    fn drop(&mut self) {
        let mut j = self.cell.join.borrow_mut();
        if !self.cell.header.is_done() {
            if self.awaited {
                drop(j);
                self.cancel_now();
            } else {
                j.detached = true;
                let waker = j.waker.take();
                drop(j);
                self.let_go(waker);
            }
        } else if let Some(outcome) = j.outcome.take() {
            // Finished but never awaited: report a failure nobody saw (L35), unless someone
            // else (a `TaskGroup`) took note of it.
            j.detached = true;
            let retrieved = j.retrieved;
            drop(j);
            report_unobserved(&self.cell.header, outcome, retrieved);
        }
    }
}

impl<T: 'static> fmt::Debug for Task<T> {
    /// As Python's task repr: `<Task pending name='Task-3' future=my_crate::handler::{{closure}}>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cell.header.describe())
    }
}
