//! The system calls on one child, each safe against a reused pid: open a pidfd for it,
//! signal it, reap it (the ground rules in the module doc of `child_watcher`).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering::Relaxed};

/// `pidfd_open(pid)`: a descriptor naming the process that has `pid` now (close-on-exec).
#[cfg(target_os = "linux")]
pub(super) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    if force_thread() {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    #[cfg(test)]
    OPENS.with(|n| n.set(n.get() + 1));
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
pub(super) fn pidfd_open(_pid: libc::pid_t) -> io::Result<OwnedFd> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// What this process has learnt of `pidfd_open`: 0 until asked, -1 once it worked, else the
/// errno of a lasting refusal (no such call: `ENOSYS`; a seccomp filter or sandbox: `EPERM`,
/// `EACCES`). A passing failure (`EMFILE`, `ENOMEM`) is not recorded: asked again next time.
static PROBED: AtomicI32 = AtomicI32::new(0);

/// Whether `pidfd_open` works in this process, asked before a child that must be watched
/// through a pidfd starts (CPython checks its watcher's `is_active()` before it spawns): probed
/// on our own pid, which always names a live process; the answer is kept in [`PROBED`].
/// `simulate_no_pidfd` refuses with `ENOSYS` on its thread.
pub(super) fn pidfd_works() -> io::Result<()> {
    if force_thread() {
        return Err(io::Error::from_raw_os_error(libc::ENOSYS));
    }
    match PROBED.load(Relaxed) {
        0 => {}
        -1 => return Ok(()),
        errno => return Err(io::Error::from_raw_os_error(errno)),
    }
    let me = libc::pid_t::try_from(std::process::id()).map_err(io::Error::other)?;
    match pidfd_open(me) {
        Ok(fd) => {
            drop(fd);
            PROBED.store(-1, Relaxed);
            Ok(())
        }
        Err(e) => {
            note_refusal(&e);
            Err(e)
        }
    }
}

/// Records `e`, a failure of `pidfd_open`, if it is a lasting refusal: the probe's, or that of
/// an `Auto` watch's own attempt (the first child then teaches the rest). A refusal simulated
/// on this thread is not recorded: it holds for this thread only.
pub(super) fn note_refusal(e: &io::Error) {
    if let Some(errno @ (libc::ENOSYS | libc::EPERM | libc::EACCES)) = e.raw_os_error() {
        if !force_thread() {
            PROBED.store(errno, Relaxed);
        }
    }
}

/// Whether a lasting refusal of `pidfd_open` is on record for this process: an `Auto` watch
/// then takes a helper thread at once instead of trying once more per child. Asks the kernel
/// nothing; not yet known is no refusal.
pub(super) fn pidfd_refused() -> bool {
    #[cfg(test)]
    if let Some(refused) = INJECTED_REFUSAL.with(std::cell::Cell::get) {
        return refused;
    }
    PROBED.load(Relaxed) > 0
}

#[cfg(test)]
thread_local! {
    /// Unit-test seam: the recorded answer [`pidfd_refused`] gives on this thread, in place of
    /// [`PROBED`] (process-wide, shared by the tests that run beside it); `None`: the real one.
    static INJECTED_REFUSAL: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Sets (`Some`) or clears the answer [`pidfd_refused`] gives on this thread.
#[cfg(test)]
pub(super) fn inject_refusal(refused: Option<bool>) {
    INJECTED_REFUSAL.with(|r| r.set(refused));
}

#[cfg(test)]
thread_local! {
    /// Unit-test probe: how many `pidfd_open` calls this thread has made.
    static OPENS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many `pidfd_open` calls this thread has made.
#[cfg(test)]
pub(super) fn pidfd_opens() -> usize {
    OPENS.with(std::cell::Cell::get)
}

/// Sends `sig` to the process `pidfd` names, which no other process can ever be: `Ok(false)`
/// when it is gone (`ESRCH`: reaped, by us or by someone else).
#[cfg(target_os = "linux")]
pub(super) fn pidfd_send_signal(pidfd: &OwnedFd, sig: i32) -> io::Result<bool> {
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
pub(super) fn pidfd_send_signal(_pidfd: &OwnedFd, _sig: i32) -> io::Result<bool> {
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
/// someone else's could. Once a lasting refusal of `pidfd_open` is on record it is not tried
/// again: it would only fail once more.
pub(super) fn signal_child(pid: libc::pid_t, sig: i32) -> io::Result<bool> {
    let opened = if pidfd_refused() {
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    } else {
        pidfd_open(pid)
    };
    match opened {
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
pub(super) fn reap(pid: libc::pid_t, pidfd: Option<&OwnedFd>, flags: libc::c_int) -> Option<i32> {
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
///
/// Public only for this crate's integration tests (`tests/subprocess/watchers.rs`), which
/// cannot reach a crate-private hook; hidden from the docs and not part of the API.
///
/// ```
/// asyncio::simulate_no_pidfd(true); // this thread only
/// let watcher = asyncio::run(async {
///     let proc = asyncio::create_subprocess_shell("exit 0").await?;
///     assert_eq!(proc.wait().await, 0);
///     Ok::<_, asyncio::Error>(proc.child_watcher())
/// });
/// asyncio::simulate_no_pidfd(false);
/// assert_eq!(watcher??, asyncio::ChildWatcher::Threaded); // Auto fell back
/// # Ok::<_, asyncio::Error>(())
/// ```
#[doc(hidden)]
pub fn simulate_no_pidfd(on: bool) {
    FORCE_THREAD.with(|f| f.set(on));
}
