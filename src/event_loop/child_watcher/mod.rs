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
//!   `ThreadedChildWatcher` uses `call_soon_threadsafe`. The thread holds nothing but the pid,
//!   the shared exit cell and, where a pidfd was opened for the child (a pidfd watch whose
//!   loop closed, a registration that failed), a duplicate of it, through which it then
//!   waits and reaps, and which the exit cell shares for signals; it ends when the child
//!   does. The thread way asked for holds no pidfd: it waits and reaps by pid, as CPython's.
//!
//! Ground rules: a child is signalled through a pidfd, never by pid (a pid is free for any new
//! process once someone reaps the child: `SIGCHLD` ignored, a stray `waitpid(-1)`): the pidfd
//! watch's own descriptor, else the reaper thread's (a child handed over at loop close), else
//! one opened for the signal and checked to name our unreaped child (a child of ours, not
//! necessarily this one: only a thread-way watch without a pidfd comes to that); `kill(2)` only where the kernel has no `pidfd_open`, to a pid `waitid(WNOWAIT)` has
//! just seen to be our unreaped child. Likewise a child is reaped through the pidfd held for
//! it: `waitpid(pid)` would take whichever child of ours has the pid by then. A signal
//! finding the child gone (`ESRCH`) sends nothing, as CPython's `Popen.send_signal` ignores
//! `ProcessLookupError`. The exit cell's lock is held from the returncode check to the send,
//! and reaping takes the same lock, so our own reaping never races the `kill(2)` fallback.
//! Once registered, a child is reaped whatever happens to its `Process`: the pidfd
//! registration stays with the loop until the child exits, and if the loop closes first the
//! child is handed to a reaper thread. This module is the only one that calls
//! `waitpid`/`waitid`/`kill`/`pidfd_open`/`pidfd_send_signal` (and, in a starting child,
//! `setsid`, the close-on-exec marks of `set_child_fds` and `restore_signals`' `SIGXFSZ`);
//! it touches mio only through the loop's `register_handler`.
//!
//! Here: the watch a `Process` holds ([`ChildWatch`]), its kill guard, and the ways a child
//! that cannot be watched is let go. `process.rs`: the system calls on one child (open a
//! pidfd, signal, reap), each safe against a reused pid. `watchers.rs`: the two ways of
//! learning of the exit, the pidfd registration and the reaper thread. `fds.rs`: which
//! descriptors a starting child keeps (Popen's `close_fds`, `pass_fds`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::OwnedFd;
use std::rc::Weak;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::LoopHandle;
use crate::error::Error;
use crate::wakers::KeyedWakers;

mod fds;
mod process;
#[cfg(all(test, target_os = "linux"))]
mod tests;
mod watchers;

pub(crate) use fds::{all_open, set_child_fds};
pub use process::simulate_no_pidfd;
use process::{pidfd_send_signal, reap, signal_child};
use watchers::{spawn_waiter, PidfdWatch};

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
    /// thread per child. A child someone else already reaped is reported as with
    /// [`Pidfd`](Self::Pidfd).
    #[default]
    Auto,
    /// A pidfd polled by the loop; creating the process fails with the OS error where
    /// `pidfd_open` does: before the child starts where this process cannot open any pidfd
    /// (no such call, or a sandbox refuses it), else once it has started, and it is then
    /// killed. A child someone else already reaped (`SIGCHLD` ignored) is the exception: it
    /// is reported with returncode 255 and a warning, and never signalled.
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
    /// The reaper thread's pidfd for the child, where it has one: signals go through it once
    /// no pidfd watch is left (its loop closed). `None` once reaped.
    pidfd: Option<Arc<OwnedFd>>,
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
        st.pidfd = None; // never signalled again
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
    /// descriptor. Dangling for the thread way, and once the child is reaped or the loop
    /// closed (then through the reaper thread's pidfd, kept in the exit cell).
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

    /// What can be known before the child starts: whether `lp` is open, and whether the way
    /// `how` demands can watch any child at all here (a pidfd where `pidfd_open` is refused).
    /// Checked first, so that a watch which cannot work never lets a child run for a moment
    /// before it is killed; what can only fail once the child exists (its own pidfd, the
    /// registration, a helper thread) still fails in [`start`](Self::start), which kills it.
    pub(crate) fn check(lp: &LoopHandle, how: ChildWatcher) -> Result<(), Error> {
        lp.inner.check_closed()?;
        if how == ChildWatcher::Pidfd {
            process::pidfd_works()?;
        }
        Ok(())
    }

    /// Takes the way `how` asks for; on failure hands back the pidfd if one was opened, for
    /// [`abandon`] to signal through.
    fn start_kind(&mut self, lp: &LoopHandle, how: ChildWatcher) -> Result<(), Failed> {
        let (pid, exit) = (self.pid, &self.exit);
        let thread = |pidfd: Option<OwnedFd>| {
            spawn_waiter(pid, pidfd.as_ref(), exit.clone()).map_err(|e| (e.into(), pidfd))
        };
        self.kind = match how {
            ChildWatcher::Threaded => {
                thread(None)?;
                ChildWatcher::Threaded
            }
            // A lasting refusal is on record (the probe's, or an earlier child's): another
            // `pidfd_open` per child would only fail the same way.
            ChildWatcher::Auto if process::pidfd_refused() => {
                thread(None)?;
                ChildWatcher::Threaded
            }
            ChildWatcher::Pidfd | ChildWatcher::Auto => {
                match PidfdWatch::register(lp, pid, exit.clone()) {
                    Ok(watch) => {
                        self.pidfd = watch;
                        ChildWatcher::Pidfd
                    }
                    // No process has the pid (a zombie would): ours was reaped elsewhere, and
                    // a thread waiting by pid would take whichever child of ours has it next.
                    Err((Error::Io(e), _)) if e.raw_os_error() == Some(libc::ESRCH) => {
                        reaped_elsewhere(pid, exit);
                        ChildWatcher::Pidfd
                    }
                    Err(failed) if how == ChildWatcher::Pidfd => return Err(failed),
                    Err((e, pidfd)) => {
                        if let Error::Io(io) = &e {
                            process::note_refusal(io);
                        }
                        crate::event_loop::debug::debug_log!(
                            "pidfd for child {pid}: {e}; using a thread"
                        );
                        thread(pidfd)?;
                        ChildWatcher::Threaded
                    }
                }
            }
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
        let sent = match (self.pidfd.upgrade(), &st.pidfd) {
            (Some(watch), _) => pidfd_send_signal(&watch.pidfd, sig),
            (None, Some(pidfd)) => pidfd_send_signal(pidfd, sig),
            (None, None) => signal_child(self.pid, sig),
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
            crate::event_loop::debug::debug_log!(
                "subprocess creation did not finish: killing child {}",
                watch.pid
            );
            if let Err(e) = watch.send_signal(libc::SIGKILL) {
                crate::event_loop::debug::warning!("killing child {}: {e}", watch.pid);
            }
        }
    }
}

/// Makes the child call `setsid()` before it executes the program (Python's
/// `start_new_session=True`), then `setpgid(0, pgid)` for a `group` (Python's
/// `process_group=`), in `_posixsubprocess`'s order: a session leader may not change its
/// group, so asking for both fails the start with `EPERM`, as in Python.
pub(crate) fn start_new_session(cmd: &mut std::process::Command, group: Option<libc::pid_t>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec; it only calls `setsid` and
    // `setpgid`, which are async-signal-safe, and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            if let Some(pgid) = group {
                if libc::setpgid(0, pgid) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Python's `restore_signals=True` (Popen's default, so asyncio's): the child starts with
/// `SIGPIPE` and `SIGXFSZ` at their default action, as `_Py_RestoreSignals` leaves them
/// (`SIGXFZ` too where there is one; Linux has none). An exec resets every handled signal
/// already; an ignored one stays ignored, and a Python host ignores both from its start-up,
/// every Rust `main` `SIGPIPE`. std resets `SIGPIPE` in every child it starts (unless the
/// program was built with nightly's `-Zon-broken-pipe`); `SIGXFSZ` is reset here, by the
/// child, and only when it is ignored in this process: code to run in the child makes std
/// fork instead of `posix_spawn`, which costs more in a large process. The gap, as for
/// descriptors (`fds.rs`): another thread ignoring `SIGXFSZ` between this look and the start.
pub(crate) fn restore_signals(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    if !super::signals::is_ignored(libc::SIGXFSZ) {
        return;
    }
    // SAFETY: the closure runs in the forked child before exec and only calls `signal`, which
    // is async-signal-safe, with a valid signal number and disposition (it cannot fail).
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
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
        Ok(false) => {
            crate::event_loop::debug::debug_log!("abandoned child {pid} was already reaped")
        }
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
