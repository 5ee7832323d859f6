//! The ready queue: what `call_soon` appends to and what one loop iteration runs.
//!
//! Mirrors `BaseEventLoop._ready` in CPython `Lib/asyncio/base_events.py`. Ground rule (L3): an
//! iteration runs only as many entries as the queue held when its run phase began; whatever is
//! queued meanwhile waits for the next iteration, after another poll, so a callback that keeps
//! rescheduling itself cannot starve I/O or timers. One exception (D10): a task woken by an
//! I/O callback runs later in the same iteration (`LoopInner::io_woken`), once. Entries are
//! small values, not boxes: waking a task or delivering readiness pushes a key and allocates
//! nothing once the queue has grown.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::handle::Callback;
use super::io::IoEvent;
use crate::slots::SlotKey;

/// One unit of work for the run phase.
pub(crate) enum Runnable {
    /// A `call_soon` callback or a due timer's callback.
    Callback(Rc<dyn Callback>),
    /// Poll this task once.
    Task(SlotKey),
    /// A due timer of a sleeping future: wakes it, so the task it wakes runs in the next
    /// iteration, as the task step that Python's sleep-future callback schedules (L3, D10).
    Wake(std::task::Waker),
    /// Readiness for one registered I/O source.
    Io(IoEvent),
    /// Poll the future of `run_until_complete`, which lives on its caller's stack.
    Main,
}

/// FIFO of [`Runnable`]s. Borrowed only inside its own methods, never across a call out.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    queue: RefCell<VecDeque<Runnable>>,
}

impl ReadyQueue {
    /// Appends `r`. The growth is out of line (`grow`): with `VecDeque`'s own growth path
    /// inlined, the push was left a call in `read_ready`, whose plain-protocol path then
    /// spilled and reloaded registers per message (5 instructions, the Protocol echo).
    pub(crate) fn push(&self, r: Runnable) {
        let mut queue = self.queue.borrow_mut();
        if queue.len() == queue.capacity() {
            grow(&mut queue);
        }
        queue.push_back(r);
    }

    pub(crate) fn pop(&self) -> Option<Runnable> {
        self.queue.borrow_mut().pop_front()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.borrow().is_empty()
    }

    /// Takes every entry out, so the caller can drop them with no borrow held.
    pub(crate) fn take_all(&self) -> VecDeque<Runnable> {
        std::mem::take(&mut *self.queue.borrow_mut())
    }

    /// Removes a `run_until_complete` main entry its run left queued (the run has ended).
    /// `Main` holds nothing, so nothing is dropped under the borrow.
    #[cold]
    pub(crate) fn remove_main(&self) {
        self.queue
            .borrow_mut()
            .retain(|r| !matches!(r, Runnable::Main));
    }
}

/// Makes room for one more entry: rare once the queue has grown to the loop's load.
#[cold]
#[inline(never)]
fn grow(queue: &mut VecDeque<Runnable>) {
    queue.reserve(1);
}

/// What an I/O callback woke (D10): a task, or `run_until_complete`'s future.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Woken {
    Task(SlotKey),
    Main,
}

impl From<Woken> for Runnable {
    fn from(w: Woken) -> Runnable {
        match w {
            Woken::Task(key) => Runnable::Task(key),
            Woken::Main => Runnable::Main,
        }
    }
}

/// D10's list: what this iteration's I/O callbacks woke, in wake order, run once each after
/// the L3 snapshot. The first entry lives inline, since most iterations wake one task; the
/// rest go in a `Vec` read from `head` on and emptied once read to the end: a `Vec` push is
/// cheaper than a `VecDeque` one (no wrap-around), and the list is always drained whole.
/// `spilled` says whether `rest` holds unread entries, so that the one-entry case (push
/// inline, pop inline, test for empty) never borrows `rest`.
/// Invariants: `head <= rest.len()`; `spilled == (head < rest.len())`; while `spilled`, no
/// entry goes inline (it would jump the queue).
pub(crate) struct WokenList {
    first: Cell<Option<Woken>>,
    spilled: Cell<bool>,
    rest: RefCell<Vec<Woken>>,
    head: Cell<usize>,
}

impl Default for WokenList {
    /// Room for 64 wake-ups at once from the start (under 1 KiB per loop), so a burst across
    /// many connections does not grow the list in the middle of steady traffic.
    fn default() -> Self {
        WokenList {
            first: Cell::new(None),
            spilled: Cell::new(false),
            rest: RefCell::new(Vec::with_capacity(64)),
            head: Cell::new(0),
        }
    }
}

impl WokenList {
    #[inline(always)]
    pub(crate) fn push(&self, w: Woken) {
        if !self.spilled.get() && self.first.get().is_none() {
            self.first.set(Some(w));
        } else {
            self.rest.borrow_mut().push(w);
            self.spilled.set(true);
        }
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<Woken> {
        if let Some(w) = self.first.take() {
            return Some(w);
        }
        if !self.spilled.get() {
            return None;
        }
        let mut rest = self.rest.borrow_mut();
        let head = self.head.get();
        let w = rest.get(head).copied();
        if head + 1 >= rest.len() {
            // Read to the end: empty, ready to be refilled from the front.
            rest.clear();
            self.head.set(0);
            self.spilled.set(false);
        } else {
            self.head.set(head + 1);
        }
        w
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.get().is_none() && !self.spilled.get()
    }

    /// Removes `w` wherever it waits, keeping the order of the rest (cold: a run ending).
    #[cold]
    pub(crate) fn remove(&self, w: Woken) {
        let mut kept = Vec::new();
        while let Some(x) = self.pop() {
            if x != w {
                kept.push(x);
            }
        }
        for x in kept {
            self.push(x);
        }
    }

    pub(crate) fn clear(&self) {
        self.first.set(None);
        self.rest.borrow_mut().clear();
        self.head.set(0);
        self.spilled.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(i: u32) -> Woken {
        Woken::Task(SlotKey {
            index: i,
            generation: 0,
        })
    }

    #[test]
    fn d10_woken_list_is_fifo_across_the_inline_slot() {
        let l = WokenList::default();
        assert!(l.is_empty());
        for i in 0..3 {
            l.push(task(i));
        }
        assert_eq!(l.pop(), Some(task(0)));
        // The inline slot is free while older entries wait: a new one queues behind them.
        l.push(task(3));
        assert_eq!(l.pop(), Some(task(1)));
        assert_eq!(l.pop(), Some(task(2)));
        assert_eq!(l.pop(), Some(task(3)));
        assert_eq!(l.pop(), None);
        assert!(l.is_empty());
        l.push(Woken::Main);
        l.clear();
        assert!(l.is_empty());
    }

    #[test]
    fn d10_woken_list_reuses_its_storage_after_a_drain() {
        let l = WokenList::default();
        for round in 0..3 {
            for i in 0..100 {
                l.push(task(round * 100 + i));
            }
            // A push during the drain (an I/O callback run from a woken task) queues last.
            assert_eq!(l.pop(), Some(task(round * 100)));
            l.push(Woken::Main);
            for i in 1..100 {
                assert!(!l.is_empty());
                assert_eq!(l.pop(), Some(task(round * 100 + i)));
            }
            assert_eq!(l.pop(), Some(Woken::Main));
            assert!(l.is_empty());
            assert_eq!(l.pop(), None);
            assert_eq!((l.rest.borrow().len(), l.head.get()), (0, 0));
        }
    }

    #[test]
    fn removing_main_keeps_the_order_of_the_rest() {
        let l = WokenList::default();
        l.push(Woken::Main);
        l.push(task(1));
        l.push(Woken::Main);
        l.push(task(2));
        l.remove(Woken::Main);
        assert_eq!(l.pop(), Some(task(1)));
        assert_eq!(l.pop(), Some(task(2)));
        assert_eq!(l.pop(), None);
        let q = ReadyQueue::default();
        q.push(Runnable::Main);
        q.push(Runnable::Task(SlotKey {
            index: 7,
            generation: 0,
        }));
        q.remove_main();
        assert_eq!(q.len(), 1);
        assert!(matches!(q.pop(), Some(Runnable::Task(k)) if k.index == 7));
    }
}
