//! Unix signals for the loop: `add_signal_handler` / `remove_signal_handler`.
//!
//! Mirrors `_UnixSelectorEventLoop.add_signal_handler`, `remove_signal_handler`,
//! `_handle_signal` and `_check_signal` in CPython `Lib/asyncio/unix_events.py`. CPython points
//! `signal.set_wakeup_fd` at the loop's self-pipe; the C-level handler writes the signal number
//! there, and the loop, woken by the pipe, queues the Python callback with `call_soon`.
//!
//! Here each loop that handles signals owns a non-blocking pipe whose read end is an ordinary
//! registration of the loop's mio poll. The process-wide table `WAKEUP` says, per signal, which
//! pipe to write to; the async-signal-safe handler (`on_signal`) only loads that descriptor and
//! writes one byte, the signal number, preserving `errno`. When the loop reads the byte it
//! queues the user's callback on the ready queue: callbacks never run inside the signal handler.
//!
//! Ground rules: dispositions are process-global, so a signal belongs to the loop that last
//! added a handler for it (as with CPython's single wake-up fd, the latest loop wins). Removing a
//! handler, or closing the loop, restores `SIG_DFL` before the pipe is closed, and the pipe is
//! closed only once no handler running on another thread may still write to it; it goes
//! with the last handler (CPython's `set_wakeup_fd(-1)`), so a loop without handlers holds no
//! registration for signals. Unlike CPython,
//! any thread may add handlers: Linux has no main-thread rule for `sigaction`, and the pipe
//! works whichever thread the kernel interrupts. `asyncio::run` still installs its SIGINT
//! handler only on the main thread, as CPython's `Runner` does.
//!
//! Also here, being about signals: [`without_sigpipe`], which keeps a pipe transport's write
//! to a reader that has gone from raising a `SIGPIPE` that would end the process (one the
//! host handles reaches its handler), and [`block_sigpipe_in_this_thread`], the
//! same for the blocking writes of our helper threads.
//!
//! The only `unsafe` here is the FFI: `sigaction`, `pipe2`, `write`, `read`, `gettid`,
//! `pthread_atfork`, and the signal-mask calls (`pthread_sigmask`, `sigpending`, `sigtimedwait`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};

use mio::unix::SourceFd;
use mio::Interest;

use super::io::{IoHandler, Readiness};
use super::{LoopHandle, LoopInner};
use crate::error::Error;
use crate::slots::SlotKey;

/// One past the largest signal number (Python's `signal.NSIG`; 65 on Linux).
pub(crate) const NSIG: i32 = 65;

/// Per signal, the write end of the pipe of the loop handling it; -1 when none does.
/// Read by the signal handler, so only atomics. Every access is `SeqCst`: see [`IN_FLIGHT`].
static WAKEUP: [AtomicI32; NSIG as usize] = [const { AtomicI32::new(-1) }; NSIG as usize];

/// How many `on_signal` calls, on any thread, are between reading a `WAKEUP` slot and their
/// last use of the descriptor read. A loop closes its pipe only once this is 0 after it
/// emptied its slots (`wait_for_writers`); otherwise a handler running on another thread
/// could write to the closed descriptor, or to whatever file reused its number, or, with the
/// read end closed first, raise SIGPIPE. Dekker's pattern, hence `SeqCst` throughout: the
/// handler counts itself and then loads the slot; the remover empties the slot and then reads
/// the count. Either the remover sees the handler counted, or the handler sees the slot empty.
/// A forked child starts it at 0 again (`reset_after_fork`): the threads whose calls it
/// counted did not come along, and would never release them.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Whether `reset_after_fork` is registered with `pthread_atfork` (done on the first
/// disposition set to `on_signal`; retried if it failed). An atomic, not a lock: a child
/// forked while another thread held a lock here would inherit it held, and its own first
/// handler would wait for it for ever.
static AT_FORK: AtomicBool = AtomicBool::new(false);

/// `pthread_atfork`'s child hook: the child has only the thread that forked, so no call
/// counted in [`IN_FLIGHT`] is still running, except one this very thread was inside when
/// a signal handler forked; that one runs to its end before the child's own code resumes
/// (hence the saturating release in `on_signal`).
extern "C" fn reset_after_fork() {
    IN_FLIGHT.store(0, Ordering::SeqCst);
}

/// Registers [`reset_after_fork`] once per process. Threads installing their first handlers
/// at the same moment may each register it: the hook only stores 0, so running it twice in a
/// child is running it once.
fn reset_in_forked_children() -> io::Result<()> {
    #[cfg(test)]
    tests::hook::registering();
    if AT_FORK.load(Ordering::SeqCst) {
        return Ok(());
    }
    // SAFETY: FFI; the hook is an `extern "C"` function that only stores to an atomic,
    // which is all a child of a multi-threaded process may do before `exec`.
    let r = unsafe { libc::pthread_atfork(None, None, Some(reset_after_fork)) };
    if r != 0 {
        return Err(io::Error::from_raw_os_error(r));
    }
    AT_FORK.store(true, Ordering::SeqCst);
    Ok(())
}

/// The C-level handler: writes the signal number to the owning loop's pipe. Async-signal-safe:
/// atomics, `write(2)`, and `errno` saved and restored.
extern "C" fn on_signal(sig: libc::c_int) {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    write_wakeup(sig);
    // Never below 0, which a child's reset could otherwise bring about (`reset_after_fork`).
    // Lock-free, so async-signal-safe.
    let _ = IN_FLIGHT.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
}

/// `on_signal`'s body, between its count in [`IN_FLIGHT`] and its release.
fn write_wakeup(sig: libc::c_int) {
    let Some(slot) = usize::try_from(sig).ok().and_then(|i| WAKEUP.get(i)) else {
        return;
    };
    let fd = slot.load(Ordering::SeqCst);
    if fd < 0 {
        return;
    }
    #[cfg(test)]
    tests::hook::pause(sig);
    // SAFETY: `__errno_location` returns this thread's errno, valid for the thread's life.
    let errno = unsafe { *libc::__errno_location() };
    let byte = sig as u8;
    // SAFETY: `byte` lives on this stack for the call; `write` is async-signal-safe. `fd` is
    // open: its pipe closes only after `wait_for_writers` saw this call's count released. A
    // full pipe (EAGAIN) drops the byte: the loop has that signal's wake-up pending already.
    let _wrote = unsafe { libc::write(fd, (&byte as *const u8).cast(), 1) };
    #[cfg(test)]
    tests::hook::wrote(sig, _wrote);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Sets `sig`'s disposition to `on_signal` (with `SA_RESTART`, as CPython's
/// `siginterrupt(sig, False)`), or to `SIG_DFL`.
fn set_disposition(sig: i32, ours: bool) -> io::Result<()> {
    // SAFETY: an all-zero `sigaction` is a valid value (empty mask, no flags, SIG_DFL).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    if ours {
        reset_in_forked_children()?;
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
    } else {
        action.sa_sigaction = libc::SIG_DFL;
    }
    // SAFETY: `action.sa_mask` is a valid sigset_t inside the struct we own.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: `action` is initialised; a null old-action pointer is allowed. `on_signal` is
    // async-signal-safe.
    if unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `sig` currently has the default disposition (`SIG_DFL`).
pub(crate) fn is_default(sig: i32) -> bool {
    disposition(sig) == Some(libc::SIG_DFL)
}

/// Whether `sig` is currently ignored (`SIG_IGN`), the one disposition an exec keeps.
pub(crate) fn is_ignored(sig: i32) -> bool {
    disposition(sig) == Some(libc::SIG_IGN)
}

/// Runs `write`, one `write(2)` to a pipe (or to anything a pipe transport wraps), so that a
/// reader that has gone is `EPIPE` and never a fatal `SIGPIPE`. Sockets have `MSG_NOSIGNAL`;
/// pipes have no such flag, and a host that keeps `SIGPIPE` at its default action (a C program
/// or a cdylib embedding the loop; Rust's `main` and CPython ignore it) would be killed.
///
/// `SIGPIPE` is blocked in this thread around the write, whatever its disposition, so the
/// signal a failed write raises (thread-directed) waits, pending, while the disposition is
/// read *after* the write: a handler the host installed (its own `sigaction`, a loop's
/// `add_signal_handler`) gets it when the mask is restored, as in CPython, where a handler set
/// with `signal.signal` sees the `SIGPIPE` of every write to a gone reader; at its default
/// action, or ignored, it is taken with a zero-timeout `sigtimedwait` first. Asking before the
/// write, as this did, raced with another thread changing the disposition in between (a C
/// library's `signal(SIGPIPE, SIG_IGN)` … `signal(SIGPIPE, old)` around its own writes): an
/// action seen ignored could be the default by the time of the write, which then ended the
/// process. What is left: a handler replaced by the default action between the read after the
/// write and the mask's restoration, a few instructions (no call hands a signal to a handler
/// only if that handler is still installed). A `SIGPIPE` the host had blocked and already
/// pending is left alone: it is not ours. Cost: two `pthread_sigmask` calls around every write
/// (one system call more than the query before it, which was skipped with `SIGPIPE` ignored);
/// a failed write adds a `sigaction` query and, unless handled, the `sigtimedwait`.
pub(crate) fn without_sigpipe<T>(write: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    // SAFETY: an all-zero `sigset_t` is a valid value for `sigemptyset` to initialise.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above, to be filled by `pthread_sigmask`.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is ours; SIGPIPE is a valid signal number.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
    }
    // SAFETY: both sets are valid for the call; it changes only this thread's mask.
    if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) } != 0 {
        return write(); // not reachable with valid arguments
    }
    // SAFETY: `old` was filled by `pthread_sigmask`.
    let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
    let was_pending = was_blocked && is_pending(libc::SIGPIPE);
    let result = write();
    let raised = matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPIPE));
    // `None`, the query failed (not reachable with a valid number): taken as the default.
    let handled =
        || disposition(libc::SIGPIPE).is_some_and(|d| d != libc::SIG_DFL && d != libc::SIG_IGN);
    if raised && !was_pending && !handled() {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // A handler for another signal may interrupt it; a few tries are plenty.
        for _ in 0..8 {
            // SAFETY: `set` is initialised; a null info pointer is allowed; `zero` makes it
            // poll: SIGPIPE is taken if pending, else EAGAIN at once.
            let r = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) };
            if r != -1 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
    }
    if !was_blocked {
        // SAFETY: `old` is the mask `pthread_sigmask` reported; restoring it is always valid.
        // A `SIGPIPE` left pending for the host's handler is delivered here.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
    result
}

/// Blocks `SIGPIPE` for the rest of the calling thread's life: for a helper thread of ours
/// whose blocking writes may meet a reader that has gone. Its write then fails with `EPIPE`,
/// and the `SIGPIPE` it raised stays pending on the thread until the thread ends, when the
/// kernel discards it; the host's threads are untouched.
pub(crate) fn block_sigpipe_in_this_thread() {
    // SAFETY: an all-zero `sigset_t` is a valid value for `sigemptyset` to initialise.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is ours; SIGPIPE is a valid signal number; a null old-mask pointer is
    // allowed; the call changes only this thread's mask.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// `sig`'s current disposition (`SIG_DFL`, `SIG_IGN` or a handler), `None` if unknown.
fn disposition(sig: i32) -> Option<libc::sighandler_t> {
    // SAFETY: an all-zero `sigaction` is a valid value to be overwritten.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `old` is ours to fill.
    let rc = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    (rc == 0).then_some(old.sa_sigaction)
}

/// Whether `sig` is pending for this thread or the process.
fn is_pending(sig: i32) -> bool {
    // SAFETY: an all-zero `sigset_t` is a valid value to be overwritten.
    let mut pending: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `pending` is a valid out-pointer; after success it is initialised.
    unsafe { libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, sig) == 1 }
}

/// Whether the calling thread is the process's main thread (Linux: its tid is the pid).
pub(crate) fn is_main_thread() -> bool {
    // SAFETY: `gettid` and `getpid` have no preconditions.
    unsafe { libc::gettid() == libc::getpid() }
}

/// CPython's `_check_signal` (3.8 on): the number must be one of `signal.valid_signals()`,
/// i.e. in `range(1, NSIG)` and in the C library's full signal set, which leaves out the
/// signals it reserves for itself (glibc's 32 and 33). Those are `ValueError`s in CPython, as
/// numbers out of range are; SIGKILL and SIGSTOP are valid, and fail later as uncatchable.
fn check_signal(sig: i32) -> Result<(), Error> {
    if !(1..NSIG).contains(&sig) || !in_full_set(sig) {
        return Err(Error::invalid_argument(format!(
            "invalid signal number {sig}"
        )));
    }
    Ok(())
}

/// Whether `sig` is in the set `sigfillset` makes (CPython's `valid_signals`).
fn in_full_set(sig: i32) -> bool {
    // SAFETY: an all-zero `sigset_t` is a valid value for `sigfillset` to initialise.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `all` is ours and initialised by `sigfillset` before `sigismember` reads it;
    // `sig` is in `1..NSIG`, a number `sigismember` accepts.
    unsafe { libc::sigfillset(&mut all) == 0 && libc::sigismember(&all, sig) == 1 }
}

/// A loop's signal state: its pipe, its registration, its handlers.
pub(crate) struct Signals {
    read: OwnedFd,
    write: OwnedFd,
    /// The pipe's read end in the loop's I/O table.
    key: SlotKey,
    /// The callback per signal number; a signal is in here iff `WAKEUP[sig]` may name `write`.
    handlers: Handlers,
}

/// Signal number → callback, at most one entry per number. A handful of entries at most, so
/// a list: a `HashMap` would link std's random hasher (getrandom, SipHash) into every program
/// that calls `run`, for nothing.
#[derive(Default)]
struct Handlers(Vec<(i32, Handler, u64)>);

/// A signal's callback.
type Handler = Rc<dyn Fn()>;

impl Handlers {
    fn get(&self, sig: &i32) -> Option<&Rc<dyn Fn()>> {
        self.0.iter().find(|(s, ..)| s == sig).map(|(_, h, _)| h)
    }

    /// Sets the handler of `sig` (its count of deliveries from 0); returns the one it
    /// replaces, for the caller to drop once its borrow of the signal state has ended.
    #[must_use]
    fn insert(&mut self, sig: i32, handler: Rc<dyn Fn()>) -> Option<Rc<dyn Fn()>> {
        match self.0.iter_mut().find(|(s, ..)| *s == sig) {
            Some(entry) => {
                entry.2 = 0;
                Some(std::mem::replace(&mut entry.1, handler))
            }
            None => {
                self.0.push((sig, handler, 0));
                None
            }
        }
    }

    fn remove(&mut self, sig: &i32) -> Option<Rc<dyn Fn()>> {
        let i = self.0.iter().position(|(s, ..)| s == sig)?;
        Some(self.0.swap_remove(i).1)
    }

    fn keys(&self) -> impl Iterator<Item = &i32> {
        self.0.iter().map(|(s, ..)| s)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `sig` was read from the pipe: counted for its handler, which is returned to queue.
    fn deliver(&mut self, sig: i32) -> Option<Rc<dyn Fn()>> {
        let entry = self.0.iter_mut().find(|(s, ..)| *s == sig)?;
        entry.2 += 1;
        Some(entry.1.clone())
    }

    /// How many times `sig` was read from the pipe since its handler was set.
    fn deliveries(&self, sig: i32) -> u64 {
        self.0.iter().find(|(s, ..)| *s == sig).map_or(0, |e| e.2)
    }
}

impl LoopInner {
    /// The loop's signal state, borrowed: the one borrow site of this file's many (each
    /// `RefCell` borrow site compiles its own panic location and its relocation).
    fn signals(&self) -> std::cell::Ref<'_, Option<Signals>> {
        self.signals.borrow()
    }

    /// As [`signals`](Self::signals), borrowed mutably.
    fn signals_mut(&self) -> std::cell::RefMut<'_, Option<Signals>> {
        self.signals.borrow_mut()
    }
}

/// The pipe's read end, as an I/O registration: reads the signal numbers, queues callbacks.
struct PipeReader {
    lp: Weak<LoopInner>,
    fd: RawFd,
}

impl IoHandler for PipeReader {
    fn io_ready(&self, _readiness: Readiness) {
        let Some(inner) = self.lp.upgrade() else {
            return;
        };
        LoopHandle { inner }.read_pipe(self.fd);
    }
}

impl LoopHandle {
    /// Reads the signal numbers waiting in the pipe (read end `fd`) and queues their handlers.
    fn read_pipe(&self, fd: RawFd) {
        let mut buf = [0u8; 64];
        loop {
            // SAFETY: `buf` is ours and 64 bytes long; `fd` stays open while registered.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break; // EAGAIN (drained), EOF or an error: nothing more now
            }
            for &sig in &buf[..n as usize] {
                self.handle_signal(i32::from(sig));
            }
        }
    }

    /// Reads what the signal pipe holds now, outside the loop's I/O phase: the handlers of
    /// signals that came since the loop last looked are queued, and counted
    /// ([`signal_deliveries`](Self::signal_deliveries)).
    pub(crate) fn read_signal_pipe_now(&self) {
        let fd = self.inner.signals().as_ref().map(|s| s.read.as_raw_fd());
        if let Some(fd) = fd {
            self.read_pipe(fd);
        }
    }

    /// How many times `sig` has come (read from the pipe) since its handler was set.
    pub(crate) fn signal_deliveries(&self, sig: i32) -> u64 {
        let signals = self.inner.signals();
        signals.as_ref().map_or(0, |s| s.handlers.deliveries(sig))
    }

    /// CPython's `_handle_signal`: queues the handler for `sig`, if there still is one.
    fn handle_signal(&self, sig: i32) {
        let handler = {
            let mut signals = self.inner.signals_mut();
            signals.as_mut().and_then(|s| s.handlers.deliver(sig))
        };
        if let Some(h) = handler {
            let _ = self.call_soon(move || h());
        }
    }

    /// Makes the loop's pipe and registers its read end, on first use.
    fn ensure_signal_pipe(&self) -> Result<(), Error> {
        if self.inner.signals().is_some() {
            return Ok(());
        }
        let mut fds = [-1; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: `pipe2` succeeded, so both are fresh descriptors nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let handler = Rc::new(PipeReader {
            lp: Rc::downgrade(&self.inner),
            fd: read.as_raw_fd(),
        });
        let key = self.inner.register_handler(
            (
                &mut SourceFd(&read.as_raw_fd()),
                read.as_raw_fd(),
                Interest::READABLE,
            ),
            handler,
        )?;
        *self.inner.signals_mut() = Some(Signals {
            read,
            write,
            key,
            handlers: Handlers::default(),
        });
        Ok(())
    }

    /// Calls `f` on the loop thread each time the process receives signal `sig` (Python's
    /// `loop.add_signal_handler`; Unix only). A second call for the same signal replaces the
    /// handler. `f` runs as an ordinary callback from the ready queue, never inside the signal
    /// handler, so it may do anything a callback may; a panic in it goes to the exception
    /// handler.
    ///
    /// Signal dispositions are process-wide: the signal belongs to the loop that last added a
    /// handler for it. Any thread may call this (CPython insists on the main thread because of
    /// `signal.set_wakeup_fd`; Linux does not).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (`invalid signal number 0`) for a number that is no signal
    /// or one the C library reserves for itself (glibc's 32 and 33);
    /// [`Error::InvalidState`] (`sig 9 cannot be caught`) for SIGKILL and SIGSTOP;
    /// `Event loop is closed` after [`close`](Self::close);
    /// `Error::Io` if the OS refuses the pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let lp = asyncio::EventLoop::new()?;
    /// let got = Rc::new(Cell::new(false));
    /// let (seen, stopper) = (got.clone(), lp.handle());
    /// lp.add_signal_handler(libc::SIGUSR2, move || {
    ///     seen.set(true);
    ///     stopper.stop();
    /// })?;
    /// unsafe { libc::raise(libc::SIGUSR2) }; // the handler only writes to the loop's pipe
    /// lp.run_forever()?; // the callback runs here, on the loop thread, and stops the loop
    /// assert!(got.get());
    /// assert!(lp.remove_signal_handler(libc::SIGUSR2)?);
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn add_signal_handler<F>(&self, sig: i32, f: F) -> Result<(), Error>
    where
        F: Fn() + 'static,
    {
        check_signal(sig)?;
        self.inner.check_closed()?;
        self.ensure_signal_pipe()?;
        let (write_fd, replaced) = {
            let mut signals = self.inner.signals_mut();
            let s = signals.as_mut().expect("the pipe was made above");
            let replaced = s.handlers.insert(sig, Rc::new(f));
            (s.write.as_raw_fd(), replaced)
        };
        let previous = WAKEUP[sig as usize].swap(write_fd, Ordering::SeqCst);
        if let Err(e) = set_disposition(sig, true) {
            WAKEUP[sig as usize].store(previous, Ordering::SeqCst);
            let removed = {
                let mut signals = self.inner.signals_mut();
                signals.as_mut().and_then(|s| s.handlers.remove(&sig))
            };
            self.release_signal_pipe(true);
            drop((removed, replaced));
            if e.raw_os_error() == Some(libc::EINVAL) {
                return Err(Error::invalid_state(format!("sig {sig} cannot be caught")));
            }
            return Err(e.into());
        }
        // Dropped last, outside the borrow and once the install is whole: the replaced
        // handler's captures may use the loop on drop, even remove this very signal.
        drop(replaced);
        Ok(())
    }

    /// Removes the handler for `sig` and restores the default disposition (`SIG_DFL`; CPython
    /// restores `default_int_handler` for SIGINT, whose effect, ending the program, is the
    /// same). Returns whether a handler was removed (Python's `loop.remove_signal_handler`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a number that is no signal; `Error::Io` if the OS
    /// refuses to restore the disposition.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = asyncio::EventLoop::new()?;
    /// lp.add_signal_handler(libc::SIGUSR1, || println!("SIGUSR1"))?;
    /// assert!(lp.remove_signal_handler(libc::SIGUSR1)?);
    /// assert!(!lp.remove_signal_handler(libc::SIGUSR1)?); // nothing left to remove
    /// # Ok::<_, asyncio::Error>(())
    /// ```
    pub fn remove_signal_handler(&self, sig: i32) -> Result<bool, Error> {
        check_signal(sig)?;
        let (removed, write_fd) = {
            let mut signals = self.inner.signals_mut();
            match signals.as_mut() {
                Some(s) => (s.handlers.remove(&sig), s.write.as_raw_fd()),
                None => (None, -1),
            }
        };
        let Some(handler) = removed else {
            return Ok(false);
        };
        // Only if the signal is still ours: a later loop may have taken it over.
        let restored = if WAKEUP[sig as usize]
            .compare_exchange(write_fd, -1, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            set_disposition(sig, false)
        } else {
            Ok(())
        };
        // CPython's `set_wakeup_fd(-1)` once no handler is left.
        self.release_signal_pipe(true);
        drop(handler); // last: its captures may use the loop on drop
        restored?;
        Ok(true)
    }

    /// The handler installed for `sig`, if any (to tell whether it is still one's own).
    pub(crate) fn signal_handler(&self, sig: i32) -> Option<Rc<dyn Fn()>> {
        let signals = self.inner.signals();
        signals.as_ref().and_then(|s| s.handlers.get(&sig).cloned())
    }

    /// Loop close: removes every handler (restoring `SIG_DFL`) and closes the pipe.
    pub(crate) fn close_signals(&self) {
        let sigs: Vec<i32> = match self.inner.signals().as_ref() {
            Some(s) => s.handlers.keys().copied().collect(),
            None => return,
        };
        for sig in sigs {
            let _ = self.remove_signal_handler(sig);
        }
        self.release_signal_pipe(false);
    }

    /// Deregisters and closes the pipe (`if_unused`: only when no handler is left, so no
    /// `WAKEUP` slot names it any more).
    fn release_signal_pipe(&self, if_unused: bool) {
        let signals = {
            let mut signals = self.inner.signals_mut();
            match signals.as_ref() {
                Some(s) if if_unused && !s.handlers.is_empty() => None,
                _ => signals.take(),
            }
        };
        if let Some(s) = signals {
            self.inner
                .deregister(s.key, &mut SourceFd(&s.read.as_raw_fd()));
            // No WAKEUP slot names `s.write` any more; a handler that read one before it was
            // emptied may still be about to write to it.
            wait_for_writers();
            drop(s); // closes both ends
        }
    }
}

/// Returns once no `on_signal` that may have read a `WAKEUP` slot before the caller emptied
/// it is still running (see [`IN_FLIGHT`]). Called only when a pipe is about to close, so
/// rarely, and it rarely waits: an `on_signal` is a few instructions and one non-blocking
/// `write`, and nothing stops it half-way except its thread being stopped from outside
/// (a debugger). Interrupting the caller's own thread cannot deadlock it: that handler runs to
/// its end before the caller resumes.
fn wait_for_writers() {
    while IN_FLIGHT.load(Ordering::SeqCst) != 0 {
        #[cfg(test)]
        tests::hook::waiting();
        std::thread::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event_loop::EventLoop;
    use std::sync::atomic::AtomicIsize;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Test-only stops inside `on_signal` and `wait_for_writers`, to hold a handler between
    /// reading its descriptor and writing to it. Only the signal in `SIG` stops.
    pub(super) mod hook {
        use super::*;

        pub(crate) static SIG: AtomicI32 = AtomicI32::new(0);
        /// Set by the handler once it holds the descriptor and stops.
        pub(crate) static HOLDING: AtomicBool = AtomicBool::new(false);
        /// Set by the test to let the handler write.
        pub(crate) static GO: AtomicBool = AtomicBool::new(false);
        /// What the handler's `write` returned (-2 before it wrote).
        pub(crate) static WROTE: AtomicIsize = AtomicIsize::new(-2);
        /// Set when a pipe's close found a handler still running.
        pub(crate) static WAITED: AtomicBool = AtomicBool::new(false);

        pub(crate) fn pause(sig: i32) {
            if SIG.load(Ordering::SeqCst) == sig {
                HOLDING.store(true, Ordering::SeqCst);
                while !GO.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            }
        }

        pub(crate) fn wrote(sig: i32, n: isize) {
            if SIG.load(Ordering::SeqCst) == sig {
                WROTE.store(n, Ordering::SeqCst);
            }
        }

        pub(crate) fn waiting() {
            WAITED.store(true, Ordering::SeqCst);
        }

        /// The thread (`gettid`) that stops in `reset_in_forked_children`; 0 for none. A
        /// forked child has a thread id of its own: it never stops there.
        pub(crate) static REGISTERING_TID: AtomicI32 = AtomicI32::new(0);
        /// Set by that thread once it stops; the test sets `REGISTERING_GO` to let it on.
        pub(crate) static REGISTERING: AtomicBool = AtomicBool::new(false);
        pub(crate) static REGISTERING_GO: AtomicBool = AtomicBool::new(false);

        pub(crate) fn registering() {
            // SAFETY: `gettid` has no preconditions.
            let tid = unsafe { libc::gettid() };
            if REGISTERING_TID.load(Ordering::SeqCst) == tid {
                REGISTERING.store(true, Ordering::SeqCst);
                while !REGISTERING_GO.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            }
        }

        /// Held by each test that uses the hook: its statics are shared.
        pub(crate) static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

        /// Takes the hook and sets it to stop `sig`, with the flags cleared.
        pub(crate) fn take(sig: i32) -> std::sync::MutexGuard<'static, ()> {
            let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
            for flag in [&HOLDING, &GO, &WAITED] {
                flag.store(false, Ordering::SeqCst);
            }
            WROTE.store(-2, Ordering::SeqCst);
            SIG.store(sig, Ordering::SeqCst);
            guard
        }
    }

    /// A loop with a handler for `sig`, and that handler running on another thread, held by
    /// the test hook (taken: the guard) inside `on_signal` until `hook::GO`: `(loop, guard,
    /// the raising thread)`.
    fn a_handler_held_on_another_thread(
        sig: i32,
    ) -> (
        EventLoop,
        std::sync::MutexGuard<'static, ()>,
        std::thread::JoinHandle<libc::c_int>,
    ) {
        let lp = EventLoop::new().unwrap();
        lp.add_signal_handler(sig, || {}).unwrap();
        let hook = hook::take(sig);
        // raise() directs the signal to the calling thread: its handler runs there.
        // SAFETY: raising a signal we installed a handler for.
        let raiser = std::thread::spawn(move || unsafe { libc::raise(sig) });
        assert!(
            within_10s(|| hook::HOLDING.load(Ordering::SeqCst)),
            "the handler never ran"
        );
        (lp, hook, raiser)
    }

    /// Spins until `done` holds, for at most 10 s; whether it held.
    fn within_10s(done: impl Fn() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
        while !done() {
            if Instant::now() > end {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    // Checklist: L16. A handler on another thread that read the pipe's descriptor before
    // remove_signal_handler emptied its slot writes to that pipe, still open, and not to a
    // closed descriptor (whose number another thread may have reused meanwhile).
    #[test]
    fn a_handler_holding_the_pipe_while_its_signal_is_removed_writes_to_the_open_pipe() {
        let sig = libc::SIGRTMIN() + 5; // used by no other test of this crate
        let (lp, _hook, raiser) = a_handler_held_on_another_thread(sig);
        let removed = Arc::new(AtomicBool::new(false));
        let seen = removed.clone();
        // Lets the handler write once the removal waits for it, or has returned without.
        let releaser = std::thread::spawn(move || {
            let waited =
                within_10s(|| hook::WAITED.load(Ordering::SeqCst) || seen.load(Ordering::SeqCst));
            hook::GO.store(true, Ordering::SeqCst);
            waited
        });
        assert!(lp.remove_signal_handler(sig).unwrap());
        removed.store(true, Ordering::SeqCst);
        assert!(releaser.join().unwrap(), "the releaser timed out");
        assert_eq!(raiser.join().unwrap(), 0);
        hook::SIG.store(0, Ordering::SeqCst);
        assert_eq!(
            hook::WROTE.load(Ordering::SeqCst),
            1,
            "the handler wrote to a closed descriptor: the pipe closed under it"
        );
        assert!(hook::WAITED.load(Ordering::SeqCst));
    }

    // A process forked while another thread is inside `on_signal` inherits its count in
    // IN_FLIGHT, but not the thread that would release it: a child that went on running our
    // code and closed a signal pipe spun in `wait_for_writers` for ever. The child here only
    // waits for writers, then exits; the parent gives it 10 s.
    #[test]
    fn a_child_forked_while_a_handler_runs_on_another_thread_does_not_wait_for_it() {
        let sig = libc::SIGRTMIN() + 6; // used by no other test of this crate
        let (lp, _hook, raiser) = a_handler_held_on_another_thread(sig);
        // SAFETY: the child calls only `wait_for_writers` (atomics and `sched_yield`) and
        // `_exit`: nothing that takes a lock another thread may have held at the fork.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            wait_for_writers();
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(0) };
        }
        let (exited, status) = reap_within_10s(pid);
        hook::GO.store(true, Ordering::SeqCst);
        assert_eq!(raiser.join().unwrap(), 0);
        hook::SIG.store(0, Ordering::SeqCst);
        assert!(
            exited,
            "the child spun in wait_for_writers for a handler left in the parent"
        );
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert!(lp.remove_signal_handler(sig).unwrap());
    }

    /// Runs `body` in a forked child, whose exit code is what it returns, and reaps it
    /// ([`reap_within_10s`]). `body` may call only async-signal-safe functions: the fork may
    /// have left another thread's lock held.
    fn in_forked_child(body: fn() -> i32) -> (bool, libc::c_int) {
        // SAFETY: the child runs `body` (async-signal-safe calls only, see above) and `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = body();
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(code) };
        }
        reap_within_10s(pid)
    }

    /// A pipe whose reader has gone: its write end (the read end is closed).
    fn widowed_pipe() -> OwnedFd {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: fresh descriptors, owned by nothing else.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        drop(r);
        w
    }

    /// One `write(2)` of a byte to `fd`.
    fn write_byte(fd: &OwnedFd) -> io::Result<usize> {
        // SAFETY: one byte from a static, to a descriptor we hold open.
        let n = unsafe { libc::write(fd.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    /// Sets `SIGPIPE`'s disposition to `action` (`SIG_DFL`, `SIG_IGN`, a handler).
    fn set_sigpipe(action: libc::sighandler_t) {
        // SAFETY: FFI; `action` is one of the three kinds of disposition.
        unsafe { libc::signal(libc::SIGPIPE, action) };
    }

    /// Counts the `SIGPIPE`s delivered to [`count_sigpipe`] in a forked child.
    static SIGPIPES: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn count_sigpipe(_: libc::c_int) {
        SIGPIPES.fetch_add(1, Ordering::SeqCst);
    }

    // A write to a gone reader while another thread puts SIGPIPE back to its default action
    // (a C library restoring it after its own writes): `without_sigpipe` read the disposition
    // before the write, saw it ignored and wrote unprotected; the write's SIGPIPE then ended
    // the process. The change is made inside the write closure, between the two, so the
    // race is hit every time. (Before: the child died of SIGPIPE; checked by reverting.)
    #[test]
    fn sigpipe_set_to_its_default_action_during_the_write_does_not_end_the_process() {
        let (exited, status) = in_forked_child(|| {
            let w = widowed_pipe();
            set_sigpipe(libc::SIG_IGN);
            let r = without_sigpipe(|| {
                set_sigpipe(libc::SIG_DFL); // as another thread would
                write_byte(&w)
            });
            let epipe = matches!(r, Err(e) if e.raw_os_error() == Some(libc::EPIPE));
            i32::from(!epipe) + 2 * i32::from(is_pending(libc::SIGPIPE))
        });
        assert!(exited, "the child hung");
        assert!(
            !libc::WIFSIGNALED(status),
            "the write's SIGPIPE ended the process: signal {}",
            libc::WTERMSIG(status)
        );
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "1: no EPIPE; 2: SIGPIPE left pending"
        );
    }

    // The other way round: the default action when `without_sigpipe` looked, a handler by the
    // time of the write (the host installing one on another thread). The handler gets the
    // write's SIGPIPE, as it would for a write of its own. (Before: taken by `sigtimedwait`,
    // the handler never ran; checked by reverting.)
    #[test]
    fn a_sigpipe_handler_installed_during_the_write_gets_the_signal() {
        let (exited, status) = in_forked_child(|| {
            let w = widowed_pipe();
            set_sigpipe(libc::SIG_DFL);
            let handler = count_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t;
            let r = without_sigpipe(|| {
                set_sigpipe(handler); // as the host would, on another thread
                write_byte(&w)
            });
            let epipe = matches!(r, Err(e) if e.raw_os_error() == Some(libc::EPIPE));
            i32::from(!epipe) + 2 * i32::from(SIGPIPES.load(Ordering::SeqCst) != 1)
        });
        assert!(exited, "the child hung");
        assert!(
            !libc::WIFSIGNALED(status),
            "signal {}",
            libc::WTERMSIG(status)
        );
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "1: no EPIPE; 2: the handler did not run once"
        );
    }

    /// Reaps `pid`, our forked child, giving it 10 s to exit before it is killed: whether it
    /// exited within them, and its wait status.
    fn reap_within_10s(pid: libc::pid_t) -> (bool, libc::c_int) {
        assert!(pid > 0, "fork: {}", io::Error::last_os_error());
        // SAFETY: plain syscall; the descriptor is owned by `pidfd` below.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        assert!(raw >= 0, "pidfd_open: {}", io::Error::last_os_error());
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let pidfd = unsafe { OwnedFd::from_raw_fd(raw as RawFd) };
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`; bounded by its timeout.
        let exited = unsafe { libc::poll(&mut pfd, 1, 10_000) } == 1;
        if !exited {
            // SAFETY: `pid` is our child, not yet reaped: no other process has its pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        (exited, status)
    }

    // A process forked while another thread was registering the fork hook (its first signal
    // handler, `asyncio::run`'s SIGINT on the main thread) inherited the registration's lock
    // held, with no thread to release it: the child's own first `add_signal_handler` (its
    // `asyncio::run`) blocked for ever. The child here installs one disposition, then exits;
    // the parent gives it 10 s.
    #[test]
    fn a_child_forked_while_another_thread_registers_the_fork_hook_can_install_a_handler() {
        let sig = libc::SIGRTMIN() + 7; // used by no other test of this crate
        hook::REGISTERING.store(false, Ordering::SeqCst);
        hook::REGISTERING_GO.store(false, Ordering::SeqCst);
        let registrar = std::thread::spawn(|| {
            // SAFETY: `gettid` has no preconditions.
            hook::REGISTERING_TID.store(unsafe { libc::gettid() }, Ordering::SeqCst);
            reset_in_forked_children()
        });
        assert!(
            within_10s(|| hook::REGISTERING.load(Ordering::SeqCst)),
            "the registration never ran"
        );
        // SAFETY: the child calls only `set_disposition` (an atomic, `pthread_atfork`, whose
        // lock the C library resets in a child, and `sigaction`) and `_exit`.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let code = i32::from(set_disposition(sig, true).is_err());
            // SAFETY: ends the child at once, running nothing of the parent's.
            unsafe { libc::_exit(code) };
        }
        let (exited, status) = reap_within_10s(pid);
        hook::REGISTERING_GO.store(true, Ordering::SeqCst);
        hook::REGISTERING_TID.store(0, Ordering::SeqCst);
        registrar.join().unwrap().unwrap();
        assert!(
            exited,
            "the child blocked on a lock held by a thread left in the parent"
        );
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}
