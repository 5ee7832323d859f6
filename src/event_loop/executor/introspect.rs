//! Which task is running, which tasks are alive, and what they are called.
//!
//! Mirrors `asyncio.current_task()`, `asyncio.all_tasks()` and `Task.get_name()`/`set_name()`
//! in CPython `Lib/asyncio/tasks.py` (L24). Python hands out the `Task` object itself; here a
//! [`TaskRef`] names a task without owning its output, so any number of them can exist beside
//! the one [`Task`](super::Task) handle.
//!
//! What it costs: the loop notes the running task's key before each task run and clears it
//! after (two stores per run). A task's number (`Task-<n>`) and a "has a custom name" flag sit
//! in padding the task header had anyway. Custom names are few, so they live in the loop's
//! [`TaskBook`], not in every task: a task's header takes its name out when it drops.
//!
//! The main future of `run_until_complete` (and so of `asyncio::run`) is a task in Python;
//! here it is polled on the caller's stack, outside the slab. It still counts: it is the
//! current task while it is polled, it is in `all_tasks()`, it has a number and a name, and
//! cancelling it ends the run with [`Error::Cancelled`].

use std::cell::{Cell, RefCell};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU32, Ordering};

use super::task::{Header, RawTask, TaskState};
use super::waker::MAIN_INDEX;
use crate::error::Error;
use crate::event_loop::{get_running_loop, LoopHandle, LoopInner};
use crate::slots::SlotKey;

/// The next task's `n` in `Task-<n>`: one count for the whole process, as in CPython.
static NEXT_NUMBER: AtomicU32 = AtomicU32::new(1);

/// The next number; never 0 (that marks [`NO_TASK`]), also once the count wraps.
pub(crate) fn next_task_number() -> u32 {
    loop {
        let n = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
        if n != 0 {
            return n;
        }
    }
}

/// Where the main future of the current (or last) `run_until_complete` is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum MainState {
    Running,
    /// `cancel()` was called: its next step ends the run cancelled instead of polling.
    CancelRequested,
    Done,
    Cancelled,
}

/// The loop's record of its tasks beyond the slab: the running one, custom names, the main
/// future.
pub(crate) struct TaskBook {
    /// The task being polled right now (`index == MAIN_INDEX`: the main future), or
    /// [`NO_TASK`]. (Not an `Option`: one store where that takes two, per task run.)
    current: Cell<SlotKey>,
    /// Names given with `set_name`, by task key (the main future's: `MAIN_INDEX` and its
    /// number).
    names: RefCell<Names>,
    /// The main future of the running or last run: its number and state.
    main: Cell<Option<(u32, MainState)>>,
    /// The loop is cancelling what is left before it closes (`asyncio.run`'s
    /// `_cancel_all_tasks`): a failure reported now says so.
    shutting_down: Cell<bool>,
}

/// [`TaskBook::mark_shutting_down`]'s mark: the shutdown lasts as long as it does.
pub(crate) struct ShuttingDown<'a> {
    book: &'a TaskBook,
    before: bool,
}

impl Drop for ShuttingDown<'_> {
    fn drop(&mut self) {
        self.book.shutting_down.set(self.before);
    }
}

impl TaskBook {
    pub(crate) fn new() -> Self {
        TaskBook {
            current: Cell::new(NO_TASK),
            names: RefCell::new(Names::default()),
            main: Cell::new(None),
            shutting_down: Cell::new(false),
        }
    }

    /// A task run begins (`run_task`) or ends ([`NO_TASK`]).
    #[inline(always)]
    pub(crate) fn set_current(&self, key: SlotKey) {
        self.current.set(key);
    }

    /// Whether the loop is cancelling what is left before it closes.
    pub(crate) fn shutting_down(&self) -> bool {
        self.shutting_down.get()
    }

    /// Marks the loop as shutting down until the mark is dropped, which gives back what was
    /// there before: however the shutdown ends, a panic that no catch contains included (a
    /// payload whose own drop panics), the mark does not outlive it.
    pub(crate) fn mark_shutting_down(&self) -> ShuttingDown<'_> {
        ShuttingDown {
            book: self,
            before: self.shutting_down.replace(true),
        }
    }

    /// The task being polled right now, or [`NO_TASK`].
    pub(crate) fn current(&self) -> SlotKey {
        self.current.get()
    }

    /// Runs `f` with task `key` as the current task, then gives the current task back: for
    /// the drop of a task's future outside its own run (a cancellation at once, L33), so that
    /// its cleanup sees itself, as a Python task runs its `finally` as itself. `f` must not
    /// unwind (the drops pass through `drop_caught`).
    pub(crate) fn as_current<R>(&self, key: SlotKey, f: impl FnOnce() -> R) -> R {
        let before = self.current.replace(key);
        let out = f();
        self.current.set(before);
        out
    }

    /// A `run_until_complete` begins: its future gets the next number. The last run's main
    /// future is forgotten (its refs now say only that it ended), and so is its name.
    pub(crate) fn main_begins(&self) -> SlotKey {
        if let Some((last, _)) = self.main.get() {
            self.forget_name(main_key(last));
        }
        let number = next_task_number();
        self.main.set(Some((number, MainState::Running)));
        main_key(number)
    }

    /// Whether `cancel()` was called on the running main future.
    pub(crate) fn main_cancel_requested(&self) -> bool {
        matches!(self.main.get(), Some((_, MainState::CancelRequested)))
    }

    /// The run's main future ended (`cancelled`: by `cancel()`), or the run was left.
    pub(crate) fn main_ends(&self, cancelled: bool) {
        self.current.set(NO_TASK);
        if let Some((number, state)) = self.main.get() {
            let end = match state {
                MainState::Running | MainState::CancelRequested if cancelled => {
                    MainState::Cancelled
                }
                MainState::Running | MainState::CancelRequested => MainState::Done,
                ended => ended,
            };
            self.main.set(Some((number, end)));
        }
    }

    /// Takes a custom name out (its task's header is dropping).
    pub(crate) fn forget_name(&self, key: SlotKey) {
        let name = self.names.borrow_mut().remove(key);
        drop(name);
    }

    /// The main future's state if `number` is the current run's; `None` for an older run.
    fn main_state(&self, number: u32) -> Option<MainState> {
        self.main
            .get()
            .filter(|&(n, _)| n == number)
            .map(|(_, state)| state)
    }
}

/// No task is being polled: the main future's index with number 0, which no run has
/// (`next_task_number` skips it).
pub(crate) const NO_TASK: SlotKey = SlotKey {
    index: MAIN_INDEX,
    generation: 0,
};

/// Custom names, by task key: a slot-indexed table (constant time, also for servers that
/// name every connection's task) without a hasher (a `HashMap` added 12 KiB to a small
/// client's binary, a `BTreeMap` 9).
///
/// A slot holds the name of the task in it, or of the last task there that was named. A
/// named task that ended but is still referred to keeps its name when a new named task takes
/// its slot: it moves to `moved`, which only such tasks reach.
#[derive(Default)]
struct Names {
    /// By slot index: the generation of the task named, and its name.
    by_slot: Vec<Option<(u32, Box<str>)>>,
    /// Names of ended tasks whose slot a named task took since.
    moved: Vec<(SlotKey, Box<str>)>,
    /// The main future's, keyed by its number.
    main: Option<(u32, Box<str>)>,
}

impl Names {
    fn get(&self, key: SlotKey) -> Option<&str> {
        let found = if key.index == MAIN_INDEX {
            self.main.as_ref().filter(|(n, _)| *n == key.generation)
        } else {
            let slot = self
                .by_slot
                .get(key.index as usize)
                .and_then(Option::as_ref);
            slot.filter(|(g, _)| *g == key.generation)
        };
        match found {
            Some((_, name)) => Some(name),
            None => self
                .moved
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, n)| &**n),
        }
    }

    /// Sets `key`'s name; what it replaces comes back (to drop after the borrow).
    fn insert(&mut self, key: SlotKey, name: Box<str>) -> Option<Box<str>> {
        if key.index == MAIN_INDEX {
            return self
                .main
                .replace((key.generation, name))
                .map(|(_, old)| old);
        }
        if let Some(i) = self.moved.iter().position(|(k, _)| *k == key) {
            return Some(std::mem::replace(&mut self.moved[i].1, name));
        }
        let index = key.index as usize;
        if self.by_slot.len() <= index {
            self.by_slot.resize_with(index + 1, || None);
        }
        match self.by_slot[index].replace((key.generation, name)) {
            Some((g, old)) if g == key.generation => Some(old),
            Some((g, old)) => {
                let earlier = SlotKey {
                    index: key.index,
                    generation: g,
                };
                self.moved.push((earlier, old));
                None
            }
            None => None,
        }
    }

    fn remove(&mut self, key: SlotKey) -> Option<Box<str>> {
        if key.index == MAIN_INDEX {
            let main = self.main.take_if(|(n, _)| *n == key.generation)?;
            return Some(main.1);
        }
        let slot = self.by_slot.get_mut(key.index as usize)?;
        if slot.as_ref().is_some_and(|(g, _)| *g == key.generation) {
            return slot.take().map(|(_, name)| name);
        }
        let i = self.moved.iter().position(|(k, _)| *k == key)?;
        Some(self.moved.swap_remove(i).1)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let in_slots = self.by_slot.iter().flatten().count();
        in_slots + self.moved.len() + usize::from(self.main.is_some())
    }
}

fn main_key(number: u32) -> SlotKey {
    SlotKey {
        index: MAIN_INDEX,
        generation: number,
    }
}

/// A task of a loop, named without owning its output: what [`current_task`] and
/// [`all_tasks`] return, and [`Task::task_ref`](super::Task::task_ref) makes. Two refs are
/// equal when they name the same task, so "every task but me" is a filter.
///
/// It keeps the task's record alive (as holding a Python `Task` does), not the task running:
/// a task ends as it would without it.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let worker = asyncio::spawn(std::future::pending::<()>());
///     worker.set_name("worker");
///     let me = asyncio::current_task()?.expect("asyncio::run polls main as a task");
///     for task in asyncio::all_tasks()? {
///         if task != me {
///             println!("cancelling {}", task.name());
///             task.cancel();
///         }
///     }
///     assert_eq!(worker.await, Err(asyncio::Cancelled));
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone)]
pub struct TaskRef {
    lp: Weak<LoopInner>,
    /// The task's key; for the main future, `MAIN_INDEX` and its number.
    key: SlotKey,
    /// `None` for the main future.
    task: Option<Rc<dyn RawTask>>,
}

impl TaskRef {
    pub(crate) fn of(task: Rc<dyn RawTask>) -> TaskRef {
        let header = task.header();
        TaskRef {
            lp: header.lp.clone(),
            key: header.key,
            task: Some(task),
        }
    }

    fn main(inner: &Rc<LoopInner>, number: u32) -> TaskRef {
        TaskRef {
            lp: Rc::downgrade(inner),
            key: main_key(number),
            task: None,
        }
    }

    /// The task's name (Python's `Task.get_name()`): the one given with
    /// [`set_name`](Self::set_name), or `Task-<n>`, numbered in creation order across the
    /// process.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let me = asyncio::current_task()?.expect("inside asyncio::run");
    ///     assert!(me.name().starts_with("Task-"));
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn name(&self) -> String {
        match &self.task {
            Some(task) => name_of(task.header()),
            None => {
                custom_name(&self.lp, self.key).unwrap_or_else(|| default_name(self.key.generation))
            }
        }
    }

    /// Names the task (Python's `Task.set_name()`). The name shows in [`Debug`] output and in
    /// the loop's reports about the task. Names are kept by the task's loop: once the loop is
    /// dropped, a task answers with its default name, and so does the main future of a
    /// `run_until_complete` once the next run has begun.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let me = asyncio::current_task()?.expect("inside asyncio::run");
    ///     me.set_name("main");
    ///     assert_eq!(asyncio::current_task()?.unwrap().name(), "main");
    ///     Ok::<_, asyncio::Error>(())
    /// })??;
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn set_name(&self, name: impl Into<String>) {
        self.set_name_str(name.into().into_boxed_str());
    }

    fn set_name_str(&self, name: Box<str>) {
        let Some(inner) = self.lp.upgrade() else {
            return; // the loop is gone: nothing reports on this task again
        };
        match &self.task {
            Some(task) => task.header().named.set(true),
            // An older run's main future: nothing would take its name out again, and nothing
            // shows it (its refs say only that it ended).
            None if inner.book.main_state(self.key.generation).is_none() => return,
            None => {}
        }
        let old = inner.book.names.borrow_mut().insert(self.key, name);
        drop(old);
    }

    /// Requests cancellation, as [`Task::cancel`](super::Task::cancel) does; false only if the
    /// task has ended (and its failure then counts as seen), as Python's `Task.cancel()`.
    /// Cancelling the main future ends its run with [`Error::Cancelled`] at its next step (at
    /// the end of its current poll, if it cancels itself).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let out = asyncio::run(async {
    ///     let main = asyncio::current_task().unwrap().unwrap();
    ///     asyncio::spawn(async move { main.cancel() }).detach();
    ///     asyncio::sleep(Duration::from_secs(5)).await; // dropped here, at once
    ///     "never"
    /// });
    /// assert!(matches!(out, Err(asyncio::Error::Cancelled)));
    /// ```
    pub fn cancel(&self) -> bool {
        if let Some(task) = &self.task {
            if task.header().is_done() {
                // Its failure counts as seen, as through the handle (L35); also once the loop
                // is gone, as its handle may outlive it and report on its drop.
                task.mark_retrieved();
                return false;
            }
            // Not done: true, as through the handle, also with the loop gone (the request
            // then goes nowhere, as Python's `_must_cancel` on a loop that never runs again).
            if let Some(inner) = self.lp.upgrade() {
                inner.request_cancel(self.key);
            }
            return true;
        }
        // The main future: with its loop gone it counts as done (`is_done`), so false.
        let Some(inner) = self.lp.upgrade() else {
            return false;
        };
        match inner.book.main_state(self.key.generation) {
            Some(MainState::Running | MainState::CancelRequested) => inner.cancel_main(),
            _ => false,
        }
    }

    /// Whether the task has ended (Python's `Task.done()`).
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let task = asyncio::spawn(async {});
    ///     let seen = task.task_ref(); // outlives the handle
    ///     assert!(!seen.is_done());
    ///     task.await.unwrap();
    ///     assert!(seen.is_done());
    /// })
    /// .unwrap();
    /// ```
    pub fn is_done(&self) -> bool {
        match &self.task {
            Some(task) => task.header().is_done(),
            None => self
                .main_state()
                .is_none_or(|s| matches!(s, MainState::Done | MainState::Cancelled)),
        }
    }

    /// Whether the task ended cancelled (Python's `Task.cancelled()`), as
    /// [`Task::is_cancelled`](super::Task::is_cancelled) says. For the main future of a
    /// `run_until_complete`, known until the loop's next run begins; false after that.
    ///
    /// # Examples
    ///
    /// ```
    /// asyncio::run(async {
    ///     let task = asyncio::spawn(std::future::pending::<()>());
    ///     let seen = task.task_ref(); // what all_tasks() and current_task() give
    ///     assert!(!seen.is_done() && !seen.is_cancelled());
    ///     task.cancel();
    ///     assert!(task.await.is_err()); // Err(Cancelled)
    ///     assert!(seen.is_done() && seen.is_cancelled());
    /// })
    /// .unwrap();
    /// ```
    pub fn is_cancelled(&self) -> bool {
        match &self.task {
            Some(task) => task.header().is_cancelled(),
            None => self.main_state() == Some(MainState::Cancelled),
        }
    }

    /// The main future's state, while its loop remembers its run.
    fn main_state(&self) -> Option<MainState> {
        self.lp.upgrade()?.book.main_state(self.key.generation)
    }

    fn state_word(&self) -> &'static str {
        match &self.task {
            Some(task) => state_word(task.header()),
            None => match self.main_state() {
                Some(MainState::Running) => "pending",
                Some(MainState::CancelRequested) => "cancelling",
                Some(MainState::Cancelled) => "cancelled",
                _ => "finished",
            },
        }
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.lp.ptr_eq(&other.lp)
    }
}

impl Eq for TaskRef {}

impl Hash for TaskRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl fmt::Debug for TaskRef {
    /// As Python's task repr: `<Task pending name='Task-3' future=my_crate::handler::{{closure}}>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let future = match &self.task {
            Some(task) => task.header().type_name(),
            None => "run_until_complete future",
        };
        let (state, name) = (self.state_word(), self.name());
        write!(f, "<Task {state} name='{name}' future={future}>")
    }
}

fn default_name(number: u32) -> String {
    format!("Task-{number}")
}

fn state_word(header: &Header) -> &'static str {
    match header.state() {
        TaskState::Waiting | TaskState::Scheduled => "pending",
        TaskState::CancelScheduled => "cancelling",
        TaskState::Done => "finished",
        TaskState::Cancelled => "cancelled",
    }
}

/// The name `set_name` gave the task `key` of loop `lp`, while the loop keeps it.
fn custom_name(lp: &Weak<LoopInner>, key: SlotKey) -> Option<String> {
    let inner = lp.upgrade()?;
    let names = inner.book.names.borrow();
    names.get(key).map(str::to_string)
}

/// A spawned task's name: its custom one, else `Task-<n>`.
pub(crate) fn name_of(header: &Header) -> String {
    let custom = header
        .named
        .get()
        .then(|| custom_name(&header.lp, header.key));
    custom
        .flatten()
        .unwrap_or_else(|| default_name(header.number))
}

impl Header {
    /// The task as the loop's reports show it, in the shape of Python's task repr.
    pub(crate) fn describe(&self) -> String {
        format!(
            "<Task {} name='{}' future={}>",
            state_word(self),
            name_of(self),
            self.type_name()
        )
    }
}

impl LoopInner {
    /// Cancels the main future of the running `run_until_complete` (Python's
    /// `main_task.cancel()`): its next step drops it and ends the run with
    /// [`Error::Cancelled`]. False if there is none, or it has ended.
    pub(crate) fn cancel_main(&self) -> bool {
        match self.book.main.get() {
            Some((number, MainState::Running)) => {
                let cancelling = Some((number, MainState::CancelRequested));
                self.book.main.set(cancelling);
                self.schedule_main();
                true
            }
            Some((_, MainState::CancelRequested)) => true,
            _ => false,
        }
    }

    /// Whether the current task is being cancelled: what is dropped now is dropped by that
    /// cancellation (the unclosed-writer warning says so, S56). A task cancelled at once
    /// with the task awaiting it (L33) is marked so for the drop of its future.
    pub(crate) fn cancelling_current(&self) -> bool {
        let key = self.book.current.get();
        if key == NO_TASK {
            return false;
        }
        if key.index == MAIN_INDEX {
            return self.book.main_cancel_requested();
        }
        // `try_borrow`: a writer dropped under a borrow of the slab is not told, not a panic.
        let tasks = self.tasks.try_borrow();
        tasks.is_ok_and(|t| t.get(key).is_some_and(|t| t.header().cancel_requested()))
    }
}

impl LoopHandle {
    /// The task this loop is polling right now (Python's `asyncio.current_task(loop)`):
    /// `None` outside a task, e.g. in a plain callback or when the loop is not running.
    /// The main future of [`run_until_complete`](Self::run_until_complete) counts as a task.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// assert!(lp.current_task().is_none()); // the loop is not running
    /// let (in_callback, in_main) = (lp.handle(), lp.handle());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// lp.call_soon(move || tx.send(in_callback.current_task().is_none()).unwrap())?;
    /// let main_is_a_task = lp.run_until_complete(async move {
    ///     asyncio::yield_now().await; // the callback runs meanwhile
    ///     in_main.current_task().is_some()
    /// })?;
    /// assert!(main_is_a_task);
    /// assert_eq!(rx.try_recv(), Ok(true), "a plain callback runs in no task");
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn current_task(&self) -> Option<TaskRef> {
        let key = self.inner.book.current.get();
        if key == NO_TASK {
            return None;
        }
        if key.index == MAIN_INDEX {
            return Some(TaskRef::main(&self.inner, key.generation));
        }
        let task = self.inner.tasks.borrow().get(key).cloned()?;
        Some(TaskRef::of(task))
    }

    /// The tasks of this loop that have not ended (Python's `asyncio.all_tasks(loop)`): the
    /// main future of a running `run_until_complete` first, then spawned tasks in no
    /// particular order.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// let waiting = lp.spawn(std::future::pending::<()>())?;
    /// waiting.set_name("waiting");
    /// let names = lp.run_until_complete(async {
    ///     let lp = asyncio::get_running_loop().unwrap();
    ///     lp.all_tasks().iter().map(|t| t.name()).collect::<Vec<_>>()
    /// })?;
    /// assert_eq!(names.len(), 2); // the main future first, then the spawned one
    /// assert_eq!(names[1], "waiting");
    /// waiting.cancel();
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn all_tasks(&self) -> Vec<TaskRef> {
        let inner = &self.inner;
        let mut all = Vec::new();
        if let Some((number, MainState::Running | MainState::CancelRequested)) =
            inner.book.main.get()
        {
            all.push(TaskRef::main(inner, number));
        }
        let tasks = inner.tasks.borrow();
        let live = tasks.values().filter(|t| !t.header().is_done());
        all.extend(live.map(|t| TaskRef::of(t.clone())));
        all
    }
}

/// The task running now on this thread's loop (Python's `asyncio.current_task()`):
/// `Ok(None)` in a plain callback.
///
/// # Errors
/// [`Error::InvalidState`] (`no running event loop`) outside a running loop, as Python
/// raises `RuntimeError`.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let me = asyncio::current_task()?.unwrap();
///     let child = asyncio::spawn(async { asyncio::current_task().unwrap().unwrap().name() });
///     child.set_name("child");
///     assert_eq!(child.await?, "child");
///     assert!(me.name().starts_with("Task-"));
///     Ok::<_, asyncio::Error>(())
/// })??;
/// assert!(asyncio::current_task().is_err()); // no running loop
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: L15, L24.
pub fn current_task() -> Result<Option<TaskRef>, Error> {
    Ok(get_running_loop()?.current_task())
}

/// The tasks of this thread's running loop that have not ended (Python's
/// `asyncio.all_tasks()`), the current one included.
///
/// # Errors
/// [`Error::InvalidState`] (`no running event loop`) outside a running loop.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let sleeper = asyncio::spawn(asyncio::sleep(std::time::Duration::from_secs(60)));
///     let names: Vec<String> = asyncio::all_tasks()?.iter().map(|t| t.name()).collect();
///     assert_eq!(names.len(), 2); // this one (the main future) and the sleeper
///     assert!(names.contains(&sleeper.name()));
///     sleeper.cancel();
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
// Checklist: L24.
pub fn all_tasks() -> Result<Vec<TaskRef>, Error> {
    Ok(get_running_loop()?.all_tasks())
}

#[cfg(test)]
mod tests {
    use crate::EventLoop;

    #[test]
    fn l28_both_cancels_say_true_for_a_task_not_done_whose_loop_is_gone() {
        // Python's `Task.cancel()` returns False only for a done task. A task outliving its
        // loop unfinished is made here by hand: every public way to drop a loop closes it,
        // which ends its tasks.
        use super::super::task::TaskCell;
        use std::rc::{Rc, Weak};
        let key = crate::slots::SlotKey {
            index: 0,
            generation: 1,
        };
        let future = Box::pin(std::future::pending::<()>());
        let cell = Rc::new(TaskCell::new(key, Weak::new(), future, || "pending"));
        let task = super::super::Task {
            cell: cell.clone(),
            awaited: false,
        };
        let task_ref = super::TaskRef::of(cell);
        assert!(!task.is_done() && !task_ref.is_done());
        assert!(task.cancel(), "through the handle");
        assert!(task_ref.cancel(), "through a TaskRef");
    }

    #[test]
    fn a_custom_name_leaves_the_book_with_its_task() {
        let lp = EventLoop::new().unwrap();
        let names = |lp: &EventLoop| lp.inner.book.names.borrow().len();
        let (kept, forgotten) = lp
            .run_until_complete(async {
                let kept = crate::spawn(async {});
                kept.set_name("kept");
                let forgotten = crate::spawn(async {});
                forgotten.set_name("forgotten");
                crate::current_task().unwrap().unwrap().set_name("main");
                let forgotten = forgotten.task_ref();
                (kept, forgotten)
            })
            .unwrap();
        assert_eq!(names(&lp), 3);
        // Both tasks end; the new run forgets the last run's main future and its name.
        lp.run_until_complete(crate::yield_now()).unwrap();
        assert!(kept.is_done() && forgotten.is_done());
        assert_eq!(names(&lp), 2);
        assert_eq!(
            forgotten.name(),
            "forgotten",
            "a finished task keeps its name"
        );
        drop(forgotten);
        assert_eq!(
            names(&lp),
            1,
            "the last holder of a task takes its name out"
        );
        drop(kept);
        assert_eq!(names(&lp), 0);
    }

    #[test]
    fn an_ended_task_keeps_its_name_when_a_named_task_takes_its_slot() {
        let lp = EventLoop::new().unwrap();
        let names = |lp: &EventLoop| lp.inner.book.names.borrow().len();
        let first = lp
            .run_until_complete(async {
                let t = crate::spawn(async {});
                t.set_name("first");
                let r = t.task_ref();
                t.await.unwrap();
                r
            })
            .unwrap();
        let second = lp
            .run_until_complete(async {
                let t = crate::spawn(std::future::pending::<()>());
                t.set_name("second");
                t.task_ref()
            })
            .unwrap();
        let (a, b) = (first.key, second.key);
        assert_eq!(a.index, b.index, "the slot was reused");
        assert_ne!(a.generation, b.generation);
        assert_eq!(
            (first.name(), second.name()),
            ("first".into(), "second".into())
        );
        assert_eq!(lp.inner.book.names.borrow().moved.len(), 1);
        second.set_name("renamed");
        first.set_name("first again");
        assert_eq!(
            (first.name(), second.name()),
            ("first again".into(), "renamed".into())
        );
        assert_eq!(names(&lp), 2);
        drop(first);
        assert_eq!(names(&lp), 1, "the moved name left with its task");
        assert!(second.cancel());
        lp.run_until_complete(crate::yield_now()).unwrap();
        drop(second);
        assert_eq!(names(&lp), 0);
    }

    #[test]
    fn l28_cancel_through_a_ref_marks_a_failure_retrieved_after_its_loop_is_gone() {
        // As `Task::cancel`: cancelling a task that failed counts its failure as seen, so the
        // drop of its handle reports nothing (L35), also once the loop has been dropped.
        let lp = EventLoop::new().unwrap();
        let task = lp
            .spawn(async { Err::<(), _>("failed".to_string()) })
            .unwrap();
        let task_ref = task.task_ref();
        lp.run_until_complete(crate::yield_now()).unwrap();
        assert!(task.is_done());
        drop(lp);
        assert!(!task_ref.cancel(), "the task has ended");
        assert!(task.cell.join.borrow().retrieved);
    }

    #[test]
    fn renaming_the_main_future_of_an_older_run_keeps_no_name() {
        // Only the last run's main future has its name kept (the next run forgets it): a name
        // given to an older one would stay in the book for the loop's life, one per future.
        let lp = EventLoop::new().unwrap();
        let names = |lp: &EventLoop| lp.inner.book.names.borrow().len();
        let first = lp
            .run_until_complete(async { crate::current_task().unwrap().unwrap() })
            .unwrap();
        lp.run_until_complete(async {}).unwrap();
        lp.run_until_complete(async {}).unwrap();
        for n in 0..3 {
            first.set_name(format!("renamed {n}"));
        }
        assert_eq!(names(&lp), 0);
        assert!(first.name().starts_with("Task-"), "{}", first.name());
    }
}
