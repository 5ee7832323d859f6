//! `ReaderState`: one reader's buffer, EOF flag, stored exception, transport flow control and
//! waiter, as plain `&mut self` methods (the logic of `StreamReader`, which only borrows the
//! connection's core to call them).

use std::fmt;
use std::io;
use std::task::{ready, Poll, Waker};

use crate::constants::MAX_READ_SIZE;
use crate::error::{Error, SharedError};
use crate::event_loop::buffer_pool::LARGEST as POOLED_LARGEST;
use crate::event_loop::LoopHandle;
use crate::transport::{Through, Transport};

/// The first size `get_buffer` offers, and the floor the read size decays to.
const MIN_READ_SIZE: usize = 512;
/// Consecutive small reads (under a quarter of the read size) after which the read size halves.
const DECAY_AFTER: u8 = 8;
/// After a decay, an empty buffer longer than this many read sizes gives its memory back.
const SHRINK_RATIO: usize = 4;

/// `LimitOverrunError` texts (S32, S33).
const FOUND_TOO_LONG: &str = "Separator is found, but chunk is longer than limit";
const NOT_FOUND_TOO_LONG: &str = "Separator is not found, and chunk exceed the limit";
/// `readline`'s separator.
const NEWLINE: &[&[u8]] = &[b"\n"];

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
    /// The stored exception (S18), handed out afresh to every later read (S19).
    exception: Option<SharedError>,
    /// Given once by the protocol's `connection_made` (S12); paused and resumed by S14–S16.
    transport: Option<Transport>,
    /// We paused the transport (S14). Invariant: implies `transport.is_some()`.
    paused: bool,
    /// The id of the one read future waiting for data (S20), 0 for none; cleared when woken.
    /// It carries [`THROUGH`] while the future has a read-through parked on the transport
    /// (which then holds its waker, not `waiter_waker`) until its wait ends (`end_wait`): a
    /// flag in a spare bit rather than a field, as every word here is paid by every idle
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
    /// decay, never on every read, keeps the steady state free of allocations.
    shrink_pending: bool,
    /// Length of the tail the last `get_buffer` lent out; 0 when none is outstanding.
    /// Invariant: `buffer_updated(n)` has `n <= offered`.
    offered: usize,
}

/// The separators' shortest and longest lengths, after S30/S35's checks.
fn check_separators(seps: &[&[u8]]) -> Result<(usize, usize), Error> {
    if seps.is_empty() {
        return Err(Error::invalid_argument(
            "Separator should contain at least one element",
        ));
    }
    let min = seps.iter().map(|s| s.len()).min().unwrap_or(0);
    let max = seps.iter().map(|s| s.len()).max().unwrap_or(0);
    if min == 0 {
        return Err(Error::invalid_argument(
            "Separator should be at least one-byte string",
        ));
    }
    Ok((min, max))
}

/// The first occurrence of `needle` (non-empty) in `hay` starting at `from` or later.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = from;
    while i <= last_start {
        i += hay[i..=last_start].iter().position(|&b| b == first)?;
        if &hay[i + 1..i + needle.len()] == rest {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The separator match in `data` starting at `offset` or later that ends earliest, as
/// `(start, end)`; on equal ends the shorter separator wins (S35: CPython sorts by length and
/// keeps the first strictly earlier end). `None` if no separator occurs there.
pub(crate) fn find_earliest(data: &[u8], offset: usize, seps: &[&[u8]]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    for sep in seps {
        // A later separator can only win by ending no later than the best so far.
        let bound = best.map_or(data.len(), |(_, end)| end);
        if let Some(start) = find(&data[..bound], offset, sep) {
            let end = start + sep.len();
            let wins = best.is_none_or(|(s, e)| end < e || sep.len() < e - s);
            if wins {
                best = Some((start, end));
            }
        }
    }
    best
}

/// The waiter id's mark for a parked read-through (ids count up from 1 and never reach it).
const THROUGH: u64 = 1 << 63;

/// S20's error, out of the read path.
#[cold]
#[inline(never)]
fn another_waiter(func_name: &str) -> Error {
    Error::invalid_state(format!(
        "{func_name}() called while another coroutine is already waiting for incoming data"
    ))
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
    /// (S14). Empty data does nothing.
    #[must_use = "wake the returned waker once the borrow of the core has ended"]
    pub(crate) fn feed_data(&mut self, data: &[u8]) -> Option<Waker> {
        debug_assert!(!self.eof, "feed_data after feed_eof");
        self.offered = 0; // the grammar forbids it, but a lent tail is stale once we write
        if data.is_empty() {
            return None;
        }
        self.end_parked_through();
        self.reserve_tail(data.len());
        self.buf[self.end..self.end + data.len()].copy_from_slice(data);
        self.end += data.len();
        self.data_appended()
    }

    /// Records EOF and wakes the waiting read (S17). Idempotent.
    #[must_use = "wake the returned waker once the borrow of the core has ended"]
    pub(crate) fn feed_eof(&mut self) -> Option<Waker> {
        self.eof = true;
        self.end_parked_through();
        self.wakeup_waiter()
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
        debug_assert!(!self.eof, "get_buffer after feed_eof");
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
        if self.shrink_pending && self.start == self.end {
            // After reserve_tail: the buffer may have come from the pool, as large as it was.
            self.shrink_pending = false;
            if self.buf.len() > SHRINK_RATIO * want {
                self.buf.truncate(want);
                self.buf.shrink_to_fit();
            }
        }
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
            n <= offered,
            "buffer_updated({n}) exceeds the {offered} bytes get_buffer lent"
        );
        debug_assert!(!self.eof, "buffer_updated after feed_eof");
        let n = n.min(offered);
        if n == 0 {
            return None;
        }
        self.adapt_read_size(n, offered);
        self.end += n;
        self.data_appended()
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
    #[inline]
    pub(super) fn data_appended(&mut self) -> Option<Waker> {
        debug_assert!(
            self.start <= self.end && self.end <= self.buf.len(),
            "buffer indices {}..{} outside 0..{}",
            self.start,
            self.end,
            self.buf.len()
        );
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

    /// The id of the read future waiting, if one is.
    pub(crate) fn waiter_id(&self) -> Option<u64> {
        (self.waiter_id != 0).then_some(self.waiter_id & !THROUGH)
    }

    /// Detaches the waiter; the caller wakes the waker (`None` if an edge already woke it).
    #[inline]
    pub(crate) fn wakeup_waiter(&mut self) -> Option<Waker> {
        if self.waiter_id == 0 {
            return None;
        }
        self.end_parked_through();
        self.waiter_id = 0;
        self.waiter_waker.take()
    }

    /// Makes the future named `*id` the waiter (giving it an id on its first wait), after S20's
    /// check; resumes a paused transport (S16), or a read needing more than 2 × limit bytes
    /// would wait forever. A read-through it had parked ends (its waker comes back here, and
    /// a readable edge left unused goes back to the protocol path, which fills this reader's
    /// buffer).
    #[inline]
    pub(super) fn wait_for_data(
        &mut self,
        id: &mut u64,
        func_name: &str,
        waker: &Waker,
    ) -> Result<(), Error> {
        self.claim_waiter(id, func_name)?;
        self.end_through();
        self.waiter_id = *id;
        match &mut self.waiter_waker {
            Some(w) => w.clone_from(waker),
            None => self.waiter_waker = Some(waker.clone()),
        }
        debug_assert!(!self.eof, "wait_for_data after EOF");
        if self.paused {
            self.paused = false;
            if let Some(transport) = &self.transport {
                transport.resume_reading();
            }
        }
        Ok(())
    }

    /// S20's check for the future named `*id` (giving it an id if it has none): the waiter
    /// slot must be free or already its own.
    #[inline]
    fn claim_waiter(&mut self, id: &mut u64, func_name: &str) -> Result<(), Error> {
        if *id == 0 {
            self.last_waiter_id += 1;
            *id = self.last_waiter_id;
        } else if self.waiter_id & !THROUGH == *id {
            return Ok(());
        }
        if self.waiter_id != 0 {
            return Err(another_waiter(func_name));
        }
        Ok(())
    }

    /// Whether a `read_into(out)` would wait: nothing buffered, no EOF, no exception.
    #[inline]
    pub(crate) fn would_wait(&self, out: &[u8]) -> bool {
        self.start == self.end && !self.eof && self.exception.is_none() && !out.is_empty()
    }

    /// `read_into(out)` for the future named `*id`, its reader empty ([`would_wait`]): one
    /// read from the socket straight into `out` on behalf of the protocol at `owner`
    /// (read-through, `SocketTransport::read_through_into`), `Some(n)` bytes; or `None`, and
    /// the future is the waiter: parked on the transport (which holds its waker and wakes it
    /// at the next readable edge), or, when the transport will not read through, waiting for
    /// this reader's buffer as any read does.
    ///
    /// The reader keeps only the parked future's id (marked [`THROUGH`]), not a second copy
    /// of its waker: a wake-up from the reader's side (`feed_eof`, `set_exception`, a
    /// timeout) takes the waker back from the transport first (`end_parked_through`).
    ///
    /// [`would_wait`]: Self::would_wait
    #[inline]
    pub(crate) fn read_through(
        &mut self,
        owner: *const (),
        out: &mut [u8],
        id: &mut u64,
        waker: &Waker,
    ) -> Result<Option<usize>, Error> {
        self.claim_waiter(id, "read")?;
        let through = match &self.transport {
            Some(transport) if !self.paused => transport.inner.read_through(owner, out, waker),
            _ => Through::No,
        };
        match through {
            Through::Read(n) => {
                // This read used the edge: its wait, if it had begun, is over, and the future
                // holds no slot (its id goes back to 0, so it has nothing to give up).
                self.waiter_id = 0;
                self.waiter_waker = None;
                *id = 0;
                Ok(Some(n))
            }
            Through::Wait => {
                self.waiter_id = *id | THROUGH;
                self.waiter_waker = None; // the transport holds it
                Ok(None)
            }
            Through::No => {
                self.wait_for_data(id, "read", waker)?;
                Ok(None)
            }
        }
    }

    /// Ends a parked read-through, if any: the transport gives its waker back (unless an edge
    /// took it to wake the future already) and an unused edge goes back to the protocol path.
    /// Also clears a waker left parked by a read-through whose future was woken another way
    /// and ended without saying so.
    #[inline]
    fn end_through(&mut self) {
        let parked = self.waiter_id & THROUGH != 0;
        self.waiter_id &= !THROUGH;
        if let Some(transport) = &self.transport {
            let waker = transport.inner.end_through();
            if parked {
                self.waiter_waker = waker;
            }
        }
    }

    /// The waiting read is about to be woken by the reader (`feed_data`, `feed_eof`,
    /// `set_exception`, a zero read timeout), not by the socket: a read-through it parked on
    /// the transport ends now (the read may be dropped before it looks again), and its waker
    /// comes back to the waiter slot to be woken. Left parked, it would take the transport's
    /// next readable edge after the read had returned, and with no read after it the bytes,
    /// the EOF or the reset would stay in the kernel (the reader never fed, `at_eof` never
    /// true). Not on the per-message path: `buffer_updated` cannot meet a parked
    /// read-through, since `read_ready` hands its edge to that read instead of reading.
    #[inline]
    pub(crate) fn end_parked_through(&mut self) {
        if self.waiter_id & THROUGH != 0 {
            self.end_through();
        }
    }

    /// Clears the waiter slot if future `id` holds it (S21: its wait ended or it was dropped),
    /// ending its read-through if it parked one.
    #[inline]
    pub(crate) fn end_wait(&mut self, id: u64) {
        let owner = self.waiter_id;
        if owner != 0 && owner & !THROUGH == id {
            if owner & THROUGH != 0 {
                self.end_through();
            }
            self.waiter_id = 0;
            self.waiter_waker = None;
        }
    }

    /// `read(n)` (S23–S25), cancel-safe for every n (D1): `read(-1)` waits for EOF with the
    /// bytes in place, then takes them all at once.
    pub(super) fn poll_read(
        &mut self,
        n: isize,
        id: &mut u64,
        waker: &Waker,
    ) -> Poll<Result<Vec<u8>, Error>> {
        self.check_exception()?;
        if n == 0 {
            return Poll::Ready(Ok(Vec::new()));
        }
        let len = self.buffered_len();
        if n < 0 {
            if self.eof {
                return Poll::Ready(Ok(self.take_rest()));
            }
        } else if len > 0 || self.eof {
            return Poll::Ready(Ok(self.take_front(len.min(n.unsigned_abs()))));
        }
        self.wait_for_data(id, "read", waker)?;
        Poll::Pending
    }

    /// `read(out.len())` into `out`: the count copied, 0 at EOF.
    #[inline]
    pub(crate) fn poll_read_into(
        &mut self,
        out: &mut [u8],
        id: &mut u64,
        waker: &Waker,
    ) -> Poll<Result<usize, Error>> {
        self.check_exception()?;
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = self.buffered_len();
        if len > 0 || self.eof {
            let n = len.min(out.len());
            out[..n].copy_from_slice(&self.buffered()[..n]);
            self.consume(n);
            return Poll::Ready(Ok(n));
        }
        self.wait_for_data(id, "read", waker)?;
        Poll::Pending
    }

    /// Bytes ever removed from the front. A copy of the front taken when this count was `c`
    /// still mirrors the front exactly while the count reads `c` (appending leaves it alone).
    #[cfg(feature = "futures-io")]
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Waits, as `read` does, until a byte is buffered or EOF is reached, and takes nothing:
    /// futures-io's `poll_fill_buf`, which then looks at [`buffered`](Self::buffered).
    #[cfg(feature = "futures-io")]
    pub(crate) fn poll_fill(&mut self, id: &mut u64, waker: &Waker) -> Poll<Result<(), Error>> {
        self.check_exception()?;
        if self.start < self.end || self.eof {
            return Poll::Ready(Ok(()));
        }
        self.wait_for_data(id, "read", waker)?;
        Poll::Pending
    }

    /// `readexactly(n)` (S37, S38).
    pub(super) fn poll_readexactly(
        &mut self,
        n: usize,
        id: &mut u64,
        waker: &Waker,
    ) -> Poll<Result<Vec<u8>, Error>> {
        self.check_exception()?;
        let len = self.buffered_len();
        if len >= n {
            return Poll::Ready(Ok(self.take_front(n)));
        }
        if self.eof {
            let partial = self.take_rest();
            return Poll::Ready(Err(Error::IncompleteRead {
                partial,
                expected: Some(n),
            }));
        }
        self.wait_for_data(id, "readexactly", waker)?;
        Poll::Pending
    }

    /// `readuntil(seps)` (S30–S36). `scan` is where the scan resumes, counted in
    /// `self.consumed` coordinates (0 to start): bytes before it hold no separator start, so
    /// nothing is scanned twice (S31, S36).
    pub(super) fn poll_readuntil(
        &mut self,
        seps: &[&[u8]],
        scan: &mut u64,
        id: &mut u64,
        waker: &Waker,
    ) -> Poll<Result<Vec<u8>, Error>> {
        let (min_len, max_len) = check_separators(seps)?;
        self.check_exception()?;
        let len = self.buffered_len();
        let offset =
            usize::try_from(scan.saturating_sub(self.consumed)).map_or(len, |o| o.min(len));
        if len - offset >= min_len {
            if let Some((start, end)) = find_earliest(self.buffered(), offset, seps) {
                if start > self.limit {
                    return Poll::Ready(Err(Error::LimitOverrun {
                        message: FOUND_TOO_LONG,
                        consumed: start,
                    }));
                }
                return Poll::Ready(Ok(self.take_front(end)));
            }
            // No separator can start before `offset` now: the longest would not fit after it.
            let offset = (len + 1).saturating_sub(max_len);
            *scan = self.consumed + offset as u64;
            if offset > self.limit {
                return Poll::Ready(Err(Error::LimitOverrun {
                    message: NOT_FOUND_TOO_LONG,
                    consumed: offset,
                }));
            }
        }
        // A complete separator may have come with EOF, hence EOF only after the scan.
        if self.eof {
            let partial = self.take_rest();
            return Poll::Ready(Err(Error::IncompleteRead {
                partial,
                expected: None,
            }));
        }
        self.wait_for_data(id, "readuntil", waker)?;
        Poll::Pending
    }

    /// `readline()` (S27–S29): `readuntil(b"\n")`, with EOF giving the rest and an overrun
    /// discarding the offending bytes (S28) so that the reader keeps working.
    pub(super) fn poll_readline(
        &mut self,
        scan: &mut u64,
        id: &mut u64,
        waker: &Waker,
    ) -> Poll<Result<Vec<u8>, Error>> {
        Poll::Ready(
            match ready!(self.poll_readuntil(NEWLINE, scan, id, waker)) {
                Err(Error::IncompleteRead { partial, .. }) => Ok(partial),
                Err(Error::LimitOverrun { message, consumed }) => {
                    // Found: drop the line with its newline. Not found: drop everything buffered.
                    let discard = match self.buffered().get(consumed) {
                        Some(b'\n') => consumed + 1,
                        _ => self.buffered_len(),
                    };
                    self.consume(discard);
                    Err(Error::LimitOverrun { message, consumed })
                }
                other => other,
            },
        )
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
mod tests {
    use std::cell::Cell;
    use std::io::IoSlice;
    use std::rc::Rc;

    use super::*;
    use crate::constants::DEFAULT_LIMIT;
    use crate::protocol::ProtocolRef;
    use crate::transport::{ExtraInfo, TransportImpl};

    /// A transport double that only counts pause/resume calls (S14–S16).
    #[derive(Default)]
    struct FlowTransport {
        reading: Cell<bool>,
        pauses: Cell<u32>,
        resumes: Cell<u32>,
    }

    impl TransportImpl for FlowTransport {
        fn write(&self, _: &[u8]) -> Result<(), Error> {
            unreachable!("the reader never writes")
        }
        fn writelines(&self, _: &[IoSlice<'_>]) -> Result<(), Error> {
            unreachable!("the reader never writes")
        }
        fn write_eof(&self) -> Result<(), Error> {
            unreachable!("the reader never writes")
        }
        fn can_write_eof(&self) -> bool {
            true
        }
        fn close(&self) {}
        fn abort(&self) {}
        fn is_closing(&self) -> bool {
            false
        }
        fn pause_reading(&self) {
            self.reading.set(false);
            self.pauses.set(self.pauses.get() + 1);
        }
        fn resume_reading(&self) {
            self.reading.set(true);
            self.resumes.set(self.resumes.get() + 1);
        }
        fn is_reading(&self) -> bool {
            self.reading.get()
        }
        fn set_write_buffer_limits(&self, _: Option<usize>, _: Option<usize>) -> Result<(), Error> {
            Ok(())
        }
        fn get_write_buffer_size(&self) -> usize {
            0
        }
        fn get_write_buffer_limits(&self) -> (usize, usize) {
            (0, 0)
        }
        fn get_extra_info(&self, _: &str) -> Option<ExtraInfo> {
            None
        }
        fn set_protocol(&self, _: ProtocolRef) -> Result<(), Error> {
            unreachable!("the reader never swaps protocols")
        }
        fn get_protocol(&self) -> Option<ProtocolRef> {
            None
        }
        fn get_loop(&self) -> LoopHandle {
            // For its buffer pool only: a closed loop's pool works as well.
            let lp = crate::EventLoop::new().expect("a loop for the pool");
            (*lp).clone()
        }
        fn id(&self) -> u64 {
            0
        }
    }

    fn with_transport(limit: usize) -> (ReaderState, Rc<FlowTransport>) {
        let fake = Rc::new(FlowTransport::default());
        fake.reading.set(true);
        let mut st = ReaderState::new(limit).unwrap();
        st.set_transport(Transport {
            inner: fake.clone(),
        });
        (st, fake)
    }

    fn feed(st: &mut ReaderState, data: &[u8]) {
        let _ = st.feed_data(data);
    }

    fn noop() -> &'static Waker {
        Waker::noop()
    }

    /// Simulates the transport's read: `data` arrives through get_buffer/buffer_updated,
    /// `min(remaining, offered)` bytes per read, as a kernel would deliver it.
    fn receive(st: &mut ReaderState, mut data: &[u8]) {
        while !data.is_empty() {
            let tail = st.get_buffer(0);
            assert!(!tail.is_empty(), "get_buffer lent an empty buffer");
            let n = tail.len().min(data.len());
            tail[..n].copy_from_slice(&data[..n]);
            let _ = st.buffer_updated(n);
            data = &data[n..];
        }
    }

    /// Every string over `alphabet` of length `0..=max_len`.
    fn all_strings(alphabet: &[u8], max_len: usize) -> Vec<Vec<u8>> {
        let mut out = vec![Vec::new()];
        let mut layer = vec![Vec::new()];
        for _ in 0..max_len {
            layer = layer
                .iter()
                .flat_map(|s: &Vec<u8>| {
                    alphabet.iter().map(move |&c| {
                        let mut t = s.clone();
                        t.push(c);
                        t
                    })
                })
                .collect();
            out.extend(layer.iter().cloned());
        }
        out
    }

    /// CPython 3.13's rule, literally: separators sorted by length, each `find` from `offset`,
    /// keep the strictly earliest end.
    fn model_earliest(data: &[u8], offset: usize, seps: &[&[u8]]) -> Option<(usize, usize)> {
        let mut sorted = seps.to_vec();
        sorted.sort_by_key(|s| s.len());
        let mut best: Option<(usize, usize)> = None;
        for sep in sorted {
            let found = (offset..=data.len().saturating_sub(sep.len()))
                .find(|&i| i + sep.len() <= data.len() && &data[i..i + sep.len()] == sep);
            if let Some(i) = found {
                let end = i + sep.len();
                if best.is_none_or(|(_, e)| end < e) {
                    best = Some((i, end));
                }
            }
        }
        best
    }

    const SEP_SETS: &[&[&[u8]]] = &[
        &[b"a"],
        &[b"ab"],
        &[b"aab"],
        &[b"aa", b"b"],
        &[b"ba", b"aab"],
        &[b"b", b"ab", b"bab"],
        &[b"aba", b"ab"],
        &[b"bb", b"abba", b"a"],
        // Longer first: on equal ends the shorter must still win (its start is what S33 checks).
        &[b"ab", b"b"],
        &[b"aab", b"ab", b"b"],
    ];

    #[test]
    fn s35_find_earliest_matches_cpython_rule_exhaustively() {
        for data in all_strings(b"ab", 7) {
            for seps in SEP_SETS {
                for offset in 0..=data.len() {
                    assert_eq!(
                        find_earliest(&data, offset, seps),
                        model_earliest(&data, offset, seps),
                        "data {:?} offset {offset} seps {seps:?}",
                        String::from_utf8_lossy(&data)
                    );
                }
            }
        }
    }

    /// Feeds `chunks`, polling readuntil after each, then EOF; returns the outcome and what is
    /// left buffered plus the unfed chunks.
    fn readuntil_over(
        chunks: &[&[u8]],
        seps: &[&[u8]],
        limit: usize,
    ) -> (Result<Vec<u8>, Error>, Vec<u8>) {
        let mut st = ReaderState::new(limit).unwrap();
        let (mut scan, mut id) = (0, 0);
        let mut last_scan = 0;
        for (i, chunk) in chunks.iter().enumerate() {
            feed(&mut st, chunk);
            if let Poll::Ready(r) = st.poll_readuntil(seps, &mut scan, &mut id, noop()) {
                let mut rest = st.buffered().to_vec();
                chunks[i + 1..]
                    .iter()
                    .for_each(|c| rest.extend_from_slice(c));
                return (r, rest);
            }
            assert!(
                scan >= last_scan,
                "scan offset went back: {last_scan} -> {scan}"
            );
            last_scan = scan;
            assert_eq!(st.waiter_id(), Some(id), "pending without being the waiter");
        }
        let _ = st.feed_eof();
        match st.poll_readuntil(seps, &mut scan, &mut id, noop()) {
            Poll::Ready(r) => (r, st.buffered().to_vec()),
            Poll::Pending => panic!("readuntil pending after EOF"),
        }
    }

    #[test]
    fn s31_s36_readuntil_finds_separators_split_at_every_point() {
        for data in all_strings(b"ab", 7) {
            for seps in SEP_SETS {
                let want = match model_earliest(&data, 0, seps) {
                    Some((_, end)) => (Some(data[..end].to_vec()), data[end..].to_vec()),
                    None => (None, Vec::new()),
                };
                let mut splits: Vec<Vec<&[u8]>> = (0..=data.len())
                    .flat_map(|i| (i..=data.len()).map(move |j| (i, j)))
                    .map(|(i, j)| vec![&data[..i], &data[i..j], &data[j..]])
                    .collect();
                splits.push(data.chunks(1).collect());
                for chunks in splits {
                    let (got, rest) = readuntil_over(&chunks, seps, 1000);
                    let got = match got {
                        Ok(v) => Some(v),
                        Err(Error::IncompleteRead {
                            partial,
                            expected: None,
                        }) => {
                            assert_eq!(partial, data, "S34: partial is the whole buffer");
                            None
                        }
                        Err(e) => panic!("unexpected {e}"),
                    };
                    assert_eq!((got, rest), want, "chunks {chunks:?} seps {seps:?}");
                }
            }
        }
    }

    #[test]
    fn s32_s33_limit_errors_leave_the_buffer_and_report_consumed() {
        // Single separator, every limit: the outcome is either the line or one of the two
        // overrun errors, with S32/S33's `consumed`, and the buffer untouched on error.
        for data in all_strings(b"ab", 7) {
            for limit in 1..=4 {
                let mut st = ReaderState::new(limit).unwrap();
                feed(&mut st, &data);
                let (mut scan, mut id) = (0, 0);
                let r = st.poll_readuntil(&[b"ab"], &mut scan, &mut id, noop());
                let found = find(&data, 0, b"ab");
                match (r, found) {
                    (Poll::Ready(Ok(line)), Some(i)) => {
                        assert!(i <= limit);
                        assert_eq!(line, &data[..i + 2]);
                    }
                    (Poll::Ready(Err(Error::LimitOverrun { message, consumed })), Some(i)) => {
                        assert_eq!((message, consumed), (FOUND_TOO_LONG, i));
                        assert!(i > limit);
                        assert_eq!(st.buffered(), &data[..]);
                    }
                    (Poll::Ready(Err(Error::LimitOverrun { message, consumed })), None) => {
                        assert_eq!((message, consumed), (NOT_FOUND_TOO_LONG, data.len() - 1));
                        assert!(consumed > limit);
                        assert_eq!(st.buffered(), &data[..]);
                    }
                    (Poll::Pending, None) => assert!(data.len() < 2 || data.len() - 1 <= limit),
                    (r, f) => panic!("data {data:?} limit {limit}: {r:?} with separator at {f:?}"),
                }
            }
        }
    }

    #[test]
    fn s35_separator_checks_come_first() {
        let mut st = ReaderState::new(10).unwrap();
        let _ = st.set_exception(&io::Error::other("boom"));
        let (mut scan, mut id) = (0, 0);
        let msg = |r: Poll<Result<Vec<u8>, Error>>| match r {
            Poll::Ready(Err(e)) => e.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            msg(st.poll_readuntil(&[], &mut scan, &mut id, noop())),
            "Separator should contain at least one element"
        );
        assert_eq!(
            msg(st.poll_readuntil(&[b"x", b""], &mut scan, &mut id, noop())),
            "Separator should be at least one-byte string"
        );
        assert_eq!(
            msg(st.poll_readuntil(&[b"x"], &mut scan, &mut id, noop())),
            "boom"
        );
    }

    #[test]
    fn readuntil_scan_survives_a_concurrent_consumer() {
        // S20 lets a read served from the buffer run while readuntil waits; readuntil's scan
        // offset must follow the bytes, not their old positions.
        let mut st = ReaderState::new(100).unwrap();
        feed(&mut st, b"abcdef");
        let (mut scan, mut id) = (0, 0);
        assert!(st
            .poll_readuntil(&[b"\n"], &mut scan, &mut id, noop())
            .is_pending());
        let (mut other, w) = (0, noop());
        assert!(matches!(st.poll_read(4, &mut other, w), Poll::Ready(Ok(v)) if v == b"abcd"));
        feed(&mut st, b"\n");
        assert!(matches!(
            st.poll_readuntil(&[b"\n"], &mut scan, &mut id, noop()),
            Poll::Ready(Ok(v)) if v == b"ef\n"
        ));
    }

    #[test]
    fn s11_limit_zero_is_rejected() {
        let e = ReaderState::new(0).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument(m) if m == "Limit cannot be <= 0"),
            "{e}"
        );
    }

    #[test]
    fn feed_data_compacts_instead_of_allocating() {
        let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
        feed(&mut st, &[0; 2048]);
        let (ptr, cap) = (st.buf.as_ptr(), st.buf.capacity());
        st.consume(1948);
        feed(&mut st, &[1; 200]);
        assert_eq!(
            (st.buf.as_ptr(), st.buf.capacity()),
            (ptr, cap),
            "compaction reallocated"
        );
        assert_eq!(st.start, 0, "data was not moved to the front");
        let mut want = vec![0; 100];
        want.extend([1; 200]);
        assert_eq!(st.buffered(), &want[..]);
    }

    #[test]
    fn emptied_buffer_rewinds() {
        let mut st = ReaderState::new(8).unwrap();
        for split in 0..=10 {
            feed(&mut st, &[7; 10]);
            st.consume(split);
            st.consume(10 - split);
            assert_eq!((st.start, st.end), (0, 0), "split {split}");
        }
    }

    #[test]
    fn get_buffer_starts_small_and_doubles_while_reads_fill_it() {
        let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
        assert_eq!(st.get_buffer(0).len(), MIN_READ_SIZE);
        let mut sizes = Vec::new();
        for _ in 0..12 {
            let n = st.get_buffer(0).len();
            assert!(n >= st.read_size);
            let _ = st.buffer_updated(n);
            sizes.push(st.read_size);
            st.consume(st.buffered_len());
        }
        assert_eq!(&sizes[..3], [1024, 2048, 4096]);
        assert_eq!(
            *sizes.last().unwrap(),
            MAX_READ_SIZE,
            "capped at MAX_READ_SIZE"
        );
        // A hint above the read size is honoured.
        assert!(st.get_buffer(MAX_READ_SIZE * 2).len() >= MAX_READ_SIZE * 2);
    }

    #[test]
    fn steady_state_reads_reuse_one_buffer() {
        // Echo-shaped traffic: each message arrives whole and is consumed before the next.
        for &size in &[1, 64, 500, 512, 513, 1000, 1024, 4096, 70_000, 300_000] {
            let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
            let msg = vec![b'x'; size];
            let round = |st: &mut ReaderState| {
                receive(st, &msg);
                let (mut id, w) = (0, noop());
                match st.poll_readexactly(size, &mut id, w) {
                    Poll::Ready(Ok(v)) => assert_eq!(v.len(), size),
                    other => panic!("{other:?}"),
                }
            };
            for _ in 0..50 {
                round(&mut st);
            }
            let (ptr, cap) = (st.buf.as_ptr(), st.buf.capacity());
            for _ in 0..500 {
                round(&mut st);
            }
            assert_eq!(
                (st.buf.as_ptr(), st.buf.capacity()),
                (ptr, cap),
                "message size {size} reallocated"
            );
            if size <= 64 {
                assert!(
                    st.buf.capacity() < 1024,
                    "small messages left {} bytes",
                    st.buf.capacity()
                );
            }
        }
    }

    #[test]
    fn partial_lines_reuse_one_buffer() {
        // A line split across reads leaves bytes behind; compaction, not allocation, makes room.
        let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
        let data = b"0123456789abcdefghijklmnopqrstuvwxyz\n".repeat(40);
        let mut ptr_cap = None;
        for round in 0..200 {
            for piece in data.chunks(97) {
                receive(&mut st, piece);
                loop {
                    let (mut scan, mut id) = (0, 0);
                    match st.poll_readline(&mut scan, &mut id, noop()) {
                        Poll::Ready(Ok(line)) => assert_eq!(line.len(), 37),
                        Poll::Pending => break,
                        Poll::Ready(Err(e)) => panic!("{e}"),
                    }
                    st.end_wait(id);
                }
            }
            if round == 20 {
                ptr_cap = Some((st.buf.as_ptr(), st.buf.capacity()));
            }
        }
        assert_eq!(
            Some((st.buf.as_ptr(), st.buf.capacity())),
            ptr_cap,
            "partial lines reallocated"
        );
        assert!(
            st.buf.capacity() <= 1024,
            "buffer grew to {}",
            st.buf.capacity()
        );
    }

    #[test]
    fn read_size_decays_and_memory_returns_after_a_burst() {
        let mut st = ReaderState::new(DEFAULT_LIMIT).unwrap();
        receive(&mut st, &vec![0; 4 * MAX_READ_SIZE]);
        st.consume(st.buffered_len());
        assert_eq!(st.read_size, MAX_READ_SIZE);
        assert!(st.buf.len() >= MAX_READ_SIZE);
        for _ in 0..(DECAY_AFTER as usize * 12) {
            receive(&mut st, b"hi");
            st.consume(2);
        }
        assert_eq!(st.read_size, MIN_READ_SIZE);
        let _ = st.get_buffer(0);
        assert!(
            st.buf.capacity() <= SHRINK_RATIO * MIN_READ_SIZE,
            "still holding {} bytes",
            st.buf.capacity()
        );
    }

    #[test]
    fn buffer_updated_without_a_lent_buffer_is_ignored_in_release() {
        let mut st = ReaderState::new(8).unwrap();
        let _ = st.get_buffer(0);
        let _ = st.buffer_updated(0); // a zero-byte update changes nothing
        assert_eq!(st.buffered_len(), 0);
        let tail = st.get_buffer(0);
        tail[..3].copy_from_slice(b"abc");
        assert!(st.buffer_updated(3).is_none(), "no waiter, nothing to wake");
        assert_eq!(st.buffered(), b"abc");
    }

    #[test]
    fn s14_s15_pause_above_twice_limit_resume_at_limit() {
        // S15's example: limit 4; 8 bytes do not pause, a 9th does; reading down to 5 keeps
        // it paused, down to 4 resumes.
        let (mut st, t) = with_transport(4);
        feed(&mut st, b"12345678");
        assert_eq!(t.pauses.get(), 0);
        feed(&mut st, b"9");
        assert!(st.paused && !t.reading.get());
        assert_eq!(t.pauses.get(), 1);
        feed(&mut st, b"0");
        assert_eq!(t.pauses.get(), 1, "paused twice");
        let (mut id, w) = (0, noop());
        assert!(st.poll_read(5, &mut id, w).is_ready());
        assert!(st.paused, "5 bytes left: still paused");
        assert!(st.poll_read(1, &mut id, w).is_ready());
        assert!(!st.paused && t.reading.get());
        assert_eq!(t.resumes.get(), 1);
    }

    #[test]
    fn s14_buffer_updated_pauses_too() {
        let (mut st, t) = with_transport(4);
        receive(&mut st, b"123456789");
        assert_eq!(t.pauses.get(), 1);
    }

    #[test]
    fn s16_readexactly_beyond_twice_limit_does_not_deadlock() {
        // A transport that stops delivering while paused: the read must resume it each wait.
        let (mut st, t) = with_transport(4);
        let (mut id, w) = (0, noop());
        let mut fed = 0;
        let got = loop {
            match st.poll_readexactly(40, &mut id, w) {
                Poll::Ready(r) => break r.unwrap(),
                Poll::Pending => {
                    assert!(
                        t.reading.get(),
                        "waiting with the transport paused: deadlock"
                    );
                    while t.reading.get() {
                        feed(&mut st, &[fed as u8]);
                        fed += 1;
                    }
                }
            }
        };
        assert_eq!(got, (0..40).collect::<Vec<u8>>());
        assert!(t.pauses.get() >= 3 && t.resumes.get() >= 3);
    }

    #[test]
    fn d1_read_to_eof_keeps_the_transport_flowing_and_bytes_in_place() {
        let (mut st, t) = with_transport(4);
        let (mut id, w) = (0, noop());
        for i in 0..10u8 {
            assert!(st.poll_read(-1, &mut id, w).is_pending());
            assert!(t.reading.get(), "read(-1) waits with the transport paused");
            while t.reading.get() {
                feed(&mut st, &[i]);
            }
        }
        let n = st.buffered_len();
        let _ = st.feed_eof();
        assert!(matches!(st.poll_read(-1, &mut id, w), Poll::Ready(Ok(v)) if v.len() == n));
    }

    #[test]
    fn d1_read_to_eof_hands_out_a_large_buffer_and_keeps_no_memory() {
        // read(-1) of a large body at EOF: nothing more will come, so the reader must not
        // keep a buffer the size of the body for the rest of its life (and need not copy it).
        for (size, how) in [POOLED_LARGEST + 1, 300_000, 3_000_000]
            .into_iter()
            .flat_map(|size| ["read", "readexactly", "readline"].map(|how| (size, how)))
        {
            let (mut st, _t) = with_transport(usize::MAX / 4);
            let body: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            receive(&mut st, &body[..7]);
            st.consume(7); // a partial front: the bytes do not start at index 0
            receive(&mut st, &body[7..]);
            let _ = st.feed_eof();
            let (mut id, mut scan, w) = (0, 0, noop());
            let got = match how {
                "read" => st.poll_read(-1, &mut id, w),
                "readexactly" => match st.poll_readexactly(size, &mut id, w) {
                    Poll::Ready(Err(Error::IncompleteRead { partial, .. })) => {
                        Poll::Ready(Ok(partial))
                    }
                    other => other,
                },
                _ => st.poll_readline(&mut scan, &mut id, w),
            };
            match got {
                Poll::Ready(Ok(v)) => assert!(v == body[7..], "{how} of {size}: wrong bytes"),
                other => panic!("{how} of {size}: {other:?}"),
            }
            assert!(
                st.buf.capacity() <= POOLED_LARGEST,
                "{how} of {size}: the reader kept {} bytes after reading to EOF",
                st.buf.capacity()
            );
            assert!(st.at_eof());
            let held = st.pool.as_ref().map(|lp| lp.inner.reader_pool.held());
            assert_eq!(
                held,
                Some(0),
                "{how} of {size}: the pool still counts the buffer"
            );
        }
    }

    #[test]
    fn s18_s19_exception_is_handed_out_again_and_again() {
        let mut st = ReaderState::new(8).unwrap();
        let _ = st.set_exception(&io::Error::new(
            io::ErrorKind::ConnectionReset,
            "peer reset",
        ));
        for _ in 0..3 {
            let Some(Error::Io(e)) = st.exception() else {
                panic!()
            };
            assert_eq!(
                (e.kind(), e.to_string()),
                (io::ErrorKind::ConnectionReset, "peer reset".into())
            );
        }
        let _ = st.set_exception(&io::Error::from_raw_os_error(libc::EPIPE));
        let Some(Error::Io(e)) = st.exception() else {
            panic!()
        };
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "errno kept");
    }

    #[test]
    fn s20_s21_waiter_slot_follows_ids() {
        let mut st = ReaderState::new(8).unwrap();
        let (mut a, mut b, w) = (0, 0, noop());
        assert!(st.poll_read(3, &mut a, w).is_pending());
        assert!(
            st.poll_read(3, &mut a, w).is_pending(),
            "re-poll tripped S20"
        );
        match st.poll_readexactly(3, &mut b, w) {
            Poll::Ready(Err(Error::InvalidState(m))) => assert_eq!(
                m,
                "readexactly() called while another coroutine is already waiting for incoming data"
            ),
            other => panic!("{other:?}"),
        }
        st.end_wait(b); // not the owner: no effect
        assert_eq!(st.waiter_id(), Some(a));
        st.end_wait(a);
        assert!(st.waiter_id().is_none());
        assert!(st.poll_readexactly(3, &mut b, w).is_pending());
        assert!(st.feed_data(b"x").is_some(), "the waiter is woken");
        assert!(st.waiter_id().is_none(), "woken waiter still in the slot");
    }
}
