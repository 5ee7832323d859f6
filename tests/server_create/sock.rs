//! A listening socket given as `sock` (L96, L100, L103): a bound std listener, a vsock
//! listener, a non-blocking one, one that is not a stream socket (refused), and `sock` with a
//! host/port or a second `sock` (the host/port-and-sock conflict).

use super::*;

/// A listening socket of another family than inet and Unix, given as `sock` (CPython takes any
/// stream socket there): here AF_VSOCK, which an unprivileged process can create. The server
/// starts, names no wrong (inet) address for it, and closes cleanly. Where vsock_loopback is
/// loaded, a connection to it is served too (mio's accept used to close such a connection and
/// fail: see listener.rs's l103 test, which shows it with a Unix listener on every machine).
// Checklist: L100, L103.
#[test]
fn l100_l103_a_vsock_listener_given_as_sock_is_served() {
    use socket2::{Domain, SockAddr, Socket, Type};
    use std::os::fd::OwnedFd;
    let vsock_listener = || -> Option<(TcpListener, u32)> {
        let sock = match Socket::new(Domain::VSOCK, Type::STREAM, None) {
            Ok(s) => s,
            Err(e) => {
                println!("skipped: no AF_VSOCK stream socket here ({e})");
                return None;
            }
        };
        let any = SockAddr::vsock(libc::VMADDR_CID_ANY, libc::VMADDR_PORT_ANY);
        if let Err(e) = sock.bind(&any) {
            println!("skipped: AF_VSOCK bind refused here ({e})");
            return None;
        }
        let port = sock.local_addr().ok()?.as_vsock_address()?.1;
        Some((TcpListener::from(OwnedFd::from(sock)), port))
    };
    let Some((listener, port)) = vsock_listener() else {
        return;
    };
    let lp = EventLoop::new().unwrap();
    let seen = capture_exceptions(&lp);
    let server = lp
        .run_until_complete(lp.create_server(Echo::default, "", 0).sock(listener))
        .unwrap()
        .expect("a vsock listener is served");
    assert!(server.is_serving());
    assert!(
        server.sockets().iter().all(|a| a.as_inet().is_none()),
        "no inet address for a vsock listener: {:?}",
        server.sockets()
    );
    if std::path::Path::new("/sys/module/vsock_loopback").exists() {
        let client = std::thread::spawn(move || -> io::Result<Vec<u8>> {
            let c = Socket::new(Domain::VSOCK, Type::STREAM, None)?;
            c.connect(&SockAddr::vsock(libc::VMADDR_CID_LOCAL, port))?;
            c.set_read_timeout(Some(Duration::from_secs(10)))?;
            let mut c = std::net::TcpStream::from(OwnedFd::from(c));
            c.write_all(b"ping")?;
            let mut got = [0; 4];
            c.read_exact(&mut got)?;
            Ok(got.to_vec())
        });
        // The client's socket closes as its thread ends: an event that wakes the loop.
        util::run_until(&lp, 100, || client.is_finished());
        let echoed = client.join().unwrap().expect("the echo over vsock");
        assert_eq!(echoed, b"ping");
    } else {
        println!("accept half skipped: no vsock_loopback module here");
    }
    shut(&lp, &server);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());

    // The same through start_server.
    let Some((listener, _)) = vsock_listener() else {
        return;
    };
    let server = lp
        .run_until_complete(async move {
            let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
            asyncio::start_server(noop, "", 0).sock(listener).await
        })
        .unwrap()
        .expect("start_server(sock=vsock)");
    assert!(server.is_serving());
    shut(&lp, &server);
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

// Checklist: S9 (create_server: host/port with sock).
// CPython: BaseEventLoopWithSelectorTests.test_create_server_host_port_sock
// CPython: EventLoopTestsMixin.test_create_server_sock
#[test]
fn l96_l100_serving_on_a_bound_std_listener() {
    let lp = EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = lp
        .run_until_complete(lp.create_server(Echo::default, "", 0).sock(listener))
        .unwrap()
        .unwrap();
    assert_eq!(inet(&server), [addr], "L104");
    check_tcp_echo(&lp, addr);
    shut(&lp, &server);
    assert!(
        is_refused(TcpStream::connect_timeout(&addr, BOUND)),
        "L107: the adopted socket is closed too"
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let both = lp
        .run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", 0)
                .sock(listener),
        )
        .unwrap();
    assert!(is_host_port_and_sock(&both), "L96: {both:?}");
}

// Checklist: S9.
#[test]
fn l96_a_second_sock_or_later_hosts_keep_the_host_port_conflict() {
    let lp = EventLoop::new().unwrap();
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    let r = lp
        .run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", 0)
                .sock(first)
                .sock(second),
        )
        .unwrap();
    assert!(is_host_port_and_sock(&r), "L96: {r:?}");
    // Hosts given after the socket are a conflict too, not dropped.
    let sock = TcpListener::bind("127.0.0.1:0").unwrap();
    let r = lp
        .run_until_complete(
            lp.create_server(Echo::default, "", 0)
                .sock(sock)
                .hosts(&["127.0.0.1"]),
        )
        .unwrap();
    assert!(is_host_port_and_sock(&r), "L96: {r:?}");
}

/// A `TcpListener` or `UnixListener` can hold any socket (socket2's `From`, `from_raw_fd`): one
/// that is not SOCK_STREAM is refused before anything is served, with CPython's ValueError
/// text. A seqpacket socket used to be served as a byte stream (message boundaries lost),
/// and a datagram one created a server whose start failed with EOPNOTSUPP.
// Checklist: L96, L114.
// CPython: BaseEventLoopWithSelectorTests.test_create_server_wrong_sock
#[test]
fn l96_a_sock_that_is_not_a_stream_socket_is_refused() {
    use socket2::{Domain, Socket, Type};
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l96-seqpacket");
    let seq = Socket::new(Domain::UNIX, Type::SEQPACKET, None).unwrap();
    seq.bind(&socket2::SockAddr::unix(dir.join("seq.sock")).unwrap())
        .unwrap();
    seq.listen(8).unwrap();
    let dgram = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
    dgram
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let cases: [(ListenSocketCase, &str); 2] = [
        (ListenSocketCase::Unix(seq.into()), "SOCK_SEQPACKET"),
        (ListenSocketCase::Tcp(dgram.into()), "SOCK_DGRAM"),
    ];
    for (sock, kind) in cases {
        // start_serving(false): refused at creation, not only when it starts listening.
        let builder = lp.create_server(Echo::default, "", 0).start_serving(false);
        let builder = match sock {
            ListenSocketCase::Unix(l) => builder.sock(l),
            ListenSocketCase::Tcp(l) => builder.sock(l),
        };
        let r = lp.run_until_complete(builder).unwrap();
        let want = format!("A Stream Socket was expected, got a {kind} socket");
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if *m == want),
            "L96: {r:?}"
        );
    }
}

enum ListenSocketCase {
    Unix(UnixListener),
    Tcp(TcpListener),
}

// CPython: BaseEventLoopWithSelectorTests.test_create_server_stream_bittype
#[test]
fn l100_test_create_server_stream_bittype() {
    // A listening socket made with SOCK_STREAM | SOCK_NONBLOCK is a stream socket.
    use socket2::{Domain, Socket, Type};
    let lp = EventLoop::new().unwrap();
    let s = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    s.listen(8).unwrap();
    let server = lp
        .run_until_complete(
            lp.create_server(Echo::default, "", 0)
                .sock(TcpListener::from(s)),
        )
        .unwrap()
        .unwrap();
    check_tcp_echo(&lp, first_inet(&server));
    shut(&lp, &server);
}
