//! Sending and receiving on inet endpoints: the echo round trip on 127.0.0.1 and ::1, the
//! address a connected or an unconnected endpoint takes, an ICMP port unreachable, and an echo
//! to the unnamed peer of a Unix socketpair.

use super::*;

/// An echo server on `host` and a client connected to it: datagrams go there and back, in
/// order, each whole; both grammars hold (CPython test_events `test_create_datagram_endpoint`).
async fn echo_round_trip(host: &'static str) -> Result<(), Error> {
    let lp = asyncio::get_running_loop()?;
    let (server, sp) = lp
        .create_datagram_endpoint(Rec::echo)
        .local_addr(host, 0)
        .await?;
    assert_eq!(
        sp.borrow().calls,
        ["made"],
        "returned after connection_made"
    );
    let (client, cp) = client_of(&server).await?;
    for msg in [&b"one"[..], b"", b"three", &[7u8; 60_000]] {
        client.sendto(msg, None)?;
    }
    // The empty one is not sent (CPython 3.11's `if not data: return`).
    until(&cp, |r| r.got.len() == 3).await;
    let got: Vec<Vec<u8>> = cp.borrow().got.iter().map(|g| g.0.clone()).collect();
    assert_eq!(got, [b"one".to_vec(), b"three".to_vec(), vec![7u8; 60_000]]);
    let from = cp.borrow().got[0].1.as_inet().unwrap();
    assert_eq!(from, server.sockname().unwrap().as_inet().unwrap());
    let client_addr = client.sockname().unwrap().as_inet().unwrap();
    assert_eq!(sp.borrow().got[0].1.as_inet().unwrap(), client_addr);
    client.close();
    server.close();
    until(&cp, Rec::lost).await;
    until(&sp, Rec::lost).await;
    for p in [&cp, &sp] {
        assert_grammar(&p.borrow().calls);
        assert_eq!(p.borrow().calls.last().unwrap(), "lost(None)");
    }
    assert!(client.get_extra_info("socket").is_none(), "socket closed");
    Ok(())
}

#[test]
fn echo_round_trip_v4() {
    run_clean(echo_round_trip("127.0.0.1"));
}

#[test]
fn echo_round_trip_v6() {
    if ipv6_or_skip() {
        run_clean(echo_round_trip("::1"));
    }
}

/// A connected endpoint takes only its remote address (CPython `sendto`'s ValueError text),
/// sends with `None` to it, and reports both addresses.
#[test]
fn connected_endpoint_refuses_another_address() {
    run_clean(async {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let remote = peer.local_addr()?;
        let lp = asyncio::get_running_loop()?;
        let (t, _p) = lp
            .create_datagram_endpoint(Rec::default)
            .remote_addr("127.0.0.1", remote.port())
            .await?;
        assert_eq!(t.peername().unwrap().as_inet(), Some(remote));
        let other = Address::Inet("127.0.0.1:9".parse().unwrap());
        let err = t.sendto(b"x", Some(&other)).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Invalid address: must be None or ('{}', {})",
                remote.ip(),
                remote.port()
            )
        );
        assert!(matches!(err, Error::InvalidArgument(_)));
        t.sendto(b"to none", None)?;
        t.sendto(b"to same", Some(&Address::Inet(remote)))?;
        let mut buf = [0; 32];
        // Loopback delivers during sendto: already queued at the peer.
        let n = peer.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"to none");
        let n = peer.recv(&mut buf)?;
        assert_eq!(&buf[..n], b"to same");
        t.close();
        Ok(())
    });
}

/// An unconnected endpoint needs an address.
#[test]
fn unconnected_endpoint_needs_an_address() {
    run_clean(async {
        let (t, _p) = local_endpoint().await?;
        let err = t.sendto(b"x", None).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument(_)), "{err:?}");
        t.close();
        Ok(())
    });
}

/// ICMP port unreachable on a connected socket: `error_received(ConnectionRefused)`, and the
/// transport stays open (CPython `_read_ready`: `OSError` → `protocol.error_received`).
#[test]
fn port_unreachable_is_error_received_and_the_endpoint_stays_open() {
    run_clean(async {
        let (t, p) = connected_to_a_closed_port().await?;
        t.sendto(b"anyone?", None)?;
        until(&p, |r| !r.errors.is_empty()).await;
        assert_eq!(p.borrow().errors, [io::ErrorKind::ConnectionRefused]);
        assert!(!t.is_closing(), "an error_received does not close");
        assert_eq!(p.borrow().calls, ["made", "error(ConnectionRefused)"]);
        close_and_check(&t, &p).await;
        Ok(())
    });
}

/// A connected endpoint sends to its peer whatever address it is given (CPython uses `send`
/// once there is a peername): an echo over a socketpair, replying to the unnamed address the
/// datagram came from, works.
#[test]
fn a_connected_unix_endpoint_echoes_to_its_unnamed_peer() {
    run_clean(async {
        let lp = asyncio::get_running_loop()?;
        let (a, b) = UnixDatagram::pair()?;
        let (t, p) = lp.create_datagram_endpoint(Rec::echo).sock(a).await?;
        b.send(b"ping")?;
        until(&p, |r| !r.got.is_empty()).await;
        assert!(matches!(&p.borrow().got[0].1, Address::Unix(a) if a.is_unnamed()));
        b.set_nonblocking(true)?;
        let mut buf = [0; 16];
        let n = b.recv(&mut buf)?; // sent from inside datagram_received, already there
        assert_eq!(&buf[..n], b"ping");
        t.close();
        until(&p, Rec::lost).await;
        Ok(())
    });
}
