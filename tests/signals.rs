//! Signals: `LoopHandle::add_signal_handler` / `remove_signal_handler`, SIGINT in
//! `asyncio::run`, and the server examples ending cleanly on SIGINT and SIGTERM.
//!
//! Ported from CPython `Lib/test/test_asyncio/test_unix_events.py`,
//! `SelectorEventLoopSignalTests` (the portable cases: real signals here, no mocks).
//! Dispositions are process-wide, so every test that touches one holds `util::serial()`; this
//! binary holds nothing else. `asyncio::run` installs its SIGINT handler only on the main
//! thread, which a test thread is not: the SIGINT cases run the built examples as children.

mod util;

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use asyncio::{Error, EventLoop};

/// The longest a child or a loop may take for what a test waits for.
const BOUND: Duration = Duration::from_secs(20);

/// Whether `sig` has its default disposition.
fn is_default(sig: i32) -> bool {
    // SAFETY: an all-zero sigaction is valid; a null new action only queries.
    #[allow(unsafe_code)]
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_DFL
    }
}

/// Sends `sig` to this process.
fn raise(sig: i32) {
    // SAFETY: `raise` has no memory preconditions; the signal has a handler installed.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::raise(sig) };
    assert_eq!(rc, 0, "raise({sig})");
}

/// Runs `lp` until a callback stops it, bounded by [`BOUND`] (a timer that fails the test).
fn run_until_stopped(lp: &EventLoop) {
    let timed_out = Rc::new(Cell::new(false));
    let (flag, stopper) = (timed_out.clone(), lp.handle());
    let timer = lp
        .call_later(BOUND, move || {
            flag.set(true);
            stopper.stop();
        })
        .unwrap();
    lp.run_forever().unwrap();
    timer.cancel();
    assert!(!timed_out.get(), "the signal's callback never ran");
}

#[test]
fn test_add_signal_handler() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let ran_on = Rc::new(Cell::new(None));
    let (seen, stopper) = (ran_on.clone(), lp.handle());
    lp.add_signal_handler(libc::SIGUSR1, move || {
        seen.set(Some(std::thread::current().id()));
        stopper.stop();
    })
    .unwrap();
    assert!(!is_default(libc::SIGUSR1));
    raise(libc::SIGUSR1);
    // Not inside the signal handler: nothing ran before the loop did.
    assert_eq!(ran_on.get(), None);
    run_until_stopped(&lp);
    assert_eq!(ran_on.get(), Some(std::thread::current().id()));
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
}

/// A handler for `sig` on `lp` that counts its calls and stops the loop; the count.
fn count_and_stop_on(lp: &EventLoop, sig: i32) -> Rc<Cell<u32>> {
    let count = Rc::new(Cell::new(0));
    let (seen, stopper) = (count.clone(), lp.handle());
    lp.add_signal_handler(sig, move || {
        seen.set(seen.get() + 1);
        stopper.stop();
    })
    .unwrap();
    count
}

#[test]
fn test_add_signal_handler_from_kill() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let count = count_and_stop_on(&lp, libc::SIGUSR2);
    // SAFETY: kill to our own pid; SIGUSR2 has a handler.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGUSR2) };
    assert_eq!(rc, 0);
    run_until_stopped(&lp);
    assert_eq!(count.get(), 1);
    lp.close().unwrap();
}

/// Whether thread `tid` of this process is blocked in an epoll wait right now.
#[cfg(target_os = "linux")]
fn in_epoll_wait(tid: libc::pid_t) -> bool {
    let Ok(now) = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) else {
        return false;
    };
    let nr: libc::c_long = match now.split(' ').next().map(str::parse) {
        Some(Ok(nr)) => nr,
        _ => return false, // "running", or not in a system call
    };
    #[cfg(target_arch = "x86_64")]
    if nr == libc::SYS_epoll_wait {
        return true;
    }
    nr == libc::SYS_epoll_pwait || nr == libc::SYS_epoll_pwait2
}

/// A signal that lands while the loop sleeps in its poll interrupts the poll (EINTR): the
/// loop takes that as an iteration with no events and polls again, so the run goes on and
/// the signal's handler runs; the run does not end with the interruption as its error. A
/// helper thread sends the signal to the loop's thread once it sees that thread blocked in
/// `epoll_wait`, so the poll is what the signal interrupts.
// Checklist: L2, L12.
#[cfg(target_os = "linux")]
#[test]
fn a_signal_interrupting_the_poll_is_not_an_error_and_its_handler_runs() {
    let _serial = util::serial();
    // SAFETY: neither call has preconditions; both name the calling thread.
    #[allow(unsafe_code)]
    let (tid, thread) = unsafe { (libc::gettid(), libc::pthread_self()) };
    // Some kernels and sandboxes (gVisor, a container's masked /proc) have no
    // `/proc/self/task/TID/syscall`: the helper could never see the poll, so there is no test.
    let probe = format!("/proc/self/task/{tid}/syscall");
    if let Err(e) = std::fs::read_to_string(&probe) {
        eprintln!("skipped: {probe} cannot be read ({e}), so the poll cannot be watched");
        return;
    }
    let lp = EventLoop::new().unwrap();
    let count = count_and_stop_on(&lp, libc::SIGUSR2);
    let helper = std::thread::spawn(move || {
        let bound = std::time::Instant::now() + BOUND;
        while !in_epoll_wait(tid) {
            if std::time::Instant::now() > bound {
                return false;
            }
            std::thread::yield_now();
        }
        // SAFETY: `thread` is the test's thread, alive until it has joined this one.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::pthread_kill(thread, libc::SIGUSR2) };
        rc == 0
    });
    let timed_out = Rc::new(Cell::new(false));
    let (flag, h) = (timed_out.clone(), lp.handle());
    let timer = lp
        .call_later(BOUND, move || {
            flag.set(true);
            h.stop();
        })
        .unwrap();
    let run = lp.run_forever();
    timer.cancel();
    let sent = helper.join().unwrap();
    assert!(sent, "the loop never slept in its poll");
    if let Err(e) = run {
        panic!("the interrupted poll ended the run: {e}");
    }
    assert!(!timed_out.get(), "the signal's handler never ran");
    assert_eq!(count.get(), 1);
    assert!(lp.remove_signal_handler(libc::SIGUSR2).unwrap());
}

/// The id of a thread of this process named `name` (as the kernel keeps it: cut to 15
/// bytes), waiting for one to appear for at most [`BOUND`].
#[cfg(target_os = "linux")]
fn thread_named(name: &str) -> libc::pid_t {
    let comm = &name.as_bytes()[..name.len().min(15)];
    let bound = std::time::Instant::now() + BOUND;
    loop {
        for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
            let named = std::fs::read(task.path().join("comm")).unwrap_or_default();
            if named.strip_suffix(b"\n") == Some(comm) {
                return task.file_name().to_str().unwrap().parse().unwrap();
            }
        }
        assert!(std::time::Instant::now() < bound, "no thread named {name}");
        std::thread::yield_now();
    }
}

/// A signal the loop handles, sent to one of the crate's helper threads alone (as the kernel
/// may hand a process-directed signal to any thread that does not block it): the
/// process-wide handler runs on that thread and writes to the loop's pipe, and the callback
/// runs on the loop. The helpers block no signal a loop may handle (the pipe helpers block
/// SIGPIPE only, which the crate never handles for a loop); a helper that did would keep
/// the signal pending on itself for ever, and the callback would never run. Each kind of
/// helper: an executor thread running a job, a child's reaper thread, a pipe helper.
// Checklist: L16 (signals via the loop's pipe, CPython's set_wakeup_fd).
#[cfg(target_os = "linux")]
#[test]
fn a_handled_signal_sent_to_a_helper_thread_reaches_the_loop() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let arrived = Rc::new(asyncio::Event::new());
    let seen = arrived.clone();
    lp.add_signal_handler(libc::SIGUSR2, move || seen.set())
        .unwrap();
    let dir = util::temp_dir("signals-helpers");
    let file = std::fs::File::create(dir.join("out")).unwrap();
    lp.run_until_complete(async move {
        let (release, held) = mpsc::channel::<()>();
        let job = asyncio::run_in_executor(move || held.recv_timeout(BOUND).is_ok());
        let child = asyncio::create_subprocess_exec("cat", [] as [&str; 0])
            .stdin(asyncio::Stdio::Pipe)
            .child_watcher(asyncio::ChildWatcher::Threaded)
            .await?;
        let writer = asyncio::open_write_pipe(file).await?; // a regular file: a helper thread
        let reaper = format!("asyncio-waitpid-{}", child.pid());
        for name in ["asyncio-executor", &reaper, "asyncio-stdout"] {
            arrived.clear();
            let tid = thread_named(name);
            // SAFETY: plain syscall to a thread of this process; SIGUSR2 has a handler.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, libc::SIGUSR2) };
            assert_eq!(rc, 0, "tgkill to {name}");
            let reached = asyncio::timeout(BOUND, arrived.wait()).await;
            assert!(
                reached.is_ok(),
                "a SIGUSR2 sent to {name} never reached the loop"
            );
        }
        release.send(()).unwrap();
        assert!(job.await?, "the job was not released");
        child.stdin.as_ref().unwrap().close(); // EOF: cat exits
        assert_eq!(child.wait().await, 0);
        writer.close();
        writer.wait_closed().await?;
        Ok::<_, Error>(())
    })
    .unwrap()
    .unwrap();
    assert!(lp.remove_signal_handler(libc::SIGUSR2).unwrap());
    lp.close().unwrap();
}

#[test]
fn test_add_signal_handler_replaces() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let which = Rc::new(Cell::new(0));
    let (first, stopper) = (which.clone(), lp.handle());
    lp.add_signal_handler(libc::SIGUSR1, move || {
        first.set(1);
        stopper.stop();
    })
    .unwrap();
    let (second, stopper) = (which.clone(), lp.handle());
    lp.add_signal_handler(libc::SIGUSR1, move || {
        second.set(2);
        stopper.stop();
    })
    .unwrap();
    raise(libc::SIGUSR1);
    run_until_stopped(&lp);
    assert_eq!(which.get(), 2, "the second add replaced the first handler");
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    assert!(!lp.remove_signal_handler(libc::SIGUSR1).unwrap());
}

/// One signal, two loops: dispositions are process-wide, so the signal belongs to the loop
/// that added a handler for it last (as CPython's single wake-up fd). The loop that lost it
/// still removes its own handler (`true`), without taking the signal from the winner: its
/// disposition and handler stay until the winner removes them.
#[test]
fn the_same_signal_on_two_loops_belongs_to_the_last_add_and_the_other_removing_it_leaves_it() {
    let _serial = util::serial();
    let sig = libc::SIGUSR1;
    let (a, b) = (EventLoop::new().unwrap(), EventLoop::new().unwrap());
    let got = Rc::new(Cell::new(""));
    for (lp, name) in [(&a, "a"), (&b, "b")] {
        let (seen, stopper) = (got.clone(), lp.handle());
        lp.add_signal_handler(sig, move || {
            seen.set(name);
            stopper.stop();
        })
        .unwrap();
    }
    raise(sig);
    run_until_stopped(&b);
    assert_eq!(got.get(), "b");
    assert!(
        a.remove_signal_handler(sig).unwrap(),
        "a's own handler went"
    );
    assert!(!is_default(sig), "b's disposition stays");
    got.set("");
    raise(sig);
    run_until_stopped(&b);
    assert_eq!(got.get(), "b", "b still hears it");
    assert!(b.remove_signal_handler(sig).unwrap());
    assert!(is_default(sig));
    a.run_once(Some(Duration::ZERO)).unwrap();
    assert_eq!(got.get(), "b", "nothing was queued on a");
}

/// A handler that removes itself, the loop's last: the signal pipe goes while the callback
/// runs. Two signals that came before the loop ran queue two calls, and both run (CPython
/// queues the handle once per wake-up byte and does not cancel it on removal: its second
/// call's removal answers `False`). A later add makes a fresh pipe that works.
#[test]
fn a_handler_that_removes_itself_runs_for_each_signal_already_read() {
    let _serial = util::serial();
    let sig = libc::SIGUSR1;
    let lp = EventLoop::new().unwrap();
    let removed = Rc::new(std::cell::RefCell::new(Vec::new()));
    let (seen, h) = (removed.clone(), lp.handle());
    lp.add_signal_handler(sig, move || {
        seen.borrow_mut()
            .push(h.remove_signal_handler(sig).unwrap());
        h.stop();
    })
    .unwrap();
    raise(sig);
    raise(sig);
    run_until_stopped(&lp);
    for _ in 0..10 {
        if removed.borrow().len() == 2 {
            break;
        }
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(*removed.borrow(), [true, false]);
    assert!(is_default(sig));
    let (again, stopper) = (removed.clone(), lp.handle());
    lp.add_signal_handler(sig, move || {
        again.borrow_mut().push(true);
        stopper.stop();
    })
    .unwrap();
    raise(sig);
    run_until_stopped(&lp);
    assert_eq!(removed.borrow().len(), 3, "heard through the new pipe");
    assert!(lp.remove_signal_handler(sig).unwrap());
}

#[test]
fn a_replaced_handler_is_dropped_after_the_signal_state_borrow() {
    // The handler a second add replaces may own something whose drop uses the loop's signal
    // state (here: removes another handler). Dropped inside the borrow, that panicked with
    // "already borrowed".
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    struct RemovesOnDrop(asyncio::LoopHandle);
    impl Drop for RemovesOnDrop {
        fn drop(&mut self) {
            let _ = self.0.remove_signal_handler(libc::SIGUSR2);
        }
    }
    lp.add_signal_handler(libc::SIGUSR2, || {}).unwrap();
    let owned = RemovesOnDrop(lp.handle());
    lp.add_signal_handler(libc::SIGUSR1, move || {
        let _ = &owned;
    })
    .unwrap();
    lp.add_signal_handler(libc::SIGUSR1, || {}).unwrap();
    assert!(
        !lp.remove_signal_handler(libc::SIGUSR2).unwrap(),
        "the replaced handler's drop removed SIGUSR2's"
    );
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    assert!(is_default(libc::SIGUSR1) && is_default(libc::SIGUSR2));
}

#[test]
fn test_remove_signal_handler() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    lp.add_signal_handler(libc::SIGHUP, || ()).unwrap();
    assert!(lp.remove_signal_handler(libc::SIGHUP).unwrap());
    assert!(is_default(libc::SIGHUP), "SIG_DFL restored");
    assert!(!lp.remove_signal_handler(libc::SIGHUP).unwrap());
}

#[test]
fn test_remove_signal_handler_sigint() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    lp.add_signal_handler(libc::SIGINT, || ()).unwrap();
    assert!(lp.remove_signal_handler(libc::SIGINT).unwrap());
    assert!(
        is_default(libc::SIGINT),
        "SIGINT back to its default disposition"
    );
}

#[test]
fn test_remove_signal_handler_unknown() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    assert!(!lp.remove_signal_handler(libc::SIGUSR2).unwrap());
}

/// CPython 3.11's `_check_signal`: `ValueError('invalid signal number N')` for a number not in
/// `signal.valid_signals()`: out of `range(1, NSIG)`, or one the C library reserves (glibc's
/// 32 and 33, below `SIGRTMIN`), for adding and removing alike.
#[test]
fn test_check_signal() {
    let lp = EventLoop::new().unwrap();
    let reserved = 32..libc::SIGRTMIN();
    for sig in [0, -1, 65, 1000, i32::MIN, i32::MAX]
        .into_iter()
        .chain(reserved)
    {
        match lp.add_signal_handler(sig, || ()) {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, format!("invalid signal number {sig}")),
            other => panic!("add_signal_handler({sig}): {other:?}"),
        }
        match lp.remove_signal_handler(sig) {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, format!("invalid signal number {sig}")),
            other => panic!("remove_signal_handler({sig}): {other:?}"),
        }
    }
}

#[test]
fn test_add_signal_handler_install_error() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    for sig in [libc::SIGKILL, libc::SIGSTOP] {
        match lp.add_signal_handler(sig, || ()) {
            Err(Error::InvalidState(m)) => assert_eq!(m, format!("sig {sig} cannot be caught")),
            other => panic!("add_signal_handler({sig}): {other:?}"),
        }
        // Nothing was left behind.
        assert!(!lp.remove_signal_handler(sig).unwrap());
    }
}

#[test]
fn test_add_signal_handler_closed_loop() {
    let lp = EventLoop::new().unwrap();
    lp.close().unwrap();
    match lp.add_signal_handler(libc::SIGUSR1, || ()) {
        Err(Error::InvalidState(m)) => assert_eq!(m, "Event loop is closed"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn test_close() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    lp.add_signal_handler(libc::SIGUSR1, || ()).unwrap();
    lp.add_signal_handler(libc::SIGUSR2, || ()).unwrap();
    let registrations = lp.stats().io_registrations;
    assert_eq!(registrations, 1, "one pipe for every signal");
    lp.close().unwrap();
    assert!(is_default(libc::SIGUSR1) && is_default(libc::SIGUSR2));
    assert!(!lp.remove_signal_handler(libc::SIGUSR1).unwrap());
}

#[test]
fn test_close_by_drop() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    lp.add_signal_handler(libc::SIGUSR1, || ()).unwrap();
    drop(lp);
    assert!(is_default(libc::SIGUSR1));
}

// CPython's test_remove_signal_handler, test_remove_signal_handler_2 and
// test_add_signal_handler_install_error2/3: the wake-up fd is let go (`set_wakeup_fd(-1)`) when
// the last handler goes, by a removal or a failed install, and kept while another handler is
// left. Here that is the loop's signal pipe and its registration: kept, it counted as work
// left (`run_once` said true, so `while lp.run_once(None)? {}` blocked for ever on a loop with
// nothing to do) and held two descriptors until the loop closed.
#[test]
fn test_remove_signal_handler_releases_the_pipe_with_the_last_handler() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let io = || lp.stats().io_registrations;
    assert_eq!(io(), 0);
    lp.add_signal_handler(libc::SIGUSR1, || ()).unwrap();
    lp.add_signal_handler(libc::SIGUSR2, || ()).unwrap();
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    assert_eq!(io(), 1, "kept while SIGUSR2's handler is left");
    assert!(lp.add_signal_handler(libc::SIGKILL, || ()).is_err());
    assert_eq!(
        io(),
        1,
        "a failed install keeps the pipe of the other handlers"
    );
    assert!(lp.remove_signal_handler(libc::SIGUSR2).unwrap());
    assert_eq!(io(), 0, "the last removal let the pipe go");
    assert!(
        !lp.run_once(Some(Duration::ZERO)).unwrap(),
        "nothing left to do"
    );
    assert!(lp.add_signal_handler(libc::SIGSTOP, || ()).is_err());
    assert_eq!(io(), 0, "a failed first install leaves no pipe");
    // A later handler makes a new pipe and works.
    let stopper = lp.handle();
    lp.add_signal_handler(libc::SIGUSR1, move || stopper.stop())
        .unwrap();
    raise(libc::SIGUSR1);
    run_until_stopped(&lp);
    assert!(lp.remove_signal_handler(libc::SIGUSR1).unwrap());
    assert_eq!(io(), 0);
    assert!(is_default(libc::SIGUSR1) && is_default(libc::SIGUSR2));
}

// A replaced handler is dropped once the new one is fully installed: its drop may remove that
// very signal (here its captures do), and the removal must then undo the whole install. It
// used to run between the handler table and the disposition: the new handler left the table,
// then the install went on and set our disposition for a signal with no handler, which no
// removal and no close ever restored.
#[test]
fn a_replaced_handler_whose_drop_removes_the_signal_leaves_the_default_disposition() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    struct RemovesOnDrop(asyncio::LoopHandle);
    impl Drop for RemovesOnDrop {
        fn drop(&mut self) {
            let _ = self.0.remove_signal_handler(libc::SIGUSR1);
        }
    }
    let owned = RemovesOnDrop(lp.handle());
    lp.add_signal_handler(libc::SIGUSR1, move || {
        let _ = &owned;
    })
    .unwrap();
    lp.add_signal_handler(libc::SIGUSR1, || ()).unwrap();
    assert!(
        !lp.remove_signal_handler(libc::SIGUSR1).unwrap(),
        "the replaced handler's drop removed SIGUSR1's handler"
    );
    assert!(is_default(libc::SIGUSR1), "no handler, so SIG_DFL");
    lp.close().unwrap();
    assert!(is_default(libc::SIGUSR1), "SIG_DFL after close");
}

#[test]
fn handler_panic_goes_to_the_exception_handler() {
    let _serial = util::serial();
    let lp = EventLoop::new().unwrap();
    let reported = Rc::new(Cell::new(false));
    let (seen, stopper) = (reported.clone(), lp.handle());
    lp.set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, _: &asyncio::ExceptionContext| {
            seen.set(true);
            stopper.stop();
        },
    ));
    lp.add_signal_handler(libc::SIGUSR1, || panic!("in a signal callback"))
        .unwrap();
    raise(libc::SIGUSR1);
    run_until_stopped(&lp);
    assert!(reported.get());
    lp.close().unwrap();
}

// ---- the examples: SIGINT and SIGTERM end a server cleanly ----------------------------------

/// Kills and reaps the child when the test ends, however it ends.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts server example `name` on a Unix socket in a temp dir, waits for `Serving on`, sends
/// `sig`, and checks: the exit status, the line saying so, the socket file removed.
fn server_ends_on(name: &str, sig: i32, code: i32, line: &str) {
    let dir = util::temp_dir("signals");
    let path = dir.join("s.sock");
    let args = [std::ffi::OsStr::new("--unix"), path.as_os_str()];
    let serving = || {
        assert!(
            path.exists(),
            "{name}: the socket file exists while serving"
        )
    };
    server_ends_with(name, &args, &serving, sig, code, line);
    assert!(!path.exists(), "{name}: the socket file was removed");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts server example `name` with `args`, waits for `Serving on`, runs `serving`, sends
/// `sig`, and checks the line saying so and the exit status.
fn server_ends_with(
    name: &str,
    args: &[&std::ffi::OsStr],
    serving: &dyn Fn(),
    sig: i32,
    code: i32,
    line: &str,
) {
    let mut cmd = Command::new(util::example_binary(name));
    // A child of a shell's background job inherits SIGINT ignored, and `run` (as CPython's
    // Runner) leaves an ignored SIGINT alone: give the child the default disposition.
    // SAFETY: `signal` is async-signal-safe, as `pre_exec` requires; nothing else runs there.
    #[allow(unsafe_code)]
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = ChildGuard(
        cmd.args(args)
            .env_remove("ASYNCIO_TRACE")
            .env_remove("ASYNCIO_DEBUG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}")),
    );
    let out = child.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(BOUND).expect("Serving on");
    assert!(first.starts_with("Serving on"), "{name}: {first}");
    serving();
    // SAFETY: a signal to our own child, which is alive (not reaped yet).
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(child.0.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0);
    let said = lines.recv_timeout(BOUND).expect("the interrupted line");
    assert_eq!(said, line, "{name}");
    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(code), "{name}: {status:?}");
}

#[test]
fn echo_server_sigint_exits_130() {
    server_ends_on(
        "echo_server",
        libc::SIGINT,
        130,
        "Interrupted by SIGINT, server closed",
    );
}

#[test]
fn echo_server_sigterm_exits_143() {
    server_ends_on(
        "echo_server",
        libc::SIGTERM,
        143,
        "Interrupted by SIGTERM, server closed",
    );
}

/// `echo_server --workers 2`: the signal reaches the main loop whichever thread the kernel
/// interrupts; the worker threads are closed and joined, and the process exits as before.
fn echo_server_workers_end_on(sig: i32, code: i32, line: &str) {
    let args = ["--port", "0", "--workers", "2"].map(std::ffi::OsStr::new);
    server_ends_with("echo_server", &args, &|| (), sig, code, line);
}

#[test]
fn echo_server_workers_sigint_exits_130() {
    echo_server_workers_end_on(libc::SIGINT, 130, "Interrupted by SIGINT, server closed");
}

#[test]
fn echo_server_workers_sigterm_exits_143() {
    echo_server_workers_end_on(libc::SIGTERM, 143, "Interrupted by SIGTERM, server closed");
}

#[test]
fn echo_server_protocol_sigint_exits_130() {
    server_ends_on(
        "echo_server_protocol",
        libc::SIGINT,
        130,
        "Interrupted by SIGINT, server closed",
    );
}

#[test]
fn echo_server_protocol_sigterm_exits_143() {
    server_ends_on(
        "echo_server_protocol",
        libc::SIGTERM,
        143,
        "Interrupted by SIGTERM, server closed",
    );
}

#[test]
fn tcp_echo_server_sigint_exits_130() {
    let args = ["--port", "0"].map(std::ffi::OsStr::new);
    server_ends_with(
        "tcp_echo_server",
        &args,
        &|| (),
        libc::SIGINT,
        130,
        "Interrupted by SIGINT, server closed",
    );
}

#[test]
fn tcp_echo_server_sigterm_exits_143() {
    let args = ["--port", "0"].map(std::ffi::OsStr::new);
    server_ends_with(
        "tcp_echo_server",
        &args,
        &|| (),
        libc::SIGTERM,
        143,
        "Interrupted by SIGTERM, server closed",
    );
}

#[test]
fn chat_server_sigint_exits_130() {
    let args = ["--port", "0"].map(std::ffi::OsStr::new);
    server_ends_with(
        "chat_server",
        &args,
        &|| (),
        libc::SIGINT,
        130,
        "Interrupted by SIGINT, server closed",
    );
}

#[test]
fn chat_server_sigterm_exits_143() {
    let args = ["--port", "0"].map(std::ffi::OsStr::new);
    server_ends_with(
        "chat_server",
        &args,
        &|| (),
        libc::SIGTERM,
        143,
        "Interrupted by SIGTERM, server closed",
    );
}
