//! Signalling a child: kill, terminate, send_signal; a finished child or one the kernel
//! reaped is not signalled; a kill with no descriptor left still works.

use super::*;

// Python's bpo-43884: the killed shell's child still holds stdout; wait() returns the
// shell's -SIGKILL (at its exit: it does not wait for that child, gh-119710).
both!(test_kill_issue43884, |w| async move {
    let proc = sh("cat; true", w)
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .await?;
    // An echo through `cat` proves the shell's child runs and holds stdout.
    proc.stdin.as_ref().unwrap().write(b"x\n")?;
    assert_eq!(proc.stdout.as_ref().unwrap().readline().await?, b"x\n");
    proc.kill()?;
    proc.stdin.as_ref().unwrap().close(); // `cat` sees EOF and exits
    assert_eq!(proc.wait().await, -libc::SIGKILL);
    Ok(())
});

both!(test_kill, |w| async move {
    let proc = ready_child(w).await?;
    proc.kill()?;
    assert_eq!(proc.wait().await, -libc::SIGKILL);
    Ok(())
});

both!(test_terminate, |w| async move {
    let proc = ready_child(w).await?;
    proc.terminate()?;
    assert_eq!(proc.wait().await, -libc::SIGTERM);
    Ok(())
});

both!(test_send_signal, |w| async move {
    // CPython's test sends SIGHUP; a test run under `nohup` hands its children SIGHUP
    // ignored (and sh cannot reset it), so SIGUSR1, whose default also terminates.
    let proc = ready_child(w).await?;
    proc.send_signal(libc::SIGUSR1)?;
    assert_eq!(proc.wait().await, -libc::SIGUSR1);
    Ok(())
});

// Signalling a child that has finished sends nothing: with no pipe left open it is
// ProcessLookupError (ESRCH) once `wait` returns, as CPython's finished transport says; the
// returncode stays. (`test_wait_even_if_pipe_is_open` has a pipe that outlives the child.)
both!(test_close_dont_kill_finished, |w| async move {
    let proc = sh("exit 0", w).await?;
    assert_eq!(proc.wait().await, 0);
    for r in [
        proc.kill(),
        proc.terminate(),
        proc.send_signal(libc::SIGHUP),
    ] {
        match r {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ESRCH)),
            other => panic!("expected ESRCH, got {other:?}"),
        }
    }
    assert_eq!(proc.returncode(), Some(0));
    Ok(())
});

const SIGNAL_AFTER_AUTO_REAP: &str = "ASYNCIO_TEST_SIGNAL_AFTER_AUTO_REAP_CHILD";

/// Waits (bounded) until the process `pidfd` names has exited.
fn wait_pidfd_readable(pidfd: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid `pollfd` for the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 20_000) };
    assert_eq!(n, 1, "the child did not exit within 20 s");
}

/// With `SIGCHLD` ignored the kernel reaps a child the moment it exits, and its pid is free
/// for any new process. Here the child has exited (our own pidfd for it says so) while the
/// loop has not turned, so the watch still takes it for running: `send_signal` sends nothing
/// and answers `Ok`, as CPython's does (its `kill` raising `ProcessLookupError` is ignored);
/// its stdout pipe is not yet seen closed. The pidfd way used to `kill(pid)` and fail with
/// `ESRCH`, and would have signalled whoever had the pid by then.
fn signal_after_auto_reap_child() {
    // SAFETY: the process is this test's alone (`in_child`); `SIG_IGN` is a valid disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    for w in [ChildWatcher::Pidfd, ChildWatcher::Threaded] {
        util::run_fresh(BOUND, async move {
            let (hold, keep) = os_pipe(); // the child waits until `keep` closes
            let proc = sh("read x", w)
                .stdin(Stdio::Fd(hold.into()))
                .stdout(Stdio::Pipe)
                .await?;
            let pid = libc::pid_t::try_from(proc.pid()).unwrap();
            // SAFETY: plain syscall; the returned descriptor is owned by `pidfd` below.
            let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            assert!(raw >= 0, "pidfd_open: {}", io::Error::last_os_error());
            // SAFETY: `raw` is a fresh descriptor nothing else owns.
            let pidfd = unsafe {
                <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw as i32)
            };
            drop(keep); // EOF on the child's stdin: it exits, and the kernel reaps it
            wait_pidfd_readable(&pidfd);
            let r = proc.send_signal(libc::SIGUSR1);
            assert!(
                r.is_ok(),
                "{w:?}: signalling a child reaped by the kernel: {r:?}"
            );
            assert_eq!(proc.wait().await, 255, "{w:?}");
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    println!("signal after auto reap child: ok");
}

const KILL_WITHOUT_DESCRIPTORS: &str = "ASYNCIO_TEST_KILL_WITHOUT_DESCRIPTORS_CHILD";

/// In a child process (its descriptor limit is lowered): a thread-watched child is killed
/// while no descriptor is left for the pidfd `send_signal` would open.
fn kill_without_descriptors_child() {
    util::run_fresh(BOUND, async {
        let (hold, keep) = os_pipe(); // the child waits until `keep` closes
        let proc = sh("read x", ChildWatcher::Threaded)
            .stdin(Stdio::Fd(hold.into()))
            .await?;
        let highest = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
            .max()
            .unwrap();
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid out-pointer; the process is this test's alone.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        let full = libc::rlimit {
            rlim_cur: highest + 1,
            ..lim
        };
        // SAFETY: as above; lowering the soft limit only.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &full) }, 0);
        let mut gaps = Vec::new(); // every free number below the limit taken too
        while let Ok(f) = std::fs::File::open("/dev/null") {
            gaps.push(f);
            assert!(gaps.len() as u64 <= highest, "the limit does not hold");
        }
        let killed = proc.kill();
        drop(gaps);
        // SAFETY: as above; the old limit back.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
        assert!(
            matches!(killed, Ok(())),
            "kill with no descriptor left: {killed:?}"
        );
        assert_eq!(proc.wait().await, -libc::SIGKILL);
        drop(keep);
        Ok::<_, Error>(())
    })
    .unwrap();
    println!("kill without descriptors child: ok");
}

// A kill must work when descriptors run out (a server at its limit stopping its children):
// with no descriptor for the pidfd that makes the signal safe against a reused pid, the pid
// is signalled once it is seen to be our unreaped child, as where the kernel has no pidfds.
#[cfg(target_os = "linux")]
#[test]
fn a_thread_watched_child_is_killed_when_no_descriptor_is_left() {
    util::in_child(
        KILL_WITHOUT_DESCRIPTORS,
        "signals::a_thread_watched_child_is_killed_when_no_descriptor_is_left",
        "kill without descriptors child: ok",
        kill_without_descriptors_child,
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_child_reaped_by_the_kernel_is_not_signalled_and_send_signal_is_ok() {
    util::in_child(
        SIGNAL_AFTER_AUTO_REAP,
        "signals::a_child_reaped_by_the_kernel_is_not_signalled_and_send_signal_is_ok",
        "signal after auto reap child: ok",
        signal_after_auto_reap_child,
    );
}

// CPython test_close_kill_running (test_subprocess.py, SubprocessMixin): closing the
// transport of a running child kills it. Our `Process` has no transport to close and, by
// decision, dropping it does not kill (as `std::process::Child`; see `Process`'s docs): the
// close of a running child is `kill()`. The child is killed, reaped before `wait` returns
// (no zombie), and `wait` gives minus SIGKILL; the returncode was `None` before.
both!(test_close_kill_running, |w| async move {
    let proc = ready_child(w).await?;
    assert_eq!(proc.returncode(), None);
    proc.kill()?;
    assert_eq!(proc.wait().await, -libc::SIGKILL);
    assert!(reaped(proc.pid()), "a zombie is left after wait()");
    assert_eq!(proc.returncode(), Some(-9));
    Ok(())
});
