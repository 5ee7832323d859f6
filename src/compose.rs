//! Running several tasks at once: `gather`, `wait` and `as_completed`; and `shield`.
//!
//! Mirrors `gather`, `wait`, `as_completed` and `shield` in CPython `Lib/asyncio/tasks.py`,
//! over the crate's [`Task`]. A Python coroutine may raise; its Rust counterpart is a future of
//! `Result<T, E>`, so these functions read an `Err` output as the task's exception.
//!
//! Ground rules: no waker of ours is stored anywhere but in the tasks' own join slots (for
//! `gather` and `as_completed`, one `EndOrder` waker per task, holding the awaiting task's),
//! and a waiter that stops waiting takes the waker it filed back (`wait` as it returns, a
//! dropped `shield` or `next()`), as CPython removes its done callbacks; a
//! wake-up of `wait` or `gather` re-examines every unfinished task (linear in the number of
//! tasks, as CPython's `wait` re-examines its set), while `gather` and `as_completed` first take
//! the tasks in the order they ended (`EndOrder`, CPython's done callbacks). Nothing here
//! borrows anything across a poll of a task, and no lock of `EndOrder` is held while a waker is
//! cloned, woken or dropped.
//! Calls only into the executor (`Task`) and the timer (`Sleep`).

use std::collections::VecDeque;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::error::{Cancelled, Error};
use crate::event_loop::exception::PanicError;
use crate::event_loop::executor::{spawn, Task};
use crate::time::{sleep, Sleep};

/// Each future spawned as a task, in input order (what `gather`'s two forms wait for).
fn spawn_all<I, T, E>(futures: I) -> Vec<Option<Task<Result<T, E>>>>
where
    I: IntoIterator,
    I::Item: IntoFuture<Output = Result<T, E>>,
    <I::Item as IntoFuture>::IntoFuture: 'static,
    T: 'static,
    E: 'static,
{
    futures
        .into_iter()
        .map(|f| Some(spawn(f.into_future())))
        .collect()
}

/// The order in which a set of tasks end, which CPython keeps by running their done callbacks
/// in that order (`gather` fails with the first failure *in time*). Each task's join slot holds
/// a waker of its own, filed when the set is made (CPython adds its callbacks in the `gather`
/// call): woken as the task ends, it notes the task's position, then wakes the awaiting task.
struct EndOrder {
    /// Shared with the tasks' wakers.
    shared: Arc<Ended>,
    /// The waker filed with each task, by input position.
    wakers: Vec<Waker>,
}

/// What the tasks' wakers write. Only the loop's thread touches it (wakers must be `Send`).
#[derive(Default)]
struct Ended {
    /// Positions of the tasks that ended, oldest first, not yet taken by the awaiting future.
    order: Mutex<VecDeque<usize>>,
    /// The awaiting task's waker; taken when woken.
    parent: Mutex<Option<Waker>>,
}

/// The waker filed with the task at `index`.
struct EndWaker {
    index: usize,
    ended: Arc<Ended>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Wake for EndWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        lock(&self.ended.order).push_back(self.index);
        let parent = lock(&self.ended.parent).take();
        if let Some(w) = parent {
            w.wake();
        }
    }
}

impl EndOrder {
    /// Files a waker with every task; a task already ended is noted at once, in input order.
    fn new<T>(tasks: &[Option<Task<T>>]) -> EndOrder {
        let shared = Arc::new(Ended::default());
        let wakers: Vec<Waker> = (0..tasks.len())
            .map(|index| {
                Waker::from(Arc::new(EndWaker {
                    index,
                    ended: shared.clone(),
                }))
            })
            .collect();
        for (i, task) in tasks.iter().enumerate() {
            let Some(task) = task else { continue };
            if task.poll_done(&mut Context::from_waker(&wakers[i])) {
                lock(&shared.order).push_back(i);
            }
        }
        EndOrder { shared, wakers }
    }

    /// Remembers whose task to wake at the next end.
    fn set_parent(&self, waker: &Waker) {
        if lock(&self.shared.parent)
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            return;
        }
        let new = waker.clone(); // outside the lock: a waker's clone may run user code
        let replaced = lock(&self.shared.parent).replace(new);
        drop(replaced); // after the lock, for the same reason
    }

    /// Forgets the awaiting task's waker (its wait is over).
    fn clear_parent(&self) {
        let parent = lock(&self.shared.parent).take();
        drop(parent); // after the lock: a waker's drop may run user code
    }

    /// The position of the next task that ended, oldest first.
    fn next_ended(&self) -> Option<usize> {
        lock(&self.shared.order).pop_front()
    }
}

/// Spawns every future as a task and waits for all of them; their results come back in the
/// order of the input (Python's `asyncio.gather(*aws)`).
///
/// The first failure (an `Err` output, or `Cancelled` converted by `E: From<Cancelled>`
/// when a task was cancelled from elsewhere) is returned at once and the other tasks are
/// cancelled. This differs from CPython, which leaves them running: here nothing would be
/// left to await them. Of several tasks that fail before the awaiting task runs, the first
/// to fail is the one returned, as in CPython. A panic in a task resumes in the awaiting
/// task, and the other tasks are cancelled as the `Gather` is dropped. For Python's
/// `return_exceptions=True` see [`gather_return_exceptions`].
///
/// The futures share one type, as the items of any Rust collection do. For Python's
/// `n, name = await asyncio.gather(fetch_num(), fetch_name())` over different futures,
/// [`spawn`] each one and await the handles: the tasks run side by side from their `spawn`,
/// so the second `await` finds its task done or still running, never started late.
///
/// ```
/// use std::time::Duration;
///
/// async fn fetch_num() -> Result<u32, asyncio::Error> {
///     asyncio::sleep(Duration::from_millis(2)).await;
///     Ok(42)
/// }
/// async fn fetch_name() -> Result<String, asyncio::Error> {
///     Ok("spam".to_string())
/// }
///
/// asyncio::run(async {
///     let (num, name) = (asyncio::spawn(fetch_num()), asyncio::spawn(fetch_name()));
///     // The first `?` is the task's (`Cancelled`), the second the future's own error.
///     let (num, name) = (num.await??, name.await??);
///     assert_eq!((num, name.as_str()), (42, "spam"));
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
///
/// # Cancel safety
/// Dropping the future cancels every task it still waits for (Python's cancellation of the
/// gathering future).
///
/// # Panics
/// Outside a running loop, as [`spawn`] does.
///
/// # Examples
///
/// ```
/// async fn square(x: u32) -> Result<u32, asyncio::Error> {
///     asyncio::yield_now().await;
///     Ok(x * x)
/// }
///
/// asyncio::run(async {
///     let squares = asyncio::gather((1..=4).map(square)).await?;
///     assert_eq!(squares, [1, 4, 9, 16]);
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub fn gather<I, T, E>(futures: I) -> Gather<T, E>
where
    I: IntoIterator,
    I::Item: IntoFuture<Output = Result<T, E>>,
    <I::Item as IntoFuture>::IntoFuture: 'static,
    T: 'static,
    E: From<Cancelled> + 'static,
{
    let tasks = spawn_all(futures);
    let results = tasks.iter().map(|_| None).collect();
    Gather {
        left: tasks.len(),
        order: EndOrder::new(&tasks),
        tasks,
        results,
        finished: false,
    }
}

/// Like [`gather`], but every task runs to its end and each outcome comes back in place,
/// `Ok` or `Err` (Python's `asyncio.gather(*aws, return_exceptions=True)`). A task cancelled
/// from elsewhere gives `Err(E::from(Cancelled))`; a task that panicked gives
/// `Err(E::from(PanicError))` ([`Error::Panic`] for `E` = [`Error`]), as Python returns even
/// a `BaseException` in place: the panic does not resume in the awaiting task.
///
/// It takes futures to spawn, not tasks already running. Python's clean-up idiom, `for t in
/// tasks: t.cancel()` then `await gather(*tasks, return_exceptions=True)`, is a loop over
/// the [`Task`] handles here: each one awaited gives its output, or `Err(Cancelled)`.
///
/// ```
/// asyncio::run(async {
///     let workers: Vec<_> = (0..3).map(|_| asyncio::spawn(std::future::pending::<()>())).collect();
///     for w in &workers {
///         w.cancel();
///     }
///     for w in workers {
///         assert_eq!(w.await, Err(asyncio::Cancelled));
///     }
/// })
/// .unwrap();
/// ```
///
/// # Cancel safety
/// Dropping the future cancels every task it still waits for.
///
/// # Panics
/// Outside a running loop, as [`spawn`] does.
///
/// # Examples
///
/// ```
/// use asyncio::Error;
///
/// async fn check(x: i32) -> Result<i32, Error> {
///     if x < 0 {
///         return Err(Error::InvalidArgument(format!("{x} is negative")));
///     }
///     Ok(x)
/// }
///
/// asyncio::run(async {
///     let all = asyncio::gather_return_exceptions([check(1), check(-2), check(3)]).await;
///     assert!(matches!(all[..], [Ok(1), Err(Error::InvalidArgument(_)), Ok(3)]));
/// })
/// .unwrap();
/// ```
pub fn gather_return_exceptions<I, T, E>(futures: I) -> GatherReturnExceptions<T, E>
where
    I: IntoIterator,
    I::Item: IntoFuture<Output = Result<T, E>>,
    <I::Item as IntoFuture>::IntoFuture: 'static,
    T: 'static,
    E: From<Cancelled> + From<PanicError> + 'static,
{
    let tasks = spawn_all(futures);
    let results = tasks.iter().map(|_| None).collect();
    GatherReturnExceptions {
        left: tasks.len(),
        tasks,
        results,
        finished: false,
    }
}

/// The future of [`gather`]: `Ok` with every result in input order, or the first failure.
/// The output is handed out once, as a [`Task`]'s is: awaited again (through `&mut`), it gives
/// `Err(E::from(Cancelled))`, also after a poll that resumed a task's panic (that panic was
/// its output; the tasks still running are cancelled then).
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let none: Vec<std::future::Ready<Result<u8, asyncio::Error>>> = Vec::new();
///     let g: asyncio::Gather<u8, asyncio::Error> = asyncio::gather(none);
///     assert!(g.await.unwrap().is_empty()); // nothing to wait for
/// })
/// .unwrap();
/// ```
#[must_use = "the tasks run anyway; await the future to get their results"]
pub struct Gather<T: 'static, E: 'static> {
    /// The tasks not finished yet, by input position. Invariant: `None` once its result is in.
    tasks: Vec<Option<Task<Result<T, E>>>>,
    /// The results in, by input position.
    results: Vec<Option<T>>,
    /// How many tasks are still `Some`.
    left: usize,
    /// The order the tasks ended in: the first failure is the first to fail.
    order: EndOrder,
    /// The output was returned.
    finished: bool,
}

impl<T: 'static, E: From<Cancelled> + 'static> Gather<T, E> {
    /// Polls task `i` with its own waker; the failure, if it ended with one.
    fn collect(&mut self, i: usize) -> Option<E> {
        let task = self.tasks[i].as_mut()?;
        let mut cx = Context::from_waker(&self.order.wakers[i]);
        let Poll::Ready(outcome) = Pin::new(task).poll(&mut cx) else {
            return None;
        };
        self.tasks[i] = None;
        self.left -= 1;
        match outcome {
            Ok(Ok(v)) => {
                self.results[i] = Some(v);
                None
            }
            Ok(Err(e)) => Some(e),
            Err(Cancelled) => Some(E::from(Cancelled)),
        }
    }
}

impl<T: 'static, E: From<Cancelled> + 'static> Future for Gather<T, E> {
    type Output = Result<Vec<T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.finished {
            // Polled again (through `&mut`) after its output: nothing is left to give, as for
            // a Task handle.
            return Poll::Ready(Err(E::from(Cancelled)));
        }
        this.order.set_parent(cx.waker());
        // The tasks that ended, in the order they ended; then every other task, so that each
        // handle counts as awaited (a drop of the gather cancels it at once).
        while let Some(i) = this.order.next_ended() {
            if let Some(e) = this.collect(i) {
                return Poll::Ready(Err(this.fail(e)));
            }
        }
        for i in 0..this.tasks.len() {
            if let Some(e) = this.collect(i) {
                return Poll::Ready(Err(this.fail(e)));
            }
        }
        if this.left > 0 {
            return Poll::Pending;
        }
        this.finished = true;
        let results = std::mem::take(&mut this.results);
        Poll::Ready(Ok(results.into_iter().flatten().collect()))
    }
}

// Nothing in it is pinned: the tasks are handles and the results plain values.
impl<T: 'static, E: 'static> Unpin for Gather<T, E> {}
impl<T: 'static, E: 'static> Unpin for GatherReturnExceptions<T, E> {}
impl<T: 'static, E: 'static> Unpin for Wait<T, E> {}

impl<T: 'static, E: 'static> Gather<T, E> {
    /// The first failure: cancel every other task, hand `e` back.
    fn fail(&mut self, e: E) -> E {
        self.finished = true;
        for task in self.tasks.drain(..).flatten() {
            task.cancel();
        }
        e
    }
}

/// Cancels every child still running: the tasks were spawned by the call, so a gather dropped
/// before it was ever polled (its awaiting task cancelled at once, say) would otherwise
/// leave them running detached (`Task`'s own drop detaches a never-awaited handle).
fn cancel_children<T>(tasks: &[Option<Task<T>>]) {
    for task in tasks.iter().flatten() {
        task.cancel();
    }
}

impl<T: 'static, E: 'static> Drop for Gather<T, E> {
    fn drop(&mut self) {
        cancel_children(&self.tasks);
    }
}

impl<T: 'static, E: 'static> Drop for GatherReturnExceptions<T, E> {
    fn drop(&mut self) {
        cancel_children(&self.tasks);
    }
}

/// The future of [`gather_return_exceptions`]: every outcome in input order. The outcomes are
/// handed out once, each as its [`Task`]'s is: awaited again (through `&mut`), it gives
/// `Err(E::from(Cancelled))` in every place, still one outcome per input.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let one = asyncio::gather_return_exceptions([async { Ok::<_, asyncio::Error>(5) }]);
///     let one: asyncio::GatherReturnExceptions<i32, asyncio::Error> = one;
///     assert!(matches!(one.await[..], [Ok(5)]));
/// })
/// .unwrap();
/// ```
#[must_use = "the tasks run anyway; await the future to get their results"]
pub struct GatherReturnExceptions<T: 'static, E: 'static> {
    /// The tasks not finished yet, by input position. Invariant: `None` once its outcome is in.
    tasks: Vec<Option<Task<Result<T, E>>>>,
    /// The outcomes in, by input position.
    results: Vec<Option<Result<T, E>>>,
    /// How many tasks are still `Some`.
    left: usize,
    /// The output was returned.
    finished: bool,
}

impl<T: 'static, E: From<Cancelled> + From<PanicError> + 'static> Future
    for GatherReturnExceptions<T, E>
{
    type Output = Vec<Result<T, E>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.finished {
            // Polled again (through `&mut`) after its output: what each task's handle gives
            // then, in every place (`tasks` keeps its length, every entry `None`).
            let again = this.tasks.iter().map(|_| Err(E::from(Cancelled)));
            return Poll::Ready(again.collect());
        }
        for i in 0..this.tasks.len() {
            let Some(task) = &mut this.tasks[i] else {
                continue;
            };
            if let Poll::Ready(outcome) = task.poll_caught(cx) {
                this.tasks[i] = None;
                this.left -= 1;
                this.results[i] = Some(match outcome {
                    Ok(Ok(r)) => r,
                    Ok(Err(c)) => Err(E::from(c)),
                    Err(p) => Err(E::from(p)),
                });
            }
        }
        if this.left > 0 {
            return Poll::Pending;
        }
        this.finished = true;
        let results = std::mem::take(&mut this.results);
        Poll::Ready(results.into_iter().flatten().collect())
    }
}

/// When [`wait`] returns (Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`).
///
/// # Examples
///
/// ```
/// assert_ne!(asyncio::ReturnWhen::FirstCompleted, asyncio::ReturnWhen::AllCompleted);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any task ends (`FIRST_COMPLETED`).
    FirstCompleted,
    /// As soon as any task fails (an `Err` output or a panic), else when all have ended
    /// (`FIRST_EXCEPTION`). A cancelled task is not a failure.
    FirstException,
    /// When every task has ended (`ALL_COMPLETED`).
    AllCompleted,
}

/// Waits for tasks without taking their results and returns them split into `(done, pending)`,
/// each in input order (Python's `asyncio.wait(tasks, return_when=…)`). Await the done ones for
/// their outcomes. Add a timeout with [`Wait::timeout`]: when it passes, whatever has not ended
/// is returned as pending, nothing is cancelled and no error is raised, as in CPython. It always
/// gives up control at least once, also when the tasks are done already, as Python's does.
///
/// # Errors
/// [`Error::InvalidArgument`] (`Set of Tasks/Futures is empty.`) for no tasks.
///
/// # Cancel safety
/// Dropping the future drops the handles it holds, which detaches the tasks: they run on.
///
/// # Examples
///
/// ```
/// use asyncio::ReturnWhen;
///
/// asyncio::run(async {
///     let quick = asyncio::spawn(async { Ok::<_, asyncio::Error>(1) });
///     let stuck = asyncio::spawn(async {
///         std::future::pending::<()>().await;
///         Ok::<_, asyncio::Error>(2)
///     });
///     let (done, pending) = asyncio::wait([quick, stuck], ReturnWhen::FirstCompleted).await?;
///     assert_eq!((done.len(), pending.len()), (1, 1));
///     for task in pending {
///         task.cancel();
///     }
///     for task in done {
///         assert_eq!(task.await.unwrap()?, 1);
///     }
///     Ok::<_, asyncio::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
pub fn wait<I, T, E>(tasks: I, return_when: ReturnWhen) -> Wait<T, E>
where
    I: IntoIterator<Item = Task<Result<T, E>>>,
    T: 'static,
    E: 'static,
{
    Wait {
        tasks: tasks.into_iter().collect(),
        return_when,
        timeout: None,
        sleep: None,
        suspended: false,
    }
}

/// Tasks split into those that ended and those still running, each in input order: what
/// [`wait`] gives, as its example shows.
pub type DoneAndPending<T, E> = (Vec<Task<Result<T, E>>>, Vec<Task<Result<T, E>>>);

/// The future of [`wait`]: await it for `(done, pending)`, or set a
/// [`timeout`](Wait::timeout) first.
///
/// # Examples
///
/// ```
/// use asyncio::ReturnWhen;
///
/// asyncio::run(async {
///     let one = asyncio::spawn(async { Ok::<_, asyncio::Error>(1) });
///     let two = asyncio::spawn(async { Ok::<_, asyncio::Error>(2) });
///     let waiting: asyncio::Wait<i32, asyncio::Error> =
///         asyncio::wait([one, two], ReturnWhen::AllCompleted);
///     let (done, pending) = waiting.await?; // nothing happens before the await
///     assert!(pending.is_empty());
///     let mut sum = 0;
///     for task in done {
///         sum += task.await.unwrap()?;
///     }
///     assert_eq!(sum, 3);
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Wait<T: 'static, E: 'static> {
    /// Every task given, in input order, until the output takes them.
    tasks: Vec<Task<Result<T, E>>>,
    return_when: ReturnWhen,
    /// How long to wait at most, if set.
    timeout: Option<Duration>,
    /// The timeout's timer, armed at the first poll.
    sleep: Option<Sleep>,
    /// Whether a poll has returned `Pending` yet. CPython's `wait` always awaits a waiter
    /// future, so a wait already satisfied at its first poll still gives up control once
    /// first: callbacks and tasks queued before it run before it returns.
    // Checklist: L27 (one turn of the ready queue).
    suspended: bool,
}

impl<T: 'static, E: 'static> Wait<T, E> {
    /// Returns after `delay` at the latest, with the tasks that have not ended as pending
    /// (Python's `timeout=`). Expiry is not an error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use asyncio::ReturnWhen;
    ///
    /// asyncio::run(async {
    ///     let stuck = asyncio::spawn(async {
    ///         std::future::pending::<()>().await;
    ///         Ok::<(), asyncio::Error>(())
    ///     });
    ///     let waiting = asyncio::wait([stuck], ReturnWhen::AllCompleted);
    ///     let (done, pending) = waiting.timeout(Duration::from_millis(1)).await?;
    ///     assert_eq!((done.len(), pending.len()), (0, 1));
    ///     Ok::<_, asyncio::Error>(())
    /// })
    /// .unwrap()
    /// .unwrap();
    /// ```
    pub fn timeout(mut self, delay: Duration) -> Self {
        self.timeout = Some(delay);
        self
    }

    /// The output. The pending tasks go back without this wait's waker in their join slots
    /// (CPython's `wait` removes its done callbacks as it returns): their later end must not
    /// wake, nor their slots keep alive, a waiter that has moved on.
    fn split(&mut self) -> DoneAndPending<T, E> {
        let (done, pending): DoneAndPending<T, E> = std::mem::take(&mut self.tasks)
            .into_iter()
            .partition(|t| t.is_done());
        for task in &pending {
            task.unfile_waker();
        }
        (done, pending)
    }
}

impl<T: 'static, E: 'static> Future for Wait<T, E> {
    type Output = Result<DoneAndPending<T, E>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.tasks.is_empty() {
            return Poll::Ready(Err(Error::invalid_argument(
                "Set of Tasks/Futures is empty.",
            )));
        }
        let (mut done, mut failed) = (0, false);
        for task in &this.tasks {
            if task.poll_done(cx) {
                done += 1;
                failed |= task.failed();
            }
        }
        let ready = match this.return_when {
            ReturnWhen::FirstCompleted => done > 0,
            ReturnWhen::FirstException => failed || done == this.tasks.len(),
            ReturnWhen::AllCompleted => done == this.tasks.len(),
        };
        if ready && this.suspended {
            return Poll::Ready(Ok(this.split()));
        }
        if ready {
            // One turn, where CPython's done callbacks hop through its waiter in two: the
            // port leaves that hop out for a task that ends while waited on as well.
            cx.waker().wake_by_ref();
        } else if let Some(delay) = this.timeout {
            let timer = this.sleep.get_or_insert_with(|| sleep(delay));
            if Pin::new(timer).poll(cx).is_ready() {
                return Poll::Ready(Ok(this.split()));
            }
        }
        this.suspended = true;
        Poll::Pending
    }
}

/// Yields the tasks' outcomes in the order they end (Python's `asyncio.as_completed(tasks)`).
///
/// # Cancel safety
/// Dropping a `next()` future loses nothing: the tasks stay in the iterator. Dropping the
/// iterator detaches the tasks it still holds.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let slow = asyncio::spawn(async {
///         asyncio::sleep(Duration::from_millis(5)).await;
///         "slow"
///     });
///     let fast = asyncio::spawn(async { "fast" });
///     let mut order = Vec::new();
///     let mut completed = asyncio::as_completed([slow, fast]);
///     while let Some(outcome) = completed.next().await {
///         order.push(outcome.unwrap());
///     }
///     assert_eq!(order, ["fast", "slow"]);
/// })
/// .unwrap();
/// ```
pub fn as_completed<I, T>(tasks: I) -> AsCompleted<T>
where
    I: IntoIterator<Item = Task<T>>,
    T: 'static,
{
    let tasks: Vec<Option<Task<T>>> = tasks.into_iter().map(Some).collect();
    AsCompleted {
        left: tasks.len(),
        order: EndOrder::new(&tasks),
        tasks,
    }
}

/// The iterator of [`as_completed`]; call [`next`](AsCompleted::next).
///
/// # Examples
///
/// [`len`](AsCompleted::len) counts the outcomes still to come, whether their tasks have
/// ended yet or not; [`is_empty`](AsCompleted::is_empty) says when none is left:
///
/// ```
/// asyncio::run(async {
///     let tasks = [asyncio::spawn(async { 'a' }), asyncio::spawn(async { 'b' })];
///     let mut completed: asyncio::AsCompleted<char> = asyncio::as_completed(tasks);
///     assert_eq!(completed.len(), 2);
///     let mut got = Vec::new();
///     while !completed.is_empty() {
///         got.push(completed.next().await.unwrap().unwrap());
///         assert_eq!(completed.len(), 2 - got.len());
///     }
///     got.sort();
///     assert_eq!(got, ['a', 'b']);
///     assert_eq!(completed.next().await, None); // and stays empty
/// })
/// .unwrap();
/// ```
pub struct AsCompleted<T: 'static> {
    /// The tasks by input position. Invariant: `None` once its outcome was handed out.
    tasks: Vec<Option<Task<T>>>,
    /// How many tasks are still `Some`.
    left: usize,
    /// The order the tasks ended in: the order `next` hands their outcomes out.
    order: EndOrder,
}

impl<T: 'static> std::fmt::Debug for AsCompleted<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks: Vec<&Task<T>> = self.tasks.iter().flatten().collect();
        f.debug_struct("AsCompleted")
            .field("tasks", &tasks)
            .finish()
    }
}

impl<T: 'static> AsCompleted<T> {
    /// The outcome of the next task to end, `None` when every outcome has been handed out.
    /// Outcomes come in the order the tasks ended (those that had ended when
    /// [`as_completed`] was called first, in input order), whenever `next` is called. A task's
    /// panic resumes in the `next()` that hands its outcome out, and that task counts as
    /// handed out: caught there, the iterator goes on with the others.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let mut completed = asyncio::as_completed([asyncio::spawn(async { 1 })]);
    ///     assert_eq!(completed.next().await, Some(Ok(1)));
    ///     assert_eq!(completed.next().await, None);
    ///     assert_eq!(completed.len(), 0);
    /// })
    /// .unwrap();
    /// ```
    // An async `next`, as on a stream: `Iterator::next` cannot wait.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> NextCompleted<'_, T> {
        NextCompleted { of: self }
    }

    /// How many outcomes are still to come, whether their tasks have ended yet or not.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let tasks = [asyncio::spawn(async { 1 }), asyncio::spawn(async { 2 })];
    ///     let mut completed = asyncio::as_completed(tasks);
    ///     assert_eq!(completed.len(), 2); // both still to come
    ///     completed.next().await;
    ///     assert_eq!(completed.len(), 1);
    /// })
    /// .unwrap();
    /// ```
    pub fn len(&self) -> usize {
        self.left
    }

    /// Whether every outcome has been handed out: the condition of a `while` over the tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let mut completed = asyncio::as_completed([asyncio::spawn(async { 'a' })]);
    ///     assert!(!completed.is_empty());
    ///     assert_eq!(completed.next().await, Some(Ok('a')));
    ///     assert!(completed.is_empty()); // the last outcome was handed out
    /// })
    /// .unwrap();
    /// ```
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

/// The future of [`AsCompleted::next`]: the next outcome, `None` after the last.
///
/// # Examples
///
/// It can be dropped unfinished, under a [`timeout`](crate::timeout) say, and nothing is lost:
///
/// ```
/// use std::{rc::Rc, time::Duration};
///
/// asyncio::run(async {
///     let go = Rc::new(asyncio::Event::new());
///     let gate = Rc::clone(&go);
///     let task = asyncio::spawn(async move {
///         gate.wait().await;
///         7
///     });
///     let mut completed = asyncio::as_completed([task]);
///     let next: asyncio::NextCompleted<'_, i32> = completed.next();
///     let early = asyncio::timeout(Duration::from_millis(1), next).await;
///     assert!(matches!(early, Err(asyncio::Error::Timeout)));
///     assert_eq!(completed.len(), 1); // still to come
///     go.set();
///     assert_eq!(completed.next().await, Some(Ok(7)));
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct NextCompleted<'a, T: 'static> {
    of: &'a mut AsCompleted<T>,
}

impl<T: 'static> Drop for NextCompleted<'_, T> {
    /// A `next()` given up on (under a `timeout`, its task cancelled) takes its waker back:
    /// the next task to end is noted in the order all the same, for the next `next()`.
    fn drop(&mut self) {
        self.of.order.clear_parent();
    }
}

impl<T: 'static> Future for NextCompleted<'_, T> {
    type Output = Option<Result<T, Cancelled>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let of = &mut *self.of;
        if of.left == 0 {
            return Poll::Ready(None);
        }
        of.order.set_parent(cx.waker());
        // Every task has its waker filed since `as_completed`: each end is in `order`.
        while let Some(i) = of.order.next_ended() {
            // Handed out before its outcome is taken: a panic of the task resumes in this
            // poll, and a caller that catches it goes on with the other tasks (the index has
            // left `order`; counted in, the task would be waited for forever).
            let Some(mut task) = of.tasks[i].take() else {
                continue;
            };
            of.left -= 1;
            // Ended: the handle yields its outcome at once.
            let mut task_cx = Context::from_waker(&of.order.wakers[i]);
            if let Poll::Ready(outcome) = Pin::new(&mut task).poll(&mut task_cx) {
                return Poll::Ready(Some(outcome));
            }
            // Not reached (an ended task is ready): keep it, as before the poll.
            of.tasks[i] = Some(task);
            of.left += 1;
        }
        Poll::Pending
    }
}

/// Waits for `task` without letting a cancellation of the waiter reach it (Python's
/// `asyncio.shield`). Await it for the task's outcome, as awaiting the task gives (the outcome
/// is then taken: awaiting the handle again gives `Err(Cancelled)`); if the
/// waiting future is dropped instead (its own task cancelled, a [`timeout`](crate::timeout)
/// around it expired), the task runs on, and the handle stays with the caller to await again
/// or to drop (which detaches it). Cancelling the task itself still cancels it: the shield
/// then gives `Err(Cancelled)`, as in CPython.
///
/// Python's shield of a bare coroutine wraps it in a task first: here, [`spawn`] it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// asyncio::run(async {
///     let mut slow = asyncio::spawn(async {
///         asyncio::sleep(Duration::from_millis(20)).await;
///         "done"
///     });
///     // Give up waiting after 1 ms, without cancelling the work...
///     let waited = asyncio::timeout(Duration::from_millis(1), asyncio::shield(&mut slow)).await;
///     assert!(matches!(waited, Err(asyncio::Error::Timeout)));
///     // ...which is still there to await.
///     assert_eq!(slow.await, Ok("done"));
/// })
/// .unwrap();
/// ```
// Checklist: L33 (what the shield prevents).
pub fn shield<T: 'static>(task: &mut Task<T>) -> Shield<'_, T> {
    Shield { task }
}

/// The future of [`shield`]: the task's outcome, or `Err(Cancelled)` if the task itself
/// was cancelled.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let mut task = asyncio::spawn(async { 5 });
///     let shielded: asyncio::Shield<'_, i32> = asyncio::shield(&mut task);
///     assert_eq!(shielded.await, Ok(5));
///
///     let mut doomed = asyncio::spawn(std::future::pending::<()>());
///     doomed.cancel(); // the task itself: the shield does not stop that
///     assert_eq!(asyncio::shield(&mut doomed).await, Err(asyncio::Cancelled));
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Shield<'a, T: 'static> {
    task: &'a mut Task<T>,
}

impl<T: 'static> Drop for Shield<'_, T> {
    /// The waiter gives up and the task runs on: its join slot lets go of the waiter's waker
    /// (the handle is borrowed for the shield's life, so the slot holds the shield's).
    fn drop(&mut self) {
        if !self.task.is_done() {
            self.task.unfile_waker();
        }
    }
}

impl<T: 'static> Future for Shield<'_, T> {
    type Output = Result<T, Cancelled>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.task.poll_shielded(cx)
    }
}
