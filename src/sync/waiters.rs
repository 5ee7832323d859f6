//! The FIFO waiter list every primitive in this module shares: CPython's
//! `collections.deque` of futures, rebuilt as a slab of wakers plus a queue of slab keys.
//!
//! A waiting future registers once ([`Waiters::push`]) and keeps its key; the owner wakes
//! waiters by marking them *notified* (CPython's `fut.set_result(..)`). The waiting future sees
//! the mark on its next poll, or, when it is dropped first (our cancellation), learns from
//! [`Waiters::remove`] that it had been notified, so it can pass the wakeup on.
//!
//! Nothing here allocates until a task actually has to wait; the slab and the queue keep their
//! capacity afterwards.
//!
//! Ground rule: no borrow of the list is alive while a waker is cloned, woken or dropped. A
//! waker is user code (its vtable): its drop may drop another waiter of this very list.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::task::Waker;

use slab::Slab;

/// One waiting future.
struct Slot {
    /// The waker of the last poll; `None` after a notification took it.
    waker: Option<Waker>,
    /// Woken by the owner (CPython: the future is done).
    notified: bool,
}

#[derive(Default)]
struct Inner {
    /// Every registered waiter, notified or not, by key.
    slots: Slab<Slot>,
    /// Keys in arrival order. A notified waiter stays here when the primitive wants it to keep
    /// its place (Lock, Semaphore: CPython leaves the done future in the deque until its task
    /// runs) and is popped when it does not (queues, Condition, Event).
    order: VecDeque<usize>,
    /// `notify_all`'s wakers between the borrow and the wake-ups, its capacity kept.
    scratch: Vec<Waker>,
}

/// A FIFO list of waiting futures, single-threaded.
#[derive(Default)]
pub(crate) struct Waiters {
    inner: RefCell<Inner>,
    /// `!Send`, like every object of a loop: each primitive holds one, so none of them can
    /// cross to another thread (the wakers inside would be `Send`, the design is not).
    _not_send: std::marker::PhantomData<std::rc::Rc<()>>,
}

impl Waiters {
    /// Whether any waiter is queued (notified-and-kept ones count).
    pub(crate) fn is_empty(&self) -> bool {
        self.inner.borrow().order.is_empty()
    }

    /// How many waiters are queued.
    pub(crate) fn len(&self) -> usize {
        self.inner.borrow().order.len()
    }

    /// Queues a new waiter at the back; returns its key.
    pub(crate) fn push(&self, waker: &Waker) -> usize {
        // Cloned before the borrow: a waker's clone is user code too (its vtable).
        let waker = Some(waker.clone());
        let mut inner = self.inner.borrow_mut();
        let key = inner.slots.insert(Slot {
            waker,
            notified: false,
        });
        inner.order.push_back(key);
        key
    }

    /// Whether waiter `key` has been notified; if not, remembers `waker` for later.
    pub(crate) fn poll(&self, key: usize, waker: &Waker) -> bool {
        let same = match self.inner.borrow().slots.get(key) {
            Some(slot) if slot.notified => return true,
            Some(slot) => slot.waker.as_ref().is_some_and(|w| w.will_wake(waker)),
            // Not reachable: a key lives until its future removes it.
            None => return true,
        };
        if same {
            return false;
        }
        // Cloned outside the borrow (user code, as its drop is); the slot is looked at again.
        let mut new = Some(waker.clone());
        let mut inner = self.inner.borrow_mut();
        let notified = match inner.slots.get_mut(key) {
            Some(slot) if !slot.notified => {
                std::mem::swap(&mut slot.waker, &mut new);
                false
            }
            _ => true,
        };
        drop(inner);
        drop(new); // the replaced waker (or the unused clone), after the borrow
        notified
    }

    /// Forgets waiter `key`; returns whether it had been notified.
    pub(crate) fn remove(&self, key: usize) -> bool {
        let mut inner = self.inner.borrow_mut();
        if let Some(pos) = inner.order.iter().position(|&k| k == key) {
            inner.order.remove(pos);
        }
        let slot = inner.slots.try_remove(key);
        drop(inner);
        // The slot (and the waker in it) drops after the borrow: a waker's drop may run user
        // code that drops another waiter of this list.
        slot.is_some_and(|s| s.notified)
    }

    /// Notifies the first queued waiter and leaves it queued; nothing when it is already
    /// notified (CPython `Lock._wake_up_first`).
    pub(crate) fn notify_first(&self) {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            let Some(&key) = inner.order.front() else {
                return;
            };
            let slot = &mut inner.slots[key];
            if slot.notified {
                return;
            }
            slot.notified = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Notifies the first queued waiter not yet notified and leaves it queued; returns whether
    /// there was one (CPython `Semaphore._wake_up_next`).
    pub(crate) fn notify_next_unnotified(&self) -> bool {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            let Inner { slots, order, .. } = &mut *inner;
            let Some(&key) = order.iter().find(|&&k| !slots[k].notified) else {
                return false;
            };
            let slot = &mut slots[key];
            slot.notified = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Pops the first queued waiter and notifies it; returns whether there was one (CPython
    /// `Queue._wakeup_next`, one step of `Condition.notify`).
    pub(crate) fn notify_pop(&self) -> bool {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            let Some(key) = inner.order.pop_front() else {
                return false;
            };
            let slot = &mut inner.slots[key];
            slot.notified = true;
            slot.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Pops and notifies every waiter queued now (CPython `Event.set`): one that a wake-up
    /// queues meanwhile (a waker that polls at once, and waits again) waits for the next
    /// notification, as in CPython, which walks the waiters present at the call.
    pub(crate) fn notify_all(&self) {
        let mut wakers = {
            let mut inner = self.inner.borrow_mut();
            let Inner {
                slots,
                order,
                scratch,
            } = &mut *inner;
            let mut wakers = std::mem::take(scratch);
            wakers.extend(order.drain(..).filter_map(|key| {
                let slot = &mut slots[key];
                slot.notified = true;
                slot.waker.take()
            }));
            wakers
        };
        wakers.drain(..).for_each(Waker::wake);
        // Given back for the next call (unless a wake-up's own notify_all gave one back first).
        let mut inner = self.inner.borrow_mut();
        if inner.scratch.capacity() == 0 {
            inner.scratch = wakers;
        }
    }
}
