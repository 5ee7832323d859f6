//! The ready queue: what `call_soon` appends to and what one loop iteration runs.
//!
//! Mirrors `BaseEventLoop._ready` in CPython `Lib/asyncio/base_events.py`. Ground rule (L3): an
//! iteration runs only as many entries as the queue held when its run phase began; whatever is
//! queued meanwhile waits for the next iteration, after another poll, so a callback that keeps
//! rescheduling itself cannot starve I/O or timers. One exception (D10): a task woken by an
//! I/O callback runs later in the same iteration (`LoopInner::io_woken`), once. Entries are
//! small values, not boxes: waking a task or delivering readiness pushes a key and allocates
//! nothing once the queue has grown.

use std::cell::RefCell;
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
    pub(crate) fn push(&self, r: Runnable) {
        self.queue.borrow_mut().push_back(r);
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
}
