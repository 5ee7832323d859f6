//! Popen's options at their edges, as CPython 3.11's `subprocess.Popen` takes them:
//! `pass_fds` given with `close_fds=False` (a warning, and the descriptors closed anyway), a
//! negative `process_group` (no group set), the `SIGPIPE` of a write to a child's gone
//! stdin reaching a handler the host installed, and `restore_signals` (its default, on).

use super::*;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

const OVERRIDE_CHILD: &str = "ASYNCIO_TEST_PASS_FDS_OVERRIDES_CLOSE_FDS";

// Python: `Popen(..., close_fds=False, pass_fds=[w])` warns `RuntimeWarning: pass_fds
// overriding close_fds.` and closes the child's other descriptors all the same. Here the
// warning is logged (stderr without a logger); an inheritable pipe's write end held by this
// process does not reach the child, the passed one does. In a process of its own: the
// inheritable end would reach the children of this binary's other tests, and the stderr read
// is the child's alone. (Before: the descriptors were closed, but silently; checked by
// reverting src/streams/subprocess.rs.)
#[cfg(target_os = "linux")]
#[test]
fn pass_fds_with_close_fds_false_warns_and_closes_the_rest() {
    let stderr = util::in_child_stderr(
        OVERRIDE_CHILD,
        "popen_options::pass_fds_with_close_fds_false_warns_and_closes_the_rest",
        "override child: ok",
        pass_fds_override_child,
    );
    if std::env::var_os(OVERRIDE_CHILD).is_none() {
        let warned = stderr
            .matches("pass_fds given with close_fds(false)")
            .count();
        assert_eq!(warned, 1, "one warning per start: {stderr}");
    }
}

fn pass_fds_override_child() {
    let (stray_r, stray_w) = inheritable_pipe();
    let (r, w) = os_pipe();
    util::run_fresh(BOUND, async move {
        let code = format!(
            "import os, sys; os.write({}, b'passed'); \
             os.fstat({}); sys.exit(3)",
            w.as_raw_fd(),
            stray_w.as_raw_fd()
        );
        let proc = create_subprocess_exec("python3", ["-c", code.as_str()])
            .close_fds(false)
            .pass_fds([w.as_raw_fd()])
            .stderr(Stdio::DevNull)
            .await?;
        // `os.fstat` of the stray end raises (EBADF): the child exits 1, not 3.
        assert_eq!(proc.wait().await, 1, "the stray end reached the child");
        drop((w, stray_w));
        let passed = asyncio::open_read_pipe(r).await?;
        assert_eq!(passed.read(-1).await?, b"passed");
        let stray = asyncio::open_read_pipe(stray_r).await?;
        assert_eq!(stray.read(-1).await?, b"");
        Ok::<_, Error>(())
    })
    .unwrap();
    println!("override child: ok");
}

/// A pipe whose two ends are inheritable, as C code or a parent process may leave them:
/// `(read end, write end)`.
fn inheritable_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes; no flags: both ends are
    // inheritable.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fresh descriptors, owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

// Python: `process_group=None` is `-1` underneath, and `_posixsubprocess` calls `setpgid`
// only for a group >= 0, so any negative number leaves the child in the parent's group
// (`process_group=-5` starts it there). A later negative call undoes an earlier 0, as a
// later keyword would. (Before: `setpgid(0, -1)` in the child, EINVAL; checked by reverting
// src/streams/subprocess.rs.)
both!(process_group_negative_sets_no_group, |w| async move {
    let code = "import os; print(os.getpgid(0) == os.getpgid(os.getppid()))";
    let ours = |pgids: &[i32]| {
        let mut create = create_subprocess_exec("python3", ["-c", code])
            .stdout(Stdio::Pipe)
            .child_watcher(w);
        for &pgid in pgids {
            create = create.process_group(pgid);
        }
        create
    };
    for pgids in [&[-1][..], &[-5], &[i32::MIN], &[0, -1]] {
        let proc = ours(pgids).await?;
        let (out, _) = proc.communicate(None).await?;
        assert_eq!(out, b"True\n", "process_group {pgids:?}: a group was set");
    }
    // A group that does not exist is the child's setpgid failing, EPERM, not a panic.
    for pgid in [i32::MAX, 1] {
        match ours(&[pgid]).await {
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{pgid}: {e:?}"),
            Ok(_) => panic!("process_group({pgid}) started"),
        }
    }
    Ok(())
});

const HANDLER_CHILD: &str = "ASYNCIO_TEST_SIGPIPE_HANDLER_CHILD";

/// `SIGPIPE`s seen by [`count_sigpipe`].
static SIGPIPES: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_sigpipe(_: libc::c_int) {
    SIGPIPES.fetch_add(1, Ordering::SeqCst);
}

// CPython ignores SIGPIPE at startup, but a program that installs its own handler
// (`signal.signal(SIGPIPE, h)`, or `loop.add_signal_handler`) sees the SIGPIPE of every
// write to a gone reader, a child's stdin included: the write fails (EPIPE) and the handler
// runs. Here the same: the write to the stdin of a child that closed it fails, and the host's
// handler (a `sigaction` of its own, then a loop's `add_signal_handler`) sees its SIGPIPE. In
// a process of its own: dispositions are process-wide. (Before: the transport blocked and swallowed the signal whenever SIGPIPE was
// not ignored, so neither handler ran; checked by reverting src/event_loop/signals.rs.)
#[test]
fn a_write_to_a_gone_child_reaches_the_hosts_sigpipe_handler() {
    util::in_child(
        HANDLER_CHILD,
        "popen_options::a_write_to_a_gone_child_reaches_the_hosts_sigpipe_handler",
        "sigpipe handler child: ok",
        sigpipe_handler_child,
    );
}

fn sigpipe_handler_child() {
    // SAFETY: an all-zero `sigaction` is a valid value to fill in; `count_sigpipe` only does
    // an atomic add, which is async-signal-safe; this child runs this one test alone.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGPIPE, &action, std::ptr::null_mut()),
            0
        );
    }
    util::run_fresh(BOUND, async {
        write_to_a_gone_child().await?;
        assert_eq!(SIGPIPES.load(Ordering::SeqCst), 1, "the host's handler");
        let lp = asyncio::get_running_loop()?;
        let seen = Rc::new(Cell::new(0));
        let s = seen.clone();
        lp.add_signal_handler(libc::SIGPIPE, move || s.set(s.get() + 1))?;
        write_to_a_gone_child().await?;
        // The callback is queued when the loop reads the handler's byte: bounded turns.
        for _ in 0..1000 {
            if seen.get() > 0 {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(seen.get(), 1, "the loop's handler");
        lp.remove_signal_handler(libc::SIGPIPE)?;
        Ok::<_, Error>(())
    })
    .unwrap();
    println!("sigpipe handler child: ok");
}

/// Writes to the stdin of a child that closed it: the write fails with `EPIPE` (seen by
/// `drain` as CPython's `ConnectionResetError('Connection lost')`). The child says so on a pipe
/// read here blocking, without a loop turn between: the loop would otherwise see the pipe's
/// error event first and close the transport without a write (`ConnectionReset`).
async fn write_to_a_gone_child() -> Result<(), Error> {
    use std::io::Read;
    let (mut closed_r, closed_w) = os_pipe();
    let code = format!(
        "import os; os.close(0); os.write({}, b'x')",
        closed_w.as_raw_fd()
    );
    let proc = create_subprocess_exec("python3", ["-c", code.as_str()])
        .stdin(Stdio::Pipe)
        .pass_fds([closed_w.as_raw_fd()])
        .await?;
    drop(closed_w);
    let mut byte = [0u8; 1];
    closed_r.read_exact(&mut byte)?;
    let stdin = proc.stdin.as_ref().unwrap();
    let sent = match stdin.write(b"nobody reads") {
        Ok(()) => stdin.drain().await,
        Err(e) => Err(e),
    };
    match sent {
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {}
        other => panic!("expected Connection lost, got {other:?}"),
    }
    assert_eq!(proc.wait().await, 0);
    Ok(())
}

const RESTORE_CHILD: &str = "ASYNCIO_TEST_RESTORE_SIGNALS_CHILD";

// Popen's `restore_signals=True`, its default and so asyncio's: the child starts with SIGPIPE
// and SIGXFSZ (and SIGXFZ, which Linux lacks) at their default action where this process
// ignores them (a Python host ignores both from its start-up, a Rust `main` SIGPIPE); any
// other signal ignored here stays ignored in the child, as in CPython (`nohup`'s SIGHUP;
// SIGUSR1 here). Read from the child's own `SigIgn` in /proc/self/status, twice: with SIGXFSZ
// ignored too (the child resets it itself, so std forks) and without (std's `posix_spawn`
// resets SIGPIPE). In a process of its own: dispositions are process-wide. (Before: SIGXFSZ
// stayed ignored in the child; checked by reverting src/streams/subprocess.rs.)
#[cfg(target_os = "linux")]
#[test]
fn restore_signals_resets_sigpipe_and_sigxfsz_in_the_child() {
    util::in_child(
        RESTORE_CHILD,
        "popen_options::restore_signals_resets_sigpipe_and_sigxfsz_in_the_child",
        "restore signals child: ok",
        restore_signals_child,
    );
}

#[cfg(target_os = "linux")]
fn restore_signals_child() {
    let set = |sig, action| {
        // SAFETY: this child runs this one test alone; both actions are valid dispositions.
        let previous = unsafe { libc::signal(sig, action) };
        assert_ne!(previous, libc::SIG_ERR);
    };
    let bit = |sig: i32| 1u64 << (sig - 1); // `SigIgn`'s bit for `sig`
    util::run_fresh(BOUND, async move {
        set(libc::SIGPIPE, libc::SIG_IGN);
        set(libc::SIGUSR1, libc::SIG_IGN);
        for xfsz in [libc::SIG_IGN, libc::SIG_DFL] {
            set(libc::SIGXFSZ, xfsz);
            let proc = create_subprocess_exec("cat", ["/proc/self/status"])
                .stdout(Stdio::Pipe)
                .await?;
            let (out, _) = proc.communicate(None).await?;
            let status = String::from_utf8(out).unwrap();
            let ignored = status
                .lines()
                .find_map(|l| l.strip_prefix("SigIgn:"))
                .map(|hex| u64::from_str_radix(hex.trim(), 16).unwrap())
                .expect("a SigIgn line");
            let here = if xfsz == libc::SIG_IGN {
                "ignored"
            } else {
                "default"
            };
            let shown = format!("SigIgn {ignored:016x} with SIGXFSZ {here} here");
            assert_eq!(ignored & bit(libc::SIGPIPE), 0, "SIGPIPE ignored: {shown}");
            assert_eq!(ignored & bit(libc::SIGXFSZ), 0, "SIGXFSZ ignored: {shown}");
            assert_ne!(ignored & bit(libc::SIGUSR1), 0, "SIGUSR1 not kept: {shown}");
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    println!("restore signals child: ok");
}
