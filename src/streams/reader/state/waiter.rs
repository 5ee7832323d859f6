//! The reader's one waiter slot (S20, S21) and read-through: a `read_into` that finds the
//! buffer empty parks its waker with the transport, which wakes it at the next readable edge,
//! and reads from the socket straight into the caller's memory.

use std::task::Waker;

use super::ReaderState;
use crate::error::Error;
use crate::transport::Through;

/// The waiter id's mark for a parked read-through (ids count up from 1 and never reach it).
pub(super) const THROUGH: u64 = 1 << 63;
/// The waiter id's mark for a read to EOF (`read(-1)`): it wants every byte, so bytes it
/// waits for never pause the transport, and it keeps its slot when they wake it (see
/// `data_appended`). Like [`THROUGH`], a spare bit: no field more in every reader.
pub(super) const TO_EOF: u64 = 1 << 62;
/// Both marks: what is left of a waiter id without them is the future's own id.
const MARKS: u64 = THROUGH | TO_EOF;

/// S20's error, out of the read path.
#[cold]
#[inline(never)]
fn another_waiter(func_name: &str) -> Error {
    Error::invalid_state(format!(
        "{func_name}() called while another coroutine is already waiting for incoming data"
    ))
}

impl ReaderState {
    /// The id of the read future waiting, if one is.
    pub(crate) fn waiter_id(&self) -> Option<u64> {
        (self.waiter_id != 0).then_some(self.waiter_id & !MARKS)
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
    pub(in crate::streams::reader) fn wait_for_data(
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

    /// `wait_for_data` for a read to EOF (S25, D1): marked [`TO_EOF`], so that the bytes it
    /// waits for, all of which it will take, neither pause the transport nor end its wait.
    #[inline]
    pub(in crate::streams::reader) fn wait_for_eof(
        &mut self,
        id: &mut u64,
        waker: &Waker,
    ) -> Result<(), Error> {
        self.wait_for_data(id, "read", waker)?;
        self.waiter_id |= TO_EOF;
        Ok(())
    }

    /// S20's check for the future named `*id` (giving it an id if it has none): the waiter
    /// slot must be free or already its own.
    #[inline]
    fn claim_waiter(&mut self, id: &mut u64, func_name: &str) -> Result<(), Error> {
        if *id == 0 {
            self.last_waiter_id += 1;
            *id = self.last_waiter_id;
        } else if self.waiter_id & !MARKS == *id {
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
    /// (read-through, `SocketTransport::read_through_into`), `Some(n)` bytes (`Some(0)`: the
    /// read met EOF, and this reader is at EOF now); or `None`, and the future is the waiter:
    /// parked on the transport (which holds its waker and wakes it at the next readable
    /// edge), or, when the transport will not read through, waiting for this reader's buffer
    /// as any read does.
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
            Through::Eof => {
                self.through_met_eof(id);
                Ok(Some(0))
            }
            Through::Wait => {
                self.waiter_id = *id | THROUGH;
                self.waiter_waker = None; // the transport holds it
                Ok(None)
            }
            Through::No => {
                self.wait_instead_of_through(id, waker)?;
                Ok(None)
            }
        }
    }

    // The two arms of `read_through` that are not the per-message path are out of line
    // (the EOF once per connection, cold; a transport that will not read through, its own
    // path): inlined into `ReadInto::poll`, they made the register allocation of the hot
    // arms move with unrelated edits elsewhere in the crate.

    /// The read-through met the EOF: this reader is at EOF now (it is empty, so `at_eof` is
    /// true from here on), as `feed_eof` would make it, with no one to wake: the one waiter
    /// is this read, which returns it. The transport's `eof_received` on a later turn feeds
    /// it again, which changes nothing.
    // Checklist: S17, L62.
    #[cold]
    #[inline(never)]
    fn through_met_eof(&mut self, id: &mut u64) {
        self.eof = true;
        self.waiter_id = 0;
        self.waiter_waker = None;
        *id = 0;
    }

    /// The transport will not read through (paused, or not a socket that can): the read
    /// waits for this reader's buffer as any read does.
    #[inline(never)]
    fn wait_instead_of_through(&mut self, id: &mut u64, waker: &Waker) -> Result<(), Error> {
        self.wait_for_data(id, "read", waker)
    }

    /// Ends a parked read-through, if any: the transport gives its waker back (unless an edge
    /// took it to wake the future already) and an unused edge goes back to the protocol path.
    /// Also clears a waker left parked by a read-through whose future was woken another way
    /// and ended without saying so.
    // Out of line, though not cold: `wait_for_data` calls it at every wait (each `read` or
    // `readline` that finds the buffer empty), to hand back an edge a read-through left
    // unused; only a parked read-through's end comes through `end_parked_through`. Inlined,
    // it was copied into each of eight callers (0.6 KiB of the echo client), and the streams
    // echo (`read_into`) cost 11 instructions more per message (`cargo bench --bench instr`).
    #[inline(never)]
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
        if owner != 0 && owner & !MARKS == id {
            if owner & THROUGH != 0 {
                self.end_through();
            }
            self.waiter_id = 0;
            self.waiter_waker = None;
        }
    }
}
