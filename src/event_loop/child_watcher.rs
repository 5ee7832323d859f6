//! Child reaping for subprocesses: learn when a child exits, collect its status, never leave a
//! zombie, and never install a process-wide `SIGCHLD` handler.
//!
//! Mirrors `PidfdChildWatcher` and `ThreadedChildWatcher` in CPython
//! `Lib/asyncio/unix_events.py` (3.11). Two ways, chosen per child:
//!
//! - **pidfd** (Linux >= 5.3, the default where it works): `pidfd_open(pid)` gives a
//!   descriptor that polls readable once the child has exited. It is registered with the
//!   loop's poll like any transport; on readiness the child is reaped through the pidfd,
//!   `waitid(P_PIDFD, WNOHANG)` (by pid on a kernel older than 5.4), on the loop thread and
//!   the waiters are woken.
//! - **thread** (the fallback when `pidfd_open` fails: `ENOSYS`, an old kernel, another
//!   Unix; or when asked for): a helper thread per child blocks in `waitid(pid, WNOWAIT)`
//!   until the child exits, then reaps it under the watch's lock and wakes the waiting task,
//!   whose waker reaches the loop through the threadsafe queue, as CPython's
//!   `ThreadedChildWatcher` uses `call_soon_threadsafe`. The thread holds nothing but the pid
//!   and the shared exit cell; it ends when the child does.
//!
//! Ground rules: a child is signalled through a pidfd, never by pid (a pid is free for any new
//! process once someone reaps the child: `SIGCHLD` ignored, a stray `waitpid(-1)`): the pidfd
//! watch's own descriptor, else one opened for the signal and checked to name our unreaped
//! child; `kill(2)` only where the kernel has no `pidfd_open`, to a pid `waitid(WNOWAIT)` has
//! just seen to be our unreaped child. Likewise a child is reaped through the pidfd held for
//! it: `waitpid(pid)` would take whichever child of ours has the pid by then. A signal
//! finding the child gone (`ESRCH`) sends nothing, as CPython's `Popen.send_signal` ignores
//! `ProcessLookupError`. The exit cell's lock is held from the returncode check to the send,
//! and reaping takes the same lock, so our own reaping never races the `kill(2)` fallback.
//! Once registered, a child is reaped whatever happens to its `Process`: the pidfd
//! registration stays with the loop until the child exits, and if the loop closes first the
//! child is handed to a reaper thread. This file is the only one that calls
//! `waitpid`/`waitid`/`kill`/`pidfd_open`/`pidfd_send_signal` (and `setsid` in a starting
//! child); it touches mio only through the loop's `register_handler`.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::io::{IoHandler, Readiness};
use super::LoopHandle;
use crate::error::Error;
use crate::slots::SlotKey;
use crate::wakers::KeyedWakers;

/// How a child's exit is learnt (CPython's `PidfdChildWatcher` / `ThreadedChildWatcher`).
///
/// # Examples
///
/// ```
/// use asyncio::ChildWatcher;
///
/// asyncio::run(async {
///     let proc = asyncio::create_subprocess_shell("exit 0")
///         .child_watcher(ChildWatcher::Threaded)
///         .await?;
///     assert_eq!(proc.child_watcher(), ChildWatcher::Threaded);
///     assert_eq!(proc.wait().await, 0);
///     Ok::<_, asyncio::Error>(())
/// })??;
/// # Ok::<_, asyncio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChildWatcher {
    /// A pidfd polled by the loop where the kernel offers one (Linux >= 5.3), else a helper
    /// thread per child.
    #[default]
    Auto,
    /// A pidfd polled by the loop; creating the process fails with the OS error where
    /// `pidfd_open` does, except for a child someone else already reaped (`SIGCHLD`
    /// ignored): it is reported with returncode 255 and a warning, and never signalled.
    Pidfd,
    /// A helper thread per child blocked in `waitid` (CPython's `ThreadedChildWatcher`).
    Threaded,
}

/// What the watch knows about the child, shared with a helper thread if there is one.
#[derive(Default)]
struct ExitState {
    /// The `returncode`: the exit status, or minus the signal number. `Some` once reaped, and
    /// then the pid must never be signalled again.
    returncode: Option<i32>,
    /// Tasks waiting for the exit, each wait under its key (it takes its entry back when
    /// dropped first).
    waiters: KeyedWakers,
}

type ExitCell = Arc<Mutex<ExitState>>;

/// A watch that could not start: the error, and the child's pidfd if one was opened.
type Failed = (Error, Option<OwnedFd>);

fn lock(cell: &ExitCell) -> MutexGuard<'_, ExitState> {
    cell.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records the returncode and wakes every waiter (after the lock is released).
fn set_exited(cell: &ExitCell, returncode: i32) {
    let waiters = {
        let mut st = lock(cell);
        st.returncode = Some(returncode);
        st.waiters.take()
    };
    waiters.into_iter().for_each(Waker::wake);
}

/// One child being watched. Dropping it stops nothing: the child is still reaped when it exits.
pub(crate) struct ChildWatch {
    pid: libc::pid_t,
    exit: ExitCell,
    /// Which way was taken, for `Debug` and tests.
    kind: ChildWatcher,
    /// The loop's pidfd registration while it lasts (the pidfd way): signals go through its
    /// descriptor. Dangling for the thread way, and once the child is reaped or the loop closed.
    pidfd: Weak<PidfdWatch>,
}

impl ChildWatch {
    /// Starts watching `pid`, a child of this process not yet reaped.
    pub(crate) fn start(lp: &LoopHandle, pid: u32, how: ChildWatcher) -> Result<Self, Error> {
        let pid = libc::pid_t::try_from(pid)
            .map_err(|_| Error::invalid_argument(format!("pid {pid} out of range")))?;
        let mut watch = ChildWatch {
            pid,
            exit: ExitCell::default(),
            kind: how,
            pidfd: Weak::new(),
        };
        if let Err((e, pidfd)) = watch.start_kind(lp, how) {
            abandon(pid, pidfd.as_ref());
            return Err(e);
        }
        Ok(watch)
    }

    /// Takes the way `how` asks for; on failure hands back the pidfd if one was opened, for
    /// [`abandon`] to signal through.
    fn start_kind(&mut self, lp: &LoopHandle, how: ChildWatcher) -> Result<(), Failed> {
        let (pid, exit) = (self.pid, &self.exit);
        let thread = |pidfd| spawn_waiter(pid, exit.clone()).map_err(|e| (e.into(), pidfd));
        self.kind = match how {
            ChildWatcher::Threaded => {
                thread(None)?;
                ChildWatcher::Threaded
            }
            ChildWatcher::Pidfd => {
                match PidfdWatch::register(lp, pid, exit.clone()) {
                    Ok(watch) => self.pidfd = watch,
                    Err((Error::Io(e), _)) if e.raw_os_error() == Some(libc::ESRCH) => {
                        reaped_elsewhere(pid, exit);
                    }
                    Err(failed) => return Err(failed),
                }
                ChildWatcher::Pidfd
            }
            ChildWatcher::Auto => match PidfdWatch::register(lp, pid, exit.clone()) {
                Ok(watch) => {
                    self.pidfd = watch;
                    ChildWatcher::Pidfd
                }
                Err((e, pidfd)) => {
                    log::debug!(target: "asyncio", "pidfd for child {pid}: {e}; using a thread");
                    thread(pidfd)?;
                    ChildWatcher::Threaded
                }
            },
        };
        Ok(())
    }

    /// The returncode once the child is reaped.
    pub(crate) fn returncode(&self) -> Option<i32> {
        lock(&self.exit).returncode
    }

    /// Ready with the returncode once the child is reaped; else files the wait `*key` (see
    /// `wakers.rs`), which [`withdraw`](Self::withdraw) takes back if it is dropped first.
    pub(crate) fn poll_exit(&self, key: &mut u64, cx: &mut Context<'_>) -> Poll<i32> {
        let mut st = lock(&self.exit);
        if let Some(rc) = st.returncode {
            return Poll::Ready(rc);
        }
        let replaced = st.waiters.file(key, cx.waker());
        drop(st);
        drop(replaced); // after the lock: dropping a waker may run its task's code
        Poll::Pending
    }

    /// Takes back the entry of the wait `key`, dropped before the exit.
    pub(crate) fn withdraw(&self, key: u64) {
        let waker = lock(&self.exit).waiters.remove(key);
        drop(waker); // after the lock
    }

    /// Sends `sig` unless the child is known to be reaped or turns out to be gone (reaped by
    /// someone else): then `Ok(false)` and nothing is sent, to the child or any other process.
    pub(crate) fn send_signal(&self, sig: i32) -> io::Result<bool> {
        let st = lock(&self.exit); // held to the send: our own reaping waits for it
        if st.returncode.is_some() {
            return Ok(false);
        }
        let sent = match self.pidfd.upgrade() {
            Some(watch) => pidfd_send_signal(&watch.pidfd, sig),
            None => signal_child(self.pid, sig),
        };
        drop(st);
        sent
    }

    pub(crate) fn kind(&self) -> ChildWatcher {
        self.kind
    }

    /// A guard that kills the child when dropped, unless [`KillGuard::disarm`]ed first: for
    /// the steps between starting a child and handing its `Process` out.
    pub(crate) fn kill_guard(&self) -> KillGuard {
        KillGuard(Some(ChildWatch {
            pid: self.pid,
            exit: self.exit.clone(),
            kind: self.kind,
            pidfd: self.pidfd.clone(),
        }))
    }
}

/// Kills the child on drop unless disarmed (CPython's "Exception during subprocess creation,
/// kill the subprocess"): a creation that fails or is cancelled after the child started leaves
/// no child running that nobody can reach. The watch still reaps it.
pub(crate) struct KillGuard(Option<ChildWatch>);

impl KillGuard {
    /// The child was handed out: dropping the guard no longer kills it.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillGuard {
    fn drop(&mut self) {
        if let Some(watch) = self.0.take() {
            log::debug!(target: "asyncio", "subprocess creation did not finish: killing child {}", watch.pid);
            if let Err(e) = watch.send_signal(libc::SIGKILL) {
                crate::event_loop::debug::warning!("killing child {}: {e}", watch.pid);
            }
        }
    }
}

/// Makes the child call `setsid()` before it executes the program (Python's
/// `start_new_session=True`).
pub(crate) fn start_new_session(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec; it only calls `setsid`, which
    // is async-signal-safe, and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A child nobody can watch (no pidfd where one was demanded, no thread to be had): killed and
/// reaped at once, so that it neither runs on unseen nor stays a zombie. SIGKILL ends it
/// promptly, so the blocking reap is short. Killed and reaped through `pidfd` when one is in
/// hand, else as [`ChildWatch::send_signal`] does and by pid; a child found gone (reaped
/// elsewhere: its pid may be another process's) is neither signalled nor waited for; one the
/// kill fails for is left running, with a warning.
fn abandon(pid: libc::pid_t, pidfd: Option<&OwnedFd>) {
    let killed = match pidfd {
        Some(pidfd) => pidfd_send_signal(pidfd, libc::SIGKILL),
        None => signal_child(pid, libc::SIGKILL),
    };
    match killed {
        Ok(true) => drop(reap(pid, pidfd, 0)),
        Ok(false) => log::debug!(target: "asyncio", "abandoned child {pid} was already reaped"),
        Err(e) => {
            crate::event_loop::debug::warning!("child {pid} cannot be killed ({e}): left running")
        }
    }
}

/// `pidfd_open`'s `ESRCH`: no process has `pid` any more (a zombie would still have it), so
/// our child was reaped by someone else (`SIGCHLD` ignored, a stray `waitpid`). The pid is
/// free for any new process: never signal it (as `abandon` would). Reported as CPython's
/// `PidfdChildWatcher` reports a status already read: returncode 255, with a warning.
fn reaped_elsewhere(pid: libc::pid_t, exit: &ExitCell) {
    crate::event_loop::debug::warning!(
        "child process pid {pid} exit status already read: will report returncode 255"
    );
    set_exited(exit, 255);
}

/// `pidfd_open(pid)`: a descriptor naming the process that has `pid` now (close-on-exec).
#[cfg(target_os = "linux")]
fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    if force_thread() {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    // SAFETY: plain syscall with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = libc::c_int::try_from(fd).map_err(io::Error::other)?;
    // SAFETY: `fd` was just returned by pidfd_open and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn pidfd_open(_pid: libc::pid_t) -> io::Result<OwnedFd> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// Sends `sig` to the process `pidfd` names, which no other process can ever be: `Ok(false)`
/// when it is gone (`ESRCH`: reaped, by us or by someone else).
#[cfg(target_os = "linux")]
fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> io::Result<bool> {
    // SAFETY: plain syscall: a descriptor we hold open, the signal, a null `siginfo_t` (the
    // kernel fills in what `kill(2)` would) and no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    sent_or_gone(r)
}

#[cfg(not(target_os = "linux"))]
fn pidfd_send_signal(_pidfd: &OwnedFd, _sig: i32) -> io::Result<bool> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS)) // no pidfd is ever opened there
}

/// A signal call's result: sent, or (`ESRCH`) nobody there any more, or the error.
fn sent_or_gone(r: libc::c_long) -> io::Result<bool> {
    if r == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ESRCH) => Ok(false),
        _ => Err(err),
    }
}

/// Signals our child `pid` with no pidfd in hand: opens one for this signal. A pid nobody
/// has (`ESRCH`) or that names a process other than our unreaped child (the pid was reused
/// after someone else reaped ours) is not signalled: `Ok(false)`. Only where no pidfd can be
/// had (a kernel without `pidfd_open`, `ENOSYS`; no descriptor left, `EMFILE`: a kill must
/// still work when descriptors run out) is the pid signalled, once it is seen to be our
/// unreaped child; our own reaping cannot run between that check and the `kill`
/// (`send_signal` holds the exit cell's lock; `abandon` runs before any reaper starts), only
/// someone else's could.
fn signal_child(pid: libc::pid_t, sig: i32) -> io::Result<bool> {
    match pidfd_open(pid) {
        Ok(pidfd) if is_our_child(&pidfd) => pidfd_send_signal(&pidfd, sig),
        Ok(_) => Ok(false),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
        Err(_) => {
            let id = libc::id_t::try_from(pid).unwrap_or_default();
            if !still_ours(libc::P_PID, id) {
                return Ok(false);
            }
            // SAFETY: plain syscall; `pid` was just seen to be our unreaped child, and a
            // zombie keeps its pid: see above for what could still free it.
            let r = unsafe { libc::kill(pid, sig) };
            sent_or_gone(r.into())
        }
    }
}

/// Whether `pidfd` names a child of ours not yet reaped (see [`still_ours`]). A kernel
/// without `P_PIDFD` (5.3: `EINVAL`) cannot tell: yes, as the pid was ours when the pidfd was
/// opened but for the reuse this check is for.
#[cfg(target_os = "linux")]
fn is_our_child(pidfd: &OwnedFd) -> bool {
    let id = libc::id_t::try_from(pidfd.as_raw_fd()).unwrap_or_default();
    still_ours(libc::P_PIDFD, id)
}

#[cfg(not(target_os = "linux"))]
fn is_our_child(_pidfd: &OwnedFd) -> bool {
    true // never called: no pidfd is opened there
}

/// Whether the process `(idtype, id)` names is a child of ours not yet reaped:
/// `waitid(WEXITED | WNOWAIT | WNOHANG)` answers `ECHILD` for any other process, and reaps
/// nothing. Any other error cannot tell: yes.
fn still_ours(idtype: libc::idtype_t, id: libc::id_t) -> bool {
    loop {
        // SAFETY: an all-zero `siginfo_t` is a valid out-value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOWAIT | libc::WNOHANG;
        // SAFETY: `info` is a valid out-pointer for the call.
        let r = unsafe { libc::waitid(idtype, id, &mut info, flags) };
        let err = io::Error::last_os_error();
        match (r, err.raw_os_error()) {
            (0, _) => return true,
            (_, Some(libc::EINTR)) => continue,
            (_, Some(libc::ECHILD)) => return false,
            _ => return true,
        }
    }
}

/// `WIFSIGNALED` → minus the signal number, else the exit status (Python's `returncode`).
fn returncode_of(status: libc::c_int) -> i32 {
    if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        status
    }
}

/// Reaps our child `pid`, through `pidfd` when one is held, retried on `EINTR`:
/// `Some(returncode)` once reaped, `None` while it runs (`flags` has `WNOHANG`). The pidfd
/// reaps only the process it names, where `waitpid(pid)` would take any child of ours that
/// has the pid by then (ours reaped elsewhere, the pid reused); a kernel without `P_PIDFD` for
/// `waitid` (before 5.4: `EINVAL`) falls back to the pid. `ECHILD` (someone else reaped it,
/// e.g. `SIGCHLD` set to `SIG_IGN`) counts as exit status 255, as CPython's watchers log and
/// report it.
fn reap(pid: libc::pid_t, pidfd: Option<&OwnedFd>, flags: libc::c_int) -> Option<i32> {
    let mut pidfd = pidfd;
    loop {
        let reaped = match pidfd {
            Some(fd) => reap_pidfd(fd, flags),
            None => reap_pid(pid, flags),
        };
        let err = match reaped {
            Ok(rc) => return rc,
            Err(e) => e,
        };
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EINVAL) if pidfd.is_some() => pidfd = None,
            _ => {
                crate::event_loop::debug::warning!(
                    "Unknown child process pid {pid}, will report returncode 255 ({err})"
                );
                return Some(255);
            }
        }
    }
}

/// One `waitpid(pid, flags)`.
fn reap_pid(pid: libc::pid_t, flags: libc::c_int) -> io::Result<Option<i32>> {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a valid out-pointer for the call.
    let r = unsafe { libc::waitpid(pid, &mut status, flags) };
    match r {
        0 => Ok(None),
        r if r == pid => Ok(Some(returncode_of(status))),
        _ => Err(io::Error::last_os_error()),
    }
}

/// One `waitid(P_PIDFD, pidfd, WEXITED | flags)`: the returncode from the `siginfo_t`.
#[cfg(target_os = "linux")]
fn reap_pidfd(pidfd: &OwnedFd, flags: libc::c_int) -> io::Result<Option<i32>> {
    let id = libc::id_t::try_from(pidfd.as_raw_fd()).unwrap_or_default();
    // SAFETY: an all-zero `siginfo_t` is a valid out-value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid out-pointer for the call.
    let r = unsafe { libc::waitid(libc::P_PIDFD, id, &mut info, libc::WEXITED | flags) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a successful `waitid` either filled in the child fields of `info` or, with
    // `WNOHANG` and the child running, left it zeroed (`si_pid` 0).
    let (child, status) = unsafe { (info.si_pid(), info.si_status()) };
    if child == 0 {
        return Ok(None);
    }
    Ok(Some(match info.si_code {
        libc::CLD_KILLED | libc::CLD_DUMPED => -status,
        _ => status, // CLD_EXITED: the exit status
    }))
}

#[cfg(not(target_os = "linux"))]
fn reap_pidfd(_pidfd: &OwnedFd, _flags: libc::c_int) -> io::Result<Option<i32>> {
    Err(io::Error::from_raw_os_error(libc::EINVAL)) // never called: no pidfd is opened there
}

/// Reaps `pid` (through `pidfd` if held, see [`reap`]) under the cell's lock if it has
/// exited (`WNOHANG`); true once reaped.
fn try_reap(pid: libc::pid_t, pidfd: Option<&OwnedFd>, exit: &ExitCell) -> bool {
    let rc = {
        let st = lock(exit);
        if st.returncode.is_some() {
            return true;
        }
        let Some(rc) = reap(pid, pidfd, libc::WNOHANG) else {
            return false;
        };
        drop(st);
        rc
    };
    set_exited(exit, rc);
    true
}

/// The thread way: wait without reaping, then reap under the lock (see the ground rules).
fn spawn_waiter(pid: libc::pid_t, exit: ExitCell) -> io::Result<()> {
    std::thread::Builder::new()
        .name(format!("asyncio-waitpid-{pid}"))
        .spawn(move || {
            wait_exited(pid);
            // Exited and not reaped: a WNOHANG reap now succeeds.
            while !try_reap(pid, None, &exit) {
                wait_exited(pid);
            }
        })
        .map(drop)
}

/// Blocks until `pid` has exited, leaving it a zombie (`WNOWAIT`).
fn wait_exited(pid: libc::pid_t) {
    loop {
        // SAFETY: an all-zero `siginfo_t` is a valid out-value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let id = libc::id_t::try_from(pid).unwrap_or_default();
        // SAFETY: `info` is a valid out-pointer for the call.
        let r = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return; // exited, or ECHILD: the reap that follows reports it
        }
    }
}

/// The pidfd way: a loop registration that reaps when the pidfd turns readable.
struct PidfdWatch {
    lp: LoopHandle,
    me: Weak<PidfdWatch>,
    pid: libc::pid_t,
    pidfd: OwnedFd,
    exit: ExitCell,
    /// The registration; taken when the child is reaped (or the loop closes).
    key: std::cell::Cell<Option<SlotKey>>,
}

impl PidfdWatch {
    /// Registers a pidfd for `pid`; the watch lives in the loop's io table until released.
    /// On failure, hands back the pidfd if it was opened.
    fn register(lp: &LoopHandle, pid: libc::pid_t, exit: ExitCell) -> Result<Weak<Self>, Failed> {
        lp.inner.check_closed().map_err(|e| (e, None))?;
        let pidfd = pidfd_open(pid).map_err(|e| (e.into(), None))?;
        let raw = pidfd.as_raw_fd();
        let watch = Rc::new_cyclic(|me| PidfdWatch {
            lp: lp.clone(),
            me: me.clone(),
            pid,
            pidfd,
            exit,
            key: std::cell::Cell::new(None),
        });
        let registered = lp.inner.register_handler(
            &mut mio::unix::SourceFd(&raw),
            raw,
            mio::Interest::READABLE,
            watch.clone() as Rc<dyn IoHandler>,
        );
        let key = match registered {
            Ok(key) => key,
            // The io table dropped its handle: ours is the only one left.
            Err(e) => return Err((e.into(), Rc::try_unwrap(watch).ok().map(|w| w.pidfd))),
        };
        watch.key.set(Some(key));
        // The child may have exited before the registration: the pidfd is readable already,
        // and an edge-triggered poll reports it anyway; the check is for other selectors.
        if try_reap(pid, Some(&watch.pidfd), &watch.exit) {
            watch.release();
        }
        Ok(Rc::downgrade(&watch))
    }

    /// Leaves the loop (the pidfd closes when the io table drops its handle).
    fn release(&self) {
        if let Some(key) = self.key.take() {
            let raw = self.pidfd.as_raw_fd();
            self.lp
                .inner
                .deregister(key, &mut mio::unix::SourceFd(&raw));
        }
    }
}

impl IoHandler for PidfdWatch {
    fn io_ready(&self, readiness: Readiness) {
        if !readiness.is_readable() || !try_reap(self.pid, Some(&self.pidfd), &self.exit) {
            return;
        }
        // Deregister from a fresh callback: the io table dispatches us right now.
        if let Some(me) = self.me.upgrade() {
            if self.lp.call_soon(move || me.release()).is_err() {
                self.release();
            }
        }
    }

    fn loop_closed(&self) {
        self.key.set(None);
        if !try_reap(self.pid, Some(&self.pidfd), &self.exit) {
            // The loop goes before the child: a thread reaps it, so it never stays a zombie.
            if let Err(e) = spawn_waiter(self.pid, self.exit.clone()) {
                crate::event_loop::debug::warning!("child {} may stay a zombie: {e}", self.pid);
            }
        }
    }
}

thread_local! {
    /// Test hook: make `pidfd_open` look unavailable on this thread.
    static FORCE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn force_thread() -> bool {
    FORCE_THREAD.with(|f| f.get())
}

/// Makes [`ChildWatcher::Auto`] on this thread behave as if the kernel had no pidfd (and
/// [`ChildWatcher::Pidfd`] fail with `ENOSYS`, and signals sent on this thread to a child
/// watched by a thread go by `kill(2)`): the fallback paths, for tests.
#[doc(hidden)]
pub fn simulate_no_pidfd(on: bool) {
    FORCE_THREAD.with(|f| f.set(on));
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::EventLoop;

    // A child reaped by someone else before its watch starts (here the test's own waitpid;
    // in life `SIGCHLD` ignored): with the pidfd demanded, `pidfd_open` fails with `ESRCH`.
    // The watch reports returncode 255 and its pid, perhaps another process's by now, is
    // never signalled. (The pid was sent SIGKILL by `abandon`, and the start failed with
    // ESRCH.)
    #[test]
    fn a_pidfd_watch_of_a_child_reaped_elsewhere_reports_255_and_signals_nothing() {
        let lp = EventLoop::new().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap(); // reaped here: the pid is free for anyone
        let watch = match ChildWatch::start(&lp.handle(), pid, ChildWatcher::Pidfd) {
            Ok(w) => w,
            Err(e) => panic!("a child reaped elsewhere failed its watch: {e:?}"),
        };
        assert_eq!(watch.returncode(), Some(255));
        assert_eq!(watch.kind(), ChildWatcher::Pidfd);
        assert!(
            !watch.send_signal(libc::SIGKILL).unwrap(),
            "a signal was sent"
        );
        drop(watch.kill_guard()); // sends nothing either: the child counts as reaped
    }

    /// A thread-way watch of `pid` whose thread has not reaped the child (none was started).
    fn threaded_watch_of(pid: u32) -> ChildWatch {
        ChildWatch {
            pid: libc::pid_t::try_from(pid).unwrap(),
            exit: ExitCell::default(),
            kind: ChildWatcher::Threaded,
            pidfd: Weak::new(),
        }
    }

    fn exit_signal(status: std::process::ExitStatus) -> Option<i32> {
        std::os::unix::process::ExitStatusExt::signal(&status)
    }

    // A start that fails with a pidfd in hand kills through it: `abandon` gets that pidfd,
    // for a child the test has reaped, and a pid now some other child's (`sleep`, standing
    // for a reused pid). The pidfd finds its child gone: nothing is killed or waited for, and
    // `sleep` runs on. (Before: `abandon(pid)` killed `sleep` by pid and reaped it.)
    #[test]
    fn abandon_kills_through_the_pidfd_in_hand_never_by_pid() {
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let pidfd = pidfd_open(libc::pid_t::try_from(gone.id()).unwrap()).unwrap();
        gone.wait().unwrap();
        let mut other = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        abandon(libc::pid_t::try_from(other.id()).unwrap(), Some(&pidfd));
        let still = other.try_wait();
        drop(other.kill());
        drop(other.wait());
        assert!(
            matches!(still, Ok(None)),
            "the pid's process was killed or reaped: {still:?}"
        );
    }

    // A pidfd watch demanded on a closed loop fails, and its child, running, is killed and
    // reaped at once (through a pidfd opened for it; before, by pid: no visible difference).
    #[test]
    fn a_watch_that_cannot_start_kills_and_reaps_its_child() {
        let lp = EventLoop::new().unwrap();
        lp.close().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let r = ChildWatch::start(&lp.handle(), child.id(), ChildWatcher::Pidfd);
        assert!(r.is_err(), "a watch started on a closed loop");
        let after = child.try_wait();
        if after.is_ok() {
            drop(child.kill());
            drop(child.wait());
        }
        let echild = after.map_err(|e| e.raw_os_error());
        assert_eq!(echild, Err(Some(libc::ECHILD)), "the child was not reaped");
    }

    // The pidfd way signals through the watch's own pidfd. The test reaps the child itself (a
    // stray `waitpid`) while the watch, whose loop never turns, still takes it for running:
    // the signal finds the child gone and sends nothing, `Ok(false)`, as CPython's
    // `send_signal` ignores `ProcessLookupError`. (Before: `kill(pid)`, which answered
    // `Err(ESRCH)`, and would have signalled whoever had the pid by then.)
    #[test]
    fn a_pidfd_watch_sends_through_its_pidfd_and_nothing_once_the_child_is_reaped_elsewhere() {
        let lp = EventLoop::new().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let watch = ChildWatch::start(&lp.handle(), child.id(), ChildWatcher::Pidfd).unwrap();
        assert_eq!(watch.kind(), ChildWatcher::Pidfd);
        assert!(watch.send_signal(libc::SIGKILL).unwrap(), "nothing sent");
        assert_eq!(exit_signal(child.wait().unwrap()), Some(libc::SIGKILL));
        assert_eq!(watch.returncode(), None, "the loop turned");
        match watch.send_signal(0) {
            Ok(sent) => assert!(!sent, "a signal was sent to a reaped child"),
            Err(e) => panic!("signalling a child reaped elsewhere failed: {e}"),
        }
    }

    // The thread way holds no pidfd: it opens one for the signal. A child reaped elsewhere
    // (`ESRCH` from `pidfd_open`) gets nothing: `Ok(false)`. (Before: `kill(pid)`, `Err(ESRCH)`.)
    #[test]
    fn a_threaded_watch_sends_nothing_to_a_child_reaped_elsewhere() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        match threaded_watch_of(child.id()).send_signal(0) {
            Ok(sent) => assert!(!sent, "a signal was sent to a reaped child"),
            Err(e) => panic!("signalling a child reaped elsewhere failed: {e}"),
        }
    }

    // Our child reaped elsewhere and its pid taken by a process that is not our child: our
    // parent stands for that process. The pidfd opened for the signal names a non-child
    // (`waitid(P_PIDFD)`: `ECHILD`), so nothing is sent. (Before: `kill(pid, 0)` reached it,
    // `Ok(true)`; signal 0 so that the old code harms nobody.)
    #[test]
    fn a_threaded_watch_never_signals_a_pid_that_names_another_process() {
        let watch = threaded_watch_of(std::os::unix::process::parent_id());
        assert!(
            !watch.send_signal(0).unwrap(),
            "a process that is not our child was signalled"
        );
    }

    // Without pidfds in the kernel the pid is signalled only once `waitid(P_PID, WNOWAIT)`
    // sees our unreaped child there: our parent, standing for a process that took the pid of
    // a child reaped elsewhere, gets nothing. (Before: `kill(pid, 0)` reached it, `Ok(true)`.)
    #[test]
    fn without_pidfd_a_pid_that_names_another_process_is_not_signalled() {
        simulate_no_pidfd(true);
        let sent = threaded_watch_of(std::os::unix::process::parent_id()).send_signal(0);
        simulate_no_pidfd(false);
        assert!(
            !sent.unwrap(),
            "a process that is not our child was signalled"
        );
    }

    // The thread way's signal reaches a running child, through the pidfd it opens and, with
    // no pidfd in the kernel, by `kill(2)`; a reaped one gets nothing either way. (Before,
    // the reaped one gave `Err(ESRCH)`.)
    #[test]
    fn a_threaded_watch_signals_its_running_child_with_or_without_pidfd() {
        for no_pidfd in [false, true] {
            simulate_no_pidfd(no_pidfd);
            let mut child = std::process::Command::new("sleep")
                .arg("60")
                .spawn()
                .unwrap();
            let watch = threaded_watch_of(child.id());
            let sent = watch.send_signal(libc::SIGKILL);
            let status = child.wait().unwrap();
            let after = watch.send_signal(0);
            simulate_no_pidfd(false);
            assert!(sent.unwrap(), "nothing sent (no pidfd: {no_pidfd})");
            assert_eq!(exit_signal(status), Some(libc::SIGKILL));
            match after {
                Ok(sent) => assert!(!sent, "a reaped child was signalled (no pidfd: {no_pidfd})"),
                Err(e) => panic!("signalling a reaped child failed (no pidfd: {no_pidfd}): {e}"),
            }
        }
    }

    fn pid_of(child: &std::process::Child) -> libc::pid_t {
        libc::pid_t::try_from(child.id()).unwrap()
    }

    // The pidfd way reaps through its pidfd, never by pid. Child A, whose pidfd the watch
    // holds, is reaped by the test (a stray `waitpid`); child B, exited and not reaped, has
    // the watch's pid (standing for A's pid reused by another child of ours). Neither the
    // readiness nor the loop's closing may take B's status: the watch reports 255 (`ECHILD`,
    // as CPython reports a status already read) and B is left for its owner to reap.
    // (Before: `waitpid(pid)` reaped B and reported its exit status 7; checked by reverting.)
    #[test]
    fn a_pidfd_watch_reaps_through_its_pidfd_never_another_child_with_its_pid() {
        let lp = EventLoop::new().unwrap();
        let mut a = std::process::Command::new("true").spawn().unwrap();
        let pidfd = pidfd_open(pid_of(&a)).unwrap();
        a.wait().unwrap();
        for via_loop_closed in [false, true] {
            let mut b = std::process::Command::new("sh")
                .args(["-c", "exit 7"])
                .spawn()
                .unwrap();
            wait_exited(pid_of(&b)); // exited, still a zombie
            let watch = Rc::new_cyclic(|me| PidfdWatch {
                lp: lp.handle(),
                me: me.clone(),
                pid: pid_of(&b),
                pidfd: pidfd.try_clone().unwrap(),
                exit: ExitCell::default(),
                key: std::cell::Cell::new(None),
            });
            if via_loop_closed {
                watch.loop_closed();
            } else {
                watch.io_ready(Readiness::readable());
            }
            let rc = lock(&watch.exit).returncode;
            let b_status = b.try_wait().map_err(|e| e.raw_os_error());
            let b_code = b_status.map(|s| s.and_then(|s| s.code()));
            assert_eq!(
                b_code,
                Ok(Some(7)),
                "another child's status was taken (via loop_closed: {via_loop_closed})"
            );
            assert_eq!(rc, Some(255), "via loop_closed: {via_loop_closed}");
        }
    }

    // The returncodes the pidfd way reads from `waitid`'s `siginfo_t`: the exit status of a
    // child that exited (reaped as the watch registers), minus the signal number of one
    // killed (reaped on readiness). No visible difference from the `waitpid` status before.
    #[test]
    #[allow(clippy::zombie_processes)] // the watch reaps both: a wait here would be a stray one
    fn a_pidfd_watch_reports_exit_status_and_minus_the_signal() {
        let lp = EventLoop::new().unwrap();
        let exited = std::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .unwrap();
        wait_exited(pid_of(&exited));
        let watch = ChildWatch::start(&lp.handle(), exited.id(), ChildWatcher::Pidfd).unwrap();
        assert_eq!(watch.returncode(), Some(3));

        let killed = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let watch = ChildWatch::start(&lp.handle(), killed.id(), ChildWatcher::Pidfd).unwrap();
        assert!(watch.send_signal(libc::SIGKILL).unwrap(), "nothing sent");
        wait_exited(pid_of(&killed));
        assert_eq!(watch.returncode(), None, "reaped before its readiness");
        let Some(pidfd_watch) = watch.pidfd.upgrade() else {
            panic!("the pidfd watch left the loop before the child was reaped");
        };
        pidfd_watch.io_ready(Readiness::readable());
        assert_eq!(watch.returncode(), Some(-libc::SIGKILL));
    }
}
