//! Unit tests of the child watcher (Linux: pidfds).

use super::process::pidfd_open;
use super::watchers::{wait_exited, PidfdWatch};
use super::*;
use crate::event_loop::io::{IoHandler, Readiness};
use crate::EventLoop;
use std::rc::Rc;

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
        wait_exited(pid_of(&b), &mut None); // exited, still a zombie
        let watch = pidfd_watch(
            &lp,
            pid_of(&b),
            pidfd.try_clone().unwrap(),
            ExitCell::default(),
        );
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
    wait_exited(pid_of(&exited), &mut None);
    let watch = ChildWatch::start(&lp.handle(), exited.id(), ChildWatcher::Pidfd).unwrap();
    assert_eq!(watch.returncode(), Some(3));

    let killed = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let watch = ChildWatch::start(&lp.handle(), killed.id(), ChildWatcher::Pidfd).unwrap();
    assert!(watch.send_signal(libc::SIGKILL).unwrap(), "nothing sent");
    wait_exited(pid_of(&killed), &mut None);
    assert_eq!(watch.returncode(), None, "reaped before its readiness");
    let Some(pidfd_watch) = watch.pidfd.upgrade() else {
        panic!("the pidfd watch left the loop before the child was reaped");
    };
    pidfd_watch.io_ready(Readiness::readable());
    assert_eq!(watch.returncode(), Some(-libc::SIGKILL));
}

/// A pidfd watch on `lp` of `pid` through `pidfd`, reporting to `exit`.
fn pidfd_watch(
    lp: &EventLoop,
    pid: libc::pid_t,
    pidfd: std::os::fd::OwnedFd,
    exit: ExitCell,
) -> Rc<PidfdWatch> {
    Rc::new_cyclic(|me| PidfdWatch {
        lp: lp.handle(),
        me: me.clone(),
        pid,
        pidfd,
        exit,
        key: std::cell::Cell::new(None),
    })
}

/// The watch of `pid` after its pidfd watch (through `pidfd`) saw the loop close and was
/// dropped, as the io table drops it: its own pidfd is closed, the reaper thread holds one.
fn watch_after_its_loop_closed(
    lp: &EventLoop,
    pid: libc::pid_t,
    pidfd: std::os::fd::OwnedFd,
) -> ChildWatch {
    let exit = ExitCell::default();
    let pidfd_watch = pidfd_watch(lp, pid, pidfd, exit.clone());
    let watch = ChildWatch {
        pid,
        exit,
        kind: ChildWatcher::Pidfd,
        pidfd: Rc::downgrade(&pidfd_watch),
    };
    pidfd_watch.loop_closed();
    drop(pidfd_watch);
    watch
}

/// Waits (bounded) until `watch` has a returncode: a waker that signals a channel.
fn returncode_within(watch: &ChildWatch, limit: std::time::Duration) -> Option<i32> {
    struct Send(std::sync::Mutex<std::sync::mpsc::Sender<()>>);
    impl std::task::Wake for Send {
        fn wake(self: std::sync::Arc<Self>) {
            let _gone = self.0.lock().unwrap().send(()); // the test may have given up
        }
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let waker = std::task::Waker::from(std::sync::Arc::new(Send(std::sync::Mutex::new(tx))));
    let mut key = 0;
    if let Poll::Ready(rc) = watch.poll_exit(&mut key, &mut Context::from_waker(&waker)) {
        return Some(rc);
    }
    let _woken_or_timed_out = rx.recv_timeout(limit);
    watch.returncode()
}

// A pidfd watch whose loop closes before its child exits hands the child to a reaper
// thread, which waits and reaps through a duplicate of the watch's pidfd, never by pid.
// The watch holds the pidfd of child A (running) and the pid of child B (exited, not
// reaped: standing for A's pid reused by another child of ours). After the loop closes, A
// is killed: the thread reports A's -SIGKILL and leaves B's status to its owner. (Before:
// the thread waited for and reaped B by pid, reporting B's exit status 7, and A stayed a
// zombie; checked by reverting.)
#[test]
#[allow(clippy::zombie_processes)] // A is reaped by the watch's thread
fn a_pidfd_watch_at_loop_close_hands_its_pidfd_to_the_reaper_thread() {
    let lp = EventLoop::new().unwrap();
    let mut a = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let mut b = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .spawn()
        .unwrap();
    wait_exited(pid_of(&b), &mut None); // exited, still a zombie
    let pidfd = pidfd_open(pid_of(&a)).unwrap();
    let watch = watch_after_its_loop_closed(&lp, pid_of(&b), pidfd.try_clone().unwrap());
    let sent = process::pidfd_send_signal(&pidfd, libc::SIGKILL);
    let rc = returncode_within(&watch, std::time::Duration::from_secs(10));
    let b_code = b.try_wait().map_err(|e| e.raw_os_error());
    let b_code = b_code.map(|s| s.and_then(|s| s.code()));
    if rc != Some(-libc::SIGKILL) {
        drop(a.kill());
        drop(a.wait());
    }
    assert!(sent.unwrap(), "A was not running when killed");
    assert_eq!(
        rc,
        Some(-libc::SIGKILL),
        "the thread did not report A's kill"
    );
    assert_eq!(b_code, Ok(Some(7)), "another child's status was taken");
}

// After its loop closed, a pidfd watch's child is signalled through the pidfd its reaper
// thread holds, never by pid: the watch holds the pidfd of child A (running) and the pid
// of child B (running: standing for A's pid reused by another child of ours once A was
// reaped elsewhere). A signal sent after the loop closed reaches A and leaves B alone.
#[test]
#[allow(clippy::zombie_processes)] // A is reaped by the watch's thread
fn after_its_loop_closed_a_pidfd_watch_signals_through_the_reaper_threads_pidfd() {
    let lp = EventLoop::new().unwrap();
    let mut a = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let mut b = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let watch = watch_after_its_loop_closed(&lp, pid_of(&b), pidfd_open(pid_of(&a)).unwrap());
    let sent = watch.send_signal(libc::SIGKILL);
    let rc = returncode_within(&watch, std::time::Duration::from_secs(10));
    let b_running = matches!(b.try_wait(), Ok(None));
    drop(b.kill());
    drop(b.wait());
    if rc != Some(-libc::SIGKILL) {
        drop(a.kill());
        drop(a.wait());
    }
    assert!(sent.unwrap(), "nothing was sent");
    assert!(b_running, "another child with the pid was signalled");
    assert_eq!(rc, Some(-libc::SIGKILL), "A was not killed");
}

// The default way, a child reaped by someone else before its watch starts: `pidfd_open`
// answers `ESRCH`, so no process has the pid (a zombie would). It is reported at once
// with returncode 255, as with the pidfd demanded, and not handed to a reaper thread,
// which would wait for and reap by pid whichever child of ours takes the pid next.
#[test]
fn an_auto_watch_of_a_child_reaped_elsewhere_reports_255_and_starts_no_thread() {
    let lp = EventLoop::new().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap(); // reaped here: the pid is free for anyone
    let watch = ChildWatch::start(&lp.handle(), pid, ChildWatcher::Auto).unwrap();
    assert_eq!(
        watch.kind(),
        ChildWatcher::Pidfd,
        "handed to a thread that waits by pid"
    );
    assert_eq!(watch.returncode(), Some(255));
    assert!(
        !watch.send_signal(libc::SIGKILL).unwrap(),
        "a signal was sent"
    );
}

// The default way once a lasting refusal of `pidfd_open` is on record for the process
// (injected here, where the kernel does open pidfds): the child goes straight to a helper
// thread, with no `pidfd_open` tried for it. Before, every child tried one first, and here,
// where it works, was watched through a pidfd.
#[test]
#[allow(clippy::zombie_processes)] // reaped by the watch's thread
fn an_auto_watch_after_a_lasting_pidfd_refusal_takes_a_thread_at_once() {
    let lp = EventLoop::new().unwrap();
    let child = std::process::Command::new("true").spawn().unwrap();
    super::process::inject_refusal(Some(true));
    let watch = ChildWatch::start(&lp.handle(), child.id(), ChildWatcher::Auto);
    super::process::inject_refusal(None);
    let watch = watch.unwrap();
    assert_eq!(watch.kind(), ChildWatcher::Threaded, "a pidfd was opened");
}

// A signal to a child watched by a thread once a lasting refusal of `pidfd_open` is on record
// (injected): it goes by `kill(2)` with no `pidfd_open` tried first, which would only fail
// again. Before, each signal tried one (counted here: one call).
#[test]
fn a_signal_after_a_lasting_pidfd_refusal_tries_no_pidfd_open() {
    let mut child = std::process::Command::new("cat")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let before = super::process::pidfd_opens();
    super::process::inject_refusal(Some(true));
    let sent = super::process::signal_child(pid, libc::SIGKILL);
    super::process::inject_refusal(None);
    let opens = super::process::pidfd_opens() - before;
    let status = child.wait().unwrap();
    assert!(matches!(sent, Ok(true)), "{sent:?}");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert_eq!(opens, 0, "pidfd_open was tried");
}
