//! `Queue`, `PriorityQueue` and `LifoQueue`: CPython's `Lib/asyncio/queues.py`, for tasks of
//! one loop.
//!
//! As in CPython: `maxsize` 0 means unbounded; [`put`](Queue::put) waits while the queue is
//! full and [`get`](Queue::get) while it is empty, woken first come first served; a woken task
//! checks again and queues up again if another task took the room or the item first; a task
//! dropped (cancelled) after it was woken wakes the next one in its place, so no wakeup is lost.
//! `put_nowait` / `get_nowait` never wait: they fail with the typed errors [`QueueFull`] (which
//! hands the item back) and [`QueueEmpty`]. [`task_done`](Queue::task_done) and
//! [`join`](Queue::join) count unfinished items.
//!
//! The queues are `!Send`: share one between tasks with `Rc`.

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::locks::{Event, EventWait};
use super::waiters::{WaitStep, Waiters};
use crate::error::Error;

/// `get_nowait` on an empty queue (CPython `asyncio.QueueEmpty`).
///
/// # Examples
///
/// ```
/// let q: asyncio::Queue<u8> = asyncio::Queue::new(0);
/// assert_eq!(q.get_nowait(), Err(asyncio::sync::QueueEmpty));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueEmpty;

impl fmt::Display for QueueEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is empty")
    }
}

impl std::error::Error for QueueEmpty {}

/// `put_nowait` on a full queue (CPython `asyncio.QueueFull`); holds the item that did not fit.
///
/// # Examples
///
/// ```
/// let q = asyncio::Queue::new(1);
/// q.put_nowait("a").unwrap();
/// let full = q.put_nowait("b").unwrap_err();
/// assert_eq!(full.into_inner(), "b");
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct QueueFull<T>(pub T);

impl<T> QueueFull<T> {
    /// The item that was refused.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(asyncio::sync::QueueFull(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("QueueFull(..)")
    }
}

impl<T> fmt::Display for QueueFull<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("queue is full")
    }
}

impl<T> std::error::Error for QueueFull<T> {}

/// Where the items live: the one thing the three queue kinds do differently (CPython's
/// `_init` / `_put` / `_get` overrides).
trait Store<T>: Default {
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    fn len(&self) -> usize;
}

/// First in, first out.
struct Fifo<T>(VecDeque<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Store<T> for Fifo<T> {
    fn push(&mut self, item: T) {
        self.0.push_back(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Last in, first out.
struct Lifo<T>(Vec<T>);

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Store<T> for Lifo<T> {
    fn push(&mut self, item: T) {
        self.0.push(item)
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Smallest first (`heapq`).
struct Heap<T>(BinaryHeap<Reverse<T>>);

impl<T: Ord> Default for Heap<T> {
    fn default() -> Self {
        Heap(BinaryHeap::new())
    }
}

impl<T: Ord> Store<T> for Heap<T> {
    fn push(&mut self, item: T) {
        self.0.push(Reverse(item))
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|r| r.0)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// The queue machinery, whatever the store.
///
/// Ground rule: no borrow of `items` lives while code of the items runs (`Ord::cmp` of a
/// `PriorityQueue`'s items, which may look at the queue): an operation takes the store out
/// of the cell, works on it, and puts it back ([`Core::with_items`]).
struct Core<T, S> {
    /// The items; an empty store stands in while an operation has them out.
    items: RefCell<S>,
    /// How many items there are, for `qsize`, `empty` and `full` while the store is out.
    len: Cell<usize>,
    /// The store is out: a `put_nowait` or `get_nowait` made meanwhile (from an item's
    /// `Ord`) finds the queue full or empty, as if it were.
    busy: Cell<bool>,
    maxsize: usize,
    getters: Waiters,
    putters: Waiters,
    unfinished: Cell<usize>,
    /// Set when `unfinished` is zero.
    finished: Event,
    _item: std::marker::PhantomData<T>,
}

impl<T, S: Store<T>> Core<T, S> {
    fn new(maxsize: usize) -> Self {
        let finished = Event::new();
        finished.set();
        Core {
            items: RefCell::new(S::default()),
            len: Cell::new(0),
            busy: Cell::new(false),
            maxsize,
            getters: Waiters::default(),
            putters: Waiters::default(),
            unfinished: Cell::new(0),
            finished,
            _item: std::marker::PhantomData,
        }
    }

    fn qsize(&self) -> usize {
        self.len.get()
    }

    fn full(&self) -> bool {
        self.maxsize > 0 && self.qsize() >= self.maxsize
    }

    /// Runs `op` on the store taken out of its cell (no borrow held while it runs), then puts
    /// it back and counts its items, also if `op` panics. Not re-entered: callers check `busy`.
    fn with_items<R>(&self, op: impl FnOnce(&mut S) -> R) -> R {
        /// Puts the store back on every exit.
        struct Back<'a, T, S: Store<T>>(&'a Core<T, S>, S);
        impl<T, S: Store<T>> Drop for Back<'_, T, S> {
            fn drop(&mut self) {
                let Back(core, store) = self;
                core.len.set(store.len());
                core.items.replace(std::mem::take(store)); // the stand-in: empty, no item code
                core.busy.set(false);
            }
        }
        debug_assert!(!self.busy.get(), "queue store taken out twice");
        self.busy.set(true);
        let mut back = Back(self, self.items.take());
        op(&mut back.1)
    }

    fn put_nowait(&self, item: T) -> Result<(), QueueFull<T>> {
        if self.full() || self.busy.get() {
            return Err(QueueFull(item));
        }
        self.with_items(|items| items.push(item));
        self.unfinished.set(self.unfinished.get().saturating_add(1));
        self.finished.clear();
        self.getters.notify_pop();
        Ok(())
    }

    fn get_nowait(&self) -> Result<T, QueueEmpty> {
        if self.busy.get() {
            return Err(QueueEmpty);
        }
        let item = self.with_items(|items| items.pop()).ok_or(QueueEmpty)?;
        self.putters.notify_pop();
        Ok(item)
    }

    fn task_done(&self) -> Result<(), Error> {
        let n = self.unfinished.get();
        if n == 0 {
            return Err(Error::invalid_argument("task_done() called too many times"));
        }
        self.unfinished.set(n - 1);
        if n == 1 {
            self.finished.set();
        }
        Ok(())
    }
}

/// The future of `put` on any of the queues: ready once the item is in.
///
/// It puts its item once: polled again after it was ready (outside the `Future` contract), it
/// is ready again at once and touches nothing, as [`BarrierWait`](crate::sync::BarrierWait)
/// gives its output again.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let q = asyncio::Queue::new(0);
///     let put: asyncio::sync::Put<'_, u32> = q.put(1);
///     put.await;
///     assert_eq!(q.qsize(), 1);
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Put<'a, T> {
    core: &'a dyn CoreDyn<T>,
    /// The item to put. Invariant: `None` once it is in (and only then).
    item: Option<T>,
    /// Our place among the putters while we wait.
    key: Option<usize>,
}

/// The future of `get` on any of the queues: ready with the next item.
///
/// It takes one item: polled again after it was ready (outside the `Future` contract), it
/// stays pending for ever and takes nothing, as a fused future does.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let q = asyncio::Queue::new(0);
///     q.put_nowait('x').unwrap();
///     let get: asyncio::sync::Get<'_, char> = q.get();
///     assert_eq!(get.await, 'x');
/// })
/// .unwrap();
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Get<'a, T> {
    core: &'a dyn CoreDyn<T>,
    /// Our place among the getters while we wait (`Waiting`); `Done` once it gave its item.
    step: WaitStep,
}

/// The queue operations the `Put` and `Get` futures need, without naming the store.
trait CoreDyn<T> {
    fn full(&self) -> bool;
    fn empty(&self) -> bool;
    fn put_nowait(&self, item: T) -> Result<(), QueueFull<T>>;
    fn get_nowait(&self) -> Result<T, QueueEmpty>;
    fn getters(&self) -> &Waiters;
    fn putters(&self) -> &Waiters;
}

impl<T, S: Store<T>> CoreDyn<T> for Core<T, S> {
    fn full(&self) -> bool {
        Core::full(self)
    }
    fn empty(&self) -> bool {
        self.qsize() == 0
    }
    fn put_nowait(&self, item: T) -> Result<(), QueueFull<T>> {
        Core::put_nowait(self, item)
    }
    fn get_nowait(&self) -> Result<T, QueueEmpty> {
        Core::get_nowait(self)
    }
    fn getters(&self) -> &Waiters {
        &self.getters
    }
    fn putters(&self) -> &Waiters {
        &self.putters
    }
}

// The futures never pin their item in place: it is moved out by value.
impl<T> Unpin for Put<'_, T> {}
impl<T> Unpin for Get<'_, T> {}

impl<T> Future for Put<'_, T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let core = this.core;
        if this.item.is_none() {
            // Polled after its item went in: see the type's docs.
            return Poll::Ready(());
        }
        if let Some(key) = this.key {
            if !core.putters().poll(key, cx.waker()) {
                return Poll::Pending;
            }
            core.putters().remove(key);
            this.key = None;
        }
        if core.full() {
            // Queue (again) at the back, as CPython's `while self.full()` loop does.
            this.key = Some(core.putters().push(cx.waker()));
            return Poll::Pending;
        }
        if let Some(item) = this.item.take() {
            // Not full, so it fails only when made from inside the items' ordering: it then
            // waits, as for a full queue.
            if let Err(QueueFull(item)) = core.put_nowait(item) {
                this.item = Some(item);
                this.key = Some(core.putters().push(cx.waker()));
                return Poll::Pending;
            }
        }
        Poll::Ready(())
    }
}

impl<T> Drop for Put<'_, T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            if self.core.putters().remove(key) && !self.core.full() {
                self.core.putters().notify_pop();
            }
        }
    }
}

impl<T> Future for Get<'_, T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let core = this.core;
        match this.step {
            WaitStep::Start => {}
            WaitStep::Waiting(key) => {
                if !core.getters().poll(key, cx.waker()) {
                    return Poll::Pending;
                }
                core.getters().remove(key);
                this.step = WaitStep::Start;
            }
            // Polled after it gave its item: see the type's docs.
            WaitStep::Done => return Poll::Pending,
        }
        match core.get_nowait() {
            Ok(item) => {
                this.step = WaitStep::Done;
                Poll::Ready(item)
            }
            Err(QueueEmpty) => {
                this.step = WaitStep::Waiting(core.getters().push(cx.waker()));
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Get<'_, T> {
    fn drop(&mut self) {
        if let WaitStep::Waiting(key) = self.step {
            self.step = WaitStep::Done;
            if self.core.getters().remove(key) && !self.core.empty() {
                self.core.getters().notify_pop();
            }
        }
    }
}

/// One public queue type over a store, with every method documented for that type.
macro_rules! queue_type {
    ($(#[$meta:meta])* $name:ident, $store:ident, [$($bound:tt)*], $a:literal, $b:literal, $first:literal) => {
        $(#[$meta])*
        pub struct $name<T> {
            core: Core<T, $store<T>>,
        }

        impl<T: $($bound)*> $name<T> {
            #[doc = concat!("A queue holding at most `maxsize` items; 0: no limit.\n\n",
                "# Examples\n\n```\n",
                "let q = asyncio::sync::", stringify!($name), "::<u8>::new(10);\n",
                "assert_eq!(q.maxsize(), 10);\n```")]
            pub fn new(maxsize: usize) -> Self {
                $name { core: Core::new(maxsize) }
            }

            #[doc = concat!("The `maxsize` given to `new`; 0: no limit.\n\n",
                "# Examples\n\n```\n",
                "assert_eq!(asyncio::sync::", stringify!($name), "::<u8>::new(0).maxsize(), 0);\n```")]
            pub fn maxsize(&self) -> usize {
                self.core.maxsize
            }

            #[doc = concat!("How many items are in the queue.\n\n",
                "# Examples\n\n```\n",
                "let q = asyncio::sync::", stringify!($name), "::new(0);\n",
                "q.put_nowait(", $a, ").unwrap();\n",
                "assert_eq!(q.qsize(), 1);\n```")]
            pub fn qsize(&self) -> usize {
                self.core.qsize()
            }

            #[doc = concat!("Whether the queue holds no item.\n\n",
                "# Examples\n\n```\n",
                "assert!(asyncio::sync::", stringify!($name), "::<u8>::new(0).empty());\n```")]
            pub fn empty(&self) -> bool {
                self.core.qsize() == 0
            }

            #[doc = concat!("Whether the queue holds `maxsize` items (never, when `maxsize` is 0).\n\n",
                "# Examples\n\n```\n",
                "let q = asyncio::sync::", stringify!($name), "::new(1);\n",
                "q.put_nowait(", $a, ").unwrap();\n",
                "assert!(q.full());\n```")]
            pub fn full(&self) -> bool {
                self.core.full()
            }

            #[doc = concat!("Puts `item` in without waiting.\n\n",
                "# Errors\n\n[`QueueFull`] holding `item` when the queue is full.\n\n",
                "# Examples\n\n```\n",
                "let q = asyncio::sync::", stringify!($name), "::new(1);\n",
                "assert!(q.put_nowait(", $a, ").is_ok());\n",
                "assert!(q.put_nowait(", $b, ").is_err());\n```")]
            pub fn put_nowait(&self, item: T) -> Result<(), QueueFull<T>> {
                self.core.put_nowait(item)
            }

            #[doc = concat!("Takes the next item without waiting.\n\n",
                "# Errors\n\n[`QueueEmpty`] when the queue is empty.\n\n",
                "# Examples\n\n```\n",
                "let q = asyncio::sync::", stringify!($name), "::new(0);\n",
                "q.put_nowait(", $a, ").unwrap();\n",
                "q.put_nowait(", $b, ").unwrap();\n",
                "assert_eq!(q.get_nowait(), Ok(", $first, "));\n```")]
            pub fn get_nowait(&self) -> Result<T, QueueEmpty> {
                self.core.get_nowait()
            }

            #[doc = concat!("Puts `item` in, waiting while the queue is full. Cancel safe: ",
                "dropping the future drops the item, and a wakeup it had received passes ",
                "to the next putter.\n\n",
                "# Examples\n\n```\n",
                "asyncio::run(async {\n",
                "    let q = asyncio::sync::", stringify!($name), "::new(1);\n",
                "    q.put(", $a, ").await;\n",
                "    assert!(q.full());\n",
                "})\n.unwrap();\n```")]
            pub fn put(&self, item: T) -> Put<'_, T> {
                Put { core: &self.core, item: Some(item), key: None }
            }

            #[doc = concat!("Takes the next item, waiting while the queue is empty. Cancel ",
                "safe: an item is only taken when the future is ready, and a wakeup it had ",
                "received passes to the next getter.\n\n",
                "# Examples\n\n```\n",
                "asyncio::run(async {\n",
                "    let q = asyncio::sync::", stringify!($name), "::new(0);\n",
                "    q.put_nowait(", $a, ").unwrap();\n",
                "    q.put_nowait(", $b, ").unwrap();\n",
                "    assert_eq!(q.get().await, ", $first, ");\n",
                "})\n.unwrap();\n```")]
            pub fn get(&self) -> Get<'_, T> {
                Get { core: &self.core, step: WaitStep::Start }
            }

            #[doc = concat!("Marks one item taken earlier as processed, for [`join`](Self::join).\n\n",
                "# Errors\n\n[`Error::InvalidArgument`] `task_done() called too many times` ",
                "when more calls came than items were put.\n\n",
                "# Examples\n\n```\n",
                "let q = asyncio::sync::", stringify!($name), "::new(0);\n",
                "q.put_nowait(", $a, ").unwrap();\n",
                "q.get_nowait().unwrap();\n",
                "assert!(q.task_done().is_ok());\n",
                "assert!(q.task_done().is_err());\n```")]
            pub fn task_done(&self) -> Result<(), Error> {
                self.core.task_done()
            }

            #[doc = concat!("Waits until every item put has been marked with ",
                "[`task_done`](Self::task_done); ready at once when none is unfinished.\n\n",
                "# Examples\n\n```\n",
                "asyncio::run(async {\n",
                "    let q = asyncio::sync::", stringify!($name), "::new(0);\n",
                "    q.put_nowait(", $a, ").unwrap();\n",
                "    q.get_nowait().unwrap();\n",
                "    q.task_done().unwrap();\n",
                "    q.join().await;\n",
                "})\n.unwrap();\n```")]
            pub fn join(&self) -> EventWait<'_> {
                self.core.finished.wait()
            }
        }

        impl<T: $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("maxsize", &self.core.maxsize)
                    .field("qsize", &self.core.qsize())
                    .field("getters", &self.core.getters.len())
                    .field("putters", &self.core.putters.len())
                    .field("unfinished", &self.core.unfinished.get())
                    .finish()
            }
        }
    };
}

queue_type!(
    /// A first-in, first-out queue for tasks (CPython `asyncio.Queue`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// asyncio::run(async {
    ///     let q = Rc::new(asyncio::Queue::new(1));
    ///     let q2 = q.clone();
    ///     let producer = asyncio::spawn(async move {
    ///         for i in 0..3 {
    ///             q2.put(i).await; // waits while the queue is full
    ///         }
    ///     });
    ///     let mut got = Vec::new();
    ///     for _ in 0..3 {
    ///         got.push(q.get().await);
    ///     }
    ///     producer.await.unwrap();
    ///     assert_eq!(got, [0, 1, 2]);
    /// })
    /// .unwrap();
    /// ```
    ///
    /// Workers that run until cancelled, and [`join`](Self::join) to wait until every item
    /// put has been processed (Python's `task_done()` / `await queue.join()` pattern). A queue
    /// is not `Clone`: each task gets an `Rc` of it.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// async fn worker(queue: Rc<asyncio::Queue<u32>>, total: Rc<Cell<u32>>) -> asyncio::Result<()> {
    ///     loop {
    ///         let item = queue.get().await;
    ///         total.set(total.get() + item);
    ///         queue.task_done()?;
    ///     }
    /// }
    ///
    /// asyncio::run(async {
    ///     let (queue, total) = (Rc::new(asyncio::Queue::new(2)), Rc::new(Cell::new(0)));
    ///     let workers: Vec<_> = (0..3)
    ///         .map(|_| asyncio::spawn(worker(queue.clone(), total.clone())))
    ///         .collect();
    ///     for item in 1..=10 {
    ///         queue.put(item).await; // waits while 2 items are queued
    ///     }
    ///     queue.join().await; // every item got its task_done()
    ///     assert_eq!(total.get(), 55);
    ///     for w in &workers {
    ///         w.cancel(); // the workers wait in get() for ever otherwise
    ///     }
    ///     for w in workers {
    ///         assert!(matches!(w.await, Err(asyncio::Cancelled)));
    ///     }
    /// })
    /// .unwrap();
    /// ```
    Queue, Fifo, [Sized], "1", "2", "1"
);

queue_type!(
    /// A queue that gives the most recently added item first (CPython `asyncio.LifoQueue`).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = asyncio::LifoQueue::new(0);
    /// for i in 0..3 {
    ///     q.put_nowait(i).unwrap();
    /// }
    /// assert_eq!(q.get_nowait(), Ok(2));
    /// ```
    LifoQueue, Lifo, [Sized], "1", "2", "2"
);

queue_type!(
    /// A queue that gives the smallest item first (CPython `asyncio.PriorityQueue`, a
    /// `heapq`); put `(priority, value)` tuples to order by priority.
    ///
    /// The items' `Ord` runs while the queue holds no borrow of them, so it may look at the
    /// queue (`qsize`, `empty`, `full`); a `put_nowait` or `get_nowait` made from inside it
    /// finds the queue full or empty, since the queue is between two states.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = asyncio::PriorityQueue::new(0);
    /// q.put_nowait((2, "two")).unwrap();
    /// q.put_nowait((1, "one")).unwrap();
    /// assert_eq!(q.get_nowait(), Ok((1, "one")));
    /// ```
    PriorityQueue, Heap, [Ord], "2", "1", "1"
);
