//! Where a drained stream reader's buffer goes: a small per-loop pool, so that an idle
//! connection holds no read buffer and a busy one allocates nothing.
//!
//! A reader's buffer is needed only while bytes are in it (or while the transport reads into
//! it). When a read empties it, the reader gives the memory back to its loop's pool; the next
//! `get_buffer` (of this reader or of any other on the loop) takes it again. In a steady-state
//! echo that is one pop and one push per message, no allocation; 10 000 connections waiting for
//! their next line hold no buffer at all, where holding one each would cost 512 B or more
//! apiece.
//!
//! The pool keeps at most [`KEEP`] buffers, of at most [`LARGEST`] bytes each: a burst of many
//! connections does not leave a large pool behind, and a reader that grew its buffer for bulk
//! reads keeps it (its read size decays first, then its buffer shrinks, then it comes here).
//!
//! A reader finds the pool through the loop of the transport it was given; a reader without a
//! transport (one fed by hand with `feed_data`) simply keeps its buffer.
//! [`LoopStats`](crate::LoopStats) reports the pool's two counters.

use std::cell::{Cell, RefCell};

/// Buffers kept for reuse at most.
pub(crate) const KEEP: usize = 64;
/// The largest buffer kept; larger ones are freed when given back.
pub(crate) const LARGEST: usize = 16 * 1024;

/// One loop's spare reader buffers, and how many its readers hold.
pub(crate) struct BufferPool {
    /// Its capacity is reserved up front: it never holds more than `KEEP`, so no push
    /// allocates.
    free: RefCell<Vec<Vec<u8>>>,
    held: Cell<usize>,
}

impl Default for BufferPool {
    fn default() -> Self {
        BufferPool {
            free: RefCell::new(Vec::with_capacity(KEEP)),
            held: Cell::new(0),
        }
    }
}

impl BufferPool {
    /// A zero-filled buffer of at least `want` bytes (its length is its capacity), from the
    /// pool when one is there. Counts as held until [`give_back`](Self::give_back).
    #[inline]
    pub(crate) fn take(&self, want: usize) -> Vec<u8> {
        self.held.set(self.held.get() + 1);
        let pooled = self.free.try_borrow_mut().ok().and_then(|mut f| f.pop());
        match pooled {
            Some(buf) if buf.len() >= want => buf,
            other => grow(other.unwrap_or_default(), want),
        }
    }

    /// Ends the hold of a buffer from [`take`](Self::take): keeps it for the next taker, or
    /// frees it.
    #[inline]
    pub(crate) fn give_back(&self, buf: Vec<u8>) {
        self.held.set(self.held.get().saturating_sub(1));
        if buf.len() > LARGEST {
            return;
        }
        if let Ok(mut free) = self.free.try_borrow_mut() {
            if free.len() < KEEP {
                free.push(buf);
            }
        }
    }

    /// Ends the hold of a buffer from [`take`](Self::take) that went elsewhere (a reader at
    /// end of input hands its buffer out with the bytes).
    pub(crate) fn forget(&self) {
        self.held.set(self.held.get().saturating_sub(1));
    }

    /// Counts a buffer that a reader had before it knew its loop as taken from here.
    pub(crate) fn adopt(&self) {
        self.held.set(self.held.get() + 1);
    }

    /// Readers' buffers taken and not given back.
    pub(crate) fn held(&self) -> usize {
        self.held.get()
    }

    /// Buffers waiting for reuse.
    pub(crate) fn pooled(&self) -> usize {
        self.free.try_borrow().map_or(0, |f| f.len())
    }
}

/// `buf` grown to at least `want` bytes, zero-filled, using all the capacity it got.
#[cold]
fn grow(mut buf: Vec<u8>, want: usize) -> Vec<u8> {
    buf.resize(want, 0);
    let capacity = buf.capacity();
    buf.resize(capacity, 0);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_back_buffer_is_taken_again_without_allocating() {
        let pool = BufferPool::default();
        let a = pool.take(512);
        assert!(a.len() >= 512);
        assert_eq!((pool.held(), pool.pooled()), (1, 0));
        let ptr = a.as_ptr();
        pool.give_back(a);
        assert_eq!((pool.held(), pool.pooled()), (0, 1));
        let b = pool.take(100);
        assert_eq!(b.as_ptr(), ptr, "the pooled buffer comes back");
        pool.give_back(b);
        assert_eq!(pool.pooled(), 1);
    }

    #[test]
    fn large_buffers_and_a_full_pool_free_memory() {
        let pool = BufferPool::default();
        pool.give_back(pool.take(LARGEST + 1));
        assert_eq!((pool.held(), pool.pooled()), (0, 0));
        let bufs: Vec<_> = (0..KEEP + 8).map(|_| pool.take(64)).collect();
        assert_eq!(pool.held(), KEEP + 8);
        for b in bufs {
            pool.give_back(b);
        }
        assert_eq!((pool.held(), pool.pooled()), (0, KEEP));
    }

    #[test]
    fn a_pooled_buffer_too_small_is_grown() {
        let pool = BufferPool::default();
        pool.give_back(pool.take(64));
        let b = pool.take(4096);
        assert!(b.len() >= 4096);
    }
}
