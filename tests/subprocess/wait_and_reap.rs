//! Waiting and reaping: a wait abandoned or timed out loses nothing, wait returns at the
//! child's exit while a pipe stays open, a dropped Process is still reaped, and a child
//! reaped by someone else is 255 with a warning.

use super::*;

// D12: a `wait` polled once and then dropped (abandoned under a `timeout`, in a select)
// takes its waker back; the waker used to stay in the watch until the child ended.
both!(
    d12_a_wait_abandoned_before_the_exit_leaves_no_waker,
    |w| async move {
        let proc = cat(w).await?;
        let probe = util::Probe::new();
        for _ in 0..10 {
            let mut wait = std::pin::pin!(proc.wait());
            assert!(probe.poll(wait.as_mut()).is_pending(), "cat runs");
            assert!(probe.poll(wait.as_mut()).is_pending(), "cat runs");
        }
        assert_eq!(std::sync::Arc::strong_count(&probe), 1, "waker kept");
        proc.stdin.as_ref().unwrap().close();
        assert_eq!(proc.wait().await, 0, "a later wait still ends");
        Ok(())
    }
);

// CPython gh-119710 (test_wait_even_if_pipe_is_open; 3.11 to 3.14 hang here): `wait` returns
// at the child's exit, as Popen.wait, uvloop and trio do, even while a grandchild keeps its
// stdout pipe open. Until that pipe is closed too a signal sends nothing and is no error
// (CPython's transport is not finished yet); the pipe still carries the grandchild's output.
both!(test_wait_even_if_pipe_is_open, |w| async move {
    let proc = sh("exec 3<&0; cat <&3 & echo started", w)
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .await?;
    let stdout = proc.stdout.as_ref().unwrap();
    assert_eq!(stdout.readline().await?, b"started\n");
    // The background `cat` holds stdout until its stdin (ours) closes. A bound, not a
    // synchronisation: on failure `wait` never returns.
    let rc = asyncio::timeout(Duration::from_secs(20), proc.wait()).await;
    assert!(matches!(rc, Ok(0)), "wait() hung on the open pipe: {rc:?}");
    assert_eq!(proc.returncode(), Some(0));
    proc.kill()?; // the child is reaped: nothing is sent, and no ESRCH while the pipe is open
    let stdin = proc.stdin.as_ref().unwrap();
    stdin.write(b"tail\n")?;
    assert_eq!(stdout.readline().await?, b"tail\n");
    stdin.close();
    assert_eq!(stdout.read(-1).await?, b"");
    // The pipe's `connection_lost` comes a turn or two after its EOF: then ESRCH.
    let mut turns = 0;
    while proc.kill().is_ok() {
        turns += 1;
        assert!(turns < 100, "still no ESRCH with every pipe closed");
        asyncio::yield_now().await;
    }
    match proc.kill() {
        Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ESRCH)),
        other => panic!("expected ESRCH, got {other:?}"),
    }
    Ok(())
});

/// `/proc/<pid>` exists while the process runs or is a zombie; gone once reaped.
fn proc_exists(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

// Dropping a running Process kills nothing; the child is still reaped when it exits. Our own
// pidfd for the child turns readable in the same poll as the watcher's, so once our callback
// has run and one more turn passed, the watcher has reaped it.
#[test]
fn dropped_process_is_reaped_when_the_child_exits_pidfd() {
    let lp = asyncio::EventLoop::new().unwrap();
    let h = lp.handle();
    let proc = lp
        .run_until_complete(async { ready_child(ChildWatcher::Pidfd).await })
        .unwrap()
        .unwrap();
    let pid = proc.pid();
    // SAFETY: plain syscall; the returned descriptor is owned by `_pidfd` below.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    assert!(raw >= 0, "pidfd_open: {}", io::Error::last_os_error());
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let pidfd =
        unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(raw as i32) };
    let exited = Rc::new(Cell::new(false));
    let e = exited.clone();
    h.add_reader(raw as i32, move || e.set(true)).unwrap();
    drop(proc); // closes the child's stdin: `cat` sees EOF and exits
    util::run_until(&lp, 1000, || exited.get());
    lp.run_once(Some(Duration::ZERO)).unwrap();
    h.remove_reader(raw as i32).unwrap();
    drop(pidfd);
    assert!(!proc_exists(pid), "child {pid} was left a zombie");
}

// A wait() dropped under a timeout loses nothing: the process is still there to kill and wait.
both!(test_cancel_process_wait, |w| async move {
    let proc = ready_child(w).await?;
    let r = asyncio::timeout(Duration::from_millis(1), proc.wait()).await;
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert_eq!(proc.returncode(), None);
    proc.kill()?;
    assert_eq!(proc.wait().await, -libc::SIGKILL);
    Ok(())
});

const REAPED_ELSEWHERE: &str = "ASYNCIO_TEST_REAPED_ELSEWHERE_CHILD";

/// With `SIGCHLD` ignored the kernel reaps children itself, so the watcher's `waitpid` gets
/// `ECHILD`: the returncode is 255, and the warning says so.
fn reaped_elsewhere_child() {
    // SAFETY: the process is this test's alone (`in_child`); `SIG_IGN` is a valid disposition.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    for w in [ChildWatcher::Pidfd, ChildWatcher::Threaded] {
        util::run_fresh(BOUND, async move {
            let proc = ready_child(w).await?;
            proc.kill()?;
            assert_eq!(proc.wait().await, 255, "{w:?}");
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    println!("reaped elsewhere child: ok");
}

// Checklist issue #14 (never silent): CPython logs "Unknown child process pid N, will report
// returncode 255" at WARNING, which reaches stderr with logging unconfigured.
#[test]
fn child_reaped_by_someone_else_is_255_and_warned_on_stderr_with_no_logger() {
    let err = util::in_child_stderr(
        REAPED_ELSEWHERE,
        "wait_and_reap::child_reaped_by_someone_else_is_255_and_warned_on_stderr_with_no_logger",
        "reaped elsewhere child: ok",
        reaped_elsewhere_child,
    );
    if std::env::var_os(REAPED_ELSEWHERE).is_none() {
        let warned = err.matches("Unknown child process pid").count();
        assert_eq!(warned, 2, "one warning per watcher, on stderr: {err:?}");
    }
}

// CPython test_proc_exited (test_subprocess.py, SubprocessTransportTests, there on a mock
// process): the returncode is the exit status, and the transport is finished
// (`connection_lost`, then `send_signal`/`terminate`/`kill` raise ProcessLookupError) only
// once the process has exited AND every pipe is closed, whichever comes last. Here a real
// child exits 6 with its stdout closed while a background `cat` holds stderr: the exit and
// one closed pipe are not enough for ESRCH; the second pipe's close is.
both!(test_proc_exited, |w| async move {
    let proc = sh("exec 3<&0 1>&-; cat <&3 >&2 & exit 6", w)
        .stdin(Stdio::Pipe)
        .stdout(Stdio::Pipe)
        .stderr(Stdio::Pipe)
        .await?;
    assert_eq!(proc.stdout.as_ref().unwrap().read(-1).await?, b"");
    assert_eq!(proc.wait().await, 6);
    assert_eq!(proc.returncode(), Some(6));
    // Exited and stdout closed, stderr still open: not finished, nothing sent, no error.
    for _ in 0..10 {
        asyncio::yield_now().await;
    }
    proc.kill()?;
    proc.terminate()?;
    proc.send_signal(libc::SIGTERM)?;
    let (stdin, stderr) = (proc.stdin.as_ref().unwrap(), proc.stderr.as_ref().unwrap());
    stdin.write(b"held\n")?;
    assert_eq!(stderr.readline().await?, b"held\n");
    stdin.close();
    assert_eq!(stderr.read(-1).await?, b"");
    // The pipe's `connection_lost` comes a turn or two after its EOF: then finished.
    let mut turns = 0;
    while proc.kill().is_ok() {
        turns += 1;
        assert!(
            turns < 100,
            "still no ESRCH with the child exited and every pipe closed"
        );
        asyncio::yield_now().await;
    }
    for r in [
        proc.kill(),
        proc.terminate(),
        proc.send_signal(libc::SIGTERM),
    ] {
        match r {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ESRCH)),
            other => panic!("expected ESRCH, got {other:?}"),
        }
    }
    assert_eq!(proc.returncode(), Some(6));
    Ok(())
});
