//! Starting to serve (L100, L104, L105): at once on a real port, only when asked with
//! `start_serving(false)`, and a start whose `listen` fails, which leaves the server closed.

use super::*;

#[test]
fn l100_l104_start_serving_accepts_at_once_on_a_real_port() {
    let lp = EventLoop::new().unwrap();
    let server = tcp_server(&lp, "127.0.0.1");
    assert!(server.is_serving(), "L104");
    assert_eq!(server.get_loop(), lp.handle(), "L104: get_loop");
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
