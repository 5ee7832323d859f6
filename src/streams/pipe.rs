//! Streams over pipes and the process's standard input and output: [`stdin`], [`stdout`],
//! [`open_read_pipe`], [`open_write_pipe`].
//!
//! CPython has no `asyncio.stdin()`; the usual recipe is
//! `loop.connect_read_pipe(lambda: StreamReaderProtocol(reader), sys.stdin)` and
//! `loop.connect_write_pipe(FlowControlMixin, sys.stdout)`. These functions are that recipe,
//! with two differences:
//!
//! - **The descriptor is duplicated.** CPython's recipe hands `sys.stdin` itself to the
//!   transport, so closing the transport closes fd 0 for the rest of the process. Here
//!   `stdin()`/`stdout()` `dup` fd 0/1 first (close-on-exec), so closing the stream closes
//!   only the copy; the process keeps its fd 0/1.
//! - **Descriptors the loop cannot poll fall back to a helper thread.** A pipe transport
//!   takes no regular file or directory, epoll refuses `/dev/null` with `EPERM`, and a
//!   terminal is better left blocking (it is shared with the shell). For those, a thread
//!   copies between the descriptor (blocking) and one end of a new pipe, and the stream uses
//!   the pipe's other end. The standard input
//!   thread ends at end of file, or when the stream is gone (its reader dropped, which closes
//!   the pipe, or its loop closed) and it next has data to pass on;
//!   blocked reading a terminal, it lives until the process exits (it holds nothing else). The
//!   standard output thread ends when the stream is closed and everything written was passed on;
//!   [`StreamWriter::wait_closed`] returns once that thread has written everything to the
//!   descriptor and closed it (with its write error, if it had one; an error that no
//!   `wait_closed` took is logged once the stream is gone, except `EIO`, a terminal that hung
//!   up, which ends a session quietly). A read error of the
//!   standard input thread (a directory given as input, a failing disk) reaches the reader as
//!   that error where the pipe would only show an end of file; `EIO`, a terminal whose other
//!   side has gone, stays an end of file, as CPython's read pipe treats it. For pipes and
//!   sockets (the usual case under a supervisor or in a shell pipeline) there is no thread.
//!
//! **Non-blocking mode is shared.** `O_NONBLOCK` belongs to the open file description, which
//! the duplicate shares with fd 0/1 and with every process that inherited it: while the stream
//! is open, blocking reads of fd 0 (e.g. `std::io::stdin()`) in this process, or in a child
//! given the same pipe, may fail with `WouldBlock`. CPython has the same issue. The helper
//! thread path does not change the mode.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, IsTerminal};
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::core::StreamCore;
use super::reader::{ReaderState, StreamReader};
use super::writer::StreamWriter;
use crate::constants::DEFAULT_LIMIT;
use crate::error::Error;
use crate::event_loop::signals::block_sigpipe_in_this_thread;
use crate::transport::pipe::{is_pipe_like, os_pipe, Direction};
use crate::wakers::KeyedWakers;

/// A [`StreamReader`] over the process's standard input (fd 0, duplicated first), for
/// pipes, sockets, files and terminals alike (see the module docs for how each is read).
/// Dropping the reader closes the stream: the duplicate, never fd 0.
///
/// # Errors
/// `Error::Io` if fd 0 cannot be duplicated (it is closed) or a helper thread cannot start;
/// `InvalidState` outside a running loop.
///
/// # Examples
///
/// ```no_run
/// asyncio::run(async {
///     let input = asyncio::stdin().await?;
///     loop {
///         let line = input.readline().await?;
///         if line.is_empty() {
///             break; // end of input
///         }
///         print!("got {}", String::from_utf8_lossy(&line));
///     }
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub async fn stdin() -> Result<StreamReader, Error> {
    let fd = io::stdin().as_fd().try_clone_to_owned()?;
    open_read_pipe(fd).await
}

/// A [`StreamWriter`] to the process's standard output (fd 1, duplicated first), for pipes,
/// sockets, files and terminals alike. Rust's `print!` buffers separately: do not mix the two
/// on one line.
///
/// # Errors
/// `Error::Io` if fd 1 cannot be duplicated or a helper thread cannot start; `InvalidState`
/// outside a running loop.
///
/// # Examples
///
/// ```
/// asyncio::run(async {
///     let out = asyncio::stdout().await?;
///     out.write(b"hello from the loop\n")?;
///     out.drain().await?;
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub async fn stdout() -> Result<StreamWriter, Error> {
    let fd = io::stdout().as_fd().try_clone_to_owned()?;
    open_write_pipe(fd).await
}

/// A [`StreamReader`] over any readable descriptor: a pipe or socket directly, a regular
/// file, `/dev/null` or a terminal through a helper thread (see the module docs). Takes
/// ownership of `fd`; dropping the reader closes the stream (and so `fd`).
///
/// # Errors
/// `Error::Io` if a helper thread cannot start; `InvalidState` outside a running loop.
///
/// # Examples
///
/// ```
/// use std::io::Write;
///
/// asyncio::run(async {
///     let (r, mut w) = std::os::unix::net::UnixStream::pair()?; // or a pipe
///     w.write_all(b"one\ntwo\n")?;
///     drop(w);
///     let reader = asyncio::open_read_pipe(r).await?;
///     assert_eq!(reader.readline().await?, b"one\n");
///     assert_eq!(reader.readline().await?, b"two\n");
///     assert_eq!(reader.readline().await?, b"");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub async fn open_read_pipe(fd: impl Into<OwnedFd>) -> Result<StreamReader, Error> {
    let (fd, helper) = pollable(fd.into(), Direction::Read)?;
    let lp = crate::event_loop::get_running_loop()?;
    let core = StreamCore::new(ReaderState::new(DEFAULT_LIMIT)?);
    if let Some(done) = helper {
        return read_via(&lp, fd, core, done).await;
    }
    let spare = fd.try_clone()?;
    core.borrow_mut().read_pipe(None);
    match lp.connect_pipe_rc(fd, Direction::Read, core.clone()).await {
        Err(Error::Io(e)) if e.raw_os_error() == Some(libc::EPERM) => {
            let (fd, done) = via_thread(spare, Direction::Read)?;
            let core = StreamCore::new(ReaderState::new(DEFAULT_LIMIT)?);
            return read_via(&lp, fd, core, done).await;
        }
        other => other?,
    };
    Ok(StreamReader::from_core(core))
}

/// The reader over a helper thread's pipe: the stream's own core as the protocol (buffered:
/// the pipe is read straight into the reader's buffer), told of the thread's read error at the
/// end of input. The thread records the error before it closes the pipe, so it is there when
/// the end of input arrives.
async fn read_via(
    lp: &crate::event_loop::LoopHandle,
    fd: OwnedFd,
    core: Rc<RefCell<StreamCore>>,
    done: Arc<HelperDone>,
) -> Result<StreamReader, Error> {
    core.borrow_mut().read_pipe(Some(done));
    lp.connect_pipe_rc(fd, Direction::Read, core.clone())
        .await?;
    Ok(StreamReader::from_core(core))
}

/// A [`StreamWriter`] to any writable descriptor: a pipe or socket directly, a regular
/// file, `/dev/null` or a terminal through a helper thread (see the module docs). Takes
/// ownership of `fd`. The writer's `write_eof()` and `close()` both close the descriptor
/// once the buffer is flushed.
///
/// # Errors
/// `Error::Io` if a helper thread cannot start; `InvalidState` outside a running loop.
///
/// # Examples
///
/// ```
/// use std::io::Read;
///
/// asyncio::run(async {
///     let (mut r, w) = std::os::unix::net::UnixStream::pair()?; // or a pipe
///     let writer = asyncio::open_write_pipe(w).await?;
///     writer.write(b"line\n")?;
///     writer.close();
///     writer.wait_closed().await?;
///     let mut got = String::new();
///     r.read_to_string(&mut got)?;
///     assert_eq!(got, "line\n");
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
pub async fn open_write_pipe(fd: impl Into<OwnedFd>) -> Result<StreamWriter, Error> {
    let (fd, helper) = pollable(fd.into(), Direction::Write)?;
    let lp = crate::event_loop::get_running_loop()?;
    let spare = fd.try_clone()?;
    let core = StreamCore::new(ReaderState::new(DEFAULT_LIMIT)?);
    let transport = match lp.connect_pipe_rc(fd, Direction::Write, core.clone()).await {
        Err(Error::Io(e)) if e.raw_os_error() == Some(libc::EPERM) => {
            let (fd, done) = via_thread(spare, Direction::Write)?;
            let core = StreamCore::new(ReaderState::new(DEFAULT_LIMIT)?);
            let t = lp
                .connect_pipe_rc(fd, Direction::Write, core.clone())
                .await?;
            return Ok(StreamWriter::new(t, core).with_helper(Some(done)));
        }
        other => other?,
    };
    Ok(StreamWriter::new(transport, core).with_helper(helper))
}

/// `fd` itself if the loop can poll it, else the loop's end of a helper thread's pipe (and,
/// writing, the thread's completion).
fn pollable(
    fd: OwnedFd,
    direction: Direction,
) -> Result<(OwnedFd, Option<Arc<HelperDone>>), Error> {
    let file = File::from(fd);
    // A regular file, a directory: no pipe transport takes them (an fstat that fails leaves
    // the descriptor to the transport, which reports it).
    let pipe_like = file
        .metadata()
        .map_or(true, |m| is_pipe_like(&m.file_type()));
    if !pipe_like || file.is_terminal() {
        let (fd, done) = via_thread(OwnedFd::from(file), direction)?;
        Ok((fd, Some(done)))
    } else {
        Ok((OwnedFd::from(file), None))
    }
}

/// A helper thread's end: set once it has passed everything on and closed its descriptor, with
/// its error if it had one. Writing, [`StreamWriter::wait_closed`] waits for it; reading, the
/// reader's end of input looks at it (`StreamCore::read_pipe`).
pub(crate) struct HelperDone {
    /// The thread, for the report of an error nobody took (`Drop`).
    name: &'static str,
    state: Mutex<HelperState>,
}

#[derive(Default)]
struct HelperState {
    /// `Some` once the thread is done: its write error, if any.
    outcome: Option<Option<io::Error>>,
    /// Every `wait_closed` waiting (any number may wait at once, S46), each under its key: a
    /// wait dropped first takes its entry back ([`HelperDone::withdraw`]).
    waiters: KeyedWakers,
    /// The error was handed on (to a `wait_closed`, or to the reader as its exception): the
    /// caller has it, so dropping it is not losing it.
    taken: bool,
}

impl HelperDone {
    fn new(name: &'static str) -> Arc<HelperDone> {
        Arc::new(HelperDone {
            name,
            state: Mutex::default(),
        })
    }

    fn finish(&self, result: io::Result<()>) {
        let waiters = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            st.outcome = Some(result.err());
            st.waiters.take()
        };
        waiters.into_iter().for_each(Waker::wake);
    }
}

/// A writer's `wait_closed` waits for the thread, and a reader's end of input asks its error,
/// through this (see `writer.rs`).
impl super::writer::HelperWait for HelperDone {
    /// Ready once the thread is done: `Err` with (a copy of) its write error. Else files the
    /// wait `*key` (see `wakers.rs`), which [`withdraw`](Self::withdraw) takes back if the
    /// wait is dropped first.
    fn poll_done(&self, key: &mut u64, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &st.outcome {
            Some(err) => Poll::Ready(match err {
                Some(e) => {
                    let e = crate::error::copy_io(e);
                    st.taken = true;
                    Err(e.into())
                }
                None => Ok(()),
            }),
            None => {
                let replaced = st.waiters.file(key, cx.waker());
                drop(st);
                drop(replaced); // after the lock: dropping a waker may run its task's code
                Poll::Pending
            }
        }
    }

    /// A copy of the thread's error, if it is done and had one.
    fn error(&self) -> Option<io::Error> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let e = st.outcome.as_ref()?.as_ref().map(crate::error::copy_io);
        st.taken |= e.is_some();
        e
    }

    /// Takes back the entry of the wait `key`, dropped before the thread ended.
    fn withdraw(&self, key: u64) {
        let waker = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .waiters
            .remove(key);
        drop(waker); // after the lock
    }
}

/// Never silent: an error nobody took (no `wait_closed` awaited it, no reader reached the end
/// of input) is reported as the last of the thread and the stream lets go of it, whichever
/// that is, on whichever thread (stderr when no logger is installed). Except `EIO`, a terminal
/// that hung up: how a session ends, as quiet as the pipe transport's own `EIO`.
impl Drop for HelperDone {
    fn drop(&mut self) {
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let (Some(Some(e)), false) = (&st.outcome, st.taken) {
            if e.raw_os_error() == Some(libc::EIO) {
                return;
            }
            crate::event_loop::debug::error!(
                "{} helper thread failed and nobody awaited the stream to hear it: {e}",
                self.name
            );
        }
    }
}

/// Starts a thread copying between `fd` (blocking) and a new pipe; returns the pipe's end
/// for the loop and the thread's completion.
fn via_thread(fd: OwnedFd, direction: Direction) -> Result<(OwnedFd, Arc<HelperDone>), Error> {
    let (r, w) = os_pipe()?;
    let (r, w) = (File::from(r), File::from(w));
    let mut file = File::from(fd);
    let builder = std::thread::Builder::new();
    match direction {
        Direction::Read => {
            let mut w = w;
            const NAME: &str = "asyncio-stdin";
            let done = HelperDone::new(NAME);
            let tell = done.clone();
            builder.name(NAME.into()).spawn(move || {
                // The stream may go first: then the write fails with EPIPE, not SIGPIPE.
                block_sigpipe_in_this_thread();
                let result = match copy(&mut file, &mut w) {
                    // The reader hears of a read error; EIO (a terminal hung up) is an end
                    // of input, as CPython's read pipe has it; a write error means the
                    // stream is gone, with nobody left to tell.
                    Err(Copy::Read(e)) if e.raw_os_error() != Some(libc::EIO) => Err(e),
                    _ => Ok(()),
                };
                tell.finish(result); // before the pipe closes: the reader looks at its EOF
                drop(w);
            })?;
            Ok((OwnedFd::from(r), done))
        }
        Direction::Write => {
            let mut r = r;
            const NAME: &str = "asyncio-stdout";
            let done = HelperDone::new(NAME);
            let tell = done.clone();
            builder.name(NAME.into()).spawn(move || {
                // Whatever the descriptor is, a gone reader is an error to report, not SIGPIPE.
                block_sigpipe_in_this_thread();
                let result = copy(&mut r, &mut file).map_err(Copy::into_error);
                drop(file); // closed before wait_closed may return
                tell.finish(result);
            })?;
            Ok((OwnedFd::from(w), done))
        }
    }
}

/// Which side of a [`copy`] failed.
enum Copy {
    Read(io::Error),
    Write(io::Error),
}

impl Copy {
    fn into_error(self) -> io::Error {
        match self {
            Copy::Read(e) | Copy::Write(e) => e,
        }
    }
}

/// Copies until end of file or an error on either side.
fn copy(from: &mut impl io::Read, to: &mut impl io::Write) -> Result<(), Copy> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Copy::Write)?;
        to.flush().map_err(Copy::Write)?;
    }
}
