//! `recv` and `send` on a connected socket, straight through the system call on Linux.
//!
//! glibc's `recv()` and `send()` (what `std` calls) are pthread cancellation points: each
//! wraps the system call in `__pthread_enable_asynccancel` / `__pthread_disable_asynccancel`,
//! about 30 user-space instructions per call, so 60 of a Protocol echo's ~780 (callgrind).
//! Nothing in this crate cancels threads, and a cancellation point only matters to a thread
//! that `pthread_cancel` may target, so the loop's two calls per message go through glibc's
//! plain `syscall()` instead, which has no cancellation handling. Same system calls, same
//! flags as std (`MSG_NOSIGNAL` on send: a closed peer gives `EPIPE`, never `SIGPIPE`), same
//! errors (`syscall()` sets `errno` on failure). Elsewhere, std's calls.
//!
//! Also `send_vectored` (`writelines`' one `sendmsg`, with `MSG_NOSIGNAL` where std's `writev`
//! has no flags), `unsent`, the `SIOCOUTQ` ioctl behind `BufferInfo::kernel_unsent`, and
//! `sendfile` for `StreamWriter::sendfile`. The only `unsafe` here is those FFI calls.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;

/// `recv(fd, buf, 0)`: bytes read, 0 at EOF.
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes for the whole call, and
    // the kernel writes at most that many; null address arguments ask for no peer address.
    let n = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf.as_mut_ptr(),
            buf.len(),
            0,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `send(fd, buf, MSG_NOSIGNAL)`: bytes written.
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is a valid, readable region of `buf.len()` bytes for the whole call; a
    // null destination with length 0 is what `send` passes for a connected socket.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::socklen_t,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// One vectored send, `MSG_NOSIGNAL` like [`send`]: std's `write_vectored` is `writev`, which
/// raises `SIGPIPE` when the peer has gone (fatal to a host that has not ignored it). At most
/// `UIO_MAXIOV` slices go in one call, as std caps `writev`; the caller keeps the rest queued.
#[cfg(target_os = "linux")]
pub(crate) fn send_vectored(fd: RawFd, bufs: &[std::io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: an all-zero `msghdr` is valid (null name and control, no flags).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is ABI-compatible with `iovec` on Unix (std's guarantee); the kernel only
    // reads through the pointer, so the `*mut` asked for by the C type is never written.
    msg.msg_iov = bufs.as_ptr().cast::<libc::iovec>().cast_mut();
    msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
    // SAFETY: `msg` points at `msg_iovlen` valid, readable slices, alive for the whole call,
    // and has no name or control buffer.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendmsg,
            fd,
            &msg as *const libc::msghdr,
            libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `sendfile(out, file, &offset, len)`: bytes sent from `file` at `*offset` (which moves on by
/// as many), 0 at the file's end. The file's own position is left alone. `sendfile` has no
/// `MSG_NOSIGNAL`: the caller wraps it in `without_sigpipe`.
#[cfg(target_os = "linux")]
pub(crate) fn sendfile(out: RawFd, file: RawFd, offset: &mut u64, len: usize) -> io::Result<usize> {
    let Ok(mut off) = libc::off_t::try_from(*offset) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    // SAFETY: `off` is a valid, writable `off_t` for the call, which only reads two
    // descriptors and writes through that one pointer; a bad descriptor only makes it fail.
    let n = unsafe { libc::sendfile(out, file, &mut off, len) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off as u64;
    Ok(n as usize)
}

/// Bytes in the socket's send queue not yet sent (`ioctl(SIOCOUTQ)`); `None` if the call
/// fails.
#[cfg(target_os = "linux")]
pub(crate) fn unsent(fd: RawFd) -> Option<usize> {
    #[cfg(test)]
    crate::transport::KERNEL_UNSENT_ASKED.with(|n| n.set(n.get() + 1));
    let mut n: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ's number) writes one `int` through the pointer, which points
    // at `n`, alive for the call; a bad descriptor only makes the call fail.
    let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
    (r == 0).then(|| usize::try_from(n).unwrap_or(0))
}

/// Elsewhere the kernel does not say.
#[cfg(not(target_os = "linux"))]
pub(crate) fn unsent(_fd: RawFd) -> Option<usize> {
    None
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    #[cfg(target_os = "linux")]
    #[test]
    fn recv_and_send_move_bytes_and_report_errno() {
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert_eq!(super::send(a.as_raw_fd(), b"ping").unwrap(), 4);
        let mut got = [0u8; 8];
        assert_eq!(b.read(&mut got).unwrap(), 4);
        assert_eq!(&got[..4], b"ping");
        b.write_all(b"pong").unwrap();
        let mut back = [0u8; 8];
        assert_eq!(super::recv(a.as_raw_fd(), &mut back).unwrap(), 4);
        assert_eq!(&back[..4], b"pong");
        a.set_nonblocking(true).unwrap();
        let e = super::recv(a.as_raw_fd(), &mut back).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        drop(b);
        assert_eq!(super::recv(a.as_raw_fd(), &mut back).unwrap(), 0, "EOF");
        let e = super::send(a.as_raw_fd(), b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "EPIPE, and no SIGPIPE");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn send_vectored_sends_the_slices_in_order_and_reports_epipe() {
        use std::io::IoSlice;
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let slices = [IoSlice::new(b"pi"), IoSlice::new(b""), IoSlice::new(b"ng")];
        assert_eq!(super::send_vectored(a.as_raw_fd(), &slices).unwrap(), 4);
        let mut got = [0u8; 8];
        assert_eq!(b.read(&mut got).unwrap(), 4);
        assert_eq!(&got[..4], b"ping");
        drop(b);
        let e = super::send_vectored(a.as_raw_fd(), &slices).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "EPIPE, and no SIGPIPE");
    }
}
