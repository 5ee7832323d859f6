//! The FIFO waiter list every primitive in this module shares: CPython's
//! `collections.deque` of futures, rebuilt as a slab of wakers linked in arrival order.
//!
//! A waiting future registers once ([`Waiters::push`]) and keeps its key; the owner wakes
//! waiters by marking them *notified* (CPython's `fut.set_result(..)`). The waiting future sees
//! the mark on its next poll, or, when it is dropped first (our cancellation), learns from
//! [`Waiters::remove`] that it had been notified, so it can pass the wakeup on.
//!
//! The arrival order is a doubly linked list through the slab's slots (by key), so that a
//! waiter dropped anywhere in the line leaves in constant time: CPython's `deque.remove` scans,
//! and so did a queue of keys here, which made many cancelled waiters cost quadratic time.
//! Nothing here allocates until a task actually has to wait; the slab keeps its capacity
//! afterwards.
//!
//! The queued waiters already notified always come first in the list: a notification that
//! leaves its waiter queued goes to the first one not yet notified (the others take waiters
//! out of the list), and a new waiter joins at the back, unnotified. So the first unnotified
//! waiter is a cursor kept as the list changes, and `notify_next_unnotified` (Semaphore) takes
//! constant time where CPython's `_wake_up_next` walks past every waiter woken but not yet
//! run.
//!
//! Ground rule: no borrow of the list is alive while a waker is cloned, woken or dropped. A
//! waker is user code (its vtable): its drop may drop another waiter of this very list.

use std::cell::RefCell;
use std::task::Waker;

use slab::Slab;

/// No slot: the end of the list.
const NIL: usize = usize::MAX;

/// One waiting future.
struct Slot {
    /// The waker of the last poll; `None` after a notification took it.
    waker: Option<Waker>,
    /// Woken by the owner (CPython: the future is done).
    notified: bool,
    /// In the arrival-order list. A notified waiter stays in it when the primitive wants it
    /// to keep its place (Lock, Semaphore: CPython leaves the done future in the deque until
    /// its task runs) and is unlinked when it does not (queues, Condition, Event); its slot
    /// stays until its future removes it.
    queued: bool,
    /// The neighbours in the list, by key (`NIL` at either end); meaningful while `queued`.
    prev: usize,
    next: usize,
}

struct Inner {
    /// Every registered waiter, queued or not, by key.
    slots: Slab<Slot>,
    /// The oldest and newest queued waiters (`NIL`: none).
    head: usize,
    tail: usize,
    /// The first queued waiter not yet notified (`NIL`: none). Invariant: every queued waiter
    /// before it is notified and every one from it on is not.
    unnotified: usize,
    /// How many waiters are queued.
    len: usize,
    /// `notify_all`'s wakers between the borrow and the wake-ups, its capacity kept.
    scratch: Vec<Waker>,
    /// List entries touched while unlinking or notifying, for the tests of their cost.
    #[cfg(test)]
    visited: usize,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            slots: Slab::new(),
            head: NIL,
            tail: NIL,
            unnotified: NIL,
            len: 0,
            scratch: Vec::new(),
            #[cfg(test)]
            visited: 0,
        }
    }
}

impl Inner {
    /// Takes queued waiter `key` out of the list, its neighbours joined up.
    fn unlink(&mut self, key: usize) {
        let (prev, next) = {
            let slot = &mut self.slots[key];
            debug_assert!(slot.queued, "waiter {key} unlinked twice");
            slot.queued = false;
            (slot.prev, slot.next)
        };
        if self.unnotified == key {
            self.unnotified = next; // unnotified too, as everything after the cursor
        }
        match prev {
            NIL => self.head = next,
            p => self.slots[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n].prev = prev,
        }
        self.len -= 1;
        #[cfg(test)]
        {
            self.visited += 1;
        }
    }

    /// Marks waiter `key` notified; its waker, to wake after the borrow. A queued `key` must
    /// be the cursor: notified, it joins the notified front of the list.
    fn notify(&mut self, key: usize) -> Option<Waker> {
        let slot = &mut self.slots[key];
        if slot.queued {
            debug_assert_eq!(
                self.unnotified, key,
                "queued waiter {key} notified out of turn"
            );
            self.unnotified = slot.next;
            #[cfg(test)]
            {
                self.visited += 1;
            }
        }
        slot.notified = true;
        slot.waker.take()
    }
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
        self.inner.borrow().len == 0
    }

    /// How many waiters are queued.
    pub(crate) fn len(&self) -> usize {
        self.inner.borrow().len
    }

    /// Queues a new waiter at the back; returns its key.
    pub(crate) fn push(&self, waker: &Waker) -> usize {
        // Cloned before the borrow: a waker's clone is user code too (its vtable).
        let waker = Some(waker.clone());
        let mut inner = self.inner.borrow_mut();
        let tail = inner.tail;
        let key = inner.slots.insert(Slot {
            waker,
            notified: false,
            queued: true,
            prev: tail,
            next: NIL,
        });
        match tail {
            NIL => inner.head = key,
            t => inner.slots[t].next = key,
        }
        inner.tail = key;
        if inner.unnotified == NIL {
            inner.unnotified = key; // all before it are notified
        }
        inner.len += 1;
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

    /// Forgets waiter `key`, in constant time; returns whether it had been notified.
    pub(crate) fn remove(&self, key: usize) -> bool {
        let mut inner = self.inner.borrow_mut();
        if inner.slots.get(key).is_some_and(|slot| slot.queued) {
            inner.unlink(key);
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
            let key = inner.head;
            if key == NIL || inner.slots[key].notified {
                return;
            }
            inner.notify(key)
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Notifies the first queued waiter not yet notified and leaves it queued; returns whether
    /// there was one (CPython `Semaphore._wake_up_next`, which walks the deque to find it;
    /// here it is the cursor).
    pub(crate) fn notify_next_unnotified(&self) -> bool {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            let key = inner.unnotified;
            if key == NIL {
                return false;
            }
            inner.notify(key)
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
            let key = inner.head;
            if key == NIL {
                return false;
            }
            inner.unlink(key);
            inner.notify(key)
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
            let mut wakers = std::mem::take(&mut inner.scratch);
            let mut key = std::mem::replace(&mut inner.head, NIL);
            inner.tail = NIL;
            inner.unnotified = NIL;
            inner.len = 0;
            while key != NIL {
                let slot = &mut inner.slots[key];
                slot.queued = false;
                key = slot.next;
                wakers.extend(slot.waker.take());
                slot.notified = true;
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::task::Waker;

    /// The queued keys front to back, checked against the walk back to front.
    fn order(waiters: &Waiters) -> Vec<usize> {
        let inner = waiters.inner.borrow();
        let (mut forward, mut backward) = (Vec::new(), Vec::new());
        let mut key = inner.head;
        while key != NIL {
            forward.push(key);
            key = inner.slots[key].next;
        }
        let mut key = inner.tail;
        while key != NIL {
            backward.push(key);
            key = inner.slots[key].prev;
        }
        backward.reverse();
        assert_eq!(forward, backward, "the links disagree");
        assert_eq!(forward.len(), inner.len);
        let first = forward.iter().position(|&k| !inner.slots[k].notified);
        let cursor = first.map_or(NIL, |i| forward[i]);
        assert_eq!(inner.unnotified, cursor, "cursor off in {forward:?}");
        let rest = &forward[first.unwrap_or(forward.len())..];
        assert!(
            rest.iter().all(|&k| !inner.slots[k].notified),
            "a notified waiter behind the first unnotified one in {forward:?}"
        );
        forward
    }

    #[test]
    fn removal_anywhere_keeps_the_others_in_arrival_order() {
        let waiters = Waiters::default();
        let waker = Waker::noop();
        let k: Vec<usize> = (0..5).map(|_| waiters.push(waker)).collect();
        waiters.remove(k[2]);
        waiters.remove(k[0]);
        waiters.remove(k[4]);
        let late = waiters.push(waker);
        assert_eq!(order(&waiters), [k[1], k[3], late]);
        assert!(waiters.notify_pop()); // k[1] leaves the line, notified
        assert!(waiters.remove(k[1]));
        waiters.notify_first(); // k[3] notified, kept in line
        assert!(waiters.notify_next_unnotified()); // then `late`
        assert!(!waiters.notify_next_unnotified());
        assert_eq!(order(&waiters), [k[3], late]);
        waiters.notify_all();
        assert_eq!(order(&waiters), []);
        assert!(waiters.remove(k[3]) && waiters.remove(late));
        assert!(waiters.is_empty());
    }

    #[test]
    fn notifying_past_many_notified_waiters_takes_constant_steps_each() {
        // A semaphore released N times while its N waiters have been woken but not yet run
        // (all still queued, notified ones first): each notification finds the next waiter in
        // a bounded number of steps, not by walking past the ones notified before it.
        const N: usize = 1000;
        let waiters = Waiters::default();
        let waker = Waker::noop();
        let keys: Vec<usize> = (0..N).map(|_| waiters.push(waker)).collect();
        waiters.inner.borrow_mut().visited = 0;
        for _ in 0..N {
            assert!(waiters.notify_next_unnotified());
        }
        assert!(!waiters.notify_next_unnotified(), "all {N} notified");
        let visited = waiters.inner.borrow().visited;
        assert!(
            visited <= 2 * N,
            "{visited} list entries visited for {N} notifications"
        );
        assert_eq!(order(&waiters), keys, "notified waiters keep their places");
    }

    /// One step of the model test.
    #[derive(Clone, Debug)]
    enum Op {
        Push,
        /// Removes the live waiter at this index (modulo their number), queued or not.
        Remove(usize),
        NotifyFirst,
        NotifyNextUnnotified,
        NotifyPop,
        NotifyAll,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Push),
            2 => any::<usize>().prop_map(Op::Remove),
            1 => Just(Op::NotifyFirst),
            3 => Just(Op::NotifyNextUnnotified),
            1 => Just(Op::NotifyPop),
            1 => Just(Op::NotifyAll),
        ]
    }

    proptest! {
        /// Against a model that scans as CPython does: a deque of (key, notified) and the set
        /// of live waiters. After every step, each waiter's notified flag, the queue's order
        /// and every call's answer agree (and `order` checks the cursor against the scan).
        #[test]
        fn matches_a_scanning_model(ops in prop::collection::vec(op(), 1..200)) {
            let waiters = Waiters::default();
            let waker = Waker::noop();
            let mut queue: Vec<(usize, bool)> = Vec::new();
            let mut live: Vec<(usize, bool)> = Vec::new(); // (key, notified), every registered
            let mark = |live: &mut Vec<(usize, bool)>, key: usize| {
                live.iter_mut().filter(|(k, _)| *k == key).for_each(|w| w.1 = true);
            };
            for op in ops {
                match op {
                    Op::Push => {
                        let key = waiters.push(waker);
                        queue.push((key, false));
                        live.push((key, false));
                    }
                    Op::Remove(i) if !live.is_empty() => {
                        let (key, notified) = live.remove(i % live.len());
                        queue.retain(|&(k, _)| k != key);
                        prop_assert_eq!(waiters.remove(key), notified, "remove({})", key);
                    }
                    Op::Remove(_) => {}
                    Op::NotifyFirst => {
                        waiters.notify_first();
                        if let Some((key, notified)) = queue.first_mut() {
                            *notified = true;
                            let key = *key;
                            mark(&mut live, key);
                        }
                    }
                    Op::NotifyNextUnnotified => {
                        let next = queue.iter_mut().find(|(_, n)| !*n);
                        prop_assert_eq!(waiters.notify_next_unnotified(), next.is_some());
                        if let Some((key, notified)) = next {
                            *notified = true;
                            let key = *key;
                            mark(&mut live, key);
                        }
                    }
                    Op::NotifyPop => {
                        prop_assert_eq!(waiters.notify_pop(), !queue.is_empty());
                        if !queue.is_empty() {
                            let (key, _) = queue.remove(0);
                            mark(&mut live, key);
                        }
                    }
                    Op::NotifyAll => {
                        waiters.notify_all();
                        for (key, _) in queue.drain(..) {
                            mark(&mut live, key);
                        }
                    }
                }
                let keys: Vec<usize> = queue.iter().map(|&(k, _)| k).collect();
                prop_assert_eq!(order(&waiters), keys);
                for &(key, notified) in &live {
                    prop_assert_eq!(waiters.poll(key, waker), notified, "waiter {}", key);
                }
            }
        }
    }

    #[test]
    fn removing_dropped_waiters_takes_constant_steps_each() {
        // A thousand waiters cancelled, newest first (the worst order for a scan from the
        // front), then oldest first, then every other one: each removal touches a bounded
        // number of list entries, so many cancellations cost linear, not quadratic, work.
        const N: usize = 1000;
        let waiters = Waiters::default();
        let waker = Waker::noop();
        for pattern in ["newest first", "oldest first", "every other"] {
            let keys: Vec<usize> = (0..N).map(|_| waiters.push(waker)).collect();
            waiters.inner.borrow_mut().visited = 0;
            let order: Vec<usize> = match pattern {
                "newest first" => keys.iter().rev().copied().collect(),
                "oldest first" => keys.clone(),
                _ => keys
                    .iter()
                    .step_by(2)
                    .chain(keys.iter().skip(1).step_by(2))
                    .copied()
                    .collect(),
            };
            for (i, key) in order.into_iter().enumerate() {
                assert!(!waiters.remove(key), "{pattern}: never notified");
                assert_eq!(waiters.len(), N - i - 1, "{pattern}");
            }
            let visited = waiters.inner.borrow().visited;
            assert!(
                visited <= 2 * N,
                "{pattern}: {visited} list entries visited for {N} removals"
            );
            assert!(waiters.is_empty());
        }
    }
}
