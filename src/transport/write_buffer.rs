//! The socket transport's write buffer: bytes the kernel has not taken yet.
//!
//! Mirrors `_SelectorSocketTransport._buffer` in CPython `Lib/asyncio/selector_events.py`.
//! CPython 3.12 keeps a deque of chunks and flushes with `sendmsg`; we keep one contiguous
//! `Vec<u8>` with a consumed prefix, which needs one `send` per flush, copies each unsent byte
//! exactly once, and allocates only when the buffer first grows (none per message once warm).
//! Vectored sends still happen where they pay: `writelines` on an empty buffer sends its
//! slices with one `writev` before copying anything.

use std::io;

/// A FIFO of unsent bytes.
#[derive(Default, Debug)]
pub(crate) struct WriteBuffer {
    /// Storage; the unsent bytes are `buf[start..]`.
    buf: Vec<u8>,
    /// Bytes at the front already sent. Invariant: `start <= buf.len()`, and `start == 0`
    /// whenever the buffer is empty.
    start: usize,
}

/// Capacity kept after the buffer drains; more is released (a burst's memory is not kept for
/// an idle connection).
const KEEP_CAPACITY: usize = 64 * 1024;

impl WriteBuffer {
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends bytes, compacting first if the sent prefix is at least half the storage.
    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Appends what a vectored write of `chunks` left unsent: all but their first `sent`
    /// bytes.
    pub(crate) fn push_unsent(&mut self, chunks: &[std::io::IoSlice<'_>], sent: usize) {
        let mut skip = sent;
        for c in chunks {
            if skip >= c.len() {
                skip -= c.len();
                continue;
            }
            self.push(&c[skip..]);
            skip = 0;
        }
    }

    /// The unsent bytes, oldest first.
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Marks `n` bytes as sent.
    pub(crate) fn consume(&mut self, n: usize) {
        let len = self.len();
        debug_assert!(n <= len, "consumed {n} of {len} buffered bytes");
        self.start += n.min(len);
        if self.start == self.buf.len() {
            self.clear();
        }
    }

    /// Drops everything (abort, fatal error).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
        if self.buf.capacity() > KEEP_CAPACITY {
            self.buf.shrink_to(KEEP_CAPACITY);
        }
    }

    /// Sends as much as `send` takes, stopping at `WouldBlock`; retries `Interrupted`.
    /// Returns how many bytes went out, or the first other error (bytes stay queued).
    pub(crate) fn flush_with(
        &mut self,
        mut send: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut total = 0;
        while !self.is_empty() {
            match send(self.as_slice()) {
                Ok(0) => break,
                Ok(n) => {
                    self.consume(n);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_across_partial_sends_and_compaction() {
        let mut b = WriteBuffer::default();
        let mut out = Vec::new();
        let mut next = 0u8;
        for round in 0..200usize {
            let chunk: Vec<u8> = (0..(round % 17 + 1))
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            b.push(&chunk);
            let take = round % 5;
            let _ = b.flush_with(|s| {
                let n = take.min(s.len());
                out.extend_from_slice(&s[..n]);
                if n == 0 {
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(n)
                }
            });
            assert!(b.start <= b.buf.len());
        }
        b.flush_with(|s| {
            out.extend_from_slice(s);
            Ok(s.len())
        })
        .unwrap();
        assert!(b.is_empty());
        assert_eq!(b.start, 0, "empty buffer resets its offset");
        let mut expect = 0u8;
        for byte in out {
            expect = expect.wrapping_add(1);
            assert_eq!(byte, expect);
        }
    }

    #[test]
    fn errors_keep_bytes_queued_and_interrupted_retries() {
        let mut b = WriteBuffer::default();
        b.push(b"hello");
        let mut calls = 0;
        let sent = b
            .flush_with(|b| {
                calls += 1;
                if calls == 1 {
                    Err(io::ErrorKind::Interrupted.into())
                } else {
                    Ok(b.len().min(2))
                }
            })
            .unwrap();
        assert_eq!(sent, 5);
        b.push(b"abc");
        let e = b
            .flush_with(|_| Err(io::ErrorKind::BrokenPipe.into()))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(b.as_slice(), b"abc");
    }
}
