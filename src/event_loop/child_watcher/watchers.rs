//! The two ways of learning that a child exited (the module doc of `child_watcher`): a pidfd
//! registered with the loop, which reaps on readiness, and a reaper thread per child.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::rc::{Rc, Weak};
use std::sync::Arc;

use super::process::{pidfd_open, reap};
use super::{lock, set_exited, ExitCell, Failed};
use crate::event_loop::io::{IoHandler, Readiness};
use crate::event_loop::LoopHandle;
use crate::slots::SlotKey;

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
/// Given a pidfd for the child, the thread waits and reaps through a duplicate of it, so
/// that it never takes another child that has the pid by then; by pid where none is given
/// or the duplicate cannot be had (no descriptor left). Signals then go through it too (it
/// is kept in the exit cell until the child is reaped).
pub(super) fn spawn_waiter(
    pid: libc::pid_t,
    pidfd: Option<&OwnedFd>,
    exit: ExitCell,
) -> io::Result<()> {
    let pidfd = pidfd.and_then(|fd| fd.try_clone().ok()).map(Arc::new);
    // Signals go through it too from now on (the watch's own pidfd may close before the
    // child exits).
    lock(&exit).pidfd.clone_from(&pidfd);
    std::thread::Builder::new()
        .name(format!("asyncio-waitpid-{pid}"))
        .spawn(move || {
            let mut pidfd = pidfd;
            wait_exited(pid, &mut pidfd);
            // Exited and not reaped: a WNOHANG reap now succeeds.
            while !try_reap(pid, pidfd.as_deref(), &exit) {
                wait_exited(pid, &mut pidfd);
            }
        })
        .map(drop)
}

/// Blocks until the child has exited, leaving it a zombie (`WNOWAIT`): through `pidfd` if
/// given, else by pid. A kernel without `P_PIDFD` for `waitid` (before 5.4: `EINVAL`) drops
/// the pidfd, and the wait and the reap after it go by pid, as [`reap`] does.
pub(super) fn wait_exited(pid: libc::pid_t, pidfd: &mut Option<Arc<OwnedFd>>) {
    loop {
        let (idtype, id) = match pidfd {
            Some(fd) => (libc::P_PIDFD, fd.as_raw_fd()),
            None => (libc::P_PID, pid),
        };
        let id = libc::id_t::try_from(id).unwrap_or_default();
        // SAFETY: an all-zero `siginfo_t` is a valid out-value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid out-pointer for the call.
        let r = unsafe { libc::waitid(idtype, id, &mut info, libc::WEXITED | libc::WNOWAIT) };
        match (r, io::Error::last_os_error().raw_os_error()) {
            (0, _) => return,
            (_, Some(libc::EINTR)) => continue,
            (_, Some(libc::EINVAL)) if pidfd.is_some() => *pidfd = None,
            _ => return, // ECHILD: the reap that follows reports it
        }
    }
}

/// The pidfd way: a loop registration that reaps when the pidfd turns readable.
pub(super) struct PidfdWatch {
    pub(super) lp: LoopHandle,
    pub(super) me: Weak<PidfdWatch>,
    pub(super) pid: libc::pid_t,
    pub(super) pidfd: OwnedFd,
    pub(super) exit: ExitCell,
    /// The registration; taken when the child is reaped (or the loop closes).
    pub(super) key: std::cell::Cell<Option<SlotKey>>,
}

impl PidfdWatch {
    /// Registers a pidfd for `pid`; the watch lives in the loop's io table until released.
    /// On failure, hands back the pidfd if it was opened.
    pub(super) fn register(
        lp: &LoopHandle,
        pid: libc::pid_t,
        exit: ExitCell,
    ) -> Result<Weak<Self>, Failed> {
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
            (&mut mio::unix::SourceFd(&raw), raw, mio::Interest::READABLE),
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
            // The loop goes before the child: a thread reaps it, so it never stays a zombie,
            // through a duplicate of our pidfd (ours closes as the io table drops us).
            if let Err(e) = spawn_waiter(self.pid, Some(&self.pidfd), self.exit.clone()) {
                crate::event_loop::debug::warning!("child {} may stay a zombie: {e}", self.pid);
            }
        }
    }
}
