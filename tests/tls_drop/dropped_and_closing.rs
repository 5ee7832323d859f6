//! A TLS connection ended early from our side (T12, T27, L16): a pending handshake dropped
//! (create_connection's and start_tls'), a TLS transport closing with its carrier, and a TLS
//! stream kept past its run.

use super::*;

/// T12, after CPython's test_ssl.py test_handshake_timeout_handler_leak (the weak reference
/// becomes "no timer left armed") and the cancel half of test_sslproto.py
/// test_handshake_timeout: dropping a TLS `create_connection` whose handshake is pending closes
/// the socket, the handshake timer (60 s) goes with the connection, nothing is reported and the
/// protocol hears nothing.
#[test]
fn t12_dropping_a_pending_tls_create_connection_closes_the_socket_and_its_timer() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp.handle());
    let (factory, made) = forwarding_recorder();
    let connect = lp
        .create_connection(factory, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    let task = lp.spawn(connect.into_future()).unwrap();
    // The peer takes our ClientHello and says nothing.
    let mut peer: Option<std::net::TcpStream> = None;
    let mut hello = Vec::new();
    turn_until(&lp, "the ClientHello", || {
        if peer.is_none() {
            peer = listener.accept().ok().map(|(s, _)| s);
            if let Some(p) = &peer {
                p.set_nonblocking(true).unwrap();
            }
        }
        let mut buf = [0u8; 4096];
        if let Some(Ok(n)) = peer.as_mut().map(|p| io::Read::read(p, &mut buf)) {
            hello.extend_from_slice(&buf[..n]);
        }
        !hello.is_empty()
    });
    assert_eq!(hello[0], 0x16, "a handshake record");
    assert_eq!(lp.stats().timers, 1, "the handshake timer is armed");
    assert!(task.cancel());
    let mut peer = peer.unwrap();
    turn_until(&lp, "the socket closed", || {
        let mut buf = [0u8; 4096];
        matches!(io::Read::read(&mut peer, &mut buf), Ok(0))
    });
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(task.is_cancelled());
    let s = lp.stats();
    assert_eq!(s.timers, 0, "T12: no timer left armed: {s:?}");
    assert_eq!(s.io_registrations, 0, "the socket is released: {s:?}");
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    let rec = made.borrow().clone().expect("the factory ran");
    assert!(rec.borrow().calls.is_empty(), "{:?}", rec.borrow().calls);
}

/// T12, T33, after CPython's test_sslproto.py test_start_tls_slow_client_cancel: dropping a
/// `loop.start_tls` before its scheduled callbacks ran cancels them (the layer never starts its
/// handshake: not one byte reaches the peer) and closes the raw transport; the app protocol,
/// connected since before the upgrade, gets its connection_lost; nothing is reported.
#[test]
fn t12_t33_dropping_a_pending_start_tls_cancels_its_callbacks_and_closes_the_transport() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp.handle());
    let (t, proto) = plain_recorder(&lp, port);
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(BOUND)).unwrap();
    let app: asyncio::ProtocolRef = proto.clone();
    let mut upgrade = Box::pin(
        lp.start_tls(&t, app, Certs::get().client_config(&[]), false)
            .server_hostname("localhost")
            .into_future(),
    );
    // One poll: the layer is in place and its connection_made is scheduled, not yet run.
    assert!(util::Probe::new().poll(upgrade.as_mut()).is_pending());
    drop(upgrade);
    turn_until(&lp, "connection_lost", || proto.borrow().lost);
    let mut got = Vec::new();
    io::Read::read_to_end(&mut peer, &mut got).unwrap();
    assert!(got.is_empty(), "T12: no ClientHello was sent: {got:?}");
    assert_eq!(
        proto.borrow().grammar(),
        ["connection_made", "connection_lost(None)"]
    );
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    let s = lp.stats();
    assert_eq!((s.timers, s.io_registrations), (0, 0), "{s:?}");
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

/// T27 (gh-118950, which the port follows): a TLS transport whose raw transport is closing is
/// closing too, at once, before any connection_lost; here the carrier of a `loop.start_tls`
/// is closed under it.
#[test]
fn t27_a_tls_transport_is_closing_as_soon_as_its_raw_transport_is() {
    run(async {
        let (server, port, seen) = plain_server(|r, mut w, seen| async move {
            w.start_tls(Certs::get().server_config(&[])).await?;
            let got = r.read(-1).await;
            seen.borrow_mut().push(format!("{got:?}"));
            w.close();
            Ok(())
        })
        .await?;
        let lp = asyncio::get_running_loop()?;
        let (plain, proto) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .await?;
        let app: asyncio::ProtocolRef = proto.clone();
        let tls = lp
            .start_tls(&plain, app, Certs::get().client_config(&[]), false)
            .server_hostname("localhost")
            .await?;
        assert!(!tls.is_closing());
        plain.close();
        assert!(tls.is_closing(), "T27: the raw transport is closing");
        assert!(!proto.borrow().lost, "before any connection_lost");
        for _ in 0..1_000 {
            if proto.borrow().lost {
                break;
            }
            asyncio::yield_now().await;
        }
        assert!(proto.borrow().lost, "connection_lost within 1 000 turns");
        assert!(tls.is_closing());
        tls_helpers::close_after_handler(server, &seen).await;
        Ok(())
    });
}

/// A TLS stream kept past the `run` that opened it: the raw transport's loop closed under it,
/// so a read (on another loop) fails at once with the loop-closed error, as a plain stream's
/// does, instead of waiting forever: the layer tells the app protocol at the close, since no
/// later turn will run its queued `connection_lost`.
// Checklist: L16 (a loop closed under its transports: connection_lost reaches the app at once).
#[test]
fn a_tls_stream_kept_past_its_run_fails_its_reads_instead_of_waiting_forever() {
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_echo_server(&[]))
        .unwrap()
        .unwrap();
    let (reader, writer) = lp
        .run_until_complete(asyncio::timeout(BOUND, async move {
            let (reader, writer) = open_tls(port).await?;
            writer.write(b"ping")?;
            assert_eq!(reader.readexactly(4).await?, b"ping");
            Ok::<_, Error>((reader, writer))
        }))
        .unwrap()
        .unwrap()
        .unwrap();
    drop(server);
    lp.close().unwrap();
    let read =
        asyncio::run(
            async move { asyncio::timeout(Duration::from_secs(5), reader.read(10)).await },
        );
    let e = match read {
        Ok(Ok(Err(e))) => e,
        other => panic!("the read did not fail at once: {other:?}"),
    };
    assert!(e.to_string().starts_with("Event loop is closed ("), "{e}");
    drop(writer);
}
