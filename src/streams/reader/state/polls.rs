//! The read operations (`read`, `read_into`, `readexactly`, `readuntil`, `readline`) as
//! polls on the state: each takes its bytes only when it returns `Ready`, so a future dropped
//! at any point loses nothing (D1).

use std::task::{ready, Poll, Waker};

use super::search::{check_separators, find_earliest, FOUND_TOO_LONG, NEWLINE, NOT_FOUND_TOO_LONG};
use super::ReaderState;
use crate::error::Error;

impl ReaderState {
    /// `read(n)` (S23–S25), cancel-safe for every n (D1): `read(-1)` waits for EOF with the
    /// bytes in place, then takes them all at once.
    pub(in crate::streams::reader) fn poll_read(
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
            self.wait_for_eof(id, waker)?;
            return Poll::Pending;
        }
        if len > 0 || self.eof {
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
    pub(in crate::streams::reader) fn poll_readexactly(
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
    pub(in crate::streams::reader) fn poll_readuntil(
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
    pub(in crate::streams::reader) fn poll_readline(
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
