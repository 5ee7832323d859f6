//! `create_server` and its keywords over real sockets: start, addresses and binding (L96–L100,
//! L104, L105), a given `sock`, `hosts`, `reuse_port`, the errors of a bind or a listen.
//! Ports CPython's `test_server.py` BaseStartServer.test_start_server_1 as far as it starts
//! (`l100_l104_*`) and `test_unix_events.py` test_create_unix_server_path_dgram (a std listener
//! can hold any socket: `l96_a_sock_that_is_not_a_stream_socket_*`); see the appendix of
//! `asyncio-semantics.md`. Shared helpers: `server_common` (peers on helper threads, bounded
//! waits, TCP and Unix clients). The accept loop is in `server_accept.rs`, the server's life
//! after it starts in `server_lifecycle.rs`, running out of descriptors in
//! `server_out_of_fds.rs`, Unix-domain servers in `server_unix.rs`.

mod server_common;
mod util;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixListener;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use asyncio::{Error, EventLoop, Server};
use server_common::{
    check_tcp_echo, first_inet, have_ipv6, inet, is_refused, shut, spin_a_little, tcp_server,
    tcp_server_not_serving, BOUND,
};
use util::{capture_exceptions, temp_dir, Echo};

#[test]
fn l100_l104_start_serving_accepts_at_once_on_a_real_port() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    assert!(server.is_serving(), "L104");
    assert_eq!(
        format!("{:?}", server.get_loop()),
        format!("{:?}", lp.handle()),
        "L104: get_loop"
    );
    let addrs = inet(&server);
    assert_eq!(addrs.len(), 1, "L104: one listening socket");
    assert_eq!(addrs[0].ip().to_string(), "127.0.0.1");
    assert_ne!(addrs[0].port(), 0, "L100: port 0 becomes a real port");
    // L100: create_server returned with the listener armed; the first connection is served.
    check_tcp_echo(&lp, addrs[0]);
    shut(&lp, &server);
    assert!(server.sockets().is_empty(), "L104: no sockets after close");
    assert!(!server.is_serving());
}

// Checklist: S70 (the repeat call is a no-op).
#[test]
fn l100_l105_start_serving_false_refuses_until_started() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server_not_serving(&lp);
    assert!(!server.is_serving());
    let addr = first_inet(&server);
    assert_ne!(
        addr.port(),
        0,
        "L100: bound to a real port before listening"
    );
    assert!(
        is_refused(TcpStream::connect_timeout(&addr, BOUND)),
        "L100: bound but not listening"
    );
    let s = server.clone();
    lp.run_until_complete(async move {
        s.start_serving().await.unwrap();
        s.start_serving().await.unwrap(); // L105: idempotent
    })
    .unwrap();
    assert!(server.is_serving());
    assert_eq!(first_inet(&server), addr, "the same socket, now listening");
    check_tcp_echo(&lp, addr);
    shut(&lp, &server);
    let s = server.clone();
    let again = lp
        .run_until_complete(async move { s.start_serving().await })
        .unwrap();
    assert!(
        matches!(again, Err(Error::InvalidState(_))),
        "closed: {again:?}"
    );
}

// Checklist: L105. A start whose `listen` fails says so once and leaves the server closed:
// never "serving" with nothing listening, nor a later start that reports success.
#[test]
fn l105_a_start_serving_that_fails_leaves_the_server_closed_not_serving() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server_not_serving(&lp);
    let addr = first_inet(&server);
    // A rival bound (SO_REUSEADDR, as ours) to the same port listens first: ours cannot.
    let rival = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    rival.set_reuse_address(true).unwrap();
    rival.bind(&addr.into()).unwrap();
    rival.listen(8).unwrap();
    let s = server.clone();
    let (first, second) = lp
        .run_until_complete(async move { (s.start_serving().await, s.start_serving().await) })
        .unwrap();
    let err = first.expect_err("listen on a port another socket listens on");
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE), "{err:?}");
    assert!(!server.is_serving(), "serving after a failed start");
    assert!(server.sockets().is_empty(), "{:?}", server.sockets());
    assert!(
        matches!(second, Err(Error::InvalidState(_))),
        "a later start said: {second:?}"
    );
    let s = server.clone();
    lp.run_until_complete(async move { s.wait_closed().await })
        .unwrap();
}

// CPython: BaseEventLoopWithSelectorTests.test_create_server_empty_host
#[test]
fn l97_l98_empty_host_binds_ipv4_and_ipv6_separately() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "");
    let addrs = inet(&server);
    let v4: Vec<_> = addrs.iter().filter(|a| a.is_ipv4()).collect();
    assert_eq!(v4.len(), 1, "L97: one IPv4 wildcard socket in {addrs:?}");
    assert!(v4[0].ip().is_unspecified() && v4[0].port() != 0);
    check_tcp_echo(&lp, SocketAddr::from(([127, 0, 0, 1], v4[0].port())));
    if have_ipv6() {
        let v6: Vec<_> = addrs.iter().filter(|a| a.is_ipv6()).collect();
        assert_eq!(v6.len(), 1, "L97: one IPv6 wildcard socket in {addrs:?}");
        assert!(v6[0].ip().is_unspecified() && v6[0].port() != 0);
        // L98: IPV6_V6ONLY, so this is a socket of its own with its own OS-chosen port.
        let loopback6: SocketAddr = format!("[::1]:{}", v6[0].port()).parse().unwrap();
        check_tcp_echo(&lp, loopback6);
    }
    shut(&lp, &server);
}

/// L96: refused as CPython refuses a server given both a host/port and a socket.
fn is_host_port_and_sock(r: &Result<Server, Error>) -> bool {
    matches!(r, Err(Error::InvalidArgument(m))
        if m == "host/port and sock can not be specified at the same time")
}

/// An empty list of hosts is no host at all, not "every interface": CPython 3.13 raises
/// OSError('could not bind on any address out of []') (3.11 returned a server without
/// sockets). It used to bind 0.0.0.0 and :: as an empty host does, so a server configured
/// with no listen address listened on every interface.
// Checklist: L97, L99.
#[test]
fn l97_l99_an_empty_host_list_binds_nothing() {
    let lp = EventLoop::new().unwrap();
    let none: [&str; 0] = [];
    for (call, r) in servers_on_hosts(&lp, &none) {
        assert!(
            matches!(&r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::AddrNotAvailable
                && e.to_string() == "could not bind on any address out of []"),
            "{call} hosts []: {:?}",
            r.as_ref().map(Server::sockets)
        );
    }
    // A list given, even an empty one, is a host for the sock= conflict (host=[] is not None).
    assert_host_list_conflicts_with_sock(&lp, &none);
}

/// A server on `hosts` from each entry point, named: `create_server` (a protocol server, host
/// "") and `start_server` (a streams server, host 127.0.0.1); the list stands for the host.
fn servers_on_hosts(lp: &EventLoop, hosts: &[&str]) -> [(&'static str, Result<Server, Error>); 2] {
    let created = lp.run_until_complete(lp.create_server(Echo::default, "", 0).hosts(hosts));
    let started = lp.run_until_complete(async move {
        let noop = |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close();
        asyncio::start_server(noop, "127.0.0.1", 0)
            .hosts(hosts)
            .await
    });
    [
        ("create_server", created.unwrap()),
        ("start_server", started.unwrap()),
    ]
}

/// `hosts` with a socket given (in either order) is the host/port-and-sock conflict (L96).
fn assert_host_list_conflicts_with_sock(lp: &EventLoop, hosts: &[&str]) {
    for hosts_first in [true, false] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let builder = lp.create_server(Echo::default, "", 0);
        let builder = match hosts_first {
            true => builder.hosts(hosts).sock(listener),
            false => builder.sock(listener).hosts(hosts),
        };
        let r = lp.run_until_complete(builder).unwrap();
        assert!(
            is_host_port_and_sock(&r),
            "L96, hosts {hosts:?} given first: {hosts_first}: {:?}",
            r.as_ref().map(Server::sockets)
        );
    }
}

/// An empty name inside a host list is a name the resolver refuses (CPython 3.11:
/// `start_server(host=['', '127.0.0.1'])` and `host=['']` raise `gaierror(-2, 'Name or service
/// not known')`); only a lone empty host means every interface. It used to be dropped from the
/// list, so `['', '127.0.0.1']` served 127.0.0.1 alone and `['']` bound nothing.
// Checklist: L97.
#[test]
fn l97_an_empty_name_in_a_host_list_is_the_resolvers_no_name_error() {
    let lp = EventLoop::new().unwrap();
    let no_name = |r: &Result<Server, Error>| {
        matches!(r, Err(e @ Error::Io(io)) if io.kind() == io::ErrorKind::NotFound
            && e.raw_os_error() == Some(-2)
            && io.to_string().starts_with("[Errno -2] Name or service not known"))
    };
    for hosts in [&["", "127.0.0.1"][..], &["127.0.0.1", ""][..], &[""][..]] {
        for (call, r) in servers_on_hosts(&lp, hosts) {
            assert!(
                no_name(&r),
                "{call} hosts {hosts:?}: {:?}",
                r.as_ref().map(Server::sockets)
            );
        }
    }
    // With sock=, a list holding "" is a host given: the host/port conflict, as for Python.
    assert_host_list_conflicts_with_sock(&lp, &[""]);
}

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

// Checklist: L97. Several hosts are looked up at once inside the server's own future, not in
// tasks of whatever loop runs (`asyncio::spawn` panics where none does): a create_server
// awaited by another executor, or polled by hand as here, binds its literal hosts as it binds
// one.
#[test]
fn l97_several_hosts_are_resolved_without_tasks_of_the_running_loop() {
    use std::future::{Future, IntoFuture};
    use std::task::{Context, Poll, Waker};
    let lp = EventLoop::new().unwrap();
    for hosts in [&["127.0.0.1"][..], &["127.0.0.1", "127.0.0.2"]] {
        let fut = lp
            .create_server(Echo::default, "", 0)
            .hosts(hosts)
            .start_serving(false)
            .into_future();
        let mut fut = std::pin::pin!(fut);
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| {
            fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        }));
        let Ok(Poll::Ready(Ok(server))) = polled else {
            panic!("{hosts:?}: not bound at the first poll outside a running loop");
        };
        assert_eq!(inet(&server).len(), hosts.len(), "{hosts:?}");
        shut(&lp, &server);
    }
}

#[test]
fn l97_a_host_listed_twice_binds_once() {
    let lp = EventLoop::new().unwrap();
    let server = lp
        .run_until_complete(
            lp.create_server(Echo::default, "", 0)
                .hosts(&["127.0.0.1", "127.0.0.1"]),
        )
        .unwrap()
        .unwrap();
    assert_eq!(inet(&server).len(), 1, "L97: de-duplicated");
    check_tcp_echo(&lp, first_inet(&server));
    shut(&lp, &server);
    if have_ipv6() {
        let server = lp
            .run_until_complete(lp.create_server(Echo::default, "", 0).hosts(&[
                "127.0.0.1",
                "::1",
                "::1",
            ]))
            .unwrap()
            .unwrap();
        let addrs = inet(&server);
        assert_eq!(addrs.len(), 2, "L97: two hosts, two sockets: {addrs:?}");
        for addr in addrs {
            check_tcp_echo(&lp, addr);
        }
        shut(&lp, &server);
    }
}

#[test]
fn l98_reuse_port_lets_two_servers_share_a_port() {
    let lp = EventLoop::new().unwrap();
    let first = lp
        .run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", 0)
                .reuse_port(true),
        )
        .unwrap()
        .unwrap();
    let addr = first_inet(&first);
    let second = lp
        .run_until_complete(
            lp.create_server(Echo::default, "127.0.0.1", addr.port())
                .reuse_port(true),
        )
        .unwrap()
        .unwrap();
    assert_eq!(first_inet(&second), addr);
    // Whichever of the two the kernel picks, the connection is served.
    check_tcp_echo(&lp, addr);
    shut(&lp, &first);
    check_tcp_echo(&lp, addr); // only the second is left
    shut(&lp, &second);
}

// CPython: EventLoopTestsMixin.test_create_server_addr_in_use
// CPython: BaseEventLoopWithSelectorTests.test_create_server_cant_bind
#[test]
fn l99_a_port_in_use_fails_with_addr_in_use_and_pythons_text() {
    let lp = EventLoop::new().unwrap();
    let first = tcp_server(&lp, "127.0.0.1");
    let addr = first_inet(&first);
    let second = lp
        .run_until_complete(lp.create_server(Echo::default, "127.0.0.1", addr.port()))
        .unwrap();
    match second {
        Err(Error::Io(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "L99: errno kept");
            let text = e.to_string();
            assert!(
                text.starts_with(&format!(
                    "[Errno {}] error while attempting to bind on address",
                    libc::EADDRINUSE
                )) && text.ends_with("address already in use"),
                "L99 text: {text}"
            );
        }
        other => panic!("L99: second bind on {addr} gave {other:?}"),
    }
    assert_eq!(
        lp.stats().io_registrations,
        1,
        "the failed server left nothing"
    );
    check_tcp_echo(&lp, addr); // the first is unharmed
    shut(&lp, &first);
}

/// An address no local interface has (EADDRNOTAVAIL) is skipped when another one binds, as
/// CPython 3.13 skips it for every host (bpo-30945: `localhost` resolving to ::1 as well on a
/// host whose IPv6 is disabled, as in many containers). It was skipped only for the empty host,
/// so `start_server(cb, "localhost", port)` failed there. Alone, it still fails with its own
/// bind error. 192.0.2.1 (TEST-NET-1) stands for the address that is not local.
// Checklist: L99.
#[test]
fn l99_an_address_no_interface_has_is_skipped_when_another_binds() {
    match TcpListener::bind("192.0.2.1:0") {
        Err(e) if e.kind() == io::ErrorKind::AddrNotAvailable => {}
        other => {
            println!("skipped: binding 192.0.2.1:0 gave {other:?}, not EADDRNOTAVAIL");
            return;
        }
    }
    let lp = EventLoop::new().unwrap();
    let server = lp
        .run_until_complete(
            lp.create_server(Echo::default, "", 0)
                .hosts(&["192.0.2.1", "127.0.0.1"]),
        )
        .unwrap()
        .unwrap();
    let addrs = inet(&server);
    assert_eq!(addrs.len(), 1, "{addrs:?}");
    assert!(addrs[0].ip().is_loopback(), "{addrs:?}");
    check_tcp_echo(&lp, addrs[0]);
    shut(&lp, &server);

    let r = lp
        .run_until_complete(lp.create_server(Echo::default, "192.0.2.1", 0))
        .unwrap();
    match r {
        Err(e) => {
            // CPython 3.13's text, with the skipped address's errno kept.
            assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
            let text = e.to_string();
            assert!(
                text.ends_with("could not bind on any address out of [192.0.2.1:0]"),
                "{text}"
            );
        }
        other => panic!("L99: {:?}", other.map(|s| s.sockets())),
    }
}

/// A socket bound with `SO_REUSEADDR` to `ip`, never listening: it only keeps its port out of
/// the OS's hands, and lets other `SO_REUSEADDR` sockets bind that port while none listens.
fn port_keeper(ip: &str) -> (socket2::Socket, u16) {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_reuse_address(true).unwrap();
    let addr: SocketAddr = format!("{ip}:0").parse().unwrap();
    sock.bind(&addr.into()).unwrap();
    let port = sock.local_addr().unwrap().as_socket().unwrap().port();
    (sock, port)
}

#[test]
fn l99_l100_a_listen_failure_closes_the_sockets_already_listening() {
    // 127.0.0.2:P and 0.0.0.0:P both bind (SO_REUSEADDR, neither listening yet); once the
    // first listens, listen() on the wildcard fails with EADDRINUSE. The server must not keep
    // the first one listening: nobody holds a handle that could close it.
    let (_keep, port) = port_keeper("127.0.0.3");
    let lp = EventLoop::new().unwrap();
    let result = lp
        .run_until_complete(
            lp.create_server(Echo::default, "", port)
                .hosts(&["127.0.0.2", "0.0.0.0"]),
        )
        .unwrap();
    match result {
        Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}"),
        other => panic!("listen on 0.0.0.0:{port} should fail: {other:?}"),
    }
    let first: SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
    assert_nothing_listening(
        &lp,
        first,
        "the failed server left a listener",
        "the socket that did listen is closed",
    );
}

#[test]
fn l94_l100_create_server_cancelled_after_listening_closes_its_sockets() {
    // D4: a zero timeout polls the builder once: it binds, listens and then yields one
    // iteration (L100), where the timeout drops it. Nobody got the Server, so nothing of it
    // may be left listening.
    let lp = EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let build = lp.create_server(Echo::default, "", 0).sock(listener);
    let got = lp
        .run_until_complete(asyncio::timeout(Duration::ZERO, build))
        .unwrap();
    assert!(matches!(got, Err(Error::Timeout)), "{got:?}");
    spin_a_little(&lp);
    assert_nothing_listening(
        &lp,
        addr,
        "the dropped server left a listener",
        "the listening socket is closed",
    );
}

/// Asserts that nothing is left of a server the test never got: no registration on `lp`
/// (message `left`), and `addr` refuses a connection (message `closed`).
#[track_caller]
fn assert_nothing_listening(lp: &EventLoop, addr: SocketAddr, left: &str, closed: &str) {
    assert_eq!(lp.stats().io_registrations, 0, "{left}");
    assert!(
        is_refused(TcpStream::connect_timeout(&addr, BOUND)),
        "{closed}"
    );
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

/// Serves `hosts` (port 0) and returns the set of addresses the server listens on.
fn hosts_served(lp: &EventLoop, hosts: &[&str]) -> std::collections::BTreeSet<String> {
    let server = lp
        .run_until_complete(lp.create_server(Echo::default, "", 0).hosts(hosts))
        .unwrap()
        .unwrap();
    let served = inet(&server).iter().map(|a| a.ip().to_string()).collect();
    for addr in inet(&server) {
        check_tcp_echo(lp, addr);
    }
    shut(lp, &server);
    served
}

// CPython: EventLoopTestsMixin.test_create_server_multiple_hosts_ipv4
#[test]
fn l97_test_create_server_multiple_hosts_ipv4() {
    // Real loopback addresses in place of the mocked ones; the one listed twice binds once.
    let lp = EventLoop::new().unwrap();
    let served = hosts_served(&lp, &["127.0.0.1", "127.0.0.2", "127.0.0.1"]);
    assert_eq!(
        served.into_iter().collect::<Vec<_>>(),
        ["127.0.0.1", "127.0.0.2"]
    );
}

// CPython: EventLoopTestsMixin.test_create_server_multiple_hosts_ipv6
#[test]
fn l97_test_create_server_multiple_hosts_ipv6() {
    // `::1` and the IPv6 wildcard stand for the mocked `::1` and `::2` (a host has one IPv6
    // loopback address).
    if !have_ipv6() {
        return;
    }
    let lp = EventLoop::new().unwrap();
    let served = hosts_served(&lp, &["::1", "::", "::1"]);
    assert_eq!(served.into_iter().collect::<Vec<_>>(), ["::", "::1"]);
}

/// Whether the server's one socket has SO_REUSEPORT: a second socket that sets it binds the
/// same address only if the first has it too.
fn shares_its_port(addr: SocketAddr) -> bool {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_reuse_port(true).unwrap();
    s.bind(&addr.into()).is_ok()
}

// CPython: EventLoopTestsMixin.test_create_server_reuse_port
#[test]
fn l98_test_create_server_reuse_port() {
    let lp = EventLoop::new().unwrap();
    for reuse in [false, true] {
        let server = lp
            .run_until_complete(
                lp.create_server(Echo::default, "127.0.0.1", 0)
                    .reuse_port(reuse),
            )
            .unwrap()
            .unwrap();
        assert_eq!(inet(&server).len(), 1);
        assert_eq!(
            shares_its_port(first_inet(&server)),
            reuse,
            "reuse_port({reuse})"
        );
        shut(&lp, &server);
    }
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

// CPython: EventLoopTestsMixin.test_create_server_dual_stack
#[test]
fn l97_l98_test_create_server_dual_stack() {
    // No host and one port: an IPv4 and an IPv6 socket on that port, each reachable by its
    // own loopback. The port is one found free a moment before, so, as CPython, up to five
    // tries when another process took it meanwhile.
    if !have_ipv6() {
        return;
    }
    let lp = EventLoop::new().unwrap();
    let mut tries = 0;
    let (server, port) = loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        match lp
            .run_until_complete(lp.create_server(Echo::default, "", port))
            .unwrap()
        {
            Ok(server) => break (server, port),
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::AddrInUse && tries < 5 => tries += 1,
            Err(e) => panic!("{e:?}"),
        }
    };
    assert!(inet(&server).iter().all(|a| a.port() == port));
    check_tcp_echo(&lp, SocketAddr::from(([127, 0, 0, 1], port)));
    check_tcp_echo(&lp, format!("[::1]:{port}").parse().unwrap());
    shut(&lp, &server);
}

// CPython: BaseEventLoopWithSelectorTests.test_create_server_ipv6
#[test]
fn l97_l99_test_create_server_ipv6() {
    // start_server on `::1`, port 0: at least one socket; skipped, as CPython, where `::1`
    // cannot be bound (EADDRNOTAVAIL).
    let lp = EventLoop::new().unwrap();
    let r = lp
        .run_until_complete(async {
            asyncio::start_server(
                |_r: asyncio::StreamReader, w: asyncio::StreamWriter| w.close(),
                "::1",
                0,
            )
            .await
        })
        .unwrap();
    let server = match r {
        Ok(server) => server,
        Err(Error::Io(e)) if e.kind() == io::ErrorKind::AddrNotAvailable => return,
        Err(e) => panic!("{e:?}"),
    };
    assert!(!server.sockets().is_empty());
    assert!(inet(&server).iter().all(|a| a.is_ipv6()));
    shut(&lp, &server);
}
