//! Calls on a stream handle made while its user holds the stream's protocol (the `RefCell`
//! that `get_protocol()` returns, borrowed mutably, across an `.await` or around the call):
//! the setters and feeds of [`StreamReader`](super::StreamReader) and
//! [`StreamWriter`](super::StreamWriter) that need the core. No CPython counterpart (Python
//! has no borrows). Ground rules: a call that finds the core held is queued here, never
//! dropped, and never panics; the queue of one core is applied in call order, by one retry
//! on the loop ([`when_cell_free`]: in the iteration after the borrow ends; one more each
//! time an applied call leaves the core held again) or by the next call on that core's
//! handles that finds it free, whichever comes first, so that a later
//! call never overtakes an earlier one; a transport's delivery that waited for the same
//! borrow applies them first too (`ProtocolSlot::apply_held_calls`), and the loop runs a
//! freed retry ahead of its poll's I/O, so bytes fed while held come before the transport's.
//! Cold: nothing here runs unless a protocol is held, and the handles pay one thread-local
//! length test per setter call (none per message).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::rc::{Rc, Weak};
use std::time::Duration;

use super::core::StreamCore;
use crate::event_loop::LoopHandle;
use crate::protocol::{when_cell_free, Hold, Need};

/// One call queued while the core was held, with what it needs to run later.
pub(super) enum Op {
    /// `StreamReader::feed_data`: the bytes, copied (the caller's slice is gone by then).
    Feed(Vec<u8>),
    /// `StreamReader::feed_eof`.
    Eof,
    /// `StreamReader::set_exception`.
    Exception(io::Error),
    /// `StreamReader::set_read_timeout`, on the loop that was running at the call.
    ReadTimeout(LoopHandle, Option<Duration>),
    /// `StreamWriter::set_drain_timeout`, on the writer's loop.
    DrainTimeout(LoopHandle, Option<Duration>),
    /// `StreamWriter::set_idle_timeout`, on the writer's loop, with the activity record the
    /// writer already counts its writes in (the deadlines adopt it).
    IdleTimeout(LoopHandle, Option<Duration>, Rc<super::deadline::Activity>),
}

/// The queued calls of one core, oldest first. Invariant: `ops` is not empty.
struct Queued {
    core: Weak<RefCell<StreamCore>>,
    ops: VecDeque<Op>,
}

thread_local! {
    /// [`apply_for_cell`], once [`defer`] has queued a call on this thread: a transport's
    /// retry reaches it through here (`ProtocolSlot::apply_held_calls`), so that a program
    /// that never queues one does not link the setters it applies (19 KB of an echo client).
    static APPLY: std::cell::Cell<Option<fn(*const ())>> = const { std::cell::Cell::new(None) };

    /// Every core with calls queued (cores are single-threaded, as their loops): empty but
    /// while a user holds a stream's protocol across such a call.
    static QUEUED: RefCell<Vec<Queued>> = const { RefCell::new(Vec::new()) };
}

/// The core, borrowed to apply a call now: `None` while it is held elsewhere (queue the call
/// with [`defer`]), or while calls queued earlier still wait for it to be free. Applies those
/// first when it is free.
#[inline]
pub(super) fn free_core(
    core: &Rc<RefCell<StreamCore>>,
) -> Option<std::cell::RefMut<'_, StreamCore>> {
    if any_queued() {
        apply_queued(core);
    }
    core.try_borrow_mut().ok()
}

/// Queues `op` behind the calls already queued for `core`; the first one also files the retry
/// on `lp` that applies them once the borrow ends: without one (a reader, which cannot read
/// its transport's loop now, called outside a running loop), on every open loop of this
/// thread, the first to run applies them. Transport `id` names the stream in a long hold's
/// warning.
#[cold]
#[inline(never)]
pub(super) fn defer(core: &Rc<RefCell<StreamCore>>, op: Op, lp: Option<LoopHandle>, id: u64) {
    let mut gone = Vec::new();
    let first = QUEUED.with(|q| {
        let mut q = q.borrow_mut();
        // Entries of cores that went are dropped after the borrow: their ops hold loops.
        let live;
        (live, gone) = std::mem::take(&mut *q)
            .into_iter()
            .partition(|e| e.core.strong_count() > 0);
        *q = live;
        match q
            .iter_mut()
            .find(|e| std::ptr::eq(e.core.as_ptr(), Rc::as_ptr(core)))
        {
            Some(e) => {
                e.ops.push_back(op);
                false
            }
            None => {
                let core = Rc::downgrade(core);
                q.push(Queued {
                    core,
                    ops: VecDeque::from([op]),
                });
                true
            }
        }
    });
    drop(gone);
    APPLY.with(|a| a.set(Some(apply_for_cell)));
    if !first {
        return; // the retry filed with the first one applies this one too
    }
    file_retry(core, lp, id);
}

/// Files the retry that applies the calls queued for `core` once its borrow ends, on `lp`,
/// or on every open loop of this thread without one (the first to run applies them).
#[cold]
#[inline(never)]
fn file_retry(core: &Rc<RefCell<StreamCore>>, lp: Option<LoopHandle>, id: u64) {
    let lps = match lp {
        Some(lp) => vec![lp],
        None => crate::event_loop::loops_here(),
    };
    for lp in lps {
        let prune = PruneOnDrop;
        let apply = Box::new(move |cell: &RefCell<StreamCore>| {
            let _prune = &prune;
            apply_for_cell(cell_addr(cell));
        });
        when_cell_free(
            lp,
            id,
            Rc::downgrade(core),
            Need::Exclusive,
            apply,
            Hold::new(),
        );
    }
}

/// Held by each retry [`defer`] files: dropped (run, or discarded because the core went or
/// the loop closed), it takes the entries of cores that have gone out of the queue, with the
/// loop handles and bytes their calls kept; else they stayed until the thread's next
/// deferred call, and every setter on the thread went the slow way meanwhile.
struct PruneOnDrop;

impl Drop for PruneOnDrop {
    fn drop(&mut self) {
        let gone = QUEUED.try_with(|q| {
            let mut q = q.try_borrow_mut().ok()?;
            let (live, gone) = std::mem::take(&mut *q)
                .into_iter()
                .partition(|e| e.core.strong_count() > 0);
            *q = live;
            Some(gone)
        });
        drop::<Option<Vec<Queued>>>(gone.ok().flatten()); // after the borrow: ops drop loops
    }
}

/// The address that names a protocol cell here, whatever type it is seen through (a
/// `RefCell<StreamCore>` or a transport's `RefCell<dyn Protocol>` of the same allocation).
#[inline]
pub(crate) fn cell_addr<T: ?Sized>(cell: *const RefCell<T>) -> *const () {
    cell.cast::<()>()
}

/// Applies the calls queued for the core at `cell` (see [`cell_addr`]), if any and if it is
/// free: a transport about to call its protocol after a hold (its retry) calls this first,
/// so that the calls made while held come before the transport's own delayed delivery (the
/// two retries run in an order that depends on timing).
#[cold]
#[inline(never)]
fn apply_for_cell(cell: *const ()) {
    let found = QUEUED.with(|q| {
        let q = q.try_borrow().ok()?;
        q.iter()
            .find(|e| cell_addr(e.core.as_ptr()) == cell)
            .and_then(|e| e.core.upgrade())
    });
    if let Some(core) = found {
        apply_queued(&core);
    }
}

/// [`apply_for_cell`] if this thread has ever queued a call, else `None` (nothing to apply).
#[inline]
pub(crate) fn applier() -> Option<fn(*const ())> {
    APPLY.with(|a| a.get())
}

/// Whether any call waits in the queue of this thread (one thread-local length test).
#[inline]
pub(crate) fn any_queued() -> bool {
    QUEUED.with(|q| q.try_borrow().map_or(true, |q| !q.is_empty()))
}

/// The latest queued call `pick` answers for, for a getter while the core is held.
#[cold]
#[inline(never)]
pub(super) fn latest<R>(
    core: &Rc<RefCell<StreamCore>>,
    pick: impl Fn(&Op) -> Option<R>,
) -> Option<R> {
    QUEUED.with(|q| {
        let q = q.try_borrow().ok()?;
        let e = q
            .iter()
            .find(|e| std::ptr::eq(e.core.as_ptr(), Rc::as_ptr(core)))?;
        e.ops.iter().rev().find_map(pick)
    })
}

/// The feeds queued for `core` as if they had run on a reader whose EOF flag is `eof`: the
/// bytes they append (none once at EOF: refused) and the EOF flag after them. For a getter
/// while the core is held shared: the reader can be read then, not changed.
#[cold]
#[inline(never)]
pub(super) fn queued_feeds(core: &Rc<RefCell<StreamCore>>, mut eof: bool) -> (usize, bool) {
    let mut fed = 0;
    QUEUED.with(|q| {
        let Ok(q) = q.try_borrow() else { return };
        let Some(e) = q
            .iter()
            .find(|e| std::ptr::eq(e.core.as_ptr(), Rc::as_ptr(core)))
        else {
            return;
        };
        for op in &e.ops {
            match op {
                Op::Feed(data) if !eof => fed += data.len(),
                Op::Eof => eof = true,
                _ => {}
            }
        }
    });
    (fed, eof)
}

/// Applies the calls queued for `core`, in order, while it is free; else leaves them.
/// One at a time, the rest left in the queue while it runs: a setter on this core that it
/// sets off (another executor's waker, woken inline by a feed, that feeds or sets again)
/// finds them still queued and applies them first, rather than overtaking them.
/// An op may leave the core held when it returns (a waker it woke inline keeps the protocol
/// borrowed, or polls a future that does): the rest then get a retry of their own, since
/// the one that called this may have been the core's only one, and a later call queued on
/// the same core files none (it finds calls queued); else they waited for the next call on
/// the stream's handles, and a read waiting for a queued EOF hung.
#[cold]
#[inline(never)]
fn apply_queued(core: &Rc<RefCell<StreamCore>>) {
    let mut ran = false;
    loop {
        if core.try_borrow_mut().is_err() {
            if ran && has_queued(core) {
                file_retry(core, crate::event_loop::current_loop(), 0);
            }
            return;
        }
        let Some(op) = take_first(core) else {
            return;
        };
        ran = true;
        // No borrow of the queue while it runs: an op wakes a task, which may call again.
        match op {
            Op::Feed(data) => super::reader::feed_data_now(core, &data),
            Op::Eof => super::reader::feed_eof_now(core),
            Op::Exception(e) => super::reader::set_exception_now(core, &e),
            Op::ReadTimeout(lp, d) => super::reader::set_read_timeout_now(core, &lp, d),
            Op::DrainTimeout(lp, d) => super::writer::set_drain_timeout_now(core, &lp, d),
            Op::IdleTimeout(lp, d, activity) => {
                super::writer::set_idle_timeout_now(core, &lp, d, Some(&activity));
            }
        }
    }
}

/// Whether calls wait in the queue for `core`.
fn has_queued(core: &Rc<RefCell<StreamCore>>) -> bool {
    QUEUED.with(|q| {
        q.try_borrow().is_ok_and(|q| {
            q.iter()
                .any(|e| std::ptr::eq(e.core.as_ptr(), Rc::as_ptr(core)))
        })
    })
}

/// The oldest call queued for `core`, out of the queue (with its entry, if it was the last).
fn take_first(core: &Rc<RefCell<StreamCore>>) -> Option<Op> {
    QUEUED.with(|q| {
        let mut q = q.try_borrow_mut().ok()?;
        let at = q
            .iter()
            .position(|e| std::ptr::eq(e.core.as_ptr(), Rc::as_ptr(core)))?;
        let op = q[at].ops.pop_front();
        if q[at].ops.is_empty() {
            q.swap_remove(at);
        }
        op
    })
}

#[cfg(test)]
mod tests {
    use super::QUEUED;
    use std::time::Duration;

    fn queued() -> usize {
        QUEUED.with(|q| q.borrow().len())
    }

    thread_local! {
        /// The reader [`FeedsC`] feeds when woken.
        static FED_BY_WAKER: std::cell::RefCell<Option<std::rc::Rc<crate::StreamReader>>> =
            const { std::cell::RefCell::new(None) };
    }

    /// Another executor's waker that, woken, feeds `c` to [`FED_BY_WAKER`] at once (inline).
    struct FeedsC;

    impl std::task::Wake for FeedsC {
        fn wake(self: std::sync::Arc<Self>) {
            if let Some(reader) = FED_BY_WAKER.with(|r| r.borrow_mut().take()) {
                reader.feed_data(b"c");
            }
        }
    }

    /// Checked by reverting: the queue was taken whole before its calls ran, so `c`, fed by
    /// the waker that `a` woke, found nothing queued and went ahead of `b` (`acb`).
    #[test]
    fn a_feed_from_a_waker_woken_inline_comes_after_the_feeds_still_queued() {
        use std::future::Future;
        let el = crate::EventLoop::new().unwrap();
        let reader = std::rc::Rc::new(crate::StreamReader::new());
        let waker = std::task::Waker::from(std::sync::Arc::new(FeedsC));
        let mut read = Box::pin(reader.read(100));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(read.as_mut().poll(&mut cx).is_pending(), "nothing fed yet");
        FED_BY_WAKER.with(|r| *r.borrow_mut() = Some(reader.clone()));
        let held = reader.core.borrow_mut();
        reader.feed_data(b"a");
        reader.feed_data(b"b");
        drop(held);
        el.run_once(Some(Duration::ZERO)).unwrap(); // the retry applies them
        assert_eq!(queued(), 0);
        let got = read.as_mut().poll(&mut cx);
        assert!(
            matches!(&got, std::task::Poll::Ready(Ok(b)) if b == b"abc"),
            "in call order: {got:?}"
        );
        drop(read);
        el.close().unwrap();
    }

    thread_local! {
        /// What [`HoldsCore`] polls when woken: a future that borrows a core and keeps the
        /// borrow while it waits (a user's task holding the protocol across an `.await`).
        static HOLDER: std::cell::RefCell<Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>>> =
            const { std::cell::RefCell::new(None) };
    }

    /// Another executor's waker that, woken, polls [`HOLDER`] at once (inline): the core
    /// stays held when the wake-up returns.
    struct HoldsCore;

    impl std::task::Wake for HoldsCore {
        fn wake(self: std::sync::Arc<Self>) {
            HOLDER.with(|h| {
                if let Some(f) = h.borrow_mut().as_mut() {
                    let waker = std::task::Waker::noop();
                    let _ = f.as_mut().poll(&mut std::task::Context::from_waker(waker));
                }
            });
        }
    }

    /// Checked by reverting: the feed woke a waker that held the core as it returned, the
    /// loop of queued calls stopped there, and the EOF queued behind the feed had no retry
    /// left (the feed's had run): the read waiting for the EOF waited forever.
    #[test]
    #[allow(clippy::await_holding_refcell_ref)] // the hold across an `.await` is the case
    fn an_eof_queued_behind_a_feed_whose_wake_up_holds_the_core_is_applied_once_free() {
        use std::future::Future;
        use std::task::Poll;
        let el = crate::EventLoop::new().unwrap();
        let reader = crate::StreamReader::new();
        let waker = std::task::Waker::from(std::sync::Arc::new(HoldsCore));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut first = Box::pin(reader.read(100));
        assert!(first.as_mut().poll(&mut cx).is_pending(), "nothing fed yet");
        let core = reader.core.clone();
        HOLDER.with(|h| {
            *h.borrow_mut() = Some(Box::pin(async move {
                let _held = core.borrow_mut();
                std::future::pending::<()>().await;
            }));
        });
        let held = reader.core.borrow_mut();
        reader.feed_data(b"a");
        reader.feed_eof();
        drop(held);
        el.run_once(Some(Duration::ZERO)).unwrap(); // the feed wakes: the core is held again
        assert!(
            reader.core.try_borrow_mut().is_err(),
            "held by the woken waker"
        );
        assert_eq!(queued(), 1, "the EOF waits");
        HOLDER.with(|h| h.borrow_mut().take()); // the hold ends
        for _ in 0..10 {
            el.run_once(Some(Duration::ZERO)).unwrap();
        }
        assert_eq!(queued(), 0, "applied once free");
        assert!(matches!(first.as_mut().poll(&mut cx), Poll::Ready(Ok(b)) if b == b"a"));
        drop(first);
        let mut rest = Box::pin(reader.read(100));
        let got = rest.as_mut().poll(&mut cx);
        assert!(
            matches!(&got, Poll::Ready(Ok(b)) if b.is_empty()),
            "S17: at EOF, at once: {got:?}"
        );
        drop(rest);
        el.close().unwrap();
    }

    /// A reader dropped while calls wait for its held core: the queue keeps nothing of it
    /// once its retry runs, or once the loop closes without running it (checked by
    /// reverting: one entry, with its bytes, stayed until the thread's next deferred call).
    #[test]
    fn a_core_dropped_with_calls_queued_leaves_nothing_behind() {
        for close in [false, true] {
            let el = crate::EventLoop::new().unwrap();
            let reader = crate::StreamReader::new();
            let core = reader.core.clone();
            let held = core.borrow_mut();
            reader.feed_data(b"kept aside"); // no running loop: a retry on each open one
            assert_eq!(queued(), 1);
            drop(held);
            drop(reader);
            drop(core);
            if close {
                el.close().unwrap();
            } else {
                el.run_once(Some(Duration::ZERO)).unwrap();
            }
            assert_eq!(queued(), 0, "close: {close}");
        }
    }
}
