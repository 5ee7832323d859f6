//! `ReaderState`: one reader's buffer, EOF flag, stored exception, transport flow control and
//! waiter, as plain `&mut self` methods (the logic of `StreamReader`, which only borrows the
//! connection's core to call them).
//!
//! Files: this one holds the state and its buffer (feeding, lending the tail to the
//! transport, consuming, flow control); `state/waiter.rs` the one waiter slot and the
//! read-through; `state/polls.rs` the read operations; `state/search.rs` the separator search.

use std::fmt;
use std::io;
use std::task::Waker;

use crate::constants::MAX_READ_SIZE;
use crate::error::{Error, SharedError};
use crate::event_loop::buffer_pool::LARGEST as POOLED_LARGEST;
use crate::event_loop::LoopHandle;
use crate::transport::Transport;

mod polls;
mod search;
mod waiter;

use waiter::TO_EOF;

/// The first size `get_buffer` offers, and the floor the read size decays to.
const MIN_READ_SIZE: usize = 512;
/// Consecutive small reads (under a quarter of the read size) after which the read size halves.
const DECAY_AFTER: u8 = 8;
/// After a decay, an empty buffer longer than this many read sizes gives its memory back.
const SHRINK_RATIO: usize = 4;

/// Bytes read after the user's `feed_eof`: CPython's `AssertionError('feed_data after
/// feed_eof')`, our wrong-state error, as the transport's `connection_lost` carries it.
#[cold]
pub(crate) fn feed_after_eof() -> io::Error {
    io::Error::other(Error::invalid_state("feed_data after feed_eof"))
}

// ───────────────────────────── ReaderState: the logic ─────────────────────────────

/// One reader's buffer, EOF flag, stored exception, transport flow control and waiter.
///
/// Buffer layout (`buf` is fully initialized, so its tail can be lent out as `&mut [u8]`):
/// ```text
///   buf:  [ consumed … | buffered bytes | free tail ……………… ]
///          0          start           end              buf.len()
/// ```
pub(crate) struct ReaderState {
    /// Longest line or chunk `readuntil` returns, separator excluded, and half the pause
    /// threshold (S11). Invariant: > 0.
    limit: usize,
    /// Storage: buffered bytes are `buf[start..end]`, the free tail `buf[end..]`. Empty (no
    /// memory) once a read has emptied it, unless it grew past the pool's largest size: the
    /// memory went back to the loop's buffer pool, and the next `get_buffer` takes some again.
    buf: Vec<u8>,
    /// The loop whose buffer pool lends `buf` (the transport's, from `set_transport`); `None`
    /// for a reader fed by hand, which keeps its buffer.
    pool: Option<LoopHandle>,
    /// Invariant: `start <= end`, and `start == end` only as `0 == 0` (an emptied buffer is
    /// rewound, so it offers its whole length and needs no compaction).
    start: usize,
    /// Invariant: `end <= buf.len()`.
    end: usize,
    /// Bytes ever removed from the front. A waiting `readuntil` keeps its scan offset relative
    /// to this count, so a concurrent read served from the buffer (S20) cannot make it skip a
    /// separator.
    consumed: u64,
    /// `feed_eof` was called (S17); nothing is appended afterwards.
    eof: bool,
    /// The transport brought bytes after a `feed_eof` of the user's, and the reader failed
    /// the connection for it (`refuse_after_eof`). Invariant: implies `eof`.
    data_after_eof: bool,
    /// The stored exception (S18), handed out afresh to every later read (S19).
    exception: Option<SharedError>,
    /// Given once by the protocol's `connection_made` (S12); paused and resumed by S14–S16.
    transport: Option<Transport>,
    /// We paused the transport (S14). Invariant: implies `transport.is_some()`.
    paused: bool,
    /// The id of the one read future waiting for data (S20), 0 for none; cleared when woken,
    /// except for a read to EOF, marked [`TO_EOF`], which bytes wake without ending its wait.
    /// It carries [`THROUGH`] while the future has a read-through parked on the transport
    /// (which then holds its waker, not `waiter_waker`) until its wait ends (`end_wait`):
    /// flags in spare bits rather than fields, as every word here is paid by every idle
    /// connection.
    waiter_id: u64,
    /// The waiter's waker. `None` while there is no waiter, while it is parked on the
    /// transport, or once a readable edge has taken the parked waker to wake it.
    waiter_waker: Option<Waker>,
    /// The last waiter id handed out. Ids start at 1; 0 marks a future that never waited.
    last_waiter_id: u64,
    /// The least `get_buffer` offers. Invariant: within `MIN_READ_SIZE..=MAX_READ_SIZE`.
    /// Doubles when a read fills the whole offered tail (more may wait in the kernel); halves
    /// after `DECAY_AFTER` small reads in a row.
    read_size: usize,
    /// Consecutive reads of under a quarter of `read_size`. Invariant: `< DECAY_AFTER`.
    small_reads: u8,
    /// The read size decayed since the buffer last shrank: the next `get_buffer` that finds the
    /// buffer empty releases memory beyond `SHRINK_RATIO` read sizes. Shrinking only after a
    /// decay, never on every read, keeps the steady state free of allocations. Also set for
    /// good by `feed_eof`: `get_buffer`'s one rare branch then lends its tail uncounted, so
    /// the hot path pays nothing for catching bytes after EOF.
    shrink_pending: bool,
    /// Length of the tail the last `get_buffer` lent out; 0 when none is outstanding.
    /// Invariant: `buffer_updated(n)` has `n <= offered`.
    offered: usize,
}

impl Drop for ReaderState {
    fn drop(&mut self) {
        if let (Some(lp), false) = (&self.pool, self.buf.is_empty()) {
            lp.inner
                .reader_pool
                .give_back(std::mem::take(&mut self.buf));
        }
    }
}

impl ReaderState {
    /// A reader with an empty buffer, no EOF, no exception, no transport, no waiter (S11).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`Limit cannot be <= 0`) when `limit` is 0.
    pub(crate) fn new(limit: usize) -> Result<Self, Error> {
        if limit == 0 {
            return Err(Error::invalid_argument("Limit cannot be <= 0"));
        }
        Ok(ReaderState {
            limit,
            buf: Vec::new(),
            pool: None,
            start: 0,
            end: 0,
            consumed: 0,
            eof: false,
            data_after_eof: false,
            exception: None,
            transport: None,
            paused: false,
            waiter_id: 0,
            waiter_waker: None,
            last_waiter_id: 0,
            read_size: MIN_READ_SIZE,
            small_reads: 0,
            shrink_pending: false,
            offered: 0,
        })
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The buffered bytes, oldest first.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    #[inline]
    pub(crate) fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// The transport given by `connection_made`, if any.
    pub(crate) fn transport(&self) -> Option<&Transport> {
        self.transport.as_ref()
    }

    /// After `StreamWriter::start_tls`: the upgrade resumed the transport this reader had
    /// paused (the handshake reads through it), so a reader still paused pauses it again;
    /// else the peer's data would pour in past the limit until the reader next resumes.
    // Checklist: S14, S54, T33.
    #[cfg(feature = "tls")]
    pub(crate) fn keep_paused(&self) {
        if let Some(transport) = self.transport.as_ref().filter(|_| self.paused) {
            transport.pause_reading();
        }
    }

    /// The loop of the reader's transport; `None` for a reader fed by hand.
    pub(crate) fn lp(&self) -> Option<&LoopHandle> {
        self.pool.as_ref()
    }

    /// Gives the reader its transport, for S14–S16 (S12: once, from `connection_made`).
    pub(crate) fn set_transport(&mut self, transport: Transport) {
        debug_assert!(self.transport.is_none(), "Transport already set");
        let lp = transport.get_loop();
        if !self.buf.is_empty() {
            lp.inner.reader_pool.adopt();
        }
        self.pool = Some(lp);
        self.transport = Some(transport);
    }

    /// Appends `data` and wakes the waiting read (S13); pauses the transport past 2 × limit
    /// (S14). Empty data does nothing. After EOF nothing is appended (`refuse_after_eof`).
    #[must_use = "wake the returned waker once the borrow of the core has ended"]
    pub(crate) fn feed_data(&mut self, data: &[u8]) -> Option<Waker> {
        self.feed_data_from(data, "Fatal error: StreamReader.feed_data() call failed.")
    }

    /// `feed_data` on behalf of the call that brought the bytes (the protocol's
    /// `data_received`, or the user's own `feed_data`): bytes after EOF are reported with
    /// `report`, the words naming that call's failure.
    #[must_use = "wake the returned waker once the borrow of the core has ended"]
    pub(crate) fn feed_data_from(&mut self, data: &[u8], report: &'static str) -> Option<Waker> {
        self.offered = 0; // the grammar forbids it, but a lent tail is stale once we write
        if data.is_empty() {
            return None;
        }
        if self.eof {
            return self.refuse_after_eof(data.len(), report);
        }
        self.end_parked_through();
        self.reserve_tail(data.len());
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
        self.data_appended()
    }

    /// Records EOF and wakes the waiting read (S17). Idempotent: once at EOF, no read waits,
    /// and a second EOF (the transport's `eof_received` after a read-through met the EOF,
    /// or `connection_lost` after `eof_received`) changes nothing and wakes no one.
    #[must_use = "wake the returned waker once the borrow of the core has ended"]
    pub(crate) fn feed_eof(&mut self) -> Option<Waker> {
        if self.eof {
            return None;
        }
        self.eof = true;
        self.shrink_pending = true; // `get_buffer` takes its rare branch from now on
        self.end_parked_through();
        self.wakeup_waiter()
    }

    /// `feed_eof` was called, bytes still buffered or not.
    pub(crate) fn eof(&self) -> bool {
        self.eof
    }

    /// EOF was fed and the buffer is empty (S17).
    pub(crate) fn at_eof(&self) -> bool {
        self.eof && self.start == self.end
    }

    /// Stores `exc`, replacing any earlier one, and wakes the waiting read, which then fails
    /// with it (S18).
    #[must_use = "wake the returned waker once the borrow of the core has ended"]
    pub(crate) fn set_exception(&mut self, exc: &io::Error) -> Option<Waker> {
        self.exception = Some(SharedError::from_io(exc));
        // Every read fails from now on: an empty buffer (lent to a socket read that then
        // failed) goes back to the pool instead of staying with a dead reader (issue #18),
        // a large one too (the pool frees it): no bulk read will want it again.
        if self.start == self.end {
            self.give_back_buffer();
        }
        self.end_parked_through();
        self.wakeup_waiter()
    }

    /// Whether an exception is set (no clone of it, as `exception` makes).
    #[inline]
    pub(crate) fn has_exception(&self) -> bool {
        self.exception.is_some()
    }

    /// The stored exception, as a fresh `Error::Io` each call (S18).
    #[inline]
    pub(crate) fn exception(&self) -> Option<Error> {
        self.exception.as_ref().map(SharedError::get)
    }

    #[inline]
    pub(super) fn check_exception(&self) -> Result<(), Error> {
        match &self.exception {
            Some(e) => Err(e.get()),
            None => Ok(()),
        }
    }

    /// `BufferedProtocol.get_buffer`: the free tail, at least `max(size_hint, read size)` long
    /// (never empty). Compacts before it allocates; the read size adapts in `buffer_updated`.
    #[inline]
    pub(crate) fn get_buffer(&mut self, size_hint: usize) -> &mut [u8] {
        let want = size_hint.max(self.read_size);
        if self.buf.is_empty() && self.pool.is_some() {
            // The common case of a reader that was waiting: no buffer, one from the pool.
            if let Some(lp) = &self.pool {
                self.buf = lp.inner.reader_pool.take(want);
            }
        } else {
            // With bytes still unread, "any size" (hint 0) takes a tail of at least half the
            // read size as it is: growing a 512 B buffer to 1 KiB because 64 B wait unread
            // would double an idle connection's buffer for nothing. An empty buffer grows to
            // the read size.
            let tail = self.buf.len() - self.end;
            let unread = self.end > self.start;
            if !(size_hint == 0 && unread && tail >= want / 2) {
                self.reserve_tail(want);
            }
        }
        if self.shrink_pending {
            if self.eof {
                // A transport still reading after the user's `feed_eof`: whatever it reads
                // now is refused in `buffer_updated` (S17).
                return self.lend_after_eof();
            }
            if self.start == self.end {
                // After reserve_tail: the buffer may have come from the pool, as large as it
                // was.
                self.shrink_pending = false;
                if self.buf.len() > SHRINK_RATIO * want {
                    self.buf.truncate(want);
                    self.buf.shrink_to_fit();
                }
            }
        }
        // The tail starts wherever `end` is: for an emptied large buffer (glibc's `mmap`), 16
        // bytes past a cache line, unlike the loop's shared read buffer (`read_window`).
        // Aligning it measured no gain (issue #12): a bulk `read_into` takes ~99 % of its bytes
        // by read-through, past this buffer, and for `read(n)`, whose bytes all land here, a
        // `recv` at that offset cost no more CPU than at a cache line.
        self.offered = self.buf.len() - self.end;
        &mut self.buf[self.end..]
    }

    /// `BufferedProtocol.buffer_updated`: the transport wrote `n` bytes at the start of the
    /// tail from `get_buffer`. Then as `feed_data`: wake the waiter, maybe pause (S13, S14).
    #[must_use = "wake the returned waker once the borrow of the core has ended"]
    #[inline]
    pub(crate) fn buffer_updated(&mut self, n: usize) -> Option<Waker> {
        let offered = std::mem::take(&mut self.offered);
        debug_assert!(
            n <= offered || self.eof,
            "buffer_updated({n}) exceeds the {offered} bytes get_buffer lent"
        );
        let got = n;
        let n = n.min(offered);
        if n == 0 {
            // After EOF the tail is lent uncounted: bytes read into it land here.
            return self
                .refuse_after_eof(got, "Fatal error: protocol.buffer_updated() call failed.");
        }
        self.adapt_read_size(n, offered);
        self.end += n;
        self.data_appended()
    }

    /// `get_buffer` at EOF: the tail as usual, but counted as 0 bytes lent, so the bytes a
    /// read puts there are never appended and reach `refuse_after_eof` instead.
    #[cold]
    #[inline(never)]
    fn lend_after_eof(&mut self) -> &mut [u8] {
        self.offered = 0;
        let end = self.end;
        &mut self.buf[end..]
    }

    /// Bytes from the transport after the user's own `feed_eof`: CPython's `feed_data` fails
    /// its assertion (`AssertionError('feed_data after feed_eof')`) inside `data_received`,
    /// and the transport's `_fatal_error` reports it and closes the connection with it. Here
    /// the same, in both build profiles and without a panic, the report (`report`) naming the
    /// call that brought the bytes (`protocol.data_received()` as in CPython, whose stream
    /// protocol is a plain one; `protocol.buffer_updated()` for our buffered reads; or the
    /// user's own `StreamReader.feed_data()`, which CPython fails in the caller, where we
    /// have no error to return): the report is queued (the
    /// exception handler is user code, not to run while the transport holds this reader),
    /// the transport aborted, and `connection_lost` then fails the reader and the writer with
    /// [`feed_after_eof`] (`StreamCore::connection_lost` asks `data_after_eof`). Once only.
    ///
    /// A reader without a transport (fed by hand) has no connection to fail: CPython's
    /// assertion reaches the caller of `feed_data` (and under `-O` the bytes are appended).
    /// Here the bytes are refused and the same error becomes the reader's exception at once,
    /// so that every later read fails with it rather than ending at an EOF the bytes
    /// contradict. Returns the waiter's waker, which at EOF is none.
    // Checklist: S17 (nothing is appended after EOF), S18, L80 (the error funnel).
    #[cold]
    #[inline(never)]
    fn refuse_after_eof(&mut self, got: usize, report: &'static str) -> Option<Waker> {
        if got == 0 || !self.eof || self.data_after_eof {
            return None;
        }
        self.data_after_eof = true;
        let Some(transport) = &self.transport else {
            return self.set_exception(&feed_after_eof());
        };
        let id = transport.id();
        let lp = transport.get_loop();
        let queued = lp.call_soon({
            let lp = lp.clone();
            move || {
                crate::event_loop::exception::report_error(
                    &lp,
                    report.to_string(),
                    Box::new(feed_after_eof()),
                    &crate::event_loop::exception::Origin {
                        transport: Some(id),
                        protocol: std::any::type_name::<crate::streams::core::StreamCore>(),
                    },
                );
            }
        });
        if queued.is_err() {
            crate::event_loop::debug::debug_log!("loop closed: feed_data after feed_eof");
        }
        transport.abort();
        None
    }

    /// Whether the transport brought bytes after the user's `feed_eof` (`refuse_after_eof`).
    pub(crate) fn data_after_eof(&self) -> bool {
        self.data_after_eof
    }

    /// Read-size policy: grow fast while reads fill the tail, shrink slowly when they stay small.
    #[inline]
    pub(super) fn adapt_read_size(&mut self, n: usize, offered: usize) {
        if n == offered {
            self.read_size = (self.read_size * 2).min(MAX_READ_SIZE);
            self.small_reads = 0;
        } else if n < self.read_size / 4 {
            self.small_reads += 1;
            if self.small_reads == DECAY_AFTER {
                self.small_reads = 0;
                if self.read_size > MIN_READ_SIZE {
                    self.read_size /= 2;
                    self.shrink_pending = true;
                }
            }
        } else {
            self.small_reads = 0;
        }
        debug_assert!(
            (MIN_READ_SIZE..=MAX_READ_SIZE).contains(&self.read_size),
            "read size {} left {MIN_READ_SIZE}..={MAX_READ_SIZE}",
            self.read_size
        );
    }

    /// Makes the free tail at least `want` long: by compacting when that is enough, else by
    /// growing (then using all the capacity the allocator gave).
    pub(super) fn reserve_tail(&mut self, want: usize) {
        if self.buf.len() - self.end >= want {
            return;
        }
        if self.buf.is_empty() {
            if let Some(lp) = &self.pool {
                // No buffer since the last read emptied it: take one (pooled, usually).
                self.buf = lp.inner.reader_pool.take(want);
                return;
            }
        }
        let len = self.end - self.start;
        if self.start > 0 {
            // Move the bytes to the front instead of allocating: the common case is a partial
            // line left behind by `readline`.
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = len;
            if self.buf.len() - self.end >= want {
                return;
            }
        }
        self.buf.resize(len + want, 0);
        let capacity = self.buf.capacity();
        self.buf.resize(capacity, 0);
    }

    /// What `feed_data` does after appending (streams.py order: wake, then pause).
    ///
    /// A read to EOF waiting (D1: it keeps the bytes in place until EOF) is woken, keeps its
    /// slot (its wait is for EOF, not for these bytes) and the transport is not paused:
    /// CPython's `read(-1)` takes each chunk out of the buffer as it comes (`read(limit)` in
    /// a loop), so its buffer does not stay past 2 × limit. Paused here, the transport would
    /// be resumed at the read's next wait (S16): two `epoll_ctl` calls per socket read.
    #[inline]
    pub(super) fn data_appended(&mut self) -> Option<Waker> {
        debug_assert!(
            self.start <= self.end && self.end <= self.buf.len(),
            "buffer indices {}..{} outside 0..{}",
            self.start,
            self.end,
            self.buf.len()
        );
        if self.waiter_id & TO_EOF != 0 {
            // Checklist: S14, S16, S25, D1.
            return self.waiter_waker.take(); // None once woken: it has yet to look again
        }
        let waker = self.wakeup_waiter();
        if !self.paused && self.buffered_len() > self.limit.saturating_mul(2) {
            if let Some(transport) = &self.transport {
                // Python forgets a transport whose pause_reading raises NotImplementedError;
                // ours cannot fail.
                transport.pause_reading();
                self.paused = true;
            }
        }
        waker
    }

    /// Removes the first `n` buffered bytes; then S15.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(
            n <= self.buffered_len(),
            "consume({n}) with {} bytes buffered",
            self.buffered_len()
        );
        self.start += n;
        self.consumed += n as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.release_buffer();
        }
        self.maybe_resume_transport();
    }

    /// Gives an emptied buffer of ordinary size back to the pool, so that a reader waiting
    /// for data holds none (a large one stays: bulk reads would otherwise allocate every time;
    /// it shrinks once the read size decays, then comes back here).
    #[inline]
    pub(super) fn release_buffer(&mut self) {
        debug_assert_eq!(self.start, self.end);
        if self.buf.is_empty() || self.buf.len() > POOLED_LARGEST {
            return;
        }
        if let Some(lp) = &self.pool {
            lp.inner
                .reader_pool
                .give_back(std::mem::take(&mut self.buf));
            // A tail lent by a `get_buffer` whose read found nothing is gone with it.
            self.offered = 0;
        }
    }

    /// An empty buffer that will not be read into again goes back to the pool whatever its
    /// size (one too large to keep is freed there): unlike `release_buffer`, nothing is kept
    /// for bulk reads to come. A reader with no pool keeps it, as it keeps every buffer.
    #[cold]
    fn give_back_buffer(&mut self) {
        debug_assert_eq!(self.start, self.end);
        if self.buf.is_empty() {
            return;
        }
        if let Some(lp) = &self.pool {
            lp.inner
                .reader_pool
                .give_back(std::mem::take(&mut self.buf));
            (self.start, self.end, self.offered) = (0, 0, 0);
        }
    }

    /// The first `n` buffered bytes, removed from the buffer.
    pub(super) fn take_front(&mut self, n: usize) -> Vec<u8> {
        let out = self.buffered()[..n].to_vec();
        self.consume(n);
        out
    }

    /// Everything buffered, at EOF (`read(-1)`'s end, D1: it waited with the bytes in place;
    /// the `partial` of `readexactly` and `readuntil`, S34, S38).
    /// Nothing is appended after EOF, so a buffer too large for the pool, which `consume`
    /// would keep for later reads, is handed out itself: no copy of a body that may be huge,
    /// and no memory of its size kept by the reader for the rest of its life.
    fn take_rest(&mut self) -> Vec<u8> {
        let len = self.buffered_len();
        if self.buf.len() <= POOLED_LARGEST {
            return self.take_front(len);
        }
        let mut out = std::mem::take(&mut self.buf);
        out.truncate(self.end);
        out.drain(..self.start);
        if out.capacity() - len > len / 4 {
            out.shrink_to_fit(); // the buffer grew in doublings: up to half of it is spare
        }
        if let Some(lp) = &self.pool {
            lp.inner.reader_pool.forget(); // the buffer is the caller's now
        }
        (self.start, self.end, self.offered) = (0, 0, 0);
        self.consumed += len as u64;
        self.maybe_resume_transport();
        out
    }

    /// S15: a paused reader resumes once at most `limit` bytes are buffered.
    #[inline]
    pub(super) fn maybe_resume_transport(&mut self) {
        if self.paused && self.buffered_len() <= self.limit {
            self.paused = false;
            debug_assert!(self.transport.is_some(), "paused without a transport");
            if let Some(transport) = &self.transport {
                transport.resume_reading();
            }
        }
    }
}

impl fmt::Debug for ReaderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReader")
            .field("buffered", &self.buffered_len())
            .field("eof", &self.eof)
            .field("limit", &self.limit)
            .field("waiting", &(self.waiter_id != 0))
            .field("exception", &self.exception)
            .field("transport", &self.transport.is_some())
            .field("paused", &self.paused)
            .finish()
    }
}

#[cfg(test)]
mod tests;
