//! start_tls failing on either side (issue 17; D14, T8, T9, T10): a refused certificate, a
//! timeout, the peer's EOF, each ending every waiter; a stale client CA told where its roots go.

use super::*;

/// D14 on either side: `writer.start_tls(ssl)`, with `server_hostname` and `timeout` where
/// given, fails; so do a read pending during it and every later read, drain and wait_closed.
/// Each error passes `check`; returns the upgrade's.
async fn start_tls_fails_for_every_waiter(
    reader: &StreamReader,
    writer: &mut StreamWriter,
    ssl: impl Into<asyncio::TlsContext>,
    server_hostname: Option<&str>,
    timeout: Option<Duration>,
    check: &dyn Fn(&Error),
) -> Error {
    let mut upgrade = writer.start_tls(ssl);
    if let Some(name) = server_hostname {
        upgrade = upgrade.server_hostname(name);
    }
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
    for e in every_waiter_fails(reader, writer).await {
        check(&e);
    }
    e
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
    let localhost = Some("localhost");
    start_tls_fails_for_every_waiter(&reader, &mut writer, config, localhost, timeout, &check)
        .await;
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
        tls_helpers::close_after_handler(server, &seen).await;
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
        tls_helpers::close_after_handler(server, &seen).await;
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
        tls_helpers::close_after_handler(server, &seen).await;
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
            let e = start_tls_fails_for_every_waiter(
                &reader,
                &mut writer,
                config,
                None,
                timeout,
                &*check,
            )
            .await;
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
                    text.contains("another certificate of the issuer's name"),
                    "{text}"
                );
                assert!(text.contains("in its client verifier's roots"), "{text}");
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
