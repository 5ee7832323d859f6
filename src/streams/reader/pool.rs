//! Where a drained reader's buffer goes: a small per-thread pool, so that an idle connection
//! holds no read buffer and a busy one allocates nothing.
//!
//! A reader's buffer is needed only while bytes are in it (or while the transport reads into
//! it). When a read empties it, the reader gives the memory back here; the next `get_buffer`
//! (of this reader or of any other on the thread) takes it again. In a steady-state echo that
//! is one pop and one push per message, no allocation; 10 000 connections waiting for their
//! next line hold no buffer at all, where holding one each would cost 512 B or more apiece.
//!
//! The pool keeps at most [`KEEP`] buffers, of at most [`LARGEST`] bytes each: a burst of many
//! connections does not leave a large pool behind, and a reader that grew its buffer for bulk
//! reads keeps it (its read size decays first, then its buffer shrinks, then it comes here).
//!
//! The pool is per thread, and a loop runs on one thread: in practice, one pool per loop.
//! [`LoopStats`](crate::LoopStats) reports its two counters.

use std::cell::{Cell, RefCell};

/// Buffers kept for reuse at most.
pub(crate) const KEEP: usize = 64;
/// The largest buffer kept; larger ones are freed when given back.
pub(crate) const LARGEST: usize = 16 * 1024;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static HELD: Cell<usize> = const { Cell::new(0) };
}

/// A zero-filled buffer of at least `want` bytes (its length is its capacity), from the pool
/// when one is there. Counts as held until [`give_back`].
pub(crate) fn take(want: usize) -> Vec<u8> {
    HELD.with(|h| h.set(h.get() + 1));
    let pooled = FREE.with(|f| f.try_borrow_mut().ok().and_then(|mut f| f.pop()));
    let mut buf = pooled.unwrap_or_default();
    if buf.len() < want {
        buf.resize(want, 0);
        let capacity = buf.capacity();
        buf.resize(capacity, 0);
    }
    buf
}

/// Ends the hold of a buffer from [`take`]: keeps it for the next taker, or frees it.
pub(crate) fn give_back(buf: Vec<u8>) {
    HELD.with(|h| h.set(h.get().saturating_sub(1)));
    if buf.len() > LARGEST {
        return;
    }
    FREE.with(|f| {
        if let Ok(mut f) = f.try_borrow_mut() {
            if f.len() < KEEP {
                f.push(buf);
            }
        }
    });
}

/// Readers' buffers taken and not given back, on this thread.
pub(crate) fn held() -> usize {
    HELD.with(Cell::get)
}

/// Buffers waiting in this thread's pool.
pub(crate) fn pooled() -> usize {
    FREE.with(|f| f.try_borrow().map_or(0, |f| f.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_buffer_is_taken_again_without_allocating() {
        let before = (held(), pooled());
        let a = take(512);
        assert!(a.len() >= 512);
        assert_eq!(held(), before.0 + 1);
        let ptr = a.as_ptr();
        give_back(a);
        assert_eq!(held(), before.0);
        let b = take(100);
        assert_eq!(b.as_ptr(), ptr, "the pooled buffer comes back");
        give_back(b);
        assert_eq!(pooled(), before.1.max(1));
    }

    #[test]
    fn large_buffers_and_a_full_pool_free_memory() {
        give_back(take(LARGEST + 1));
        let start = pooled();
        assert!(start <= KEEP);
        let bufs: Vec<_> = (0..KEEP + 8).map(|_| take(64)).collect();
        for b in bufs {
            give_back(b);
        }
        assert_eq!(pooled(), KEEP);
    }
}
