//! loop.start_tls on the server side and TLS in TLS (T26, T32, T33, T34): a server protocol
//! upgrading after 100 KiB of plain text, and a close during SSL over SSL.

use super::*;

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
        util::DATA_THEN_A_CLEAN_END,
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
/// connection_lost once. Closing the outer one ends with the TLS error of its shutdown (T25):
/// the server's inner layer answers the EOF it is handed with records that reach our outer
/// layer as application data after its close_notify, as CPython 3.11 ends with
/// APPLICATION_DATA_AFTER_CLOSE_NOTIFY (checked with the same servers in Python).
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
        let lost = if abort_inner {
            "connection_lost(None)"
        } else {
            "connection_lost(InvalidData)"
        };
        assert_eq!(rec.borrow().calls.last().map(String::as_str), Some(lost));
        assert!(outer.is_closing());
        util::run_until(&lp, 1000, || server.connection_count() == 0);
        assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
        server.close();
        lp.run_until_complete(server.wait_closed()).unwrap();
    }
}
