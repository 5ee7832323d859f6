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

    happy_eyeballs_losers_and_cancelled_connects_close_their_sockets(&descriptors);
    failed_connects_and_endpoints_close_their_sockets(&descriptors);
    println!("loop_descriptors: ok");
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_timeout
/// Checklist: L91, L94. A connect in flight is owned by its attempt: the happy-eyeballs attempt
/// that loses while still connecting, and every attempt of a `create_connection` dropped under
/// a timeout, close their sockets then, not when the loop closes. `::1` never answers here (its
/// listener's queue is full); `127.0.0.1` listens on the same port.
#[cfg(target_os = "linux")]
fn happy_eyeballs_losers_and_cancelled_connects_close_their_sockets(
    descriptors: &dyn Fn() -> std::collections::BTreeMap<i32, String>,
) {
    use socket2::{Domain, Socket, Type};
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    let v6: SocketAddr = "[::1]:0".parse().unwrap();
    let stuck = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
    stuck.set_only_v6(true).unwrap();
    if let Err(e) = stuck.bind(&v6.into()) {
        println!("loop_descriptors: happy eyeballs case skipped: cannot bind {v6}: {e}");
        return;
    }
    stuck.listen(0).unwrap();
    let v6 = stuck.local_addr().unwrap().as_socket().unwrap();
    let port = v6.port();
    let Ok(v4) = std::net::TcpListener::bind(("127.0.0.1", port)) else {
        println!("loop_descriptors: happy eyeballs case skipped: 127.0.0.1:{port} is taken");
        return;
    };
    // One connection fills the queue of a listener with backlog 0 (never accepted); wait until
    // it is established, bounded, so that later connects to ::1 stay in progress.
    let filler = Socket::new(Domain::IPV6, Type::STREAM, None).unwrap();
    filler.set_nonblocking(true).unwrap();
    let _ = filler.connect(&v6.into());
    let mut pfd = libc::pollfd {
        fd: filler.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let ready = unsafe { libc::poll(&mut pfd, 1, 10_000) };
    assert_eq!(
        ready, 1,
        "the filler connection was not established within 10 s"
    );
    assert_eq!(filler.take_error().unwrap().map(|e| e.to_string()), None);

    /// A protocol that only listens.
    struct Quiet;
    impl asyncio::Protocol for Quiet {}

    let lp = asyncio::EventLoop::new().unwrap();
    let before = descriptors();
    // No host: the loopbacks, ::1 first. The IPv4 attempt starts 20 ms later and wins while
    // the IPv6 one is still connecting.
    let (transport, _protocol) = lp
        .run_until_complete(async move {
            let lp = asyncio::get_running_loop()?;
            lp.create_connection(|| Quiet, "", port)
                .happy_eyeballs_delay(Duration::from_millis(20))
                .await
        })
        .unwrap()
        .unwrap();
    let peer = transport.peername().and_then(|p| p.as_inet());
    assert_eq!(peer, Some(v4.local_addr().unwrap()), "IPv4 wins");
    let added: Vec<String> = descriptors()
        .into_iter()
        .filter(|(fd, t)| before.get(fd) != Some(t))
        .map(|(_, t)| t)
        .collect();
    assert_eq!(
        added.len(),
        1,
        "only the winner's socket is open: {added:?}"
    );
    transport.close();
    for _ in 0..10 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        descriptors(),
        before,
        "the winner's socket closed with its transport"
    );

    // Cancelled while every attempt is connecting, with and without happy eyeballs.
    for delay in [None, Some(Duration::ZERO)] {
        let out = lp
            .run_until_complete(async move {
                let lp = asyncio::get_running_loop()?;
                let mut c = lp.create_connection(|| Quiet, "::1", port);
                if let Some(delay) = delay {
                    c = c.happy_eyeballs_delay(delay);
                }
                asyncio::timeout(Duration::from_millis(50), c).await
            })
            .unwrap();
        assert!(
            matches!(out, Err(asyncio::Error::Timeout)),
            "{delay:?}: {:?}",
            out.map(drop)
        );
        assert_eq!(
            descriptors(),
            before,
            "{delay:?}: a cancelled connect left its socket"
        );
        assert_eq!(lp.stats().io_registrations, 0, "{delay:?}");
    }
    lp.close().unwrap();
    drop((stuck, filler, v4));
}

/// Checklist: L87, L88, L92, L112. Every way a connect or an endpoint can fail closes the
/// socket it made (or was given) before the error comes back: a refused connect, with and
/// without happy eyeballs; a local address in use; a UDP bind or connect the OS refuses; a
/// missing Unix path; a socket of the wrong type given as `sock`.
#[cfg(target_os = "linux")]
fn failed_connects_and_endpoints_close_their_sockets(
    descriptors: &dyn Fn() -> std::collections::BTreeMap<i32, String>,
) {
    use std::time::Duration;

    struct Quiet;
    impl asyncio::Protocol for Quiet {}
    struct QuietDatagrams;
    impl asyncio::DatagramProtocol for QuietDatagrams {}

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = listener.local_addr().unwrap().port();
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = refusing.local_addr().unwrap().port();
    drop(refusing);
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let udp_taken = udp.local_addr().unwrap().port();
    let missing = std::env::temp_dir().join(format!("asyncio-fd-{}-missing", std::process::id()));

    let lp = asyncio::EventLoop::new().unwrap();
    let before = descriptors();
    let failures: Vec<(&str, Result<(), asyncio::Error>)> = lp
        .run_until_complete(async move {
            let lp = asyncio::get_running_loop().unwrap();
            let drop_ok = |r: Result<(asyncio::Transport, _), asyncio::Error>| r.map(drop);
            let drop_dgram =
                |r: Result<(asyncio::DatagramTransport, _), asyncio::Error>| r.map(drop);
            let wrong_type = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let wrong_type = std::net::TcpStream::from(std::os::fd::OwnedFd::from(wrong_type));
            vec![
                (
                    "refused",
                    drop_ok(lp.create_connection(|| Quiet, "127.0.0.1", refused).await),
                ),
                (
                    "refused, happy eyeballs",
                    drop_ok(
                        lp.create_connection(|| Quiet, "127.0.0.1", refused)
                            .happy_eyeballs_delay(Duration::from_millis(250))
                            .await,
                    ),
                ),
                (
                    "local address in use",
                    drop_ok(
                        lp.create_connection(|| Quiet, "127.0.0.1", taken)
                            .local_addr("127.0.0.1", taken)
                            .await,
                    ),
                ),
                (
                    "UDP bind in use",
                    drop_dgram(
                        lp.create_datagram_endpoint(|| QuietDatagrams)
                            .local_addr("127.0.0.1", udp_taken)
                            .await,
                    ),
                ),
                (
                    "UDP connect refused",
                    drop_dgram(
                        lp.create_datagram_endpoint(|| QuietDatagrams)
                            .remote_addr("255.255.255.255", 9)
                            .await,
                    ),
                ),
                (
                    "missing Unix path",
                    drop_ok(lp.create_unix_connection(|| Quiet, &missing).await),
                ),
                (
                    "a datagram socket as sock",
                    drop_ok(lp.connect_socket(|| Quiet, wrong_type).await),
                ),
            ]
        })
        .unwrap();
    for (what, r) in &failures {
        assert!(r.is_err(), "{what}: succeeded");
    }
    assert_eq!(descriptors(), before, "a failed connect left a socket open");
    assert_eq!(lp.stats().io_registrations, 0);
    lp.close().unwrap();
    drop((listener, udp));
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("loop_descriptors: skipped: counts descriptors in Linux's /proc/self/fd");
}
