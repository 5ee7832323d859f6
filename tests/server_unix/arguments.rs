//! What the entry points refuse: the TCP keywords on the Unix entry points, `cleanup_socket` on
//! the TCP ones, hosts with a Unix listener as `sock`, a path with `sock`, an empty path, a Unix
//! type around a TCP socket; and the errors name what they were given (L96, L111, L114, L119).

use super::*;

// L114: create_unix_server (and start_unix_server, which forwards its keywords to it) takes
// none of create_server's TCP keywords: CPython 3.11 raises TypeError ("unexpected keyword
// argument 'reuse_port'", checked with python3) before binding. Ours shares the builder, and
// used to ignore them: the server went ahead without the options or hosts asked for. The
// client side refuses its TCP keywords the same way (regressions.rs, L111).
#[test]
fn l114_the_unix_server_entry_points_refuse_the_tcp_keywords() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("unix-server-tcp-keywords");
    let path = dir.join("s.sock");
    let refused = |r: Result<Server, Error>, name: &str, call: &str| {
        let want = format!("create_unix_server() got an unexpected keyword argument '{name}'");
        match r {
            Err(Error::InvalidArgument(m)) => assert_eq!(m, want, "{call}"),
            other => panic!("{call} with {name}: {:?}", other.map(|s| s.sockets())),
        }
        assert!(!path.exists(), "{call} with {name}: refused before binding");
    };
    type Setter = fn(asyncio::StartServer) -> asyncio::StartServer;
    let cases: [(&str, Setter); 5] = [
        ("host", |s| s.hosts(&["127.0.0.1"])),
        ("family", |s| s.family(asyncio::AddressFamily::Inet)),
        ("reuse_address", |s| s.reuse_address(true)),
        ("reuse_port", |s| s.reuse_port(true)),
        ("keep_alive", |s| s.keep_alive(true)),
    ];
    let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    for (name, set) in cases {
        let r = lp.run_until_complete(set(asyncio::start_unix_server(noop, &path)));
        refused(r.unwrap(), name, "start_unix_server");
    }
    // The loop method, and a listener given in place of the path: the same rule.
    let r = lp.run_until_complete(lp.create_unix_server(Echo::default, &path).reuse_port(true));
    refused(r.unwrap(), "reuse_port", "create_unix_server");
    let other = dir.join("bound.sock");
    let listener = UnixListener::bind(&other).unwrap();
    let given = lp
        .create_unix_server(Echo::default, "")
        .sock(listener.try_clone().unwrap());
    let r = lp.run_until_complete(given.keep_alive(true));
    refused(r.unwrap(), "keep_alive", "create_unix_server(sock)");
    // The TCP entry point with a socket ignores them, as CPython's create_server does.
    let given = lp.create_server(Echo::default, "", 0).sock(listener);
    let server = lp
        .run_until_complete(given.reuse_port(true))
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &other);
    shut(&lp, &server);
}

// L96: create_server with a Unix listener as its sock and a host list is the host/port-and-
// sock conflict, in either order, as with a TCP listener (server_create.rs). Given after the
// Unix listener, the hosts used to be dropped: the server served the listener as if no host
// had been asked for.
#[test]
fn l96_hosts_with_a_unix_listener_as_sock_conflict_in_either_order() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("unix-sock-hosts");
    for hosts_first in [true, false] {
        let path = dir.join(format!("hosts-first-{hosts_first}.sock"));
        let listener = UnixListener::bind(&path).unwrap();
        let builder = lp.create_server(Echo::default, "", 0);
        let builder = match hosts_first {
            true => builder.hosts(&["127.0.0.1"]).sock(listener),
            false => builder.sock(listener).hosts(&["127.0.0.1"]),
        };
        match lp.run_until_complete(builder).unwrap() {
            Err(Error::InvalidArgument(m)) => assert_eq!(
                m, "host/port and sock can not be specified at the same time",
                "hosts first: {hosts_first}"
            ),
            other => panic!(
                "hosts first: {hosts_first}: {:?}",
                other.map(|s| s.sockets())
            ),
        }
    }
}

// L119: cleanup_socket is create_unix_server's keyword only; CPython 3.13's create_server
// (and start_server) has none, a TypeError. Ours ignored it there, since create_server never
// removes a file: now the TCP entry points refuse it, as the Unix ones refuse the TCP keywords
// (l114_the_unix_server_entry_points_refuse_the_tcp_keywords), with a Unix listener as sock
// too. A server group's workers, TCP servers, refuse it the same way.
#[test]
fn l119_cleanup_socket_is_refused_by_the_tcp_entry_points() {
    let lp = EventLoop::new().unwrap();
    let want = "create_server() got an unexpected keyword argument 'cleanup_socket'";
    let refused = |r: Result<Server, Error>, call: &str| match r {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, want, "{call}"),
        other => panic!("{call}: {:?}", other.map(|s| s.sockets())),
    };
    for on in [true, false] {
        let r = lp.run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", 0)
                .cleanup_socket(on),
        );
        refused(r.unwrap(), "create_server");
        let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
        let r = asyncio::start_server(noop, "127.0.0.1", 0).cleanup_socket(on);
        refused(lp.run_until_complete(r).unwrap(), "start_server");
    }
    let dir = temp_dir("tcp-cleanup-keyword");
    let path = dir.join("given.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let given = lp.create_server(Echo::default, "", 0).sock(listener);
    refused(
        lp.run_until_complete(given.cleanup_socket(false)).unwrap(),
        "create_server(unix sock)",
    );
    let noop = || |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
    let group = asyncio::serve_on_threads(1, noop, "127.0.0.1", 0)
        .configure(|s| s.cleanup_socket(false))
        .start();
    match group {
        Err(Error::InvalidArgument(m)) => assert_eq!(m, want, "serve_on_threads"),
        other => panic!("serve_on_threads: {other:?}"),
    }
    // The Unix entry points take it, on and off.
    for on in [true, false] {
        let path = dir.join(format!("cleanup-{on}.sock"));
        let r = lp.run_until_complete(
            lp.create_unix_server(Echo::default, &path)
                .cleanup_socket(on),
        );
        shut(&lp, &r.unwrap().unwrap());
        assert_eq!(path.exists(), !on, "cleanup_socket({on})");
    }
}

#[test]
fn l111_a_path_with_sock_is_refused_with_the_unix_text() {
    // CPython: SelectorEventLoopUnixSocketTests.test_create_unix_connection_path_sock.
    // CPython's create_unix_connection says "path and sock …", not "host/port and sock …";
    // a later sock() does not clear the conflict either.
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l111-sock");
    let path = dir.join("s.sock");
    let (a, _b) = asyncio::socketpair().unwrap();
    let (c, _d) = asyncio::socketpair().unwrap();
    let r = lp
        .run_until_complete(
            lp.create_unix_connection(Echo::default, &path)
                .sock(a)
                .sock(c),
        )
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L111: {:?}",
        r.map(drop)
    );
    let (a, _b) = asyncio::socketpair().unwrap();
    let r = lp
        .run_until_complete(async move { asyncio::open_unix_connection(&path).sock(a).await })
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m))
            if m == "path and sock can not be specified at the same time"),
        "L111 (streams): {:?}",
        r.map(drop)
    );
}

/// An empty path is no path (CPython's `path=None`): without a socket there is nothing to serve
/// or to reach, CPython's ValueErrors. It used to go to bind(2), where Linux gives an empty
/// Unix name a random abstract one (a server nobody could find), and to connect(2) (EINVAL).
// Checklist: L111, L114.
#[test]
fn l111_l114_an_empty_unix_path_is_no_path() {
    // CPython: SelectorEventLoopUnixSocketTests.test_create_unix_server_nopath_nosock,
    // SelectorEventLoopUnixSocketTests.test_create_unix_connection_nopath_nosock.
    let lp = EventLoop::new().unwrap();
    let no_server = "path was not specified, and no sock specified";
    let no_client = "no path and sock were specified";
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, ""))
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_server),
        "create_unix_server: {:?}",
        r.as_ref().map(Server::sockets)
    );
    let r = lp
        .run_until_complete(async {
            let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
            asyncio::start_unix_server(noop, "").await
        })
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_server),
        "start_unix_server: {:?}",
        r.as_ref().map(Server::sockets)
    );
    let r = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, ""))
        .unwrap()
        .map(drop);
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_client),
        "create_unix_connection: {r:?}"
    );
    let r = lp
        .run_until_complete(async { asyncio::open_unix_connection("").await })
        .unwrap()
        .map(drop);
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == no_client),
        "open_unix_connection: {r:?}"
    );
    assert_eq!(lp.stats().io_registrations, 0, "nothing was registered");
}

/// An empty path is no path, so with a socket it is CPython's `path=None, sock=s`: a Unix
/// socket is served or adopted, a TCP one refused with the Unix text. It was refused as "path
/// and sock can not be specified at the same time", so a Unix entry point took no socket.
// Checklist: L111, L114.
#[test]
fn l111_l114_an_empty_unix_path_goes_with_a_sock() {
    let lp = EventLoop::new().unwrap();
    let dir = temp_dir("l114-empty-sock");
    let path = dir.join("s.sock");
    let server = lp
        .run_until_complete(
            lp.create_unix_server(Echo::default, "")
                .sock(UnixListener::bind(&path).unwrap()),
        )
        .unwrap()
        .unwrap();
    check_unix_echo(&lp, &path);
    shut(&lp, &server);
    let listener = UnixListener::bind(&path).unwrap();
    let server = lp
        .run_until_complete(async move {
            let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
            asyncio::start_unix_server(noop, "").sock(listener).await
        })
        .unwrap()
        .unwrap();
    shut(&lp, &server);
    let (a, _b) = asyncio::socketpair().unwrap();
    let (t, _) = lp
        .run_until_complete(lp.create_unix_connection(Recorder::default, "").sock(a))
        .unwrap()
        .unwrap();
    t.close();
    let (a, _b) = asyncio::socketpair().unwrap();
    let (_reader, writer) = lp
        .run_until_complete(async move { asyncio::open_unix_connection("").sock(a).await })
        .unwrap()
        .unwrap();
    writer.close();
    // Only a Unix socket, as CPython's Unix entry points check.
    let want = "A UNIX Domain Stream Socket was expected, got a TCP socket";
    let listening = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listening.local_addr().unwrap().port();
    let tcp = listening.try_clone().unwrap();
    let r = lp
        .run_until_complete(lp.create_unix_server(Echo::default, "").sock(tcp))
        .unwrap();
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
        "create_unix_server: {:?}",
        r.as_ref().map(Server::sockets)
    );
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let r = lp
        .run_until_complete(
            lp.create_unix_connection(Recorder::default, "")
                .sock(stream),
        )
        .unwrap()
        .map(drop);
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
        "create_unix_connection: {r:?}"
    );
}

/// A std Unix type can hold a socket of any family (`From<OwnedFd>`, `from_raw_fd`): CPython's
/// Unix entry points check `sock.family != AF_UNIX` and refuse it with their Unix text; ours
/// served a TCP listener as a Unix server and adopted a TCP stream as a Unix connection.
// Checklist: L111, L114.
#[test]
fn l111_l114_a_unix_type_around_a_tcp_socket_is_refused_by_the_unix_entry_points() {
    // CPython: SelectorEventLoopUnixSocketTests.test_create_unix_server_path_inetsock,
    // SelectorEventLoopUnixSocketTests.test_create_unix_connection_path_inetsock.
    use std::os::fd::OwnedFd;
    let lp = EventLoop::new().unwrap();
    let want = "A UNIX Domain Stream Socket was expected, got a TCP socket";
    for v6 in [false, true] {
        let Ok(listening) = TcpListener::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }) else {
            eprintln!("skipped ::1: no IPv6 loopback here");
            continue;
        };
        let addr = listening.local_addr().unwrap();
        let disguised = UnixListener::from(OwnedFd::from(listening.try_clone().unwrap()));
        let r = lp
            .run_until_complete(lp.create_unix_server(Echo::default, "").sock(disguised))
            .unwrap();
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "create_unix_server {addr}: {:?}",
            r.as_ref().map(Server::sockets)
        );
        let disguised = UnixListener::from(OwnedFd::from(listening.try_clone().unwrap()));
        let r = lp
            .run_until_complete(async move {
                let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
                asyncio::start_unix_server(noop, "").sock(disguised).await
            })
            .unwrap();
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "start_unix_server {addr}: {:?}",
            r.as_ref().map(Server::sockets)
        );
        let stream = UnixStream::from(OwnedFd::from(TcpStream::connect(addr).unwrap()));
        let r = lp
            .run_until_complete(
                lp.create_unix_connection(Recorder::default, "")
                    .sock(stream),
            )
            .unwrap()
            .map(drop);
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "create_unix_connection {addr}: {r:?}"
        );
        let stream = UnixStream::from(OwnedFd::from(TcpStream::connect(addr).unwrap()));
        let r = lp
            .run_until_complete(async move { asyncio::open_unix_connection("").sock(stream).await })
            .unwrap()
            .map(drop);
        assert!(
            matches!(&r, Err(Error::InvalidArgument(m)) if m == want),
            "open_unix_connection {addr}: {r:?}"
        );
        // The TCP entry points take any stream socket, as CPython's (only the type is checked).
        let disguised = UnixListener::from(OwnedFd::from(listening.try_clone().unwrap()));
        let server = lp
            .run_until_complete(
                lp.create_server(Echo::default, "", 0)
                    .start_serving(false)
                    .sock(disguised),
            )
            .unwrap();
        match server {
            Ok(server) => shut(&lp, &server),
            Err(e) => panic!("create_server {addr}: {e:?}"),
        }
    }
    assert_eq!(lp.stats().io_registrations, 0, "nothing left registered");
}

/// CPython's Unix entry points refuse any socket that is not `AF_UNIX` and `SOCK_STREAM` with
/// their Unix text (`sock.family != AF_UNIX or sock.type != SOCK_STREAM`): a Unix datagram
/// socket got the generic "A Stream Socket was expected" text, and a UDP socket was called a
/// TCP one. Each is named for what it is, whichever std type holds it.
// Checklist: L111, L114.
#[test]
fn l111_l114_the_unix_entry_points_name_what_they_were_given() {
    use socket2::{Domain, Socket, Type};
    use std::os::fd::OwnedFd;
    let lp = EventLoop::new().unwrap();
    let text = |what: &str| format!("A UNIX Domain Stream Socket was expected, got {what}");
    let udp = || OwnedFd::from(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
    let unix = |ty| OwnedFd::from(Socket::new(Domain::UNIX, ty, None).unwrap());
    let cases = [
        (udp(), udp(), text("a UDP socket")),
        (
            unix(Type::DGRAM),
            unix(Type::DGRAM),
            text("a Unix datagram socket"),
        ),
        (
            unix(Type::SEQPACKET),
            unix(Type::SEQPACKET),
            text("a Unix socket of another type"),
        ),
    ];
    for (a, b, want) in cases {
        let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
        let server = |sock: asyncio::ListenSocket| {
            lp.run_until_complete(lp.create_unix_server(Echo::default, "").sock(sock))
                .unwrap()
                .map(drop)
        };
        let connect = |sock: asyncio::StreamSocket| {
            lp.run_until_complete(lp.create_unix_connection(Recorder::default, "").sock(sock))
                .unwrap()
                .map(drop)
        };
        let got = [
            server(UnixListener::from(a).into()),
            server(TcpListener::from(a2).into()),
            connect(UnixStream::from(b).into()),
            connect(TcpStream::from(b2).into()),
        ];
        for (i, r) in got.iter().enumerate() {
            assert!(
                matches!(r, Err(Error::InvalidArgument(m)) if *m == want),
                "{want}, case {i}: {r:?}"
            );
        }
    }
}
