//! A TLS client meeting a plain-text peer (T8): a plain-text port, a plain-text echo server,
//! and a peer that is a TLS client too (not called plain text).

use super::*;

/// A TLS client at a port that speaks plain text (an HTTP server, SMTP before STARTTLS),
/// the commonest first mistake: Python says `[SSL: WRONG_VERSION_NUMBER] wrong version
/// number`; ours says that and what it means. Before, the text was rustls' `received corrupt
/// message of type InvalidContentType`.
#[test]
fn t8_a_tls_client_at_a_plain_text_port_is_told_so() {
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = plain.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = plain.accept().unwrap();
        let mut hello = [0u8; 512];
        let _ = std::io::Read::read(&mut tcp, &mut hello);
        std::io::Write::write_all(&mut tcp, b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
        tls_common::drain(&mut tcp);
    });
    let e = asyncio::run(asyncio::timeout(
        BOUND,
        refused(Certs::get().client_config(&[]), port, "localhost"),
    ))
    .expect("loop")
    .expect("bounded");
    let t = tls_err(&e);
    assert!(
        matches!(
            t.rustls_error(),
            Some(rustls::Error::InvalidMessage(
                rustls::InvalidMessage::InvalidContentType
            ))
        ),
        "{e:?}"
    );
    assert!(!t.is_certificate_error());
    let text = e.to_string();
    assert!(text.starts_with("wrong version number: "), "{text}");
    assert!(text.contains("not TLS"), "{text}");
    assert!(
        !text.contains("InvalidContentType"),
        "no rustls jargon: {text}"
    );
    peer.join().unwrap();
}

/// T8: a TLS client at a plain-text echo server (the streams docs' echo, a newcomer's first
/// server) gets its own ClientHello back. Python says `[SSL: UNEXPECTED_MESSAGE] unexpected
/// message`; rustls said `received unexpected handshake message: got ClientHello when
/// expecting ServerHello or HelloRetryRequest`. Ours says what that means and what to do.
/// T8: the same rustls error (a ClientHello where the ServerHello should be) comes from a peer
/// that is a TLS client too: here a STARTTLS-style server handler upgrades with a client
/// configuration. Its port does speak TLS, so the text must not say only that it does not.
#[test]
fn t8_a_peer_that_is_a_tls_client_too_is_not_called_plain_text() {
    run(async {
        let both_clients = |_r: StreamReader, mut w: StreamWriter| async move {
            // The accepting side starting TLS as a client (a server configuration belongs here).
            let _ = w
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .await;
            Ok::<_, Error>(())
        };
        let server = asyncio::start_server(both_clients, "127.0.0.1", 0).await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let e = refused(Certs::get().client_config(&[]), port, "localhost").await;
        assert!(
            matches!(
                tls_err(&e).rustls_error(),
                Some(rustls::Error::InappropriateHandshakeMessage {
                    got_type: rustls::HandshakeType::ClientHello,
                    ..
                })
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.contains("or the peer is a TLS client too"), "{text}");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn t8_a_tls_client_at_a_plain_text_echo_server_is_told_so() {
    run(async {
        let server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let e = refused(Certs::get().client_config(&[]), port, "localhost").await;
        let t = tls_err(&e);
        assert!(
            matches!(
                t.rustls_error(),
                Some(rustls::Error::InappropriateHandshakeMessage {
                    got_type: rustls::HandshakeType::ClientHello,
                    ..
                })
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "unexpected message: the peer answered with a ClientHello: either a plain-text echo \
             server sent this side's own back (that port does not speak TLS: connect without \
             ssl, or to the port that does), or the peer is a TLS client too (one side must be \
             the server: with start_tls, the side that accepted the connection gives a server \
             configuration)"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}
