//! The TLS handshake (issue #5, Part T): both ways with extra info, client auth, the
//! certificate checks that refuse a peer (wrong name, unknown CA, expired, stale roots, wrong
//! key), plain-text peers, handshake timeouts, and how a connection ends (close_notify, EOF).
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
use asyncio::{Error, ExtraInfo, StreamReader, StreamWriter, Transport};
use tls_common::{blocking_tls_peer, raw_peer, Certs, PeerScript};
use tls_helpers::{
    cert_error, close_both, echo, expired_tls_echo_server, is_expired, loop_and_tls_echo_server,
    open_tls, run, stale_test_ca, tls_echo_server, tls_err, BOUND,
};
use util::Recorder;

// Checklist: T28 (with T31: the raw transport's keys end with the connection, as
// test_sslproto.py test_get_extra_info_on_closed_connection).
#[test]
fn t7_t31_s44_handshake_both_ways_and_extra_info() {
    run(async {
        let certs = Certs::get();
        let seen: Rc<RefCell<Vec<String>>> = Rc::default();
        let s = seen.clone();
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let s = s.clone();
                async move {
                    let t = writer.transport();
                    s.borrow_mut().push(format!(
                        "server: {:?} {:?} peercert={} sni={:?}",
                        t.tls_version(),
                        t.cipher_suite(),
                        t.get_extra_info("peercert").is_some(),
                        t.get_extra_info("server_hostname")
                            .map(|v| format!("{v:?}")),
                    ));
                    let line = reader.readline().await?;
                    writer.write(&line)?;
                    writer.close();
                    writer.wait_closed().await
                }
            },
            "127.0.0.1",
            0,
        )
        .ssl(certs.server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        // T31: the TLS keys, filled before open_connection returns (T7).
        let t = writer.transport();
        assert!(t.get_extra_info("sslcontext").is_some(), "T31: sslcontext");
        assert_eq!(t.tls_version().as_deref(), Some("TLSv1.3"));
        let cipher = t.cipher_suite().unwrap();
        assert!(
            cipher.starts_with("TLS_"),
            "T43: OpenSSL spelling, got {cipher}"
        );
        match t.get_extra_info("peercert") {
            Some(ExtraInfo::Bytes(der)) => assert_eq!(der, certs.cert_der, "T42: leaf DER"),
            other => panic!("peercert: {other:?}"),
        }
        assert_eq!(t.peer_certificates(), vec![certs.cert_der.clone()]);
        assert!(
            matches!(t.get_extra_info("server_hostname"), Some(ExtraInfo::Text(n)) if n == "localhost")
        );
        assert!(matches!(
            t.get_extra_info("ssl_object"),
            Some(ExtraInfo::Text(_))
        ));
        assert!(t.get_extra_info("compression").is_none(), "T44");
        assert!(
            t.peername().is_some(),
            "T31: other keys come from the raw transport"
        );
        assert!(t.alpn_protocol().is_none());
        // S44: no half-close over TLS.
        assert!(!writer.can_write_eof());
        assert!(matches!(writer.write_eof(), Err(Error::Unsupported(_))));
        writer.write(b"ping\n")?;
        assert_eq!(reader.readline().await?, b"ping\n");
        assert_eq!(reader.read(-1).await?, b"", "EOF after the server's close");
        assert!(
            t.close_notify_received(),
            "T20: the server sent close_notify"
        );
        writer.close();
        writer.wait_closed().await?;
        assert!(
            t.peername().is_none(),
            "T31: raw keys end with the connection"
        );
        assert!(t.tls_version().is_some(), "TLS keys outlive it");
        server.close();
        server.wait_closed().await;
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0].starts_with("server: Some(\"TLSv1.3\") Some(\"TLS_")
                && seen[0].contains("peercert=false")
                && seen[0].contains("localhost"),
            "T42: no client certificate; SNI seen: {}",
            seen[0]
        );
        Ok(())
    });
}

#[test]
fn t7_t22_plain_protocol_over_tls_keeps_the_grammar_when_closing_from_a_callback() {
    let (lp, server, port) = loop_and_tls_echo_server();
    let rec = Recorder {
        on_made: Some(Box::new(|t: &Transport| t.write(b"ping").unwrap())),
        // Re-entrancy: write, then close twice, from inside data_received.
        on_data: Some(Box::new(|t: &Transport, _: &[u8]| {
            t.write(b"late").unwrap();
            t.close();
            t.close();
        })),
        ..Default::default()
    };
    let connect = lp
        .create_connection(move || rec, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    let (t, proto) = lp
        .run_until_complete(asyncio::timeout(BOUND, connect.into_future()))
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        proto.borrow().calls,
        ["connection_made"],
        "T7: connection_made ran before create_connection returned"
    );
    assert!(t.get_extra_info("cipher").is_some());
    util::run_until(&lp, 1000, || proto.borrow().lost);
    let p = proto.borrow();
    assert_eq!(p.data, b"ping");
    assert_eq!(
        p.grammar(),
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ],
        "T22: eof_received at the end of our own shutdown, then connection_lost"
    );
    assert!(t.is_closing());
    drop(p);
    server.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
}

#[test]
fn t36_client_auth() {
    run(async {
        let certs = Certs::get();
        let calls = Rc::new(RefCell::new(Vec::<usize>::new()));
        let c = calls.clone();
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                c.borrow_mut()
                    .push(writer.transport().peer_certificates().len());
                async move { echo(reader, writer).await }
            },
            "127.0.0.1",
            0,
        )
        .ssl(certs.server_config_client_auth())
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        // With a client certificate: accepted, and the server sees it.
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config_with_cert())
            .await?;
        writer.write(b"who\n")?;
        assert_eq!(reader.readline().await?, b"who\n");
        writer.close();
        writer.wait_closed().await?;
        assert_eq!(
            *calls.borrow(),
            [1],
            "the handler saw one client certificate"
        );
        // Without one: the server refuses. In TLS 1.3 the client finishes its side of the
        // handshake first, so the refusal may arrive as the first read's error.
        let refused = async {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(certs.client_config(&[]))
                .await?;
            let r = reader.read(-1).await;
            writer.close();
            r
        }
        .await;
        let e = refused.expect_err("a client without a certificate is refused");
        assert!(!tls_err(&e).is_certificate_error(), "{e}");
        assert_eq!(
            tls_err(&e).rustls_error(),
            Some(&rustls::Error::AlertReceived(
                rustls::AlertDescription::CertificateRequired
            )),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .starts_with("tlsv13 alert certificate required: "),
            "{e}"
        );
        assert_eq!(
            *calls.borrow(),
            [1],
            "T36: a failed handshake never reaches the handler"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// T8: the certificate error rustls gives for a signature that does not verify (a stale
/// trust anchor, or a handshake signed with a key that is not the certificate's).
fn assert_signature_refused(e: &Error) {
    assert!(
        matches!(
            cert_error(e),
            Some(
                rustls::CertificateError::BadSignature
                    | rustls::CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
            )
        ),
        "{e:?}"
    );
}

/// Opens a TLS client to `port` and returns the error it fails with.
async fn refused(config: std::sync::Arc<rustls::ClientConfig>, port: u16, name: &str) -> Error {
    match asyncio::open_connection("127.0.0.1", port)
        .ssl(config)
        .server_hostname(name)
        .await
    {
        Ok(_) => panic!("handshake with {name} should have failed"),
        Err(e) => e,
    }
}

#[test]
fn t8_t49_wrong_host_name_refused() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let e = refused(Certs::get().client_config(&[]), port, "example.com").await;
        let t = tls_err(&e);
        assert!(
            t.is_certificate_error(),
            "T49: SSLCertVerificationError: {e}"
        );
        assert!(
            matches!(
                t.rustls_error(),
                Some(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{e:?}"
        );
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // The names the certificate is for, as a user writes them (before: rustls' Debug forms,
        // `DnsName("localhost"), IpAddress(127.0.0.1)`).
        assert_eq!(
            e.to_string(),
            "certificate verify failed: the certificate is for localhost, 127.0.0.1, not for \
             \"example.com\"; connect with one of those names, or set server_hostname to one"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

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

/// T8/T49: a client that trusts only an unrelated CA is refused by our server's chain with
/// the certificate error (UnknownIssuer), whatever `server_hostname` it names.
async fn an_unknown_ca_is_refused(server_hostname: &str) -> Result<(), Error> {
    let (server, port) = tls_echo_server(&[]).await?;
    let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
    let e = refused(other.into(), port, server_hostname).await;
    assert!(tls_err(&e).is_certificate_error(), "{e}");
    assert!(
        matches!(
            cert_error(&e),
            Some(rustls::CertificateError::UnknownIssuer)
        ),
        "{e:?}"
    );
    server.close();
    server.wait_closed().await;
    Ok(())
}

#[test]
fn t8_t49_unknown_ca_refused() {
    run(an_unknown_ca_is_refused("localhost"));
}

/// T8/T49: a trusted certificate with the issuer's name and another key (a CA file copied
/// before the certificate was made again; a system store's own `CN=localhost`, as Debian's
/// ssl-cert-snakeoil). rustls said only `invalid peer certificate: BadSignature`, or with a key
/// of another kind `UnsupportedSignatureAlgorithmForPublicKeyContext { signature_algorithm_id:
/// [6, 8, 42, …] … }`; Python says `certificate verify failed: self-signed certificate`. Ours
/// says what is wrong and what to do, rustls' words kept as the source.
#[test]
fn t8_t49_a_trusted_certificate_of_the_issuers_name_but_another_key_is_told_in_plain_words() {
    let cases = [
        (
            "stale-ca-same-kind.pem",
            &rcgen::PKCS_ECDSA_P256_SHA256,
            "was not signed by the key of the certificate this side trusts under its issuer's \
             name (bad signature)",
        ),
        (
            "stale-ca-other-kind.pem",
            &rcgen::PKCS_ED25519,
            "is signed with a kind of key other than that of the certificate this side trusts \
             under its issuer's name (e.g. ECDSA against RSA)",
        ),
    ];
    for (file, alg, says) in cases {
        // The test CA's name (the leaf's issuer), a fresh key.
        let stale = stale_test_ca(file, alg);
        run(async move {
            let (server, port) = tls_echo_server(&[]).await?;
            let client = asyncio::tls::client_config_with_roots(&stale)?;
            let e = refused(client.into(), port, "localhost").await;
            assert!(tls_err(&e).is_certificate_error(), "{e}");
            assert_signature_refused(&e);
            let text = e.to_string();
            assert!(
                text.starts_with(&format!(
                    "certificate verify failed: the peer's certificate {says}, or the peer \
                     signed the handshake with a key"
                )),
                "{file}: {text}"
            );
            assert!(
                text.contains("another certificate of the same name"),
                "{text}"
            );
            assert!(text.contains("client_config_with_roots(ca_file)"), "{text}");
            for jargon in ["BadSignature", "UnsupportedSignatureAlgorithm", "[6, 8"] {
                assert!(!text.contains(jargon), "no rustls jargon: {text}");
            }
            server.close();
            server.wait_closed().await;
            Ok(())
        });
    }
}

/// T8: rustls gives the same two certificate errors when the chain checks out but the peer's
/// handshake signature (CertificateVerify) does not: its private key is not its certificate's
/// (a server whose certificate resolver pairs them by hand; a broken or intercepting peer).
/// The text must not send that case to re-make the trust anchor alone: it names both causes.
#[test]
fn t8_a_handshake_signed_with_a_key_not_the_certificates_names_that_cause_too() {
    let certs = Certs::get();
    for alg in [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ED25519] {
        // The test leaf (ECDSA P-256, issued by the trusted test CA), served with a fresh key.
        let chain = asyncio::tls::load_certs(&certs.cert).unwrap();
        let wrong = rcgen::KeyPair::generate_for(alg).unwrap();
        let der = rustls::pki_types::PrivatePkcs8KeyDer::from(wrong.serialize_der());
        let key = rustls::crypto::ring::default_provider()
            .key_provider
            .load_private_key(der.into())
            .unwrap();
        let paired = rustls::sign::CertifiedKey::new(chain, key);
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_cert_resolver(std::sync::Arc::new(rustls::sign::SingleCertAndKey::from(
                paired,
            )));
        run(async move {
            let server = asyncio::start_server(echo, "127.0.0.1", 0)
                .ssl(config)
                .await?;
            let port = server.sockets()[0].as_inet().unwrap().port();
            let e = refused(certs.client_config(&[]), port, "localhost").await;
            assert_signature_refused(&e);
            let text = e.to_string();
            assert!(
                text.contains("or the peer signed the handshake with a key"),
                "{alg:?}: {text}"
            );
            assert!(
                text.contains("its private key does not belong to its certificate"),
                "{text}"
            );
            server.close();
            server.wait_closed().await;
            Ok(())
        });
    }
}

#[test]
fn t8_t49_expired_certificate_refused() {
    run(async {
        let certs = Certs::get();
        let (server, port) = expired_tls_echo_server().await?;
        let e = refused(certs.client_config(&[]), port, "localhost").await;
        assert!(tls_err(&e).is_certificate_error(), "{e}");
        assert!(is_expired(&e), "{e:?}");
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

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

/// T8, T49; CPython: BaseStartTLS.test_create_connection_ssl_failed_certificate,
/// TestSSL.test_create_connection_ssl_failed_certificate. A verifying client with an empty
/// server_hostname (no name check) still checks the chain: a server whose CA it does not
/// trust fails open_connection with the certificate error.
#[test]
fn t8_t49_test_create_connection_ssl_failed_certificate() {
    run(an_unknown_ca_is_refused(""));
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

#[test]
fn s41_s53_s54_start_tls_mid_stream_keeps_buffered_plaintext() {
    run(async {
        let certs = Certs::get();
        let server = asyncio::start_server(
            |reader: StreamReader, mut writer: StreamWriter| async move {
                // One write: both lines reach the client's reader in one segment.
                writer.write(b"220 ready\r\nbuffered before the upgrade\r\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                assert!(writer.transport().get_extra_info("sslcontext").is_some());
                writer.write(b"secret\r\n")?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.close();
                writer.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        assert_eq!(reader.readline().await?, b"220 ready\r\n");
        let raw = writer.transport().clone();
        assert!(
            raw.get_extra_info("sslcontext").is_none(),
            "S41: the plain transport first"
        );
        let tls = writer
            .start_tls(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        assert!(
            writer.transport().ptr_eq(&tls),
            "S41, S53: the writer's transport is now the TLS one, and it writes through it"
        );
        assert!(!raw.ptr_eq(&tls));
        assert!(!writer.can_write_eof(), "T38");
        assert_eq!(
            reader.readline().await?,
            b"buffered before the upgrade\r\n",
            "S54: plaintext buffered before start_tls stays readable"
        );
        assert_eq!(
            reader.readline().await?,
            b"secret\r\n",
            "then decrypted data"
        );
        writer.write(b"over tls\r\n")?;
        assert_eq!(reader.readline().await?, b"over tls\r\n");
        assert_eq!(reader.read(-1).await?, b"");
        close_both(&writer, server).await
    });
}
