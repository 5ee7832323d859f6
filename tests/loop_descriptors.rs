//! What a loop holds from the OS, and that `close()` gives all of it back (L16; CPython's
//! `EventLoopTestsMixin.test_internal_fds`: `close()` releases the selector and the wake-up
//! socketpair).
//!
//! Its own binary without the test harness: it counts this process's descriptors in
//! `/proc/self/fd`, which other tests running at the same time would change.

#[cfg(target_os = "linux")]
fn main() {
    use std::collections::BTreeMap;
    use std::os::fd::AsRawFd;

    /// Every open descriptor of this process and what it is (`anon_inode:[eventpoll]`, …).
    fn descriptors() -> BTreeMap<i32, String> {
        // The directory being listed is itself an open descriptor while we list it: left out.
        let listing = format!("/proc/{}/fd", std::process::id());
        let mut fds = BTreeMap::new();
        for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
            let entry = entry.unwrap();
            let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(target) = std::fs::read_link(entry.path()) {
                let target = target.to_string_lossy().into_owned();
                if target != listing {
                    fds.insert(fd, target);
                }
            }
        }
        fds
    }

    fn kinds_added(before: &BTreeMap<i32, String>, after: &BTreeMap<i32, String>) -> Vec<String> {
        let mut kinds: Vec<String> = after
            .iter()
            .filter(|(fd, target)| before.get(fd) != Some(target))
            .map(|(_, target)| target.clone())
            .collect();
        kinds.sort();
        kinds
    }

    // A loop on the system clock: its poll, its cross-thread waker and its far alarm.
    let before = descriptors();
    let lp = asyncio::EventLoop::new().unwrap();
    let epoll = lp.as_raw_fd();
    assert_eq!(
        kinds_added(&before, &descriptors()),
        [
            "anon_inode:[eventfd]",
            "anon_inode:[eventpoll]",
            "anon_inode:[timerfd]"
        ],
        "a new loop holds exactly its poll, waker and alarm"
    );

    /// A protocol that only listens.
    struct Quiet;
    impl asyncio::Protocol for Quiet {}

    // Use it: a transport over one end of a socketpair (left open at close), a signal
    // handler (its self-pipe), a call from another thread, a turn of the loop.
    let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let connected = lp
        .run_until_complete(async {
            let lp = asyncio::get_running_loop()?;
            lp.connect_socket(|| Quiet, ours).await
        })
        .unwrap();
    let (transport, _protocol) = connected.unwrap();
    lp.add_signal_handler(libc::SIGUSR2, || ()).unwrap();
    let door = lp.threadsafe();
    std::thread::spawn(move || door.call_soon_threadsafe(|| ()).unwrap())
        .join()
        .unwrap();
    lp.run_once(Some(std::time::Duration::ZERO)).unwrap();
    assert!(!transport.is_closing());

    lp.close().unwrap();
    let mut expected = before.clone();
    expected.insert(
        theirs.as_raw_fd(),
        descriptors()[&theirs.as_raw_fd()].clone(),
    );
    assert_eq!(
        descriptors(),
        expected,
        "close() releases the poll, waker, alarm, signal pipe and every transport's socket"
    );
    assert_eq!(lp.as_raw_fd(), -1, "no epoll descriptor after close");
    assert_ne!(epoll, -1);
    assert!(lp.threadsafe().call_soon_threadsafe(|| ()).is_err());
    assert!(!lp.remove_reader(theirs.as_raw_fd()).unwrap());
    drop(lp);
    drop(transport);
    assert_eq!(
        descriptors(),
        expected,
        "nothing is left for drop to release"
    );

    // A loop on a manual clock has no far alarm: two descriptors, both released by close.
    let lp = asyncio::EventLoop::with_clock(asyncio::ManualClock::new()).unwrap();
    assert_eq!(
        kinds_added(&expected, &descriptors()),
        ["anon_inode:[eventfd]", "anon_inode:[eventpoll]"]
    );
    lp.close().unwrap();
    assert_eq!(descriptors(), expected);
    println!("loop_descriptors: ok");
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("loop_descriptors: skipped: counts descriptors in Linux's /proc/self/fd");
}
