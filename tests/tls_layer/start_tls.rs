//! loop.start_tls over a live transport: a raw transport whose writing is paused when the
//! protocol is swapped (T33, T15, L49), a swap waiting for a held protocol that leaves the
//! transport as it was (T33), and the plain transport living on under the TLS one (T34).

use super::*;

/// Plaintext written before the upgrade: far above the raw transport's 64 KiB mark even after
/// the kernels took their share (both buffers capped: our 64 KiB send buffer, the peer's
/// 64 KiB receive buffer, each doubled by Linux), as long as the peer reads none of it (a
/// peer draining the socket while we write lets the kernel take it all). Autotuned buffers
/// could take all of 8 MiB on a host whose tcp_wmem/tcp_rmem maxima are 8 or 16 MiB.
const FILLER: usize = 1 << 20;

/// A peer that reads nothing until told (once the test saw the raw transport full), then takes
/// the [`FILLER`] plaintext, runs the server side of TLS and returns the plaintext it got
/// before our close_notify (answered).
fn slow_starttls_peer() -> (
    u16,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Vec<u8>>,
) {
    let (listener, port) = small_window_listener();
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let config = Certs::get().server_config(&[]);
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let _ = wait_go.recv_timeout(BOUND);
        let mut filler = vec![0u8; FILLER];
        io::Read::read_exact(&mut tcp, &mut filler).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            if conn.complete_io(&mut tcp).is_err() {
                return Vec::new();
            }
        }
        // Plaintext until our close_notify, answered with its own.
        let mut got = Vec::new();
        loop {
            let Ok(state) = conn.process_new_packets() else {
                return got;
            };
            let mut buf = [0u8; 4096];
            while let Ok(k) = io::Read::read(&mut conn.reader(), &mut buf) {
                if k == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..k]);
            }
            if state.peer_has_closed() {
                conn.send_close_notify();
            }
            while conn.wants_write() {
                if conn.write_tls(&mut tcp).is_err() {
                    return got;
                }
            }
            if state.peer_has_closed() {
                return got;
            }
            match conn.read_tls(&mut tcp) {
                Ok(0) | Err(_) => return got,
                Ok(_) => {}
            }
        }
    });
    (port, go, peer)
}

/// T33/T15 with the raw transport above its high-water mark when `loop.start_tls` swaps its
/// protocol: the handshake completes, the app protocol (which got `pause_writing` from the
/// raw transport) gets `resume_writing` from the TLS layer, strictly alternating (L49), and
/// nothing is reported (no failed assertion inside the layer's pause/resume_writing). With
/// `hold`, the app protocol is borrowed while it crosses the mark, so its pause is still
/// queued in the seam when start_tls swaps the protocol: it must reach that protocol, not
/// the TLS layer.
fn start_tls_over_paused_writing(hold: bool) {
    let (port, go, peer) = slow_starttls_peer();
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp.handle());
    let (t, proto) = narrow_plain_recorder(&lp, port);
    let app: asyncio::ProtocolRef = proto.clone();
    let upgrade = lp
        .start_tls(&t, app, Certs::get().client_config(&[]), false)
        .server_hostname("localhost");
    // The write and the swap in one turn: a pause queued for a held protocol is still queued.
    // The peer starts reading only once the pause was seen: told before the write, it could
    // drain the socket while the kernel takes our bytes, and leave less than the high mark
    // in the transport's buffer (the assertion failed once on a loaded machine).
    let (t2, p2) = (t.clone(), proto.clone());
    let tls = lp
        .run_until_complete(asyncio::timeout(BOUND, async move {
            let held = hold.then(|| p2.borrow_mut());
            t2.write(&vec![0u8; FILLER])?;
            drop(held);
            assert!(t2.buffer_info().writing_paused, "the raw transport is full");
            go.send(()).unwrap();
            upgrade.await
        }))
        .unwrap()
        .expect("start_tls hung")
        .expect("start_tls");
    turn_until(&lp, "resume_writing", || {
        proto.borrow().calls.iter().any(|c| c == "resume_writing")
    });
    tls.write(b"after the upgrade").unwrap();
    tls.close();
    turn_until(&lp, "connection_lost", || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "pause_writing",
            "resume_writing",
            "eof_received", // T22: the peer's close_notify answered ours
            "connection_lost(None)"
        ]
    );
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    assert_eq!(peer.join().unwrap(), b"after the upgrade");
}

#[test]
fn t33_t15_l49_start_tls_over_a_transport_whose_writing_is_paused() {
    start_tls_over_paused_writing(false);
}

#[test]
fn l49_t33_a_pause_queued_for_a_held_protocol_reaches_it_across_start_tls() {
    start_tls_over_paused_writing(true);
}

/// T33: start_tls pauses the raw transport's reading for the swap and resumes it, as
/// CPython does; while the protocol is held (a user's borrow, something CPython does not
/// have) it waits for the release before touching the transport, so an upgrade dropped then
/// leaves the transport as the caller had it: open, its protocol unswapped, a reading paused
/// before the call still paused. (It used to refuse at once, after undoing its own pause.)
#[test]
fn t33_a_start_tls_dropped_while_its_protocol_is_held_leaves_a_paused_transport_paused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lp = asyncio::EventLoop::new().unwrap();
    let (t, proto) = plain_recorder(&lp, port);
    let (_peer, _) = listener.accept().unwrap();
    t.pause_reading();
    let app: asyncio::ProtocolRef = proto.clone();
    let upgrade = lp.start_tls(&t, app.clone(), Certs::get().client_config(&[]), false);
    let mut upgrade = Box::pin(upgrade.into_future());
    let held = proto.borrow_mut();
    let probe = util::Probe::new();
    assert!(probe.poll(upgrade.as_mut()).is_pending(), "held: it waits");
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    drop(upgrade);
    drop(held);
    for _ in 0..5 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert!(!t.is_reading(), "the caller's pause_reading is undone");
    assert!(!t.is_closing(), "the transport is closed");
    assert!(calls(&t, app), "the protocol is swapped");
    t.close();
}

#[test]
fn t34_after_loop_start_tls_the_old_transport_carries_the_new_one() {
    // Ports what test_start_tls_client_reg_proto_1 checks of the switch: the plain transport
    // lives on under the TLS one (its protocol is now the TLS layer, so what arrives is TLS
    // input), the original protocol gets decrypted data with no second connection_made,
    // and closing the TLS transport ends the plain one too.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = upgrading_server_on(
        &lp,
        |reader: StreamReader, writer: StreamWriter| async move {
            let line = reader.readline().await?;
            writer.write(&line)?;
            assert_eq!(reader.read(-1).await?, b"", "the client's close_notify");
            writer.close();
            writer.wait_closed().await
        },
    );
    let (raw, rec) = plain_recorder(&lp, port);
    let app: asyncio::ProtocolRef = rec.clone();
    let tls = loop_start_tls_after_go(&lp, &raw, &rec);
    assert!(!tls.ptr_eq(&raw));
    assert!(
        calls(&tls, app.clone()),
        "the app protocol is the TLS transport's"
    );
    assert!(
        raw.get_protocol().is_some() && !calls(&raw, app),
        "T34: the plain transport now feeds the TLS layer"
    );
    assert!(!raw.is_closing(), "T34: the plain transport lives on");
    tls.write(b"ping\n").unwrap();
    util::run_until(&lp, 1000, || rec.borrow().data == b"GO\nping\n");
    tls.close();
    util::run_until(&lp, 1000, || rec.borrow().lost);
    assert_eq!(
        rec.borrow().grammar(),
        util::DATA_THEN_A_CLEAN_END,
        "T34: one connection_made, decrypted data to the same protocol"
    );
    util::run_until(&lp, 1000, || raw.get_protocol().is_none());
    assert!(
        raw.is_closing(),
        "T34: closing the TLS transport closed the plain one"
    );
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    server.close();
}
