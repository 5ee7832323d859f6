//! Native `sendfile` on the socket transport: the kernel copies a file to the socket, no byte
//! passes through user space.
//!
//! Mirrors CPython's `_SelectorSocketTransport` side of `loop.sendfile` (`_sendfile_native` in
//! `Lib/asyncio/selector_events.py`, `_sock_sendfile_native` in `unix_events.py`). Ground
//! rules:
//! - while a sendfile runs, it owns the socket's sending side: the write side is
//!   `WriteSide::Sendfile`, so `write`, `writelines` and `write_eof` are refused
//!   (`unable to write; sendfile is in progress`) and nothing is queued behind its back;
//!   reading is paused, as CPython pauses it, and resumed after if it was on;
//! - it starts only once the write buffer is empty (CPython's `_make_empty_waiter`): bytes
//!   written before go out first, in order;
//! - it waits for room on the transport's own writable edges: `write_ready` wakes it
//!   (`wake_sendfile`), and so does the connection's end (`release`). Its waker waits in a
//!   per-thread list, not in the transport: sendfiles are rare, and an idle connection stays
//!   small (the streams target: under 1 KiB);
//! - a `sendfile(2)` that fails before any byte went with "not for this file or socket"
//!   (`EINVAL`, `ESPIPE`, ...) is `Unavailable`: the caller falls back to reading and writing,
//!   as CPython's `SendfileNotAvailableError` does. Any other failure is the caller's error.
//!
//! The stream-level call is `StreamWriter::sendfile` (`streams/sendfile.rs`).

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll, Waker};

use super::{SocketTransport, State, WriteSide};
use crate::error::Error;
use crate::event_loop::executor::waker::wake_caught;
use crate::transport::TransportImpl;

/// `sendfile(2)` calls per poll before giving the rest of the loop a turn (as reads, L59).
const SENDS_PER_POLL: usize = 16;

/// Bytes asked of one `sendfile(2)` call: 64 KiB, the kernel's own splice step (16 pages).
/// Asking for the whole file (up to Linux's 2 GiB cap per call) halved the rate over
/// loopback: one call then fills the whole socket buffer before the receiver gets going
/// (`cargo bench --bench sendfile`, 2 vCPUs, 2026-12-05: about 1 950 MiB/s and 770 ms CPU per
/// GiB asked whole, 3 700-5 000 MiB/s and 365-425 ms in 64 KiB calls).
const MAX_CHUNK: usize = 64 * 1024;

thread_local! {
    /// The sendfiles of this thread's loops waiting for room or for an empty buffer: the
    /// transport's address and the waker. At most one per transport.
    static WAITING: RefCell<Vec<(usize, Waker)>> = const { RefCell::new(Vec::new()) };
}

/// Where a native sendfile is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendJob {
    /// The file offset of the next byte to send.
    pub(crate) offset: u64,
    /// Bytes still to send; `None`: to the end of the file.
    pub(crate) left: Option<u64>,
    /// Bytes sent so far.
    pub(crate) sent: u64,
}

/// Why a native sendfile stopped short.
#[derive(Debug)]
pub(crate) enum SendfileError {
    /// `sendfile(2)` cannot do this file or socket, and nothing was sent: fall back.
    Unavailable,
    /// The send failed (or the transport was closed) after `sent` bytes.
    Failed(Error),
}

/// A second sendfile on a transport that runs one (native or block by block): refused, the
/// first goes on.
pub(crate) fn sendfile_in_progress() -> Error {
    Error::invalid_state("sendfile is already in progress")
}

impl SocketTransport {
    /// Hands the sending side to a sendfile and pauses reading. Returns whether reading was
    /// on, for [`end_sendfile`](Self::end_sendfile).
    ///
    /// # Errors
    /// `InvalidState`: the transport is closing, `write_eof` was called, or a sendfile is
    /// already running.
    pub(crate) fn begin_sendfile(&self) -> Result<bool, Error> {
        if self.life.state() != State::Open {
            return Err(Error::invalid_state("Transport is closing"));
        }
        match self.write_side.get() {
            WriteSide::Open => {}
            WriteSide::Sendfile => {
                return Err(sendfile_in_progress());
            }
            WriteSide::EofPending | WriteSide::ShutDown => {
                return Err(Error::invalid_state(
                    "Cannot call sendfile() after write_eof()",
                ));
            }
        }
        self.set_write_side(WriteSide::Sendfile);
        let was_reading = self.life.is_reading();
        TransportImpl::pause_reading(self);
        Ok(was_reading)
    }

    /// This transport's name in [`WAITING`].
    fn waiting_key(&self) -> usize {
        std::ptr::from_ref(self).addr()
    }

    /// Takes this transport's waker out of [`WAITING`], if it is there. Out of line: only a
    /// sendfile needs it, and its three callers (the write path's among them) share one copy.
    #[inline(never)]
    fn take_waiter(&self) -> Option<Waker> {
        let key = self.waiting_key();
        WAITING.with(|w| {
            let mut w = w.borrow_mut();
            let i = w.iter().position(|(k, _)| *k == key)?;
            Some(w.swap_remove(i).1)
        })
    }

    /// The transport is going with its loop: a waiting sendfile is left to its drop.
    pub(super) fn forget_sendfile(&self) {
        drop(self.take_waiter());
    }

    /// Gives the sending side back and resumes reading if it was on before.
    pub(crate) fn end_sendfile(&self, was_reading: bool) {
        drop(self.take_waiter());
        if self.write_side.get() == WriteSide::Sendfile {
            self.set_write_side(WriteSide::Open);
        }
        if was_reading && self.life.state() == State::Open {
            TransportImpl::resume_reading(self);
        }
    }

    /// A writable edge, or the end of the connection: the sendfile looks again. Its waker
    /// may be another executor's (a sendfile polled by hand), whose panic is reported as a
    /// callback's (`wake_caught`). Not `wake_in`'s direct queueing: `release` also runs
    /// while the loop is not running (closing), where `wake()` takes the thread-safe way.
    pub(super) fn wake_sendfile(&self) {
        if let Some(w) = self.take_waiter() {
            wake_caught(self.lp(), w, "sendfile wake-up");
        }
    }

    fn wait_for_room(&self, waker: &Waker) {
        let key = self.waiting_key();
        let old = WAITING.with(|w| {
            let mut w = w.borrow_mut();
            match w.iter_mut().find(|(k, _)| *k == key) {
                Some((_, old)) if old.will_wake(waker) => None,
                Some((_, old)) => Some(std::mem::replace(old, waker.clone())),
                None => {
                    w.push((key, waker.clone()));
                    None
                }
            }
        });
        drop(old); // after the borrow: a waker's drop may run user code
    }

    /// Ready once the write buffer is empty, or with the error that ended the connection.
    pub(crate) fn poll_flushed(&self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        if self.life.state() >= State::Lost {
            return Poll::Ready(Err(closed_during_sendfile()));
        }
        if self.buffer.borrow().is_empty() {
            return Poll::Ready(Ok(()));
        }
        self.wait_for_room(cx.waker());
        Poll::Pending
    }

    /// Sends from `file` as `job` says until it is done (the count sent or the file's end),
    /// the socket is full (`Pending`, woken by the next writable edge), or a failure.
    pub(crate) fn poll_sendfile(
        &self,
        cx: &Context<'_>,
        file: &File,
        job: &mut SendJob,
    ) -> Poll<Result<(), SendfileError>> {
        for _ in 0..SENDS_PER_POLL {
            let len = match job.left {
                Some(0) => return Poll::Ready(Ok(())),
                Some(n) => usize::try_from(n).map_or(MAX_CHUNK, |n| n.min(MAX_CHUNK)),
                None => MAX_CHUNK,
            };
            if self.life.state() >= State::Lost {
                return Poll::Ready(Err(SendfileError::Failed(closed_during_sendfile())));
            }
            let sent = {
                let sock = self.sock.borrow();
                let Some(sock) = sock.as_ref() else {
                    return Poll::Ready(Err(SendfileError::Failed(closed_during_sendfile())));
                };
                send_some(sock.as_raw_fd(), file, &mut job.offset, len)
            };
            match sent {
                Ok(0) => return Poll::Ready(Ok(())), // the file's end
                Ok(n) => {
                    job.sent += n as u64;
                    if let Some(left) = &mut job.left {
                        *left = left.saturating_sub(n as u64);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wait_for_room(cx.waker());
                    return Poll::Pending;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if job.sent == 0 && not_for_this_file(&e) => {
                    return Poll::Ready(Err(SendfileError::Unavailable));
                }
                Err(e) => return Poll::Ready(Err(SendfileError::Failed(Error::Io(e)))),
            }
        }
        // More to send and room for it: go on at the next turn, after the others.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(target_os = "linux")]
fn send_some(sock: i32, file: &File, offset: &mut u64, len: usize) -> io::Result<usize> {
    crate::event_loop::signals::without_sigpipe(|| {
        super::sys::sendfile(sock, file.as_raw_fd(), offset, len)
    })
}

/// Elsewhere there is no native path: every sendfile falls back.
#[cfg(not(target_os = "linux"))]
fn send_some(_sock: i32, _file: &File, _offset: &mut u64, _len: usize) -> io::Result<usize> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// The errors that say `sendfile(2)` cannot serve this pair of descriptors, rather than that
/// the connection failed: the file cannot be mapped or sought (a pipe, a socket, some special
/// files), the offset is out of range, or there is no such call.
fn not_for_this_file(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ESPIPE | libc::EOVERFLOW | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

/// The error of a sendfile whose transport closed under it, on either path.
#[cold]
pub(crate) fn closed_during_sendfile() -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the transport was closed during sendfile",
    ))
}
