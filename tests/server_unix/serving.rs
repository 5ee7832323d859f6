//! Serving and connecting: an echo with its addresses, a missing path or a dead socket as a typed
//! error, a bound listener or a socketpair end adopted, `start_serving(false)`, a full backlog,
//! and CPython's bittype and socket-error cases.

use super::*;

#[test]
fn l112_l114_l121_unix_echo_and_addresses() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-unix");
    let path = dir.join("echo.sock");
    let seen = Seen::default();
    let server = lp
        .run_until_complete(lp.create_unix_server(seen.factory(), &path))
        .unwrap()
        .unwrap();
    assert!(server.is_serving());
    let socks = server.sockets();
    assert_eq!(socks.len(), 1);
    assert_eq!(
        unix_name(&socks[0]).as_deref(),
        Some(path.as_path()),
        "L104"
    );
    assert_eq!(socks[0].to_string(), path.display().to_string());

    let rec = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.write(b"hello").unwrap())),
        ..Default::default()
    };
    let (t, proto) = lp
        .run_until_complete(lp.create_unix_connection(move || rec, &path))
        .unwrap()
        .unwrap();
    run_within(&lp, BOUND, || proto.borrow().data.len() == 5);
    assert_eq!(proto.borrow().data, b"hello", "L112: echoed");
    // L121: the client's peer is the server path, its own name empty; the server side mirrors it.
    assert_eq!(
        unix_name(&t.peername().unwrap()).as_deref(),
        Some(path.as_path())
    );
    assert!(is_unnamed(&t.sockname()), "{:?}", t.sockname());
    assert_eq!(t.sockname().unwrap().to_string(), "");
    let st = seen.get(0);
    assert_eq!(
        unix_name(&st.sockname().unwrap()).as_deref(),
        Some(path.as_path())
    );
    assert!(is_unnamed(&st.peername()), "{:?}", st.peername());
    assert!(t.can_write_eof() && st.can_write_eof(), "L121");
    t.write_eof().unwrap(); // L121: half-close works on Unix streams; Echo then closes
    run_within(&lp, BOUND, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    check_unix_echo(&lp, &path); // a std client too
    shut(&lp, &server);
}

#[test]
fn l112_connecting_to_a_missing_path_or_a_dead_socket_fails_typed() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-connect-errors");
    let missing = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, dir.join("missing")))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&missing, Err(e) if e.kind() == io::ErrorKind::NotFound),
        "L112: {missing:?}"
    );
    let dead = dir.join("dead.sock");
    drop(UnixListener::bind(&dead).unwrap());
    let refused = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, &dead))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&refused, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
        "L112: {refused:?}"
    );
    assert_eq!(lp.stats().io_registrations, 0, "L112: the socket is closed");
}

// Checklist: S9 (create_unix_server: path with sock).
#[test]
fn l114_l120_serving_on_a_bound_unix_listener() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-unix-sock");
    let path = dir.join("sock.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = lp
        .run_until_complete(lp.create_unix_server(Echo::default, "").sock(listener))
        .unwrap()
        .unwrap();
    assert_eq!(
        unix_name(&server.sockets()[0]).as_deref(),
        Some(path.as_path())
    );
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    assert!(!path.exists(), "L119, L120: cleaned up like a path server");
    // The TCP entry point serves a Unix listener too, and leaves its file, as CPython 3.13's
    // create_server does (only create_unix_server records a file to remove). It used to
    // remove it: a socket file handed over by a supervisor (systemd's socket activation) was
    // gone after the server's close.
    let listener = UnixListener::bind(&path).unwrap();
    let server = lp
        .run_until_complete(lp.create_server(Echo::default, "", 0).sock(listener))
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    assert!(
        path.exists(),
        "L119: create_server removed the file of the listener it was given"
    );
    std::fs::remove_file(&path).unwrap();

    let listener = UnixListener::bind(dir.join("other.sock")).unwrap();
    let both = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &path).sock(listener))
        .unwrap();
    assert!(
        matches!(&both, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L114: {both:?}"
    );
}

#[test]
fn l105_l114_unix_start_serving_false_refuses_until_started() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-unix-later");
    let path = dir.join("later.sock");
    let server = lp
        .run_until_complete(
            lp.create_unix_server(Echo::default, &path)
                .start_serving(false),
        )
        .unwrap()
        .unwrap();
    assert!(!server.is_serving());
    assert_eq!(
        server.sockets().first().and_then(unix_name).as_deref(),
        Some(path.as_path()),
        "L104: the bound socket is listed before serving"
    );
    assert!(
        is_refused(UnixStream::connect(&path)),
        "bound, not listening"
    );
    let s = server.clone();
    lp.run_until_complete(async move { s.start_serving().await.unwrap() })
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
}

#[test]
fn l122_a_socketpair_end_adopted_by_connect_socket() {
    let lp = EventLoop::new().unwrap();
    let (ours, theirs) = asyncio::socketpair().unwrap();
    let mut theirs = timeouts(theirs, UnixStream::set_read_timeout);
    let (t, proto) = lp
        .run_until_complete(lp.connect_socket(Recorder::default, ours))
        .unwrap()
        .unwrap();
    assert!(
        is_unnamed(&t.sockname()) && is_unnamed(&t.peername()),
        "L121"
    );
    theirs.write_all(b"hi").unwrap();
    run_within(&lp, BOUND, || proto.borrow().data == b"hi");
    t.write(b"yo").unwrap();
    t.close(); // L122: closing the transport closes our end
    run_within(&lp, BOUND, || proto.borrow().lost);
    let mut got = Vec::new();
    theirs.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"yo");
}

/// L93: a Unix listener whose backlog is full (it never accepts) answers `connect` with
/// `EAGAIN`: nothing is under way, so `open_unix_connection` fails at once with that errno
/// and the path, where a wait for writability would end only by chance. (CPython 3.11 waits
/// after `BlockingIOError`; the unconnected socket reports writable at once, `SO_ERROR` is 0,
/// and it hands out a stream whose first read fails with `EINVAL`.)
#[test]
fn l93_a_unix_listener_with_a_full_backlog_fails_the_connect_with_eagain() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let dir = temp_dir("server-unix-full-backlog");
    let path = dir.join("full.sock");
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
    listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
    listener.listen(1).unwrap();
    let mut queued = Vec::new();
    for _ in 0..64 {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        s.set_nonblocking(true).unwrap();
        match s.connect(&SockAddr::unix(&path).unwrap()) {
            Ok(()) => queued.push(s),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    assert!(
        !queued.is_empty() && queued.len() < 64,
        "backlog never filled"
    );
    let lp = EventLoop::new().unwrap();
    let p = path.clone();
    let got = lp
        .run_until_complete(asyncio::timeout(BOUND, async move {
            asyncio::open_unix_connection(&p).await.map(drop)
        }))
        .unwrap();
    let err = match got {
        Ok(Err(e)) => e,
        Ok(Ok(())) => panic!("connected to a listener whose backlog is full"),
        Err(e) => panic!("the connect waited for a writable edge ({e:?})"),
    };
    assert_eq!(err.raw_os_error(), Some(libc::EAGAIN), "{err}");
    assert!(err.to_string().contains("full.sock"), "{err}");
    assert_eq!(lp.stats().io_registrations, 0, "the socket is closed");
}

// Checklist: L114, L119, L120. CPython: SelectorEventLoopUnixSocketTests.
// test_create_unix_server_path_stream_bittype, UnixServerCleanupTests.
// test_unix_server_sock_cleanup. A bound Unix stream socket created with SOCK_NONBLOCK |
// SOCK_CLOEXEC in its type is still a stream socket: served, closed, and its file removed.
#[test]
fn l114_l120_test_create_unix_server_path_stream_bittype() {
    use socket2::{Domain, Socket, Type};
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("server-bittype");
    let path = dir.join("bits.sock");
    let sock = Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None).unwrap();
    sock.bind(&socket2::SockAddr::unix(&path).unwrap()).unwrap();
    let listener = UnixListener::from(std::os::fd::OwnedFd::from(sock));
    let server = lp
        .run_until_complete(lp.create_unix_server(Echo::default, "").sock(listener))
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    assert!(
        !path.exists(),
        "the sock= variant is cleaned up like a path"
    );
    assert_eq!(lp.stats().io_registrations, 0);
}

// CPython: EventLoopTestsMixin.test_create_unix_server_path_socket_error
#[test]
fn l114_test_create_unix_server_path_socket_error() {
    // A path and a socket together: refused before anything is bound, and no file is made.
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l114-path-sock");
    let sock = UnixListener::bind(dir.join("given.sock")).unwrap();
    let path = dir.join("test.sock");
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, &path).sock(sock))
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L114: {:?}",
        r.map(drop)
    );
    assert!(!path.exists());
}
