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
// the error is ENOSYS, and the child, already started (std spawns before we can watch), is
// killed and reaped at once: no child runs on unseen, no zombie is left. The child writes
// its pid to a probe pipe (its stderr) first, if the kill does not come first; this thread
// has no child left at all once the creation has failed.
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
