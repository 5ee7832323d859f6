//! CPython's datagram tests, ported one to one with real sockets, each named after the test it
//! ports (`test_events.py`, `test_base_events.py`, `test_selector_events.py`
//! `SelectorDatagramTransportTests`). Where CPython mocks the socket, a real socket is made to
//! behave as the mock does: a bound port another socket holds, a Unix socketpair whose reader
//! does not read (the send queue), a refused protocol number.

use super::*;
use std::os::fd::RawFd;

/// `getsockopt(fd, SOL_SOCKET, name)` as an int, as the CPython test reads it off
/// `get_extra_info('socket')`.
fn sockopt(fd: RawFd, name: libc::c_int) -> libc::c_int {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: FFI; `fd` is the transport's open socket for this call, `v` and `len` are live
    // locals of the sizes passed.
    #[allow(unsafe_code)]
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
    v
}

/// The transport's descriptor (`get_extra_info('socket')`).
fn fd_of(t: &DatagramTransport) -> RawFd {
    match t.get_extra_info("socket") {
        Some(asyncio::ExtraInfo::Fd(fd)) => fd,
        other => panic!("no socket: {other:?}"),
    }
}

/// CPython test_events `_test_create_datagram_endpoint`: a server that answers `resp:` + the
/// datagram, a client connected to it; the server hears 3 bytes, the client 8; both report a
/// sockname; `close` ends with `connection_lost(None)`, after `connection_made`.
async fn create_datagram_endpoint_echo(host: &'static str) -> Result<(), Error> {
    /// The server of the CPython test: `sendto(b'resp:' + data, addr)`.
    struct Resp(Shared);
    impl DatagramProtocol for Resp {
        fn connection_made(&mut self, t: DatagramTransport) {
            self.0.borrow_mut().connection_made(t);
        }
        fn datagram_received(&mut self, data: &[u8], addr: Address) {
            self.0.borrow_mut().datagram_received(data, addr.clone());
            let t = self.0.borrow().transport.clone().expect("made");
            t.sendto(&[b"resp:", data].concat(), Some(&addr))
                .expect("reply");
        }
        fn connection_lost(&mut self, exc: Option<io::Error>) {
            self.0.borrow_mut().connection_lost(exc);
        }
    }
    let lp = asyncio::get_running_loop()?;
    let server = Shared::default();
    let s = server.clone();
    let (s_transport, _) = lp
        .create_datagram_endpoint(move || Resp(s))
        .local_addr(host, 0)
        .await?;
    assert_eq!(server.borrow().calls, ["made"], "INITIALIZED");
    let (transport, client) = client_of(&s_transport).await?;
    assert_eq!(client.borrow().calls, ["made"], "INITIALIZED");
    transport.sendto(b"xxx", None)?;
    until(&server, |r| !r.got.is_empty()).await;
    assert_eq!(server.borrow().got[0].0.len(), 3);
    until(&client, |r| !r.got.is_empty()).await;
    assert_eq!(client.borrow().got[0].0, b"resp:xxx");
    assert!(transport.get_extra_info("sockname").is_some());
    close_and_check(&transport, &client).await;
    assert_eq!(client.borrow().calls, ["made", "datagram(8)", "lost(None)"]);
    close_and_check(&s_transport, &server).await;
    Ok(())
}

/// CPython test_events `test_create_datagram_endpoint`.
#[test]
fn test_create_datagram_endpoint() {
    run_clean(create_datagram_endpoint_echo("127.0.0.1"));
}

/// CPython test_events `test_create_datagram_endpoint_ipv6`.
#[test]
fn test_create_datagram_endpoint_ipv6() {
    if ipv6_or_skip() {
        run_clean(create_datagram_endpoint_echo("::1"));
    }
}

/// CPython test_events `test_create_datagram_endpoint_sock` and test_base_events
/// `test_create_datagram_endpoint_sock`: a bound UDP socket adopted as it is; close ends with
/// `connection_lost(None)`.
#[test]
fn test_create_datagram_endpoint_sock() {
    run_clean(async {
        let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let addr = sock.local_addr()?;
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(sock).await?;
        assert_eq!(t.sockname().and_then(|a| a.as_inet()), Some(addr));
        close_and_check(&t, &p).await;
        assert_eq!(p.borrow().calls, ["made", "lost(None)"], "CLOSED");
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_sock_unix`: `family=AF_UNIX` and
/// no address (ours: an empty `local_path`) makes an unbound Unix datagram socket.
#[test]
fn test_create_datagram_endpoint_sock_unix() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path("")
            .await?;
        assert_eq!(sockopt(fd_of(&t), libc::SO_DOMAIN), libc::AF_UNIX);
        assert!(matches!(t.sockname(), Some(Address::Unix(_))));
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_existing_sock_unix`: a socket file
/// left at the path by a closed socket does not stop the bind.
#[test]
fn test_create_datagram_endpoint_existing_sock_unix() {
    run_clean(async {
        let dir = util::temp_dir("dgram-existing");
        let path = dir.join("s.sock");
        drop(UnixDatagram::bind(&path)?);
        assert!(path.exists());
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .local_path(&path)
            .await?;
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_sockopts`: no socket option unless
/// asked for (`SO_REUSEADDR` never: 3.11 has no `reuse_address`); `reuse_port` and
/// `allow_broadcast` set theirs.
#[test]
fn test_create_datagram_endpoint_sockopts() {
    run_clean(async {
        let (t, p) = local_endpoint().await?;
        let fd = fd_of(&t);
        assert_eq!(sockopt(fd, libc::SO_REUSEPORT), 0);
        assert_eq!(sockopt(fd, libc::SO_BROADCAST), 0);
        close_and_check(&t, &p).await;

        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", 0)
            .reuse_port(true)
            .allow_broadcast(true)
            .await?;
        let fd = fd_of(&t);
        assert_eq!(sockopt(fd, libc::SO_REUSEADDR), 0);
        assert_ne!(sockopt(fd, libc::SO_REUSEPORT), 0);
        assert_ne!(sockopt(fd, libc::SO_BROADCAST), 0);
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_allow_broadcast`: with
/// `allow_broadcast` a remote address is not connected to; close still ends the endpoint.
#[test]
fn test_create_datagram_endpoint_allow_broadcast() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("127.0.0.1", 9)
            .allow_broadcast(true)
            .await?;
        assert!(t.peername().is_none(), "not connected");
        close_and_check(&t, &p).await;
        assert_eq!(p.borrow().calls, ["made", "lost(None)"], "CLOSED");
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_no_matching_family`: a remote IPv4
/// and a local IPv6 address share no family: `ValueError('can not get address information')`.
#[test]
fn test_create_datagram_endpoint_no_matching_family() {
    if !ipv6_or_skip() {
        return;
    }
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("127.0.0.1", 9)
            .local_addr("::1", 0)
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert_eq!(err.to_string(), "can not get address information");
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_noaddr_nofamily`: no address, no
/// family, no socket: `ValueError('unexpected address family')`.
#[test]
fn test_create_datagram_endpoint_noaddr_nofamily() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let err = lp.create_datagram_endpoint(Rec::default).await.err();
        let err = err.expect("refused");
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        assert_eq!(err.to_string(), "unexpected address family");
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_cant_bind` (a mocked bind that
/// fails): here a port another socket holds. The bind's own error comes back (the socket
/// made for it is closed by its owner's drop on that path).
#[test]
fn test_create_datagram_endpoint_cant_bind() {
    run_clean(async {
        let holder = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let port = holder.local_addr()?.port();
        let lp = asyncio::get_running_loop()?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", port)
            .family(asyncio::AddressFamily::Inet)
            .await
            .err()
            .expect("refused");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_socket_err` (a mocked `socket()`
/// that fails): here a protocol number the kernel refuses for a datagram socket
/// (`IPPROTO_TCP`). With a family and no address, the call fails with `socket()`'s error.
#[test]
fn test_create_datagram_endpoint_socket_err() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .family(asyncio::AddressFamily::Inet)
            .proto(libc::IPPROTO_TCP)
            .await
            .err()
            .expect("refused");
        let Error::Io(e) = &err else {
            panic!("not socket()'s error: {err:?}")
        };
        assert_eq!(e.raw_os_error(), Some(libc::EPROTONOSUPPORT), "{e}");
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_no_addrinfo` (a mocked
/// `getaddrinfo` answering nothing): here a name of one family asked for in the other, which
/// glibc refuses (`EAI_ADDRFAMILY`), as CPython's `gaierror` does; an `OSError` either way.
#[test]
fn test_create_datagram_endpoint_no_addrinfo() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let err = lp
            .create_datagram_endpoint(Rec::default)
            .local_addr("127.0.0.1", 0)
            .family(asyncio::AddressFamily::Inet6)
            .await
            .err()
            .expect("refused");
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("Address family for hostname not supported"),
            "{err}"
        );
        Ok(())
    });
}

/// CPython test_selector_events `test_read_ready`: a datagram is handed over with the address
/// it came from; an empty one too (`recvfrom` answering `b''`).
#[test]
fn test_read_ready() {
    run_clean(async {
        let (t, p) = local_endpoint().await?;
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let to = t.sockname().and_then(|a| a.as_inet()).unwrap();
        peer.send_to(b"data", to)?;
        peer.send_to(b"", to)?;
        until(&p, |r| r.got.len() == 2).await;
        let got = p.borrow().got.clone();
        let from = Address::Inet(peer.local_addr()?);
        assert_eq!(got, [(b"data".to_vec(), from.clone()), (Vec::new(), from)]);
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_selector_events `test_sendto`: an unconnected endpoint sends to the address
/// given.
#[test]
fn test_sendto() {
    run_clean(async {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        peer.set_nonblocking(true)?;
        let (t, p) = local_endpoint().await?;
        t.sendto(b"data", Some(&Address::Inet(peer.local_addr()?)))?;
        let mut buf = [0; 16];
        let (n, from) = peer.recv_from(&mut buf)?; // loopback: there already
        assert_eq!(&buf[..n], b"data");
        assert_eq!(Some(Address::Inet(from)), t.sockname());
        assert_eq!(t.get_write_buffer_size(), 0);
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_selector_events `test_sendto_no_data`: `sendto(b'')` sends nothing and queues
/// nothing (3.11's `if not data: return`), even with no address on an unconnected endpoint.
#[test]
fn test_sendto_no_data() {
    run_clean(async {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        peer.set_nonblocking(true)?;
        let (t, p) = local_endpoint().await?;
        t.sendto(b"", Some(&Address::Inet(peer.local_addr()?)))?;
        t.sendto(b"", None)?;
        assert_eq!(t.get_write_buffer_size(), 0);
        let mut buf = [0; 16];
        let got = peer.recv(&mut buf).map_err(|e| e.kind());
        assert_eq!(got, Err(io::ErrorKind::WouldBlock), "nothing was sent");
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_selector_events `test_sendto_tryagain`, `test_sendto_buffer`,
/// `test_sendto_ready_tryagain` and `test_sendto_ready`: a datagram the kernel refuses for now
/// is queued whole, and so is every later one while the queue is not empty, in order; the
/// queue goes out as the socket becomes writable.
#[test]
fn test_sendto_tryagain() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 1)?;
        assert_eq!(t.get_write_buffer_size(), 1024, "the refused one is queued");
        t.sendto(&[0xAA; 1024], None)?; // queued behind it, not tried
        assert_eq!(t.get_write_buffer_size(), 2048);
        let mut firsts = drain(&b);
        assert_eq!(firsts.len(), sent - 1, "what the kernel took");
        for _ in 0..100 {
            if t.get_write_buffer_size() == 0 {
                break;
            }
            asyncio::yield_now().await;
            firsts.extend(drain(&b));
        }
        firsts.extend(drain(&b));
        assert_eq!(t.get_write_buffer_size(), 0, "the queue went out");
        let want: Vec<u8> = (0..sent as u8).chain([0xAA]).collect();
        assert_eq!(firsts, want, "in order, whole");
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_selector_events `test_sendto_connected_addr`: a connected endpoint refuses
/// another address with `ValueError`, whose text names the remote address as Python prints
/// it (a tuple, as `getaddrinfo` gave it: IPv6 with flow info and scope id).
#[test]
fn test_sendto_connected_addr() {
    for host in loopbacks() {
        run_clean(async move {
            let peer = std::net::UdpSocket::bind((host, 0))?;
            let port = peer.local_addr()?.port();
            let lp = asyncio::get_running_loop()?;
            let (t, p) = lp
                .create_datagram_endpoint(Rec::default)
                .remote_addr(host, port)
                .await?;
            let other = Address::Inet(std::net::SocketAddr::new(peer.local_addr()?.ip(), 9));
            let err = t.sendto(b"str", Some(&other)).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
            let want = match host {
                "::1" => format!("Invalid address: must be None or ('::1', {port}, 0, 0)"),
                _ => format!("Invalid address: must be None or ('{host}', {port})"),
            };
            assert_eq!(err.to_string(), want);
            close_and_check(&t, &p).await;
            Ok(())
        });
    }
}

/// CPython test_selector_events `test_sendto_closing` and `test_sendto_exception`'s second
/// half: `sendto` on a connected endpoint after `close` drops the datagram, counting; from
/// the `LOG_THRESHOLD_FOR_CONNLOST_WRITES`th such call on (the count starts at 1 with the
/// close), each logs `socket.send() raised exception.`.
#[test]
fn test_sendto_closing() {
    let warned = || super::loop_close::my_warnings("socket.send() raised exception.").len();
    let before = warned();
    let per_call = Rc::new(RefCell::new(Vec::new()));
    let seen = per_call.clone();
    run_clean(async move {
        let (a, b) = UnixDatagram::pair()?;
        b.set_nonblocking(true)?;
        let lp = asyncio::get_running_loop()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::default).sock(a).await?;
        t.close();
        until(&p, Rec::lost).await;
        for _ in 0..6 {
            t.sendto(b"data", None)?;
            seen.borrow_mut().push(warned() - before);
        }
        assert!(drain(&b).is_empty(), "nothing sent after close");
        Ok(())
    });
    // Calls 1-4 find the count at 1-4; the 5th finds 5.
    assert_eq!(*per_call.borrow(), [0, 0, 0, 0, 1, 2]);
}

/// CPython test_selector_events `test_sendto_ready_closing`: a closing endpoint sends its
/// queue, then `connection_lost(None)`.
#[test]
fn test_sendto_ready_closing() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        let sent = fill(&t, 3 * 1024)?;
        t.close();
        assert!(t.is_closing());
        let mut firsts = Vec::new();
        for _ in 0..100 {
            firsts.extend(drain(&b));
            if p.borrow().lost() {
                break;
            }
            asyncio::yield_now().await;
        }
        firsts.extend(drain(&b));
        assert_eq!(firsts.len(), sent, "every queued datagram went out");
        assert_eq!(p.borrow().calls, ["made", "lost(None)"]);
        Ok(())
    });
}

/// CPython test_selector_events `test_sendto_error_received_connected`: on a connected
/// endpoint the kernel's refusal of `send` (`ECONNREFUSED`, from an earlier ICMP port
/// unreachable) goes to `error_received`; the endpoint stays open (no fatal error).
#[test]
fn test_sendto_error_received_connected() {
    run_clean(async {
        let (t, p) = connected_to_a_closed_port().await?;
        // The ICMP answer to the first lands as a pending socket error: the second `send`
        // is refused with it, or the read side reports it first; one way or the other it is
        // `error_received`, never `connection_lost`.
        t.sendto(b"anyone?", None)?;
        t.sendto(b"anyone?", None)?;
        until(&p, |r| !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors[0], io::ErrorKind::ConnectionRefused);
        assert!(!t.is_closing());
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython test_base_events `test_create_datagram_endpoint_sock_sockopts`, for the Unix
/// keywords: a path is Python's `family=AF_UNIX` plus a `str` address, and the refusal prints
/// them as CPython does (`f'{k}={v}'`: the path without quotes, `family=1`; an empty path is
/// falsy, not listed, but its family is).
#[test]
fn test_create_datagram_endpoint_sock_sockopts_unix_paths() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let refusal = |local: &'static str, remote: Option<&'static str>| {
            let lp = lp.clone();
            async move {
                let (a, _b) = UnixDatagram::pair().unwrap();
                let mut ep = lp.create_datagram_endpoint(Rec::default).sock(a);
                ep = ep.local_path(local);
                if let Some(r) = remote {
                    ep = ep.remote_path(r);
                }
                ep.await.err().expect("refused").to_string()
            }
        };
        let head = "socket modifier keyword arguments can not be used when sock is specified.";
        assert_eq!(
            refusal("/tmp/x", None).await,
            format!("{head} (local_addr=/tmp/x, family=1)")
        );
        assert_eq!(
            refusal("/tmp/x", Some("/tmp/y")).await,
            format!("{head} (local_addr=/tmp/x, remote_addr=/tmp/y, family=1)")
        );
        assert_eq!(refusal("", None).await, format!("{head} (family=1)"));
        Ok(())
    });
}

/// CPython test_protocols `test_datagram_protocol`: every method of the base protocol does
/// nothing; an endpoint run with it through traffic, an error, both flow edges and its close
/// reports nothing.
#[test]
fn test_datagram_protocol() {
    struct Base;
    impl DatagramProtocol for Base {}
    let mut dp = Base;
    dp.datagram_received(b"", Address::Inet("127.0.0.1:1".parse().unwrap()));
    dp.error_received(io::ErrorKind::Other.into());
    dp.pause_writing();
    dp.resume_writing();
    dp.connection_lost(None);
    run_clean(async {
        let (a, b) = stuck_pair()?;
        let lp = asyncio::get_running_loop()?;
        let (t, _) = lp.create_datagram_endpoint(|| Base).sock(a).await?;
        b.send(b"to the base")?;
        fill(&t, 80 * 1024)?; // above the high-water mark: pause_writing
        for _ in 0..1000 {
            drain(&b);
            if t.get_write_buffer_size() == 0 {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(t.get_write_buffer_size(), 0, "resumed and drained");
        t.close();
        for _ in 0..4 {
            asyncio::yield_now().await;
        }
        assert!(t.get_protocol().is_none(), "connection_lost ran");
        Ok(())
    });
}

/// CPython test_selector_events `test_sendto_ready_error_received_connection`: a queued
/// datagram on a connected endpoint that the kernel refuses as the socket becomes writable
/// (the peer of a Unix socketpair gone: `ECONNREFUSED`) goes to `error_received`, not to a
/// fatal error: the endpoint stays open and closes normally.
#[test]
fn test_sendto_ready_error_received_connection() {
    run_clean(async {
        let (t, p, b) = stuck_endpoint().await?;
        fill(&t, 2 * 1024)?;
        drop(b); // the peer goes: writable again, and every send now refused
        until(&p, |r| !r.errors.is_empty()).await;
        for _ in 0..100 {
            if t.get_write_buffer_size() == 0 {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(t.get_write_buffer_size(), 0, "{:?}", p.borrow().calls);
        assert_eq!(p.borrow().errors[0], io::ErrorKind::ConnectionRefused);
        assert!(!t.is_closing(), "not fatal");
        assert!(!p.borrow().lost());
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// CPython `_FlowControlMixin` on the datagram queue (SelectorDatagramTransportTests
/// `test_sendto_buffer`, whose queue `_maybe_pause_protocol` measures): a queue of exactly
/// the high-water mark does not pause, one byte more does, once; lowering the mark below what
/// is queued pauses at once (`set_write_buffer_limits` calls `_maybe_pause_protocol`).
#[test]
fn test_sendto_buffer_pauses_strictly_above_high() {
    run_clean(async {
        let (t, p, _b) = stuck_endpoint().await?;
        fill(&t, 1)?; // the kernel full: from here every datagram is queued
        t.set_write_buffer_limits(Some(3 * 1024), None)?;
        t.sendto(&[1; 1024], None)?;
        t.sendto(&[2; 1024], None)?;
        assert_eq!(t.get_write_buffer_size(), 3 * 1024);
        assert_eq!(p.borrow().calls, ["made"], "at high: not paused");
        t.sendto(&[3], None)?;
        assert_eq!(p.borrow().calls, ["made", "pause"], "above high: paused");
        t.sendto(&[4], None)?;
        assert_eq!(p.borrow().calls, ["made", "pause"], "once");
        t.abort();
        until(&p, Rec::lost).await;

        let (t, p, _b) = stuck_endpoint().await?;
        fill(&t, 2 * 1024)?;
        assert_eq!(p.borrow().calls, ["made"]);
        t.set_write_buffer_limits(Some(1024), Some(0))?;
        assert_eq!(p.borrow().calls, ["made", "pause"], "a lower mark pauses");
        t.abort(); // the peer never reads: a close would wait for good
        until(&p, Rec::lost).await;
        assert_grammar(&p.borrow().calls);
        Ok(())
    });
}
