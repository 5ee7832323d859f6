//! What a bind or a listen that fails leaves (L94, L99, L100): a port in use (Python's text),
//! an address no interface has (skipped when another binds), a listen failure or a dropped
//! create_server after listening (no socket left listening).

use super::*;

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
