//! The task waker: a `RawWaker` whose data word *is* the task's name, so cloning and waking
//! allocate nothing and touch no reference count.
//!
//! Mirrors the `Task.__wakeup` → `call_soon(__step)` path of CPython `Lib/asyncio/tasks.py`
//! (L25). The data word packs `loop id | task generation | task slot index`
//! ([`LOOP_ID_BITS`], [`GEN_BITS`], [`INDEX_BITS`]: 16/16/32 on 64-bit targets). Waking:
//! - on the loop's own thread while it runs: push `Runnable::Task` on the ready queue (no lock);
//! - on its thread while it does not run: the same push, the loop found among this thread's;
//! - anywhere else: look the loop up in the registry and push through its thread-safe queue.
//!
//! A stale waker (task finished, slot reused, generation equal modulo 2^16) causes at most one
//! spurious poll, which every future must tolerate. This is the only file of the executor with
//! `unsafe`: building a `Waker` from a `RawWaker` whose vtable functions never dereference
//! their data pointer.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::task::{RawWaker, RawWakerVTable, Waker};

use crate::event_loop::exception::{panic_error, report, report_panic, ExceptionContext};
use crate::event_loop::handle::{Callback, CallbackState};
use crate::event_loop::threadsafe::{self, LoopId, Remote, LOOP_ID_BITS};
use crate::event_loop::{wake_idle_here, wake_on_current, LoopHandle, LoopInner};

pub(crate) const INDEX_BITS: u32 = usize::BITS / 2;
pub(crate) const GEN_BITS: u32 = usize::BITS - INDEX_BITS - LOOP_ID_BITS;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
const GEN_MASK: usize = (1 << GEN_BITS) - 1;

/// The slot index reserved for `run_until_complete`'s future.
pub(crate) const MAIN_INDEX: u32 = INDEX_MASK as u32;

/// The bits of a slot generation that a waker carries.
pub(crate) const GEN_MASK_U32: u32 = GEN_MASK as u32;

fn encode(lp: LoopId, index: u32, generation: u32) -> usize {
    debug_assert!(
        (index as usize) <= INDEX_MASK,
        "task index {index} needs more than {INDEX_BITS} bits"
    );
    (lp as usize) << (INDEX_BITS + GEN_BITS)
        | (generation as usize & GEN_MASK) << INDEX_BITS
        | index as usize & INDEX_MASK
}

fn decode(word: usize) -> (LoopId, u32, u32) {
    let lp = (word >> (INDEX_BITS + GEN_BITS)) as LoopId;
    let generation = ((word >> INDEX_BITS) & GEN_MASK) as u32;
    (lp, (word & INDEX_MASK) as u32, generation)
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop);

fn clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE)
}

fn wake(data: *const ()) {
    wake_by_ref(data)
}

fn wake_by_ref(data: *const ()) {
    let (lp, index, generation) = decode(data.addr());
    if !wake_on_current(lp, index, generation) && !wake_idle_here(lp, index, generation) {
        if let Some(shared) = threadsafe::lookup(lp) {
            // A closed loop refuses the push; its tasks are gone, so there is nothing to wake.
            shared.push(Remote::Wake { index, generation });
        }
    }
}

fn drop(_: *const ()) {}

/// Wakes `waker` from inside loop `lp`'s own run (a readiness callback of that loop):
/// when it is one of `lp`'s task wakers, the task is queued straight on `lp`, without
/// the vtable call, the thread-local look-up of the running loop and the no-op drop that
/// `waker.wake()` costs; any other waker is woken as usual. Same effect either way.
#[inline]
pub(crate) fn wake_in(lp: &LoopHandle, waker: Waker, what: &'static str) {
    if std::ptr::eq(waker.vtable(), &VTABLE) {
        let (id, index, generation) = decode(waker.data().addr());
        if id == lp.inner.id {
            lp.inner.schedule_task(index, generation);
            // Our drop does nothing: skip its call.
            std::mem::forget(waker);
            return;
        }
    }
    wake_caught(lp, waker, what);
}

/// Whether `waker` is one of our task wakers (whose wake-up only queues the task and never
/// panics), not another executor's.
#[inline]
pub(crate) fn is_task_waker(waker: &Waker) -> bool {
    std::ptr::eq(waker.vtable(), &VTABLE)
}

/// The task `waker` names, `(loop, slot index, generation bits)`, when it is one of ours.
pub(crate) fn named_task(waker: &Waker) -> Option<(LoopId, u32, u32)> {
    is_task_waker(waker).then(|| decode(waker.data().addr()))
}

/// Wakes `waker`, which may be another executor's (a future polled by hand inside a task),
/// from code the loop runs outside any callback's catch (I/O dispatch, a transport's
/// release): foreign code, so its panic is reported as a callback's is (`what` names it) and
/// the loop goes on, instead of unwinding out of the loop's run. An own task's waker is
/// woken as `waker.wake()` wakes it.
// Checklist: L18.
#[cold]
#[inline(never)]
pub(crate) fn wake_caught(lp: &LoopHandle, waker: Waker, what: &'static str) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
        report_panic(lp, &format!("Exception in callback {what}"), payload, None);
    }
}

/// Wakes `waker` (another executor's) from a callback of its own on `lp`, for a caller that
/// holds a borrow its code could run into (a protocol call): woken when that callback runs,
/// or as it is dropped unrun when the loop closes first (close drops its queue with no
/// borrow held), so the wake-up is late at worst, never lost. A panic is reported as
/// [`wake_caught`] reports it. A closed loop runs nothing more: woken at once then.
#[cold]
#[inline(never)]
pub(crate) fn wake_soon(lp: &LoopHandle, waker: Waker, what: &'static str) {
    if lp.is_closed() {
        wake_caught(lp, waker, what);
        return;
    }
    let queued = QueuedWake {
        waker: Cell::new(Some(waker)),
        state: CallbackState::new(what),
        lp: Rc::downgrade(&lp.inner),
    };
    let queued = lp.push_callback(Rc::new(queued));
    debug_assert!(
        queued.is_ok(),
        "an open loop refused a callback: {queued:?}"
    );
}

/// The callback [`wake_soon`] queues: its own [`Callback`] rather than a closure given to
/// `call_soon`, which would compile a callback cell for this one closure. Its run wakes the
/// waker, and the loop reports a panic there as any callback's, under `what`; its handle is
/// dropped at once, so nothing cancels it.
struct QueuedWake {
    /// The waker until it is woken. Invariant: taken only by `run` or `drop`.
    waker: Cell<Option<Waker>>,
    /// Never cancelled (nothing holds its handle), never a timer's. Its name is `what`, which
    /// names the wake-up in a panic's report (`Exception in callback <what>`).
    state: CallbackState,
    /// The loop it is queued on, whose handler hears of a panic as its close wakes it.
    lp: std::rc::Weak<LoopInner>,
}

impl Callback for QueuedWake {
    /// Never cancelled (see the type's docs): a take that is not a run leaves the waker.
    fn take(&self, run: bool) -> Option<Box<dyn std::error::Error>> {
        if !run {
            return None;
        }
        if let Some(w) = self.waker.take() {
            w.wake();
        }
        None
    }

    fn state(&self) -> &CallbackState {
        &self.state
    }
}

impl Drop for QueuedWake {
    /// Dropped unrun by the loop's close: woken now.
    fn drop(&mut self) {
        if let Some(w) = self.waker.take() {
            let lp = self.lp.upgrade().map(|inner| LoopHandle { inner });
            wake_unrun(lp.as_ref(), w, self.state.name);
        }
    }
}

/// Wakes a [`QueuedWake`] dropped by the loop's close (no loop runs): a panic must not unwind
/// out of close, so it is reported to the loop it was queued on (`lp`), as the close reports
/// the drops it makes ([`drop_contained`](crate::event_loop::exception::drop_contained));
/// to the default handler only once that loop is gone. Before, always the default handler.
// Checklist: L16, L18.
#[cold]
#[inline(never)]
fn wake_unrun(lp: Option<&LoopHandle>, w: Waker, what: &'static str) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| w.wake())) {
        let e = panic_error(lp, payload);
        let ctx = ExceptionContext::new(format!("Exception in callback {what}"));
        report(lp, &ctx.with_exception(Box::new(e)));
    }
}

/// The waker of task `index`/`generation` on loop `lp`.
pub(crate) fn task_waker(lp: LoopId, index: u32, generation: u32) -> Waker {
    let data = std::ptr::without_provenance::<()>(encode(lp, index, generation));
    let raw = RawWaker::new(data, &VTABLE);
    // SAFETY: `VTABLE`'s functions satisfy the `RawWaker` contract: `clone` returns a waker
    // with the same data and vtable, `wake`/`wake_by_ref` only decode the data word as an
    // integer (never dereferenced) and are thread-safe (they use the thread-local current loop
    // or the mutex-guarded registry), and `drop` has nothing to release.
    unsafe { Waker::from_raw(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        for (lp, index, generation) in [
            (0, 0, 0),
            (3, 77, 5),
            ((1 << LOOP_ID_BITS) - 1, MAIN_INDEX, GEN_MASK as u32),
        ] {
            assert_eq!(
                decode(encode(lp, index, generation)),
                (lp, index, generation)
            );
        }
        assert_eq!((GEN_MASK_U32 + 2) & GEN_MASK_U32, 1);
    }

    #[test]
    fn waker_is_send_sync_and_clone_is_equal() {
        fn assert_send_sync<T: Send + Sync>(_: &T) {}
        let w = task_waker(1, 2, 3);
        assert_send_sync(&w);
        assert!(w.will_wake(&w.clone()));
        assert!(!w.will_wake(&task_waker(1, 2, 4)));
    }
}
