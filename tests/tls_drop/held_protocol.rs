//! Stream start_tls while the stream's protocol is held (S53, S63): resumed or borrowed
//! meanwhile, held as it ends, and an EOF that reaches it before news of its upgrade.

use super::*;

#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s53_stream_start_tls_resumed_while_the_streams_protocol_is_held_does_not_panic() {
    // S53: the stream's protocol, taken with get_protocol() before the upgrade, is still
    // held when the start_tls future resumes after the handshake. Telling the protocol about
    // the new transport took the borrow and panicked (`already borrowed`); it now waits for
    // the borrow to end, the writer writing through the TLS transport at once.
    run(async {
        let (server, reader, mut writer, _raw, proto) = a_paused_reader_and_its_protocol().await?;
        let probe = util::Probe::new();
        let tls = {
            let mut upgrade = std::pin::pin!(upgrade_as_localhost_client(&mut writer));
            assert!(probe.poll(upgrade.as_mut()).is_pending());
            let held = proto.borrow_mut();
            yield_until_woken(&probe).await;
            assert!(probe.woken() > 0, "the handshake never ended");
            let tls = match probe.poll(upgrade.as_mut()) {
                std::task::Poll::Ready(r) => r?,
                std::task::Poll::Pending => panic!("the upgrade waits on the held protocol"),
            };
            for _ in 0..3 {
                asyncio::yield_now().await;
            }
            drop(held);
            tls
        };
        assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"), "upgraded");
        assert!(writer.tls_info().is_some(), "the writer writes through TLS");
        read_the_rest_and_close(server, &reader, &writer).await
    });
}

#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s53_stream_start_tls_while_the_streams_protocol_is_borrowed_shared_waits_for_the_release() {
    // S53: the stream's protocol, borrowed shared with get_protocol() as start_tls begins.
    // A mutable borrow makes the drain wait for its end; a shared one passed the drain and
    // the upgrade was refused at once, as if set_protocol() were called from a callback.
    // It now waits for the release too, and the upgrade completes.
    run(async {
        let (server, reader, mut writer) = a_reader_paused_before_start_tls().await?;
        let proto = writer
            .transport()
            .get_protocol()
            .expect("the stream's protocol");
        let probe = util::Probe::new();
        let tls = {
            let mut upgrade = std::pin::pin!(upgrade_as_localhost_client(&mut writer));
            let held = proto.borrow();
            if let std::task::Poll::Ready(r) = probe.poll(upgrade.as_mut()) {
                panic!("start_tls ended while its protocol was held: {r:?}");
            }
            for _ in 0..3 {
                asyncio::yield_now().await;
            }
            assert!(probe.poll(upgrade.as_mut()).is_pending(), "still held");
            drop(held);
            upgrade.await?
        };
        assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"), "upgraded");
        assert!(writer.tls_info().is_some(), "the writer writes through TLS");
        read_the_rest_and_close(server, &reader, &writer).await
    });
}

#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s53_the_streams_protocol_held_as_stream_start_tls_ends_learns_of_tls_once_released() {
    // S53, what the test above leaves out: the stream's protocol, held as the upgrade ends,
    // is told of its TLS transport once the user releases it. A protocol never told believes
    // it is on a plain socket: the peer's close_notify and EOF then find it asking to stay
    // half-open (S63), which a TLS connection cannot do, and the TLS layer warns of it.
    tls_helpers::faults::capture_log::start();
    run(async {
        // The server's EOF comes after the client's `go on` line, sent after its release: an
        // EOF the TLS layer holds for the held protocol may reach it before the upgrade's
        // retry does.
        let (server, reader, mut writer, proto) =
            tls_helpers::go_then_start_tls(Some(b"go on\n")).await?;
        let probe = util::Probe::new();
        {
            let mut upgrade = std::pin::pin!(upgrade_as_localhost_client(&mut writer));
            assert!(probe.poll(upgrade.as_mut()).is_pending()); // drained: the handshake began
            let held = proto.borrow_mut();
            let mut tls = None;
            for _ in 0..10_000 {
                if let std::task::Poll::Ready(r) = probe.poll(upgrade.as_mut()) {
                    tls = Some(r?);
                    break;
                }
                asyncio::yield_now().await;
            }
            assert!(tls.is_some(), "the handshake never ended");
            for _ in 0..3 {
                asyncio::yield_now().await;
            }
            drop(held);
        }
        writer.write(b"go on\n")?;
        assert_eq!(reader.read(-1).await?, b"over tls");
        assert!(reader.at_eof());
        let warned = tls_helpers::faults::capture_log::lines("returning true from eof_received");
        assert!(
            warned.is_empty(),
            "S53: the protocol never learnt of TLS: {warned:?}"
        );
        close_both(&writer, server).await
    });
}

/// S53 with S63: the stream's protocol, held by its user as stream start_tls ends, is told of
/// TLS once released, by a retry; the peer's close_notify and EOF, which came meanwhile, end
/// the layer's read with an eof_received call that waits for the protocol by another retry.
/// Whichever ran first won: when the EOF's did, the protocol, not yet told, believed itself
/// on a plain socket and asked to stay half-open (S63), and the TLS layer warned that this
/// has no effect over TLS, for a connection that was fine (checked by reverting: one
/// 'returning true from eof_received() has no effect when using ssl'). The loop's clock is a
/// `ManualClock`, so the retries run in a known order: the upgrade's is spaced out by a long
/// hold, the EOF's is on the next turn.
#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s53_s63_an_eof_reaching_the_held_protocol_before_news_of_its_upgrade_gives_no_warning() {
    tls_helpers::faults::capture_log::start();
    let clock = asyncio::ManualClock::new();
    let lp = asyncio::EventLoop::with_clock(clock.clone()).unwrap();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let (sent, wait_sent) = std::sync::mpsc::channel::<()>();
    // No session tickets: nothing reaches the layer after the handshake until the peer's
    // last flight, so no delivery waits for the held protocol before it.
    let mut config = (*Certs::get().server_config(&[])).clone();
    config.send_tls13_tickets = 0;
    let config = std::sync::Arc::new(config);
    let peer = std::thread::spawn(move || {
        let mut sock = b;
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).unwrap();
        }
        let _ = wait_go.recv_timeout(Duration::from_secs(20));
        io::Write::write_all(&mut conn.writer(), b"over tls").unwrap();
        conn.send_close_notify();
        tls_common::send_all(&mut sock, &mut conn);
        sock.shutdown(std::net::Shutdown::Write).unwrap();
        let _ = sent.send(());
    });
    let (reader, mut writer) = lp
        .run_until_complete(asyncio::open_connection_sock(a))
        .unwrap()
        .unwrap();
    let proto = writer
        .transport()
        .get_protocol()
        .expect("the stream's protocol");
    let probe = util::Probe::new();
    let turn = || lp.run_once(Some(Duration::from_millis(10))).unwrap();
    let held;
    {
        let mut upgrade = std::pin::pin!(upgrade_as_localhost_client(&mut writer));
        assert!(probe.poll(upgrade.as_mut()).is_pending()); // drained: the handshake began
        held = proto.borrow_mut();
        let mut upgraded = false;
        // Bounded in time, not turns: the peer is a thread, which a busy machine may starve.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            turn();
            if let std::task::Poll::Ready(r) = probe.poll(upgrade.as_mut()) {
                r.expect("the upgrade");
                upgraded = true;
                break;
            }
        }
        assert!(upgraded, "the handshake never ended");
    }
    // A long hold: the retry that tells the protocol of TLS now waits up to 64 ms per try.
    for _ in 0..300 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    go.send(()).unwrap();
    wait_sent
        .recv_timeout(Duration::from_secs(20))
        .expect("the peer never sent");
    for _ in 0..3 {
        // The records and the EOF are in the socket (a socketpair's writes are in our
        // receive queue when they return): the layer reads them, the protocol is held.
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    drop(held);
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap(); // the clock stands still: next-turn retries
    }
    for _ in 0..200 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    let warned = tls_helpers::faults::capture_log::lines("returning true from eof_received");
    assert!(warned.is_empty(), "S53, S63: {warned:?}");
    assert!(writer.tls_info().is_some(), "upgraded");
    let rest = lp.run_until_complete(reader.read(-1)).unwrap().unwrap();
    assert_eq!(
        rest, b"over tls",
        "the data before the close_notify, then the EOF"
    );
    drop(reader);
    writer.close();
    for _ in 0..100 {
        clock.advance(Duration::from_millis(1));
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    peer.join().unwrap();
}
