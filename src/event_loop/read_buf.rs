//! Where a plain protocol's read lands: the window of the loop's shared read buffer
//! (`LoopInner::read_buf`) that socket, pipe and datagram transports read into before
//! `data_received` / `datagram_received`. CPython reads into a fresh `bytes` of `max_size`
//! (256 KiB) per `recv`; here one buffer per loop serves every plain transport, taken out for
//! one read and its callback, then put back.
//!
//! Ground rule: every read into the shared buffer goes through [`read_window`], so that all
//! of them start at a cache-line boundary.

use std::ops::Range;

use crate::constants::MAX_READ_SIZE;

/// The boundary a read window starts at: a cache line. The buffer is a 256 KiB allocation,
/// which glibc serves from `mmap` 16 bytes past a page boundary; the kernel's copy into (recv,
/// read) and out of (an echo's send) memory at that offset measured ~60 % slower per byte on
/// AMD EPYC than at a 64-byte boundary (bulk echo on the Protocol layer, 1.0-1.3 s of server
/// CPU per GiB against 0.5-0.65 s). Pipe reads (at most the pipe's 64 KiB) showed no
/// difference either way; they take the same window so that no read into the buffer differs.
const READ_ALIGN: usize = 64;

/// Sizes the shared buffer for one read (on first use) and gives the window to read into:
/// `MAX_READ_SIZE` bytes starting at the buffer's first `READ_ALIGN` boundary.
#[inline]
pub(crate) fn read_window(buf: &mut Vec<u8>) -> Range<usize> {
    if buf.len() < MAX_READ_SIZE + READ_ALIGN {
        buf.resize(MAX_READ_SIZE + READ_ALIGN, 0);
    }
    let at = aligned_start(buf);
    at..at + MAX_READ_SIZE
}

/// The first index of `buf` at a `READ_ALIGN` boundary (0 if the platform will not say).
#[inline]
fn aligned_start(buf: &[u8]) -> usize {
    let at = buf.as_ptr().align_offset(READ_ALIGN);
    if at < READ_ALIGN {
        at
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_max_read_size_long_at_a_cache_line_boundary_inside_the_buffer() {
        // Empty, short, already sized and longer buffers: each is grown at most once.
        for len in [
            0,
            1,
            MAX_READ_SIZE,
            MAX_READ_SIZE + READ_ALIGN,
            2 * MAX_READ_SIZE,
        ] {
            let mut buf = vec![0u8; len];
            let w = read_window(&mut buf);
            assert_eq!(w.len(), MAX_READ_SIZE, "window length, buffer of {len} B");
            assert!(w.end <= buf.len(), "window {w:?} outside {} B", buf.len());
            let start = buf[w.clone()].as_ptr();
            assert_eq!(start.align_offset(READ_ALIGN), 0, "window {w:?} of {len} B");
            let (ptr, cap) = (buf.as_ptr(), buf.capacity());
            assert_eq!(read_window(&mut buf), w, "the same window again");
            assert_eq!((buf.as_ptr(), buf.capacity()), (ptr, cap), "no regrowth");
        }
    }
}
