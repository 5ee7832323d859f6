//! The TLS layer (issue #5, Part T): our client against our server over real sockets, plus a
//! blocking rustls peer on a helper thread for peers that misbehave. Certificates are made at
//! test time (`tls_common`). Every wait is bounded by `asyncio::timeout`.
#![cfg(feature = "tls")]

mod tls_common;
mod util;

use std::cell::RefCell;
use std::future::IntoFuture;
use std::io;
use std::net::TcpListener;
use std::rc::Rc;
use std::time::{Duration, Instant};

use asyncio::tls::rustls;
use asyncio::{Error, ExtraInfo, StreamReader, StreamWriter, Transport};
use tls_common::{blocking_tls_peer, Certs, PeerScript};
use util::{poll_with, Forward, Panicky, Recorder};

const BOUND: Duration = Duration::from_secs(20);

/// Runs `fut` on a fresh loop, bounded.
fn run<T>(fut: impl std::future::Future<Output = Result<T, Error>>) -> T {
    asyncio::run(asyncio::timeout(BOUND, fut))
        .expect("loop")
        .expect("bounded wait expired")
        .expect("test body")
}

/// Echoes until EOF, then closes (the streams docs' echo, over TLS).
async fn echo(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = reader.read_into(&mut buf).await?;
        if n == 0 {
            break; // EOF: the client is done
        }
        writer.write(&buf[..n])?;
        writer.drain().await?;
    }
    writer.close();
    writer.wait_closed().await
}

async fn tls_echo_server(alpn: &[&[u8]]) -> Result<(asyncio::Server, u16), Error> {
    let server = asyncio::start_server(echo, "127.0.0.1", 0)
        .ssl(Certs::get().server_config(alpn))
        .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    Ok((server, port))
}

fn tls_err(e: &Error) -> &asyncio::TlsError {
    match e {
        Error::Tls(t) => t,
        other => panic!("expected Error::Tls, got {other:?}"),
    }
}

/// The certificate check that refused the handshake, if that is what failed.
fn cert_error(e: &Error) -> Option<&rustls::CertificateError> {
    match tls_err(e).rustls_error() {
        Some(rustls::Error::InvalidCertificate(c)) => Some(c),
        _ => None,
    }
}

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
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_echo_server(&[]))
        .unwrap()
        .unwrap();
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

/// A stale copy of the test CA: its name ("asyncio test CA"), a fresh `alg` key; written to
/// `file` in the test certificates' directory, whose path comes back.
fn stale_test_ca(file: &str, alg: &'static rcgen::SignatureAlgorithm) -> std::path::PathBuf {
    let key = rcgen::KeyPair::generate_for(alg).unwrap();
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(rcgen::DnType::CommonName, "asyncio test CA");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let stale = Certs::get().dir.join(file);
    std::fs::write(&stale, p.self_signed(&key).unwrap().pem()).unwrap();
    stale
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

#[test]
fn t8_t49_unknown_ca_refused() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
        let e = refused(other.into(), port, "localhost").await;
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
    });
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
        let expired = asyncio::tls::server_config(&certs.expired_cert, &certs.expired_key)?;
        let server = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl(expired)
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let e = refused(certs.client_config(&[]), port, "localhost").await;
        assert!(tls_err(&e).is_certificate_error(), "{e}");
        assert!(
            matches!(
                cert_error(&e),
                Some(
                    rustls::CertificateError::Expired
                        | rustls::CertificateError::ExpiredContext { .. }
                )
            ),
            "{e:?}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn t9_handshake_timeout_fires_on_a_silent_peer() {
    // A plain TCP listener that accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(BOUND)).unwrap();
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
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let other = asyncio::tls::client_config_with_roots(&Certs::get().other_ca)?;
        let e = refused(other.into(), port, "").await;
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
    });
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
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
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
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
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
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .ssl_require_close_notify(true)
            .await?;
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
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .ssl_require_close_notify(true)
            .await?;
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
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// S60, D7, D9: a server handler that fails after `StreamWriter::start_tls` (returns an
/// error or panics, its writer dropped with it or kept elsewhere) ends its connection through
/// the TLS layer, as `writer.close()` would: the client reads a clean end (close_notify), not
/// a bare TCP EOF, which is a truncation.
#[test]
fn s60_a_handler_failing_after_start_tls_closes_with_close_notify() {
    for how in ["error", "panic", "error, writer kept", "panic, writer kept"] {
        run(async move {
            let lp = asyncio::get_running_loop()?;
            let reports = util::capture_exceptions(&lp);
            let kept: Rc<RefCell<Option<StreamWriter>>> = Rc::default();
            let k = kept.clone();
            let server = asyncio::start_server(
                move |_r: StreamReader, mut w: StreamWriter| {
                    let k = k.clone();
                    async move {
                        // The client starts TLS once it has this line: no ClientHello can
                        // come before our start_tls and be read as plaintext.
                        w.write(b"ready\n")?;
                        w.start_tls(Certs::get().server_config(&[])).await?;
                        if how.ends_with("writer kept") {
                            *k.borrow_mut() = Some(w); // no unclosed-writer close on the way out
                        }
                        if how.starts_with("panic") {
                            panic!("the handler panics after start_tls");
                        }
                        Err::<(), Error>(Error::Io(io::Error::other("the handler fails")))
                    }
                },
                "127.0.0.1",
                0,
            )
            .await?;
            let port = server.sockets()[0].as_inet().unwrap().port();
            let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
            assert_eq!(reader.readline().await?, b"ready\n");
            writer
                .start_tls(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .ssl_require_close_notify(true)
                .await?;
            let end = reader.read(-1).await;
            assert!(
                matches!(end, Ok(ref b) if b.is_empty()),
                "{how}: the client saw {end:?}, not a clean TLS end"
            );
            assert!(writer.transport().close_notify_received(), "{how}");
            assert_eq!(reports.borrow().len(), 1, "{how}: {:?}", reports.borrow());
            writer.close();
            kept.borrow_mut().take();
            server.close();
            Ok(())
        });
    }
}

#[test]
fn t35_start_tls_on_a_closing_transport_fails_at_once() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let (_reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        writer.close();
        let e = writer
            .start_tls(Certs::get().client_config(&[]))
            .await
            .expect_err("T35");
        // Draining a closed writer may already report the loss (S49); either way, no hang.
        assert!(
            matches!(&e, Error::InvalidState(m) if m == "transport is closing")
                || e.kind() == io::ErrorKind::ConnectionReset,
            "{e:?}"
        );
        let lp = asyncio::get_running_loop()?;
        let t = writer.transport().clone();
        let p: asyncio::ProtocolRef = Rc::new(RefCell::new(Recorder::default()));
        let e = lp
            .start_tls(&t, p, Certs::get().client_config(&[]), false)
            .await
            .expect_err("T35");
        assert!(
            matches!(&e, Error::InvalidState(m) if m == "transport is closing"),
            "{e:?}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn t32_start_tls_side_must_match_the_configuration() {
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let lp = asyncio::get_running_loop()?;
        let (t, _p) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .await?;
        let p: asyncio::ProtocolRef = Rc::new(RefCell::new(Recorder::default()));
        let e = lp
            .start_tls(&t, p, Certs::get().client_config(&[]), true)
            .await
            .expect_err("T2: server side needs a ServerConfig");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        t.close();
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn t13_t14_t17_16_mib_both_ways_with_drain() {
    const TOTAL: usize = 16 << 20;
    fn byte(i: usize) -> u8 {
        (i % 251) as u8
    }
    run(async {
        let (server, port) = tls_echo_server(&[]).await?;
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        let writer = Rc::new(writer);
        let w = writer.clone();
        let sending = asyncio::spawn(async move {
            let chunk: Vec<u8> = (0..TOTAL).map(byte).collect();
            for part in chunk.chunks(256 * 1024) {
                w.write(part)?;
                w.drain().await?;
            }
            Ok::<_, Error>(())
        });
        let mut got = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        while got < TOTAL {
            let n = reader.read_into(&mut buf).await?;
            assert!(n > 0, "EOF after {got} bytes");
            for (k, &b) in buf[..n].iter().enumerate() {
                assert_eq!(b, byte(got + k), "byte {} differs", got + k);
            }
            got += n;
        }
        sending.await.expect("not cancelled")?;
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// A listener whose accepted sockets keep a small (64 KiB) receive buffer, without
/// autotuning, so a peer that stops reading fills quickly; and its port.
fn small_window_listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(64 * 1024)
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[test]
fn t13_t14_t15_write_flow_control_passes_through_the_layer() {
    // A TLS peer that completes the handshake, then stops reading until told; its small
    // receive buffer (no autotuning) keeps what the kernels absorb well below 16 MiB.
    let (listener, port) = small_window_listener();
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let config = Certs::get().server_config(&[]);
    let peer = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        let _ = wait_go.recv_timeout(BOUND);
        tls_common::drain(&mut tcp);
    });
    let lp = asyncio::EventLoop::new().unwrap();
    let (t, proto) = recorder_over_tls(&lp, port);
    let (low, high) = t.get_write_buffer_limits();
    assert_eq!((low, high), (128 * 1024, 512 * 1024), "T14: the TLS marks");
    t.write(&vec![7u8; 16 << 20]).unwrap();
    assert_eq!(
        proto.borrow().calls.last().map(String::as_str),
        Some("pause_writing"),
        "T14, T15: the raw transport paused us, our buffer passed the high mark"
    );
    assert!(
        t.get_write_buffer_size() >= high,
        "T13: held ciphertext counts: {}",
        t.get_write_buffer_size()
    );
    go.send(()).unwrap();
    util::run_until(&lp, 100_000, || {
        proto.borrow().calls.iter().any(|c| c == "resume_writing")
    });
    assert!(
        t.get_write_buffer_size() <= low,
        "T14: resumed at the low mark"
    );
    t.abort();
    util::run_until(&lp, 1000, || proto.borrow().lost);
    assert_eq!(
        proto.borrow().grammar(),
        [
            "connection_made",
            "pause_writing",
            "resume_writing",
            "connection_lost(None)"
        ],
        "T26: abort gives connection_lost(None)"
    );
    peer.join().unwrap();
}

#[test]
fn alpn_negotiated_on_both_sides() {
    run(async {
        let certs = Certs::get();
        let seen = Rc::new(RefCell::new(None));
        let s = seen.clone();
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                *s.borrow_mut() = writer.transport().alpn_protocol();
                async move { echo(reader, writer).await }
            },
            "127.0.0.1",
            0,
        )
        .ssl(certs.server_config(&[b"h2", b"http/1.1"]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[b"http/1.1"]))
            .await?;
        assert_eq!(
            writer.transport().alpn_protocol().as_deref(),
            Some(&b"http/1.1"[..])
        );
        assert!(
            matches!(writer.get_extra_info("alpn_protocol"), Some(ExtraInfo::Text(a)) if a == "http/1.1")
        );
        writer.close();
        writer.wait_closed().await?;
        assert_eq!(seen.borrow().as_deref(), Some(&b"http/1.1"[..]));
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// Python's `set_alpn_protocols` refuses a name of 0 or more than 255 bytes ("ALPN protocols
/// must be 1 to 255 in length"). Here the configuration is rustls', so the rule is checked
/// where it is used, before any byte is sent: before, an empty name panicked inside rustls as
/// the ClientHello was built, and a 256-byte one went out with a wrapped length (the server
/// answered decode_error). A server's list is checked before binding.
#[test]
fn alpn_names_outside_1_to_255_bytes_are_refused_before_any_io() {
    // A listener that never accepts: the TCP connect completes in its backlog, nothing answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let expect = "ALPN protocols must be 1 to 255 in length";
    run(async move {
        let certs = Certs::get();
        for bad in [&b""[..], &[b'a'; 256][..]] {
            let client = certs.client_config(&[b"h2", bad]);
            let e = asyncio::open_connection("127.0.0.1", port)
                .ssl(client.clone())
                .server_hostname("localhost")
                .await
                .expect_err("a bad ALPN name");
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(e.to_string(), expect);
            let lp = asyncio::get_running_loop()?;
            let (plain, protocol) = lp
                .create_connection(Recorder::default, "127.0.0.1", port)
                .await?;
            let e = lp
                .start_tls(&plain, protocol, client, false)
                .await
                .expect_err("a bad ALPN name, start_tls");
            assert_eq!(e.to_string(), expect);
            let (plain, protocol) = lp
                .create_connection(Recorder::default, "127.0.0.1", port)
                .await?;
            let e = lp
                .start_tls(&plain, protocol, certs.server_config(&[bad]), true)
                .ssl_handshake_timeout(Duration::from_secs(2))
                .await
                .expect_err("a bad ALPN name, server-side start_tls");
            assert_eq!(e.to_string(), expect);
            let e = asyncio::start_server(echo, "127.0.0.1", 0)
                .ssl(certs.server_config(&[bad]))
                .await
                .expect_err("a bad ALPN name, server");
            assert_eq!(e.to_string(), expect);
        }
        // The limits themselves are fine: 1 and 255 bytes.
        let alpn = negotiated_alpn(&[&[b'a'; 255], b"x"], certs.client_config(&[&[b'a'; 255]]));
        assert_eq!(alpn.await?, Some(vec![b'a'; 255]));
        Ok(())
    });
    drop(silent);
}

/// The ALPN protocol a TLS echo server offering `server_alpn` and a client with `client`
/// agree on; both closed after.
async fn negotiated_alpn(
    server_alpn: &[&[u8]],
    client: std::sync::Arc<rustls::ClientConfig>,
) -> Result<Option<Vec<u8>>, Error> {
    let (server, port) = tls_echo_server(server_alpn).await?;
    let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
        .ssl(client)
        .await?;
    let alpn = writer.transport().alpn_protocol();
    writer.close();
    writer.wait_closed().await?;
    server.close();
    server.wait_closed().await;
    Ok(alpn)
}

/// A list of ALPN names whose encoding overflows the ClientHello is refused before any I/O.
/// Each name may be 1 to 255 bytes, but the ClientHello carries the list, and the extensions
/// around it, under 16-bit lengths: 257 names of 255 bytes (65,792 bytes encoded) aborted the
/// process in rustls' encoder (an overflow assertion in a destructor, hit again while
/// unwinding), and a release build sent a wrapped length. The list may take 32 KiB encoded.
#[test]
fn an_alpn_list_too_long_for_a_client_hello_is_refused_before_any_io() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    // `n` names of 255 bytes, each with its length byte: 256 * n bytes encoded.
    let names = |n: u32| -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut name = vec![b'a'; 255];
                name[..4].copy_from_slice(&i.to_be_bytes());
                name
            })
            .collect()
    };
    let config = |names: &[Vec<u8>]| {
        let names: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
        Certs::get().client_config(&names)
    };
    run(async move {
        let at_the_limit = names(128); // 32,768 bytes encoded
        let mut over = at_the_limit.clone();
        over.push(b"x".to_vec()); // 2 bytes more
        for bad in [names(257), over] {
            let e = asyncio::open_connection("127.0.0.1", port)
                .ssl(config(&bad))
                .server_hostname("localhost")
                .await
                .expect_err("an ALPN list too long");
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert!(
                e.to_string().starts_with("ALPN protocol list too long: "),
                "{e}"
            );
        }
        // At the limit the handshake completes (a server without ALPN ignores the list).
        assert_eq!(negotiated_alpn(&[], config(&at_the_limit)).await?, None);
        Ok(())
    });
    drop(silent);
}

/// A PEM file that cannot be read is the OSError Python raises for it (`load_cert_chain`,
/// `load_verify_locations`, `create_default_context(cafile=…)`: `FileNotFoundError(2, …)`,
/// `IsADirectoryError(21, …)`): the errno survives in `raw_os_error()`, and the text leads with
/// it and names the file. Before, the error was rewrapped with the path and lost its errno.
#[test]
fn unreadable_pem_files_keep_their_errno_and_name_the_file() {
    let dir = util::temp_dir("pem-errno");
    let missing = dir.join("missing.pem");
    let certs = Certs::get();
    let cases: [(&str, Result<(), Error>, &std::path::Path, i32); 6] = [
        (
            "load_certs",
            asyncio::tls::load_certs(&missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "load_private_key",
            asyncio::tls::load_private_key(&missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "client_config_with_roots",
            asyncio::tls::client_config_with_roots(&missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "server_config, key",
            asyncio::tls::server_config(&certs.cert, &missing).map(drop),
            &missing,
            libc::ENOENT,
        ),
        (
            "load_certs, a directory",
            asyncio::tls::load_certs(&*dir).map(drop),
            &dir,
            libc::EISDIR,
        ),
        (
            "server_config, a directory",
            asyncio::tls::server_config(&*dir, &certs.key).map(drop),
            &dir,
            libc::EISDIR,
        ),
    ];
    for (what, r, path, errno) in cases {
        let e = r.expect_err(what);
        assert!(matches!(e, Error::Io(_)), "{what}: {e:?}");
        assert_eq!(e.raw_os_error(), Some(errno), "{what}: {e:?}");
        assert_eq!(
            e.kind(),
            io::Error::from_raw_os_error(errno).kind(),
            "{what}"
        );
        let text = io::Error::from_raw_os_error(errno).to_string();
        let strerror = text.split(" (os error").next().unwrap();
        assert_eq!(
            e.to_string(),
            format!("[Errno {errno}] {strerror}: '{}'", path.display()),
            "{what}"
        );
    }
}

/// A key that does not belong to the certificate is refused when the configuration is made,
/// as Python's `load_cert_chain` does (`[X509: KEY_VALUES_MISMATCH] key values mismatch`), in
/// words a newcomer can act on; before, the text was rustls' `keys may not be consistent:
/// KeyMismatch`. The same holds for a chain file that starts with its CA instead of the leaf.
#[test]
fn a_key_that_does_not_match_the_certificate_is_refused_in_plain_words() {
    let certs = Certs::get();
    let dir = util::temp_dir("key-mismatch");
    let ca_first = dir.join("ca-first.pem");
    let chain = std::fs::read_to_string(&certs.ca).unwrap()
        + &std::fs::read_to_string(&certs.cert).unwrap();
    std::fs::write(&ca_first, chain).unwrap();
    for (cert, key) in [(&certs.cert, &certs.client_key), (&ca_first, &certs.key)] {
        let e = asyncio::tls::server_config(cert, key).expect_err("a key of another certificate");
        let t = tls_err(&e);
        assert!(
            matches!(
                t.rustls_error(),
                Some(rustls::Error::InconsistentKeys(
                    rustls::InconsistentKeys::KeyMismatch
                ))
            ),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.starts_with("key values mismatch: "), "{text}");
        assert!(
            text.contains("does not belong to the certificate"),
            "{text}"
        );
        assert!(!text.contains("KeyMismatch"), "no rustls jargon: {text}");
    }
}

/// A password-protected key (PKCS#8 `ENCRYPTED PRIVATE KEY`, or OpenSSL's traditional
/// `Proc-Type: 4,ENCRYPTED` form) cannot be used here (Python's `load_cert_chain` would ask
/// for the password): the error says so and how to decrypt it. Before, the first read "no
/// private key found" and the second "not a valid PEM file: base64 decode error:
/// InvalidCharacter(45)".
#[test]
fn an_encrypted_private_key_is_named_as_such() {
    let dir = util::temp_dir("encrypted-key");
    let body = "MIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n";
    let pkcs8 = dir.join("pkcs8.pem");
    std::fs::write(
        &pkcs8,
        format!(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n{body}-----END ENCRYPTED PRIVATE KEY-----\n"
        ),
    )
    .unwrap();
    let traditional = dir.join("traditional.pem");
    std::fs::write(
        &traditional,
        format!(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
             DEK-Info: AES-256-CBC,E7ABC1C3656691E1B4851013642688A7\n\n{body}\
             -----END RSA PRIVATE KEY-----\n"
        ),
    )
    .unwrap();
    for path in [&pkcs8, &traditional] {
        for e in [
            asyncio::tls::load_private_key(path).map(drop).unwrap_err(),
            asyncio::tls::server_config(&Certs::get().cert, path)
                .map(drop)
                .unwrap_err(),
        ] {
            assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
            assert_eq!(
                e.to_string(),
                format!(
                    "the private key in {0} is encrypted (password-protected), which is not \
                     supported: decrypt it first, e.g. openssl pkey -in {0} -out key.pem",
                    path.display()
                )
            );
        }
    }
    // A file with no key at all still says that.
    let e = asyncio::tls::load_private_key(&Certs::get().cert).unwrap_err();
    assert!(e.to_string().starts_with("no private key found in "), "{e}");
}

/// A name rustls cannot take is refused before any I/O, saying why. Python encodes an
/// internationalized name to its IDNA form itself (`bücher.example` goes out as
/// `xn--bcher-kva.example`); rustls takes ASCII names only, so the error says which form to
/// give, also when the name came from the host (S6) rather than from `server_hostname`.
/// Before, both read only `invalid server_hostname "…"`.
#[test]
fn s6_a_server_hostname_rustls_cannot_take_says_why() {
    run(async {
        let config = Certs::get().client_config(&[]);
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl(config.clone())
            .server_hostname("bücher.example")
            .await
            .expect_err("not ASCII");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "invalid server_hostname \"bücher.example\": rustls takes ASCII names only; give an \
             internationalized name in its IDNA (xn--) form"
        );
        let e = asyncio::open_connection("bücher.example", 9)
            .ssl(config.clone())
            .await
            .expect_err("not ASCII, from the host");
        assert!(e.to_string().contains("in its IDNA (xn--) form"), "{e}");
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl(config)
            .server_hostname("a b")
            .await
            .expect_err("no DNS name");
        assert_eq!(
            e.to_string(),
            "invalid server_hostname \"a b\": neither a DNS name nor an IP address"
        );
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_server_ssl_timeout_for_plain_socket
// CPython: SslProtoHandshakeTests.test_handshake_timeout_zero (a zero handshake timeout is
// refused; test_handshake_timeout_negative cannot be written: a `Duration` is never negative).
#[test]
fn t1_s6_s8_l84_argument_rules_before_any_io() {
    run(async {
        let certs = Certs::get();
        // Port 9 on 127.0.0.1: nothing listens; every case must fail before connecting.
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl(certs.client_config(&[]))
            .ssl_handshake_timeout(Duration::ZERO)
            .await
            .expect_err("T1");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout should be a positive number, got 0.0"
        );
        let e = asyncio::open_connection("127.0.0.1", 9)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let e = asyncio::open_connection("127.0.0.1", 9)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("L84");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        let e = asyncio::open_unix_connection("/nonexistent/sock")
            .ssl(true)
            .await
            .expect_err("S8");
        assert_eq!(
            e.to_string(),
            "you have to pass server_hostname when using ssl"
        );
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection_sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S6/S7");
        assert_eq!(
            e.to_string(),
            "You must set server_hostname when using ssl without a host"
        );
        let e = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .expect_err("L96");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        Ok(())
    });
}

// S8, L111: the Unix entry points ask for server_hostname with ssl also when given a socket
// in place of a path (CPython's create_unix_connection: "you have to pass server_hostname when
// using ssl", whatever it connects). Ours used to answer with create_connection's rule for a
// socket ("You must set server_hostname when using ssl without a host").
#[test]
fn s8_a_unix_entry_given_a_sock_asks_for_server_hostname_with_ssl() {
    run(async {
        let certs = Certs::get();
        let want = "you have to pass server_hostname when using ssl";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection("")
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S8 with sock");
        assert_eq!(e.to_string(), want);
        let (a, _b) = asyncio::socketpair()?;
        let lp = asyncio::get_running_loop()?;
        let e = lp
            .create_unix_connection(Recorder::default, "")
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .map(drop)
            .expect_err("S8 with sock, the loop method");
        assert_eq!(e.to_string(), want);
        Ok(())
    });
}

// L111, L114: the loop's own Unix methods check their TLS keywords as CPython's do, before any
// I/O (the path is os.devnull or a name that does not exist).
// CPython: SelectorEventLoopUnixSocketTests.test_create_unix_connection_nossl_serverhost,
// SelectorEventLoopUnixSocketTests.test_create_unix_connection_ssl_noserverhost,
// SelectorEventLoopUnixSocketTests.test_create_unix_connection_ssl_timeout_with_plain_sock,
// SelectorEventLoopUnixSocketTests.test_create_unix_server_ssl_timeout_with_plain_sock.
#[test]
fn l111_l114_test_create_unix_connection_and_server_tls_keywords() {
    let dir = util::temp_dir("l111-tls-keywords");
    let spam = dir.join("spam");
    run(async move {
        let lp = asyncio::get_running_loop()?;
        let e = lp
            .create_unix_connection(Recorder::default, "/dev/null")
            .server_hostname("spam")
            .await
            .map(drop)
            .expect_err("nossl_serverhost");
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let e = lp
            .create_unix_connection(Recorder::default, "/dev/null")
            .ssl(true)
            .await
            .map(drop)
            .expect_err("ssl_noserverhost");
        assert_eq!(
            e.to_string(),
            "you have to pass server_hostname when using ssl"
        );
        let e = lp
            .create_unix_connection(Recorder::default, &spam)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("connection ssl_timeout_with_plain_sock");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        let e = lp
            .create_unix_server(Recorder::default, &spam)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("server ssl_timeout_with_plain_sock");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        assert!(!spam.exists(), "refused before binding");
        assert_eq!(lp.stats().io_registrations, 0);
        Ok(())
    });
}

// L111, S6, S8, L84: CPython's create_unix_connection checks its TLS keywords before its path
// and sock, so with both given the TLS keyword's error comes first; a zero timeout it checks
// later (in SSLProtocol), after them. Ours reported the path-and-sock conflict first.
#[test]
fn l111_a_unix_entry_checks_its_tls_keywords_before_path_and_sock() {
    run(async {
        let certs = Certs::get();
        let lp = asyncio::get_running_loop()?;
        let path = "/nonexistent/sock";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_unix_connection(Recorder::default, path)
            .sock(a)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S8");
        assert_eq!(
            e.to_string(),
            "you have to pass server_hostname when using ssl"
        );
        // A zero timeout is CPython's later check: the conflict comes first.
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_unix_connection(path)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .ssl_handshake_timeout(Duration::ZERO)
            .await
            .expect_err("T1 after L111");
        assert_eq!(
            e.to_string(),
            "path and sock can not be specified at the same time"
        );
        Ok(())
    });
}

// L85, S6, L84: CPython's create_connection checks server_hostname, ssl without a host and
// the TLS timeouts without ssl before "host/port and sock can not be specified at the same
// time"; a host given with `sock` still names the server for the ssl rule (so with ssl and
// that host the conflict is the error); a zero timeout is checked later (in SSLProtocol).
// Ours reported the conflict first.
#[test]
fn l85_s6_create_connection_checks_its_tls_keywords_before_host_and_sock() {
    run(async {
        let certs = Certs::get();
        let lp = asyncio::get_running_loop()?;
        let conflict = "host/port and sock can not be specified at the same time";
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("127.0.0.1", 9)
            .sock(a)
            .server_hostname("x")
            .await
            .expect_err("S6");
        assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_connection(Recorder::default, "127.0.0.1", 9)
            .sock(a)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        // A port and no host: nothing names the server.
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("", 9)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("S6/S7");
        assert_eq!(
            e.to_string(),
            "You must set server_hostname when using ssl without a host"
        );
        // The host names the server: the TLS keywords pass, the conflict is the error.
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("localhost", 9)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .expect_err("L85");
        assert_eq!(e.to_string(), conflict);
        let (a, _b) = asyncio::socketpair()?;
        let e = asyncio::open_connection("localhost", 9)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .ssl_handshake_timeout(Duration::ZERO)
            .await
            .expect_err("T1 after L85");
        assert_eq!(e.to_string(), conflict);
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_no_ssl_server_hostname_errors
#[test]
fn l84_test_create_connection_no_ssl_server_hostname_errors() {
    // Without ssl a server_hostname is refused, an empty one too (Python's '' is not None).
    run(async {
        let lp = asyncio::get_running_loop()?;
        for name in ["", "python.org"] {
            let e = lp
                .create_connection(Recorder::default, "127.0.0.1", 9)
                .server_hostname(name)
                .await
                .map(drop)
                .expect_err("L84");
            assert!(matches!(e, Error::InvalidArgument(_)), "{name:?}: {e:?}");
            assert_eq!(e.to_string(), "server_hostname is only meaningful with ssl");
        }
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_ssl_server_hostname_errors
#[test]
fn l84_test_create_connection_ssl_server_hostname_errors() {
    // With ssl and no host (Python's '' and None are both "" here), or a socket and no host,
    // nothing names the server.
    run(async {
        let certs = Certs::get();
        let lp = asyncio::get_running_loop()?;
        let want = "You must set server_hostname when using ssl without a host";
        let e = lp
            .create_connection(Recorder::default, "", 80)
            .ssl(certs.client_config(&[]))
            .await
            .map(drop)
            .expect_err("no host");
        assert_eq!(e.to_string(), want);
        let (a, _b) = asyncio::socketpair()?;
        let e = lp
            .create_connection(Recorder::default, "", 0)
            .sock(a)
            .ssl(certs.client_config(&[]))
            .await
            .map(drop)
            .expect_err("sock, no host");
        assert_eq!(e.to_string(), want);
        assert_eq!(lp.stats().io_registrations, 0);
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_ssl_timeout_for_plain_socket
#[test]
fn l84_test_create_connection_ssl_timeout_for_plain_socket() {
    run(async {
        let lp = asyncio::get_running_loop()?;
        let e = lp
            .create_connection(Recorder::default, "127.0.0.1", 9)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .map(drop)
            .expect_err("L84");
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        Ok(())
    });
}

// CPython: BaseEventLoopWithSelectorTests.test_create_connection_ssl_server_hostname_default
#[test]
fn l84_test_create_connection_ssl_server_hostname_default() {
    // With ssl and no server_hostname the host is the name checked: the leaf is for
    // `localhost` and `127.0.0.1`, so connecting as "localhost" passes and the address,
    // given as a host name it is not, fails.
    run(async {
        let lp = asyncio::get_running_loop()?;
        let (_server, port) = tls_echo_server(&[]).await?;
        let (t, _p) = lp
            .create_connection(Recorder::default, "localhost", port)
            .ssl(Certs::get().client_config(&[]))
            .await?;
        t.close();
        let e = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("python.org")
            .await
            .map(drop)
            .expect_err("the name given replaces the host");
        assert!(cert_error(&e).is_some(), "{e:?}");
        Ok(())
    });
}

/// Answers one request line with a response whose body is `Test message`, then closes: the
/// `run_test_server` of CPython's stream tests, over TLS.
async fn http_like(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    reader.readline().await?;
    writer.write(b"HTTP/1.0 200 OK\r\n\r\nTest message")?;
    writer.close();
    writer.wait_closed().await
}

/// CPython's `_basetest_open_connection_no_loop_ssl`: a request, the whole response up to
/// EOF, and no report to the loop's exception handler.
async fn get_test_message(reader: StreamReader, writer: StreamWriter) -> Result<(), Error> {
    writer.write(b"GET / HTTP/1.0\r\n\r\n")?;
    let data = reader.read(-1).await?;
    assert!(data.ends_with(b"\r\n\r\nTest message"), "{data:?}");
    writer.close();
    writer.wait_closed().await
}

// CPython: test_streams.StreamTests.test_open_connection_no_loop_ssl
#[test]
fn s1_t2_t38_test_open_connection_no_loop_ssl() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.message.clone())
            },
        ));
        let server = asyncio::start_server(http_like, "127.0.0.1", 0)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .await?;
        get_test_message(reader, writer).await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

// CPython: test_streams.StreamTests.test_open_unix_connection_no_loop_ssl
#[test]
fn s3_s8_t3_test_open_unix_connection_no_loop_ssl() {
    // Over a Unix socket with server_hostname '' (no name to check, as Python's '').
    let dir = util::temp_dir("s3-no-loop-ssl");
    let path = dir.join("s.sock");
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    run(async move {
        let lp = asyncio::get_running_loop()?;
        lp.set_exception_handler(Some(
            move |_: &asyncio::LoopHandle, ctx: &asyncio::ExceptionContext| {
                s.borrow_mut().push(ctx.message.clone())
            },
        ));
        let server = asyncio::start_unix_server(http_like, &path)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        let (reader, writer) = asyncio::open_unix_connection(&path)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("")
            .await?;
        get_test_message(reader, writer).await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());
}

#[test]
fn s9_server_tls_keywords_need_ssl_and_are_checked_before_binding() {
    // S9: a TLS timeout without ssl is refused (the "… is only meaningful with ssl" text), and
    // with ssl a zero timeout is refused (T1), by start_server, start_unix_server and the
    // loop's create_unix_server alike, before the socket file exists. (ssl=True is not
    // writable here: `ssl` takes a `rustls::ServerConfig`.)
    let dir = util::temp_dir("s9-tls");
    let path = dir.join("s.sock");
    run(async move {
        let lp = asyncio::get_running_loop()?;
        let e = asyncio::start_unix_server(echo, &path)
            .ssl_handshake_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(
            e.to_string(),
            "ssl_handshake_timeout is only meaningful with ssl"
        );
        let e = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        let e = lp
            .create_unix_server(Recorder::default, &path)
            .ssl_shutdown_timeout(Duration::from_secs(1))
            .await
            .expect_err("S9");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout is only meaningful with ssl"
        );
        let e = asyncio::start_unix_server(echo, &path)
            .ssl(Certs::get().server_config(&[]))
            .ssl_shutdown_timeout(Duration::ZERO)
            .await
            .expect_err("T1");
        assert_eq!(
            e.to_string(),
            "ssl_shutdown_timeout should be a positive number, got 0.0"
        );
        assert!(!path.exists(), "S9: refused before binding");
        Ok(())
    });
}

#[test]
fn t8_failed_handshake_never_reaches_the_protocol() {
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_echo_server(&[]))
        .unwrap()
        .unwrap();
    let (factory, made) = forwarding_recorder();
    let connect = lp
        .create_connection(factory, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("wrong.example");
    let r = lp
        .run_until_complete(asyncio::timeout(BOUND, connect.into_future()))
        .unwrap()
        .unwrap();
    assert!(r.is_err());
    // The server's side ends too; by then every callback of ours has run: none may reach
    // the protocol (T8).
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    lp.run_once(Some(Duration::ZERO)).unwrap();
    let rec = made.borrow().clone().expect("factory ran");
    assert!(rec.borrow().calls.is_empty(), "{:?}", rec.borrow().calls);
    server.close();
}

#[test]
fn t32_tls_in_tls_through_loop_start_tls() {
    run(async {
        // A STARTTLS exchange inside a TLS connection: both sides run a second TLS session
        // whose records are the outer session's plaintext.
        let certs = Certs::get();
        let server = asyncio::start_server(
            |reader: StreamReader, mut writer: StreamWriter| async move {
                assert_eq!(reader.readline().await?, b"STARTTLS\n");
                writer.write(b"GO\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                writer.close();
                writer.wait_closed().await
            },
            "127.0.0.1",
            0,
        )
        .ssl(certs.server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"STARTTLS\n")?;
        assert_eq!(reader.readline().await?, b"GO\n");
        writer
            .start_tls(certs.client_config(&[]))
            .server_hostname("localhost")
            .await?;
        writer.write(b"inner\n")?;
        assert_eq!(reader.readline().await?, b"inner\n");
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

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
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_echo_server(&[]))
        .unwrap()
        .unwrap();
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
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_echo_server(&[]))
        .unwrap()
        .unwrap();
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

// ───────────── issue 17: typed failures after the handshake, no hang after start_tls ─────────────

/// `fut`'s error, or a panic naming `what` if it succeeds or never ends (bounded).
async fn fails<T: std::fmt::Debug>(
    what: &str,
    fut: impl std::future::Future<Output = Result<T, Error>>,
) -> Error {
    match asyncio::timeout(Duration::from_secs(10), fut).await {
        Err(Error::Timeout) => panic!("{what} never completes"),
        Err(e) => panic!("{what}: the bound failed: {e:?}"),
        Ok(Ok(v)) => panic!("{what} succeeded: {v:?}"),
        Ok(Err(e)) => e,
    }
}

/// Every read, drain and wait_closed after a failure ends with an error; returns them.
async fn every_waiter_fails(reader: &StreamReader, writer: &StreamWriter) -> Vec<Error> {
    vec![
        fails("read", reader.read(-1)).await,
        fails("readline", reader.readline()).await,
        fails("drain", writer.drain()).await,
        fails("wait_closed", writer.wait_closed()).await,
        fails("a second wait_closed", writer.wait_closed()).await,
    ]
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Certs::get().server_config(&[]);
    let peer = std::thread::spawn(move || {
        use std::io::Write;
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
        while conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        tcp.write_all(&[0x17, 0x03, 0x03, 0x00, 0x20]).unwrap();
        tcp.write_all(&[0x55; 0x20]).unwrap();
        tls_common::drain(&mut tcp);
    });
    run(async {
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
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
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Certs::get().server_config(&[]);
    let peer = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(BOUND)).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).unwrap();
        }
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

/// A plain server whose handler runs `then` on each connection; its result is kept.
async fn plain_server<F, Fut>(
    then: F,
) -> Result<(asyncio::Server, u16, Rc<RefCell<Vec<String>>>), Error>
where
    F: Fn(StreamReader, StreamWriter, Rc<RefCell<Vec<String>>>) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let then = Rc::new(then);
    let server = asyncio::start_server(
        move |r: StreamReader, w: StreamWriter| {
            let (s, then) = (s.clone(), then.clone());
            async move { then(r, w, s).await }
        },
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    Ok((server, port, seen))
}

/// A [`plain_server`] whose handler answers with `start_tls` (server side) and records how
/// it ended, `None` or the error.
async fn start_tls_server_recording(
) -> Result<(asyncio::Server, u16, Rc<RefCell<Vec<String>>>), Error> {
    plain_server(|r, mut w, seen| async move {
        let e = w.start_tls(Certs::get().server_config(&[])).await.err();
        seen.borrow_mut().push(format!("{e:?}"));
        drop(r);
        Ok(())
    })
    .await
}

/// Waits (bounded by the test's bound) until the server's handler has recorded `n` entries.
async fn handler_done(seen: &Rc<RefCell<Vec<String>>>, n: usize) {
    while seen.borrow().len() < n {
        asyncio::yield_now().await;
    }
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

// ───────────── issue 17: server_hostname("") with your own client configuration ─────────────

/// Connects with `config` and `server_hostname("")`; the handshake's result.
async fn nameless(config: std::sync::Arc<rustls::ClientConfig>, port: u16) -> Result<(), Error> {
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
        .ssl(config)
        .server_hostname("")
        .await?;
    assert!(
        writer
            .transport()
            .get_extra_info("server_hostname")
            .is_none(),
        "no name was used"
    );
    writer.write(b"ping\n")?;
    assert_eq!(reader.readline().await?, b"ping\n");
    writer.close();
    writer.wait_closed().await
}

#[test]
fn t3_t48_empty_server_hostname_with_own_config_checks_the_chain_only() {
    run(async {
        let certs = Certs::get();
        // A server whose certificate names neither the placeholder nor anything we pass.
        let (server, port) = tls_echo_server(&[]).await?;
        nameless(certs.client_config(&[]), port).await?;
        // The chain is still checked: an unknown CA is refused …
        let other = asyncio::tls::client_config_with_roots(&certs.other_ca)?;
        let e = nameless(other.into(), port).await.expect_err("unknown CA");
        assert!(
            matches!(
                cert_error(&e),
                Some(rustls::CertificateError::UnknownIssuer)
            ),
            "{e:?}"
        );
        assert!(tls_err(&e).is_certificate_error());
        server.close();
        server.wait_closed().await;
        // … and so is an expired certificate.
        let expired = asyncio::tls::server_config(&certs.expired_cert, &certs.expired_key)?;
        let server = asyncio::start_server(echo, "127.0.0.1", 0)
            .ssl(expired)
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let e = nameless(certs.client_config(&[]), port)
            .await
            .expect_err("expired");
        assert!(
            matches!(
                cert_error(&e),
                Some(
                    rustls::CertificateError::Expired
                        | rustls::CertificateError::ExpiredContext { .. }
                )
            ),
            "{e:?}"
        );
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// `get_extra_info("server_hostname")`: the name a client used, the SNI a server received.
fn sni_of(t: &Transport) -> Option<String> {
    match t.get_extra_info("server_hostname") {
        Some(ExtraInfo::Text(name)) => Some(name),
        _ => None,
    }
}

/// `ssl(true)` with `server_hostname("")` (T3, T48): the default context's roots (here our CA,
/// through `SSL_CERT_FILE`) still verify the chain, but no SNI is sent and no name is checked.
/// And T47: `ssl(true)` offers TLS 1.3 and 1.2 only, and verifies against those roots (our CA
/// trusted, an unrelated one not). In a child process: the variable is set there, before any
/// thread reads the environment.
#[test]
fn t3_t47_t48_ssl_true_verifies_against_the_roots_and_offers_tls12_tls13_only() {
    util::in_child(
        "ASYNCIO_TEST_DEFAULT_ROOTS_CHILD",
        "t3_t47_t48_ssl_true_verifies_against_the_roots_and_offers_tls12_tls13_only",
        "default-roots child: ok",
        default_roots_child,
    );
}

/// The versions a ClientHello record offers: its supported_versions extension (TLS 1.3), or
/// its legacy version when it has none.
fn offered_versions(record: &[u8]) -> Vec<u16> {
    assert_eq!(record[0], 0x16, "a handshake record");
    let hello = &record[5..];
    assert_eq!(hello[0], 1, "a ClientHello");
    let u16_at = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
    let legacy = u16_at(hello, 4);
    let mut i = 4 + 2 + 32; // type, length, legacy_version, random
    i += 1 + hello[i] as usize; // session id
    i += 2 + u16_at(hello, i) as usize; // cipher suites
    i += 1 + hello[i] as usize; // compression methods
    let end = i + 2 + u16_at(hello, i) as usize;
    i += 2;
    while i + 4 <= end {
        let (kind, len) = (u16_at(hello, i), u16_at(hello, i + 2) as usize);
        if kind == 0x002b {
            let list = &hello[i + 5..i + 5 + hello[i + 4] as usize];
            return list
                .chunks(2)
                .map(|v| u16::from_be_bytes([v[0], v[1]]))
                .collect();
        }
        i += 4 + len;
    }
    vec![legacy]
}

/// The child of the test above.
fn default_roots_child() {
    let certs = Certs::get();
    // One test thread in this process (`--test-threads=1`, this test only): nothing reads the
    // environment while it changes.
    std::env::set_var("SSL_CERT_FILE", &certs.ca);
    std::env::remove_var("SSL_CERT_DIR");
    let sni: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
    let seen = sni.clone();
    run(async move {
        // T47: the versions ssl(true) offers, from its ClientHello.
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let grab = asyncio::to_thread(move || {
            let (mut s, _) = listener.accept()?;
            s.set_read_timeout(Some(BOUND))?;
            let mut rec = vec![0u8; 5];
            io::Read::read_exact(&mut s, &mut rec)?;
            rec.resize(5 + u16::from_be_bytes([rec[3], rec[4]]) as usize, 0);
            io::Read::read_exact(&mut s, &mut rec[5..])?;
            Ok::<_, io::Error>(rec) // then the socket closes: the handshake fails
        });
        let attempt = asyncio::open_connection("127.0.0.1", port)
            .ssl(true)
            .server_hostname("localhost");
        let (hello, attempt) = futures_util::future::join(grab, attempt.into_future()).await;
        assert!(attempt.is_err(), "the peer said nothing");
        assert_eq!(
            offered_versions(&hello??),
            [0x0304, 0x0303],
            "T47: TLS 1.3 and 1.2, nothing older"
        );
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            seen.borrow_mut().push(sni_of(writer.transport()));
            echo(reader, writer)
        };
        // The certificate names localhost and 127.0.0.1, never the placeholder a nameless
        // client verifies against.
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let connect = |name: &'static str| async move {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(true)
                .server_hostname(name)
                .await?;
            let used = sni_of(writer.transport());
            writer.write(b"ping\n")?;
            assert_eq!(reader.readline().await?, b"ping\n");
            writer.close();
            writer.wait_closed().await?;
            Ok::<_, Error>(used)
        };
        // Controls: the default context trusts our CA (T47: its roots), and it checks names.
        assert_eq!(connect("localhost").await?.as_deref(), Some("localhost"));
        let e = connect("wrong.example")
            .await
            .expect_err("T2: the name is checked");
        assert!(
            matches!(
                cert_error(&e),
                Some(
                    rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{e:?}"
        );
        // T3: "" connects, with no name on either side.
        assert_eq!(connect("").await?, None, "the client used no name");
        // T48: the chain is still verified: under roots that do not hold our CA, "" fails.
        std::env::set_var("SSL_CERT_FILE", &certs.other_ca);
        let e = connect("").await.expect_err("T48: unknown CA");
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
    });
    // SNI as the server saw it: the named connections (the refused one included) sent one, the
    // nameless one did not; the last handshake failed before the handler ran.
    assert_eq!(
        *sni.borrow(),
        [Some("localhost".to_string()), None],
        "server-side SNI per connection that reached the handler"
    );
    println!("default-roots child: ok");
}

#[test]
fn t3_s55_start_tls_without_a_name_with_own_config_checks_the_chain_only() {
    run(async {
        let (server, port) = plain_server(|r, mut w, seen| async move {
            let up = w.start_tls(Certs::get().server_config(&[])).await;
            seen.borrow_mut()
                .push(format!("{:?}", up.as_ref().map(drop)));
            if up.is_ok() {
                let line = r.readline().await?;
                w.write(&line)?;
                w.close();
                w.wait_closed().await?;
            }
            Ok(())
        })
        .await
        .map(|(s, p, _)| (s, p))?;
        let (reader, mut writer) = asyncio::open_connection("127.0.0.1", port).await?;
        // No server_hostname: loop.start_tls never derives one (S55), and the chain is checked.
        writer.start_tls(Certs::get().client_config(&[])).await?;
        writer.write(b"upgraded\n")?;
        assert_eq!(reader.readline().await?, b"upgraded\n");
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// Session resumption between our client and our server (issue #16): the second connection
/// with the same client configuration resumes, both ends report it, and a connection with
/// another configuration (another session cache) does a full handshake.
#[test]
fn d13_our_client_resumes_its_session_with_our_server() {
    let certs = Certs::get();
    let server_side: Rc<RefCell<Vec<Option<bool>>>> = Rc::default();
    let seen = server_side.clone();
    let resumed = run(async move {
        let handler = move |reader: StreamReader, writer: StreamWriter| {
            seen.borrow_mut().push(writer.transport().session_resumed());
            echo(reader, writer)
        };
        let server = asyncio::start_server(handler, "127.0.0.1", 0)
            .ssl(certs.server_config(&[]))
            .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let shared = certs.client_config(&[]);
        let mut resumed = Vec::new();
        for config in [shared.clone(), shared, certs.client_config(&[])] {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(config)
                .server_hostname("localhost")
                .await?;
            writer.write(b"ping\n")?;
            assert_eq!(reader.readline().await?, b"ping\n"); // the ticket came before it
            resumed.push(writer.transport().session_resumed());
            writer.close();
            writer.wait_closed().await?;
        }
        server.close();
        server.wait_closed().await;
        Ok(resumed)
    });
    assert_eq!(
        resumed,
        [Some(false), Some(true), Some(false)],
        "client side"
    );
    assert_eq!(
        *server_side.borrow(),
        [Some(false), Some(true), Some(false)],
        "server side"
    );
}

/// A plain transport has no TLS session to speak of.
#[test]
fn session_resumed_is_none_without_tls() {
    run(async {
        let (a, b) = asyncio::socketpair()?;
        let (_r, w) = asyncio::open_connection_sock(a).await?;
        let (_r2, w2) = asyncio::open_connection_sock(b).await?;
        assert_eq!(w.transport().session_resumed(), None);
        w.close();
        w2.close();
        Ok(())
    });
}

/// Answers each piece of data with "roger" (test_events.py's MyProto in
/// test_connect_accepted_socket).
fn roger() -> Recorder {
    Recorder {
        on_data: Some(Box::new(|t: &Transport, _: &[u8]| {
            t.write(b"roger").unwrap()
        })),
        ..Default::default()
    }
}

// Port of test_events.py test_connect_accepted_socket with server_ssl: the server side of
// TLS on a socket our own listener accepted; the result comes after the handshake and the
// protocol's connection_made.
#[test]
fn t37_l95_connect_accepted_socket_serves_tls() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let client = asyncio::spawn(async move {
            let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .await?;
            writer.write(b"test data")?;
            let answer = reader.readexactly(5).await?;
            writer.close();
            Ok::<_, Error>(answer)
        });
        let (accepted, _) = asyncio::to_thread(move || listener.accept()).await??;
        let lp = asyncio::get_running_loop()?;
        let (transport, proto) = lp
            .connect_accepted_socket(roger, accepted)
            .ssl(Certs::get().server_config(&[]))
            .await?;
        assert_eq!(proto.borrow().calls[0], "connection_made");
        assert!(
            transport.get_extra_info("peercert").is_none(),
            "no client certificate asked"
        );
        assert!(transport.get_extra_info("cipher").is_some(), "TLS is on");
        assert!(
            matches!(transport.get_extra_info("server_hostname"), Some(ExtraInfo::Text(n)) if n == "localhost"),
            "the SNI the client sent"
        );
        assert_eq!(client.await.expect("client task")?, b"roger");
        assert_eq!(proto.borrow().data, b"test data");
        transport.close();
        Ok(())
    });
}

// T37 with a client that never speaks TLS: the handshake times out, the call fails, and the
// protocol never hears of the connection.
#[test]
fn t37_t9_connect_accepted_socket_handshake_failure_is_the_error() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let silent = std::net::TcpStream::connect(("127.0.0.1", port))?;
        let (accepted, _) = listener.accept()?;
        let made = Rc::new(RefCell::new(false));
        let m = made.clone();
        let lp = asyncio::get_running_loop()?;
        let r = lp
            .connect_accepted_socket(
                move || {
                    *m.borrow_mut() = true;
                    Recorder::default()
                },
                accepted,
            )
            .ssl(Certs::get().server_config(&[]))
            .ssl_handshake_timeout(Duration::from_millis(50))
            .await;
        let e = r.err().expect("the handshake failed");
        // T9: Python's ConnectionAbortedError("SSL handshake is taking longer than …").
        assert!(
            matches!(&e, Error::Io(io) if io.kind() == io::ErrorKind::ConnectionAborted),
            "{e:?}"
        );
        assert!(
            *made.borrow(),
            "the protocol was made (Python makes it first)"
        );
        // The socket was closed: the silent client reads EOF (or a reset).
        let silent = asyncio::to_thread(move || {
            let mut s = silent;
            s.set_read_timeout(Some(BOUND))?;
            let mut buf = [0u8; 1];
            std::io::Read::read(&mut s, &mut buf)
        })
        .await?;
        assert!(matches!(silent, Ok(0)) || silent.is_err(), "{silent:?}");
        Ok(())
    });
}

// ───────────── loop.start_tls over a transport whose writing is paused ─────────────

/// Plaintext written before the upgrade: far above the raw transport's 64 KiB mark even after
/// the kernels (a 64 KiB receive buffer on the peer) took their share.
const FILLER: usize = 8 << 20;

/// A peer that reads nothing until told, then takes the [`FILLER`] plaintext, runs the server
/// side of TLS and returns the plaintext it got before our close_notify (answered).
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

/// Runs loop turns until `cond`, for at most [`BOUND`] in all.
fn turn_until(lp: &asyncio::EventLoop, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + BOUND;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: not reached within {BOUND:?}"
        );
        lp.run_once(Some(Duration::from_millis(100))).unwrap();
    }
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
    let (t, proto) = lp
        .run_until_complete(asyncio::timeout(
            BOUND,
            lp.create_connection(Recorder::default, "127.0.0.1", port)
                .into_future(),
        ))
        .unwrap()
        .unwrap()
        .unwrap();
    let app: asyncio::ProtocolRef = proto.clone();
    let upgrade = lp
        .start_tls(&t, app, Certs::get().client_config(&[]), false)
        .server_hostname("localhost");
    go.send(()).unwrap();
    // The write and the swap in one turn: a pause queued for a held protocol is still queued.
    let (t2, p2) = (t.clone(), proto.clone());
    let tls = lp
        .run_until_complete(asyncio::timeout(BOUND, async move {
            let held = hold.then(|| p2.borrow_mut());
            t2.write(&vec![0u8; FILLER])?;
            drop(held);
            assert!(t2.buffer_info().writing_paused, "the raw transport is full");
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

// ───────────── T29: a protocol's misuse inside the layer is reported ─────────────

/// A buffered protocol whose `get_buffer` lends nothing (a bug in it).
#[derive(Default)]
struct EmptyBuffer {
    transport: Option<Transport>,
    lost: Option<Option<io::ErrorKind>>,
}

impl asyncio::Protocol for EmptyBuffer {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"ping\n").unwrap();
        self.transport = Some(t);
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.lost = Some(exc.map(|e| e.kind()));
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for EmptyBuffer {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        &mut []
    }
    fn buffer_updated(&mut self, _n: usize) {}
}

/// T29: an empty buffer from `get_buffer` is not an OS or TLS error (Python would raise a
/// RuntimeError), so besides ending the connection it reaches the exception handler, as the
/// socket transport reports the same misuse (L51), instead of a debug log nobody sees.
#[test]
fn t29_l51_empty_get_buffer_over_tls_reaches_the_exception_handler() {
    let lp = asyncio::EventLoop::new().unwrap();
    let reports = util::capture_exceptions(&lp.handle());
    let (server, proto) = lp
        .run_until_complete(asyncio::timeout(BOUND, async {
            let (server, port) = tls_echo_server(&[]).await?;
            let (_t, proto) = asyncio::get_running_loop()?
                .create_connection(EmptyBuffer::default, "127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost")
                .await?;
            Ok::<_, Error>((server, proto))
        }))
        .unwrap()
        .expect("bounded")
        .expect("connect");
    turn_until(&lp, "connection_lost", || proto.borrow().lost.is_some());
    assert!(
        matches!(proto.borrow().lost, Some(Some(_))),
        "the connection ends with the error"
    );
    let reports = reports.borrow().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("get_buffer() returned an empty buffer"),
        "{reports:?}"
    );
    server.close();
}

/// T33: start_tls pauses the raw transport's reading for the swap and resumes it, as
/// CPython does; when the swap is refused (the protocol is busy: `set_protocol` from inside
/// one of its own callbacks, something CPython cannot refuse) the transport is left as the
/// caller had it, so a reading paused before the call stays paused.
#[test]
fn t33_a_refused_start_tls_leaves_a_paused_transport_paused() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let lp = asyncio::EventLoop::new().unwrap();
    let (t, proto) = lp
        .run_until_complete(asyncio::timeout(
            BOUND,
            lp.create_connection(Recorder::default, "127.0.0.1", port)
                .into_future(),
        ))
        .unwrap()
        .unwrap()
        .unwrap();
    let (_peer, _) = listener.accept().unwrap();
    t.pause_reading();
    let app: asyncio::ProtocolRef = proto.clone();
    let upgrade = lp.start_tls(&t, app, Certs::get().client_config(&[]), false);
    let held = proto.borrow_mut(); // as if start_tls ran inside one of its callbacks
    let r = lp
        .run_until_complete(asyncio::timeout(BOUND, upgrade.into_future()))
        .unwrap()
        .expect("bounded");
    drop(held);
    assert!(matches!(r, Err(Error::InvalidState(_))), "{r:?}");
    assert!(!t.is_reading(), "the caller's pause_reading is undone");
    t.close();
}

/// A TLS server on `lp` running `handler` per connection, and a `Recorder` client connected
/// to it over TLS: the set-up of the tests that hold the client's app protocol.
fn held_app_pair<H, Fut>(
    lp: &asyncio::EventLoop,
    handler: H,
) -> (asyncio::Server, Transport, Rc<RefCell<Recorder>>)
where
    H: Fn(StreamReader, StreamWriter) -> Fut + 'static,
    Fut: std::future::Future<Output = Result<(), Error>> + 'static,
{
    let certs = Certs::get();
    let server = lp
        .run_until_complete(
            asyncio::start_server(handler, "127.0.0.1", 0).ssl(certs.server_config(&[])),
        )
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (t, proto) = lp
        .run_until_complete(
            lp.create_connection(Recorder::default, "127.0.0.1", port)
                .ssl(certs.client_config(&[]))
                .server_hostname("localhost")
                .into_future(),
        )
        .unwrap()
        .unwrap();
    (server, t, proto)
}

#[test]
fn l44_t22_a_tls_app_protocol_held_across_a_long_await_is_retried_sparingly_then_gets_its_data() {
    // As over a plain socket (tests/transport.rs): the TLS layer waits for an app protocol a
    // user task keeps borrowed across a 300 ms sleep, without spinning the loop, and then
    // delivers what came meanwhile.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead
        w.write(b"while held")?;
        w.drain().await?;
        let _ = r.read(-1).await;
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        proto.try_borrow().is_ok_and(|p| p.data == b"while held")
    });
    t.close();
    server.close();
}

#[test]
fn l44_t22_records_arriving_while_the_tls_app_protocol_is_held_share_one_retry() {
    // As in the PROXY layer (tests/proxy_protocol.rs): 30 records arriving one by one while a
    // user task keeps the app protocol borrowed wait behind one retry, not one retry each.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead
        for _ in 0..30 {
            w.write(b"+")?;
            w.drain().await?;
            asyncio::sleep(Duration::from_millis(5)).await;
        }
        let _ = r.read(-1).await;
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    // The server's 30 sleeps and writes and the client's 30 reads take up to about 100
    // turns, the one spaced-out retry about 15 more (one retry per record: several hundred).
    assert!(turns <= 200, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || {
        proto.try_borrow().is_ok_and(|p| p.data == [b'+'; 30])
    });
    t.close();
    server.close();
}

#[test]
fn l44_t22_connection_lost_for_a_held_tls_app_protocol_waits_sparingly_and_comes_once() {
    // The peer closes while a user task keeps the app protocol borrowed across a 300 ms
    // sleep: the TLS layer's connection_lost waits for it without spinning the loop, then
    // comes once, last.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, t, proto) = held_app_pair(&lp, |r: StreamReader, w: StreamWriter| async move {
        r.readexactly(1).await?; // the client's go-ahead: close at once
        w.close();
        Ok::<_, Error>(())
    });
    let turns = util::turns_while_held(&lp, &proto, Duration::from_millis(300), || {
        t.write(b"g").unwrap()
    });
    assert!(turns <= 80, "{turns} loop turns during a 300 ms hold");
    util::run_until(&lp, 200, || proto.try_borrow().is_ok_and(|p| p.lost));
    let grammar = proto.borrow().grammar();
    assert_eq!(grammar.first().map(String::as_str), Some("connection_made"));
    assert!(
        grammar.last().unwrap().starts_with("connection_lost"),
        "{grammar:?}"
    );
    let lost = grammar.iter().filter(|c| c.starts_with("connection_lost"));
    assert_eq!(lost.count(), 1, "{grammar:?}");
    server.close();
}

/// A buffered protocol that keeps what it is given: which read path a TLS transport takes
/// after `set_protocol` (T6).
#[derive(Default)]
struct Collect {
    buf: Vec<u8>,
    got: Vec<u8>,
    /// Bytes that came through `data_received`: none expected for a buffered protocol.
    plain: usize,
}

impl asyncio::Protocol for Collect {
    fn data_received(&mut self, data: &[u8]) {
        self.plain += data.len();
    }
    fn as_buffered(&mut self) -> Option<&mut dyn asyncio::BufferedProtocol> {
        Some(self)
    }
}

impl asyncio::BufferedProtocol for Collect {
    fn get_buffer(&mut self, _size_hint: usize) -> &mut [u8] {
        self.buf.resize(4096, 0);
        &mut self.buf
    }
    fn buffer_updated(&mut self, n: usize) {
        self.got.extend_from_slice(&self.buf[..n]);
    }
}

/// Whether `p` is the protocol `t` calls now.
fn calls(t: &Transport, p: asyncio::ProtocolRef) -> bool {
    t.get_protocol().is_some_and(|now| Rc::ptr_eq(&now, &p))
}

#[test]
fn t6_one_app_transport_whose_set_protocol_switches_the_app_protocol() {
    // Ports test_sslproto.py test_set_new_app_protocol over a real connection: the TLS
    // layer's one app transport is the one connection_made got and create_connection
    // returned; set_protocol hands later data to the new protocol, plain or buffered (the
    // read path follows its kind), and get_protocol names it.
    let lp = asyncio::EventLoop::new().unwrap();
    let (server, port) = lp
        .run_until_complete(tls_echo_server(&[]))
        .unwrap()
        .unwrap();
    let (t, first) = recorder_over_tls(&lp, port);
    let made_with = first
        .borrow()
        .transport
        .clone()
        .expect("connection_made ran");
    assert!(made_with.ptr_eq(&t), "T6: one app transport");
    assert!(calls(&t, first.clone()), "T6: get_protocol");

    let second = Rc::new(RefCell::new(Recorder::default()));
    second.borrow_mut().calls.push("connection_made".into()); // it never gets one
    t.set_protocol(second.clone()).unwrap();
    assert!(
        calls(&t, second.clone()),
        "T6: get_protocol after set_protocol"
    );
    t.write(b"to the second\n").unwrap();
    util::run_until(&lp, 1000, || {
        second.borrow().data.len() + first.borrow().data.len() == 14
    });

    let third = Rc::new(RefCell::new(Collect::default()));
    t.set_protocol(third.clone()).unwrap();
    assert!(calls(&t, third.clone()));
    t.write(b"to the third\n").unwrap();
    util::run_until(&lp, 1000, || {
        let third = third.borrow();
        third.got.len() + third.plain == 13
    });
    assert_eq!(
        third.borrow().plain,
        0,
        "T6: a buffered protocol is fed through get_buffer"
    );
    assert_eq!(third.borrow().got, b"to the third\n");
    assert_eq!(second.borrow().data, b"to the second\n");
    assert!(first.borrow().data.is_empty(), "nothing went to the first");
    t.close();
    util::run_until(&lp, 1000, || server.connection_count() == 0);
    server.close();
}

#[test]
fn t34_after_loop_start_tls_the_old_transport_carries_the_new_one() {
    // Ports what test_start_tls_client_reg_proto_1 checks of the switch: the plain transport
    // lives on under the TLS one (its protocol is now the TLS layer, so what arrives is TLS
    // input), the original protocol gets decrypted data with no second connection_made,
    // and closing the TLS transport ends the plain one too.
    let lp = asyncio::EventLoop::new().unwrap();
    let server = lp
        .run_until_complete(asyncio::start_server(
            |reader: StreamReader, mut writer: StreamWriter| async move {
                writer.write(b"GO\n")?;
                writer.start_tls(Certs::get().server_config(&[])).await?;
                let line = reader.readline().await?;
                writer.write(&line)?;
                assert_eq!(reader.read(-1).await?, b"", "the client's close_notify");
                writer.close();
                writer.wait_closed().await
            },
            "127.0.0.1",
            0,
        ))
        .unwrap()
        .unwrap();
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (raw, rec) = lp
        .run_until_complete(lp.create_connection(Recorder::default, "127.0.0.1", port))
        .unwrap()
        .unwrap();
    util::run_until(&lp, 1000, || rec.borrow().data == b"GO\n");
    let app: asyncio::ProtocolRef = rec.clone();
    let upgrade = lp
        .start_tls(&raw, app.clone(), Certs::get().client_config(&[]), false)
        .server_hostname("localhost");
    let tls = lp
        .run_until_complete(asyncio::timeout(BOUND, upgrade.into_future()))
        .unwrap()
        .unwrap()
        .unwrap();
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
        [
            "connection_made",
            "data",
            "eof_received",
            "connection_lost(None)"
        ],
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

/// Yields until `reader` has paused its transport (S14), bounded.
async fn until_paused(reader: &StreamReader) {
    for _ in 0..100_000 {
        if util::reader_field(reader, "paused") == "true" {
            return;
        }
        asyncio::yield_now().await;
    }
    panic!("the reader never paused: {reader:?}");
}

/// A server handler that sends `BULK` bytes (after a plain `GO` line and start_tls when
/// `upgrade`), then waits for the client's end.
async fn bulk_sender(
    reader: StreamReader,
    mut writer: StreamWriter,
    upgrade: bool,
) -> Result<(), Error> {
    if upgrade {
        writer.write(b"GO\n")?;
        writer.start_tls(Certs::get().server_config(&[])).await?;
    }
    writer.write(&vec![b'b'; BULK])?;
    writer.drain().await?;
    reader.read(-1).await?;
    writer.close();
    writer.wait_closed().await
}

const BULK: usize = 256 * 1024;

/// A plain client of a `bulk_sender(.., true)` server with a reader limit of 1024, once the
/// server's `GO` line is read: the next step is the client's `start_tls`.
async fn bulk_client_before_start_tls(
) -> Result<(asyncio::Server, StreamReader, StreamWriter), Error> {
    let server = asyncio::start_server(
        |r: StreamReader, w: StreamWriter| bulk_sender(r, w, true),
        "127.0.0.1",
        0,
    )
    .await?;
    let port = server.sockets()[0].as_inet().unwrap().port();
    let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
        .limit(1024)
        .await?;
    assert_eq!(reader.readline().await?, b"GO\n");
    Ok((server, reader, writer))
}

#[test]
fn l79_l82_t17_the_tls_transport_answers_is_reading_and_get_protocol_as_the_socket_one_does() {
    // One `Transport` contract for both: `is_reading()` is "not closing and not paused", and
    // the protocol is let go at the loss. CPython 3.11 agrees on the second (its
    // `SSLProtocol.connection_lost` drops `_app_protocol`, so `get_protocol()` is None) but
    // its TLS transport answers `is_reading()` with the pause flag alone, True after close()
    // and after the loss, where its socket transport says False: we keep the socket's answer.
    run(async {
        let (tls_server, port) = tls_echo_server(&[]).await?;
        let plain_server = asyncio::start_server(echo, "127.0.0.1", 0).await?;
        let plain_port = plain_server.sockets()[0].as_inet().unwrap().port();
        let lp = asyncio::get_running_loop()?;
        let (tls, _) = lp
            .create_connection(Recorder::default, "127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        let (plain, _) = lp
            .create_connection(Recorder::default, "127.0.0.1", plain_port)
            .await?;
        for (what, t) in [("tls", &tls), ("socket", &plain)] {
            assert!(t.is_reading(), "{what}: open");
            t.pause_reading();
            assert!(!t.is_reading(), "{what}: T17, L79: paused");
            t.resume_reading();
            assert!(t.is_reading(), "{what}: resumed");
            assert!(t.get_protocol().is_some(), "{what}: L52, T6");
            t.close();
            assert!(
                !t.is_reading(),
                "{what}: L79: a closing transport reads no more"
            );
            for _ in 0..10_000 {
                if t.get_protocol().is_none() {
                    break;
                }
                asyncio::yield_now().await; // the close completes on later turns
            }
            assert!(
                t.get_protocol().is_none(),
                "{what}: L82: released at the loss"
            );
            assert!(!t.is_reading(), "{what}: lost");
        }
        tls_server.close();
        plain_server.close();
        Ok(())
    });
}

#[test]
fn t19_with_ssl_the_reader_pauses_the_tls_transport() {
    // T19 with T17: a reader over open_connection(ssl) pauses the TLS app transport, whose
    // is_reading() then says so; reading resumes it.
    run(async {
        let server = asyncio::start_server(
            |r: StreamReader, w: StreamWriter| bulk_sender(r, w, false),
            "127.0.0.1",
            0,
        )
        .ssl(Certs::get().server_config(&[]))
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .limit(1024)
            .await?;
        until_paused(&reader).await;
        assert!(
            !writer.transport().is_reading(),
            "T19: the TLS app transport is the one paused"
        );
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(writer.transport().is_reading(), "S15: resumed");
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

#[test]
fn t19_s54_after_stream_start_tls_the_reader_pauses_the_raw_transport() {
    // T19 with S54: the reader keeps the transport connection_made gave it, so after
    // StreamWriter.start_tls its pause stops the raw socket transport, and the TLS
    // transport's own reading is never paused.
    run(async {
        let (server, reader, mut writer) = bulk_client_before_start_tls().await?;
        let raw = writer.transport().clone();
        let tls = writer
            .start_tls(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
        until_paused(&reader).await;
        assert!(!raw.is_reading(), "T19, S54: the raw transport is paused");
        assert!(tls.is_reading(), "T19, S54: the TLS transport is not");
        assert_eq!(reader.readexactly(BULK).await?.len(), BULK);
        assert!(raw.is_reading(), "S15: resumed");
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

fn text_of(v: Option<ExtraInfo>) -> Option<String> {
    match v {
        Some(ExtraInfo::Text(s)) => Some(s),
        other => panic!("expected a text value, got {other:?}"),
    }
}

#[test]
fn t40_t41_sslcontext_and_ssl_object_as_the_port_reports_them() {
    // Python's SSLContext and SSLObject. T40: the TlsContext handle (`tls_context()`) is the
    // configuration given to ssl(..), client or server; 'sslcontext' names its type as text.
    // T41: `tls_info()` is a read-only snapshot of what the handshake settled (version,
    // cipher, ALPN, SNI, the peer chain), 'ssl_object' its text form; both agree with the
    // typed accessors and outlive the connection. Neither exists without TLS (S58's over-TLS
    // test).
    run(async {
        let certs = Certs::get();
        let server_config = certs.server_config(&[b"h2", b"http/1.1"]);
        let client_config = certs.client_config(&[b"http/1.1"]);
        let server_side: Rc<RefCell<Vec<Option<String>>>> = Rc::default();
        let server_typed: Rc<RefCell<Option<(asyncio::TlsContext, asyncio::TlsInfo)>>> =
            Rc::default();
        let (seen, typed) = (server_side.clone(), server_typed.clone());
        let server = asyncio::start_server(
            move |reader: StreamReader, writer: StreamWriter| {
                let t = writer.transport();
                seen.borrow_mut().extend([
                    text_of(t.get_extra_info("sslcontext")),
                    text_of(t.get_extra_info("ssl_object")),
                ]);
                *typed.borrow_mut() = t.tls_context().zip(writer.tls_info());
                echo(reader, writer)
            },
            "127.0.0.1",
            0,
        )
        .ssl(server_config.clone())
        .await?;
        let port = server.sockets()[0].as_inet().unwrap().port();
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(client_config.clone())
            .server_hostname("localhost")
            .await?;
        let t = writer.transport().clone();
        match t.tls_context() {
            Some(asyncio::TlsContext::Client(c)) => {
                assert!(
                    std::sync::Arc::ptr_eq(&c, &client_config),
                    "T40: the configuration given"
                )
            }
            other => panic!("T40: {other:?}"),
        }
        let info = writer.tls_info().expect("T41: a TLS stream");
        assert_eq!(Some(info.version().to_string()), t.tls_version(), "T41");
        assert_eq!(Some(info.cipher().to_string()), t.cipher_suite(), "T41");
        assert!(info.cipher_bits() >= 128, "T41: {}", info.cipher_bits());
        assert_eq!(info.selected_alpn_protocol(), Some(&b"http/1.1"[..]), "T41");
        assert_eq!(info.server_hostname(), Some("localhost"), "T41");
        assert_eq!(
            info.peer_certificates(),
            t.peer_certificates().as_slice(),
            "T41"
        );
        assert_eq!(info.peer_certificates().len(), 1, "T41: the server's leaf");
        assert!(!info.session_reused(), "T41: a first connection");
        assert_eq!(
            text_of(t.get_extra_info("sslcontext")).as_deref(),
            Some("rustls::ClientConfig"),
            "T40"
        );
        let snapshot = text_of(t.get_extra_info("ssl_object")).unwrap();
        let (version, cipher) = (t.tls_version().unwrap(), t.cipher_suite().unwrap());
        assert!(
            snapshot.starts_with(&format!("{version} {cipher} ("))
                && snapshot.contains(" alpn=http/1.1")
                && snapshot.contains(" server_name=localhost")
                && snapshot.contains(" peer_certificates=1"),
            "T41: {snapshot}"
        );
        writer.write(b"ping\n")?;
        assert_eq!(reader.readline().await?, b"ping\n");
        writer.close();
        writer.wait_closed().await?;
        assert_eq!(
            text_of(t.get_extra_info("ssl_object")).as_deref(),
            Some(snapshot.as_str()),
            "T41: the snapshot outlives the connection"
        );
        assert_eq!(
            t.tls_info().map(|i| i.to_string()),
            Some(snapshot.clone()),
            "T41: the typed snapshot outlives the connection too"
        );
        let server_side = server_side.borrow().clone();
        assert_eq!(
            server_side[0].as_deref(),
            Some("rustls::ServerConfig"),
            "T40"
        );
        match server_typed.borrow_mut().take() {
            Some((asyncio::TlsContext::Server(c), info)) => {
                assert!(
                    std::sync::Arc::ptr_eq(&c, &server_config),
                    "T40: the server's configuration"
                );
                assert_eq!(
                    info.server_hostname(),
                    Some("localhost"),
                    "T41: the SNI received"
                );
                assert!(
                    info.peer_certificates().is_empty(),
                    "T41: no client certificate"
                );
            }
            other => panic!("T40/T41 on the server: {other:?}"),
        }
        let theirs = server_side[1].clone().unwrap();
        assert!(
            theirs.contains(" alpn=http/1.1")
                && theirs.contains(" server_name=localhost")
                && theirs.contains(" peer_certificates=0"),
            "T41: the server's view: SNI received, no client certificate: {theirs}"
        );
        server.close();
        server.wait_closed().await;

        let (a, b) = asyncio::socketpair()?;
        let (_r, plain) = asyncio::open_connection_sock(a).await?;
        assert!(plain.get_extra_info("sslcontext").is_none(), "T40: no TLS");
        assert!(plain.get_extra_info("ssl_object").is_none(), "T41: no TLS");
        assert!(plain.tls_info().is_none() && plain.transport().tls_context().is_none());
        plain.close();
        drop(b);
        Ok(())
    });
}

// L94, T12, D12-style: a TLS create_connection dropped during its handshake (here: the server
// accepts but never answers) closes the raw transport and keeps its caller's waker no longer:
// the close must not wake a task that has stopped waiting. The handshake waiter used to keep
// the waker and wake it when the closing transport failed the handshake.
#[test]
fn t12_a_dropped_tls_create_connection_keeps_and_wakes_no_waker() {
    let lp = asyncio::EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let probe = util::Probe::new();
    let peer: RefCell<Option<std::net::TcpStream>> = RefCell::new(None);
    let handle = lp.handle();
    // Polled once per loop turn until the server holds the ClientHello: the client then waits
    // for the handshake. Bounded: 100 000 turns.
    let hello_sent = || {
        if peer.borrow().is_none() {
            *peer.borrow_mut() = listener.accept().ok().map(|(s, _)| {
                s.set_nonblocking(true).unwrap(); // peek must not block the loop
                s
            });
        }
        let mut buf = [0u8; 1];
        peer.borrow()
            .as_ref()
            .is_some_and(|s| s.peek(&mut buf).is_ok_and(|n| n > 0))
    };
    let woken_before_drop = lp
        .run_until_complete(asyncio::timeout(BOUND, async {
            let conn = handle
                .create_connection(Recorder::default, "127.0.0.1", port)
                .ssl(Certs::get().client_config(&[]))
                .server_hostname("localhost");
            let mut fut = std::pin::pin!(conn.into_future());
            let mut turns = 0;
            std::future::poll_fn(|cx| {
                assert!(probe.poll(fut.as_mut()).is_pending(), "finished early");
                turns += 1;
                assert!(turns < 100_000, "no ClientHello after {turns} turns");
                if hello_sent() {
                    return std::task::Poll::Ready(());
                }
                cx.waker().wake_by_ref(); // look again next turn
                std::task::Poll::Pending
            })
            .await;
            probe.woken()
        }))
        .unwrap()
        .expect("the ClientHello arrives");
    for _ in 0..3 {
        lp.run_once(Some(Duration::ZERO)).unwrap();
    }
    assert_eq!(
        probe.woken(),
        woken_before_drop,
        "a dropped connect woke its caller"
    );
    assert_eq!(std::sync::Arc::strong_count(&probe), 1, "the waker is kept");
    assert_eq!(
        lp.stats().io_registrations,
        0,
        "the raw transport is closed"
    );
}

// L94, T12: a TLS create_connection dropped after its handshake, once the app's connection_made
// ran and wrote, before it returned, closes the app transport as CPython's
// `except: transport.close()` does: what the app wrote is sent, then close_notify. It used to
// abort the raw transport: what was still queued was dropped, and no close_notify was sent.
#[test]
fn t12_a_tls_create_connection_dropped_after_connection_made_sends_what_it_wrote() {
    const SENT: usize = 8 << 20;
    let lp = asyncio::EventLoop::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (start_reading, wait_to_read) = std::sync::mpsc::channel::<()>();
    // A blocking rustls server: the handshake, then (once told) plaintext until close_notify,
    // answered with its own. Returns the bytes it got.
    let peer = std::thread::spawn(move || -> Result<usize, String> {
        let (mut tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(BOUND))
            .map_err(|e| e.to_string())?;
        let config = Certs::get().server_config(&[]);
        let mut conn = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
        plaintext_until_close_notify(&mut conn, &mut tcp, &wait_to_read)
    });
    let (rec, made) = Recorder::writing_on_made(SENT);
    let conn = lp
        .create_connection(move || rec, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    let (t, _) = util::drop_once_made(&lp, conn, &made);
    assert!(
        t.is_closing(),
        "the dropped connect left its transport open"
    );
    start_reading.send(()).unwrap();
    util::run_until(&lp, 10_000, || lp.stats().io_registrations == 0);
    let got = peer.join().unwrap();
    assert_eq!(
        got,
        Ok(SENT),
        "the peer got what connection_made wrote, then close_notify"
    );
}

// L95, L94, T12: connect_accepted_socket over TLS (the server side) dropped once the app's
// connection_made has run and written, before it returned, ends as CPython's
// `except: transport.close()` around its waiter does: the app transport closes, so the peer
// gets what connection_made wrote, then close_notify. Over 127.0.0.1 and ::1.
#[test]
fn t37_l94_a_tls_connect_accepted_socket_dropped_after_connection_made_sends_what_it_wrote() {
    for host in ["127.0.0.1", "::1"] {
        accepted_tls_dropped_after_connection_made(host);
    }
}

/// A connected pair of TCP streams on `host`: ours (accepted), the peer's. `None` where `host`
/// cannot be bound (no IPv6).
fn accepted_pair(host: &str) -> Option<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = match TcpListener::bind((host, 0)) {
        Ok(l) => l,
        Err(e) => {
            println!("skipped {host}: {e}");
            return None;
        }
    };
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    Some((accepted, peer))
}

fn accepted_tls_dropped_after_connection_made(host: &str) {
    const SENT: usize = 8 << 20;
    let Some((accepted, mut tcp)) = accepted_pair(host) else {
        return;
    };
    let lp = asyncio::EventLoop::new().unwrap();
    let (start_reading, wait_to_read) = std::sync::mpsc::channel::<()>();
    // A blocking rustls client: the handshake, then (once told) plaintext until close_notify,
    // answered with its own. Returns the bytes it got.
    let peer = std::thread::spawn(move || -> Result<usize, String> {
        tcp.set_read_timeout(Some(BOUND))
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let config = Certs::get().client_config(&[]);
        let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
        plaintext_until_close_notify(&mut conn, &mut tcp, &wait_to_read)
    });
    let made: Rc<RefCell<Option<Transport>>> = Rc::default();
    let m = made.clone();
    let rec = Recorder {
        on_made: Some(Box::new(move |t: &Transport| {
            t.write(&vec![7u8; SENT]).unwrap();
            *m.borrow_mut() = Some(t.clone());
        })),
        ..Default::default()
    };
    let probe = util::Probe::new();
    let handle = lp.handle();
    lp.run_until_complete(async {
        let serve = handle
            .connect_accepted_socket(move || rec, accepted)
            .ssl(Certs::get().server_config(&[]));
        let mut fut = std::pin::pin!(serve.into_future());
        // Dropped once connection_made has run, before its result reaches it.
        probe
            .poll_each_turn(fut.as_mut(), || made.borrow().is_some())
            .await;
    })
    .unwrap();
    let t = made.borrow_mut().take().unwrap();
    assert!(
        t.is_closing(),
        "{host}: the dropped call left its transport open"
    );
    start_reading.send(()).unwrap();
    util::run_until(&lp, 10_000, || lp.stats().io_registrations == 0);
    let got = peer.join().unwrap();
    assert_eq!(
        got,
        Ok(SENT),
        "{host}: the peer got what connection_made wrote, then close_notify"
    );
}

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
    let (t, proto) = lp
        .run_until_complete(asyncio::timeout(
            BOUND,
            lp.create_connection(Recorder::default, "127.0.0.1", port)
                .into_future(),
        ))
        .unwrap()
        .unwrap()
        .unwrap();
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

/// A `Recorder` connected over TLS to `port` (our client config, SNI "localhost"), bounded.
fn recorder_over_tls(
    lp: &asyncio::EventLoop,
    port: u16,
) -> (asyncio::Transport, Rc<RefCell<Recorder>>) {
    let connect = lp
        .create_connection(Recorder::default, "127.0.0.1", port)
        .ssl(Certs::get().client_config(&[]))
        .server_hostname("localhost");
    lp.run_until_complete(asyncio::timeout(BOUND, connect.into_future()))
        .unwrap()
        .unwrap()
        .unwrap()
}

/// A protocol factory whose protocols forward to a `Recorder`, and where the test finds the
/// one made.
#[allow(clippy::type_complexity)]
fn forwarding_recorder() -> (
    impl Fn() -> Forward,
    Rc<RefCell<Option<Rc<RefCell<Recorder>>>>>,
) {
    let made = Rc::new(RefCell::new(None));
    let m = made.clone();
    let factory = move || {
        let rec = Rc::new(RefCell::new(Recorder::default()));
        *m.borrow_mut() = Some(rec.clone());
        Forward(rec)
    };
    (factory, made)
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
        let (_reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
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
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
    });
}

/// A blocking rustls peer's side after its `conn` is set up over `tcp`: the handshake, then
/// (once told through `wait_to_read`) plaintext until close_notify, answered with its own.
/// The bytes it got, or what went wrong and after how many bytes.
fn plaintext_until_close_notify<D>(
    conn: &mut rustls::ConnectionCommon<D>,
    tcp: &mut std::net::TcpStream,
    wait_to_read: &std::sync::mpsc::Receiver<()>,
) -> Result<usize, String> {
    use std::io::{Read, Write};
    while conn.is_handshaking() {
        conn.complete_io(tcp).map_err(|e| e.to_string())?;
    }
    wait_to_read
        .recv_timeout(BOUND)
        .map_err(|e| e.to_string())?;
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => break, // close_notify
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let (read, _) = conn.complete_io(tcp).map_err(|e| e.to_string())?;
                if read == 0 {
                    return Err(format!("EOF without close_notify after {got} bytes"));
                }
            }
            Err(e) => return Err(format!("{e} after {got} bytes")),
        }
    }
    conn.send_close_notify();
    conn.complete_io(tcp).map_err(|e| e.to_string())?;
    tcp.flush().map_err(|e| e.to_string())?;
    Ok(got)
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
    writer.close();
    writer.wait_closed().await?;
    server.close();
    server.wait_closed().await;
    Ok(())
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
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
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
        writer.close();
        writer.wait_closed().await?;
        server.close();
        server.wait_closed().await;
        Ok(())
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
        let (reader, writer) = asyncio::open_connection("127.0.0.1", port)
            .ssl(Certs::get().client_config(&[]))
            .server_hostname("localhost")
            .await?;
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
