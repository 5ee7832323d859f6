//! `TaskGroup`: tasks that live and fail together.
//!
//! Mirrors `TaskGroup` in CPython `Lib/asyncio/taskgroups.py` (3.11): `async with
//! TaskGroup() as tg:` is [`TaskGroup::run`]`(|tg| async move { … })`. The group waits for
//! every task it started; the first failure (a task's `Err` or panic, or the body's `Err`)
//! cancels the body and every other task; the group then fails with [`Error::Group`] naming
//! every failure, in the order they happened.
//!
//! Ground rules: the shared state is borrowed only inside these methods, never while a task
//! is cancelled, a waker is woken or a user future is polled. Each task carries a guard that
//! counts it out of the group when its future ends or is dropped (by cancellation), so the
//! group's count is right however a task ends; it leaves from a callback a turn later, as a
//! task leaves CPython's group in its done callback. Calls only into the executor.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::error::Error;
use crate::event_loop::exception::{
    drop_contained, panic_error, report, ExceptionContext, PanicError,
};
use crate::event_loop::executor::{spawn, AbortHandle, Task};
use crate::event_loop::{current_loop, LoopHandle, LoopInner};

/// A group of tasks (Python's `asyncio.TaskGroup`). Get one from [`TaskGroup::run`]; it is a
/// cheap handle to clone into the tasks that start more tasks.
///
/// # Examples
///
/// ```
/// use asyncio::{Error, TaskGroup};
///
/// asyncio::run(async {
///     let (a, b) = TaskGroup::run(|tg| async move {
///         let a = tg.create_task(async { Ok::<_, Error>(1) })?;
///         let b = tg.create_task(async { Ok::<_, Error>(2) })?;
///         Ok::<_, Error>((a, b))
///     })
///     .await?;
///     // Every task has ended by now: their handles are ready.
///     assert_eq!((a.await.unwrap()?, b.await.unwrap()?), (1, 2));
///     Ok::<_, Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct TaskGroup {
    inner: Rc<Inner>,
}

/// `Open → (Failing →) Aborting → Closed { aborted: true }` or `Open → Closed { aborted:
/// false }`: `Failing` from a task's failure until the group learns of it on a later turn
/// (Python's `_on_task_done`, a done callback queued as the task fails); `Aborting` once a
/// failure or a cancellation cancelled the rest (Python's `_aborting`); `Closed` once `run`
/// has returned or was dropped, remembering whether it had aborted (Python's flag stays set,
/// and the group's description says `cancelling` for ever after).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GroupState {
    Open,
    Failing,
    Aborting,
    Closed { aborted: bool },
}

struct Inner {
    /// Changed only by [`Inner::set_state`].
    state: Cell<GroupState>,
    /// A way to cancel each task still running, by its member key. Invariant: a task's entry
    /// leaves when its future ends or is dropped, or when it fails (CPython's `_tasks`, from
    /// which `_on_task_done` discards a finished task): a long-lived group holds its running
    /// tasks only, not every task it ever started.
    tasks: RefCell<Slab<AbortHandle>>,
    /// Tasks whose future has not ended or been dropped yet, or did so this turn: a task
    /// leaves the count from a callback (see [`Inner::task_ended`]).
    running: Cell<usize>,
    /// The body is over (returned, or cut short by the abort): CPython's `_exiting`. With no
    /// task left, the group takes no new one.
    exiting: Cell<bool>,
    /// Every task's failure so far, oldest first.
    errors: RefCell<Vec<Error>>,
    /// The body's failure, kept apart: it comes after the tasks' failures, and the
    /// description does not count it, as CPython's `__aexit__` adds it to `_errors` only as
    /// it raises.
    body_error: RefCell<Option<Error>>,
    /// Task failures in `errors` the group has not learnt yet, each with its callback queued
    /// (see [`Inner::task_failed`]): the description still counts such a task as a task, not
    /// as an error, as CPython's repr does before `_on_task_done`.
    unlearnt: Cell<usize>,
    /// The waker of `run`, woken when a task ends or fails. Invariant: `None` once `run` has
    /// returned or was dropped.
    waker: RefCell<Option<Waker>>,
    /// The loop `run` started on (CPython's `_loop`), to report what a dropped `run` could not
    /// return to that loop's handler even when it is dropped outside a run (as the loop
    /// closes). Weak: a group kept in a task must not keep its loop alive.
    lp: Weak<LoopInner>,
}

impl Inner {
    fn set_state(&self, to: GroupState) {
        use GroupState::*;
        let from = self.state.get();
        let edge = matches!(
            (from, to),
            (Open, Failing | Aborting)
                | (Failing, Aborting)
                | (Open, Closed { aborted: false })
                | (Aborting, Closed { aborted: true })
        );
        debug_assert!(edge, "TaskGroup state {from:?} -> {to:?} is not an edge");
        self.state.set(to);
    }

    fn wake(&self) {
        let waker = self.waker.borrow_mut().take();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Records the body's failure (raised after the tasks'); cancels every running task at
    /// once (Python's `__aexit__` calls `_abort` as the body's exception reaches it).
    fn fail(&self, e: Error) {
        drop(self.body_error.replace(Some(e)));
        self.abort(false);
        self.wake();
    }

    /// Records a task's failure. The group learns of it on a later turn, from a callback
    /// queued now, behind whatever the failing step woke, as CPython's done callback
    /// (`_on_task_done`) is queued behind it: those tasks run first with the group not yet
    /// aborting, so a `create_task` of theirs is accepted, and the abort then cancels that
    /// task before its first step. Without a loop to queue on, the group aborts now.
    fn task_failed(self: &Rc<Self>, e: Error) {
        self.errors.borrow_mut().push(e);
        // One callback per failure, as CPython queues one per task: each is learnt in turn.
        let group = self.clone();
        let learn = move || {
            group.unlearnt.set(group.unlearnt.get().saturating_sub(1));
            if group.state.get() == GroupState::Failing {
                group.abort(false);
                group.wake();
            }
        };
        let lp = self.lp.upgrade().map(|inner| LoopHandle { inner });
        if let Some(Ok(_)) = lp.map(|lp| lp.call_soon(learn)) {
            self.unlearnt.set(self.unlearnt.get() + 1);
            if self.state.get() == GroupState::Open {
                self.set_state(GroupState::Failing);
            }
        } else if matches!(self.state.get(), GroupState::Open | GroupState::Failing) {
            self.abort(false);
            self.wake();
        }
    }

    /// A task's future has ended or was dropped. It leaves the count `run` waits on from a
    /// callback queued now, as a task leaves CPython's `_tasks` in its done callback
    /// (`_on_task_done`), a turn after it ended: a body that ends in the same turn still waits
    /// for it, and `run` is woken only when the last task has left (`_on_completed_fut`), not
    /// at each task's end, which queued `run`'s task early, where a cancellation of it then
    /// overtook (and cancelled) tasks queued after it. With `run` gone or no loop to queue
    /// on, it leaves now.
    fn task_ended(self: &Rc<Self>) {
        if !matches!(self.state.get(), GroupState::Closed { .. }) {
            let group = self.clone();
            let lp = self.lp.upgrade().map(|inner| LoopHandle { inner });
            if let Some(Ok(_)) = lp.map(|lp| lp.call_soon(move || group.task_left())) {
                return;
            }
        }
        self.task_left();
    }

    /// One task fewer to wait for; the last one wakes `run`.
    fn task_left(&self) {
        let left = self.running.get() - 1;
        self.running.set(left);
        if left == 0 {
            self.wake();
        }
    }

    /// The failures to raise: the tasks', oldest first, then the body's.
    fn take_errors(&self) -> Vec<Error> {
        let mut errors = std::mem::take(&mut *self.errors.borrow_mut());
        errors.extend(self.body_error.take());
        errors
    }

    /// Cancels every running task: at its next turn, as Python's `_abort`, while `run` waits
    /// for them; `at_once` (their futures dropped now) when `run` is going away and cannot
    /// wait, so that none outlives it, as none outlives Python's `async with`.
    fn abort(&self, at_once: bool) {
        let first = matches!(self.state.get(), GroupState::Open | GroupState::Failing);
        if first {
            self.set_state(GroupState::Aborting);
        }
        if at_once {
            // No task can join from here on (`create_task` refuses), so no key is reused while
            // a member whose entry this empties is still to leave.
            let handles: Vec<AbortHandle> = self.tasks.borrow_mut().drain().collect();
            for h in handles {
                h.cancel_at_once();
            }
        } else if first {
            // The entries stay until their tasks leave: a later `at_once` still finds those
            // whose cancellation has not landed yet.
            let handles: Vec<AbortHandle> =
                self.tasks.borrow().iter().map(|(_, h)| h.clone()).collect();
            for h in handles {
                h.cancel();
            }
        }
    }
}

/// Counts a task out of its group when its future ends or is dropped.
struct Member {
    group: Rc<Inner>,
    /// The task's entry in `Inner::tasks`; `None` once it has left.
    key: Option<usize>,
}

impl Member {
    /// Takes the task's entry out of the group's cancel list (it ends, or it failed and must
    /// not be cancelled by the abort its failure starts); returns it, if it was still there.
    fn leave(&mut self) -> Option<AbortHandle> {
        let key = self.key.take()?;
        let removed = self.group.tasks.borrow_mut().try_remove(key);
        removed
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        drop(self.leave());
        self.group.task_ended();
    }
}

/// A group task's future: the caller's future, run with its membership. A panic of the
/// future (polled, or dropped after it ended) and an `Err` output are the task's failure,
/// handed to the group; so is a panic of its drop while it is cancelled (its cleanup, Python's
/// `finally`), which then stays the task's own outcome as well.
struct GroupTask<F> {
    /// `None` once it ended (or was dropped).
    fut: Option<Pin<Box<F>>>,
    member: Member,
}

impl<F> GroupTask<F> {
    /// The task failed with `e`: out of the cancel list first (the failing task is not
    /// cancelled by the abort it starts), its failure marked as seen (as CPython's
    /// `_on_task_done` retrieves it with `task.exception()`, it is never also reported as
    /// unobserved), then the group's.
    fn fail(&mut self, e: Error) {
        if let Some(handle) = self.member.leave() {
            handle.mark_retrieved();
        }
        self.member.group.task_failed(e);
    }
}

impl<F, T, E> Future for GroupTask<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Error>,
{
    type Output = Result<T, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Nothing in it is pinned (the future is boxed).
        let this = &mut *self;
        let Some(fut) = this.fut.as_mut() else {
            return Poll::Pending; // ended: its task never polls it again
        };
        let outcome = match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            // A payload is turned into the error (and dropped, caught) before the group is
            // told: a payload whose own drop panics must not end the task unseen by it.
            Ok(Poll::Ready(r)) => match catch_unwind(AssertUnwindSafe(|| this.fut = None)) {
                Ok(()) => r.map_err(Into::into),
                Err(p) => Err(Error::Panic(panic_error(None, p))),
            },
            Err(p) => {
                // The future may panic again while dropping; that second panic is contained.
                if let Err(again) = catch_unwind(AssertUnwindSafe(|| this.fut = None)) {
                    drop_contained(None, "a panic payload", again);
                }
                Err(Error::Panic(panic_error(None, p)))
            }
        };
        // A cancellation passed on with `?` (awaiting a cancelled task) ends this task as
        // cancelled, which is no failure of the group: CPython's `_on_task_done` skips
        // cancelled tasks (L32).
        if let Some(e) = outcome.as_ref().err().filter(|e| !e.is_cancellation()) {
            this.fail(e.duplicate());
        }
        Poll::Ready(outcome)
    }
}

impl<F> Drop for GroupTask<F> {
    fn drop(&mut self) {
        let Some(fut) = self.fut.take() else {
            return;
        };
        // Cancelled: its future is dropped before it ended.
        let Err(p) = catch_unwind(AssertUnwindSafe(move || drop(fut))) else {
            return;
        };
        // Its cleanup panicked (test_taskgroup_08: a child whose `finally` raises while the
        // group cancels it fails the group). Differs from CPython: a group whose `run` was
        // dropped returns nothing; it emptied its cancel list, so `leave` finds no entry and
        // the failure is not marked as seen: the panic is left to the task alone (reported
        // if nobody awaits it).
        self.fail(Error::Panic(PanicError::from_payload(&*p)));
        // The task's own outcome, as for any task whose cleanup panics; not while another
        // panic unwinds (that would abort).
        if !std::thread::panicking() {
            std::panic::resume_unwind(p);
        }
    }
}

impl TaskGroup {
    /// Runs `body` with a new group and returns its output once every task of the group has
    /// ended (Python's `async with asyncio.TaskGroup() as tg:`).
    ///
    /// # Errors
    /// [`Error::Group`] with every failure, oldest first, if the body returned `Err` or a task
    /// failed (returned `Err` or panicked: [`Error::Panic`]). The first failure cancels the
    /// body (it is dropped where it waits) and every other task; cancelled tasks are not
    /// failures, unless a task's cleanup (its future's `Drop`) panics as it is cancelled:
    /// that panic is a failure of the group, as Python's group counts a child whose
    /// `finally` raises. A body that passes a cancellation on (`Err(Error::Cancelled)` from
    /// `?` on a cancelled task) cancels every task too, and the group returns that error
    /// unless a task failed, as Python's `async with` re-raises the body's `CancelledError`.
    ///
    /// # Panics
    /// A panic in the body itself is not caught: it unwinds out of `run`, and every task of
    /// the group is cancelled on the way (CPython adds the body's exception to the group).
    ///
    /// # Cancel safety
    /// Dropping the future (the task around it was cancelled, a timeout around it expired)
    /// drops the body and then the futures of every task of the group, at once: no task
    /// outlives the group, as none outlives Python's `async with` (which waits for them).
    /// Nothing is returned then: the failures the group had collected before the drop are
    /// reported through the loop's exception handler (`unhandled errors in a TaskGroup`; as
    /// [`run`](crate::run) shuts down, `unhandled exception during asyncio.run() shutdown`, as
    /// it reports a task that fails then), and a task whose cleanup panics as it is dropped
    /// keeps that panic as its own outcome (reported if nobody awaits it), where Python's group
    /// would raise them all.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{Error, TaskGroup};
    ///
    /// asyncio::run(async {
    ///     let failed = TaskGroup::run(|tg| async move {
    ///         tg.create_task(async { Err::<(), _>(Error::InvalidArgument("bad".into())) })?
    ///             .detach();
    ///         let stuck = tg.create_task(async {
    ///             std::future::pending::<()>().await;
    ///             Ok::<_, Error>(())
    ///         })?;
    ///         Ok::<_, Error>(stuck)
    ///     })
    ///     .await;
    ///     match failed {
    ///         // The stuck one was cancelled.
    ///         Err(Error::Group(errors)) => assert_eq!(errors.len(), 1),
    ///         other => panic!("{other:?}"),
    ///     }
    /// })
    /// .unwrap();
    /// ```
    pub async fn run<F, Fut, R, E>(body: F) -> Result<R, Error>
    where
        F: FnOnce(TaskGroup) -> Fut,
        Fut: Future<Output = Result<R, E>>,
        E: Into<Error>,
    {
        let inner = Rc::new(Inner {
            state: Cell::new(GroupState::Open),
            tasks: RefCell::new(Slab::new()),
            running: Cell::new(0),
            exiting: Cell::new(false),
            errors: RefCell::new(Vec::new()),
            body_error: RefCell::new(None),
            unlearnt: Cell::new(0),
            waker: RefCell::new(None),
            lp: current_loop().map_or_else(Weak::new, |lp| Rc::downgrade(&lp.inner)),
        });
        let _close = CloseOnDrop(inner.clone());
        let tg = TaskGroup {
            inner: inner.clone(),
        };
        let mut body = Some(Box::pin(body(tg)));
        let mut output = None;
        // The body passed a cancellation on (`?` on a cancelled task): no failure, but the
        // group ends with it (CPython re-raises the body's CancelledError, L32).
        let mut cancelled = None;
        std::future::poll_fn(|cx| {
            if let Some(b) = body.as_mut() {
                if inner.state.get() == GroupState::Aborting {
                    // A task failed: cancel the body where it waits.
                    body = None;
                    inner.exiting.set(true);
                } else if let Poll::Ready(r) = b.as_mut().poll(cx) {
                    body = None;
                    inner.exiting.set(true);
                    match r.map_err(Into::into) {
                        Ok(v) => output = Some(v),
                        Err(e) if e.is_cancellation() => {
                            // Checklist: L32. The other tasks are cancelled, not failed.
                            inner.abort(false);
                            cancelled = Some(e);
                        }
                        Err(e) => inner.fail(e),
                    }
                }
            }
            // Done once no task runs and the body is over, or cut short by the abort; not
            // while a failure waits to be learnt (its abort may cancel a task started since).
            let settled = match inner.state.get() {
                GroupState::Open => body.is_none(),
                GroupState::Failing => false,
                GroupState::Aborting | GroupState::Closed { .. } => true,
            };
            if inner.running.get() == 0 && settled {
                return Poll::Ready(());
            }
            // The replaced waker drops after the borrow: its drop may run user code.
            let replaced = inner.waker.borrow_mut().replace(cx.waker().clone());
            drop(replaced);
            Poll::Pending
        })
        .await;
        if inner.state.get() == GroupState::Open {
            // Ended on its own: the body is over and no task is left.
            inner.set_state(GroupState::Closed { aborted: false });
        }
        drop(body);
        let errors = inner.take_errors();
        match (output, cancelled) {
            (Some(v), _) if errors.is_empty() => Ok(v),
            (_, Some(e)) if errors.is_empty() => Err(e),
            _ => Err(Error::Group(errors)),
        }
    }

    /// Starts `fut` as a task of the group (Python's `tg.create_task(coro)`). The handle gives
    /// the task's own outcome; a failure is also the group's. The group waits for the task
    /// whether or not the handle is kept: `detach()` it when you do not need the outcome.
    /// An `Err(Error::Cancelled)` (the task awaited a cancelled task and passed that on with
    /// `?`) is a cancellation, not a failure: the group goes on, as Python's does when a
    /// child ends cancelled.
    ///
    /// # Errors
    /// [`Error::InvalidState`] once the group has finished (`TaskGroup <TaskGroup entered> is
    /// finished`: the body is over and the last task has left, a turn after it ended) or is
    /// shutting down after a failure (`TaskGroup <TaskGroup tasks=1 errors=1
    /// cancelling> is shutting down`), the group described by its `Debug` as in Python's
    /// texts; `fut` is dropped. A group learns of a task's failure a turn later, as Python's
    /// does (in a done callback): a task the failing one woke in its last step runs first, and
    /// its `create_task` is accepted; the new task is then cancelled before its first step,
    /// which is no failure of the group.
    ///
    /// # Panics
    /// Outside a running loop, as [`spawn`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use asyncio::{Error, TaskGroup};
    ///
    /// asyncio::run(async {
    ///     let mut kept = None;
    ///     TaskGroup::run(|tg| {
    ///         kept = Some(tg.clone());
    ///         async move {
    ///             let task = tg.create_task(async { Ok::<_, Error>(()) });
    ///             task.map(asyncio::Task::detach)
    ///         }
    ///     })
    ///     .await?;
    ///     let late = kept.unwrap().create_task(async { Ok::<_, Error>(()) });
    ///     assert!(matches!(late, Err(Error::InvalidState(_))));
    ///     Ok::<_, Error>(())
    /// })
    /// .unwrap()
    /// .unwrap();
    /// ```
    pub fn create_task<F, T, E>(&self, fut: F) -> Result<Task<Result<T, Error>>, Error>
    where
        F: Future<Output = Result<T, E>> + 'static,
        T: 'static,
        E: Into<Error> + 'static,
    {
        // Finished once the body is over and the last task has left, not when it ends:
        // CPython's group leaves a task in its set until that task's done callback, so a task
        // the last one woke as it ended may still add one, and `__aexit__` waits for it (as
        // `run` does). The texts name the group as CPython's do, by its description (`Debug`).
        let finished = self.inner.exiting.get() && self.inner.running.get() == 0;
        match self.inner.state.get() {
            // The body is over and the last task has left (CPython's `_exiting and not
            // _tasks`), in the turn before `run` returns: checked first, as CPython does.
            GroupState::Open | GroupState::Failing | GroupState::Aborting if finished => {
                return Err(Error::invalid_state(format!(
                    "TaskGroup {self:?} is finished"
                )))
            }
            // Failing: the group has not learnt of the failure yet (see `task_failed`).
            GroupState::Open | GroupState::Failing => {}
            GroupState::Aborting => {
                return Err(Error::invalid_state(format!(
                    "TaskGroup {self:?} is shutting down"
                )))
            }
            GroupState::Closed { .. } => {
                return Err(Error::invalid_state(format!(
                    "TaskGroup {self:?} is finished"
                )))
            }
        }
        // The key the entry pushed below will take: nothing inserts in between (`spawn` only
        // queues the task).
        let key = self.inner.tasks.borrow().vacant_key();
        let member = Member {
            group: self.inner.clone(),
            key: Some(key),
        };
        self.inner.running.set(self.inner.running.get() + 1);
        let task = spawn(GroupTask {
            fut: Some(Box::pin(fut)),
            member,
        });
        let inserted = self.inner.tasks.borrow_mut().insert(task.abort_handle());
        debug_assert_eq!(
            inserted, key,
            "TaskGroup entry {inserted} is not the key {key} given"
        );
        Ok(task)
    }
}

/// Closes the group when `run` returns or is dropped, cancelling what still runs.
struct CloseOnDrop(Rc<Inner>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        // `run` is over: its waker must not live on in a `TaskGroup` handle kept after it, nor
        // be woken by the tasks dropped below (that would poll the task around `run` again
        // for nothing, when `run` was dropped inside that task's poll).
        let waker = self.0.waker.borrow_mut().take();
        drop(waker);
        // What `run` collected and could not return: it was dropped (CPython's group raises
        // them even when cancelled). Taken before the tasks go: a cleanup panic as they are
        // dropped below stays its task's own outcome, reported by that task.
        let unreturned = self.0.take_errors();
        // Checklist: L33 (a cancelled waiter leaves nothing running). A group that ended on
        // its own (the body returned `Ok`, no task left) was closed without aborting by `run`;
        // one dropped while it waited aborts, as CPython's `__aexit__` does when its wait is
        // cancelled.
        if !matches!(self.0.state.get(), GroupState::Closed { .. }) {
            self.0.abort(true);
            self.0.set_state(GroupState::Closed { aborted: true });
        }
        if !unreturned.is_empty() {
            report_unreturned(&self.0.lp, unreturned);
        }
    }
}

/// Reports the failures of a group whose `run` was dropped before it could return them: they
/// were marked seen as the group took them, so nothing else reports them.
// Checklist: L35 (a failure nobody can see is reported once).
#[cold]
fn report_unreturned(lp: &Weak<LoopInner>, errors: Vec<Error>) {
    let lp = lp.upgrade().map(|inner| LoopHandle { inner });
    // Checklist: L41. Dropped as `asyncio::run` cancels what is left: reported as CPython's
    // shutdown reports the group's ExceptionGroup ending that task.
    let message = match &lp {
        Some(lp) if lp.inner.book.shutting_down() => {
            "unhandled exception during asyncio.run() shutdown"
        }
        _ => "unhandled errors in a TaskGroup",
    };
    let ctx = ExceptionContext::new(message).with_exception(Box::new(Error::Group(errors)));
    report(lp.as_ref(), &ctx);
}

impl std::fmt::Debug for TaskGroup {
    /// As Python's repr: `<TaskGroup tasks=2 errors=1 cancelling>`; `tasks` counts the tasks
    /// that have not left the group (a task leaves a turn after it ends, failed or not),
    /// `errors` the tasks' failures collected (and learnt) and not yet returned by `run`, then
    /// `cancelling` once the group has aborted (for good), else `entered`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.write_str("<TaskGroup")?;
        // A task counts until it leaves, a turn after it ended (failed ones included), as
        // one stays in CPython's `_tasks` until its done callback.
        let (tasks, unlearnt) = match inner.state.get() {
            GroupState::Closed { .. } => (inner.tasks.borrow().len(), 0),
            _ => (inner.running.get(), inner.unlearnt.get()),
        };
        if tasks > 0 {
            write!(f, " tasks={tasks}")?;
        }
        let errors = inner.errors.borrow().len().saturating_sub(unlearnt);
        if errors > 0 {
            write!(f, " errors={errors}")?;
        }
        let aborted = matches!(
            inner.state.get(),
            GroupState::Aborting | GroupState::Closed { aborted: true }
        );
        f.write_str(if aborted { " cancelling>" } else { " entered>" })
    }
}
