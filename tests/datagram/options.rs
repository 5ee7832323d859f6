//! The builder's options and refusals: `allow_broadcast`, `reuse_port`, `sock=` adoption and
//! its family, the builder's own refusals, a failed connect with its errno.

use super::*;

/// `allow_broadcast` sets `SO_BROADCAST`: without it the kernel refuses a send to the limited
/// broadcast address (`EACCES`, to `error_received`); with it, it does not.
#[test]
fn allow_broadcast_sets_so_broadcast() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let bcast = Address::Inet("255.255.255.255:9".parse().unwrap());
        let mut kinds = Vec::new();
        for allow in [false, true] {
            let (t, p) = lp
                .create_datagram_endpoint(Rec::default)
                .local_addr("0.0.0.0", 0)
                .allow_broadcast(allow)
                .await?;
            t.sendto(b"hello, everyone", Some(&bcast))?;
            // A refusal is delivered from inside sendto (the protocol is free).
            kinds.push(p.borrow().errors.clone());
            t.close();
        }
        assert_eq!(kinds[0], [io::ErrorKind::PermissionDenied]);
        assert!(
            !kinds[1].contains(&io::ErrorKind::PermissionDenied),
            "{:?}",
            kinds[1]
        );
        Ok(())
    });
}

/// `reuse_port` sets `SO_REUSEPORT` on both: a second endpoint binds the same port; without
/// it the bind fails with `EADDRINUSE` (CPython test_events `test_create_datagram_endpoint_reuse_port`).
#[test]
fn reuse_port_lets_two_endpoints_share_a_port() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (first, _) = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", 0)
            .reuse_port(true)
            .await?;
        let port = port_of(&first);
        let (second, _) = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", port)
            .reuse_port(true)
            .await?;
        assert_eq!(port_of(&second), port);
        let refused = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", port)
            .await
            .err()
            .expect("a third bind without reuse_port fails");
        let Error::Io(e) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        first.close();
        second.close();
        Ok(())
    });
}

/// A socket that refuses `SO_REUSEPORT` (Linux: a Unix datagram socket, `EOPNOTSUPP`) is
/// refused in CPython's words, errno kept, as `create_server`'s `reuse_port` refuses it.
/// CPython 3.11 (`_set_reuseport`, probed with python3): `create_datagram_endpoint(..,
/// local_addr=path, family=AF_UNIX, reuse_port=True)` raises `ValueError('reuse_port not
/// supported by socket module, SO_REUSEPORT defined but not implemented.')`. Ours said only
/// `[Errno 95] Operation not supported`, naming no keyword.
#[test]
fn reuse_port_refused_by_the_socket_says_so_in_cpythons_words() {
    run_clean(async {
        let dir = util::temp_dir("dgram-reuse-port");
        let lp = asyncio::get_running_loop()?;
        let refused = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(dir.join("r.sock"))
            .reuse_port(true)
            .await
            .err()
            .expect("a Unix socket refuses SO_REUSEPORT");
        assert_eq!(
            refused.raw_os_error(),
            Some(libc::EOPNOTSUPP),
            "{refused:?}"
        );
        assert_eq!(
            refused.to_string(),
            format!(
                "[Errno {}] reuse_port not supported by socket module, SO_REUSEPORT defined \
                 but not implemented.",
                libc::EOPNOTSUPP
            )
        );
        assert!(!dir.join("r.sock").exists(), "refused before the bind");
        Ok(())
    });
}

/// `create_datagram_endpoint` on the running loop refuses `sock` with `InvalidArgument` whose
/// text starts with `text`.
async fn sock_refused(sock: impl Into<asyncio::DatagramSocket>, text: &str) {
    let lp = asyncio::get_running_loop().unwrap();
    let err = lp
        .create_datagram_endpoint(Rec::default)
        .sock(sock)
        .await
        .err()
        .expect("refused");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
    assert!(err.to_string().starts_with(text), "{err}");
}

/// `sock=` adoption: the socket is used as it is; the refusals of CPython test_base_events
/// `test_create_datagram_endpoint_sock_sockopts` and `..._wrong_sock`.
#[test]
fn sock_is_adopted_and_modifiers_are_refused() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        b.send(b"over the pair")?;
        until(&p, |r| !r.got.is_empty()).await;
        assert_eq!(p.borrow().got[0].0, b"over the pair");
        t.sendto(b"back", None)?; // connected: no address needed
        let mut buf = [0; 16];
        let n = b.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"back");
        t.close();

        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .sock(udp)
            .local_addr("127.0.0.1", 0)
            .reuse_port(true)
            .allow_broadcast(true)
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "socket modifier keyword arguments can not be used when sock is specified. \
             (local_addr=('127.0.0.1', 0), reuse_port=True, allow_broadcast=True)"
        );
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .family(asyncio::AddressFamily::Inet)
            .sock(std::net::UdpSocket::bind("127.0.0.1:0")?)
            .await
            .err()
            .unwrap();
        assert!(err.to_string().ends_with("(family=2)"), "{err}");

        // A stream socket in UdpSocket's clothing.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let tcp = std::net::TcpStream::connect(listener.local_addr()?)?;
        let fake = std::net::UdpSocket::from(std::os::fd::OwnedFd::from(tcp));
        sock_refused(fake, "A UDP Socket was expected, got").await;
        Ok(())
    });
}

/// `sock=` takes the family from the socket, not from the wrapper it came in: a Unix datagram
/// descriptor passed as a `UdpSocket` (any descriptor converts) still hears its datagrams with
/// Unix addresses, and replies; a datagram socket of another family is refused.
#[test]
fn sock_family_comes_from_the_socket_not_the_wrapper() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let as_udp = std::net::UdpSocket::from(std::os::fd::OwnedFd::from(a));
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .sock(as_udp)
            .await?;
        b.send(b"unix inside")?;
        until(&p, |r| !r.got.is_empty() || !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [], "{:?}", p.borrow().calls);
        assert!(matches!(p.borrow().got[0].1, Address::Unix(_)));
        t.sendto(b"back", None)?;
        b.set_read_timeout(Some(LIMIT))?; // bounded, should the reply never come
        let mut buf = [0; 16];
        let n = b.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"back");
        t.close();

        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let port = udp.local_addr()?.port();
        let as_unix = UnixDatagram::from(std::os::fd::OwnedFd::from(udp));
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .sock(as_unix)
            .await?;
        std::net::UdpSocket::bind("127.0.0.1:0")?.send_to(b"inet inside", ("127.0.0.1", port))?;
        until(&p, |r| !r.got.is_empty() || !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [], "{:?}", p.borrow().calls);
        assert!(matches!(p.borrow().got[0].1, Address::Inet(_)));
        t.close();

        // A netlink datagram socket (no privilege needed): not an address we can speak.
        let netlink = socket2::Socket::new(
            socket2::Domain::from(libc::AF_NETLINK),
            socket2::Type::DGRAM,
            None,
        )?;
        let fake = UnixDatagram::from(std::os::fd::OwnedFd::from(netlink));
        sock_refused(fake, "A UDP or Unix datagram socket was expected, got").await;
        Ok(())
    });
}

/// The builder's own refusals (CPython test_base_events
/// `test_create_datagram_endpoint_wrong_sock`, `..._no_addrinfo`, `..._addr_error`).
#[test]
fn builder_refusals() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .await
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "unexpected address family");
        // Local IPv4, remote IPv6: no family has both.
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", 0)
            .remote_addr("::1", 9)
            .await
            .err()
            .unwrap();
        assert_eq!(err.to_string(), "can not get address information");
        // A family and no address: an unbound socket of that family.
        let (t, _) = lp
            .create_datagram_endpoint(Rec::default)
            .family(asyncio::AddressFamily::Inet)
            .await?;
        assert!(t.peername().is_none());
        t.close();
        Ok(())
    });
}

/// A remote address the socket cannot connect to fails the call with the OS error, errno
/// kept (CPython test_base_events `test_create_datagram_endpoint_connect_err`): the limited
/// broadcast address without `allow_broadcast` (`EACCES`; `ENETUNREACH` with no route).
#[test]
fn a_failed_connect_is_the_error_with_its_errno() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let r = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("255.255.255.255", 9)
            .await;
        let Err(Error::Io(e)) = r else {
            panic!(
                "expected the connect's error, got {:?}",
                r.map(|(t, _)| t.peername())
            );
        };
        let code = e.raw_os_error();
        assert!(
            code == Some(libc::EACCES) || code == Some(libc::ENETUNREACH),
            "{e}"
        );
        Ok(())
    });
}
