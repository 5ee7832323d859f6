//! Handshakes that succeed (T7, T22, T28, T31, T36, S41, S44, S53, S54): both ways with extra
//! info, a plain protocol over TLS closing from a callback, client auth, and start_tls mid-stream
//! keeping the buffered plaintext.

use super::*;

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
    let (t, proto) = tls_helpers::this_recorder_over_tls(&lp, port, rec);
    assert_eq!(
        proto.borrow().calls,
        ["connection_made"],
        "T7: connection_made ran before create_connection returned"
    );
    assert!(t.get_extra_info("cipher").is_some());
    util::run_until(&lp, 1000, || proto.borrow().lost);
    let p = proto.borrow();
    // T22: eof_received at the end of our own shutdown, then connection_lost.
    tls_helpers::assert_ping_echoed_then_a_clean_end(&p, "T22");
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
