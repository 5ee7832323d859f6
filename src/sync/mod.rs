//! Synchronisation primitives and queues for tasks on one loop: CPython's
//! `Lib/asyncio/locks.py` ([`Lock`], [`Event`], [`Condition`], [`Semaphore`],
//! [`BoundedSemaphore`], [`Barrier`]) and `Lib/asyncio/queues.py` ([`Queue`], [`PriorityQueue`],
//! [`LifoQueue`], [`QueueEmpty`], [`QueueFull`]).
//!
//! Like CPython's, these are not thread-safe: every type is `!Send` and meant for the tasks of
//! one loop (share one with `Rc`). Waiters are served in arrival order, and cancelling a wait
//! (dropping its future) never loses a wakeup: one already handed to the dropped future passes
//! to the next waiter. A waiter whose task has been cancelled ([`Task::cancel`], which drops
//! the task's future at its next turn) is passed over by wake-ups from then on, as CPython's
//! `Task.cancel()` cancels the future the task awaits at once. An uncontended acquire,
//! release, put or get allocates nothing.
//!
//! [`Task::cancel`]: crate::Task::cancel
//!
//! # Examples
//!
//! ```
//! use std::rc::Rc;
//! use asyncio::sync::{Lock, Queue};
//!
//! asyncio::run(async {
//!     let q = Rc::new(Queue::new(0));
//!     let lock = Rc::new(Lock::new());
//!     let (q2, l2) = (q.clone(), lock.clone());
//!     let worker = asyncio::spawn(async move {
//!         let item: u32 = q2.get().await;
//!         let _g = l2.lock().await;
//!         q2.task_done().unwrap();
//!         item * 2
//!     });
//!     q.put(21).await;
//!     q.join().await;
//!     assert_eq!(worker.await.unwrap(), 42);
//! })
//! .unwrap();
//! ```

mod barrier;
mod locks;
mod queues;
mod waiters;

pub use barrier::{Barrier, BarrierWait, BrokenBarrierError};
pub use locks::{
    Acquire, BoundedSemaphore, Condition, ConditionGuard, ConditionLock, ConditionWait, Event,
    EventWait, Lock, LockFuture, LockGuard, Semaphore, SemaphoreAcquire, SemaphorePermit,
};
pub use queues::{Get, LifoQueue, PriorityQueue, Put, Queue, QueueEmpty, QueueFull};
