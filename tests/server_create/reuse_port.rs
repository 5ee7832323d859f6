//! `reuse_port` (L98): two servers sharing a port, and SO_REUSEPORT set only when asked.

use super::*;

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
