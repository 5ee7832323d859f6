//! The child watchers: Auto takes a pidfd on Linux and falls back to the threaded watcher
//! where the kernel has none.

use super::*;

#[test]
fn without_pidfd_auto_falls_back_to_the_threaded_watcher() {
    asyncio::simulate_no_pidfd(true);
    let r = util::run_fresh(BOUND, async {
        let proc = ready_child(ChildWatcher::Auto).await?;
        assert_eq!(proc.child_watcher(), ChildWatcher::Threaded);
        proc.kill()?;
        assert_eq!(proc.wait().await, -libc::SIGKILL);
        let r = create_subprocess_shell("exit 0")
            .child_watcher(ChildWatcher::Pidfd)
            .await;
        match r {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
            other => panic!("expected ENOSYS, got {other:?}"),
        }
        Ok::<_, Error>(())
    });
    asyncio::simulate_no_pidfd(false);
    r.unwrap();
}

#[test]
fn auto_uses_a_pidfd_on_linux() {
    util::run_fresh(BOUND, async {
        let proc = create_subprocess_shell("exit 0").await?;
        if cfg!(target_os = "linux") {
            assert_eq!(proc.child_watcher(), ChildWatcher::Pidfd);
        }
        proc.wait().await;
        Ok::<_, Error>(())
    })
    .unwrap();
}

// CPython test_create_subprocess_fails_with_inactive_watcher (test_subprocess.py,
// GenericWatcherTests, there with a mock watcher): a watcher that cannot watch makes the
// creation fail (RuntimeError there) and leaves nothing behind. Our watchers are no objects
// one installs; the one that cannot watch is a pidfd demanded where the kernel has none:
// the error is ENOSYS, and no child runs on unseen, no zombie is left. The watcher is now
// checked before the spawn (the test below shows no child starts at all); this one still
// holds for a child that did start: it would write its pid to a probe pipe (its stderr)
// first, and this thread has no child left at all once the creation has failed.
#[test]
fn test_create_subprocess_fails_with_inactive_watcher() {
    asyncio::simulate_no_pidfd(true);
    let r = util::run_fresh(BOUND, async {
        let (probe_r, probe_w) = os_pipe();
        let r = create_subprocess_shell("echo $$ >&2; exec sleep 3600")
            .stderr(Stdio::Fd(probe_w.into()))
            .child_watcher(ChildWatcher::Pidfd)
            .await;
        match r {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
            other => panic!("expected ENOSYS, got {other:?}"),
        }
        let probe = asyncio::open_read_pipe(probe_r).await?;
        let said = probe.read(-1).await?; // EOF: the child is gone
        if let Some(pid) = std::str::from_utf8(&said)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            assert!(reaped(pid), "the abandoned child is left a zombie");
        }
        if let Some(left) = my_children() {
            assert_eq!(left.trim(), "", "the abandoned child is left a zombie");
        }
        Ok::<_, Error>(())
    });
    asyncio::simulate_no_pidfd(false);
    r.unwrap();
}

/// What the children this process has reaped have cost: page faults, context switches and
/// CPU time, summed. Any child that ran (even one killed right after its exec) adds to it.
fn reaped_children_usage() -> i64 {
    // SAFETY: `getrusage` writes one `rusage` into the zeroed value it is given.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru), 0);
        ru
    };
    let time = |t: libc::timeval| t.tv_sec * 1_000_000 + t.tv_usec;
    ru.ru_minflt + ru.ru_majflt + ru.ru_nvcsw + ru.ru_nivcsw + time(ru.ru_utime) + time(ru.ru_stime)
}

// CPython test_create_subprocess_fails_with_inactive_watcher (test_subprocess.py,
// GenericWatcherTests): the watcher is checked before the spawn, so the child never starts.
// Here the watcher that cannot work is a pidfd demanded where `pidfd_open` is refused: the
// creation fails with ENOSYS before any child exists. The child would create a file; it does
// not exist afterwards. Alone in a process of its own (`util::in_child`), the test also sees
// that this process reaped no child at all: a child started and killed at once, as the
// creation did before, leaves its page faults in `RUSAGE_CHILDREN`.
#[test]
fn test_create_subprocess_fails_with_inactive_watcher_before_the_child_starts() {
    util::in_child(
        "ASYNCIO_TEST_INACTIVE_WATCHER",
        "watchers::test_create_subprocess_fails_with_inactive_watcher_before_the_child_starts",
        "inactive watcher: no child ran",
        || {
            let dir = std::env::temp_dir().join(format!("asyncio-watcher-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let marker = dir.join("ran");
            let before = reaped_children_usage();
            asyncio::simulate_no_pidfd(true);
            let script = format!(": > '{}'; exec sleep 3600", marker.display());
            let r = util::run_fresh(BOUND, async move {
                create_subprocess_shell(&script)
                    .child_watcher(ChildWatcher::Pidfd)
                    .await
            });
            asyncio::simulate_no_pidfd(false);
            match r {
                Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
                other => panic!("expected ENOSYS, got {other:?}"),
            }
            let ran = marker.exists();
            let after = reaped_children_usage();
            std::fs::remove_dir_all(&dir).unwrap();
            assert!(!ran, "the child ran: it created {}", marker.display());
            assert_eq!(after, before, "a child was started (and reaped)");
            println!("inactive watcher: no child ran");
        },
    );
}

// CPython checks the watcher (`is_active()`, in `_make_subprocess_transport`) before Popen
// runs, and Popen is where the arguments are refused (ValueError: a NUL byte, a name with
// `=`, a negative fd to keep): with a watcher that cannot work, its error comes first,
// whatever else is wrong. We refused the arguments first.
#[test]
fn the_watcher_is_checked_before_the_arguments_as_cpython_orders_them() {
    asyncio::simulate_no_pidfd(true);
    let r = util::run_fresh(BOUND, async {
        let pidfd = |c: asyncio::CreateSubprocess| c.child_watcher(ChildWatcher::Pidfd);
        let cases = [
            pidfd(create_subprocess_exec("tr\0ue", [] as [&str; 0])),
            pidfd(create_subprocess_exec("true", ["a\0b"])),
            pidfd(create_subprocess_exec("true", [] as [&str; 0]).env("A", "x\0y")),
            pidfd(create_subprocess_exec("true", [] as [&str; 0]).env("A=B", "x")),
            pidfd(create_subprocess_exec("true", [] as [&str; 0]).pass_fds([-1])),
        ];
        for (i, case) in cases.into_iter().enumerate() {
            match case.await {
                Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS), "case {i}"),
                other => panic!("case {i}: expected the watcher's ENOSYS, got {other:?}"),
            }
        }
        Ok::<_, Error>(())
    });
    asyncio::simulate_no_pidfd(false);
    r.unwrap();
}
