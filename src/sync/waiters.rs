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
//! A waiter whose task has a cancellation pending (its future is dropped at the task's next
//! run) is passed over by `notify_next_unnotified` and `notify_pop` and by `has_live`, and
//! `notify_first` leaves it alone (it wakes the next one as it is dropped), as
//! CPython's `Task.cancel()` cancels the awaited future at once and its wake-ups skip done
//! futures: the wake-up goes straight to the next waiter instead of through the cancelled
//! one a turn later, which let a newer task take it first (a getter created after the
//! cancellation got the item of the getter waiting behind the cancelled one).
//!
//! Ground rule: no borrow of the list is alive while a waker is cloned, woken or dropped. A
//! waker is user code (its vtable): its drop may drop another waiter of this very list.

use std::cell::RefCell;
use std::task::Waker;

use slab::Slab;

use crate::event_loop::executor::cancel_pending;

/// No slot: the end of the list.
const NIL: usize = usize::MAX;

/// One waiting future.
struct Slot {
    /// The waker of the last poll; `None` after a notification took it.
    waker: Option<Waker>,
    /// Woken by the owner (CPython: the future is done).
    notified: bool,
    /// Passed over by a notification, its task's cancellation pending (CPython: its future
    /// was cancelled): out of the list, not notified. Polled again (its future outlived that
    /// task, moved into another), it is told to look again from the start.
    skipped: bool,
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

    /// Takes queued, unnotified waiter `key` out of the list, passed over, if its task's
    /// cancellation is pending; returns whether it did. The check runs no user code (it reads
    /// the waker's vtable and data, and the executor's task list).
    fn pass_over(&mut self, key: usize) -> bool {
        if !self.slots[key].waker.as_ref().is_some_and(cancel_pending) {
            return false;
        }
        self.unlink(key);
        self.slots[key].skipped = true;
        true
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

/// Where a future that may wait in a [`Waiters`] line is: `Start → Done`, or `Start →
/// Waiting → Done` (a lock's or a semaphore's acquire; a queue's `Get`, woken, looks again
/// from `Start`; an event's wait). `Done` once it gave its output: polled again it takes
/// nothing, and stays pending (an output that took something) or is ready again (an event's
/// wait, which took nothing); see each future's docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitStep {
    /// Not queued.
    Start,
    /// Queued under this key.
    Waiting(usize),
    /// Gave its output to its caller.
    Done,
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
    #[cfg(test)]
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
            skipped: false,
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

    /// Whether waiter `key` has been notified or passed over (then [`remove`](Self::remove)
    /// tells which); if not, remembers `waker` for later.
    pub(crate) fn poll(&self, key: usize, waker: &Waker) -> bool {
        let same = match self.inner.borrow().slots.get(key) {
            Some(slot) if slot.notified || slot.skipped => return true,
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
            Some(slot) if !slot.notified && !slot.skipped => {
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
    /// notified, or when its task's cancellation is pending (CPython `Lock._wake_up_first`,
    /// which leaves a done future alone: the waiter wakes the next one as it is dropped).
    pub(crate) fn notify_first(&self) {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            let key = inner.head;
            if key == NIL {
                return;
            }
            let slot = &inner.slots[key];
            if slot.notified || slot.waker.as_ref().is_some_and(cancel_pending) {
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
    /// here it is the cursor). Waiters whose task's cancellation is pending are passed over.
    pub(crate) fn notify_next_unnotified(&self) -> bool {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            loop {
                let key = inner.unnotified;
                if key == NIL {
                    return false;
                }
                if !inner.pass_over(key) {
                    break inner.notify(key);
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Pops the first queued waiter and notifies it; returns whether there was one (CPython
    /// `Queue._wakeup_next`, one step of `Condition.notify`). Waiters whose task's
    /// cancellation is pending are popped and passed over.
    pub(crate) fn notify_pop(&self) -> bool {
        let waker = {
            let mut inner = self.inner.borrow_mut();
            loop {
                let key = inner.head;
                if key == NIL {
                    return false;
                }
                if !inner.pass_over(key) {
                    inner.unlink(key);
                    break inner.notify(key);
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Whether a queued waiter is still live: notified, or its task not being cancelled
    /// (CPython's `any(not w.cancelled() for w in waiters)`, `Semaphore.locked`, and the
    /// negation of `Lock.acquire`'s `all(w.cancelled() ...)`). Stops at the first live one.
    pub(crate) fn has_live(&self) -> bool {
        let inner = self.inner.borrow();
        let mut key = inner.head;
        while key != NIL {
            let slot = &inner.slots[key];
            if slot.notified || !slot.waker.as_ref().is_some_and(cancel_pending) {
                return true;
            }
            key = slot.next;
        }
        false
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

    // ---- re-entrancy: a waker's wake or drop reaches into the same list ---------------------

    thread_local! {
        /// The list the wakers below reach into, and what each `remove` they made returned.
        static LIST: RefCell<(Option<std::rc::Rc<Waiters>>, Vec<bool>)> =
            const { RefCell::new((None, Vec::new())) };
    }

    /// What a [`Reenter`] waker does to the thread's list.
    #[derive(Clone, Copy)]
    enum Act {
        Nothing,
        Remove(usize),
        Push,
    }

    fn act(what: Act) {
        // Not at the thread's end (a failed test left its list behind): nothing to act on.
        let Ok(Some(list)) = LIST.try_with(|l| l.borrow().0.clone()) else {
            return;
        };
        match what {
            Act::Nothing => {}
            Act::Remove(key) => {
                let notified = list.remove(key);
                LIST.with(|l| l.borrow_mut().1.push(notified));
            }
            Act::Push => drop(list.push(Waker::noop())),
        }
    }

    /// A waker that acts on the list when woken, or when its last clone is dropped.
    struct Reenter {
        on_wake: Act,
        on_drop: Act,
    }

    impl std::task::Wake for Reenter {
        fn wake(self: std::sync::Arc<Self>) {
            act(self.on_wake);
        }
    }

    impl Drop for Reenter {
        fn drop(&mut self) {
            act(self.on_drop);
        }
    }

    fn reenter(on_wake: Act, on_drop: Act) -> Waker {
        Waker::from(std::sync::Arc::new(Reenter { on_wake, on_drop }))
    }

    /// A fresh list for the wakers to reach; what their removals returned, once done.
    fn with_list(f: impl FnOnce(&Waiters)) -> Vec<bool> {
        let list = std::rc::Rc::new(Waiters::default());
        LIST.with(|l| *l.borrow_mut() = (Some(list.clone()), Vec::new()));
        f(&list);
        LIST.with(|l| std::mem::take(&mut *l.borrow_mut())).1
    }

    #[test]
    fn a_wake_up_may_drop_another_waiter_or_queue_a_new_one() {
        // notify_all: the first waiter's wake-up drops the second (notified in the same call)
        // and the second's queues a new waiter, which waits for the next notification. A fresh
        // slab hands out keys 0, 1, 2...
        let removed = with_list(|list| {
            let a = list.push(&reenter(Act::Remove(1), Act::Nothing));
            let b = list.push(&reenter(Act::Push, Act::Nothing));
            assert_eq!((a, b), (0, 1));
            list.notify_all();
            let late = order(list);
            assert_eq!(late.len(), 1, "the waiter queued by a wake-up waits");
            assert!(!list.inner.borrow().slots[late[0]].notified);
            assert!(list.remove(a));
            list.remove(late[0]);
            assert!(list.inner.borrow().slots.is_empty());
        });
        // The second had been notified before the first's wake-up dropped it.
        assert_eq!(removed, [true]);
        // notify_pop: the wake-up drops the next waiter in line, not notified.
        let removed = with_list(|list| {
            let a = list.push(&reenter(Act::Remove(1), Act::Nothing));
            let b = list.push(Waker::noop());
            let c = list.push(Waker::noop());
            assert_eq!((a, b, c), (0, 1, 2));
            assert!(list.notify_pop());
            assert_eq!(order(list), [c]);
            assert!(list.remove(a) && !list.remove(c));
        });
        assert_eq!(removed, [false]);
    }

    #[test]
    fn a_dropped_waker_may_drop_another_waiter() {
        // The last clone of a waker is dropped by `remove` (the slot goes) and by `poll` (a
        // new waker replaces it): both after the list's borrow ends.
        let removed = with_list(|list| {
            let a = list.push(&reenter(Act::Nothing, Act::Remove(1)));
            let b = list.push(Waker::noop());
            let c = list.push(&reenter(Act::Nothing, Act::Remove(3)));
            let d = list.push(Waker::noop());
            assert_eq!((a, b, c, d), (0, 1, 2, 3));
            assert!(!list.remove(a)); // drops b too
            assert_eq!(order(list), [c, d]);
            assert!(!list.poll(c, Waker::noop())); // the replaced waker drops d
            assert_eq!(order(list), [c]);
            list.remove(c);
        });
        assert_eq!(removed, [false, false]);
    }

    // ---- the list against a model ----------------------------------------------------------

    /// Counts the wake-ups of one waker and, through its `Arc`, tells whether any clone of
    /// it is still held.
    struct Count(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn counter() -> std::sync::Arc<Count> {
        std::sync::Arc::new(Count(std::sync::atomic::AtomicUsize::new(0)))
    }

    fn wakes(c: &std::sync::Arc<Count>) -> usize {
        c.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    mod model {
        use super::*;
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};
        use std::collections::VecDeque;
        use std::sync::Arc;

        #[derive(Clone, Debug)]
        enum Op {
            Push,
            /// The n-th live waiter (mod their count) is dropped.
            Remove(usize),
            /// The n-th live waiter is polled, with its last waker or a new one.
            Poll(usize, bool),
            NotifyFirst,
            NotifyNextUnnotified,
            NotifyPop,
            NotifyAll,
        }

        fn ops() -> impl Strategy<Value = Vec<Op>> {
            let op = prop_oneof![
                4 => Just(Op::Push),
                3 => (0usize..8).prop_map(Op::Remove),
                3 => (0usize..8, any::<bool>()).prop_map(|(n, new)| Op::Poll(n, new)),
                1 => Just(Op::NotifyFirst),
                1 => Just(Op::NotifyNextUnnotified),
                1 => Just(Op::NotifyPop),
                1 => Just(Op::NotifyAll),
            ];
            prop::collection::vec(op, 1..100)
        }

        /// A registered waiter as the model sees it.
        struct Live {
            key: usize,
            notified: bool,
            /// The waker of its last poll (kept after a notification used it), and the
            /// wake-ups it must have had.
            waker: Option<Arc<Count>>,
            expected: usize,
        }

        /// What notifying a waiter does in the model: marked, its waker woken once.
        fn notify(w: &mut Live) {
            if !w.notified {
                w.notified = true;
                w.expected += 1;
            }
        }

        fn check(ops: &[Op]) -> Result<(), TestCaseError> {
            let waiters = Waiters::default();
            // The model: every live waiter, and the queue of their keys, front first.
            let mut live: Vec<Live> = Vec::new();
            let mut queue: VecDeque<usize> = VecDeque::new();
            // Every waker replaced or let go, with the wake-ups it must have had.
            let mut retired: Vec<(Arc<Count>, usize)> = Vec::new();
            let find = |live: &[Live], key: usize| live.iter().position(|w| w.key == key);
            for (step, op) in ops.iter().enumerate() {
                match *op {
                    Op::Push => {
                        let c = counter();
                        let key = waiters.push(&Waker::from(c.clone()));
                        prop_assert!(find(&live, key).is_none(), "{step}: key {key} in use");
                        live.push(Live {
                            key,
                            notified: false,
                            waker: Some(c),
                            expected: 0,
                        });
                        queue.push_back(key);
                    }
                    Op::Remove(n) if !live.is_empty() => {
                        let w = live.remove(n % live.len());
                        queue.retain(|&k| k != w.key);
                        prop_assert_eq!(waiters.remove(w.key), w.notified, "{}: remove", step);
                        if let Some(c) = w.waker {
                            retired.push((c, w.expected));
                        }
                    }
                    Op::Poll(n, new) if !live.is_empty() => {
                        let i = n % live.len();
                        let w = &mut live[i];
                        let c = match (&w.waker, new) {
                            (Some(c), false) => c.clone(),
                            _ => counter(),
                        };
                        let notified = waiters.poll(w.key, &Waker::from(c.clone()));
                        prop_assert_eq!(notified, w.notified, "{}: poll", step);
                        if !notified && !w.waker.as_ref().is_some_and(|old| Arc::ptr_eq(old, &c)) {
                            if let Some(old) = w.waker.replace(c) {
                                retired.push((old, w.expected));
                            }
                            w.expected = 0;
                        }
                    }
                    Op::NotifyFirst => {
                        if let Some(&key) = queue.front() {
                            let i = find(&live, key).unwrap();
                            notify(&mut live[i]);
                        }
                        waiters.notify_first();
                    }
                    Op::NotifyNextUnnotified => {
                        let next = queue
                            .iter()
                            .map(|&k| find(&live, k).unwrap())
                            .find(|&i| !live[i].notified);
                        if let Some(i) = next {
                            notify(&mut live[i]);
                        }
                        prop_assert_eq!(waiters.notify_next_unnotified(), next.is_some());
                    }
                    Op::NotifyPop => {
                        let front = queue.pop_front();
                        if let Some(key) = front {
                            let i = find(&live, key).unwrap();
                            notify(&mut live[i]);
                        }
                        prop_assert_eq!(waiters.notify_pop(), front.is_some());
                    }
                    Op::NotifyAll => {
                        for key in queue.drain(..) {
                            let i = find(&live, key).unwrap();
                            notify(&mut live[i]);
                        }
                        waiters.notify_all();
                    }
                    Op::Remove(_) | Op::Poll(..) => {}
                }
                // The list: order, both link directions, length, and each slot's flags.
                let keys: Vec<usize> = queue.iter().copied().collect();
                prop_assert_eq!(
                    order(&waiters),
                    keys.clone(),
                    "{}: order after {:?}",
                    step,
                    op
                );
                prop_assert_eq!(waiters.len(), keys.len());
                prop_assert_eq!(waiters.is_empty(), keys.is_empty());
                let inner = waiters.inner.borrow();
                prop_assert_eq!(inner.slots.len(), live.len(), "{}: slots", step);
                for w in &live {
                    let slot = &inner.slots[w.key];
                    prop_assert_eq!(slot.queued, keys.contains(&w.key), "{}: queued", step);
                    prop_assert_eq!(slot.notified, w.notified, "{}: notified", step);
                    // A notification takes the waker: the slot holds one exactly until then.
                    prop_assert_eq!(slot.waker.is_some(), !w.notified, "{}: waker", step);
                    if let Some(c) = &w.waker {
                        prop_assert_eq!(wakes(c), w.expected, "{}: wakes of {}", step, w.key);
                    }
                }
                drop(inner);
                for (c, expected) in &retired {
                    prop_assert_eq!(wakes(c), *expected, "{}: a replaced waker was woken", step);
                }
            }
            // Every waiter leaves; no clone of any waker is kept by the list.
            for w in live.drain(..) {
                waiters.remove(w.key);
                retired.extend(w.waker.map(|c| (c, w.expected)));
            }
            for (c, _) in &retired {
                prop_assert_eq!(Arc::strong_count(c), 1, "the list kept a waker");
            }
            Ok(())
        }

        proptest! {
            #![proptest_config(Config {
                cases: 1024,
                rng_seed: RngSeed::Fixed(0x003a_17e5),
                failure_persistence: None,
                ..Config::default()
            })]

            #[test]
            fn the_list_follows_a_deque_of_waiters(ops in ops()) {
                check(&ops)?;
            }
        }
    }
}
