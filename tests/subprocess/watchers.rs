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
