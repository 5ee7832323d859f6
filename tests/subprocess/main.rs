//! Subprocesses (issue #15, subprocesses): `create_subprocess_exec`/`_shell`, `Process`, and
//! both child watchers. Test names follow CPython's `test_asyncio/test_subprocess.py`
//! (`SubprocessMixin`) where a test is ported; each runs once per watcher (`_pidfd`: the
//! default where the kernel has pidfd; `_threaded`: the fallback, forced). Children are `sh`,
//! `cat` and `python3`; every test is bounded by `run_fresh`'s timeout, and no test sleeps to
//! synchronise: children that must wait block on their stdin or are killed.

#[path = "../util/mod.rs"]
mod util;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use asyncio::{
    create_subprocess_exec, create_subprocess_shell, ChildWatcher, Error, Process, Stdio,
};
use util::{open_fds, os_pipe};

const BOUND: Duration = Duration::from_secs(60);

/// `cat` with stdin and stdout pipes.
async fn cat(w: ChildWatcher) -> Result<Process, Error> {
    create_subprocess_exec("cat", [] as [&str; 0])
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .child_watcher(w)
        .await
}

/// `sh -c script` with the given watcher.
fn sh(script: &str, w: ChildWatcher) -> asyncio::CreateSubprocess {
    create_subprocess_shell(script).child_watcher(w)
}

/// Defines `name_pidfd` and `name_threaded`, each running `body(watcher)` on a fresh loop.
macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn pidfd() {
                run(ChildWatcher::Auto, $body);
            }
            #[test]
            fn threaded() {
                run(ChildWatcher::Threaded, $body);
            }
        }
    };
}

fn run<F, Fut>(w: ChildWatcher, body: F)
where
    F: FnOnce(ChildWatcher) -> Fut,
    Fut: Future<Output = Result<(), Error>> + 'static,
{
    util::run_fresh(BOUND, body(w)).unwrap();
}

/// A child that says "ready" once it runs, then waits on its stdin, which we never close.
async fn ready_child(w: ChildWatcher) -> Result<Process, Error> {
    let proc = sh("echo ready; exec cat >/dev/null", w)
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .await?;
    let line = proc.stdout.as_ref().unwrap().readline().await?;
    assert_eq!(line, b"ready\n");
    Ok(proc)
}

/// True once `pid` is no child of ours any more: reaped, not a zombie. `waitid` with
/// `WNOWAIT` only looks (a zombie answers with its pid, a running child with 0).
fn reaped(pid: u32) -> bool {
    // SAFETY: `info` is a zeroed `siginfo_t` the call fills; no pointer outlives the call.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: plain system call on our own child's pid with a valid out-pointer.
    let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}

/// Runs loop turns until `pid` is reaped (the reaping is the loop's or a helper thread's);
/// 20 s is a bound, not a synchronisation.
async fn until_reaped(pid: u32) {
    let end = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < end {
        if reaped(pid) {
            return;
        }
        asyncio::yield_now().await;
    }
    panic!("child {pid} left a zombie (or still runs)");
}

/// This thread's children, zombies included (Linux's `/proc/thread-self/children`: a child
/// belongs to the thread that started it, and each test's loop has its own thread); `None`
/// where the kernel does not say.
fn my_children() -> Option<String> {
    std::fs::read_to_string("/proc/thread-self/children").ok()
}

mod communicate;
mod pass_fds_edges;
mod popen_options;
mod session_and_group;
mod signals;
mod spawn;
mod spawn_errors;
mod stdio;
mod wait_and_reap;
mod watchers;
