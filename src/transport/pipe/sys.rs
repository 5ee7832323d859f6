//! The one system call the pipe transport makes itself: `ioctl(FIONREAD)` on a pipe's write
//! end, behind `BufferInfo::kernel_unsent`. On Linux it counts the bytes in the pipe that its
//! reader has not taken yet, from either end (the two ends share one buffer). The only
//! `unsafe` here is that FFI call.
#![allow(unsafe_code)]

use std::os::fd::RawFd;

/// Bytes in the pipe not yet read (`ioctl(FIONREAD)`); `None` if the call fails.
#[cfg(target_os = "linux")]
pub(super) fn unread(fd: RawFd) -> Option<usize> {
    #[cfg(test)]
    crate::transport::KERNEL_UNSENT_ASKED.with(|n| n.set(n.get() + 1));
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one `int` through the pointer, which points at `n`, alive for
    // the call; a bad descriptor only makes the call fail.
    let r = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n as *mut libc::c_int) };
    (r == 0).then(|| usize::try_from(n).unwrap_or(0))
}

/// Elsewhere not every system counts a pipe's bytes from its write end: not said.
#[cfg(not(target_os = "linux"))]
pub(super) fn unread(_fd: RawFd) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn unread_counts_the_bytes_in_the_pipe_from_the_write_end() {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        let (mut w, mut r) = mio::unix::pipe::new().unwrap();
        assert_eq!(super::unread(w.as_raw_fd()), Some(0));
        w.write_all(&[1; 100]).unwrap();
        assert_eq!(super::unread(w.as_raw_fd()), Some(100));
        let mut got = [0; 40];
        r.read_exact(&mut got).unwrap();
        assert_eq!(super::unread(w.as_raw_fd()), Some(60));
        assert_eq!(super::unread(-1), None, "a bad descriptor");
    }
}
