//! Handshake and shutdown timeouts (T9, T25, T36), and how a connection ends (D9, T20, T21):
//! close_notify, EOF without it, truncation when close_notify is required.

use super::*;

#[test]
fn t9_handshake_timeout_fires_on_a_silent_peer() {
    // A plain TCP listener that accepts and never answers.
    let (port, holder) = raw_peer(move |mut s| {
        tls_common::drain(&mut s);
    });
    run(async {
        let lp = asyncio::get_running_loop()?;
        let start = Instant::now();
        let rec = Recorder::default();
        let r = lp
            .create_connection(move || rec, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::from_millis(200))
            .await;
        let e = r.err().expect("the handshake cannot complete");
        assert!(start.elapsed() >= Duration::from_millis(200), "never early");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "T9: {e}");
        assert_eq!(
            e.to_string(),
            "SSL handshake is taking longer than 0.2 seconds: aborting the connection"
        );
        Ok(())
    });
    holder.join().unwrap();
}

/// T9, T29; CPython: BaseStartTLS.test_create_connection_ssl_slow_handshake,
/// TestSSL.test_create_connection_ssl_slow_handshake. open_connection with an empty
/// server_hostname to a peer that reads and never answers: ConnectionAborted with the
/// "taking longer" text, and nothing reaches the exception handler.
#[test]
fn t9_test_create_connection_ssl_slow_handshake() {
    let (port, holder) = raw_peer(move |mut s| {
        tls_common::drain(&mut s);
    });
    run(async {
        let lp = asyncio::get_running_loop()?;
        let seen = util::capture_exceptions(&lp);
        let Err(e) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("")
            .ssl_handshake_timeout(Duration::from_millis(100))
            .await
        else {
            panic!("the handshake cannot complete")
        };
        assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "T9: {e}");
        assert!(
            e.to_string().starts_with("SSL handshake is taking longer"),
            "{e}"
        );
        assert!(seen.borrow().is_empty(), "T29: {:?}", seen.borrow());
        Ok(())
    });
    holder.join().unwrap();
}

#[test]
fn t36_t9_server_handshake_timeout_closes_a_silent_client() {
    run(async {
        let called = Rc::new(RefCell::new(false));
        let c = called.clone();
        let server = asyncio::start_server(
            move |_r: StreamReader, w: StreamWriter| {
                *c.borrow_mut() = true;
                w.close();
            },
            "127.0.0.1",
            0,
        )
        .ssl(Certs::get().server_config(&[]))
        .ssl_handshake_timeout(Duration::from_millis(100))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        // A plain client that says nothing: the server gives up and closes.
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
        let r = reader.read(-1).await;
        assert!(
            matches!(&r, Ok(b) if b.is_empty()) || r.is_err(),
            "the server closed: {r:?}"
        );
        writer.close();
        assert!(!*called.borrow(), "T36: the callback never ran");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn t25_shutdown_timeout_fires_on_a_peer_that_ignores_close_notify() {
    let (port, peer) = blocking_tls_peer(PeerScript::IgnoreCloseNotify);
    run(async {
        let (_reader, writer) = open_tls(port)
            .ssl_shutdown_timeout(Duration::from_millis(200))
            .await?;
        let start = Instant::now();
        writer.close();
        let e = writer
            .wait_closed()
            .await
            .expect_err("shutdown cannot finish");
        assert!(start.elapsed() >= Duration::from_millis(200), "never early");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "T25: {e}");
        assert!(e.to_string().contains("SSL shutdown timed out"), "{e}");
        Ok(())
    });
    peer.join().unwrap();
}

#[test]
fn d9_t21_eof_without_close_notify_is_a_clean_eof_by_default() {
    let (port, peer) = blocking_tls_peer(PeerScript::TruncateAfterHello);
    run(async {
        let (reader, writer) = open_tls(port).await?;
        assert_eq!(
            reader.read(-1).await?,
            b"hello",
            "D9: data, then a clean EOF"
        );
        assert!(
            !writer.transport().close_notify_received(),
            "D9: the truncation stays visible"
        );
        writer.wait_closed().await?;
        Ok(())
    });
    peer.join().unwrap();
}

#[test]
fn d9_truncation_is_an_error_when_required() {
    let (port, peer) = blocking_tls_peer(PeerScript::TruncateAfterHello);
    run(async {
        let (reader, writer) = open_tls(port).ssl_require_close_notify(true).await?;
        let e = reader.read(-1).await.expect_err("D9: truncation reported");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        assert!(e.to_string().contains("close_notify"), "{e}");
        assert!(writer.wait_closed().await.is_err());
        Ok(())
    });
    peer.join().unwrap();
}

/// D9 with the stream cut inside a record: the peer sends a whole record (`hello`), then
/// half of the next, then its FIN. CPython's asyncio reads that as a clean EOF (its layer
/// never gives its MemoryBIO the EOF: the half record just stays unread), and so do we by
/// default: `hello`, then b"". Asked to require close_notify, the read fails in the words
/// Python's `ssl` uses for it with ragged EOFs not suppressed (`EOF occurred in violation
/// of protocol`, UNEXPECTED_EOF_WHILE_READING; probed:
/// scratch/s25/probes/tlswords/words_probe.py, "a record cut short, then EOF").
#[test]
fn d9_an_eof_inside_a_record_is_a_clean_eof_or_the_truncation_when_required() {
    for required in [false, true] {
        let (port, peer) = tls_common::tls_peer(|mut tcp, mut conn| {
            use std::io::Write;
            let mut record = |data: &[u8]| {
                conn.writer().write_all(data).unwrap();
                let mut wire = Vec::new();
                conn.write_tls(&mut wire).unwrap();
                wire
            };
            let hello = record(b"hello");
            let next = record(b"the rest of it");
            tcp.write_all(&hello).unwrap();
            tcp.write_all(&next[..next.len() / 2]).unwrap();
            tcp.shutdown(std::net::Shutdown::Write).unwrap();
            tls_common::drain(&mut tcp);
        });
        run(async move {
            let (reader, writer) = open_tls(port).ssl_require_close_notify(required).await?;
            assert_eq!(reader.readexactly(5).await?, b"hello");
            let end = reader.read(-1).await;
            if required {
                let e = end.expect_err("the truncation, as required");
                assert!(tls_err(&e).is_truncation(), "{e:?}");
                assert!(
                    e.to_string()
                        .starts_with("EOF occurred in violation of protocol: "),
                    "{e}"
                );
            } else {
                assert_eq!(end?, b"", "D9: a clean EOF");
                assert!(!writer.transport().close_notify_received());
            }
            writer.close();
            let _ = writer.wait_closed().await;
            Ok(())
        });
        peer.join().unwrap();
    }
}

#[test]
fn t20_close_notify_then_eof_is_clean_even_when_required() {
    let (port, peer) = blocking_tls_peer(PeerScript::CleanAfterHello);
    run(async {
        let (reader, writer) = open_tls(port).ssl_require_close_notify(true).await?;
        assert_eq!(reader.read(-1).await?, b"hello");
        assert!(writer.transport().close_notify_received());
        writer.wait_closed().await?;
        Ok(())
    });
    peer.join().unwrap();
}

/// T25, D14: the shutdown timeout reaches every waiter of the stream, not only wait_closed: a
/// read pending as it fires, and a later read, fail with TimedOut ('SSL shutdown timed out');
/// CPython's StreamReaderProtocol.connection_lost(TimeoutError) sets it on the reader.
#[test]
fn t25_the_shutdown_timeout_fails_a_pending_read_too() {
    let (port, peer) = blocking_tls_peer(PeerScript::IgnoreCloseNotify);
    run(async {
        let (reader, writer) = open_tls(port)
            .ssl_shutdown_timeout(Duration::from_millis(100))
            .await?;
        let reader = Rc::new(reader);
        let pending = {
            let reader = reader.clone();
            asyncio::spawn(async move { reader.read(-1).await })
        };
        asyncio::yield_now().await; // the read waits
        writer.close();
        let e = pending
            .await?
            .expect_err("T25: the read cannot end cleanly");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "T25: {e}");
        assert!(e.to_string().contains("SSL shutdown timed out"), "{e}");
        let again = reader.read(1).await.expect_err("T25: and stays failed");
        assert_eq!(again.kind(), io::ErrorKind::TimedOut, "{again}");
        let closed = writer.wait_closed().await.expect_err("T25");
        assert_eq!(closed.kind(), io::ErrorKind::TimedOut, "{closed}");
        Ok(())
    });
    peer.join().unwrap();
}

/// T12, T9; CPython: test_ssl.py TestSSL.test_ssl_handshake_timeout (bpo-29970, bpo-23197).
/// A TLS create_connection under an outer timeout shorter than its handshake timeout, to a
/// peer that reads and never answers: the outer timeout wins (`Error::Timeout`), the peer sees
/// the connection end (EOF), and nothing reaches the exception handler.
#[test]
fn t12_test_ssl_handshake_timeout_an_outer_timeout_ends_the_handshake_quietly() {
    let (port, peer) = raw_peer(|mut s| {
        tls_common::drain(&mut s); // until our side goes: EOF, not the peer's 20 s bound
        true
    });
    run(async {
        let lp = asyncio::get_running_loop()?;
        let reports = util::capture_exceptions(&lp);
        let connect = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("")
            .ssl_handshake_timeout(Duration::from_secs(10));
        let r = asyncio::timeout(
            Duration::from_millis(100),
            std::future::IntoFuture::into_future(connect),
        )
        .await;
        assert!(
            matches!(r, Err(Error::Timeout)),
            "the outer timeout: {:?}",
            r.map(|c| c.map(drop))
        );
        let t0 = Instant::now();
        while !peer.is_finished() {
            assert!(t0.elapsed() < BOUND, "the peer never saw the end");
            asyncio::sleep(Duration::from_millis(2)).await;
        }
        assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
        Ok(())
    });
    assert!(peer.join().unwrap());
}
