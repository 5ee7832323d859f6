//! Typed failures after the handshake, for every waiter (T8, T30, T36): a certificate
//! required, an alert from the peer told in plain words, a corrupted record.

use super::*;

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
            // OpenSSL's words as Python prints them for a record that fails to decrypt
            // (probed: scratch/s25/probes/tlswords/words_probe.py), then what to do.
            let text = e.to_string();
            assert!(
                text.starts_with("decryption failed or bad record mac: "),
                "{text}"
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
