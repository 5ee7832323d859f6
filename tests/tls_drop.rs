//! TLS connections dropped or ended early (issue #5, Part T): a pending handshake dropped, a
//! closing carrier, start_tls after EOF or a failure, and a stream reader paused around
//! stream start_tls.
//! Certificates are made at test time (`tls_common`).
//! Every wait is bounded by `asyncio::timeout`.
#![cfg(feature = "tls")]

mod tls_common;
mod tls_helpers;
mod util;

use std::cell::RefCell;
use std::future::IntoFuture;
use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::Duration;

use asyncio::tls::rustls;
use asyncio::{Error, StreamReader, StreamWriter};
use tls_common::Certs;
use tls_helpers::{
    bulk_client_before_start_tls, close_both, every_waiter_fails, fails, forwarding_recorder,
    handler_done, open_tls, plain_recorder, plain_server, run, start_tls_server_recording,
    tls_echo_server, tls_err, turn_until, until_paused, BOUND, BULK,
};
use util::{poll_with, Panicky, Recorder};

// ───────────── T12: a pending handshake dropped; T27: a closing carrier ─────────────

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
        handler_done(&seen, 1).await;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// D14, T10: start_tls on a stream whose peer has already closed (its EOF read, the plain
/// transport kept open for the half-close, S63) fails at once with ConnectionReset, as
/// CPython's does (its resumed socket reads the EOF again, and the TLS layer fails the
/// handshake). The handshake can never complete; it must not wait for its timeout.
#[test]
fn d14_t10_start_tls_after_the_peers_eof_fails_at_once() {
    run(async {
        // A STARTTLS server that refuses: one line, then it closes.
        let (server, port, seen) = plain_server(|_r, w, seen| async move {
            w.write(b"454 TLS not available\r\n")?;
            w.close();
            w.wait_closed().await?;
            seen.borrow_mut().push("closed".into());
            Ok(())
        })
        .await?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        assert_eq!(reader.read(-1).await?, b"454 TLS not available\r\n");
        assert!(
            !writer.is_closing(),
            "S63: a plain stream stays open after EOF"
        );
        let e = writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            // Far beyond the bound: only the peer's EOF can end this handshake in time.
            .ssl_handshake_timeout(Duration::from_secs(3600))
            .await
            .expect_err("no handshake with a peer that has closed");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
        let e = fails("wait_closed", writer.wait_closed()).await;
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
        handler_done(&seen, 1).await;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// D14: once `StreamWriter::start_tls` has returned its failure, the stream has failed too:
/// a drain, read or wait_closed made right after it (nothing pending during the upgrade)
/// fails with the same error. The layer tells the stream a turn or two after the handshake
/// failed; a drain in between passed (`Ok`) and a read found the stream still open.
#[test]
fn d14_t8_every_waiter_fails_right_after_a_failed_start_tls() {
    run(async {
        let (server, port, seen) = start_tls_server_recording().await?;
        let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let e = writer
            .start_tls(other)
            .server_hostname("localhost")
            .await
            .expect_err("an unknown issuer is refused");
        assert!(tls_err(&e).is_certificate_error(), "{e:?}");
        // First the drain: it must not pass on a connection the failure has ended.
        let drained = writer.drain().await;
        assert!(
            matches!(&drained, Err(e) if tls_err(e).is_certificate_error()),
            "{drained:?}"
        );
        for e in every_waiter_fails(&reader, &writer).await {
            assert!(tls_err(&e).is_certificate_error(), "{e:?}");
        }
        handler_done(&seen, 1).await;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T22 with S54: after `StreamWriter::start_tls` a reader that stopped at its limit has
/// paused the raw transport; closing the writer then still shuts down cleanly. The peer's
/// close_notify comes after the data the reader left unread, so the layer reads on while it
/// waits for it (as it does when it paused the raw transport itself, T18). It used to wait
/// for the shutdown timeout and end with TimedOut.
#[test]
fn t22_s54_close_after_start_tls_while_the_reader_paused_the_raw_transport() {
    run(async {
        let (server, reader, mut writer) = bulk_client_before_start_tls().await?;
        let raw = writer.transport().clone();
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            // Far beyond the bound: only the peer's close_notify can end this shutdown.
            .ssl_shutdown_timeout(Duration::from_secs(3600))
            .await?;
        until_paused(&reader).await;
        assert!(
            !raw.is_reading(),
            "S54: the reader paused the raw transport"
        );
        writer.close();
        writer.wait_closed().await?;
        assert!(
            writer.transport().close_notify_received(),
            "a clean TLS end"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T14 with S67: `set_write_buffer_limits(0)` over TLS pauses the app only while something
/// is buffered, as on a plain transport ("pause whenever the buffer becomes non-empty"). With
/// sslproto's `>= high` rule alone an empty buffer counted as full at high = low = 0, so the
/// app was paused and resumed on alternate calls, and a drain that met a pause made on an
/// empty buffer waited forever on a quiet peer (CPython's third drain hangs the same way).
#[test]
fn t14_write_buffer_limits_of_zero_over_tls_never_pause_on_an_empty_buffer() {
    run(async {
        let server = asyncio::start_server(
            |r: StreamReader, w: StreamWriter| async move {
                r.read(-1).await?; // reads everything, answers nothing
                w.close();
                w.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .ssl(Certs::get().server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (_reader, writer) = open_tls(port).await?;
        writer.transport().set_write_buffer_limits(Some(0), None)?;
        assert_eq!(writer.transport().get_write_buffer_limits(), (0, 0));
        assert!(
            !writer.buffer_info().writing_paused,
            "nothing buffered: not paused"
        );
        for i in 0..4 {
            writer.write(b"hi")?;
            writer.drain().await?; // hung on the second or third
            assert!(!writer.buffer_info().writing_paused, "write {i}");
        }
        close_both(&writer, server).await
    });
}

/// A server that sends a line and 16 bytes more, then upgrades and sends `BULK` bytes over
/// TLS; a client with limit 4 that read the line, so its reader holds 16 bytes > 2 x 4 and
/// has paused the raw transport (S14), before its own `start_tls`.
async fn a_reader_paused_before_start_tls(
) -> Result<(asyncio::Server, StreamReader, StreamWriter), Error> {
    let server = asyncio::start_server(
        |r: StreamReader, mut w: StreamWriter| async move {
            w.write(b"GO\n0123456789abcdef")?; // 16 bytes beyond the line
            w.start_tls(Certs::get().server_config(&[])).await?;
            w.write(&vec![b'b'; BULK])?;
            w.drain().await?;
            r.read(-1).await?;
            w.close();
            w.wait_closed().await
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port).limit(4).await?;
    assert_eq!(reader.readline().await?, b"GO\n");
    assert_eq!(
        util::reader_field(&reader, "paused"),
        "true",
        "16 bytes > 2 x 4"
    );
    Ok((server, reader, writer))
}

/// Yields, at most 10,000 times, until `probe` has been woken.
async fn yield_until_woken(probe: &util::Probe) {
    for _ in 0..10_000 {
        if probe.woken() > 0 {
            break;
        }
        asyncio::yield_now().await;
    }
}

/// The end of an [`a_reader_paused_before_start_tls`] test: the reader gets the 16 bytes and
/// the server's bulk, then the writer and the server close.
async fn read_the_rest_and_close(
    server: asyncio::Server,
    reader: &StreamReader,
    writer: &StreamWriter,
) -> Result<(), Error> {
    assert_eq!(reader.readexactly(16).await?, b"0123456789abcdef");
    assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
    close_both(writer, server).await
}

#[test]
fn s54_s14_a_reader_paused_before_stream_start_tls_keeps_the_raw_transport_paused() {
    // S54 with S14: the reader's pause acts on the raw transport, before the upgrade and
    // after it. A reader that had paused it (plaintext over its limit, still unread) when
    // start_tls ran must find it paused again once the handshake is done; else the peer's
    // TLS data pours into a reader that believes it has stopped it.
    run(async {
        let (server, reader, mut writer) = a_reader_paused_before_start_tls().await?;
        let raw = writer.transport().clone();
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        assert!(
            !raw.is_reading(),
            "S14, S54: the reader is paused, so is the raw transport ({} bytes buffered)",
            util::reader_buffered(&reader)
        );
        assert_eq!(reader.readexactly(16).await?, b"0123456789abcdef");
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(raw.is_reading(), "S15: resumed");
        close_both(&writer, server).await
    });
}

#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s54_s14_a_paused_reader_whose_protocol_is_held_as_the_handshake_ends_pauses_once_free() {
    // S54 with S14, the re-pause's borrow: the stream's protocol, taken with get_protocol()
    // before the upgrade, held across turns as the handshake ends (no call of ours holds
    // it then). The re-pause waits for the borrow to end instead of being skipped, which
    // left the raw transport reading for a reader that believed it had stopped it.
    run(async {
        let (server, reader, mut writer) = a_reader_paused_before_start_tls().await?;
        let raw = writer.transport().clone();
        let proto = raw.get_protocol().expect("the stream's protocol");
        let probe = util::Probe::new();
        let tls = {
            let mut upgrade = std::pin::pin!(writer
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .into_future());
            assert!(probe.poll(upgrade.as_mut()).is_pending());
            let swapped = raw.get_protocol().expect("a protocol");
            assert!(!Rc::ptr_eq(&swapped, &proto), "the handshake did not start");
            let held = proto.borrow_mut();
            yield_until_woken(&probe).await;
            assert!(probe.woken() > 0, "the handshake never ended");
            drop(held); // the handshake's hook ran (before the wake-up) and found it held
            for _ in 0..3 {
                asyncio::yield_now().await;
            }
            assert!(
                !raw.is_reading(),
                "S14, S54: the reader is paused, the raw transport reads on ({} bytes held)",
                util::reader_buffered(&reader)
            );
            upgrade.await?
        };
        assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"), "upgraded");
        read_the_rest_and_close(server, &reader, &writer).await
    });
}

#[test]
#[allow(clippy::await_holding_refcell_ref)] // holding the stream's protocol: the misuse tested
fn s53_stream_start_tls_resumed_while_the_streams_protocol_is_held_does_not_panic() {
    // S53: the stream's protocol, taken with get_protocol() before the upgrade, is still
    // held when the start_tls future resumes after the handshake. Telling the protocol about
    // the new transport took the borrow and panicked (`already borrowed`); it now waits for
    // the borrow to end, the writer writing through the TLS transport at once.
    run(async {
        let (server, reader, mut writer) = a_reader_paused_before_start_tls().await?;
        let raw = writer.transport().clone();
        let proto = raw.get_protocol().expect("the stream's protocol");
        let probe = util::Probe::new();
        let tls = {
            let mut upgrade = std::pin::pin!(writer
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .into_future());
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
            let mut upgrade = std::pin::pin!(writer
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .into_future());
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
        let server = asyncio::start_server(
            |r: StreamReader, mut w: StreamWriter| async move {
                w.write(b"GO\n")?;
                w.start_tls(Certs::get().server_config(&[])).await?;
                // The EOF comes after the client's release: an EOF the TLS layer holds for the
                // held protocol may reach it before the upgrade's retry does.
                assert_eq!(r.readline().await?, b"go on\n");
                w.write(b"over tls")?;
                w.close();
                w.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        assert_eq!(reader.readline().await?, b"GO\n");
        let proto = writer
            .transport()
            .get_protocol()
            .expect("the stream's protocol");
        let probe = util::Probe::new();
        {
            let mut upgrade = std::pin::pin!(writer
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .into_future());
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

#[test]
fn s54_s14_a_paused_reader_stops_the_raw_transport_as_the_stream_start_tls_handshake_ends() {
    // S54 with S14: the reader had paused the raw transport before start_tls (as a server),
    // and the peer sends its Finished and 1 MiB of data in one go. What came in the read
    // that ended the handshake is delivered; the raw transport then stops. It used to stay
    // reading until the start_tls task ran, which took in the whole MiB (up to 16 reads of
    // 256 KiB in the same read event) into a reader that believed it had stopped it. The
    // peer runs in memory on this thread: what the socket holds of its flight (more than one
    // read's worth) is in it before the loop looks; a thread sends the rest once the
    // assertions are made. The buffer asked for is what a stock kernel grants
    // (net.core.wmem_max, 212 992 bytes, which the kernel doubles): where a larger one was
    // capped, a blocking write of the whole MiB on the loop's own thread never ended.
    run(async {
        use std::io::Write;
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair()?;
        socket2::SockRef::from(&theirs).set_send_buffer_size(212_992)?;
        let (reader, mut writer) = asyncio::open_connection_sock(ours).limit(4).await?;
        theirs.write_all(b"0123456789abcdef")?;
        for _ in 0..1000 {
            if util::reader_field(&reader, "paused") == "true" {
                break;
            }
            asyncio::yield_now().await;
        }
        assert_eq!(util::reader_field(&reader, "paused"), "true", "16 > 2 x 4");
        let mut client = rustls::ClientConnection::new(
            Certs::get().client_config(&[]),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        client.set_buffer_limit(None);
        while client.wants_write() {
            client.write_tls(&mut theirs)?;
        }
        let raw = writer.transport().clone();
        let upgrade = asyncio::spawn(async move {
            writer.start_tls(Certs::get().server_config(&[])).await?;
            Ok::<_, Error>(writer)
        });
        theirs.set_nonblocking(true)?;
        for _ in 0..10_000 {
            if !client.is_handshaking() {
                break;
            }
            asyncio::yield_now().await;
            match client.read_tls(&mut theirs) {
                Ok(_) => drop(client.process_new_packets().unwrap()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.into()),
            }
        }
        assert!(!client.is_handshaking(), "the server's flight came");
        let bulk = 1 << 20;
        client.writer().write_all(&vec![b'b'; bulk])?;
        let mut flight = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut flight)?;
        }
        // Its Finished, then as much of the data as the socket takes.
        let mut sent = 0;
        while sent < flight.len() {
            match theirs.write(&flight[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        let one_read = asyncio::constants::MAX_READ_SIZE;
        assert!(
            sent >= one_read + (64 << 10),
            "the socket holds more than one read's worth: {sent} bytes"
        );
        let rest = flight.split_off(sent);
        theirs.set_nonblocking(false)?;
        let writer = upgrade.await.expect("task")?;
        let held = util::reader_buffered(&reader);
        assert!(
            held <= 16 + one_read,
            "S14, S54: one read's worth at most, not the {sent} bytes sent: {held} bytes"
        );
        assert!(!raw.is_reading(), "S14, S54: still paused");
        // The rest of the flight goes in as the reader makes room.
        let feeder = std::thread::spawn(move || theirs.write_all(&rest).map(|()| theirs));
        assert_eq!(reader.readexactly(16).await?, b"0123456789abcdef");
        assert_eq!(reader.readexactly(bulk).await?.len(), bulk);
        let theirs = feeder.join().expect("the feeder thread")?;
        writer.close();
        drop(theirs);
        let _ = writer.wait_closed().await;
        Ok(())
    });
}

#[test]
fn d14_start_tls_after_write_eof_fails_at_once_instead_of_at_the_handshake_timeout() {
    // The layer cannot send its ClientHello through a transport whose write side is shut
    // (the socket transport refuses the write): that is the handshake's failure, typed and at
    // once, not a silent wait for the peer until the handshake timeout (D14, T8). A read
    // already waiting fails with it too, and the misuse is reported once (T29), not at every
    // refused write.
    run(async {
        let reports = util::capture_exceptions(&asyncio::get_running_loop()?);
        // A server that takes the client's EOF and keeps its side open until the test is
        // done (a half-close is no reason to close): nothing from it ends the handshake.
        let done = Rc::new(asyncio::Event::new());
        let d = done.clone();
        let server = asyncio::start_server(
            move |r: StreamReader, w: StreamWriter| {
                let done = d.clone();
                async move {
                    assert_eq!(r.read(-1).await?, b"");
                    done.wait().await;
                    w.close();
                    Ok::<_, Error>(())
                }
            },
            "127.0.0.1",
            0,
        )
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let reader = Rc::new(reader);
        let r = reader.clone();
        let pending = asyncio::spawn(async move { r.read(10).await });
        asyncio::yield_now().await; // the read is waiting
        writer.write_eof()?;
        let upgrade = writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::from_secs(3600));
        let e = fails("start_tls after write_eof", upgrade.into_future()).await;
        assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
        assert!(e.to_string().contains("write_eof"), "{e}");
        let waiting = fails("the read waiting", async { pending.await.expect("task") }).await;
        assert!(matches!(waiting, Error::InvalidState(_)), "{waiting:?}");
        for later in every_waiter_fails(&reader, &writer).await {
            assert!(matches!(later, Error::InvalidState(_)), "{later:?}");
        }
        let reports = reports.borrow().clone();
        assert_eq!(reports.len(), 1, "T29: reported once: {reports:?}");
        assert!(reports[0].contains("write_eof"), "{reports:?}");
        done.set();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn d14_t29_a_raw_transport_refusing_a_large_write_after_the_handshake_is_reported_once() {
    // After the upgrade someone shuts the raw transport's write side (its write_eof()): the
    // next large write is encrypted and handed down in many pieces, all refused. The first
    // refusal is the connection's fatal error, reported once (T29); the rest add nothing.
    run(async {
        let reports = util::capture_exceptions(&asyncio::get_running_loop()?);
        let done = Rc::new(asyncio::Event::new());
        let d = done.clone();
        let server = asyncio::start_server(
            move |_r: StreamReader, mut w: StreamWriter| {
                let done = d.clone();
                async move {
                    w.start_tls(Certs::get().server_config(&[])).await?;
                    done.wait().await;
                    w.close();
                    Ok::<_, Error>(())
                }
            },
            "127.0.0.1",
            0,
        )
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let raw = writer.transport().clone();
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        raw.write_eof()?;
        writer.write(&vec![b'x'; 1 << 20])?; // taken: the refusal is the layer's to report
        for later in every_waiter_fails(&reader, &writer).await {
            assert!(matches!(later, Error::InvalidState(_)), "{later:?}");
        }
        let reports = reports.borrow().clone();
        assert_eq!(reports.len(), 1, "T29: reported once: {reports:?}");
        done.set();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn s54_s14_a_reader_resumed_during_stream_start_tls_is_not_paused_again_and_reads_on() {
    // S54 with S14/S15: the reader had paused the raw transport, and another task reads the
    // plaintext it held while the handshake runs (resuming it, S15), then waits in read_into
    // on the emptied reader. The upgrade must not pause the transport again (the reader is
    // no longer paused), and the read, which cannot read the socket straight through (its
    // bytes are the TLS layer's now), gets the decrypted data.
    run(async {
        let (server, reader, mut writer) = a_reader_paused_before_start_tls().await?;
        let reader = Rc::new(reader);
        let raw = writer.transport().clone();
        let (r, upgraded) = (reader.clone(), Rc::new(std::cell::Cell::new(false)));
        let up = upgraded.clone();
        let other = asyncio::spawn(async move {
            // First polled once start_tls is waiting for its handshake.
            let held = r.readexactly(16).await?;
            assert!(!up.get(), "read while the handshake runs");
            let mut buf = vec![0u8; 1024];
            let first = r.read_into(&mut buf).await?;
            Ok::<_, Error>((held, buf[..first].to_vec()))
        });
        writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        upgraded.set(true);
        let (held, first) = other.await.expect("task")?;
        assert_eq!(held, b"0123456789abcdef");
        assert!(
            !first.is_empty() && first.iter().all(|&b| b == b'b'),
            "{first:?}"
        );
        assert_eq!(
            reader.readexactly(BULK - first.len()).await?.len(),
            BULK - first.len()
        );
        assert!(raw.is_reading(), "S15: reading");
        close_both(&writer, server).await
    });
}

/// Lets the loop turn until `seen` holds a report (bounded).
async fn until_reported(seen: &RefCell<Vec<String>>) {
    for _ in 0..10_000 {
        if !seen.borrow().is_empty() {
            return;
        }
        asyncio::yield_now().await;
    }
}

// Checklist: L18. Another executor's waker on a read over TLS (the layer delivers the
// plaintext, the stream protocol wakes the read) and on start_tls' handshake (the layer wakes
// it as the handshake ends): its panic is the waker owner's failure, reported as a
// callback's, and the connection lives on. Inside the layer's calls it used to be the
// protocol's failure ("Fatal error on SSL protocol" for the read, the raw transport's
// "data_received() call failed" for the handshake), which ended the connection.
#[test]
fn l18_a_foreign_waker_that_panics_as_a_tls_read_or_handshake_ends_is_reported_and_the_connection_lives(
) {
    run(async {
        let lp = asyncio::get_running_loop()?;
        let seen = util::capture_exceptions(&lp);
        let (server, port) = tls_echo_server(&[]).await?;
        let waker = std::task::Waker::from(std::sync::Arc::new(Panicky));
        let (reader, writer) = open_tls(port).await?;
        let echoed = {
            let mut read = std::pin::pin!(reader.read(8));
            assert!(poll_with(read.as_mut(), &waker).is_pending()); // parked with it
            writer.write(b"x")?;
            until_reported(&seen).await;
            read.await?
        };
        assert_eq!(echoed, b"x");
        writer.write(b"y")?;
        assert_eq!(reader.read(8).await?, b"y", "still connected");
        assert_eq!(
            std::mem::take(&mut *seen.borrow_mut()),
            ["Exception in callback stream reader wake-up | panicked: foreign waker failed"]
        );
        writer.close();
        writer.wait_closed().await?;
        // The handshake's waiter: a plain connection, upgraded by start_tls polled by hand.
        let (plain, protocol) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .await?;
        let tls = {
            let mut upgrade = std::pin::pin!(lp
                .start_tls(&plain, protocol, Certs::get().client_config(&[]), false)
                .server_hostname("localhost")
                .into_future());
            assert!(poll_with(upgrade.as_mut(), &waker).is_pending());
            until_reported(&seen).await;
            upgrade.await?
        };
        assert_eq!(tls.tls_version().as_deref(), Some("TLSv1.3"), "upgraded");
        assert_eq!(
            *seen.borrow(),
            ["Exception in callback TLS handshake wake-up | panicked: foreign waker failed"]
        );
        tls.close();
        server.close();
        server.wait_closed().await;
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

/// S60 over TLS: a handler that fails because its client reset the connection is reported
/// with the client's peername, as on a plain socket (the report the plain server gives since
/// the client's address was added to it). The TLS transport asked its raw transport, which
/// the layer lets go of with the loss, so after a reset the report had no peername (checked
/// by reverting: only the 'transport' key).
// Checklist: S60.
#[test]
fn s60_a_tls_handler_failing_after_a_reset_is_reported_with_the_clients_peername() {
    let lp = asyncio::EventLoop::new().unwrap();
    let details: Rc<RefCell<Vec<(&'static str, String)>>> = Rc::default();
    let d = details.clone();
    lp.handle().set_exception_handler(Some(
        move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
            d.borrow_mut().extend(ctx.details.iter().cloned());
        },
    ));
    let handler = |r: StreamReader, w: StreamWriter| async move {
        let _writer = w; // held: the connection stays open until the failure closes it
        r.readexactly(100).await?; // the client sends less, then resets
        Ok::<_, Error>(())
    };
    let client = lp
        .run_until_complete(asyncio::timeout(Duration::from_secs(20), async {
            let server = asyncio::start_server(handler, "127.0.0.1", 0)
                .ssl(Certs::get().server_config(&[]))
                .await?;
            let port = util::port_of(&server);
            let client = asyncio::to_thread(move || {
                let (mut tcp, mut conn) = tls_common::blocking_tls_client(port);
                io::Write::write_all(&mut tcp, &tls_common::seal(&mut conn, b"short")).unwrap();
                let me = tcp.local_addr().unwrap().to_string();
                socket2::SockRef::from(&tcp)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
                drop(tcp); // linger 0: RST
                me
            })
            .await?;
            for _ in 0..100_000 {
                if !details.borrow().is_empty() {
                    break;
                }
                asyncio::yield_now().await;
            }
            server.close();
            server.wait_closed().await;
            Ok::<_, Error>(client)
        }))
        .unwrap()
        .unwrap()
        .unwrap();
    let details = details.borrow();
    assert!(
        details.contains(&("peername", client.clone())),
        "{client}: {details:?}"
    );
    assert!(
        details.iter().any(|(k, _)| *k == "transport"),
        "{details:?}"
    );
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
        let mut upgrade = std::pin::pin!(writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .into_future());
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
