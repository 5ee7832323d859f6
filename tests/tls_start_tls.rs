//! loop.start_tls and TLS in TLS (issue #5, Part T): a busy or misbehaving app protocol, typed
//! failures for every waiter after the handshake, create_server/create_connection ports over
//! ssl, and start_tls that fails on either side (issue 17).
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
use std::time::{Duration, Instant};

use asyncio::tls::rustls;
use asyncio::{Error, StreamReader, StreamWriter, Transport};
use tls_common::{tls_peer, Certs};
use tls_helpers::{
    cert_error, echo, every_waiter_fails, fails, handler_done, loop_and_tls_echo_server, open_tls,
    plain_server, recorder_over_tls, run, stale_test_ca, start_tls_server_recording,
    tls_echo_server, tls_err, BOUND,
};
use util::{Forward, Recorder};

/// T32, T33, T34; CPython: BaseStartTLS.test_start_tls_server_1, TestSSL.test_start_tls_server_1.
/// A server protocol writes 100 KiB of plain text, then upgrades with loop.start_tls (server
/// side) in the same step; the client reads the plain text, starts TLS, sends 100 KiB and its
/// close_notify and waits for ours. The protocol gets every byte once, no second
/// connection_made, eof_received then connection_lost(None); a close() after that is harmless.
#[test]
fn t33_t34_test_start_tls_server_1() {
    const SIZE: usize = 100 * 1024;
    let lp = asyncio::EventLoop::new().unwrap();
    let rec = Rc::new(RefCell::new(Recorder::default()));
    let r = rec.clone();
    let server = lp
        .run_until_complete(lp.create_server(move || Forward(r.clone()), "127.0.0.1", 0))
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let client = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let mut plain = vec![0u8; SIZE];
        tcp.read_exact(&mut plain).unwrap();
        assert!(plain.iter().all(|&b| b == b'1'), "the plain hello");
        let mut conn = rustls::ClientConnection::new(
            Certs::get().client_config(&[]),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        for chunk in [b'1'; SIZE].chunks(16 * 1024) {
            conn.writer().write_all(chunk).unwrap();
            while conn.wants_write() {
                conn.write_tls(&mut tcp).unwrap();
            }
        }
        conn.send_close_notify();
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        // unwrap(): wait for the server's close_notify.
        while !conn.process_new_packets().unwrap().peer_has_closed() {
            assert!(
                conn.read_tls(&mut tcp).unwrap() > 0,
                "EOF before close_notify"
            );
        }
    });
    util::run_until(&lp, 1000, || rec.borrow().transport.is_some());
    let tr = rec.borrow().transport.clone().unwrap();
    // The write and the upgrade in one step, as CPython's main(): the client answers the
    // plain text with its ClientHello, which must find the TLS layer in place.
    let upgrade = async {
        tr.write(&[b'1'; SIZE])?;
        assert!(rec.borrow().data.is_empty());
        let app = tr.get_protocol().expect("the server protocol");
        lp.start_tls(&tr, app, Certs::get().server_config(&[]), true)
            .await
    };
    let new_tr = lp
        .run_until_complete(asyncio::timeout(BOUND, upgrade))
        .unwrap()
        .unwrap()
        .unwrap();
    util::run_until(&lp, 1000, || rec.borrow().lost);
    assert_eq!(rec.borrow().data.len(), SIZE);
    assert!(rec.borrow().data.iter().all(|&b| b == b'1'));
    assert_eq!(
        rec.borrow().grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ],
        "T34: one connection_made, decrypted data to the same protocol"
    );
    new_tr.close();
    client.join().unwrap();
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}

/// A TLS connection to a TLS server whose handler says GO and starts a second TLS session
/// inside it; the client's protocol (a [`Recorder`]) carries on as the inner session's app
/// protocol, as after a STARTTLS: (server, outer TLS transport, inner TLS transport, recorder).
async fn ssl_over_ssl(
) -> Result<(asyncio::Server, Transport, Transport, Rc<RefCell<Recorder>>), Error> {
    let certs = Certs::get();
    let server = asyncio::start_server(
        |reader: StreamReader, mut writer: StreamWriter| async move {
            writer.write(b"GO\n")?;
            if writer
                .start_tls(Certs::get().server_config(&[]))
                .await
                .is_ok()
            {
                let _ = reader.read(-1).await;
            }
            writer.close();
            let _ = writer.wait_closed().await;
            Ok::<(), Error>(())
        },
        "127.0.0.1",
        0,
    )
    .ssl(certs.server_config(&[]))
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    let lp = asyncio::get_running_loop()?;
    let (outer, rec) = lp
        .create_connection(Recorder::default, "127.0.0.1", port)
        .ssl(certs.client_config(&[]))
        .server_hostname("localhost")
        .await?;
    // The peer's go-ahead first, as any STARTTLS: a ClientHello sent before the server's
    // start_tls would stay in its reader as plain text (S41).
    for _ in 0..1_000 {
        if rec.borrow().data == b"GO\n" {
            break;
        }
        asyncio::yield_now().await;
    }
    assert_eq!(
        rec.borrow().data,
        b"GO\n",
        "the go-ahead within 1 000 turns"
    );
    let inner = lp
        .start_tls(&outer, rec.clone(), certs.client_config(&[]), false)
        .server_hostname("localhost")
        .await?;
    Ok((server, outer, inner, rec))
}

/// T26, T32 (gh-113214, later 3.12 and 3.13); CPython:
/// SslProtoHandshakeTests.test_close_during_ssl_over_ssl. TLS in TLS: closing the outer TLS
/// transport (whose protocol is the inner TLS layer), or aborting the inner one (which
/// force-closes the outer one carrying no error), reports nothing; the app protocol gets
/// connection_lost once.
#[test]
fn t26_t32_test_close_during_ssl_over_ssl() {
    for abort_inner in [false, true] {
        let lp = asyncio::EventLoop::new().unwrap();
        let seen = util::capture_exceptions(&lp);
        let (server, outer, inner, rec) = lp
            .run_until_complete(asyncio::timeout(BOUND, ssl_over_ssl()))
            .unwrap()
            .unwrap()
            .unwrap();
        if abort_inner {
            inner.abort();
            assert!(inner.is_closing(), "T27: after abort()");
        } else {
            outer.close();
            assert!(inner.is_closing(), "T27: the outer transport is closing");
        }
        util::run_until(&lp, 1000, || rec.borrow().lost);
        if abort_inner {
            assert_eq!(
                rec.borrow().grammar(),
                ["connection_made", "data", "connection_lost(None)"],
                "T26: GO, then the loss, no eof_received"
            );
        }
        assert_eq!(
            rec.borrow().calls.last().map(String::as_str),
            Some("connection_lost(None)")
        );
        assert!(outer.is_closing());
        util::run_until(&lp, 1000, || server.connection_count() == 0);
        assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
        server.close();
        lp.run_until_complete(server.wait_closed()).unwrap();
    }
}

/// Issue #12, the seam on the TLS side: the app protocol is held by a task across turns
/// while its data, EOF and connection_lost arrive; each comes afterwards, once, in order
/// (L44, T22), and no decrypted byte is lost.
#[test]
fn l44_t22_a_busy_app_protocol_gets_every_callback_later_in_order() {
    let (lp, server, port) = loop_and_tls_echo_server();
    let (t, proto) = recorder_over_tls(&lp, port);
    let p = proto.clone();
    // Holding the borrow across awaits is the point: a user may do it.
    #[allow(clippy::await_holding_refcell_ref)]
    lp.spawn(async move {
        let guard = p.borrow_mut();
        // Long enough for the echo, the server's close and our EOF to arrive meanwhile.
        asyncio::sleep(Duration::from_millis(100)).await;
        drop(guard);
    })
    .unwrap()
    .detach();
    lp.run_once(Some(Duration::ZERO)).unwrap();
    // The echo comes back and the connection closes while the app is held.
    t.write(b"ping").unwrap();
    t.close();
    // Bounded in time: while the app is held, the layer retries every turn (no blocking).
    let start = Instant::now();
    while !proto.try_borrow().is_ok_and(|p| p.lost) {
        assert!(start.elapsed() < BOUND, "connection_lost never came");
        lp.run_once(Some(Duration::from_millis(10))).unwrap();
    }
    let p = proto.borrow();
    assert_eq!(
        p.data, b"ping",
        "no decrypted byte lost while the app was busy"
    );
    assert_eq!(
        p.grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ]
    );
    drop(p);
    server.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
}

/// Issue #12, the TLS side of the seam: from inside connection_made or data_received, an app
/// protocol writes, closes, aborts or pauses reading; the grammar holds (the Recorder asserts
/// it) and connection_lost comes once, last.
#[test]
fn l44_l83_every_action_from_every_callback_keeps_the_grammar_over_tls() {
    type Act = fn(&Transport);
    let actions: [(&str, Act); 4] = [
        ("write", |t| t.write(b"more").unwrap()),
        ("close", |t| t.close()),
        ("abort", |t| t.abort()),
        ("pause_reading", |t| t.pause_reading()),
    ];
    let (lp, server, port) = loop_and_tls_echo_server();
    for (name, act) in actions {
        for callback in ["connection_made", "data_received"] {
            let mut rec = Recorder::default();
            if callback == "connection_made" {
                rec.on_made = Some(Box::new(move |t: &Transport| {
                    t.write(b"ping").unwrap();
                    act(t)
                }));
            } else {
                rec.on_made = Some(Box::new(|t: &Transport| t.write(b"ping").unwrap()));
                rec.on_data = Some(Box::new(move |t: &Transport, _: &[u8]| act(t)));
            }
            let connect = lp
                .create_connection(move || rec, "127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost");
            let (t, proto) = lp
                .run_until_complete(asyncio::timeout(BOUND, connect.into_future()))
                .unwrap()
                .unwrap()
                .unwrap();
            for _ in 0..20 {
                lp.run_once(Some(Duration::from_millis(2))).unwrap();
                if proto.borrow().lost {
                    break;
                }
            }
            t.close(); // in case the action left it open
            util::run_until(&lp, 200, || proto.borrow().lost);
            let calls = proto.borrow().calls.clone();
            util::assert_made_first_lost_once_last(&calls, &format!("{name} in {callback}"));
        }
    }
    server.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
}

/// Server config that asks for a client certificate signed by `roots`.
fn server_config_trusting_clients_of(
    roots: &std::path::Path,
) -> std::sync::Arc<rustls::ServerConfig> {
    let certs = Certs::get();
    let mut store = rustls::RootCertStore::empty();
    store.add_parsable_certificates(asyncio::tls::load_certs(roots).unwrap());
    let verifier = rustls::server::WebPkiClientVerifier::builder(std::sync::Arc::new(store))
        .build()
        .unwrap();
    std::sync::Arc::new(
        rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                asyncio::tls::load_certs(&certs.cert).unwrap(),
                asyncio::tls::load_private_key(&certs.key).unwrap(),
            )
            .unwrap(),
    )
}

#[test]
fn t8_t36_certificate_required_after_the_handshake_is_tls_for_every_waiter() {
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl(certs.server_config_client_auth())
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        // TLS 1.3: the client's handshake is done before the server has read its (empty)
        // certificate, so the alert reaches the streams.
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .await?;
        let errors = every_waiter_fails(&reader, &writer).await;
        for e in &errors {
            let t = tls_err(e);
            assert!(
                matches!(
                    t.rustls_error(),
                    Some(rustls::Error::AlertReceived(
                        rustls::AlertDescription::CertificateRequired
                    ))
                ),
                "{e:?}"
            );
            assert!(!t.is_certificate_error(), "the peer refused us: {e}");
            assert!(
                e.to_string()
                    .starts_with("tlsv13 alert certificate required: the server requires"),
                "in Python's words, then what to do: {e}"
            );
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        }
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// A handshake the peer refused with an alert says so in OpenSSL's words, as Python shows
/// them (`tlsv1 alert protocol version`), and what that means for this side; rustls' own text
/// (`received fatal alert: ProtocolVersion`) stays the source. No ALPN protocol in common, and
/// no TLS version in common (a TLS 1.2-only server, a TLS 1.3-only client), no cipher suite in
/// common.
#[test]
fn t8_a_handshake_the_peer_refused_with_an_alert_is_told_in_plain_words() {
    run(async {
        let certs = Certs::get();
        let refused = |e: &Error, alert, start: &str| {
            let t = tls_err(e);
            assert_eq!(
                t.rustls_error(),
                Some(&rustls::Error::AlertReceived(alert)),
                "{e:?}"
            );
            assert!(e.to_string().starts_with(start), "{e}");
            let source = std::error::Error::source(t).map(|s| s.to_string());
            assert_eq!(
                source.as_deref(),
                Some(format!("received fatal alert: {alert:?}").as_str())
            );
        };
        let (server, port) = tls_echo_server(&[b"h2"]).await?;
        let e = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[b"spdy/1"]))
            .await
            .expect_err("no ALPN protocol in common");
        refused(
            &e,
            rustls::AlertDescription::NoApplicationProtocol,
            "tlsv1 alert no application protocol: the peer speaks none of the ALPN protocols",
        );
        server.close();
        server.wait_closed().await;

        let tls12_only =
            rustls::ServerConfig::builder_with_protocol_versions(&[&rustls::version::TLS12]);
        let tls13_only =
            rustls::ClientConfig::builder_with_protocol_versions(&[&rustls::version::TLS13]);
        let e = refused_by(tls12_only, tls13_only).await?;
        refused(
            &e,
            rustls::AlertDescription::ProtocolVersion,
            "tlsv1 alert protocol version: the peer accepts none of the TLS versions",
        );

        // No cipher suite in common: one suite each, not the same.
        let only = |suite| {
            std::sync::Arc::new(rustls::crypto::CryptoProvider {
                cipher_suites: vec![suite],
                ..rustls::crypto::ring::default_provider()
            })
        };
        use rustls::crypto::ring::cipher_suite::{
            TLS13_AES_128_GCM_SHA256, TLS13_CHACHA20_POLY1305_SHA256,
        };
        let aes_only = rustls::ServerConfig::builder_with_provider(only(TLS13_AES_128_GCM_SHA256))
            .with_safe_default_protocol_versions()
            .unwrap();
        let chacha_only =
            rustls::ClientConfig::builder_with_provider(only(TLS13_CHACHA20_POLY1305_SHA256))
                .with_safe_default_protocol_versions()
                .unwrap();
        let e = refused_by(aes_only, chacha_only).await?;
        refused(
            &e,
            rustls::AlertDescription::HandshakeFailure,
            "sslv3 alert handshake failure: the peer refused the handshake: it found nothing in common",
        );
        Ok(())
    });
}

/// Our echo server with `server` (the test certificate), our client with `client` (the test
/// CA): the connect's error, which must come.
async fn refused_by(
    server: rustls::ConfigBuilder<rustls::ServerConfig, rustls::WantsVerifier>,
    client: rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>,
) -> Result<Error, Error> {
    let certs = Certs::get();
    let server = server
        .with_no_client_auth()
        .with_single_cert(
            asyncio::tls::load_certs(&certs.cert)?,
            asyncio::tls::load_private_key(&certs.key)?,
        )
        .unwrap();
    let server = asyncio::start_server(echo, "127.0.0.1", 0)
        .ssl(server)
        .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(asyncio::tls::load_certs(&certs.ca)?);
    let client = client.with_root_certificates(roots).with_no_client_auth();
    let e = asyncio::open_connection("127.0.0.1", port)
        .ssl(client)
        .await
        .expect_err("the handshake must fail");
    server.close();
    server.wait_closed().await;
    Ok(e)
}

#[test]
fn t30_corrupted_record_is_tls_for_every_waiter() {
    let (port, peer) = tls_peer(move |mut tcp, _conn| {
        use std::io::Write;
        tcp.write_all(&[0x17, 0x03, 0x03, 0x00, 0x20]).unwrap();
        tcp.write_all(&[0x55; 0x20]).unwrap();
        tls_common::drain(&mut tcp);
    });
    run(async {
        let (reader, writer) = open_tls(port).await?;
        for e in every_waiter_fails(&reader, &writer).await {
            assert!(
                matches!(
                    tls_err(&e).rustls_error(),
                    Some(rustls::Error::DecryptError)
                ),
                "{e:?}"
            );
        }
        Ok(())
    });
    peer.join().unwrap();
}

/// T30, S48; CPython: BaseStartTLS.test_start_tls_client_corrupted_ssl,
/// TestSSL.test_start_tls_client_corrupted_ssl. A line each way over TLS, then the peer writes
/// bytes that are no record under the connection: the next readline raises the TLS error, and
/// close() after it is harmless.
#[test]
fn t30_test_start_tls_client_corrupted_ssl() {
    let (port, peer) = tls_peer(move |mut tcp, mut conn| {
        use std::io::{Read, Write};
        conn.writer().write_all(b"A\n").unwrap();
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        let mut b = [0u8; 1];
        while !matches!(conn.reader().read(&mut b), Ok(1)) {
            assert!(conn.read_tls(&mut tcp).unwrap() > 0, "EOF before B");
            conn.process_new_packets().unwrap();
        }
        assert_eq!(&b, b"B");
        tcp.write_all(b"please corrupt the SSL connection").unwrap();
        tls_common::drain(&mut tcp);
    });
    run(async {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("")
            .await?;
        assert_eq!(reader.readline().await?, b"A\n");
        writer.write(b"B")?;
        let e = reader.readline().await.expect_err("the corrupted record");
        assert!(tls_err(&e).rustls_error().is_some(), "T30: {e:?}");
        writer.close();
        writer
            .wait_closed()
            .await
            .expect_err("T30: wait_closed raises it too");
        Ok(())
    });
    peer.join().unwrap();
}

/// The data of the create_server/create_connection exchanges: CPython's 1 KiB ×
/// BUF_MULTIPLIER with its macOS multiplier (64), to keep 25 debug-build connections quick.
static A_DATA: [u8; 64 * 1024] = [b'A'; 64 * 1024];

static B_DATA: [u8; 64 * 1024] = [b'B'; 64 * 1024];

/// S4, S43, T22, T36; CPython: TestSSL.test_create_server_ssl_1. 25 blocking TLS clients to a
/// start_server(ssl) whose handler reads A, says OK, reads B and answers with writelines
/// ("SP", "A", "M"), drains and closes: every client gets OK and SPAM, every handler finishes.
#[test]
fn t36_test_create_server_ssl_1() {
    const TOTAL: usize = 25;
    let lp = asyncio::EventLoop::new().unwrap();
    let done = Rc::new(std::cell::Cell::new(0usize));
    let d = done.clone();
    let handler = move |reader: StreamReader, writer: StreamWriter| {
        let d = d.clone();
        async move {
            assert_eq!(reader.readexactly(A_DATA.len()).await?, A_DATA);
            writer.write(b"OK")?;
            assert_eq!(reader.readexactly(B_DATA.len()).await?, B_DATA);
            writer.writelines(&[b"SP", b"A", b"M"])?;
            writer.drain().await?;
            writer.close();
            d.set(d.get() + 1);
            Ok::<(), Error>(())
        }
    };
    let server = lp
        .run_until_complete(
            asyncio::start_server(handler, "127.0.0.1", 0)
                .ssl(Certs::get().server_config(&[]))
                .ssl_handshake_timeout(BOUND)
                .into_future(),
        )
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let clients: Vec<_> = (0..TOTAL)
        .map(|_| {
            std::thread::spawn(move || {
                use std::io::{Read, Write};
                let (tcp, conn) = tls_common::blocking_tls_client(port);
                let mut s = rustls::StreamOwned::new(conn, tcp);
                s.write_all(&A_DATA).unwrap();
                let mut ok = [0u8; 2];
                s.read_exact(&mut ok).unwrap();
                assert_eq!(&ok, b"OK");
                s.write_all(&B_DATA).unwrap();
                let mut spam = [0u8; 4];
                s.read_exact(&mut spam).unwrap();
                assert_eq!(&spam, b"SPAM");
            })
        })
        .collect();
    util::run_until(&lp, 100_000, || done.get() == TOTAL);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(done.get(), TOTAL);
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}

/// S1, S6, S7, T3; CPython: TestSSL.test_create_connection_ssl_1. 25 concurrent
/// open_connection clients (by address, then by socket) with an empty server_hostname to a
/// blocking TLS server: A then OK, B then SPAM, close; every client completes.
#[test]
fn t3_test_create_connection_ssl_1() {
    const TOTAL: usize = 25;
    for by_sock in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let config = Certs::get().server_config(&[]);
        let server = std::thread::spawn(move || {
            let peers: Vec<_> = (0..TOTAL)
                .map(|_| {
                    let (tcp, _) = listener.accept().unwrap();
                    let config = config.clone();
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        tcp.set_read_timeout(Some(BOUND)).unwrap();
                        let conn = rustls::ServerConnection::new(config).unwrap();
                        let mut s = rustls::StreamOwned::new(conn, tcp);
                        let mut a = vec![0u8; A_DATA.len()];
                        s.read_exact(&mut a).unwrap();
                        assert_eq!(a, A_DATA);
                        s.write_all(b"OK").unwrap();
                        let mut b = vec![0u8; B_DATA.len()];
                        s.read_exact(&mut b).unwrap();
                        assert_eq!(b, B_DATA);
                        s.write_all(b"SPAM").unwrap();
                        s.flush().unwrap();
                    })
                })
                .collect();
            for p in peers {
                p.join().unwrap();
            }
        });
        let count = run(async move {
            let done = Rc::new(std::cell::Cell::new(0usize));
            let mut tasks = Vec::new();
            for _ in 0..TOTAL {
                let done = done.clone();
                tasks.push(asyncio::spawn(async move {
                    let (reader, writer) = if by_sock {
                        let sock = std::net::TcpStream::connect(("127.0.0.1", port))?;
                        asyncio::open_connection_sock(sock)
                            .ssl(Certs::get().client_config(&[]))
                            .server_hostname("")
                            .await?
                    } else {
                        asyncio::open_connection("127.0.0.1", port)
                            .ssl(Certs::get().client_config(&[]))
                            .server_hostname("")
                            .ssl_handshake_timeout(BOUND)
                            .await?
                    };
                    writer.write(&A_DATA)?;
                    assert_eq!(reader.readexactly(2).await?, b"OK");
                    writer.write(&B_DATA)?;
                    assert_eq!(reader.readexactly(4).await?, b"SPAM");
                    done.set(done.get() + 1);
                    writer.close();
                    match writer.wait_closed().await {
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                            ) => {}
                        other => other?,
                    }
                    Ok::<(), Error>(())
                }));
            }
            for t in tasks {
                t.await??;
            }
            Ok(done.get())
        });
        assert_eq!(count, TOTAL, "by_sock {by_sock}");
        server.join().unwrap();
    }
}

/// A server protocol that, as CPython's test ServerProtocol, pauses reading in connection_made
/// and starts a second TLS session (server side) over the TLS transport it was given; the
/// inner transport lands in `inner`, and everything is forwarded to a [`Recorder`].
struct StartsTls {
    rec: Rc<RefCell<Recorder>>,
    inner: Rc<RefCell<Option<Result<Transport, Error>>>>,
}

impl asyncio::Protocol for StartsTls {
    fn connection_made(&mut self, t: Transport) {
        t.pause_reading();
        self.rec.borrow_mut().connection_made(t.clone());
        let inner = self.inner.clone();
        drop(asyncio::spawn(async move {
            let lp = asyncio::get_running_loop().expect("the loop");
            let app = t.get_protocol().expect("this protocol");
            let r = lp
                .start_tls(&t, app, Certs::get().server_config(&[]), true)
                .await;
            *inner.borrow_mut() = Some(r);
        }));
    }
    fn data_received(&mut self, d: &[u8]) {
        self.rec.borrow_mut().data_received(d)
    }
    fn eof_received(&mut self) -> bool {
        self.rec.borrow_mut().eof_received()
    }
    fn connection_lost(&mut self, e: Option<io::Error>) {
        self.rec.borrow_mut().connection_lost(e)
    }
}

/// T32, T36; CPython: TestSSL.test_create_server_ssl_over_ssl (one client here). A TLS server
/// whose protocol runs loop.start_tls over each accepted TLS transport from connection_made,
/// reading paused meanwhile; a blocking client runs TLS in TLS: A then OK, B then SPAM.
#[test]
fn t32_t36_test_create_server_ssl_over_ssl() {
    let lp = asyncio::EventLoop::new().unwrap();
    let seen = util::capture_exceptions(&lp);
    let rec = Rc::new(RefCell::new(Recorder::default()));
    let inner: Rc<RefCell<Option<Result<Transport, Error>>>> = Rc::default();
    let (r, i) = (rec.clone(), inner.clone());
    let server = lp
        .run_until_complete(
            lp.create_server(
                move || StartsTls {
                    rec: r.clone(),
                    inner: i.clone(),
                },
                "127.0.0.1",
                0,
            )
            .ssl(Certs::get().server_config(&[]))
            .into_future(),
        )
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let client = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (tcp, conn) = tls_common::blocking_tls_client(port);
        let mut outer = rustls::StreamOwned::new(conn, tcp);
        let mut conn2 = rustls::ClientConnection::new(
            Certs::get().client_config(&[]),
            "localhost".try_into().unwrap(),
        )
        .unwrap();
        while conn2.is_handshaking() {
            conn2.complete_io(&mut outer).unwrap();
        }
        let mut s = rustls::StreamOwned::new(conn2, outer);
        s.write_all(&A_DATA).unwrap();
        let mut ok = [0u8; 2];
        s.read_exact(&mut ok).unwrap();
        assert_eq!(&ok, b"OK");
        s.write_all(&B_DATA).unwrap();
        let mut spam = [0u8; 4];
        s.read_exact(&mut spam).unwrap();
        assert_eq!(&spam, b"SPAM");
    });
    util::run_until(&lp, 100_000, || rec.borrow().data.len() >= A_DATA.len());
    let t = match inner.borrow_mut().take() {
        Some(Ok(t)) => t,
        other => panic!("the inner handshake: {other:?}"),
    };
    assert_eq!(rec.borrow().data, A_DATA);
    t.write(b"OK").unwrap();
    util::run_until(&lp, 100_000, || {
        rec.borrow().data.len() >= A_DATA.len() + B_DATA.len()
    });
    assert_eq!(rec.borrow().data[A_DATA.len()..], B_DATA);
    for part in [&b"SP"[..], b"A", b"M"] {
        t.write(part).unwrap();
    }
    t.close();
    util::run_until(&lp, 100_000, || rec.borrow().lost);
    client.join().unwrap();
    assert_eq!(
        rec.borrow().calls.first().map(String::as_str),
        Some("connection_made")
    );
    assert_eq!(
        rec.borrow()
            .calls
            .iter()
            .filter(|c| *c == "connection_made")
            .count(),
        1
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
    server.close();
    lp.run_until_complete(server.wait_closed()).unwrap();
}

/// Client side of D14: `start_tls` fails with `check`'s error, a read pending during it and
/// every later read, drain and wait_closed fail too.
async fn client_start_tls_fails(
    port: u16,
    config: std::sync::Arc<rustls::ClientConfig>,
    timeout: Option<Duration>,
    check: impl Fn(&Error),
) -> Result<(), Error> {
    let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    let mut upgrade = writer.start_tls(config).server_hostname("localhost");
    if let Some(t) = timeout {
        upgrade = upgrade.ssl_handshake_timeout(t);
    }
    let (pending, upgraded) = futures_util::future::join(
        fails("a read pending during start_tls", reader.read(-1)),
        upgrade.into_future(),
    )
    .await;
    let e = upgraded.expect_err("start_tls fails");
    check(&e);
    check(&pending);
    for e in every_waiter_fails(&reader, &writer).await {
        check(&e);
    }
    Ok(())
}

#[test]
fn d14_t8_client_start_tls_refused_certificate_ends_every_waiter() {
    run(async {
        let (server, port, seen) = start_tls_server_recording().await?;
        let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
        client_start_tls_fails(port, other.into(), None, |e| {
            assert!(tls_err(e).is_certificate_error(), "{e:?}")
        })
        .await?;
        handler_done(&seen, 1).await;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn d14_t9_client_start_tls_timeout_ends_every_waiter() {
    run(async {
        // The server never starts TLS: it reads until the client goes.
        let (server, port, seen) = plain_server(|r, w, seen| async move {
            let got = r.read(-1).await;
            seen.borrow_mut().push(format!("{got:?}"));
            w.close();
            Ok(())
        })
        .await?;
        client_start_tls_fails(
            port,
            Certs::get().client_config(&[]),
            Some(Duration::from_millis(100)),
            |e| assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e:?}"),
        )
        .await?;
        handler_done(&seen, 1).await;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn d14_t10_client_start_tls_peer_eof_ends_every_waiter() {
    run(async {
        // The server closes as soon as the ClientHello arrives.
        let (server, port, seen) = plain_server(|r, w, seen| async move {
            let got = r.read(1).await;
            seen.borrow_mut().push(format!("{got:?}"));
            w.close();
            Ok(())
        })
        .await?;
        client_start_tls_fails(port, Certs::get().client_config(&[]), None, |e| {
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}")
        })
        .await?;
        handler_done(&seen, 1).await;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// Server side of D14: the handler's start_tls fails, then every read, drain and wait_closed
/// in it fails too; the handler records the kinds.
async fn server_side(
    config: std::sync::Arc<rustls::ServerConfig>,
    timeout: Option<Duration>,
    client: impl AsyncFnOnce(u16) -> Result<(), Error>,
    check: impl Fn(&Error) + 'static,
) -> Result<(), Error> {
    let check = Rc::new(check);
    let (server, port, seen) = plain_server(move |reader, mut writer, seen| {
        let (config, check) = (config.clone(), check.clone());
        async move {
            let mut upgrade = writer.start_tls(config);
            if let Some(t) = timeout {
                upgrade = upgrade.ssl_handshake_timeout(t);
            }
            let (pending, upgraded) = futures_util::future::join(
                fails("a read pending during start_tls", reader.read(-1)),
                upgrade.into_future(),
            )
            .await;
            let e = upgraded.expect_err("start_tls fails");
            check(&e);
            check(&pending);
            for e in every_waiter_fails(&reader, &writer).await {
                check(&e);
            }
            seen.borrow_mut().push(format!("{e:?}"));
            Ok(())
        }
    })
    .await?;
    client(port).await?;
    handler_done(&seen, 1).await;
    server.close();
    server.wait_closed().await;
    Ok(())
}

/// Connects to `port`, upgrades with the test client certificate, and reads to the end: the
/// outcome of the upgrade or, if our side finished first (TLS 1.3), of the read that meets
/// the server's alert. `Err` from the outer `Result`: the plain connection failed.
async fn start_tls_with_client_cert(port: u16) -> Result<Result<(), Error>, Error> {
    let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
    Ok(
        match writer
            .start_tls(Certs::get().client_config_with_cert())
            .server_hostname("localhost")
            .await
        {
            Ok(_) => reader.read(-1).await.map(drop),
            Err(e) => Err(e),
        },
    )
}

#[test]
fn d14_t8_server_start_tls_refused_client_certificate_ends_every_waiter() {
    run(async {
        let strict = server_config_trusting_clients_of(&Certs::get().other_ca);
        server_side(
            strict,
            None,
            async |port| {
                let r = start_tls_with_client_cert(port).await?;
                let e = r.expect_err("the server refuses our certificate");
                assert!(matches!(e, Error::Tls(_)), "{e:?}");
                Ok(())
            },
            |e| {
                assert!(tls_err(e).is_certificate_error(), "{e:?}");
                // The advice fits a server too: its trust anchors for clients are its client
                // verifier's roots (before, it pointed at client-side helpers only).
                let text = e.to_string();
                assert!(text.contains("unknown issuer"), "{text}");
                assert!(text.contains("roots of its client verifier"), "{text}");
            },
        )
        .await
    });
}

/// T8: a server checking client certificates against a stale copy of their CA (the issuer's
/// name, another key) is told where its trust anchors for clients go, as for an unknown
/// issuer: the roots of its client verifier, not only the client-side helpers.
#[test]
fn t8_a_server_trusting_a_stale_client_ca_is_told_where_its_roots_go() {
    // The test CA's name (the client certificate's issuer), a fresh key.
    let stale = stale_test_ca("stale-client-ca.pem", &rcgen::PKCS_ECDSA_P256_SHA256);
    run(async move {
        server_side(
            server_config_trusting_clients_of(&stale),
            None,
            async |port| {
                let r = start_tls_with_client_cert(port).await?;
                r.expect_err("the server refuses our certificate");
                Ok(())
            },
            |e| {
                assert!(
                    matches!(cert_error(e), Some(rustls::CertificateError::BadSignature)),
                    "{e:?}"
                );
                let text = e.to_string();
                assert!(
                    text.contains("another certificate of the same name"),
                    "{text}"
                );
                assert!(text.contains("roots of its client verifier"), "{text}");
            },
        )
        .await
    });
}

#[test]
fn d14_t9_server_start_tls_timeout_ends_every_waiter() {
    run(async {
        server_side(
            Certs::get().server_config(&[]),
            Some(Duration::from_millis(100)),
            async |port| {
                // A client that never starts TLS: it waits for the server to give up.
                let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
                let _ = reader.read(-1).await;
                writer.close();
                Ok(())
            },
            |e| assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted, "{e:?}"),
        )
        .await
    });
}

#[test]
fn d14_t10_server_start_tls_peer_eof_ends_every_waiter() {
    run(async {
        server_side(
            Certs::get().server_config(&[]),
            None,
            async |port| {
                // A client that hangs up without a ClientHello.
                let (reader, writer) = asyncio::open_connection("127.0.0.1", port).await?;
                writer.close();
                writer.wait_closed().await?;
                drop(reader);
                Ok(())
            },
            |e| assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}"),
        )
        .await
    });
}
